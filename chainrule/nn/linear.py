"""Linear (Dense; NonDynamicallyQuantizableLinear, PyTorch's name in attention), Identity, Flatten, Unflatten."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule import ops
from chainrule.nn import init
from chainrule.nn.checks import InputSpec, parameter_dtype, positive_int
from chainrule.nn.module import Module, Parameter
from chainrule.ops.shape import normalize_axis
from chainrule.tensor import Tensor


class Linear(Module):
    """A layer of neurons: each computes a weighted sum of its inputs plus a bias, y = x Wᵀ + b.

    Args:
        in_features: size of each input sample.
        out_features: number of neurons (size of each output sample).
        bias: learn an additive bias (default True).
        device: "cpu" or None, as PyTorch code passes it (another device is a clear error).
        dtype: parameter dtype (float32 by default).

    Shape:
        input (*, in_features) -> output (*, out_features). ``weight`` is (out_features, in_features)
        as in PyTorch, so weights can be compared with and copied from PyTorch models.

    Initialisation: weight and bias from U(-1/sqrt(in_features), 1/sqrt(in_features)), PyTorch's
    default; re-run with ``reset_parameters()`` or overwrite with ``chainrule.nn.init``.

    Example:
        >>> import chainrule as cr
        >>> layer = cr.nn.Linear(4, 3)
        >>> layer(cr.ones(2, 4)).shape
        (2, 3)
        >>> layer
        Linear(in_features=4, out_features=3, bias=True)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device: Any = None, dtype: Any = None):
        super().__init__()
        self.in_features = positive_int("Linear", "in_features", in_features)
        self.out_features = positive_int("Linear", "out_features", out_features)
        self.input_spec = InputSpec(f"Linear(in_features={self.in_features})", axes={-1: self.in_features})
        dtype = parameter_dtype("Linear", dtype, device)
        self.weight = Parameter(np.empty((self.out_features, self.in_features), dtype=dtype))
        self.bias = Parameter(np.empty(self.out_features, dtype=dtype)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.in_features)  # PyTorch's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        return ops.linear(self.input_spec.check(x), self.weight, self.bias)

    def get_config(self) -> dict[str, Any]:
        return {
            "in_features": self.in_features,
            "out_features": self.out_features,
            "bias": self.bias is not None,
            "dtype": str(self.weight.dtype),
        }

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class NonDynamicallyQuantizableLinear(Linear):
    """A Linear under PyTorch's name for ``MultiheadAttention.out_proj`` (so the reprs agree).

    Example:
        >>> from chainrule.nn.linear import NonDynamicallyQuantizableLinear
        >>> NonDynamicallyQuantizableLinear(4, 4)
        NonDynamicallyQuantizableLinear(in_features=4, out_features=4, bias=True)
    """


Dense = Linear
"""Keras's name for ``Linear``."""


class Identity(Module):
    """Returns its input unchanged (a placeholder layer).

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([1.0, -2.0])
        >>> cr.nn.Identity()(x) is x
        True
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__()  # (PyTorch's takes any arguments and ignores them)

    def forward(self, x: Tensor) -> Tensor:
        return x


class Flatten(Module):
    """Merge dimensions ``start_dim``..``end_dim`` (default: all but the batch dimension).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Flatten()(cr.zeros(8, 1, 4, 4)).shape
        (8, 16)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        return ops.flatten(x, self.start_dim, self.end_dim)

    def get_config(self) -> dict[str, Any]:
        return {"start_dim": self.start_dim, "end_dim": self.end_dim}

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Expand dimension ``dim`` into ``unflattened_size`` (the inverse of ``Flatten``; one size may be -1).

    Example:
        >>> import chainrule as cr
        >>> layer = cr.nn.Unflatten(1, (2, 3))
        >>> layer
        Unflatten(dim=1, unflattened_size=(2, 3))
        >>> layer(cr.zeros(4, 6, 5)).shape
        (4, 2, 3, 5)
    """

    def __init__(self, dim: int, unflattened_size: Sequence[int]):
        super().__init__()
        if isinstance(dim, str):
            raise TypeError("Unflatten: named dimensions (a str dim) are not supported; give the dimension's index")
        if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
            raise TypeError(f"Unflatten: dim must be an int, got {dim!r}")
        if not isinstance(unflattened_size, (tuple, list)) or not all(
            isinstance(n, numbers.Integral) and not isinstance(n, bool) for n in unflattened_size
        ):
            raise TypeError(f"Unflatten: unflattened_size must be a tuple of ints, got {unflattened_size!r}")
        self.dim, self.unflattened_size = int(dim), tuple(int(n) for n in unflattened_size)

    def forward(self, x: Tensor) -> Tensor:
        x = ops.lift(x)
        d = normalize_axis(self.dim, x.ndim, "Unflatten")
        sizes = self.unflattened_size
        known = math.prod(n for n in sizes if n != -1)
        n = x.shape[d]
        if sizes.count(-1) > 1 or (-1 not in sizes and known != n) or (-1 in sizes and (known == 0 or n % known)):
            raise ValueError(
                f"Unflatten(dim={self.dim}, unflattened_size={sizes}): the sizes must multiply to the size of "
                f"dimension {d}, {n} (input shape {x.shape})"
            )
        return ops.reshape(x, x.shape[:d] + sizes + x.shape[d + 1 :])

    def get_config(self) -> dict[str, Any]:
        return {"dim": self.dim, "unflattened_size": list(self.unflattened_size)}

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
