"""Reductions over axes: sum, mean, var, std, max, min, argmax, logsumexp, softmax, log_softmax, prod,
norms; and the running sums and products (cumsum, cumprod)."""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from chainrule.autograd import Function, _mode, _stacklevel_outside, pure
from chainrule.interpreters import sum_axes
from chainrule.ops.elementwise import (
    abs as abs_,
    cast,
    lift,
    maximum,
    minimum,
    promote_operands,
    sqrt,
    where as where_,
)
from chainrule.ops.shape import axis_or_dim, normalize_axis, take_along
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


def torch_names(op: str, axis: Axis, dim: Axis, keepdims: bool | None, keepdim: bool | None) -> tuple[Axis, bool]:
    """``axis``/``keepdims`` (NumPy's names) or ``dim``/``keepdim`` (PyTorch's): one meaning, both
    spellings accepted, both at once refused."""
    axis = axis_or_dim(op, axis, dim)
    if keepdim is not None:
        if keepdims is not None:
            raise TypeError(
                f"{op}: got both keepdims= and keepdim=; they are NumPy's and PyTorch's names for one thing, give one"
            )
        keepdims = keepdim
    return axis, bool(keepdims)


class ValuesIndices(NamedTuple):
    """What ``max(x, dim)``, ``min(x, dim)``, ``sort`` and ``topk`` return, as PyTorch's named tuples do.

    Example:
        >>> import chainrule as cr
        >>> values, indices = cr.tensor([[1.0, 5.0], [7.0, 2.0]]).max(dim=1)
        >>> values, indices
        (tensor([5., 7.]), tensor([1, 0]))
    """

    values: Tensor
    indices: Tensor


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
        return sum_axes(a, axes, keepdims)

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
        m = _kept_output(ns, self, a.shape, self.axes)
        # the winners, a constant: where a is the extreme, or a is NaN where the extreme is (NaN wins, as
        # in torch.max: the gradient goes to it, where a == NaN alone would find no winner and divide by 0)
        winners = ns.cast(a == m, a.dtype) + ns.cast(a != a, a.dtype) * ns.cast(m != m, a.dtype)
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


def sum(
    x: Tensor,
    axis: Axis = None,
    keepdims: bool | None = None,
    *,
    dim: Axis = None,
    keepdim: bool | None = None,
    dtype: Any = None,
) -> Tensor:
    """Sum over ``axis`` (all axes by default); ``dtype=``: cast to it first (PyTorch's, NumPy's).

    Example:
        >>> import chainrule as cr
        >>> cr.sum(cr.tensor([[1.0, 2.0], [3.0, 4.0]]), axis=0)
        tensor([4., 6.])
        >>> cr.sum(cr.tensor([1, 2]), dtype=cr.float64)
        tensor(3., dtype=float64)
    """
    if dim is not None or keepdim is not None:
        axis, keepdims = torch_names("sum", axis, dim, keepdims, keepdim)
    x = _cast_first(lift(x), dtype)
    total = Sum.apply(x, axes=normalize_axes(axis, x.ndim, "sum"), keepdims=bool(keepdims))
    if dtype is not None and total.dtype != np.dtype(dtype):  # (NumPy sums small integers in int64)
        total = cast(total, np.dtype(dtype))
    return total


def _cast_first(x: Tensor, dtype: Any, op: str = "sum") -> Tensor:
    """``x`` cast to ``dtype`` (differentiably), or ``x`` when it is None or already of it; a mean
    of integers, or a gradient through integers, refused (as PyTorch)."""
    if dtype is None or np.dtype(dtype) == x.dtype:
        return x
    dtype = np.dtype(dtype)
    if dtype.kind != "f" and (op == "mean" or x._requires_grad):
        raise TypeError(
            f"{op}: dtype={dtype} " + ("is not a float" if op == "mean" else "would cut the gradient (not a float)")
        )
    return cast(x, dtype)


def _count(shape: tuple[int, ...], axes: tuple[int, ...]) -> int:
    n = 1
    for a in axes:
        n *= shape[a]
    return n


