#!/bin/sh
# vm/test.sh: builds the cgroup test binaries (crates/berth-cli/tests/cgroups_*.rs) and the AppArmor
# ones (lsm.rs; VM_TESTS='*' for every integration test) on the host, runs them all in one boot of
# the pure cgroup-v2 VM and prints pass/fail/skip counts. Exit 1 on any failure.
set -eu
WT=$(cd "$(dirname "$0")/.." && pwd)
cd "$WT"
CARGO=${CARGO:-cargo}
# VM_TESTS: space-separated patterns of test files. By default the cgroup tests and lsm.rs,
# whose AppArmor test needs a kernel with AppArmor (the VM's; the CI host has none).
set -f
# shellcheck disable=SC2086
set -- ${VM_TESTS:-cgroups_* lsm}
set +f
# shellcheck disable=SC2086 # $p is a glob
tests=$(for p in "$@"; do ls crates/berth-cli/tests/$p.rs; done | sed 's|.*/tests/\(.*\)\.rs|--test \1|')
# shellcheck disable=SC2086
# The kernel and initramfs first (vm/cache does not exist in a fresh clone).
sh vm/build.sh
$CARGO build --quiet -p berth-cli --bin berth
# shellcheck disable=SC2086
$CARGO test -p berth-cli --no-run $tests 2>&1 | sed -n 's/.*Executable .*(\(.*\))$/\1/p' > vm/cache/test-binaries
[ -s vm/cache/test-binaries ] || { echo "vm/test.sh: no test binaries built" >&2; exit 1; }
log=vm/cache/test-v2.log
start=$(date +%s)
set +e
# One vCPU: under TCG on a loaded 2-core host, two vCPUs once spun in a cross-CPU wait for the
# whole CI budget (soft lockups); a single vCPU has no such wait. And a bound, so a hung guest
# fails CI instead of eating it.
VM_CPUS=${VM_CPUS:-1} vm/run.sh 'for t in $(cat vm/cache/test-binaries); do echo "== $t"; "$t" --test-threads=2 --nocapture; done' 2>&1 | tee "$log"
set -e
end=$(date +%s)
passed=$(sed -n 's/.*test result: .* \([0-9]*\) passed; \([0-9]*\) failed.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
failed=$(sed -n 's/.*test result: .* \([0-9]*\) passed; \([0-9]*\) failed.*/\2/p' "$log" | awk '{s+=$1} END {print s+0}')
skipped=$(grep -c '^SKIP' "$log" || true)
runs=$(grep -c 'test result:' "$log" || true)
expected=$(wc -l < vm/cache/test-binaries)
echo "cgroup v2 VM: $passed passed, $failed failed, $skipped skipped (printed SKIP lines) in $((end - start)) s"
if [ "$failed" -ne 0 ] || [ "$runs" -ne "$expected" ]; then
  echo "cgroup v2 VM: FAILED ($runs of $expected test binaries reported)" >&2
  exit 1
fi
