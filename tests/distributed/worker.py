"""Programs the distributed tests run, under ``mpiexec -n 2`` or as one plain process.

``python worker.py JOB OUT [ARGS...]``: each job writes what the test compares into the folder
OUT (``rank<r>.npz``, files of its own), named by rank, and prints nothing it relies on.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

import numpy as np

import chainrule as cr
import chainrule.distributed as dist
from chainrule.data import DataLoader
from chainrule.train import BackupAndRestore, Callback, CSVLogger, ModelCheckpoint, fit

N = 96  # samples: a multiple of 2 ranks x the batches below

if "WORKER_DIRECT_BYTES" in os.environ:  # gradients this large are all-reduced where they lie, without a bucket
    from chainrule.distributed import parallel

    parallel.DIRECT_BYTES = int(os.environ["WORKER_DIRECT_BYTES"])


def data(kind: str, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, 1, 12) if kind == "cnn" else (N, 10)).astype(dtype)
    flat = X.reshape(N, -1)
    y = (flat[:, 0] + flat[:, 1] > 0).astype("int64") + (flat[:, 2] > 0.5)
    return X, y


def network(kind: str, dtype: str) -> cr.nn.Module:
    cr.manual_seed(0)
    if kind == "cnn":  # Conv1d and pooling
        model = cr.nn.Sequential(
            cr.nn.Conv1d(1, 4, 3, padding=1),
            cr.nn.ReLU(),
            cr.nn.MaxPool1d(2),
            cr.nn.Conv1d(4, 4, 3),
            cr.nn.Tanh(),
            cr.nn.Flatten(),
            cr.nn.Linear(16, 3),
        )
    else:
        model = cr.nn.Sequential(cr.nn.Linear(10, 16), cr.nn.Tanh(), cr.nn.Linear(16, 3))
    return model.to(dtype)


def optimizer(name: str, model: cr.nn.Module) -> cr.optim.Optimizer:
    if name == "sgd":
        return cr.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    return cr.optim.Adam(model.parameters(), lr=0.01)


def weights(model: cr.nn.Module) -> np.ndarray:
    return np.concatenate([p.detach().numpy().ravel() for p in model.parameters()])


def save(out: str, **arrays: np.ndarray) -> None:
    np.savez(os.path.join(out, f"rank{dist.rank()}.npz"), **arrays)


def same_as_one(out: str, kind: str, dtype: str, opt_name: str, compile_: str) -> None:
    """b samples per rank on 2 ranks, or 2b on one process: the same samples, the same order."""
    X, y = data(kind, dtype)
    validation = (X[:37] * 0.5, y[:37])  # 37 samples: parts of 19 and 18 on two ranks
    model = network(kind, dtype)
    opt = optimizer(opt_name, model)
    b = 8
    settings = dict(epochs=3, verbose=0, compile=compile_ == "1", validation_data=validation, metrics=["accuracy"])
    if dist.world_size() == 1:
        sampler = dist.DistributedSampler(range(N), num_replicas=1, rank=0, seed=3)
        loader = DataLoader((X, y), batch_size=2 * b, sampler=sampler)
        history = fit(model, cr.nn.CrossEntropyLoss(), opt, loader, **settings)
    else:
        history = fit(model, cr.nn.CrossEntropyLoss(), opt, X, y, batch_size=b, seed=3, **settings)
    save(out, weights=weights(model), **{key: np.array(values) for key, values in history.history.items()})


class Die(Callback):
    """Kill this process (SIGKILL, no clean-up) at the start of epoch ``epoch`` on rank ``rank``."""

    def __init__(self, epoch: int, rank: int) -> None:
        self.epoch, self.rank = epoch, rank

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if epoch == self.epoch and dist.rank() == self.rank:
            os.kill(os.getpid(), signal.SIGKILL)


def files(out: str, die_at: str = "0", wrapped: str = "0") -> None:
    """fit with a checkpoint, a CSV log and a backup; ``die_at`` > 0 kills rank 1 at that epoch;
    ``wrapped``: the model given to fit already in a DistributedDataParallel."""
    X, y = data("mlp", "float64")
    model = network("mlp", "float64")
    opt = optimizer("adam", model)
    callbacks = [
        ModelCheckpoint(os.path.join(out, "ckpt-{epoch}.safetensors"), monitor="loss"),
        CSVLogger(os.path.join(out, "log.csv")),
        BackupAndRestore(os.path.join(out, "backup")),
    ]
    if int(die_at):
        callbacks.append(Die(int(die_at), 1))
    history = fit(
        dist.DistributedDataParallel(model) if wrapped == "1" else model,
        cr.nn.CrossEntropyLoss(),
        opt,
        X,
        y,
        epochs=4,
        batch_size=8,
        validation_split=0.25,
        metrics=["accuracy"],
        callbacks=callbacks,
        verbose=2,
    )
    save(out, weights=weights(model))
    with open(os.path.join(out, f"history{dist.rank()}.json"), "w") as f:
        json.dump(history.history, f)


def raise_on_one(out: str) -> None:
    """Rank 1 raises while rank 0 waits for it in a collective."""
    dist.init()
    if dist.rank() == 1:
        raise ValueError("rank 1 broke on purpose")
    dist.all_reduce(np.ones(3))


def exit_in_fit(out: str) -> None:
    """Rank 1 calls sys.exit(3) from a callback in the second epoch, while rank 0 trains on."""

    class Leave(Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1 and dist.rank() == 1:
                sys.exit(3)

    x, y = data("mlp", "float64")
    model = network("mlp", "float64")
    fit(model, cr.nn.CrossEntropyLoss(), optimizer("sgd", model), x, y, epochs=4, batch_size=8, callbacks=[Leave()])
    save(out, weights=weights(model))


def gather_0d(out: str) -> None:
    r = dist.rank()
    parts = dist.all_gather(np.array(r + 1.0))
    tensors = dist.all_gather(cr.tensor(r + 1.0))
    save(out, shapes=np.array([p.shape == () for p in parts] + [t.shape == () for t in tensors]))


def late_broadcast(out: str) -> None:
    """Rank 2 comes to the broadcast late; ranks 0 and 1 may have done their part and ended by then,
    which is no failure: the others wait for rank 2 as usual."""
    dist.init()
    if dist.rank() == 2:
        time.sleep(3)
    got = dist.broadcast(np.full(10, float(dist.rank())), src=0)
    save(out, got=got)


def own_finalize(out: str) -> None:
    """A program that ends MPI itself: the exit notice must not use MPI after that."""
    from mpi4py import MPI

    total = dist.all_reduce(np.ones(2))
    save(out, total=total)
    MPI.Finalize()


def late(out: str) -> None:
    """Rank 1 never joins the collective: rank 0 must give up after the timeout."""
    dist.init(timeout=1.0)
    if dist.rank() == 1:
        time.sleep(20)
        return
    dist.barrier()


def collectives(out: str) -> None:
    r = dist.rank()
    total = dist.all_reduce(np.array([r + 1.0, 2.0]))
    mean = dist.all_reduce(cr.tensor([r + 1.0]), op="avg")
    largest = dist.all_reduce(r + 1, op=dist.ReduceOp.MAX)
    shared = dist.broadcast(np.full(3, float(r)), src=1)
    parts = dist.all_gather(np.full((r + 1, 2), float(r)))  # ranks with different row counts
    tensors: list = []
    dist.all_gather(tensors, cr.tensor([float(r)]))
    dist.barrier()
    save(
        out,
        total=total,
        mean=mean.numpy(),
        largest=np.array(largest),
        shared=shared,
        gathered=np.concatenate(parts),
        tensors=np.concatenate([t.numpy() for t in tensors]),
    )


def accumulate(out: str, compile_: str, view: str = "0", keep: str = "0") -> None:
    """no_sync: two backward passes accumulate locally, the second outside no_sync averages the sum
    (``view``: with gradient_as_bucket_view; ``keep``: zero_grad(set_to_none=False))."""
    X, y = data("mlp", "float64")
    model = network("mlp", "float64")
    ddp = dist.DistributedDataParallel(model, bucket_cap_mb=0.0005, gradient_as_bucket_view=view == "1")
    loss_fn = cr.nn.CrossEntropyLoss()
    shard = slice(dist.rank() * 16, dist.rank() * 16 + 16) if dist.world_size() > 1 else slice(0, 32)

    def step(xb: np.ndarray, yb: np.ndarray) -> None:
        loss_fn(ddp(cr.tensor(xb)), yb).backward()

    run = cr.compile(step) if compile_ == "1" else step
    grads = []
    for _ in range(3):  # (compiled: recorded twice, then replayed)
        model.zero_grad(set_to_none=keep != "1")
        with ddp.no_sync():
            run(X[shard][:8], y[shard][:8])
        run(X[shard][8:], y[shard][8:])
        grads.append(np.concatenate([p.grad.numpy().ravel() for p in model.parameters()]))
    flats = [b.flat for b in ddp._reducer.buckets if not b.direct]
    save(
        out,
        grads=np.stack(grads),
        views=np.array([any(np.shares_memory(p.grad._data, f) for f in flats) for p in model.parameters()]),
        buckets=np.array(len(ddp._reducer.buckets)),
        stats=np.array(ddp.comm_stats["all_reduces"]),
        direct=np.array(sum(b.direct for b in ddp._reducer.buckets)),
    )


def one_big_batch(out: str) -> None:
    """The gradient of 32 samples on one process (what ``accumulate`` must average to)."""
    X, y = data("mlp", "float64")
    model = network("mlp", "float64")
    grads = []
    model.zero_grad()
    loss_fn = cr.nn.CrossEntropyLoss()
    for rows in (slice(0, 8), slice(8, 16), slice(16, 24), slice(24, 32)):
        (loss_fn(model(cr.tensor(X[rows])), y[rows]) / 2).backward()
    grads.append(np.concatenate([p.grad.numpy().ravel() for p in model.parameters()]))
    save(out, grads=np.stack(grads))


def unused(out: str, find: str) -> None:
    """A parameter outside the loss: an error naming it, or (find_unused_parameters, ``find`` "1", or
    static_graph, "s") zeros sent for it."""

    class Two(cr.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.used, self.spare = cr.nn.Linear(3, 1), cr.nn.Linear(3, 1)

        def forward(self, x: cr.Tensor) -> cr.Tensor:
            return self.used(x)

    cr.manual_seed(0)
    model = Two().to("float64")
    ddp = dist.DistributedDataParallel(model, find_unused_parameters=find == "1", static_graph=find == "s")
    try:
        ddp(cr.ones(2, 3, dtype="float64") * (dist.rank() + 1)).sum().backward()
    except RuntimeError as e:
        with open(os.path.join(out, f"error{dist.rank()}.txt"), "w") as f:
            f.write(str(e))
        return
    save(out, grad=ddp.module.used.weight.grad.numpy(), spare=np.array(ddp.module.spare.weight.grad is None))


def converted(out: str) -> None:
    """A model converted to float64 after it was wrapped in float32: an error at the backward."""
    model = cr.nn.Linear(3, 1)
    ddp = dist.DistributedDataParallel(model)
    model.to("float64")
    try:
        ddp(cr.ones(2, 3, dtype="float64")).sum().backward()
    except RuntimeError as e:
        with open(os.path.join(out, f"error{dist.rank()}.txt"), "w") as f:
            f.write(str(e))


def estimator(out: str) -> None:
    """A scikit-learn estimator under mpiexec: each process fits it whole (data_parallel=False)."""
    from chainrule.estimators import MLPClassifier

    X, y = data("mlp", "float64")
    model = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0).fit(X, y)
    save(out, proba=model.predict_proba(X))


def batchnorm(out: str) -> None:
    """BatchNorm under fit on 2 ranks: local batch statistics, rank 0's running statistics."""
    X, y = data("mlp", "float64")
    cr.manual_seed(0)
    model = cr.nn.Sequential(cr.nn.Linear(10, 8), cr.nn.BatchNorm1d(8), cr.nn.ReLU(), cr.nn.Linear(8, 3)).to("float64")
    opt = optimizer("sgd", model)
    fit(model, cr.nn.CrossEntropyLoss(), opt, X, y, epochs=2, batch_size=8, seed=1, verbose=0)
    state = {k: np.asarray(v) for k, v in model.state_dict().items()}
    save(out, **state)


