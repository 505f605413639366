"""The estimators inside scikit-learn's tools: Pipeline, GridSearchCV, cross_val_score, clone and
permutation_importance."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.base import clone, is_classifier, is_regressor  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_diabetes  # noqa: E402
from sklearn.inspection import permutation_importance  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import Pipeline, make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from chainrule.estimators import (  # noqa: E402
    LinearRegression,
    LinearSVC,
    LogisticRegression,
    MLPClassifier,
    MLPRegressor,
    Perceptron,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

ESTIMATORS = [
    Perceptron(random_state=0),
    LogisticRegression(random_state=0),
    LinearSVC(random_state=0),
    LinearRegression(),
    MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=60, random_state=0),
    MLPRegressor(hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=100, random_state=0),
]
IDS = [type(e).__name__ for e in ESTIMATORS]
GRIDS = {
    "Perceptron": {"fit_intercept": [True, False]},
    "LogisticRegression": {"C": [0.1, 10.0]},
    "LinearSVC": {"loss": ["hinge", "squared_hinge"]},
    "LinearRegression": {"alpha": [0.0, 0.1]},
    "MLPClassifier": {"hidden_layer_sizes": [(4,), (16,)]},
    "MLPRegressor": {"alpha": [1e-4, 1.0]},
}


def data_for(estimator) -> tuple[np.ndarray, np.ndarray]:
    if is_classifier(estimator):
        X, y = load_breast_cancer(return_X_y=True)
        return X[:240, :8], y[:240]
    X, y = load_diabetes(return_X_y=True)
    return X[:240], (y[:240] - y.mean()) / y.std()


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=IDS)
def test_in_a_pipeline(estimator):
    X, y = data_for(estimator)
    pipe = make_pipeline(StandardScaler(), clone(estimator)).fit(X, y)
    assert pipe.score(X, y) > (0.85 if is_classifier(estimator) else 0.3)
    assert pipe.predict(X).shape == (len(X),)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=IDS)
def test_grid_search(estimator):
    X, y = data_for(estimator)
    name = type(estimator).__name__
    grid = {f"model__{k}": v for k, v in GRIDS[name].items()}
    search = GridSearchCV(Pipeline([("scale", StandardScaler()), ("model", clone(estimator))]), grid, cv=3)
    search.fit(X, y)
    assert set(search.best_params_) == set(grid)
    assert search.best_estimator_.named_steps["model"].network_ is not None
    assert len(search.cv_results_["mean_test_score"]) == 2


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=IDS)
def test_cross_val_score(estimator):
    X, y = data_for(estimator)
    scores = cross_val_score(make_pipeline(StandardScaler(), clone(estimator)), X, y, cv=3)
    assert scores.shape == (3,)
    assert scores.mean() > (0.85 if is_classifier(estimator) else 0.2)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=IDS)
def test_clone_copies_parameters_not_the_fit(estimator):
    X, y = data_for(estimator)
    fitted = clone(estimator).fit(StandardScaler().fit_transform(X), y)
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params()
    assert not hasattr(copy, "network_") and not hasattr(copy, "n_iter_")
    assert copy.set_params(max_iter=3).max_iter == 3 and fitted.max_iter != 3
    assert is_classifier(copy) or is_regressor(copy)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=IDS)
def test_permutation_importance_finds_the_informative_feature(estimator):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    signal = 2.0 * X[:, 0] + 0.5 * X[:, 1]  # feature 0 matters most, feature 2 not at all
    y = (signal > 0).astype(int) if is_classifier(estimator) else signal + 0.1 * rng.normal(size=200)
    model = clone(estimator).fit(X, y)
    result = permutation_importance(model, X, y, n_repeats=5, random_state=0)
    importances = result.importances_mean
    assert importances[0] > importances[1] > importances[2] - 0.01
    assert abs(importances[2]) < 0.05
