"""More activation functions, as PyTorch's: silu, mish, selu, celu, relu6, hardtanh, hardswish,
hardsigmoid, softsign, logsigmoid, softmin, glu, threshold, tanhshrink, softshrink, hardshrink and prelu.

All are composed from the elementwise primitives (no rule of their own), so they differentiate to
any order, compile and export to ONNX as they are. The piecewise ones are written as ``where``
choices whose tests are PyTorch's own, so that the value and the gradient at a kink, at ±inf and
at NaN are PyTorch's: NaN in gives NaN out, and a kink takes the side PyTorch's backward takes.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from chainrule.autograd import pure
from chainrule.ops.elementwise import (
    abs,
    cast,
    lift,
    logical_and,
    logical_not,
    scaled_elu,
    sigmoid,
    softplus,
    tanh,
    where,
)
from chainrule.ops.reduce import _implicit_axis, softmax
from chainrule.ops.shape import chunk, normalize_axis, reshape
from chainrule.tensor import Tensor

# SELU's constants (Klambauer et al., 2017), as PyTorch writes them
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _le(x: Tensor, bound: float) -> Tensor:
    return pure(np.less_equal, x, lift(bound, x))


def _lt(x: Tensor, bound: float) -> Tensor:
    return pure(np.less, x, lift(bound, x))


def _ge(x: Tensor, bound: float) -> Tensor:
    return pure(np.greater_equal, x, lift(bound, x))


def _gt(x: Tensor, bound: float) -> Tensor:
    return pure(np.greater, x, lift(bound, x))


def _number(owner: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a number, got {value!r}")
    return value


def silu(input: Tensor) -> Tensor:
    """x * sigmoid(x) (the swish), as PyTorch's ``F.silu``.

    Example:
        >>> import chainrule as cr
        >>> cr.silu(cr.tensor([-1.0, 0.0, 2.0]))
        tensor([-0.2689,  0.    ,  1.7616])
    """
    x = lift(input)
    return x * sigmoid(x)


def mish(input: Tensor) -> Tensor:
    """x * tanh(softplus(x)), as PyTorch's ``F.mish``.

    Example:
        >>> import chainrule as cr
        >>> cr.mish(cr.tensor([-1.0, 0.0, 2.0]))
        tensor([-0.3034,  0.    ,  1.944 ])
    """
    x = lift(input)
    return x * tanh(softplus(x))


def selu(input: Tensor) -> Tensor:
    """Scaled ELU: scale * (x if x > 0 else alpha (e^x - 1)), with PyTorch's constants
    alpha = 1.6733 and scale = 1.0507 (self-normalising networks).

    Example:
        >>> import chainrule as cr
        >>> cr.selu(cr.tensor([-1.0, 0.0, 2.0]))
        tensor([-1.1113,  0.    ,  2.1014])
    """
    return scaled_elu(lift(input), SELU_ALPHA, SELU_SCALE)


def celu(input: Tensor, alpha: float = 1.0) -> Tensor:
    """Continuously differentiable ELU: x if x > 0 else alpha (e^(x / alpha) - 1).

    Example:
        >>> import chainrule as cr
        >>> cr.celu(cr.tensor([-1.0, 0.0, 2.0]), alpha=2.0)
        tensor([-0.7869,  0.    ,  2.    ])
    """
    if _number("celu", "alpha", alpha) == 0:
        raise ValueError("celu: alpha cannot be 0 (it divides the input)")
    return scaled_elu(lift(input), alpha, 1.0, 1.0 / alpha)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """x limited to [min_val, max_val]. As PyTorch's, the gradient is 1 strictly inside the
    bounds only (0 at a bound, and 0 at NaN, which stays NaN).

    Example:
        >>> import chainrule as cr
        >>> cr.hardtanh(cr.tensor([-3.0, 0.5, 3.0]))
        tensor([-1. ,  0.5,  1. ])
    """
    _number("hardtanh", "min_val", min_val)
    _number("hardtanh", "max_val", max_val)
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val cannot be greater than max_val, got {min_val} > {max_val}")
    x = lift(input)
    inside = logical_and(_gt(x, min_val), _lt(x, max_val))
    # outside: a bound (no gradient), or for NaN the NaN itself, through x * 0 (no gradient either)
    outside = where(_le(x, min_val), min_val, where(_ge(x, max_val), max_val, x * 0.0))
    return where(inside, x, outside)


def relu6(input: Tensor) -> Tensor:
    """min(max(x, 0), 6): ``hardtanh(x, 0, 6)``, with its gradients (0 at 0 and at 6).

    Example:
        >>> import chainrule as cr
        >>> cr.relu6(cr.tensor([-1.0, 3.0, 8.0]))
        tensor([0., 3., 6.])
    """
    return hardtanh(input, 0.0, 6.0)


def hardsigmoid(input: Tensor) -> Tensor:
    """relu6(x + 3) / 6: 0 below -3, 1 above 3, linear between (gradient 1/6 strictly inside).

    Example:
        >>> import chainrule as cr
        >>> cr.hardsigmoid(cr.tensor([-4.0, 0.0, 1.5, 4.0]))
        tensor([0.  , 0.5 , 0.75, 1.  ])
    """
    x = lift(input)
    inside = logical_and(_gt(x, -3.0), _lt(x, 3.0))
    outside = where(_le(x, -3.0), 0.0, where(_ge(x, 3.0), 1.0, x * 0.0))
    return where(inside, hardtanh(x + 3.0, 0.0, 6.0) / 6.0, outside)


def hardswish(input: Tensor) -> Tensor:
    """x * relu6(x + 3) / 6: 0 up to -3, x from 3, x (x + 3) / 6 between. Its gradient is PyTorch's:
    0 up to -3 (included), x / 3 + 1/2 below 3, and 1 from 3 on and at NaN.

    Example:
        >>> import chainrule as cr
        >>> cr.hardswish(cr.tensor([-4.0, 1.0, 4.0]))
        tensor([-0.    ,  0.6667,  4.    ])
    """
    x = lift(input)
    below, before = _le(x, -3.0), _lt(x, 3.0)
    # the middle piece sees 0 outside (-3, 3): an unused x (x + 3) at ±inf would send back 0 * inf = NaN
    inner = where(logical_and(logical_not(below), before), x, 0.0)
    middle = inner * (inner + 3.0) / 6.0
    # x * 0 up to -3: PyTorch's value there (-0., and NaN at -inf), with no gradient
    return where(below, x * 0.0, where(before, middle, x))


def softsign(input: Tensor) -> Tensor:
    """x / (1 + |x|).

    Example:
        >>> import chainrule as cr
        >>> cr.softsign(cr.tensor([-3.0, 0.0, 1.0]))
        tensor([-0.75,  0.  ,  0.5 ])
    """
    x = lift(input)
    return x / (abs(x) + 1.0)


def logsigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x), stable for any x (PyTorch's ``F.logsigmoid``).

    Example:
        >>> import chainrule as cr
        >>> cr.logsigmoid(cr.tensor([-200.0, 0.0, 200.0]))
        tensor([-200.    ,   -0.6931,    0.    ])
    """
    x = lift(input)
    return 0.0 - softplus(-x)  # (0 - : +0 rather than -0 far above 0)


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None) -> Tensor:
    """softmax(-x) along ``dim``: the smallest entries get the largest weights. ``dtype``: the
    input is cast to it first, as PyTorch's. ``dim=None`` chooses as ``softmax`` does (with its warning).

    Example:
        >>> import chainrule as cr
        >>> cr.softmin(cr.tensor([[1.0, 2.0]]), dim=1)
        tensor([[0.7311, 0.2689]])
    """
    x = lift(input)
    if dtype is not None:
        x = cast(x, dtype)
    return softmax(-x, _implicit_axis("softmin", dim, x.ndim))


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """The gated linear unit a * sigmoid(b), where a and b are the two halves of ``x`` along ``dim``.

    Example:
        >>> import chainrule as cr
        >>> cr.glu(cr.tensor([[1.0, 2.0, 0.0, 100.0]]))
        tensor([[0.5, 2. ]])
    """
    x = lift(input)
    if x.ndim == 0:
        raise ValueError("glu: a 0-d tensor cannot be halved; give a tensor with an even-sized dim")
    axis = normalize_axis(dim, x.ndim, "glu")
    if x.shape[axis] % 2:
        raise ValueError(f"glu: halving dimension must be even, but dimension {axis} is size {x.shape[axis]}")
    a, b = chunk(x, 2, axis)
    return a * sigmoid(b)


