"""Rprop: per-weight step sizes that grow while the gradient keeps its sign and shrink when it flips."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np

from chainrule.optim import _fused
from chainrule.optim.optimizer import Group, Optimizer, ParamsLike, State, Work, effective_grad


class Rprop(Optimizer):
    r"""Resilient backpropagation (Riedmiller and Braun, 1993) with PyTorch's update rule.

    Only the sign of the gradient is used. Each weight has its own step size ``s`` (starting at
    ``lr``); with the gradient :math:`g` (negated when ``maximize``) and the previous one ``g'``::

        s <- clamp(s * etaplus,  *step_sizes)   where g * g' > 0
        s <- clamp(s * etaminus, *step_sizes)   where g * g' < 0, and there g <- 0 (no move, no memory)
        theta <- theta - sign(g) * s;   g' <- g

    Meant for full-batch training (mini-batch noise flips signs at random). There is no
    ``weight_decay``, as in PyTorch.

    Args:
        params: parameters or a list of param-group dicts.
        lr: the initial step size of every weight (default 1e-2).
        etas: (etaminus, etaplus), the factors that shrink and grow a step size, with
            0 < etaminus < 1 < etaplus (default (0.5, 1.2)).
        step_sizes: (minimal, maximal) step size (default (1e-6, 50)).
        maximize: climb the objective instead of descending it (default False).
        foreach, fused, capturable: PyTorch's choices of how a step runs; accepted, they change nothing
            here. differentiable: only False (the step updates the parameters outside the graph).

    Example:
        >>> import chainrule as cr
        >>> w = cr.nn.Parameter(cr.tensor([1.0, -2.0], dtype=cr.float64))
        >>> opt = cr.optim.Rprop([w], lr=0.1)
        >>> for _ in range(2):
        ...     opt.zero_grad()
        ...     (w * w).sum().backward()
        ...     opt.step()                  # 0.1, then 0.1 * 1.2, against the gradient's sign
        >>> w.numpy().round(6).tolist()
        [0.78, -1.78]
    """

    _num_work = 2
    _required_state = ("step", "prev", "step_size")

    def __init__(
        self,
        params: ParamsLike,
        lr: float = 1e-2,
        etas: tuple[float, float] = (0.5, 1.2),
        step_sizes: tuple[float, float] = (1e-6, 50),
        *,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ):
        self._implementation_flags(foreach=foreach, capturable=capturable, differentiable=differentiable)
        defaults = dict(lr=lr, etas=etas, step_sizes=step_sizes, maximize=maximize)
        super().__init__(params, defaults)

    def _validate(self, hp: Mapping[str, Any]) -> None:
        self._check_number(hp, "lr", "learning rate")
        etas = hp["etas"]
        ok = isinstance(etas, (tuple, list)) and len(etas) == 2 and all(_is_number(e) for e in etas)
        self._check(ok and 0.0 < etas[0] < 1.0 < etas[1], "eta values", etas, "0 < etaminus < 1 < etaplus")
        sizes = hp["step_sizes"]
        ok = isinstance(sizes, (tuple, list)) and len(sizes) == 2 and all(_is_number(s) for s in sizes)
        self._check(ok and 0.0 <= sizes[0] <= sizes[1], "step_sizes", sizes, "(minimal, maximal) with 0 <= min <= max")
        self._check_flag(hp, "maximize")

    def _init_state(self, param: np.ndarray, group: Mapping[str, Any]) -> dict[str, Any]:
        return {"step": 0, "prev": np.zeros_like(param), "step_size": np.full_like(param, group["lr"])}

    def _update(self, param: np.ndarray, grad: np.ndarray, state: State, group: Group, work: Work) -> None:
        g_buf, factor = work
        etaminus, etaplus = group["etas"]
        low, high = group["step_sizes"]
        state["step"] += 1
        prev, step_size = state["prev"], state["step_size"]
        if _fused.usable(param, grad, prev, step_size):
            if _fused.rprop(param, grad, state, group):
                return
        g = effective_grad(param, grad, 0, group["maximize"], g_buf)
        np.multiply(g, prev, out=factor)
        # 1, -1, 0, or NaN, which stays: a NaN gradient makes the parameter NaN, where PyTorch's sign of
        # NaN is 0 and silently skips the element
        np.sign(factor, out=factor)
        # (the masks below are the one allocation of an optimiser's NumPy step; the loop makes none)
        factor[factor > 0] = etaplus  # (one after the other, as PyTorch does)
        factor[factor < 0] = etaminus
        factor[factor == 0] = 1
        step_size *= factor
        np.clip(step_size, low, high, out=step_size)
        if g is not g_buf:
            np.copyto(g_buf, g)
        g_buf[factor == etaminus] = 0  # a sign change: no move now, and no sign to compare next time
        np.sign(g_buf, out=factor)
        factor *= step_size
        param -= factor
        np.copyto(prev, g_buf)


def _is_number(value: Any) -> bool:
    """A real number, not NaN (a bound may be infinite)."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)) and not math.isnan(value)
