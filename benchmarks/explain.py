"""Integrated gradients, chainrule vs Captum on PyTorch: 50 Gauss-Legendre steps on 100 digits
images (1x8x8) through a CNN, each library in its own process, alternating, same weights.

The CNN: Conv2d(1,16,3,p1)-ReLU-MaxPool2d(2)-Conv2d(16,32,3,p1)-ReLU-MaxPool2d(2)-Flatten-
Linear(128,10), float32, random weights drawn once by the parent (the attributions' values do
not depend on training; both libraries get the same ones and their attributions are compared).
Each worker times ``--calls`` calls of integrated gradients on the whole batch (5,000 rows through
the network: 100 images x 50 points, one batch in both libraries: Captum's default
``internal_batch_size=None``, chainrule's default chunk of 4096 rows) after one untimed call, and
prints the median. Threads: 1 per library by default (``--threads``).

Usage::

    python benchmarks/explain.py                 # 5 processes per library
    python benchmarks/explain.py --repeats 3 --calls 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common

LIBRARIES = ("chainrule", "captum")
N_IMAGES, N_STEPS = 100, 50


def build(nn: Any) -> Any:
    """The CNN in either library (chainrule.nn or torch.nn: same names, arguments and parameters)."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 2 * 2, 10),
    )


def make_inputs(path: Path, seed: int) -> None:
    _common.use_repo_chainrule()
    import chainrule as cr
    from chainrule.data import load_dataset

    bundle = load_dataset("digits")
    images = (bundle.X[:N_IMAGES] / 16.0).reshape(N_IMAGES, 1, 8, 8).astype(np.float32)
    cr.manual_seed(seed)
    net = build(cr.nn)
    arrays = {"images": images, "target": bundle.y[:N_IMAGES].astype(np.int64)}
    arrays.update({"w:" + k: np.asarray(v) for k, v in net.state_dict().items()})
    np.savez(path, **arrays)


def worker(args: argparse.Namespace) -> None:
    with np.load(args.inputs) as f:
        d = {k: f[k] for k in f.files}
    weights = {k[2:]: v for k, v in d.items() if k.startswith("w:")}
    if args.worker == "chainrule":
        _common.use_repo_chainrule()
        import chainrule as cr

        net = build(cr.nn)
        net.load_state_dict(weights)
        net.eval()

        def attribute() -> np.ndarray:
            return cr.explain.integrated_gradients(net, d["images"], d["target"], n_steps=N_STEPS)

        version = cr.__version__
    else:
        import captum
        import torch
        from captum.attr import IntegratedGradients

        if args.threads:
            torch.set_num_threads(args.threads)
        net = build(torch.nn)
        net.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
        net.eval()
        ig = IntegratedGradients(net)
        images, target = torch.from_numpy(d["images"]), torch.from_numpy(d["target"])

        def attribute() -> np.ndarray:
            return ig.attribute(images, target=target, n_steps=N_STEPS).detach().numpy()

        version = f"captum {captum.__version__}, torch {torch.__version__}"
    first = attribute()
    times = []
    for _ in range(args.calls):
        start = time.perf_counter()
        attribute()
        times.append(time.perf_counter() - start)
    _common.emit(
        {
            "library": args.worker,
            "version": version,
            "seconds": statistics.median(times),
            "attributions_sum": float(np.sum(first, dtype=np.float64)),
            "attributions": first.reshape(N_IMAGES, -1)[:3].tolist(),
        }
    )


def parent(args: argparse.Namespace) -> None:
    notes: list[str] = []
    libs = ["chainrule"]
    if _common.run_torch(args.no_torch, notes, "no Captum row") and _common.importable("captum"):
        libs.append("captum")
    env = _common.worker_environment(args.threads or None)
    with tempfile.TemporaryDirectory() as tmp:
        inputs = Path(tmp) / "inputs.npz"
        make_inputs(inputs, args.seed)
        script = str(Path(__file__).resolve())
        runs = _common.run_alternating(
            libs,
            args.repeats,
            lambda lib: (
                [script, "--worker", lib, "--inputs", str(inputs)]
                + ["--calls", str(args.calls), "--threads", str(args.threads)]
            ),
            env=env,
        )
    machine = _common.machine_summary()
    print(f"### Integrated gradients, {N_STEPS} steps, {N_IMAGES} digits images (1x8x8) through a small CNN\n")
    print(
        f"NumPy {machine['numpy']}, Python {machine['python']}, {machine['cpus']} CPUs; checkout "
        f"{_common.checkout_state()}; {args.repeats} processes per library, alternating; median of "
        f"{args.calls} calls per process; threads per library: {args.threads or 'defaults'}.\n"
    )
    medians = {lib: _common.spread(r["seconds"] for r in runs[lib]) for lib in libs}
    rows = []
    for lib in libs:
        s = medians[lib]
        rows.append(
            [
                lib if lib == "chainrule" else runs[lib][0]["version"],
                _common.fmt(s["median"]),
                f"{_common.fmt(s['min'])} / {_common.fmt(s['max'])}",
                _common.ratio(s["median"], medians.get("captum", {}).get("median")),
            ]
        )
    print(_common.markdown_table(["library", "seconds (median)", "min / max", "vs Captum"], rows))
    if "captum" in libs:
        a = np.array(runs["chainrule"][0]["attributions"])
        b = np.array(runs["captum"][0]["attributions"])
        gap = np.abs(a - b).max() / np.abs(b).max()
        print(f"\nlargest relative difference of the attributions (3 images): {gap:.1e}")
    for note in notes:
        print(f"\nnote: {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", choices=LIBRARIES)
    parser.add_argument("--inputs")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-torch", action="store_true")
    args = parser.parse_args()
    if args.worker:
        worker(args)
    else:
        parent(args)


if __name__ == "__main__":
    main()