def fail_before_init(out: str) -> None:
    """Rank 1 fails before chainrule has started MPI (reading its data), while rank 0 goes on to fit."""
    if os.environ.get("PMI_RANK") == "1":
        raise FileNotFoundError("rank 1 could not read its data")
    same_as_one(out, "mlp", "float64", "sgd", "1")


class Branches(cr.nn.Module):
    """a(x), plus b(x) when asked: b is a parameter a step may leave unused."""

    def __init__(self, outputs: int) -> None:
        super().__init__()
        self.a, self.b = cr.nn.Linear(4, outputs), cr.nn.Linear(4, outputs)

    def forward(self, x: cr.Tensor, use_b: bool) -> cr.Tensor:
        return self.a(x) + self.b(x) if use_b else self.a(x)


def used_on_one_rank(out: str, view: str = "0") -> None:
    """A parameter only rank 1 uses (find_unused_parameters): every rank must update it alike."""

    cr.manual_seed(0)
    ddp = dist.DistributedDataParallel(
        Branches(2).to("float64"), find_unused_parameters=True, gradient_as_bucket_view=view == "1"
    )
    opt = cr.optim.SGD(ddp.parameters(), lr=0.1)
    opt.zero_grad()
    ddp(cr.ones(3, 4, dtype="float64"), use_b=dist.rank() == 1).sum().backward()
    opt.step()
    save(out, b=ddp.module.b.weight.numpy(), a=ddp.module.a.weight.numpy(), grad_b=ddp.module.b.weight.grad.numpy())


