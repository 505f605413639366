"""Export a model to ONNX by tracing its forward.

How it works, for a reader:

1. **Trace.** The model runs once, in eval mode and under ``no_grad``, on the example input, with
   ``cr.compile``'s recorder installed (``chainrule.compiler.recorder``): every op (``Function``),
   every non-differentiable NumPy call (``autograd.pure``) and every parameter or buffer it reads
   is written down, in order. So any forward built from chainrule ops exports, not only a table of
   layer classes. A few layers are kept whole instead of being traced op by op (*leaf layers*):
   BatchNorm in eval mode (``BatchNormalization``), LayerNorm (``LayerNormalization``) and the
   transposed convolutions (``ConvTranspose`` with its bias), so that the file uses the operators
   other tools expect and reads back into the same layers.
2. **Trace again, with other sizes.** With ``dynamic_batch`` (and ``dynamic_axes``) the model runs a
   second time on an input whose symbolic axes are longer. Whatever differs between the two traces
   is a size that follows those axes: a reshape's target, a broadcast, a slice to the end, a
   constant such as a recurrent layer's zero initial state. Each is written so that it follows the
   input at run time (``0`` and ``-1`` in ``Reshape``, a shape computed from ``Shape``). Anything
   else that differs (a branch taken on the batch size) is an error naming the op.
3. **Translate.** Each recorded op becomes one or a few ONNX nodes (the table ``_OPS``), named by the
   module that ran it (``/features.0/Conv``); parameters and buffers become initializers named by
   their ``state_dict`` keys, so that tools (and :func:`chainrule.onnx.loader`) show the same names.

What cannot be exported is refused with the reason: a forward that reads a tensor's value into
Python (``.item()``, ``if x.sum() > 0``), a forward hook, an op with no ONNX translation (the fused
cross-entropy loss, a sort), a dropout in training mode.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from chainrule.autograd import _mode, no_grad
from chainrule.compiler.recorder import Ext, Recorder, Refused, _leaves
from chainrule.compiler.tracer import Ref
from chainrule.nn.conv import ConvTranspose1d, ConvTranspose2d
from chainrule.nn.module import Module, _evaluating
from chainrule.nn.normalization import LayerNorm, _BatchNorm
from chainrule.onnx._common import DEFAULT_OPSET, OnnxError, check_opset, new_model, require_onnx
from chainrule.ops import conv as conv_ops, elementwise, linalg, pool, recurrent, reduce, shape
from chainrule.tensor import Tensor

_INT64_MAX = np.iinfo(np.int64).max
_INT64_MIN = np.iinfo(np.int64).min


# ---------------------------------------------------------------------------------------- tracing


class _Trace(Recorder):
    """The recorder of an export: the forward's ops in order, each with the module path that ran
    it, and leaf layers as one instruction each. Anything a file cannot hold is an error."""

    def __init__(self) -> None:
        super().__init__()
        self.path: list[str] = []
        self.where: list[str] = []  # the module path of each instruction

    def emit(self, kind: str, out: int | None, target: Any, args: tuple, params: dict, note: str) -> None:
        super().emit(kind, out, target, args, params, note)
        self.where.append(self.path[-1] if self.path else "")  # the innermost module's dotted name

    def called_module(self, module: Any) -> None:
        if module._hooked(backward=False):  # (backward hooks do not change the forward)
            self.refuse(
                f"{type(module).__name__} has forward hooks or pre-hooks (Python code an ONNX file cannot hold)"
            )

    def backward(self, *args: Any, **kwargs: Any) -> Any:
        raise OnnxError("export: the forward calls backward(); export a model whose forward only computes its output")

    def event(self, fn: Callable, args: tuple, kwargs: dict) -> Any:
        """A library call marked ``replayed`` in the forward: a check of the input (an Embedding's
        ids) runs and is left out of the file; anything that makes a value is refused."""
        _mode.recorder = None
        try:
            result = fn(*args, **kwargs)
        finally:
            _mode.recorder = self
        if result is not None and not any(result is a for a in args):
            self.refuse(f"{fn.__qualname__} is called in the forward and makes a value the file cannot compute")
        return result

    def leaf(self, module: Module, x: Tensor, out: Tensor) -> None:
        """Record a leaf layer's call as one instruction: ``out`` made by ``module`` from ``x``."""
        try:
            arg = self.operand(x)
        except Refused as refusal:
            self.refuse(str(refusal))
            return
        n = self.new_id(out._data)
        self.bind_tensor(out, n)
        self.emit("leaf", n, module, (arg,), {}, type(module).__name__)


def _is_leaf(module: Module) -> bool:
    """Whether ``module`` is exported whole, as one ONNX operator (see the module docstring)."""
    if isinstance(module, _BatchNorm):
        return not module.training and module.track_running_stats
    return isinstance(module, (LayerNorm, ConvTranspose1d, ConvTranspose2d))


@contextmanager
def _module_paths(model: Module, rec: _Trace) -> Iterator[None]:
    """Each module's forward, wrapped for the trace: the recorder knows which module runs, and a
    leaf layer's inner ops are not recorded (the layer is one instruction)."""
    patched = []

    def wrap(name: str, module: Module) -> Callable:
        original = module.forward

        def forward(*args: Any, **kwargs: Any) -> Any:
            rec.path.append(name)
            try:
                if _is_leaf(module) and len(args) == 1 and not kwargs and isinstance(args[0], Tensor):
                    _mode.recorder = None
                    try:
                        out = original(*args)
                    finally:
                        _mode.recorder = rec
                    rec.leaf(module, args[0], out)
                    return out
                return original(*args, **kwargs)
            finally:
                rec.path.pop()

        return forward

    try:
        for name, module in model.named_modules():
            if "forward" in vars(module):
                raise OnnxError(f"export: module {name or type(module).__name__!r} has its own forward attribute")
            object.__setattr__(module, "forward", wrap(name, module))
            patched.append(module)
        yield
    finally:
        for module in patched:
            vars(module).pop("forward", None)


def _trace(model: Module, arrays: Sequence[np.ndarray]) -> tuple[_Trace, Any]:
    """Run ``model`` once on ``arrays`` with the recorder installed; the recorder and the output's spec."""
    rec = _Trace()
    with no_grad(), _module_paths(model, rec), rec:
        inputs = []
        for i, a in enumerate(arrays):
            t = Tensor._make(a)
            rec.input(t, i)
            inputs.append(t)
        result = model(*inputs)
        try:
            spec = rec.output_spec(result)
        except Refused as refusal:
            rec.refuse(str(refusal))
            spec = None
    if rec.refused:
        raise OnnxError(f"export traces the forward, and this one cannot be written to a file: {rec.refused}")
    outputs = [x for x in _leaves(spec) if isinstance(x, (Ref, Ext))]
    if not outputs:
        raise OnnxError(f"export: the forward returned no tensor (got {type(result).__name__})")
    return rec, spec


def _contiguous(a: np.ndarray) -> np.ndarray:
    """``a`` in C order, with its shape (``np.ascontiguousarray`` makes a 0-d array 1-d)."""
    return np.ascontiguousarray(a).reshape(a.shape)


# ---------------------------------------------------------------------------------------- sizes


class _Dim:
    """A symbolic axis: ``name``, its sizes in the two traces, and where to read it at run time."""

    def __init__(self, name: str, sizes: tuple[int, int], source: str, axis: int) -> None:
        self.name, self.sizes, self.source, self.axis = name, sizes, source, axis


def _longer(arrays: Sequence[np.ndarray], axes: Sequence[dict[int, str]]) -> list[np.ndarray]:
    """The second trace's inputs: every symbolic axis made longer (rows repeated, so values stay
    valid: token ids, categories), by a different amount for each symbolic name."""
    names = sorted({name for per_input in axes for name in per_input.values()})
    grow = {name: 2 + 3 * i for i, name in enumerate(names)}
    out = []
    for a, per_input in zip(arrays, axes):
        for axis in sorted(per_input):
            n = a.shape[axis]
            a = np.take(a, np.arange(n + grow[per_input[axis]]) % n, axis=axis)
        out.append(_contiguous(a))
    return out


# ---------------------------------------------------------------------------------------- the graph


