"""Learning-rate schedules: their lr sequences, ReduceLROnPlateau's behaviour, saving and validation."""

from __future__ import annotations

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
