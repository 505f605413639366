"""The estimators on a Dask cluster: a grid search run by joblib's Dask backend on two worker
processes finds what the same search finds in this process, and every estimator crosses process
boundaries (pickled, unpickled, fitted or predicting in a worker) with the same results.

The cluster listens on the loopback interface only (127.0.0.1, every port chosen by the system) and
has no dashboards; it is started once for this module and closed at its end."""

from __future__ import annotations

import logging
import os
import pickle

import joblib
import numpy as np
import pytest
from dask.distributed import Client, LocalCluster, get_task_stream
from sklearn.base import BaseEstimator, clone, is_classifier
from sklearn.datasets import make_blobs, make_regression
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import StandardScaler

import chainrule.estimators
from chainrule.estimators import LinearRegression, MLPClassifier

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# Every estimator class the package exports (InvalidParameterError is exported too, but it is an error).
ESTIMATOR_CLASSES = [
    cls
    for cls in (getattr(chainrule.estimators, name) for name in chainrule.estimators.__all__)
    if isinstance(cls, type) and issubclass(cls, BaseEstimator)
]

# Settings that fit the small problems here quickly; a class not named here is tested with its defaults.
QUICK = {
    "Perceptron": dict(max_iter=20, random_state=0),
    "LogisticRegression": dict(max_iter=50, random_state=0),
    "LinearSVC": dict(max_iter=50, random_state=0),
    "LinearRegression": dict(max_iter=100, random_state=0),
    "MLPClassifier": dict(hidden_layer_sizes=(6,), learning_rate_init=0.05, max_iter=30, random_state=0),
    "MLPRegressor": dict(hidden_layer_sizes=(6,), learning_rate_init=0.05, max_iter=30, random_state=0),
}


def classification(n: int = 150) -> tuple[np.ndarray, np.ndarray]:
    X, y = make_blobs(n_samples=n, centers=3, n_features=4, cluster_std=3.0, random_state=0)
    return StandardScaler().fit_transform(X), y


def regression(n: int = 150) -> tuple[np.ndarray, np.ndarray]:
    X, y = make_regression(n_samples=n, n_features=4, noise=5.0, random_state=0)
    return X, (y - y.mean()) / y.std()


def data_for(estimator) -> tuple[np.ndarray, np.ndarray]:
    return classification() if is_classifier(estimator) else regression()


def outputs(estimator, X) -> dict[str, np.ndarray]:
    """Everything the estimator computes for X: predictions, and probabilities or scores where it has them."""
    results = {"predict": estimator.predict(X)}
    for method in ("predict_proba", "decision_function"):
        if hasattr(estimator, method):
            results[method] = getattr(estimator, method)(X)
    return results


def assert_same_outputs(actual: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    assert actual.keys() == expected.keys()
    for method in expected:
        np.testing.assert_array_equal(actual[method], expected[method], err_msg=method)


@pytest.fixture(scope="module")
def client():
    """A two-process Dask cluster on the loopback interface, without dashboards, and its client."""
    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,  # no Bokeh dashboard
        # the scheduler still serves plain HTTP (health, metrics); on 8787 by default, which warns when
        # that port is taken (another cluster, a parallel test run): a free port chosen by the system
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
        silence_logs=logging.ERROR,  # distributed's loggers: errors only, not its start and close messages
    )
    dask_client = Client(cluster)
    try:
        yield dask_client
    finally:
        dask_client.close()
        cluster.close()


def test_the_workers_are_other_processes(client):
    """The checks below run in other processes: pickles really cross a process boundary."""
    pids = client.run(os.getpid)  # one answer per worker
    assert len(pids) == 2
    assert os.getpid() not in pids.values()
    addresses = [client.scheduler.address, *pids]
    assert all(address.startswith("tcp://127.0.0.1:") for address in addresses), addresses


