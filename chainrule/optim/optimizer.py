"""Optimizer: the base every optimiser shares — parameter groups, per-parameter state, one step loop.

An optimiser holds the parameters in *param groups*: dicts with a ``"params"`` list and that group's
hyper-parameters (``"lr"``, ``"momentum"``, ...), so that parts of a model can learn at different
rates and schedules (``chainrule.optim.lr_scheduler``) can change ``group["lr"]`` between steps.

``step()`` walks every parameter that has a gradient and hands its arrays to the subclass's
``_update``, the one small core each optimiser defines. Updates are in place and allocate nothing
after the first step: the parameter's array (``p.numpy()``) keeps its identity, state arrays are made
once, and temporaries live in scratch buffers shared by all parameters of one dtype. Gradients are
only read, never written (a gradient array may be shared with other code).

State-dict format
-----------------
``state_dict()`` returns (PyTorch's layout, with NumPy arrays)::

    {
        "state": {                       # only parameters that have state yet
            0: {"step": array(5), "exp_avg": ndarray, "exp_avg_sq": ndarray},
            2: {...},
        },
        "param_groups": [                # one dict per group, in order
            {"lr": 0.001, "betas": (0.9, 0.999), ..., "params": [0, 1]},
            {"lr": 0.01, ..., "params": [2]},
        ],
    }

Parameters are numbered by their position over all groups in order (0, 1, ... across groups).
Every state value is a NumPy array (copied): per-element state has the parameter's shape and dtype,
step counters are 0-d ``int64`` arrays. Hyper-parameters are plain Python values (numbers, bools,
tuples), so ``param_groups`` goes to JSON and each array to a safetensors entry named
``state.<index>.<name>``. ``load_state_dict`` accepts the same structure back, also with string
keys (``"0"``) and lists for tuples, as a JSON round trip gives them.
"""

from __future__ import annotations

import math
import numbers
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from chainrule.autograd import enable_grad, mark_modified, zero_grads
from chainrule.compiler.recorder import replayed
from chainrule.tensor import Tensor

ParamsLike = Iterable[Tensor] | Iterable[Mapping[str, Any]]
State = dict[str, Any]  # one parameter's state (step count, moment buffers, ...)
Group = Mapping[str, Any]  # a param group's hyper-parameters
Work = tuple[np.ndarray, ...]  # scratch arrays of one parameter's shape
"""What optimisers accept: parameters (e.g. ``model.parameters()``) or a list of param-group dicts."""


def check_loop_flag(owner: str, name: str, value: Any) -> None:
    """PyTorch's ``foreach``/``fused``: None, True or False (how loops run; nothing changes here)."""
    if value is not None and not isinstance(value, bool):
        raise TypeError(f"{owner}: {name} must be None, True or False, got {value!r}")


