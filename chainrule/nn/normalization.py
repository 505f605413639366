"""Normalisation layers: BatchNorm1d, BatchNorm2d, LayerNorm, GroupNorm, InstanceNorm1d and InstanceNorm2d."""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule import ops
from chainrule.autograd import no_grad
from chainrule.nn import functional as F, init
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


class _NormBase(Module):
    """What batch and instance normalisation share (PyTorch's ``_NormBase``): a scale and a shift
    per channel (``affine``; the shift only with ``bias``), and running estimates of each channel's
    mean and variance (``track_running_stats``)."""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ):
        super().__init__()
        name = type(self).__name__
        self.num_features = positive_int(name, "num_features", num_features)
        # momentum=None: PyTorch's cumulative average (each batch weighs 1 / batches seen)
        self.eps, self.momentum = eps, None if momentum is None else unit_interval(name, "momentum", momentum)
        self.affine, self.track_running_stats = affine, track_running_stats
        # allocated empty and filled by reset_parameters (through chainrule.nn.init, so that a
        # model built inside init.skip_init() writes none of it)
        dtype = self._dtype = parameter_dtype(name, dtype, device)
        self.weight = Parameter(np.empty(self.num_features, dtype=dtype)) if affine else None
        self.bias = Parameter(np.empty(self.num_features, dtype=dtype)) if affine and bias else None
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.empty(self.num_features, dtype=dtype)))
            self.register_buffer("running_var", Tensor(np.empty(self.num_features, dtype=dtype)))
            self.register_buffer("num_batches_tracked", Tensor(np.empty((), dtype=np.int64)))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        """Running mean 0, variance 1, no batches counted."""
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            init.zeros_(self.num_batches_tracked)

    def reset_parameters(self) -> None:
        """Scale 1 and shift 0; running mean 0, variance 1, no batches counted (the identity
        before any training)."""
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def get_config(self) -> dict[str, Any]:
        return {
            "num_features": self.num_features,
            "eps": self.eps,
            "momentum": self.momentum,
            "affine": self.affine,
            "track_running_stats": self.track_running_stats,
            "bias": self.bias is not None or not self.affine,
            "dtype": str(_current_dtype(self)),
        }

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}"
        )


class _BatchNorm(_NormBase):
    """Normalise each channel over the batch (and spatial) axes, then scale and shift.

    In training mode the batch's statistics are used and running estimates are updated:
    running = (1 - momentum) * running + momentum * batch (the variance unbiased); with
    ``momentum=None``, PyTorch's cumulative average (the weight 1 / batches seen). In evaluation
    mode the running estimates are used.
    """

    _ndims: tuple[int, ...] = ()

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)
        dims = " or ".join(f"{n}-D" for n in self._ndims)
        self.input_spec = InputSpec(
            f"{type(self).__name__}(num_features={self.num_features})",
            ndim=self._ndims,
            axes={1: self.num_features},
            expected=f"{dims} input with {self.num_features} channels in dimension 1",
        )

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
                    self.num_batches_tracked.add_(1)
                    # momentum=None: 1 / batches seen, a tensor op (a compiled step reads the count live)
                    m = self.momentum
                    if m is None:
                        m = 1.0 / ops.cast(self.num_batches_tracked, self.running_mean.dtype)
                    unbiased = ops.reshape(var, (-1,)) * (count / (count - 1))
                    self.running_mean.mul_(1 - m).add_(ops.reshape(mean, (-1,)) * m)
                    self.running_var.mul_(1 - m).add_(unbiased * m)
            normalized = centered / ops.sqrt(var + self.eps)
        else:
            with no_grad():  # the running statistics as tensors: read live by a compiled step
                mean = ops.cast(ops.reshape(self.running_mean, shape), x.dtype)
                inv_std = ops.cast(1.0 / ops.sqrt(ops.reshape(self.running_var, shape) + self.eps), x.dtype)
            normalized = (x - mean) * inv_std
        if self.affine:
            normalized = normalized * ops.reshape(self.weight, shape)
            if self.bias is not None:
                normalized = normalized + ops.reshape(self.bias, shape)
        return normalized


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
    """Normalise each sample over its last dimensions (``normalized_shape``), then scale and shift
    (``elementwise_affine``; the shift only with ``bias``).

    Example:
        >>> import chainrule as cr
        >>> ln = cr.nn.LayerNorm(4)
        >>> y = ln(cr.randn(2, 4))
        >>> bool(abs(y.mean(axis=-1)).max() < 1e-5)
        True
        >>> cr.nn.LayerNorm(4, bias=False)
        LayerNorm((4,), eps=1e-05, elementwise_affine=True, bias=False)
    """

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
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
        # filled by reset_parameters, as in _NormBase
        self.weight = Parameter(np.empty(self.normalized_shape, dtype=self._dtype)) if elementwise_affine else None
        has_bias = elementwise_affine and bias
        self.bias = Parameter(np.empty(self.normalized_shape, dtype=self._dtype)) if has_bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Scale 1 and shift 0 (the plain normalisation)."""
        if self.elementwise_affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.input_spec.check(x)
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def get_config(self) -> dict[str, Any]:
        return {
            "normalized_shape": list(self.normalized_shape),
            "eps": self.eps,
            "elementwise_affine": self.elementwise_affine,
            "bias": self.bias is not None or not self.elementwise_affine,
            "dtype": str(_current_dtype(self)),
        }

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
            f"bias={self.bias is not None}"
        )


class GroupNorm(Module):
    """Group normalisation (Wu & He, 2018): the C channels of an (N, C, ...) input are split into
    ``num_groups`` groups, each sample's group is normalised over its channels and positions, then
    each channel is scaled and shifted (``affine``; the shift only with ``bias``). Independent of
    the batch size, and the same in training and evaluation.

    Shape: input (N, C, *), output the same.

    Example:
        >>> import chainrule as cr
        >>> gn = cr.nn.GroupNorm(2, 6)
        >>> gn
        GroupNorm(2, 6, eps=1e-05, affine=True, bias=True)
        >>> y = gn(cr.randn(4, 6, 5))
        >>> bool(abs(y.reshape(4, 2, 15).mean(axis=-1)).max() < 1e-5)
        True
    """

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ):
        super().__init__()
        self.num_groups = positive_int("GroupNorm", "num_groups", num_groups)
        self.num_channels = positive_int("GroupNorm", "num_channels", num_channels)
        if self.num_channels % self.num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        self.eps, self.affine = eps, affine
        self.input_spec = InputSpec(
            f"GroupNorm(num_channels={self.num_channels})",
            min_ndim=2,
            axes={1: self.num_channels},
            expected=f"an (N, C, ...) input with {self.num_channels} channels in dimension 1",
        )
        self._dtype = parameter_dtype("GroupNorm", dtype, device)
        self.weight = Parameter(np.empty(self.num_channels, dtype=self._dtype)) if affine else None
        self.bias = Parameter(np.empty(self.num_channels, dtype=self._dtype)) if affine and bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Scale 1 and shift 0 (the plain normalisation)."""
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.input_spec.check(x)
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def get_config(self) -> dict[str, Any]:
        return {
            "num_groups": self.num_groups,
            "num_channels": self.num_channels,
            "eps": self.eps,
            "affine": self.affine,
            "bias": self.bias is not None or not self.affine,
            "dtype": str(_current_dtype(self)),
        }

    def extra_repr(self) -> str:
        return (
            f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
            f"bias={self.bias is not None}"
        )


