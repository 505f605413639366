"""Parity with scikit-learn: test accuracy (R²) on its bundled datasets, and, where the two libraries
run the same algorithm from the same start, the same weights.

The accuracy cases and their settings live in ``benchmarks/estimators_parity.py``, which prints the
same comparison as a table with fit times; here each case must agree within its tolerance (1.5
accuracy points for the classifiers, 0.01 R² for LinearRegression, 0.03 for MLPRegressor).
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn import linear_model, neural_network  # noqa: E402

import chainrule as cr  # noqa: E402
from benchmarks.estimators_parity import CASES, CLASSIFICATION, fit_and_score, load_split  # noqa: E402
from chainrule.estimators import (  # noqa: E402
    LinearRegression,
    LogisticRegression,
    MLPClassifier,
    MLPRegressor,
    Perceptron,
)
from chainrule.estimators.base import logits  # noqa: E402
from chainrule.estimators.solver import Objective  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

split = functools.lru_cache(maxsize=None)(load_split)


@pytest.mark.parametrize("case", CASES, ids=[f"{c.estimator}-{c.dataset}" for c in CASES])
def test_test_score_matches_scikit_learn(case):
    data = split(case.dataset)
    sklearn_score, _ = fit_and_score(case.sklearn, data, case.seeds)
    chainrule_score, _ = fit_and_score(case.chainrule, data, case.seeds)
    assert abs(chainrule_score - sklearn_score) <= case.tolerance, (
        f"{case.estimator} on {case.dataset}: chainrule {chainrule_score:.4f}, scikit-learn {sklearn_score:.4f} "
        f"({case.settings})"
    )


@pytest.mark.parametrize("dataset", CLASSIFICATION)
def test_the_perceptron_learns_scikit_learns_weights(dataset):
    # The same algorithm (Rosenblatt's rule from zero, one-vs-rest), the same sample order.
    X_train, _, y_train, _ = split(dataset)
    ours = Perceptron(shuffle=False, tol=None, max_iter=20).fit(X_train, y_train)
    theirs = linear_model.Perceptron(shuffle=False, tol=None, max_iter=20).fit(X_train, y_train)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=1e-10, atol=1e-10)


def _copy_sklearn_weights(ours, theirs) -> None:
    layers = [m for m in ours.network_.modules() if isinstance(m, cr.nn.Linear)]
    for layer, coef, intercept in zip(layers, theirs.coefs_, theirs.intercepts_):
        layer.weight.numpy()[...] = coef.T
        layer.bias.numpy()[...] = intercept


@pytest.mark.parametrize(
    "ours_cls, theirs_cls, dataset",
    [
        (MLPClassifier, neural_network.MLPClassifier, "iris"),
        (MLPClassifier, neural_network.MLPClassifier, "breast_cancer"),
        (MLPRegressor, neural_network.MLPRegressor, "diabetes"),
    ],
)
def test_an_mlp_trained_from_scikit_learns_weights_follows_its_loss_curve(ours_cls, theirs_cls, dataset):
    # Full-batch gradient descent (scikit-learn: solver='sgd', momentum=0, one batch) from the same
    # initial weights: the same loss (log-loss or half squared error, alpha / n * 0.5 ||W||²), the
    # same gradients, the same steps.
    X, _, y, _ = split(dataset)
    if dataset == "diabetes":
        y = (y - y.mean()) / y.std()
    shape = dict(hidden_layer_sizes=(7, 5), activation="tanh", alpha=0.1, random_state=0)
    theirs = theirs_cls(
        solver="sgd", momentum=0.0, batch_size=len(X), shuffle=False, learning_rate_init=1e-12, max_iter=1, **shape
    ).fit(X, y)  # its initial weights (moved by ~1e-12)
    ours = ours_cls(solver="gd", max_iter=1, **shape).fit(X, y)
    _copy_sklearn_weights(ours, theirs)
    theirs.set_params(warm_start=True, learning_rate_init=0.1, max_iter=25, tol=0.0, n_iter_no_change=100).fit(X, y)
    ours.set_params(warm_start=True, learning_rate_init=0.1, max_iter=25, tol=None).fit(X, y)
    np.testing.assert_allclose(ours.loss_curve_[1:], theirs.loss_curve_[1:], rtol=1e-9)
    for a, b in zip(ours.coefs_, theirs.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_the_logistic_regression_gradient_is_the_vectorised_formula(n_classes):
    # The seed's notation: X is (n_features, n) with samples as columns, A = sigmoid(W X + b) (or
    # softmax), Y the targets (0/1, or one-hot): dJ/dW = (1/n)(A - Y)Xᵀ, dJ/db = (1/n)Σ(A - Y).
    X_rows, _, y, _ = split("iris")
    X_rows, y = X_rows[y < n_classes], y[y < n_classes]
    clf = LogisticRegression(penalty=None, max_iter=1).fit(X_rows, y)
    rng = np.random.default_rng(0)
    layer = clf.network_.linear
    layer.weight.numpy()[...] = rng.normal(size=layer.weight.shape)
    layer.bias.numpy()[...] = rng.normal(size=layer.bias.shape)
    targets, *_ = clf._encode_targets(y, None, fresh=False, incremental=False, classes=None)
    clf.network_.zero_grad()
    scores = logits(clf.network_, cr.tensor(X_rows))
    Objective(clf)(scores, targets).backward()  # the loss fit trains on, through chainrule's autodiff

    X, n = X_rows.T, len(y)
    A = clf.network_(cr.tensor(X_rows)).numpy().T  # the neuron(s)' outputs, one column per sample
    Y = (y == 1).astype(float)[None, :] if n_classes == 2 else np.eye(n_classes)[y].T
    np.testing.assert_allclose(layer.weight.grad.numpy(), (A - Y) @ X.T / n, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(layer.bias.grad.numpy(), (A - Y).sum(axis=1) / n, rtol=1e-12, atol=1e-14)


def test_linear_regression_converges_to_least_squares_and_ridge():
    X, _, y, _ = split("diabetes")
    full_batch_momentum = dict(solver="sgd", batch_size=len(X), learning_rate_init=0.1, tol=None)
    ols = linear_model.LinearRegression().fit(X, y)
    ours = LinearRegression(max_iter=1000, **full_batch_momentum).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ols.coef_, rtol=1e-4, atol=1e-4)
    assert ours.intercept_ == pytest.approx(ols.intercept_, rel=1e-9)
    alpha = 0.5  # mean squared error + alpha * 0.5 ||w||² is Ridge(n * alpha / 2)
    ridge = linear_model.Ridge(alpha=len(X) * alpha / 2).fit(X, y)
    ours = LinearRegression(alpha=alpha, max_iter=300, **full_batch_momentum).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ridge.coef_, rtol=1e-8, atol=1e-8)
