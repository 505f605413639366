"""Run-to-run spread of training time: the same training, many fresh processes, chainrule vs PyTorch.

Issue 17 ("Speed you can count on"): the CNN's training time was seen to jump 5-30x from one
process to the next while PyTorch's held. This script reproduces the measurement: for each model
and library it launches ``--runs`` fresh processes (``sys.executable run_to_run.py --child ...``),
alternating the libraries run by run (chainrule, PyTorch, chainrule, PyTorch, ...), and prints the
min / median / max of the training time, the max/min and max/median ratios, the median first- and
last-epoch times, and the chainrule / PyTorch ratio of the medians.

Models (the networks, data, weights and settings of the existing benchmarks, imported from them):

* ``cnn``, ``gru``, ``lstm``: ``training_cnn_gru.py`` (MNIST-1D; CNN Conv1d(1,25,5,s2,p1),
  Conv1d(25,25,3,s2,p1) x2, Linear(125,10); bidirectional GRU hidden 6; LSTM hidden 64; batch 100;
  SGD momentum 0.9 lr 0.05, Adam lr 0.003 for the LSTM);
* ``mlp``: ``training_mlp.py``'s MNIST-1D MLP 40-100-100-10, batch 100, SGD momentum 0.9 lr 0.05,
  chainrule's hand-written loop (``chainrule-loop``) against PyTorch's.

Each child: ``--threads`` (default 1) sets ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` and
``MKL_NUM_THREADS`` in its environment and ``torch.set_num_threads`` in PyTorch's child; it loads
the shared inputs (weights and batch order drawn once by the parent), runs the source benchmark's
untimed warm-up on a throw-away copy (``--no-warmup`` skips it, to time a cold start), then times
the whole training run (wall and CPU time) and each epoch, counts the page faults it took (pages the
kernel had to supply and zero: the cause issue 17 found, see ``chainrule.memory``), and prints one
JSON line. ``CHAINRULE_KEEP_FREED_MEMORY=0`` in the parent's environment reaches chainrule's
children and shows the time and faults with glibc's allocator defaults. PyTorch is
imported only in PyTorch's children; chainrule's child checks that it never loaded torch.

Usage::

    python benchmarks/run_to_run.py                              # 4 models x 10 runs x 2 libraries
    python benchmarks/run_to_run.py --runs 3 --epochs 2          # smoke run (about 2 minutes)
    python benchmarks/run_to_run.py --models cnn --runs 10 --epochs 20 --json /tmp/cnn_spread.json
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common
import training_cnn_gru
import training_mlp

MODELS = ("cnn", "mlp", "gru", "lstm")
LIBRARIES = ("chainrule", "torch")
LABELS = {"chainrule": "chainrule", "torch": "PyTorch eager"}
BATCH = 100
MOMENTUM = 0.9
MLP_LR = 0.05  # training_mlp.py's default
MLP_WORKER = {"chainrule": "chainrule-loop", "torch": "torch"}  # training_mlp.py's worker names


def settings(model: str, lib: str, threads: int) -> argparse.Namespace:
    """The namespace the source benchmark's makers read (optimiser, lr, momentum, batch, threads)."""
    if model == "mlp":
        return argparse.Namespace(lr=MLP_LR, momentum=MOMENTUM, batch=BATCH, threads=threads)
    base = argparse.Namespace(optimizer=None, lr=None, momentum=MOMENTUM, batch=BATCH, threads=threads)
    optimizer, lr = training_cnn_gru.optimizer_of(model, base)
    return argparse.Namespace(optimizer=optimizer, lr=lr, momentum=MOMENTUM, batch=BATCH, threads=threads)


def describe(model: str) -> str:
    if model == "mlp":
        return f"MLP 40-100-100-10 on MNIST-1D, SGD lr={MLP_LR} momentum={MOMENTUM}"
    ns = settings(model, "chainrule", 1)
    opt = f"SGD lr={ns.lr} momentum={MOMENTUM}" if ns.optimizer == "sgd" else f"Adam lr={ns.lr}"
    return f"{training_cnn_gru.MODELS[model]}, {opt}"


# ================================================================== child: one library, one run


