"""Save and load models, weights and training checkpoints, one safetensors file each.

A file is in the safetensors format: an 8-byte header length, a JSON header, then the raw
little-endian bytes of the tensors. Nothing in it can run code, and loading never unpickles or
evaluates anything: ``load`` rebuilds the model from Module classes already defined in this
process (by class name and constructor arguments, ``module_to_spec``) and copies the weights in.

What chainrule keeps in the header's ``__metadata__`` (a string-to-string map; every value is a
JSON string):

    chainrule.format        the file format's version (``FORMAT_VERSION``)
    chainrule.version       the chainrule version that wrote the file
    chainrule.kind          "model" (``save``), "state_dict" (``save_state_dict``) or
                            "checkpoint" (``save_checkpoint``)
    chainrule.keys          the model's tensor names in ``state_dict`` order
    chainrule.architecture  (model) ``module_to_spec(model)``
    chainrule.training      (model) the training mode of the model and of any sub-module in the
                            other mode
    chainrule.frozen        (model) the names of parameters that do not require grad
    chainrule.metadata      (model, state_dict) your own metadata
    chainrule.checkpoint    (checkpoint) epoch, extra, optimizer state and the random state, with
                            every array replaced by the name of the tensor that holds it

In a checkpoint the model's tensors are named ``model/<name>``, the optimizer's after where
they sit in its ``state_dict()`` (``optimizer/state.0.exp_avg``), those of ``extra`` likewise
(``extra/...``).

Writes are atomic: the bytes go to a temporary file in the target's folder, are flushed to disk,
and only then renamed onto the target, so a crash mid-save leaves the previous file intact.

Needs the ``safetensors`` package (``pip install "chainrule[io]"``), imported on first use so
that ``import chainrule`` needs NumPy only.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import math
import os
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Union

import numpy as np

from chainrule._version import __version__
from chainrule.io.files import write_bytes_atomic
from chainrule.nn.module import (
    Module,
    ModuleDict,
    ModuleList,
    Sequential,
    module_class,
    module_from_spec,
    module_to_spec,
)
from chainrule.random import default_generator
from chainrule.tensor import Tensor

PathLike = Union[str, "os.PathLike[str]"]

FORMAT_VERSION = 1
"""The version of the file layout written here; files of a later version are refused."""

_KEY = "chainrule."
_MODEL, _WEIGHTS, _CHECKPOINT = "model", "state_dict", "checkpoint"
_SAVED_BY = {_MODEL: "save", _WEIGHTS: "save_state_dict", _CHECKPOINT: "save_checkpoint"}
_MODEL_PREFIX = "model/"

# The dtypes the safetensors format stores: bool, (u)int8-64, float16-64 (not float128 or complex).
_STORABLE_KINDS = {"b", "i", "u", "f"}

# The safetensors dtypes chainrule reads, as NumPy dtypes (no bfloat16 or float8: NumPy has none).
_FILE_DTYPES = {
    "BOOL": np.dtype(np.bool_),
    "U8": np.dtype(np.uint8),
    "I8": np.dtype(np.int8),
    "U16": np.dtype("<u2"),
    "I16": np.dtype("<i2"),
    "U32": np.dtype("<u4"),
    "I32": np.dtype("<i4"),
    "U64": np.dtype("<u8"),
    "I64": np.dtype("<i8"),
    "F16": np.dtype("<f2"),
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
}

# The deepest nesting of lists and objects accepted in a file's JSON (the header and each
# chainrule entry): far more than any model's architecture needs (about 3 levels per nested
# container), far less than what would exhaust Python's recursion limit while loading.
_MAX_JSON_DEPTH = 200

# First bytes of formats people mistake for a model file, to name them in the error.
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (a NumPy .npz or a PyTorch .pt file?)"),
    (b"\x93NUMPY", "a NumPy .npy file"),
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file (a Keras .h5 model?)"),
    (b"\x1f\x8b", "a gzip-compressed file"),
    (b"\x80", "a Python pickle (chainrule never loads pickles)"),
)


class ModelFileError(ValueError):
    """A file that cannot be loaded: truncated, of another format, not written by chainrule, or
    whose contents do not fit the model.

    Example:
        >>> import chainrule as cr
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), 'broken.safetensors')
        >>> _ = open(path, 'wb').write(b'not a model')
        >>> try:
        ...     cr.load(path)
        ... except cr.io.ModelFileError as e:
        ...     print(type(e).__name__, isinstance(e, ValueError))
        ModelFileError True

    Names and strings taken from the file (tensor and class names, metadata) reach the message
    with their control characters escaped, so a crafted file cannot send terminal escape
    sequences to whoever reads the error.
    """

    def __init__(self, message: str = "", *args: Any) -> None:
        super().__init__(_printable(message) if isinstance(message, str) else message, *args)


def _printable(text: str) -> str:
    """``text`` with every non-printable character (ESC, other controls, bidi overrides, line
    breaks) written as a backslash escape."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


# ==================================================================== public functions
def save(model: Module, path: PathLike, metadata: Mapping[str, Any] | None = None) -> None:
    """Save a model (architecture and weights) to one safetensors file; rebuild it with ``load``.

    The architecture is stored as JSON (each module's class name and ``get_config()``), so the
    classes must be defined (imported) when the file is loaded; a custom Module with constructor
    arguments overrides ``get_config`` to return them.

    Args:
        model: the module to save.
        path: the file to write (``.safetensors`` is the usual suffix); replaced atomically.
        metadata: JSON-serialisable values of your own (accuracy, dataset, ...), read back with
            ``load_metadata`` (default None).

    Raises:
        TypeError: the architecture or the metadata is not JSON-serialisable, or a module's
            ``get_config()`` does not give its constructor's arguments (the file could not be loaded).
        ImportError: safetensors is not installed.

    Example:
        >>> import os, tempfile
        >>> import chainrule as cr
        >>> model = cr.nn.Sequential(cr.nn.Linear(4, 3), cr.nn.ReLU(), cr.nn.Linear(3, 1))
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = os.path.join(folder, "model.safetensors")
        ...     cr.save(model, path, metadata={"epochs": 10})
        ...     loaded = cr.load(path)
        ...     info = cr.io.load_metadata(path)
        >>> loaded
        Sequential(
          (0): Linear(in_features=4, out_features=3, bias=True)
          (1): ReLU()
          (2): Linear(in_features=3, out_features=1, bias=True)
        )
        >>> x = cr.randn(2, 4)
        >>> bool((loaded(x).numpy() == model(x).numpy()).all()), info
        (True, {'epochs': 10})
    """
    st = _safetensors()
    if not isinstance(model, Module):
        raise TypeError(
            f"save: model must be a chainrule.nn.Module, got {type(model).__name__} "
            "(to save a dict of arrays, use save_state_dict)"
        )
    architecture = _architecture_json(model)
    state = model.state_dict()
    fields: dict[str, Any] = {
        "keys": list(state),
        "training": _training_modes(model),
        "frozen": [name for name, p in model.named_parameters() if not p.requires_grad],
        "metadata": _user_metadata(metadata),
    }
    header = _header(_MODEL, fields)
    header[_KEY + "architecture"] = architecture
    _write(st, path, state, header)


