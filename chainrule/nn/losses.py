"""Losses as modules, each with ``reduction='mean'|'sum'|'none'`` (see ``functional`` for the maths).

Each also takes PyTorch's deprecated ``size_average=`` and ``reduce=`` keywords, which set
``reduction`` as PyTorch sets it, with its warning (``functional.legacy_reduction``); the module
keeps only the resulting ``reduction``.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np

from chainrule.nn import functional as F
from chainrule.nn.checks import unit_interval
from chainrule.nn.module import Module
from chainrule.tensor import Tensor


class _Loss(Module):
    def __init__(self, reduction: str = "mean", *, size_average: bool | None = None, reduce: bool | None = None):
        super().__init__()
        name = type(self).__name__
        self.reduction = F.check_reduction(F.legacy_reduction(size_average, reduce, reduction, name), name)

    def get_config(self) -> dict[str, Any]:
        return {"reduction": self.reduction}

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


def _weight_list(weight: Any) -> list[float] | None:
    if weight is None:
        return None
    return np.asarray(weight._data if isinstance(weight, Tensor) else weight, dtype=float).tolist()


class MSELoss(_Loss):
    """Mean squared error: linear regression's loss.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.MSELoss()(cr.tensor([1.0, 2.0]), cr.tensor([1.0, 4.0]))
        tensor(2.)
    """

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    """Mean absolute error.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.L1Loss()(cr.tensor([1.0, 2.0]), cr.tensor([2.0, 4.0]))
        tensor(1.5)
    """

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.l1_loss(input, target, self.reduction)


class HuberLoss(_Loss):
    """Squared error below ``delta``, absolute error above: robust to outliers.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.HuberLoss(delta=1.0)(cr.tensor([0.5, 3.0]), cr.tensor([0.0, 0.0]))  # (0.125 + 2.5) / 2
        tensor(1.3125)
    """

    def __init__(
        self,
        reduction: str = "mean",
        delta: float = 1.0,
        *,
        size_average: bool | None = None,
        reduce: bool | None = None,
    ):
        super().__init__(reduction, size_average=size_average, reduce=reduce)
        if delta <= 0:
            raise ValueError(f"HuberLoss: delta must be positive, got {delta}")
        self.delta = delta

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.huber_loss(input, target, self.reduction, self.delta)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "delta": self.delta}


class SmoothL1Loss(_Loss):
    """Smooth L1: squared error / (2 beta) below ``beta``, absolute error - beta/2 above (PyTorch's;
    the L1 loss when ``beta`` = 0). ``HuberLoss(delta=beta)`` divided by ``beta``.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.SmoothL1Loss()(cr.tensor([0.5, 3.0]), cr.tensor([0.0, 0.0]))  # (0.125 + 2.5) / 2
        tensor(1.3125)
    """

    def __init__(
        self,
        reduction: str = "mean",
        beta: float = 1.0,
        *,
        size_average: bool | None = None,
        reduce: bool | None = None,
    ):
        super().__init__(reduction, size_average=size_average, reduce=reduce)
        if isinstance(beta, bool) or not isinstance(beta, numbers.Real) or not beta >= 0:
            raise ValueError(f"SmoothL1Loss: beta must be a number >= 0, got {beta!r}")
        self.beta = float(beta)

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.smooth_l1_loss(input, target, self.reduction, self.beta)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "beta": self.beta}

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, beta={self.beta}"


class BCELoss(_Loss):
    """Binary log-loss on probabilities (after a sigmoid), each log floored at -100 (PyTorch's).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.BCELoss()(cr.tensor([0.5, 0.5]), cr.tensor([0.0, 1.0]))  # log 2
        tensor(0.6931)
    """

    def __init__(
        self,
        weight: Any = None,
        reduction: str = "mean",
        *,
        size_average: bool | None = None,
        reduce: bool | None = None,
    ):
        super().__init__(reduction, size_average=size_average, reduce=reduce)
        self.weight = weight

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.binary_cross_entropy(input, target, self.weight, self.reduction)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "weight": _weight_list(self.weight)}


class BCEWithLogitsLoss(_Loss):
    """Binary log-loss on raw scores, sigmoid included: stable for any score. ``pos_weight`` > 1
    weighs positive examples more (for imbalanced data).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.BCEWithLogitsLoss()(cr.tensor([0.0, 1000.0]), cr.tensor([1.0, 1.0]))  # (log 2 + 0) / 2
        tensor(0.3466)
    """

    def __init__(
        self,
        weight: Any = None,
        reduction: str = "mean",
        pos_weight: Any = None,
        *,
        size_average: bool | None = None,
        reduce: bool | None = None,
    ):
        super().__init__(reduction, size_average=size_average, reduce=reduce)
        self.weight, self.pos_weight = weight, pos_weight

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.binary_cross_entropy_with_logits(input, target, self.weight, self.pos_weight, self.reduction)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "weight": _weight_list(self.weight),
            "pos_weight": _weight_list(self.pos_weight),
        }


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy from logits, against class indices or class probabilities.

    Args:
        weight: a weight per class (for imbalanced classes).
        reduction: 'mean' (weighted mean when ``weight`` is given), 'sum' or 'none'.
        label_smoothing: mix the one-hot target with the uniform distribution by this amount.
        ignore_index: leave out the samples whose class-index target is this (PyTorch's; its
            default -100 is not assumed here: pass it).

    Example:
        >>> import chainrule as cr
        >>> loss = cr.nn.CrossEntropyLoss()(cr.tensor([[0.0, 0.0]]), cr.tensor([1]))
        >>> round(loss.item(), 4)  # log 2
        0.6931
    """

    def __init__(
        self,
        weight: Any = None,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
        *,
        ignore_index: int | None = None,
        size_average: bool | None = None,
        reduce: bool | None = None,
    ):
        super().__init__(reduction, size_average=size_average, reduce=reduce)
        self.weight = weight
        self.label_smoothing = unit_interval("CrossEntropyLoss", "label_smoothing", label_smoothing)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.cross_entropy(
            input, target, self.weight, self.reduction, self.label_smoothing, ignore_index=self.ignore_index
        )

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "weight": _weight_list(self.weight),
            "label_smoothing": self.label_smoothing,
            "ignore_index": self.ignore_index,
        }


