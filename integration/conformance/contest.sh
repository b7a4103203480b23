#!/usr/bin/env bash
# Run youki's contest (tests/contest of youki v0.7.0) against RUNTIME (see common.sh), with
# RUNTIME_KIND=runc: contest then expects runc's behaviour (error words, exit codes).
#   contest.sh [GROUP...]        (default: every group `contest list` prints)
# One contest process per test group, each stopped after GROUP_TIMEOUT seconds.
# Writes RESULTS/contest/<group>.log and RESULTS/contest.results
# ("ok|not ok|skip <group>: <test>").
set -euo pipefail
# shellcheck source=integration/conformance/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

bin=$BUILD/contest
if [ ! -x "$bin/contest" ] || [ ! -x "$bin/runtimetest" ]; then
	conf_die "contest is not built (integration/conformance/build.sh contest)"
fi
resolve_runtime
: "${GROUP_TIMEOUT:=120}"
export RUNTIME_KIND=runc

out=$RESULTS/contest
rm -rf "$out"
mkdir -p "$out/work"
# contest unpacks ./bundle.tar.gz (its busybox bundle) for every test, and even to list them.
cp "$(extract "$YOUKI")/tests/contest/contest/bundle.tar.gz" "$out/work/bundle.tar.gz"

groups=("$@")
if [ ${#groups[@]} -eq 0 ]; then
	mapfile -t groups < <(cd "$out/work" && "$bin/contest" list 2>/dev/null | grep -v '^\s*$')
	[ ${#groups[@]} -gt 0 ] || conf_die "contest list printed no test groups"
fi
res=$RESULTS/contest.results
: >"$res"
start=$(date +%s)
for g in "${groups[@]}"; do
	log=$out/$g.log
	gstart=$(date +%s)
	rc=0
	(cd "$out/work" && timeout -k 30 "$GROUP_TIMEOUT" "$bin/contest" run --runtime "$RT_BIN" \
		--runtimetest "$bin/runtimetest" -t "$g" >"$log" 2>&1 </dev/null) || rc=$?
	# "1 / 3 : name : ok", "... : skipped" (reason on the next line), "... : not ok" (error follows).
	n=$(gawk -v group="$g" '
		/^# Start group / { cur = $4 }
		match($0, /^[0-9]+ \/ [0-9]+ : (.*) : (ok|skipped|not ok)$/, m) {
			word = m[2] == "skipped" ? "skip" : m[2]
			print word " " cur ": " m[1]; n++
		}
		END { exit n == 0 }
	' "$log" | tee -a "$res" | wc -l) || true
	if [ "$n" -eq 0 ]; then
		echo "not ok $g: (no result: contest exit status $rc$([ $rc -eq 124 ] && echo ', timed out'))" >>"$res"
	fi
	printf 'contest %-34s %4ds  %s tests\n' "$g" $(($(date +%s) - gstart)) "$n" >&2
done
# A failed test can leave a created container's init (the runtime binary, waiting to be
# started, under one of contest's /tmp/.tmpXXXX roots): stop those, they keep the binary busy.
# The init may run a sealed copy of the binary (berth's exe_seal: a detached bind mount of the
# same file, whose /proc/PID/exe reads "/"), so the file is recognised by device and inode.
rt_id=$(stat -L -c '%d:%i' "$RT_REAL")
for p in /proc/[0-9]*; do
	[ "$(stat -L -c '%d:%i' "$p/exe" 2>/dev/null)" = "$rt_id" ] || continue
	if tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q -- '--root /tmp/\.tmp'; then
		echo "contest.sh: stopping leftover ${p#/proc/}: $(tr '\0' ' ' <"$p/cmdline")" >>"$out/leftovers.log"
		kill -9 "${p#/proc/}" 2>/dev/null || true
	fi
done
read -r p fl s < <(count_results "$res")
echo "contest ($RT_NAME): $p passed, $fl failed, $s skipped ($(($(date +%s) - start)) s)" | tee "$out.summary"
