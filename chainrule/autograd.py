"""Reverse-mode automatic differentiation: Function, the graph walk, no_grad, grad and gradcheck.

Every differentiable operation is a ``Function`` subclass with a ``forward`` on ndarrays and one
gradient rule, ``backward``, side by side. The rule is written once against an interpreter
(``chainrule.interpreters``) and the walk chooses which one runs it: ``NUMPY`` for a plain
backward (bare ndarrays, nothing recorded: what training runs), ``TENSOR`` for
``create_graph=True`` (the rule's operations are recorded, so gradients of gradients follow), or
a tracer that records the backward into a plan (``chainrule.compiler``).

The walk (``backward``/``grad``) is one iterative topological sort followed by one reverse sweep
that accumulates the gradients of tensors used more than once. Gradients of broadcast inputs are
summed back to the input's shape in one place (the walk, with ``ns.sum_to_shape``), not in each op.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import itertools
import sys
import threading
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from chainrule.tensor import Tensor


class _GradMode(threading.local):
    enabled = True
    anomaly = False
    recording_rule = False  # a rule is running on Tensors, recorded: NumPy must not see them
    # ids of the tensors on a path to what a ``grad(outputs, inputs)`` call asked for; None: every
    # tensor that requires grad (``backward``). Rules ask ``needs(i)``, which reads it.
    wanted_paths: set[int] | None = None
    # the recorder of a step being compiled (``chainrule.compiler``) in this thread, or None
    recorder: Any = None
    # what ``queue_callback`` collects during a walk, run when it ends; None outside a walk
    final_callbacks: list | None = None


_mode = _GradMode()

# Leaves' post-accumulate-grad hooks (``Tensor.register_post_accumulate_grad_hook``), by the id of
# the leaf: (a weak reference to it, {handle id: hook}). Empty, the walk pays one test per leaf.
_leaf_hooks: dict[int, tuple[Any, dict[int, Callable]]] = {}


def _run_grad_hooks(t: Tensor, g: Any, plain: bool, handed_out: set[int]) -> Any:
    """``t``'s gradient ``g`` after each of its ``register_hook`` hooks (a hook returns None, or a
    gradient to use instead, of ``t``'s shape). ``g`` is an ndarray in a plain backward (the hooks
    get it as a Tensor), a Tensor when the backward is recorded."""
    entry = _grad_hooks.get(id(t))
    if entry is None or entry[0]() is not t:
        return g
    for hook in list(entry[1].values()):
        result = hook(Tensor._make(g) if plain else g)
        if result is None:
            continue
        if plain:
            new = result._data if isinstance(result, Tensor) else np.asarray(result)
        else:  # a recorded backward: a Tensor, so that gradients of gradients go through the hook's ops
            new = result if isinstance(result, Tensor) else Tensor._make(np.asarray(result))
        if new.shape != t.shape:
            raise RuntimeError(
                f"register_hook: a hook of a tensor of shape {t.shape} returned a gradient of shape {new.shape}"
            )
        g = new.astype(t.dtype, copy=False) if plain else new
    if plain:
        handed_out.add(id(g))  # a hook may keep the array it got: no .grad shares it
    return g


def _run_leaf_hooks(t: Tensor) -> None:
    entry = _leaf_hooks.get(id(t))
    if entry is not None and entry[0]() is t:
        for hook in list(entry[1].values()):
            hook(t)


class HookHandle:
    """Returned by ``register_forward_hook`` and ``register_post_accumulate_grad_hook``; ``remove()``
    unregisters the hook (from ``hooks``, its id's entry; ``on_empty`` runs when none is left)."""

    _ids = itertools.count()

    def __init__(self, hooks: dict, on_empty: Callable[[], None] | None = None, extra: tuple[dict, ...] = ()) -> None:
        self._hooks, self._on_empty, self._extra = hooks, on_empty, extra  # extra: tables of the hook's options
        self.id = next(self._ids)

    def remove(self) -> None:
        self._hooks.pop(self.id, None)
        for table in self._extra:
            table.pop(self.id, None)
        if self._on_empty is not None and not self._hooks:
            self._on_empty()

    def __enter__(self) -> HookHandle:  # (PyTorch's handles too: the hook lasts for a with block)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()


# Tensors' gradient hooks (``Tensor.register_hook``), the same way: called with the tensor's
# gradient once the walk has it whole, before it goes on (or into a leaf's ``.grad``).
_grad_hooks: dict[int, tuple[Any, dict[int, Callable]]] = {}


def _add_hook(t: Tensor, hook: Callable, table: dict) -> HookHandle:
    """Register ``hook`` for the tensor ``t`` in ``table`` (``_leaf_hooks`` or ``_grad_hooks``); the
    tensor's entry goes with the tensor, or with its last hook."""
    key = id(t)
    entry = table.get(key)
    if entry is None or entry[0]() is not t:  # (an entry left by a dead tensor with the same id)
        entry = (weakref.ref(t, lambda _, key=key, table=table: table.pop(key, None)), {})
        table[key] = entry
    hooks = entry[1]

    def forget() -> None:
        if table.get(key, (None, None))[1] is hooks:
            del table[key]

    handle = HookHandle(hooks, forget)
    hooks[handle.id] = hook
    return handle


def queue_callback(callback: Callable[[], Any]) -> bool:
    """Run ``callback()`` when the backward now running ends (after its last gradient is
    accumulated), as PyTorch's ``Variable._execution_engine.queue_callback``: how a gradient hook
    arranges work for the end of the backward. Outside a backward it does nothing and returns False.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.autograd import queue_callback
        >>> done = []
        >>> w = cr.tensor([1.0, 2.0], requires_grad=True)
        >>> _ = w.register_post_accumulate_grad_hook(lambda p: queue_callback(lambda: done.append("end")))
        >>> (w * w).sum().backward(); done
        ['end']
    """
    if _mode.final_callbacks is None:
        return False
    _mode.final_callbacks.append(callback)
    return True


class _Writes:
    """In-place writes to tensors, for the check ``backward`` makes (PyTorch's version counters,
    kept as one clock): every write ticks ``clock`` and notes the tensor; every recorded node notes
    the clock when it was made; a node whose input or saved output was written after it was made
    would compute a wrong gradient, and ``backward`` refuses it."""

    clock = 0
    # ticks when something a compiled plan assumes may have changed: a module's attributes, a
    # parameter's shape, whether a tensor requires grad (``cr.compile`` re-records after it)
    structure = 0
    planned: weakref.WeakSet = weakref.WeakSet()  # the modules some compiled plan relies on
    written: dict[int, tuple[Any, int, str]] = {}  # id(tensor) -> (weakref, clock of the write, by what)


_writes = _Writes()
_next_seq = itertools.count().__next__  # numbers the nodes in the order they are made


def mark_modified(tensors: Iterable[Tensor], by: str) -> None:
    """Note that ``tensors`` were written in place (by ``by``, named in the error): a graph that used
    them before the write can no longer be differentiated. Ops and optimisers call this; code that
    writes a tensor's array itself (through ``t.numpy()``) should too.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
        >>> y = x * x
        >>> with cr.no_grad():
        ...     x.numpy()[0] = 5.0
        >>> cr.autograd.mark_modified([x], "my update")
        >>> try:
        ...     y.sum().backward()
        ... except RuntimeError as error:
        ...     print(str(error)[:73])
        backward: an input of Mul (shape (2,)) was modified in place by my update
    """
    w = _writes
    w.clock += 1
    written = w.written
    for t in tensors:
        root = _memory_of(t._data)
        written[id(root)] = (weakref.ref(root), w.clock, by)
    if len(written) > 4096:  # forget the arrays that are gone
        for key in [k for k, (ref, _, _) in written.items() if ref() is None]:
            del written[key]


def zero_grads(params: Iterable[Tensor], set_to_none: bool = True) -> None:
    """Forget the gradients of ``params`` (``p.grad = None``), or with ``set_to_none=False`` write
    zeros into each ``.grad`` in place, as PyTorch (a graph that used one then refuses backward).
    ``Module.zero_grad`` and ``Optimizer.zero_grad`` call this.

    Example:
        >>> import chainrule as cr
        >>> w = cr.ones(2, requires_grad=True)
        >>> (w * 3).sum().backward()
        >>> cr.autograd.zero_grads([w], set_to_none=False)
        >>> w.grad.tolist()
        [0.0, 0.0]
    """
    if not isinstance(set_to_none, (bool, np.bool_)):
        raise TypeError(f"zero_grad: set_to_none must be True or False, got {set_to_none!r}")
    for p in params:
        grad = p._grad
        if set_to_none or grad is None:
            p._grad = None  # (the slot: this is replayed whole by a compiled step)
        elif not grad._data.flags.writeable:  # (a broadcast view: zeros of its own)
            p._grad = Tensor._make(np.zeros(grad._data.shape, grad._data.dtype))
        else:  # written in place, and detached
            grad._data.fill(0)
            mark_modified((grad,), "zero_grad(set_to_none=False)")
            if grad.grad_fn is not None or grad._requires_grad:
                p._grad = Tensor._make(grad._data)


def _memory_of(array: np.ndarray) -> np.ndarray:
    """The array that owns ``array``'s memory (itself, or the base its view was taken from).

    Writes are noted against the memory, not the tensor, as PyTorch's version counters are shared
    by views: a write through a view (``y[0:2]``, ``t.reshape(...)``, ``t.detach()``) is seen by
    every graph that used a tensor over the same memory."""
    base = array.base
    while isinstance(base, np.ndarray):
        array, base = base, base.base
    return array


def _check_not_written(fn: Function) -> None:
    """Raise if a tensor ``fn``'s rule reads (its inputs, its saved output; a custom Function's
    saved tensors) was written after ``fn`` was made."""
    written = _writes.written
    for t, role in fn._guarded():
        if t is None:
            continue
        root = _memory_of(t._data)
        entry = written.get(id(root))
        if entry is not None and entry[1] > fn._clock and entry[0]() is root:
            raise RuntimeError(
                f"backward: {role} of {fn.name} (shape {t.shape}) was modified in place by {entry[2]} after "
                f"{fn.name} used it, so its gradient would be wrong. Write to a copy (t.clone()), or make the "
                "change before building the graph, or run the forward pass again after it"
            )


def _stacklevel_outside(package: str) -> int:
    """The ``stacklevel`` of the first caller outside ``package`` (a module-name prefix), for a
    warning raised by the function that calls this: the warning then names the user's line,
    whichever of the package's functions or modules led to it."""
    frame = sys._getframe(2)  # the warning's function's caller
    level = 2
    while frame is not None and frame.f_globals.get("__name__", "").startswith(package):
        frame = frame.f_back
        level += 1
    return level


def is_grad_enabled() -> bool:
    """Whether operations are being recorded right now.

    Example:
        >>> import chainrule as cr
        >>> with cr.no_grad():
        ...     print(cr.is_grad_enabled())
        False
        >>> cr.is_grad_enabled()
        True
    """
    return _mode.enabled


class _ModeStack(threading.local):
    """The modes a context manager is to put back, one stack per thread: one instance (that of a
    function decorated with ``@no_grad``) may be entered by several threads at once, and each must
    get its own mode back, not the one another thread saved."""

    def __init__(self) -> None:
        self.items: list[bool] = []


class set_grad_enabled(contextlib.ContextDecorator):
    """Turn recording on or off inside a ``with`` block or a decorated function.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([1.0], requires_grad=True)
        >>> with cr.set_grad_enabled(False):
        ...     y = x * 2
        >>> y.requires_grad
        False
    """

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self._previous = _ModeStack()

    def __enter__(self) -> None:
        self._previous.items.append(_mode.enabled)
        _mode.enabled = self.mode

    def __exit__(self, *exc: Any) -> None:
        _mode.enabled = self._previous.items.pop()


class no_grad(set_grad_enabled):
    """Record nothing: results of operations do not require grad (inference, weight updates).

    Works as a context manager and as a decorator, with or without parentheses.

    Example:
        >>> import chainrule as cr
        >>> w = cr.tensor([1.0, 2.0], requires_grad=True)
        >>> with cr.no_grad():
        ...     y = w * 2
        >>> y.requires_grad
        False
        >>> @cr.no_grad
        ... def predict(x):
        ...     return x * w
        >>> predict(cr.tensor([3.0, 4.0])).requires_grad
        False
    """

    def __new__(cls, func: Callable | None = None):
        if func is not None:  # used bare, as `@no_grad`: decorate at once
            return cls()(func)
        return super().__new__(cls)

    def __init__(self, func: Callable | None = None) -> None:
        super().__init__(False)


class inference_mode(set_grad_enabled):
    """PyTorch's ``torch.inference_mode``: here the same as :class:`no_grad` (nothing recorded);
    ``inference_mode(False)`` records as usual. A context manager and a decorator, with or without
    parentheses.

    Example:
        >>> import chainrule as cr
        >>> w = cr.tensor([1.0, 2.0], requires_grad=True)
        >>> with cr.inference_mode():
        ...     y = w * 2
        >>> y.requires_grad
        False
    """

    def __new__(cls, mode: Any = True):
        if callable(mode):  # used bare, as `@inference_mode`: decorate at once
            return cls()(mode)
        return super().__new__(cls)

    def __init__(self, mode: Any = True) -> None:
        if not isinstance(mode, (bool, np.bool_)):
            raise TypeError(f"inference_mode: mode must be True or False, got {mode!r}")
        super().__init__(not mode)


class enable_grad(set_grad_enabled):
    """Record operations again inside a ``no_grad`` region.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([1.0], requires_grad=True)
        >>> with cr.no_grad():
        ...     with cr.enable_grad():
        ...         y = x * 2
        >>> y.requires_grad
        True
    """

    def __init__(self) -> None:
        super().__init__(True)


class set_detect_anomaly:
    """PyTorch's ``set_detect_anomaly(mode)``: turns the NaN check of :class:`detect_anomaly` on
    (or off) at once; as a context manager, the previous setting comes back at its end.

    Example:
        >>> import chainrule as cr
        >>> with cr.autograd.set_detect_anomaly(True):
        ...     cr.autograd.is_anomaly_enabled()
        True
        >>> cr.autograd.is_anomaly_enabled()
        False
    """

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        if not isinstance(mode, (bool, np.bool_)):
            raise TypeError(f"set_detect_anomaly: mode must be True or False, got {mode!r}")
        if not check_nan:
            raise NotImplementedError("set_detect_anomaly: chainrule's anomaly mode is its NaN check (check_nan=True)")
        self._previous = _mode.anomaly
        _mode.anomaly = bool(mode)

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        _mode.anomaly = self._previous


def is_anomaly_enabled() -> bool:
    """Whether backward checks every gradient for NaN (:class:`detect_anomaly`)."""
    return bool(_mode.anomaly)


class detect_anomaly(contextlib.ContextDecorator):
    """Check every gradient made during backward for NaN and name the op that produced it.

    Slower (one ``isnan`` per gradient): use it to hunt a NaN, not for training.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([0.0], requires_grad=True)
        >>> with cr.detect_anomaly():
        ...     cr.sqrt(x).backward(cr.tensor([0.0]))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        FloatingPointError: detect_anomaly: the backward of PowScalar produced NaN ...
    """

    def __init__(self) -> None:
        self._previous = _ModeStack()

    def __enter__(self) -> None:
        self._previous.items.append(_mode.anomaly)
        _mode.anomaly = True

    def __exit__(self, *exc: Any) -> None:
        _mode.anomaly = self._previous.items.pop()


class Function:
    """A differentiable operation: ``forward`` on ndarrays and one gradient rule, ``backward``.

    Subclasses implement

    - ``forward(self, *arrays, **params) -> ndarray``, saving on ``self`` only what the rule needs
      (set ``save_output = True`` to have the output kept, by a weak reference);
    - ``backward(self, ns, grad, *inputs)``, the op's gradient rule, written once: it returns one
      gradient (or None) per input, computed from ``grad`` (the output's gradient) and ``inputs``
      with Python's operators and the primitives of the interpreter ``ns`` (``ns.exp``,
      ``ns.sum``, ``ns.reshape``, ...; see ``chainrule.interpreters``). ``grad`` and ``inputs``
      are values of that interpreter: ndarrays in a plain backward, Tensors when the backward is
      recorded (``create_graph=True``), tracer values when a backward is traced into a plan. So
      one rule gives fast plain gradients, gradients of gradients and compiled steps.

    Inside the rule, ``self.needs(i)`` tells whether input ``i`` wants a gradient (return None
    for it otherwise), ``ns.output(self)`` is the output, and ``ns.residual``/``ns.cache`` give
    what the forward saved. Gradients come back in the output's shape when the op broadcast its
    inputs: the graph walk sums them back to each input's shape, in one place.

    Call an op through ``apply``: ``Exp.apply(x)``. ``apply`` records a node only when grad mode is
    on and an input requires grad; otherwise it is a plain NumPy call plus one wrapper.

    **PyTorch's form works too**, with the same base class: ``@staticmethod forward(ctx, *args)``
    on Tensors (run under ``no_grad``) and ``@staticmethod backward(ctx, *grad_outputs)`` on
    Tensors, returning one gradient (or None) per argument of ``forward``; ``ctx`` is a
    :class:`FunctionCtx` (``save_for_backward``, ``saved_tensors``, ``needs_input_grad``, any
    attribute you set). The form is recognised once, when the class is defined. Such a function
    works in ``backward()``, ``grad()``, ``gradcheck`` and, when its backward is written with
    chainrule operations, under ``create_graph=True`` (see :func:`once_differentiable` otherwise);
    ``cr.compile`` cannot trace it (its backward is Python code on Tensors, not a rule).

    Example:
        >>> import chainrule as cr
        >>> class Cube(cr.Function):
        ...     def forward(self, a):
        ...         return a ** 3
        ...     def backward(self, ns, grad, a):
        ...         return grad * (a * a * 3.0)
        >>> x = cr.tensor([2.0], dtype="float64", requires_grad=True)
        >>> (g,) = cr.grad(Cube.apply(x), x, create_graph=True)   # the rule on Tensors: recorded
        >>> g.requires_grad, g.item(), cr.grad(g, x)[0].item()    # d/dx 3x^2 = 6x
        (True, 12.0, 12.0)

        The same function in PyTorch's form:

        >>> class Cube(cr.autograd.Function):
        ...     @staticmethod
        ...     def forward(ctx, a):
        ...         ctx.save_for_backward(a)
        ...         return a ** 3
        ...     @staticmethod
        ...     def backward(ctx, grad):
        ...         (a,) = ctx.saved_tensors
        ...         return grad * 3.0 * a * a
        >>> y = Cube.apply(x)
        >>> y.backward()
        >>> y.item(), y.grad_fn.name, x.grad.item()
        (8.0, 'Cube', 12.0)
    """

    save_output = False
    # False: a compiled step calls this op's rule whole, on NumPy, instead of recording each of
    # its operations (a rule that is a long loop of small operations: backprop through time)
    traced_rule = True
    # An op may also define ``forward_into(out, *inputs, **params)`` (a staticmethod): its forward
    # written into ``out``; a compiled step then writes the op's output into a buffer it keeps
    # (chainrule.compiler.fusion). ``Linear`` does.
    # a reason to refuse in-place changes to this node's output (named in the error), or None
    in_place_refusal: str | None = None
    _seq: int | None = None  # when it was made (numbered as PyTorch's sequence_nr): the walk's order
    _clock = 1 << 62  # when apply recorded the node (see mark_modified); a node made otherwise is not checked
    inputs: tuple[Tensor, ...] | None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Which form, decided once per class: PyTorch's replaces ``apply`` on that class only, so
        # the engine's own ops keep this ``apply`` and pay nothing per call.
        if _is_pytorch_form(cls):
            _set_up_pytorch_form(cls)
        else:
            _check_rule_form(cls)

    @classmethod
    def apply(cls, *inputs: Tensor, **params: Any) -> Tensor:
        if _mode.recorder is not None:  # a step being compiled: run and recorded
            return _mode.recorder.apply(cls, inputs, params)
        fn = cls.__new__(cls)
        try:
            # One and two inputs spelled out: on Python 3.11 a list comprehension builds and calls a
            # function object, which costs about a third of a microsecond on every op.
            if len(inputs) == 1:
                data = fn.forward(inputs[0]._data, **params)
            elif len(inputs) == 2:
                data = fn.forward(inputs[0]._data, inputs[1]._data, **params)
            else:
                data = fn.forward(*[t._data for t in inputs], **params)
        except ValueError as e:  # free when nothing is raised (zero-cost try)
            raise _named_error(cls, inputs, e) from None
        if _mode.enabled:
            for t in inputs:
                if t._requires_grad:
                    fn.inputs = inputs
                    fn._clock = _writes.clock
                    fn._seq = _next_seq()
                    out = Tensor._make(data, True, fn)
                    if cls.save_output:
                        fn._output_ref = weakref.ref(out)
                    return out
        return Tensor._make(data)

    def forward(self, *arrays: np.ndarray, **params: Any) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} has no forward")

    def backward(self, ns: Any, grad: Any, *inputs: Any) -> Any:
        """The gradient rule: one gradient (or None) per input; see the class docstring."""
        raise NotImplementedError(f"{type(self).__name__} has no backward rule: it cannot be differentiated")

    def needs(self, i: int) -> bool:
        """Whether input ``i`` of this node wants a gradient: it requires grad and, in a
        ``grad(outputs, inputs)`` call, lies on a path to one of ``inputs`` (as in PyTorch, the
        gradients of parameters are not computed when only an input's is asked for)."""
        t = self.inputs[i]
        paths = _mode.wanted_paths
        return t._requires_grad and (paths is None or id(t) in paths)

    def _guarded(self) -> list[tuple[Tensor | None, str]]:
        """The tensors this node's rule reads, which must not be written after it was made."""
        tensors: list[tuple[Tensor | None, str]] = [(t, "an input") for t in self.inputs]
        if self.save_output and getattr(self, "_output_ref", None) is not None:
            tensors.append((self._output_ref(), "the output"))
        return tensors

    @property
    def output(self) -> Tensor:
        out = self._output_ref()
        if out is None:  # the walk holds every tensor it visits, so this means a misuse
            raise RuntimeError(f"{type(self).__name__}: its output was freed before backward")
        return out

    @property
    def name(self) -> str:
        """The op's name, ``'Mul'``; called, PyTorch's name of the node: ``grad_fn.name()`` is
        ``'MulBackward0'``."""
        return NodeName(type(self).__name__)

    def __repr__(self) -> str:  # as the tensor's repr shows it, and PyTorch names its nodes
        return f"<{self.name}Backward0>"

    @property
    def next_functions(self) -> tuple[tuple[Any, int], ...]:
        """PyTorch's view of the graph from this node: per input, ``(the node that made it, its
        output number)``; an :class:`AccumulateGrad` node for a leaf that requires grad; ``(None, 0)``
        for an input that has no gradient.

        Example:
            >>> import chainrule as cr
            >>> w = cr.tensor([2.0], requires_grad=True)
            >>> loss = (w * 3.0).sum()
            >>> loss.grad_fn.next_functions
            ((<MulBackward0>, 0),)
            >>> loss.grad_fn.next_functions[0][0].next_functions[0][0].variable is w
            True
        """
        if self.inputs is None:
            raise RuntimeError(
                f"next_functions: the graph through {self.name} was freed by backward(); call "
                "backward(retain_graph=True) to walk it afterwards"
            )
        edges: list[tuple[Any, int]] = []
        for t in self.inputs:
            fn = t.grad_fn
            if fn is None:
                edges.append((accumulate_grad(t), 0) if t._requires_grad else (None, 0))
            elif isinstance(fn, _OutputSlot):  # one output of a custom Function with several
                edges.append((fn.owner, fn.index))
            else:
                edges.append((fn, 0))
        return tuple(edges)

    def _free(self) -> None:
        """Drop the inputs and everything saved for backward (the graph is then freed)."""
        self.__dict__.clear()
        self.inputs = None


