"""``cr.compile``: record a training step once, then replay it as a plan.

How a compiled function runs, per input signature (the shapes, dtypes and memory layouts of its
tensor and array arguments, its other arguments' values, grad mode):

1. The first call runs eagerly and is recorded (:class:`~chainrule.compiler.recorder.Recorder`).
2. The second call is recorded again, and the two recordings are compared
   (:func:`~chainrule.compiler.program.compare`): the same operations must run, reading the same
   parameters, with constants that agree. They make the :class:`~chainrule.compiler.program.Plan`.
3. Later calls replay the plan: the forward ops' ``forward`` on arrays, the gradient rules' NumPy
   calls, the writes into ``.grad`` and the live calls of ``optimizer.step()``, ``zero_grad()``,
   clipping and schedulers. No Tensor is made per op and no graph is walked (an op whose
   gradient needs values it saved still makes its small record of them, with no links to a graph).

What the plan assumes is checked before each replay: the modules the step called are in the same
training mode as when it was recorded (else another plan is recorded for that mode), no module
attribute, parameter shape or ``requires_grad`` changed anywhere, each optimiser holds the same
parameters, and no hook (a module's forward hook or pre-hook, a gradient hook on a tensor the plan
uses) was registered since. A change makes the step record again.

While the two recordings were given equal inputs (the same full batch each call), a replay checks
that its inputs are still those; new inputs are recorded once more and compared, so a constant the
step computed from its data outside chainrule's ops is always caught.

What cannot be replayed makes the step run eagerly, with one warning saying why: a tensor's value
read into Python (``.item()``, ``.numpy()``, ``if loss > 0:``, printing), a custom Function in
PyTorch's form, a module with hooks (forward or backward), gradients of gradients, ``cr.grad``, a
returned tensor whose graph is still needed, or two recordings that differ. Eager is always
correct, and the warning says what to change. (An error would stop a training run over something
that only costs speed; this is torch.compile's choice too.)
"""

from __future__ import annotations

import contextlib
import functools
import random
import threading
import types
import warnings
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from chainrule import kernels
from chainrule.autograd import _grad_hooks, _mode, _writes
from chainrule.compiler.program import Mismatch, Plan, compare
from chainrule.compiler.recorder import Recorder, Refused
from chainrule.tensor import Tensor


class CompileWarning(UserWarning):
    """A compiled function runs eagerly for the reason given (it is still correct, only slower).

    Example:
        >>> import warnings
        >>> import chainrule as cr
        >>> w = cr.tensor([2.0], requires_grad=True)
        >>> f = cr.compile(lambda x: (w * x).sum().item())   # .item(): a number for Python
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     f(cr.tensor([3.0]))
        6.0
        >>> print(caught[0].message)  # doctest: +ELLIPSIS
        cr.compile(<lambda>) runs eagerly: Tensor.item() reads a tensor's value into Python during the step; ...
    """


class _Entry:
    """What a compiled function knows about one input signature."""

    def __init__(self) -> None:
        self.first: Recorder | None = None  # the first recording, waiting for a second
        self.plan: Plan | None = None
        self.eager: str | None = None  # why this signature runs eagerly
        self.inputs: list[np.ndarray] | None = None  # while not validated: the inputs both recordings saw
        self.structure = -1
        self.modules: list[tuple[Any, bool]] = []
        self.watched: list[dict] = []  # the watched objects' attributes when the plan was made
        self.optimizers: list[tuple[Any, tuple[int, ...]]] = []


