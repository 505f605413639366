"""The optimisers' updates as one compiled loop per parameter (numba, the extra ``fast``).

Each loop does, element by element, the operations the NumPy code of the optimiser's ``_update``
does array by array, in the same order and the same precision (the hyper-parameters are cast to
the parameter's dtype first, in one small array, as NumPy casts a Python number against a float32
array): the result
is the same bit for bit, in one pass over memory instead of one per NumPy call.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule import kernels


def usable(param: np.ndarray, *arrays: np.ndarray | None) -> bool:
    """Whether the loops can update ``param``: numba on, a float32/float64 C-contiguous parameter
    of at least ``kernels.MIN_SIZE`` numbers (measured, float32, per call: SGD with momentum 6.0 vs
    NumPy's 5.5 us at 256 numbers and 8.1 vs 10.0 at 10,000; Adam 7.1 vs 12.6 at 256 and 12 vs 29
    at 10,000: a few microseconds, which pay numba's import only over long runs) and arrays of its
    dtype and shape, C-contiguous too."""
    if param.size < kernels.MIN_SIZE or not kernels.enabled():
        return False
    dtype, shape = param.dtype, param.shape
    if dtype not in kernels.DTYPES or not param.flags.c_contiguous:
        return False
    for a in arrays:
        if a is None or a.dtype is not dtype and a.dtype != dtype or a.shape != shape or not a.flags.c_contiguous:
            return False
    return True


def _effective(p: Any, g: Any, weight_decay: Any, decays: bool, maximize: bool) -> Any:
    """``effective_grad`` for one element (``decays``: weight_decay != 0, decided on the Python
    number: a decay that rounds to 0 in float32 still takes NumPy's branch)."""
    if decays:
        return p * weight_decay - g if maximize else p * weight_decay + g
    return -g if maximize else g


def _sgd(param, grad, buf, h, decays, maximize, damped, nesterov):  # noqa: ANN001, ANN202
    lr, momentum, damp1, weight_decay, lr_momentum = h[0], h[1], h[2], h[3], h[4]
    p_, g_, b_ = param.reshape(-1), grad.reshape(-1), buf.reshape(-1)
    if not (decays or maximize or damped or nesterov):  # the usual case, without branches: vectorised
        for i in range(p_.size):
            b = b_[i] * momentum + g_[i]
            b_[i] = b
            p_[i] = p_[i] - b * lr
        return
    for i in range(p_.size):
        g = _effective_jit(p_[i], g_[i], weight_decay, decays, maximize)
        b = b_[i] * momentum
        b = b + g * damp1 if damped else b + g
        b_[i] = b
        if nesterov:
            p = p_[i] - g * lr
            p_[i] = p - b * lr_momentum
        else:
            p_[i] = p_[i] - b * lr


def _sgd_plain(param, grad, h, decays, maximize):  # noqa: ANN001, ANN202
    lr, weight_decay = h[0], h[3]
    p_, g_ = param.reshape(-1), grad.reshape(-1)
    if not (decays or maximize):  # the usual case, without branches: vectorised
        for i in range(p_.size):
            p_[i] = p_[i] - g_[i] * lr
        return
    for i in range(p_.size):
        g = _effective_jit(p_[i], g_[i], weight_decay, decays, maximize)
        p_[i] = p_[i] - g * lr


def _adam(param, grad, m, v, vmax, h, decays, maximize, amsgrad):  # noqa: ANN001, ANN202
    lr, b1, c1, b2, c2, bias2, eps, decay, weight_decay = h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8]
    p_, g_, m_, v_, x_ = param.reshape(-1), grad.reshape(-1), m.reshape(-1), v.reshape(-1), vmax.reshape(-1)
    if not (decays or maximize or amsgrad):  # the usual case, without branches: vectorised
        for i in range(p_.size):
            p = p_[i] * decay
            g = g_[i]
            a = m_[i] * b1 + g * c1
            s = v_[i] * b2 + (g * g) * c2
            m_[i] = a
            v_[i] = s
            p_[i] = p - (a / (np.sqrt(s) / bias2 + eps)) * lr
        return
    for i in range(p_.size):
        p = p_[i] * decay  # (AdamW's decay; 1 for Adam, which changes nothing)
        g = _effective_jit(p, g_[i], weight_decay, decays, maximize)
        a = m_[i] * b1 + g * c1
        s = v_[i] * b2 + (g * g) * c2
        m_[i] = a
        v_[i] = s
        if amsgrad:
            old = x_[i]
            if not (old != old or old >= s):  # np.maximum: a NaN wins
                old = s
            x_[i] = old
            s = old
        d = np.sqrt(s) / bias2 + eps
        p_[i] = p - (a / d) * lr


def _rmsprop(param, grad, sq, avg, buf, h, decays, maximize, centered, has_momentum):  # noqa: ANN001, ANN202
    lr, alpha, c1, eps, momentum, weight_decay = h[0], h[1], h[2], h[3], h[4], h[5]
    p_, g_, q_, a_, b_ = param.reshape(-1), grad.reshape(-1), sq.reshape(-1), avg.reshape(-1), buf.reshape(-1)
    if not (decays or maximize or centered or has_momentum):  # the usual case, without branches: vectorised
        for i in range(p_.size):
            g = g_[i]
            q = q_[i] * alpha + (g * g) * c1
            q_[i] = q
            p_[i] = p_[i] - (g / (np.sqrt(q) + eps)) * lr
        return
    for i in range(p_.size):
        g = _effective_jit(p_[i], g_[i], weight_decay, decays, maximize)
        q = q_[i] * alpha + (g * g) * c1
        q_[i] = q
        if centered:
            a = a_[i] * alpha + g * c1
            a_[i] = a
            s = np.sqrt(q - a * a)
        else:
            s = np.sqrt(q)
        s = g / (s + eps)
        if has_momentum:
            b = b_[i] * momentum + s
            b_[i] = b
            s = b * lr
        else:
            s = s * lr
        p_[i] = p_[i] - s


def _adagrad(param, grad, total, h, decays, maximize):  # noqa: ANN001, ANN202
    clr, eps, weight_decay = h[0], h[1], h[2]
    p_, g_, t_ = param.reshape(-1), grad.reshape(-1), total.reshape(-1)
    if not (decays or maximize):  # the usual case, without branches: vectorised
        for i in range(p_.size):
            g = g_[i]
            t = t_[i] + g * g
            t_[i] = t
            p_[i] = p_[i] - (g / (np.sqrt(t) + eps)) * clr
        return
    for i in range(p_.size):
        g = _effective_jit(p_[i], g_[i], weight_decay, decays, maximize)
        t = t_[i] + g * g
        t_[i] = t
        p_[i] = p_[i] - (g / (np.sqrt(t) + eps)) * clr


def _nadam(param, grad, m, v, h, decays, maximize):  # noqa: ANN001, ANN202
    decay, b1, c1, b2, c2, bias2, eps, cg, cm, weight_decay = h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9]
    p_, g_, m_, v_ = param.reshape(-1), grad.reshape(-1), m.reshape(-1), v.reshape(-1)
    for i in range(p_.size):
        p = p_[i] * decay  # (the decoupled decay; 1 otherwise, which changes nothing)
        g = _effective_jit(p, g_[i], weight_decay, decays, maximize)
        a = m_[i] * b1 + g * c1
        s = v_[i] * b2 + (g * g) * c2
        m_[i] = a
        v_[i] = s
        d = np.sqrt(s / bias2) + eps
        p = p - (g / d) * cg
        p_[i] = p - (a / d) * cm


