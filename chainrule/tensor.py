"""Tensor: an ndarray, its gradient, and the node of the computational graph that made it.

A tensor made by an operation on tensors that require grad keeps a reference to that operation's
node (``grad_fn``); the node keeps its inputs. ``backward()`` walks those references in reverse
topological order and applies the chain rule (see ``chainrule.autograd``).

The arithmetic operators and methods defined here are thin: each one calls a differentiable
function from ``chainrule.ops``.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

DEFAULT_DTYPE = np.dtype(np.float32)

ArrayLike = Any
"""Anything ``np.asarray`` accepts, or a Tensor."""


_KINDS = {"O": "Python objects", "U": "strings", "S": "bytes", "c": "complex numbers", "M": "dates", "m": "time spans"}
"""Array kinds a tensor cannot hold, as an error names them."""


def _convert_data(data: ArrayLike, dtype: Any = None) -> np.ndarray:
    """Turn user data into an ndarray with chainrule's dtype rules.

    Python floats and lists of them become float32 (the default); NumPy float64 arrays keep
    float64; integers and booleans keep their kind; ``dtype`` overrides everything. Anything that
    is not real numbers (strings, None, objects, complex numbers, dates) is refused here, with a
    TypeError that says what it was, rather than failing later inside NumPy.
    """
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        dtype = np.dtype(dtype)
        if dtype.kind not in "biuf":
            raise TypeError(f"tensor: dtype {dtype} is not supported; chainrule tensors hold bool, int or float")
        try:
            return np.array(data, dtype=dtype, copy=None)
        except (TypeError, ValueError) as error:
            raise TypeError(f"tensor: cannot make a {dtype} tensor from {_describe(data)}: {error}") from None
    if isinstance(data, np.ndarray):
        array = data
    elif isinstance(data, np.generic):
        array = np.asarray(data)
    else:
        try:
            array = np.asarray(data)
        except ValueError as error:  # ragged nested lists
            raise TypeError(f"tensor: cannot make a tensor from {_describe(data)}: {error}") from None
        if array.dtype.kind == "f":  # Python floats arrive as float64: default to float32
            return array.astype(DEFAULT_DTYPE)
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"tensor: chainrule tensors hold real numbers (bool, int, float), got {_describe(data)} "
            f"of dtype {array.dtype} ({_KINDS.get(array.dtype.kind, 'not numbers')})"
        )
    return array


def _describe(data: Any) -> str:
    """A short name for user data in an error: its type, and its value when it is short."""
    text = " ".join(repr(data).split())  # one line
    return f"{type(data).__name__} {text}" if len(text) <= 40 else f"{type(data).__name__} data"


class Tensor:
    """A multi-dimensional array that records the operations made on it.

    Args:
        data: an array, nested list, number or Tensor.
        dtype: the NumPy dtype; floating data defaults to float32, float64 arrays stay float64.
        requires_grad: record operations on this tensor so ``backward()`` can compute its gradient.
            Only floating tensors can require grad.
        name: a label shown when the graph is drawn (``chainrule.viz.draw_graph``).

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
        >>> y = (x * x).sum()
        >>> y.backward()
        >>> x.grad
        tensor([2., 4., 6.])
    """

    __slots__ = ("data", "grad", "_requires_grad", "grad_fn", "name", "_retains_grad", "__weakref__")
    __array_priority__ = 1000  # so ndarray + Tensor calls Tensor.__radd__

    def __init__(self, data: ArrayLike, dtype: Any = None, requires_grad: bool = False, name: str | None = None):
        array = _convert_data(data, dtype)
        if requires_grad:
            _check_can_require_grad(array.dtype)
        self.data: np.ndarray = array
        self.grad: Tensor | None = None
        self._requires_grad = bool(requires_grad)
        self.grad_fn = None
        self.name = name
        self._retains_grad = False

    @classmethod
    def _make(cls, data: np.ndarray, requires_grad: bool = False, grad_fn: Any = None) -> Tensor:
        """Wrap an ndarray without any conversion or checks (the fast path used by ops)."""
        if data.__class__ is not np.ndarray:  # NumPy gives scalars, not 0-d arrays, for 0-d results
            data = np.asarray(data)
        t = object.__new__(cls)
        t.data = data
        t.grad = None
        t._requires_grad = requires_grad
        t.grad_fn = grad_fn
        t.name = None
        t._retains_grad = False
        return t

    # ---------------------------------------------------------------- attributes
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        self.requires_grad_(value)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set whether this leaf tensor records operations; returns self."""
        if self.grad_fn is not None and not requires_grad:
            raise RuntimeError(
                "requires_grad_: this tensor was made by an operation; use .detach() to get one "
                "that does not require grad"
            )
        if requires_grad:
            _check_can_require_grad(self.data.dtype)
        self._requires_grad = bool(requires_grad)
        return self

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user rather than by an operation."""
        return self.grad_fn is None

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def T(self) -> Tensor:
        """The tensor with its axes reversed."""
        return _ops.transpose(self)

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def numel(self) -> int:
        return self.data.size

    def dim(self) -> int:
        return self.data.ndim

    # ---------------------------------------------------------------- conversion
    def item(self) -> float | int | bool:
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item: only a one-element tensor can be converted, got shape {self.shape}")
        return self.data.item()

    def numpy(self) -> np.ndarray:
        """The underlying ndarray, shared, not copied: writing to it changes the tensor, and
        autograd cannot see such a write (a graph that used the tensor would then compute a wrong
        gradient). Write with ``t[...] = value`` (under ``cr.no_grad()`` for a tensor that requires
        grad), which ``backward`` checks, or copy first (``t.numpy().copy()``)."""
        return self.data

    def tolist(self) -> Any:
        return self.data.tolist()

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        """NumPy's conversion protocol: ``np.asarray(t)`` shares the data, ``np.array(t)`` copies it."""
        if self._requires_grad and _autograd._mode.recording_rule:
            raise RuntimeError(
                "a gradient rule called a NumPy function on a Tensor that requires grad while the "
                "backward is recorded (create_graph=True): gradients of gradients through it would "
                "be wrong. Write rules with Python's operators and the interpreter's primitives "
                "(ns.exp, ns.sum, ns.reshape, ...); see chainrule.Function"
            )
        if dtype is not None and np.dtype(dtype) != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(
                f"the truth value of a tensor with {self.data.size} elements is ambiguous; use .any() or .all()"
            )
        return bool(self.data)

    def detach(self) -> Tensor:
        """A tensor sharing this one's data but cut off from the graph."""
        return Tensor._make(self.data)

    def clone(self) -> Tensor:
        """A differentiable copy with its own memory."""
        return _ops.clone(self)

    def astype(self, dtype: Any) -> Tensor:
        """A differentiable cast to another floating dtype (or a plain cast for other kinds)."""
        return _ops.cast(self, dtype)

    def float(self) -> Tensor:
        return self.astype(np.float32)

    def double(self) -> Tensor:
        return self.astype(np.float64)

    def retain_grad(self) -> Tensor:
        """Keep this non-leaf tensor's gradient in ``.grad`` after ``backward()`` (for inspection)."""
        if not self._requires_grad:
            raise RuntimeError("retain_grad: this tensor does not require grad")
        self._retains_grad = True
        return self

    def zero_grad(self) -> None:
        self.grad = None

    # ---------------------------------------------------------------- autograd
    def backward(
        self, gradient: ArrayLike | None = None, retain_graph: bool = False, create_graph: bool = False
    ) -> None:
        """Compute the gradient of this tensor with respect to every leaf that requires grad.

        Gradients accumulate into the leaves' ``.grad``. The graph is freed afterwards unless
        ``retain_graph=True``; ``create_graph=True`` records the backward pass itself so that
        gradients of gradients can be taken.
        """
        _autograd.backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph)

    # ---------------------------------------------------------------- repr
    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(", precision=4)
        extras = []
        if self.data.dtype != DEFAULT_DTYPE and self.data.dtype.kind == "f" or self.data.dtype.kind not in "fib":
            extras.append(f"dtype={self.data.dtype}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{type(self.grad_fn).__name__}>")
        elif self._requires_grad:
            extras.append("requires_grad=True")
        if self.name:
            extras.append(f"name={self.name!r}")
        tail = "".join(", " + e for e in extras)
        return f"tensor({body}{tail})"

    __hash__ = object.__hash__

    # ---------------------------------------------------------------- operators
    def __add__(self, other: ArrayLike) -> Tensor:
        return _ops.add(self, other)

    def __radd__(self, other: ArrayLike) -> Tensor:
        return _ops.add(other, self)

    def __sub__(self, other: ArrayLike) -> Tensor:
        return _ops.sub(self, other)

    def __rsub__(self, other: ArrayLike) -> Tensor:
        return _ops.sub(other, self)

    def __mul__(self, other: ArrayLike) -> Tensor:
        return _ops.mul(self, other)

    def __rmul__(self, other: ArrayLike) -> Tensor:
        return _ops.mul(other, self)

    def __truediv__(self, other: ArrayLike) -> Tensor:
        return _ops.div(self, other)

    def __rtruediv__(self, other: ArrayLike) -> Tensor:
        return _ops.div(other, self)

    def __pow__(self, other: ArrayLike) -> Tensor:
        return _ops.pow(self, other)

    def __rpow__(self, other: ArrayLike) -> Tensor:
        return _ops.pow(other, self)

    def __matmul__(self, other: ArrayLike) -> Tensor:
        return _ops.matmul(self, other)

    def __rmatmul__(self, other: ArrayLike) -> Tensor:
        return _ops.matmul(other, self)

    def __neg__(self) -> Tensor:
        return _ops.neg(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return _ops.abs(self)

    def __eq__(self, other: ArrayLike) -> Tensor:  # type: ignore[override]
        if other is None:  # Python then answers by identity: `t == None` is False, `t in (None,)` works
            return NotImplemented
        return _ops.eq(self, other)

    def __ne__(self, other: ArrayLike) -> Tensor:  # type: ignore[override]
        if other is None:
            return NotImplemented
        return _ops.ne(self, other)

    def __lt__(self, other: ArrayLike) -> Tensor:
        return _ops.lt(self, other)

    def __le__(self, other: ArrayLike) -> Tensor:
        return _ops.le(self, other)

    def __gt__(self, other: ArrayLike) -> Tensor:
        return _ops.gt(self, other)

    def __ge__(self, other: ArrayLike) -> Tensor:
        return _ops.ge(self, other)

    def __invert__(self) -> Tensor:
        return _ops.logical_not(self)

    def __and__(self, other: ArrayLike) -> Tensor:
        return _ops.logical_and(self, other)

    def __or__(self, other: ArrayLike) -> Tensor:
        return _ops.logical_or(self, other)

    def __getitem__(self, index: Any) -> Tensor:
        return _ops.index(self, index)

    def __setitem__(self, index: Any, value: ArrayLike) -> None:
        if self._requires_grad or self.grad_fn is not None:
            if _autograd.is_grad_enabled():
                raise RuntimeError(
                    "setitem: in-place assignment to a tensor that requires grad would corrupt its "
                    "graph; assign under cr.no_grad() or build a new tensor with cr.where"
                )
        self.data[_ops.unwrap_index(index)] = value.data if isinstance(value, Tensor) else value
        _autograd.mark_modified((self,), "setitem")

    def __iter__(self):
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.data.shape[0]))

    # ---------------------------------------------------------------- methods
    def exp(self) -> Tensor:
        return _ops.exp(self)

    def log(self) -> Tensor:
        return _ops.log(self)

    def log1p(self) -> Tensor:
        return _ops.log1p(self)

    def sqrt(self) -> Tensor:
        return _ops.sqrt(self)

    def abs(self) -> Tensor:
        return _ops.abs(self)

    def sign(self) -> Tensor:
        return _ops.sign(self)

    def sin(self) -> Tensor:
        return _ops.sin(self)

    def cos(self) -> Tensor:
        return _ops.cos(self)

    def tanh(self) -> Tensor:
        return _ops.tanh(self)

    def sigmoid(self) -> Tensor:
        return _ops.sigmoid(self)

    def relu(self) -> Tensor:
        return _ops.relu(self)

    def clip(self, min: float | None = None, max: float | None = None) -> Tensor:
        return _ops.clip(self, min, max)

    clamp = clip

    def sum(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        return _ops.sum(self, axis, keepdims)

    def mean(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        return _ops.mean(self, axis, keepdims)

    def var(self, axis: int | Sequence[int] | None = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
        return _ops.var(self, axis, keepdims, ddof)

    def std(self, axis: int | Sequence[int] | None = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
        return _ops.std(self, axis, keepdims, ddof)

    def max(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        return _ops.max(self, axis, keepdims)

    def min(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        return _ops.min(self, axis, keepdims)

    def argmax(self, axis: int | None = None, keepdims: bool = False) -> Tensor:
        return _ops.argmax(self, axis, keepdims)

    def argmin(self, axis: int | None = None, keepdims: bool = False) -> Tensor:
        return _ops.argmin(self, axis, keepdims)

    def logsumexp(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        return _ops.logsumexp(self, axis, keepdims)

    def softmax(self, axis: int = -1) -> Tensor:
        return _ops.softmax(self, axis)

    def log_softmax(self, axis: int = -1) -> Tensor:
        return _ops.log_softmax(self, axis)

    def any(self, axis: int | None = None) -> Tensor:
        return Tensor._make(np.asarray(self.data.any(axis=axis)))

    def all(self, axis: int | None = None) -> Tensor:
        return Tensor._make(np.asarray(self.data.all(axis=axis)))

    def reshape(self, *shape: int | Sequence[int]) -> Tensor:
        return _ops.reshape(self, _shape_args(shape))

    view = reshape

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        return _ops.flatten(self, start_dim, end_dim)

    def transpose(self, *axes: int | Sequence[int]) -> Tensor:
        return _ops.transpose(self, _shape_args(axes) if axes else None)

    def permute(self, *axes: int | Sequence[int]) -> Tensor:
        return _ops.transpose(self, _shape_args(axes))

    def swapaxes(self, axis1: int, axis2: int) -> Tensor:
        return _ops.swapaxes(self, axis1, axis2)

    def squeeze(self, axis: int | Sequence[int] | None = None) -> Tensor:
        return _ops.squeeze(self, axis)

    def unsqueeze(self, axis: int) -> Tensor:
        return _ops.unsqueeze(self, axis)

    def expand(self, *shape: int | Sequence[int]) -> Tensor:
        return _ops.broadcast_to(self, _shape_args(shape))

    def broadcast_to(self, shape: Sequence[int]) -> Tensor:
        return _ops.broadcast_to(self, shape)

    def repeat(self, *repeats: int | Sequence[int]) -> Tensor:
        return _ops.repeat(self, _shape_args(repeats))

    def split(self, split_size_or_sections: int | Sequence[int], axis: int = 0) -> list[Tensor]:
        return _ops.split(self, split_size_or_sections, axis)

    def matmul(self, other: ArrayLike) -> Tensor:
        return _ops.matmul(self, other)

    def dot(self, other: ArrayLike) -> Tensor:
        return _ops.dot(self, other)


def _shape_args(args: tuple) -> tuple[int, ...]:
    """Accept both ``t.reshape(2, 3)`` and ``t.reshape((2, 3))``."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(args)


def _check_can_require_grad(dtype: np.dtype) -> None:
    if dtype.kind not in "fc":
        raise TypeError(
            f"requires_grad: only floating-point tensors can require grad, got dtype {dtype}; "
            "convert first, e.g. cr.tensor(data, dtype='float32', requires_grad=True)"
        )


def tensor(data: ArrayLike, dtype: Any = None, requires_grad: bool = False, name: str | None = None) -> Tensor:
    """Make a tensor from data (a new leaf of the graph).

    Example:
        >>> import chainrule as cr
        >>> cr.tensor([[1, 2], [3, 4]]).dtype
        dtype('int64')
        >>> cr.tensor([0.5, 1.5], requires_grad=True)
        tensor([0.5, 1.5], requires_grad=True)
    """
    if isinstance(data, Tensor) and dtype is None:
        data = data.data.copy()
    elif isinstance(data, np.ndarray) and (dtype is None or np.dtype(dtype) == data.dtype):
        data = data.copy()
    return Tensor(data, dtype=dtype, requires_grad=requires_grad, name=name)


def is_tensor(obj: Any) -> bool:
    """Whether ``obj`` is a chainrule Tensor.

    Example:
        >>> import chainrule as cr
        >>> cr.is_tensor(cr.tensor([1.0])), cr.is_tensor([1.0])
        (True, False)
    """
    return isinstance(obj, Tensor)


def _factory(fill: Any, shape: tuple, dtype: Any, requires_grad: bool) -> Tensor:
    return Tensor(fill(_shape_args(shape), dtype=np.dtype(dtype or DEFAULT_DTYPE)), requires_grad=requires_grad)


def zeros(*shape: int | Sequence[int], dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros (float32 unless ``dtype`` says otherwise).

    Example:
        >>> import chainrule as cr
        >>> cr.zeros(2, 3).shape
        (2, 3)
    """
    return _factory(np.zeros, shape, dtype, requires_grad)


def ones(*shape: int | Sequence[int], dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones (float32 unless ``dtype`` says otherwise).

    Example:
        >>> import chainrule as cr
        >>> cr.ones(2, 2)
        tensor([[1., 1.],
                [1., 1.]])
    """
    return _factory(np.ones, shape, dtype, requires_grad)


def full(shape: Sequence[int] | int, fill_value: float, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor filled with ``fill_value``.

    Example:
        >>> import chainrule as cr
        >>> cr.full((2, 3), 7.0)
        tensor([[7., 7., 7.],
                [7., 7., 7.]])
    """
    shape = (shape,) if isinstance(shape, numbers.Integral) else tuple(shape)
    return Tensor(np.full(shape, fill_value, dtype=np.dtype(dtype or DEFAULT_DTYPE)), requires_grad=requires_grad)


def zeros_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros with the shape (and, unless ``dtype`` is given, the dtype) of ``t``.

    Example:
        >>> import chainrule as cr
        >>> cr.zeros_like(cr.ones(2, 3))
        tensor([[0., 0., 0.],
                [0., 0., 0.]])
    """
    return Tensor(np.zeros_like(t.data, dtype=dtype), requires_grad=requires_grad)


def ones_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones with the shape (and, unless ``dtype`` is given, the dtype) of ``t``.

    Example:
        >>> import chainrule as cr
        >>> cr.ones_like(cr.zeros(2), dtype='float64')
        tensor([1., 1.], dtype=float64)
    """
    return Tensor(np.ones_like(t.data, dtype=dtype), requires_grad=requires_grad)


def arange(start: float, stop: float | None = None, step: float = 1, dtype: Any = None) -> Tensor:
    """Evenly spaced values, like ``np.arange``: integers stay integers, floats are float32 by default.

    Example:
        >>> import chainrule as cr
        >>> cr.arange(4), cr.arange(0.0, 1.0, 0.25)
        (tensor([0, 1, 2, 3]), tensor([0.  , 0.25, 0.5 , 0.75]))
    """
    data = np.arange(start, stop, step) if stop is not None else np.arange(start)
    if dtype is None and data.dtype.kind == "f":
        dtype = DEFAULT_DTYPE
    return Tensor(data, dtype=dtype)


def linspace(start: float, stop: float, num: int = 50, dtype: Any = None) -> Tensor:
    """``num`` evenly spaced values from ``start`` to ``stop`` (both included), float32 by default.

    Example:
        >>> import chainrule as cr
        >>> cr.linspace(0, 1, 5)
        tensor([0.  , 0.25, 0.5 , 0.75, 1.  ])
    """
    return Tensor(np.linspace(start, stop, num, dtype=np.dtype(dtype or DEFAULT_DTYPE)))


def eye(n: int, m: int | None = None, dtype: Any = None) -> Tensor:
    """The identity matrix (n x m, m = n by default), float32 by default.

    Example:
        >>> import chainrule as cr
        >>> cr.eye(2)
        tensor([[1., 0.],
                [0., 1.]])
    """
    return Tensor(np.eye(n, m, dtype=np.dtype(dtype or DEFAULT_DTYPE)))


# Imported last: both modules use Tensor, and Tensor's methods call into them at run time.
from chainrule import autograd as _autograd, ops as _ops  # noqa: E402
