"""What the estimator and the tabular exporters share: a graph written around an exported network
(``GraphBuilder``), the class labels as a constant, and the heads that turn a network's scores into
the outputs scikit-learn's converters (skl2onnx) give: ``label``, ``probabilities``, ``scores``,
``variable``.

The network itself is exported by :func:`chainrule.onnx.exporter.export_model` and embedded whole:
its names prefixed (its parameters keep their ``state_dict`` keys after the prefix), its input fed
by the graph's preprocessing, cast to the network's dtype where it differs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from chainrule.onnx._common import ML_OPSET, OnnxError, new_model, require_onnx

BATCH = "batch"
"""The name of the symbolic batch axis (as :func:`chainrule.onnx.exporter.export_model` names it)."""

LABEL, PROBABILITIES, SCORES, VARIABLE = "label", "probabilities", "scores", "variable"
"""The output names, skl2onnx's: the predicted label, the class probabilities, the decision
function (classifiers without probabilities), a regressor's prediction."""

OUTPUTS = (LABEL, PROBABILITIES, SCORES, VARIABLE)
"""Every output name a graph written here may have (no input may take one)."""


class GraphBuilder:
    """An ONNX graph being written: nodes, initializers, and names unique among the graph's own
    and the ``reserved`` ones (the inputs' and outputs' names, which any string may be)."""

    def __init__(self, reserved: Iterable[str] = ()) -> None:
        self.onnx = require_onnx()
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.taken: set[str] = set(reserved)
        self.domains: dict[str, int] = {}
        self.network_model: Any = None  # the embedded network's ModelProto (its IR version and producer)
        self.network_io: tuple[str, str] | None = None  # the embedded network's input and output in the graph

    def fresh(self, hint: str) -> str:
        """A name not used yet: ``hint``, or ``hint_2``, ``hint_3``, ..."""
        name, k = hint, 1
        while name in self.taken:
            k += 1
            name = f"{hint}_{k}"
        self.taken.add(name)
        return name

    def constant(self, value: Any, hint: str) -> str:
        """An initializer holding ``value`` (a NumPy array; strings as an object array)."""
        name = self.fresh(hint)
        self.initializers.append(self.onnx.numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op_type: str, inputs: Sequence[str], hint: str, *, domain: str = "", out: str | None = None, **attrs):
        """Add one node; the name of its (single) output, ``out`` when given (a graph output)."""
        output = out if out is not None else self.fresh(hint)
        if domain:
            self.domains[domain] = ML_OPSET
        node_name = self.fresh(f"/{hint}/{op_type}")
        self.nodes.append(
            self.onnx.helper.make_node(op_type, list(inputs), [output], name=node_name, domain=domain, **attrs)
        )
        return output

    def squeezed(self, x: str, hint: str) -> str:
        """``x`` without its axis 1 (of size 1): a column [batch, 1] as a vector [batch]."""
        return self.op("Squeeze", [x, self.constant(np.array([1], dtype=np.int64), "axis_1")], hint)

    def cast(self, x: str, elem_type: int, from_type: int, hint: str) -> str:
        """``x`` cast to ``elem_type`` (``x`` itself when it has that type already)."""
        return x if elem_type == from_type else self.op("Cast", [x], hint, to=elem_type)

    def network(self, model: Any, x: str, x_type: int, hint: str = "network") -> tuple[str, int]:
        """Embed an exported network (one input, one output) fed by ``x`` (of element type
        ``x_type``, cast to the network's): (its output's name, its output's element type).
        Every name inside is put under ``hint/``."""
        graph = model.graph
        if len(graph.input) != 1 or len(graph.output) != 1:
            raise OnnxError(
                f"the network must have one input and one output to be embedded, got {len(graph.input)} and "
                f"{len(graph.output)}"
            )
        network_input, network_output = graph.input[0], graph.output[0]
        x = self.cast(x, network_input.type.tensor_type.elem_type, x_type, f"{hint}/cast")
        names = _names(graph)
        prefix, prefixed = self._prefixed(hint, names)
        mapping = {network_input.name: x}

        def renamed(name: str) -> str:
            if not name:  # an omitted optional input
                return name
            if name not in mapping:
                mapping[name] = prefixed[name]
                self.taken.add(mapping[name])
            return mapping[name]

        for initializer in graph.initializer:
            copy = self.onnx.TensorProto()
            copy.CopyFrom(initializer)
            copy.name = renamed(initializer.name)
            self.initializers.append(copy)
        for node in graph.node:
            copy = self.onnx.NodeProto()
            copy.CopyFrom(node)
            _rename_node(copy, renamed)
            copy.name = "/" + _joined(prefix, node.name or node.op_type)  # as the exporter names nodes: /path/Op
            self.nodes.append(copy)
        for opset in model.opset_import:
            if opset.domain:
                self.domains[opset.domain] = opset.version
        self.network_model = model
        # where the network lies in the graph: `chainrule summary` cuts it out to show its layers
        self.network_io = (x, renamed(network_output.name))
        return renamed(network_output.name), network_output.type.tensor_type.elem_type

    def _prefixed(self, hint: str, names: set[str]) -> tuple[str, dict[str, str]]:
        """(the prefix, each name under it): ``hint`` (or ``hint_2``, ...) such that no ``prefix/name``
        is taken and no two are alike."""
        k = 1
        while True:
            prefix = hint if k == 1 else f"{hint}_{k}"
            prefixed = {name: _joined(prefix, name) for name in names}
            if len(set(prefixed.values())) == len(names) and not any(p in self.taken for p in prefixed.values()):
                return prefix, prefixed
            k += 1

    def model(
        self,
        inputs: Sequence[Any],
        outputs: Sequence[Any],
        *,
        name: str,
        opset: int,
        doc_string: str,
        metadata: Mapping[str, str],
    ) -> Any:
        """The ``onnx.ModelProto`` of the graph, checked (``full_check``)."""
        onnx = self.onnx
        graph = onnx.helper.make_graph(self.nodes, name, list(inputs), list(outputs), initializer=self.initializers)
        opsets = [onnx.helper.make_opsetid("", opset)]
        opsets += [onnx.helper.make_opsetid(domain, version) for domain, version in sorted(self.domains.items())]
        model = new_model(graph, opsets, doc_string)
        if self.network_model is not None:
            model.ir_version = self.network_model.ir_version
        props = dict(metadata)
        if self.network_io is not None:
            props["chainrule.network_input"], props["chainrule.network_output"] = self.network_io
        onnx.helper.set_model_props(model, props)
        try:
            onnx.checker.check_model(model, full_check=True)
        except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as error:  # a bug, not the user's
            raise OnnxError(f"the graph written for {name} does not pass onnx.checker: {error}") from error
        return model

    def value_info(self, name: str, elem_type: int, shape: Sequence[Any]) -> Any:
        """The type of a graph input or output: element type and shape (ints, or names of symbolic axes)."""
        return self.onnx.helper.make_tensor_value_info(name, elem_type, list(shape))


