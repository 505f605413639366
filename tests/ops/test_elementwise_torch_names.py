"""floor, ceil, round, trunc, frac, reciprocal, rsqrt, expm1, log2, log10, exp2, sinh, cosh, atan2,
hypot, logit, nan_to_num, fmod, lerp, addcmul, addcdiv, logical_xor: dtypes, accuracy, gradients at
the edges (0, infinities, NaN) against hand formulas, and errors."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import chainrule as cr

NAN, INF = math.nan, math.inf


def grad_of(fn, values, *others):
    x = cr.tensor(values, dtype="float64", requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out = fn(x, *others)
        out.sum().backward()
    return out.detach().numpy(), x.grad.numpy()


@pytest.mark.parametrize("name", ["floor", "ceil", "round", "trunc"])
def test_rounding_has_gradient_zero_everywhere_and_keeps_integers(name):
    values, grads = grad_of(getattr(cr, name), [NAN, INF, -INF, 0.0, 2.5, -2.5])
    np.testing.assert_array_equal(grads, np.zeros(6))
    assert np.isnan(values[0]) and values[1] == INF and values[2] == -INF
    ints = getattr(cr, name)(cr.tensor([3, -4], dtype="int32"))
    assert ints.dtype == np.int32 and ints.tolist() == [3, -4]


def test_round_halves_to_even_and_decimals():
    assert cr.round(cr.tensor([0.5, 1.5, 2.5, -2.5])).tolist() == [0.0, 2.0, 2.0, -2.0]
    assert cr.round(cr.tensor([1234.5], dtype="float64"), decimals=-2).tolist() == [1200.0]
    assert cr.tensor([0.125], dtype="float64").round(decimals=2).tolist() == [0.12]
    with pytest.raises(TypeError, match="decimals=1 needs a floating tensor"):
        cr.round(cr.tensor([1, 2]), decimals=1)


def test_frac_has_gradient_one_and_refuses_integers():
    values, grads = grad_of(cr.frac, [-1.25, 2.5, INF, NAN])
    np.testing.assert_array_equal(values[:2], [-0.25, 0.5])
    assert np.isnan(values[2:]).all()
    np.testing.assert_array_equal(grads, np.ones(4))
    with pytest.raises(TypeError, match="frac: needs a floating tensor"):
        cr.frac(cr.tensor([1, 2]))


def test_logs_are_exact_at_powers_of_the_base_and_expm1_near_zero():
    assert cr.log10(cr.tensor([1000.0, 1e-5], dtype="float64")).tolist() == [3.0, -5.0]
    assert cr.log2(cr.tensor([8.0, 2.0**-30], dtype="float64")).tolist() == [3.0, -30.0]
    assert cr.expm1(cr.tensor([1e-12], dtype="float64")).item() == np.expm1(1e-12)
    assert cr.sinh(cr.tensor([1e-12], dtype="float64")).item() == pytest.approx(1e-12, rel=1e-15)
    _, grads = grad_of(cr.log2, [1.0, 4.0, 0.0, INF])
    np.testing.assert_allclose(grads, [1 / math.log(2), 1 / (4 * math.log(2)), INF, 0.0])
    _, grads = grad_of(cr.cosh, [1e-9, 1.0])
    np.testing.assert_allclose(grads, [1e-9, math.sinh(1.0)], rtol=1e-14)


def test_integers_become_float32():
    ints = cr.tensor([1, 4])
    for name in ("reciprocal", "rsqrt", "expm1", "log2", "log10", "exp2", "sinh", "cosh", "logit"):
        assert getattr(cr, name)(ints).dtype == np.float32, name
    assert cr.atan2(ints, ints).dtype == np.float32 and cr.hypot(ints, ints).dtype == np.float32
    assert cr.exp2(ints).tolist() == [2.0, 16.0]


def test_reciprocal_and_rsqrt_at_zero_and_infinity():
    values, grads = grad_of(cr.reciprocal, [0.0, INF, 2.0])
    np.testing.assert_array_equal(values, [INF, 0.0, 0.5])
    np.testing.assert_array_equal(grads, [-INF, 0.0, -0.25])
    values, grads = grad_of(cr.rsqrt, [0.0, INF, 4.0, -1.0])
    np.testing.assert_array_equal(values[:3], [INF, 0.0, 0.5])
    np.testing.assert_array_equal(grads[:3], [-INF, 0.0, -1 / 16])
    assert np.isnan(values[3]) and np.isnan(grads[3])


def test_atan2_and_hypot_gradients_at_the_origin():
    y = cr.tensor([0.0, 1.0], dtype="float64", requires_grad=True)
    x = cr.tensor([0.0, 0.0], dtype="float64", requires_grad=True)
    cr.atan2(y, x).sum().backward()
    assert y.grad.tolist() == [0.0, 0.0] and x.grad.tolist() == [0.0, -1.0]
    y.grad = x.grad = None
    cr.hypot(y, x).sum().backward()
    assert np.isnan(y.grad.numpy()[0]) and y.grad.numpy()[1] == 1.0
    assert cr.hypot(cr.tensor([1e200], dtype="float64"), cr.tensor([1e200], dtype="float64")).item() == pytest.approx(
        math.sqrt(2) * 1e200
    )


def test_logit_eps_clamps_and_nan_stays():
    values, grads = grad_of(lambda t: cr.logit(t, eps=0.25), [0.0, 0.5, 1.0, NAN])
    np.testing.assert_allclose(values[:3], [-math.log(3), 0.0, math.log(3)])
    np.testing.assert_array_equal(grads[:3], [0.0, 4.0, 0.0])
    assert np.isnan(values[3]) and np.isnan(grads[3])
    values, grads = grad_of(cr.logit, [0.0, 1.0])
    np.testing.assert_array_equal(values, [-INF, INF])
    np.testing.assert_array_equal(grads, [INF, INF])


def test_nan_to_num_defaults_to_the_dtype_extremes_and_blocks_their_gradient():
    out = cr.nan_to_num(cr.tensor([NAN, INF, -INF, 1.0]))
    big = np.finfo(np.float32).max
    assert out.dtype == np.float32 and out.tolist() == [0.0, big, -big, 1.0]
    _, grads = grad_of(cr.nan_to_num, [NAN, INF, -INF, 1.0])
    np.testing.assert_array_equal(grads, [0.0, 0.0, 0.0, 1.0])
    assert cr.nan_to_num(cr.tensor([1, 2])).tolist() == [1, 2]


def test_fmod_takes_the_dividend_sign_and_its_gradient():
    a = cr.tensor([-7.0, 7.0, 5.5], dtype="float64", requires_grad=True)
    b = cr.tensor([3.0, -3.0, 2.0], dtype="float64", requires_grad=True)
    out = a.fmod(b)
    assert out.tolist() == [-1.0, 1.0, 1.5]
    out.sum().backward()
    assert a.grad.tolist() == [1.0, 1.0, 1.0] and b.grad.tolist() == [2.0, 2.0, -2.0]
    assert cr.fmod(cr.tensor([-7, 7]), 3).tolist() == [-1, 1]
    with pytest.raises(ZeroDivisionError):
        cr.fmod(cr.tensor([1]), cr.tensor([0]))


def test_lerp_is_exact_at_the_ends_and_differentiable_in_the_weight():
    start = cr.tensor([0.1, -3.0], dtype="float64", requires_grad=True)
    end = cr.tensor([0.7, 5.0], dtype="float64", requires_grad=True)
    w = cr.tensor([1.0, 0.25], dtype="float64", requires_grad=True)
    out = cr.lerp(start, end, w)
    assert out.tolist() == [0.7, -1.0]
    out.sum().backward()
    assert start.grad.tolist() == [0.0, 0.75] and end.grad.tolist() == [1.0, 0.25]
    np.testing.assert_allclose(w.grad.numpy(), [0.6, 8.0])
    with pytest.raises(TypeError, match="weight must be a number or a tensor"):
        cr.lerp(start, end, "half")


def test_addcmul_addcdiv_and_logical_xor():
    a = cr.tensor([1.0, 2.0])
    assert a.addcmul(cr.tensor([2.0, 3.0]), cr.tensor([4.0, 5.0]), value=0.5).tolist() == [5.0, 9.5]
    assert cr.addcdiv(a, cr.tensor([2.0, 3.0]), cr.tensor([4.0, 6.0]), value=2).tolist() == [2.0, 3.0]
    with pytest.raises(TypeError, match="integer tensor1 and tensor2"):
        cr.addcdiv(a, cr.tensor([1]), cr.tensor([2]))
    assert cr.tensor([1.0, 0.0, 2.0]).logical_xor(cr.tensor([1.0, 1.0, 0.0])).tolist() == [False, True, True]
