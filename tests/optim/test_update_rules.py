"""Each optimiser's trajectory equals a NumPy reference written from the published update equations."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

from . import reference
from .util import CONFIGS, config_id, run_chainrule

STEPS = 25  # (RAdam rectifies from step 7 with beta2 = 0.999)


@pytest.mark.parametrize("config", CONFIGS, ids=config_id)
def test_trajectory_matches_numpy_reference(config):
    name, kwargs, ref = config
    params, grads = reference.problem(seed=1)
    expected = ref(params, grads, STEPS, **kwargs)
    got = run_chainrule(name, kwargs, params, grads, STEPS)
    for step, (exp_step, got_step) in enumerate(zip(expected, got)):
        for e, g in zip(exp_step, got_step):
            np.testing.assert_allclose(g, e, rtol=1e-11, atol=1e-13, err_msg=f"{config_id(config)} step {step + 1}")
    # the parameters really moved (a test of a no-op would pass the comparison trivially)
    assert not np.allclose(got[-1][0], params[0])


@pytest.mark.parametrize("config", CONFIGS, ids=config_id)
def test_float32_parameters_stay_float32_and_follow_the_reference(config):
    name, kwargs, ref = config
    params, grads = reference.problem(seed=2)
    expected = ref(params, grads, STEPS, **kwargs)
    got = run_chainrule(name, kwargs, params, grads, STEPS, dtype=np.float32)
    for e, g in zip(expected[-1], got[-1]):
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, e, rtol=2e-4, atol=2e-5)


def test_defaults_are_pytorchs():
    p = [cr.nn.Parameter([1.0])]
    assert cr.optim.Adam(p).defaults == dict(
        lr=1e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0,
        amsgrad=False,
        maximize=False,
        decoupled_weight_decay=False,
    )
    assert cr.optim.AdamW(p).defaults["weight_decay"] == 1e-2
    assert cr.optim.AdamW(p).defaults["decoupled_weight_decay"] is True
    assert cr.optim.RMSprop(p).defaults == dict(
        lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False, maximize=False
    )
    assert cr.optim.Adagrad(p).defaults == dict(
        lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10, maximize=False
    )
    assert cr.optim.SGD(p, lr=0.1).defaults == dict(
        lr=0.1, momentum=0, dampening=0, weight_decay=0, nesterov=False, maximize=False
    )
    assert cr.optim.NAdam(p).defaults == dict(
        lr=2e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0,
        momentum_decay=4e-3,
        decoupled_weight_decay=False,
        maximize=False,
    )
    assert cr.optim.RAdam(p).defaults == dict(
        lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False, maximize=False
    )
    assert cr.optim.Adamax(p).defaults == dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, maximize=False)
    assert cr.optim.Adadelta(p).defaults == dict(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, maximize=False)
    assert cr.optim.Rprop(p).defaults == dict(lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), maximize=False)
    assert cr.optim.ASGD(p).defaults == dict(lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, maximize=False)


def test_gd_is_sgd():
    assert cr.optim.GD is cr.optim.SGD


def test_sgd_momentum_buffer_starts_as_the_first_gradient():
    p = cr.nn.Parameter(np.array([1.0, 2.0]))
    opt = cr.optim.SGD([p], lr=0.1, momentum=0.9, dampening=0.5)
    p.grad = cr.tensor(np.array([3.0, -1.0]))
    opt.step()
    np.testing.assert_array_equal(opt.state[p]["momentum_buffer"], [3.0, -1.0])  # not dampened on step 1
    np.testing.assert_allclose(p.numpy(), [0.7, 2.1])


def test_adam_first_step_moves_by_lr_whatever_the_gradient_scale():
    for scale in (1e-3, 1.0, 1e3):
        p = cr.nn.Parameter(np.array([0.0, 0.0]))
        opt = cr.optim.Adam([p], lr=0.01)
        p.grad = cr.tensor(np.array([scale, -scale]))
        opt.step()
        np.testing.assert_allclose(p.numpy(), [-0.01, 0.01], rtol=1e-4)


def test_amsgrad_keeps_the_running_maximum():
    p = cr.nn.Parameter(np.array([0.0]))
    opt = cr.optim.Adam([p], lr=0.1, amsgrad=True)
    for g in (10.0, 0.0, 0.0):
        p.grad = cr.tensor(np.array([g]))
        opt.step()
    state = opt.state[p]
    assert state["max_exp_avg_sq"][0] > state["exp_avg_sq"][0]
    np.testing.assert_allclose(state["max_exp_avg_sq"], 0.001 * 100)


def test_linear_regression_by_full_batch_gd_converges():
    """GD (SGD on the whole data set each step) finds the least-squares solution."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3))
    y = X @ np.array([[1.5], [-2.0], [0.5]]) + 0.7 + 0.01 * rng.normal(size=(64, 1))
    model = cr.nn.Linear(3, 1).to(cr.float64)
    opt = cr.optim.GD(model.parameters(), lr=0.1)
    loss_fn = cr.nn.MSELoss()
    Xt, yt = cr.tensor(X), cr.tensor(y)
    losses = []
    for _ in range(300):
        opt.zero_grad()
        loss = loss_fn(model(Xt), yt)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    A = np.hstack([X, np.ones((64, 1))])
    solution, *_ = np.linalg.lstsq(A, y, rcond=None)
    np.testing.assert_allclose(model.weight.numpy().reshape(-1), solution[:3, 0], atol=1e-6)
    np.testing.assert_allclose(model.bias.numpy().reshape(-1), solution[3], atol=1e-6)
    assert all(b <= a + 1e-12 for a, b in zip(losses, losses[1:]))  # GD with a small step never goes up


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
def test_each_optimiser_trains_a_small_network(name):
    cr.manual_seed(0)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(32, 4))
    y = np.sin(X.sum(axis=1, keepdims=True))
    model = cr.nn.Sequential(cr.nn.Linear(4, 16), cr.nn.Tanh(), cr.nn.Linear(16, 1))
    kwargs = {"lr": 0.1, "momentum": 0.9} if name == "SGD" else {"lr": 0.01}
    opt = getattr(cr.optim, name)(model.parameters(), **kwargs)
    Xt, yt = cr.tensor(X, dtype=cr.float32), cr.tensor(y, dtype=cr.float32)
    loss_fn = cr.nn.MSELoss()
    first = None
    for _ in range(100):
        opt.zero_grad()
        loss = loss_fn(model(Xt), yt)
        loss.backward()
        opt.step()
        first = loss.item() if first is None else first
    assert loss.item() < 0.5 * first


