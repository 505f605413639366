"""Reverse-mode automatic differentiation: Function, the graph walk, no_grad, grad and gradcheck.

Every differentiable operation is a ``Function`` subclass with a ``forward`` on ndarrays and one
gradient rule, ``backward``, side by side. The rule is written once against an interpreter
(``chainrule.interpreters``) and the walk chooses which one runs it: ``NUMPY`` for a plain
backward (bare ndarrays, nothing recorded: what training runs), ``TENSOR`` for
``create_graph=True`` (the rule's operations are recorded, so gradients of gradients follow), or
a tracer that records the backward into a plan (``chainrule.compile``).

The walk (``backward``/``grad``) is one iterative topological sort followed by one reverse sweep
that accumulates the gradients of tensors used more than once. Gradients of broadcast inputs are
summed back to the input's shape in one place (the walk, with ``ns.sum_to_shape``), not in each op.
"""

from __future__ import annotations

import contextlib
import inspect
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


_mode = _GradMode()


class _Writes:
    """In-place writes to tensors, for the check ``backward`` makes (PyTorch's version counters,
    kept as one clock): every write ticks ``clock`` and notes the tensor; every recorded node notes
    the clock when it was made; a node whose input or saved output was written after it was made
    would compute a wrong gradient, and ``backward`` refuses it."""

    clock = 0
    written: dict[int, tuple[Any, int, str]] = {}  # id(tensor) -> (weakref, clock of the write, by what)


_writes = _Writes()


def mark_modified(tensors: Iterable[Tensor], by: str) -> None:
    """Note that ``tensors`` were written in place (by ``by``, named in the error): a graph that used
    them before the write can no longer be differentiated. Ops and optimisers call this; code that
    writes a tensor's array itself (``t.data[...] = ...``, or through ``t.numpy()``) should too.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
        >>> y = x * x
        >>> with cr.no_grad():
        ...     x.data[0] = 5.0
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
        written[id(t)] = (weakref.ref(t), w.clock, by)
    if len(written) > 4096:  # forget the tensors that are gone
        for key in [k for k, (ref, _, _) in written.items() if ref() is None]:
            del written[key]


def _check_not_written(fn: Function) -> None:
    """Raise if an input of ``fn``, or its saved output, was written after ``fn`` was made."""
    written = _writes.written
    tensors = [(t, "an input") for t in fn.inputs]
    if fn.save_output and getattr(fn, "_output_ref", None) is not None:
        tensors.append((fn._output_ref(), "the output"))
    for t, role in tensors:
        if t is None:
            continue
        entry = written.get(id(t))
        if entry is not None and entry[1] > fn._clock and entry[0]() is t:
            raise RuntimeError(
                f"backward: {role} of {fn.name} (shape {t.shape}) was modified in place by {entry[2]} after "
                f"{fn.name} used it, so its gradient would be wrong. Write to a copy (t.clone()), or make the "
                "change before building the graph, or run the forward pass again after it"
            )


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
        self._previous: list[bool] = []

    def __enter__(self) -> None:
        self._previous.append(_mode.enabled)
        _mode.enabled = self.mode

    def __exit__(self, *exc: Any) -> None:
        _mode.enabled = self._previous.pop()


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
        self._previous: list[bool] = []

    def __enter__(self) -> None:
        self._previous.append(_mode.anomaly)
        _mode.anomaly = True

    def __exit__(self, *exc: Any) -> None:
        _mode.anomaly = self._previous.pop()


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

    Example:
        >>> import chainrule as cr
        >>> class Cube(cr.Function):
        ...     def forward(self, a):
        ...         return a ** 3
        ...     def backward(self, ns, grad, a):
        ...         return grad * (a * a * 3.0)
        >>> x = cr.tensor([2.0], dtype="float64", requires_grad=True)
        >>> (g,) = cr.grad(Cube.apply(x), x, create_graph=True)   # the rule on Tensors: recorded
        >>> g, cr.grad(g, x)[0]                                   # d/dx 3x^2 = 6x
        (tensor([12.], dtype=float64, grad_fn=<Mul>), tensor([12.], dtype=float64))
    """

    save_output = False
    _clock = 1 << 62  # when apply recorded the node (see mark_modified); a node made otherwise is not checked
    inputs: tuple[Tensor, ...] | None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _check_rule_form(cls)

    @classmethod
    def apply(cls, *inputs: Tensor, **params: Any) -> Tensor:
        fn = cls.__new__(cls)
        try:
            # One and two inputs spelled out: on Python 3.11 a list comprehension builds and calls a
            # function object, which costs about a third of a microsecond on every op.
            if len(inputs) == 1:
                data = fn.forward(inputs[0].data, **params)
            elif len(inputs) == 2:
                data = fn.forward(inputs[0].data, inputs[1].data, **params)
            else:
                data = fn.forward(*[t.data for t in inputs], **params)
        except ValueError as e:  # free when nothing is raised (zero-cost try)
            raise _named_error(cls, inputs, e) from None
        if _mode.enabled:
            for t in inputs:
                if t._requires_grad:
                    fn.inputs = inputs
                    fn._clock = _writes.clock
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
        """Whether input ``i`` of this node wants a gradient."""
        return self.inputs[i]._requires_grad

    @property
    def output(self) -> Tensor:
        out = self._output_ref()
        if out is None:  # the walk holds every tensor it visits, so this means a misuse
            raise RuntimeError(f"{type(self).__name__}: its output was freed before backward")
        return out

    @property
    def name(self) -> str:
        return type(self).__name__

    def _free(self) -> None:
        """Drop the inputs and everything saved for backward (the graph is then freed)."""
        self.__dict__.clear()
        self.inputs = None