class NodeName(str):
    """A node's op name (``'Mul'``), which called gives PyTorch's name of the node
    (``'MulBackward0'``), so that both ``grad_fn.name`` and PyTorch's ``grad_fn.name()`` read."""

    __slots__ = ()

    def __call__(self) -> str:
        return f"{self}Backward0"


class AccumulateGrad:
    """The node PyTorch shows for a leaf that requires grad, in ``next_functions``: its gradient is
    accumulated into ``variable.grad``. chainrule's graph has no such node; this is its view.

    Example:
        >>> import chainrule as cr
        >>> w = cr.tensor([1.0], requires_grad=True)
        >>> node = (w * 2.0).grad_fn.next_functions[0][0]
        >>> node.name(), node.variable is w, node.next_functions
        ('AccumulateGrad', True, ())
    """

    next_functions: tuple = ()

    def __init__(self, variable: Tensor) -> None:
        self.variable = variable

    def name(self) -> str:
        return "AccumulateGrad"

    def __repr__(self) -> str:
        return "<AccumulateGrad>"


# one AccumulateGrad per leaf while someone holds it (PyTorch's are kept per tensor), so that a walk
# over next_functions sees a leaf used twice as one node
_accumulators: weakref.WeakValueDictionary[int, AccumulateGrad] = weakref.WeakValueDictionary()


