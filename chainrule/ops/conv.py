"""Convolution and pooling: conv1d/conv2d and their transposes, max/avg/adaptive pooling, upsampling.

Layout is PyTorch's: inputs (N, C, L) or (N, C, H, W) (an unbatched (C, ...) input works too), a
convolution weight (out_channels, in_channels / groups, *kernel).

How a convolution is computed. The input is padded once into a *channels-last* buffer
(N, *padded, C); a strided view of it (``as_strided``, no copy) shows every window as
(N, *out, *kernel, C); one reshape copies that view into the "cols" matrix (N * out, kernel * C),
and one GEMM with the weight laid out as (kernel * C, out_channels) gives every output at once.
The result (N * out, out_channels) is returned as an (N, out_channels, *out) *view*, so a
following ReLU and the next convolution find their data channels-last already and pay no
transposes. Groups are one batched GEMM with the groups as the batch axis.

Why three Functions. A convolution y = conv(x, w) is bilinear in (x, w); so are its two gradients,

    input gradient   gx = conv_input_grad(gy, w)   (a transposed convolution: GEMM, then col2im)
    weight gradient  gw = conv_weight_grad(x, gy)  (one GEMM of gy with the cols of x)

and the derivatives of each of the three are again made of the three (all are slices of one
trilinear form <conv(x, w), gy>). So every backward below is written with these Functions, and
``create_graph=True`` gives exact higher-order gradients at the same cost class as the first.
col2im, the scatter-add of cols back onto the input, loops over the kernel offsets only (kh * kw
strided adds), never over the batch, pixels or output positions. Each rule binds these
Functions through its interpreter: a plain backward runs their NumPy forwards directly (the
weight gradient reusing the cols saved by the forward), a recorded one makes them graph nodes.

Pooling loops over the kernel offsets only: each offset is one strided view of the (padded)
input, in the input's own memory layout (channels never mix), and a few whole-array ufuncs.
Max pooling remembers which offset won (ties go to the first element of the window) and its
backward adds each gradient there; average pooling's backward is its adjoint (a strided add per
kernel offset), whose own backward is average pooling again.

Example:
    >>> import chainrule as cr
    >>> x = cr.ones(2, 3, 8, 8)
    >>> w = cr.ones(4, 3, 3, 3)
    >>> cr.conv2d(x, w, padding=1).shape
    (2, 4, 8, 8)
    >>> cr.max_pool2d(cr.conv2d(x, w, padding='same'), 2).shape
    (2, 4, 4, 4)
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from chainrule.autograd import Function
from chainrule.ops.elementwise import lift
from chainrule.ops.linalg import matmul
from chainrule.ops.reduce import mean
from chainrule.ops.shape import broadcast_to, index, reshape, transpose
from chainrule.tensor import Tensor

IntOrTuple = int | Sequence[int]
_SPATIAL_NAMES = {1: "L", 2: "H, W", 3: "D, H, W"}


# ------------------------------------------------------------------ arguments and geometry


def int_tuple(value: Any, d: int, name: str, op: str, minimum: int = 1) -> tuple[int, ...]:
    """``value`` (an int, or a sequence of ``d`` ints) as a ``d``-tuple of ints >= ``minimum``.

    ``op`` names the caller in the error (an op or a layer).
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


