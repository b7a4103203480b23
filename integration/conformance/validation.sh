#!/usr/bin/env bash
# Run runtime-tools' validation programs (validation/<name>/<name>.go of runtime-tools
# 5e63903, built by build.sh) against RUNTIME (see common.sh), each stopped after
# PROG_TIMEOUT seconds.
#   validation.sh [NAME...]      (default: every program)
# Writes RESULTS/validation/<name>.tap and RESULTS/validation.results: one
# "ok|not ok|skip <name>: <description>" line per TAP test point, plus a
# "not ok <name>: (exit status N, no failing test point)" line for a program that died.
set -euo pipefail
# shellcheck source=integration/conformance/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

top=$SRC/$RTOOLS/runtime-tools
[ -f "$top/.validation-built" ] || conf_die "validation is not built (integration/conformance/build.sh validation)"
resolve_runtime
: "${PROG_TIMEOUT:=120}"

progs=()
for p in "$@"; do # NAME means validation/NAME/NAME.t
	case $p in */*) progs+=("$p") ;; *) progs+=("$p/$p") ;; esac
done
if [ ${#progs[@]} -eq 0 ]; then
	mapfile -t progs < <(cd "$top/validation" && find . -name '*.t' | sed 's|^\./||; s|\.t$||' | sort)
fi

out=$RESULTS/validation
rm -rf "$out"
mkdir -p "$out"
res=$RESULTS/validation.results
: >"$res"
start=$(date +%s)
for p in "${progs[@]}"; do
	# validation/hostname/hostname.t -> hostname
	name=${p%/*}
	[ "$name" = "${p##*/}" ] || name=${p//\//_}
	tap=$out/$name.tap
	pstart=$(date +%s)
	rc=0
	# The programs find runtimetest and rootfs-amd64.tar.gz in the current directory.
	(cd "$top" && RUNTIME="$RT_BIN" timeout -k 30 "$PROG_TIMEOUT" "validation/$p.t" >"$tap" 2>&1 </dev/null) || rc=$?
	# Test points are named by program and description, not number: some programs check a Go
	# map's entries, whose order (and so numbering) changes from run to run.
	gawk -v prog="$name" '
		/^ok [0-9]+/ && /# [Ss][Kk][Ii][Pp]/ { sub(/^ok [0-9]+( - )?/, ""); sub(/ *# [Ss][Kk][Ii][Pp].*$/, ""); print "skip " prog ": " $0; next }
		/^ok [0-9]+/ { sub(/^ok [0-9]+( - )?/, ""); print "ok " prog ": " $0; next }
		/^not ok [0-9]+/ { sub(/^not ok [0-9]+( - )?/, ""); sub(/ *# TODO.*$/, ""); print "not ok " prog ": " $0; next }
	' "$tap" >>"$res"
	if [ "$rc" -ne 0 ] && ! grep -q "^not ok $name: " "$res"; then
		echo "not ok $name: (exit status $rc, no failing test point)" >>"$res"
	fi
	printf 'validation %-40s %4ds  rc=%d\n' "$name" $(($(date +%s) - pstart)) "$rc" >&2
done
read -r pa fl s < <(count_results "$res")
echo "validation ($RT_NAME): $pa passed, $fl failed, $s skipped ($(($(date +%s) - start)) s)" | tee "$out.summary"
