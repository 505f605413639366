"""Attributions: how much each input feature of each sample contributed to one output.

Gradient methods (saliency, input x gradient, integrated gradients, SmoothGrad) use the gradients
chainrule already computes; perturbation methods (occlusion, LIME, permutation importance) only
call the model, so they work for any model. Every method takes a batch and computes it as a batch:
one forward and one backward for all samples (and all integration steps or noise draws, in chunks
of ``batch_size`` rows), never a Python loop over samples, except LIME's surrogate fits, one per row.

The model is a ``Module``, a fitted chainrule estimator (its ``network_`` explained on its input
checks), or any callable from a Tensor batch to outputs. Modules are explained in eval mode
(dropout off, BatchNorm's running statistics) and put back in the mode they were in: attributions
that changed with every call because dropout was on would be noise, not an explanation. So are
the Modules a callable reaches directly (a bound method's Module, a network a lambda closes over
or names as a global: ``lambda x: net(x).softmax(1)``); a callable's own state is its own.

The formulas and argument names follow Captum's (PyTorch's attribution library), so that results
can be compared with it directly (``peer_tests/explain``): ``n_steps``, ``method`` for the
integral's rule, ``baselines``, ``sliding_window_shapes``, ``strides``, ``nt_samples``, ``stdevs``.

Example:
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> lin = nn.Linear(3, 1)
    >>> with cr.no_grad():
    ...     _ = lin.weight.copy_(cr.tensor([[1.0, -2.0, 3.0]])); _ = lin.bias.zero_()
    >>> x = [[1.0, 1.0, 1.0]]
    >>> cr.explain.integrated_gradients(lin, x).round(4)  # w * x: exact for a linear model
    array([[ 1., -2.,  3.]], dtype=float32)
"""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from chainrule.autograd import enable_grad, grad, no_grad
from chainrule.nn.checks import positive_int
from chainrule.nn.module import Module, _evaluating
from chainrule.tensor import Tensor
from chainrule.train.inference import _param_dtype

__all__ = [
    "saliency",
    "input_x_gradient",
    "integrated_gradients",
    "smoothgrad",
    "occlusion",
    "feature_ablation",
    "lime",
    "LimeExplanation",
    "permutation_importance",
    "PermutationImportance",
    "explain",
    "integration_rule",
    "METHODS",
]

INTEGRATION_RULES = ("gausslegendre", "riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid")
DEFAULT_BATCH = 4096  # rows per forward/backward when a method evaluates many inputs per sample


# ================================================================== the model and its inputs


class _Explained:
    """The model reduced to what every method needs: checked inputs and a batched forward."""

    def __init__(self, model: Any, X: Any, op: str):
        self.op = op
        self.module: Module | None = None
        self.wrapped: list[Module] = []
        self.estimator: Any = None
        if hasattr(model, "_validate_X"):  # a chainrule estimator (an unfitted one: NotFittedError)
            self.X = model._validate_X(X)
            self.forward = self.module = model.network_
            self.estimator = model
        elif isinstance(model, Module):
            self.forward = self.module = model
            self.X = _as_array(X, _param_dtype(model), op)
        elif callable(model):
            self.forward = model
            self.wrapped = _modules_called(model)  # e.g. lambda x: net(x).softmax(1): net in eval mode too
            X = X.numpy() if isinstance(X, Tensor) else X
            self.X = _as_array(X, np.asarray(X).dtype if _is_float(X) else np.dtype(np.float32), op)
        else:
            raise TypeError(f"{op}: model must be a chainrule Module, a fitted estimator or a callable, got {model!r}")
        if self.X.ndim < 2 or len(self.X) == 0:
            raise ValueError(f"{op}: X must be a non-empty batch (samples first), got shape {self.X.shape}")
        if not np.isfinite(self.X).all():
            rows = np.unique(np.nonzero(~np.isfinite(self.X))[0])[:5].tolist()
            raise ValueError(f"{op}: X holds NaN or infinite values (rows {rows}): attributions would be meaningless")

    def evaluating(self) -> contextlib.AbstractContextManager[None]:
        """The module (or the modules a function calls) in eval mode for the duration, put back in
        their modes afterwards."""
        return _evaluating([self.module] if self.module is not None else self.wrapped)

    def call(self, x: Tensor, differentiable: bool = False) -> Any:
        """The model on the batch ``x``, its output checked: one output (or a row of outputs) per
        row of ``x``, a Tensor (a NumPy array too where no gradient is needed)."""
        out = self.forward(x)
        if not isinstance(out, Tensor):
            if differentiable or not isinstance(out, np.ndarray):
                raise TypeError(
                    f"{self.op}: the model must return a chainrule Tensor"
                    + ("" if differentiable else " or a NumPy array")
                    + f", got {type(out).__name__}"
                    + (
                        ": gradient methods differentiate the model's chainrule operations; a model "
                        "computed in NumPy can be explained by occlusion, feature_ablation, lime or "
                        "permutation_importance"
                        if differentiable
                        else ""
                    )
                )
        if out.ndim == 0 or out.shape[0] != len(x):
            raise ValueError(
                f"{self.op}: the model returned shape {tuple(out.shape)} for a batch of {len(x)} rows: it must "
                f"return one output, or one row of outputs, per row (shape ({len(x)},) or ({len(x)}, C))"
            )
        return out

    def _finite(self, values: np.ndarray, what: str) -> np.ndarray:
        if not np.isfinite(values).all():
            raise ValueError(
                f"{self.op}: the model's {what} hold NaN or infinite values "
                f"({int((~np.isfinite(values)).sum())} of {values.size}): attributions would be meaningless"
            )
        return values

    def outputs(self, X: np.ndarray, target: np.ndarray | None, batch_size: int) -> np.ndarray:
        """The selected output for each row of X (no graph), in chunks of ``batch_size`` rows."""
        parts = []
        with no_grad():
            for start in range(0, len(X), batch_size):
                rows = slice(start, start + batch_size)
                out = _select(self.call(Tensor(X[rows])), None if target is None else target[rows])
                parts.append(out.numpy() if isinstance(out, Tensor) else np.asarray(out))
        return self._finite(np.concatenate(parts), "outputs")

    def gradients(self, X: np.ndarray, target: np.ndarray | None, batch_size: int) -> np.ndarray:
        """d output[i, target[i]] / d X[i] for each row, in chunks; the rows must not interact
        (true in eval mode: BatchNorm then uses its running statistics)."""
        parts = []
        for start in range(0, len(X), batch_size):
            rows = slice(start, start + batch_size)
            x = Tensor(X[rows], requires_grad=True)
            with enable_grad():
                selected = _select(self.call(x, differentiable=True), None if target is None else target[rows])
                self._finite(selected.numpy(), "outputs")
                if not selected.requires_grad:
                    raise ValueError(
                        f"{self.op}: the model's output does not depend on X through chainrule operations "
                        "(the graph is cut, e.g. by .numpy(), a new tensor or no_grad): gradient methods need "
                        "a differentiable model; occlusion, feature_ablation or lime only call it"
                    )
                (g,) = grad(selected.sum(), x, allow_unused=True)
            parts.append(np.zeros_like(X[rows]) if g is None else g.numpy())
        return self._finite(np.concatenate(parts), "gradients")

    def targets(self, target: Any) -> np.ndarray | None:
        """``target`` checked against the model's output: one class index per sample (an int is
        broadcast), or None for a model with one output per sample."""
        with no_grad(), self.evaluating():  # a forward in train mode would update BatchNorm's statistics
            out = self.call(Tensor(self.X[:1]))
        width = 1 if out.ndim == 1 else int(np.prod(out.shape[1:]))
        n = len(self.X)
        if target is None:
            if width != 1:
                raise ValueError(
                    f"{self.op}: the model has {width} outputs per sample: pass target= the class "
                    f"(output index) to explain, an int or one per sample"
                )
            return None
        t = np.asarray(target.numpy() if isinstance(target, Tensor) else target)
        if t.dtype == bool:
            raise ValueError(
                f"{self.op}: target must be class indices (ints), got a boolean {target!r}: "
                "for a mask's classes write target=mask.astype(int)"
            )
        if t.ndim == 0:
            t = np.full(n, t)
        if width == 1 and out.ndim == 2:
            raise ValueError(
                f"{self.op}: the model has one output per sample (e.g. a binary classifier's probability "
                f"of its second class): leave target=None, got target={target!r}"
            )
        if t.shape != (n,) or not np.issubdtype(t.dtype, np.integer):
            raise ValueError(f"{self.op}: target must be an int or {n} integer class indices, got {target!r}")
        if out.ndim != 2:
            raise ValueError(f"{self.op}: target needs (N, C) outputs, the model gives shape {tuple(out.shape)}")
        bad = (t < 0) | (t >= width)
        if bad.any():
            raise ValueError(
                f"{self.op}: target {t[bad][0]} is out of range for a model with {width} outputs (0..{width - 1})"
            )
        return t.astype(np.int64)


