#!/usr/bin/env bash
# Build runc 1.5.1 from THIRD_PARTY/runc-1.5.1.tar.gz (vendored modules, no network) as the
# control runtime for the runc-v1.5 bats suite:
#   build-runc-control.sh [OUT]     (default OUT: <repo>/target/runc-1.5.1/runc)
# then: SUITES=runc-v1.5 RUNTIME=<OUT> integration/conformance/run.sh
# Built as runc's Makefile builds it (cgo, PIE, seccomp, urfave_cli_no_docs), less the
# libpathrs tag: that needs the Rust libpathrs C library, which is not packaged here; without
# it runc uses its Go path-resolution fallback. Go: common.sh's find_go (1.25 or newer).
set -euo pipefail
# shellcheck source=integration/conformance/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

out=${1:-$repo/target/runc-1.5.1/runc}
top=$(extract "$RUNC_V15")
go_env
[ -f /usr/include/seccomp.h ] || conf_die "libseccomp headers missing (apt-get install libseccomp-dev)"
mkdir -p "$(dirname "$out")"
version=$(cat "$top/VERSION")
conf_log "building runc $version (control) into $out"
(cd "$top" && CGO_ENABLED=1 nice "$GO" build -trimpath -buildmode=pie \
	-tags "seccomp urfave_cli_no_docs" \
	-ldflags "-X main.gitCommit=v$version-tarball" -o "$out" .)
"$out" --version