def accumulate_grad(t: Tensor) -> AccumulateGrad:
    """The :class:`AccumulateGrad` node of leaf ``t``."""
    node = _accumulators.get(id(t))
    if node is None or node.variable is not t:
        node = _accumulators[id(t)] = AccumulateGrad(t)
    return node


def pure(fn: Callable[..., Any], *tensors: Tensor, **params: Any) -> Tensor:
    """``fn`` of the tensors' arrays, with no gradient: an op that is not differentiable (a
    comparison, an index of the maximum, a conversion of integers). One NumPy call and no node;
    a step being compiled records it, so that a replay computes it again from that call's values.

    Example:
        >>> import numpy as np
        >>> import chainrule as cr
        >>> from chainrule.autograd import pure
        >>> pure(np.greater, cr.tensor([1.0, 3.0]), cr.tensor(2.0))
        tensor([False,  True])
    """
    if len(tensors) == 1:
        data = fn(tensors[0]._data, **params)
    else:
        data = fn(*[t._data for t in tensors], **params)
    out = Tensor._make(data)
    if _mode.recorder is not None:
        _mode.recorder.pure(fn, tensors, params, out)
    return out


_RULE_FORM = (
    "a gradient rule is written backward(self, ns, grad, *inputs): the interpreter ns (ns.exp, "
    "ns.sum, ...), the output's gradient, then one parameter per input of the op; see chainrule.Function. "
    "Or write the function in PyTorch's form: @staticmethod def forward(ctx, *args) and "
    "@staticmethod def backward(ctx, *grad_outputs), on Tensors"
)


