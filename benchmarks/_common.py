"""Shared machinery for the benchmarks: one process per library, alternating runs, tables.

The rules (see the project's benchmarking notes): every library runs in its own process, the
processes alternate A B C A B C ..., and we quote medians with min and max across processes.
Timing two libraries in one process is unfair because OpenBLAS's worker threads keep spinning
after a NumPy call and steal the cores from whatever runs next.

A benchmark script runs in two modes: the parent (no ``--worker``) prepares the inputs once,
calls ``run_alternating`` and prints tables; each worker (``--worker LIB``) loads the inputs,
times one library and prints one JSON object as the last line of its stdout.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent


def use_repo_chainrule() -> None:
    """Import chainrule from this checkout rather than from whatever is installed."""
    root = str(REPO_ROOT)
    if root not in sys.path:
        sys.path.insert(0, root)


def importable(module: str) -> bool:
    """Whether ``module`` imports (chainrule from this checkout), checked in a child process so
    that the parent never loads a library it is about to time."""
    code = f"import sys; sys.path.insert(0, {str(REPO_ROOT)!r}); import {module}"
    probe = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    return probe.returncode == 0


def torch_available() -> bool:
    """Whether PyTorch can be imported."""
    return importable("torch")


def run_torch(no_torch: bool, notes: list[str], without: str) -> bool:
    """Whether to run PyTorch's rows: not with ``--no-torch``, not when it is missing. Otherwise a
    note says why; ``without`` says what the report lacks then (e.g. 'no PyTorch row')."""
    if no_torch:
        notes.append("PyTorch skipped (--no-torch).")
        return False
    if not torch_available():
        notes.append(f"PyTorch is not installed (pip install torch==2.13.0): {without}.")
        return False
    return True


# ------------------------------------------------------------------ processes


THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def worker_environment(threads: int | None) -> dict[str, str]:
    """The parent's environment, with every thread pool limited to ``threads`` when given."""
    env = dict(os.environ)
    if threads is not None:
        for name in THREAD_VARIABLES:
            env[name] = str(threads)
    return env


def run_worker(args: Sequence[str], env: dict[str, str] | None = None, timeout: float = 900.0) -> dict[str, Any]:
    """Run ``python <args>`` in a fresh process and return the JSON object it prints last."""
    command = [sys.executable, *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"worker {' '.join(args)} failed with exit status {done.returncode}:\n{done.stderr[-4000:]}")
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    if not lines:
        raise RuntimeError(f"worker {' '.join(args)} printed nothing:\n{done.stderr[-4000:]}")
    return json.loads(lines[-1])


def run_alternating(
    libraries: Sequence[str],
    repeats: int,
    make_args: Callable[[str], Sequence[str]],
    env: dict[str, str] | None = None,
    progress: bool = True,
) -> dict[str, list[dict[str, Any]]]:
    """Run every library's worker ``repeats`` times, alternating A B C A B C ...

    Returns each library's worker results in the order they ran.
    """
    results: dict[str, list[dict[str, Any]]] = {lib: [] for lib in libraries}
    for r in range(repeats):
        for lib in libraries:
            if progress:
                print(f"  [{r + 1}/{repeats}] {lib} ...", file=sys.stderr, flush=True)
            results[lib].append(run_worker(make_args(lib), env=env))
    return results


def emit(result: dict[str, Any]) -> None:
    """A worker's last act: print its result as one JSON line."""
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


# ------------------------------------------------------------------ timing inside a worker

CLOCKS: dict[str, Callable[[], float]] = {
    "wall": time.perf_counter,  # what a user waits for; on a quiet machine, the number to quote
    "cpu": time.process_time,  # this process's CPU time: steadier when other jobs share the cores
}
"""Clocks a benchmark can time with. ``cpu`` counts every thread of the process, so use it with
single-threaded libraries (``--threads 1``); a spinning BLAS thread would be counted as work."""


