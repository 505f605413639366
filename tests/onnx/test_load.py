"""chainrule.onnx.loader: graphs built with onnx.helper, run by ONNX Runtime and by the loaded module
on random inputs at two batch sizes (the batch dimension is symbolic), for every supported op
family; layers, names, Parameters and buffers of the loaded module; training; and every refusal
(unsupported operators, corrupt, truncated, empty and missing files, other domains, external data
outside the model's folder)."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import chainrule as cr
from chainrule import nn
from chainrule.onnx import OnnxError
from chainrule.onnx._loaded import OnnxModule
from chainrule.onnx.loader import load

FLOAT, INT64 = TensorProto.FLOAT, TensorProto.INT64
BATCHES = (2, 5)


# ------------------------------------------------------------------ helpers


def array(*shape: int, seed: int = 0, scale: float = 0.5, positive: bool = False) -> np.ndarray:
    values = np.random.default_rng(seed).standard_normal(shape).astype(np.float32) * scale
    return np.abs(values) + 0.1 if positive else values


def initializer(name: str, value) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(value), name)


def value(name: str, dims: list | None, elem: int = FLOAT) -> onnx.ValueInfoProto:
    """A graph input or output; ``dims=None`` leaves type and shape to shape inference."""
    return helper.make_tensor_value_info(name, TensorProto.UNDEFINED if dims is None else elem, dims)


def make_model(nodes, inputs, outputs, initializers=(), opset: int = 18) -> onnx.ModelProto:
    """A checked model; outputs declared without a shape (``value(name, None)``) get the one shape
    inference finds (the checker wants one)."""
    graph = helper.make_graph(nodes, "test", inputs, outputs, list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    inferred = {o.name: o for o in onnx.shape_inference.infer_shapes(model).graph.output}
    for output in model.graph.output:
        if not output.type.tensor_type.HasField("shape"):
            output.type.CopyFrom(inferred[output.name].type)
    onnx.checker.check_model(model)
    return model


def assert_close(ours: np.ndarray, reference: np.ndarray, what: str = "") -> None:
    """Equal within 1e-5 relative to the output's scale (float32 sums in another order differ in
    the last bits; an element near zero is compared against the scale of the whole output)."""
    assert ours.shape == reference.shape, f"{what}: shape {ours.shape} != {reference.shape}"
    scale = max(float(np.abs(reference).max(initial=0.0)), 1e-6)
    np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-5 * scale, err_msg=what)


def compare(model: onnx.ModelProto, feeds_for, batches=BATCHES) -> OnnxModule:
    """Run ``model`` with ONNX Runtime and loaded, on ``feeds_for(batch)`` for each batch size;
    every output must agree. Returns the loaded module."""
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    loaded = load(model)
    for batch in batches:
        feeds = feeds_for(batch)
        expected = session.run(None, feeds)
        got = loaded(**{k: cr.tensor(v) for k, v in feeds.items()})
        got = got if isinstance(got, tuple) else (got,)
        assert len(got) == len(expected)
        for k, (o, e) in enumerate(zip(got, expected)):
            assert isinstance(o, cr.Tensor)
            assert_close(o.numpy(), e, f"output {k} at batch {batch}")
    return loaded


def single(op: str, shape: list, opset: int = 18, extra_inputs=(), initializers=(), x=None, output=None, **attrs):
    """A graph of one node applied to an input x of ``shape`` ('N' is the batch); its output y has
    the dimensions ``output``, or those shape inference finds."""
    node = helper.make_node(op, ["x", *extra_inputs], ["y"], **attrs)
    model = make_model([node], [value("x", shape)], [value("y", output)], initializers, opset)
    make = x or (lambda batch: array(*[batch if d == "N" else d for d in shape], seed=batch))
    return model, lambda batch: {"x": make(batch)}


# ------------------------------------------------------------------ layers


def test_gemm_mlp_becomes_linear_layers_named_by_their_weights():
    w1, b1, w2 = array(8, 4), array(8, seed=1), array(8, 3, seed=2)  # fc2 stored (in, out): transB=0
    nodes = [
        helper.make_node("Gemm", ["x", "fc1.weight", "fc1.bias"], ["h"], transB=1, name="/fc1/Gemm"),
        helper.make_node("Relu", ["h"], ["r"]),
        helper.make_node("Gemm", ["r", "fc2.weight", "fc2.bias"], ["y"], alpha=0.5, beta=2.0),
    ]
    inits = [initializer("fc1.weight", w1), initializer("fc1.bias", b1)]
    inits += [initializer("fc2.weight", w2), initializer("fc2.bias", array(1, 3, seed=3))]  # a (1, N) bias
    model = make_model(nodes, [value("x", ["N", 4])], [value("y", ["N", 3])], inits)
    loaded = compare(model, lambda n: {"x": array(n, 4, seed=n)})
    assert isinstance(loaded.fc1, nn.Linear) and isinstance(loaded.fc2, nn.Linear)
    assert (loaded.fc1.in_features, loaded.fc1.out_features) == (4, 8)
    assert list(loaded.state_dict()) == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    np.testing.assert_array_equal(loaded.fc1.weight.numpy(), w1)
    np.testing.assert_allclose(loaded.fc2.weight.numpy(), 0.5 * w2.T)  # PyTorch's (out, in), alpha folded in


def test_matmul_add_on_3d_input_is_one_linear_and_a_transposed_weight_keeps_its_layout():
    w, b = array(5, 6), array(5, seed=1)
    v, c = array(5, 3, seed=2), array(3, seed=3)
    nodes = [
        helper.make_node("Transpose", ["enc.weight"], ["wt"], perm=[1, 0]),
        helper.make_node("MatMul", ["x", "wt"], ["m"]),
        helper.make_node("Add", ["enc.bias", "m"], ["h"]),  # bias first, as PyTorch writes it
        helper.make_node("MatMul", ["h", "W"], ["m2"]),
        helper.make_node("Add", ["m2", "c"], ["y"]),
    ]
    inits = [initializer(k, a) for k, a in (("enc.weight", w), ("enc.bias", b), ("W", v), ("c", c))]
    model = make_model(nodes, [value("x", ["N", 7, 6])], [value("y", ["N", 7, 3])], inits)
    loaded = compare(model, lambda n: {"x": array(n, 7, 6, seed=n)})
    layers = {name: type(m).__name__ for name, m in loaded.named_modules() if name}
    assert layers == {"enc": "Linear", "matmul": "Linear"}  # the second, unnamed: after its operator
    np.testing.assert_array_equal(loaded.enc.weight.numpy(), w)
    assert len(loaded._program.steps) == 2  # the Transpose and both Adds are inside the layers


def test_cnn2d_conv_batchnorm_maxpool_flatten_gemm():
    w, b = array(4, 3, 3, 3), array(4, seed=1)
    bn = [array(4, seed=2) + 1, array(4, seed=3), array(4, seed=4), array(4, seed=5, positive=True)]
    fc = array(5, 4 * 3 * 3, seed=6)
    nodes = [
        helper.make_node("Conv", ["x", "features.0.weight", "features.0.bias"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node(
            "BatchNormalization",
            ["c", "features.1.weight", "features.1.bias", "features.1.running_mean", "features.1.running_var"],
            ["n"],
            epsilon=1e-3,
        ),
        helper.make_node("Relu", ["n"], ["r"]),
        helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p"], ["f"]),
        helper.make_node("Gemm", ["f", "fc.weight"], ["y"], transB=1),
    ]
    names = ["features.1.weight", "features.1.bias", "features.1.running_mean", "features.1.running_var"]
    inits = [initializer("features.0.weight", w), initializer("features.0.bias", b), initializer("fc.weight", fc)]
    inits += [initializer(k, a) for k, a in zip(names, bn)]
    model = make_model(nodes, [value("x", ["N", 3, 6, 6])], [value("y", ["N", 5])], inits)
    loaded = compare(model, lambda n: {"x": array(n, 3, 6, 6, seed=n)})
    assert isinstance(loaded.features["0"], nn.Conv2d) and isinstance(loaded.features["1"], nn.BatchNorm2d)
    assert loaded.features["1"].eps == 1e-3 and loaded.features["1"].momentum == pytest.approx(0.1)
    assert sorted(dict(loaded.named_buffers())) == [
        "features.1.num_batches_tracked",
        "features.1.running_mean",
        "features.1.running_var",
    ]
    assert "features.1.running_mean" not in dict(loaded.named_parameters())
    np.testing.assert_array_equal(loaded.features["1"].running_var.numpy(), bn[3])


def test_cnn1d_conv_batchnorm_maxpool_flatten_gemm():
    nodes = [
        helper.make_node("Conv", ["x", "conv.weight", "conv.bias"], ["c"], pads=[2, 2], strides=[1], kernel_shape=[5]),
        helper.make_node("BatchNormalization", ["c", "bn.weight", "bn.bias", "bn.mean", "bn.var"], ["n"]),
        helper.make_node("Relu", ["n"], ["r"]),
        helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[3], strides=[2], pads=[1, 1]),
        helper.make_node("Flatten", ["p"], ["f"], axis=1),
        helper.make_node("Gemm", ["f", "fc.weight", "fc.bias"], ["y"], transB=1),
    ]
    inits = [initializer("conv.weight", array(6, 2, 5)), initializer("conv.bias", array(6, seed=1))]
    inits += [initializer("bn.weight", array(6, seed=2)), initializer("bn.bias", array(6, seed=3))]
    inits += [initializer("bn.mean", array(6, seed=4)), initializer("bn.var", array(6, seed=5, positive=True))]
    inits += [initializer("fc.weight", array(3, 6 * 5, seed=6)), initializer("fc.bias", array(3, seed=7))]
    model = make_model(nodes, [value("x", ["N", 2, 10])], [value("y", ["N", 3])], inits)
    loaded = compare(model, lambda n: {"x": array(n, 2, 10, seed=n)})
    assert isinstance(loaded.conv, nn.Conv1d) and isinstance(loaded.bn, nn.BatchNorm1d)


@pytest.mark.parametrize(
    "attrs",
    [
        {"pads": [1, 0, 2, 1]},  # uneven: padded before the layer
        {"strides": [2, 1], "pads": [1, 1, 1, 1]},
        {"dilations": [2, 1], "pads": [2, 1, 2, 1]},
        {"group": 2},
        {"auto_pad": "VALID"},
        {"auto_pad": "SAME_UPPER"},
        {"auto_pad": "SAME_LOWER", "strides": [2, 2]},
        {"auto_pad": "SAME_UPPER", "strides": [2, 3]},
        {"pads": [1, 1, 1, 1], "kernel_shape": [3, 3], "strides": [2, 2], "dilations": [1, 2], "group": 2},
    ],
)
def test_conv2d_attributes_match_onnxruntime(attrs):
    group = attrs.get("group", 1)
    model, feeds = single(
        "Conv",
        ["N", 4, 7, 8],
        extra_inputs=["w", "b"],
        initializers=[initializer("w", array(6, 4 // group, 3, 3)), initializer("b", array(6, seed=1))],
        **attrs,
    )
    loaded = compare(model, feeds)
    assert [type(m).__name__ for m in loaded.modules()][1:] == ["Conv2d"]


@pytest.mark.parametrize("attrs", [{"pads": [0, 2]}, {"auto_pad": "SAME_LOWER"}, {"strides": [3], "dilations": [2]}])
def test_conv1d_attributes_match_onnxruntime(attrs):
    model, feeds = single(
        "Conv", ["N", 3, 11], extra_inputs=["w"], initializers=[initializer("w", array(5, 3, 4))], **attrs
    )
    loaded = compare(model, feeds)
    assert [type(m).__name__ for m in loaded.modules()][1:] == ["Conv1d"]


@pytest.mark.parametrize(
    "shape, attrs",
    [
        ([3, 2, 3, 3], {"strides": [2, 2]}),
        ([3, 2, 3, 3], {"strides": [2, 2], "pads": [1, 1, 1, 1], "output_padding": [1, 1]}),
        ([3, 2, 3, 3], {"strides": [2, 1], "pads": [0, 1, 1, 0]}),  # uneven: cropped after the layer
        ([4, 1, 2, 2], {"group": 2, "strides": [2, 2], "dilations": [2, 2]}),
        ([3, 2, 4], {"strides": [2], "pads": [1, 1]}),
    ],
)
def test_conv_transpose_matches_onnxruntime(shape, attrs):
    spatial = [5, 6][: len(shape) - 2]
    model, feeds = single(
        "ConvTranspose",
        ["N", shape[0], *spatial],
        extra_inputs=["w", "b"],
        initializers=[initializer("w", array(*shape)), initializer("b", array(shape[1] * attrs.get("group", 1)))],
        **attrs,
    )
    loaded = compare(model, feeds)
    kind = nn.ConvTranspose1d if len(shape) == 3 else nn.ConvTranspose2d
    assert any(isinstance(m, kind) for m in loaded.modules())


@pytest.mark.parametrize(
    "op, attrs",
    [
        ("MaxPool", {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}),
        ("MaxPool", {"kernel_shape": [2, 3], "pads": [0, 1, 1, 0]}),  # uneven
        ("MaxPool", {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1}),
        ("MaxPool", {"kernel_shape": [2, 2], "strides": [2, 2], "auto_pad": "SAME_UPPER"}),
        ("MaxPool", {"kernel_shape": [3, 3], "dilations": [2, 1]}),
        ("AveragePool", {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}),
        ("AveragePool", {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "count_include_pad": 1}),
        ("AveragePool", {"kernel_shape": [2, 3], "pads": [1, 0, 0, 2]}),  # uneven, padding not counted
        ("AveragePool", {"kernel_shape": [2, 3], "pads": [1, 0, 0, 2], "count_include_pad": 1}),
        ("AveragePool", {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1}),
        ("AveragePool", {"kernel_shape": [3, 2], "strides": [2, 2], "auto_pad": "SAME_LOWER"}),
        ("GlobalAveragePool", {}),
        ("GlobalMaxPool", {}),
    ],
)
def test_pooling_matches_onnxruntime(op, attrs):
    compare(*single(op, ["N", 3, 7, 8], **attrs))


def test_pooling_1d_matches_onnxruntime():
    compare(*single("MaxPool", ["N", 2, 9], kernel_shape=[3], strides=[2], pads=[1, 1]))
    compare(*single("AveragePool", ["N", 2, 9], kernel_shape=[4], strides=[3], pads=[1, 2]))


# ------------------------------------------------------------------ recurrent layers

GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


def recurrent_model(op, direction="forward", states=False, bias=True, layout=0, hidden=4, **attrs):
    """X (seq 6, batch N, input 3) (batch first with layout=1) through one ONNX recurrent node,
    outputs Y, Y_h (and Y_c)."""
    dirs = 2 if direction == "bidirectional" else 1
    g = GATES[op]
    inits = [
        initializer("W", array(dirs, g * hidden, 3, seed=1)),
        initializer("R", array(dirs, g * hidden, hidden, seed=2)),
    ]
    names = ["X", "W", "R", "B" if bias else ""]
    if bias:
        inits.append(initializer("B", array(dirs, 2 * g * hidden, seed=3)))
    x_dims, state_dims = (["N", 6, 3], ["N", dirs, hidden]) if layout else ([6, "N", 3], [dirs, "N", hidden])
    inputs = [value("X", x_dims)]
    if states:
        names += ["", "h0"] + (["c0"] if op == "LSTM" else [])
        inputs += [value("h0", state_dims)] + ([value("c0", state_dims)] if op == "LSTM" else [])
    outputs = ["Y", "Y_h"] + (["Y_c"] if op == "LSTM" else [])
    if op == "GRU":
        attrs.setdefault("linear_before_reset", 1)
    node = helper.make_node(op, names, outputs, hidden_size=hidden, direction=direction, layout=layout, **attrs)
    model = make_model([node], inputs, [value(o, None) for o in outputs], inits)

    def feeds(n):
        x_shape, s_shape = ((n, 6, 3), (n, dirs, hidden)) if layout else ((6, n, 3), (dirs, n, hidden))
        found = {"X": array(*x_shape, seed=n, scale=1.0)}
        if states:
            found["h0"] = array(*s_shape, seed=10 + n)
            if op == "LSTM":
                found["c0"] = array(*s_shape, seed=20 + n)
        return found

    return model, feeds


@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("direction", ["forward", "bidirectional", "reverse"])
@pytest.mark.parametrize("states", [False, True])
def test_recurrent_layers_match_onnxruntime_y_yh_yc(op, direction, states):
    loaded = compare(*recurrent_model(op, direction, states))
    layer = dict(loaded.named_children())
    assert len(layer) == 1
    (kind,) = [type(m).__name__ for m in layer.values()]
    assert kind == op
    assert next(iter(layer.values())).bidirectional == (direction == "bidirectional")


@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
def test_recurrent_layout_1_equals_layout_0_on_transposed_data(op):
    """ONNX Runtime runs layout=0 only; layout=1 (batch first) must give the same numbers, transposed."""
    seq_first, feeds_for = recurrent_model(op, "bidirectional", states=True, bias=False)
    compare(seq_first, feeds_for)
    batch_first = load(recurrent_model(op, "bidirectional", states=True, bias=False, layout=1)[0])
    feeds = feeds_for(3)
    expected = load(seq_first)(**{k: cr.tensor(v) for k, v in feeds.items()})
    got = batch_first(*(cr.tensor(np.swapaxes(v, 0, 1)) for v in feeds.values()))
    np.testing.assert_allclose(got[0].numpy(), np.transpose(expected[0].numpy(), (2, 0, 1, 3)), rtol=1e-6)
    for g, e in zip(got[1:], expected[1:]):
        np.testing.assert_allclose(g.numpy(), np.swapaxes(e.numpy(), 0, 1), rtol=1e-6)


def test_rnn_with_relu_activation():
    loaded = compare(*recurrent_model("RNN", "bidirectional", activations=["Relu", "Relu"]))
    assert next(loaded.children()).nonlinearity == "relu"


def test_lstm_weights_are_converted_to_pytorch_gate_order():
    model, _ = recurrent_model("LSTM")
    w = numpy_helper.to_array(model.graph.initializer[0])[0]  # ONNX blocks i, o, f, c
    layer = next(load(model).children())
    i, o, f, c = np.split(w, 4)
    np.testing.assert_array_equal(layer.weight_ih_l0.numpy(), np.concatenate([i, f, c, o]))  # i, f, g, o


def test_gru_linear_before_reset_0_is_refused():
    model, _ = recurrent_model("GRU", linear_before_reset=0)
    with pytest.raises(OnnxError, match="linear_before_reset=0"):
        load(model)


def test_recurrent_sequence_lens_and_peepholes_are_refused():
    model, _ = recurrent_model("LSTM")
    model.graph.node[0].input.extend(["", "", "", "P"])
    model.graph.node[0].input[4] = "lens"
    model.graph.input.append(value("lens", ["N"], TensorProto.INT32))
    model.graph.initializer.append(initializer("P", array(1, 12)))
    with pytest.raises(OnnxError, match="input sequence_lens is not supported(.|\n)*input P is not supported"):
        load(model)


# ------------------------------------------------------------------ embedding, layer norm, shapes


def test_gather_of_a_table_is_an_embedding():
    table = array(10, 4)
    nodes = [
        helper.make_node("Gather", ["emb.weight", "ids"], ["e"]),
        helper.make_node("ReduceMean", ["e", "axes"], ["y"], keepdims=0),
    ]
    inits = [initializer("emb.weight", table), initializer("axes", np.array([1], np.int64))]
    model = make_model(nodes, [value("ids", ["N", 3], INT64)], [value("y", ["N", 4])], inits)
    loaded = compare(model, lambda n: {"ids": np.random.default_rng(n).integers(-10, 10, (n, 3))})
    assert isinstance(loaded.emb, nn.Embedding) and loaded.emb.num_embeddings == 10
    assert list(loaded.state_dict()) == ["emb.weight"]  # the axes stay a constant


def test_layer_normalization_becomes_layernorm_over_the_last_dimensions():
    nodes = [
        helper.make_node("LayerNormalization", ["x", "ln.weight", "ln.bias"], ["a"], axis=-1, epsilon=1e-3),
        helper.make_node("LayerNormalization", ["a", "ln2.weight", "ln2.bias"], ["b"], axis=1),
        helper.make_node("LayerNormalization", ["b", "s"], ["y"], axis=-1),  # no bias: runs as ops
    ]
    inits = [initializer("ln.weight", array(6)), initializer("ln.bias", array(6, seed=1))]
    inits += [initializer("ln2.weight", array(5, 6, seed=2)), initializer("ln2.bias", array(5, 6, seed=3))]
    inits += [initializer("s", array(6, seed=4))]
    model = make_model(nodes, [value("x", ["N", 5, 6])], [value("y", ["N", 5, 6])], inits)
    loaded = compare(model, lambda n: {"x": array(n, 5, 6, seed=n)})
    assert loaded.ln.normalized_shape == (6,) and loaded.ln.eps == 1e-3
    assert loaded.ln2.normalized_shape == (5, 6)
    assert isinstance(loaded.s, nn.Parameter)  # a weight the ops read: a Parameter of its own


def test_pytorch_dynamic_reshape_pattern_follows_the_batch():
    """Shape -> Gather -> Unsqueeze -> Concat -> Reshape, as PyTorch's exporters write x.view(x.size(0), -1)."""
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
        helper.make_node("Unsqueeze", ["n", "axes0"], ["n1"]),
        helper.make_node("Concat", ["n1", "minus_one"], ["shape"], axis=0),
        helper.make_node("Reshape", ["x", "shape"], ["y"]),
    ]
    inits = [initializer("zero", np.array(0, np.int64)), initializer("axes0", np.array([0], np.int64))]
    inits += [initializer("minus_one", np.array([-1], np.int64))]
    model = make_model(nodes, [value("x", ["N", 3, 4])], [value("y", ["N", 12])], inits, opset=13)
    loaded = compare(model, lambda n: {"x": array(n, 3, 4, seed=n)})
    assert list(loaded.parameters()) == []
    assert [step.folds for step in loaded._program.steps] == [False, True, True, True, False]