def _radam(param, grad, m, v, h, decays, maximize, rectified):  # noqa: ANN001, ANN202
    decay, b1, c1, b2, c2, eps, scale, weight_decay = h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]
    p_, g_, m_, v_ = param.reshape(-1), grad.reshape(-1), m.reshape(-1), v.reshape(-1)
    for i in range(p_.size):
        p = p_[i] * decay
        g = _effective_jit(p, g_[i], weight_decay, decays, maximize)
        a = m_[i] * b1 + g * c1
        s = v_[i] * b2 + (g * g) * c2
        m_[i] = a
        v_[i] = s
        if rectified:
            p_[i] = p - (a / (np.sqrt(s) + eps)) * scale
        else:
            p_[i] = p - a * scale


def _adamax(param, grad, m, u, h, decays, maximize):  # noqa: ANN001, ANN202
    clr, b1, c1, b2, eps, weight_decay = h[0], h[1], h[2], h[3], h[4], h[5]
    p_, g_, m_, u_ = param.reshape(-1), grad.reshape(-1), m.reshape(-1), u.reshape(-1)
    for i in range(p_.size):
        g = _effective_jit(p_[i], g_[i], weight_decay, decays, maximize)
        a = m_[i] * b1 + g * c1
        m_[i] = a
        x = u_[i] * b2
        y = np.abs(g) + eps
        if not (x != x or x >= y):  # np.maximum: a NaN wins
            x = y
        u_[i] = x
        p_[i] = p_[i] - (a / x) * clr


