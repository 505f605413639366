"""L-BFGS: a quasi-Newton method that learns the curvature from the last few steps.

L-BFGS keeps the last ``history_size`` pairs (s, y) of parameter changes s and gradient changes y,
and turns the gradient into a search direction with the *two-loop recursion* (Nocedal & Wright,
*Numerical Optimization*, 2nd ed., Algorithm 7.4): an approximation of the inverse Hessian times
the gradient, without ever forming a matrix. The step along that direction is either ``lr`` itself
or found by a line search that satisfies the strong Wolfe conditions (Algorithms 3.5 and 3.6, with
cubic interpolation, eq. 3.59).

Unlike the first-order optimisers, one ``step(closure)`` runs up to ``max_iter`` iterations and
evaluates the loss several times: the closure zeroes the gradients, computes the loss, calls
``backward`` and returns the loss. The behaviour (stopping rules, first step, bookkeeping) is
PyTorch's ``torch.optim.LBFGS``, so that code written for it gives the same iterates.

All parameters are treated as one vector; the state (history, last direction and step, counts)
belongs to the optimiser as a whole and is kept under the first parameter, as PyTorch does.
"""

from __future__ import annotations

import numbers
from collections import defaultdict
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, NamedTuple

import numpy as np

from chainrule.autograd import enable_grad, mark_modified
from chainrule.compiler.recorder import replayed
from chainrule.nn.checks import is_positive_int
from chainrule.optim.optimizer import Optimizer, ParamsLike, _describe
from chainrule.tensor import Tensor

LINE_SEARCHES = (None, "strong_wolfe")

_COUNTS = ("func_evals", "n_iter")
_VECTORS = ("d", "prev_flat_grad")
_SCALARS = ("t", "H_diag", "prev_loss")
_HISTORY = ("old_dirs", "old_stps")
_ITERATION_STATE = (*_VECTORS, *_SCALARS, *_HISTORY, "ro")
"""What an iteration after the first needs from the one before it (saved once ``n_iter`` > 0)."""


