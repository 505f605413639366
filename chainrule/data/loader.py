"""Dataset, TensorDataset and DataLoader: mini-batches of Tensors (or of NumPy arrays, ``as_numpy=True``).

Full-batch gradient descent, stochastic gradient descent and mini-batch gradient descent are the
same loop over a DataLoader; only ``batch_size`` differs (the whole set, 1, or something between).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from chainrule.random import resolve_generator
from chainrule.tensor import DEFAULT_DTYPE, Tensor

_NUMERIC = frozenset("biufc")
"""The dtype kinds a DataLoader yields as Tensors; others (text, objects) stay NumPy arrays."""


class Dataset:
    """A sized collection of samples: subclasses define ``__len__`` and ``__getitem__``.

    ``__getitem__(i)`` returns one sample, usually a tuple of arrays (features, target).

    Example:
        >>> import numpy as np
        >>> from chainrule.data import DataLoader, Dataset
        >>> class Squares(Dataset):
        ...     def __len__(self):
        ...         return 4
        ...     def __getitem__(self, i):
        ...         return np.float32(i), np.float32(i * i)
        >>> len(Squares()), Squares()[3]
        (4, (np.float32(3.0), np.float32(9.0)))
    """

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")


class TensorDataset(Dataset):
    """Arrays of equal length viewed as one dataset; sample i is ``tuple(a[i] for a in arrays)``.

    Accepts NumPy arrays, lists and chainrule Tensors (their arrays are used).

    Example:
        >>> import numpy as np
        >>> from chainrule.data import TensorDataset
        >>> ds = TensorDataset(np.zeros((5, 3)), np.arange(5))
        >>> len(ds), int(ds[2][1])
        (5, 2)
    """

    def __init__(self, *arrays: Any):
        if not arrays:
            raise ValueError("TensorDataset: give at least one array")
        self.arrays = tuple(np.asarray(getattr(a, "data", a)) for a in arrays)
        lengths = [len(a) if a.ndim else -1 for a in self.arrays]
        if len(set(lengths)) != 1 or lengths[0] < 0:
            raise ValueError(f"TensorDataset: arrays must have the same length, got lengths {lengths}")

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, index: Any) -> tuple[Tensor | np.ndarray, ...]:
        """The sample(s) at ``index`` as Tensors, as PyTorch's TensorDataset gives them (a slice
        shares the dataset's memory, read-only); text and object columns stay arrays."""
        return _tensors(tuple(a[index] for a in self.arrays))


