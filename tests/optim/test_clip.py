"""Gradient clipping by global norm and by value: results, in-place writes as PyTorch's, validation."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr


def with_grads(*grads: np.ndarray) -> list[cr.nn.Parameter]:
    ps = []
    for g in grads:
        p = cr.nn.Parameter(np.zeros_like(g))
        p.grad = cr.tensor(g.copy())
        ps.append(p)
    return ps


GRADS = (np.array([[3.0, -4.0], [0.0, 12.0]]), np.array([-84.0]))  # 2-norm sqrt(9+16+144+7056) = 85


@pytest.mark.parametrize(
    "norm_type, expected",
    [
        (2.0, 85.0),
        (1.0, 103.0),
        (math.inf, 84.0),
        (3.0, (27 + 64 + 1728 + 84.0**3) ** (1 / 3)),
    ],
)
def test_clip_grad_norm_returns_the_total_norm_and_scales_all_grads_together(norm_type, expected):
    ps = with_grads(*GRADS)
    total = cr.optim.clip_grad_norm_(ps, max_norm=1.0, norm_type=norm_type).item()
    assert isinstance(total, float)
    assert total == pytest.approx(expected, rel=1e-12)
    coef = 1.0 / (expected + 1e-6)
    for p, g in zip(ps, GRADS):
        np.testing.assert_allclose(p.grad.numpy(), g * coef, rtol=1e-12)
    clipped_norm = np.linalg.norm(np.concatenate([p.grad.numpy().ravel() for p in ps]), ord=norm_type)
    assert clipped_norm == pytest.approx(1.0, rel=1e-5)


def test_clip_grad_norm_writes_the_same_tensors_and_arrays_in_place():
    ps = with_grads(*GRADS)
    old = [p.grad for p in ps]
    old_arrays = [p.grad._data for p in ps]
    cr.optim.clip_grad_norm_(ps, max_norm=1.0)
    for p, t, a, g in zip(ps, old, old_arrays, GRADS):
        assert p.grad is t and p.grad._data is a  # (a view of a larger buffer, say, sees the clip too)
        np.testing.assert_allclose(a, g / 85.0, rtol=1e-6)


def test_clip_grad_norm_below_the_limit_changes_nothing():
    ps = with_grads(*GRADS)
    old = [p.grad for p in ps]
    assert cr.optim.clip_grad_norm_(ps, max_norm=100.0).item() == pytest.approx(85.0)
    assert all(p.grad is t for p, t in zip(ps, old))


def test_clip_grad_norm_keeps_float32_and_ignores_params_without_grad():
    ps = with_grads(np.array([3.0, 4.0], dtype=np.float32))
    ps.append(cr.nn.Parameter(np.zeros(2, dtype=np.float32)))
    total = cr.optim.clip_grad_norm_(iter(ps), max_norm=2.5).item()
    assert total == pytest.approx(5.0)
    assert ps[0].grad.dtype == np.float32
    np.testing.assert_allclose(ps[0].grad.numpy(), [1.5, 2.0], rtol=1e-6)
    assert ps[1].grad is None


def test_clip_grad_norm_of_a_single_tensor_and_of_nothing():
    (p,) = with_grads(np.array([6.0, 8.0]))
    assert cr.optim.clip_grad_norm_(p, 5.0).item() == pytest.approx(10.0)
    np.testing.assert_allclose(p.grad.numpy(), [3.0, 4.0], rtol=1e-6)
    assert cr.optim.clip_grad_norm_([cr.nn.Parameter([1.0])], 1.0).item() == 0.0


def test_clip_grad_norm_nonfinite():
    ps = with_grads(np.array([np.nan, 1.0]))
    with pytest.raises(RuntimeError, match="total norm of order 2.0 of the gradients is nan"):
        cr.optim.clip_grad_norm_(ps, 1.0, error_if_nonfinite=True)
    assert np.isnan(cr.optim.clip_grad_norm_(ps, 1.0).item())


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(max_norm=-1.0), "clip_grad_norm_: invalid max_norm: -1.0"),
        (dict(max_norm=1.0, norm_type=0), "clip_grad_norm_: invalid norm_type: 0.0"),
    ],
)
def test_clip_grad_norm_validates(kwargs, message):
    with pytest.raises(ValueError, match=message):
        cr.optim.clip_grad_norm_(with_grads(np.ones(2)), **kwargs)


def test_clip_grad_value():
    ps = with_grads(np.array([-3.0, 0.5, 2.0]), np.array([[0.1, -0.2]], dtype=np.float32))
    old = ps[0].grad._data
    assert cr.optim.clip_grad_value_(ps, 1.0) is None
    np.testing.assert_array_equal(ps[0].grad.numpy(), [-1.0, 0.5, 1.0])
    assert ps[0].grad._data is old  # written in place
    assert ps[1].grad.dtype == np.float32
    np.testing.assert_array_equal(ps[1].grad.numpy(), np.array([[0.1, -0.2]], dtype=np.float32))
    with pytest.raises(ValueError, match="clip_grad_value_: invalid clip_value: -1.0"):
        cr.optim.clip_grad_value_(ps, -1)
    with pytest.raises(TypeError, match="expected tensors"):
        cr.optim.clip_grad_value_([np.ones(2)], 1.0)


def test_clipping_changes_the_gradient_tensor_in_place_as_pytorch():
    """A reference to p.grad taken before clipping sees the clipped values (PyTorch clips in place);
    an array the backward shared between two parameters is not written twice."""
    p = cr.nn.Parameter(cr.zeros(2, dtype=cr.float64))
    p.grad = cr.tensor([3.0, 4.0], dtype=cr.float64)
    held = p.grad
    cr.optim.clip_grad_norm_([p], 1.0)
    assert p.grad is held
    np.testing.assert_allclose(held.numpy(), [0.6, 0.8], rtol=1e-6)
    cr.optim.clip_grad_value_([p], 0.7)
    assert p.grad is held
    np.testing.assert_allclose(held.numpy(), [0.6, 0.7], rtol=1e-6)
    a = cr.tensor([1.0, 1.0], requires_grad=True)
    b = cr.tensor([1.0, 1.0], requires_grad=True)
    (3.0 * (a + b)).sum().backward()  # one gradient array reaches both leaves: each .grad has its own
    cr.optim.clip_grad_norm_([a, b], 6.0)
    np.testing.assert_allclose(a.grad.numpy(), [3.0, 3.0], rtol=1e-6)
    np.testing.assert_allclose(b.grad.numpy(), [3.0, 3.0], rtol=1e-6)
    a.grad = b.grad = cr.tensor([3.0, 4.0])  # one tensor for both: scaled once
    cr.optim.clip_grad_norm_([a, b], 5.0 * math.sqrt(2) / 2)
    np.testing.assert_allclose(a.grad.numpy(), [1.5, 2.0], rtol=1e-6)


def test_clipping_a_grad_a_graph_used_makes_that_graph_refuse_backward():
    p = cr.nn.Parameter(cr.zeros(2, dtype=cr.float64))
    p.grad = cr.tensor([3.0, 4.0], dtype=cr.float64)
    w = cr.tensor([1.0, 1.0], dtype=cr.float64, requires_grad=True)
    uses = (w * p.grad).sum()  # saved p.grad for w's gradient
    cr.optim.clip_grad_norm_([p], 1.0)
    with pytest.raises(RuntimeError, match="modified in place by clip_grad_norm_"):
        uses.backward()  # (it would have given the unclipped values in silence)
    q = cr.nn.Parameter(cr.zeros(2))
    q.grad = cr.tensor(np.broadcast_to(np.float32(5.0), (2,)))  # read-only: a new array
    cr.optim.clip_grad_value_([q], 1.0)
    assert q.grad.tolist() == [1.0, 1.0]


def test_the_infinity_norm_sees_a_nan_in_any_gradient():
    a = cr.nn.Parameter(cr.zeros(2))
    b = cr.nn.Parameter(cr.zeros(1))
    a.grad = cr.tensor([3.0, 4.0])
    b.grad = cr.tensor([float("nan")])
    with pytest.raises(RuntimeError, match="is nan"):
        cr.optim.clip_grad_norm_([a, b], 1.0, norm_type=float("inf"), error_if_nonfinite=True)
    total = cr.optim.clip_grad_norm_([a, b], 1.0, norm_type=float("inf"))
    assert np.isnan(total.item()) and np.isnan(a.grad.numpy()).all()


def test_clipping_takes_pytorchs_foreach():
    p = cr.nn.Parameter(cr.zeros(2))
    p.grad = cr.tensor([3.0, 4.0])
    assert cr.optim.clip_grad_norm_([p], 1.0, foreach=True).item() == pytest.approx(5.0)
    cr.optim.clip_grad_value_([p], 0.5, foreach=False)
    with pytest.raises(TypeError, match="foreach must be None, True or False"):
        cr.optim.clip_grad_value_([p], 0.5, foreach="yes")
