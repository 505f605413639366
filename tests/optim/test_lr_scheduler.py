"""Learning-rate schedules: their lr sequences, ReduceLROnPlateau's behaviour, saving and validation."""

from __future__ import annotations

import copy
import json
import math
import re

import numpy as np
import pytest

import chainrule as cr
from chainrule.optim import lr_scheduler as S

from . import reference


def optimizer(*lrs: float) -> cr.optim.SGD:
    """An SGD with one param group per learning rate given."""
    return cr.optim.SGD([{"params": [cr.nn.Parameter([0.0])], "lr": lr} for lr in lrs], lr=lrs[0])


def sequence(sched, epochs: int) -> list[list[float]]:
    """The learning rates in force during each epoch (read before the end-of-epoch step)."""
    lrs = []
    for _ in range(epochs):
        lrs.append(sched.get_last_lr())
        assert sched.get_last_lr() == [g["lr"] for g in sched.optimizer.param_groups]
        sched.step()
    return lrs


def test_step_lr():
    got = sequence(S.StepLR(optimizer(0.1, 1.0), step_size=3, gamma=0.5), 10)
    expected = [[b * 0.5 ** (e // 3) for b in (0.1, 1.0)] for e in range(10)]
    np.testing.assert_allclose(got, expected, rtol=1e-15)


def test_multi_step_lr_with_a_repeated_milestone():
    got = sequence(S.MultiStepLR(optimizer(1.0), milestones=[4, 2, 4], gamma=0.1), 6)
    np.testing.assert_allclose(np.ravel(got), [1, 1, 0.1, 0.1, 0.001, 0.001], rtol=1e-14)


def test_exponential_lr():
    got = sequence(S.ExponentialLR(optimizer(2.0), gamma=0.9), 8)
    np.testing.assert_allclose(np.ravel(got), [2.0 * 0.9**e for e in range(8)], rtol=1e-14)


@pytest.mark.parametrize("eta_min", [0.0, 0.05])
def test_cosine_annealing_follows_the_closed_form(eta_min):
    got = sequence(S.CosineAnnealingLR(optimizer(1.0, 0.5), T_max=10, eta_min=eta_min), 25)
    expected = [[reference.cosine(b, eta_min, 10, e) for b in (1.0, 0.5)] for e in range(25)]
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-14)
    assert got[10][0] == pytest.approx(eta_min, abs=1e-15)


def test_cosine_resumed_at_a_later_epoch_uses_the_closed_form():
    opt = optimizer(1.0)
    opt.param_groups[0]["initial_lr"] = 1.0
    sched = S.CosineAnnealingLR(opt, T_max=8, last_epoch=2)  # its first step lands on epoch 3
    assert sched.get_last_lr()[0] == pytest.approx(reference.cosine(1.0, 0.0, 8, 3))


def test_resuming_needs_initial_lr():
    with pytest.raises(ValueError, match="initial_lr"):
        S.StepLR(optimizer(1.0), step_size=2, last_epoch=4)


def test_linear_lr_and_linear_warmup():
    got = sequence(S.LinearLR(optimizer(1.0), start_factor=0.5, end_factor=0.0, total_iters=4), 6)
    np.testing.assert_allclose(np.ravel(got), [0.5, 0.375, 0.25, 0.125, 0.0, 0.0], atol=1e-15)
    got = sequence(S.LinearWarmup(optimizer(0.2), warmup_epochs=4, start_factor=0.25), 6)
    np.testing.assert_allclose(np.ravel(got), [0.05, 0.0875, 0.125, 0.1625, 0.2, 0.2], rtol=1e-14)


def test_lambda_lr_per_group():
    sched = S.LambdaLR(optimizer(1.0, 2.0), [lambda e: 0.5**e, lambda e: e + 1])
    np.testing.assert_allclose(sequence(sched, 3), [[1.0, 2.0], [0.5, 4.0], [0.25, 6.0]])
    with pytest.raises(ValueError, match="expected 2 lr_lambdas"):
        S.LambdaLR(optimizer(1.0, 2.0), [lambda e: 1.0])


def test_schedulers_compose_multiplicatively():
    opt = optimizer(1.0)
    warm = S.LinearLR(opt, start_factor=0.5, total_iters=2)
    decay = S.ExponentialLR(opt, gamma=0.9)
    lrs = []
    for _ in range(4):
        lrs.append(opt.param_groups[0]["lr"])
        warm.step()
        decay.step()
    np.testing.assert_allclose(lrs, [0.5, 0.75 * 0.9, 1.0 * 0.81, 1.0 * 0.729], rtol=1e-14)


def test_scheduler_sets_initial_lr_and_the_first_epochs_rate():
    opt = optimizer(1.0)
    sched = S.LinearLR(opt, start_factor=0.1)
    assert opt.param_groups[0]["initial_lr"] == 1.0
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1)
    assert sched.last_epoch == 0 and sched.base_lrs == [1.0]


def test_learning_rates_are_python_floats():
    opt = optimizer(1.0)
    sched = S.CosineAnnealingLR(opt, T_max=5)
    sched.step()
    assert type(opt.param_groups[0]["lr"]) is float


@pytest.mark.parametrize(
    "make",
    [
        lambda o: S.StepLR(o, step_size=2, gamma=0.5),
        lambda o: S.MultiStepLR(o, milestones=[1, 3]),
        lambda o: S.ExponentialLR(o, gamma=0.8),
        lambda o: S.CosineAnnealingLR(o, T_max=4, eta_min=0.01),
        lambda o: S.LinearLR(o, start_factor=0.2, total_iters=3),
        lambda o: S.LinearWarmup(o, warmup_epochs=3),
        lambda o: S.LambdaLR(o, lambda e: 1 / (e + 1)),
    ],
)
def test_state_dict_round_trip_continues_the_same_sequence(make):
    opt = optimizer(1.0, 0.3)
    sched = make(opt)
    sequence(sched, 3)
    saved_opt, saved = opt.state_dict(), json.loads(json.dumps(sched.state_dict()))
    expected = sequence(sched, 5)

    opt2 = optimizer(1.0, 0.3)
    sched2 = make(opt2)
    opt2.load_state_dict(saved_opt)
    sched2.load_state_dict(saved)
    assert sequence(sched2, 5) == expected


def test_scheduler_load_reports_missing_and_unexpected_keys():
    sched = S.StepLR(optimizer(1.0), step_size=2)
    state = sched.state_dict()
    state.pop("gamma")
    state["bogus"] = 1
    with pytest.raises(KeyError, match="missing gamma; unexpected bogus"):
        sched.load_state_dict(state)
    assert sched.gamma == 0.1


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda o: S.StepLR(o, step_size=0), "StepLR: invalid step_size: 0"),
        (lambda o: S.StepLR(o, step_size=2, gamma=-1), "StepLR: invalid gamma: -1"),
        (lambda o: S.MultiStepLR(o, milestones=[-1]), "MultiStepLR: invalid milestone: -1"),
        (lambda o: S.ExponentialLR(o, gamma=0), "ExponentialLR: invalid gamma: 0"),
        (lambda o: S.CosineAnnealingLR(o, T_max=0), "CosineAnnealingLR: invalid T_max: 0"),
        (lambda o: S.CosineAnnealingLR(o, T_max=3, eta_min=-1), "CosineAnnealingLR: invalid eta_min: -1"),
        (lambda o: S.LinearLR(o, start_factor=0), "LinearLR: invalid start_factor: 0"),
        (lambda o: S.LinearLR(o, end_factor=1.5), "LinearLR: invalid end_factor: 1.5"),
        (lambda o: S.LinearWarmup(o, warmup_epochs=0), "LinearWarmup: invalid warmup_epochs: 0"),
        (lambda o: S.ReduceLROnPlateau(o, mode="lowest"), "ReduceLROnPlateau: invalid mode: 'lowest'"),
        (lambda o: S.ReduceLROnPlateau(o, factor=1.0), "ReduceLROnPlateau: invalid factor: 1.0"),
        (lambda o: S.ReduceLROnPlateau(o, patience=-1), "ReduceLROnPlateau: invalid patience: -1"),
        (lambda o: S.ReduceLROnPlateau(o, threshold_mode="pct"), "ReduceLROnPlateau: invalid threshold_mode: 'pct'"),
        (lambda o: S.ReduceLROnPlateau(o, min_lr=[0.1, 0.2]), "expected 1 min_lr values"),
        (lambda o: S.ReduceLROnPlateau(o, min_lr=-0.1), "ReduceLROnPlateau: invalid min_lr: -0.1"),
    ],
)
def test_invalid_arguments_raise(make, message):
    opt = optimizer(1.0)
    with pytest.raises(ValueError, match=re.escape(message)):
        make(opt)
    assert opt.param_groups[0]["lr"] == 1.0