def _conv_pads(
    padding: Any, kernel: tuple[int, ...], stride: tuple[int, ...], dilation: tuple[int, ...], op: str
) -> tuple[tuple[int, int], ...]:
    """(before, after) padding per spatial axis from an int, a tuple, 'valid' or 'same'.

    'same' keeps the spatial size (stride 1 only, as in PyTorch); when the dilated kernel has an
    even size the extra zero goes after, as PyTorch does.
    """
    d = len(kernel)
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * d
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{op}: padding='same' needs stride 1, got stride {stride}")
            totals = [di * (k - 1) for k, di in zip(kernel, dilation)]
            return tuple((t // 2, t - t // 2) for t in totals)
        raise ValueError(f"{op}: padding must be an int, a tuple, 'same' or 'valid', got {padding!r}")
    return tuple((p, p) for p in int_tuple(padding, d, "padding", op, minimum=0))


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
    return out, (out - 1) * s + d * (k - 1) + 1 - (size + lo + hi)


class Windows:
    """Where the windows of a convolution or pooling lie: sizes, stride, dilation, padding.

    ``pads`` holds (before, after) per spatial axis; ``out`` the number of windows per axis.
    A convolution also has ``out_channels`` and ``groups`` (channels per group ``cg``, ``og``).
    """

    __slots__ = (
        "n",
        "c",
        "spatial",
        "kernel",
        "stride",
        "dilation",
        "pads",
        "out",
        "padded",
        "any_pad",
        "kp",
        "m",
        "out_channels",
        "groups",
        "cg",
        "og",
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
        self.n, self.c, self.spatial = x_shape[0], x_shape[1], tuple(x_shape[2:])
        self.kernel, self.stride, self.dilation = kernel, stride, dilation
        outs, full_pads = [], []
        for size, k, s, di, (lo, hi) in zip(self.spatial, kernel, stride, dilation, pads):
            o, extra = _output_size(size, k, s, di, lo, hi, ceil_mode)
            if o <= 0:
                raise ValueError(
                    f"{op}: input of shape {x_shape} padded by {pads} is smaller than the "
                    f"kernel {kernel} (dilation {dilation}): no output position fits"
                )
            outs.append(o)
            full_pads.append((lo, hi + extra))
        # a transposed convolution with output_padding fixes ``out``: the first windows only
        self.out, self.pads = tuple(outs) if out is None else out, tuple(full_pads)
        self.padded = tuple(size + lo + hi for size, (lo, hi) in zip(self.spatial, self.pads))
        self.any_pad = any(lo or hi for lo, hi in self.pads)
        self.kp = math.prod(kernel)
        self.m = self.n * math.prod(self.out)
        self.out_channels = out_channels
        self.groups = groups
        self.cg = self.c // groups
        self.og = out_channels // groups if out_channels is not None else None

    def interior(self) -> tuple[slice, ...]:
        """The spatial slices of the padded buffer that hold the input."""
        return tuple(slice(lo, lo + size) for size, (lo, _) in zip(self.spatial, self.pads))

    def offsets(self) -> list[tuple[slice, ...]]:
        """For each kernel offset, the spatial slices of the padded buffer that it reads."""
        return [
            tuple(
                slice(k * di, k * di + s * (o - 1) + 1, s)
                for k, di, s, o in zip(ks, self.dilation, self.stride, self.out)
            )
            for ks in np.ndindex(*self.kernel)
        ]


def _batched(x: Tensor, d: int, op: str) -> tuple[Tensor, bool]:
    """A (N, C, *spatial) tensor; an unbatched (C, *spatial) input gets a batch axis of 1."""
    if x.ndim == d + 2:
        return x, False
    if x.ndim == d + 1:
        return reshape(x, (1,) + x.shape), True
    raise ValueError(
        f"{op}: expected a {d + 2}-D input (N, C, {_SPATIAL_NAMES[d]}) or a {d + 1}-D unbatched "
        f"input (C, {_SPATIAL_NAMES[d]}), got shape {x.shape}"
    )


def _unbatched(y: Tensor, squeeze: bool) -> Tensor:
    return reshape(y, y.shape[1:]) if squeeze else y


# ------------------------------------------------------------------ im2col, col2im and layouts (NumPy)


@functools.cache
def _move_perm(ndim: int, source: int, destination: int) -> tuple[int, ...]:
    order = list(range(ndim))
    order.insert(destination % ndim, order.pop(source % ndim))
    return tuple(order)


def _moveaxis(a: np.ndarray, source: int, destination: int) -> np.ndarray:
    """``np.moveaxis`` without its argument checks (it runs a dozen times per layer call)."""
    return a.transpose(_move_perm(a.ndim, source, destination))


def _allocate(shape: tuple[int, ...], like: np.ndarray, fill: float, dtype: Any = None) -> np.ndarray:
    """A new array of ``shape`` filled with ``fill``, laid out in memory as ``like`` is (a conv's
    channels-last output stays channels-last), so copies between them run along memory."""
    dtype = like.dtype if dtype is None else dtype
    order = sorted(range(like.ndim), key=lambda i: -like.strides[i])  # outermost axis first
    outer = [shape[i] for i in order]
    out = np.zeros(outer, dtype=dtype) if fill == 0 else np.full(outer, fill, dtype=dtype)
    return out.transpose(np.argsort(order))


def _in_layout_of(a: np.ndarray, like: np.ndarray) -> np.ndarray:
    """``a`` laid out in memory as ``like`` is: itself when it already is, else one copy.

    Ufuncs over operands in different layouts walk one of them across memory (several times
    slower for a channels-last gradient against a channels-first one).
    """

    def outer_first(x: np.ndarray) -> list[int]:
        return sorted((i for i in range(x.ndim) if x.shape[i] > 1), key=lambda i: -x.strides[i])

    if outer_first(a) == outer_first(like):
        return a
    out = _allocate(a.shape, like, 0.0, a.dtype)
    out[...] = a
    return out


def _padded(x: np.ndarray, g: Windows, fill: float, channels_last: bool) -> np.ndarray:
    """``x`` with the padding of ``g``: a view when there is none, else one filled copy.

    Channels-last gives (N, *padded, C), the layout the convolution's GEMM reads.
    """
    if channels_last:
        x = _moveaxis(x, 1, -1)
        shape, inner = (g.n, *g.padded, g.c), (slice(None), *g.interior(), slice(None))
    else:
        shape, inner = (g.n, g.c, *g.padded), (slice(None), slice(None), *g.interior())
    if not g.any_pad:
        return x
    if channels_last:
        out = np.zeros(shape, dtype=x.dtype) if fill == 0 else np.full(shape, fill, dtype=x.dtype)
    else:
        out = _allocate(shape, x, fill)
    out[inner] = x
    return out


def _windows_view(xp: np.ndarray, g: Windows, channels_last: bool) -> np.ndarray:
    """Every window of the padded ``xp`` without copying: (N, *out, *kernel, C) channels-last,
    (N, C, *out, *kernel) channels-first."""
    st = xp.strides
    spatial = st[1:-1] if channels_last else st[2:]
    moves = tuple(a * s for a, s in zip(spatial, g.stride))
    steps = tuple(a * di for a, di in zip(spatial, g.dilation))
    if channels_last:
        shape = (g.n, *g.out, *g.kernel, g.c)
        strides = (st[0], *moves, *steps, st[-1])
    else:
        shape = (g.n, g.c, *g.out, *g.kernel)
        strides = (st[0], st[1], *moves, *steps)
    return as_strided(xp, shape, strides, writeable=False)


def _im2col(x: np.ndarray, g: Windows) -> np.ndarray:
    """The cols of ``x``: (groups, N * out, kernel * C/groups), one row per output position."""
    win = _windows_view(_padded(x, g, 0.0, channels_last=True), g, channels_last=True)
    if g.groups == 1:
        return win.reshape(1, g.m, g.kp * g.c)
    win = win.reshape(*win.shape[:-1], g.groups, g.cg)
    return _moveaxis(win, -2, 0).reshape(g.groups, g.m, g.kp * g.cg)


def _col2im(cols: np.ndarray, g: Windows) -> np.ndarray:
    """The adjoint of ``_im2col``: add every row of cols back onto the input positions it came
    from. One strided add per kernel offset; returns (N, C, *spatial)."""
    d = len(g.kernel)
    c = _moveaxis(cols.reshape(g.groups, g.n, *g.out, *g.kernel, g.cg), 0, -2)  # (N, *out, *kernel, g, cg)
    lead = (slice(None),) * (1 + d)
    out = np.zeros((g.n, *g.padded, g.groups, g.cg), dtype=cols.dtype)
    for ks, where in zip(np.ndindex(*g.kernel), g.offsets()):
        out[(slice(None), *where)] += c[lead + ks]
    out = out[(slice(None), *g.interior())].reshape(g.n, *g.spatial, g.c)
    return _moveaxis(out, -1, 1)


def _rows(y: np.ndarray, g: Windows) -> np.ndarray:
    """(N, out_channels, *out) -> (groups, N * out, out_channels/groups); free for channels-last data."""
    t = _moveaxis(y, 1, -1).reshape(g.n, *g.out, g.groups, g.og)
    return _moveaxis(t, -2, 0).reshape(g.groups, g.m, g.og)


def _unrows(rows: np.ndarray, g: Windows) -> np.ndarray:
    """The inverse of ``_rows``: a channels-last (N, out_channels, *out) view when groups == 1."""
    t = _moveaxis(rows.reshape(g.groups, g.n, *g.out, g.og), 0, -2)
    return _moveaxis(t.reshape(g.n, *g.out, g.out_channels), -1, 1)


def _weight_for_forward(w: np.ndarray, g: Windows) -> np.ndarray:
    """(O, C/groups, *kernel) -> (groups, kernel * C/groups, O/groups), matching the cols."""
    d = len(g.kernel)
    t = w.reshape(g.groups, g.og, g.cg, *g.kernel)
    return np.transpose(t, (0, *range(3, 3 + d), 2, 1)).reshape(g.groups, g.kp * g.cg, g.og)


def _weight_for_input_grad(w: np.ndarray, g: Windows) -> np.ndarray:
    """(O, C/groups, *kernel) -> (groups, O/groups, kernel * C/groups)."""
    d = len(g.kernel)
    t = w.reshape(g.groups, g.og, g.cg, *g.kernel)
    return np.transpose(t, (0, 1, *range(3, 3 + d), 2)).reshape(g.groups, g.og, g.kp * g.cg)


def _gemm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Batched matmul over the groups; a single group is one plain 2-D GEMM."""
    if a.shape[0] == 1:
        return np.matmul(a[0], b[0])[None]
    return np.matmul(a, b)


def _conv(cols: np.ndarray, w: np.ndarray, b: np.ndarray | None, g: Windows) -> np.ndarray:
    y = _gemm(cols, _weight_for_forward(w, g))
    if b is not None:
        y += b.reshape(g.groups, 1, g.og)
    return _unrows(y, g)


def _input_grad(rows: np.ndarray, w: np.ndarray, g: Windows) -> np.ndarray:
    return _col2im(_gemm(rows, _weight_for_input_grad(w, g)), g)


def _weight_grad(rows: np.ndarray, cols: np.ndarray, g: Windows) -> np.ndarray:
    gw = _gemm(np.swapaxes(rows, 1, 2), cols)  # (groups, O/groups, kernel * C/groups)
    gw = _moveaxis(gw.reshape(g.groups, g.og, *g.kernel, g.cg), -1, 2)
    return np.ascontiguousarray(gw.reshape(g.out_channels, g.cg, *g.kernel))


# ------------------------------------------------------------------ the three convolution Functions


class Conv(Function):
    """y = conv(x, w) + b: im2col and one GEMM.

    Keeps the cols (kernel-size times the input) while the graph lives, so that a plain backward's
    weight gradient is one GEMM with no second im2col; they go with the graph after backward.
    """

    def forward(
        self,
        x: np.ndarray,
        w: np.ndarray,
        b: np.ndarray | None = None,
        *,
        geometry: Windows,
        cols: np.ndarray | None = None,
    ) -> np.ndarray:
        self.geometry = geometry
        self.cols = _im2col(x, geometry) if cols is None else cols
        return _conv(self.cols, w, b, geometry)

    def backward(self, ns, grad, x, w, b=None):
        g = self.geometry
        gx = ns.bind(ConvInputGrad, grad, w, geometry=g) if self.needs(0) else None
        gw = None
        if self.needs(1):
            gw = ns.bind(ConvWeightGrad, x, grad, geometry=g, cols=ns.cache(self.cols))
        if b is None:
            return gx, gw
        return gx, gw, (ns.sum(grad, (0, *range(2, grad.ndim))) if self.needs(2) else None)


class ConvInputGrad(Function):
    """gx = conv_input_grad(gy, w), the adjoint of conv(., w): one GEMM, then col2im.

    Also the forward of a transposed convolution.
    """

    def forward(self, gy: np.ndarray, w: np.ndarray, *, geometry: Windows) -> np.ndarray:
        self.geometry = geometry
        return _input_grad(_rows(gy, geometry), w, geometry)

    def backward(self, ns, grad, gy, w):
        g = self.geometry
        d_gy = ns.bind(Conv, grad, w, geometry=g) if self.needs(0) else None
        d_w = ns.bind(ConvWeightGrad, grad, gy, geometry=g) if self.needs(1) else None
        return d_gy, d_w


class ConvWeightGrad(Function):
    """gw = conv_weight_grad(x, gy): one GEMM of gy with the cols of x."""

    def forward(
        self, x: np.ndarray, gy: np.ndarray, *, geometry: Windows, cols: np.ndarray | None = None
    ) -> np.ndarray:
        self.geometry = geometry
        self.cols = _im2col(x, geometry) if cols is None else cols
        return _weight_grad(_rows(gy, geometry), self.cols, geometry)

    def backward(self, ns, grad, x, gy):
        g = self.geometry
        d_x = ns.bind(ConvInputGrad, gy, grad, geometry=g) if self.needs(0) else None
        d_gy = ns.bind(Conv, x, grad, geometry=g, cols=ns.cache(self.cols)) if self.needs(1) else None
        return d_x, d_gy


# ------------------------------------------------------------------ pooling Functions


class MaxPool(Function):
    """The maximum of each window, found by one compare-and-keep pass per kernel offset.

    Remembers which offset won (ties keep the first; a NaN wins and stays, as in PyTorch).
    """

    def forward(self, x: np.ndarray, *, geometry: Windows) -> np.ndarray:
        g = geometry
        xp = _padded(x, g, -np.inf, channels_last=False)
        windows = [xp[(slice(None), slice(None), *where)] for where in g.offsets()]
        best = windows[0].copy(order="K")  # order K: keeps the input's memory layout
        arg = np.zeros_like(best, dtype=np.int16 if g.kp < 2**15 else np.int64)
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

    def forward(self, grad: np.ndarray, *, geometry: Windows, arg: np.ndarray) -> np.ndarray:
        g = geometry
        self.geometry, self.arg = g, arg
        grad = _in_layout_of(grad, arg)
        out = _allocate((g.n, g.c, *g.padded), arg, 0.0, grad.dtype)
        for k, where in enumerate(g.offsets()):
            out[(slice(None), slice(None), *where)] += grad * (arg == k)
        return out[(slice(None), slice(None), *g.interior())]

    def backward(self, ns, grad, gy):
        return ns.bind(MaxPoolGather, grad, geometry=self.geometry, arg=ns.saved(self, "arg"))


class MaxPoolGather(Function):
    """Each window's winner, read from another tensor of the input's shape (MaxPoolScatter's adjoint)."""

    def forward(self, a: np.ndarray, *, geometry: Windows, arg: np.ndarray) -> np.ndarray:
        g = geometry
        self.geometry, self.arg = g, arg
        ap = _padded(_in_layout_of(a, arg), g, 0.0, channels_last=False)
        out = np.zeros_like(arg, dtype=a.dtype)
        for k, where in enumerate(g.offsets()):
            out += ap[(slice(None), slice(None), *where)] * (arg == k)
        return out

    def backward(self, ns, grad, a):
        return ns.bind(MaxPoolScatter, grad, geometry=self.geometry, arg=ns.saved(self, "arg"))


class AvgPool(Function):
    """The mean of each window: one strided add per kernel offset, then a division."""

    def forward(self, x: np.ndarray, *, geometry: Windows, divisor: float | np.ndarray) -> np.ndarray:
        g = geometry
        self.geometry, self.divisor = g, divisor
        xp = _padded(x, g, 0.0, channels_last=False)
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

    def forward(self, grad: np.ndarray, *, geometry: Windows, divisor: float | np.ndarray) -> np.ndarray:
        g = geometry
        self.geometry, self.divisor = g, divisor
        share = grad / divisor
        out = _allocate((g.n, g.c, *g.padded), share, 0.0)
        for where in g.offsets():
            out[(slice(None), slice(None), *where)] += share
        return out[(slice(None), slice(None), *g.interior())]

    def backward(self, ns, grad, gy):
        return ns.bind(AvgPool, grad, geometry=self.geometry, divisor=self.divisor)


# ------------------------------------------------------------------ convolution API


def _conv_nd(
    d: int,
    op: str,
    input: Any,
    weight: Any,
    bias: Any,
    stride: IntOrTuple,
    padding: Any,
    dilation: IntOrTuple,
    groups: int,
) -> Tensor:
    x, squeeze = _batched(lift(input), d, op)
    w = lift(weight)
    if w.ndim != d + 2:
        raise ValueError(
            f"{op}: weight must be {d + 2}-D (out_channels, in_channels/groups, {_SPATIAL_NAMES[d]}), "
            f"got shape {w.shape}"
        )
    if not isinstance(groups, numbers.Integral) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive integer, got {groups!r}")
    out_channels, in_per_group, kernel = w.shape[0], w.shape[1], tuple(w.shape[2:])
    if x.shape[1] != in_per_group * groups:
        raise ValueError(
            f"{op}: input of shape {x.shape} has {x.shape[1]} channels, but weight of shape {w.shape} "
            f"with groups={groups} expects {in_per_group * groups}"
        )
    if out_channels % groups:
        raise ValueError(f"{op}: out_channels ({out_channels}) must be divisible by groups ({groups})")
    if bias is not None:
        bias = lift(bias)
        if bias.shape != (out_channels,):
            raise ValueError(f"{op}: bias must have shape ({out_channels},), got {bias.shape}")
    stride = int_tuple(stride, d, "stride", op)
    dilation = int_tuple(dilation, d, "dilation", op)
    pads = _conv_pads(padding, kernel, stride, dilation, op)
    geometry = Windows(x.shape, kernel, stride, dilation, pads, op, out_channels=out_channels, groups=groups)
    y = Conv.apply(x, w, geometry=geometry) if bias is None else Conv.apply(x, w, bias, geometry=geometry)
    return _unbatched(y, squeeze)


def conv1d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: IntOrTuple = 1,
    padding: Any = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
) -> Tensor:
    """1-D convolution (cross-correlation, as in every deep-learning library) of (N, C, L) input.

    Args:
        input: (N, C_in, L) or unbatched (C_in, L).
        weight: (C_out, C_in / groups, k).
        bias: (C_out,) or None (default).
        stride: step between windows (default 1).
        padding: zeros added on both sides: an int, 'valid' (0, default) or 'same' (output length
            = input length; stride 1 only).
        dilation: spacing between kernel taps (default 1).
        groups: split channels into this many independent groups (default 1; C_in gives a
            depthwise convolution).

    Shape:
        output (N, C_out, L_out), L_out = floor((L + 2 padding - dilation (k - 1) - 1) / stride) + 1.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([[[1.0, 2.0, 3.0, 4.0]]])
        >>> cr.conv1d(x, cr.tensor([[[1.0, -1.0]]]))
        tensor([[[-1., -1., -1.]]])
    """
    return _conv_nd(1, "conv1d", input, weight, bias, stride, padding, dilation, groups)


def conv2d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: IntOrTuple = 1,
    padding: Any = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
) -> Tensor:
    """2-D convolution of (N, C, H, W) images; arguments as ``conv1d``, each an int or an (h, w) pair.

    Shape:
        output (N, C_out, H_out, W_out), each side as in ``conv1d``.

    Example:
        >>> import chainrule as cr
        >>> x = cr.arange(16.0).reshape(1, 1, 4, 4)
        >>> cr.conv2d(x, cr.ones(1, 1, 2, 2), stride=2)
        tensor([[[[10., 18.],
                  [42., 50.]]]])
    """
    return _conv_nd(2, "conv2d", input, weight, bias, stride, padding, dilation, groups)


def _conv_transpose_nd(
    d: int,
    op: str,
    input: Any,
    weight: Any,
    bias: Any,
    stride: IntOrTuple,
    padding: IntOrTuple,
    output_padding: IntOrTuple,
    groups: int,
    dilation: IntOrTuple,
) -> Tensor:
    x, squeeze = _batched(lift(input), d, op)
    w = lift(weight)
    if w.ndim != d + 2:
        raise ValueError(
            f"{op}: weight must be {d + 2}-D (in_channels, out_channels/groups, {_SPATIAL_NAMES[d]}), "
            f"got shape {w.shape}"
        )
    if not isinstance(groups, numbers.Integral) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive integer, got {groups!r}")
    if x.shape[1] != w.shape[0] or w.shape[0] % groups:
        raise ValueError(
            f"{op}: input of shape {x.shape} has {x.shape[1]} channels, but weight of shape {w.shape} "
            f"expects {w.shape[0]} (divisible by groups={groups})"
        )
    kernel = tuple(w.shape[2:])
    stride = int_tuple(stride, d, "stride", op)
    dilation = int_tuple(dilation, d, "dilation", op)
    pad = int_tuple(padding, d, "padding", op, minimum=0)
    extra = int_tuple(output_padding, d, "output_padding", op, minimum=0)
    if any(e >= s and e >= di for e, s, di in zip(extra, stride, dilation)):
        raise ValueError(f"{op}: output_padding {extra} must be smaller than stride {stride} or dilation {dilation}")
    size = tuple(
        (n - 1) * s - 2 * p + di * (k - 1) + e + 1
        for n, s, p, di, k, e in zip(x.shape[2:], stride, pad, dilation, kernel, extra)
    )
    if any(n <= 0 for n in size):
        raise ValueError(f"{op}: input of shape {x.shape} gives a non-positive output size {size}")
    out_channels = w.shape[1] * groups
    # the convolution whose input gradient this is: from (N, out_channels, *size) to x's shape
    geometry = Windows(
        (x.shape[0], out_channels, *size),
        kernel,
        stride,
        dilation,
        tuple((p, p) for p in pad),
        op,
        out_channels=x.shape[1],
        groups=groups,
        out=tuple(x.shape[2:]),
    )
    y = ConvInputGrad.apply(x, w, geometry=geometry)
    if bias is not None:
        bias = lift(bias)
        if bias.shape != (out_channels,):
            raise ValueError(f"{op}: bias must have shape ({out_channels},), got {bias.shape}")
        y = y + reshape(bias, (out_channels,) + (1,) * d)
    return _unbatched(y, squeeze)


def conv_transpose1d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: IntOrTuple = 1,
    padding: IntOrTuple = 0,
    output_padding: IntOrTuple = 0,
    groups: int = 1,
    dilation: IntOrTuple = 1,
) -> Tensor:
    """Transposed 1-D convolution (the gradient of ``conv1d`` with respect to its input).

    ``weight`` is (C_in, C_out / groups, k), as in PyTorch. Output length:
    (L - 1) stride - 2 padding + dilation (k - 1) + output_padding + 1.

    Example:
        >>> import chainrule as cr
        >>> cr.conv_transpose1d(cr.ones(1, 1, 3), cr.ones(1, 1, 2), stride=2)
        tensor([[[1., 1., 1., 1., 1., 1.]]])
    """
    return _conv_transpose_nd(
        1, "conv_transpose1d", input, weight, bias, stride, padding, output_padding, groups, dilation
    )


def conv_transpose2d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: IntOrTuple = 1,
    padding: IntOrTuple = 0,
    output_padding: IntOrTuple = 0,
    groups: int = 1,
    dilation: IntOrTuple = 1,
) -> Tensor:
    """Transposed 2-D convolution; arguments as ``conv_transpose1d``, each an int or an (h, w) pair.

    Example:
        >>> import chainrule as cr
        >>> cr.conv_transpose2d(cr.ones(1, 2, 3, 3), cr.ones(2, 4, 2, 2), stride=2).shape
        (1, 4, 6, 6)
    """
    return _conv_transpose_nd(
        2, "conv_transpose2d", input, weight, bias, stride, padding, output_padding, groups, dilation
    )


