"""Tests for chainrule.data.make_adding_problem: two marked numbers in a long sequence, summed."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import make_adding_problem


def test_shapes_and_dtypes():
    X, y = make_adding_problem(n_samples=50, seq_len=30, seed=0)
    assert X.shape == (50, 30, 2) and X.dtype == np.float32
    assert y.shape == (50, 1) and y.dtype == np.float32


def test_defaults():
    X, y = make_adding_problem(seed=0)
    assert X.shape == (1000, 100, 2) and y.shape == (1000, 1)


def test_values_are_uniform_on_the_unit_interval():
    X, _ = make_adding_problem(n_samples=2000, seq_len=50, seed=1)
    values = X[:, :, 0]
    assert values.min() >= 0.0 and values.max() < 1.0
    assert abs(values.mean() - 0.5) < 0.01 and abs(values.var() - 1 / 12) < 0.005


@pytest.mark.parametrize("seq_len", [2, 3, 10, 11, 200])
def test_exactly_two_markers_one_in_each_half(seq_len):
    X, _ = make_adding_problem(n_samples=300, seq_len=seq_len, seed=2)
    markers = X[:, :, 1]
    assert set(np.unique(markers).tolist()) <= {0.0, 1.0}
    np.testing.assert_array_equal(markers.sum(axis=1), 2.0)
    half = seq_len // 2
    np.testing.assert_array_equal(markers[:, :half].sum(axis=1), 1.0)
    np.testing.assert_array_equal(markers[:, half:].sum(axis=1), 1.0)


def test_target_is_the_sum_of_the_marked_values():
    X, y = make_adding_problem(n_samples=200, seq_len=40, seed=3)
    for values, markers, target in zip(X[:, :, 0], X[:, :, 1], y[:, 0]):
        (marked,) = np.nonzero(markers)
        assert len(marked) == 2
        assert target == values[marked[0]] + values[marked[1]]  # the same float32 sum


def test_marker_positions_cover_both_halves():
    X, _ = make_adding_problem(n_samples=2000, seq_len=20, seed=4)
    positions = np.nonzero(X[:, :, 1])[1]
    assert set(positions.tolist()) == set(range(20))  # every step is marked somewhere


def test_predicting_the_mean_scores_one_sixth():
    """The documented baseline: always answering 1 gives a mean squared error of 1/6."""
    _, y = make_adding_problem(n_samples=20000, seq_len=10, seed=5)
    assert abs(np.mean((y - 1.0) ** 2) - 1 / 6) < 0.01


def test_seed_makes_it_reproducible():
    a = make_adding_problem(n_samples=20, seq_len=15, seed=7)
    b = make_adding_problem(n_samples=20, seq_len=15, seed=7)
    c = make_adding_problem(n_samples=20, seq_len=15, seed=8)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_generator_and_manual_seed():
    a = make_adding_problem(n_samples=20, seq_len=15, seed=np.random.default_rng(9))
    b = make_adding_problem(n_samples=20, seq_len=15, seed=np.random.default_rng(9))
    np.testing.assert_array_equal(a[0], b[0])
    cr.manual_seed(11)
    c = make_adding_problem(n_samples=20, seq_len=15)
    cr.manual_seed(11)
    d = make_adding_problem(n_samples=20, seq_len=15)
    np.testing.assert_array_equal(c[0], d[0])


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(n_samples=0), ValueError, "n_samples must be >= 1, got 0"),
        (dict(seq_len=1), ValueError, "seq_len must be >= 2, got 1"),
        (dict(seq_len=10.0), TypeError, "seq_len must be an integer, got 10.0 of type float"),
        (dict(n_samples=True), TypeError, "n_samples must be an integer"),
    ],
)
def test_bad_arguments_are_named(kwargs, error, message):
    with pytest.raises(error, match=f"make_adding_problem: {message}"):
        make_adding_problem(**{"n_samples": 10, "seq_len": 10, **kwargs})
