"""A recorded step turned into a plan: one generated Python function of NumPy calls.

Two recordings of the same step are compared first (:func:`compare`): they must make the same
instructions in the same order. A tensor the step read but did not make (an ``Ext``) is the same
object both times (a parameter, a buffer), or two tensors over one memory that lives on (a
parameter's ``.detach()``): both are read live on each replay; or two objects with equal values (a
constant the step made, such as a number lifted to a tensor: folded into the plan). Two
different values mean the step computed it from the data outside chainrule's ops, and the step
is not replayed. Before the plan is made, what depends on constants only is computed once and
what nothing uses is left out.

The plan (:class:`Plan`) is Python source, one line per instruction, compiled once: the forward
ops' ``forward`` methods on arrays, the gradient rules' NumPy calls, the writes into ``.grad``,
and the calls of the stateful library functions (``optimizer.step()``) that are run live. The
values that never leave the step are written into buffers the plan keeps (``B[k]``), and with
numba the elementwise chains are fused into compiled loops (``chainrule.compiler.fusion``). Its
``str`` is that source, with a comment naming each line's op, then what each name stands for
(parameters, fused loops, buffers): what a learner can read to see what was recorded and what
runs.
"""

from __future__ import annotations

import math
import re
import threading
from typing import Any

import numpy as np

from chainrule.autograd import _accumulate
from chainrule.compiler import fusion
from chainrule.compiler.recorder import Attribute, Const, Ext, Instr, Recorder, _leaves, _map
from chainrule.compiler.tracer import Ref
from chainrule.interpreters import NUMPY
from chainrule.tensor import Tensor, _convert_data


class Mismatch(Exception):
    """Two recordings of a step differ: the step cannot be replayed (the message says where)."""


def compare(a: Recorder, b: Recorder) -> list[Instr]:
    """The instructions of ``b``, with the constants both recordings agree on folded in.

    Raises :class:`Mismatch` naming the first instruction where the recordings differ.
    """
    if len(a.instrs) != len(b.instrs):
        raise Mismatch(
            f"the step ran {len(a.instrs)} operations on one call and {len(b.instrs)} on the next (Python "
            "control flow that depends on the data or on state)"
        )
    written = _written_targets(b.instrs)
    out = []
    _fold(a.outputs, b.outputs, "the result", set())
    if a.spent != b.spent:
        raise Mismatch("the result's tensors come from different ops on two calls")
    for i, (x, y) in enumerate(zip(a.instrs, b.instrs)):
        where = f"operation {i} ({y.note})"
        if x.kind != y.kind or x.out != y.out or x.note != y.note or not _same_target(x, y):
            raise Mismatch(f"{where} is {x.note} on one call and {y.note} on the next")
        if y.kind == "read":  # (attribute, path): names, not values
            if x.args != y.args:
                raise Mismatch(f"{where} reads {x.args} on one call and {y.args} on the next")
            out.append(y)
            continue
        out.append(
            Instr(
                y.kind,
                y.out,
                _fold(x.target, y.target, where, written) if isinstance(y.target, (Ext, Ref)) else y.target,
                _fold(x.args, y.args, where, written),
                _fold(x.params, y.params, where, written),
                y.note,
            )
        )
    return out


def _written_targets(instrs: list[Instr]) -> set[int]:
    return {id(i.target.obj) for i in instrs if isinstance(i.target, Ext)}


def _same_target(x: Instr, y: Instr) -> bool:
    if x.kind in ("read", "whole"):  # a node's number
        return x.target == y.target
    if isinstance(x.target, (Ext, Ref)) or isinstance(y.target, (Ext, Ref)):  # compared in _fold
        return type(x.target) is type(y.target)
    return x.target is y.target or (x.kind in ("rule", "pure") and x.target == y.target)  # bound methods: ==


