"""The recorder: runs a step eagerly once and writes down everything it did to arrays.

While a :class:`Recorder` is installed (``autograd._mode.recorder``, this thread only), the engine
reports to it:

- every op (``Function.apply``): the op's class, which values it read and its parameters;
- every backward: the walk runs its gradient rules on a :class:`StepTracer`, which computes with
  NumPy and writes each operation of each rule down (the third interpreter of the rules);
- every write into a tensor (``t -= ...``, ``t[i] = ...``, ``.zero_()``, ``.data = ...``,
  ``.grad = ...``) and every call of a stateful library function marked :func:`replayed`
  (``optimizer.step()``, ``zero_grad()``, gradient clipping, a scheduler's ``step()``), which the
  plan calls again, live, on each replay (so learning rates, momentum buffers and step counts
  follow whatever changed them);
- what cannot be replayed (a tensor's value read into Python, a custom Function in PyTorch's
  form, a module with forward hooks, a gradient of a gradient): the recorder is then *refused*,
  stops recording, and the call simply finishes eagerly.

Values are numbered as the tracer numbers them (``Ref``). A tensor that the step did not make
(a parameter, a buffer, a constant) is an ``Ext``: read live from the tensor on each replay. Which
of those are really constants is decided by comparing two recordings (``chainrule.compiler.api``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np

from chainrule.autograd import Function, _grad_hooks, _leaf_hooks, _mode, _run_backward, _topological_order
from chainrule.compiler.tracer import Ref, Traced, Tracer
from chainrule.interpreters import NUMPY, NumpySteps
from chainrule.tensor import Tensor

_FOREIGN_NODE = "a backward through {}, made before the compiled call: the plan cannot rebuild it"


class Refused(Exception):
    """Raised inside the recorder when the step does something a plan cannot replay."""


class Ext(NamedTuple):
    """A tensor the step did not make, read live on each replay: ``obj._data`` (``attr`` "data")
    or ``obj.grad._data`` (``attr`` "grad": the gradient a backward left in a leaf)."""

    obj: Any
    attr: str


class Attribute(NamedTuple):
    """An attribute in the path of a read from a node (``n3.saved['rz'].array``)."""

    name: str

    def __repr__(self) -> str:
        return f".{self.name}"


class Instr(NamedTuple):
    """One recorded instruction. ``kind`` says how ``target``, ``args`` and ``params`` are read
    (see ``chainrule.compiler.program``); ``out`` is the number of the value it makes, or None."""

    kind: str
    out: int | None
    target: Any
    args: tuple
    params: dict
    note: str


class Const:
    """A constant of a plan: an array (or object) both recordings agreed on."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def _map(x: Any, leaf: Callable[[Any], Any]) -> Any:
    """``x`` with ``leaf`` applied to everything inside its tuples, lists and dicts (a named tuple,
    such as a ``Ref``, is a leaf)."""
    if isinstance(x, tuple) and not hasattr(x, "_fields"):
        return tuple(_map(v, leaf) for v in x)
    if isinstance(x, list):
        return [_map(v, leaf) for v in x]
    if isinstance(x, dict):
        return {k: _map(v, leaf) for k, v in x.items()}
    return leaf(x)


def _leaves(x: Any) -> list[Any]:
    """What is inside ``x``'s tuples, lists and dicts, in order."""
    found: list[Any] = []
    _map(x, found.append)
    return found