def load(path: PathLike) -> Module:
    """Rebuild a model saved with ``save``: its architecture, weights, buffers, training mode and
    frozen (``requires_grad=False``) parameters.

    Every module class named in the file must be defined (imported) first; nothing is executed
    or unpickled from the file. Floating-point tensors keep the dtype they were saved with.

    Raises:
        FileNotFoundError: there is no such file.
        ModelFileError: the file is truncated, of another format, not a chainrule model (a
            safetensors file without chainrule metadata, or weights / a checkpoint without an
            architecture), names a module class that is not defined, or its weights do not fit
            its architecture.

    Example:
        >>> import os, tempfile
        >>> import chainrule as cr
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = os.path.join(folder, "bn.safetensors")
        ...     cr.save(cr.nn.BatchNorm1d(3).eval(), path)
        ...     bn = cr.load(path)
        >>> type(bn).__name__, bn.num_features, bn.training
        ('BatchNorm1d', 3, False)
    """
    st = _safetensors()
    fields, tensors = _read(st, path)
    kind = fields["kind"]
    if kind != _MODEL:
        hint = (
            "build the model, then model.load_state_dict(chainrule.io.load_state_dict(path))"
            if kind == _WEIGHTS
            else "build the model and optimizer, then chainrule.io.load_checkpoint(path, model, optimizer)"
        )
        raise ModelFileError(
            f"{_name(path)} holds {'weights only' if kind == _WEIGHTS else 'a training checkpoint'} "
            f"(written by {_SAVED_BY[kind]}), not a model's architecture: {hint}"
        )
    spec = _field(path, fields, "architecture", dict)
    frozen = _names_in(path, fields.get("frozen"), "chainrule.frozen")
    modes = fields.get("training")
    if isinstance(modes, dict):
        _names_in(path, modes.get("flipped"), "the flipped modules of chainrule.training")
    state = _ordered(path, fields, tensors)
    _check_architecture(path, spec, state)  # before building anything
    model = _rebuild(path, spec)
    _check_dtypes(path, model, state, "its weights")
    _match_float_dtypes(model, state)
    try:
        model.load_state_dict(state, strict=True)
    except KeyError as err:
        raise ModelFileError(f"{_name(path)}: its weights do not fit its architecture: {err.args[0]}") from None
    _restore_training_modes(model, fields.get("training"))
    parameters = dict(model.named_parameters())
    for name in frozen:
        if name in parameters:
            parameters[name].requires_grad_(False)
    return model


def load_metadata(path: PathLike) -> dict[str, Any]:
    """The metadata you passed to ``save`` or ``save_state_dict`` (empty if none); reads only the
    file's header.

    Example:
        >>> import os, tempfile
        >>> import chainrule as cr
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = os.path.join(folder, "w.safetensors")
        ...     cr.io.save_state_dict(cr.nn.Linear(2, 1), path, metadata={"note": "demo"})
        ...     cr.io.load_metadata(path)
        {'note': 'demo'}
    """
    path_str = os.fspath(path)
    with _open(path_str) as f:
        size = os.fstat(f.fileno()).st_size
        head = f.read(8)
        if len(head) == 8:
            length = int.from_bytes(head, "little")
            head += f.read(max(1, min(length, size - 8)))
    header = _parse_header(path_str, head, size)
    fields = _chainrule_fields(path_str, header, required=True)
    return fields.get("metadata") or {}


def save_state_dict(
    state_or_model: Module | Mapping[str, Any], path: PathLike, metadata: Mapping[str, Any] | None = None
) -> None:
    """Save weights only (a model's ``state_dict()``, or any dict of name -> array) to one
    safetensors file; read them back with ``load_state_dict``.

    Args:
        state_or_model: a Module (its ``state_dict()`` is saved) or a mapping of names to arrays
            or Tensors.
        path: the file to write; replaced atomically.
        metadata: JSON-serialisable values of your own, read back with ``load_metadata``.

    Example:
        >>> import os, tempfile
        >>> import chainrule as cr
        >>> model = cr.nn.Linear(3, 2)
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = os.path.join(folder, "weights.safetensors")
        ...     cr.io.save_state_dict(model, path)
        ...     state = cr.io.load_state_dict(path)
        >>> list(state), state["weight"].shape
        (['weight', 'bias'], (2, 3))
        >>> other = cr.nn.Linear(3, 2)
        >>> _ = other.load_state_dict(state)
        >>> bool((other.weight.numpy() == model.weight.numpy()).all())
        True
    """
    st = _safetensors()
    if isinstance(state_or_model, Module):
        state: Mapping[str, Any] = state_or_model.state_dict()
    elif isinstance(state_or_model, Mapping):
        state = state_or_model
    else:
        raise TypeError(
            f"save_state_dict: expected a Module or a mapping of names to arrays, got {type(state_or_model).__name__}"
        )
    bad = [repr(k) for k in state if not isinstance(k, str)]
    if bad:
        raise TypeError(f"save_state_dict: tensor names must be strings, got {', '.join(bad)}")
    tensors = OrderedDict((k, _array(v)) for k, v in state.items())
    header = _header(_WEIGHTS, {"keys": list(tensors), "metadata": _user_metadata(metadata)})
    _write(st, path, tensors, header)


def load_state_dict(path: PathLike) -> OrderedDict[str, np.ndarray]:
    """The weights in a file, by name (in the order they were saved), as NumPy arrays.

    Reads files of ``save_state_dict`` and ``save`` (their weights), of ``save_checkpoint``
    (the model's weights), and plain safetensors files written by other tools (any tensors NumPy
    can hold), so weights can come from elsewhere. Pass the result to ``Module.load_state_dict``.

    Raises:
        FileNotFoundError: there is no such file.
        ModelFileError: the file is truncated or of another format.

    Example:
        >>> import chainrule as cr
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), 'w.safetensors')
        >>> cr.io.save_state_dict(cr.nn.Linear(3, 2), path)
        >>> {name: w.shape for name, w in cr.io.load_state_dict(path).items()}
        {'weight': (2, 3), 'bias': (2,)}
    """
    st = _safetensors()
    fields, tensors = _read(st, path, foreign_ok=True)
    if not fields:  # a safetensors file from another tool: every tensor, in header order
        return OrderedDict(tensors)
    return _ordered(path, fields, tensors)


