"""Pooling and resizing layers: MaxPool1d/2d, AvgPool1d/2d, AdaptiveAvgPool1d/2d, GlobalAvgPool, Upsample.

They have no parameters; each calls one op of ``chainrule.ops.pool``. Arguments follow PyTorch.
"""

from __future__ import annotations

from typing import Any

from chainrule import ops
from chainrule.nn.checks import InputSpec
from chainrule.nn.conv import spatial_input_spec
from chainrule.nn.module import Module
from chainrule.ops.pool import check_divisor_override
from chainrule.ops.windows import IntOrTuple, int_tuple
from chainrule.tensor import Tensor


def _as_config(value: Any) -> Any:
    """A tuple as a JSON list; anything else as it is."""
    return list(value) if isinstance(value, tuple) else value


def _from_config(value: Any) -> Any:
    """A list (from JSON) back as the tuple it was; anything else as it is."""
    return tuple(value) if isinstance(value, list) else value


class _Pool(Module):
    """What the max and average pooling layers share: window arguments, checks, config, repr."""

    _d = 0

    def __init__(self, kernel_size: IntOrTuple, stride: IntOrTuple | None, padding: IntOrTuple, ceil_mode: bool):
        super().__init__()
        name, d = type(self).__name__, self._d
        int_tuple(kernel_size, d, "kernel_size", name)  # validated now, kept as given (PyTorch's repr)
        if stride is not None:
            int_tuple(stride, d, "stride", name)
        int_tuple(padding, d, "padding", name, minimum=0)
        self.kernel_size = _from_config(kernel_size)
        self.stride = self.kernel_size if stride is None else _from_config(stride)
        self.padding, self.ceil_mode = _from_config(padding), bool(ceil_mode)
        self.input_spec = spatial_input_spec(f"{name}(kernel_size={self.kernel_size})", d)

    def get_config(self) -> dict[str, Any]:
        return {
            "kernel_size": _as_config(self.kernel_size),
            "stride": _as_config(self.stride),
            "padding": _as_config(self.padding),
            "ceil_mode": self.ceil_mode,
        }


class _MaxPool(_Pool):
    def __init__(
        self,
        kernel_size: IntOrTuple,
        stride: IntOrTuple | None = None,
        padding: IntOrTuple = 0,
        dilation: IntOrTuple = 1,
        ceil_mode: bool = False,
    ):
        super().__init__(kernel_size, stride, padding, ceil_mode)
        int_tuple(dilation, self._d, "dilation", type(self).__name__)
        self.dilation = _from_config(dilation)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "dilation": _as_config(self.dilation)}

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class MaxPool1d(_MaxPool):
    """The maximum over windows of each channel of (N, C, L) input.

    Args:
        kernel_size: window length.
        stride: step between windows (default: ``kernel_size``).
        padding: -inf added on both sides (at most half the kernel size; default 0).
        dilation: spacing between the elements of a window (default 1).
        ceil_mode: keep a last partial window (default False).

    Shape:
        (N, C, L) -> (N, C, L_out), L_out = floor((L + 2 padding - dilation (kernel_size - 1) - 1)
        / stride) + 1 (ceil with ``ceil_mode``).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.MaxPool1d(2)(cr.zeros(4, 3, 10)).shape
        (4, 3, 5)
    """

    _d = 1

    def forward(self, x: Tensor) -> Tensor:
        x = self.input_spec.check(x)
        return ops.max_pool1d(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode)


class MaxPool2d(_MaxPool):
    """The maximum over (kh, kw) windows of each channel of (N, C, H, W) input; arguments as
    ``MaxPool1d``, each an int or an (h, w) pair.

    Example:
        >>> import chainrule as cr
        >>> pool = cr.nn.MaxPool2d(2)
        >>> pool(cr.zeros(4, 3, 8, 8)).shape
        (4, 3, 4, 4)
        >>> pool
        MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)
    """

    _d = 2

    def forward(self, x: Tensor) -> Tensor:
        x = self.input_spec.check(x)
        return ops.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode)


class _AvgPool(_Pool):
    def __init__(
        self,
        kernel_size: IntOrTuple,
        stride: IntOrTuple | None = None,
        padding: IntOrTuple = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
    ):
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.count_include_pad = bool(count_include_pad)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "count_include_pad": self.count_include_pad}

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(_AvgPool):
    """The mean over windows of each channel of (N, C, L) input.

    Args:
        kernel_size, stride, padding, ceil_mode: as ``MaxPool1d`` (zeros are the padding).
        count_include_pad: whether padded zeros count in the mean (default True, as PyTorch).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.AvgPool1d(3, stride=1, padding=1)(cr.ones(1, 1, 4))
        tensor([[[0.6667, 1.    , 1.    , 0.6667]]])
    """

    _d = 1

    def forward(self, x: Tensor) -> Tensor:
        x = self.input_spec.check(x)
        return ops.avg_pool1d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad)


