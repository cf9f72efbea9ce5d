#!/usr/bin/env python3
"""conv2d_pytorch.py: PyTorch's conv2d on the LeNet-5 layers, beside bench_conv2d.

The same shapes, batch and passes as tests/bench_conv2d.c (float32, batch 64):
the forward, dx and dw of conv1 (x (64,1,28,28), w (6,1,5,5), pad 2) and conv2
(x (64,6,14,14), w (16,6,5,5)), the best of 20, in GFLOP/s (2·N·K·P·Q·C·R·S
flops per pass), on 1 and 2 threads (or the counts given as arguments).

    python3 tests/conv2d_pytorch.py [THREADS ...]
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from project_python import reexec_under_project_python  # noqa: E402

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    reexec_under_project_python()   # not in this python: the project's ($AUTODIDACT_PYTHON, the venv) may have it
    print("conv2d_pytorch.py: skipping: torch cannot be imported (set AUTODIDACT_PYTHON to a python that has it)")
    sys.exit(0)


def best_of(reps, fn):
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def layer(threads, name, N, C, H, K, R, pad, reps=20):
    torch.manual_seed(0)
    x = torch.rand(N, C, H, H)
    w = torch.rand(K, C, R, R) - 0.5
    b = torch.zeros(K)
    y = F.conv2d(x, w, b, padding=pad)
    P = y.shape[2]
    g = torch.full_like(y, 1e-3)
    flops = 2.0 * N * K * P * P * C * R * R
    # the two vjps alone, as bench_conv2d times them (no autograd bookkeeping)
    fwd = best_of(reps, lambda: F.conv2d(x, w, b, padding=pad))
    dx = best_of(reps, lambda: torch.nn.grad.conv2d_input(x.shape, w, g, padding=pad))
    dw = best_of(reps, lambda: torch.nn.grad.conv2d_weight(x, w.shape, g, padding=pad))
    print(f"{threads} thr  {name:<44} forward {flops / fwd * 1e-9:6.1f} GFLOP/s ({fwd * 1e3:.2f} ms)   "
          f"dx {flops / dx * 1e-9:6.1f} GFLOP/s ({dx * 1e3:.2f} ms)   dw {flops / dw * 1e-9:6.1f} GFLOP/s ({dw * 1e3:.2f} ms)")


def main():
    counts = [int(a) for a in sys.argv[1:]] or [1, 2]
    print(f"PyTorch {torch.__version__} conv2d (float32, CPU)")
    for t in counts:
        torch.set_num_threads(t)
        with torch.no_grad():
            layer(t, "conv1: x (64,1,28,28), w (6,1,5,5), pad 2", 64, 1, 28, 6, 5, 2)
            layer(t, "conv2: x (64,6,14,14), w (16,6,5,5), pad 0", 64, 6, 14, 16, 5, 0)


if __name__ == "__main__":
    main()