_RULE_FORM = (
    "a gradient rule is written backward(self, ns, grad, *inputs): the interpreter ns (ns.exp, "
    "ns.sum, ...), the output's gradient, then one parameter per input of the op; see chainrule.Function"
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


# ------------------------------------------------------------------ the graph walk


def _topological_order(roots: Sequence[Tensor]) -> list[Tensor]:
    """Every tensor that requires grad and leads to ``roots``, inputs before outputs (iterative)."""
    order: list[Tensor] = []
    visited: set[int] = set()
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
                    f"backward: the graph through {fn.name} was freed by an earlier backward(); "
                    "pass retain_graph=True to the first call to go through the graph twice"
                )
            for inp in inputs:
                if inp._requires_grad and id(inp) not in visited:
                    push((inp, False))
    return order


def _as_gradient(root: Tensor, gradient: Any, op: str) -> Tensor:
    if gradient is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"{op}: the output has shape {root.shape}; gradients can be created implicitly "
                "only for a scalar output. Pass gradient= (a tensor of that shape), or reduce first "
                "(e.g. .sum())"
            )
        return Tensor._make(np.ones_like(root.data))
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
    plain, records = ns is _NUMPY, ns.records
    order = _topological_order(roots)
    wanted_ids = {id(t) for t in wanted} if wanted is not None else None
    grads: dict[int, Any] = {}
    for r, g in zip(roots, root_grads):
        g = g.data if plain else ns.root_gradient(g)
        grads[id(r)] = grads[id(r)] + g if id(r) in grads else g
    found: dict[int, Any] = {}
    # arrays already stored in some .grad, or owned by the caller: a .grad never shares one
    handed_out: set[int] = {id(g.data) for g in root_grads}
    anomaly = _mode.anomaly
    writes = _writes

    with set_grad_enabled(create_graph):
        for t in reversed(order):
            g = grads.pop(id(t), None)
            if g is None:
                continue
            if wanted_ids is not None:
                if id(t) in wanted_ids:
                    found[id(t)] = g
                    if not plain:
                        ns.result(t, g)
            elif t.grad_fn is None or t._retains_grad:
                if plain:
                    _accumulate(t, g, handed_out)
                elif records:
                    t.grad = g if t.grad is None else t.grad + g
                else:
                    ns.result(t, g)
                    _accumulate(t, ns.value(g), handed_out)
            fn = t.grad_fn
            if fn is None:
                continue
            if fn._clock < writes.clock:  # something was written since this node was made
                _check_not_written(fn)
            inputs = fn.inputs
            try:  # free when nothing is raised (zero-cost try)
                if plain:  # ndarrays; one and two inputs spelled out (no list per node)
                    if len(inputs) == 1:
                        input_grads = fn.backward(ns, g, inputs[0].data)
                    elif len(inputs) == 2:
                        input_grads = fn.backward(ns, g, inputs[0].data, inputs[1].data)
                    else:
                        input_grads = fn.backward(ns, g, *[i.data for i in inputs])
                elif records:
                    _mode.recording_rule = True
                    try:
                        input_grads = fn.backward(ns, g, *ns.inputs(fn))
                    finally:
                        _mode.recording_rule = False
                else:
                    input_grads = fn.backward(ns, g, *ns.inputs(fn))
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
            for i, (inp, ig) in enumerate(zip(inputs, input_grads)):
                if ig is None or not inp._requires_grad:
                    continue
                # .data's attributes rather than Tensor's properties: this loop runs for every edge
                like = inp.data
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


def _accumulate(t: Tensor, g: np.ndarray, handed_out: set[int]) -> None:
    """Add the array ``g`` into the leaf's ``.grad`` (a recorded backward adds Tensors instead)."""
    if t.grad is not None:
        t.grad = Tensor._make(t.grad.data + g)
    else:  # .grad owns its memory, writable: optimisers update it in place
        if id(g) in handed_out or not g.flags.owndata:
            g = g.copy()
        handed_out.add(id(g))
        t.grad = Tensor._make(g)


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
        return float(np.sum(fn(*inputs).data * r))

    if not out.requires_grad:
        raise GradcheckError("gradcheck: the output does not depend on any input that requires grad")
    analytic = grad(out, checked, grad_outputs=Tensor(r), allow_unused=True)
    worst = (0.0, None)
    for k, (t, a) in enumerate(zip(checked, analytic)):
        a = np.zeros_like(t.data) if a is None else a.data
        numeric = np.empty(t.shape)
        for i in np.ndindex(t.shape):  # nudge the input's own memory, whatever its strides
            original = t.data[i]
            t.data[i] = original + eps
            plus = scalar()
            t.data[i] = original - eps
            minus = scalar()
            t.data[i] = original
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
