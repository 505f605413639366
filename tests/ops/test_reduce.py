"""Reductions, what the op registry does not cover: random shapes and axes, ties (max, min), errors
naming the op, stability of the softmax family for large values, closed forms (the softmax Jacobian,
the mean's gradient over several axes), the std over no axes, sum_to_shape. Values and first- and
second-order gradients of each reduction on fixed samples (every kind of axis, keepdims, ddof, 0-d,
the default axis of softmax) are checked by the registry (tests/ops/registry.py,
tests/ops/test_registry.py)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, strategies as st
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


REDUCTIONS = [
    ("sum", cr.sum, np.sum),
    ("mean", cr.mean, np.mean),
    ("var", cr.var, np.var),
    ("std", cr.std, np.std),
    ("max", cr.max, np.max),
    ("min", cr.min, np.min),
    ("logsumexp", cr.logsumexp, np_logsumexp),
]


@pytest.mark.parametrize("keepdims", [False, True])
def test_std_over_no_axes_is_zero(keepdims):
    """The std over no axes is sqrt(0) everywhere, which has no derivative: values only (the
    registry, which checks gradients, has axis=() samples for the other reductions but not std)."""
    x = rand(2, 3, 4, seed=3)
    got = cr.std(cr.tensor(x), axis=(), keepdims=keepdims).numpy()
    np.testing.assert_allclose(got, np.std(x, axis=(), keepdims=keepdims), atol=1e-12)


def test_var_without_degrees_of_freedom_is_an_error():
    with pytest.raises(ValueError, match="var: .*ddof=1"):
        cr.var(cr.tensor([1.0]), ddof=1)


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


# ------------------------------------------------------------------ max/min ties


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


# ------------------------------------------------------------------ softmax family


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


@given(
    data=st.data(),
    shape=hnp.array_shapes(min_dims=2, max_dims=4, min_side=1, max_side=9),
    dtype=st.sampled_from([np.float32, np.float64]),
    keepdims=st.booleans(),
)
@FAST
def test_sum_axes_is_numpys_sum_in_every_memory_order(data, shape, dtype, keepdims):
    """``sum_axes`` (the NumPy sum of the Sum op and of every rule, faster over several axes) gives
    NumPy's shape and dtype, and its values to rounding, for arrays in any axis order in memory."""
    from chainrule.interpreters import sum_axes

    order = data.draw(st.permutations(range(len(shape))))
    axes = data.draw(hnp.valid_tuple_axes(len(shape), min_size=1))
    rng = np.random.default_rng(len(shape))
    x = np.ascontiguousarray(rng.standard_normal(shape).astype(dtype).transpose(order)).transpose(np.argsort(order))
    got, want = sum_axes(x, axes, keepdims), x.sum(axis=axes, keepdims=keepdims)
    assert got.shape == want.shape and got.dtype == want.dtype
    exact = x.astype(np.float64).sum(axis=axes, keepdims=keepdims)
    np.testing.assert_allclose(got, exact, rtol=0, atol=np.abs(x).sum() * np.finfo(dtype).eps)


def test_sum_axes_adds_the_outermost_axis_first_where_numpy_is_slow():
    """Over batch and positions of a (N, C, L) array, channels-last or not, the rows of the
    outermost axis are added first: what a convolution's bias gradient sums."""
    from chainrule.interpreters import sum_axes

    x = np.arange(2 * 3 * 40, dtype=np.float32).reshape(2, 40, 3).transpose(0, 2, 1)  # channels-last (2, 3, 40)
    np.testing.assert_array_equal(sum_axes(x, (0, 2)), (x[0] + x[1]).sum(axis=1))
    assert sum_axes(x, (0, 2), keepdims=True).shape == (1, 3, 1)
