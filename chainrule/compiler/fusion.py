"""What a plan does with the arrays of a step: buffers it keeps, and elementwise chains fused.

Two passes over a plan's instructions, after constants are folded and unused values dropped:

- **Buffers.** A value that never leaves the step -- not returned, not handed to a ``.grad``, a
  library call or a tensor, not viewed by anything that does -- is written by every replay into
  one array the plan keeps (``out=``), instead of a fresh array per call. That is done for the
  gradient rules' NumPy operators (``* + - / ** @``, comparisons, ``exp``, ``log``, ``tanh``, ...),
  for the fused loops below, for the forward ops that are one operator, and for the ops that can
  write their output into a given array (``Function.forward_into``: ``Linear``).
- **Fusion** (with numba, the extra ``fast``). A chain of elementwise operations whose inner
  values are used once, such as ReLU's gradient ``g * (x > 0)``, becomes one loop compiled by
  numba: one pass over memory, no temporaries. Each operation keeps NumPy's types: its operands
  are cast to the type NumPy computes it in (a Python number to the array's dtype, as NumPy does
  with float32 arrays), and only operations IEEE arithmetic rounds exactly take part (``+ - * /``,
  comparisons, negation), so a loop gives the NumPy calls' result bit for bit. Only operands of
  the result's shape, 0-d arrays and numbers take part: a chain that broadcasts stays as NumPy
  calls. The loops are generated as source, compiled once, and cached on disk
  (``chainrule.kernels.generated``).
- **Forward ops** that are one NumPy operator (``Add``, ``Mul``, ``Tanh``, ``Relu``, ...) and
  whose node no rule reads are replayed as that operator, so they get buffers and join loops too.
"""

from __future__ import annotations

import math
import operator
from typing import Any, NamedTuple

import numpy as np

from chainrule import kernels
from chainrule.compiler.recorder import Const, Ext, Instr, _leaves
from chainrule.compiler.tracer import Ref

# the gradient rules' operators that NumPy can write into a given array
UFUNCS: dict[Any, np.ufunc | Any] = {
    operator.add: np.add,
    operator.sub: np.subtract,
    operator.mul: np.multiply,
    operator.truediv: np.true_divide,
    operator.pow: np.power,
    operator.neg: np.negative,
    operator.matmul: np.matmul,
    operator.gt: np.greater,
    operator.ge: np.greater_equal,
    operator.lt: np.less,
    operator.le: np.less_equal,
    operator.eq: np.equal,
    operator.ne: np.not_equal,
    np.exp: np.exp,
    np.log: np.log,
    np.sin: np.sin,
    np.cos: np.cos,
    np.tanh: np.tanh,
    np.maximum: np.maximum,
}


def _fresh() -> set[Any]:
    """The rules' operations that always return a new array (never a view of an operand)."""
    from chainrule.interpreters import NUMPY

    named = ("sum", "broadcast_to", "where", "cast", "concat", "stack", "index_add", "relu")
    return set(UFUNCS) | {getattr(NUMPY, name) for name in named}  # (np.maximum: the forward ReLU)


FRESH = _fresh()

# elementwise operators a fused loop computes, as the expression of one element: only those IEEE
# arithmetic rounds exactly (+ - * /, comparisons, negation), so that a loop gives NumPy's result
# bit for bit; exp, log, tanh, ** stay NumPy calls (numba's libm may differ in the last bit)
_BINARY = {operator.add: "+", operator.sub: "-", operator.mul: "*", operator.truediv: "/"}
_COMPARE = {
    operator.gt: ">",
    operator.ge: ">=",
    operator.lt: "<",
    operator.le: "<=",
    operator.eq: "==",
    operator.ne: "!=",
}

# instructions whose arguments never outlive the call (copied, or read to make a value)
_COPYING = ("copy", "store", "fill", "setitem")
# instructions that make a value from their arguments and nothing else
_MAKING = ("op", "op0", "rule", "ufunc", "pure", "whole", "item", "read", "load", "fused")
# instructions a fused chain may be moved across: they write nothing
_PURE = ("op", "op0", "rule", "ufunc", "pure", "read", "load", "item", "copy", "fused")
# the instructions that are one NumPy operator on their arguments: a gradient rule's, or a forward
# op's written as one (``ufunc``, see ``forward_ops``)
_OPERATOR = ("rule", "ufunc")


