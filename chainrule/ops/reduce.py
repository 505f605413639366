"""Reductions over axes: sum, mean, var, std, max, min, argmax, logsumexp, softmax, log_softmax."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from chainrule.autograd import Function
from chainrule.ops.elementwise import lift, sqrt
from chainrule.ops.shape import normalize_axis
from chainrule.tensor import Tensor

Axis = int | Sequence[int] | None


def normalize_axes(axis: Axis, ndim: int, op: str) -> tuple[int, ...]:
    """Turn ``axis`` (None, an int or a sequence, negatives allowed) into sorted non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    result = [normalize_axis(a, ndim, op) for a in axes]  # a 0-d tensor has no axis, as in NumPy
    if len(set(result)) != len(result):
        raise ValueError(f"{op}: repeated axis in {axis}")
    return tuple(sorted(result))


def _kept_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _expand_back(ns, grad, in_shape: tuple[int, ...], axes: tuple[int, ...]):
    """Broadcast a reduced gradient back over the axes that were reduced (with interpreter ``ns``)."""
    kept = _kept_shape(in_shape, axes)
    if grad.shape != kept:
        grad = ns.reshape(grad, kept)
    return ns.broadcast_to(grad, in_shape)


def _kept_output(ns, fn: Function, in_shape: tuple[int, ...], axes: tuple[int, ...]):
    """The saved output of a reduction, with the reduced axes kept (length 1)."""
    out = ns.output(fn)
    kept = _kept_shape(in_shape, axes)
    return out if out.shape == kept else ns.reshape(out, kept)


class Sum(Function):
    def forward(self, a: np.ndarray, axes: tuple[int, ...], keepdims: bool) -> np.ndarray:
        self.axes = axes
        return np.sum(a, axis=axes, keepdims=keepdims)

    def backward(self, ns, grad, a):
        return _expand_back(ns, grad, a.shape, self.axes)


class Max(Function):
    """max over axes; the gradient is split evenly among elements tied for the maximum."""

    save_output = True

    def forward(self, a: np.ndarray, axes: tuple[int, ...], keepdims: bool, find_min: bool) -> np.ndarray:
        self.axes = axes
        if a.size == 0:
            raise ValueError(f"{'min' if find_min else 'max'}: cannot reduce an empty tensor")
        kept = np.min(a, axis=axes, keepdims=True) if find_min else np.max(a, axis=axes, keepdims=True)
        return kept if keepdims else kept.reshape([n for i, n in enumerate(a.shape) if i not in axes])

    def backward(self, ns, grad, a):
        winners = ns.cast(a == _kept_output(ns, self, a.shape, self.axes), a.dtype)  # a constant
        share = winners / ns.sum(winners, self.axes, keepdims=True)
        return _expand_back(ns, grad, a.shape, self.axes) * share


class LogSumExp(Function):
    save_output = True

    def forward(self, a: np.ndarray, axes: tuple[int, ...], keepdims: bool) -> np.ndarray:
        self.axes = axes
        m = np.max(a, axis=axes, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)  # all -inf along an axis: avoid inf - inf
        out = np.log(np.sum(np.exp(a - m), axis=axes, keepdims=True)) + m
        return out if keepdims else out.reshape([n for i, n in enumerate(a.shape) if i not in axes])

    def backward(self, ns, grad, a):
        out = _kept_output(ns, self, a.shape, self.axes)
        return _expand_back(ns, grad, a.shape, self.axes) * ns.exp(a - out)


class Softmax(Function):
    save_output = True

    def forward(self, a: np.ndarray, axis: int) -> np.ndarray:
        self.axis = axis
        e = np.exp(a - np.max(a, axis=axis, keepdims=True))
        e /= np.sum(e, axis=axis, keepdims=True)
        return e

    def backward(self, ns, grad, a):
        s = ns.output(self)
        return s * (grad - ns.sum(grad * s, (self.axis,), keepdims=True))


class LogSoftmax(Function):
    save_output = True

    def forward(self, a: np.ndarray, axis: int) -> np.ndarray:
        self.axis = axis
        shifted = a - np.max(a, axis=axis, keepdims=True)
        shifted -= np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
        return shifted

    def backward(self, ns, grad, a):
        return grad - ns.exp(ns.output(self)) * ns.sum(grad, (self.axis,), keepdims=True)


