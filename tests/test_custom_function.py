"""Custom autograd functions in PyTorch's form: ``class F(cr.autograd.Function)`` with static
``forward(ctx, ...)`` / ``backward(ctx, *grad_outputs)``, called as ``F.apply(...)``.

The functions below are the kinds the PyTorch tutorials teach (a Legendre polynomial fitted by
gradient descent, an exponential that saves its output, a ReLU that clones its gradient), written
here; values are checked against NumPy and gradients against finite differences (gradcheck).
"""

from __future__ import annotations

import gc
import math
import weakref

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import Function, FunctionCtx, once_differentiable
from tests.helpers import leaf, positive, rand

# ------------------------------------------------------------------ the functions under test


class LegendreP3(cr.autograd.Function):
    """P3(x) = (5x^3 - 3x) / 2, with P3'(x) = 1.5 (5x^2 - 1)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return 0.5 * (5 * x**3 - 3 * x)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * 1.5 * (5 * x**2 - 1)


class Exp(cr.autograd.Function):
    """exp, saving its output: the derivative of exp is its own output."""

    @staticmethod
    def forward(ctx, x):
        result = x.exp()
        ctx.save_for_backward(result)
        return result

    @staticmethod
    def backward(ctx, grad_output):
        (result,) = ctx.saved_tensors
        return grad_output * result


class ScaledProduct(cr.autograd.Function):
    """scale * x * w: two tensors and a number (which gets no gradient)."""

    @staticmethod
    def forward(ctx, x, w, scale):
        ctx.save_for_backward(x, w)
        ctx.scale = scale
        ctx.seen_needs = ctx.needs_input_grad
        return x * w * scale

    @staticmethod
    def backward(ctx, grad_output):
        x, w = ctx.saved_tensors
        grad_x = grad_output * w * ctx.scale if ctx.needs_input_grad[0] else None
        grad_w = grad_output * x * ctx.scale if ctx.needs_input_grad[1] else None
        return grad_x, grad_w, None


class ClampedReLU(cr.autograd.Function):
    """The tutorial's ReLU: clone the gradient, zero it where the input was negative."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clip(min=0.0)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        grad_input = grad_output.clone()
        grad_input[x < 0] = 0.0
        return grad_input


class SquareOnce(cr.autograd.Function):
    """x^2 with a backward written in NumPy, marked once-differentiable."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return cr.tensor(2.0 * np.asarray(x) * np.asarray(grad_output))


class SinCos(cr.autograd.Function):
    """Two outputs, sin(x) and cos(x); the backward gets one gradient for each."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.sin(), x.cos()

    @staticmethod
    def backward(ctx, grad_sin, grad_cos):
        (x,) = ctx.saved_tensors
        return grad_sin * x.cos() - grad_cos * x.sin()


# ------------------------------------------------------------------ the tutorial: fitting sin with P3


def test_a_legendre_polynomial_function_fits_sine_in_a_training_loop():
    # y = a + b * P3(c + d x) fitted to sin(x) on [-pi, pi] by gradient descent, as in the tutorial
    x = cr.tensor(np.linspace(-math.pi, math.pi, 200))
    y = cr.sin(x)
    a, b, c, d = (cr.tensor(v, dtype="float64", requires_grad=True) for v in (0.0, -1.0, 0.0, 0.3))
    optimizer = cr.optim.SGD([a, b, c, d], lr=5e-5)
    losses = []
    for _ in range(2000):
        y_pred = a + b * LegendreP3.apply(c + d * x)
        loss = ((y_pred - y) ** 2).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[0] > 40.0
    assert losses[-1] < 1.0  # learned: the cubic follows the sine closely (0.93 here)
    assert all(later <= earlier + 1e-9 for earlier, later in zip(losses[::100], losses[100::100]))
    assert (a.grad, b.grad, c.grad, d.grad) != (None, None, None, None)


def test_legendre_values_and_gradient_match_the_formula():
    x = leaf(rand(7))
    y = LegendreP3.apply(x)
    np.testing.assert_allclose(y.numpy(), 0.5 * (5 * x.numpy() ** 3 - 3 * x.numpy()), rtol=1e-12)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 1.5 * (5 * x.numpy() ** 2 - 1), rtol=1e-12)
    assert y.grad_fn.name == "LegendreP3"


# ------------------------------------------------------------------ ctx, saved tensors, arguments


