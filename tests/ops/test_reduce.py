"""Reductions: values against NumPy and gradients against finite differences, over every kind of axis."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr
from chainrule.interpreters import NUMPY, TENSOR
from tests.helpers import FAST, check_op, leaf, rand


def np_logsumexp(x, axis=None, keepdims=False):
    m = np.max(x, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def np_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_log_softmax(x, axis=-1):
    return np.log(np_softmax(x, axis))


REDUCTIONS = [
    ("sum", cr.sum, np.sum),
    ("mean", cr.mean, np.mean),
    ("var", cr.var, np.var),
    ("std", cr.std, np.std),
    ("max", cr.max, np.max),
    ("min", cr.min, np.min),
    ("logsumexp", cr.logsumexp, np_logsumexp),
]

AXES = [None, 0, 1, 2, -1, -2, (0, 2), (-1, 0), (0, 1, 2), ()]


@pytest.mark.parametrize("name, cr_fn, np_fn", REDUCTIONS, ids=[r[0] for r in REDUCTIONS])
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
def test_reduction_values_and_gradients(name, cr_fn, np_fn, axis, keepdims):
    x = rand(2, 3, 4, seed=3)  # distinct values: no ties for max/min
    if axis == () and name in ("var", "std"):
        # the variance over no axis is 0 everywhere, and std = sqrt(0) has no derivative there:
        # check the values only
        got = cr_fn(cr.tensor(x), axis=axis, keepdims=keepdims).data
        np.testing.assert_allclose(got, np_fn(x, axis=axis, keepdims=keepdims), atol=1e-12)
        return
    check_op(lambda t: cr_fn(t, axis=axis, keepdims=keepdims), lambda a: np_fn(a, axis=axis, keepdims=keepdims), x)


@pytest.mark.parametrize(
    "name, method, np_fn",
    [("sum", "sum", np.sum), ("mean", "mean", np.mean), ("var", "var", np.var), ("std", "std", np.std),
     ("max", "max", np.max), ("min", "min", np.min)],
)
def test_reduction_methods(name, method, np_fn):
    x = rand(3, 4, seed=4)
    check_op(lambda t: getattr(t, method)(axis=-1, keepdims=True), lambda a: np_fn(a, axis=-1, keepdims=True), x)
    check_op(lambda t: getattr(t, method)(), np_fn, x)


@pytest.mark.parametrize("ddof", [0, 1])
@pytest.mark.parametrize("fn, np_fn", [(cr.var, np.var), (cr.std, np.std)])
def test_var_std_ddof(fn, np_fn, ddof):
    x = rand(3, 5, seed=5)
    check_op(lambda t: fn(t, axis=1, ddof=ddof), lambda a: np_fn(a, axis=1, ddof=ddof), x)
    check_op(lambda t: fn(t, ddof=ddof), lambda a: np_fn(a, ddof=ddof), x)


def test_var_without_degrees_of_freedom_is_an_error():
    with pytest.raises(ValueError, match="var: .*ddof=1"):
        cr.var(cr.tensor([1.0]), ddof=1)


def test_reductions_of_a_scalar():
    x = leaf(1.5)
    for fn in (cr.sum, cr.mean, cr.max, cr.min, cr.logsumexp):
        y = fn(x)
        assert y.shape == () and y.item() == pytest.approx(1.5)
        assert cr.gradcheck(fn, [x])


@FAST
@given(
    data=st.data(),
    shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4),
    op=st.sampled_from(REDUCTIONS),
    keepdims=st.booleans(),
)
def test_reductions_random_shapes_and_axes(data, shape, op, keepdims):
    name, cr_fn, np_fn = op
    axis = data.draw(
        st.none() | hnp.valid_tuple_axes(len(shape), min_size=1) | st.integers(-len(shape), len(shape) - 1),
        label="axis",
    )
    x = rand(*shape, seed=6)
    if name in ("var", "std") and np.size(np.sum(x, axis=axis)) == x.size:
        return  # reducing axes of length 1 only: variance 0, std not differentiable
    check_op(lambda t: cr_fn(t, axis=axis, keepdims=keepdims), lambda a: np_fn(a, axis=axis, keepdims=keepdims), x)


# ------------------------------------------------------------------ max/min ties and argmax


@pytest.mark.parametrize("fn", [cr.max, cr.min])
def test_max_min_split_the_gradient_evenly_among_ties(fn):
    x = leaf([1.0, 3.0, 3.0, 1.0, 3.0] if fn is cr.max else [3.0, 1.0, 1.0, 3.0, 1.0])
    fn(x).backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 1 / 3, 1 / 3, 0.0, 1 / 3])


def test_max_ties_along_an_axis():
    x = leaf([[1.0, 1.0], [2.0, 0.0], [5.0, 5.0]])
    (cr.max(x, axis=1) * cr.tensor([1.0, 2.0, 4.0], dtype="float64")).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0.5, 0.5], [2.0, 0.0], [2.0, 2.0]])


def test_max_ties_over_several_axes():
    x = leaf(np.ones((2, 2, 3)))
    cr.max(x, axis=(0, 2), keepdims=True).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full((2, 2, 3), 1 / 6))


def test_max_of_empty_is_an_error():
    with pytest.raises(ValueError, match="max: cannot reduce an empty tensor"):
        cr.max(cr.zeros(0))


@pytest.mark.parametrize("fn, np_fn", [(cr.argmax, np.argmax), (cr.argmin, np.argmin)])
@pytest.mark.parametrize("axis", [None, 0, -1])
def test_argmax_argmin(fn, np_fn, axis):
    a = rand(3, 4, seed=8)
    x = cr.tensor(a, requires_grad=True)
    out = fn(x, axis=axis)
    assert not out.requires_grad
    assert out.dtype.kind == "i"
    np.testing.assert_array_equal(out.numpy(), np_fn(a, axis=axis))
    assert fn(x, axis=axis, keepdims=True).shape == np_fn(a, axis=axis, keepdims=True).shape


def test_argmax_method():
    x = cr.tensor([[1.0, 5.0, 2.0]])
    assert x.argmax().item() == 1 and x.argmin(axis=1).tolist() == [0]


# ------------------------------------------------------------------ softmax family

SOFTMAX = [
    ("softmax", cr.softmax, np_softmax),
    ("log_softmax", cr.log_softmax, np_log_softmax),
]


@pytest.mark.parametrize("name, cr_fn, np_fn", SOFTMAX, ids=[s[0] for s in SOFTMAX])
@pytest.mark.parametrize("axis", [0, 1, 2, -1, -2])
def test_softmax_values_and_gradients(name, cr_fn, np_fn, axis):
    check_op(lambda t: cr_fn(t, axis=axis), lambda a: np_fn(a, axis=axis), rand(2, 3, 4, seed=9))


@pytest.mark.parametrize("name, cr_fn, np_fn", SOFTMAX, ids=[s[0] for s in SOFTMAX])
def test_softmax_default_axis_is_last(name, cr_fn, np_fn):
    check_op(cr_fn, np_fn, rand(3, 4, seed=10))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_family_is_stable_for_large_values(dtype):
    x = cr.tensor(np.array([[1000.0, 1000.0, -1000.0], [-1000.0, 0.0, 1000.0]], dtype=dtype), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = cr.softmax(x)
        ls = cr.log_softmax(x)
        lse = cr.logsumexp(x, axis=1)
        (s.sum() + ls.sum() + lse.sum()).backward()
    assert s.dtype == ls.dtype == lse.dtype == dtype
    np.testing.assert_allclose(s.numpy(), [[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]], atol=1e-6)
    np.testing.assert_allclose(ls.numpy()[0, :2], [-np.log(2)] * 2, rtol=1e-6)
    assert ls.numpy()[1, 0] == pytest.approx(-2000.0)
    np.testing.assert_allclose(lse.numpy(), [1000.0 + np.log(2), 1000.0], rtol=1e-6)
    assert np.isfinite(x.grad.numpy()).all()


@pytest.mark.filterwarnings("ignore:divide by zero encountered in log")
def test_logsumexp_of_all_minus_infinity():
    x = cr.tensor([-np.inf, -np.inf], dtype="float64")
    assert cr.logsumexp(x).item() == -np.inf


@pytest.mark.parametrize("fn", [cr.softmax, cr.log_softmax, cr.logsumexp])
def test_softmax_family_second_derivatives(fn):
    x = leaf(rand(2, 4, seed=12))
    w = cr.tensor(rand(2, 4, seed=13) if fn is not cr.logsumexp else rand(seed=13), dtype="float64")

    def first(t):
        out = fn(t, axis=-1) if fn is not cr.logsumexp else fn(t)
        (g,) = cr.grad((out * w).sum(), t, create_graph=True)
        return g

    assert cr.gradcheck(first, [x])


def test_softmax_jacobian_matches_the_analytic_form():
    a = rand(5, seed=14)
    x = leaf(a)
    s = np_softmax(a)
    jac = np.stack([cr.grad(cr.softmax(x)[i], x)[0].numpy() for i in range(5)])
    np.testing.assert_allclose(jac, np.diag(s) - np.outer(s, s), atol=1e-12)


# ------------------------------------------------------------------ mean and composed reductions


def test_mean_over_multiple_axes_equals_sum_over_count():
    x = leaf(rand(2, 3, 4, seed=15))
    cr.mean(x, axis=(0, -1)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full((2, 3, 4), 1 / 8))


@pytest.mark.parametrize("ns", [NUMPY, TENSOR], ids=lambda ns: ns.name)
def test_sum_to_shape_reduces_a_broadcast_gradient(ns):
    g = np.ones((2, 3, 4))
    g = ns.const(g)
    assert ns.value(ns.sum_to_shape(g, (3, 1))).tolist() == [[8.0]] * 3
    assert ns.value(ns.sum_to_shape(g, (4,))).tolist() == [6.0] * 4
    assert ns.value(ns.sum_to_shape(g, ())).item() == 24.0


# ------------------------------------------------------------------ axis errors


@pytest.mark.parametrize("fn", [cr.sum, cr.mean, cr.max, cr.min, cr.logsumexp, cr.var, cr.softmax, cr.log_softmax])
def test_axis_out_of_range_is_an_error_naming_the_op(fn):
    x = cr.tensor(rand(2, 3))
    with pytest.raises(ValueError, match=rf"{fn.__name__}: axis 2 is out of range for a tensor with 2 dimensions"):
        fn(x, axis=2)
    with pytest.raises(ValueError, match=rf"{fn.__name__}: axis -3 is out of range"):
        fn(x, axis=-3)


@pytest.mark.parametrize("fn", [cr.sum, cr.mean, cr.max, cr.logsumexp, cr.softmax])
def test_axis_of_a_0d_tensor_is_an_error_naming_the_op(fn):
    with pytest.raises(ValueError, match=rf"{fn.__name__}: axis 0 is out of range for a tensor with 0 dimensions"):
        fn(cr.tensor(1.0), axis=0)


def test_repeated_axis_is_an_error():
    with pytest.raises(ValueError, match=r"sum: repeated axis"):
        cr.sum(cr.tensor(rand(2, 3)), axis=(1, -1))
