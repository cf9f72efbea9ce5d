#!/usr/bin/env python3
"""Conformance: every registered op against PyTorch (float64), forward, vjp and jvp.

Usage: conformance.py DRIVER GRADCHECK [--cases N] [--seed S]

For each op, N random cases (default 120): shapes, negative axes and
AD_ALL_AXES, broadcasting, 1-D and batched matmul, NaN/±inf/0 in the inputs,
forced ties. Each case runs through the engine (DRIVER, tests/conform_driver.c)
and through PyTorch; values, input gradients (for one random cotangent) and
the output tangent (for one random tangent) must agree to 1e-9 relative and
1e-10 absolute, NaN where NaN and ±inf where ±inf.

A disagreement fails the test unless a documented convention explains it.
The conventions are the ones `gradcheck --list` prints (the README lists the
same); each has a rule here that says what the engine does instead, and each
is tested both ways: the cases it explains must agree with its rule, and it
must still differ from PyTorch somewhere (a stale entry fails).

Skips (exit 77, with the reason) where torch cannot be imported.
"""
import math
import random
import subprocess
import sys
import warnings

try:
    import torch
    import torch.nn.functional as F
except Exception as e:  # noqa: BLE001 - any import failure means "no torch here"
    print(f"conformance: skipped: PyTorch is not importable ({e.__class__.__name__}: {e})")
    sys.exit(77)

warnings.filterwarnings("ignore")
torch.set_default_dtype(torch.float64)
RTOL, ATOL = 1e-9, 1e-10
ALL = "all"  # AD_ALL_AXES


# ---------------------------------------------------------------- cases
class Case:
    def __init__(self, op, inputs, diff, **params):
        self.op = op
        self.inputs = inputs          # list of (shape, values)
        self.diff = diff              # list of bools
        self.p = dict(axis=0, keepdim=0, c=0.0, reduction=0, ignore=-1, stride=(1, 1), pad=(0, 0),
                      window=(1, 1), shape=(), perm=(0, 1, 2, 3))
        self.p.update(params)
        self.tags = set()

    def encode(self, cot, tans):
        p = self.p
        ax = "all" if p["axis"] == ALL else str(p["axis"])
        shp = list(p["shape"]) + [1] * (4 - len(p["shape"]))
        perm = list(p["perm"]) + list(range(len(p["perm"]), 4))
        out = [f"case {self.op}",
               "params " + " ".join([ax, str(p["keepdim"]), repr(p["c"]), str(p["reduction"]), str(p["ignore"]),
                                     *map(str, p["stride"]), *map(str, p["pad"]), *map(str, p["window"]),
                                     str(len(p["shape"])), *map(str, shp), *map(str, perm)]),
               f"inputs {len(self.inputs)}"]
        for (sh, vals), d in zip(self.inputs, self.diff):
            out.append(" ".join(["in", str(len(sh)), *map(str, sh), "1" if d else "0", *map(repr, vals)]))
        csh, cvals = cot
        out.append(" ".join(["cot", str(len(csh)), *map(str, csh), *map(repr, cvals)]))
        out.append(" ".join(["tan"] + [repr(v) for t in tans for v in t]))
        return "\n".join(out)


def size(sh):
    n = 1
    for d in sh:
        n *= d
    return n


SPECIALS = [math.nan, math.inf, -math.inf, 0.0]


def draw(rng, sh, lo=-2.0, hi=2.0, special=0.0, ties=False):
    vals = [rng.uniform(lo, hi) for _ in range(size(sh))]
    if ties and vals:
        pool = [round(rng.uniform(lo, hi), 1) for _ in range(2)]
        vals = [rng.choice(pool) for _ in vals]
    if special and vals:
        for _ in range(1 + int(special * len(vals))):
            vals[rng.randrange(len(vals))] = rng.choice(SPECIALS)
    return vals


def rand_shape(rng, nd, lo=1, hi=4):
    return tuple(rng.randint(lo, hi) for _ in range(nd))


def bcast_partner(rng, sh):
    """A shape that broadcasts with sh: some dims set to 1, some leading dims dropped."""
    out = [1 if rng.random() < 0.3 else d for d in sh]
    drop = rng.randint(0, len(out))
    return tuple(out[drop:])


