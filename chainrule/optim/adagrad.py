"""Adagrad: per-coordinate learning rates from the sum of all past squared gradients."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from chainrule.optim import _fused
from chainrule.optim.optimizer import Group, Optimizer, ParamsLike, State, Work, effective_grad


class Adagrad(Optimizer):
    r"""Adagrad (Duchi, Hazan and Singer, 2011) with PyTorch's update rule.

    For each parameter :math:`\theta` with gradient :math:`g` (negated when ``maximize``), at step
    t = 1, 2, ...::

        g <- g + weight_decay * theta
        s <- s + g**2                      (s starts at initial_accumulator_value)
        theta <- theta - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(s) + eps)

    Args:
        params: parameters or a list of param-group dicts.
        lr: learning rate (default 1e-2).
        lr_decay: learning-rate decay per step (default 0).
        weight_decay: L2 penalty coefficient added to the gradient (default 0).
        initial_accumulator_value: starting value of the sum of squared gradients (default 0).
        eps: added to the denominator for numerical stability (default 1e-10).
        maximize: climb the objective instead of descending it (default False).
        foreach, fused, capturable: PyTorch's choices of how a step runs; accepted, they change nothing
            here. differentiable: only False (the step updates the parameters outside the graph).

    Example:
        >>> import chainrule as cr
        >>> w = cr.nn.Parameter(cr.tensor([1.0, -2.0], dtype=cr.float64))
        >>> opt = cr.optim.Adagrad([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> opt.step()                      # the first step moves each weight by lr
        >>> w.numpy().round(6).tolist()
        [0.9, -1.9]
    """

    _num_work = 2
    _required_state = ("step", "sum")

    def __init__(
        self,
        params: ParamsLike,
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ):
        self._implementation_flags(foreach=foreach, fused=fused, differentiable=differentiable)
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            eps=eps,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _validate(self, hp: Mapping[str, Any]) -> None:
        self._check_number(hp, "lr", "learning rate")
        self._check_number(hp, "lr_decay", "lr_decay")
        self._check_number(hp, "weight_decay", "weight_decay")
        self._check_number(hp, "initial_accumulator_value", "initial_accumulator_value")
        self._check_number(hp, "eps", "epsilon value")
        self._check_flag(hp, "maximize")

    def _init_state(self, param: np.ndarray, group: Mapping[str, Any]) -> dict[str, Any]:
        return {"step": 0, "sum": np.full_like(param, group["initial_accumulator_value"])}

    def _update(self, param: np.ndarray, grad: np.ndarray, state: State, group: Group, work: Work) -> None:
        g_buf, tmp = work
        step = state["step"] = state["step"] + 1
        clr = group["lr"] / (1 + (step - 1) * group["lr_decay"])
        total = state["sum"]
        if _fused.usable(param, grad, total):
            if _fused.adagrad(param, grad, total, clr, group):
                return
        g = effective_grad(param, grad, group["weight_decay"], group["maximize"], g_buf)
        np.multiply(g, g, out=tmp)
        total += tmp
        np.sqrt(total, out=tmp)
        tmp += group["eps"]
        np.divide(g, tmp, out=tmp)
        tmp *= clr
        param -= tmp
