"""Loss landscapes: the loss of a network along a line or over a plane through its parameter space.

A network's loss is a function of millions of parameters; these functions look at it through one
or two directions at a time:

* ``loss_landscape_1d``: the loss along the straight line between two parameter vectors,
  ``theta(t) = (1 - t) * a + t * b``, for t in [-0.5, 1.5] by default (Goodfellow, Vinyals and Saxe,
  "Qualitatively characterizing neural network optimization problems", ICLR 2015). From the
  initial weights (t = 0) to the trained ones (t = 1) the loss typically falls without a bump;
  between two trained solutions it may rise over a barrier between two minima.
* ``loss_landscape_2d``: the loss over the plane ``theta + alpha * d1 + beta * d2`` through the
  model's weights, along two random directions (Li, Xu, Taylor, Studer and Goldstein,
  "Visualizing the Loss Landscape of Neural Nets", NeurIPS 2018). With ``filter_normalize=True``
  each filter of a direction (the slice along the first axis of a weight: a row of a Linear's
  weight matrix, one neuron's input weights; an output channel of a convolution's kernel) is
  scaled to the norm of the same filter of the weights, so that a step of 1 moves each filter as
  far as its own size, whatever the layer's scale (a network with ReLUs computes the same function
  when a filter is scaled by c and the next layer's weights by 1/c; without the normalisation,
  the pictures of such networks would differ). Parameters of one dimension (biases, BatchNorm's
  and LayerNorm's scales and shifts) get a zero direction: they stay where they are over the whole
  plane, the choice of Li et al.'s plots (``ignore='biasbn'`` in their code, loss-landscape's
  ``net_plotter.normalize_directions_for_weights``). Buffers (BatchNorm's running statistics)
  stay as the model holds them.

Both evaluate the model in eval mode (dropout off, BatchNorm's running statistics) under
``no_grad``, the data in chunks of ``batch_size`` rows, the loss of the whole set once per point
(``loss_fn(outputs, y)``: its own reduction, as ``evaluate`` does). The model's parameters,
buffers and modes are put back exactly (bit for bit) afterwards, also when an error interrupts.

Example:
    >>> import numpy as np, chainrule as cr
    >>> model = cr.nn.Linear(1, 1)
    >>> X, y = np.array([[1.0], [2.0]], "float32"), np.array([[2.0], [4.0]], "float32")
    >>> a = {"weight": np.array([[0.0]]), "bias": np.array([0.0])}
    >>> b = {"weight": np.array([[2.0]]), "bias": np.array([0.0])}
    >>> line = loss_landscape_1d(model, cr.nn.MSELoss(), X, y, a, b, t_range=(0.0, 1.0), steps=3)
    >>> line.alphas.tolist(), line.losses.tolist()  # (1 - t) * a + t * b: 0 at the solution b
    ([0.0, 0.5, 1.0], [10.0, 2.5, 0.0])
"""

from __future__ import annotations

import contextlib
import math
import numbers
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from chainrule.autograd import no_grad
from chainrule.nn.module import Module, _evaluating
from chainrule.random import resolve_generator
from chainrule.tensor import Tensor
from chainrule.train.inference import _check_lengths, _check_output_rows, _param_dtype, _prepare

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["loss_landscape_1d", "loss_landscape_2d", "LossLandscape"]

DEFAULT_BATCH = 4096
"""Rows of X per forward pass."""


@dataclass
class LossLandscape:
    """The losses that ``loss_landscape_1d`` or ``loss_landscape_2d`` computed, and where.

    The point at coordinates ``(alpha, beta)`` is ``origin + alpha * directions[0] + beta *
    directions[1]`` (a line: ``origin + alpha * directions[0]``; for ``loss_landscape_1d``,
    ``origin`` is ``theta_a`` and ``directions[0]`` is ``theta_b - theta_a``, so alpha is t).

    Attributes:
        alphas: the coordinates along the first direction, shape (n,).
        betas: those along the second direction, shape (m,); None for a line.
        losses: the loss at each point: shape (n,) for a line; (n, m) for a plane, with
            ``losses[i, j]`` at ``(alphas[i], betas[j])``.
        directions: one or two directions, each {name: array} shaped like the state dict's entries.
        origin: the point at coordinates 0, {name: array}.

    Example:
        >>> import numpy as np, chainrule as cr
        >>> model = cr.nn.Linear(2, 1)
        >>> X, y = np.ones((4, 2), "float32"), np.zeros((4, 1), "float32")
        >>> plane = loss_landscape_2d(model, cr.nn.MSELoss(), X, y, steps=5, seed=0)
        >>> plane.ndim, plane.alphas.tolist(), plane.losses.shape
        (2, [-1.0, -0.5, 0.0, 0.5, 1.0], (5, 5))
    """

    alphas: np.ndarray
    betas: np.ndarray | None
    losses: np.ndarray
    directions: tuple[dict[str, np.ndarray], ...]
    origin: dict[str, np.ndarray]

    @property
    def ndim(self) -> int:
        """1 for a line, 2 for a plane."""
        return 1 if self.betas is None else 2

    def plot(self, kind: str | None = None, **kwargs: Any) -> Figure:
        """Draw it: ``chainrule.viz.training.plot_loss_landscape(self, kind, ...)``; returns the Figure.

        Example:
            >>> import numpy as np
            >>> from chainrule.explain.landscape import LossLandscape
            >>> line = LossLandscape(np.linspace(0, 1, 3), None, np.array([1.0, 0.5, 0.2]), ({},), {})
            >>> [ax.get_title() for ax in line.plot().axes]
            ['Loss along the line']
        """
        from chainrule.viz.training import plot_loss_landscape

        return plot_loss_landscape(self, kind=kind, **kwargs)