class CompiledFunction:
    """A function compiled by :func:`compile`; call it as the function itself.

    Attributes:
        plan: the :class:`~chainrule.compiler.program.Plan` of the last call that replayed or
            made one (None before); ``print(step.plan)`` shows its code.
        stats: how many calls were ``recorded``, ``replayed`` and run ``eager``.

    Example:
        >>> import chainrule as cr
        >>> w = cr.tensor([1.0, 2.0], requires_grad=True)
        >>> @cr.compile
        ... def f(x):
        ...     loss = (w * x).sum()
        ...     loss.backward()          # gradients accumulate into w.grad, as eagerly
        ...     return loss
        >>> [f(cr.tensor([1.0, float(i)])).item() for i in range(4)]
        [1.0, 3.0, 5.0, 7.0]
        >>> f.stats, w.grad
        ({'recorded': 2, 'replayed': 2, 'eager': 0}, tensor([4., 6.]))
    """

    def __init__(
        self,
        fn: Callable,
        cache_size: int = 8,
        watch: tuple = (),
        name: str | None = None,
        hint: str = "",
        backend: str = "auto",
    ) -> None:
        if not callable(fn):
            raise TypeError(f"cr.compile: expected a function or a Module, got {type(fn).__name__}")
        if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 1:
            raise ValueError(f"cr.compile: cache_size must be a positive integer, got {cache_size!r}")
        if backend not in ("auto", "numba", "numpy"):
            raise ValueError(f"cr.compile: backend must be 'auto', 'numba' or 'numpy', got {backend!r}")
        if backend == "numba" and not kernels.available():
            raise ValueError(
                'cr.compile: backend="numba" needs numba: pip install "chainrule[fast]" (and CHAINRULE_NUMBA '
                'not set to 0); backend="numpy" or "auto" runs without it'
            )
        self.backend = backend
        self.fn = fn
        self.cache_size = cache_size
        self._watch = watch  # objects whose attributes the step must not change (fit's loss_fn)
        self._name = name  # how a warning names it (fit's step); by default cr.compile(<the function>)
        self._hint = hint  # what a warning adds at its end (how to turn compiling off)
        self._entries: OrderedDict[tuple, list[_Entry]] = OrderedDict()
        self._warned: set[str] = set()
        self.plan: Plan | None = None
        self.stats = {"recorded": 0, "replayed": 0, "eager": 0}
        functools.update_wrapper(self, fn, updated=())

    def __repr__(self) -> str:
        return f"cr.compile({getattr(self.fn, '__qualname__', self.fn)!r})"

    def reset(self) -> None:
        """Forget every recording and plan (the next call records again)."""
        self._entries.clear()
        self.plan = None

    # ---------------------------------------------------------------- calls
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if _mode.recorder is not None or _mode.anomaly or _switch.off:  # nested, hunting NaN, or disabled
            return self.fn(*args, **kwargs)
        leaves: list[Any] = []
        key_parts: list[Any] = [_mode.enabled, len(args)]
        seen: dict[int, int] = {}
        for a in args:  # (a tensor argument inline: this runs on every call)
            if a.__class__ is Tensor and id(a) not in seen:
                seen[id(a)] = len(leaves)
                leaves.append(a)
                data = a._data
                key_parts.append(("T", data.shape, data.dtype.str, a._requires_grad, data.strides))
            else:
                _flatten(a, leaves, key_parts, seen)
        if kwargs:
            _flatten(kwargs, leaves, key_parts, seen)
        key = tuple(key_parts)
        entries = self._entries.get(key)
        if entries is None:
            entries = self._entries[key] = []
            if len(self._entries) > self.cache_size:
                self._entries.popitem(last=False)
        elif len(self._entries) > 1:
            self._entries.move_to_end(key)
        entry = self._pick(entries, leaves)
        plan = entry.plan
        if plan is not None and (entry.inputs is None or all(map(_same_values, entry.inputs, leaves))):
            self.plan = plan
            self.stats["replayed"] += 1
            return plan.run(leaves)
        if entry.eager is not None:
            self.stats["eager"] += 1
            return self.fn(*args, **kwargs)
        return self._record(entry, entries, leaves, args, kwargs)

    def _pick(self, entries: list[_Entry], leaves: list) -> _Entry:
        """The entry whose guards hold now; a new one (recording afresh) when none does."""
        structure = _writes.structure
        for e in entries:
            if e.structure != structure:
                continue
            if _grad_hooks and e.plan is not None and _gradient_hooked(e.plan.tensors, leaves):
                continue  # (a gradient hook registered since on a tensor it uses: recorded again, eagerly)
            for ref, mode in e.modules:
                module = ref()
                # (a hook registered since: recorded again, which runs the step eagerly)
                if module is None or module.training is not mode or module._hooked():
                    break
            else:
                if e.optimizers and any(_param_ids(opt) != ids for opt, ids in e.optimizers):
                    continue
                if e.watched and _changed_since(e.watched, self._watch):
                    continue
                return e
        entries[:] = [e for e in entries if e.structure == structure and e.eager is None][-3:]  # other modes
        entry = _Entry()
        entry.structure = structure
        entries.append(entry)
        return entry

    def _record(self, entry: _Entry, entries: list[_Entry], leaves: list, args: tuple, kwargs: dict) -> Any:
        rec = Recorder()
        for i, leaf in enumerate(leaves):
            rec.input(leaf, i)
        before = _python_state(self._watch)
        with rec:
            result = self.fn(*args, **kwargs)
        self.stats["recorded"] += 1
        if rec.refused is None:
            rec.refused = _python_state_changed(before, _python_state(self._watch))
        if rec.refused is None:
            try:
                rec.outputs = rec.output_spec(result)
            except Refused as refusal:
                rec.refused = str(refusal)
        if rec.refused is not None:
            self._go_eager(entry, rec.refused)
            return result
        changed = [what for m, what in rec.changes if any(m is c for c in rec.modules)]
        if changed or _writes.structure != entry.structure:
            what = f" ({changed[0]} = ...)" if changed else ""
            self._go_eager(
                entry,
                f"the step creates or changes the modules it calls{what}, a parameter's shape or requires_grad: a "
                "plan assumes they stay as recorded (create modules once, outside the compiled function)",
            )
            return result
        entry.modules = [(weakref.ref(m), m.training) for m in rec.modules]  # weakly: a plan must not keep a model
        for m in rec.modules:  # changing one of them (or a module inside) makes the plans record again
            _writes.planned.update(m.modules())
        labels = _labels(rec.modules)
        entry.optimizers = [(opt, _param_ids(opt)) for opt in rec.optimizers]
        entry.watched = _attributes(self._watch)
        rec.finish()
        snapshot = [np.array(_array_of(leaf), copy=True) for leaf in leaves]
        previous, entry.first = entry.first, rec
        if previous is None:
            entry.inputs = snapshot
            return result
        try:
            instrs = compare(previous, rec)
        except Mismatch as mismatch:
            self._go_eager(entry, str(mismatch))
            return result
        validated = entry.inputs is not None and not all(_same_values(a, b) for a, b in zip(entry.inputs, snapshot))
        if entry.plan is not None and entry.inputs is not None:
            validated = True  # a third recording, made because the inputs changed, agreed
        entry.inputs = None if validated else snapshot
        fuse = self.backend == "numba" or (self.backend == "auto" and kernels.enabled())
        min_size = 0 if self.backend == "numba" else kernels.MIN_SIZE  # (auto: chains where a loop pays)
        entry.plan = Plan(instrs, rec.outputs, labels, rec.spent, rec.layout, fuse=fuse, min_size=min_size)
        entry.first = rec
        self.plan = entry.plan
        return result

    def _go_eager(self, entry: _Entry, reason: str) -> None:
        entry.eager = reason
        entry.first = entry.plan = None
        if reason not in self._warned:
            self._warned.add(reason)
            name = self._name or f"cr.compile({getattr(self.fn, '__qualname__', type(self.fn).__name__)})"
            hint = f" ({self._hint})" if self._hint else ""
            warnings.warn(f"{name} runs eagerly: {reason}{hint}", CompileWarning, stacklevel=3)