# ------------------------------------------------------------------ pooling API


def _pool_windows(
    d: int,
    op: str,
    x: Tensor,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None,
    padding: IntOrTuple,
    dilation: IntOrTuple,
    ceil_mode: bool,
) -> Windows:
    kernel = int_tuple(kernel_size, d, "kernel_size", op)
    stride = kernel if stride is None else int_tuple(stride, d, "stride", op)
    dilation = int_tuple(dilation, d, "dilation", op)
    pad = int_tuple(padding, d, "padding", op, minimum=0)
    for p, k, di in zip(pad, kernel, dilation):
        if 2 * p > di * (k - 1) + 1:
            raise ValueError(f"{op}: padding {pad} must be at most half of the kernel size {kernel}")
    return Windows(x.shape, kernel, stride, dilation, tuple((p, p) for p in pad), op, ceil_mode=bool(ceil_mode))


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
    x, squeeze = _batched(lift(input), d, op)
    geometry = _pool_windows(d, op, x, kernel_size, stride, padding, dilation, ceil_mode)
    return _unbatched(MaxPool.apply(x, geometry=geometry), squeeze)


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


def _avg_divisor(g: Windows, count_include_pad: bool, dtype: np.dtype) -> float | np.ndarray:
    """What each window's sum is divided by (PyTorch's rule): the window size, less the positions
    past the declared padding (``ceil_mode``) and, without ``count_include_pad``, the padding."""
    counts = []
    for size, k, s, o, (lo, _) in zip(g.spatial, g.kernel, g.stride, g.out, g.pads):
        start = np.arange(o) * s - lo
        stop = np.minimum(start + k, size + lo)
        if not count_include_pad:
            start, stop = np.maximum(start, 0), np.minimum(stop, size)
        counts.append(stop - start)
    divisor = counts[0]
    for c in counts[1:]:
        divisor = np.multiply.outer(divisor, c)
    if np.all(divisor == g.kp):
        return float(g.kp)
    return divisor.astype(dtype)


