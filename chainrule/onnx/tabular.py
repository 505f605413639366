"""Export a network trained on a table *with* its fitted preprocessing: an ONNX graph from the raw
columns to the prediction, as ``chainrule predict`` makes it (``chainrule export`` writes it).

The preprocessing is the JSON state ``chainrule.cli.tabular`` keeps with a model (a plain dict:
this layer does not import the CLI): numeric columns imputed with their median and standardised,
categorical columns imputed with their most frequent value and one-hot encoded, a category unseen
in training giving zeros. The graph does the same (the categories with the ``ai.onnx.ml`` operators):

- numeric columns: one double input [batch, 1] each, a missing cell NaN (so is a cell that is not
  a number, as ``chainrule predict`` takes it); together imputed (NaN -> the median) and
  standardised ((x - mean) / scale) in double precision, as ``chainrule predict`` does (a float
  input would lose a column far from 0 with a small spread, such as a timestamp);
- categorical columns: one string input [batch, 1] each, the cell's text (stripped of surrounding
  blanks, as the CSV reader strips it); ``missing`` spellings (by default the empty string; the CLI
  passes the CSV reader's markers: '', 'NA', 'N/A', 'NULL', 'NaN', '?', ...) become the most
  frequent value (``LabelEncoder``), and ``OneHotEncoder`` (``zeros=1``) writes the one-hot columns,
  all 0 for a category not seen in training;
- the numeric and one-hot columns side by side, in the order of the preprocessing's features,
  reshaped to the network's ``input_shape``, run the network (exported by
  :func:`chainrule.onnx.exporter.export_model`, its parameters named ``network/<state_dict key>``).

Outputs, named as skl2onnx names them:

- classification: ``label`` [batch], the class names (int64 when every class is an integer, double
  when they are numbers, else string), the first of the highest scores; and ``probabilities``
  float [batch, n_classes] (the softmax of the scores, for a network trained on cross-entropy),
  or else ``scores`` float [batch, n_classes] (the network's outputs);
- regression: ``variable`` float [batch] (one target; [batch, n_targets] for several).

Inputs are named by their columns, so a column may not be named like an output.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from chainrule.nn.module import Module
from chainrule.onnx._common import DEFAULT_OPSET, OnnxError, check_opset, require_onnx
from chainrule.onnx._graph import (
    BATCH,
    OUTPUTS,
    GraphBuilder,
    classifier_outputs,
    label_array,
    regressor_output,
)

__all__ = ["export_tabular", "STATE_KEYS"]

STATE_KEYS = ("columns", "numeric", "fill_numeric", "mean", "scale", "categorical", "fill_categorical", "categories")
"""The keys of the preprocessing state the graph is built from (``chainrule.cli.tabular``'s layout)."""


def export_tabular(
    network: Module,
    preprocessing: Mapping[str, Any],
    *,
    task: str,
    classes: Sequence[Any] | None = None,
    probabilities: bool = True,
    input_shape: Sequence[int] | None = None,
    single_input: str | None = None,
    missing: Sequence[str] = ("",),
    opset: int = DEFAULT_OPSET,
    name: str = "chainrule",
    metadata: Mapping[str, str] | None = None,
) -> Any:
    """The ONNX model (an ``onnx.ModelProto``) of ``network`` behind its fitted ``preprocessing``:
    from the raw columns to ``label`` and ``probabilities`` (or ``scores``), or ``variable`` (see
    the module docstring). It passes ``onnx.checker.check_model(full_check=True)``.

    Args:
        network: the trained network (a ``Module``, exported in eval mode): its input is the
            preprocessed features, its output the scores (logits) of each class, or the values.
        preprocessing: the fitted preprocessing's JSON state (the keys ``STATE_KEYS``).
        task: 'classification' or 'regression'.
        classes: the class names, in the order of the network's scores (classification).
        probabilities: classification: output the softmax of the scores as ``probabilities``
            (default True: a network trained on cross-entropy); False: the scores as ``scores``.
        input_shape: the shape of one row as the network takes it (default: (features,)).
        single_input: the name of one float input [batch, columns] holding every column (all
            numeric) side by side; default None: one input per column, named by it.
        missing: the spellings of a missing categorical cell (default: the empty string).
        opset: the ONNX opset to write (default ``DEFAULT_OPSET``, 18; ai.onnx.ml opset 3).
        name: the graph's name (default 'chainrule').
        metadata: more ``metadata_props`` of the model (besides ``task`` and ``classes``).

    Example:
        >>> import numpy as np, onnxruntime as ort
        >>> import chainrule as cr
        >>> from chainrule.onnx.tabular import export_tabular
        >>> state = {"columns": ["area", "city"], "numeric": ["area"], "fill_numeric": [65.0],
        ...          "mean": [65.0], "scale": [10.0], "categorical": ["city"], "fill_categorical": ["Lyon"],
        ...          "categories": [["Lyon", "Paris"]]}
        >>> net = cr.nn.Linear(3, 2)
        >>> proto = export_tabular(net, state, task="classification", classes=["cheap", "dear"], missing=["", "NA"])
        >>> [(i.name, i.type.tensor_type.elem_type) for i in proto.graph.input]   # 11: double, 8: string
        [('area', 11), ('city', 8)]
        >>> session = ort.InferenceSession(proto.SerializeToString())
        >>> rows = {"area": np.array([[50.0], [np.nan]]), "city": np.array([["Paris"], ["NA"]], object)}
        >>> label, proba = session.run(None, rows)
        >>> proba.shape, label.dtype.kind
        ((2, 2), 'O')
    """
    onnx = require_onnx()
    if not isinstance(network, Module):
        raise TypeError(f"export_tabular: network must be a chainrule Module, got {type(network).__name__}")
    opset = check_opset(opset, "export_tabular")
    state = _checked_state(preprocessing)
    if task not in ("classification", "regression"):
        raise OnnxError(f"export_tabular: task must be 'classification' or 'regression', got {task!r}")
    if task == "classification" and (classes is None or len(classes) < 2):
        raise OnnxError(f"export_tabular: classification needs the class names (at least 2), got {classes!r}")
    numeric, categorical = state["numeric"], state["categorical"]
    used = set(numeric) | set(categorical)
    columns = [c for c in state["columns"] if c in used] + [
        c for c in (*numeric, *categorical) if c not in state["columns"]
    ]
    if single_input is not None and categorical:
        raise OnnxError(
            f"export_tabular: single_input={single_input!r} takes numeric columns only, but "
            f"{categorical[:3]} are categorical"
        )
    input_names = [single_input] if single_input is not None else columns
    clash = sorted(set(input_names) & set(OUTPUTS))
    if clash:
        raise OnnxError(
            f"export_tabular: the column(s) {clash} are named like an output of the graph ({', '.join(OUTPUTS)}): "
            "rename the column in the data and train again"
        )
    n_features = len(numeric) + sum(len(c) for c in state["categories"])
    shape = (n_features,) if input_shape is None else tuple(int(s) for s in input_shape)
    if math.prod(shape) != n_features:
        raise OnnxError(
            f"export_tabular: input_shape {shape} holds {math.prod(shape)} values, but the preprocessing gives "
            f"{n_features} features"
        )

    from chainrule.onnx.exporter import export_model

    dtype = next((p.dtype for p in network.parameters()), np.dtype(np.float32))
    net = export_model(
        network, np.zeros((1, *shape), dtype=dtype), input_names=["input"], output_names=["output"], opset=opset
    )
    b = GraphBuilder(reserved=[*input_names, *OUTPUTS])
    FLOAT, DOUBLE, STRING = onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.STRING
    inputs = []
    parts = []
    if single_input is not None:
        inputs.append(b.value_info(single_input, FLOAT, [BATCH, len(numeric)]))
        parts.append(_numeric(b, single_input, FLOAT, state))
    else:
        for column in columns:
            kind = DOUBLE if column in numeric else STRING
            inputs.append(b.value_info(column, kind, [BATCH, 1]))
        if numeric:
            together = numeric[0] if len(numeric) == 1 else b.op("Concat", list(numeric), "numeric", axis=1)
            parts.append(_numeric(b, together, DOUBLE, state))
        for column, fill, categories in zip(categorical, state["fill_categorical"], state["categories"]):
            parts.append(_one_hot(b, column, fill, categories, missing))
    features = parts[0] if len(parts) == 1 else b.op("Concat", parts, "features", axis=1)
    if shape != (n_features,):
        target = b.constant(np.array([-1, *shape], dtype=np.int64), "input_shape")
        features = b.op("Reshape", [features, target], "features")
    out, out_type = b.network(net, features, FLOAT)
    width = net.graph.output[0].type.tensor_type.shape.dim[-1].dim_value
    props = {"task": task, **(metadata or {})}
    if task == "classification":
        expected = 1 if len(classes) == 2 and width == 1 else len(classes)
        if width != expected:
            raise OnnxError(
                f"export_tabular: the network gives {width} scores for {len(classes)} classes (expected {expected})"
            )
        outputs = classifier_outputs(b, out, out_type, classes, probabilities=probabilities, owner="export_tabular")
        props["classes"] = json.dumps(label_array(classes, "export_tabular").tolist())
        described = "label: the predicted class; " + (
            "probabilities: per class" if probabilities else "scores: the network's score per class"
        )
    else:
        outputs = [regressor_output(b, out, out_type, flat=width == 1)]
        described = "variable: the predicted value"
    if single_input is not None:
        taken = f"{single_input}: float [batch, {len(numeric)}], the raw features (NaN: missing)"
    else:
        taken = "one input per column, [batch, 1]: double for numeric columns (NaN: missing), string for the others"
        if categorical:
            taken += f" (missing: {', '.join(repr(m) for m in missing)})"
    doc = f"chainrule: a network with its fitted preprocessing. Inputs: {taken}. Outputs: {described}."
    return b.model(inputs, outputs, name=name, opset=opset, doc_string=doc, metadata=props)


def _checked_state(preprocessing: Mapping[str, Any]) -> dict[str, Any]:
    """The preprocessing state, its keys and lengths checked (OnnxError naming what is wrong)."""
    if not isinstance(preprocessing, Mapping):
        raise TypeError(
            f"export_tabular: preprocessing must be a dict (its JSON state), got {type(preprocessing).__name__}"
        )
    lacking = [key for key in STATE_KEYS if key not in preprocessing]
    if lacking:
        raise OnnxError(
            f"export_tabular: the preprocessing state lacks {lacking} (expected the keys {list(STATE_KEYS)})"
        )
    state = {key: list(preprocessing[key]) for key in STATE_KEYS}
    k = len(state["numeric"])
    for key in ("fill_numeric", "mean", "scale"):
        if len(state[key]) != k:
            raise OnnxError(f"export_tabular: the preprocessing has {k} numeric columns but {len(state[key])} {key!r}")
    if any(not np.isfinite(s) or s == 0 for s in state["scale"]):
        raise OnnxError(f"export_tabular: the preprocessing's scales must be finite and non-zero, got {state['scale']}")
    c = len(state["categorical"])
    for key in ("fill_categorical", "categories"):
        if len(state[key]) != c:
            raise OnnxError(
                f"export_tabular: the preprocessing has {c} categorical columns but {len(state[key])} {key!r}"
            )
    if not k and not c:
        raise OnnxError("export_tabular: the preprocessing has no column")
    names = [*state["numeric"], *state["categorical"]]
    if len(set(names)) != len(names):
        raise OnnxError(f"export_tabular: a column is listed twice in the preprocessing: {names}")
    empty = [column for column, cats in zip(state["categorical"], state["categories"]) if not cats]
    if empty:
        raise OnnxError(f"export_tabular: the categorical column(s) {empty} have no category in the preprocessing")
    return state


def _numeric(b: GraphBuilder, x: str, x_type: int, state: dict) -> str:
    """The numeric columns [batch, k] as float: NaN imputed with ``fill_numeric``, then
    standardised, in double precision as ``chainrule predict`` computes them (in float, a column
    far from 0 with a small spread, such as a timestamp, loses its values: 1.7e9 is 128 float
    steps wide)."""
    onnx = b.onnx
    DOUBLE = onnx.TensorProto.DOUBLE
    x = b.cast(x, DOUBLE, x_type, "numeric_double")
    fill, mean, scale = (np.asarray(state[key], dtype=np.float64) for key in ("fill_numeric", "mean", "scale"))
    missing = b.op("IsNaN", [x], "numeric_missing")
    imputed = b.op("Where", [missing, b.constant(fill, "fill_numeric"), x], "numeric_imputed")
    centred = b.op("Sub", [imputed, b.constant(mean, "mean")], "numeric_centred")
    scaled = b.op("Div", [centred, b.constant(scale, "scale")], "numeric_standardised")
    return b.op("Cast", [scaled], "numeric_standardised", to=onnx.TensorProto.FLOAT)


def _one_hot(b: GraphBuilder, column: str, fill: str, categories: Sequence[str], missing: Sequence[str]) -> str:
    """A categorical column [batch, 1] of text as its one-hot columns [batch, len(categories)]: the
    ``missing`` spellings imputed with ``fill`` (a spelling that is a category stays that category),
    an unknown category all zeros."""
    categories = [str(c) for c in categories]
    markers = [m for m in dict.fromkeys(str(m) for m in missing) if m not in categories]
    unknown = ""  # what an unseen category becomes: no category's name, so OneHotEncoder gives zeros
    while unknown in categories:
        unknown += "\x00"
    imputed = b.op(
        "LabelEncoder",
        [column],
        f"{column}_imputed",
        domain="ai.onnx.ml",
        keys_strings=[*categories, *markers],
        values_strings=[*categories, *[str(fill)] * len(markers)],
        default_string=unknown,
    )
    encoded = b.op(
        "OneHotEncoder", [imputed], f"{column}_one_hot", domain="ai.onnx.ml", cats_strings=categories, zeros=1
    )
    return b.squeezed(encoded, f"{column}_one_hot")
