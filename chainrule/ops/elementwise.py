"""Elementwise operations: arithmetic, exp/log, trigonometry, activations, comparisons.

Primitives carry a backward rule next to their forward, written once against an interpreter
``ns`` (see ``chainrule.interpreters``); the rest (sqrt, abs, maximum, elu, gelu, ...) are
composed from primitives and get their gradients for free. Broadcasting is undone by the graph
walk, so a rule here returns gradients of the output's shape.
"""

from __future__ import annotations

import builtins
import math
import numbers
from typing import Any

import numpy as np

from chainrule import kernels
from chainrule.autograd import Function, _mode, pure
from chainrule.random import resolve_generator
from chainrule.tensor import DEFAULT_DTYPE, Tensor


def lift(x: Any, like: Tensor | None = None) -> Tensor:
    """Make a constant Tensor of ``x``; a Python number takes the floating dtype of ``like``."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, float) and like is not None and like._data.dtype.kind in "iub":
        return Tensor._make(np.asarray(x, dtype=DEFAULT_DTYPE))
    if like is not None and isinstance(x, numbers.Real) and not isinstance(x, bool) and like._data.dtype.kind == "f":
        return Tensor._make(np.asarray(x, dtype=like._data.dtype))
    return Tensor(x)


def promote_operands(a: Any, b: Any) -> tuple[Tensor, Tensor]:
    """Two operands as Tensors, with PyTorch's promotion where NumPy's would surprise.

    An integer or boolean tensor meeting a float (tensor or Python number) becomes that float
    dtype (float32 by default) first, so ``pixels / 255.0`` is float32, not float64.
    """
    if not isinstance(a, Tensor):
        a = lift(a, b if isinstance(b, Tensor) else None)
    if not isinstance(b, Tensor):
        b = lift(b, a)
    kind_a, kind_b = a._data.dtype.kind, b._data.dtype.kind
    if kind_a != kind_b:
        if kind_a in "iub" and kind_b == "f":
            a = pure(_astype, a, dtype=b._data.dtype)
        elif kind_b in "iub" and kind_a == "f":
            b = pure(_astype, b, dtype=a._data.dtype)
    return a, b


def _astype(a: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``a`` converted to ``dtype`` (a copy): integers and booleans to a float, floats to integers."""
    return a.astype(dtype)


# ------------------------------------------------------------------ arithmetic


class Add(Function):
    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a + b

    def backward(self, ns, grad, a, b):
        return grad, grad


class Sub(Function):
    """A primitive rather than ``a + (-b)``: subtraction is common and one node costs less than two."""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a - b

    def backward(self, ns, grad, a, b):
        return grad, (-grad if self.needs(1) else None)


class Mul(Function):
    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a * b

    def backward(self, ns, grad, a, b):
        return (grad * b if self.needs(0) else None), (grad * a if self.needs(1) else None)


class Div(Function):
    save_output = True

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a / b

    def backward(self, ns, grad, a, b):
        grad_a = grad / b  # d(a/b)/db = -(a/b)/b: reuse grad/b and the saved output
        return grad_a, (-(grad_a * ns.output(self)) if self.needs(1) else None)


class Neg(Function):
    def forward(self, a: np.ndarray) -> np.ndarray:
        return -a

    def backward(self, ns, grad, a):
        return -grad


class PowScalar(Function):
    """``x ** p`` for a constant exponent p."""

    def forward(self, a: np.ndarray, exponent: float) -> np.ndarray:
        self.exponent = exponent
        return a**exponent

    def backward(self, ns, grad, a):
        p = self.exponent
        if p == 2:
            return grad * (a * 2.0)
        if p == 0:  # x ** 0 is 1 everywhere: gradient 0, also at x = 0 (where 0 * 0 ** -1 is NaN), as PyTorch
            return grad * 0.0
        return grad * (a ** (p - 1) * p)


class Pow(Function):
    """``a ** b`` with both base and exponent tensors."""

    save_output = True

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a**b

    def backward(self, ns, grad, a, b):
        grad_a = None
        if self.needs(0):  # 0 where the exponent is 0, also at a = 0 (0 * 0 ** -1 is NaN), as PyTorch
            base = ns.where(b == 0, 1.0, a)
            grad_a = grad * b * base ** (b - 1.0)
        grad_b = None
        if self.needs(1):  # d/db a^b = a^b log a, taken as 0 where a <= 0 (as PyTorch does at 0)
            positive = a > 0
            safe_log = ns.log(ns.where(positive, a, 1.0))
            grad_b = ns.where(positive, grad * ns.output(self) * safe_log, 0.0)
        return grad_a, grad_b


def add(a: Any, b: Any, *, alpha: float = 1) -> Tensor:
    """``a + b`` with broadcasting (``a + alpha * b`` with PyTorch's ``alpha``).

    Example:
        >>> import chainrule as cr
        >>> cr.add(cr.ones(2, 3), cr.tensor([1.0, 2.0, 3.0]))
        tensor([[2., 3., 4.],
                [2., 3., 4.]])
    """
    if alpha != 1:
        b = mul(b, alpha)
    return Add.apply(*promote_operands(a, b))


def sub(a: Any, b: Any, *, alpha: float = 1) -> Tensor:
    """``a - b`` with broadcasting (``a - alpha * b`` with PyTorch's ``alpha``).

    Example:
        >>> import chainrule as cr
        >>> cr.sub(cr.tensor([5.0, 7.0]), 2.0)
        tensor([3., 5.])
    """
    if alpha != 1:
        b = mul(b, alpha)
    return Sub.apply(*promote_operands(a, b))


def mul(a: Any, b: Any) -> Tensor:
    """``a * b`` with broadcasting.

    Example:
        >>> import chainrule as cr
        >>> cr.mul(cr.tensor([[1.0], [2.0]]), cr.tensor([3.0, 4.0]))
        tensor([[3., 4.],
                [6., 8.]])
    """
    return Mul.apply(*promote_operands(a, b))


def div(a: Any, b: Any) -> Tensor:
    """``a / b`` with broadcasting; true division, so integers divide into float32 (as PyTorch).

    Example:
        >>> import chainrule as cr
        >>> cr.div(cr.tensor([1, 2]), cr.tensor([2, 4]))
        tensor([0.5, 0.5])
    """
    a, b = promote_operands(a, b)
    if a._data.dtype.kind in "iub" and b._data.dtype.kind in "iub":
        a, b = _floating(a), _floating(b)
    return Div.apply(a, b)


