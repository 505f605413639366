"""Pooling and resizing: max/avg/adaptive-average pooling (1-D, 2-D) and nearest-neighbour interpolation.

Layout is PyTorch's: inputs (N, C, L) or (N, C, H, W) (an unbatched (C, ...) input works too).
The window geometry comes from ``windows.py``, shared with the convolutions of ``conv.py``.

Pooling loops over the kernel offsets only: each offset is one strided view of the (padded)
input, in the input's own memory layout (channels never mix), and a few whole-array ufuncs.
Max pooling remembers which offset won (ties go to the first element of the window) and its
backward adds each gradient there (``MaxPoolScatter``, whose own backward is ``MaxPoolGather``,
and back); average pooling's backward is its adjoint (a strided add per kernel offset,
``AvgPoolAdjoint``), whose own backward is average pooling again. Adaptive average pooling is
global averaging, plain average pooling or one averaging matrix per axis; interpolation is a
broadcast (integer factors) or an index.

Example:
    >>> import chainrule as cr
    >>> x = cr.ones(2, 3, 8, 8)
    >>> cr.max_pool2d(cr.conv2d(x, cr.ones(4, 3, 3, 3), padding='same'), 2).shape
    (2, 4, 4, 4)
    >>> cr.interpolate(cr.avg_pool2d(x, 2), scale_factor=2).shape
    (2, 3, 8, 8)
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from chainrule.autograd import Function
from chainrule.ops.elementwise import lift
from chainrule.ops.reduce import mean
from chainrule.ops.shape import broadcast_to, concat, index, reshape
from chainrule.ops.windows import (
    IntOrTuple,
    WindowGeometry,
    add_batch_axis,
    allocate_like,
    drop_batch_axis,
    int_tuple,
    padded_input,
)
from chainrule.tensor import Tensor

# ------------------------------------------------------------------ memory layout (NumPy)


def _in_layout_of(a: np.ndarray, like: np.ndarray) -> np.ndarray:
    """``a`` laid out in memory as ``like`` is: itself when it already is, else one copy.

    Ufuncs over operands in different layouts walk one of them across memory (several times
    slower for a channels-last gradient against a channels-first one).
    """

    def outer_first(x: np.ndarray) -> list[int]:
        return sorted((i for i in range(x.ndim) if x.shape[i] > 1), key=lambda i: -x.strides[i])

    if outer_first(a) == outer_first(like):
        return a
    out = allocate_like(a.shape, like, 0.0, a.dtype)
    out[...] = a
    return out


# ------------------------------------------------------------------ pooling Functions


class MaxPool(Function):
    """The maximum of each window, found by one compare-and-keep pass per kernel offset.

    Remembers which offset won (ties keep the first; a NaN wins and stays, as in PyTorch).
    """

    def forward(self, x: np.ndarray, *, geometry: WindowGeometry) -> np.ndarray:
        g = geometry
        xp = padded_input(x, g, -np.inf, channels_last=False)
        windows = [xp[(slice(None), slice(None), *where)] for where in g.offsets()]
        best = windows[0].copy(order="K")  # order K: keeps the input's memory layout
        arg = np.zeros_like(best, dtype=np.int16 if g.kernel_volume < 2**15 else np.int64)
        # plain ufuncs only: masked ones (copyto/where=) and np.where run ~10x slower here
        for k, candidate in enumerate(windows[1:], 1):
            better = candidate > best  # strict: a tie keeps the earlier offset
            arg += better * (k - arg)
            np.maximum(best, candidate, out=best)  # propagates NaN, as PyTorch does
        self.geometry, self.arg = g, arg
        return best

    def backward(self, ns, grad, x):
        return ns.bind(MaxPoolScatter, grad, geometry=self.geometry, arg=ns.saved(self, "arg"))


class MaxPoolScatter(Function):
    """The backward of max pooling: each output's gradient added at its window's winner."""

    def forward(self, grad: np.ndarray, *, geometry: WindowGeometry, arg: np.ndarray) -> np.ndarray:
        g = geometry
        self.geometry, self.arg = g, arg
        grad = _in_layout_of(grad, arg)
        out = allocate_like((g.batch, g.channels, *g.padded_size), arg, 0.0, grad.dtype)
        for k, where in enumerate(g.offsets()):
            out[(slice(None), slice(None), *where)] += grad * (arg == k)
        return out[(slice(None), slice(None), *g.interior())]

    def backward(self, ns, grad, gy):
        return ns.bind(MaxPoolGather, grad, geometry=self.geometry, arg=ns.saved(self, "arg"))


class MaxPoolGather(Function):
    """Each window's winner, read from another tensor of the input's shape (MaxPoolScatter's adjoint)."""

    def forward(self, a: np.ndarray, *, geometry: WindowGeometry, arg: np.ndarray) -> np.ndarray:
        g = geometry
        self.geometry, self.arg = g, arg
        ap = padded_input(_in_layout_of(a, arg), g, 0.0, channels_last=False)
        out = np.zeros_like(arg, dtype=a.dtype)
        for k, where in enumerate(g.offsets()):
            out += ap[(slice(None), slice(None), *where)] * (arg == k)
        return out

    def backward(self, ns, grad, a):
        return ns.bind(MaxPoolScatter, grad, geometry=self.geometry, arg=ns.saved(self, "arg"))


class AvgPool(Function):
    """The mean of each window: one strided add per kernel offset, then a division."""

    def forward(self, x: np.ndarray, *, geometry: WindowGeometry, divisor: float | np.ndarray) -> np.ndarray:
        g = geometry
        self.geometry, self.divisor = g, divisor
        xp = padded_input(x, g, 0.0, channels_last=False)
        total = None
        for where in g.offsets():
            part = xp[(slice(None), slice(None), *where)]
            if total is None:
                total = part.copy(order="K")
            else:
                total += part
        total /= divisor
        return total

    def backward(self, ns, grad, x):
        return ns.bind(AvgPoolAdjoint, grad, geometry=self.geometry, divisor=self.divisor)


class AvgPoolAdjoint(Function):
    """The backward of average pooling: each output's gradient / divisor added over its window."""

    def forward(self, grad: np.ndarray, *, geometry: WindowGeometry, divisor: float | np.ndarray) -> np.ndarray:
        g = geometry
        self.geometry, self.divisor = g, divisor
        share = grad / divisor
        out = allocate_like((g.batch, g.channels, *g.padded_size), share, 0.0)
        for where in g.offsets():
            out[(slice(None), slice(None), *where)] += share
        return out[(slice(None), slice(None), *g.interior())]

    def backward(self, ns, grad, gy):
        return ns.bind(AvgPool, grad, geometry=self.geometry, divisor=self.divisor)


# ------------------------------------------------------------------ pooling API


def _pool_geometry(
    d: int,
    op: str,
    x: Tensor,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None,
    padding: IntOrTuple,
    dilation: IntOrTuple,
    ceil_mode: bool,
) -> WindowGeometry:
    kernel = int_tuple(kernel_size, d, "kernel_size", op)
    stride = kernel if stride is None else int_tuple(stride, d, "stride", op)
    dilation = int_tuple(dilation, d, "dilation", op)
    pad = int_tuple(padding, d, "padding", op, minimum=0)
    for p, k, di in zip(pad, kernel, dilation):
        if 2 * p > di * (k - 1) + 1:
            raise ValueError(f"{op}: padding {pad} must be at most half of the kernel size {kernel}")
    return WindowGeometry(x.shape, kernel, stride, dilation, tuple((p, p) for p in pad), op, ceil_mode=bool(ceil_mode))


def _max_pool_nd(
    d: int,
    op: str,
    input: Any,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None,
    padding: IntOrTuple,
    dilation: IntOrTuple,
    ceil_mode: bool,
) -> Tensor:
    x, unbatched = add_batch_axis(lift(input), d, op)
    geometry = _pool_geometry(d, op, x, kernel_size, stride, padding, dilation, ceil_mode)
    return drop_batch_axis(MaxPool.apply(x, geometry=geometry), unbatched)


def max_pool1d(
    input: Any,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: IntOrTuple = 0,
    dilation: IntOrTuple = 1,
    ceil_mode: bool = False,
) -> Tensor:
    """The maximum over windows of length ``kernel_size`` of (N, C, L) input.

    Args:
        kernel_size: window length.
        stride: step between windows (default: ``kernel_size``, non-overlapping windows).
        padding: -inf added on both sides (at most half the kernel size).
        dilation: spacing between the elements of a window (default 1).
        ceil_mode: count a last partial window (default False: drop it).

    The gradient of each output goes to the element that was the maximum (the first one on ties).

    Example:
        >>> import chainrule as cr
        >>> cr.max_pool1d(cr.tensor([[[1.0, 3.0, 2.0, 5.0, 4.0]]]), 2)
        tensor([[[3., 5.]]])
    """
    return _max_pool_nd(1, "max_pool1d", input, kernel_size, stride, padding, dilation, ceil_mode)


def max_pool2d(
    input: Any,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: IntOrTuple = 0,
    dilation: IntOrTuple = 1,
    ceil_mode: bool = False,
) -> Tensor:
    """The maximum over (kh, kw) windows of (N, C, H, W) input; arguments as ``max_pool1d``.

    Example:
        >>> import chainrule as cr
        >>> cr.max_pool2d(cr.arange(16.0).reshape(1, 1, 4, 4), 2)
        tensor([[[[ 5.,  7.],
                  [13., 15.]]]])
    """
    return _max_pool_nd(2, "max_pool2d", input, kernel_size, stride, padding, dilation, ceil_mode)


def _avg_divisor(g: WindowGeometry, count_include_pad: bool, dtype: np.dtype) -> float | np.ndarray:
    """What each window's sum is divided by (PyTorch's rule): the window size, less the positions
    past the declared padding (``ceil_mode``) and, without ``count_include_pad``, the padding."""
    counts = []
    for size, k, s, o, (lo, _) in zip(g.in_size, g.kernel, g.stride, g.out_size, g.pads):
        start = np.arange(o) * s - lo
        stop = np.minimum(start + k, size + lo)
        if not count_include_pad:
            start, stop = np.maximum(start, 0), np.minimum(stop, size)
        counts.append(stop - start)
    divisor = counts[0]
    for c in counts[1:]:
        divisor = np.multiply.outer(divisor, c)
    if np.all(divisor == g.kernel_volume):
        return float(g.kernel_volume)
    return divisor.astype(dtype)


def check_divisor_override(divisor_override: Any, op: str) -> None:
    """Raise unless ``divisor_override`` is None or a nonzero int (PyTorch's rule: a negative one
    is taken as given)."""
    if divisor_override is None:
        return
    if isinstance(divisor_override, bool) or not isinstance(divisor_override, numbers.Integral):
        raise TypeError(f"{op}: divisor_override must be an int or None, got {divisor_override!r}")
    if divisor_override == 0:
        raise ValueError(f"{op}: divisor_override must not be zero")


def _avg_pool_nd(
    d: int,
    op: str,
    input: Any,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None,
    padding: IntOrTuple,
    ceil_mode: bool,
    count_include_pad: bool,
    divisor_override: int | None = None,
) -> Tensor:
    check_divisor_override(divisor_override, op)
    x, unbatched = add_batch_axis(lift(input), d, op)
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: needs a floating-point input, got dtype {x.dtype}")
    geometry = _pool_geometry(d, op, x, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None:  # every window's sum divided by it, whatever its size
        divisor = float(divisor_override)
    else:
        divisor = _avg_divisor(geometry, count_include_pad, x.dtype)
    return drop_batch_axis(AvgPool.apply(x, geometry=geometry, divisor=divisor), unbatched)


def avg_pool1d(
    input: Any,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: IntOrTuple = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    """The mean over windows of length ``kernel_size`` of (N, C, L) input.

    Args:
        kernel_size, stride, padding, ceil_mode: as ``max_pool1d`` (zeros are the padding).
        count_include_pad: whether padded zeros count in the mean (default True, as PyTorch).

    Example:
        >>> import chainrule as cr
        >>> cr.avg_pool1d(cr.tensor([[[1.0, 3.0, 2.0, 6.0]]]), 2)
        tensor([[[2., 4.]]])
    """
    return _avg_pool_nd(1, "avg_pool1d", input, kernel_size, stride, padding, ceil_mode, count_include_pad)


def avg_pool2d(
    input: Any,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: IntOrTuple = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """The mean over (kh, kw) windows of (N, C, H, W) input; arguments as ``avg_pool1d``.

    Args:
        divisor_override: when given (a nonzero int), what every window's sum is divided by,
            in place of the window's size (``count_include_pad`` then has no effect).

    Example:
        >>> import chainrule as cr
        >>> cr.avg_pool2d(cr.arange(16.0).reshape(1, 1, 4, 4), 2)
        tensor([[[[ 2.5,  4.5],
                  [10.5, 12.5]]]])
        >>> cr.avg_pool2d(cr.arange(16.0).reshape(1, 1, 4, 4), 2, divisor_override=1)  # window sums
        tensor([[[[10., 18.],
                  [42., 50.]]]])
    """
    return _avg_pool_nd(
        2, "avg_pool2d", input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
    )


def _adaptive_windows(size: int, out: int) -> list[tuple[int, int]]:
    """PyTorch's windows of adaptive pooling: output i averages [floor(i size/out), ceil((i+1) size/out))."""
    return [((i * size) // out, -((-(i + 1) * size) // out)) for i in range(out)]


def _adaptive_avg_pool_nd(d: int, op: str, input: Any, output_size: Any) -> Tensor:
    x, unbatched = add_batch_axis(lift(input), d, op)
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: needs a floating-point input, got dtype {x.dtype}")
    single = output_size is None or isinstance(output_size, numbers.Integral)
    sizes = (output_size,) * d if single else tuple(output_size)
    if len(sizes) != d:
        raise ValueError(f"{op}: output_size must be an int or {d} sizes, got {output_size!r}")
    spatial = x.shape[2:]
    if 0 in spatial:
        raise ValueError(f"{op}: input of shape {x.shape} has an empty spatial axis: there is nothing to average")
    sizes = tuple(n if o is None else int_tuple(o, 1, "output_size", op)[0] for o, n in zip(sizes, spatial))
    if all(o == 1 for o in sizes):  # global average pooling
        y = mean(x, tuple(range(2, 2 + d)), keepdims=True)
    elif all(n % o == 0 for o, n in zip(sizes, spatial)):  # equal windows: plain average pooling
        kernel = tuple(n // o for o, n in zip(sizes, spatial))
        g = WindowGeometry(x.shape, kernel, kernel, (1,) * d, ((0, 0),) * d, op)
        y = AvgPool.apply(x, geometry=g, divisor=float(g.kernel_volume))
    else:  # uneven windows: each axis in turn, one mean per window (not a product with an averaging
        # matrix, whose zeros would spread an inf or NaN to every window: 0 * inf is NaN)
        y = x
        for axis, (o, n) in enumerate(zip(sizes, spatial)):
            if o == n:
                continue
            at = 2 + axis
            pieces = [
                mean(index(y, (slice(None),) * at + (slice(start, stop),)), (at,), keepdims=True)
                for start, stop in _adaptive_windows(n, o)
            ]
            y = concat(pieces, at)
    return drop_batch_axis(y, unbatched)


def adaptive_avg_pool1d(input: Any, output_size: int | None) -> Tensor:
    """Average pooling to a fixed output length: window i covers [floor(i L/out), ceil((i+1) L/out)).

    ``output_size=1`` is global average pooling.

    Example:
        >>> import chainrule as cr
        >>> cr.adaptive_avg_pool1d(cr.tensor([[[1.0, 2.0, 3.0, 4.0, 5.0]]]), 2)
        tensor([[[2., 4.]]])
    """
    return _adaptive_avg_pool_nd(1, "adaptive_avg_pool1d", input, output_size)


def adaptive_avg_pool2d(input: Any, output_size: Any) -> Tensor:
    """Average pooling to a fixed (h, w) output size (an int for both; None keeps that side).

    Example:
        >>> import chainrule as cr
        >>> cr.adaptive_avg_pool2d(cr.ones(8, 3, 7, 5), 1).shape
        (8, 3, 1, 1)
    """
    return _adaptive_avg_pool_nd(2, "adaptive_avg_pool2d", input, output_size)


# ------------------------------------------------------------------ upsampling


def interpolate(input: Any, size: Any = None, scale_factor: Any = None, mode: str = "nearest") -> Tensor:
    """Resize (N, C, *spatial) input by nearest-neighbour sampling, to ``size`` or by ``scale_factor``.

    Output position j along an axis reads input position floor(j / scale_factor) (or
    floor(j * in / out) when ``size`` is given), as PyTorch's mode='nearest'. Integer factors are a
    broadcast (each value repeated), whose gradient sums each block.

    Example:
        >>> import chainrule as cr
        >>> cr.interpolate(cr.tensor([[[1.0, 2.0]]]), scale_factor=2)
        tensor([[[1., 1., 2., 2.]]])
    """
    x = lift(input)
    if mode != "nearest":
        raise ValueError(f"interpolate: only mode='nearest' is implemented, got {mode!r}")
    if x.ndim < 3:
        raise ValueError(
            f"interpolate: expected input (N, C, *spatial) with at least 3 dimensions, got shape {x.shape}"
        )
    d, spatial = x.ndim - 2, x.shape[2:]
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: give exactly one of size and scale_factor")
    if size is not None:
        sizes = int_tuple(size, d, "size", "interpolate")
        scales = [n / o for n, o in zip(spatial, sizes)]  # input step per output position
    else:
        factors = (scale_factor,) * d if isinstance(scale_factor, numbers.Real) else tuple(scale_factor)
        if len(factors) != d or any(f <= 0 for f in factors):
            raise ValueError(f"interpolate: scale_factor must be positive, one per spatial axis, got {scale_factor!r}")
        sizes = tuple(int(math.floor(n * f)) for n, f in zip(spatial, factors))
        scales = [1.0 / f for f in factors]
        if all(float(f).is_integer() for f in factors):  # repeat each value f times: a broadcast
            reps = [int(f) for f in factors]
            lead = x.shape[:2]
            spread = reshape(x, lead + tuple(v for n in spatial for v in (n, 1)))
            spread = broadcast_to(spread, lead + tuple(v for n, r in zip(spatial, reps) for v in (n, r)))
            return reshape(spread, lead + sizes)
    picks = []
    for axis, (n, o, step) in enumerate(zip(spatial, sizes, scales)):
        src = np.minimum(np.floor(np.arange(o) * step).astype(np.int64), n - 1)
        picks.append(src.reshape((-1,) + (1,) * (d - 1 - axis)))
    return index(x, (slice(None), slice(None), *picks))
