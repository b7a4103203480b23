#!/usr/bin/env bash
# `make conformance`: build and run the conformance suites against one runtime and check
# berth's results against the tests it is known to pass.
#
#   RUNTIME=berth|runc|PATH   runtime under test (default berth = target/release/berth;
#                             runc = the installed runc, the control)
#   SUITES="runc-v1.1 runc-v1.5 contest validation"   which suites (default: all four for
#                             berth; for the installed runc, whose version is 1.1, all but runc-v1.5)
#   BATS_FILES, CONTEST_GROUPS, VALIDATION_PROGS   narrow a suite (default: all of it)
#   CMD_TIMEOUT (one runtime call, 60 s), TEST_TIMEOUT (bats, none), GROUP_TIMEOUT (contest, 120 s), PROG_TIMEOUT (validation, 120 s)
#   UPDATE_PASSES=1           rewrite berth-passes/<suite>.txt from this run's passes
#
# Results: target/conformance/results/<runtime>/ (TAP, logs, <suite>.results, summary.txt).
# Exit status: non-zero only when, for berth, a test listed in berth-passes/<suite>.txt failed
# or did not run (each one is named), or a suite could not be built or run to its end.
set -euo pipefail
# shellcheck source=integration/conformance/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

resolve_runtime
if [ -z "${SUITES:-}" ]; then
	SUITES="runc-v1.1 runc-v1.5 contest validation"
	[ "$RT_NAME" = berth ] || SUITES="runc-v1.1 contest validation"
fi

# shellcheck disable=SC2086
"$conf_here/build.sh" images $SUITES

summary=$RESULTS/summary.txt
{
	echo "# $(date -u '+%Y-%m-%d %H:%M UTC') $RT_NAME ($RT_REAL: $("$RT_REAL" --version 2>&1 | head -n 1))"
	echo "# host: $(uname -r), $(nproc) CPUs, cgroup $(stat -fc %T /sys/fs/cgroup)"
} >"$summary"
failed_to_run=()
for s in $SUITES; do
	filtered=0
	rc=0
	case $s in
	runc-v1.1 | runc-v1.5)
		[ -n "${BATS_FILES:-}" ] && filtered=1
		# shellcheck disable=SC2086
		"$conf_here/bats.sh" "$s" ${BATS_FILES:-} || rc=$?
		;;
	contest)
		[ -n "${CONTEST_GROUPS:-}" ] && filtered=1
		# shellcheck disable=SC2086
		"$conf_here/contest.sh" ${CONTEST_GROUPS:-} || rc=$?
		;;
	validation)
		[ -n "${VALIDATION_PROGS:-}" ] && filtered=1
		# shellcheck disable=SC2086
		"$conf_here/validation.sh" ${VALIDATION_PROGS:-} || rc=$?
		;;
	*) conf_die "unknown suite $s" ;;
	esac
	[ "$rc" -eq 0 ] || failed_to_run+=("$s")
	echo "$filtered" >"$RESULTS/$s.filtered"
done

regressions=0
echo
for s in $SUITES; do
	res=$RESULTS/$s.results
	[ -f "$res" ] || continue
	read -r p f k < <(count_results "$res")
	line="$s: $p passed, $f failed, $k skipped"
	echo "$line" >>"$summary"
	[ "$RT_NAME" = berth ] || continue
	list=$conf_here/berth-passes/$s.txt
	if [ "${UPDATE_PASSES:-0}" = 1 ]; then
		{
			echo "# Tests berth passes in $s ($(date -u '+%Y-%m-%d'), integration/conformance/run.sh)."
			echo "# make conformance fails when one of them does not pass. One test a line."
			sed -n 's/^ok //p' "$res" | sort -u
		} >"$list"
		continue
	fi
	[ -f "$list" ] || continue
	filtered=$(cat "$RESULTS/$s.filtered")
	# A listed test regresses when it failed or (whole suite run) is missing. One that skipped
	# itself (a host without something it needs) is reported, not counted.
	while IFS= read -r t; do
		if grep -qxF "ok $t" "$res"; then
			continue
		elif grep -qxF "not ok $t" "$res"; then
			echo "REGRESSION $s: $t (not ok)" | tee -a "$summary"
			regressions=$((regressions + 1))
		elif grep -qxF "skip $t" "$res"; then
			echo "skipped here, passes in berth-passes/$s.txt: $t" | tee -a "$summary"
		elif [ "$filtered" = 0 ]; then
			echo "REGRESSION $s: $t (did not run)" | tee -a "$summary"
			regressions=$((regressions + 1))
		fi
	done < <(grep -v '^#' "$list" | grep -v '^\s*$')
	newly=$(sed -n 's/^ok //p' "$res" | grep -cvxF -f <(grep -v '^#' "$list") || true)
	[ "$newly" -eq 0 ] || echo "$s: $newly tests pass that berth-passes/$s.txt does not list (UPDATE_PASSES=1 adds them)"
done

echo
echo "== conformance: $RT_NAME (results in $RESULTS)"
grep -v '^#' "$summary" | grep -v '^REGRESSION'
status=0
if [ ${#failed_to_run[@]} -gt 0 ]; then
	echo "suites that did not run to the end: ${failed_to_run[*]}"
	status=1
fi
if [ "$regressions" -gt 0 ]; then
	echo "$regressions tests berth passed before fail now (REGRESSION lines above)"
	status=1
fi
exit $status
