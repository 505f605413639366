"""The schedulers PyTorch users reach for beyond the basic decays agree with torch.optim.lr_scheduler:
OneCycleLR, CyclicLR, CosineAnnealingWarmRestarts, ConstantLR, PolynomialLR, MultiplicativeLR,
SequentialLR and ChainedScheduler. Each runs side by side with torch's on a two-group optimiser
for 40 steps; the learning rates and, where cycled, the momentum or Adam's beta1 must agree at
every step. A state_dict saved mid-schedule (through JSON) and loaded into a new scheduler must
go on exactly as the uninterrupted run, and as torch's.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import chainrule as cr

STEPS = 40
GROUP_LRS = (0.1, 0.5)


def optimizers(kind: str):
    """The same two-group optimiser in chainrule and torch."""
    cr_groups = [{"params": [cr.nn.Parameter([1.0])]}, {"params": [cr.nn.Parameter([1.0])], "lr": GROUP_LRS[1]}]
    t_groups = [
        {"params": [torch.zeros(1, requires_grad=True)]},
        {"params": [torch.zeros(1, requires_grad=True)], "lr": GROUP_LRS[1]},
    ]
    if kind == "sgd":
        return cr.optim.SGD(cr_groups, lr=GROUP_LRS[0], momentum=0.9), torch.optim.SGD(
            t_groups, lr=GROUP_LRS[0], momentum=0.9
        )
    if kind == "sgd-no-momentum":
        return cr.optim.SGD(cr_groups, lr=GROUP_LRS[0]), torch.optim.SGD(t_groups, lr=GROUP_LRS[0])
    if kind == "adam":
        return cr.optim.Adam(cr_groups, lr=GROUP_LRS[0]), torch.optim.Adam(t_groups, lr=GROUP_LRS[0])
    if kind == "adamw":
        return cr.optim.AdamW(cr_groups, lr=GROUP_LRS[0]), torch.optim.AdamW(t_groups, lr=GROUP_LRS[0])
    if kind == "rmsprop":
        return cr.optim.RMSprop(cr_groups, lr=GROUP_LRS[0], momentum=0.5), torch.optim.RMSprop(
            t_groups, lr=GROUP_LRS[0], momentum=0.5
        )
    assert kind == "adagrad"
    return cr.optim.Adagrad(cr_groups, lr=GROUP_LRS[0]), torch.optim.Adagrad(t_groups, lr=GROUP_LRS[0])


def hyper(opt) -> list[float]:
    """Each group's lr, then its momentum or beta1 where it has one."""
    values = []
    for group in opt.param_groups:
        values.append(float(group["lr"]))
        if "betas" in group:
            values.append(float(group["betas"][0]))
            values.append(float(group["betas"][1]))
        elif "momentum" in group:
            values.append(float(group["momentum"]))
    return values


def advance(cr_opt, t_opt, cr_sched, t_sched, steps, epochs=None):
    """Step both schedulers ``steps`` times (with ``step(epoch)`` where ``epochs`` gives them),
    comparing the hyper-parameters and get_last_lr() before each step and after the last."""
    for i in range(steps + 1):
        np.testing.assert_allclose(hyper(cr_opt), hyper(t_opt), rtol=1e-12, atol=1e-15, err_msg=f"step {i}")
        np.testing.assert_allclose(cr_sched.get_last_lr(), t_sched.get_last_lr(), rtol=1e-12, atol=1e-15)
        if i == steps:
            break
        t_opt.step()  # (torch warns when a scheduler steps before its optimiser)
        if epochs is None:
            cr_sched.step()
            t_sched.step()
        else:
            cr_sched.step(epochs[i])
            t_sched.step(epochs[i])


def compare(make, kind="sgd", steps=STEPS, epochs=None):
    """Run ``make(module, optimizer)`` from chainrule's and torch's lr_scheduler side by side."""
    cr_opt, t_opt = optimizers(kind)
    cr_sched, t_sched = make(cr.optim.lr_scheduler, cr_opt), make(torch.optim.lr_scheduler, t_opt)
    advance(cr_opt, t_opt, cr_sched, t_sched, steps, epochs)
    return cr_opt, t_opt, cr_sched, t_sched


