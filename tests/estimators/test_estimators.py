"""What the estimators promise beyond scikit-learn's checks: networks, attributes, solvers,
schedules, stopping, partial_fit and warm_start, weights, validation and progress."""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.datasets import load_iris, make_blobs, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule import nn  # noqa: E402
from chainrule.estimators import (  # noqa: E402
    InvalidParameterError,
    LinearRegression,
    LinearSVC,
    LogisticRegression,
    MLPClassifier,
    MLPRegressor,
    Perceptron,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

CLASSIFIERS = (Perceptron, LogisticRegression, LinearSVC, MLPClassifier)
REGRESSORS = (LinearRegression, MLPRegressor)
ALL = CLASSIFIERS + REGRESSORS


def blobs(n_classes: int = 2, n: int = 120, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    X, y = make_blobs(n_samples=n, centers=n_classes, n_features=3, random_state=seed)
    return StandardScaler().fit_transform(X), y


def regression(n_targets: int = 1, n: int = 100) -> tuple[np.ndarray, np.ndarray]:
    X, y = make_regression(n_samples=n, n_features=4, n_targets=n_targets, noise=1.0, random_state=0)
    return X, y / np.std(y)


def quick(cls, **params):
    """An estimator with settings that fit the small problems here in a blink."""
    defaults = {
        MLPClassifier: dict(hidden_layer_sizes=(8,), learning_rate_init=0.05, max_iter=100),
        MLPRegressor: dict(hidden_layer_sizes=(8,), learning_rate_init=0.05, max_iter=100),
        LinearRegression: dict(max_iter=300),
    }.get(cls, dict(max_iter=50))
    return cls(**{"random_state": 0, **defaults, **params})


def test_import_chainrule_does_not_import_sklearn():
    code = "import sys, chainrule; print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


# ------------------------------------------------------------------ the networks


@pytest.mark.parametrize(
    "cls, activation",
    [
        (Perceptron, nn.Step),
        (LogisticRegression, nn.Sigmoid),
        (LinearSVC, nn.Identity),
    ],
)
def test_a_binary_linear_classifier_is_one_neuron(cls, activation):
    X, y = blobs(2)
    clf = quick(cls).fit(X, y)
    assert isinstance(clf.network_, nn.Sequential)
    assert [name for name, _ in clf.network_.named_children()] == ["linear", "activation"]
    assert clf.network_.linear.out_features == 1 and clf.network_.linear.in_features == 3
    assert isinstance(clf.network_.activation, activation)
    assert clf.coef_.shape == (1, 3) and clf.intercept_.shape == (1,)
    assert clf.n_features_in_ == 3 and list(clf.classes_) == [0, 1]


@pytest.mark.parametrize(
    "cls, activation",
    [
        (Perceptron, nn.Step),
        (LogisticRegression, nn.Softmax),
        (LinearSVC, nn.Identity),
    ],
)
def test_a_multiclass_linear_classifier_is_one_layer_of_neurons(cls, activation):
    X, y = blobs(3)
    clf = quick(cls).fit(X, y)
    assert clf.network_.linear.out_features == 3
    assert isinstance(clf.network_.activation, activation)
    assert clf.coef_.shape == (3, 3) and clf.intercept_.shape == (3,)
    assert clf.decision_function(X).shape == (len(X), 3)


def test_coef_and_intercept_are_views_of_the_network():
    X, y = blobs(2)
    clf = quick(LogisticRegression).fit(X, y)
    assert np.shares_memory(clf.coef_, clf.network_.linear.weight.numpy())
    clf.network_.linear.bias.numpy()[...] = 7.0
    assert clf.intercept_.tolist() == [7.0]


def test_fit_intercept_false_has_no_bias():
    X, y = blobs(2)
    clf = quick(LinearSVC, fit_intercept=False).fit(X, y)
    assert clf.network_.linear.bias is None
    assert clf.intercept_.tolist() == [0.0]


def test_linear_regression_shapes_follow_y():
    X, y = regression(1)
    reg = quick(LinearRegression).fit(X, y)
    assert reg.coef_.shape == (4,) and isinstance(reg.intercept_, float)
    assert reg.predict(X).shape == (100,)
    reg = quick(LinearRegression).fit(X, y.reshape(-1, 1))
    assert reg.coef_.shape == (1, 4) and reg.intercept_.shape == (1,)
    assert reg.predict(X).shape == (100, 1)
    X2, Y2 = regression(3)
    reg = quick(LinearRegression).fit(X2, Y2)
    assert reg.coef_.shape == (3, 4) and reg.predict(X2).shape == (100, 3)
    assert reg.score(X2, Y2) > 0.99


def test_mlp_network_layers_and_sklearn_attributes():
    X, y = blobs(3)
    clf = quick(MLPClassifier, hidden_layer_sizes=(5, 4), activation="tanh").fit(X, y)
    names = [name for name, _ in clf.network_.named_children()]
    assert names == ["hidden1", "activation1", "hidden2", "activation2", "output", "output_activation"]
    assert isinstance(clf.network_.activation1, nn.Tanh)
    assert isinstance(clf.network_.output_activation, nn.Softmax)
    assert [w.shape for w in clf.coefs_] == [(3, 5), (5, 4), (4, 3)]
    assert [b.shape for b in clf.intercepts_] == [(5,), (4,), (3,)]
    assert (clf.n_layers_, clf.n_outputs_, clf.out_activation_) == (4, 3, "softmax")
    assert clf.loss_ == clf.loss_curve_[-1]
    binary = quick(MLPClassifier).fit(*blobs(2))
    assert binary.out_activation_ == "logistic" and isinstance(binary.network_.output_activation, nn.Sigmoid)
    reg = quick(MLPRegressor).fit(*regression())
    assert reg.out_activation_ == "identity" and isinstance(reg.network_.output_activation, nn.Identity)


def test_an_mlp_without_hidden_layers_is_logistic_regression():
    X, y = blobs(2)
    clf = quick(MLPClassifier, hidden_layer_sizes=()).fit(X, y)
    assert [name for name, _ in clf.network_.named_children()] == ["output", "output_activation"]
    assert clf.score(X, y) > 0.95


def test_predict_proba_is_the_networks_output():
    X, y = blobs(3)
    for cls in (LogisticRegression, MLPClassifier):
        clf = quick(cls).fit(X, y)
        proba = clf.predict_proba(X)
        out = clf.network_(cr.tensor(X)).numpy()
        np.testing.assert_allclose(proba, out)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
        np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba), rtol=1e-7, atol=1e-12)
        assert (clf.classes_[proba.argmax(axis=1)] == clf.predict(X)).all()
    binary = quick(LogisticRegression).fit(*blobs(2))
    p = binary.predict_proba(X)
    np.testing.assert_allclose(p[:, 1], binary.network_(cr.tensor(X)).numpy()[:, 0])


