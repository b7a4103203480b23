#!/usr/bin/env bash
# berth-image unpack benchmark: a Debian minbase image (3 gzip layers) unpacked on tmpfs by
# berth-image, umoci, and the floor of plain `tar -xzf` of the same layers, in one run.
# Writes BENCHMARKS-image.md. Needs root (for umoci and ownership), debootstrap, umoci, jq.
#
#   bench/image/run.sh [BERTH_IMAGE_BINARY]
# Env: BENCH_RUNS (default 7), BENCH_CACHE (where the built image is kept, default
# /var/tmp/berth-bench-image), BENCH_TMPFS (default /dev/shm), BENCH_SYNTH=1 to skip debootstrap.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${1:-target/release/berth-image}
RUNS=${BENCH_RUNS:-7}
CACHE=${BENCH_CACHE:-/var/tmp/berth-bench-image}
TMPFS=${BENCH_TMPFS:-/dev/shm}
OUT=BENCHMARKS-image.md

[ -x "$BIN" ] || { echo "no berth-image binary at $BIN (run: cargo build --release)" >&2; exit 1; }
for t in umoci jq gzip tar /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "missing $t (make deps)" >&2; exit 1; }
done

# 1. The root filesystem: debootstrap minbase from Debian's mirror, else ~11k synthesized files.
ROOT=$CACHE/rootfs
if [ ! -f "$CACHE/rootfs.done" ]; then
  rm -rf "$CACHE"; mkdir -p "$ROOT"
  if [ "${BENCH_SYNTH:-0}" != 1 ] && command -v debootstrap >/dev/null &&
     debootstrap --variant=minbase bookworm "$ROOT" http://deb.debian.org/debian >"$CACHE/debootstrap.log" 2>&1; then
    # minbase alone is ~6.8k entries; perl and python3 bring it to the ~10-11k of a typical base image.
    chroot "$ROOT" apt-get install -y --no-install-recommends perl python3 >>"$CACHE/debootstrap.log" 2>&1
    chroot "$ROOT" apt-get clean
    echo "debootstrap --variant=minbase bookworm + perl, python3" > "$CACHE/kind"
  else
    echo "debootstrap unavailable or failed; synthesizing ~11k files" >&2
    rm -rf "$ROOT"; mkdir -p "$ROOT"
    python3 - "$ROOT" <<'PY'
import os, random, sys
root = sys.argv[1]; random.seed(1)
for top in ("usr/bin", "usr/lib/x86_64-linux-gnu", "usr/share/doc", "usr/share/locale", "var/lib/dpkg/info", "etc"):
    os.makedirs(os.path.join(root, top), exist_ok=True)
