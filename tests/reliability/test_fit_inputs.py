"""``fit``, ``evaluate``, ``predict`` and the estimators meet bad data with a correct result or a
ValueError/TypeError that names the problem, and a refused fit changes nothing.

Bad data here: NaN, +-inf and huge values (1e308, whose square overflows) at random rows and columns
of X, y, sample_weight and the validation data; dtypes that are not real numbers (complex, object,
text, bytes, dates); empty arrays, mismatched lengths, scalars, ragged lists and arrays of any
shape. Never an error from inside NumPy, never a silent NaN in the parameters or the outputs.
"""

from __future__ import annotations

import copy
import re
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.exceptions import ConvergenceWarning

import chainrule as cr
from chainrule import estimators, nn
from chainrule.train import evaluate, fit, predict, predict_proba

N, FEATURES = 12, 3
BAD = {"nan": np.nan, "+inf": np.inf, "-inf": -np.inf, "huge": 1e308, "-huge": -1e308}
"""Values to plant; 'huge' ones are finite in float64 but their squares overflow."""
KINDS = tuple(sorted(BAD))
NOT_FINITE = ("+inf", "-inf", "nan")
NOT_REAL = {
    "complex": lambda a: a + 1j,
    "object": lambda a: a.astype(object),
    "str": lambda a: a.astype(str),
    "bytes": lambda a: a.astype(str).astype(bytes),
    "datetime": lambda a: np.full(a.shape, np.datetime64("2026-01-01")),
}
"""Arrays of the right shape that do not hold real numbers."""
REAL = [np.float16, np.float32, np.float64, np.int8, np.int64, np.uint8, np.bool_]
FIT_SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------- helpers


def clean(n: int = N, shape: tuple[int, ...] = (FEATURES,), seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, *shape))


def network(dtype=np.float32) -> nn.Module:
    cr.manual_seed(0)
    return nn.Sequential(nn.Linear(FEATURES, 4), nn.Tanh(), nn.Linear(4, 1)).to(dtype)


def snapshot(model: nn.Module) -> dict[str, np.ndarray]:
    return {name: array.copy() for name, array in model.state_dict().items()}


def assert_unchanged(model: nn.Module, before: dict[str, np.ndarray]) -> None:
    after = model.state_dict()
    assert after.keys() == before.keys()
    for name, array in before.items():
        assert after[name].dtype == array.dtype, name
        np.testing.assert_array_equal(after[name], array, err_msg=f"{name} changed before the error")


def assert_finite(model: nn.Module) -> None:
    for name, array in model.state_dict().items():
        assert np.isfinite(array).all(), f"{name} is not finite"


@st.composite
def poisoned(draw, array: np.ndarray, kinds: tuple[str, ...] = KINDS) -> tuple[np.ndarray, dict[str, list[tuple]]]:
    """``array`` (float64) with 1 to 4 cells, at random places, set to bad values; and the cells
    of each kind of problem ('non-finite', 'too large'), as index tuples."""
    flat = draw(st.lists(st.integers(0, array.size - 1), min_size=1, max_size=4, unique=True))
    out = array.astype(np.float64, copy=True)
    cells: dict[str, list[tuple]] = {}
    for index in flat:
        kind = draw(st.sampled_from(kinds))
        cell = np.unravel_index(index, array.shape)
        out[cell] = BAD[kind]
        cells.setdefault("non-finite" if kind in NOT_FINITE else "too large", []).append(tuple(int(i) for i in cell))
    return out, cells


def assert_names_the_cells(message: str, cells: dict[str, list[tuple]]) -> None:
    """The message says which problem, and its first row (and column) of each kind."""
    for problem, found in cells.items():
        words = "non-finite values (NaN or inf)" if problem == "non-finite" else "values too large for the model's"
        assert f"{len(found)} {words}" in message, message
        first_row = min(cell[0] for cell in found)
        assert f"rows [{first_row}" in message, message
        if len(found[0]) == 2:
            assert f"columns [{min(cell[1] for cell in found)}" in message, message


