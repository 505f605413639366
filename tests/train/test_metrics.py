"""Tests for chainrule.train.metrics, each function checked against scikit-learn's."""

from __future__ import annotations

import doctest
import functools
import math

import numpy as np
import pytest
from sklearn import metrics as skm

import chainrule as cr
from chainrule.train import metrics
from chainrule.train.metrics import (
    accuracy,
    confusion_matrix,
    f1_score,
    format_confusion_matrix,
    get_metric,
    mae,
    mean_absolute_error,
    mean_squared_error,
    mse,
    precision,
    r2,
    r2_score,
    recall,
    top_k_accuracy,
)

PRF = [(precision, skm.precision_score), (recall, skm.recall_score), (f1_score, skm.f1_score)]
AVERAGES = ["macro", "micro", "weighted", None]


def labels(n: int, n_classes: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n_classes, size=n)


def scores(n: int, n_classes: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, n_classes))


def assert_same(ours, theirs) -> None:
    """Equal as floats or arrays, NaN equal to NaN."""
    np.testing.assert_allclose(
        np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float), rtol=1e-12, atol=1e-12, equal_nan=True
    )


# --- accuracy ----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("n_classes", [2, 3, 7])
def test_accuracy_on_labels_matches_sklearn(seed, n_classes):
    y, p = labels(50, n_classes, seed), labels(50, n_classes, seed + 100)
    result = accuracy(y, p)
    assert isinstance(result, float)
    assert result == pytest.approx(skm.accuracy_score(y, p), abs=1e-15)


@pytest.mark.parametrize("seed", range(5))
def test_accuracy_on_class_scores_takes_the_argmax(seed):
    y, s = labels(40, 4, seed), scores(40, 4, seed)
    assert accuracy(y, s) == pytest.approx(skm.accuracy_score(y, s.argmax(axis=1)))


def test_accuracy_with_one_hot_targets():
    y, s = labels(30, 3, 1), scores(30, 3, 1)
    assert accuracy(np.eye(3)[y], s) == accuracy(y, s)


def test_accuracy_on_string_labels():
    y, p = np.array(["cat", "dog", "cat"]), np.array(["cat", "cat", "cat"])
    assert accuracy(y, p) == pytest.approx(2 / 3)


@pytest.mark.parametrize("shape", [(20,), (20, 1)])
def test_accuracy_on_probabilities_thresholds_at_one_half(shape):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=20)
    prob = rng.uniform(0, 1, size=20)
    expected = skm.accuracy_score(y, (prob > 0.5).astype(int))
    assert accuracy(y, prob.reshape(shape)) == pytest.approx(expected)


@pytest.mark.parametrize("shape", [(20,), (20, 1)])
def test_accuracy_on_logits_thresholds_at_zero(shape):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, size=20)
    logits = rng.normal(0.3, 2.0, size=20)
    assert logits.min() < 0 < logits.max()
    expected = skm.accuracy_score(y, (logits > 0).astype(int))
    assert accuracy(y, logits.reshape(shape)) == pytest.approx(expected)


def test_accuracy_explicit_threshold_overrides_the_auto_rule():
    y = np.array([0, 1, 1, 0])
    prob = np.array([0.1, 0.8, 0.4, 0.3])
    assert accuracy(y, prob) == 0.75  # auto: 0.5
    assert accuracy(y, prob, threshold=0.35) == 1.0  # 0.4 -> 1, 0.3 -> 0
    assert accuracy(y, prob, threshold=0.0) == 0.5  # everything predicted 1
    # An explicit threshold reads even whole-number floats as scores.
    assert accuracy(y, np.array([0.0, 1.0, 1.0, 1.0]), threshold=0.5) == 0.75


def test_accuracy_reads_whole_number_floats_as_labels():
    assert accuracy([0, 1, 2, 2], np.array([0.0, 1.0, 2.0, 1.0])) == 0.75


def test_accuracy_single_score_column_with_minus_one_plus_one_labels():
    y = np.array([-1, 1, 1, -1])
    decision = np.array([-0.7, 1.3, -0.2, -2.0])
    assert accuracy(y, decision) == 0.75


def test_accuracy_single_score_column_needs_binary_labels():
    with pytest.raises(ValueError, match=r"one column of scores.*binary labels.*\[0, 1, 2\]"):
        accuracy([0, 1, 2], [0.2, 0.7, 0.4])


def test_accuracy_threshold_needs_float_scores():
    with pytest.raises(ValueError, match="threshold=0.5 needs float scores"):
        accuracy([0, 1], [0, 1], threshold=0.5)


