"""Save and load models, weights, training checkpoints and nested objects of tensors, one
safetensors file each.

A file is in the safetensors format: an 8-byte header length, a JSON header, then the raw
little-endian bytes of the tensors. Nothing in it can run code, and loading never unpickles or
evaluates anything: ``load`` rebuilds the model from Module classes already defined in this
process (by class name and constructor arguments, ``module_to_spec``) and copies the weights in.

What chainrule keeps in the header's ``__metadata__`` (a string-to-string map; every value is a
JSON string):

    chainrule.format        the file format's version (1, or 2 for objects; see ``FORMAT_VERSION``)
    chainrule.version       the chainrule version that wrote the file
    chainrule.kind          "model" (``save`` of a Module), "object" (``save`` of anything else),
                            "state_dict" (``save_state_dict``) or "checkpoint" (``save_checkpoint``)
    chainrule.keys          the model's tensor names in ``state_dict`` order
    chainrule.architecture  (model) ``module_to_spec(model)``
    chainrule.training      (model) the training mode of the model and of any sub-module in the
                            other mode
    chainrule.frozen        (model) the names of parameters that do not require grad
    chainrule.object        (object) the object, with every array replaced by the name of the
                            tensor that holds it
    chainrule.metadata      (model, object, state_dict) your own metadata
    chainrule.checkpoint    (checkpoint) epoch, extra, optimizer state and the random state, with
                            every array replaced by the name of the tensor that holds it

In JSON, an array is ``{"__tensor__": name}``, a NumPy scalar ``{"__scalar__": name}`` (a 0-d
tensor: its dtype is kept), a chainrule Tensor ``{"__Tensor__": {"tensor": name, "class":
"Tensor" or "Parameter", "requires_grad": bool}}`` (objects only), a tuple ``{"__tuple__":
[...]}``, and a dict whose keys are not all strings (an optimizer's ``state`` by parameter index)
``{"__items__": [[key, value], ...]}``. Tensors are named after where they sit: in a checkpoint
the model's are ``model/<name>``, the optimizer's ``optimizer/state.0.exp_avg``, those of
``extra`` likewise (``extra/...``); in an object, ``model.0.weight`` for ``obj["model"]["0.weight"]``.

Loading a model checks it before reading any weight: the architecture is built inside
``chainrule.nn.init.skip_init()`` (parameters allocated, never written: no memory is used for
them yet), every tensor of its state dict is compared with the file's header (names, shapes,
dtypes), and only then are the tensors read, straight into the model. Every reader checks that
the header's tensors fill the file's data exactly, so the memory a load uses is bounded by the
file's size.

Writes are atomic: the bytes go to a temporary file in the target's folder, are flushed to disk,
and only then renamed onto the target, so a crash mid-save leaves the previous file intact.

Saving needs the ``safetensors`` package (``pip install "chainrule[io]"``), imported on first
use so that ``import chainrule`` needs NumPy only; reading needs NumPy alone.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import math
import os
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple, Union

import numpy as np

from chainrule._version import __version__
from chainrule.autograd import mark_modified
from chainrule.devices import as_device
from chainrule.io.files import write_bytes_atomic
from chainrule.nn import init
from chainrule.nn.module import (
    Module,
    ModuleDict,
    ModuleList,
    Parameter,
    Sequential,
    module_class,
    module_from_spec,
    module_to_spec,
)
from chainrule.random import default_generator
from chainrule.tensor import Tensor

PathLike = Union[str, "os.PathLike[str]"]

FORMAT_VERSION = 2
"""The latest version of the file layout, read and written here; files of a later version are
refused. Version 2 added objects (``save`` of anything but a Module); models, weights and
checkpoints are still written as version 1, which earlier chainrule versions read."""

_KEY = "chainrule."
_MODEL, _OBJECT, _WEIGHTS, _CHECKPOINT = "model", "object", "state_dict", "checkpoint"
_SAVED_BY = {_MODEL: "save", _OBJECT: "save", _WEIGHTS: "save_state_dict", _CHECKPOINT: "save_checkpoint"}
_FORMAT_OF = {_MODEL: 1, _OBJECT: 2, _WEIGHTS: 1, _CHECKPOINT: 1}  # the oldest layout that holds each kind
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
def save(obj: Any, path: PathLike, metadata: Mapping[str, Any] | None = None) -> None:
    """Save a model (architecture and weights), or an object of tensors and plain values (a
    ``state_dict``, a checkpoint dict), to one safetensors file; get it back with ``load``.

    A Module is saved as its architecture in JSON (each module's class name and
    ``get_config()``) plus its weights, so its classes must be defined (imported) when the file
    is loaded; a custom Module with constructor arguments overrides ``get_config`` to return them.

    Anything else is saved as it is nested, as PyTorch's ``torch.save`` does, but as tensors and
    JSON, never a pickle: dicts (any keys of the kinds below), lists, tuples (they come back as
    tuples), None, bools, ints, floats (NaN and infinities too), strings, NumPy arrays and scalars
    (their dtype kept, in little-endian byte order) and chainrule Tensors (they come back as
    Tensors, or Parameters, with their ``requires_grad``; a Tensor's gradient and graph are not
    saved). Mappings come back as dicts. An object shared by two places comes back as two copies.

    Args:
        obj: the module, or the object, to save.
        path: the file to write (``.safetensors`` is the usual suffix); replaced atomically.
        metadata: JSON-serialisable values of your own (accuracy, dataset, ...), read back with
            ``load_metadata`` (default None).

    Raises:
        TypeError: the architecture, the object or the metadata holds something that cannot be
            stored (a value of another type, an array of objects or complex numbers, a Module
            inside an object), or a module's ``get_config()`` does not give its constructor's
            arguments (the file could not be loaded).
        ValueError: the object is nested deeper than ``load`` accepts (or contains itself).
        ImportError: safetensors is not installed.

    Example:
        >>> import os, tempfile
        >>> import chainrule as cr
        >>> model = cr.nn.Sequential(cr.nn.Linear(4, 3), cr.nn.ReLU(), cr.nn.Linear(3, 1))
        >>> opt = cr.optim.SGD(model.parameters(), lr=0.1)
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = os.path.join(folder, "model.safetensors")
        ...     cr.save(model, path, metadata={"epochs": 10})
        ...     loaded = cr.load(path)
        ...     info = cr.io.load_metadata(path)
        ...     ckpt = os.path.join(folder, "ckpt.safetensors")
        ...     checkpoint = {"epoch": 3, "model": model.state_dict(), "optim": opt.state_dict(), "losses": (0.5, 0.4)}
        ...     cr.save(checkpoint, ckpt)
        ...     state = cr.load(ckpt)
        >>> loaded
        Sequential(
          (0): Linear(in_features=4, out_features=3, bias=True)
          (1): ReLU()
          (2): Linear(in_features=3, out_features=1, bias=True)
        )
        >>> x = cr.randn(2, 4)
        >>> bool((loaded(x).numpy() == model(x).numpy()).all()), info
        (True, {'epochs': 10})
        >>> state["epoch"], state["losses"], state["model"]["0.weight"].shape
        (3, (0.5, 0.4), (3, 4))
        >>> _ = loaded.load_state_dict(state["model"])
        >>> opt.load_state_dict(state["optim"])
    """
    st = _safetensors()
    if not isinstance(obj, Module):
        tensors: OrderedDict[str, np.ndarray] = OrderedDict()
        encoded = _encode(obj, "", tensors, keep_types=True)
        if _depth_exceeds(encoded, _MAX_JSON_DEPTH):
            raise ValueError(
                f"save: the {type(obj).__name__} is nested too deep to be stored (load accepts JSON nested "
                f"up to {_MAX_JSON_DEPTH} levels, and a tuple or a dict with keys that are not strings takes two)"
            )
        header = _header(_OBJECT, {"metadata": _user_metadata(metadata)})
        header[_KEY + "object"] = json.dumps(encoded, allow_nan=True)
        _write(st, path, tensors, header)
        return
    architecture = _architecture_json(obj)
    state = obj.state_dict()
    fields: dict[str, Any] = {
        "keys": list(state),
        "training": _training_modes(obj),
        "frozen": [name for name, p in obj.named_parameters() if not p.requires_grad],
        "metadata": _user_metadata(metadata),
    }
    header = _header(_MODEL, fields)
    header[_KEY + "architecture"] = architecture
    _write(st, path, state, header)


def load(path: PathLike, map_location: Any = None, weights_only: bool = True) -> Any:
    """What ``save`` saved: a model (its architecture, weights, buffers, training mode and frozen
    (``requires_grad=False``) parameters), or an object of tensors and plain values.

    PyTorch's ``map_location`` (only the CPU exists here: ``"cpu"`` or ``cr.device("cpu")``) and
    ``weights_only`` are accepted: loading never unpickles or executes anything, whichever
    ``weights_only`` says, so every file ``save`` wrote loads either way.

    A model's module classes must be defined (imported) first; nothing is executed or unpickled
    from the file. Floating-point tensors keep the dtype they were saved with. The architecture is
    built without initialising it (``chainrule.nn.init.skip_init``) and checked against the
    file's tensors (names, shapes, dtypes) before any tensor is read, so that a file declaring
    layers larger than its weights is refused before it costs memory.

    Raises:
        FileNotFoundError: there is no such file.
        ModelFileError: the file is truncated, of another format, not written by ``save`` (a
            safetensors file without chainrule metadata, or weights / a checkpoint without an
            architecture), names a module class that is not defined, declares layers too large
            to allocate, or its weights do not fit its architecture.

    Example:
        >>> import os, tempfile
        >>> import chainrule as cr
        >>> import numpy as np
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = os.path.join(folder, "bn.safetensors")
        ...     cr.save(cr.nn.BatchNorm1d(3).eval(), path)
        ...     bn = cr.load(path)
        ...     cr.save({"w": cr.ones(2, requires_grad=True), "mean": np.zeros(2), 7: None}, path)
        ...     obj = cr.load(path)
        >>> type(bn).__name__, bn.num_features, bn.training
        ('BatchNorm1d', 3, False)
        >>> obj
        {'w': tensor([1., 1.], requires_grad=True), 'mean': array([0., 0.]), 7: None}
    """
    if map_location is not None:
        if callable(map_location) or isinstance(map_location, dict):
            raise TypeError("load: map_location may only name a device here ('cpu'): every tensor is loaded on the CPU")
        as_device(map_location, "load")
    if not isinstance(weights_only, bool):
        raise TypeError(f"load: weights_only must be True or False, got {weights_only!r}")
    contents = _read_header(path)
    kind = contents.fields["kind"]
    if kind == _OBJECT:
        return _decoded_object(path, contents)
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
    fields = contents.fields
    spec = _field(path, fields, "architecture", dict)
    frozen = _names_in(path, fields.get("frozen"), "chainrule.frozen")
    modes = fields.get("training")
    if isinstance(modes, dict):
        _names_in(path, modes.get("flipped"), "the flipped modules of chainrule.training")
    names = _ordered(path, fields, contents.entries)
    model = _build(path, spec, contents)  # parameters allocated, never written: no memory used yet
    targets = _state_tensors(model)
    _check_against_header(path, targets, OrderedDict((k, contents.entries[v]) for k, v in names.items()))
    _read_into(contents, names, targets)  # only now, straight into the model
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
    return _read_header(path).fields.get("metadata") or {}


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

    Reads files of ``save_state_dict`` and ``save`` (a model's weights, or a state dict saved as
    an object: a dict of names to arrays or Tensors), of ``save_checkpoint`` (the model's
    weights), and plain safetensors files written by other tools (any tensors NumPy can hold), so
    weights can come from elsewhere. Pass the result to ``Module.load_state_dict``.

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
    contents = _read_header(path, foreign_ok=True)
    if not contents.fields:  # a safetensors file from another tool: every tensor, in header order
        return _read_tensors(contents)
    if contents.fields["kind"] == _OBJECT:
        return _object_as_state_dict(path, contents)
    names = _ordered(path, contents.fields, contents.entries)
    tensors = _read_tensors(contents, names.values())
    return OrderedDict((name, tensors[in_file]) for name, in_file in names.items())


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
    if not isinstance(model, Module):
        raise TypeError(f"load_checkpoint: model must be a chainrule.nn.Module, got {type(model).__name__}")
    contents = _read_header(path)
    fields = contents.fields
    if fields["kind"] != _CHECKPOINT:
        raise ModelFileError(
            f"{_name(path)} is not a checkpoint (it was written by {_SAVED_BY[fields['kind']]}); "
            + (
                "load it with chainrule.load(path)"
                if fields["kind"] == _OBJECT
                else "read its weights with chainrule.io.load_state_dict(path)"
            )
        )
    checkpoint = _field(path, fields, "checkpoint", dict)
    names = _ordered(path, fields, contents.entries)
    tensors = _read_tensors(contents)  # every tensor of the file: bounded by its size
    state = OrderedDict((name, tensors[in_file]) for name, in_file in names.items())
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
        _KEY + "format": json.dumps(_FORMAT_OF[kind]),
        _KEY + "version": json.dumps(__version__),
        _KEY + "kind": json.dumps(kind),
    }
    for name, value in fields.items():
        if value is not None:
            header[_KEY + name] = json.dumps(value, allow_nan=True)
    return header


def _write(st: Any, path: PathLike, tensors: Mapping[str, np.ndarray], header: dict[str, str]) -> None:
    if "__metadata__" in tensors:
        raise TypeError("cannot save a tensor named '__metadata__': the safetensors format keeps that name for itself")
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
    return value._data if isinstance(value, Tensor) else np.asarray(value)


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
_MARKERS = ("__tensor__", "__scalar__", "__Tensor__", "__tuple__", "__items__")
_TENSOR_CLASSES = {"Tensor": Tensor, "Parameter": Parameter}


def _encode(value: Any, path: str, tensors: OrderedDict[str, np.ndarray], keep_types: bool = False) -> Any:
    """``value`` as JSON, each array moved into ``tensors`` (named after where it sits) and
    replaced by ``{"__tensor__": name}``. NumPy scalars become 0-d tensors (their dtype is kept,
    which matters for bit-exact arithmetic), tuples and dicts with non-string keys are marked so
    that ``_decode`` gives back exactly what was saved. With ``keep_types`` chainrule Tensors are
    marked as such (class and ``requires_grad``); without, they are saved as arrays."""
    try:
        return _encode_value(value, path, tensors, keep_types)
    except RecursionError:
        raise ValueError(f"cannot save {type(value).__name__}: it is nested too deep, or contains itself") from None


def _encode_value(value: Any, path: str, tensors: OrderedDict[str, np.ndarray], keep_types: bool) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (np.generic, np.ndarray, Tensor)):
        name = path.rstrip("/") or "tensor"
        while name in tensors or name == "__metadata__":  # the safetensors header's own key
            name += "_"
        tensors[name] = _storable(name, np.asarray(_array(value)))
        if isinstance(value, np.generic):
            return {"__scalar__": name}
        if isinstance(value, Tensor) and keep_types:
            kind = "Parameter" if isinstance(value, Parameter) else "Tensor"
            return {"__Tensor__": {"tensor": name, "class": kind, "requires_grad": value.requires_grad}}
        return {"__tensor__": name}
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, tuple):
        return {"__tuple__": [_encode_value(v, _join(path, i), tensors, keep_types) for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [_encode_value(v, _join(path, i), tensors, keep_types) for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        if all(isinstance(k, str) and k not in _MARKERS for k in value):
            return {k: _encode_value(v, _join(path, k), tensors, keep_types) for k, v in value.items()}
        return {
            "__items__": [
                [
                    _encode_value(k, _join(path, f"key{i}"), tensors, keep_types),
                    _encode_value(v, _join(path, k), tensors, keep_types),
                ]
                for i, (k, v) in enumerate(value.items())
            ]
        }
    where = path.rstrip("/") or "the top level"
    if isinstance(value, Module):
        raise TypeError(
            f"cannot save the {type(value).__name__} at {where!r}: a Module is saved alone (chainrule.save(model, "
            "path)); inside an object, save its weights instead (model.state_dict())"
        )
    raise TypeError(
        f"cannot save {type(value).__name__} at {where!r}: only None, bools, numbers, strings, NumPy "
        "arrays and scalars, chainrule Tensors, and lists, tuples and dicts of them are stored"
    )


def _join(path: str, key: Any) -> str:
    """The name of the tensor for ``key`` inside ``path``: ``optimizer/`` + ``state`` ->
    ``optimizer/state``, then ``optimizer/state.0``, ``optimizer/state.0.exp_avg``; at the top
    of an object (``path`` empty), ``key`` alone."""
    if not path or path.endswith("/"):
        return f"{path}{key}"
    return f"{path}.{key}"


def _decode(path: PathLike, value: Any, tensors: Mapping[str, np.ndarray], keep_types: bool = False) -> Any:
    """The inverse of ``_encode``, refusing (as a corrupt file) markers that ``_encode`` never
    writes: a missing tensor, a tuple that is not a list, a dict key that cannot be one. Tensors
    are marked as such only where ``keep_types`` (objects); elsewhere that marker is a plain dict."""
    if isinstance(value, list):
        return [_decode(path, v, tensors, keep_types) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((marker, content),) = value.items()
        if marker in ("__tensor__", "__scalar__"):
            array = _tensor_named(path, content, tensors)
            if marker == "__tensor__":
                return array
            if array.ndim != 0:
                raise ModelFileError(f"{_name(path)} is corrupt: its scalar {content!r} has shape {array.shape}")
            return array[()]
        if marker == "__Tensor__" and keep_types:
            return _decoded_tensor(path, content, tensors)
        if marker == "__tuple__":
            if not isinstance(content, list):
                raise ModelFileError(f"{_name(path)} is corrupt: a tuple in its header is not a list")
            return tuple(_decode(path, v, tensors, keep_types) for v in content)
        if marker == "__items__":
            if not isinstance(content, list) or not all(isinstance(kv, list) and len(kv) == 2 for kv in content):
                raise ModelFileError(f"{_name(path)} is corrupt: a dict in its header is not a list of pairs")
            out = {}
            for k, v in content:
                key, item = _decode(path, k, tensors, keep_types), _decode(path, v, tensors, keep_types)
                try:
                    out[key] = item
                except TypeError:  # an unhashable key: a list or dict (an array is refused likewise)
                    raise ModelFileError(
                        f"{_name(path)} is corrupt: a dict in its header has an unhashable key ({type(key).__name__})"
                    ) from None
            return out
    return {k: _decode(path, v, tensors, keep_types) for k, v in value.items()}


def _tensor_named(path: PathLike, name: Any, tensors: Mapping[str, np.ndarray]) -> np.ndarray:
    if not isinstance(name, str) or name not in tensors:
        raise ModelFileError(f"{_name(path)} is corrupt: its header refers to a missing tensor {name!r}")
    return tensors[name]


def _decoded_tensor(path: PathLike, content: Any, tensors: Mapping[str, np.ndarray]) -> Tensor:
    """A ``{"__Tensor__": ...}`` entry as the Tensor (or Parameter) that was saved."""
    if not (
        isinstance(content, dict)
        and isinstance(content.get("class"), str)  # a list would not even hash
        and content["class"] in _TENSOR_CLASSES
        and isinstance(content.get("requires_grad"), bool)
    ):
        raise ModelFileError(f"{_name(path)} is corrupt: a Tensor in its header has no valid class and requires_grad")
    array = _tensor_named(path, content.get("tensor"), tensors)
    try:
        return _TENSOR_CLASSES[content["class"]](array, requires_grad=content["requires_grad"])
    except (TypeError, ValueError) as err:  # an integer Parameter, or requires_grad on integers
        raise ModelFileError(
            f"{_name(path)} is corrupt: its tensor {content['tensor']!r} cannot be a {content['class']} ({err})"
        ) from None


def _decoded_object(path: PathLike, contents: _Contents) -> Any:
    """The object that an object file holds, its tensors read in."""
    if "object" not in contents.fields:
        raise ModelFileError(f"{_name(path)} is corrupt: its header has no chainrule.object entry")
    return _decode(path, contents.fields["object"], _read_tensors(contents), keep_types=True)


def _object_as_state_dict(path: PathLike, contents: _Contents) -> OrderedDict[str, np.ndarray]:
    """The tensors of an object file that holds a state dict (names to arrays or Tensors)."""
    obj = _decoded_object(path, contents)
    if isinstance(obj, dict) and all(
        isinstance(k, str) and isinstance(v, (np.ndarray, Tensor)) for k, v in obj.items()
    ):
        return OrderedDict((k, _array(v)) for k, v in obj.items())
    raise ModelFileError(
        f"{_name(path)} holds a {type(obj).__name__} saved with chainrule.save, not a state dict (a dict of names "
        "to arrays): load it with chainrule.load(path)"
    )


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


class _Entry(NamedTuple):
    """One tensor as a file's header declares it (checked): its dtype, shape, and where its bytes
    are, counted from the start of the file."""

    dtype: np.dtype
    shape: tuple[int, ...]
    start: int
    stop: int


class _Contents(NamedTuple):
    """What a file's header says, checked: chainrule's fields (``{}`` for a foreign file) and the
    tensors, in header order. Nothing of the tensors' data has been read."""

    path: str
    fields: dict[str, Any]
    entries: OrderedDict[str, _Entry]