def test_shape_arithmetic_chain_with_slices_ranges_and_constants():
    nodes = [
        helper.make_node("Shape", ["x"], ["s"], start=1),  # (C, L)
        helper.make_node("Slice", ["s", "zero", "one"], ["c"]),
        helper.make_node("Mul", ["c", "two"], ["c2"]),
        helper.make_node("Add", ["c2", "one"], ["c3"]),
        helper.make_node("Div", ["c3", "minus_two"], ["q"]),  # integer division truncates: 7 / -2 = -3
        helper.make_node("Neg", ["q"], ["k"]),
        helper.make_node("Range", ["zero_s", "ks", "one_s"], ["r"]),
        helper.make_node("Squeeze", ["k"], ["ks"]),
        helper.make_node("ConstantOfShape", ["k"], ["ones"], value=numpy_helper.from_array(np.ones(1, np.float32))),
        helper.make_node("Cast", ["r"], ["rf"], to=FLOAT),
        helper.make_node("Add", ["ones", "rf"], ["v"]),
        helper.make_node("Slice", ["x", "start", "end", "axis", "step"], ["xs"]),
        helper.make_node("ReduceSum", ["xs", "two"], ["summed"], keepdims=0),
        helper.make_node("Mul", ["summed", "v"], ["y"]),
    ]
    ints = {"zero": [0], "one": [1], "two": [2], "minus_two": [-2], "zero_s": 0, "one_s": 1}
    ints.update({"start": [-1], "end": [-100], "axis": [2], "step": [-2]})
    inits = [initializer(k, np.array(v, np.int64)) for k, v in ints.items()]
    nodes.insert(7, nodes.pop(6))  # Range after Squeeze (topological order)
    model = make_model(nodes, [value("x", ["N", 3, 7])], [value("y", None)], inits)
    compare(model, lambda n: {"x": array(n, 3, 7, seed=n)})