def _adadelta(param, grad, sq, acc, h, decays, maximize):  # noqa: ANN001, ANN202
    lr, rho, c, eps, weight_decay = h[0], h[1], h[2], h[3], h[4]
    p_, g_, q_, a_ = param.reshape(-1), grad.reshape(-1), sq.reshape(-1), acc.reshape(-1)
    for i in range(p_.size):
        g = _effective_jit(p_[i], g_[i], weight_decay, decays, maximize)
        q = q_[i] * rho + (g * g) * c
        q_[i] = q
        d = np.sqrt(a_[i] + eps) / np.sqrt(q + eps) * g
        a_[i] = a_[i] * rho + (d * d) * c
        p_[i] = p_[i] - d * lr


def _rprop(param, grad, prev, size, h, maximize):  # noqa: ANN001, ANN202
    etaminus, etaplus, low, high, one, zero = h[0], h[1], h[2], h[3], h[4], h[5]
    p_, g_, r_, s_ = param.reshape(-1), grad.reshape(-1), prev.reshape(-1), size.reshape(-1)
    for i in range(p_.size):
        g = -g_[i] if maximize else g_[i]
        f = np.sign(g * r_[i])
        if f > 0:  # the three replacements one after the other, as the NumPy code (and PyTorch's) does them
            f = etaplus
        if f < 0:
            f = etaminus
        if f == 0:
            f = one
        s = s_[i] * f
        if s < low:  # np.clip: a NaN stays
            s = low
        if s > high:
            s = high
        s_[i] = s
        if f == etaminus:
            g = zero
        p_[i] = p_[i] - np.sign(g) * s
        r_[i] = g


def _asgd(param, grad, ax, h, decays, maximize, averaging):  # noqa: ANN001, ANN202
    decay, eta, mu, weight_decay = h[0], h[1], h[2], h[3]
    p_, g_, x_ = param.reshape(-1), grad.reshape(-1), ax.reshape(-1)
    for i in range(p_.size):
        g = _effective_jit(p_[i], g_[i], weight_decay, decays, maximize)
        p = p_[i] * decay
        p = p - g * eta
        p_[i] = p
        if averaging:
            x_[i] = x_[i] + (p - x_[i]) * mu
        else:
            x_[i] = p


# The loops call ``_effective_jit``, a global numba resolves when it compiles them: _ready() makes
# it the compiled ``_effective`` before the first loop is called (and compiled).
_effective_jit: Any = _effective
SGD = kernels.Kernel(_sgd)
SGD_PLAIN = kernels.Kernel(_sgd_plain)
ADAM = kernels.Kernel(_adam)
RMSPROP = kernels.Kernel(_rmsprop)
ADAGRAD = kernels.Kernel(_adagrad)
NADAM = kernels.Kernel(_nadam)
RADAM = kernels.Kernel(_radam)
ADAMAX = kernels.Kernel(_adamax)
ADADELTA = kernels.Kernel(_adadelta)
RPROP = kernels.Kernel(_rprop)
ASGD = kernels.Kernel(_asgd)


def _ready() -> None:
    global _effective_jit
    if _effective_jit is _effective:
        import numba

        _effective_jit = numba.njit(cache=True, inline="always", error_model="numpy")(_effective)


def _plain(*values: Any) -> bool:
    """Whether every hyper-parameter is a Python number: NumPy casts those to a float32 array's
    dtype (as the loops do), but computes with a NumPy float64 scalar in float64 (NEP 50)."""
    return all(type(v) is float or type(v) is int for v in values)


