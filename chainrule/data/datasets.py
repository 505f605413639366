"""Small classic datasets shipped inside the package, loaded offline with NumPy only.

The five embedded datasets are scikit-learn's bundled ones (iris, digits, wine,
breast cancer, diabetes), stored as compressed ``.npz`` files in ``_embedded/``
and read with ``np.load(..., allow_pickle=False)``.
``scripts/make_embedded_datasets.py`` regenerates them. Every loader returns a
fresh copy, so changing the arrays of one bundle never changes what the next
call returns.

The registry (:func:`load_dataset`, :func:`list_datasets`) also knows MNIST-1D,
which is generated on first use by the optional ``mnist1d`` package and cached
(see :mod:`chainrule.data.mnist1d`).

Example:
    >>> from chainrule.data import load_dataset, list_datasets
    >>> sorted(list_datasets())
    ['breast_cancer', 'diabetes', 'digits', 'iris', 'mnist1d', 'wine']
    >>> load_dataset("wine").X.shape
    (178, 13)
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable
from importlib import resources
from typing import Any, Literal, NamedTuple

import numpy as np

from . import mnist1d

__all__ = [
    "DatasetBundle",
    "DatasetInfo",
    "load_iris",
    "load_digits",
    "load_wine",
    "load_breast_cancer",
    "load_diabetes",
    "load_dataset",
    "list_datasets",
]

Task = Literal["classification", "regression"]

_EMBEDDED_DIR = "_embedded"
_REQUIRED_KEYS = ("X", "y", "feature_names", "task", "description")
_TASKS = ("classification", "regression")


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class DatasetBundle:
    """A loaded dataset: features, targets and what they mean.

    The bundle is frozen (its fields cannot be reassigned), but its arrays are
    ordinary writable NumPy arrays owned by the caller.

    Attributes:
        X: features, ``float32``, shape ``(n_samples, n_features)``; for
            ``load_digits(as_images=True)`` shape ``(n_samples, 1, 8, 8)``.
        y: targets, shape ``(n_samples,)``: ``int64`` class indices for
            classification, ``float32`` values for regression.
        feature_names: string array with one name per feature.
        target_names: string array with one name per class, indexed by ``y``;
            ``None`` for regression.
        task: ``"classification"`` or ``"regression"``.
        name: the dataset's name, as accepted by :func:`load_dataset`.
        description: what the data is, its original source and licence.

    Example:
        >>> from chainrule.data import load_iris
        >>> iris = load_iris()
        >>> iris  # doctest: +NORMALIZE_WHITESPACE
        DatasetBundle(name='iris', task='classification', X.shape=(150, 4), y.shape=(150,),
                      n_classes=3)
        >>> iris.target_names[iris.y[:2]].tolist()
        ['setosa', 'setosa']
    """

    X: np.ndarray
    y: np.ndarray
    feature_names: np.ndarray
    target_names: np.ndarray | None
    task: Task
    name: str
    description: str

    @property
    def n_samples(self) -> int:
        """Number of samples (rows of ``X``)."""
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        """Number of features per sample (64 for digits, as vectors or images)."""
        return int(np.prod(self.X.shape[1:], dtype=np.int64))

    @property
    def n_classes(self) -> int | None:
        """Number of classes, or ``None`` for a regression dataset."""
        return None if self.target_names is None else len(self.target_names)

    def __repr__(self) -> str:
        parts = [
            f"name={self.name!r}",
            f"task={self.task!r}",
            f"X.shape={self.X.shape}",
            f"y.shape={self.y.shape}",
        ]
        if self.n_classes is not None:
            parts.append(f"n_classes={self.n_classes}")
        return f"DatasetBundle({', '.join(parts)})"


# What every loader returns: a bundle, or (X, y) when called with return_X_y=True.
LoadResult = DatasetBundle | tuple[np.ndarray, np.ndarray]


class DatasetInfo(NamedTuple):
    """Size and kind of an embedded dataset, as listed by :func:`list_datasets`.

    Example:
        >>> from chainrule.data import list_datasets
        >>> info = list_datasets()['iris']
        >>> info.n_samples, info.n_features, info.task, info.n_classes
        (150, 4, 'classification', 3)
    """

    n_samples: int
    n_features: int
    task: Task
    n_classes: int | None


def _check_bool(value: Any, argument: str, function: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{function}: {argument} must be True or False, got {value!r} of type {type(value).__name__}")
    return bool(value)


def _read(name: str) -> DatasetBundle:
    """Read ``_embedded/<name>.npz`` into a bundle with ``float32`` features."""
    resource = resources.files(__package__) / _EMBEDDED_DIR / f"{name}.npz"
    try:
        handle = resource.open("rb")
    except FileNotFoundError:
        raise FileNotFoundError(
            f"embedded dataset {name!r} is missing: expected the file {resource}. "
            "Reinstall chainrule, or in a source checkout run "
            "`python scripts/make_embedded_datasets.py`."
        ) from None
    with handle, np.load(handle, allow_pickle=False) as npz:
        missing = [key for key in _REQUIRED_KEYS if key not in npz.files]
        if missing:
            raise ValueError(
                f"embedded dataset file {resource} lacks the arrays {missing}; "
                "regenerate it with `python scripts/make_embedded_datasets.py`"
            )
        task = str(npz["task"])
        if task not in _TASKS:
            raise ValueError(f"embedded dataset file {resource} has task {task!r}; expected one of {_TASKS}")
        target_names = npz["target_names"] if "target_names" in npz.files else None
        return DatasetBundle(
            X=npz["X"].astype(np.float32),
            y=npz["y"],
            feature_names=npz["feature_names"],
            target_names=target_names,
            task=task,  # type: ignore[arg-type]  # checked against _TASKS above
            name=name,
            description=str(npz["description"]),
        )


def _finish(bundle: DatasetBundle, return_X_y: bool, function: str) -> LoadResult:
    if _check_bool(return_X_y, "return_X_y", function):
        return bundle.X, bundle.y
    return bundle


def load_iris(*, return_X_y: bool = False) -> LoadResult:
    """Load the iris dataset: 150 flowers, 4 measurements (cm), 3 species.

    Args:
        return_X_y: if True, return ``(X, y)`` instead of a :class:`DatasetBundle`.
            Default False.

    Example:
        >>> from chainrule.data import load_iris
        >>> X, y = load_iris(return_X_y=True)
        >>> X.shape, X.dtype, y.shape, y.dtype
        ((150, 4), dtype('float32'), (150,), dtype('int64'))
    """
    return _finish(_read("iris"), return_X_y, "load_iris")


def load_digits(as_images: bool = False, *, return_X_y: bool = False) -> LoadResult:
    """Load the digits dataset: 1797 handwritten digits of 8x8 pixels, 10 classes.

    Pixel values are integers 0..16 (stored as ``uint8``, returned as ``float32``).

    Args:
        as_images: if True, ``X`` has shape ``(1797, 1, 8, 8)`` (one channel),
            ready for ``Conv2d``; if False (default), shape ``(1797, 64)`` with
            pixels in row-major order, named ``pixel_<row>_<col>``.
        return_X_y: if True, return ``(X, y)`` instead of a :class:`DatasetBundle`.
            Default False.

    Example:
        >>> from chainrule.data import load_digits
        >>> digits = load_digits(as_images=True)
        >>> digits.X.shape, float(digits.X.max()), digits.n_classes
        ((1797, 1, 8, 8), 16.0, 10)
    """
    bundle = _read("digits")
    if _check_bool(as_images, "as_images", "load_digits"):
        bundle = dataclasses.replace(bundle, X=bundle.X.reshape(-1, 1, 8, 8))
    return _finish(bundle, return_X_y, "load_digits")


def load_wine(*, return_X_y: bool = False) -> LoadResult:
    """Load the wine dataset: 178 wines, 13 chemical measurements, 3 cultivars.

    Args:
        return_X_y: if True, return ``(X, y)`` instead of a :class:`DatasetBundle`.
            Default False.

    Example:
        >>> from chainrule.data import load_wine
        >>> wine = load_wine()
        >>> wine.n_samples, wine.n_features, wine.target_names.tolist()
        (178, 13, ['class_0', 'class_1', 'class_2'])
    """
    return _finish(_read("wine"), return_X_y, "load_wine")


def load_breast_cancer(*, return_X_y: bool = False) -> LoadResult:
    """Load the breast cancer Wisconsin (diagnostic) dataset: 569 samples, 30 features.

    Classes: 0 = malignant, 1 = benign.

    Args:
        return_X_y: if True, return ``(X, y)`` instead of a :class:`DatasetBundle`.
            Default False.

    Example:
        >>> from chainrule.data import load_breast_cancer
        >>> cancer = load_breast_cancer()
        >>> cancer.X.shape, cancer.target_names.tolist()
        ((569, 30), ['malignant', 'benign'])
    """
    return _finish(_read("breast_cancer"), return_X_y, "load_breast_cancer")


def load_diabetes(*, return_X_y: bool = False) -> LoadResult:
    """Load the diabetes regression dataset: 442 patients, 10 standardised features.

    Each feature is mean-centred and scaled to unit sum of squares (scikit-learn's
    default, ``scaled=True``); the target is disease progression one year later.

    Args:
        return_X_y: if True, return ``(X, y)`` instead of a :class:`DatasetBundle`.
            Default False.

    Example:
        >>> from chainrule.data import load_diabetes
        >>> diabetes = load_diabetes()
        >>> diabetes.task, diabetes.y.dtype, diabetes.target_names is None
        ('regression', dtype('float32'), True)
    """
    return _finish(_read("diabetes"), return_X_y, "load_diabetes")


def _load_mnist1d_bundle(
    n_train: int = mnist1d.DEFAULT_N_TRAIN,
    n_test: int = mnist1d.DEFAULT_N_TEST,
    *,
    seed: int = mnist1d.DEFAULT_SEED,
    cache_dir: Any = None,
    return_X_y: bool = False,
) -> LoadResult:
    """MNIST-1D as one bundle: the training rows first, then the test rows.

    ``load_dataset("mnist1d")`` returns this, like every other dataset; for the standard split
    itself use :func:`chainrule.data.load_mnist1d`. The arguments are those of ``load_mnist1d``.
    """
    _check_bool(return_X_y, "return_X_y", "load_dataset('mnist1d')")
    split = mnist1d.load_mnist1d(n_train, n_test, seed=seed, cache_dir=cache_dir)
    n_train = len(split.y_train)
    bundle = DatasetBundle(
        X=np.concatenate([split.X_train, split.X_test]),
        y=np.concatenate([split.y_train, split.y_test]),
        feature_names=np.array([f"position_{i}" for i in range(mnist1d.SEQ_LEN)]),
        target_names=np.array([str(digit) for digit in range(mnist1d.N_CLASSES)]),
        task="classification",
        name="mnist1d",
        description=(
            "MNIST-1D (Greydanus, 'Scaling down deep learning', 2020): signals of length "
            f"{mnist1d.SEQ_LEN} made from ten 1-D digit templates by padding, scaling, "
            "translation, noise and shear. Generated offline by the mnist1d package's "
            f"make_dataset with the paper's settings and seed={seed}. Rows [:{n_train}] are "
            f"the standard training set, rows [{n_train}:] the test set "
            "(chainrule.data.load_mnist1d returns them apart). "
            "Source: https://github.com/greydanus/mnist1d. Licence: Apache-2.0."
        ),
    )
    return _finish(bundle, return_X_y, "load_dataset('mnist1d')")


_LOADERS: dict[str, Callable[..., LoadResult]] = {
    "breast_cancer": load_breast_cancer,
    "diabetes": load_diabetes,
    "digits": load_digits,
    "iris": load_iris,
    "mnist1d": _load_mnist1d_bundle,
    "wine": load_wine,
}

# Datasets made on first use rather than embedded: their sizes are known without making them.
_GENERATED_INFO: dict[str, DatasetInfo] = {
    "mnist1d": DatasetInfo(
        n_samples=mnist1d.DEFAULT_N_TRAIN + mnist1d.DEFAULT_N_TEST,
        n_features=mnist1d.SEQ_LEN,
        task="classification",
        n_classes=mnist1d.N_CLASSES,
    ),
}


def load_dataset(name: str, **kwargs: Any) -> LoadResult:
    """Load a dataset by name: an embedded one, or MNIST-1D (generated and cached).

    Names are matched case-insensitively, with ``-`` or a space read as ``_``
    (``"Breast-Cancer"`` finds ``breast_cancer``).

    Args:
        name: one of the names :func:`list_datasets` returns.
        **kwargs: passed to that dataset's loader, e.g. ``return_X_y=True`` or,
            for digits, ``as_images=True``; for mnist1d those of
            :func:`~chainrule.data.load_mnist1d` (``n_train``, ``n_test``, ``seed``,
            ``cache_dir``). ``load_dataset("mnist1d")`` returns all samples in one bundle,
            the training rows first; ``load_mnist1d`` returns the split itself.

    Raises:
        ValueError: for an unknown name; the message lists the available names
            and suggests the closest one.

    Example:
        >>> from chainrule.data import load_dataset
        >>> X, y = load_dataset("digits", as_images=True, return_X_y=True)
        >>> X.shape
        (1797, 1, 8, 8)
        >>> load_dataset("irsi")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
          ...
        ValueError: load_dataset: unknown dataset 'irsi'; did you mean 'iris'? Available: ...
    """
    if not isinstance(name, str):
        raise TypeError(f"load_dataset: name must be a string, got {name!r} of type {type(name).__name__}")
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    loader = _LOADERS.get(key)
    if loader is None:
        available = ", ".join(sorted(_LOADERS))
        close = difflib.get_close_matches(key, _LOADERS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else "."
        raise ValueError(f"load_dataset: unknown dataset {name!r}{hint} Available: {available}")
    return loader(**kwargs)


def list_datasets() -> dict[str, DatasetInfo]:
    """Describe every dataset: name -> (n_samples, n_features, task, n_classes).

    ``n_classes`` is ``None`` for regression datasets. Names are in alphabetical order.
    MNIST-1D is listed with its default size (4000 + 1000 samples) without being generated.

    Example:
        >>> from chainrule.data import list_datasets
        >>> list_datasets()["iris"]
        DatasetInfo(n_samples=150, n_features=4, task='classification', n_classes=3)
        >>> n_samples, n_features, task, n_classes = list_datasets()["diabetes"]
        >>> n_samples, n_features, task, n_classes
        (442, 10, 'regression', None)
    """
    infos = {}
    for name in sorted(_LOADERS):
        if name in _GENERATED_INFO:
            infos[name] = _GENERATED_INFO[name]
            continue
        bundle = _read(name)
        infos[name] = DatasetInfo(
            n_samples=bundle.n_samples,
            n_features=bundle.n_features,
            task=bundle.task,
            n_classes=bundle.n_classes,
        )
    return infos
