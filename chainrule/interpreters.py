"""The interpreters of gradient rules: one rule per op, run on arrays, on Tensors or on a tracer.

Every op's gradient rule is written once, as ``Function.backward(self, ns, grad, *inputs)``, in
terms of a small set of primitive operations: Python's operators (``+ - * / ** @``, unary ``-``,
comparisons, ``&``, ``|``, indexing ``x[i]``, ``.T``) and the methods of an *interpreter* ``ns``
handed to it (``ns.exp``, ``ns.sum``, ``ns.reshape``, ...). The same rule then runs three ways:

- ``NUMPY`` (:class:`NumpyInterpreter`): the values are bare ndarrays and every operation is the
  NumPy call. This is a plain ``backward()``: nothing is recorded, no Tensor or node is made per
  gradient, and the walk is as fast as NumPy allows.
- ``TENSOR`` (:class:`TensorInterpreter`): the values are Tensors and every operation is a
  chainrule op, recorded in the graph. This is ``backward(create_graph=True)``: the gradients are
  themselves differentiable (gradients of gradients, Hessian-vector products).
- a tracer (``chainrule.compiler.tracer``): the values are stand-ins that compute with NumPy and
  write every operation into a plan, the op sequence of a backward that ``cr.compile`` replays.

This is the design of HIPS autograd and JAX (one VJP per primitive, several interpreters). Each
method of :class:`Interpreter` below is a primitive a rule may use; each interpreter gives it one
meaning. A new primitive is added to the base class (where it binds the matching ``Function``) and
to the NumPy interpreter (its NumPy call); the others follow from the base class.

Besides the primitives, a rule can ask for values of the forward pass:

- ``ns.output(self)``: the op's output (for ops with ``save_output = True``);
- ``ns.residual(saved, recompute)``: an intermediate the forward computed from the inputs (a fused
  op's softmax, a recurrent layer's gate activations). The NumPy interpreter takes the saved
  array; the others call ``recompute()``, which computes it from the rule's inputs with ``ns``, so
  that gradients of gradients flow through it and a trace depends only on the inputs;
- ``ns.cache(value)``: a forward cache that only speeds up the NumPy interpreter (a convolution's
  im2col columns); the others get None and compute without it;
- ``ns.saved(self, name)``: an array the forward made from its data and the rule uses as a
  constant (an index, a condition, max pooling's winners): a tracer makes it a plan input.

In-place hints: ``ns.iadd(a, b)`` means ``a + b`` (``imul``: ``a * b``, ``itanh``: ``tanh(a)``);
the NumPy interpreter may write the result into ``a``, so a rule uses them only on arrays it made itself, never on its
inputs, its output or the incoming gradient. ``ns.add_at(x, index, values)`` is ``x`` with
``values`` added at ``index``, with the same licence to write into ``x``.

Example (the rule of ``sum`` run by two interpreters, as a backward would run it):
    >>> import numpy as np
    >>> import chainrule as cr
    >>> from chainrule.interpreters import NUMPY, TENSOR
    >>> x = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> node = cr.sum(x, axis=1).grad_fn
    >>> node.backward(NUMPY, np.array([1.0, 10.0]), x.numpy())            # arrays in, an array out
    array([[ 1.,  1.],
           [10., 10.]])
    >>> node.backward(TENSOR, cr.tensor([1.0, 10.0], requires_grad=True), x).requires_grad
    True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from chainrule.autograd import Function
    from chainrule.tensor import Tensor


SPLIT_SUM_MAX = 2**20
"""``sum_axes`` adds the outermost axis first in arrays of at most this many numbers (above it,
NumPy's own reduction is as fast or faster: measured on (256, 64, 32, 32))."""


def sum_axes(x: np.ndarray, axes: tuple[int, ...], keepdims: bool = False) -> Any:
    """``x.sum(axis=axes, keepdims=keepdims)``, faster where NumPy's reduction is slow: over
    several axes of a dense float array, its outermost axis in memory among them and another axis
    kept (a convolution's or BatchNorm's sum over batch and positions, per channel). NumPy walks
    such a reduction element by element (100 us for (100, 25, 5) over (0, 2)); adding the rows of
    the outermost axis first runs on whole contiguous rows, and the rest is then small (9 us). The
    result differs from NumPy's only in rounding (another order of the additions).

    Example:
        >>> import numpy as np
        >>> from chainrule.interpreters import sum_axes
        >>> sum_axes(np.ones((100, 25, 5), np.float32), (0, 2)).shape
        (25,)
    """
    n = x.ndim
    if not (
        isinstance(axes, tuple)
        and 1 < len(axes) < n
        and all(-n <= a < n for a in axes)
        and x.dtype.kind == "f"
        and x.dtype.itemsize >= 4
        and 1 < x.size <= SPLIT_SUM_MAX
        and x.__class__ is np.ndarray
    ):
        return x.sum(axis=axes, keepdims=keepdims)
    ordered = sorted({a % n for a in axes})
    memory = sorted(range(n), key=lambda k: -x.strides[k])  # x's axes, outermost in memory first
    first = memory[0]
    y = x.transpose(memory)  # (a view; C-contiguous when x is a dense array in some axis order)
    if len(ordered) != len(axes) or first not in ordered or x.shape[first] < 2 or not y.flags.c_contiguous:
        return x.sum(axis=axes, keepdims=keepdims)
    if x.size < 64 * x.shape[first]:  # rows too short for the split to pay
        return x.sum(axis=axes, keepdims=keepdims)
    rows = np.add.reduce(y, axis=0)  # (memory order, the first axis gone)
    rest = memory[1:]
    out = rows.sum(axis=tuple(j for j, k in enumerate(rest) if k in ordered))
    kept = [k for k in rest if k not in ordered]  # out's axes, in memory order
    out = out.transpose(np.argsort(kept)) if kept != sorted(kept) else out
    if keepdims:
        out = out.reshape([1 if k in ordered else x.shape[k] for k in range(n)])
    return out


def broadcast_axes(shape: tuple[int, ...], target: tuple[int, ...]) -> tuple[int, ...]:
    """The axes of ``shape`` that broadcasting ``target`` to it added or expanded.

    Example:
        >>> from chainrule.interpreters import broadcast_axes
        >>> broadcast_axes((4, 2, 3), (2, 1))  # (2, 1) was broadcast to (4, 2, 3): sum axes 0 and 2
        (0, 2)
    """
    lead = len(shape) - len(target)
    return tuple(range(lead)) + tuple(lead + i for i, n in enumerate(target) if n == 1 and shape[lead + i] != 1)


def is_advanced_index(index: Any) -> bool:
    """Whether ``index`` (a tuple or one item) holds an integer array (repeats are then possible).

    Example:
        >>> import numpy as np
        >>> from chainrule.interpreters import is_advanced_index
        >>> is_advanced_index((slice(None), 1)), is_advanced_index((np.array([0, 0]),))
        (False, True)
    """
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, (np.ndarray, list)) for i in items)


