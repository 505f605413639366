"""MNIST-1D: the small 1-D digits benchmark, generated offline and cached on disk.

MNIST-1D (Greydanus, "Scaling down deep learning", 2020) turns ten hand-drawn 1-D templates, one
per digit, into signals of 40 values by random padding, scaling, translation, correlated and
i.i.d. noise and shear. It separates logistic regression (~32%), an MLP (~68%), a CNN (~94%) and
a GRU (~91%) far better than MNIST does, yet trains in seconds on a CPU.

The samples are made by the ``mnist1d`` package's own generator (``mnist1d.data.make_dataset``,
with the paper's settings from ``mnist1d.data.get_dataset_args``), so nothing is downloaded. The
package is an optional extra: ``pip install "chainrule[mnist1d]"``. The first call for a given
``(n_train, n_test, seed)`` takes a few seconds and writes the arrays to a ``.npz`` file in the
cache folder; later calls read that file (``allow_pickle=False``) in milliseconds, and need not
have ``mnist1d`` installed.

The cache folder is ``cache_dir`` when given, else ``$CHAINRULE_CACHE``, else
``~/.cache/chainrule``.
"""

from __future__ import annotations

import os
import random
import tempfile
import warnings
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

__all__ = ["MNIST1D", "load_mnist1d", "default_cache_dir"]

N_CLASSES = 10
SEQ_LEN = 40  # final_seq_length in the paper's settings
DEFAULT_N_TRAIN = 4000
DEFAULT_N_TEST = 1000
DEFAULT_SEED = 42  # the seed of mnist1d's own get_dataset_args(), which made the paper's data

# Bump when the file layout or the generator settings change, so that old cache files are not read.
_CACHE_FORMAT = 1
_CACHE_ENV = "CHAINRULE_CACHE"
_INSTALL_HINT = 'MNIST-1D needs the optional mnist1d package: pip install "chainrule[mnist1d]"'


