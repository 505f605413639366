"""RAdam: Adam whose adaptive rate is switched on gradually, as its variance estimate settles."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from chainrule.optim import _fused
from chainrule.optim.optimizer import Group, Optimizer, ParamsLike, State, Work, effective_grad


class RAdam(Optimizer):
    r"""RAdam (Liu et al., 2020) with PyTorch's update rule.

    For each parameter :math:`\theta` with gradient :math:`g` (negated when ``maximize``), at step
    t = 1, 2, ...::

        theta <- theta * (1 - lr * weight_decay)   if decoupled_weight_decay   else   g <- g + weight_decay * theta
        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g**2
        rho_inf = 2 / (1 - beta2) - 1;   rho_t = rho_inf - 2 t beta2**t / (1 - beta2**t)
        if rho_t > 5:  r = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
                       theta <- theta - lr * m / (1 - beta1**t) * r * sqrt(1 - beta2**t) / (sqrt(v) + eps)
        else:          theta <- theta - lr * m / (1 - beta1**t)          (SGD with momentum, at first)

    Args:
        params: parameters or a list of param-group dicts.
        lr: learning rate (default 1e-3).
        betas: decay rates of the running averages of the gradient and its square (default (0.9, 0.999)).
        eps: added to the denominator for numerical stability (default 1e-8).
        weight_decay: weight decay coefficient (default 0): an L2 penalty in the gradient, or a
            direct shrink of the weights with ``decoupled_weight_decay`` (RAdamW).
        decoupled_weight_decay: shrink the weights as AdamW does instead (default False).
        maximize: climb the objective instead of descending it (default False).
        foreach, fused, capturable: PyTorch's choices of how a step runs; accepted, they change nothing
            here. differentiable: only False (the step updates the parameters outside the graph).

    Example:
        >>> import chainrule as cr
        >>> w = cr.nn.Parameter(cr.tensor([1.0, -2.0], dtype=cr.float64))
        >>> opt = cr.optim.RAdam([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> opt.step()                      # the first steps are momentum SGD: theta - lr * g
        >>> w.numpy().round(6).tolist()
        [0.8, -1.6]
    """

    _num_work = 2
    _required_state = ("step", "exp_avg", "exp_avg_sq")

    def __init__(
        self,
        params: ParamsLike,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ):
        self._implementation_flags(foreach=foreach, capturable=capturable, differentiable=differentiable)
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            decoupled_weight_decay=decoupled_weight_decay,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _validate(self, hp: Mapping[str, Any]) -> None:
        self._check_number(hp, "lr", "learning rate")
        self._check_number(hp, "eps", "epsilon value")
        self._check_betas(hp)
        self._check_number(hp, "weight_decay", "weight_decay")
        self._check_flag(hp, "decoupled_weight_decay")
        self._check_flag(hp, "maximize")

    def _init_state(self, param: np.ndarray, group: Mapping[str, Any]) -> dict[str, Any]:
        return {"step": 0, "exp_avg": np.zeros_like(param), "exp_avg_sq": np.zeros_like(param)}

    def _update(self, param: np.ndarray, grad: np.ndarray, state: State, group: Group, work: Work) -> None:
        g_buf, tmp = work
        lr, weight_decay = group["lr"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        step = state["step"] = state["step"] + 1
        bias1, bias2 = 1 - beta1**step, 1 - beta2**step
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * beta2**step / bias2
        rectified = rho_t > 5.0
        if rectified:
            rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            scale = lr / bias1 * rect * math.sqrt(bias2)
        else:
            scale = lr / bias1
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        if _fused.usable(param, grad, exp_avg, exp_avg_sq):
            if _fused.radam(param, grad, state, group, scale, rectified):
                return
        if group["decoupled_weight_decay"]:
            if weight_decay != 0:
                param *= 1 - lr * weight_decay
            g = effective_grad(param, grad, 0, group["maximize"], g_buf)
        else:
            g = effective_grad(param, grad, weight_decay, group["maximize"], g_buf)
        exp_avg *= beta1
        np.multiply(g, 1 - beta1, out=tmp)
        exp_avg += tmp
        exp_avg_sq *= beta2
        np.multiply(g, g, out=tmp)
        tmp *= 1 - beta2
        exp_avg_sq += tmp
        if rectified:
            np.sqrt(exp_avg_sq, out=tmp)
            tmp += group["eps"]
            np.divide(exp_avg, tmp, out=tmp)
            tmp *= scale
        else:
            np.multiply(exp_avg, scale, out=tmp)
        param -= tmp
