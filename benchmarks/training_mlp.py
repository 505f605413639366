"""Full training runs of a small MLP: chainrule against PyTorch eager (CPU) and scikit-learn.

The job (issue 3, "Speed"): train a ReLU MLP with softmax cross-entropy and SGD with momentum
0.9 (PyTorch's rule; scikit-learn's is the same algebra at a constant learning rate), float32,
batch 100, for 50 epochs, and report seconds, test accuracy and ratios against PyTorch eager.
Two workloads:

* ``mnist1d``: MLP 40-100-100-10 on MNIST-1D (4000 train / 1000 test,
  ``chainrule.data.load_mnist1d()``; the first call generates the data with the ``mnist1d``
  package and caches it under ``$CHAINRULE_CACHE`` or ``~/.cache/chainrule``).
* ``digits``: MLP 64-100-100-10 on scikit-learn's digits (``chainrule.data.load_digits()``,
  pixels scaled by 1/16), split 1438 train / 359 test by a fixed permutation; the last batch of
  every epoch has 38 samples.

Rows (each one its own process; processes alternate A B C D E A B C D E ..., see ``_common.py``):

* ``chainrule fit``: ``cr.nn.Sequential`` + ``cr.nn.CrossEntropyLoss`` + ``cr.optim.SGD`` +
  ``chainrule.train.fit(verbose=0)`` -- what users run. ``fit`` gets a ``DataLoader`` subclass that
  yields the shared batches (one fancy index per array per batch, as ``DataLoader(shuffle=True)``).
* ``chainrule loop``: the same model, loss and optimiser in a hand-written loop
  (``zero_grad``, ``backward``, ``step``), to show what ``fit`` itself costs.
* ``PyTorch eager``: ``nn.Sequential(nn.Linear, nn.ReLU, ...)``, ``F.cross_entropy``,
  ``torch.optim.SGD``, batches made with ``torch.from_numpy`` from the same NumPy indexing.
* ``sklearn fit``: ``MLPClassifier(solver='sgd', momentum=0.9, nesterovs_momentum=False,
  batch_size=100, alpha=0, learning_rate='constant', max_iter=epochs, tol=0,
  n_iter_no_change=epochs + 1, shuffle=True)`` -- what users run. Its batch order comes from its
  own ``random_state`` and cannot be set, so its losses differ slightly from the others'.
* ``sklearn partial_fit``: the same estimator with ``shuffle=False``, given each epoch's permuted
  training set through one ``partial_fit`` call per epoch, which makes its batches the shared
  ones exactly (at the cost of one input validation per epoch).

Every library starts from the same weights (PyTorch's default init, drawn once with NumPy and
copied in; scikit-learn gets them through ``_init_coef``, which it calls when it initialises) and,
except ``sklearn fit``, sees the same batches in the same order (per-epoch permutations drawn
once with NumPy). Before the timed run each process trains a throw-away copy for one epoch from
the same weights (warm-up, untimed, reported separately) and records its per-step losses: the
parent checks that the first losses agree across libraries, i.e. that all do the same job.
Accuracy is on the test set after the timed run.

Threads: the workers run with ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` and
``MKL_NUM_THREADS`` set to ``--threads`` (default 1) and ``torch.set_num_threads(--threads)``.
One thread is the fair default on a small shared machine: OpenBLAS worker threads spin and,
with other processes on the cores, small GEMMs can become 100x slower; ``--threads 0`` leaves
every library's defaults alone.

Usage::

    python benchmarks/training_mlp.py                 # both workloads, 50 epochs, 5 processes each
    python benchmarks/training_mlp.py --quick         # smoke run: 2 epochs, 1 process each
    python benchmarks/training_mlp.py --json benchmarks/results/training_mlp.json
    python benchmarks/training_mlp.py --only mnist1d --threads 2 --repeats 5

PyTorch and scikit-learn are optional: rows for a missing one are left out with a note.
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common

LIBRARIES = ("chainrule-fit", "chainrule-loop", "torch", "sklearn-fit", "sklearn-partial")
LABELS = {
    "chainrule-fit": "chainrule fit",
    "chainrule-loop": "chainrule loop",
    "torch": "PyTorch eager",
    "sklearn-fit": "sklearn fit (own shuffle)",
    "sklearn-partial": "sklearn partial_fit (shared order)",
}
REFERENCES = ("torch", "chainrule-fit")  # ratios are row / the first of these that ran
WORKLOADS = {
    "mnist1d": {"title": "MNIST-1D", "hidden": (100, 100)},
    "digits": {"title": "digits (pixels / 16)", "hidden": (100, 100)},
}
FIRST_LOSSES = 5  # per-step losses compared across libraries
LOSS_TOLERANCE = 1e-4


# ================================================================== inputs, made once by the parent


def load_workload(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The workload's float32 train/test arrays and int64 labels (chainrule's loaders)."""
    _common.use_repo_chainrule()
    if name == "mnist1d":
        from chainrule.data import load_mnist1d

        d = load_mnist1d()
        return (
            np.ascontiguousarray(d.X_train, np.float32),
            d.y_train.astype(np.int64),
            np.ascontiguousarray(d.X_test, np.float32),
            d.y_test.astype(np.int64),
        )
    from chainrule.data import load_digits

    X, y = load_digits(return_X_y=True)
    X = np.asarray(X, np.float32) / np.float32(16.0)
    y = np.asarray(y, np.int64)
    order = np.random.default_rng(0).permutation(len(X))
    n_train = round(0.8 * len(X))  # 1438 of 1797
    train, test = order[:n_train], order[n_train:]
    return (np.ascontiguousarray(X[train]), y[train], np.ascontiguousarray(X[test]), y[test])


