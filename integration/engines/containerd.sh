#!/usr/bin/env bash
# shellcheck disable=SC2016 # container command lines are single-quoted on purpose: they expand inside
# containerd 1.6 driven by ctr, through the io.containerd.runc.v2 shim with BinaryName=$RUNTIME
# (`ctr run --runc-binary`), started privately under a temp dir. TAP on stdout.
# Usage: RUNTIME=/path/to/runtime integration/engines/containerd.sh   (see lib.sh for the environment)
set -uo pipefail
# shellcheck source=integration/engines/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ENGINE=containerd
CONTAINERD=${CONTAINERD:-/usr/bin/containerd}
CTR=${CTR:-/usr/bin/ctr}
NS=engines

for b in "$CONTAINERD" "$CTR" containerd-shim-runc-v2 docker-registry skopeo jq script; do
	command -v "$b" >/dev/null || die "$b is not installed"
done

new_workdir containerd
build_images
start_registry

own_empty_dir /run/containerd
own_empty_dir /run/containerd/s
own_empty_dir /run/containerd/fifo # ctr run's default --fifo-dir
own_cgroup_parent "$NS"
cat >"$WORK/config.toml" <<EOF
version = 2
root = "$WORK/root"
state = "$WORK/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]

[grpc]
  address = "$WORK/containerd.sock"
[ttrpc]
  address = "$WORK/containerd.sock.ttrpc"
[debug]
  address = ""
  level = "warn"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$WORK/opt"
EOF
"$CONTAINERD" --config "$WORK/config.toml" >"$WORK/logs/containerd.log" 2>&1 &
CONTAINERD_PID=$!
on_exit "umount_under '$WORK'"
on_exit "stop_pid $CONTAINERD_PID"
on_exit "remove_all"

C() { timeout 120 "$CTR" --address "$WORK/containerd.sock" --namespace "$NS" "$@"; }
C_CMD="$CTR --address $WORK/containerd.sock --namespace $NS"
# ctr run with the runtime under test: the runc v2 shim's BinaryName, and a private state root.
RUN_OPTS=(--runtime io.containerd.runc.v2 --runc-binary "$RUNTIME" --runc-root "$WORK/runc-root")
CR() { C run "${RUN_OPTS[@]}" "$@"; }
remove_all() {
	local id
	for id in $(C task ls -q 2>/dev/null); do C task rm -f "$id" >/dev/null 2>&1; done
	for id in $(C container ls -q 2>/dev/null); do C container rm "$id" >/dev/null 2>&1; done
}
after_check() { remove_all; }

wait_until 300 C version || {
	tail -20 "$WORK/logs/containerd.log"
	die "containerd did not start"
}
C image pull --plain-http "$BB" >/dev/null || die "pull $BB"
C image pull --plain-http "$BBU" >/dev/null || die "pull $BBU"
if have_debian; then C image pull --plain-http "$DEB" >/dev/null || die "pull $DEB"; fi

# A task's host pid and state, from `ctr task ls`.
task_field() { C task ls | awk -v id="$1" -v f="$2" '$1 == id { print $f }'; }
run_bg() { # ID [ctr run flags]
	local id=$1
	shift
	CR -d "$@" "$BB" "$id" sleep 100000 >/dev/null
	wait_until 100 sh -c "[ \"\$($C_CMD task ls | awk '\$1 == \"$id\" { print \$3 }')\" = RUNNING ]"
}

check_run_rm() {
	assert_eq hello-from-container "$(CR --rm "$BB" r1 echo hello-from-container)" "stdout of run --rm"
	assert_eq "" "$(C container ls -q)" "containers left after run --rm"
}

check_exit_code() {
	assert_eq 42 "$(rc_of CR --rm "$BB" r1 sh -c 'exit 42')" "exit code of sh -c 'exit 42'"
}