def _forward_operators() -> dict[type, Any]:
    """The forward ops whose ``forward`` is exactly one NumPy operator on their inputs, and that
    keep nothing for their rule: replayed as that operator (no node), into a buffer or a loop."""
    from chainrule.ops import elementwise as e

    return {
        e.Add: operator.add,
        e.Sub: operator.sub,
        e.Mul: operator.mul,
        e.Div: operator.truediv,
        e.Neg: operator.neg,
        e.Exp: np.exp,
        e.Log: np.log,
        e.Sin: np.sin,
        e.Cos: np.cos,
        e.Tanh: np.tanh,
    }


def forward_ops(instrs: list[Instr]) -> list[Instr]:
    """``instrs`` with each forward op that is one NumPy operator, and whose node nothing reads
    later, made a ``ufunc`` instruction of that operator (ReLU: ``np.maximum(x, 0)``)."""
    from chainrule.ops.elementwise import Relu

    operators = _forward_operators()
    read = {i.target for i in instrs if i.kind in ("read", "whole")}  # nodes a rule reads
    out = []
    for i in instrs:
        if i.kind == "op" and not i.params and i.out not in read:
            if i.target in operators:
                i = Instr("ufunc", i.out, operators[i.target], i.args, {}, i.note)
            elif i.target is Relu:
                i = Instr("ufunc", i.out, np.maximum, (*i.args, 0), {}, i.note)
        out.append(i)
    return out


class Fused(NamedTuple):
    """A fused loop: the function numba compiled, its source and the expression it computes (its
    operands named ``x0``, ``x1``, ... in the order the loop takes them)."""

    fn: Any
    source: str
    expression: str


def _refs(x: Any) -> list[int]:
    return [v.id for v in _leaves(x) if isinstance(v, Ref)]


def escaping(instrs: list[Instr], outputs: Any) -> set[int]:
    """The values that may outlive a replay: returned, handed to a ``.grad``, a tensor or a library
    call, or possibly viewed by such a value (an op may return a view of its input)."""
    out = set(_refs(outputs))
    makers = {i.out: i for i in instrs if i.out is not None}
    for instr in reversed(instrs):
        k = instr.kind
        if k in _COPYING:
            continue
        if k in _MAKING and instr.out not in out:
            continue
        if (k in _OPERATOR and instr.target in FRESH) or k == "fused":  # a new array: its operands stay inside
            continue
        if k == "op" and hasattr(instr.target, "forward_into"):  # an op that writes its own array
            continue
        out.update(_refs(instr.args))
        out.update(_refs(instr.params))
        if k == "read":  # a value a node saved may be (a view of) one of that node's inputs
            maker = makers.get(instr.target)
            if maker is not None:
                out.update(_refs(maker.args))
    return out


def buffered(instrs: list[Instr], outputs: Any, layout: dict[int, tuple]) -> dict[int, tuple]:
    """The values written into a kept buffer: made by a NumPy operator (or a fused loop) and not
    escaping; value number -> (shape, dtype, strides) of the array each replay writes."""
    gone = escaping(instrs, outputs)
    read = {i.target for i in instrs if i.kind in ("read", "whole")}  # nodes a rule reads: made as eagerly
    kept = {}
    for i in instrs:
        if i.out is None or i.out in gone or i.out not in layout:
            continue
        into = i.kind == "op" and hasattr(i.target, "forward_into") and not i.params and i.out not in read
        if (i.kind in _OPERATOR and i.target in UFUNCS and not i.params) or i.kind == "fused" or into:
            if allocate(layout[i.out]) is not None:
                kept[i.out] = layout[i.out]
    return kept


def allocate(spec: tuple) -> np.ndarray | None:
    """An empty array of ``spec`` = (shape, dtype, strides): the recorded array's layout, so that
    what reads it later (a reduction, a ufunc, whose output follows its input's memory order)
    computes in the order it did eagerly; None when no dense array has those strides."""
    shape, dtype, strides = spec
    order = sorted(range(len(shape)), key=lambda a: -strides[a])  # outermost axis first
    dense = np.empty([shape[a] for a in order], dtype=dtype)
    out = dense.transpose(np.argsort(order))
    same = all(n == 1 or a == b for n, a, b in zip(shape, out.strides, strides))  # (a length-1 axis: any)
    return out if same or out.size == 0 else None


