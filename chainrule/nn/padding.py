"""Padding layers, as PyTorch's: ConstantPad1d/2d and ZeroPad1d/2d (``F.pad`` in constant mode),
ReflectionPad1d/2d, ReplicationPad1d/2d and CircularPad1d/2d (its other modes)."""

from __future__ import annotations

import numbers
from typing import Any

from chainrule.nn import functional as F
from chainrule.nn.module import Module
from chainrule.tensor import Tensor


def _sides(name: str, padding: Any, dims: int) -> tuple[int, ...]:
    """``padding`` as (left, right[, top, bottom]): an int pads every side."""
    sides = 2 * dims
    if isinstance(padding, numbers.Integral) and not isinstance(padding, bool):
        padding = (int(padding),) * sides
    if not isinstance(padding, (tuple, list)) or len(padding) != sides:
        raise ValueError(f"{name}: padding must be an int or a tuple of {sides} ints, got {padding!r}")
    return tuple(int(p) for p in padding)


def _check_ndim(module: Module, x: Tensor, dims: int) -> None:
    if x.ndim not in (dims + 1, dims + 2):
        raise ValueError(f"{type(module).__name__}: expects a {dims + 1}-D or {dims + 2}-D input, got shape {x.shape}")


class _ConstantPadNd(Module):
    """Pad the last ``_dims`` dimensions with ``value``; ``padding`` an int (every side) or a tuple
    (left, right[, top, bottom]), negative amounts cropping."""

    _dims = 0

    def __init__(self, padding: int | tuple[int, ...], value: float):
        super().__init__()
        self.padding, self.value = _sides(type(self).__name__, padding, self._dims), value

    def forward(self, x: Tensor) -> Tensor:
        _check_ndim(self, x, self._dims)
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


class _ModePadNd(Module):
    """Pad the last ``_dims`` dimensions in ``F.pad``'s ``_mode``: ``padding`` an int (every side)
    or a tuple (left, right[, top, bottom])."""

    _dims = 0
    _mode = ""

    def __init__(self, padding: int | tuple[int, ...]):
        super().__init__()
        self.padding = _sides(type(self).__name__, padding, self._dims)

    def forward(self, x: Tensor) -> Tensor:
        _check_ndim(self, x, self._dims)
        return F.pad(x, self.padding, self._mode)

    def get_config(self) -> dict[str, Any]:
        return {"padding": list(self.padding)}

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ReflectionPad1d(_ModePadNd):
    """Pad the last dimension with its reflection (the edge not repeated): ``padding`` an int or
    (left, right), each less than the dimension.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.ReflectionPad1d(2)(cr.tensor([[1.0, 2.0, 3.0]]))
        tensor([[3., 2., 1., 2., 3., 2., 1.]])
    """

    _dims, _mode = 1, "reflect"


class ReflectionPad2d(_ModePadNd):
    """Pad the last two dimensions with their reflection: ``padding`` an int or (left, right, top, bottom).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.ReflectionPad2d(1)(cr.ones(1, 3, 8, 8)).shape
        (1, 3, 10, 10)
    """

    _dims, _mode = 2, "reflect"


class ReplicationPad1d(_ModePadNd):
    """Pad the last dimension by repeating its edge values: ``padding`` an int or (left, right).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.ReplicationPad1d((1, 2))(cr.tensor([[1.0, 2.0]]))
        tensor([[1., 1., 2., 2., 2.]])
    """

    _dims, _mode = 1, "replicate"


class ReplicationPad2d(_ModePadNd):
    """Pad the last two dimensions by repeating their edges: ``padding`` an int or (left, right, top, bottom).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.ReplicationPad2d((1, 0, 0, 1))(cr.ones(1, 2, 2)).shape
        (1, 3, 3)
    """

    _dims, _mode = 2, "replicate"


class CircularPad1d(_ModePadNd):
    """Pad the last dimension by wrapping around: ``padding`` an int or (left, right).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.CircularPad1d(1)(cr.tensor([[1.0, 2.0, 3.0]]))
        tensor([[3., 1., 2., 3., 1.]])
    """

    _dims, _mode = 1, "circular"


class CircularPad2d(_ModePadNd):
    """Pad the last two dimensions by wrapping around: ``padding`` an int or (left, right, top, bottom).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.CircularPad2d(1)(cr.ones(1, 1, 2, 2)).shape
        (1, 1, 4, 4)
    """

    _dims, _mode = 2, "circular"