def make_inputs(path: Path, workload: str, epochs: int, seed: int) -> dict[str, Any]:
    """Data, initial weights and the per-epoch permutations, saved for the workers."""
    X_train, y_train, X_test, y_test = load_workload(workload)
    layers = (X_train.shape[1], *WORKLOADS[workload]["hidden"], int(y_train.max()) + 1)
    rng = np.random.default_rng(seed)
    arrays: dict[str, np.ndarray] = {
        "X_train": X_train,
        "y_train": y_train,
        "X_test": X_test,
        "y_test": y_test,
        "layers": np.array(layers, np.int64),
        # one permutation per epoch; the warm-up epoch uses the first (the timed run's first epoch)
        "perms": np.stack([rng.permutation(len(X_train)) for _ in range(epochs)]),
    }
    # PyTorch's default init for nn.Linear, U(-1/sqrt(in), 1/sqrt(in)); W has shape (out, in)
    for i, (n_in, n_out) in enumerate(itertools.pairwise(layers), start=1):
        bound = 1.0 / math.sqrt(n_in)
        arrays[f"W{i}"] = rng.uniform(-bound, bound, (n_out, n_in)).astype(np.float32)
        arrays[f"b{i}"] = rng.uniform(-bound, bound, n_out).astype(np.float32)
    np.savez(path, **arrays)
    return {"layers": layers, "n_train": len(X_train), "n_test": len(X_test)}


def initial_weights(d: dict[str, np.ndarray]) -> list[np.ndarray]:
    """[W1, b1, W2, b2, ...] with W of shape (out, in), as PyTorch and chainrule store them."""
    n = len(d["layers"]) - 1
    return [d[f"{k}{i}"] for i in range(1, n + 1) for k in ("W", "b")]


def epoch_batches(d: dict[str, np.ndarray], epoch: int, batch: int) -> list[np.ndarray]:
    """The sample indices of each batch of one epoch, in the shared order (the last may be short)."""
    perm = d["perms"][epoch]
    return [perm[s : s + batch] for s in range(0, len(perm), batch)]


def train_epochs(
    model: Any,
    d: dict[str, np.ndarray],
    batch: int,
    epochs: int,
    step: Callable[[np.ndarray], float],
    step_losses: list[float] | None = None,
) -> list[float]:
    """A hand-written training loop over the shared batches: ``step(index)`` trains ``model`` on
    the samples ``index`` and returns the batch's loss. Returns the per-epoch mean losses (per
    sample); ``step_losses``, when given, receives every step's loss."""
    model.train()
    means = []
    for epoch in range(epochs):
        total = 0.0
        for index in epoch_batches(d, epoch, batch):
            value = step(index)
            total += value * len(index)
            if step_losses is not None:
                step_losses.append(value)
        means.append(total / len(d["X_train"]))
    model.eval()
    return means


