"""Split arrays into random train and test subsets, in NumPy.

:func:`train_test_split` follows scikit-learn's function of the same name for
the arguments it takes (``test_size``, ``random_state``, ``shuffle``,
``stratify``): the same set sizes, the same return order, and for an integer
``random_state`` without ``stratify`` the very same split.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

__all__ = ["train_test_split"]

RandomState = int | np.integer | np.random.RandomState | np.random.Generator | None


def train_test_split(
    *arrays: Any,
    test_size: float | int | None = None,
    train_size: float | int | None = None,
    random_state: RandomState = None,
    shuffle: bool = True,
    stratify: Any = None,
) -> list[Any]:
    """Split arrays (or lists) into random train and test subsets.

    All arrays are split along their first axis with the same indices.

    Args:
        *arrays: one or more arrays, lists or other sequences with the same
            number of samples (first-axis length).
        test_size: a float in (0, 1), the fraction of samples in the test set
            (rounded up), or an int in [1, n_samples - 1], their number.
            Default None: the complement of ``train_size``, or 0.25 when that
            is None too (scikit-learn's rule).
        train_size: the same for the train set (a fraction rounded down, or
            a number). Default None: the complement of the test set. When both
            are given they may leave samples out of both sets (not with
            ``stratify``).
        random_state: None (default) uses NumPy's global random state; an int
            seeds a fresh ``np.random.RandomState``, so the same int gives the
            same split; a ``RandomState`` or ``Generator`` is used as given.
        shuffle: if False, the test set is the last ``n_test`` samples, in
            order. Default True.
        stratify: class labels, one per sample (or one row per sample for
            multi-label targets), whose proportions both sets keep as closely
            as whole numbers allow. Needs ``shuffle=True``. Default None.

    Returns:
        A list ``[a_train, a_test, b_train, b_test, ...]``, two entries per input
        array, each of the input's kind (an ndarray for an ndarray, a list for a
        list).

    Raises:
        ValueError: for no arrays, arrays of different lengths, a test_size that
            leaves a set empty, ``stratify`` of the wrong length or with a class
            of one member, or ``stratify`` together with ``shuffle=False``.
        TypeError: for a test_size, shuffle or random_state of the wrong type.

    Example:
        >>> import numpy as np
        >>> from chainrule.data import train_test_split
        >>> X = np.arange(20).reshape(10, 2)
        >>> y = np.array([0, 1] * 5)
        >>> X_train, X_test, y_train, y_test = train_test_split(
        ...     X, y, test_size=0.4, random_state=0, stratify=y)
        >>> X_train.shape, X_test.shape, np.bincount(y_test).tolist()
        ((6, 2), (4, 2), [2, 2])
        >>> train_test_split([1, 2, 3, 4, 5], test_size=2, shuffle=False)
        [[1, 2, 3], [4, 5]]
    """
    if not arrays:
        raise ValueError("train_test_split: at least one array is required")
    lengths = [_num_samples(array, position) for position, array in enumerate(arrays)]
    if len(set(lengths)) > 1:
        raise ValueError(f"train_test_split: the arrays have inconsistent numbers of samples: {lengths}")
    n_samples = lengths[0]
    n_train, n_test = _split_sizes(n_samples, test_size, train_size)
    if stratify is not None and n_train + n_test < n_samples:
        raise ValueError(
            f"train_test_split: train_size={train_size} and test_size={test_size} leave samples out; with "
            "stratify give one of them (the other set is the rest)"
        )

    if not isinstance(shuffle, (bool, np.bool_)):
        raise TypeError(f"train_test_split: shuffle must be True or False, got {shuffle!r}")
    if not shuffle:
        if stratify is not None:
            raise ValueError(
                "train_test_split: stratify needs shuffle=True "
                "(a split without shuffling cannot keep class proportions)"
            )
        train = np.arange(n_train)
        test = np.arange(n_samples - n_test, n_samples)
    else:
        rng = _as_rng(random_state)
        if stratify is None:
            permutation = rng.permutation(n_samples)
            test, train = permutation[:n_test], permutation[n_test : n_test + n_train]
        else:
            train, test = _stratified_indices(stratify, n_samples, n_train, n_test, rng)

    result: list[Any] = []
    for array in arrays:
        result.append(_take(array, train))
        result.append(_take(array, test))
    return result


def _num_samples(array: Any, position: int) -> int:
    """Length of ``array`` along its first axis; ``position`` names it in errors."""
    shape = getattr(array, "shape", None)
    if isinstance(shape, tuple):
        if len(shape) == 0:
            raise TypeError(f"train_test_split: array {position} is 0-dimensional; expected one entry per sample")
        return int(shape[0])
    if isinstance(array, (str, bytes)) or not hasattr(array, "__len__"):
        raise TypeError(
            f"train_test_split: array {position} of type {type(array).__name__} is not a sequence of samples"
        )
    return len(array)


def _split_sizes(n_samples: int, test_size: Any, train_size: Any) -> tuple[int, int]:
    """Return ``(n_train, n_test)`` for ``n_samples`` and a validated ``test_size`` and ``train_size``
    (scikit-learn's rules: a test fraction rounds up, a train fraction down; a missing one is the
    complement of the other; neither given: test_size 0.25)."""
    if n_samples == 0:
        raise ValueError("train_test_split: the arrays have no samples to split")
    if test_size is None and train_size is None:
        test_size = 0.25
    n_test = None if test_size is None else _size("test_size", test_size, n_samples, math.ceil)
    n_train = None if train_size is None else _size("train_size", train_size, n_samples, math.floor)
    if n_test is None:
        n_test = n_samples - n_train
    if n_train is None:
        n_train = n_samples - n_test
    if n_train + n_test > n_samples:
        raise ValueError(
            f"train_test_split: train_size={train_size} and test_size={test_size} ask for {n_train} + {n_test} "
            f"samples, more than the {n_samples} there are"
        )
    for name, n, other in (("train", n_train, "test_size"), ("test", n_test, "train_size")):
        if n == 0:
            raise ValueError(
                f"train_test_split: with n_samples={n_samples}, test_size={test_size} and train_size={train_size} "
                f"the {name} set would be empty; use a smaller {other}"
            )
    return n_train, n_test


def _size(name: str, size: Any, n_samples: int, rounding: Any) -> int:
    """The number of samples ``size`` asks for (a fraction in (0, 1) rounded by ``rounding``, or a
    number in [1, n_samples - 1])."""
    if isinstance(size, (bool, np.bool_)):
        raise TypeError(f"train_test_split: {name} must be a float or an int, got {size!r}")
    if isinstance(size, numbers.Integral):
        if not 1 <= size <= n_samples - 1:
            raise ValueError(
                f"train_test_split: {name}={size} as an int must be in [1, n_samples - 1] = [1, {n_samples - 1}]"
            )
        return int(size)
    if isinstance(size, numbers.Real):
        if not 0.0 < size < 1.0:
            raise ValueError(f"train_test_split: {name}={size} as a float must be in the open interval (0, 1)")
        return int(rounding(size * n_samples))
    raise TypeError(
        f"train_test_split: {name} must be a float in (0, 1) or an int, got {size!r} of type {type(size).__name__}"
    )


def _as_rng(random_state: RandomState) -> Any:
    """Turn ``random_state`` into an object with a ``permutation`` method."""
    if random_state is None:
        # The module-level functions draw from NumPy's global RandomState, so
        # np.random.seed() controls the split, as in scikit-learn.
        return np.random
    if isinstance(random_state, (np.random.RandomState, np.random.Generator)):
        return random_state
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return np.random.RandomState(int(random_state))
    raise TypeError(
        "train_test_split: random_state must be None, an int, a np.random.RandomState "
        f"or a np.random.Generator, got {random_state!r} of type {type(random_state).__name__}"
    )


def _stratified_indices(
    stratify: Any, n_samples: int, n_train: int, n_test: int, rng: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Train and test indices that keep each class's share in both sets."""
    labels = np.asarray(stratify)
    if labels.ndim not in (1, 2) or labels.shape[0] != n_samples:
        raise ValueError(
            f"train_test_split: stratify must have shape ({n_samples},) or "
            f"({n_samples}, n_labels), one label (row) per sample, got shape {labels.shape}"
        )
    # A row of a 2-D label array is one class (its combination of labels).
    axis = 0 if labels.ndim == 2 else None
    classes, class_of = np.unique(labels, axis=axis, return_inverse=True)
    class_of = class_of.reshape(-1)
    counts = np.bincount(class_of)
    n_classes = len(counts)

    rarest = int(np.argmin(counts))
    if counts[rarest] < 2:
        raise ValueError(
            f"train_test_split: class {classes[rarest].tolist()!r} of stratify has only "
            f"{counts[rarest]} member; every class needs at least 2"
        )
    for set_name, size in (("train", n_train), ("test", n_test)):
        if size < n_classes:
            raise ValueError(
                f"train_test_split: the {set_name} set would have {size} samples, "
                f"fewer than the {n_classes} classes in stratify; change test_size"
            )

    test_counts = _apportion(counts, n_test, rng)

    # Visit the samples class by class, in random order within each class; the
    # first test_counts[c] samples of class c go to the test set.
    order = rng.permutation(n_samples)
    order = order[np.argsort(class_of[order], kind="stable")]
    class_start = np.cumsum(counts) - counts
    rank_in_class = np.arange(n_samples) - class_start[class_of[order]]
    in_test = rank_in_class < test_counts[class_of[order]]
    # Shuffle again so that neither set comes out grouped by class.
    return rng.permutation(order[~in_test]), rng.permutation(order[in_test])


