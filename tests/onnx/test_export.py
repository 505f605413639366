"""chainrule.onnx.export: every layer family and the benchmark networks, written, checked by
onnx.checker and run by ONNX Runtime at two batch sizes against chainrule's own forward."""

from __future__ import annotations

import os

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.onnx import OnnxError

RTOL = 1e-5


def run_onnx(proto: onnx.ModelProto, *inputs: np.ndarray) -> list[np.ndarray]:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])
    feeds = {i.name: x for i, x in zip(session.get_inputs(), inputs)}
    return session.run(None, feeds)


def flat(out) -> list[np.ndarray]:
    if isinstance(out, (tuple, list)):
        return [a for item in out for a in flat(item)]
    return [out.numpy()]


def expect_same(model: nn.Module, proto: onnx.ModelProto, *inputs: np.ndarray) -> None:
    model.eval()
    with cr.no_grad():
        want = flat(model(*[cr.tensor(x) for x in inputs]))
    got = run_onnx(proto, *inputs)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape
        scale = max(1.0, float(np.max(np.abs(w)))) if w.size else 1.0
        np.testing.assert_allclose(g, w, rtol=RTOL, atol=RTOL * scale)


def batch(shape, n, dtype=np.float32, seed=0, high=None):
    rng = np.random.default_rng(seed + n)
    if high is not None:
        return rng.integers(0, high, size=(n, *shape)).astype(np.int64)
    return rng.standard_normal((n, *shape)).astype(dtype)


def check_two_batches(model: nn.Module, shape, high=None) -> onnx.ModelProto:
    proto = cr.onnx.export(model, batch(shape, 3, high=high))
    onnx.checker.check_model(proto, full_check=True)
    for n in (1, 5):
        expect_same(model, proto, batch(shape, n, high=high))
    return proto


class LSTMCellSum(nn.Module):
    def __init__(self):
        super().__init__()
        self.cell = nn.LSTMCell(3, 4)

    def forward(self, x):
        h, c = self.cell(x)
        return h + c


