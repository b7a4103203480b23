# shellcheck shell=bash
# Sourced by demo.sh and example-runtime.sh: make_busybox_bundle DIR BERTH builds DIR/rootfs
# from busybox-static (every applet a symlink, a root user and group) and DIR/config.json
# with BERTH's `spec` defaults, non-interactive (process.terminal false).
make_busybox_bundle() {
	local bundle=$1 berth=$2 applet
	mkdir -p "$bundle/rootfs"/{bin,proc,sys,dev,tmp,etc,root}
	cp "$(command -v busybox)" "$bundle/rootfs/bin/busybox"
	for applet in $("$bundle/rootfs/bin/busybox" --list); do
		[ "$applet" = busybox ] || ln -s busybox "$bundle/rootfs/bin/$applet"
	done
	echo 'root:x:0:0:root:/root:/bin/sh' >"$bundle/rootfs/etc/passwd"
	echo 'root:x:0:' >"$bundle/rootfs/etc/group"
	"$berth" spec --bundle "$bundle"
	set_config "$bundle" '.process.terminal = false'
}

# set_config DIR JQ_FILTER: rewrites DIR/config.json through jq.
set_config() {
	jq "$2" "$1/config.json" >"$1/config.json.new"
	mv "$1/config.json.new" "$1/config.json"
}
