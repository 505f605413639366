"""Adadelta: step sizes from running averages of squared gradients and of squared updates."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from chainrule.optim import _fused
from chainrule.optim.optimizer import Group, Optimizer, ParamsLike, State, Work, effective_grad


class Adadelta(Optimizer):
    r"""Adadelta (Zeiler, 2012) with PyTorch's update rule.

    For each parameter :math:`\theta` with gradient :math:`g` (negated when ``maximize``)::

        g <- g + weight_decay * theta
        v <- rho * v + (1 - rho) * g**2
        d = sqrt(u + eps) / sqrt(v + eps) * g
        u <- rho * u + (1 - rho) * d**2
        theta <- theta - lr * d

    Args:
        params: parameters or a list of param-group dicts.
        lr: factor of the update (default 1.0).
        rho: decay rate of the running averages (default 0.9).
        eps: added inside both square roots (default 1e-6).
        weight_decay: L2 penalty coefficient added to the gradient (default 0).
        maximize: climb the objective instead of descending it (default False).
        foreach, fused, capturable: PyTorch's choices of how a step runs; accepted, they change nothing
            here. differentiable: only False (the step updates the parameters outside the graph).

    Example:
        >>> import chainrule as cr
        >>> w = cr.nn.Parameter(cr.tensor([1.0, -2.0], dtype=cr.float64))
        >>> opt = cr.optim.Adadelta([w], lr=1.0)
        >>> (w * w).sum().backward()
        >>> opt.step()                      # the first step is about sqrt(eps / (1 - rho)) per weight
        >>> w.numpy().round(4).tolist()
        [0.9968, -1.9968]
    """

    _num_work = 3
    _required_state = ("step", "square_avg", "acc_delta")

    def __init__(
        self,
        params: ParamsLike,
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        capturable: bool = False,
        maximize: bool = False,
        differentiable: bool = False,
    ):
        self._implementation_flags(foreach=foreach, capturable=capturable, differentiable=differentiable)
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _validate(self, hp: Mapping[str, Any]) -> None:
        self._check_number(hp, "lr", "learning rate")
        self._check_number(hp, "rho", "rho value", 0.0, 1.0)
        self._check_number(hp, "eps", "epsilon value")
        self._check_number(hp, "weight_decay", "weight_decay")
        self._check_flag(hp, "maximize")

    def _init_state(self, param: np.ndarray, group: Mapping[str, Any]) -> dict[str, Any]:
        return {"step": 0, "square_avg": np.zeros_like(param), "acc_delta": np.zeros_like(param)}

    def _update(self, param: np.ndarray, grad: np.ndarray, state: State, group: Group, work: Work) -> None:
        g_buf, tmp, delta = work
        rho, eps = group["rho"], group["eps"]
        state["step"] += 1
        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        if _fused.usable(param, grad, square_avg, acc_delta):
            if _fused.adadelta(param, grad, state, group):
                return
        g = effective_grad(param, grad, group["weight_decay"], group["maximize"], g_buf)
        square_avg *= rho
        np.multiply(g, g, out=tmp)
        tmp *= 1 - rho
        square_avg += tmp
        np.add(square_avg, eps, out=tmp)
        np.sqrt(tmp, out=tmp)  # the gradient's RMS
        np.add(acc_delta, eps, out=delta)
        np.sqrt(delta, out=delta)  # the updates' RMS
        delta /= tmp
        delta *= g
        acc_delta *= rho
        np.multiply(delta, delta, out=tmp)
        tmp *= 1 - rho
        acc_delta += tmp
        delta *= group["lr"]
        param -= delta