n = 0
while n < 11000:
    top = random.choice(("usr/lib/x86_64-linux-gnu", "usr/share/doc", "usr/share/locale", "var/lib/dpkg/info", "usr/bin"))
    d = os.path.join(root, top, "pkg%03d" % (n // 40))
    os.makedirs(d, exist_ok=True)
    size = int(random.lognormvariate(7.5, 1.8)) % (4 << 20)
    with open(os.path.join(d, "f%05d" % n), "wb") as f:
        f.write((os.urandom(64) + b"text " * 200) * (size // 1064 + 1))
    n += 1
PY
    echo "synthesized ~11k files" > "$CACHE/kind"
  fi
  touch "$CACHE/rootfs.done"
fi

# 2. An OCI layout with 3 gzip layers: base system, /usr/share, /var.
LAYOUT=$CACHE/layout
if [ ! -f "$CACHE/layout.done" ]; then
  rm -rf "$LAYOUT" "$CACHE/layers"; mkdir -p "$LAYOUT/blobs/sha256" "$CACHE/layers"
  T="tar --numeric-owner --format=pax --xattrs --sort=name -C $ROOT"
  $T --exclude=./usr/share --exclude=./var -cf "$CACHE/layers/1.tar" .
  $T -cf "$CACHE/layers/2.tar" ./usr/share
  $T -cf "$CACHE/layers/3.tar" ./var
  layers=() diffs=()
  for i in 1 2 3; do
    diffs+=("sha256:$(sha256sum < "$CACHE/layers/$i.tar" | cut -d' ' -f1)")
    gzip -6 -n -c "$CACHE/layers/$i.tar" > "$CACHE/layers/$i.tar.gz"
    d=$(sha256sum < "$CACHE/layers/$i.tar.gz" | cut -d' ' -f1)
    cp "$CACHE/layers/$i.tar.gz" "$LAYOUT/blobs/sha256/$d"
    layers+=("{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$d\",\"size\":$(stat -c %s "$CACHE/layers/$i.tar.gz")}")
  done
  cfg=$(jq -cn --argjson d "$(printf '%s\n' "${diffs[@]}" | jq -R . | jq -cs .)" \
    '{architecture:"amd64",os:"linux",config:{Cmd:["/bin/bash"],Env:["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},rootfs:{type:"layers",diff_ids:$d}}')
  printf '%s' "$cfg" > "$CACHE/config.json"
  cd_=$(sha256sum < "$CACHE/config.json" | cut -d' ' -f1); cp "$CACHE/config.json" "$LAYOUT/blobs/sha256/$cd_"
  man=$(printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' \
    "$cd_" "$(stat -c %s "$CACHE/config.json")" "$(IFS=,; echo "${layers[*]}")")
  printf '%s' "$man" > "$CACHE/manifest.json"
  md=$(sha256sum < "$CACHE/manifest.json" | cut -d' ' -f1); cp "$CACHE/manifest.json" "$LAYOUT/blobs/sha256/$md"
  echo '{"imageLayoutVersion":"1.0.0"}' > "$LAYOUT/oci-layout"
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"bench"}}]}' \
    "$md" "$(stat -c %s "$CACHE/manifest.json")" > "$LAYOUT/index.json"
  touch "$CACHE/layout.done"
fi

# 3. Everything on tmpfs: the layout (so reads are from memory for all three) and the outputs.
W=$(mktemp -d "$TMPFS/berth-bench-image.XXXXXX")
trap 'rm -rf "$W"' EXIT
cp -a "$LAYOUT" "$W/layout"
ENTRIES=$(for i in 1 2 3; do tar -tf "$CACHE/layers/$i.tar"; done | wc -l)
GZ_BYTES=$(cat "$CACHE"/layers/*.tar.gz | wc -c)
TAR_BYTES=$(cat "$CACHE"/layers/[123].tar | wc -c)
for i in 1 2 3; do cp "$CACHE/layers/$i.tar.gz" "$W/$i.tar.gz"; done

measure() { # name, command...: appends "name seconds maxrss_kb" to $W/results
  local name=$1; shift
  rm -rf "$W/out"
  /usr/bin/time -f "%e %M" -o "$W/t" "$@" >/dev/null 2>"$W/err" || { cat "$W/err" >&2; exit 1; }
  echo "$name $(cat "$W/t")" >> "$W/results"
  rm -rf "$W/out"
}
tarfloor() { mkdir -p "$W/out/rootfs"; for i in 1 2 3; do tar --numeric-owner -xzpf "$W/$i.tar.gz" -C "$W/out/rootfs"; done; }
export -f tarfloor; export W

: > "$W/results"
for run in $(seq 0 "$RUNS"); do   # run 0 warms caches and is dropped below
  measure berth "$BIN" unpack "oci:$W/layout:bench" "$W/out"
  measure umoci umoci unpack --image "$W/layout:bench" "$W/out"
  measure tar bash -c tarfloor
  [ "$run" = 0 ] && : > "$W/results"
done

python3 - "$W/results" "$OUT" "$(cat "$CACHE/kind")" "$ENTRIES" "$GZ_BYTES" "$TAR_BYTES" "$RUNS" <<'PY'
import statistics, sys, platform, os, datetime
res, out, kind, entries, gz, tarb, runs = sys.argv[1:]
data = {}
for line in open(res):
    name, secs, rss = line.split()
    data.setdefault(name, []).append((float(secs), int(rss)))
med = {k: statistics.median(s for s, _ in v) for k, v in data.items()}
rss = {k: max(r for _, r in v) for k, v in data.items()}
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
with open(out, "w") as f:
    f.write("# berth-image unpack benchmark\n\n")
    f.write(f"Image: Debian bookworm minbase-like rootfs ({kind}), 3 gzip layers "
            f"(base, /usr/share, /var), {int(entries)} tar entries, {int(gz)/1e6:.1f} MB gzip, {int(tarb)/1e6:.1f} MB tar.\n")
    f.write(f"Unpacked to tmpfs, layout on tmpfs. Median of {runs} runs after a warm-up; peak RSS is the max over runs.\n")
    load = open("/proc/loadavg").read().split()[0]
    f.write(f"Machine: {cpu}, {os.cpu_count()} cores, Linux {platform.release()}; {datetime.date.today()}; "
            f"load average {load} at the end (the three unpackers alternate, so ratios stay comparable on a busy machine).\n\n")
    f.write("| unpacker | median wall (s) | peak RSS (MiB) | time vs berth-image | RSS vs berth-image |\n|---|---|---|---|---|\n")
    for k, label in (("berth", "berth-image unpack"), ("umoci", "umoci unpack"), ("tar", "tar -xzf floor (3 layers)")):
        f.write(f"| {label} | {med[k]:.3f} | {rss[k]/1024:.1f} | {med[k]/med['berth']:.2f}x | {rss[k]/rss['berth']:.2f}x |\n")
    f.write("\nRatios (targets: >= 2x faster than umoci, within 1.3x of the tar floor, less peak RSS than umoci):\n\n")
    f.write(f"- umoci / berth-image time: **{med['umoci']/med['berth']:.2f}x**\n")
    f.write(f"- berth-image / tar floor time: **{med['berth']/med['tar']:.2f}x**\n")
    f.write(f"- berth-image / umoci peak RSS: **{rss['berth']/rss['umoci']:.2f}x**\n")
    f.write("\nberth-image verifies every blob digest and every layer diff_id while streaming; the tar floor verifies nothing.\n")
    f.write("Reproduce: `make bench-image` (bench/image/run.sh).\n")
print(open(out).read())
PY