def index_add(g: np.ndarray, index: Any, shape: Sequence[int]) -> np.ndarray:
    """Zeros of ``shape`` with ``g`` added at ``index`` (repeated indices accumulate)."""
    out = np.zeros(shape, dtype=g.dtype)
    if is_advanced_index(index):
        np.add.at(out, index, g)
    else:  # basic indices (ints, slices) cannot repeat: one assignment
        out[index] = g
    return out


def add_at(x: np.ndarray, index: Any, values: Any) -> np.ndarray:
    """Add ``values`` into ``x`` at ``index``, in place; repeated indices accumulate. Returns ``x``."""
    if is_advanced_index(index):
        np.add.at(x, index, values)
    else:  # basic indices (ints, slices) cannot repeat
        x[index] += values
    return x


class Interpreter:
    """The primitives a gradient rule may call, each defined by binding its ``Function``.

    Subclasses give the values a representation: ndarrays (``NumpyInterpreter``), Tensors
    (``TensorInterpreter``) or tracer values (``chainrule.compiler.tracer.Tracer``).

    Example:
        >>> import numpy as np
        >>> from chainrule.interpreters import NUMPY, TENSOR, Interpreter
        >>> isinstance(NUMPY, Interpreter), NUMPY.records, TENSOR.records
        (True, False, True)
        >>> NUMPY.sum(np.ones((2, 3)), (1,))
        array([3., 3.])
    """

    name = "interpreter"
    records = False  # whether the gradients this interpreter makes are differentiable Tensors

    # ---------------------------------------------------------------- the walk's interface
    def value(self, x: Any) -> np.ndarray:
        """The ndarray behind a value of this interpreter."""
        raise NotImplementedError

    def inputs(self, fn: Function) -> tuple:
        """The inputs of ``fn``'s node as values of this interpreter."""
        raise NotImplementedError

    def root_gradient(self, g: Tensor) -> Any:
        """The gradient a backward starts from (a Tensor) as a value of this interpreter."""
        raise NotImplementedError

    def result(self, t: Tensor, g: Any) -> None:
        """Called with each gradient the walk hands out (a leaf's .grad or a wanted input's)."""

    # ---------------------------------------------------------------- values of the forward pass
    def output(self, fn: Function) -> Any:
        raise NotImplementedError

    def residual(self, saved: Any, recompute: Callable[[], Any]) -> Any:
        return recompute()

    def cache(self, value: Any) -> Any:
        return None

    def saved(self, fn: Function, name: str) -> Any:
        """``fn.<name>``: an array (or a tuple holding arrays) the forward made from its data and the
        rule uses as it is, never differentiated: an index, a ``where``'s condition, the winners of
        max pooling. A tracer makes it an input of the plan, fed anew on each replay."""
        return getattr(fn, name)

    def const(self, array: np.ndarray) -> Any:
        """A constant array (no gradient flows into it)."""
        raise NotImplementedError

    # ---------------------------------------------------------------- primitives
    def bind(self, op: type, *args: Any, **params: Any) -> Any:
        """Run the primitive ``op`` (a ``Function`` class) on ``args``."""
        raise NotImplementedError

    def exp(self, x: Any) -> Any:
        return self.bind(_ops().Exp, x)

    def log(self, x: Any) -> Any:
        return self.bind(_ops().Log, x)

    def sin(self, x: Any) -> Any:
        return self.bind(_ops().Sin, x)

    def cos(self, x: Any) -> Any:
        return self.bind(_ops().Cos, x)

    def tanh(self, x: Any) -> Any:
        return self.bind(_ops().Tanh, x)

    def sigmoid(self, x: Any) -> Any:
        return self.bind(_ops().Sigmoid, x)

    def relu(self, x: Any) -> Any:
        return self.bind(_ops().Relu, x)

    def where(self, condition: Any, a: Any, b: Any) -> Any:
        raise NotImplementedError

    def cast(self, x: Any, dtype: Any) -> Any:
        raise NotImplementedError

    def sum(self, x: Any, axes: tuple[int, ...], keepdims: bool = False) -> Any:
        return self.bind(_ops().Sum, x, axes=tuple(axes), keepdims=keepdims)

    def softmax(self, x: Any, axis: int) -> Any:
        return self.bind(_ops().Softmax, x, axis=axis)

    def cumsum(self, x: Any, axis: int) -> Any:
        return self.bind(_ops().Cumsum, x, axis=axis)

    def cumprod(self, x: Any, axis: int) -> Any:
        return self.bind(_ops().Cumprod, x, axis=axis)

    def einsum(self, subscripts: str, *xs: Any) -> Any:
        """``np.einsum(subscripts, *xs)``, subscripts explicit (``'ij,jk->ik'``), no ``...``."""
        return self.bind(_ops().Einsum, *xs, subscripts=subscripts)

    def reshape(self, x: Any, shape: Sequence[int]) -> Any:
        return self.bind(_ops().Reshape, x, shape=tuple(shape))

    def transpose(self, x: Any, axes: Sequence[int]) -> Any:
        return self.bind(_ops().Transpose, x, axes=tuple(axes))

    def swapaxes(self, x: Any, axis1: int, axis2: int) -> Any:
        axes = list(range(x.ndim))
        axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
        return self.transpose(x, axes)

    def broadcast_to(self, x: Any, shape: Sequence[int]) -> Any:
        return self.bind(_ops().BroadcastTo, x, shape=tuple(shape))

    def index(self, x: Any, index: Any) -> Any:
        return self.bind(_ops().Index, x, index=index)

    def index_add(self, g: Any, index: Any, shape: Sequence[int]) -> Any:
        """Zeros of ``shape`` with ``g`` added at ``index`` (the adjoint of indexing)."""
        return self.bind(_ops().IndexAdd, g, index=index, shape=tuple(shape))

    def add_at(self, x: Any, index: Any, values: Any) -> Any:
        """``x`` with ``values`` added at ``index`` (repeats accumulate); may write into ``x``."""
        return x + self.index_add(values, index, x.shape)

    def concat(self, xs: Sequence[Any], axis: int) -> Any:
        return self.bind(_ops().Concat, *xs, axis=axis)

    def stack(self, xs: Sequence[Any], axis: int = 0) -> Any:
        pieces = []
        for x in xs:
            shape = list(x.shape)
            shape.insert(axis % (x.ndim + 1), 1)
            pieces.append(self.reshape(x, shape))
        return self.concat(pieces, axis)

    def sum_to_shape(self, x: Any, shape: tuple[int, ...]) -> Any:
        """Sum a broadcast gradient back to ``shape``: the one place broadcasting is undone."""
        axes = broadcast_axes(x.shape, shape)
        if axes:
            x = self.sum(x, axes, keepdims=True)
        return x if x.shape == shape else self.reshape(x, shape)

    def steps(self, count: int, rows: Any = None) -> Steps:
        """A store for one value per step of a loop (a recurrent layer's states), read by index
        and as one stacked value; see :class:`Steps`. With ``rows`` (a value with ``count`` rows,
        made by the rule) step s starts as ``rows[s]``, and the NumPy interpreter stores into
        ``rows`` itself."""
        store = Steps(self, count)
        if rows is not None:
            store.values = [rows[s] for s in range(count)]
        return store

    def contiguous(self, x: Any) -> Any:
        """``x`` itself; the NumPy interpreter copies it into C order if it is not (a layout hint)."""
        return x

    def iadd(self, a: Any, b: Any) -> Any:
        return a + b

    def imul(self, a: Any, b: Any) -> Any:
        return a * b

    def itanh(self, a: Any) -> Any:
        return self.tanh(a)


