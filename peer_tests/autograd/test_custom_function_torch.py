"""Custom autograd functions written once, in PyTorch's form, and run by torch and by chainrule
from the same float64 inputs: the values, the gradients, what ``backward`` is handed and what
``ctx`` reports must agree (the default suite checks the same functions against NumPy).

Each function is defined by ``functions(lib)`` for ``lib`` = torch or chainrule: the bodies use
only what both libraries spell the same way (operators, ``.exp()``, ``.sin()``, ``.clone()``,
``ctx.save_for_backward``, ...).
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch.autograd.function import once_differentiable as torch_once_differentiable

import chainrule as cr
from chainrule.autograd import once_differentiable as cr_once_differentiable
from tests.helpers import rand

TOL = {"rtol": 1e-6, "atol": 1e-6}  # float64 throughout: the two agree far closer than this


def functions(lib) -> SimpleNamespace:
    """The custom functions of the tests, built on ``lib.autograd.Function``."""
    once_differentiable = torch_once_differentiable if lib is torch else cr_once_differentiable
    record: dict[str, list] = {"needs": [], "grads": []}

    class LegendreP3(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return 0.5 * (5 * x**3 - 3 * x)

        @staticmethod
        def backward(ctx, grad_output):
            (x,) = ctx.saved_tensors
            return grad_output * 1.5 * (5 * x**2 - 1)

    class Exp(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            result = x.exp()
            ctx.save_for_backward(result)
            return result

        @staticmethod
        def backward(ctx, grad_output):
            (result,) = ctx.saved_tensors
            return grad_output * result

    class ScaledProduct(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, w, scale):
            record["needs"].append(tuple(ctx.needs_input_grad))
            ctx.save_for_backward(x, w)
            ctx.scale = scale
            return x * w * scale

        @staticmethod
        def backward(ctx, grad_output):
            x, w = ctx.saved_tensors
            grad_x = grad_output * w * ctx.scale if ctx.needs_input_grad[0] else None
            grad_w = grad_output * x * ctx.scale if ctx.needs_input_grad[1] else None
            return grad_x, grad_w, None

    class ClampedReLU(lib.autograd.Function):
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

    class SinCos(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.sin(), x.cos()

        @staticmethod
        def backward(ctx, grad_sin, grad_cos):
            record["grads"].append((grad_sin.detach().numpy().copy(), grad_cos.detach().numpy().copy()))
            (x,) = ctx.saved_tensors
            return grad_sin * x.cos() - grad_cos * x.sin()

    class SquareOnce(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @once_differentiable
        def backward(ctx, grad_output):
            (x,) = ctx.saved_tensors
            return lib.tensor(2.0 * x.detach().numpy() * grad_output.detach().numpy())

    class AddBias(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, bias):
            return x + bias

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output, grad_output  # the bias's gradient in the output's shape: summed back

    class OneTooFew(lib.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a * b

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output

    return SimpleNamespace(**{k: v for k, v in locals().items() if isinstance(v, type)}, record=record)


TORCH, CR = functions(torch), functions(cr)


def pair(array: np.ndarray, requires_grad: bool = True) -> tuple[torch.Tensor, cr.Tensor]:
    """The same float64 data as a torch tensor and a chainrule tensor."""
    return (
        torch.tensor(array, dtype=torch.float64, requires_grad=requires_grad),
        cr.tensor(np.array(array, dtype=np.float64), requires_grad=requires_grad),
    )


def close(t: torch.Tensor, c: cr.Tensor) -> None:
    np.testing.assert_allclose(c.numpy(), t.detach().numpy(), **TOL)


ONE_INPUT = ["LegendreP3", "Exp", "ClampedReLU", "SquareOnce"]


@pytest.mark.parametrize("name", ONE_INPUT)
def test_values_and_gradients_match_torch(name):
    x = rand(3, 4, seed=1)
    g = rand(3, 4, seed=2)
    xt, xc = pair(x)
    yt, yc = getattr(TORCH, name).apply(xt), getattr(CR, name).apply(xc)
    close(yt, yc)
    yt.backward(torch.tensor(g))
    yc.backward(cr.tensor(g))
    close(xt.grad, xc.grad)


@pytest.mark.parametrize("name", ["LegendreP3", "Exp"])
def test_second_derivatives_match_torch(name):
    xt, xc = pair(rand(5, seed=3))
    (gt,) = torch.autograd.grad(getattr(TORCH, name).apply(xt).sum(), xt, create_graph=True)
    (gc,) = cr.grad(getattr(CR, name).apply(xc).sum(), xc, create_graph=True)
    close(gt, gc)
    (ht,) = torch.autograd.grad((gt * gt).sum(), xt)
    (hc,) = cr.grad((gc * gc).sum(), xc)
    close(ht, hc)


def test_two_inputs_a_number_and_needs_input_grad_match_torch():
    x, w = rand(2, 3, seed=4), rand(2, 3, seed=5)
    xt, xc = pair(x)
    wt, wc = pair(w, requires_grad=False)
    TORCH.record["needs"].clear()
    CR.record["needs"].clear()
    yt, yc = TORCH.ScaledProduct.apply(xt, wt, -1.5), CR.ScaledProduct.apply(xc, wc, -1.5)
    close(yt, yc)
    yt.sum().backward()
    yc.sum().backward()
    close(xt.grad, xc.grad)
    assert wt.grad is None and wc.grad is None
    with torch.no_grad():
        TORCH.ScaledProduct.apply(xt, wt, 2.0)
    with cr.no_grad():
        CR.ScaledProduct.apply(xc, wc, 2.0)
    assert CR.record["needs"] == TORCH.record["needs"] == [(True, False, False), (True, False, False)]


def test_two_outputs_match_torch_including_the_zeros_for_an_unused_one():
    xt, xc = pair(rand(4, seed=6))
    TORCH.record["grads"].clear()
    CR.record["grads"].clear()
    st, ct = TORCH.SinCos.apply(xt)
    sc, cc = CR.SinCos.apply(xc)
    close(st, sc)
    close(ct, cc)
    (2.0 * st).sum().backward(retain_graph=True)
    (2.0 * sc).sum().backward(retain_graph=True)
    (st * ct).sum().backward()
    (sc * cc).sum().backward()
    close(xt.grad, xc.grad)
    assert len(CR.record["grads"]) == len(TORCH.record["grads"]) == 2
    for (t_sin, t_cos), (c_sin, c_cos) in zip(TORCH.record["grads"], CR.record["grads"]):
        np.testing.assert_allclose(c_sin, t_sin, **TOL)
        np.testing.assert_allclose(c_cos, t_cos, **TOL)


def test_a_broadcast_gradient_is_summed_back_as_in_torch():
    xt, xc = pair(rand(4, 3, seed=7))
    bt, bc = pair(rand(3, seed=8))
    (TORCH.AddBias.apply(xt, bt) ** 2).sum().backward()
    (CR.AddBias.apply(xc, bc) ** 2).sum().backward()
    close(bt.grad, bc.grad)
    close(xt.grad, xc.grad)


def test_gradcheck_agrees_with_torch():
    for name in ONE_INPUT:
        xt, xc = pair(rand(3, 2, seed=9))
        assert torch.autograd.gradcheck(getattr(TORCH, name).apply, (xt,))
        assert cr.autograd.gradcheck(getattr(CR, name).apply, xc)


def test_once_differentiable_refuses_a_second_derivative_in_both():
    xt, xc = pair(rand(3, seed=10))
    (gt,) = torch.autograd.grad(TORCH.SquareOnce.apply(xt).sum(), xt, create_graph=True)
    (gc,) = cr.grad(CR.SquareOnce.apply(xc).sum(), xc, create_graph=True)
    close(gt, gc)
    with pytest.raises(RuntimeError):
        torch.autograd.grad(gt.sum(), xt)
    with pytest.raises(RuntimeError, match="once_differentiable"):
        cr.grad(gc.sum(), xc)


def test_the_wrong_number_of_gradients_gives_torchs_message():
    message = r"function OneTooFewBackward returned an incorrect number of gradients \(expected 2, got 1\)"
    (at, ac), (bt, bc) = pair(np.array([1.0])), pair(np.array([2.0]))
    with pytest.raises(RuntimeError, match=message):
        TORCH.OneTooFew.apply(at, bt).backward()
    with pytest.raises(RuntimeError, match=message):
        CR.OneTooFew.apply(ac, bc).backward()


def test_an_in_place_change_of_a_saved_tensor_makes_both_raise():
    xt, xc = pair(np.array([1.0, 2.0]))
    yt, yc = TORCH.LegendreP3.apply(xt), CR.LegendreP3.apply(xc)
    with torch.no_grad():
        xt[0] = 5.0
    with cr.no_grad():
        xc[0] = 5.0
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        yt.sum().backward()
    with pytest.raises(RuntimeError, match="modified in place"):
        yc.sum().backward()


def test_fitting_sine_with_the_legendre_function_follows_torch_step_by_step():
    x = np.linspace(-math.pi, math.pi, 200)
    losses = {}
    params = {}
    for lib, fns in ((torch, TORCH), (cr, CR)):
        xs = lib.tensor(x)
        y = xs.sin()
        weights = [lib.tensor(v, dtype=lib.float64, requires_grad=True) for v in (0.0, -1.0, 0.0, 0.3)]
        a, b, c, d = weights
        optimizer = lib.optim.SGD(weights, lr=5e-5)
        history = []
        for _ in range(300):
            loss = ((a + b * fns.LegendreP3.apply(c + d * xs) - y) ** 2).sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            history.append(loss.item())
        losses[lib.__name__] = history
        params[lib.__name__] = [float(w.detach().numpy()) for w in weights]
    np.testing.assert_allclose(losses["chainrule"], losses["torch"], **TOL)
    np.testing.assert_allclose(params["chainrule"], params["torch"], **TOL)
    assert losses["chainrule"][-1] < losses["chainrule"][0] / 4  # 46 -> 10: it learns