def neg(a: Tensor) -> Tensor:
    """``-a``.

    Example:
        >>> import chainrule as cr
        >>> cr.neg(cr.tensor([1.0, -2.0]))
        tensor([-1.,  2.])
    """
    return Neg.apply(lift(a))


def pow(a: Any, b: Any) -> Tensor:
    """``a ** b``; a Python-number exponent makes the simpler ``PowScalar`` node.

    Example:
        >>> import chainrule as cr
        >>> cr.pow(cr.tensor([2.0, 3.0]), 2)
        tensor([4., 9.])
    """
    if isinstance(b, numbers.Real) and not isinstance(b, bool) and isinstance(a, Tensor):
        return PowScalar.apply(a, exponent=b)
    return Pow.apply(*promote_operands(a, b))


# ------------------------------------------------------------------ unary math


class Exp(Function):
    save_output = True

    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.exp(a)

    def backward(self, ns, grad, a):
        return grad * ns.output(self)


def _erf_loop(x: np.ndarray, out: np.ndarray) -> None:
    for i in range(x.size):
        out[i] = math.erf(x[i])


_ERF = kernels.Kernel(_erf_loop)
_erf_python = np.frompyfunc(math.erf, 1, 1)


def erf_array(a: np.ndarray) -> np.ndarray:
    """The error function of an array: the C library's erf (``math.erf``), in a numba loop where
    numba is installed, else one Python call per element (NumPy has no erf); the same numbers
    either way. Computed in float64, returned in the input's float dtype (integers: float32)."""
    if a.dtype.kind not in "fiub":
        raise TypeError(f"erf: needs numbers, got dtype {a.dtype}")
    flat = np.ascontiguousarray(a, dtype=np.float64).reshape(-1)
    if kernels.enabled() and flat.size:
        out = np.empty_like(flat)
        _ERF(flat, out)
    else:
        out = _erf_python(flat).astype(np.float64) if flat.size else flat.copy()
    return out.reshape(a.shape).astype(result_float(a), copy=False)


class Erf(Function):
    def forward(self, a: np.ndarray) -> np.ndarray:
        return erf_array(a)

    def backward(self, ns, grad, a):
        return grad * (ns.exp(-(a * a)) * _TWO_OVER_SQRT_PI)


_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


class Log(Function):
    """The natural logarithm; with ``base`` 2 or 10, NumPy's log2 or log10 (exact at the base's
    powers, where log(x) / log(base) is not: log10(1000) would be 2.9999999999999996)."""

    def forward(self, a: np.ndarray, base: int | None = None) -> np.ndarray:
        self.base = base
        if base is None:
            return np.log(a)
        return np.log2(a) if base == 2 else np.log10(a)

    def backward(self, ns, grad, a):
        if self.base is None:
            return grad / a
        return grad / (a * math.log(self.base))


class Expm1(Function):
    """e^x - 1, accurate for small x (where exp(x) - 1 loses the digits); its derivative is e^x."""

    save_output = True

    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.expm1(a)

    def backward(self, ns, grad, a):
        return grad * (ns.output(self) + 1.0)


class Rounding(Function):
    """floor, ceil, trunc, or round (half to even, to ``decimals`` places). Their derivative is
    zero wherever it exists, and the gradient is 0 everywhere, as PyTorch's."""

    def forward(self, a: np.ndarray, mode: str, decimals: int = 0) -> np.ndarray:
        if mode == "round":
            return np.round(a, decimals)
        return {"floor": np.floor, "ceil": np.ceil, "trunc": np.trunc}[mode](a)

    def backward(self, ns, grad, a):
        return grad * 0.0


class Atan2(Function):
    """The angle of the point (b, a): arctan(a / b) in the right quadrant. The gradients are
    b / (a^2 + b^2) and -a / (a^2 + b^2), 0 at the origin, as PyTorch's."""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.arctan2(a, b)

    def backward(self, ns, grad, a, b):
        squares = a * a + b * b
        origin = squares == 0
        inverse = ns.where(origin, 0.0, 1.0 / ns.where(origin, 1.0, squares))
        return (grad * b * inverse if self.needs(0) else None), (grad * -a * inverse if self.needs(1) else None)


class Hypot(Function):
    """sqrt(a^2 + b^2) without overflow or underflow in the squares (NumPy's hypot); the gradients
    are a / out and b / out (NaN at the origin, as PyTorch's)."""

    save_output = True

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.hypot(a, b)

    def backward(self, ns, grad, a, b):
        out = ns.output(self)
        return (grad * a / out if self.needs(0) else None), (grad * b / out if self.needs(1) else None)


class Log1p(Function):
    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.log1p(a)

    def backward(self, ns, grad, a):
        return grad / (a + 1.0)


class Sin(Function):
    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.sin(a)

    def backward(self, ns, grad, a):
        return grad * ns.cos(a)


class Cos(Function):
    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.cos(a)

    def backward(self, ns, grad, a):
        return -(grad * ns.sin(a))


class Tanh(Function):
    save_output = True

    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.tanh(a)

    def backward(self, ns, grad, a):
        y = ns.output(self)
        return grad * (1.0 - y * y)


def result_float(a: np.ndarray) -> np.dtype:
    """The dtype of a float function of ``a``: its own when it is a float, else the default float
    (float32, as PyTorch's: the sigmoid of integers is not an integer)."""
    return a.dtype if a.dtype.kind == "f" else np.dtype(DEFAULT_DTYPE)


class Sigmoid(Function):
    save_output = True

    def forward(self, a: np.ndarray) -> np.ndarray:
        # 1 / (1 + e^-x) = exp(-log(1 + e^-x)); logaddexp never overflows, for any |x|
        return np.exp(-np.logaddexp(0, -a)).astype(result_float(a), copy=False)

    def backward(self, ns, grad, a):
        y = ns.output(self)
        return grad * (y * (1.0 - y))


class Relu(Function):
    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.maximum(a, 0)

    def backward(self, ns, grad, a):
        return grad * (a > 0)  # the mask is a constant: 0 where a <= 0 (0 at 0, as PyTorch)