# --------------------------------------------------------------------------- fit: values


@FIT_SETTINGS
@given(
    data=st.data(),
    where=st.sampled_from(["X", "y", "X_val", "y_val"]),
    dtype=st.sampled_from([np.float32, np.float64]),
    batch_size=st.sampled_from([None, 1, 5]),
)
def test_fit_refuses_nan_inf_and_huge_values_naming_rows_and_columns_before_any_step(data, where, dtype, batch_size):
    arrays = {"X": clean(), "y": clean(shape=(1,), seed=1), "X_val": clean(6, seed=2), "y_val": clean(6, (1,), 3)}
    arrays[where], cells = data.draw(poisoned(arrays[where]), label=where)
    model = network(dtype)
    before = snapshot(model)
    with pytest.raises(ValueError) as info:
        fit(
            model,
            nn.MSELoss(),
            cr.optim.Adam(model.parameters(), lr=0.1),
            arrays["X"],
            arrays["y"],
            validation_data=(arrays["X_val"], arrays["y_val"]),
            batch_size=batch_size,
            epochs=2,
            verbose=0,
        )
    owner = "fit (validation)" if where.endswith("_val") else "fit"
    assert str(info.value).startswith(f"{owner}: {where[0]} has "), str(info.value)
    assert_names_the_cells(str(info.value), cells)
    assert_unchanged(model, before)


