"""Shared pieces of the optimiser tests: the option combinations and a chainrule trajectory runner."""

from __future__ import annotations

from typing import Any

import numpy as np

import chainrule as cr

from . import reference

# (chainrule class name, keyword arguments, NumPy reference): every combination the tests check.
CONFIGS: list[tuple[str, dict[str, Any], Any]] = [
    ("SGD", dict(lr=0.1), reference.sgd),
    ("SGD", dict(lr=0.1, momentum=0.9), reference.sgd),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3), reference.sgd),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True), reference.sgd),
    ("SGD", dict(lr=0.1, momentum=0.8, nesterov=True, weight_decay=0.1), reference.sgd),
    ("SGD", dict(lr=0.1, weight_decay=0.05), reference.sgd),
    ("SGD", dict(lr=0.05, momentum=0.5, weight_decay=0.1, maximize=True), reference.sgd),
    ("Adam", dict(lr=0.1), reference.adam),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.9), eps=1e-6), reference.adam),
    ("Adam", dict(lr=0.1, weight_decay=0.1), reference.adam),
    ("Adam", dict(lr=0.1, amsgrad=True), reference.adam),
    ("Adam", dict(lr=0.1, amsgrad=True, weight_decay=0.05, maximize=True), reference.adam),
    ("AdamW", dict(lr=0.1), reference.adamw),
    ("AdamW", dict(lr=0.1, weight_decay=0.3, amsgrad=True), reference.adamw),
    ("AdamW", dict(lr=0.1, weight_decay=0.1, maximize=True), reference.adamw),
    ("RMSprop", dict(lr=0.01), reference.rmsprop),
    ("RMSprop", dict(lr=0.01, alpha=0.9, weight_decay=0.1), reference.rmsprop),
    ("RMSprop", dict(lr=0.01, momentum=0.9), reference.rmsprop),
    ("RMSprop", dict(lr=0.01, centered=True), reference.rmsprop),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, weight_decay=0.1, maximize=True), reference.rmsprop),
    ("Adagrad", dict(lr=0.1), reference.adagrad),
    ("Adagrad", dict(lr=0.1, lr_decay=0.1, initial_accumulator_value=0.5), reference.adagrad),
    ("Adagrad", dict(lr=0.1, weight_decay=0.1, eps=1e-6, maximize=True), reference.adagrad),
    ("NAdam", dict(), reference.nadam),
    ("NAdam", dict(lr=0.05, betas=(0.8, 0.95), momentum_decay=0.01, eps=1e-6), reference.nadam),
    ("NAdam", dict(lr=0.05, weight_decay=0.1, maximize=True), reference.nadam),
    ("NAdam", dict(lr=0.05, weight_decay=0.2, decoupled_weight_decay=True), reference.nadam),
    ("RAdam", dict(), reference.radam),
    ("RAdam", dict(lr=0.05, betas=(0.8, 0.9), eps=1e-6), reference.radam),
    ("RAdam", dict(lr=0.05, weight_decay=0.1, maximize=True), reference.radam),
    ("RAdam", dict(lr=0.05, weight_decay=0.2, decoupled_weight_decay=True), reference.radam),
    ("Adamax", dict(), reference.adamax),
    ("Adamax", dict(lr=0.05, betas=(0.8, 0.9), eps=1e-6), reference.adamax),
    ("Adamax", dict(lr=0.05, weight_decay=0.1, maximize=True), reference.adamax),
    ("Adadelta", dict(), reference.adadelta),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-4), reference.adadelta),
    ("Adadelta", dict(weight_decay=0.1, maximize=True), reference.adadelta),
    ("Rprop", dict(), reference.rprop),
    ("Rprop", dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.2)), reference.rprop),
    ("Rprop", dict(lr=0.05, maximize=True), reference.rprop),
    ("ASGD", dict(), reference.asgd),
    ("ASGD", dict(lr=0.05, lambd=0.1, alpha=0.5, t0=2, weight_decay=0.1), reference.asgd),
    ("ASGD", dict(lr=0.05, t0=0, maximize=True), reference.asgd),
]


def config_id(config: tuple[str, dict[str, Any], Any]) -> str:
    name, kwargs, _ = config
    return name + "(" + ",".join(f"{k}={v}" for k, v in kwargs.items()) + ")"


def run_chainrule(
    name: str, kwargs: dict[str, Any], params: list[np.ndarray], grads: Any, steps: int, dtype: Any = np.float64
) -> list[list[np.ndarray]]:
    """The trajectory chainrule's optimiser takes, each step's gradient set on ``p.grad`` directly."""
    ps = [cr.nn.Parameter(np.array(p, dtype=dtype)) for p in params]
    opt = getattr(cr.optim, name)(ps, **kwargs)
    trajectory = []
    for _ in range(steps):
        opt.zero_grad()
        for p, g in zip(ps, grads([p.numpy().astype(np.float64) for p in ps])):
            p.grad = cr.tensor(np.array(g, dtype=dtype))
        opt.step()
        trajectory.append([p.numpy().copy() for p in ps])
    return trajectory