class DataLoader:
    """Iterate over a dataset in mini-batches, optionally shuffled each epoch.

    Args:
        dataset: a Dataset, or a tuple of arrays (made into a TensorDataset).
        batch_size: samples per batch; ``None`` means the whole dataset (full-batch GD).
        shuffle: draw a new order every epoch.
        drop_last: drop the last batch when it is smaller than ``batch_size``.
        seed: an int or ``np.random.Generator`` for the shuffling; by default chainrule's
            random source, which ``cr.manual_seed`` makes reproducible.
        sampler: the order of the samples instead: an iterable of indices with a length, drawn
            anew each epoch (e.g. ``chainrule.distributed.DistributedSampler``: this process's
            shard); not with ``shuffle=True``, as in PyTorch.
        as_numpy: yield NumPy arrays instead of Tensors (default False).
        collate_fn: PyTorch's: a function that makes a batch from the list of samples the dataset
            gives (``dataset[i]``, one per index); the loader then yields what it returns, as it
            returns it. By default samples are stacked into arrays (and a TensorDataset is cut
            whole, with no per-sample calls).
        num_workers, pin_memory, persistent_workers, prefetch_factor, timeout, worker_init_fn:
            PyTorch's, accepted (and checked as PyTorch checks them) so that its loaders run as
            written; the batches are made in this process, the same batches workers would make
            (workers only overlap loading with training; memory pinning is for GPUs), so there is
            no worker for ``worker_init_fn`` to start.

    A TensorDataset's batches are tuples with one entry per array; a dataset of one's own has its
    samples collated as PyTorch's ``default_collate`` does (:func:`default_collate`). Batches hold
    chainrule Tensors, as PyTorch's DataLoader yields tensors, so ``model(xb)``, ``xb.to(device)``
    and ``loss_fn(out, yb)`` work as written; arrays of text or objects stay NumPy arrays. A Tensor
    wraps its batch's array without copying it, and ``xb.numpy()`` gives the array back;
    ``as_numpy=True`` yields the arrays themselves (as tuples), for code that works on NumPy. For a
    TensorDataset batches are taken with one slice (a view, when not shuffled) or one fancy index
    per array, never sample by sample.

    Example:
        >>> import numpy as np
        >>> from chainrule.data import DataLoader
        >>> loader = DataLoader((np.arange(10.0), np.arange(10) * 2), batch_size=4)
        >>> [len(xb) for xb, yb in loader]
        [4, 4, 2]
        >>> xb, yb = next(iter(loader))
        >>> type(xb).__name__, yb.tolist()
        ('Tensor', [0, 2, 4, 6])
        >>> xb, yb = next(iter(DataLoader((np.arange(10.0), np.arange(10)), batch_size=4, as_numpy=True)))
        >>> type(xb).__name__, xb.tolist()
        ('ndarray', [0.0, 1.0, 2.0, 3.0])
    """

    def __init__(
        self,
        dataset: Dataset | Sequence[Any],
        batch_size: int | None = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int | np.random.Generator | None = None,
        as_numpy: bool = False,
        sampler: Any = None,
        collate_fn: Any = None,
        num_workers: int = 0,
        pin_memory: bool = False,
        timeout: float = 0,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        worker_init_fn: Any = None,
    ):
        if not isinstance(num_workers, (int, np.integer)) or isinstance(num_workers, bool) or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers must be a whole number >= 0, got {num_workers!r}")
        for name, flag in (("pin_memory", pin_memory), ("persistent_workers", persistent_workers)):
            if not isinstance(flag, (bool, np.bool_, int, np.integer)):
                raise TypeError(f"DataLoader: {name} must be True or False, got {flag!r}")
        if worker_init_fn is not None and not callable(worker_init_fn):
            raise TypeError(f"DataLoader: worker_init_fn must be a function of the worker id, got {worker_init_fn!r}")
        if persistent_workers and num_workers == 0:
            raise ValueError("DataLoader: persistent_workers=True needs num_workers > 0 (as in PyTorch)")
        if prefetch_factor is not None and (
            num_workers == 0 or not isinstance(prefetch_factor, int) or prefetch_factor < 1
        ):
            raise ValueError(
                f"DataLoader: prefetch_factor={prefetch_factor!r} needs num_workers > 0 and a whole number >= 1 "
                "(as in PyTorch)"
            )
        if not isinstance(timeout, (int, float)) or timeout < 0:
            raise ValueError(f"DataLoader: timeout must be a number >= 0, got {timeout!r}")
        self.num_workers, self.pin_memory = int(num_workers), bool(pin_memory)
        if isinstance(dataset, tuple):
            dataset = TensorDataset(*dataset)
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(f"DataLoader: dataset must define __len__ and __getitem__, got {type(dataset).__name__}")
        if batch_size is not None and (not isinstance(batch_size, (int, np.integer)) or batch_size <= 0):
            raise ValueError(f"DataLoader: batch_size must be a positive integer or None, got {batch_size!r}")
        self.dataset = dataset
        self.batch_size = None if batch_size is None else int(batch_size)
        if not isinstance(as_numpy, (bool, np.bool_)):
            raise TypeError(f"DataLoader: as_numpy must be True or False, got {as_numpy!r}")
        if sampler is not None:
            if shuffle:
                raise ValueError(
                    "DataLoader: sampler and shuffle=True cannot go together (the sampler sets the order); "
                    "shuffle in the sampler (DistributedSampler(..., shuffle=True))"
                )
            if not hasattr(sampler, "__iter__") or not hasattr(sampler, "__len__"):
                raise TypeError(f"DataLoader: sampler must be an iterable of indices with a length, got {sampler!r}")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: collate_fn must be a function of a list of samples, got {collate_fn!r}")
        self.shuffle, self.drop_last, self.as_numpy = shuffle, drop_last, bool(as_numpy)
        self.sampler, self.collate_fn = sampler, collate_fn
        self._generator = None if seed is None else resolve_generator(seed)

    def _count(self) -> int:
        return len(self.dataset) if self.sampler is None else len(self.sampler)

    def _size(self) -> int:
        return self.batch_size or max(self._count(), 1)

    def __len__(self) -> int:
        n, size = self._count(), self._size()
        return n // size if self.drop_last else -(-n // size)

    def __iter__(self) -> Iterator[Any]:
        if self.collate_fn is not None:  # the user's batches, as the function makes them
            return (self.collate_fn([self.dataset[i] for i in rows]) for rows in self._rows())
        if not self.as_numpy and not isinstance(self.dataset, TensorDataset):  # samples as PyTorch collates them
            return (default_collate([self.dataset[i] for i in rows]) for rows in self._rows())
        batches = self._numpy_batches()
        return batches if self.as_numpy else map(_tensors, batches)

    def _numpy_batches(self) -> Iterator[tuple[np.ndarray, ...]]:
        """The batches as NumPy arrays (what ``__iter__`` yields with ``as_numpy=True``; with a
        ``collate_fn``, its batches with every Tensor in them replaced by its array)."""
        if self.collate_fn is not None:
            for rows in self._rows():
                yield _arrays(self.collate_fn([self.dataset[i] for i in rows]))
            return
        arrays = self.dataset.arrays if isinstance(self.dataset, TensorDataset) else None
        for index in self._rows(as_slices=arrays is not None):
            if arrays is not None:
                yield tuple(a[index] for a in arrays)
            else:
                yield _collate([self.dataset[i] for i in index])

    def _rows(self, as_slices: bool = False) -> Iterator[Any]:
        """Each batch's sample indices, in this epoch's order: a list of ints (a slice or an
        index array with ``as_slices``, for cutting arrays whole)."""
        order = None
        if self.sampler is not None:
            order = np.fromiter(iter(self.sampler), dtype=np.intp)
        elif self.shuffle:
            order = (self._generator or resolve_generator(None)).permutation(len(self.dataset))
        n = len(self.dataset) if order is None else len(order)
        size = self.batch_size or max(n, 1)
        stop = n - n % size if self.drop_last else n
        for start in range(0, stop, size):
            end = min(start + size, n)
            if as_slices:
                yield slice(start, end) if order is None else order[start:end]
            else:
                yield list(range(start, end)) if order is None else [int(i) for i in order[start:end]]