def test_scheduler_needs_an_optimizer():
    with pytest.raises(TypeError, match="expected an Optimizer"):
        S.StepLR([cr.nn.Parameter([1.0])], step_size=1)


def test_repr():
    assert repr(S.StepLR(optimizer(1.0), step_size=3)) == "StepLR(step_size=3, gamma=0.1, last_epoch=0)"
    assert repr(S.LinearWarmup(optimizer(1.0), 5)) == "LinearWarmup(warmup_epochs=5, start_factor=0.1, last_epoch=0)"
    assert repr(S.ReduceLROnPlateau(optimizer(1.0))) == (
        "ReduceLROnPlateau(mode='min', factor=0.1, patience=10, threshold=0.0001, threshold_mode='rel', "
        "cooldown=0, eps=1e-08, min_lr=[0.0])"
    )


# ---------------------------------------------------------------- ReduceLROnPlateau
def plateau_lrs(metrics, **kwargs):
    opt = optimizer(1.0)
    sched = S.ReduceLROnPlateau(opt, **kwargs)
    lrs = []
    for m in metrics:
        sched.step(m)
        lrs.append(sched.get_last_lr()[0])
    return lrs


def test_plateau_reduces_after_more_than_patience_bad_epochs():
    lrs = plateau_lrs([1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9], patience=2, factor=0.5)
    # best 0.9 at epoch 2; bad epochs 3, 4, 5 -> reduced at the third, then counting restarts
    assert lrs == [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5]


