"""Module, Parameter and the containers Sequential, ModuleList and ModuleDict.

A Module finds its parameters and sub-modules by attribute assignment (``self.fc = Linear(4, 3)``
registers ``fc.weight`` and ``fc.bias``). Running statistics are buffers, kept apart from
parameters; ``state_dict`` holds both (persistent buffers only), never caches.

Every module can describe itself with ``get_config()`` (the arguments that rebuild it), so a model
can be saved as JSON plus weights and rebuilt without pickling code (see ``chainrule.io``).
"""

from __future__ import annotations

import contextlib
import numbers
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NamedTuple, NoReturn

import numpy as np

from chainrule.autograd import HookHandle, _mode, _writes, mark_modified, zero_grads
from chainrule.compiler.recorder import replayed
from chainrule.nn.backward_hooks import ModuleCall
from chainrule.tensor import Tensor, _to_arguments

_MODULE_CLASSES: dict[str, type[Module]] = {}


def module_class(name: str) -> type[Module]:
    """The Module subclass registered under ``name`` (every subclass registers itself).

    Example:
        >>> from chainrule import nn
        >>> from chainrule.nn import module_class
        >>> module_class('Linear') is nn.Linear
        True
    """
    try:
        return _MODULE_CLASSES[name]
    except KeyError:
        raise KeyError(
            f"unknown module class {name!r}: define or import it before loading a model that uses it"
        ) from None


def module_to_spec(module: Module) -> dict[str, Any]:
    """A JSON-friendly description of a module: its class name and constructor arguments.

    Example:
        >>> from chainrule import nn
        >>> from chainrule.nn import module_to_spec
        >>> module_to_spec(nn.Linear(3, 2, bias=False))
        {'class': 'Linear', 'config': {'in_features': 3, 'out_features': 2, 'bias': False, 'dtype': 'float32'}}
    """
    return {"class": type(module).__name__, "config": module.get_config()}


def module_from_spec(spec: Mapping[str, Any]) -> Module:
    """Rebuild a module (with fresh parameters) from ``module_to_spec``'s description.

    Example:
        >>> from chainrule import nn
        >>> from chainrule.nn import module_from_spec, module_to_spec
        >>> copy = module_from_spec(module_to_spec(nn.Sequential(nn.Linear(3, 4), nn.ReLU())))
        >>> copy
        Sequential(
          (0): Linear(in_features=3, out_features=4, bias=True)
          (1): ReLU()
        )
    """
    if not isinstance(spec, Mapping) or "class" not in spec:
        raise ValueError(f"module spec must be a mapping with a 'class' key, got {spec!r}")
    return module_class(spec["class"]).from_config(spec.get("config", {}))


class Parameter(Tensor):
    """A tensor that is a learnable parameter of a Module (it always requires grad).

    Example:
        >>> import chainrule as cr
        >>> p = cr.nn.Parameter([1.0, 2.0])
        >>> p.requires_grad
        True
    """

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True):
        super().__init__(data, requires_grad=requires_grad)
        if self._data.dtype.kind != "f":
            raise TypeError(f"Parameter: data must be floating point, got dtype {self._data.dtype}")

    def __repr__(self) -> str:
        return "Parameter(" + super().__repr__()[len("tensor(") :]


