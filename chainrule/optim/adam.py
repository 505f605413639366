"""Adam and AdamW: adaptive moment estimation, with L2 or decoupled weight decay."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from chainrule.optim import _fused
from chainrule.optim.optimizer import Group, Optimizer, ParamsLike, State, Work, effective_grad


class Adam(Optimizer):
    r"""Adam (Kingma and Ba, 2015) with PyTorch's update rule.

    For each parameter :math:`\theta` with gradient :math:`g` (negated when ``maximize``), at step
    t = 1, 2, ...::

        g <- g + weight_decay * theta                (Adam: L2 penalty in the gradient)
        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g**2
        v_max <- max(v_max, v)   and use v_max for v   if amsgrad
        theta <- theta - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    Args:
        params: parameters or a list of param-group dicts.
        lr: learning rate (default 1e-3).
        betas: decay rates of the running averages of the gradient and its square (default (0.9, 0.999)).
        eps: added to the denominator for numerical stability (default 1e-8).
        weight_decay: L2 penalty coefficient added to the gradient (default 0).
        amsgrad: use the running maximum of ``v`` (AMSGrad, Reddi et al. 2018; default False).
        maximize: climb the objective instead of descending it (default False).
        foreach, fused, capturable: PyTorch's choices of how a step runs; accepted, they change nothing
            here. differentiable: only False (the step updates the parameters outside the graph).
        decoupled_weight_decay: shrink the weights directly, as ``AdamW`` (default False).

    Example:
        >>> import chainrule as cr
        >>> w = cr.nn.Parameter(cr.tensor([1.0, -2.0], dtype=cr.float64))
        >>> opt = cr.optim.Adam([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> opt.step()                      # the first step moves each weight by about lr
        >>> w.numpy().round(6).tolist()
        [0.9, -1.9]
    """

    _num_work = 2
    _required_state = ("step", "exp_avg", "exp_avg_sq")
    _optional_state = ("max_exp_avg_sq",)

    def __init__(
        self,
        params: ParamsLike,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ):
        self._implementation_flags(foreach=foreach, fused=fused, capturable=capturable, differentiable=differentiable)
        defaults = dict(
            lr=lr,
            betas=tuple(betas) if isinstance(betas, list) else betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            # a group's setting, as PyTorch's (saved with the state): True is AdamW's update
            decoupled_weight_decay=decoupled_weight_decay,
        )
        super().__init__(params, defaults)

    def _validate(self, hp: Mapping[str, Any]) -> None:
        self._check_number(hp, "lr", "learning rate")
        self._check_betas(hp)
        self._check_number(hp, "eps", "epsilon value")
        self._check_number(hp, "weight_decay", "weight_decay")
        self._check_flag(hp, "amsgrad")
        self._check_flag(hp, "maximize")
        self._check_flag(hp, "decoupled_weight_decay")

    def _init_state(self, param: np.ndarray, group: Mapping[str, Any]) -> dict[str, Any]:
        state: dict[str, Any] = {"step": 0, "exp_avg": np.zeros_like(param), "exp_avg_sq": np.zeros_like(param)}
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = np.zeros_like(param)
        return state

    def _update(self, param: np.ndarray, grad: np.ndarray, state: State, group: Group, work: Work) -> None:
        g_buf, tmp = work
        lr = group["lr"]
        beta1, beta2 = group["betas"]
        weight_decay = group["weight_decay"]
        step = state["step"] = state["step"] + 1
        if group["amsgrad"] and state.get("max_exp_avg_sq") is None:
            state["max_exp_avg_sq"] = np.zeros_like(param)
        if _fused.usable(param, grad, state["exp_avg"], state["exp_avg_sq"], state.get("max_exp_avg_sq", param)):
            if _fused.adam(param, grad, state, group, step, group["decoupled_weight_decay"]):
                return
        if group["decoupled_weight_decay"]:
            if weight_decay != 0:
                param *= 1 - lr * weight_decay
            g = effective_grad(param, grad, 0, group["maximize"], g_buf)
        else:
            g = effective_grad(param, grad, weight_decay, group["maximize"], g_buf)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg *= beta1
        np.multiply(g, 1 - beta1, out=tmp)
        exp_avg += tmp
        exp_avg_sq *= beta2
        np.multiply(g, g, out=tmp)
        tmp *= 1 - beta2
        exp_avg_sq += tmp
        if group["amsgrad"]:
            v = state["max_exp_avg_sq"]
            np.maximum(v, exp_avg_sq, out=v)
        else:
            v = exp_avg_sq
        step_size = lr / (1 - beta1**step)
        denom = g_buf  # g is no longer needed
        np.sqrt(v, out=denom)
        denom /= math.sqrt(1 - beta2**step)
        denom += group["eps"]
        np.divide(exp_avg, denom, out=denom)
        denom *= step_size
        param -= denom


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov and Hutter, 2019), PyTorch's update rule.

    The weights shrink directly, ``theta <- theta * (1 - lr * weight_decay)``, before the Adam
    step on the plain gradient, rather than the penalty entering the gradient (and so being
    rescaled by Adam's denominator).

    Args:
        params: parameters or a list of param-group dicts.
        lr: learning rate (default 1e-3).
        betas: decay rates of the running averages of the gradient and its square (default (0.9, 0.999)).
        eps: added to the denominator for numerical stability (default 1e-8).
        weight_decay: decoupled weight decay coefficient (default 1e-2).
        amsgrad: use the running maximum of the squared-gradient average (default False).
        maximize: climb the objective instead of descending it (default False).
        foreach, fused, capturable: PyTorch's choices of how a step runs; accepted, they change nothing
            here. differentiable: only False (the step updates the parameters outside the graph).

    Example:
        >>> import chainrule as cr
        >>> w = cr.nn.Parameter(cr.tensor([1.0, -2.0], dtype=cr.float64))
        >>> opt = cr.optim.AdamW([w], lr=0.1, weight_decay=0.5)
        >>> (w * w).sum().backward()
        >>> opt.step()                      # shrink by 1 - 0.1 * 0.5, then the Adam step
        >>> w.numpy().round(6).tolist()
        [0.85, -1.8]
    """

    def __init__(
        self,
        params: ParamsLike,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ):
        super().__init__(
            params,
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            foreach=foreach,
            maximize=maximize,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=True,
        )