class Steps:
    """One value per step of a loop, all of the same shape: ``steps[s] = v``, ``steps[s]``,
    ``steps.stack()`` (all of them as one value with the steps first).

    This one keeps a list and stacks with its interpreter's ``stack`` (recorded for Tensors).
    """

    def __init__(self, ns: Interpreter, count: int):
        self.ns = ns
        self.values: list[Any] = [None] * count

    def __setitem__(self, s: int, value: Any) -> None:
        self.values[s] = value

    def __getitem__(self, s: int) -> Any:
        return self.values[s]

    def __len__(self) -> int:
        return len(self.values)

    def concat(self, s: int, blocks: Sequence[Any], axis: int) -> Any:
        """Store at step ``s`` the concatenation of ``blocks`` along ``axis`` and return it (the
        NumPy store copies the blocks straight into the step's row, which the rule may then
        update in place)."""
        self.values[s] = self.ns.concat(blocks, axis)
        return self.values[s]

    def stack(self) -> Any:
        return self.ns.stack(self.values)


class NumpySteps:
    """``Steps`` for NumPy: one array for every step, allocated when the first step is stored.

    Storing copies the step's value into its row (unless it was computed there, in place), so a
    loop's temporaries are freed and reused at once and the kept values sit in one block.
    Allocating a fresh array for every kept step instead grew and shrank the heap on every call
    (measured: 7x the page faults and a 16% slower LSTM step), and ``stack()`` is then free.
    """

    def __init__(self, count: int, rows: np.ndarray | None = None):
        self.count = count
        self.array: np.ndarray | None = None
        self.rows: list[np.ndarray] = []
        if rows is not None:
            self._use(rows)

    def _use(self, array: np.ndarray) -> None:
        self.array = array
        self.rows = list(array)  # one view per step, made once: a value computed in place is one of them

    def __setitem__(self, s: int, value: np.ndarray) -> None:
        if self.array is None:
            self._use(np.empty((self.count,) + value.shape, dtype=value.dtype))
        row = self.rows[s]
        if value is not row:
            row[...] = value

    def __getitem__(self, s: int) -> np.ndarray:
        return self.rows[s]

    def __len__(self) -> int:
        return self.count

    def concat(self, s: int, blocks: Sequence[np.ndarray], axis: int) -> np.ndarray:
        if self.array is None:
            shape = list(blocks[0].shape)
            shape[axis] = sum(b.shape[axis] for b in blocks)
            self._use(np.empty((self.count, *shape), dtype=np.result_type(*blocks)))
        row = self.rows[s]
        np.concatenate(blocks, axis=axis, out=row)
        return row

    def stack(self) -> np.ndarray:
        return self.array