ONE_CYCLE = {
    "defaults": lambda m, o: m.OneCycleLR(o, max_lr=1.0, total_steps=STEPS),
    "per-group-max-lr": lambda m, o: m.OneCycleLR(o, max_lr=[1.0, 0.3], total_steps=STEPS),
    "epochs-and-steps": lambda m, o: m.OneCycleLR(o, max_lr=0.8, epochs=8, steps_per_epoch=5),
    "linear": lambda m, o: m.OneCycleLR(o, max_lr=1.0, total_steps=STEPS, anneal_strategy="linear"),
    "three-phase": lambda m, o: m.OneCycleLR(o, max_lr=1.0, total_steps=STEPS, three_phase=True),
    "three-phase-linear": lambda m, o: m.OneCycleLR(
        o, max_lr=1.0, total_steps=STEPS, three_phase=True, anneal_strategy="linear", pct_start=0.25
    ),
    "divs-and-momenta": lambda m, o: m.OneCycleLR(
        o,
        max_lr=2.0,
        total_steps=STEPS,
        div_factor=5.0,
        final_div_factor=50.0,
        pct_start=0.45,
        base_momentum=[0.7, 0.8],
        max_momentum=(0.99, 0.9),
    ),  # fmt: skip
    "no-momentum-cycling": lambda m, o: m.OneCycleLR(o, max_lr=1.0, total_steps=STEPS, cycle_momentum=False),
    "pct-start-0": lambda m, o: m.OneCycleLR(o, max_lr=1.0, total_steps=STEPS, pct_start=0.0),
    "short": lambda m, o: m.OneCycleLR(o, max_lr=1.0, total_steps=3),  # (steps past 3 are an error: below)
}


@pytest.mark.parametrize("kind", ["sgd", "adam", "rmsprop"])
@pytest.mark.parametrize("name", [n for n in ONE_CYCLE if n != "short"])
def test_one_cycle_matches_torch(name, kind):
    compare(ONE_CYCLE[name], kind)


def test_one_cycle_without_momentum_cycling_on_adagrad_and_the_error_with_it():
    compare(ONE_CYCLE["no-momentum-cycling"], "adagrad")
    cr_opt, t_opt = optimizers("adagrad")
    with pytest.raises(ValueError, match="optimizer must support momentum"):
        torch.optim.lr_scheduler.OneCycleLR(t_opt, max_lr=1.0, total_steps=10)
    with pytest.raises(ValueError, match="OneCycleLR: cycle_momentum=True needs an optimizer with momentum or betas"):
        cr.optim.OneCycleLR(cr_opt, max_lr=1.0, total_steps=10)


def test_one_cycle_sgd_without_momentum_gets_momentum_as_in_torch():
    compare(ONE_CYCLE["defaults"], "sgd-no-momentum")


def test_one_cycle_steps_total_steps_times_then_refuses_as_torch():
    cr_opt, t_opt, cr_sched, t_sched = compare(ONE_CYCLE["short"], steps=3)
    with pytest.raises(ValueError, match="Tried to step 4 times"):
        t_sched.step()
    before = (hyper(cr_opt), cr_sched.state_dict())
    with pytest.raises(ValueError, match=r"OneCycleLR: stepped 4 times, past the schedule's total_steps=3"):
        cr_sched.step()
    assert (hyper(cr_opt), cr_sched.state_dict()) == before  # nothing changed: the step can be retried


@pytest.mark.parametrize(
    "kwargs",
    [dict(total_steps=10, pct_start=0.1), dict(total_steps=10, pct_start=1.0), dict(total_steps=10, pct_start=0.55,
     three_phase=True)],
    ids=["rise-of-no-step", "no-fall", "third-phase-of-no-step"],
)  # fmt: skip
def test_one_cycle_where_torch_divides_by_zero_is_a_clear_error(kwargs):
    def run(module, opt):
        sched = module.OneCycleLR(opt, max_lr=1.0, **kwargs)
        for _ in range(kwargs["total_steps"]):
            opt.step()
            sched.step()

    cr_opt, t_opt = optimizers("sgd")
    with pytest.raises(ZeroDivisionError):
        run(torch.optim.lr_scheduler, t_opt)
    with pytest.raises(ValueError, match="OneCycleLR: .*(pct_start \\* total_steps|a phase of no steps)"):
        run(cr.optim.lr_scheduler, cr_opt)