class _Builder:
    """The ONNX graph being written: nodes, initializers, and the names of the trace's values."""

    def __init__(self, onnx: Any, model: Module) -> None:
        self.onnx = onnx
        self.nodes: list[Any] = []
        self.initializers: dict[str, Any] = {}
        self.names: dict[int, str] = {}  # value number -> ONNX name
        self.count = 0
        self.dims: list[_Dim] = []
        self.dim_values: dict[str, str] = {}
        self.owned = {id(t): name for name, t in model.named_parameters()}
        self.owned.update({id(t): name for name, t in model.named_buffers()})
        self.ext_names: dict[int, str] = {}
        self.packed: dict[str, tuple[str, list[str], int]] = {}  # recurrent layers' packed outputs (see _recurrent)
        self.where = ""

    # ------------------------------------------------------------ names and constants
    def fresh(self, hint: str) -> str:
        """A new name: ``hint`` numbered by a counter the whole graph shares (``hint_7``)."""
        self.count += 1
        return f"{hint}_{self.count}"

    def node(self, op: str, inputs: Sequence[str], outputs: int | Sequence[str] = 1, **attrs: Any) -> list[str]:
        """Add a node; its output names (new ones unless given)."""
        name = f"/{self.where}/{op}" if self.where else f"/{op}"
        name = self.fresh(name)
        outs = [f"{name}_output_{i}" for i in range(outputs)] if isinstance(outputs, int) else list(outputs)
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(self.onnx.helper.make_node(op, list(inputs), outs, name=name, **attrs))
        return outs

    def one(self, op: str, inputs: Sequence[str], **attrs: Any) -> str:
        """Add a node of one output; its name."""
        return self.node(op, inputs, 1, **attrs)[0]

    def const(self, value: Any, dtype: Any = None, name: str | None = None) -> str:
        """An initializer holding ``value``."""
        array = np.asarray(value, dtype=dtype)
        name = name or self.fresh("const")
        if array.dtype == object:
            raise OnnxError(f"export: a constant of Python objects cannot be written ({array!r:.80})")
        self.initializers[name] = self.onnx.numpy_helper.from_array(_contiguous(array), name)
        return name

    def ints(self, values: Sequence[int]) -> str:
        """An int64 vector initializer (the shapes, axes and pads operators take as inputs)."""
        return self.const(np.asarray(list(values), dtype=np.int64))

    def ext(self, e: Ext) -> str:
        """The initializer of a tensor the forward read: a parameter or buffer by its state_dict
        name, any other tensor as a constant."""
        if e.attr != "data":
            raise OnnxError("export: the forward reads a gradient (.grad)")
        key = id(e.obj)
        name = self.ext_names.get(key)
        if name is None:
            name = self.owned.get(key) or self.fresh("const")
            self.const(e.obj._data, name=name)
            self.ext_names[key] = name
        return name

    def owned_name(self, t: Tensor) -> str:
        """The initializer of a module's parameter or buffer."""
        return self.ext(Ext(t, "data"))

    # ------------------------------------------------------------ symbolic sizes
    def dim_of(self, sizes: tuple[int, int], what: str) -> _Dim:
        """The symbolic axis whose sizes in the two traces are ``sizes``; an error naming ``what``
        when no input's axis has them."""
        for d in self.dims:
            if d.sizes == sizes:
                return d
        raise OnnxError(
            f"export: {what} depends on the size of a symbolic axis in a way a file cannot follow "
            f"({sizes[0]} in the first trace, {sizes[1]} in the second, which is no input's axis); "
            "export with dynamic_batch=False, or compute that size from the input inside the forward"
        )

    def dim_value(self, d: _Dim) -> str:
        """A 1-element int64 tensor: axis ``d``'s size at run time."""
        name = self.dim_values.get(d.name)
        if name is None:
            saved, self.where = self.where, ""
            name = self.one("Shape", [d.source], start=d.axis, end=d.axis + 1)
            self.where = saved
            self.dim_values[d.name] = name
        return name

    def shape_value(self, first: Sequence[int], second: Sequence[int], what: str) -> str:
        """A shape as an int64 tensor: constant where the two traces agree, each symbolic axis's
        run-time size where they differ."""
        if len(first) != len(second):
            raise OnnxError(
                f"export: {what} has a different rank in the two traces ({tuple(first)} then {tuple(second)})"
            )
        if tuple(first) == tuple(second):
            return self.ints(first)
        parts = []
        for a, b in zip(first, second):
            parts.append(self.ints([a]) if a == b else self.dim_value(self.dim_of((a, b), what)))
        return self.one("Concat", parts, axis=0)


# ---------------------------------------------------------------------------------------- the ops


class _Op:
    """One recorded instruction, as a translation sees it: its ONNX inputs, its parameters in both
    traces, the shapes of its inputs and output in the first."""

    def __init__(self, b: _Builder, args: list[str], params: dict, params2: dict, shapes: list, out: tuple, name: str):
        self.b, self.args, self.params, self.params2 = b, args, params, params2
        self.shapes, self.out_shape, self.name = shapes, out, name

    def same(self, key: str) -> Any:
        """Parameter ``key``, which must not follow a symbolic axis."""
        value = self.params[key]
        if not _equal(value, self.params2[key]):
            raise OnnxError(
                f"export: {self.name}'s {key} changes with the size of a symbolic axis ({value!r} then "
                f"{self.params2[key]!r}); export with dynamic_batch=False"
            )
        return value


def _equal(a: Any, b: Any) -> bool:
    """Whether an op's parameter is the same in the two traces: arrays, sequences and slotted
    objects (a convolution's geometry) compared item by item, types included."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape and np.array_equal(a, b)
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    if hasattr(a, "__slots__") and type(a) is type(b) and not isinstance(a, (int, float)):
        return all(_equal(getattr(a, s, None), getattr(b, s, None)) for s in a.__slots__)
    return type(a) is type(b) and a == b


def _tensor_type(onnx: Any, dtype: np.dtype) -> int:
    """The ONNX element type of a NumPy dtype."""
    try:
        return onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    except (KeyError, TypeError, ValueError):
        raise OnnxError(f"export: dtype {dtype} has no ONNX type") from None


def _elementwise(op_type: str) -> Callable[[_Op], str]:
    def translate(op: _Op) -> str:
        return op.b.one(op_type, op.args)

    return translate


def _log1p(op: _Op) -> str:
    one = op.b.const(np.ones((), dtype=op.out_shape[1]))
    return op.b.one("Log", [op.b.one("Add", [op.args[0], one])])


def _log(op: _Op) -> str:
    """Log; log2 and log10 as Log divided by log(base)."""
    y = op.b.one("Log", op.args)
    base = op.params.get("base")
    if base is None:
        return y
    return op.b.one("Div", [y, op.b.const(np.asarray(np.log(base), dtype=op.out_shape[1]))])


def _expm1(op: _Op) -> str:
    """Exp - 1 (ONNX has no Expm1: the file loses the accuracy near 0)."""
    one = op.b.const(np.ones((), dtype=op.out_shape[1]))
    return op.b.one("Sub", [op.b.one("Exp", op.args), one])


def _rounding(op: _Op) -> str:
    """Floor, Ceil, Round (halves to even, as NumPy), trunc as Floor of |x| with x's sign;
    ``decimals`` as a scaling by 10^decimals around Round."""
    x, mode = op.args[0], op.params["mode"]
    if mode in ("floor", "ceil"):
        return op.b.one(mode.capitalize(), [x])
    if mode == "trunc":
        return op.b.one("Mul", [op.b.one("Floor", [op.b.one("Abs", [x])]), op.b.one("Sign", [x])])
    decimals = op.params.get("decimals", 0)
    if not decimals:
        return op.b.one("Round", [x])
    scale = op.b.const(np.asarray(10.0 ** abs(decimals), dtype=op.out_shape[1]))
    into, back = ("Mul", "Div") if decimals > 0 else ("Div", "Mul")
    return op.b.one(back, [op.b.one("Round", [op.b.one(into, [x, scale])]), scale])


def _hypot(op: _Op) -> str:
    """Sqrt(a^2 + b^2) (the file's squares can overflow where NumPy's hypot does not)."""
    a, b = op.args
    return op.b.one("Sqrt", [op.b.one("Add", [op.b.one("Mul", [a, a]), op.b.one("Mul", [b, b])])])


def _pure_abs_below(op: _Op) -> str:
    """lerp's and cosh's choice of formula: |x| < bound."""
    bound = op.b.const(np.asarray(op.params["bound"], dtype=op.shapes[0][1]))
    return op.b.one("Less", [op.b.one("Abs", op.args), bound])


def _pow_scalar(op: _Op) -> str:
    exponent = op.params["exponent"]
    if exponent == 0.5:
        return op.b.one("Sqrt", op.args)
    return op.b.one("Pow", [op.args[0], op.b.const(np.asarray(exponent, dtype=op.out_shape[1]))])


def _softplus(op: _Op) -> str:
    beta = float(op.params["beta"])
    threshold = float(op.params.get("threshold", 20.0))
    dtype = op.out_shape[1]
    x = op.args[0]
    if beta == 1.0:
        scaled, soft = x, op.b.one("Softplus", [x])
    else:
        scaled = op.b.one("Mul", [x, op.b.const(np.asarray(beta, dtype=dtype))])
        soft = op.b.one("Div", [op.b.one("Softplus", [scaled]), op.b.const(np.asarray(beta, dtype=dtype))])
    linear = op.b.one("Greater", [scaled, op.b.const(np.asarray(threshold, dtype=dtype))])  # PyTorch's x itself there
    return op.b.one("Where", [linear, x, soft])


def _step(op: _Op) -> str:
    dtype = op.out_shape[1]
    x = op.args[0]
    zero = op.b.const(np.zeros((), dtype=op.shapes[0][1]))
    at_zero = op.b.const(np.asarray(op.params["value_at_zero"], dtype=dtype))
    one, none = op.b.const(np.ones((), dtype=dtype)), op.b.const(np.zeros((), dtype=dtype))
    below_or_zero = op.b.one("Where", [op.b.one("Equal", [x, zero]), at_zero, none])
    return op.b.one("Where", [op.b.one("Greater", [x, zero]), one, below_or_zero])


def _clip(op: _Op) -> str:
    dtype = op.out_shape[1]
    bounds = [
        op.b.const(np.asarray(v, dtype=dtype)) if v is not None else "" for v in (op.params["low"], op.params["high"])
    ]
    while bounds and bounds[-1] == "":
        bounds.pop()
    return op.b.one("Clip", [op.args[0], *bounds])


def _where(op: _Op) -> str:
    a, b = op.args
    condition = op.params["condition"]
    if isinstance(condition, np.ndarray) and not _equal(condition, op.params2["condition"]):
        raise OnnxError(f"export: {op.name} chooses with a condition computed outside chainrule's ops")
    return op.b.one("Where", [_index_input(op, condition, np.bool_), a, b])


def _cast_to(op: _Op, x: str, dtype: Any) -> str:
    return op.b.one("Cast", [x], to=_tensor_type(op.b.onnx, dtype))


def _cast(op: _Op) -> str:
    """``cast`` and ``astype``: a Cast to the op's ``dtype``."""
    return _cast_to(op, op.args[0], op.params["dtype"])


