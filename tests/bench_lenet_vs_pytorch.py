#!/usr/bin/env python3
"""bench_lenet_vs_pytorch.py: `lenet` against tests/lenet_pytorch.py, side by side.

For each batch size and thread count, one training epoch of each program, the
two run alternately (lenet, PyTorch, lenet, ...) --reps times, so that load
from anything else on the machine falls on both; the table gives the median
seconds per epoch (the training pass; neither counts its test pass), the
ratio PyTorch / lenet (> 1: lenet is faster), and each program's speed-up
from 1 thread to the most threads asked for. Everything it needs it finds
itself:

    python3 tests/bench_lenet_vs_pytorch.py                  # batch 64 and 256, 1 and 2 threads, 3 reps
    python3 tests/bench_lenet_vs_pytorch.py --reps 5 --lenet build-rel/lessons/lenet

Both programs use OpenMP; --wait-policy passive sets OMP_WAIT_POLICY for both,
so that idle threads sleep instead of spinning: on a machine busy with other
work a spinning thread takes the core its partner needs (lenet's epoch went
from 9 s to 229 s at load 15 on two cores); on a quiet machine the default
(spinning a while) is faster.

lenet: --lenet, else $LENET, else build-rel/lessons/lenet (a release build:
meson setup build-rel --buildtype=release -Dcuda=disabled), else build/lessons/lenet.
Python for PyTorch: $AUTODIDACT_PYTHON, else /opt/autodidact-venv/bin/python3,
else python3; where torch cannot be imported it says so and times lenet alone.
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
from project_python import candidate_pythons  # noqa: E402


def find_lenet(arg):
    for cand in (arg, os.environ.get("LENET"), os.path.join(ROOT, "build-rel/lessons/lenet"),
                 os.path.join(ROOT, "build/lessons/lenet")):
        if cand and os.access(cand, os.X_OK):
            return os.path.abspath(cand)
    raise SystemExit("bench_lenet_vs_pytorch: no lenet found: build one (meson setup build-rel --buildtype=release "
                     "-Dcuda=disabled && ninja -C build-rel) or give --lenet PATH")


def buildtype_of(lenet):
    """The meson buildtype of the build directory lenet comes from, if it says."""
    d = os.path.dirname(os.path.dirname(lenet))
    try:
        with open(os.path.join(d, "meson-info", "intro-buildoptions.json")) as f:
            for o in json.load(f):
                if o.get("name") == "buildtype":
                    return o.get("value")
    except (OSError, ValueError):
        pass
    return "unknown"


def find_torch_python():
    """(python, torch version) or (None, the reason)."""
    reasons = []
    for py in candidate_pythons():
        r = subprocess.run([py, "-c", "import torch; print(torch.__version__)"], capture_output=True, text=True)
        if r.returncode == 0:
            return py, r.stdout.strip()
        reasons.append(f"{py}: {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else 'no torch'}")
    return None, "; ".join(reasons) or "no python3 found"


def last_json(text):
    """The JSON document a program printed last (lenet prints it over several lines)."""
    start = text.rfind("\n{")
    start = 0 if start < 0 and text.startswith("{") else start + 1
    return json.loads(text[start:])


def run(cmd, who="bench_lenet_vs_pytorch"):
    """The JSON a program printed last; a failed run stops the script, naming it."""
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{who}: {' '.join(cmd)} failed ({r.returncode}):\n{r.stderr[-2000:]}")
    return last_json(r.stdout)


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lenet", help="the lenet executable")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--batches", default="64,256", help="comma-separated batch sizes (default 64,256)")
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    ap.add_argument("--reps", type=int, default=3, help="runs of each program per setting (default 3)")
    ap.add_argument("--epochs", type=int, default=1, help="epochs per run (default 1)")
    ap.add_argument("--wait-policy", choices=["default", "passive", "active"], default="default",
                    help="OMP_WAIT_POLICY for both programs (default: leave it unset)")
    a = ap.parse_args()
    if a.wait_policy != "default":
        os.environ["OMP_WAIT_POLICY"] = a.wait_policy.upper()
    batches = [int(b) for b in a.batches.split(",")]
    threads = [int(t) for t in a.threads.split(",")]
    if a.reps < 1 or min(batches) < 1 or min(threads) < 1:
        raise SystemExit("bench_lenet_vs_pytorch: --reps, --batches and --threads need numbers >= 1")
    lenet = find_lenet(a.lenet)
    py, torch_version = find_torch_python()
    print(f"machine: {cpu_name()}, {os.cpu_count()} logical CPUs; {time.strftime('%Y-%m-%d %H:%M %Z')}")
    print(f"lenet: {lenet} (buildtype {buildtype_of(lenet)}); OMP_WAIT_POLICY "
          f"{os.environ.get('OMP_WAIT_POLICY', 'unset')}; load average {os.getloadavg()[0]:.1f} at the start")
    if py:
        print(f"PyTorch {torch_version} ({py})")
    else:
        print(f"skipping PyTorch: torch cannot be imported ({torch_version}); timing lenet alone")
    out = tempfile.mkdtemp(prefix="bench_lenet_")
    pyscript = os.path.join(ROOT, "tests", "lenet_pytorch.py")
    times = {}   # (program, batch, threads) -> [seconds per epoch]
    acc = {}
    try:
        for rep in range(a.reps):
            for b in batches:
                for t in threads:
                    common = ["--epochs", str(a.epochs), "--batch", str(b), "--data", a.data]
                    runs = [("lenet", [lenet, *common, "--threads", str(t), "--out", out, "--json"])]
                    if py:
                        runs.append(("pytorch", [py, pyscript, *common, "--threads", str(t), "--device", "cpu"]))
                    if rep % 2:
                        runs.reverse()   # neither always goes first
                    for name, cmd in runs:
                        doc = run(cmd)
                        times.setdefault((name, b, t), []).append(doc["seconds_per_epoch"])
                        acc[(name, b, t)] = doc["final_test_accuracy"]
                        print(f"  rep {rep + 1}/{a.reps}  batch {b:4d}  {t} thread{'s' if t > 1 else ' '}  {name:8s}"
                              f"  {doc['seconds_per_epoch']:6.2f} s/epoch", flush=True)
    finally:
        shutil.rmtree(out, ignore_errors=True)

    def med(name, b, t):
        v = times.get((name, b, t))
        return statistics.median(v) if v else None

    print()
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    print(f"median seconds per epoch of {a.reps} alternating runs ({a.epochs} epoch{'s' if a.epochs > 1 else ''} each)")
    print("| batch | threads | lenet (s) | PyTorch (s) | PyTorch / lenet | lenet accuracy | PyTorch accuracy |")
    print("|---|---|---|---|---|---|---|")
    for b in batches:
        for t in threads:
            ml, mp = med("lenet", b, t), med("pytorch", b, t)
            ratio = f"{mp / ml:.2f}x" if mp else "skipped"
            pts = f"{mp:.2f}" if mp else "skipped"
            pacc = f"{100 * acc[('pytorch', b, t)]:.2f}%" if mp else "skipped"
            print(f"| {b} | {t} | {ml:.2f} | {pts} | {ratio} | {100 * acc[('lenet', b, t)]:.2f}% | {pacc} |")
    if len(threads) > 1:
        lo, hi = min(threads), max(threads)
        print()
        print(f"speed-up from {lo} to {hi} threads (median epoch time at {lo} / at {hi})")
        for b in batches:
            line = f"  batch {b:4d}:  lenet {med('lenet', b, lo) / med('lenet', b, hi):.2f}x"
            if py:
                line += f"   PyTorch {med('pytorch', b, lo) / med('pytorch', b, hi):.2f}x"
            print(line)


if __name__ == "__main__":
    main()