class NLLLoss(_Loss):
    """Negative log-likelihood of log-probabilities (after LogSoftmax) at the target classes.

    Example:
        >>> import chainrule as cr
        >>> logp = cr.log_softmax(cr.tensor([[0.0, 0.0], [0.0, 0.0]]))
        >>> cr.nn.NLLLoss()(logp, cr.tensor([0, 1]))
        tensor(0.6931)
    """

    def __init__(
        self,
        weight: Any = None,
        reduction: str = "mean",
        *,
        ignore_index: int | None = None,
        size_average: bool | None = None,
        reduce: bool | None = None,
    ):
        super().__init__(reduction, size_average=size_average, reduce=reduce)
        self.weight = weight
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.nll_loss(input, target, self.weight, self.reduction, ignore_index=self.ignore_index)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "weight": _weight_list(self.weight), "ignore_index": self.ignore_index}


class HingeLoss(_Loss):
    """The linear SVM's loss, max(0, margin - y s), labels in {-1, +1} or {0, 1}; ``squared=True``
    gives the squared hinge.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.HingeLoss()(cr.tensor([2.0, 0.5]), cr.tensor([1, 1]))  # (0 + 0.5) / 2
        tensor(0.25)
    """

    def __init__(
        self,
        reduction: str = "mean",
        squared: bool = False,
        margin: float = 1.0,
        *,
        size_average: bool | None = None,
        reduce: bool | None = None,
    ):
        super().__init__(reduction, size_average=size_average, reduce=reduce)
        self.squared, self.margin = squared, margin

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.hinge_loss(input, target, self.reduction, self.squared, self.margin)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "squared": self.squared, "margin": self.margin}