# ------------------------------------------------------------------ parameterless operators

ELEMENTWISE = [
    ("Neg", {}),
    ("Abs", {}),
    ("Exp", {}),
    ("Relu", {}),
    ("LeakyRelu", {"alpha": 0.2}),
    ("Elu", {"alpha": 0.7}),
    ("Selu", {}),
    ("Sigmoid", {}),
    ("HardSigmoid", {"alpha": 0.3, "beta": 0.4}),
    ("HardSwish", {}),
    ("Tanh", {}),
    ("Softplus", {}),
    ("Softsign", {}),
    ("Mish", {}),
    ("Sin", {}),
    ("Cos", {}),
    ("Floor", {}),
    ("Ceil", {}),
    ("Sign", {}),
    ("Identity", {}),
    ("Dropout", {}),
]


@pytest.mark.parametrize("op, attrs", ELEMENTWISE, ids=[op for op, _ in ELEMENTWISE])
def test_elementwise_matches_onnxruntime(op, attrs):
    compare(*single(op, ["N", 3, 4], **attrs))


@pytest.mark.parametrize("op", ["Sqrt", "Log", "Reciprocal"])
def test_elementwise_of_positive_input(op):
    compare(*single(op, ["N", 4], x=lambda n: array(n, 4, seed=n, positive=True)))