def _check_rule_form(cls: type) -> None:
    """Refuse, when the class is defined, a ``backward`` in the old form ``backward(self, grad)``."""
    rule = getattr(cls, "backward", None)
    if rule is Function.backward:
        return
    if not callable(rule):
        raise TypeError(f"{cls.__name__}.backward is {rule!r}, not a method: {_RULE_FORM}")
    try:
        params = list(inspect.signature(rule).parameters.values())
    except (TypeError, ValueError):  # not introspectable (a C function, a partial): checked when it runs
        return
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    var_positional = any(p.kind is p.VAR_POSITIONAL for p in params)
    second = positional[1].name if len(positional) > 1 else ""
    if second in ("grad", "grad_output", "grad_outputs", "g", "gy") or (len(positional) < 3 and not var_positional):
        raise TypeError(f"{cls.__name__}.backward({', '.join(p.name for p in params)}): {_RULE_FORM}")


def _rule_call_error(fn: Function, count: int, error: TypeError) -> TypeError | None:
    """A clear error when ``fn``'s rule cannot take its interpreter, gradient and ``count`` inputs."""
    try:
        inspect.signature(fn.backward).bind(None, None, *range(count))
    except TypeError:
        return TypeError(f"{fn.name}.backward cannot take the op's {count} input(s) ({error}): {_RULE_FORM}")
    except ValueError:
        return None
    return None


def _named_error(cls: type, inputs: Sequence[Tensor], error: ValueError) -> ValueError:
    """The error of a failed forward, made to name the op and its input shapes.

    Our ops raise messages that start with their name ("matmul: shapes ..."): those pass through.
    A bare NumPy message ("operands could not be broadcast together ...") gets the op's name and
    the shapes of its inputs in front.
    """
    message = str(error)
    head, sep, _ = message.partition(": ")
    if sep and head.isidentifier() and head.islower():
        return error
    shapes = [str(t.shape) for t in inputs]
    listed = shapes[0] if len(shapes) == 1 else ", ".join(shapes[:-1]) + " and " + shapes[-1]
    noun = "input of shape" if len(shapes) == 1 else "inputs of shapes"
    return ValueError(f"{cls.__name__}: {noun} {listed}: {message.strip()}")


# ------------------------------------------------------------------ custom functions in PyTorch's form


def _is_pytorch_form(cls: type) -> bool:
    """Whether ``cls`` is written in PyTorch's form (static ``forward``/``backward`` taking ``ctx``).

    Both static: PyTorch's form. Neither: chainrule's op form (checked by ``_check_rule_form``).
    One of them only: a mix of the two, refused with both forms named."""
    forward_static = isinstance(inspect.getattr_static(cls, "forward", None), staticmethod)
    backward_static = isinstance(inspect.getattr_static(cls, "backward", None), staticmethod)
    if forward_static and backward_static:
        return True
    if forward_static or backward_static:
        static, plain = ("forward", "backward") if forward_static else ("backward", "forward")
        raise TypeError(
            f"{cls.__name__}: {static} is a staticmethod but {plain} is not. A custom Function is written in "
            f"one of two forms: PyTorch's, @staticmethod def forward(ctx, *args) and @staticmethod def "
            f"backward(ctx, *grad_outputs) on Tensors, called as {cls.__name__}.apply(...); or chainrule's op "
            "form, def forward(self, *arrays) on ndarrays and the rule def backward(self, ns, grad, *inputs)"
        )
    return False


def _set_up_pytorch_form(cls: type) -> None:
    """Give a class in PyTorch's form its ``apply`` and its node classes.

    The node classes take the function's own name, as the engine's ops' nodes do (``Mul``), so
    that a tensor's ``grad_fn`` reads the same way for both; errors call the node ``<Name>Backward``
    as PyTorch does."""
    setup_context = inspect.getattr_static(cls, "setup_context", None)
    if setup_context is not None and not isinstance(setup_context, staticmethod):
        raise TypeError(f"{cls.__name__}.setup_context must be a staticmethod: setup_context(ctx, inputs, output)")
    cls._setup_context = cls.setup_context if setup_context is not None else None
    cls._once_differentiable = getattr(cls.backward, "_once_differentiable", False)
    names = {"function": cls, "__module__": cls.__module__, "__qualname__": cls.__qualname__}
    cls._node_class = type(cls.__name__, (_CustomNode,), dict(names))
    cls._slot_class = type(cls.__name__, (_OutputSlot,), dict(names))
    cls.apply = classmethod(_apply_pytorch_form)


def once_differentiable(backward: Callable) -> Callable:
    """Mark a custom Function's ``backward`` as not differentiable itself (PyTorch's decorator).

    The backward then runs under ``no_grad`` (so it may use NumPy freely), and gradients taken with
    ``create_graph=True`` through it raise a clear error when they are differentiated again, rather
    than silently missing a term. Put it under ``@staticmethod``.

    Example:
        >>> import numpy as np
        >>> import chainrule as cr
        >>> from chainrule.autograd import once_differentiable
        >>> class Square(cr.autograd.Function):
        ...     @staticmethod
        ...     def forward(ctx, x):
        ...         ctx.save_for_backward(x)
        ...         return x * x
        ...     @staticmethod
        ...     @once_differentiable
        ...     def backward(ctx, grad):
        ...         (x,) = ctx.saved_tensors
        ...         return cr.tensor(2 * np.asarray(x) * np.asarray(grad))
        >>> x = cr.tensor([3.0], requires_grad=True)
        >>> Square.apply(x).backward()
        >>> x.grad
        tensor([6.])
    """
    if isinstance(backward, staticmethod):  # written above @staticmethod: keep it static
        return staticmethod(once_differentiable(backward.__func__))

    @functools.wraps(backward)
    def run_without_recording(ctx: Any, *grad_outputs: Any) -> Any:
        with no_grad():
            return backward(ctx, *grad_outputs)

    run_without_recording._once_differentiable = True
    return run_without_recording