def test_the_perceptron_has_no_probabilities():
    assert not hasattr(Perceptron(), "predict_proba")
    assert not hasattr(LinearSVC(), "predict_proba")


def test_perceptron_predicts_with_its_step_neuron():
    X, y = blobs(2)
    clf = quick(Perceptron).fit(X, y)
    fired = clf.network_(cr.tensor(X)).numpy()[:, 0]
    assert set(np.unique(fired)) <= {0.0, 1.0}
    assert (clf.predict(X) == clf.classes_[fired.astype(int)]).all()


def test_tags():
    from sklearn.utils import get_tags

    for cls in CLASSIFIERS:
        tags = get_tags(cls())
        assert tags.estimator_type == "classifier" and tags.classifier_tags.multi_class
        assert not tags.classifier_tags.multi_label and not tags.input_tags.sparse
    for cls in REGRESSORS:
        tags = get_tags(cls())
        assert tags.estimator_type == "regressor" and tags.target_tags.multi_output


def test_unfitted_estimators_say_so():
    for cls in ALL:
        with pytest.raises(NotFittedError):
            cls().predict(np.zeros((2, 3)))
    assert not hasattr(LogisticRegression(), "coef_")
    assert not hasattr(MLPClassifier(), "coefs_")


# ------------------------------------------------------------------ the perceptron rule


def rosenblatt(X: np.ndarray, y: np.ndarray, lr: float, epochs: int) -> tuple[np.ndarray, float]:
    """The perceptron algorithm written out: w <- w + lr y x on each mistake (y s <= 0)."""
    w, b = np.zeros(X.shape[1]), 0.0
    signs = np.where(y == 1, 1.0, -1.0)
    for _ in range(epochs):
        for x, t in zip(X, signs):
            if t * (x @ w + b) <= 0:
                w += lr * t * x
                b += lr * t
    return w, b


def _step_on_every_sample(monkeypatch) -> None:
    """Make one-sample SGD take its (empty) steps on the samples with zero gradient too."""
    monkeypatch.setattr(Perceptron, "_skips_zero_gradients", lambda self: False)