def test_exp_saving_its_output_gives_exp_as_gradient():
    x = leaf(rand(3, 4))
    y = Exp.apply(x)
    np.testing.assert_allclose(y.numpy(), np.exp(x.numpy()), rtol=1e-12)
    (y * 2.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2.0 * np.exp(x.numpy()), rtol=1e-12)


def test_a_saved_output_comes_back_as_the_tensor_apply_returned():
    x = leaf([0.5])
    seen = []

    class Keep(cr.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            out = t * 3.0
            ctx.save_for_backward(out)
            return out

        @staticmethod
        def backward(ctx, grad):
            seen.append(ctx.saved_tensors[0])
            return grad * 3.0

    y = Keep.apply(x)
    y.backward()
    assert seen[0] is y  # so gradients of gradients flow through it


def test_two_tensor_inputs_and_a_number():
    x, w = leaf(rand(2, 3)), leaf(rand(2, 3, seed=1))
    y = ScaledProduct.apply(x, w, 2.5)
    np.testing.assert_allclose(y.numpy(), 2.5 * x.numpy() * w.numpy(), rtol=1e-12)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2.5 * w.numpy(), rtol=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), 2.5 * x.numpy(), rtol=1e-12)


def test_needs_input_grad_has_one_bool_per_argument():
    x, w = leaf([1.0, 2.0]), cr.tensor([3.0, 4.0], dtype="float64")
    y = ScaledProduct.apply(x, w, 2.0)
    assert y.grad_fn is not None
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 8.0])
    assert w.grad is None
    with cr.no_grad():
        z = ScaledProduct.apply(x, w, 2.0)
    assert not z.requires_grad and z.grad_fn is None
    np.testing.assert_allclose(z.numpy(), [6.0, 16.0])

    class Record(cr.autograd.Function):
        needs: list = []

        @staticmethod
        def forward(ctx, a, b, n):
            Record.needs.append(ctx.needs_input_grad)
            return a * n

        @staticmethod
        def backward(ctx, grad):
            return grad, None, None

    Record.apply(x, w, 2)
    with cr.no_grad():
        Record.apply(x, w, 2)
    assert Record.needs == [(True, False, False), (True, False, False)]  # PyTorch's, under no_grad too


def test_forward_gets_tensors_and_runs_with_grad_disabled():
    seen = {}

    class Look(cr.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            seen["type"], seen["recording"] = type(t), cr.is_grad_enabled()
            inner = t * 2.0
            seen["inner_requires_grad"] = inner.requires_grad
            return inner

        @staticmethod
        def backward(ctx, grad):
            seen["grad_type"] = type(grad)
            return grad * 2.0

    x = leaf([1.0])
    Look.apply(x).backward()
    assert seen == {"type": cr.Tensor, "recording": False, "inner_requires_grad": False, "grad_type": cr.Tensor}
    assert cr.is_grad_enabled()
    assert x.grad.item() == 2.0


def test_attributes_on_ctx_reach_backward():
    class Power(cr.autograd.Function):
        @staticmethod
        def forward(ctx, t, exponent):
            ctx.exponent = exponent
            ctx.save_for_backward(t)
            return t**exponent

        @staticmethod
        def backward(ctx, grad):
            (t,) = ctx.saved_tensors
            return grad * ctx.exponent * t ** (ctx.exponent - 1), None

    x = leaf([2.0, 3.0])
    Power.apply(x, 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [12.0, 27.0])


def test_the_tutorial_relu_clones_its_gradient_and_zeroes_it():
    x = leaf([-1.0, 0.5, 2.0, -3.0])
    y = ClampedReLU.apply(x)
    np.testing.assert_array_equal(y.numpy(), [0.0, 0.5, 2.0, 0.0])
    (y * cr.tensor([1.0, 2.0, 3.0, 4.0], dtype="float64")).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 2.0, 3.0, 0.0])


def test_the_setup_context_form_works_too():
    class Cube(cr.autograd.Function):
        @staticmethod
        def forward(t, scale=1.0):
            return scale * t**3

        @staticmethod
        def setup_context(ctx, inputs, output):
            t, scale = inputs
            ctx.save_for_backward(t)
            ctx.scale = scale

        @staticmethod
        def backward(ctx, grad):
            (t,) = ctx.saved_tensors
            return grad * 3.0 * ctx.scale * t * t, None

    x = leaf([2.0])
    Cube.apply(x).backward()
    assert x.grad.item() == 12.0
    x.grad = None
    Cube.apply(x, scale=2.0).backward()
    assert x.grad.item() == 24.0