class _Switch(threading.local):
    def __init__(self) -> None:
        self.off = False
        self.stack: list[bool] = []  # what each open ``disable`` block restores, per thread


_switch = _Switch()


class disable(contextlib.ContextDecorator):
    """Run every compiled function eagerly inside this block (this thread), recording nothing:
    to compare with eager runs, to debug, or to train what ``fit`` and the estimators compile.

    Example:
        >>> import chainrule as cr
        >>> w = cr.tensor([1.0], requires_grad=True)
        >>> f = cr.compile(lambda x: (w * x).sum().backward())
        >>> with cr.compiler.disable():
        ...     for _ in range(3):
        ...         f(cr.ones(1))
        >>> f.stats, w.grad
        ({'recorded': 0, 'replayed': 0, 'eager': 0}, tensor([3.]))
    """

    def __enter__(self) -> None:
        _switch.stack.append(_switch.off)
        _switch.off = True

    def __exit__(self, *exc: Any) -> None:
        _switch.off = _switch.stack.pop()


def _python_state(watched: tuple) -> tuple:
    """What Python state a step could change that a plan would not replay: the random modules'
    states and the attributes of the ``watched`` objects."""
    legacy = np.random.get_state()
    return random.getstate(), (legacy[1].tobytes(), legacy[2:]), _attributes(watched)


def _attributes(watched: tuple) -> list[dict]:
    """The Python state of each watched object a step may read: its attributes, a function's
    closure cells and the globals it names, each container among them (a dict, a list) by its
    items, one level down."""
    return [_state_of(obj) for obj in watched]


