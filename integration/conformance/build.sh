#!/usr/bin/env bash
# Build what the conformance suites need, once, into CONFORMANCE_DIR (see common.sh):
#   build.sh [images] [runc-v1.1] [runc-v1.5] [contest] [validation]   (default: all)
# Every step is skipped when its output is already there (delete CONFORMANCE_DIR to rebuild).
# Nothing leaves this machine: Go builds use the vendored modules of the tarballs; youki's
# crates come from crates.io through cargo (or ~/.cargo's cache).
set -euo pipefail
# shellcheck source=integration/conformance/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# The busybox image the bats helpers unpack: /bin/busybox (busybox-static) and all its applets.
# Like docker-library's busybox rootfs it has no /proc and /sys (the runtime makes the mount
# targets): mask.bats' "prohibit symlink /proc" and "/sys" tests `ln -s` them, which with a
# directory there would only make a link inside it and test nothing (userns.bats' setup makes
# them itself for the same reason).
build_busybox_image() {
	local image=$BUILD/images/busybox-amd64.tar.xz rootfs
	[ -f "$image" ] && return
	[ -x /bin/busybox ] || conf_die "/bin/busybox missing (apt-get install busybox-static)"
	mkdir -p "$BUILD/images"
	rootfs=$(mktemp -d "$BUILD/images/rootfs.XXXXXX")
	mkdir -p "$rootfs"/{bin,dev,etc,home,root,tmp,usr/bin,usr/sbin,sbin,var}
	chmod 0755 "$rootfs"
	chmod 1777 "$rootfs/tmp"
	cp /bin/busybox "$rootfs/bin/busybox"
	local applet
	for applet in $(/bin/busybox --list); do
		[ -e "$rootfs/bin/$applet" ] || ln -s busybox "$rootfs/bin/$applet"
	done
	printf '%s\n' root:x:0:0:root:/root:/bin/sh daemon:x:1:1:daemon:/usr/sbin:/bin/false \
		bin:x:2:2:bin:/bin:/bin/false sys:x:3:3:sys:/dev:/bin/false \
		nobody:x:65534:65534:nobody:/home:/bin/false >"$rootfs/etc/passwd"
	printf '%s\n' root:x:0: daemon:x:1: bin:x:2: sys:x:3: tty:x:5: nogroup:x:65534: >"$rootfs/etc/group"
	tar -C "$rootfs" -cJf "$image.tmp" .
	mv "$image.tmp" "$image"
	rm -rf "$rootfs"
}