def _read_header(path: PathLike, foreign_ok: bool = False) -> _Contents:
    """Read and check a file's header only (its length is checked against the file's size before
    it is read): chainrule's fields and every tensor's entry. With ``foreign_ok``, a safetensors
    file without chainrule metadata gives no fields."""
    path_str = os.fspath(path)
    with _open(path_str) as f:
        size = os.fstat(f.fileno()).st_size
        head = f.read(8)
        if len(head) == 8:
            length = int.from_bytes(head, "little")
            head += f.read(max(1, min(length, size - 8)))
    header, entries = _parse_header(path_str, head, size)
    return _Contents(path_str, _chainrule_fields(path_str, header, required=not foreign_ok), entries)


def _read_tensors(contents: _Contents, names: Iterable[str] | None = None) -> OrderedDict[str, np.ndarray]:
    """The tensors ``names`` (default: all, in header order) of a checked file, each read into an
    array of its own: no more memory than the file's data."""
    out: OrderedDict[str, np.ndarray] = OrderedDict()
    with _open(contents.path) as f:
        for name in contents.entries if names is None else names:
            entry = contents.entries[name]
            out[name] = _read_entry(f, contents.path, name, entry, np.empty(entry.shape, entry.dtype))
    return out


def _read_into(contents: _Contents, names: Mapping[str, str], targets: Mapping[str, Tensor]) -> None:
    """Read the file's tensors straight into the model's (``names``: the model's name -> the
    name in the file), whose names, shapes and dtypes were checked against the header. A
    floating tensor saved in another precision takes the file's (a model converted with
    ``.to(float64)`` before saving comes back in float64)."""
    with _open(contents.path) as f:
        for name, in_file in names.items():
            entry, target = contents.entries[in_file], targets[name]
            if target._data.dtype != entry.dtype and target._data.dtype.kind == entry.dtype.kind == "f":
                target._data = np.empty(entry.shape, entry.dtype.newbyteorder("="))
            data = target._data
            if data.dtype == entry.dtype and data.flags.c_contiguous and data.flags.writeable:
                _read_entry(f, contents.path, in_file, entry, data)
            else:  # another byte order, or a view a custom module made: through a copy
                data[...] = _read_entry(f, contents.path, in_file, entry, np.empty(entry.shape, entry.dtype))
    mark_modified(list(targets.values()), "chainrule.load")


