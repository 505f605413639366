"""Convolution layers: Conv1d, Conv2d and their transposes ConvTranspose1d, ConvTranspose2d.

Each layer holds a weight and a bias and calls one op of ``chainrule.ops.conv`` (im2col and one
GEMM per call). Arguments, weight layout and default initialisation are PyTorch's, so weights can
be compared with and copied from PyTorch models.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule import ops
from chainrule.nn import init
from chainrule.nn.checks import InputSpec, parameter_dtype, positive_int
from chainrule.nn.module import Module, Parameter
from chainrule.ops.windows import SPATIAL_NAMES, int_tuple
from chainrule.tensor import Tensor


def spatial_input_spec(owner: str, d: int, channels: int | None = None) -> InputSpec:
    """The input of a layer over ``d`` spatial axes: (N, C, *spatial) or unbatched (C, *spatial),
    with ``channels`` channels when given (convolutions; pooling takes any number)."""
    names = SPATIAL_NAMES[d]
    return InputSpec(
        owner,
        ndim=(d + 2, d + 1),
        axes=None if channels is None else {-d - 1: channels},
        expected=f"a {d + 2}-D (N, C, {names}) or {d + 1}-D unbatched (C, {names}) input",
        hints={d + 1: f"a {d + 1}-D input is one unbatched (C, {names}) sample"},
    )


class _ConvNd(Module):
    """What Conv1d, Conv2d and the transposed layers share: arguments, parameters, init, repr."""

    _d = 0
    _transposed = False
    _op: Any = None  # the op of chainrule.ops that computes the layer (a staticmethod in each class)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int],
        padding: Any,
        dilation: int | Sequence[int],
        groups: int,
        bias: bool,
        padding_mode: str,
        device: Any,
        dtype: Any,
        output_padding: int | Sequence[int] = 0,
    ):
        super().__init__()
        name, d = type(self).__name__, self._d
        self.in_channels = positive_int(name, "in_channels", in_channels)
        self.out_channels = positive_int(name, "out_channels", out_channels)
        self.groups = positive_int(name, "groups", groups)
        for label, n in (("in_channels", self.in_channels), ("out_channels", self.out_channels)):
            if n % self.groups:
                raise ValueError(f"{name}: {label} ({n}) must be divisible by groups ({self.groups})")
        self.kernel_size = int_tuple(kernel_size, d, "kernel_size", name)
        self.stride = int_tuple(stride, d, "stride", name)
        self.dilation = int_tuple(dilation, d, "dilation", name)
        if isinstance(padding, str) and not self._transposed:
            if padding not in ("same", "valid"):
                raise ValueError(f"{name}: padding must be an int, a tuple, 'same' or 'valid', got {padding!r}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{name}: padding='same' needs stride 1, got stride {self.stride}")
            self.padding: str | tuple[int, ...] = padding
        else:
            self.padding = int_tuple(padding, d, "padding", name, minimum=0)
        self.output_padding = int_tuple(output_padding, d, "output_padding", name, minimum=0)
        if any(e >= s and e >= di for e, s, di in zip(self.output_padding, self.stride, self.dilation)):
            raise ValueError(
                f"{name}: output_padding {self.output_padding} must be smaller than stride "
                f"{self.stride} or dilation {self.dilation}"
            )
        if padding_mode != "zeros":
            raise ValueError(f"{name}: only padding_mode='zeros' is implemented, got {padding_mode!r}")
        self.padding_mode = padding_mode
        dtype = parameter_dtype(name, dtype, device)
        if self._transposed:  # (in_channels, out_channels / groups, *kernel), as PyTorch
            shape = (self.in_channels, self.out_channels // self.groups, *self.kernel_size)
        else:  # (out_channels, in_channels / groups, *kernel)
            shape = (self.out_channels, self.in_channels // self.groups, *self.kernel_size)
        self.weight = Parameter(np.empty(shape, dtype=dtype))
        self.bias = Parameter(np.empty(self.out_channels, dtype=dtype)) if bias else None
        self.input_spec = spatial_input_spec(f"{name}(in_channels={self.in_channels})", d, self.in_channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # PyTorch's default: kaiming_uniform_ with a = sqrt(5), i.e. gain sqrt(2 / (1 + 5)) = 1/sqrt(3)
        # and bound gain * sqrt(3 / fan_in) = 1/sqrt(fan_in); the bias from the same U(-b, b).
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init.fan_in_and_fan_out(self.weight)
            bound = 1.0 / math.sqrt(fan_in)
            init.uniform_(self.bias, -bound, bound)

    def get_config(self) -> dict[str, Any]:
        config = {
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "kernel_size": list(self.kernel_size),
            "stride": list(self.stride),
            "padding": self.padding if isinstance(self.padding, str) else list(self.padding),
            "dilation": list(self.dilation),
            "groups": self.groups,
            "bias": self.bias is not None,
            "padding_mode": self.padding_mode,
            "dtype": str(self.weight.dtype),
        }
        if self._transposed:
            config["output_padding"] = list(self.output_padding)
        return config

    def extra_repr(self) -> str:
        # PyTorch's form: the arguments that differ from their defaults
        d = self._d
        parts = [f"{self.in_channels}, {self.out_channels}", f"kernel_size={self.kernel_size}", f"stride={self.stride}"]
        if self.padding != (0,) * d:
            parts.append(f"padding={self.padding}")
        if self.dilation != (1,) * d:
            parts.append(f"dilation={self.dilation}")
        if self.output_padding != (0,) * d:
            parts.append(f"output_padding={self.output_padding}")
        if self.groups != 1:
            parts.append(f"groups={self.groups}")
        if self.bias is None:
            parts.append("bias=False")
        return ", ".join(parts)

    def forward(self, x: Tensor) -> Tensor:
        x = self.input_spec.check(x)
        if self._transposed:  # PyTorch's argument order for each
            return self._op(
                x, self.weight, self.bias, self.stride, self.padding, self.output_padding, self.groups, self.dilation
            )
        return self._op(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class Conv1d(_ConvNd):
    """1-D convolution over (N, C_in, L) sequences: C_out filters slid along L.

    Args:
        in_channels, out_channels: channels of the input and of the output.
        kernel_size: length of each filter.
        stride: step between windows (default 1).
        padding: zeros added on both sides: an int, 'valid' (0, default) or 'same' (stride 1).
        dilation: spacing between filter taps (default 1).
        groups: independent channel groups (default 1; ``in_channels`` = depthwise).
        bias: learn one bias per output channel (default True).
        padding_mode: only 'zeros'.
        device: "cpu" or None, as PyTorch code passes it (another device is a clear error).
        dtype: parameter dtype (float32 by default).

    Shape:
        input (N, C_in, L) or (C_in, L) -> output (N, C_out, L_out) or (C_out, L_out), with
        L_out = floor((L + 2 padding - dilation (kernel_size - 1) - 1) / stride) + 1.
        ``weight`` is (C_out, C_in / groups, kernel_size), ``bias`` (C_out,).

    Initialisation: weight and bias from U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with
    fan_in = C_in / groups * kernel_size (PyTorch's default); re-run with ``reset_parameters()``.

    Example:
        >>> import chainrule as cr
        >>> conv = cr.nn.Conv1d(1, 25, 5, stride=2, padding=1)
        >>> conv(cr.zeros(100, 1, 40)).shape
        (100, 25, 19)
        >>> conv
        Conv1d(1, 25, kernel_size=(5,), stride=(2,), padding=(1,))
    """

    _d = 1
    _op = staticmethod(ops.conv1d)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        padding: Any = 0,
        dilation: int | Sequence[int] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ):
        super().__init__(
            in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode, device, dtype
        )


class Conv2d(_ConvNd):
    """2-D convolution over (N, C_in, H, W) images; arguments as ``Conv1d``, each an int or an (h, w) pair.

    Shape:
        input (N, C_in, H, W) or (C_in, H, W) -> output (N, C_out, H_out, W_out), each side as
        in ``Conv1d``. ``weight`` is (C_out, C_in / groups, kh, kw).

    Example:
        >>> import chainrule as cr
        >>> conv = cr.nn.Conv2d(3, 8, 3, padding='same')
        >>> conv(cr.zeros(2, 3, 16, 16)).shape
        (2, 8, 16, 16)
        >>> conv
        Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), padding=same)
    """

    _d = 2
    _op = staticmethod(ops.conv2d)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        padding: Any = 0,
        dilation: int | Sequence[int] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ):
        super().__init__(
            in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode, device, dtype
        )


class ConvTranspose1d(_ConvNd):
    """Transposed 1-D convolution (the gradient of Conv1d with respect to its input): upsamples
    a sequence by ``stride``.

    Shape:
        input (N, C_in, L) -> output (N, C_out, L_out) with L_out = (L - 1) stride - 2 padding
        + dilation (kernel_size - 1) + output_padding + 1. ``weight`` is
        (C_in, C_out / groups, kernel_size), as in PyTorch.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.ConvTranspose1d(4, 2, 2, stride=2)(cr.zeros(8, 4, 10)).shape
        (8, 2, 20)
    """

    _d = 1
    _op = staticmethod(ops.conv_transpose1d)
    _transposed = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        padding: int | Sequence[int] = 0,
        output_padding: int | Sequence[int] = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: int | Sequence[int] = 1,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ):
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            padding_mode,
            device,
            dtype,
            output_padding,
        )


class ConvTranspose2d(_ConvNd):
    """Transposed 2-D convolution; arguments as ``ConvTranspose1d``, each an int or an (h, w) pair.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1)(cr.zeros(1, 4, 5, 5)).shape
        (1, 2, 10, 10)
    """

    _d = 2
    _op = staticmethod(ops.conv_transpose2d)
    _transposed = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        padding: int | Sequence[int] = 0,
        output_padding: int | Sequence[int] = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: int | Sequence[int] = 1,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ):
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            padding_mode,
            device,
            dtype,
            output_padding,
        )