def _apportion(counts: np.ndarray, n_draws: int, rng: Any) -> np.ndarray:
    """Split ``n_draws`` among classes in proportion to ``counts``, in whole numbers.

    Largest-remainder rounding: each class gets the floor of its exact share,
    and the draws left over go to the classes with the largest fractional parts
    (ties broken at random). Integer arithmetic keeps ties exact.
    """
    counts = counts.astype(np.int64)
    total = int(counts.sum())
    share, remainder = np.divmod(counts * n_draws, total)
    left_over = n_draws - int(share.sum())
    if left_over:
        tie_break = rng.permutation(len(counts))
        largest_first = np.lexsort((tie_break, -remainder))
        share[largest_first[:left_over]] += 1
    return share


def _take(array: Any, indices: np.ndarray) -> Any:
    """Rows ``indices`` of ``array``, keeping its kind."""
    if isinstance(array, np.ndarray):
        return array[indices]
    if hasattr(array, "iloc"):  # pandas DataFrame or Series: select rows by position
        return array.iloc[indices]
    if isinstance(array, list):
        return [array[i] for i in indices.tolist()]
    if isinstance(array, tuple):
        return tuple(array[i] for i in indices.tolist())
    if hasattr(array, "shape") and hasattr(array, "__getitem__"):
        return array[indices]
    return np.asarray(array)[indices]