def test_forward_may_return_an_ndarray():
    class NumpyExp(cr.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            out = np.exp(np.asarray(t))
            ctx.save_for_backward(cr.tensor(out))
            return out

        @staticmethod
        def backward(ctx, grad):
            return grad * ctx.saved_tensors[0]

    x = leaf([0.0, 1.0])
    y = NumpyExp.apply(x)
    assert isinstance(y, cr.Tensor) and y.requires_grad
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, math.e])


def test_a_broadcast_gradient_is_summed_back_to_the_inputs_shape():
    class AddBias(cr.autograd.Function):
        @staticmethod
        def forward(ctx, t, bias):
            return t + bias

        @staticmethod
        def backward(ctx, grad):
            return grad, grad  # the bias's gradient in the output's shape, as PyTorch allows

    x, bias = leaf(rand(4, 3)), leaf(rand(3, seed=1))
    AddBias.apply(x, bias).sum().backward()
    np.testing.assert_allclose(bias.grad.numpy(), [4.0, 4.0, 4.0])
    np.testing.assert_allclose(x.grad.numpy(), np.ones((4, 3)))


# ------------------------------------------------------------------ several outputs


def test_a_function_with_two_outputs_gets_both_gradients_in_one_call():
    calls = []

    class Both(SinCos):
        @staticmethod
        def backward(ctx, grad_sin, grad_cos):
            calls.append((grad_sin.numpy().copy(), grad_cos.numpy().copy()))
            return SinCos.backward(ctx, grad_sin, grad_cos)

    x = leaf(rand(5))
    s, c = Both.apply(x)
    np.testing.assert_allclose(s.numpy(), np.sin(x.numpy()), rtol=1e-12)
    np.testing.assert_allclose(c.numpy(), np.cos(x.numpy()), rtol=1e-12)
    (2.0 * s + 3.0 * c).sum().backward()
    assert len(calls) == 1
    np.testing.assert_allclose(calls[0][0], np.full(5, 2.0))
    np.testing.assert_allclose(calls[0][1], np.full(5, 3.0))
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.cos(x.numpy()) - 3 * np.sin(x.numpy()), rtol=1e-12)


def test_an_unused_output_gets_zeros_or_none_without_materialized_grads():
    got = []

    class Split(cr.autograd.Function):
        @staticmethod
        def forward(ctx, t, materialize):
            ctx.set_materialize_grads(materialize)
            return t * 2.0, t * 3.0

        @staticmethod
        def backward(ctx, g1, g2):
            got.append(g2)
            return g1 * 2.0 if g1 is not None else None, None

    x = leaf([1.0, 2.0])
    first, _ = Split.apply(x, True)
    first.sum().backward()
    np.testing.assert_array_equal(got[0].numpy(), [0.0, 0.0])
    first, _ = Split.apply(x, False)
    first.sum().backward()
    assert got[1] is None
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 4.0])


def test_integer_and_marked_outputs_get_no_gradient():
    class SortValues(cr.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            order = np.argsort(np.asarray(t))
            ctx.order = order
            mask = cr.tensor((np.asarray(t) > 0).astype(np.float64))
            ctx.mark_non_differentiable(mask)
            return cr.tensor(np.asarray(t)[order]), cr.tensor(order), mask

        @staticmethod
        def backward(ctx, grad_values, grad_order, grad_mask):
            grad = np.zeros(grad_values.shape)
            grad[ctx.order] = np.asarray(grad_values)
            return cr.tensor(grad)

    x = leaf([3.0, -1.0, 2.0])
    values, order, mask = SortValues.apply(x)
    assert values.requires_grad and not order.requires_grad and not mask.requires_grad
    np.testing.assert_array_equal(order.numpy(), [1, 2, 0])
    (values * cr.tensor([1.0, 10.0, 100.0], dtype="float64")).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [100.0, 1.0, 10.0])


