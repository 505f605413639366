"""Tests for chainrule.data.datasets: the embedded copies of scikit-learn's small datasets."""

from __future__ import annotations

import ast
import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest

from chainrule.data import (
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

DATA_DIR = Path(__file__).resolve().parents[2] / "chainrule" / "data"
EMBEDDED_DIR = DATA_DIR / "_embedded"

LOADERS = {
    "iris": load_iris,
    "digits": load_digits,
    "wine": load_wine,
    "breast_cancer": load_breast_cancer,
    "diabetes": load_diabetes,
}
CLASSIFICATION = ["iris", "digits", "wine", "breast_cancer"]


def sklearn_bunch(name: str):
    """scikit-learn's own copy of dataset ``name`` (scikit-learn is a test dependency)."""
    from sklearn import datasets

    return getattr(datasets, f"load_{name}")()


# --- values: the embedded copies equal scikit-learn's -------------------------------------------


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_matches_sklearn(name):
    bundle = LOADERS[name]()
    reference = sklearn_bunch(name)

    assert isinstance(bundle, DatasetBundle)
    assert bundle.name == name
    assert bundle.X.dtype == np.float32
    assert bundle.X.shape == reference.data.shape
    np.testing.assert_array_equal(bundle.X, reference.data.astype(np.float32))
    assert bundle.y.shape == reference.target.shape
    assert bundle.feature_names.tolist() == [str(f) for f in reference.feature_names]


@pytest.mark.parametrize("name", CLASSIFICATION)
def test_classification_targets_match_sklearn(name):
    bundle = LOADERS[name]()
    reference = sklearn_bunch(name)

    assert bundle.task == "classification"
    assert bundle.y.dtype == np.int64
    np.testing.assert_array_equal(bundle.y, reference.target)
    assert bundle.target_names.tolist() == [str(t) for t in reference.target_names]
    assert bundle.n_classes == len(reference.target_names)
    assert set(np.unique(bundle.y).tolist()) == set(range(bundle.n_classes))


def test_diabetes_is_regression_matching_sklearn():
    bundle = load_diabetes()
    reference = sklearn_bunch("diabetes")

    assert bundle.task == "regression"
    assert bundle.target_names is None
    assert bundle.n_classes is None
    assert bundle.y.dtype == np.float32
    np.testing.assert_array_equal(bundle.y, reference.target.astype(np.float32))
    # scikit-learn's scaling: each column centred with unit sum of squares.
    np.testing.assert_allclose((bundle.X.astype(np.float64) ** 2).sum(axis=0), 1.0, rtol=1e-5)


def test_digits_pixels_are_stored_as_uint8():
    with np.load(EMBEDDED_DIR / "digits.npz", allow_pickle=False) as npz:
        assert npz["X"].dtype == np.uint8
        assert int(npz["X"].max()) == 16


def test_digits_as_images():
    images = load_digits(as_images=True)
    reference = sklearn_bunch("digits")

    assert images.X.shape == (1797, 1, 8, 8)
    assert images.X.dtype == np.float32
    np.testing.assert_array_equal(images.X[:, 0], reference.images.astype(np.float32))
    np.testing.assert_array_equal(images.X.reshape(1797, 64), load_digits().X)
    assert images.n_features == 64


# --- return_X_y and the bundle --------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_return_X_y(name):
    X, y = LOADERS[name](return_X_y=True)
    bundle = LOADERS[name]()
    np.testing.assert_array_equal(X, bundle.X)
    np.testing.assert_array_equal(y, bundle.y)


def test_digits_as_images_with_return_X_y():
    X, y = load_digits(as_images=True, return_X_y=True)
    assert X.shape == (1797, 1, 8, 8)
    assert y.shape == (1797,)


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_description_names_source_and_licence(name):
    description = LOADERS[name]().description
    assert "Source" in description or "source" in description
    assert "Licence" in description or "BSD" in description


def test_bundle_is_frozen():
    bundle = load_iris()
    with pytest.raises(dataclasses.FrozenInstanceError):
        bundle.X = np.zeros((1, 4))


def test_each_call_returns_fresh_arrays():
    first = load_iris()
    first.X[:] = -1.0
    first.y[:] = -1
    second = load_iris()
    assert second.X.min() > 0
    assert second.y.min() == 0


def test_repr_is_short_and_informative():
    assert repr(load_iris()) == (
        "DatasetBundle(name='iris', task='classification', X.shape=(150, 4), y.shape=(150,), n_classes=3)"
    )
    assert repr(load_diabetes()) == (
        "DatasetBundle(name='diabetes', task='regression', X.shape=(442, 10), y.shape=(442,))"
    )


@pytest.mark.parametrize("loader", [load_iris, load_digits, load_diabetes])
@pytest.mark.parametrize("bad", [1, "yes", None])
def test_return_X_y_must_be_bool(loader, bad):
    with pytest.raises(TypeError, match="return_X_y must be True or False"):
        loader(return_X_y=bad)


def test_as_images_must_be_bool():
    with pytest.raises(TypeError, match="as_images must be True or False"):
        load_digits(as_images="yes")


# --- load_dataset and list_datasets -------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_load_dataset_dispatches_by_name(name):
    np.testing.assert_array_equal(load_dataset(name).X, LOADERS[name]().X)


@pytest.mark.parametrize("spelling", ["Breast-Cancer", " breast cancer ", "BREAST_CANCER"])
def test_load_dataset_normalises_the_name(spelling):
    assert load_dataset(spelling).name == "breast_cancer"


def test_load_dataset_passes_keyword_arguments():
    X, y = load_dataset("digits", as_images=True, return_X_y=True)
    assert X.shape == (1797, 1, 8, 8)
    assert y.shape == (1797,)


@pytest.mark.parametrize(
    "misspelled, suggestion",
    [
        ("irsi", "iris"),
        ("digts", "digits"),
        ("wines", "wine"),
        ("breast_cancr", "breast_cancer"),
        ("diabetis", "diabetes"),
    ],
)
def test_misspelled_name_suggests_the_closest(misspelled, suggestion):
    with pytest.raises(ValueError) as excinfo:
        load_dataset(misspelled)
    message = str(excinfo.value)
    assert f"did you mean {suggestion!r}?" in message
    assert f"unknown dataset {misspelled!r}" in message
    assert "breast_cancer, diabetes, digits, iris, mnist1d, wine" in message


def test_unknown_name_lists_available_names():
    with pytest.raises(ValueError, match="Available: breast_cancer, diabetes, digits, iris, mnist1d, wine"):
        load_dataset("imagenet")


def test_load_dataset_name_must_be_a_string():
    with pytest.raises(TypeError, match="name must be a string"):
        load_dataset(3)


def test_load_dataset_rejects_unknown_keyword():
    with pytest.raises(TypeError):
        load_dataset("iris", as_images=True)


def test_list_datasets_matches_sklearn():
    infos = list_datasets()
    # MNIST-1D is generated, not embedded: tests/data/test_mnist1d.py checks its entry.
    assert list(infos) == sorted([*LOADERS, "mnist1d"])
    for name, info in infos.items():
        if name == "mnist1d":
            continue
        reference = sklearn_bunch(name)
        assert isinstance(info, DatasetInfo)
        n_classes = len(reference.target_names) if name in CLASSIFICATION else None
        task = "classification" if name in CLASSIFICATION else "regression"
        assert info == (reference.data.shape[0], reference.data.shape[1], task, n_classes)


# --- the files themselves ----------------------------------------------------------------------


def test_embedded_files_are_exactly_the_datasets():
    assert sorted(path.stem for path in EMBEDDED_DIR.glob("*.npz")) == sorted(LOADERS)


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_embedded_file_needs_no_pickle(name):
    with np.load(EMBEDDED_DIR / f"{name}.npz", allow_pickle=False) as npz:
        assert set(npz.files) <= {"X", "y", "feature_names", "target_names", "task", "description"}
        for key in npz.files:
            assert npz[key].dtype != object, key


def test_embedded_files_are_small():
    total = sum(path.stat().st_size for path in EMBEDDED_DIR.glob("*.npz"))
    assert total < 256 * 1024


def _imports_inside_functions(tree: ast.AST) -> set[ast.AST]:
    return {
        node
        for function in ast.walk(tree)
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
        for node in ast.walk(function)
        if isinstance(node, (ast.Import, ast.ImportFrom))
    }


def test_data_package_imports_only_numpy_and_the_standard_library():
    """chainrule.data holds NumPy arrays and yields their batches as Tensors; of the rest of
    chainrule it uses only the Tensor and the shared random source (so that cr.manual_seed makes
    shuffling reproducible). An optional extra (mnist1d) may be imported only inside the function
    that needs it, so that importing chainrule.data never requires it."""
    allowed = set(sys.stdlib_module_names) | {"numpy", "__future__"}
    allowed_chainrule = {"chainrule.random", "chainrule.tensor"}
    optional_extras = {"mnist1d"}
    offenders = []
    for path in sorted(DATA_DIR.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        depth = len(path.relative_to(DATA_DIR).parts) - 1  # 0 for chainrule/data/x.py
        lazy = _imports_inside_functions(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                tops = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative: must stay inside chainrule/data
                    if node.level - 1 > depth:
                        offenders.append(f"{path.name}: from {'.' * node.level}{node.module or ''}")
                    continue
                if node.module in allowed_chainrule:
                    continue
                tops = [(node.module or "").split(".")[0]]
            else:
                continue
            permitted = allowed | optional_extras if node in lazy else allowed
            offenders += [f"{path.name}: import {top}" for top in tops if top not in permitted]
    assert offenders == []