def refusals(out: str, case: str) -> None:
    """fit's refusals under 2 processes, with the error written down."""
    X, y = data("mlp", "float64")
    model = network("mlp", "float64")
    opt = optimizer("sgd", model)
    kwargs: dict = {"epochs": 1, "verbose": 0}
    if case == "lengths":  # rank 1 was given fewer samples
        X, y = (X, y) if dist.rank() == 0 else (X[:50], y[:50])
    elif case == "drop_last":
        X = DataLoader((X[:40], y[:40]), batch_size=32, drop_last=True)
        y = None
    try:
        fit(model, cr.nn.CrossEntropyLoss(), opt, X, y, **kwargs)
    except ValueError as e:
        with open(os.path.join(out, f"error{dist.rank()}.txt"), "w") as f:
            f.write(str(e))


def validation_sampler(out: str) -> None:
    """validation_data as a DataLoader with a DistributedSampler: the whole set, once, on every rank."""
    X, y = data("mlp", "float64")
    model = network("mlp", "float64")
    loader = DataLoader((X[:37], y[:37]), batch_size=8, sampler=dist.DistributedSampler(range(37), shuffle=False))
    history = fit(
        model, cr.nn.CrossEntropyLoss(), optimizer("sgd", model), X, y, epochs=2, verbose=0, validation_data=loader
    )
    whole = cr.train.evaluate(model, cr.nn.CrossEntropyLoss(), X[:37], y[:37])["loss"]
    save(out, val_loss=np.array(history["val_loss"]), whole=np.array(whole))


