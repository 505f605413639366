"""``DistributedSampler``: each process's share of a dataset, PyTorch's rules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from chainrule.distributed import world


class DistributedSampler:
    """The indices of one process's shard of a dataset, for ``DataLoader(..., sampler=...)``.

    Every process draws the same order (from ``seed`` and the epoch set by ``set_epoch``), pads it
    to a multiple of the number of processes by repeating its first indices (``drop_last=False``)
    or cuts the remainder (``drop_last=True``), and takes every ``num_replicas``-th index from its
    rank: the shards are disjoint (apart from the padding) and together cover the dataset. Call
    ``set_epoch(epoch)`` before each epoch for a new order (``fit`` does).

    With ``num_replicas`` processes and ``batch_size`` b, batch k of the processes together holds
    the samples ``order[k*b*num_replicas : (k+1)*b*num_replicas]``: what one process with batch
    size ``b * num_replicas`` would take.

    Args:
        dataset: anything with ``len()``.
        num_replicas: the number of shards (default: the world size).
        rank: this shard (default: this process's rank).
        shuffle: a new order each epoch (default True); False keeps the dataset's order.
        seed: the seed of the order; must be the same on every process (default 0).
        drop_last: drop the samples that do not divide evenly instead of repeating some.

    Example:
        >>> from chainrule.distributed import DistributedSampler
        >>> list(DistributedSampler(range(10), num_replicas=3, rank=1, shuffle=False))
        [1, 4, 7, 0]
        >>> list(DistributedSampler(range(10), num_replicas=3, rank=1, shuffle=False, drop_last=True))
        [1, 4, 7]
    """

    def __init__(
        self,
        dataset: Any,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        if num_replicas is None:
            num_replicas = world.world_size()
        if rank is None:
            rank = world.rank()
        for name, value in (("num_replicas", num_replicas), ("rank", rank), ("seed", seed)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"DistributedSampler: {name} must be an integer, got {value!r}")
        if num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be at least 1, got {num_replicas}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: rank must be from 0 to {num_replicas - 1}, got {rank}")
        if seed < 0:
            raise ValueError(f"DistributedSampler: seed must be non-negative, got {seed}")
        self.dataset = dataset
        self.num_replicas, self.rank, self.seed = int(num_replicas), int(rank), int(seed)
        self.shuffle, self.drop_last = bool(shuffle), bool(drop_last)
        self.epoch = 0
        n = len(dataset)
        if self.drop_last:
            self.num_samples = n // self.num_replicas
        else:
            self.num_samples = -(-n // self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Use the order of ``epoch`` (the same on every process), as PyTorch's ``set_epoch``."""
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
            raise ValueError(f"DistributedSampler.set_epoch: epoch must be a non-negative integer, got {epoch!r}")
        self.epoch = int(epoch)

    def order(self) -> np.ndarray:
        """The order of the whole dataset this epoch (the same on every process), before padding."""
        n = len(self.dataset)
        if self.shuffle:
            return np.random.default_rng([self.seed, self.epoch]).permutation(n)
        return np.arange(n)

    def indices(self) -> np.ndarray:
        """This shard's indices this epoch, as an array."""
        order = self.order()
        if self.drop_last:
            order = order[: self.total_size]
        elif len(order) < self.total_size:
            repeats = -(-self.total_size // max(len(order), 1))
            order = np.concatenate([order] + [order] * (repeats - 1))[: self.total_size] if len(order) else order
        return order[self.rank : self.total_size : self.num_replicas]

    def real_samples(self) -> int:
        """How many of this shard's indices are not padding (they come first)."""
        n = len(self.dataset)
        if self.drop_last:
            return self.num_samples
        return len(range(self.rank, n, self.num_replicas))

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        return self.num_samples

    def __repr__(self) -> str:
        return (
            f"DistributedSampler(num_replicas={self.num_replicas}, rank={self.rank}, shuffle={self.shuffle}, "
            f"seed={self.seed}, drop_last={self.drop_last})"
        )