def time_per_call(
    fn: Callable[[], Any], repeats: int = 7, batch_seconds: float = 0.02, clock: Callable[[], float] = time.perf_counter
) -> float:
    """Seconds per call of ``fn``: the median over ``repeats`` batches of back-to-back calls.

    The batch size is calibrated so that one batch takes about ``batch_seconds``. The garbage
    collector stays on: collecting the graph's objects is part of what a library costs.
    """
    fn()
    fn()
    n = 1
    while True:
        start = clock()
        for _ in range(n):
            fn()
        elapsed = clock() - start
        if elapsed >= batch_seconds / 4 or n >= 1 << 20:
            break
        n *= 2
    n = max(1, int(n * batch_seconds / max(elapsed, 1e-9)))
    per_call = []
    for _ in range(repeats):
        gc.collect()
        start = clock()
        for _ in range(n):
            fn()
        per_call.append((clock() - start) / n)
    return statistics.median(per_call)


# ------------------------------------------------------------------ statistics and tables


def spread(values: Iterable[float]) -> dict[str, float]:
    """min, median and max of a list of numbers."""
    values = sorted(values)
    return {"min": values[0], "median": statistics.median(values), "max": values[-1]}


def fmt(value: float | None, digits: int = 3) -> str:
    """A number with ``digits`` significant digits, or a dash for a missing one."""
    if value is None:
        return "-"
    if value == 0:
        return "0"
    return f"{value:.{digits}g}" if abs(value) < 10**digits else f"{value:.0f}"


def ratio(a: float | None, b: float | None) -> str:
    """``a / b`` as '1.23x', or a dash when either is missing."""
    if a is None or b is None or b == 0:
        return "-"
    return f"{a / b:.2f}x"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured markdown table, columns padded for reading in a terminal."""
    widths = [max(len(str(h)), *(len(str(row[i])) for row in rows)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"

    separator = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(headers), separator, *(line(row) for row in rows)])


def machine_summary() -> dict[str, Any]:
    """What the numbers were measured on (library versions, cores)."""
    import platform

    import numpy as np

    info: dict[str, Any] = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "load_average": load_average(),
    }
    return info


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (a busy machine makes every number slower)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def busy_note(load_averages: Iterable[list[float] | None], cpus: int | None) -> str | None:
    """A warning for the report when a 1-minute load average (before or after the runs) shows
    other jobs on the machine, or None when it looked quiet enough."""
    busy = [load[0] for load in load_averages if load and load[0] > 0.5 * (cpus or 1)]
    if not busy:
        return None
    return (
        f"the machine was busy (1-minute load average up to {max(busy)} on {cpus} CPUs): other "
        "jobs took cores from the workers, so wall times are inflated and noisy; with one "
        "thread the CPU-time columns are steadier."
    )


def checkout_state() -> str:
    """The commit of this checkout, marked '+changes' when chainrule/ differs from it."""

    def git(*words: str) -> str:
        done = subprocess.run(["git", *words], cwd=REPO_ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown commit"
    return commit + (" +changes" if git("status", "--porcelain", "--untracked-files=no", "chainrule") else "")


def accuracy_text(accuracy: dict[str, float]) -> str:
    """A spread of accuracies as '0.650', or '0.650 (0.648-0.653)' when the processes differ."""
    if accuracy["min"] == accuracy["max"]:
        return f"{accuracy['median']:.3f}"
    return f"{accuracy['median']:.3f} ({accuracy['min']:.3f}-{accuracy['max']:.3f})"


def write_json(path: str | Path, payload: dict[str, Any]) -> None:
    """Write a benchmark's raw results (``--json``), making the folder when needed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1, default=str))
    print(f"(raw results written to {path})")


def name_list(choices: Sequence[str], what: str = "name") -> Callable[[str], list[str]]:
    """An argparse type: comma-separated names, each one of ``choices``."""
    import argparse

    def parse(text: str) -> list[str]:
        names = [w.strip() for w in text.split(",") if w.strip()]
        unknown = [w for w in names if w not in choices]
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"unknown {what}(s) {unknown}; choose from {', '.join(choices)}")
        return names

    return parse


def thread_pools() -> list[dict[str, Any]]:
    """The thread pools loaded in this process (threadpoolctl), if it is installed."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    return [
        {"api": p.get("internal_api"), "prefix": p.get("prefix"), "threads": p.get("num_threads")}
        for p in threadpool_info()
    ]