def test_gelu_both_forms_and_erf_match_onnxruntime():
    compare(*single("Gelu", ["N", 5], opset=20, approximate="tanh"))
    compare(*single("Gelu", ["N", 5], opset=20))  # (the exact form: refused before chainrule had erf)
    compare(*single("Erf", ["N", 5]))
    with pytest.raises(OnnxError, match="approximate must be 'none' or 'tanh'"):
        load(single("Gelu", ["N", 5], opset=20, approximate="cubic")[0])


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "MatMul", "PRelu"])
def test_binary_matches_onnxruntime_with_a_broadcast_operand(op):
    other = array(4, 4, seed=9) if op == "MatMul" else array(1, 4, seed=9, positive=op in ("Div", "Pow"))
    x = (lambda n: array(n, 3, 4, seed=n, positive=True)) if op == "Pow" else None
    loaded = compare(*single(op, ["N", 3, 4], extra_inputs=["b"], initializers=[initializer("b", other)], x=x))
    if op == "PRelu":
        assert isinstance(loaded.b, nn.Parameter)


def test_pow_by_a_scalar_and_comparisons_where_cast():
    nodes = [
        helper.make_node("Pow", ["x", "two"], ["sq"]),
        helper.make_node("Greater", ["x", "zero"], ["pos"]),
        helper.make_node("Less", ["x", "zero"], ["neg"]),
        helper.make_node("Equal", ["pos", "neg"], ["neither"]),
        helper.make_node("Not", ["neither"], ["either"]),
        helper.make_node("Where", ["pos", "sq", "x"], ["w"]),
        helper.make_node("Cast", ["either"], ["f"], to=FLOAT),
        helper.make_node("Mul", ["w", "f"], ["y"]),
    ]
    inits = [initializer("two", np.float32(2.0)), initializer("zero", np.float32(0.0))]
    model = make_model(nodes, [value("x", ["N", 6])], [value("y", ["N", 6])], inits)
    loaded = compare(model, lambda n: {"x": array(n, 6, seed=n)})
    assert list(loaded.parameters()) == []  # one-number floats are constants