def _read_entry(f: Any, path: str, name: str, entry: _Entry, out: np.ndarray) -> np.ndarray:
    """Read one tensor's bytes into ``out`` (C-contiguous, of the entry's dtype and shape)."""
    f.seek(entry.start)
    view = memoryview(out.reshape(-1).view(np.uint8))
    done = 0
    while done < len(view):
        n = f.readinto(view[done:])
        if not n:
            raise ModelFileError(
                f"{path!r} is truncated: tensor {name!r} ends past the end of the file "
                "(was the file changed while being read?)"
            )
        done += n
    return out


def _parse_header(path: str, data: bytes, size: int) -> tuple[dict[str, Any], OrderedDict[str, _Entry]]:
    """The safetensors header of a file whose first bytes are ``data`` (``size`` in all), and its
    tensors' entries, after checking that the file is a complete safetensors file: the tensors'
    bytes lie back to back and fill the data section exactly, as the format requires."""
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
    entries: OrderedDict[str, _Entry] = OrderedDict()
    for name, entry in header.items():
        if name != "__metadata__":
            entries[name] = _checked_entry(path, name, entry, 8 + length)
    end = max((e.stop for e in entries.values()), default=8 + length) - 8 - length
    if end > available:
        raise ModelFileError(
            f"{path!r} is truncated: its tensors need {end} bytes of data but only {available} are there "
            "(an interrupted copy or download?)"
        )
    at = 8 + length
    for name, entry in sorted(entries.items(), key=lambda item: (item[1].start, item[1].stop)):
        if entry.start != at:
            raise ModelFileError(
                f"{path!r} is corrupt: the data of tensor {name!r} starts at byte {entry.start - 8 - length} of the "
                f"data section, where {at - 8 - length} was expected (the tensors must lie back to back)"
            )
        at = entry.stop
    if at != size:
        raise ModelFileError(f"{path!r} is corrupt: {size - at} bytes after its tensors' data belong to no tensor")
    return header, entries