def test_plateau_improvements_reset_the_count():
    lrs = plateau_lrs([1.0, 1.0, 0.8, 0.8, 0.6, 0.6, 0.6], patience=1, factor=0.5)
    assert lrs == [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5]


def test_plateau_cooldown_and_min_lr():
    lrs = plateau_lrs([1.0] * 10, patience=0, factor=0.5, cooldown=2, min_lr=0.2)
    # reduce at epoch 2, wait 2 epochs, reduce at epoch 5, again at 8 but not below min_lr
    assert lrs == [1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.2, 0.2, 0.2]


def test_plateau_min_lr_per_group():
    sched = S.ReduceLROnPlateau(optimizer(1.0, 0.5), patience=0, min_lr=[0.0, 0.3])
    lrs = []
    for m in [1.0] * 4:
        sched.step(m)
        lrs.append(sched.get_last_lr())
    # each group is cut by factor 0.1 down to its own floor
    np.testing.assert_allclose(lrs, [[1.0, 0.5], [0.1, 0.3], [0.01, 0.3], [0.001, 0.3]], rtol=1e-14)


def test_plateau_max_mode_and_thresholds():
    # max mode, absolute threshold 0.05: 0.52 does not beat 0.5 by more than 0.05
    lrs = plateau_lrs([0.5, 0.52, 0.53, 0.7], mode="max", patience=1, threshold=0.05, threshold_mode="abs")
    assert lrs == [1.0, 1.0, 0.1, 0.1]
    # relative threshold 10%: 0.95 is not an improvement on 1.0 in min mode, 0.89 is
    lrs = plateau_lrs([1.0, 0.95, 0.89, 0.95, 0.95], patience=1, threshold=0.1, factor=0.5)
    assert lrs == [1.0, 1.0, 1.0, 1.0, 0.5]


def test_plateau_relative_threshold_on_negative_metrics():
    """A worse (higher) negative loss never counts as an improvement."""
    lrs = plateau_lrs([-1.0, -0.95, -0.95], patience=1, threshold=0.1, factor=0.5)
    assert lrs == [1.0, 1.0, 0.5]


def test_plateau_skips_reductions_smaller_than_eps():
    lrs = plateau_lrs([1.0, 1.0, 1.0], patience=0, factor=0.5, min_lr=0.9999999999)
    assert lrs == [1.0, 1.0, 1.0]


def test_plateau_accepts_a_tensor_metric_and_round_trips():
    opt = optimizer(1.0)
    sched = S.ReduceLROnPlateau(opt, patience=1, cooldown=1, factor=0.5)
    for m in [1.0, 0.9, 0.95, 0.96]:
        sched.step(cr.tensor(m))
    saved = json.loads(json.dumps(sched.state_dict()))
    saved_opt = opt.state_dict()
    expected = plateau_continue(sched, [0.97, 0.98, 0.99, 1.0])
    opt2 = optimizer(1.0)
    sched2 = S.ReduceLROnPlateau(opt2)
    opt2.load_state_dict(saved_opt)
    sched2.load_state_dict(saved)
    assert plateau_continue(sched2, [0.97, 0.98, 0.99, 1.0]) == expected
    assert sched2.best == pytest.approx(0.9) and sched2.patience == 1


def plateau_continue(sched, metrics):
    lrs = []
    for m in metrics:
        sched.step(m)
        lrs.append(sched.get_last_lr())
    return lrs


def test_plateau_best_starts_infinite():
    sched = S.ReduceLROnPlateau(optimizer(1.0), mode="max")
    assert sched.best == -math.inf and not sched.in_cooldown


# ---------------------------------------------------------------- the schedules beyond the decays
def momentum_optimizer(*lrs: float, kind: str = "sgd"):
    """An SGD with momentum (or an Adam) with one param group per learning rate given."""
    groups = [{"params": [cr.nn.Parameter([0.0])], "lr": lr} for lr in lrs]
    if kind == "adam":
        return cr.optim.Adam(groups, lr=lrs[0], betas=(0.9, 0.99))
    return cr.optim.SGD(groups, lr=lrs[0], momentum=0.9)


def momenta(opt) -> list[float]:
    return [g["betas"][0] if "betas" in g else g["momentum"] for g in opt.param_groups]


def trace(sched, steps: int) -> tuple[list[list[float]], list[list[float]]]:
    """The rates and momenta in force at each step (read before the step)."""
    lrs, ms = [], []
    for _ in range(steps):
        lrs.append(sched.get_last_lr())
        ms.append(momenta(sched.optimizer))
        assert sched.get_last_lr() == [g["lr"] for g in sched.optimizer.param_groups]
        sched.step()
    return lrs, ms


def test_multiplicative_lr_accumulates_the_factors():
    sched = S.MultiplicativeLR(optimizer(1.0, 2.0), [lambda e: 0.5, lambda e: 1.0 + e])
    # epoch 0 keeps the base rate; epoch e multiplies the previous rate by lr_lambda(e)
    np.testing.assert_allclose(sequence(sched, 4), [[1.0, 2.0], [0.5, 4.0], [0.25, 12.0], [0.125, 48.0]])


def test_constant_lr():
    got = sequence(S.ConstantLR(optimizer(1.0, 0.2), factor=0.25, total_iters=3), 6)
    np.testing.assert_allclose(got, [[0.25, 0.05]] * 3 + [[1.0, 0.2]] * 3, rtol=1e-15)


