#!/usr/bin/env python3
"""Interleaved A/B timing of container runtimes: `run`, `create` (+ untimed delete) or `exec`.

Usage: bench/interleaved.py MODE ROUNDS BUNDLE RUNTIME...

Each round times every runtime once, in an order shuffled every round (fixed seed), so a
burst of other load on the machine, or the kernel's cleanup after the previous call (a
runtime's delete frees namespaces and cgroups asynchronously), hits all of them alike. Every invocation is started by Python's
subprocess (posix_spawn: no shell fork in the figure), stdin/stdout/stderr /dev/null, and timed
with a monotonic clock around the call; each runtime keeps its own --root under /tmp. Prints
one line per runtime: median, 25th percentile and mean in milliseconds, and the median's ratio
to the first runtime's.

MODE exec starts one `run -d` container per runtime from BUNDLE with args [sleep, 1000]
(a copy of the bundle next to it) and times `exec ID /bin/true`.

Measurements only: nothing here asserts on timings. bench/runtime.sh runs it (inside the
private cgroup view it sets up for crun on hybrid hosts) and adds its rows to BENCHMARKS.md.
"""
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def main() -> int:
    if len(sys.argv) < 5 or sys.argv[1] not in ("run", "create", "exec"):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    mode, rounds, bundle, runtimes = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
    null = subprocess.DEVNULL
    roots = [f"/tmp/berth-interleaved-{os.getpid()}-{k}" for k in range(len(runtimes))]

    def rt(k: int, *args: str) -> float:
        t = time.perf_counter()
        subprocess.run([runtimes[k], "--root", roots[k], *args], stdin=null, stdout=null, stderr=null)
        return time.perf_counter() - t

    sleeper = bundle.rstrip("/") + "-interleaved-sleeper"
    if mode == "exec":
        shutil.rmtree(sleeper, ignore_errors=True)
        os.makedirs(sleeper)
        with open(os.path.join(bundle, "config.json")) as f:
            config = json.load(f)
        config["process"]["args"] = ["sleep", "1000"]
        config["root"]["path"] = os.path.abspath(os.path.join(bundle, config["root"]["path"]))
        with open(os.path.join(sleeper, "config.json"), "w") as f:
            json.dump(config, f)
        for k in range(len(runtimes)):
            # One id (and so one cgroup) per runtime: a runtime refuses a cgroup that already
            # has processes, as runc does since 1.2. A container that does not start would
            # make every exec fail fast: stop instead.
            # (stderr to a file: the detached container keeps the descriptors it was given.)
            with tempfile.TemporaryFile() as err:
                started = subprocess.run(
                    [runtimes[k], "--root", roots[k], "run", "-d", "--bundle", sleeper,
                     f"sleeper{k}"], stdin=null, stdout=null, stderr=err)
                err.seek(0)
                why = err.read().decode(errors="replace").strip()
            if started.returncode != 0:
                print(f"{runtimes[k]} cannot start the exec container: {why}", file=sys.stderr)
                return 1
    times = [[] for _ in runtimes]
    shuffle = random.Random(5736)
    try:
        for i in range(-3, rounds):  # three warmup rounds
            order = list(range(len(runtimes)))
            shuffle.shuffle(order)
            for k in order:
                if mode == "run":
                    t = rt(k, "run", "--bundle", bundle, f"r{i}")
                elif mode == "create":
                    t = rt(k, "create", "--bundle", bundle, f"c{i}")
                    rt(k, "delete", "--force", f"c{i}")
                else:
                    t = rt(k, "exec", f"sleeper{k}", "/bin/true")
                if i >= 0:
                    times[k].append(t * 1000)
    finally:
        if mode == "exec":
            for k in range(len(runtimes)):
                rt(k, "delete", "--force", f"sleeper{k}")
            shutil.rmtree(sleeper, ignore_errors=True)
        for r in roots:
            shutil.rmtree(r, ignore_errors=True)
    first = statistics.median(times[0])
    for k, name in enumerate(runtimes):
        v = sorted(times[k])
        med = statistics.median(v)
        print(f"{name} {mode} median {med:.2f} p25 {v[len(v) // 4]:.2f} mean {statistics.mean(v):.2f}"
              f" ratio {med / first:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
