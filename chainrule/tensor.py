"""Tensor: an ndarray, its gradient, and the node of the computational graph that made it.

A tensor made by an operation on tensors that require grad keeps a reference to that operation's
node (``grad_fn``); the node keeps its inputs. ``backward()`` walks those references in reverse
topological order and applies the chain rule (see ``chainrule.autograd``).

The arithmetic operators and methods defined here are thin: each one calls a differentiable
function from ``chainrule.ops``.
"""

from __future__ import annotations

import functools
import numbers
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

DEFAULT_DTYPE = np.dtype(np.float32)

ArrayLike = Any
"""Anything ``np.asarray`` accepts, or a Tensor."""

Axis = int | Sequence[int] | None


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
        data = data._data
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

    __slots__ = ("_data", "_grad", "_requires_grad", "grad_fn", "name", "_retains_grad", "__weakref__")
    __array_priority__ = 1000  # so ndarray + Tensor calls Tensor.__radd__

    def __init__(self, data: ArrayLike, dtype: Any = None, requires_grad: bool = False, name: str | None = None):
        if isinstance(data, numbers.Integral) and isinstance(dtype, numbers.Integral) and not isinstance(dtype, bool):
            raise TypeError(
                f"Tensor({data}, {dtype}, ...) is PyTorch's legacy constructor of an uninitialised tensor of that "
                f"shape; write cr.zeros({data}, {dtype}) or cr.empty({data}, {dtype}) (cr.tensor(data) for values)"
            )
        array = _convert_data(data, dtype)
        if requires_grad:
            _check_can_require_grad(array.dtype)
        self._data: np.ndarray = array
        self._grad: Tensor | None = None
        self._requires_grad = bool(requires_grad)
        self.grad_fn = None
        self.name = name
        self._retains_grad = False
        if _autograd._mode.recorder is not None:  # a step being compiled: Tensor(value of the step)
            _autograd._mode.recorder.converted(self, data, dtype)

    @classmethod
    def _make(cls, data: np.ndarray, requires_grad: bool = False, grad_fn: Any = None) -> Tensor:
        """Wrap an ndarray without any conversion or checks (the fast path used by ops)."""
        if data.__class__ is not np.ndarray:  # NumPy gives scalars, not 0-d arrays, for 0-d results
            data = np.asarray(data)
        t = object.__new__(cls)
        t._data = data
        t._grad = None
        t._requires_grad = requires_grad
        t.grad_fn = grad_fn
        t.name = None
        t._retains_grad = False
        return t

    # ---------------------------------------------------------------- attributes
    @property
    def data(self) -> Tensor:
        """PyTorch's ``.data``: a tensor that shares this one's memory, cut off from the graph.

        Changes through it change this tensor and are not recorded (``p.data.add_(...)``,
        ``p.data -= lr * g``, ``m.weight.data.normal_(0, 0.02)``), as in PyTorch; assigning
        ``p.data = other`` replaces the values (the shape may change; the tensor stays the same
        object, so an optimiser holding it sees the new values). A graph that used the old values
        refuses ``backward`` afterwards. For the NumPy array itself, use ``.numpy()``.

        Example:
            >>> import chainrule as cr
            >>> w = cr.tensor([1.0, 2.0], requires_grad=True)
            >>> w.data.mul_(10)
            tensor([10., 20.])
            >>> w.data = cr.tensor([0.5, 0.5])
            >>> w, w.data.requires_grad
            (tensor([0.5, 0.5], requires_grad=True), False)
        """
        return Tensor._make(self._data)

    @data.setter
    def data(self, value: ArrayLike) -> None:
        array = value._data if isinstance(value, Tensor) else _convert_data(value)
        if self._requires_grad:
            _check_can_require_grad(array.dtype)
        if array is not self._data:
            if array.shape != self._data.shape or array.dtype != self._data.dtype:
                _autograd._writes.structure += 1  # a compiled plan assumed the old shape
            self._data = array
            if _autograd._mode.recorder is not None:
                _autograd._mode.recorder.wrote(self, "data", array)
            _autograd.mark_modified((self,), ".data =")

    @property
    def grad(self) -> Tensor | None:
        """The gradient a backward accumulated into this tensor (None until then, or after
        ``zero_grad()``); assign None or a tensor of this shape."""
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if _autograd._mode.recorder is not None:  # a step being compiled: the assignment is replayed
            _autograd._mode.recorder.grad_set(self, value)
        self._grad = value

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
            _check_can_require_grad(self._data.dtype)
        if self._requires_grad != bool(requires_grad):
            if _autograd._mode.recorder is not None:  # during a recorded step: the step's own choice
                _autograd._mode.recorder.requires_grad_set(self)
            else:
                _autograd._writes.structure += 1  # a compiled plan assumed which gradients it computes
        self._requires_grad = bool(requires_grad)
        return self

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user rather than by an operation."""
        return self.grad_fn is None

    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def size(self) -> _Size:
        """The number of elements, as NumPy's ``a.size``; called, the shape, as PyTorch's ``t.size()``.

        Example:
            >>> import chainrule as cr
            >>> t = cr.zeros(2, 3)
            >>> t.size, t.size(), t.size(1), t.size(-1)
            (6, (2, 3), 3, 3)
        """
        return _Size(self._data)

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def T(self) -> Tensor:
        """The tensor with its axes reversed."""
        return _ops.transpose(self)

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self._data)

    def numel(self) -> int:
        """The number of entries (``t.numel()``, as PyTorch's)."""
        return self._data.size

    def dim(self) -> int:
        return self._data.ndim

    # ---------------------------------------------------------------- conversion
    def item(self) -> float | int | bool:
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise ValueError(f"item: only a one-element tensor can be converted, got shape {self.shape}")
        if _autograd._mode.recorder is not None:
            _autograd._mode.recorder.read("Tensor.item()")
        return self._data.item()

    def numpy(self) -> np.ndarray:
        """The underlying ndarray, shared, not copied: writing to it changes the tensor, and
        autograd cannot see such a write (a graph that used the tensor would then compute a wrong
        gradient). Write with ``t[...] = value`` (under ``cr.no_grad()`` for a tensor that requires
        grad), which ``backward`` checks, or copy first (``t.numpy().copy()``)."""
        if _autograd._mode.recorder is not None:
            _autograd._mode.recorder.read("Tensor.numpy()")
        return self._data

    def tolist(self) -> Any:
        if _autograd._mode.recorder is not None:
            _autograd._mode.recorder.read("Tensor.tolist()")
        return self._data.tolist()

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        """NumPy's conversion protocol: ``np.asarray(t)`` shares the data, ``np.array(t)`` copies it."""
        if self._requires_grad and _autograd._mode.recording_rule:
            raise RuntimeError(
                "a gradient rule called a NumPy function on a Tensor that requires grad while the "
                "backward is recorded (create_graph=True): gradients of gradients through it would "
                "be wrong. Write rules with Python's operators and the interpreter's primitives "
                "(ns.exp, ns.sum, ns.reshape, ...); see chainrule.Function"
            )
        if _autograd._mode.recorder is not None:
            _autograd._mode.recorder.read("NumPy on a Tensor (__array__)")
        if dtype is not None and np.dtype(dtype) != self._data.dtype:
            return self._data.astype(dtype)
        return self._data.copy() if copy else self._data

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise ValueError(
                f"the truth value of a tensor with {self._data.size} elements is ambiguous; use .any() or .all()"
            )
        if _autograd._mode.recorder is not None:
            _autograd._mode.recorder.read("a branch on a tensor (bool(tensor), `if tensor:`)")
        return bool(self._data)

    def detach(self) -> Tensor:
        """A tensor sharing this one's data but cut off from the graph."""
        return Tensor._make(self._data)

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

    def long(self) -> Tensor:
        """A copy as int64 (PyTorch's ``long``)."""
        return self.astype(np.int64)

    def int(self) -> Tensor:
        """A copy as int32 (PyTorch's ``int``)."""
        return self.astype(np.int32)

    def half(self) -> Tensor:
        """A differentiable cast to float16."""
        return self.astype(np.float16)

    def bool(self) -> Tensor:
        """A copy as booleans."""
        return self.astype(np.bool_)

    def type(self, dtype: Any = None) -> str | Tensor:
        """Without an argument, the type's name as PyTorch prints it (``'chainrule.FloatTensor'``);
        with a dtype, the tensor cast to it.

        Example:
            >>> import chainrule as cr
            >>> cr.zeros(2).type(), cr.zeros(2).type(cr.long).type()
            ('chainrule.FloatTensor', 'chainrule.LongTensor')
        """
        if dtype is None:
            return "chainrule." + _TYPE_NAMES.get(self._data.dtype, str(self._data.dtype).capitalize() + "Tensor")
        return self.astype(_as_dtype(dtype, "type"))

    @property
    def device(self) -> _device.device:
        """Where the tensor lives: always the CPU (``device(type='cpu')``)."""
        return _device.CPU

    @property
    def is_cuda(self) -> bool:
        return False

    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """PyTorch's ``to``: ``t.to(device)``, ``t.to(dtype)``, ``t.to(device, dtype)``, ``t.to(other)``.

        The only device is the CPU (asking for another is an error naming it); a dtype casts
        (differentiably between floating dtypes). As in PyTorch, ``to`` returns the tensor itself
        when nothing changes.

        Example:
            >>> import chainrule as cr
            >>> t = cr.ones(2)
            >>> t.to("cpu") is t, t.to(cr.double).dtype, t.to("cpu", cr.long).dtype
            (True, dtype('float64'), dtype('int64'))
        """
        dtype = _to_arguments(args, kwargs, "to")
        if dtype is None or dtype == self._data.dtype:
            return self
        return self.astype(dtype)

    def cpu(self) -> Tensor:
        """The tensor itself: it is on the CPU already."""
        return self

    def cuda(self, *args: Any, **kwargs: Any) -> Tensor:
        """Raises: there is no CUDA device; chainrule computes on the CPU."""
        raise RuntimeError("cuda: there is no CUDA device; chainrule computes with NumPy on the CPU (use .to(device))")

    # ---------------------------------------------------------------- PyTorch's names
    def pow(self, exponent: ArrayLike) -> Tensor:
        return _ops.pow(self, exponent)

    def mm(self, other: ArrayLike) -> Tensor:
        """Matrix product of two 2-d tensors (PyTorch's ``mm``); see ``cr.mm``."""
        return _ops.mm(self, other)

    def t(self) -> Tensor:
        """The transpose of a tensor of at most 2 dimensions (PyTorch's ``t``)."""
        if self.ndim > 2:
            raise ValueError(f"t: needs at most 2 dimensions, got shape {self.shape}; use transpose(dim0, dim1)")
        return _ops.transpose(self) if self.ndim == 2 else self

    def view_as(self, other: Tensor) -> Tensor:
        return _ops.reshape(self, other.shape)

    reshape_as = view_as

    def expand_as(self, other: Tensor) -> Tensor:
        return _ops.broadcast_to(self, other.shape)

    def eq(self, other: ArrayLike) -> Tensor:
        return _ops.eq(self, other)

    def ne(self, other: ArrayLike) -> Tensor:
        return _ops.ne(self, other)

    def lt(self, other: ArrayLike) -> Tensor:
        return _ops.lt(self, other)

    def le(self, other: ArrayLike) -> Tensor:
        return _ops.le(self, other)

    def gt(self, other: ArrayLike) -> Tensor:
        return _ops.gt(self, other)

    def ge(self, other: ArrayLike) -> Tensor:
        return _ops.ge(self, other)

    def add(self, other: ArrayLike, alpha: float = 1) -> Tensor:
        return _add_scaled(self, other, alpha)

    def sub(self, other: ArrayLike, alpha: float = 1) -> Tensor:
        return _add_scaled(self, other, -alpha)

    def mul(self, other: ArrayLike) -> Tensor:
        return _ops.mul(self, other)

    def div(self, other: ArrayLike) -> Tensor:
        return _ops.div(self, other)

    def neg(self) -> Tensor:
        return _ops.neg(self)

    def nelement(self) -> int:
        return self._data.size

    def element_size(self) -> int:
        return self._data.itemsize

    def __index__(self) -> int:
        """A one-element integer tensor used as an index (``xs[t]``, ``range(t)``)."""
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError(
                f"only integer tensors of a single element can be used as an index, got dtype {self._data.dtype} "
                f"and shape {self.shape}"
            )
        if _autograd._mode.recorder is not None:
            _autograd._mode.recorder.read("a tensor used as a Python index (__index__)")
        return int(self._data.reshape(()))

    def __format__(self, spec: str) -> str:
        """``f"{loss:.4f}"`` formats a one-element tensor as its number, and ``f"{loss}"`` a 0-d
        tensor as its number too (as PyTorch: ``0.1234...``, not ``tensor(0.1235)``); other tensors
        as their repr."""
        if _autograd._mode.recorder is not None:
            _autograd._mode.recorder.read("formatting a tensor (f-string, format)")
        if self._data.size == 1 and (spec or self._data.ndim == 0):
            return format(self._data.item(), spec)
        return format(repr(self), spec)

    def contiguous(self) -> Tensor:
        """This tensor if its array is C-contiguous, else a contiguous copy (differentiable), as
        PyTorch's ``x.permute(...).contiguous().view(...)`` needs (``view`` here takes any layout).

        Example:
            >>> import chainrule as cr
            >>> x = cr.ones(2, 3)
            >>> x.contiguous() is x, x.t().is_contiguous(), x.t().contiguous().is_contiguous()
            (True, False, True)
        """
        return self if self._data.flags.c_contiguous else _ops.clone(self)

    def is_contiguous(self) -> bool:
        """Whether the array is laid out in C order (row after row, no gaps), as PyTorch means it."""
        return bool(self._data.flags.c_contiguous)

    def retain_grad(self) -> Tensor:
        """Keep this non-leaf tensor's gradient in ``.grad`` after ``backward()`` (for inspection)."""
        if not self._requires_grad:
            raise RuntimeError("retain_grad: this tensor does not require grad")
        self._retains_grad = True
        return self

    def zero_grad(self) -> None:
        self.grad = None

    def register_hook(self, hook: Callable[[Tensor], Any]) -> Any:
        """Call ``hook(grad)`` each time a backward has this tensor's whole gradient, before the
        gradient goes further back (or, for a leaf, into ``.grad``): PyTorch's ``register_hook``.
        The hook returns None to leave the gradient as it is, or a tensor of this tensor's shape
        to use instead. Returns a handle whose ``remove()`` unregisters it.

        Example:
            >>> import chainrule as cr
            >>> x = cr.tensor([1.0, -2.0], requires_grad=True)
            >>> h = x * 3
            >>> seen = []
            >>> _ = h.register_hook(lambda g: seen.append(g.tolist()))  # look at a gradient
            >>> _ = x.register_hook(lambda g: g.clip(-1.0, 1.0))  # change one: clipped
            >>> (h * h).sum().backward()
            >>> seen, x.grad
            ([[6.0, -12.0]], tensor([ 1., -1.]))
        """
        if not self.requires_grad:
            raise RuntimeError(
                "register_hook: this tensor does not require grad, so no gradient reaches it "
                "(make it with requires_grad=True, or hook a tensor computed from one that does)"
            )
        if not callable(hook):
            raise TypeError(f"register_hook: hook must be callable, got {hook!r}")
        return _autograd._add_hook(self, hook, _autograd._grad_hooks)

    def register_post_accumulate_grad_hook(self, hook: Callable[[Tensor], Any]) -> Any:
        """Call ``hook(self)`` each time a backward has accumulated this leaf's gradient into
        ``.grad`` (PyTorch's hook of that name; ``DistributedDataParallel`` uses it to send each
        gradient as soon as it is ready). Returns a handle whose ``remove()`` unregisters it.

        Example:
            >>> import chainrule as cr
            >>> w = cr.tensor([1.0, 2.0], requires_grad=True)
            >>> seen = []
            >>> handle = w.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.tolist()))
            >>> (w * 3).sum().backward(); seen
            [[3.0, 3.0]]
            >>> handle.remove()
        """
        if self.grad_fn is not None:
            raise RuntimeError(
                "register_post_accumulate_grad_hook: only a leaf tensor (a parameter, or one made with "
                "requires_grad=True) accumulates a .grad"
            )
        if not callable(hook):
            raise TypeError(f"register_post_accumulate_grad_hook: hook must be callable, got {hook!r}")
        return _autograd._add_hook(self, hook, _autograd._leaf_hooks)

    # ---------------------------------------------------------------- autograd
    def backward(
        self, gradient: ArrayLike | None = None, retain_graph: bool | None = None, create_graph: bool = False
    ) -> None:
        """Compute the gradient of this tensor with respect to every leaf that requires grad.

        Gradients accumulate into the leaves' ``.grad``. The graph is freed afterwards unless
        ``retain_graph=True`` (by default it is kept exactly when ``create_graph=True``, as in
        PyTorch); ``create_graph=True`` records the backward pass itself so that gradients of
        gradients can be taken.
        """
        _autograd.backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph)

    # ---------------------------------------------------------------- repr
    def __repr__(self) -> str:
        if _autograd._mode.recorder is not None:
            _autograd._mode.recorder.read("printing a tensor (repr)")
        body = np.array2string(self._data, separator=", ", prefix="tensor(", precision=4)
        extras = []
        if self._data.dtype != DEFAULT_DTYPE and self._data.dtype.kind == "f" or self._data.dtype.kind not in "fib":
            extras.append(f"dtype={self._data.dtype}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{type(self.grad_fn).__name__}Backward0>")
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

    def __mod__(self, other: ArrayLike) -> Tensor:
        return _ops.remainder(self, other)

    def __rmod__(self, other: ArrayLike) -> Tensor:
        return _ops.remainder(other, self)

    def __floordiv__(self, other: ArrayLike) -> Tensor:
        return _ops.floor_divide(self, other)

    def __rfloordiv__(self, other: ArrayLike) -> Tensor:
        return _ops.floor_divide(other, self)

    def nonzero(self, as_tuple: bool = False) -> Any:
        """The indices of the nonzero entries; see ``cr.nonzero``."""
        return _ops.nonzero(self, as_tuple=as_tuple)

    def __invert__(self) -> Tensor:
        # PyTorch's ~: logical not of booleans, bitwise not of integers, refused for floats
        kind = self._data.dtype.kind
        if kind == "b":
            return _ops.logical_not(self)
        if kind in "iu":
            return _autograd.pure(np.invert, self)
        raise TypeError(
            f"~: needs a boolean or integer tensor (bitwise not, as PyTorch), got {self._data.dtype}; for a mask "
            "of the zeros write x == 0, for logical not of a condition cr.logical_not(x != 0)"
        )

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
        elif isinstance(value, Tensor) and value._requires_grad and _autograd.is_grad_enabled():
            raise RuntimeError(
                "setitem: the value requires grad but this tensor does not, so the value's gradient would be "
                "lost; build the result as a new tensor instead (e.g. out = cr.stack([h1, h2, ...]) for rows "
                "written one by one, or cr.where(mask, value, out))"
            )
        self._check_writable("setitem")
        index = _ops.unwrap_index(index, masks=False)
        self._data[index] = value._data if isinstance(value, Tensor) else value
        if _autograd._mode.recorder is not None:
            if np.ndim(value._data if isinstance(value, Tensor) else value) and _ops.shape._has_mask(index):
                _autograd._mode.recorder.refuse(_ops.shape._DATA_SHAPE)
            _autograd._mode.recorder.wrote(self, "setitem", value, index)
        _autograd.mark_modified((self,), "setitem")

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    # ---------------------------------------------------------------- in place (PyTorch's `_` methods)
    def _in_place(self, name: str, compute: Any, *args: Any) -> Tensor:
        """Write ``compute(self, *args)`` into this tensor's array, in place; returns self.

        Not recorded (grad mode off, or nothing involved requires grad): the array is overwritten
        (views and ``.numpy()`` arrays see the change) and the write is noted, so a graph that used
        the old value refuses ``backward``. Recorded: the old value goes on as a tensor of its own
        and this tensor becomes the op's output, as in PyTorch; a leaf that requires grad is refused.
        """
        self._check_writable(name)
        recording = _autograd._mode.enabled and (
            self._requires_grad or any(isinstance(a, Tensor) and a._requires_grad for a in args)
        )
        if not recording:
            with _autograd.no_grad():
                result = compute(self, *args)
            self._store(name, result)
            _autograd.mark_modified((self,), name)
            return self
        if self.grad_fn is None and self._requires_grad:
            raise RuntimeError(
                f"{name}: this is a leaf tensor that requires grad (a weight), and changing it in place while "
                "operations are recorded would break its gradient. Update weights under `with cr.no_grad():`, "
                "as in PyTorch (e.g. `with cr.no_grad(): p -= lr * p.grad`), or write a new tensor (p = p - ...)"
            )
        refusal = getattr(self.grad_fn, "in_place_refusal", None)  # (a node's outputs that must not change)
        if refusal is not None:
            raise RuntimeError(f"{name}: {refusal}")
        if self._is_view():
            raise RuntimeError(
                f"{name}: this tensor is a view of another one's memory (a slice, reshape, transpose, ...), and a "
                "recorded change through a view would not reach the other tensor's gradient. Write the result as "
                "a new tensor (e.g. h = h * mask, cr.where(...), cr.cat/cr.stack of the parts), or change it "
                "under `with cr.no_grad():`"
            )
        # The value before the write lives on as a tensor of its own, holding the node that made it.
        old = Tensor._make(self._data.copy(), self._requires_grad, self.grad_fn)
        if _autograd._mode.recorder is not None:
            _autograd._mode.recorder.copied(old, self)
        made_by = self.grad_fn
        if made_by is not None and getattr(made_by, "_output_ref", None) is not None and made_by._output_ref() is self:
            made_by._output_ref = weakref.ref(old)
        _autograd.mark_modified((self,), name)  # nodes that used the old value refuse backward
        result = compute(old, *[old if a is self else a for a in args])  # `y *= y` reads the old y twice
        self._store(name, result)
        node = result.grad_fn
        self.grad_fn = node
        self._requires_grad = result._requires_grad
        if node is not None and getattr(node, "_output_ref", None) is not None:
            node._output_ref = weakref.ref(self)
        return self

    def _check_writable(self, name: str) -> None:
        if not self._data.flags.writeable:
            raise RuntimeError(
                f"{name}: this tensor's memory is read-only (a DataLoader batch that shares its dataset's memory, "
                "a gradient handed to a backward, a broadcast); change a copy: t = t.clone()"
            )

    def _is_view(self) -> bool:
        """Whether this tensor's array shares the memory of another tensor: made by a view op from
        it (a slice, reshape, transpose of a tensor), or a view made without a graph."""
        if self._data.base is None:
            return False
        fn = self.grad_fn
        if fn is None:
            return True
        return any(np.may_share_memory(self._data, t._data) for t in (fn.inputs or ()))

    def _store(self, name: str, result: Tensor) -> None:
        """Copy ``result`` into this tensor's array, refusing a change of shape or of kind of number."""
        self._check_writable(name)
        value = result._data
        if value.shape != self._data.shape:
            raise RuntimeError(
                f"{name}: the result has shape {value.shape} but this tensor has shape {self._data.shape}; an "
                "in-place operation cannot change a tensor's shape (write t = t + ... for a new tensor)"
            )
        if not np.can_cast(value.dtype, self._data.dtype, "same_kind"):
            raise RuntimeError(
                f"{name}: the result has dtype {value.dtype}, which this tensor of dtype {self._data.dtype} cannot "
                f"hold; convert first (e.g. t = t.{'float' if value.dtype.kind == 'f' else 'double'}()) or "
                "write t = t + ... for a new tensor"
            )
        np.copyto(self._data, value, casting="same_kind")
        if _autograd._mode.recorder is not None:
            _autograd._mode.recorder.wrote(self, "store", result)

    def __iadd__(self, other: ArrayLike) -> Tensor:
        return self._in_place("+=", _ops.add, other)

    def __isub__(self, other: ArrayLike) -> Tensor:
        return self._in_place("-=", _ops.sub, other)

    def __imul__(self, other: ArrayLike) -> Tensor:
        return self._in_place("*=", _ops.mul, other)

    def __itruediv__(self, other: ArrayLike) -> Tensor:
        return self._in_place("/=", _ops.div, other)

    def __ipow__(self, other: ArrayLike) -> Tensor:
        return self._in_place("**=", _ops.pow, other)

    def add_(self, other: ArrayLike, alpha: float = 1) -> Tensor:
        """In place: ``self += alpha * other``; returns self.

        Example:
            >>> import chainrule as cr
            >>> w = cr.tensor([1.0, 2.0], requires_grad=True)
            >>> (w * w).sum().backward()
            >>> with cr.no_grad():
            ...     _ = w.add_(w.grad, alpha=-0.1)   # one step of gradient descent
            >>> w
            tensor([0.8, 1.6], requires_grad=True)
        """
        return self._in_place("add_", _add_scaled, other, alpha)

    def sub_(self, other: ArrayLike, alpha: float = 1) -> Tensor:
        """In place: ``self -= alpha * other``; returns self.

        Example:
            >>> import chainrule as cr
            >>> cr.tensor([1.0, 2.0]).sub_(cr.tensor([1.0, 1.0]), alpha=0.5)
            tensor([0.5, 1.5])
        """
        return self._in_place("sub_", _add_scaled, other, -alpha)

    def mul_(self, other: ArrayLike) -> Tensor:
        """In place: ``self *= other``; returns self.

        Example:
            >>> import chainrule as cr
            >>> cr.tensor([1.0, 2.0]).mul_(3)
            tensor([3., 6.])
        """
        return self._in_place("mul_", _ops.mul, other)

    def div_(self, other: ArrayLike) -> Tensor:
        """In place: ``self /= other``; returns self.

        Example:
            >>> import chainrule as cr
            >>> cr.tensor([1.0, 2.0]).div_(2)
            tensor([0.5, 1. ])
        """
        return self._in_place("div_", _ops.div, other)

    def pow_(self, exponent: ArrayLike) -> Tensor:
        """In place: ``self **= exponent``; returns self.

        Example:
            >>> import chainrule as cr
            >>> cr.tensor([2.0, 3.0]).pow_(2)
            tensor([4., 9.])
        """
        return self._in_place("pow_", _ops.pow, exponent)

    def neg_(self) -> Tensor:
        """In place: ``self = -self``; returns self.

        Example:
            >>> import chainrule as cr
            >>> cr.tensor([2.0, -3.0]).neg_()
            tensor([-2.,  3.])
        """
        return self._in_place("neg_", _ops.neg)

    def clamp_(self, min: float | None = None, max: float | None = None) -> Tensor:
        """In place: limit the values to [min, max]; returns self.

        Example:
            >>> import chainrule as cr
            >>> cr.tensor([-2.0, 0.5, 3.0]).clamp_(-1, 1)
            tensor([-1. ,  0.5,  1. ])
        """
        return self._in_place("clamp_", _ops.clip, min, max)

    clip_ = clamp_

    def copy_(self, src: ArrayLike) -> Tensor:
        """In place: copy ``src`` (broadcast to this shape, cast to this dtype) into this tensor; returns self.

        Example:
            >>> import chainrule as cr
            >>> t = cr.zeros(2, 2)
            >>> t.copy_(cr.tensor([1.0, 2.0]))
            tensor([[1., 2.],
                    [1., 2.]])
        """
        return self._in_place("copy_", _copy_of, src)

    def zero_(self) -> Tensor:
        """In place: fill with zeros; returns self (``p.grad.zero_()``).

        Example:
            >>> import chainrule as cr
            >>> cr.ones(3).zero_()
            tensor([0., 0., 0.])
        """
        return self._fill_("zero_", 0)

    def fill_(self, value: float) -> Tensor:
        """In place: fill with ``value``; returns self.

        Example:
            >>> import chainrule as cr
            >>> cr.zeros(2).fill_(7)
            tensor([7., 7.])
        """
        return self._fill_("fill_", value)

    def uniform_(self, a: float = 0.0, b: float = 1.0, generator: Any = None) -> Tensor:
        """In place: samples from U(a, b), drawn from chainrule's random state; returns self.

        Example:
            >>> import chainrule as cr
            >>> _ = cr.manual_seed(0)
            >>> t = cr.zeros(1000).uniform_(-1, 1)
            >>> bool(t.numpy().min() >= -1 and t.numpy().max() < 1)
            True
        """
        if not a <= b:
            raise ValueError(f"uniform_: low {a} is above high {b}")
        return self._fill_("uniform_", _random.resolve_generator(generator).uniform(a, b, self._data.shape))

    def normal_(self, mean: float = 0.0, std: float = 1.0, generator: Any = None) -> Tensor:
        """In place: samples from N(mean, std²), drawn from chainrule's random state; returns self.

        Example:
            >>> import chainrule as cr
            >>> _ = cr.manual_seed(0)
            >>> t = cr.zeros(10000).normal_(2.0, 0.5)
            >>> round(float(t.mean()), 1), round(float(t.std()), 1)
            (2.0, 0.5)
        """
        if not std >= 0:
            raise ValueError(f"normal_: std must be at least 0, got {std}")
        return self._fill_("normal_", _random.resolve_generator(generator).normal(mean, std, self._data.shape))

    def relu_(self) -> Tensor:
        """In place: max(self, 0); returns self (``nn.ReLU(inplace=True)``)."""
        return self._in_place("relu_", _ops.relu)

    def sigmoid_(self) -> Tensor:
        """In place: the logistic sigmoid; returns self."""
        return self._in_place("sigmoid_", _ops.sigmoid)

    def tanh_(self) -> Tensor:
        """In place: tanh; returns self."""
        return self._in_place("tanh_", _ops.tanh)

    def exp_(self) -> Tensor:
        """In place: exp; returns self."""
        return self._in_place("exp_", _ops.exp)

    def abs_(self) -> Tensor:
        """In place: |self|; returns self."""
        return self._in_place("abs_", _ops.abs)

    def masked_fill(self, mask: ArrayLike, value: Any) -> Tensor:
        """``value`` where ``mask`` is True, this tensor elsewhere (differentiable through the rest),
        as PyTorch's ``masked_fill`` (attention scores: ``scores.masked_fill(mask == 0, -1e9)``);
        see ``cr.masked_fill``.

        Example:
            >>> import chainrule as cr
            >>> cr.tensor([1.0, 2.0, 3.0]).masked_fill(cr.tensor([True, False, True]), 0.0)
            tensor([0., 2., 0.])
        """
        return _ops.masked_fill(self, mask, value)

    def masked_fill_(self, mask: ArrayLike, value: Any) -> Tensor:
        """In place: ``value`` where ``mask`` is True; returns self.

        Example:
            >>> import chainrule as cr
            >>> cr.zeros(2, 2).masked_fill_(cr.tensor([True, False]), 5.0)
            tensor([[5., 0.],
                    [5., 0.]])
        """
        shape = np.shape(mask._data if isinstance(mask, Tensor) else mask)
        if len(shape) > self._data.ndim or any(m not in (1, n) for m, n in zip(shape[::-1], self.shape[::-1])):
            raise RuntimeError(
                f"masked_fill_: a mask of shape {shape} does not broadcast to this tensor's shape {self.shape} "
                "(in place, the tensor keeps its shape)"
            )
        return self._in_place("masked_fill_", _ops.masked_fill, mask, value)

    def new_zeros(self, *size: int | Sequence[int], dtype: Any = None, requires_grad: bool = False) -> Tensor:
        """Zeros of ``size``, with this tensor's dtype unless ``dtype`` is given (PyTorch's ``new_zeros``)."""
        return Tensor(np.zeros(_shape_args(size), dtype=dtype or self._data.dtype), requires_grad=requires_grad)

    def new_ones(self, *size: int | Sequence[int], dtype: Any = None, requires_grad: bool = False) -> Tensor:
        """Ones of ``size``, with this tensor's dtype unless ``dtype`` is given."""
        return Tensor(np.ones(_shape_args(size), dtype=dtype or self._data.dtype), requires_grad=requires_grad)

    def new_full(
        self, size: Sequence[int], fill_value: float, dtype: Any = None, requires_grad: bool = False
    ) -> Tensor:
        """``fill_value`` in ``size``, with this tensor's dtype unless ``dtype`` is given."""
        return Tensor(np.full(tuple(size), fill_value, dtype=dtype or self._data.dtype), requires_grad=requires_grad)

    def new_tensor(self, data: ArrayLike, dtype: Any = None, requires_grad: bool = False) -> Tensor:
        """A new tensor of ``data`` (copied), with this tensor's dtype unless ``dtype`` is given."""
        return tensor(data, dtype=dtype or self._data.dtype, requires_grad=requires_grad)

    def _fill_(self, name: str, values: Any) -> Tensor:
        """Overwrite with values that do not depend on the old ones (constants, random draws)."""
        if _autograd._mode.enabled and self._requires_grad:
            raise RuntimeError(
                f"{name}: this tensor requires grad and operations are being recorded; fill it under "
                "`with cr.no_grad():` (as PyTorch requires for weights), or make a new tensor "
                "(cr.full_like, cr.zeros_like)"
            )
        self._check_writable(name)
        if not np.can_cast(np.asarray(values).dtype, self._data.dtype, "same_kind"):
            raise RuntimeError(f"{name}: a tensor of dtype {self._data.dtype} cannot hold floating values")
        self._data[...] = values
        if _autograd._mode.recorder is not None:
            _autograd._mode.recorder.wrote(self, "fill", values)
        _autograd.mark_modified((self,), name)
        return self

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

    def sum(
        self,
        axis: Axis = None,
        keepdims: bool | None = None,
        *,
        dim: Axis = None,
        keepdim: bool | None = None,
        dtype: Any = None,
    ) -> Tensor:
        return _ops.sum(self, axis, keepdims, dim=dim, keepdim=keepdim, dtype=dtype)

    def mean(
        self,
        axis: Axis = None,
        keepdims: bool | None = None,
        *,
        dim: Axis = None,
        keepdim: bool | None = None,
        dtype: Any = None,
    ) -> Tensor:
        return _ops.mean(self, axis, keepdims, dim=dim, keepdim=keepdim, dtype=dtype)

    def var(self, axis: Axis = None, keepdims: bool | None = None, ddof: int = 0, **torch_names: Any) -> Tensor:
        """Variance (ddof=0 unless asked, as NumPy); accepts ``dim``, ``keepdim``, ``unbiased``, ``correction``."""
        return _ops.var(self, axis, keepdims, ddof, **torch_names)

    def std(self, axis: Axis = None, keepdims: bool | None = None, ddof: int = 0, **torch_names: Any) -> Tensor:
        """Standard deviation (ddof=0 unless asked, as NumPy); accepts PyTorch's names as ``var`` does."""
        return _ops.std(self, axis, keepdims, ddof, **torch_names)

    def max(
        self, dim: Axis | Tensor = None, keepdim: bool = False, *, axis: Axis = None, keepdims: bool | None = None
    ) -> Tensor | Any:
        """The maximum: ``t.max()`` and ``t.max(axis=...)`` give values (NumPy); ``t.max(dim)`` gives
        ``(values, indices)`` (PyTorch); ``t.max(other)`` the elementwise maximum. See ``cr.max``."""
        return _ops.max(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def min(
        self, dim: Axis | Tensor = None, keepdim: bool = False, *, axis: Axis = None, keepdims: bool | None = None
    ) -> Tensor | Any:
        """The minimum, in the forms of ``max``."""
        return _ops.min(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def argmax(
        self,
        axis: int | None = None,
        keepdims: bool | None = None,
        *,
        dim: int | None = None,
        keepdim: bool | None = None,
    ) -> Tensor:
        return _ops.argmax(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def argmin(
        self,
        axis: int | None = None,
        keepdims: bool | None = None,
        *,
        dim: int | None = None,
        keepdim: bool | None = None,
    ) -> Tensor:
        return _ops.argmin(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def sort(self, dim: int = -1, descending: bool = False, stable: bool = False) -> Any:
        """``(values, indices)`` sorted along ``dim``; see ``cr.sort``."""
        return _ops.sort(self, dim, descending, stable)

    def argsort(self, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
        """The indices that sort along ``dim``; see ``cr.argsort``."""
        return _ops.argsort(self, dim, descending, stable)

    def cumsum(self, dim: int, *, dtype: Any = None) -> Tensor:
        """The running sums along ``dim``; see ``cr.cumsum``."""
        return _ops.cumsum(self, dim, dtype=dtype)

    def cumprod(self, dim: int, *, dtype: Any = None) -> Tensor:
        """The running products along ``dim``; see ``cr.cumprod``."""
        return _ops.cumprod(self, dim, dtype=dtype)

    def prod(self, dim: int | None = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
        """The product of all entries or along ``dim``; see ``cr.prod``."""
        return _ops.prod(self, dim, keepdim, dtype=dtype)

    def norm(self, p: Any = "fro", dim: Any = None, keepdim: bool = False, dtype: Any = None) -> Tensor:
        """The norm over ``dim`` (the 2-norm of all entries by default); see ``cr.norm``."""
        return _ops.norm(self, p, dim, keepdim, dtype)

    def amax(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        """The largest values over ``dim``; see ``cr.amax``."""
        return _ops.amax(self, dim, keepdim)

    def amin(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        """The smallest values over ``dim``; see ``cr.amin``."""
        return _ops.amin(self, dim, keepdim)

    def gather(self, dim: int, index: Any) -> Tensor:
        """PyTorch's ``gather`` along ``dim``; see ``cr.gather``."""
        return _ops.gather(self, dim, index)

    def index_select(self, dim: int, index: Any) -> Tensor:
        """The entries at ``index`` along ``dim``; see ``cr.index_select``."""
        return _ops.index_select(self, dim, index)

    def flip(self, *dims: Any, **named: Any) -> Tensor:
        """Reversed along ``dims`` (``t.flip(0)``, ``t.flip(0, 1)``, ``t.flip((0, 1))`` or
        ``t.flip(dims=...)``); see ``cr.flip``."""
        if named:
            if dims or set(named) != {"dims"}:
                raise TypeError(f"flip: give the dims once, positionally or as dims=; got {dims} and {named}")
            dims = (named["dims"],)
        if not dims:
            raise TypeError("flip: give the dims to reverse, e.g. t.flip(0)")
        return _ops.flip(self, dims[0] if len(dims) == 1 else dims)

    def roll(self, shifts: Any, dims: Any = None) -> Tensor:
        """Shifted along ``dims``, wrapping around; see ``cr.roll``."""
        return _ops.roll(self, shifts, dims)

    def tril(self, diagonal: int = 0) -> Tensor:
        """The lower triangle; see ``cr.tril``."""
        return _ops.tril(self, diagonal)

    def triu(self, diagonal: int = 0) -> Tensor:
        """The upper triangle; see ``cr.triu``."""
        return _ops.triu(self, diagonal)

    def chunk(self, chunks: int, dim: int = 0) -> list[Tensor]:
        """Cut into ``chunks`` pieces along ``dim``; see ``cr.chunk``."""
        return _ops.chunk(self, chunks, dim)

    def isnan(self) -> Tensor:
        """Where NaN; see ``cr.isnan``."""
        return _ops.isnan(self)

    def isfinite(self) -> Tensor:
        """Where finite; see ``cr.isfinite``."""
        return _ops.isfinite(self)

    def bmm(self, other: Any) -> Tensor:
        """Batched matrix products (both 3-D); see ``cr.bmm``."""
        return _ops.bmm(self, other)

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:
        """The ``k`` largest values along ``dim`` and their indices; see ``cr.topk``."""
        return _ops.topk(self, k, dim, largest, sorted)

    def logsumexp(
        self, axis: Axis = None, keepdims: bool | None = None, *, dim: Axis = None, keepdim: bool | None = None
    ) -> Tensor:
        return _ops.logsumexp(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def softmax(self, axis: int | None = None, *, dim: int | None = None, dtype: Any = None) -> Tensor:
        return _ops.softmax(self, axis, dim=dim, dtype=dtype)

    def log_softmax(self, axis: int | None = None, *, dim: int | None = None, dtype: Any = None) -> Tensor:
        return _ops.log_softmax(self, axis, dim=dim, dtype=dtype)

    def any(
        self, dim: Axis = None, keepdim: bool = False, *, axis: Axis = None, keepdims: bool | None = None
    ) -> Tensor:
        """Whether any entry is nonzero, in all or over ``dim``; see ``cr.any``."""
        return _ops.any(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def all(
        self, dim: Axis = None, keepdim: bool = False, *, axis: Axis = None, keepdims: bool | None = None
    ) -> Tensor:
        """Whether every entry is nonzero, in all or over ``dim``; see ``cr.all``."""
        return _ops.all(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def count_nonzero(self, dim: Axis = None) -> Tensor:
        """The number of nonzero entries; see ``cr.count_nonzero``."""
        return _ops.count_nonzero(self, dim)

    def isclose(self, other: ArrayLike, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Tensor:
        """Where close to ``other``; see ``cr.isclose``."""
        return _ops.isclose(self, other, rtol, atol, equal_nan)

    def allclose(self, other: ArrayLike, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
        """Whether every entry is close to ``other``'s; see ``cr.allclose``."""
        return _ops.allclose(self, other, rtol, atol, equal_nan)

    def equal(self, other: ArrayLike) -> bool:
        """Whether ``other`` has the same shape and values; see ``cr.equal``."""
        return _ops.equal(self, other)

    def reshape(self, *shape: int | Sequence[int]) -> Tensor:
        return _ops.reshape(self, _shape_args(shape))

    view = reshape

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        return _ops.flatten(self, start_dim, end_dim)

    def transpose(self, *axes: int | Sequence[int]) -> Tensor:
        """Permute the axes (NumPy: ``t.transpose(2, 0, 1)``, or none to reverse them), or swap two
        (PyTorch: ``t.transpose(0, 1)``). Two separate integers always swap those two axes.

        Example:
            >>> import chainrule as cr
            >>> t = cr.zeros(2, 3, 4)
            >>> t.transpose(0, 2).shape, t.transpose(2, 0, 1).shape, t.transpose().shape
            ((4, 3, 2), (4, 2, 3), (4, 3, 2))
        """
        if len(axes) == 2 and all(isinstance(a, (int, np.integer)) for a in axes):
            return _ops.swapaxes(self, axes[0], axes[1])
        return _ops.transpose(self, _shape_args(axes) if axes else None)

    def permute(self, *axes: int | Sequence[int]) -> Tensor:
        return _ops.transpose(self, _shape_args(axes))

    def swapaxes(self, axis1: int, axis2: int) -> Tensor:
        return _ops.swapaxes(self, axis1, axis2)

    def squeeze(self, axis: int | Sequence[int] | None = None, *, dim: int | Sequence[int] | None = None) -> Tensor:
        return _ops.squeeze(self, axis, dim=dim)

    def unsqueeze(self, axis: int | None = None, *, dim: int | None = None) -> Tensor:
        return _ops.unsqueeze(self, axis, dim=dim)

    def expand(self, *shape: int | Sequence[int]) -> Tensor:
        return _ops.broadcast_to(self, _shape_args(shape))

    def broadcast_to(self, shape: Sequence[int]) -> Tensor:
        return _ops.broadcast_to(self, shape)

    def repeat(self, *repeats: int | Sequence[int]) -> Tensor:
        return _ops.repeat(self, _shape_args(repeats))

    def split(
        self, split_size_or_sections: int | Sequence[int], axis: int | None = None, *, dim: int | None = None
    ) -> list[Tensor]:
        return _ops.split(self, split_size_or_sections, axis, dim=dim)

    def matmul(self, other: ArrayLike) -> Tensor:
        return _ops.matmul(self, other)

    def dot(self, other: ArrayLike) -> Tensor:
        return _ops.dot(self, other)

    def floor(self) -> Tensor:
        """Rounded down; see ``cr.floor``."""
        return _ops.floor(self)

    def ceil(self) -> Tensor:
        """Rounded up; see ``cr.ceil``."""
        return _ops.ceil(self)

    def round(self, *, decimals: int = 0) -> Tensor:
        """Rounded to the nearest (halves to even), or to ``decimals`` places; see ``cr.round``."""
        return _ops.round(self, decimals=decimals)

    def trunc(self) -> Tensor:
        """Rounded toward zero; see ``cr.trunc``."""
        return _ops.trunc(self)

    def frac(self) -> Tensor:
        """The fractional part; see ``cr.frac``."""
        return _ops.frac(self)

    def reciprocal(self) -> Tensor:
        """``1 / self``; see ``cr.reciprocal``."""
        return _ops.reciprocal(self)

    def rsqrt(self) -> Tensor:
        """``1 / sqrt(self)``; see ``cr.rsqrt``."""
        return _ops.rsqrt(self)

    def expm1(self) -> Tensor:
        """``e^self - 1``; see ``cr.expm1``."""
        return _ops.expm1(self)

    def log2(self) -> Tensor:
        """The base-2 logarithm; see ``cr.log2``."""
        return _ops.log2(self)

    def log10(self) -> Tensor:
        """The base-10 logarithm; see ``cr.log10``."""
        return _ops.log10(self)

    def exp2(self) -> Tensor:
        """``2 ** self``; see ``cr.exp2``."""
        return _ops.exp2(self)

    def sinh(self) -> Tensor:
        """The hyperbolic sine; see ``cr.sinh``."""
        return _ops.sinh(self)

    def cosh(self) -> Tensor:
        """The hyperbolic cosine; see ``cr.cosh``."""
        return _ops.cosh(self)

    def atan2(self, other: ArrayLike) -> Tensor:
        """The angle of (other, self); see ``cr.atan2``."""
        return _ops.atan2(self, other)

    arctan2 = atan2

    def hypot(self, other: ArrayLike) -> Tensor:
        """``sqrt(self^2 + other^2)``; see ``cr.hypot``."""
        return _ops.hypot(self, other)

    def logit(self, eps: float | None = None) -> Tensor:
        """``log(self / (1 - self))``; see ``cr.logit``."""
        return _ops.logit(self, eps)

    def nan_to_num(self, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None) -> Tensor:
        """NaN and infinities replaced; see ``cr.nan_to_num``."""
        return _ops.nan_to_num(self, nan, posinf, neginf)

    def fmod(self, other: ArrayLike) -> Tensor:
        """The remainder with the sign of self; see ``cr.fmod``."""
        return _ops.fmod(self, other)

    def remainder(self, other: ArrayLike) -> Tensor:
        """The remainder with the sign of ``other`` (Python's ``%``); see ``cr.remainder``."""
        return _ops.remainder(self, other)

    def lerp(self, end: ArrayLike, weight: Any) -> Tensor:
        """``self + weight * (end - self)``; see ``cr.lerp``."""
        return _ops.lerp(self, end, weight)

    def addcmul(self, tensor1: ArrayLike, tensor2: ArrayLike, *, value: float = 1) -> Tensor:
        """``self + value * tensor1 * tensor2``; see ``cr.addcmul``."""
        return _ops.addcmul(self, tensor1, tensor2, value=value)

    def addcdiv(self, tensor1: ArrayLike, tensor2: ArrayLike, *, value: float = 1) -> Tensor:
        """``self + value * tensor1 / tensor2``; see ``cr.addcdiv``."""
        return _ops.addcdiv(self, tensor1, tensor2, value=value)

    # In place, PyTorch's trailing-underscore forms of the ops above (hand-written optimisers use them)
    def addcmul_(self, tensor1: ArrayLike, tensor2: ArrayLike, *, value: float = 1) -> Tensor:
        """In place: ``self += value * tensor1 * tensor2``; returns self.

        Example:
            >>> import chainrule as cr
            >>> cr.tensor([1.0, 1.0]).addcmul_(cr.tensor([2.0, 3.0]), cr.tensor([2.0, 2.0]), value=0.5)
            tensor([3., 4.])
        """
        return self._in_place("addcmul_", functools.partial(_ops.addcmul, value=value), tensor1, tensor2)

    def addcdiv_(self, tensor1: ArrayLike, tensor2: ArrayLike, *, value: float = 1) -> Tensor:
        """In place: ``self += value * tensor1 / tensor2`` (Adam's update by hand); returns self."""
        return self._in_place("addcdiv_", functools.partial(_ops.addcdiv, value=value), tensor1, tensor2)

    def lerp_(self, end: ArrayLike, weight: Any) -> Tensor:
        """In place: ``self += weight * (end - self)`` (an exponential moving average); returns self."""
        return self._in_place("lerp_", _ops.lerp, end, weight)

    def round_(self, *, decimals: int = 0) -> Tensor:
        """In place: rounded (halves to even), or to ``decimals`` places; returns self."""
        return self._in_place("round_", functools.partial(_ops.round, decimals=decimals))

    def nan_to_num_(self, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None) -> Tensor:
        """In place: NaN and infinities replaced; returns self."""
        return self._in_place("nan_to_num_", _ops.nan_to_num, nan, posinf, neginf)

    def floor_(self) -> Tensor:
        """In place: rounded down; returns self."""
        return self._in_place("floor_", _ops.floor)

    def ceil_(self) -> Tensor:
        """In place: rounded up; returns self."""
        return self._in_place("ceil_", _ops.ceil)

    def trunc_(self) -> Tensor:
        """In place: rounded toward zero; returns self."""
        return self._in_place("trunc_", _ops.trunc)

    def frac_(self) -> Tensor:
        """In place: the fractional part; returns self."""
        return self._in_place("frac_", _ops.frac)

    def reciprocal_(self) -> Tensor:
        """In place: ``1 / self``; returns self."""
        return self._in_place("reciprocal_", _ops.reciprocal)

    def sqrt_(self) -> Tensor:
        """In place: the square root; returns self."""
        return self._in_place("sqrt_", _ops.sqrt)

    def rsqrt_(self) -> Tensor:
        """In place: ``1 / sqrt(self)``; returns self."""
        return self._in_place("rsqrt_", _ops.rsqrt)

    def log_(self) -> Tensor:
        """In place: the natural logarithm; returns self."""
        return self._in_place("log_", _ops.log)

    def log1p_(self) -> Tensor:
        """In place: ``log(1 + self)``; returns self."""
        return self._in_place("log1p_", _ops.log1p)

    def expm1_(self) -> Tensor:
        """In place: ``exp(self) - 1``; returns self."""
        return self._in_place("expm1_", _ops.expm1)

    def sign_(self) -> Tensor:
        """In place: -1, 0 or 1; returns self."""
        return self._in_place("sign_", _ops.sign)

    def fmod_(self, other: ArrayLike) -> Tensor:
        """In place: the remainder with the sign of self; returns self."""
        return self._in_place("fmod_", _ops.fmod, other)

    def remainder_(self, other: ArrayLike) -> Tensor:
        """In place: the remainder with the sign of ``other``; returns self."""
        return self._in_place("remainder_", _ops.remainder, other)

    def logical_xor(self, other: ArrayLike) -> Tensor:
        """Elementwise exclusive or; see ``cr.logical_xor``."""
        return _ops.logical_xor(self, other)

    def unbind(self, dim: int = 0) -> tuple[Tensor, ...]:
        """The slices along ``dim``; see ``cr.unbind``."""
        return _ops.unbind(self, dim)

    def repeat_interleave(
        self, repeats: Any = None, dim: int | None = None, *, output_size: int | None = None
    ) -> Tensor:
        """Each entry repeated ``repeats`` times along ``dim``; see ``cr.repeat_interleave``."""
        if repeats is None:
            return _ops.repeat_interleave(self, output_size=output_size)
        return _ops.repeat_interleave(self, repeats, dim, output_size=output_size)

    def tile(self, *dims: int | Sequence[int]) -> Tensor:
        """Repeated ``dims[i]`` times along dimension i (``t.tile(2, 1)`` or ``t.tile((2, 1))``); see ``cr.tile``."""
        return _ops.tile(self, _shape_args(dims))

    def movedim(self, source: int | Sequence[int], destination: int | Sequence[int]) -> Tensor:
        """The dimensions ``source`` moved to ``destination``; see ``cr.movedim``."""
        return _ops.movedim(self, source, destination)

    moveaxis = movedim

    def narrow(self, dim: int, start: Any, length: int) -> Tensor:
        """The ``length`` entries from ``start`` along ``dim``; see ``cr.narrow``."""
        return _ops.narrow(self, dim, start, length)

    def tensor_split(self, indices_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
        """Cut into pieces along ``dim``; see ``cr.tensor_split``."""
        return _ops.tensor_split(self, indices_or_sections, dim)

    def diag(self, diagonal: int = 0) -> Tensor:
        """A diagonal matrix of a 1-d tensor, or the diagonal of a 2-d one; see ``cr.diag``."""
        return _ops.diag(self, diagonal)

    def trace(self) -> Tensor:
        """The sum of the main diagonal; see ``cr.trace``."""
        return _ops.trace(self)


_TYPE_NAMES = {
    np.dtype(np.float32): "FloatTensor",
    np.dtype(np.float64): "DoubleTensor",
    np.dtype(np.float16): "HalfTensor",
    np.dtype(np.int64): "LongTensor",
    np.dtype(np.int32): "IntTensor",
    np.dtype(np.int16): "ShortTensor",
    np.dtype(np.int8): "CharTensor",
    np.dtype(np.uint8): "ByteTensor",
    np.dtype(np.bool_): "BoolTensor",
}


def _as_dtype(value: Any, op: str) -> np.dtype:
    try:
        return np.dtype(value)
    except TypeError:
        raise TypeError(f"{op}: {value!r} is not a dtype (e.g. cr.float32, cr.long, 'float64')") from None


def _to_arguments(args: tuple, kwargs: dict, op: str) -> np.dtype | None:
    """The dtype asked for by ``to(...)`` (None: keep), after checking any device named."""
    unknown = set(kwargs) - {"device", "dtype", "non_blocking", "copy", "memory_format"}
    if unknown:
        raise TypeError(f"{op}: unexpected keyword argument(s) {sorted(unknown)}")
    dtype = kwargs.get("dtype")
    if "device" in kwargs and kwargs["device"] is not None:
        _device.as_device(kwargs["device"], op)
    if len(args) > 2:
        raise TypeError(f"{op}: expected (device), (dtype), (device, dtype) or (tensor), got {len(args)} arguments")
    for a in args:
        if isinstance(a, Tensor):
            dtype = a._data.dtype
        elif isinstance(a, (str, _device.device)) or (isinstance(a, int) and not isinstance(a, bool)):
            if isinstance(a, str) and a not in ("cpu",) and not a.startswith(("cpu", "cuda", "mps")):
                dtype = _as_dtype(a, op)  # a dtype's name, e.g. "float64"
            else:
                _device.as_device(a, op)
        elif a is not None:
            dtype = _as_dtype(a, op)
    return None if dtype is None else _as_dtype(dtype, op)


def _add_scaled(a: Tensor, other: ArrayLike, alpha: float) -> Tensor:
    return _ops.add(a, other if alpha == 1 else _ops.mul(other, alpha))


def _copy_of(a: Tensor, src: ArrayLike) -> Tensor:
    src = _ops.lift(src)
    if src.dtype != a.dtype:
        src = _ops.cast(src, a.dtype)
    return _ops.broadcast_to(src, a.shape) if src.shape != a.shape else _ops.clone(src)


class _Size(int):
    """A tensor's number of elements (NumPy's ``a.size``) that, called, gives its shape (PyTorch's ``t.size()``)."""

    def __new__(cls, data: np.ndarray) -> _Size:
        size = super().__new__(cls, data.size)
        size.shape = data.shape
        return size

    def __call__(self, dim: int | None = None) -> tuple[int, ...] | int:
        if dim is None:
            return self.shape
        if not -len(self.shape) <= dim < len(self.shape):
            raise IndexError(f"size: dimension {dim} is out of range for a tensor of {len(self.shape)} dimensions")
        return self.shape[dim]


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


def tensor(
    data: ArrayLike, dtype: Any = None, requires_grad: bool = False, name: str | None = None, device: Any = None
) -> Tensor:
    """Make a tensor from data (a new leaf of the graph).

    Example:
        >>> import chainrule as cr
        >>> cr.tensor([[1, 2], [3, 4]]).dtype
        dtype('int64')
        >>> cr.tensor([0.5, 1.5], requires_grad=True)
        tensor([0.5, 1.5], requires_grad=True)
    """
    _check_device(device, "tensor")
    source = data
    if isinstance(data, Tensor) and dtype is None:
        data = data._data.copy()
    elif isinstance(data, np.ndarray) and (dtype is None or np.dtype(dtype) == data.dtype):
        data = data.copy()
    t = Tensor(data, dtype=dtype, requires_grad=requires_grad, name=name)
    if data is not source and _autograd._mode.recorder is not None:  # a copy of a value of a compiled step
        _autograd._mode.recorder.converted(t, source, dtype)
    return t


def is_tensor(obj: Any) -> bool:
    """Whether ``obj`` is a chainrule Tensor.

    Example:
        >>> import chainrule as cr
        >>> cr.is_tensor(cr.tensor([1.0])), cr.is_tensor([1.0])
        (True, False)
    """
    return isinstance(obj, Tensor)


def numel(input: Tensor) -> int:
    """The number of entries of ``input`` (PyTorch's ``torch.numel``; ``t.numel()`` as a method).

    Example:
        >>> import chainrule as cr
        >>> cr.numel(cr.zeros(2, 3))
        6
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"numel: expected a Tensor, got {type(input).__name__}")
    return input._data.size


def _check_device(device: Any, op: str) -> None:
    if device is not None:
        _device.as_device(device, op)


def _factory(fill: Any, shape: tuple, dtype: Any, requires_grad: bool, device: Any = None, op: str = "") -> Tensor:
    _check_device(device, op)
    return Tensor(fill(_shape_args(shape), dtype=np.dtype(dtype or DEFAULT_DTYPE)), requires_grad=requires_grad)


def zeros(*shape: int | Sequence[int], dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """A tensor of zeros (float32 unless ``dtype`` says otherwise).

    Example:
        >>> import chainrule as cr
        >>> cr.zeros(2, 3).shape
        (2, 3)
    """
    return _factory(np.zeros, shape, dtype, requires_grad, device, "zeros")


def ones(*shape: int | Sequence[int], dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """A tensor of ones (float32 unless ``dtype`` says otherwise).

    Example:
        >>> import chainrule as cr
        >>> cr.ones(2, 2)
        tensor([[1., 1.],
                [1., 1.]])
    """
    return _factory(np.ones, shape, dtype, requires_grad, device, "ones")


def full(
    shape: Sequence[int] | int, fill_value: float, dtype: Any = None, requires_grad: bool = False, device: Any = None
) -> Tensor:
    """A tensor filled with ``fill_value``.

    Example:
        >>> import chainrule as cr
        >>> cr.full((2, 3), 7.0)
        tensor([[7., 7., 7.],
                [7., 7., 7.]])
        >>> cr.full((2,), -100).dtype  # an int fills an int64 tensor, as in PyTorch
        dtype('int64')
    """
    _check_device(device, "full")
    shape = (shape,) if isinstance(shape, numbers.Integral) else tuple(shape)
    if isinstance(fill_value, Tensor):
        if fill_value.size != 1:
            raise ValueError(f"full: fill_value must be one number, got a tensor of shape {fill_value.shape}")
        dtype = dtype or fill_value.dtype
        fill_value = fill_value._data.reshape(()).item()
    if dtype is None:  # as PyTorch: the fill value's kind (True: bool, 7: int64, 7.0: the default float)
        if isinstance(fill_value, (bool, np.bool_)):
            dtype = np.bool_
        elif isinstance(fill_value, numbers.Integral):
            dtype = np.int64
        elif isinstance(fill_value, complex):
            dtype = np.complex64
        else:
            dtype = DEFAULT_DTYPE
    return Tensor(np.full(shape, fill_value, dtype=np.dtype(dtype)), requires_grad=requires_grad)


def zeros_like(t: Tensor, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """A tensor of zeros with the shape (and, unless ``dtype`` is given, the dtype) of ``t``.

    Example:
        >>> import chainrule as cr
        >>> cr.zeros_like(cr.ones(2, 3))
        tensor([[0., 0., 0.],
                [0., 0., 0.]])
    """
    _check_device(device, "zeros_like")
    return Tensor(np.zeros_like(_array_of(t), dtype=dtype), requires_grad=requires_grad)


def ones_like(t: Tensor, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """A tensor of ones with the shape (and, unless ``dtype`` is given, the dtype) of ``t``.

    Example:
        >>> import chainrule as cr
        >>> cr.ones_like(cr.zeros(2), dtype='float64')
        tensor([1., 1.], dtype=float64)
    """
    _check_device(device, "ones_like")
    return Tensor(np.ones_like(_array_of(t), dtype=dtype), requires_grad=requires_grad)


def full_like(
    t: Tensor, fill_value: float, dtype: Any = None, requires_grad: bool = False, device: Any = None
) -> Tensor:
    """A tensor filled with ``fill_value``, with the shape (and, unless ``dtype`` is given, the dtype) of ``t``.

    Example:
        >>> import chainrule as cr
        >>> cr.full_like(cr.zeros(2), 3.0)
        tensor([3., 3.])
    """
    _check_device(device, "full_like")
    return Tensor(np.full_like(_array_of(t), fill_value, dtype=dtype), requires_grad=requires_grad)


def empty(*shape: int | Sequence[int], dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """A tensor whose values are whatever the memory held (float32 unless ``dtype`` says otherwise).

    Example:
        >>> import chainrule as cr
        >>> cr.empty(2, 3).shape
        (2, 3)
    """
    return _factory(np.empty, shape, dtype, requires_grad, device, "empty")


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor that shares ``array``'s memory (no copy, dtype kept), as PyTorch's ``from_numpy``:
    writing to one changes the other.

    Example:
        >>> import numpy as np, chainrule as cr
        >>> a = np.zeros(3)
        >>> t = cr.from_numpy(a)
        >>> a[0] = 5.0
        >>> t
        tensor([5., 0., 0.], dtype=float64)
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a NumPy array, got {type(array).__name__}; use cr.tensor for other data")
    return Tensor._make(array if array.dtype.kind in "biuf" else _convert_data(array))  # refuses non-numbers


def as_tensor(data: ArrayLike, dtype: Any = None, device: Any = None) -> Tensor:
    """``data`` as a tensor, sharing memory when it already is one (or an ndarray of that dtype),
    as PyTorch's ``as_tensor``; otherwise a new tensor.

    Example:
        >>> import numpy as np, chainrule as cr
        >>> a = np.ones(2, dtype=np.float32)
        >>> cr.as_tensor(a).numpy() is a, cr.as_tensor([1, 2], dtype=cr.float64).dtype
        (True, dtype('float64'))
    """
    _check_device(device, "as_tensor")
    if isinstance(data, Tensor):
        return data if dtype is None or np.dtype(dtype) == data.dtype else data.astype(dtype)
    if isinstance(data, np.ndarray) and (dtype is None or np.dtype(dtype) == data.dtype) and data.dtype.kind in "biuf":
        return Tensor._make(data)
    return Tensor(data, dtype=dtype)


def _array_of(t: ArrayLike) -> np.ndarray:
    return t._data if isinstance(t, Tensor) else np.asarray(t)


def arange(
    start: float,
    stop: float | None = None,
    step: float = 1,
    dtype: Any = None,
    requires_grad: bool = False,
    device: Any = None,
) -> Tensor:
    """Evenly spaced values, like ``np.arange``: integers stay integers, floats are float32 by default.

    Example:
        >>> import chainrule as cr
        >>> cr.arange(4), cr.arange(0.0, 1.0, 0.25)
        (tensor([0, 1, 2, 3]), tensor([0.  , 0.25, 0.5 , 0.75]))
    """
    _check_device(device, "arange")
    data = np.arange(start, stop, step) if stop is not None else np.arange(start)
    if dtype is None and data.dtype.kind == "f":
        dtype = DEFAULT_DTYPE
    return Tensor(data, dtype=dtype, requires_grad=requires_grad)


def linspace(
    start: float,
    stop: float,
    num: int = 50,
    dtype: Any = None,
    requires_grad: bool = False,
    device: Any = None,
    *,
    steps: int | None = None,
) -> Tensor:
    """``num`` evenly spaced values from ``start`` to ``stop`` (both included), float32 by default.

    Example:
        >>> import chainrule as cr
        >>> cr.linspace(0, 1, 5)
        tensor([0.  , 0.25, 0.5 , 0.75, 1.  ])
    """
    _check_device(device, "linspace")
    num = num if steps is None else steps  # PyTorch's name
    return Tensor(np.linspace(start, stop, num, dtype=np.dtype(dtype or DEFAULT_DTYPE)), requires_grad=requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """The identity matrix (n x m, m = n by default), float32 by default.

    Example:
        >>> import chainrule as cr
        >>> cr.eye(2)
        tensor([[1., 0.],
                [0., 1.]])
    """
    _check_device(device, "eye")
    return Tensor(np.eye(n, m, dtype=np.dtype(dtype or DEFAULT_DTYPE)), requires_grad=requires_grad)


# Imported last: both modules use Tensor, and Tensor's methods call into them at run time.
from chainrule import autograd as _autograd, devices as _device, ops as _ops, random as _random  # noqa: E402