check_missing_entrypoint() {
	local rc=0 err
	err=$(CR --rm "$BB" r1 /no/such/binary 2>&1) || rc=$?
	echo "$err"
	[ "$rc" -ne 0 ] || fail "run of a missing binary succeeded"
	assert_match "no such file or directory" "$err" "message for a missing absolute path"
	C container rm r1 >/dev/null 2>&1 || true
	rc=0
	err=$(CR --rm "$BB" r2 no-such-command 2>&1) || rc=$?
	echo "$err"
	[ "$rc" -ne 0 ] || fail "run of a command not in PATH succeeded"
	assert_match 'executable file not found in \$PATH' "$err" "message for a command not in PATH"
}

check_noexec() {
	local rc=0 err
	err=$(CR --rm "$BB" r1 /noexec.sh 2>&1) || rc=$?
	echo "$err"
	[ "$rc" -ne 0 ] || fail "run of a non-executable file succeeded"
	assert_match "permission denied" "$err" "message for a non-executable entrypoint"
}

check_stdout_stderr() {
	# (ctr run deletes the task as soon as it exits and may drop output still in flight: the
	# process lingers a second after writing)
	CR --rm "$BB" r1 sh -c 'echo to-stdout; echo to-stderr >&2; sleep 1' >"$WORK/o" 2>"$WORK/e"
	assert_eq to-stdout "$(cat "$WORK/o")" "stdout"
	assert_eq to-stderr "$(cat "$WORK/e")" "stderr"
}

check_stdin() {
	# (ctr run forwards stdin but never closes it at EOF: read a line rather than to the end)
	assert_eq one "$(printf 'one\ntwo\n' | CR --rm "$BB" r1 head -n 1)" "line read from stdin"
}

check_tty() {
	local out
	out=$(script -qec "stty rows 33 cols 77; $C_CMD run ${RUN_OPTS[*]} --rm -t $BB r1 sh -c '$WAIT_SIZE; tty; stty size'" /dev/null | tr -d '\r')
	echo "$out"
	assert_match "/dev/pts/[0-9]+" "$out" "tty inside"
	assert_match "33 77" "$out" "terminal size inside"
}

check_env_cwd() {
	local out
	# shellcheck disable=SC2016
	out=$(CR --rm "$BB" r1 sh -c 'echo $IMGVAR; pwd')
	assert_eq "from-image
/srv" "$out" "env and workdir from the image"
	# shellcheck disable=SC2016
	out=$(CR --rm --env FOO=bar --cwd /tmp "$BB" r2 sh -c 'echo $FOO; pwd')
	assert_eq "bar
/tmp" "$out" "--env and --cwd"
}

check_image_user() {
	local out
	out=$(CR --rm "$BBU" r1 cat /proc/self/status)
	assert_match "^1000" "$(status_field Uid "$out")" "Uid (image User tester)"
	assert_match "2000" "$(status_field Groups "$out")" "Groups (tester is in group extra=2000)"
}

check_exec() {
	run_bg t1
	# shellcheck disable=SC2016
	assert_eq "1000
/tmp" "$(C task exec --exec-id e1 --user 1000 --cwd /tmp t1 sh -c 'id -u; pwd')" "exec --user --cwd"
	assert_eq 9 "$(rc_of C task exec --exec-id e2 t1 sh -c 'exit 9')" "exit code of exec"
	local rc=0 err
	err=$(C task exec --exec-id e3 t1 no-such-command 2>&1) || rc=$?
	echo "$err"
	[ "$rc" -ne 0 ] || fail "exec of a missing command succeeded"
	assert_match 'executable file not found in \$PATH' "$err" "message of exec of a missing command"
}

check_exec_tty() {
	run_bg t1
	local out
	out=$(script -qec "$C_CMD task exec -t --exec-id e1 t1 tty" /dev/null | tr -d '\r')
	echo "$out"
	assert_match "/dev/pts/[0-9]+" "$out" "tty in exec -t"
}

