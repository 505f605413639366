"""Data: embedded and generated datasets, mini-batch loading and train/test splitting.

The datasets are NumPy arrays; the DataLoader yields their batches as chainrule Tensors, as
PyTorch's does (``DataLoader(..., as_numpy=True)`` yields the arrays). Of the rest of chainrule
it uses only the Tensor and the shared random source (``chainrule.random``), so that
``cr.manual_seed`` makes shuffling reproducible. MNIST-1D needs
the optional ``mnist1d`` package (``pip install "chainrule[mnist1d]"``), imported only when the
data is first generated.

Example:
    >>> from chainrule.data import load_iris, train_test_split
    >>> X, y = load_iris(return_X_y=True)
    >>> X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    >>> len(X_train), len(X_test)
    (112, 38)
"""

from .datasets import (
    DatasetBundle,
    DatasetInfo,
    list_datasets,
    load_breast_cancer,
    load_dataset,
    load_diabetes,
    load_digits,
    load_iris,
    load_wine,
)
from .loader import DataLoader, Dataset, TensorDataset, default_collate
from .mnist1d import MNIST1D, load_mnist1d
from .split import train_test_split
from .synthetic import make_adding_problem

__all__ = [
    # datasets.py
    "DatasetBundle",
    "DatasetInfo",
    "list_datasets",
    "load_breast_cancer",
    "load_dataset",
    "load_diabetes",
    "load_digits",
    "load_iris",
    "load_wine",
    # loader.py
    "DataLoader",
    "Dataset",
    "TensorDataset",
    "default_collate",
    # mnist1d.py
    "MNIST1D",
    "load_mnist1d",
    # split.py
    "train_test_split",
    # synthetic.py
    "make_adding_problem",
]