def test_accuracy_scores_need_labels_in_range():
    with pytest.raises(ValueError, match=r"scores for 3 classes .*labels \[3, 5\]"):
        accuracy([0, 3, 5], scores(3, 3, 0))


def test_accuracy_accepts_tensors():
    y = cr.tensor(np.array([0, 1, 2]))
    s = cr.tensor(np.array([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [2.0, 0.0, 0.0]]), requires_grad=True)
    assert accuracy(y, s) == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    "fn", [accuracy, precision, recall, f1_score, confusion_matrix, mean_squared_error, mean_absolute_error, r2_score]
)
def test_mismatched_lengths_name_both(fn):
    with pytest.raises(ValueError, match=r"y_true has 3 samples but y_pred has 2"):
        fn([0, 1, 1], [0, 1])


@pytest.mark.parametrize(
    "fn", [accuracy, precision, recall, f1_score, confusion_matrix, mean_squared_error, mean_absolute_error, r2_score]
)
def test_empty_inputs_raise(fn):
    with pytest.raises(ValueError, match="y_true is empty"):
        fn([], [])
    with pytest.raises(ValueError, match="must be an array of samples"):
        fn(1, 1)


# --- top-k accuracy ----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_top_k_accuracy_matches_sklearn(seed, k):
    n_classes = 6
    y = np.concatenate([np.arange(n_classes), labels(44, n_classes, seed)])  # every class present
    s = scores(50, n_classes, seed + 7)
    expected = skm.top_k_accuracy_score(y, s, k=k, labels=np.arange(n_classes))
    assert top_k_accuracy(y, s, k=k) == pytest.approx(expected)


def test_top_1_is_accuracy():
    y, s = labels(30, 4, 3), scores(30, 4, 3)
    assert top_k_accuracy(y, s, k=1) == accuracy(y, s)


def test_top_k_with_k_at_least_the_classes_is_one():
    assert top_k_accuracy(labels(10, 3, 0), scores(10, 3, 0), k=3) == 1.0
    assert top_k_accuracy(labels(10, 3, 0), scores(10, 3, 0)) == 1.0  # default k=5


def test_top_k_ties_count_for_the_true_class():
    s = np.array([[1.0, 1.0, 1.0], [3.0, 2.0, 1.0]])
    assert top_k_accuracy([2, 2], s, k=1) == 0.5


def test_top_k_validates():
    with pytest.raises(ValueError, match="k must be an integer >= 1"):
        top_k_accuracy([0], [[1.0, 0.0]], k=0)
    with pytest.raises(ValueError, match=r"scores must have shape \(N, C\)"):
        top_k_accuracy([0, 1], [0.2, 0.8], k=1)
    with pytest.raises(ValueError, match=r"y_true has 2 samples but scores has 1"):
        top_k_accuracy([0, 1], [[0.2, 0.8]], k=1)
    with pytest.raises(ValueError, match=r"scores have 2 columns .*labels \[4\]"):
        top_k_accuracy([0, 4], [[0.2, 0.8], [0.5, 0.5]], k=1)


# --- precision, recall, F1 ---------------------------------------------------------------------


@pytest.mark.parametrize("ours, theirs", PRF)
@pytest.mark.parametrize("average", AVERAGES)
@pytest.mark.parametrize("seed", range(4))
def test_multiclass_matches_sklearn(ours, theirs, average, seed):
    y, p = labels(60, 5, seed), labels(60, 5, seed + 50)
    assert_same(ours(y, p, average=average), theirs(y, p, average=average, zero_division=0.0))


@pytest.mark.parametrize("ours, theirs", PRF)
@pytest.mark.parametrize("average", AVERAGES)
@pytest.mark.parametrize("zero_division", [0.0, 1.0, np.nan])
def test_a_class_never_predicted_uses_zero_division(ours, theirs, average, zero_division):
    y = np.array([0, 1, 2, 2, 3, 3, 1, 0])
    p = np.array([0, 1, 1, 1, 3, 0, 1, 0])  # class 2 is never predicted
    expected = theirs(y, p, average=average, zero_division=zero_division)
    assert_same(ours(y, p, average=average, zero_division=zero_division), expected)


@pytest.mark.parametrize("ours, theirs", PRF)
@pytest.mark.parametrize("average", AVERAGES)
@pytest.mark.parametrize("zero_division", [0.0, 1.0, np.nan])
def test_a_class_only_predicted_uses_zero_division(ours, theirs, average, zero_division):
    y = np.array([0, 0, 1, 1])
    p = np.array([0, 2, 1, 2])  # class 2 has no true samples
    expected = theirs(y, p, average=average, zero_division=zero_division)
    assert_same(ours(y, p, average=average, zero_division=zero_division), expected)


