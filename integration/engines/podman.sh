#!/usr/bin/env bash
# shellcheck disable=SC2016 # container command lines are single-quoted on purpose: they expand inside
# podman 4.3 (conmon, CNI) with `--runtime $RUNTIME`, all its state under a temp dir through a
# private containers.conf, storage.conf and registries.conf. TAP on stdout.
# Usage: RUNTIME=/path/to/runtime integration/engines/podman.sh   (see lib.sh for the environment)
set -uo pipefail
# shellcheck source=integration/engines/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=integration/engines/cli-checks.sh
. "$ENGINES_DIR/cli-checks.sh"

ENGINE=podman
PODMAN=${PODMAN:-/usr/bin/podman}
BRIDGE=${PODMAN_BRIDGE:-berthpd0}
SUBNET=${PODMAN_SUBNET:-10.213.8}
export INIT_COMM=podman-init EXEC_MISSING_RC=127 PRIVILEGED_CAPS=bounding
# Any --ulimit drops the default_ulimits below, and podman asks for NPROC 1048576 again.
export ULIMIT_EXTRA="nproc=4096:4096"

for b in "$PODMAN" conmon docker-registry skopeo jq script cc; do
	command -v "$b" >/dev/null || die "$b is not installed"
done

new_workdir podman
build_images
start_registry

# podman's default network "podman" as a CNI config of our own: a private bridge, host-local
# IPAM state under $WORK, no firewall/portmap plugins (so no iptables chains to leave behind).
mkdir -p "$WORK/cni" "$WORK/cni-ipam"
jq -n --arg br "$BRIDGE" --arg sn "$SUBNET" --arg dd "$WORK/cni-ipam" '{
	cniVersion: "0.4.0", name: "podman",
	plugins: [{type: "bridge", bridge: $br, isGateway: true, ipMasq: false, hairpinMode: true,
		ipam: {type: "host-local", dataDir: $dd, routes: [{dst: "0.0.0.0/0"}],
			ranges: [[{subnet: ($sn + ".0/24"), gateway: ($sn + ".1")}]]}}]}' >"$WORK/cni/87-podman.conflist"
on_exit "ip link show $BRIDGE >/dev/null 2>&1 && ip link del $BRIDGE"

# podman's lock file in /dev/shm is global (not under --tmpdir): remove it after, if we made it.
[ -e /dev/shm/libpod_lock ] || on_exit "rm -f /dev/shm/libpod_lock"

own_empty_dir /run/netns
own_empty_dir /var/lib/cni # libcni's result cache (podman 4.3 has no setting for it)
own_empty_dir /var/lib/cni/results
own_cgroup_parent libpod_parent
cat >"$WORK/containers.conf" <<EOF
[containers]
init_path = "/usr/libexec/podman/catatonit"
# podman asks for RLIMIT_NOFILE/NPROC at the kernel maximum (1048576) unless told, and conmon
# runs with NPROC 32768: raising either needs CAP_SYS_RESOURCE, which a sandboxed host (this
# one) lacks, and then no container starts with runc or crun. Fixed limits below those.
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$WORK/events.log"
tmp_dir = "$WORK/libpod-tmp"
volume_path = "$WORK/volumes"
runtime_supports_json = ["crun", "runc", "kata", "runsc", "krun", "berth"]

[network]
network_backend = "cni"
network_config_dir = "$WORK/cni"
cni_plugin_dirs = ["/usr/lib/cni"]
EOF
cat >"$WORK/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$WORK/storage"
runroot = "$WORK/run"
EOF
cat >"$WORK/registries.conf" <<EOF
unqualified-search-registries = []
[[registry]]
location = "$REGISTRY"
insecure = true
EOF
export CONTAINERS_CONF="$WORK/containers.conf" CONTAINERS_STORAGE_CONF="$WORK/storage.conf" \
	CONTAINERS_REGISTRIES_CONF="$WORK/registries.conf" XDG_CONFIG_HOME="$WORK/xdg-config" \
	XDG_DATA_HOME="$WORK/xdg-data"
cc -O2 -o "$WORK/notify" "$ENGINES_DIR/notify.c" || die "cannot build the notify helper"

E_CMD="$PODMAN --runtime $RUNTIME"
E() {
	# shellcheck disable=SC2086
	timeout 120 $E_CMD "$@"
}
remove_all() {
	E pod rm -af -t 0 >/dev/null
	E rm -af -t 0 >/dev/null
	E volume prune -f >/dev/null
}
after_check() { remove_all; }
# On exit: containers and pods (their conmons go with them), then storage mounts; podman's own
# `system reset`-like cleanup is not used because it would also touch the host's defaults.
on_exit "umount_under '$WORK'"
on_exit "E rmi -af >/dev/null; E system prune -af >/dev/null"
on_exit "remove_all"

