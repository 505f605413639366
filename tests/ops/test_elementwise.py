"""Elementwise ops, what the op registry does not cover: operators with Python numbers and arrays,
operator forms on random broadcast shapes, dtype rules, PyTorch's conventions at kinks and ties,
stability for large inputs, second derivatives with a constant operand or a shared input, a third
derivative. Values and first- and second-order gradients of each op on fixed samples (broadcasting,
0-d, options) are checked by the registry (tests/ops/registry.py, tests/ops/test_registry.py)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, strategies as st

import chainrule as cr
from tests.helpers import FAST, broadcastable_pair, check_op, leaf, positive, rand


def away_from_zero(*shape: int, seed: int = 0) -> np.ndarray:
    """Values with |x| in [0.2, 2] so kinks at 0 (relu, abs, ...) stay out of the finite differences."""
    x = rand(*shape, seed=seed, low=0.2, high=2.0)
    return x * np.where(np.random.default_rng(seed + 1).random(shape) < 0.5, -1.0, 1.0)


# ------------------------------------------------------------------ binary arithmetic

BINARY = [
    ("add", lambda a, b: a + b, np.add),
    ("sub", lambda a, b: a - b, np.subtract),
    ("mul", lambda a, b: a * b, np.multiply),
    ("div", lambda a, b: a / b, np.divide),
    ("pow", lambda a, b: a**b, np.power),
    ("add_fn", cr.add, np.add),
    ("sub_fn", cr.sub, np.subtract),
    ("mul_fn", cr.mul, np.multiply),
    ("div_fn", cr.div, np.divide),
    ("pow_fn", cr.pow, np.power),
]


@FAST
@given(shapes=broadcastable_pair(), op=st.sampled_from(BINARY))
def test_binary_broadcasting_random_shapes(shapes, op):
    _, cr_fn, np_fn = op
    shape_a, shape_b = shapes.input_shapes
    check_op(cr_fn, np_fn, positive(*shape_a, seed=3), positive(*shape_b, seed=4))


@pytest.mark.parametrize(
    "cr_fn, np_fn",
    [
        (lambda x: 2.5 + x, lambda x: 2.5 + x),
        (lambda x: x + 2.5, lambda x: x + 2.5),
        (lambda x: 2.5 - x, lambda x: 2.5 - x),
        (lambda x: x - 2.5, lambda x: x - 2.5),
        (lambda x: 2.5 * x, lambda x: 2.5 * x),
        (lambda x: x * 3, lambda x: x * 3),
        (lambda x: 2.5 / x, lambda x: 2.5 / x),
        (lambda x: x / 4, lambda x: x / 4),
        (lambda x: 2.5**x, lambda x: 2.5**x),
        (lambda x: +x, lambda x: +x),
        (lambda x: np.float64(3.0) * x, lambda x: 3.0 * x),
    ],
)
def test_operators_with_python_numbers_on_both_sides(cr_fn, np_fn):
    check_op(cr_fn, np_fn, positive(2, 3))


ARRAY = positive(2, 3, seed=7)


@pytest.mark.parametrize(
    "cr_fn, np_fn",
    [
        (lambda x: ARRAY + x, lambda x: ARRAY + x),
        (lambda x: ARRAY - x, lambda x: ARRAY - x),
        (lambda x: ARRAY * x, lambda x: ARRAY * x),
        (lambda x: ARRAY / x, lambda x: ARRAY / x),
        (lambda x: ARRAY**x, lambda x: ARRAY**x),
        (lambda x: x - ARRAY, lambda x: x - ARRAY),
        (lambda x: x / ARRAY, lambda x: x / ARRAY),
        (lambda x: ARRAY[0] * x, lambda x: ARRAY[0] * x),  # (3,) * (2, 3)
        (lambda x: ARRAY[:, :1] - x, lambda x: ARRAY[:, :1] - x),  # (2, 1) - (2, 3)
    ],
)
def test_reflected_operators_with_ndarrays(cr_fn, np_fn):
    out = check_op(cr_fn, np_fn, positive(2, 3))
    assert isinstance(out, cr.Tensor)  # __array_priority__: NumPy defers to the Tensor


def test_pow_exponent_gradient_is_zero_where_base_is_not_positive():
    a = cr.tensor([-2.0, 0.0, 3.0], dtype="float64")
    b = leaf([2.0, 2.0, 2.0])
    (a**b).sum().backward()
    np.testing.assert_allclose(b.grad.numpy(), [0.0, 0.0, 9.0 * math.log(3.0)])


def test_scalar_exponent_makes_one_node():
    x = leaf([1.0, 2.0])
    assert type((x**3).grad_fn).__name__ == "PowScalar"
    assert type((x ** cr.tensor(3.0, dtype="float64")).grad_fn).__name__ == "Pow"


# ------------------------------------------------------------------ unary ops


def test_builtin_abs_is_the_abs_op():
    """abs(t) goes through Tensor.__abs__ (the registry checks cr.abs and t.abs())."""
    check_op(abs, np.abs, away_from_zero(3, 4, seed=5))


@pytest.mark.parametrize(
    "cr_fn, np_fn",
    [
        (cr.exp, np.exp),
        (cr.tanh, np.tanh),
        (cr.sigmoid, lambda x: 1 / (1 + np.exp(-x))),
        (cr.relu, lambda x: np.maximum(x, 0.0)),
        (cr.sin, np.sin),
        (cr.log, np.log),
    ],
)
def test_unary_on_a_0d_tensor(cr_fn, np_fn):
    out = check_op(cr_fn, np_fn, np.float64(0.3))
    assert out.shape == () and type(out.numpy()) is np.ndarray


def test_sigmoid_is_stable_for_large_inputs():
    x = cr.tensor([-1000.0, -50.0, 0.0, 50.0, 1000.0], dtype="float64", requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warnings either
        y = cr.sigmoid(x)
        y.sum().backward()
    np.testing.assert_allclose(y.numpy(), [0.0, 1 / (1 + math.exp(50)), 0.5, 1 / (1 + math.exp(-50)), 1.0], rtol=1e-12)
    assert np.isfinite(x.grad.numpy()).all()
    assert x.grad.numpy()[2] == 0.25


def test_softplus_is_stable_for_large_inputs():
    x = cr.tensor([-1000.0, 0.0, 1000.0], dtype="float64", requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = cr.softplus(x)
        y.sum().backward()
    np.testing.assert_allclose(y.numpy(), [0.0, math.log(2.0), 1000.0], atol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 0.5, 1.0], atol=1e-12)


def test_elu_gradient_is_finite_for_large_positive_inputs():
    x = cr.tensor([1000.0, -1.0], dtype="float64", requires_grad=True)
    cr.elu(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, math.exp(-1.0)])


def test_relu_and_abs_gradient_at_zero_is_zero():
    x = leaf([0.0, 0.0])
    (cr.relu(x)[0] + cr.abs(x)[1]).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0])


def test_clip_passes_gradient_at_the_bounds():
    x = leaf([-1.0, -0.5, 0.0, 0.5, 1.0])
    cr.clip(x, -0.5, 0.5).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0, 1.0, 1.0, 0.0])


def test_clip_needs_a_bound():
    with pytest.raises(ValueError, match="clip"):
        cr.clip(cr.tensor([1.0]))


@pytest.mark.parametrize("fn, at_zero", [(cr.step, 1.0), (cr.heaviside, 0.5)])
def test_step_values_and_zero_gradient(fn, at_zero):
    x = leaf([-2.0, 0.0, 3.0])
    y = fn(x)
    np.testing.assert_array_equal(y.numpy(), [0.0, at_zero, 1.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.0])


def test_sign_is_a_constant():
    x = leaf([-2.0, 0.0, 3.0])
    s = cr.sign(x)
    np.testing.assert_array_equal(s.numpy(), [-1.0, 0.0, 1.0])
    assert not s.requires_grad


# ------------------------------------------------------------------ where, maximum, minimum


def test_where_accepts_a_bool_tensor_and_python_numbers():
    x = leaf([-1.0, 2.0, -3.0])
    y = cr.where(x > 0, x, 0.5)
    np.testing.assert_array_equal(y.numpy(), [0.5, 2.0, 0.5])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0, 0.0])
    assert cr.where(np.array([True, False]), 1.0, 0.0).dtype == np.float32


@pytest.mark.parametrize("fn", [cr.maximum, cr.minimum])
def test_maximum_minimum_ties_send_the_gradient_to_the_first_operand(fn):
    a, b = leaf([1.0, 2.0]), leaf([1.0, 2.0])
    fn(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [1.0, 1.0])
    np.testing.assert_array_equal(b.grad.numpy(), [0.0, 0.0])


def test_maximum_with_python_number():
    check_op(lambda x: cr.maximum(x, 0.25), lambda x: np.maximum(x, 0.25), away_from_zero(5))


# ------------------------------------------------------------------ comparisons and logic

COMPARISONS = [
    (lambda a, b: a == b, np.equal),
    (lambda a, b: a != b, np.not_equal),
    (lambda a, b: a < b, np.less),
    (lambda a, b: a <= b, np.less_equal),
    (lambda a, b: a > b, np.greater),
    (lambda a, b: a >= b, np.greater_equal),
]


@pytest.mark.parametrize("cr_fn, np_fn", COMPARISONS)
def test_comparisons_return_bool_tensors_without_grad(cr_fn, np_fn):
    a = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    b = np.array([2.0, 2.0, 2.0])
    x = cr.tensor(a, requires_grad=True)
    for out, expected in [
        (cr_fn(x, cr.tensor(b)), np_fn(a, b)),
        (cr_fn(x, b), np_fn(a, b)),
        (cr_fn(x, 2.0), np_fn(a, 2.0)),
        (cr_fn(2.0, x), np_fn(2.0, a)),
    ]:
        assert out.dtype == np.bool_
        assert not out.requires_grad
        np.testing.assert_array_equal(out.numpy(), expected)


def test_logical_operators():
    a, b = cr.tensor([True, True, False]), cr.tensor([True, False, False])
    np.testing.assert_array_equal((a & b).numpy(), [True, False, False])
    np.testing.assert_array_equal((a | b).numpy(), [True, True, False])
    np.testing.assert_array_equal((~a).numpy(), [False, False, True])


# ------------------------------------------------------------------ dtype rules


def test_python_scalars_keep_float32():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    for y in (x * 2.0, 2.0 * x, x + 1, 1 - x, x / 3, 3 / x, x**2, 2.0**x, x * np.float64(2.0)):
        assert y.dtype == np.float32, y


def test_float64_array_operand_promotes_and_gradient_keeps_leaf_dtype():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * np.array([3.0, 4.0])
    assert y.dtype == np.float64  # NumPy's promotion
    y.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0])


def test_mixed_float32_float64_gradients_have_each_leafs_dtype():
    a = cr.tensor([1.0, 2.0], requires_grad=True)
    b = cr.tensor(np.array([3.0, 4.0]), requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64


def test_int_tensor_arithmetic_stays_int():
    x = cr.tensor([1, 2, 3])
    assert (x + 1).dtype == x.dtype
    assert (x * x).dtype == x.dtype


@pytest.mark.parametrize("src, dst", [(np.float32, np.float64), (np.float64, np.float32)])
def test_cast_is_differentiable(src, dst):
    x = cr.tensor(np.array([1.0, 2.0], dtype=src), requires_grad=True)
    y = x.astype(dst)
    assert y.dtype == dst
    (y * y).sum().backward()
    assert x.grad.dtype == src
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])
    assert x.double().dtype == np.float64 and x.float().dtype == np.float32


def test_cast_to_int_leaves_the_graph():
    x = cr.tensor([1.5, 2.5], requires_grad=True)
    y = cr.cast(x, np.int64)
    assert y.dtype == np.int64 and not y.requires_grad


# ------------------------------------------------------------------ second derivatives


def second_derivative(fn):
    """x -> d/dx sum(fn(x)), itself differentiable (create_graph=True)."""

    def first(x):
        (g,) = cr.grad(fn(x).sum(), x, create_graph=True)
        return g

    return first


# the registry checks each op's second derivative with every operand a leaf; here a Python-number
# operand (1.0 / x) and one tensor as both operands (x ** x: the two paths' gradients add up)
SECOND = [
    ("reciprocal", lambda x: 1.0 / x, lambda x: 2 / x**3, positive),
    ("x_pow_x", lambda x: x**x, lambda x: x**x * (np.log(x) + 1) ** 2 + x ** (x - 1), positive),
]


@pytest.mark.parametrize("name, fn, d2, data", SECOND, ids=[s[0] for s in SECOND])
def test_second_derivative(name, fn, d2, data):
    x = leaf(data(5, seed=11))
    first = second_derivative(fn)
    assert cr.gradcheck(first, [x])
    (g,) = cr.grad(first(x).sum(), x)
    np.testing.assert_allclose(g.numpy(), d2(x.numpy()), rtol=1e-9, atol=1e-12)


def test_second_derivative_of_binary_ops():
    a, b = leaf(positive(3, seed=1)), leaf(positive(3, seed=2))

    def grads(a, b):
        ga, gb = cr.grad((a * a * b / (a + b)).sum(), [a, b], create_graph=True)
        return ga * 1.5 + gb

    assert cr.gradcheck(grads, [a, b])


def test_third_derivative_of_tanh():
    x = leaf(0.3)
    (d1,) = cr.grad(cr.tanh(x), x, create_graph=True)
    (d2,) = cr.grad(d1, x, create_graph=True)
    (d3,) = cr.grad(d2, x)
    t = math.tanh(0.3)
    assert d3.item() == pytest.approx(-2 * (1 - t * t) ** 2 + 4 * t * t * (1 - t * t), rel=1e-12)


def test_a_zero_exponent_has_gradient_zero_also_at_a_zero_base():
    """x ** 0 is 1 everywhere, so its gradient is 0 at x = 0 too (0 * 0 ** -1 gave NaN): the
    polynomial features x ** k, k = 0, 1, 2, ... at x = 0, with a number or a tensor exponent."""
    x = cr.tensor([0.0, 1.0, 2.0], dtype="float64", requires_grad=True)
    sum(x**k for k in range(3)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 3.0, 5.0])
    x.grad = None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (no division by zero on the way)
        (x.reshape(3, 1) ** cr.tensor([0.0, 1.0, 2.0], dtype="float64")).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 3.0, 5.0])


def test_sigmoid_and_softplus_of_integers_are_floats():
    """They were cast back to the input's dtype: the sigmoid of [1, 2] was [0, 0], and so were
    silu, glu and logsigmoid, built on it. Integers give the default float, as PyTorch."""
    x = cr.tensor([1, 2])
    for fn, ref in ((cr.sigmoid, lambda v: 1 / (1 + np.exp(-v))), (cr.softplus, lambda v: np.log1p(np.exp(v)))):
        got = fn(x)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got.numpy(), ref(np.array([1.0, 2.0])), rtol=1e-6)
    np.testing.assert_allclose(cr.nn.functional.silu(x).numpy(), [0.7310586, 1.7615942], rtol=1e-6)