class Softplus(Function):
    """log(1 + e^(beta x)) / beta, and x itself where beta x > threshold (PyTorch's linear region)."""

    def forward(self, a: np.ndarray, beta: float, threshold: float = 20.0) -> np.ndarray:
        self.beta, self.threshold = beta, threshold
        scaled = a if beta == 1 else a * beta
        soft = np.logaddexp(0, scaled) if beta == 1 else np.logaddexp(0, scaled) / beta
        return np.where(scaled > threshold, a, soft).astype(result_float(a), copy=False)

    def backward(self, ns, grad, a):
        scaled = a if self.beta == 1 else a * self.beta
        return grad * ns.where(scaled > self.threshold, 1.0, ns.sigmoid(scaled))


class Step(Function):
    """The Heaviside step: 1 where x > 0, ``value_at_zero`` at 0, 0 below.

    Its derivative is zero wherever it exists, so the gradient it passes back is zero: a network
    of step units cannot learn by backpropagation (the perceptron uses its own update rule).
    """

    def forward(self, a: np.ndarray, value_at_zero: float) -> np.ndarray:
        return np.heaviside(a, value_at_zero).astype(a.dtype, copy=False)

    def backward(self, ns, grad, a):
        return grad * 0.0


class Clip(Function):
    def forward(self, a: np.ndarray, low: float | None, high: float | None) -> np.ndarray:
        self.low, self.high = low, high
        return np.clip(a, low, high)

    def backward(self, ns, grad, a):
        # the gradient passes where the value was inside the bounds (bounds included)
        if self.low is None:
            inside = a <= self.high
        elif self.high is None:
            inside = a >= self.low
        else:
            inside = (a >= self.low) & (a <= self.high)
        return grad * inside


class Where(Function):
    def forward(self, a: np.ndarray, b: np.ndarray, condition: np.ndarray) -> np.ndarray:
        self.condition = condition
        return np.where(condition, a, b)

    def backward(self, ns, grad, a, b):
        c = ns.saved(self, "condition")
        return (
            ns.where(c, grad, 0.0) if self.needs(0) else None,
            ns.where(c, 0.0, grad) if self.needs(1) else None,
        )


class Cast(Function):
    def forward(self, a: np.ndarray, dtype: np.dtype) -> np.ndarray:
        return a.astype(dtype)

    def backward(self, ns, grad, a):
        return ns.cast(grad, a.dtype)


class Clone(Function):
    def forward(self, a: np.ndarray) -> np.ndarray:
        return a.copy()

    def backward(self, ns, grad, a):
        return grad


def exp(x: Tensor) -> Tensor:
    """e to the x, elementwise.

    Example:
        >>> import chainrule as cr
        >>> cr.exp(cr.tensor([0.0, 1.0]))
        tensor([1.    , 2.7183])
    """
    return Exp.apply(lift(x))


def log(x: Tensor) -> Tensor:
    """Natural logarithm, elementwise.

    Example:
        >>> import chainrule as cr
        >>> cr.log(cr.tensor([1.0, 2.7182817]))
        tensor([0., 1.])
    """
    return Log.apply(lift(x))


def log1p(x: Tensor) -> Tensor:
    """log(1 + x), accurate for small x.

    Example:
        >>> import chainrule as cr
        >>> cr.log1p(cr.tensor([1e-8], dtype='float64')).item()
        9.999999950000001e-09
    """
    return Log1p.apply(lift(x))


def sqrt(x: Tensor) -> Tensor:
    """Square root, as ``x ** 0.5``.

    Example:
        >>> import chainrule as cr
        >>> cr.sqrt(cr.tensor([4.0, 9.0]))
        tensor([2., 3.])
    """
    return pow(lift(x), 0.5)


def sin(x: Tensor) -> Tensor:
    """Sine, elementwise (radians); its derivative is cos.

    Example:
        >>> import chainrule as cr
        >>> cr.sin(cr.tensor([0.0, 1.5707964]))
        tensor([0., 1.])
    """
    return Sin.apply(lift(x))


def cos(x: Tensor) -> Tensor:
    """Cosine, elementwise (radians); its derivative is -sin.

    Example:
        >>> import chainrule as cr
        >>> cr.cos(cr.tensor([0.0, 3.1415927]))
        tensor([ 1., -1.])
    """
    return Cos.apply(lift(x))


def tanh(input: Tensor) -> Tensor:
    """Hyperbolic tangent; its derivative 1 - tanh² is computed from the saved output.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([0.0], requires_grad=True)
        >>> cr.tanh(x).sum().backward()
        >>> x.grad
        tensor([1.])
    """
    return Tanh.apply(lift(input))


def sigmoid(input: Tensor) -> Tensor:
    """The logistic function 1 / (1 + e^-x), stable for large |x|.

    Example:
        >>> import chainrule as cr
        >>> cr.sigmoid(cr.tensor([-1000.0, 0.0, 1000.0]))
        tensor([0. , 0.5, 1. ])
    """
    return Sigmoid.apply(lift(input))


