"""Dataset, TensorDataset and DataLoader: mini-batches of NumPy arrays.

Full-batch gradient descent, stochastic gradient descent and mini-batch gradient descent are the
same loop over a DataLoader; only ``batch_size`` differs (the whole set, 1, or something between).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from chainrule.random import resolve_generator


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

    def __getitem__(self, index: Any) -> tuple[np.ndarray, ...]:
        return tuple(a[index] for a in self.arrays)


class DataLoader:
    """Iterate over a dataset in mini-batches, optionally shuffled each epoch.

    Args:
        dataset: a Dataset, or a tuple of arrays (made into a TensorDataset).
        batch_size: samples per batch; ``None`` means the whole dataset (full-batch GD).
        shuffle: draw a new order every epoch.
        drop_last: drop the last batch when it is smaller than ``batch_size``.
        seed: an int or ``np.random.Generator`` for the shuffling; by default chainrule's
            random source, which ``cr.manual_seed`` makes reproducible.

    Batches are tuples of arrays. For a TensorDataset they are taken with one slice (a view, when
    not shuffled) or one fancy index per array, never sample by sample.

    Example:
        >>> import numpy as np
        >>> from chainrule.data import DataLoader
        >>> loader = DataLoader((np.arange(10), np.arange(10) * 2), batch_size=4)
        >>> [len(xb) for xb, yb in loader]
        [4, 4, 2]
    """

    def __init__(
        self,
        dataset: Dataset | Sequence[Any],
        batch_size: int | None = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int | np.random.Generator | None = None,
    ):
        if isinstance(dataset, tuple):
            dataset = TensorDataset(*dataset)
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(f"DataLoader: dataset must define __len__ and __getitem__, got {type(dataset).__name__}")
        if batch_size is not None and (not isinstance(batch_size, (int, np.integer)) or batch_size <= 0):
            raise ValueError(f"DataLoader: batch_size must be a positive integer or None, got {batch_size!r}")
        self.dataset = dataset
        self.batch_size = None if batch_size is None else int(batch_size)
        self.shuffle, self.drop_last = shuffle, drop_last
        self._generator = None if seed is None else resolve_generator(seed)

    def _size(self) -> int:
        return self.batch_size or max(len(self.dataset), 1)

    def __len__(self) -> int:
        n, size = len(self.dataset), self._size()
        return n // size if self.drop_last else -(-n // size)

    def __iter__(self) -> Iterator[tuple[np.ndarray, ...]]:
        n, size = len(self.dataset), self._size()
        order = None
        if self.shuffle:
            order = (self._generator or resolve_generator(None)).permutation(n)
        stop = n - n % size if self.drop_last else n
        arrays = self.dataset.arrays if isinstance(self.dataset, TensorDataset) else None
        for start in range(0, stop, size):
            end = min(start + size, n)
            index = slice(start, end) if order is None else order[start:end]
            if arrays is not None:
                yield tuple(a[index] for a in arrays)
            else:
                rows = range(start, end) if order is None else order[start:end]
                yield _collate([self.dataset[int(i)] for i in rows])


def _collate(samples: list[Any]) -> tuple[np.ndarray, ...]:
    """Stack a list of samples (tuples of arrays, or single arrays) into batch arrays."""
    first = samples[0]
    if isinstance(first, tuple):
        return tuple(np.stack([np.asarray(s[k]) for s in samples]) for k in range(len(first)))
    return (np.stack([np.asarray(s) for s in samples]),)
