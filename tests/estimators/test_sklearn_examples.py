"""scikit-learn's docstring examples, run on chainrule's estimators with only the import swapped.

Each test runs the program of the Examples section of the scikit-learn estimator's docstring
(written here, not copied) on both libraries and compares chainrule's output with scikit-learn's,
computed in the test, to the precision the docstring prints it with, where the algorithm is the
same and deterministic: LogisticRegression (lbfgs from zero weights), MLPClassifier and
MLPRegressor (Adam from scikit-learn's initial weights, the same batches). The Perceptron's
example shuffles the samples every epoch, and scikit-learn draws that order in its compiled SGD
with a generator of its own per class; its test compares the same program with ``shuffle=False``,
where the two algorithms are the same: one-vs-rest Rosenblatt updates in the data's order.

Then the warnings: chainrule's are scikit-learn's classes, so scikit-learn's filters catch them.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

import sklearn.linear_model  # noqa: E402
import sklearn.neural_network  # noqa: E402
from sklearn.datasets import load_digits, load_iris, make_classification, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

import chainrule.estimators  # noqa: E402


def libraries():
    """The two modules of estimators the examples import from: scikit-learn's, then chainrule's."""
    sk = {
        "LogisticRegression": sklearn.linear_model.LogisticRegression,
        "Perceptron": sklearn.linear_model.Perceptron,
        "MLPClassifier": sklearn.neural_network.MLPClassifier,
        "MLPRegressor": sklearn.neural_network.MLPRegressor,
    }
    cr = {name: getattr(chainrule.estimators, name) for name in sk}
    return sk, cr


def run_quietly(program, estimators):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return program(estimators)


def logistic_regression_example(est):
    X, y = load_iris(return_X_y=True)
    clf = est["LogisticRegression"](random_state=0).fit(X, y)
    return clf.predict(X[:2, :]), clf.predict_proba(X[:2, :]), clf.score(X, y)


def test_logistic_regression_example():
    sk, cr = libraries()
    (sk_pred, sk_proba, sk_score), (cr_pred, cr_proba, cr_score) = (
        run_quietly(logistic_regression_example, lib) for lib in (sk, cr)
    )
    np.testing.assert_array_equal(cr_pred, sk_pred)
    np.testing.assert_allclose(cr_proba, sk_proba, rtol=5e-3)  # printed with 3 significant digits
    assert round(cr_score, 2) == round(sk_score, 2) == 0.97  # printed with 2 decimals


def mlp_classifier_example(est):
    X, y = make_classification(n_samples=100, random_state=1)
    X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=1)
    clf = est["MLPClassifier"](random_state=1, max_iter=300).fit(X_train, y_train)
    return clf.predict_proba(X_test[:1]), clf.predict(X_test[:5, :]), clf.score(X_test, y_test), clf.n_iter_


def test_mlp_classifier_example():
    sk, cr = libraries()
    (sk_proba, sk_pred, sk_score, sk_iter), (cr_proba, cr_pred, cr_score, cr_iter) = (
        run_quietly(mlp_classifier_example, lib) for lib in (sk, cr)
    )
    np.testing.assert_allclose(cr_proba, sk_proba, rtol=5e-3)  # printed with 3 significant digits
    np.testing.assert_array_equal(cr_pred, sk_pred)
    assert cr_score == sk_score  # printed as 0.8...: the same test samples right
    assert cr_iter == sk_iter  # the same epochs before the stopping rule fired


def mlp_regressor_example(est):
    X, y = make_regression(n_samples=200, n_features=20, random_state=1)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=1)
    regr = est["MLPRegressor"](random_state=1, max_iter=2000, tol=0.1).fit(X_train, y_train)
    return regr.predict(X_test[:2]), regr.score(X_test, y_test), regr.get_params()


def test_mlp_regressor_example():
    sk, cr = libraries()
    (sk_pred, sk_score, sk_params), (cr_pred, cr_score, cr_params) = (
        run_quietly(mlp_regressor_example, lib) for lib in (sk, cr)
    )
    assert abs(cr_pred[0] - sk_pred[0]) <= 0.005  # printed with 2 decimals
    assert abs(cr_pred[1] - sk_pred[1]) <= 0.5  # printed with none
    assert round(cr_score, 2) == round(sk_score, 2)
    assert {k: cr_params[k] for k in sk_params if k != "loss"} == {k: v for k, v in sk_params.items() if k != "loss"}


def perceptron_example(est):
    X, y = load_digits(return_X_y=True)
    clf = est["Perceptron"](tol=1e-3, random_state=0, shuffle=False)  # the example, in the data's order
    clf.fit(X, y)
    return clf.score(X, y), clf.n_iter_


def test_perceptron_example_in_the_data_order():
    # One-vs-rest Rosenblatt updates in the same order; scikit-learn stops each class's neuron when
    # its own loss stops improving, chainrule all of them together, so the last epochs differ. With
    # the epochs fixed the weights are the same (test_parity.py: to 1e-10 on digits).
    sk, cr = libraries()
    (sk_score, sk_epochs), (cr_score, cr_epochs) = (run_quietly(perceptron_example, lib) for lib in (sk, cr))
    assert abs(cr_score - sk_score) < 0.05
    assert cr_epochs >= sk_epochs  # together: until the last neuron stops


def test_binary_perceptron_with_tol_is_scikit_learns():
    # one neuron: the same stopping rule (the loss has not improved by tol for n_iter_no_change
    # epochs) on the same losses, so the same epochs and weights, with or without an L2 penalty
    X, y = load_digits(return_X_y=True)
    X, y = X[:150], y[:150] == 3
    for penalty in (None, "l2"):
        params = dict(tol=1e-3, shuffle=False, penalty=penalty, alpha=1e-2)
        ours = chainrule.estimators.Perceptron(**params).fit(X, y)
        theirs = sklearn.linear_model.Perceptron(**params).fit(X, y)
        assert ours.n_iter_ == theirs.n_iter_
        np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-8, atol=1e-8)


NOT_CHAINRULES = {
    "LogisticRegression": {"dual", "intercept_scaling", "l1_ratio", "n_jobs"},
    "Perceptron": {"n_jobs"},
    "MLPClassifier": set(),
    "MLPRegressor": {"loss"},  # 'squared_error' only: chainrule's MLPRegressor has no Poisson loss
}
"""scikit-learn's parameters that chainrule's estimators do not take (a TypeError names them)."""


def test_the_defaults_are_scikit_learns():
    sk, cr = libraries()
    for name in sk:
        theirs, ours = sk[name]().get_params(), cr[name]().get_params()
        assert set(theirs) - set(ours) == NOT_CHAINRULES[name], name
        shared = {k: v for k, v in theirs.items() if k in ours}
        if name == "LogisticRegression":
            assert shared.pop("penalty") == "deprecated"  # scikit-learn 1.8+, meaning 'l2'
            assert ours["penalty"] == "l2"
        assert {k: ours[k] for k in shared} == shared, name
    assert cr["LogisticRegression"]().solver == "lbfgs" and cr["MLPClassifier"]().solver == "adam"
    svc = chainrule.estimators.LinearSVC().get_params()
    assert (svc["C"], svc["loss"], svc["penalty"], svc["max_iter"], svc["tol"]) == (
        1.0,
        "squared_hinge",
        "l2",
        1000,
        1e-4,
    )


# ------------------------------------------------------------------ warnings


@pytest.mark.parametrize(
    "make",
    [
        lambda: chainrule.estimators.LogisticRegression(max_iter=2),  # lbfgs
        lambda: chainrule.estimators.MLPClassifier(hidden_layer_sizes=(4,), max_iter=2),  # adam
        lambda: chainrule.estimators.Perceptron(max_iter=1),  # Rosenblatt's rule
    ],
    ids=["lbfgs", "adam", "sgd"],
)
def test_convergence_warnings_are_scikit_learns(make):
    X, y = make_classification(n_samples=60, n_features=4, flip_y=0.2, random_state=0)
    with pytest.warns(ConvergenceWarning) as record:
        make().fit(X, y)
    assert all(w.category is ConvergenceWarning for w in record)
    assert record[0].filename == __file__  # it points at the line that called fit
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning that gets through fails
        warnings.filterwarnings("ignore", category=ConvergenceWarning)  # scikit-learn's idiom
        make().fit(X, y)