check_signal() {
	CR --rm "$BB" r1 sh -c 'trap "echo got-usr1; exit 7" USR1; echo ready; while :; do sleep 0.1; done' >"$WORK/o" 2>&1 &
	local fg=$!
	wait_until 100 grep -q ready "$WORK/o" || fail "container never printed ready"
	C task kill -s USR1 r1
	local rc=0
	wait "$fg" || rc=$?
	assert_eq 7 "$rc" "exit code of ctr run after the USR1 trap"
	assert_match got-usr1 "$(cat "$WORK/o")" "trap output"
}

check_kill() {
	CR --rm "$BB" r1 sleep 100000 >/dev/null 2>&1 &
	local fg=$!
	wait_until 100 sh -c "[ \"\$($C_CMD task ls | awk '\$1 == \"r1\" { print \$3 }')\" = RUNNING ]" || fail "not running"
	C task kill -s KILL r1
	local rc=0
	wait "$fg" || rc=$?
	assert_eq 137 "$rc" "exit code of ctr run after SIGKILL"
}

check_pause_resume() {
	[ -d /sys/fs/cgroup/freezer ] || skip "no cgroup v1 freezer on this host"
	run_bg t1
	local pid cg
	pid=$(task_field t1 2)
	cg=$(awk -F: '$2 == "freezer" { print $3 }' "/proc/$pid/cgroup")
	C task pause t1
	assert_eq PAUSED "$(task_field t1 3)" "task state after pause"
	assert_eq FROZEN "$(cat "/sys/fs/cgroup/freezer$cg/freezer.state")" "freezer.state"
	C task resume t1
	assert_eq RUNNING "$(task_field t1 3)" "task state after resume"
	assert_eq THAWED "$(cat "/sys/fs/cgroup/freezer$cg/freezer.state")" "freezer.state"
}

check_ps() {
	run_bg t1
	local pid out
	pid=$(task_field t1 2)
	out=$(C task ps t1)
	echo "$out"
	assert_match "(^|
)$pid " "$out" "task ps lists the init pid"
}

check_metrics() {
	run_bg t1 --memory-limit 67108864
	local out
	out=$(C task metrics t1)
	echo "$out"
	assert_match "memory.limit_in_bytes +67108864" "$out" "memory limit in the metrics"
}

check_limits() {
	[ -d /sys/fs/cgroup/memory ] || skip "cgroup v1 controllers not mounted on this host (cgroup v2 only)"
	# ctr's spec mounts no cgroupfs in the container: read the task's cgroup from the host.
	run_bg t1 --memory-limit 67108864 --cpus 0.5
	local pid mem cpu
	pid=$(task_field t1 2)
	mem=$(awk -F: '$2 == "memory" { print $3 }' "/proc/$pid/cgroup")
	cpu=$(awk -F: '$2 ~ /(^|,)cpu(,|$)/ { print $3 }' "/proc/$pid/cgroup")
	assert_eq 67108864 "$(cat "/sys/fs/cgroup/memory$mem/memory.limit_in_bytes")" "memory.limit_in_bytes"
	assert_eq 50000 "$(cat "/sys/fs/cgroup/cpu$cpu/cpu.cfs_quota_us")" "cpu.cfs_quota_us"
}

check_privileged() {
	local out
	out=$(CR --rm --privileged "$BB" r1 cat /proc/self/status)
	assert_eq "$(host_cap_bnd)" "$(status_field CapEff "$out")" "CapEff = the host's full set"
}

