#!/usr/bin/env python3
"""bench_hvp_vs_pytorch.py: a Hessian-vector product against a gradient on
LeNet-5, the engine (tests/bench_hvp.c: forward-over-reverse, ad_hvp) beside
PyTorch (tests/hvp_pytorch.py: torch.autograd.functional.hvp, and
torch.func.jvp of torch.func.grad), side by side.

For each thread count, the two programs run alternately --reps times (each
run itself the median of 20 timings of each figure), so that load from
anything else falls on both; the table gives the medians in ms and each
program's ratio H·v / gradient, the figure that matters (a small constant).

    python3 tests/bench_hvp_vs_pytorch.py                      # batch 64, 1 and 2 threads, 3 reps
    python3 tests/bench_hvp_vs_pytorch.py --bench build-rel/tests/bench_hvp

bench_hvp: --bench, else build-rel/tests/bench_hvp (a release build), else
build/tests/bench_hvp. Python for PyTorch as tests/bench_lenet_vs_pytorch.py
finds it; where torch cannot be imported it says so and times the engine alone.
"""
import argparse
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
from bench_lenet_vs_pytorch import buildtype_of, cpu_name, find_torch_python, run  # noqa: E402


def find_bench(arg):
    for cand in (arg, os.path.join(ROOT, "build-rel/tests/bench_hvp"), os.path.join(ROOT, "build/tests/bench_hvp")):
        if cand and os.access(cand, os.X_OK):
            return os.path.abspath(cand)
    raise SystemExit("bench_hvp_vs_pytorch: no bench_hvp found: build one (meson setup build-rel --buildtype=release "
                     "-Dcuda=disabled && ninja -C build-rel) or give --bench PATH")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bench", help="the bench_hvp executable")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    ap.add_argument("--reps", type=int, default=3, help="runs of each program per thread count (default 3)")
    a = ap.parse_args()
    threads = [int(t) for t in a.threads.split(",")]
    if a.reps < 1 or a.batch < 1 or min(threads) < 1:
        raise SystemExit("bench_hvp_vs_pytorch: --reps, --batch and --threads need numbers >= 1")
    bench = find_bench(a.bench)
    py, torch_version = find_torch_python()
    print(f"machine: {cpu_name()}, {os.cpu_count()} logical CPUs; {time.strftime('%Y-%m-%d %H:%M %Z')}")
    print(f"bench_hvp: {bench} (buildtype {buildtype_of(bench)}); LeNet-5, batch {a.batch}, float32; "
          f"load average {os.getloadavg()[0]:.1f} at the start")
    print(f"PyTorch {torch_version} ({py})" if py else
          f"skipping PyTorch: torch cannot be imported ({torch_version}); timing the engine alone")
    res = {}   # (program, threads) -> [run's JSON]
    for rep in range(a.reps):
        for t in threads:
            runs = [("engine", [bench, "--batch", str(a.batch), "--threads", str(t), "--json"])]
            if py:
                runs.append(("pytorch", [py, os.path.join(ROOT, "tests", "hvp_pytorch.py"), "--batch", str(a.batch),
                                         "--threads", str(t)]))
            if rep % 2:
                runs.reverse()   # neither always goes first
            for name, cmd in runs:
                res.setdefault((name, t), []).append(run(cmd, "bench_hvp_vs_pytorch"))

    def med(name, t, key):
        return statistics.median(r[key] for r in res[(name, t)])

    print("\nthreads | engine: gradient ms, H·v ms, ratio | PyTorch: gradient ms, hvp ms (ratio), "
          "jvp(grad) ms (ratio)")
    for t in threads:
        line = (f"{t:7d} | {med('engine', t, 'gradient_ms'):8.2f} {med('engine', t, 'hvp_ms'):8.2f} "
                f"{med('engine', t, 'ratio'):5.2f}x")
        if py:
            line += (f" | {med('pytorch', t, 'gradient_ms'):8.2f} {med('pytorch', t, 'hvp_ms'):8.2f} "
                     f"({med('pytorch', t, 'ratio'):.2f}x) {med('pytorch', t, 'jvp_of_grad_ms'):8.2f} "
                     f"({med('pytorch', t, 'ratio_jvp_of_grad'):.2f}x)")
        print(line)


if __name__ == "__main__":
    main()