class LBFGS(Optimizer):
    """L-BFGS with an optional strong-Wolfe line search (PyTorch's ``torch.optim.LBFGS``).

    Each ``step(closure)`` runs up to ``max_iter`` iterations: the direction comes from the
    two-loop recursion over the last ``history_size`` steps (the very first iteration follows the
    negative gradient with a step of ``min(1, 1/sum|g|) * lr``); the step length is ``lr``, or,
    with ``line_search_fn='strong_wolfe'``, a point satisfying the strong Wolfe conditions
    (c1 = 1e-4, c2 = 0.9). It stops early when the largest gradient entry is at most
    ``tolerance_grad``, when the loss or the parameters change by less than ``tolerance_change``,
    or after ``max_eval`` evaluations of the closure.

    Args:
        params: the parameters (e.g. ``model.parameters()``), optimised together as one vector;
            one param group only.
        lr: learning rate: the step length, or the line search's first trial step (default 1).
        max_iter: most iterations per ``step`` (default 20).
        max_eval: most closure evaluations per ``step`` (default ``max_iter * 5 // 4``).
        tolerance_grad: stop when every gradient entry is at most this in size (default 1e-7).
        tolerance_change: stop when the loss or the step changes less than this (default 1e-9).
        history_size: how many (s, y) pairs the curvature estimate remembers (default 100).
        line_search_fn: None (a fixed step of ``lr``) or ``'strong_wolfe'`` (default None).

    ``step`` needs the closure and returns its first loss (before the update). State is kept
    across steps; ``state_dict`` saves it as arrays (``old_dirs`` and ``old_stps`` as (k, n)
    matrices, ``ro`` as (k,), the rest as vectors of all n parameter entries or 0-d values).

    Example:
        >>> import chainrule as cr
        >>> xy = cr.nn.Parameter(cr.tensor([-1.5, 2.0], dtype=cr.float64))
        >>> opt = cr.optim.LBFGS([xy], max_iter=100, line_search_fn="strong_wolfe")
        >>> def closure():                  # the Rosenbrock function, minimum 0 at (1, 1)
        ...     opt.zero_grad()
        ...     x, y = xy[0], xy[1]
        ...     loss = (1 - x) ** 2 + 100 * (y - x * x) ** 2
        ...     loss.backward()
        ...     return loss
        >>> opt.step(closure).item()         # the loss before the step
        12.5
        >>> xy.numpy().round(4).tolist()
        [1.0, 1.0]
    """

    def __init__(
        self,
        params: ParamsLike,
        lr: float = 1,
        max_iter: int = 20,
        max_eval: int | None = None,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        history_size: int = 100,
        line_search_fn: str | None = None,
    ):
        if max_eval is None and is_positive_int(max_iter):
            max_eval = max_iter * 5 // 4  # PyTorch's default
        defaults = dict(
            lr=lr,
            max_iter=max_iter,
            max_eval=max_eval,
            tolerance_grad=tolerance_grad,
            tolerance_change=tolerance_change,
            history_size=history_size,
            line_search_fn=line_search_fn,
        )
        super().__init__(params, defaults)

    def _validate(self, hp: Mapping[str, Any]) -> None:
        self._check_number(hp, "lr", "learning rate")
        for key in ("max_iter", "history_size"):
            self._check(is_positive_int(hp[key]), key, hp[key], "a positive integer")
        max_eval = hp["max_eval"]
        self._check(max_eval is None or is_positive_int(max_eval), "max_eval", max_eval, "a positive integer or None")
        self._check_number(hp, "tolerance_grad", "tolerance_grad")
        self._check_number(hp, "tolerance_change", "tolerance_change")
        line_search = hp["line_search_fn"]
        self._check(
            isinstance(line_search, (str, type(None))) and line_search in LINE_SEARCHES,
            "line_search_fn",
            line_search,
            "None or 'strong_wolfe'",
        )

    def add_param_group(self, param_group: Mapping[str, Any]) -> None:
        """Refused after the first: L-BFGS optimises all its parameters as one vector, with one set
        of settings (as in PyTorch).

        Example:
            >>> import chainrule as cr
            >>> opt = cr.optim.LBFGS([cr.nn.Parameter([1.0])])
            >>> try:
            ...     opt.add_param_group({"params": [cr.nn.Parameter([2.0])]})
            ... except ValueError as error:
            ...     print(str(error).split(" (")[0])
            LBFGS: takes one param group
        """
        if self.param_groups:
            raise ValueError(
                f"{self._name}: takes one param group (it optimises all its parameters as one vector "
                "with one set of settings); put every parameter in the same group"
            )
        super().add_param_group(param_group)

    # ---------------------------------------------------------------- the parameters as one vector
    @property
    def _params(self) -> list[Tensor]:
        return self.param_groups[0]["params"]

    def _flat_dtype(self) -> np.dtype:
        return np.result_type(*(p._data.dtype for p in self._params))

    def _flat_grad(self) -> np.ndarray:
        """All gradients as one new vector (zeros for a parameter without a gradient)."""
        params = self._params
        out = np.empty(sum(p._data.size for p in params), dtype=self._flat_dtype())
        offset = 0
        for p in params:
            n = p._data.size
            grad = p.grad
            if grad is None:
                out[offset : offset + n] = 0
            else:
                g = grad._data if isinstance(grad, Tensor) else np.asarray(grad)
                if g.shape != p._data.shape:
                    raise ValueError(
                        f"{self._name}.step: a parameter of shape {p._data.shape} has a gradient of shape {g.shape}"
                    )
                out[offset : offset + n] = g.reshape(-1)
            offset += n
        return out

    def _flat_params(self) -> np.ndarray:
        return np.concatenate([p._data.reshape(-1) for p in self._params]).astype(self._flat_dtype(), copy=False)

    def _write(self, x: np.ndarray) -> None:
        """Set the parameters to the vector ``x``, in place."""
        offset = 0
        for p in self._params:
            n = p._data.size
            p._data[...] = x[offset : offset + n].reshape(p._data.shape)
            offset += n
        mark_modified(self._params, f"{self._name}.step")  # a graph built before the write is stale

    def _add(self, t: float, d: np.ndarray) -> None:
        """Move the parameters by ``t * d``, in place."""
        offset = 0
        for p in self._params:
            n = p._data.size
            p._data += (t * d[offset : offset + n]).reshape(p._data.shape)
            offset += n
        mark_modified(self._params, f"{self._name}.step")

    def _evaluate(self, closure: Callable[[], Any]) -> tuple[Any, float, np.ndarray]:
        """Run the closure (with gradients enabled): its loss as returned, as a float, and the gradient."""
        with enable_grad():
            loss = closure()
        return loss, _loss_value(loss, self._name), self._flat_grad()

    def _directional_evaluate(
        self, closure: Callable[[], Any], x: np.ndarray, t: float, d: np.ndarray
    ) -> tuple[float, np.ndarray]:
        """Loss and gradient at ``x + t * d``; the parameters are ``x`` again afterwards."""
        self._add(t, d)
        try:
            _, loss, grad = self._evaluate(closure)
        finally:
            self._write(x)
        return loss, grad

    # ---------------------------------------------------------------- the step
    @replayed
    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        """Run up to ``max_iter`` L-BFGS iterations; returns the closure's first loss (before them).

        Args:
            closure: a function that zeroes the gradients, computes the loss, calls
                ``backward()`` and returns the loss (a one-element Tensor or a number). L-BFGS
                calls it several times per step, with gradients enabled.
        """
        if closure is None or not callable(closure):
            raise TypeError(
                f"{self._name}.step needs a closure that zeroes the gradients, computes the loss, calls "
                f"backward() and returns the loss: opt.step(closure); got {_describe(closure)}"
            )
        group = self.param_groups[0]
        lr = group["lr"]
        max_iter = group["max_iter"]
        max_eval = group["max_eval"] if group["max_eval"] is not None else max_iter * 5 // 4
        tolerance_grad = group["tolerance_grad"]
        tolerance_change = group["tolerance_change"]
        history_size = group["history_size"]
        line_search = group["line_search_fn"]

        orig_loss, loss, flat_grad = self._evaluate(closure)
        state = self.state.get(self._params[0])
        if not state:  # (none yet, or the empty dict a read of the defaultdict left)
            state = self.state[self._params[0]] = {"func_evals": 0, "n_iter": 0}
        state["func_evals"] += 1
        current_evals = 1
        if np.abs(flat_grad).max(initial=0.0) <= tolerance_grad:
            return orig_loss  # already at a stationary point

        d = state.get("d")
        t = state.get("t")
        old_dirs = state.get("old_dirs")
        old_stps = state.get("old_stps")
        ro = state.get("ro")
        h_diag = state.get("H_diag")
        prev_flat_grad = state.get("prev_flat_grad")
        prev_loss = state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1

            # the search direction
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                h_diag = 1.0
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = float(y @ s)
                if ys > 1e-10:  # keep only pairs with positive curvature: the estimate stays positive definite
                    while len(old_dirs) >= history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    h_diag = ys / float(y @ y)  # the scale of the initial inverse Hessian, gamma_k (eq. 7.20)
                d = _two_loop(flat_grad, old_stps, old_dirs, ro, h_diag)

            prev_flat_grad = flat_grad  # a new array at every evaluation, never written
            prev_loss = loss

            # the step length
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / float(np.abs(flat_grad).sum())) * lr
            else:
                t = lr
            gtd = float(flat_grad @ d)  # the directional derivative
            if gtd > -tolerance_change:
                break  # not a descent direction (any more)

            evals = 0
            if line_search == "strong_wolfe":
                x = self._flat_params()
                loss, flat_grad, t, evals = _strong_wolfe(
                    partial(self._directional_evaluate, closure, x, d=d),
                    d,
                    loss,
                    flat_grad,
                    gtd,
                    t,
                    max_ls=max_eval - current_evals,
                )
                self._add(t, d)
                converged = np.abs(flat_grad).max() <= tolerance_grad
            else:
                self._add(t, d)
                converged = False
                if n_iter != max_iter:  # the last iteration's loss would go unused
                    _, loss, flat_grad = self._evaluate(closure)
                    converged = np.abs(flat_grad).max() <= tolerance_grad
                    evals = 1
            current_evals += evals
            state["func_evals"] += evals

            if n_iter == max_iter or current_evals >= max_eval or converged:
                break
            if np.abs(d * t).max() <= tolerance_change:
                break  # the parameters hardly move
            if abs(loss - prev_loss) < tolerance_change:
                break  # the loss hardly changes

        state.update(
            d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=h_diag,
            prev_flat_grad=prev_flat_grad, prev_loss=prev_loss,
        )  # fmt: skip
        return orig_loss

    # ---------------------------------------------------------------- saving and loading
    def state_dict(self) -> dict[str, Any]:
        """Settings and state as arrays (copies): ``{"state": {0: {...}}, "param_groups": [...]}``.

        State entries: ``func_evals`` and ``n_iter`` (0-d int64); after the first iteration also
        ``d`` and ``prev_flat_grad`` (n,), ``t``, ``H_diag`` and ``prev_loss`` (0-d),
        ``old_dirs`` and ``old_stps`` (k, n) and ``ro`` (k,), for n parameter entries in all and
        k remembered steps.

        Example:
            >>> import chainrule as cr
            >>> w = cr.nn.Parameter(cr.tensor([3.0, -1.0], dtype=cr.float64))
            >>> opt = cr.optim.LBFGS([w], max_iter=3)
            >>> def closure():
            ...     opt.zero_grad()
            ...     loss = (w * w).sum()
            ...     loss.backward()
            ...     return loss
            >>> _ = opt.step(closure)
            >>> saved = opt.state_dict()
            >>> int(saved["state"][0]["n_iter"]), saved["state"][0]["old_dirs"].shape
            (2, (1, 2))
        """
        own = self.state
        self.state = {}  # the base class saves the groups; the state is L-BFGS's own kind
        try:
            saved = super().state_dict()
        finally:
            self.state = own
        state = own.get(self._params[0])
        if state:
            saved["state"] = {0: self._arrays(state)}
        return saved

    def _arrays(self, state: Mapping[str, Any]) -> dict[str, np.ndarray]:
        n = sum(p._data.size for p in self._params)
        dtype = self._flat_dtype()
        out: dict[str, np.ndarray] = {k: np.array(state[k], dtype=np.int64) for k in _COUNTS}
        if state.get("d") is None:
            return out
        for k in _VECTORS:
            out[k] = np.array(state[k], dtype=dtype)
        for k in _SCALARS:
            out[k] = np.array(state[k], dtype=np.float64)
        for k in _HISTORY:
            out[k] = np.array(state[k], dtype=dtype).reshape(len(state[k]), n)
        out["ro"] = np.array(state["ro"], dtype=np.float64).reshape(-1)
        return out

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore settings and state saved by ``state_dict`` (also after a JSON + safetensors round
        trip); every problem is reported at once and nothing changes on error.

        Example:
            >>> import chainrule as cr
            >>> w = cr.nn.Parameter([1.0])
            >>> opt = cr.optim.LBFGS([w], history_size=5)
            >>> opt.load_state_dict(cr.optim.LBFGS([w], history_size=7).state_dict())
            >>> opt.param_groups[0]["history_size"]
            7
        """
        name = f"{self._name}.load_state_dict"
        if not isinstance(state_dict, Mapping) or "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError(f"{name}: expected a dict with 'state' and 'param_groups', got {_describe(state_dict)}")
        entries = dict(state_dict["state"])
        restored = None
        if entries:
            keys = list(entries)
            if len(keys) != 1 or str(keys[0]) != "0":
                raise ValueError(
                    f"{name}: L-BFGS keeps its state under parameter 0 only, got state for parameters "
                    f"{sorted(str(k) for k in keys)}"
                )
            restored = self._restore(dict(entries[keys[0]]), name)
        super().load_state_dict({"state": {}, "param_groups": state_dict["param_groups"]})
        if restored is not None:
            self.state = defaultdict(dict, {self._params[0]: restored})

    def _restore(self, entries: dict[str, Any], name: str) -> dict[str, Any]:
        """The working state from saved arrays, or a ValueError listing every problem."""
        n = sum(p._data.size for p in self._params)
        dtype = self._flat_dtype()
        problems = []
        known = (*_COUNTS, *_ITERATION_STATE)
        unexpected = [k for k in entries if k not in known]
        if unexpected:
            problems.append(f"unexpected state {', '.join(unexpected)}")
        missing = [k for k in _COUNTS if k not in entries]
        counts = {}
        for k in _COUNTS:
            if k in entries:
                value = np.asarray(entries[k])
                if value.size != 1 or value.dtype.kind not in "iu" or int(value.reshape(())) < 0:
                    problems.append(f"{k!r} must be one count >= 0, got {_describe(entries[k])}")
                else:
                    counts[k] = int(value.reshape(()))
        if counts.get("n_iter", 0) > 0:
            missing += [k for k in _ITERATION_STATE if k not in entries]
        if missing:
            problems.append(f"missing state {', '.join(missing)}")
        state: dict[str, Any] = dict(counts)
        if counts.get("n_iter", 0) > 0 and not missing:
            arrays = {k: np.asarray(entries[k]) for k in _ITERATION_STATE}
            for k in _VECTORS:
                if arrays[k].shape != (n,):
                    problems.append(f"{k!r} has shape {arrays[k].shape}, expected ({n},) for {n} parameter entries")
            for k in _SCALARS:
                if arrays[k].size != 1:
                    problems.append(f"{k!r} must be one number, got {_describe(entries[k])}")
            k_dirs = arrays["old_dirs"].shape[0] if arrays["old_dirs"].ndim == 2 else -1
            for k in _HISTORY:
                if arrays[k].ndim != 2 or arrays[k].shape != (k_dirs, n):
                    problems.append(f"{k!r} has shape {arrays[k].shape}, expected (k, {n}) like 'old_dirs'")
            if arrays["ro"].shape != (max(k_dirs, 0),):
                problems.append(f"'ro' has shape {arrays['ro'].shape}, expected ({max(k_dirs, 0)},)")
            if not problems:
                for k in _VECTORS:
                    state[k] = np.array(arrays[k], dtype=dtype)
                for k in _SCALARS:
                    state[k] = float(arrays[k].reshape(()))
                for k in _HISTORY:
                    state[k] = [np.array(row, dtype=dtype) for row in arrays[k]]
                state["ro"] = [float(v) for v in arrays["ro"]]
        if problems:
            raise ValueError(f"{name}: " + "; ".join(problems))
        return state


def _loss_value(loss: Any, owner: str) -> float:
    """The closure's loss as a float, or a TypeError saying what the closure must return."""
    if isinstance(loss, Tensor):
        if loss._data.size == 1:
            return float(loss._data.reshape(()))
        raise TypeError(f"{owner}.step: the closure must return a one-element loss, got a tensor of shape {loss.shape}")
    if isinstance(loss, numbers.Real) and not isinstance(loss, bool):
        return float(loss)
    if isinstance(loss, np.ndarray) and loss.size == 1 and loss.dtype.kind in "iuf":
        return float(loss.reshape(()))
    raise TypeError(
        f"{owner}.step: the closure must return the loss (a one-element Tensor or a number), got {_describe(loss)}"
    )