def test_a_saved_output_of_a_multi_output_function_still_works_when_it_was_not_kept():
    class SinCosSaved(cr.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            s, c = t.sin(), t.cos()
            ctx.save_for_backward(s, c)
            return s, c

        @staticmethod
        def backward(ctx, grad_sin, grad_cos):
            s, c = ctx.saved_tensors
            return grad_sin * c - grad_cos * s

    x = leaf(rand(4))
    s, _ = SinCosSaved.apply(x)  # the cosine is dropped at once
    gc.collect()
    (g,) = cr.grad(s.sum(), x, create_graph=True)
    np.testing.assert_allclose(g.numpy(), np.cos(x.numpy()), rtol=1e-12)
    (h,) = cr.grad(g.sum(), x)  # d/dx cos(x) = -sin(x): through the saved cosine, made again
    np.testing.assert_allclose(h.numpy(), -np.sin(x.numpy()), rtol=1e-12)


# ------------------------------------------------------------------ backward(), grad(), gradcheck


def test_gradcheck_passes_for_the_custom_functions():
    x, w = leaf(rand(3, 2)), leaf(rand(3, 2, seed=1))
    assert cr.autograd.gradcheck(LegendreP3.apply, x)
    assert cr.autograd.gradcheck(Exp.apply, x)
    assert cr.autograd.gradcheck(lambda a, b: ScaledProduct.apply(a, b, -1.5), [x, w])
    assert cr.autograd.gradcheck(ClampedReLU.apply, leaf(rand(6, seed=3)))
    assert cr.autograd.gradcheck(lambda t: sum(o.sum() * k for k, o in enumerate(SinCos.apply(t), 1)), x)
    assert cr.autograd.gradcheck(SquareOnce.apply, x)


def test_gradcheck_catches_a_wrong_backward():
    class WrongExp(cr.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            return t.exp()

        @staticmethod
        def backward(ctx, grad):
            return grad * 2.0  # should be grad * exp(t)

    with pytest.raises(cr.GradcheckError, match="gradients differ for input 0"):
        cr.autograd.gradcheck(WrongExp.apply, leaf(rand(3)))


def test_grad_returns_the_gradient_and_leaves_dot_grad_alone():
    x = leaf(rand(4))
    (g,) = cr.grad(Exp.apply(x).sum(), x)
    np.testing.assert_allclose(g.numpy(), np.exp(x.numpy()), rtol=1e-12)
    assert x.grad is None and not g.requires_grad


def test_create_graph_gives_second_derivatives_through_a_differentiable_backward():
    x = leaf(rand(5))
    (g,) = cr.grad(LegendreP3.apply(x).sum(), x, create_graph=True)
    assert g.requires_grad
    np.testing.assert_allclose(g.numpy(), 1.5 * (5 * x.numpy() ** 2 - 1), rtol=1e-12)
    (h,) = cr.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), 15 * x.numpy(), rtol=1e-12)  # P3'' = 15 x
    (g,) = cr.grad(Exp.apply(x).sum(), x, create_graph=True)
    (h,) = cr.grad(g.sum(), x)  # through the saved output: exp'' = exp
    np.testing.assert_allclose(h.numpy(), np.exp(x.numpy()), rtol=1e-12)


def test_gradcheck_of_the_gradient_of_a_custom_function():
    def first_derivative(t):
        (g,) = cr.grad(ScaledProduct.apply(t, t.sin(), 2.0).sum(), t, create_graph=True)
        return g

    assert cr.autograd.gradcheck(first_derivative, leaf(rand(4)))


def test_backward_with_create_graph_accumulates_differentiable_grads():
    x = leaf([0.5, -1.0])
    LegendreP3.apply(x).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    (h,) = cr.grad(x.grad.sum(), x)
    np.testing.assert_allclose(h.numpy(), [7.5, -15.0])


def test_once_differentiable_gives_first_derivatives_and_refuses_second():
    x = leaf(rand(3))
    SquareOnce.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy())
    (g,) = cr.grad(SquareOnce.apply(x).sum(), x, create_graph=True)  # NumPy in the backward: allowed
    np.testing.assert_allclose(g.numpy(), 2 * x.numpy())
    with pytest.raises(RuntimeError, match=r"SquareOnce: its backward is marked @once_differentiable"):
        cr.grad(g.sum(), x)


def test_once_differentiable_also_works_written_above_staticmethod():
    class Twice(cr.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            return t * 2.0

        @once_differentiable
        @staticmethod
        def backward(ctx, grad):
            return grad * 2.0

    x = leaf([1.0])
    Twice.apply(x).backward()
    assert x.grad.item() == 2.0


def test_numpy_in_a_backward_recorded_for_create_graph_is_refused_by_name():
    class NumpyBackward(cr.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            ctx.save_for_backward(t)
            return t * t

        @staticmethod
        def backward(ctx, grad):
            (t,) = ctx.saved_tensors
            return cr.tensor(2.0 * np.asarray(t)) * grad

    x = leaf([1.0, 2.0])
    NumpyBackward.apply(x).sum().backward()  # a plain backward: NumPy is fine
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])
    with pytest.raises(RuntimeError, match=r"NumpyBackward.backward used NumPy.*@once_differentiable"):
        cr.grad(NumpyBackward.apply(x).sum(), x, create_graph=True)