@pytest.mark.parametrize("skip", [True, False])
def test_the_perceptron_criterion_trained_by_sgd_is_rosenblatts_rule(monkeypatch, skip):
    # the defaults (one sample a step, no momentum) skip the samples with zero gradient
    if not skip:
        _step_on_every_sample(monkeypatch)
    X, y = blobs(2, n=60, seed=3)
    X = X + np.random.default_rng(0).normal(scale=1.5, size=X.shape)  # overlapping: never converges
    clf = Perceptron(eta0=0.5, shuffle=False, tol=None, max_iter=7).fit(X, y)
    w, b = rosenblatt(X, y, 0.5, 7)
    np.testing.assert_allclose(clf.coef_[0], w, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(clf.intercept_[0], b, rtol=1e-12, atol=1e-12)


def test_skipping_zero_gradients_gives_the_same_weights_when_shuffled(monkeypatch):
    X, y = blobs(3, n=90, seed=1)
    X = X + np.random.default_rng(1).normal(scale=1.0, size=X.shape)
    fast = Perceptron(random_state=4, tol=None, max_iter=6).fit(X, y)
    _step_on_every_sample(monkeypatch)
    every = Perceptron(random_state=4, tol=None, max_iter=6).fit(X, y)
    np.testing.assert_array_equal(fast.coef_, every.coef_)
    np.testing.assert_array_equal(fast.loss_curve_, every.loss_curve_)


def test_the_first_mistake_from_zero_weights_is_updated():
    # at w = 0 every score is 0: Rosenblatt counts that as a mistake
    X = np.array([[1.0, 2.0], [-1.0, -1.0]])
    clf = Perceptron(eta0=0.5, shuffle=False, max_iter=1, tol=None).fit(X, [1, 0])
    np.testing.assert_allclose(clf.coef_, [[0.5, 1.0]])
    np.testing.assert_allclose(clf.intercept_, [0.5])


# ------------------------------------------------------------------ parameters and data checks


@pytest.mark.parametrize(
    "params, message",
    [
        (dict(solver="newton-cg"), "'solver' parameter must be one of 'lbfgs', 'sgd', 'adam', 'gd'; got 'newton-cg'"),
        (
            dict(solver="momentum"),
            "'solver' parameter must be one of 'lbfgs', 'sgd', 'adam', 'gd'; got 'momentum': write solver='sgd'",
        ),
        (
            dict(solver="minibatch"),
            "'solver' parameter must be one of 'lbfgs', 'sgd', 'adam', 'gd'; got 'minibatch': "
            "write solver='sgd' with momentum=0",
        ),
        (dict(learning_rate_init=0.0), "'learning_rate_init' parameter must be a float > 0"),
        (dict(learning_rate="optimal"), "'learning_rate' parameter must be one of"),
        (dict(C=0.0), "'C' parameter must be a float > 0"),
        (dict(penalty="l1"), "'penalty' parameter must be None or 'l2'; got 'l1': write penalty='l2' or None"),
        (dict(max_iter=0), "'max_iter' parameter must be an int >= 1"),
        (dict(max_iter=2.5), "'max_iter' parameter must be an int >= 1"),
        (dict(tol=-1e-3), "'tol' parameter must be a float >= 0 or None"),
        (dict(batch_size=0), "'batch_size' parameter must be 'auto' or an int >= 1"),
        (dict(validation_fraction=1.0), "'validation_fraction' parameter must be a float in (0, 1)"),
        (dict(shuffle="yes"), "'shuffle' parameter must be True or False"),
        (dict(random_state=-1), "'random_state' parameter must be None or an int"),
        (dict(beta_1=1.0), "'beta_1' parameter must be a float in [0, 1)"),
        (dict(class_weight="equal"), "'class_weight' parameter must be None or 'balanced' or a dict"),
    ],
)
def test_bad_parameters_are_named_at_fit(params, message):
    X, y = blobs(2)
    clf = LogisticRegression(**params)  # __init__ only stores
    with pytest.raises(InvalidParameterError, match=r"^LogisticRegression: the " + _escape(message)):
        clf.fit(X, y)
    assert not hasattr(clf, "network_")
    assert issubclass(InvalidParameterError, ValueError) and issubclass(InvalidParameterError, TypeError)


def _escape(text: str) -> str:
    import re

    return re.escape(text)


@pytest.mark.parametrize(
    "cls, params",
    [
        (MLPClassifier, dict(hidden_layer_sizes=(10, 0))),
        (MLPClassifier, dict(hidden_layer_sizes=(10.5,))),
        (MLPRegressor, dict(activation="softmax")),
        (LinearSVC, dict(loss="log")),
        (LinearRegression, dict(fit_intercept=1)),
    ],
)
def test_estimator_specific_parameters_are_checked(cls, params):
    X, y = regression() if cls in REGRESSORS else blobs(2)
    with pytest.raises(InvalidParameterError, match=f"^{cls.__name__}: the '{next(iter(params))}' parameter"):
        cls(**params).fit(X, y)


def test_a_failed_fit_changes_nothing_it_learned():
    X, y = blobs(2)
    clf = quick(LogisticRegression).fit(X, y)
    before = (clf.coef_.copy(), clf.classes_.copy(), clf.network_, clf.n_iter_)
    with pytest.raises(InvalidParameterError):
        clf.set_params(C=-1).fit(X, y)
    with pytest.raises(ValueError, match="only one class"):
        clf.set_params(C=1.0).fit(np.c_[X, X], np.full(len(X), 5))
    assert clf.n_features_in_ == 3
    with pytest.raises(ValueError, match="early_stopping could not hold out"):
        clf.set_params(solver="adam", early_stopping=True, validation_fraction=0.001).fit(X, y)
    after = (clf.coef_, clf.classes_, clf.network_, clf.n_iter_)
    np.testing.assert_array_equal(after[0], before[0])
    np.testing.assert_array_equal(after[1], before[1])
    assert after[2:] == before[2:]
    unfitted = LogisticRegression()
    with pytest.raises(ValueError):
        unfitted.fit(X, np.zeros(len(X)))
    with pytest.raises(NotFittedError):
        unfitted.predict(X)


@pytest.mark.parametrize(
    "weights, message",
    [
        (-np.ones(120), "Negative values in data passed to `sample_weight`"),
        (np.zeros(120), "Sample weights must contain at least one non-zero number"),
        (np.ones(7), r"sample_weight.shape == \(7,\), expected \(120,\)"),
    ],
)
def test_bad_sample_weights(weights, message):
    with pytest.raises(ValueError, match=message):
        quick(LogisticRegression).fit(*blobs(2), sample_weight=weights)


def test_one_class_is_not_enough():
    X = np.random.default_rng(0).normal(size=(10, 2))
    for cls in CLASSIFIERS:
        with pytest.raises(
            ValueError, match="at least 2 classes in the data, but the data contains only one class: 1.0"
        ):
            cls().fit(X, np.ones(10))
        with pytest.raises(ValueError, match="but classes contains only one class: 'a'"):
            cls(solver="adam" if cls in (LogisticRegression, LinearSVC) else cls().solver).partial_fit(
                X, np.full(10, "a"), classes=["a"]
            )


def test_float32_data_trains_a_float32_network():
    X, y = blobs(2)
    for cls in (LogisticRegression, MLPClassifier):
        clf = quick(cls).fit(X.astype(np.float32), y)
        assert clf.network_.parameters().__next__().dtype == np.float32
        assert clf.predict_proba(X).dtype == np.float32  # float64 input is cast to the network's dtype
    reg = quick(LinearRegression).fit(*regression())
    assert reg.coef_.dtype == np.float64


def test_feature_names_from_a_dataframe():
    pd = pytest.importorskip("pandas")
    X, y = blobs(2)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    clf = quick(LogisticRegression).fit(frame, y)
    assert list(clf.feature_names_in_) == ["a", "b", "c"]


def test_pickle_round_trip():
    X, y = blobs(3)
    for clf in (quick(Perceptron), quick(MLPClassifier)):
        clf.fit(X, y)
        again = pickle.loads(pickle.dumps(clf))
        np.testing.assert_array_equal(again.predict(X), clf.predict(X))
        again.partial_fit(X, y)  # the optimiser's state came along


# ------------------------------------------------------------------ solvers and batches


@pytest.mark.parametrize(
    "solver, settings",
    [
        ("gd", dict(learning_rate_init=0.5, max_iter=40)),
        ("sgd", dict(learning_rate_init=0.05, batch_size=1, momentum=0.0, max_iter=10)),  # one sample a step
        ("sgd", dict(learning_rate_init=0.2, batch_size=16, momentum=0.0, max_iter=40)),  # mini-batches
        ("sgd", dict(learning_rate_init=0.05, batch_size=16, max_iter=40)),  # with Nesterov's momentum
        ("adam", dict(learning_rate_init=0.05, batch_size=16, max_iter=40)),
        ("lbfgs", dict(max_iter=40)),
    ],
)
def test_every_solver_learns(solver, settings):
    X, y = blobs(2)
    clf = LogisticRegression(solver=solver, random_state=0, **settings)
    assert clf.fit(X, y).score(X, y) > 0.95
    X, y = regression()
    reg_settings = {**settings, "max_iter": settings["max_iter"] * 5}
    if "learning_rate_init" in settings:
        reg_settings["learning_rate_init"] = settings["learning_rate_init"] / 5
    reg = LinearRegression(solver=solver, random_state=0, **reg_settings)
    assert reg.fit(X, y).score(X, y) > 0.95


def test_solver_optimisers():
    X, y = blobs(2)
    assert type(quick(LogisticRegression, solver="adam").fit(X, y)._optimizer).__name__ == "ScikitLearnAdam"
    sgd = quick(LogisticRegression, solver="sgd", momentum=0.8).fit(X, y)._optimizer
    assert type(sgd).__name__ == "SGD"
    assert sgd.param_groups[0]["momentum"] == 0.8 and sgd.param_groups[0]["nesterov"] is True
    plain = quick(LogisticRegression, solver="sgd", momentum=0.8, nesterovs_momentum=False).fit(X, y)._optimizer
    assert plain.param_groups[0]["nesterov"] is False
    assert quick(LogisticRegression, solver="gd").fit(X, y)._optimizer.param_groups[0]["momentum"] == 0
    assert quick(LogisticRegression).fit(X, y)._optimizer is None  # 'lbfgs': scipy's, no chainrule optimiser


def test_batch_size_larger_than_the_data_warns():
    X, y = blobs(2, n=40)
    with pytest.warns(UserWarning, match="batch_size=100 is larger than the 40 training samples") as record:
        LogisticRegression(solver="adam", batch_size=100, max_iter=2).fit(X, y)
    assert record[0].filename == __file__  # it points at the line that called fit


def test_zero_weight_samples_teach_nothing():
    X, y = blobs(2, n=40)
    weights = np.r_[np.zeros(20), np.ones(20)]
    X_other, y_other = X.copy(), y.copy()
    X_other[:20] *= -5.0  # whatever the zero-weight samples are, the fit is the same
    y_other[:20] = 1 - y_other[:20]
    for batch_size in (1, 20):  # 20: the first batch is all zero weight, skipped
        params = dict(batch_size=batch_size, shuffle=False, max_iter=3, tol=None)
        a = Perceptron(**params).fit(X, y, sample_weight=weights)
        b = Perceptron(**params).fit(X_other, y_other, sample_weight=weights)
        np.testing.assert_array_equal(a.coef_, b.coef_)
        assert np.abs(a.coef_).sum() > 0


# ------------------------------------------------------------------ sample and class weights


def test_integer_sample_weights_are_repeats_with_full_batches():
    X, y = blobs(2, n=30)
    w = np.random.default_rng(0).integers(0, 4, size=30)
    weighted = LogisticRegression(solver="gd", learning_rate_init=0.5, max_iter=40, tol=None).fit(X, y, sample_weight=w)
    repeated = LogisticRegression(solver="gd", learning_rate_init=0.5, max_iter=40, tol=None).fit(
        np.repeat(X, w, axis=0), np.repeat(y, w)
    )
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-10)