def _pieces(obj: Any) -> Iterator[tuple[Any, Any]]:
    """(key, value) of each piece of ``obj``'s Python state that a step may read: its attributes, a
    function's closure cells (``("cell", i)``) and the globals it names (``("global", name)``)."""
    yield from getattr(obj, "__dict__", {}).items()
    function = getattr(obj, "__func__", obj)  # (a bound method: its function)
    cells = getattr(function, "__closure__", None) or ()
    for i, cell in enumerate(cells):
        try:
            yield ("cell", i), cell.cell_contents
        except ValueError:  # an empty cell
            continue
    code, scope = getattr(function, "__code__", None), getattr(function, "__globals__", None)
    if code is not None and scope is not None:
        for name in code.co_names:
            if name in scope and not callable(scope[name]) and not isinstance(scope[name], types.ModuleType):
                yield ("global", name), scope[name]


def _state_of(obj: Any) -> dict:
    return {k: _shallow(v) for k, v in _pieces(obj)}


def _changed_since(before: list[dict], watched: tuple) -> str | None:
    """``_attributes_changed(before, _attributes(watched))`` without making the new state: each
    piece compared where it lies (a replay's check: 3x faster, 7 against 21 us for an estimator's
    loss, whose settings are a dict of 23 items)."""
    for old, obj in zip(before, watched):
        for k, v in _pieces(obj):
            if k not in old or not _matches(old[k], v):
                return k if isinstance(k, str) else f"{k[0]} {k[1]}"
    return None


def _matches(recorded: Any, value: Any) -> bool:
    """Whether ``value`` is what ``_shallow`` recorded: ``_shallow(value) == recorded``."""
    if recorded.__class__ is _Same:
        return not isinstance(value, (dict, list, tuple)) and _same_object(recorded.value, value)
    kind, items = recorded
    if kind == "dict":
        if not isinstance(value, dict) or len(value) != len(items):
            return False
        return all(k == key and _same_object(same.value, v) for (k, same), (key, v) in zip(items, value.items()))
    if not isinstance(value, (list, tuple)) or type(value).__name__ != kind or len(value) != len(items):
        return False
    return all(_same_object(same.value, v) for same, v in zip(items, value))


def _shallow(value: Any) -> Any:
    """``value`` as something to compare later: a container by its items, anything else as itself."""
    if isinstance(value, dict):
        return ("dict", tuple((k, _Same(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_Same(v) for v in value))
    return _Same(value)


class _Same:
    """A value held for comparison: a number or string by value, anything else by identity."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and _same_object(self.value, other.value)

    __hash__ = None  # type: ignore[assignment]


def _attributes_changed(before: list[dict], after: list[dict]) -> str | None:
    """The first piece of a watched object's state that is new or not the same as before, if any."""
    for old, new in zip(before, after):
        for k in new:
            if k not in old or old[k] != new[k]:
                return k if isinstance(k, str) else f"{k[0]} {k[1]}"
    return None


def _python_state_changed(before: tuple, after: tuple) -> str | None:
    if before[0] != after[0]:
        reason = "the step draws numbers from Python's random module, which a plan would not draw again"
        if threading.active_count() > 1:  # (its generator is shared: a draw cannot be told apart by thread)
            reason += (
                f" (or one of the other {threading.active_count() - 1} threads of this process drew from it while "
                "the step was recorded, as dask's workers do)"
            )
        return reason
    if before[1] != after[1]:
        return "the step draws numbers from np.random, which a plan would not draw again (use chainrule's ops)"
    changed = _attributes_changed(before[2], after[2])
    if changed:
        return f"the step changes the Python attribute {changed!r} of an object it uses, which a plan would not change"
    return None


def _same_object(a: Any, b: Any) -> bool:
    if a is b:
        return True
    try:
        return bool(a == b) if type(a) in (int, float, str, bool, tuple) else False
    except Exception:
        return False


def _labels(modules: list) -> dict[int, str]:
    """The dotted names of the parameters and buffers of the modules a step called (the first
    module called, usually the whole model, names them), for the plan's legend."""
    labels: dict[int, str] = {}
    for module in modules:
        for name, t in [*module.named_parameters(), *module.named_buffers()]:
            labels.setdefault(id(t), name)
    return labels


def _gradient_hooked(tensors: tuple, leaves: list) -> bool:
    """Whether a gradient hook (``Tensor.register_hook``) is on one of a plan's tensors or of this
    call's tensor arguments."""
    return any(id(t) in _grad_hooks for t in tensors) or any(id(t) in _grad_hooks for t in leaves)


def _param_ids(optimizer: Any) -> tuple[int, ...]:
    return tuple(id(p) for g in optimizer.param_groups for p in g["params"])


def _array_of(leaf: Any) -> np.ndarray:
    return leaf._data if isinstance(leaf, Tensor) else leaf


def _same_values(a: np.ndarray, b: Any) -> bool:
    b = _array_of(b)
    return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))