def _reduce(op_type: str) -> Callable[[_Op], str]:
    def translate(op: _Op) -> str:
        axes = tuple(op.params["axes"])
        if not axes:  # no axis to reduce: ONNX would reduce them all
            return op.b.one("Identity", op.args)
        keep = int(bool(op.params["keepdims"]))
        kind = "ReduceMin" if op_type == "ReduceMax" and op.params.get("find_min") else op_type
        return op.b.one(kind, [op.args[0], op.b.ints(axes)], keepdims=keep)

    return translate


def _softmax(op_type: str) -> Callable[[_Op], str]:
    def translate(op: _Op) -> str:
        return op.b.one(op_type, op.args, axis=int(op.params["axis"]))

    return translate


def _cumsum(op: _Op) -> str:
    """CumSum, the axis as a graph value."""
    return op.b.one("CumSum", [op.args[0], op.b.const(np.asarray(op.params["axis"], dtype=np.int64))])


def _einsum(op: _Op) -> str:
    """Einsum, its letters made lower case (ONNX's equations are written in them)."""
    equation = op.params["subscripts"]
    letters = sorted(set(equation) - set(",->"))
    if len(letters) > 26:
        raise OnnxError(f"export: einsum {equation!r} names more than 26 dimensions; ONNX's Einsum has 26 letters")
    lower = dict(zip(letters, "abcdefghijklmnopqrstuvwxyz"))
    return op.b.one("Einsum", op.args, equation="".join(lower.get(c, c) for c in equation))


def _reshape(op: _Op) -> str:
    first, second = list(op.params["shape"]), list(op.params2["shape"])
    source, source2 = op.shapes[0][0], op.shapes[0][2]
    if first == second:
        return op.b.one("Reshape", [op.args[0], op.b.ints(first)])
    if len(first) != len(second):
        raise OnnxError(
            f"export: {op.name} reshapes to a different rank when the batch changes ({tuple(first)} then "
            f"{tuple(second)})"
        )
    target: list[Any] = list(first)
    varying = [i for i, (a, c) in enumerate(zip(first, second)) if a != c]
    rest = []
    for i in varying:  # an axis kept where it was: 0 copies the input's size
        if i < len(source) and first[i] == source[i] and second[i] == source2[i]:
            target[i] = 0
        else:
            rest.append(i)
    if len(rest) == 1 and -1 not in first:
        target[rest[0]] = -1
        rest = []
    if not rest:
        return op.b.one("Reshape", [op.args[0], op.b.ints(target)])
    shape_name = op.b.shape_value(first, second, op.name)
    return op.b.one("Reshape", [op.args[0], shape_name])


def _transpose(op: _Op) -> str:
    return op.b.one("Transpose", op.args, perm=[int(a) for a in op.params["axes"]])


def _broadcast_to(op: _Op) -> str:
    shape_name = op.b.shape_value(op.params["shape"], op.params2["shape"], op.name)
    return op.b.one("Expand", [op.args[0], shape_name])


def _concat(op: _Op) -> str:
    return op.b.one("Concat", op.args, axis=int(op.params["axis"]))


def _pad(op: _Op) -> str:
    widths = op.same("pad_width")
    pads = [int(lo) for lo, _ in widths] + [int(hi) for _, hi in widths]
    value = op.b.const(np.asarray(op.params["value"], dtype=op.out_shape[1]))
    return op.b.one("Pad", [op.args[0], op.b.ints(pads), value], mode="constant")


def _matmul(op: _Op) -> str:
    return op.b.one("MatMul", op.args)


def _linear(op: _Op) -> str:
    """Gemm (the weight as it is, transB=1); an input with more than two axes is flattened to rows
    around it, so that the file keeps one Gemm per Linear, as other exporters write it."""
    x_shape = op.shapes[0][0]
    if len(x_shape) == 2:
        return op.b.one("Gemm", op.args, transB=1)
    if len(x_shape) == 1:
        rows = op.b.one("Unsqueeze", [op.args[0], op.b.ints([0])])
        return op.b.one("Squeeze", [op.b.one("Gemm", [rows, *op.args[1:]], transB=1), op.b.ints([0])])
    rows = op.b.one("Reshape", [op.args[0], op.b.ints([-1, x_shape[-1]])])
    y = op.b.one("Gemm", [rows, *op.args[1:]], transB=1)
    lead = op.b.one("Shape", [op.args[0]], start=0, end=len(x_shape) - 1)
    out_features = op.out_shape[0][-1]
    return op.b.one("Reshape", [y, op.b.one("Concat", [lead, op.b.ints([out_features])], axis=0)])


def _window_attrs(g: Any) -> dict[str, Any]:
    return {
        "kernel_shape": [int(k) for k in g.kernel],
        "strides": [int(s) for s in g.stride],
        "pads": [int(lo) for lo, _ in g.pads] + [int(hi) for _, hi in g.pads],
        "dilations": [int(d) for d in g.dilation],
    }


def _geometry(op: _Op) -> Any:
    g, g2 = op.params["geometry"], op.params2["geometry"]
    for field in ("kernel", "stride", "dilation", "pads", "groups"):
        if getattr(g, field) != getattr(g2, field):
            raise OnnxError(
                f"export: {op.name}'s {field} changes with the size of a symbolic axis ({getattr(g, field)} then "
                f"{getattr(g2, field)}); export with dynamic_batch=False"
            )
    return g


