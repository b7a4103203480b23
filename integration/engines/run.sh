#!/usr/bin/env bash
# Run the engine checks (docker.sh, podman.sh, containerd.sh) against one runtime, keep each
# engine's TAP under the results dir, print one count line per engine, and look for anything an
# engine run left behind (processes, mounts, network namespaces, cgroups).
#
# Usage: integration/engines/run.sh
# Environment (besides lib.sh's RUNTIME, ENGINES_CACHE, CHECKS):
#   ENGINES      which engines (default "docker podman containerd")
#   RESULTS_DIR  where the TAP goes (default target/engines/RUNTIME_NAME)
#   PASSES       a file of check names (ENGINE/NAME, one a line, # comments); when set, the run
#                fails only if one of those checks fails (a regression) or leaves something behind.
#                Default for berth: integration/engines/berth-passes.txt; for any other runtime
#                none, and the run fails when any check fails.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

RUNTIME=${RUNTIME:-$repo/target/release/berth}
if [[ $RUNTIME != */* ]]; then RUNTIME=$(command -v "$RUNTIME" || echo "$RUNTIME"); fi
[ -x "$RUNTIME" ] || {
	echo "engines: RUNTIME $RUNTIME is not an executable (make release builds berth)" >&2
	exit 1
}
RUNTIME=$(readlink -f "$RUNTIME")
export RUNTIME
name=$(basename "$RUNTIME")
ENGINES=${ENGINES:-docker podman containerd}
RESULTS_DIR=${RESULTS_DIR:-$repo/target/engines/$name}
if [ "$name" = berth ]; then PASSES=${PASSES-$here/berth-passes.txt}; else PASSES=${PASSES:-}; fi
mkdir -p "$RESULTS_DIR"

# What a run may leave behind, as text; compared before and after each engine.
leftovers() {
	{
		# (zombies are dead already: reaping the shims is pid 1's business)
		ps -eo stat=,args= | awk '$1 !~ /^Z/ && /\/tmp\/engines-|containerd-shi[m]|conmo[n] / { $1 = ""; print "process:" $0 }'
		awk '$5 ~ "^/tmp/engines-" || $5 ~ "^/run/netns/" || $5 ~ "^/run/containerd" { print "mount: " $5 }' /proc/self/mountinfo
		find /run/netns -mindepth 1 -printf 'netns: %f\n' 2>/dev/null
		find /sys/fs/cgroup -mindepth 1 -maxdepth 1 -printf 'cgroupfs entry: %f\n'
		for p in /run/netns /run/containerd /var/lib/cni /dev/shm/libpod_lock /etc/docker/key.json; do
			[ -e "$p" ] && echo "path: $p"
		done
		for d in /sys/fs/cgroup/*/engines-docker /sys/fs/cgroup/*/libpod_parent /sys/fs/cgroup/*/engines; do
			[ -d "$d" ] && echo "cgroup: $d"
		done
		ip -o link show | awk -F': ' '$2 ~ /^(berthdk0|berthpd0|veth)/ { print "link: " $2 }'
	} | sort
}

status=0
summary=()
for e in $ENGINES; do
	tap="$RESULTS_DIR/$e.tap"
	before=$(leftovers)
	start=$(date +%s)
	RUNTIME=$RUNTIME bash "$here/$e.sh" >"$tap" 2>"$RESULTS_DIR/$e.stderr"
	rc=$?
	secs=$(($(date +%s) - start))
	after=$(leftovers)
	left=$(comm -13 <(echo "$before") <(echo "$after"))
	pass=$(grep -E '^ok ' "$tap" | grep -cv '# SKIP')
	skipped=$(grep -cE '^ok .*# SKIP' "$tap")
	failed=$(grep -cE '^not ok ' "$tap")
	if grep -q '^Bail out!' "$tap" || ! grep -q '^1\.\.' "$tap"; then
		echo "$e: the engine script did not finish (exit $rc): $(grep '^Bail out!' "$tap" | head -1)" >&2
		tail -5 "$RESULTS_DIR/$e.stderr" >&2
		failed=$((failed + 1))
		status=1
	fi
	if [ -n "$left" ]; then
		echo "$e: left behind after the run:" >&2
		printf '  %s\n' "$left" >&2
		echo "not ok $e/nothing-left-behind" >>"$tap"
		failed=$((failed + 1))
		status=1
	fi
	line="$e with $name: $pass passed, $failed failed, $skipped skipped (${secs}s)"
	echo "$line"
	summary+=("$line")
done
printf '%s\n' "${summary[@]}" >"$RESULTS_DIR/summary.txt"

if [ -n "$PASSES" ]; then
	regressions=()
	while read -r c; do
		c=${c%%#*}
		c=${c//[[:space:]]/}
		[ -n "$c" ] || continue
		e=${c%%/*}
		[[ " $ENGINES " == *" $e "* ]] || continue
		tap="$RESULTS_DIR/$e.tap"
		if [ -n "${CHECKS:-}" ] && ! [[ ${c#*/} =~ $CHECKS ]]; then continue; fi
		grep -qE "^ok [0-9]+ $c( |$)" "$tap" || regressions+=("$c")
	done <"$PASSES"
	if [ ${#regressions[@]} -gt 0 ]; then
		echo "engines: REGRESSION: checks that $name passed before fail now (TAP in $RESULTS_DIR):" >&2
		printf '  %s\n' "${regressions[@]}" >&2
		status=1
	fi
else
	grep -qE '^not ok ' "$RESULTS_DIR"/*.tap && status=1
fi
exit $status