class StepTracer(Tracer):
    """The tracer of a recorded step: the values of a backward are numbered in the recorder, and
    what a rule reads from the forward (its inputs, output, saved arrays, residuals) is read from
    the replayed forward's values and nodes."""

    name = "step tracer"

    def __init__(self, recorder: Recorder) -> None:
        super().__init__()
        self.rec = recorder
        self.node: Function | None = None  # the node whose rule is running

    def _new(self, value: Any, claim: bool = True) -> Traced:
        if value.__class__ is not np.ndarray:
            value = np.asarray(value)
        return Traced(value, self.rec.new_id(value, claim), self)

    def _write(self, op: str, fn: Callable, args: tuple, params: dict, out: int) -> None:
        self.rec.emit("rule", out, fn, args, params, op)

    def bind(self, op: type, *args: Any, **params: Any) -> Traced:
        return self.record(op.__name__, NUMPY.bind, op, *args, **params)

    def traced(self, t: Tensor) -> Traced:
        """The value of tensor ``t`` as a traced value (a load of it when the step did not make it)."""
        operand = self.rec.operand(t)
        if isinstance(operand, Ref):
            return Traced(t._data, operand.id, self)
        out = self._new(t._data, claim=False)  # the array stays the tensor's: ``operand`` finds the tensor
        self.rec.emit("load", out.id, None, (operand,), {}, "read")
        return out

    def inputs(self, fn: Function) -> tuple:
        self.node = fn
        self.rec.node_of(fn)  # refuses a node the step did not make
        return tuple(self.traced(t) for t in fn.inputs)

    def run_rule(self, fn: Function, grad: Traced) -> Any:
        """``fn``'s rule, recorded operation by operation, or (``fn.traced_rule`` False) as one call of
        the rule on NumPy with the replayed node, whose forward kept what the rule reads."""
        inputs = self.inputs(fn)
        if fn.traced_rule:
            return fn.backward(self, grad, *inputs)
        result = fn.backward(NUMPY, grad.value, *[t.value for t in inputs])
        single = not isinstance(result, tuple)
        results = (result,) if single else result
        needs = tuple(fn.needs(i) for i in range(len(fn.inputs)))
        whole = self._new(np.empty(0), claim=False)  # the rule's tuple of gradients
        node = self.rec.node_of(fn)
        args = (Ref(grad.id), tuple(Ref(t.id) for t in inputs), needs)
        self.rec.emit("whole", whole.id, node, args, {}, f"{fn.name} (gradient, whole)")
        out = []
        for i, g in enumerate(results):
            if g is None:
                out.append(None)
                continue
            t = self._new(g)
            self.rec.emit("item", t.id, None, (Ref(whole.id), i), {}, "gradient")
            out.append(t)
        return out[0] if single else tuple(out)

    def root_gradient(self, g: Tensor) -> Traced:
        return self.traced(g)

    def output(self, fn: Function) -> Traced:
        return self.traced(fn.output)

    def result(self, t: Tensor, g: Traced) -> None:  # (a leaf: retain_grad was refused before the walk)
        self.rec.emit("grad", None, None, (self.rec.operand(t), Ref(g.id)), {}, "accumulate into .grad")
        self.rec.grad_leaves.append(t)

    def saved(self, fn: Function, name: str) -> Any:
        return self._read(fn, name, getattr(fn, name))

    def residual(self, saved: Any, recompute: Callable[[], Any]) -> Any:
        name = self._attribute_holding(saved)
        return recompute() if name is None else self._read(self.node, name, saved)

    def cache(self, value: Any) -> Any:
        name = None if value is None else self._attribute_holding(value)
        return None if name is None else self._read(self.node, name, value)

    def _attribute_holding(self, value: Any) -> str | None:
        for name, v in vars(self.node).items():
            if v is value:
                return name
        return None

    def _read(self, fn: Function, name: str, value: Any, path: tuple = ()) -> Any:
        """``value`` (``fn.<name>`` at ``path``) with each array (or number) in it a traced read of
        the node."""
        if isinstance(value, (np.ndarray, float, int, np.number)) and not isinstance(value, bool):
            out = self._new(value)
            self.rec.emit("read", out.id, self.rec.node_of(fn), (name, path), {}, f"{fn.name}.{name}")
            return out
        if isinstance(value, (tuple, list)):
            return type(value)(self._read(fn, name, v, path + (i,)) for i, v in enumerate(value))
        if isinstance(value, dict):
            return {k: self._read(fn, name, v, path + (k,)) for k, v in value.items()}
        if isinstance(value, NumpySteps):  # a loop's values in one array: that array, by rows
            if value.array is None:
                return []
            whole = self._read(fn, name, value.array, path + (Attribute("array"),))
            return [whole[s] for s in range(value.count)]
        return value