def sgd(param: np.ndarray, grad: np.ndarray, buf: np.ndarray | None, group: dict) -> bool:
    """SGD's update (``buf``: the momentum buffer, None without momentum); False (nothing done)
    when a hyper-parameter is not a Python number."""
    lr, momentum, dampening, wd = group["lr"], group["momentum"], group["dampening"], group["weight_decay"]
    if not _plain(lr, momentum, dampening, wd):
        return False
    _ready()
    h = np.array((lr, momentum, 1 - dampening, wd, lr * momentum), dtype=param.dtype)
    if buf is None:
        SGD_PLAIN(param, grad, h, wd != 0, bool(group["maximize"]))
    else:
        SGD(param, grad, buf, h, wd != 0, bool(group["maximize"]), dampening != 0, bool(group["nesterov"]))
    return True


def adam(param: np.ndarray, grad: np.ndarray, state: dict, group: dict, step: int, decoupled: bool) -> bool:
    """Adam's (``decoupled``: AdamW's) update at ``step``; state holds the moment arrays. False
    (nothing done) when a hyper-parameter is not a Python number, or AdamW's decay would change
    the gradient (a gradient sharing the parameter's memory: NumPy decays before reading it)."""
    lr, wd, eps = group["lr"], group["weight_decay"], group["eps"]
    beta1, beta2 = group["betas"]
    if not _plain(lr, wd, eps, beta1, beta2):
        return False
    if decoupled and wd != 0 and np.may_share_memory(param, grad):
        return False
    _ready()
    decay = 1 - lr * wd if decoupled else 1
    step_size, bias2 = lr / (1 - beta1**step), math.sqrt(1 - beta2**step)
    h = np.array(
        (step_size, beta1, 1 - beta1, beta2, 1 - beta2, bias2, eps, decay, 0 if decoupled else wd), dtype=param.dtype
    )
    amsgrad = bool(group["amsgrad"])
    v = state["exp_avg_sq"]
    vmax = state["max_exp_avg_sq"] if amsgrad else v
    ADAM(param, grad, state["exp_avg"], v, vmax, h, not decoupled and wd != 0, bool(group["maximize"]), amsgrad)
    return True