@pytest.mark.parametrize("ours, theirs", PRF)
@pytest.mark.parametrize("pos_label", [1, 0])
@pytest.mark.parametrize("seed", range(4))
def test_binary_matches_sklearn(ours, theirs, pos_label, seed):
    y, p = labels(40, 2, seed), labels(40, 2, seed + 9)
    result = ours(y, p, pos_label=pos_label)
    assert isinstance(result, float)
    assert_same(result, theirs(y, p, pos_label=pos_label, zero_division=0.0))


@pytest.mark.parametrize("ours, theirs", PRF)
@pytest.mark.parametrize("zero_division", [0.0, 1.0, np.nan])
@pytest.mark.parametrize(
    "y, p",
    [
        ([0, 0, 0], [0, 0, 0]),  # the positive class never occurs
        ([0, 0, 0], [1, 0, 0]),  # predicted but never true
        ([1, 1, 0], [0, 0, 0]),  # true but never predicted
        ([1, 1, 1], [1, 1, 1]),
    ],
)
def test_binary_edge_cases_match_sklearn(ours, theirs, zero_division, y, p):
    assert_same(ours(y, p, zero_division=zero_division), theirs(y, p, zero_division=zero_division))


@pytest.mark.parametrize("ours, theirs", PRF)
@pytest.mark.parametrize("average", ["binary", "macro", "weighted"])
def test_string_labels_match_sklearn(ours, theirs, average):
    y = np.array(["spam", "ham", "spam", "spam", "ham"])
    p = np.array(["spam", "spam", "ham", "spam", "ham"])
    pos = {"pos_label": "spam"} if average == "binary" else {}  # sklearn warns it is ignored
    assert_same(ours(y, p, average=average, pos_label="spam"), theirs(y, p, average=average, zero_division=0.0, **pos))


@pytest.mark.parametrize("ours, theirs", PRF)
def test_labels_present_only_in_y_pred_count_as_classes(ours, theirs):
    y, p = np.array([0, 1, 1, 0]), np.array([0, 1, 2, 0])
    assert_same(ours(y, p, average="macro"), theirs(y, p, average="macro", zero_division=0.0))
    with pytest.raises(ValueError, match="average='binary' needs at most 2 classes"):
        ours(y, p)


def test_per_class_scores_are_in_sorted_label_order():
    y, p = np.array([2, 0, 2, 1]), np.array([2, 0, 0, 1])
    np.testing.assert_allclose(recall(y, p, average=None), [1.0, 1.0, 0.5])


@pytest.mark.parametrize("fn", [precision, recall, f1_score])
def test_prf_validate_arguments(fn):
    with pytest.raises(ValueError, match="average must be one of"):
        fn([0, 1], [0, 1], average="samples")
    with pytest.raises(ValueError, match="zero_division must be 0.0, 1.0 or nan"):
        fn([0, 1], [0, 1], zero_division=0.5)
    with pytest.raises(ValueError, match=r"pos_label=2 is not a valid label.*\[0, 1\]"):
        fn([0, 1], [0, 1], pos_label=2)
    with pytest.raises(ValueError, match=r"y_pred must hold class labels of shape \(N,\)"):
        fn([0, 1], [[0.2, 0.8], [0.9, 0.1]])


def test_prf_accept_tensors_and_label_columns():
    y = cr.tensor(np.array([[0], [1], [1], [0]]))
    p = cr.tensor(np.array([1, 1, 0, 0]))
    assert precision(y, p) == 0.5 and recall(y, p) == 0.5 and f1_score(y, p) == 0.5


# --- confusion matrix --------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("n_classes", [2, 4])
def test_confusion_matrix_matches_sklearn(seed, n_classes):
    y, p = labels(50, n_classes, seed), labels(50, n_classes, seed + 3)
    cm = confusion_matrix(y, p)
    assert cm.dtype == np.int64
    np.testing.assert_array_equal(cm, skm.confusion_matrix(y, p))


@pytest.mark.parametrize("order", [[2, 0, 1], [3, 1], [1, 7, 0]])
def test_confusion_matrix_with_labels_matches_sklearn(order):
    y, p = labels(40, 4, 11), labels(40, 4, 12)
    np.testing.assert_array_equal(confusion_matrix(y, p, labels=order), skm.confusion_matrix(y, p, labels=order))