class FunctionCtx:
    """The ``ctx`` a custom Function in PyTorch's form gets: what ``forward`` leaves for ``backward``.

    - ``save_for_backward(*tensors)`` / ``saved_tensors``: tensors kept for the backward; one of
      them written in place afterwards makes the backward raise (its gradient would be wrong);
    - ``needs_input_grad``: one bool per argument of ``forward``, whether it is a tensor that
      requires grad (as in PyTorch, also under ``no_grad``, where no gradient will be asked for);
    - ``mark_non_differentiable(*outputs)``: outputs that get no gradient (indices, masks);
    - ``set_materialize_grads(False)``: hand ``backward`` None, not zeros, for outputs that got
      no gradient;
    - any other attribute you set (``ctx.scale = 3``): for values that are not tensors.

    Example:
        >>> import chainrule as cr
        >>> class Scale(cr.autograd.Function):
        ...     @staticmethod
        ...     def forward(ctx, x, factor):
        ...         ctx.factor = factor
        ...         print(ctx.needs_input_grad)
        ...         return x * factor
        ...     @staticmethod
        ...     def backward(ctx, grad):
        ...         return grad * ctx.factor, None  # no gradient for the number
        >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
        >>> Scale.apply(x, 3.0).sum().backward()
        (True, False)
        >>> x.grad
        tensor([3., 3.])
    """

    def __init__(self, needs_input_grad: tuple[bool, ...]) -> None:
        self.needs_input_grad = needs_input_grad
        self.materialize_grads = True
        self._saved: tuple[Tensor | None, ...] = ()
        self._saved_outputs: dict[int, tuple[Any, int]] = {}  # position in _saved -> (weakref, output index)
        self._non_differentiable: set[int] = set()
        self._node: Any = None  # a weak reference to the node, once the graph is recorded

    def save_for_backward(self, *tensors: Tensor | None) -> None:
        """Keep ``tensors`` (or None) for ``backward``, where ``saved_tensors`` returns them."""
        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(
                    f"save_for_backward can only save tensors (or None), but argument {i} is of type "
                    f"{type(t).__name__}: keep other values as attributes of ctx (ctx.name = value)"
                )
        self._saved = tensors

    @property
    def saved_tensors(self) -> tuple[Tensor | None, ...]:
        """The tensors given to ``save_for_backward``, in order (an output saved there comes back as
        the tensor ``apply`` returned, so gradients of gradients flow through it)."""
        if not self._saved_outputs:
            return self._saved
        node = self._node() if self._node is not None else None
        return tuple(self._saved_output(i, node) if i in self._saved_outputs else t for i, t in enumerate(self._saved))

    def _saved_output(self, i: int, node: Any) -> Tensor:
        ref, j = self._saved_outputs[i]
        out = ref()
        if out is None:  # an output of a multi-output function that nobody kept: made again
            data = self._saved[i]._data
            out = node._remake_output(j, data) if node is not None else Tensor._make(data)
        return out

    def mark_non_differentiable(self, *outputs: Tensor) -> None:
        """Outputs of ``forward`` that get no gradient (their ``requires_grad`` is False)."""
        self._non_differentiable.update(id(t) for t in outputs)

    def set_materialize_grads(self, value: bool) -> None:
        """Whether ``backward`` gets zeros (True, the default) or None for outputs without a gradient."""
        self.materialize_grads = bool(value)

    def mark_dirty(self, *tensors: Tensor) -> None:
        """Not supported: a custom Function here may not modify its inputs in place."""
        raise NotImplementedError(
            "ctx.mark_dirty: chainrule's custom Functions cannot modify their inputs in place; "
            "return a new tensor (x.clone(), then change the copy) instead"
        )


def _apply_pytorch_form(cls: type, *args: Any, **kwargs: Any) -> Any:
    """``apply`` of a custom Function in PyTorch's form: forward under no_grad, then one node."""
    if _mode.recorder is not None:
        _mode.recorder.refuse(f"the custom Function {cls.__name__} in PyTorch's form (its backward is Python code)")
    recording = _mode.enabled
    # as in PyTorch, whether each argument requires grad, even under no_grad (no node is made then)
    needs = tuple(isinstance(a, Tensor) and a._requires_grad for a in args)
    ctx = FunctionCtx(needs)
    _mode.enabled = False
    try:
        if cls._setup_context is None:
            out = cls.forward(ctx, *args, **kwargs)
        else:  # the newer form: forward(*args) without ctx, then setup_context(ctx, inputs, output)
            out = cls.forward(*args, **kwargs)
            bound = inspect.signature(cls.forward).bind(*args, **kwargs)
            bound.apply_defaults()
            cls._setup_context(ctx, bound.args, out)
    finally:
        _mode.enabled = recording
    single = not isinstance(out, tuple)
    outputs = [out] if single else list(out)
    graph = recording and any(needs)
    for j, o in enumerate(outputs):
        if isinstance(o, np.ndarray):
            outputs[j] = Tensor._make(o)
        elif isinstance(o, Tensor) and o._requires_grad and (not graph or id(o) in ctx._non_differentiable):
            outputs[j] = o.detach()  # an input handed back, or a tensor from outside: no gradient here
    if graph:
        _record_custom_node(cls, ctx, args, outputs)
    return outputs[0] if single else tuple(outputs)


def _record_custom_node(cls: type, ctx: FunctionCtx, args: tuple, outputs: list) -> None:
    """Make the node of one call of ``cls`` and put it behind the differentiable ``outputs``."""
    differentiable = [
        j
        for j, o in enumerate(outputs)
        if isinstance(o, Tensor) and o._data.dtype.kind == "f" and id(o) not in ctx._non_differentiable
    ]
    if not differentiable:
        return
    node = cls._node_class.__new__(cls._node_class)
    node._seq = _next_seq()
    positions = tuple(i for i, a in enumerate(args) if isinstance(a, Tensor))
    node.inputs = tuple(args[i] for i in positions)
    node.made_by = tuple(t.grad_fn for t in node.inputs)  # (an in-place op after this re-points one)
    node.needed = tuple(t._requires_grad for t in node.inputs)  # (its edges: an input that did not stays out)
    node.ctx, node.positions, node.count = ctx, positions, len(args)
    node.outputs = [(o.shape, o.dtype) if isinstance(o, Tensor) else None for o in outputs]
    node.slots, node.touched = None, set()
    originals = {id(outputs[j]): j for j in differentiable if not any(outputs[j] is a for a in args)}
    if len(differentiable) == 1:
        j = differentiable[0]
        outputs[j] = Tensor._make(outputs[j]._data, True, node)
        node.single = j
    else:  # several outputs: one packed tensor (no memory) behind them, one slot node per output
        dtype = np.result_type(*[outputs[j].dtype for j in differentiable])
        node.slots, start = [], 0
        for j in differentiable:
            node.slots.append((j, start, start + outputs[j]._data.size))
            start += outputs[j]._data.size
        packed = Tensor._make(np.broadcast_to(np.zeros((), dtype), (start,)), True, node)
        node.packed = weakref.ref(packed)
        for j in differentiable:
            outputs[j] = node._slot(j, packed, outputs[j]._data)
    for i, t in enumerate(ctx._saved):  # a saved output: the returned tensor, held weakly (no cycle)
        j = originals.get(id(t))
        if j is not None:
            ctx._saved_outputs[i] = (weakref.ref(outputs[j]), j)
    ctx._node = weakref.ref(node)
    node._clock = _writes.clock