def relu(x: Tensor) -> Tensor:
    """max(x, 0); its gradient is 1 where x > 0 and 0 elsewhere (0 at 0, as PyTorch).

    Example:
        >>> import chainrule as cr
        >>> cr.relu(cr.tensor([-1.0, 0.0, 2.0]))
        tensor([0., 0., 2.])
    """
    return Relu.apply(lift(x))


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + e^(beta x)) / beta, stable for large |x|; its derivative is sigmoid(beta x).

    As PyTorch, where ``beta * x > threshold`` it returns x itself (gradient 1).

    Example:
        >>> import chainrule as cr
        >>> cr.softplus(cr.tensor([0.0], dtype='float64')).item()
        0.6931471805599453
        >>> cr.softplus(cr.tensor([3.0], dtype='float64'), threshold=2.0).item()  # 3 * 1 > 2: x itself
        3.0
    """
    return Softplus.apply(lift(input), beta=beta, threshold=threshold)


def step(x: Tensor, value_at_zero: float = 1.0) -> Tensor:
    """The perceptron's activation: 1 where x >= 0 (with the default), else 0. Its gradient is zero.

    Example:
        >>> import chainrule as cr
        >>> cr.step(cr.tensor([-2.0, 0.0, 3.0]))
        tensor([0., 1., 1.])
    """
    return Step.apply(lift(x), value_at_zero=value_at_zero)


def heaviside(x: Tensor, value_at_zero: float = 0.5) -> Tensor:
    """The Heaviside function with NumPy's convention of naming the value at 0 (see ``step``).

    Example:
        >>> import chainrule as cr
        >>> cr.heaviside(cr.tensor([-1.0, 0.0, 1.0]))
        tensor([0. , 0.5, 1. ])
    """
    return Step.apply(lift(x), value_at_zero=value_at_zero)


def clip(x: Tensor, min: float | None = None, max: float | None = None) -> Tensor:
    """Limit values to [min, max]; the gradient passes where the value was inside (bounds included).

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([-2.0, 0.5, 3.0], requires_grad=True)
        >>> cr.clip(x, -1.0, 1.0).sum().backward()
        >>> x.grad
        tensor([0., 1., 0.])
    """
    if min is None and max is None:
        raise ValueError("clip: give min, max or both")
    if isinstance(min, Tensor) or isinstance(max, Tensor):  # tensor bounds: composed, so they get gradients
        out = lift(x)
        if min is not None:
            out = maximum(out, min)  # a tie gives the gradient to the first operand: bounds included
        return out if max is None else minimum(out, max)
    return Clip.apply(lift(x), low=min, high=max)


def clamp(x: Tensor, min: float | None = None, max: float | None = None) -> Tensor:
    """PyTorch's name for :func:`clip`: values limited to [min, max].

    Example:
        >>> import chainrule as cr
        >>> cr.clamp(cr.tensor([-2.0, 0.5, 3.0]), min=0.0, max=1.0)
        tensor([0. , 0.5, 1. ])
    """
    return clip(x, min, max)


def isnan(x: Any) -> Tensor:
    """Where ``x`` is NaN (a boolean tensor; no gradient).

    Example:
        >>> import chainrule as cr
        >>> cr.isnan(cr.tensor([1.0, float("nan")]))
        tensor([False,  True])
    """
    return pure(np.isnan, lift(x))


def isfinite(x: Any) -> Tensor:
    """Where ``x`` is neither infinite nor NaN (a boolean tensor; no gradient).

    Example:
        >>> import chainrule as cr
        >>> cr.isfinite(cr.tensor([1.0, float("inf"), float("nan")]))
        tensor([ True, False, False])
    """
    return pure(np.isfinite, lift(x))


_NOT_GIVEN: Any = object()


def where(condition: Any, a: Any = _NOT_GIVEN, b: Any = _NOT_GIVEN) -> Any:
    """Elementwise choice: ``a`` where ``condition`` is true, else ``b`` (condition gets no gradient).
    ``where(condition)`` alone is ``nonzero(condition, as_tuple=True)``, as in PyTorch and NumPy.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([-1.0, 2.0])
        >>> cr.where(x > 0, x, 0.0)
        tensor([0., 2.])
        >>> cr.where(x > 0)
        (tensor([1]),)
    """
    if a is _NOT_GIVEN and b is _NOT_GIVEN:
        return nonzero(condition, as_tuple=True)
    if a is _NOT_GIVEN or b is _NOT_GIVEN:
        raise TypeError(
            "where: give the condition alone (the indices where it holds), or the condition and both values"
        )
    if isinstance(condition, Tensor) and condition._data.dtype != bool:
        condition = pure(_astype, condition, dtype=np.dtype(bool))  # an op: a compiled step converts it again
    cond = condition._data if isinstance(condition, Tensor) else np.asarray(condition)
    if cond.dtype != bool:
        cond = cond.astype(bool)
    a, b = promote_operands(a, b)
    return Where.apply(a, b, condition=cond)


def masked_fill(input: Any, mask: Any, value: Any) -> Tensor:
    """``value`` where the boolean ``mask`` is True, ``input`` elsewhere, as PyTorch's: the mask and
    the input broadcast together; ``value`` (a number, or a 0-d tensor that then gets the gradient
    of the entries it fills) is converted to the input's dtype (1.7 into an integer tensor is 1).
    The gradient flows to ``input`` where it is kept.

    Example:
        >>> import chainrule as cr
        >>> scores = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        >>> cr.masked_fill(scores, cr.tensor([False, True]), float("-inf"))
        tensor([[  1., -inf],
                [  3., -inf]], grad_fn=<WhereBackward0>)
    """
    x = lift(input)
    condition = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
    if condition.dtype != bool:
        raise TypeError(
            f"masked_fill: the mask must be boolean, got dtype {condition.dtype} (write mask == 0 or mask.bool())"
        )
    try:
        np.broadcast_shapes(condition.shape, x.shape)
    except ValueError:
        raise ValueError(
            f"masked_fill: a mask of shape {condition.shape} does not broadcast with the tensor's {x.shape}"
        ) from None
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise ValueError(
                f"masked_fill: a tensor value must be 0-d (one number), got shape {value.shape}; "
                "for a value per entry write cr.where(mask, values, input)"
            )
        fill = cast(value, x.dtype)
    elif isinstance(value, numbers.Number) or (isinstance(value, np.ndarray) and value.ndim == 0):
        with np.errstate(invalid="ignore"):
            fill = Tensor._make(np.asarray(value).astype(x.dtype))
    else:
        raise TypeError(f"masked_fill: value must be a number or a 0-d tensor, got {type(value).__name__}")
    return where(mask if isinstance(mask, Tensor) else condition, fill, x)


def nonzero(x: Any, *, as_tuple: bool = False) -> Any:
    """The indices of the nonzero (true) entries, as PyTorch's: an int64 tensor of shape
    (count, ndim), or with ``as_tuple=True`` one 1-d tensor per dimension (NumPy's form). No gradient.

    Example:
        >>> import chainrule as cr
        >>> cr.nonzero(cr.tensor([[0.0, 2.0], [3.0, 0.0]]))
        tensor([[0, 1],
                [1, 0]])
    """
    x = lift(x)
    if _mode.recorder is not None:  # (how many depends on the data: a plan's shapes would not hold)
        _mode.recorder.refuse(
            "nonzero (or where(condition) alone) gives as many indices as the data has nonzero entries, so the "
            "shapes after it change from call to call (write cr.where(mask, x, 0) to keep the shape)"
        )
    if as_tuple:
        return tuple(pure(_nonzero_along, x, axis=d) for d in range(max(x.ndim, 1)))
    return pure(_nonzero_rows, x)


def _nonzero_rows(a: np.ndarray) -> np.ndarray:
    return np.argwhere(a).astype(np.int64)


def _nonzero_along(a: np.ndarray, axis: int) -> np.ndarray:
    return np.nonzero(np.atleast_1d(a))[axis].astype(np.int64)


def remainder(a: Any, b: Any) -> Tensor:
    """``a % b`` with the sign of ``b`` (Python's, NumPy's and PyTorch's rule); differentiable in
    both (``a - floor(a / b) * b``) for floats.

    Example:
        >>> import chainrule as cr
        >>> cr.tensor([5.0, -5.0]) % 3
        tensor([2., 1.])
    """
    a, b = promote_operands(a, b)
    if a._data.dtype.kind != "f":
        _no_integer_zero("%", b)
        return pure(np.remainder, a, b)
    return Remainder.apply(a, b)


class Remainder(Function):
    """NumPy's remainder (exact: fmod with the divisor's sign); gradients 1 and -floor(a / b).
    ``truncated``: C's fmod (the dividend's sign), gradients 1 and -trunc(a / b)."""

    def forward(self, a: np.ndarray, b: np.ndarray, truncated: bool = False) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):  # (x % 0: NaN, as PyTorch, without a warning)
            if truncated:
                self.quotient = np.trunc(a / b)
                return np.fmod(a, b)
            self.quotient = np.floor_divide(a, b)
            return np.remainder(a, b)

    def backward(self, ns, grad, a, b):
        return grad, -(grad * ns.saved(self, "quotient"))


def _no_integer_zero(op: str, b: Tensor) -> None:
    """Integers divided by 0 are an error (PyTorch's ZeroDivisionError; NumPy gives 0 and a warning)."""
    if b._data.dtype.kind in "iub" and not np.all(b._data):
        raise ZeroDivisionError(f"{op}: integer division by zero")


def floor_divide(a: Any, b: Any) -> Tensor:
    """``a // b``: the quotient rounded down (no gradient, as PyTorch's ``floor_divide``).

    Example:
        >>> import chainrule as cr
        >>> cr.tensor([7, -7]) // 2
        tensor([ 3, -4])
    """
    a, b = promote_operands(a, b)
    if a._data.dtype.kind in "iub":
        _no_integer_zero("//", b)
    return pure(_floor_divide, a, b)


def _floor_divide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):  # (x // 0.0: inf or NaN, as PyTorch, without a warning)
        return np.floor_divide(a, b)


