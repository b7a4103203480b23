#!/usr/bin/env bash
# Runs the fuzz targets under AFL++ (cargo-afl, stable toolchain) for a bounded time each.
#
#   fuzz/run.sh [TARGET...]        (default: every target)
#   FUZZ_SECONDS=60                how long each target runs
#
# First the corpus replay (`cargo test`: every seed and every past crash under
# corpus/TARGET/regressions must pass) and clippy, then `cargo afl build`, then one afl-fuzz per
# target for FUZZ_SECONDS, starting from corpus/TARGET. Exits 1 when any target crashed; the
# crashing inputs are copied to fuzz/target/afl/crashes/TARGET/ (replay one with
# `cargo afl run --features afl --bin TARGET < FILE`, or put it under corpus/TARGET/regressions/
# with the fix). Hangs (inputs over AFL's timeout) are reported, not failed: on a loaded
# machine a slow run is not a bug.
set -euo pipefail
cd "$(dirname "$0")"
secs=${FUZZ_SECONDS:-60}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(config layer registry_json registry_text)
fi

# cargo-afl builds AFL++ itself when it is installed (a C compiler and make are all it needs).
if ! cargo afl --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-afl (builds AFL++)"
  cargo install cargo-afl --locked --version 0.18.2
fi

cargo clippy --all-targets -- -D warnings
cargo test --quiet
cargo afl build --features afl

# The targets write sandboxes (the layer target: one directory per input) under here.
# /dev/shm when there is one: the layer target creates and removes a tree per input.
tmp=${TMPDIR:-/tmp}
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then tmp=/dev/shm; fi
work=$(mktemp -d "$tmp/berth-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
export BERTH_FUZZ_TMPDIR="$work"

failed=0
summary=()
for t in "${targets[@]}"; do
  out=target/afl/$t
  rm -rf "$out"
  mkdir -p target/afl
  echo "fuzz: $t for ${secs}s"
  # AFL_NO_AFFINITY: CI machines are shared; AFL_SKIP_CPUFREQ and
  # AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES: a host's governor and core_pattern are not ours to
  # change. Crashes are still caught (the target aborts; AFL sees the signal). -t 200: a
  # layer takes ~5 ms, but AFL's own guess (20 ms) kills runs that a busy machine merely slows.
  AFL_NO_UI=1 AFL_NO_AFFINITY=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
    AFL_QUIET=1 \
    cargo afl fuzz -V "$secs" -t 200 -i "corpus/$t" -o "$out" -- "target/debug/$t" >"$out.log" 2>&1 || {
    echo "fuzz: afl-fuzz failed on $t; its log ($out.log) ends:" >&2
    tail -n 30 "$out.log" >&2
    failed=1
    continue
  }
  stats=$out/default/fuzzer_stats
  get() { sed -n "s/^$1 *: *//p" "$stats"; }
  crashes=$(find "$out/default/crashes" -name 'id:*' 2>/dev/null | wc -l)
  hangs=$(find "$out/default/hangs" -name 'id:*' 2>/dev/null | wc -l)
  line="$t: $(get run_time)s, $(get execs_done) execs ($(get execs_per_sec)/s), corpus $(get corpus_count), edges $(get edges_found), crashes $crashes, hangs $hangs"
  summary+=("$line")
  echo "fuzz: $line"
  if [ "$crashes" -gt 0 ]; then
    mkdir -p "target/afl/crashes/$t"
    cp "$out"/default/crashes/id:* "target/afl/crashes/$t/"
    echo "fuzz: $t crashed; inputs in fuzz/target/afl/crashes/$t/" >&2
    failed=1
  fi
done
echo "fuzz: summary"
printf '  %s\n' "${summary[@]}"
exit $failed