def _conv(op: _Op) -> str:
    g = _geometry(op)
    return op.b.one("Conv", op.args, group=int(g.groups), **_window_attrs(g))


def _conv_transpose(op: _Op) -> str:
    """``ConvInputGrad`` in a forward is a transposed convolution (``conv_transpose1d/2d``)."""
    g = _geometry(op)
    attrs = _window_attrs(g)
    out_size = op.out_shape[0][2:]
    natural = [
        (n - 1) * s - lo - hi + d * (k - 1) + 1
        for n, s, (lo, hi), d, k in zip(op.shapes[0][0][2:], g.stride, g.pads, g.dilation, g.kernel)
    ]
    extra = [int(o - n) for o, n in zip(out_size, natural)]
    return _write_conv_transpose(op.b, op.args, attrs, int(g.groups), extra)


def _write_conv_transpose(b: _Builder, inputs: list[str], attrs: dict, group: int, extra: list[int]) -> str:
    """ConvTranspose with ``extra`` (``output_padding``) rows at the end of each spatial axis.
    ONNX Runtime takes an output_padding smaller than the stride only; PyTorch's (and chainrule's)
    may reach the dilation. Those rows are the first ones the end padding crops, so that padding is
    cut by them instead; where it is shorter, the rest are zeros plus the bias, padded after."""
    d = len(extra)
    pads, extra = list(attrs["pads"]), list(extra)
    after = [0] * d
    for i, s in enumerate(attrs["strides"]):
        if extra[i] >= s:
            cut = min(extra[i], pads[d + i])
            pads[d + i] -= cut
            after[i] = extra[i] - cut
            extra[i] = 0
    attrs = {**attrs, "pads": pads, "group": group, "output_padding": extra if any(extra) else None}
    if not any(after):
        return b.one("ConvTranspose", inputs, **attrs)
    y = b.one("ConvTranspose", inputs[:2], **attrs)
    y = b.one("Pad", [y, b.ints([0] * (d + 2) + [0, 0] + after)], mode="constant")
    if len(inputs) > 2 and inputs[2]:
        y = b.one("Add", [y, b.one("Reshape", [inputs[2], b.ints([-1] + [1] * d)])])
    return y


def _max_pool(op: _Op) -> str:
    """MaxPool; padding as long as the window (``ceil_mode`` with a dilation adds some) is written
    as a Pad with the lowest value first, since ONNX Runtime takes pads shorter than the kernel only."""
    g = _geometry(op)
    attrs = _window_attrs(g)
    if all(lo < k and hi < k for (lo, hi), k in zip(g.pads, g.kernel)):
        return op.b.one("MaxPool", op.args, **attrs)
    dtype = op.out_shape[1]
    lowest = -np.inf if dtype.kind == "f" else np.iinfo(dtype).min
    n = len(attrs["kernel_shape"])
    pads = op.b.ints([0, 0] + attrs["pads"][:n] + [0, 0] + attrs["pads"][n:])
    x = op.b.one("Pad", [op.args[0], pads, op.b.const(np.asarray(lowest, dtype=dtype))], mode="constant")
    return op.b.one("MaxPool", [x], **{**attrs, "pads": [0] * (2 * n)})


def _avg_pool(op: _Op) -> str:
    """AveragePool counting the padding (a sum over each window divided by its size), then scaled
    to the divisor chainrule used (the windows' valid sizes, or another count): exact for both of
    ``count_include_pad`` and for the extra windows of ``ceil_mode``."""
    g = _geometry(op)
    attrs = _window_attrs(g)
    attrs.pop("dilations")
    y = op.b.one("AveragePool", op.args, count_include_pad=1, **attrs)
    divisor = op.same("divisor")
    scale = float(g.kernel_volume) / np.asarray(divisor, dtype=np.float64)
    if np.all(scale == 1.0):
        return y
    return op.b.one("Mul", [y, op.b.const(scale.astype(op.out_shape[1]))])


def _dropout(op: _Op) -> str:
    raise OnnxError(
        f"export: {op.name} is a dropout in training mode; export calls model.eval() first, so a dropout that "
        "runs anyway is F.dropout(x, p, training=True) in the forward: pass training=self.training"
    )


def _index(op: _Op) -> str:
    """NumPy's indexing: basic (ints, slices, None, Ellipsis) as Slice, Squeeze and Unsqueeze;
    integer arrays along separate axes (``x[:, idx]``, ``x[:, :, rows, cols]`` of an outer
    product, an Embedding's ``weight[ids]``) as one Gather per axis."""
    index, index2 = op.params["index"], op.params2["index"]
    items, items2 = _index_items(index), _index_items(index2)
    ndim = len(op.shapes[0][0])
    sizes, sizes2 = op.shapes[0][0], op.shapes[0][2]
    if any(i is Ellipsis for i in items):
        at = next(k for k, i in enumerate(items) if i is Ellipsis)
        used = sum(1 for i in items if i is not None and i is not Ellipsis)
        fill = [slice(None)] * (ndim - used)
        items = items[:at] + fill + items[at + 1 :]
        items2 = items2[:at] + fill + items2[at + 1 :]
    b = op.b
    x = op.args[0]
    piece = _unpacked(op)
    if piece is not None:
        return piece
    arrays = [(k, i) for k, i in enumerate(items) if isinstance(i, (np.ndarray, Ref, Ext))]
    if arrays:
        if any(isinstance(i, np.ndarray) and not _equal(i, items2[k]) for k, i in arrays):
            raise OnnxError(
                f"export: {op.name} indexes with an integer array computed from the size of a symbolic axis, which "
                "the file would keep at the example's size; export with dynamic_batch=False (and no dynamic_axes)"
            )
        return _gather(op, items, arrays)
    starts, ends, axes, steps, squeeze, unsqueeze = [], [], [], [], [], []
    axis = out_pos = 0
    for i, i2 in zip(items, items2):
        if i is None:
            unsqueeze.append(out_pos)
            out_pos += 1
            continue
        if isinstance(i, slice):
            start, stop, step = i.start, i.stop, 1 if i.step is None else int(i.step)
            start2, stop2 = i2.start, i2.stop
            if start != start2:
                raise OnnxError(
                    f"export: {op.name} slices from a start that follows the batch size ({start} then {start2})"
                )
            if stop != stop2:
                if stop == sizes[axis] and stop2 == sizes2[axis]:
                    stop = None  # to the end
                else:
                    raise OnnxError(
                        f"export: {op.name} slices to a stop that follows the batch size ({stop} then {stop2})"
                    )
            if (start, stop, step) != (None, None, 1):
                starts.append((0 if step > 0 else _INT64_MAX) if start is None else int(start))
                ends.append((_INT64_MAX if step > 0 else _INT64_MIN) if stop is None else int(stop))
                axes.append(axis)
                steps.append(step)
            out_pos += 1
        else:
            k = int(i)
            if k != int(i2):
                raise OnnxError(
                    f"export: {op.name} takes an element whose position follows the batch size ({k} then {int(i2)})"
                )
            starts.append(k)
            ends.append(k + 1 if k != -1 else _INT64_MAX)
            axes.append(axis)
            steps.append(1)
            squeeze.append(axis)
        axis += 1
    if starts:
        x = b.one("Slice", [x, b.ints(starts), b.ints(ends), b.ints(axes), b.ints(steps)])
    if squeeze:
        x = b.one("Squeeze", [x, b.ints(squeeze)])
    if unsqueeze:
        x = b.one("Unsqueeze", [x, b.ints(unsqueeze)])
    if x == op.args[0]:
        x = b.one("Identity", [x])
    return x


def _index_items(index: Any) -> list:
    """An index as a list of its items (a ``Ref`` is one item, though it is a named tuple)."""
    return list(index) if isinstance(index, tuple) and not hasattr(index, "_fields") else [index]