def test_class_weight_multiplies_the_sample_weights():
    X, y = blobs(3, n=60)
    by_class = LinearSVC(solver="gd", class_weight={0: 3.0, 1: 1.0, 2: 0.5}, max_iter=20, tol=None).fit(X, y)
    by_sample = LinearSVC(solver="gd", max_iter=20, tol=None).fit(X, y, sample_weight=np.array([3.0, 1.0, 0.5])[y])
    np.testing.assert_allclose(by_class.coef_, by_sample.coef_, rtol=1e-12)


def test_balanced_class_weight_helps_the_rare_class():
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(0, 1, size=(190, 2)), rng.normal(1.5, 1, size=(10, 2))]
    y = np.r_[np.zeros(190, int), np.ones(10, int)]
    plain = LogisticRegression(random_state=0).fit(X, y)
    balanced = LogisticRegression(class_weight="balanced", random_state=0).fit(X, y)
    assert (balanced.predict(X[y == 1]) == 1).mean() > (plain.predict(X[y == 1]) == 1).mean()


# ------------------------------------------------------------------ stopping and schedules


def test_training_stops_when_the_loss_stops_improving():
    X, y = blobs(2)
    clf = LogisticRegression(solver="gd", learning_rate_init=0.5, tol=1e-3, n_iter_no_change=3, max_iter=1000).fit(X, y)
    assert clf.n_iter_ < 1000 and len(clf.loss_curve_) == clf.n_iter_
    assert clf.best_loss_ == min(clf.loss_curve_)
    assert clf.validation_scores_ is None and clf.best_validation_score_ is None


