"""export -> load: a chainrule model written to ONNX and read back gives the same outputs, and its
layers come back as the same layers with the same parameters under the same names."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from tests.onnx.test_export import CNN, LAYERS, MNIST1D_MLP, LSTMClassifier, batch


def reload(model: nn.Module, example: np.ndarray) -> nn.Module:
    proto = cr.onnx.export(model, example)
    return cr.onnx.load(proto.SerializeToString())


def outputs(model: nn.Module, x: np.ndarray) -> list[np.ndarray]:
    model.eval()
    with cr.no_grad():
        out = model(cr.tensor(x))
    return [t.numpy() for t in (out if isinstance(out, tuple) else (out,))]


def expect_same_outputs(model: nn.Module, loaded: nn.Module, shape, high=None) -> None:
    for n in (1, 4):
        x = batch(shape, n, high=high)
        for got, want in zip(outputs(loaded, x), outputs(model, x), strict=True):
            scale = max(1.0, float(np.abs(want).max()))
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * scale)


# the parameters kept by name: layers with weights come back as the same layer classes
SAME_NAMES = {
    "linear", "linear-3d", "linear-no-bias", "step", "dropout", "dropout2d", "batchnorm1d", "batchnorm1d-3d",
    "batchnorm2d", "layernorm", "layernorm-2d", "conv1d", "conv2d", "conv2d-groups-dilation", "conv2d-no-bias",
    "conv-transpose1d", "conv-transpose2d", "conv-transpose2d-groups",
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_each_layer_round_trips(name):
    cr.manual_seed(0)
    factory, shape = LAYERS[name]
    model = nn.Sequential(factory())  # in a container: its parameters are named "0.weight", ...
    loaded = reload(model, batch(shape, 3))
    expect_same_outputs(model, loaded, shape)
    if name in SAME_NAMES:
        want = {k: np.asarray(v) for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
        got = {k: np.asarray(v) for k, v in loaded.state_dict().items() if not k.endswith("num_batches_tracked")}
        assert sorted(got) == sorted(want)
        for key in want:
            np.testing.assert_array_equal(got[key], want[key])
        assert {type(m).__name__ for m in loaded.modules()} >= {
            type(m).__name__ for m in model.modules() if m.state_dict() and not m._modules
        }


def test_networks_round_trip_with_their_parameters():
    cr.manual_seed(0)
    for model, shape, high in ((MNIST1D_MLP(), (40,), None), (CNN(), (1, 8, 8), None), (LSTMClassifier(), (7,), 20)):
        loaded = reload(model, batch(shape, 3, high=high))
        expect_same_outputs(model, loaded, shape, high)
        want = sorted(np.sort(np.asarray(v).ravel()).tobytes() for v in model.parameters())
        got = sorted(np.sort(np.asarray(v.numpy()).ravel()).tobytes() for v in loaded.parameters())
        if not isinstance(model, LSTMClassifier):  # an LSTM's weights come back as one layer's, reordered
            assert got == want
        assert sum(p.size for p in loaded.parameters()) == sum(p.size for p in model.parameters())


def test_the_recurrent_weights_come_back_in_chainrule_layout():
    cr.manual_seed(0)
    for layer in (nn.LSTM(3, 5, batch_first=True, bidirectional=True), nn.GRU(3, 5, batch_first=True), nn.RNN(3, 5)):
        loaded = reload(layer, batch((4, 3), 2))
        (inner,) = [m for m in loaded.modules() if type(m) is type(layer)]
        for key, value in layer.state_dict().items():
            np.testing.assert_array_equal(np.asarray(inner.state_dict()[key]), np.asarray(value))


def test_a_reloaded_model_fine_tunes():
    cr.manual_seed(0)
    model = CNN()
    loaded = reload(model, batch((1, 8, 8), 3))
    loaded.train()
    x, y = cr.tensor(batch((1, 8, 8), 16)), cr.tensor(np.arange(16) % 10)
    optimizer = cr.optim.SGD(loaded.parameters(), lr=0.05)
    losses = []
    for _ in range(5):
        optimizer.zero_grad()
        loss = cr.nn.functional.nll_loss(loaded(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    assert all(p.grad is not None for p in loaded.parameters())