def _gather(op: _Op, items: list, arrays: list) -> str:
    """Integer-array indexing (``arrays``: (position, index) pairs) as one Gather per array."""
    b = op.b
    plain = all((isinstance(i, slice) and i == slice(None)) for k, i in enumerate(items) if (k, i) not in arrays)
    positions = [k for k, _ in arrays]
    adjacent = positions == list(range(positions[0], positions[0] + len(positions)))
    if not plain or not adjacent:
        raise OnnxError(
            f"export: {op.name} mixes integer arrays with other indices in a way the exporter does not write "
            "(supported: full slices, then integer arrays along consecutive axes)"
        )
    x = op.args[0]
    if len(arrays) == 1:
        k, idx = arrays[0]
        return b.one("Gather", [x, _index_input(op, idx)], axis=k)
    # several arrays: an outer product (each varies along its own axis of the broadcast shape)
    values = [_index_value(op, idx) for _, idx in arrays]
    n = len(values)
    for j, v in enumerate(values):
        shape_j = (1,) * (n - v.ndim) + v.shape
        if max(w.ndim for w in values) != n or any(s != 1 for a, s in enumerate(shape_j) if a != j):
            raise OnnxError(f"export: {op.name} indexes with integer arrays that are not an outer product")
    for j, (k, _) in enumerate(arrays):
        x = b.one("Gather", [x, b.const(values[j].reshape(-1).astype(np.int64))], axis=k)
    return x


def _index_value(op: _Op, idx: Any) -> np.ndarray:
    """An index array of an outer product, which must be a constant of the trace."""
    if isinstance(idx, np.ndarray):
        return idx
    raise OnnxError(f"export: {op.name} indexes with several arrays computed in the forward")


def _index_input(op: _Op, idx: Any, dtype: Any = np.int64) -> str:
    """An array parameter of an op as a graph value: a value of the trace, a tensor's initializer,
    or a constant (of ``dtype``)."""
    if isinstance(idx, Ref):
        return op.b.names[idx.id]
    if isinstance(idx, Ext):
        return op.b.ext(idx)
    return op.b.const(np.asarray(idx).astype(dtype))


_GATE_ORDER = {  # chainrule's (PyTorch's) gate blocks, reordered into ONNX's
    "lstm": (0, 3, 1, 2),  # i f g o -> i o f c
    "gru": (1, 0, 2),  # r z n -> z r h
    "rnn_tanh": (0,),
    "rnn_relu": (0,),
}


def _recurrent(op: _Op) -> str:
    """A whole recurrent layer as ONNX's LSTM, GRU or RNN operator (gate blocks reordered, the two
    biases side by side, GRU's ``linear_before_reset=1``), then its outputs laid out as chainrule's
    packed array (outputs, h_n, c_n along the time axis), which the ops after it take apart."""
    b = op.b
    mode, has_bias, batch_first = op.params["mode"], op.params["bias"], op.params["batch_first"]
    lstm = mode == "lstm"
    n_states = 2 if lstm else 1
    x, states, weights = op.args[0], op.args[1 : 1 + n_states], op.args[1 + n_states :]
    per_direction = 4 if has_bias else 2
    directions = len(weights) // per_direction
    exts = op.params["_weights"]
    if any(not isinstance(w, Ext) for w in exts):
        raise OnnxError(f"export: {op.name}'s weights are computed in the forward; export needs them as parameters")
    arrays = [w.obj._data for w in exts]
    hidden = arrays[1].shape[-1]
    order = _GATE_ORDER[mode]

    def blocks(a: np.ndarray) -> np.ndarray:
        return np.concatenate([a[g * hidden : (g + 1) * hidden] for g in order], axis=0)

    # named after the layer's own weights: lstm.weight_ih_l0 -> lstm.onnx_W_l0, lstm.onnx_R_l0, ...
    first = b.owned.get(id(exts[0].obj)) or b.fresh("rnn.weight_ih_l0")
    prefix, _, own = first.rpartition(".")
    layer = own.split("_", 2)[-1] if own.count("_") >= 2 else ""
    tag = (f"{prefix}." if prefix else "") + "onnx_{}" + (f"_{layer}" if layer else "")
    w_all = np.stack([blocks(arrays[d * per_direction]) for d in range(directions)])
    r_all = np.stack([blocks(arrays[d * per_direction + 1]) for d in range(directions)])
    inputs = [b.const(w_all, name=tag.format("W")), b.const(r_all, name=tag.format("R"))]
    if has_bias:
        bias = np.stack(
            [
                np.concatenate([blocks(arrays[d * per_direction + 2]), blocks(arrays[d * per_direction + 3])])
                for d in range(directions)
            ]
        )
        inputs.append(b.const(bias, name=tag.format("B")))
    else:
        inputs.append("")
    inputs.append("")  # sequence_lens: every sequence is whole
    zero_states = op.params["_zero_states"]
    inputs += ["" if zero else s for s, zero in zip(states, zero_states)]
    while inputs and inputs[-1] == "":
        inputs.pop()
    if batch_first:
        x_time = b.one("Transpose", [x], perm=[1, 0, 2])
    else:
        x_time = x
    inputs[0:0] = [x_time]
    kind = {"lstm": "LSTM", "gru": "GRU"}.get(mode, "RNN")
    attrs: dict[str, Any] = {"hidden_size": int(hidden), "direction": "bidirectional" if directions == 2 else "forward"}
    if kind == "GRU":
        attrs["linear_before_reset"] = 1
    if kind == "RNN":
        attrs["activations"] = ["Relu" if mode == "rnn_relu" else "Tanh"] * directions
    outs = b.node(kind, inputs, 3 if lstm else 2, **attrs)
    y = b.one("Reshape", [b.one("Transpose", [outs[0]], perm=[0, 2, 1, 3]), b.ints([0, 0, -1])])
    rows = [  # each final state (D, B, H) -> (B, D*H)
        b.one("Reshape", [b.one("Transpose", [final], perm=[1, 0, 2]), b.ints([0, -1])])
        for final in outs[1 : 1 + n_states]
    ]
    parts = [y] + [b.one("Unsqueeze", [row, b.ints([0])]) for row in rows]
    packed = b.one("Concat", parts, axis=0)
    if batch_first:
        packed = b.one("Transpose", [packed], perm=[1, 0, 2])
        y = b.one("Transpose", [y], perm=[1, 0, 2])
    # what the ops after it take apart (see _unpacked): the output and each final state, (B, D*H)
    b.packed[packed] = (y, rows, int(batch_first))
    return packed


def _unpacked(op: _Op) -> str | None:
    """An index into a recurrent layer's packed array that takes out its output (``[:T]`` along
    the time axis) or a final state (``[T]``, ``[T + 1]``): that piece, without the packing; the
    unused packing is then dropped from the file. None for any other index."""
    pieces = op.b.packed.get(op.args[0])
    if pieces is None:
        return None
    y, finals, axis = pieces
    index, index2 = op.params["index"], op.params2["index"]
    items = _index_items(index)
    if len(items) != axis + 1 or hasattr(index, "_fields") or not isinstance(index, tuple):
        return None
    if any(not (isinstance(i, slice) and i == slice(None)) for i in items[:axis]):
        return None
    steps, steps2 = op.shapes[0][0][axis] - len(finals), op.shapes[0][2][axis] - len(finals)
    last, last2 = index[axis], index2[axis]
    if isinstance(last, slice) and (last.start in (None, 0)) and last.step in (None, 1):
        if (last.stop, last2.stop) == (steps, steps2):
            return y
        return None
    if isinstance(last, (int, np.integer)) and not isinstance(last, bool):
        k, k2 = int(last) - steps, int(last2) - steps2
        if k == k2 and 0 <= k < len(finals):
            return finals[k]
    return None


# ------------------------------------------------------------ non-differentiable NumPy calls


def _pure_compare(op_type: str, negate: bool = False) -> Callable[[_Op], str]:
    def translate(op: _Op) -> str:
        y = op.b.one(op_type, op.args)
        return op.b.one("Not", [y]) if negate else y

    return translate


def _pure_takes_first(op_type: str) -> Callable[[_Op], str]:
    """``maximum``/``minimum``'s choice of the first operand: the comparison, or the first operand
    is NaN (so that NaN propagates, as chainrule computes it)."""

    def translate(op: _Op) -> str:
        keep = op.b.one(op_type, op.args)
        if np.dtype(op.shapes[0][1]).kind not in "fc":
            return keep
        return op.b.one("Or", [keep, op.b.one("IsNaN", [op.args[0]])])

    return translate


