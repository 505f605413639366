"""chainrule.onnx.tabular.export_tabular on hand-made preprocessing states (the CLI's models are
tested end to end in tests/cli/test_export_cli.py): what it refuses, and names that could clash."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import chainrule as cr
from chainrule.onnx import OnnxError
from chainrule.onnx.tabular import export_tabular


def state(numeric=("a",), categorical=(), categories=()):
    return {
        "columns": [*numeric, *categorical],
        "numeric": list(numeric),
        "fill_numeric": [1.0] * len(numeric),
        "mean": [0.5] * len(numeric),
        "scale": [2.0] * len(numeric),
        "categorical": list(categorical),
        "fill_categorical": [c[0] for c in categories],
        "categories": [list(c) for c in categories],
    }


def test_columns_named_like_the_graphs_own_values_keep_their_names_and_values():
    names = ("zero", "axis_1", "network/output")  # names the graph uses inside
    net = cr.nn.Linear(4, 2)
    proto = export_tabular(
        net,
        state(numeric=names[:2], categorical=names[2:], categories=[["x", "y"]]),
        task="classification",
        classes=[3, 7],
    )
    onnx.checker.check_model(proto, full_check=True)
    assert [i.name for i in proto.graph.input] == list(names)
    feeds = {"zero": np.array([[3.0]]), "axis_1": np.array([[np.nan]])}
    feeds["network/output"] = np.array([["y"]], dtype=object)
    label, proba = ort.InferenceSession(proto.SerializeToString()).run(None, feeds)
    x = np.array([[(3.0 - 0.5) / 2.0, (1.0 - 0.5) / 2.0, 0.0, 1.0]], np.float32)
    want = cr.nn.functional.softmax(net(cr.tensor(x)), dim=1).numpy()
    np.testing.assert_allclose(proba, want, rtol=1e-5)
    assert label.tolist() == [[3, 7][int(want.argmax())]]
    assert json.loads({p.key: p.value for p in proto.metadata_props}["classes"]) == [3, 7]


def test_a_network_with_the_wrong_number_of_scores_is_refused():
    with pytest.raises(OnnxError, match="gives 2 scores for 3 classes"):
        export_tabular(cr.nn.Linear(1, 2), state(), task="classification", classes=["a", "b", "c"])


def test_an_incomplete_state_or_a_wrong_input_shape_is_refused():
    broken = state()
    del broken["scale"]
    with pytest.raises(OnnxError, match=r"lacks \['scale'\]"):
        export_tabular(cr.nn.Linear(1, 1), broken, task="regression")
    with pytest.raises(OnnxError, match=r"input_shape \(2,\) holds 2 values, but the preprocessing gives 1"):
        export_tabular(cr.nn.Linear(2, 1), state(), task="regression", input_shape=(2,))
    with pytest.raises(OnnxError, match="numeric columns only"):
        export_tabular(
            cr.nn.Linear(3, 1), state(categorical=("c",), categories=[["p", "q"]]), task="regression", single_input="x"
        )
    with pytest.raises(OnnxError, match="task must be"):
        export_tabular(cr.nn.Linear(1, 1), state(), task="ranking")


def test_a_column_far_from_zero_with_a_small_spread_keeps_its_values():
    # a timestamp-like column: 1.7e9 +- 30. In float32 its values are 128 apart, so imputing and
    # standardising it in float (or taking it as a float input) predicted the wrong values
    prep = state()
    prep.update(fill_numeric=[1.7e9], mean=[1.7e9], scale=[30.0])
    net = cr.nn.Linear(1, 1)
    proto = export_tabular(net, prep, task="regression")
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    raw = np.array([[1.7e9 + 7.3], [1.7e9 - 45.0], [np.nan]])
    (got,) = ort.InferenceSession(proto.SerializeToString()).run(None, {"a": raw})
    x = ((np.where(np.isnan(raw), 1.7e9, raw) - 1.7e9) / 30.0).astype(np.float32)
    np.testing.assert_allclose(got, net(cr.tensor(x)).numpy()[:, 0], rtol=1e-5, atol=1e-6)
