"""How much does chainrule's engine cost on top of NumPy, and how does it compare with PyTorch?

Two measurements, each library in its own process, processes alternating (see ``_common.py``):

(a) **Per-op overhead**: microseconds per call on small float32 tensors (32x32 by default), forward
    only and forward + backward, for the bare NumPy computation (the floor: the same arrays
    operations chainrule's forward does, and a hand-written backward), chainrule, and PyTorch
    eager on the CPU. On tensors this small almost all of chainrule's time is Python overhead.
(b) **One training step** of a 40-100-100-10 ReLU MLP at batch 100: softmax cross-entropy, SGD
    with momentum 0.9, float32. NumPy written by hand (forward, hand-derived backward and the
    update: the overhead-free floor), chainrule's engine (``cr.linear``, ``cr.relu``,
    ``cr.log_softmax``, integer-array indexing, ``mean``, ``backward()``, an in-place update of
    the ``.numpy()`` arrays under ``cr.no_grad()``), and PyTorch eager (``nn.Linear``,
    ``F.cross_entropy``, ``torch.optim.SGD``). Every library starts from the same weights (drawn
    once with NumPy) and sees the same batches in the same order; the first losses are compared
    to show that all of them do the same job.

Usage::

    python benchmarks/overhead.py                    # both parts, 3 processes per library
    python benchmarks/overhead.py --repeats 5 --json benchmarks/results/overhead.json
    python benchmarks/overhead.py --only mlp --steps 1000

PyTorch is optional (``pip install torch==2.13.0``): without it its columns show a dash.
The data is synthetic (a random teacher network labels Gaussian inputs) so that the script needs
no download; the step time does not depend on the values.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common

LIBRARIES = ("numpy", "chainrule", "torch", "chainrule-fused")
OP_LIBRARIES = ("numpy", "chainrule", "torch")  # chainrule-fused differs only in the MLP's loss
LABELS = {"numpy": "NumPy", "chainrule": "chainrule", "torch": "PyTorch", "chainrule-fused": "chainrule, fused loss"}
OPS = (
    "add",
    "add (broadcast bias)",
    "mul",
    "exp",
    "tanh",
    "sigmoid",
    "relu",
    "sum",
    "matmul",
    "reshape",
    "index (slice)",
    "index (int arrays)",
    "log_softmax",
    "linear",
)
LAYERS = (40, 100, 100, 10)
N_TRAIN, N_TEST = 4000, 1000
FIRST_LOSSES = 5  # losses compared across libraries


# ================================================================== inputs, made once by the parent


def make_inputs(path: Path, size: int, seed: int = 0) -> None:
    """Draw every array the workers need (op operands, MLP weights, data) and save them."""
    rng = np.random.default_rng(seed)
    f32 = np.float32
    arrays: dict[str, np.ndarray] = {
        "a": rng.standard_normal((size, size)).astype(f32),
        "b": rng.standard_normal((size, size)).astype(f32),
        "bias": rng.standard_normal(size).astype(f32),
        "g": rng.standard_normal((size, size)).astype(f32),  # output gradients are cut from this
        "cols": rng.integers(0, size, size),
    }
    # MLP weights: PyTorch's default init for nn.Linear, U(-1/sqrt(in), 1/sqrt(in)), W of shape (out, in)
    for i, (n_in, n_out) in enumerate(itertools.pairwise(LAYERS), start=1):
        bound = 1.0 / math.sqrt(n_in)
        arrays[f"W{i}"] = rng.uniform(-bound, bound, (n_out, n_in)).astype(f32)
        arrays[f"b{i}"] = rng.uniform(-bound, bound, n_out).astype(f32)
    # data: a random tanh teacher labels Gaussian inputs, so the MLP has something to learn
    x = rng.standard_normal((N_TRAIN + N_TEST, LAYERS[0])).astype(f32)
    teacher_a = rng.standard_normal((LAYERS[0], 64)) / math.sqrt(LAYERS[0]) * 2.0
    teacher_b = rng.standard_normal((64, LAYERS[-1]))
    y = np.argmax(np.tanh(x @ teacher_a) @ teacher_b, axis=1).astype(np.int64)
    arrays.update(x_train=x[:N_TRAIN], y_train=y[:N_TRAIN], x_test=x[N_TRAIN:], y_test=y[N_TRAIN:])
    np.savez(path, **arrays)


def output_gradient(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A fixed gradient of ``shape`` for an op's output (the first entries of ``g``)."""
    n = int(np.prod(shape))
    return np.ascontiguousarray(g.reshape(-1)[:n].reshape(shape))


