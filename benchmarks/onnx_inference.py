"""Inference latency of small CNNs on the CPU: chainrule eager and ``cr.compile`` against ONNX Runtime
on chainrule's own ONNX export of the same model, and PyTorch eager (issue 18).

The models (float32, eval mode, the same weights in every row):

* ``cnn1d``: the MNIST-1D CNN of ``training_cnn_gru.py`` and ``compiled.py`` --
  Conv1d(1,25,5,s2,p1)-ReLU-Conv1d(25,25,3,s2,p1)-ReLU-Conv1d(25,25,3,s2,p1)-ReLU-Flatten
  -Linear(125,10) on (N, 1, 40) inputs: MNIST-1D's 4000 + 1000 samples
  (``chainrule.data.load_mnist1d()``, generated offline by the ``mnist1d`` package and cached);
* ``cnn2d``: Conv2d(1,16,3,p1)-BatchNorm2d(16)-ReLU-MaxPool2d(2)-Conv2d(16,32,3,p1)
  -BatchNorm2d(32)-ReLU-MaxPool2d(2)-Flatten-Linear(128,10) on the digits' (N, 1, 8, 8) images
  (``chainrule.data.load_digits(as_images=True)``, pixels scaled to [0, 1]). The BatchNorm layers
  use their running statistics (eval mode), drawn at random so that they are not the identity.

Batch sizes 1, 100 and 1000 (``--batches``). Rows (each its own process; the processes alternate
A B C D A B C D ..., see ``_common.py``):

* ``chainrule eager``: ``with cr.no_grad(): model(cr.from_numpy(x)).numpy()``, the model in eval mode;
* ``chainrule compiled``: ``cr.compile`` of ``def forward(x): with cr.no_grad(): return model(x)``
  (eval mode), called as ``forward(cr.from_numpy(x)).numpy()``. Per batch size (a new input
  signature) the first two calls run eagerly and are recorded, later calls replay the plan; the
  compiled function's ``stats`` are checked per batch size: 2 recorded, every later call replayed,
  none eager; any ``CompileWarning`` is reported. (Consecutive calls get different batches, so the
  plan's inputs are validated at once and no call compares its input with the recorded one.)
  ``cr.compile`` uses numba's fused loops where numba is installed and enabled (``backend="auto"``);
* ``onnxruntime``: ``onnxruntime.InferenceSession`` (CPU execution provider, default graph
  optimisations) on the file that ``chainrule.onnx.export(model, example, path)`` wrote -- the
  export runs once, in a process of its own, before the timed workers -- called as
  ``session.run(None, {"input": x})[0]``;
* ``PyTorch eager``: the same layers in ``torch.nn`` with the same weights (``load_state_dict``),
  ``with torch.no_grad(): model(torch.from_numpy(x)).numpy()``, eval mode, when PyTorch is installed.

So every row is timed from a NumPy batch in to a NumPy array of logits out, as a user serving the
model would call it.

Fairness (the project's benchmarking notes): the parent draws the weights once with NumPy (PyTorch's
default init bounds for convolutions and linear layers) and cuts ``K`` = 4 different batches per
batch size once; every row loads the same weights and runs the same batches in the same order
(cycling through the ``K``). Before its timings are shown, every row's logits on a fixed batch of
each size are compared with chainrule eager's: they must agree within ``1e-4`` of the largest
absolute logit (float32, different summation orders), and the predicted classes must agree.

What is timed, in each process, per model and batch size: the first two calls one by one (the
"first 2 calls" column: chainrule compiled records there, ONNX Runtime and PyTorch allocate), then
``_common.time_per_call``'s scheme: two more calls untimed (a compiled function's first replay is
one), then calls back to back in blocks calibrated to about ``--block-seconds`` each,
``--timing-repeats`` blocks (garbage collected before each), the median block's time per call, on
the wall clock and on this process's CPU clock. Building the model and loading the weights
(chainrule, PyTorch) or creating the session (ONNX Runtime) is reported apart.

Threads: every worker runs with ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` and ``MKL_NUM_THREADS``
set to ``--threads`` (default 1), PyTorch with ``torch.set_num_threads``, and ONNX Runtime with
``SessionOptions.intra_op_num_threads = inter_op_num_threads = --threads``. ``--threads 0`` leaves
every library's defaults alone.

A full run (two models, three batch sizes, four rows, 3 processes each) takes about 2 minutes on
2 cores; ``--quick`` (batches 1 and 100, 1 process per row, short timing) about 20 seconds.

Usage::

    python benchmarks/onnx_inference.py                         # both models, 3 processes a row
    python benchmarks/onnx_inference.py --quick                 # smoke run
    python benchmarks/onnx_inference.py --models cnn1d --batches 1,100 --json benchmarks/results/onnx.json

ONNX Runtime (with ``onnx``, for the export) and PyTorch are optional: rows for a missing one are
left out with a note.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import math
import statistics
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
import training_cnn_gru

LIBRARIES = ("cr-eager", "cr-compiled", "onnxruntime", "torch")
LABELS = {
    "cr-eager": "chainrule eager",
    "cr-compiled": "chainrule compiled",
    "onnxruntime": "onnxruntime",
    "torch": "PyTorch eager",
}
MODELS = {
    "cnn1d": "MNIST-1D CNN: Conv1d(1,25,5,s2,p1)-ReLU-Conv1d(25,25,3,s2,p1)-ReLU-Conv1d(25,25,3,s2,p1)-ReLU"
    "-Flatten-Linear(125,10), input (N, 1, 40)",
    "cnn2d": "digits CNN: Conv2d(1,16,3,p1)-BatchNorm2d-ReLU-MaxPool2d(2)-Conv2d(16,32,3,p1)-BatchNorm2d-ReLU"
    "-MaxPool2d(2)-Flatten-Linear(128,10), input (N, 1, 8, 8)",
}
BATCHES = (1, 100, 1000)
QUICK_BATCHES = (1, 100)
DISTINCT = 4  # different batches per batch size, cycled through
FIRST_CALLS = 2
TOLERANCE = 1e-4  # of the largest absolute logit
CLASSES = training_cnn_gru.CLASSES


# ================================================================== shared inputs (parent)


def parameter_spec(model: str) -> list[tuple[str, tuple[int, ...], float, float]]:
    """(state-dict name, shape, low, high) of every float parameter and buffer, drawn U(low, high):
    PyTorch's default init bounds for convolutions and linear layers; BatchNorm's scale, shift and
    running statistics drawn so that the layer is not the identity."""
    if model == "cnn1d":
        return [(name, shape, -bound, bound) for name, shape, bound in training_cnn_gru.parameter_spec("cnn")]
    spec = []
    for conv, norm, (c_in, c_out) in ((0, 1, (1, 16)), (4, 5, (16, 32))):
        bound = 1.0 / math.sqrt(c_in * 9)
        spec += [
            (f"{conv}.weight", (c_out, c_in, 3, 3), -bound, bound),
            (f"{conv}.bias", (c_out,), -bound, bound),
            (f"{norm}.weight", (c_out,), 0.5, 1.5),
            (f"{norm}.bias", (c_out,), -0.5, 0.5),
            (f"{norm}.running_mean", (c_out,), -0.5, 0.5),
            (f"{norm}.running_var", (c_out,), 0.5, 2.0),
        ]
    bound = 1.0 / math.sqrt(128)
    return spec + [("9.weight", (CLASSES, 128), -bound, bound), ("9.bias", (CLASSES,), -bound, bound)]


def load_samples(model: str) -> np.ndarray:
    """Every sample the model's batches are cut from, float32, in the layout the model reads."""
    _common.use_repo_chainrule()
    if model == "cnn1d":
        from chainrule.data import load_mnist1d

        X_train, _, X_test, _ = load_mnist1d()
        return np.concatenate([X_train, X_test]).astype(np.float32).reshape(-1, 1, training_cnn_gru.LENGTH)
    from chainrule.data import load_digits

    X, _ = load_digits(as_images=True, return_X_y=True)
    return (np.asarray(X, dtype=np.float32) / 16.0).reshape(-1, 1, 8, 8)