def _two_loop(
    grad: np.ndarray, steps: list[np.ndarray], changes: list[np.ndarray], rho: list[float], h_diag: float
) -> np.ndarray:
    """The L-BFGS direction -H g from the remembered steps s_i, gradient changes y_i and
    rho_i = 1 / (y_i . s_i), with H_0 = h_diag * I (Nocedal & Wright, Algorithm 7.4)."""
    q = -grad
    alpha = [0.0] * len(steps)
    for i in reversed(range(len(steps))):  # newest to oldest
        alpha[i] = float(steps[i] @ q) * rho[i]
        q -= alpha[i] * changes[i]
    r = q * h_diag
    for i in range(len(steps)):  # oldest to newest
        beta = float(changes[i] @ r) * rho[i]
        r += (alpha[i] - beta) * steps[i]
    return r


class _Point(NamedTuple):
    """A trial step of the line search: its length, the loss and gradient there, and the slope along d."""

    t: float
    f: float
    g: np.ndarray
    gtd: float | None


def _cubic_minimum(a: _Point, b: _Point, bounds: tuple[float, float] | None = None) -> float:
    """Where the cubic through two points (values and slopes) has its minimum (Nocedal & Wright,
    eq. 3.59), clipped to ``bounds`` (default: between the points); their midpoint when the cubic
    has no minimum."""
    low, high = bounds if bounds is not None else (min(a.t, b.t), max(a.t, b.t))
    left, right = (a, b) if a.t <= b.t else (b, a)
    with np.errstate(all="ignore"):  # coincident points give inf or NaN: the midpoint then
        d1 = np.float64(a.gtd) + b.gtd - 3 * (np.float64(a.f) - b.f) / (np.float64(a.t) - b.t)
        d2_square = d1 * d1 - np.float64(a.gtd) * b.gtd
        if d2_square >= 0:
            d2 = np.sqrt(d2_square)
            t = right.t - (right.t - left.t) * ((right.gtd + d2 - d1) / (right.gtd - left.gtd + 2 * d2))
            if not np.isnan(t):
                return float(min(max(t, low), high))
    return (low + high) / 2.0


