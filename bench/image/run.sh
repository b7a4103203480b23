#!/usr/bin/env bash
# berth-image unpack benchmark: a Debian minbase image packed two ways (3 gzip layers of comparable
# size, and one big layer plus two small ones), each unpacked on tmpfs by
# berth-image, umoci, and the floor of plain `tar -xzf` of the same layers, in one run.
# Writes BENCHMARKS-image.md. Needs root (for umoci and ownership), debootstrap, umoci, jq.
#
#   bench/image/run.sh [BERTH_IMAGE_BINARY]
# Env: BENCH_RUNS (default 7), BENCH_CACHE (where the built image is kept, default
# /var/tmp/berth-bench-image), BENCH_TMPFS (default /dev/shm), BENCH_SYNTH=1 to skip debootstrap,
# BENCH_BASELINE=OTHER_BERTH_IMAGE_BINARY to measure another build alongside in the same run.
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

# 2. Two OCI layouts of the same rootfs, each with 3 gzip layers:
#    "split": base system, /usr/share, /var (three layers of comparable size: decoded in parallel);
#    "big":   everything but /etc and /var/lib/dpkg, then /etc, then /var/lib/dpkg (one big layer
#             plus two small ones, as most base images are: one gzip stream is the serial floor).
# make_layout NAME "TAR ARGS OF LAYER 1" "... 2" "... 3" (paths relative to the rootfs)
make_layout() {
  local name=$1; shift
  local LAYOUT=$CACHE/layout-$name L=$CACHE/layers-$name
  [ -f "$CACHE/layout-$name.done" ] && return 0
  rm -rf "$LAYOUT" "$L"; mkdir -p "$LAYOUT/blobs/sha256" "$L"
  local T="tar --numeric-owner --format=pax --xattrs --sort=name -C $ROOT"
  local layers=() diffs=() i=0 spec
  for spec in "$@"; do
    i=$((i + 1))
    # shellcheck disable=SC2086 # the spec is a word list on purpose
    $T -cf "$L/$i.tar" $spec
    diffs+=("sha256:$(sha256sum < "$L/$i.tar" | cut -d' ' -f1)")
    gzip -6 -n -c "$L/$i.tar" > "$L/$i.tar.gz"
    local d; d=$(sha256sum < "$L/$i.tar.gz" | cut -d' ' -f1)
    cp "$L/$i.tar.gz" "$LAYOUT/blobs/sha256/$d"
    layers+=("{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$d\",\"size\":$(stat -c %s "$L/$i.tar.gz")}")
  done
  local cfg cd_ man md
  cfg=$(jq -cn --argjson d "$(printf '%s\n' "${diffs[@]}" | jq -R . | jq -cs .)" \
    '{architecture:"amd64",os:"linux",config:{Cmd:["/bin/bash"],Env:["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},rootfs:{type:"layers",diff_ids:$d}}')
  printf '%s' "$cfg" > "$L/config.json"
  cd_=$(sha256sum < "$L/config.json" | cut -d' ' -f1); cp "$L/config.json" "$LAYOUT/blobs/sha256/$cd_"
  man=$(printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' \
    "$cd_" "$(stat -c %s "$L/config.json")" "$(IFS=,; echo "${layers[*]}")")
  printf '%s' "$man" > "$L/manifest.json"
  md=$(sha256sum < "$L/manifest.json" | cut -d' ' -f1); cp "$L/manifest.json" "$LAYOUT/blobs/sha256/$md"
  echo '{"imageLayoutVersion":"1.0.0"}' > "$LAYOUT/oci-layout"
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"bench"}}]}' \
    "$md" "$(stat -c %s "$L/manifest.json")" > "$LAYOUT/index.json"
  touch "$CACHE/layout-$name.done"
}
IMAGES="split big"
make_layout split "--exclude=./usr/share --exclude=./var ." "./usr/share" "./var"
make_layout big "--exclude=./etc --exclude=./var/lib/dpkg ." "./etc" "./var/lib/dpkg"

