#!/usr/bin/env bash
# Run runc's own bats integration suite (core-command files only) against
# berth and, for reference, against the installed runc.
#
# Usage: integration/runc-bats.sh [RUNTIME_BINARY...]
#   default runtimes: target/release/berth and /usr/sbin/runc
#
# Environment:
#   RUNC_REF       runc tag whose tests/integration is used (default v1.1.15)
#   RUNC_GIT_DIR   a git dir holding that tag (default: the local mirror if
#                  present, else a shallow clone from GitHub into the cache)
#   RUNC_BATS_DIR  cache/work dir, never committed (default /tmp/runc-bats)
#   BATS_FILES     space-separated list of .bats files to run (basenames)
#
# Nothing from runc is committed to this repository: the tests are extracted
# into RUNC_BATS_DIR at run time. Two helpers that runc builds from Go sources
# are replaced: get-images.sh (downloads images; replaced by a local busybox
# tarball built from /bin/busybox) and recvtty (replaced by recvtty-null.py).
# Files needing sd-helper, seccompagent, criu or the Debian image are not run.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

RUNC_REF=${RUNC_REF:-v1.1.15}
RUNC_BATS_DIR=${RUNC_BATS_DIR:-/tmp/runc-bats}
default_mirror=/work/.mirror/opencontainers+runc/repo
BATS_FILES=${BATS_FILES:-"create start start_detached start_hello run state kill delete list spec version help"}

if [ $# -gt 0 ]; then
	runtimes=("$@")
else
	runtimes=("$repo/target/release/berth" /usr/sbin/runc)
fi

die() {
	echo "runc-bats: $*" >&2
	exit 1
}

command -v bats >/dev/null || die "bats is not installed (apt-get install bats)"
command -v jq >/dev/null || die "jq is not installed (apt-get install jq)"
command -v python3 >/dev/null || die "python3 is required for the recvtty stand-in"
[ -x /bin/busybox ] || die "/bin/busybox missing (apt-get install busybox-static)"

# --- 1. get runc's tests/integration at RUNC_REF ---------------------------
src="$RUNC_BATS_DIR/runc-$RUNC_REF"
if [ ! -f "$src/.extracted" ]; then
	gitdir=${RUNC_GIT_DIR:-}
	if [ -z "$gitdir" ]; then
		if [ -d "$default_mirror" ]; then
			gitdir=$default_mirror
		else
			gitdir="$RUNC_BATS_DIR/runc.git"
			if [ ! -d "$gitdir" ]; then
				git clone --quiet --bare --depth 1 --branch "$RUNC_REF" \
					https://github.com/opencontainers/runc.git "$gitdir"
			fi
		fi
	fi
	git --git-dir="$gitdir" rev-parse --verify --quiet "$RUNC_REF^{commit}" >/dev/null ||
		die "$gitdir has no $RUNC_REF"
	rm -rf "$src"
	mkdir -p "$src"
	git --git-dir="$gitdir" archive "$RUNC_REF" tests/integration go.mod | tar -x -C "$src"
	touch "$src/.extracted"
fi
itest="$src/tests/integration"

# --- 2. busybox image tarball, built locally from /bin/busybox -------------
image="$RUNC_BATS_DIR/busybox-amd64.tar.xz"
if [ ! -f "$image" ]; then
	rootfs=$(mktemp -d "$RUNC_BATS_DIR/rootfs.XXXXXX")
	mkdir -p "$rootfs"/{bin,dev,etc,home,proc,root,sys,tmp,usr/bin,usr/sbin,sbin,var}
	chmod 0755 "$rootfs"
	chmod 1777 "$rootfs/tmp"
	cp /bin/busybox "$rootfs/bin/busybox"
	for applet in $(/bin/busybox --list); do
		[ -e "$rootfs/bin/$applet" ] || ln -s busybox "$rootfs/bin/$applet"
	done
	cat >"$rootfs/etc/passwd" <<-'EOF'
		root:x:0:0:root:/root:/bin/sh
		daemon:x:1:1:daemon:/usr/sbin:/bin/false
		bin:x:2:2:bin:/bin:/bin/false
		sys:x:3:3:sys:/dev:/bin/false
		nobody:x:65534:65534:nobody:/home:/bin/false
	EOF
	cat >"$rootfs/etc/group" <<-'EOF'
		root:x:0:
		daemon:x:1:
		bin:x:2:
		sys:x:3:
		tty:x:5:
		nogroup:x:65534:
	EOF
	tar -C "$rootfs" -cJf "$image.tmp" .
	mv "$image.tmp" "$image"
	rm -rf "$rootfs"
fi

# get-images.sh would download images with curl and needs Go: replace it.
cat >"$itest/get-images.sh" <<EOF
#!/bin/bash
echo "BUSYBOX_IMAGE=$image"
echo "DEBIAN_IMAGE=/nonexistent/debian.tar.xz"
EOF
chmod +x "$itest/get-images.sh"

# recvtty stand-in, at the path helpers.bash expects.
mkdir -p "$src/contrib/cmd/recvtty"
install -m 0755 "$here/recvtty-null.py" "$src/contrib/cmd/recvtty/recvtty"

# --- 3. run ----------------------------------------------------------------
logs="$RUNC_BATS_DIR/logs"
mkdir -p "$logs"
summary="$RUNC_BATS_DIR/summary.txt"
: >"$summary"

for rt in "${runtimes[@]}"; do
	[ -x "$rt" ] || die "runtime $rt is not executable (build berth with 'make release')"
	name=$(basename "$rt")
	printf '\n== %s (%s)\n' "$name" "$rt" | tee -a "$summary"
	printf '%-16s %5s %5s %5s %5s\n' file total pass fail skip | tee -a "$summary"
	tp=0 tf=0 ts=0 tt=0
	for f in $BATS_FILES; do
		log="$logs/$name-$f.tap"
		# Some tests use the caller's terminal (terminal: true without a
		# console socket), so run under script(1) as runc's own CI does.
		# bats exits non-zero when a test fails; the counts say what happened.
		(cd "$itest" && RUNC="$rt" script -qec "bats --tap $f.bats >$log 2>&1" /dev/null) \
			>/dev/null 2>&1 </dev/null || true
		total=$(grep -cE '^(ok|not ok) ' "$log" || true)
		skip=$(grep -cE '^ok .* # skip' "$log" || true)
		fail=$(grep -cE '^not ok ' "$log" || true)
		pass=$((total - skip - fail))
		tp=$((tp + pass)) tf=$((tf + fail)) ts=$((ts + skip)) tt=$((tt + total))
		printf '%-16s %5d %5d %5d %5d\n' "$f" "$total" "$pass" "$fail" "$skip" | tee -a "$summary"
		grep -E '^not ok ' "$log" | sed "s/^/    /" | tee -a "$summary" || true
	done
	printf '%-16s %5d %5d %5d %5d\n' TOTAL "$tt" "$tp" "$tf" "$ts" | tee -a "$summary"
done
echo
echo "TAP logs (with each failing test's output): $logs"
echo "summary: $summary"