def _checked_entry(path: str, name: str, entry: Any, data_start: int) -> _Entry:
    """Check one tensor's header entry (a dtype chainrule reads, a shape, and data_offsets that
    hold exactly shape x dtype-size bytes) before anything is read or allocated for it."""
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
    return _Entry(_FILE_DTYPES[dtype], tuple(shape), data_start + offsets[0], data_start + offsets[1])


def _json(path: str, text: str | bytes, what: str) -> Any:
    """``text`` decoded from JSON, or a ModelFileError naming ``what`` if it is not valid JSON,
    has a key twice in one object (which safetensors refuses, and which would hide a value), or
    is nested more than ``_MAX_JSON_DEPTH`` deep (which would otherwise end in a RecursionError)."""
    try:
        value = json.loads(text, object_pairs_hook=_without_duplicates)
    except RecursionError:
        value = None
        deep = True
    except _DuplicateKey as err:
        raise ModelFileError(f"{path!r} is corrupt: its {what} has the key {err.args[0]!r} twice") from None
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


class _DuplicateKey(Exception):
    pass


def _without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return out


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


def _ordered(path: PathLike, fields: Mapping[str, Any], entries: Mapping[str, Any]) -> OrderedDict[str, str]:
    """The model's tensor names (without the checkpoint prefix) in the order they were saved,
    each with its name in the file, after checking that the file has them all."""
    keys = _field(path, fields, "keys", list)
    if not all(isinstance(k, str) for k in keys):
        raise ModelFileError(f"{_name(path)} is corrupt: its header's chainrule.keys are not all strings")
    prefix = _MODEL_PREFIX if fields["kind"] == _CHECKPOINT else ""
    missing = [k for k in keys if prefix + k not in entries]
    if missing:
        raise ModelFileError(
            f"{_name(path)} is corrupt: its header lists tensors that are not in it: "
            + ", ".join(repr(k) for k in missing)
        )
    return OrderedDict((k, prefix + k) for k in keys)


