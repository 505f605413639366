"""The third interpreter of gradient rules: a tracer that records a backward into a plan.

``trace_backward(loss)`` runs an ordinary backward (the leaves' ``.grad`` are filled exactly as a
plain ``loss.backward()`` fills them) while every operation of every gradient rule is written
into a :class:`BackwardPlan`: a list of steps ``out = op(args, params)`` over numbered values. The values a
backward reads from the forward pass (the output's gradient, each node's inputs and outputs) are
the plan's inputs, labelled by where they sit in the graph, so the same plan can be run again
(:meth:`BackwardPlan.run`) on the values of another forward pass of the same shape
(:meth:`BackwardPlan.feed`). ``cr.compile`` records a step's backward with the same tracer
(``chainrule.compiler.recorder.StepTracer``).

The tracer computes every value with the NumPy interpreter as it goes, so tracing costs a plain
backward plus the bookkeeping. A rule's residuals (a fused op's softmax, a recurrent layer's gate
activations) are recomputed from the node's inputs (``ns.residual``), and the arrays a node saved
from its data (an index, a ``where``'s condition, max pooling's winners: ``ns.saved``) are inputs
of the plan too, so that the plan depends on what the forward computed only. Shapes are fixed:
a plan replays a forward pass of the traced shapes and dtypes (``BackwardPlan.run`` checks them).

Example:
    >>> import chainrule as cr
    >>> from chainrule.compiler import trace_backward
    >>> w = cr.tensor([[1.0, 2.0]], requires_grad=True)
    >>> x = cr.tensor([[3.0], [4.0]])
    >>> plan = trace_backward((x @ w).tanh().sum())
    >>> plan.ops()
    ['reshape', 'broadcast_to', 'mul', 'rsub', 'mul', 'swapaxes', 'matmul']
    >>> w.grad.shape
    (1, 2)
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from chainrule.autograd import Function, _root_gradients, _run_backward, _topological_order
from chainrule.interpreters import NUMPY, Interpreter
from chainrule.tensor import Tensor


class Ref(NamedTuple):
    """A reference to value number ``id`` of a plan."""

    id: int


class Step(NamedTuple):
    """One recorded operation: value ``out`` = ``fn(*args, **params)`` (``Ref`` args are values).

    Example:
        >>> import chainrule as cr
        >>> from chainrule.compiler import trace_backward
        >>> plan = trace_backward((cr.tensor([1.0], requires_grad=True) * 3.0).sum())
        >>> step = plan.steps[-1]
        >>> step.op, step.args[1]
        ('mul', Ref(id=5))
    """

    op: str
    fn: Callable[..., Any]
    args: tuple
    params: dict
    out: int


class BackwardPlan:
    """A recorded backward: its inputs, its steps in order, and which values are which gradients.

    ``inputs`` maps a value number to its label: ``("gradient", k)`` for the gradient of root k,
    ``("input", n, i)`` and ``("output", n)`` for input i and the output of the n-th node the walk
    visits, ``("saved", n, name, k)`` for the k-th array the n-th node saved as ``name`` (an index,
    a condition: what ``ns.saved`` hands a rule). ``gradients`` maps the position of each leaf in
    ``leaves`` to the value number of its gradient; ``nodes`` names the op of each node it read.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.compiler import trace_backward
        >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
        >>> plan = trace_backward(x.exp().sum())
        >>> plan
        BackwardPlan(3 inputs, 3 steps, 1 gradients)
        >>> sorted(plan.inputs.values())
        [('gradient', 0), ('input', 0, 0), ('input', 1, 0)]
    """

    def __init__(self) -> None:
        self.inputs: dict[int, tuple] = {}
        self.signature: dict[int, tuple] = {}  # value number of an input -> (shape, dtype) traced
        self.nodes: dict[int, str] = {}
        self.steps: list[Step] = []
        self.leaves: list[Tensor] = []
        self.gradients: dict[int, int] = {}
        self.size = 0

    def ops(self) -> list[str]:
        """The operations of the backward, in the order they ran."""
        return [s.op for s in self.steps]

    def feed(self, outputs: Tensor | Sequence[Tensor], grad_outputs: Any = None) -> dict[tuple, np.ndarray]:
        """The plan's inputs, taken from another forward pass of the same graph (``outputs`` as
        given to ``trace_backward``). Raises ValueError if the graph differs where the plan reads it.

        Example:
            >>> import chainrule as cr
            >>> from chainrule.compiler import trace_backward
            >>> w = cr.tensor([1.0, -2.0], requires_grad=True)
            >>> plan = trace_backward((w * w).sum())
            >>> v = cr.tensor([3.0, 0.5], requires_grad=True)
            >>> plan.run(plan.feed((v * v).sum()))[0]  # 2 v, from the plan recorded on w
            array([6., 1.], dtype=float32)
        """
        roots = [outputs] if isinstance(outputs, Tensor) else list(outputs)
        root_grads = _root_gradients(roots, grad_outputs, isinstance(outputs, Tensor), "BackwardPlan.feed")
        nodes = {}
        for t in reversed(_topological_order(roots)):
            if t.grad_fn is not None:
                nodes[len(nodes)] = t
        feed: dict[tuple, np.ndarray] = {}
        for label in self.inputs.values():
            kind, n = label[0], label[1]
            if kind == "gradient":
                feed[label] = root_grads[n]._data
                continue
            t = nodes.get(n)
            if t is None or t.grad_fn.name != self.nodes[n]:
                found = "nothing" if t is None else t.grad_fn.name
                raise ValueError(
                    f"BackwardPlan.feed: node {n} of the traced graph was {self.nodes[n]}, this graph has {found}"
                )
            if kind == "input":
                feed[label] = t.grad_fn.inputs[label[2]]._data
            elif kind == "output":
                feed[label] = t._data
            else:
                feed[label] = _arrays_in(getattr(t.grad_fn, label[2]))[label[3]]
        return feed

    def run(self, feed: dict[tuple, np.ndarray]) -> list[np.ndarray]:
        """Replay the plan on NumPy: ``feed`` maps every input label to an array of the shape and
        dtype traced (see ``feed``); returns the leaves' gradients in the order of ``leaves``, each
        in memory of its own."""
        env: dict[int, Any] = {}
        for i, label in self.inputs.items():
            if label not in feed:
                missing = [lab for lab in self.inputs.values() if lab not in feed]
                raise KeyError(f"BackwardPlan.run: no value for the plan's inputs {missing}")
            value = np.asarray(feed[label])
            if (value.shape, value.dtype) != self.signature[i]:
                shape, dtype = self.signature[i]
                raise ValueError(
                    f"BackwardPlan.run: input {label} has shape {value.shape} and dtype {value.dtype}; "
                    f"the plan was traced with {shape} and {dtype}"
                )
            env[i] = value

        def resolve(a: Any) -> Any:
            if isinstance(a, Ref):
                return env[a.id]
            if isinstance(a, (tuple, list)):
                return type(a)(resolve(x) for x in a)
            return a

        for step in self.steps:
            env[step.out] = step.fn(*resolve(step.args), **{k: resolve(v) for k, v in step.params.items()})
        results, seen = [], set(self.inputs)
        for k in range(len(self.leaves)):
            i = self.gradients[k]
            value = env[i]
            results.append(value.copy() if i in seen or not value.flags.owndata else value)
            seen.add(i)
        return results

    def __repr__(self) -> str:
        return f"BackwardPlan({len(self.inputs)} inputs, {len(self.steps)} steps, {len(self.leaves)} gradients)"


def _arrays_in(value: Any) -> list[np.ndarray]:
    """The arrays inside a saved value (an array, or a tuple such as an index), in order."""
    if isinstance(value, np.ndarray):
        return [value]
    if isinstance(value, (tuple, list)):
        return [a for v in value for a in _arrays_in(v)]
    return []


class Traced:
    """A value of a traced backward: the array NumPy computed and its number in the plan.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.compiler import Tracer
        >>> tracer = Tracer()
        >>> a = tracer.root_gradient(cr.tensor([1.0, 2.0]))
        >>> b = a * 2.0
        >>> b, b.value, tracer.plan.ops()
        (Traced(%1, shape=(2,), dtype=float32), array([2., 4.], dtype=float32), ['mul'])
    """

    __slots__ = ("value", "id", "tracer")

    def __init__(self, value: np.ndarray, id: int, tracer: Tracer):
        self.value, self.id, self.tracer = value, id, tracer

    shape = property(lambda self: self.value.shape)
    dtype = property(lambda self: self.value.dtype)
    ndim = property(lambda self: self.value.ndim)
    T = property(
        lambda self: self.tracer.record("transpose", NUMPY.transpose, self, tuple(reversed(range(self.value.ndim))))
    )

    def __repr__(self) -> str:
        return f"Traced(%{self.id}, shape={self.shape}, dtype={self.dtype})"

    def __array__(self, *args: Any, **kwargs: Any) -> np.ndarray:
        raise TypeError(_NUMPY_IN_A_RULE)

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Traced:
        """``ndarray (op) traced`` is the operator, recorded; any other NumPy call is refused."""
        op = _OPERATOR_UFUNCS.get(ufunc)
        if op is None or method != "__call__" or kwargs or len(inputs) != 2:
            raise TypeError(_NUMPY_IN_A_RULE)
        return self.tracer.record(op[0], op[1], *inputs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError(
            f"a traced value has no .{name}: a gradient rule uses the interpreter's primitives "
            f"(ns.{name}(x, ...) where the interpreter has one) and Python's operators"
        )


_NUMPY_IN_A_RULE = (
    "a gradient rule called a NumPy function on a traced value: write rules with Python's operators "
    "and the interpreter's primitives (ns.exp, ns.sum, ns.reshape, ...), so that every interpreter "
    "runs them (see chainrule.Function)"
)


def _operator(name: str, fn: Callable, reflected: bool = False) -> Callable:
    if reflected:
        return lambda self, other: self.tracer.record(name, fn, other, self)
    return lambda self, *other: self.tracer.record(name, fn, self, *other)


# the operators a rule may use on traced values: (name, Python's operator, the NumPy ufunc that
# ``ndarray (op) traced`` turns into, whether it has a reflected form)
_OPERATORS = [
    ("add", operator.add, np.add, True),
    ("sub", operator.sub, np.subtract, True),
    ("mul", operator.mul, np.multiply, True),
    ("truediv", operator.truediv, np.true_divide, True),
    ("pow", operator.pow, np.power, True),
    ("matmul", operator.matmul, np.matmul, True),
    ("and", operator.and_, np.bitwise_and, True),
    ("or", operator.or_, np.bitwise_or, True),
    ("gt", operator.gt, np.greater, False),
    ("ge", operator.ge, np.greater_equal, False),
    ("lt", operator.lt, np.less, False),
    ("le", operator.le, np.less_equal, False),
    ("eq", operator.eq, np.equal, False),
    ("ne", operator.ne, np.not_equal, False),
    ("neg", operator.neg, None, False),
    ("getitem", operator.getitem, None, False),
]
_OPERATOR_UFUNCS = {ufunc: (name, fn) for name, fn, ufunc, _ in _OPERATORS if ufunc is not None}
for _name, _fn, _, _reflected in _OPERATORS:
    setattr(Traced, f"__{_name}__", _operator(_name, _fn))
    if _reflected:
        setattr(Traced, f"__r{_name}__", _operator(f"r{_name}", _fn, reflected=True))
Traced.__hash__ = object.__hash__  # (== is an operation here, as on arrays and Tensors)


def _unwrap(a: Any) -> Any:
    if isinstance(a, Traced):
        return a.value
    if isinstance(a, (tuple, list)):
        return type(a)(_unwrap(x) for x in a)
    return a


def _spec(a: Any) -> Any:
    if isinstance(a, Traced):
        return Ref(a.id)
    if isinstance(a, (tuple, list)):
        return type(a)(_spec(x) for x in a)
    return a


# the primitives the tracer records under their own names, computed by the NumPy interpreter
_RECORDED = (
    "exp",
    "log",
    "sin",
    "cos",
    "tanh",
    "sigmoid",
    "relu",
    "where",
    "cast",
    "sum",
    "softmax",
    "reshape",
    "transpose",
    "swapaxes",
    "broadcast_to",
    "index",
    "concat",
    "stack",
    "sum_to_shape",
)


class Tracer(Interpreter):
    """Runs rules like the NumPy interpreter and writes each operation into ``self.plan``.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.compiler import Tracer
        >>> tracer = Tracer()
        >>> g = tracer.root_gradient(cr.tensor([0.0, 1.0]))
        >>> tracer.exp(g).value, tracer.plan.ops()
        (array([1.      , 2.718282], dtype=float32), ['exp'])
    """

    name = "tracer"

    def __init__(self, positions: dict[int, int] | None = None) -> None:
        self.plan = BackwardPlan()
        self._external: dict[Any, Any] = {}  # a forward Tensor's id, or (node, name) -> its plan input
        self._positions = positions or {}  # id of a node -> its place in the graph (labels inputs)
        self._keep: list[Any] = []  # the Tensors behind those ids, alive while tracing
        self._roots = 0

    # ---------------------------------------------------------------- values
    def _new(self, value: Any) -> Traced:
        if value.__class__ is not np.ndarray:
            value = np.asarray(value)
        t = Traced(value, self.plan.size, self)
        self.plan.size += 1
        return t

    def record(self, op: str, fn: Callable, *args: Any, **params: Any) -> Traced:
        out = self._new(fn(*_unwrap(args), **{k: _unwrap(v) for k, v in params.items()}))
        self._write(op, fn, _spec(args), {k: _spec(v) for k, v in params.items()}, out.id)
        return out

    def _write(self, op: str, fn: Callable, args: tuple, params: dict, out: int) -> None:
        """Write one operation (``Ref`` arguments) into the plan."""
        self.plan.steps.append(Step(op, fn, args, params, out))

    def _declare(self, value: np.ndarray, label: tuple) -> Traced:
        t = self._new(value)
        self.plan.inputs[t.id] = label
        self.plan.signature[t.id] = (t.value.shape, t.value.dtype)
        return t

    def _input(self, tensor: Tensor, label: tuple) -> Traced:
        known = self._external.get(id(tensor))
        if known is None:
            known = self._external[id(tensor)] = self._declare(tensor._data, label)
            self._keep.append(tensor)
        return known

    def _node(self, fn: Function) -> int:
        n = self._positions.get(id(fn), -1)
        self.plan.nodes[n] = fn.name
        return n

    # ---------------------------------------------------------------- the walk's interface
    def value(self, x: Any) -> np.ndarray:
        return x.value if isinstance(x, Traced) else np.asarray(x)

    def inputs(self, fn: Function) -> tuple:
        n = self._node(fn)
        return tuple(self._input(t, ("input", n, i)) for i, t in enumerate(fn.inputs))

    def root_gradient(self, g: Tensor) -> Traced:
        self._roots += 1  # one input per root, even when two roots are given the same gradient
        return self._declare(g._data, ("gradient", self._roots - 1))

    def result(self, t: Tensor, g: Traced) -> None:
        self.plan.gradients[len(self.plan.leaves)] = g.id
        self.plan.leaves.append(t)

    def output(self, fn: Function) -> Traced:
        return self._input(fn.output, ("output", self._node(fn)))

    def const(self, array: np.ndarray) -> np.ndarray:
        return array

    def saved(self, fn: Function, name: str) -> Any:
        key = (id(fn), name)
        if key not in self._external:
            n, count = self._node(fn), iter(range(1 << 30))

            def declare(v: Any) -> Any:
                if isinstance(v, np.ndarray):
                    return self._declare(v, ("saved", n, name, next(count)))
                if isinstance(v, (tuple, list)):
                    return type(v)(declare(x) for x in v)
                return v

            self._external[key] = declare(getattr(fn, name))
            self._keep.append(fn)
        return self._external[key]

    def run_rule(self, fn: Function, grad: Traced) -> Any:
        """The gradients ``fn``'s rule gives for ``grad`` (the walk calls this on a tracer)."""
        return fn.backward(self, grad, *self.inputs(fn))

    # ---------------------------------------------------------------- primitives
    def bind(self, op: type, *args: Any, **params: Any) -> Traced:
        return self.record(op.__name__, lambda *a, **p: NUMPY.bind(op, *a, **p), *args, **params)


