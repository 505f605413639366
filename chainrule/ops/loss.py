"""Fused loss primitives: softmax cross-entropy from logits and class indices; binary
cross-entropy on probabilities.

Composing log_softmax, indexing and a mean gives the same values and gradients in four nodes;
this is one node whose backward is ``softmax - target`` (scaled), the hot path of every classifier.
"""

from __future__ import annotations

import numpy as np

from chainrule.autograd import Function
from chainrule.tensor import Tensor


class CrossEntropy(Function):
    """Mean/sum/per-sample of -sum_c q_c w_c log softmax(x)_c, with q the (smoothed) one-hot target.

    ``logits`` is (N, C) and ``target`` holds N class indices. With class weights w the mean divides
    by the summed weight of the targets, as PyTorch does.

    The one-hot target is never built: -log p at the target is one fancy index, and a smoothed
    target adds the sum over classes. The forward keeps the softmax; the rule is
    ``softmax * row_weight - q w`` (scaled), with the subtraction made at the target entries only
    unless the target is smoothed.
    """

    def forward(
        self,
        logits: np.ndarray,
        target: np.ndarray,
        weight: np.ndarray | None,
        label_smoothing: float,
        reduction: str,
    ) -> np.ndarray:
        n, c = logits.shape
        shifted = logits - logits.max(axis=1, keepdims=True)  # <= 0: exp cannot overflow
        rows = np.arange(n)
        at_target = shifted[rows, target]
        if label_smoothing:
            spread = shifted.sum(axis=1) if weight is None else shifted @ weight
        exp = np.exp(shifted, out=shifted)
        sum_exp = exp.sum(axis=1, keepdims=True)  # >= 1: its log is finite
        log_z = np.log(sum_exp).reshape(n)
        per_sample = log_z - at_target  # -log softmax(x) at the target
        target_weight = None if weight is None else weight[target]
        if target_weight is not None:
            per_sample *= target_weight
        if label_smoothing:  # + eps/C sum_c w_c (-log softmax(x)_c)
            spread = log_z * (c if weight is None else weight.sum()) - spread
            per_sample = (1.0 - label_smoothing) * per_sample + (label_smoothing / c) * spread
        self.probs = np.divide(exp, sum_exp, out=exp)  # the softmax: what the rule needs
        self.weight, self.label_smoothing, self.reduction = weight, label_smoothing, reduction
        if reduction == "none":
            return per_sample
        total = per_sample.sum()
        if reduction == "sum":
            return np.asarray(total)
        # an array, not a Python number: the rule reads it through ns.residual, and a compiled step
        # then reads each call's value
        self.denominator = np.asarray(n if target_weight is None else target_weight.sum(), dtype=logits.dtype)
        return np.asarray(total / self.denominator, dtype=logits.dtype)

    def backward(self, ns, grad, logits, target):
        # d loss_i / d x_ic = (softmax(x)_ic sum_k (q w)_ik - (q w)_ic) * scale_i
        n, c = logits.shape
        probs = ns.residual(self.probs, lambda: ns.softmax(logits, 1))
        eps, weight = self.label_smoothing, self.weight
        # the class weight of each target (N,), a constant; None without class weights
        target_weight = None if weight is None else ns.index(ns.const(weight), target)
        if self.reduction == "none":  # the output's gradient, shaped to scale the (N, C) rows
            scale = ns.reshape(grad, (n, 1))
        elif self.reduction == "sum":
            scale = grad
        elif target_weight is None:
            scale = grad * (1.0 / max(n, 1))  # (no rows: an empty gradient, whatever the scale)
        else:  # the mean divides by the targets' summed weight, which depends on the batch's targets
            scale = grad / ns.residual(self.denominator, lambda: ns.sum(target_weight, (0,)))
        rows = np.arange(n)
        if eps:  # the dense target q w, a constant: eps/C w everywhere, plus (1 - eps) w_t at the target
            w = np.ones(c, dtype=probs.dtype) if weight is None else weight.astype(probs.dtype)
            qw = ns.add_at(
                ns.broadcast_to(ns.const((eps / c) * w), (n, c)),
                (rows, target),
                ns.index(ns.const((1.0 - eps) * w), target),
            )
            return (probs * ns.sum(qw, (1,), keepdims=True) - qw) * scale, None
        # q w is w_t at the target and 0 elsewhere: scale the softmax, subtract at the targets
        if target_weight is not None:
            scale = ns.reshape(target_weight, (n, 1)) * scale
        local = probs * scale
        return ns.add_at(local, (rows, target), -ns.reshape(scale, (-1,))), None


def cross_entropy_indices(
    logits: Tensor,
    target: Tensor,
    weight: np.ndarray | None = None,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
) -> Tensor:
    """Softmax cross-entropy of (N, C) logits against N integer class indices, in one node."""
    return CrossEntropy.apply(logits, target, weight=weight, label_smoothing=label_smoothing, reduction=reduction)


BCE_LOG_FLOOR = -100.0  # PyTorch's: each log of binary_cross_entropy is at least -100
# PyTorch's floor of p (1 - p) in the gradient (p - y) / (p (1 - p)): 1e-12 as a float32, in every dtype
BCE_EPS = float(np.float32(1e-12))


class BinaryCrossEntropy(Function):
    """Elementwise ``-(y log p + (1 - y) log(1 - p))`` with each log floored at -100, PyTorch's
    ``binary_cross_entropy`` value, and PyTorch's gradients: ``(p - y) / max(p (1 - p), 1e-12)``
    for p and ``log(1 - p) - log(p)`` for y.

    So a probability of exactly 0 or 1 on the wrong side (a float32 sigmoid of a score beyond
    about 17 is exactly 1) costs 100, and a probability below 1e-12 has a gradient (clipping p
    there gave none).
    """

    def forward(self, p: np.ndarray, y: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):  # (log 0 = -inf, floored)
            log_p = np.maximum(np.log(p), BCE_LOG_FLOOR)
            log_not_p = np.maximum(np.log1p(-p), BCE_LOG_FLOOR)
        self.floored = p * (1.0 - p) < BCE_EPS  # where the rule's denominator is the floor
        return (y - 1.0) * log_not_p - y * log_p

    def backward(self, ns, grad, p, y):
        grad_p = grad_y = None
        if self.needs(0):
            grad_p = grad * (p - y) / ns.where(ns.saved(self, "floored"), BCE_EPS, p * (1.0 - p))
        if self.needs(1):
            with np.errstate(divide="ignore"):  # (at p = 0 or 1: infinite, as PyTorch's)
                grad_y = grad * (ns.log(1.0 - p) - ns.log(p))
        return grad_p, grad_y
