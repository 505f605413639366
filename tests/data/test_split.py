"""Tests for chainrule.data.split.train_test_split, checked against scikit-learn's."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from chainrule.data import load_iris, train_test_split


def sklearn_split(*arrays, **kwargs):
    from sklearn.model_selection import train_test_split as reference

    return reference(*arrays, **kwargs)


def test_returns_train_then_test_for_each_array():
    X = np.arange(20).reshape(10, 2)
    y = np.arange(10)
    parts = train_test_split(X, y, random_state=0)
    assert isinstance(parts, list)
    assert len(parts) == 4
    X_train, X_test, y_train, y_test = parts
    # Rows stay aligned across arrays.
    np.testing.assert_array_equal(X_train[:, 0] // 2, y_train)
    np.testing.assert_array_equal(X_test[:, 0] // 2, y_test)


@pytest.mark.parametrize("test_size", [0.25, 0.1, 0.5, 0.33, 1, 7, 49])
@pytest.mark.parametrize("random_state", [0, 1, 42])
def test_same_split_as_sklearn_for_an_int_seed(test_size, random_state):
    X = np.arange(100).reshape(50, 2)
    y = np.arange(50)
    ours = train_test_split(X, y, test_size=test_size, random_state=random_state)
    theirs = sklearn_split(X, y, test_size=test_size, random_state=random_state)
    for mine, reference in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(mine, reference)


@pytest.mark.parametrize("n_samples", [2, 3, 7, 10, 33, 150])
@pytest.mark.parametrize("test_size", [0.01, 0.1, 0.25, 0.3, 0.5, 0.7, 0.99, 1])
def test_sizes_match_sklearn(n_samples, test_size):
    x = np.arange(n_samples)
    try:
        expected = [len(part) for part in sklearn_split(x, test_size=test_size, random_state=0)]
    except ValueError:
        with pytest.raises(ValueError):
            train_test_split(x, test_size=test_size, random_state=0)
        return
    ours = train_test_split(x, test_size=test_size, random_state=0)
    assert [len(part) for part in ours] == expected


def test_float_test_size_rounds_up():
    train, test = train_test_split(np.arange(10), test_size=0.25, random_state=0)
    assert (len(train), len(test)) == (7, 3)  # ceil(2.5) = 3


def test_train_and_test_partition_the_samples():
    train, test = train_test_split(np.arange(97), test_size=0.3, random_state=3)
    assert len(np.intersect1d(train, test)) == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(97))


def test_no_shuffle_keeps_order():
    train, test = train_test_split(np.arange(10), test_size=3, shuffle=False)
    np.testing.assert_array_equal(train, np.arange(7))
    np.testing.assert_array_equal(test, np.arange(7, 10))
    np.testing.assert_array_equal(train, sklearn_split(np.arange(10), test_size=3, shuffle=False)[0])


def test_outputs_are_copies():
    X = np.arange(10)
    train, _ = train_test_split(X, shuffle=False)
    train[:] = -1
    np.testing.assert_array_equal(X, np.arange(10))


def test_lists_and_tuples_keep_their_kind():
    names = [f"sample{i}" for i in range(8)]
    train, test, t_train, t_test = train_test_split(names, tuple(range(8)), random_state=0)
    assert isinstance(train, list) and isinstance(test, list)
    assert isinstance(t_train, tuple) and isinstance(t_test, tuple)
    assert sorted(train + test) == sorted(names)
    assert [int(name[6:]) for name in train] == list(t_train)


def test_multidimensional_arrays_split_on_the_first_axis():
    images = np.random.default_rng(0).random((20, 1, 8, 8))
    train, test = train_test_split(images, test_size=5, random_state=0)
    assert train.shape == (15, 1, 8, 8)
    assert test.shape == (5, 1, 8, 8)


# --- reproducibility ------------------------------------------------------------------------


def test_same_int_seed_gives_same_split():
    X = np.arange(200)
    first = train_test_split(X, random_state=7)
    second = train_test_split(X, random_state=7)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


def test_different_seeds_give_different_splits():
    X = np.arange(200)
    assert not np.array_equal(train_test_split(X, random_state=1)[1], train_test_split(X, random_state=2)[1])


def test_random_state_instance_and_generator_are_used_as_given():
    X = np.arange(50)
    by_int = train_test_split(X, random_state=5)
    by_instance = train_test_split(X, random_state=np.random.RandomState(5))
    np.testing.assert_array_equal(by_int[1], by_instance[1])

    first = train_test_split(X, random_state=np.random.default_rng(5))
    second = train_test_split(X, random_state=np.random.default_rng(5))
    np.testing.assert_array_equal(first[1], second[1])


def test_none_uses_numpys_global_random_state():
    X = np.arange(50)
    np.random.seed(11)
    first = train_test_split(X)
    np.random.seed(11)
    second = train_test_split(X)
    np.testing.assert_array_equal(first[1], second[1])


def test_stratified_split_is_reproducible():
    X, y = load_iris(return_X_y=True)
    first = train_test_split(X, y, stratify=y, random_state=0)
    second = train_test_split(X, y, stratify=y, random_state=0)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


# --- stratification -------------------------------------------------------------------------


def test_stratified_iris_keeps_classes_balanced():
    X, y = load_iris(return_X_y=True)
    _, _, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)
    assert np.bincount(y_test).tolist() == [10, 10, 10]
    assert np.bincount(y_train).tolist() == [40, 40, 40]


@pytest.mark.parametrize("test_size", [0.1, 0.25, 0.5, 0.8, 17])
@pytest.mark.parametrize("random_state", range(5))
def test_stratified_split_keeps_class_proportions(test_size, random_state):
    y = np.repeat([0, 1, 2, 3], [50, 30, 15, 5])
    n_samples = len(y)
    train, test = train_test_split(y, test_size=test_size, stratify=y, random_state=random_state)
    n_test = len(test)
    assert n_test == (test_size if isinstance(test_size, int) else math.ceil(test_size * n_samples))
    class_counts = np.bincount(y)
    exact = class_counts * n_test / n_samples
    test_counts = np.bincount(test, minlength=4)
    assert np.all(np.abs(test_counts - exact) < 1)
    np.testing.assert_array_equal(np.bincount(train, minlength=4) + test_counts, class_counts)


@pytest.mark.parametrize("random_state", range(5))
def test_stratified_counts_agree_with_sklearn(random_state):
    y = np.repeat(["a", "b", "c"], [37, 21, 9])
    ours = train_test_split(y, test_size=0.3, stratify=y, random_state=random_state)
    theirs = sklearn_split(y, test_size=0.3, stratify=y, random_state=random_state)
    for mine, reference in zip(ours, theirs, strict=True):
        assert len(mine) == len(reference)
        mine_counts = np.unique(mine, return_counts=True)[1]
        reference_counts = np.unique(reference, return_counts=True)[1]
        assert np.all(np.abs(mine_counts - reference_counts) <= 1)


def test_stratified_sets_are_not_grouped_by_class():
    y = np.repeat([0, 1], 50)
    train, _ = train_test_split(y, stratify=y, random_state=0)
    assert not np.all(np.diff(train) >= 0)


def test_stratify_by_rows_of_a_2d_label_array():
    labels = np.array([[0, 1], [1, 0], [1, 1]] * 10)
    train, test = train_test_split(np.arange(30), test_size=0.5, stratify=labels, random_state=0)
    rows = {tuple(row) for row in labels.tolist()}
    for row in rows:
        members = np.flatnonzero((labels == row).all(axis=1))
        assert len(np.intersect1d(test, members)) == 5
        assert len(np.intersect1d(train, members)) == 5


@settings(max_examples=60, deadline=None)
@given(
    class_counts=st.lists(st.integers(min_value=2, max_value=40), min_size=1, max_size=6),
    fraction=st.floats(min_value=0.05, max_value=0.95),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_stratified_split_properties(class_counts, fraction, seed):
    y = np.repeat(np.arange(len(class_counts)), class_counts)
    n_samples = len(y)
    n_test = math.ceil(fraction * n_samples)
    n_classes = len(class_counts)
    if not n_classes <= n_test <= n_samples - n_classes:
        with pytest.raises(ValueError):
            train_test_split(np.arange(n_samples), test_size=fraction, stratify=y, random_state=seed)
        return
    train, test = train_test_split(np.arange(n_samples), test_size=fraction, stratify=y, random_state=seed)
    assert len(test) == n_test
    np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(n_samples))
    exact = np.array(class_counts) * n_test / n_samples
    assert np.all(np.abs(np.bincount(y[test], minlength=n_classes) - exact) < 1)


# --- errors ---------------------------------------------------------------------------------


def test_no_arrays():
    with pytest.raises(ValueError, match="at least one array is required"):
        train_test_split()


def test_inconsistent_lengths_are_named():
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[10, 9\]"):
        train_test_split(np.arange(10), np.arange(9))


def test_empty_arrays():
    with pytest.raises(ValueError, match="no samples"):
        train_test_split(np.array([]))


@pytest.mark.parametrize("test_size", [0.0, 1.0, 1.5, -0.1, float("nan")])
def test_float_test_size_out_of_range(test_size):
    with pytest.raises(ValueError, match=r"open interval \(0, 1\)"):
        train_test_split(np.arange(10), test_size=test_size)


@pytest.mark.parametrize("test_size", [0, 10, 11, -1])
def test_int_test_size_out_of_range(test_size):
    with pytest.raises(ValueError, match=r"\[1, n_samples - 1\] = \[1, 9\]"):
        train_test_split(np.arange(10), test_size=test_size)


def test_float_test_size_that_empties_the_train_set():
    with pytest.raises(ValueError, match="train set would be empty"):
        train_test_split(np.arange(3), test_size=0.9)


@pytest.mark.parametrize("test_size", [True, "0.2", [0.2]])
def test_test_size_of_the_wrong_type(test_size):
    with pytest.raises(TypeError, match="test_size must be"):
        train_test_split(np.arange(10), test_size=test_size)


@pytest.mark.parametrize("random_state", ["0", 1.5, True, object()])
def test_random_state_of_the_wrong_type(random_state):
    with pytest.raises(TypeError, match="random_state must be"):
        train_test_split(np.arange(10), random_state=random_state)


def test_shuffle_must_be_bool():
    with pytest.raises(TypeError, match="shuffle must be True or False"):
        train_test_split(np.arange(10), shuffle="no")


def test_stratify_needs_shuffle():
    y = np.array([0, 1] * 5)
    with pytest.raises(ValueError, match="stratify needs shuffle=True"):
        train_test_split(y, stratify=y, shuffle=False)


def test_stratify_of_the_wrong_length():
    with pytest.raises(ValueError, match=r"stratify must have shape \(10,\)"):
        train_test_split(np.arange(10), stratify=np.zeros(9))


def test_stratify_class_with_one_member():
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2])
    with pytest.raises(ValueError, match="class 2 of stratify has only 1 member"):
        train_test_split(np.arange(9), stratify=y)


def test_stratify_test_set_smaller_than_the_number_of_classes():
    y = np.repeat([0, 1, 2], 4)
    with pytest.raises(ValueError, match="test set would have 2 samples, fewer than the 3 classes"):
        train_test_split(np.arange(12), test_size=2, stratify=y)


def test_zero_dimensional_array():
    with pytest.raises(TypeError, match="array 1 is 0-dimensional"):
        train_test_split(np.arange(3), np.array(5))


def test_scalar_or_string_is_not_a_sequence_of_samples():
    with pytest.raises(TypeError, match="array 0 of type int is not a sequence of samples"):
        train_test_split(5)
    with pytest.raises(TypeError, match="array 0 of type str"):
        train_test_split("abcd")


@pytest.mark.parametrize(
    "test_size, train_size",
    [(None, None), (0.3, None), (None, 0.7), (None, 0.66), (0.25, 0.5), (3, None), (None, 4), (2, 5), (0.1, 0.85)],
)
def test_train_size_and_test_size_give_scikit_learns_sizes(test_size, train_size):
    from sklearn.model_selection import train_test_split as sk_split

    X = np.arange(23)
    want = sk_split(X, test_size=test_size, train_size=train_size, random_state=0)
    got = train_test_split(X, test_size=test_size, train_size=train_size, random_state=0)
    assert [len(g) for g in got] == [len(w) for w in want]
    assert not set(got[0]) & set(got[1])  # disjoint, even when both sizes leave samples out
    unshuffled = train_test_split(X, test_size=test_size, train_size=train_size, shuffle=False)
    assert [len(g) for g in unshuffled] == [len(w) for w in want]
    assert unshuffled[0].tolist() == list(range(len(want[0])))  # the first samples, then the last ones
    assert unshuffled[1].tolist() == list(range(23 - len(want[1]), 23))


def test_sizes_that_ask_for_too_much_or_leave_samples_out_with_stratify():
    with pytest.raises(ValueError, match="more than the 10 there are"):
        train_test_split(np.arange(10), test_size=0.5, train_size=0.6)
    y = np.array([0, 1] * 10)
    with pytest.raises(ValueError, match="leave samples out; with stratify"):
        train_test_split(np.arange(20), y, test_size=4, train_size=10, stratify=y)
    with pytest.raises(TypeError, match="train_size must be"):
        train_test_split(np.arange(10), train_size="half")
    got = train_test_split(np.arange(20), y, train_size=0.6, stratify=y, random_state=0)
    assert len(got[0]) == 12 and np.bincount(got[3]).tolist() == [4, 4]
