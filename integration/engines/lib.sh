# shellcheck shell=bash
# Shared by docker.sh, podman.sh and containerd.sh: runtime choice, test images, the local
# registry, TAP output and cleanup. Sourced, never run.
#
# Environment:
#   RUNTIME        the OCI runtime under test: a path, or a name on PATH (default: the repo's
#                  target/release/berth). `RUNTIME=runc` runs the control.
#   ENGINES_CACHE  where built images and the debootstrap'd Debian rootfs are kept between runs
#                  (default /var/cache/berth-engines)
#   CHECKS         an extended regex; only checks whose name matches run (default: all)
#   KEEP_WORK      1: leave the temp dir (engine state, logs) behind for inspection

ENGINES_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$ENGINES_DIR/../.." && pwd)
ENGINES_CACHE=${ENGINES_CACHE:-/var/cache/berth-engines}
CHECKS=${CHECKS:-}

RUNTIME=${RUNTIME:-$REPO/target/release/berth}
if [[ $RUNTIME != */* ]]; then
	RUNTIME=$(command -v "$RUNTIME") || {
		echo "Bail out! RUNTIME not found on PATH" >&2
		exit 1
	}
fi
RUNTIME=$(readlink -f "$RUNTIME")
[ -x "$RUNTIME" ] || {
	echo "Bail out! RUNTIME $RUNTIME is not an executable (build it: make release)"
	exit 1
}
RUNTIME_NAME=$(basename "$RUNTIME")
export RUNTIME RUNTIME_NAME

# Busybox image: /bin/busybox and its links, a user and groups, a non-executable file.
# Debian image: debootstrap --variant=minbase bookworm (skipped when the mirror is unreachable).
BUSYBOX_IMAGE_TAG=v1
DEBIAN_SUITE=bookworm
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

die() {
	echo "Bail out! $*"
	exit 1
}

# --- cleanup stack ------------------------------------------------------------
# Each step that creates something pushes the command that undoes it; on exit they run in
# reverse order, whatever made the script end.
_cleanup_cmds=()
on_exit() { _cleanup_cmds+=("$1"); }
_run_cleanup() {
	local i
	for ((i = ${#_cleanup_cmds[@]} - 1; i >= 0; i--)); do
		eval "${_cleanup_cmds[i]}" >>"${WORK:-/tmp}/cleanup.log" 2>&1 || true
	done
	_cleanup_cmds=()
}
trap _run_cleanup EXIT
trap 'exit 130' INT TERM HUP

new_workdir() {
	WORK=$(mktemp -d "/tmp/engines-$1.XXXXXX")
	mkdir -p "$WORK/logs" "$WORK/host"
	on_exit remove_new_cgroup_top
	if [ "${KEEP_WORK:-0}" != 1 ]; then
		on_exit "rm -rf '$WORK'"
	fi
	export WORK
}

# Stop a daemon by the pid we started it with: TERM, wait up to 20 s, then KILL.
stop_pid() {
	local pid=$1 i
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 200; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
}

# Unmount everything still mounted under a directory, deepest first.
umount_under() {
	local dir=$1 m
	awk -v d="$dir" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r |
		while read -r m; do umount -l "$m" 2>/dev/null || true; done
}

# The engines create a parent cgroup (dockerd --cgroup-parent, podman's libpod_parent, ctr's
# namespace) in every v1 hierarchy: remove it on exit unless it was there before the run.
own_cgroup_parent() {
	local name=$1
	compgen -G "/sys/fs/cgroup/*/$name" >/dev/null && return 0
	[ -d "/sys/fs/cgroup/$name" ] && return 0
	on_exit "rmdir_cgroups '$name'"
}
rmdir_cgroups() { # (a conmon or shim may take a moment to leave its cgroup: retry for 10 s)
	local d i
	for ((i = 0; i < 100; i++)); do
		for d in /sys/fs/cgroup/*/"$1" /sys/fs/cgroup/"$1"; do
			[ -d "$d" ] || continue
			if mountpoint -q "$(dirname "$d")"; then
				find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
			else
				# a controller the host does not mount: the engines still mkdir its path (and
				# conmon writes a `tasks` file there) on the tmpfs; plain files and directories
				rm -rf "$d"
			fi
		done
		compgen -G "/sys/fs/cgroup/*/$1" >/dev/null || [ -d "/sys/fs/cgroup/$1" ] || return 0
		sleep 0.1
	done
}

# Where a v1 controller is not mounted, /sys/fs/cgroup/CTRL can still be a plain directory on the
# cgroup tmpfs (an engine's MkdirAll made it, in this run or before). podman then makes a pod's
# cgroup there too and conmon writes a plain `tasks` file into it, so `podman pod rm` cannot rmdir
# it ("directory not empty"), with runc as with berth. Removes the plain files of the cgroup
# directories named $1 (a pod id) in such hierarchies; the engine removes the directories.
clear_plain_cgroup_files() {
	local d
	for d in /sys/fs/cgroup/*/; do
		mountpoint -q "$d" && continue
		find "$d" -depth -type d -name "${1:?}" -exec find {} -type f -delete \;
	done
}

# Top-level entries the engines add to /sys/fs/cgroup (directories for controllers the host does
# not mount, made by MkdirAll on the tmpfs): removed on exit unless they are mounted.
_cgroup_top_before=$(ls /sys/fs/cgroup 2>/dev/null)
remove_new_cgroup_top() {
	local p e
	for p in /sys/fs/cgroup/*; do
		e=${p##*/}
		grep -qx "$e" <<<"$_cgroup_top_before" && continue
		mountpoint -q "/sys/fs/cgroup/$e" && continue
		rm -rf "/sys/fs/cgroup/${e:?}"
	done
}

