#!/usr/bin/env bash
# bench/image/compare.sh RUNS BINARY...: unpacks both bench images (built by run.sh in
# $BENCH_CACHE) with each berth-image binary in turn, RUNS times after a warm-up, interleaved so
# a busy machine loads them alike, and prints the median wall and CPU (user+sys) time and the
# peak RSS of each.
# For before/after numbers of a change: build both, then compare them in one run.
set -euo pipefail
RUNS=$1; shift
W=$(mktemp -d "${BENCH_TMPFS:-/dev/shm}"/berth-image-compare.XXXXXX); trap 'rm -rf "$W"' EXIT
for img in split big; do cp -a "${BENCH_CACHE:-/var/tmp/berth-bench-image}"/layout-$img "$W/"; done
: > "$W/res"
for run in $(seq 0 "$RUNS"); do
  for img in split big; do
    for b in "$@"; do
      rm -rf "$W/out"
      /usr/bin/time -f "%e %U %S %M" -o "$W/t" "$b" unpack "oci:$W/layout-$img:bench" "$W/out" >/dev/null
      [ "$run" = 0 ] || echo "$img $b $(cat "$W/t")" >> "$W/res"
    done
  done
done
rm -rf "$W/out"
python3 - "$W/res" <<'PY'
import sys, statistics
d = {}
for l in open(sys.argv[1]):
    img, b, e, u, s, m = l.split()
    d.setdefault((img, b), []).append((float(e), float(u) + float(s), int(m)))
for (img, b), v in d.items():
    print(f"{img:6} {b:40} wall {statistics.median(x for x, _, _ in v):.3f}  cpu {statistics.median(c for _, c, _ in v):.3f}  "
          f"peak RSS {max(r for _, _, r in v) / 1024:.1f} MiB  (n={len(v)})")
PY
cat /proc/loadavg