def _recorder(name: str) -> Callable:
    numpy_method = getattr(NUMPY, name)

    def method(self: Tracer, *args: Any, **params: Any) -> Traced:
        return self.record(name, numpy_method, *args, **params)

    method.__name__ = name
    return method


for _name in _RECORDED:
    setattr(Tracer, _name, _recorder(_name))


def trace_backward(
    outputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool = False,
) -> BackwardPlan:
    """Run ``backward()`` on ``outputs`` (accumulating into the leaves' ``.grad``) and return the
    plan of every operation its gradient rules made.

    Args:
        outputs: the tensor(s) to differentiate, as for ``backward``.
        grad_outputs: their gradients (None for a scalar output).
        retain_graph: keep the graph, to trace or run a backward through it again.

    Returns:
        the :class:`BackwardPlan`; ``plan.leaves`` are the tensors whose ``.grad`` it computes.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.compiler import trace_backward
        >>> w = cr.tensor([2.0, 3.0], requires_grad=True)
        >>> plan = trace_backward((w * w).sum())
        >>> plan.ops(), w.grad
        (['reshape', 'broadcast_to', 'mul', 'mul', 'add'], tensor([4., 6.]))
    """
    roots = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    for r in roots:
        if not r.requires_grad:
            raise RuntimeError("trace_backward: an output does not require grad and has no graph")
    root_grads = _root_gradients(roots, grad_outputs, isinstance(outputs, Tensor), "trace_backward")
    tracer = Tracer(_node_positions(roots))
    _run_backward(roots, root_grads, retain_graph, False, wanted=None, ns=tracer)
    return tracer.plan


def _node_positions(roots: Sequence[Tensor]) -> dict[int, int]:
    """Each node behind ``roots`` numbered in the order the backward walk meets them."""
    positions: dict[int, int] = {}
    for t in reversed(_topological_order(roots)):
        if t.grad_fn is not None:
            positions[id(t.grad_fn)] = len(positions)
    return positions
