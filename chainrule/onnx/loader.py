"""``chainrule.onnx.loader``: read an ONNX model into a chainrule Module that runs, trains, and can be
summarised and drawn.

How a file becomes a module, in order (every check comes before any module is built):

1. Read and decode the file (a path, bytes or an ``onnx.ModelProto``); tensors kept in external
   files are read from the model's own folder only, exactly the bytes each one declares; then
   ``onnx.checker.check_model``. Opsets 11 and later of the default domain are read.
2. Refuse, all at once, every node chainrule cannot run: an operator outside ``OPS``, another
   domain (``ai.onnx.ml``, a model-local function), or attributes that change what an operator
   computes in a way chainrule does not reproduce.
3. Find the layers: nodes whose weights are initializers become chainrule layers (Gemm and
   MatMul [+ Add] -> ``Linear``, Conv -> ``Conv1d/2d``, ConvTranspose -> ``ConvTranspose1d/2d``,
   BatchNormalization -> ``BatchNorm1d/2d``, LayerNormalization -> ``LayerNorm``, Gather of a
   table -> ``Embedding``, LSTM/GRU/RNN -> ``LSTM``/``GRU``/``RNN`` with their weights converted
   to PyTorch's gate order). A layer is named by its weight (``fc1.weight`` -> ``fc1``), else by
   the module path the exporter recorded, else by its node.
4. The other floating initializers that hold more than one number and feed a computation become
   Parameters (named by themselves); the rest (integers, shapes, scalars) stay constants.
5. Check that every input that must be known without the data (a Reshape's shape, a Slice's
   starts, ...) is: computed from constants and tensors' shapes only.
"""

from __future__ import annotations

import ast
import math
import os
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import numpy as np

from chainrule.nn import init
from chainrule.nn.conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d
from chainrule.nn.embedding import Embedding
from chainrule.nn.linear import Linear
from chainrule.nn.module import Module, Parameter
from chainrule.nn.normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from chainrule.nn.recurrent import GRU, LSTM, RNN
from chainrule.onnx._common import OnnxError, require_onnx
from chainrule.onnx._loaded import (
    CONTAINER,
    OPS,
    InputSpec,
    Node,
    OnnxModule,
    Program,
    Step,
    tensor_dtype,
)

MIN_OPSET = 11
"""The oldest opset of the default domain the loader reads (older files: convert them with
``onnx.version_converter.convert_version``)."""

_REFUSED = {
    "Upsample": "Upsample is deprecated since opset 10; re-export the model (it writes Resize)",
    "If": "control flow (subgraphs) is not supported",
    "Loop": "control flow (subgraphs) is not supported",
    "Scan": "control flow (subgraphs) is not supported",
}
"""Operators refused with a specific reason (any other unknown operator gets the general one)."""

_RECURRENT_GATES = {"LSTM": (4, [0, 2, 3, 1]), "GRU": (3, [1, 0, 2]), "RNN": (1, [0])}
"""Gate blocks of each recurrent operator, and the ONNX block that goes to each of chainrule's
(PyTorch's) positions: LSTM ONNX (i, o, f, c) -> (i, f, g, o); GRU ONNX (z, r, h) -> (r, z, n)."""

_PATH_PART = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+")


def load(f: str | os.PathLike | bytes | Any) -> OnnxModule:
    """Read an ONNX model into a chainrule Module that runs the graph with chainrule ops.

    Layers with weights become chainrule layers named after their weights, so a model exported
    from PyTorch or chainrule comes back with the same ``state_dict`` keys (``fc1.weight`` is the
    weight of the ``Linear`` at ``fc1``). The module trains: its weights are Parameters,
    batch-normalisation statistics are buffers. A floating initializer that another operator
    reads becomes a Parameter too when it holds more than one number; integers, shapes and
    one-number constants stay constants. The module comes back in evaluation mode (as ONNX
    Runtime runs the graph); call ``.train()`` to train it. The batch dimension may differ from
    the one the model was exported with.

    Every operator of the graph is checked before anything is built: see ``OPS`` in
    ``chainrule.onnx._loaded`` for the supported ones (opset 11 and later). Not supported, and
    refused with the reason: a GRU with ``linear_before_reset=0``, recurrent ``sequence_lens`` and
    peepholes, 3-D convolution and pooling, non-constant padding, resizing other than nearest,
    control flow, and other domains (``ai.onnx.ml``).

    Args:
        f: a path to an ``.onnx`` file, the file's bytes, or an ``onnx.ModelProto``. Tensors stored
            in external files are read only from a path's own folder.

    Returns:
        An :class:`OnnxModule`: call it with the graph's inputs (positionally, or by name as
        keywords); it returns a Tensor, or a tuple for a graph with several outputs.

    Raises:
        FileNotFoundError: no file at the path.
        OnnxError: not a valid ONNX model (empty, truncated, corrupt), or a graph with operators or
            attributes chainrule cannot run (each one named, with the list of supported operators).
        ImportError: the ``onnx`` package is not installed (``pip install "chainrule[onnx]"``).

    Example:
        >>> import numpy as np
        >>> from onnx import TensorProto, helper, numpy_helper
        >>> import chainrule as cr
        >>> from chainrule.onnx.loader import load
        >>> w = numpy_helper.from_array(np.full((3, 2), 0.5, np.float32), "fc.weight")
        >>> graph = helper.make_graph(
        ...     [helper.make_node("Gemm", ["x", "fc.weight"], ["h"], transB=1), helper.make_node("Relu", ["h"], ["y"])],
        ...     "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 2])],
        ...     [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])], [w])
        >>> model = load(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]))
        >>> model
        OnnxModule(
          inputs=['x'], outputs=['y'], nodes=2
          (fc): Linear(in_features=2, out_features=3, bias=False)
        )
        >>> model(cr.ones(4, 2)).shape, list(model.state_dict())
        ((4, 3), ['fc.weight'])
    """
    onnx = require_onnx()
    model, folder, where = _read(f, onnx)
    _inline_external_data(model, folder, where, onnx)  # first: the checker would look for the files itself
    _check_model(model, where, onnx)
    return _Loader(model, where, onnx).build()


# ------------------------------------------------------------------ reading the file