@settings(max_examples=15, deadline=None)
@given(scale=st.sampled_from([1e-300, 1e-3, 1.0, 1e3, 1e15]), dtype=st.sampled_from([np.float32, np.float64]))
def test_fit_on_finite_data_of_any_reasonable_scale_gives_finite_parameters(scale, dtype):
    X, y = clean() * scale, clean(shape=(1,), seed=1)
    model = network(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no overflow anywhere on the way
        history = fit(model, nn.MSELoss(), cr.optim.SGD(model.parameters(), lr=0.01), X, y, epochs=2, verbose=0)
    assert_finite(model)
    assert history.stop_reason is None and np.isfinite(history["loss"]).all()


def test_float16_data_of_ordinary_size_are_not_taken_for_huge_ones():
    X = np.full((N, FEATURES), 300.0, dtype=np.float16)  # its square overflows float16, not the model's float32
    model = network()
    fit(model, nn.MSELoss(), cr.optim.SGD(model.parameters(), lr=1e-6), cr.data.DataLoader((X, clean(shape=(1,)))),
        verbose=0)  # fmt: skip
    assert_finite(model)
    assert np.isfinite(predict(model, X)).all()


@settings(max_examples=15, deadline=None)
@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]))
def test_fit_refuses_non_finite_sample_weights_before_any_step(data, dtype):
    kinds = ("nan", "+inf", "-inf") + (("huge",) if dtype == np.float32 else ())  # huge in float64: see below
    weights, _ = data.draw(poisoned(np.ones(N), kinds=kinds))
    model = network(dtype)
    before = snapshot(model)
    with pytest.raises(ValueError, match=r"fit: sample_weight has [0-9]+ (non-finite|values too large)"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # float32: the cast of 1e308 overflows (loop.py)
            fit(model, nn.MSELoss(), cr.optim.SGD(model.parameters(), lr=0.1), clean(), clean(shape=(1,)),
                sample_weight=weights, verbose=0)  # fmt: skip
    assert_unchanged(model, before)


def test_fit_refuses_sample_weights_too_large_for_a_float64_model():
    weights = np.ones(N)
    weights[5] = 1e308
    model = network(np.float64)
    with pytest.raises(ValueError, match=r"sample_weight.*(too large|finite)"):
        fit(model, nn.MSELoss(), cr.optim.SGD(model.parameters(), lr=0.1), clean(), clean(shape=(1,)),
            sample_weight=weights, verbose=0)  # fmt: skip


def test_with_sample_weights_a_nan_in_y_is_named_as_in_y():
    y = clean(shape=(1,))
    y[3, 0] = np.nan
    model = network()
    with pytest.raises(ValueError, match=r"fit: y has 1 non-finite values \(NaN or inf\) in rows \[3\]"):
        fit(model, nn.MSELoss(), cr.optim.SGD(model.parameters(), lr=0.1), clean(), y, sample_weight=np.ones(N),
            verbose=0)  # fmt: skip


def test_validation_split_names_the_row_of_X():
    X = clean(8)
    X[7, 1] = np.nan
    model = network()
    with pytest.raises(ValueError, match=r"rows \[7\], columns \[1\]"):
        fit(model, nn.MSELoss(), cr.optim.SGD(model.parameters(), lr=0.1), X, clean(8, (1,)),
            validation_split=0.25, verbose=0)  # fmt: skip


# --------------------------------------------------------------------------- fit: dtypes and shapes


@pytest.mark.parametrize("where", ["X", "y", "X_val", "sample_weight"])
@pytest.mark.parametrize("kind", sorted(NOT_REAL))
def test_fit_refuses_data_that_are_not_real_numbers_naming_the_dtype(where, kind):
    arrays = {"X": clean(), "y": clean(shape=(1,)), "X_val": clean(4), "sample_weight": np.ones(N)}
    arrays[where] = NOT_REAL[kind](arrays[where])
    model = network()
    before = snapshot(model)
    with pytest.raises((TypeError, ValueError)) as info:
        validation_data = (arrays["X_val"], clean(4, (1,)))
        fit(model, nn.MSELoss(), cr.optim.SGD(model.parameters(), lr=0.1), arrays["X"], arrays["y"],
            validation_data=validation_data, sample_weight=arrays["sample_weight"], verbose=0)  # fmt: skip
    message = str(info.value)
    assert message.startswith("fit"), message
    assert str(arrays[where].dtype) in message, message
    if where != "sample_weight":  # (loop.py's weights check raises a ValueError "must be numbers")
        assert info.type is TypeError and "must hold real numbers" in message, message
    assert_unchanged(model, before)


@settings(max_examples=25, deadline=None)
@given(
    x_dtype=st.sampled_from(REAL),
    y_dtype=st.sampled_from(REAL),
    model_dtype=st.sampled_from([np.float32, np.float64]),
)
def test_fit_evaluate_and_predict_take_every_real_dtype(x_dtype, y_dtype, model_dtype):
    X = (clean() * 3).astype(x_dtype)
    y = (clean(shape=(1,), seed=1) * 3).astype(y_dtype)
    model = network(model_dtype)
    history = fit(model, nn.MSELoss(), cr.optim.SGD(model.parameters(), lr=0.01), X, y, epochs=2, verbose=0)
    assert_finite(model)
    assert np.isfinite(history["loss"]).all()
    assert np.isfinite(evaluate(model, nn.MSELoss(), X, y)["loss"])
    out = predict(model, X)
    assert out.shape == (N, 1) and np.isfinite(out).all()


SHAPE_CASES = {
    "no rows": (np.zeros((0, 3)), np.zeros((0, 1)), {}, ValueError, r"fit: there are no training samples"),
    "lengths differ": (clean(), clean(5, (1,)), {}, ValueError, r"fit: X has 12 samples but y has 5"),
    "X a scalar": (2.0, clean(1, (1,)), {}, ValueError, r"fit: X must be an array with one row per sample"),
    "y a scalar": (clean(1), 2.0, {}, ValueError, r"fit: y must be an array with one row per sample"),
    "X None": (None, clean(shape=(1,)), {}, TypeError, r"fit: X must hold real numbers .* got dtype object"),
    "X ragged": ([[1.0, 2.0, 3.0], [1.0, 2.0]] * 6, clean(shape=(1,)), {}, TypeError, r"fit: X is a ragged list"),
    "y ragged": (clean(2), [[1.0], [1.0, 2.0]], {}, TypeError, r"fit: y is a ragged list"),
    "X of one dimension": (clean()[:, 0], clean(shape=(1,)), {}, ValueError, r"Linear\(in_features=3\) got input"),
    "X with too many features": (clean(shape=(5,)), clean(shape=(1,)), {}, ValueError, r"the last dimension must be 3"),
    "validation without rows": (
        clean(), clean(shape=(1,)), {"validation_data": (np.zeros((0, 3)), np.zeros((0, 1)))}, ValueError,
        r"fit \(validation\): there are no samples",
    ),
    "validation lengths differ": (
        clean(), clean(shape=(1,)), {"validation_data": (clean(4), clean(3, (1,)))}, ValueError,
        r"fit \(validation\): X has 4 samples but y has 3",
    ),
    "validation ragged": (
        clean(), clean(shape=(1,)), {"validation_data": ([[1.0, 2.0, 3.0], [1.0]], clean(2, (1,)))}, TypeError,
        r"fit \(validation\): X is a ragged list",
    ),
    "validation a triple": (
        clean(), clean(shape=(1,)), {"validation_data": (clean(4), clean(4, (1,)), np.ones(4))}, ValueError,
        r"fit: validation_data must be \(X_val, y_val\)",
    ),
    "weights too few": (
        clean(), clean(shape=(1,)), {"sample_weight": np.ones(5)}, ValueError,
        r"fit: sample_weight must hold one weight per sample, shape \(12,\), got shape \(5,\)",
    ),
    "weights a matrix": (
        clean(), clean(shape=(1,)), {"sample_weight": np.ones((N, 1))}, ValueError,
        r"fit: sample_weight must hold one weight per sample",
    ),
    "weights all zero": (
        clean(), clean(shape=(1,)), {"sample_weight": np.zeros(N)}, ValueError, r"fit: sample_weight is zero",
    ),
    "weights negative": (
        clean(), clean(shape=(1,)), {"sample_weight": -np.ones(N)}, ValueError, r"fit: sample_weight must be .*non-neg",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(SHAPE_CASES))
def test_fit_names_what_is_wrong_with_the_shape_of_the_data(case):
    X, y, options, error, message = SHAPE_CASES[case]
    model = network()
    before = snapshot(model)
    with pytest.raises(error, match=message):
        fit(model, nn.MSELoss(), cr.optim.SGD(model.parameters(), lr=0.1), X, y, verbose=0, **options)
    assert_unchanged(model, before)


def test_fit_with_weights_and_a_scalar_X_names_X():
    model = network()
    with pytest.raises(ValueError, match="fit: X must be an array with one row per sample"):
        fit(model, nn.MSELoss(), cr.optim.SGD(model.parameters(), lr=0.1), 2.0, [1.0], sample_weight=[1.0],
            verbose=0)  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(
    x_shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
    y_shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
)
def test_fit_on_arrays_of_any_shape_trains_or_names_the_problem(x_shape, y_shape):
    X = np.random.default_rng(0).normal(size=x_shape)
    y = np.random.default_rng(1).normal(size=y_shape)
    model = network()
    before = snapshot(model)
    try:
        fit(model, nn.MSELoss(), cr.optim.SGD(model.parameters(), lr=0.1), X, y, epochs=1, verbose=0)
    except (ValueError, TypeError) as error:
        message = str(error)
        assert message.startswith(("fit:", "Sequential[", "mse_loss:")), f"{x_shape}, {y_shape}: {message}"
        assert_unchanged(model, before)
        return
    assert_finite(model)  # trained: shapes that fit (n, 3) -> (n, 1), and y broadcastable no further
    assert X.ndim >= 1 and X.shape[-1] == FEATURES and len(X) == len(y) > 0


# --------------------------------------------------------------------------- evaluate and predict


@settings(max_examples=20, deadline=None)
@given(data=st.data(), where=st.sampled_from(["X", "y"]), dtype=st.sampled_from([np.float32, np.float64]))
def test_evaluate_and_predict_refuse_nan_inf_and_huge_values_naming_them(data, where, dtype):
    arrays = {"X": clean(), "y": clean(shape=(1,), seed=1)}
    arrays[where], cells = data.draw(poisoned(arrays[where]), label=where)
    model = network(dtype)
    before = snapshot(model)
    with pytest.raises(ValueError) as info:
        evaluate(model, nn.MSELoss(), arrays["X"], arrays["y"], metrics=["mae"])
    assert str(info.value).startswith(f"evaluate: {where} has "), str(info.value)
    assert_names_the_cells(str(info.value), cells)
    if where == "X":
        for function in (predict, predict_proba):
            with pytest.raises(ValueError) as info:
                function(model, arrays["X"])
            assert str(info.value).startswith("predict: X has "), str(info.value)
            assert_names_the_cells(str(info.value), cells)
    assert_unchanged(model, before)
    assert model.training  # the mode is restored


@pytest.mark.parametrize("kind", sorted(NOT_REAL))
def test_evaluate_and_predict_refuse_data_that_are_not_real_numbers(kind):
    model = network()
    X = NOT_REAL[kind](clean())
    for call, owner in [
        (lambda: evaluate(model, nn.MSELoss(), X, clean(shape=(1,))), "evaluate"),
        (lambda: evaluate(model, nn.MSELoss(), clean(), NOT_REAL[kind](clean(shape=(1,)))), "evaluate"),
        (lambda: predict(model, X), "predict"),
        (lambda: predict_proba(model, X), "predict"),
    ]:
        with pytest.raises(
            TypeError, match=rf"{owner}: [Xy] must hold real numbers .*got dtype {re.escape(str(X.dtype))}"
        ):
            call()


@pytest.mark.parametrize(
    "X, message",
    [
        (np.zeros((0, 3)), r"predict: there are no samples \(X has 0 rows"),
        (1.5, r"predict: X must be an array with one row per sample"),
        ([[1.0, 2.0, 3.0], [1.0]], r"predict: X is a ragged list"),
        (np.ones(3), r"predict: the model gave an output of shape \(1,\) for a batch of 3 .*X.reshape\(1, -1\)"),
        (np.ones((2, 4)), r"Linear\(in_features=3\) got input of shape \(2, 4\)"),
    ],
)
def test_predict_names_what_is_wrong_with_the_shape_of_X(X, message):
    for function in (predict, predict_proba):
        with pytest.raises((ValueError, TypeError), match=message):
            function(network(), X)


def test_evaluate_names_itself_for_empty_or_mismatched_data():
    model = network()
    with pytest.raises(ValueError, match=r"evaluate: there are no samples \(X has 0 rows"):
        evaluate(model, nn.MSELoss(), np.zeros((0, 3)), np.zeros((0, 1)))
    with pytest.raises(ValueError, match="evaluate: X has 12 samples but y has 4"):
        evaluate(model, nn.MSELoss(), clean(), clean(4, (1,)))
    with pytest.raises(ValueError, match="evaluate: y must be an array with one row per sample"):
        evaluate(model, nn.MSELoss(), clean(), 1.0)


def test_predict_on_a_model_with_nan_parameters_names_them_rather_than_answering_nan():
    model = network()
    with cr.no_grad():
        model[2].bias.numpy()[...] = np.nan  # as a training with terminate_on_nan=False can leave it
    for function in (predict, predict_proba):
        with pytest.raises(ValueError, match=r"predict: the model's outputs hold 12 non-finite .* 2\.bias hold NaN"):
            function(model, clean())


def test_predict_of_an_overflow_inside_the_model_says_so():
    model = nn.Sequential(nn.Linear(FEATURES, 1)).to(np.float32)
    with cr.no_grad():
        model[0].weight.numpy()[...] = 1e30  # finite weights, finite inputs, infinite outputs
    with np.errstate(over="ignore"), pytest.raises(ValueError, match="predict: the model's outputs .*overflow inside"):
        predict(model, np.full((2, FEATURES), 1e10))


# --------------------------------------------------------------------------- the estimators

E = estimators
ESTIMATORS = {
    "Perceptron": lambda: E.Perceptron(max_iter=3),
    "LogisticRegression": lambda: E.LogisticRegression(max_iter=3, random_state=0),  # lbfgs
    "LogisticRegression-adam": lambda: E.LogisticRegression(solver="adam", max_iter=3, random_state=0),
    "LinearSVC": lambda: E.LinearSVC(max_iter=3, random_state=0),  # lbfgs
    "LinearSVC-sgd": lambda: E.LinearSVC(solver="sgd", max_iter=3, random_state=0),
    "LinearRegression": lambda: E.LinearRegression(max_iter=3, random_state=0),  # gd
    "LinearRegression-lbfgs": lambda: E.LinearRegression(solver="lbfgs", max_iter=3, random_state=0),
    "MLPClassifier": lambda: E.MLPClassifier(hidden_layer_sizes=(3,), max_iter=3, random_state=0),  # adam
    "MLPClassifier-lbfgs": lambda: E.MLPClassifier(solver="lbfgs", hidden_layer_sizes=(3,), max_iter=3, random_state=0),
    "MLPRegressor": lambda: E.MLPRegressor(hidden_layer_sizes=(3,), max_iter=3, random_state=0),
}
"""Each estimator, and each kind of solver: those that step on batches through chainrule.train.fit
(and have partial_fit), and scipy's L-BFGS-B."""
ESTIMATOR_WORDS = ("NaN", "infinity", "finite", "too large")
"""What scikit-learn's input checks (and chainrule's) say about NaN, inf and huge values."""
_FITTED: dict[str, object] = {}


def is_regressor(name: str) -> bool:
    return name.startswith(("LinearRegression", "MLPRegressor"))


def targets(name: str, n: int = N) -> np.ndarray:
    if is_regressor(name):
        return clean(n, (FEATURES,)) @ np.array([1.0, -2.0, 0.5])
    return np.arange(n) % 3


def fitted(name: str):
    """A fitted estimator of this kind (a copy: each example may spoil its own)."""
    if name not in _FITTED:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            _FITTED[name] = ESTIMATORS[name]().fit(clean(), targets(name))
    return copy.deepcopy(_FITTED[name])


def fit_methods(estimator) -> list[str]:
    return ["fit"] + (["partial_fit"] if hasattr(estimator, "partial_fit") else [])


def estimator_state(estimator) -> dict:
    """Everything an estimator holds, as plain values (a network as its state dict)."""
    state = {}
    for name, value in vars(estimator).items():
        if isinstance(value, nn.Module):
            state[name] = snapshot(value)
        elif isinstance(value, np.random.RandomState):
            state[name] = value.get_state()[1].copy()
        elif name == "_optimizer":
            state[name] = id(value)
        else:
            state[name] = copy.deepcopy(value)
    return state


def assert_same(a, b, where: str = "") -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b, err_msg=f"{where} changed")
    elif isinstance(a, float) and np.isnan(a):
        assert isinstance(b, float) and np.isnan(b), where
    else:
        assert a == b, f"{where} changed: {a!r} -> {b!r}"


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.filterwarnings("ignore:invalid value encountered in reduce:RuntimeWarning")  # scikit-learn's inf - inf
@pytest.mark.parametrize("name", sorted(ESTIMATORS))
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), where=st.sampled_from(["X", "y", "sample_weight"]), partial=st.booleans())
def test_estimators_refuse_nan_and_inf_in_fit_and_change_nothing(name, data, where, partial):
    arrays = {"X": clean(), "y": targets(name).astype(np.float64), "sample_weight": np.ones(N)}
    arrays[where], _ = data.draw(poisoned(arrays[where], kinds=NOT_FINITE), label=where)
    estimator = fitted(name)
    before = estimator_state(estimator)
    method = fit_methods(estimator)[-1 if partial else 0]
    with pytest.raises(ValueError) as info:
        getattr(estimator, method)(arrays["X"], arrays["y"], sample_weight=arrays["sample_weight"])
    assert any(word in str(info.value) for word in ESTIMATOR_WORDS), str(info.value)
    assert where in str(info.value), str(info.value)  # "Input X contains NaN", "... sample_weight ..."
    assert_same(before, estimator_state(estimator))


