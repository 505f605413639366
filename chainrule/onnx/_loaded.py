"""What ``chainrule.onnx.loader`` builds: :class:`OnnxModule`, and how each ONNX operator runs.

An ONNX graph is a list of nodes in topological order. The loaded module keeps that list as
*steps* and runs them one after another on a dictionary of values, each value either

- a ``Tensor`` (computed from the graph's inputs or from the module's Parameters: autograd
  follows it), or
- a NumPy array (known without the data: a constant, a tensor's shape, or anything computed
  from those). Shape arithmetic (``Shape -> Gather -> Unsqueeze -> Concat -> Reshape``, as
  PyTorch's exporters write it) stays on these arrays, so it runs again on every call with the
  actual batch size and never enters the autograd graph.

A node whose inputs are all arrays is computed with the same chainrule ops and its results kept
as arrays. Layers (``Linear``, ``Conv2d``, ``BatchNorm2d``, ``LSTM``, ...) are sub-modules of the
loaded module, found by their dotted path when a step runs (so a layer replaced by assignment,
``model.fc = nn.Linear(...)``, is the one that runs).

``OPS`` maps every supported ``op_type`` to its :class:`OpSpec`: the function that runs it and
which of its inputs must be known without the data (shapes, axes, pads).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from chainrule import ops
from chainrule.autograd import pure
from chainrule.nn import functional as F
from chainrule.nn.module import Module, ModuleDict
from chainrule.nn.normalization import BatchNorm1d, BatchNorm2d
from chainrule.onnx._common import OnnxError
from chainrule.tensor import Tensor

Value = Tensor | np.ndarray
"""A value of the graph while it runs: a Tensor (depends on the data or a Parameter) or an
array (known without the data)."""


# ------------------------------------------------------------------ the graph, as loaded


@dataclass(frozen=True)
class Node:
    """One ONNX node as read from the file: its position, operator, names and attributes, the
    opset it was written for, and the module path its exporter recorded (if any)."""

    index: int
    op: str
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: dict[str, Any]
    opset: int
    scope: str | None = None

    @property
    def label(self) -> str:
        """How errors name the node: ``node #3 '/fc1/Gemm' (Gemm)``."""
        named = f" {self.name!r}" if self.name else ""
        return f"node #{self.index}{named} ({self.op})"

    def attr(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)


@dataclass
class Step:
    """A node as the loaded module runs it: the values it reads and writes (a fused MatMul and
    Add reads the MatMul's inputs and writes the Add's output), the path of its layer if it has
    one, and whether all its inputs are known without the data (then so are its outputs)."""

    node: Node
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    layer: str | None = None
    folds: bool = False
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class InputSpec:
    """A graph input: its name, element type, and dimensions (an int, or a name/None for a
    dimension that may change from call to call, such as the batch)."""

    name: str
    dtype: np.dtype | None
    dims: tuple[int | str | None, ...] | None


@dataclass
class Program:
    """Everything the loaded module needs besides its layers and Parameters."""

    inputs: list[InputSpec]
    outputs: list[str]
    steps: list[Step]
    constants: dict[str, np.ndarray]
    parameters: dict[str, str]  # value name -> dotted path of the Parameter that holds it


# ------------------------------------------------------------------ the module


class OnnxModule(Module):
    """A chainrule Module that runs an ONNX graph (what ``chainrule.onnx.loader`` returns).

    Layers with weights are sub-modules named after their weights (``fc1.weight`` gives the layer
    ``fc1``), so ``state_dict()``, ``parameters()`` and the repr read like the original model's;
    every other operator runs as chainrule ops. It trains like any module: gradients reach its
    Parameters, and ``train()`` puts its batch normalisation and dropout in training mode.

    Calling it takes the graph's inputs in order (or by name, as keywords) and returns a Tensor
    for a graph with one output, else a tuple of Tensors in the graph's order. An input Tensor must
    have the graph's dtype (or, after ``model.double()``, the Parameters' one); NumPy arrays and
    lists are converted to it. Dimensions the graph names (``batch``) may take any size.

    Example:
        >>> import numpy as np
        >>> from onnx import TensorProto, helper, numpy_helper
        >>> import chainrule as cr
        >>> from chainrule.onnx.loader import load
        >>> graph = helper.make_graph(
        ...     [helper.make_node("Sigmoid", ["x"], ["y"])], "g",
        ...     [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 2])],
        ...     [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 2])])
        >>> model = load(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]))
        >>> model
        OnnxModule(inputs=['x'], outputs=['y'], nodes=1)
        >>> model(x=cr.zeros(3, 2)).tolist()
        [[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]]
    """

    def __init__(self, program: Program):
        super().__init__()
        self._program = program

    # ------------------------------------------------------------ calling
    def forward(self, *args: Any, **kwargs: Any) -> Tensor | tuple[Tensor, ...]:
        program = self._program
        values: dict[str, Value] = dict(program.constants)
        for name, path in program.parameters.items():
            values[name] = self._parameter_at(path)
        values.update(self._bind(args, kwargs))
        for step in program.steps:
            node = step.node
            layer = None if step.layer is None else self._layer_at(step.layer, node)
            arguments = [values[name] if name else None for name in step.inputs]
            spec = OPS[node.op]
            for k, value in enumerate(arguments):
                if isinstance(value, np.ndarray) and k not in spec.static and k not in spec.raw:
                    arguments[k] = Tensor(value)
            try:
                results = spec.run(step, arguments, layer, self.training)
            except Exception as error:
                error.add_note(f"raised by ONNX {node.label}")
                raise
            for name, value in zip(step.outputs, results):
                if name:
                    values[name] = value._data if step.folds and isinstance(value, Tensor) else value
        outputs = tuple(self._output(values[name]) for name in program.outputs)
        return outputs[0] if len(outputs) == 1 else outputs

    @staticmethod
    def _output(value: Value) -> Tensor:
        return value if isinstance(value, Tensor) else Tensor(np.array(value))

    def _bind(self, args: tuple, kwargs: dict[str, Any]) -> dict[str, Tensor]:
        """The call's arguments by input name, converted and checked against the graph's inputs."""
        specs = self._program.inputs
        names = [s.name for s in specs]
        if len(args) > len(specs):
            raise TypeError(f"OnnxModule takes {len(specs)} input(s) {names}, got {len(args)} positional arguments")
        given = dict(zip(names, args))
        for name, value in kwargs.items():
            if name not in names:
                raise TypeError(f"OnnxModule got an unexpected input {name!r}; its inputs are {names}")
            if name in given:
                raise TypeError(f"OnnxModule got input {name!r} twice (by position and by name)")
            given[name] = value
        missing = [n for n in names if n not in given]
        if missing:
            raise TypeError(f"OnnxModule is missing input(s) {missing}; its inputs are {names}")
        return {s.name: _checked_input(s, given[s.name], self._converted_dtype) for s in specs}

    def _converted_dtype(self) -> np.dtype | None:
        """The floating dtype the Parameters were converted to (``model.double()``), if they were:
        floating inputs may then have it instead of the graph's."""
        dtypes = {p.dtype for p in self.parameters() if p.dtype.kind == "f"}
        return dtypes.pop() if len(dtypes) == 1 else None

    def _layer_at(self, path: str, node: Node) -> Module:
        module: Module = self
        for part in path.split("."):
            child = module._modules.get(part)
            if child is None:
                raise AttributeError(
                    f"OnnxModule: ONNX {node.label} runs the layer {path!r}, which is no longer in the module "
                    "(a layer may be replaced, not deleted)"
                )
            module = child
        return module

    def _parameter_at(self, path: str) -> Tensor:
        *parents, name = path.split(".")
        module: Module = self
        for part in parents:
            module = module._modules[part]
        return module._parameters[name]

    # ------------------------------------------------------------ description
    def extra_repr(self) -> str:
        program = self._program
        return f"inputs={[s.name for s in program.inputs]}, outputs={program.outputs}, nodes={len(program.steps)}"

    def get_config(self) -> dict[str, Any]:
        raise TypeError(
            "an OnnxModule cannot be saved with chainrule.save (its architecture is an ONNX graph, not "
            "constructor arguments): save its weights with chainrule.io.save_state_dict, and rebuild it "
            "from the .onnx file with chainrule.onnx.loader before loading them"
        )