# 3. Everything on tmpfs: the layouts (so reads are from memory for all) and the outputs.
W=$(mktemp -d "$TMPFS/berth-bench-image.XXXXXX")
trap 'rm -rf "$W"' EXIT
: > "$W/facts"
for img in $IMAGES; do
  cp -a "$CACHE/layout-$img" "$W/layout-$img"
  mkdir -p "$W/gz-$img"; cp "$CACHE/layers-$img"/*.tar.gz "$W/gz-$img/"
  L=$CACHE/layers-$img
  # name entries gzip_bytes tar_bytes per-layer-gzip-MB
  echo "$img $(for t in "$L"/[0-9].tar; do tar -tf "$t"; done | wc -l) $(cat "$L"/*.tar.gz | wc -c) $(cat "$L"/[0-9].tar | wc -c) \
$(for g in "$L"/[0-9].tar.gz; do printf '%s,' "$(stat -c %s "$g")"; done)" >> "$W/facts"
done

measure() { # image, name, command...: appends "image name seconds maxrss_kb user sys" to $W/results
  local img=$1 name=$2; shift 2
  rm -rf "$W/out"
  /usr/bin/time -f "%e %M %U %S" -o "$W/t" "$@" >/dev/null 2>"$W/err" || { cat "$W/err" >&2; exit 1; }
  echo "$img $name $(cat "$W/t")" >> "$W/results"
  rm -rf "$W/out"
}
tarfloor() { mkdir -p "$W/out/rootfs"; for g in "$W/gz-$1"/[0-9].tar.gz; do tar --numeric-owner -xzpf "$g" -C "$W/out/rootfs"; done; }
export -f tarfloor; export W

# BENCH_BASELINE=OTHER_BINARY adds a fourth unpacker (another berth-image build) to compare in the
# same run.
: > "$W/results"
for run in $(seq 0 "$RUNS"); do   # run 0 warms caches and is dropped below
  for img in $IMAGES; do
    measure "$img" berth "$BIN" unpack "oci:$W/layout-$img:bench" "$W/out"
    if [ -n "${BENCH_BASELINE:-}" ]; then
      measure "$img" base "$BENCH_BASELINE" unpack "oci:$W/layout-$img:bench" "$W/out"
    fi
    measure "$img" umoci umoci unpack --image "$W/layout-$img:bench" "$W/out"
    measure "$img" tar bash -c "tarfloor $img"
  done
  [ "$run" = 0 ] && : > "$W/results"
done

python3 - "$W/results" "$W/facts" "$OUT" "$(cat "$CACHE/kind")" "$RUNS" <<'PY'
import statistics, sys, platform, os, datetime
res, facts, out, kind, runs = sys.argv[1:]
data = {}
for line in open(res):
    img, name, secs, rss, user, sys_ = line.split()
    data.setdefault(img, {}).setdefault(name, []).append((float(secs), int(rss), float(user) + float(sys_)))
fact = {}
for line in open(facts):
    img, entries, gz, tarb, per = line.split()
    fact[img] = (int(entries), int(gz), int(tarb), [int(x) for x in per.strip(",").split(",")])
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
load = open("/proc/loadavg").read().split()[:3]
# Keep a hand-written analysis (from its heading on) across runs.
tail = ""
if os.path.exists(out):
    old = open(out).read()
    i = old.find("\n## Where the time goes")
    if i >= 0:
        tail = old[i:]
desc = {
    "split": "3 layers of comparable size (base system, /usr/share, /var)",
    "big": "one big layer plus two small ones (everything but /etc and /var/lib/dpkg, then /etc, then /var/lib/dpkg)",
}
labels = (("berth", "berth-image unpack"), ("base", "berth-image unpack (BENCH_BASELINE)"),
          ("umoci", "umoci unpack"), ("tar", "tar -xzf floor (3 layers)"))
with open(out, "w") as f:
    f.write("# berth-image unpack benchmark\n\n")
    f.write(f"Rootfs: Debian bookworm ({kind}), packed two ways as OCI images of 3 gzip layers (gzip -6), "
            "unpacked to tmpfs from a layout on tmpfs.\n")
    f.write(f"Median of {runs} runs after a warm-up; peak RSS is the max over runs. Both images and all unpackers "
            "alternate within each run, so the ratios stay comparable on a busy machine.\n")
    f.write(f"Machine: {cpu}, {os.cpu_count()} cores, Linux {platform.release()}; {datetime.date.today()}; "
            f"load average {' '.join(load)} (1/5/15 min) at the end of the run.\n")
    f.write("\nTargets: berth-image time <= 0.4x umoci's and <= 1.0x the tar floor's, peak RSS <= 0.5x umoci's.\n")
    for img in data:
        d = data[img]
        med = {k: statistics.median(s for s, _, _ in v) for k, v in d.items()}
        rss = {k: max(r for _, r, _ in v) for k, v in d.items()}
        cpus = {k: statistics.median(c for _, _, c in v) for k, v in d.items()}
        entries, gz, tarb, per = fact[img]
        f.write(f"\n## Image \"{img}\": {desc.get(img, img)}\n\n")
        f.write(f"{entries} tar entries, {gz/1e6:.1f} MB gzip ({' + '.join(f'{p/1e6:.1f}' for p in per)}), {tarb/1e6:.1f} MB tar.\n\n")
        f.write("| unpacker | median wall (s) | median CPU, user+sys (s) | peak RSS (MiB) | time / berth-image | RSS / berth-image |\n|---|---|---|---|---|---|\n")
        for k, label in labels:
            if k in med:
                f.write(f"| {label} | {med[k]:.3f} | {cpus[k]:.2f} | {rss[k]/1024:.1f} | {med[k]/med['berth']:.2f}x | {rss[k]/rss['berth']:.2f}x |\n")
        def verdict(v, lim):
            return "met" if v <= lim else "NOT met"
        t_u, t_t, r_u = med['berth']/med['umoci'], med['berth']/med['tar'], rss['berth']/rss['umoci']
        f.write(f"\n- berth-image / umoci time: **{t_u:.2f}x** (target <= 0.40x: {verdict(t_u, 0.4)})\n")
        f.write(f"- berth-image / tar floor time: **{t_t:.2f}x** (target <= 1.00x: {verdict(t_t, 1.0)})\n")
        f.write(f"- berth-image / umoci peak RSS: **{r_u:.2f}x** (target <= 0.50x: {verdict(r_u, 0.5)})\n")
        if "base" in med:
            f.write(f"- this build / BENCH_BASELINE build time: **{med['berth']/med['base']:.2f}x**\n")
    f.write("\nberth-image verifies every blob digest and every layer diff_id while streaming; the tar floor verifies nothing.\n")
    f.write("Reproduce: `make bench-image` (bench/image/run.sh).\n")
    f.write(tail)
print(open(out).read())
PY
