"""Metrics for classification and regression, in plain NumPy.

Every function accepts NumPy arrays, lists or chainrule Tensors (a Tensor's array is read;
no gradient flows through a metric) and returns a Python ``float`` (``confusion_matrix`` returns
an integer array, and ``average=None`` a per-class array).

Classification metrics follow scikit-learn's semantics for the arguments they share with it:
the classes are the sorted union of the labels found in ``y_true`` and ``y_pred``; precision,
recall and F1 take ``average`` ('binary', 'macro', 'micro', 'weighted' or None), ``pos_label``
and ``zero_division``. They expect predicted *labels*; only ``accuracy`` (and the metrics that
``fit`` looks up by name, see ``get_metric``) also accept raw model outputs:

* scores of shape (N, C) with C > 1: the predicted class is the column index of the largest
  score (``argmax``), so ``y_true`` must hold integer labels in ``0 .. C-1`` (or be one-hot);
* one column of binary scores, shape (N, 1) or (N,), in float: the prediction is 1 where the
  score is above a threshold, else 0 (else -1 when ``y_true``'s labels are -1 and 1). By default
  (``threshold=None``) the threshold is 0.5 when every score lies in [0, 1] (probabilities, e.g.
  after a Sigmoid) and 0 otherwise (logits or decision values). A float column whose values are
  all whole numbers is read as labels, not scores. Pass ``threshold`` to choose it yourself.

Regression metrics take targets of shape (N,) or (N, outputs) and average over the outputs
uniformly (scikit-learn's default ``multioutput='uniform_average'``); a 1-D array and an
(N, 1) column are the same single output.

Example:
    >>> from chainrule.train import metrics
    >>> scores = [[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7], [0.8, 0.1, 0.1]]
    >>> metrics.accuracy([0, 1, 2, 2], scores)
    0.75
    >>> name, fn = metrics.get_metric("f1")
    >>> name, round(fn([0, 1, 1, 0], [[-1.2], [2.0], [0.3], [0.4]]), 4)
    ('f1', 0.7333)
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = [
    "accuracy",
    "top_k_accuracy",
    "precision",
    "recall",
    "f1_score",
    "confusion_matrix",
    "format_confusion_matrix",
    "mean_squared_error",
    "mean_absolute_error",
    "r2_score",
    "mse",
    "mae",
    "r2",
    "get_metric",
    "METRICS",
]

ArrayLike = Any  # a NumPy array, a nested list, or a chainrule Tensor
Metric = Callable[[ArrayLike, ArrayLike], float]

_AVERAGES = ("binary", "macro", "micro", "weighted", None)


# ---------------------------------------------------------------------------------------------
# Input checks shared by every metric
# ---------------------------------------------------------------------------------------------


def _to_numpy(x: ArrayLike) -> np.ndarray:
    """An ndarray view of ``x``; a chainrule Tensor gives its array."""
    if isinstance(x, np.ndarray):
        return x
    return np.asarray(getattr(x, "data", x))


def _check_pair(fn: str, y_true: np.ndarray, y_pred: np.ndarray, pred_name: str = "y_pred") -> None:
    """Raise if either input is empty or scalar, or if their numbers of samples differ."""
    for name, y in (("y_true", y_true), (pred_name, y_pred)):
        if y.ndim == 0:
            raise ValueError(f"{fn}: {name} must be an array of samples, got the scalar {y!r}")
        if y.shape[0] == 0:
            raise ValueError(f"{fn}: {name} is empty (shape {y.shape}); need at least one sample")
    if y_true.shape[0] != y_pred.shape[0]:
        raise ValueError(
            f"{fn}: y_true has {y_true.shape[0]} samples but {pred_name} has "
            f"{y_pred.shape[0]}; they must have the same length"
        )


def _true_labels(fn: str, y_true: np.ndarray) -> np.ndarray:
    """``y_true`` as a 1-D label vector: (N,) as is, (N, 1) flattened, one-hot (N, C) argmaxed."""
    if y_true.ndim == 1:
        return y_true
    if y_true.ndim == 2:
        return y_true[:, 0] if y_true.shape[1] == 1 else y_true.argmax(axis=1)
    raise ValueError(f"{fn}: y_true must have shape (N,), (N, 1) or one-hot (N, C), got {y_true.shape}")


def _label_vector(fn: str, name: str, y: np.ndarray) -> np.ndarray:
    """A label array of shape (N,) or (N, 1) as (N,); anything else is an error naming ``name``."""
    if y.ndim == 2 and y.shape[1] == 1:
        return y[:, 0]
    if y.ndim != 1:
        raise ValueError(
            f"{fn}: {name} must hold class labels of shape (N,), got shape {y.shape}; convert "
            f"scores to labels first (e.g. scores.argmax(axis=1)), or use accuracy()"
        )
    return y


def _is_whole(y: np.ndarray) -> bool:
    """True when a float array holds only whole numbers (labels stored as floats)."""
    return bool(np.all(np.isfinite(y)) and np.all(y == np.round(y)))


def _predicted_labels(fn: str, y_true: np.ndarray, y_pred: np.ndarray, threshold: float | None) -> np.ndarray:
    """Turn labels, scores (N, C) or one column of binary scores into a label vector (N,).

    ``y_true`` is already a label vector; it picks the negative class of a binary score column
    (-1 when its labels are -1 and 1, else 0) and checks the range of argmax'ed classes.
    """
    if y_pred.ndim == 2 and y_pred.shape[1] > 1:
        n_classes = y_pred.shape[1]
        bad = ~np.isin(y_true, np.arange(n_classes))
        if np.any(bad):
            raise ValueError(
                f"{fn}: y_pred holds scores for {n_classes} classes (labels 0..{n_classes - 1}) "
                f"but y_true holds labels {np.unique(y_true[bad])[:10].tolist()}"
            )
        return y_pred.argmax(axis=1)
    if y_pred.ndim not in (1, 2):
        raise ValueError(f"{fn}: y_pred must have shape (N,), (N, 1) or (N, C), got {y_pred.shape}")
    column = y_pred.reshape(-1)
    is_float = np.issubdtype(column.dtype, np.floating)
    if not is_float or (threshold is None and _is_whole(column)):
        if threshold is not None:
            raise ValueError(f"{fn}: threshold={threshold} needs float scores, got y_pred of dtype {column.dtype}")
        return column
    if threshold is None:
        threshold = 0.5 if column.min() >= 0.0 and column.max() <= 1.0 else 0.0
    classes = np.unique(y_true)
    if np.all(np.isin(classes, (0, 1))):
        negative = 0
    elif np.all(np.isin(classes, (-1, 1))):
        negative = -1
    else:
        raise ValueError(
            f"{fn}: y_pred is one column of scores, which needs binary labels in y_true "
            f"(0 and 1, or -1 and 1); got labels {classes[:10].tolist()}"
        )
    return np.where(column > threshold, 1, negative)


def _classes(fn: str, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """The sorted union of the labels in ``y_true`` and ``y_pred``."""
    try:
        return np.union1d(y_true, y_pred)
    except TypeError as err:
        raise ValueError(f"{fn}: y_true and y_pred mix label types that cannot be sorted together ({err})") from None


def _class_pair(fn: str, y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Validated label vectors for the label-based classification metrics."""
    t, p = _to_numpy(y_true), _to_numpy(y_pred)
    _check_pair(fn, t, p)
    return _true_labels(fn, t), _label_vector(fn, "y_pred", p)


