"""Distances as layers, as PyTorch's: CosineSimilarity and PairwiseDistance."""

from __future__ import annotations

from typing import Any

from chainrule.nn import functional as F
from chainrule.nn.module import Module
from chainrule.tensor import Tensor


class CosineSimilarity(Module):
    """The cosine of the angle between ``x1`` and ``x2`` along ``dim`` (see ``F.cosine_similarity``:
    each norm clamped at ``eps``).

    Shape: x1 and x2 broadcastable to one shape; the output has that shape without ``dim``.

    Example:
        >>> import chainrule as cr
        >>> cos = cr.nn.CosineSimilarity(dim=1)
        >>> cos(cr.tensor([[1.0, 0.0], [3.0, 4.0]]), cr.tensor([[1.0, 1.0], [6.0, 8.0]]))
        tensor([0.7071, 1.    ])
    """

    def __init__(self, dim: int = 1, eps: float = 1e-8):
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return F.cosine_similarity(x1, x2, self.dim, self.eps)

    def get_config(self) -> dict[str, Any]:
        return {"dim": self.dim, "eps": self.eps}


class PairwiseDistance(Module):
    """The p-norm distance ``||x1 - x2 + eps||_p`` along the last dimension (see ``F.pairwise_distance``).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.PairwiseDistance(eps=0.0)(cr.tensor([[0.0, 0.0]]), cr.tensor([[3.0, 4.0]]))
        tensor([5.])
    """

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
        super().__init__()
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)

    def get_config(self) -> dict[str, Any]:
        return {"p": self.norm, "eps": self.eps, "keepdim": self.keepdim}