def _changed(module: Any, name: str) -> None:
    """A module's attribute ``name`` is set or deleted: a compiled plan that relies on the module
    may have assumed its value (a module no plan uses, such as one being built, changes nothing)."""
    if module in _writes.planned:
        _writes.structure += 1
    if _mode.recorder is not None:
        _mode.recorder.changed(module, f"{type(module).__name__}.{name}")


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict(..., strict=False)`` did not load: keys the module has that the state
    lacked, and keys the state had that the module lacks (PyTorch's ``_IncompatibleKeys``).

    Example:
        >>> from chainrule.nn.module import IncompatibleKeys
        >>> missing, unexpected = IncompatibleKeys(["bias"], [])
        >>> missing
        ['bias']
    """

    missing_keys: list[str]
    unexpected_keys: list[str]


# A module's hook tables, as PyTorch keeps them: id -> the hook in the first of each pair, the
# options of hooks registered with them in the others (id -> True)
_HOOK_TABLES = (
    "_forward_hooks",
    "_forward_hooks_with_kwargs",
    "_forward_hooks_always_called",
    "_forward_pre_hooks",
    "_forward_pre_hooks_with_kwargs",
    "_backward_hooks",
    "_backward_pre_hooks",
)


def _add_module_hook(hooks: dict, hook: Callable, prepend: bool, options: tuple[dict, ...]) -> HookHandle:
    """Register ``hook`` in a module's table ``hooks``, last (or first, with ``prepend``), and its id
    in each table of ``options`` (the options it was registered with)."""
    handle = HookHandle(hooks, extra=options)
    if prepend:
        rest = list(hooks.items())
        hooks.clear()
        hooks[handle.id] = hook
        hooks.update(rest)
    else:
        hooks[handle.id] = hook
    for table in options:
        table[handle.id] = True
    return handle


class Module:
    """Base class of every layer and model.

    Subclasses call ``super().__init__()``, assign Parameters, sub-Modules and buffers as
    attributes, and define ``forward``. Calling the module calls ``forward``.

    Example:
        >>> import chainrule as cr
        >>> class TwoLayer(cr.nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.hidden = cr.nn.Linear(4, 3)
        ...         self.out = cr.nn.Linear(3, 1)
        ...     def forward(self, x):
        ...         return self.out(cr.relu(self.hidden(x)))
        >>> [name for name, _ in TwoLayer().named_parameters()]
        ['hidden.weight', 'hidden.bias', 'out.weight', 'out.bias']
    """

    training: bool

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _MODULE_CLASSES[cls.__name__] = cls

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        for table in _HOOK_TABLES:
            object.__setattr__(self, table, {})
        object.__setattr__(self, "training", True)

    def __setstate__(self, state: dict) -> None:
        # (a module pickled before some hook tables existed gets them empty)
        self.__dict__.update(state)
        for table in _HOOK_TABLES:
            self.__dict__.setdefault(table, {})

    # ---------------------------------------------------------------- registration
    def _check_initialized(self) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"{type(self).__name__}: call super().__init__() in its __init__ before assigning "
                "attributes or calling the module"
            )

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails: name the usual cause when the registries are missing.
        if name in ("_parameters", "_buffers", "_non_persistent", "_modules", *_HOOK_TABLES, "training"):
            self._check_initialized()
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        self._check_initialized()
        _changed(self, name)
        if isinstance(value, Parameter):
            self._modules.pop(name, None)
            self._buffers.pop(name, None)
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._parameters.pop(name, None)
            self._buffers.pop(name, None)
            self._modules[name] = value
        elif name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"{type(self).__name__}: buffer {name!r} must be a Tensor, got {type(value).__name__}")
            self._buffers[name] = value
        else:
            self._parameters.pop(name, None)
            self._modules.pop(name, None)
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        _changed(self, name)
        for registry in (self._parameters, self._buffers, self._modules):
            registry.pop(name, None)
        object.__delattr__(self, name)

    def register_buffer(self, name: str, tensor: Tensor | np.ndarray | None, persistent: bool = True) -> None:
        """Keep a tensor that is state but not a parameter (e.g. running statistics).

        Persistent buffers are part of ``state_dict``.
        """
        if tensor is not None and not isinstance(tensor, Tensor):
            tensor = Tensor(np.asarray(tensor))
        _changed(self, name)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)
        object.__setattr__(self, name, tensor)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter under ``name`` (``None`` removes it)."""
        if param is None:
            _changed(self, name)
            self._parameters.pop(name, None)
            object.__setattr__(self, name, None)
        else:
            setattr(self, name, param)

    def add_module(self, name: str, module: Module) -> None:
        """Add a sub-module under ``name``."""
        if not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be a Module, got {type(module).__name__}")
        setattr(self, name, module)

    # ---------------------------------------------------------------- traversal
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and every module inside it, with dotted names (each once)."""
        seen: set[int] = set()
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{n}" if name else n, m) for n, m in module._modules.items() if m is not None]
            stack.extend(reversed(children))

    def get_submodule(self, target: str) -> Module:
        """The module at the dotted path ``target`` (``"encoder.0"``; ``""`` is this module), as
        PyTorch's; an AttributeError names the part of the path that is missing.

        Example:
            >>> import chainrule as cr
            >>> model = cr.nn.Sequential(cr.nn.Linear(2, 3), cr.nn.ReLU())
            >>> model.get_submodule("0")
            Linear(in_features=2, out_features=3, bias=True)
        """
        module: Module = self
        walked = ""
        for part in target.split(".") if target else []:
            child = module._modules.get(part)
            if child is None:
                raise AttributeError(
                    f"get_submodule({target!r}): {type(module).__name__}{' ' + walked if walked else ''} has no "
                    f"submodule {part!r} (it has {list(module._modules) or 'none'})"
                )
            module, walked = child, f"{walked}.{part}" if walked else part
        return module

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        yield from ((n, m) for n, m in self._modules.items() if m is not None)

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        """Every parameter with its dotted name; a parameter shared by two modules comes once."""
        seen: set[int] = set()
        modules = self.named_modules(prefix) if recurse else iter([(prefix, self)])
        for module_name, module in modules:
            for name, p in module._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{module_name}.{name}" if module_name else name), p

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        for module_name, module in self.named_modules(prefix):
            for name, b in module._buffers.items():
                if b is not None:
                    yield (f"{module_name}.{name}" if module_name else name), b

    def buffers(self) -> Iterator[Tensor]:
        for _, b in self.named_buffers():
            yield b

    def apply(self, fn: Callable[[Module], None]) -> Module:
        """Call ``fn`` on every module inside, then on this one; returns self."""
        for m in reversed(list(self.modules())):
            fn(m)
        return self

    # ---------------------------------------------------------------- modes and gradients
    def train(self, mode: bool = True) -> Module:
        """Put this module and all inside it in training mode (dropout on, batch statistics)."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> Module:
        """Evaluation mode: dropout off, running statistics used."""
        return self.train(False)

    @replayed
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's gradient (``p.grad = None``), as PyTorch's default;
        ``set_to_none=False`` writes zeros into each ``.grad`` instead."""
        zero_grads(self.parameters(), set_to_none)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Freeze (False) or unfreeze every parameter."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """PyTorch's ``to``: ``model.to(device)``, ``model.to(dtype)``, ``model.to(device, dtype)``.

        The only device is the CPU (another is an error naming it). A floating dtype converts the
        parameters (and their gradients) and the floating buffers in place; returns self.

        Example:
            >>> import chainrule as cr
            >>> model = cr.nn.Linear(2, 1).to("cpu")
            >>> model.to(cr.float64).weight.dtype, model.float().weight.dtype
            (dtype('float64'), dtype('float32'))
        """
        dtype = _to_arguments(args, kwargs, "to")
        if dtype is None:
            return self
        if dtype.kind != "f":
            raise TypeError(f"to: parameters must stay floating point, got dtype {dtype}")
        changed = []
        for p in self.parameters():
            if p._data.dtype != dtype:
                p._data = p._data.astype(dtype)
                if p.grad is not None:
                    p.grad = Tensor._make(p.grad._data.astype(dtype))
                changed.append(p)
        for b in self.buffers():
            if b._data.dtype.kind == "f" and b._data.dtype != dtype:
                b._data = b._data.astype(dtype)
                changed.append(b)
        mark_modified(changed, "Module.to")  # a graph built before the conversion is stale
        return self

    def double(self) -> Module:
        """Parameters and floating buffers to float64, in place; returns self."""
        return self.to(np.float64)

    def float(self) -> Module:
        """Parameters and floating buffers to float32, in place; returns self."""
        return self.to(np.float32)

    def half(self) -> Module:
        """Parameters and floating buffers to float16, in place; returns self."""
        return self.to(np.float16)

    def cpu(self) -> Module:
        """Self: the module is on the CPU already."""
        return self

    def cuda(self, *args: Any, **kwargs: Any) -> Module:
        """Raises: there is no CUDA device; chainrule computes on the CPU."""
        raise RuntimeError("cuda: there is no CUDA device; chainrule computes with NumPy on the CPU (use .to(device))")

    def num_parameters(self, trainable_only: bool = False) -> int:
        """How many numbers the parameters hold."""
        return sum(p.size for p in self.parameters() if p.requires_grad or not trainable_only)

    # ---------------------------------------------------------------- state
    def state_dict(self, keep_vars: bool = False) -> OrderedDict[str, Any]:
        """Parameters and persistent buffers by dotted name: copies of their arrays, or with
        ``keep_vars=True`` (PyTorch's name) the tensors themselves, uncopied.

        Example:
            >>> import chainrule as cr
            >>> layer = cr.nn.Linear(2, 1)
            >>> list(layer.state_dict()), layer.state_dict(keep_vars=True)["weight"] is layer.weight
            (['weight', 'bias'], True)
        """
        state: OrderedDict[str, Any] = OrderedDict()
        for name, p in self.named_parameters():
            state[name] = p if keep_vars else p._data.copy()
        for module_name, module in self.named_modules():
            for name, b in module._buffers.items():
                if b is not None and name not in module._non_persistent:
                    state[f"{module_name}.{name}" if module_name else name] = b if keep_vars else b._data.copy()
        return state

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy values into parameters and buffers in place.

        Every missing, unexpected and mis-shaped key is reported at once, and nothing is changed
        when there is an error. With ``strict=False`` missing and unexpected keys are allowed, and
        returned as PyTorch returns them: ``(missing_keys, unexpected_keys)``, a named pair.
        Mis-shaped keys never are allowed.

        Example:
            >>> import chainrule as cr
            >>> layer = cr.nn.Linear(2, 1)
            >>> result = layer.load_state_dict({"weight": cr.zeros(1, 2), "scale": 1.0}, strict=False)
            >>> result.missing_keys, result.unexpected_keys
            (['bias'], ['scale'])
        """
        targets: dict[str, Tensor] = dict(self.named_parameters())
        for module_name, module in self.named_modules():
            for name, b in module._buffers.items():
                if b is not None and name not in module._non_persistent:
                    targets[f"{module_name}.{name}" if module_name else name] = b
        missing = [k for k in targets if k not in state_dict]
        unexpected = [k for k in state_dict if k not in targets]
        values = {k: np.asarray(v._data if isinstance(v, Tensor) else v) for k, v in state_dict.items() if k in targets}
        mismatched = [
            f"{k}: expected {targets[k].shape}, got {v.shape}" for k, v in values.items() if v.shape != targets[k].shape
        ]
        problems = []
        if mismatched:
            problems.append("mis-shaped: " + "; ".join(mismatched))
        if strict and missing:
            problems.append("missing: " + ", ".join(missing))
        if strict and unexpected:
            problems.append("unexpected: " + ", ".join(unexpected))
        if problems:
            raise KeyError(f"load_state_dict into {type(self).__name__}: " + " | ".join(problems))
        converted = {}
        for k, v in values.items():  # convert every value before writing any
            if targets[k]._data.dtype.kind == "f" and v.dtype.kind not in "f":
                raise TypeError(
                    f"load_state_dict into {type(self).__name__}: {k} is a floating {targets[k].dtype} tensor, but "
                    f"the value given is {v.dtype}: a state of another model, or a damaged one? (convert it "
                    "explicitly with .astype() if that is what you mean)"
                )
            try:
                converted[k] = v.astype(targets[k]._data.dtype, copy=False)
            except (TypeError, ValueError) as e:
                raise TypeError(
                    f"load_state_dict into {type(self).__name__}: {k}: cannot convert {v.dtype} to "
                    f"{targets[k].dtype} ({e})"
                ) from None
        for k, v in converted.items():
            targets[k]._data[...] = v
        mark_modified([targets[k] for k in converted], "load_state_dict")
        return IncompatibleKeys(missing, unexpected)

    # ---------------------------------------------------------------- config (for save/load)
    def get_config(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this module (JSON-friendly).

        Layers override this; a custom module with no arguments needs nothing. A custom module
        with arguments overrides it to be saved with ``chainrule.save``.
        """
        return {}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Module:
        return cls(**config)

    # ---------------------------------------------------------------- calling
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no forward method")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self._check_initialized()
        if _mode.recorder is not None:  # a step being compiled: note the module (training-mode guard)
            _mode.recorder.called_module(self)
        # (_hooked() inline: this runs on every call)
        if self._forward_hooks or self._forward_pre_hooks or self._backward_hooks or self._backward_pre_hooks:
            return self._call_with_hooks(args, kwargs)
        return self.forward(*args, **kwargs)

    def _hooked(self, backward: bool = True) -> bool:
        """Whether hooks are registered: Python code that a compiled plan does not run. An ONNX
        file cannot hold forward hooks and pre-hooks; ``backward=False`` leaves out backward hooks,
        which do not change the forward."""
        if self._forward_hooks or self._forward_pre_hooks:
            return True
        return backward and bool(self._backward_hooks or self._backward_pre_hooks)

    def _run_forward_hook(self, hook_id: int, hook: Callable, args: tuple, kwargs: dict, result: Any) -> Any:
        """One forward hook, called with or without the keyword arguments as it was registered;
        what it returns, or ``result`` when that is None."""
        if hook_id in self._forward_hooks_with_kwargs:
            replaced = hook(self, args, kwargs, result)
        else:
            replaced = hook(self, args, result)
        return result if replaced is None else replaced

    def _call_with_hooks(self, args: tuple, kwargs: dict) -> Any:
        """``forward`` between its hooks, as PyTorch calls them: each pre-hook may replace the
        arguments, each hook the output; when a pre-hook, the forward or a hook raises, the hooks
        registered with ``always_call`` that have not run yet run (given the output so far, None
        if there is none) before the error goes on. With backward hooks, the arguments (after the
        pre-hooks) and the output (after the hooks) pass through the nodes that call them."""
        result = None
        ran: set[int] = set()  # the always_call hooks already run
        try:
            with_kwargs = self._forward_pre_hooks_with_kwargs
            for hook_id, hook in list(self._forward_pre_hooks.items()):
                if hook_id in with_kwargs:
                    replaced = hook(self, args, kwargs)
                    if replaced is not None:
                        if not (isinstance(replaced, tuple) and len(replaced) == 2):
                            raise RuntimeError(
                                f"{type(self).__name__}: a forward pre-hook registered with with_kwargs=True must "
                                f"return None or a tuple (new_args, new_kwargs), but {hook!r} returned {replaced!r}"
                            )
                        args, kwargs = replaced
                else:
                    replaced = hook(self, args)
                    if replaced is not None:
                        args = replaced if isinstance(replaced, tuple) else (replaced,)
            call = None
            if (self._backward_hooks or self._backward_pre_hooks) and _mode.enabled and _mode.recorder is None:
                # the hooks registered now are those this call runs (as in PyTorch)
                call = ModuleCall(
                    self, list(self._backward_hooks.values()), list(self._backward_pre_hooks.values()), args
                )
                args = call.wrap_inputs(args)
            result = self.forward(*args, **kwargs)
            for hook_id, hook in list(self._forward_hooks.items()):
                if hook_id in self._forward_hooks_always_called:
                    ran.add(hook_id)
                result = self._run_forward_hook(hook_id, hook, args, kwargs, result)
            return result if call is None else call.wrap_outputs(result)
        except Exception:
            for hook_id, hook in list(self._forward_hooks.items()):
                if hook_id not in self._forward_hooks_always_called or hook_id in ran:
                    continue
                try:
                    result = self._run_forward_hook(hook_id, hook, args, kwargs, result)
                except Exception as error:  # (the first error is the one to see)
                    warnings.warn(
                        f"{type(self).__name__}: a forward hook with always_call=True raised {error!r} while "
                        "another error was on its way; that error follows",
                        stacklevel=3,
                    )
            raise

    def register_forward_hook(
        self,
        hook: Callable[..., Any],
        *,
        prepend: bool = False,
        with_kwargs: bool = False,
        always_call: bool = False,
    ) -> HookHandle:
        """Call ``hook(module, args, output)`` after every forward, as PyTorch does: a hook that
        returns something other than None replaces the output (the next hook and the caller get
        it). ``with_kwargs=True``: ``hook(module, args, kwargs, output)``. ``prepend=True``: before
        the hooks already registered. ``always_call=True``: also when the forward raises (with
        output None). ``.remove()`` the returned handle (or leave its ``with`` block) to stop.

        A model with hooks trains eagerly under ``cr.compile`` (a plan would not run them), and
        ``cr.onnx.export`` refuses it.

        Example:
            >>> import chainrule as cr
            >>> layer = cr.nn.ReLU()
            >>> seen = []
            >>> handle = layer.register_forward_hook(lambda m, args, out: seen.append(out.tolist()))
            >>> _ = layer(cr.tensor([-1.0, 2.0]))
            >>> with layer.register_forward_hook(lambda m, args, out: out * 10):  # replaces the output
            ...     layer(cr.tensor([-1.0, 2.0]))
            tensor([ 0., 20.])
            >>> handle.remove()
            >>> seen
            [[0.0, 2.0], [0.0, 2.0]]
        """
        self._check_initialized()
        if not callable(hook):
            raise TypeError(f"register_forward_hook: hook must be callable, got {hook!r}")
        options = (self._forward_hooks_with_kwargs,) * bool(with_kwargs)
        options += (self._forward_hooks_always_called,) * bool(always_call)
        return _add_module_hook(self._forward_hooks, hook, prepend, options)

    def register_forward_pre_hook(
        self, hook: Callable[..., Any], *, prepend: bool = False, with_kwargs: bool = False
    ) -> HookHandle:
        """Call ``hook(module, args)`` before every forward, as PyTorch does: a hook that returns
        something other than None replaces the positional arguments (a value that is not a tuple
        becomes the one argument). ``with_kwargs=True``: ``hook(module, args, kwargs)``, which
        returns None or ``(new_args, new_kwargs)``. ``prepend=True``: before the pre-hooks already
        registered. ``.remove()`` the returned handle (or leave its ``with`` block) to stop.

        Example:
            >>> import chainrule as cr
            >>> layer = cr.nn.Linear(2, 1, bias=False)
            >>> _ = layer.weight.data.fill_(1.0)
            >>> with layer.register_forward_pre_hook(lambda m, args: args[0] * 2):  # doubles the input
            ...     layer(cr.tensor([[1.0, 2.0]]))
            tensor([[6.]], grad_fn=<LinearBackward0>)
        """
        self._check_initialized()
        if not callable(hook):
            raise TypeError(f"register_forward_pre_hook: hook must be callable, got {hook!r}")
        options = (self._forward_pre_hooks_with_kwargs,) * bool(with_kwargs)
        return _add_module_hook(self._forward_pre_hooks, hook, prepend, options)

    def register_full_backward_hook(self, hook: Callable[..., Any], prepend: bool = False) -> HookHandle:
        """Call ``hook(module, grad_input, grad_output)`` in each backward through a call of this
        module, as PyTorch does, once the gradients of the call's inputs are known.

        ``grad_output`` holds the gradients of the outputs (the output must be a Tensor or a tuple;
        None for an output that got none), ``grad_input`` those of the positional arguments through
        this call (None for one that is not a tensor, zeros for a tensor with no gradient; keyword
        arguments are left out). A hook that returns a tuple of as many (None or a Tensor of the same
        shape and dtype) replaces ``grad_input``: the gradients that flow on to the inputs. When no
        argument requires grad, the hook runs with ``grad_input`` all None, when the outputs'
        gradients are known. The hooks registered when the module is called are those that run; a
        tensor that goes in or comes out may not be changed in place while they are registered.
        ``prepend=True``: before the hooks already registered. ``.remove()`` the returned handle (or
        leave its ``with`` block) to stop. A model with hooks trains eagerly under ``cr.compile``.

        Example:
            >>> import chainrule as cr
            >>> layer = cr.nn.Linear(2, 1, bias=False)
            >>> _ = layer.weight.data.fill_(3.0)
            >>> x = cr.tensor([[1.0, 2.0]], requires_grad=True)
            >>> seen = []
            >>> def hook(module, grad_input, grad_output):
            ...     seen.append((grad_input[0].tolist(), grad_output[0].tolist()))
            ...     return (grad_input[0] * 0.5,)  # halves the gradient that reaches x
            >>> with layer.register_full_backward_hook(hook):
            ...     layer(x).sum().backward()
            >>> seen, x.grad
            ([([[3.0, 3.0]], [[1.0]])], tensor([[1.5, 1.5]]))
        """
        self._check_initialized()
        if not callable(hook):
            raise TypeError(f"register_full_backward_hook: hook must be callable, got {hook!r}")
        return _add_module_hook(self._backward_hooks, hook, prepend, ())

    def register_full_backward_pre_hook(self, hook: Callable[..., Any], prepend: bool = False) -> HookHandle:
        """Call ``hook(module, grad_output)`` in each backward through a call of this module, as
        PyTorch does, once the gradients of the call's outputs are known, before the module's own
        backward. ``grad_output`` is a tuple, one gradient per output (None for one that got none);
        a hook that returns a tuple of as many (None or a Tensor of the same shape and dtype)
        replaces it, for the module's backward and the hooks after it. ``prepend`` and the handle as
        in :meth:`register_full_backward_hook`.

        Example:
            >>> import chainrule as cr
            >>> layer = cr.nn.Linear(2, 1, bias=False)
            >>> with layer.register_full_backward_pre_hook(lambda module, grad_output: (grad_output[0] * 10,)):
            ...     layer(cr.tensor([[1.0, 2.0]])).sum().backward()
            >>> layer.weight.grad
            tensor([[10., 20.]])
        """
        self._check_initialized()
        if not callable(hook):
            raise TypeError(f"register_full_backward_pre_hook: hook must be callable, got {hook!r}")
        return _add_module_hook(self._backward_pre_hooks, hook, prepend, ())

    def register_backward_hook(self, hook: Callable[..., Any]) -> NoReturn:
        """Not supported: PyTorch deprecates it (its ``grad_input`` is that of the module's last
        operation only, not of the module's inputs); use :meth:`register_full_backward_hook`, whose
        hook takes the same arguments."""
        raise NotImplementedError(
            f"{type(self).__name__}.register_backward_hook: PyTorch deprecates it, since its grad_input is the "
            "gradient of the module's last operation only; write register_full_backward_hook(hook) (the same "
            "hook(module, grad_input, grad_output)), which gives the gradients of the module's inputs"
        )

    # ---------------------------------------------------------------- repr
    def extra_repr(self) -> str:
        """The arguments shown inside this module's repr."""
        return ""

    def __repr__(self) -> str:
        # PyTorch's layout: extra_repr inline when there are no children, else one line per item.
        extra = self.extra_repr()
        if not self._modules and "\n" not in extra:
            return f"{type(self).__name__}({extra})"
        lines = extra.split("\n") if extra else []
        for name, module in self._modules.items():
            lines.append(f"({name}): " + repr(module).replace("\n", "\n  "))
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"


class _ChildPath:
    """Kept on an error re-raised by a container: the path to the failing layer, its own message,
    the original error and the container that named it (so that an outer container extends the path)."""

    __slots__ = ("path", "message", "origin", "container")

    def __init__(self, path: str, message: str, origin: BaseException, container: Module):
        self.path, self.message, self.origin, self.container = path, message, origin, container


def _raise_naming_child(container: Module, child: str, module: Module, error: Exception) -> NoReturn:
    """Raise ``error`` again, of the same type, its message led by the path to the failing layer.

    ``child`` is how ``container`` reaches ``module`` (``[2]``, or ``.encoder`` for a named layer).
    The message becomes ``Sequential[2] (Linear): <the layer's message>``; an error that an inner
    container already named gets the outer one in front (``Sequential[1].Sequential[0] (Linear): ...``,
    or ``Sequential[1] (Block).Sequential[0] (Linear): ...`` through a module of the user's). The
    original error is the new one's ``__cause__``. An error type that cannot be made from a
    message is raised unchanged, with the path as a note.
    """
    here = type(container).__name__ + child
    inner = getattr(error, "_chainrule_child_path", None)
    if isinstance(inner, _ChildPath):
        between = "." if inner.container is module else f" ({type(module).__name__})."
        path, message, origin = here + between + inner.path, inner.message, inner.origin
    else:
        path, origin = f"{here} ({type(module).__name__})", error
        only = error.args[0] if len(error.args) == 1 else None
        message = only if isinstance(only, str) else str(error)
    try:
        renamed = type(origin)(f"{path}: {message}")
        renamed.__dict__.update(origin.__dict__)
        renamed._chainrule_child_path = _ChildPath(path, message, origin, container)
    except Exception:  # a type with constructor arguments of its own: say where, change nothing else
        renamed = None
    if renamed is None:
        error.add_note(f"raised by {path}")
        raise error
    raise renamed from origin


class Sequential(Module):
    """Modules applied one after another, given as arguments or as a dict of named layers.

    Example:
        >>> import chainrule as cr
        >>> model = cr.nn.Sequential(cr.nn.Linear(4, 3), cr.nn.ReLU(), cr.nn.Linear(3, 1))
        >>> model(cr.zeros(2, 4)).shape
        (2, 1)
        >>> model[0]
        Linear(in_features=4, out_features=3, bias=True)
    """

    def __init__(self, *layers: Module | Mapping[str, Module]):
        super().__init__()
        if len(layers) == 1 and isinstance(layers[0], Mapping):
            items = list(layers[0].items())
        else:
            items = [(str(i), m) for i, m in enumerate(layers)]
        for name, module in items:
            if not isinstance(module, Module):
                raise TypeError(f"Sequential: layer {name!r} must be a Module, got {type(module).__name__}")
            self.add_module(name, module)

    def forward(self, x: Any) -> Any:
        position = 0
        try:  # costs nothing (Python 3.11) until a layer raises
            for module in self._modules.values():
                x = module(x)
                position += 1
        except Exception as error:
            name = list(self._modules)[position]  # a named layer by its attribute, others by index
            _raise_naming_child(self, f".{name}" if name.isidentifier() else f"[{position}]", module, error)
        return x

    def get_config(self) -> dict[str, Any]:
        return {"layers": [{"name": n, **module_to_spec(m)} for n, m in self._modules.items()]}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Sequential:
        return cls(OrderedDict((spec["name"], module_from_spec(spec)) for spec in config["layers"]))

    def __getitem__(self, index: int | slice) -> Module:
        items = list(self._modules.items())
        if isinstance(index, slice):
            return Sequential(OrderedDict(items[index]))
        return items[index][1]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self._modules)), module)
        return self


class ModuleList(Module):
    """A list of modules whose parameters are registered.

    Example:
        >>> import chainrule as cr
        >>> layers = cr.nn.ModuleList([cr.nn.Linear(2, 2) for _ in range(3)])
        >>> len(list(layers.parameters()))
        6
    """

    def __init__(self, modules: Iterable[Module] = ()):
        super().__init__()
        for m in modules:
            self.append(m)

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self._modules)), module)
        return self

    def get_config(self) -> dict[str, Any]:
        return {"modules": [module_to_spec(m) for m in self._modules.values()]}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ModuleList:
        return cls(module_from_spec(spec) for spec in config["modules"])

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for m in modules:
            self.append(m)
        return self

    def __getitem__(self, index: int | slice) -> Module | ModuleList:
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(modules[index])
        return modules[index]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())


