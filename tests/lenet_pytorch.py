#!/usr/bin/env python3
"""lenet_pytorch.py: the PyTorch twin of `lenet`, for BENCHMARKS.md.

The identical network (conv 6@5x5 pad 2, ReLU, max-pool 2, conv 16@5x5, ReLU,
max-pool 2, FC 120, ReLU, FC 84, ReLU, FC 10), He-initialised weights and zero
biases, softmax cross-entropy (mean), Adam (lr 1e-3, betas 0.9/0.999, eps 1e-8),
float32, pixels scaled to [0, 1], a fresh shuffle each epoch, and the loss read
back every step (as `lenet` does). Eager mode: one kernel launch per op.

    python3 tests/lenet_pytorch.py --data DIR --batch 64 --epochs 10 --device cuda
    python3 tests/lenet_pytorch.py --batch 256 --epochs 1 --device cpu --threads 2

Prints one line per epoch and, at the end, a JSON line with the same keys as
`lenet --json` (seconds_per_epoch excludes the test pass, as in lenet).
"""
import argparse
import gzip
import json
import math
import os
import struct
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def load_idx(path):
    """An IDX file (gzipped or not) as a uint8 tensor of its shape."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise SystemExit(f"{path}: not an IDX file of unsigned bytes")
    shape = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return torch.frombuffer(bytearray(data[4 + 4 * ndim:]), dtype=torch.uint8).reshape(shape)


def find(data_dir, name):
    for candidate in (name, name + ".gz"):
        p = os.path.join(data_dir, candidate)
        if os.path.exists(p):
            return p
    raise SystemExit(f"{os.path.join(data_dir, name)}: no such file (nor .gz)")


def load_split(data_dir, prefix):
    x = load_idx(find(data_dir, f"{prefix}-images-idx3-ubyte")).float().div_(255.0).unsqueeze(1)
    y = load_idx(find(data_dir, f"{prefix}-labels-idx1-ubyte")).long()
    return x, y


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)
        for m in self.modules():   # as lenet_model.c: N(0, 2/fan_in) weights, zero biases
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                fan_in = m.weight[0].numel()
                nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_in))
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=0,
                    help="CPU threads for PyTorch's kernels (torch.set_num_threads; default: PyTorch's own choice)")
    a = ap.parse_args()
    if a.threads < 0:
        raise SystemExit("lenet_pytorch.py: --threads needs a number >= 1")
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    device = torch.device(a.device)
    train_x, train_y = load_split(a.data, "train")
    test_x, test_y = load_split(a.data, "t10k")
    test_x, test_y = test_x.to(device), test_y.to(device)
    model = LeNet5().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr, betas=(0.9, 0.999), eps=1e-8)
    n = train_x.shape[0]
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"PyTorch {torch.__version__} LeNet-5 on Fashion-MNIST: {n} images, batch {a.batch}, Adam lr {a.lr}, on {name}"
          f", {torch.get_num_threads()} threads")
    losses, accs, secs = [], [], []
    for epoch in range(a.epochs):
        sync(device)
        t0 = time.perf_counter()
        order = torch.randperm(n)
        total = 0.0
        model.train()
        for s in range(0, n, a.batch):
            idx = order[s:s + a.batch]
            # as lenet: gather the batch on the host, send it
            x, y = train_x[idx].to(device), train_y[idx].to(device)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=False)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        sync(device)
        secs.append(time.perf_counter() - t0)
        model.eval()
        with torch.no_grad():
            correct = sum((model(test_x[i:i + 1000]).argmax(1) == test_y[i:i + 1000]).sum().item()
                          for i in range(0, test_x.shape[0], 1000))
        losses.append(total / n)
        accs.append(correct / test_x.shape[0])
        print(f"epoch {epoch + 1:2d}  train loss {losses[-1]:.4f}  test accuracy {100 * accs[-1]:.2f}%  ({secs[-1]:.2f} s)",
              flush=True)
    print(json.dumps({"lesson": "lenet_pytorch", "device": name, "torch": torch.__version__, "batch": a.batch,
                      "threads": torch.get_num_threads(),
                      "epochs": a.epochs, "train_loss": losses, "test_accuracy": accs,
                      "final_test_accuracy": accs[-1], "seconds_per_epoch": sum(secs) / len(secs),
                      "seconds": secs}))


if __name__ == "__main__":
    main()
