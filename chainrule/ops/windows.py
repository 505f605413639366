"""Where the windows of a convolution or a pooling lie, and the memory layouts both work in.

Shared by ``conv.py`` (convolutions) and ``pool.py`` (pooling): the argument helper ``int_tuple``,
:class:`WindowGeometry` (sizes, stride, dilation, padding and the output size they give), adding
and dropping the batch axis of an unbatched input, and the NumPy layout helpers (padding into a
new buffer, allocating an array in another's memory layout, a cheap ``moveaxis``).

Layout is PyTorch's: inputs (N, C, L) or (N, C, H, W), or unbatched (C, ...).

Example:
    >>> from chainrule.ops.windows import WindowGeometry
    >>> g = WindowGeometry((8, 3, 28, 28), (5, 5), (2, 2), (1, 1), ((2, 2), (2, 2)), "demo")
    >>> g.out_size, g.kernel_volume, g.num_windows
    ((14, 14), 25, 1568)
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule.ops.shape import reshape
from chainrule.tensor import Tensor

IntOrTuple = int | Sequence[int]
"""An int for every spatial axis, or one int per axis (PyTorch's kernel_size, stride, ...)."""

SPATIAL_NAMES = {1: "L", 2: "H, W", 3: "D, H, W"}
"""The spatial axes' names by their number, for error messages."""


def int_tuple(value: Any, d: int, name: str, op: str, minimum: int = 1) -> tuple[int, ...]:
    """``value`` (an int, or a sequence of ``d`` ints) as a ``d``-tuple of ints >= ``minimum``.

    ``op`` names the caller in the error (an op or a layer).

    Example:
        >>> int_tuple(3, 2, "kernel_size", "conv2d")
        (3, 3)
    """
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        values = (int(value),) * d
    elif (
        isinstance(value, (tuple, list))
        and len(value) == d
        and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value)
    ):
        values = tuple(int(v) for v in value)
    else:
        raise ValueError(f"{op}: {name} must be an int or a sequence of {d} ints, got {value!r}")
    if any(v < minimum for v in values):
        raise ValueError(f"{op}: {name} must be at least {minimum}, got {value!r}")
    return values