class Recorder:
    """What one eager call of a step did, as a list of :class:`Instr` (see the module docstring).

    Example:
        >>> import chainrule as cr
        >>> from chainrule.compiler.recorder import Recorder
        >>> w = cr.tensor([1.0, 2.0], requires_grad=True)
        >>> with Recorder() as rec:
        ...     loss = (w * w).sum()
        ...     loss.backward()
        >>> [i.note for i in rec.instrs][:2], w.grad
        (['Mul', 'Sum'], tensor([2., 4.]))
    """

    def __init__(self) -> None:
        self.instrs: list[Instr] = []
        self.size = 0
        self.values: dict[int, int] = {}  # id(tensor) -> its value number
        self.arrays: dict[int, int] = {}  # id(ndarray) -> its value number
        self.owners: set[int] = set()  # ids of the arrays of values that own their memory
        self.layout: dict[int, tuple] = {}  # value number -> (shape, dtype, strides) of its array when recorded
        self.nodes: dict[int, int] = {}  # id(node) -> the value number of the op that made it
        self.keep: list[Any] = []  # everything whose id is a key above, alive while recording
        self.externals: list[Tensor] = []  # tensors the step read but did not make, in order
        self.grad_leaves: list[Tensor] = []
        self.modules: list[Any] = []  # modules called, for the plan's training-mode guard
        self.optimizers: list[Any] = []  # optimisers whose step the plan calls
        self.refused: str | None = None
        self.outputs: Any = None  # how the plan returns the call's result (``output_spec``)
        self.spent: dict[int, type] = {}  # value number of a returned tensor -> the op of its freed graph
        self.in_backward = False
        self.changes: list[tuple[Any, str]] = []  # (module, "Class.attribute") the step set (``changed``)
        self._outer: Any = None

    # ---------------------------------------------------------------- install / remove
    def __enter__(self) -> Recorder:
        self._outer = _mode.recorder
        _mode.recorder = self
        return self

    def __exit__(self, *exc: Any) -> None:
        _mode.recorder = self._outer

    def refuse(self, reason: str) -> None:
        """Stop recording (the call goes on eagerly) and remember why."""
        if self.refused is None:
            self.refused = reason
        if _mode.recorder is self:
            _mode.recorder = self._outer

    def finish(self) -> None:
        """Drop what only recording needed (the step's tensors, nodes and arrays, the modules):
        a kept recording is its instructions and result."""
        self.keep, self.values, self.arrays, self.owners, self.nodes = [], {}, {}, set(), {}
        self.externals, self.grad_leaves, self.modules, self.optimizers = [], [], [], []

    # ---------------------------------------------------------------- values
    def new_id(self, value: np.ndarray, claim: bool = True) -> int:
        """A new value number for ``value`` (``claim``: the array is known by that number)."""
        n = self.size
        self.size += 1
        self.layout[n] = (value.shape, value.dtype, value.strides)
        if not claim:
            return n
        self.arrays[id(value)] = n
        if value.base is None:
            self.owners.add(id(value))
        self.keep.append(value)
        return n

    def emit(self, kind: str, out: int | None, target: Any, args: tuple, params: dict, note: str) -> None:
        self.instrs.append(Instr(kind, out, target, args, params, note))

    def bind_tensor(self, t: Tensor, n: int) -> None:
        self.values[id(t)] = n
        self.keep.append(t)

    def node_of(self, fn: Function) -> int:
        n = self.nodes.get(id(fn))
        if n is None:
            raise Refused(_FOREIGN_NODE.format(fn.name))
        return n

    def operand(self, x: Any) -> Any:
        """How the plan refers to ``x``: a ``Ref`` to a value, an ``Ext`` for a tensor read live,
        or ``x`` itself (a constant), with tuples, lists and dicts looked into."""
        if isinstance(x, Tensor):
            n = self.values.get(id(x))
            if n is not None:
                return Ref(n)
            n = self.arrays.get(id(x._data))
            if n is not None:
                self.bind_tensor(x, n)
                return Ref(n)
            self._check_not_view(x._data)
            for leaf in self.grad_leaves + self.externals:
                if leaf.grad is x:
                    return Ext(leaf, "grad")
            if not any(e is x for e in self.externals):
                self.externals.append(x)
            return Ext(x, "data")
        if isinstance(x, np.ndarray):
            n = self.arrays.get(id(x))
            if n is not None:
                return Ref(n)
            self._check_not_view(x)
            return x
        if isinstance(x, (tuple, list)):
            return type(x)(self.operand(v) for v in x)
        if isinstance(x, dict):
            return {k: self.operand(v) for k, v in x.items()}
        return x

    def _check_not_view(self, array: np.ndarray) -> None:
        base = array.base
        while isinstance(base, np.ndarray):
            if id(base) in self.owners:
                raise Refused(
                    "an array that shares memory with a value of the step was made outside chainrule's ops "
                    "(NumPy on a tensor's data): the plan would replay a stale copy"
                )
            base = base.base

    # ---------------------------------------------------------------- the call's inputs and result
    def input(self, leaf: Any, i: int) -> None:
        """Argument leaf ``i`` of the call (a Tensor or an ndarray) is value ``n`` of the plan."""
        tensor = isinstance(leaf, Tensor)
        n = self.new_id(leaf._data if tensor else leaf)
        if tensor:
            self.bind_tensor(leaf, n)
        self.emit("input", n, None, (i, tensor), {}, f"argument {i}")

    def output_spec(self, result: Any) -> Any:
        """How the plan gives back ``result``; refuses a tensor whose graph a caller may still use."""
        for t in _tensors_in(result):
            fn = t.grad_fn
            if fn is not None and fn.inputs is not None and _mode.enabled:
                raise Refused(
                    "it returns a tensor whose graph is still there (a backward outside the compiled function "
                    "would need it): call backward() inside it, or compile a forward under cr.no_grad()"
                )
        spec = self.operand(result)
        for t in _tensors_in(result):  # a loss whose graph a backward spent: handed back like that
            n = self.values.get(id(t))
            if n is not None and t.grad_fn is not None:
                self.spent[n] = type(t.grad_fn)
        return spec

    # ---------------------------------------------------------------- what the engine reports
    def apply(self, cls: type, inputs: tuple, params: dict) -> Tensor:
        """``cls.apply(*inputs, **params)``, run and recorded."""
        _mode.recorder = self._outer
        try:
            out = cls.apply(*inputs, **params)
        finally:
            _mode.recorder = self
        n = self._made("op0" if out._data.ndim == 0 else "op", cls, inputs, params, out, cls.__name__)
        if n is not None and out.grad_fn is not None:
            self.nodes[id(out.grad_fn)] = n
            self.keep.append(out.grad_fn)
        return out

    def pure(self, fn: Callable, tensors: tuple, params: dict, out: Tensor) -> None:
        """A non-differentiable op (``autograd.pure``) made ``out``: recorded as its NumPy call."""
        self._made("pure", fn, tensors, params, out, getattr(fn, "__name__", "pure"))

    def _made(self, kind: str, target: Any, tensors: tuple, params: dict, out: Tensor, note: str) -> int | None:
        """Record that ``target`` made ``out`` from ``tensors`` and ``params``; its value number, or
        None when an operand cannot be replayed (the recorder is refused)."""
        try:
            args = tuple(self.operand(t) for t in tensors)
            ps = {k: self.operand(v) for k, v in params.items()}
        except Refused as refusal:
            self.refuse(str(refusal))
            return None
        n = self.new_id(out._data)
        self.bind_tensor(out, n)
        self.emit(kind, n, target, args, ps, note)
        return n

    def backward(self, roots: list, root_grads: list, retain_graph: bool, create_graph: bool, wanted: Any) -> Any:
        """A backward inside the step, its rules traced; ``.grad`` is filled as eagerly."""
        if create_graph:
            self.refuse("a backward with create_graph=True (gradients of gradients)")
            return _run_backward(roots, root_grads, retain_graph, create_graph, wanted)
        if wanted is not None:
            self.refuse("cr.grad(outputs, inputs) inside the step (use loss.backward())")
            return _run_backward(roots, root_grads, retain_graph, create_graph, wanted)
        for t in _topological_order(roots):
            fn = t.grad_fn
            if fn is not None and id(fn) not in self.nodes:
                self.refuse(_FOREIGN_NODE.format(fn.name))
            elif fn is not None and t._retains_grad:
                self.refuse(".retain_grad() on a tensor the step makes (its .grad exists only in an eager run)")
            elif _grad_hooks and id(t) in _grad_hooks:
                self.refuse("a gradient hook (Tensor.register_hook: Python code a plan does not run)")
            elif fn is None and _leaf_hooks and id(t) in _leaf_hooks:
                hooks = _leaf_hooks[id(t)][1].values()
                if any(getattr(hook, "__wrapped_replayed__", None) is None for hook in hooks):
                    self.refuse("a post-accumulate-grad hook on a leaf (Python code a plan does not run)")
            if self.refused:
                return _run_backward(roots, root_grads, retain_graph, create_graph, wanted)
        tracer = StepTracer(self)
        self.in_backward = True
        try:
            self.emit("backward", None, None, (), {}, "backward")
            return _run_backward(roots, root_grads, retain_graph, False, None, ns=tracer)
        except Refused as refusal:
            # checked above, so not expected: the walk stopped half-way and cannot be finished eagerly
            self.refuse(str(refusal))
            raise RuntimeError(f"cr.compile: {refusal}") from None
        finally:
            self.in_backward = False

    def wrote(self, t: Tensor, kind: str, value: Any = None, index: Any = None) -> None:
        """Tensor ``t`` was written in place: ``kind`` "store" (copied ``value`` in), "fill" (set
        every element to ``value``), "setitem" (``t[index] = value``) or "data" (``.data = value``)."""
        if self.in_backward:
            return
        try:
            if kind == "data" and id(t) in self.values:  # a value of the step takes new memory
                n = self.arrays.get(id(t._data))
                if n is None:
                    raise Refused(".data = <an array the step did not make> on a value of the step")
                self.values[id(t)] = n
                return
            target = self.operand(t)
            self.emit(kind, None, target, (self.operand(value), self.operand(index)), {}, kind)
        except Refused as refusal:
            self.refuse(str(refusal))

    def copied(self, old: Tensor, t: Tensor) -> None:
        """``old`` is a copy of ``t`` made before ``t`` is written (a recorded in-place op)."""
        try:
            source = self.operand(t)
        except Refused as refusal:
            self.refuse(str(refusal))
            return
        n = self.new_id(old._data)
        self.bind_tensor(old, n)
        self.emit("copy", n, None, (source,), {}, "copy")

    def converted(self, t: Tensor, data: Any, dtype: Any) -> None:
        """``Tensor(data, dtype)`` made ``t``: recorded when ``data`` is a value of the step."""
        source = data._data if isinstance(data, Tensor) else data
        if not isinstance(source, np.ndarray) or id(t._data) == id(source):
            return
        n = self.arrays.get(id(source))
        if n is None:
            return
        out = self.new_id(t._data)
        self.bind_tensor(t, out)
        copy = not np.shares_memory(t._data, source)
        self.emit("convert", out, None, (Ref(n),), {"dtype": t._data.dtype, "copy": copy}, "tensor")

    def grad_set(self, t: Tensor, value: Any) -> None:
        """``t.grad = value`` written by the step itself (not by a backward or a replayed call)."""
        if self.in_backward:
            return
        try:
            self.emit(
                "setgrad", None, self.operand(t), (None if value is None else self.operand(value),), {}, ".grad ="
            )
        except Refused as refusal:
            self.refuse(str(refusal))

    def requires_grad_set(self, t: Tensor) -> None:
        """The step turned ``requires_grad`` on or off: fine for a tensor it made (a replay builds no
        graph), not for a parameter (which gradients a plan computes would change)."""
        if id(t) not in self.values and id(t._data) not in self.arrays:
            self.refuse("requires_grad is set during the step on a tensor it did not make (a parameter)")

    def read(self, what: str) -> None:
        """A tensor's value was read into Python (``what``): a plan cannot replay a decision on it."""
        self.refuse(
            f"{what} reads a tensor's value into Python during the step; a plan replays array operations and "
            "cannot follow a branch or a number taken from the data"
        )

    def changed(self, module: Any, what: str) -> None:
        """The step set ``module``'s attribute (``what``): plans assume the modules they call do not
        change (checked when the recording ends, against the modules it called)."""
        self.changes.append((module, what))

    def called_module(self, module: Any) -> None:
        if module._hooked():
            self.refuse(
                f"{type(module).__name__} has hooks (forward or backward: Python code that a plan does not run)"
            )
        elif not any(m is module for m in self.modules):
            self.modules.append(module)

    def event(self, fn: Callable, args: tuple, kwargs: dict) -> Any:
        """A replayed library call (``optimizer.step()``): run now and again on each replay."""
        args = tuple(list(a) if isinstance(a, Iterator) else a for a in args)
        if any(callable(a) and not isinstance(a, (Tensor, type)) for a in (*args[1:], *kwargs.values())):
            self.refuse(f"{fn.__qualname__} was given a function (a closure): a plan cannot replay Python code")
            return fn(*args, **kwargs)
        try:
            # tensors and arrays (a Ref to a value of the step is handed over as a Tensor)
            spec_args = tuple(self.operand(a) if isinstance(a, (Tensor, np.ndarray)) else a for a in args)
            spec_kwargs = {k: self.operand(v) if isinstance(v, (Tensor, np.ndarray)) else v for k, v in kwargs.items()}
        except Refused as refusal:
            self.refuse(str(refusal))
            return fn(*args, **kwargs)
        owner = args[0] if args else None
        if hasattr(owner, "param_groups") and not any(o is owner for o in self.optimizers):
            self.optimizers.append(owner)
        _mode.recorder = self._outer
        try:
            result = fn(*args, **kwargs)
        finally:
            _mode.recorder = self
        n = None
        if isinstance(result, Tensor):
            n = self.new_id(result._data)
            self.bind_tensor(result, n)
        elif result is not None:
            self.refuse(f"{fn.__qualname__} returned {type(result).__name__}, a value a plan cannot hand back")
        self.emit("event", n, fn, spec_args, spec_kwargs, fn.__qualname__)
        return result


def _tensors_in(obj: Any) -> Iterator[Tensor]:
    if isinstance(obj, Tensor):
        yield obj
    elif isinstance(obj, (tuple, list)):
        for item in obj:
            yield from _tensors_in(item)
    elif isinstance(obj, dict):
        for item in obj.values():
            yield from _tensors_in(item)


def replayed(fn: Callable) -> Callable:
    """Mark a stateful library function (an optimiser's ``step``, ``zero_grad``, gradient clipping)
    to be called again, live, on each replay of a compiled step instead of being traced.

    Example:
        >>> from chainrule.compiler.recorder import replayed
        >>> calls = []
        >>> @replayed
        ... def count():
        ...     calls.append(1)
        >>> count(); len(calls)
        1
    """

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        rec = _mode.recorder
        if rec is None:
            return fn(*args, **kwargs)
        return rec.event(fn, args, kwargs)

    call.__wrapped_replayed__ = fn
    return call