# ================================================================== the model, its data and its parameters


class _Landscape:
    """The model and its data checked, the loss at a point, and the model put back afterwards."""

    def __init__(self, model: Any, loss_fn: Any, X: Any, y: Any, batch_size: int, op: str):
        if not isinstance(model, Module):
            raise TypeError(f"{op}: model must be a chainrule.nn.Module, got {type(model).__name__}")
        if not callable(loss_fn):
            raise TypeError(f"{op}: loss_fn must be callable, loss_fn(outputs, targets) -> scalar, got {loss_fn!r}")
        if y is None:
            raise ValueError(f"{op}: y (the targets) is needed to compute a loss")
        self.op, self.model, self.loss_fn = op, model, loss_fn
        self.batch_size = _positive_int(batch_size, "batch_size", op)
        dtype = _param_dtype(model)
        self.X = _prepare(X, dtype, op, "X")
        self.y = _prepare(y, dtype, op, "y")
        _check_lengths(self.X, self.y, op)
        if len(self.X) == 0:
            raise ValueError(f"{op}: there are no samples (X has 0 rows, shape {self.X.shape})")
        self.params = dict(model.named_parameters())
        if not self.params:
            raise ValueError(f"{op}: {type(model).__name__} has no parameters: it has no loss landscape")
        self.entries: dict[str, Tensor] = model.state_dict(keep_vars=True)  # parameters and persistent buffers

    @contextlib.contextmanager
    def evaluating(self) -> Iterator[None]:
        """Eval mode and the model's own values for the duration; afterwards its modes, parameters
        and buffers put back, bit for bit (written back into the same arrays)."""
        saved = {name: t._data.copy() for name, t in self.entries.items()}
        with _evaluating([self.model]):
            try:
                yield
            finally:
                for name, t in self.entries.items():
                    t._data[...] = saved[name]  # the values a graph built before the call saw: not marked modified

    def set(self, values: Mapping[str, np.ndarray]) -> None:
        """Write ``values`` (name -> array, float64) into the model's entries, in their dtypes."""
        for name, value in values.items():
            self.entries[name]._data[...] = value

    def loss(self) -> float:
        """The loss of the model as it stands on all of X, y (forward in chunks, no graph)."""
        outputs = []
        with no_grad():
            for start in range(0, len(self.X), self.batch_size):
                rows = self.X[start : start + self.batch_size]
                out = self.model(Tensor._make(rows))
                out = out._data if isinstance(out, Tensor) else np.asarray(out)
                _check_output_rows(out, rows, self.op)
                outputs.append(out)
            loss = self.loss_fn(Tensor._make(np.concatenate(outputs)), self.y)
        value = np.asarray(loss._data if isinstance(loss, Tensor) else loss)
        if value.size != 1:
            raise ValueError(
                f"{self.op}: loss_fn must return one number (a loss with reduction='mean' or 'sum'), got an array of "
                f"shape {value.shape}"
            )
        return float(value.reshape(()))


def _positive_int(value: Any, name: str, op: str, least: int = 1) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < least:
        raise ValueError(f"{op}: {name} must be an integer >= {least}, got {value!r}")
    return int(value)


