"""Optimisers, schedules and clipping agree with torch.optim and torch.nn.utils.

The NumPy-reference tests of the default suite (tests/optim/test_update_rules.py,
test_lr_scheduler.py, test_clip.py) stand on their own; these check the same semantics against
PyTorch itself.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import chainrule as cr
from tests.optim import reference
from tests.optim.util import CONFIGS, config_id, run_chainrule

STEPS = 25  # (RAdam's rectified steps start at step 7 with beta2 = 0.999)


@pytest.fixture(autouse=True)
def _float64_scalars():
    """torch keeps NAdam's mu_product and ASGD's eta and mu in the default dtype (float32 unless
    set): float64 here, as chainrule keeps them, so that float64 runs agree to rounding."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


def run_torch(
    name: str, kwargs: dict, params: list[np.ndarray], grads, steps: int, states: list | None = None
) -> list[list[np.ndarray]]:
    ps = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in params]
    opt = getattr(torch.optim, name)(ps, **kwargs)
    trajectory = []
    for _ in range(steps):
        opt.zero_grad()
        for p, g in zip(ps, grads([p.detach().numpy().copy() for p in ps])):
            p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        trajectory.append([p.detach().numpy().copy() for p in ps])
    if states is not None:
        states.append(opt.state_dict())
    return trajectory


@pytest.mark.parametrize("config", CONFIGS, ids=config_id)
def test_trajectory_matches_torch(config):
    name, kwargs, _ = config
    params, grads = reference.problem(seed=3)
    expected = run_torch(name, kwargs, params, grads, STEPS)
    got = run_chainrule(name, kwargs, params, grads, STEPS)
    for step, (exp_step, got_step) in enumerate(zip(expected, got)):
        for e, g in zip(exp_step, got_step):
            np.testing.assert_allclose(g, e, rtol=1e-11, atol=1e-13, err_msg=f"{config_id(config)} step {step + 1}")


NEW = ["NAdam", "RAdam", "Adamax", "Adadelta", "Rprop", "ASGD"]


@pytest.mark.parametrize("name", NEW)
def test_state_matches_torchs_entry_for_entry(name):
    """After 25 steps the state dicts hold the same entries with the same values (as 0-d arrays
    where torch has 0-d tensors), and the same hyper-parameters (less torch's foreach,
    capturable, differentiable)."""
    kwargs = next(k for n, k, _ in CONFIGS if n == name and k)
    params, grads = reference.problem(seed=6)
    states: list = []
    run_torch(name, kwargs, params, grads, STEPS, states)
    ps = [cr.nn.Parameter(p.copy()) for p in params]
    opt = getattr(cr.optim, name)(ps, **kwargs)
    for _ in range(STEPS):
        for p, g in zip(ps, grads([p.numpy() for p in ps])):
            p.grad = cr.tensor(g)
        opt.step()
    ours, theirs = opt.state_dict(), states[0]
    assert set(ours["state"]) == set(theirs["state"]) == {0, 1}
    for i in (0, 1):
        assert set(ours["state"][i]) == set(theirs["state"][i])
        for key, value in theirs["state"][i].items():
            np.testing.assert_allclose(ours["state"][i][key], value.numpy(), rtol=1e-10, atol=1e-13, err_msg=key)
            assert np.shape(ours["state"][i][key]) == tuple(value.shape)
    torch_group = {
        k: v for k, v in theirs["param_groups"][0].items() if k not in ("foreach", "capturable", "differentiable")
    }
    assert ours["param_groups"][0] == torch_group