@pytest.mark.parametrize("t0", [0, 3, 1e6])
def test_asgd_averages_the_iterates_from_step_t0(t0):
    """ASGD's ``ax`` is the parameter up to step t0 + 2, then the mean of the iterates from that step on."""
    params, grads = reference.problem(seed=5)
    averages: dict = {}
    kwargs = dict(lr=0.05, lambd=0.01, t0=t0)
    expected = reference.asgd(params, grads, 10, averages=averages, **kwargs)
    ps = [cr.nn.Parameter(p.copy()) for p in params]
    opt = cr.optim.ASGD(ps, **kwargs)
    for step in range(10):
        for p, g in zip(ps, grads([p.numpy() for p in ps])):
            p.grad = cr.tensor(g)
        opt.step()
        for i, p in enumerate(ps):
            np.testing.assert_allclose(p.numpy(), expected[step][i], rtol=1e-12)
            np.testing.assert_allclose(opt.state[p]["ax"], averages[i][step], rtol=1e-12)
    if t0 < 10:  # the average has left the parameter behind
        assert not np.allclose(opt.state[ps[0]]["ax"], ps[0].numpy())
        np.testing.assert_allclose(opt.state[ps[0]]["ax"], np.mean([e[0] for e in expected[int(t0) + 1 :]], axis=0))
    else:
        np.testing.assert_array_equal(opt.state[ps[0]]["ax"], ps[0].numpy())


def test_rprop_steps_grow_while_the_sign_holds_and_shrink_when_it_flips():
    p = cr.nn.Parameter(np.array([0.0, 0.0]))
    opt = cr.optim.Rprop([p], lr=0.1, etas=(0.5, 2.0), step_sizes=(0.01, 0.3))
    moves = []
    for g in ([1.0, 1.0], [1.0, -1.0], [1.0, -1.0], [1.0, -1.0]):
        before = p.numpy().copy()
        p.grad = cr.tensor(np.array(g))
        opt.step()
        moves.append((p.numpy() - before).tolist())
    # first weight: 0.1, 0.2, 0.3 (clamped), 0.3; second: 0.1, a flip (no move, the step halved), 0.05, 0.1
    np.testing.assert_allclose(moves, [[-0.1, -0.1], [-0.2, 0.0], [-0.3, 0.05], [-0.3, 0.1]])
