"""Training a small CNN and a bidirectional GRU on MNIST-1D: chainrule against PyTorch eager (CPU).

The job (issue 5, "Speed"): train on MNIST-1D (4000 train / 1000 test,
``chainrule.data.load_mnist1d()``; cached under ``$CHAINRULE_CACHE`` or ``~/.cache/chainrule``)

* ``cnn``: Conv1d(1,25,5,stride 2,pad 1)-ReLU-Conv1d(25,25,3,s2,p1)-ReLU-Conv1d(25,25,3,s2,p1)-ReLU
  -Flatten-Linear(125,10), input (N, 1, 40);
* ``gru``: bidirectional GRU, hidden 6, batch_first, one input per step over 40 steps, then
  Linear(480,10) on the (N, 40, 12) outputs flattened;
* ``lstm``: LSTM, hidden 64, batch_first, one input per step over 40 steps, then Linear(64,10) on
  the last step's output (the shape of ``examples/adding_problem.py``'s LSTM: there 50 steps of 2),

with softmax cross-entropy, batch 100, float32 and SGD with momentum 0.9 (Adam lr 0.003 for the
LSTM; ``--optimizer`` sets one for every model), and report wall-clock seconds, test accuracy and
the ratio PyTorch / chainrule.

Fairness (the project's benchmarking notes):

* each library runs in its own process, the processes alternate chainrule, PyTorch, chainrule,
  PyTorch, ... (``--repeats`` each, default 3), and min/median/max are quoted;
* both start from the same weights, drawn once with NumPy by the parent (PyTorch's default
  initialisation bounds) and loaded by ``load_state_dict`` (chainrule's Conv1d, GRU and Linear use
  PyTorch's parameter names and layouts, so the state dicts map 1:1);
* both see the same batches in the same order (one permutation per epoch, drawn once with NumPy);
  the batch is cut with the same NumPy fancy index inside the timed loop in both;
* before the timed run each worker trains a throw-away copy for ``--warmup-steps`` steps from the
  shared weights (untimed; its time is reported separately) and records those step losses: the
  parent checks that the first losses agree, i.e. that both do the same job;
* threads: every worker runs with ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` and
  ``MKL_NUM_THREADS`` set to ``--threads`` (default 1), and PyTorch with
  ``torch.set_num_threads(--threads)``. One thread is the default because this is a small shared
  machine: OpenBLAS's spinning worker threads oversubscribe the cores when other jobs run.
  ``--threads 0`` leaves every library's defaults alone.

The timed region is the whole training run: building the model, loading the shared weights,
making the optimiser, then ``--epochs`` epochs of zero_grad, forward, loss, backward, optimiser
step and ``loss.item()`` per step. Imports and the warm-up are outside it; the warm-up absorbs
one-off costs such as PyTorch's first ``torch.optim`` constructor, which takes seconds (it imports
``torch._dynamo``). Wall time and this process's CPU time are both recorded; with one
thread the CPU time is steadier on a busy machine. Test accuracy is measured after the timed run.

Usage::

    python benchmarks/training_cnn_gru.py                  # every model, 3 processes per library
    python benchmarks/training_cnn_gru.py --quick          # smoke run (< 1 minute)
    python benchmarks/training_cnn_gru.py --only gru --epochs 3 --json benchmarks/results/cnn_gru.json

PyTorch is optional (``pip install torch==2.13.0``): without it only chainrule's rows are shown.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common

LIBRARIES = ("chainrule", "torch")
LABELS = {"chainrule": "chainrule", "torch": "PyTorch eager"}
MODELS = {
    "cnn": "CNN: Conv1d(1,25,5,s2,p1)-ReLU-Conv1d(25,25,3,s2,p1)-ReLU-Conv1d(25,25,3,s2,p1)-ReLU-Linear(125,10)",
    "gru": "bidirectional GRU, hidden 6, 40 steps of 1 input, Linear(480,10)",
    "lstm": "LSTM, hidden 64, 40 steps of 1 input, Linear(64,10) on the last step",
}
DEFAULT_EPOCHS = {"cnn": 10, "gru": 5, "lstm": 5}
DEFAULT_OPTIMIZER = {"cnn": "sgd", "gru": "sgd", "lstm": "adam"}
HIDDEN = 6
LSTM_HIDDEN = 64
LENGTH = 40
CLASSES = 10
FIRST_LOSSES = 5
LOSS_TOLERANCE = 1e-4  # float32, different summation orders


# ================================================================== shared inputs (parent)


def parameter_spec(model: str) -> list[tuple[str, tuple[int, ...], float]]:
    """(state-dict name, shape, bound of PyTorch's default U(-bound, bound) init) per parameter."""
    if model == "cnn":
        spec = []
        for index, (c_in, c_out, k) in zip((0, 2, 4), ((1, 25, 5), (25, 25, 3), (25, 25, 3))):
            bound = 1.0 / math.sqrt(c_in * k)
            spec += [(f"{index}.weight", (c_out, c_in, k), bound), (f"{index}.bias", (c_out,), bound)]
        bound = 1.0 / math.sqrt(125)
        return spec + [("7.weight", (CLASSES, 125), bound), ("7.bias", (CLASSES,), bound)]
    if model == "lstm":
        bound = 1.0 / math.sqrt(LSTM_HIDDEN)
        spec = [
            ("lstm.weight_ih_l0", (4 * LSTM_HIDDEN, 1), bound),
            ("lstm.weight_hh_l0", (4 * LSTM_HIDDEN, LSTM_HIDDEN), bound),
            ("lstm.bias_ih_l0", (4 * LSTM_HIDDEN,), bound),
            ("lstm.bias_hh_l0", (4 * LSTM_HIDDEN,), bound),
        ]
        return spec + [("fc.weight", (CLASSES, LSTM_HIDDEN), bound), ("fc.bias", (CLASSES,), bound)]
    spec = []
    bound = 1.0 / math.sqrt(HIDDEN)
    for suffix in ("l0", "l0_reverse"):
        spec += [
            (f"gru.weight_ih_{suffix}", (3 * HIDDEN, 1), bound),
            (f"gru.weight_hh_{suffix}", (3 * HIDDEN, HIDDEN), bound),
            (f"gru.bias_ih_{suffix}", (3 * HIDDEN,), bound),
            (f"gru.bias_hh_{suffix}", (3 * HIDDEN,), bound),
        ]
    bound = 1.0 / math.sqrt(LENGTH * 2 * HIDDEN)
    return spec + [("fc.weight", (CLASSES, LENGTH * 2 * HIDDEN), bound), ("fc.bias", (CLASSES,), bound)]


def make_inputs(path: Path, model: str, epochs: int, seed: int) -> dict[str, Any]:
    """Draw the initial weights and the batch order once; save them with the data."""
    _common.use_repo_chainrule()
    from chainrule.data import load_mnist1d

    X_train, y_train, X_test, y_test = load_mnist1d()
    rng = np.random.default_rng(seed)
    arrays: dict[str, np.ndarray] = {
        "X_train": np.ascontiguousarray(X_train, dtype=np.float32),
        "y_train": y_train.astype(np.int64),
        "X_test": np.ascontiguousarray(X_test, dtype=np.float32),
        "y_test": y_test.astype(np.int64),
        "perms": np.stack([rng.permutation(len(X_train)) for _ in range(max(epochs, 1))]),
    }
    for name, shape, bound in parameter_spec(model):
        arrays["w:" + name] = rng.uniform(-bound, bound, shape).astype(np.float32)
    np.savez(path, **arrays)
    return {
        "n_train": len(X_train),
        "n_test": len(X_test),
        "parameters": int(sum(np.prod(s) for _, s, _ in parameter_spec(model))),
    }


def batch_indices(perms: np.ndarray, epoch: int, batch: int) -> list[np.ndarray]:
    perm = perms[epoch]
    return [perm[i : i + batch] for i in range(0, len(perm), batch)]


# ================================================================== workers


def build_network(nn: Any, model_name: str) -> Any:
    """The benchmark's network, built from ``nn``: ``chainrule.nn`` or ``torch.nn``. The two share
    the layer names, arguments, shapes and parameter names, so one definition serves both."""
    if model_name == "cnn":
        return nn.Sequential(
            nn.Conv1d(1, 25, 5, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv1d(25, 25, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv1d(25, 25, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(125, CLASSES),
        )

    class GRUNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = nn.GRU(1, HIDDEN, batch_first=True, bidirectional=True)
            self.fc = nn.Linear(LENGTH * 2 * HIDDEN, CLASSES)

        def forward(self, x):
            out, _ = self.gru(x)
            return self.fc(out.reshape(out.shape[0], -1))

    class LSTMNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(1, LSTM_HIDDEN, batch_first=True)
            self.fc = nn.Linear(LSTM_HIDDEN, CLASSES)

        def forward(self, x):
            out, _ = self.lstm(x)
            return self.fc(out[:, -1, :])

    return GRUNet() if model_name == "gru" else LSTMNet()


def chainrule_maker(d: dict[str, np.ndarray], model_name: str, args: argparse.Namespace):
    import chainrule as cr
    from chainrule import nn
    from chainrule.nn.functional import cross_entropy

    def build():
        net = build_network(nn, model_name)
        net.load_state_dict({k[2:]: v.copy() for k, v in d.items() if k.startswith("w:")})
        if args.optimizer == "sgd":
            opt = cr.optim.SGD(net.parameters(), lr=args.lr, momentum=args.momentum)
        else:
            opt = cr.optim.Adam(net.parameters(), lr=args.lr)
        return net, opt

    shape = (-1, 1, LENGTH) if model_name == "cnn" else (-1, LENGTH, 1)
    X = d["X_train"].reshape(shape)
    y = d["y_train"]

    def run(epochs: int, max_steps: int | None = None) -> list[float]:
        net, opt = build()
        net.train()
        losses = []
        for epoch in range(epochs):
            for idx in batch_indices(d["perms"], epoch, args.batch):
                opt.zero_grad()
                loss = cross_entropy(net(cr.Tensor(X[idx])), cr.Tensor(y[idx]))
                loss.backward()
                opt.step()
                losses.append(loss.item())
                if max_steps is not None and len(losses) >= max_steps:
                    return losses
            epoch_ends.append(time.perf_counter())
        state["net"] = net
        return losses

    def accuracy() -> float:
        net = state["net"]
        net.eval()
        with cr.no_grad():
            logits = net(cr.Tensor(d["X_test"].reshape(shape))).numpy()
        return float(np.mean(np.argmax(logits, axis=1) == d["y_test"]))

    state: dict[str, Any] = {}
    epoch_ends: list[float] = state.setdefault("epoch_ends", [])
    return run, accuracy, {"version": cr.__version__}, epoch_ends


def torch_maker(d: dict[str, np.ndarray], model_name: str, args: argparse.Namespace):
    import torch
    import torch.nn.functional as F
    from torch import nn

    if args.threads:
        torch.set_num_threads(args.threads)

    def build():
        net = build_network(nn, model_name)
        net.load_state_dict({k[2:]: torch.from_numpy(v.copy()) for k, v in d.items() if k.startswith("w:")})
        if args.optimizer == "sgd":
            opt = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=args.momentum)
        else:
            opt = torch.optim.Adam(net.parameters(), lr=args.lr)
        return net, opt

    shape = (-1, 1, LENGTH) if model_name == "cnn" else (-1, LENGTH, 1)
    X = d["X_train"].reshape(shape)
    y = d["y_train"]

    def run(epochs: int, max_steps: int | None = None) -> list[float]:
        net, opt = build()
        net.train()
        losses = []
        for epoch in range(epochs):
            for idx in batch_indices(d["perms"], epoch, args.batch):
                opt.zero_grad()
                loss = F.cross_entropy(net(torch.from_numpy(X[idx])), torch.from_numpy(y[idx]))
                loss.backward()
                opt.step()
                losses.append(loss.item())
                if max_steps is not None and len(losses) >= max_steps:
                    return losses
            epoch_ends.append(time.perf_counter())
        state["net"] = net
        return losses

    def accuracy() -> float:
        net = state["net"]
        net.eval()
        with torch.no_grad():
            logits = net(torch.from_numpy(d["X_test"].reshape(shape))).numpy()
        return float(np.mean(np.argmax(logits, axis=1) == d["y_test"]))

    state: dict[str, Any] = {}
    epoch_ends: list[float] = state.setdefault("epoch_ends", [])
    info = {
        "version": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
    }
    return run, accuracy, info, epoch_ends


MAKERS = {"chainrule": chainrule_maker, "torch": torch_maker}


def worker(args: argparse.Namespace) -> None:
    _common.use_repo_chainrule()
    with np.load(args.inputs) as f:
        d = {k: f[k] for k in f.files}
    run, accuracy, info, epoch_ends = MAKERS[args.worker](d, args.model, args)

    start = time.perf_counter()
    first = run(1, max_steps=args.warmup_steps)
    warmup_s = time.perf_counter() - start

    epoch_ends.clear()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    losses = run(args.epochs)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0

    steps = len(losses)
    per_epoch = steps // args.epochs
    _common.emit(
        {
            "library": args.worker,
            "model": args.model,
            **info,
            "seconds": wall,
            "cpu_seconds": cpu,
            "steps": steps,
            "step_ms": wall / steps * 1e3,
            "warmup_seconds": warmup_s,
            "warmup_steps": len(first),
            "first_losses": first[:FIRST_LOSSES],
            "epoch_losses": [float(np.mean(losses[e * per_epoch : (e + 1) * per_epoch])) for e in range(args.epochs)],
            "epoch_seconds": list(np.diff([wall0, *epoch_ends])),
            "test_accuracy": accuracy(),
        }
    )


# ================================================================== parent


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "seconds": _common.spread(r["seconds"] for r in runs),
        "cpu_seconds": _common.spread(r["cpu_seconds"] for r in runs),
        "step_ms": _common.spread(r["step_ms"] for r in runs),
        "warmup_seconds": _common.spread(r["warmup_seconds"] for r in runs),
        "test_accuracy": _common.spread(r["test_accuracy"] for r in runs),
        "first_losses": runs[0]["first_losses"],
        "epoch_losses": runs[0]["epoch_losses"],
        "epoch_seconds": runs[0]["epoch_seconds"],
    }


def report(
    model: str, epochs: int, meta: dict[str, Any], summary: dict[str, Any], libs: list[str], args: argparse.Namespace
) -> list[str]:
    problems = []
    steps = math.ceil(meta["n_train"] / args.batch)
    print(
        f"#### {MODELS[model]} ({meta['parameters']} parameters): {epochs} epochs x {steps} steps, "
        f"batch {args.batch}, {meta['optimizer']}\n"
    )
    ref, ref_cpu = summary["chainrule"]["seconds"]["median"], summary["chainrule"]["cpu_seconds"]["median"]
    headers = [
        "library",
        "min (s)",
        "median (s)",
        "max (s)",
        "ms / step (median)",
        "vs chainrule (wall)",
        "CPU s (median)",
        "vs chainrule (CPU)",
        "warm-up s",
        "test accuracy",
        "last-epoch loss",
    ]
    rows = []
    for lib in libs:
        s = summary[lib]
        acc = s["test_accuracy"]
        rows.append(
            [
                LABELS[lib],
                _common.fmt(s["seconds"]["min"]),
                _common.fmt(s["seconds"]["median"]),
                _common.fmt(s["seconds"]["max"]),
                _common.fmt(s["step_ms"]["median"]),
                _common.ratio(s["seconds"]["median"], ref),
                _common.fmt(s["cpu_seconds"]["median"]),
                _common.ratio(s["cpu_seconds"]["median"], ref_cpu),
                _common.fmt(s["warmup_seconds"]["median"]),
                f"{acc['median']:.3f}"
                if acc["min"] == acc["max"]
                else f"{acc['median']:.3f} ({acc['min']:.3f}-{acc['max']:.3f})",
                f"{s['epoch_losses'][-1]:.4f}",
            ]
        )
    print(_common.markdown_table(headers, rows) + "\n")
    for lib in libs:
        print(
            f"- first {FIRST_LOSSES} step losses, {LABELS[lib]}: "
            + ", ".join(f"{v:.6f}" for v in summary[lib]["first_losses"])
            + "; epoch mean losses: "
            + ", ".join(f"{v:.4f}" for v in summary[lib]["epoch_losses"])
            + "; seconds per epoch (first process): "
            + ", ".join(f"{v:.2f}" for v in summary[lib]["epoch_seconds"])
        )
    if len(libs) > 1:
        a, b = (summary[lib]["first_losses"] for lib in libs)
        worst = max(abs(x - y) for x, y in zip(a, b))
        verdict = "agree" if worst < LOSS_TOLERANCE else "DISAGREE: the libraries are not doing the same job"
        print(
            f"- largest difference in the first {FIRST_LOSSES} step losses (same weights, same batches): "
            f"{worst:.2e} ({verdict})"
        )
        if worst >= LOSS_TOLERANCE:
            problems.append(f"{model}: first losses differ by {worst:.2e}")
        print(
            f"- PyTorch / chainrule, median wall time: "
            f"{summary['torch']['seconds']['median'] / ref:.2f} (above 1: chainrule is faster)"
        )
    print()
    return problems


def optimizer_of(model: str, args: argparse.Namespace) -> tuple[str, float]:
    """The optimiser and learning rate of ``model``: ``--optimizer``/``--lr`` or the model's defaults."""
    optimizer = args.optimizer or DEFAULT_OPTIMIZER[model]
    if args.lr is not None:
        return optimizer, args.lr
    # the LSTM learns with Adam 3e-3 (at 1e-2 it stays at chance for these epochs)
    lr = 0.05 if optimizer == "sgd" else (0.003 if model == "lstm" else 0.01)
    return optimizer, lr


def parent(args: argparse.Namespace) -> None:
    notes: list[str] = []
    libs = ["chainrule"]
    if _common.run_torch(args.no_torch, notes, "no PyTorch row"):
        libs.append("torch")
    models = [args.only] if args.only else list(MODELS)
    threads = args.threads or None
    env = _common.worker_environment(threads)
    script = str(Path(__file__).resolve())
    load_before = _common.load_average()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for model in models:
            epochs = args.epochs or DEFAULT_EPOCHS[model]
            inputs = Path(tmp) / f"{model}.npz"
            meta = make_inputs(inputs, model, epochs, args.seed)

            optimizer, lr = optimizer_of(model, args)
            meta["optimizer"] = f"SGD lr={lr} momentum={args.momentum}" if optimizer == "sgd" else f"Adam lr={lr}"

            def worker_args(
                lib: str,
                inputs: Path = inputs,
                model: str = model,
                epochs: int = epochs,
                optimizer: str = optimizer,
                lr: float = lr,
            ) -> list[str]:
                return [
                    script,
                    "--worker",
                    lib,
                    "--model",
                    model,
                    "--inputs",
                    str(inputs),
                    "--epochs",
                    str(epochs),
                    "--batch",
                    str(args.batch),
                    "--lr",
                    str(lr),
                    "--momentum",
                    str(args.momentum),
                    "--optimizer",
                    optimizer,
                    "--threads",
                    str(args.threads),
                    "--warmup-steps",
                    str(args.warmup_steps),
                ]

            print(f"{model}:", file=sys.stderr)
            runs = _common.run_alternating(libs, args.repeats, worker_args, env=env)
            results[model] = {
                "epochs": epochs,
                "meta": meta,
                "runs": runs,
                "summary": {lib: summarize(runs[lib]) for lib in libs},
            }

    machine = _common.machine_summary()
    machine["load_average_before"] = load_before
    first = {lib: results[models[0]]["runs"][lib][0] for lib in libs}
    versions = {lib: first[lib]["version"] for lib in libs}
    optimiser = "; ".join(f"{model}: {results[model]['meta']['optimizer']}" for model in models)
    print("### Training a CNN and recurrent networks on MNIST-1D: chainrule vs PyTorch eager (CPU)\n")
    print(
        f"chainrule {versions['chainrule']}"
        + (f", PyTorch {versions['torch']}" if "torch" in versions else "")
        + f", NumPy {machine['numpy']}; Python {machine['python']}, {machine['cpus']} CPUs. "
        f"Softmax cross-entropy, optimisers ({optimiser}), batch {args.batch}, float32, same initial weights and batch "
        f"order in both. Seconds of the whole training run (model and optimiser construction included; "
        f"imports and a {args.warmup_steps}-step warm-up on a throw-away copy excluded); "
        f"min/median/max over {args.repeats} processes per "
        f"library, run alternately. Load average before/after: {load_before} / {machine['load_average']}.\n"
    )
    if threads:
        t = first.get("torch", {})
        print(
            f"Threads: OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=MKL_NUM_THREADS={threads} in every worker"
            + (
                f"; torch.set_num_threads({threads}) (torch reports {t.get('torch_threads')} intra-op, "
                f"{t.get('torch_interop_threads')} inter-op threads)"
                if t
                else ""
            )
            + ".\n"
        )
    else:
        print("Threads: every library's defaults (no thread variables set).\n")
    busy = [x for x in (load_before, machine["load_average"]) if x and x[0] > 0.5 * (machine["cpus"] or 1)]
    if busy:
        notes.append(
            f"the machine was busy (1-minute load average up to {max(x[0] for x in busy)} on "
            f"{machine['cpus']} CPUs): wall times are inflated and noisy; the CPU-time columns "
            "are steadier with one thread."
        )
    problems = []
    for model in models:
        r = results[model]
        problems += report(model, r["epochs"], r["meta"], r["summary"], libs, args)
    for note in notes + problems:
        print(f"Note: {note}\n")
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "settings": vars(args),
            "machine": machine,
            "versions": versions,
            "notes": notes + problems,
            "results": results,
        }
        path.write_text(json.dumps(payload, indent=1, default=str))
        print(f"(raw results written to {path})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 1 epoch, 1 process per library (overrides --epochs and --repeats)",
    )
    parser.add_argument("--only", choices=sorted(MODELS), help="run one model only")
    parser.add_argument("--repeats", type=int, default=3, help="processes per library (default 3)")
    parser.add_argument(
        "--epochs", type=int, default=0, help="training epochs (default: 10 for the CNN, 5 for the GRU and the LSTM)"
    )
    parser.add_argument("--batch", type=int, default=100, help="batch size (default 100)")
    parser.add_argument(
        "--optimizer",
        choices=("sgd", "adam"),
        default=None,
        help="optimiser of every model (default: SGD for the CNN and the GRU, Adam for the LSTM)",
    )
    parser.add_argument(
        "--lr",
        type=float,
        default=None,
        help="learning rate (default 0.05 for SGD; for Adam 0.003 for the LSTM, 0.01 otherwise)",
    )
    parser.add_argument("--momentum", type=float, default=0.9, help="SGD momentum (default 0.9)")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads for every library's pools (OpenBLAS, OpenMP, MKL, torch); "
        "0 = each library's defaults (default 1)",
    )
    parser.add_argument("--warmup-steps", type=int, default=10, help="untimed warm-up steps (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and batch order (default 0)")
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument("--json", metavar="PATH", help="also write every measurement as JSON")
    parser.add_argument("--worker", choices=LIBRARIES, help=argparse.SUPPRESS)
    parser.add_argument("--model", choices=sorted(MODELS), help=argparse.SUPPRESS)
    parser.add_argument("--inputs", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args)
        return
    if args.quick:
        args.epochs, args.repeats, args.warmup_steps = 1, 1, min(args.warmup_steps, 5)
    parent(args)


if __name__ == "__main__":
    main()
