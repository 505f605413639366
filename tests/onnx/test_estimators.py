"""chainrule.onnx.estimators: every estimator exported, checked by onnx.checker and run by ONNX
Runtime at two batch sizes against its own predict, predict_proba and decision_function."""

from __future__ import annotations

import json
import os

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from sklearn.exceptions import ConvergenceWarning, NotFittedError

import chainrule as cr
from chainrule.estimators import (
    LinearRegression,
    LinearSVC,
    LogisticRegression,
    MLPClassifier,
    MLPRegressor,
    Perceptron,
)
from chainrule.onnx import OnnxError
from chainrule.onnx.estimators import SUPPORTED_ESTIMATORS, export_estimator

pytestmark = pytest.mark.filterwarnings("ignore", category=ConvergenceWarning)

RTOL = 1e-5
RNG = np.random.default_rng(0)
X = RNG.normal(size=(90, 4))
Y2 = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64)  # two classes, integers
Y3 = np.argmax(X[:, :3] + 0.3 * RNG.normal(size=(90, 3)), axis=1)  # three classes
NAMES = np.array(["ant", "bee", "cat"])


def mlp_classifier() -> MLPClassifier:
    return MLPClassifier(hidden_layer_sizes=(6,), max_iter=60, learning_rate_init=0.01, random_state=0)


def mlp_regressor() -> MLPRegressor:
    return MLPRegressor(
        hidden_layer_sizes=(6,), activation="tanh", max_iter=60, learning_rate_init=0.01, random_state=0
    )


CLASSIFIERS = {
    "logistic-binary-int": (LogisticRegression, Y2 + 3),
    "logistic-multi-str": (LogisticRegression, NAMES[Y3]),
    "mlp-binary-str": (mlp_classifier, NAMES[Y2]),
    "mlp-multi-int": (mlp_classifier, Y3 * 10),
    "perceptron-binary-int": (Perceptron, Y2),
    "perceptron-multi-str": (Perceptron, NAMES[Y3]),
    "svc-binary-str": (LinearSVC, NAMES[Y2]),
    "svc-multi-int": (LinearSVC, Y3 - 1),
}
REGRESSORS = {
    "linear-1d": (LinearRegression, X @ [1.0, -2.0, 0.5, 3.0] + 1.0),
    "linear-2d": (LinearRegression, np.c_[X @ [1.0, -2.0, 0.5, 3.0], X[:, 0] - X[:, 3]]),
    "mlp-1d": (mlp_regressor, np.sin(X[:, 0]) + X[:, 1]),
    "mlp-2d": (mlp_regressor, np.c_[np.sin(X[:, 0]), X[:, 1] * X[:, 2]]),
}


def session(proto: onnx.ModelProto) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])


TYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64}


def run(proto: onnx.ModelProto, X: np.ndarray) -> dict[str, np.ndarray]:
    s = session(proto)
    dtype = TYPES[s.get_inputs()[0].type]  # X in the estimator's dtype
    return dict(zip([o.name for o in s.get_outputs()], s.run(None, {"X": X.astype(dtype)})))


def assert_close(got: np.ndarray, want: np.ndarray) -> None:
    assert got.dtype == want.dtype
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=RTOL * max(1.0, float(np.abs(want).max())))


def rows(n: int, seed: int) -> np.ndarray:
    """New rows, float32 (what the graph takes; predict is given the same values)."""
    return np.random.default_rng(seed).normal(size=(n, 4)).astype(np.float32)


# ---------------------------------------------------------------------------------- classifiers


@pytest.mark.parametrize("case", sorted(CLASSIFIERS))
def test_a_classifier_gives_predict_and_its_probabilities_or_scores(case):
    make, y = CLASSIFIERS[case]
    clf = make().fit(X, y)
    proto = export_estimator(clf)
    onnx.checker.check_model(proto, full_check=True)
    has_proba = hasattr(clf, "predict_proba")
    second = "probabilities" if has_proba else "scores"
    assert [i.name for i in proto.graph.input] == ["X"]
    assert [o.name for o in proto.graph.output] == ["label", second]
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    for n in (1, 13):
        Xn = rows(n, seed=n)
        out = run(proto, Xn)
        want = clf.predict(Xn)
        assert out["label"].shape == want.shape
        assert out["label"].tolist() == want.tolist()  # exactly the classes_ values
        assert out["label"].dtype == (object if want.dtype.kind == "U" else np.int64)
        assert_close(out[second], clf.predict_proba(Xn) if has_proba else clf.decision_function(Xn))
    assert json.loads(dict((p.key, p.value) for p in proto.metadata_props)["classes"]) == clf.classes_.tolist()


def test_the_binary_decision_at_a_score_of_exactly_zero_is_the_estimators():
    # the Perceptron's step fires at 0 (the second class); the other classifiers need a score above 0
    Xb = np.array([[1.0, 1.0], [2.0, 2.0], [1.0, 0.0], [0.0, 1.0]])
    yb = np.array([0, 1, 1, 0])
    for make, at_zero in ((Perceptron, "b"), (LogisticRegression, "a"), (LinearSVC, "a")):
        clf = make().fit(Xb, np.array(["a", "b"])[yb])
        clf.network_.linear.weight._data[...] = [[1.0, -1.0]]
        clf.network_.linear.bias._data[...] = 0.0
        ties = np.array([[0.5, 0.5], [3.0, 3.0], [1.0, 0.0]], dtype=np.float32)
        assert clf.predict(ties).tolist() == [at_zero, at_zero, "b"]
        assert run(export_estimator(clf), ties)["label"].tolist() == [at_zero, at_zero, "b"]


