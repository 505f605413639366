"""The third interpreter of gradient rules: a tracer that records a backward into a plan.

``trace_backward(loss)`` runs an ordinary backward (the leaves' ``.grad`` are filled exactly as a
plain ``loss.backward()`` fills them) while every operation of every gradient rule is written
into a :class:`Plan`: a list of steps ``out = op(args, params)`` over numbered values. The values a
backward reads from the forward pass (the output's gradient, each node's inputs and outputs) are
the plan's inputs, labelled by where they sit in the graph, so the same plan can be run again
(:meth:`Plan.run`) on the values of another forward pass of the same shape. This is what
``cr.compile`` builds on: record once, replay a fixed plan.

The tracer computes every value with the NumPy interpreter as it goes, so tracing costs a plain
backward plus the bookkeeping. A rule's residuals (a fused op's softmax, a recurrent layer's gate
activations) are recomputed from the node's inputs (``ns.residual``), so that the plan depends on
the forward's inputs and outputs only. Constants of a node (its index arrays, a ``where``'s
condition, a max pooling's winners) enter the plan as they were in the traced pass.

Example:
    >>> import chainrule as cr
    >>> from chainrule.compile import trace_backward
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
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

from chainrule.autograd import Function, _root_gradients, _run_backward, _topological_order
from chainrule.interpreters import NUMPY, Interpreter
from chainrule.tensor import Tensor


class Ref(NamedTuple):
    """A reference to value number ``id`` of a plan."""

    id: int


class Step(NamedTuple):
    """One recorded operation: value ``out`` = ``fn(*args, **params)`` (``Ref`` args are values)."""

    op: str
    fn: Callable[..., Any]
    args: tuple
    params: dict
    out: int


class Plan:
    """A recorded backward: its inputs, its steps in order, and which values are which gradients.

    ``inputs`` maps a value number to its label: ``("gradient", k)`` for the gradient of root k,
    ``("input", n, i)`` and ``("output", n)`` for input i and the output of the n-th node the walk
    visited. ``gradients`` maps the position of each leaf in ``leaves`` to the value number of its
    gradient.
    """

    def __init__(self) -> None:
        self.inputs: dict[int, tuple] = {}
        self.steps: list[Step] = []
        self.leaves: list[Tensor] = []
        self.gradients: dict[int, int] = {}
        self.size = 0

    def ops(self) -> list[str]:
        """The operations of the backward, in the order they ran."""
        return [s.op for s in self.steps]

    def run(self, feed: dict[tuple, np.ndarray]) -> list[np.ndarray]:
        """Replay the plan on NumPy: ``feed`` maps every input label to an array; returns the
        leaves' gradients in the order of ``leaves``."""
        missing = [label for label in self.inputs.values() if label not in feed]
        if missing:
            raise KeyError(f"Plan.run: no value for the plan's inputs {missing}")
        env: dict[int, Any] = {i: feed[label] for i, label in self.inputs.items()}

        def resolve(a: Any) -> Any:
            if isinstance(a, Ref):
                return env[a.id]
            if isinstance(a, (tuple, list)):
                return type(a)(resolve(x) for x in a)
            return a

        for step in self.steps:
            env[step.out] = step.fn(*resolve(step.args), **{k: resolve(v) for k, v in step.params.items()})
        return [env[self.gradients[k]] for k in range(len(self.leaves))]

    def __repr__(self) -> str:
        return f"Plan({len(self.inputs)} inputs, {len(self.steps)} steps, {len(self.leaves)} gradients)"


class Traced:
    """A value of a traced backward: the array NumPy computed and its number in the plan."""

    __slots__ = ("value", "id", "tracer")
    __array_ufunc__ = None  # ndarray (op) Traced defers to Traced's reflected operators

    def __init__(self, value: np.ndarray, id: int, tracer: "Tracer"):
        self.value, self.id, self.tracer = value, id, tracer

    shape = property(lambda self: self.value.shape)
    dtype = property(lambda self: self.value.dtype)
    ndim = property(lambda self: self.value.ndim)
    T = property(lambda self: self.tracer.record("transpose", NUMPY.transpose, self,
                                                   tuple(reversed(range(self.value.ndim)))))

    def __repr__(self) -> str:
        return f"Traced(%{self.id}, shape={self.shape}, dtype={self.dtype})"


def _operator(name: str, fn: Callable, reflected: bool = False) -> Callable:
    if reflected:
        return lambda self, other: self.tracer.record(name, fn, other, self)
    return lambda self, *other: self.tracer.record(name, fn, self, *other)


for _name, _fn in [("add", operator.add), ("sub", operator.sub), ("mul", operator.mul),
                   ("truediv", operator.truediv), ("pow", operator.pow), ("matmul", operator.matmul),
                   ("and", operator.and_), ("or", operator.or_)]:
    setattr(Traced, f"__{_name}__", _operator(_name, _fn))
    setattr(Traced, f"__r{_name}__", _operator(f"r{_name}", _fn, reflected=True))
