"""NaN propagates through the ops that choose between values, as it does in NumPy and PyTorch: a
comparison with NaN is false, so an op written as ``where(a >= b, a, b)`` would silently replace
a NaN by the other operand (``maximum``, ``clamp`` with tensor bounds, ``elu``)."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F

NAN = float("nan")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_maximum_and_minimum_give_nan_where_either_operand_is_nan(dtype):
    a = np.array([NAN, 1.0, NAN, -2.0, 3.0], dtype=dtype)
    b = np.array([0.0, NAN, NAN, -1.0, 3.0], dtype=dtype)
    for ours, theirs in ((cr.maximum, np.maximum), (cr.minimum, np.minimum)):
        got = ours(cr.tensor(a), cr.tensor(b)).numpy()
        np.testing.assert_array_equal(got, theirs(a, b))  # (NaN where NumPy has NaN)
        assert got.dtype == np.dtype(dtype)


def test_maximum_of_integers_is_unchanged():
    got = cr.maximum(cr.tensor([1, 5, 3]), cr.tensor([3, 2, 3])).numpy()
    np.testing.assert_array_equal(got, [3, 5, 3])
    assert got.dtype == np.int64


def test_the_gradient_goes_to_the_operand_that_is_nan():
    a = cr.tensor([NAN, 1.0, 2.0], dtype="float64", requires_grad=True)
    b = cr.tensor([0.0, NAN, 1.0], dtype="float64", requires_grad=True)
    cr.maximum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(b.grad.numpy(), [0.0, 1.0, 0.0])


def test_clamp_with_tensor_bounds_and_elu_keep_nan():
    x = cr.tensor([NAN, -3.0, 0.5, 4.0])
    np.testing.assert_array_equal(cr.clamp(x, min=cr.tensor(0.0), max=cr.tensor(1.0)).numpy(), [NAN, 0.0, 0.5, 1.0])
    np.testing.assert_array_equal(cr.clamp(x, min=0.0, max=1.0).numpy(), [NAN, 0.0, 0.5, 1.0])
    assert np.isnan(F.elu(x).numpy()[0]) and np.isnan(cr.nn.ELU()(x).numpy()[0])
    np.testing.assert_allclose(F.elu(x).numpy()[1:], [np.expm1(-3.0), 0.5, 4.0], rtol=1e-6)


def test_a_compiled_step_keeps_nan_too():
    @cr.compile
    def f(a, b):
        return cr.maximum(a, b) * 2.0

    b = cr.tensor([0.0, 0.0])
    for _ in range(4):
        out = f(cr.tensor([NAN, 1.0]), b)
    assert f.stats["replayed"] >= 1
    np.testing.assert_array_equal(out.numpy(), [NAN, 2.0])


def test_exported_to_onnx_maximum_keeps_nan(tmp_path):
    pytest.importorskip("onnx")
    from chainrule.onnx import export, load

    class M(cr.nn.Module):
        def forward(self, x):
            return cr.maximum(x, cr.zeros_like(x)) + F.elu(x)

    model = M()
    x = cr.tensor([[NAN, -1.0, 2.0]])
    path = tmp_path / "m.onnx"
    export(model, x, path)
    np.testing.assert_array_equal(load(path)(x).numpy(), model(x).numpy())
    assert np.isnan(model(x).numpy()[0, 0])


def test_the_gradient_of_a_nan_maximum_goes_to_the_nan():
    """As torch.max: the NaN is the maximum, so it gets the gradient (a == NaN finds no winner: the
    split divided 0 by 0, and a later version gave no gradient at all, which hides the NaN)."""
    x = cr.tensor([[NAN, 1.0, 2.0], [1.0, 3.0, 3.0]], dtype="float64", requires_grad=True)
    cr.max(x, 1).values.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1.0, 0.0, 0.0], [0.0, 0.5, 0.5]])  # (ties shared evenly)
    x.grad = None
    x.amax(1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1.0, 0.0, 0.0], [0.0, 0.5, 0.5]])
    y = cr.tensor([NAN, 1.0, NAN], dtype="float64", requires_grad=True)
    cr.min(y).backward()
    np.testing.assert_array_equal(y.grad.numpy(), [0.5, 0.0, 0.5])


def test_adaptive_average_pooling_keeps_an_inf_in_its_own_windows():
    """Uneven windows were averaged by a product with a matrix of zeros and weights: 0 * inf made
    every window of the channel NaN; PyTorch's windows, each its own mean, keep it where it is."""
    x = np.arange(25, dtype=np.float32).reshape(1, 1, 5, 5)
    x[0, 0, 0, 0] = np.inf
    got = cr.adaptive_avg_pool2d(cr.tensor(x), 2).numpy()
    np.testing.assert_array_equal(got, [[[[np.inf, 8.0], [16.0, 18.0]]]])
    row = cr.adaptive_avg_pool1d(cr.tensor([[[NAN, 1.0, 2.0, 3.0, 4.0]]]), 3).numpy()
    np.testing.assert_array_equal(row, [[[NAN, 2.0, 3.5]]])


def test_norms_of_an_order_below_one_have_gradient_zero_at_a_zero_entry():
    """|x| ** p at 0 has an infinite derivative for p < 1 (0 * inf was NaN); PyTorch's gradient
    there is 0. pairwise_distance with eps=0 on equal rows goes through the same norm."""
    x = cr.tensor([0.0, 1.0, 4.0], dtype="float64", requires_grad=True)
    cr.linalg.vector_norm(x, 0.5).backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 3.0, 1.5], rtol=1e-12)
    x.grad = None
    cr.linalg.vector_norm(x, -1).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.0])
    a = cr.tensor([[1.0, 2.0]], dtype="float64", requires_grad=True)
    F.pairwise_distance(a, a.detach(), eps=0.0).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [[0.0, 0.0]])