def test_tol_none_runs_every_epoch():
    X, y = blobs(2)
    assert LogisticRegression(solver="adam", tol=None, max_iter=37).fit(X, y).n_iter_ == 37


def test_max_iter_without_convergence_warns():
    X, y = blobs(2)
    with pytest.warns(ConvergenceWarning, match=r"LogisticRegression: maximum iterations \(3\) reached"):
        LogisticRegression(solver="adam", max_iter=3).fit(X, y)
    with pytest.warns(ConvergenceWarning, match=r"LogisticRegression: lbfgs failed to converge after 3 iteration"):
        LogisticRegression(max_iter=3).fit(X, y)


def test_early_stopping_keeps_the_best_validation_score():
    X, y = blobs(3, n=300)
    clf = MLPClassifier(
        hidden_layer_sizes=(8,),
        early_stopping=True,
        validation_fraction=0.2,
        random_state=0,
        learning_rate_init=0.01,
        max_iter=300,
        n_iter_no_change=5,
    ).fit(X, y)
    assert len(clf.validation_scores_) == clf.n_iter_ < 300
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.best_loss_ is None
    reg = quick(LinearRegression, early_stopping=True).fit(*regression())
    assert 0.9 < reg.best_validation_score_ <= 1.0


def test_early_stopping_restores_the_best_weights():
    X, y = blobs(2, n=200)
    clf = LogisticRegression(
        early_stopping=True, random_state=0, tol=None, max_iter=30, solver="gd", learning_rate_init=0.5
    ).fit(X, y)
    best = int(np.argmax(clf.validation_scores_))
    again = LogisticRegression(
        early_stopping=True, random_state=0, tol=None, max_iter=best + 1, solver="gd", learning_rate_init=0.5
    ).fit(X, y)
    np.testing.assert_allclose(clf.coef_, again.coef_)