def special_rate(rng):
    return rng.choice([0.0, 0.0, 0.15, 0.4])


UNARY = {  # name: (domain lo, hi, torch f)
    "neg": (-2, 2, lambda x, p: -x), "exp": (-2, 2, lambda x, p: torch.exp(x)),
    "log": (0.2, 3, lambda x, p: torch.log(x)), "sqrt": (0.2, 3, lambda x, p: torch.sqrt(x)),
    "sin": (-3, 3, lambda x, p: torch.sin(x)), "cos": (-3, 3, lambda x, p: torch.cos(x)),
    "tanh": (-2, 2, lambda x, p: torch.tanh(x)), "sigmoid": (-4, 4, lambda x, p: torch.sigmoid(x)),
    "relu": (-2, 2, lambda x, p: torch.relu(x)), "abs": (-2, 2, lambda x, p: torch.abs(x)),
    "pow": (0.2, 2, lambda x, p: torch.pow(x, p["c"])), "scale": (-2, 2, lambda x, p: p["c"] * x),
}
BINARY = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b, "div": lambda a, b: a / b,
    "max": torch.maximum, "min": torch.minimum,
}


def gen(op, rng, k):
    """Case k of op (k drives some structured choices so every kind shows up)."""
    s = special_rate(rng)
    if op in UNARY:
        lo, hi, _ = UNARY[op]
        sh = rand_shape(rng, rng.randint(0, 4))
        if op in ("tanh", "sigmoid") and k % 5 == 0:
            lo, hi = -30, 30   # where 1 - y² and sech² part ways
        if op in ("log", "sqrt", "pow") and k % 4 == 0:
            lo = -1            # out of the domain: NaN both sides
        c = rng.choice([2.0, 3.0, 0.5, -1.5, 0.0, 1.0]) if op == "pow" else rng.uniform(-3, 3)
        return Case(op, [(sh, draw(rng, sh, lo, hi, s))], [True], c=c)
    if op in BINARY:
        sh = rand_shape(rng, rng.randint(0, 4))
        sb = bcast_partner(rng, sh) if rng.random() < 0.5 else sh
        if rng.random() < 0.5:
            sh, sb = sb, sh
        ties = op in ("max", "min") and k % 3 == 0
        lo_b = 0.5 if op == "div" and k % 4 else -2
        return Case(op, [(sh, draw(rng, sh, special=s, ties=ties)), (sb, draw(rng, sb, lo_b, 2, s, ties))],
                    [True, True])
    if op in ("sum", "mean"):
        nd = rng.randint(0, 4)
        sh = rand_shape(rng, nd)
        nd1 = max(nd, 1)
        axis = ALL if k % 4 == 0 else rng.randint(-nd1, nd1 - 1)
        return Case(op, [(sh, draw(rng, sh, special=s))], [True], axis=axis, keepdim=rng.randint(0, 1))
    if op in ("softmax", "log_softmax"):
        nd = rng.randint(1, 4)
        sh = rand_shape(rng, nd)
        return Case(op, [(sh, draw(rng, sh, -3, 3, s))], [True], axis=rng.randint(-nd, nd - 1))
    if op == "reshape":
        sh = rand_shape(rng, rng.randint(1, 4))
        n = size(sh)
        divs = [d for d in range(1, n + 1) if n % d == 0]
        a = rng.choice(divs)
        target = [a, n // a]
        if rng.random() < 0.3:
            b = rng.choice([d for d in range(1, target[1] + 1) if target[1] % d == 0])
            target = [a, b, target[1] // b]
        if rng.random() < 0.6:
            target[rng.randrange(len(target))] = -1
        return Case(op, [(sh, draw(rng, sh, special=s))], [True], shape=tuple(target))
    if op == "transpose":
        nd = rng.randint(1, 4)
        sh = rand_shape(rng, nd)
        perm = list(range(nd))
        rng.shuffle(perm)
        perm = [a - nd if rng.random() < 0.4 else a for a in perm]   # negative axes too
        return Case(op, [(sh, draw(rng, sh, special=s))], [True], perm=tuple(perm))
    if op == "matmul":
        M, K, N = rng.randint(1, 4), rng.randint(1, 4), rng.randint(1, 4)
        kind = k % 6
        batch = rand_shape(rng, rng.randint(1, 2))
        if kind == 0:
            sa, sb = (M, K), (K, N)
        elif kind == 1:
            sa, sb = (K,), (K, N) if rng.random() < 0.5 else batch + (K, N)
        elif kind == 2:
            sa, sb = (M, K) if rng.random() < 0.5 else batch + (M, K), (K,)
        elif kind == 3:
            sa, sb = (K,), (K,)
        else:
            sa, sb = batch + (M, K), bcast_partner(rng, batch) + (K, N)
            if rng.random() < 0.5:
                sa, sb = bcast_partner(rng, batch) + (M, K), batch + (K, N)
        return Case(op, [(sa, draw(rng, sa, special=s)), (sb, draw(rng, sb, special=s))], [True, True])
    if op == "linear":
        I, O = rng.randint(1, 4), rng.randint(1, 4)
        sx = rand_shape(rng, rng.randint(0, 3)) + (I,)
        ins = [(sx, draw(rng, sx, special=s)), ((O, I), draw(rng, (O, I), special=s))]
        if rng.random() < 0.6:
            ins.append(((O,), draw(rng, (O,), special=s)))
        return Case(op, ins, [True] * len(ins))
    if op == "cross_entropy":
        N, C = rng.randint(1, 5), rng.randint(1, 5)
        ignore = rng.choice([-1, -1, rng.randrange(C)])
        t = [float(rng.randrange(C)) for _ in range(N)]
        if ignore >= 0:
            t = [float(ignore) if rng.random() < 0.3 else v for v in t]
            if all(v == ignore for v in t):   # a mean over no target is the ce-all-ignored convention's
                t[0] = float((ignore + 1) % C) if C > 1 else t[0]
        red = rng.randint(0, 1)
        if ignore >= 0 and C == 1 and red == 0:
            ignore = -1
        ins = [((N, C), draw(rng, (N, C), -3, 3, s)), ((N,), t)]
        if rng.random() < 0.5:
            ins.append(((C,), [rng.uniform(0.5, 2) for _ in range(C)]))
        return Case(op, ins, [True, False] + [False] * (len(ins) - 2), reduction=red, ignore=ignore)
    if op == "mse":
        sh = rand_shape(rng, rng.randint(0, 3))
        sb = bcast_partner(rng, sh) if rng.random() < 0.5 else sh
        if rng.random() < 0.3:
            sh, sb = sb, sh
        return Case(op, [(sh, draw(rng, sh, special=s)), (sb, draw(rng, sb, special=s))], [True, True])
    if op in ("conv2d", "conv2d_relu"):
        Nb, C, Kc = rng.randint(1, 2), rng.randint(1, 3), rng.randint(1, 3)
        R, S = rng.randint(1, 3), rng.randint(1, 3)
        st, pd = (rng.randint(1, 2), rng.randint(1, 2)), (rng.randint(0, 1), rng.randint(0, 1))
        H, W = R + rng.randint(0, 4), S + rng.randint(0, 4)
        ins = [((Nb, C, H, W), draw(rng, (Nb, C, H, W), special=s)), ((Kc, C, R, S), draw(rng, (Kc, C, R, S)))]
        if rng.random() < 0.5:
            ins.append(((Kc,), draw(rng, (Kc,))))
        return Case(op, ins, [True] * len(ins), stride=st, pad=pd)
    if op in ("maxpool2d", "avgpool2d"):
        win = (rng.randint(1, 3), rng.randint(1, 3))
        st = (rng.randint(1, 3), rng.randint(1, 3))
        sh = (rng.randint(1, 2), rng.randint(1, 2), win[0] + rng.randint(0, 4), win[1] + rng.randint(0, 4))
        return Case(op, [(sh, draw(rng, sh, special=s, ties=k % 4 == 0))], [True], window=win, stride=st)
    return None


# ---------------------------------------------------------------- PyTorch
def axis_dims(p, nd):
    return tuple(range(nd)) if p["axis"] == ALL else p["axis"]


def torch_fn(case, rules=False):
    """The PyTorch function of the case's differentiable inputs (float64):
    plain PyTorch, or (rules) with the engine's documented conventions
    applied, each written as a change to the reference."""
    op, p = case.op, case.p
    const = [torch.tensor(v).reshape(sh) for sh, v in case.inputs]
    if rules and op == "pow" and p["c"] != int(p["c"]):
        # pow-neg-inf: C's pow(-inf, c) is pow(+inf, c) for a non-integer c
        const[0] = torch.where(const[0] == -math.inf, math.inf, const[0])
    if rules and op == "cross_entropy" and p["ignore"] >= 0:
        # ce-ignored-nan: an ignored sample's logits do not reach the loss
        ign = (const[1] == p["ignore"]).unsqueeze(1)
        const[0] = torch.where(ign, 0.0, const[0])

    def full(args):
        it = iter(args)
        return [next(it) if d else c for d, c in zip(case.diff, const)]

    def f(*args):
        x = full(args)
        if op in UNARY:
            return UNARY[op][2](x[0], p)
        if op in BINARY:
            y = BINARY[op](x[0], x[1])
            if rules and op in ("max", "min"):
                # tie-first: at a tie the whole gradient goes to a;
                # nan-both: at a NaN both inputs pass their gradient and tangent
                y = torch.where(x[0] == x[1], x[0], y)
                y = torch.where(torch.isnan(x[0]) | torch.isnan(x[1]), x[0] + x[1], y)
            return y
        if op in ("sum", "mean"):
            fn = torch.sum if op == "sum" else torch.mean
            if x[0].dim() == 0:
                return fn(x[0])
            return fn(x[0], dim=axis_dims(p, x[0].dim()), keepdim=bool(p["keepdim"]))
        if op == "softmax":
            return torch.softmax(x[0], p["axis"])
        if op == "log_softmax":
            return torch.log_softmax(x[0], p["axis"])
        if op == "reshape":
            return x[0].reshape(p["shape"])
        if op == "transpose":
            return x[0].permute(p["perm"][: x[0].dim()])
        if op == "matmul":
            return torch.matmul(x[0], x[1])
        if op == "linear":
            return F.linear(x[0], x[1], x[2] if len(x) > 2 else None)
        if op == "cross_entropy":
            w = x[2] if len(x) > 2 else None
            return F.cross_entropy(x[0], x[1].long(), weight=w, reduction="mean" if p["reduction"] == 0 else "sum",
                                   ignore_index=p["ignore"] if p["ignore"] >= 0 else -100)
        if op == "mse":
            return F.mse_loss(x[0], x[1])
        if op in ("conv2d", "conv2d_relu"):
            y = F.conv2d(x[0], x[1], x[2] if len(x) > 2 else None, stride=p["stride"], padding=p["pad"])
            return F.relu(y) if op == "conv2d_relu" else y
        if op == "maxpool2d":
            if rules:   # maxpool-nan-first: the engine's window rule, as a gather
                idx = maxpool_first(x[0].detach(), p["window"], p["stride"])
                return x[0].flatten(-2).gather(-1, idx.flatten(-2)).reshape(idx.shape)
            return F.max_pool2d(x[0], p["window"], p["stride"])
        if op == "avgpool2d":
            return F.avg_pool2d(x[0], p["window"], p["stride"])
        raise KeyError(op)

    prim = [c for d, c in zip(case.diff, const) if d]
    return f, prim


def maxpool_first(x, win, stride):
    """Each window's winner as the engine takes it: the first NaN in row-major
    order if there is one, else the first maximum. Flat indices into H·W."""
    N, C, H, W = x.shape
    P, Q = (H - win[0]) // stride[0] + 1, (W - win[1]) // stride[1] + 1
    idx = torch.zeros((N, C, P, Q), dtype=torch.long)
    for n in range(N):
        for c in range(C):
            for i in range(P):
                for j in range(Q):
                    best = None
                    for r in range(win[0]):
                        for t in range(win[1]):
                            h, w = i * stride[0] + r, j * stride[1] + t
                            v = x[n, c, h, w].item()
                            if best is None or (not math.isnan(best[0]) and (math.isnan(v) or v > best[0])):
                                best = (v, h * W + w)
                    idx[n, c, i, j] = best[1]
    return idx


def run_torch(case, cot, tans, rules=False):
    f, prim = torch_fn(case, rules)
    try:
        xs = [t.clone().requires_grad_(True) for t in prim]
        y = f(*xs)
        c = torch.tensor(cot).reshape(y.shape)
        gs = torch.autograd.grad(y, xs, grad_outputs=c, allow_unused=True)
        gs = [g if g is not None else torch.zeros_like(x) for g, x in zip(gs, xs)]
        tv = [torch.tensor(t).reshape(x.shape) for t, x in zip(tans, prim)]
        _, ty = torch.func.jvp(f, tuple(prim), tuple(tv))
    except RuntimeError as e:
        return {"error": str(e).splitlines()[0]}
    return {"y": (tuple(y.shape), y.detach().flatten().tolist()), "g": [g.flatten().tolist() for g in gs],
            "t": ty.detach().flatten().tolist()}


def out_shape(case):
    f, prim = torch_fn(case)
    try:
        return tuple(f(*prim).shape)
    except RuntimeError:
        return None


# ---------------------------------------------------------------- compare
def close(a, b):
    if math.isnan(b) or math.isnan(a):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(b) or math.isinf(a):
        return a == b
    return abs(a - b) <= ATOL + RTOL * abs(b)


def close_nonfinite(a, b):
    return close(a, b) or (not math.isfinite(a) and not math.isfinite(b))


def differ(eng, ref, relaxed=False):
    """None if they agree, else a short description of the first difference.
    relaxed: a derivative entry non-finite in both agrees (inf-arithmetic)."""
    if "error" in eng or "error" in ref:
        if "error" in eng and "error" in ref:
            return None
        return f"engine: {eng.get('error', 'ok')} / torch: {ref.get('error', 'ok')}"
    if tuple(eng["y"][0]) != tuple(ref["y"][0]):
        return f"output shape {eng['y'][0]} vs torch {ref['y'][0]}"
    parts = [("value", eng["y"][1], ref["y"][1]), ("tangent", eng["t"], ref["t"])]
    parts += [(f"grad of input {i}", g, r) for i, (g, r) in enumerate(zip(eng["g"], ref["g"]))]
    for what, a, b in parts:
        if len(a) != len(b):
            return f"{what}: {len(a)} elements vs torch {len(b)}"
        same = close_nonfinite if relaxed and what != "value" else close
        for i, (u, v) in enumerate(zip(a, b)):
            if not same(u, v):
                return f"{what}[{i}]: engine {u!r}, torch {v!r}"
    return None


# ---------------------------------------------------------------- conventions
def has_special(case):
    return any(not math.isfinite(v) for _, vals in case.inputs for v in vals)


def all_ignored_mean(case):
    if case.op != "cross_entropy" or case.p["reduction"] != 0:
        return False
    t = case.inputs[1][1]
    return case.p["ignore"] >= 0 and all(v == case.p["ignore"] for v in t)


def binary_pairs(case):
    a = torch.tensor(case.inputs[0][1]).reshape(case.inputs[0][0])
    b = torch.tensor(case.inputs[1][1]).reshape(case.inputs[1][0])
    return torch.broadcast_tensors(a, b)


def ignored_nonfinite(case):
    if case.op != "cross_entropy" or case.p["ignore"] < 0:
        return False
    (N, C), x = case.inputs[0]
    return any(case.inputs[1][1][n] == case.p["ignore"] and not all(math.isfinite(v) for v in x[n * C:(n + 1) * C])
               for n in range(N))


# name -> does this case show it (the features the convention is about).
# A disagreement counts as explained only where the reference with the rules
# (torch_fn(rules=True)) agrees AND some convention shows in the case.
CONVENTIONS = {
    "tie-first": lambda c: c.op in ("max", "min") and bool((lambda a, b: (a == b).any())(*binary_pairs(c))),
    "nan-both": lambda c: c.op in ("max", "min") and bool((lambda a, b: (a.isnan() | b.isnan()).any())(
        *binary_pairs(c))),
    "pow-neg-inf": lambda c: c.op == "pow" and c.p["c"] != int(c.p["c"]) and -math.inf in c.inputs[0][1],
    "ce-ignored-nan": ignored_nonfinite,
    "maxpool-nan-first": lambda c: c.op == "maxpool2d" and any(math.isnan(v) for v in c.inputs[0][1]),
    "ce-all-ignored": all_ignored_mean,
    "inf-arithmetic": has_special,
}
def explained_by(case, eng, cot, tans):
    """The conventions that explain the engine's result on this case, or []."""
    shows = [n for n, applies in CONVENTIONS.items() if applies(case)]
    if "inf-arithmetic" not in shows and "y" in eng and not all(math.isfinite(v) for v in eng["y"][1]):
        shows.append("inf-arithmetic")   # made inside the op (1/0), not given
    if "ce-all-ignored" in shows:
        return ["ce-all-ignored"] if "error" in eng and "every target is ignored" in eng["error"] else []
    ref = run_torch(case, cot, tans, rules=True)
    if differ(eng, ref) is None:
        return [n for n in shows if n != "inf-arithmetic"]
    if "inf-arithmetic" in shows and differ(eng, ref, relaxed=True) is None:
        return shows
    return []


def convention_cases(rng):
    """Cases built to show each convention."""
    out = []
    for op in ("max", "min"):
        for sh in [(3,), (2, 3), ()]:
            a = draw(rng, sh)
            out.append(("tie-first", Case(op, [(sh, a), (sh, list(a))], [True, True])))
        out.append(("tie-first", Case(op, [((2, 2), [1.0, math.inf, -math.inf, 2.0]),
                                           ((2,), [1.0, math.inf])], [True, True])))
    for op in ("max", "min"):
        out.append(("nan-both", Case(op, [((3,), [math.nan, 1.0, 2.0])], [True])))
        out[-1][1].inputs.append(((3,), [1.0, math.nan, math.nan]))
        out[-1][1].diff.append(True)
    out.append(("pow-neg-inf", Case("pow", [((3,), [-math.inf, 1.0, 4.0])], [True], c=0.5)))
    out.append(("ce-ignored-nan", Case("cross_entropy", [((2, 2), [math.nan, 1.0, 0.5, -0.5]), ((2,), [1.0, 0.0])],
                                       [True, False], reduction=1, ignore=1)))
    out.append(("inf-arithmetic", Case("div", [((2,), [1.0, -2.0]), ((2,), [0.0, 0.0])], [True, True])))
    out.append(("maxpool-nan-first", Case("maxpool2d", [((1, 1, 2, 2), [math.nan, 1.0, math.nan, 0.0])], [True],
                                          window=(2, 2), stride=(2, 2))))
    for red in (0,):
        out.append(("ce-all-ignored", Case("cross_entropy", [((3, 2), draw(rng, (3, 2))), ((3,), [1.0, 1.0, 1.0])],
                                           [True, False], reduction=red, ignore=1)))
    return out


# ---------------------------------------------------------------- main
def parse_driver(text):
    res, cur = [], None
    for line in text.splitlines():
        w = line.split(" ", 1)
        if w[0] == "case":
            cur = {"g": []}
            res.append(cur)
        elif w[0] == "error":
            cur.clear()
            cur["error"] = w[1] if len(w) > 1 else ""
        elif "error" in cur:
            continue
        elif w[0] == "y":
            f = w[1].split()
            nd = int(f[0])
            cur["y"] = (tuple(int(v) for v in f[1:1 + nd]), [float(v) for v in f[1 + nd:]])
        elif w[0] == "g":
            cur["g"].append([float(v) for v in w[1].split()[1:]])
        elif w[0] == "t":
            cur["t"] = [float(v) for v in w[1].split()] if len(w) > 1 else []
    return res


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        print(__doc__)
        return 2
    driver, gradcheck = args[0], args[1]
    n_cases = int(args[args.index("--cases") + 1]) if "--cases" in args else 120
    seed = int(args[args.index("--seed") + 1]) if "--seed" in args else 18
    rng = random.Random(seed)

    listing = subprocess.run([gradcheck, "--list"], capture_output=True, text=True, check=True).stdout
    table = listing.split("\n\n")[0].splitlines()[1:]   # the op table, up to the blank line
    ops = [ln.split()[0] for ln in table if ln.strip()]
    listed = sorted(ln.split()[1].rstrip(":") for ln in listing.splitlines() if ln.startswith("convention "))
    failures = []
    if listed != sorted(CONVENTIONS):
        failures.append(f"gradcheck --list names the conventions {listed}; this test checks {sorted(CONVENTIONS)}")

    work = []   # (op, label, case, cot, tans)
    for op in ops:
        made = 0
        for k in range(10 * n_cases):
            if made == n_cases:
                break
            c = gen(op, rng, k)
            if c is None:
                failures.append(f"{op}: the conformance test has no case generator for it")
                break
            sh = out_shape(c)
            if sh is None:
                continue   # a draw PyTorch itself refuses (a window larger than the input, say)
            cot = (sh, [rng.uniform(-1, 1) for _ in range(size(sh))])
            tans = [[rng.uniform(-1, 1) for _ in range(size(s))] for (s, _), d in zip(c.inputs, c.diff) if d]
            work.append((op, None, c, cot, tans))
            made += 1
        if 0 < made < n_cases:
            failures.append(f"{op}: only {made} cases could be drawn")
    for name, c in convention_cases(rng):
        sh = out_shape(c) or ()
        cot = (sh, [rng.uniform(-1, 1) for _ in range(size(sh))])
        tans = [[rng.uniform(-1, 1) for _ in range(size(s))] for (s, _), d in zip(c.inputs, c.diff) if d]
        work.append((c.op, name, c, cot, tans))

    text = "\n".join(c.encode(cot, tans) for _, _, c, cot, tans in work) + "\n"
    run = subprocess.run([driver], input=text, capture_output=True, text=True)
    if run.returncode != 0:
        print(f"conformance: the driver failed ({run.returncode}): {run.stderr}")
        return 1
    results = parse_driver(run.stdout)
    if len(results) != len(work):
        print(f"conformance: the driver answered {len(results)} cases of {len(work)}")
        return 1

    stats = {}
    shown = {}
    conv_differs = {n: 0 for n in CONVENTIONS}
    for (op, label, c, cot, tans), eng in zip(work, results):
        st = stats.setdefault(op, {"cases": 0, "special": 0, "neg_axis": 0, "agree": 0, "convention": 0})
        st["cases"] += 1
        st["special"] += has_special(c)
        st["neg_axis"] += (isinstance(c.p["axis"], int) and c.p["axis"] < 0 and op in (
            "sum", "mean", "softmax", "log_softmax")) or (op == "transpose" and min(c.p["perm"]) < 0)
        ref = run_torch(c, cot[1], tans)
        d = differ(eng, ref)
        if d is None:
            st["agree"] += 1
            if label:
                failures.append(f"convention {label}: its own case agrees with PyTorch: {c.op} {c.inputs}")
            continue
        why = explained_by(c, eng, cot[1], tans)
        if why:
            st["convention"] += 1
            for n in why:
                conv_differs[n] += 1
            continue
        if shown.get(op, 0) < 3:
            shapes = ", ".join(str(tuple(s)) for s, _ in c.inputs)
            vals = "; ".join(" ".join(f"{v:.3g}" for v in vs[:8]) for _, vs in c.inputs)
            failures.append(f"{op} [{shapes}, params {({k: v for k, v in c.p.items() if v})}]: {d}  (inputs {vals})")
        shown[op] = shown.get(op, 0) + 1

    print(f"{'op':<14} {'cases':>5} {'NaN/inf':>7} {'neg axis':>8} {'agree':>6} {'by conv':>7}")
    for op, st in stats.items():
        print(f"{op:<14} {st['cases']:>5} {st['special']:>7} {st['neg_axis']:>8} {st['agree']:>6} "
              f"{st['convention']:>7}")
        if st["cases"] < n_cases:
            failures.append(f"{op}: {st['cases']} cases, fewer than {n_cases}")
        failed = st["cases"] - st["agree"] - st["convention"]
        if failed:
            failures.append(f"{op}: {failed} of {st['cases']} cases disagree with PyTorch")
    for n in CONVENTIONS:
        print(f"convention {n}: {conv_differs[n]} cases differ from PyTorch as documented")
        if conv_differs[n] == 0:
            failures.append(f"convention {n}: no case differs from PyTorch any more: remove it from the list")
    if failures:
        print("\nFAIL:")
        for f in failures:
            print("  " + f)
        return 1
    print(f"\nconformance: {sum(s['cases'] for s in stats.values())} cases over {len(stats)} ops agree with PyTorch "
          f"{torch.__version__} (float64) up to the documented conventions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