# ---------------------------------------------------------------- building and checking a model
# A file's architecture is built inside init.skip_init(): its layers allocate their parameters
# with np.empty and write none of them, so the operating system gives them no memory yet. Every
# tensor of its state dict is then compared with the file's header, and only a model whose
# tensors the file holds, shape for shape, is filled (and so made resident): a file of a few
# hundred bytes that declares Linear(20000, 20000), or one of your own Module classes at any
# size, is refused without using the 1.6 GB it declares.


def _build(path: PathLike, spec: Mapping[str, Any], contents: _Contents) -> Module:
    """``module_from_spec(spec)`` without initialising anything, its failures explained."""
    error = _unknown_classes(path, spec)
    if error is not None:
        raise error
    try:
        with init.skip_init():
            return module_from_spec(spec)
    except MemoryError as err:
        raise _too_big(path, err, contents) from None
    except Exception as err:
        raise ModelFileError(
            f"{_name(path)}: cannot rebuild the model from its saved architecture ({type(err).__name__}: {err}); "
            "does each custom module's get_config() return its constructor's arguments?"
        ) from err


def _too_big(path: PathLike, err: MemoryError, contents: _Contents) -> ModelFileError:
    """The error for an architecture whose layers cannot even be allocated: it names the layer
    (the innermost Module whose ``__init__`` was running) and the array it asked for."""
    layer = "model"
    tb = err.__traceback__
    while tb is not None:
        owner = tb.tb_frame.f_locals.get("self") if tb.tb_frame.f_code.co_name == "__init__" else None
        if isinstance(owner, Module):
            layer = type(owner).__name__
        tb = tb.tb_next
    shape, dtype = getattr(err, "shape", None), getattr(err, "dtype", None)
    if isinstance(shape, tuple) and dtype is not None:
        size = math.prod(shape) * np.dtype(dtype).itemsize
        asked = f"a {np.dtype(dtype)} tensor of shape {shape} ({size / 2**30:.3g} GiB)"
    else:
        asked = f"memory ({err})"
    held = sum(e.stop - e.start for e in contents.entries.values())
    return ModelFileError(
        f"{_name(path)}: its architecture's {layer} needs {asked}, more than this machine can allocate; the "
        f"file holds {held} bytes of tensors, so its weights cannot fit that layer (a damaged or crafted file?)"
    )