def mean(
    x: Tensor,
    axis: Axis = None,
    keepdims: bool | None = None,
    *,
    dim: Axis = None,
    keepdim: bool | None = None,
    dtype: Any = None,
) -> Tensor:
    """Arithmetic mean over ``axis``: sum / count; ``dtype=``: cast to it first.

    Example:
        >>> import chainrule as cr
        >>> cr.mean(cr.tensor([[1.0, 2.0], [3.0, 5.0]]), axis=1)
        tensor([1.5, 4. ])
    """
    axis, keepdims = torch_names("mean", axis, dim, keepdims, keepdim)
    x = _cast_first(lift(x), dtype, "mean")
    axes = normalize_axes(axis, x.ndim, "mean")
    n = _count(x.shape, axes)
    if n == 0:
        raise ValueError(f"mean: cannot average over an empty axis (shape {x.shape})")
    return sum(x, axes, keepdims) * (1.0 / n)


def var(
    x: Tensor,
    axis: Axis = None,
    keepdims: bool | None = None,
    ddof: int = 0,
    *,
    dim: Axis = None,
    keepdim: bool | None = None,
    unbiased: bool | None = None,
    correction: int | None = None,
) -> Tensor:
    """Variance over ``axis`` with ``ddof`` delta degrees of freedom (0: population, as NumPy).

    NumPy's default (ddof=0) holds even when PyTorch's names are used; PyTorch's ``unbiased=True``
    (ddof=1) and ``correction=`` are accepted and mean what they mean there.

    Example:
        >>> import chainrule as cr
        >>> cr.var(cr.tensor([1.0, 2.0, 3.0, 4.0])), cr.var(cr.tensor([1.0, 2.0, 3.0, 4.0]), ddof=1)
        (tensor(1.25), tensor(1.6667))
    """
    axis, keepdims = torch_names("var", axis, dim, keepdims, keepdim)
    ddof = _ddof("var", ddof, unbiased, correction)
    x = lift(x)
    axes = normalize_axes(axis, x.ndim, "var")
    n = _count(x.shape, axes)
    if n - ddof <= 0:
        raise ValueError(f"var: {n} values over axis {axis} leave no degrees of freedom with ddof={ddof}")
    centered = x - mean(x, axes, keepdims=True)
    return sum(centered * centered, axes, keepdims) * (1.0 / (n - ddof))


def std(
    x: Tensor,
    axis: Axis = None,
    keepdims: bool | None = None,
    ddof: int = 0,
    *,
    dim: Axis = None,
    keepdim: bool | None = None,
    unbiased: bool | None = None,
    correction: int | None = None,
) -> Tensor:
    """Standard deviation, sqrt(var) (ddof=0 by default, as NumPy; see ``var``).

    Example:
        >>> import chainrule as cr
        >>> cr.std(cr.tensor([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]))
        tensor(2.)
    """
    axis, keepdims = torch_names("std", axis, dim, keepdims, keepdim)
    return sqrt(var(x, axis, keepdims, _ddof("std", ddof, unbiased, correction)))


def _ddof(op: str, ddof: int, unbiased: bool | None, correction: int | None) -> int:
    given = [name for name, v in (("unbiased", unbiased), ("correction", correction)) if v is not None]
    if ddof != 0:
        given.insert(0, "ddof")
    if len(given) > 1:
        raise TypeError(f"{op}: got {' and '.join(given)}; they all set the degrees of freedom, give one")
    if unbiased is not None:
        return 1 if unbiased else 0
    return int(correction) if correction is not None else ddof


def max(
    x: Tensor, dim: Axis | Tensor = None, keepdim: bool = False, *, axis: Axis = None, keepdims: bool | None = None
) -> Tensor | ValuesIndices:
    """Maximum over ``axis`` (all axes by default); tied maxima share the gradient evenly.

    NumPy's form, ``max(x, axis=...)``, gives the values. PyTorch's, ``max(x, dim)`` with one
    dimension (positional or ``dim=``), gives the named tuple ``(values, indices)``; ``max(x, y)``
    with a tensor ``y`` is the elementwise ``maximum``.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([1.0, 3.0, 3.0], requires_grad=True)
        >>> cr.max(x).backward()
        >>> x.grad
        tensor([0. , 0.5, 0.5])
        >>> cr.max(cr.tensor([[1.0, 5.0], [7.0, 2.0]]), 1).indices
        tensor([1, 0])
    """
    return _extreme("max", x, dim, keepdim, axis, keepdims)


def min(
    x: Tensor, dim: Axis | Tensor = None, keepdim: bool = False, *, axis: Axis = None, keepdims: bool | None = None
) -> Tensor | ValuesIndices:
    """Minimum over ``axis``; tied minima share the gradient evenly. The forms of ``max`` hold.

    Example:
        >>> import chainrule as cr
        >>> cr.min(cr.tensor([[4.0, 1.0], [2.0, 3.0]]), axis=0)
        tensor([2., 1.])
        >>> cr.min(cr.tensor([[4.0, 1.0], [2.0, 3.0]]), dim=0)
        ValuesIndices(values=tensor([2., 1.]), indices=tensor([1, 0]))
    """
    return _extreme("min", x, dim, keepdim, axis, keepdims)