CYCLIC = {
    "triangular": lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=4),
    "triangular-asymmetric": lambda m, o: m.CyclicLR(
        o, base_lr=[0.01, 0.02], max_lr=[0.1, 0.3], step_size_up=3, step_size_down=7
    ),  # fmt: skip
    "triangular2": lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=3, mode="triangular2"),
    "exp_range": lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=5, mode="exp_range", gamma=0.97),
    "scale_fn-cycle": lambda m, o: m.CyclicLR(
        o, base_lr=0.01, max_lr=0.1, step_size_up=3, scale_fn=lambda x: 1 / x, scale_mode="cycle"
    ),  # fmt: skip
    "scale_fn-iterations": lambda m, o: m.CyclicLR(
        o, base_lr=0.01, max_lr=0.1, step_size_up=3, scale_fn=lambda x: 0.99**x, scale_mode="iterations"
    ),  # fmt: skip
    "momenta": lambda m, o: m.CyclicLR(
        o, base_lr=0.01, max_lr=0.1, step_size_up=4, base_momentum=[0.5, 0.6], max_momentum=0.95
    ),  # fmt: skip
    "float-steps": lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=2.5, step_size_down=3.5),
    "sawtooth": lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=6, step_size_down=0),
    "no-momentum-cycling": lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=4, cycle_momentum=False),
}


@pytest.mark.parametrize("kind", ["sgd", "adam"])
@pytest.mark.parametrize("name", CYCLIC)
def test_cyclic_matches_torch(name, kind):
    compare(CYCLIC[name], kind)


def test_cyclic_with_rmsprop_and_adagrad():
    compare(CYCLIC["triangular2"], "rmsprop")
    compare(CYCLIC["no-momentum-cycling"], "adagrad")


WARM_RESTARTS = {
    "T_0": lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=7),
    "T_mult": lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.01),
    "T_mult-3": lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=3, eta_min=0.001),
}


@pytest.mark.parametrize("name", WARM_RESTARTS)
def test_warm_restarts_match_torch(name):
    compare(WARM_RESTARTS[name])


@pytest.mark.parametrize("name", WARM_RESTARTS)
def test_warm_restarts_with_fractional_epochs_match_torch(name):
    batches = 4
    epochs = [epoch + i / batches for epoch in range(10) for i in range(batches)]
    compare(WARM_RESTARTS[name], steps=len(epochs), epochs=epochs)


def test_warm_restarts_interleaving_step_and_step_epoch_matches_torch():
    cr_opt, t_opt, cr_sched, t_sched = compare(WARM_RESTARTS["T_mult"], steps=5)
    advance(cr_opt, t_opt, cr_sched, t_sched, 3, epochs=[26, 3.5, 40.25])
    advance(cr_opt, t_opt, cr_sched, t_sched, 10)  # goes on from floor(40.25) + 1
    assert cr_sched.last_epoch == t_sched.last_epoch == 50


MULTIPLICATIVE = {
    "ConstantLR": lambda m, o: m.ConstantLR(o, factor=0.25, total_iters=6),
    "ConstantLR-defaults": lambda m, o: m.ConstantLR(o),
    "PolynomialLR": lambda m, o: m.PolynomialLR(o, total_iters=30, power=0.9),
    "PolynomialLR-defaults": lambda m, o: m.PolynomialLR(o),
    "PolynomialLR-quadratic": lambda m, o: m.PolynomialLR(o, total_iters=12, power=2.0),
    "MultiplicativeLR": lambda m, o: m.MultiplicativeLR(o, lambda e: 0.95),
    "MultiplicativeLR-per-group": lambda m, o: m.MultiplicativeLR(o, [lambda e: 0.9, lambda e: 1.0 + 0.01 * (e % 3)]),
}


@pytest.mark.parametrize("name", MULTIPLICATIVE)
def test_multiplicative_schedules_match_torch(name):
    compare(MULTIPLICATIVE[name])