class Optimizer:
    """Base class of the optimisers: param groups, per-parameter state, ``step`` and saving.

    Args:
        params: an iterable of Parameters, or a list of dicts each with a ``"params"`` entry and
            any hyper-parameters that override ``defaults`` for that group.
        defaults: the hyper-parameters of every group that does not set its own.

    Subclasses call ``super().__init__(params, defaults)``, check hyper-parameters in
    ``_validate`` and update one parameter in ``_update``.

    Example:
        >>> import chainrule as cr
        >>> w = cr.nn.Parameter([1.0, 2.0])
        >>> b = cr.nn.Parameter([0.0])
        >>> opt = cr.optim.SGD([{"params": [w]}, {"params": [b], "lr": 0.01}], lr=0.1)
        >>> [group["lr"] for group in opt.param_groups]
        [0.1, 0.01]
    """

    _num_work: int = 1
    """How many scratch arrays of a parameter's shape ``_update`` needs."""

    _required_state: tuple[str, ...] = ()
    """State entries every parameter with state has (checked by ``load_state_dict``)."""

    _optional_state: tuple[str, ...] = ()
    """State entries that exist only with some options (e.g. ``momentum_buffer``)."""

    _scalar_state: tuple[str, ...] = ()
    """State entries that are one number per parameter (NAdam's ``mu_product``, ASGD's ``eta``),
    kept as Python floats and saved as 0-d float64 arrays (``step`` is a count, apart)."""

    def __init__(self, params: ParamsLike, defaults: Mapping[str, Any]):
        self.defaults: dict[str, Any] = dict(defaults)
        self._validate(self.defaults)
        self.param_groups: list[dict[str, Any]] = []
        # (a defaultdict, as PyTorch's: an optimiser of one's own writes self.state[p]["buf"] directly)
        self.state: dict[Tensor, dict[str, Any]] = defaultdict(dict)
        self._work: dict[Tensor, tuple[np.ndarray, ...]] = {}
        self._pools: dict[np.dtype, np.ndarray] = {}
        if isinstance(params, (Tensor, np.ndarray)):
            raise TypeError(
                f"{self._name}: params must be an iterable of Parameters or of param-group dicts, "
                f"got a single {type(params).__name__}; wrap it in a list"
            )
        items = list(params)
        if not items:
            raise ValueError(f"{self._name}: got an empty parameter list")
        groups = items if isinstance(items[0], Mapping) else [{"params": items}]
        for group in groups:
            self.add_param_group(group)

    @property
    def _name(self) -> str:
        return type(self).__name__

    def _implementation_flags(
        self,
        *,
        foreach: bool | None = None,
        fused: bool | None = None,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        """Check PyTorch's flags that choose how a step runs, not what it computes. ``foreach``,
        ``fused`` and ``capturable`` are accepted and change nothing (chainrule picks its own
        loops; there are no CUDA graphs); ``differentiable=True`` (autograd through the step) is
        refused, since the step updates the parameters in place outside the graph."""
        check_loop_flag(self._name, "foreach", foreach)
        check_loop_flag(self._name, "fused", fused)
        if not isinstance(capturable, bool):
            raise TypeError(f"{self._name}: capturable must be True or False, got {capturable!r}")
        if differentiable is not False:
            raise ValueError(
                f"{self._name}: differentiable={differentiable!r} is not supported: chainrule's step updates the "
                "parameters in place, outside the graph (for gradients through an update, write the update "
                "with tensor ops, e.g. w - lr * g with g from cr.grad(..., create_graph=True))"
            )

    # ---------------------------------------------------------------- groups and validation
    def add_param_group(self, param_group: Mapping[str, Any]) -> None:
        """Add a group of parameters with its own hyper-parameters (the rest from ``defaults``).

        Useful to train new layers while fine-tuning: ``opt.add_param_group({"params": head.parameters(), "lr": 0.1})``.
        """
        if not isinstance(param_group, Mapping) or "params" not in param_group:
            raise TypeError(f"{self._name}: a param group must be a dict with a 'params' entry, got {param_group!r}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(
                f"{self._name}: parameters must come in an ordered collection (a set's order changes "
                "between runs, which would scramble saved state); use a list"
            )
        params = list(params)
        index = len(self.param_groups)
        named = [isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str) for p in params]
        names = None
        if self.param_groups and ("param_names" in self.param_groups[0]) != (bool(params) and all(named)):
            raise TypeError(
                f"{self._name}: all param groups must hold named parameters (model.named_parameters()) or "
                "none, as PyTorch requires; param group 0 "
                + ("does" if "param_names" in self.param_groups[0] else "does not")
            )
        if any(named):  # model.named_parameters(), as PyTorch 2.13 takes it: the names are kept in the group
            if not all(named):
                raise TypeError(
                    f"{self._name}: param group {index} mixes (name, parameter) pairs and bare parameters; "
                    "give all of them named (model.named_parameters()) or none"
                )
            names = [name for name, _ in params]
            params = [p for _, p in params]
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"{self._name}: can only optimise Tensors, got {type(p).__name__} in param group {index}"
                )
            if not p.is_leaf:
                raise ValueError(
                    f"{self._name}: cannot optimise a tensor made by an operation (a non-leaf); use a Parameter"
                )
            if p._data.dtype.kind != "f":
                raise TypeError(f"{self._name}: parameters must be floating point, got dtype {p._data.dtype}")
        if len({id(p) for p in params}) != len(params):
            raise ValueError(f"{self._name}: param group {index} lists the same parameter more than once")
        taken = {id(p) for group in self.param_groups for p in group["params"]}
        if any(id(p) in taken for p in params):
            raise ValueError(f"{self._name}: some parameters appear in more than one param group")
        group = {k: v for k, v in param_group.items() if k != "params"}
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self._validate_group(group, index)
        if names is not None:
            group["param_names"] = names
        group["params"] = params
        self.param_groups.append(group)

    def _validate_group(self, group: Mapping[str, Any], index: int) -> None:
        try:
            self._validate(group)
        except ValueError as error:
            raise ValueError(f"{error} (param group {index})") from None

    def _validate(self, hp: Mapping[str, Any]) -> None:
        """Raise ValueError naming the optimiser and the value for a bad hyper-parameter."""

    def _check(self, ok: bool, what: str, value: Any, expected: str = "") -> None:
        """Raise ``"<Optimizer>: invalid <what>: <value>"`` unless ``ok``."""
        if not ok:
            hint = f" (expected {expected})" if expected else ""
            raise ValueError(f"{self._name}: invalid {what}: {value!r}{hint}")

    def _check_number(
        self,
        hp: Mapping[str, Any],
        key: str,
        what: str,
        low: float = 0.0,
        high: float | None = None,
        high_open: bool = False,
    ) -> None:
        """Check that ``hp[key]`` is a finite real number in ``[low, high]`` (``[low, high)`` if ``high_open``)."""
        value = hp[key]
        ok = _is_real(value) and low <= value
        if ok and high is not None:
            ok = value < high if high_open else value <= high
        if high is None:
            expected = f"a number >= {low:g}"
        else:
            expected = f"a number in [{low:g}, {high:g}{')' if high_open else ']'}"
        self._check(ok, what, value, expected)

    def _check_betas(self, hp: Mapping[str, Any]) -> None:
        """Check that ``hp["betas"]`` is a pair of numbers in [0, 1), as Adam and its kin take."""
        betas = hp["betas"]
        self._check(isinstance(betas, (tuple, list)) and len(betas) == 2, "betas", betas, "a pair (beta1, beta2)")
        for i, beta in enumerate(betas):
            self._check(
                _is_real(beta) and 0.0 <= beta < 1.0, f"beta parameter at index {i}", beta, "a number in [0, 1)"
            )

    def _check_flag(self, hp: Mapping[str, Any], key: str) -> None:
        value = hp[key]
        self._check(isinstance(value, (bool, np.bool_)), key, value, "True or False")

    # ---------------------------------------------------------------- stepping
    @replayed
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's gradient (sets ``p.grad = None``; no array is written), as
        PyTorch's default; ``set_to_none=False`` writes zeros into each ``.grad`` instead."""
        zero_grads((p for group in self.param_groups for p in group["params"]), set_to_none)

    @replayed
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient, in place; parameters without one are skipped.

        Args:
            closure: optional function that recomputes the loss (zero_grad, forward, backward) and
                returns it; it is called first, with gradients enabled.

        Returns:
            The closure's loss, or None.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        state_of = self.state
        update = self._update
        updated = []
        for group in self.param_groups:
            for p in group["params"]:
                grad = p._grad
                if grad is None:
                    continue
                data = p._data
                g = grad._data if isinstance(grad, Tensor) else np.asarray(grad)
                if g.shape != data.shape:
                    raise ValueError(
                        f"{self._name}.step: a parameter of shape {data.shape} has a gradient of shape {g.shape}"
                    )
                state = state_of.get(p)
                if not state:  # (none yet, or the empty dict a read of the defaultdict left)
                    state = state_of[p] = self._init_state(data, group)
                work = self._work.get(p)
                if work is None or work[0].shape != data.shape or work[0].dtype != data.dtype:
                    work = self._work[p] = self._make_work(data)
                update(data, g, state, group, work)
                updated.append(p)
        mark_modified(updated, f"{self._name}.step")  # a graph built before the step is stale
        return loss

    def _init_state(self, param: np.ndarray, group: Mapping[str, Any]) -> dict[str, Any]:
        """The state of a parameter before its first update."""
        return {}

    def _update(self, param: np.ndarray, grad: np.ndarray, state: State, group: Group, work: Work) -> None:
        """Update ``param`` in place from ``grad`` (read only); ``work`` holds scratch arrays of its shape."""
        raise NotImplementedError(f"{self._name} does not define _update")

    def _make_work(self, data: np.ndarray) -> tuple[np.ndarray, ...]:
        """Scratch views of ``data``'s shape into one pool per dtype, sized for the largest parameter."""
        pool = self._pools.get(data.dtype)
        if pool is None or pool.shape[1] < data.size:
            largest = max(
                (p._data.size for group in self.param_groups for p in group["params"] if p._data.dtype == data.dtype),
                default=0,
            )
            pool = self._pools[data.dtype] = np.empty((self._num_work, max(largest, data.size)), dtype=data.dtype)
        return tuple(pool[i, : data.size].reshape(data.shape) for i in range(self._num_work))

    # ---------------------------------------------------------------- saving and loading
    def __getstate__(self) -> dict[str, Any]:
        """What ``pickle`` and ``copy`` take: everything but the compiled steps ``fit`` keeps here
        (they hold this optimizer's model and would train the original from a copy)."""
        state = self.__dict__.copy()
        state.pop("_fit_steps", None)
        state.pop("_solver_parts", None)  # an estimator's scores module and objective, kept with them
        return state

    def state_dict(self) -> dict[str, Any]:
        """A snapshot of hyper-parameters and state (copies), in the format the module docstring describes."""
        index = {}
        groups = []
        for group in self.param_groups:
            saved = {k: _plain(v) for k, v in group.items() if k != "params"}
            saved["params"] = []
            for p in group["params"]:
                index[p] = len(index)
                saved["params"].append(index[p])
            groups.append(saved)
        state = {}
        for p, i in index.items():
            entries = self.state.get(p)
            if entries:
                state[i] = {k: self._saved(k, v) for k, v in entries.items()}
        return {"state": state, "param_groups": groups}

    def _saved(self, key: str, value: Any) -> np.ndarray:
        """One state entry as ``state_dict`` gives it: a copy, counts int64, numbers 0-d float64."""
        if key == "step":
            return np.array(value, dtype=np.int64)
        if key in self._scalar_state:
            return np.array(value, dtype=np.float64)
        return np.array(value, copy=True)

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore hyper-parameters and state saved by ``state_dict`` (from this kind of optimiser).

        The groups must hold as many parameters as here, in the same order; state arrays must have
        the parameters' shapes. Every problem is reported at once and nothing changes on error.
        Arrays are copied (and cast to the parameter's dtype).
        """
        name = f"{self._name}.load_state_dict"
        if not isinstance(state_dict, Mapping) or "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError(f"{name}: expected a dict with 'state' and 'param_groups', got {_describe(state_dict)}")
        saved_groups = list(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}: the saved state has {len(saved_groups)} param groups, "
                f"this optimiser has {len(self.param_groups)}"
            )
        problems: list[str] = []
        params_by_index: dict[int, Tensor] = {}
        new_groups = []
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            saved_params = list(saved.get("params", []))
            if len(saved_params) != len(group["params"]):
                problems.append(
                    f"param group {i} has {len(saved_params)} parameters in the saved state, "
                    f"{len(group['params'])} here"
                )
                continue
            for saved_index, p in zip(saved_params, group["params"]):
                params_by_index[int(saved_index)] = p
            new_group = {k: _restore(v, self.defaults.get(k)) for k, v in saved.items() if k != "params"}
            for key, value in self.defaults.items():
                new_group.setdefault(key, value)
            try:
                self._validate_group(new_group, i)
            except ValueError as error:
                problems.append(str(error))
            new_group["params"] = group["params"]
            new_groups.append(new_group)
        new_state: dict[Tensor, dict[str, Any]] = {}
        known = set(self._required_state) | set(self._optional_state)
        for key, entries in dict(state_dict["state"]).items():
            index = int(key)
            p = params_by_index.get(index)
            if p is None:
                problems.append(f"state for parameter {index}, which no param group lists")
                continue
            entries = dict(entries)
            missing = [k for k in self._required_state if k not in entries]
            unexpected = [k for k in entries if k not in known]
            if missing:
                problems.append(f"parameter {index}: missing state {', '.join(missing)}")
            if unexpected:
                problems.append(f"parameter {index}: unexpected state {', '.join(unexpected)}")
            restored = {}
            for k, v in entries.items():
                array = np.asarray(v)
                if k == "step":
                    if array.size != 1 or array.dtype.kind not in "iuf" or not _is_count(array.reshape(()).item()):
                        problems.append(f"parameter {index}: 'step' must be one count >= 0, got {_describe(v)}")
                        continue
                    restored[k] = int(array.reshape(()))
                elif k in self._scalar_state:
                    if array.size != 1 or array.dtype.kind not in "iuf" or not _is_real(array.reshape(()).item()):
                        problems.append(f"parameter {index}: {k!r} must be one finite number, got {_describe(v)}")
                        continue
                    restored[k] = float(array.reshape(()))
                elif array.shape != p._data.shape:
                    problems.append(f"parameter {index}: {k!r} has shape {array.shape}, the parameter {p._data.shape}")
                else:
                    restored[k] = np.array(array, dtype=p._data.dtype, copy=True)
            new_state[p] = restored
        if problems:
            raise ValueError(f"{name}: " + "; ".join(problems))
        for group, new_group in zip(self.param_groups, new_groups):
            group.clear()
            group.update(new_group)
        self.state = defaultdict(dict, new_state)

    # ---------------------------------------------------------------- repr
    def _group_repr(self, group: Mapping[str, Any]) -> str:
        keys = list(self.defaults) + [k for k in group if k not in self.defaults and k != "params"]
        return ", ".join(f"{k}={group[k]!r}" for k in keys if k in group)

    def __repr__(self) -> str:
        if len(self.param_groups) == 1:
            return f"{self._name}({self._group_repr(self.param_groups[0])})"
        lines = []
        for i, group in enumerate(self.param_groups):
            n = len(group["params"])
            lines.append(f"  ({i}): {n} parameter{'s' if n != 1 else ''}, {self._group_repr(group)}")
        return f"{self._name}(\n" + "\n".join(lines) + "\n)"


def effective_grad(
    param: np.ndarray, grad: np.ndarray, weight_decay: float, maximize: bool, out: np.ndarray
) -> np.ndarray:
    """The gradient the update uses: ``grad`` (negated when maximising) plus ``weight_decay * param``.

    This is the gradient of ``loss + weight_decay/2 * ||param||^2`` (the L2 penalty). Returns
    ``grad`` itself when nothing changes, otherwise the result written into ``out``; ``grad`` is
    never written.
    """
    if weight_decay == 0:
        if not maximize:
            return grad
        return np.negative(grad, out=out)
    np.multiply(param, weight_decay, out=out)
    if maximize:
        np.subtract(out, grad, out=out)
    else:
        np.add(out, grad, out=out)
    return out


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)) and math.isfinite(value)


def _is_count(value: Any) -> bool:
    return _is_real(value) and value >= 0 and value == int(value)


def _plain(value: Any) -> Any:
    """A hyper-parameter as a plain Python value (NumPy scalars become numbers) for JSON."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value


def _restore(value: Any, default: Any) -> Any:
    """Undo what a JSON round trip does to a hyper-parameter: lists back to tuples where the default is one."""
    if isinstance(default, tuple) and isinstance(value, list):
        return tuple(value)
    return value


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    return f"{type(value).__name__} {value!r}"[:120]
