"""Padding layers, as PyTorch's: ConstantPad1d/2d and ZeroPad1d/2d (``F.pad`` in constant mode)."""

from __future__ import annotations

import numbers
from typing import Any

from chainrule.nn import functional as F
from chainrule.nn.module import Module
from chainrule.tensor import Tensor


class _ConstantPadNd(Module):
    """Pad the last ``_dims`` dimensions with ``value``; ``padding`` an int (every side) or a tuple
    (left, right[, top, bottom]), negative amounts cropping."""

    _dims = 0

    def __init__(self, padding: int | tuple[int, ...], value: float):
        super().__init__()
        name, sides = type(self).__name__, 2 * self._dims
        if isinstance(padding, numbers.Integral) and not isinstance(padding, bool):
            padding = (int(padding),) * sides
        if not isinstance(padding, (tuple, list)) or len(padding) != sides:
            raise ValueError(f"{name}: padding must be an int or a tuple of {sides} ints, got {padding!r}")
        self.padding, self.value = tuple(int(p) for p in padding), value

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim not in (self._dims + 1, self._dims + 2):
            raise ValueError(
                f"{type(self).__name__}: expects a {self._dims + 1}-D or {self._dims + 2}-D input, got shape {x.shape}"
            )
        return F.pad(x, self.padding, "constant", self.value)

    def get_config(self) -> dict[str, Any]:
        return {"padding": list(self.padding), "value": self.value}

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Pad the last dimension of (N, C, L) or (C, L) inputs with ``value``: ``padding`` an int or (left, right).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.ConstantPad1d((1, 2), 9.0)(cr.ones(1, 1, 2))
        tensor([[[9., 1., 1., 9., 9.]]])
    """

    _dims = 1


class ConstantPad2d(_ConstantPadNd):
    """Pad the last two dimensions of (N, C, H, W) or (C, H, W) inputs with ``value``: ``padding`` an
    int or (left, right, top, bottom).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.ConstantPad2d((1, 0, 0, 1), 5.0)(cr.ones(1, 1, 1))
        tensor([[[5., 1.],
                 [5., 5.]]])
    """

    _dims = 2


class ZeroPad1d(ConstantPad1d):
    """Pad the last dimension with zeros: ``padding`` an int or (left, right).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.ZeroPad1d(1)(cr.ones(1, 2))
        tensor([[0., 1., 1., 0.]])
    """

    def __init__(self, padding: int | tuple[int, int]):
        super().__init__(padding, 0.0)

    def get_config(self) -> dict[str, Any]:
        return {"padding": list(self.padding)}

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad2d(ConstantPad2d):
    """Pad the last two dimensions with zeros: ``padding`` an int or (left, right, top, bottom).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.ZeroPad2d((1, 1, 0, 0))(cr.ones(1, 1, 1)).shape
        (1, 1, 3)
    """

    def __init__(self, padding: int | tuple[int, int, int, int]):
        super().__init__(padding, 0.0)

    def get_config(self) -> dict[str, Any]:
        return {"padding": list(self.padding)}

    def extra_repr(self) -> str:
        return f"{self.padding}"
