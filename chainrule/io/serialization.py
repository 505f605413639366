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
    """


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
    model = _rebuild(path, spec)
    state = _ordered(path, fields, tensors)
    _match_float_dtypes(model, state)
    try:
        model.load_state_dict(state, strict=True)
    except KeyError as err:
        raise ModelFileError(f"{_name(path)}: its weights do not fit its architecture: {err.args[0]}") from None
    _restore_training_modes(model, fields.get("training"))
    parameters = dict(model.named_parameters())
    for name in fields.get("frozen") or []:
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
            optimizer state while an optimizer was given, or its weights do not fit ``model``
            (every missing, unexpected and mis-shaped name is listed).

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
        except BaseException:
            model.load_state_dict(backup)
            raise
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
    try:
        header = json.loads(data[8 : 8 + length])
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelFileError(f"{path!r} is corrupt: its safetensors header is not valid JSON ({err})") from None
    if not isinstance(header, dict):
        raise ModelFileError(f"{path!r} is corrupt: its safetensors header is not a JSON object")
    end = 0
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)):
            raise ModelFileError(f"{path!r} is corrupt: tensor {name!r} has no valid data_offsets in the header")
        end = max(end, offsets[1])
    available = size - 8 - length
    if end > available:
        raise ModelFileError(
            f"{path!r} is truncated: its tensors need {end} bytes of data but only {available} are there "
            "(an interrupted copy or download?)"
        )
    return header


def _chainrule_fields(path: str, header: Mapping[str, Any], required: bool) -> dict[str, Any]:
    """chainrule's ``__metadata__`` entries without the prefix, decoded from JSON; ``{}`` for a
    safetensors file from another tool unless ``required``."""
    raw = header.get("__metadata__") or {}
    if not isinstance(raw, dict) or _KEY + "format" not in raw:
        if not required:
            return {}
        names = [k for k in header if k != "__metadata__"]
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        raise ModelFileError(
            f"{path!r} is a safetensors file but was not saved by chainrule (no chainrule metadata in its "
            f"header; it holds the tensors {shown or 'none'}): read its weights with "
            "chainrule.io.load_state_dict(path), then load them into a model you build"
        )
    fields: dict[str, Any] = {}
    for key, text in raw.items():
        if not key.startswith(_KEY):
            continue
        try:
            fields[key[len(_KEY) :]] = json.loads(text)
        except (TypeError, json.JSONDecodeError):
            raise ModelFileError(f"{path!r} is corrupt: its header entry {key!r} is not valid JSON") from None
    version = fields.get("format")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ModelFileError(f"{path!r} is corrupt: unknown chainrule file format {version!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path!r} was written by chainrule {fields.get('version', '?')} in file format {version}; "
            f"this chainrule ({__version__}) reads formats up to {FORMAT_VERSION}: upgrade chainrule"
        )
    if fields.get("kind") not in _SAVED_BY:
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
    prefix = _MODEL_PREFIX if fields["kind"] == _CHECKPOINT else ""
    missing = [k for k in keys if prefix + k not in tensors]
    if missing:
        raise ModelFileError(
            f"{_name(path)} is corrupt: its header lists tensors that are not in it: {', '.join(missing)}"
        )
    return OrderedDict((k, tensors[prefix + k]) for k in keys)


def _rebuild(path: PathLike, spec: Mapping[str, Any]) -> Module:
    """``module_from_spec(spec)``, its failures explained."""
    try:
        return module_from_spec(spec)
    except Exception as err:
        unknown = [name for name in _class_names(spec) if not _is_module_class(name)]
        if unknown:
            names = ", ".join(repr(n) for n in dict.fromkeys(unknown))
            raise ModelFileError(
                f"{_name(path)} uses the module class {names}, which is not defined in this program: "
                "import or define it (a chainrule.nn.Module subclass) before loading; the file "
                "names classes, it never holds their code"
            ) from None
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