class Functional(nn.Module):
    """A user module whose forward is made of chainrule ops, not layers."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(cr.randn(6, 4))
        self.scale = nn.Parameter(cr.ones(4) * 0.5)

    def forward(self, x):
        h = cr.tanh(x @ self.w) * self.scale + cr.exp(-(x[:, :4] ** 2))
        h = cr.maximum(h, cr.sigmoid(h) - 0.5) / (1.0 + cr.abs(h))
        h = cr.concatenate([h, cr.log1p(cr.abs(h)), cr.sqrt(h * h + 1.0)], axis=1)
        centred = h - h.mean(axis=1, keepdims=True)
        return cr.softmax(cr.clip(centred, -2.0, 2.0), axis=-1) + cr.where(h > 0, h, h * 0.1).sum(axis=1, keepdims=True)


class _Params(nn.Module):
    """Weights held in a ParameterList and a ParameterDict (their initializers named as PyTorch's)."""

    def __init__(self):
        super().__init__()
        self.ws = nn.ParameterList([nn.Parameter(cr.randn(6, 6)), nn.Parameter(cr.randn(6, 3))])
        self.extra = nn.ParameterDict({"shift": nn.Parameter(cr.randn(3))})

    def forward(self, x):
        for w in self.ws:
            x = cr.tanh(x @ w)
        return cr.nn.functional.pad(x, (1, 1), mode="reflect") + cr.nn.functional.pad(self.extra["shift"], (1, 1))


class _Similar(nn.Module):
    """F.normalize and a cosine similarity with a learned direction (composed ops)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 6)
        self.cos = nn.CosineSimilarity(dim=1)

    def forward(self, x):
        return self.cos(cr.nn.functional.normalize(x, p=1.0), self.fc(x))[:, None] * x


LAYERS = {
    "linear": (lambda: nn.Linear(6, 3), (6,)),
    "linear-3d": (lambda: nn.Linear(6, 3), (4, 6)),
    "linear-no-bias": (lambda: nn.Linear(6, 3, bias=False), (6,)),
    "step": (lambda: nn.Sequential(nn.Linear(6, 3), nn.Step()), (6,)),
    "sigmoid": (lambda: nn.Sigmoid(), (6,)),
    "tanh": (lambda: nn.Tanh(), (6,)),
    "relu": (lambda: nn.ReLU(), (6,)),
    "leaky-relu": (lambda: nn.LeakyReLU(0.2), (6,)),
    "elu": (lambda: nn.ELU(0.7), (6,)),
    "gelu": (lambda: nn.GELU(), (6,)),
    "softplus": (lambda: nn.Softplus(beta=2.0), (6,)),
    "softplus-threshold": (lambda: nn.Softplus(beta=2.0, threshold=1.0), (6,)),
    "silu-mish-selu-celu": (lambda: nn.Sequential(nn.SiLU(), nn.Mish(), nn.SELU(), nn.CELU(0.5)), (6,)),
    "hard-activations": (
        lambda: nn.Sequential(nn.Linear(6, 6), nn.Hardswish(), nn.Hardsigmoid(), nn.Hardtanh(-0.2, 0.6), nn.ReLU6()),
        (6,),
    ),
    "shrinks-threshold": (
        lambda: nn.Sequential(nn.Softshrink(0.3), nn.Hardshrink(0.2), nn.Tanhshrink(), nn.Threshold(0.01, -1.0)),
        (6,),
    ),
    "softsign-softmin-glu": (lambda: nn.Sequential(nn.Softsign(), nn.Softmin(dim=1), nn.GLU()), (6,)),
    "prelu": (lambda: nn.Sequential(nn.Conv1d(2, 3, 1), nn.PReLU(3, init=0.1)), (2, 5)),
    "prelu-shared": (lambda: nn.PReLU(), (6,)),
    "groupnorm": (lambda: nn.Sequential(nn.Conv1d(4, 6, 3), nn.GroupNorm(3, 6), nn.LogSigmoid()), (4, 7)),
    "groupnorm-no-bias": (lambda: nn.GroupNorm(2, 4, bias=False), (4, 3, 3)),
    "instancenorm": (lambda: nn.Sequential(nn.InstanceNorm1d(4), nn.InstanceNorm1d(4, affine=True)), (4, 6)),
    "instancenorm-running": (lambda: nn.InstanceNorm2d(2, affine=True, track_running_stats=True), (2, 3, 3)),
    "layernorm-no-bias": (lambda: nn.Sequential(nn.Linear(6, 6), nn.LayerNorm(6, bias=False)), (6,)),
    "batchnorm-no-bias": (lambda: nn.BatchNorm1d(6, bias=False), (6,)),
    "cosine-similarity": (lambda: _Similar(), (6,)),
    "parameter-containers": (lambda: _Params(), (6,)),
    "pads-unflatten": (
        lambda: nn.Sequential(
            nn.Unflatten(1, (2, 3, 2)),
            nn.ZeroPad2d((1, 0, 2, 1)),
            nn.ConstantPad2d((0, -1, 1, 0), 2.5),
            nn.Flatten(),
            nn.Linear(28, 4),
            nn.Unflatten(1, (1, 4)),
            nn.ConstantPad1d((1, 2), -1.0),
            nn.ZeroPad1d(1),
        ),
        (12,),
    ),  # fmt: skip
    "transformer-encoder": (
        lambda: nn.TransformerEncoder(
            nn.TransformerEncoderLayer(8, 2, 16, batch_first=True, norm_first=True, activation="gelu"),
            2,
            norm=nn.LayerNorm(8),
        ),
        (5, 8),
    ),
    "transformer-encoder-post-norm": (
        lambda: nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 4, 16, batch_first=True), 1),
        (5, 8),
    ),
    "softmax": (lambda: nn.Softmax(dim=1), (6,)),
    "log-softmax": (lambda: nn.LogSoftmax(dim=-1), (6,)),
    "dropout": (lambda: nn.Sequential(nn.Dropout(0.5), nn.Dropout1d(0.3), nn.Linear(6, 2)), (6,)),
    "dropout2d": (lambda: nn.Sequential(nn.Dropout2d(0.3), nn.Conv2d(2, 2, 1)), (2, 4, 4)),
    "batchnorm1d": (lambda: nn.BatchNorm1d(6), (6,)),
    "batchnorm1d-3d": (lambda: nn.BatchNorm1d(3), (3, 5)),
    "batchnorm2d": (lambda: nn.BatchNorm2d(3), (3, 4, 4)),
    "batchnorm-no-affine": (lambda: nn.BatchNorm1d(6, affine=False), (6,)),
    "batchnorm-batch-stats": (lambda: nn.BatchNorm1d(6, track_running_stats=False), (6,)),
    "layernorm": (lambda: nn.LayerNorm(6), (6,)),
    "layernorm-2d": (lambda: nn.LayerNorm((3, 4)), (3, 4)),
    "layernorm-no-affine": (lambda: nn.LayerNorm(6, elementwise_affine=False), (6,)),
    "conv1d": (lambda: nn.Conv1d(2, 4, 3, stride=2, padding=1), (2, 9)),
    "conv2d": (lambda: nn.Conv2d(2, 4, 3, padding=1, dilation=1), (2, 6, 6)),
    "conv2d-groups-dilation": (lambda: nn.Conv2d(4, 4, 3, groups=2, dilation=2, padding=2), (4, 7, 7)),
    "conv2d-no-bias": (lambda: nn.Conv2d(2, 3, (2, 3), stride=(2, 1), bias=False), (2, 6, 7)),
    "conv-transpose1d": (lambda: nn.ConvTranspose1d(2, 3, 3, stride=2, padding=1, output_padding=1), (2, 5)),
    "conv-transpose2d": (lambda: nn.ConvTranspose2d(2, 4, 3, stride=2, padding=1), (2, 4, 4)),
    "conv-transpose2d-groups": (lambda: nn.ConvTranspose2d(4, 4, 2, stride=2, groups=2, bias=False), (4, 3, 3)),
    "max-pool1d": (lambda: nn.MaxPool1d(3, stride=2, padding=1), (2, 9)),
    "max-pool2d": (lambda: nn.MaxPool2d(2), (2, 6, 6)),
    "max-pool2d-ceil": (lambda: nn.MaxPool2d(3, stride=2, ceil_mode=True), (2, 8, 8)),
    "max-pool2d-dilation": (lambda: nn.MaxPool2d(2, stride=1, dilation=2), (2, 6, 6)),
    "avg-pool1d": (lambda: nn.AvgPool1d(3, stride=2, padding=1), (2, 9)),
    "avg-pool2d": (lambda: nn.AvgPool2d(2), (2, 6, 6)),
    "avg-pool2d-exclude-pad": (lambda: nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False), (2, 7, 7)),
    "avg-pool2d-ceil": (lambda: nn.AvgPool2d(3, stride=2, ceil_mode=True), (2, 8, 8)),
    "adaptive-avg-pool1d": (lambda: nn.AdaptiveAvgPool1d(3), (2, 7)),
    "adaptive-avg-pool2d": (lambda: nn.AdaptiveAvgPool2d((2, 3)), (2, 6, 6)),
    "adaptive-avg-pool2d-uneven": (lambda: nn.AdaptiveAvgPool2d((3, 4)), (2, 7, 5)),
    "global-avg-pool": (lambda: nn.GlobalAvgPool(), (3, 5, 5)),
    "upsample": (lambda: nn.Upsample(scale_factor=2), (2, 3, 3)),
    "upsample-size": (lambda: nn.Upsample(size=(5, 7)), (2, 3, 3)),
    "flatten": (lambda: nn.Flatten(), (2, 3, 4)),
    "flatten-middle": (lambda: nn.Flatten(1, 2), (2, 3, 4)),
    "identity": (lambda: nn.Identity(), (3,)),
    "rnn-cell": (lambda: nn.RNNCell(3, 4, nonlinearity="relu"), (3,)),
    "gru-cell": (lambda: nn.GRUCell(3, 4), (3,)),
    "lstm-cell": (lambda: LSTMCellSum(), (3,)),
    "functional": (Functional, (6,)),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_each_layer_runs_in_onnxruntime_at_two_batch_sizes(name):
    cr.manual_seed(0)
    factory, shape = LAYERS[name]
    model = factory()
    for m in model.modules():  # running statistics other than 0 and 1, so that they matter
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) and m.track_running_stats:
            m.running_mean.data = cr.randn(*m.running_mean.shape) * 0.5
            m.running_var.data = cr.rand(*m.running_var.shape) + 0.5
    check_two_batches(model, shape)


def test_embedding_gathers_rows_of_the_weight():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Embedding(10, 4), nn.Flatten(), nn.Linear(12, 2))
    proto = check_two_batches(model, (3,), high=10)
    assert "Gather" in [n.op_type for n in proto.graph.node]
    padded = nn.Embedding(10, 4, padding_idx=0)
    check_two_batches(padded, (5,), high=10)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("layout", ["time-first", "batch-first", "two-layers-bidirectional"])
def test_recurrent_layers_are_onnx_recurrent_operators(kind, layout):
    cr.manual_seed(0)
    layer = getattr(nn, kind)
    if layout == "two-layers-bidirectional":
        model = layer(3, 5, num_layers=2, bidirectional=True, batch_first=True)
    else:
        model = layer(3, 5, batch_first=layout == "batch-first")
    if layout == "time-first":  # (time, batch, features): the batch is axis 1
        x = batch((4, 3), 3).transpose(1, 0, 2).copy()
        proto = cr.onnx.export(model, x, dynamic_batch=False, dynamic_axes={"input": {1: "batch"}})
        onnx.checker.check_model(proto, full_check=True)
        expect_same(model, proto, batch((4, 3), 1).transpose(1, 0, 2).copy())
        expect_same(model, proto, batch((4, 3), 6).transpose(1, 0, 2).copy())
    else:
        proto = check_two_batches(model, (4, 3))
    ops = [n.op_type for n in proto.graph.node]
    assert ops.count(kind) == (2 if layout == "two-layers-bidirectional" else 1)
    assert "Concat" not in ops or layout == "two-layers-bidirectional"  # the packing is taken apart
    if kind == "GRU":
        gru = next(n for n in proto.graph.node if n.op_type == "GRU")
        assert onnx.helper.get_attribute_value(next(a for a in gru.attribute if a.name == "linear_before_reset")) == 1


def test_recurrent_initial_states_given_as_inputs():
    cr.manual_seed(0)

    class WithState(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(3, 4, batch_first=True)

        def forward(self, x, h, c):
            out, (h_n, c_n) = self.lstm(x, (h, c))
            return out, h_n, c_n

    model = WithState()
    rng = np.random.default_rng(1)
    x, h, c = batch((5, 3), 2), *(rng.standard_normal((1, 2, 4)).astype(np.float32) for _ in range(2))
    proto = cr.onnx.export(
        model,
        (x, h, c),
        input_names=["x", "h0", "c0"],
        dynamic_batch=False,
        dynamic_axes={"x": {0: "batch"}, "h0": {1: "batch"}, "c0": {1: "batch"}},
    )
    onnx.checker.check_model(proto, full_check=True)
    expect_same(model, proto, x, h, c)
    x2, h2, c2 = batch((5, 3), 6), *(rng.standard_normal((1, 6, 4)).astype(np.float32) for _ in range(2))
    expect_same(model, proto, x2, h2, c2)


def test_a_dynamic_sequence_length_follows_the_input():
    cr.manual_seed(0)

    class Last(nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = nn.GRU(3, 4, batch_first=True)
            self.fc = nn.Linear(4, 2)

        def forward(self, x):
            out, _ = self.gru(x)
            return self.fc(out[:, -1])

    model = Last()
    proto = cr.onnx.export(model, batch((5, 3), 2), dynamic_axes={"input": {0: "batch", 1: "time"}})
    dims = [d.dim_param or d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", "time", 3]
    for n, t in ((1, 2), (4, 9)):
        expect_same(model, proto, batch((t, 3), n))


MNIST1D_MLP = lambda: nn.Sequential(nn.Linear(40, 100), nn.ReLU(), nn.Linear(100, 100), nn.ReLU(), nn.Linear(100, 10))  # noqa: E731


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),
        )  # fmt: skip
        self.conv1d = nn.ModuleList([nn.Conv1d(8, 8, 3, padding=1), nn.BatchNorm1d(8)])
        self.head = nn.ModuleDict({"flatten": nn.Flatten(), "fc": nn.Linear(32, 10), "drop": nn.Dropout(0.2)})

    def forward(self, x):
        h = self.features(x)  # (N, 8, 2, 2)
        h = cr.reshape(h, (h.shape[0], 8, 4))
        for layer in self.conv1d:
            h = layer(h)
        return cr.log_softmax(self.head["fc"](self.head["drop"](self.head["flatten"](h))), axis=1)


class LSTMClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(20, 6)
        self.lstm = nn.LSTM(6, 8, batch_first=True, bidirectional=True)
        self.norm = nn.LayerNorm(16)
        self.fc = nn.Linear(16, 3)

    def forward(self, ids):
        out, (h, _) = self.lstm(self.embed(ids))
        return self.fc(self.norm(out[:, -1]))


def test_networks_mlp_cnn_lstm():
    cr.manual_seed(0)
    check_two_batches(MNIST1D_MLP(), (40,))
    check_two_batches(CNN(), (1, 8, 8))
    check_two_batches(LSTMClassifier(), (7,), high=20)


def test_node_and_initializer_names_follow_the_modules():
    cr.manual_seed(0)
    model = CNN()
    proto = cr.onnx.export(model, batch((1, 8, 8), 2))
    names = {t.name for t in proto.graph.initializer}
    assert {"features.0.weight", "features.1.running_mean", "conv1d.0.weight", "head.fc.bias"} <= names
    values = {t.name: onnx.numpy_helper.to_array(t) for t in proto.graph.initializer}
    np.testing.assert_array_equal(values["head.fc.weight"], model.head["fc"].weight.numpy())
    conv = next(n for n in proto.graph.node if n.op_type == "Conv")
    assert conv.name.startswith("/features.0/Conv")
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert proto.graph.output[0].type.tensor_type.shape.dim[0].dim_param == "batch"


def test_the_model_keeps_its_mode_and_weights():
    cr.manual_seed(0)
    model = CNN()
    model.train()
    before = {k: np.array(v) for k, v in model.state_dict().items()}
    cr.onnx.export(model, batch((1, 8, 8), 2))
    assert all(m.training for m in model.modules())
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_export_writes_the_file_whole(tmp_path):
    model = nn.Linear(3, 2)
    path = tmp_path / "model.onnx"
    proto = cr.onnx.export(model, cr.zeros(1, 3), path)
    loaded = onnx.load(str(path))
    assert loaded.SerializeToString() == proto.SerializeToString()
    assert sorted(os.listdir(tmp_path)) == ["model.onnx"]  # no temporary file left behind
    with pytest.raises(OSError):
        cr.onnx.export(model, cr.zeros(1, 3), tmp_path / "missing-folder" / "m.onnx")


def test_names_dtypes_and_fixed_batch():
    model = nn.Linear(3, 2, dtype="float64")
    x = np.arange(6, dtype=np.float64).reshape(2, 3)
    proto = cr.onnx.export(model, x, input_names=["features"], output_names=["scores"], dynamic_batch=False)
    assert [i.name for i in proto.graph.input] == ["features"]
    assert [o.name for o in proto.graph.output] == ["scores"]
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 2
    expect_same(model, proto, x)


class Reads(nn.Module):
    def forward(self, x):
        return x * 2 if x.sum().item() > 0 else x


class Loss(nn.Module):
    def forward(self, x):
        return cr.nn.functional.cross_entropy(x, np.zeros(x.shape[0], dtype=np.int64))


class InPlace(nn.Module):
    def forward(self, x):
        y = x * 1.0
        y += 1.0
        return y


class Sorts(nn.Module):
    def forward(self, x):
        return cr.sort(x, axis=1).values


@pytest.mark.parametrize(
    "model, message",
    [
        (Reads(), "reads a tensor's value into Python"),
        (Loss(), "CrossEntropy .* has no ONNX translation"),
        (InPlace(), "in place"),
        (Sorts(), "op sort/argsort .* has no ONNX translation"),
    ],
)
def test_what_cannot_be_exported_is_an_error_naming_why(model, message):
    with pytest.raises(OnnxError, match=message):
        cr.onnx.export(model, batch((4,), 3))


def test_forward_hooks_and_bad_arguments_are_errors():
    layer = nn.Linear(4, 2)
    handle = layer.register_forward_hook(lambda m, i, o: None)
    with pytest.raises(OnnxError, match="forward hooks"):
        cr.onnx.export(layer, batch((4,), 3))
    handle.remove()
    with pytest.raises(OnnxError, match="opset"):
        cr.onnx.export(layer, batch((4,), 3), opset=9)
    with pytest.raises(OnnxError, match="input_names"):
        cr.onnx.export(layer, batch((4,), 3), input_names=["a", "b"])
    with pytest.raises(OnnxError, match="not inputs"):
        cr.onnx.export(layer, batch((4,), 3), dynamic_axes={"x": {0: "n"}})
    with pytest.raises(OnnxError, match="example_input"):
        cr.onnx.export(layer)
    with pytest.raises(TypeError, match="estimator|Module"):
        cr.onnx.export("not a model")
    assert "forward" not in vars(layer)  # the trace's wrappers are gone


class Lambda(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *x):
        return self.fn(*x)


def test_a_mean_over_several_symbolic_axes_divides_by_their_product():
    # the count 16 then 108 (height 4 -> 9, width 4 -> 12) once fitted "46 * batch - 122"
    cr.manual_seed(0)
    dims = {"input": {0: "batch", 2: "height", 3: "width"}}
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.GlobalAvgPool())
    proto = cr.onnx.export(model, batch((2, 4, 4), 3), dynamic_axes=dims)
    for n, h, w in ((1, 4, 4), (2, 6, 5), (8, 3, 7)):
        expect_same(model, proto, batch((2, h, w), n))
    norm = nn.BatchNorm2d(2, track_running_stats=False)
    proto = cr.onnx.export(norm, batch((2, 4, 4), 3), dynamic_axes=dims)
    expect_same(norm, proto, batch((2, 6, 5), 4))
    mean = Lambda(lambda x: x.mean(axis=(0, 1)) + x.var(axis=1, ddof=1))
    proto = cr.onnx.export(mean, batch((5, 3), 3), dynamic_axes={"input": {0: "batch", 1: "time"}})
    expect_same(mean, proto, batch((2, 3), 7))
    with pytest.raises(OnnxError, match="changes with the batch size"):
        cr.onnx.export(Lambda(lambda x: x / x.shape[0] ** 2), batch((4,), 3))  # 9 then 25 is no count


def test_an_index_array_made_from_a_size_is_an_error():
    with pytest.raises(OnnxError, match="integer array computed from the size of a symbolic axis"):
        cr.onnx.export(Lambda(lambda x: x[np.arange(x.shape[0])[::-1]]), batch((4,), 3))
    with pytest.raises(OnnxError, match="integer array computed from the size of a symbolic axis"):
        cr.onnx.export(nn.Upsample(size=(5, 7)), batch((2, 4, 4), 3), dynamic_axes={"input": [0, 2, 3]})
    with pytest.raises(OnnxError, match="not an outer product"):  # pointwise: (N, 1), not (N, 1, 1)
        cr.onnx.export(Lambda(lambda x: x[:, np.array([1]), np.array([2])]), batch((3, 4), 3))


def test_scalars_keep_their_rank():
    model = Lambda(lambda x, t: (x.sum() * 2.0 + 1, x[:, np.array(1)] * t))
    x, t = batch((3, 4), 3), np.asarray(0.5, dtype=np.float32)
    proto = cr.onnx.export(model, (x, t), input_names=["x", "t"], dynamic_axes={"t": []})
    assert proto.graph.output[0].type.tensor_type.shape.dim == []
    expect_same(model, proto, x, t)
    expect_same(model, proto, batch((3, 4), 5), t)


def test_mixed_dtypes_are_promoted_as_chainrule_promotes_them():
    cr.manual_seed(0)
    ids = np.arange(12, dtype=np.int32).reshape(3, 4) % 5
    model = Lambda(lambda x: (x + 1, cr.exp(x * 0.1).sum(axis=1), x.sum(axis=1), x > 2.5))
    proto = cr.onnx.export(model, ids)
    expect_same(model, proto, ids)
    linear = nn.Linear(4, 2)  # float32 weights on float64 input compute in float64
    x = batch((4,), 3, dtype=np.float64)
    expect_same(linear, cr.onnx.export(linear, x), batch((4,), 5, dtype=np.float64))


def test_windows_onnx_runtime_takes_only_in_other_forms():
    cr.manual_seed(0)
    # output_padding reaching the dilation but not below the stride; padding as long as the kernel
    for model, shape in (
        (nn.ConvTranspose2d(4, 6, 3, stride=1, padding=1, output_padding=1, dilation=2, groups=2), (4, 5, 4)),
        (nn.ConvTranspose1d(4, 2, 2, stride=1, output_padding=1, dilation=2), (4, 5)),
        (nn.MaxPool2d(2, stride=2, padding=1, dilation=2, ceil_mode=True), (2, 9, 8)),
    ):
        check_two_batches(model, shape)


def test_a_forward_that_fails_on_the_longer_trace_is_an_error_naming_the_axes():
    gru = nn.GRU(3, 4, batch_first=True)
    model = Lambda(lambda x, h: gru(x, h)[0])
    x, h = batch((5, 3), 2), batch((2, 4), 1)  # h: (1, 2, 4), whose axis 0 is not a batch
    with pytest.raises(OnnxError, match=r"input_1\[0\] 'batch'.*dynamic_axes"):
        cr.onnx.export(model, (x, h))
    proto = cr.onnx.export(model, (x, h), dynamic_axes={"input_1": {1: "batch"}})
    expect_same(model, proto, batch((5, 3), 6), batch((6, 4), 1))