class ModuleDict(Module):
    """A dict of modules whose parameters are registered.

    Example:
        >>> from chainrule import nn
        >>> heads = nn.ModuleDict({'digit': nn.Linear(8, 10), 'parity': nn.Linear(8, 2)})
        >>> sorted(heads.keys()), len(list(heads.parameters()))
        (['digit', 'parity'], 4)
    """

    def __init__(self, modules: Mapping[str, Module] | None = None):
        super().__init__()
        for name, m in (modules or {}).items():
            self.add_module(name, m)

    def get_config(self) -> dict[str, Any]:
        return {"modules": {n: module_to_spec(m) for n, m in self._modules.items()}}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ModuleDict:
        return cls({n: module_from_spec(spec) for n, spec in config["modules"].items()})

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def keys(self) -> Iterable[str]:
        return self._modules.keys()

    def values(self) -> Iterable[Module]:
        return self._modules.values()

    def items(self) -> Iterable[tuple[str, Module]]:
        return self._modules.items()


def _as_parameter(owner: str, value: Any) -> Any:
    """A Tensor or array as a Parameter (PyTorch's containers wrap plain tensors); a Parameter as it is."""
    if isinstance(value, Parameter):
        return value
    if isinstance(value, Tensor):
        return Parameter(value._data, requires_grad=True)
    if isinstance(value, np.ndarray):
        return Parameter(value)
    raise TypeError(f"{owner}: expected a Parameter or a Tensor, got {type(value).__name__}")


