"""RMSprop: divide the gradient by a running root-mean-square of recent gradients."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from chainrule.optim import _fused
from chainrule.optim.optimizer import Group, Optimizer, ParamsLike, State, Work, effective_grad


class RMSprop(Optimizer):
    r"""RMSprop (Hinton's lecture notes; centered form from Graves, 2013) with PyTorch's update rule.

    For each parameter :math:`\theta` with gradient :math:`g` (negated when ``maximize``)::

        g <- g + weight_decay * theta
        v <- alpha * v + (1 - alpha) * g**2
        if centered:  a <- alpha * a + (1 - alpha) * g;   s = sqrt(v - a**2) + eps
        else:         s = sqrt(v) + eps
        if momentum > 0:  b <- momentum * b + g / s;   theta <- theta - lr * b
        else:             theta <- theta - lr * g / s

    The square root is taken before eps is added (TensorFlow adds eps inside the root).

    Args:
        params: parameters or a list of param-group dicts.
        lr: learning rate (default 1e-2).
        alpha: smoothing constant of the running averages (default 0.99).
        eps: added to the denominator for numerical stability (default 1e-8).
        weight_decay: L2 penalty coefficient added to the gradient (default 0).
        momentum: momentum factor (default 0).
        centered: normalise by an estimate of the gradient's variance instead of its second moment
            (default False).
        maximize: climb the objective instead of descending it (default False).
        foreach, fused, capturable: PyTorch's choices of how a step runs; accepted, they change nothing
            here. differentiable: only False (the step updates the parameters outside the graph).

    Example:
        >>> import chainrule as cr
        >>> w = cr.nn.Parameter(cr.tensor([1.0, -2.0], dtype=cr.float64))
        >>> opt = cr.optim.RMSprop([w], lr=0.01)
        >>> (w * w).sum().backward()
        >>> opt.step()                      # the first step is lr / sqrt(1 - alpha) = 0.1 per weight
        >>> w.numpy().round(6).tolist()
        [0.9, -1.9]
    """

    _num_work = 2
    _required_state = ("step", "square_avg")
    _optional_state = ("momentum_buffer", "grad_avg")

    def __init__(
        self,
        params: ParamsLike,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ):
        self._implementation_flags(foreach=foreach, capturable=capturable, differentiable=differentiable)
        defaults = dict(
            lr=lr,
            alpha=alpha,
            eps=eps,
            weight_decay=weight_decay,
            momentum=momentum,
            centered=centered,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _validate(self, hp: Mapping[str, Any]) -> None:
        self._check_number(hp, "lr", "learning rate")
        self._check_number(hp, "alpha", "alpha value", 0.0, 1.0)
        self._check_number(hp, "eps", "epsilon value")
        self._check_number(hp, "weight_decay", "weight_decay")
        self._check_number(hp, "momentum", "momentum")
        self._check_flag(hp, "centered")
        self._check_flag(hp, "maximize")

    def _init_state(self, param: np.ndarray, group: Mapping[str, Any]) -> dict[str, Any]:
        state: dict[str, Any] = {"step": 0, "square_avg": np.zeros_like(param)}
        if group["momentum"] > 0:
            state["momentum_buffer"] = np.zeros_like(param)
        if group["centered"]:
            state["grad_avg"] = np.zeros_like(param)
        return state

    def _update(self, param: np.ndarray, grad: np.ndarray, state: State, group: Group, work: Work) -> None:
        g_buf, tmp = work
        alpha = group["alpha"]
        momentum = group["momentum"]
        state["step"] += 1
        if group["centered"]:
            _state_array(state, "grad_avg", param)
        if momentum > 0:
            _state_array(state, "momentum_buffer", param)
        if _fused.usable(
            param, grad, state["square_avg"], state.get("grad_avg", param), state.get("momentum_buffer", param)
        ):
            if _fused.rmsprop(param, grad, state, group):
                return
        g = effective_grad(param, grad, group["weight_decay"], group["maximize"], g_buf)
        square_avg = state["square_avg"]
        square_avg *= alpha
        np.multiply(g, g, out=tmp)
        tmp *= 1 - alpha
        square_avg += tmp
        if group["centered"]:
            grad_avg = _state_array(state, "grad_avg", param)
            grad_avg *= alpha
            np.multiply(g, 1 - alpha, out=tmp)
            grad_avg += tmp
            np.multiply(grad_avg, grad_avg, out=tmp)
            np.subtract(square_avg, tmp, out=tmp)
            np.sqrt(tmp, out=tmp)
        else:
            np.sqrt(square_avg, out=tmp)
        tmp += group["eps"]
        np.divide(g, tmp, out=tmp)  # g / s
        if momentum > 0:
            buf = _state_array(state, "momentum_buffer", param)
            buf *= momentum
            buf += tmp
            np.multiply(buf, group["lr"], out=tmp)
        else:
            tmp *= group["lr"]
        param -= tmp


def _state_array(state: dict[str, Any], key: str, param: np.ndarray) -> np.ndarray:
    """``state[key]``, made (zeros) the first time an option that needs it is on."""
    array = state.get(key)
    if array is None:
        array = state[key] = np.zeros_like(param)
    return array