def page_faults() -> int:
    """Minor page faults of this process so far: pages the kernel had to supply (and zero)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def child_cnn_gru(d: dict[str, np.ndarray], args: argparse.Namespace) -> dict[str, Any]:
    ns = settings(args.model, args.child, args.threads)
    run, accuracy, info, epoch_ends = training_cnn_gru.MAKERS[args.child](d, args.model, ns)
    warm = 0.0
    if not args.no_warmup:
        start = time.perf_counter()
        run(1, max_steps=training_cnn_gru.FIRST_LOSSES * 2)  # the source benchmark's 10 warm-up steps
        warm = time.perf_counter() - start
    epoch_ends.clear()
    faults0, wall0, cpu0 = page_faults(), time.perf_counter(), time.process_time()
    losses = run(args.epochs)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    faults = page_faults() - faults0
    return {
        **info,
        "seconds": wall,
        "cpu_seconds": cpu,
        "warmup_seconds": warm,
        "epoch_seconds": [float(x) for x in np.diff([wall0, *epoch_ends])],
        "last_loss": float(losses[-1]),
        "page_faults_per_step": faults / len(losses),
        "test_accuracy": accuracy(),
    }


def child_mlp(d: dict[str, np.ndarray], args: argparse.Namespace) -> dict[str, Any]:
    ns = settings("mlp", args.child, args.threads)
    train, accuracy, warmup, info = training_mlp.MAKERS[MLP_WORKER[args.child]](d, ns)
    # training_mlp's loop asks epoch_batches for each epoch's batches as the epoch starts: wrap it
    # (a module global that train_epochs looks up) to time the epochs without copying the loop
    starts: list[float] = []
    original = training_mlp.epoch_batches

    def timed_epoch_batches(*a: Any, **k: Any) -> list[np.ndarray]:
        starts.append(time.perf_counter())
        return original(*a, **k)

    training_mlp.epoch_batches = timed_epoch_batches
    warm = 0.0
    if not args.no_warmup:
        start = time.perf_counter()
        warmup()  # the source benchmark's warm-up: one epoch on a throw-away copy
        warm = time.perf_counter() - start
    starts.clear()
    faults0, wall0, cpu0 = page_faults(), time.perf_counter(), time.process_time()
    epoch_losses = train(args.epochs)
    end = time.perf_counter()
    faults = page_faults() - faults0
    wall, cpu = end - wall0, time.process_time() - cpu0
    training_mlp.epoch_batches = original
    return {
        **info,
        "seconds": wall,
        "cpu_seconds": cpu,
        "warmup_seconds": warm,
        "epoch_seconds": [float(x) for x in np.diff([*starts, end])],
        "last_loss": float(epoch_losses[-1]),
        "page_faults_per_step": faults / (args.epochs * -(-int(d["X_train"].shape[0]) // BATCH)),
        "test_accuracy": accuracy(),
    }


def child(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    _common.use_repo_chainrule()
    with np.load(args.inputs) as f:
        d = {k: f[k] for k in f.files}
    result = (child_mlp if args.model == "mlp" else child_cnn_gru)(d, args)
    torch_loaded = "torch" in sys.modules
    if args.child == "chainrule":
        import chainrule

        result["allocator"] = chainrule.memory.allocator_info()
    if args.child == "chainrule" and torch_loaded:
        raise RuntimeError("chainrule's child imported torch: the runs would not be independent")
    _common.emit(
        {
            "library": args.child,
            "model": args.model,
            **result,
            "process_seconds": time.perf_counter() - started,
            "torch_loaded": torch_loaded,
            "thread_pools": _common.thread_pools(),
        }
    )


# ================================================================== parent


def median_epoch(runs: list[dict[str, Any]], index: int) -> float:
    return float(np.median([r["epoch_seconds"][index] for r in runs]))


def table(results: dict[str, Any], models: list[str], libs: list[str]) -> str:
    headers = [
        "model",
        "library",
        "runs",
        "min (s)",
        "median (s)",
        "max (s)",
        "max/min",
        "max/median",
        "CPU s min / median / max",
        "1st epoch (median s)",
        "last epoch (median s)",
        "page faults / step (median)",
        "chainrule / PyTorch (median)",
        "test acc.",
    ]
    rows = []
    for model in models:
        runs = results[model]["runs"]
        medians = {lib: _common.spread(r["seconds"] for r in runs[lib])["median"] for lib in libs}
        for lib in libs:
            wall = _common.spread(r["seconds"] for r in runs[lib])
            cpu = _common.spread(r["cpu_seconds"] for r in runs[lib])
            acc = _common.spread(r["test_accuracy"] for r in runs[lib])
            rows.append(
                [
                    model,
                    LABELS[lib],
                    str(len(runs[lib])),
                    _common.fmt(wall["min"]),
                    _common.fmt(wall["median"]),
                    _common.fmt(wall["max"]),
                    _common.ratio(wall["max"], wall["min"]),
                    _common.ratio(wall["max"], wall["median"]),
                    " / ".join(_common.fmt(cpu[k]) for k in ("min", "median", "max")),
                    _common.fmt(median_epoch(runs[lib], 0)),
                    _common.fmt(median_epoch(runs[lib], -1)),
                    f"{np.median([r['page_faults_per_step'] for r in runs[lib]]):.1f}",
                    _common.ratio(medians["chainrule"], medians.get("torch")) if lib == "chainrule" else "",
                    _common.accuracy_text(acc),
                ]
            )
    return _common.markdown_table(headers, rows)


def parent(args: argparse.Namespace) -> None:
    notes: list[str] = []
    libs = ["chainrule"]
    if _common.run_torch(args.no_torch, notes, "no PyTorch rows"):
        libs.append("torch")
    env = _common.worker_environment(args.threads or None)
    script = str(Path(__file__).resolve())
    load_before = _common.load_average()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models:
            inputs = Path(tmp) / f"{model}.npz"
            if model == "mlp":
                meta = training_mlp.make_inputs(inputs, "mnist1d", args.epochs, args.seed)
            else:
                meta = training_cnn_gru.make_inputs(inputs, model, args.epochs, args.seed)

            def child_args(lib: str, model: str = model, inputs: Path = inputs) -> list[str]:
                command = [script, "--child", lib, "--model", model, "--inputs", str(inputs)]
                command += ["--epochs", str(args.epochs), "--threads", str(args.threads)]
                return command + (["--no-warmup"] if args.no_warmup else [])

            print(f"{model}:", file=sys.stderr)
            runs = _common.run_alternating(libs, args.runs, child_args, env=env)
            results[model] = {"meta": meta, "runs": runs}

    machine = _common.machine_summary()
    machine["load_average_before"] = load_before
    first = {lib: results[args.models[0]]["runs"][lib][0] for lib in libs}
    print("### Run-to-run spread of training time: chainrule vs PyTorch eager (CPU), fresh processes\n")
    print(
        f"chainrule {first['chainrule']['version']}"
        + (f", PyTorch {first['torch']['version']}" if "torch" in first else "")
        + f", NumPy {machine['numpy']}, Python {machine['python']}, {machine['cpus']} CPUs; checkout "
        f"{_common.checkout_state()}. {args.runs} fresh processes per library and model, alternating "
        f"libraries run by run; {args.epochs} epochs of batch {BATCH}, float32, same weights and batch "
        f"order for both libraries; seconds of the whole timed training run (model and optimiser built "
        f"inside it; imports and "
        + ("no warm-up" if args.no_warmup else "the source benchmark's warm-up on a throw-away copy")
        + f" outside). Threads per child: {args.threads or 'library defaults'}. Load average "
        f"before/after: {load_before} / {machine['load_average']}. chainrule keeps freed memory for "
        f"reuse: {first['chainrule']['allocator']['keep_freed_memory']}"
        + (f" ({first['chainrule']['allocator']['reason']})" if first["chainrule"]["allocator"]["reason"] else "")
        + ".\n"
    )
    for model in args.models:
        print(f"- {model}: {describe(model)}")
    print()
    print(table(results, args.models, libs) + "\n")
    for model in args.models:
        for lib in libs:
            runs = results[model]["runs"][lib]
            losses = {round(r["last_loss"], 6) for r in runs}
            print(
                f"- {model}, {LABELS[lib]}: run times in order "
                + ", ".join(_common.fmt(r["seconds"]) for r in runs)
                + "; last loss "
                + ("identical in every run" if len(losses) == 1 else f"DIFFERS between runs: {sorted(losses)}")
            )
    print()
    busy = _common.busy_note([load_before, machine["load_average"]], machine["cpus"])
    for note in notes + ([busy] if busy else []):
        print(f"Note: {note}\n")
    if args.json:
        _common.write_json(args.json, {"settings": vars(args), "machine": machine, "notes": notes, "results": results})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--models", nargs="+", choices=MODELS, default=list(MODELS), help="models to run (default: all four)"
    )
    parser.add_argument("--runs", type=int, default=10, help="fresh processes per library and model (default 10)")
    parser.add_argument("--epochs", type=int, default=5, help="training epochs per run (default 5)")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads for every library's pools (OpenBLAS, OpenMP, MKL, torch); 0 = library defaults (default 1)",
    )
    parser.add_argument("--no-warmup", action="store_true", help="time from a cold start (no untimed warm-up)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and batch order (default 0)")
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument("--json", metavar="PATH", help="also write every measurement as JSON")
    parser.add_argument("--child", choices=LIBRARIES, help=argparse.SUPPRESS)
    parser.add_argument("--model", choices=MODELS, help=argparse.SUPPRESS)
    parser.add_argument("--inputs", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.runs < 1 or args.epochs < 1 or args.threads < 0:
        parser.error("--runs and --epochs must be positive and --threads non-negative")
    if args.child:
        if args.child == "torch" and args.threads:
            import torch  # only PyTorch's child loads torch; the makers set its threads too

            torch.set_num_threads(args.threads)
        child(args)
    else:
        parent(args)


if __name__ == "__main__":
    main()
