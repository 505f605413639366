"""Convolution: conv1d/conv2d and their transposes conv_transpose1d/conv_transpose2d.

Layout is PyTorch's: inputs (N, C, L) or (N, C, H, W) (an unbatched (C, ...) input works too), a
convolution weight (out_channels, in_channels / groups, *kernel). Pooling and resizing are in
``pool.py``; the window geometry and layout helpers both use are in ``windows.py``.

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

Example:
    >>> import chainrule as cr
    >>> x = cr.ones(2, 3, 8, 8)
    >>> w = cr.ones(4, 3, 3, 3)
    >>> cr.conv2d(x, w, padding=1).shape
    (2, 4, 8, 8)
    >>> cr.conv_transpose2d(cr.conv2d(x, w, stride=2), cr.ones(4, 3, 2, 2), stride=2).shape
    (2, 3, 6, 6)
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from chainrule import kernels
from chainrule.autograd import Function
from chainrule.ops._conv_kernels import SCATTER_ADD, destination_rows
from chainrule.ops.elementwise import lift
from chainrule.ops.shape import reshape
from chainrule.ops.windows import (
    SPATIAL_NAMES,
    IntOrTuple,
    WindowGeometry,
    add_batch_axis,
    drop_batch_axis,
    int_tuple,
    moveaxis,
    padded_input,
)
from chainrule.tensor import Tensor

# ------------------------------------------------------------------ arguments


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


def _operands(d: int, op: str, input: Any, weight: Any, groups: Any, channels: str) -> tuple[Tensor, bool, Tensor]:
    """(batched input, whether it was unbatched, weight) of a ``d``-D convolution, with the weight's
    rank and ``groups`` checked; ``channels`` names the weight's first two axes."""
    x, unbatched = add_batch_axis(lift(input), d, op)
    w = lift(weight)
    if w.ndim != d + 2:
        raise ValueError(f"{op}: weight must be {d + 2}-D ({channels}, {SPATIAL_NAMES[d]}), got shape {w.shape}")
    _check_groups(groups, op)
    return x, unbatched, w


def _check_groups(groups: Any, op: str) -> None:
    if not isinstance(groups, numbers.Integral) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive integer, got {groups!r}")


# ------------------------------------------------------------------ im2col, col2im and weight layouts (NumPy)


def _windows_view(xp: np.ndarray, g: WindowGeometry) -> np.ndarray:
    """Every window of the padded channels-last ``xp`` without copying: (N, *out, *kernel, C)."""
    st = xp.strides
    moves = tuple(a * s for a, s in zip(st[1:-1], g.stride))
    steps = tuple(a * di for a, di in zip(st[1:-1], g.dilation))
    shape = (g.batch, *g.out_size, *g.kernel, g.channels)
    return as_strided(xp, shape, (st[0], *moves, *steps, st[-1]), writeable=False)


def _im2col(x: np.ndarray, g: WindowGeometry) -> np.ndarray:
    """The cols of ``x``: (groups, N * out, kernel * C/groups), one row per output position."""
    win = _windows_view(padded_input(x, g, 0.0, channels_last=True), g)
    if g.groups == 1:
        return win.reshape(1, g.num_windows, g.kernel_volume * g.channels)
    win = win.reshape(*win.shape[:-1], g.groups, g.in_per_group)
    return moveaxis(win, -2, 0).reshape(g.groups, g.num_windows, g.kernel_volume * g.in_per_group)


def _col2im(cols: np.ndarray, g: WindowGeometry) -> np.ndarray:
    """The adjoint of ``_im2col``: add every row of cols back onto the input positions it came
    from. One strided add per kernel offset; returns (N, C, *spatial)."""
    d = len(g.kernel)
    # (N, *out, *kernel, groups, C/groups)
    c = moveaxis(cols.reshape(g.groups, g.batch, *g.out_size, *g.kernel, g.in_per_group), 0, -2)
    lead = (slice(None),) * (1 + d)
    out = np.zeros((g.batch, *g.padded_size, g.groups, g.in_per_group), dtype=cols.dtype)
    for ks, where in zip(np.ndindex(*g.kernel), g.offsets()):
        out[(slice(None), *where)] += c[lead + ks]
    out = out[(slice(None), *g.interior())].reshape(g.batch, *g.in_size, g.channels)
    return moveaxis(out, -1, 1)


def _rows(y: np.ndarray, g: WindowGeometry) -> np.ndarray:
    """(N, out_channels, *out) -> (groups, N * out, out_channels/groups); free for channels-last data."""
    t = moveaxis(y, 1, -1).reshape(g.batch, *g.out_size, g.groups, g.out_per_group)
    return moveaxis(t, -2, 0).reshape(g.groups, g.num_windows, g.out_per_group)


def _unrows(rows: np.ndarray, g: WindowGeometry) -> np.ndarray:
    """The inverse of ``_rows``: a channels-last (N, out_channels, *out) view when groups == 1."""
    t = moveaxis(rows.reshape(g.groups, g.batch, *g.out_size, g.out_per_group), 0, -2)
    return moveaxis(t.reshape(g.batch, *g.out_size, g.out_channels), -1, 1)