class MultiMarginLoss(_Loss):
    """Multi-class hinge: sum over wrong classes of ``w_y max(0, margin - s_y + s_c) ** p``, over C
    (PyTorch's arguments, in its order: ``p`` 1 or 2, ``margin``, a ``weight`` per class).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.MultiMarginLoss()(cr.tensor([[3.0, 0.0, 2.5]]), cr.tensor([0]))  # (0 + 0.5) / 3
        tensor(0.1667)
    """

    def __init__(
        self,
        p: int = 1,
        margin: float = 1.0,
        weight: Any = None,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
    ):
        super().__init__(reduction, size_average=size_average, reduce=reduce)
        if isinstance(p, bool) or p not in (1, 2):
            raise ValueError(f"MultiMarginLoss: p must be 1 or 2 (the squared hinge), got {p!r}")
        if isinstance(margin, bool) or not isinstance(margin, numbers.Real):
            raise TypeError(
                f"MultiMarginLoss: margin must be a number, got {margin!r} (the arguments are PyTorch's: "
                "p, margin, weight, ...; chainrule's former squared=True is p=2)"
            )
        self.p, self.margin, self.weight = int(p), margin, weight

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.multi_margin_loss(input, target, self.p, self.margin, self.weight, reduction=self.reduction)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "p": self.p, "margin": self.margin, "weight": _weight_list(self.weight)}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> MultiMarginLoss:
        config = dict(config)
        if "squared" in config:  # saved before the arguments became PyTorch's: squared=True is p=2
            config["p"] = 2 if config.pop("squared") else 1
        return cls(**config)

    def extra_repr(self) -> str:
        return f"p={self.p}, margin={self.margin}, {super().extra_repr()}"


class KLDivLoss(_Loss):
    """Kullback-Leibler divergence of log-probabilities from a target distribution (see
    ``functional.kl_div``); ``reduction='batchmean'`` gives the true KL divergence per sample.

    Example:
        >>> import chainrule as cr
        >>> loss = cr.nn.KLDivLoss(reduction='batchmean')
        >>> loss(cr.log(cr.tensor([[0.25, 0.75]])), cr.tensor([[0.5, 0.5]]))
        tensor(0.1438)
    """

    def __init__(
        self,
        reduction: str = "mean",
        log_target: bool = False,
        *,
        size_average: bool | None = None,
        reduce: bool | None = None,
    ):
        Module.__init__(self)
        reduction = F.legacy_reduction(size_average, reduce, reduction, "KLDivLoss")
        if reduction != "batchmean":
            F.check_reduction(reduction, "KLDivLoss")
        self.reduction, self.log_target = reduction, bool(log_target)

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.kl_div(input, target, self.reduction, self.log_target)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "log_target": self.log_target}


class _MarginLoss(_Loss):
    """A loss with PyTorch's ``margin`` argument first."""

    def __init__(
        self,
        margin: float = 0.0,
        reduction: str = "mean",
        *,
        size_average: bool | None = None,
        reduce: bool | None = None,
    ):
        super().__init__(reduction, size_average=size_average, reduce=reduce)
        self.margin = margin

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "margin": self.margin}


class MarginRankingLoss(_MarginLoss):
    """max(0, -y (x1 - x2) + margin): ranks x1 above x2 where y = 1 (see ``functional``).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.MarginRankingLoss(0.5)(cr.tensor([1.0, 0.0]), cr.tensor([0.0, 1.0]), cr.tensor([1.0, 1.0]))
        tensor(0.75)
    """

    def forward(self, input1: Tensor, input2: Tensor, target: Any) -> Tensor:
        return F.margin_ranking_loss(input1, input2, target, self.margin, self.reduction)


class CosineEmbeddingLoss(_MarginLoss):
    """1 - cos(x1, x2) for similar pairs (y = 1), max(0, cos - margin) for dissimilar ones (y = -1).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.CosineEmbeddingLoss()(cr.tensor([[1.0, 0.0]]), cr.tensor([[0.0, 1.0]]), cr.tensor([1.0]))
        tensor(1.)
    """

    def forward(self, input1: Tensor, input2: Tensor, target: Any) -> Tensor:
        return F.cosine_embedding_loss(input1, input2, target, self.margin, self.reduction)


