"""The estimators train through fit's compiled step: the same weights as eager training, for every
solver that takes steps, with sample weights, class weights and partial_fit."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.base import clone

import chainrule as cr
from chainrule.compiler import CompileWarning
from chainrule.estimators import (
    LinearRegression,
    LinearSVC,
    LogisticRegression,
    MLPClassifier,
    MLPRegressor,
    Perceptron,
)

CASES = [
    Perceptron(random_state=0, max_iter=5, tol=None),  # one sample a step, skipping the zero gradients
    Perceptron(random_state=0, max_iter=5, tol=None, penalty="l2", alpha=1e-3),  # every sample
    LogisticRegression(solver="sgd", batch_size=16, max_iter=5, tol=None, random_state=0),
    LogisticRegression(solver="gd", max_iter=20, tol=None, class_weight="balanced"),
    LinearSVC(solver="sgd", batch_size=8, max_iter=5, tol=None, random_state=0),
    LinearSVC(solver="gd", loss="squared_hinge", max_iter=20, tol=None),
    LinearRegression(solver="sgd", batch_size=8, max_iter=5, tol=None, random_state=0),
    MLPClassifier(hidden_layer_sizes=(8,), batch_size=16, max_iter=5, tol=None, random_state=0),
    MLPRegressor(hidden_layer_sizes=(8,), solver="adam", batch_size=16, max_iter=5, tol=None, random_state=0),
]


def data(estimator, n=60):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 4))
    if isinstance(estimator, (LinearRegression, MLPRegressor)):
        return X, X @ np.array([1.0, -2.0, 0.5, 0.0]) + rng.normal(scale=0.1, size=n)
    return X, (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1).astype(int)


def weights_of(estimator):
    return [np.array(p.numpy()) for p in estimator.network_.parameters()]


def fitted_as_eagerly(estimator, weighted):
    """A clone of ``estimator`` fitted (its steps compiled, no CompileWarning), checked against a
    clone fitted with compiling off: the same weights and loss curve."""
    X, y = data(estimator)
    sw = np.linspace(0.5, 2.0, len(X)) if weighted else None
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)  # every solver step compiles
        warnings.simplefilter("ignore", UserWarning)  # convergence warnings of short runs
        compiled = clone(estimator).fit(X, y, sample_weight=sw)
        with cr.compiler.disable():
            eager = clone(estimator).fit(X, y, sample_weight=sw)
    for a, b in zip(weights_of(compiled), weights_of(eager)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(compiled.loss_curve_, eager.loss_curve_, rtol=1e-12)
    return compiled


@pytest.mark.parametrize("estimator", CASES, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("weighted", [False, True])
def test_compiled_training_matches_eager_training(estimator, weighted):
    compiled = fitted_as_eagerly(estimator, weighted)
    (step,) = compiled._optimizer._fit_steps.values()
    assert step.run.stats["replayed"] > 0


def test_partial_fit_replays_the_step_recorded_by_the_first_call():
    X, y = data(MLPClassifier())
    est = MLPClassifier(hidden_layer_sizes=(8,), batch_size=10, random_state=0)
    eager = clone(est)
    for i in range(4):
        rows = slice(15 * i, 15 * (i + 1))
        est.partial_fit(X[rows], y[rows], classes=[0, 1, 2])
        with cr.compiler.disable():
            eager.partial_fit(X[rows], y[rows], classes=[0, 1, 2])
    for a, b in zip(weights_of(est), weights_of(eager)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    (step,) = est._optimizer._fit_steps.values()  # one step, kept across the calls
    assert step.run.stats["recorded"] == 4  # batches of 10 and of 5: two recordings each
    assert step.run.stats["replayed"] == 8 - 4


LBFGS_CASES = [
    LogisticRegression(),
    LinearSVC(),
    LinearSVC(loss="hinge", solver="lbfgs", max_iter=30),
    LinearRegression(solver="lbfgs"),
    MLPClassifier(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=30, random_state=0),
    MLPRegressor(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=30, random_state=0),
]


@pytest.mark.parametrize("estimator", LBFGS_CASES, ids=lambda e: f"{type(e).__name__}-{e.get_params()['solver']}")
@pytest.mark.parametrize("weighted", [False, True])
def test_the_lbfgs_solver_evaluates_through_a_compiled_step(estimator, weighted, monkeypatch):
    """'lbfgs' (the default of LogisticRegression and LinearSVC) evaluates its objective and gradient
    in a compiled step after its first points: recorded on two, replayed on the rest, with the eager
    fit's weights."""
    from chainrule.estimators import solver

    made = []

    class Kept(solver.CompiledFunction):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(solver, "CompiledFunction", Kept)
    monkeypatch.setattr(solver, "LBFGS_EAGER_POINTS", 3)  # (20 by default: these fits are short)
    fitted_as_eagerly(estimator, weighted)
    assert made and made[0].stats["recorded"] == 2 and made[0].stats["replayed"] > 0
    assert made[0].stats["eager"] == 0