# Stand-in for the Debian image (hooks.bats, idmap.bats): what those use of it is a shell, grep,
# a real /lib directory and ldconfig (host's, static) with its cache, bash and findmnt. Built from
# the host, no network.
build_debian_image() {
	local image=$BUILD/images/debian-amd64.tar.xz rootfs
	[ -f "$image" ] && return
	[ -x /sbin/ldconfig ] || conf_die "/sbin/ldconfig missing"
	mkdir -p "$BUILD/images"
	rootfs=$(mktemp -d "$BUILD/images/debian.XXXXXX")
	mkdir -p "$rootfs"/{bin,dev,etc,lib,home,proc,root,sys,tmp,usr/bin,usr/lib,sbin,var/cache/ldconfig}
	chmod 0755 "$rootfs"
	chmod 1777 "$rootfs/tmp"
	cp /bin/busybox "$rootfs/bin/busybox"
	local applet
	for applet in $(/bin/busybox --list); do
		[ -e "$rootfs/bin/$applet" ] || ln -s busybox "$rootfs/bin/$applet"
	done
	cp /sbin/ldconfig "$rootfs/sbin/ldconfig"
	# idmap.bats runs `bash -c` (brace expansion) and findmnt, which busybox lacks: the
	# host's, with the shared libraries (and loader) they load.
	local prog lib
	for prog in /bin/bash /usr/bin/findmnt; do
		[ -x "$prog" ] || conf_die "$prog missing"
		rm -f "$rootfs/bin/${prog##*/}" # a busybox applet link of that name would be written through
		cp "$prog" "$rootfs/bin/"
		for lib in $(ldd "$prog" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
			mkdir -p "$rootfs$(dirname "$lib")"
			cp -L "$lib" "$rootfs$lib"
		done
	done
	printf '/lib\n/usr/lib\n' >"$rootfs/etc/ld.so.conf"
	printf '%s\n' root:x:0:0:root:/root:/bin/sh nobody:x:65534:65534:nobody:/home:/bin/false >"$rootfs/etc/passwd"
	printf '%s\n' root:x:0: tty:x:5: nogroup:x:65534: >"$rootfs/etc/group"
	tar -C "$rootfs" -cJf "$image.tmp" .
	mv "$image.tmp" "$image"
	rm -rf "$rootfs"
}

# get-images.sh downloads the images with curl and asks `go env`: point it at ours instead.
install_get_images() { # install_get_images INTEGRATION_DIR
	cat >"$1/get-images.sh" <<-EOG
		#!/bin/bash
		# Written by berth's integration/conformance/build.sh: local images, no download.
		echo "BUSYBOX_IMAGE=$BUILD/images/busybox-amd64.tar.xz"
		echo "DEBIAN_IMAGE=$BUILD/images/debian-amd64.tar.xz"
	EOG
	chmod +x "$1/get-images.sh"
}

build_runc_v11() {
	local top
	top=$(extract "$RUNC_V11")
	install_get_images "$top/tests/integration"
	[ -f "$top/.helpers-built" ] && return
	go_env
	local cmd
	for cmd in recvtty sd-helper seccompagent; do
		conf_log "building $RUNC_V11 contrib/cmd/$cmd"
		(cd "$top" && CGO_ENABLED=1 nice "$GO" build -tags seccomp -o "contrib/cmd/$cmd/$cmd" "./contrib/cmd/$cmd")
	done
	touch "$top/.helpers-built"
}

build_runc_v15() {
	local top
	top=$(extract "$RUNC_V15")
	install_get_images "$top/tests/integration"
	[ -f "$top/.helpers-built" ] && return
	go_env
	local cmd
	mkdir -p "$top/tests/cmd/_bin"
	for cmd in recvtty sd-helper seccompagent fs-idmap pidfd-kill remap-rootfs key_label; do
		conf_log "building $RUNC_V15 tests/cmd/$cmd"
		(cd "$top" && CGO_ENABLED=1 nice "$GO" build -tags seccomp -o tests/cmd/_bin "./tests/cmd/$cmd")
	done
	touch "$top/.helpers-built"
}

# youki's contest and runtimetest (debug builds: quicker to compile, speed does not matter).
build_contest() {
	local top out=$BUILD/contest
	top=$(extract "$YOUKI")
	[ -x "$out/contest" ] && [ -x "$out/runtimetest" ] && return
	mkdir -p "$out"
	conf_log "building youki's contest (cargo, a few minutes)"
	(cd "$top" && CARGO_TARGET_DIR=$BUILD/youki-target nice cargo build --locked --bin contest)
	cp "$BUILD/youki-target/debug/contest" "$out/contest"
	conf_log "building youki's runtimetest (static)"
	(cd "$top" && CARGO_TARGET_DIR=$BUILD/runtimetest-target RUSTFLAGS="-C target-feature=+crt-static" \
		nice cargo build --locked --target x86_64-unknown-linux-gnu --bin runtimetest)
	cp "$BUILD/runtimetest-target/x86_64-unknown-linux-gnu/debug/runtimetest" "$out/runtimetest"
}

# runtime-tools: runtimetest (static) and one program per validation/<name>/<name>.go.
build_validation() {
	local top
	top=$(extract "$RTOOLS")
	[ -f "$top/.validation-built" ] && return
	go_env
	conf_log "building runtime-tools' runtimetest and validation programs"
	(cd "$top" && CGO_ENABLED=0 nice "$GO" build -tags "netgo osusergo" -o runtimetest ./cmd/runtimetest)
	local src
	while IFS= read -r src; do
		(cd "$top" && nice "$GO" build -o "${src%.go}.t" "./$src")
	done < <(cd "$top" && find validation -name '*.go' ! -path '*/util/*' | sort)
	touch "$top/.validation-built"
}

steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(images runc-v1.1 runc-v1.5 contest validation)
for s in "${steps[@]}"; do
	case $s in
	images) build_busybox_image && build_debian_image ;;
	runc-v1.1) build_runc_v11 ;;
	runc-v1.5) build_runc_v15 ;;
	contest) build_contest ;;
	validation) build_validation ;;
	*) conf_die "unknown build step $s" ;;
	esac
done