def _extreme(op: str, x: Tensor, dim, keepdim: bool, axis: Axis, keepdims: bool | None):
    if isinstance(dim, (Tensor, np.ndarray)):  # PyTorch's max(a, b): elementwise
        if axis is not None or keepdims is not None or keepdim:
            raise TypeError(f"{op}: with a tensor as second argument it is elementwise ({op}imum); no axis")
        return (maximum if op == "max" else minimum)(x, dim)
    x = lift(x)
    find_min = op == "min"
    if dim is not None and axis is None and keepdims is None and isinstance(dim, (int, np.integer)):
        # PyTorch's form: values and indices along one dimension
        values = Max.apply(x, axes=normalize_axes(dim, x.ndim, op), keepdims=keepdim, find_min=find_min)
        indices = pure(_arg, x, pick=np.argmin if find_min else np.argmax, axis=dim, keepdims=keepdim)
        return ValuesIndices(values, indices)
    axis, keepdims = torch_names(op, axis, dim, keepdims, keepdim or None)
    return Max.apply(x, axes=normalize_axes(axis, x.ndim, op), keepdims=keepdims, find_min=find_min)


def amax(x: Tensor, dim: Axis = None, keepdim: bool = False) -> Tensor:
    """The largest value over ``dim`` (all dimensions by default; several may be named), the values
    only, as PyTorch's; tied maxima share the gradient evenly (as PyTorch's ``amax`` does).

    Example:
        >>> import chainrule as cr
        >>> cr.amax(cr.tensor([[4.0, 1.0], [2.0, 3.0]]), dim=1)
        tensor([4., 3.])
    """
    return _extreme_values("amax", x, dim, keepdim)


def amin(x: Tensor, dim: Axis = None, keepdim: bool = False) -> Tensor:
    """The smallest value over ``dim``, the values only; see :func:`amax`.

    Example:
        >>> import chainrule as cr
        >>> cr.amin(cr.tensor([[4.0, 1.0], [2.0, 3.0]]), dim=0)
        tensor([2., 1.])
    """
    return _extreme_values("amin", x, dim, keepdim)


def _extreme_values(op: str, x: Tensor, dim: Axis, keepdim: bool) -> Tensor:
    """amax or amin: the Max rule over ``dim`` (one dimension, several, or all: None or (), as PyTorch)."""
    x = lift(x)
    if dim is not None and not isinstance(dim, numbers.Integral) and len(dim) == 0:
        dim = None
    return Max.apply(x, axes=normalize_axes(dim, x.ndim, op), keepdims=bool(keepdim), find_min=op == "amin")