def save_checkpoint(
    path: PathLike,
    model: Module,
    optimizer: Any = None,
    epoch: int | None = None,
    extra: Any = None,
) -> None:
    """Save what resuming training needs: the model's weights and buffers, the optimizer's state,
    the epoch, anything of yours, and chainrule's random state (so dropout and shuffling continue
    the same random sequence), to one safetensors file.

    Args:
        path: the file to write; replaced atomically.
        model: the model being trained.
        optimizer: an object with ``state_dict()`` returning a dict of JSON-friendly values and
            NumPy arrays, and ``load_state_dict(dict)`` (every chainrule optimizer); None to skip.
        epoch: the number of epochs done (any int, or None).
        extra: JSON-friendly values and NumPy arrays of your own (a scheduler's state, the
            best loss, ...), nested in dicts, lists and tuples.

    Example:
        >>> import os, tempfile
        >>> import chainrule as cr
        >>> model = cr.nn.Linear(2, 1)
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = os.path.join(folder, "ckpt.safetensors")
        ...     cr.io.save_checkpoint(path, model, epoch=3, extra={"best_loss": 0.25})
        ...     resumed = cr.nn.Linear(2, 1)
        ...     info = cr.io.load_checkpoint(path, resumed)
        >>> info
        {'epoch': 3, 'extra': {'best_loss': 0.25}}
        >>> bool((resumed.weight.numpy() == model.weight.numpy()).all())
        True
    """
    st = _safetensors()
    if not isinstance(model, Module):
        raise TypeError(f"save_checkpoint: model must be a chainrule.nn.Module, got {type(model).__name__}")
    if epoch is not None and (not isinstance(epoch, (int, np.integer)) or isinstance(epoch, bool)):
        raise TypeError(f"save_checkpoint: epoch must be an int or None, got {epoch!r}")
    state = model.state_dict()
    tensors: OrderedDict[str, np.ndarray] = OrderedDict((_MODEL_PREFIX + k, v) for k, v in state.items())
    optimizer_state = None
    if optimizer is not None:
        if not callable(getattr(optimizer, "state_dict", None)):
            raise TypeError(f"save_checkpoint: optimizer {type(optimizer).__name__} has no state_dict() method")
        optimizer_state = _encode(optimizer.state_dict(), "optimizer/", tensors)
    checkpoint = {
        "epoch": None if epoch is None else int(epoch),
        "extra": _encode(extra, "extra/", tensors),
        "optimizer": optimizer_state,
        "rng": _encode(default_generator().bit_generator.state, "rng/", tensors),
    }
    header = _header(_CHECKPOINT, {"keys": list(state), "checkpoint": checkpoint})
    _write(st, path, tensors, header)


def load_checkpoint(path: PathLike, model: Module, optimizer: Any = None, restore_rng: bool = True) -> dict[str, Any]:
    """Resume from a ``save_checkpoint`` file: copy the weights into ``model``, the state into
    ``optimizer`` (if given) and, with ``restore_rng``, chainrule's random state; training then
    continues exactly as it would have without the interruption.

    The file is read and checked before anything changes; if the optimizer then refuses its
    state (chainrule's optimizers change nothing when they do), the model's weights are put back.

    Args:
        path: the checkpoint file.
        model: a model of the same architecture (its weights are overwritten in place).
        optimizer: an optimizer over ``model``'s parameters, of the kind saved (default None:
            the optimizer state in the file is ignored).
        restore_rng: set chainrule's random source to its state at saving time (default True).

    Returns:
        ``{"epoch": ..., "extra": ...}`` as given to ``save_checkpoint``.

    Raises:
        FileNotFoundError: there is no such file.
        ModelFileError: the file is not a checkpoint, is truncated or of another format, has no
            optimizer state while an optimizer was given, its optimizer state does not fit
            ``optimizer``, or its weights do not fit ``model`` (every missing, unexpected and
            mis-shaped name is listed).

    Example:
        >>> import chainrule as cr
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), 'ckpt.safetensors')
        >>> model = cr.nn.Linear(3, 2)
        >>> opt = cr.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        >>> cr.io.save_checkpoint(path, model, opt, epoch=5)
        >>> resumed = cr.nn.Linear(3, 2)
        >>> cr.io.load_checkpoint(path, resumed, cr.optim.SGD(resumed.parameters(), lr=0.1, momentum=0.9))["epoch"]
        5
    """
    st = _safetensors()
    if not isinstance(model, Module):
        raise TypeError(f"load_checkpoint: model must be a chainrule.nn.Module, got {type(model).__name__}")
    fields, tensors = _read(st, path)
    if fields["kind"] != _CHECKPOINT:
        raise ModelFileError(
            f"{_name(path)} is not a checkpoint (it was written by {_SAVED_BY[fields['kind']]}); "
            "read its weights with chainrule.io.load_state_dict(path)"
        )
    checkpoint = _field(path, fields, "checkpoint", dict)
    state = _ordered(path, fields, tensors)
    extra = _decode(path, checkpoint.get("extra"), tensors)
    optimizer_state = None
    if optimizer is not None:
        if checkpoint.get("optimizer") is None:
            raise ModelFileError(f"{_name(path)} holds no optimizer state (it was saved without an optimizer)")
        optimizer_state = _decode(path, checkpoint["optimizer"], tensors)
    rng_state = _checked_rng_state(path, _decode(path, checkpoint.get("rng"), tensors)) if restore_rng else None

    _check_dtypes(path, model, state, "the checkpoint's weights")
    backup = model.state_dict()
    try:
        model.load_state_dict(state, strict=True)
    except KeyError as err:
        raise ModelFileError(
            f"{_name(path)}: the checkpoint's weights do not fit {type(model).__name__}: {err.args[0]}"
        ) from None
    if optimizer is not None:
        try:
            optimizer.load_state_dict(optimizer_state)
        except BaseException as err:
            model.load_state_dict(backup)
            if not isinstance(err, Exception):  # KeyboardInterrupt and the like pass through
                raise
            # the optimizer state comes from the file: whatever the optimizer refuses it with
            # (a ValueError of its own, or a TypeError/AttributeError/... from a corrupt header)
            # is a file that does not fit, said as such
            raise ModelFileError(
                f"{_name(path)}: its optimizer state does not fit {type(optimizer).__name__} "
                f"({type(err).__name__}: {str(err).strip()[:300]}); the model's weights were put back"
            ) from err
    if rng_state is not None:
        default_generator().bit_generator.state = rng_state
    return {"epoch": checkpoint.get("epoch"), "extra": extra}