def make_inputs(path: Path, models: list[str], batches: list[int], seed: int) -> dict[str, Any]:
    """Draw every model's weights and cut its batches once; save them for the workers."""
    rng = np.random.default_rng(seed)
    arrays: dict[str, np.ndarray] = {}
    meta: dict[str, Any] = {}
    for model in models:
        X = load_samples(model)
        for name, shape, low, high in parameter_spec(model):
            arrays[f"w:{model}:{name}"] = rng.uniform(low, high, shape).astype(np.float32)
        if model == "cnn2d":
            for norm in (1, 5):
                arrays[f"w:{model}:{norm}.num_batches_tracked"] = np.array(0, dtype=np.int64)
        for batch in batches:
            index = [rng.choice(len(X), size=batch, replace=batch > len(X)) for _ in range(DISTINCT)]
            arrays[f"x:{model}:{batch}"] = np.ascontiguousarray(np.stack([X[i] for i in index]))
        meta[model] = {
            "samples": len(X),
            "parameters": int(
                sum(np.prod(shape) for name, shape, _, _ in parameter_spec(model) if "running" not in name)
            ),
        }
    np.savez(path, **arrays)
    return meta


# ================================================================== workers


def build_network(nn: Any, model: str) -> Any:
    """The model from ``nn`` (``chainrule.nn`` or ``torch.nn``: the same layer names, arguments and
    state-dict names, so one definition and one state dict serve both)."""
    if model == "cnn1d":
        return training_cnn_gru.build_network(nn, "cnn")
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(128, CLASSES),
    )


