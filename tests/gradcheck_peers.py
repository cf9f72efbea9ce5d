#!/usr/bin/env python3
"""gradcheck_peers.py: our gradcheck beside torch.autograd.gradcheck, in one run.

The issue's case: conv2d, x (4,3,16,16), w (8,3,3,3), bias (8), stride 1,
padding 1, float64, full (slow) Jacobians.
  - ours: `gradcheck --op conv2d --shape 4x3x16x16,8x3x3x3,8 --stride 1
    --padding 1` (the program given as the first argument): numerical,
    reverse-mode and forward-mode Jacobians of all three inputs, plus the
    dot-product, determinism and block-vs-one tests;
  - PyTorch: torch.autograd.gradcheck with check_forward_ad=True (numerical,
    reverse and forward Jacobians; its own extra checks at their defaults)
    and, separately, with the reverse Jacobian only (its default).
Run in turn ROUNDS times; each figure is the median. Times are CPU time
(ours: the child's user + system; PyTorch: this process's), so other jobs on
the shared cores do not count. Skipped with a message when torch is not
importable.

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


def ours(exe):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run([exe, "--op", "conv2d", "--shape", "4x3x16x16,8x3x3x3,8", "--stride", "1", "--padding", "1"],
                       capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        sys.exit(f"gradcheck failed (exit {r.returncode}):\n{r.stdout}{r.stderr}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def theirs(torch, forward_ad):
    import torch.nn.functional as F
    g = torch.Generator().manual_seed(1)
    x = torch.rand(4, 3, 16, 16, dtype=torch.float64, generator=g).mul(4).sub(2).requires_grad_()
    w = torch.rand(8, 3, 3, 3, dtype=torch.float64, generator=g).mul(4).sub(2).requires_grad_()
    b = torch.rand(8, dtype=torch.float64, generator=g).mul(4).sub(2).requires_grad_()
    t0 = time.process_time()
    ok = torch.autograd.gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=1, padding=1), (x, w, b),
                                  check_forward_ad=forward_ad)
    t1 = time.process_time()
    assert ok
    return t1 - t0


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
    res = {"ours (rev + fwd + dot + determinism + block)": []}
    if baseline:
        res["baseline (the same checks)"] = []
    if torch is not None:
        res["torch (rev + fwd: check_forward_ad)"] = []
        res["torch (rev only: its default)"] = []
    for r in range(rounds):
        res["ours (rev + fwd + dot + determinism + block)"].append(ours(exe))
        if baseline:
            res["baseline (the same checks)"].append(ours(baseline))
        if torch is not None:
            res["torch (rev + fwd: check_forward_ad)"].append(theirs(torch, True))
            res["torch (rev only: its default)"].append(theirs(torch, False))
        print(f"round {r + 1}/{rounds}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in res.items()), flush=True)
    print(f"\nconv2d x (4,3,16,16) w (8,3,3,3) b (8) pad 1 float64, full Jacobians, CPU seconds, median of {rounds}"
          + (f" (torch {torch.__version__}, 1 thread)" if torch is not None else ""))
    for k, v in res.items():
        print(f"  {k:<40} {statistics.median(v):8.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