E pull -q "$BB" >/dev/null || die "pull $BB"
E pull -q "$BBU" >/dev/null || die "pull $BBU"
if have_debian; then E pull -q "$DEB" >/dev/null || die "pull $DEB"; fi

check_runtime_in_info() {
	assert_eq "$RUNTIME" "$(E info -f '{{.Host.OCIRuntime.Path}}')" "podman's runtime path"
}

check_healthcheck() {
	# No systemd here, so no timers: the check runs by `podman healthcheck run`.
	E run -d --name c1 --health-cmd 'test -f /tmp/ok' --health-interval disable --health-retries 1 \
		"$BB" sh -c 'touch /tmp/ok; sleep 100000' >/dev/null
	wait_until 100 E exec c1 test -f /tmp/ok || fail "container did not start"
	assert_eq 0 "$(rc_of E healthcheck run c1)" "healthcheck run while healthy"
	assert_eq healthy "$(inspect c1 '{{.State.Health.Status}}')" "health status"
	E exec c1 rm /tmp/ok
	assert_eq 1 "$(rc_of E healthcheck run c1)" "healthcheck run while unhealthy"
	assert_eq unhealthy "$(inspect c1 '{{.State.Health.Status}}')" "health status"
}

check_sdnotify_container() {
	"$WORK/notify" recv "$WORK/notify.sock" 60 >"$WORK/notify.out" 2>&1 &
	local listener=$!
	wait_until 50 test -S "$WORK/notify.sock" || fail "listener did not bind"
	NOTIFY_SOCKET="$WORK/notify.sock" E run -d --name c1 --sdnotify=container "$BB" \
		sh -c 'echo "NOTIFY_SOCKET=$NOTIFY_SOCKET"; notify send READY=1; sleep 100000' >/dev/null
	local rc=0
	wait "$listener" || rc=$?
	cat "$WORK/notify.out"
	E logs c1
	assert_eq 0 "$rc" "READY=1 relayed to the engine's NOTIFY_SOCKET"
	assert_match "READY=1" "$(cat "$WORK/notify.out")" "the message"
}

check_socket_activation() {
	echo passed-as-fd-3 >"$WORK/host/fd3.txt"
	local out
	# podman passes LISTEN_FDS fds on when LISTEN_PID is its own pid (exec keeps the pid).
	# shellcheck disable=SC2016
	out=$(timeout 120 bash -c 'exec 3<"$1"; shift; LISTEN_FDS=1 LISTEN_PID=$$ exec "$@"' _ "$WORK/host/fd3.txt" \
		"$PODMAN" --runtime "$RUNTIME" run --rm "$BB" sh -c 'echo $LISTEN_FDS $LISTEN_PID; cat <&3')
	assert_eq "1 1
passed-as-fd-3" "$out" "LISTEN_FDS, LISTEN_PID and fd 3 inside"
}

check_pod() {
	E pod create --name p1 >/dev/null
	E run -d --pod p1 --name c1 "$BB" sleep 100000 >/dev/null
	local infra
	infra=$(E pod inspect -f '{{.InfraContainerID}}' p1)
	assert_eq "$(readlink "/proc/$(cpid "$infra")/ns/net")" "$(E exec c1 readlink /proc/self/ns/net)" \
		"the container shares the infra container's netns"
	assert_eq catatonit "$(cat "/proc/$(cpid "$infra")/comm")" "the infra container runs catatonit"
	clear_plain_cgroup_files "$(E pod inspect -f '{{.Id}}' p1)"
	E pod rm -f -t 0 p1 >/dev/null
}

check_userns() {
	assert_eq "0 100000 65536" "$(E run --rm --uidmap 0:100000:65536 --gidmap 0:100000:65536 "$BB" \
		sh -c 'set -- $(cat /proc/self/uid_map); echo $@')" "uid_map"
}

check_load_oci_archive() {
	E load -i "$ENGINES_CACHE/busybox-$BUSYBOX_IMAGE_TAG.oci.tar" >/dev/null
	assert_eq from-oci-archive "$(E run --rm localhost/engines/busybox:latest echo from-oci-archive)" \
		"run of the image loaded from an oci-archive"
	E rmi localhost/engines/busybox:latest >/dev/null
}

echo "# podman: $("$PODMAN" --version), runtime $RUNTIME"
check runtime-in-info
run_cli_checks
check healthcheck
check sdnotify-container
check socket-activation
check pod
check userns
check load-oci-archive
tap_plan