# ------------------------------------------------------------------ errors


def test_the_wrong_number_of_gradients_is_a_clear_error():
    class OneTooFew(cr.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a * b

        @staticmethod
        def backward(ctx, grad):
            return grad

    x, w = leaf([1.0]), leaf([2.0])
    with pytest.raises(
        RuntimeError,
        match=r"function OneTooFewBackward returned an incorrect number of gradients \(expected 2, got 1\)",
    ):
        OneTooFew.apply(x, w).backward()


def test_extra_none_gradients_are_accepted_as_pytorch_does():
    class Extra(cr.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2.0

        @staticmethod
        def backward(ctx, grad):
            return grad * 2.0, None, None

    x = leaf([1.0])
    Extra.apply(x).backward()
    assert x.grad.item() == 2.0


def test_a_gradient_for_a_number_argument_is_refused():
    class GradForNumber(cr.autograd.Function):
        @staticmethod
        def forward(ctx, a, n):
            return a * n

        @staticmethod
        def backward(ctx, grad):
            return grad, grad

    with pytest.raises(
        RuntimeError, match=r"GradForNumberBackward returned a gradient different than None at position 2"
    ):
        GradForNumber.apply(leaf([1.0]), 3.0).backward()


def test_a_gradient_of_the_wrong_shape_or_type_is_refused():
    class WrongShape(cr.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 1.0

        @staticmethod
        def backward(ctx, grad):
            return cr.ones(3, dtype="float64")

    class NotATensor(WrongShape):
        @staticmethod
        def backward(ctx, grad):
            return 1.0

    x = leaf([1.0, 2.0])
    with pytest.raises(
        RuntimeError, match=r"invalid gradient at position 1: shape \(3,\), but the input has shape \(2,\)"
    ):
        WrongShape.apply(x).sum().backward()
    with pytest.raises(TypeError, match=r"NotATensorBackward returned a float as the gradient at position 1"):
        NotATensor.apply(x).sum().backward()


def test_save_for_backward_takes_tensors_only():
    class SaveNumber(cr.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a, 3)
            return a

        @staticmethod
        def backward(ctx, grad):
            return grad

    with pytest.raises(TypeError, match=r"save_for_backward can only save tensors .* argument 1 is of type int"):
        SaveNumber.apply(leaf([1.0]))


def test_mark_dirty_is_refused_with_what_to_write_instead():
    class InPlace(cr.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.mark_dirty(a)
            return a

        @staticmethod
        def backward(ctx, grad):
            return grad

    with pytest.raises(NotImplementedError, match=r"x\.clone\(\)"):
        InPlace.apply(leaf([1.0]))


def test_an_in_place_change_of_a_saved_input_makes_backward_raise():
    x = leaf([1.0, 2.0])
    y = LegendreP3.apply(x)
    with cr.no_grad():
        x[0] = 5.0
    with pytest.raises(RuntimeError, match=r"saved tensor 0 of LegendreP3 \(shape \(2,\)\) was modified in place"):
        y.sum().backward()


def test_an_in_place_change_of_a_saved_output_makes_backward_raise():
    x = leaf([1.0, 2.0])
    y = Exp.apply(x)
    with cr.no_grad():
        y[1] = 0.0
    with pytest.raises(RuntimeError, match=r"saved tensor 0 of Exp .* modified in place by setitem"):
        y.sum().backward()  # the sum is made after the write; Exp saved y before it


def test_a_change_of_an_unsaved_input_is_allowed_as_in_pytorch():
    class Double(cr.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2.0

        @staticmethod
        def backward(ctx, grad):
            return grad * 2.0

    x = leaf([1.0, 2.0])
    y = Double.apply(x)
    with cr.no_grad():
        x[0] = 5.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])


def test_backward_cannot_corrupt_a_gradient_another_node_shares():
    class Overwrite(cr.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 1.0

        @staticmethod
        def backward(ctx, grad):
            grad[...] = 100.0  # in place, on the gradient it was handed
            return grad

    x = leaf([1.0])
    with pytest.raises(RuntimeError, match="read-only .*a gradient handed to a backward"):
        (Overwrite.apply(x) + x).backward()  # Add hands the same array to both of its inputs


def test_the_graph_is_freed_after_backward_unless_retained():
    x = leaf([0.3])
    y = Exp.apply(x)
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp([0.3]))
    with pytest.raises(RuntimeError, match="freed by an earlier backward"):
        y.backward()


def test_the_graph_of_a_custom_function_is_freed_without_the_garbage_collector():
    x = leaf(rand(3))
    y = Exp.apply(x)  # saves its own output: held weakly, so no reference cycle
    ref = weakref.ref(y.grad_fn)
    gc.disable()
    try:
        del y
        assert ref() is None
    finally:
        gc.enable()


def test_a_mixed_form_is_refused_naming_both_forms():
    with pytest.raises(
        TypeError,
        match=r"_Mixed: forward is a staticmethod but backward is not.*forward\(ctx.*backward\(self, ns, grad",
    ):

        class _Mixed(Function):
            @staticmethod
            def forward(ctx, a):
                return a

            def backward(self, grad):
                return grad

    with pytest.raises(TypeError, match=r"backward is a staticmethod but forward is not"):

        class _Mixed2(Function):
            def forward(self, a):
                return a

            @staticmethod
            def backward(ctx, grad):
                return grad


def test_the_old_rule_form_error_names_pytorchs_form_too():
    with pytest.raises(TypeError, match=r"backward\(self, ns, grad, \*inputs\).*@staticmethod def backward\(ctx"):

        class _Old(Function):
            def forward(self, a):
                return a

            def backward(self, grad):
                return grad


def test_tracing_a_custom_function_into_a_plan_says_it_cannot():
    from chainrule.compiler import trace_backward

    with pytest.raises(TypeError, match=r"Exp: a custom Function in PyTorch's form cannot be traced"):
        trace_backward(Exp.apply(leaf([1.0])).sum())


# ------------------------------------------------------------------ the engine's ops are untouched


def test_the_engines_ops_keep_the_plain_apply_and_custom_functions_get_their_own():
    from chainrule.ops.elementwise import Exp as EngineExp

    assert EngineExp.apply.__func__ is Function.apply.__func__  # no per-call check of the form
    assert Exp.apply.__func__ is not Function.apply.__func__
    assert cr.Function is cr.autograd.Function


def test_a_custom_function_and_the_engines_op_agree():
    x = leaf(positive(3, 2))
    a = (cr.exp(x) * cr.log(x)).sum()
    b = (Exp.apply(x) * cr.log(x)).sum()
    (ga,) = cr.grad(a, x)
    (gb,) = cr.grad(b, x)
    np.testing.assert_allclose(b.item(), a.item(), rtol=1e-12)
    np.testing.assert_allclose(gb.numpy(), ga.numpy(), rtol=1e-12)


def test_function_ctx_is_the_ctx_forward_gets():
    kinds = []

    class Look(cr.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            kinds.append(type(ctx))
            return a * 1.0

        @staticmethod
        def backward(ctx, grad):
            return grad

    Look.apply(leaf([1.0]))
    assert kinds == [FunctionCtx]


def test_a_0d_gradient_made_by_a_scalar_op_reaches_the_users_backward():
    class Square(cr.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a * a

        @staticmethod
        def backward(ctx, grad):
            (a,) = ctx.saved_tensors
            return grad * 2.0 * a

    x = cr.tensor(3.0, requires_grad=True)
    (Square.apply(x) * 0.5).backward()  # (the 0-d gradient came as a NumPy scalar, and raised)
    assert x.grad.item() == 3.0


def test_a_tensor_the_users_backward_returns_is_copied_into_grad():
    kept = cr.tensor([5.0, 5.0])

    class Fixed(cr.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 1.0

        @staticmethod
        def backward(ctx, grad):
            return kept

    x = leaf([1.0, 2.0])
    Fixed.apply(x).sum().backward()
    x.grad.zero_()  # (as zero_grad does, in place)
    assert kept.tolist() == [5.0, 5.0]


def test_a_recorded_in_place_change_of_an_input_after_the_function_used_it_raises():
    class Same(cr.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 1.0

        @staticmethod
        def backward(ctx, grad):
            return grad

    x = leaf([1.0])
    y = x * 2.0
    z = Same.apply(y)
    y.mul_(3.0)  # z's gradient would have gone through this multiplication (x.grad 12, not 8)
    with pytest.raises(RuntimeError, match=r"an input of Same \(shape \(1,\)\) was changed by a recorded in-place"):
        (z.sum() + y.sum()).backward()
    assert x.grad is None