def _modules_called(fn: Any) -> list[Module]:
    """The Modules a function reaches directly: the Module of a bound method, and the Modules among
    the variables it closes over or the globals it names (``lambda x: net(x).softmax(1)``)."""
    found = [getattr(fn, "__self__", None)]
    found += [cell.cell_contents for cell in getattr(fn, "__closure__", None) or () if _filled(cell)]
    code, names = getattr(fn, "__code__", None), getattr(fn, "__globals__", {})
    found += [names.get(name) for name in (code.co_names if code is not None else ())]
    unique = {id(m): m for m in found if isinstance(m, Module)}
    return list(unique.values())


def _filled(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - an empty cell raises
    except ValueError:
        return False
    return True


def _is_float(X: Any) -> bool:
    return isinstance(X, np.ndarray) and X.dtype in (np.float32, np.float64)


def _as_array(X: Any, dtype: np.dtype, op: str) -> np.ndarray:
    if isinstance(X, Tensor):
        X = X.numpy()
    try:
        out = np.asarray(X, dtype=dtype)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{op}: X must be numeric, samples first: {error}") from None
    return np.ascontiguousarray(out)


def _select(out: Any, target: np.ndarray | None) -> Any:
    """The explained output of each row (a Tensor or an array): out[i, target[i]], or the single output."""
    if target is None:
        return out.reshape(out.shape[0]) if out.ndim > 1 else out
    return out[np.arange(out.shape[0]), target]


def _baselines(baselines: Any, X: np.ndarray, op: str) -> np.ndarray:
    """Baselines broadcast to X: a number, one row shaped like a sample, or one per sample."""
    if baselines is None:
        return np.zeros_like(X)
    b = _as_array(baselines, X.dtype, op)
    try:
        b = np.ascontiguousarray(np.broadcast_to(b, X.shape))
    except ValueError:
        raise ValueError(
            f"{op}: baselines of shape {b.shape} do not fit inputs of shape {X.shape} (a number, "
            f"one sample of shape {X.shape[1:]}, or one per sample)"
        ) from None
    if not np.isfinite(b).all():
        raise ValueError(f"{op}: baselines hold NaN or infinite values: attributions would be meaningless")
    return b


# ================================================================== gradient methods


def saliency(
    model: Any, X: Any, target: Any = None, *, abs: bool = True, batch_size: int = DEFAULT_BATCH
) -> np.ndarray:  # noqa: A002
    """The gradient of the explained output with respect to each input feature (Simonyan et al.,
    2013); its absolute value by default, as in Captum's ``Saliency``.

    Args:
        model: a Module, a fitted estimator, or a callable on a Tensor batch.
        X: inputs, samples first.
        target: the output (class index) to explain: an int or one per sample; None for a model
            with one output per sample.
        abs: absolute values (default True); False keeps the signs.
        batch_size: rows per forward/backward.

    Returns:
        An array shaped like X.

    Example:
        >>> import chainrule as cr
        >>> f = lambda x: (x ** 2).sum(1)
        >>> cr.explain.saliency(f, [[1.0, -2.0]], abs=False)
        array([[ 2., -4.]], dtype=float32)
    """
    e = _Explained(model, X, "saliency")
    t = e.targets(target)
    with e.evaluating():
        g = e.gradients(e.X, t, positive_int("saliency", "batch_size", batch_size))
    return np.abs(g) if abs else g


def input_x_gradient(model: Any, X: Any, target: Any = None, *, batch_size: int = DEFAULT_BATCH) -> np.ndarray:
    """Input times gradient: x * d output / d x, feature by feature (Shrikumar et al., 2016).

    For a linear model it is each term w_i x_i of the output exactly.

    Example:
        >>> import chainrule as cr
        >>> f = lambda x: (x * cr.tensor([2.0, 3.0])).sum(1)
        >>> cr.explain.input_x_gradient(f, [[1.0, 2.0]])
        array([[2., 6.]], dtype=float32)
    """
    e = _Explained(model, X, "input_x_gradient")
    t = e.targets(target)
    with e.evaluating():
        return e.X * e.gradients(e.X, t, positive_int("input_x_gradient", "batch_size", batch_size))


def integration_rule(method: str, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """(points in [0, 1], weights) of a quadrature rule with ``n_steps`` points: the Riemann
    sums (left, right, middle), the trapezoid rule, or Gauss-Legendre (the default in Captum).

    The weights of every rule add up to 1. (Captum's "riemann_trapezoid" weighs its points
    1/(2n), 1/n, ..., 1/(2n), which add up to (n - 1)/n: its attributions are those of the
    trapezoid rule times (n - 1)/n; every other rule is the same as Captum's.)

    Example:
        >>> from chainrule.explain.attributions import integration_rule
        >>> integration_rule("riemann_left", 4)
        (array([0.  , 0.25, 0.5 , 0.75]), array([0.25, 0.25, 0.25, 0.25]))
        >>> alphas, weights = integration_rule("gausslegendre", 3)
        >>> round(float(weights.sum()), 12)
        1.0
    """
    n = positive_int("integrated_gradients", "n_steps", n_steps)
    if method == "riemann_left":
        return np.linspace(0.0, 1.0 - 1.0 / n, n), np.full(n, 1.0 / n)
    if method == "riemann_right":
        return np.linspace(1.0 / n, 1.0, n), np.full(n, 1.0 / n)
    if method == "riemann_middle":
        return np.linspace(0.5 / n, 1.0 - 0.5 / n, n), np.full(n, 1.0 / n)
    if method == "riemann_trapezoid":
        if n < 2:
            raise ValueError("integrated_gradients: the trapezoid rule needs n_steps >= 2")
        weights = np.full(n, 1.0 / (n - 1))
        weights[[0, -1]] /= 2
        return np.linspace(0.0, 1.0, n), weights
    if method == "gausslegendre":
        x, w = np.polynomial.legendre.leggauss(n)
        return 0.5 * (x + 1.0), 0.5 * w
    raise ValueError(f"integrated_gradients: method must be one of {', '.join(INTEGRATION_RULES)}, got {method!r}")


def integrated_gradients(
    model: Any,
    X: Any,
    target: Any = None,
    *,
    baselines: Any = None,
    n_steps: int = 50,
    method: str = "gausslegendre",
    batch_size: int = DEFAULT_BATCH,
    return_convergence_delta: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Integrated gradients (Sundararajan et al., 2017): (x - baseline) times the gradient averaged
    along the straight path from the baseline to x, by a quadrature rule.

    The attributions of a sample add up to f(x) - f(baseline) up to the rule's error
    (completeness); ``return_convergence_delta=True`` also returns that error per sample,
    ``sum(attributions) - (f(x) - f(baseline))``. All samples and all points of the path go
    through the model as one batch (in chunks of ``batch_size`` rows).

    Args:
        model, X, target: as in :func:`saliency`.
        baselines: the reference input: a number, one sample, or one per sample (default zeros).
        n_steps: points of the rule (default 50).
        method: "gausslegendre" (default), "riemann_left", "riemann_right", "riemann_middle" or
            "riemann_trapezoid".
        batch_size: rows per forward/backward.
        return_convergence_delta: also return the completeness error per sample.

    Example:
        >>> import chainrule as cr
        >>> f = lambda x: (x ** 2).sum(1)  # f(x) - f(0) = 1 + 4 = 5
        >>> att, delta = cr.explain.integrated_gradients(f, [[1.0, 2.0]], return_convergence_delta=True)
        >>> att.round(4), bool(abs(delta[0]) < 1e-5)
        (array([[1., 4.]], dtype=float32), True)
    """
    op = "integrated_gradients"
    e = _Explained(model, X, op)
    t = e.targets(target)
    n_steps = positive_int(op, "n_steps", n_steps)
    batch_size = positive_int(op, "batch_size", batch_size)
    base = _baselines(baselines, e.X, op)
    alphas, weights = integration_rule(method, n_steps)
    diff = e.X - base
    n = len(e.X)
    # every point of every path in one batch, point-major: rows k*n .. k*n+n-1 are the k-th point
    alpha = alphas.astype(e.X.dtype).reshape(-1, 1, *([1] * (e.X.ndim - 1)))
    path = (base[None] + alpha * diff[None]).reshape(n_steps * n, *e.X.shape[1:])
    path_targets = None if t is None else np.tile(t, n_steps)
    with e.evaluating():
        g = e.gradients(path, path_targets, batch_size).reshape(n_steps, *e.X.shape)
        averaged = np.tensordot(weights.astype(g.dtype), g, axes=(0, 0))
        attributions = (diff * averaged).astype(e.X.dtype, copy=False)
        if not return_convergence_delta:
            return attributions
        ends = e.outputs(np.concatenate([e.X, base]), None if t is None else np.tile(t, 2), batch_size)
    delta = attributions.reshape(n, -1).sum(axis=1, dtype=np.float64) - (ends[:n] - ends[n:]).astype(np.float64)
    return attributions, delta


_BASE_METHODS: dict[str, Callable[..., Any]] = {}


def smoothgrad(
    model: Any,
    X: Any,
    target: Any = None,
    *,
    base: str = "saliency",
    nt_type: str = "smoothgrad",
    nt_samples: int = 5,
    stdevs: float = 1.0,
    seed: int | np.random.Generator | None = None,
    batch_size: int = DEFAULT_BATCH,
    **base_kwargs: Any,
) -> np.ndarray:
    """SmoothGrad (Smilkov et al., 2017): a base method's attributions averaged over noisy copies
    of the input, x + N(0, stdevs^2), which smooths the gradient's noise away.

    Args:
        model, X, target: as in :func:`saliency`.
        base: the method smoothed: "saliency" (default), "input_x_gradient",
            "integrated_gradients", "occlusion" or "feature_ablation"; its own arguments
            (``abs``, ``n_steps``, ``baselines``, ``sliding_window_shapes``, ...) pass through.
        nt_type: "smoothgrad" (the mean, default), "smoothgrad_sq" (the mean of squares) or
            "vargrad" (the variance), as Captum's ``NoiseTunnel`` names them.
        nt_samples: noisy copies per sample (default 5).
        stdevs: the noise's standard deviation, in the input's units (default 1.0, as Captum).
            0 gives the base method's attributions.
        seed: an int or a NumPy Generator, for reproducible noise.
        batch_size: rows per forward/backward; all copies of all samples are one batch.

    Example:
        >>> import chainrule as cr
        >>> f = lambda x: (x * cr.tensor([2.0, -3.0])).sum(1)  # a linear f: the noise changes nothing
        >>> cr.explain.smoothgrad(f, [[1.0, 1.0]], stdevs=0.5, seed=0)
        array([[2., 3.]], dtype=float32)
    """
    op = "smoothgrad"
    if base not in _BASE_METHODS:
        raise ValueError(f"{op}: base must be one of {', '.join(_BASE_METHODS)}, got {base!r}")
    if nt_type not in ("smoothgrad", "smoothgrad_sq", "vargrad"):
        raise ValueError(f"{op}: nt_type must be 'smoothgrad', 'smoothgrad_sq' or 'vargrad', got {nt_type!r}")
    if base_kwargs.get("return_convergence_delta"):
        raise ValueError(
            f"{op}: return_convergence_delta is not averaged over the noisy copies (Captum's NoiseTunnel "
            "returns the delta of each copy): call integrated_gradients(..., return_convergence_delta=True) "
            "on the inputs whose completeness you want to check"
        )
    nt_samples = positive_int(op, "nt_samples", nt_samples)
    if not isinstance(stdevs, numbers.Real) or not np.isfinite(stdevs) or stdevs < 0:
        raise ValueError(f"{op}: stdevs must be a finite number >= 0, got {stdevs!r}")
    e = _Explained(model, X, op)
    t = e.targets(target)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    noise = rng.standard_normal((nt_samples, *e.X.shape)) * stdevs
    noisy = (e.X[None] + noise.astype(e.X.dtype)).reshape(nt_samples * len(e.X), *e.X.shape[1:])
    if "baselines" in base_kwargs and base_kwargs["baselines"] is not None:
        base_kwargs["baselines"] = np.tile(
            _baselines(base_kwargs["baselines"], e.X, op), (nt_samples,) + (1,) * (e.X.ndim - 1)
        )
    explained_model = model if not hasattr(model, "_validate_X") else model.network_
    tiled = None if t is None else np.tile(t, nt_samples)
    result = _BASE_METHODS[base](explained_model, noisy, tiled, batch_size=batch_size, **base_kwargs)
    result = result.reshape(nt_samples, *e.X.shape)
    if nt_type == "smoothgrad":
        return result.mean(axis=0)
    if nt_type == "smoothgrad_sq":
        return (result**2).mean(axis=0)
    return result.var(axis=0)


# ================================================================== perturbation methods


def _windows(shape: tuple[int, ...], window: Sequence[int], strides: Sequence[int]) -> list[tuple[slice, ...]]:
    """The window's positions over a sample of ``shape``, as slices.

    Along each axis the window starts at 0, stride, 2 stride, ... until it reaches the end; a last
    window that would pass the end is cut there, so every feature is covered (Captum's rule:
    ceil((size - window) / stride) + 1 positions; strides are at most the window)."""
    starts = [range(0, -(-(size - w) // s) * s + 1, s) for size, w, s in zip(shape, window, strides)]
    grids = np.meshgrid(*[np.asarray(r) for r in starts], indexing="ij")
    corners = np.stack([g.ravel() for g in grids], axis=1)
    return [tuple(slice(int(c), int(c) + w) for c, w in zip(corner, window)) for corner in corners]


def _ablate(
    e: _Explained,
    n_masks: int,
    masks: Callable[[int, int], np.ndarray],
    t: np.ndarray | None,
    base: np.ndarray,
    batch_size: int,
) -> np.ndarray:
    """f(x) - f(x with mask k set to the baseline), for every sample and mask: (masks, N).
    ``masks(start, stop)`` builds masks start..stop-1, (k, *sample shape), a chunk at a time."""
    n = len(e.X)
    full = e.outputs(e.X, t, batch_size)
    drops = np.empty((n_masks, n), dtype=np.float64)
    per_chunk = max(1, batch_size // n)
    for start in range(0, n_masks, per_chunk):
        m = masks(start, min(start + per_chunk, n_masks))[:, None]  # (k, 1, *shape)
        occluded = np.where(m, base[None], e.X[None]).reshape(len(m) * n, *e.X.shape[1:])
        out = e.outputs(occluded, None if t is None else np.tile(t, len(m)), batch_size).reshape(len(m), n)
        drops[start : start + len(m)] = full[None] - out
    return drops


def occlusion(
    model: Any,
    X: Any,
    target: Any = None,
    *,
    sliding_window_shapes: int | Sequence[int] = 1,
    strides: int | Sequence[int] | None = None,
    baselines: Any = 0.0,
    batch_size: int = DEFAULT_BATCH,
) -> np.ndarray:
    """Occlusion (Zeiler and Fergus, 2014): slide a window over each sample, set it to the
    baseline, and give each feature the output's drop f(x) - f(occluded), averaged over the
    windows that covered it (as Captum's ``Occlusion``: a last window that would pass the end of
    an axis is cut there, so every feature is covered).

    Args:
        model, X, target: as in :func:`saliency`.
        sliding_window_shapes: the window, one size per axis of a sample (e.g. (1, 5, 5) for
            (C, H, W) images, (1, 4) for (C, L) signals); an int is used on every axis.
        strides: the window's step per axis (default: 1 on every axis), at most the window's size
            (a larger step would leave features that no window covers).
        baselines: what the window is set to: a number (default 0), one sample, or one per sample.
        batch_size: rows per forward; all samples at a window position go through together.

    Example:
        >>> import chainrule as cr
        >>> f = lambda x: (x * cr.tensor([2.0, -3.0, 1.0])).sum(1)
        >>> cr.explain.occlusion(f, [[1.0, 1.0, 1.0]])  # w_i x_i for a linear model
        array([[ 2., -3.,  1.]], dtype=float32)
    """
    op = "occlusion"
    e = _Explained(model, X, op)
    t = e.targets(target)
    shape = e.X.shape[1:]
    window = _per_axis(sliding_window_shapes, shape, "sliding_window_shapes", op)
    steps = _per_axis(1 if strides is None else strides, shape, "strides", op)
    if any(w > s for w, s in zip(window, shape)):
        raise ValueError(f"{op}: sliding_window_shapes {window} is larger than a sample, of shape {shape}")
    if any(s > w for s, w in zip(steps, window)):
        raise ValueError(
            f"{op}: strides {steps} are larger than sliding_window_shapes {window} on some axis: the features "
            "between two windows would never be occluded (Captum refuses them too); use strides <= the window"
        )
    batch_size = positive_int(op, "batch_size", batch_size)
    base = _baselines(baselines, e.X, op)
    windows = _windows(shape, window, steps)

    def masks(start: int, stop: int) -> np.ndarray:
        m = np.zeros((stop - start, *shape), dtype=bool)
        for k, where in enumerate(windows[start:stop]):  # one slice assignment per position
            m[(k, *where)] = True
        return m

    with e.evaluating():
        drops = _ablate(e, len(windows), masks, t, base, batch_size)
    total = np.zeros((len(e.X), *shape))
    counts = np.zeros(shape)
    for drop, where in zip(drops, windows):  # each window adds its drop to the features it covers
        total[(slice(None), *where)] += drop.reshape(-1, *([1] * len(shape)))
        counts[where] += 1
    return (total / counts).astype(e.X.dtype)


def _per_axis(value: Any, shape: tuple[int, ...], name: str, op: str) -> tuple[int, ...]:
    try:
        values = (value,) * len(shape) if isinstance(value, numbers.Integral) else tuple(value)
    except TypeError:  # neither an int nor a sequence
        values = ()
    if len(values) != len(shape) or any(
        not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 1 for v in values
    ):
        raise ValueError(f"{op}: {name} must be a positive int or one per axis of a sample {shape}, got {value!r}")
    return tuple(int(v) for v in values)


def _groups(feature_mask: Any, shape: tuple[int, ...], op: str) -> tuple[np.ndarray, int]:
    """(group ids 0..K-1 shaped like a sample, K) from a feature mask of group ids, shaped like one
    sample or, as Captum takes it, with a leading axis of 1; any ids (the groups numbered in
    sorted order of their ids); None gives every feature its own group."""
    if feature_mask is None:
        ids = np.arange(int(np.prod(shape))).reshape(shape)
        return ids, ids.size
    raw = np.asarray(feature_mask.numpy() if isinstance(feature_mask, Tensor) else feature_mask)
    if raw.shape == (1, *shape):
        raw = raw[0]
    if raw.shape != shape or not np.issubdtype(raw.dtype, np.integer):
        raise ValueError(
            f"{op}: feature_mask must be integer group ids shaped like one sample {shape}, "
            f"got shape {raw.shape} of {raw.dtype}"
        )
    values, ids = np.unique(raw, return_inverse=True)
    return ids.reshape(shape), len(values)


def _group_masks(ids: np.ndarray) -> Callable[[int, int], np.ndarray]:
    """masks(start, stop): the features of groups start..stop-1, (k, *shape), built a chunk at a time."""
    return lambda start, stop: ids[None] == np.arange(start, stop).reshape(-1, *([1] * ids.ndim))


def feature_ablation(
    model: Any,
    X: Any,
    target: Any = None,
    *,
    feature_mask: Any = None,
    baselines: Any = 0.0,
    batch_size: int = DEFAULT_BATCH,
) -> np.ndarray:
    """Occlusion of groups of features (tabular columns, segments): each group is set to the
    baseline at once, and each of its features gets the output's drop (Captum's
    ``FeatureAblation``).

    Args:
        model, X, target: as in :func:`saliency`.
        feature_mask: integer group ids shaped like one sample, or (1, *sample shape) as Captum
            takes it (default: every feature alone).
        baselines: as in :func:`occlusion`.

    Example:
        >>> import chainrule as cr
        >>> f = lambda x: (x * cr.tensor([2.0, -3.0, 1.0])).sum(1)
        >>> cr.explain.feature_ablation(f, [[1.0, 1.0, 1.0]], feature_mask=[0, 0, 1])
        array([[-1., -1.,  1.]], dtype=float32)
    """
    op = "feature_ablation"
    e = _Explained(model, X, op)
    t = e.targets(target)
    ids, k = _groups(feature_mask, e.X.shape[1:], op)
    batch_size = positive_int(op, "batch_size", batch_size)
    base = _baselines(baselines, e.X, op)
    with e.evaluating():
        drops = _ablate(e, k, _group_masks(ids), t, base, batch_size)
    return drops.T[:, ids].astype(e.X.dtype)  # each feature gets its group's drop


_BASE_METHODS.update(
    saliency=saliency,
    input_x_gradient=input_x_gradient,
    integrated_gradients=integrated_gradients,
    occlusion=occlusion,
    feature_ablation=feature_ablation,
)


@dataclass
class LimeExplanation:
    """LIME's result for a batch: ``attributions`` shaped like X (each feature gets its group's
    coefficient), and per row the surrogate's ``coefficients`` (N, groups), ``intercepts`` (N,)
    and ``scores`` (N,), its weighted R^2 on the sampled neighbourhood.

    Example:
        >>> import numpy as np
        >>> from chainrule.explain import LimeExplanation
        >>> LimeExplanation(np.zeros((1, 2)), np.zeros((1, 2)), np.zeros(1), np.ones(1)).scores
        array([1.])
    """

    attributions: np.ndarray
    coefficients: np.ndarray
    intercepts: np.ndarray
    scores: np.ndarray


def lime(
    model: Any,
    X: Any,
    target: Any = None,
    *,
    feature_mask: Any = None,
    baselines: Any = 0.0,
    n_samples: int = 1000,
    kernel_width: float = 0.25,
    alpha: float = 1.0,
    seed: int | np.random.Generator | None = None,
    batch_size: int = DEFAULT_BATCH,
) -> LimeExplanation:
    """LIME (Ribeiro et al., 2016): explain each row by a weighted linear surrogate fitted on
    perturbed copies of it.

    Interpretable features are the groups of ``feature_mask`` (tabular columns by default, or
    segments of a signal / patches of an image). Each perturbation keeps a random half of the
    groups (z = 1) and sets the others to the baseline (z = 0); it is weighted by
    sqrt(exp(-d^2 / kernel_width^2)), d the cosine distance between z and the unperturbed all-ones
    vector (LIME's image kernel, as ``lime_image`` writes it); a ridge regression (scikit-learn's
    ``Ridge``, ``alpha``) of the model's output on z is the surrogate. The first sample is always
    the row itself.

    Args:
        model, X, target: as in :func:`saliency`.
        feature_mask: integer group ids shaped like one sample, or (1, *sample shape) as Captum
            takes it (default: every feature alone).
        baselines: what removed groups become (default 0).
        n_samples: perturbations per row (default 1000; at least 2).
        kernel_width: the kernel's width (default 0.25).
        alpha: the ridge penalty (default 1.0, as LIME).
        seed: an int or a NumPy Generator, for reproducible perturbations.

    Example:
        >>> import chainrule as cr
        >>> f = lambda x: (x * cr.tensor([2.0, -3.0, 1.0])).sum(1)
        >>> result = cr.explain.lime(f, [[1.0, 1.0, 1.0]], seed=0, alpha=1e-6)
        >>> result.coefficients.round(3), bool(result.scores[0] > 0.999)
        (array([[ 2., -3.,  1.]]), True)
    """
    op = "lime"
    try:
        from sklearn.linear_model import Ridge
    except ImportError:  # pragma: no cover - the estimators extra brings scikit-learn
        raise ImportError('lime fits its surrogate with scikit-learn: pip install "chainrule[sklearn]"') from None
    n_samples = positive_int(op, "n_samples", n_samples)
    if n_samples < 2:
        raise ValueError(f"{op}: n_samples must be at least 2 (the row itself and a perturbation), got {n_samples}")
    if not isinstance(kernel_width, numbers.Real) or not kernel_width > 0:
        raise ValueError(f"{op}: kernel_width must be a positive number, got {kernel_width!r}")
    if not isinstance(alpha, numbers.Real) or isinstance(alpha, bool) or not 0 <= alpha < np.inf:
        raise ValueError(f"{op}: alpha (the ridge penalty) must be a finite number >= 0, got {alpha!r}")
    batch_size = positive_int(op, "batch_size", batch_size)
    e = _Explained(model, X, op)
    t = e.targets(target)
    ids, k = _groups(feature_mask, e.X.shape[1:], op)
    n = len(e.X)
    base = _baselines(baselines, e.X, op)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    z = rng.integers(0, 2, size=(n, n_samples, k)).astype(bool)
    z[:, 0] = True  # the row itself
    on = z.sum(axis=2)
    cosine = 1.0 - on / np.sqrt(np.maximum(on, 1) * k)
    cosine[on == 0] = 1.0
    weights = np.sqrt(np.exp(-(cosine**2) / kernel_width**2))  # LIME's kernel, exactly as lime_image writes it
    support = np.where(on < k, weights, 0.0).sum(axis=1)  # the total weight of the perturbed samples
    if support.min() == 0 or support.min() < alpha:
        raise ValueError(
            f"{op}: the perturbed samples of a row weigh {support.min():.3g} in all (kernel_width={kernel_width!r}, "
            f"n_samples={n_samples}), {'nothing' if support.min() == 0 else f'less than the ridge penalty {alpha!r}'}"
            ": the surrogate's weights would be about 0 whatever the model does; use a larger kernel_width "
            "(default 0.25), more n_samples or a smaller alpha"
        )
    keep = z[:, :, ids]  # (N, S, *shape): each feature kept or not with its group
    perturbed = np.where(keep, e.X[:, None], base[:, None]).reshape(n * n_samples, *e.X.shape[1:])
    with e.evaluating():
        y = e.outputs(perturbed, None if t is None else np.repeat(t, n_samples), batch_size).reshape(n, n_samples)
    coefficients, intercepts, scores = np.empty((n, k)), np.empty(n), np.empty(n)
    for i in range(n):  # one surrogate per row: the method's definition
        surrogate = Ridge(alpha=alpha).fit(z[i], y[i], sample_weight=weights[i])
        coefficients[i], intercepts[i] = surrogate.coef_, surrogate.intercept_
        scores[i] = surrogate.score(z[i], y[i], sample_weight=weights[i]) if np.ptp(y[i]) > 0 else 1.0
    return LimeExplanation(coefficients[:, ids].astype(e.X.dtype), coefficients, intercepts, scores)


@dataclass
class PermutationImportance:
    """Permutation importance, as scikit-learn's ``permutation_importance`` returns it: per feature
    (group), the mean and standard deviation of the score's drop over ``n_repeats`` shuffles, and
    every drop (features, n_repeats); ``baseline_score`` is the unshuffled score.

    Example:
        >>> import numpy as np
        >>> from chainrule.explain import PermutationImportance
        >>> PermutationImportance(np.ones(2), np.zeros(2), np.ones((2, 3)), 0.9).importances_mean
        array([1., 1.])
    """

    importances_mean: np.ndarray
    importances_std: np.ndarray
    importances: np.ndarray
    baseline_score: float


def permutation_importance(
    model: Any,
    X: Any,
    y: Any,
    *,
    scoring: str | Callable[[np.ndarray, np.ndarray], float] = "auto",
    n_repeats: int = 5,
    feature_mask: Any = None,
    seed: int | np.random.Generator | None = None,
    batch_size: int = DEFAULT_BATCH,
) -> PermutationImportance:
    """How much the model's score drops when one feature's column is shuffled across samples
    (Breiman, 2001): large for features the model relies on, about 0 for the ones it ignores.

    Args:
        model: a Module, a fitted estimator, or a callable on a Tensor batch.
        X, y: a dataset: inputs (samples first) and targets.
        scoring: "accuracy" (the argmax of (N, C) outputs against class indices y, or for one
            output, a probability, outputs > 0.5 against y of 0 and 1; a fitted classifier's own
            decisions against its labels), "r2" (averaged over the outputs, as scikit-learn's),
            "neg_mean_squared_error", a callable ``score(y, outputs)`` (the outputs as the model
            gives them, (N,) for one output per sample and a 1-D y), or "auto" (the default:
            a classifier estimator's accuracy, a regressor's r2; for other models accuracy for
            integer y with (N, C) outputs or y of 0 and 1, r2 otherwise).
        n_repeats: shuffles per feature (default 5).
        feature_mask: integer group ids shaped like one sample: a group is shuffled together
            (e.g. the one-hot columns of one category).
        seed: an int or a NumPy Generator.

    Example:
        >>> import chainrule as cr
        >>> f = lambda x: x[:, :1] * 3.0  # only the first feature matters
        >>> X = cr.randn(200, 2).numpy()
        >>> result = cr.explain.permutation_importance(f, X, 3.0 * X[:, 0], seed=0)
        >>> bool(result.importances_mean[0] > 1.0), float(result.importances_mean[1])
        (True, 0.0)
    """
    op = "permutation_importance"
    n_repeats = positive_int(op, "n_repeats", n_repeats)
    batch_size = positive_int(op, "batch_size", batch_size)
    if not callable(scoring) and scoring not in SCORINGS:
        raise ValueError(f"{op}: scoring must be {', '.join(map(repr, SCORINGS))} or a callable, got {scoring!r}")
    e = _Explained(model, X, op)
    n = len(e.X)
    yy = np.asarray(y.numpy() if isinstance(y, Tensor) else y)
    if yy.ndim == 0 or len(yy) != n:
        raise ValueError(f"{op}: X has {n} samples but y has {len(yy) if yy.ndim else 'none (a scalar)'}")
    if n < 2:
        raise ValueError(f"{op}: shuffling a column needs at least 2 samples, X has {n}")
    ids, k = _groups(feature_mask, e.X.shape[1:], op)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    estimator = e.estimator

    def outputs(rows: np.ndarray, decisions: bool = False) -> np.ndarray:
        """The model's outputs for the rows, in chunks; with ``decisions``, a classifier
        estimator's class indices from its own scores (what its ``predict`` decides)."""
        parts = []
        with no_grad():
            for start in range(0, len(rows), batch_size):
                chunk = rows[start : start + batch_size]
                if decisions:
                    parts.append(estimator._indices_from_scores(estimator._forward(chunk, scores=True)))
                else:
                    out = e.call(Tensor(chunk))
                    parts.append(out.numpy() if isinstance(out, Tensor) else out)
        return e._finite(np.concatenate(parts), "outputs")

    with e.evaluating():
        first = outputs(e.X)
        score, decisions = _scorer(scoring, yy, first, estimator, op)
        baseline = score(outputs(e.X, decisions) if decisions else first)
        drops = np.empty((k, n_repeats))
        for g in range(k):  # all repeats of one group in one batch
            mask = ids == g
            order = np.stack([rng.permutation(n) for _ in range(n_repeats)])  # (R, N)
            shuffled = np.where(mask[None, None], e.X[order], e.X[None]).reshape(n_repeats * n, *e.X.shape[1:])
            out = outputs(shuffled, decisions)
            drops[g] = [baseline - score(o) for o in out.reshape(n_repeats, n, *out.shape[1:])]
    return PermutationImportance(drops.mean(axis=1), drops.std(axis=1), drops, float(baseline))


SCORINGS = ("auto", "accuracy", "r2", "neg_mean_squared_error")


def _scorer(
    scoring: Any, y: np.ndarray, outputs: np.ndarray, estimator: Any, op: str
) -> tuple[Callable[[np.ndarray], float], bool]:
    """(score of a batch of outputs against y, whether the outputs must be a classifier
    estimator's decided class indices), with y checked against the model's first outputs."""
    n = len(y)
    width = int(np.prod(outputs.shape[1:]))
    labels = y.dtype.kind in "OUSV"
    classifier = estimator is not None and hasattr(estimator, "classes_")
    if labels and not classifier and not callable(scoring):
        raise ValueError(
            f"{op}: y holds labels ({', '.join(map(repr, np.unique(y)[:3].tolist()))}, ...): a model's outputs "
            "are scored against class indices 0..C-1: encode y first, e.g. "
            "np.unique(y, return_inverse=True)[1] in the order of the model's outputs"
        )
    if not labels and not np.isfinite(y.astype(np.float64)).all():
        raise ValueError(f"{op}: y holds NaN or infinite values")

    def checked(value: Any) -> float:
        value = float(value)
        if not np.isfinite(value):
            raise ValueError(f"{op}: the score is {value}: permutation importances would be meaningless")
        return value

    if callable(scoring):  # the outputs as the model gives them; one per sample as (N,) for a 1-D y
        squeeze = y.ndim == 1 and width == 1
        return (lambda out: checked(scoring(y, out.reshape(n) if squeeze else out))), False
    if scoring == "auto":
        if estimator is not None:
            scoring = "accuracy" if classifier else "r2"
        elif y.dtype.kind in "biu" and y.reshape(n, -1).shape[1] == 1:
            scoring = "accuracy" if width > 1 or np.isin(y, (0, 1)).all() else "r2"
        else:
            scoring = "r2"
    if scoring == "accuracy":
        return _accuracy(y, outputs, width, estimator if classifier else None, op, checked)
    if labels:
        raise ValueError(f"{op}: scoring={scoring!r} needs numeric y, got labels of {y.dtype}")
    target = y.astype(np.float64).reshape(n, -1)
    if target.shape[1] != width:
        raise ValueError(
            f"{op}: y of shape {y.shape} does not match the model's outputs of shape {outputs.shape} "
            f"for scoring={scoring!r}"
        )

    def regression(out: np.ndarray) -> float:
        residuals = target - np.asarray(out, dtype=np.float64).reshape(n, -1)
        if scoring == "neg_mean_squared_error":
            return checked(-np.mean(residuals**2))
        sse = np.sum(residuals**2, axis=0)
        sst = np.sum((target - target.mean(axis=0)) ** 2, axis=0)
        # scikit-learn's r2_score: each output's R^2 (1 for a constant target fitted exactly,
        # 0 for a constant target missed), averaged over the outputs
        r2 = np.where(sst > 0, 1.0 - sse / np.where(sst > 0, sst, 1.0), np.where(sse == 0, 1.0, 0.0))
        return checked(r2.mean())

    return regression, False


def _accuracy(
    y: np.ndarray, outputs: np.ndarray, width: int, classifier: Any, op: str, checked: Callable[[Any], float]
) -> tuple[Callable[[np.ndarray], float], bool]:
    n = len(y)
    if classifier is not None:  # a fitted classifier: y's labels as indices of its classes_
        classes = np.asarray(classifier.classes_)
        flat = y.reshape(n) if y.size == n else None
        known = flat is not None and np.isin(flat, classes).all()
        if not known:
            raise ValueError(
                f"{op}: y must hold one label of the classifier's classes_ {classes.tolist()} per sample, "
                f"got {y[:5].tolist()}..."
            )
        truth = np.searchsorted(classes, flat)
        return (lambda out: checked(np.mean(out.reshape(n) == truth))), True
    if y.size != n or (y.dtype.kind == "f" and not np.all(y == np.round(y))) or y.dtype.kind not in "biuf":
        raise ValueError(f"{op}: scoring='accuracy' needs one class index per sample, got y of shape {y.shape}")
    truth = y.reshape(n).astype(np.int64)
    if width > 1:
        if outputs.ndim != 2:
            raise ValueError(f"{op}: scoring='accuracy' needs (N, C) outputs, the model gives {outputs.shape}")
        if truth.min() < 0 or truth.max() >= width:
            raise ValueError(
                f"{op}: y holds class {truth[(truth < 0) | (truth >= width)][0]}, out of range for a model with "
                f"{width} outputs: y must be class indices 0..{width - 1} in the order of the outputs"
            )
        return (lambda out: checked(np.mean(out.argmax(axis=1) == truth))), False
    if not np.isin(truth, (0, 1)).all():
        raise ValueError(f"{op}: a model with one output is scored as a binary classifier: y must be 0 or 1")
    if outputs.min() < 0 or outputs.max() > 1:
        raise ValueError(
            f"{op}: scoring='accuracy' reads a single output as the probability of class 1, but the model's "
            f"outputs range over [{outputs.min():.3g}, {outputs.max():.3g}]: for logits pass "
            "scoring=lambda y, out: np.mean((out > 0) == y)"
        )
    return (lambda out: checked(np.mean((out.reshape(n) > 0.5) == truth))), False


METHODS: dict[str, Callable[..., Any]] = {
    "saliency": saliency,
    "input_x_gradient": input_x_gradient,
    "integrated_gradients": integrated_gradients,
    "ig": integrated_gradients,
    "smoothgrad": smoothgrad,
    "occlusion": occlusion,
    "feature_ablation": feature_ablation,
    "lime": lime,
}


def explain(model: Any, X: Any, method: str = "integrated_gradients", target: Any = None, **kwargs: Any) -> Any:
    """One entry point for every attribution method: ``method`` is one of ``METHODS`` ("saliency",
    "input_x_gradient", "integrated_gradients" or "ig", "smoothgrad", "occlusion",
    "feature_ablation", "lime"); the other arguments go to that method. (Permutation importance
    takes targets y, not a class to explain: call :func:`permutation_importance`.)

    Example:
        >>> import chainrule as cr
        >>> f = lambda x: (x * cr.tensor([2.0, -3.0])).sum(1)
        >>> cr.explain.explain(f, [[1.0, 1.0]], method="ig").round(4)
        array([[ 2., -3.]], dtype=float32)
    """
    if method not in METHODS:
        raise ValueError(f"explain: method must be one of {', '.join(METHODS)}, got {method!r}")
    return METHODS[method](model, X, target, **kwargs)