def test_confusion_matrix_on_strings_and_labels_only_in_y_pred():
    y = np.array(["a", "b", "a", "c"])
    p = np.array(["a", "d", "b", "c"])
    np.testing.assert_array_equal(confusion_matrix(y, p), skm.confusion_matrix(y, p))
    assert confusion_matrix(y, p).shape == (4, 4)


def test_confusion_matrix_diagonal_sums_to_correct_predictions():
    y, p = labels(100, 5, 0), labels(100, 5, 1)
    cm = confusion_matrix(y, p)
    assert cm.sum() == 100 and np.trace(cm) == np.sum(y == p)


def test_confusion_matrix_validates_labels():
    with pytest.raises(ValueError, match=r"none of labels \[5, 6\] occurs in y_true"):
        confusion_matrix([0, 1], [0, 1], labels=[5, 6])
    with pytest.raises(ValueError, match="labels has repeated values"):
        confusion_matrix([0, 1], [0, 1], labels=[0, 0, 1])
    with pytest.raises(ValueError, match="labels is empty"):
        confusion_matrix([0, 1], [0, 1], labels=[])


def test_format_confusion_matrix_names_rows_numbers_columns_and_widens_for_large_counts():
    matrix = confusion_matrix(["setosa"] * 3 + ["virginica"] * 1200, ["setosa"] * 3 + ["virginica"] * 1200)
    lines = format_confusion_matrix(matrix, ["setosa", "virginica"]).splitlines()
    assert lines == [
        "confusion matrix (rows: true class, columns: predicted)",
        "          0    1",  # columns as wide as the largest count (1200) and a space
        "setos     3    0",  # class names cut to 5 characters
        "virgi     0 1200",
    ]
    assert format_confusion_matrix(matrix.tolist(), ("setosa", "virginica")) == "\n".join(lines)


def test_format_confusion_matrix_checks_its_arguments():
    with pytest.raises(ValueError, match=r"matrix must be square \(C, C\) with C > 0, got shape \(2, 3\)"):
        format_confusion_matrix(np.zeros((2, 3), dtype=int), ["a", "b"])
    with pytest.raises(ValueError, match="3 labels for a matrix of 2 classes"):
        format_confusion_matrix(np.eye(2, dtype=int), ["a", "b", "c"])


# --- regression --------------------------------------------------------------------------------

REGRESSION = [
    (mean_squared_error, skm.mean_squared_error),
    (mean_absolute_error, skm.mean_absolute_error),
    (r2_score, skm.r2_score),
]


@pytest.mark.parametrize("ours, theirs", REGRESSION)
@pytest.mark.parametrize("shape", [(30,), (30, 1), (30, 3)])
@pytest.mark.parametrize("seed", range(3))
def test_regression_matches_sklearn(ours, theirs, shape, seed):
    rng = np.random.default_rng(seed)
    y = rng.normal(size=shape)
    if len(shape) == 2:
        y = y * np.arange(1, shape[1] + 1)  # outputs on different scales
    p = y + rng.normal(scale=0.5, size=shape)
    result = ours(y, p)
    assert isinstance(result, float)
    assert result == pytest.approx(theirs(y, p), rel=1e-12)


@pytest.mark.parametrize("ours, theirs", REGRESSION)
def test_regression_column_and_vector_are_one_output(ours, theirs):
    rng = np.random.default_rng(5)
    y = rng.normal(size=20)
    p = rng.normal(size=(20, 1))  # a model's raw output against a 1-D target
    assert ours(y, p) == pytest.approx(theirs(y, p))
    assert ours(y, p) == pytest.approx(ours(y, p[:, 0]))


@pytest.mark.parametrize("p", [[2.0, 2.0, 2.0], [2.0, 2.5, 2.0]])
def test_r2_constant_target_matches_sklearn(p):
    assert r2_score([2.0, 2.0, 2.0], p) == skm.r2_score([2.0, 2.0, 2.0], p)


def test_r2_constant_output_among_several_matches_sklearn():
    y = np.array([[1.0, 5.0], [2.0, 5.0], [4.0, 5.0]])
    p = np.array([[1.5, 5.0], [2.0, 4.0], [3.0, 5.0]])
    assert r2_score(y, p) == pytest.approx(skm.r2_score(y, p))


def test_r2_with_one_sample_is_nan():
    assert math.isnan(r2_score([1.0], [2.0]))