def grid_search_both_ways(estimator, grid, X, y, client) -> tuple[GridSearchCV, GridSearchCV]:
    """The same search twice: on the Dask cluster through joblib, then here in one process."""
    on_dask = GridSearchCV(clone(estimator), grid, cv=3, n_jobs=-1)
    with get_task_stream(client) as tasks, joblib.parallel_backend("dask"):
        on_dask.fit(X, y)
    assert tasks.data, "the search ran no task on the cluster"
    here = GridSearchCV(clone(estimator), grid, cv=3, n_jobs=1).fit(X, y)
    return on_dask, here


def assert_same_search(on_dask: GridSearchCV, here: GridSearchCV, X: np.ndarray) -> None:
    assert on_dask.best_params_ == here.best_params_
    # the models are deterministic (fixed random_state), so every score is the same to the last bit
    for key in ["mean_test_score", *(f"split{i}_test_score" for i in range(3))]:
        np.testing.assert_allclose(on_dask.cv_results_[key], here.cv_results_[key], rtol=0, atol=0, err_msg=key)
    assert_same_outputs(outputs(on_dask.best_estimator_, X), outputs(here.best_estimator_, X))


def test_grid_search_of_a_classifier_on_dask_matches_one_process(client):
    X, y = classification()
    estimator = MLPClassifier(learning_rate_init=0.05, max_iter=40, random_state=0)
    grid = {"hidden_layer_sizes": [(2,), (8,)], "alpha": [1e-4, 3.0]}
    on_dask, here = grid_search_both_ways(estimator, grid, X, y, client)
    assert_same_search(on_dask, here, X)
    scores = here.cv_results_["mean_test_score"]
    assert len(scores) == 4 and len(set(scores)) > 1  # the grid's settings differ, so best_params_ means something


def test_grid_search_of_a_regressor_on_dask_matches_one_process(client):
    X, y = regression()
    grid = {"alpha": [0.0, 1.0, 100.0]}
    on_dask, here = grid_search_both_ways(LinearRegression(), grid, X, y, client)
    assert_same_search(on_dask, here, X)
    assert len(set(here.cv_results_["mean_test_score"])) == 3


def test_every_estimator_class_is_covered():
    names = {cls.__name__ for cls in ESTIMATOR_CLASSES}
    assert names == set(QUICK)  # a new estimator needs quick settings here


@pytest.mark.parametrize("cls", ESTIMATOR_CLASSES, ids=lambda cls: cls.__name__)
def test_unfitted_estimators_clone_and_pickle(cls):
    estimator = cls(**QUICK[cls.__name__])
    copy = clone(estimator)
    assert copy is not estimator and copy.get_params() == estimator.get_params()
    again = pickle.loads(pickle.dumps(estimator))
    assert type(again) is cls and again.get_params() == estimator.get_params()
    assert not hasattr(again, "network_")
    # the unpickled estimator trains to the same model as the original
    X, y = data_for(estimator)
    assert_same_outputs(outputs(again.fit(X, y), X), outputs(estimator.fit(X, y), X))


@pytest.mark.parametrize("cls", ESTIMATOR_CLASSES, ids=lambda cls: cls.__name__)
def test_fitted_estimators_pickle_and_predict_the_same_here_and_in_a_worker(cls, client):
    estimator = cls(**QUICK[cls.__name__])
    X, y = data_for(estimator)
    fitted = clone(estimator).fit(X, y)
    expected = outputs(fitted, X)

    again = pickle.loads(pickle.dumps(fitted))
    assert again.get_params() == fitted.get_params()
    assert_same_outputs(outputs(again, X), expected)
    assert clone(again).get_params() == fitted.get_params()

    # unpickled in a worker process, it predicts what it predicts here (the methods are sent by
    # reference to chainrule's class, the fitted estimator by pickle)
    in_worker = {method: client.submit(getattr(cls, method), fitted, X, pure=False).result() for method in expected}
    assert_same_outputs(in_worker, expected)

    # fitted in a worker process, it is the model fitted here, and it comes back intact
    fitted_there = client.submit(clone(estimator).fit, X, y, pure=False).result()
    assert_same_outputs(outputs(fitted_there, X), expected)