def _output_size(size: int, k: int, s: int, d: int, lo: int, hi: int, ceil_mode: bool) -> tuple[int, int]:
    """Windows along one axis, and the extra padding after that ``ceil_mode`` needs (else 0).

    With ``ceil_mode`` a last partial window counts, as long as it starts inside the input or the
    padding before it (PyTorch's rule).
    """
    span = size + lo + hi - (d * (k - 1) + 1)
    if span < 0:
        return 0, 0
    if not ceil_mode:
        return span // s + 1, 0
    out = -(-span // s) + 1
    if (out - 1) * s >= size + lo:
        out -= 1
    # the last window may end before the padded input does (a stride longer than the kernel): no extra
    return out, max(0, (out - 1) * s + d * (k - 1) + 1 - (size + lo + hi))


class WindowGeometry:
    """Where the windows of a convolution or pooling lie over an (N, C, *spatial) input.

    Built once per call from the input's shape and the op's arguments, then handed to the op's
    Functions as ``geometry`` (the helpers bind it to the short local ``g``). Its fields:

    - ``batch``, ``channels``: N and C of the input;
    - ``in_size``: the input's spatial size per axis;
    - ``kernel``, ``stride``, ``dilation``: per spatial axis;
    - ``pads``: (before, after) padding per axis, including the extra padding after that
      ``ceil_mode`` adds for a last partial window;
    - ``padded_size``: the spatial size once padded; ``has_padding``: whether any padding is not 0;
    - ``out_size``: the number of windows per axis (the output's spatial size);
    - ``kernel_volume``: elements of one window per channel (the product of ``kernel``);
    - ``num_windows``: windows over the whole batch, N * prod(out_size) (a convolution's GEMM rows);
    - ``out_channels``, ``groups``: a convolution's output channels (None for pooling) and groups;
    - ``in_per_group``, ``out_per_group``: input and output channels per group (C / groups,
      out_channels / groups; the latter None for pooling).

    Args:
        x_shape: the (N, C, *spatial) input's shape.
        kernel, stride, dilation: one int per spatial axis.
        pads: (before, after) padding per spatial axis.
        op: names the op in the error when no window fits.
        ceil_mode: count a last partial window (pooling; default False).
        out_channels, groups: a convolution's output channels and groups (default None, 1).
        out: the windows per axis when the caller fixes them (a transposed convolution with
            ``output_padding``: its first windows only); by default all that fit.
    """

    __slots__ = (
        "batch",
        "channels",
        "in_size",
        "kernel",
        "stride",
        "dilation",
        "pads",
        "out_size",
        "padded_size",
        "has_padding",
        "kernel_volume",
        "num_windows",
        "out_channels",
        "groups",
        "in_per_group",
        "out_per_group",
    )

    def __init__(
        self,
        x_shape: tuple[int, ...],
        kernel: tuple[int, ...],
        stride: tuple[int, ...],
        dilation: tuple[int, ...],
        pads: tuple[tuple[int, int], ...],
        op: str,
        ceil_mode: bool = False,
        out_channels: int | None = None,
        groups: int = 1,
        out: tuple[int, ...] | None = None,
    ):
        self.batch, self.channels, self.in_size = x_shape[0], x_shape[1], tuple(x_shape[2:])
        self.kernel, self.stride, self.dilation = kernel, stride, dilation
        outs, full_pads = [], []
        for size, k, s, di, (lo, hi) in zip(self.in_size, kernel, stride, dilation, pads):
            o, extra = _output_size(size, k, s, di, lo, hi, ceil_mode)
            if o <= 0:
                raise ValueError(
                    f"{op}: input of shape {x_shape} padded by {pads} is smaller than the "
                    f"kernel {kernel} (dilation {dilation}): no output position fits"
                )
            outs.append(o)
            full_pads.append((lo, hi + extra))
        # a transposed convolution with output_padding fixes ``out``: the first windows only
        self.out_size, self.pads = tuple(outs) if out is None else out, tuple(full_pads)
        self.padded_size = tuple(size + lo + hi for size, (lo, hi) in zip(self.in_size, self.pads))
        self.has_padding = any(lo or hi for lo, hi in self.pads)
        self.kernel_volume = math.prod(kernel)
        self.num_windows = self.batch * math.prod(self.out_size)
        self.out_channels = out_channels
        self.groups = groups
        self.in_per_group = self.channels // groups
        self.out_per_group = out_channels // groups if out_channels is not None else None

    def interior(self) -> tuple[slice, ...]:
        """The spatial slices of the padded buffer that hold the input."""
        return tuple(slice(lo, lo + size) for size, (lo, _) in zip(self.in_size, self.pads))

    def offsets(self) -> list[tuple[slice, ...]]:
        """For each kernel offset, the spatial slices of the padded buffer that it reads."""
        return [
            tuple(
                slice(k * di, k * di + s * (o - 1) + 1, s)
                for k, di, s, o in zip(ks, self.dilation, self.stride, self.out_size)
            )
            for ks in np.ndindex(*self.kernel)
        ]


# ------------------------------------------------------------------ the batch axis


def add_batch_axis(x: Tensor, d: int, op: str) -> tuple[Tensor, bool]:
    """A (N, C, *spatial) tensor, and whether a batch axis of 1 was added to an unbatched
    (C, *spatial) ``x`` (``drop_batch_axis`` takes it off the result)."""
    if x.ndim == d + 2:
        return x, False
    if x.ndim == d + 1:
        return reshape(x, (1,) + x.shape), True
    raise ValueError(
        f"{op}: expected a {d + 2}-D input (N, C, {SPATIAL_NAMES[d]}) or a {d + 1}-D unbatched "
        f"input (C, {SPATIAL_NAMES[d]}), got shape {x.shape}"
    )


def drop_batch_axis(y: Tensor, added: bool) -> Tensor:
    """``y`` without the batch axis of 1 that ``add_batch_axis`` added (``added``), else ``y``."""
    return reshape(y, y.shape[1:]) if added else y


# ------------------------------------------------------------------ memory layouts (NumPy)


@functools.cache
def _move_perm(ndim: int, source: int, destination: int) -> tuple[int, ...]:
    order = list(range(ndim))
    order.insert(destination % ndim, order.pop(source % ndim))
    return tuple(order)


def moveaxis(a: np.ndarray, source: int, destination: int) -> np.ndarray:
    """``np.moveaxis`` without its argument checks (it runs a dozen times per layer call)."""
    return a.transpose(_move_perm(a.ndim, source, destination))


def allocate_like(shape: tuple[int, ...], like: np.ndarray, fill: float, dtype: Any = None) -> np.ndarray:
    """A new array of ``shape`` filled with ``fill``, laid out in memory as ``like`` is (a conv's
    channels-last output stays channels-last), so copies between them run along memory."""
    dtype = like.dtype if dtype is None else dtype
    order = sorted(range(like.ndim), key=lambda i: -like.strides[i])  # outermost axis first
    outer = [shape[i] for i in order]
    out = np.zeros(outer, dtype=dtype) if fill == 0 else np.full(outer, fill, dtype=dtype)
    return out.transpose(np.argsort(order))


def padded_input(x: np.ndarray, g: WindowGeometry, fill: float, channels_last: bool) -> np.ndarray:
    """``x`` with the padding of ``g``: a view when there is none, else one filled copy.

    Channels-last gives (N, *padded_size, C), the layout the convolution's GEMM reads;
    channels-first (N, C, *padded_size) in ``x``'s own memory layout, which pooling reads.
    """
    if channels_last:
        x = moveaxis(x, 1, -1)
        shape, inner = (g.batch, *g.padded_size, g.channels), (slice(None), *g.interior(), slice(None))
    else:
        shape, inner = (g.batch, g.channels, *g.padded_size), (slice(None), slice(None), *g.interior())
    if not g.has_padding:
        return x
    if channels_last:
        out = np.zeros(shape, dtype=x.dtype) if fill == 0 else np.full(shape, fill, dtype=x.dtype)
    else:
        out = allocate_like(shape, x, fill)
    out[inner] = x
    return out
