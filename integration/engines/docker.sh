#!/usr/bin/env bash
# docker.io (dockerd 20.10 + its own containerd) with $RUNTIME as the default runtime, started
# privately under a temp dir and stopped by pid on exit. TAP on stdout.
# Usage: RUNTIME=/path/to/runtime integration/engines/docker.sh   (see lib.sh for the environment)
set -uo pipefail
# shellcheck source=integration/engines/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=integration/engines/cli-checks.sh
. "$ENGINES_DIR/cli-checks.sh"

ENGINE=docker
DOCKERD=${DOCKERD:-/usr/sbin/dockerd}
DOCKER_CLI=${DOCKER_CLI:-/usr/bin/docker} # Debian's client, the one docker.io users have
BRIDGE=${DOCKER_BRIDGE:-berthdk0}
BRIDGE_CIDR=${DOCKER_BRIDGE_CIDR:-10.213.7.1/24}
INIT_COMM=docker-init
PRIVILEGED_CAPS=all
ULIMIT_EXTRA=
EXEC_MISSING_RC=126 # dockerd 20.10 answers 126 to every exec start error

for b in "$DOCKERD" "$DOCKER_CLI" docker-registry skopeo jq script; do
	command -v "$b" >/dev/null || die "$b is not installed"
done

new_workdir docker
build_images
start_registry

# A private bridge (dockerd only takes a non-default bridge that already exists); no iptables
# rules and no host sysctl changes, so nothing outside $WORK needs undoing but the bridge.
if ip link show "$BRIDGE" >/dev/null 2>&1; then
	die "bridge $BRIDGE already exists (another run?)"
fi
ip link add "$BRIDGE" type bridge || die "cannot create bridge $BRIDGE"
on_exit "ip link del $BRIDGE"
ip addr add "$BRIDGE_CIDR" dev "$BRIDGE"
ip link set "$BRIDGE" up

own_empty_dir /run/containerd
own_empty_dir /run/containerd/s
own_cgroup_parent engines-docker
export DOCKER_CONFIG="$WORK/cli"
mkdir -p "$DOCKER_CONFIG"
jq -n --arg k "$WORK/key.json" '{"deprecated-key-path": $k}' >"$WORK/daemon.json" # else /etc/docker/key.json
"$DOCKERD" \
	--config-file "$WORK/daemon.json" \
	--data-root "$WORK/root" \
	--exec-root "$WORK/exec" \
	--pidfile "$WORK/dockerd.pid" \
	-H "unix://$WORK/docker.sock" \
	--bridge "$BRIDGE" --iptables=false --ip-masq=false --ip-forward=false --userland-proxy=false \
	--add-runtime "enginert=$RUNTIME" --default-runtime enginert \
	--storage-driver overlay2 --cgroup-parent /engines-docker \
	--log-level warn \
	>"$WORK/logs/dockerd.log" 2>&1 &
DOCKERD_PID=$!
# Order matters on exit: containers, then dockerd (its containerd and shims go with it), then
# whatever is still mounted under $WORK.
on_exit "umount_under '$WORK'"
on_exit "stop_pid $DOCKERD_PID"
on_exit "remove_all"

E_CMD="$DOCKER_CLI -H unix://$WORK/docker.sock"
E() {
	# shellcheck disable=SC2086
	timeout 120 $E_CMD "$@"
}
remove_all() {
	local ids
	mapfile -t ids < <(E ps -aq)
	[ ${#ids[@]} -eq 0 ] || E rm -f "${ids[@]}" >/dev/null
	E volume prune -f >/dev/null
}
after_check() { remove_all; }

wait_until 300 E version || {
	tail -20 "$WORK/logs/dockerd.log"
	die "dockerd did not start"
}
E pull -q "$BB" >/dev/null || die "pull $BB"
E pull -q "$BBU" >/dev/null || die "pull $BBU"
if have_debian; then E pull -q "$DEB" >/dev/null || die "pull $DEB"; fi

check_healthcheck() {
	E run -d --name c1 --health-cmd 'test -f /tmp/ok' --health-interval 1s --health-retries 1 \
		"$BB" sh -c 'touch /tmp/ok; sleep 100000' >/dev/null
	wait_until 600 sh -c "[ \"\$($E_CMD inspect -f '{{.State.Health.Status}}' c1)\" = healthy ]" ||
		fail "not healthy: $(inspect c1 '{{json .State.Health}}')"
	E exec c1 rm /tmp/ok
	wait_until 600 sh -c "[ \"\$($E_CMD inspect -f '{{.State.Health.Status}}' c1)\" = unhealthy ]" ||
		fail "not unhealthy: $(inspect c1 '{{json .State.Health}}')"
}

check_rm_running_fails() {
	local rc=0 err
	run_bg c1
	err=$(E rm c1 2>&1) || rc=$?
	echo "$err"
	[ "$rc" -ne 0 ] || fail "rm of a running container succeeded"
	assert_eq true "$(inspect c1 '{{.State.Running}}')" "still running"
}

check_runtime_in_info() {
	assert_eq enginert "$(E info -f '{{.DefaultRuntime}}')" "default runtime"
	assert_eq enginert "$(E run -d --name c1 "$BB" true >/dev/null && inspect c1 '{{.HostConfig.Runtime}}')" \
		"the container's runtime"
}

echo "# docker: $("$DOCKERD" --version), runtime $RUNTIME"
check runtime-in-info
run_cli_checks
check healthcheck
check rm-running-fails
tap_plan