# A directory outside $WORK that an engine creates for its own use (the runc v2 shim's socket
# dir /run/containerd/s, podman's /run/netns): remove it on exit if it was not there and is empty.
# (podman bind-mounts /run/netns onto itself, shared, the first time it makes a netns there.)
own_empty_dir() {
	[ -e "$1" ] || on_exit "if mountpoint -q '$1'; then umount '$1'; fi; rmdir '$1'"
}

# Wait until a command succeeds (up to $1 tenths of a second).
wait_until() {
	local tenths=$1 i
	shift
	for ((i = 0; i < tenths; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# --- images -----------------------------------------------------------------
_sha256() { sha256sum "$1" | cut -d' ' -f1; }

# make_docker_archive ROOTFS CONFIG_JSON REPO_TAG OUT: one-layer docker-archive from a directory.
make_docker_archive() {
	local rootfs=$1 config=$2 tag=$3 out=$4 d
	d=$(mktemp -d "$WORK/archive.XXXXXX")
	tar --numeric-owner --xattrs -C "$rootfs" -cf "$d/layer.tar" .
	local diff_id
	diff_id=$(_sha256 "$d/layer.tar")
	mkdir "$d/$diff_id"
	mv "$d/layer.tar" "$d/$diff_id/layer.tar"
	jq --arg d "sha256:$diff_id" --arg now "2026-01-01T00:00:00Z" \
		'. + {architecture: "amd64", os: "linux", created: $now, rootfs: {type: "layers", diff_ids: [$d]}}' \
		"$config" >"$d/config.json"
	local cfg_id
	cfg_id=$(_sha256 "$d/config.json")
	mv "$d/config.json" "$d/$cfg_id.json"
	jq -n --arg c "$cfg_id.json" --arg t "$tag" --arg l "$diff_id/layer.tar" \
		'[{Config: $c, RepoTags: [$t], Layers: [$l]}]' >"$d/manifest.json"
	tar -C "$d" -cf "$out.tmp" manifest.json "$cfg_id.json" "$diff_id"
	mv "$out.tmp" "$out"
	rm -rf "$d"
}

_busybox_rootfs() {
	local r=$1
	mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,etc,dev,proc,sys,root,home/tester,srv,tmp,run,var/tmp}
	chmod 1777 "$r/tmp" "$r/var/tmp"
	cp /bin/busybox "$r/bin/busybox"
	chroot "$r" /bin/busybox --install -s
	cc -static -O2 -o "$r/bin/notify" "$ENGINES_DIR/notify.c"
	cat >"$r/etc/passwd" <<-'EOF'
		root:x:0:0:root:/root:/bin/sh
		tester:x:1000:1000:tester:/home/tester:/bin/sh
		nobody:x:65534:65534:nobody:/nonexistent:/bin/false
	EOF
	cat >"$r/etc/group" <<-'EOF'
		root:x:0:
		tester:x:1000:
		extra:x:2000:tester
		other:x:3000:
		nogroup:x:65534:
	EOF
	chown 1000:1000 "$r/home/tester"
	printf '#!/bin/sh\necho should-not-run\n' >"$r/noexec.sh"
	chmod 0644 "$r/noexec.sh"
	echo image-file >"$r/srv/hello.txt"
}

# build_images: $ENGINES_CACHE/{busybox,debian}.{docker,oci}.tar (once; kept between runs)
build_images() {
	mkdir -p "$ENGINES_CACHE"
	local c=$ENGINES_CACHE
	if [ ! -f "$c/busybox-$BUSYBOX_IMAGE_TAG.docker.tar" ]; then
		local r="$WORK/busybox-rootfs"
		_busybox_rootfs "$r"
		jq -n '{config: {Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "IMGVAR=from-image"],
			Cmd: ["sh"], WorkingDir: "/srv"}}' >"$WORK/busybox-config.json"
		make_docker_archive "$r" "$WORK/busybox-config.json" "localhost/engines/busybox:latest" \
			"$c/busybox-$BUSYBOX_IMAGE_TAG.docker.tar"
		# The same rootfs with a non-root default user.
		jq '.config.User = "tester" | .config.WorkingDir = "/home/tester"' "$WORK/busybox-config.json" >"$WORK/user-config.json"
		make_docker_archive "$r" "$WORK/user-config.json" "localhost/engines/busybox-user:latest" \
			"$c/busybox-user-$BUSYBOX_IMAGE_TAG.docker.tar"
		rm -rf "$r"
	fi
	if [ ! -f "$c/busybox-$BUSYBOX_IMAGE_TAG.oci.tar" ]; then
		skopeo copy -q "docker-archive:$c/busybox-$BUSYBOX_IMAGE_TAG.docker.tar" \
			"oci-archive:$c/busybox-$BUSYBOX_IMAGE_TAG.oci.tar:localhost/engines/busybox:latest" ||
			die "skopeo: busybox oci-archive"
	fi
	if [ ! -f "$c/debian.docker.tar" ] && [ ! -f "$c/debian.unavailable" ]; then
		if [ ! -d "$c/debian-rootfs" ]; then
			rm -rf "$c/debian-rootfs.tmp"
			if debootstrap --variant=minbase "$DEBIAN_SUITE" "$c/debian-rootfs.tmp" "$DEBIAN_MIRROR" \
				>"$c/debootstrap.log" 2>&1; then
				mv "$c/debian-rootfs.tmp" "$c/debian-rootfs"
			else
				echo "debootstrap failed, see $c/debootstrap.log" >"$c/debian.unavailable"
			fi
		fi
		if [ -d "$c/debian-rootfs" ]; then
			jq -n '{config: {Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: ["bash"]}}' \
				>"$WORK/debian-config.json"
			rm -rf "$c/debian-rootfs/var/cache/apt/archives/"*.deb
			make_docker_archive "$c/debian-rootfs" "$WORK/debian-config.json" \
				"localhost/engines/debian:$DEBIAN_SUITE" "$c/debian.docker.tar"
			skopeo copy -q "docker-archive:$c/debian.docker.tar" \
				"oci-archive:$c/debian.oci.tar:localhost/engines/debian:$DEBIAN_SUITE" ||
				die "skopeo: debian oci-archive"
		fi
	fi
}