@pytest.mark.parametrize("name", NEW)
def test_param_groups_and_a_schedule_match_torch(name):
    """Two groups with their own lr (and one more option), a StepLR halving both every 5 steps."""
    extra = {"NAdam": "momentum_decay", "RAdam": "eps", "Adamax": "eps", "Adadelta": "rho", "ASGD": "lambd"}
    group = {"lr": 0.02}
    if name in extra:
        group[extra[name]] = {"momentum_decay": 0.01, "eps": 1e-4, "rho": 0.7, "lambd": 0.01}[extra[name]]
    else:
        group["etas"] = (0.3, 1.4)
    params, grads = reference.problem(seed=7)
    cr_ps = [cr.nn.Parameter(p.copy()) for p in params]
    t_ps = [torch.tensor(p, requires_grad=True) for p in params]
    cr_opt = getattr(cr.optim, name)([{"params": [cr_ps[0]]}, {"params": [cr_ps[1]], **group}], lr=0.05)
    t_opt = getattr(torch.optim, name)([{"params": [t_ps[0]]}, {"params": [t_ps[1]], **group}], lr=0.05)
    cr_sched = cr.optim.StepLR(cr_opt, step_size=5, gamma=0.5)
    t_sched = torch.optim.lr_scheduler.StepLR(t_opt, step_size=5, gamma=0.5)
    for _ in range(STEPS):
        for p, g in zip(cr_ps, grads([p.numpy() for p in cr_ps])):
            p.grad = cr.tensor(g)
        for p, g in zip(t_ps, grads([p.detach().numpy() for p in t_ps])):
            p.grad = torch.tensor(g)
        cr_opt.step()
        t_opt.step()
        cr_sched.step()
        t_sched.step()
    for c, t in zip(cr_ps, t_ps):
        np.testing.assert_allclose(c.numpy(), t.detach().numpy(), rtol=1e-10, atol=1e-13)
    assert cr_opt.param_groups[1]["lr"] == t_opt.param_groups[1]["lr"] == 0.02 / 32


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("NAdam", dict(lr=-1), "Invalid learning rate: -1"),
        ("NAdam", dict(momentum_decay=-1), "Invalid momentum_decay value: -1"),
        ("RAdam", dict(betas=(0.9, 1.0)), "Invalid beta parameter at index 1: 1.0"),
        ("Adamax", dict(eps=-1), "Invalid epsilon value: -1"),
        ("Adadelta", dict(rho=1.5), "Invalid rho value: 1.5"),
        ("Rprop", dict(etas=(1.5, 1.2)), "Invalid eta values: 1.5, 1.2"),
        ("ASGD", dict(lr=-1), "Invalid learning rate: -1"),
    ],
)
def test_what_torch_refuses_is_refused_with_its_words(name, kwargs, message):
    """Each setting torch refuses, chainrule refuses too, its message holding torch's words (as
    the other optimisers: lower case after the optimiser's name, and with the expected range)."""
    with pytest.raises(ValueError, match=message):
        getattr(torch.optim, name)([torch.zeros(1, requires_grad=True)], **kwargs)
    words = message.split(":")[0].lower()
    with pytest.raises(ValueError, match=f"{name}: {words}"):
        getattr(cr.optim, name)([cr.nn.Parameter([0.0])], **kwargs)


def test_param_groups_with_different_lrs_match_torch():
    params, grads = reference.problem(seed=4)
    cr_ps = [cr.nn.Parameter(p.copy()) for p in params]
    t_ps = [torch.tensor(p, requires_grad=True) for p in params]
    cr_opt = cr.optim.SGD(
        [{"params": [cr_ps[0]]}, {"params": [cr_ps[1]], "lr": 0.01, "momentum": 0.5}], lr=0.1, momentum=0.9
    )
    t_opt = torch.optim.SGD(
        [{"params": [t_ps[0]]}, {"params": [t_ps[1]], "lr": 0.01, "momentum": 0.5}], lr=0.1, momentum=0.9
    )
    for _ in range(STEPS):
        for p, g in zip(cr_ps, grads([p.numpy() for p in cr_ps])):
            p.grad = cr.tensor(g)
        for p, g in zip(t_ps, grads([p.detach().numpy() for p in t_ps])):
            p.grad = torch.tensor(g)
        cr_opt.step()
        t_opt.step()
    for c, t in zip(cr_ps, t_ps):
        np.testing.assert_allclose(c.numpy(), t.detach().numpy(), rtol=1e-12)


def lr_sequences(make_cr, make_torch, epochs: int = 30, metrics=None):
    """Learning rates over ``epochs`` from chainrule's and torch's schedulers on two-group optimisers."""
    cr_opt = cr.optim.SGD(
        [{"params": [cr.nn.Parameter([1.0])]}, {"params": [cr.nn.Parameter([1.0])], "lr": 0.5}], lr=0.1
    )
    t_opt = torch.optim.SGD(
        [{"params": [torch.zeros(1, requires_grad=True)]}, {"params": [torch.zeros(1, requires_grad=True)], "lr": 0.5}],
        lr=0.1,
    )
    cr_sched, t_sched = make_cr(cr_opt), make_torch(t_opt)
    cr_lrs, t_lrs = [], []
    for epoch in range(epochs):
        cr_lrs.append(cr_sched.get_last_lr())
        t_lrs.append(t_sched.get_last_lr())
        t_opt.step()  # torch warns when the scheduler steps before the optimiser
        if metrics is None:
            cr_sched.step()
            t_sched.step()
        else:
            cr_sched.step(metrics[epoch])
            t_sched.step(metrics[epoch])
        assert [g["lr"] for g in cr_opt.param_groups] == pytest.approx(
            [g["lr"] for g in t_opt.param_groups], rel=1e-12, abs=1e-15
        )
    return np.array(cr_lrs), np.array(t_lrs)


