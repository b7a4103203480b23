#!/usr/bin/env bash
# Compare two runtimes' latest results, suite by suite (after run.sh for each):
#   compare.sh [A [B]]     (default: berth runc)
# Prints each suite's counts for both and the tests A fails (or skips) that B passes.
set -euo pipefail
# shellcheck source=integration/conformance/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

a=${1:-berth} b=${2:-runc}
for s in runc-v1.1 runc-v1.5 contest validation; do
	ra=$CONFORMANCE_DIR/results/$a/$s.results rb=$CONFORMANCE_DIR/results/$b/$s.results
	[ -f "$ra" ] || continue
	read -r p f k < <(count_results "$ra")
	line="$s: $a $p passed, $f failed, $k skipped"
	if [ -f "$rb" ]; then
		read -r p f k < <(count_results "$rb")
		line+="; $b $p passed, $f failed, $k skipped"
	fi
	echo "$line"
	[ -f "$rb" ] || continue
	echo "  $b passes, $a does not:"
	sed -n 's/^ok //p' "$rb" | sort -u | grep -vxF -f <(sed -n 's/^ok //p' "$ra") | sed 's/^/    /' || true
	echo "  $a passes, $b does not:"
	sed -n 's/^ok //p' "$ra" | sort -u | grep -vxF -f <(sed -n 's/^ok //p' "$rb") | sed 's/^/    /' || true
done
