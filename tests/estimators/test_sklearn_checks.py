"""scikit-learn's own conformance suite (``parametrize_with_checks``) on every estimator.

The instances keep scikit-learn's checks quick with small ``max_iter`` (as scikit-learn does for
its own iterative estimators: ``Perceptron(max_iter=5)``, ``MLPClassifier(max_iter=100)``);
everything else is the estimators' defaults.

Every check runs. One is expected to fail, with the reason below; the test after the suite shows
that the same check passes for the Perceptron trained by full-batch gradient descent.

Checks that scikit-learn itself skips in some environments: ``check_array_api_input`` runs only
with the environment variable SCIPY_ARRAY_API=1 and array-api-compat installed, which
``tests/conftest.py`` and the ``test`` extra provide (these estimators do not declare array API
support, so the check confirms that turning the dispatch on changes nothing for NumPy input);
``check_sample_weights_pandas_series`` and the DataFrame checks need pandas (also in the extra).
"""

from __future__ import annotations

import pytest

pytest.importorskip("sklearn")

from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.utils.estimator_checks import (  # noqa: E402
    check_sample_weight_equivalence_on_dense_data,
    parametrize_with_checks,
)

from chainrule.estimators import (  # noqa: E402
    LinearRegression,
    LinearSVC,
    LogisticRegression,
    MLPClassifier,
    MLPRegressor,
    Perceptron,
)

ESTIMATORS = [
    Perceptron(max_iter=5),
    LogisticRegression(max_iter=50),
    LinearSVC(max_iter=50),
    LinearRegression(max_iter=200),
    MLPClassifier(max_iter=100),
    MLPRegressor(max_iter=100),
]

ONE_SAMPLE_SGD = (
    "solver='sgd' takes one step per sample: a sample of weight k gets one step k times as large, "
    "its k repeats get k steps at different points of the epoch, so the weights differ (the "
    "expectation of the update is the same). scikit-learn marks its own Perceptron and "
    "SGDClassifier with this reason; with solver='gd' the check passes "
    "(test_perceptron_weights_are_repeats_with_full_batches)."
)


def expected_failed_checks(estimator) -> dict[str, str]:
    """The checks expected to fail for an estimator, with the reason."""
    if isinstance(estimator, Perceptron) and estimator.solver == "sgd":
        return {"check_sample_weight_equivalence_on_dense_data": ONE_SAMPLE_SGD}
    return {}


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks, xfail_strict=True)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_perceptron_weights_are_repeats_with_full_batches():
    # Full-batch gradient descent sees a sample of weight k exactly as k copies of it.
    check_sample_weight_equivalence_on_dense_data("Perceptron", Perceptron(solver="gd", max_iter=20))


def test_convergence_warning_is_the_only_warning_of_a_short_fit():
    import numpy as np

    X = np.random.default_rng(0).normal(size=(40, 3))
    y = (X[:, 0] > 0).astype(int)
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
        LogisticRegression(max_iter=2).fit(X, y)
    with pytest.warns(ConvergenceWarning, match="maximum iterations"):
        LogisticRegression(solver="adam", max_iter=2).fit(X, y)
