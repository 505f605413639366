"""Data-parallel training over MPI: samples per second of 1 and 2 processes (``chainrule.distributed``).

The job (issue "data-parallel training over MPI"): train the same network on 1 process and on 2
processes launched by ``mpiexec -n 2``, each process with one BLAS thread (``OMP_NUM_THREADS``,
``OPENBLAS_NUM_THREADS`` and ``MKL_NUM_THREADS`` set to 1 in the child's environment, before NumPy
is imported), and compare the samples per second. The goal stated in the issue: at least 1.8x the
samples per second at 2 processes on the large MLP, on this 2-core machine.

Workloads (float32, softmax cross-entropy, SGD with momentum 0.9, the same learning rate at 1 and
2 processes):

* ``mlp-large``: MLP 784-1024-1024-10 (1,863,690 parameters: 7.5 MB of gradients), batch 256 per
  process, random data as ``benchmarks/compiled.py``'s ``mlp-large``: N(0, 1) inputs (5120 train /
  1024 test) labelled by a random linear teacher (``argmax(x @ T)``);
* ``cnn``: the MNIST-1D CNN of ``benchmarks/compiled.py``, Conv1d(1,25,5,s2,p1)-ReLU-Conv1d(25,25,3,
  s2,p1)-ReLU-Conv1d(25,25,3,s2,p1)-ReLU-Flatten-Linear(125,10) (5,210 parameters), batch 100 per
  process, MNIST-1D from ``chainrule.data.load_mnist1d()`` (4000 train / 1000 test; when it cannot
  be loaded, random data of the same shape, said in a note).

Weak scaling: the batch is per process (as ``fit``'s ``batch_size`` under ``mpiexec``), so a step
of 2 processes trains on twice the samples of a step of 1. Samples per second = processes x batch
x timed steps / the slowest process's wall time; speed-up = samples/s at 2 / samples/s at 1;
scaling efficiency = speed-up / 2. Each step's batch of the processes together is cut from one
permutation per epoch, each process taking every p-th sample (``DistributedSampler``'s rule).

Configurations, each in its own processes; per workload they alternate A B C A B C ...
(``--repeats`` times, default 3), and the tables quote medians (min-max in the raw JSON):

* ``1 process``: a plain child process (world of one, no MPI imported);
* ``2 processes (MPI)``: ``mpiexec -n 2`` (the ``mpiexec`` next to this interpreter, else on PATH);
* ``2 independent (control)``: two plain processes at once, each training alone with no
  communication. Not data parallelism: it shows what running two processes side by side costs
  on this machine (shared caches and memory bandwidth), i.e. the best the MPI run could do.

Then, per workload, one more ``mpiexec -n 2`` run, instrumented and kept out of the medians
(``--no-profile`` leaves it out): ``DistributedDataParallel``'s gradient hook (the copy of each
gradient into its bucket, the sending of full buckets) and its end-of-backward call (the wait,
then the means written back into each ``.grad``) are timed, and afterwards the same all-reduce is
timed alone (both processes starting together after a barrier). That splits the 2-process step
into computing, hooks, waiting, writing back: the "where the time goes" table.

Training modes (rows):

* ``loop`` (the main measurement, every table): a training loop of one's own, as the library's
  docstring shows it -- the network wrapped in ``DistributedDataParallel`` (also at 1 process,
  where it is the module itself) and ``cr.compile`` of the step ``zero_grad; cross_entropy(model(x),
  y); backward; step`` (what ``fit`` compiles), the loss read with ``.item()`` each step. The first
  ``--warmup`` steps (the two recording calls among them) are not timed; then a barrier, then the
  timed steps (one clock reading per step). ``comm_stats`` is read before and after the timed
  steps: its ``wait_seconds`` is the time the end of the backward waited for the all-reduce (the
  communication the backward did not hide), its ``bytes`` what each process sent to the
  all-reduce. ``cr.compile``'s stats are checked (2 recorded, the rest replayed, none eager), and
  the processes' weights are compared after training (they must be identical).
* ``fit`` (one more table): ``chainrule.train.fit(..., batch_size=b, compile=True)`` unchanged;
  under ``mpiexec`` it shards the data, wraps the model and all-reduces each batch's loss. The
  first epoch (recording) is not timed; the later epochs are (a callback reads the clock at each
  epoch's beginning and end).

A cost MODEL (not a measurement) closes the report: the measured 1-process step time plus a ring
all-reduce of the gradients, for p = 2 ... 64 processes on 10 Gbit/s and 100 Gbit/s networks.
Its assumptions:

* weak scaling: every process computes one 1-process step (the measured median, here, with one
  BLAS thread), whatever p;
* no overlap (pessimistic): step(p) = compute + communication, as if the all-reduce started
  after the backward ended (``DistributedDataParallel`` sends buckets during the backward, but
  with the default ``bucket_cap_mb=25`` each of these models is one bucket, so it cannot start
  before the backward's last gradient);
* ring all-reduce, bandwidth term ``2 (p-1)/p x gradient bytes / bandwidth`` (gradient bytes =
  4 x parameters for float32), at the link's nominal rate (optimistic: TCP reaches ~80-95%);
* latency term ``2 (p-1) x alpha`` per bucket: a ring all-reduce is 2 (p-1) messages in sequence
  (p-1 reduce-scatter steps, p-1 all-gather steps), each paying the per-message latency alpha;
  alpha = 25 us on 10 Gbit/s (TCP over Ethernet, kernel stack both ends) and 5 us on 100 Gbit/s
  (RDMA: InfiniBand / RoCE). Buckets counted with the DDP rule (parameters in reverse order,
  a new bucket when the next would pass 25 MiB). MPI libraries use fewer, larger steps for small
  messages (recursive doubling: log2 p), so the latency term is pessimistic for the CNN at large p;
* the reduction's arithmetic, the copies into the buckets and the division by p are left out
  (they cost memory bandwidth on each process: see the measured 2-process rows);
* speed-up(p) = p x compute / step(p), efficiency = speed-up / p.

Usage::

    python benchmarks/distributed.py                  # both workloads, loop and fit, 3 repeats (~2.5 min)
    python benchmarks/distributed.py --quick          # smoke run, a few seconds a configuration
    python benchmarks/distributed.py --workloads mlp-large --repeats 5 --json benchmarks/results/distributed.json

It needs mpi4py and an MPI launcher (``pip install "chainrule[mpi]"``); without ``mpiexec`` it
says so and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common
import training_cnn_gru

WORKLOADS: dict[str, dict[str, Any]] = {
    "mlp-large": {
        "title": "MLP 784-1024-1024-10, random data",
        "batch": 256,
        "lr": 0.01,
        "steps": 100,  # timed steps per process (loop)
        "warmup": 10,
        "epochs": 6,  # fit: the first is not timed
    },
    "cnn": {
        "title": "MNIST-1D CNN: Conv1d(1,25,5,s2,p1), Conv1d(25,25,3,s2,p1) x2, Linear(125,10)",
        "batch": 100,
        "lr": 0.05,
        "steps": 600,
        "warmup": 20,
        "epochs": 12,
    },
}
QUICK = {"steps": 12, "warmup": 4, "epochs": 2}
LARGE_LAYERS = (784, 1024, 1024, 10)
LARGE_DATA = (5120, 1024)
CLASSES, LENGTH = 10, 40
CONFIGS = ("1", "2", "2x1")
CONFIG_LABELS = {"1": "1 process", "2": "2 processes (MPI)", "2x1": "2 independent (control)"}
FIRST_CALLS = 2  # cr.compile records the first two calls
GOAL = ("mlp-large", "loop", 1.8)  # the goal: samples/s at 2 processes over 1, large MLP
BUCKET_CAP_MB = 25.0  # DistributedDataParallel's default
NETWORKS = {  # the cost model's networks: name, bytes per second, per-message latency (s)
    "10 Gbit/s": (10e9 / 8, 25e-6),
    "100 Gbit/s": (100e9 / 8, 5e-6),
}
MODEL_PROCESSES = (2, 4, 8, 16, 32, 64)


# ================================================================== workers


def build_network(nn: Any, workload: str) -> Any:
    if workload == "cnn":  # the network of training_cnn_gru.py (and compiled.py)
        return training_cnn_gru.build_network(nn, "cnn")
    modules: list[Any] = []
    for n_in, n_out in zip(LARGE_LAYERS, LARGE_LAYERS[1:]):
        modules += [nn.Linear(n_in, n_out), nn.ReLU()]
    return nn.Sequential(*modules[:-1])


def load_data(workload: str, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str | None]:
    """Train and test inputs (float32, in the network's layout), int64 labels, and a note when
    the real data could not be had. The same on every process (drawn from ``seed``)."""
    rng = np.random.default_rng(seed)
    if workload == "mlp-large":
        n_train, n_test = LARGE_DATA
        X = rng.standard_normal((n_train + n_test, LARGE_LAYERS[0]), dtype=np.float32)
        teacher = rng.standard_normal((LARGE_LAYERS[0], CLASSES), dtype=np.float32)
        y = np.argmax(X @ teacher, axis=1).astype(np.int64)
        return X[:n_train], y[:n_train], X[n_train:], y[n_train:], None
    try:
        from chainrule.data import load_mnist1d

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            X_train, y_train, X_test, y_test = load_mnist1d()
        note = None
    except Exception as exc:  # noqa: BLE001 -- no generator, no cache: the same shapes, random
        X_train = rng.standard_normal((4000, LENGTH), dtype=np.float32)
        X_test = rng.standard_normal((1000, LENGTH), dtype=np.float32)
        y_train, y_test = rng.integers(0, CLASSES, 4000), rng.integers(0, CLASSES, 1000)
        note = f"cnn: MNIST-1D could not be loaded ({type(exc).__name__}: {exc}); random data of the same shape"
    shape = (-1, 1, LENGTH)
    return (
        np.ascontiguousarray(X_train.reshape(shape), dtype=np.float32),
        np.asarray(y_train, dtype=np.int64),
        np.ascontiguousarray(X_test.reshape(shape), dtype=np.float32),
        np.asarray(y_test, dtype=np.int64),
        note,
    )


def batch_schedule(n_train: int, batch: int, processes: int, rank: int, steps: int, seed: int) -> list[np.ndarray]:
    """This process's batches for ``steps`` steps: one permutation per epoch (the same on every
    process), cut into global batches of ``batch * processes``, this process taking every
    ``processes``-th sample from ``rank`` (``DistributedSampler``'s rule)."""
    rng = np.random.default_rng(seed + 1)
    per_global = batch * processes
    per_epoch = n_train // per_global
    out: list[np.ndarray] = []
    while len(out) < steps:
        order = rng.permutation(n_train)
        for k in range(per_epoch):
            out.append(np.ascontiguousarray(order[k * per_global : (k + 1) * per_global][rank::processes]))
    return out[:steps]


def thread_report() -> dict[str, Any]:
    """How many threads this process runs, and the BLAS pools' sizes (threadpoolctl, if any)."""
    info: dict[str, Any] = {}
    try:
        info["os_threads"] = len(os.listdir("/proc/self/task"))
    except OSError:
        info["os_threads"] = None
    try:
        import threadpoolctl

        info["pools"] = sorted(
            {f"{p['internal_api']}={p['num_threads']}" for p in threadpoolctl.threadpool_info() if p.get("num_threads")}
        )
    except ImportError:
        info["pools"] = None
    return info


def file_barrier(folder: str, peers: int, tag: str) -> None:
    """Wait until ``peers`` processes without MPI (the control) have reached this point."""
    Path(folder, f"{tag}-{os.getpid()}").touch()
    deadline = time.monotonic() + 300
    while len([f for f in os.listdir(folder) if f.startswith(tag + "-")]) < peers:
        if time.monotonic() > deadline:
            raise TimeoutError(f"file barrier {tag}: the other process never came")
        time.sleep(0.001)


def worker(args: argparse.Namespace) -> None:
    _common.use_repo_chainrule()
    import chainrule as cr
    import chainrule.distributed as dist
    from chainrule import kernels
    from chainrule.nn.functional import cross_entropy

    caught: list[str] = []
    warnings.showwarning = lambda message, category, *a, **k: caught.append(f"{category.__name__}: {message}")
    dist.init()
    p, rank = dist.world_size(), dist.rank()
    spec = WORKLOADS[args.workload]
    b = spec["batch"]
    X, Y, X_test, y_test, note = load_data(args.workload, args.seed)
    cr.manual_seed(args.seed)
    net = build_network(cr.nn, args.workload)
    sizes = [int(q._data.nbytes) for q in net.parameters()]
    if args.worker == "fit":
        result = fit_worker(args, cr, dist, net, X, Y, b)
    else:
        result = loop_worker(args, cr, dist, cross_entropy, net, X, Y, b)
    net.eval()
    with cr.no_grad():
        logits = net(cr.Tensor(X_test))._data
    accuracy = float(np.mean(np.argmax(logits, axis=1) == y_test))
    flat = np.concatenate([q._data.ravel() for q in net.parameters()]).astype(np.float64)
    per_rank = np.array(
        [
            result.pop("wall_s"),
            result.pop("cpu_s"),
            result.pop("wait_s"),
            result.pop("all_reduces"),
            result.pop("bytes"),
            float(thread_report()["os_threads"] or -1),
        ]
    )
    gathered = np.stack(dist.all_gather(per_rank))
    weights = dist.all_gather(flat)
    if rank != 0:
        return
    names = ("wall_s", "cpu_s", "wait_s", "all_reduces", "bytes", "os_threads")
    result.update({name: gathered[:, i].tolist() for i, name in enumerate(names)})
    result.update(
        world=p,
        batch=b,
        parameter_bytes=sizes,
        test_accuracy=accuracy,
        replicas_max_difference=float(max(np.max(np.abs(w - weights[0])) for w in weights)),
        pools=thread_report()["pools"],
        numba=kernels.enabled(),
        version=cr.__version__,
        note=note,
        warnings=sorted(set(caught)),
    )
    _common.emit(result)


def loop_worker(args: argparse.Namespace, cr: Any, dist: Any, cross_entropy: Any, net: Any, X, Y, b: int) -> dict:
    """A training loop of one's own: ``DistributedDataParallel`` and ``cr.compile`` of the step."""
    p, rank = dist.world_size(), dist.rank()
    timers = instrument() if args.profile else None
    model = dist.DistributedDataParallel(
        net, bucket_cap_mb=args.bucket_cap_mb, gradient_as_bucket_view=args.gradient_as_bucket_view
    )
    opt = cr.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    model.train()

    def body(x, y):
        opt.zero_grad()
        loss = cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    step = cr.compile(body)
    batches = batch_schedule(len(X), b, p, rank, args.warmup + args.steps, args.seed)
    losses = []
    for index in batches[: args.warmup]:
        losses.append(step(cr.Tensor(X[index]), cr.Tensor(Y[index])).item())
    if args.rendezvous:
        file_barrier(args.rendezvous, 2, "start")
    dist.barrier()
    before = model.comm_stats
    if timers is not None:
        timers.update(hooks=0.0, finish=0.0)
    clock = time.perf_counter
    times = np.empty(args.steps)
    cpu0 = time.process_time()
    start = last = clock()
    for i, index in enumerate(batches[args.warmup :]):
        losses.append(step(cr.Tensor(X[index]), cr.Tensor(Y[index])).item())
        now = clock()
        times[i], last = now - last, now
    wall = last - start
    cpu = time.process_time() - cpu0
    after = model.comm_stats
    per_epoch = len(X) // (b * p)
    profile = {}
    if timers is not None:
        profile = {name: timers[name] / args.steps * 1e3 for name in ("hooks", "finish")}
        profile["all_reduce_alone_ms"] = all_reduce_alone(dist, model)
    return {
        "mode": "loop",
        "profile": profile,
        "steps": args.steps,
        "wall_s": wall,
        "cpu_s": cpu,
        "wait_s": after["wait_seconds"] - before["wait_seconds"],
        "all_reduces": after["all_reduces"] - before["all_reduces"],
        "bytes": after["bytes"] - before["bytes"],
        "step_ms_median": float(np.median(times) * 1e3),
        "step_ms_p90": float(np.percentile(times, 90) * 1e3),
        "first_losses": losses[:3],
        "final_loss": float(np.mean(losses[-min(per_epoch, len(losses)) :])),
        "compile_stats": dict(step.stats),
        "buckets": len(model._reducer.buckets),
    }


def instrument() -> dict[str, float]:
    """Time ``DistributedDataParallel``'s two calls per parameter and per backward (the
    instrumented run only): ``ready`` (the gradient hook: the copy into its bucket, the sending
    of the buckets complete, MPI progress calls) and ``finish`` (the wait for the sums, then the
    means written back into each ``.grad``). They are ``@replayed`` calls,
    which a compiled step calls live on every replay: the timing wrappers are replayed too."""
    from chainrule.compiler.recorder import replayed
    from chainrule.distributed import parallel

    timers = {"hooks": 0.0, "finish": 0.0}

    def timed(name: str, fn: Any) -> Any:
        def call(*a: Any) -> None:
            start = time.perf_counter()
            fn(*a)
            timers[name] += time.perf_counter() - start

        return replayed(call)

    parallel._Reducer.ready = timed("hooks", parallel._Reducer.ready.__wrapped_replayed__)
    parallel._Reducer.finish = timed("finish", parallel._Reducer.finish.__wrapped_replayed__)
    return timers


def all_reduce_alone(dist: Any, model: Any, repeats: int = 20) -> float:
    """Milliseconds of the gradients' all-reduce by itself (the library's path: one non-blocking
    all-reduce per bucket, then its wait), every process starting together after a barrier: the
    MPI cost, without the wait for a slower process. Median of ``repeats``."""
    from chainrule.distributed import world

    if dist.world_size() == 1:
        return 0.0
    buffers = [np.zeros(bucket.offsets[-1], dtype=bucket.dtype) for bucket in model._reducer.buckets]
    times = []
    for _ in range(repeats + 2):
        dist.barrier()
        start = time.perf_counter()
        world._wait([world._start_all_reduce(buffer) for buffer in buffers], "timing")
        times.append(time.perf_counter() - start)
    return float(np.median(times[2:]) * 1e3)


def fit_worker(args: argparse.Namespace, cr: Any, dist: Any, net: Any, X, Y, b: int) -> dict:
    """``fit`` unchanged (it shards and wraps by itself under mpiexec); the epochs after the first
    are timed by a callback."""
    from chainrule.train import Callback, fit, parallel as train_parallel

    clock = time.perf_counter
    marks: dict[str, list] = {"begin": [], "end": [], "cpu": [], "stats": []}

    def stats() -> dict[str, float]:
        ddp = train_parallel._wrappers.get(net)
        return ddp.comm_stats if ddp is not None else {"wait_seconds": 0.0, "all_reduces": 0, "bytes": 0}

    class Timer(Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2 and args.rendezvous:
                file_barrier(args.rendezvous, 2, "start")
            if epoch == 2:
                dist.barrier()
            marks["stats"].append(stats())
            marks["cpu"].append(time.process_time())
            marks["begin"].append(clock())

        def on_epoch_end(self, epoch, logs=None):
            marks["end"].append(clock())
            marks["cpu"].append(time.process_time())
            marks["stats"].append(stats())

    opt = cr.optim.SGD(net.parameters(), lr=args.lr, momentum=args.momentum)
    history = fit(
        net,
        cr.nn.CrossEntropyLoss(),
        opt,
        X,
        Y,
        epochs=args.epochs,
        batch_size=b,
        verbose=0,
        seed=args.seed,
        callbacks=[Timer()],
    )
    timed = range(1, args.epochs)  # every epoch but the first
    p = dist.world_size()
    steps = (len(X) // (b * p)) * len(timed)  # the datasets here divide evenly: no padding, no short batch
    first, last = marks["stats"][2], marks["stats"][-1]
    compiled = list(getattr(opt, "_fit_steps", {}).values())  # fit keeps its compiled step with the optimizer
    return {
        "mode": "fit",
        "steps": steps,
        "epochs_timed": len(timed),
        "wall_s": sum(marks["end"][e] - marks["begin"][e] for e in timed),
        "cpu_s": sum(marks["cpu"][2 * e + 1] - marks["cpu"][2 * e] for e in timed),
        "wait_s": last["wait_seconds"] - first["wait_seconds"],
        "all_reduces": last["all_reduces"] - first["all_reduces"],
        "bytes": last["bytes"] - first["bytes"],
        "first_losses": [],
        "final_loss": float(history["loss"][-1]),
        "compile_stats": dict(compiled[-1].run.stats) if compiled else {},
    }


# ================================================================== parent


def find_mpiexec() -> str | None:
    """The ``mpiexec`` next to this interpreter (the MPICH wheel's, with mpi4py), else on PATH."""
    beside = Path(sys.executable).parent / "mpiexec"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("mpiexec")


def run_json(command: list[str], env: dict[str, str], timeout: float = 900.0) -> dict[str, Any]:
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed with exit status {done.returncode}:\n{done.stderr[-4000:]}")
    lines = [line for line in done.stdout.splitlines() if line.strip().startswith("{")]
    if not lines:
        raise RuntimeError(f"{' '.join(command)} printed no result:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return json.loads(lines[-1])


def run_config(config: str, mode: str, workload: str, args: argparse.Namespace, mpiexec: str, tmp: str) -> dict:
    """One run of a configuration: its result (for the control, the two processes' results merged
    as one world of two)."""
    spec = WORKLOADS[workload]
    worker_args = [str(Path(__file__).resolve()), "--worker", mode, "--workload", workload]
    for name in ("steps", "warmup", "epochs", "lr", "momentum", "seed", "bucket_cap_mb"):
        value = getattr(args, name)
        worker_args += [f"--{name.replace('_', '-')}", str(value if value is not None else spec[name])]
    if args.gradient_as_bucket_view:
        worker_args.append("--gradient-as-bucket-view")
    env = _common.worker_environment(1)
    if config == "1":
        return run_json([sys.executable, *worker_args], env)
    if config in ("2", "2-profile"):
        extra = ["--profile"] if config == "2-profile" else []
        return run_json([mpiexec, "-n", "2", sys.executable, *worker_args, *extra], env)
    folder = tempfile.mkdtemp(dir=tmp)
    command = [sys.executable, *worker_args, "--rendezvous", folder]
    procs = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=900)
        if proc.returncode != 0:
            raise RuntimeError(f"control process failed with exit status {proc.returncode}:\n{err[-4000:]}")
        results.append(json.loads([line for line in out.splitlines() if line.startswith("{")][-1]))
    merged = dict(results[0])
    for key in ("wall_s", "cpu_s", "wait_s", "all_reduces", "bytes", "os_threads"):
        merged[key] = [r[key][0] for r in results]
    merged["world"] = 2
    merged["replicas_max_difference"] = None  # (two separate trainings)
    if "step_ms_median" in merged:
        merged["step_ms_median"] = statistics.mean(r["step_ms_median"] for r in results)
    return merged


def throughput(r: dict[str, Any]) -> float:
    """Samples per second of the processes together: every process's samples / the slowest's time."""
    return r["world"] * r["batch"] * r["steps"] / max(r["wall_s"])


def step_ms(r: dict[str, Any]) -> float:
    return max(r["wall_s"]) / r["steps"] * 1e3


def wait_ms(r: dict[str, Any]) -> float:
    return statistics.mean(r["wait_s"]) / r["steps"] * 1e3


def median(runs: list[dict[str, Any]], fn: Any) -> float:
    return statistics.median(fn(r) for r in runs)


def spread_text(runs: list[dict[str, Any]], fn: Any, digits: int = 3) -> str:
    values = sorted(fn(r) for r in runs)
    text = _common.fmt(statistics.median(values), digits)
    if len(values) > 1:
        text += f" ({_common.fmt(values[0], digits)}-{_common.fmt(values[-1], digits)})"
    return text


def report_loop(workload: str, runs: dict[str, list[dict]], args: argparse.Namespace) -> tuple[list[str], dict]:
    """The main table of one workload, and the breakdown of where the time goes."""
    problems: list[str] = []
    spec = WORKLOADS[workload]
    one, two, control = runs["1"], runs["2"], runs["2x1"]
    r0 = two[0]
    params = sum(r0["parameter_bytes"]) // 4
    steps = r0["steps"]
    view = "(gradient_as_bucket_view=True)" if args.gradient_as_bucket_view else ""
    print(
        f"#### {spec['title']} ({params:,} parameters, {4 * params / 1e6:.2f} MB of float32 gradients), "
        f"training loop (DistributedDataParallel{view} + cr.compile): batch {spec['batch']} per process, "
        f"{steps} timed steps per process after {args.warmup or spec['warmup']} untimed steps "
        f"({FIRST_CALLS} of them recorded)\n"
    )
    base = median(one, throughput)
    headers = [
        "configuration",
        "samples/s",
        "speed-up",
        "efficiency",
        "ms / step",
        "median single step (ms)",
        "CPU / wall",
        "all-reduce wait / step (ms)",
        "wait share",
        "MB all-reduced / step",
        "all-reduces / step",
        "final loss",
        "test acc.",
    ]
    rows = []
    for config in CONFIGS:
        rs = runs[config]
        s = median(rs, throughput)
        p = rs[0]["world"]
        is_mpi = config == "2"
        rows.append(
            [
                CONFIG_LABELS[config],
                spread_text(rs, throughput, 4),
                f"{s / base:.2f}x",
                f"{s / base / p:.0%}" if config != "1" else "-",
                spread_text(rs, step_ms),
                _common.fmt(median(rs, lambda r: r["step_ms_median"])),
                f"{median(rs, lambda r: sum(r['cpu_s']) / sum(r['wall_s'])):.2f}",
                _common.fmt(median(rs, wait_ms)) if is_mpi else "-",
                f"{median(rs, lambda r: wait_ms(r) / step_ms(r)):.1%}" if is_mpi else "-",
                f"{median(rs, lambda r: r['bytes'][0] / r['steps'] / 1e6):.2f}" if is_mpi else "-",
                f"{median(rs, lambda r: r['all_reduces'][0] / r['steps']):.0f}" if is_mpi else "-",
                f"{median(rs, lambda r: r['final_loss']):.4f}",
                f"{median(rs, lambda r: r['test_accuracy']):.3f}",
            ]
        )
    print(_common.markdown_table(headers, rows) + "\n")
    t1, t2, tc = median(one, step_ms), median(two, step_ms), median(control, step_ms)
    w = median(two, wait_ms)
    if "2-profile" in runs:
        breakdown(runs["2-profile"][0], t1, tc)
    threads = "; ".join(
        f"{CONFIG_LABELS[c]}: {sorted({int(t) for r in runs[c] for t in r['os_threads']})}" for c in CONFIGS
    )
    pools = sorted({pool for c in CONFIGS for r in runs[c] for pool in (r["pools"] or ["(threadpoolctl missing)"])})
    print(f"- BLAS pools seen by threadpoolctl in every process: {pools}; OS threads per process: {threads}")
    expected = {"recorded": FIRST_CALLS, "replayed": (args.warmup or WORKLOADS[workload]["warmup"]) + steps - 2}
    wrong = []
    for config in CONFIGS:
        for r in runs[config]:
            stats = r["compile_stats"]
            if stats.get("eager") or {k: stats.get(k) for k in expected} != expected:
                wrong.append(f"{workload}, {CONFIG_LABELS[config]}: cr.compile stats {stats}, expected {expected}")
    print(f"- cr.compile stats per process: {'as expected, ' + str(expected) if not wrong else 'UNEXPECTED'}")
    problems += wrong
    differences = [r["replicas_max_difference"] for r in two]
    print(
        f"- the 2 processes' weights after training: largest difference {max(differences):.3g} "
        + ("(identical)" if max(differences) == 0 else "(NOT identical)")
    )
    if max(differences) != 0:
        problems.append(f"{workload}: the 2 processes' weights differ by {max(differences):.3g} after training")
    buckets = two[0]["buckets"]  # (the cost model counts the buckets the library made)
    for config in CONFIGS:
        for message in sorted({m for r in runs[config] for m in r["warnings"]}):
            print(f"- warning, {CONFIG_LABELS[config]}: {message[:300]}")
            problems.append(f"{workload}: {message[:300]}")
    if workload == GOAL[0]:
        speedup = median(two, throughput) / base
        met = speedup >= GOAL[2]
        print(
            f"- goal (issue): >= {GOAL[2]}x samples/s at 2 processes: {speedup:.2f}x, "
            + ("met" if met else "NOT met")
            + f" (it needs a 2-process step of at most 2 / {GOAL[2]} x {t1:.2f} = {2 / GOAL[2] * t1:.2f} ms, measured "
            f"{t2:.2f}; the control, 2 processes without communication: {median(control, throughput) / base:.2f}x)"
        )
    print()
    return problems, {"t1_ms": t1, "t2_ms": t2, "control_ms": tc, "wait_ms": w, "params": params, "buckets": buckets}


def breakdown(r: dict[str, Any], t1: float, tc: float) -> None:
    """Where the 2-process step's time goes, from the instrumented run."""
    prof = r["profile"]
    t2 = step_ms(r)
    w = wait_ms(r)
    rest = t2 - prof["hooks"] - prof["finish"]
    print(
        "Where the 2-process step's time goes: ms per step, one instrumented 2-process run (DistributedDataParallel's "
        "gradient hooks and end-of-backward call timed; not among the runs above), the 1-process and control steps "
        "being the medians above.\n"
    )
    headers = [
        "1 process",
        "2 independent (control)",
        "2 processes (instrumented)",
        "= computing (rest of the step)",
        "+ hooks: copy into buckets, send",
        "+ wait for the all-reduce",
        "+ write back (finish - wait)",
        "all-reduce alone",
        "overhead vs control",
    ]
    row = [
        f"{t1:.3f}",
        f"{tc:.3f} ({tc - t1:+.3f})",
        f"{t2:.3f}",
        f"{rest:.3f} ({rest - tc:+.3f} vs control)",
        f"{prof['hooks']:.3f}",
        f"{w:.3f}",
        f"{prof['finish'] - w:.3f}",
        f"{prof['all_reduce_alone_ms']:.3f}",
        f"{t2 - tc:+.3f} ({(t2 - tc) / t2:.1%} of the step)",
    ]
    print(_common.markdown_table(headers, [row]) + "\n")
    waits = ", ".join(f"{x / r['steps'] * 1e3:.3f}" for x in r["wait_s"])
    print(
        "- all-reduce alone: the gradients' all-reduce by itself (same buffers, the library's Iallreduce and wait), "
        "both processes starting together after a barrier; the wait above also holds the time the faster process "
        f"waits for the slower one's backward. Waits per process: {waits} ms"
    )


def report_fit(results: dict[str, dict[str, list[dict]]], loop: dict[str, dict[str, list[dict]]]) -> list[str]:
    """The fit table; returns the problems (a fit step not replayed by cr.compile)."""
    print("#### fit (unchanged, batch_size per process): samples/s over the epochs after the first\n")
    headers = ["workload", *(f"{CONFIG_LABELS[c]} samples/s" for c in CONFIGS), "speed-up (MPI)", "efficiency"]
    headers += ["ms / step (1, MPI)", "fit - loop, ms / step (1, MPI)", "all-reduce wait / step (ms)"]
    headers += ["final loss (1, MPI)"]
    rows, problems = [], []
    for workload, runs in results.items():
        base = median(runs["1"], throughput)
        one, two = runs["1"], runs["2"]
        speedup = median(two, throughput) / base
        extra = "-"
        if workload in loop:
            extra = ", ".join(
                f"{median(runs[c], step_ms) - median(loop[workload][c], step_ms):+.3f}" for c in ("1", "2")
            )
        rows.append(
            [
                workload,
                *(spread_text(runs[c], throughput, 4) for c in CONFIGS),
                f"{speedup:.2f}x",
                f"{speedup / 2:.0%}",
                f"{median(one, step_ms):.3f}, {median(two, step_ms):.3f}",
                extra,
                _common.fmt(median(two, wait_ms)),
                f"{median(one, lambda r: r['final_loss']):.4f}, {median(two, lambda r: r['final_loss']):.4f}",
            ]
        )
        for config in CONFIGS:
            for r in runs[config]:
                stats = r["compile_stats"]
                if stats.get("eager") or stats.get("recorded") != FIRST_CALLS:
                    problems.append(f"{workload}, fit, {CONFIG_LABELS[config]}: cr.compile stats of fit's step {stats}")
    print(_common.markdown_table(headers, rows) + "\n")
    print(
        "- fit under mpiexec also all-reduces each batch's loss, sample count and weight (3 float64, blocking: a "
        "second synchronisation per step, not counted in the wait column, which is the gradients'). "
        "fit - loop: what fit costs per step over the training loop above (its batching, bookkeeping and that "
        "all-reduce), medians of separate runs.\n"
    )
    return problems


def report_model(measured: dict[str, dict[str, Any]]) -> None:
    print("#### Cost MODEL (not a measurement): weak scaling, ring all-reduce, no overlap of communication\n")
    print(
        "step(p) = measured 1-process step + 2(p-1)/p x gradient bytes / bandwidth + 2(p-1) x alpha x buckets; "
        "speed-up = p x step(1) / step(p). "
        + "; ".join(f"{name}: {bw / 1e9:.2f} GB/s, alpha = {a * 1e6:.0f} us" for name, (bw, a) in NETWORKS.items())
        + ". Assumptions in the module docstring.\n"
    )
    headers = ["workload", "network", "compute ms", "comm ms (p=2)"]
    headers += [f"p={p}: speed-up (eff.)" for p in MODEL_PROCESSES]
    rows = []
    for workload, m in measured.items():
        grad_bytes = 4 * m["params"]
        for name, (bandwidth, alpha) in NETWORKS.items():
            cells = []
            comm2 = None
            for p in MODEL_PROCESSES:
                comm = 2 * (p - 1) / p * grad_bytes / bandwidth + 2 * (p - 1) * alpha * m["buckets"]
                comm2 = comm if comm2 is None else comm2
                speedup = p * m["t1_ms"] / (m["t1_ms"] + comm * 1e3)
                cells.append(f"{speedup:.1f}x ({speedup / p:.0%})")
            rows.append([workload, name, f"{m['t1_ms']:.3f}", f"{comm2 * 1e3:.3f}", *cells])
    print(_common.markdown_table(headers, rows) + "\n")
    for workload, m in measured.items():
        grad_bytes = 4 * m["params"]
        print(
            f"- {workload}: {m['params']:,} parameters = {grad_bytes / 1e6:.3f} MB of gradients in {m['buckets']} "
            f"bucket(s) (at most {BUCKET_CAP_MB:g} MiB; a gradient of 1 MiB or more has its own); "
            "for comparison, measured here over shared memory at p=2: "
            f"{m['t2_ms'] - m['control_ms']:.3f} ms a step more than two independent processes "
            f"({m['wait_ms']:.3f} of it waiting)"
        )
    print()


def interference_note(results: dict[str, dict[str, dict[str, list[dict]]]]) -> str | None:
    """A warning when other jobs took the cores: a process without MPI (which never sleeps) that
    got less than 95% of a core over its timed steps. (The load average cannot tell: this
    benchmark's own two processes make it 2.)"""
    ratios = [
        cpu / wall
        for modes in results.values()
        for runs in modes.values()
        for config in ("1", "2x1")
        for r in runs[config]
        for cpu, wall in zip(r["cpu_s"], r["wall_s"])
    ]
    slow = [x for x in ratios if x < 0.95]
    if not slow:
        return None
    return (
        f"other jobs shared the machine: {len(slow)} of {len(ratios)} processes without MPI got less than 95% of a "
        f"core (down to {min(slow):.0%}) over their timed steps, so their times are inflated; rerun on a quiet machine."
    )


def parent(args: argparse.Namespace) -> int:
    mpiexec = find_mpiexec()
    if mpiexec is None:
        print(
            "benchmarks/distributed.py: no mpiexec found (neither next to "
            f"{sys.executable} nor on PATH); install an MPI and mpi4py: pip install 'chainrule[mpi]'",
            file=sys.stderr,
        )
        return 2
    notes: list[str] = []
    problems: list[str] = []
    load_before = _common.load_average()
    modes = ["loop"] + ([] if args.no_fit else ["fit"])
    results: dict[str, dict[str, dict[str, list[dict]]]] = {mode: {} for mode in modes}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for workload in args.workloads:
            for mode in modes:
                runs: dict[str, list[dict]] = {c: [] for c in CONFIGS}
                for r in range(args.repeats):
                    for config in CONFIGS:
                        print(
                            f"  {workload} {mode} [{r + 1}/{args.repeats}] {CONFIG_LABELS[config]} ...", file=sys.stderr
                        )
                        runs[config].append(run_config(config, mode, workload, args, mpiexec, tmp))
                if mode == "loop" and not args.no_profile:
                    print(f"  {workload} {mode} 2 processes (MPI), instrumented ...", file=sys.stderr)
                    runs["2-profile"] = [run_config("2-profile", mode, workload, args, mpiexec, tmp)]
                results[mode][workload] = runs
    elapsed = time.perf_counter() - started
    machine = _common.machine_summary()
    first = results["loop"][args.workloads[0]]["1"][0]
    print("### Data-parallel training over MPI: chainrule.distributed, 1 vs 2 processes (CPU)\n")
    print(
        f"chainrule {first['version']} (at {_common.checkout_state()}), numba {'on' if first['numba'] else 'off'}, "
        f"NumPy {machine['numpy']}, Python {machine['python']}, {machine['cpus']} CPUs; {mpiexec}. "
        "OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=MKL_NUM_THREADS=1 in every process. Weak scaling: the batch is per "
        "process, so 2 processes train on twice the samples per step. Samples/s = all processes' samples / the "
        f"slowest process's wall time; medians (min-max) over {args.repeats} runs per configuration, run "
        f"alternately. Load average before/after: {load_before} / {machine['load_average']}; "
        f"the runs took {elapsed:.0f} s.\n"
    )
    busy = interference_note(results)
    if busy:
        notes.append(busy)
    measured = {}
    for workload, runs in results["loop"].items():
        found, measured[workload] = report_loop(workload, runs, args)
        problems += found
        notes += sorted({r["note"] for rs in runs.values() for r in rs if r.get("note")})
    if "fit" in results:
        problems += report_fit(results["fit"], results["loop"])
    report_model(measured)
    for note in notes + problems:
        print(f"Note: {note}\n")
    if args.json:
        _common.write_json(
            args.json,
            {"settings": vars(args), "machine": machine, "notes": notes + problems, "results": results},
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: a few steps, 1 run per configuration")
    parser.add_argument(
        "--workloads",
        type=_common.name_list(tuple(WORKLOADS), "workload"),
        default=list(WORKLOADS),
        help=f"comma-separated workloads (default all: {','.join(WORKLOADS)})",
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs per configuration (default 3)")
    parser.add_argument(
        "--steps",
        type=int,
        help="timed steps per process, loop mode (default "
        + ", ".join(f"{k} {v['steps']}" for k, v in WORKLOADS.items())
        + ")",
    )
    parser.add_argument("--warmup", type=int, help=f"untimed steps first, the {FIRST_CALLS} recording calls among them")
    parser.add_argument("--epochs", type=int, help="fit's epochs, the first not timed")
    parser.add_argument("--lr", type=float, help="learning rate (default: mlp-large 0.01, cnn 0.05)")
    parser.add_argument("--momentum", type=float, default=0.9, help="SGD momentum (default 0.9)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights, data and batch order (default 0)")
    parser.add_argument(
        "--bucket-cap-mb",
        type=float,
        default=BUCKET_CAP_MB,
        help=f"DistributedDataParallel's bucket_cap_mb, loop mode (default {BUCKET_CAP_MB:g})",
    )
    parser.add_argument(
        "--gradient-as-bucket-view",
        action="store_true",
        help="DistributedDataParallel(gradient_as_bucket_view=True), loop mode: each .grad a view of its bucket",
    )
    parser.add_argument("--no-fit", action="store_true", help="leave out the fit rows")
    parser.add_argument(
        "--no-profile", action="store_true", help="leave out the instrumented 2-process run (the breakdown)"
    )
    parser.add_argument("--json", metavar="PATH", help="also write every measurement as JSON")
    parser.add_argument("--worker", choices=("loop", "fit"), help=argparse.SUPPRESS)
    parser.add_argument("--workload", choices=sorted(WORKLOADS), help=argparse.SUPPRESS)
    parser.add_argument("--rendezvous", help=argparse.SUPPRESS)
    parser.add_argument("--profile", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        spec = WORKLOADS[args.workload]
        for name in ("steps", "warmup", "epochs", "lr"):
            if getattr(args, name) is None:
                setattr(args, name, spec[name])
        worker(args)
        return 0
    if args.quick:
        args.repeats = 1
        for name, value in QUICK.items():
            if getattr(args, name) is None:
                setattr(args, name, value)
    if args.repeats < 1 or (args.steps or 1) < 1 or (args.epochs or 2) < 2:
        parser.error("--repeats and --steps must be positive, --epochs at least 2")
    if args.warmup is not None and args.warmup < FIRST_CALLS:
        parser.error(f"--warmup must be at least {FIRST_CALLS}")
    return parent(args)


if __name__ == "__main__":
    sys.exit(main())
