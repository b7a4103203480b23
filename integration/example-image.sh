#!/usr/bin/env bash
# `make test-example-image`: builds a one-layer OCI layout holding busybox-static with umoci (no
# network), unpacks it with berth-image's example program (crates/berth-image/examples/unpack.rs)
# and checks the bundle it wrote. Usage: example-image.sh PATH-TO-EXAMPLE-BINARY
set -euo pipefail
example=$1
busybox=$(command -v busybox || true)
[ -n "$busybox" ] || { echo "example-image: busybox-static is needed (apt-get install busybox-static)" >&2; exit 1; }
command -v umoci >/dev/null || { echo "example-image: umoci is needed" >&2; exit 1; }

work=$(mktemp -d /tmp/berth-example-image.XXXXXX)
trap 'rm -rf "$work"' EXIT
rootless=()
[ "$(id -u)" = 0 ] || rootless=(--rootless)

umoci init --layout "$work/layout"
umoci new --image "$work/layout:latest"
umoci unpack "${rootless[@]}" --image "$work/layout:latest" "$work/stage"
mkdir -p "$work/stage/rootfs/bin"
cp "$busybox" "$work/stage/rootfs/bin/busybox"
umoci repack --image "$work/layout:latest" "$work/stage"
umoci config --image "$work/layout:latest" --config.cmd /bin/busybox --config.cmd sh

"$example" "oci:$work/layout:latest" "$work/bundle"

fail=0
check() {
  if "$@"; then echo "ok: ${*: -1}"; else echo "FAIL: $*" >&2; fail=1; fi
}
check test -f "$work/bundle/config.json"
check test -x "$work/bundle/rootfs/bin/busybox"
check cmp -s "$busybox" "$work/bundle/rootfs/bin/busybox"
if command -v jq >/dev/null; then
  check test "$(jq -c .process.args "$work/bundle/config.json")" = '["/bin/busybox","sh"]'
fi
exit "$fail"