SCHEDULES = {
    "StepLR": lambda m, o: m.StepLR(o, step_size=3, gamma=0.5),
    "MultiStepLR": lambda m, o: m.MultiStepLR(o, milestones=[2, 5, 5, 11], gamma=0.3),
    "ExponentialLR": lambda m, o: m.ExponentialLR(o, gamma=0.9),
    "CosineAnnealingLR": lambda m, o: m.CosineAnnealingLR(o, T_max=7, eta_min=0.01),
    "LinearLR": lambda m, o: m.LinearLR(o, start_factor=0.2, end_factor=0.9, total_iters=6),
    "LinearLR-defaults": lambda m, o: m.LinearLR(o),
    "LambdaLR": lambda m, o: m.LambdaLR(o, lambda e: 1 / (1 + e)),
}


@pytest.mark.parametrize("name", SCHEDULES)
def test_schedule_matches_torch(name):
    make = SCHEDULES[name]
    ours, theirs = lr_sequences(lambda o: make(cr.optim.lr_scheduler, o), lambda o: make(torch.optim.lr_scheduler, o))
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


def test_linear_warmup_is_torchs_linear_lr_to_the_base_rate():
    ours, theirs = lr_sequences(
        lambda o: cr.optim.LinearWarmup(o, warmup_epochs=4, start_factor=0.1),
        lambda o: torch.optim.lr_scheduler.LinearLR(o, start_factor=0.1, total_iters=4),
    )
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(),
        dict(patience=2, factor=0.5),
        dict(patience=1, cooldown=2, factor=0.5, min_lr=0.02),
        dict(mode="max", patience=1, threshold=0.05, threshold_mode="abs"),
        dict(patience=0, min_lr=[0.0, 0.3]),
    ],
)
def test_reduce_on_plateau_matches_torch(kwargs):
    rng = np.random.default_rng(0)
    metrics = list(1.0 / (1 + np.arange(40) * 0.2) + 0.05 * rng.random(40))  # positive, noisy, flattening
    ours, theirs = lr_sequences(
        lambda o: cr.optim.ReduceLROnPlateau(o, **kwargs),
        lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(o, **kwargs),
        40,
        metrics,
    )
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_cosine_matches_torch_past_t_max():
    ours, theirs = lr_sequences(
        lambda o: cr.optim.CosineAnnealingLR(o, T_max=3),
        lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=3),
        epochs=20,
    )
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    rng = np.random.default_rng(0)
    grads = [rng.normal(size=(4, 3)), rng.normal(size=5)]
    cr_ps = [cr.nn.Parameter(np.zeros_like(g)) for g in grads]
    t_ps = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for c, t, g in zip(cr_ps, t_ps, grads):
        c.grad = cr.tensor(g.copy())
        t.grad = torch.tensor(g.copy())
    ours = cr.optim.clip_grad_norm_(cr_ps, max_norm, norm_type)
    theirs = torch.nn.utils.clip_grad_norm_(t_ps, max_norm, norm_type)
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-12)  # a 0-d tensor, as torch's
    for c, t in zip(cr_ps, t_ps):
        np.testing.assert_allclose(c.grad.numpy(), t.grad.numpy(), rtol=1e-12)


def test_clip_grad_value_matches_torch():
    g = np.random.default_rng(0).normal(size=(6, 2))
    c = cr.nn.Parameter(np.zeros_like(g))
    t = torch.zeros(g.shape, dtype=torch.float64, requires_grad=True)
    c.grad, t.grad = cr.tensor(g.copy()), torch.tensor(g.copy())
    cr.optim.clip_grad_value_([c], 0.4)
    torch.nn.utils.clip_grad_value_([t], 0.4)
    np.testing.assert_array_equal(c.grad.numpy(), t.grad.numpy())