def test_logic_rounding_size_and_variadic_operators():
    nodes = [
        helper.make_node("GreaterOrEqual", ["x", "zero"], ["ge"]),
        helper.make_node("LessOrEqual", ["x", "half"], ["le"]),
        helper.make_node("And", ["ge", "le"], ["inside"]),
        helper.make_node("Or", ["inside", "ge"], ["either"]),
        helper.make_node("CastLike", ["either", "x"], ["f"]),
        helper.make_node("Mul", ["x", "four"], ["x4"]),
        helper.make_node("Round", ["x4"], ["r"]),  # halves to even
        helper.make_node("Size", ["x"], ["n"]),
        helper.make_node("Cast", ["n"], ["nf"], to=FLOAT),
        helper.make_node("Sum", ["f", "r", "x"], ["s"]),
        helper.make_node("Mean", ["s", "x", "nf"], ["y"]),
    ]
    inits = [initializer(k, np.float32(v)) for k, v in (("zero", 0.0), ("half", 0.5), ("four", 4.0))]
    model = make_model(nodes, [value("x", ["N", 5])], [value("y", ["N", 5])], inits)
    compare(model, lambda n: {"x": array(n, 5, seed=n, scale=1.0)})


@pytest.mark.parametrize("opset, axis", [(11, 1), (11, -1), (13, 1), (13, -2), (18, 0)])
@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
def test_softmax_axis_semantics_before_and_after_opset_13(op, opset, axis):
    compare(*single(op, ["N", 3, 4], opset=opset, axis=axis))


def test_clip_with_bounds_as_inputs_and_without():
    compare(
        *single(
            "Clip",
            ["N", 6],
            extra_inputs=["lo", "hi"],
            initializers=[initializer("lo", np.float32(-0.3)), initializer("hi", np.float32(0.2))],
        )
    )
    compare(*single("Clip", ["N", 6], extra_inputs=["", "hi"], initializers=[initializer("hi", np.float32(0.1))]))
    compare(*single("Clip", ["N", 6]))


@pytest.mark.parametrize(
    "op, opset, attrs, inputs",
    [
        ("ReduceSum", 11, {"axes": [1, 2]}, {}),
        ("ReduceSum", 13, {"keepdims": 0}, {"axes": [-1]}),
        ("ReduceSum", 13, {"noop_with_empty_axes": 1}, {}),
        ("ReduceMean", 11, {"axes": [1], "keepdims": 0}, {}),
        ("ReduceMean", 18, {}, {"axes": [2]}),
        ("ReduceMax", 18, {"keepdims": 0}, {"axes": [1, 2]}),
        ("ReduceMin", 13, {"axes": [0]}, {}),
        ("ReduceSumSquare", 18, {}, {"axes": [1]}),
        ("ReduceL1", 18, {}, {"axes": [1]}),
        ("ReduceL2", 18, {}, {"axes": [1]}),
        ("ReduceLogSumExp", 18, {}, {"axes": [2]}),
        ("ReduceMean", 18, {}, {}),
        ("ArgMax", 18, {"axis": 1}, {}),
        ("ArgMin", 18, {"axis": -1, "keepdims": 0}, {}),
    ],
)
def test_reductions_with_axes_as_attribute_or_input(op, opset, attrs, inputs):
    inits = [initializer(k, np.array(v, np.int64)) for k, v in inputs.items()]
    compare(*single(op, ["N", 3, 4], opset=opset, extra_inputs=list(inputs), initializers=inits, **attrs))


