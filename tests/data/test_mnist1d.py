"""Tests for chainrule.data.mnist1d: MNIST-1D generated offline by the mnist1d package, cached."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
from pathlib import Path

import mnist1d.data  # the optional extra is a test dependency: these tests never skip
import numpy as np
import pytest

import chainrule.data.mnist1d as mnist1d_module
from chainrule.data import MNIST1D, DatasetBundle, list_datasets, load_dataset, load_mnist1d

SMALL = dict(n_train=200, n_test=50)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Point the default cache at a temporary folder: no test writes to the real home cache."""
    folder = tmp_path / "default-cache"
    monkeypatch.setenv("CHAINRULE_CACHE", str(folder))
    return folder


@pytest.fixture(scope="module")
def paper_split(tmp_path_factory):
    """The default dataset (the paper's 4000 + 1000 samples), generated once for the module."""
    return load_mnist1d(cache_dir=tmp_path_factory.mktemp("paper"))


def cache_files(folder):
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


# --- what comes back ----------------------------------------------------------------------------


def test_defaults_are_the_papers_sizes(paper_split):
    X_train, y_train, X_test, y_test = paper_split
    assert X_train.shape == (4000, 40) and X_test.shape == (1000, 40)
    assert y_train.shape == (4000,) and y_test.shape == (1000,)
    assert X_train.dtype == X_test.dtype == np.float32
    assert y_train.dtype == y_test.dtype == np.int64


def test_ten_balanced_classes(paper_split):
    for labels, n in ((paper_split.y_train, 4000), (paper_split.y_test, 1000)):
        counts = np.bincount(labels, minlength=10)
        assert len(counts) == 10
        # 500 samples per class in all, shuffled before the split: each class near n / 10
        assert counts.min() >= 0.8 * n / 10 and counts.max() <= 1.2 * n / 10, counts.tolist()


def test_signals_are_standardised_and_finite(paper_split):
    X = np.concatenate([paper_split.X_train, paper_split.X_test]).astype(np.float64)
    assert np.isfinite(X).all()
    assert abs(X.mean()) < 1e-3 and abs(X.std() - 1.0) < 1e-2


def test_named_fields_and_tuple_unpacking():
    data = load_mnist1d(**SMALL)
    assert isinstance(data, MNIST1D)
    assert data._fields == ("X_train", "y_train", "X_test", "y_test")
    X_train, y_train, X_test, y_test = data
    assert X_train is data.X_train and y_test is data.y_test


def test_matches_the_mnist1d_generator_itself():
    """The split is mnist1d's make_dataset output (train rows, then test rows), cast to float32."""
    args = mnist1d.data.get_dataset_args()
    args.num_samples, args.seed = 250, 7
    reference = mnist1d.data.make_dataset(args)
    X = np.concatenate([reference["x"], reference["x_test"]]).astype(np.float32)
    y = np.concatenate([reference["y"], reference["y_test"]])

    data = load_mnist1d(**SMALL, seed=7)
    np.testing.assert_array_equal(np.concatenate([data.X_train, data.X_test]), X)
    np.testing.assert_array_equal(np.concatenate([data.y_train, data.y_test]), y)


def test_sizes_that_are_not_a_multiple_of_ten():
    data = load_mnist1d(n_train=33, n_test=8)
    assert data.X_train.shape == (33, 40) and data.X_test.shape == (8, 40)
    assert len(np.unique(np.concatenate([data.y_train, data.y_test]))) == 10


def test_same_seed_same_data_other_seed_other_data(tmp_path):
    first = load_mnist1d(**SMALL, seed=3, cache_dir=tmp_path / "a")
    again = load_mnist1d(**SMALL, seed=3, cache_dir=tmp_path / "b")  # generated afresh
    other = load_mnist1d(**SMALL, seed=4, cache_dir=tmp_path / "a")
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first.X_train, other.X_train)


def test_leaves_the_global_random_state_alone():
    """mnist1d's generator reseeds np.random and random; load_mnist1d puts them back."""
    np.random.seed(123)
    random.seed(123)
    expected_numpy, expected_python = np.random.rand(3), random.random()
    np.random.seed(123)
    random.seed(123)
    load_mnist1d(**SMALL)
    np.testing.assert_array_equal(np.random.rand(3), expected_numpy)
    assert random.random() == expected_python


# --- the cache ----------------------------------------------------------------------------------


