#!/usr/bin/env python3
"""gradcheck_peers.py: our gradcheck beside torch.autograd.gradcheck, in one run.

The issue's case: conv2d, x (4,3,16,16), w (8,3,3,3), bias (8), stride 1,
padding 1, full (slow) Jacobians.
  - ours: `gradcheck --op conv2d --shape 4x3x16x16,8x3x3x3,8 --stride 1
    --padding 1` (the program given as the first argument): numerical,
    reverse-mode and forward-mode Jacobians of all three inputs, plus the
    dot-product, determinism and block-vs-one tests, in float64 and (its
    default) float32 against float64; and with --dtype float64 alone, the
    one dtype torch checks;
  - PyTorch: torch.autograd.gradcheck with check_forward_ad=True (numerical,
    reverse and forward Jacobians; its own extra checks at their defaults)
    and, separately, with the reverse Jacobian only (its default).
Run in turn ROUNDS times; each figure is the median. CPU time (ours: the
child's user + system; PyTorch: this process's) compares the work, and other
jobs on the shared cores do not count in it; wall time shows what
`--threads 2` buys. Both peers run on 1 thread for the CPU-time comparison.
Skipped with a message when torch is not importable.

    python3 tests/gradcheck_peers.py build-rel/gradcheck/gradcheck [ROUNDS] [BASELINE]

BASELINE: another build's gradcheck (say, of the commit before a change),
timed in the same rounds, for a before/after figure from one run.

Python: $AUTODIDACT_PYTHON, else /opt/autodidact-venv/bin/python3, else the
python running this script.
"""
import os
import resource
import statistics
import subprocess
import sys
import time

from project_python import reexec_under_project_python


def ours(exe, threads=None, dtype=None):
    """(CPU seconds, wall seconds) of one gradcheck run; threads, dtype None: the program's default."""
    args = [exe, "--op", "conv2d", "--shape", "4x3x16x16,8x3x3x3,8", "--stride", "1", "--padding", "1"]
    if threads is not None:
        args += ["--threads", str(threads)]
    if dtype is not None:
        args += ["--dtype", dtype]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run(args, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        sys.exit(f"gradcheck failed (exit {r.returncode}):\n{r.stdout}{r.stderr}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def theirs(torch, forward_ad):
    import torch.nn.functional as F
    g = torch.Generator().manual_seed(1)
    x = torch.rand(4, 3, 16, 16, dtype=torch.float64, generator=g).mul(4).sub(2).requires_grad_()
    w = torch.rand(8, 3, 3, 3, dtype=torch.float64, generator=g).mul(4).sub(2).requires_grad_()
    b = torch.rand(8, dtype=torch.float64, generator=g).mul(4).sub(2).requires_grad_()
    t0, w0 = time.process_time(), time.perf_counter()
    ok = torch.autograd.gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=1, padding=1), (x, w, b),
                                  check_forward_ad=forward_ad)
    t1, w1 = time.process_time(), time.perf_counter()
    assert ok
    return t1 - t0, w1 - w0


def main():
    reexec_under_project_python()
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    exe, rounds = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 3
    baseline = sys.argv[3] if len(sys.argv) > 3 else None
    try:
        import torch
    except ImportError as e:
        print(f"skipped PyTorch: not importable under {sys.executable} ({e}); ours alone:")
        torch = None
    if torch is not None:
        torch.set_num_threads(1)
    ours1, ours2 = "ours, 1 thread (rev + fwd + dot + determinism + block)", "ours, --threads 2 (the same checks)"
    ours64 = "ours, 1 thread, --dtype float64 (torch's one dtype)"
    res = {ours1: [], ours2: [], ours64: []}
    if baseline:
        res["baseline (the same checks, its default threads)"] = []
    if torch is not None:
        res["torch, 1 thread (rev + fwd: check_forward_ad)"] = []
        res["torch, 1 thread (rev only: its default)"] = []
    for r in range(rounds):
        res[ours1].append(ours(exe, 1))
        res[ours2].append(ours(exe, 2))
        res[ours64].append(ours(exe, 1, "float64"))
        if baseline:
            res["baseline (the same checks, its default threads)"].append(ours(baseline))
        if torch is not None:
            res["torch, 1 thread (rev + fwd: check_forward_ad)"].append(theirs(torch, True))
            res["torch, 1 thread (rev only: its default)"].append(theirs(torch, False))
        print(f"round {r + 1}/{rounds}: " + ", ".join(f"{k.split(' (')[0]} {v[-1][0]:.2f} s" for k, v in res.items()),
              flush=True)
    print(f"\nconv2d x (4,3,16,16) w (8,3,3,3) b (8) pad 1, full Jacobians, median of {rounds}; ours checks"
          " float64 and float32 unless --dtype says otherwise, torch float64 only"
          + (f" (torch {torch.__version__})" if torch is not None else ""))
    print(f"  {'':<56} {'CPU s':>8} {'wall s':>8}")
    for k, v in res.items():
        print(f"  {k:<56} {statistics.median(c for c, _ in v):8.2f} {statistics.median(w for _, w in v):8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