def test_regression_validates_outputs():
    with pytest.raises(ValueError, match="y_true has 2 outputs but y_pred has 3"):
        mean_squared_error(np.zeros((4, 2)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"targets must have shape \(N,\) or \(N, outputs\)"):
        mean_absolute_error(np.zeros((4, 2, 2)), np.zeros((4, 2, 2)))


def test_regression_aliases_and_tensors():
    assert mse is mean_squared_error and mae is mean_absolute_error and r2 is r2_score
    y = cr.tensor(np.array([1.0, 2.0, 3.0]))
    p = cr.tensor(np.array([[1.0], [2.0], [5.0]]), requires_grad=True)
    assert mse(y, p) == pytest.approx(4 / 3) and mae(y, p) == pytest.approx(2 / 3)


# --- registry ----------------------------------------------------------------------------------


def test_every_registered_name_resolves_to_itself():
    for name in metrics.METRICS:
        got_name, fn = get_metric(name)
        assert got_name == name and callable(fn)


@pytest.mark.parametrize(
    "alias, name",
    [
        ("acc", "accuracy"),
        ("top5", "top_k_accuracy"),
        ("f1_score", "f1"),
        ("mean_squared_error", "mse"),
        ("mean_absolute_error", "mae"),
        ("r2_score", "r2"),
    ],
)
def test_aliases_share_one_function(alias, name):
    assert get_metric(alias)[1] is get_metric(name)[1]


def test_names_are_case_insensitive_and_kept_as_given():
    assert get_metric("Accuracy") == ("Accuracy", accuracy)


@pytest.mark.parametrize(
    "name, ours, theirs",
    [
        ("precision", precision, skm.precision_score),
        ("recall", recall, skm.recall_score),
        ("f1", f1_score, skm.f1_score),
    ],
)
@pytest.mark.parametrize("n_classes", [2, 4])
def test_named_prf_are_macro_on_raw_scores(name, ours, theirs, n_classes):
    y, s = labels(40, n_classes, 2), scores(40, n_classes, 2)
    _, fn = get_metric(name)
    expected = theirs(y, s.argmax(axis=1), average="macro", zero_division=0.0)
    assert fn(y, s) == pytest.approx(expected)


@pytest.mark.parametrize("name", ["accuracy", "precision", "recall", "f1"])
def test_named_classification_metrics_on_a_single_logit_or_probability_column(name):
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, size=30)
    logits = rng.normal(size=(30, 1))
    prob = 1 / (1 + np.exp(-logits))
    _, fn = get_metric(name)
    labels_from_logits = (logits[:, 0] > 0).astype(int)
    macro = {"average": "macro", "zero_division": 0.0}
    reference = {
        "accuracy": skm.accuracy_score,
        "precision": functools.partial(skm.precision_score, **macro),
        "recall": functools.partial(skm.recall_score, **macro),
        "f1": functools.partial(skm.f1_score, **macro),
    }[name]
    assert fn(y, logits) == pytest.approx(reference(y, labels_from_logits))
    assert fn(y, prob) == pytest.approx(fn(y, logits))  # sigmoid(x) > 0.5 exactly when x > 0


def test_named_top5():
    y = np.concatenate([np.arange(8), labels(32, 8, 0)])
    s = scores(40, 8, 1)
    assert get_metric("top5")[1](y, s) == pytest.approx(skm.top_k_accuracy_score(y, s, k=5))


@pytest.mark.parametrize(
    "name, theirs", [("mse", skm.mean_squared_error), ("mae", skm.mean_absolute_error), ("r2", skm.r2_score)]
)
def test_named_regression_on_raw_output(name, theirs):
    rng = np.random.default_rng(8)
    y = rng.normal(size=25)
    out = (y + rng.normal(scale=0.3, size=25)).reshape(-1, 1)
    assert get_metric(name)[1](y, out) == pytest.approx(theirs(y, out[:, 0]))


def test_callables_pass_through_with_their_name():
    def balanced(y_true, y_pred):
        return 0.0

    assert get_metric(balanced) == ("balanced", balanced)
    partial = functools.partial(top_k_accuracy, k=2)
    assert get_metric(partial) == ("top_k_accuracy", partial)

    class Scorer:
        def __call__(self, y_true, y_pred):
            return 1.0

    scorer = Scorer()
    assert get_metric(scorer) == ("Scorer", scorer)


def test_unknown_name_suggests_the_closest_and_lists_all():
    pattern = r"unknown metric 'accuarcy' \(did you mean 'accuracy'\?\)"
    with pytest.raises(ValueError, match=pattern) as info:
        get_metric("accuarcy")
    for name in metrics.METRICS:
        assert name in str(info.value)
    with pytest.raises(ValueError, match=r"unknown metric 'zzz'; known metrics"):
        get_metric("zzz")
    with pytest.raises(TypeError, match="expected a metric name or a callable, got int"):
        get_metric(3)


def test_docstring_examples_run():
    result = doctest.testmod(metrics, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
