# shellcheck shell=bash
# Sourced first by the bench scripts. crun 1.8.1 refuses to start on a hybrid host whose cgroup2
# hierarchy has controllers enabled ("cgroups in hybrid mode not supported"). When that is the
# case the calling script re-runs itself in a private mount namespace with /sys/fs/cgroup/unified
# unmounted, so every runtime sees the same (pure cgroup v1) view; the host's mounts are not touched.
unified=/sys/fs/cgroup/unified
if [ -z "${BERTH_BENCH_PRIVATE_NS:-}" ] && mountpoint -q "$unified" &&
	[ -n "$(cat "$unified/cgroup.controllers" 2>/dev/null)" ]; then
	exec unshare --mount --propagation private \
		env BERTH_BENCH_PRIVATE_NS=1 "$0" "$@"
fi
if [ -n "${BERTH_BENCH_PRIVATE_NS:-}" ]; then
	umount "$unified"
fi