def _read(f: Any, onnx: Any) -> tuple[Any, Path | None, str]:
    """The decoded model, the folder its external data may live in (a path's), and how errors name it."""
    if isinstance(f, onnx.ModelProto):
        model = onnx.ModelProto()
        model.CopyFrom(f)  # external data is inlined into the copy, never into the caller's model
        return model, None, "the onnx.ModelProto given"
    if isinstance(f, (bytes, bytearray, memoryview)):
        data, folder, where = bytes(f), None, "the bytes given"
    elif isinstance(f, (str, os.PathLike)):
        path = Path(f)
        where = repr(str(path))
        if not path.exists():
            raise FileNotFoundError(f"load: there is no ONNX file at {where}")
        if not path.is_file():
            raise OnnxError(f"load: {where} is not a file (an ONNX model is one .onnx file)")
        data, folder = path.read_bytes(), path.parent
    else:
        raise TypeError(f"load: f must be a path, bytes or an onnx.ModelProto, got {type(f).__name__}")
    if not data:
        raise OnnxError(f"load: {where} is empty: not a valid ONNX model")
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except Exception as error:  # protobuf's DecodeError, or a RuntimeError from its C implementation
        raise OnnxError(f"load: {where} is not a valid ONNX model (it does not decode: {error})") from None
    return model, folder, where


def _check_model(model: Any, where: str, onnx: Any) -> None:
    if not model.HasField("graph") or not model.opset_import:
        raise OnnxError(f"load: {where} is not a valid ONNX model (it has no graph or no opset): truncated?")
    try:
        onnx.checker.check_model(model)
    except Exception as error:  # onnx.checker.ValidationError, or a ValueError for a huge model
        raise OnnxError(f"load: {where} is not a valid ONNX model (onnx.checker: {error})") from None


def _inline_external_data(model: Any, folder: Path | None, where: str, onnx: Any) -> None:
    """Read every tensor kept in an external file into the model.

    The file must be inside the model's folder (no absolute path, no ``..``, no link out of it);
    exactly the bytes the tensor's shape and type need are read, at the offset it declares, and
    only when the file holds them.
    """
    external = onnx.TensorProto.EXTERNAL
    for tensor in _graph_tensors(model.graph):
        if tensor.data_location != external:
            continue
        what = f"tensor {tensor.name!r}"
        entries = {e.key: e.value for e in tensor.external_data}
        location = entries.get("location", "")
        if folder is None:
            raise OnnxError(
                f"load: {where} keeps {what} in the external file {location!r}: load the model from its path, "
                "so that the file can be found next to it"
            )
        if (
            not location
            or "\x00" in location
            or PurePosixPath(location).is_absolute()
            or PureWindowsPath(location).is_absolute()
            or PureWindowsPath(location).drive
            or ".." in PurePosixPath(location.replace("\\", "/")).parts
        ):
            raise OnnxError(
                f"load: {where} keeps {what} at {location!r}: external data must be a file inside the model's "
                "folder, named relative to it"
            )
        root = folder.resolve()
        path = (folder / location).resolve()
        if not path.is_relative_to(root):
            raise OnnxError(f"load: {where} keeps {what} at {location!r}, which leads out of the model's folder")
        if not path.is_file():
            raise OnnxError(f"load: {where} keeps {what} in {location!r}, but there is no such file next to it")
        try:
            dtype = _declared_dtype(tensor, what)
        except OnnxError as error:
            raise OnnxError(f"load: {where}: {error}") from None
        need = math.prod(tensor.dims) * dtype.itemsize  # Python ints: no overflow
        try:
            offset = int(entries.get("offset", 0))
            length = int(entries["length"]) if "length" in entries else need
        except ValueError:
            raise OnnxError(f"load: {where}: {what} has a non-integer offset or length") from None
        size = path.stat().st_size
        if length != need or offset < 0 or offset + need > size:
            raise OnnxError(
                f"load: {where}: {what} of shape {tuple(tensor.dims)} and type {dtype} needs {need} bytes, but its "
                f"external data declares {length} bytes at offset {offset} of {location!r}, which holds {size}"
            )
        with open(path, "rb") as file:
            file.seek(offset)
            data = file.read(need)
        if len(data) != need:
            raise OnnxError(f"load: {where}: {what}: could read only {len(data)} of its {need} bytes from {location!r}")
        tensor.raw_data = data
        tensor.data_location = onnx.TensorProto.DEFAULT
        del tensor.external_data[:]


def _graph_tensors(graph: Any) -> list[Any]:
    """The tensors of a graph that may hold data: initializers and Constant nodes' values."""
    tensors = list(graph.initializer)
    for node in graph.node:
        tensors.extend(a.t for a in node.attribute if a.HasField("t"))
    return tensors


def _declared_dtype(tensor: Any, what: str) -> np.dtype:
    """The dtype a TensorProto declares, its dimensions checked (an OnnxError naming ``what``)."""
    try:
        dtype = tensor_dtype(tensor.data_type)
    except OnnxError as error:
        raise OnnxError(f"{what}: {error}") from None
    if any(d < 0 for d in tensor.dims):
        raise OnnxError(f"{what} has negative dimensions {list(tensor.dims)}")
    return dtype


def _array(tensor: Any, what: str, onnx: Any) -> np.ndarray:
    """A TensorProto's data as a NumPy array, after checking that it holds what its shape declares."""
    dtype = _declared_dtype(tensor, what)
    if tensor.HasField("segment"):
        raise OnnxError(f"{what} is stored in segments, which chainrule does not read")
    count = math.prod(tensor.dims)
    if tensor.raw_data and len(tensor.raw_data) != count * dtype.itemsize:
        raise OnnxError(
            f"{what} of shape {tuple(tensor.dims)} and type {dtype} needs {count * dtype.itemsize} bytes, "
            f"but holds {len(tensor.raw_data)}"
        )
    try:
        array = onnx.numpy_helper.to_array(tensor)
    except Exception as error:
        raise OnnxError(f"{what} cannot be read: {error}") from None
    if array.shape != tuple(tensor.dims) or array.dtype != dtype:
        raise OnnxError(f"{what} holds data of shape {array.shape}, but declares {tuple(tensor.dims)}")
    return np.array(array)  # a writable copy that owns its memory


# ------------------------------------------------------------------ layers found in the graph