@pytest.mark.parametrize("power", [1.0, 0.9, 2.0, 0.0])
def test_polynomial_lr_follows_the_closed_form(power):
    got = sequence(S.PolynomialLR(optimizer(1.0, 0.3), total_iters=8, power=power), 12)
    expected = [[b * (1 - min(e, 8) / 8) ** power for b in (1.0, 0.3)] for e in range(12)]
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("T_0, T_mult, eta_min", [(5, 1, 0.0), (3, 2, 0.01), (2, 3, 0.0)])
def test_warm_restarts_follow_sgdr(T_0, T_mult, eta_min):
    got = sequence(S.CosineAnnealingWarmRestarts(optimizer(1.0, 0.5), T_0=T_0, T_mult=T_mult, eta_min=eta_min), 40)
    expected = [[reference.warm_restarts(b, eta_min, T_0, T_mult, e) for b in (1.0, 0.5)] for e in range(40)]
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)
    restarts = [e for e in range(1, 40) if got[e][0] == 1.0]
    assert restarts == {1: [5, 10, 15, 20, 25, 30, 35], 2: [3, 9, 21], 3: [2, 8, 26]}[T_mult]


@pytest.mark.parametrize("T_mult", [1, 2])
def test_warm_restarts_with_fractional_epochs_anneal_within_an_epoch(T_mult):
    sched = S.CosineAnnealingWarmRestarts(optimizer(1.0), T_0=2, T_mult=T_mult, eta_min=0.1)
    for epoch in range(8):
        for i in range(4):
            sched.step(epoch + i / 4)
            expected = reference.warm_restarts(1.0, 0.1, 2, T_mult, epoch + i / 4)
            assert sched.get_last_lr()[0] == pytest.approx(expected, rel=1e-12)
            assert sched.last_epoch == epoch
    sched.step(3.5)
    sched.step()  # one epoch on: the rate of epoch 4.5, and last_epoch floor(3.5) + 1 (as PyTorch's)
    assert sched.last_epoch == 4
    assert sched.get_last_lr()[0] == pytest.approx(reference.warm_restarts(1.0, 0.1, 2, T_mult, 4.5))


def test_warm_restarts_refuse_a_negative_epoch_and_change_nothing():
    sched = S.CosineAnnealingWarmRestarts(optimizer(1.0), T_0=3)
    sched.step()
    before = sched.state_dict()
    for bad in (-1, -0.5, float("nan"), "2", True):
        with pytest.raises(ValueError, match=re.escape(f"CosineAnnealingWarmRestarts.step: invalid epoch: {bad!r}")):
            sched.step(bad)
    assert sched.state_dict() == before


@pytest.mark.parametrize("mode, gamma", [("triangular", 1.0), ("triangular2", 1.0), ("exp_range", 0.95)])
def test_cyclic_lr_follows_smiths_formula_and_cycles_momentum_inversely(mode, gamma):
    opt = momentum_optimizer(1.0, 1.0)
    sched = S.CyclicLR(opt, base_lr=[0.01, 0.1], max_lr=[0.1, 0.5], step_size_up=4, mode=mode, gamma=gamma,
                       base_momentum=0.8, max_momentum=0.95)  # fmt: skip
    lrs, ms = trace(sched, 40)
    for it in range(40):
        for g, (base, top) in enumerate([(0.01, 0.1), (0.1, 0.5)]):
            lr, height = reference.cyclic(base, top, 4, it, mode, gamma)
            assert lrs[it][g] == pytest.approx(lr, rel=1e-12, abs=1e-15)
            assert ms[it][g] == pytest.approx(0.95 - 0.15 * height, rel=1e-12)
    if mode != "exp_range":  # the top of the first cycle, at step_size_up
        assert max(r[0] for r in lrs) == lrs[4][0] == pytest.approx(0.1) and ms[4][0] == pytest.approx(0.8)


def test_cyclic_lr_asymmetric_halves_and_a_scale_function():
    sched = S.CyclicLR(optimizer(1.0), base_lr=0.0, max_lr=1.0, step_size_up=2, step_size_down=6,
                       scale_fn=lambda cycle: 1.0 / cycle, cycle_momentum=False)  # fmt: skip
    got = np.ravel(sequence(sched, 16))
    one_cycle = np.interp(np.arange(8), [0, 2, 8], [0, 1, 0])
    np.testing.assert_allclose(got, np.concatenate([one_cycle, one_cycle / 2]), atol=1e-15)
    sched = S.CyclicLR(optimizer(1.0), 0.0, 1.0, step_size_up=2, scale_fn=lambda it: 0.5**it,
                       scale_mode="iterations", cycle_momentum=False)  # fmt: skip
    got = np.ravel(sequence(sched, 6))
    np.testing.assert_allclose(got, [0, 0.5 * 0.5, 1 * 0.25, 0.5 * 0.125, 0, 0.5 * 0.5**5], atol=1e-15)