# ---------------------------------------------------------------------------------------------
# Classification
# ---------------------------------------------------------------------------------------------


def accuracy(y_true: ArrayLike, y_pred: ArrayLike, threshold: float | None = None) -> float:
    """Fraction of samples whose predicted class equals the true class.

    Args:
        y_true: true labels (N,), or one-hot / probability targets (N, C) (argmax taken).
        y_pred: predicted labels (N,); class scores or probabilities (N, C), read by argmax;
            or one column of binary scores (N, 1) or (N,) in float, read by ``threshold``.
        threshold: for a single float score column, predict 1 where ``score > threshold``.
            Default None: 0.5 if every score lies in [0, 1] (probabilities), else 0 (logits);
            a float column of whole numbers is then read as labels.

    Example:
        >>> accuracy([0, 1, 1, 0], [0, 1, 0, 0])
        0.75
        >>> accuracy([0, 1, 1], [[0.2], [0.9], [0.6]])              # probabilities: 0.5
        1.0
        >>> accuracy([0, 1, 1], [-2.0, 3.1, -0.4])                   # logits: threshold 0
        0.6666666666666666
    """
    t, p = _to_numpy(y_true), _to_numpy(y_pred)
    _check_pair("accuracy", t, p)
    t = _true_labels("accuracy", t)
    p = _predicted_labels("accuracy", t, p, threshold)
    return float(np.mean(t == p))


