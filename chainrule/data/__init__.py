"""Data: embedded datasets and train/test splitting.

Everything in this package uses NumPy and the standard library only; it yields
NumPy arrays and never imports the rest of chainrule.

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
from .split import train_test_split

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
    # split.py
    "train_test_split",
]
