# shellcheck shell=bash
# shellcheck disable=SC2016 # container command lines are single-quoted on purpose: they expand inside
# Checks shared by docker.sh and podman.sh: both CLIs take the same flags for these. Each check
# observes the result from inside the container (or from the host side the engine reports on).
# The engine script defines E (its CLI, with a timeout) and E_CMD (the same as a string for
# script(1)), ENGINE, and the engine-specific values below.
#   INIT_COMM     /proc/1/comm of a container started with --init
#   EXEC_MISSING_RC  exit code of `exec` with a missing binary
#   ULIMIT_EXTRA  one more --ulimit value the engine needs on this host with --ulimit (podman)
#   PRIVILEGED_CAPS  all: --privileged asks for every capability the kernel knows (dockerd);
#                 bounding: for the engine's own bounding set (podman)

# A container's host pid, its cgroup (v1) path for CONTROLLER.
cpid() { E inspect -f '{{.State.Pid}}' "$1"; }
cgroup_of() { # NAME CONTROLLER
	awk -F: -v c="$2" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3 }' \
		"/proc/$(cpid "$1")/cgroup"
}
need_cgroup_v1() {
	[ -d /sys/fs/cgroup/memory ] || skip "cgroup v1 controllers not mounted on this host (cgroup v2 only)"
}
# Start a long-running container named $1 (extra run flags after it).
run_bg() {
	local name=$1
	shift
	E run -d --name "$name" "$@" "$BB" sleep 100000 >/dev/null
}
inspect() { E inspect -f "$2" "$1"; }

check_run_rm() {
	local out
	out=$(E run --rm "$BB" echo hello-from-container)
	assert_eq hello-from-container "$out" "stdout of run --rm"
	assert_eq "" "$(E ps -aq)" "containers left after run --rm"
}

check_exit_code() {
	assert_eq 42 "$(rc_of E run --rm "$BB" sh -c 'exit 42')" "exit code of sh -c 'exit 42'"
	assert_eq 0 "$(rc_of E run --rm "$BB" true)" "exit code of true"
}

check_missing_entrypoint_127() {
	local rc=0 err
	err=$(E run --rm "$BB" /no/such/binary 2>&1 >/dev/null) || rc=$?
	echo "$err"
	assert_eq 127 "$rc" "exit code for a missing absolute path"
	assert_match "no such file or directory" "$err" "engine message for a missing absolute path"
	rc=0
	err=$(E run --rm "$BB" no-such-command 2>&1 >/dev/null) || rc=$?
	echo "$err"
	assert_eq 127 "$rc" "exit code for a command not in PATH"
	assert_match 'executable file not found in \$PATH' "$err" "engine message for a command not in PATH"
}

check_noexec_126() {
	local rc=0 err
	err=$(E run --rm "$BB" /noexec.sh 2>&1 >/dev/null) || rc=$?
	echo "$err"
	assert_eq 126 "$rc" "exit code for a non-executable entrypoint"
	assert_match "permission denied" "$err" "engine message for a non-executable entrypoint"
}

check_stdout_stderr() {
	E run --rm "$BB" sh -c 'echo to-stdout; echo to-stderr >&2' >"$WORK/o" 2>"$WORK/e"
	assert_eq to-stdout "$(cat "$WORK/o")" "stdout"
	# dockerd warns on stderr when the host has ip_forward=0; that line is the engine's, not ours
	assert_eq to-stderr "$(grep -v '^WARNING: IPv4 forwarding is disabled' "$WORK/e")" "stderr"
}

check_stdin_i() {
	local out
	out=$(printf 'one\ntwo\nthree\n' | E run --rm -i "$BB" sh -c 'wc -l; cat /proc/self/fd/0 >/dev/null; echo done')
	assert_eq "3
done" "$out" "lines read from stdin"
}

check_tty_it() {
	local out
	# shellcheck disable=SC2016
	out=$(script -qec "stty rows 33 cols 77; $E_CMD run --rm -it $BB sh -c '$WAIT_SIZE; tty; stty size; [ -t 0 ] && echo stdin-is-tty'" /dev/null | tr -d '\r')
	echo "$out"
	assert_match "/dev/pts/[0-9]+" "$out" "tty inside"
	assert_match "33 77" "$out" "terminal size inside"
	assert_match "stdin-is-tty" "$out" "stdin is the tty"
}