@pytest.mark.parametrize(
    "op, opset, shape, attrs, inputs",
    [
        ("Transpose", 18, ["N", 2, 3, 4], {"perm": [0, 3, 1, 2]}, {}),
        ("Transpose", 18, ["N", 2, 3], {}, {}),
        ("Flatten", 18, ["N", 2, 3, 4], {"axis": 2}, {}),
        ("Flatten", 18, ["N", 2, 3, 4], {"axis": -1}, {}),
        ("Flatten", 18, ["N", 2, 3, 4], {"axis": 0}, {}),
        ("Squeeze", 11, ["N", 1, 3, 1], {"axes": [1, -1]}, {}),
        ("Squeeze", 13, ["N", 1, 3, 1], {}, {"axes": [3]}),
        ("Unsqueeze", 11, ["N", 3], {"axes": [0, -1]}, {}),
        ("Unsqueeze", 13, ["N", 3], {}, {"axes": [1, 3]}),
        ("Reshape", 18, ["N", 2, 6], {}, {"shape": [0, 3, -1]}),
        ("Reshape", 18, ["N", 2, 6], {}, {"shape": [-1, 4]}),
        ("Reshape", 18, ["N", 2, 6], {"allowzero": 1}, {"shape": [-1, 3, 4]}),
        ("Split", 11, ["N", 7], {"axis": 1, "split": [3, 4]}, {}),
        ("Split", 13, ["N", 7], {"axis": 1}, {"split": [2, 5]}),
        ("Split", 18, ["N", 7], {"axis": 1, "num_outputs": 3}, {}),
        ("Slice", 18, ["N", 5, 6], {}, {"starts": [1, -1], "ends": [4, 0], "axes": [1, 2], "steps": [2, -2]}),
        ("Slice", 18, ["N", 5, 6], {}, {"starts": [2], "ends": [1000]}),
        ("Expand", 18, ["N", 1, 3], {}, {"shape": [1, 4, 3]}),
        ("Tile", 18, ["N", 2, 3], {}, {"repeats": [1, 3, 2]}),
        ("Pad", 18, ["N", 2, 3], {}, {"pads": [0, 1, 2, 0, 0, 1]}),
        ("Pad", 18, ["N", 4, 5], {}, {"pads": [0, -1, 2, 0, 1, -2]}),
        ("Gather", 18, ["N", 5, 3], {"axis": 1}, {"indices": [[0, -1], [2, 2]]}),
        ("Gather", 18, ["N", 5, 3], {"axis": 2}, {"indices": 1}),
        ("Resize", 13, ["N", 2, 3, 4], {"mode": "nearest"}, {"roi": [], "scales": [1, 1, 2, 1.5]}),
        (
            "Resize",
            13,
            ["N", 2, 3, 4],
            {"coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"},
            {"roi": [], "scales": [1, 1, 2, 3]},
        ),
        (
            "Resize",
            13,
            ["N", 2, 5, 4],
            {"coordinate_transformation_mode": "align_corners", "nearest_mode": "round_prefer_ceil"},
            {"roi": [], "scales": [], "sizes": [1, 2, 3, 7]},
        ),
        ("Resize", 18, ["N", 2, 5, 4], {"axes": [2, 3]}, {"roi": [], "scales": [0.6, 1.75]}),
    ],
)
def test_shape_operators_match_onnxruntime(op, opset, shape, attrs, inputs):
    floats = {"roi", "scales"}
    inits = [initializer(k, np.array(v, np.float32 if k in floats else np.int64)) for k, v in inputs.items()]
    outputs = attrs.get("num_outputs") or (2 if op == "Split" else 1)
    names = ["y"] + [f"y{k}" for k in range(1, outputs)]
    node = helper.make_node(op, ["x", *inputs], names, **attrs)
    batch_dims = lambda n: [n if d == "N" else d for d in shape]  # noqa: E731
    if op == "Resize" and "sizes" in inputs:  # sizes fix every axis, the batch too
        model = make_model([node], [value("x", [1, *shape[1:]])], [value("y", None)], inits, opset)
        compare(model, lambda n: {"x": array(1, *shape[1:], seed=n)})
        return
    model = make_model([node], [value("x", shape)], [value(n, None) for n in names], inits, opset)
    compare(model, lambda n: {"x": array(*batch_dims(n), seed=n)})


def test_concat_of_a_graph_input_and_a_weight_and_instance_norm():
    nodes = [
        helper.make_node("Concat", ["x", "extra"], ["c"], axis=1),
        helper.make_node("InstanceNormalization", ["c", "scale", "shift"], ["y"], epsilon=1e-4),
    ]
    inits = [initializer("extra", array(1, 2, 5)), initializer("scale", array(5, seed=1))]
    inits += [initializer("shift", array(5, seed=2))]
    model = make_model(nodes, [value("x", [1, 3, 5])], [value("y", None)], inits)
    loaded = compare(model, lambda n: {"x": array(1, 3, 5, seed=n)})
    assert sorted(dict(loaded.named_parameters())) == ["extra", "scale", "shift"]


def test_gemm_and_matmul_of_two_inputs_run_as_ops():
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["m"]),
        helper.make_node("Gemm", ["m", "v", "c"], ["y"], transA=1, alpha=2.0, beta=0.5),
    ]
    inputs = [value("x", [3, "N"]), value("w", ["N", 4]), value("v", [3, 2]), value("c", [4, 2])]
    model = make_model(nodes, inputs, [value("y", [4, 2])])
    loaded = compare(
        model, lambda n: {"x": array(3, n, seed=n), "w": array(n, 4, seed=1), "v": array(3, 2), "c": array(4, 2)}
    )
    assert list(loaded.children()) == []


# ------------------------------------------------------------------ the module


def bn_mlp() -> onnx.ModelProto:
    nodes = [
        helper.make_node("Gemm", ["x", "fc1.weight", "fc1.bias"], ["h"], transB=1),
        helper.make_node("BatchNormalization", ["h", "bn.weight", "bn.bias", "bn.mean", "bn.var"], ["n"]),
        helper.make_node("Relu", ["n"], ["r"]),
        helper.make_node("Dropout", ["r", "ratio"], ["d"]),
        helper.make_node("Gemm", ["d", "fc2.weight", "fc2.bias"], ["y"], transB=1),
    ]
    inits = [initializer("fc1.weight", array(8, 4)), initializer("fc1.bias", array(8, seed=1))]
    inits += [initializer("bn.weight", np.ones(8, np.float32)), initializer("bn.bias", np.zeros(8, np.float32))]
    inits += [initializer("bn.mean", np.zeros(8, np.float32)), initializer("bn.var", np.ones(8, np.float32))]
    inits += [initializer("fc2.weight", array(1, 8, seed=2)), initializer("fc2.bias", np.zeros(1, np.float32))]
    inits += [initializer("ratio", np.float32(0.1))]
    return make_model(nodes, [value("x", ["N", 4])], [value("y", ["N", 1])], inits)


def test_the_loaded_module_trains_and_updates_batchnorm_buffers():
    model = load(bn_mlp())
    assert not model.training  # loaded as ONNX Runtime runs it
    params = dict(model.named_parameters())
    assert sorted(params) == ["bn.bias", "bn.weight", "fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight"]
    assert all(isinstance(p, nn.Parameter) for p in params.values())
    running_mean = model.bn.running_mean.numpy().copy()
    x = cr.tensor(array(32, 4, seed=5, scale=1.0))
    target = cr.tensor(np.sin(x.numpy().sum(axis=1, keepdims=True)))
    model.train()
    optimizer = cr.optim.SGD(model.parameters(), lr=0.1)
    losses = []
    for _ in range(20):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), target)
        loss.backward()
        assert all(p.grad is not None and np.abs(p.grad.numpy()).sum() > 0 for p in params.values())
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]
    assert not np.allclose(model.bn.running_mean.numpy(), running_mean)
    assert int(model.bn.num_batches_tracked.item()) == 20
    model.eval()
    np.testing.assert_array_equal(model(x).numpy(), model(x).numpy())  # dropout off in eval mode