def _parameter_line(key: str, p: Parameter) -> str:
    size = "x".join(str(n) for n in p.shape)
    return f"  ({key}): Parameter containing: [{p.dtype} of size {size}]"


def _parameter_config(p: Parameter) -> dict[str, Any]:
    return {"shape": list(p.shape), "dtype": str(p.dtype), "requires_grad": p.requires_grad}


def _parameter_from_config(spec: Mapping[str, Any]) -> Parameter:
    """A zero Parameter of the shape and dtype saved (``load_state_dict`` fills in the values)."""
    return Parameter(np.zeros(spec["shape"], dtype=spec["dtype"]), requires_grad=spec["requires_grad"])


class ParameterList(Module):
    """A list of Parameters, registered like a module's attributes (PyTorch's ``nn.ParameterList``):
    ``parameters()``, ``named_parameters()`` (as ``'0'``, ``'1'``, ...), ``state_dict``, the
    optimisers and ``chainrule.save`` find them. A plain Tensor put in becomes a Parameter.

    Example:
        >>> import chainrule as cr
        >>> params = cr.nn.ParameterList([cr.nn.Parameter(cr.ones(2)) for _ in range(2)])
        >>> params.append(cr.zeros(3))
        ParameterList(
            (0): Parameter containing: [float32 of size 2]
            (1): Parameter containing: [float32 of size 2]
            (2): Parameter containing: [float32 of size 3]
        )
        >>> [name for name, _ in params.named_parameters()]
        ['0', '1', '2']
    """

    def __init__(self, values: Iterable[Any] | None = None):
        super().__init__()
        object.__setattr__(self, "_size", 0)
        if values is not None:
            self.extend(values)

    def _index(self, index: Any) -> str:
        if isinstance(index, bool) or not isinstance(index, numbers.Integral):
            raise TypeError(f"ParameterList: indices must be integers or slices, got {type(index).__name__}")
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"ParameterList: index {index} is out of range for a list of {n}")
        return str(index % n)

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return ParameterList([self[i] for i in range(len(self))[index]])
        return getattr(self, self._index(index))

    def __setitem__(self, index: int, value: Any) -> None:
        setattr(self, self._index(index), _as_parameter("ParameterList", value))

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[Any]:
        return (self[i] for i in range(len(self)))

    def __iadd__(self, values: Iterable[Any]) -> ParameterList:
        return self.extend(values)

    def append(self, value: Any) -> ParameterList:
        """Add ``value`` (a Parameter, or a Tensor made one) at the end; returns self."""
        p = _as_parameter("ParameterList", value)
        object.__setattr__(self, "_size", self._size + 1)
        setattr(self, str(self._size - 1), p)
        return self

    def extend(self, values: Iterable[Any]) -> ParameterList:
        """Append each of ``values``; returns self."""
        if isinstance(values, (Tensor, np.ndarray)) or not isinstance(values, Iterable):
            raise TypeError(f"ParameterList.extend: expects an iterable of Parameters, got {type(values).__name__}")
        for value in values:
            self.append(value)
        return self

    def extra_repr(self) -> str:
        return "\n".join(_parameter_line(str(k), p) for k, p in enumerate(self))

    def get_config(self) -> dict[str, Any]:
        return {"values": [_parameter_config(p) for p in self]}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ParameterList:
        return cls(_parameter_from_config(spec) for spec in config["values"])