def test_cyclic_lr_sets_the_base_rate_and_cycles_adams_beta1():
    opt = momentum_optimizer(1.0, kind="adam")
    sched = S.CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=2)
    assert opt.param_groups[0]["lr"] == 0.01 and opt.param_groups[0]["initial_lr"] == 0.01
    assert opt.param_groups[0]["betas"] == (0.9, 0.99)  # max_momentum at the base rate
    sched.step()
    assert opt.param_groups[0]["betas"] == pytest.approx((0.85, 0.99))
    assert type(opt.param_groups[0]["betas"]) is tuple and "momentum" not in opt.param_groups[0]


@pytest.mark.parametrize("three_phase", [False, True])
@pytest.mark.parametrize("linear", [False, True])
@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_one_cycle_follows_its_phases(three_phase, linear, kind):
    opt = momentum_optimizer(1.0, 1.0, kind=kind)
    sched = S.OneCycleLR(opt, max_lr=[1.0, 0.4], total_steps=40, pct_start=0.25, three_phase=three_phase,
                         anneal_strategy="linear" if linear else "cos")  # fmt: skip
    lrs, ms = trace(sched, 40)
    for step in range(40):
        for g, top in enumerate((1.0, 0.4)):
            lr, m = reference.one_cycle(step, 40, top, 0.25, three_phase=three_phase, linear=linear)
            assert lrs[step][g] == pytest.approx(lr, rel=1e-12)
            assert ms[step][g] == pytest.approx(m, rel=1e-12)
    assert lrs[9] == pytest.approx([1.0, 0.4])  # the peak, at step pct_start * total_steps - 1
    assert lrs[39] == pytest.approx([1.0 / 25 / 1e4, 0.4 / 25 / 1e4])  # the minimum, at the last step
    if kind == "adam":
        assert all(g["betas"][1] == 0.99 for g in opt.param_groups)


def test_one_cycle_by_hand():
    opt = momentum_optimizer(1.0)
    sched = S.OneCycleLR(opt, max_lr=1.0, total_steps=10, pct_start=0.3, anneal_strategy="linear", div_factor=10,
                         final_div_factor=100, base_momentum=0.8, max_momentum=0.9)  # fmt: skip
    lrs, ms = trace(sched, 10)
    lrs.append(sched.get_last_lr())  # (the step to total_steps is allowed, as in PyTorch)
    ms.append(momenta(opt))
    # up from 0.1 to 1.0 over steps 0..2, down to 0.001 over steps 2..9, past it the line goes on
    expected = [0.1, 0.55, 1.0] + [1.0 - 0.999 * k / 7 for k in range(1, 9)]
    np.testing.assert_allclose(np.ravel(lrs), expected, rtol=1e-12)
    np.testing.assert_allclose(np.ravel(ms), [0.9, 0.85, 0.8] + [0.8 + 0.1 * k / 7 for k in range(1, 9)], rtol=1e-12)
    group = opt.param_groups[0]
    assert (group["initial_lr"], group["max_lr"], group["min_lr"]) == (0.1, 1.0, 0.001)
    assert (group["max_momentum"], group["base_momentum"]) == (0.9, 0.8)


def test_one_cycle_epochs_times_steps_per_epoch_is_total_steps():
    a = S.OneCycleLR(momentum_optimizer(1.0), max_lr=1.0, epochs=4, steps_per_epoch=5)
    b = S.OneCycleLR(momentum_optimizer(1.0), max_lr=1.0, total_steps=20, epochs=99, steps_per_epoch=99)
    assert a.total_steps == b.total_steps == 20
    assert trace(a, 20) == trace(b, 20)


def test_one_cycle_refuses_a_step_past_total_steps_and_changes_nothing():
    opt = momentum_optimizer(1.0)
    sched = S.OneCycleLR(opt, max_lr=1.0, total_steps=5)
    trace(sched, 5)  # steps 0..4, then the step to 5 (allowed, as in PyTorch)
    before = (sched.state_dict(), copy.deepcopy([{k: v for k, v in g.items() if k != "params"}
                                                 for g in opt.param_groups]))  # fmt: skip
    for _ in range(2):
        with pytest.raises(ValueError, match=r"OneCycleLR: stepped 6 times, past the schedule's total_steps=5"):
            sched.step()
    assert (sched.state_dict(), [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]) == before


def test_one_cycle_without_a_warm_up_step_is_refused():
    # pct_start * total_steps == 1: the rise would end at step 0 (PyTorch divides by zero)
    with pytest.raises(ValueError, match=r"OneCycleLR: pct_start \* total_steps = 0.1 \* 10 is 1"):
        S.OneCycleLR(momentum_optimizer(1.0), max_lr=1.0, total_steps=10, pct_start=0.1)
    sched = S.OneCycleLR(momentum_optimizer(1.0), max_lr=1.0, total_steps=4, pct_start=1.0)
    trace(sched, 4 - 1)  # steps 0..3 rise; the step to 4 would fall in a phase of no steps
    with pytest.raises(ValueError, match="OneCycleLR: step 4 falls in a phase of no steps"):
        sched.step()


