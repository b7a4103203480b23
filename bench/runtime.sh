#!/usr/bin/env bash
# Container lifecycle benchmarks: berth side by side with runc and crun, in one run,
# on the same busybox bundle (built here from /bin/busybox, terminal false, /bin/true).
#
# Usage: bench/runtime.sh            (normally through `make bench`)
#
# Environment:
#   BERTH, RUNC, CRUN   runtime binaries (default target/release/berth, runc, crun from PATH)
#   BENCH_DIR           scratch dir (default /tmp/berth-bench; a --root per runtime lives here)
#   BENCH_RUNS          hyperfine runs of `run` (default 50, warmup 5)
#   BENCH_PHASE_RUNS    iterations of create/start/delete (default 50)
#   BENCH_SEQ           sequential containers (default 100)
#   BENCH_RSS_RUNS      runs under /usr/bin/time for the peak RSS (default 20)
#   BENCH_PY_RUNS       rounds of bench/interleaved.py for run, create and exec (default 200)
#   BENCH_UPDATE        when 1 (the default), rewrite the runtime section of BENCHMARKS.md
#   BERTH_BASE          optional second berth binary (e.g. main's release build), measured in
#                       the same run beside the others, with a berth/base column
#
# Measurements only: nothing here asserts on timings.
#
# crun 1.8.1 refuses to start on a hybrid host whose cgroup2 hierarchy has controllers
# enabled ("cgroups in hybrid mode not supported"). When that is the case the script re-runs
# itself in a private mount namespace with /sys/fs/cgroup/unified unmounted, so all three
# runtimes see the same (pure cgroup v1) view; the host's mounts are not touched.
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

# shellcheck source=bench/lib/private-cgroup-view.sh
. "$here/lib/private-cgroup-view.sh"

BERTH=${BERTH:-$repo/target/release/berth}
RUNC=${RUNC:-$(command -v runc || true)}
CRUN=${CRUN:-$(command -v crun || true)}
BENCH_DIR=${BENCH_DIR:-/tmp/berth-bench}
BENCH_RUNS=${BENCH_RUNS:-50}
BENCH_PHASE_RUNS=${BENCH_PHASE_RUNS:-50}
BENCH_SEQ=${BENCH_SEQ:-100}
BENCH_RSS_RUNS=${BENCH_RSS_RUNS:-20}
BENCH_PY_RUNS=${BENCH_PY_RUNS:-200}
BENCH_UPDATE=${BENCH_UPDATE:-1}

die() {
	echo "bench/runtime.sh: $*" >&2
	exit 1
}

for tool in hyperfine jq /usr/bin/time /bin/busybox; do
	command -v "$tool" >/dev/null || die "$tool is missing (make deps)"
done
[ -x "$BERTH" ] || die "$BERTH is missing: run 'make release'"
[ -x "$RUNC" ] || die "runc is missing (apt-get install runc)"
[ -x "$CRUN" ] || die "crun is missing (apt-get install crun)"

names=(berth runc crun)
declare -A bin=([berth]=$BERTH [runc]=$RUNC [crun]=$CRUN)
BERTH_BASE=${BERTH_BASE:-}
if [ -n "$BERTH_BASE" ]; then
	[ -x "$BERTH_BASE" ] || die "BERTH_BASE=$BERTH_BASE is not executable"
	names+=(base)
	bin[base]=$BERTH_BASE
fi

# --- bundle ---------------------------------------------------------------
rm -rf "$BENCH_DIR"
bundle=$BENCH_DIR/bundle
mkdir -p "$bundle/rootfs/bin" "$bundle/rootfs"/{dev,proc,sys,tmp,etc}
cp /bin/busybox "$bundle/rootfs/bin/busybox"
for applet in sh true sleep; do ln -s busybox "$bundle/rootfs/bin/$applet"; done
# runc's default spec is the common reference; only terminal and args change.
(cd "$bundle" && "$RUNC" spec)
jq '.process.terminal = false | .process.args = ["/bin/true"]' "$bundle/config.json" >"$bundle/config.json.new"
mv "$bundle/config.json.new" "$bundle/config.json"

rt() { # rt NAME ARGS...: the runtime with its own --root
	"${bin[$1]}" --root "$BENCH_DIR/root-$1" "${@:2}"
}

stats() { # stdin: one value per line, $1 = divisor -> "mean median min max"
	sort -n | awk -v d="${1:-1}" '{v[NR]=$1/d; s+=$1/d} END {
		if (NR == 0) { print "nan nan nan nan"; exit }
		m = (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2
		printf "%.2f %.2f %.2f %.2f\n", s/NR, m, v[1], v[NR] }'
}