def _weight_for_forward(w: np.ndarray, g: WindowGeometry) -> np.ndarray:
    """(O, C/groups, *kernel) -> (groups, kernel * C/groups, O/groups), matching the cols."""
    d = len(g.kernel)
    t = w.reshape(g.groups, g.out_per_group, g.in_per_group, *g.kernel)
    return np.transpose(t, (0, *range(3, 3 + d), 2, 1)).reshape(
        g.groups, g.kernel_volume * g.in_per_group, g.out_per_group
    )


def _weight_for_input_grad(w: np.ndarray, g: WindowGeometry) -> np.ndarray:
    """(O, C/groups, *kernel) -> (groups, O/groups, kernel * C/groups)."""
    d = len(g.kernel)
    t = w.reshape(g.groups, g.out_per_group, g.in_per_group, *g.kernel)
    return np.transpose(t, (0, 1, *range(3, 3 + d), 2)).reshape(
        g.groups, g.out_per_group, g.kernel_volume * g.in_per_group
    )


def _gemm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Batched matmul over the groups; a single group is one plain 2-D GEMM."""
    if a.shape[0] == 1:
        return np.matmul(a[0], b[0])[None]
    return np.matmul(a, b)


def _conv(cols: np.ndarray, w: np.ndarray, b: np.ndarray | None, g: WindowGeometry) -> np.ndarray:
    y = _gemm(cols, _weight_for_forward(w, g))
    if b is not None:
        y += b.reshape(g.groups, 1, g.out_per_group)
    return _unrows(y, g)


def _input_grad(rows: np.ndarray, w: np.ndarray, g: WindowGeometry) -> np.ndarray:
    if g.groups > 1:
        return _col2im(_gemm(rows, _weight_for_input_grad(w, g)), g)
    # One GEMM per kernel offset, (N * out, O) @ (O, C): each offset's contributions come out
    # contiguous, so the scatter-add reads them in order. Adding the columns of one (N * out,
    # kernel * C) product instead read them strided, kernel * C apart: 5x slower for small C.
    per_offset = np.transpose(w.reshape(g.out_channels, g.channels, g.kernel_volume), (2, 0, 1))  # (K, O, C)
    parts = np.matmul(rows[0], per_offset)  # (K, N * out, C)
    out = np.zeros((g.batch, *g.padded_size, g.channels), dtype=parts.dtype)
    if (
        parts.size >= kernels.MIN_SIZE
        and kernels.enabled()
        and parts.dtype in kernels.DTYPES
        and parts.flags.c_contiguous
    ):
        where = destination_rows(g.batch, g.padded_size, g.out_size, g.kernel, g.stride, g.dilation)
        SCATTER_ADD(out.reshape(-1, g.channels), parts, where)
    else:
        for part, where in zip(parts, g.offsets()):
            out[(slice(None), *where)] += part.reshape(g.batch, *g.out_size, g.channels)
    out = out[(slice(None), *g.interior())]
    return moveaxis(out, -1, 1)


def _weight_grad(rows: np.ndarray, cols: np.ndarray, g: WindowGeometry) -> np.ndarray:
    gw = _gemm(np.swapaxes(rows, 1, 2), cols)  # (groups, O/groups, kernel * C/groups)
    gw = moveaxis(gw.reshape(g.groups, g.out_per_group, *g.kernel, g.in_per_group), -1, 2)
    return np.ascontiguousarray(gw.reshape(g.out_channels, g.in_per_group, *g.kernel))


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
        geometry: WindowGeometry,
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

    def forward(self, gy: np.ndarray, w: np.ndarray, *, geometry: WindowGeometry) -> np.ndarray:
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
        self, x: np.ndarray, gy: np.ndarray, *, geometry: WindowGeometry, cols: np.ndarray | None = None
    ) -> np.ndarray:
        self.geometry = geometry
        self.cols = _im2col(x, geometry) if cols is None else cols
        return _weight_grad(_rows(gy, geometry), self.cols, geometry)

    def backward(self, ns, grad, x, gy):
        g = self.geometry
        d_x = ns.bind(ConvInputGrad, gy, grad, geometry=g) if self.needs(0) else None
        d_gy = ns.bind(Conv, x, grad, geometry=g, cols=ns.cache(self.cols)) if self.needs(1) else None
        return d_x, d_gy


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
    x, unbatched, w = _operands(d, op, input, weight, groups, "out_channels, in_channels/groups")
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
    geometry = WindowGeometry(x.shape, kernel, stride, dilation, pads, op, out_channels=out_channels, groups=groups)
    y = Conv.apply(x, w, geometry=geometry) if bias is None else Conv.apply(x, w, bias, geometry=geometry)
    return drop_batch_axis(y, unbatched)


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
    x, unbatched, w = _operands(d, op, input, weight, groups, "in_channels, out_channels/groups")
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
    geometry = WindowGeometry(
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
    return drop_batch_axis(y, unbatched)


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