def top_k_accuracy(y_true: ArrayLike, scores: ArrayLike, k: int = 5) -> float:
    """Fraction of samples whose true class is among the ``k`` highest-scoring classes.

    A class counts as a hit when fewer than ``k`` classes score strictly higher than it, so ties
    go in the true class's favour. With ``k >= C`` every sample is a hit.

    Args:
        y_true: integer labels in ``0 .. C-1`` (N,), or one-hot targets (N, C).
        scores: class scores, logits or probabilities of shape (N, C).
        k: how many of the top classes count (>= 1). Default 5.

    Example:
        >>> top_k_accuracy([0, 1, 2], [[0.5, 0.3, 0.2], [0.6, 0.1, 0.3], [0.2, 0.3, 0.5]], k=2)
        0.6666666666666666
    """
    fn = "top_k_accuracy"
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"{fn}: k must be an integer >= 1, got {k!r}")
    t, s = _to_numpy(y_true), _to_numpy(scores)
    _check_pair(fn, t, s, pred_name="scores")
    t = _true_labels(fn, t)
    if s.ndim != 2:
        raise ValueError(f"{fn}: scores must have shape (N, C), got {s.shape}")
    n_classes = s.shape[1]
    if not np.all(np.isin(t, np.arange(n_classes))):
        bad = np.unique(t[~np.isin(t, np.arange(n_classes))])[:10].tolist()
        raise ValueError(
            f"{fn}: scores have {n_classes} columns (labels 0..{n_classes - 1}) but y_true holds labels {bad}"
        )
    true_score = s[np.arange(len(t)), t.astype(np.intp)]
    n_higher = np.sum(s > true_score[:, None], axis=1)
    return float(np.mean(n_higher < k))


def confusion_matrix(y_true: ArrayLike, y_pred: ArrayLike, labels: ArrayLike | None = None) -> np.ndarray:
    """Counts of (true, predicted) label pairs: row ``i`` is true class ``labels[i]``, column ``j``
    predicted class ``labels[j]`` (scikit-learn's layout).

    Args:
        y_true: true labels (N,) (one-hot (N, C) is argmaxed).
        y_pred: predicted labels (N,).
        labels: the classes to index the matrix by, in that order. Default None: the sorted union
            of the labels in ``y_true`` and ``y_pred``. Samples whose true or predicted label is
            not in ``labels`` are left out.

    Returns:
        An int64 array of shape (len(labels), len(labels)).

    Example:
        >>> confusion_matrix([0, 1, 2, 2], [0, 2, 2, 1])
        array([[1, 0, 0],
               [0, 0, 1],
               [0, 1, 1]])
    """
    fn = "confusion_matrix"
    t, p = _class_pair(fn, y_true, y_pred)
    if labels is None:
        classes = _classes(fn, t, p)
    else:
        classes = _to_numpy(labels).reshape(-1)
        if classes.size == 0:
            raise ValueError(f"{fn}: labels is empty")
        if len(np.unique(classes)) != classes.size:
            raise ValueError(f"{fn}: labels has repeated values: {classes.tolist()}")
        if not np.any(np.isin(t, classes)):
            raise ValueError(f"{fn}: none of labels {classes.tolist()} occurs in y_true")
    return _confusion(t, p, classes)