wait_stopped() { # poll (not timed) until the container's init has exited
	local i
	for ((i = 0; i < 2000; i++)); do
		[ "$(rt "$1" state "$2" 2>/dev/null | jq -r .status)" = stopped ] && return 0
		sleep 0.005
	done
	die "$1: container $2 did not stop"
}

# Sanity: every runtime can run the bundle and leaves nothing behind.
for n in "${names[@]}"; do
	rt "$n" run -b "$bundle" "sanity-$n" </dev/null >/dev/null || die "$n cannot run the bench bundle"
	[ -z "$(rt "$n" list -q 2>/dev/null)" ] || die "$n: foreground run left a container behind"
done

declare -A res
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# --- 1. run /bin/true (hyperfine) -------------------------------------------
# A foreground `run` deletes the container when it exits for all three runtimes
# (runc/berth/crun keep it only with --keep), so `run ID` alone is the full cycle.
# hyperfine runs without a shell (-N: its shell-startup correction is unreliable below
# 5 ms), so the id is fixed per runtime; since every run removes its state on exit, each
# run starts from a clean --root, and a leftover would make the next run (and hyperfine) fail.
# The interleaved loop below uses a fresh id per run.
hf_args=()
for n in "${names[@]}"; do
	hf_args+=(-n "$n" "${bin[$n]} --root $BENCH_DIR/root-$n run -b $bundle hf-$n")
done
hyperfine -N --style basic --warmup 5 --runs "$BENCH_RUNS" \
	--export-json "$BENCH_DIR/run.json" "${hf_args[@]}"
hf() { # hf NAME FIELD -> milliseconds, 2 decimals
	jq -r --arg n "$1" ".results[] | select(.command == \$n) | .$2 * 1000" "$BENCH_DIR/run.json" |
		awk '{printf "%.2f", $1}'
}
for n in "${names[@]}"; do
	res[run_mean_$n]=$(hf "$n" mean)
	res[run_median_$n]=$(hf "$n" median)
	res[run_sd_$n]=$(hf "$n" stddev)
	res[run_min_$n]=$(hf "$n" min)
	res[run_cpu_$n]=$(awk -v u="$(hf "$n" user)" -v s="$(hf "$n" system)" 'BEGIN {printf "%.2f", u + s}')
done

# --- 2. run, create, start, delete with a fresh id each time -----------------
# Rounds are interleaved (berth, runc, crun, berth, ...) so a burst of load on the
# machine hits all three alike. Clock: bash's $EPOCHREALTIME (no fork); each figure
# includes bash's fork+exec of the runtime, the same for all three.
for n in "${names[@]}"; do
	for phase in run create start delete; do : >"$BENCH_DIR/$phase-$n"; done
done
for ((i = -3; i < BENCH_PHASE_RUNS; i++)); do # 3 warmup rounds
	for n in "${names[@]}"; do
		id="phase-$n-$i"
		t0=${EPOCHREALTIME/./}
		rt "$n" run -b "$bundle" "run-$id" </dev/null >/dev/null
		t1=${EPOCHREALTIME/./}
		rt "$n" create -b "$bundle" "$id" </dev/null >/dev/null 2>&1
		t2=${EPOCHREALTIME/./}
		rt "$n" start "$id"
		t3=${EPOCHREALTIME/./}
		wait_stopped "$n" "$id"
		t4=${EPOCHREALTIME/./}
		rt "$n" delete "$id"
		t5=${EPOCHREALTIME/./}
		if ((i >= 0)); then # microseconds
			echo $((t1 - t0)) >>"$BENCH_DIR/run-$n"
			echo $((t2 - t1)) >>"$BENCH_DIR/create-$n"
			echo $((t3 - t2)) >>"$BENCH_DIR/start-$n"
			echo $((t5 - t4)) >>"$BENCH_DIR/delete-$n"
		fi
	done
done
for n in "${names[@]}"; do
	for phase in run create start delete; do
		read -r mean median _min _max < <(stats 1000 <"$BENCH_DIR/$phase-$n")
		res[loop${phase}_mean_$n]=$mean
		res[loop${phase}_median_$n]=$median
	done
done

# --- 2b. exec /bin/true into a running container -----------------------------
# One long-lived container per runtime (same bundle, args [sleep 1000]); rounds of
# `exec ID /bin/true` interleaved between the runtimes, timed like section 2.
sleeper=$BENCH_DIR/sleeper
mkdir -p "$sleeper"
jq --arg root "$bundle/rootfs" '.process.args = ["/bin/sleep", "1000"] | .root.path = $root' \
	"$bundle/config.json" >"$sleeper/config.json"
stop_sleepers() {
	local n
	for n in "${names[@]}"; do rt "$n" delete -f "exec-$n" >/dev/null 2>&1 || true; done
}
trap stop_sleepers EXIT
for n in "${names[@]}"; do
	: >"$BENCH_DIR/exec-$n"
	rt "$n" run -d -b "$sleeper" "exec-$n" </dev/null >/dev/null 2>&1 || die "$n cannot start the exec container"