def test_second_call_reads_the_cache_without_generating(tmp_path, monkeypatch):
    first = load_mnist1d(**SMALL, cache_dir=tmp_path)
    assert cache_files(tmp_path) == ["mnist1d-v1-train200-test50-seed42.npz"]

    def must_not_run(*args, **kwargs):
        raise AssertionError("the generator ran although the data was cached")

    monkeypatch.setattr(mnist1d.data, "make_dataset", must_not_run)
    second = load_mnist1d(**SMALL, cache_dir=tmp_path)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
        assert a.dtype == b.dtype
    # the cache serves copies: changing one result does not change the next
    second.X_train[:] = 0
    assert load_mnist1d(**SMALL, cache_dir=tmp_path).X_train.any()


def test_cache_file_needs_no_pickle(tmp_path):
    load_mnist1d(**SMALL, cache_dir=tmp_path)
    (path,) = tmp_path.iterdir()
    with np.load(path, allow_pickle=False) as npz:
        assert set(npz.files) == {"X_train", "y_train", "X_test", "y_test", "generator"}
        assert str(npz["generator"]).startswith("mnist1d ")
        for key in npz.files:
            assert npz[key].dtype != object


def test_each_size_and_seed_has_its_own_file(tmp_path):
    load_mnist1d(**SMALL, cache_dir=tmp_path)
    load_mnist1d(**SMALL, seed=1, cache_dir=tmp_path)
    load_mnist1d(n_train=100, n_test=50, cache_dir=tmp_path)
    assert cache_files(tmp_path) == [
        "mnist1d-v1-train100-test50-seed42.npz",
        "mnist1d-v1-train200-test50-seed1.npz",
        "mnist1d-v1-train200-test50-seed42.npz",
    ]


def test_default_cache_folder_is_chainrule_cache_env(private_cache):
    load_mnist1d(**SMALL)
    assert cache_files(private_cache) == ["mnist1d-v1-train200-test50-seed42.npz"]