class HingeEmbeddingLoss(_MarginLoss):
    """x for y = 1, max(0, margin - x) for y = -1, with x a distance (see ``functional``).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.HingeEmbeddingLoss()(cr.tensor([0.3, 0.4]), cr.tensor([1.0, -1.0]))
        tensor(0.45)
    """

    def __init__(
        self,
        margin: float = 1.0,
        reduction: str = "mean",
        *,
        size_average: bool | None = None,
        reduce: bool | None = None,
    ):
        super().__init__(margin, reduction, size_average=size_average, reduce=reduce)

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.hinge_embedding_loss(input, target, self.margin, self.reduction)


class SoftMarginLoss(_Loss):
    """log(1 + exp(-y x)) for labels y = ±1: two-class logistic loss.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.SoftMarginLoss()(cr.tensor([0.0]), cr.tensor([1.0]))
        tensor(0.6931)
    """

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.soft_margin_loss(input, target, self.reduction)


class GaussianNLLLoss(_Loss):
    """Gaussian negative log-likelihood of a target given a predicted mean and variance (see
    ``functional.gaussian_nll_loss`` for the shapes ``var`` may have).

    Example:
        >>> import chainrule as cr
        >>> loss = cr.nn.GaussianNLLLoss()
        >>> loss(cr.tensor([0.0, 1.0]), cr.tensor([1.0, 1.0]), cr.tensor([1.0, 1.0]))
        tensor(0.25)
    """

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean"):
        super().__init__(reduction)
        self.full, self.eps = bool(full), eps

    def forward(self, input: Tensor, target: Any, var: Any) -> Tensor:
        return F.gaussian_nll_loss(input, target, var, self.full, self.eps, self.reduction)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "full": self.full, "eps": self.eps}


class PoissonNLLLoss(_Loss):
    """Poisson negative log-likelihood of counts (see ``functional.poisson_nll_loss``).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.PoissonNLLLoss()(cr.tensor([0.0, 1.0]), cr.tensor([1.0, 2.0]))
        tensor(0.8591)
    """

    def __init__(
        self,
        log_input: bool = True,
        full: bool = False,
        reduction: str = "mean",
        eps: float = 1e-8,
        *,
        size_average: bool | None = None,
        reduce: bool | None = None,
    ):
        super().__init__(reduction, size_average=size_average, reduce=reduce)
        self.log_input, self.full, self.eps = bool(log_input), bool(full), eps

    def forward(self, log_input: Tensor, target: Any) -> Tensor:
        return F.poisson_nll_loss(log_input, target, self.log_input, self.full, self.reduction, self.eps)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "log_input": self.log_input, "full": self.full, "eps": self.eps}


class TripletMarginLoss(_Loss):
    """max(0, d(a, p) - d(a, n) + margin) with the p-norm pairwise distance (see ``functional``).

    Example:
        >>> import chainrule as cr
        >>> a, p, n = cr.tensor([[0.0, 0.0]]), cr.tensor([[3.0, 4.0]]), cr.tensor([[0.0, 1.0]])
        >>> cr.nn.TripletMarginLoss(eps=0.0)(a, p, n)
        tensor(5.)
    """

    def __init__(
        self,
        margin: float = 1.0,
        p: float = 2.0,
        eps: float = 1e-6,
        swap: bool = False,
        reduction: str = "mean",
        *,
        size_average: bool | None = None,
        reduce: bool | None = None,
    ):
        super().__init__(reduction, size_average=size_average, reduce=reduce)
        if not isinstance(margin, numbers.Real) or not margin > 0:
            raise ValueError(f"TripletMarginLoss: margin must be greater than 0, got {margin!r}")
        self.margin, self.p, self.eps, self.swap = margin, p, eps, bool(swap)

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        return F.triplet_margin_loss(
            anchor, positive, negative, self.margin, self.p, self.eps, self.swap, self.reduction
        )

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "margin": self.margin, "p": self.p, "eps": self.eps, "swap": self.swap}