done
for ((i = -3; i < BENCH_PHASE_RUNS; i++)); do # 3 warmup rounds
	for n in "${names[@]}"; do
		t0=${EPOCHREALTIME/./}
		rt "$n" exec "exec-$n" /bin/true </dev/null >/dev/null || die "$n: exec failed"
		t1=${EPOCHREALTIME/./}
		((i >= 0)) && echo $((t1 - t0)) >>"$BENCH_DIR/exec-$n"
	done
done
stop_sleepers
trap - EXIT
for n in "${names[@]}"; do
	read -r mean median _min _max < <(stats 1000 <"$BENCH_DIR/exec-$n")
	res[exec_mean_$n]=$mean
	res[exec_median_$n]=$median
done

# --- 2c. the same three, spawned from Python --------------------------------
# bench/interleaved.py: rounds interleaved (order shuffled every round), each call
# started with posix_spawn (no bash fork in the figure) and timed around the call.
py_bins=()
for n in "${names[@]}"; do py_bins+=("${bin[$n]}"); done
for mode in run create exec; do
	k=0
	while read -r _name _mode _m median _p p25 _rest; do
		res[py${mode}_median_${names[$k]}]=$median
		res[py${mode}_p25_${names[$k]}]=$p25
		k=$((k + 1))
	done < <(python3 "$here/interleaved.py" "$mode" "$BENCH_PY_RUNS" "$bundle" "${py_bins[@]}")
done

# --- 3. 100 sequential containers (run /bin/true one after another) --------
# Timed in blocks of 10 back-to-back runs, blocks interleaved between the runtimes
# (so a burst of other load hits all three); the total is the sum of the blocks.
declare -A seq_us
for n in "${names[@]}"; do seq_us[$n]=0; done
for ((b = 0; b < BENCH_SEQ; b += 10)); do
	for n in "${names[@]}"; do
		t0=${EPOCHREALTIME/./}
		for ((i = b; i < b + 10 && i < BENCH_SEQ; i++)); do
			rt "$n" run -b "$bundle" "seq-$n-$i" </dev/null >/dev/null
		done
		t1=${EPOCHREALTIME/./}
		seq_us[$n]=$((seq_us[$n] + t1 - t0))
	done
done
for n in "${names[@]}"; do
	res[seq_$n]=$(awk -v d="${seq_us[$n]}" 'BEGIN {printf "%.3f", d / 1e6}')
done

# --- 4. peak RSS during `run` -----------------------------------------------
# /usr/bin/time's %M is ru_maxrss from wait4: the largest RSS of the runtime process and
# the descendants it reaped (runc's `runc init` re-exec included; the container's
# /bin/true is a static busybox, far below every runtime).
for n in "${names[@]}"; do
	: >"$BENCH_DIR/rss-$n"
	for ((i = 0; i < BENCH_RSS_RUNS; i++)); do
		/usr/bin/time -f %M -a -o "$BENCH_DIR/rss-$n" \
			"${bin[$n]}" --root "$BENCH_DIR/root-$n" run -b "$bundle" "rss-$n-$i" </dev/null >/dev/null
	done
	read -r _mean median _min max < <(stats <"$BENCH_DIR/rss-$n")
	res[rss_median_$n]=$(awk -v k="$median" 'BEGIN {printf "%.1f", k / 1024}')
	res[rss_max_$n]=$(awk -v k="$max" 'BEGIN {printf "%.1f", k / 1024}')
done

# --- 5. binary size ---------------------------------------------------------
linkage() {
	if file -L "$1" | grep -q 'dynamically linked'; then
		echo "dynamic ($(ldd "$1" | awk '/=>/ {print $1}' | sed 's/\.so.*//' | paste -sd, -))"
	else
		echo static
	fi
}
for n in "${names[@]}"; do
	res[size_$n]=$(stat -L -c %s "${bin[$n]}")
	res[link_$n]=$(linkage "${bin[$n]}")
done

# --- report -----------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
row() { # row LABEL KEY UNIT
	local b=${res[$2_berth]} r=${res[$2_runc]} c=${res[$2_crun]}
	if [ -n "$BERTH_BASE" ]; then
		local m=${res[$2_base]}
		printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$b" "$m" "$r" "$c" \
			"$(ratio "$b" "$m")" "$(ratio "$b" "$r")" "$(ratio "$b" "$c")"
		return
	fi
	printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$b" "$r" "$c" "$(ratio "$b" "$r")" "$(ratio "$b" "$c")"
}
mib() { awk -v b="$1" 'BEGIN {printf "%.2f", b / 1048576}'; }
for n in "${names[@]}"; do res[sizemib_$n]=$(mib "${res[size_$n]}"); done

