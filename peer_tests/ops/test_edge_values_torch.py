"""Edge values on which chainrule once gave other numbers than PyTorch, silently (found by an audit
feeding NaN, inf and zeros to every op): the same values and gradients as PyTorch now."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import chainrule as cr
import chainrule.nn.functional as F

NAN, INF = float("nan"), float("inf")


def both(fn_cr, fn_torch, *arrays, grad=True):
    """Values and gradients (of the output's sum) of the same computation in both libraries."""
    ours = [cr.tensor(a, requires_grad=grad) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=grad) for a in arrays]
    out_s, out_t = fn_cr(*ours), fn_torch(*theirs)
    np.testing.assert_array_equal(out_s.numpy(), out_t.detach().numpy())
    if grad:
        out_s.sum().backward()
        out_t.sum().backward()
        for s, t in zip(ours, theirs):
            np.testing.assert_allclose(s.grad.numpy(), t.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_nan_goes_through_maximum_minimum_clamp_and_elu(dtype):
    a = np.array([NAN, 1.0, -2.0, 3.0], dtype=dtype)
    b = np.array([0.0, NAN, -1.0, 3.5], dtype=dtype)
    both(cr.maximum, torch.maximum, a, b, grad=False)
    both(cr.minimum, torch.minimum, a, b, grad=False)
    both(lambda x, lo: cr.clamp(x, min=lo), lambda x, lo: torch.clamp(x, min=lo), a, b, grad=False)
    both(F.elu, torch.nn.functional.elu, a, grad=False)


def test_a_zero_exponent_at_a_zero_base():
    x = np.array([0.0, 1.0, 2.0])
    both(lambda t: sum(t**k for k in range(3)), lambda t: sum(t**k for k in range(3)), x)
    k = np.array([0.0, 1.0, 2.0])
    ks, kt = cr.tensor(k), torch.tensor(k)
    both(lambda t: t.reshape(3, 1) ** ks, lambda t: t.reshape(3, 1) ** kt, x)


def test_ignored_samples_with_infinite_logits_count_nothing():
    x = np.array([[-INF, 2.0, 0.5], [-INF, 0.1, 1.0], [0.3, -INF, 1.0]])
    t = np.array([1, -100, 2])
    for reduction in ("mean", "sum", "none"):
        both(
            lambda z, r=reduction: F.cross_entropy(z, cr.tensor(t), ignore_index=-100, reduction=r),
            lambda z, r=reduction: TF.cross_entropy(z, torch.tensor(t), ignore_index=-100, reduction=r),
            x,
        )
    p = np.array([[-INF, np.log(0.7), np.log(0.3)], [-INF, np.log(0.5), np.log(0.5)]])
    both(
        lambda z: F.nll_loss(z, cr.tensor([1, -100]), ignore_index=-100),
        lambda z: torch.nn.functional.nll_loss(z, torch.tensor([1, -100]), ignore_index=-100),
        p,
    )


def test_huber_and_smooth_l1_at_an_infinite_error():
    a = np.array([INF, 2.0, -INF, 0.1])
    z = np.zeros(4)
    both(
        lambda x: F.huber_loss(x, cr.tensor(z), reduction="none", delta=0.5),
        lambda x: torch.nn.functional.huber_loss(x, torch.tensor(z), reduction="none", delta=0.5),
        a,
    )
    both(
        lambda x: F.smooth_l1_loss(x, cr.tensor(z), reduction="none", beta=0.5),
        lambda x: torch.nn.functional.smooth_l1_loss(x, torch.tensor(z), reduction="none", beta=0.5),
        a,
    )


def test_gradient_clipping_in_place_and_the_infinity_norm_with_nan():
    for lib, clip in ((cr, cr.optim.clip_grad_norm_), (torch, torch.nn.utils.clip_grad_norm_)):
        p = lib.nn.Parameter(lib.zeros(2, dtype=lib.float64))
        p.grad = lib.tensor([3.0, 4.0], dtype=lib.float64)
        held = p.grad
        clip([p], 1.0)
        np.testing.assert_allclose(np.asarray(held.detach() if lib is torch else held.numpy()), [0.6, 0.8], rtol=1e-6)
        a, b = lib.nn.Parameter(lib.zeros(2)), lib.nn.Parameter(lib.zeros(1))
        a.grad, b.grad = lib.tensor([3.0, 4.0]), lib.tensor([NAN])
        with pytest.raises(RuntimeError):
            clip([a, b], 1.0, norm_type=INF, error_if_nonfinite=True)


def test_the_nan_maximum_gets_the_gradient():
    x = np.array([[NAN, 1.0, 2.0], [1.0, 3.0, 2.5]])  # (no ties: their split is a convention)
    both(lambda t: t.max(), lambda t: t.max(), x)
    both(lambda t: cr.max(t, 1).values, lambda t: torch.max(t, 1).values, x)
    both(lambda t: cr.min(t, 0).values, lambda t: torch.min(t, 0).values, x)