# ================================================================== (a) per-op workers
# Each library gives, per op, a forward-only callable and a forward+backward callable, plus a
# `check` returning (sum of the output, sums of the input gradients) so the parent can confirm
# that the three libraries compute the same thing.


def numpy_ops(d: dict[str, np.ndarray]) -> dict[str, dict[str, Callable]]:
    """The floor: chainrule's forward arrays calls, and the least NumPy a backward needs."""
    a, b, bias, g, cols = d["a"], d["b"], d["bias"], d["g"], d["cols"]
    rows = np.arange(a.shape[0])
    n = a.shape[0]
    half = n // 2
    ones = np.ones((1, 1), dtype=a.dtype)
    g_reshape = output_gradient(g, (2 * n, n // 2))
    g_half = output_gradient(g, (n, half))
    g_pick = output_gradient(g, (n,))

    def sigmoid(x):
        return np.exp(-np.logaddexp(0, -x))

    def log_softmax(x):
        shifted = x - np.max(x, axis=-1, keepdims=True)
        shifted -= np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))
        return shifted

    def slice_bwd():
        out = np.zeros_like(a)
        out[:, :half] = g_half
        return (out,)

    def pick_bwd():
        out = np.zeros_like(a)
        np.add.at(out, (rows, cols), g_pick)
        return (out,)

    def linear_fwd():
        out = a @ b.T
        out += bias
        return out

    def with_output(fwd, bwd):
        """fwd+bwd callable: the backward may use the forward's output ``y``."""
        return lambda: bwd(fwd())

    ops = {
        "add": (lambda: a + b, lambda y: (g, g.copy())),  # each leaf gets its own array
        "add (broadcast bias)": (lambda: a + bias, lambda y: (g, g.sum(axis=0))),
        "mul": (lambda: a * b, lambda y: (g * b, g * a)),
        "exp": (lambda: np.exp(a), lambda y: (g * y,)),
        "tanh": (lambda: np.tanh(a), lambda y: (g * (1.0 - y * y),)),
        "sigmoid": (lambda: sigmoid(a), lambda y: (g * (y * (1.0 - y)),)),
        "relu": (lambda: np.maximum(a, 0), lambda y: (g * (a > 0),)),
        "sum": (lambda: np.sum(a), lambda y: (np.broadcast_to(ones, a.shape),)),
        "matmul": (lambda: a @ b, lambda y: (g @ b.T, a.T @ g)),
        "reshape": (lambda: a.reshape(2 * n, n // 2), lambda y: (g_reshape.reshape(a.shape),)),
        "index (slice)": (lambda: a[:, :half], lambda y: slice_bwd()),
        "index (int arrays)": (lambda: a[rows, cols], lambda y: pick_bwd()),
        "log_softmax": (
            lambda: log_softmax(a),
            lambda y: (g - np.exp(y) * np.sum(g, axis=-1, keepdims=True),),
        ),
        "linear": (linear_fwd, lambda y: (g @ b, g.T @ a, g.sum(axis=0))),
    }
    result = {}
    for name, (fwd, bwd) in ops.items():
        both = with_output(fwd, bwd)
        result[name] = {
            "fwd": fwd,
            "fwdbwd": both,
            "check": (
                lambda fwd=fwd, both=both: (
                    float(np.sum(fwd(), dtype=np.float64)),
                    [float(np.sum(x, dtype=np.float64)) for x in both()],
                )
            ),
        }
    return result


def autodiff_ops(
    ops: dict[str, tuple[Callable, tuple]], gradients: dict[tuple, Any], to_numpy: Callable[[Any], np.ndarray]
) -> dict[str, dict[str, Callable]]:
    """For an autodiff library (chainrule or PyTorch): each op's forward, its forward + backward
    (the output's gradient from ``gradients`` by shape, the leaves' .grad collected and reset), and
    a check of both as float64 sums (``to_numpy`` reads a tensor's values)."""
    result = {}
    for name, (fwd, leaves) in ops.items():

        def both(fwd=fwd, leaves=leaves):
            y = fwd()
            y.backward(gradients[tuple(y.shape)])
            grads = [t.grad for t in leaves]
            for t in leaves:
                t.grad = None
            return y, grads

        def check(both=both):
            y, grads = both()
            return (
                float(np.sum(to_numpy(y), dtype=np.float64)),
                [float(np.sum(to_numpy(g), dtype=np.float64)) for g in grads],
            )

        result[name] = {"fwd": fwd, "fwdbwd": both, "check": check}
    return result


def chainrule_ops(d: dict[str, np.ndarray]) -> dict[str, dict[str, Callable]]:
    import chainrule as cr

    n = d["a"].shape[0]
    half = n // 2
    rows = np.arange(n)
    cols = d["cols"]

    def leaf(name: str) -> cr.Tensor:
        return cr.tensor(d[name], requires_grad=True)

    a, b, bias = leaf("a"), leaf("b"), leaf("bias")
    gradients = {
        (n, n): cr.tensor(d["g"]),
        (2 * n, n // 2): cr.tensor(output_gradient(d["g"], (2 * n, n // 2))),
        (n, half): cr.tensor(output_gradient(d["g"], (n, half))),
        (n,): cr.tensor(output_gradient(d["g"], (n,))),
        (): None,
    }
    ops: dict[str, tuple[Callable, tuple]] = {
        "add": (lambda: a + b, (a, b)),
        "add (broadcast bias)": (lambda: a + bias, (a, bias)),
        "mul": (lambda: a * b, (a, b)),
        "exp": (lambda: cr.exp(a), (a,)),
        "tanh": (lambda: cr.tanh(a), (a,)),
        "sigmoid": (lambda: cr.sigmoid(a), (a,)),
        "relu": (lambda: cr.relu(a), (a,)),
        "sum": (lambda: cr.sum(a), (a,)),
        "matmul": (lambda: a @ b, (a, b)),
        "reshape": (lambda: a.reshape(2 * n, n // 2), (a,)),
        "index (slice)": (lambda: a[:, :half], (a,)),
        "index (int arrays)": (lambda: a[rows, cols], (a,)),
        "log_softmax": (lambda: cr.log_softmax(a, axis=-1), (a,)),
        "linear": (lambda: cr.linear(a, b, bias), (a, b, bias)),
    }
    return autodiff_ops(ops, gradients, lambda t: t.numpy())


def torch_ops(d: dict[str, np.ndarray]) -> dict[str, dict[str, Callable]]:
    import torch
    import torch.nn.functional as F

    n = d["a"].shape[0]
    half = n // 2
    rows = torch.arange(n)
    cols = torch.from_numpy(d["cols"])

    def leaf(name: str) -> torch.Tensor:
        return torch.from_numpy(d[name].copy()).requires_grad_()

    a, b, bias = leaf("a"), leaf("b"), leaf("bias")
    gradients = {
        (n, n): torch.from_numpy(d["g"].copy()),
        (2 * n, n // 2): torch.from_numpy(output_gradient(d["g"], (2 * n, n // 2))),
        (n, half): torch.from_numpy(output_gradient(d["g"], (n, half))),
        (n,): torch.from_numpy(output_gradient(d["g"], (n,))),
        (): None,
    }
    ops: dict[str, tuple[Callable, tuple]] = {
        "add": (lambda: a + b, (a, b)),
        "add (broadcast bias)": (lambda: a + bias, (a, bias)),
        "mul": (lambda: a * b, (a, b)),
        "exp": (lambda: torch.exp(a), (a,)),
        "tanh": (lambda: torch.tanh(a), (a,)),
        "sigmoid": (lambda: torch.sigmoid(a), (a,)),
        "relu": (lambda: torch.relu(a), (a,)),
        "sum": (lambda: torch.sum(a), (a,)),
        "matmul": (lambda: a @ b, (a, b)),
        "reshape": (lambda: a.reshape(2 * n, n // 2), (a,)),
        "index (slice)": (lambda: a[:, :half], (a,)),
        "index (int arrays)": (lambda: a[rows, cols], (a,)),
        "log_softmax": (lambda: torch.log_softmax(a, dim=-1), (a,)),
        "linear": (lambda: F.linear(a, b, bias), (a, b, bias)),
    }
    return autodiff_ops(ops, gradients, lambda t: t.detach().numpy())


def ops_worker(library: str, d: dict[str, np.ndarray], repeats: int, clock: Callable[[], float]) -> dict[str, Any]:
    make = {"numpy": numpy_ops, "chainrule": chainrule_ops, "torch": torch_ops}[library]
    ops = make(d)
    out: dict[str, Any] = {}
    for name in OPS:
        op = ops[name]
        out[name] = {
            "fwd_us": _common.time_per_call(op["fwd"], repeats=repeats, clock=clock) * 1e6,
            "fwdbwd_us": _common.time_per_call(op["fwdbwd"], repeats=repeats, clock=clock) * 1e6,
            "check": op["check"](),
        }
    return out


# ================================================================== (b) MLP step workers


def batches(d: dict[str, np.ndarray], batch: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The training set cut into contiguous batches, always in the same order."""
    x, y = d["x_train"], d["y_train"]
    return [(x[i : i + batch].copy(), y[i : i + batch].copy()) for i in range(0, len(x) - batch + 1, batch)]


def initial_weights(d: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Fresh copies of W1, b1, W2, b2, W3, b3."""
    names = [f"{kind}{i}" for i in range(1, len(LAYERS)) for kind in ("W", "b")]
    return [d[name].copy() for name in names]


def sgd_momentum_(
    params: list[np.ndarray], grads: list[np.ndarray], buffers: list[np.ndarray], lr: float, momentum: float
) -> None:
    """PyTorch's SGD with momentum, in place: v = momentum * v + g; p -= lr * v."""
    for p, g, v in zip(params, grads, buffers):
        v *= momentum
        v += g
        p -= lr * v


def accuracy(weights: list[np.ndarray], x: np.ndarray, y: np.ndarray) -> float:
    """Test accuracy of the MLP with these weights (NumPy forward pass)."""
    h = x
    for i in range(0, len(weights), 2):
        h = h @ weights[i].T + weights[i + 1]
        if i + 2 < len(weights):
            h = np.maximum(h, 0)
    return float(np.mean(np.argmax(h, axis=1) == y))


def numpy_mlp(d: dict[str, np.ndarray], lr: float, momentum: float):
    """NumPy written by hand: forward, hand-derived backward, in-place momentum update."""
    params = initial_weights(d)
    buffers = [np.zeros_like(p) for p in params]

    def step(x: np.ndarray, y: np.ndarray) -> float:
        W1, b1, W2, b2, W3, b3 = params
        n = len(y)
        rows = np.arange(n)
        h1 = x @ W1.T
        h1 += b1
        a1 = np.maximum(h1, 0)
        h2 = a1 @ W2.T
        h2 += b2
        a2 = np.maximum(h2, 0)
        z = a2 @ W3.T
        z += b3
        z -= np.max(z, axis=1, keepdims=True)  # log-softmax
        z -= np.log(np.sum(np.exp(z), axis=1, keepdims=True))
        loss = -np.mean(z[rows, y])
        dz = np.exp(z)  # softmax - one_hot, over n
        dz[rows, y] -= 1.0
        dz /= n
        gW3 = dz.T @ a2
        gb3 = dz.sum(axis=0)
        da2 = dz @ W3
        da2 *= h2 > 0
        gW2 = da2.T @ a1
        gb2 = da2.sum(axis=0)
        da1 = da2 @ W2
        da1 *= h1 > 0
        gW1 = da1.T @ x
        gb1 = da1.sum(axis=0)
        sgd_momentum_(params, [gW1, gb1, gW2, gb2, gW3, gb3], buffers, lr, momentum)
        return float(loss)

    return step, lambda: params, None


def chainrule_mlp(d: dict[str, np.ndarray], lr: float, momentum: float, fused_loss: bool = False):
    """chainrule's engine used directly: leaf tensors, fused linear, backward(), update .numpy().

    The loss is log_softmax, the target entries picked by integer-array indexing, and a mean (four
    nodes); with ``fused_loss`` it is ``chainrule.nn.functional.cross_entropy`` (one node).
    """
    import chainrule as cr

    if fused_loss:
        from chainrule.nn.functional import cross_entropy

    params = [cr.tensor(w, requires_grad=True) for w in initial_weights(d)]
    buffers = [np.zeros_like(p.numpy()) for p in params]
    rows_cache: dict[int, np.ndarray] = {}

    def step(x: np.ndarray, y: np.ndarray) -> float:
        W1, b1, W2, b2, W3, b3 = params
        rows = rows_cache.get(len(y))
        if rows is None:
            rows = rows_cache[len(y)] = np.arange(len(y))
        h = cr.relu(cr.linear(cr.Tensor(x), W1, b1))
        h = cr.relu(cr.linear(h, W2, b2))
        logits = cr.linear(h, W3, b3)
        if fused_loss:
            loss = cross_entropy(logits, cr.Tensor(y))
        else:
            loss = -cr.log_softmax(logits, axis=-1)[rows, y].mean()
        loss.backward()
        with cr.no_grad():
            sgd_momentum_([p.numpy() for p in params], [p.grad.numpy() for p in params], buffers, lr, momentum)
            for p in params:
                p.grad = None
        return loss.item()

    def count_nodes(x: np.ndarray, y: np.ndarray) -> int:
        """How many Function.apply calls (graph nodes) one step makes; a plain backward makes none."""
        from chainrule.autograd import Function

        original = Function.__dict__["apply"]
        calls = [0]

        def counting(cls, *args, **kwargs):
            calls[0] += 1
            return original.__func__(cls, *args, **kwargs)

        Function.apply = classmethod(counting)
        try:
            step(x, y)
        finally:
            Function.apply = original
        return calls[0]

    return step, lambda: [p.numpy() for p in params], count_nodes


def torch_mlp(d: dict[str, np.ndarray], lr: float, momentum: float):
    """PyTorch eager: nn.Linear + ReLU, F.cross_entropy, torch.optim.SGD(momentum=0.9)."""
    import torch
    import torch.nn.functional as F

    weights = initial_weights(d)
    layers = []
    for i in range(0, len(weights), 2):
        layer = torch.nn.Linear(weights[i].shape[1], weights[i].shape[0])
        with torch.no_grad():
            layer.weight.copy_(torch.from_numpy(weights[i]))
            layer.bias.copy_(torch.from_numpy(weights[i + 1]))
        layers.append(layer)
        if i + 2 < len(weights):
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)

    def step(x: np.ndarray, y: np.ndarray) -> float:
        loss = F.cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(y))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.item()

    def final() -> list[np.ndarray]:
        return [p.detach().numpy().copy() for p in model.parameters()]

    return step, final, None


def mlp_worker(library: str, d: dict[str, np.ndarray], args: argparse.Namespace) -> dict[str, Any]:
    """Train for ``warmup + steps`` steps; time the last ``steps`` in blocks of ``block`` steps."""
    make = {
        "numpy": numpy_mlp,
        "chainrule": chainrule_mlp,
        "torch": torch_mlp,
        "chainrule-fused": lambda d, lr, momentum: chainrule_mlp(d, lr, momentum, fused_loss=True),
    }[library]
    step, final_weights, count_nodes = make(d, args.lr, args.momentum)
    clock = _common.CLOCKS[args.clock]
    data = batches(d, args.batch)
    losses: list[float] = []
    for i in range(args.warmup):
        x, y = data[i % len(data)]
        losses.append(step(x, y))
    block_ms = []  # mean step time of each block; timing blocks keeps the clock's own cost out
    i = args.warmup
    while i < args.warmup + args.steps:
        size = min(args.block, args.warmup + args.steps - i)
        start = clock()
        for j in range(i, i + size):
            x, y = data[j % len(data)]
            losses.append(step(x, y))
        block_ms.append((clock() - start) / size * 1e3)
        i += size
    result = {
        "step_ms_median": float(np.median(block_ms)),
        "step_ms_min": float(np.min(block_ms)),
        "first_losses": losses[:FIRST_LOSSES],
        "last_loss": losses[-1],
        "steps": len(losses),
        "test_accuracy": accuracy(final_weights(), d["x_test"], d["y_test"]),
    }
    if count_nodes is not None:
        x, y = data[0]
        result["nodes_per_step"] = count_nodes(x, y)
    return result


# ================================================================== worker entry point


def worker(args: argparse.Namespace) -> None:
    _common.use_repo_chainrule()
    with np.load(args.inputs) as f:
        d = {k: f[k] for k in f.files}
    result: dict[str, Any] = {"library": args.worker}
    if args.worker == "torch":
        import torch

        if args.threads is not None:
            torch.set_num_threads(args.threads)
        result["version"] = torch.__version__
        result["threads"] = torch.get_num_threads()
    elif args.worker.startswith("chainrule"):
        import chainrule

        result["version"] = chainrule.__version__
    else:
        result["version"] = np.__version__
    if args.only in (None, "ops") and args.worker in OP_LIBRARIES:
        result["ops"] = ops_worker(args.worker, d, args.op_repeats, _common.CLOCKS[args.clock])
    if args.only in (None, "mlp"):
        result["mlp"] = mlp_worker(args.worker, d, args)
    _common.emit(result)


# ================================================================== parent: run and report


def summarize(runs: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> dict[str, Any]:
    """Medians (with min and max) across processes for every number the workers measured."""
    summary: dict[str, Any] = {}
    if args.only in (None, "ops"):
        summary["ops"] = {
            name: {
                lib: {key: _common.spread(r["ops"][name][key] for r in runs[lib]) for key in ("fwd_us", "fwdbwd_us")}
                for lib in runs
                if "ops" in runs[lib][0]
            }
            for name in OPS
        }
    if args.only in (None, "mlp"):
        summary["mlp"] = {
            lib: {
                "step_ms": _common.spread(r["mlp"]["step_ms_median"] for r in runs[lib]),
                "first_losses": runs[lib][0]["mlp"]["first_losses"],
                "last_loss": runs[lib][0]["mlp"]["last_loss"],
                "test_accuracy": runs[lib][0]["mlp"]["test_accuracy"],
                **(
                    {"nodes_per_step": runs[lib][0]["mlp"]["nodes_per_step"]}
                    if "nodes_per_step" in runs[lib][0]["mlp"]
                    else {}
                ),
            }
            for lib in runs
        }
    return summary


def check_ops_agree(runs: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Names of ops whose output or gradient sums differ from NumPy's (they would not be comparable)."""
    bad = []
    reference = runs["numpy"][0]["ops"]
    for lib in runs:
        if "ops" not in runs[lib][0]:
            continue
        for name in OPS:
            out, grads = runs[lib][0]["ops"][name]["check"]
            ref_out, ref_grads = reference[name]["check"]
            values = [out, *grads]
            expected = [ref_out, *ref_grads]
            if len(values) != len(expected) or not np.allclose(values, expected, rtol=1e-3, atol=1e-3):
                bad.append(f"{lib}:{name} {values} vs NumPy {expected}")
    return bad


def ops_tables(summary: dict[str, Any], libs: list[str]) -> str:
    has_torch = "torch" in libs
    parts = []
    for key, title in (("fwd_us", "forward only"), ("fwdbwd_us", "forward + backward")):
        headers = [
            "op",
            "NumPy (µs)",
            "chainrule (µs)",
            "PyTorch (µs)",
            "chainrule − NumPy (µs)",
            "chainrule / PyTorch",
        ]
        rows = []
        for name in OPS:
            med = {lib: summary["ops"][name][lib][key]["median"] for lib in libs}
            torch_value = med.get("torch") if has_torch else None
            rows.append(
                [
                    name,
                    _common.fmt(med["numpy"]),
                    _common.fmt(med["chainrule"]),
                    _common.fmt(torch_value),
                    _common.fmt(med["chainrule"] - med["numpy"]),
                    _common.ratio(med["chainrule"], torch_value),
                ]
            )
        parts.append(f"#### Per op, {title}\n\n" + _common.markdown_table(headers, rows))
    return "\n\n".join(parts)


def mlp_table(summary: dict[str, Any], libs: list[str]) -> str:
    mlp = summary["mlp"]
    torch_median = mlp["torch"]["step_ms"]["median"] if "torch" in libs else None
    numpy_median = mlp["numpy"]["step_ms"]["median"]
    headers = ["library", "min (ms)", "median (ms)", "max (ms)", "vs PyTorch", "vs NumPy", "test accuracy"]
    rows = []
    for lib in libs:
        s = mlp[lib]["step_ms"]
        rows.append(
            [
                LABELS[lib] + (" (by hand)" if lib == "numpy" else " eager" if lib == "torch" else ""),
                _common.fmt(s["min"]),
                _common.fmt(s["median"]),
                _common.fmt(s["max"]),
                _common.ratio(s["median"], torch_median),
                _common.ratio(s["median"], numpy_median),
                f"{mlp[lib]['test_accuracy']:.3f}",
            ]
        )
    return _common.markdown_table(headers, rows)


def parent(args: argparse.Namespace) -> None:
    libs = ["numpy", "chainrule"]
    notes = []
    if _common.run_torch(args.no_torch, notes, "its columns are empty"):
        libs.append("torch")
    if args.only != "ops" and not args.no_fused_loss:
        if _common.importable("chainrule.nn.functional"):
            libs.append("chainrule-fused")
        else:
            notes.append("chainrule.nn.functional is missing: no fused-loss row.")

    with tempfile.TemporaryDirectory() as tmp:
        inputs = Path(tmp) / "inputs.npz"
        make_inputs(inputs, args.size)
        script = str(Path(__file__).resolve())

        def worker_args(lib: str) -> list[str]:
            command = [
                script,
                "--worker",
                lib,
                "--inputs",
                str(inputs),
                "--size",
                str(args.size),
                "--steps",
                str(args.steps),
                "--warmup",
                str(args.warmup),
                "--batch",
                str(args.batch),
                "--lr",
                str(args.lr),
                "--momentum",
                str(args.momentum),
                "--op-repeats",
                str(args.op_repeats),
            ]
            command += ["--block", str(args.block), "--clock", args.clock]
            if args.threads is not None:
                command += ["--threads", str(args.threads)]
            if args.only:
                command += ["--only", args.only]
            return command

        load_before = _common.load_average()
        env = _common.worker_environment(args.threads)
        runs = _common.run_alternating(libs, args.repeats, worker_args, env=env)

    summary = summarize(runs, args)
    machine = _common.machine_summary()
    machine["load_average_before"] = load_before
    for lib in libs:
        machine[f"{lib}_version"] = runs[lib][0]["version"]
    if "torch" in libs:
        machine["torch_threads"] = runs["torch"][0]["threads"]

    versions = ", ".join(f"{LABELS[lib]} {machine[f'{lib}_version']}" for lib in libs if lib in OP_LIBRARIES)
    print("### chainrule overhead benchmark\n")
    threads = "library default threads" if args.threads is None else f"{args.threads} thread(s) per library"
    print(
        f"{versions}; Python {machine['python']}, {machine['cpus']} CPUs, {threads}. "
        f"{'Wall-clock' if args.clock == 'wall' else 'CPU'} time; medians over {args.repeats} "
        f"processes per library, run alternately. "
        f"Load average before/after: {load_before} / {machine['load_average']}.\n"
    )
    busy = [x for x in (load_before, machine["load_average"]) if x and x[0] > 0.5 * (machine["cpus"] or 1)]
    if busy:
        notes.append(
            f"the machine was busy (1-minute load average up to {max(x[0] for x in busy)} on "
            f"{machine['cpus']} CPUs): other jobs took cores from the workers, so these times are "
            "inflated and noisy. Multi-threaded BLAS/OpenMP pools suffer most (a preempted worker "
            "thread stalls the others); --threads 1 and --clock cpu are steadier, a quiet machine best."
        )
    for note in notes:
        print(f"Note: {note}\n")

    if "ops" in summary:
        bad = check_ops_agree(runs)
        print(
            f"{args.size}x{args.size} float32 inputs; every input requires grad; "
            f"per-call time is the median of {args.op_repeats} batches of back-to-back calls.\n"
        )
        print(ops_tables(summary, [lib for lib in libs if lib in OP_LIBRARIES]) + "\n")
        if bad:
            print("WARNING: these ops disagree with NumPy, so their times do not compare the same job:")
            for line in bad:
                print(f"  {line}")
            print()

    if "mlp" in summary:
        mlp = summary["mlp"]
        print(f"#### One training step, MLP {'-'.join(map(str, LAYERS))}, batch {args.batch}\n")
        print(
            f"ReLU, softmax cross-entropy, SGD lr={args.lr} momentum={args.momentum}, float32; "
            f"{args.steps} timed steps after {args.warmup} warm-up steps; each process's step time "
            f"is the median over blocks of {args.block} steps; min/median/max across processes.\n"
        )
        print(mlp_table(summary, libs) + "\n")
        first = {lib: mlp[lib]["first_losses"] for lib in libs}
        worst = max(abs(a - b) for lib in libs for a, b in zip(first[lib], first["numpy"]))
        for lib in libs:
            print(
                f"- first losses, {LABELS[lib]}: "
                + ", ".join(f"{v:.6f}" for v in first[lib])
                + f"; loss after {args.warmup + args.steps} steps "
                f"{mlp[lib]['last_loss']:.4f}"
            )
        verdict = "agree" if worst < 1e-4 else "DISAGREE: the libraries are not doing the same job"
        print(f"- largest difference in the first {FIRST_LOSSES} losses: {worst:.2e} ({verdict})")
        for lib in libs:
            if "nodes_per_step" not in mlp[lib]:
                continue
            nodes = mlp[lib]["nodes_per_step"]
            extra_us = (mlp[lib]["step_ms"]["median"] - mlp["numpy"]["step_ms"]["median"]) * 1e3
            print(
                f"- {LABELS[lib]} makes {nodes} Function.apply calls a step (the forward's nodes; a "
                f"plain backward computes on arrays and makes none): {extra_us:.0f} µs over NumPy"
            )
        print()

    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"settings": vars(args), "machine": machine, "summary": summary, "runs": runs, "notes": notes}
        path.write_text(json.dumps(payload, indent=1, default=str))
        print(f"(raw results written to {path})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="processes per library (default 3)")
    parser.add_argument("--only", choices=("ops", "mlp"), help="run one part only")
    parser.add_argument("--size", type=int, default=32, help="side of the square op inputs (default 32)")
    parser.add_argument("--op-repeats", type=int, default=7, help="timed batches per op (default 7)")
    parser.add_argument("--steps", type=int, default=400, help="timed MLP steps per process (default 400)")
    parser.add_argument("--warmup", type=int, default=40, help="untimed MLP steps first (default 40)")
    parser.add_argument(
        "--block",
        type=int,
        default=20,
        help="MLP steps per timed block; the step time is the median block's mean (default 20)",
    )
    parser.add_argument(
        "--clock",
        choices=sorted(_common.CLOCKS),
        default="wall",
        help="wall time (default), or this process's CPU time, steadier on a busy machine (use with --threads 1)",
    )
    parser.add_argument("--batch", type=int, default=100, help="MLP batch size (default 100)")
    parser.add_argument("--lr", type=float, default=0.05, help="SGD learning rate (default 0.05)")
    parser.add_argument("--momentum", type=float, default=0.9, help="SGD momentum (default 0.9)")
    parser.add_argument(
        "--threads",
        type=int,
        help="limit every library's thread pools (OpenBLAS, "
        "OpenMP, MKL, torch) to this many threads; default: each library's own default",
    )
    parser.add_argument(
        "--no-fused-loss", action="store_true", help="leave out the MLP row that uses chainrule's fused cross-entropy"
    )
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument("--json", metavar="PATH", help="also write every measurement as JSON")
    parser.add_argument("--worker", choices=LIBRARIES, help=argparse.SUPPRESS)
    parser.add_argument("--inputs", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}")
    if args.clock == "cpu" and args.threads != 1:
        print(
            "warning: --clock cpu counts every thread's time, spinning BLAS threads too; use it with --threads 1",
            file=sys.stderr,
        )
    if args.repeats < 1 or args.block < 1 or args.steps < 1 or args.warmup < 0 or args.batch < 1:
        parser.error("--repeats, --block, --steps and --batch must be positive and --warmup non-negative")
    if args.batch > N_TRAIN:
        parser.error(f"--batch {args.batch} is larger than the {N_TRAIN} training samples")
    if args.worker:
        worker(args)
    else:
        parent(args)


if __name__ == "__main__":
    main()
