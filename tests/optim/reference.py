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


def _decay(p: np.ndarray, g: np.ndarray, lr: float, weight_decay: float, decoupled: bool):
    """The parameter and gradient after an L2 penalty in the gradient or a decoupled shrink."""
    if decoupled:
        return p * (1 - lr * weight_decay), g
    return p, g + weight_decay * p


def nadam(
    params: Arrays,
    grads: GradFn,
    steps: int,
    lr: float = 2e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0,
    momentum_decay: float = 4e-3,
    decoupled_weight_decay: bool = False,
    maximize: bool = False,
) -> list[Arrays]:
    beta1, beta2 = betas
    m: dict[int, np.ndarray] = {}
    v: dict[int, np.ndarray] = {}

    def mu(t):
        return beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))

    def update(t, i, p, g):
        g = -g if maximize else g
        p, g = _decay(p, g, lr, weight_decay, decoupled_weight_decay)
        product = math.prod(mu(k) for k in range(1, t + 1))
        m[i] = beta1 * m.get(i, 0) + (1 - beta1) * g
        v[i] = beta2 * v.get(i, 0) + (1 - beta2) * g * g
        m_hat = mu(t + 1) * m[i] / (1 - product * mu(t + 1)) + (1 - mu(t)) * g / (1 - product)
        return p - lr * m_hat / (np.sqrt(v[i] / (1 - beta2**t)) + eps)

    return _run(params, grads, steps, update)


def radam(
    params: Arrays,
    grads: GradFn,
    steps: int,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0,
    decoupled_weight_decay: bool = False,
    maximize: bool = False,
) -> list[Arrays]:
    beta1, beta2 = betas
    m: dict[int, np.ndarray] = {}
    v: dict[int, np.ndarray] = {}

    def update(t, i, p, g):
        g = -g if maximize else g
        p, g = _decay(p, g, lr, weight_decay, decoupled_weight_decay)
        m[i] = beta1 * m.get(i, 0) + (1 - beta1) * g
        v[i] = beta2 * v.get(i, 0) + (1 - beta2) * g * g
        m_hat = m[i] / (1 - beta1**t)
        rho_inf = 2 / (1 - beta2) - 1
        rho = rho_inf - 2 * t * beta2**t / (1 - beta2**t)
        if rho <= 5:
            return p - lr * m_hat
        r = math.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
        adaptive = math.sqrt(1 - beta2**t) / (np.sqrt(v[i]) + eps)
        return p - lr * m_hat * r * adaptive

    return _run(params, grads, steps, update)


def adamax(
    params: Arrays,
    grads: GradFn,
    steps: int,
    lr: float = 2e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0,
    maximize: bool = False,
) -> list[Arrays]:
    beta1, beta2 = betas
    m: dict[int, np.ndarray] = {}
    u: dict[int, np.ndarray] = {}

    def update(t, i, p, g):
        g = -g if maximize else g
        g = g + weight_decay * p
        m[i] = beta1 * m.get(i, 0) + (1 - beta1) * g
        u[i] = np.maximum(beta2 * u.get(i, 0), np.abs(g) + eps)
        return p - lr / (1 - beta1**t) * m[i] / u[i]

    return _run(params, grads, steps, update)


def adadelta(
    params: Arrays,
    grads: GradFn,
    steps: int,
    lr: float = 1.0,
    rho: float = 0.9,
    eps: float = 1e-6,
    weight_decay: float = 0,
    maximize: bool = False,
) -> list[Arrays]:
    v: dict[int, np.ndarray] = {}
    u: dict[int, np.ndarray] = {}

    def update(t, i, p, g):
        g = -g if maximize else g
        g = g + weight_decay * p
        v[i] = rho * v.get(i, 0) + (1 - rho) * g * g
        delta = np.sqrt(u.get(i, 0) + eps) / np.sqrt(v[i] + eps) * g
        u[i] = rho * u.get(i, 0) + (1 - rho) * delta * delta
        return p - lr * delta

    return _run(params, grads, steps, update)


def rprop(
    params: Arrays,
    grads: GradFn,
    steps: int,
    lr: float = 1e-2,
    etas: tuple[float, float] = (0.5, 1.2),
    step_sizes: tuple[float, float] = (1e-6, 50),
    maximize: bool = False,
) -> list[Arrays]:
    prev: dict[int, np.ndarray] = {}
    size: dict[int, np.ndarray] = {}

    def update(t, i, p, g):
        g = -g if maximize else g
        same = g * prev.get(i, 0)
        factor = np.where(same > 0, etas[1], np.where(same < 0, etas[0], 1.0))
        size[i] = np.clip(size.get(i, np.full_like(p, lr)) * factor, *step_sizes)
        g = np.where(same < 0, 0.0, g)
        prev[i] = g
        return p - np.sign(g) * size[i]

    return _run(params, grads, steps, update)


def asgd(
    params: Arrays,
    grads: GradFn,
    steps: int,
    lr: float = 1e-2,
    lambd: float = 1e-4,
    alpha: float = 0.75,
    t0: float = 1e6,
    weight_decay: float = 0,
    maximize: bool = False,
    averages: dict[int, list[np.ndarray]] | None = None,
) -> list[Arrays]:
    """ASGD's trajectory; ``averages``, when given, receives each parameter's average ``ax`` per step."""
    averages = {} if averages is None else averages

    def update(t, i, p, g):
        g = -g if maximize else g
        g = g + weight_decay * p
        eta = lr / (1 + lambd * lr * (t - 1)) ** alpha
        p = p * (1 - lambd * eta) - eta * g
        mu = 1 / max(1, t - 1 - t0)  # the weight of the newest iterate in the average: 1 until step t0 + 1
        history = averages.setdefault(i, [])
        ax = p.copy() if mu == 1 else history[-1] + mu * (p - history[-1])
        history.append(ax)
        return p

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