def _checked_input(spec: InputSpec, value: Any, converted: Callable[[], np.dtype | None]) -> Tensor:
    """``value`` as a Tensor of the input's dtype and declared shape, or an error naming both.

    A floating input may also have the dtype the module's Parameters were converted to
    (``converted()``, asked only when the dtypes differ)."""
    if isinstance(value, Tensor):
        if spec.dtype is not None and value.dtype != spec.dtype:
            now = converted() if spec.dtype.kind == "f" else None
            if now is not None and value.dtype == now:  # (not dtype == None: NumPy reads None as float64)
                return _checked_shape(spec, value)
            raise TypeError(
                f"OnnxModule input {spec.name!r} must be {spec.dtype}, got a {value.dtype} tensor "
                f"(convert it with cr.cast(x, '{spec.dtype}'))"
            )
        tensor = value
    else:
        array = np.asarray(value)
        if spec.dtype is not None and array.dtype != spec.dtype:
            if _family(array.dtype) != _family(spec.dtype):  # floats become floats, integers integers
                raise TypeError(f"OnnxModule input {spec.name!r} must be {spec.dtype}, got {array.dtype} data")
            array = array.astype(spec.dtype)
        tensor = Tensor(array)
    return _checked_shape(spec, tensor)


def _family(dtype: np.dtype) -> str:
    """A dtype's kind, signed and unsigned integers as one ('i'): what an input may be converted within."""
    return "i" if dtype.kind in "iu" else dtype.kind


def _checked_shape(spec: InputSpec, tensor: Tensor) -> Tensor:
    """``tensor``, when its shape fits the input's declared dimensions (a named one fits any size)."""
    if spec.dims is not None:
        fixed = all(isinstance(d, int) for d in spec.dims)
        if tensor.ndim != len(spec.dims) or any(isinstance(d, int) and d != n for d, n in zip(spec.dims, tensor.shape)):
            shown = "(" + ", ".join(str(d) if d is not None else "?" for d in spec.dims) + ")"
            note = "" if fixed else " (named dimensions may take any size)"
            raise ValueError(f"OnnxModule input {spec.name!r} must have shape {shown}{note}, got shape {tensor.shape}")
    return tensor


# ------------------------------------------------------------------ helpers of the operators


def _ints(value: np.ndarray | None) -> list[int] | None:
    """An integer array known without the data as a list of Python ints (None stays None)."""
    return None if value is None else [int(v) for v in np.asarray(value).reshape(-1)]


def _scalar(value: np.ndarray | None) -> float | int | None:
    """The first number of an array known without the data (an optional scalar input); None when
    it is left out or empty."""
    if value is None or np.asarray(value).size == 0:
        return None
    return np.asarray(value).reshape(-1)[0].item()


def _axis(axis: int, ndim: int, node: Node) -> int:
    """``axis`` of a tensor of ``ndim`` dimensions, made non-negative; an error naming the node
    when it is out of range."""
    if not -ndim <= axis < ndim:
        raise OnnxError(f"ONNX {node.label}: axis {axis} is out of range for a tensor with {ndim} dimensions")
    return axis % ndim


def _axes_argument(step: Step, arguments: list, position: int, since: int) -> list[int] | None:
    """The ``axes`` of an operator that took them as an attribute before opset ``since`` and as
    an input from then on."""
    node = step.node
    if node.opset < since:
        axes = node.attr("axes")
        return None if axes is None else list(axes)
    return _ints(arguments[position]) if len(arguments) > position else None


def _each(fn: Callable[[Tensor], Tensor]) -> Callable:
    """The run function of an operator of one input and one output."""

    def run(step: Step, arguments: list, layer: Module | None, training: bool) -> list[Value]:
        return [fn(arguments[0])]

    return run


def _with_attributes(fn: Callable[..., Tensor], **defaults: Any) -> Callable:
    """The run function of a one-input operator with attributes (given to ``fn`` as keywords)."""

    def run(step: Step, arguments: list, layer: Module | None, training: bool) -> list[Value]:
        return [fn(arguments[0], **{k: step.node.attr(k, v) for k, v in defaults.items()})]

    return run


