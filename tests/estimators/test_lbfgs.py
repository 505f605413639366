"""solver='lbfgs': scipy's L-BFGS-B on chainrule's autodiff gradient reaches scikit-learn's loss.

The cases are the lbfgs columns of ``benchmarks/estimators_parity.py`` (both libraries with
scikit-learn's settings on the standardised training half of iris, breast_cancer, digits and
diabetes; scikit-learn's liblinear for LinearSVC, its closed form for LinearRegression); the loss is
the objective both minimise, computed the same way from either fitted model. Then LogisticRegression
with its defaults on raw iris, as scikit-learn's docstring runs it, and what 'lbfgs' means for the
estimator contract (sample and class weights, C, partial_fit, warm_start, warnings).
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn import linear_model, neural_network, svm  # noqa: E402
from sklearn.datasets import load_iris, make_classification  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from benchmarks.estimators_parity import CASES, fit_lbfgs_pair, load_split, logistic_loss  # noqa: E402
from chainrule.estimators import LinearSVC, LogisticRegression, MLPClassifier, MLPRegressor  # noqa: E402

split = functools.lru_cache(maxsize=None)(load_split)
LBFGS_CASES = [case for case in CASES if case.lbfgs is not None]


@pytest.mark.parametrize("case", LBFGS_CASES, ids=[f"{c.estimator}-{c.dataset}" for c in LBFGS_CASES])
def test_lbfgs_reaches_scikit_learns_loss(case):
    result = fit_lbfgs_pair(case.lbfgs, split(case.dataset), case.seeds[0])
    ours, theirs = result["lbfgs_chainrule_loss"], result["lbfgs_sklearn_loss"]
    assert abs(ours - theirs) <= 1e-3 * theirs, f"{case.estimator} on {case.dataset}: {ours} vs {theirs}"
    # the same solution scores the same on the test half (within one test sample)
    n_test = len(split(case.dataset)[1])
    if case.metric == "accuracy":
        assert abs(result["lbfgs_chainrule"] - result["lbfgs_sklearn"]) <= 1.0 / n_test + 1e-12


def test_the_three_classification_datasets_are_covered():
    covered = {(c.estimator, c.dataset) for c in LBFGS_CASES}
    for estimator in ("LogisticRegression", "LinearSVC", "MLPClassifier"):
        assert {d for e, d in covered if e == estimator} == {"iris", "breast_cancer", "digits"}


def iris_objective(model, X, y) -> float:
    """scikit-learn's LogisticRegression objective divided by C n (mean log-loss + penalty)."""
    return logistic_loss(model, X, y)


@functools.cache
def iris_optimum() -> tuple[float, float]:
    """(objective, log-loss) at scikit-learn's optimum on raw iris, C=1, converged tightly."""
    X, y = load_iris(return_X_y=True)
    best = linear_model.LogisticRegression(tol=1e-10, max_iter=10000).fit(X, y)
    return iris_objective(best, X, y), _log_loss(best, X, y)


def _log_loss(model, X, y) -> float:
    from sklearn.metrics import log_loss

    return float(log_loss(y, model.predict_proba(X)))


def test_logistic_regression_defaults_on_iris_give_scikit_learns_solution():
    # swap the import: scikit-learn's defaults (C=1, lbfgs, max_iter=100, tol=1e-4) on raw iris.
    # Both stop at max_iter=100 with a ConvergenceWarning, at the same point up to rounding. Raw
    # iris is ill-conditioned and the path unconverged, so rounding differences grow along it
    # (scikit-learn 1.9.1, scipy 1.17.1: 4e-15 in the probabilities at 10 iterations, 7e-13 at 20,
    # 6e-10 at 40, 2e-4 at 100, against 1.4e-3 from either to the optimum): the same path is
    # checked where rounding has not grown yet, the end point against the optimum and loosely.
    X, y = load_iris(return_X_y=True)
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge after 100 iteration"):
        ours = LogisticRegression(random_state=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs = linear_model.LogisticRegression(random_state=0).fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_[0] == 100
    optimum, optimum_log_loss = iris_optimum()
    assert iris_objective(ours, X, y) - optimum <= 1e-4
    assert abs(_log_loss(ours, X, y) - _log_loss(theirs, X, y)) <= 1e-4
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=0, atol=1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        early = [
            model(max_iter=20, random_state=0).fit(X, y)
            for model in (LogisticRegression, linear_model.LogisticRegression)
        ]
    np.testing.assert_allclose(early[0].predict_proba(X), early[1].predict_proba(X), rtol=0, atol=1e-10)
    converged = LogisticRegression(max_iter=1000).fit(X, y)  # no warning: it converges
    assert abs(_log_loss(converged, X, y) - optimum_log_loss) <= 1e-4
    assert iris_objective(converged, X, y) - optimum <= 1e-6


def noisy_classes(n_classes: int = 3):
    X, y = make_classification(
        n_samples=150, n_features=5, n_informative=3, n_classes=n_classes, flip_y=0.2, random_state=0
    )
    return X, y


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (dict(C=0.05), dict(C=0.05)),
        (dict(fit_intercept=False), dict(fit_intercept=False)),
        (dict(penalty=None), dict(C=np.inf)),  # scikit-learn 1.8+ spells no penalty C=np.inf
        (dict(C=np.inf), dict(C=np.inf)),
        (dict(class_weight="balanced"), dict(class_weight="balanced")),
    ],
    ids=["C", "no-intercept", "penalty-None", "C-inf", "class_weight"],
)
@pytest.mark.parametrize("n_classes", [2, 3])
def test_logistic_regression_parameters_mean_what_they_mean_in_scikit_learn(ours, theirs, n_classes):
    X, y = noisy_classes(n_classes)
    y = np.where(y == 0, 0, y)  # keep the classes as they are; 'balanced' sees their counts
    if n_classes == 2 and "class_weight" in ours:
        X, y = X[30:], y[30:]  # unbalance the two classes
    a = LogisticRegression(tol=1e-8, max_iter=1000, **ours).fit(X, y)
    b = linear_model.LogisticRegression(tol=1e-8, max_iter=1000, **theirs).fit(X, y)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=1e-4, atol=1e-5)


