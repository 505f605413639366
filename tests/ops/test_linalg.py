"""Linear algebra, what the op registry does not cover: matmul with an ndarray operand (__rmatmul__)
and on random shapes, a Hessian-vector product, linear with a constant input, errors naming the op
and the shapes. Values and first- and second-order gradients of matmul in every NumPy form, dot,
outer and the fused linear map on fixed samples are checked by the registry (tests/ops/registry.py,
tests/ops/test_registry.py)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis.extra import numpy as hnp

import chainrule as cr
from tests.helpers import FAST, check_op, leaf, rand


@pytest.mark.parametrize("shape_a, shape_b", [((2, 3), (3, 4)), ((3,), (3, 2)), ((2, 2, 3), (3,))], ids=str)
def test_matmul_with_one_constant_operand(shape_a, shape_b):
    a, b = rand(*shape_a, seed=1), rand(*shape_b, seed=2)
    check_op(lambda x: x @ b, lambda x: x @ b, a)
    check_op(lambda y: a @ y, lambda y: a @ y, b)  # ndarray @ Tensor: __rmatmul__


def test_rmatmul_returns_a_tensor():
    out = np.ones((2, 3)) @ cr.tensor(np.ones((3, 4)))
    assert isinstance(out, cr.Tensor) and out.shape == (2, 4)


@FAST
@given(
    shapes=hnp.mutually_broadcastable_shapes(signature="(m,n),(n,p)->(m,p)", max_dims=4, max_side=3),
)
def test_matmul_random_batch_broadcasting(shapes):
    shape_a, shape_b = shapes.input_shapes
    check_op(cr.matmul, np.matmul, rand(*shape_a, seed=3), rand(*shape_b, seed=4))


@FAST
@given(
    shapes=hnp.mutually_broadcastable_shapes(signature=np.matmul.signature, max_dims=3, max_side=3),
)
def test_matmul_random_shapes_including_vectors(shapes):
    shape_a, shape_b = shapes.input_shapes
    check_op(cr.matmul, np.matmul, rand(*shape_a, seed=5), rand(*shape_b, seed=6))


def test_hessian_vector_product_of_a_quadratic_form():
    rng = np.random.default_rng(9)
    A = rng.standard_normal((4, 4))
    c = rng.standard_normal(4)
    v = rng.standard_normal(4)
    x = leaf(rng.standard_normal(4))
    At, ct = cr.tensor(A), cr.tensor(c)
    f = x @ At @ x + ct @ x  # f(x) = x^T A x + c^T x
    (g,) = cr.grad(f, x, create_graph=True)
    np.testing.assert_allclose(g.numpy(), (A + A.T) @ x.numpy() + c, rtol=1e-12)
    (hv,) = cr.grad(g @ cr.tensor(v), x)
    np.testing.assert_allclose(hv.numpy(), (A + A.T) @ v, rtol=1e-12)
    assert x.grad is None  # cr.grad never touches .grad


# ------------------------------------------------------------------ dot, outer, linear


@pytest.mark.parametrize("fn", [cr.dot, cr.outer])
def test_dot_outer_need_vectors(fn):
    with pytest.raises(ValueError, match=rf"{fn.__name__}: expects two 1-D tensors, got shapes \(2, 2\) and \(2,\)"):
        fn(cr.ones(2, 2), cr.ones(2))


def test_linear_with_constant_input():
    x = cr.tensor(rand(4, 3, seed=1))
    check_op(lambda w, b: cr.linear(x, w, b), lambda w, b: x.numpy() @ w.T + b, rand(2, 3, seed=2), rand(2, seed=3))


# ------------------------------------------------------------------ errors


def test_matmul_error_names_both_shapes():
    with pytest.raises(ValueError, match=r"matmul: shapes \(32, 40\) and \(50, 10\) do not align \(40 != 50\)"):
        cr.ones(32, 40) @ cr.ones(50, 10)
    with pytest.raises(ValueError, match=r"matmul: shapes \(3,\) and \(4,\) do not align \(3 != 4\)"):
        cr.matmul(cr.ones(3), cr.ones(4))
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(4,\) do not align"):
        cr.matmul(cr.ones(2, 3), cr.ones(4))


def test_matmul_error_for_scalars_and_batches():
    with pytest.raises(
        ValueError, match=r"matmul: both operands need at least one dimension, got shapes \(\) and \(3,\)"
    ):
        cr.matmul(cr.tensor(2.0), cr.ones(3))
    with pytest.raises(
        ValueError, match=r"matmul: batch dimensions of shapes \(2, 2, 3\) and \(3, 3, 4\) cannot be broadcast"
    ):
        cr.matmul(cr.ones(2, 2, 3), cr.ones(3, 3, 4))


def test_matmul_error_happens_before_any_graph_is_recorded():
    a = cr.ones(2, 3, requires_grad=True)
    with pytest.raises(ValueError):
        a @ cr.ones(2, 3)
    assert a.grad is None and a.is_leaf


def test_linear_error_names_the_shapes():
    with pytest.raises(ValueError, match=r"linear: input of shape \(4, 5\) does not match weight of shape \(2, 3\)"):
        cr.linear(cr.ones(4, 5), cr.ones(2, 3))
    with pytest.raises(ValueError, match=r"Linear: .*\(4, 3\).*\(2, 3\).*\(5,\)"):
        cr.linear(cr.ones(4, 3), cr.ones(2, 3), cr.ones(5))