# ---------------------------------------------------------------- fusion
class _Node(NamedTuple):
    expr: str  # the element's expression, leaves named by their place in ``leaves``
    dtype: np.dtype


def fuse(instrs: list[Instr], outputs: Any, layout: dict[int, tuple], min_size: int = 0) -> list[Instr]:
    """``instrs`` with each chain of elementwise operations whose inner values are used once made
    one ``fused`` instruction (its target a :class:`Fused` loop); only chains whose result has at
    least ``min_size`` numbers."""
    uses: dict[int, int] = {}
    for i in instrs:  # (a value written in place, ``target``, is used there: it is not absorbed)
        target = [i.target] if i.kind in ("read", "whole") else _refs(i.target)
        for n in _refs(i.args) + _refs(i.params) + target:
            uses[n] = uses.get(n, 0) + 1
    for n in _refs(outputs):
        uses[n] = uses.get(n, 0) + 2
    gone = escaping(instrs, outputs)
    position = {i.out: k for k, i in enumerate(instrs) if i.out is not None}
    fusable = {i.out for i in instrs if _elementwise(i, layout) and math.prod(layout[i.out][0]) >= min_size}
    absorbed: set[int] = set()  # values computed inside a later instruction's loop

    def inner(n: Any, consumer: int) -> bool:
        """Whether value ``n`` can be computed inside the loop of the instruction at ``consumer``."""
        if not isinstance(n, Ref) or n.id not in fusable or uses.get(n.id) != 1 or n.id in gone:
            return False
        start = position[n.id]
        return all(instrs[k].kind in _PURE for k in range(start + 1, consumer))

    roots: set[int] = set()  # the values whose loop computes one or more absorbed values
    for k, i in enumerate(instrs):
        if i.out not in fusable:
            continue
        for a in i.args:
            if inner(a, k):
                absorbed.add(a.id)
                roots.discard(a.id)  # (its loop becomes part of this one)
                roots.add(i.out)
    if not roots:
        return instrs
    made = {i.out: i for i in instrs if i.out is not None}
    return [_fused(i, made, absorbed, layout) if i.out in roots else i for i in instrs if i.out not in absorbed]


def _shape(x: Any, layout: dict[int, tuple]) -> tuple | None:
    """(shape, dtype, strides) of an operand, or None for a Python number."""
    if isinstance(x, Ref):
        return layout.get(x.id)
    if isinstance(x, Ext):
        data = x.obj.grad._data if x.attr == "grad" else x.obj._data
        return data.shape, data.dtype, data.strides
    if isinstance(x, Const) and isinstance(x.value, np.ndarray):
        return x.value.shape, x.value.dtype, x.value.strides
    return None


def _c_order(shape: tuple, dtype: np.dtype, strides: tuple) -> bool:
    """Whether an array of this layout is C-contiguous."""
    step = dtype.itemsize
    for n, s in zip(reversed(shape), reversed(strides)):
        if n != 1 and s != step:
            return False
        step *= n
    return True


def _elementwise(i: Instr, layout: dict[int, tuple]) -> bool:
    """Whether a loop can compute ``i``: an elementwise operator of float (or comparison) type on
    operands of its own shape, 0-d arrays and Python numbers."""
    if i.kind not in _OPERATOR or i.params or i.out not in layout:
        return False
    fn = i.target
    if fn not in _BINARY and fn not in _COMPARE and fn is not operator.neg:
        return False
    shape, dtype, strides = layout[i.out]
    # (a 0-d value may be a NumPy scalar; the loop runs in C order, as NumPy did: the same rounding)
    if shape == () or not _c_order(shape, dtype, strides):
        return False
    if dtype not in kernels.DTYPES and not (fn in _COMPARE and dtype == np.bool_):
        return False
    for a in i.args:
        s = _shape(a, layout)
        if s is None:
            if not _is_number(a) or not math.isfinite(a):  # (written into the loop's source)
                return False
            continue
        if s[0] != shape and s[0] != ():
            return False
        if s[0] == shape and not _c_order(*s):
            return False
        if s[1] not in kernels.DTYPES and (s[1] != np.bool_ or fn in _COMPARE):  # (compared: floats only)
            return False
    return True