def _state_tensors(model: Module) -> OrderedDict[str, Tensor]:
    """The tensors behind ``model.state_dict()`` (parameters, then persistent buffers), by the same
    names and in the same order, not copied: a copy would write every page of a model built
    inside ``skip_init``. (Reads ``Module``'s private registries, as ``state_dict`` does, until
    ``Module`` offers PyTorch's ``state_dict(keep_vars=True)``.)"""
    tensors: OrderedDict[str, Tensor] = OrderedDict(model.named_parameters())
    for module_name, module in model.named_modules():
        for name, buffer in module._buffers.items():
            if buffer is not None and name not in module._non_persistent:
                tensors[f"{module_name}.{name}" if module_name else name] = buffer
    return tensors


def _check_against_header(path: PathLike, targets: Mapping[str, Tensor], entries: Mapping[str, _Entry]) -> None:
    """Refuse, before reading any tensor, a file whose tensors do not fit the model built from its
    architecture: every mis-shaped, missing and unexpected name and every refused dtype at once."""
    mismatched, wrong_dtypes = [], []
    for name, target in targets.items():
        if name in entries:
            if entries[name].shape != target.shape:
                mismatched.append(f"{name}: expected {target.shape}, got {entries[name].shape}")
            problem = _dtype_problem(name, entries[name].dtype, target._data.dtype)
            if problem:
                wrong_dtypes.append(problem)
    problems = []
    for label, names, sep in (
        ("mis-shaped: ", mismatched, "; "),
        ("missing: ", [name for name in targets if name not in entries], ", "),
        ("unexpected: ", [name for name in entries if name not in targets], ", "),
        ("", wrong_dtypes, "; "),
    ):
        if names:
            shown = names[:10] + ([f"and {len(names) - 10} more"] if len(names) > 10 else [])
            problems.append(label + sep.join(shown))
    if problems:
        raise ModelFileError(
            f"{_name(path)}: its weights do not fit its architecture (checked before reading them): "
            + " | ".join(problems)
        )


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
        if name in targets and (problem := _dtype_problem(name, array.dtype, targets[name]._data.dtype))
    ]
    if problems:
        raise ModelFileError(f"{_name(path)}: {what} do not fit {type(model).__name__}: {'; '.join(problems)}")


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
