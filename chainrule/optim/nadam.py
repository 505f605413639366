"""NAdam: Adam with Nesterov momentum and a warming-up momentum schedule."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from chainrule.optim import _fused
from chainrule.optim.optimizer import Group, Optimizer, ParamsLike, State, Work, effective_grad


class NAdam(Optimizer):
    r"""NAdam (Dozat, 2016) with PyTorch's update rule.

    For each parameter :math:`\theta` with gradient :math:`g` (negated when ``maximize``), at step
    t = 1, 2, ...::

        theta <- theta * (1 - lr * weight_decay)   if decoupled_weight_decay   else   g <- g + weight_decay * theta
        mu_t = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))        (and mu_{t+1} likewise)
        P <- P * mu_t                                                  (P, the product mu_1 ... mu_t)
        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g**2
        d = sqrt(v / (1 - beta2**t)) + eps
        theta <- theta - lr * (1 - mu_t) / (1 - P) * g / d - lr * mu_{t+1} / (1 - P * mu_{t+1}) * m / d

    The product ``mu_product`` is one float64 number per parameter (PyTorch keeps it in the
    default dtype, float32 unless ``torch.set_default_dtype(torch.float64)``).

    Args:
        params: parameters or a list of param-group dicts.
        lr: learning rate (default 2e-3).
        betas: decay rates of the running averages of the gradient and its square (default (0.9, 0.999)).
        eps: added to the denominator for numerical stability (default 1e-8).
        weight_decay: weight decay coefficient (default 0): an L2 penalty in the gradient, or a
            direct shrink of the weights with ``decoupled_weight_decay`` (NAdamW).
        momentum_decay: how fast the momentum warms up to ``beta1`` (default 4e-3).
        decoupled_weight_decay: shrink the weights as AdamW does instead (default False).
        maximize: climb the objective instead of descending it (default False).
        foreach, fused, capturable: PyTorch's choices of how a step runs; accepted, they change nothing
            here. differentiable: only False (the step updates the parameters outside the graph).

    Example:
        >>> import chainrule as cr
        >>> w = cr.nn.Parameter(cr.tensor([1.0, -2.0], dtype=cr.float64))
        >>> opt = cr.optim.NAdam([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> opt.step()                      # lr against the gradient's sign, and a Nesterov look-ahead
        >>> w.numpy().round(4).tolist()
        [0.8944, -1.8944]
    """

    _num_work = 3
    _required_state = ("step", "mu_product", "exp_avg", "exp_avg_sq")
    _scalar_state = ("mu_product",)

    def __init__(
        self,
        params: ParamsLike,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
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
            momentum_decay=momentum_decay,
            decoupled_weight_decay=decoupled_weight_decay,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _validate(self, hp: Mapping[str, Any]) -> None:
        self._check_number(hp, "lr", "learning rate")
        self._check_number(hp, "eps", "epsilon value")
        self._check_betas(hp)
        self._check_number(hp, "weight_decay", "weight_decay")
        self._check_number(hp, "momentum_decay", "momentum_decay value")
        self._check_flag(hp, "decoupled_weight_decay")
        self._check_flag(hp, "maximize")

    def _init_state(self, param: np.ndarray, group: Mapping[str, Any]) -> dict[str, Any]:
        return {"step": 0, "mu_product": 1.0, "exp_avg": np.zeros_like(param), "exp_avg_sq": np.zeros_like(param)}

    def _update(self, param: np.ndarray, grad: np.ndarray, state: State, group: Group, work: Work) -> None:
        g_buf, tmp, tmp2 = work
        lr, weight_decay, decay_rate = group["lr"], group["weight_decay"], group["momentum_decay"]
        beta1, beta2 = group["betas"]
        step = state["step"] = state["step"] + 1
        bias2 = 1 - beta2**step
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * decay_rate))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * decay_rate))
        mu_product = state["mu_product"] = float(state["mu_product"] * mu)
        cg = lr * (1.0 - mu) / (1.0 - mu_product)  # the factors of g / d and of m / d
        cm = lr * mu_next / (1.0 - mu_product * mu_next)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        if _fused.usable(param, grad, exp_avg, exp_avg_sq):
            if _fused.nadam(param, grad, state, group, bias2, cg, cm):
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
        denom = tmp
        np.divide(exp_avg_sq, bias2, out=denom)
        np.sqrt(denom, out=denom)
        denom += group["eps"]
        np.divide(g, denom, out=tmp2)
        tmp2 *= cg
        param -= tmp2
        np.divide(exp_avg, denom, out=tmp2)
        tmp2 *= cm
        param -= tmp2