def argsort(x: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    """The indices that sort ``x`` along ``dim`` (not differentiable); ties keep their order.

    Example:
        >>> import chainrule as cr
        >>> cr.argsort(cr.tensor([3.0, 1.0, 2.0]))
        tensor([1, 2, 0])
    """
    return sort(x, dim, descending, stable).indices


def argmax(
    x: Tensor,
    axis: int | None = None,
    keepdims: bool | None = None,
    *,
    dim: int | None = None,
    keepdim: bool | None = None,
) -> Tensor:
    """Index of the maximum (not differentiable).

    Example:
        >>> import chainrule as cr
        >>> cr.argmax(cr.tensor([[1.0, 9.0], [7.0, 2.0]]), axis=1)
        tensor([1, 0])
    """
    axis, keepdims = torch_names("argmax", axis, dim, keepdims, keepdim)
    return pure(_arg, lift(x), pick=np.argmax, axis=axis, keepdims=keepdims)


def argmin(
    x: Tensor,
    axis: int | None = None,
    keepdims: bool | None = None,
    *,
    dim: int | None = None,
    keepdim: bool | None = None,
) -> Tensor:
    """Index of the minimum (not differentiable).

    Example:
        >>> import chainrule as cr
        >>> cr.argmin(cr.tensor([3.0, 1.0, 2.0])).item()
        1
    """
    axis, keepdims = torch_names("argmin", axis, dim, keepdims, keepdim)
    return pure(_arg, lift(x), pick=np.argmin, axis=axis, keepdims=keepdims)


def logsumexp(
    x: Tensor, axis: Axis = None, keepdims: bool | None = None, *, dim: Axis = None, keepdim: bool | None = None
) -> Tensor:
    """log(sum(exp(x))) over ``axis``, computed without overflow.

    Example:
        >>> import chainrule as cr
        >>> cr.logsumexp(cr.tensor([1000.0, 1000.0], dtype='float64'))  # 1000 + log 2
        tensor(1000.6931, dtype=float64)
    """
    axis, keepdims = torch_names("logsumexp", axis, dim, keepdims, keepdim)
    x = lift(x)
    return LogSumExp.apply(x, axes=normalize_axes(axis, x.ndim, "logsumexp"), keepdims=keepdims)


def softmax(input: Tensor, axis: int | None = None, *, dim: int | None = None, dtype: Any = None) -> Tensor:
    """exp(x) / sum(exp(x)) along ``axis``, stable for large values; ``dtype=``: cast to it first (PyTorch's).

    Example:
        >>> import chainrule as cr
        >>> cr.softmax(cr.tensor([1.0, 1.0, 1000.0]))
        tensor([0., 0., 1.])
        >>> cr.softmax(cr.tensor([0.0, 0.0]), dim=0, dtype=cr.float64)
        tensor([0.5, 0.5], dtype=float64)
    """
    axis, _ = torch_names("softmax", axis, dim, None, None)
    x = _numbers(_float_first(lift(input), dtype, "softmax"), "softmax")
    return Softmax.apply(x, axis=normalize_axes(_implicit_axis("softmax", axis, x.ndim), x.ndim, "softmax")[0])


def log_softmax(input: Tensor, axis: int | None = None, *, dim: int | None = None, dtype: Any = None) -> Tensor:
    """x - logsumexp(x) along ``axis``, stable for large values; ``dtype=``: cast to it first (PyTorch's).

    Example:
        >>> import chainrule as cr
        >>> cr.log_softmax(cr.tensor([0.0, 0.0]))
        tensor([-0.6931, -0.6931])
        >>> cr.log_softmax(cr.tensor([0.0, 0.0]), dim=0, dtype=cr.float64).dtype
        dtype('float64')
    """
    axis, _ = torch_names("log_softmax", axis, dim, None, None)
    x = _numbers(_float_first(lift(input), dtype, "log_softmax"), "log_softmax")
    axis = _implicit_axis("log_softmax", axis, x.ndim)
    return LogSoftmax.apply(x, axis=normalize_axes(axis, x.ndim, "log_softmax")[0])


def _implicit_axis(op: str, axis: int | None, ndim: int) -> int:
    """The axis a softmax without one normalises: the last for up to 2 dimensions (PyTorch's
    choice too); for more, PyTorch's (deprecated) implicit choice, 0 for 3 dimensions and 1 (the
    channels) for 4 or more, with PyTorch's warning, so that its code gives its results."""
    if axis is not None:
        return axis
    if ndim <= 2:
        return -1
    chosen = 0 if ndim == 3 else 1
    warnings.warn(
        f"{op}: no dim given for a {ndim}-d input, so dim={chosen} is used, PyTorch's implicit (deprecated) "
        f"choice; pass dim= (dim=-1 for the last axis)",
        UserWarning,
        stacklevel=_stacklevel_outside("chainrule."),
    )
    return chosen


def _float_first(x: Tensor, dtype: Any, op: str) -> Tensor:
    """``x`` cast to the float ``dtype`` before a normalisation (PyTorch's ``dtype=``); None: ``x``."""
    if dtype is not None and np.dtype(dtype).kind != "f":
        raise TypeError(f"{op}: dtype={np.dtype(dtype)} is not a float dtype; give a float one (e.g. cr.float64)")
    return _cast_first(x, dtype, op)


def _numbers(x: Tensor, op: str) -> Tensor:
    """``x``, unless it is boolean: the normalisations need numbers."""
    if x.dtype.kind == "b":
        raise TypeError(f"{op}: needs numbers, got a boolean tensor; convert it first (x.float())")
    return x


def sort(
    x: Tensor, dim: int = -1, descending: bool = False, stable: bool = False, *, axis: int | None = None
) -> ValuesIndices:
    """Sort along ``dim`` (the last by default): the named tuple ``(values, indices)``, as in PyTorch.

    The values are differentiable (the gradient goes back to where each value came from). Ties keep
    their order (a stable sort) whatever ``stable`` says.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([3.0, 1.0, 2.0], requires_grad=True)
        >>> values, indices = cr.sort(x, descending=True)
        >>> values, indices
        (tensor([3., 2., 1.], grad_fn=<IndexBackward0>), tensor([0, 2, 1]))
        >>> (values * cr.tensor([1.0, 10.0, 100.0])).sum().backward()
        >>> x.grad
        tensor([  1., 100.,  10.])
    """
    x = lift(x)
    if axis is not None:
        dim = axis_or_dim("sort", axis, None if dim == -1 else dim)
    if x.ndim == 0:
        return ValuesIndices(x, Tensor._make(np.zeros((), dtype=np.int64)))
    axis = normalize_axis(dim, x.ndim, "sort")
    order = pure(_order, x, axis=axis, descending=descending)
    return ValuesIndices(take_along(x, order._data, axis), order)


def _arg(a: np.ndarray, pick: Callable, axis: Any, keepdims: Any) -> np.ndarray:
    """``pick`` (np.argmax or np.argmin) of ``a`` as an array (NumPy gives a scalar for a whole array)."""
    return np.asarray(pick(a, axis=axis, keepdims=keepdims))


def _top(a: np.ndarray, k: int, axis: int, largest: bool) -> np.ndarray:
    """The indices of the ``k`` largest (or smallest) values along ``axis``, in order."""
    return np.take(_order(a, axis, largest), np.arange(k), axis=axis)


def _order(a: np.ndarray, axis: int, descending: bool) -> np.ndarray:
    """The indices that sort ``a`` along ``axis`` (stably, ascending unless ``descending``)."""
    if not descending:
        return np.argsort(a, axis=axis, kind="stable")
    # descending, ties in their order, NaN first (the largest, as PyTorch): the ascending order of the
    # reversed array, reversed, with the positions counted back (no negation: it would keep NaN last,
    # reverse booleans' and unsigned numbers' ties, and overflow the smallest integer)
    n = a.shape[axis]
    return (n - 1) - np.flip(np.argsort(np.flip(a, axis=axis), axis=axis, kind="stable"), axis=axis)


def topk(
    x: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True, *, axis: int | None = None
) -> ValuesIndices:
    """The ``k`` largest (or smallest) values along ``dim`` and their indices, as in PyTorch.

    Example:
        >>> import chainrule as cr
        >>> cr.topk(cr.tensor([[1.0, 5.0, 3.0], [9.0, 2.0, 4.0]]), 2)
        ValuesIndices(values=tensor([[5., 3.],
                [9., 4.]]), indices=tensor([[1, 2],
                [0, 2]]))
    """
    x = lift(x)
    if axis is not None:
        dim = axis_or_dim("topk", axis, None if dim == -1 else dim)
    if x.ndim == 0:
        raise ValueError("topk: needs a tensor with at least one dimension")
    axis = normalize_axis(dim, x.ndim, "topk")
    n = x.shape[axis]
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or not 0 <= k <= n:
        raise ValueError(f"topk: k must be an integer from 0 to {n} (the length of dim {axis}), got {k!r}")
    picked = pure(_top, x, k=k, axis=axis, largest=largest)  # no graph node for the rest
    return ValuesIndices(take_along(x, picked._data, axis), picked)


# ------------------------------------------------------------------ cumulative sums and products


def _reversed(x, axis: int):
    """``x`` in reverse order along ``axis`` (a basic index: any interpreter)."""
    return x[(slice(None),) * axis + (slice(None, None, -1),)]


def _reverse_cumsum(ns, x, axis: int):
    """The sums from each position to the end along ``axis``: the adjoint of ``cumsum``."""
    return _reversed(ns.cumsum(_reversed(x, axis), axis), axis)


class Cumsum(Function):
    def forward(self, a: np.ndarray, axis: int) -> np.ndarray:
        self.axis = axis
        return np.cumsum(a, axis=axis, dtype=a.dtype)

    def backward(self, ns, grad, a):
        return _reverse_cumsum(ns, grad, self.axis)


class Cumprod(Function):
    """cumprod along an axis; the gradient is exact where the input has zeros.

    d out[j] / d x[k] is the product of x[:j+1] without x[k]. Before the first zero of a slice that
    is out[j] / x[k]; at the first zero it is the product of what precedes it times the products
    after it; after it, 0 (the first zero is among the factors). The masks of these three parts are
    made from the data in the forward (constants of the rule).
    """

    save_output = True

    def forward(self, a: np.ndarray, axis: int) -> np.ndarray:
        self.axis = axis
        zeros = np.cumsum(a == 0, axis=axis)
        self.before = zeros == 0  # before the first zero of the slice (all of a slice without zeros)
        self.first = (zeros == 1) & (a == 0)
        self.after = ~(self.before | self.first)
        return np.cumprod(a, axis=axis, dtype=a.dtype)

    def backward(self, ns, grad, a):
        axis = self.axis
        before, first, after = (ns.saved(self, name) for name in ("before", "first", "after"))
        safe = ns.where(before, a, 1.0)
        g = ns.where(before, _reverse_cumsum(ns, grad * ns.output(self), axis) / safe, 0.0)
        preceding = ns.cumprod(safe, axis)  # at the first zero: the product of what precedes it
        following = ns.cumprod(ns.where(after, a, 1.0), axis)  # from the first zero on: the products after it
        return g + ns.where(first, preceding * _reverse_cumsum(ns, grad * following, axis), 0.0)


def _scan_input(op: str, x: Any, dim: int, dtype: Any) -> tuple[Tensor, int]:
    """The input of cumsum/cumprod/prod cast as PyTorch's: to ``dtype`` when given, integers and
    booleans to int64; and ``dim`` as a non-negative axis (a 0-d tensor has axis 0 or -1)."""
    x = lift(x)
    if dtype is not None:
        x = _cast_first(x, dtype, op)
    elif x.dtype.kind in "biu":
        x = cast(x, np.dtype(np.int64))
    if not isinstance(dim, numbers.Integral) or isinstance(dim, bool):
        raise TypeError(f"{op}: dim must be one integer, got {dim!r}")
    axis = normalize_axis(dim, x.ndim or 1, op)
    return x, axis


def cumsum(x: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """The running sums along ``dim``, as PyTorch's (integers and booleans give int64; ``dtype=``:
    cast first).

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
        >>> y = cr.cumsum(x, dim=0)
        >>> y
        tensor([1., 3., 6.], grad_fn=<CumsumBackward0>)
        >>> y.sum().backward()
        >>> x.grad
        tensor([3., 2., 1.])
    """
    x, axis = _scan_input("cumsum", x, dim, dtype)
    if x.ndim == 0:
        return x * 1
    return Cumsum.apply(x, axis=axis)


def cumprod(x: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """The running products along ``dim``, as PyTorch's; the gradient is exact with zeros in ``x``.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([2.0, 0.0, 3.0], requires_grad=True)
        >>> y = cr.cumprod(x, dim=0)
        >>> y
        tensor([2., 0., 0.], grad_fn=<CumprodBackward0>)
        >>> y.sum().backward()
        >>> x.grad
        tensor([1., 8., 0.])
    """
    x, axis = _scan_input("cumprod", x, dim, dtype)
    if x.ndim == 0:
        return x * 1
    return Cumprod.apply(x, axis=axis)


def prod(x: Tensor, dim: int | None = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """The product of all entries, or along one ``dim``, as PyTorch's (integers and booleans give
    int64); the gradient is exact with zeros in ``x`` (the last running product of ``cumprod``).

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([[2.0, 3.0], [0.0, 4.0]], requires_grad=True)
        >>> cr.prod(x, dim=1)
        tensor([6., 0.], grad_fn=<IndexBackward0>)
        >>> cr.prod(x).backward()
        >>> x.grad
        tensor([[ 0.,  0.],
                [24.,  0.]])
    """
    x, axis = _scan_input("prod", x, -1 if dim is None else dim, dtype)
    if dim is None:
        if keepdim:
            raise TypeError("prod: keepdim=True needs a dim (PyTorch's prod(input, dtype=None) has no keepdim)")
        x, axis = x.reshape(-1), 0
    elif x.ndim == 0:
        return x * 1
    if x.shape[axis] == 0:
        shape = _kept_shape(x.shape, (axis,)) if keepdim else tuple(n for i, n in enumerate(x.shape) if i != axis)
        return sum(x, axis, keepdim) * 0 + Tensor._make(np.ones(shape, dtype=x.dtype))
    last = (slice(None),) * axis + (slice(-1, None) if keepdim else -1,)
    return cumprod(x, axis)[last]


# ------------------------------------------------------------------ norms


def vector_norm(x: Tensor, ord: float = 2, dim: Axis = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """The ``ord``-norm of ``x`` over ``dim`` (all dimensions by default), as PyTorch's
    ``linalg.vector_norm``: ``sum(|x|**ord) ** (1/ord)``; ``inf``: the largest ``|x|``, ``-inf``:
    the smallest, ``0``: the count of nonzeros. At a zero norm the gradient is 0 (the subgradient
    PyTorch gives), not NaN.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([[3.0, 4.0], [0.0, 0.0]], requires_grad=True)
        >>> n = cr.linalg.vector_norm(x, dim=1)
        >>> n
        tensor([5., 0.], grad_fn=<WhereBackward0>)
        >>> n.sum().backward()
        >>> x.grad
        tensor([[0.6, 0.8],
                [0. , 0. ]])
    """
    x = lift(x)
    if x.dtype.kind != "f" and dtype is None:
        raise TypeError(
            f"vector_norm: expected a floating point tensor as input, got {x.dtype}; convert it (x.float())"
        )
    x = _cast_first(x, dtype, "vector_norm")
    if isinstance(ord, str) or isinstance(ord, bool) or not isinstance(ord, numbers.Real):
        raise TypeError(f"vector_norm: ord must be a number (2, 1, inf, ...), got {ord!r}; matrix norms: matrix_norm")
    if dim is not None and not isinstance(dim, numbers.Integral) and len(dim) == 0:
        dim = None
    axes = normalize_axes(dim, x.ndim, "vector_norm")
    keepdim = bool(keepdim)
    if ord == np.inf or ord == -np.inf:
        if x.size == 0:
            raise ValueError(f"vector_norm: ord={ord} of an empty tensor has no value")
        return Max.apply(abs_(x), axes=axes, keepdims=keepdim, find_min=ord < 0)
    if ord == 0:
        return sum(where_(x != 0, 1.0, x * 0), axes, keepdim)  # (a count: gradient 0, NaN counted)
    if ord == 1:
        return sum(abs_(x), axes, keepdim)
    if ord == 2:
        total = sum(x * x, axes, keepdim)
    else:  # |x| ** ord with 0 ** ord taken apart: its derivative is infinite for ord < 1 (0 * inf: NaN)
        size = abs_(x)
        nonzero = size != 0
        powered = where_(nonzero, where_(nonzero, size, 1.0) ** float(ord), 0.0 if ord > 0 else np.inf)
        total = sum(powered, axes, keepdim)
    zero = total == 0
    safe = where_(zero, 1.0, total)  # (a root's derivative at 0 is infinite: the gradient there is 0, as PyTorch's)
    return where_(zero, 0.0, sqrt(safe) if ord == 2 else safe ** (1.0 / ord))


def norm(
    x: Tensor, p: float | str | None = "fro", dim: Axis = None, keepdim: bool = False, dtype: Any = None
) -> Tensor:
    """PyTorch's ``torch.norm``: a vector norm of ``x`` over ``dim`` (all dimensions by default).

    ``p='fro'`` (the default) is the 2-norm over ``dim`` (at most two dimensions); a number (2, 1,
    ``inf``, ``-inf``, 0, ...) is :func:`vector_norm` of that order. ``p='nuc'`` (needs an SVD) is
    not supported. The gradient at a zero norm is 0, as PyTorch's.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([[3.0, -4.0], [1.0, 2.0]])
        >>> cr.norm(x[0]), x.norm(dim=1, keepdim=True).shape, x.norm(p=float("inf"))
        (tensor(5.), (2, 1), tensor(4.))
    """
    if isinstance(p, str):
        if p == "nuc":
            raise NotImplementedError("norm: p='nuc' (the nuclear norm) needs an SVD, which chainrule does not have")
        if p != "fro":
            raise ValueError(f"norm: p must be 'fro', 'nuc' or a number, got {p!r}")
        if dim is not None and not isinstance(dim, numbers.Integral) and len(dim) > 2:
            raise ValueError(f"norm: p='fro' is over at most 2 dimensions, got dim={dim}; use p=2 for more")
        p = 2
    return vector_norm(x, 2 if p is None else p, dim, keepdim, dtype=dtype)


# ------------------------------------------------------------------ tests over entries (no gradient)


def _any_all(op: str, x: Any, dim: Axis, keepdim: bool, axis: Axis, keepdims: bool | None) -> Tensor:
    x = lift(x)
    dim = axis_or_dim(op, axis, dim)
    keep = bool(keepdim if keepdims is None else keepdims)
    if dim is not None and not isinstance(dim, numbers.Integral) and len(dim) == 0:
        dim = None
    axes = None if dim is None else normalize_axes(dim, x.ndim or 1, op)
    if x.ndim == 0:
        axes = None
    out = pure(_test_entries, x, which=op, axes=axes, keepdims=keep)
    return out


def _test_entries(a: np.ndarray, which: str, axes: tuple[int, ...] | None, keepdims: bool) -> np.ndarray:
    found = (np.any if which == "any" else np.all)(a, axis=axes, keepdims=keepdims and a.ndim > 0)
    return np.asarray(found, dtype=np.uint8 if a.dtype == np.uint8 else bool)  # (PyTorch keeps uint8)


def any(
    input: Any, dim: Axis = None, keepdim: bool = False, *, axis: Axis = None, keepdims: bool | None = None
) -> Tensor:
    """Whether any entry is nonzero (true), over all entries or over ``dim`` (an int or a tuple),
    as PyTorch's: a boolean tensor (uint8 for uint8 input); no gradient.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([[0.0, 1.0], [0.0, 0.0]])
        >>> cr.any(x), x.any(dim=1), x.any(1, keepdim=True).shape
        (tensor(True), tensor([ True, False]), (2, 1))
    """
    return _any_all("any", input, dim, keepdim, axis, keepdims)


def all(
    input: Any, dim: Axis = None, keepdim: bool = False, *, axis: Axis = None, keepdims: bool | None = None
) -> Tensor:
    """Whether every entry is nonzero (true), over all entries or over ``dim``, as PyTorch's; no gradient.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([[1.0, 1.0], [0.0, 1.0]])
        >>> cr.all(x), x.all(dim=0)
        (tensor(False), tensor([False,  True]))
    """
    return _any_all("all", input, dim, keepdim, axis, keepdims)


def _nonzero_count(a: np.ndarray, axes: tuple[int, ...] | None) -> np.ndarray:
    return np.asarray(np.count_nonzero(a, axis=axes), dtype=np.int64)


def count_nonzero(input: Any, dim: Axis = None) -> Tensor:
    """The number of nonzero entries, in all or along ``dim`` (an int or a tuple): int64, as PyTorch's.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([[0.0, 2.0, 3.0], [0.0, 0.0, 1.0]])
        >>> cr.count_nonzero(x), x.count_nonzero(dim=1)
        (tensor(3), tensor([2, 1]))
    """
    x = lift(input)
    axes = None if dim is None or x.ndim == 0 else normalize_axes(dim, x.ndim, "count_nonzero")
    return pure(_nonzero_count, x, axes=axes)


def isclose(input: Any, other: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Tensor:
    """Where ``|input - other| <= atol + rtol * |other|`` (equal infinities close; NaN close to NaN
    only with ``equal_nan``), as PyTorch's: a boolean tensor.

    Example:
        >>> import chainrule as cr
        >>> cr.isclose(cr.tensor([1.0, 1.0, float("nan")]), cr.tensor([1.0 + 1e-7, 1.1, float("nan")]))
        tensor([ True, False, False])
    """
    a, b = promote_operands(input, other)
    if rtol < 0 or atol < 0:
        raise ValueError(f"isclose: rtol and atol must be non-negative, got rtol={rtol}, atol={atol}")
    return pure(np.isclose, a, b, rtol=rtol, atol=atol, equal_nan=bool(equal_nan))


def allclose(input: Any, other: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
    """Whether every entry of ``input`` is close to ``other``'s (see :func:`isclose`): a Python bool.

    Example:
        >>> import chainrule as cr
        >>> cr.allclose(cr.tensor([1.0, 2.0]), cr.tensor([1.0, 2.0 + 1e-6]))
        True
    """
    close = isclose(input, other, rtol, atol, equal_nan)
    if _mode.recorder is not None:
        _mode.recorder.read("allclose")
    return bool(np.all(close._data))


def equal(input: Any, other: Any) -> bool:
    """Whether the two tensors have the same shape and the same values (NaN equals nothing): a Python bool.

    Example:
        >>> import chainrule as cr
        >>> cr.equal(cr.tensor([1.0, 2.0]), cr.tensor([1.0, 2.0])), cr.equal(cr.ones(2), cr.ones(1))
        (True, False)
    """
    a, b = lift(input), lift(other)
    if _mode.recorder is not None:
        _mode.recorder.read("equal")
    return a.shape == b.shape and bool(np.array_equal(a._data, b._data))