def _fold(x: Any, y: Any, where: str, written: set[int]) -> Any:
    """``y`` with each ``Ext`` that differs from ``x``'s but holds the same value made a constant."""
    if isinstance(y, Ext):
        if not isinstance(x, Ext) or x.attr != y.attr:
            raise Mismatch(f"{where} reads a different tensor on each call")
        if x.obj is y.obj:
            return y
        a, b = x.obj._data, y.obj._data
        if y.attr == "data" and (a is b or np.shares_memory(a, b)):
            return y  # two tensors over one memory that lives on (a parameter's .detach(), .data): read live
        if y.attr == "data" and id(y.obj) not in written and _equal(a, b):
            return Const(y.obj._data.copy())
        raise Mismatch(
            f"{where} reads a tensor the step made outside chainrule's ops (NumPy on a tensor's data, "
            "NumPy's random numbers, a value kept from an earlier call), and it differs from one call to the next"
        )
    if isinstance(y, Ref):
        if x != y:
            raise Mismatch(f"{where} reads different values on two calls")
        return y
    if isinstance(y, (tuple, list)):
        if type(x) is not type(y) or len(x) != len(y):
            raise Mismatch(f"{where} has different arguments on two calls")
        return type(y)(_fold(a, b, where, written) for a, b in zip(x, y))
    if isinstance(y, dict):
        if not isinstance(x, dict) or x.keys() != y.keys():
            raise Mismatch(f"{where} has different arguments on two calls")
        return {k: _fold(x[k], y[k], where, written) for k in y}
    if isinstance(y, np.ndarray):
        if not isinstance(x, np.ndarray) or not _equal(x, y):
            raise Mismatch(
                f"{where} uses an array computed outside chainrule's ops that differs from one call to the next"
            )
        return y
    if not _equal_objects(x, y):
        raise Mismatch(f"{where} uses the value {x!r} on one call and {y!r} on the next")
    return y


def _equal(a: np.ndarray, b: np.ndarray) -> bool:
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    return bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))