check_image_env_workdir() {
	local out
	# shellcheck disable=SC2016
	out=$(E run --rm "$BB" sh -c 'echo $IMGVAR; pwd; cat hello.txt; id -u')
	assert_eq "from-image
/srv
image-file
0" "$out" "env, workdir and user from the image"
}

check_flags_env_workdir_user() {
	local out
	# shellcheck disable=SC2016
	out=$(E run --rm -e FOO=bar -e IMGVAR=overridden -w /tmp -u 1000:3000 "$BB" sh -c 'echo $FOO $IMGVAR; pwd; id -u; id -g; echo $HOME')
	assert_eq "bar overridden
/tmp
1000
3000
/home/tester" "$out" "-e, -w, -u"
}

check_image_user_groups() {
	local out
	out=$(E run --rm "$BBU" sh -c 'pwd; cat /proc/self/status')
	assert_eq /home/tester "$(head -1 <<<"$out")" "workdir from the image"
	assert_match "^1000" "$(status_field Uid "$out")" "Uid (image User tester)"
	assert_match "^1000" "$(status_field Gid "$out")" "Gid"
	assert_match "2000" "$(status_field Groups "$out")" "Groups (tester is in group extra=2000)"
}

check_group_add() {
	local out
	out=$(E run --rm -u tester --group-add 3000 "$BB" cat /proc/self/status)
	assert_match "^1000" "$(status_field Uid "$out")" "Uid for -u tester"
	assert_match "(^| )2000( |$)" "$(status_field Groups "$out")" "Groups: 2000 from /etc/group"
	assert_match "(^| )3000( |$)" "$(status_field Groups "$out")" "Groups: 3000 from --group-add"
}

check_exec() {
	local out
	run_bg c1
	# shellcheck disable=SC2016
	out=$(E exec -u 1000 -w /tmp -e Y=why c1 sh -c 'id -u; pwd; echo $Y $IMGVAR')
	assert_eq "1000
/tmp
why from-image" "$out" "exec -u -w -e"
	out=$(E exec c1 sh -c 'cat /proc/1/cmdline | tr "\0" " "')
	assert_eq "sleep 100000 " "$out" "exec joins the container's pid namespace"
}

check_exec_exit_code() {
	local rc=0 err
	run_bg c1
	assert_eq 9 "$(rc_of E exec c1 sh -c 'exit 9')" "exit code of exec sh -c 'exit 9'"
	err=$(E exec c1 no-such-command 2>&1) || rc=$?
	echo "$err"
	assert_eq "$EXEC_MISSING_RC" "$rc" "exit code of exec of a missing command"
	assert_match 'executable file not found in \$PATH' "$err" "message of exec of a missing command"
	rc=0
	err=$(E exec c1 /noexec.sh 2>&1) || rc=$?
	echo "$err"
	assert_eq 126 "$rc" "exit code of exec of a non-executable file"
	assert_match "permission denied" "$err" "message of exec of a non-executable file"
}

check_exec_tty() {
	local out
	run_bg c1
	out=$(script -qec "stty rows 21 cols 61; $E_CMD exec -it c1 sh -c '$WAIT_SIZE; tty; stty size'" /dev/null | tr -d '\r')
	echo "$out"
	assert_match "/dev/pts/[0-9]+" "$out" "tty in exec -it"
	assert_match "21 61" "$out" "terminal size in exec -it"
}

check_exec_stdin() {
	run_bg c1
	assert_eq "via-stdin" "$(echo via-stdin | E exec -i c1 cat)" "exec -i stdin"
}

check_signal() {
	E run -d --name c1 "$BB" sh -c 'trap "echo got-usr1; exit 7" USR1; echo ready; while :; do sleep 0.1; done' >/dev/null
	wait_until 100 sh -c "$E_CMD logs c1 | grep -q ready" || fail "container never printed ready"
	E kill -s USR1 c1 >/dev/null
	assert_eq 7 "$(E wait c1)" "exit code after the USR1 trap"
	assert_match "got-usr1" "$(E logs c1)" "trap output"
}