# ==================================================================== writing
def _safetensors() -> Any:
    """``safetensors.numpy``, imported on first use."""
    try:
        from safetensors import numpy as safetensors_numpy
    except ImportError as err:
        raise ImportError(
            'chainrule.io needs the safetensors package to save and load models: pip install "chainrule[io]"'
        ) from err
    return safetensors_numpy


def _header(kind: str, fields: Mapping[str, Any]) -> dict[str, str]:
    """The ``__metadata__`` strings common to every file, plus ``fields`` as JSON."""
    header = {
        _KEY + "format": json.dumps(FORMAT_VERSION),
        _KEY + "version": json.dumps(__version__),
        _KEY + "kind": json.dumps(kind),
    }
    for name, value in fields.items():
        if value is not None:
            header[_KEY + name] = json.dumps(value, allow_nan=True)
    return header


def _write(st: Any, path: PathLike, tensors: Mapping[str, np.ndarray], header: dict[str, str]) -> None:
    prepared = {name: _storable(name, array) for name, array in tensors.items()}
    write_bytes_atomic(os.fspath(path), st.save(prepared, metadata=header))


def _storable(name: str, array: np.ndarray) -> np.ndarray:
    """A C-contiguous little-endian copy-if-needed of ``array``, or a TypeError naming it."""
    if array.dtype.kind not in _STORABLE_KINDS or array.dtype.itemsize > 8:
        raise TypeError(
            f"cannot save tensor {name!r}: dtype {array.dtype} is not a boolean, integer or float type "
            "of at most 64 bits"
        )
    if array.dtype.byteorder == ">":
        array = array.astype(array.dtype.newbyteorder("<"))
    return array if array.flags.c_contiguous else array.copy(order="C")  # ascontiguousarray makes 0-d arrays 1-d


def _array(value: Any) -> np.ndarray:
    return value.data if isinstance(value, Tensor) else np.asarray(value)


def _json_default(value: Any) -> Any:
    """NumPy scalars and arrays in configs and metadata become plain JSON numbers and lists."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.dtype):
        return value.name
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _user_metadata(metadata: Mapping[str, Any] | None) -> Any:
    if metadata is None:
        return None
    if not isinstance(metadata, Mapping):
        raise TypeError(f"metadata must be a dict, got {type(metadata).__name__}")
    try:
        return json.loads(json.dumps(dict(metadata), default=_json_default, allow_nan=True))
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"metadata must hold JSON-serialisable values (numbers, strings, lists, dicts): {err}"
        ) from None


def _architecture_json(model: Module) -> str:
    """``module_to_spec(model)`` as JSON, after checking that ``load`` can rebuild it."""
    try:
        text = json.dumps(module_to_spec(model), default=_json_default, allow_nan=True)
    except (TypeError, ValueError) as err:
        # Name the innermost module whose config fails (a container's config holds its children's).
        for name, module in reversed(list(model.named_modules())):
            try:
                json.dumps(module.get_config(), default=_json_default, allow_nan=True)
            except (TypeError, ValueError):
                raise TypeError(
                    f"cannot save {type(module).__name__} at {name or 'the top level'!r}: its get_config() "
                    f"is not JSON-serialisable ({err}); return plain numbers, strings, lists and dicts"
                ) from None
        raise TypeError(
            f"cannot save {type(model).__name__}: its architecture is not JSON-serialisable ({err})"
        ) from None
    for name, module in model.named_modules():
        _check_rebuildable(name, module)
    _check_not_shared(model)
    return text


def _check_not_shared(model: Module) -> None:
    """Refuse a module or parameter shared between places that ``load`` builds separately.

    Containers (Sequential, ModuleList, ModuleDict) are rebuilt child by child from their specs,
    so ``Sequential(layer, act, layer)`` would come back with two different layers, and a
    parameter tied between two of their children after construction would come back untied;
    either way the file's weights would not fit. (Sharing set up inside a custom module's
    ``__init__`` is rebuilt by that ``__init__`` and is fine.)
    """
    containers = (Sequential, ModuleList, ModuleDict)
    module_at: dict[int, str] = {}
    param_at: dict[int, str] = {}
    stack: list[tuple[str, Module]] = [("", model)]
    while stack:
        name, module = stack.pop()
        where = name or "the top level"
        if id(module) in module_at:
            raise TypeError(
                f"cannot save {type(model).__name__}: the same {type(module).__name__} is at "
                f"{module_at[id(module)]!r} and {where!r}, and load would build two; share it inside a "
                "custom module's __init__, or save the weights alone with save_state_dict"
            )
        module_at[id(module)] = where
        if isinstance(module, containers):
            stack.extend(reversed([(f"{name}.{n}" if name else n, m) for n, m in module.named_children()]))
            continue
        for pname, p in module.named_parameters(prefix=name):
            owner = param_at.setdefault(id(p), where)
            if owner != where:
                raise TypeError(
                    f"cannot save {type(model).__name__}: parameter {pname!r} is shared with {owner!r}, and "
                    "load would build them untied; tie them inside a custom module's __init__, or save the "
                    "weights alone with save_state_dict"
                )


def _check_rebuildable(name: str, module: Module) -> None:
    """Refuse, before writing, a module that ``load`` could not rebuild from its class name and
    ``get_config()``: a class shadowed by another of the same name, or a config that does not
    fit the constructor (a custom module that forgot to override ``get_config``)."""
    cls = type(module)
    where = f"{cls.__name__} at {name or 'the top level'!r}"
    try:
        registered = module_class(cls.__name__)
    except KeyError:
        registered = None
    if registered is not cls:
        raise TypeError(
            f"cannot save {where}: another Module class named {cls.__name__!r} "
            f"({getattr(registered, '__module__', '?')}.{getattr(registered, '__qualname__', '?')}) was defined "
            "after it, and load finds classes by name; give the classes different names"
        )
    if getattr(cls.from_config, "__func__", None) is not Module.from_config.__func__:
        return  # a custom from_config decides for itself what the config means
    config = module.get_config()
    try:
        inspect.signature(cls).bind(**config)
    except TypeError as err:
        raise TypeError(
            f"cannot save {where}: its get_config() returns {config!r}, which does not fit "
            f"{cls.__name__}.__init__ ({err}); override get_config() to return the constructor's arguments"
        ) from None


def _training_modes(model: Module) -> dict[str, Any]:
    """The model's training mode and the names of sub-modules in the other mode."""
    return {
        "training": model.training,
        "flipped": [name for name, m in model.named_modules() if m.training != model.training],
    }