def test_invscaling_schedule():
    X, y = blobs(2, n=50)
    clf = LogisticRegression(
        solver="gd", learning_rate="invscaling", learning_rate_init=0.5, power_t=0.25, max_iter=4, tol=None
    ).fit(X, y)
    assert clf.t_ == 200
    assert clf._optimizer.param_groups[0]["lr"] == pytest.approx(0.5 / 201**0.25)


def test_adaptive_schedule_divides_by_five_then_stops(capsys):
    X, y = blobs(2, n=50)
    # A huge tol: no epoch after the first counts as an improvement, so the rule fires after epochs
    # 4, 7 and 10 (a count above n_iter_no_change=2): lr 1e-5 -> 2e-6 -> 4e-7, then at or below
    # 1e-6 training stops (scikit-learn's MLP rule).
    clf = LogisticRegression(
        solver="gd",
        learning_rate="adaptive",
        learning_rate_init=1e-5,
        tol=1e9,
        n_iter_no_change=2,
        max_iter=100,
        verbose=True,
    ).fit(X, y)
    assert clf._optimizer.param_groups[0]["lr"] == pytest.approx(1e-5 / 25)
    assert clf.n_iter_ == 10
    err = capsys.readouterr().err
    assert "Setting learning rate to 2e-06" in err and "Learning rate too small. Stopping." in err


def test_verbose_shows_progress(capsys):
    X, y = blobs(2)
    LogisticRegression(max_iter=5, tol=None, verbose=1).fit(X, y)
    err = capsys.readouterr().err
    assert "LogisticRegression" in err and "epoch" in err
    assert "5/5" in err and "loss=" in err  # tqdm's bar over the epochs, with the loss
    LogisticRegression(max_iter=5).fit(X, y)
    assert capsys.readouterr().err == ""


def test_a_diverging_fit_warns_or_fails_clearly():
    X, y = regression()
    with pytest.warns(ConvergenceWarning, match="the loss went up during training"):
        LinearRegression(learning_rate_init=1.5, max_iter=20).fit(X * 3, y)
    with (
        np.errstate(over="ignore", invalid="ignore"),
        pytest.raises(ValueError, match="LinearRegression: the loss became inf at epoch .*StandardScaler"),
    ):
        LinearRegression(learning_rate_init=1.5, max_iter=2000, tol=None).fit(X * 30, y)


# ------------------------------------------------------------------ partial_fit and warm_start


def test_partial_fit_is_fit_one_epoch_at_a_time():
    X, y = blobs(3)
    full = LinearSVC(solver="adam", shuffle=False, tol=None, max_iter=6).fit(X, y)
    step = LinearSVC(solver="adam", shuffle=False)
    for _ in range(6):
        step.partial_fit(X, y, classes=[0, 1, 2])
        assert step.n_iter_ == 1
    np.testing.assert_allclose(step.coef_, full.coef_, rtol=1e-12)
    np.testing.assert_allclose(step.loss_curve_, full.loss_curve_, rtol=1e-12)
    assert step.t_ == 6 * len(X)