class _CustomNode(Function):
    """The node of one call of a custom Function in PyTorch's form (its class takes the function's name).

    Its rule hands the output gradients to the user's ``backward`` as Tensors: under ``no_grad`` in a
    plain backward, recorded under ``create_graph=True``; then checks what comes back."""

    function: type  # the custom Function, set on each subclass

    @property
    def name(self) -> str:
        return NodeName(self.function.__name__)

    def _guarded(self) -> list[tuple[Tensor | None, str]]:
        return [(t, f"saved tensor {i}") for i, t in enumerate(self.ctx.saved_tensors)]

    def _slot(self, j: int, packed: Tensor, data: np.ndarray) -> Tensor:
        slot = self.function._slot_class.__new__(self.function._slot_class)
        slot.inputs, slot.owner, slot.index, slot._clock = (packed,), self, j, _writes.clock
        slot._seq = _next_seq()
        return Tensor._make(data, True, slot)

    def _remake_output(self, j: int, data: np.ndarray) -> Tensor:
        """Output ``j`` (holding ``data``) made again on this node, its tensor having been freed: a
        saved output of a function with several outputs, of which the caller kept only some."""
        packed = self.packed() if self.slots is not None else None
        return self._slot(j, packed, data) if packed is not None else Tensor._make(data)

    def backward(self, ns: Any, grad: Any, *inputs: Any) -> Any:
        for t, made_by, needed in zip(self.inputs, self.made_by, self.needed):
            if needed and t.grad_fn is not made_by:  # (its values may change: the user's backward may not read them)
                raise RuntimeError(
                    f"backward: an input of {self.name} (shape {t.shape}) was changed by a recorded in-place "
                    f"operation ({t.grad_fn.name if t.grad_fn is not None else 'detach_'}) after {self.name} used "
                    "it, so its gradient would go through that change. Change a copy (t = t.clone()), or make "
                    "the change under `with cr.no_grad():` if it must not be differentiated"
                )
        plain = ns is _NUMPY
        if not plain and not ns.records:
            raise TypeError(
                f"{self.name}: a custom Function in PyTorch's form cannot be traced ({ns.name}): its backward "
                "is Python code on Tensors. Run it uncompiled, or write it in chainrule's op form "
                "(backward(self, ns, grad, *inputs)) to compile it"
            )
        ctx, function = self.ctx, self.function
        grads = self._output_gradients(ns, grad, plain)
        once = function._once_differentiable
        previous = _mode.recording_rule
        _mode.recording_rule = _mode.recording_rule and not once
        try:
            result = function.backward(ctx, *grads)
        except RuntimeError as error:
            if not str(error).startswith("a gradient rule called a NumPy function"):
                raise
            raise RuntimeError(
                f"{self.name}.backward used NumPy on a Tensor that requires grad while the backward is recorded "
                "(create_graph=True), so gradients of gradients through it would be wrong. Write it with "
                "chainrule operations on Tensors (x.exp(), cr.tanh(x), +, *, ...), or mark it "
                "@once_differentiable if it is not meant to be differentiated twice"
            ) from error
        finally:
            _mode.recording_rule = previous
        return self._input_gradients(result, plain, once and not plain, grad)

    def _output_gradients(self, ns: Any, grad: Any, plain: bool) -> list:
        """One gradient per output of forward, as Tensors (None or zeros where there is none)."""
        ctx = self.ctx
        grads: list[Any] = [None] * len(self.outputs)
        if self.slots is None:
            grads[self.single] = grad
        else:
            touched, self.touched = self.touched, set()
            for j, start, stop in self.slots:
                if j in touched or ctx.materialize_grads:
                    shape, dtype = self.outputs[j]
                    g = ns.reshape(ns.index(grad, slice(start, stop)), shape)
                    grads[j] = g if g.dtype == dtype else ns.cast(g, dtype)
        for j, g in enumerate(grads):
            if g is None:
                if self.outputs[j] is not None and ctx.materialize_grads:
                    grads[j] = Tensor._make(np.zeros(*self.outputs[j]))
            elif plain:  # read-only: the array may be another node's gradient too
                view = np.asarray(g).view()  # (a 0-d gradient may come as a NumPy scalar)
                view.flags.writeable = False
                grads[j] = Tensor._make(view)
        return grads

    def _input_gradients(self, result: Any, plain: bool, once: bool, grad: Any) -> tuple:
        """Check what the user's backward returned and turn it into one gradient per node input."""
        where = f"function {self.name}Backward"
        if not isinstance(result, (tuple, list)):
            result = (result,)
        if len(result) > self.count and all(r is None for r in result[self.count :]):
            result = result[: self.count]
        if len(result) != self.count:
            raise RuntimeError(
                f"{where} returned an incorrect number of gradients (expected {self.count}, got {len(result)}): "
                f"{self.name}.backward returns one gradient (or None) per argument of forward"
            )
        positions = set(self.positions)
        for i, r in enumerate(result):
            if r is not None and i not in positions:
                raise RuntimeError(
                    f"{where} returned a gradient different than None at position {i + 1}, but the "
                    "corresponding forward input was not a Tensor: return None for it"
                )
        gradients: list[Any] = []
        for i, inp, needed in zip(self.positions, self.inputs, self.needed):
            r = result[i]
            if r is None or not needed or not inp._requires_grad:
                gradients.append(None)
                continue
            if isinstance(r, np.ndarray):
                r = Tensor._make(r)
            elif not isinstance(r, Tensor):
                raise TypeError(
                    f"{where} returned a {type(r).__name__} as the gradient at position {i + 1}; "
                    "expected a Tensor (or None)"
                )
            if r.shape != inp.shape and not _sums_to(r.shape, inp.shape):
                raise RuntimeError(
                    f"{where} returned an invalid gradient at position {i + 1}: shape {r.shape}, but the input "
                    f"has shape {inp.shape} (a gradient has the input's shape, or one the input broadcasts to)"
                )
            if plain:
                # a copy: the returned tensor may be the user's (an input, a saved tensor, one kept
                # elsewhere), and a leaf's .grad must not share its memory (PyTorch clones it too)
                gradients.append(np.array(r._data, copy=True))
            elif once:  # differentiable again only to say that it is not
                deps = [t for t in self.inputs if t._requires_grad] + ([grad] if grad._requires_grad else [])
                gradients.append(_OnceDifferentiated.apply(*deps, value=r._data, name=self.name))
            else:
                gradients.append(r)
        return tuple(gradients)