@dataclass
class _LayerPlan:
    """A node that becomes a chainrule layer: how to build it and its weights, which
    initializers it owns, and what it replaces."""

    build: Callable[[], Module]
    state: dict[str, np.ndarray]
    owns: tuple[str, ...]  # the initializers the layer holds (no other node may read them)
    weight: str  # the initializer it is named after
    key: tuple  # nodes with the same key share one layer (a layer called twice)
    fused: tuple[int, ...] = ()  # other nodes it replaces (the Add after a MatMul, a weight's Transpose)
    outputs: tuple[str, ...] | None = None  # when it writes another node's outputs (the fused Add's)


def _short(value: float) -> float:
    """A float attribute (stored as float32) as the shortest float that reads back the same:
    1e-05, not 9.999999747378752e-06, in a layer's repr."""
    return float(str(np.float32(value)))


def _reordered(w: np.ndarray, order: list[int]) -> np.ndarray:
    """The gate blocks of ``w`` (stacked along its first axis) in ``order``."""
    blocks = np.split(w, len(order), axis=0)
    return np.concatenate([blocks[i] for i in order], axis=0)


def _conv_padding(info: dict[str, Any]) -> tuple[Any, Any]:
    """The padding of a convolution layer for an ONNX Conv, and what it cannot express (padded
    before the layer runs): None, the (before, after) pairs, or "runtime" (auto_pad with a stride:
    the pads depend on the input's size)."""
    kernel, strides, dilations = info["kernel"], info["strides"], info["dilations"]
    d = len(kernel)
    mode = info["auto_pad"]
    totals = [di * (k - 1) for k, di in zip(kernel, dilations)]
    if mode == "VALID":
        return (0,) * d, None
    if mode in ("SAME_UPPER", "SAME_LOWER"):
        if all(s == 1 for s in strides) and (mode == "SAME_UPPER" or all(t % 2 == 0 for t in totals)):
            return "same", None  # chainrule's 'same' puts an odd extra after, as SAME_UPPER
        return (0,) * d, "runtime"
    pads = info["pads"]
    begins, ends = tuple(pads[:d]), tuple(pads[d:])
    if begins == ends:
        return begins, None
    if all(s == 1 for s in strides) and all((b, e) == (t // 2, t - t // 2) for b, e, t in zip(begins, ends, totals)):
        return "same", None
    return (0,) * d, list(zip(begins, ends))


def _window_info(node: Node, kernel: tuple[int, ...]) -> dict[str, Any]:
    d = len(kernel)
    return {
        "kernel": kernel,
        "strides": tuple(node.attr("strides") or (1,) * d),
        "dilations": tuple(node.attr("dilations") or (1,) * d),
        "pads": tuple(node.attr("pads") or (0,) * (2 * d)),
        "auto_pad": node.attr("auto_pad", "NOTSET") or "NOTSET",
    }


class _Loader:
    """One model being read: its nodes, constants, layers and checks, then the module."""

    def __init__(self, model: Any, where: str, onnx: Any):
        self.where, self.onnx = where, onnx
        self.opset = self._default_opset(model)
        self.graph = model.graph
        self.ranks = self._ranks(model)
        self.problems: list[str] = []
        self.pool: dict[str, np.ndarray] = {}  # initializers and Constant nodes' values, by name
        self.initializers: list[str] = []  # the real initializers (may become Parameters), in order
        for tensor in self.graph.initializer:
            self.pool[tensor.name] = self._read_tensor(tensor, f"initializer {tensor.name!r}")
            self.initializers.append(tensor.name)
        if len(self.graph.sparse_initializer):
            self.problems.append("the graph has sparse initializers, which chainrule does not read")
        self.nodes = [self._node(k, proto) for k, proto in enumerate(self.graph.node)]
        self.inputs = self._inputs()
        self.outputs = [o.name for o in self.graph.output]
        self._raise_problems()

    # ------------------------------------------------------------ reading
    def _default_opset(self, model: Any) -> int:
        versions = [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")]
        if not versions:
            raise OnnxError(f"load: {self.where} imports no opset of the default ONNX domain")
        if versions[0] < MIN_OPSET:
            raise OnnxError(
                f"load: {self.where} uses opset {versions[0]}; chainrule reads opset {MIN_OPSET} and later "
                "(convert it: onnx.version_converter.convert_version(model, 17))"
            )
        return versions[0]

    def _ranks(self, model: Any) -> dict[str, int]:
        """The rank of every value shape inference can tell (BatchNorm1d or 2d; LayerNorm's axes)."""
        try:
            inferred = self.onnx.shape_inference.infer_shapes(model).graph
        except Exception:  # inference is a help, not a requirement
            inferred = model.graph
        ranks = {}
        for info in (*inferred.value_info, *inferred.input, *inferred.output):
            kind = info.type.WhichOneof("value")
            if kind == "tensor_type" and info.type.tensor_type.HasField("shape"):
                ranks[info.name] = len(info.type.tensor_type.shape.dim)
        return ranks

    def _read_tensor(self, tensor: Any, what: str) -> np.ndarray:
        try:
            return _array(tensor, what, self.onnx)
        except OnnxError as error:
            raise OnnxError(f"load: {self.where}: {error}") from None

    def _node(self, index: int, proto: Any) -> Node:
        helper = self.onnx.helper
        attrs: dict[str, Any] = {}
        label = Node(index, proto.op_type, proto.name, (), (), {}, self.opset).label
        for a in proto.attribute:
            if a.type == self.onnx.AttributeProto.TENSOR:
                attrs[a.name] = self._read_tensor(a.t, f"{label}: attribute {a.name!r}")
            elif a.type in (self.onnx.AttributeProto.GRAPH, self.onnx.AttributeProto.GRAPHS):
                attrs[a.name] = None  # subgraphs: their operators are refused
            else:
                value = helper.get_attribute_value(a)
                if isinstance(value, bytes):
                    value = value.decode("utf-8", errors="replace")
                elif isinstance(value, list) and value and isinstance(value[0], bytes):
                    value = [v.decode("utf-8", errors="replace") for v in value]
                attrs[a.name] = value
        scope = self._recorded_path(proto)
        node = Node(index, proto.op_type, proto.name, tuple(proto.input), tuple(proto.output), attrs, self.opset, scope)
        if proto.domain not in ("", "ai.onnx"):
            self.problems.append(
                f"{node.label}: domain {proto.domain!r} is not supported (chainrule runs the default ONNX "
                "domain only; ai.onnx.ml operators and model-local functions are refused)"
            )
        elif proto.op_type in _REFUSED:
            self.problems.append(f"{node.label}: {_REFUSED[proto.op_type]}")
        elif proto.op_type not in OPS and proto.op_type != "Constant":
            self.problems.append(f"{node.label}: operator {proto.op_type!r} is not supported")
        else:
            self.problems.extend(f"{node.label}: {message}" for message in self._refusals(node))
        return node

    @staticmethod
    def _recorded_path(proto: Any) -> str | None:
        """The module path an exporter recorded for a node (PyTorch's dynamo exporter writes its
        name scopes, ``['', 'features', 'features.0', 'conv2d']``); read as a literal, never run."""
        for entry in proto.metadata_props:
            if entry.key == "pkg.torch.onnx.name_scopes" and len(entry.value) < 10_000:
                try:
                    scopes = ast.literal_eval(entry.value)
                except (ValueError, SyntaxError, MemoryError, RecursionError):
                    return None
                if isinstance(scopes, list) and len(scopes) >= 2 and isinstance(scopes[-2], str):
                    return scopes[-2] or None
        return None

    def _inputs(self) -> list[InputSpec]:
        specs = []
        for value in self.graph.input:
            if value.name in self.pool:  # an initializer listed as an input (IR version < 4)
                continue
            kind = value.type.WhichOneof("value")
            if kind != "tensor_type":
                self.problems.append(f"graph input {value.name!r} is a {kind}, not a tensor")
                continue
            tensor_type = value.type.tensor_type
            try:
                dtype = tensor_dtype(tensor_type.elem_type)
            except OnnxError as error:
                self.problems.append(f"graph input {value.name!r}: {error}")
                continue
            dims = None
            if tensor_type.HasField("shape"):
                dims = tuple(
                    d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tensor_type.shape.dim
                )
            specs.append(InputSpec(value.name, dtype, dims))
        return specs

    def _raise_problems(self) -> None:
        if self.problems:
            supported = ", ".join(sorted([*OPS, "Constant"]))
            listed = "\n".join(f"  - {p}" for p in self.problems)
            raise OnnxError(
                f"load: {self.where} cannot be loaded:\n{listed}\nchainrule.onnx.loader supports the default-domain "
                f"operators {supported}"
            )

    # ------------------------------------------------------------ refusals
    def _refusals(self, node: Node) -> list[str]:
        """What a supported operator's attributes ask for that chainrule does not compute."""
        op, attr = node.op, node.attr
        used = [i for i, name in enumerate(node.outputs) if name]
        out: list[str] = []
        if op == "Constant":
            if not any(k in node.attrs for k in ("value", "value_float", "value_floats", "value_int", "value_ints")):
                out.append(f"only numeric constants are supported, got attribute(s) {sorted(node.attrs)}")
        elif op == "Gelu" and attr("approximate", "none") not in ("none", "tanh"):
            out.append(f"Gelu's approximate must be 'none' or 'tanh', got {attr('approximate', 'none')!r}")
        elif op in ("Conv", "ConvTranspose", "MaxPool", "AveragePool"):
            kernel = attr("kernel_shape")
            weight = self.pool.get(node.inputs[1]) if len(node.inputs) > 1 else None
            d = len(kernel) if kernel else (weight.ndim - 2 if weight is not None else None)
            if d is None:
                out.append("needs kernel_shape, or a weight that is an initializer")
            elif d not in (1, 2):
                out.append(f"only 1-D and 2-D windows are supported, got {d}-D (kernel_shape {kernel})")
            if attr("auto_pad", "NOTSET") not in ("NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER", ""):
                out.append(f"unknown auto_pad {attr('auto_pad')!r}")
            if op == "ConvTranspose" and (attr("output_shape") or attr("auto_pad", "NOTSET") not in ("NOTSET", "")):
                out.append("output_shape and auto_pad are not supported; give pads and output_padding")
            if op == "MaxPool" and len(used) > 1:
                out.append("the Indices output is not supported")
            if op == "AveragePool" and any(v != 1 for v in attr("dilations") or []):
                out.append(f"dilations {attr('dilations')} are not supported by average pooling")
        elif op == "BatchNormalization":
            if attr("training_mode", 0):
                out.append("training_mode=1 (batch statistics in the graph) is not supported; export in eval mode")
            if len(used) > 1:
                out.append("only the first output (Y) is supported")
        elif op in ("LayerNormalization", "Dropout") and len(used) > 1:
            out.append("only the first output is supported")
        elif op == "Pad" and attr("mode", "constant") != "constant":
            out.append(f"mode {attr('mode')!r} is not supported (only 'constant')")
        elif op == "CumSum" and (attr("exclusive", 0) or attr("reverse", 0)):
            out.append("only exclusive=0 and reverse=0 are supported")
        elif op in ("ArgMax", "ArgMin") and attr("select_last_index", 0):
            out.append("select_last_index=1 is not supported")
        elif op == "Cast":
            try:
                tensor_dtype(attr("to"))
            except OnnxError as error:
                out.append(str(error))
        elif op == "Resize":
            out.extend(self._resize_refusals(node))
        elif op in _RECURRENT_GATES:
            out.extend(self._recurrent_refusals(node))
        return out

    @staticmethod
    def _resize_refusals(node: Node) -> list[str]:
        attr, out = node.attr, []
        if attr("mode", "nearest") != "nearest":
            out.append(f"mode {attr('mode')!r} is not supported (only 'nearest')")
        transform = attr("coordinate_transformation_mode", "half_pixel")
        known = ("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn")
        if transform not in (*known, "half_pixel_symmetric"):
            out.append(f"coordinate_transformation_mode {transform!r} is not supported")
        if attr("nearest_mode", "round_prefer_floor") not in (
            "round_prefer_floor",
            "round_prefer_ceil",
            "floor",
            "ceil",
        ):
            out.append(f"nearest_mode {attr('nearest_mode')!r} is not supported")
        if attr("keep_aspect_ratio_policy", "stretch") != "stretch":
            out.append("keep_aspect_ratio_policy other than 'stretch' is not supported")
        return out

    def _recurrent_refusals(self, node: Node) -> list[str]:
        attr, out = node.attr, []
        op = node.op
        direction = attr("direction", "forward")
        if direction not in ("forward", "reverse", "bidirectional"):
            out.append(f"unknown direction {direction!r}")
        defaults = {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"], "RNN": ["Tanh"]}[op]
        activations = attr("activations")
        if activations is not None:
            per_direction = [
                list(activations[i : i + len(defaults)]) for i in range(0, len(activations), len(defaults))
            ]
            allowed = [defaults] + ([["Relu"]] if op == "RNN" else [])
            if (
                not per_direction
                or any(a != per_direction[0] for a in per_direction)
                or per_direction[0] not in allowed
            ):
                out.append(f"activations {activations} are not supported (only {defaults}{' or Relu' * (op == 'RNN')})")
        if attr("clip") is not None:
            out.append("clip is not supported")
        if attr("activation_alpha") or attr("activation_beta"):
            out.append("activation_alpha/activation_beta are not supported")
        if attr("input_forget", 0):
            out.append("input_forget=1 (coupled input and forget gates) is not supported")
        if op == "GRU" and not attr("linear_before_reset", 0):
            out.append(
                "linear_before_reset=0 (ONNX's default) computes the candidate as W_h x + R_h (r * h); chainrule's "
                "GRU, as PyTorch's, computes W_h x + r * (R_h h): only linear_before_reset=1 is supported"
            )
        names = ["X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"]
        for position in (4, 7):
            if len(node.inputs) > position and node.inputs[position]:
                out.append(f"input {names[position]} is not supported")
        for position in (1, 2, 3):
            name = self._optional(node, position)
            if (name or position < 3) and (name not in self.pool or self.pool[name].dtype.kind != "f"):
                out.append(f"its weights {names[position]} must be floating initializers, got {name!r}")
        return out

    # ------------------------------------------------------------ building
    def build(self) -> OnnxModule:
        self._fold_constants()
        self.consumers = self._consumers()
        self.producers = {name: node for node in self.nodes if node.index not in self.skipped for name in node.outputs}
        plans = self._plan_layers()
        parameters, constants = self._classify(plans)
        steps = self._steps(plans, constants)
        self._raise_problems()
        program = Program(self.inputs, self.outputs, [step for step, _ in steps], constants, {})
        module = OnnxModule(program)
        self._attach(module, steps, parameters)
        return module.eval()

    def _fold_constants(self) -> None:
        """Constant nodes, and Identity nodes of known values, become values (no step runs them)."""
        self.skipped: set[int] = set()
        for node in self.nodes:
            if node.op == "Constant":
                self.pool[node.outputs[0]] = self._constant_value(node)
                self.skipped.add(node.index)
            elif node.op == "Identity" and node.inputs[0] in self.pool:
                # a copy: of an initializer (PyTorch writes one for each of two equal weights), it may
                # become a Parameter of its own, as the weights were in the exported model
                self.pool[node.outputs[0]] = self.pool[node.inputs[0]].copy()
                self.skipped.add(node.index)
                if node.inputs[0] in self.initializers:
                    self.initializers.append(node.outputs[0])

    @staticmethod
    def _constant_value(node: Node) -> np.ndarray:
        attr = node.attr
        if "value" in node.attrs:
            return attr("value")
        if "value_float" in node.attrs:
            return np.array(attr("value_float"), np.float32)
        if "value_floats" in node.attrs:
            return np.array(attr("value_floats"), np.float32)
        if "value_int" in node.attrs:
            return np.array(attr("value_int"), np.int64)
        return np.array(attr("value_ints"), np.int64)

    def _consumers(self) -> dict[str, list[tuple[int, int]]]:
        """Who reads each value: (node index, input position), -1 for a graph output."""
        consumers: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for node in self.nodes:
            if node.index in self.skipped:
                continue
            for position, name in enumerate(node.inputs):
                if name:
                    consumers[name].append((node.index, position))
        for name in self.outputs:
            consumers[name].append((-1, 0))
        return consumers

    def _weight(self, node: Node, position: int, ndim: tuple[int, ...]) -> np.ndarray | None:
        """The floating initializer at ``position`` of ``node``, if it has one of these ranks."""
        name = self._optional(node, position)
        value = self.pool.get(name) if name else None
        if value is None or value.dtype.kind != "f" or value.ndim not in ndim:
            return None
        return value

    @staticmethod
    def _optional(node: Node, position: int) -> str:
        """The name of ``node``'s input at ``position``; '' where it is left out (an optional input)."""
        return node.inputs[position] if len(node.inputs) > position else ""

    def _plan_layers(self) -> dict[int, _LayerPlan]:
        """The nodes that become layers; a layer only when no other node reads its weights."""
        planners = {
            "Gemm": self._plan_gemm,
            "MatMul": self._plan_matmul,
            "Conv": self._plan_conv,
            "ConvTranspose": self._plan_conv_transpose,
            "BatchNormalization": self._plan_batch_norm,
            "LayerNormalization": self._plan_layer_norm,
            "Gather": self._plan_embedding,
            "LSTM": self._plan_recurrent,
            "GRU": self._plan_recurrent,
            "RNN": self._plan_recurrent,
        }
        plans = {}
        for node in self.nodes:
            if node.op in planners and node.index not in self.skipped:
                plan = planners[node.op](node)
                if plan is not None:
                    plans[node.index] = plan
        groups: dict[tuple, list[int]] = defaultdict(list)
        for index, plan in plans.items():
            groups[plan.key].append(index)
        owners: dict[str, int] = defaultdict(int)  # how many layers would hold each initializer
        for members in groups.values():
            for name in plans[members[0]].owns:
                owners[name] += 1
        kept = {}
        for members in groups.values():
            allowed = set(members)
            for index in members:
                allowed.update(plans[index].fused)
            owns = {name for index in members for name in plans[index].owns}
            alone = all(owners[name] == 1 for name in owns)
            if alone and all(reader in allowed for name in owns for reader, _ in self.consumers.get(name, [])):
                kept.update((index, plans[index]) for index in members)
            else:
                for index in members:
                    if self.nodes[index].op in _RECURRENT_GATES:
                        self.problems.append(
                            f"{self.nodes[index].label}: its weights are also read by other nodes; chainrule maps "
                            "a recurrent node to its own LSTM/GRU/RNN layer only when the layer owns its weights"
                        )
        return kept

    def _plan_gemm(self, node: Node) -> _LayerPlan | None:
        b = self._weight(node, 1, (2,))
        if b is None or node.attr("transA", 0):
            return None
        trans_b = node.attr("transB", 0)
        weight = b if trans_b else b.T
        out_features, in_features = weight.shape
        c_name = self._optional(node, 2)
        c = self._weight(node, 2, (0, 1, 2)) if c_name else None
        if c_name and (c is None or c.size not in (1, out_features) or (c.ndim == 2 and c.shape[0] != 1)):
            return None  # a C that is not a bias: the node runs as Gemm
        alpha, beta = node.attr("alpha", 1.0), node.attr("beta", 1.0)
        state = {"weight": weight * alpha if alpha != 1.0 else weight}
        if c is not None:
            state["bias"] = np.broadcast_to(c.reshape(-1) * beta, (out_features,)).astype(weight.dtype)
        owns = (node.inputs[1],) + ((c_name,) if c_name else ())
        return _LayerPlan(
            lambda: Linear(in_features, out_features, bias=c is not None, dtype=weight.dtype),
            state,
            owns,
            node.inputs[1],
            ("Linear", owns, trans_b, alpha, beta),
        )

    def _plan_matmul(self, node: Node) -> _LayerPlan | None:
        fused: list[int] = []
        b_name = node.inputs[1]
        b = self._weight(node, 1, (2,))
        if b is not None:
            source, weight = b_name, b.T
        else:  # Transpose(W) -> MatMul, as PyTorch writes a Linear on more than two dimensions
            producer = self.producers.get(b_name)
            if producer is None or producer.op != "Transpose" or producer.attr("perm") not in (None, [1, 0]):
                return None
            w = self._weight(producer, 0, (2,))
            if w is None or any(self.nodes[r].op != "MatMul" for r, _ in self.consumers[b_name] if r >= 0):
                return None
            if any(r < 0 for r, _ in self.consumers[b_name]):
                return None
            source, weight = producer.inputs[0], w
            fused.append(producer.index)
        out_features, in_features = weight.shape
        owns = [source]
        outputs = None
        bias = None
        readers = self.consumers.get(node.outputs[0], [])
        if len(readers) == 1 and readers[0][0] >= 0 and self.nodes[readers[0][0]].op == "Add":
            add = self.nodes[readers[0][0]]
            other = add.inputs[1 - readers[0][1]]
            value = self.pool.get(other)
            if (
                value is not None
                and value.dtype.kind == "f"
                and value.shape == (out_features,)
                and len(add.inputs) == 2
            ):
                bias, outputs = value, add.outputs
                owns.append(other)
                fused.append(add.index)
        state = {"weight": weight}
        if bias is not None:
            state["bias"] = bias.astype(weight.dtype)
        return _LayerPlan(
            lambda: Linear(in_features, out_features, bias=bias is not None, dtype=weight.dtype),
            state,
            tuple(owns),
            source,
            ("Linear", tuple(owns), b is None),
            tuple(fused),
            outputs,
        )

    def _conv_weights(self, node: Node) -> tuple[np.ndarray, str, np.ndarray | None] | None:
        """A Conv's or ConvTranspose's (weight, bias name, bias) when both are floating initializers
        (the bias may be left out); None when the node runs as ops."""
        w = self._weight(node, 1, (3, 4))
        b_name = self._optional(node, 2)
        b = self._weight(node, 2, (1,)) if b_name else None
        if w is None or (b_name and b is None):
            return None
        return w, b_name, b

    @staticmethod
    def _conv_plan(
        node: Node, build: Callable[[], Module], b_name: str, w: np.ndarray, b: Any, config: tuple
    ) -> _LayerPlan:
        """The plan of a Conv or ConvTranspose node (``config``: what tells two calls' layers apart)."""
        return _LayerPlan(
            build,
            {"weight": w, **({"bias": b} if b is not None else {})},
            (node.inputs[1],) + ((b_name,) if b_name else ()),
            node.inputs[1],
            (node.op, node.inputs[1], b_name, config),
        )

    def _plan_conv(self, node: Node) -> _LayerPlan | None:
        weights = self._conv_weights(node)
        if weights is None:
            return None
        w, b_name, b = weights
        info = self._conv_info(node, tuple(w.shape[2:]))
        group = info["group"]
        cls = Conv1d if w.ndim == 3 else Conv2d
        config = (info["strides"], info["padding"], info["dilations"], group)
        return self._conv_plan(
            node,
            lambda: cls(
                w.shape[1] * group,
                w.shape[0],
                w.shape[2:],
                info["strides"],
                info["padding"],
                info["dilations"],
                group,
                bias=b is not None,
                dtype=w.dtype,
            ),
            b_name,
            w,
            b,
            config,
        )

    def _conv_info(self, node: Node, kernel: tuple[int, ...]) -> dict[str, Any]:
        info = _window_info(node, kernel)
        info["group"] = node.attr("group", 1)
        info["padding"], info["explicit_pads"] = _conv_padding(info)
        return info

    def _conv_transpose_info(self, node: Node, kernel: tuple[int, ...]) -> dict[str, Any]:
        info = _window_info(node, kernel)
        d = len(kernel)
        info["group"] = node.attr("group", 1)
        info["output_padding"] = tuple(node.attr("output_padding") or (0,) * d)
        begins, ends = info["pads"][:d], info["pads"][d:]
        if begins == ends:
            info["padding"], info["crop"] = tuple(begins), None
        else:  # uneven: run without padding and crop the output
            info["padding"], info["crop"] = (0,) * d, list(zip(begins, ends))
        return info

    def _plan_conv_transpose(self, node: Node) -> _LayerPlan | None:
        weights = self._conv_weights(node)
        if weights is None:
            return None
        w, b_name, b = weights
        info = self._conv_transpose_info(node, tuple(w.shape[2:]))
        group = info["group"]
        cls = ConvTranspose1d if w.ndim == 3 else ConvTranspose2d
        config = (info["strides"], info["padding"], info["output_padding"], info["dilations"], group)
        return self._conv_plan(
            node,
            lambda: cls(
                w.shape[0],
                w.shape[1] * group,
                w.shape[2:],
                info["strides"],
                info["padding"],
                info["output_padding"],
                group,
                bias=b is not None,
                dilation=info["dilations"],
                dtype=w.dtype,
            ),
            b_name,
            w,
            b,
            config,
        )

    def _plan_batch_norm(self, node: Node) -> _LayerPlan | None:
        values = [self._weight(node, k, (1,)) for k in range(1, 5)]
        if any(v is None for v in values) or len({v.shape for v in values}) != 1:
            return None
        scale, bias, mean, var = values
        rank = self.ranks.get(node.inputs[0])
        cls = BatchNorm1d if rank in (2, 3) else BatchNorm2d
        eps, momentum = _short(node.attr("epsilon", 1e-5)), _short(1.0 - node.attr("momentum", 0.9))
        dtype = scale.dtype
        state = {
            "weight": scale,
            "bias": bias.astype(dtype),
            "running_mean": mean.astype(dtype),
            "running_var": var.astype(dtype),
            "num_batches_tracked": np.array(0, np.int64),
        }
        owns = node.inputs[1:5]
        return _LayerPlan(
            lambda: cls(scale.size, eps=eps, momentum=min(max(momentum, 0.0), 1.0), dtype=dtype),
            state,
            owns,
            node.inputs[1],
            ("BatchNorm", owns, eps, momentum, cls.__name__),
        )

    def _plan_layer_norm(self, node: Node) -> _LayerPlan | None:
        scale = self._weight(node, 1, (1, 2, 3, 4))
        b_name = self._optional(node, 2)
        bias = self._weight(node, 2, (1, 2, 3, 4)) if b_name else None
        if scale is None or bias is None or bias.shape != scale.shape:
            return None
        axis = node.attr("axis", -1)
        rank = self.ranks.get(node.inputs[0])
        normalized = -axis if axis < 0 else (rank - axis if rank is not None else None)
        if normalized != scale.ndim:
            return None  # not the last dimensions, or not known to be: the node runs as ops
        eps = _short(node.attr("epsilon", 1e-5))
        owns = (node.inputs[1], b_name)
        return _LayerPlan(
            lambda: LayerNorm(scale.shape, eps=eps, dtype=scale.dtype),
            {"weight": scale, "bias": bias.astype(scale.dtype)},
            owns,
            node.inputs[1],
            ("LayerNorm", owns, eps),
        )

    def _plan_embedding(self, node: Node) -> _LayerPlan | None:
        table = self._weight(node, 0, (2,))
        if table is None or node.attr("axis", 0) != 0 or node.inputs[1] in self.pool:
            return None
        return _LayerPlan(
            lambda: Embedding(table.shape[0], table.shape[1], dtype=table.dtype),
            {"weight": table},
            (node.inputs[0],),
            node.inputs[0],
            ("Embedding", node.inputs[0]),
        )

    def _plan_recurrent(self, node: Node) -> _LayerPlan | None:
        gates, order = _RECURRENT_GATES[node.op]
        w, r = self.pool[node.inputs[1]], self.pool[node.inputs[2]]
        b_name = self._optional(node, 3)
        b = self.pool.get(b_name) if b_name else None
        direction = node.attr("direction", "forward")
        directions = 2 if direction == "bidirectional" else 1
        hidden = node.attr("hidden_size") or r.shape[-1]
        expected = {
            "W": ((directions, gates * hidden, w.shape[-1] if w.ndim == 3 else -1), w),
            "R": ((directions, gates * hidden, hidden), r),
            **({"B": ((directions, 2 * gates * hidden), b)} if b is not None else {}),
        }
        for name, (shape, value) in expected.items():
            if value.shape != shape:
                self.problems.append(
                    f"{node.label}: {name} has shape {value.shape}, expected {shape} for direction={direction!r} "
                    f"and hidden_size={hidden}"
                )
                return None
        state = {}
        for k in range(directions):
            suffix = "_l0" + ("_reverse" if k == 1 else "")
            state["weight_ih" + suffix] = _reordered(w[k], order)
            state["weight_hh" + suffix] = _reordered(r[k], order)
            if b is not None:
                state["bias_ih" + suffix] = _reordered(b[k, : gates * hidden], order)
                state["bias_hh" + suffix] = _reordered(b[k, gates * hidden :], order)
        layout = node.attr("layout", 0)
        options = {"bias": b is not None, "batch_first": layout == 1, "bidirectional": directions == 2}
        options["dtype"] = w.dtype
        if node.op == "RNN":
            activations = node.attr("activations") or ["Tanh"]
            options["nonlinearity"] = activations[0].lower()
        cls = {"LSTM": LSTM, "GRU": GRU, "RNN": RNN}[node.op]
        owns = tuple(name for name in node.inputs[1:4] if name)
        return _LayerPlan(
            lambda: cls(w.shape[-1], hidden, **options),
            state,
            owns,
            node.inputs[1],
            (node.op, owns, node.index),
        )

    # ------------------------------------------------------------ parameters and constants
    def _classify(self, plans: dict[int, _LayerPlan]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Split the values that are not a layer's into Parameters and constants."""
        owned = {name for plan in plans.values() for name in plan.owns}
        fused = {index for plan in plans.values() for index in plan.fused}
        parameters, constants = {}, {}
        real = set(self.initializers)
        for name, value in self.pool.items():
            if name in owned:
                continue
            readers = [(i, p) for i, p in self.consumers.get(name, []) if i < 0 or i not in fused]
            if not readers:
                continue
            roles = set()
            for index, position in readers:
                if index < 0:
                    roles.add("output")
                    continue
                spec = OPS[self.nodes[index].op]
                if position in spec.static:
                    roles.add("static")
                elif position in spec.consts:
                    roles.add("const")
                elif position in spec.params:
                    roles.add("param")
                else:
                    roles.add("data")
            weight = value.dtype.kind == "f" and name in real and "static" not in roles
            if weight and ("param" in roles or ("data" in roles and value.size > 1)):
                parameters[name] = value
            else:
                constants[name] = value
        return parameters, constants

    # ------------------------------------------------------------ steps
    def _steps(
        self, plans: dict[int, _LayerPlan], constants: dict[str, np.ndarray]
    ) -> list[tuple[Step, _LayerPlan | None]]:
        """The nodes in order as the module runs them (each with its layer's plan), with what must
        be known without the data checked."""
        fused = {index for plan in plans.values() for index in plan.fused}
        static = set(constants)
        steps = []
        for node in self.nodes:
            if node.index in self.skipped or node.index in fused:
                continue
            plan = plans.get(node.index)
            inputs = node.inputs
            if plan is not None:  # the layer holds its weights: the step reads only the data
                hidden = set(plan.owns).union(*(self.nodes[i].outputs for i in plan.fused))
                inputs = tuple("" if name in hidden else name for name in node.inputs)
            outputs = plan.outputs if plan is not None and plan.outputs is not None else node.outputs
            spec = OPS[node.op]
            for position in spec.static:
                name = inputs[position] if len(inputs) > position else ""
                if name and name not in static:
                    self.problems.append(
                        f"{node.label}: its input {position} ({name!r}) must be known without the data (computed "
                        "from constants and tensors' shapes only), but it depends on the input values or on weights"
                    )
            given = [name for name in inputs if name]
            folds = plan is None and bool(given) and all(name in static for name in given)
            if folds or node.op in ("Shape", "Size"):
                static.update(name for name in outputs if name)
            folds = folds and node.op not in ("Shape", "Size")
            steps.append((Step(node, inputs, outputs, None, folds, self._info(node)), plan))
        return steps

    def _info(self, node: Node) -> dict[str, Any]:
        """What a node's run function needs besides its inputs, worked out once."""
        op, attr = node.op, node.attr
        if op in ("Conv", "ConvTranspose"):
            kernel = tuple(attr("kernel_shape") or self.pool[node.inputs[1]].shape[2:])  # one is there (_refusals)
            return self._conv_info(node, kernel) if op == "Conv" else self._conv_transpose_info(node, kernel)
        if op in ("MaxPool", "AveragePool"):
            info = _window_info(node, tuple(attr("kernel_shape")))
            info["ceil_mode"] = bool(attr("ceil_mode", 0))
            info["count_include_pad"] = attr("count_include_pad", 0)
            return info
        if op == "Resize":
            return {
                "coordinate_transformation_mode": attr("coordinate_transformation_mode", "half_pixel"),
                "nearest_mode": attr("nearest_mode", "round_prefer_floor"),
                "axes": attr("axes"),
            }
        if op in _RECURRENT_GATES:
            mode = {"LSTM": "lstm", "GRU": "gru", "RNN": "rnn"}[op]
            return {"mode": mode, "layout": attr("layout", 0), "reverse": attr("direction", "forward") == "reverse"}
        return {}

    # ------------------------------------------------------------ the module's tree
    def _attach(
        self, module: OnnxModule, steps: list[tuple[Step, _LayerPlan | None]], parameters: dict[str, np.ndarray]
    ) -> None:
        """Build the layers (weights copied in) and Parameters, placed at their dotted paths."""
        tree = _Tree(module)
        layer_paths: dict[tuple, str] = {}
        with init.skip_init():  # every weight is overwritten from the file: draw nothing
            for step, plan in steps:
                if plan is None:
                    continue
                if plan.key not in layer_paths:
                    try:  # attributes the layer refuses (group=0, strides 0): named with the node
                        layer = plan.build()
                    except (ValueError, TypeError) as error:
                        raise OnnxError(f"load: {self.where} cannot be loaded: {step.node.label}: {error}") from None
                    layer.load_state_dict(plan.state)
                    layer_paths[plan.key] = tree.place(self._layer_names(step.node, plan.weight), layer, step.node)
                step.layer = layer_paths[plan.key]
        program = module._program
        for name, value in parameters.items():
            program.parameters[name] = tree.place([name], Parameter(value.copy()), None)

    @staticmethod
    def _layer_names(node: Node, weight: str) -> list[str]:
        """A layer's possible paths, best first: its weight's (``fc1.weight`` -> ``fc1``), the module
        path the exporter recorded (PyTorch's: its name scopes, or a node name ``/fc1/Gemm``)."""
        names = []
        stem, _, leaf = weight.rpartition(".")
        if stem and leaf.startswith("weight"):
            names.append(stem)
        if node.scope:
            names.append(node.scope)
        parts = node.name.strip("/").split("/")
        if node.name.startswith("/") and len(parts) >= 2:
            names.append(parts[-2])
        names.append(node.name)
        return names


class _Tree:
    """Places layers and Parameters in the loaded module at dotted paths, creating containers
    (ModuleDict) along the way; a path that is taken, or not made of names, gives way to a
    sanitised one."""

    def __init__(self, root: OnnxModule):
        self.root = root
        self.containers = {"": root}
        self.taken: set[str] = set()

    def place(self, candidates: list[str], item: Module | Parameter, node: Node | None) -> str:
        for path in candidates:
            if self._free(path):
                return self._put(path, item)
        fallback = re.sub(r"\W", "_", candidates[-1]).strip("_") or (node.op.lower() if node else "parameter")
        if not fallback[0].isalpha():
            fallback = (node.op.lower() if node else "p") + "_" + fallback
        path, k = fallback, 1
        while not self._free(path):
            path, k = f"{fallback}_{k}", k + 1
        return self._put(path, item)

    def _free(self, path: str) -> bool:
        parts = path.split(".")
        if not path or len(path) > 200 or not all(_PATH_PART.fullmatch(p) for p in parts):
            return False
        prefix = ""
        for part in parts:
            owner = self.containers.get(prefix)
            prefix = f"{prefix}.{part}" if prefix else part
            if owner is None:  # below a new container: nothing there yet
                continue
            if prefix in self.taken or part.startswith("__") or part == "training" or hasattr(type(owner), part):
                return False
            if prefix not in self.containers and part in owner.__dict__:
                return False
        return path not in self.containers

    def _put(self, path: str, item: Module | Parameter) -> str:
        parts = path.split(".")
        prefix, owner = "", self.root
        for part in parts[:-1]:
            prefix = f"{prefix}.{part}" if prefix else part
            if prefix not in self.containers:
                container = CONTAINER()
                setattr(owner, part, container)
                self.containers[prefix] = container
            owner = self.containers[prefix]
        setattr(owner, parts[-1], item)
        self.taken.add(path)
        return path