def _avg_pool_nd(
    d: int,
    op: str,
    input: Any,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None,
    padding: IntOrTuple,
    ceil_mode: bool,
    count_include_pad: bool,
) -> Tensor:
    x, squeeze = _batched(lift(input), d, op)
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: needs a floating-point input, got dtype {x.dtype}")
    geometry = _pool_windows(d, op, x, kernel_size, stride, padding, 1, ceil_mode)
    divisor = _avg_divisor(geometry, count_include_pad, x.dtype)
    return _unbatched(AvgPool.apply(x, geometry=geometry, divisor=divisor), squeeze)


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
) -> Tensor:
    """The mean over (kh, kw) windows of (N, C, H, W) input; arguments as ``avg_pool1d``.

    Example:
        >>> import chainrule as cr
        >>> cr.avg_pool2d(cr.arange(16.0).reshape(1, 1, 4, 4), 2)
        tensor([[[[ 2.5,  4.5],
                  [10.5, 12.5]]]])
    """
    return _avg_pool_nd(2, "avg_pool2d", input, kernel_size, stride, padding, ceil_mode, count_include_pad)


def _adaptive_matrix(size: int, out: int, dtype: np.dtype) -> np.ndarray:
    """(out, size) matrix whose row i averages the input over [floor(i size/out), ceil((i+1) size/out))."""
    start = (np.arange(out) * size) // out
    stop = -((-(np.arange(out) + 1) * size) // out)
    cols = np.arange(size)
    inside = (cols >= start[:, None]) & (cols < stop[:, None])
    return (inside / (stop - start)[:, None]).astype(dtype)


def _adaptive_avg_pool_nd(d: int, op: str, input: Any, output_size: Any) -> Tensor:
    x, squeeze = _batched(lift(input), d, op)
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: needs a floating-point input, got dtype {x.dtype}")
    single = output_size is None or isinstance(output_size, numbers.Integral)
    sizes = (output_size,) * d if single else tuple(output_size)
    if len(sizes) != d:
        raise ValueError(f"{op}: output_size must be an int or {d} sizes, got {output_size!r}")
    spatial = x.shape[2:]
    sizes = tuple(n if o is None else int_tuple(o, 1, "output_size", op)[0] for o, n in zip(sizes, spatial))
    if all(o == 1 for o in sizes):  # global average pooling
        y = mean(x, tuple(range(2, 2 + d)), keepdims=True)
    elif all(n % o == 0 for o, n in zip(sizes, spatial)):  # equal windows: plain average pooling
        kernel = tuple(n // o for o, n in zip(sizes, spatial))
        g = Windows(x.shape, kernel, kernel, (1,) * d, ((0, 0),) * d, op)
        y = AvgPool.apply(x, geometry=g, divisor=float(g.kp))
    else:  # uneven windows: one averaging matrix per axis, y = P_h x P_wᵀ
        y = x
        for axis, (o, n) in enumerate(zip(sizes, spatial)):
            if o == n:
                continue
            p = Tensor._make(_adaptive_matrix(n, o, x.dtype).T)  # (n, o)
            moved = list(range(y.ndim))
            moved[2 + axis], moved[-1] = moved[-1], moved[2 + axis]
            y = transpose(matmul(transpose(y, moved), p), moved)
    return _unbatched(y, squeeze)


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