def test_gradients_through_padding_pooling_resizing_and_a_reversed_lstm_are_right():
    """Finite differences in float64 (ONNX DOUBLE graphs): the explicit pads, the divided average
    pooling, nearest resizing and the time reversal of a reverse LSTM all carry the gradient."""
    double = TensorProto.DOUBLE
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 0, 0, 2]),
        helper.make_node("AveragePool", ["c"], ["p"], kernel_shape=[2, 3], pads=[1, 0, 0, 2]),
        helper.make_node("Resize", ["p", "", "scales"], ["r"], mode="nearest"),
        helper.make_node("Tanh", ["r"], ["y"]),
    ]
    inits = [initializer("w", array(2, 1, 2, 2).astype(np.float64))]
    inits += [initializer("scales", np.array([1, 1, 2, 1.5], np.float32))]
    conv = load(make_model(nodes, [value("x", ["N", 1, 4, 5], double)], [value("y", None)], inits))
    x = cr.tensor(array(2, 1, 4, 5).astype(np.float64), requires_grad=True)
    assert cr.gradcheck(conv, x)
    model, _ = recurrent_model("LSTM", "reverse", states=True)
    for tensor in (*model.graph.initializer, *model.graph.input, *model.graph.output):
        if isinstance(tensor, onnx.TensorProto):
            tensor.CopyFrom(initializer(tensor.name, numpy_helper.to_array(tensor).astype(np.float64)))
        else:
            tensor.type.tensor_type.elem_type = double
    lstm = load(model)
    inputs = [
        cr.tensor(array(*shape, seed=k).astype(np.float64), requires_grad=True)
        for k, shape in enumerate([(6, 2, 3), (1, 2, 4), (1, 2, 4)])
    ]
    assert cr.gradcheck(lambda *a: sum((o * o).sum() for o in lstm(*a)), inputs)


def test_summary_and_graph_drawing_work_on_a_loaded_module():
    model = load(bn_mlp())
    report = cr.train.summary(model, (4,))
    assert [row.name for row in report.rows] == ["fc1", "bn", "fc2"]
    assert report.total_params == 8 * 4 + 8 + 8 + 8 + 8 + 1
    assert "fc1 (Linear)" in str(report)
    dot = cr.viz.draw_graph(model(cr.ones(3, 4)))
    assert "digraph" in dot.source and dot.source.count("->") > 5


def test_inputs_by_name_several_outputs_and_input_checks():
    nodes = [helper.make_node("Add", ["a", "b"], ["s"]), helper.make_node("Sub", ["a", "b"], ["d"])]
    model = load(make_model(nodes, [value("a", ["N", 3]), value("b", ["N", 3])], [value("s", None), value("d", None)]))
    s, d = model(cr.ones(2, 3), b=np.full((2, 3), 2.0, np.float32))
    assert s.tolist() == [[3.0] * 3] * 2 and d.tolist() == [[-1.0] * 3] * 2
    with pytest.raises(TypeError, match="missing input\\(s\\) \\['b'\\]"):
        model(cr.ones(2, 3))
    with pytest.raises(TypeError, match="unexpected input 'c'"):
        model(cr.ones(2, 3), c=cr.ones(2, 3))
    with pytest.raises(TypeError, match="input 'a' must be float32, got a float64 tensor"):
        model(cr.ones(2, 3, dtype=cr.float64), cr.ones(2, 3))
    with pytest.raises(ValueError, match="input 'b' must have shape \\(N, 3\\).*got shape \\(2, 4\\)"):
        model(cr.ones(2, 3), cr.ones(2, 4))
    converted = load(bn_mlp()).double()  # then float64 inputs are what it takes
    assert converted(cr.ones(2, 4, dtype=cr.float64)).dtype == np.float64


def test_an_error_inside_a_node_names_the_node():
    model = load(
        single("Reshape", ["N", 6], extra_inputs=["shape"], initializers=[initializer("shape", np.array([4, -1]))])[0]
    )
    with pytest.raises(ValueError, match="cannot reshape") as caught:
        model(cr.ones(3, 6))
    assert "ONNX node #0 (Reshape)" in "\n".join(caught.value.__notes__)


def test_a_replaced_layer_is_the_one_that_runs_and_saving_says_what_to_do_instead(tmp_path):
    model = load(bn_mlp())
    model.fc2 = nn.Linear(8, 2)
    assert model(cr.ones(3, 4)).shape == (3, 2)
    with pytest.raises(TypeError, match="save its weights with chainrule.io.save_state_dict"):
        cr.save(model, tmp_path / "m.safetensors")


def test_shared_weights_give_one_layer_and_names_fall_back_when_taken():
    w = array(4, 4)
    nodes = [
        helper.make_node("Gemm", ["x", "fc.weight"], ["a"], transB=1, name="/block/first"),
        helper.make_node("Gemm", ["a", "fc.weight"], ["b"], transB=1),
        helper.make_node("Conv", ["x4", "conv"], ["c"], name="/encoder/layer.0/Conv"),
        helper.make_node("Conv", ["x4", "conv2"], ["d"], name="/encoder/layer.0/Conv_1"),
        helper.make_node("Add", ["c", "d"], ["e"]),
        helper.make_node("Add", ["b", "training"], ["y"]),  # a weight named like a Module attribute
    ]
    inits = [
        initializer("fc.weight", w),
        initializer("conv", array(2, 1, 1, 1)),
        initializer("conv2", array(2, 1, 1, 1)),
    ]
    inits += [initializer("training", array(4, seed=3))]
    model = make_model(
        nodes, [value("x", ["N", 4]), value("x4", ["N", 1, 2, 2])], [value("y", None), value("e", None)], inits
    )
    loaded = compare(model, lambda n: {"x": array(n, 4, seed=n), "x4": array(n, 1, 2, 2, seed=n)})
    # one Linear called twice; the first Conv at its PyTorch scope (layer.0), the second's taken: its node name
    names = [name for name, _ in loaded.named_modules() if name]
    assert names == ["fc", "layer", "layer.0", "encoder_layer_0_Conv_1"]
    assert isinstance(loaded.layer, nn.ModuleDict) and isinstance(loaded.layer["0"], nn.Conv2d)
    assert list(loaded.state_dict()) == ["training_1", "fc.weight", "layer.0.weight", "encoder_layer_0_Conv_1.weight"]
    assert loaded.training is False  # the Module attribute is untouched


# ------------------------------------------------------------------ refusals


def test_an_unsupported_operator_is_named_with_its_node_and_the_supported_list():
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("TopK", ["r", "k"], ["v", "i"], name="pick")]
    model = make_model(nodes, [value("x", ["N", 4])], [value("v", None)], [initializer("k", np.array([2], np.int64))])
    with pytest.raises(OnnxError) as caught:
        load(model)
    message = str(caught.value)
    assert "node #1 'pick' (TopK): operator 'TopK' is not supported" in message
    assert "supports the default-domain operators" in message and "Conv" in message and "LSTM" in message


def test_another_domain_is_refused():
    node = helper.make_node("Scaler", ["x"], ["y"], domain="ai.onnx.ml", scale=[2.0], offset=[0.0])
    graph = helper.make_graph([node], "ml", [value("x", ["N", 1])], [value("y", ["N", 1])])
    ops = [helper.make_opsetid("", 18), helper.make_opsetid("ai.onnx.ml", 3)]
    with pytest.raises(OnnxError, match="node #0 \\(Scaler\\): domain 'ai.onnx.ml' is not supported"):
        load(helper.make_model(graph, opset_imports=ops))