def test_partial_fit_needs_the_classes_first():
    X, y = blobs(3)
    with pytest.raises(ValueError, match="classes must be passed on the first call to partial_fit"):
        Perceptron().partial_fit(X, y)
    clf = Perceptron().partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2])  # a class may come later
    assert clf.coef_.shape == (3, 3)
    with pytest.raises(ValueError, match="is not the same as on the first call"):
        clf.partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match=r"y has labels \[7\] not in classes_"):
        clf.partial_fit(X[:2], [7, 7])
    with pytest.raises(ValueError, match="X has 2 features, but Perceptron is expecting 3 features"):
        clf.partial_fit(X[:, :2], y)


def test_partial_fit_of_regressors():
    X, y = regression()
    reg = quick(MLPRegressor)
    for _ in range(3):
        reg.partial_fit(X, y)
    assert len(reg.loss_curve_) == 3 and reg.loss_curve_[2] < reg.loss_curve_[0]


def test_warm_start_continues_from_the_last_fit():
    X, y = regression()
    once = LinearRegression(learning_rate_init=0.05, max_iter=10, tol=None).fit(X, y)
    twice = LinearRegression(learning_rate_init=0.05, max_iter=5, tol=None, warm_start=True).fit(X, y).fit(X, y)
    np.testing.assert_allclose(twice.coef_, once.coef_, rtol=1e-12)
    assert twice.n_iter_ == 5 and len(twice.loss_curve_) == 10
    cold = LinearRegression(learning_rate_init=0.05, max_iter=5, tol=None).fit(X, y).fit(X, y)
    assert not np.allclose(cold.coef_, once.coef_)


def test_warm_start_needs_the_same_classes():
    X, y = blobs(3)
    clf = quick(LogisticRegression, warm_start=True).fit(X, y)
    with pytest.raises(ValueError, match="warm_start can only be used where y has the same classes"):
        clf.fit(X[y < 2], y[y < 2])


def test_fit_twice_gives_the_same_model():
    X, y = blobs(3)
    for cls in (Perceptron, MLPClassifier):
        a = quick(cls).fit(X, y).decision_function(X) if cls is Perceptron else quick(cls).fit(X, y).predict_proba(X)
        b = quick(cls).fit(X, y).decision_function(X) if cls is Perceptron else quick(cls).fit(X, y).predict_proba(X)
        np.testing.assert_array_equal(a, b)


def test_iris_end_to_end():
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    for cls in CLASSIFIERS:  # iris is not linearly separable: the perceptron's last epochs wander
        floor = 0.8 if cls is Perceptron else 0.9  # (scikit-learn's: 0.81 to 0.95 over random_state 0-4)
        assert quick(cls, max_iter=200).fit(X, y).score(X, y) > floor, cls.__name__


# ------------------------------------------------------------------ the contract, item by item


@pytest.mark.parametrize("cls", ALL)
def test_fit_and_partial_fit_return_self(cls):
    X, y = regression() if cls in REGRESSORS else blobs(2)
    est = quick(cls)
    assert est.fit(X, y) is est
    extra = {} if cls in REGRESSORS else {"classes": np.unique(y)}
    fresh = quick(cls, solver="adam") if est.solver == "lbfgs" else quick(cls)
    assert fresh.partial_fit(X, y, **extra) is fresh
    assert fresh.partial_fit(X, y) is fresh and fresh.n_iter_ == 1 and len(fresh.loss_curve_) == 2


def test_the_network_is_a_chainrule_graph_one_can_draw():
    graphviz = pytest.importorskip("graphviz")  # noqa: F841 - draw_graph needs it
    X, y = blobs(2)
    clf = quick(LogisticRegression).fit(X, y)
    out = clf.network_(cr.tensor(X[:3]))
    assert out.requires_grad  # a live graph back to the fitted weights
    out.sum().backward(retain_graph=True)
    assert clf.network_.linear.weight.grad.shape == (1, 3)
    source = cr.viz.draw_graph(out).source
    assert "Sigmoid" in source


@pytest.mark.parametrize(
    "solver, batch_size, steps_per_epoch",
    [
        ("gd", 16, 1),
        ("sgd", 1, 120),
        ("sgd", 16, 8),
        ("sgd", "auto", 1),
    ],
)
def test_each_solver_steps_on_its_batches(monkeypatch, solver, batch_size, steps_per_epoch):
    from chainrule.optim import SGD

    steps = []
    original = SGD.step

    def counted_step(self, *args, **kwargs):
        steps.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SGD, "step", counted_step)
    X, y = blobs(2, n=120)
    LogisticRegression(
        solver=solver, batch_size=batch_size, learning_rate_init=0.01, max_iter=3, tol=None, random_state=0
    ).fit(X, y)
    assert len(steps) == 3 * steps_per_epoch


def test_adam_steps_on_mini_batches():
    X, y = blobs(2, n=120)
    clf = LogisticRegression(solver="adam", batch_size=50, max_iter=4, tol=None, random_state=0).fit(X, y)
    state = clf._optimizer.state[clf.network_.linear.weight]
    assert state["step"] == 4 * 3  # batches of 50, 50 and 20


