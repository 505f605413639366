"""Dropout."""

from __future__ import annotations

from typing import Any

from chainrule.nn import functional as F
from chainrule.nn.checks import unit_interval
from chainrule.nn.module import Module
from chainrule.tensor import Tensor


class Dropout(Module):
    """Inverted dropout: in training, zero each element with probability ``p`` and scale the rest
    by 1/(1-p), so nothing changes at evaluation time (where it does nothing).

    Draws from chainrule's random source: ``cr.manual_seed`` makes it reproducible.

    Example:
        >>> import chainrule as cr
        >>> drop = cr.nn.Dropout(0.5)
        >>> _ = drop.eval()
        >>> drop(cr.ones(4))
        tensor([1., 1., 1., 1.])
    """

    def __init__(self, p: float = 0.5):
        super().__init__()
        self.p = unit_interval("Dropout", "p", p)

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training)

    def get_config(self) -> dict[str, Any]:
        return {"p": self.p}

    def extra_repr(self) -> str:
        return f"p={self.p}"