def _tensors(batch: tuple[np.ndarray, ...]) -> tuple[Tensor | np.ndarray, ...]:
    """A batch of arrays as Tensors that share their arrays (no copy); text and objects stay arrays.

    A batch cut as a slice shares the dataset's memory: it is made read-only, so that an in-place
    change of the batch (``xb -= mean``) is an error naming ``clone()`` instead of a silent change
    of the dataset (PyTorch's batches are copies)."""
    out = []
    for a in batch:
        if a.dtype.kind in _NUMERIC:
            if a.base is not None and a.flags.writeable:
                a.flags.writeable = False  # this view only; the dataset's array stays writable
            out.append(Tensor._make(a))
        else:
            out.append(a)
    return tuple(out)


def _array_batches(loader: DataLoader) -> Iterator[tuple[Any, ...]]:
    """The batches of ``loader`` as NumPy arrays, whatever its ``as_numpy`` says: how chainrule's
    own loops (``fit``, ``evaluate``, ``predict``) read a loader, without wrapping and unwrapping
    Tensors each batch. A DataLoader's own batches come as they are made; a subclass that yields
    batches its own way is taken at its word when it says ``as_numpy=True``, and otherwise has
    each Tensor in them replaced by its array."""
    if type(loader).__iter__ is DataLoader.__iter__:
        return loader._numpy_batches()
    if getattr(loader, "as_numpy", False):
        return iter(loader)
    return (_arrays(batch) for batch in loader)