@pytest.mark.filterwarnings("ignore:invalid value encountered in reduce:RuntimeWarning")  # scikit-learn's inf - inf
@pytest.mark.parametrize("name", sorted(ESTIMATORS))
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_estimators_refuse_nan_and_inf_when_predicting(name, data):
    X, _ = data.draw(poisoned(clean(), kinds=NOT_FINITE))
    estimator = fitted(name)
    methods = ["predict", "score"] + [m for m in ("predict_proba", "predict_log_proba") if hasattr(estimator, m)]
    for method in methods:
        args = (X, targets(name)) if method == "score" else (X,)
        with pytest.raises(ValueError, match="Input X contains (NaN|infinity)"):
            getattr(estimator, method)(*args)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("name", sorted(ESTIMATORS))
@pytest.mark.parametrize("kind", ["complex", "text", "None", "no rows", "lengths differ", "too few features"])
def test_estimators_refuse_data_they_cannot_learn_from_and_change_nothing(name, kind):
    X, y = clean(), targets(name)
    if kind == "complex":
        X, words = X + 1j, "Complex data not supported"
    elif kind == "text":
        X, words = np.full(X.shape, "abc"), "could not convert string to float"
    elif kind == "None":
        X, words = np.full(X.shape, None), "Input X contains NaN"  # scikit-learn reads None as missing
    elif kind == "no rows":
        X, y, words = X[:0], y[:0], "0 sample"
    elif kind == "lengths differ":
        y, words = y[:5], "inconsistent numbers of samples"
    else:
        X, words = X[:, :2], "X has 2 features, but .* is expecting 3"
    estimator = fitted(name)
    before = estimator_state(estimator)
    methods = fit_methods(estimator) if kind != "too few features" else fit_methods(estimator)[1:]  # fit starts anew
    for method in methods:
        with pytest.raises((ValueError, TypeError), match=words):
            getattr(estimator, method)(X, y)
        assert_same(before, estimator_state(estimator))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_estimators_learn_from_every_real_dtype(name):
    for dtype in REAL:
        X = (clean() * 2).astype(dtype)
        estimator = ESTIMATORS[name]().fit(X, targets(name))
        for p in estimator.network_.parameters():
            assert np.isfinite(p.numpy()).all(), (dtype, name)
        assert np.asarray(estimator.predict(X)).shape[0] == N


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # overflow inside scipy's L-BFGS-B
@pytest.mark.parametrize(
    "name",
    sorted(ESTIMATORS),
)
def test_estimators_meet_huge_values_with_finite_weights_or_an_error_that_changes_nothing(name):
    X = clean()
    X[4, 1] = 1e308
    for method in fit_methods(fitted(name)):
        estimator = fitted(name)
        before = estimator_state(estimator)
        try:
            getattr(estimator, method)(X, targets(name))
        except ValueError as error:
            assert "too large" in str(error) and "rows [4], columns [1]" in str(error), str(error)
            assert_same(before, estimator_state(estimator))
            continue
        for p in estimator.network_.parameters():
            assert np.isfinite(p.numpy()).all(), (name, method)


def test_a_regressor_predicts_no_inf_for_huge_inputs():
    X = clean(40)
    estimator = E.LinearRegression(solver="lbfgs", random_state=0).fit(X, X @ np.array([3.0, -4.0, 2.0]))
    X[2, 1] = 1e308  # times a weight of about -4: beyond float64
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            out = estimator.predict(X)
        except ValueError as error:
            assert "too large" in str(error)
            return
    assert np.isfinite(out).all(), out