def fmod(input: Any, other: Any) -> Tensor:
    """The remainder of ``input / other`` with the sign of ``input`` (C's fmod, PyTorch's ``fmod``;
    ``%`` takes the divisor's sign); differentiable in both: gradients 1 and -trunc(input / other).

    Example:
        >>> import chainrule as cr
        >>> cr.fmod(cr.tensor([-7.0, 7.0]), 3)
        tensor([-1.,  1.])
    """
    a, b = promote_operands(input, other)
    if a._data.dtype.kind != "f":
        _no_integer_zero("fmod", b)
        return pure(np.fmod, a, b)
    return Remainder.apply(a, b, truncated=True)


def cast(x: Tensor, dtype: Any) -> Tensor:
    """Convert to another dtype; differentiable between floating dtypes.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([1.5], requires_grad=True)
        >>> y = cr.cast(x, 'float64')
        >>> y.dtype, y.requires_grad
        (dtype('float64'), True)
    """
    dtype = np.dtype(dtype)
    x = lift(x)
    if dtype == x.dtype:
        return x
    if dtype.kind != "f":
        return pure(_astype, x, dtype=dtype)
    return Cast.apply(x, dtype=dtype)


def clone(x: Tensor) -> Tensor:
    """A copy with its own memory that stays in the graph.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
        >>> y = cr.clone(x)
        >>> y.grad_fn is not None, y.numpy() is x.numpy()
        (True, False)
    """
    return Clone.apply(lift(x))


# ------------------------------------------------------------------ composed


def abs(x: Tensor) -> Tensor:
    """|x| = x * sign(x); its gradient is sign(x) (0 at 0, as PyTorch).

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([-2.0, 0.0, 3.0], requires_grad=True)
        >>> cr.abs(x).sum().backward()
        >>> x.grad
        tensor([-1.,  0.,  1.])
    """
    x = lift(x)
    return x * sign(x)


def sign(x: Tensor) -> Tensor:
    """-1, 0 or 1 elementwise. Not differentiable (a constant: no gradient flows).

    Example:
        >>> import chainrule as cr
        >>> cr.sign(cr.tensor([-3.0, 0.0, 2.0]))
        tensor([-1.,  0.,  1.])
    """
    return pure(np.sign, lift(x))