def _arrays(batch: Any) -> Any:
    """A batch (a tuple or list of Tensors and arrays) with every Tensor replaced by its array."""
    if not isinstance(batch, (tuple, list)):
        return batch
    return tuple(a._data if isinstance(a, Tensor) else a for a in batch)


def default_collate(batch: Sequence[Any]) -> Any:
    """A batch made from a list of samples as PyTorch's ``default_collate`` makes it (what a
    DataLoader yields for a dataset of one's own): tensors, arrays and numbers stacked into one
    Tensor (floats as float64, ints as int64, as PyTorch), dicts collated key by key, tuples and
    lists position by position (a list of the parts; a namedtuple stays one), strings kept as a
    list; text arrays stay NumPy arrays.

    Example:
        >>> import numpy as np
        >>> from chainrule.data import default_collate
        >>> batch = default_collate([{"x": np.ones(3), "label": 1}, {"x": np.zeros(3), "label": 0}])
        >>> batch["x"].shape, batch["label"]
        ((2, 3), tensor([1, 0]))
        >>> default_collate([(np.float32(1.0), ("a", 2)), (np.float32(2.0), ("b", 3))])
        [tensor([1., 2.]), [('a', 'b'), tensor([2, 3])]]
    """
    if not batch:
        raise ValueError("default_collate: the batch is empty")
    first = batch[0]
    if isinstance(first, (Tensor, np.ndarray, np.number, np.bool_)):
        arrays = [s._data if isinstance(s, Tensor) else np.asarray(s) for s in batch]
        shapes = {a.shape for a in arrays}
        if len(shapes) > 1:
            raise RuntimeError(
                f"default_collate: the samples' arrays have different shapes {sorted(shapes)}, so they cannot be "
                "stacked into one batch; pad them to one shape, or pass collate_fn= to make the batch yourself"
            )
        stacked = np.stack(arrays)
        return Tensor._make(stacked) if stacked.dtype.kind in _NUMERIC else stacked
    if isinstance(first, (str, bytes)):
        return batch  # (as given: a list at the top, a tuple inside a sample, as PyTorch's)
    if isinstance(first, float):  # (PyTorch: a float first makes a float64 batch)
        return Tensor._make(np.array(batch, dtype=np.float64))
    if isinstance(first, int):  # (an int or a bool first: the kind of every value decides, as torch.tensor)
        if any(isinstance(v, float) for v in batch):
            return Tensor._make(np.array(batch, dtype=DEFAULT_DTYPE))
        if all(isinstance(v, bool) for v in batch):
            return Tensor._make(np.array(batch, dtype=np.bool_))
        if not all(isinstance(v, int) for v in batch):
            raise TypeError(f"default_collate: a batch mixes ints with {sorted({type(v).__name__ for v in batch})}")
        return Tensor._make(np.array(batch, dtype=np.int64))
    if isinstance(first, Mapping):
        collated = {key: default_collate([sample[key] for sample in batch]) for key in first}
        try:
            return type(first)(collated)
        except TypeError:  # a mapping that is not made from a dict (a defaultdict): a copy, updated
            clone = copy.copy(first)
            clone.update(collated)
            return clone
    if isinstance(first, tuple) and hasattr(first, "_fields"):  # a namedtuple
        return type(first)(*(default_collate(part) for part in zip(*batch)))
    if isinstance(first, Sequence):
        if any(len(sample) != len(first) for sample in batch):
            raise RuntimeError("default_collate: each sample in the batch must have the same number of parts")
        return [default_collate(part) for part in zip(*batch)]
    raise TypeError(
        f"default_collate: a batch holds tensors, NumPy arrays, numbers, strings, dicts or sequences; a sample "
        f"holds a {type(first).__name__}. Pass collate_fn= to make batches of it"
    )


def _collate(samples: list[Any]) -> tuple[np.ndarray, ...]:
    """Stack a list of samples (tuples of arrays, or single arrays) into batch arrays."""
    first = samples[0]
    if isinstance(first, (tuple, list)):  # (a list [x, y] as a tuple (x, y): what fit reads)
        return tuple(np.stack([np.asarray(s[k]) for s in samples]) for k in range(len(first)))
    return (np.stack([np.asarray(s) for s in samples]),)