# ================================================================== one library per worker
# Each maker returns (train, accuracy, warmup, info):
#   train(epochs) -> per-epoch mean training losses (the timed run, from the shared weights),
#   accuracy() -> test accuracy of the model train() made,
#   warmup() -> per-step losses of one untimed epoch on a throw-away copy from the same weights,
#   info -> the library's version and settings, for the report.


def chainrule_maker(d: dict[str, np.ndarray], args: argparse.Namespace, use_fit: bool):
    import chainrule as cr
    from chainrule.data import DataLoader
    from chainrule.train import fit, predict
    from chainrule.train.callbacks import Callback

    X, y = d["X_train"], d["y_train"]
    layers = [int(n) for n in d["layers"]]

    def build():
        modules: list[Any] = []
        for i, (n_in, n_out) in enumerate(itertools.pairwise(layers)):
            modules.append(cr.nn.Linear(n_in, n_out))
            if i < len(layers) - 2:
                modules.append(cr.nn.ReLU())
        model = cr.nn.Sequential(*modules)
        weights = initial_weights(d)
        linears = [m for m in modules if isinstance(m, cr.nn.Linear)]
        for layer, W, b in zip(linears, weights[0::2], weights[1::2]):
            layer.weight.numpy()[...] = W
            layer.bias.numpy()[...] = b
        optimizer = cr.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
        return model, cr.nn.CrossEntropyLoss(), optimizer

    class SharedOrder(DataLoader):
        """A DataLoader yielding the shared per-epoch batches (epoch k uses permutation k)."""

        def __init__(self, first_epoch: int = 0):
            super().__init__((X, y), batch_size=args.batch)
            self.epoch = first_epoch

        def __iter__(self):
            for index in epoch_batches(d, self.epoch, args.batch):
                yield X[index], y[index]
            self.epoch += 1

    class StepLosses(Callback):
        def __init__(self):
            super().__init__()
            self.losses: list[float] = []

        def on_batch_end(self, batch, logs=None):
            self.losses.append(float(logs["loss"]))

    def loop(model, loss_fn, optimizer, epochs: int, step_losses: list[float] | None = None) -> list[float]:
        def step(index: np.ndarray) -> float:
            loss = loss_fn(model(cr.Tensor(X[index])), y[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            return loss.item()

        return train_epochs(model, d, args.batch, epochs, step, step_losses)

    state: dict[str, Any] = {}

    def train(epochs: int) -> list[float]:
        model, loss_fn, optimizer = build()
        state["model"] = model
        if use_fit:
            history = fit(model, loss_fn, optimizer, SharedOrder(), epochs=epochs, verbose=0)
            return [float(v) for v in history["loss"]]
        return loop(model, loss_fn, optimizer, epochs)

    def warmup() -> list[float]:
        model, loss_fn, optimizer = build()
        if use_fit:
            recorder = StepLosses()
            fit(model, loss_fn, optimizer, SharedOrder(), epochs=1, verbose=0, callbacks=[recorder])
            return recorder.losses
        losses: list[float] = []
        loop(model, loss_fn, optimizer, 1, losses)
        return losses

    def accuracy() -> float:
        scores = predict(state["model"], d["X_test"])
        return float(np.mean(np.argmax(scores, axis=1) == d["y_test"]))

    return train, accuracy, warmup, {"version": cr.__version__}


def torch_maker(d: dict[str, np.ndarray], args: argparse.Namespace):
    import torch
    import torch.nn.functional as F

    if args.threads:
        torch.set_num_threads(args.threads)
    X, y = d["X_train"], d["y_train"]
    layers = [int(n) for n in d["layers"]]

    def build():
        modules: list[Any] = []
        weights = initial_weights(d)
        for i, (n_in, n_out) in enumerate(itertools.pairwise(layers)):
            layer = torch.nn.Linear(n_in, n_out)
            with torch.no_grad():
                layer.weight.copy_(torch.from_numpy(weights[2 * i]))
                layer.bias.copy_(torch.from_numpy(weights[2 * i + 1]))
            modules.append(layer)
            if i < len(layers) - 2:
                modules.append(torch.nn.ReLU())
        model = torch.nn.Sequential(*modules)
        return model, torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)

    def loop(model, optimizer, epochs: int, step_losses: list[float] | None = None) -> list[float]:
        def step(index: np.ndarray) -> float:
            loss = F.cross_entropy(model(torch.from_numpy(X[index])), torch.from_numpy(y[index]))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            return loss.item()

        return train_epochs(model, d, args.batch, epochs, step, step_losses)

    state: dict[str, Any] = {}

    def train(epochs: int) -> list[float]:
        model, optimizer = build()
        state["model"] = model
        return loop(model, optimizer, epochs)

    def warmup() -> list[float]:
        model, optimizer = build()
        losses: list[float] = []
        loop(model, optimizer, 1, losses)
        return losses

    def accuracy() -> float:
        with torch.no_grad():
            scores = state["model"](torch.from_numpy(d["X_test"])).numpy()
        return float(np.mean(np.argmax(scores, axis=1) == d["y_test"]))

    info = {
        "version": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
    }
    return train, accuracy, warmup, info


def sklearn_maker(d: dict[str, np.ndarray], args: argparse.Namespace, use_fit: bool):
    import sklearn
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    X, y = d["X_train"], d["y_train"]
    layers = [int(n) for n in d["layers"]]
    weights = initial_weights(d)
    # scikit-learn stores coefs_[i] as (in, out), C-contiguous: give it exactly that layout
    coefs = [np.ascontiguousarray(W.T) for W in weights[0::2]]
    intercepts = [b.copy() for b in weights[1::2]]
    classes = np.arange(layers[-1])

    class PresetMLP(MLPClassifier):
        """MLPClassifier whose initial weights are the shared ones (sklearn calls _init_coef once
        per layer when it initialises, on the first fit or partial_fit)."""

        def _init_coef(self, fan_in, fan_out, dtype):
            k = self._next_layer  # sklearn initialises the layers in order, first to last
            self._next_layer += 1
            assert coefs[k].shape == (fan_in, fan_out), (coefs[k].shape, fan_in, fan_out)
            return coefs[k].astype(dtype, copy=True), intercepts[k].astype(dtype, copy=True)

    def build(max_iter: int, shuffle: bool):
        clf = PresetMLP(
            hidden_layer_sizes=tuple(layers[1:-1]),
            activation="relu",
            solver="sgd",
            alpha=0.0,
            batch_size=args.batch,
            learning_rate="constant",
            learning_rate_init=args.lr,
            momentum=args.momentum,
            nesterovs_momentum=False,
            max_iter=max_iter,
            shuffle=shuffle,
            tol=0.0,
            n_iter_no_change=max_iter + 1,
            early_stopping=False,
            random_state=0,
        )
        clf._next_layer = 0
        return clf

    state: dict[str, Any] = {}

    def train(epochs: int) -> list[float]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            if use_fit:
                clf = build(epochs, shuffle=True)
                clf.fit(X, y)
            else:
                clf = build(epochs, shuffle=False)
                for epoch in range(epochs):
                    perm = d["perms"][epoch]
                    clf.partial_fit(X[perm], y[perm], classes=classes)
        state["model"] = clf
        return [float(v) for v in clf.loss_curve_]

    def warmup() -> list[float]:
        """One epoch from the shared weights, one partial_fit per shared batch: loss_ is then
        each batch's loss before its update, as the other libraries report it."""
        clf = build(1, shuffle=False)
        losses = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for index in epoch_batches(d, 0, args.batch):
                clf.partial_fit(X[index], y[index], classes=classes)
                losses.append(float(clf.loss_))
            if use_fit:  # also warm up fit's own code path
                build(1, shuffle=True).fit(X, y)
        return losses

    def accuracy() -> float:
        return float(state["model"].score(d["X_test"], d["y_test"]))

    return train, accuracy, warmup, {"version": sklearn.__version__}


MAKERS: dict[str, Callable] = {
    "chainrule-fit": lambda d, a: chainrule_maker(d, a, use_fit=True),
    "chainrule-loop": lambda d, a: chainrule_maker(d, a, use_fit=False),
    "torch": torch_maker,
    "sklearn-fit": lambda d, a: sklearn_maker(d, a, use_fit=True),
    "sklearn-partial": lambda d, a: sklearn_maker(d, a, use_fit=False),
}


def worker(args: argparse.Namespace) -> None:
    _common.use_repo_chainrule()
    with np.load(args.inputs) as f:
        d = {k: f[k] for k in f.files}
    started = time.perf_counter()
    train, accuracy, warmup, info = MAKERS[args.worker](d, args)
    import_s = time.perf_counter() - started

    start = time.perf_counter()
    first = warmup()
    warmup_s = time.perf_counter() - start

    wall0, cpu0 = time.perf_counter(), time.process_time()
    epoch_losses = train(args.epochs)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0

    steps = args.epochs * math.ceil(len(d["X_train"]) / args.batch)
    _common.emit(
        {
            "library": args.worker,
            **info,
            "seconds": wall,
            "cpu_seconds": cpu,
            "step_ms": wall / steps * 1e3,
            "steps": steps,
            "setup_seconds": import_s,
            "warmup_seconds": warmup_s,
            "first_losses": first[:FIRST_LOSSES],
            "epoch_losses": epoch_losses,
            "test_accuracy": accuracy(),
            "thread_pools": _common.thread_pools(),
        }
    )


# ================================================================== parent: run and report


def available_libraries(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    libs, notes = ["chainrule-fit", "chainrule-loop"], []
    if _common.run_torch(args.no_torch, notes, "no PyTorch row"):
        libs.append("torch")
    if args.no_sklearn:
        notes.append("scikit-learn skipped (--no-sklearn).")
    elif _common.importable("sklearn.neural_network"):
        libs += ["sklearn-fit", "sklearn-partial"]
    else:
        notes.append("scikit-learn is not installed: no scikit-learn rows.")
    return libs, notes


def summarize(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    out = {}
    for lib, rs in runs.items():
        out[lib] = {
            "seconds": _common.spread(r["seconds"] for r in rs),
            "cpu_seconds": _common.spread(r["cpu_seconds"] for r in rs),
            "step_ms": _common.spread(r["step_ms"] for r in rs),
            "warmup_seconds": _common.spread(r["warmup_seconds"] for r in rs),
            "test_accuracy": _common.spread(r["test_accuracy"] for r in rs),
            "first_losses": rs[0]["first_losses"],
            "first_epoch_loss": rs[0]["epoch_losses"][0],
            "last_epoch_loss": rs[0]["epoch_losses"][-1],
            "epochs_run": len(rs[0]["epoch_losses"]),
        }
    return out


def report(
    workload: str, meta: dict[str, Any], summary: dict[str, Any], libs: list[str], args: argparse.Namespace
) -> list[str]:
    """Print one workload's table and checks; return warnings for the notes."""
    problems = []
    reference = reference_library(libs)
    ref = summary[reference]["seconds"]["median"]
    ref_cpu = summary[reference]["cpu_seconds"]["median"]
    layers = "-".join(map(str, meta["layers"]))
    print(
        f"#### {WORKLOADS[workload]['title']}, MLP {layers}: {args.epochs} epochs, batch {args.batch} "
        f"({meta['n_train']} train / {meta['n_test']} test, "
        f"{math.ceil(meta['n_train'] / args.batch)} steps an epoch)\n"
    )
    headers = [
        "library",
        "min (s)",
        "median (s)",
        "max (s)",
        f"vs {LABELS[reference]}",
        "ms / step",
        "CPU s (median)",
        f"CPU vs {LABELS[reference]}",
        "test accuracy",
        "final train loss",
    ]
    rows = []
    for lib in libs:
        s = summary[lib]
        rows.append(
            [
                LABELS[lib],
                _common.fmt(s["seconds"]["min"]),
                _common.fmt(s["seconds"]["median"]),
                _common.fmt(s["seconds"]["max"]),
                _common.ratio(s["seconds"]["median"], ref),
                _common.fmt(s["step_ms"]["median"]),
                _common.fmt(s["cpu_seconds"]["median"]),
                _common.ratio(s["cpu_seconds"]["median"], ref_cpu),
                _common.accuracy_text(s["test_accuracy"]),
                f"{s['last_epoch_loss']:.4f}",
            ]
        )
    print(_common.markdown_table(headers, rows) + "\n")
    # the same job? per-step losses of the warm-up epoch (same weights, same batches)
    base = summary["chainrule-loop"]["first_losses"]
    for lib in libs:
        source = " (warm-up: one partial_fit per shared batch)" if lib.startswith("sklearn") else ""
        print(
            f"- first {FIRST_LOSSES} step losses, {LABELS[lib]}{source}: "
            + ", ".join(f"{v:.6f}" for v in summary[lib]["first_losses"])
            + f"; epoch 1 mean {summary[lib]['first_epoch_loss']:.6f}"
            + (
                ""
                if summary[lib]["epochs_run"] == args.epochs
                else f"; STOPPED after {summary[lib]['epochs_run']} epochs"
            )
        )
        if summary[lib]["epochs_run"] != args.epochs:
            problems.append(f"{workload}: {LABELS[lib]} ran {summary[lib]['epochs_run']} epochs, not {args.epochs}")
    worst = max(abs(a - b) for lib in libs for a, b in zip(summary[lib]["first_losses"], base))
    verdict = "agree" if worst < LOSS_TOLERANCE else "DISAGREE: the libraries are not doing the same job"
    print(
        f"- largest difference in the first {FIRST_LOSSES} step losses (all rows, warm-up epoch from "
        f"the shared weights and batches): {worst:.2e} ({verdict})"
    )
    if worst >= LOSS_TOLERANCE:
        problems.append(f"{workload}: first losses differ by {worst:.2e}")
    shared = [lib for lib in libs if lib != "sklearn-fit"]
    epoch1 = [summary[lib]["first_epoch_loss"] for lib in shared]
    print(
        f"- epoch-1 mean loss of the timed runs, shared batch order ({', '.join(LABELS[lib] for lib in shared)}): "
        f"spread {max(epoch1) - min(epoch1):.2e}"
    )
    print(
        "- warm-up (one untimed epoch, median s): "
        + ", ".join(f"{LABELS[lib]} {summary[lib]['warmup_seconds']['median']:.3f}" for lib in libs)
        + "\n"
    )
    return problems


def reference_library(libs: list[str]) -> str:
    """The row the ratios divide by: PyTorch eager when it ran, else chainrule fit."""
    return next(lib for lib in REFERENCES if lib in libs)


def parent(args: argparse.Namespace) -> None:
    libs, notes = available_libraries(args)
    workloads = [args.only] if args.only else list(WORKLOADS)
    threads = args.threads or None
    env = _common.worker_environment(threads)
    script = str(Path(__file__).resolve())
    results: dict[str, Any] = {}
    load_before = _common.load_average()
    with tempfile.TemporaryDirectory() as tmp:
        for workload in workloads:
            inputs = Path(tmp) / f"{workload}.npz"
            meta = make_inputs(inputs, workload, args.epochs, args.seed)

            def worker_args(lib: str, inputs: Path = inputs) -> list[str]:
                return [
                    script,
                    "--worker",
                    lib,
                    "--inputs",
                    str(inputs),
                    "--epochs",
                    str(args.epochs),
                    "--batch",
                    str(args.batch),
                    "--lr",
                    str(args.lr),
                    "--momentum",
                    str(args.momentum),
                    "--threads",
                    str(args.threads),
                ]

            print(f"{workload}:", file=sys.stderr)
            runs = _common.run_alternating(libs, args.repeats, worker_args, env=env)
            results[workload] = {"meta": meta, "runs": runs, "summary": summarize(runs)}

    machine = _common.machine_summary()
    machine["load_average_before"] = load_before
    machine["chainrule_commit"] = _common.checkout_state()
    first = {lib: results[workloads[0]]["runs"][lib][0] for lib in libs}
    versions = {lib: first[lib]["version"] for lib in libs}
    pools = {lib: first[lib]["thread_pools"] for lib in libs}

    print("### Training an MLP from the same start: chainrule vs PyTorch eager vs scikit-learn\n")
    print(
        f"chainrule {versions['chainrule-fit']}"
        + (f", PyTorch {versions['torch']}" if "torch" in versions else "")
        + (f", scikit-learn {versions['sklearn-fit']}" if "sklearn-fit" in versions else "")
        + f", NumPy {machine['numpy']} (chainrule at {machine['chainrule_commit']}); "
        f"Python {machine['python']}, {machine['cpus']} CPUs. "
        f"ReLU, softmax cross-entropy, SGD lr={args.lr} momentum={args.momentum} (no Nesterov, no "
        f"weight decay), float32. Wall-clock seconds of the whole training run ({args.epochs} epochs; "
        f"model and optimiser construction included, imports and a one-epoch warm-up excluded); "
        f"min/median/max over {args.repeats} processes per row, run alternately; ratios are medians "
        f"over {LABELS[reference_library(libs)]}'s median (below 1: faster). "
        f"Load average before/after: {load_before} / {machine['load_average']}.\n"
    )
    if threads:
        torch_threads = first["torch"].get("torch_threads") if "torch" in first else None
        print(
            f"Threads: OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=MKL_NUM_THREADS={threads} for every worker"
            + (
                f", torch.set_num_threads({threads}) (torch reports {torch_threads} intra-op, "
                f"{first['torch'].get('torch_interop_threads')} inter-op)"
                if torch_threads
                else ""
            )
            + ".\n"
        )
    else:
        print("Threads: every library's defaults (no thread variables set).\n")
    busy = _common.busy_note((load_before, machine["load_average"]), machine["cpus"])
    if busy:
        notes.append(busy)
    if "sklearn-fit" in libs:
        notes.append(
            "sklearn fit shuffles with its own random_state (batch order cannot be given), "
            "so its losses and accuracy differ slightly from the shared-order rows; "
            "sklearn partial_fit runs the shared order exactly (one partial_fit call per epoch)."
        )
    problems = []
    for workload in workloads:
        r = results[workload]
        problems += report(workload, r["meta"], r["summary"], libs, args)
    for note in notes + problems:
        print(f"Note: {note}\n")
    print(
        "Thread pools loaded in each worker (threadpoolctl): "
        + "; ".join(f"{LABELS[lib]}: " + ", ".join(f"{p['prefix']}={p['threads']}" for p in pools[lib]) for lib in libs)
        + "\n"
    )

    if args.json:
        _common.write_json(
            args.json,
            {
                "settings": vars(args),
                "machine": machine,
                "versions": versions,
                "thread_pools": pools,
                "notes": notes + problems,
                "results": results,
            },
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 2 epochs and 1 process per row (overrides --epochs and --repeats)",
    )
    parser.add_argument("--only", choices=sorted(WORKLOADS), help="run one workload only")
    parser.add_argument("--repeats", type=int, default=5, help="processes per row (default 5)")
    parser.add_argument("--epochs", type=int, default=50, help="training epochs (default 50)")
    parser.add_argument("--batch", type=int, default=100, help="batch size (default 100)")
    parser.add_argument("--lr", type=float, default=0.05, help="SGD learning rate (default 0.05)")
    parser.add_argument("--momentum", type=float, default=0.9, help="SGD momentum (default 0.9)")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads for every library's pools (OpenBLAS, OpenMP, MKL, torch); "
        "0 = each library's defaults (default 1)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and batch order (default 0)")
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument("--no-sklearn", action="store_true", help="leave scikit-learn out")
    parser.add_argument("--json", metavar="PATH", help="also write every measurement as JSON")
    parser.add_argument("--worker", choices=LIBRARIES, help=argparse.SUPPRESS)
    parser.add_argument("--inputs", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.repeats = 2, 1
    if args.threads < 0 or args.repeats < 1 or args.epochs < 1 or args.batch < 1:
        parser.error("--repeats, --epochs and --batch must be positive and --threads non-negative")
    if args.worker:
        worker(args)
    else:
        parent(args)


if __name__ == "__main__":
    main()