def threshold(input: Tensor, threshold: float, value: float) -> Tensor:
    """x where x > ``threshold``, else ``value`` (NaN stays NaN, with gradient 1, as PyTorch).

    Example:
        >>> import chainrule as cr
        >>> cr.threshold(cr.tensor([-1.0, 0.5, 2.0]), 0.5, -10.0)
        tensor([-10., -10.,   2.])
    """
    x = lift(input)
    return where(_le(x, _number("threshold", "threshold", threshold)), _number("threshold", "value", value), x)


def tanhshrink(input: Tensor) -> Tensor:
    """x - tanh(x).

    Example:
        >>> import chainrule as cr
        >>> cr.tanhshrink(cr.tensor([0.0, 1.0]))
        tensor([0.    , 0.2384])
    """
    x = lift(input)
    return x - tanh(x)


def _check_lambd(owner: str, lambd: Any) -> float:
    if _number(owner, "lambd", lambd) < 0:
        raise ValueError(f"{owner}: lambd must be >= 0, got {lambd}")
    return lambd


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x - lambd above lambd, x + lambd below -lambd, 0 between (gradient 0 at ±lambd and at NaN).

    Example:
        >>> import chainrule as cr
        >>> cr.softshrink(cr.tensor([-2.0, 0.2, 1.0]))
        tensor([-1.5,  0. ,  0.5])
    """
    lambd = _check_lambd("softshrink", lambd)
    x = lift(input)
    return where(_gt(x, lambd), x - lambd, where(_lt(x, -lambd), x + lambd, x * 0.0))


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x where |x| > lambd, 0 elsewhere (gradient 0 at ±lambd and at NaN, which stays NaN).

    Example:
        >>> import chainrule as cr
        >>> cr.hardshrink(cr.tensor([-2.0, 0.2, 1.0]))
        tensor([-2.,  0.,  1.])
    """
    lambd = _check_lambd("hardshrink", lambd)
    x = lift(input)
    # x * 0 + 0 between: 0 (never -0, as PyTorch's), NaN for NaN, and no gradient
    return where(_gt(x, lambd), x, where(_lt(x, -lambd), x, x * 0.0 + 0.0))


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """x where x > 0, ``weight * x`` elsewhere, with one learned slope per channel (the input's
    dim 1) or a single one, as PyTorch's ``F.prelu``.

    Example:
        >>> import chainrule as cr
        >>> cr.prelu(cr.tensor([[-1.0, -1.0], [2.0, 2.0]]), cr.tensor([0.1, 0.5]))
        tensor([[-0.1, -0.5],
                [ 2. ,  2. ]])
    """
    x = lift(input)
    weight = lift(weight, x)
    count = weight.size
    if count == 1:
        slope = reshape(weight, ())
    else:
        channels = x.shape[1] if x.ndim >= 2 else 1
        if count != channels:
            raise ValueError(
                f"prelu: mismatch of parameter numbers and input channel size: {count} slopes for an input of "
                f"shape {x.shape} (its channels are dim 1: {channels})"
            )
        slope = reshape(weight, (count,) + (1,) * (x.ndim - 2))
    positive = _gt(x, 0.0)
    # the sloped piece sees 0 where x > 0: the slope's gradient there would be 0 * x, NaN at inf
    return where(positive, x, where(positive, 0.0, x) * slope)
