"""SGD: (stochastic) gradient descent with optional momentum, Nesterov momentum and weight decay.

Full-batch GD, SGD and mini-batch GD are the same optimiser; the batch size makes the difference.
``GD`` is another name for ``SGD`` so that code can say what it means.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from chainrule.optim import _fused
from chainrule.optim.optimizer import Group, Optimizer, ParamsLike, State, Work, effective_grad


class SGD(Optimizer):
    r"""Gradient descent with optional momentum (PyTorch's update rule).

    For each parameter :math:`\theta` with gradient :math:`g` (negated when ``maximize``)::

        g <- g + weight_decay * theta
        if momentum != 0:
            b <- g                                   on the first step
            b <- momentum * b + (1 - dampening) * g  afterwards
            g <- g + momentum * b   if nesterov  else  b
        theta <- theta - lr * g

    Full-batch GD, SGD and mini-batch GD are the same optimiser; the batch size makes the
    difference (``GD`` is the same class under another name).

    Args:
        params: parameters (e.g. ``model.parameters()``) or a list of param-group dicts.
        lr: learning rate (default 1e-3, PyTorch's).
        momentum: momentum factor (default 0: plain gradient descent).
        dampening: how much less each new gradient counts in the momentum buffer (default 0).
        weight_decay: L2 penalty coefficient added to the gradient (default 0).
        nesterov: use Nesterov momentum (needs momentum > 0 and dampening = 0; default False).
        maximize: climb the objective instead of descending it (default False).
        foreach, fused, capturable: PyTorch's choices of how a step runs; accepted, they change nothing
            here. differentiable: only False (the step updates the parameters outside the graph).

    Example:
        >>> import chainrule as cr
        >>> w = cr.nn.Parameter(cr.tensor([1.0, -2.0], dtype=cr.float64))
        >>> opt = cr.optim.SGD([w], lr=0.1, momentum=0.9)
        >>> opt
        SGD(lr=0.1, momentum=0.9, dampening=0, weight_decay=0, nesterov=False, maximize=False)
        >>> for _ in range(2):
        ...     opt.zero_grad()
        ...     (w * w).sum().backward()        # gradient 2w
        ...     opt.step()
        >>> w.numpy().round(4).tolist()
        [0.46, -0.92]
    """

    _num_work = 1
    _optional_state = ("momentum_buffer",)

    def __init__(
        self,
        params: ParamsLike,
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ):
        self._implementation_flags(foreach=foreach, fused=fused, differentiable=differentiable)
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _validate(self, hp: Mapping[str, Any]) -> None:
        self._check_number(hp, "lr", "learning rate")
        self._check_number(hp, "momentum", "momentum")
        self._check_number(hp, "dampening", "dampening", 0.0, 1.0)
        self._check_number(hp, "weight_decay", "weight_decay")
        self._check_flag(hp, "nesterov")
        self._check_flag(hp, "maximize")
        if hp["nesterov"] and (hp["momentum"] <= 0 or hp["dampening"] != 0):
            raise ValueError(
                f"{self._name}: Nesterov momentum requires momentum > 0 and dampening = 0, "
                f"got momentum={hp['momentum']!r}, dampening={hp['dampening']!r}"
            )

    def _update(self, param: np.ndarray, grad: np.ndarray, state: State, group: Group, work: Work) -> None:
        (tmp,) = work
        lr = group["lr"]
        momentum = group["momentum"]
        buf = state.get("momentum_buffer")
        if (momentum == 0 or buf is not None) and _fused.usable(param, grad, buf if momentum != 0 else param):
            if _fused.sgd(param, grad, buf if momentum != 0 else None, group):
                return
        g = effective_grad(param, grad, group["weight_decay"], group["maximize"], tmp)
        if momentum != 0:
            if buf is None:
                buf = state["momentum_buffer"] = np.array(g, dtype=param.dtype)
            else:
                buf *= momentum
                dampening = group["dampening"]
                if dampening == 0:
                    buf += g
                else:
                    np.multiply(g, 1 - dampening, out=tmp)  # g may be tmp: it is not needed after this
                    buf += tmp
            if group["nesterov"]:  # theta -= lr * (g + momentum * b), as two in-place subtractions
                np.multiply(g, lr, out=tmp)
                param -= tmp
                np.multiply(buf, lr * momentum, out=tmp)
                param -= tmp
                return
            g = buf
        np.multiply(g, lr, out=tmp)
        param -= tmp


GD = SGD
"""Gradient descent: the same optimiser as SGD (full-batch GD, SGD and mini-batch GD differ only in batch size)."""
