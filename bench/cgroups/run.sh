#!/bin/bash
# bench/cgroups/run.sh [N]: what a container's cgroups cost.
#  1. cgroup_bench: berth's cgroup library alone (create = open+apply+set, delete = destroy of the
#     emptied cgroup), mean and median over N*10 containers.
#  2. create+delete of a whole container (same config: typical limits and the default device
#     list) with berth, runc and crun, mean over N pairs; the ratios go to BENCHMARKS-cgroups.md
#     when BENCH_WRITE=1.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-30}
[ "${BENCH_NO_BUILD:-0}" = 1 ] || cargo build --release --quiet --bin berth -p berth-cli -p berth-cgroups --example cgroup_bench
BERTH=$PWD/target/release/berth
W=$(mktemp -d /tmp/berth-bench-cg.XXXXXX)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/bundle/rootfs/bin" "$W/bundle/rootfs/"{proc,sys,dev,tmp,etc}
cp "$(command -v busybox)" "$W/bundle/rootfs/bin/busybox"
ln -s busybox "$W/bundle/rootfs/bin/sh"
"$BERTH" spec --bundle "$W/bundle"
# ociVersion 1.0.2: crun 1.8 refuses newer versions it does not know.
jq '.ociVersion="1.0.2" | .process.terminal=false | .process.args=["sh","-c","true"] |
    .linux.resources.memory={"limit":268435456} | .linux.resources.cpu={"shares":512,"quota":50000,"period":100000} |
    .linux.resources.pids={"limit":100}' "$W/bundle/config.json" > "$W/c.json" && mv "$W/c.json" "$W/bundle/config.json"

lib=$(./target/release/examples/cgroup_bench $((N * 10)))
echo "cgroup library: $lib"

# Mean milliseconds of one create+delete pair; "n/a" when the runtime cannot create here
# (crun 1.8 refuses hybrid cgroup hosts).
pair() {
  local bin=$1 root="$W/root-$(basename "$1")" t0 t1
  if ! "$bin" --root "$root" create --bundle "$W/bundle" probe >/dev/null 2>"$W/err" </dev/null; then
    echo "$(basename "$bin") cannot create here: $(head -c 200 "$W/err")" >&2
    "$bin" --root "$root" delete --force probe >/dev/null 2>&1 || true
    echo 0
    return
  fi
  "$bin" --root "$root" delete --force probe >/dev/null 2>&1
  t0=$(date +%s%N)
  for i in $(seq "$N"); do
    "$bin" --root "$root" create --bundle "$W/bundle" "b$i" >/dev/null 2>&1 </dev/null
    "$bin" --root "$root" delete --force "b$i" >/dev/null 2>&1
  done
  t1=$(date +%s%N)
  echo "scale=2; ($t1 - $t0) / $N / 1000000" | bc
}
b=$(pair "$BERTH")
r=0; c=0
if command -v runc >/dev/null; then r=$(pair "$(command -v runc)"); fi
if command -v crun >/dev/null; then c=$(pair "$(command -v crun)"); fi
ratio() { if [ "$2" = 0 ] || [ "$1" = 0 ]; then echo n/a; else echo "scale=2; $1 / $2" | bc; fi; }
echo "create+delete ms: berth $b, runc $r, crun $c; berth/runc $(ratio "$b" "$r"), berth/crun $(ratio "$b" "$c")"
layout=$(echo "$lib" | sed -n 's/.*"layout":"\([^"]*\)".*/\1/p')
field() { echo "$lib" | sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"; }
row="| $(uname -r) | $layout | $(field create_p50_us) / $(field create_mean_us) | $(field delete_p50_us) / $(field delete_mean_us) | $b | $r | $c | $(ratio "$b" "$r") | $(ratio "$b" "$c") |"
echo "$row"
if [ "${BENCH_WRITE:-0}" = 1 ]; then echo "$row" >> bench/cgroups/results.md; fi
