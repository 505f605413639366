"""``fit`` on several processes: what changes when the MPI world has more than one.

``fit`` asks ``distributed.world_size()`` once. In a world of one nothing here runs. In a larger world each
process trains the same model on its shard of every batch (PyTorch's and Horovod's
data parallelism, ``batch_size`` per process), the gradients are averaged inside the backward
(``DistributedDataParallel``), each batch's loss is averaged over the processes (so that a NaN
anywhere stops every process at the same batch), the epoch's metrics are computed from every
process's outputs, and the files are written by rank 0.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from chainrule import distributed
from chainrule.data.loader import DataLoader
from chainrule.distributed import DistributedDataParallel, DistributedSampler
from chainrule.distributed.parallel import _broadcast_buffers_of
from chainrule.nn.module import Module
from chainrule.random import resolve_generator
from chainrule.train.inference import _evaluate
from chainrule.train.progress import Progress

_wrappers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class Quiet(Progress):
    """What the processes other than rank 0 report: nothing (rank 0 shows the run)."""

    def __init__(self) -> None:
        super().__init__(0)

    def message(self, text: str, always: bool = False) -> None:
        return None


def shared_seed(seed: Any) -> int:
    """The shuffling seed every process uses: ``seed`` if it is an int, else a number drawn from
    ``seed`` (a Generator, or chainrule's random source for None) on every process, rank 0's kept
    (every process draws, so their random sources stay alike)."""
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return int(seed) % 2**63
    drawn = np.array([resolve_generator(seed).integers(2**63 - 1)], dtype=np.int64)
    return int(distributed.broadcast(drawn, src=0)[0])


def shard(loader: DataLoader, seed: int, owner: str) -> DataLoader:
    """``loader``'s batches for this process: the same dataset through a ``DistributedSampler``
    (shuffled if ``loader`` shuffles); a loader that has one already is kept as it is."""
    lengths = [int(n[0]) for n in distributed.all_gather(np.array([len(loader.dataset)], dtype=np.int64))]
    if len(set(lengths)) > 1:  # each process would train on a part of its own, different data
        raise ValueError(
            f"{owner}: under {len(lengths)} processes every process must be given the same training data (the "
            f"sampler gives each its share), but their datasets hold {lengths} samples (by rank)"
        )
    if isinstance(loader.sampler, DistributedSampler):
        return loader
    if loader.sampler is not None:
        raise ValueError(
            f"{owner}: under {distributed.world_size()} processes the data is sharded with a DistributedSampler, "
            f"but this DataLoader has its own sampler ({loader.sampler!r}); give it "
            "sampler=chainrule.distributed.DistributedSampler(dataset, ...)"
        )
    if type(loader).__iter__ is not DataLoader.__iter__:
        raise ValueError(
            f"{owner}: under {distributed.world_size()} processes each needs its shard of the data, and a DataLoader "
            f"subclass ({type(loader).__name__}) that makes its own batches cannot be sharded here; give it "
            "sampler=chainrule.distributed.DistributedSampler(dataset, ...)"
        )
    sampler = DistributedSampler(loader.dataset, shuffle=loader.shuffle, seed=seed, drop_last=loader.drop_last)
    mine = DataLoader(
        loader.dataset,
        batch_size=loader.batch_size,
        drop_last=loader.drop_last,
        as_numpy=loader.as_numpy,
        sampler=sampler,
    )
    if len(mine) == 0:
        raise ValueError(
            f"{owner}: under {sampler.num_replicas} processes each takes {len(sampler)} of the {lengths[0]} samples, "
            f"fewer than batch_size={loader.batch_size} with drop_last=True: no process would take a step"
        )
    return mine


def evaluated(model: Module, loss_fn: Any, loader: DataLoader, metrics: Any, compile: bool) -> dict[str, float]:
    """``evaluate`` with the work shared: each process evaluates a contiguous part of the samples
    and the loss and metrics are computed from all the outputs, gathered in rank order (the
    loader's order), so every process gets the numbers one process would, with rank 0's buffers
    (BatchNorm's running statistics). A loader that cannot be split (its own sampler, a subclass
    with batches of its own, fewer samples than processes) is evaluated whole by every process,
    and rank 0's numbers are kept, so that every process takes the same decisions on them."""
    _broadcast_buffers_of(model)  # rank 0's running statistics (BatchNorm), as after fit
    size = distributed.world_size()
    own_order = loader.sampler is not None and not isinstance(loader.sampler, DistributedSampler)
    if own_order or type(loader).__iter__ is not DataLoader.__iter__ or len(loader.dataset) < size:
        logs = _evaluate(model, loss_fn, loader, metrics, compile)  # whole, on each: rank 0's numbers kept
        values = distributed.broadcast(np.array(list(logs.values()), dtype=np.float64), src=0)
        return dict(zip(logs, values.tolist()))
    # (a loader with a DistributedSampler: its dataset, split here, so that no sample counts twice)
    part = np.array_split(np.arange(len(loader.dataset)), size)[distributed.rank()]
    mine = DataLoader(loader.dataset, batch_size=loader.batch_size, as_numpy=loader.as_numpy, sampler=part)
    return _evaluate(model, loss_fn, mine, metrics, compile, gather=lambda out, tgt: gathered([out], [tgt], None))


def wrapper(model: Module) -> DistributedDataParallel:
    """The ``DistributedDataParallel`` that ``fit`` trains ``model`` through (made once per model,
    so that a later ``fit`` replays the same compiled step); rank 0's weights are sent to every
    process at the start of every ``fit``."""
    if isinstance(model, DistributedDataParallel):
        return model
    ddp = _wrappers.get(model)
    if ddp is not None and [id(p) for p in ddp._reducer.params()] != [
        id(p) for p in model.parameters() if p.requires_grad
    ]:
        ddp = None  # the model's parameters changed since: a new wrapper
    if ddp is None:
        ddp = DistributedDataParallel(model)
        _wrappers[model] = ddp
    else:
        ddp.sync_module_states()
    ddp._attach_hooks()
    return ddp


def batch_totals(loss: float, n: int, weight: float) -> tuple[float, int, float]:
    """The batch's loss averaged over every process's samples (each process's batch loss weighted
    by its sample count), the total count and the total weight."""
    totals = distributed.all_reduce(np.array([loss * n, n, weight], dtype=np.float64))
    count = int(totals[1])
    return float(totals[0] / count) if count else 0.0, count, float(totals[2])


def gathered(outputs: list[np.ndarray], targets: list[np.ndarray], real: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Every process's outputs and targets of the epoch (the first ``real`` of this process's,
    the rest being the sampler's padding)."""
    out, tgt = np.concatenate(outputs), np.concatenate(targets)
    if real is not None:
        out, tgt = out[:real], tgt[:real]
    return np.concatenate(distributed.all_gather(out)), np.concatenate(distributed.all_gather(tgt))
