#!/usr/bin/env python3
"""scalar_peers.py: bench_scalar beside micrograd and PyTorch scalars, in one run.

The workload of tests/bench_scalar.c, acc = sum_i relu(x_i * w_i) with the
same x_i, w_i (3n ops: mul, relu, add per term), built forward and then
differentiated, in three engines:
  - autodidact: the bench_scalar program given as the first argument
    (n = 10^6, a cold pass on fresh memory and then warm passes after a rewind);
  - micrograd 0.1.0 (PyPI), one Value per scalar;
  - PyTorch, one 0-d tensor per scalar (requires_grad), one thread.
The three are run in turn ROUNDS times and each figure is the median over the
rounds (the peers at n = 10^5 by default: at 10^6 PyTorch's backward alone
takes a minute on cpu-2c; ns/op is per op either way). Times are the CPU time
of the measuring thread, for every engine, so other jobs on the shared cores
do not count. Python's cycle collector is off while a peer is timed (each
micrograd Value is a cycle through its _backward closure, and collections
made micrograd's forward 10x slower): the peers' best, not their default.
A peer that is not importable is skipped with a message.

    python3 tests/scalar_peers.py build-rel/tests/bench_scalar [ROUNDS] [PEER_N] [--baseline=EXE]

--baseline=EXE: another build's bench_scalar (an older commit's, say), run in
each round beside ours, so a before/after pair comes from the same run.

Python: $AUTODIDACT_PYTHON, else /opt/autodidact-venv/bin/python3, else the
python running this script.
"""
import gc
import os
import re
import statistics
import subprocess
import sys
import time

from project_python import reexec_under_project_python


def inputs(n):
    # bench_scalar.c's values: x_i = (i % 17)/8 - 1, w_i = (i % 13)/6 - 1
    return [(i % 17) / 8.0 - 1.0 for i in range(n)], [(i % 13) / 6.0 - 1.0 for i in range(n)]


def run_micrograd(n):
    from micrograd.engine import Value
    xs, ws = inputs(n)
    x = [Value(v) for v in xs]
    w = [Value(v) for v in ws]
    t0 = time.thread_time()
    acc = Value(0.0)
    for i in range(n):
        acc = acc + (x[i] * w[i]).relu()
    t1 = time.thread_time()
    acc.backward()   # its topological sort recurses once per node of the chain
    t2 = time.thread_time()
    return (t1 - t0) * 1e9 / (3 * n), (t2 - t1) * 1e9 / (3 * n), x[1].grad


def run_torch(n):
    import torch
    torch.set_num_threads(1)
    xs, ws = inputs(n)
    x = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in xs]
    w = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in ws]
    t0 = time.thread_time()
    acc = torch.tensor(0.0, dtype=torch.float64)
    for i in range(n):
        acc = acc + torch.relu(x[i] * w[i])
    t1 = time.thread_time()
    acc.backward()
    t2 = time.thread_time()
    return (t1 - t0) * 1e9 / (3 * n), (t2 - t1) * 1e9 / (3 * n), float(x[1].grad)


def run_ours(exe):
    out = subprocess.run([exe, "1000000", "4"], check=True, capture_output=True, text=True).stdout
    rows = re.findall(r"repeat (\d+)[^:]*: forward ([\d.]+) ns/op, backward ([\d.]+) ns/op", out)
    cold = next((float(f), float(b)) for r, f, b in rows if r == "0")
    warm = [(float(f), float(b)) for r, f, b in rows if r != "0"]
    grad = float(re.search(r"dacc/dx_1 = (\S+)\)", out).group(1))
    return cold, (min(f for f, _ in warm), min(b for _, b in warm)), grad


def importable(name):
    try:
        __import__(name)
        return True
    except ImportError as e:
        print(f"skipped {name}: not importable under {sys.executable} ({e})")
        return False


def main():
    reexec_under_project_python()
    baseline = next((a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--baseline=")), None)
    args = [a for a in sys.argv[1:] if not a.startswith("--baseline=")]
    if not args:
        print(__doc__)
        return 2
    exe, rounds = args[0], int(args[1]) if len(args) > 1 else 3
    peer_n = int(args[2]) if len(args) > 2 else 100000
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * peer_n + 1000))
    peers = [(name, fn) for name, fn in (("micrograd", run_micrograd), ("torch", run_torch)) if importable(name)]
    res = {"autodidact cold": [], "autodidact warm": []}
    if baseline:
        res.update({"baseline cold": [], "baseline warm": []})
    res.update({name: [] for name, _ in peers})
    # d acc / d x_1 = w_1 * relu'(x_1 w_1): x_1 = -0.875, w_1 = -0.8333 -> -0.8333
    expect = -0.8333333333333334
    for r in range(rounds):
        cold, warm, g = run_ours(exe)
        assert abs(g - expect) < 1e-6, f"bench_scalar's dacc/dx_1 = {g}, expected {expect}"
        res["autodidact cold"].append(cold)
        res["autodidact warm"].append(warm)
        if baseline:
            cold, warm, g = run_ours(baseline)
            assert abs(g - expect) < 1e-6, f"the baseline's dacc/dx_1 = {g}, expected {expect}"
            res["baseline cold"].append(cold)
            res["baseline warm"].append(warm)
        for name, fn in peers:
            gc.collect()
            gc.disable()
            f, b, g = fn(peer_n)
            gc.enable()
            assert abs(g - expect) < 1e-12, f"{name}'s dacc/dx_1 = {g}, expected {expect}"
            res[name].append((f, b))
        print(f"round {r + 1}/{rounds}: " + ", ".join(f"{k} {v[-1][0]:.1f}/{v[-1][1]:.1f}" for k, v in res.items()),
              flush=True)
    versions = []
    if any(n == "torch" for n, _ in peers):
        import torch
        versions.append(f"torch {torch.__version__}")
    print(f"\nscalar graph sum relu(x_i*w_i), ns per op (median of {rounds} rounds, thread CPU time; "
          f"autodidact n = 10^6, peers n = {peer_n}; {', '.join(versions) or 'no peers'}):")
    print(f"{'engine':<18} {'forward':>10} {'backward':>10}")
    for k, v in res.items():
        print(f"{k:<18} {statistics.median(f for f, _ in v):10.1f} {statistics.median(b for _, b in v):10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