SEQUENCES = {
    "ConstantLR-ExponentialLR": lambda m, o: m.SequentialLR(
        o, [m.ConstantLR(o, factor=0.1, total_iters=20), m.ExponentialLR(o, gamma=0.9)], milestones=[20]
    ),  # torch's documented example: the decay starts from the base rate
    "LinearLR-CosineAnnealingLR": lambda m, o: m.SequentialLR(
        o,
        [m.LinearLR(o, start_factor=0.1, total_iters=5), m.CosineAnnealingLR(o, T_max=30, eta_min=0.001)],
        milestones=[5],
    ),  # fmt: skip
    "three-with-early-switch": lambda m, o: m.SequentialLR(
        o,
        [
            m.LinearLR(o, start_factor=0.2, end_factor=0.8, total_iters=10),
            m.StepLR(o, step_size=4, gamma=0.5),
            m.MultiStepLR(o, milestones=[0, 3, 3, 9], gamma=0.5),
        ],
        milestones=[6, 20],
    ),  # fmt: skip
    "MultiplicativeLR-PolynomialLR": lambda m, o: m.SequentialLR(
        o,
        [
            m.MultiplicativeLR(o, lambda e: 0.9),
            m.MultiplicativeLR(o, lambda e: 0.8 if e == 0 else 0.97),
            m.PolynomialLR(o, total_iters=10, power=2.0),
        ],
        milestones=[8, 16],
    ),  # fmt: skip  (MultiplicativeLR started at a milestone applies lr_lambda(0), as torch's)
    "warm-restarts-after-constant": lambda m, o: m.SequentialLR(
        o,
        [m.ConstantLR(o, factor=0.5, total_iters=3), m.CosineAnnealingWarmRestarts(o, T_0=5, T_mult=2)],
        milestones=[4],
    ),  # fmt: skip
    "LambdaLR-then-cyclic": lambda m, o: m.SequentialLR(
        o,
        [m.LambdaLR(o, lambda e: (e + 1) / 5), m.CyclicLR(o, 0.05, 0.2, step_size_up=3, cycle_momentum=False)],
        milestones=[5],
    ),  # fmt: skip
    "milestone-0": lambda m, o: m.SequentialLR(
        o, [m.ConstantLR(o, factor=0.5), m.ExponentialLR(o, gamma=0.9)], milestones=[0]
    ),
    "chained-first": lambda m, o: m.SequentialLR(
        o,
        [
            m.ChainedScheduler([m.ConstantLR(o, factor=0.5, total_iters=3), m.ExponentialLR(o, gamma=0.9)]),
            m.CosineAnnealingLR(o, T_max=10),
        ],
        milestones=[12],
    ),  # fmt: skip
    "one-cycle-first": lambda m, o: m.SequentialLR(
        o, [m.OneCycleLR(o, max_lr=1.0, total_steps=20), m.ConstantLR(o, factor=0.5, total_iters=4)], milestones=[20]
    ),
}


@pytest.mark.filterwarnings(
    "ignore:Detected call of `lr_scheduler.step\\(\\)` before:UserWarning"
)  # (torch's, chained-first)
@pytest.mark.parametrize("name", SEQUENCES)
def test_sequential_matches_torch(name):
    compare(SEQUENCES[name], "adam" if name == "one-cycle-first" else "sgd")


CHAINS = {
    "ConstantLR-ExponentialLR": lambda m, o: m.ChainedScheduler(
        [m.ConstantLR(o, factor=0.1, total_iters=20), m.ExponentialLR(o, gamma=0.9)], optimizer=o
    ),  # torch's documented example
    "three": lambda m, o: m.ChainedScheduler(
        [
            m.LinearLR(o, start_factor=0.5, total_iters=4),
            m.StepLR(o, step_size=5, gamma=0.5),
            m.PolynomialLR(o, total_iters=35, power=1.5),
        ]
    ),  # fmt: skip
    "multiplicative-and-cosine": lambda m, o: m.ChainedScheduler(
        [m.MultiplicativeLR(o, lambda e: 0.99), m.CosineAnnealingLR(o, T_max=9, eta_min=0.0)]
    ),
    "sequential-inside": lambda m, o: m.ChainedScheduler(
        [
            m.SequentialLR(
                o, [m.ConstantLR(o, factor=0.5, total_iters=2), m.ExponentialLR(o, gamma=0.95)], milestones=[5]
            ),
            m.StepLR(o, step_size=7, gamma=0.5),
        ]
    ),  # fmt: skip
}


@pytest.mark.parametrize("name", CHAINS)
def test_chained_matches_torch(name):
    compare(CHAINS[name])