def _names_in(path: PathLike, value: Any, what: str) -> list[str]:
    """``value``, a list of names (None for none), checked: a header entry that is not one is corrupt."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise ModelFileError(f"{_name(path)} is corrupt: {what} is not a list of names")
    return value


def _restore_training_modes(model: Module, modes: Any) -> None:
    if not isinstance(modes, dict):
        return
    model.train(bool(modes.get("training", True)))
    modules = dict(model.named_modules())
    for name in modes.get("flipped", []):
        if name in modules:
            modules[name].train(not model.training)


# ---------------------------------------------------------------- arrays inside JSON
_MARKERS = ("__tensor__", "__scalar__", "__tuple__", "__items__")


def _encode(value: Any, path: str, tensors: OrderedDict[str, np.ndarray]) -> Any:
    """``value`` as JSON, each array moved into ``tensors`` (named after where it sits) and
    replaced by ``{"__tensor__": name}``. NumPy scalars become 0-d tensors (their dtype is kept,
    which matters for bit-exact arithmetic), tuples and dicts with non-string keys are marked so
    that ``_decode`` gives back exactly what was saved."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (np.generic, np.ndarray, Tensor)):
        array = _array(value)
        name = path.rstrip("/")
        while name in tensors:
            name += "_"
        tensors[name] = _storable(name, np.asarray(array))
        return {"__scalar__" if isinstance(value, np.generic) else "__tensor__": name}
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, _join(path, i), tensors) for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [_encode(v, _join(path, i), tensors) for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        if all(isinstance(k, str) and k not in _MARKERS for k in value):
            return {k: _encode(v, _join(path, k), tensors) for k, v in value.items()}
        return {
            "__items__": [
                [_encode(k, _join(path, f"key{i}"), tensors), _encode(v, _join(path, k), tensors)]
                for i, (k, v) in enumerate(value.items())
            ]
        }
    raise TypeError(
        f"cannot save {type(value).__name__} at {path!r}: only None, bools, numbers, strings, NumPy "
        "arrays and scalars, and lists, tuples and dicts of them are stored"
    )


def _join(path: str, key: Any) -> str:
    """The name of the tensor for ``key`` inside ``path``: ``optimizer/`` + ``state`` ->
    ``optimizer/state``, then ``optimizer/state.0``, ``optimizer/state.0.exp_avg``."""
    return f"{path}{key}" if path.endswith("/") else f"{path}.{key}"


def _decode(path: PathLike, value: Any, tensors: Mapping[str, np.ndarray]) -> Any:
    """The inverse of ``_encode``."""
    if isinstance(value, list):
        return [_decode(path, v, tensors) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((marker, content),) = value.items()
        if marker in ("__tensor__", "__scalar__"):
            if content not in tensors:
                raise ModelFileError(f"{_name(path)} is corrupt: its header refers to a missing tensor {content!r}")
            array = tensors[content]
            return array[()] if marker == "__scalar__" else array
        if marker == "__tuple__":
            return tuple(_decode(path, v, tensors) for v in content)
        if marker == "__items__":
            return {_decode(path, k, tensors): _decode(path, v, tensors) for k, v in content}
    return {k: _decode(path, v, tensors) for k, v in value.items()}


# ==================================================================== reading
def _name(path: PathLike) -> str:
    return repr(os.fspath(path))


@contextlib.contextmanager
def _open(path: str) -> Any:
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise FileNotFoundError(f"no such file: {path!r}") from None
    with f:
        yield f


def _read(st: Any, path: PathLike, foreign_ok: bool = False) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The chainrule fields of a file's header (decoded from JSON) and its tensors.

    With ``foreign_ok``, a safetensors file without chainrule metadata gives no fields and its
    tensors in header order."""
    path_str = os.fspath(path)
    with _open(path_str) as f:
        data = f.read()
    header = _parse_header(path_str, data, len(data))
    fields = _chainrule_fields(path_str, header, required=not foreign_ok)
    try:
        tensors = st.load(data)
    except Exception as err:  # safetensors raises its own SafetensorError, or TypeError for dtypes NumPy lacks
        raise ModelFileError(f"{_name(path)}: cannot read its tensors: {err}") from None
    if not fields:
        order = [k for k in header if k != "__metadata__"]
        return {}, OrderedDict((k, tensors[k]) for k in order if k in tensors)
    return fields, tensors


def _parse_header(path: str, data: bytes, size: int) -> dict[str, Any]:
    """The safetensors header of a file whose first bytes are ``data`` (``size`` in all), after
    checking that the file is a complete safetensors file."""
    if size == 0:
        raise ModelFileError(f"{path!r} is empty (0 bytes): it is not a saved model, or the save never happened")
    if size < 9 or data[8:9] != b"{":
        what = next((name for magic, name in _SIGNATURES if data.startswith(magic)), None)
        if what is None and size < 9:
            what = f"too short ({size} bytes) to be a safetensors file: truncated"
        elif what is None:
            what = f"not a safetensors file (it starts with {data[:12]!r})"
        else:
            what = f"{what}, not a safetensors file"
        raise ModelFileError(f"{path!r} is {what}; chainrule saves models as safetensors files")
    length = int.from_bytes(data[:8], "little")
    if 8 + length > size:
        raise ModelFileError(
            f"{path!r} is truncated: its header should be {length} bytes long but the file has only "
            f"{size - 8} bytes after the length (an interrupted copy or download?)"
        )
    header = _json(path, data[8 : 8 + length], "safetensors header")
    if not isinstance(header, dict):
        raise ModelFileError(f"{path!r} is corrupt: its safetensors header is not a JSON object")
    available = size - 8 - length
    end = 0
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        end = max(end, _checked_entry(path, name, entry))
    if end > available:
        raise ModelFileError(
            f"{path!r} is truncated: its tensors need {end} bytes of data but only {available} are there "
            "(an interrupted copy or download?)"
        )
    return header


def _checked_entry(path: str, name: str, entry: Any) -> int:
    """Check one tensor's header entry (a dtype chainrule reads, a shape, and data_offsets that
    hold exactly shape x dtype-size bytes) before anything is read or allocated for it; the end
    of its data."""
    if not isinstance(entry, dict):
        raise ModelFileError(f"{path!r} is corrupt: the header entry of tensor {name!r} is not a JSON object")
    dtype = entry.get("dtype")
    if not isinstance(dtype, str) or dtype not in _FILE_DTYPES:
        raise ModelFileError(
            f"{path!r}: tensor {name!r} has dtype {dtype!r}, a dtype chainrule does not read "
            f"(it reads {', '.join(_FILE_DTYPES)}); convert the tensor before saving it"
        )
    shape = entry.get("shape")
    if not (isinstance(shape, list) and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)):
        raise ModelFileError(f"{path!r} is corrupt: tensor {name!r} has no valid shape in the header ({shape!r})")
    offsets = entry.get("data_offsets")
    if not (
        isinstance(offsets, list)
        and len(offsets) == 2
        and all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
        and 0 <= offsets[0] <= offsets[1]
    ):
        raise ModelFileError(f"{path!r} is corrupt: tensor {name!r} has no valid data_offsets in the header")
    declared = math.prod(shape) * _FILE_DTYPES[dtype].itemsize
    if offsets[1] - offsets[0] != declared:
        raise ModelFileError(
            f"{path!r} is corrupt: tensor {name!r} is declared as {dtype} of shape {tuple(shape)} "
            f"({declared} bytes), but its data_offsets {offsets[0]}..{offsets[1]} hold "
            f"{offsets[1] - offsets[0]} bytes"
        )
    return offsets[1]


def _json(path: str, text: str | bytes, what: str) -> Any:
    """``text`` decoded from JSON, or a ModelFileError naming ``what`` if it is not valid JSON or
    is nested more than ``_MAX_JSON_DEPTH`` deep (which would otherwise end in a RecursionError)."""
    try:
        value = json.loads(text)
    except RecursionError:
        value = None
        deep = True
    except (TypeError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelFileError(f"{path!r} is corrupt: its {what} is not valid JSON ({err})") from None
    else:
        deep = _depth_exceeds(value, _MAX_JSON_DEPTH)
    if deep:
        raise ModelFileError(
            f"{path!r} is corrupt: its {what} is nested more than {_MAX_JSON_DEPTH} levels deep "
            "(no model chainrule saves nests so deep)"
        )
    return value


def _depth_exceeds(value: Any, limit: int) -> bool:
    """Whether lists and dicts in ``value`` nest more than ``limit`` deep (without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > limit:
                return True
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return False


def _chainrule_fields(path: str, header: Mapping[str, Any], required: bool) -> dict[str, Any]:
    """chainrule's ``__metadata__`` entries without the prefix, decoded from JSON; ``{}`` for a
    safetensors file from another tool unless ``required``."""
    raw = header.get("__metadata__") or {}
    if not isinstance(raw, dict) or _KEY + "format" not in raw:
        if not required:
            return {}
        names = [k for k in header if k != "__metadata__"]
        shown = ", ".join(repr(n) for n in names[:5]) + (", ..." if len(names) > 5 else "")
        raise ModelFileError(
            f"{path!r} is a safetensors file but was not saved by chainrule (no chainrule metadata in its "
            f"header; it holds the tensors {shown or 'none'}): read its weights with "
            "chainrule.io.load_state_dict(path), then load them into a model you build"
        )
    fields: dict[str, Any] = {}
    for key, text in raw.items():
        if not key.startswith(_KEY):
            continue
        fields[key[len(_KEY) :]] = _json(path, text, f"header entry {key!r}")
    version = fields.get("format")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ModelFileError(f"{path!r} is corrupt: unknown chainrule file format {version!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path!r} was written by chainrule {fields.get('version', '?')!r} in file format {version}; "
            f"this chainrule ({__version__}) reads formats up to {FORMAT_VERSION}: upgrade chainrule"
        )
    if not isinstance(fields.get("kind"), str) or fields["kind"] not in _SAVED_BY:  # a list is unhashable
        raise ModelFileError(f"{path!r} is corrupt: unknown kind of chainrule file {fields.get('kind')!r}")
    return fields


def _field(path: PathLike, fields: Mapping[str, Any], name: str, kind: type) -> Any:
    value = fields.get(name)
    if not isinstance(value, kind):
        raise ModelFileError(f"{_name(path)} is corrupt: its header has no valid chainrule.{name} entry")
    return value


def _ordered(
    path: PathLike, fields: Mapping[str, Any], tensors: Mapping[str, np.ndarray]
) -> OrderedDict[str, np.ndarray]:
    """The model's tensors (without the checkpoint prefix) in the order they were saved."""
    keys = _field(path, fields, "keys", list)
    if not all(isinstance(k, str) for k in keys):
        raise ModelFileError(f"{_name(path)} is corrupt: its header's chainrule.keys are not all strings")
    prefix = _MODEL_PREFIX if fields["kind"] == _CHECKPOINT else ""
    missing = [k for k in keys if prefix + k not in tensors]
    if missing:
        raise ModelFileError(
            f"{_name(path)} is corrupt: its header lists tensors that are not in it: "
            + ", ".join(repr(k) for k in missing)
        )
    return OrderedDict((k, tensors[prefix + k]) for k in keys)


# ---------------------------------------------------------------- the architecture's tensors
# What every built-in layer with parameters or buffers holds, from its config alone, so that a
# file's weights are checked against its architecture before any module is built: a file of a
# few hundred bytes that declares Linear(20000, 20000) is refused without allocating 1.6 GB.
# tests/io/test_file_safety.py checks these rules against the layers themselves.


class _BadConfig(Exception):
    pass


def _positive(config: Mapping[str, Any], key: str, default: Any = None) -> int:
    value = config.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise _BadConfig(f"{key} must be a positive integer, got {value!r}")
    return value


def _sizes(config: Mapping[str, Any], key: str, d: int) -> tuple[int, ...]:
    value = config.get(key)
    values = [value] * d if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(values, (list, tuple)) or len(values) != d:
        raise _BadConfig(f"{key} must be an integer or {d} of them, got {value!r}")
    return tuple(_positive({key: v}, key) for v in values)


def _float_dtype(config: Mapping[str, Any]) -> np.dtype:
    try:
        dtype = np.dtype(config.get("dtype") or "float32")
    except (TypeError, ValueError):
        raise _BadConfig(f"dtype {config.get('dtype')!r} is not a NumPy dtype") from None
    if dtype.kind != "f":
        raise _BadConfig(f"dtype must be a floating-point type, got {dtype}")
    return dtype


_Tensors = list[tuple[str, tuple[int, ...], np.dtype]]


def _linear_tensors(config: Mapping[str, Any]) -> _Tensors:
    n_in, n_out, dtype = _positive(config, "in_features"), _positive(config, "out_features"), _float_dtype(config)
    return [("weight", (n_out, n_in), dtype)] + ([("bias", (n_out,), dtype)] if config.get("bias", True) else [])


def _embedding_tensors(config: Mapping[str, Any]) -> _Tensors:
    shape = (_positive(config, "num_embeddings"), _positive(config, "embedding_dim"))
    return [("weight", shape, _float_dtype(config))]


def _conv_tensors(d: int, transposed: bool) -> Any:
    def tensors(config: Mapping[str, Any]) -> _Tensors:
        n_in, n_out = _positive(config, "in_channels"), _positive(config, "out_channels")
        groups, kernel, dtype = _positive(config, "groups", 1), _sizes(config, "kernel_size", d), _float_dtype(config)
        if n_in % groups or n_out % groups:
            raise _BadConfig(f"in_channels ({n_in}) and out_channels ({n_out}) must be divisible by groups ({groups})")
        shape = (n_in, n_out // groups, *kernel) if transposed else (n_out, n_in // groups, *kernel)
        return [("weight", shape, dtype)] + ([("bias", (n_out,), dtype)] if config.get("bias", True) else [])

    return tensors


def _batchnorm_tensors(config: Mapping[str, Any]) -> _Tensors:
    n, dtype = _positive(config, "num_features"), np.dtype(np.float32)
    tensors: _Tensors = []
    if config.get("affine", True):
        tensors += [("weight", (n,), dtype), ("bias", (n,), dtype)]
    if config.get("track_running_stats", True):
        tensors += [("running_mean", (n,), dtype), ("running_var", (n,), dtype)]
        tensors += [("num_batches_tracked", (), np.dtype(np.int64))]
    return tensors


def _layernorm_tensors(config: Mapping[str, Any]) -> _Tensors:
    value = config.get("normalized_shape")
    shape = _sizes(config, "normalized_shape", len(value) if isinstance(value, (list, tuple)) and value else 1)
    if not config.get("elementwise_affine", True):
        return []
    return [("weight", shape, np.dtype(np.float32)), ("bias", shape, np.dtype(np.float32))]


def _recurrent_tensors(gates: int, cell: bool) -> Any:
    def tensors(config: Mapping[str, Any]) -> _Tensors:
        n_in, hidden, dtype = _positive(config, "input_size"), _positive(config, "hidden_size"), _float_dtype(config)
        bias = config.get("bias", True)
        if cell:
            layers, directions = [("", n_in)], [""]
        else:
            directions = ["", "_reverse"] if config.get("bidirectional", False) else [""]
            n_layers = _positive(config, "num_layers", 1)
            layers = [(f"_l{i}", n_in if i == 0 else len(directions) * hidden) for i in range(n_layers)]
        out: _Tensors = []
        for layer, layer_input in layers:
            for direction in directions:
                suffix = layer + direction
                out += [("weight_ih" + suffix, (gates * hidden, layer_input), dtype)]
                out += [("weight_hh" + suffix, (gates * hidden, hidden), dtype)]
                if bias:
                    out += [
                        ("bias_ih" + suffix, (gates * hidden,), dtype),
                        ("bias_hh" + suffix, (gates * hidden,), dtype),
                    ]
        return out

    return tensors


_LAYER_TENSORS: dict[str, Any] = {
    "Linear": _linear_tensors,
    "Embedding": _embedding_tensors,
    "Conv1d": _conv_tensors(1, False),
    "Conv2d": _conv_tensors(2, False),
    "ConvTranspose1d": _conv_tensors(1, True),
    "ConvTranspose2d": _conv_tensors(2, True),
    "BatchNorm1d": _batchnorm_tensors,
    "BatchNorm2d": _batchnorm_tensors,
    "LayerNorm": _layernorm_tensors,
    "RNN": _recurrent_tensors(1, False),
    "LSTM": _recurrent_tensors(4, False),
    "GRU": _recurrent_tensors(3, False),
    "RNNCell": _recurrent_tensors(1, True),
    "LSTMCell": _recurrent_tensors(4, True),
    "GRUCell": _recurrent_tensors(3, True),
}

# Built-in layers that hold no parameters or buffers whatever their config.
_STATELESS = {
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AvgPool1d", "AvgPool2d", "MaxPool1d", "MaxPool2d",
    "GlobalAvgPool", "Upsample", "Dropout", "Flatten", "Identity",
    "ELU", "GELU", "LeakyReLU", "LogSoftmax", "ReLU", "Sigmoid", "Softmax", "Softplus", "Step", "Tanh",
    "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "HingeLoss", "HuberLoss", "L1Loss", "MSELoss",
    "MultiMarginLoss", "NLLLoss",
}  # fmt: skip


def _builtin(name: str) -> bool:
    """Whether the class registered under ``name`` is chainrule's own (not one of yours that
    took the name)."""
    try:
        cls = module_class(name)
    except KeyError:
        return False
    return cls.__module__.startswith("chainrule.nn.") and cls.__name__ == name


def _implied_tensors(path: PathLike, spec: Any) -> tuple[dict[str, tuple[tuple[int, ...], np.dtype]], list[str]]:
    """The tensors (name -> shape, dtype) that the architecture ``spec`` implies, from the configs
    alone, and the names of the modules whose tensors cannot be known without building them
    (your own Module classes, whose constructors decide)."""
    tensors: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
    opaque: list[str] = []
    stack: list[tuple[str, Any]] = [("", spec)]
    while stack:
        where, node = stack.pop()
        if not isinstance(node, Mapping) or not isinstance(node.get("class"), str):
            raise ModelFileError(
                f"{_name(path)} is corrupt: the architecture at {where or 'the top level'!r} is not a module spec"
            )
        cls, config = node["class"], node.get("config", {})
        if not isinstance(config, Mapping):
            raise ModelFileError(
                f"{_name(path)} is corrupt: the config of {cls!r} at {where or 'the top level'!r} is not a JSON object"
            )
        prefix = where + "." if where else ""
        try:
            if not _builtin(cls) or not (cls in _LAYER_TENSORS or cls in _STATELESS or cls in _CONTAINERS):
                opaque.append(where)
            elif cls in _LAYER_TENSORS:
                try:
                    inspect.signature(module_class(cls)).bind(**config)
                except TypeError:  # the constructor refuses it before running: _rebuild explains
                    opaque.append(where)
                    continue
                for name, shape, dtype in _LAYER_TENSORS[cls](config):
                    tensors[prefix + name] = (shape, dtype)
            elif cls in _CONTAINERS:
                stack.extend(reversed([(prefix + child, sub) for child, sub in _CONTAINERS[cls](config)]))
        except _BadConfig as err:
            raise ModelFileError(
                f"{_name(path)}: cannot rebuild the model from its saved architecture: {cls!r} at "
                f"{where or 'the top level'!r} has an invalid config ({err})"
            ) from None
    return tensors, opaque


def _sequential_children(config: Mapping[str, Any]) -> list[tuple[str, Any]]:
    layers = config.get("layers")
    if not isinstance(layers, list) or not all(
        isinstance(s, Mapping) and isinstance(s.get("name"), str) for s in layers
    ):
        raise _BadConfig("its layers are not a list of named module specs")
    return [(s["name"], s) for s in layers]


def _list_children(config: Mapping[str, Any]) -> list[tuple[str, Any]]:
    modules = config.get("modules")
    if not isinstance(modules, list):
        raise _BadConfig("its modules are not a list of module specs")
    return [(str(i), s) for i, s in enumerate(modules)]


def _dict_children(config: Mapping[str, Any]) -> list[tuple[str, Any]]:
    modules = config.get("modules")
    if not isinstance(modules, Mapping):
        raise _BadConfig("its modules are not a JSON object of module specs")
    return list(modules.items())


_CONTAINERS: dict[str, Any] = {
    "Sequential": _sequential_children,
    "ModuleList": _list_children,
    "ModuleDict": _dict_children,
}


def _unknown_classes(path: PathLike, spec: Any) -> ModelFileError | None:
    """The error to raise when the architecture names module classes this program does not define."""
    unknown = [name for name in _class_names(spec) if not _is_module_class(name)]
    if not unknown:
        return None
    names = ", ".join(repr(n) for n in dict.fromkeys(unknown))
    return ModelFileError(
        f"{_name(path)} uses the module class {names}, which is not defined in this program: "
        "import or define it (a chainrule.nn.Module subclass) before loading; the file "
        "names classes, it never holds their code"
    )


def _check_architecture(path: PathLike, spec: Any, state: Mapping[str, np.ndarray]) -> None:
    """Refuse, before building anything, weights whose names, shapes or dtypes do not fit the
    tensors the architecture implies (so building allocates no more than the file holds)."""
    error = _unknown_classes(path, spec)
    if error is not None:
        raise error
    implied, opaque = _implied_tensors(path, spec)

    def inside_opaque(name: str) -> bool:
        return any(not where or name == where or name.startswith(where + ".") for where in opaque)

    mismatched, wrong_dtypes = [], []
    for name, (shape, dtype) in implied.items():
        if name in state:
            if state[name].shape != shape:
                mismatched.append(f"{name}: expected {shape}, got {state[name].shape}")
            problem = _dtype_problem(name, state[name].dtype, dtype)
            if problem:
                wrong_dtypes.append(problem)
    problems = []
    for label, names in (
        ("mis-shaped: ", mismatched),
        ("missing: ", [name for name in implied if name not in state]),
        ("unexpected: ", [name for name in state if name not in implied and not inside_opaque(name)]),
        ("", wrong_dtypes),
    ):
        if names:
            shown = names[:10] + ([f"and {len(names) - 10} more"] if len(names) > 10 else [])
            problems.append(label + ("; " if label != "missing: " and label != "unexpected: " else ", ").join(shown))
    if problems:
        raise ModelFileError(
            f"{_name(path)}: its weights do not fit its architecture (checked before building the model): "
            + " | ".join(problems)
        )


def _dtype_problem(name: str, stored: np.dtype, expected: np.dtype) -> str | None:
    """Why a tensor stored as ``stored`` cannot go into one of dtype ``expected`` (None if it can:
    the same dtype, or floats of another precision, which are converted)."""
    if stored == expected or stored.kind == expected.kind == "f":
        return None
    return f"tensor {name!r} is stored as {stored}, but the model's tensor is {expected} (refused, not converted)"


def _check_dtypes(path: PathLike, model: Module, state: Mapping[str, np.ndarray], what: str) -> None:
    """Refuse weights stored with a dtype that does not fit the model's tensor (integers or
    booleans into floating-point parameters, and the like)."""
    targets: dict[str, Tensor] = dict(model.named_parameters())
    targets.update(model.named_buffers())
    problems = [
        problem
        for name, array in state.items()
        if name in targets and (problem := _dtype_problem(name, array.dtype, targets[name].data.dtype))
    ]
    if problems:
        raise ModelFileError(f"{_name(path)}: {what} do not fit {type(model).__name__}: {'; '.join(problems)}")


def _rebuild(path: PathLike, spec: Mapping[str, Any]) -> Module:
    """``module_from_spec(spec)``, its failures explained."""
    try:
        return module_from_spec(spec)
    except Exception as err:
        error = _unknown_classes(path, spec)
        if error is not None:
            raise error from None
        raise ModelFileError(
            f"{_name(path)}: cannot rebuild the model from its saved architecture ({type(err).__name__}: {err}); "
            "does each custom module's get_config() return its constructor's arguments?"
        ) from err


def _class_names(spec: Any) -> list[str]:
    """Every ``"class"`` named in a nested spec."""
    names: list[str] = []
    stack = [spec]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("class"), str):
                names.append(item["class"])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return names


def _is_module_class(name: str) -> bool:
    try:
        module_class(name)
    except KeyError:
        return False
    return True


def _match_float_dtypes(model: Module, state: Mapping[str, np.ndarray]) -> None:
    """Give a freshly built model's floating tensors the dtypes they were saved with (a layer
    whose config has no dtype, converted with ``.to(float64)`` before saving, is built as float32)."""
    targets: dict[str, Tensor] = dict(model.named_parameters())
    targets.update(model.named_buffers())
    for name, array in state.items():
        target = targets.get(name)
        if target is None or target.data.dtype == array.dtype:
            continue
        if target.data.dtype.kind == array.dtype.kind == "f":
            target.data = target.data.astype(array.dtype)


def _checked_rng_state(path: PathLike, state: Any) -> Any:
    """The saved random state, after checking that chainrule's generator can take it."""
    if state is None:
        return None
    probe = type(default_generator().bit_generator)()
    try:
        probe.state = state
    except (TypeError, ValueError, KeyError) as err:
        raise ModelFileError(
            f"{_name(path)}: its random state does not fit chainrule's generator ({err}); "
            "pass restore_rng=False to skip it"
        ) from None
    return state