def test_cycling_momentum_needs_an_optimizer_with_momentum():
    opt = cr.optim.Adagrad([cr.nn.Parameter([0.0])], lr=0.1)
    for make in (lambda: S.OneCycleLR(opt, 1.0, total_steps=5), lambda: S.CyclicLR(opt, 0.01, 0.1)):
        with pytest.raises(ValueError, match="cycle_momentum=True needs an optimizer with momentum or betas"):
            make()
    assert opt.param_groups[0]["lr"] == 0.1 and "initial_lr" not in opt.param_groups[0]
    S.OneCycleLR(opt, 1.0, total_steps=5, cycle_momentum=False)
    S.CyclicLR(opt, 0.01, 0.1, cycle_momentum=False)


def test_sequential_lr_warm_up_then_cosine():
    opt = optimizer(1.0, 0.5)
    warm = S.LinearLR(opt, start_factor=0.1, total_iters=4)
    cosine = S.CosineAnnealingLR(opt, T_max=10, eta_min=0.01)
    got = sequence(S.SequentialLR(opt, [warm, cosine], milestones=[4]), 20)
    expected = [[b * (0.1 + 0.9 * e / 4) if e < 4 else reference.cosine(b, 0.01, 10, e - 4) for b in (1.0, 0.5)]
                for e in range(20)]  # fmt: skip
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_sequential_lr_starts_each_schedule_from_the_base_rate():
    opt = optimizer(1.0)
    constant, decay = S.ConstantLR(opt, factor=0.1, total_iters=10), S.ExponentialLR(opt, gamma=0.5)
    sched = S.SequentialLR(opt, [constant, decay], milestones=[3])
    # ConstantLR never reaches its total_iters: ExponentialLR starts from 1.0, not from 0.1
    np.testing.assert_allclose(np.ravel(sequence(sched, 6)), [0.1, 0.1, 0.1, 1.0, 0.5, 0.25], rtol=1e-15)
    assert (sched.last_epoch, constant.last_epoch, decay.last_epoch) == (6, 2, 3)


def test_chained_scheduler_multiplies_the_factors():
    opt = optimizer(1.0)
    sched = S.ChainedScheduler([S.ConstantLR(opt, factor=0.1, total_iters=3), S.StepLR(opt, 2, gamma=0.5)])
    np.testing.assert_allclose(np.ravel(sequence(sched, 6)), [0.1, 0.1, 0.05, 0.5, 0.25, 0.25], rtol=1e-14)


NEW_SCHEDULES = {
    "MultiplicativeLR": lambda o: S.MultiplicativeLR(o, lambda e: 0.9),
    "ConstantLR": lambda o: S.ConstantLR(o, factor=0.5, total_iters=6),
    "PolynomialLR": lambda o: S.PolynomialLR(o, total_iters=10, power=2.0),
    "CosineAnnealingWarmRestarts": lambda o: S.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=2, eta_min=0.01),
    "CyclicLR": lambda o: S.CyclicLR(
        o, [0.01, 0.02], 0.1, step_size_up=3, step_size_down=2, mode="exp_range", gamma=0.9
    ),  # fmt: skip
    "OneCycleLR": lambda o: S.OneCycleLR(o, max_lr=1.0, total_steps=12, three_phase=True),
    "SequentialLR": lambda o: S.SequentialLR(
        o, [S.LinearLR(o, 0.2, total_iters=3), S.CosineAnnealingWarmRestarts(o, T_0=3)], milestones=[3]
    ),
    "ChainedScheduler": lambda o: S.ChainedScheduler([S.ConstantLR(o, 0.5, total_iters=4), S.ExponentialLR(o, 0.9)]),
}


@pytest.mark.parametrize("kind", ["sgd", "adam"])
@pytest.mark.parametrize("name", NEW_SCHEDULES)
def test_new_schedules_round_trip_mid_schedule(name, kind):
    opt = momentum_optimizer(1.0, 0.3, kind=kind)
    sched = NEW_SCHEDULES[name](opt)
    trace(sched, 5)
    saved, saved_opt = json.loads(json.dumps(sched.state_dict())), opt.state_dict()
    saved_opt["param_groups"] = json.loads(json.dumps(saved_opt["param_groups"]))
    expected = trace(sched, 7)

    opt2 = momentum_optimizer(1.0, 0.3, kind=kind)
    sched2 = NEW_SCHEDULES[name](opt2)
    opt2.load_state_dict(saved_opt)
    sched2.load_state_dict(saved)
    assert trace(sched2, 7) == expected


