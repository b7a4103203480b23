#!/usr/bin/env bash
# Run one of runc's bats suites (tests/integration/*.bats of runc v1.1.15 or v1.5.1, unedited)
# against RUNTIME (berth by default, see common.sh):
#   bats.sh runc-v1.1|runc-v1.5 [FILE.bats...]
# Writes RESULTS/<suite>/<file>.tap (bats' TAP with each failure's output) and
# RESULTS/<suite>.results: one "ok|not ok|skip <file>: <test name>" line per test.
# Each runtime invocation is stopped after CMD_TIMEOUT seconds (60, common.sh) and each file
# after FILE_TIMEOUT (1800), so a runtime that hangs costs a minute, not the run. bats' own
# per-test timeout (BATS_TEST_TIMEOUT) is not set by default: its watchdog is a background
# job of the test, so a test that runs a bare `wait` (events.bats) waits for it and fails,
# and what it kills on expiry is the test's children, not the runtime holding the pipe.
set -euo pipefail
# shellcheck source=integration/conformance/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

suite=${1:?usage: bats.sh runc-v1.1|runc-v1.5 [FILE.bats...]}
shift
case $suite in
runc-v1.1) top=$SRC/$RUNC_V11/$RUNC_V11 ;;
runc-v1.5) top=$SRC/$RUNC_V15/$RUNC_V15 ;;
*) conf_die "unknown bats suite $suite" ;;
esac
[ -f "$top/.helpers-built" ] || conf_die "$suite is not built (integration/conformance/build.sh $suite)"
resolve_runtime
: "${FILE_TIMEOUT:=1800}"
bats_timeout=()
[ -z "${TEST_TIMEOUT:-}" ] || bats_timeout=("BATS_TEST_TIMEOUT=$TEST_TIMEOUT")

for tool in bats jq gawk script timeout; do
	command -v "$tool" >/dev/null || conf_die "$tool is not installed"
done

itest=$top/tests/integration
files=("$@")
if [ ${#files[@]} -eq 0 ]; then
	mapfile -t files < <(cd "$itest" && ls -- *.bats)
fi

# A test that fails can leave one of the suite's helpers (recvtty in single mode, the seccomp
# agent) running with bats' internal pipe open, and bats then waits for it forever. Once a
# file's TAP holds every planned result no test code runs any more: stop what is left of them.
stop_leftover_helpers() { # stop_leftover_helpers TAP
	local tap=$1 planned seen p exe
	while sleep 5; do
		planned=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$tap" 2>/dev/null | head -n 1)
		seen=$(grep -cE '^(ok|not ok) [0-9]+ ' "$tap" 2>/dev/null || true)
		[ -n "$planned" ] && [ "$seen" -ge "$planned" ] && break
	done
	sleep 10
	for p in /proc/[0-9]*; do
		exe=$(readlink "$p/exe" 2>/dev/null) || continue
		case $exe in
		"$top"/contrib/cmd/* | "$top"/tests/cmd/_bin/*)
			echo "bats.sh: stopping leftover $exe (pid ${p#/proc/})" >>"$tap.leftovers"
			kill "${p#/proc/}" 2>/dev/null || true
			;;
		esac
	done
}

out=$RESULTS/$suite
rm -rf "$out"
mkdir -p "$out"
res=$RESULTS/$suite.results
: >"$res"
start=$(date +%s)
for f in "${files[@]}"; do
	f=${f%.bats}
	tap=$out/$f.tap
	fstart=$(date +%s)
	stop_leftover_helpers "$tap" &
	watcher=$!
	# Some tests use the caller's terminal (terminal: true, no console socket): run each file
	# under script(1) as runc's CI does. bats exits non-zero when a test fails; the TAP says which.
	# script copies its stdin to that terminal and, at the stdin's EOF, writes the terminal's
	# EOF character there: with /dev/null that is at once, into whichever test then holds the
	# terminal (a foreground run with terminal: true reads it and the terminal echoes it, as
	# `^@`, into the output the test compares; at random, for any runtime). Its stdin is a
	# FIFO held open read-write here instead, which never reaches EOF while the file runs and
	# is closed after it.
	hold=$out/.stdin-$f
	rm -f "$hold"
	mkfifo -m 600 "$hold"
	exec {hold_fd}<>"$hold"
	rm -f "$hold"
	(cd "$itest" && env RUNC="$RT_BIN" "${bats_timeout[@]}" \
		timeout -k 30 "$FILE_TIMEOUT" script -qec "bats --tap $f.bats >$tap 2>&1" /dev/null) \
		>/dev/null 2>&1 <&"$hold_fd" {hold_fd}<&- || true
	exec {hold_fd}<&-
	kill "$watcher" 2>/dev/null || true
	wait "$watcher" 2>/dev/null || true
	# "ok 3 name", "ok 4 name # skip (why)", "not ok 5 name" -> one line per test.
	gawk -v file="$f" '
		/^ok [0-9]+ .* # skip/ { sub(/^ok [0-9]+ /, ""); sub(/ # skip.*$/, ""); print "skip " file ": " $0; next }
		/^ok [0-9]+ / { sub(/^ok [0-9]+ /, ""); print "ok " file ": " $0; next }
		/^not ok [0-9]+ / { sub(/^not ok [0-9]+ /, ""); sub(/ # timeout after [0-9]+s$/, ""); print "not ok " file ": " $0; next }
	' "$tap" >>"$res"
	# A file cut short by FILE_TIMEOUT: its plan says how many tests never reported.
	planned=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$tap" | head -n 1)
	seen=$(grep -cE '^(ok|not ok) [0-9]+ ' "$tap" || true)
	if [ -n "$planned" ] && [ "$seen" -lt "$planned" ]; then
		echo "not ok $f: ($((planned - seen)) tests did not run: file stopped)" >>"$res"
	fi
	printf '%s %-28s %4ds  %s\n' "$suite" "$f" $(($(date +%s) - fstart)) \
		"$(grep -c " $f: " "$res" || true) tests" >&2
done
read -r p fl s < <(count_results "$res")
echo "$suite ($RT_NAME): $p passed, $fl failed, $s skipped ($(($(date +%s) - start)) s)" | tee "$out.summary"