def _equal_objects(a: Any, b: Any) -> bool:
    """Whether two parameters of an op are equal: by ``==``, or for objects that do not define it
    (a convolution's geometry), attribute by attribute."""
    if a is b:
        return True
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return _equal(a, b)
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(_equal_objects(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal_objects(a[k], b[k]) for k in a)
    if type(a).__eq__ is object.__eq__:
        names = [*getattr(type(a), "__slots__", ()), *getattr(a, "__dict__", {})]
        return bool(names) and all(
            _equal_objects(getattr(a, n, None), getattr(b, n, None)) for n in names if n != "__weakref__"
        )
    try:
        return bool(a == b)
    except Exception:  # objects whose == is not a plain truth value
        return False


def _fold_constants(instrs: list[Instr], outputs: Any) -> tuple[list[Instr], Any, int]:
    """Compute once what depends on constants only: a gradient operation of constants (the
    loss's gradient of 1, scaled by 1/N for a mean) and a read of a folded constant. Forward ops
    are never folded (one may draw random numbers). Returns the instructions left, the outputs and
    how many were folded."""
    known: dict[int, Any] = {}

    def substitute(x: Any) -> Any:
        return _map(x, lambda v: Const(known[v.id]) if isinstance(v, Ref) and v.id in known else v)

    def constant(x: Any) -> bool:
        return not any(isinstance(v, (Ref, Ext)) for v in _leaves(x))

    def value(x: Any) -> Any:
        return _map(x, lambda v: v.value if isinstance(v, Const) else v)

    kept = []
    for instr in instrs:
        if instr.kind != "read":
            instr = instr._replace(args=substitute(instr.args), params=substitute(instr.params))
        if instr.kind == "load" and isinstance(instr.args[0], Const):
            known[instr.out] = instr.args[0].value
            continue
        if instr.kind in ("rule", "pure") and constant(instr.args) and constant(instr.params) and not _draws(instr):
            result = instr.target(*value(instr.args), **value(instr.params))
            known[instr.out] = result if isinstance(result, np.ndarray) else np.asarray(result)
            continue
        kept.append(instr)
    return kept, substitute(outputs), len(instrs) - len(kept)


_PURE = ("load", "rule", "pure", "read", "item")  # instructions without side effects


def _draws(instr: Instr) -> bool:
    """Whether ``instr`` draws random numbers (``cr.randn`` and the other creation functions of
    ``chainrule.random``, marked ``draws``): never folded into a constant nor left out unused, since
    each replay must draw anew and advance the random state as the eager step does."""
    return getattr(instr.target, "draws", False) is True


def _drop_unused(instrs: list[Instr], outputs: Any) -> list[Instr]:
    """Leave out the side-effect-free instructions whose values nothing uses (a rule's read of an
    input it does not need, such as a bias in the gradient of a linear layer)."""
    used: set[int] = set()

    def mark(x: Any) -> None:
        used.update(v.id for v in _leaves(x) if isinstance(v, Ref))

    mark(outputs)
    kept = []
    for instr in reversed(instrs):
        if instr.kind in _PURE and instr.out not in used and not _draws(instr):
            continue
        if instr.kind != "read":
            mark(instr.args)
            mark(instr.params)
        mark(instr.target)
        kept.append(instr)
    return kept[::-1]


def _copied_constants(x: Any) -> Any:
    """Outputs with each constant given as a copy (a caller may keep and change what it gets)."""
    return _map(x, lambda v: _Copy(v.value) if isinstance(v, Const) else _Copy(v) if isinstance(v, np.ndarray) else v)


class _Needs:
    """What a replayed node's ``needs(i)`` reads in place of its input ``i``: whether it requires grad."""

    __slots__ = ("_requires_grad",)

    def __init__(self, requires_grad: bool) -> None:
        self._requires_grad = requires_grad


def _rule(node: Any, needs: tuple, grad: np.ndarray, inputs: tuple) -> tuple:
    """``node``'s rule on NumPy, as a plain backward runs it (``traced_rule`` False)."""
    node.inputs = needs
    result = node.backward(NUMPY, grad, *inputs)
    return result if isinstance(result, tuple) else (result,)


def _spent(value: np.ndarray, op: type) -> Tensor:
    """``value`` as the tensor an eager call returns after its backward: it requires grad and its
    graph (a node of ``op``) is spent, so a second ``backward()`` on it says so."""
    node = op.__new__(op)
    node.inputs = None
    return Tensor._make(value, True, node)


_SCALAR_SLOW = (np.maximum, np.minimum)
"""The NumPy operations whose loop with a number for an operand is several times slower than with
two arrays (``Plan._numbers_as_arrays``)."""
_SCALAR_SLOW_MAX = 2**20
"""The largest result (in numbers) that gets such a constant: above the caches the two loops run
at memory speed (the constant is one more array to read, and the plan keeps it)."""


_HELPERS = {
    "_spent": _spent,
    "_rule": _rule,
    "asarray": np.asarray,
    "empty": np.empty,
    "copyto": np.copyto,
    "_convert": _convert_data,
    "_acc": _accumulate,
    "_wrap": Tensor._make,
}


def _natural(name: str) -> tuple:
    """``t2`` before ``t10``."""
    digits = name.lstrip("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
    return (name[: len(name) - len(digits)], int(digits) if digits.isdigit() else 0)


class _Copy(Const):
    """A constant handed out as a fresh copy."""


class Plan:
    """A compiled step: the generated source, the function made from it, and what it reads.

    Example:
        >>> import chainrule as cr
        >>> model = cr.nn.Linear(2, 1)
        >>> forward = cr.compile(model)
        >>> with cr.no_grad():
        ...     outputs = [forward(cr.randn(4, 2)) for _ in range(3)]
        >>> print(forward.plan)
        # 1 forward ops, 0 gradient operations, 0 fused loops, 0 folded into constants, 0 buffers kept
        def plan(args, B):
            v0 = args[0]._data  # argument 0
            n1 = C0.__new__(C0)
            v1 = n1.forward(v0, t1._data, t2._data)  # Linear
            return _wrap(v1)
        # where
        #   C0 = chainrule.ops.linalg.Linear
        #   t1 = Parameter weight (1, 2) float32
        #   t2 = Parameter bias (1,) float32
    """

    def __init__(
        self,
        instrs: list[Instr],
        outputs: Any,
        labels: dict[int, str] | None = None,
        spent: dict[int, type] | None = None,
        layout: dict[int, tuple] | None = None,
        fuse: bool = False,
        min_size: int = 0,
    ) -> None:
        self.spent = spent or {}  # returned values handed back as tensors of a spent graph (as eagerly)
        self._returning = False
        self.labels = labels or {}  # id(tensor) -> its name in the model ("0.weight"), for the legend
        instrs, outputs, self.folded = _fold_constants(instrs, outputs)
        instrs = _drop_unused(instrs, outputs)
        layout = self.layout = layout or {}
        instrs = fusion.forward_ops(instrs)
        if fuse:
            instrs = fusion.fuse(instrs, outputs, layout, min_size)
        self.buffered = fusion.buffered(instrs, outputs, layout)  # value -> (shape, dtype, strides) of its kept array
        self._slots = {n: k for k, n in enumerate(self.buffered)}
        self._buffers = self._new_buffers()
        self._lock = threading.Lock()  # held while a replay writes into self._buffers
        self.instrs = instrs
        self.names: dict[Any, str] = {}  # id(object) -> its name in the generated code
        self.scope: dict[str, Any] = {}  # the names the code uses, besides _HELPERS
        self.outputs = outputs
        self.arguments: dict[int, str] = {}  # value number of a Tensor argument -> its code
        lines = []
        for instr in instrs:
            lines.extend(self._lines(instr))
        self._returning = True
        body = lines + [f"return {self._value(_copied_constants(outputs), event=True)}"]
        self._returning = False
        self.source = "def plan(args, B):\n" + "\n".join("    " + line for line in body) + "\n"
        namespace = {**_HELPERS, **self.scope}
        exec(compile(self.source, "<chainrule plan>", "exec"), namespace)
        self._fn = namespace["plan"]
        self.tensors = tuple(v for v in self.scope.values() if isinstance(v, Tensor))  # the ones it reads
        self.ops = sum(1 for i in instrs if i.kind in ("op", "op0", "ufunc"))
        self.rules = sum(1 for i in instrs if i.kind == "rule")
        self.fused = [i.target for i in instrs if i.kind == "fused"]  # the fused loops (Fused: .source)
        self.events = [i.note for i in instrs if i.kind == "event"]

    def _new_buffers(self) -> list[np.ndarray]:
        return [fusion.allocate(spec) for spec in self.buffered.values()]

    def run(self, args: list[Any]) -> Any:
        """Replay the step on ``args`` (its tensor and array arguments, in order)."""
        if not self._buffers:
            return self._fn(args, self._buffers)
        if self._lock.acquire(blocking=False):
            try:
                return self._fn(args, self._buffers)
            finally:
                self._lock.release()
        return self._fn(args, self._new_buffers())  # another thread (or this one, nested) is replaying it

    def __str__(self) -> str:
        """The plan's code, then what each name in it stands for."""
        legend = [f"#   {name} = {self._describe(self.scope[name])}" for name in sorted(self.scope, key=_natural)]
        legend += [f"#   B[{k}] = buffer {shape} {dtype}" for k, (shape, dtype, _) in enumerate(self.buffered.values())]
        head = (
            f"# {self.ops} forward ops, {self.rules} gradient operations, {len(self.fused)} fused loops, "
            f"{self.folded} folded into constants, {len(self.buffered)} buffers kept"
        )
        return "\n".join([head, self.source.rstrip(), "# where", *(legend or ["#   (nothing)"])])

    def _describe(self, obj: Any) -> str:
        if isinstance(obj, type):
            return f"{obj.__module__}.{obj.__qualname__}"
        if isinstance(obj, fusion.Fused):
            return f"fused loop (numba): {obj.expression}"
        if isinstance(obj, Tensor):
            label = self.labels.get(id(obj))
            kind = type(obj).__name__
            return f"{kind} {label + ' ' if label else ''}{obj.shape} {obj.dtype}"
        if isinstance(obj, np.ndarray):
            return f"array {obj.shape} {obj.dtype}" if obj.size > 4 else f"array({obj.tolist()}, {obj.dtype})"
        if callable(obj):
            return getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or repr(obj)
        return repr(obj)

    def __repr__(self) -> str:
        return f"<Plan: {self.ops} forward ops, {self.rules} gradient operations, calls {self.events}>"

    # ---------------------------------------------------------------- code
    def _name(self, obj: Any, prefix: str) -> str:
        bound = getattr(obj, "__self__", None)  # a bound method is a new object on each access: by its parts
        key = (id(obj.__func__), id(bound)) if bound is not None and hasattr(obj, "__func__") else id(obj)
        name = self.names.get(key)
        if name is None:
            name = self.names[key] = f"{prefix}{len(self.names)}"
            self.scope[name] = obj
        return name

    def _value(self, x: Any, event: bool = False) -> str:
        """The code of an operand (``event``: tensors as Tensor objects, for a library call)."""
        if isinstance(x, Ref):
            if event and self._returning and x.id in self.spent:
                return f"_spent(v{x.id}, {self._name(self.spent[x.id], 'C')})"
            if event:
                return self.arguments.get(x.id, f"_wrap(v{x.id})")
            return f"v{x.id}"
        if isinstance(x, Ext):
            obj = self._name(x.obj, "t")
            if x.attr == "grad":
                return f"{obj}.grad" if event else f"{obj}.grad._data"
            return obj if event else f"{obj}._data"
        if isinstance(x, _Copy):
            return f"_wrap({self._name(x.value, 'c')}.copy())" if event else f"{self._name(x.value, 'c')}.copy()"
        if isinstance(x, Const):  # (handed to a call as a copy: the call may keep it and change it)
            return f"_wrap({self._name(x.value, 'c')}.copy())" if event else self._name(x.value, "c")
        if isinstance(x, tuple):
            items = [self._value(v, event) for v in x]
            return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
        if isinstance(x, list):
            return f"[{', '.join(self._value(v, event) for v in x)}]"
        if isinstance(x, dict):
            return "{" + ", ".join(f"{k!r}: {self._value(v, event)}" for k, v in x.items()) + "}"
        if x is None or x is Ellipsis or isinstance(x, (bool, int, str)) and type(x) in (bool, int, str):
            return repr(x)
        if type(x) is float and math.isfinite(x):
            return repr(x)
        return self._name(x, "c")

    def _call(self, args: tuple, params: dict, event: bool = False) -> str:
        parts = [self._value(a, event) for a in args]
        parts += [f"{k}={self._value(v, event)}" for k, v in params.items()]
        return ", ".join(parts)

    def _numbers_as_arrays(self, i: Instr) -> Instr:
        """``i`` with a number given to ``np.maximum``/``np.minimum`` made a kept constant array laid
        out as the other operand: NumPy's loop for two arrays that are laid out alike is 3-4x faster
        than its loop with a number (ReLU's ``np.maximum(x, 0)``: 6.5 against 2.2 us on (100, 100)
        float32, 29 against 10 us on a channels-last (100, 25, 19)); a constant laid out otherwise
        would be slower. The same values, bit for bit: only numbers the result's dtype holds exactly."""
        if i.target not in _SCALAR_SLOW or len(i.args) != 2 or i.out not in self.layout:
            return i
        arrays = [a for a in i.args if isinstance(a, Ref)]
        numbers = [a for a in i.args if type(a) in (int, float)]
        if len(arrays) != 1 or len(numbers) != 1 or arrays[0].id not in self.layout:
            return i
        shape, dtype, strides = self.layout[arrays[0].id]
        dtype, number = np.dtype(dtype), numbers[0]
        if (
            shape != self.layout[i.out][0]
            or not 16 <= math.prod(shape) <= _SCALAR_SLOW_MAX
            or dtype.kind not in "fiu"
            or np.dtype(self.layout[i.out][1]) != dtype
            or dtype.type(number) != number
        ):
            return i
        constant = fusion.allocate((shape, dtype, strides))
        if constant is None:  # (a broadcast or strided operand: keep the number)
            return i
        constant.fill(number)
        constant.flags.writeable = False
        return i._replace(args=tuple(Const(constant) if a is number else a for a in i.args))

    def _lines(self, i: Instr) -> list[str]:
        v = f"v{i.out}" if i.out is not None else None
        k = i.kind
        if k == "input":
            position, tensor = i.args
            if tensor:
                self.arguments[i.out] = f"args[{position}]"
            return [f"{v} = args[{position}]{'._data' if tensor else ''}  # argument {position}"]
        if k == "op" and i.out in self._slots:  # an op that writes into a kept buffer (forward_into)
            call = f"{self._name(i.target, 'C')}.forward_into(B[{self._slots[i.out]}], {self._call(i.args, {})})"
            return [f"{v} = {call}  # {i.note}"]
        if k in ("op", "op0"):  # op0: a 0-d result, which NumPy may give as a scalar
            cls = self._name(i.target, "C")
            node = f"n{i.out}"
            call = f"{node}.forward({self._call(i.args, i.params)})"
            if k == "op0":
                call = f"asarray({call})"
            return [f"{node} = {cls}.__new__({cls})", f"{v} = {call}  # {i.note}"]
        if k in ("rule", "ufunc"):  # one NumPy operation: a gradient rule's, or a forward op that is one
            note = f"{i.note} (gradient)" if k == "rule" else i.note
            i = self._numbers_as_arrays(i)
            if i.out in self._slots:  # written into a kept buffer
                ufunc = self._name(fusion.UFUNCS[i.target], "u")
                return [f"{v} = {ufunc}({self._call(i.args, i.params)}, out=B[{self._slots[i.out]}])  # {note}"]
            call = f"{self._name(i.target, 'f')}({self._call(i.args, i.params)})"
            if self.layout.get(i.out, ((0,),))[0] == ():  # (NumPy may give a 0-d result as a scalar)
                call = f"asarray({call})"
            return [f"{v} = {call}  # {note}"]
        if k == "fused":
            if i.out in self._slots:
                out = f"B[{self._slots[i.out]}]"
            else:
                shape, dtype, _ = self.layout[i.out]  # (C order: a fused loop's operands are)
                out = f"empty({shape!r}, {self._name(dtype, 'c')})"
            # (a 0-d value may reach the loop as a Python or NumPy scalar: a number a rule saved)
            operands = [
                f"asarray({self._value(a)})" if isinstance(a, Ref) and self.layout[a.id][0] == () else self._value(a)
                for a in i.args
            ]
            names = [self._value(a).removesuffix("._data") for a in i.args]
            shown = re.sub(r"x(\d+)", lambda m: names[int(m.group(1))], i.target.expression)
            loop = f"{self._name(i.target, 'k')}.fn"  # (the compiled function itself: no wrapper call)
            return [f"{v} = {loop}({', '.join(operands)}, {out})  # fused: {shown}"]
        if k == "pure":
            return [f"{v} = asarray({self._name(i.target, 'f')}({self._call(i.args, i.params)}))  # {i.note}"]
        if k == "load":
            return [f"{v} = {self._value(i.args[0])}"]
        if k == "read":
            name, path = i.args
            where = "".join(repr(j) if isinstance(j, Attribute) else f"[{j!r}]" for j in path)
            return [f"{v} = n{i.target}.{name}{where}  # saved by the forward"]
        if k == "copy":
            return [f"{v} = {self._value(i.args[0])}.copy()  # the value before an in-place write"]
        if k == "convert":
            copy = ".copy()" if i.params["copy"] else ""
            return [f"{v} = _convert({self._value(i.args[0])}, {self._value(i.params['dtype'])}){copy}  # tensor(...)"]
        if k == "store":
            return [f"copyto({self._value(i.target)}, {self._value(i.args[0])}, casting='same_kind')  # in place"]
        if k == "fill":
            return [f"{self._value(i.target)}[...] = {self._value(i.args[0])}  # fill"]
        if k == "setitem":
            return [f"{self._value(i.target)}[{self._value(i.args[1])}] = {self._value(i.args[0])}  # setitem"]
        if k == "data":
            return [f"{self._value(i.target, event=True)}._data = {self._value(i.args[0])}  # .data ="]
        if k == "setgrad":
            value = "None" if i.args[0] is None else self._value(i.args[0], event=True)
            return [f"{self._value(i.target, event=True)}.grad = {value}"]
        if k == "whole":  # an op's rule called whole on NumPy, by the replayed node
            grad, inputs, needs = i.args
            flags = self._name(tuple(_Needs(n) for n in needs), "c")
            call = f"_rule(n{i.target}, {flags}, {self._value(grad)}, {self._value(inputs)})"
            return [f"{v} = {call}  # {i.note}"]
        if k == "item":
            return [f"{v} = {self._value(i.args[0])}[{i.args[1]}]"]
        if k == "backward":
            return ["h = set()  # backward: arrays already handed to a .grad"]
        if k == "grad":  # (a folded constant is copied: a .grad may be written in place)
            value = self._value(i.args[1]) + (".copy()" if isinstance(i.args[1], Const) else "")
            return [f"_acc({self._value(i.args[0], event=True)}, {value}, h)  # into .grad"]
        if k == "event":
            call = f"{self._name(i.target, 'e')}({self._call(i.args, i.params, event=True)})"
            return [f"{v} = {call}._data  # {i.note}" if v else f"{call}  # {i.note}"]
        raise AssertionError(f"unknown instruction {k}")