@pytest.mark.parametrize("name", ["SequentialLR", "ChainedScheduler"])
def test_a_container_refuses_a_bad_state_and_changes_nothing(name):
    sched = NEW_SCHEDULES[name](momentum_optimizer(1.0))
    trace(sched, 2)
    good = sched.state_dict()
    bad = copy.deepcopy(good)
    bad["_schedulers"][-1]["bogus"] = 1
    with pytest.raises(KeyError, match="unexpected bogus"):
        sched.load_state_dict(bad)
    with pytest.raises(ValueError, match="expected '_schedulers' with the states of 2 schedulers"):
        sched.load_state_dict({k: v for k, v in good.items() if k != "_schedulers"})
    assert sched.state_dict() == good


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda o: S.MultiplicativeLR(o, [lambda e: 1, lambda e: 1]), "MultiplicativeLR: expected 1 lr_lambdas"),
        (lambda o: S.ConstantLR(o, factor=0), "ConstantLR: invalid factor: 0 (expected a number in (0, 1])"),
        (lambda o: S.ConstantLR(o, total_iters=0), "ConstantLR: invalid total_iters: 0"),
        (lambda o: S.PolynomialLR(o, total_iters=2.5), "PolynomialLR: invalid total_iters: 2.5"),
        (lambda o: S.PolynomialLR(o, power=-1), "PolynomialLR: invalid power: -1"),
        (lambda o: S.CosineAnnealingWarmRestarts(o, T_0=0), "CosineAnnealingWarmRestarts: invalid T_0: 0"),
        (lambda o: S.CosineAnnealingWarmRestarts(o, 2, T_mult=0), "CosineAnnealingWarmRestarts: invalid T_mult: 0"),
        (lambda o: S.CosineAnnealingWarmRestarts(o, 2, eta_min=-1), "CosineAnnealingWarmRestarts: invalid eta_min"),
        (lambda o: S.CyclicLR(o, 0.1, 1.0, mode="tri"), "CyclicLR: invalid mode: 'tri'"),
        (lambda o: S.CyclicLR(o, 0.1, 1.0, step_size_up=0), "CyclicLR: invalid step_size_up: 0"),
        (lambda o: S.CyclicLR(o, 0.1, 1.0, step_size_down=-1), "CyclicLR: invalid step_size_down: -1"),
        (lambda o: S.CyclicLR(o, 0.1, 1.0, scale_mode="iteration"), "CyclicLR: invalid scale_mode: 'iteration'"),
        (lambda o: S.CyclicLR(o, 0.1, 1.0, mode="exp_range", gamma=0), "CyclicLR: invalid gamma: 0"),
        (lambda o: S.CyclicLR(o, [0.1, 0.2], 1.0), "CyclicLR: expected 1 base_lr values (one per param group), got 2"),
        (lambda o: S.CyclicLR(o, 0.1, -1.0), "CyclicLR: invalid max_lr: -1.0"),
        (lambda o: S.CyclicLR(o, 0.1, 1.0, max_momentum=[0.9, 0.9]), "CyclicLR: expected 1 max_momentum values"),
        (lambda o: S.CyclicLR(o, 0.1, 1.0, cycle_momentum=1), "CyclicLR: invalid cycle_momentum: 1"),
        (lambda o: S.OneCycleLR(o, 1.0), "OneCycleLR: give total_steps, or both epochs and steps_per_epoch"),
        (lambda o: S.OneCycleLR(o, 1.0, epochs=2), "OneCycleLR: give total_steps, or both epochs"),
        (lambda o: S.OneCycleLR(o, 1.0, total_steps=0), "OneCycleLR: invalid total_steps: 0"),
        (lambda o: S.OneCycleLR(o, 1.0, epochs=2, steps_per_epoch=0), "OneCycleLR: invalid steps_per_epoch: 0"),
        (lambda o: S.OneCycleLR(o, 1.0, 10, pct_start=1.5), "OneCycleLR: invalid pct_start: 1.5"),
        (lambda o: S.OneCycleLR(o, 1.0, 10, anneal_strategy="cosine"), "OneCycleLR: invalid anneal_strategy: 'cosine'"),
        (lambda o: S.OneCycleLR(o, 1.0, 10, div_factor=0), "OneCycleLR: invalid div_factor: 0"),
        (lambda o: S.OneCycleLR(o, 1.0, 10, final_div_factor=-1), "OneCycleLR: invalid final_div_factor: -1"),
        (lambda o: S.OneCycleLR(o, [1.0, 2.0], 10), "OneCycleLR: expected 1 max_lr values"),
        (lambda o: S.OneCycleLR(o, 1.0, 10, base_momentum=-0.1), "OneCycleLR: invalid base_momentum: -0.1"),
        (lambda o: S.OneCycleLR(o, 1.0, 10, three_phase="yes"), "OneCycleLR: invalid three_phase: 'yes'"),
        (lambda o: S.OneCycleLR(o, 1.0, 10, last_epoch=-2), "OneCycleLR: invalid last_epoch: -2"),
        (
            lambda o: S.OneCycleLR(o, 1.0, 10, last_epoch=3),
            "OneCycleLR: resuming at last_epoch=3 needs 'base_momentum'",
        ),
        (lambda o: S.SequentialLR(o, [], []), "SequentialLR: expected at least one scheduler, got none"),
        (lambda o: S.ChainedScheduler([]), "ChainedScheduler: expected at least one scheduler, got none"),
    ],
)
def test_invalid_arguments_of_the_new_schedules_raise(make, message):
    opt = momentum_optimizer(1.0)
    with pytest.raises(ValueError, match=re.escape(message)):
        make(opt)
    assert opt.param_groups[0]["lr"] == 1.0 and opt.param_groups[0]["momentum"] == 0.9
    assert not {"initial_lr", "max_lr", "max_momentum"} & set(opt.param_groups[0])