def test_a_tie_between_classes_goes_to_the_first_as_in_predict():
    clf = LogisticRegression().fit(X, Y3)
    weight = clf.network_.linear.weight._data
    weight[2] = weight[1]  # classes 1 and 2 score alike everywhere
    clf.network_.linear.bias._data[2] = clf.network_.linear.bias._data[1]
    Xn = rows(40, seed=3)
    want = clf.predict(Xn)
    assert 1 in want and 2 not in want
    assert run(export_estimator(clf), Xn)["label"].tolist() == want.tolist()


def test_an_estimator_fitted_on_float32_exports_in_float32():
    clf = mlp_classifier().fit(X.astype(np.float32), Y3)
    proto = export_estimator(clf)
    assert not [n for n in proto.graph.node if n.op_type == "Cast" and n.input[0] == "X"]
    assert {t.data_type for t in proto.graph.initializer if t.name.startswith("network/")} == {onnx.TensorProto.FLOAT}
    Xn = rows(9, seed=4)
    out = run(proto, Xn)
    assert out["label"].tolist() == clf.predict(Xn).tolist()
    assert_close(out["probabilities"], clf.predict_proba(Xn))


def test_an_estimator_fitted_on_float64_keeps_float64_weights():
    clf = LogisticRegression().fit(X, Y2)
    proto = export_estimator(clf)
    weights = [t for t in proto.graph.initializer if t.name == "network/linear.weight"]
    assert len(weights) == 1 and weights[0].data_type == onnx.TensorProto.DOUBLE


# ---------------------------------------------------------------------------------- regressors


@pytest.mark.parametrize("case", sorted(REGRESSORS))
def test_a_regressor_gives_predict_in_its_shape(case):
    make, y = REGRESSORS[case]
    reg = make().fit(X, y)
    proto = export_estimator(reg)
    onnx.checker.check_model(proto, full_check=True)
    assert [o.name for o in proto.graph.output] == ["variable"]
    dims = proto.graph.output[0].type.tensor_type.shape.dim
    assert len(dims) == y.ndim  # [batch] for a 1-D y, [batch, n_targets] for a 2-D one
    for n in (1, 11):
        Xn = rows(n, seed=10 + n)
        assert_close(run(proto, Xn)["variable"], reg.predict(Xn))


# ---------------------------------------------------------------------------------- files and errors


def test_path_writes_the_file_and_cr_onnx_export_dispatches_an_estimator(tmp_path):
    clf = LogisticRegression().fit(X, NAMES[Y3])
    path = tmp_path / "clf.onnx"
    proto = export_estimator(clf, path, name="iris-like")
    assert onnx.load(str(path)) == proto
    assert proto.graph.name == "iris-like"
    via_api = cr.onnx.export(clf, path=str(tmp_path / "api.onnx"))
    assert run(via_api, X[:5])["label"].tolist() == clf.predict(X[:5].astype(np.float32)).tolist()
    assert os.path.exists(tmp_path / "api.onnx")


def test_a_path_in_a_missing_folder_fails_and_leaves_nothing(tmp_path):
    clf = LinearRegression().fit(X, Y2.astype(float))
    with pytest.raises(FileNotFoundError):
        export_estimator(clf, tmp_path / "missing" / "reg.onnx")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "make", [Perceptron, LogisticRegression, LinearSVC, LinearRegression, MLPClassifier, MLPRegressor]
)
def test_an_unfitted_estimator_is_refused_with_sklearns_error(make):
    with pytest.raises(NotFittedError, match="not fitted"):
        export_estimator(make())


def test_what_is_not_a_chainrule_estimator_is_refused_naming_the_supported_ones():
    from sklearn.linear_model import LogisticRegression as SkLogisticRegression

    with pytest.raises(TypeError, match="skl2onnx") as info:
        export_estimator(SkLogisticRegression().fit(X, Y2))
    assert all(name in str(info.value) for name in SUPPORTED_ESTIMATORS)
    with pytest.raises(TypeError, match=r"chainrule.onnx.export\(model, example_input\)"):
        export_estimator(cr.nn.Linear(4, 2))
    with pytest.raises(TypeError, match="fit an instance"):
        export_estimator(LogisticRegression)
    with pytest.raises(TypeError, match="got str"):
        export_estimator("model")


def test_a_bad_opset_is_refused():
    clf = Perceptron().fit(X, Y2)
    with pytest.raises(OnnxError, match="opset must be an int from 18"):
        export_estimator(clf, opset=12)


def test_an_estimator_fitted_on_float64_computes_in_float64():
    # X and every number after it in float64, as predict computes: a float32 X would round a
    # timestamp-like feature (1.7e9 +- 30) to steps of 128 and lose it
    clf = LogisticRegression(max_iter=500).fit(X, Y3)
    reg = LinearRegression().fit(X, X[:, 0] * 3 - X[:, 1])
    Xn = np.random.default_rng(5).normal(size=(20, 4))  # float64
    for model in (clf, reg):
        proto = export_estimator(model)
        assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
        out = run(proto, Xn)
        want = model.predict_proba(Xn) if model is clf else model.predict(Xn)
        got = out["probabilities"] if model is clf else out["variable"]
        assert got.dtype == np.float64
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)  # beyond float32's reach