def _pure_arg(op: _Op) -> str:
    pick = op.params["pick"]
    kind = "ArgMax" if pick is np.argmax else "ArgMin"
    axis, keepdims = op.params["axis"], op.params["keepdims"]
    x = op.args[0]
    if axis is None:
        x = op.b.one("Reshape", [x, op.b.ints([-1])])
        axis = 0
        keep = 0
    else:
        keep = int(bool(keepdims))
    return op.b.one(kind, [x], axis=int(axis), keepdims=keep)


_OPS: dict[Any, Callable[[_Op], str]] = {
    elementwise.Add: _elementwise("Add"),
    elementwise.Sub: _elementwise("Sub"),
    elementwise.Mul: _elementwise("Mul"),
    elementwise.Div: _elementwise("Div"),
    elementwise.Neg: _elementwise("Neg"),
    elementwise.Pow: _elementwise("Pow"),
    elementwise.PowScalar: _pow_scalar,
    elementwise.Exp: _elementwise("Exp"),
    elementwise.Erf: _elementwise("Erf"),
    elementwise.Log: _log,
    elementwise.Expm1: _expm1,
    elementwise.Rounding: _rounding,
    elementwise.Hypot: _hypot,
    elementwise.Log1p: _log1p,
    elementwise.Sin: _elementwise("Sin"),
    elementwise.Cos: _elementwise("Cos"),
    elementwise.Tanh: _elementwise("Tanh"),
    elementwise.Sigmoid: _elementwise("Sigmoid"),
    elementwise.Relu: _elementwise("Relu"),
    elementwise.Softplus: _softplus,
    elementwise.Step: _step,
    elementwise.Clip: _clip,
    elementwise.Where: _where,
    elementwise.Cast: _cast,
    elementwise.Clone: _elementwise("Identity"),
    elementwise.Dropout: _dropout,
    reduce.Sum: _reduce("ReduceSum"),
    reduce.Max: _reduce("ReduceMax"),
    reduce.LogSumExp: _reduce("ReduceLogSumExp"),
    reduce.Softmax: _softmax("Softmax"),
    reduce.Cumsum: _cumsum,
    reduce.LogSoftmax: _softmax("LogSoftmax"),
    shape.Reshape: _reshape,
    shape.Transpose: _transpose,
    shape.BroadcastTo: _broadcast_to,
    shape.Index: _index,
    shape.Concat: _concat,
    shape.Pad: _pad,
    linalg.MatMul: _matmul,
    linalg.Einsum: _einsum,
    linalg.Linear: _linear,
    conv_ops.Conv: _conv,
    conv_ops.ConvInputGrad: _conv_transpose,
    pool.MaxPool: _max_pool,
    pool.AvgPool: _avg_pool,
    recurrent.RecurrentLayer: _recurrent,
    # non-differentiable NumPy calls (autograd.pure)
    elementwise._astype: _cast,
    np.greater: _pure_compare("Greater"),
    np.greater_equal: _pure_compare("GreaterOrEqual"),
    np.less: _pure_compare("Less"),
    np.less_equal: _pure_compare("LessOrEqual"),
    np.equal: _pure_compare("Equal"),
    np.not_equal: _pure_compare("Equal", negate=True),
    np.logical_and: _pure_compare("And"),
    np.logical_or: _pure_compare("Or"),
    np.logical_not: _pure_compare("Not"),
    np.logical_xor: _pure_compare("Xor"),
    elementwise._abs_below: _pure_abs_below,
    elementwise.takes_first_max: _pure_takes_first("GreaterOrEqual"),
    elementwise.takes_first_min: _pure_takes_first("LessOrEqual"),
    np.sign: _pure_compare("Sign"),
    reduce._arg: _pure_arg,
}


_OWN_DTYPES = {  # ops whose inputs keep their types (a cast, an index, a test of the sign)
    elementwise.Cast,
    elementwise._astype,
    elementwise.Step,
    elementwise.Dropout,
    shape.Index,
    recurrent.RecurrentLayer,
    reduce._arg,
    elementwise._abs_below,
}
_COMPARISONS = {
    np.greater,
    np.greater_equal,
    np.less,
    np.less_equal,
    np.equal,
    np.not_equal,
    elementwise.takes_first_max,
    elementwise.takes_first_min,
}


def _user_name(target: Any) -> str:
    """An op's name as a user knows it (the helpers behind ``argmax`` or ``sort`` are private)."""
    known = {
        elementwise._astype: "astype",
        reduce._arg: "argmax/argmin",
        reduce._order: "sort/argsort",
        reduce._top: "topk",
        np.sign: "sign",
        elementwise._non_finite_replaced: "nan_to_num",
        elementwise._abs_below: "lerp/cosh",
        elementwise.takes_first_max: "maximum",
        elementwise.takes_first_min: "minimum",
    }
    if target in known:
        return known[target]
    if isinstance(target, np.ufunc):
        return f"np.{target.__name__}"
    return getattr(target, "__name__", repr(target))


def _op_names() -> list[str]:
    """The names of the ops that export, as a user knows them."""
    return [_user_name(k) for k in _OPS]


# ------------------------------------------------------------ leaf layers


def _leaf(b: _Builder, module: Module, x: str, x_shape: tuple, dtype: np.dtype) -> str:
    def param(t: Any, fill: float, size: int) -> str:
        if t is None:
            return b.const(np.full(size, fill, dtype=dtype))
        return b.owned_name(t)

    if isinstance(module, _BatchNorm):
        c = module.num_features
        inputs = [
            x,
            param(module.weight if module.affine else None, 1.0, c),
            param(module.bias if module.affine else None, 0.0, c),
            b.owned_name(module.running_mean),
            b.owned_name(module.running_var),
        ]
        return b.one("BatchNormalization", inputs, epsilon=float(module.eps))
    if isinstance(module, LayerNorm):
        k = len(module.normalized_shape)
        affine = module.elementwise_affine
        scale = b.owned_name(module.weight) if affine else b.const(np.ones(module.normalized_shape, dtype=dtype))
        has_bias = module.bias is not None
        bias = b.owned_name(module.bias) if has_bias else b.const(np.zeros(module.normalized_shape, dtype=dtype))
        return b.one("LayerNormalization", [x, scale, bias], axis=-k, epsilon=float(module.eps))
    # a transposed convolution
    d = len(module.kernel_size)
    inputs = [x, b.owned_name(module.weight)]
    if module.bias is not None:
        inputs.append(b.owned_name(module.bias))
    if len(x_shape) != d + 2:
        raise OnnxError(
            f"export: {type(module).__name__} got an input of shape {tuple(x_shape)}; export needs a batch axis "
            f"({d + 2} axes)"
        )
    attrs = {
        "kernel_shape": list(module.kernel_size),
        "strides": list(module.stride),
        "pads": list(module.padding) * 2,
        "dilations": list(module.dilation),
    }
    return _write_conv_transpose(b, inputs, attrs, int(module.groups), [int(e) for e in module.output_padding])


# ---------------------------------------------------------------------------------------- export


def _as_arrays(example_input: Any) -> list[np.ndarray]:
    """The example input (a tensor, an array, or a tuple or list of them) as C-ordered arrays of numbers."""
    items = example_input if isinstance(example_input, (tuple, list)) else (example_input,)
    arrays = []
    for i, item in enumerate(items):
        a = item._data if isinstance(item, Tensor) else np.asarray(item)
        if a.dtype == object or a.dtype.kind not in "biuf":
            raise OnnxError(f"export: example input {i} must be numbers (got dtype {a.dtype})")
        arrays.append(_contiguous(a))
    if not arrays:
        raise OnnxError("export: give at least one example input")
    return arrays


def _axes_of(
    arrays: Sequence[np.ndarray], names: Sequence[str], dynamic_batch: bool, dynamic_axes: dict | None
) -> list[dict[int, str]]:
    """Each input's symbolic axes, {axis: name}: ``dynamic_axes``'s for an input it names, else axis
    0 as ``batch`` with ``dynamic_batch``."""
    axes: list[dict[int, str]] = []
    given = dict(dynamic_axes or {})
    unknown = set(given) - set(names)
    if unknown:
        raise OnnxError(f"export: dynamic_axes names {sorted(unknown)}, which are not inputs (inputs: {list(names)})")
    for a, name in zip(arrays, names):
        if name in given:
            spec = given[name]
            per = dict(spec) if isinstance(spec, dict) else {int(k): f"{name}_dim{k}" for k in spec}
            per = {int(k) if int(k) >= 0 else int(k) + a.ndim: str(v) for k, v in per.items()}
            bad = [k for k in per if not 0 <= k < a.ndim]
            if bad:
                raise OnnxError(f"export: dynamic_axes[{name!r}] names axes {bad} of an input with {a.ndim} axes")
        elif dynamic_batch and a.ndim > 0:
            per = {0: "batch"}
        else:
            per = {}
        for k in per:
            if a.shape[k] == 0:
                raise OnnxError(f"export: input {name!r} has an empty axis {k}; give an example with data in it")
        axes.append(per)
    return axes