def _confusion(t: np.ndarray, p: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """The confusion matrix of label vectors over ``classes`` (in the given order), one bincount."""
    order = np.argsort(classes, kind="stable")
    sorted_classes = classes[order]
    n = len(classes)

    def index(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pos = np.clip(np.searchsorted(sorted_classes, y), 0, n - 1)
        return order[pos], sorted_classes[pos] == y

    ti, t_ok = index(t)
    pi, p_ok = index(p)
    keep = t_ok & p_ok
    counts = np.bincount(ti[keep] * n + pi[keep], minlength=n * n)
    return counts.reshape(n, n).astype(np.int64)


def format_confusion_matrix(matrix: ArrayLike, labels: Sequence[Any]) -> str:
    """A confusion matrix as text to print: a title, a header of column numbers, one row per class.

    Row ``i`` (the true class ``labels[i]``, its name cut to 5 characters) holds the counts of
    the samples of that class predicted as class ``j``, in the column headed ``j``: columns are
    numbered in the order of ``labels`` rather than named, so that long class names never widen
    them. Every column is as wide as the largest count needs, and at least 3 characters.

    Args:
        matrix: the counts, of shape (C, C), as ``confusion_matrix`` gives them (or nested lists).
        labels: the C class names, in the order of the matrix's rows.

    Returns:
        The lines joined by newlines, without a final newline.

    Example:
        >>> print(format_confusion_matrix([[5, 1], [0, 4]], ["cat", "dog"]))
        confusion matrix (rows: true class, columns: predicted)
                0  1
          cat   5  1
          dog   0  4
    """
    counts = _to_numpy(matrix)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.size == 0:
        raise ValueError(f"format_confusion_matrix: matrix must be square (C, C) with C > 0, got shape {counts.shape}")
    if len(labels) != counts.shape[0]:
        raise ValueError(
            f"format_confusion_matrix: {len(labels)} labels for a matrix of {counts.shape[0]} classes; "
            "give one label per row"
        )
    width = max(3, len(str(counts.max())) + 1)
    lines = [
        "confusion matrix (rows: true class, columns: predicted)",
        " " * 6 + "".join(f"{str(j)[:width]:>{width}}" for j in range(counts.shape[1])),
    ]
    for label, row in zip(labels, counts):
        lines.append(f"{str(label)[:5]:>5} " + "".join(f"{count:>{width}}" for count in row))
    return "\n".join(lines)


def _check_zero_division(fn: str, zero_division: float) -> float:
    value = float(zero_division)
    if not (value in (0.0, 1.0) or math.isnan(value)):
        raise ValueError(f"{fn}: zero_division must be 0.0, 1.0 or nan, got {zero_division!r}")
    return value


def _divide(num: np.ndarray, den: np.ndarray, zero_division: float) -> np.ndarray:
    """``num / den`` element-wise, with ``zero_division`` where ``den`` is 0."""
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    out = np.full(num.shape, zero_division, dtype=np.float64)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _nan_average(values: np.ndarray, weights: np.ndarray | None) -> float:
    """The (weighted) mean ignoring NaNs; NaN if all are NaN; the plain mean if weights sum to 0."""
    keep = ~np.isnan(values)
    if not np.any(keep):
        return float("nan")
    values = values[keep]
    if weights is not None:
        weights = np.asarray(weights, dtype=np.float64)[keep]
        if weights.sum() > 0:
            return float(np.average(values, weights=weights))
    return float(np.mean(values))


def _precision_recall_f1(
    fn: str, y_true: ArrayLike, y_pred: ArrayLike, average: str | None, pos_label: Any, zero_division: float
) -> tuple[Any, Any, Any]:
    """Precision, recall and F1 with scikit-learn's semantics for ``average``, ``pos_label`` and
    ``zero_division`` (F1 = 2 tp / (2 tp + fp + fn), ``zero_division`` when no sample is either
    true or predicted in the class)."""
    if average not in _AVERAGES:
        raise ValueError(f"{fn}: average must be one of {list(_AVERAGES)}, got {average!r}")
    zero_division = _check_zero_division(fn, zero_division)
    t, p = _class_pair(fn, y_true, y_pred)
    classes = _classes(fn, t, p)
    cm = _confusion(t, p, classes)
    tp, pred_sum, true_sum = np.diag(cm), cm.sum(axis=0), cm.sum(axis=1)

    if average == "binary":
        if len(classes) > 2:
            raise ValueError(
                f"{fn}: average='binary' needs at most 2 classes, but y_true and y_pred hold "
                f"{len(classes)}: {classes[:10].tolist()}; choose average='macro', 'micro' "
                f"or 'weighted'"
            )
        hit = np.flatnonzero(classes == pos_label)
        if hit.size == 0:
            if len(classes) == 2:
                raise ValueError(
                    f"{fn}: pos_label={pos_label!r} is not a valid label; it should be one of {classes.tolist()}"
                )
            # At most one class is present and it is not pos_label: the positive class never occurs.
            tp = pred_sum = true_sum = np.zeros(1, dtype=np.int64)
        else:
            tp, pred_sum, true_sum = tp[hit], pred_sum[hit], true_sum[hit]
    elif average == "micro":
        tp, pred_sum, true_sum = (a.sum(keepdims=True) for a in (tp, pred_sum, true_sum))

    prec = _divide(tp, pred_sum, zero_division)
    rec = _divide(tp, true_sum, zero_division)
    f1 = _divide(2 * tp, true_sum + pred_sum, zero_division)
    if average is None:
        return prec, rec, f1
    weights = true_sum if average == "weighted" else None
    return _nan_average(prec, weights), _nan_average(rec, weights), _nan_average(f1, weights)


def precision(
    y_true: ArrayLike, y_pred: ArrayLike, average: str | None = "binary", pos_label: Any = 1, zero_division: float = 0.0
) -> Any:
    """Precision, tp / (tp + fp): of the samples predicted in a class, the fraction truly in it.

    Args:
        y_true: true labels (N,) (one-hot (N, C) is argmaxed).
        y_pred: predicted labels (N,).
        average: 'binary' (default): the score of class ``pos_label`` alone, for at most two
            classes; 'macro': the unweighted mean over classes; 'micro': computed from the
            total true positives, false positives and false negatives; 'weighted': the mean
            weighted by each class's number of true samples; None: one score per class, in the
            order of the sorted classes. The classes are the sorted union of the labels in
            ``y_true`` and ``y_pred``.
        pos_label: the positive class when ``average='binary'``; ignored otherwise. Default 1.
        zero_division: the value for a class whose denominator is 0 (0.0, 1.0 or nan); a NaN
            is left out of the 'macro' and 'weighted' means. Default 0.0.

    Example:
        >>> precision([0, 1, 1, 0], [1, 1, 0, 0])
        0.5
        >>> round(precision([0, 1, 2, 2], [0, 2, 2, 2], average="macro"), 4)
        0.5556
    """
    return _precision_recall_f1("precision", y_true, y_pred, average, pos_label, zero_division)[0]


def recall(
    y_true: ArrayLike, y_pred: ArrayLike, average: str | None = "binary", pos_label: Any = 1, zero_division: float = 0.0
) -> Any:
    """Recall, tp / (tp + fn): of the samples truly in a class, the fraction predicted in it.

    Arguments as ``precision``.

    Example:
        >>> recall([0, 1, 1, 1], [0, 1, 0, 1])
        0.6666666666666666
        >>> recall([0, 1, 2, 2], [0, 2, 2, 2], average="micro")
        0.75
    """
    return _precision_recall_f1("recall", y_true, y_pred, average, pos_label, zero_division)[1]


def f1_score(
    y_true: ArrayLike, y_pred: ArrayLike, average: str | None = "binary", pos_label: Any = 1, zero_division: float = 0.0
) -> Any:
    """F1 score, the harmonic mean of precision and recall: 2 tp / (2 tp + fp + fn).

    Arguments as ``precision``.

    Example:
        >>> f1_score([0, 1, 1, 0], [1, 1, 0, 0])
        0.5
        >>> f1_score([0, 1, 2, 2], [0, 2, 2, 2], average=None)
        array([1. , 0. , 0.8])
    """
    return _precision_recall_f1("f1_score", y_true, y_pred, average, pos_label, zero_division)[2]


# ---------------------------------------------------------------------------------------------
# Regression
# ---------------------------------------------------------------------------------------------


def _regression_pair(fn: str, y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Targets as float (N, outputs) arrays of the same shape; (N,) becomes (N, 1)."""
    t, p = _to_numpy(y_true), _to_numpy(y_pred)
    _check_pair(fn, t, p)
    t = t.reshape(-1, 1) if t.ndim == 1 else t
    p = p.reshape(-1, 1) if p.ndim == 1 else p
    if t.ndim != 2 or p.ndim != 2:
        raise ValueError(
            f"{fn}: targets must have shape (N,) or (N, outputs), got y_true {t.shape} and y_pred {p.shape}"
        )
    if t.shape[1] != p.shape[1]:
        raise ValueError(f"{fn}: y_true has {t.shape[1]} outputs but y_pred has {p.shape[1]}")
    return t.astype(np.float64, copy=False), p.astype(np.float64, copy=False)


def mean_squared_error(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean of the squared errors, averaged uniformly over outputs.

    Example:
        >>> mean_squared_error([3.0, -0.5, 2.0, 7.0], [2.5, 0.0, 2.0, 8.0])
        0.375
    """
    t, p = _regression_pair("mean_squared_error", y_true, y_pred)
    return float(np.mean((t - p) ** 2))


def mean_absolute_error(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean of the absolute errors, averaged uniformly over outputs.

    Example:
        >>> mean_absolute_error([3.0, -0.5, 2.0, 7.0], [2.5, 0.0, 2.0, 8.0])
        0.5
    """
    t, p = _regression_pair("mean_absolute_error", y_true, y_pred)
    return float(np.mean(np.abs(t - p)))


def r2_score(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Coefficient of determination R² = 1 - SS_res / SS_tot, averaged uniformly over outputs.

    1.0 is a perfect fit, 0.0 is no better than predicting the mean, and it can be negative.
    As in scikit-learn, an output whose ``y_true`` is constant scores 1.0 if predicted exactly,
    else 0.0; with fewer than two samples R² is undefined and the result is nan.

    Example:
        >>> round(r2_score([3.0, -0.5, 2.0, 7.0], [2.5, 0.0, 2.0, 8.0]), 4)
        0.9486
    """
    t, p = _regression_pair("r2_score", y_true, y_pred)
    if t.shape[0] < 2:
        return float("nan")
    ss_res = np.sum((t - p) ** 2, axis=0)
    ss_tot = np.sum((t - t.mean(axis=0)) ** 2, axis=0)
    scores = np.where(ss_res == 0, 1.0, 0.0)  # scikit-learn's values when ss_tot is 0
    nonzero = ss_tot != 0
    scores[nonzero] = 1.0 - ss_res[nonzero] / ss_tot[nonzero]
    return float(np.mean(scores))


mse = mean_squared_error
mae = mean_absolute_error
r2 = r2_score


# ---------------------------------------------------------------------------------------------
# Metrics by name, for fit(metrics=[...])
# ---------------------------------------------------------------------------------------------


def _labels_from_raw(fn: str, y_true: ArrayLike, y_pred_raw: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """True and predicted label vectors from targets and a model's raw output (as ``accuracy``)."""
    t, p = _to_numpy(y_true), _to_numpy(y_pred_raw)
    _check_pair(fn, t, p)
    t = _true_labels(fn, t)
    return t, _predicted_labels(fn, t, p, None)


def _top5(y_true: ArrayLike, y_pred_raw: ArrayLike) -> float:
    """Top-5 accuracy on class scores (N, C)."""
    return top_k_accuracy(y_true, y_pred_raw, k=5)


def _macro_precision(y_true: ArrayLike, y_pred_raw: ArrayLike) -> float:
    """Macro-averaged precision on a model's raw output."""
    return precision(*_labels_from_raw("precision", y_true, y_pred_raw), average="macro")


def _macro_recall(y_true: ArrayLike, y_pred_raw: ArrayLike) -> float:
    """Macro-averaged recall on a model's raw output."""
    return recall(*_labels_from_raw("recall", y_true, y_pred_raw), average="macro")


def _macro_f1(y_true: ArrayLike, y_pred_raw: ArrayLike) -> float:
    """Macro-averaged F1 score on a model's raw output."""
    return f1_score(*_labels_from_raw("f1_score", y_true, y_pred_raw), average="macro")


#: Every name ``get_metric`` knows, mapped to a function ``fn(y_true, y_pred_raw) -> float``.
#: Precision, recall and F1 by name are always macro-averaged (for two classes too), so that a
#: name means one thing whatever the data; call ``precision(..., average='binary')`` for the
#: binary score of one class.
METRICS: dict[str, Metric] = {
    "accuracy": accuracy,
    "acc": accuracy,
    "top_k_accuracy": _top5,
    "top5": _top5,
    "precision": _macro_precision,
    "recall": _macro_recall,
    "f1": _macro_f1,
    "f1_score": _macro_f1,
    "mse": mean_squared_error,
    "mean_squared_error": mean_squared_error,
    "mae": mean_absolute_error,
    "mean_absolute_error": mean_absolute_error,
    "r2": r2_score,
    "r2_score": r2_score,
}


def get_metric(metric: str | Metric) -> tuple[str, Metric]:
    """Look up a metric for ``fit(metrics=[...])``, returning ``(name, fn)``.

    ``fn(y_true, y_pred_raw)`` receives the model's raw output (logits, scores or
    probabilities): the classification metrics turn it into labels by argmax for (N, C > 1) and
    by the threshold rule of ``accuracy`` for one column. The name is the string as given (so
    ``'acc'`` is logged as ``'acc'``), or a callable's ``__name__``.

    Known names: 'accuracy'/'acc', 'top_k_accuracy'/'top5' (k=5), 'precision', 'recall',
    'f1'/'f1_score' (these three always macro-averaged), 'mse'/'mean_squared_error',
    'mae'/'mean_absolute_error', 'r2'/'r2_score'. A callable is returned unchanged; it receives
    the raw output too.

    Example:
        >>> name, fn = get_metric("acc")
        >>> name, fn([0, 2], [[0.9, 0.0, 0.1], [0.1, 0.2, 0.7]])
        ('acc', 1.0)
        >>> get_metric("accurcy")
        Traceback (most recent call last):
        ...
        ValueError: unknown metric 'accurcy' (did you mean 'accuracy'?); known metrics: ...
    """
    if callable(metric):
        # A functools.partial has no __name__ of its own; use the wrapped function's.
        named = metric if hasattr(metric, "__name__") else getattr(metric, "func", metric)
        return getattr(named, "__name__", type(metric).__name__), metric
    if not isinstance(metric, str):
        raise TypeError(f"get_metric: expected a metric name or a callable, got {type(metric).__name__}")
    fn = METRICS.get(metric.lower())
    if fn is None:
        close = difflib.get_close_matches(metric.lower(), METRICS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        known = ", ".join(sorted(METRICS))
        raise ValueError(f"unknown metric {metric!r}{hint}; known metrics: {known}")
    return metric, fn