class AvgPool2d(_AvgPool):
    """The mean over (kh, kw) windows of each channel of (N, C, H, W) input; arguments as ``AvgPool1d``.

    Args:
        divisor_override: when given (a nonzero int), what every window's sum is divided by, in
            place of the window's size.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.AvgPool2d(2)(cr.zeros(4, 3, 8, 8)).shape
        (4, 3, 4, 4)
        >>> cr.nn.AvgPool2d(2, divisor_override=1)(cr.ones(1, 1, 2, 2))  # the window's sum
        tensor([[[[4.]]]])
    """

    _d = 2

    def __init__(
        self,
        kernel_size: IntOrTuple,
        stride: IntOrTuple | None = None,
        padding: IntOrTuple = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ):
        check_divisor_override(divisor_override, "AvgPool2d")
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)
        self.divisor_override = None if divisor_override is None else int(divisor_override)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "divisor_override": self.divisor_override}

    def forward(self, x: Tensor) -> Tensor:
        x = self.input_spec.check(x)
        return ops.avg_pool2d(
            x,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )


class _AdaptiveAvgPool(Module):
    _d = 0

    def __init__(self, output_size: Any):
        super().__init__()
        name = type(self).__name__
        sizes = output_size if isinstance(output_size, (tuple, list)) else (output_size,) * self._d
        if len(sizes) != self._d:
            raise ValueError(f"{name}: output_size must be an int or {self._d} sizes, got {output_size!r}")
        for size in sizes:
            if size is not None:  # None keeps that side of the input
                int_tuple(size, 1, "output_size", name)
        self.output_size = _from_config(output_size)
        self.input_spec = spatial_input_spec(f"{name}(output_size={self.output_size})", self._d)

    def get_config(self) -> dict[str, Any]:
        return {"output_size": _as_config(self.output_size)}

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptiveAvgPool):
    """Average pooling to a fixed output length, whatever the input length (1 = global average).

    Window i covers [floor(i L / out), ceil((i + 1) L / out)), as in PyTorch.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.AdaptiveAvgPool1d(4)(cr.zeros(2, 3, 10)).shape
        (2, 3, 4)
    """

    _d = 1

    def forward(self, x: Tensor) -> Tensor:
        x = self.input_spec.check(x)
        return ops.adaptive_avg_pool1d(x, self.output_size)


class AdaptiveAvgPool2d(_AdaptiveAvgPool):
    """Average pooling to a fixed (h, w) output size (an int for both; None keeps that side).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.AdaptiveAvgPool2d((2, 3))(cr.zeros(2, 3, 7, 9)).shape
        (2, 3, 2, 3)
    """

    _d = 2

    def forward(self, x: Tensor) -> Tensor:
        x = self.input_spec.check(x)
        return ops.adaptive_avg_pool2d(x, self.output_size)


class GlobalAvgPool(Module):
    """The mean of each channel over all spatial positions: (N, C, *spatial) -> (N, C).

    Keras's GlobalAveragePooling1D/2D; with ``keepdims=True`` the spatial axes stay as 1s, which is
    ``AdaptiveAvgPool2d(1)``. Works for any number of spatial axes.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.GlobalAvgPool()(cr.ones(8, 16, 5, 5)).shape
        (8, 16)
    """

    def __init__(self, keepdims: bool = False):
        super().__init__()
        self.keepdims = bool(keepdims)
        self.input_spec = InputSpec("GlobalAvgPool", min_ndim=3, expected="(N, C, *spatial) with at least 3 dimensions")

    def forward(self, x: Tensor) -> Tensor:
        x = self.input_spec.check(x)
        return ops.mean(x, tuple(range(2, x.ndim)), keepdims=self.keepdims)

    def get_config(self) -> dict[str, Any]:
        return {"keepdims": self.keepdims}

    def extra_repr(self) -> str:
        return f"keepdims={self.keepdims}"


class Upsample(Module):
    """Enlarge (N, C, *spatial) input by nearest-neighbour sampling, to ``size`` or by ``scale_factor``.

    Args:
        size: the output's spatial size (an int or one per axis), or
        scale_factor: the factor per axis (an integer factor repeats each value).
        mode: only 'nearest'.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Upsample(scale_factor=2)(cr.zeros(1, 3, 4, 4)).shape
        (1, 3, 8, 8)
    """

    def __init__(self, size: Any = None, scale_factor: Any = None, mode: str = "nearest"):
        super().__init__()
        if (size is None) == (scale_factor is None):
            raise ValueError("Upsample: give exactly one of size and scale_factor")
        if mode != "nearest":
            raise ValueError(f"Upsample: only mode='nearest' is implemented, got {mode!r}")
        self.size = _from_config(size)
        self.scale_factor = _from_config(scale_factor)
        self.mode = mode

    def forward(self, x: Tensor) -> Tensor:
        return ops.interpolate(x, self.size, self.scale_factor, self.mode)

    def get_config(self) -> dict[str, Any]:
        return {"size": _as_config(self.size), "scale_factor": _as_config(self.scale_factor), "mode": self.mode}

    def extra_repr(self) -> str:
        what = f"size={self.size}" if self.size is not None else f"scale_factor={self.scale_factor}"
        return f"{what}, mode='{self.mode}'"