def test_default_cache_folder_without_the_env_is_under_home(tmp_path, monkeypatch):
    monkeypatch.delenv("CHAINRULE_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert mnist1d_module.default_cache_dir() == tmp_path / ".cache" / "chainrule"


def test_no_temporary_files_are_left_behind(tmp_path):
    load_mnist1d(**SMALL, cache_dir=tmp_path)
    assert [p.name for p in tmp_path.iterdir() if p.suffix != ".npz"] == []


def test_damaged_cache_file_is_regenerated(tmp_path):
    expected = load_mnist1d(**SMALL, cache_dir=tmp_path)
    (path,) = tmp_path.iterdir()
    path.write_bytes(b"not an npz file")
    with pytest.warns(RuntimeWarning, match="unreadable cache file"):
        data = load_mnist1d(**SMALL, cache_dir=tmp_path)
    np.testing.assert_array_equal(data.X_train, expected.X_train)
    with np.load(path, allow_pickle=False) as npz:  # and the file was rewritten
        np.testing.assert_array_equal(npz["X_train"], expected.X_train)


def test_cache_file_of_the_wrong_shape_is_regenerated(tmp_path):
    load_mnist1d(**SMALL, cache_dir=tmp_path)
    (path,) = tmp_path.iterdir()
    z = np.zeros(1, dtype=np.float32)
    np.savez(path, X_train=z, y_train=z, X_test=z, y_test=z)
    with pytest.warns(RuntimeWarning, match="expected"):
        data = load_mnist1d(**SMALL, cache_dir=tmp_path)
    assert data.X_train.shape == (200, 40)


def test_unwritable_cache_folder_still_returns_the_data(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("a file where the cache folder should be")
    with pytest.warns(RuntimeWarning, match="could not cache"):
        data = load_mnist1d(**SMALL, cache_dir=blocker / "cache")
    assert data.X_train.shape == (200, 40)


# --- offline, and the optional extra ------------------------------------------------------------


def test_generation_makes_no_network_access(tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("load_mnist1d tried to open a network connection")

    for name in ("connect", "connect_ex", "sendto"):
        monkeypatch.setattr(socket.socket, name, no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    data = load_mnist1d(**SMALL, cache_dir=tmp_path)
    assert data.X_train.shape == (200, 40)


NO_NETWORK_SCRIPT = """
import socket, sys

def no_network(*args, **kwargs):
    raise AssertionError("network access")

socket.socket.connect = socket.socket.connect_ex = socket.socket.sendto = no_network
socket.create_connection = socket.getaddrinfo = no_network
from chainrule.data import load_mnist1d  # imports mnist1d (and requests) only now, offline
data = load_mnist1d(n_train=200, n_test=50, cache_dir=sys.argv[1])
print(data.X_train.shape, "mnist1d" in sys.modules)
"""


def test_import_and_generation_offline_in_a_fresh_interpreter(tmp_path):
    """Even importing mnist1d (which imports requests) happens with the network cut off."""
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH")) if p)
    result = subprocess.run(
        [sys.executable, "-c", NO_NETWORK_SCRIPT, str(tmp_path)], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "(200, 40) True"


def test_missing_package_gives_an_install_hint(tmp_path, monkeypatch):
    for name in [m for m in sys.modules if m == "mnist1d" or m.startswith("mnist1d.")]:
        monkeypatch.setitem(sys.modules, name, None)  # None in sys.modules: import raises ImportError
    monkeypatch.setitem(sys.modules, "mnist1d", None)
    with pytest.raises(ImportError, match=r'pip install "chainrule\[mnist1d\]"'):
        load_mnist1d(**SMALL, cache_dir=tmp_path)
    assert cache_files(tmp_path) == []


def test_cached_data_loads_without_the_package(tmp_path, monkeypatch):
    expected = load_mnist1d(**SMALL, cache_dir=tmp_path)
    monkeypatch.setitem(sys.modules, "mnist1d", None)
    monkeypatch.setitem(sys.modules, "mnist1d.data", None)
    np.testing.assert_array_equal(load_mnist1d(**SMALL, cache_dir=tmp_path).X_test, expected.X_test)


# --- arguments ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(n_train=0), ValueError, "n_train must be >= 1, got 0"),
        (dict(n_test=-5), ValueError, "n_test must be >= 1, got -5"),
        (dict(n_train=10.0), TypeError, "n_train must be an integer, got 10.0 of type float"),
        (dict(n_test=True), TypeError, "n_test must be an integer"),
        (dict(seed=-1), ValueError, r"seed must be in \[0, 4294967295\], got -1"),
        (dict(seed="42"), TypeError, "seed must be an integer"),
    ],
)
def test_bad_arguments_are_named(kwargs, error, message, tmp_path):
    with pytest.raises(error, match=f"load_mnist1d: {message}"):
        load_mnist1d(**{**SMALL, **kwargs}, cache_dir=tmp_path)
    assert cache_files(tmp_path) == []


def test_numpy_integers_are_accepted(tmp_path):
    data = load_mnist1d(n_train=np.int64(200), n_test=np.int32(50), seed=np.uint32(42), cache_dir=tmp_path)
    assert data.X_train.shape == (200, 40)


# --- the registry -------------------------------------------------------------------------------


def test_listed_without_generating(monkeypatch, private_cache):
    def must_not_run(*args, **kwargs):
        raise AssertionError("list_datasets generated MNIST-1D")

    monkeypatch.setattr(mnist1d_module, "load_mnist1d", must_not_run)
    monkeypatch.setattr(mnist1d.data, "make_dataset", must_not_run)
    info = list_datasets()["mnist1d"]
    assert info == (5000, 40, "classification", 10)
    assert cache_files(private_cache) == []


def test_load_dataset_gives_one_bundle_train_rows_first(tmp_path):
    split = load_mnist1d(**SMALL, seed=5, cache_dir=tmp_path)
    bundle = load_dataset("MNIST1D", **SMALL, seed=5, cache_dir=tmp_path)
    assert isinstance(bundle, DatasetBundle)
    assert bundle.name == "mnist1d" and bundle.task == "classification"
    assert bundle.X.shape == (250, 40) and bundle.X.dtype == np.float32
    assert bundle.n_classes == 10 and bundle.target_names.tolist() == [str(d) for d in range(10)]
    assert bundle.feature_names.tolist() == [f"position_{i}" for i in range(40)]
    np.testing.assert_array_equal(bundle.X[:200], split.X_train)
    np.testing.assert_array_equal(bundle.y[200:], split.y_test)
    assert "Rows [:200] are the standard training set" in bundle.description
    assert "Apache-2.0" in bundle.description


def test_load_dataset_return_X_y(tmp_path):
    X, y = load_dataset("mnist1d", **SMALL, cache_dir=tmp_path, return_X_y=True)
    assert X.shape == (250, 40) and y.shape == (250,)
    with pytest.raises(TypeError, match="return_X_y must be True or False"):
        load_dataset("mnist1d", **SMALL, cache_dir=tmp_path, return_X_y="yes")


def test_load_dataset_suggests_mnist1d():
    with pytest.raises(ValueError, match="did you mean 'mnist1d'"):
        load_dataset("mnist")
