"""Every layer meets inputs of any shape and dtype with a correct result or a clear error that
names the layer (or says the data are not numbers) — never an error from deep inside NumPy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr
from chainrule import nn

LAYERS = {
    "Linear": lambda: nn.Linear(3, 2),
    "Conv1d": lambda: nn.Conv1d(2, 3, 3),
    "Conv2d": lambda: nn.Conv2d(2, 3, 3),
    "ConvTranspose1d": lambda: nn.ConvTranspose1d(2, 3, 2),
    "MaxPool1d": lambda: nn.MaxPool1d(2),
    "MaxPool2d": lambda: nn.MaxPool2d(2),
    "AvgPool2d": lambda: nn.AvgPool2d(2),
    "AdaptiveAvgPool1d": lambda: nn.AdaptiveAvgPool1d(2),
    "BatchNorm1d": lambda: nn.BatchNorm1d(3),
    "BatchNorm2d": lambda: nn.BatchNorm2d(2),
    "LayerNorm": lambda: nn.LayerNorm(3),
    "Embedding": lambda: nn.Embedding(10, 4),
    "RNN": lambda: nn.RNN(3, 4, batch_first=True),
    "LSTM": lambda: nn.LSTM(3, 4, batch_first=True),
    "GRU": lambda: nn.GRU(3, 4, batch_first=True),
    "Flatten": lambda: nn.Flatten(),
    "Dropout": lambda: nn.Dropout(0.5),
    "Dropout1d": lambda: nn.Dropout1d(0.5),
    "Dropout2d": lambda: nn.Dropout2d(0.5),
    "Softmax": lambda: nn.Softmax(dim=1),
    "ReLU": lambda: nn.ReLU(),
    "Upsample": lambda: nn.Upsample(scale_factor=2),
}
ALIASES = {"Upsample": "interpolate"}
"""Layers whose errors come from the function they call, under its name."""
DTYPES = [np.float32, np.float64, np.int64, np.bool_, np.float16]
SHAPES = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5)


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.filterwarnings("ignore:dropout2d. a 3-D input is read as:UserWarning")  # PyTorch's reading, on purpose
@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(shape=SHAPES, dtype=st.sampled_from(DTYPES), data=st.data())
def test_a_layer_gives_a_result_or_an_error_naming_it(name, shape, dtype, data):
    layer = LAYERS[name]()
    if name == "Embedding":
        array = data.draw(hnp.arrays(np.int64, shape, elements=st.integers(-3, 12)))
    else:
        array = data.draw(
            hnp.arrays(
                dtype,
                shape,
                elements=st.floats(-3, 3, width=16) if dtype != np.bool_ and np.dtype(dtype).kind == "f" else None,
            )
        )
    try:
        out = layer(cr.tensor(array))
    except (ValueError, TypeError, IndexError) as error:  # IndexError: an id out of range, as in PyTorch
        message = str(error)
        plain = message.lower().replace("_", "")
        named = name.lower() in plain or ALIASES.get(name, "?") in plain or "tensor:" in message
        assert named, f"{name} on {shape} {np.dtype(dtype)}: {type(error).__name__}: {message}"
        return
    outputs = out if isinstance(out, tuple) else (out,)
    first = outputs[0]
    assert isinstance(first, cr.Tensor)
    if array.size and np.isfinite(array.astype(np.float64)).all() and name not in ("Embedding",):
        assert np.isfinite(first.data).all() or first.data.size == 0, f"{name}: non-finite output"


def test_adaptive_pooling_of_an_empty_axis_is_a_clear_error():  # was a ZeroDivisionError
    with pytest.raises(ValueError, match=r"adaptive_avg_pool1d: input of shape \(1, 2, 0\) has an empty spatial axis"):
        nn.AdaptiveAvgPool1d(2)(cr.tensor(np.zeros((1, 2, 0), np.float32)))


@pytest.mark.parametrize("op", [cr.softmax, cr.log_softmax])
def test_softmax_of_booleans_is_a_clear_error(op):  # was NumPy's "boolean subtract is not supported"
    with pytest.raises(TypeError, match="softmax: needs numbers, got a boolean tensor"):
        op(cr.tensor(np.zeros((2, 3), bool)), axis=1)