have_debian() { [ -f "$ENGINES_CACHE/debian.docker.tar" ]; }

# --- local registry -----------------------------------------------------------
# start_registry: docker-registry on 127.0.0.1:$REGISTRY_PORT with storage under $WORK, the images
# pushed to it as $REGISTRY/engines/{busybox,busybox-user,debian}.
start_registry() {
	command -v docker-registry >/dev/null || die "docker-registry is not installed"
	local port tries
	for ((tries = 0; tries < 20; tries++)); do
		port=$((20000 + RANDOM % 20000))
		cat >"$WORK/registry.yml" <<-EOF
			version: 0.1
			log:
			  level: warn
			storage:
			  filesystem:
			    rootdirectory: $WORK/registry
			http:
			  addr: 127.0.0.1:$port
		EOF
		docker-registry serve "$WORK/registry.yml" >"$WORK/logs/registry.log" 2>&1 &
		REGISTRY_PID=$!
		if wait_until 50 curl -sf "http://127.0.0.1:$port/v2/"; then
			break
		fi
		stop_pid "$REGISTRY_PID"
		REGISTRY_PID=
	done
	[ -n "${REGISTRY_PID:-}" ] || die "docker-registry did not start (see $WORK/logs/registry.log)"
	on_exit "stop_pid $REGISTRY_PID"
	REGISTRY=127.0.0.1:$port
	local c=$ENGINES_CACHE
	skopeo copy -q --dest-tls-verify=false "docker-archive:$c/busybox-$BUSYBOX_IMAGE_TAG.docker.tar" \
		"docker://$REGISTRY/engines/busybox:latest" || die "push busybox"
	skopeo copy -q --dest-tls-verify=false "docker-archive:$c/busybox-user-$BUSYBOX_IMAGE_TAG.docker.tar" \
		"docker://$REGISTRY/engines/busybox-user:latest" || die "push busybox-user"
	if have_debian; then
		skopeo copy -q --dest-tls-verify=false "docker-archive:$c/debian.docker.tar" \
			"docker://$REGISTRY/engines/debian:$DEBIAN_SUITE" || die "push debian"
	fi
	BB=$REGISTRY/engines/busybox:latest
	BBU=$REGISTRY/engines/busybox-user:latest
	DEB=$REGISTRY/engines/debian:$DEBIAN_SUITE
	export REGISTRY BB BBU DEB
}

