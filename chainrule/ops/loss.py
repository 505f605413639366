"""Fused loss primitives: softmax cross-entropy from logits and class indices.

Composing log_softmax, indexing and a mean gives the same values and gradients in four nodes;
this is one node whose backward is ``softmax - target`` (scaled), the hot path of every classifier.
"""

from __future__ import annotations

import numpy as np

from chainrule.autograd import Function, is_grad_enabled
from chainrule.ops.reduce import softmax
from chainrule.tensor import Tensor


class CrossEntropy(Function):
    """Mean/sum/per-sample of -sum_c q_c w_c log softmax(x)_c, with q the (smoothed) one-hot target.

    ``logits`` is (N, C) and ``target`` holds N class indices. With class weights w the mean divides
    by the summed weight of the targets, as PyTorch does.
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
        shifted = logits - logits.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        sum_exp = exp.sum(axis=1, keepdims=True)
        log_probs = shifted - np.log(sum_exp)
        rows = np.arange(n)
        # q w: the weighted target distribution, kept for backward
        q = np.full((n, c), label_smoothing / c, dtype=logits.dtype)
        q[rows, target] += 1.0 - label_smoothing
        if weight is not None:
            q *= weight
        per_sample = -(q * log_probs).sum(axis=1)
        self.qw, self.reduction, self.target = q, reduction, target
        self.probs = exp / sum_exp
        if reduction == "none":
            return per_sample
        total = per_sample.sum()
        if reduction == "sum":
            return np.asarray(total)
        self.denominator = float(n if weight is None else weight[target].sum())
        return np.asarray(total / self.denominator, dtype=logits.dtype)

    def backward(self, grad: Tensor) -> tuple[Tensor, None]:
        # d loss_i / d x_ic = p_ic * sum_k (q w)_ik - (q w)_ic
        qw = Tensor._make(self.qw)
        row_weight = Tensor._make(self.qw.sum(axis=1, keepdims=True))
        if is_grad_enabled():  # create_graph: keep softmax differentiable
            probs = softmax(self.inputs[0], axis=1)
        else:
            probs = Tensor._make(self.probs)
        local = probs * row_weight - qw
        if self.reduction == "none":
            return local * grad.reshape((-1, 1)), None
        if self.reduction == "mean":
            grad = grad * (1.0 / self.denominator)
        return local * grad, None


def cross_entropy_indices(
    logits: Tensor,
    target: Tensor,
    weight: np.ndarray | None = None,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
) -> Tensor:
    """Softmax cross-entropy of (N, C) logits against N integer class indices, in one node."""
    return CrossEntropy.apply(
        logits, target, weight=weight, label_smoothing=label_smoothing, reduction=reduction
    )