def _joined(prefix: str, name: str) -> str:
    """``prefix/name``, with one slash where ``name`` starts with one (the exporter's value names do)."""
    return prefix + name if name.startswith("/") else f"{prefix}/{name}"


def _names(graph: Any) -> set[str]:
    """Every value name of a graph (its subgraphs' included): inputs, outputs, initializers, edges."""
    names = {v.name for v in graph.input} | {v.name for v in graph.output} | {t.name for t in graph.initializer}
    for node in graph.node:
        names.update(n for n in (*node.input, *node.output) if n)
        for sub in _subgraphs(node):
            names |= _names(sub)
    return names


def _subgraphs(node: Any) -> list[Any]:
    """The graphs a node's attributes hold (an If's branches, a Loop's body)."""
    found = []
    for attribute in node.attribute:
        if attribute.HasField("g"):
            found.append(attribute.g)
        found.extend(attribute.graphs)
    return found


def _rename_node(node: Any, renamed: Any) -> None:
    """Rename a node's inputs and outputs (and those of its subgraphs' nodes) with ``renamed``."""
    node.input[:] = [renamed(n) for n in node.input]
    node.output[:] = [renamed(n) for n in node.output]
    for sub in _subgraphs(node):
        for value in (*sub.input, *sub.output, *sub.value_info):
            value.name = renamed(value.name)
        for initializer in sub.initializer:
            initializer.name = renamed(initializer.name)
        for inner in sub.node:
            _rename_node(inner, renamed)


# ---------------------------------------------------------------------------------------- labels


def label_array(classes: Sequence[Any], owner: str) -> np.ndarray:
    """The class labels as the array an ONNX constant holds: int64 for integers, float64 for other
    numbers, bool, or str (an object array) for text; anything else is an OnnxError."""
    values = np.asarray(classes)
    if values.dtype.kind in "iu":
        if values.size and (values.max() > np.iinfo(np.int64).max):
            raise OnnxError(f"{owner}: class labels beyond int64 cannot be written ({values.max()})")
        return values.astype(np.int64)
    if values.dtype.kind in "fb":
        return values.astype(np.float64 if values.dtype.kind == "f" else bool)
    if values.dtype.kind in "OU":
        items = list(values.tolist())
        if all(isinstance(c, str) for c in items):
            return np.array(items, dtype=object)
        if all(isinstance(c, (int, np.integer)) and not isinstance(c, bool) for c in items):
            return np.array(items, dtype=np.int64)
        if all(isinstance(c, (int, float, np.integer, np.floating)) and not isinstance(c, bool) for c in items):
            return np.array(items, dtype=np.float64)
    raise OnnxError(
        f"{owner}: class labels must all be integers, all numbers or all strings to be written as an ONNX "
        f"tensor, got {list(classes)[:5]!r}"
    )