def _strong_wolfe(
    evaluate: Callable[[float], tuple[float, np.ndarray]],
    d: np.ndarray,
    f: float,
    g: np.ndarray,
    gtd: float,
    t: float,
    c1: float = 1e-4,
    c2: float = 0.9,
    tolerance_change: float = 1e-9,
    max_ls: int = 25,
) -> tuple[float, np.ndarray, float, int]:
    """A step length t along ``d`` satisfying the strong Wolfe conditions
    f(t) <= f + c1 t g.d and |g(t).d| <= c2 |g.d| (Nocedal & Wright, Algorithms 3.5 and 3.6).

    First the step grows (by cubic extrapolation, up to 10 times) until an interval is bracketed
    that must hold such a point; then the interval shrinks (by cubic interpolation, kept at least a
    tenth of its width from the ends after slow progress) until the point is found, the interval is
    shorter than ``tolerance_change`` or ``max_ls`` evaluations are spent.

    Returns the loss, the gradient and the step at the best point found, and the number of evaluations.
    """
    d_norm = float(np.abs(d).max())
    start = _Point(0.0, f, g, gtd)
    f_new, g_new = evaluate(t)
    evals = 1
    new = _Point(t, f_new, g_new, float(g_new @ d))
    prev = start
    bracket: list[_Point] = []
    done = False
    ls_iter = 0
    # bracketing: grow the step until an interval must contain an acceptable point
    while ls_iter < max_ls:
        if new.f > f + c1 * new.t * gtd or (ls_iter > 1 and new.f >= prev.f):
            bracket = [prev, new]  # too far: the loss rose
            break
        if abs(new.gtd) <= -c2 * gtd:
            bracket = [new]  # both conditions hold
            done = True
            break
        if new.gtd >= 0:
            bracket = [prev, new]  # past a minimum along d
            break
        step = _cubic_minimum(prev, new, bounds=(new.t + 0.01 * (new.t - prev.t), new.t * 10))
        prev = new
        f_new, g_new = evaluate(step)
        evals += 1
        new = _Point(step, f_new, g_new, float(g_new @ d))
        ls_iter += 1
    if ls_iter == max_ls:  # out of evaluations: choose between the start and the last trial
        bracket = [_Point(0.0, f, g, None), new]

    # zoom: shrink the interval until a point meets both conditions
    insufficient_progress = False
    low, high = (0, 1) if bracket[0].f <= bracket[-1].f else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1].t - bracket[0].t) * d_norm < tolerance_change:
            break
        step = _cubic_minimum(bracket[0], bracket[1])
        t_max = max(bracket[0].t, bracket[1].t)
        t_min = min(bracket[0].t, bracket[1].t)
        eps = 0.1 * (t_max - t_min)
        if min(t_max - step, step - t_min) < eps:  # too close to an end of the interval
            if insufficient_progress or step >= t_max or step <= t_min:
                step = t_max - eps if abs(step - t_max) < abs(step - t_min) else t_min + eps
                insufficient_progress = False
            else:
                insufficient_progress = True
        else:
            insufficient_progress = False
        f_new, g_new = evaluate(step)
        evals += 1
        new = _Point(step, f_new, g_new, float(g_new @ d))
        ls_iter += 1
        if new.f > f + c1 * step * gtd or new.f >= bracket[low].f:
            bracket[high] = new  # not low enough: the new point closes the interval
            low, high = (0, 1) if bracket[0].f <= bracket[1].f else (1, 0)
        else:
            if abs(new.gtd) <= -c2 * gtd:
                done = True
            elif new.gtd * (bracket[high].t - bracket[low].t) >= 0:
                bracket[high] = bracket[low]  # the minimum lies on the other side of the new point
            bracket[low] = new
    best = bracket[low]
    return best.f, best.g, best.t, evals