def _axes_text(names: Sequence[str], axes: Sequence[dict[int, str]]) -> str:
    """The symbolic axes for an error message: ``input[0] 'batch', ...``."""
    return ", ".join(f"{name}[{k}] {sym!r}" for name, per in zip(names, axes) for k, sym in sorted(per.items()))


def export_model(
    model: Module,
    example_input: Any,
    *,
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    dynamic_batch: bool = True,
    dynamic_axes: dict[str, Any] | None = None,
    opset: int = DEFAULT_OPSET,
    doc_string: str = "",
) -> Any:
    """The ONNX model (an ``onnx.ModelProto``) of ``model``'s forward, traced on ``example_input``.

    See :func:`chainrule.onnx.export`, which also writes the file.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.onnx.exporter import export_model
        >>> proto = export_model(cr.nn.Sequential(cr.nn.Linear(3, 2), cr.nn.ReLU()), cr.zeros(4, 3))
        >>> [n.op_type for n in proto.graph.node]
        ['Gemm', 'Relu', 'Identity']
    """
    onnx = require_onnx()
    if not isinstance(model, Module):
        raise TypeError(f"export: expected a chainrule Module, got {type(model).__name__}")
    check_opset(opset, "export")
    arrays = _as_arrays(example_input)
    names = (
        list(input_names)
        if input_names is not None
        else (["input"] if len(arrays) == 1 else [f"input_{i}" for i in range(len(arrays))])
    )
    if len(names) != len(arrays) or len(set(names)) != len(names) or not all(isinstance(n, str) and n for n in names):
        raise OnnxError(f"export: input_names must be {len(arrays)} distinct non-empty strings, got {names!r}")
    axes = _axes_of(arrays, names, dynamic_batch, dynamic_axes)
    with _evaluating([model]):  # eval mode for the traces; each module's own mode back afterwards
        rec, spec = _trace(model, arrays)
        if any(axes):
            longer = _longer(arrays, axes)
            try:
                rec2, spec2 = _trace(model, longer)
            except OnnxError:
                raise
            except Exception as e:
                shapes = ", ".join(str(a.shape) for a in longer)
                raise OnnxError(
                    f"export: the forward fails when its symbolic axes ({_axes_text(names, axes)}) are longer, as "
                    f"export runs it a second time (inputs of shapes {shapes}) to find the sizes that follow them: "
                    f"{type(e).__name__}: {e}. Name only the axes that vary in dynamic_axes (dynamic_batch makes "
                    "axis 0 of every input symbolic), or export with dynamic_batch=False"
                ) from e
        else:
            rec2, spec2 = rec, spec
    return _translate(onnx, model, rec, rec2, spec, spec2, arrays, names, axes, output_names, opset, doc_string)


def _translate(
    onnx: Any,
    model: Module,
    rec: _Trace,
    rec2: _Trace,
    spec: Any,
    spec2: Any,
    arrays: list[np.ndarray],
    names: list[str],
    axes: list[dict[int, str]],
    output_names: Sequence[str] | None,
    opset: int,
    doc_string: str,
) -> Any:
    """The ONNX model of the two traces: each recorded instruction translated in order (the
    second trace tells which sizes follow the symbolic axes)."""
    _check_same_ops(rec, rec2)
    b = _Builder(onnx, model)
    graph_inputs = []
    for i, (a, name) in enumerate(zip(arrays, names)):
        for axis, sym in axes[i].items():
            if not any(d.name == sym for d in b.dims):
                sizes = (a.shape[axis], rec2.layout[_input_value(rec2, i)][0][axis])
                b.dims.append(_Dim(sym, sizes, name, axis))
        shape = [axes[i].get(k, n) for k, n in enumerate(a.shape)]
        graph_inputs.append(onnx.helper.make_tensor_value_info(name, _tensor_type(onnx, a.dtype), shape))
    for instr, instr2, where in zip(rec.instrs, rec2.instrs, rec.where):
        b.where = where
        if instr.kind == "input":
            b.names[instr.out] = names[instr.args[0]]
            continue
        if instr.kind == "convert":
            source = b.names[instr.args[0].id]
            dtype = instr.params["dtype"]
            if rec.layout[instr.args[0].id][1] == dtype:
                b.names[instr.out] = b.one("Identity", [source])
            else:
                b.names[instr.out] = b.one("Cast", [source], to=_tensor_type(onnx, dtype))
            continue
        if instr.kind == "leaf":
            (arg,) = instr.args
            x = b.names[arg.id] if isinstance(arg, Ref) else b.ext(arg)
            shape_, dtype = rec.layout[arg.id][:2] if isinstance(arg, Ref) else (arg.obj.shape, arg.obj.dtype)
            b.names[instr.out] = _leaf(b, instr.target, x, shape_, dtype)
            continue
        if instr.kind not in ("op", "op0", "pure"):
            raise OnnxError(
                f"export: the forward {instr.note}s a tensor in place (at {where or 'the top'}); an ONNX graph has no "
                "in-place writes: compute a new tensor instead"
            )
        translate = _OPS.get(instr.target)
        op_name = _user_name(instr.target)
        if translate is None:
            raise OnnxError(
                f"export: op {op_name} (in {where or 'the model'}) has no ONNX translation; "
                f"ops that export: {', '.join(sorted(_op_names()))}"
            )
        params, params2 = dict(instr.params), dict(instr2.params)
        used = [True] * len(instr.args)
        if instr.target is recurrent.RecurrentLayer:  # weights rewritten, zero states left out
            n_states = 2 if params["mode"] == "lstm" else 1
            params["_weights"] = params2["_weights"] = instr.args[1 + n_states :]
            params["_zero_states"] = [_is_zero_state(a) for a in instr.args[1 : 1 + n_states]]
            used = [True] + [not zero for zero in params["_zero_states"]] + [False] * len(params["_weights"])
        args = [_operand(b, a, a2, op_name) if use else "" for a, a2, use in zip(instr.args, instr2.args, used)]
        shapes = [_shape_of(rec, a) for a in instr.args]
        shapes2 = [_shape_of(rec2, a) for a in instr2.args]
        shapes = [(s[0], s[1], s2[0]) for s, s2 in zip(shapes, shapes2)]
        out_shape = rec.layout[instr.out][:2]
        args = _promoted(b, instr.target, args, [s[1] for s in shapes], out_shape[1])
        op = _Op(b, args, params, params2, shapes, out_shape, f"{op_name} (in {where or 'the model'})")
        b.names[instr.out] = translate(op)
    out_names, graph_outputs = _graph_outputs(b, rec, rec2, spec, spec2, names, output_names)
    nodes, initializers = _used(b.nodes, b.initializers, out_names)
    graph = onnx.helper.make_graph(nodes, type(model).__name__, graph_inputs, graph_outputs, initializer=initializers)
    return new_model(graph, [onnx.helper.make_opsetid("", opset)], doc_string)


def _check_same_ops(rec: _Trace, rec2: _Trace) -> None:
    """An error, naming the first op that differs, where the two traces do not run the same ops."""
    pairs = zip(rec.instrs, rec2.instrs)
    k = next((k for k, (i, j) in enumerate(pairs) if (i.kind, i.target) != (j.kind, j.target)), None)
    if k is None and len(rec.instrs) == len(rec2.instrs):
        return
    if k is None:
        got = f"{len(rec.instrs)} instructions then {len(rec2.instrs)}"
    else:
        first, second = rec.instrs[k], rec2.instrs[k]
        got = f"instruction {k} is {first.note} then {second.note}"
    raise OnnxError(
        f"export: the forward runs different ops when the batch size changes ({got}; a branch on a size); "
        "export with dynamic_batch=False"
    )


