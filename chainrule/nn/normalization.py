"""Normalisation layers: BatchNorm1d, BatchNorm2d and LayerNorm."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule import ops
from chainrule.autograd import no_grad
from chainrule.nn import init
from chainrule.nn.checks import InputSpec, is_positive_int, parameter_dtype, positive_int, unit_interval
from chainrule.nn.module import Module, Parameter
from chainrule.tensor import Tensor


def _current_dtype(layer: Module) -> np.dtype:
    """The layer's dtype now (``.double()`` may have changed it): its first floating array's, else
    the one it was built with."""
    for t in (*layer.parameters(), *layer.buffers()):
        if t.dtype.kind == "f":
            return t.dtype
    return layer._dtype


class _BatchNorm(Module):
    """Normalise each channel over the batch (and spatial) axes, then scale and shift.

    In training mode the batch's statistics are used and running estimates are updated:
    running = (1 - momentum) * running + momentum * batch (the variance unbiased). In evaluation
    mode the running estimates are used.
    """

    _ndims: tuple[int, ...] = ()

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device: Any = None,
        dtype: Any = None,
    ):
        super().__init__()
        name = type(self).__name__
        self.num_features = positive_int(name, "num_features", num_features)
        self.eps, self.momentum = eps, unit_interval(name, "momentum", momentum)
        dims = " or ".join(f"{n}-D" for n in self._ndims)
        self.input_spec = InputSpec(
            f"{name}(num_features={self.num_features})",
            ndim=self._ndims,
            axes={1: self.num_features},
            expected=f"{dims} input with {self.num_features} channels in dimension 1",
        )
        self.affine, self.track_running_stats = affine, track_running_stats
        # allocated empty and filled by reset_parameters (through chainrule.nn.init, so that a
        # model built inside init.skip_init() writes none of it)
        dtype = self._dtype = parameter_dtype(name, dtype, device)
        if affine:
            self.weight = Parameter(np.empty(self.num_features, dtype=dtype))
            self.bias = Parameter(np.empty(self.num_features, dtype=dtype))
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.empty(self.num_features, dtype=dtype)))
            self.register_buffer("running_var", Tensor(np.empty(self.num_features, dtype=dtype)))
            self.register_buffer("num_batches_tracked", Tensor(np.empty((), dtype=np.int64)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Scale 1 and shift 0; running mean 0, variance 1, no batches counted (the identity
        before any training)."""
        if self.affine:
            init.ones_(self.weight)
            init.zeros_(self.bias)
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            init.zeros_(self.num_batches_tracked)

    def forward(self, x: Tensor) -> Tensor:
        x = self.input_spec.check(x)
        axes = (0,) + tuple(range(2, x.ndim))
        shape = (1, self.num_features) + (1,) * (x.ndim - 2)
        if self.training or not self.track_running_stats:
            count = x.size // self.num_features
            if self.training and count <= 1:
                raise ValueError(
                    f"{type(self).__name__}: needs more than one value per channel in training mode, got input of "
                    f"shape {x.shape}"
                )
            mean = ops.mean(x, axes, keepdims=True)
            centered = x - mean
            var = ops.mean(centered * centered, axes, keepdims=True)
            if self.training and self.track_running_stats:
                # in place, with ops (a compiled step records and replays the update)
                with no_grad():
                    m = self.momentum
                    unbiased = ops.reshape(var, (-1,)) * (count / (count - 1))
                    self.running_mean.mul_(1 - m).add_(ops.reshape(mean, (-1,)) * m)
                    self.running_var.mul_(1 - m).add_(unbiased * m)
                    self.num_batches_tracked.add_(1)
            normalized = centered / ops.sqrt(var + self.eps)
        else:
            with no_grad():  # the running statistics as tensors: read live by a compiled step
                mean = ops.cast(ops.reshape(self.running_mean, shape), x.dtype)
                inv_std = ops.cast(1.0 / ops.sqrt(ops.reshape(self.running_var, shape) + self.eps), x.dtype)
            normalized = (x - mean) * inv_std
        if self.affine:
            normalized = normalized * ops.reshape(self.weight, shape) + ops.reshape(self.bias, shape)
        return normalized

    def get_config(self) -> dict[str, Any]:
        return {
            "num_features": self.num_features,
            "eps": self.eps,
            "momentum": self.momentum,
            "affine": self.affine,
            "track_running_stats": self.track_running_stats,
            "dtype": str(_current_dtype(self)),
        }

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) inputs, per channel C.

    Example:
        >>> import chainrule as cr
        >>> bn = cr.nn.BatchNorm1d(3)
        >>> y = bn(cr.randn(16, 3) * 5 + 2)
        >>> bool(abs(y.mean(axis=0)).max() < 1e-5)
        True
    """

    _ndims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) images, per channel C.

    Example:
        >>> import chainrule as cr
        >>> bn = cr.nn.BatchNorm2d(3)
        >>> y = bn(cr.randn(8, 3, 4, 4) * 5 + 2)
        >>> y.shape, abs(float(y.mean())) < 1e-5
        ((8, 3, 4, 4), True)
    """

    _ndims = (4,)


class LayerNorm(Module):
    """Normalise each sample over its last dimensions (``normalized_shape``), then scale and shift.

    Example:
        >>> import chainrule as cr
        >>> ln = cr.nn.LayerNorm(4)
        >>> y = ln(cr.randn(2, 4))
        >>> bool(abs(y.mean(axis=-1)).max() < 1e-5)
        True
    """

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        device: Any = None,
        dtype: Any = None,
    ):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, numbers.Integral) else normalized_shape
        if not isinstance(shape, (tuple, list)) or not all(is_positive_int(n) for n in shape):
            raise ValueError(
                f"LayerNorm: normalized_shape must be a positive integer or a tuple of them, got {normalized_shape!r}"
            )
        self.normalized_shape = tuple(int(n) for n in shape)
        k = len(self.normalized_shape)
        self.input_spec = InputSpec(
            f"LayerNorm(normalized_shape={self.normalized_shape})",
            axes={i - k: n for i, n in enumerate(self.normalized_shape)},
        )
        self.eps, self.elementwise_affine = eps, elementwise_affine
        self._dtype = parameter_dtype("LayerNorm", dtype, device)
        if elementwise_affine:  # filled by reset_parameters, as in _BatchNorm
            self.weight = Parameter(np.empty(self.normalized_shape, dtype=self._dtype))
            self.bias = Parameter(np.empty(self.normalized_shape, dtype=self._dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Scale 1 and shift 0 (the plain normalisation)."""
        if self.elementwise_affine:
            init.ones_(self.weight)
            init.zeros_(self.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.input_spec.check(x)
        k = len(self.normalized_shape)
        axes = tuple(range(x.ndim - k, x.ndim))
        centered = x - ops.mean(x, axes, keepdims=True)
        var = ops.mean(centered * centered, axes, keepdims=True)
        out = centered / ops.sqrt(var + self.eps)
        if self.elementwise_affine:
            out = out * self.weight + self.bias
        return out

    def get_config(self) -> dict[str, Any]:
        return {
            "normalized_shape": list(self.normalized_shape),
            "eps": self.eps,
            "elementwise_affine": self.elementwise_affine,
            "dtype": str(_current_dtype(self)),
        }

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
