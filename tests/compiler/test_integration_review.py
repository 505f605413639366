"""cr.compile inside fit and the estimators, against the same run eagerly (``compile=False`` or
``cr.compiler.disable()``): each test fails while a compiled run silently differs from eager."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule.compiler import CompileWarning
from chainrule.train import LambdaCallback, fit


def _data(n=64, seed=0):
    rs = np.random.RandomState(seed)
    return rs.randn(n, 4).astype("float32"), rs.randint(0, 3, n).astype("int64")


def _fit_with_scheduled_loss_weight(compile, holder):
    """A loss weight annealed by a callback (KL/β annealing), read from a closure or an object."""
    X, y = _data()
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    state = {"beta": 1.0}

    def loss_fn(out, target):
        return F.cross_entropy(out, target) * state["beta"]

    class Loss:
        def __init__(self):
            self.cfg = state

        def __call__(self, out, target):
            return F.cross_entropy(out, target) * self.cfg["beta"]

    anneal = LambdaCallback(on_epoch_begin=lambda epoch: state.update(beta=0.1 * epoch))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CompileWarning)
        history = fit(
            model,
            loss_fn if holder == "closure" else Loss(),
            opt,
            X,
            y,
            epochs=3,
            batch_size=16,
            callbacks=[anneal],
            verbose=0,
            compile=compile,
        )
    return history.history["loss"], [p.numpy().copy() for p in model.parameters()]


@pytest.mark.parametrize("holder", ["closure", "object"])
def test_fit_default_compile_follows_a_loss_weight_a_callback_changes(holder):
    # fit compiles the user's loss_fn by default (the user wrote no cr.compile): a Python number the
    # loss reads from a closure / a dict an object holds is frozen at its value when recorded
    eager_loss, eager_w = _fit_with_scheduled_loss_weight(False, holder)
    comp_loss, comp_w = _fit_with_scheduled_loss_weight(True, holder)
    assert comp_loss == eager_loss
    for a, b in zip(eager_w, comp_w):
        np.testing.assert_array_equal(a, b)


def _partial_fit_then_set_params(make, y_kind, **new):
    rs = np.random.RandomState(0)
    X = rs.randn(80, 5)
    y = X @ rs.randn(5) + 0.1 * rs.randn(80)
    if y_kind == "class":
        y = (y > 0).astype(int)
    runs = []
    for compiled in (False, True):
        est = make()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if compiled:
                fit_calls = _three_then_two(est, X, y, new)
            else:
                with cr.compiler.disable():
                    fit_calls = _three_then_two(est, X, y, new)
        runs.append(fit_calls)
    return runs


def _three_then_two(est, X, y, new):
    for _ in range(3):  # the third partial_fit replays the step the first two recorded
        est.partial_fit(X, y)
    est.set_params(**new)  # scikit-learn: partial_fit uses the parameters as they are now
    for _ in range(2):
        est.partial_fit(X, y)
    coefs = est.coefs_ if hasattr(est, "coefs_") else [est.coef_]
    return [np.array(c, copy=True) for c in coefs], est.predict(X)


@pytest.mark.parametrize(
    "name",
    ["LinearRegression", "MLPRegressor"],
)
def test_partial_fit_after_set_params_alpha_uses_the_new_alpha(name):
    pytest.importorskip("sklearn")
    from chainrule import estimators

    def make():
        if name == "MLPRegressor":
            return estimators.MLPRegressor(hidden_layer_sizes=(6,), random_state=0, solver="sgd")
        return estimators.LinearRegression(random_state=0)

    (eager_w, eager_p), (comp_w, comp_p) = _partial_fit_then_set_params(make, "reg", alpha=5.0)
    for a, b in zip(eager_w, comp_w):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(eager_p, comp_p)


def test_fit_with_a_fresh_loss_module_each_call_does_not_keep_every_loss_and_step():
    # fit(model, nn.CrossEntropyLoss(), opt, ...) in a loop (a loss made inline, the usual style):
    # each call adds a compiled step to opt._fit_steps, keyed by id(loss_fn), never dropped: the
    # losses and their steps (~35 KiB each for a small MLP) pile up for as long as the optimizer lives
    import gc
    import weakref

    X, y = _data()
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    refs = []
    for _ in range(5):
        loss = nn.CrossEntropyLoss()
        fit(model, loss, opt, X, y, epochs=1, batch_size=16, verbose=0)
        refs.append(weakref.ref(loss))
        del loss
    gc.collect()
    alive = sum(r() is not None for r in refs[:-1])  # the last may stay cached for the next fit
    assert alive == 0, f"{alive} loss modules of earlier fit calls are still alive (kept by opt._fit_steps)"