def _fused(root: Instr, made: dict[int, Instr], absorbed: set[int], layout: dict[int, tuple]) -> Instr:
    leaves: list[Any] = []
    shape = layout[root.out][0]

    def leaf(x: Any) -> _Node:
        s = _shape(x, layout)
        if s is None:  # a Python number: NumPy casts it to the other operand's type (below)
            return _Node(repr(x), np.result_type(x))
        j = _index(leaves, x)
        if j is None:
            j = len(leaves)
            leaves.append(x)
        return _Node(f"x{j}[i]" if s[0] == shape else f"s{j}", s[1])

    def build(x: Any) -> _Node:
        if isinstance(x, Ref) and x.id in absorbed:
            return node(made[x.id])
        return leaf(x)

    def cast(n: _Node, dtype: np.dtype) -> str:
        return f"np.{dtype.name}({n.expr})"

    def node(i: Instr) -> _Node:
        out = layout[i.out][1]
        parts = [build(a) for a in i.args]
        fn = i.target
        if fn in _COMPARE:
            common = np.result_type(*[a if _is_number(a) else p.dtype for a, p in zip(i.args, parts)])
            a, b = (cast(p, common) for p in parts)
            return _Node(f"({a} {_COMPARE[fn]} {b})", out)
        if fn is operator.neg:
            return _Node(f"(-{cast(parts[0], out)})", out)
        a, b = (cast(p, out) for p in parts)
        return _Node(f"np.{out.name}({a} {_BINARY[fn]} {b})", out)

    top = node(root)
    names = []
    hoist = []
    for j, x in enumerate(leaves):
        s = _shape(x, layout)
        names.append(f"x{j}" if s[0] == shape else f"s{j}")
        hoist.append(f"    x{j} = x{j}.ravel()" if s[0] == shape else f"    s{j} = s{j}[()]")
    args = ", ".join(names + ["out"])
    source = "\n".join(
        [
            '"""A fused elementwise loop generated by chainrule.compiler.fusion."""',
            "import numba",
            "import numpy as np",
            "",
            "",
            "@numba.njit(cache=True, nogil=True, error_model='numpy')  # (x / 0 is inf, as in NumPy)",
            f"def kernel({args}):",
            *hoist,
            "    o = out.reshape(-1)",
            "    for i in range(o.size):",
            f"        o[i] = {top.expr}",
            "    return out",
            "",
        ]
    )
    fn = kernels.generated(source, "kernel")
    expression = _readable(root, made, absorbed, leaves)
    return Instr("fused", root.out, Fused(fn, source, expression), tuple(leaves), {}, expression)


def _index(leaves: list[Any], x: Any) -> int | None:
    """Where ``x`` is among a loop's operands (a value by its number, anything else by identity)."""
    for j, seen in enumerate(leaves):
        if seen is x or (isinstance(x, Ref) and isinstance(seen, Ref) and seen.id == x.id):
            return j
    return None


def _is_number(x: Any) -> bool:
    return type(x) in (int, float, bool)


def _readable(i: Instr, made: dict[int, Instr], absorbed: set[int], leaves: list[Any]) -> str:
    """The chain as one expression, its operands ``x0``, ``x1``, ... (``x0 * (x1 > 0)``)."""

    def show(x: Any) -> str:
        if isinstance(x, Ref) and x.id in absorbed:
            return f"({_readable(made[x.id], made, absorbed, leaves)})"
        if _is_number(x):
            return repr(x)
        return f"x{_index(leaves, x)}"

    fn = i.target
    if fn in _BINARY:
        return f"{show(i.args[0])} {_BINARY[fn]} {show(i.args[1])}"
    if fn in _COMPARE:
        return f"{show(i.args[0])} {_COMPARE[fn]} {show(i.args[1])}"
    if fn is operator.neg:
        return f"-{show(i.args[0])}"
    raise AssertionError(f"not a fused operation: {fn!r}")