# The engine sets the tty size after the process starts: wait (up to 10 s) until it is set.
# shellcheck disable=SC2034,SC2016 # used by the engine scripts, expanded in the container
WAIT_SIZE='for i in $(seq 100); do case "$(stty size 2>/dev/null)" in "" | "0 0") sleep 0.1 ;; *) break ;; esac; done'

# --- TAP ----------------------------------------------------------------------
T_N=0
T_PASS=0
T_FAIL=0
T_SKIP=0
ENGINE=${ENGINE:-engine}
# Called after every check (engines set it: remove the check's containers).
after_check() { :; }

# check NAME: run the function check_NAME in a subshell with `set -e`; its output is kept in
# $WORK/logs/NAME.log and shown as TAP diagnostics when it fails. A check calls `skip WHY` when
# this host cannot run it (the reason never depends on the runtime).
check() {
	local name=$1 fn="check_${1//-/_}" rc log
	if [ -n "$CHECKS" ] && ! [[ $name =~ $CHECKS ]]; then
		return 0
	fi
	log="$WORK/logs/$name.log"
	T_N=$((T_N + 1))
	(
		set -e
		"$fn"
	) >"$log" 2>&1 </dev/null
	rc=$?
	if [ $rc -eq 0 ]; then
		T_PASS=$((T_PASS + 1))
		echo "ok $T_N $ENGINE/$name"
	elif [ $rc -eq 77 ]; then
		T_SKIP=$((T_SKIP + 1))
		echo "ok $T_N $ENGINE/$name # SKIP $(grep '^skip ' "$log" | tail -1 | cut -c6-)"
	else
		T_FAIL=$((T_FAIL + 1))
		echo "not ok $T_N $ENGINE/$name"
		tail -n 25 "$log" | sed 's/^/# /'
	fi
	after_check >>"$WORK/logs/after-check.log" 2>&1 || true
}

tap_plan() {
	echo "1..$T_N"
	echo "# $ENGINE with $RUNTIME_NAME: $T_PASS passed, $T_FAIL failed, $T_SKIP skipped"
}

skip() {
	echo "skip $*"
	exit 77
}

# Assertions print what they saw and fail the check (set -e).
assert_eq() { # WANT GOT WHAT
	if [ "$1" != "$2" ]; then
		printf 'FAIL %s: want [%s] got [%s]\n' "$3" "$1" "$2"
		return 1
	fi
}
assert_match() { # ERE STRING WHAT
	if ! [[ $2 =~ $1 ]]; then
		printf 'FAIL %s: [%s] does not match /%s/\n' "$3" "$2" "$1"
		return 1
	fi
}
assert_nomatch() { # ERE STRING WHAT
	if [[ $2 =~ $1 ]]; then
		printf 'FAIL %s: [%s] matches /%s/\n' "$3" "$2" "$1"
		return 1
	fi
}
fail() {
	echo "FAIL $*"
	return 1
}
# The value of a /proc/PID/status field, as printed by `cat /proc/self/status` in a container.
status_field() { # FIELD TEXT
	awk -v f="$1:" '$1 == f { $1 = ""; sub(/^ +/, ""); print; exit }' <<<"$2"
}
# The host's full capability mask (what a privileged container gets).
host_cap_bnd() { status_field CapBnd "$(cat /proc/self/status)"; }

# rc_of CMD...: run CMD (its stdout goes to stderr, into the check's log), print its exit code.
rc_of() {
	local rc=0
	"$@" >&2 || rc=$?
	echo "$rc"
}
