#!/usr/bin/env python3
"""hvp_pytorch.py: PyTorch's Hessian-vector product against its gradient on
LeNet-5, as tests/bench_hvp.c times the engine's: the same model (two
conv+ReLU+max-pool, three linear layers, cross-entropy, float32), a batch of
random inputs and labels, v drawn from N(0, 1) over every parameter.

  gradient      torch.autograd.grad of the loss
  hvp           torch.autograd.functional.hvp (reverse-over-reverse: the
                gradient's graph recorded, create_graph=True, then
                differentiated again)
  jvp_of_grad   torch.func.jvp(torch.func.grad(loss)) (forward-over-reverse,
                the engine's method)

Each the median of --reps runs after 3 warm-ups, on --threads threads;
prints one JSON object."""
import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F


def lenet_loss(params, x, t):
    w1, b1, w2, b2, f1, fb1, f2, fb2, f3, fb3 = params
    h = F.max_pool2d(F.relu(F.conv2d(x, w1, b1, padding=2)), 2)
    h = F.max_pool2d(F.relu(F.conv2d(h, w2, b2)), 2)
    h = h.flatten(1)
    h = F.relu(F.linear(h, f1, fb1))
    h = F.relu(F.linear(h, f2, fb2))
    return F.cross_entropy(F.linear(h, f3, fb3), t)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    g = torch.Generator().manual_seed(5)
    shapes = [(6, 1, 5, 5), (6,), (16, 6, 5, 5), (16,), (120, 400), (120,), (84, 120), (84,), (10, 84), (10,)]
    params = tuple((torch.randn(s, generator=g) * (0.1 if len(s) > 1 else 0.0)).requires_grad_() for s in shapes)
    v = tuple(torch.randn(s, generator=g) for s in shapes)
    x = torch.rand(a.batch, 1, 28, 28, generator=g)
    t = torch.randint(0, 10, (a.batch,), generator=g)

    def loss_of(*p):
        return lenet_loss(p, x, t)

    def gradient():
        torch.autograd.grad(loss_of(*params), params)

    def hvp():
        torch.autograd.functional.hvp(loss_of, params, v)

    grad_fn = torch.func.grad(lambda p: lenet_loss(p, x, t))
    plain = tuple(p.detach() for p in params)

    def jvp_of_grad():
        torch.func.jvp(grad_fn, (plain,), (v,))

    times = {"gradient": [], "hvp": [], "jvp_of_grad": []}
    fns = {"gradient": gradient, "hvp": hvp, "jvp_of_grad": jvp_of_grad}
    for r in range(-3, a.reps):   # alternating; the first 3 warm up
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            if r >= 0:
                times[name].append(time.perf_counter() - t0)
    med = {k: 1e3 * statistics.median(ts) for k, ts in times.items()}
    print(json.dumps({"batch": a.batch, "reps": a.reps, "threads": a.threads, "torch": torch.__version__,
                      "gradient_ms": med["gradient"], "hvp_ms": med["hvp"], "jvp_of_grad_ms": med["jvp_of_grad"],
                      "ratio": med["hvp"] / med["gradient"],
                      "ratio_jvp_of_grad": med["jvp_of_grad"] / med["gradient"]}))


if __name__ == "__main__":
    main()
