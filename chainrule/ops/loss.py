"""Fused loss primitives: softmax cross-entropy from logits and class indices.

Composing log_softmax, indexing and a mean gives the same values and gradients in four nodes;
this is one node whose backward is ``softmax - target`` (scaled), the hot path of every classifier.
"""

from __future__ import annotations

import numpy as np

from chainrule.autograd import Function
from chainrule.ops.reduce import softmax
from chainrule.tensor import Tensor


class CrossEntropy(Function):
    """Mean/sum/per-sample of -sum_c q_c w_c log softmax(x)_c, with q the (smoothed) one-hot target.

    ``logits`` is (N, C) and ``target`` holds N class indices. With class weights w the mean divides
    by the summed weight of the targets, as PyTorch does.

    The one-hot target is never built: -log p at the target is one fancy index, and a smoothed
    target adds the sum over classes. Forward keeps exp(x - max) and its row sums; backward is
    ``softmax * row_weight - q w`` (scaled), with the subtraction made at the target entries only.
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
        self.exp, self.sum_exp, self.rows, self.target = exp, sum_exp, rows, target
        self.weight, self.target_weight = weight, target_weight
        self.label_smoothing, self.reduction = label_smoothing, reduction
        if reduction == "none":
            return per_sample
        total = per_sample.sum()
        if reduction == "sum":
            return np.asarray(total)
        self.denominator = float(n if target_weight is None else target_weight.sum())
        return np.asarray(total / self.denominator, dtype=logits.dtype)

    def _weighted_target(self) -> tuple[np.ndarray, np.ndarray]:
        """The dense (N, C) target q w and its row sums (N, 1): what backward subtracts and scales by."""
        n, c = self.exp.shape
        eps = self.label_smoothing
        w = np.ones(c, dtype=self.exp.dtype) if self.weight is None else self.weight
        qw = np.empty((n, c), dtype=self.exp.dtype)
        qw[:] = (eps / c) * w
        qw[self.rows, self.target] += (1.0 - eps) * w[self.target]
        return qw, qw.sum(axis=1, keepdims=True)

    def _scale(self, grad: np.ndarray | Tensor) -> np.ndarray | Tensor:
        """The output's gradient shaped to scale (N, C) rows: 0-d for mean/sum, (N, 1) for none."""
        if self.reduction == "none":
            return grad.reshape((-1, 1))
        return grad * (1.0 / self.denominator) if self.reduction == "mean" else grad

    def backward(self, grad: Tensor) -> tuple[Tensor, None]:
        # create_graph: d loss_i / d x_ic = softmax(x)_ic * sum_k (q w)_ik - (q w)_ic, differentiable in x
        qw, row_weight = self._weighted_target()
        probs = softmax(self.inputs[0], axis=1)
        return (probs * Tensor._make(row_weight) - Tensor._make(qw)) * self._scale(grad), None

    def backward_numpy(self, grad: np.ndarray) -> tuple[np.ndarray, None]:
        scale = self._scale(grad)
        if self.label_smoothing:
            qw, row_weight = self._weighted_target()
            return (self.exp * (row_weight / self.sum_exp) - qw) * scale, None
        # q w is w_t at the target and 0 elsewhere: scale the softmax, subtract at the targets
        at_target = scale if self.target_weight is None else self.target_weight.reshape(-1, 1) * scale
        local = self.exp * (at_target / self.sum_exp)
        local[self.rows, self.target] -= at_target.reshape(-1)
        return local, None


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
