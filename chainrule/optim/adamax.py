"""Adamax: Adam with the infinity norm of past gradients in place of their root mean square."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from chainrule.optim import _fused
from chainrule.optim.optimizer import Group, Optimizer, ParamsLike, State, Work, effective_grad


class Adamax(Optimizer):
    r"""Adamax (Kingma and Ba, 2015, section 7) with PyTorch's update rule.

    For each parameter :math:`\theta` with gradient :math:`g` (negated when ``maximize``), at step
    t = 1, 2, ...::

        g <- g + weight_decay * theta
        m <- beta1 * m + (1 - beta1) * g
        u <- max(beta2 * u, |g| + eps)
        theta <- theta - lr / (1 - beta1**t) * m / u

    Args:
        params: parameters or a list of param-group dicts.
        lr: learning rate (default 2e-3).
        betas: decay rates of the running average of the gradient and of the infinity norm
            (default (0.9, 0.999)).
        eps: added to ``|g|`` for numerical stability (default 1e-8).
        weight_decay: L2 penalty coefficient added to the gradient (default 0).
        maximize: climb the objective instead of descending it (default False).
        foreach, fused, capturable: PyTorch's choices of how a step runs; accepted, they change nothing
            here. differentiable: only False (the step updates the parameters outside the graph).

    Example:
        >>> import chainrule as cr
        >>> w = cr.nn.Parameter(cr.tensor([1.0, -2.0], dtype=cr.float64))
        >>> opt = cr.optim.Adamax([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> opt.step()                      # the first step moves each weight by lr
        >>> w.numpy().round(6).tolist()
        [0.9, -1.9]
    """

    _num_work = 2
    _required_state = ("step", "exp_avg", "exp_inf")

    def __init__(
        self,
        params: ParamsLike,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ):
        self._implementation_flags(foreach=foreach, capturable=capturable, differentiable=differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _validate(self, hp: Mapping[str, Any]) -> None:
        self._check_number(hp, "lr", "learning rate")
        self._check_number(hp, "eps", "epsilon value")
        self._check_betas(hp)
        self._check_number(hp, "weight_decay", "weight_decay")
        self._check_flag(hp, "maximize")

    def _init_state(self, param: np.ndarray, group: Mapping[str, Any]) -> dict[str, Any]:
        return {"step": 0, "exp_avg": np.zeros_like(param), "exp_inf": np.zeros_like(param)}

    def _update(self, param: np.ndarray, grad: np.ndarray, state: State, group: Group, work: Work) -> None:
        g_buf, tmp = work
        beta1, beta2 = group["betas"]
        step = state["step"] = state["step"] + 1
        clr = group["lr"] / (1 - beta1**step)
        exp_avg, exp_inf = state["exp_avg"], state["exp_inf"]
        if _fused.usable(param, grad, exp_avg, exp_inf):
            if _fused.adamax(param, grad, state, group, clr):
                return
        g = effective_grad(param, grad, group["weight_decay"], group["maximize"], g_buf)
        exp_avg *= beta1
        np.multiply(g, 1 - beta1, out=tmp)
        exp_avg += tmp
        exp_inf *= beta2
        np.abs(g, out=tmp)
        tmp += group["eps"]
        np.maximum(exp_inf, tmp, out=exp_inf)
        np.divide(exp_avg, exp_inf, out=tmp)
        tmp *= clr
        param -= tmp