def _pairwise(fn: Callable[[Tensor, Tensor], Tensor]) -> Callable:
    """The run function of a variadic elementwise operator (Max, Min, Sum): ``fn`` folded over its inputs."""

    def run(step: Step, arguments: list, layer: Module | None, training: bool) -> list[Value]:
        out = arguments[0]
        for other in arguments[1:]:
            out = fn(out, other)
        return [out]

    return run


def _mean(step: Step, arguments: list, layer: Module | None, training: bool) -> list[Value]:
    total = arguments[0]
    for other in arguments[1:]:
        total = ops.add(total, other)
    return [total * (1.0 / len(arguments))]


def _integer_division(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """ONNX's integer Div: the quotient truncated toward zero (C's), not NumPy's floor."""
    quotient = np.abs(a) // np.abs(b)
    return (np.sign(a) * np.sign(b) * quotient).astype(np.result_type(a, b))


def _div(step: Step, arguments: list, layer: Module | None, training: bool) -> list[Value]:
    a, b = arguments
    if a.dtype.kind in "iu" and b.dtype.kind in "iu":
        return [pure(_integer_division, a, b)]
    return [ops.div(a, b)]


def _pow(step: Step, arguments: list, layer: Module | None, training: bool) -> list[Value]:
    base, exponent = arguments
    if isinstance(exponent, np.ndarray):  # a constant exponent (x ** 2 in a decomposed norm): the simpler node
        if exponent.size == 1:
            return [ops.pow(base, exponent.reshape(-1)[0].item())]
        exponent = Tensor(exponent)
    return [ops.pow(base, exponent)]


def _selu(x: Tensor, alpha: float, gamma: float) -> Tensor:
    return ops.elu(x, alpha) * gamma


def _hard_sigmoid(x: Tensor, alpha: float, beta: float) -> Tensor:
    return ops.clip(x * alpha + beta, 0.0, 1.0)


def _hard_swish(x: Tensor) -> Tensor:
    return x * _hard_sigmoid(x, 1.0 / 6.0, 0.5)


def _prelu(step: Step, arguments: list, layer: Module | None, training: bool) -> list[Value]:
    x, slope = arguments
    return [ops.where(ops.gt(x, 0.0), x, x * slope)]


def _cast(step: Step, arguments: list, layer: Module | None, training: bool) -> list[Value]:
    return [ops.cast(arguments[0], tensor_dtype(step.node.attr("to"), step.node))]


def _cast_like(step: Step, arguments: list, layer: Module | None, training: bool) -> list[Value]:
    return [ops.cast(arguments[0], arguments[1].dtype)]


def tensor_dtype(code: int, node: Node | None = None) -> np.dtype:
    """The NumPy dtype of an ONNX element type, or an OnnxError for one chainrule cannot hold."""
    dtype = _DTYPES.get(code)
    if dtype is None:
        where = f"ONNX {node.label}: " if node is not None else ""
        raise OnnxError(
            f"{where}element type {code} ({_TYPE_NAMES.get(code, 'unknown')}) is not supported: chainrule "
            "tensors hold bool, int8/16/32/64, uint8/16/32/64 and float16/32/64"
        )
    return dtype


# the ONNX TensorProto element types chainrule tensors can hold
_DTYPES = {
    1: np.dtype(np.float32),
    2: np.dtype(np.uint8),
    3: np.dtype(np.int8),
    4: np.dtype(np.uint16),
    5: np.dtype(np.int16),
    6: np.dtype(np.int32),
    7: np.dtype(np.int64),
    9: np.dtype(np.bool_),
    10: np.dtype(np.float16),
    11: np.dtype(np.float64),
    12: np.dtype(np.uint32),
    13: np.dtype(np.uint64),
}
_TYPE_NAMES = {8: "string", 14: "complex64", 15: "complex128", 16: "bfloat16"}


def _identity(step: Step, arguments: list, layer: Module | None, training: bool) -> list[Value]:
    return [arguments[0]]


def _dropout(step: Step, arguments: list, layer: Module | None, training: bool) -> list[Value]:
    x, node = arguments[0], step.node
    if node.opset < 12:
        ratio = node.attr("ratio", 0.5)
    else:
        given = _scalar(arguments[1]) if len(arguments) > 1 else None
        ratio = 0.5 if given is None else given
    if training and ratio > 0 and not step.folds and x.dtype.kind == "f":  # (a constant stays one)
        return [F.dropout(x, float(ratio), True)]
    return [x]


# ------------------------------------------------------------------ shapes


def _shape(step: Step, arguments: list, layer: Module | None, training: bool) -> list[Value]:
    shape = arguments[0].shape
    start, end = step.node.attr("start", 0), step.node.attr("end", None)
    return [np.array(shape[start:end], dtype=np.int64)]


def _size(step: Step, arguments: list, layer: Module | None, training: bool) -> list[Value]:
    return [np.array(int(np.prod(arguments[0].shape)), dtype=np.int64)]


def _reshape(step: Step, arguments: list, layer: Module | None, training: bool) -> list[Value]:
    x, shape = arguments[0], _ints(arguments[1])
    if not step.node.attr("allowzero", 0):  # 0 copies the input's dimension
        shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return [ops.reshape(x, shape)]


def _flatten(step: Step, arguments: list, layer: Module | None, training: bool) -> list[Value]:
    x = arguments[0]
    axis = step.node.attr("axis", 1)
    if not -x.ndim <= axis <= x.ndim:
        raise OnnxError(f"ONNX {step.node.label}: axis {axis} is out of range for an input of shape {x.shape}")
    axis = axis + x.ndim if axis < 0 else axis
    outer = int(np.prod(x.shape[:axis]))
    return [ops.reshape(x, (outer, int(np.prod(x.shape[axis:]))))]


def _transpose(step: Step, arguments: list, layer: Module | None, training: bool) -> list[Value]:
    x = arguments[0]
    perm = step.node.attr("perm")
    return [ops.transpose(x, tuple(reversed(range(x.ndim))) if perm is None else tuple(perm))]


def _squeeze(step: Step, arguments: list, layer: Module | None, training: bool) -> list[Value]:
    x = arguments[0]
    axes = _axes_argument(step, arguments, 1, since=13)
    if not axes:
        return [ops.reshape(x, tuple(n for n in x.shape if n != 1))]
    axes = tuple(_axis(a, x.ndim, step.node) for a in axes)
    longer = [a for a in axes if x.shape[a] != 1]
    if longer:  # (the spec: an error; chainrule's squeeze, as PyTorch's, would leave the axis)
        raise OnnxError(
            f"ONNX {step.node.label}: Squeeze of axis {longer[0]}, of size {x.shape[longer[0]]}, not 1 "
            f"(shape {x.shape})"
        )
    return [ops.squeeze(x, axes)]


def _unsqueeze(step: Step, arguments: list, layer: Module | None, training: bool) -> list[Value]:
    x = arguments[0]
    axes = _axes_argument(step, arguments, 1, since=13) or []
    rank = x.ndim + len(axes)
    inserted = sorted(_axis(a, rank, step.node) for a in axes)
    shape, rest = [], iter(x.shape)
    for i in range(rank):
        shape.append(1 if i in inserted else next(rest))
    return [ops.reshape(x, shape)]


def _cumsum(step: Step, arguments: list, layer: Module | None, training: bool) -> list[Value]:
    x = arguments[0]
    (axis,) = _ints(arguments[1])  # (a 0-d or one-element tensor)
    return [ops.cumsum(x, _axis(axis, x.ndim, step.node))]


def _einsum(step: Step, arguments: list, layer: Module | None, training: bool) -> list[Value]:
    return [ops.einsum(step.node.attr("equation"), *arguments)]


def _concat(step: Step, arguments: list, layer: Module | None, training: bool) -> list[Value]:
    parts = [a for a in arguments if a is not None]
    return [ops.concatenate(parts, axis=step.node.attr("axis"))]


def _split(step: Step, arguments: list, layer: Module | None, training: bool) -> list[Value]:
    x, node = arguments[0], step.node
    axis = _axis(node.attr("axis", 0), x.ndim, node)
    n = x.shape[axis]
    sizes = node.attr("split") if node.opset < 13 else (_ints(arguments[1]) if len(arguments) > 1 else None)
    if not sizes:
        pieces = node.attr("num_outputs") or len(node.outputs)
        size = -(-n // pieces)  # ceil: the last piece may be smaller (opset 18's rule)
        sizes = [size] * (n // size) + ([n % size] if n % size else [])
    return ops.split(x, list(sizes), axis=axis)


def _slice(step: Step, arguments: list, layer: Module | None, training: bool) -> list[Value]:
    x = arguments[0]
    starts, ends = _ints(arguments[1]), _ints(arguments[2])
    axes = _ints(arguments[3]) if len(arguments) > 3 and arguments[3] is not None else list(range(len(starts)))
    steps = _ints(arguments[4]) if len(arguments) > 4 and arguments[4] is not None else [1] * len(starts)
    index = [slice(None)] * x.ndim
    for start, end, axis, stride in zip(starts, ends, axes, steps):
        axis = _axis(axis, x.ndim, step.node)
        n = x.shape[axis]
        if stride == 0:
            raise OnnxError(f"ONNX {step.node.label}: a step of 0 along axis {axis}")
        start = start + n if start < 0 else start
        end = end + n if end < 0 else end
        if stride > 0:
            start, end = min(max(start, 0), n), min(max(end, 0), n)
        else:  # ONNX clamps into [0, n - 1] and [-1, n - 1]; -1 is "before the first element"
            start, end = min(max(start, 0), n - 1), min(max(end, -1), n - 1)
        index[axis] = slice(start, None if end < 0 else end, stride)
    return [ops.index(x, tuple(index))]


def _wrap_negative(indices: np.ndarray, size: int) -> np.ndarray:
    return np.where(indices < 0, indices + size, indices)


def _gather(step: Step, arguments: list, layer: Module | None, training: bool) -> list[Value]:
    data, indices = arguments
    if layer is not None:  # an Embedding
        return [layer(pure(_wrap_negative, indices, size=layer.num_embeddings))]
    axis = _axis(step.node.attr("axis", 0), data.ndim, step.node)
    wrapped = pure(_wrap_negative, indices, size=data.shape[axis])  # a 0-d index drops the axis, as an int
    return [ops.index(data, (slice(None),) * axis + (wrapped,))]


def _constant_of_shape(step: Step, arguments: list, layer: Module | None, training: bool) -> list[Value]:
    value = step.node.attr("value")
    value = np.zeros(1, np.float32) if value is None else np.asarray(value)
    return [np.full(tuple(_ints(arguments[0])), value.reshape(-1)[0], dtype=value.dtype)]


def _expand(step: Step, arguments: list, layer: Module | None, training: bool) -> list[Value]:
    x, shape = arguments[0], tuple(_ints(arguments[1]))
    try:
        target = np.broadcast_shapes(x.shape, shape)
    except ValueError:
        raise OnnxError(f"ONNX {step.node.label}: cannot expand shape {x.shape} to {shape}") from None
    return [ops.broadcast_to(x, target)]


def _tile(step: Step, arguments: list, layer: Module | None, training: bool) -> list[Value]:
    return [ops.repeat(arguments[0], _ints(arguments[1]))]


def _range(step: Step, arguments: list, layer: Module | None, training: bool) -> list[Value]:
    start, limit, delta = (np.asarray(a).reshape(()) for a in arguments)
    return [np.arange(start, limit, delta, dtype=start.dtype)]


def _pad(step: Step, arguments: list, layer: Module | None, training: bool) -> list[Value]:
    x = arguments[0]
    pads = _ints(arguments[1])
    value = _scalar(arguments[2]) if len(arguments) > 2 else None
    axes = _ints(arguments[3]) if len(arguments) > 3 and arguments[3] is not None else list(range(x.ndim))
    axes = [_axis(a, x.ndim, step.node) for a in axes]
    widths = [[0, 0] for _ in range(x.ndim)]
    for k, axis in enumerate(axes):
        widths[axis] = [pads[k], pads[k + len(axes)]]
    if any(lo < 0 or hi < 0 for lo, hi in widths):  # negative pads remove elements
        x = ops.index(x, tuple(slice(-min(lo, 0), n + min(hi, 0)) for (lo, hi), n in zip(widths, x.shape)))
        widths = [[max(lo, 0), max(hi, 0)] for lo, hi in widths]
    if not any(lo or hi for lo, hi in widths):
        return [x]
    return [ops.pad(x, [tuple(w) for w in widths], value=0.0 if value is None else value)]


def _clip(step: Step, arguments: list, layer: Module | None, training: bool) -> list[Value]:
    x = arguments[0]
    low = _scalar(arguments[1]) if len(arguments) > 1 else None
    high = _scalar(arguments[2]) if len(arguments) > 2 else None
    return [x if low is None and high is None else ops.clip(x, low, high)]


def _where(step: Step, arguments: list, layer: Module | None, training: bool) -> list[Value]:
    return [ops.where(*arguments)]


# ------------------------------------------------------------------ reductions and softmax


def _softmax(log: bool) -> Callable:
    def run(step: Step, arguments: list, layer: Module | None, training: bool) -> list[Value]:
        x, node = arguments[0], step.node
        fn = ops.log_softmax if log else ops.softmax
        if node.opset >= 13:
            return [fn(x, axis=_axis(node.attr("axis", -1), x.ndim, node))]
        # before opset 13: the input is seen as 2-D, (everything before axis, everything from it)
        axis = _axis(node.attr("axis", 1), x.ndim, node)
        flat = ops.reshape(x, (int(np.prod(x.shape[:axis])), int(np.prod(x.shape[axis:]))))
        return [ops.reshape(fn(flat, axis=1), x.shape)]

    return run


def _reduce(fn: Callable[[Tensor, tuple[int, ...], bool], Tensor], axes_input_since: int) -> Callable:
    def run(step: Step, arguments: list, layer: Module | None, training: bool) -> list[Value]:
        x, node = arguments[0], step.node
        axes = _axes_argument(step, arguments, 1, since=axes_input_since)
        keepdims = bool(node.attr("keepdims", 1))
        if not axes:
            if node.attr("noop_with_empty_axes", 0):
                return [x]
            axes = list(range(x.ndim))
        return [fn(x, tuple(_axis(a, x.ndim, node) for a in axes), keepdims)]

    return run


def _reduce_l2(x: Tensor, axes: tuple[int, ...], keepdims: bool) -> Tensor:
    return ops.sqrt(ops.sum(x * x, axis=axes, keepdims=keepdims))


def _argument_extreme(pick: Callable) -> Callable:
    def run(step: Step, arguments: list, layer: Module | None, training: bool) -> list[Value]:
        x, node = arguments[0], step.node
        axis = _axis(node.attr("axis", 0), x.ndim, node)
        return [pure(pick, x, axis=axis, keepdims=bool(node.attr("keepdims", 1)))]

    return run


def _argmax(a: np.ndarray, axis: int, keepdims: bool) -> np.ndarray:
    return np.argmax(a, axis=axis, keepdims=keepdims).astype(np.int64)


def _argmin(a: np.ndarray, axis: int, keepdims: bool) -> np.ndarray:
    return np.argmin(a, axis=axis, keepdims=keepdims).astype(np.int64)


# ------------------------------------------------------------------ matrices


def _matmul(step: Step, arguments: list, layer: Module | None, training: bool) -> list[Value]:
    if layer is not None:  # a Linear (with the Add that followed it, fused)
        return [layer(arguments[0])]
    return [ops.matmul(arguments[0], arguments[1])]


def _gemm(step: Step, arguments: list, layer: Module | None, training: bool) -> list[Value]:
    if layer is not None:
        return [layer(arguments[0])]
    node = step.node
    a, b = arguments[0], arguments[1]
    c = arguments[2] if len(arguments) > 2 else None
    a = ops.transpose(a) if node.attr("transA", 0) else a
    b = ops.transpose(b) if node.attr("transB", 0) else b
    y = ops.matmul(a, b)
    alpha, beta = node.attr("alpha", 1.0), node.attr("beta", 1.0)
    if alpha != 1.0:
        y = y * alpha
    if c is not None:
        y = y + (c if beta == 1.0 else c * beta)
    return [y]


# ------------------------------------------------------------------ convolution and pooling


def same_pads(size: int, kernel: int, stride: int, dilation: int, upper: bool) -> tuple[int, int]:
    """ONNX's auto_pad SAME_UPPER / SAME_LOWER padding of one axis: the output is ceil(size / stride)
    long; an odd total puts the extra element after (UPPER) or before (LOWER)."""
    total = max(0, (math.ceil(size / stride) - 1) * stride + dilation * (kernel - 1) + 1 - size)
    small, large = total // 2, total - total // 2
    return (small, large) if upper else (large, small)


def _window_pads(step: Step, x: Tensor) -> list[tuple[int, int]]:
    """The (before, after) padding of each spatial axis of a convolution or pooling node for
    this input: its pads, or auto_pad's, which depend on the input's size."""
    info = step.info
    d = len(info["kernel"])
    mode = info["auto_pad"]
    if mode in ("SAME_UPPER", "SAME_LOWER"):
        return [
            same_pads(n, k, s, di, mode == "SAME_UPPER")
            for n, k, s, di in zip(x.shape[2:], info["kernel"], info["strides"], info["dilations"])
        ]
    if mode == "VALID":
        return [(0, 0)] * d
    pads = info["pads"]
    return list(zip(pads[:d], pads[d:]))


def _padded(x: Tensor, pads: Sequence[tuple[int, int]], value: float = 0.0) -> Tensor:
    """``x`` (N, C, ...) padded with ``value`` by (before, after) ``pads`` along its spatial axes."""
    if not any(lo or hi for lo, hi in pads):
        return x
    return ops.pad(x, [(0, 0), (0, 0), *pads], value=value)


def _conv(step: Step, arguments: list, layer: Module | None, training: bool) -> list[Value]:
    x = arguments[0]
    explicit = step.info.get("explicit_pads")
    if explicit is not None:  # pads the layer cannot express (uneven, or auto_pad's with a stride)
        x = _padded(x, _window_pads(step, x) if explicit == "runtime" else explicit)
    if layer is not None:
        return [layer(x)]
    w, b = arguments[1], arguments[2] if len(arguments) > 2 else None
    info = step.info
    conv = ops.conv1d if w.ndim == 3 else ops.conv2d
    return [conv(x, w, b, info["strides"], info["padding"], info["dilations"], info["group"])]


def _conv_transpose(step: Step, arguments: list, layer: Module | None, training: bool) -> list[Value]:
    x, info = arguments[0], step.info
    if layer is not None:
        y = layer(x)
    else:
        w, b = arguments[1], arguments[2] if len(arguments) > 2 else None
        conv = ops.conv_transpose1d if w.ndim == 3 else ops.conv_transpose2d
        y = conv(x, w, b, info["strides"], info["padding"], info["output_padding"], info["group"], info["dilations"])
    crop = info.get("crop")
    if crop:  # uneven pads: the layer ran without them, the output loses them here
        y = ops.index(y, (slice(None), slice(None), *(slice(lo, n - hi) for (lo, hi), n in zip(crop, y.shape[2:]))))
    return [y]


def _fits_pool_padding(pads: Sequence[tuple[int, int]], kernel: Sequence[int], dilations: Sequence[int]) -> bool:
    """Whether chainrule's pooling takes these pads itself: even, and at most half the window."""
    return all(lo == hi and 2 * lo <= di * (k - 1) + 1 for (lo, hi), k, di in zip(pads, kernel, dilations))


def _max_pool(step: Step, arguments: list, layer: Module | None, training: bool) -> list[Value]:
    x, info = arguments[0], step.info
    pads = _window_pads(step, x)
    pool = ops.max_pool1d if len(info["kernel"]) == 1 else ops.max_pool2d
    kernel, strides, dilations, ceil = info["kernel"], info["strides"], info["dilations"], info["ceil_mode"]
    if _fits_pool_padding(pads, kernel, dilations):
        return [pool(x, kernel, strides, [lo for lo, _ in pads], dilations, ceil)]
    return [pool(_padded(x, pads, -np.inf), kernel, strides, 0, dilations, ceil)]


def _average_pool(step: Step, arguments: list, layer: Module | None, training: bool) -> list[Value]:
    x, info = arguments[0], step.info
    pads = _window_pads(step, x)
    pool = ops.avg_pool1d if len(info["kernel"]) == 1 else ops.avg_pool2d
    kernel, strides, ceil = info["kernel"], info["strides"], info["ceil_mode"]
    include = bool(info["count_include_pad"])
    if _fits_pool_padding(pads, kernel, [1] * len(kernel)):
        return [pool(x, kernel, strides, [lo for lo, _ in pads], ceil, include)]
    y = pool(_padded(x, pads), kernel, strides, 0, ceil, True)
    if include or not any(lo or hi for lo, hi in pads):
        return [y]
    # without the padding in the count: the mean of x over the mean of ones, window by window
    ones = Tensor(np.ones((1, 1, *x.shape[2:]), dtype=x.dtype))
    return [y / pool(_padded(ones, pads), kernel, strides, 0, ceil, True)]


def _global_pool(reduce: Callable) -> Callable:
    def run(step: Step, arguments: list, layer: Module | None, training: bool) -> list[Value]:
        x = arguments[0]
        return [reduce(x, axis=tuple(range(2, x.ndim)), keepdims=True)]

    return run


def _resize_indices(size: int, out: int, scale: float, info: dict[str, Any]) -> np.ndarray:
    """Which input position each output position of a nearest-neighbour Resize reads, by ONNX's
    coordinate_transformation_mode and nearest_mode."""
    j = np.arange(out, dtype=np.float64)
    mode = info["coordinate_transformation_mode"]
    if mode == "asymmetric":
        x = j / scale
    elif mode == "align_corners":
        x = j * (size - 1) / (out - 1) if out > 1 else np.zeros(out)
    elif mode == "tf_half_pixel_for_nn":
        x = (j + 0.5) / scale
    elif mode == "pytorch_half_pixel":
        x = (j + 0.5) / scale - 0.5 if out > 1 else np.zeros(out)
    elif mode == "half_pixel_symmetric":
        adjustment = out / (scale * size)
        x = size / 2 * (1 - adjustment) + (j + 0.5) / scale - 0.5
    else:  # half_pixel
        x = (j + 0.5) / scale - 0.5
    rounding = info["nearest_mode"]
    if rounding == "floor":
        picked = np.floor(x)
    elif rounding == "ceil":
        picked = np.ceil(x)
    elif rounding == "round_prefer_ceil":
        picked = np.floor(x + 0.5)
    else:  # round_prefer_floor
        picked = np.ceil(x - 0.5)
    return np.clip(picked, 0, size - 1).astype(np.int64)


def _resize(step: Step, arguments: list, layer: Module | None, training: bool) -> list[Value]:
    x, info = arguments[0], step.info
    scales = arguments[2] if len(arguments) > 2 else None
    sizes = arguments[3] if len(arguments) > 3 else None
    axes = info["axes"] or list(range(x.ndim))
    axes = [_axis(a, x.ndim, step.node) for a in axes]
    if sizes is not None and np.asarray(sizes).size:
        outs = _ints(sizes)
        factors = [o / x.shape[a] for o, a in zip(outs, axes)]
    elif scales is not None and np.asarray(scales).size:
        factors = [float(s) for s in np.asarray(scales).reshape(-1)]
        outs = [int(math.floor(x.shape[a] * f)) for a, f in zip(axes, factors)]
    else:
        raise OnnxError(f"ONNX {step.node.label}: gives neither scales nor sizes")
    y = x
    for axis, out, factor in zip(axes, outs, factors):
        if out == x.shape[axis] and factor == 1.0:
            continue
        picks = _resize_indices(x.shape[axis], out, factor, info)
        y = ops.index(y, (slice(None),) * axis + (picks,))
    return [y]


# ------------------------------------------------------------------ normalisation


def _channel_shape(x: Tensor) -> tuple[int, ...]:
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def _batch_norm(step: Step, arguments: list, layer: Module | None, training: bool) -> list[Value]:
    x = arguments[0]
    if layer is not None:
        # BatchNorm1d takes (N, C) and (N, C, L), BatchNorm2d (N, C, H, W): any other rank runs
        # through the layer reshaped (the statistics are per channel either way)
        if isinstance(layer, BatchNorm2d) and x.ndim != 4:
            flat = ops.reshape(x, (x.shape[0], x.shape[1], -1, 1))
            return [ops.reshape(layer(flat), x.shape)]
        if isinstance(layer, BatchNorm1d) and x.ndim > 3:
            return [ops.reshape(layer(ops.reshape(x, (x.shape[0], x.shape[1], -1))), x.shape)]
        return [layer(x)]
    scale, bias, mean, var = arguments[1:5]
    shape = _channel_shape(x)
    eps = step.node.attr("epsilon", 1e-5)
    inv_std = 1.0 / ops.sqrt(ops.reshape(var, shape) + eps)
    return [(x - ops.reshape(mean, shape)) * inv_std * ops.reshape(scale, shape) + ops.reshape(bias, shape)]


def _normalized(x: Tensor, axes: tuple[int, ...], eps: float) -> Tensor:
    centered = x - ops.mean(x, axes, keepdims=True)
    return centered / ops.sqrt(ops.mean(centered * centered, axes, keepdims=True) + eps)


def _layer_norm(step: Step, arguments: list, layer: Module | None, training: bool) -> list[Value]:
    x = arguments[0]
    if layer is not None:
        return [layer(x)]
    node = step.node
    axis = _axis(node.attr("axis", -1), x.ndim, node)
    y = _normalized(x, tuple(range(axis, x.ndim)), node.attr("epsilon", 1e-5)) * arguments[1]
    bias = arguments[2] if len(arguments) > 2 else None
    return [y if bias is None else y + bias]


def _instance_norm(step: Step, arguments: list, layer: Module | None, training: bool) -> list[Value]:
    x, scale, bias = arguments
    shape = _channel_shape(x)
    y = _normalized(x, tuple(range(2, x.ndim)), step.node.attr("epsilon", 1e-5))
    return [y * ops.reshape(scale, shape) + ops.reshape(bias, shape)]


# ------------------------------------------------------------------ recurrent layers


def _recurrent(step: Step, arguments: list, layer: Module | None, training: bool) -> list[Value]:
    """An ONNX RNN, GRU or LSTM node run by chainrule's layer (the weights were converted to
    its gate order when it was built). ONNX's layout: X (seq, batch, input), Y (seq, directions,
    batch, hidden), Y_h and Y_c (directions, batch, hidden); with layout=1 batch comes first in
    each."""
    info = step.info
    x = arguments[0]
    h0 = arguments[5] if len(arguments) > 5 else None
    c0 = arguments[6] if len(arguments) > 6 else None
    batch_first = info["layout"] == 1
    time_axis = 1 if batch_first else 0
    states = [s if s is None or not batch_first else ops.transpose(s, (1, 0, 2)) for s in (h0, c0)]
    if info["reverse"]:  # one direction, backwards: the forward layer over the reversed sequence
        x = ops.index(x, (slice(None),) * time_axis + (slice(None, None, -1),))
    if info["mode"] == "lstm":
        hx = None if states[0] is None and states[1] is None else tuple(states)
        if hx is not None and (hx[0] is None or hx[1] is None):  # one of the two given: zeros for the other
            zeros = np.zeros((layer.num_directions, x.shape[1 - time_axis], layer.hidden_size), dtype=x.dtype)
            hx = tuple(Tensor(zeros) if s is None else s for s in hx)
        y, (h_n, c_n) = layer(x, hx)
    else:
        y, h_n = layer(x, states[0])
        c_n = None
    if info["reverse"]:
        y = ops.index(y, (slice(None),) * time_axis + (slice(None, None, -1),))
    directions, hidden = layer.num_directions, layer.hidden_size
    if batch_first:  # (batch, seq, directions * hidden) -> (batch, seq, directions, hidden)
        y = ops.reshape(y, (y.shape[0], y.shape[1], directions, hidden))
        h_n = ops.transpose(h_n, (1, 0, 2))
        c_n = None if c_n is None else ops.transpose(c_n, (1, 0, 2))
    else:  # (seq, batch, directions * hidden) -> (seq, directions, batch, hidden)
        y = ops.transpose(ops.reshape(y, (y.shape[0], y.shape[1], directions, hidden)), (0, 2, 1, 3))
    return [y, h_n, c_n]


# ------------------------------------------------------------------ the table


@dataclass(frozen=True)
class OpSpec:
    """How one ONNX operator runs.

    ``run(step, arguments, layer, training)`` returns the node's outputs. ``static`` lists the
    inputs that must be known without the data (they reach ``run`` as NumPy arrays); the others
    reach it as Tensors. An initializer at a ``params`` position is always a Parameter (a
    weight), at a ``consts`` position never (running statistics); elsewhere a floating
    initializer of more than one element is a Parameter and the rest are constants. A ``raw``
    input reaches ``run`` as it is: an array when it is known without the data, else a Tensor.
    """

    run: Callable[[Step, list, Module | None, bool], Sequence[Value]]
    static: tuple[int, ...] = ()
    params: tuple[int, ...] = ()
    consts: tuple[int, ...] = ()
    raw: tuple[int, ...] = ()


def _op(run: Callable, **positions: tuple[int, ...]) -> OpSpec:
    """An entry of ``OPS`` (a short name for ``OpSpec``, so that the table reads in one column)."""
    return OpSpec(run, **positions)


OPS: dict[str, OpSpec] = {
    # arithmetic and comparisons (NumPy broadcasting, as ONNX's)
    "Add": _op(_pairwise(ops.add)),
    "Sub": _op(_pairwise(ops.sub)),
    "Mul": _op(_pairwise(ops.mul)),
    "Div": _op(_div),
    "Pow": _op(_pow, raw=(1,)),
    "Max": _op(_pairwise(ops.maximum)),
    "Min": _op(_pairwise(ops.minimum)),
    "Sum": _op(_pairwise(ops.add)),
    "Mean": _op(_mean),
    "Equal": _op(_pairwise(ops.eq)),
    "Greater": _op(_pairwise(ops.gt)),
    "GreaterOrEqual": _op(_pairwise(ops.ge)),
    "Less": _op(_pairwise(ops.lt)),
    "LessOrEqual": _op(_pairwise(ops.le)),
    "And": _op(_pairwise(ops.logical_and)),
    "Or": _op(_pairwise(ops.logical_or)),
    "Not": _op(_each(ops.logical_not)),
    "IsNaN": _op(_each(ops.isnan)),
    "Where": _op(_where),
    # one input
    "Neg": _op(_each(ops.neg)),
    "Abs": _op(_each(ops.abs)),
    "Sqrt": _op(_each(ops.sqrt)),
    "Exp": _op(_each(ops.exp)),
    "Log": _op(_each(ops.log)),
    "Reciprocal": _op(_each(lambda x: 1.0 / x)),
    "Sin": _op(_each(ops.sin)),
    "Cos": _op(_each(ops.cos)),
    "Sign": _op(_each(ops.sign)),
    "Floor": _op(_each(lambda x: pure(np.floor, x))),
    "Ceil": _op(_each(lambda x: pure(np.ceil, x))),
    "Round": _op(_each(lambda x: pure(np.round, x))),
    # activations
    "Relu": _op(_each(ops.relu)),
    "Sigmoid": _op(_each(ops.sigmoid)),
    "Tanh": _op(_each(ops.tanh)),
    "Softplus": _op(_each(lambda x: ops.softplus(x, threshold=math.inf))),  # ONNX's has no linear region
    "Softsign": _op(_each(lambda x: x / (ops.abs(x) + 1.0))),
    "Mish": _op(_each(lambda x: x * ops.tanh(ops.softplus(x)))),
    "Gelu": _op(_with_attributes(lambda x, approximate: ops.gelu(x, approximate), approximate="none")),
    "Erf": _op(_each(ops.erf)),
    "LeakyRelu": _op(_with_attributes(lambda x, alpha: ops.leaky_relu(x, alpha), alpha=0.01)),
    "Elu": _op(_with_attributes(lambda x, alpha: ops.elu(x, alpha), alpha=1.0)),
    "Selu": _op(_with_attributes(_selu, alpha=1.67326319217681884765625, gamma=1.05070102214813232421875)),
    "HardSigmoid": _op(_with_attributes(_hard_sigmoid, alpha=0.2, beta=0.5)),
    "HardSwish": _op(_each(_hard_swish)),
    "PRelu": _op(_prelu, params=(1,)),
    "Softmax": _op(_softmax(log=False)),
    "LogSoftmax": _op(_softmax(log=True)),
    "Clip": _op(_clip, static=(1, 2)),
    # types and plumbing
    "Identity": _op(_identity),
    "Dropout": _op(_dropout, static=(1, 2)),
    "Cast": _op(_cast),
    "CastLike": _op(_cast_like),
    # shapes
    "Shape": _op(_shape),
    "Size": _op(_size),
    "Reshape": _op(_reshape, static=(1,)),
    "Flatten": _op(_flatten),
    "Transpose": _op(_transpose),
    "Squeeze": _op(_squeeze, static=(1,)),
    "Unsqueeze": _op(_unsqueeze, static=(1,)),
    "CumSum": _op(_cumsum, static=(1,)),
    "Einsum": _op(_einsum),
    "Concat": _op(_concat),
    "Split": _op(_split, static=(1,)),
    "Slice": _op(_slice, static=(1, 2, 3, 4)),
    "Gather": _op(_gather),
    "ConstantOfShape": _op(_constant_of_shape, static=(0,)),
    "Expand": _op(_expand, static=(1,)),
    "Tile": _op(_tile, static=(1,)),
    "Range": _op(_range, static=(0, 1, 2)),
    "Pad": _op(_pad, static=(1, 2, 3)),
    # reductions
    "ReduceSum": _op(_reduce(lambda x, axes, keep: ops.sum(x, axes, keep), 13), static=(1,)),
    "ReduceMean": _op(_reduce(lambda x, axes, keep: ops.mean(x, axes, keep), 18), static=(1,)),
    "ReduceMax": _op(_reduce(lambda x, axes, keep: ops.max(x, axis=axes, keepdims=keep), 18), static=(1,)),
    "ReduceMin": _op(_reduce(lambda x, axes, keep: ops.min(x, axis=axes, keepdims=keep), 18), static=(1,)),
    "ReduceSumSquare": _op(_reduce(lambda x, axes, keep: ops.sum(x * x, axes, keep), 18), static=(1,)),
    "ReduceL1": _op(_reduce(lambda x, axes, keep: ops.sum(ops.abs(x), axes, keep), 18), static=(1,)),
    "ReduceL2": _op(_reduce(_reduce_l2, 18), static=(1,)),
    "ReduceLogSumExp": _op(_reduce(lambda x, axes, keep: ops.logsumexp(x, axis=axes, keepdims=keep), 18), static=(1,)),
    "ArgMax": _op(_argument_extreme(_argmax)),
    "ArgMin": _op(_argument_extreme(_argmin)),
    # layers (a sub-module when their weights are initializers, else the same computation as ops)
    "MatMul": _op(_matmul),
    "Gemm": _op(_gemm, params=(1, 2)),
    "Conv": _op(_conv, params=(1, 2)),
    "ConvTranspose": _op(_conv_transpose, params=(1, 2)),
    "BatchNormalization": _op(_batch_norm, params=(1, 2), consts=(3, 4)),
    "LayerNormalization": _op(_layer_norm, params=(1, 2)),
    "InstanceNormalization": _op(_instance_norm, params=(1, 2)),
    "LSTM": _op(_recurrent, consts=(5, 6)),  # initial states given as initializers stay constants
    "GRU": _op(_recurrent, consts=(5,)),
    "RNN": _op(_recurrent, consts=(5,)),
    # pooling and resizing
    "MaxPool": _op(_max_pool),
    "AveragePool": _op(_average_pool),
    "GlobalAveragePool": _op(_global_pool(lambda x, axis, keepdims: ops.mean(x, axis, keepdims))),
    "GlobalMaxPool": _op(_global_pool(lambda x, axis, keepdims: ops.max(x, axis=axis, keepdims=keepdims))),
    "Resize": _op(_resize, static=(1, 2, 3)),
}
"""Every ONNX operator the loader runs (``Constant`` too: the loader evaluates it once)."""

CONTAINER = ModuleDict
"""What holds the layers of a dotted path (``features.0`` is ``features``, a ModuleDict, holding ``0``)."""