def _flatten(obj: Any, leaves: list, key: list, seen: dict[int, int]) -> None:
    """Collect the tensors and arrays in ``obj`` (``leaves``) and what else identifies the call.

    A tensor or array given twice is one leaf (the signature says so: ``f(x, x)`` and ``f(x, y)``
    are different calls); a float is told apart by its bits (-0.0 from 0.0); any other object by
    identity, held by the key (so that its id cannot be reused by another object while cached)."""
    if isinstance(obj, (Tensor, np.ndarray)):
        again = seen.get(id(obj))
        if again is not None:
            key.append(("same", again))
            return
        seen[id(obj)] = len(leaves)
        leaves.append(obj)
        if isinstance(obj, Tensor):
            key.append(("T", obj._data.shape, obj._data.dtype.str, obj._requires_grad, obj._data.strides))
        else:
            key.append(("A", obj.shape, obj.dtype.str, obj.strides))
    elif isinstance(obj, (tuple, list)):
        key.append((type(obj).__name__, len(obj)))
        for item in obj:
            _flatten(item, leaves, key, seen)
    elif isinstance(obj, dict):
        key.append(("D", tuple(obj)))
        for item in obj.values():
            _flatten(item, leaves, key, seen)
    elif isinstance(obj, (float, np.floating)):
        key.append((type(obj).__name__, float(obj).hex()))
    elif obj is None or isinstance(obj, (bool, int, str, np.generic)):
        key.append((type(obj).__name__, obj))
    else:  # any other object (a model, a function)
        key.append(_Identity(obj))


class _Identity:
    """An object in a signature: equal to itself only, and kept alive by the key."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def __hash__(self) -> int:
        return id(self.obj)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Identity) and other.obj is self.obj


def compile(fn: Callable | None = None, *, cache_size: int = 8, backend: str = "auto") -> Any:
    """Compile a training or inference step: record it once, then replay it as a plan.

    ``fn`` takes tensors and arrays (and other arguments, which become part of the signature) and
    may run a forward pass, a loss, ``backward()``, gradient clipping, ``optimizer.step()`` and
    ``zero_grad()``. See :mod:`chainrule.compiler.api` for how calls are recorded and replayed,
    what is checked before a replay and what makes a step run eagerly (with a
    :class:`CompileWarning`). Works as ``cr.compile(fn)``, ``@cr.compile`` and
    ``@cr.compile(cache_size=...)``; ``cr.compile(model)`` compiles a module's forward.

    Args:
        fn: the function (or Module) to compile.
        cache_size: how many input signatures keep their plans (the oldest is dropped).
        backend: ``"numba"`` fuses elementwise chains of the step into compiled loops (needs the
            extra ``fast``); ``"numpy"`` replays NumPy calls only; ``"auto"`` (default) is numba
            when it is installed and enabled (:mod:`chainrule.kernels`), for the chains of at
            least ``kernels.MIN_SIZE`` numbers. All keep buffers for the values that never leave
            the step.

    Returns:
        a :class:`CompiledFunction`.

    Example:
        >>> import chainrule as cr
        >>> _ = cr.manual_seed(0)
        >>> model = cr.nn.Linear(3, 1)
        >>> opt = cr.optim.SGD(model.parameters(), lr=0.1)
        >>> @cr.compile
        ... def step(x, y):
        ...     opt.zero_grad()
        ...     loss = cr.nn.functional.mse_loss(model(x), y)
        ...     loss.backward()
        ...     opt.step()
        ...     return loss
        >>> x, y = cr.randn(8, 3), cr.randn(8, 1)
        >>> losses = [step(x, y).item() for _ in range(5)]
        >>> losses[-1] < losses[0], step.stats["replayed"]
        (True, 3)
    """
    if fn is None:
        return lambda f: CompiledFunction(f, cache_size, backend=backend)
    return CompiledFunction(fn, cache_size, backend=backend)