def rmsprop(param: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> bool:
    """RMSprop's update; ``grad_avg`` and ``momentum_buffer`` are in state when their options are
    on. False (nothing done) when a hyper-parameter is not a Python number."""
    lr, alpha, eps, momentum, wd = group["lr"], group["alpha"], group["eps"], group["momentum"], group["weight_decay"]
    if not _plain(lr, alpha, eps, momentum, wd):
        return False
    _ready()
    sq = state["square_avg"]
    h = np.array((lr, alpha, 1 - alpha, eps, momentum, wd), dtype=param.dtype)
    avg, buf = state.get("grad_avg", sq), state.get("momentum_buffer", sq)
    RMSPROP(param, grad, sq, avg, buf, h, wd != 0, bool(group["maximize"]), bool(group["centered"]), momentum > 0)
    return True


def adagrad(param: np.ndarray, grad: np.ndarray, total: np.ndarray, clr: float, group: dict) -> bool:
    """Adagrad's update with the step's learning rate ``clr``; False (nothing done) when a
    hyper-parameter is not a Python number."""
    eps, wd = group["eps"], group["weight_decay"]
    if not _plain(clr, eps, wd):
        return False
    _ready()
    h = np.array((clr, eps, wd), dtype=param.dtype)
    ADAGRAD(param, grad, total, h, wd != 0, bool(group["maximize"]))
    return True


def _decoupled_decay(param: np.ndarray, grad: np.ndarray, lr: float, wd: float, decoupled: bool) -> float | None:
    """The factor a decoupled weight decay scales the parameter by first (1 without one), or None
    when the decay would change the gradient (one sharing the parameter's memory: NumPy decays
    the parameter before it reads the gradient, the loop reads each element before it writes)."""
    if not decoupled or wd == 0:
        return 1
    if np.may_share_memory(param, grad):
        return None
    return 1 - lr * wd


def nadam(param: np.ndarray, grad: np.ndarray, state: dict, group: dict, bias2: float, cg: float, cm: float) -> bool:
    """NAdam's update with the step's ``bias2 = 1 - beta2**t`` and the factors of the gradient
    (``cg``) and of the first moment (``cm``); False (nothing done) when a hyper-parameter is not a
    Python number or a decoupled decay would change the gradient."""
    lr, wd, eps = group["lr"], group["weight_decay"], group["eps"]
    beta1, beta2 = group["betas"]
    if not _plain(lr, wd, eps, beta1, beta2, cg, cm, bias2):
        return False
    decoupled = bool(group["decoupled_weight_decay"])
    decay = _decoupled_decay(param, grad, lr, wd, decoupled)
    if decay is None:
        return False
    _ready()
    h = np.array(
        (decay, beta1, 1 - beta1, beta2, 1 - beta2, bias2, eps, cg, cm, 0 if decoupled else wd), dtype=param.dtype
    )
    NADAM(param, grad, state["exp_avg"], state["exp_avg_sq"], h, not decoupled and wd != 0, bool(group["maximize"]))
    return True


def radam(param: np.ndarray, grad: np.ndarray, state: dict, group: dict, scale: float, rectified: bool) -> bool:
    """RAdam's update with the step's factor ``scale`` of the first moment (times the rectification
    and the adaptive rate when ``rectified``); False (nothing done) when a hyper-parameter is not a
    Python number or a decoupled decay would change the gradient."""
    lr, wd, eps = group["lr"], group["weight_decay"], group["eps"]
    beta1, beta2 = group["betas"]
    if not _plain(lr, wd, eps, beta1, beta2, scale):
        return False
    decoupled = bool(group["decoupled_weight_decay"])
    decay = _decoupled_decay(param, grad, lr, wd, decoupled)
    if decay is None:
        return False
    _ready()
    h = np.array((decay, beta1, 1 - beta1, beta2, 1 - beta2, eps, scale, 0 if decoupled else wd), dtype=param.dtype)
    RADAM(
        param,
        grad,
        state["exp_avg"],
        state["exp_avg_sq"],
        h,
        not decoupled and wd != 0,
        bool(group["maximize"]),
        rectified,
    )
    return True


def adamax(param: np.ndarray, grad: np.ndarray, state: dict, group: dict, clr: float) -> bool:
    """Adamax's update with the step's rate ``clr = lr / (1 - beta1**t)``; False (nothing done)
    when a hyper-parameter is not a Python number."""
    wd, eps = group["weight_decay"], group["eps"]
    beta1, beta2 = group["betas"]
    if not _plain(clr, wd, eps, beta1, beta2):
        return False
    _ready()
    h = np.array((clr, beta1, 1 - beta1, beta2, eps, wd), dtype=param.dtype)
    ADAMAX(param, grad, state["exp_avg"], state["exp_inf"], h, wd != 0, bool(group["maximize"]))
    return True


def adadelta(param: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> bool:
    """Adadelta's update; False (nothing done) when a hyper-parameter is not a Python number."""
    lr, rho, eps, wd = group["lr"], group["rho"], group["eps"], group["weight_decay"]
    if not _plain(lr, rho, eps, wd):
        return False
    _ready()
    h = np.array((lr, rho, 1 - rho, eps, wd), dtype=param.dtype)
    ADADELTA(param, grad, state["square_avg"], state["acc_delta"], h, wd != 0, bool(group["maximize"]))
    return True


def rprop(param: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> bool:
    """Rprop's update; False (nothing done) when a hyper-parameter is not a Python number."""
    etaminus, etaplus = group["etas"]
    low, high = group["step_sizes"]
    if not _plain(etaminus, etaplus, low, high):
        return False
    _ready()
    h = np.array((etaminus, etaplus, low, high, 1, 0), dtype=param.dtype)
    RPROP(param, grad, state["prev"], state["step_size"], h, bool(group["maximize"]))
    return True


def asgd(param: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> bool:
    """ASGD's update with the state's ``eta`` and ``mu``; False (nothing done) when a
    hyper-parameter is not a Python number or the gradient shares the parameter's memory (NumPy
    shrinks the parameter before it reads the gradient)."""
    lambd, wd, eta, mu = group["lambd"], group["weight_decay"], state["eta"], state["mu"]
    if not _plain(lambd, wd, eta, mu) or np.may_share_memory(param, grad):
        return False
    _ready()
    h = np.array((1 - lambd * eta, eta, mu, wd), dtype=param.dtype)
    ASGD(param, grad, state["ax"], h, wd != 0, bool(group["maximize"]), mu != 1)
    return True