def test_corrupt_truncated_empty_and_missing_files(tmp_path):
    good = tmp_path / "good.onnx"
    onnx.save_model(bn_mlp(), good)
    assert isinstance(load(good), OnnxModule) and isinstance(load(str(good)), OnnxModule)
    data = good.read_bytes()
    (tmp_path / "half.onnx").write_bytes(data[: len(data) // 2])
    (tmp_path / "empty.onnx").write_bytes(b"")
    (tmp_path / "noise.onnx").write_bytes(b"\xff\xfe not a protobuf \x00\x01" * 20)
    for name in ("half.onnx", "empty.onnx", "noise.onnx"):
        with pytest.raises(OnnxError, match=f"{name}.*not a valid ONNX model"):
            load(tmp_path / name)
    with pytest.raises(OnnxError, match="the bytes given .*not a valid ONNX model"):
        load(b"\x08\x07\x12\x03abc\x3a\xff")
    with pytest.raises(FileNotFoundError, match="no ONNX file at"):
        load(tmp_path / "missing.onnx")
    with pytest.raises(TypeError, match="must be a path, bytes or an onnx.ModelProto, got int"):
        load(3)


def test_old_opsets_and_inputs_needed_without_the_data_are_refused():
    model, _ = single("Relu", ["N", 3], opset=9)
    with pytest.raises(OnnxError, match="uses opset 9; chainrule reads opset 11"):
        load(model)
    nodes = [helper.make_node("Cast", ["x"], ["s"], to=INT64), helper.make_node("Reshape", ["x", "s"], ["y"])]
    model = make_model(nodes, [value("x", [2])], [value("y", None)])
    with pytest.raises(OnnxError, match="node #1 \\(Reshape\\): its input 1 \\('s'\\) must be known without the data"):
        load(model)


@pytest.mark.parametrize(
    "op, shape, inputs, attrs, message",
    [
        ("Pad", ["N", 3], {"p": np.array([0, 1, 0, 1])}, {"mode": "reflect"}, "mode 'reflect' is not supported"),
        ("Resize", ["N", 1, 2, 2], {"": None, "s": np.ones(4, np.float32)}, {"mode": "linear"}, "mode 'linear'"),
        ("ArgMax", ["N", 3], {}, {"select_last_index": 1}, "select_last_index=1 is not supported"),
        ("MaxPool", ["N", 1, 2, 2, 2], {}, {"kernel_shape": [1, 1, 1]}, "only 1-D and 2-D windows"),
        ("BatchNormalization", ["N", 2], {}, {"training_mode": 1}, "training_mode=1"),
    ],
)
def test_unsupported_attributes_are_refused_at_load_time(op, shape, inputs, attrs, message):
    if op == "BatchNormalization":
        inputs = {k: np.ones(2, np.float32) for k in ("scale", "bias", "mean", "var")}
    inits = [initializer(k, v) for k, v in inputs.items() if k]
    model, _ = single(op, shape, opset=15, extra_inputs=list(inputs), initializers=inits, output=shape, **attrs)
    with pytest.raises(OnnxError, match=f"node #0 \\({op}\\): {message}"):
        load(model)


# ------------------------------------------------------------------ external data


def test_external_data_is_read_from_the_models_folder_only(tmp_path):
    model = bn_mlp()
    weight = numpy_helper.to_array(model.graph.initializer[0])
    path = tmp_path / "model.onnx"
    onnx.save_model(
        model,
        str(path),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="weights.bin",
        size_threshold=0,
    )
    assert (tmp_path / "weights.bin").stat().st_size > 0
    loaded = load(path)
    np.testing.assert_array_equal(loaded.fc1.weight.numpy(), weight)
    with pytest.raises(OnnxError, match="load the model from its path"):
        load(path.read_bytes())
    stored = onnx.load(path, load_external_data=False)
    stored.graph.initializer[0].external_data[0].value = "../weights.bin"
    (tmp_path / "escape.onnx").write_bytes(stored.SerializeToString())
    with pytest.raises(OnnxError, match="inside the model's folder"):
        load(tmp_path / "escape.onnx")
    (tmp_path / "weights.bin").write_bytes(b"\x00" * 8)  # shorter than what the tensors declare
    with pytest.raises(OnnxError, match="needs 128 bytes.*which holds 8"):
        load(path)


def test_a_nul_byte_in_an_external_location_is_an_onnx_error(tmp_path):
    path = tmp_path / "model.onnx"
    onnx.save_model(bn_mlp(), str(path), save_as_external_data=True, location="weights.bin", size_threshold=0)
    stored = onnx.load(path, load_external_data=False)
    stored.graph.initializer[0].external_data[0].value = "weights.bin\x00.txt"  # was os's ValueError
    (tmp_path / "nul.onnx").write_bytes(stored.SerializeToString())
    with pytest.raises(OnnxError, match="inside the model's folder"):
        load(tmp_path / "nul.onnx")


def test_attributes_a_layer_refuses_and_text_initializers_are_onnx_errors_naming_them():
    w = initializer("w", array(2, 2, 3, 3))
    for attrs, message in (({"group": 0}, "in_channels"), ({"strides": [0, 0]}, "stride")):
        model = make_model(
            [helper.make_node("Conv", ["x", "w"], ["y"], **attrs)],
            [value("x", ["b", 2, 5, 5])],
            [value("y", ["b", 2, 3, 3])],
            [w],
        )
        with pytest.raises(OnnxError, match=rf"node #0 \(Conv\): Conv2d: {message}"):  # was a bare ValueError
            load(model)
    text = helper.make_tensor("labels", TensorProto.STRING, [1], [b"a"])
    model = make_model([helper.make_node("Relu", ["x"], ["y"])], [value("x", ["b", 2])], [value("y", None)], [text])
    with pytest.raises(OnnxError, match="initializer 'labels': element type 8 \\(string\\)"):
        load(model)


def test_squeeze_of_an_axis_longer_than_one_is_an_error_as_the_spec_says():
    model, _ = single(
        "Squeeze",
        ["N", 3, 1],
        extra_inputs=["axes"],
        initializers=[initializer("axes", np.array([1]))],
        output=["N", 1],
    )
    loaded = load(model)
    with pytest.raises(OnnxError, match="Squeeze of axis 1, of size 3, not 1"):
        loaded(cr.ones(2, 3, 1))  # (chainrule's squeeze, as PyTorch's, would leave the axis: the spec says error)