def label_type(labels: np.ndarray) -> int:
    """The ONNX element type of ``label_array``'s result."""
    onnx = require_onnx()
    if labels.dtype == object:
        return onnx.TensorProto.STRING
    return onnx.helper.np_dtype_to_tensor_dtype(labels.dtype)


def classifier_outputs(
    b: GraphBuilder,
    scores: str,
    scores_type: int,
    classes: Sequence[Any],
    *,
    probabilities: bool,
    binary_fires_at_zero: bool = False,
    owner: str,
    out_type: int | None = None,
) -> list[Any]:
    """The outputs of a classifier from its network's scores (logits): ``label``, the classes
    picked as the estimator picks them, and ``probabilities`` (sigmoid or softmax of the scores)
    or else ``scores``, as float.

    ``scores`` has one column for two classes (the second class when it is above 0, or at 0 too
    with ``binary_fires_at_zero``: the Perceptron's step) or one per class (the first highest,
    as ``argmax`` picks it: ONNX ArgMax with ``select_last_index=0``). One column gives
    ``scores`` of shape [batch] (``decision_function``'s) and probabilities [1 - p, p].
    """
    onnx = b.onnx
    labels = label_array(classes, owner)
    n_classes = len(labels)
    binary = b.network_model is not None and _width(b.network_model) == 1
    if binary:
        threshold = b.constant(np.zeros((), dtype=_np_type(scores_type)), "zero")
        fired = b.op("GreaterOrEqual" if binary_fires_at_zero else "Greater", [scores, threshold], "fired")
        column = b.op("Cast", [fired], "class_index", to=onnx.TensorProto.INT64)
        index = b.squeezed(column, "class_index")
    else:
        index = b.op("ArgMax", [scores], "class_index", axis=1, keepdims=0, select_last_index=0)
    b.op("Gather", [b.constant(labels, "classes"), index], "label", out=LABEL, axis=0)
    outputs = [b.value_info(LABEL, label_type(labels), [BATCH])]
    out_type = onnx.TensorProto.FLOAT if out_type is None else out_type  # float unless asked for another
    if probabilities:
        if binary:
            p = b.op("Sigmoid", [scores], "probability")
            one = b.constant(np.ones((), dtype=_np_type(scores_type)), "one")
            q = b.op("Sub", [one, p], "probability")
            both = b.op("Concat", [q, p], "probabilities", axis=1)
        else:
            both = b.op("Softmax", [scores], "probabilities", axis=1)
        _cast_to(b, both, scores_type, out_type, PROBABILITIES)
        outputs.append(b.value_info(PROBABILITIES, out_type, [BATCH, n_classes]))
    else:
        if binary:
            scores = b.squeezed(scores, "scores")
        _cast_to(b, scores, scores_type, out_type, SCORES)
        outputs.append(b.value_info(SCORES, out_type, [BATCH] if binary else [BATCH, n_classes]))
    return outputs


def regressor_output(b: GraphBuilder, values: str, values_type: int, *, flat: bool, out_type: int | None = None) -> Any:
    """The output ``variable`` of a regressor, as float (or ``out_type``): [batch] (``flat``: one
    target, predicted as a vector) or [batch, targets]."""
    onnx = b.onnx
    out_type = onnx.TensorProto.FLOAT if out_type is None else out_type
    width = _width(b.network_model)
    if flat:
        values = b.squeezed(values, "variable")
    _cast_to(b, values, values_type, out_type, VARIABLE)
    return b.value_info(VARIABLE, out_type, [BATCH] if flat else [BATCH, width])


def _cast_to(b: GraphBuilder, x: str, x_type: int, elem_type: int, out: str) -> str:
    """``x`` as the graph output ``out`` of ``elem_type``: a Cast, or an Identity when it has it."""
    if x_type == elem_type:
        return b.op("Identity", [x], out, out=out)
    return b.op("Cast", [x], out, out=out, to=elem_type)


def _width(model: Any) -> int:
    """The size of the last axis of a network's output (fixed: the number of scores)."""
    dims = model.graph.output[0].type.tensor_type.shape.dim
    if not dims or not dims[-1].HasField("dim_value"):
        shape = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in dims]
        raise OnnxError(f"the network's output must have a fixed last axis (its scores or targets), got shape {shape}")
    return int(dims[-1].dim_value)


def _np_type(elem_type: int) -> np.dtype:
    """The NumPy dtype of an ONNX element type."""
    return require_onnx().helper.tensor_dtype_to_np_dtype(elem_type)
