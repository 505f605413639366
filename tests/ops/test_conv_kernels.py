"""A convolution's input gradient through the compiled scatter loop (numba) equals the NumPy
strided adds bit for bit, for 1- and 2-D convolutions (and a transposed one, whose forward is that
scatter) with strides, dilation and padding."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import kernels
from chainrule.ops import _conv_kernels

assert kernels.available(), 'numba is part of the test extra: pip install -e ".[test]"'


@pytest.fixture(autouse=True)
def _loops_at_any_size(monkeypatch):
    """The scatter loop runs for these small convolutions too (``kernels.MIN_SIZE``)."""
    monkeypatch.setattr(kernels, "MIN_SIZE", 0)


CASES = [
    ("conv1d", (4, 3, 17), (5, 3, 3), dict(stride=2, padding=1)),
    ("conv1d", (2, 1, 9), (4, 1, 4), dict(dilation=2)),
    ("conv2d", (3, 2, 7, 6), (4, 2, 3, 2), dict(stride=(2, 1), padding=(1, 0))),
    ("conv2d", (2, 3, 8, 8), (2, 3, 3, 3), dict(dilation=2, padding=2)),
    ("conv_transpose2d", (2, 3, 4, 5), (3, 2, 3, 3), dict(stride=2, padding=1)),
]


def input_grad(name, x_shape, w_shape, kwargs, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = cr.tensor(rng.standard_normal(x_shape), dtype=dtype, requires_grad=True)
    w = cr.tensor(rng.standard_normal(w_shape), dtype=dtype, requires_grad=True)
    y = getattr(F, name)(x, w, **kwargs)
    y.backward(cr.tensor(rng.standard_normal(y.shape), dtype=dtype))
    return x.grad.numpy(), w.grad.numpy()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("name", "x_shape", "w_shape", "kwargs"), CASES)
def test_the_scatter_loop_gives_the_numpy_input_gradient_bit_for_bit(
    name, x_shape, w_shape, kwargs, dtype, monkeypatch
):
    calls = []
    loop = _conv_kernels.SCATTER_ADD
    monkeypatch.setattr("chainrule.ops.conv.SCATTER_ADD", lambda *a: calls.append(1) or loop(*a))
    looped = input_grad(name, x_shape, w_shape, kwargs, dtype)
    assert calls, "the compiled loop did not run"
    with kernels.disable():
        plain = input_grad(name, x_shape, w_shape, kwargs, dtype)
    assert len(calls) == 1  # not under kernels.disable()
    for a, b in zip(looped, plain):
        np.testing.assert_array_equal(a, b)


def test_the_destination_rows_are_the_positions_each_offset_read():
    rows = _conv_kernels.destination_rows(1, (5,), (2,), (2,), (2,), (1,))
    assert rows.tolist() == [[0, 2], [1, 3]] and not rows.flags.writeable