def weights_of(d: dict[str, np.ndarray], model: str) -> dict[str, np.ndarray]:
    prefix = f"w:{model}:"
    return {k[len(prefix) :]: v.copy() for k, v in d.items() if k.startswith(prefix)}


class Predictor:
    """One library's ``predict(x: ndarray) -> ndarray`` for one model, with what the report needs."""

    def __init__(self, predict: Callable[[np.ndarray], np.ndarray], stats: Callable[[], dict] = dict) -> None:
        self.predict = predict
        self.stats = stats  # cr.compile's counters (empty for the others)


def chainrule_setup(args: argparse.Namespace) -> tuple[Callable[[dict, str], Predictor], dict[str, Any]]:
    _common.use_repo_chainrule()
    import chainrule as cr
    from chainrule import kernels

    compiled = args.worker == "cr-compiled"

    def make(d: dict[str, np.ndarray], model: str) -> Predictor:
        net = build_network(cr.nn, model)
        net.load_state_dict({k: cr.from_numpy(v) for k, v in weights_of(d, model).items()})
        net.eval()
        if not compiled:

            def predict(x: np.ndarray) -> np.ndarray:
                with cr.no_grad():
                    return net(cr.from_numpy(x)).numpy()

            return Predictor(predict)

        def forward(x):
            with cr.no_grad():
                return net(x)

        step = cr.compile(forward)
        return Predictor(lambda x: step(cr.from_numpy(x)).numpy(), lambda: dict(step.stats))

    return make, {"version": cr.__version__, "numba": kernels.enabled()}


def onnxruntime_setup(args: argparse.Namespace) -> tuple[Callable[[dict, str], Predictor], dict[str, Any]]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    if args.threads:
        options.intra_op_num_threads = args.threads
        options.inter_op_num_threads = args.threads
    info = {
        "version": ort.__version__,
        "intra_op_num_threads": options.intra_op_num_threads,
        "inter_op_num_threads": options.inter_op_num_threads,
        "graph_optimization_level": str(options.graph_optimization_level),
    }

    def make(d: dict[str, np.ndarray], model: str) -> Predictor:
        session = ort.InferenceSession(
            str(Path(args.onnx_dir) / f"{model}.onnx"), options, providers=["CPUExecutionProvider"]
        )
        info["providers"] = session.get_providers()
        name = session.get_inputs()[0].name
        run = session.run
        return Predictor(lambda x: run(None, {name: x})[0])

    return make, info


