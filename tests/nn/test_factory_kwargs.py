"""PyTorch's factory arguments on every layer with parameters: ``device=`` (the CPU only, or a
clear error) and ``dtype=`` (a floating dtype), in PyTorch's positions."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

LAYERS = {
    "Linear": lambda **k: nn.Linear(3, 4, **k),
    "Conv1d": lambda **k: nn.Conv1d(2, 3, 3, **k),
    "Conv2d": lambda **k: nn.Conv2d(2, 3, 3, **k),
    "ConvTranspose1d": lambda **k: nn.ConvTranspose1d(2, 3, 3, **k),
    "ConvTranspose2d": lambda **k: nn.ConvTranspose2d(2, 3, 3, **k),
    "Embedding": lambda **k: nn.Embedding(5, 3, **k),
    "RNN": lambda **k: nn.RNN(2, 3, **k),
    "LSTM": lambda **k: nn.LSTM(2, 3, **k),
    "GRU": lambda **k: nn.GRU(2, 3, **k),
    "RNNCell": lambda **k: nn.RNNCell(2, 3, **k),
    "LSTMCell": lambda **k: nn.LSTMCell(2, 3, **k),
    "GRUCell": lambda **k: nn.GRUCell(2, 3, **k),
    "BatchNorm1d": lambda **k: nn.BatchNorm1d(3, **k),
    "BatchNorm2d": lambda **k: nn.BatchNorm2d(3, **k),
    "LayerNorm": lambda **k: nn.LayerNorm(3, **k),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_device_cpu_and_dtype_are_taken(name):
    for device in ("cpu", cr.device("cpu"), None):
        layer = LAYERS[name](device=device, dtype=cr.float64)
        arrays = [*layer.parameters(), *(b for b in layer.buffers() if b.dtype.kind == "f")]
        assert arrays and all(a.dtype == np.float64 for a in arrays), name
    assert all(p.dtype == np.float32 for p in LAYERS[name]().parameters())


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_another_device_or_an_integer_dtype_is_a_clear_error(name):
    with pytest.raises(RuntimeError, match=rf"{name}: device: 'cuda' is not available.*only device is 'cpu'"):
        LAYERS[name](device="cuda")
    with pytest.raises(ValueError, match=rf"{name}: parameters must be floating point, got dtype=int64"):
        LAYERS[name](dtype="int64")
    with pytest.raises(TypeError, match=rf"{name}: dtype='float' is not a dtype|{name}: dtype=.* is not a dtype"):
        LAYERS[name](dtype="no such dtype")


def test_pytorch_positions_device_then_dtype():
    layer = nn.Linear(3, 4, False, "cpu", "float64")  # Linear(in, out, bias, device, dtype)
    assert layer.bias is None and layer.weight.dtype == np.float64
    assert nn.Embedding(5, 3, None, "cpu", "float64").weight.dtype == np.float64


def test_a_normalisation_layer_saved_in_float64_loads_in_float64(tmp_path):
    model = nn.Sequential(nn.BatchNorm1d(3, dtype="float64"), nn.LayerNorm(3, dtype="float64"))
    cr.save(model, tmp_path / "m.crm")
    loaded = cr.load(tmp_path / "m.crm")
    assert [p.dtype for p in loaded.parameters()] == [np.float64] * 4
    assert loaded[0].running_var.dtype == np.float64
    assert nn.BatchNorm1d(3).double().get_config()["dtype"] == "float64"  # the config follows .double()
