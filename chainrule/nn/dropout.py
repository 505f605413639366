"""Dropout: element-wise (``Dropout``) and channel-wise (``Dropout1d``, ``Dropout2d``)."""

from __future__ import annotations

from typing import Any

from chainrule.nn import functional as F
from chainrule.nn.checks import InputSpec, unit_interval
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

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        self.p = unit_interval(type(self).__name__, "p", p)
        self.inplace = bool(inplace)  # PyTorch's: the input's own memory takes the result

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training, inplace=self.inplace)

    def get_config(self) -> dict[str, Any]:
        return {"p": self.p, **({"inplace": True} if self.inplace else {})}

    def extra_repr(self) -> str:
        return f"p={self.p}" + (", inplace=True" if self.inplace else "")


class Dropout1d(Dropout):
    """Channel-wise dropout for sequences: in training, zero each channel (a whole row of L
    values) with probability ``p`` and scale the others by 1/(1-p); nothing at evaluation time.

    Neighbouring steps of a convolutional feature map are strongly correlated, so dropping single
    values regularises little; dropping whole channels does (Tompson et al., 2015).

    Args:
        p: the probability that a channel is zeroed (default 0.5).

    Shape:
        - Input: (N, C, L) or unbatched (C, L).
        - Output: the input's shape.

    Example:
        >>> import chainrule as cr
        >>> _ = cr.manual_seed(0)
        >>> y = cr.nn.Dropout1d(0.5)(cr.ones(1, 6, 3))
        >>> y.numpy()[0].tolist()             # each channel all 0 or all 1/(1-p)
        [[2.0, 2.0, 2.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [2.0, 2.0, 2.0], [2.0, 2.0, 2.0]]
    """

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__(p, inplace)
        self.input_spec = InputSpec("Dropout1d", ndim=(3, 2), expected="a 3-D (N, C, L) or 2-D unbatched (C, L) input")

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout1d(self.input_spec.check(x), self.p, self.training, inplace=self.inplace)


class Dropout2d(Dropout):
    """Channel-wise dropout for images: in training, zero each channel (a whole H x W map) with
    probability ``p`` and scale the others by 1/(1-p); nothing at evaluation time.

    Args:
        p: the probability that a channel is zeroed (default 0.5).

    Shape:
        - Input: (N, C, H, W); a 3-D input is read as (N, C, L), as PyTorch reads it (with its
          warning): for one unbatched (C, H, W) image add the batch axis, ``x[None]``.
        - Output: the input's shape.

    Example:
        >>> import chainrule as cr
        >>> _ = cr.manual_seed(0)
        >>> y = cr.nn.Dropout2d(0.5)(cr.ones(1, 6, 2, 2))
        >>> y.numpy()[0].sum(axis=(1, 2)).tolist()   # each 2 x 2 map all 0 or all 1/(1-p) = 2
        [8.0, 0.0, 0.0, 0.0, 8.0, 8.0]
    """

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__(p, inplace)
        self.input_spec = InputSpec(
            "Dropout2d", ndim=(4, 3), expected="a 4-D (N, C, H, W) input (or 3-D, read as (N, C, L))"
        )

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout2d(self.input_spec.check(x), self.p, self.training, inplace=self.inplace)
