"""ASGD: stochastic gradient descent with a decaying step and a running average of the weights."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from chainrule.optim import _fused
from chainrule.optim.optimizer import Group, Optimizer, ParamsLike, State, Work, _is_real, effective_grad


class ASGD(Optimizer):
    r"""Averaged stochastic gradient descent (Polyak and Juditsky, 1992) with PyTorch's update rule.

    Each parameter keeps its step size ``eta`` (starting at ``lr``), an averaging factor ``mu``
    (starting at 1) and the average ``ax``. With the gradient :math:`g` (negated when
    ``maximize``), at step t = 1, 2, ...::

        g <- g + weight_decay * theta
        theta <- theta * (1 - lambd * eta) - eta * g
        ax <- ax + mu * (theta - ax)                    (ax <- theta while mu is 1)
        eta <- lr / (1 + lambd * lr * t) ** alpha;   mu <- 1 / max(1, t - t0)

    The average ``optimizer.state[p]["ax"]`` (the mean of the iterates from step ``t0 + 2`` on) is
    what to evaluate with once averaging has started; the parameters themselves follow the plain
    decaying-step SGD. ``eta`` and ``mu`` are float64 numbers (PyTorch keeps them in the default
    dtype, float32 unless ``torch.set_default_dtype(torch.float64)``).

    Args:
        params: parameters or a list of param-group dicts.
        lr: learning rate (default 1e-2).
        lambd: decay term (default 1e-4).
        alpha: power of the step-size decay (default 0.75).
        t0: the step after which averaging starts (default 1e6).
        weight_decay: L2 penalty coefficient added to the gradient (default 0).
        maximize: climb the objective instead of descending it (default False).
        foreach, fused, capturable: PyTorch's choices of how a step runs; accepted, they change nothing
            here. differentiable: only False (the step updates the parameters outside the graph).

    Example:
        >>> import chainrule as cr
        >>> w = cr.nn.Parameter(cr.tensor([1.0, -2.0], dtype=cr.float64))
        >>> opt = cr.optim.ASGD([w], lr=0.1, lambd=0.0)
        >>> (w * w).sum().backward()
        >>> opt.step()                      # the first step is SGD's: theta - lr * g
        >>> w.numpy().round(6).tolist()
        [0.8, -1.6]
    """

    _num_work = 2
    _required_state = ("step", "eta", "mu", "ax")
    _scalar_state = ("eta", "mu")

    def __init__(
        self,
        params: ParamsLike,
        lr: float = 1e-2,
        lambd: float = 1e-4,
        alpha: float = 0.75,
        t0: float = 1e6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ):
        self._implementation_flags(foreach=foreach, capturable=capturable, differentiable=differentiable)
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _validate(self, hp: Mapping[str, Any]) -> None:
        self._check_number(hp, "lr", "learning rate")
        self._check_number(hp, "weight_decay", "weight_decay")
        for key in ("lambd", "alpha", "t0"):
            self._check(_is_real(hp[key]), key, hp[key], "a finite number")
        self._check_flag(hp, "maximize")

    def _init_state(self, param: np.ndarray, group: Mapping[str, Any]) -> dict[str, Any]:
        return {"step": 0, "eta": float(group["lr"]), "mu": 1.0, "ax": np.zeros_like(param)}

    def _update(self, param: np.ndarray, grad: np.ndarray, state: State, group: Group, work: Work) -> None:
        g_buf, tmp = work
        lr, lambd = group["lr"], group["lambd"]
        step = state["step"] = state["step"] + 1
        eta, mu, ax = state["eta"], state["mu"], state["ax"]
        if not (_fused.usable(param, grad, ax) and _fused.asgd(param, grad, state, group)):
            g = effective_grad(param, grad, group["weight_decay"], group["maximize"], g_buf)
            param *= 1 - lambd * eta
            np.multiply(g, eta, out=tmp)
            param -= tmp
            if mu != 1:
                np.subtract(param, ax, out=tmp)
                tmp *= mu
                ax += tmp
            else:
                np.copyto(ax, param)
        state["eta"] = float(lr / ((1 + lambd * lr * step) ** group["alpha"]))
        state["mu"] = float(1 / max(1, step - group["t0"]))
