"""NumPy references for the optimiser tests, written from the published update equations.

Each reference is out of place and float64: it takes the initial parameters and a gradient
function and returns the parameters after every step. The small problem is least squares,
``mean((X @ W + b - Y) ** 2)``, whose gradient is written out by hand so the optimiser tests do
not depend on chainrule's autograd.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

Arrays = list[np.ndarray]
GradFn = Callable[[Arrays], Arrays]


def problem(seed: int = 0) -> tuple[Arrays, GradFn]:
    """Initial parameters [W (3, 2), b (2,)] and the least-squares gradient function."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(8, 3))
    Y = rng.normal(size=(8, 2))
    params = [rng.normal(size=(3, 2)), rng.normal(size=2)]

    def grads(ps: Arrays) -> Arrays:
        W, b = ps
        r = X @ W + b - Y
        return [2 * X.T @ r / r.size, 2 * r.sum(axis=0) / r.size]

    return params, grads


def _run(
    params: Arrays, grads: GradFn, steps: int, update: Callable[[int, int, np.ndarray, np.ndarray], np.ndarray]
) -> list[Arrays]:
    params = [p.copy() for p in params]
    trajectory = []
    for t in range(1, steps + 1):
        gs = grads(params)
        params = [update(t, i, p, g) for i, (p, g) in enumerate(zip(params, gs))]
        trajectory.append([p.copy() for p in params])
    return trajectory


def sgd(
    params: Arrays,
    grads: GradFn,
    steps: int,
    lr: float,
    momentum: float = 0,
    dampening: float = 0,
    weight_decay: float = 0,
    nesterov: bool = False,
    maximize: bool = False,
) -> list[Arrays]:
    buffers: dict[int, np.ndarray] = {}

    def update(t, i, p, g):
        g = -g if maximize else g
        g = g + weight_decay * p
        if momentum != 0:
            buffers[i] = g.copy() if i not in buffers else momentum * buffers[i] + (1 - dampening) * g
            g = g + momentum * buffers[i] if nesterov else buffers[i]
        return p - lr * g

    return _run(params, grads, steps, update)


def adam(
    params: Arrays,
    grads: GradFn,
    steps: int,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0,
    amsgrad: bool = False,
    maximize: bool = False,
    decoupled: bool = False,
) -> list[Arrays]:
    beta1, beta2 = betas
    m: dict[int, np.ndarray] = {}
    v: dict[int, np.ndarray] = {}
    v_max: dict[int, np.ndarray] = {}

    def update(t, i, p, g):
        g = -g if maximize else g
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m[i] = beta1 * m.get(i, 0) + (1 - beta1) * g
        v[i] = beta2 * v.get(i, 0) + (1 - beta2) * g * g
        m_hat = m[i] / (1 - beta1**t)
        if amsgrad:
            v_max[i] = np.maximum(v_max.get(i, 0), v[i])
            v_hat = v_max[i] / (1 - beta2**t)
        else:
            v_hat = v[i] / (1 - beta2**t)
        return p - lr * m_hat / (np.sqrt(v_hat) + eps)

    return _run(params, grads, steps, update)


def adamw(params: Arrays, grads: GradFn, steps: int, weight_decay: float = 1e-2, **kwargs) -> list[Arrays]:
    return adam(params, grads, steps, weight_decay=weight_decay, decoupled=True, **kwargs)


def rmsprop(
    params: Arrays,
    grads: GradFn,
    steps: int,
    lr: float = 1e-2,
    alpha: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0,
    momentum: float = 0,
    centered: bool = False,
    maximize: bool = False,
) -> list[Arrays]:
    v: dict[int, np.ndarray] = {}
    avg: dict[int, np.ndarray] = {}
    buf: dict[int, np.ndarray] = {}

    def update(t, i, p, g):
        g = -g if maximize else g
        g = g + weight_decay * p
        v[i] = alpha * v.get(i, 0) + (1 - alpha) * g * g
        if centered:
            avg[i] = alpha * avg.get(i, 0) + (1 - alpha) * g
            s = np.sqrt(v[i] - avg[i] ** 2) + eps
        else:
            s = np.sqrt(v[i]) + eps
        if momentum > 0:
            buf[i] = momentum * buf.get(i, 0) + g / s
            return p - lr * buf[i]
        return p - lr * g / s

    return _run(params, grads, steps, update)


def adagrad(
    params: Arrays,
    grads: GradFn,
    steps: int,
    lr: float = 1e-2,
    lr_decay: float = 0,
    weight_decay: float = 0,
    initial_accumulator_value: float = 0,
    eps: float = 1e-10,
    maximize: bool = False,
) -> list[Arrays]:
    total: dict[int, np.ndarray] = {}

    def update(t, i, p, g):
        g = -g if maximize else g
        g = g + weight_decay * p
        total[i] = total.get(i, initial_accumulator_value) + g * g
        clr = lr / (1 + (t - 1) * lr_decay)
        return p - clr * g / (np.sqrt(total[i]) + eps)

    return _run(params, grads, steps, update)


def cosine(base: float, eta_min: float, T_max: int, epoch: int) -> float:
    """The closed-form cosine annealing rate."""
    return eta_min + (base - eta_min) * (1 + math.cos(math.pi * epoch / T_max)) / 2


def warm_restarts(base: float, eta_min: float, T_0: int, T_mult: int, epoch: float) -> float:
    """SGDR's rate at ``epoch`` (fractional allowed): find the cycle by walking its boundaries."""
    start, length = 0, T_0
    while epoch >= start + length:
        start, length = start + length, length * T_mult
    return cosine(base, eta_min, length, epoch - start)


def cyclic(base: float, top: float, step_size: int, iteration: int, mode: str = "triangular", gamma: float = 1.0):
    """Smith's cyclical rate (the paper's formula, equal halves) and the factor of its height in [0, 1]."""
    cycle = math.floor(1 + iteration / (2 * step_size))
    x = abs(iteration / step_size - 2 * cycle + 1)
    scale = {"triangular": 1.0, "triangular2": 1 / 2 ** (cycle - 1), "exp_range": gamma**iteration}[mode]
    height = max(0.0, 1 - x) * scale
    return base + (top - base) * height, height


def one_cycle(
    step: int,
    total: int,
    max_lr: float,
    pct_start: float = 0.3,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
    three_phase: bool = False,
    linear: bool = False,
    momenta: tuple[float, float] = (0.85, 0.95),
) -> tuple[float, float]:
    """The 1cycle rate and momentum at ``step``: interpolation between knots, by half cosines or lines."""
    start = max_lr / div_factor
    low = start / final_div_factor
    base_m, max_m = momenta
    peak = pct_start * total - 1
    if three_phase:
        knots = [0.0, peak, 2 * pct_start * total - 2, total - 1]
        lrs, ms = [start, max_lr, start, low], [max_m, base_m, max_m, max_m]
    else:
        knots, lrs, ms = [0.0, peak, total - 1], [start, max_lr, low], [max_m, base_m, max_m]
    i = next((k for k in range(1, len(knots) - 1) if step <= knots[k]), len(knots) - 1)
    frac = (step - knots[i - 1]) / (knots[i] - knots[i - 1])
    weight = frac if linear else (1 - math.cos(math.pi * frac)) / 2  # how far from the knot before
    return lrs[i - 1] + (lrs[i] - lrs[i - 1]) * weight, ms[i - 1] + (ms[i] - ms[i - 1]) * weight