def test_shuffle_and_random_state():
    X, y = blobs(2, n=80, seed=2)
    X = X + np.random.default_rng(2).normal(scale=1.2, size=X.shape)  # not separable: the order matters
    coef = {seed: Perceptron(random_state=seed, tol=None, max_iter=5).fit(X, y).coef_.copy() for seed in (0, 0, 1)}
    assert not np.array_equal(coef[0], coef[1])  # a different shuffle, different weights
    np.testing.assert_array_equal(Perceptron(random_state=0, tol=None, max_iter=5).fit(X, y).coef_, coef[0])
    fixed = [Perceptron(shuffle=False, random_state=s, tol=None, max_iter=5).fit(X, y).coef_ for s in (0, 1)]
    np.testing.assert_array_equal(fixed[0], fixed[1])  # no shuffling: the seed has nothing to do
    mlp = [quick(MLPClassifier, random_state=s, max_iter=1).fit(X, y).coefs_[0] for s in (0, 1)]
    assert not np.allclose(mlp[0], mlp[1])  # the seed also draws the MLP's initial weights


def test_sigmoid_is_another_name_of_logistic():
    X, y = blobs(2)
    a = quick(MLPClassifier, activation="sigmoid").fit(X, y)
    b = quick(MLPClassifier, activation="logistic").fit(X, y)
    assert isinstance(a.network_.activation1, nn.Sigmoid)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))  # same init bound, same training


@pytest.mark.parametrize("cls", [Perceptron, LogisticRegression, MLPClassifier])
def test_partial_fit_with_early_stopping_watches_the_training_loss(cls):
    # partial_fit holds nothing out (a batch is too small to split), as scikit-learn's MLP
    X, y = blobs(2)
    solver = "adam" if cls is LogisticRegression else cls().solver
    clf = quick(cls, early_stopping=True, solver=solver)
    clf.partial_fit(X, y, classes=[0, 1]).partial_fit(X, y)
    assert clf.validation_scores_ is None and clf.best_loss_ == min(clf.loss_curve_)
    fitted = quick(cls, early_stopping=True, max_iter=20, solver=solver).fit(X, y)
    n_scores = len(fitted.validation_scores_)
    fitted.partial_fit(X, y)
    assert len(fitted.validation_scores_) == n_scores and fitted.best_loss_ == fitted.loss_curve_[-1]


def test_class_weight_errors_name_the_problem():
    X, y = blobs(2)
    with pytest.raises(ValueError, match="LogisticRegression: class_weight='balanced' cannot be used with partial_fit"):
        LogisticRegression(solver="adam", class_weight="balanced").partial_fit(X, y, classes=[0, 1])
    with pytest.raises(
        ValueError, match=r"LinearSVC: class_weight=\{0: 1.0, 5: 2.0\} does not fit the classes \[0, 1\]"
    ):
        LinearSVC(class_weight={0: 1.0, 5: 2.0}).fit(X, y)
    weighted = LogisticRegression(solver="adam", class_weight={0: 1.0, 1: 3.0}, random_state=0)
    weighted.partial_fit(X, y, classes=[0, 1])  # a dict is the same for every batch: fine
    assert weighted.n_iter_ == 1


@pytest.mark.parametrize("penalty, l1_share", [("l2", 0.0), ("l1", 1.0), ("elasticnet", 0.15)])
def test_perceptron_penalty_is_alpha_times_scikit_learns_regulariser(penalty, l1_share):
    # scikit-learn's SGD objective: mean loss + alpha * ((1 - l1_ratio) * 0.5 ||W||² + l1_ratio ||W||₁)
    from chainrule.estimators.solver import Objective

    X, y = blobs(3, n=60)
    clf = Perceptron(penalty=penalty, alpha=0.1, max_iter=2, tol=None).fit(X, y)
    W = clf.coef_
    scores = cr.tensor(clf.decision_function(X))
    targets = np.where(y[:, None] == clf.classes_[None, :], 1.0, -1.0)
    plain = float(np.maximum(0.0, -targets * scores.numpy()).sum(axis=1).mean())
    expected = plain + 0.1 * ((1 - l1_share) * 0.5 * np.sum(W**2) + l1_share * np.abs(W).sum())
    assert float(Objective(clf)(scores, targets).numpy()) == pytest.approx(expected, rel=1e-12)
    unpenalised = Perceptron(max_iter=2, tol=None).fit(X, y)
    assert np.abs(W).sum() < np.abs(unpenalised.coef_).sum()  # the penalty shrinks the weights