# ---------------------------------------------------------------- saving mid-schedule
ROUND_TRIPS = {
    "OneCycleLR": (ONE_CYCLE["three-phase"], "adam"),
    "OneCycleLR-sgd": (ONE_CYCLE["divs-and-momenta"], "sgd"),
    "CyclicLR": (CYCLIC["triangular2"], "sgd"),
    "CyclicLR-exp_range-adam": (CYCLIC["exp_range"], "adam"),
    "CyclicLR-scale_fn": (CYCLIC["scale_fn-iterations"], "sgd"),
    "CosineAnnealingWarmRestarts": (WARM_RESTARTS["T_mult"], "sgd"),
    "ConstantLR": (MULTIPLICATIVE["ConstantLR"], "sgd"),
    "PolynomialLR": (MULTIPLICATIVE["PolynomialLR"], "sgd"),
    "MultiplicativeLR": (MULTIPLICATIVE["MultiplicativeLR-per-group"], "sgd"),
    "SequentialLR": (SEQUENCES["three-with-early-switch"], "sgd"),
    "SequentialLR-restarts": (SEQUENCES["warm-restarts-after-constant"], "sgd"),
    "ChainedScheduler": (CHAINS["sequential-inside"], "sgd"),
}


@pytest.mark.parametrize("at", [3, 11, 22])
@pytest.mark.parametrize("name", ROUND_TRIPS)
def test_state_dict_mid_schedule_goes_on_as_torch(name, at):
    make, kind = ROUND_TRIPS[name]
    cr_opt, t_opt, cr_sched, t_sched = compare(make, kind, steps=at)
    saved = json.loads(json.dumps(cr_sched.state_dict()))
    saved_opt = cr_opt.state_dict()
    saved_opt = {"state": saved_opt["state"], "param_groups": json.loads(json.dumps(saved_opt["param_groups"]))}

    new_opt, _ = optimizers(kind)  # another process: fresh optimizer and scheduler, then the saved states
    new_sched = make(cr.optim.lr_scheduler, new_opt)
    new_opt.load_state_dict(saved_opt)
    new_sched.load_state_dict(saved)
    assert new_sched.state_dict() == saved
    advance(new_opt, t_opt, new_sched, t_sched, STEPS - at)


@pytest.mark.parametrize("at", [0, 7, 19])
@pytest.mark.parametrize("name", ["OneCycleLR", "CyclicLR", "CosineAnnealingWarmRestarts", "PolynomialLR",
                                  "ConstantLR", "MultiplicativeLR", "ExponentialLR", "LinearLR"])  # fmt: skip
def test_resuming_with_last_epoch_matches_torch(name, at):
    """A scheduler created with last_epoch=n on an optimizer that a first one left goes on as torch's."""
    make = {
        "OneCycleLR": lambda m, o, e: m.OneCycleLR(o, max_lr=1.0, total_steps=STEPS, three_phase=True, last_epoch=e),
        "CyclicLR": lambda m, o, e: m.CyclicLR(o, 0.01, 0.1, step_size_up=4, mode="triangular2", last_epoch=e),
        "CosineAnnealingWarmRestarts": lambda m, o, e: m.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, last_epoch=e),
        "PolynomialLR": lambda m, o, e: m.PolynomialLR(o, total_iters=30, power=2.0, last_epoch=e),
        "ConstantLR": lambda m, o, e: m.ConstantLR(o, factor=0.5, total_iters=10, last_epoch=e),
        "MultiplicativeLR": lambda m, o, e: m.MultiplicativeLR(o, lambda k: 0.9, last_epoch=e),
        "ExponentialLR": lambda m, o, e: m.ExponentialLR(o, gamma=0.9, last_epoch=e),
        "LinearLR": lambda m, o, e: m.LinearLR(o, start_factor=0.1, total_iters=25, last_epoch=e),
    }[name]
    cr_opt, t_opt, _, _ = compare(lambda m, o: make(m, o, -1), "sgd", steps=at)
    cr_sched = make(cr.optim.lr_scheduler, cr_opt, at)
    t_sched = make(torch.optim.lr_scheduler, t_opt, at)
    advance(cr_opt, t_opt, cr_sched, t_sched, STEPS // 2)


# ---------------------------------------------------------------- the same arguments refused
@pytest.mark.parametrize(
    "make",
    [
        lambda m, o: m.OneCycleLR(o, max_lr=1.0),
        lambda m, o: m.OneCycleLR(o, max_lr=1.0, epochs=3),
        lambda m, o: m.OneCycleLR(o, max_lr=1.0, total_steps=0),
        lambda m, o: m.OneCycleLR(o, max_lr=1.0, total_steps=2.5),
        lambda m, o: m.OneCycleLR(o, max_lr=1.0, epochs=0, steps_per_epoch=3),
        lambda m, o: m.OneCycleLR(o, max_lr=1.0, epochs=2, steps_per_epoch=-1),
        lambda m, o: m.OneCycleLR(o, max_lr=1.0, total_steps=10, pct_start=1.5),
        lambda m, o: m.OneCycleLR(o, max_lr=1.0, total_steps=10, anneal_strategy="cosine"),
        lambda m, o: m.OneCycleLR(o, max_lr=[1.0], total_steps=10),
        lambda m, o: m.OneCycleLR(o, max_lr=1.0, total_steps=10, max_momentum=[0.9, 0.9, 0.9]),
        lambda m, o: m.CyclicLR(o, 0.1, 1.0, mode="triangular3"),
        lambda m, o: m.CyclicLR(o, [0.1], 1.0),
        lambda m, o: m.CyclicLR(o, 0.1, [1.0, 2.0, 3.0]),
        lambda m, o: m.CyclicLR(o, 0.1, 1.0, base_momentum=[0.8]),
        lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=0),
        lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=2.0),
        lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=0),
        lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=1.5),
        lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=2, eta_min="0"),
        lambda m, o: m.ConstantLR(o, factor=1.5),
        lambda m, o: m.ConstantLR(o, factor=-0.1),
        lambda m, o: m.MultiplicativeLR(o, [lambda e: 1.0]),
    ],
)
def test_what_torch_refuses_is_refused(make):
    cr_opt, t_opt = optimizers("sgd")
    with pytest.raises((ValueError, TypeError)):
        make(torch.optim.lr_scheduler, t_opt)
    before = hyper(cr_opt)
    with pytest.raises((ValueError, TypeError)):
        make(cr.optim.lr_scheduler, cr_opt)
    assert hyper(cr_opt) == before