class ParameterDict(Module):
    """A dict of Parameters, registered like a module's attributes (PyTorch's ``nn.ParameterDict``):
    ``parameters()``, ``named_parameters()`` (by key), ``state_dict``, the optimisers and
    ``chainrule.save`` find them. Keys keep their insertion order; a plain Tensor becomes a Parameter.

    Example:
        >>> import chainrule as cr
        >>> params = cr.nn.ParameterDict({"scale": cr.nn.Parameter(cr.ones(3))})
        >>> params["shift"] = cr.zeros(3)
        >>> list(params.state_dict()), "shift" in params
        (['scale', 'shift'], True)
    """

    def __init__(self, parameters: Any = None):
        super().__init__()
        object.__setattr__(self, "_keys", {})
        if parameters is not None:
            self.update(parameters)

    def _key(self, key: Any) -> str:
        if not isinstance(key, str):
            raise TypeError(f"ParameterDict: keys must be strings, got {type(key).__name__}")
        if not key or "." in key:
            raise KeyError(f'ParameterDict: a key can be neither empty nor contain ".", got {key!r}')
        if key not in self._keys and (hasattr(type(self), key) or key in self.__dict__):
            raise KeyError(f"ParameterDict: {key!r} is an attribute of the dict itself; choose another key")
        return key

    def __getitem__(self, key: str) -> Any:
        if key not in self._keys:
            raise KeyError(key)
        return getattr(self, key)

    def __setitem__(self, key: str, value: Any) -> None:
        key, p = self._key(key), _as_parameter("ParameterDict", value)
        self._keys[key] = None
        setattr(self, key, p)

    def __delitem__(self, key: str) -> None:
        if key not in self._keys:
            raise KeyError(key)
        del self._keys[key]
        delattr(self, key)

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._keys))

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def keys(self) -> Iterable[str]:
        """The keys, in insertion order."""
        return list(self._keys)

    def values(self) -> Iterable[Any]:
        """The Parameters, in insertion order."""
        return [self[k] for k in self._keys]

    def items(self) -> Iterable[tuple[str, Any]]:
        """(key, Parameter) pairs, in insertion order."""
        return [(k, self[k]) for k in self._keys]

    def get(self, key: str, default: Any = None) -> Any:
        """The Parameter under ``key``, else ``default``."""
        return self[key] if key in self._keys else default

    def pop(self, key: str) -> Any:
        """Remove ``key`` and return its Parameter."""
        value = self[key]
        del self[key]
        return value

    def clear(self) -> None:
        """Remove every Parameter."""
        for key in list(self._keys):
            del self[key]

    def update(self, parameters: Any) -> None:
        """Add or replace from a mapping or from (key, Parameter) pairs (a plain dict keeps its order)."""
        if isinstance(parameters, (Mapping, ParameterDict)):
            pairs = list(parameters.items())
        elif isinstance(parameters, Iterable) and not isinstance(parameters, (str, Tensor, np.ndarray)):
            pairs = []
            for j, pair in enumerate(parameters):
                if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                    raise ValueError(f"ParameterDict.update: element #{j} should be a (key, Parameter) pair")
                pairs.append(tuple(pair))
        else:
            raise TypeError(
                f"ParameterDict.update: expects a mapping or (key, Parameter) pairs, got {type(parameters).__name__}"
            )
        for key, value in pairs:
            self[key] = value

    def extra_repr(self) -> str:
        return "\n".join(_parameter_line(k, p) for k, p in self.items())

    def get_config(self) -> dict[str, Any]:
        return {"parameters": {k: _parameter_config(p) for k, p in self.items()}}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ParameterDict:
        return cls({k: _parameter_from_config(spec) for k, spec in config["parameters"].items()})


@contextlib.contextmanager
def _evaluating(roots: Iterable[Module]) -> Iterator[None]:
    """Every module under ``roots`` in eval mode for the block, and afterwards each one's own mode
    put back (a model whose parts were in different modes gets them back as they were)."""
    roots = list(roots)
    modes = [(m, m.training) for root in roots for m in root.modules()]
    for root in roots:
        root.eval()
    try:
        yield
    finally:
        for m, mode in modes:
            m.training = mode