def _graph_outputs(
    b: _Builder,
    rec: _Trace,
    rec2: _Trace,
    spec: Any,
    spec2: Any,
    names: list[str],
    output_names: Sequence[str] | None,
) -> tuple[list[str], list[Any]]:
    """The graph's output names (checked) and types, each output an Identity of the value the
    forward returned; an axis whose size differs between the traces is symbolic."""
    onnx = b.onnx
    outputs = [x for x in _leaves(spec) if isinstance(x, (Ref, Ext))]
    outputs2 = [x for x in _leaves(spec2) if isinstance(x, (Ref, Ext))]
    out_names = (
        list(output_names)
        if output_names is not None
        else (["output"] if len(outputs) == 1 else [f"output_{i}" for i in range(len(outputs))])
    )
    if len(out_names) != len(outputs) or len(set(out_names)) != len(out_names):
        raise OnnxError(
            f"export: output_names must be {len(outputs)} distinct names (one per output), got {out_names!r}"
        )
    clash = set(out_names) & set(names)
    if clash:
        raise OnnxError(f"export: {sorted(clash)} are both input and output names")
    graph_outputs = []
    b.where = ""
    for value, value2, out_name in zip(outputs, outputs2, out_names):
        source = b.names[value.id] if isinstance(value, Ref) else b.ext(value)
        b.node("Identity", [source], [out_name])
        shape1, dtype = _shape_of(rec, value)
        shape2 = _shape_of(rec2, value2)[0]
        dims: list[Any] = []
        for j, (n1, n2) in enumerate(zip(shape1, shape2)):
            if n1 == n2:
                dims.append(int(n1))
            else:
                match = [d.name for d in b.dims if d.sizes == (n1, n2)]
                dims.append(match[0] if match else f"{out_name}_dim{j}")
        graph_outputs.append(onnx.helper.make_tensor_value_info(out_name, _tensor_type(onnx, dtype), dims))
    return out_names, graph_outputs


def _used(nodes: list, initializers: dict, outputs: Sequence[str]) -> tuple[list, list]:
    """The nodes and initializers the outputs need (what a traced op computed and nothing read,
    such as the final states of a recurrent layer whose outputs alone are used, is left out)."""
    needed = set(outputs)
    kept = []
    for node in reversed(nodes):
        if any(o in needed for o in node.output):
            kept.append(node)
            needed.update(i for i in node.input if i)
    kept.reverse()
    return kept, [t for name, t in initializers.items() if name in needed]


def _input_value(rec: _Trace, i: int) -> int:
    """The trace's value number of input ``i``."""
    for instr in rec.instrs:
        if instr.kind == "input" and instr.args[0] == i:
            return instr.out
    raise OnnxError(f"export: input {i} is not used by the forward")


def _shape_of(rec: _Trace, a: Any) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and dtype of an op's argument in trace ``rec``: a value, a tensor read, or a constant."""
    if isinstance(a, Ref):
        shape_, dtype = rec.layout[a.id][:2]
        return tuple(shape_), dtype
    if isinstance(a, Ext):
        return tuple(a.obj._data.shape), a.obj._data.dtype
    arr = np.asarray(a)
    return arr.shape, arr.dtype


def _promoted(b: _Builder, target: Any, args: list[str], dtypes: list[np.dtype], out_dtype: np.dtype) -> list[str]:
    """An op's inputs, each cast to the type the op computes in: chainrule computes with NumPy's
    promotion (int32 + 1 is int64, a float32 Linear on float64 input is float64, exp of integers is
    a float), while an ONNX operator takes one type for all its inputs."""
    if target in _OWN_DTYPES:
        return args
    if target in _COMPARISONS:
        to = np.result_type(*[d for a, d in zip(args, dtypes) if a])
    else:
        to = np.dtype(out_dtype)
    return [
        b.one("Cast", [a], to=_tensor_type(b.onnx, to)) if a and np.dtype(d) != to else a for a, d in zip(args, dtypes)
    ]


def _is_zero_state(a: Any) -> bool:
    """A recurrent layer's initial state that is a constant of zeros (made by the layer when none
    is given): ONNX's operators start from zeros when the input is left out."""
    return isinstance(a, Ext) and a.obj._data.size > 0 and not a.obj._data.any()


def _operand(b: _Builder, a: Any, a2: Any, op_name: str) -> str:
    """The ONNX name of an op's input: a value of the trace, an initializer, or, for a constant
    made in the forward whose shape follows a symbolic axis, a ConstantOfShape."""
    if isinstance(a, Ref):
        return b.names[a.id]
    if isinstance(a, Ext):
        s1, s2 = a.obj._data.shape, a2.obj._data.shape if isinstance(a2, Ext) else None
        if s2 is not None and s1 != s2:
            data = a.obj._data
            flat = data.reshape(-1)
            if flat.size == 0 or not np.all(flat == flat[0]):
                raise OnnxError(
                    f"export: {op_name} reads a constant made in the forward whose shape follows the batch size "
                    "and whose values are not all equal; make it from the input with chainrule ops instead"
                )
            value = b.onnx.numpy_helper.from_array(np.asarray([flat[0]], dtype=data.dtype), "value")
            return b.one("ConstantOfShape", [b.shape_value(s1, s2, op_name)], value=value)
        if isinstance(a2, Ext) and a.obj is not a2.obj and not np.array_equal(a.obj._data, a2.obj._data):
            return _following_constant(b, a.obj._data, a2.obj._data, op_name)
        return b.ext(a)
    arr = np.asarray(a)
    return b.const(arr)


def _following_constant(b: _Builder, v1: np.ndarray, v2: np.ndarray, op_name: str) -> str:
    """A number made in the forward from the sizes of symbolic axes (``mean`` divides by the count
    of what it averages; over the batch axis, that count is the batch size; over height and width,
    their product): written as ``a * n + c`` or ``1 / (a * n + c)`` at run time, where ``n`` is the
    product of some symbolic axes' sizes, ``a`` whole and ``c`` 0 or -1 (``ddof``). The two traces
    must fit exactly one such formula; any other constant that changes between them is an error."""
    found = []
    if v1.size == 1 and v1.dtype.kind == "f":
        x1, x2 = float(v1.reshape(())), float(v2.reshape(()))
        for group in _subsets(b.dims):
            n1, n2 = int(np.prod([d.sizes[0] for d in group])), int(np.prod([d.sizes[1] for d in group]))
            for inverse in (False, True):
                if inverse and (x1 == 0 or x2 == 0):
                    continue
                y1, y2 = (1 / x1, 1 / x2) if inverse else (x1, x2)
                for offset in (0, -1):
                    slope = (y1 - offset) / n1
                    if round(slope) != 0 and all(
                        abs(v - w) <= 1e-4 * max(1.0, abs(w))
                        for v, w in ((slope, round(slope)), (y2, slope * n2 + offset))
                    ):
                        found.append((group, inverse, round(slope), offset))
    if len(found) == 1:
        (group, inverse, slope, offset), dtype = found[0], v1.dtype
        n = b.one("Cast", [b.dim_value(group[0])], to=_tensor_type(b.onnx, dtype))
        for d in group[1:]:
            n = b.one("Mul", [n, b.one("Cast", [b.dim_value(d)], to=_tensor_type(b.onnx, dtype))])
        if slope != 1:
            n = b.one("Mul", [n, b.const(np.asarray(slope, dtype=dtype))])
        if offset:
            n = b.one("Add", [n, b.const(np.asarray(offset, dtype=dtype))])
        if inverse:
            n = b.one("Reciprocal", [n])
        return b.one("Reshape", [n, b.ints(v1.shape)])
    raise OnnxError(
        f"export: {op_name} reads a constant made in the forward that changes with the batch size "
        f"({v1.reshape(-1)[:4]} then {v2.reshape(-1)[:4]}"
        + (", which more than one product of the symbolic axes' sizes explains" if found else "")
        + "); compute it from the input with chainrule ops, or export with dynamic_batch=False"
    )


def _subsets(dims: list[_Dim]) -> Iterator[list[_Dim]]:
    """Every non-empty group of the symbolic axes, in order."""
    for mask in range(1, 2 ** len(dims)):
        yield [d for i, d in enumerate(dims) if mask >> i & 1]