check_stop_timeout() {
	# sleep as pid 1 has no TERM handler: the kernel drops TERM, stop must KILL after the timeout.
	run_bg c1
	E stop -t 1 c1 >/dev/null
	assert_eq 137 "$(inspect c1 '{{.State.ExitCode}}')" "exit code after stop of a TERM-ignoring pid 1"
	E run -d --name c2 "$BB" sh -c 'trap "exit 0" TERM; while :; do sleep 0.1; done' >/dev/null
	E stop -t 60 c2 >/dev/null
	assert_eq 0 "$(inspect c2 '{{.State.ExitCode}}')" "exit code after stop of a TERM-handling pid 1"
}

check_kill() {
	run_bg c1
	E kill c1 >/dev/null
	wait_until 100 sh -c "[ \"\$($E_CMD inspect -f '{{.State.Running}}' c1)\" = false ]" || fail "still running after kill"
	assert_eq 137 "$(inspect c1 '{{.State.ExitCode}}')" "exit code after kill"
}

check_pause_unpause() {
	need_cgroup_v1
	local cg
	run_bg c1
	cg=$(cgroup_of c1 freezer)
	E pause c1 >/dev/null
	assert_eq paused "$(inspect c1 '{{.State.Status}}')" "engine state after pause"
	assert_eq FROZEN "$(cat "/sys/fs/cgroup/freezer$cg/freezer.state")" "freezer.state after pause"
	E unpause c1 >/dev/null
	assert_eq running "$(inspect c1 '{{.State.Status}}')" "engine state after unpause"
	assert_eq THAWED "$(cat "/sys/fs/cgroup/freezer$cg/freezer.state")" "freezer.state after unpause"
	assert_eq alive "$(E exec c1 echo alive)" "exec after unpause"
}

check_top() {
	local out
	run_bg c1
	out=$(E top c1)
	echo "$out"
	assert_match "sleep 100000" "$out" "top lists the container's process"
}

check_stats() {
	local out
	run_bg c1 --memory 64m
	out=$(E stats --no-stream --format '{{.MemUsage}}' c1)
	echo "$out"
	assert_match '^[0-9.]+[kKMG]i?B / (64MiB|67.11MB)' "$out" "memory usage and limit"
	assert_nomatch '^0B' "$out" "memory usage is not zero"
}

check_update() {
	need_cgroup_v1
	run_bg c1 --memory 64m --memory-swap 128m --cpu-shares 512
	E update --memory 96m --memory-swap 192m --cpu-shares 768 c1 >/dev/null
	assert_eq 100663296 "$(E exec c1 cat /sys/fs/cgroup/memory/memory.limit_in_bytes)" "memory limit after update"
	assert_eq 768 "$(E exec c1 cat /sys/fs/cgroup/cpu/cpu.shares)" "cpu shares after update"
}

check_memory_limit() {
	need_cgroup_v1
	assert_eq 67108864 "$(E run --rm --memory 64m "$BB" cat /sys/fs/cgroup/memory/memory.limit_in_bytes)" \
		"memory.limit_in_bytes for --memory 64m"
}

check_pids_limit() {
	need_cgroup_v1
	assert_eq 33 "$(E run --rm --pids-limit 33 "$BB" cat /sys/fs/cgroup/pids/pids.max)" "pids.max for --pids-limit 33"
}

check_cpu_limits() {
	need_cgroup_v1
	assert_eq "50000 100000 512" \
		"$(E run --rm --cpus 0.5 --cpu-shares 512 "$BB" sh -c 'cd /sys/fs/cgroup/cpu && echo $(cat cpu.cfs_quota_us cpu.cfs_period_us cpu.shares)')" \
		"cfs quota, period and shares for --cpus 0.5 --cpu-shares 512"
}

