"""Export a fitted chainrule estimator (``chainrule.estimators``) to ONNX, as skl2onnx exports
scikit-learn's own: a graph from the raw features to what ``predict`` and ``predict_proba`` (or
``decision_function``) return.

The graph's input is ``X`` [batch, n_features] in the estimator's dtype: float64 for one fitted on
float64 data (skl2onnx's DoubleTensorType), so that the graph computes as ``predict`` does and
features far from 0 keep their precision, float32 for one fitted on float32. It runs the
estimator's network (``network_``, exported by :func:`chainrule.onnx.exporter.export_model`; its
parameters are initializers named ``network/<state_dict key>``), and gives:

=================================== ==================================================================
estimator                           outputs
=================================== ==================================================================
LogisticRegression, MLPClassifier   ``label`` [batch] (= ``predict``), ``probabilities``
                                    [batch, n_classes] (= ``predict_proba``)
Perceptron, LinearSVC               ``label`` [batch], ``scores`` (= ``decision_function``:
                                    [batch] for two classes, else [batch, n_classes])
LinearRegression, MLPRegressor      ``variable`` (= ``predict``: [batch] when fitted on a 1-D y,
                                    else [batch, n_targets])
=================================== ==================================================================

The numbers come out in X's dtype. ``label`` holds the ``classes_`` themselves (a constant gathered
by class index): int64 for integer classes, string for text (also float64 and bool, for such
classes). The class is picked as the estimator picks it: two classes, the second when the score is
above 0 (the Perceptron: at 0 too, where its step fires); more, the first of the highest scores
(ONNX ``ArgMax``, like NumPy's). The class order of ``probabilities`` and ``scores`` is
``classes_``'s, also kept in the model's metadata (``classes``, as JSON).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from chainrule.onnx._common import DEFAULT_OPSET, check_opset, require_onnx, save_model
from chainrule.onnx._graph import (
    BATCH,
    OUTPUTS,
    GraphBuilder,
    classifier_outputs,
    regressor_output,
)

__all__ = ["export_estimator", "SUPPORTED_ESTIMATORS"]

SUPPORTED_ESTIMATORS = (
    "Perceptron",
    "LogisticRegression",
    "LinearSVC",
    "LinearRegression",
    "MLPClassifier",
    "MLPRegressor",
)
"""The estimators of ``chainrule.estimators`` that export (any subclass of their bases does too)."""

INPUT = "X"
"""The name of the graph's input (skl2onnx's)."""


def export_estimator(estimator: Any, path: Any = None, *, opset: int = DEFAULT_OPSET, name: str | None = None) -> Any:
    """The ONNX model (an ``onnx.ModelProto``) of a fitted chainrule estimator: from the features
    ``X`` to ``label`` and ``probabilities`` (or ``scores``), or to ``variable`` (see the module
    docstring); it passes ``onnx.checker.check_model(full_check=True)``.

    Args:
        estimator: a fitted ``Perceptron``, ``LogisticRegression``, ``LinearSVC``,
            ``LinearRegression``, ``MLPClassifier`` or ``MLPRegressor``.
        path: where to write the file (written whole or not at all); None (default): only return it.
        opset: the ONNX opset to write (default ``DEFAULT_OPSET``, 18; ai.onnx.ml is not used).
        name: the graph's name (default: the estimator's class name).

    Raises:
        sklearn.exceptions.NotFittedError: the estimator is not fitted.
        TypeError: ``estimator`` is not one of chainrule's estimators.

    Example:
        >>> import numpy as np
        >>> import onnxruntime as ort
        >>> from sklearn.datasets import load_iris
        >>> from chainrule.estimators import LogisticRegression
        >>> from chainrule.onnx.estimators import export_estimator
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = LogisticRegression(max_iter=1000).fit(X, y)
        >>> proto = export_estimator(clf)
        >>> [o.name for o in proto.graph.output]
        ['label', 'probabilities']
        >>> session = ort.InferenceSession(proto.SerializeToString())
        >>> label, proba = session.run(None, {"X": X[:5]})  # float64, as it was fitted
        >>> bool((label == clf.predict(X[:5])).all()), bool(np.allclose(proba, clf.predict_proba(X[:5]), atol=1e-6))
        (True, True)
    """
    kind = _kind(estimator)
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator)
    opset = check_opset(opset, "export_estimator")
    onnx = require_onnx()
    from chainrule.onnx.exporter import export_model

    owner = type(estimator).__name__
    name = owner if name is None else name
    network = estimator.network_
    n_features = int(estimator.n_features_in_)
    # predict computes from the scores (the network without its output activation); the
    # probabilities are that activation (sigmoid or softmax), applied in the graph
    traced = network if kind == "regressor" else network[: len(network) - 1]
    example = np.zeros((1, n_features), dtype=estimator._dtype)
    net = export_model(traced, example, input_names=["input"], output_names=["output"], opset=opset)

    b = GraphBuilder(reserved=[INPUT, *OUTPUTS])
    # X and the outputs in the estimator's own dtype: float64 for one fitted on float64, so that
    # features far from 0 keep their precision (a float32 X would round 1.7e9 to steps of 128)
    x_type = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(estimator._dtype))
    out, out_type = b.network(net, INPUT, x_type)
    metadata = {"chainrule.estimator": owner}
    if kind == "regressor":
        outputs = [regressor_output(b, out, out_type, flat=bool(estimator._y_1d), out_type=x_type)]
        described = "variable: predict(X)"
    else:
        from chainrule.estimators.linear import Perceptron

        outputs = classifier_outputs(
            b,
            out,
            out_type,
            estimator.classes_,
            probabilities=kind == "probabilities",
            binary_fires_at_zero=isinstance(estimator, Perceptron),
            owner=f"export_estimator({owner})",
            out_type=x_type,
        )
        metadata["classes"] = json.dumps(np.asarray(estimator.classes_).tolist())
        described = "label: predict(X); " + (
            "probabilities: predict_proba(X)" if kind == "probabilities" else "scores: decision_function(X)"
        )
    inputs = [b.value_info(INPUT, x_type, [BATCH, n_features])]
    kind_name = np.dtype(estimator._dtype).name
    doc = f"chainrule {owner} exported from its fitted network. X: {kind_name} [batch, {n_features}]; {described}."
    model = b.model(inputs, outputs, name=name, opset=opset, doc_string=doc, metadata=metadata)
    if path is not None:
        save_model(model, path)
    return model


def _kind(estimator: Any) -> str:
    """'probabilities', 'scores' (classifiers without probabilities) or 'regressor'; a TypeError
    for anything that is not a chainrule estimator instance."""
    supported = ", ".join(SUPPORTED_ESTIMATORS)
    if isinstance(estimator, type):
        raise TypeError(
            f"export_estimator: got the class {estimator.__name__}, not a fitted estimator; fit an instance "
            f"first, e.g. {estimator.__name__}().fit(X, y)"
        )
    try:
        from chainrule.estimators.base import ClassifierBase, LogLossClassifier, RegressorBase
    except ImportError:  # no scikit-learn: no chainrule estimator can exist
        ClassifierBase = LogLossClassifier = RegressorBase = ()  # noqa: N806
    if isinstance(estimator, LogLossClassifier):
        return "probabilities"
    if isinstance(estimator, ClassifierBase):
        return "scores"
    if isinstance(estimator, RegressorBase):
        return "regressor"
    from chainrule.nn.module import Module

    hint = ""
    if isinstance(estimator, Module):
        hint = "; a Module exports with chainrule.onnx.export(model, example_input)"
    elif type(estimator).__module__.startswith("sklearn"):
        hint = "; scikit-learn's own estimators export with skl2onnx"
    raise TypeError(
        f"export_estimator: expected a fitted chainrule estimator ({supported}), got {type(estimator).__name__}{hint}"
    )