def aliased(out: str, compiled: str) -> None:
    """y = P + (A(x) + B(x)): P's .grad is the very array the backward then passes on into A and B
    (P is large: a direct bucket, all-reduced in its .grad). Each rank's gradients must be the
    mean of what each rank computes alone, on a copy of the model without the wrapper."""

    class Sum(cr.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.A, self.B = cr.nn.Linear(64, 512), cr.nn.Linear(64, 512)
            self.P = cr.nn.Parameter(cr.zeros(600, 512))  # 1.2 MB: its own bucket, the first sent

        def forward(self, x: cr.Tensor) -> cr.Tensor:
            y = self.P + (self.A(x) + self.B(x))
            return (y * y).sum()

    cr.manual_seed(0)
    alone, model = Sum(), Sum()
    for a, b in zip(alone.parameters(), model.parameters()):
        b._data[...] = a._data
    ddp = dist.DistributedDataParallel(model)

    def step(x: cr.Tensor) -> None:
        model.zero_grad()
        ddp(x).backward()

    run = cr.compile(step) if compiled == "1" else step
    rng = np.random.default_rng(dist.rank() + 1)
    errors = []
    for _ in range(4):  # (compiled: recorded twice, then replayed)
        x = cr.tensor(rng.normal(size=(600, 64)).astype("float32"))
        alone.zero_grad()
        alone(x).backward()
        expected = [dist.all_reduce(p.grad.numpy().copy(), op="avg") for p in alone.parameters()]
        run(x)
        errors.append(
            max(float(np.abs(p.grad.numpy() - e).max() / np.abs(e).max()) for p, e in zip(model.parameters(), expected))
        )
    save(out, errors=np.array(errors), direct=np.array(sum(b.direct for b in ddp._reducer.buckets)))


def unused_no_sync(out: str) -> None:
    """find_unused_parameters with no_sync: a parameter used only in the accumulated backward."""

    cr.manual_seed(0)
    ddp = dist.DistributedDataParallel(Branches(1).to("float64"), find_unused_parameters=True)
    x = cr.tensor(np.full((2, 4), dist.rank() + 1.0))
    with ddp.no_sync():
        ddp(x, True).sum().backward()  # b used by every process
    ddp(x, dist.rank() == 1).sum().backward()  # b used by rank 1 only
    save(out, b=ddp.module.b.weight.grad.numpy())


def exits_early(out: str) -> None:
    """Rank 1 finishes without using MPI; rank 0 fails afterwards: it must not wait for ever."""
    if dist.world._launched_rank() == "1":
        return
    time.sleep(1)
    raise ValueError("rank 0 failed after rank 1 had finished")


JOBS = {
    "late_broadcast": late_broadcast,
    "own_finalize": own_finalize,
    "exit_in_fit": exit_in_fit,
    "gather_0d": gather_0d,
    "aliased": aliased,
    "unused_no_sync": unused_no_sync,
    "exits_early": exits_early,
    "fail_before_init": fail_before_init,
    "used_on_one_rank": used_on_one_rank,
    "refusals": refusals,
    "validation_sampler": validation_sampler,
    "batchnorm": batchnorm,
    "estimator": estimator,
    "same_as_one": same_as_one,
    "files": files,
    "raise_on_one": raise_on_one,
    "late": late,
    "collectives": collectives,
    "accumulate": accumulate,
    "one_big_batch": one_big_batch,
    "unused": unused,
    "converted": converted,
}

if __name__ == "__main__":
    JOBS[sys.argv[1]](*sys.argv[2:])