kernel=$(uname -r)
cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
ncpu=$(nproc)
mem=$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
# shellcheck disable=SC1091
os=$(. /etc/os-release && echo "$PRETTY_NAME")
if [ -n "${BERTH_BENCH_PRIVATE_NS:-}" ]; then
	cgview="cgroup v1 hybrid host; benchmarks ran in a private mount namespace with $unified unmounted (crun 1.8.1 refuses hybrid mode when cgroup2 has controllers)"
else
	cgview="$(stat -f -c %T /sys/fs/cgroup)"
fi

out=$BENCH_DIR/runtime.md
{
	echo "<!-- runtime:begin (generated by bench/runtime.sh; do not edit by hand) -->"
	echo "## Container lifecycle: berth vs runc vs crun"
	echo
	echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "- Machine: $ncpu cores ($cpu), $mem RAM, $os, kernel $kernel"
	echo "- cgroups: $cgview"
	echo "- Load average (1/5/15 min) at start: $load_start; at end: $(cut -d' ' -f1-3 /proc/loadavg) (other jobs share the machine: compare ratios within one run; CPU user+sys is the least load-sensitive row)"
	echo "- $("$BERTH" --version 2>/dev/null | head -1) ($(cd "$repo" && git rev-parse --short HEAD 2>/dev/null || echo '?')); $("$RUNC" --version | head -1); $("$CRUN" --version | head -1)"
	echo "- Bundle: busybox-static rootfs, runc's default spec with terminal false and args [/bin/true]; one --root per runtime under $BENCH_DIR"
	echo "- Reproduce: \`make bench\` (or \`bench/runtime.sh\` after \`make release\`)"
	echo
	if [ -n "$BERTH_BASE" ]; then
		echo "- Base: $BERTH_BASE ($("$BERTH_BASE" --version 2>/dev/null | sed -n 's/^commit: //p'))"
		echo
		echo "| metric | berth | base | runc | crun | berth/base | berth/runc | berth/crun |"
		echo "|---|---|---|---|---|---|---|---|"
	else
		echo "| metric | berth | runc | crun | berth/runc | berth/crun |"
		echo "|---|---|---|---|---|---|"
	fi
	row "run /bin/true, mean ms (hyperfine -N, $BENCH_RUNS runs)" run_mean
	row "run /bin/true, median ms (hyperfine)" run_median
	row "run /bin/true, min ms (hyperfine; least disturbed by other load)" run_min
	row "run /bin/true, stddev ms (hyperfine)" run_sd
	row "run /bin/true, CPU user+sys ms (hyperfine)" run_cpu
	row "run /bin/true, median ms (interleaved loop, $BENCH_PHASE_RUNS runs)" looprun_median
	row "create, mean ms (interleaved loop)" loopcreate_mean
	row "create, median ms" loopcreate_median
	row "start, mean ms" loopstart_mean
	row "start, median ms" loopstart_median
	row "delete (stopped), mean ms" loopdelete_mean
	row "delete (stopped), median ms" loopdelete_median
	row "exec /bin/true in a running container, mean ms (interleaved loop)" exec_mean
	row "exec /bin/true, median ms" exec_median
	row "run /bin/true, median ms (interleaved, spawned from Python, $BENCH_PY_RUNS rounds)" pyrun_median
	row "create, median ms (interleaved, spawned from Python)" pycreate_median
	row "exec /bin/true, median ms (interleaved, spawned from Python)" pyexec_median
	row "$BENCH_SEQ sequential runs, total s" seq
	row "peak RSS during run, median MiB ($BENCH_RSS_RUNS runs)" rss_median
	row "peak RSS during run, max MiB" rss_max
	row "binary size, MiB" sizemib
	echo
	echo "Linkage: berth ${res[link_berth]};${BERTH_BASE:+ base ${res[link_base]};} runc ${res[link_runc]}; crun ${res[link_crun]}."
	echo "runc and crun load shared libraries at startup (not counted in their binary size; their pages do count in RSS)."
	echo "<!-- runtime:end -->"
} >"$out"
cat "$out"

if [ "$BENCH_UPDATE" = 1 ]; then
	md=$repo/BENCHMARKS.md
	if [ -f "$md" ] && grep -q '<!-- runtime:begin' "$md"; then
		awk -v f="$out" '
			/<!-- runtime:begin/ { while ((getline l < f) > 0) print l; skip = 1; next }
			/<!-- runtime:end -->/ { skip = 0; next }
			!skip { print }' "$md" >"$md.new"
		mv "$md.new" "$md"
	else
		{
			[ -f "$md" ] && cat "$md" && echo
			cat "$out"
		} >"$md.new"
		mv "$md.new" "$md"
	fi
	echo "updated $md"
fi