def _sums_to(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    """Whether a gradient of ``shape`` sums back to ``target`` (``target`` broadcasts to ``shape``)."""
    if len(target) > len(shape):
        return False
    return all(t in (1, s) for t, s in zip(target, shape[len(shape) - len(target) :]))


class _OutputSlot(Function):
    """One output of a custom Function with several: its gradient goes into its part of the node's
    packed gradient (the engine's nodes have one output each)."""

    function: type

    @property
    def name(self) -> str:
        return NodeName(self.function.__name__)

    def backward(self, ns: Any, grad: Any, packed: Any) -> Any:
        self.owner.touched.add(self.index)
        start, stop = next((a, b) for j, a, b in self.owner.slots if j == self.index)
        return ns.index_add(ns.reshape(grad, (stop - start,)), slice(start, stop), packed.shape)


class _OnceDifferentiated(Function):
    """A gradient made by a ``@once_differentiable`` backward under ``create_graph=True``: differentiating
    it again raises (PyTorch's DelayedError)."""

    def forward(self, *arrays: np.ndarray, value: np.ndarray, name: str) -> np.ndarray:
        self.function_name = name
        return value

    def backward(self, ns: Any, grad: Any, *inputs: Any) -> Any:
        raise RuntimeError(
            f"{self.function_name}: its backward is marked @once_differentiable, so the gradients it made cannot "
            "be differentiated again (trying to differentiate twice a function marked with @once_differentiable). "
            "Write its backward with chainrule operations on Tensors and remove the decorator"
        )


# ------------------------------------------------------------------ the graph walk


def _topological_order(roots: Sequence[Tensor]) -> list[Tensor]:
    """Every tensor that requires grad and leads to ``roots``, inputs before outputs (iterative),
    in the order PyTorch's engine runs a backward: the walk (which goes through the list from its
    end) takes the nodes made last first, and a leaf right after the earliest-made node that uses
    it, when its gradient is complete. So hooks run in PyTorch's order (a module called three
    times: its backward hooks for the third call first). Any topological order gives the same
    gradients (up to the order of their sums); where the order of creation is not one (a node made
    without a number), the depth-first order stays."""
    order: list[Tensor] = []
    visited: set[int] = set()
    # a leaf -> the smallest number of the nodes that use it: where the walk takes it, which only
    # hooks can tell (without any, leaves go last: the same gradients)
    first_use: dict[int, int] | None = {} if _leaf_hooks or _grad_hooks else None
    in_order = True  # whether the nodes' numbers give a topological order
    stack: list[tuple[Tensor, bool]] = [(r, False) for r in roots]
    push, pop, visit = stack.append, stack.pop, visited.add  # bound once: this runs for every tensor
    while stack:
        t, expanded = pop()
        if expanded:
            order.append(t)
            continue
        key = id(t)
        if key in visited:
            continue
        visit(key)
        push((t, True))
        fn = t.grad_fn
        if fn is not None:
            inputs = fn.inputs
            if inputs is None:
                raise RuntimeError(
                    f"backward: the graph through {fn.name} was freed by an earlier backward() or grad(); "
                    "pass retain_graph=True to the first call to go through the graph twice"
                )
            seq = fn._seq
            if seq is None:
                in_order = False
            for inp in inputs:
                if inp._requires_grad:
                    made_by = inp.grad_fn
                    if made_by is None:
                        if first_use is not None and in_order and first_use.get(id(inp), seq) >= seq:
                            first_use[id(inp)] = seq
                    elif in_order and (made_by._seq is None or made_by._seq >= seq):
                        in_order = False  # (a node made without a number, or an input re-made in place)
                    if id(inp) not in visited:
                        push((inp, False))
    if in_order and len(order) > 2:
        if first_use is None:
            order.sort(key=lambda t: t.grad_fn._seq if t.grad_fn is not None else -1)
        else:
            order.sort(key=lambda t: t.grad_fn._seq if t.grad_fn is not None else first_use.get(id(t), 0) - 0.5)
    return order


def _as_gradient(root: Tensor, gradient: Any, op: str) -> Tensor:
    if gradient is None:
        if root._data.size != 1:
            raise RuntimeError(
                f"{op}: the output has shape {root.shape}; gradients can be created implicitly "
                "only for a scalar output. Pass gradient= (a tensor of that shape), or reduce first "
                "(e.g. .sum())"
            )
        return Tensor._make(np.ones_like(root._data))
    g = gradient if isinstance(gradient, Tensor) else Tensor(np.asarray(gradient, dtype=root.dtype))
    if g.shape != root.shape:
        raise RuntimeError(f"{op}: gradient has shape {g.shape} but the output has shape {root.shape}")
    return g


def _root_gradients(roots: list[Tensor], gradients: Any, single: bool, op: str) -> list[Tensor]:
    """One gradient per root, checked against the root's shape.

    For a single root (``single``) ``gradients`` is its gradient: a Tensor, array, list or number.
    For several roots it is a sequence with one entry (or None) per root.
    """
    if gradients is None:
        gradients = [None] * len(roots)
    elif single or isinstance(gradients, (Tensor, np.ndarray)):
        gradients = [gradients]
    else:
        gradients = list(gradients)
    if len(gradients) != len(roots):
        raise RuntimeError(f"{op}: got {len(gradients)} gradients for {len(roots)} outputs")
    return [_as_gradient(r, g, op) for r, g in zip(roots, gradients)]


def _run_backward(
    roots: Sequence[Tensor],
    root_grads: Sequence[Tensor],
    retain_graph: bool,
    create_graph: bool,
    wanted: Sequence[Tensor] | None,
    ns: Interpreter | None = None,
) -> dict[int, Tensor]:
    """Propagate gradients from ``roots`` to every tensor behind them.

    With ``wanted`` None, leaf gradients accumulate into ``.grad``; otherwise ``.grad`` is left
    untouched and the gradients of the ``wanted`` tensors are returned by ``id``.

    Each node's rule runs on the interpreter ``ns``: by default ``TENSOR`` under ``create_graph``
    (the gradients are recorded Tensors), else ``NUMPY`` (bare ndarrays: same sums, no graph). A
    tracer passed as ``ns`` computes like NUMPY and records every operation.
    """
    if ns is None:
        ns = _TENSOR if create_graph else _NUMPY
    order = _topological_order(roots)
    wanted_ids = {id(t) for t in wanted} if wanted is not None else None
    paths = None
    if wanted_ids is not None:  # the tensors on a path to a wanted one: the only gradients computed
        paths = set(wanted_ids)
        for t in order:  # inputs before the tensors made from them
            fn = t.grad_fn
            if fn is not None and fn.inputs is not None and any(id(i) in paths for i in fn.inputs):
                paths.add(id(t))
    # A walk may run inside another one's rule (a custom backward that calls grad or backward): it
    # sets its own paths and starts with no rule being recorded, and both come back for the caller's.
    outer = _mode.wanted_paths, _mode.recording_rule, _mode.final_callbacks
    _mode.wanted_paths, _mode.recording_rule, _mode.final_callbacks = paths, False, []
    try:
        found = _walk(order, roots, root_grads, retain_graph, create_graph, wanted_ids, paths, ns)
        callbacks = _mode.final_callbacks
        _mode.final_callbacks = None  # (a callback that queues another is too late: PyTorch's rule)
        for callback in callbacks:
            callback()
        return found
    finally:
        _mode.wanted_paths, _mode.recording_rule, _mode.final_callbacks = outer


def _walk(
    order: list[Tensor],
    roots: Sequence[Tensor],
    root_grads: Sequence[Tensor],
    retain_graph: bool,
    create_graph: bool,
    wanted_ids: set[int] | None,
    paths: set[int] | None,
    ns: Interpreter,
) -> dict[int, Tensor]:
    """The walk of ``_run_backward``, from the roots down ``order`` (see there)."""
    plain, records = ns is _NUMPY, ns.records
    grads: dict[int, Any] = {}
    for r, g in zip(roots, root_grads):
        g = g._data if plain else ns.root_gradient(g)
        grads[id(r)] = grads[id(r)] + g if id(r) in grads else g
    found: dict[int, Any] = {}
    # arrays already stored in some .grad, or owned by the caller: a .grad never shares one
    handed_out: set[int] = {id(g._data) for g in root_grads}
    anomaly = _mode.anomaly
    writes = _writes

    with set_grad_enabled(create_graph):
        for t in reversed(order):
            g = grads.pop(id(t), None)
            if g is None or (paths is not None and id(t) not in paths):
                continue
            if _grad_hooks and id(t) in _grad_hooks:
                g = _run_grad_hooks(t, g, plain, handed_out)
            if wanted_ids is not None:
                if id(t) in wanted_ids:
                    found[id(t)] = g
                    if not plain:
                        ns.result(t, g)
            elif t.grad_fn is None or t._retains_grad:
                if plain:
                    _accumulate(t, g, handed_out)
                elif records:
                    t._grad = g if t._grad is None else t._grad + g
                else:
                    ns.result(t, g)
                    _accumulate(t, ns.value(g), handed_out)
                if _leaf_hooks and id(t) in _leaf_hooks and t.grad_fn is None:
                    _run_leaf_hooks(t)
            fn = t.grad_fn
            if fn is None:
                continue
            if paths is not None and not any(id(i) in paths for i in fn.inputs):
                continue  # a wanted tensor with nothing wanted behind it
            if fn._clock < writes.clock:  # something was written since this node was made
                _check_not_written(fn)
            inputs = fn.inputs
            try:  # free when nothing is raised (zero-cost try)
                if plain:  # ndarrays; one and two inputs spelled out (no list per node)
                    if len(inputs) == 1:
                        input_grads = fn.backward(ns, g, inputs[0]._data)
                    elif len(inputs) == 2:
                        input_grads = fn.backward(ns, g, inputs[0]._data, inputs[1]._data)
                    else:
                        input_grads = fn.backward(ns, g, *[i._data for i in inputs])
                elif records:
                    _mode.recording_rule = True
                    try:
                        input_grads = fn.backward(ns, g, *ns.inputs(fn))
                    finally:
                        _mode.recording_rule = False
                else:  # a tracer: it runs the rule (on itself, or whole: see Function.traced_rule)
                    input_grads = ns.run_rule(fn, g)
            except TypeError as e:
                clear = _rule_call_error(fn, len(inputs), e)
                if clear is None:
                    raise
                raise clear from e
            if input_grads.__class__ is not tuple:
                input_grads = (input_grads,)
            if len(input_grads) != len(inputs):
                raise RuntimeError(
                    f"backward: the rule of {fn.name} returned {len(input_grads)} gradients for {len(inputs)} inputs"
                )
            if plain and len(input_grads) > 1:  # one array for several inputs (Add's rule): a .grad copies it
                _shared_arrays(input_grads, handed_out)
            for i, (inp, ig) in enumerate(zip(inputs, input_grads)):
                if ig is None or not inp._requires_grad or (paths is not None and id(inp) not in paths):
                    continue
                # ._data's attributes rather than Tensor's properties: this loop runs for every edge
                like = inp._data
                if ig.shape != like.shape or ig.dtype != like.dtype:
                    if ig.shape != like.shape:  # the gradient of a broadcast: summed back, here only
                        ig = ns.sum_to_shape(ig, like.shape)
                    if ig.dtype != like.dtype:
                        ig = ns.cast(ig, like.dtype)
                if anomaly and np.isnan(ns.value(ig)).any():
                    raise FloatingPointError(
                        f"detect_anomaly: the backward of {fn.name} produced NaN in the gradient "
                        f"of its input {i} (shape {inp.shape})"
                    )
                key = id(inp)
                grads[key] = grads[key] + ig if key in grads else ig
            if not retain_graph:
                fn._free()
    if found and not ns.records:
        found = {key: Tensor._make(ns.value(g)) for key, g in found.items()}
    return found


def _shared_arrays(grads: tuple, handed_out: set[int]) -> None:
    """Note in ``handed_out`` each array a rule gave to more than one input: the first ``.grad`` that
    gets it takes a copy, so a hook or an optimiser that writes that ``.grad`` in place does not
    change the gradient still flowing down the other edge (``y = P + f(x)``)."""
    if len(grads) == 2:
        a, b = grads
        if a is b and a is not None:
            handed_out.add(id(a))
        return
    seen: set[int] = set()
    for g in grads:
        if g is not None:
            if id(g) in seen:
                handed_out.add(id(g))
            seen.add(id(g))


def _accumulate(t: Tensor, g: np.ndarray, handed_out: set[int]) -> None:
    """Add the array ``g`` into the leaf's ``.grad`` (a recorded backward adds Tensors instead).

    (``._grad``, the slot behind the ``grad`` property: the engine's own writes are no assignment a
    compiled step must record.)"""
    old = t._grad
    if old is not None:
        data = old._data
        if (
            t.grad_fn is None  # (a retained non-leaf's .grad is replaced, as PyTorch's retain_grad)
            and data.flags.writeable
            and old.grad_fn is None
            and not old._requires_grad
            and data.shape == np.shape(g)
            and np.result_type(data, g) == data.dtype
        ):  # in place, as PyTorch: the same .grad object, and a graph that used it refuses backward
            np.add(data, g, out=data)
            mark_modified((old,), "gradient accumulation (backward into an existing .grad)")
        else:
            t._grad = Tensor._make(data + g)
    else:  # .grad owns its memory, writable: optimisers update it in place
        if id(g) in handed_out or not g.flags.owndata:
            g = g.copy()
        handed_out.add(id(g))
        t._grad = Tensor._make(g)


def backward(
    tensors: Tensor | Sequence[Tensor],
    grad_tensors: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
) -> None:
    """Accumulate into each leaf's ``.grad`` the gradient of ``tensors`` (see ``Tensor.backward``).

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
        >>> cr.backward((x * x).sum())
        >>> x.grad
        tensor([2., 4.])
    """
    roots = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    for r in roots:
        if not r._requires_grad:
            raise RuntimeError(
                "backward: this tensor does not require grad and has no graph; did you compute it "
                "under no_grad, or from tensors without requires_grad=True?"
            )
    root_grads = _root_gradients(roots, grad_tensors, isinstance(tensors, Tensor), "backward")
    if retain_graph is None:
        retain_graph = create_graph
    if _mode.recorder is not None:  # a step being compiled: the rules are traced into its plan
        _mode.recorder.backward(roots, root_grads, retain_graph, create_graph, None)
        return
    _run_backward(roots, root_grads, retain_graph, create_graph, wanted=None)


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """Return the gradients of ``outputs`` with respect to ``inputs`` without touching ``.grad``.

    With ``create_graph=True`` the result is itself differentiable, so gradients of gradients
    (Hessian-vector products, second derivatives) are one more call away.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor(0.5, dtype='float64', requires_grad=True)
        >>> (dy,) = cr.grad(cr.tanh(x), x, create_graph=True)
        >>> (d2y,) = cr.grad(dy, x)
        >>> round(d2y.item(), 6)  # -2 tanh(x) (1 - tanh(x)^2)
        -0.726862
    """
    outs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    ins = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    for i, t in enumerate(ins):
        if not t._requires_grad:
            raise RuntimeError(f"grad: input {i} (shape {t.shape}) does not require grad")
    for o in outs:
        if not o._requires_grad:
            raise RuntimeError("grad: an output does not require grad: it does not depend on any input")
    if retain_graph is None:
        retain_graph = create_graph
    root_grads = _root_gradients(outs, grad_outputs, isinstance(outputs, Tensor), "grad")
    if _mode.recorder is not None:
        found = _mode.recorder.backward(outs, root_grads, retain_graph, create_graph, ins)
    else:
        found = _run_backward(outs, root_grads, retain_graph, create_graph, wanted=ins)
    result = []
    for i, t in enumerate(ins):
        g = found.get(id(t))
        if g is None and not allow_unused:
            raise RuntimeError(
                f"grad: input {i} (shape {t.shape}) was not used to compute the outputs; "
                "pass allow_unused=True to get None for it"
            )
        result.append(g)
    return tuple(result)


# ------------------------------------------------------------------ gradient check


class GradcheckError(AssertionError):
    """Analytic and numerical gradients disagree.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([1.0], dtype='float64', requires_grad=True)
        >>> cr.gradcheck(lambda t: t * t, x)  # True, or GradcheckError naming the worst element
        True
        >>> issubclass(cr.GradcheckError, AssertionError)  # pytest reports it as a failed assertion
        True
    """


def gradcheck(
    fn: Callable[..., Tensor],
    inputs: Tensor | Sequence[Tensor],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
    raise_exception: bool = True,
) -> bool:
    """Compare backprop's gradients with central finite differences, in float64.

    This is the "brute force" way to get a gradient: nudge one input element by ``±eps``, run the
    whole forward pass again, and take (f(x + eps) - f(x - eps)) / (2 eps). It costs two forward
    passes per element (backprop costs one backward pass for all of them), so it is a test, not a
    training method. A non-scalar output is reduced to ``sum(output * r)`` with a fixed random
    ``r``, so every output element is checked at once.

    Args:
        fn: maps the input tensors to one output tensor.
        inputs: float64 tensors; those with ``requires_grad=True`` are checked.
        eps, atol, rtol: step and tolerances; passes when ``|analytic - numeric| <= atol + rtol*|numeric|``.
        raise_exception: raise ``GradcheckError`` naming the worst element (default) or return False.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([0.3, -1.2], dtype='float64', requires_grad=True)
        >>> cr.gradcheck(lambda t: (t * t.sin()).sum(), x)
        True
    """
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    checked = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad")
    for t in checked:
        if t.dtype != np.float64:
            raise TypeError(f"gradcheck: inputs must be float64 for finite differences to be accurate, got {t.dtype}")
    out = fn(*inputs)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    r = np.random.default_rng(seed).standard_normal(out.shape)

    def scalar() -> float:  # not under no_grad: fn may itself call grad() (second-order checks)
        return float(np.sum(fn(*inputs)._data * r))

    if not out.requires_grad:
        raise GradcheckError("gradcheck: the output does not depend on any input that requires grad")
    analytic = grad(out, checked, grad_outputs=Tensor(r), allow_unused=True)
    worst = (0.0, None)
    for k, (t, a) in enumerate(zip(checked, analytic)):
        a = np.zeros_like(t._data) if a is None else a._data
        numeric = np.empty(t.shape)
        for i in np.ndindex(t.shape):  # nudge the input's own memory, whatever its strides
            original = t._data[i]
            t._data[i] = original + eps
            plus = scalar()
            t._data[i] = original - eps
            minus = scalar()
            t._data[i] = original
            numeric[i] = (plus - minus) / (2 * eps)
        excess = np.abs(a - numeric) - (atol + rtol * np.abs(numeric))
        if excess.size and excess.max() > worst[0]:
            i = np.unravel_index(int(excess.argmax()), t.shape)
            worst = (float(excess.max()), (k, i, float(a[i]), float(numeric[i])))
    if worst[1] is None:
        return True
    k, i, a_val, n_val = worst[1]
    message = (
        f"gradcheck: gradients differ for input {k} at index {tuple(int(j) for j in i)}: "
        f"analytic {a_val:.8g}, numerical {n_val:.8g} (atol={atol}, rtol={rtol})"
    )
    if raise_exception:
        raise GradcheckError(message)
    return False


from chainrule.interpreters import NUMPY as _NUMPY, TENSOR as _TENSOR, Interpreter  # noqa: E402