def sum(x: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Sum over ``axis`` (all axes by default).

    Example:
        >>> import chainrule as cr
        >>> cr.sum(cr.tensor([[1.0, 2.0], [3.0, 4.0]]), axis=0)
        tensor([4., 6.])
    """
    x = lift(x)
    return Sum.apply(x, axes=normalize_axes(axis, x.ndim, "sum"), keepdims=keepdims)


def _count(shape: tuple[int, ...], axes: tuple[int, ...]) -> int:
    n = 1
    for a in axes:
        n *= shape[a]
    return n


def mean(x: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Arithmetic mean over ``axis``: sum / count.

    Example:
        >>> import chainrule as cr
        >>> cr.mean(cr.tensor([[1.0, 2.0], [3.0, 5.0]]), axis=1)
        tensor([1.5, 4. ])
    """
    x = lift(x)
    axes = normalize_axes(axis, x.ndim, "mean")
    n = _count(x.shape, axes)
    if n == 0:
        raise ValueError(f"mean: cannot average over an empty axis (shape {x.shape})")
    return sum(x, axes, keepdims) * (1.0 / n)


def var(x: Tensor, axis: Axis = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
    """Variance over ``axis`` with ``ddof`` delta degrees of freedom (0: population, as NumPy).

    Example:
        >>> import chainrule as cr
        >>> cr.var(cr.tensor([1.0, 2.0, 3.0, 4.0])), cr.var(cr.tensor([1.0, 2.0, 3.0, 4.0]), ddof=1)
        (tensor(1.25), tensor(1.6667))
    """
    x = lift(x)
    axes = normalize_axes(axis, x.ndim, "var")
    n = _count(x.shape, axes)
    if n - ddof <= 0:
        raise ValueError(f"var: {n} values over axis {axis} leave no degrees of freedom with ddof={ddof}")
    centered = x - mean(x, axes, keepdims=True)
    return sum(centered * centered, axes, keepdims) * (1.0 / (n - ddof))


def std(x: Tensor, axis: Axis = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
    """Standard deviation, sqrt(var).

    Example:
        >>> import chainrule as cr
        >>> cr.std(cr.tensor([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]))
        tensor(2.)
    """
    return sqrt(var(x, axis, keepdims, ddof))


def max(x: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Maximum over ``axis``; tied maxima share the gradient evenly.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([1.0, 3.0, 3.0], requires_grad=True)
        >>> cr.max(x).backward()
        >>> x.grad
        tensor([0. , 0.5, 0.5])
    """
    x = lift(x)
    return Max.apply(x, axes=normalize_axes(axis, x.ndim, "max"), keepdims=keepdims, find_min=False)


def min(x: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Minimum over ``axis``; tied minima share the gradient evenly.

    Example:
        >>> import chainrule as cr
        >>> cr.min(cr.tensor([[4.0, 1.0], [2.0, 3.0]]), axis=0)
        tensor([2., 1.])
    """
    x = lift(x)
    return Max.apply(x, axes=normalize_axes(axis, x.ndim, "min"), keepdims=keepdims, find_min=True)


def argmax(x: Tensor, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """Index of the maximum (not differentiable).

    Example:
        >>> import chainrule as cr
        >>> cr.argmax(cr.tensor([[1.0, 9.0], [7.0, 2.0]]), axis=1)
        tensor([1, 0])
    """
    return Tensor._make(np.asarray(np.argmax(lift(x).data, axis=axis, keepdims=keepdims)))


def argmin(x: Tensor, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """Index of the minimum (not differentiable).

    Example:
        >>> import chainrule as cr
        >>> cr.argmin(cr.tensor([3.0, 1.0, 2.0])).item()
        1
    """
    return Tensor._make(np.asarray(np.argmin(lift(x).data, axis=axis, keepdims=keepdims)))


def logsumexp(x: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """log(sum(exp(x))) over ``axis``, computed without overflow.

    Example:
        >>> import chainrule as cr
        >>> cr.logsumexp(cr.tensor([1000.0, 1000.0], dtype='float64'))  # 1000 + log 2
        tensor(1000.6931, dtype=float64)
    """
    x = lift(x)
    return LogSumExp.apply(x, axes=normalize_axes(axis, x.ndim, "logsumexp"), keepdims=keepdims)


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along ``axis``, stable for large values.

    Example:
        >>> import chainrule as cr
        >>> cr.softmax(cr.tensor([1.0, 1.0, 1000.0]))
        tensor([0., 0., 1.])
    """
    x = _numbers(lift(x), "softmax")
    return Softmax.apply(x, axis=normalize_axes(axis, x.ndim, "softmax")[0])


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    """x - logsumexp(x) along ``axis``, stable for large values.

    Example:
        >>> import chainrule as cr
        >>> cr.log_softmax(cr.tensor([0.0, 0.0]))
        tensor([-0.6931, -0.6931])
    """
    x = _numbers(lift(x), "log_softmax")
    return LogSoftmax.apply(x, axis=normalize_axes(axis, x.ndim, "log_softmax")[0])


def _numbers(x: Tensor, op: str) -> Tensor:
    """``x``, unless it is boolean: the normalisations need numbers."""
    if x.dtype.kind == "b":
        raise TypeError(f"{op}: needs numbers, got a boolean tensor; convert it first (x.float())")
    return x