class _InstanceNorm(_NormBase):
    """Normalise each channel of each sample over its positions (``F.instance_norm``). PyTorch's
    defaults: no affine parameters and no running statistics. With ``track_running_stats`` the
    running estimates are updated in training and used in evaluation. An unbatched input (one
    dimension fewer) is one sample."""

    _ndim = 0  # the batched input's number of dimensions

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = False,
        track_running_stats: bool = False,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        name, n = type(self).__name__, self._ndim
        x = ops.lift(x)
        if x.ndim not in (n, n - 1):
            raise ValueError(f"{name}: expected {n - 1}-D or {n}-D input, got {x.ndim}-D input of shape {x.shape}")
        channel_dim = x.ndim - (n - 1)
        if x.shape[channel_dim] != self.num_features:
            if self.affine or self.track_running_stats:
                raise ValueError(
                    f"{name}: expected input's size at dim={channel_dim} to match num_features "
                    f"({self.num_features}), but got: {x.shape[channel_dim]} (input shape {x.shape})"
                )
            warnings.warn(
                f"input's size at dim={channel_dim} does not match num_features. You can silence this warning by "
                "not passing in num_features, which is not used because affine=False",
                UserWarning,
                stacklevel=2,
            )
        batched = x if x.ndim == n else ops.unsqueeze(x, 0)
        out = F.instance_norm(
            batched,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            self.training or not self.track_running_stats,
            0.0 if self.momentum is None else self.momentum,  # (PyTorch's instance norm: None keeps them)
            self.eps,
        )
        # (num_batches_tracked stays 0, as in PyTorch, whose instance norm never counts)
        return out if x.ndim == n else ops.squeeze(out, 0)


class InstanceNorm1d(_InstanceNorm):
    """Instance normalisation of (N, C, L) inputs, or one unbatched (C, L) sample: each channel of
    each sample normalised over its L positions.

    Example:
        >>> import chainrule as cr
        >>> norm = cr.nn.InstanceNorm1d(3)
        >>> norm
        InstanceNorm1d(3, eps=1e-05, momentum=0.1, affine=False, bias=False, track_running_stats=False)
        >>> y = norm(cr.randn(2, 3, 8) * 5 + 2)
        >>> bool(abs(y.mean(axis=-1)).max() < 1e-5)
        True
    """

    _ndim = 3


class InstanceNorm2d(_InstanceNorm):
    """Instance normalisation of (N, C, H, W) images, or one unbatched (C, H, W) image: each channel
    of each sample normalised over its H x W positions (the style-transfer normalisation).

    Example:
        >>> import chainrule as cr
        >>> norm = cr.nn.InstanceNorm2d(3, affine=True)
        >>> [name for name, _ in norm.named_parameters()]
        ['weight', 'bias']
        >>> norm(cr.randn(2, 3, 4, 4)).shape
        (2, 3, 4, 4)
    """

    _ndim = 4