for _name, _fn in [("neg", operator.neg), ("gt", operator.gt), ("ge", operator.ge), ("lt", operator.lt),
                   ("le", operator.le), ("eq", operator.eq), ("ne", operator.ne),
                   ("getitem", operator.getitem)]:
    setattr(Traced, f"__{_name}__", _operator(_name, _fn))
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
_RECORDED = ("exp", "log", "sin", "cos", "tanh", "sigmoid", "relu", "where", "cast", "sum", "softmax",
             "reshape", "transpose", "swapaxes", "broadcast_to", "index", "concat", "stack", "sum_to_shape")


class Tracer(Interpreter):
    """Runs rules like the NumPy interpreter and writes each operation into ``self.plan``."""

    name = "tracer"

    def __init__(self, positions: dict[int, int] | None = None) -> None:
        self.plan = Plan()
        self._external: dict[int, Traced] = {}  # id of a forward Tensor -> its plan input
        self._positions = positions or {}  # id of a node -> its place in the graph (labels inputs)
        self._keep: list[Any] = []  # the Tensors behind those ids, alive while tracing

    # ---------------------------------------------------------------- values
    def _new(self, value: Any) -> Traced:
        if value.__class__ is not np.ndarray:
            value = np.asarray(value)
        t = Traced(value, self.plan.size, self)
        self.plan.size += 1
        return t

    def record(self, op: str, fn: Callable, *args: Any, **params: Any) -> Traced:
        out = self._new(fn(*_unwrap(args), **{k: _unwrap(v) for k, v in params.items()}))
        self.plan.steps.append(Step(op, fn, _spec(args), {k: _spec(v) for k, v in params.items()}, out.id))
        return out

    def _input(self, tensor: Tensor, label: tuple) -> Traced:
        known = self._external.get(id(tensor))
        if known is None:
            known = self._new(tensor.data)
            self.plan.inputs[known.id] = label
            self._external[id(tensor)] = known
            self._keep.append(tensor)
        return known

    def _node(self, fn: Function) -> int:
        return self._positions.get(id(fn), -1)

    # ---------------------------------------------------------------- the walk's interface
    def value(self, x: Any) -> np.ndarray:
        return x.value if isinstance(x, Traced) else np.asarray(x)

    def inputs(self, fn: Function) -> tuple:
        n = self._node(fn)
        return tuple(self._input(t, ("input", n, i)) for i, t in enumerate(fn.inputs))

    def root_gradient(self, g: Tensor) -> Traced:
        return self._input(g, ("gradient", len([v for v in self.plan.inputs.values() if v[0] == "gradient"])))

    def result(self, t: Tensor, g: Any) -> None:
        if not isinstance(g, Traced):  # a root's gradient handed out as it came: still a plan value
            g = self._new(g)
        self.plan.gradients[len(self.plan.leaves)] = g.id
        self.plan.leaves.append(t)

    def output(self, fn: Function) -> Traced:
        return self._input(fn.output, ("output", self._node(fn)))

    def const(self, array: np.ndarray) -> np.ndarray:
        return array

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
) -> Plan:
    """Run ``backward()`` on ``outputs`` (accumulating into the leaves' ``.grad``) and return the
    plan of every operation its gradient rules made.

    Args:
        outputs: the tensor(s) to differentiate, as for ``backward``.
        grad_outputs: their gradients (None for a scalar output).
        retain_graph: keep the graph, to trace or run a backward through it again.

    Returns:
        the :class:`Plan`; ``plan.leaves`` are the tensors whose ``.grad`` it computes.
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


def feed_of(outputs: Tensor | Sequence[Tensor], grad_outputs: Any = None) -> dict[tuple, np.ndarray]:
    """The input values of a plan taken from another forward pass of the same graph: the roots'
    gradients, then every node's inputs and output, labelled in the order the walk visits them.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.compile import trace_backward, feed_of
        >>> w = cr.tensor([1.0, -2.0], requires_grad=True)
        >>> plan = trace_backward((w * w).sum())
        >>> v = cr.tensor([3.0, 0.5], requires_grad=True)
        >>> plan.run(feed_of((v * v).sum()))[0]  # 2 v, from the plan recorded on w
        array([6., 1.], dtype=float32)
    """
    roots = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    root_grads = _root_gradients(roots, grad_outputs, isinstance(outputs, Tensor), "feed_of")
    feed: dict[tuple, np.ndarray] = {("gradient", k): g.data for k, g in enumerate(root_grads)}
    n = 0  # the nodes numbered as _node_positions numbers them
    for t in reversed(_topological_order(roots)):
        fn = t.grad_fn
        if fn is None:
            continue
        for i, inp in enumerate(fn.inputs):
            feed[("input", n, i)] = inp.data
        feed[("output", n)] = t.data
        n += 1
    return feed