_primitives = None


def _ops():
    """chainrule.ops's primitives (imported on first use: the ops modules import autograd)."""
    global _primitives
    if _primitives is None:
        from chainrule.ops import primitives

        _primitives = primitives
    return _primitives


class NumpyInterpreter(Interpreter):
    """Rules on bare ndarrays: a plain backward, as fast as NumPy (nothing recorded).

    Example:
        >>> import numpy as np
        >>> from chainrule.interpreters import NUMPY
        >>> NUMPY.broadcast_to(np.array([1.0, 2.0]), (2, 2))
        array([[1., 2.],
               [1., 2.]])
    """

    name = "numpy"

    def value(self, x: np.ndarray) -> np.ndarray:
        return x

    def inputs(self, fn: Function) -> tuple:
        return tuple(t._data for t in fn.inputs)

    def root_gradient(self, g: Tensor) -> np.ndarray:
        return g._data

    def output(self, fn: Function) -> np.ndarray:
        return fn.output._data

    def residual(self, saved: Any, recompute: Callable[[], Any]) -> Any:
        return saved

    def cache(self, value: Any) -> Any:
        return value

    def const(self, array: np.ndarray) -> np.ndarray:
        return array

    def bind(self, op: type, *args: Any, **params: Any) -> np.ndarray:
        fn = op.__new__(op)
        return fn.forward(*args, **params)

    # NumPy's own functions where they are the primitive (ufuncs are not descriptors: no self)
    exp, log, sin, cos, tanh = np.exp, np.log, np.sin, np.cos, np.tanh

    def relu(self, x: np.ndarray) -> np.ndarray:
        return np.maximum(x, 0)

    def where(self, condition: Any, a: Any, b: Any) -> np.ndarray:
        return np.where(condition, a, b)

    def cast(self, x: np.ndarray, dtype: Any) -> np.ndarray:
        return x.astype(dtype)

    def sum(self, x: np.ndarray, axes: tuple[int, ...], keepdims: bool = False) -> np.ndarray:
        out = sum_axes(x, axes, keepdims)
        return out if out.__class__ is np.ndarray else np.asarray(out)

    def reshape(self, x: np.ndarray, shape: Sequence[int]) -> np.ndarray:
        return x.reshape(shape)

    def cumsum(self, x: np.ndarray, axis: int) -> np.ndarray:
        return np.cumsum(x, axis=axis, dtype=x.dtype)

    def transpose(self, x: np.ndarray, axes: Sequence[int]) -> np.ndarray:
        return x.transpose(axes)

    def swapaxes(self, x: np.ndarray, axis1: int, axis2: int) -> np.ndarray:
        return x.swapaxes(axis1, axis2)

    def broadcast_to(self, x: np.ndarray, shape: Sequence[int]) -> np.ndarray:
        out = np.empty(shape, dtype=x.dtype)  # filled in C, and writable (np.broadcast_to is neither)
        out[...] = x
        return out

    def index(self, x: np.ndarray, index: Any) -> np.ndarray:
        return x[index]

    def index_add(self, g: np.ndarray, index: Any, shape: Sequence[int]) -> np.ndarray:
        return index_add(g, index, shape)

    def add_at(self, x: np.ndarray, index: Any, values: Any) -> np.ndarray:
        return add_at(x, index, values)

    def concat(self, xs: Sequence[np.ndarray], axis: int) -> np.ndarray:
        for x in xs:
            if not x.flags.c_contiguous:  # NumPy would follow the inputs' layout: keep C order
                shape = list(x.shape)
                shape[axis] = sum(y.shape[axis] for y in xs)
                return np.concatenate(xs, axis=axis, out=np.empty(shape, dtype=np.result_type(*xs)))
        return np.concatenate(xs, axis=axis)

    def stack(self, xs: Sequence[np.ndarray], axis: int = 0) -> np.ndarray:
        for x in xs:
            if not x.flags.c_contiguous:  # as concat
                shape = list(x.shape)
                shape.insert(axis % (x.ndim + 1), len(xs))
                return np.stack(xs, axis=axis, out=np.empty(shape, dtype=np.result_type(*xs)))
        return np.stack(xs, axis=axis)

    def steps(self, count: int, rows: np.ndarray | None = None) -> NumpySteps:
        return NumpySteps(count, rows)

    def contiguous(self, x: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(x)

    def iadd(self, a: np.ndarray, b: Any) -> np.ndarray:
        a += b
        return a

    def imul(self, a: np.ndarray, b: Any) -> np.ndarray:
        a *= b
        return a

    def itanh(self, a: np.ndarray) -> np.ndarray:
        return np.tanh(a, out=a)


class TensorInterpreter(Interpreter):
    """Rules on Tensors, every operation recorded: ``create_graph=True`` (gradients of gradients).

    Example:
        >>> import chainrule as cr
        >>> from chainrule.interpreters import TENSOR
        >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
        >>> TENSOR.exp(x)
        tensor([2.7183, 7.3891], grad_fn=<ExpBackward0>)
    """

    name = "tensor"
    records = True

    def value(self, x: Tensor) -> np.ndarray:
        return x._data

    def inputs(self, fn: Function) -> tuple:
        return fn.inputs

    def root_gradient(self, g: Tensor) -> Tensor:
        return g

    def output(self, fn: Function) -> Tensor:
        return fn.output

    def const(self, array: np.ndarray) -> Tensor:
        from chainrule.tensor import Tensor

        return Tensor._make(array)

    def bind(self, op: type, *args: Any, **params: Any) -> Tensor:
        from chainrule.ops.elementwise import lift

        return op.apply(*[lift(a) for a in args], **params)

    def where(self, condition: Any, a: Any, b: Any) -> Tensor:
        from chainrule import ops

        return ops.where(condition, a, b)

    # the ops functions normalise negative axes, which the Functions' rules assume
    def sum(self, x: Tensor, axes: tuple[int, ...], keepdims: bool = False) -> Tensor:
        from chainrule import ops

        return ops.sum(x, axes, keepdims)

    def softmax(self, x: Tensor, axis: int) -> Tensor:
        from chainrule import ops

        return ops.softmax(x, axis)

    def transpose(self, x: Tensor, axes: Sequence[int]) -> Tensor:
        from chainrule import ops

        return ops.transpose(x, axes)

    def concat(self, xs: Sequence[Tensor], axis: int) -> Tensor:
        from chainrule import ops

        return ops.concatenate(xs, axis)

    def stack(self, xs: Sequence[Tensor], axis: int = 0) -> Tensor:
        from chainrule import ops

        return ops.stack(xs, axis)

    def index(self, x: Tensor, index: Any) -> Tensor:
        from chainrule import ops

        return ops.index(x, index)

    def index_add(self, g: Tensor, index: Any, shape: Sequence[int]) -> Tensor:
        from chainrule.ops.shape import unwrap_index

        return self.bind(_ops().IndexAdd, g, index=unwrap_index(index), shape=tuple(shape))

    def cast(self, x: Tensor, dtype: Any) -> Tensor:
        from chainrule import ops

        return ops.cast(x, dtype)


NUMPY = NumpyInterpreter()
TENSOR = TensorInterpreter()

__all__ = [
    "Interpreter",
    "NumpyInterpreter",
    "TensorInterpreter",
    "NUMPY",
    "TENSOR",
    "broadcast_axes",
    "is_advanced_index",
]