check_caps() {
	local out
	out=$(CR --rm --cap-add CAP_SYS_ADMIN --cap-drop CAP_CHOWN "$BB" r1 cat /proc/self/status)
	local eff=$((16#$(status_field CapEff "$out")))
	[ $((eff & 1)) -eq 0 ] || fail "CAP_CHOWN still in CapEff"
	[ $((eff & (1 << 21))) -ne 0 ] || fail "CAP_SYS_ADMIN missing from CapEff"
}

check_seccomp() {
	assert_eq 2 "$(status_field Seccomp "$(CR --rm --seccomp "$BB" r1 cat /proc/self/status)")" "Seccomp with --seccomp"
}

check_mounts() {
	mkdir -p "$WORK/host/rw" "$WORK/host/ro"
	echo from-host >"$WORK/host/ro/f"
	local out
	out=$(CR --rm --mount "type=bind,src=$WORK/host/rw,dst=/rw,options=rbind:rw" \
		--mount "type=bind,src=$WORK/host/ro,dst=/ro,options=rbind:ro" "$BB" r1 \
		sh -c 'echo from-container >/rw/g; cat /ro/f; touch /ro/x 2>&1 || true')
	echo "$out"
	assert_eq from-container "$(cat "$WORK/host/rw/g")" "file written through the rw bind mount"
	assert_match from-host "$out" "file read through the ro bind mount"
	assert_match "Read-only file system" "$out" "write to the ro bind mount fails"
}

check_device() {
	local out
	out=$(CR --rm --device /dev/zero "$BB" r1 sh -c 'head -c 4 /dev/zero | od -An -tx1')
	assert_match "00 00 00 00" "$out" "reading /dev/zero"
}

check_net_host() {
	assert_eq "$(readlink /proc/self/ns/net)" "$(CR --rm --net-host "$BB" r1 readlink /proc/self/ns/net)" "netns with --net-host"
}

check_net_default() {
	assert_eq lo "$(CR --rm "$BB" r1 ls /sys/class/net)" "interfaces in ctr's default (new, empty) netns"
}

check_parallel_20() {
	local i pids=() bad=0
	for i in $(seq 1 20); do
		CR -d "$BB" "par$i" sleep 100000 >/dev/null &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" || bad=$((bad + 1)); done
	assert_eq 0 "$bad" "failed starts"
	assert_eq 20 "$(C task ls | grep -c RUNNING)" "running tasks"
	pids=()
	for i in $(seq 1 20); do
		(C task rm -f "par$i" >/dev/null && C container rm "par$i") &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" || bad=$((bad + 1)); done
	assert_eq 0 "$bad" "failed removals"
	assert_eq 0 "$(C container ls -q | wc -l)" "containers left"
}

check_import_archives() {
	C image import --base-name localhost/engines/busybox "$ENGINES_CACHE/busybox-$BUSYBOX_IMAGE_TAG.oci.tar" >/dev/null
	assert_eq from-oci "$(CR --rm localhost/engines/busybox:latest r1 echo from-oci)" "run of the oci-archive import"
	C image rm localhost/engines/busybox:latest >/dev/null
	C image import "$ENGINES_CACHE/busybox-$BUSYBOX_IMAGE_TAG.docker.tar" >/dev/null
	assert_eq from-docker "$(CR --rm localhost/engines/busybox:latest r2 echo from-docker)" "run of the docker-archive import"
	C image rm localhost/engines/busybox:latest >/dev/null
}

check_debian_run() {
	have_debian || skip "no Debian image ($(cat "$ENGINES_CACHE/debian.unavailable" 2>/dev/null))"
	local out
	out=$(CR --rm "$DEB" r1 bash -c 'cat /etc/debian_version; getent passwd nobody | cut -d: -f1')
	echo "$out"
	assert_match "^12\." "$out" "debian_version"
	assert_eq nobody "$(tail -1 <<<"$out")" "getent"
}

echo "# containerd: $("$CONTAINERD" --version), runtime $RUNTIME"
for c in run-rm exit-code missing-entrypoint noexec stdout-stderr stdin tty env-cwd image-user \
	exec exec-tty signal kill pause-resume ps metrics limits privileged caps seccomp mounts device \
	net-host net-default parallel-20 import-archives debian-run; do
	check "$c"
done
tap_plan