check_cpuset() {
	need_cgroup_v1
	[ "$(nproc)" -ge 2 ] || skip "needs 2 CPUs"
	local out
	out=$(E run --rm --cpuset-cpus 1 "$BB" sh -c 'cat /sys/fs/cgroup/cpuset/cpuset.cpus; cat /proc/self/status')
	assert_eq 1 "$(head -1 <<<"$out")" "cpuset.cpus"
	assert_eq 1 "$(status_field Cpus_allowed_list "$out")" "Cpus_allowed_list"
}

check_read_only() {
	local out
	out=$(E run --rm --read-only "$BB" sh -c 'touch /x 2>&1 || echo touch-failed; awk "\$2 == \"/\" { print \$4 }" /proc/mounts')
	echo "$out"
	assert_match "Read-only file system" "$out" "touch / fails with EROFS"
	assert_match "(^|
)ro," "$out" "/ is mounted ro"
}

check_tmpfs() {
	local out
	out=$(E run --rm --tmpfs /scratch:rw,size=1m,mode=1777 "$BB" sh -c 'echo x >/scratch/f && cat /scratch/f; grep " /scratch " /proc/mounts')
	echo "$out"
	assert_match "^x" "$out" "write to the tmpfs"
	assert_match "tmpfs /scratch tmpfs rw,.*size=1024k" "$out" "the tmpfs mount"
}

check_read_only_tmpfs() {
	local out
	out=$(E run --rm --read-only --tmpfs /scratch "$BB" sh -c 'echo x >/scratch/f && cat /scratch/f; touch /y 2>&1 || true')
	echo "$out"
	assert_match "^x" "$out" "write to the tmpfs of a read-only container"
	assert_match "Read-only file system" "$out" "rootfs stays read-only"
}

check_bind_mounts() {
	mkdir -p "$WORK/host/rw" "$WORK/host/ro"
	echo from-host >"$WORK/host/ro/f"
	local out
	out=$(E run --rm -v "$WORK/host/rw:/rw" -v "$WORK/host/ro:/ro:ro" "$BB" \
		sh -c 'echo from-container >/rw/g; cat /ro/f; touch /ro/x 2>&1 || true')
	echo "$out"
	assert_eq from-container "$(cat "$WORK/host/rw/g")" "file written through the rw bind mount"
	assert_match "from-host" "$out" "file read through the ro bind mount"
	assert_match "Read-only file system" "$out" "write to the ro bind mount fails"
	[ ! -e "$WORK/host/ro/x" ] || fail "file created through the ro bind mount"
}

check_named_volume() {
	E volume create enginesvol >/dev/null
	E run --rm -v enginesvol:/vol "$BB" sh -c 'echo kept >/vol/f'
	assert_eq kept "$(E run --rm -v enginesvol:/vol "$BB" cat /vol/f)" "data in the named volume"
	E volume rm enginesvol >/dev/null
}

check_device() {
	local out
	out=$(E run --rm --device /dev/zero:/dev/xzero "$BB" sh -c 'ls -l /dev/xzero; head -c 4 /dev/xzero | od -An -tx1')
	echo "$out"
	assert_match "^c.* 1, +5 " "$out" "/dev/xzero is char 1,5"
	assert_match "00 00 00 00" "$out" "reading the device"
}

check_privileged() {
	local out full
	full=$(printf '%016x' $(((1 << ($(cat /proc/sys/kernel/cap_last_cap) + 1)) - 1)))
	if [ "$PRIVILEGED_CAPS" = all ] && [ "$(host_cap_bnd)" != "$full" ]; then
		skip "$ENGINE gives --privileged every capability the kernel knows ($full) but this host's bounding set is $(host_cap_bnd): the runtime cannot raise them"
	fi
	out=$(E run --rm --privileged "$BB" sh -c 'cat /proc/self/status; grep " /sys " /proc/mounts')
	assert_eq "$(host_cap_bnd)" "$(status_field CapEff "$out")" "CapEff = the host's full set"
	assert_eq 0 "$(status_field Seccomp "$out")" "no seccomp filter"
	assert_match "sysfs /sys sysfs rw," "$out" "/sys is writable"
}