def test_sample_weights_and_c_as_scikit_learn():
    X, y = noisy_classes(3)
    w = np.random.default_rng(0).uniform(0.2, 3.0, size=len(y))
    a = LogisticRegression(tol=1e-8, max_iter=1000).fit(X, y, sample_weight=w)
    b = linear_model.LogisticRegression(tol=1e-8, max_iter=1000).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-4, atol=1e-5)
    doubled = LogisticRegression(tol=1e-8, max_iter=1000).fit(X, y, sample_weight=2 * w)
    twice_c = LogisticRegression(C=2.0, tol=1e-8, max_iter=1000).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(doubled.coef_, twice_c.coef_, rtol=1e-5, atol=1e-6)  # C * sum(w_i loss_i)
    assert not np.allclose(doubled.coef_, a.coef_, rtol=1e-3)


@pytest.mark.parametrize("loss", ["squared_hinge", "hinge"])
def test_linear_svc_solution_is_liblinears(loss):
    # liblinear penalises the intercept (as the weight of a constant feature intercept_scaling)
    X, y = noisy_classes(2)
    theirs = svm.LinearSVC(loss=loss, intercept_scaling=2.0, tol=1e-8, max_iter=100000).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the hinge's kinks can stop the line search
        ours = LinearSVC(loss=loss, intercept_scaling=2.0, tol=1e-8, max_iter=2000).fit(X, y)
    tolerance = 1e-4 if loss == "squared_hinge" else 2e-2
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=tolerance, atol=tolerance)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize(
    "ours_cls, theirs_cls", [(MLPClassifier, neural_network.MLPClassifier), (MLPRegressor, neural_network.MLPRegressor)]
)
def test_mlp_lbfgs_takes_scikit_learns_steps(ours_cls, theirs_cls):
    # the same initial weights (the same draws from random_state), the same loss and gradient:
    # L-BFGS-B takes the same iterations
    X, y = noisy_classes(3)
    if ours_cls is MLPRegressor:
        y = X[:, 0] * 2.0 - X[:, 1] ** 2
    params = dict(solver="lbfgs", hidden_layer_sizes=(6, 4), activation="tanh", alpha=0.1, random_state=3, max_iter=40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = ours_cls(**params).fit(X, y)
        theirs = theirs_cls(**params).fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-8)
    for a, b in zip(ours.coefs_, theirs.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)
    assert len(ours.loss_curve_) == ours.n_iter_ and ours.loss_curve_[-1] == ours.loss_


def test_mlp_max_fun_limits_the_loss_evaluations():
    X, y = noisy_classes(3)
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
        clf = MLPClassifier(solver="lbfgs", hidden_layer_sizes=(5,), max_fun=10, random_state=0).fit(X, y)
    assert clf.n_iter_ < 10


def test_partial_fit_is_not_there_for_lbfgs():
    assert not hasattr(LogisticRegression(), "partial_fit")
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")
    assert hasattr(LogisticRegression(solver="sgd"), "partial_fit") and hasattr(MLPClassifier(), "partial_fit")
    with pytest.raises(AttributeError, match="has no attribute 'partial_fit'") as error:
        LinearSVC().partial_fit  # noqa: B018 - the attribute access is what raises
    assert "LinearSVC: partial_fit is only available for the solvers that step" in str(error.value.__cause__)


def test_warm_start_continues_from_the_solution():
    X, y = noisy_classes(3)
    clf = LogisticRegression(warm_start=True, tol=1e-6, max_iter=500).fit(X, y)
    first = clf.n_iter_
    clf.fit(X, y)
    assert clf.n_iter_ < first / 3  # already at the minimum
    assert len(clf.loss_curve_) == first + clf.n_iter_ or clf.n_iter_ == 0


def test_lbfgs_progress_counts_iterations(capsys):
    X, y = noisy_classes(2)
    clf = LogisticRegression(verbose=1).fit(X, y)
    err = capsys.readouterr().err
    assert f"{clf.n_iter_}/100" in err and "LogisticRegression" in err  # a bar over the iterations
    assert f"loss={clf.loss_curve_[-1]:.6g}" in err
    LogisticRegression().fit(X, y)
    assert capsys.readouterr().err == ""