def test_containers_check_their_schedulers():
    opt, other = optimizer(1.0), optimizer(1.0)
    step, plateau, elsewhere = S.StepLR(opt, 2), S.ReduceLROnPlateau(opt), S.StepLR(other, 2)
    cases = [
        (lambda: S.SequentialLR(opt, [step, step], milestones=[]), ValueError, "expected 1 milestones"),
        (lambda: S.SequentialLR(opt, [step, step], milestones=[-1]), ValueError, "invalid milestone: -1"),
        (lambda: S.SequentialLR(opt, [step] * 3, milestones=[4, 2]), ValueError, "milestones must be in increasing"),
        (lambda: S.SequentialLR(opt, [step, plateau], milestones=[2]), ValueError, "schedulers[1] is a ReduceLROnPl"),
        (lambda: S.SequentialLR(opt, [step, elsewhere], [2]), ValueError, "schedulers[1] (StepLR) was created on an"),
        (lambda: S.SequentialLR(opt, [step, "StepLR"], [2]), TypeError, "schedulers[1] is not a learning-rate sch"),
        (lambda: S.SequentialLR(opt, step, [2]), TypeError, "schedulers must be a list of schedulers, got StepLR"),
        (lambda: S.SequentialLR(opt, [step, S.ChainedScheduler([step])], [2]), ValueError, "only the first sche"),
        (lambda: S.ChainedScheduler([step, plateau]), ValueError, "ChainedScheduler: schedulers[1] is a ReduceLROnPl"),
        (lambda: S.ChainedScheduler([step, elsewhere]), ValueError, "schedulers[1] (StepLR) was created on another"),
        (lambda: S.ChainedScheduler([step], optimizer=other), ValueError, "schedulers[0] (StepLR) was created on"),
        (lambda: S.ChainedScheduler([step], optimizer=[1]), TypeError, "ChainedScheduler: expected an Optimizer"),
    ]
    for make, error, message in cases:
        with pytest.raises(error, match=re.escape(message)):
            make()


def test_reprs_of_the_new_schedules():
    opt = momentum_optimizer(1.0)
    assert repr(S.ConstantLR(opt, 0.5, 3)) == "ConstantLR(factor=0.5, total_iters=3, last_epoch=0)"
    assert repr(S.CosineAnnealingWarmRestarts(opt, 4)) == (
        "CosineAnnealingWarmRestarts(T_0=4, T_mult=1, eta_min=0.0, last_epoch=0)"
    )
    assert repr(S.OneCycleLR(opt, 1.0, 10)) == (
        "OneCycleLR(total_steps=10, pct_start=0.3, anneal_strategy='cos', cycle_momentum=True, div_factor=25.0, "
        "final_div_factor=10000.0, three_phase=False, last_epoch=0)"
    )
    assert repr(S.CyclicLR(opt, 0.1, 1.0, step_size_up=4)).startswith(
        "CyclicLR(base_lr=[0.1], max_lr=[1.0], step_size_up=4, step_size_down=None, mode='triangular'"
    )
    a, b = S.ConstantLR(opt, 0.5, 3), S.StepLR(opt, 2)
    assert repr(S.SequentialLR(opt, [a, b], [3])) == (
        "SequentialLR(schedulers=[ConstantLR(factor=0.5, total_iters=3, last_epoch=0), "
        "StepLR(step_size=2, gamma=0.1, last_epoch=-1)], milestones=[3], last_epoch=0)"
    )
    assert repr(S.ChainedScheduler([a])) == "ChainedScheduler([ConstantLR(factor=0.5, total_iters=3, last_epoch=0)])"


def test_the_new_schedules_are_exported_from_chainrule_optim():
    for name in ("MultiplicativeLR", "ConstantLR", "PolynomialLR", "CosineAnnealingWarmRestarts", "CyclicLR",
                 "OneCycleLR", "SequentialLR", "ChainedScheduler"):  # fmt: skip
        assert getattr(cr.optim, name) is getattr(S, name) and name in cr.optim.__all__


def test_resuming_an_exponential_schedule_keeps_the_optimizers_rate():
    """Created with last_epoch=n on an optimizer holding epoch n's rate, the first step sets no new rate
    (PyTorch's behaviour), and the next one decays it."""
    opt = optimizer(1.0)
    opt.param_groups[0].update(initial_lr=1.0, lr=0.25)
    sched = S.ExponentialLR(opt, gamma=0.5, last_epoch=2)
    assert sched.get_last_lr() == [0.25] and sched.last_epoch == 3
    sched.step()
    assert sched.get_last_lr() == [0.125]


def test_settings_given_as_numpy_numbers_still_save_to_json():
    opt = momentum_optimizer(1.0)
    scheds = [
        S.OneCycleLR(opt, np.float32(1.0), np.int64(10), pct_start=np.float32(0.3), div_factor=np.float32(5)),
        S.CyclicLR(opt, np.float32(0.1), 1.0, step_size_up=np.int64(3), step_size_down=np.float32(2)),
        S.ConstantLR(opt, np.float32(0.5), np.int64(3)),
        S.PolynomialLR(opt, np.int64(3), np.float32(2)),
        S.CosineAnnealingWarmRestarts(opt, np.int64(3), np.int64(2), np.float32(0.01)),
    ]
    scheds[-1].step(np.float32(2.5))
    for sched in scheds:
        sched.step()
        json.dumps(sched.state_dict())
    json.dumps(opt.state_dict()["param_groups"])
    assert all(type(v) is float for v in (opt.param_groups[0]["lr"], opt.param_groups[0]["initial_lr"]))