check_cap_add_drop() {
	local out
	out=$(E run --rm --cap-drop ALL --cap-add NET_ADMIN --cap-add CHOWN "$BB" cat /proc/self/status)
	assert_eq 0000000000001001 "$(status_field CapEff "$out")" "CapEff for --cap-drop ALL --cap-add NET_ADMIN,CHOWN"
	assert_eq 0000000000001001 "$(status_field CapBnd "$out")" "CapBnd"
	out=$(E run --rm --cap-drop CHOWN "$BB" cat /proc/self/status)
	local eff=$((16#$(status_field CapEff "$out")))
	[ $((eff & 1)) -eq 0 ] || fail "CAP_CHOWN still in CapEff after --cap-drop CHOWN"
	[ $((eff & 32)) -ne 0 ] || fail "CAP_KILL missing from the default set"
}

check_no_new_privileges() {
	assert_eq 1 "$(status_field NoNewPrivs "$(E run --rm --security-opt no-new-privileges "$BB" cat /proc/self/status)")" \
		"NoNewPrivs with --security-opt no-new-privileges"
}

check_seccomp_default() {
	local out
	out=$(E run --rm "$BB" cat /proc/self/status)
	assert_eq 2 "$(status_field Seccomp "$out")" "Seccomp mode with the engine's default profile"
	assert_match "^[1-9]" "$(status_field Seccomp_filters "$out")" "filters loaded"
}

check_init() {
	local out
	# shellcheck disable=SC2016
	out=$(E run --rm --init "$BB" sh -c 'cat /proc/1/comm; echo $$')
	echo "$out"
	assert_eq "$INIT_COMM" "$(head -1 <<<"$out")" "pid 1 with --init"
	[ "$(tail -1 <<<"$out")" != 1 ] || fail "the command is pid 1 despite --init"
}

check_net_bridge() {
	local out gw
	out=$(E run --rm "$BB" sh -c 'ip -4 -o addr show; ip route; readlink /proc/self/ns/net')
	echo "$out"
	assert_match "eth0 +inet [0-9.]+/" "$out" "eth0 has an address"
	[ "$(tail -1 <<<"$out")" != "$(readlink /proc/self/ns/net)" ] || fail "container shares the host netns"
	gw=$(awk '$1 == "default" { print $3 }' <<<"$out")
	[ -n "$gw" ] || fail "no default route"
	E run --rm "$BB" ping -c 1 -W 5 "$gw"
}

check_net_host() {
	assert_eq "$(readlink /proc/self/ns/net)" "$(E run --rm --network host "$BB" readlink /proc/self/ns/net)" \
		"netns with --network host"
}

check_net_none() {
	assert_eq lo "$(E run --rm --network none "$BB" ls /sys/class/net)" "interfaces with --network none"
}

check_add_host() {
	assert_match "10\.9\.8\.7[[:space:]]+foo\.example" \
		"$(E run --rm --add-host foo.example:10.9.8.7 "$BB" cat /etc/hosts)" "/etc/hosts entry"
}

check_sysctl() {
	assert_eq "1234 1" "$(E run --rm --sysctl net.core.somaxconn=1234 --sysctl kernel.shm_rmid_forced=1 "$BB" \
		sh -c 'echo $(cat /proc/sys/net/core/somaxconn /proc/sys/kernel/shm_rmid_forced)')" "sysctls inside"
}

check_restart() {
	E run -d --name c1 --restart on-failure:2 "$BB" sh -c 'echo run; exit 3' >/dev/null
	wait_until 600 sh -c "[ \"\$($E_CMD inspect -f '{{.RestartCount}} {{.State.Running}}' c1)\" = '2 false' ]" ||
		fail "restart count: $(inspect c1 '{{.RestartCount}} {{.State.Running}} {{.State.ExitCode}}')"
	assert_eq 3 "$(inspect c1 '{{.State.ExitCode}}')" "exit code of the last run"
	assert_eq 3 "$(E logs c1 | grep -c run)" "runs seen in the log"
}

check_ulimit() {
	assert_match "Max open files +1234 +2345 " \
		"$(E run --rm --ulimit nofile=1234:2345 ${ULIMIT_EXTRA:+--ulimit "$ULIMIT_EXTRA"} "$BB" cat /proc/self/limits)" "RLIMIT_NOFILE"
}

check_shm_size() {
	assert_match "size=7168k" "$(E run --rm --shm-size 7m "$BB" grep ' /dev/shm ' /proc/mounts)" "/dev/shm size"
}

check_oom_kill_disable() {
	need_cgroup_v1
	[ -f "/sys/fs/cgroup/memory/memory.oom_control" ] || skip "no memory.oom_control"
	assert_match "oom_kill_disable 1" \
		"$(E run --rm --memory 64m --oom-kill-disable "$BB" cat /sys/fs/cgroup/memory/memory.oom_control)" \
		"memory.oom_control"
}

check_logs() {
	E run -d --name c1 "$BB" sh -c 'echo to-out; echo to-err >&2' >/dev/null
	E wait c1 >/dev/null
	E logs c1 >"$WORK/o" 2>"$WORK/e"
	assert_eq to-out "$(cat "$WORK/o")" "logs stdout"
	assert_eq to-err "$(cat "$WORK/e")" "logs stderr"
}

check_cp() {
	run_bg c1
	echo into-container >"$WORK/host/in.txt"
	E cp "$WORK/host/in.txt" c1:/tmp/in.txt
	assert_eq into-container "$(E exec c1 cat /tmp/in.txt)" "file copied in"
	E exec c1 sh -c 'echo out-of-container >/tmp/out.txt'
	E cp c1:/tmp/out.txt "$WORK/host/out.txt"
	assert_eq out-of-container "$(cat "$WORK/host/out.txt")" "file copied out"
}

check_parallel_20() {
	local i pids=() bad=0
	for i in $(seq 1 20); do
		E run -d --name "par$i" "$BB" sleep 100000 >/dev/null &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" || bad=$((bad + 1)); done
	assert_eq 0 "$bad" "failed starts"
	assert_eq 20 "$(E ps -q | wc -l)" "running containers"
	pids=()
	for i in $(seq 1 20); do
		E rm -f "par$i" >/dev/null &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" || bad=$((bad + 1)); done
	assert_eq 0 "$bad" "failed removals"
	assert_eq 0 "$(E ps -aq | wc -l)" "containers left"
}

check_debian_run() {
	have_debian || skip "no Debian image ($(cat "$ENGINES_CACHE/debian.unavailable" 2>/dev/null))"
	local out
	out=$(E run --rm "$DEB" bash -c 'cat /etc/debian_version; id -un; getent passwd nobody | cut -d: -f1; ls -l /usr/bin/apt-get | cut -c1')
	echo "$out"
	assert_match "^12\." "$out" "debian_version"
	assert_eq "root
nobody
-" "$(tail -3 <<<"$out")" "user, getent, apt-get"
}

check_debian_exec() {
	have_debian || skip "no Debian image"
	E run -d --name d1 "$DEB" sleep 100000 >/dev/null
	assert_eq nobody "$(E exec -u nobody d1 whoami)" "exec -u nobody in Debian"
	assert_eq 3 "$(rc_of E exec d1 bash -c 'exit 3')" "exec exit code in Debian"
}

check_load_docker_archive() {
	local out
	out=$(E load -i "$ENGINES_CACHE/busybox-$BUSYBOX_IMAGE_TAG.docker.tar")
	echo "$out"
	assert_eq from-archive "$(E run --rm localhost/engines/busybox:latest echo from-archive)" "run of the loaded image"
	E rmi localhost/engines/busybox:latest >/dev/null
}

run_cli_checks() {
	local c
	for c in run-rm exit-code missing-entrypoint-127 noexec-126 stdout-stderr stdin-i tty-it \
		image-env-workdir flags-env-workdir-user image-user-groups group-add \
		exec exec-exit-code exec-tty exec-stdin signal stop-timeout kill pause-unpause top stats update \
		memory-limit pids-limit cpu-limits cpuset read-only tmpfs read-only-tmpfs bind-mounts named-volume \
		device privileged cap-add-drop no-new-privileges seccomp-default init \
		net-bridge net-host net-none add-host sysctl restart ulimit shm-size oom-kill-disable logs cp \
		parallel-20 debian-run debian-exec load-docker-archive; do
		check "$c"
	done
}