class MNIST1D(NamedTuple):
    """MNIST-1D with its standard split: ``X_train, y_train, X_test, y_test = load_mnist1d()``.

    Attributes:
        X_train: ``float32``, shape ``(n_train, 40)``; the signals, standardised over the whole
            dataset (mean 0, standard deviation 1), as the ``mnist1d`` generator returns them.
        y_train: ``int64`` digit labels 0..9, shape ``(n_train,)``.
        X_test: ``float32``, shape ``(n_test, 40)``.
        y_test: ``int64``, shape ``(n_test,)``.

    For a ``Conv1d`` add the channel axis: ``X_train[:, None, :]`` has shape ``(n_train, 1, 40)``.

    Example:
        >>> import numpy as np
        >>> from chainrule.data import MNIST1D
        >>> signals, labels = np.zeros((10, 40), np.float32), np.zeros(10, np.int64)
        >>> split = MNIST1D(signals[:8], labels[:8], signals[8:], labels[8:])
        >>> X_train, y_train, X_test, y_test = split
        >>> X_train.shape, split.X_test.shape
        ((8, 40), (2, 40))
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def default_cache_dir() -> Path:
    """The folder for generated datasets: ``$CHAINRULE_CACHE``, else ``~/.cache/chainrule``."""
    configured = os.environ.get(_CACHE_ENV)
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "chainrule"


def load_mnist1d(
    n_train: int = DEFAULT_N_TRAIN,
    n_test: int = DEFAULT_N_TEST,
    *,
    seed: int = DEFAULT_SEED,
    cache_dir: str | os.PathLike[str] | None = None,
) -> MNIST1D:
    """Load MNIST-1D: signals of length 40 in 10 classes, with a fixed train/test split.

    The defaults are the paper's dataset: 4000 training and 1000 test samples from seed 42.
    The ``mnist1d`` generator is run once per ``(n_train, n_test, seed)`` and its output cached.

    Args:
        n_train: number of training samples. Default 4000.
        n_test: number of test samples. Default 1000.
        seed: seed of the generator; the same seed gives the same data. Default 42.
        cache_dir: folder for the cached ``.npz`` file; by default ``$CHAINRULE_CACHE`` or
            ``~/.cache/chainrule``. Created if needed. When it cannot be written the data is
            returned all the same, with a warning.

    Returns:
        an :class:`MNIST1D` tuple ``(X_train, y_train, X_test, y_test)`` with ``float32``
        signals of shape ``(n, 40)`` and ``int64`` labels of shape ``(n,)``; the fields can also
        be read by name (``data.X_train``).

    Raises:
        ImportError: when the data is not cached yet and the ``mnist1d`` package is missing; the
            message says ``pip install "chainrule[mnist1d]"``.
        ValueError, TypeError: for a size or seed that is not a positive (for the seed:
            non-negative) integer.

    The generator reseeds NumPy's and Python's global random state; this function puts both
    back afterwards, so calling it does not change what ``np.random`` draws next.

    Example:
        ``X_train, y_train, X_test, y_test = load_mnist1d()`` gives the paper's 4000 + 1000
        samples. A smaller set, cached in a temporary folder:

        >>> import tempfile
        >>> from chainrule.data import load_mnist1d
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     data = load_mnist1d(n_train=200, n_test=50, cache_dir=folder)
        >>> data.X_train.shape, data.X_train.dtype, data.y_test.shape, data.y_test.dtype
        ((200, 40), dtype('float32'), (50,), dtype('int64'))
    """
    n_train = _check_int(n_train, "n_train", minimum=1)
    n_test = _check_int(n_test, "n_test", minimum=1)
    seed = _check_int(seed, "seed", minimum=0, maximum=2**32 - 1)  # np.random.seed's range
    folder = default_cache_dir() if cache_dir is None else Path(cache_dir).expanduser()
    path = folder / f"mnist1d-v{_CACHE_FORMAT}-train{n_train}-test{n_test}-seed{seed}.npz"

    cached = _read_cache(path, n_train, n_test)
    if cached is not None:
        return cached
    data, provenance = _generate(n_train, n_test, seed)
    _write_cache(path, data, provenance)
    return data


def _check_int(value: Any, name: str, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"load_mnist1d: {name} must be an integer, got {value!r} of type {type(value).__name__}")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"in [{minimum}, {maximum}]" if maximum is not None else f">= {minimum}"
        raise ValueError(f"load_mnist1d: {name} must be {bound}, got {value}")
    return int(value)


def _generate(n_train: int, n_test: int, seed: int) -> tuple[MNIST1D, str]:
    """Run mnist1d's generator; return the split and a line saying what made it."""
    try:
        # Only make_dataset: get_dataset would try to download the published pickle first.
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as err:
        raise ImportError(f"{_INSTALL_HINT} (importing it failed: {err})") from err

    args = get_dataset_args(as_dict=False)  # the paper's settings, final_seq_length=40
    n_samples = n_train + n_test
    # make_dataset makes num_samples // 10 samples of each class; round up, then keep n_samples.
    args.num_samples = -(-n_samples // N_CLASSES) * N_CLASSES
    args.seed = seed

    numpy_state, python_state = np.random.get_state(), random.getstate()
    try:
        generated = make_dataset(args)
    finally:  # make_dataset seeds the global generators: leave them as the caller had them
        np.random.set_state(numpy_state)
        random.setstate(python_state)

    X = np.concatenate([generated["x"], generated["x_test"]])[:n_samples].astype(np.float32)
    y = np.concatenate([generated["y"], generated["y_test"]])[:n_samples].astype(np.int64)
    if X.shape != (n_samples, SEQ_LEN):
        raise RuntimeError(
            f"load_mnist1d: the mnist1d generator returned signals of shape {X.shape}; "
            f"expected ({n_samples}, {SEQ_LEN})"
        )
    try:
        version = metadata.version("mnist1d")
    except metadata.PackageNotFoundError:
        version = "unknown"
    provenance = f"mnist1d {version}, make_dataset(seed={seed}, num_samples={args.num_samples})"
    return MNIST1D(X[:n_train], y[:n_train], X[n_train:], y[n_train:]), provenance


def _read_cache(path: Path, n_train: int, n_test: int) -> MNIST1D | None:
    """The cached split, or None when there is no usable file (a damaged one is warned about)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            data = MNIST1D(*(npz[field] for field in MNIST1D._fields))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        warnings.warn(
            f"load_mnist1d: ignoring the unreadable cache file {path} ({err}); regenerating",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    expected = {
        "X_train": ((n_train, SEQ_LEN), np.float32),
        "y_train": ((n_train,), np.int64),
        "X_test": ((n_test, SEQ_LEN), np.float32),
        "y_test": ((n_test,), np.int64),
    }
    for field, (shape, dtype) in expected.items():
        array = getattr(data, field)
        if array.shape != shape or array.dtype != dtype:
            warnings.warn(
                f"load_mnist1d: the cache file {path} holds {field} of shape {array.shape} and "
                f"dtype {array.dtype}, expected {shape} and {np.dtype(dtype)}; regenerating",
                RuntimeWarning,
                stacklevel=3,
            )
            return None
    return data


def _write_cache(path: Path, data: MNIST1D, provenance: str) -> None:
    """Write the arrays atomically (a temporary file, then a rename); warn if that fails."""
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            dir=path.parent, prefix=path.stem + ".", suffix=".tmp", delete=False
        ) as handle:
            temporary = handle.name
            np.savez_compressed(handle, generator=np.str_(provenance), **data._asdict())
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)  # NamedTemporaryFile makes it private (0o600)
        os.replace(temporary, path)
    except BaseException as err:
        if temporary is not None and os.path.exists(temporary):
            os.remove(temporary)
        if not isinstance(err, OSError):
            raise
        warnings.warn(
            f"load_mnist1d: could not cache MNIST-1D at {path} ({err}); it will be generated again next time",
            RuntimeWarning,
            stacklevel=3,
        )