def _finite_float(value: Any, name: str, op: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{op}: {name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{op}: {name} must be finite, got {value!r}")
    return number


def _as_entries(theta: Any, model: Module, what: str, op: str, buffers: bool) -> dict[str, np.ndarray]:
    """``theta`` as {name: float64 array} of the model's parameters (and, with ``buffers``, the
    floating buffers it names): from a state dict, a Module of the same architecture, or a flat
    vector of every parameter in ``model.parameters()`` order (``parameters_to_vector``). Every
    problem is reported at once."""
    params = dict(model.named_parameters())
    if isinstance(theta, Module):
        theta = theta.state_dict()
    if isinstance(theta, Mapping):
        known = model.state_dict(keep_vars=True)
        usable = {k for k, t in known.items() if k in params or (buffers and t._data.dtype.kind == "f")}
        missing = [k for k in params if k not in theta]
        unexpected = [k for k in theta if k not in known]
        values = {
            k: np.asarray(v._data if isinstance(v, Tensor) else v, dtype=np.float64)
            for k, v in theta.items()
            if k in usable
        }
        mis_shaped = [
            f"{k}: expected {known[k].shape}, got {v.shape}" for k, v in values.items() if v.shape != known[k].shape
        ]
        if missing or unexpected or mis_shaped:
            raise ValueError(
                f"{op}: {what} does not fit {type(model).__name__}'s parameters: missing {missing}, unexpected "
                f"{unexpected}, mis-shaped {mis_shaped}"
            )
        return values
    vector = np.asarray(theta._data if isinstance(theta, Tensor) else theta)
    total = sum(p.size for p in params.values())
    if vector.ndim != 1 or vector.size != total or vector.dtype.kind not in "biuf":
        raise ValueError(
            f"{op}: {what} must be a state dict ({{name: array}}), a Module, or a flat vector of the {total} "
            f"parameter values (parameters_to_vector(model.parameters())); got {type(theta).__name__} of shape "
            f"{vector.shape} and dtype {vector.dtype}"
        )
    values, start = {}, 0
    for name, p in params.items():
        values[name] = vector[start : start + p.size].astype(np.float64).reshape(p.shape)
        start += p.size
    return values


def _check_finite_entries(values: Mapping[str, np.ndarray], what: str, op: str) -> None:
    bad = [k for k, v in values.items() if not np.isfinite(v).all()]
    if bad:
        raise ValueError(f"{op}: {what} holds NaN or infinite values in {bad}")


# ================================================================== the line


def loss_landscape_1d(
    model: Module,
    loss_fn: Any,
    X: Any,
    y: Any,
    theta_a: Any,
    theta_b: Any = None,
    *,
    steps: int = 41,
    t_range: tuple[float, float] = (-0.5, 1.5),
    batch_size: int = DEFAULT_BATCH,
) -> LossLandscape:
    """The loss along the line through two parameter vectors: at ``(1 - t) * a + t * b`` for
    ``steps`` values of t evenly spaced over ``t_range`` (Goodfellow et al. 2015's linear
    interpolation; t = 0 is a, t = 1 is b, exactly).

    The model is evaluated in eval mode under ``no_grad``; its parameters, buffers and modes are
    put back exactly afterwards.

    Args:
        model: the network (a ``Module``); its architecture gives the parameters' names and shapes.
        loss_fn: ``loss_fn(outputs, targets) -> scalar Tensor``, e.g. ``nn.CrossEntropyLoss()``.
        X, y: the data (arrays or Tensors) the loss is computed on, whole at each point.
        theta_a: the point at t = 0: a state dict (``model.state_dict()``, e.g. saved before
            training), a Module of the same architecture, or a flat vector of all parameters
            (``nn.utils.parameters_to_vector(model.parameters())``). It must hold every parameter;
            floating buffers it holds (BatchNorm's running statistics) are interpolated too when
            ``theta_b`` holds them as well (between a and b only: beyond the ends they keep the
            nearer end's values, as an extrapolated variance could turn negative); integer
            buffers (counters) are left alone.
        theta_b: the point at t = 1, of the same kind; default None: the model's present values
            (so that ``loss_landscape_1d(model, loss_fn, X, y, initial_state)`` runs from the
            initial weights to the trained ones).
        steps: points on the line, at least 2 (default 41: t in steps of 0.05).
        t_range: the first and last t (default (-0.5, 1.5): half the way past each end).
        batch_size: rows of X per forward pass.

    Returns:
        A ``LossLandscape`` with ``alphas`` the values of t, ``losses`` the loss at each,
        ``origin`` a and ``directions`` (b - a,) (with the buffers, if any, among the entries).

    Raises:
        ValueError: a and b do not fit the model or each other (every missing, unexpected and
            mis-shaped entry named at once), steps < 2, or a t_range that is not increasing.

    Example:
        >>> import numpy as np, chainrule as cr
        >>> _ = cr.manual_seed(0)
        >>> model = cr.nn.Sequential(cr.nn.Linear(2, 8), cr.nn.Tanh(), cr.nn.Linear(8, 1))
        >>> X = np.random.default_rng(0).normal(size=(64, 2)).astype("float32")
        >>> y = X[:, :1] * X[:, 1:]
        >>> initial = model.state_dict()
        >>> _ = cr.train.fit(model, cr.nn.MSELoss(), cr.optim.Adam(model.parameters(), lr=0.05), X, y,
        ...                  epochs=30, verbose=0)
        >>> line = loss_landscape_1d(model, cr.nn.MSELoss(), X, y, initial)  # initial -> trained
        >>> t0, t1 = list(line.alphas).index(0.0), list(line.alphas).index(1.0)
        >>> bool(line.losses[t1] < line.losses[t0])
        True
    """
    op = "loss_landscape_1d"
    steps = _positive_int(steps, "steps", op, least=2)
    if not isinstance(t_range, (tuple, list)) or len(t_range) != 2:
        raise ValueError(f"{op}: t_range must be (first t, last t), got {t_range!r}")
    first, last = (_finite_float(t, "t_range", op) for t in t_range)
    if not first < last:
        raise ValueError(f"{op}: t_range must be increasing, got {t_range!r}")
    land = _Landscape(model, loss_fn, X, y, batch_size, op)
    a = _as_entries(theta_a, model, "theta_a", op, buffers=True)
    if theta_b is None:
        b = {k: land.entries[k]._data.astype(np.float64) for k in a}
    else:
        b = _as_entries(theta_b, model, "theta_b", op, buffers=True)
        if set(a) != set(b):
            raise ValueError(
                f"{op}: theta_a and theta_b must hold the same entries; only in theta_a: "
                f"{sorted(set(a) - set(b))}, only in theta_b: {sorted(set(b) - set(a))}"
            )
    _check_finite_entries(a, "theta_a", op)
    _check_finite_entries(b, "theta_b", op)
    ts = np.linspace(first, last, steps)
    losses = np.empty(steps)
    with land.evaluating():
        for i, t in enumerate(ts):
            clipped = min(max(t, 0.0), 1.0)  # buffers stay between a and b: a variance must not turn negative
            ends = {k: t if k in land.params else clipped for k in a}
            land.set({k: (1.0 - ends[k]) * a[k] + ends[k] * b[k] for k in a})  # exactly a at t = 0, b at t = 1
            losses[i] = land.loss()
    dtypes = {k: land.entries[k]._data.dtype for k in a}
    return LossLandscape(
        alphas=ts,
        betas=None,
        losses=losses,
        directions=({k: (b[k] - a[k]).astype(dtypes[k]) for k in a},),
        origin={k: a[k].astype(dtypes[k]) for k in a},
    )


# ================================================================== the plane


def _filter_normalized(direction: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``direction`` with each filter (slice along the first axis) scaled to the norm of the same
    filter of ``weight`` (Li et al. 2018); a parameter of one dimension gets zeros."""
    if weight.ndim <= 1:
        return np.zeros_like(direction)
    d = direction.reshape(len(direction), -1)
    w = weight.reshape(len(weight), -1)
    d_norms = np.linalg.norm(d, axis=1, keepdims=True)
    w_norms = np.linalg.norm(w, axis=1, keepdims=True)
    scale = np.divide(w_norms, d_norms, out=np.zeros_like(d_norms), where=d_norms > 0)  # a zero filter stays zero
    return (d * scale).reshape(direction.shape)


def _grid(span: float, steps: int) -> np.ndarray:
    """``steps`` points evenly spaced over [-span, span], exactly symmetric (0 exactly in the middle)."""
    grid = np.linspace(-span, span, steps)
    return (grid - grid[::-1]) / 2


def loss_landscape_2d(
    model: Module,
    loss_fn: Any,
    X: Any,
    y: Any,
    directions: tuple[Any, Any] | None = None,
    span: float = 1.0,
    steps: int = 25,
    seed: int | np.random.Generator | None = None,
    filter_normalize: bool = True,
    *,
    batch_size: int = DEFAULT_BATCH,
) -> LossLandscape:
    """The loss over a plane through the model's parameters: at ``theta + alpha * d1 + beta * d2``
    for alpha and beta on a ``steps`` x ``steps`` grid over [-span, span] (Li et al. 2018).

    The directions are drawn at random (standard normal, one value per parameter) unless given.
    With ``filter_normalize`` (default) each filter of a direction (the slice along the first
    axis of a weight: a row of a Linear's weight, an output channel of a convolution's kernel) is
    scaled to the norm of the weights' filter, and the directions of parameters of one dimension
    (biases, BatchNorm's scales and shifts) are zero: they keep their values across the plane, as
    in Li et al.'s plots. ``filter_normalize=False`` uses the directions as drawn or given, every
    parameter included. Buffers stay as the model holds them. In many dimensions two random
    directions are nearly orthogonal; nothing makes them exactly so.

    The model is evaluated in eval mode under ``no_grad``; its parameters, buffers and modes are
    put back exactly afterwards.

    Args:
        model: the network (a ``Module``), at the point theta the plane goes through.
        loss_fn: ``loss_fn(outputs, targets) -> scalar Tensor``, e.g. ``nn.CrossEntropyLoss()``.
        X, y: the data (arrays or Tensors) the loss is computed on, whole at each point.
        directions: (d1, d2), each a {name: array} for every parameter (the layout of
            ``model.state_dict()``'s parameters) or a flat vector of all parameters; default
            None: drawn at random from ``seed``.
        span: the grid covers [-span, span] in both directions (default 1.0: one filter's norm
            each way, with filter normalisation).
        steps: grid points per direction, at least 2 (default 25; odd puts theta itself at the
            centre).
        seed: the seed or generator of the random directions (default None: chainrule's random
            source, see ``cr.manual_seed``).
        filter_normalize: normalise the directions filter by filter (default True).
        batch_size: rows of X per forward pass.

    Returns:
        A ``LossLandscape`` with ``alphas``, ``betas`` (the grid), ``losses[i, j]`` at
        ``(alphas[i], betas[j])``, ``origin`` the model's parameters and ``directions`` (d1, d2)
        as used (normalised), which can be given again to compute the same plane.

    Raises:
        ValueError: directions that do not fit the model (every problem named), steps < 2, a span
            that is not positive.

    Example:
        >>> import numpy as np, chainrule as cr
        >>> _ = cr.manual_seed(0)
        >>> model = cr.nn.Sequential(cr.nn.Linear(2, 8), cr.nn.ReLU(), cr.nn.Linear(8, 1))
        >>> X = np.random.default_rng(0).normal(size=(32, 2)).astype("float32")
        >>> y = np.abs(X[:, :1])
        >>> plane = loss_landscape_2d(model, cr.nn.MSELoss(), X, y, steps=5, seed=0)
        >>> plane.losses.shape, [list(d) for d in plane.directions]
        ((5, 5), [['0.weight', '0.bias', '2.weight', '2.bias'], ['0.weight', '0.bias', '2.weight', '2.bias']])
        >>> at_theta = cr.train.evaluate(model, cr.nn.MSELoss(), X, y)["loss"]
        >>> bool(np.isclose(plane.losses[2, 2], at_theta))  # the centre is the model itself
        True
    """
    op = "loss_landscape_2d"
    steps = _positive_int(steps, "steps", op, least=2)
    span = _finite_float(span, "span", op)
    if span <= 0:
        raise ValueError(f"{op}: span must be positive, got {span!r}")
    land = _Landscape(model, loss_fn, X, y, batch_size, op)
    theta = {k: p._data.astype(np.float64) for k, p in land.params.items()}
    if directions is None:
        rng = resolve_generator(seed)
        drawn = [{k: rng.standard_normal(v.shape) for k, v in theta.items()} for _ in range(2)]
    else:
        if not isinstance(directions, (tuple, list)) or len(directions) != 2:
            raise ValueError(f"{op}: directions must be a pair (d1, d2), got {type(directions).__name__}")
        drawn = [_as_entries(d, model, f"directions[{i}]", op, buffers=False) for i, d in enumerate(directions)]
        for i, d in enumerate(drawn):
            _check_finite_entries(d, f"directions[{i}]", op)
    if filter_normalize:
        drawn = [{k: _filter_normalized(d[k], theta[k]) for k in theta} for d in drawn]
    d1, d2 = drawn
    alphas, betas = _grid(span, steps), _grid(span, steps)
    losses = np.empty((steps, steps))
    with land.evaluating():
        for i, alpha in enumerate(alphas):
            for j, beta in enumerate(betas):
                land.set({k: theta[k] + alpha * d1[k] + beta * d2[k] for k in theta})  # theta itself at (0, 0)
                losses[i, j] = land.loss()
    dtypes = {k: p._data.dtype for k, p in land.params.items()}
    return LossLandscape(
        alphas=alphas,
        betas=betas,
        losses=losses,
        directions=tuple({k: d[k].astype(dtypes[k]) for k in theta} for d in (d1, d2)),
        origin={k: p._data.copy() for k, p in land.params.items()},
    )
