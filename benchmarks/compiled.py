"""Compiled training steps on the CPU: ``cr.compile`` against chainrule eager, PyTorch eager,
``torch.compile`` and JAX ``jit``.

The job (the goals for compiled steps in the project's benchmarking notes): time one training
step -- zero_grad, forward, softmax cross-entropy, backward, SGD with momentum 0.9 (PyTorch's rule,
which is ``optax.sgd(lr, momentum=0.9)``'s too), float32 -- of five workloads:

* ``mlp``: MLP 40-100-100-10, batch 100, MNIST-1D (4000 train / 1000 test,
  ``chainrule.data.load_mnist1d()``, generated offline by the ``mnist1d`` package and cached
  under ``$CHAINRULE_CACHE`` or ``~/.cache/chainrule``, as ``training_mlp.py`` gets it);
* ``mlp-large``: MLP 784-1024-1024-10, batch 256, random data: N(0, 1) inputs (5120 train /
  1024 test) labelled by a random linear teacher (``argmax(x @ T)``), so that accuracy shows
  whether the run learns;
* ``cnn``: Conv1d(1,25,5,s2,p1)-ReLU-Conv1d(25,25,3,s2,p1)-ReLU-Conv1d(25,25,3,s2,p1)-ReLU-Flatten
  -Linear(125,10) on MNIST-1D as (N, 1, 40), batch 100 (``training_cnn_gru.py``'s network);
* ``gru``: bidirectional GRU, hidden 6, batch_first, 40 steps of 1 input, Linear(480,10) on the
  (N, 40, 12) outputs flattened, batch 100 (``training_cnn_gru.py``'s network);
* ``lstm``: bidirectional LSTM, hidden 64, batch_first, 40 steps of 1 input, Linear(5120,10) on
  the (N, 40, 128) outputs flattened (as the GRU: every step of both directions reaches the
  classifier), batch 100.

Rows (each its own process; the processes alternate A B C D E A B C D E ..., see ``_common.py``):

* ``chainrule eager``: the hand-written loop -- ``opt.zero_grad(); loss = cross_entropy(net(x), y);
  loss.backward(); opt.step()``;
* ``chainrule compiled``: ``cr.compile`` of that same loop body (the first two calls run eagerly
  and are recorded, later calls replay the plan; ``step.stats`` is checked: 2 recorded, the rest
  replayed, none eager, and any ``CompileWarning`` is reported);
* ``chainrule eager, no numba``: the eager loop in a process with ``CHAINRULE_NUMBA=0`` (the eager
  LSTM and GRU cells and the optimisers use numba's loops where it is installed);
* ``chainrule compiled, no numba``: the same, in a process with ``CHAINRULE_NUMBA=0`` -- what a
  plain install without the extra ``fast`` runs: plans of NumPy calls with their kept buffers,
  no fused loops, the optimiser's NumPy update (the two rows above use numba where installed:
  fused loops in the plan, the optimiser's compiled update in both);
* ``PyTorch eager``: the same body in ``torch.nn`` with ``torch.optim.SGD``;
* ``torch.compile``: ``torch.compile`` of that PyTorch step (default mode; it breaks the graph at
  ``backward()`` and compiles forward, backward and the optimiser step). Each process compiles
  cold, in a fresh inductor cache folder: the first-call column is what a first run costs. When
  it fails here (no C++ compiler, an inductor error) the row is left out with a note saying why;
* ``JAX jit``: ``jax.jit`` of the whole step -- ``value_and_grad`` of the loss, then SGD with
  momentum written by hand in ``jax.numpy`` the way ``optax.sgd`` does it (trace ``t = g + 0.9 t``,
  update ``p - lr t``), parameters and momenta donated. The recurrent layers are ``lax.scan`` over
  time with PyTorch's gate equations. JAX lives only in the benchmark's own environment: give
  its interpreter with ``--jax-python`` (``python -m venv /tmp/jaxenv && /tmp/jaxenv/bin/pip
  install "jax[cpu]==0.10.2" jaxlib==0.10.2 numpy``); without it, or when ``import jax`` fails
  there, the row is left out with a note.

Fairness (the project's benchmarking notes): the parent draws the initial weights once with
NumPy (PyTorch's default init bounds) and the batch order once (one permutation per epoch); every
row loads the same weights and trains on the same batches in the same order, cut with the same
NumPy fancy index inside the timed loop. Every worker records its first step losses: the parent
checks that they agree, i.e. that every row does the same job.

What is timed, in each process: one continuous training run from the shared weights. The first
two calls are timed one by one (the "first two calls" column: chainrule compiled records there,
JAX traces and compiles, torch.compile compiles); then ``--warmup`` steps in all (default 10),
untimed; then the timed steps (``--steps``; by default as many as a whole number of epochs), one
wall-clock and one CPU-time reading around all of them. chainrule and PyTorch read each step's
loss with ``.item()``, as users' loops do (their steps are synchronous anyway); JAX keeps the
losses as device arrays and the clock stops after ``block_until_ready`` on the parameters, so its
asynchronous dispatch is not held up. The final loss is the mean over the last epoch's worth of
timed steps; test accuracy is measured afterwards.

Threads: every worker runs with ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` and
``MKL_NUM_THREADS`` set to ``--threads`` (default 1), PyTorch with ``torch.set_num_threads``, and
JAX with ``NPROC`` (XLA's CPU thread pool is sized from it; the ``XLA_FLAGS`` options
``--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1`` did not limit it here).
``--threads 0`` leaves every library's defaults alone.

A full run (five workloads, five rows, 3 processes each) takes about 11 minutes on 2 cores, a
third of it torch.compile compiling cold (12-17 s a process); ``--quick`` about 3 minutes.

Usage::

    python benchmarks/compiled.py --jax-python /tmp/jaxenv/bin/python            # all, 3 processes a row
    python benchmarks/compiled.py --quick --jax-python /tmp/jaxenv/bin/python    # smoke run
    python benchmarks/compiled.py --workloads mlp,cnn --json benchmarks/results/compiled.json

PyTorch and JAX are optional: rows for a missing one are left out with a note.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common
import training_cnn_gru
import training_mlp

LIBRARIES = ("cr-eager", "cr-compiled", "cr-eager-numpy", "cr-compiled-numpy", "torch", "torch-compile", "jax")
LABELS = {
    "cr-eager": "chainrule eager",
    "cr-compiled": "chainrule compiled",
    "cr-eager-numpy": "chainrule eager, no numba",
    "cr-compiled-numpy": "chainrule compiled, no numba",
    "torch": "PyTorch eager",
    "torch-compile": "torch.compile",
    "jax": "JAX jit",
}
OPTIONAL = ("torch-compile", "jax")  # a failure leaves the row out with a note instead of stopping the run
WORKLOADS: dict[str, dict[str, Any]] = {
    "mlp": {"title": "MLP 40-100-100-10, MNIST-1D", "batch": 100, "steps": 2000, "lr": 0.05},
    "mlp-large": {"title": "MLP 784-1024-1024-10, random data", "batch": 256, "steps": 160, "lr": 0.01},
    "cnn": {"title": training_cnn_gru.MODELS["cnn"], "batch": 100, "steps": 800, "lr": 0.05},
    "gru": {"title": training_cnn_gru.MODELS["gru"], "batch": 100, "steps": 200, "lr": 0.05},
    "lstm": {
        "title": "bidirectional LSTM, hidden 64, 40 steps of 1 input, Linear(5120,10) on all outputs",
        "batch": 100,
        "steps": 120,
        "lr": 0.05,
    },
}
# the benchmarking notes' goals: chainrule compiled's step time at most this many times the peer's
GOALS = {
    "mlp": ("jax", 0.7),
    "cnn": ("jax", 0.7),
    "gru": ("jax", 1.0),
    "lstm": ("torch", 1.0),
    "mlp-large": ("best", 1.05),
}
LARGE_LAYERS = (784, 1024, 1024, 10)
LARGE_DATA = (5120, 1024)  # train, test: 20 batches of 256 an epoch
LSTM_HIDDEN = training_cnn_gru.LSTM_HIDDEN
LENGTH, CLASSES = training_cnn_gru.LENGTH, training_cnn_gru.CLASSES
FIRST_CALLS = 2
FIRST_LOSSES = training_cnn_gru.FIRST_LOSSES
LOSS_TOLERANCE = training_cnn_gru.LOSS_TOLERANCE
QUICK_STEPS = 20


# ================================================================== shared inputs (parent)


def parameter_spec(workload: str) -> list[tuple[str, tuple[int, ...], float]]:
    """(state-dict name, shape, bound of PyTorch's default U(-bound, bound) init) per parameter."""
    if workload in ("cnn", "gru"):
        return training_cnn_gru.parameter_spec(workload)
    if workload == "lstm":
        bound, spec = 1.0 / math.sqrt(LSTM_HIDDEN), []
        for suffix in ("l0", "l0_reverse"):
            spec += [
                (f"lstm.weight_ih_{suffix}", (4 * LSTM_HIDDEN, 1), bound),
                (f"lstm.weight_hh_{suffix}", (4 * LSTM_HIDDEN, LSTM_HIDDEN), bound),
                (f"lstm.bias_ih_{suffix}", (4 * LSTM_HIDDEN,), bound),
                (f"lstm.bias_hh_{suffix}", (4 * LSTM_HIDDEN,), bound),
            ]
        bound = 1.0 / math.sqrt(LENGTH * 2 * LSTM_HIDDEN)
        return spec + [("fc.weight", (CLASSES, LENGTH * 2 * LSTM_HIDDEN), bound), ("fc.bias", (CLASSES,), bound)]
    spec = []
    for i, (n_in, n_out) in enumerate(zip(mlp_layers(workload), mlp_layers(workload)[1:])):
        bound = 1.0 / math.sqrt(n_in)
        spec += [(f"{2 * i}.weight", (n_out, n_in), bound), (f"{2 * i}.bias", (n_out,), bound)]
    return spec


def mlp_layers(workload: str) -> tuple[int, ...]:
    return LARGE_LAYERS if workload == "mlp-large" else (LENGTH, *training_mlp.WORKLOADS["mnist1d"]["hidden"], CLASSES)


def load_data(workload: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Train and test inputs (float32, in the layout the network reads) and int64 labels."""
    if workload == "mlp-large":
        n_train, n_test = LARGE_DATA
        X = rng.standard_normal((n_train + n_test, LARGE_LAYERS[0]), dtype=np.float32)
        teacher = rng.standard_normal((LARGE_LAYERS[0], CLASSES), dtype=np.float32)
        y = np.argmax(X @ teacher, axis=1).astype(np.int64)
        return X[:n_train], y[:n_train], X[n_train:], y[n_train:]
    X_train, y_train, X_test, y_test = training_mlp.load_workload("mnist1d")
    shape = {"mlp": (-1, LENGTH), "cnn": (-1, 1, LENGTH)}.get(workload, (-1, LENGTH, 1))
    return X_train.reshape(shape), y_train, X_test.reshape(shape), y_test


def make_inputs(path: Path, workload: str, steps: int, warmup: int, seed: int) -> dict[str, Any]:
    """Data, initial weights and the batches of the whole run (warm-up, then timed steps), saved
    for the workers."""
    rng = np.random.default_rng(seed)
    X_train, y_train, X_test, y_test = load_data(workload, rng)
    batch = WORKLOADS[workload]["batch"]
    per_epoch = len(X_train) // batch
    epochs = math.ceil((warmup + steps) / per_epoch)
    perms = np.stack([rng.permutation(len(X_train)) for _ in range(epochs)])
    batches = [b for e in range(epochs) for b in training_cnn_gru.batch_indices(perms, e, batch) if len(b) == batch]
    arrays: dict[str, np.ndarray] = {
        "X_train": np.ascontiguousarray(X_train),
        "y_train": y_train,
        "X_test": np.ascontiguousarray(X_test),
        "y_test": y_test,
        "batches": np.stack(batches[: warmup + steps]),
    }
    for name, shape, bound in parameter_spec(workload):
        arrays["w:" + name] = rng.uniform(-bound, bound, shape).astype(np.float32)
    np.savez(path, **arrays)
    return {
        "n_train": len(X_train),
        "n_test": len(X_test),
        "steps_per_epoch": per_epoch,
        "parameters": int(sum(np.prod(s) for _, s, _ in parameter_spec(workload))),
    }


# ================================================================== workers


def build_network(nn: Any, workload: str) -> Any:
    """The workload's network from ``nn`` (``chainrule.nn`` or ``torch.nn``: the same layer names,
    arguments and parameter names, so one definition and one state dict serve both)."""
    if workload in ("cnn", "gru"):
        return training_cnn_gru.build_network(nn, workload)
    if workload == "lstm":

        class BiLSTMNet(nn.Module):
            def __init__(self):
                super().__init__()
                self.lstm = nn.LSTM(1, LSTM_HIDDEN, batch_first=True, bidirectional=True)
                self.fc = nn.Linear(LENGTH * 2 * LSTM_HIDDEN, CLASSES)

            def forward(self, x):
                out, _ = self.lstm(x)
                return self.fc(out.reshape(out.shape[0], -1))

        return BiLSTMNet()
    layers = mlp_layers(workload)
    modules: list[Any] = []
    for n_in, n_out in zip(layers, layers[1:]):
        modules += [nn.Linear(n_in, n_out), nn.ReLU()]
    return nn.Sequential(*modules[:-1])


def shared_weights(d: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k[2:]: v.copy() for k, v in d.items() if k.startswith("w:")}


@dataclass
class Library:
    """What the timing loop needs of one library, made by a ``*_maker``."""

    step: Callable[[np.ndarray], Any]  # trains on the samples ``index``; returns the loss (float or device scalar)
    accuracy: Callable[[], float]  # test accuracy of the trained model
    info: dict[str, Any]  # version and settings, for the report
    sync: Callable[[], None] = lambda: None  # waits for queued work (JAX's asynchronous dispatch)
    stats: Callable[[], dict[str, Any]] = dict  # cr.compile's counters


def same_api_library(
    d: dict[str, np.ndarray],
    args: argparse.Namespace,
    nn: Any,
    optim: Any,
    cross_entropy: Callable,
    to_tensor: Callable,
    no_grad: Callable,
    compile_step: Callable | None,
) -> tuple[Library, Callable]:
    """The training step of chainrule and PyTorch, written once (the two share the API): the
    network from the shared weights, SGD, the step's body, ``compile_step`` of it when given.
    Returns the library and the (maybe compiled) body."""
    net = build_network(nn, args.workload)
    net.load_state_dict({k: to_tensor(v) for k, v in shared_weights(d).items()})
    opt = optim.SGD(net.parameters(), lr=args.lr, momentum=args.momentum)
    net.train()

    def body(x, y):
        opt.zero_grad()
        loss = cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        return loss

    fn = compile_step(body) if compile_step else body
    X, Y = d["X_train"], d["y_train"]

    def step(index: np.ndarray) -> float:
        return fn(to_tensor(X[index]), to_tensor(Y[index])).item()

    def accuracy() -> float:
        net.eval()
        with no_grad():
            logits = net(to_tensor(d["X_test"])).numpy()
        return float(np.mean(np.argmax(logits, axis=1) == d["y_test"]))

    return Library(step, accuracy, {}), fn


def chainrule_maker(d: dict[str, np.ndarray], args: argparse.Namespace, compiled: bool, numba: bool = True) -> Library:
    if not numba:
        os.environ["CHAINRULE_NUMBA"] = "0"  # (this worker's own process: NumPy only, as without the extra)
    _common.use_repo_chainrule()
    import chainrule as cr
    from chainrule import kernels
    from chainrule.nn.functional import cross_entropy

    compile_step = cr.compile if compiled else None
    lib, fn = same_api_library(d, args, cr.nn, cr.optim, cross_entropy, cr.Tensor, cr.no_grad, compile_step)
    lib.info = {"version": cr.__version__, "numba": kernels.enabled()}
    if compiled:
        lib.stats = lambda: dict(fn.stats)
    return lib


def torch_maker(d: dict[str, np.ndarray], args: argparse.Namespace, compiled: bool) -> Library:
    if compiled:  # compile cold, as a first run does: a fresh inductor cache in the parent's scratch folder
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="inductor-", dir=Path(args.inputs).parent)
    import torch
    import torch.nn.functional as F

    if args.threads:
        torch.set_num_threads(args.threads)
    compile_step = torch.compile if compiled else None
    lib, _ = same_api_library(
        d, args, torch.nn, torch.optim, F.cross_entropy, torch.from_numpy, torch.no_grad, compile_step
    )
    lib.info = {
        "version": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
    }
    return lib


def jax_forward(workload: str) -> Callable:
    """``forward(params, x) -> logits`` in jax.numpy, PyTorch's layer equations and layouts."""
    import jax
    import jax.numpy as jnp
    from jax import lax

    def linear(p, name, x):
        return x @ p[f"{name}.weight"].T + p[f"{name}.bias"]

    if workload in ("mlp", "mlp-large"):
        n = len(mlp_layers(workload)) - 1

        def mlp(p, x):
            for i in range(n):
                x = linear(p, str(2 * i), x)
                x = jax.nn.relu(x) if i < n - 1 else x
            return x

        return mlp
    if workload == "cnn":

        def cnn(p, x):
            for name in ("0", "2", "4"):
                x = lax.conv_general_dilated(
                    x, p[f"{name}.weight"], (2,), [(1, 1)], dimension_numbers=("NCH", "OIH", "NCH")
                )
                x = jax.nn.relu(x + p[f"{name}.bias"][None, :, None])
            return linear(p, "7", x.reshape(x.shape[0], -1))

        return cnn

    def gru_cell(W_hh, b_hh, h, gi):
        H = h.shape[1]
        gh = h @ W_hh.T + b_hh
        r = jax.nn.sigmoid(gi[:, :H] + gh[:, :H])
        z = jax.nn.sigmoid(gi[:, H : 2 * H] + gh[:, H : 2 * H])
        n = jnp.tanh(gi[:, 2 * H :] + r * gh[:, 2 * H :])
        h = (1 - z) * n + z * h
        return h, h

    def lstm_cell(W_hh, b_hh, state, gi):
        h, c = state
        H = h.shape[1]
        g = gi + h @ W_hh.T + b_hh
        i, f = jax.nn.sigmoid(g[:, :H]), jax.nn.sigmoid(g[:, H : 2 * H])
        cell, o = jnp.tanh(g[:, 2 * H : 3 * H]), jax.nn.sigmoid(g[:, 3 * H :])
        c = f * c + i * cell
        h = o * jnp.tanh(c)
        return (h, c), h

    layer, hidden = ("gru", training_cnn_gru.HIDDEN) if workload == "gru" else ("lstm", LSTM_HIDDEN)
    cell = gru_cell if workload == "gru" else lstm_cell

    def direction(p, suffix, xs, reverse):
        gi = xs @ p[f"{layer}.weight_ih_{suffix}"].T + p[f"{layer}.bias_ih_{suffix}"]  # every step's input projection
        h = jnp.zeros((xs.shape[1], hidden), xs.dtype)
        state = h if workload == "gru" else (h, h)
        step = partial(cell, p[f"{layer}.weight_hh_{suffix}"], p[f"{layer}.bias_hh_{suffix}"])
        return lax.scan(step, state, gi, reverse=reverse)[1]  # (T, N, H), in time order

    def recurrent(p, x):
        xs = jnp.swapaxes(x, 0, 1)  # batch_first -> (T, N, 1)
        out = jnp.concatenate([direction(p, "l0", xs, False), direction(p, "l0_reverse", xs, True)], axis=-1)
        return linear(p, "fc", jnp.swapaxes(out, 0, 1).reshape(x.shape[0], -1))

    return recurrent


def jax_maker(d: dict[str, np.ndarray], args: argparse.Namespace) -> Library:
    if args.threads:
        os.environ["NPROC"] = str(args.threads)  # the size of XLA's CPU thread pool
    import jax
    import jax.numpy as jnp

    forward = jax_forward(args.workload)
    lr, momentum = args.lr, args.momentum

    def loss_fn(params, x, y):
        logp = jax.nn.log_softmax(forward(params, x))
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    def sgd_update(grads, trace):  # optax.sgd(lr, momentum): trace(decay=momentum), then scale(-lr)
        trace = jax.tree.map(lambda g, t: g + momentum * t, grads, trace)
        return jax.tree.map(lambda t: -lr * t, trace), trace

    @partial(jax.jit, donate_argnums=(0, 1))
    def train_step(params, trace, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        updates, trace = sgd_update(grads, trace)
        return jax.tree.map(jnp.add, params, updates), trace, loss

    params = {k: jnp.asarray(v) for k, v in shared_weights(d).items()}
    state = {"params": params, "trace": jax.tree.map(jnp.zeros_like, params)}
    X, Y = d["X_train"], d["y_train"]

    def step(index: np.ndarray) -> Any:
        state["params"], state["trace"], loss = train_step(state["params"], state["trace"], X[index], Y[index])
        return loss

    def accuracy() -> float:
        logits = np.asarray(jax.jit(forward)(state["params"], d["X_test"]))
        return float(np.mean(np.argmax(logits, axis=1) == d["y_test"]))

    info = {"version": jax.__version__, "jax_backend": jax.default_backend(), "nproc": os.environ.get("NPROC")}
    return Library(step, accuracy, info, sync=lambda: jax.block_until_ready(state["params"]))


MAKERS: dict[str, Callable[[dict[str, np.ndarray], argparse.Namespace], Library]] = {
    "cr-eager": partial(chainrule_maker, compiled=False),
    "cr-compiled": partial(chainrule_maker, compiled=True),
    "cr-eager-numpy": partial(chainrule_maker, compiled=False, numba=False),
    "cr-compiled-numpy": partial(chainrule_maker, compiled=True, numba=False),
    "torch": partial(torch_maker, compiled=False),
    "torch-compile": partial(torch_maker, compiled=True),
    "jax": jax_maker,
}


def run_steps(lib: Library, d: dict[str, np.ndarray], args: argparse.Namespace) -> dict[str, Any]:
    """One training run over the shared batches: first calls and warm-up, then the timed steps."""
    X, batches = d["X_train"], d["batches"]
    losses: list[Any] = []
    warmup_s = []
    for index in batches[: args.warmup]:
        start = time.perf_counter()
        losses.append(lib.step(index))
        lib.sync()
        warmup_s.append(time.perf_counter() - start)
    gc.collect()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for index in batches[args.warmup :]:
        losses.append(lib.step(index))
    lib.sync()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    losses = [float(v) for v in losses]
    steps = len(batches) - args.warmup
    per_epoch = len(X) // len(batches[0])
    return {
        "seconds": wall,
        "cpu_seconds": cpu,
        "steps": steps,
        "step_ms": wall / steps * 1e3,
        "cpu_step_ms": cpu / steps * 1e3,
        "first_calls_s": sum(warmup_s[:FIRST_CALLS]),
        "warmup_step_s": warmup_s,
        "first_losses": losses[:FIRST_LOSSES],
        "final_loss": float(np.mean(losses[-min(per_epoch, steps) :])),
        "test_accuracy": lib.accuracy(),
        "stats": lib.stats(),
    }


def worker(args: argparse.Namespace) -> None:
    with np.load(args.inputs) as f:
        d = {k: f[k] for k in f.files}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        try:
            lib = MAKERS[args.worker](d, args)
            result = run_steps(lib, d, args)
        except Exception as exc:
            if args.worker not in OPTIONAL:
                raise
            lines = [line for line in str(exc).splitlines() if line.strip()] or [""]
            _common.emit({"library": args.worker, "failed": f"{type(exc).__name__}: {lines[0][:300]}"})
            return
    messages = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
    _common.emit(
        {
            "library": args.worker,
            "workload": args.workload,
            **lib.info,
            **result,
            "warnings": messages,
            "thread_pools": _common.thread_pools(),
        }
    )


# ================================================================== parent


def available_libraries(args: argparse.Namespace, notes: list[str]) -> tuple[list[str], dict[str, str]]:
    """The rows to run, and the JAX version when its interpreter works."""
    libs = ["cr-eager", "cr-compiled", "cr-eager-numpy", "cr-compiled-numpy"]
    if _common.run_torch(args.no_torch, notes, "no PyTorch or torch.compile row"):
        libs.append("torch")
        if args.no_torch_compile:
            notes.append("torch.compile skipped (--no-torch-compile).")
        else:
            libs.append("torch-compile")
    found = {}
    if not args.jax_python:
        notes.append(
            "JAX jit row left out: no --jax-python given (python -m venv /tmp/jaxenv && /tmp/jaxenv/bin/pip "
            'install "jax[cpu]==0.10.2" jaxlib==0.10.2 numpy; then --jax-python /tmp/jaxenv/bin/python).'
        )
        return libs, found
    try:
        probe = subprocess.run(
            [args.jax_python, "-c", "import jax, numpy; print(jax.__version__, numpy.__version__)"],
            capture_output=True,
            text=True,
            check=False,
        )
        failure = None if probe.returncode == 0 else (probe.stderr.strip().splitlines() or ["?"])[-1]
    except OSError as exc:  # no such interpreter
        failure = str(exc)
    if failure:
        notes.append(f"JAX jit row left out: `import jax` fails under {args.jax_python}: {failure}")
    else:
        libs.append("jax")
        found["jax"], found["jax_numpy"] = probe.stdout.split()
    return libs, found


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("step_ms", "cpu_step_ms", "first_calls_s", "test_accuracy", "final_loss")
    out: dict[str, Any] = {key: _common.spread(r[key] for r in runs) for key in keys}
    out["first_losses"] = runs[0]["first_losses"]
    out["stats"] = [r["stats"] for r in runs]
    out["warnings"] = sorted({m for r in runs for m in r["warnings"]})
    return out


def median_of(summary: dict[str, Any], lib: str) -> float | None:
    return summary[lib]["step_ms"]["median"] if lib in summary else None


def goal_text(workload: str, summary: dict[str, Any]) -> str | None:
    """The benchmarking notes' goal for chainrule compiled's step time on this workload (at most
    this many times a peer's), the ratio reached and whether it is met; None without the rows."""
    peer, limit = GOALS[workload]
    peers = [lib for lib in ("torch", "torch-compile", "jax") if lib in summary]
    if peer == "best":
        if not peers:
            return None
        peer = min(peers, key=lambda lib: median_of(summary, lib))
    if peer not in summary or "cr-compiled" not in summary:
        return None
    ratio = median_of(summary, "cr-compiled") / median_of(summary, peer)
    return f"<= {limit}x {LABELS[peer]}: {ratio:.2f}x, " + ("met" if ratio <= limit else "NOT met")


def report(workload: str, meta: dict[str, Any], summary: dict[str, Any], args: argparse.Namespace) -> list[str]:
    """Print one workload's table and checks; return the problems for the notes."""
    problems = []
    libs = list(summary)
    spec = WORKLOADS[workload]
    print(
        f"#### {spec['title']} ({meta['parameters']} parameters): batch {spec['batch']}, SGD lr={meta['lr']} "
        f"momentum={args.momentum}; {meta['steps']} timed steps after {args.warmup} warm-up steps "
        f"({meta['n_train']} train / {meta['n_test']} test, {meta['steps_per_epoch']} steps an epoch)\n"
    )
    headers = [
        "library",
        "ms / step",
        "min",
        "max",
        "vs JAX jit",
        "vs PyTorch eager",
        "CPU ms / step",
        f"first {FIRST_CALLS} calls (s)",
        "final loss",
        "test accuracy",
    ]
    rows = []
    for lib in libs:
        s = summary[lib]
        first = s["first_calls_s"]
        rows.append(
            [
                LABELS[lib],
                _common.fmt(s["step_ms"]["median"]),
                _common.fmt(s["step_ms"]["min"]),
                _common.fmt(s["step_ms"]["max"]),
                _common.ratio(s["step_ms"]["median"], median_of(summary, "jax")),
                _common.ratio(s["step_ms"]["median"], median_of(summary, "torch")),
                _common.fmt(s["cpu_step_ms"]["median"]),
                _common.fmt(first["median"])
                + (
                    ""
                    if first["min"] == first["max"]
                    else f" ({_common.fmt(first['min'])}-{_common.fmt(first['max'])})"
                ),
                f"{s['final_loss']['median']:.4f}",
                _common.accuracy_text(s["test_accuracy"]),
            ]
        )
    print(_common.markdown_table(headers, rows) + "\n")
    for lib in libs:
        print(
            f"- first {FIRST_LOSSES} step losses, {LABELS[lib]}: "
            + ", ".join(f"{v:.6f}" for v in summary[lib]["first_losses"])
        )
    base = summary["cr-eager"]["first_losses"]
    worst = max(abs(a - b) for lib in libs for a, b in zip(summary[lib]["first_losses"], base))
    verdict = "agree" if worst < LOSS_TOLERANCE else "DISAGREE: the rows are not doing the same job"
    print(f"- largest difference in the first {FIRST_LOSSES} step losses (all rows): {worst:.2e} ({verdict})")
    if worst >= LOSS_TOLERANCE:
        problems.append(f"{workload}: first losses differ by {worst:.2e}")
    for lib in ("cr-compiled", "cr-compiled-numpy"):
        if lib not in summary:
            continue
        stats = summary[lib]["stats"]
        total = args.warmup + meta["steps"]
        expected = {"recorded": FIRST_CALLS, "replayed": total - FIRST_CALLS, "eager": 0}
        print(f"- cr.compile stats per process, {LABELS[lib]}: {stats} (expected {expected})")
        if any(s != expected for s in stats):
            problems.append(f"{workload}: cr.compile stats {stats}, expected {expected}")
    for lib in ("cr-eager", "cr-compiled", "cr-eager-numpy", "cr-compiled-numpy"):  # (the peers' warnings: the JSON)
        for message in summary.get(lib, {}).get("warnings", []):
            print(f"- warning in {LABELS[lib]}: {message[:400]}")
            if "CompileWarning" in message:
                problems.append(f"{workload}: {message[:400]}")
    goal = goal_text(workload, summary)
    if goal:
        print(f"- goal for chainrule compiled (benchmarking notes): {goal}")
    if "cr-eager-numpy" in summary and "cr-compiled-numpy" in summary:
        ratio = median_of(summary, "cr-compiled-numpy") / median_of(summary, "cr-eager-numpy")
        verdict = "faster" if ratio < 0.98 else "NOT faster" if ratio > 1.02 else "the same, within 2%"
        print(f"- without numba, compiled vs eager: {ratio:.2f}x ({verdict}; the issue: a NumPy plan faster)")
    print()
    return problems


def overview(results: dict[str, Any], libs: list[str]) -> None:
    """One line per workload: every row's median ms per step and the goals."""
    print("#### Overview: median ms per step\n")
    headers = [
        "workload",
        *(LABELS[lib] for lib in libs),
        "compiled vs JAX",
        "compiled vs PyTorch",
        "goal for compiled",
    ]
    rows = []
    for workload, r in results.items():
        s = r["summary"]
        goal = goal_text(workload, s)
        compiled = median_of(s, "cr-compiled")
        rows.append(
            [
                workload,
                *(_common.fmt(median_of(s, lib)) for lib in libs),
                _common.ratio(compiled, median_of(s, "jax")),
                _common.ratio(compiled, median_of(s, "torch")),
                goal or "-",
            ]
        )
    print(_common.markdown_table(headers, rows) + "\n")


def worker_args(
    lib: str,
    workload: str,
    inputs: Path,
    lr: float,
    args: argparse.Namespace,
    script: str = str(Path(__file__).resolve()),
) -> list[str]:
    """The command line of one worker process (run by this interpreter; the JAX worker re-executes
    itself under ``--jax-python``)."""
    via = ["--python", args.jax_python] if lib == "jax" else []
    options = {
        "worker": lib,
        "workload": workload,
        "inputs": inputs,
        "lr": lr,
        "momentum": args.momentum,
        "threads": args.threads,
        "warmup": args.warmup,
    }
    return [script, *via, *(word for name, value in options.items() for word in (f"--{name}", str(value)))]


def parent(args: argparse.Namespace) -> None:
    notes: list[str] = []
    libs, jax_versions = available_libraries(args, notes)
    workloads = args.workloads
    threads = args.threads or None
    env = _common.worker_environment(threads)
    load_before = _common.load_average()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for workload in workloads:
            steps = args.steps or WORKLOADS[workload]["steps"]
            lr = args.lr or WORKLOADS[workload]["lr"]
            inputs = Path(tmp) / f"{workload}.npz"
            meta = make_inputs(inputs, workload, steps, args.warmup, args.seed)
            meta.update(steps=steps, lr=lr)
            print(f"{workload}:", file=sys.stderr)
            runs = _common.run_alternating(
                libs, args.repeats, lambda lib, w=workload, i=inputs, lr=lr: worker_args(lib, w, i, lr, args), env=env
            )
            summary = {}
            for lib in libs:
                failed = [r["failed"] for r in runs[lib] if "failed" in r]
                if failed:
                    notes.append(f"{workload}: {LABELS[lib]} row left out, it failed here: {failed[0]}")
                else:
                    summary[lib] = summarize(runs[lib])
            results[workload] = {"meta": meta, "runs": runs, "summary": summary}

    machine = _common.machine_summary()
    machine["load_average_before"] = load_before
    machine["chainrule_commit"] = _common.checkout_state()
    ran = [lib for lib in libs if any(lib in r["summary"] for r in results.values())]
    first = {lib: next(r["runs"][lib][0] for r in results.values() if lib in r["summary"]) for lib in ran}
    versions = {lib: first[lib]["version"] for lib in ran}
    print(
        "### Compiled training steps: chainrule eager and cr.compile vs PyTorch eager, torch.compile, JAX jit (CPU)\n"
    )
    print(
        f"chainrule {versions['cr-eager']} (at {machine['chainrule_commit']})"
        + (f", PyTorch {versions['torch']}" if "torch" in versions else "")
        + (f", JAX {versions['jax']} (NumPy {jax_versions['jax_numpy']} beside it)" if "jax" in versions else "")
        + f", NumPy {machine['numpy']}; Python {machine['python']}, {machine['cpus']} CPUs. "
        f"Softmax cross-entropy, SGD momentum {args.momentum}, float32, the same initial weights and batch order "
        f"in every row. Milliseconds per training step (wall clock over the timed steps of one process); "
        f"min/median/max over {args.repeats} processes per row, run alternately; ratios are medians over the "
        f"peer's median (below 1: faster). The first {FIRST_CALLS} calls (recording, tracing, compiling) are "
        f"timed on their own. Load average before/after: {load_before} / {machine['load_average']}.\n"
    )
    if threads:
        t = first.get("torch", {})
        print(
            f"Threads: OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=MKL_NUM_THREADS={threads} in every worker"
            + (f"; torch.set_num_threads({threads}) ({t.get('torch_threads')} intra-op reported)" if t else "")
            + (f"; JAX with NPROC={threads}" if "jax" in versions else "")
            + ".\n"
        )
    else:
        print("Threads: every library's defaults (no thread variables set).\n")
    busy = _common.busy_note((load_before, machine["load_average"]), machine["cpus"])
    if busy:
        notes.append(busy)
    problems = []
    for workload, r in results.items():
        problems += report(workload, r["meta"], r["summary"], args)
    if len(results) > 1:
        overview(results, ran)
    for note in notes + problems:
        print(f"Note: {note}\n")
    if args.json:
        _common.write_json(
            args.json,
            {
                "settings": vars(args),
                "machine": machine,
                "versions": {**versions, **jax_versions},
                "notes": notes + problems,
                "results": results,
            },
        )


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run: {QUICK_STEPS} timed steps, 5 warm-up steps, 1 process per row",
    )
    parser.add_argument(
        "--workloads",
        type=_common.name_list(tuple(WORKLOADS), "workload"),
        default=list(WORKLOADS),
        help=f"comma-separated workloads (default all: {','.join(WORKLOADS)})",
    )
    parser.add_argument("--repeats", type=int, default=3, help="processes per row (default 3)")
    parser.add_argument(
        "--steps",
        type=int,
        default=0,
        help="timed steps (default per workload: " + ", ".join(f"{k} {v['steps']}" for k, v in WORKLOADS.items()) + ")",
    )
    parser.add_argument(
        "--warmup", type=int, default=10, help="untimed steps first, the first calls among them (default 10)"
    )
    parser.add_argument("--lr", type=float, default=0.0, help="learning rate (default 0.05; 0.01 for mlp-large)")
    parser.add_argument("--momentum", type=float, default=0.9, help="SGD momentum (default 0.9)")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads for every library's pools (OpenBLAS, OpenMP, MKL, torch, XLA); "
        "0 = each library's defaults (default 1)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights, data and batch order (default 0)")
    parser.add_argument(
        "--jax-python", metavar="PYTHON", help="the interpreter of an environment with JAX (JAX jit row)"
    )
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch and torch.compile out")
    parser.add_argument(
        "--no-torch-compile", action="store_true", help="leave torch.compile out (it compiles for ~20 s)"
    )
    parser.add_argument("--json", metavar="PATH", help="also write every measurement as JSON")
    parser.add_argument("--worker", choices=LIBRARIES, help=argparse.SUPPRESS)
    parser.add_argument("--workload", choices=sorted(WORKLOADS), help=argparse.SUPPRESS)
    parser.add_argument("--inputs", help=argparse.SUPPRESS)
    parser.add_argument("--python", help=argparse.SUPPRESS)  # a worker to run under this interpreter
    args = parser.parse_args(argv)
    if args.python:  # re-execute this worker under the other interpreter (stdout, the JSON line, is inherited)
        i = argv.index("--python")
        os.execv(args.python, [args.python, str(Path(__file__).resolve()), *argv[:i], *argv[i + 2 :]])
    if args.worker:
        worker(args)
        return
    if args.quick:
        args.steps, args.repeats, args.warmup = args.steps or QUICK_STEPS, 1, min(args.warmup, 5)
    if args.threads < 0 or args.repeats < 1 or args.steps < 0 or args.warmup < FIRST_CALLS:
        parser.error(f"--repeats must be positive, --steps and --threads non-negative, --warmup at least {FIRST_CALLS}")
    parent(args)


if __name__ == "__main__":
    main()