def torch_setup(args: argparse.Namespace) -> tuple[Callable[[dict, str], Predictor], dict[str, Any]]:
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    def make(d: dict[str, np.ndarray], model: str) -> Predictor:
        net = build_network(torch.nn, model)
        net.load_state_dict({k: torch.from_numpy(v) for k, v in weights_of(d, model).items()})
        net.eval()

        def predict(x: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return net(torch.from_numpy(x)).numpy()

        return Predictor(predict)

    info = {
        "version": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
    }
    return make, info


SETUPS = {"cr-eager": chainrule_setup, "cr-compiled": chainrule_setup, "onnxruntime": onnxruntime_setup}
SETUPS["torch"] = torch_setup


def time_calls(fn: Callable[[], Any], repeats: int, block_seconds: float) -> dict[str, Any]:
    """Seconds per call of ``fn`` on the wall and CPU clocks: the medians over ``repeats`` blocks of
    back-to-back calls, each block calibrated to about ``block_seconds`` (``_common.time_per_call``'s
    scheme: two untimed calls first, e.g. a compiled function's first replay; both clocks read
    around each block). Also how many calls were made."""
    fn()
    fn()
    calls, n = 2, 1
    while True:
        start = time.perf_counter()
        for _ in range(n):
            fn()
        elapsed = time.perf_counter() - start
        calls += n
        if elapsed >= block_seconds / 4 or n >= 1 << 20:
            break
        n *= 2
    n = max(1, int(n * block_seconds / max(elapsed, 1e-9)))
    wall, cpu = [], []
    for _ in range(repeats):
        gc.collect()
        wall0, cpu0 = time.perf_counter(), time.process_time()
        for _ in range(n):
            fn()
        wall.append((time.perf_counter() - wall0) / n)
        cpu.append((time.process_time() - cpu0) / n)
        calls += n
    return {"wall_s": statistics.median(wall), "cpu_s": statistics.median(cpu), "calls": calls, "block": n}


def measure(predictor: Predictor, xs: list[np.ndarray], args: argparse.Namespace) -> dict[str, Any]:
    """One batch size: the first calls one by one, then the timed blocks cycling through the
    batches ``xs``; then the logits on ``xs[0]`` (a replay when compiled) and ``cr.compile``'s
    counters of these calls."""
    before = predictor.stats()
    first = []
    for x in xs[:FIRST_CALLS]:
        start = time.perf_counter()
        predictor.predict(x)
        first.append(time.perf_counter() - start)
    cycle = itertools.cycle(xs[FIRST_CALLS:] + xs[:FIRST_CALLS])
    predict = predictor.predict
    timing = time_calls(lambda: predict(next(cycle)), args.timing_repeats, args.block_seconds)
    check = np.asarray(predict(xs[0]), dtype=np.float32)
    after = predictor.stats()
    return {
        "ms": timing["wall_s"] * 1e3,
        "cpu_ms": timing["cpu_s"] * 1e3,
        "calls": FIRST_CALLS + timing["calls"] + 1,
        "block": timing["block"],
        "first_calls_ms": [s * 1e3 for s in first],
        "stats": {k: after[k] - before.get(k, 0) for k in after},
        "outputs": check.tolist(),
    }


def worker(args: argparse.Namespace) -> None:
    with np.load(args.inputs) as f:
        d = {k: f[k] for k in f.files}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        start = time.perf_counter()
        make, info = SETUPS[args.worker](args)
        import_s = time.perf_counter() - start
        models: dict[str, Any] = {}
        for model in args.models:
            start = time.perf_counter()
            predictor = make(d, model)
            out: dict[str, Any] = {"setup_s": time.perf_counter() - start, "batches": {}}
            for batch in args.batches:
                out["batches"][str(batch)] = measure(predictor, list(d[f"x:{model}:{batch}"]), args)
            models[model] = out
    messages = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
    _common.emit(
        {
            "library": args.worker,
            **info,
            "import_s": import_s,
            "models": models,
            "warnings": messages,
            "thread_pools": _common.thread_pools(),
        }
    )


def export_worker(args: argparse.Namespace) -> None:
    """Write each model's ONNX file with ``chainrule.onnx.export`` (in a process of its own, so that
    the parent never loads the libraries it times)."""
    _common.use_repo_chainrule()
    import onnx

    import chainrule as cr

    with np.load(args.inputs) as f:
        d = {k: f[k] for k in f.files}
    out: dict[str, Any] = {}
    for model in args.models:
        net = build_network(cr.nn, model)
        net.load_state_dict({k: cr.from_numpy(v) for k, v in weights_of(d, model).items()})
        net.eval()
        path = Path(args.onnx_dir) / f"{model}.onnx"
        example = d[f"x:{model}:{args.batches[0]}"][0]
        start = time.perf_counter()
        proto = cr.onnx.export(net, cr.from_numpy(example), str(path))
        out[model] = {
            "export_s": time.perf_counter() - start,
            "bytes": path.stat().st_size,
            "nodes": [n.op_type for n in proto.graph.node],
            "opset": max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")),
            "input_shape": [dim.dim_param or dim.dim_value for dim in proto.graph.input[0].type.tensor_type.shape.dim],
        }
    _common.emit({"library": "export", "version": cr.__version__, "onnx": onnx.__version__, "models": out})


# ================================================================== parent


def available_libraries(args: argparse.Namespace, notes: list[str]) -> list[str]:
    libs = ["cr-eager", "cr-compiled"]
    missing = [m for m in ("onnx", "onnxruntime") if not _common.importable(m)]
    if missing:
        notes.append(
            f"onnxruntime row left out: {' and '.join(missing)} not installed "
            '(pip install "chainrule[onnx]" onnxruntime); the ratios vs onnxruntime show a dash.'
        )
    else:
        libs.append("onnxruntime")
    if _common.run_torch(args.no_torch, notes, "no PyTorch row"):
        libs.append("torch")
    return libs


def check_outputs(model: str, runs: dict[str, list[dict]], batches: list[int]) -> dict[str, dict[str, Any]]:
    """Each row's largest difference from chainrule eager's logits (first process) on the check
    batches, over all its processes and batch sizes, relative to the largest absolute logit; and
    whether the predicted classes agree."""
    out = {}
    for lib, lib_runs in runs.items():
        worst, same_classes = 0.0, True
        for batch in batches:
            ref = np.asarray(runs["cr-eager"][0]["models"][model]["batches"][str(batch)]["outputs"])
            scale = max(float(np.max(np.abs(ref))), 1e-30)
            for r in lib_runs:
                got = np.asarray(r["models"][model]["batches"][str(batch)]["outputs"])
                if got.shape != ref.shape:
                    worst, same_classes = math.inf, False
                    continue
                worst = max(worst, float(np.max(np.abs(got - ref))) / scale)
                same_classes &= bool(np.array_equal(np.argmax(got, axis=1), np.argmax(ref, axis=1)))
        out[lib] = {"relative": worst, "classes": same_classes, "agree": worst <= TOLERANCE and same_classes}
    return out


def summarize(model: str, runs: list[dict], batches: list[int]) -> dict[str, Any]:
    per = [r["models"][model] for r in runs]
    out: dict[str, Any] = {"setup_s": _common.spread(p["setup_s"] for p in per), "batches": {}}
    for batch in batches:
        b = [p["batches"][str(batch)] for p in per]
        out["batches"][batch] = {
            "ms": _common.spread(x["ms"] for x in b),
            "cpu_ms": _common.spread(x["cpu_ms"] for x in b),
            "first_calls_ms": _common.spread(sum(x["first_calls_ms"]) for x in b),
            "stats": [x["stats"] for x in b],
            "calls": [x["calls"] for x in b],
        }
    return out


def median_ms(summary: dict[str, Any], lib: str, batch: int) -> float | None:
    return summary[lib]["batches"][batch]["ms"]["median"] if lib in summary else None


def report(
    model: str,
    summary: dict[str, Any],
    checks: dict[str, Any],
    exported: dict[str, Any],
    meta: dict[str, Any],
    args: argparse.Namespace,
) -> list[str]:
    """Print one model's checks and table; return the problems for the notes."""
    problems = []
    libs = list(summary)
    print(f"#### {MODELS[model]} ({meta['parameters']} parameters; batches cut from {meta['samples']} samples)\n")
    if exported:
        print(
            f"ONNX file (chainrule.onnx.export, opset {exported['opset']}, input {exported['input_shape']}, "
            f"{exported['bytes']} bytes, exported in {exported['export_s']:.2f} s): "
            + " ".join(exported["nodes"])
            + "\n"
        )
    print(
        f"- outputs on the check batches (batch {', '.join(map(str, args.batches))}) vs chainrule eager, largest "
        f"difference / largest |logit| over every process (tolerance {TOLERANCE:g}): "
        + "; ".join(
            f"{LABELS[lib]} {checks[lib]['relative']:.1e}"
            + ("" if checks[lib]["classes"] else ", predicted classes DIFFER")
            + ("" if checks[lib]["agree"] else " (DISAGREE: do not trust this row's timings)")
            for lib in libs
            if lib != "cr-eager"
        )
    )
    for lib in libs:
        if not checks[lib]["agree"]:
            problems.append(
                f"{model}: {LABELS[lib]}'s outputs differ from chainrule eager's ({checks[lib]['relative']:.1e})"
            )
    if "cr-compiled" in summary:
        stats = []
        for batch in args.batches:
            s = summary["cr-compiled"]["batches"][batch]
            for st, n in zip(s["stats"], s["calls"]):
                expected = {"recorded": FIRST_CALLS, "replayed": n - FIRST_CALLS, "eager": 0}
                if st != expected:
                    problems.append(f"{model} batch {batch}: cr.compile stats {st}, expected {expected}")
            stats.append(f"batch {batch}: {s['stats'][0]}")
        print(
            f"- cr.compile stats, first process: {'; '.join(stats)} (expected 2 recorded, the rest replayed, 0 eager)"
        )
    setup = ", ".join(f"{LABELS[lib]} {_common.fmt(summary[lib]['setup_s']['median'] * 1e3)}" for lib in libs)
    print(f"- setup per process, ms (model built and weights loaded; onnxruntime: InferenceSession): {setup}\n")
    headers = [
        "batch",
        "library",
        "ms / batch",
        "min",
        "max",
        "vs onnxruntime",
        "vs PyTorch eager",
        "µs / sample",
        "CPU ms / batch",
        f"first {FIRST_CALLS} calls (ms)",
    ]
    rows = []
    for batch in args.batches:
        for lib in libs:
            s = summary[lib]["batches"][batch]
            ms = s["ms"]["median"]
            rows.append(
                [
                    str(batch),
                    LABELS[lib],
                    _common.fmt(ms),
                    _common.fmt(s["ms"]["min"]),
                    _common.fmt(s["ms"]["max"]),
                    _common.ratio(ms, median_ms(summary, "onnxruntime", batch)),
                    _common.ratio(ms, median_ms(summary, "torch", batch)),
                    _common.fmt(ms * 1e3 / batch),
                    _common.fmt(s["cpu_ms"]["median"]),
                    _common.fmt(s["first_calls_ms"]["median"]),
                ]
            )
    print(_common.markdown_table(headers, rows) + "\n")
    return problems


def overview(results: dict[str, Any], libs: list[str], batches: list[int]) -> None:
    """One line per model and batch size: every row's median ms per batch."""
    print("#### Overview: median ms per batch\n")
    headers = ["model", "batch", *(LABELS[lib] for lib in libs), "compiled vs onnxruntime", "eager vs onnxruntime"]
    rows = []
    for model, r in results.items():
        s = r["summary"]
        for batch in batches:
            ort = median_ms(s, "onnxruntime", batch)
            rows.append(
                [
                    model,
                    str(batch),
                    *(_common.fmt(median_ms(s, lib, batch)) for lib in libs),
                    _common.ratio(median_ms(s, "cr-compiled", batch), ort),
                    _common.ratio(median_ms(s, "cr-eager", batch), ort),
                ]
            )
    print(_common.markdown_table(headers, rows) + "\n")


def worker_args(lib: str, inputs: Path, onnx_dir: Path, args: argparse.Namespace) -> list[str]:
    options = {
        "worker": lib,
        "inputs": inputs,
        "onnx-dir": onnx_dir,
        "models": ",".join(args.models),
        "batches": ",".join(map(str, args.batches)),
        "threads": args.threads,
        "timing-repeats": args.timing_repeats,
        "block-seconds": args.block_seconds,
    }
    script = str(Path(__file__).resolve())
    return [script, *(word for name, value in options.items() for word in (f"--{name}", str(value)))]


def parent(args: argparse.Namespace) -> None:
    notes: list[str] = []
    libs = available_libraries(args, notes)
    threads = args.threads or None
    env = _common.worker_environment(threads)
    load_before = _common.load_average()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        inputs = Path(tmp) / "inputs.npz"
        meta = make_inputs(inputs, args.models, args.batches, args.seed)
        exported: dict[str, Any] = {}
        if "onnxruntime" in libs:
            print("exporting with chainrule.onnx.export ...", file=sys.stderr)
            exported = _common.run_worker(worker_args("export", inputs, Path(tmp), args), env=env)
        runs = _common.run_alternating(
            libs, args.repeats, lambda lib: worker_args(lib, inputs, Path(tmp), args), env=env
        )
    for model in args.models:
        results[model] = {
            "meta": meta[model],
            "export": exported.get("models", {}).get(model, {}),
            "checks": check_outputs(model, runs, args.batches),
            "summary": {lib: summarize(model, runs[lib], args.batches) for lib in libs},
        }

    machine = _common.machine_summary()
    machine["load_average_before"] = load_before
    machine["chainrule_commit"] = _common.checkout_state()
    first = {lib: runs[lib][0] for lib in libs}
    versions = {lib: first[lib]["version"] for lib in libs}
    print(
        "### Inference latency of small CNNs: chainrule eager and cr.compile vs onnxruntime and PyTorch eager (CPU)\n"
    )
    print(
        f"chainrule {versions['cr-eager']} (at {machine['chainrule_commit']}; numba "
        + ("on" if first["cr-eager"]["numba"] else "off")
        + ")"
        + (
            f", onnxruntime {versions['onnxruntime']} ({', '.join(first['onnxruntime'].get('providers', []))}, "
            f"{first['onnxruntime']['graph_optimization_level']}) on files from chainrule.onnx.export "
            f"(onnx {exported['onnx']})"
            if "onnxruntime" in versions
            else ""
        )
        + (f", PyTorch {versions['torch']}" if "torch" in versions else "")
        + f", NumPy {machine['numpy']}; Python {machine['python']}, {machine['cpus']} CPUs. "
        "Forward only, eval mode, float32, the same weights and batches in every row; timed from a NumPy batch in "
        "to NumPy logits out. Milliseconds per batch (wall clock: the median block of back-to-back calls in one "
        f"process); min/median/max over {args.repeats} processes per row, run alternately; ratios are medians "
        f"over the peer's median (below 1: faster). The first {FIRST_CALLS} calls per batch size (chainrule "
        f"compiled records there) are timed on their own. Load average before/after: {load_before} / "
        f"{machine['load_average']}.\n"
    )
    if threads:
        t, o = first.get("torch", {}), first.get("onnxruntime", {})
        print(
            f"Threads: OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=MKL_NUM_THREADS={threads} in every worker"
            + (
                f"; onnxruntime intra_op_num_threads={o['intra_op_num_threads']}, "
                f"inter_op_num_threads={o['inter_op_num_threads']}"
                if o
                else ""
            )
            + (f"; torch.set_num_threads({threads}) ({t.get('torch_threads')} intra-op reported)" if t else "")
            + ".\n"
        )
    else:
        print("Threads: every library's defaults (no thread variables set; onnxruntime's session defaults).\n")
    busy = _common.busy_note((load_before, machine["load_average"]), machine["cpus"])
    if busy:
        notes.append(busy)
    problems = []
    for model, r in results.items():
        problems += report(model, r["summary"], r["checks"], r["export"], r["meta"], args)
    if len(args.batches) > 1 or len(results) > 1:
        overview(results, libs, args.batches)
    for lib in ("cr-eager", "cr-compiled"):  # the peers' own warnings are in the JSON
        for message in sorted({m for r in runs[lib] for m in r["warnings"]}):
            print(f"- warning in {LABELS[lib]}: {message[:400]}")
            if "CompileWarning" in message:
                problems.append(message[:400])
    for note in notes + problems:
        print(f"Note: {note}\n")
    if args.json:
        for lib_runs in runs.values():  # the logits stay out of the file: the checks above summarise them
            for r in lib_runs:
                for m in r["models"].values():
                    for b in m["batches"].values():
                        b.pop("outputs", None)
        _common.write_json(
            args.json,
            {
                "settings": vars(args),
                "machine": machine,
                "versions": versions,
                "export": exported,
                "notes": notes + problems,
                "results": results,
                "runs": runs,
            },
        )


def batch_list(text: str) -> list[int]:
    try:
        batches = [int(w) for w in text.split(",") if w.strip()]
    except ValueError:
        batches = []
    if not batches or min(batches) < 1:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive batch sizes, got {text!r}")
    return batches


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run: batches {','.join(map(str, QUICK_BATCHES))}, 1 process per row, short timing",
    )
    parser.add_argument(
        "--models",
        type=_common.name_list(tuple(MODELS), "model"),
        default=list(MODELS),
        help=f"comma-separated models (default all: {','.join(MODELS)})",
    )
    parser.add_argument(
        "--batches",
        type=batch_list,
        default=None,
        help=f"comma-separated batch sizes (default {','.join(map(str, BATCHES))})",
    )
    parser.add_argument("--repeats", type=int, default=3, help="processes per row (default 3)")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads for every library's pools (OpenBLAS, OpenMP, MKL, torch, onnxruntime's intra- and "
        "inter-op); 0 = each library's defaults (default 1)",
    )
    parser.add_argument(
        "--timing-repeats", type=int, default=7, help="timed blocks per batch size in a process (default 7)"
    )
    parser.add_argument(
        "--block-seconds", type=float, default=0.05, help="about how long one timed block runs (default 0.05)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and batches (default 0)")
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument("--json", metavar="PATH", help="also write every measurement as JSON")
    parser.add_argument("--worker", choices=(*LIBRARIES, "export"), help=argparse.SUPPRESS)
    parser.add_argument("--inputs", help=argparse.SUPPRESS)
    parser.add_argument("--onnx-dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.batches is None:
        args.batches = list(QUICK_BATCHES if args.quick else BATCHES)
    if args.worker == "export":
        export_worker(args)
        return
    if args.worker:
        worker(args)
        return
    if args.quick:
        args.repeats, args.timing_repeats, args.block_seconds = 1, min(args.timing_repeats, 3), 0.01
    if args.threads < 0 or args.repeats < 1 or args.timing_repeats < 1 or args.block_seconds <= 0:
        parser.error("--repeats and --timing-repeats must be positive, --threads non-negative, --block-seconds > 0")
    parent(args)


if __name__ == "__main__":
    main()