def takes_first_max(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Where ``maximum(a, b)`` takes ``a``: ``a >= b``, or ``a`` is NaN. A NaN in either operand
    is the result, as in NumPy and PyTorch (a comparison with NaN is false, so without the second
    test a NaN in ``a`` would give ``b``)."""
    return _or_nan(np.greater_equal(a, b), a)


def takes_first_min(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Where ``minimum(a, b)`` takes ``a``: ``a <= b``, or ``a`` is NaN (see :func:`takes_first_max`)."""
    return _or_nan(np.less_equal(a, b), a)


def _or_nan(keep: np.ndarray, a: np.ndarray) -> np.ndarray:
    return np.logical_or(keep, np.isnan(a)) if np.result_type(a).kind in "fc" else keep


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise maximum; at ties the gradient goes to ``a``; NaN in either operand gives NaN.

    Example:
        >>> import chainrule as cr
        >>> cr.maximum(cr.tensor([1.0, 5.0]), cr.tensor([3.0, 2.0]))
        tensor([3., 5.])
    """
    a, b = promote_operands(a, b)
    return where(pure(takes_first_max, a, b), a, b)


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise minimum; at ties the gradient goes to ``a``; NaN in either operand gives NaN.

    Example:
        >>> import chainrule as cr
        >>> cr.minimum(cr.tensor([1.0, 5.0]), 2.0)
        tensor([1., 2.])
    """
    a, b = promote_operands(a, b)
    return where(pure(takes_first_min, a, b), a, b)


def leaky_relu(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x where x > 0, ``negative_slope * x`` elsewhere.

    Example:
        >>> import chainrule as cr
        >>> cr.leaky_relu(cr.tensor([-10.0, 1.0]), 0.1)
        tensor([-1.,  1.])
    """
    x = lift(input)
    return where(pure(np.greater, x, lift(0.0, x)), x, x * negative_slope)


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """x where x > 0, alpha (e^x - 1) elsewhere.

    Example:
        >>> import chainrule as cr
        >>> cr.elu(cr.tensor([-1000.0, 2.0]))
        tensor([-1.,  2.])
    """
    return scaled_elu(lift(x), alpha)


def scaled_elu(x: Tensor, alpha: float, scale: float = 1.0, input_scale: float = 1.0) -> Tensor:
    """PyTorch's one ELU family (elu, selu, celu): ``scale * x`` where x > 0, else
    ``scale * alpha * (e^(input_scale x) - 1)``. At 0 the negative branch gives the gradient
    (``scale * alpha * input_scale``) and a NaN takes the positive one (gradient ``scale``), as PyTorch."""
    negative = pure(np.less_equal, x, lift(0.0, x))
    # the exponent is 0 outside the negative branch, so the unused branch never overflows (inf * 0
    # would give NaN gradients) and a NaN input does not reach it (its gradient would be NaN)
    below = where(negative, x, 0.0)
    negative_part = (exp(below if input_scale == 1.0 else below * input_scale) - 1.0) * (alpha * scale)
    return where(negative, negative_part, x if scale == 1.0 else x * scale)


_GELU_C = math.sqrt(2.0 / math.pi)  # constant of the tanh approximation (Hendrycks & Gimpel, 2016)


def erf(x: Tensor) -> Tensor:
    """The error function, 2/sqrt(pi) times the integral of exp(-t^2) from 0 to x.

    Example:
        >>> import chainrule as cr
        >>> cr.erf(cr.tensor([0.0, 1.0], dtype="float64"))
        tensor([0.    , 0.8427], dtype=float64)
    """
    return Erf.apply(lift(x))


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit, as PyTorch's: x Phi(x) = 0.5 x (1 + erf(x / sqrt 2)) by default;
    ``approximate="tanh"``: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), which differs by less
    than 1e-3 (before this stop chainrule's only form).

    Example:
        >>> import chainrule as cr
        >>> cr.gelu(cr.tensor([-3.0, 0.0, 3.0]))
        tensor([-0.004,  0.   ,  2.996])
        >>> cr.gelu(cr.tensor([-3.0, 0.0, 3.0]), approximate="tanh")
        tensor([-0.0036,  0.    ,  2.9964])
    """
    x = lift(input)
    if approximate == "tanh":
        inner = (x + pow(x, 3) * 0.044715) * _GELU_C
        return x * 0.5 * (tanh(inner) + 1.0)
    if approximate != "none":
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return x * 0.5 * (erf(x * _SQRT_HALF) + 1.0)


_SQRT_HALF = math.sqrt(0.5)


# ------------------------------------------------------------------ comparisons (no gradient)


def _compare(ufunc: np.ufunc, a: Any, b: Any) -> Tensor:
    a, b = promote_operands(a, b)
    return pure(ufunc, a, b)


def eq(a: Any, b: Any) -> Tensor:
    """``a == b`` elementwise, with broadcasting: a boolean tensor (no gradient).

    Example:
        >>> import chainrule as cr
        >>> cr.eq(cr.tensor([1.0, 2.0]), 2.0)
        tensor([False,  True])
    """
    return _compare(np.equal, a, b)


def ne(a: Any, b: Any) -> Tensor:
    """``a != b`` elementwise, with broadcasting: a boolean tensor (no gradient).

    Example:
        >>> import chainrule as cr
        >>> cr.ne(cr.tensor([1.0, 2.0]), 2.0)
        tensor([ True, False])
    """
    return _compare(np.not_equal, a, b)


def lt(a: Any, b: Any) -> Tensor:
    """``a < b`` elementwise, with broadcasting: a boolean tensor (no gradient).

    Example:
        >>> import chainrule as cr
        >>> cr.lt(cr.tensor([1.0, 2.0]), 2.0)
        tensor([ True, False])
    """
    return _compare(np.less, a, b)


def le(a: Any, b: Any) -> Tensor:
    """``a <= b`` elementwise, with broadcasting: a boolean tensor (no gradient).

    Example:
        >>> import chainrule as cr
        >>> cr.le(cr.tensor([1.0, 2.0]), 2.0)
        tensor([ True,  True])
    """
    return _compare(np.less_equal, a, b)


def gt(a: Any, b: Any) -> Tensor:
    """``a > b`` elementwise, with broadcasting: a boolean tensor (no gradient).

    Example:
        >>> import chainrule as cr
        >>> cr.gt(cr.tensor([1.0, 2.0]), 1.0)
        tensor([False,  True])
    """
    return _compare(np.greater, a, b)


def ge(a: Any, b: Any) -> Tensor:
    """``a >= b`` elementwise, with broadcasting: a boolean tensor (no gradient).

    Example:
        >>> import chainrule as cr
        >>> cr.ge(cr.tensor([1.0, 2.0]), 2.0)
        tensor([False,  True])
    """
    return _compare(np.greater_equal, a, b)


def logical_and(a: Any, b: Any) -> Tensor:
    """Elementwise logical and of two boolean (or truthy) tensors (no gradient).

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([-1.0, 0.5, 2.0])
        >>> cr.logical_and(x > 0, x < 1)
        tensor([False,  True, False])
    """
    return _compare(np.logical_and, a, b)


def logical_or(a: Any, b: Any) -> Tensor:
    """Elementwise logical or of two boolean (or truthy) tensors (no gradient).

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([-1.0, 0.5, 2.0])
        >>> cr.logical_or(x < 0, x > 1)
        tensor([ True, False,  True])
    """
    return _compare(np.logical_or, a, b)


def logical_xor(a: Any, b: Any) -> Tensor:
    """Elementwise exclusive or of two boolean (or truthy) tensors (no gradient).

    Example:
        >>> import chainrule as cr
        >>> cr.logical_xor(cr.tensor([True, True, False]), cr.tensor([1.0, 0.0, 0.0]))
        tensor([False,  True, False])
    """
    return _compare(np.logical_xor, a, b)


def logical_not(a: Any) -> Tensor:
    """Elementwise logical not (``~t`` on a boolean tensor; no gradient).

    Example:
        >>> import chainrule as cr
        >>> cr.logical_not(cr.tensor([1.0, -1.0]) > 0)
        tensor([False,  True])
    """
    return pure(np.logical_not, lift(a))


class Dropout(Function):
    """``x`` times a random mask of ``mask_shape`` (broadcast over ``x``) holding 0 with probability
    ``p`` and 1/(1-p) otherwise. The mask is drawn in the forward, from ``generator`` (a seed, a
    NumPy generator, or None for chainrule's), so that a replayed step draws a new one each time."""

    def forward(self, x: np.ndarray, p: float, mask_shape: tuple[int, ...], generator: Any = None) -> np.ndarray:
        keep = resolve_generator(generator).random(mask_shape) >= p
        self.mask = (keep / (1.0 - p)).astype(x.dtype)
        return x * self.mask

    def backward(self, ns: Any, grad: Any, x: Any) -> Any:
        return grad * ns.saved(self, "mask")


def dropout(x: Tensor, p: float, mask_shape: tuple[int, ...], generator: Any = None) -> Tensor:
    """Inverted dropout with a mask of ``mask_shape`` (see ``Dropout``); ``nn.functional.dropout``
    checks the arguments and handles ``training`` and ``p`` of 0 and 1.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.ops.elementwise import dropout
        >>> dropout(cr.ones(2, 3), 0.5, (2, 1), generator=0)
        tensor([[2., 2., 2.],
                [0., 0., 0.]])
    """
    return Dropout.apply(lift(x), p=p, mask_shape=tuple(mask_shape), generator=generator)


# ------------------------------------------------------------------ more of PyTorch's elementwise functions


def _floating(x: Any) -> Tensor:
    """``x`` as a Tensor, integers and booleans converted to float32 (PyTorch's rule for the
    functions whose values are fractions: log2, expm1, rsqrt, ...)."""
    x = lift(x)
    return pure(_astype, x, dtype=np.dtype(DEFAULT_DTYPE)) if x._data.dtype.kind in "iub" else x


def _rounded(x: Any, mode: str, decimals: int = 0) -> Tensor:
    x = lift(x)
    if x._data.dtype.kind in "iub":
        if decimals:
            raise TypeError(f"round: decimals={decimals} needs a floating tensor, got {x.dtype}")
        return pure(np.copy, x)  # (integers are whole already: a copy, as PyTorch)
    return Rounding.apply(x, mode=mode, decimals=int(decimals))


def floor(input: Any) -> Tensor:
    """The largest whole number not above each entry (gradient 0, as PyTorch's).

    Example:
        >>> import chainrule as cr
        >>> cr.floor(cr.tensor([-1.5, 0.5, 2.0]))
        tensor([-2.,  0.,  2.])
    """
    return _rounded(input, "floor")


def ceil(input: Any) -> Tensor:
    """The smallest whole number not below each entry (gradient 0, as PyTorch's).

    Example:
        >>> import chainrule as cr
        >>> cr.ceil(cr.tensor([-1.5, 0.5, 2.0]))
        tensor([-1.,  1.,  2.])
    """
    return _rounded(input, "ceil")


def trunc(input: Any) -> Tensor:
    """Each entry rounded toward zero (gradient 0, as PyTorch's).

    Example:
        >>> import chainrule as cr
        >>> cr.trunc(cr.tensor([-1.5, 0.5, 2.7]))
        tensor([-1.,  0.,  2.])
    """
    return _rounded(input, "trunc")


def round(input: Any, *, decimals: int = 0) -> Tensor:
    """Each entry rounded to the nearest whole number, halves to the even one (as PyTorch's and
    NumPy's), or to ``decimals`` places (negative: tens, hundreds, ...); gradient 0.

    Example:
        >>> import chainrule as cr
        >>> cr.round(cr.tensor([0.5, 1.5, 2.5, -0.5]))
        tensor([ 0.,  2.,  2., -0.])
        >>> cr.round(cr.tensor([1.2345, 1234.5], dtype="float64"), decimals=2).tolist()
        [1.23, 1234.5]
    """
    if not isinstance(decimals, numbers.Integral) or isinstance(decimals, bool):
        raise TypeError(f"round: decimals must be an integer, got {decimals!r}")
    return _rounded(input, "round", decimals)


def frac(input: Any) -> Tensor:
    """The fractional part, ``x - trunc(x)``, with the sign of ``x``; gradient 1.

    Example:
        >>> import chainrule as cr
        >>> cr.frac(cr.tensor([-1.25, 2.5]))
        tensor([-0.25,  0.5 ])
    """
    x = lift(input)
    if x._data.dtype.kind != "f":
        raise TypeError(f"frac: needs a floating tensor (the fraction of an integer is 0), got {x.dtype}")
    return x - trunc(x)


def reciprocal(input: Any) -> Tensor:
    """``1 / x`` elementwise (integers give float32).

    Example:
        >>> import chainrule as cr
        >>> cr.reciprocal(cr.tensor([2.0, -4.0, 0.0]))
        tensor([ 0.5 , -0.25,   inf])
    """
    return div(1.0, _floating(input))


def rsqrt(input: Any) -> Tensor:
    """``1 / sqrt(x)`` elementwise (``x ** -0.5``; integers give float32).

    Example:
        >>> import chainrule as cr
        >>> cr.rsqrt(cr.tensor([4.0, 0.25]))
        tensor([0.5, 2. ])
    """
    return pow(_floating(input), -0.5)


def expm1(input: Any) -> Tensor:
    """``e^x - 1``, accurate for small ``x``.

    Example:
        >>> import chainrule as cr
        >>> cr.expm1(cr.tensor([1e-10], dtype="float64")).item()
        1.00000000005e-10
    """
    return Expm1.apply(_floating(input))


def log2(input: Any) -> Tensor:
    """The base-2 logarithm (exact at powers of 2).

    Example:
        >>> import chainrule as cr
        >>> cr.log2(cr.tensor([1.0, 8.0, 0.5]))
        tensor([ 0.,  3., -1.])
    """
    return Log.apply(_floating(input), base=2)


def log10(input: Any) -> Tensor:
    """The base-10 logarithm (exact at powers of 10).

    Example:
        >>> import chainrule as cr
        >>> cr.log10(cr.tensor([1000.0, 0.01]))
        tensor([ 3., -2.])
    """
    return Log.apply(_floating(input), base=10)


def exp2(input: Any) -> Tensor:
    """``2 ** x`` elementwise (integers give float32).

    Example:
        >>> import chainrule as cr
        >>> cr.exp2(cr.tensor([3.0, -1.0]))
        tensor([8. , 0.5])
    """
    return pow(2.0, _floating(input))


def sinh(input: Any) -> Tensor:
    """The hyperbolic sine, ``(expm1(x) - expm1(-x)) / 2`` (accurate near 0); its derivative is cosh.

    Example:
        >>> import chainrule as cr
        >>> cr.sinh(cr.tensor([0.0, 1.0]))
        tensor([0.    , 1.1752])
    """
    x = _floating(input)
    return (expm1(x) - expm1(-x)) * 0.5


def cosh(input: Any) -> Tensor:
    """The hyperbolic cosine: ``1 + 2 sinh(x / 2)^2`` for ``|x| < 1`` (its gradient, sinh, then
    accurate near 0), ``(e^x + e^-x) / 2`` beyond (the infinities' gradients as PyTorch's).

    Example:
        >>> import chainrule as cr
        >>> cr.cosh(cr.tensor([0.0, 1.0]))
        tensor([1.    , 1.5431])
    """
    x = _floating(input)
    near = pure(_abs_below, x, bound=1.0)
    half = sinh(where(near, x, 0.0) * 0.5)  # (0 far from 0: no infinity there to meet a zero gradient)
    return where(near, half * half * 2.0 + 1.0, (exp(x) + exp(-x)) * 0.5)


def _floating_pair(a: Any, b: Any) -> tuple[Tensor, Tensor]:
    a, b = promote_operands(a, b)
    if a._data.dtype.kind in "iub" and b._data.dtype.kind in "iub":
        a, b = _floating(a), _floating(b)
    return a, b


def atan2(input: Any, other: Any) -> Tensor:
    """The angle of the point (``other``, ``input``) in radians, in [-pi, pi] (PyTorch's ``atan2``,
    ``arctan2``); the gradient at the origin is 0, as PyTorch's.

    Example:
        >>> import chainrule as cr
        >>> cr.atan2(cr.tensor([1.0, 1.0, -1.0]), cr.tensor([1.0, -1.0, 0.0]))
        tensor([ 0.7854,  2.3562, -1.5708])
    """
    return Atan2.apply(*_floating_pair(input, other))


arctan2 = atan2


def hypot(input: Any, other: Any) -> Tensor:
    """``sqrt(input^2 + other^2)`` without overflow in the squares.

    Example:
        >>> import chainrule as cr
        >>> cr.hypot(cr.tensor([3.0, 1e30]), cr.tensor([4.0, 1e30]))
        tensor([5.0000e+00, 1.4142e+30])
    """
    return Hypot.apply(*_floating_pair(input, other))


def logit(input: Any, eps: float | None = None) -> Tensor:
    """``log(x / (1 - x))``, the inverse of the sigmoid; with ``eps``, ``x`` is first clamped to
    [eps, 1 - eps] (gradient 0 outside), as PyTorch's.

    Example:
        >>> import chainrule as cr
        >>> cr.logit(cr.tensor([0.5, 0.75, 1.0]))
        tensor([0.    , 1.0986,    inf])
        >>> cr.logit(cr.tensor([0.0, 1.0]), eps=0.25)
        tensor([-1.0986,  1.0986])
    """
    x = _floating(input)
    if eps is not None:
        x = minimum(maximum(x, eps), 1.0 - eps)  # (NaN stays NaN, its gradient too, as PyTorch's)
    return log(x) - log1p(-x)


def _non_finite_replaced(a: np.ndarray, nan: float, posinf: float | None, neginf: float | None) -> np.ndarray:
    return np.nan_to_num(a, nan=nan, posinf=posinf, neginf=neginf)


def nan_to_num(input: Any, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None) -> Tensor:
    """NaN replaced by ``nan``, infinities by ``posinf`` / ``neginf`` (the dtype's largest and
    smallest values by default); the gradient passes where the entry was finite, 0 elsewhere.

    Example:
        >>> import chainrule as cr
        >>> cr.nan_to_num(cr.tensor([float("nan"), 1.0, float("inf")]), posinf=9.0)
        tensor([0., 1., 9.])
    """
    x = lift(input)
    if x._data.dtype.kind != "f":
        return pure(np.copy, x)
    replaced = pure(_non_finite_replaced, x, nan=nan, posinf=posinf, neginf=neginf)
    return where(pure(np.isfinite, x), x, replaced)


def lerp(input: Any, end: Any, weight: Any) -> Tensor:
    """``input + weight * (end - input)``, computed as PyTorch's (``end - (end - input) * (1 - weight)``
    where ``|weight| >= 0.5``, exact at weight 1); ``weight`` a number or a tensor, differentiable in
    all three.

    Example:
        >>> import chainrule as cr
        >>> cr.lerp(cr.tensor([0.0, 10.0]), cr.tensor([10.0, 20.0]), 0.25)
        tensor([ 2.5, 12.5])
    """
    start, end = promote_operands(input, end)
    diff = end - start
    if isinstance(weight, Tensor):
        low = pure(_abs_below, weight, bound=0.5)
        return where(low, start + weight * diff, end - diff * (1.0 - weight))
    if not isinstance(weight, numbers.Real):
        raise TypeError(f"lerp: weight must be a number or a tensor, got {type(weight).__name__}")
    return start + diff * weight if builtins.abs(weight) < 0.5 else end - diff * (1.0 - weight)


def _abs_below(a: np.ndarray, bound: float) -> np.ndarray:
    """Where ``|a| < bound`` (which formula lerp and cosh take)."""
    return np.abs(a) < bound


def addcmul(input: Any, tensor1: Any, tensor2: Any, *, value: float = 1) -> Tensor:
    """``input + value * tensor1 * tensor2``, as PyTorch's.

    Example:
        >>> import chainrule as cr
        >>> cr.addcmul(cr.tensor([1.0]), cr.tensor([2.0]), cr.tensor([3.0]), value=0.5)
        tensor([4.])
    """
    product = tensor1 if value == 1 else mul(tensor1, value)
    return add(input, mul(product, tensor2))


def addcdiv(input: Any, tensor1: Any, tensor2: Any, *, value: float = 1) -> Tensor:
    """``input + value * tensor1 / tensor2``, as PyTorch's (integer ``tensor1`` and ``tensor2``
    are refused, as there).

    Example:
        >>> import chainrule as cr
        >>> cr.addcdiv(cr.tensor([1.0]), cr.tensor([2.0]), cr.tensor([4.0]), value=2)
        tensor([2.])
    """
    kinds = {lift(t)._data.dtype.kind for t in (tensor1, tensor2)}
    if kinds <= set("iub") and all(isinstance(t, Tensor) for t in (tensor1, tensor2)):
        raise TypeError(
            "addcdiv: integer tensor1 and tensor2 are not supported (PyTorch refuses them too); convert them "
            "(t.float()), or write input + value * cr.trunc(tensor1 / tensor2) for the old integer division"
        )
    scaled = tensor1 if value == 1 else mul(tensor1, value)
    return add(input, div(scaled, tensor2))