@pytest.mark.parametrize(
    "children, make",
    [
        (lambda m, o: [], lambda m, o, s: m.SequentialLR(o, s, milestones=[])),
        (lambda m, o: [m.ConstantLR(o), m.ConstantLR(o)], lambda m, o, s: m.SequentialLR(o, s, milestones=[])),
        (lambda m, o: [m.ConstantLR(o), m.ReduceLROnPlateau(o)], lambda m, o, s: m.SequentialLR(o, s, milestones=[3])),
        (lambda m, o: [], lambda m, o, s: m.ChainedScheduler(s)),
        (lambda m, o: [m.ConstantLR(o), m.ReduceLROnPlateau(o)], lambda m, o, s: m.ChainedScheduler(s)),
    ],
)
def test_what_torch_refuses_of_the_containers_is_refused(children, make):
    cr_opt, t_opt = optimizers("sgd")
    with pytest.raises((ValueError, TypeError)):
        make(torch.optim.lr_scheduler, t_opt, children(torch.optim.lr_scheduler, t_opt))
    inner = children(cr.optim.lr_scheduler, cr_opt)
    before = (hyper(cr_opt), [s.state_dict() for s in inner])
    with pytest.raises((ValueError, TypeError)):
        make(cr.optim.lr_scheduler, cr_opt, inner)
    assert (hyper(cr_opt), [s.state_dict() for s in inner]) == before


def test_schedulers_on_another_optimizer_are_refused_as_by_torch():
    (a, ta), (b, tb) = optimizers("sgd"), optimizers("sgd")
    for m, o1, o2 in ((torch.optim.lr_scheduler, ta, tb), (cr.optim.lr_scheduler, a, b)):
        with pytest.raises(ValueError, match="(another|same) optimizer"):
            m.SequentialLR(o1, [m.ConstantLR(o1), m.ConstantLR(o2)], milestones=[2])
        with pytest.raises(ValueError, match="(another|same) optimizer"):
            m.ChainedScheduler([m.ConstantLR(o1), m.ConstantLR(o2)])


def test_the_harness_sees_torchs_one_cycle_peak_where_the_formula_puts_it():
    """A sanity check of the harness: torch's OneCycleLR peaks at max_lr at step pct_start * total - 1."""
    _, t_opt, _, t_sched = compare(ONE_CYCLE["defaults"], steps=11)
    assert t_sched.get_last_lr()[0] == pytest.approx(1.0) and math.isclose(t_opt.param_groups[0]["momentum"], 0.85)
