"""Pictures of how a network trains, drawn with matplotlib (an optional extra).

* ``plot_gradient_flow``: what a ``chainrule.train.GradientMonitor`` recorded: each layer's
  gradient norm across the network and over the run, and the update/weight ratio of its steps;
* ``plot_loss_landscape``: a loss landscape from ``chainrule.explain.landscape``: a line
  (``loss_landscape_1d``), or a plane as contours or a surface (``loss_landscape_2d``).

Like ``plots.py``: a Figure built without pyplot (``path=`` saves it, ``show=True`` shows it),
matplotlib imported when a function is called.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from chainrule.viz.plots import PANEL_SIZE, _finish, _new_figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_gradient_flow", "plot_loss_landscape"]

HEALTHY_RATIO = 1e-3
"""The update/weight ratio drawn as a reference line (cs231n's rule of thumb: about 1e-3 per step)."""
PROFILE_RECORDS = 5
"""``plot_gradient_flow``'s by-layer panel shows at most this many records, first to last."""
KINDS = ("line", "contour", "surface")


# ================================================================== gradient flow


def _gradient_history(item: Any, caller: str) -> Any:
    """The ``GradientHistory`` of a ``GradientMonitor`` (or the history itself), checked non-empty.

    Recognised by its fields rather than its class: ``GradientMonitor.plot`` calls this module,
    so importing ``chainrule.train.callbacks`` here would make an import cycle."""
    history = getattr(item, "history", item)
    fields = ("steps", "epochs", "grad_norm", "update_ratio")
    if not all(hasattr(history, f) for f in fields) or not isinstance(getattr(history, "grad_norm", None), dict):
        raise TypeError(
            f"{caller}: expected a GradientMonitor or its GradientHistory (or a dict of them by label), "
            f"got {type(item).__name__}"
        )
    if len(history) == 0:
        raise ValueError(
            f"{caller}: nothing was recorded yet: pass the GradientMonitor to fit(callbacks=[...]), or call its "
            "record(model) after loss.backward() in a loop of your own"
        )
    return history


def _x_axis(history: Any, x: str, caller: str) -> tuple[np.ndarray, str]:
    """The x values of the records and their label: epochs (one record per epoch) or steps."""
    if x not in ("auto", "epoch", "step"):
        raise ValueError(f"{caller}: x must be 'auto', 'epoch' or 'step', got {x!r}")
    epochs = history.epochs
    by_epoch = all(e is not None for e in epochs) and all(a < b for a, b in zip(epochs, epochs[1:]))
    if x == "epoch" and not by_epoch:
        raise ValueError(f"{caller}: x='epoch' needs one record per epoch, with its epoch; got epochs {epochs}")
    if x == "epoch" or (x == "auto" and by_epoch):
        return np.asarray(epochs, dtype=float), "epoch"
    return np.asarray(history.steps, dtype=float), "step"


def _positive(values: Sequence[float]) -> np.ndarray:
    """Values for a log axis: NaN where not positive (matplotlib leaves a gap)."""
    a = np.asarray(values, dtype=float)
    return np.where(a > 0, a, np.nan)


def _flow_panels(axes: Sequence[Axes], history: Any, names: list[str], x: str, prefix: str, caller: str) -> None:
    import matplotlib as mpl

    xs, x_label = _x_axis(history, x, caller)
    depth = mpl.colormaps["viridis"](np.linspace(0.0, 0.9, max(len(names), 1)))
    profile, over_time = axes[0], axes[1]

    n = len(history)
    shown = sorted(set(np.linspace(0, n - 1, min(n, PROFILE_RECORDS)).round().astype(int).tolist()))
    time_colours = mpl.colormaps["Oranges"](np.linspace(0.35, 1.0, len(shown)))
    positions = np.arange(len(names))
    for colour, i in zip(time_colours, shown):
        values = _positive([history.grad_norm[name][i] for name in names])
        ax_label = f"{x_label} {int(xs[i])}"
        profile.plot(positions, values, "o-", color=colour, markersize=4, linewidth=1.4, label=ax_label)
    profile.set_xticks(positions, names, rotation=60, ha="right", fontsize="small")
    profile.set_yscale("log")
    profile.set_title(f"{prefix}Gradient norm by layer")
    profile.set_ylabel("||gradient||")
    profile.grid(True, alpha=0.3, which="both")
    profile.legend(frameon=False, fontsize="small")

    for colour, name in zip(depth, names):
        over_time.plot(xs, _positive(history.grad_norm[name]), color=colour, linewidth=1.4, label=name)
    over_time.set_yscale("log")
    over_time.set_title(f"{prefix}Gradient norm")
    over_time.set_xlabel(x_label)
    over_time.set_ylabel("||gradient|| (log scale)")
    over_time.grid(True, alpha=0.3, which="both")
    over_time.legend(frameon=False, fontsize="x-small", ncol=2 if len(names) > 6 else 1)

    if len(axes) > 2:
        ratio = axes[2]
        for colour, name in zip(depth, names):
            ratio.plot(xs, _positive(history.update_ratio[name]), color=colour, linewidth=1.4, label=name)
        ratio.axhline(HEALTHY_RATIO, color="0.4", linestyle=":", linewidth=1.2, label=f"{HEALTHY_RATIO:g}")
        ratio.set_yscale("log")
        ratio.set_title(f"{prefix}Update / weight ratio")
        ratio.set_xlabel(x_label)
        ratio.set_ylabel("||update|| / ||weight|| (log scale)")
        ratio.grid(True, alpha=0.3, which="both")


def plot_gradient_flow(
    monitor_or_history: Any,
    *,
    names: Sequence[str] | None = None,
    x: str = "auto",
    path: str | os.PathLike | None = None,
    show: bool = False,
) -> Figure:
    """Plot the gradient flow that a ``GradientMonitor`` recorded.

    Panels: the gradient norm of each parameter across the network (input side on the left) at up
    to five records from first to last, where vanishing gradients show as a slope down towards
    the input; each parameter's gradient norm over the run; and, when the steps were recorded too
    (``record_update``), each parameter's update/weight ratio, with a dotted line at 1e-3 (a common
    rule of thumb for a healthy step). Lines are coloured by depth (dark: input side). Log scales
    throughout; zero and NaN values leave gaps.

    Args:
        monitor_or_history: a ``GradientMonitor``, its ``GradientHistory``, or a dict
            {label: monitor or history} to compare runs: one row of panels per label, with the
            same y-scales, the label over each panel's title.
        names: the parameters to draw (default: all recorded, in the model's order).
        x: the x-axis of the panels over the run: 'epoch', 'step', or 'auto' (default: epochs
            when there is one record per epoch, else steps).
        path: save the figure there (PNG unless the suffix names another format); parent
            folders are created. Default None: not saved.
        show: also show the figure with ``pyplot.show()`` (default False).

    Returns:
        The matplotlib ``Figure``, with one Axes per panel.

    Raises:
        ImportError: matplotlib is not installed (``pip install "chainrule[viz]"``).
        ValueError: nothing recorded, or ``names`` not recorded.

    Example:
        >>> from chainrule.train import GradientHistory
        >>> h = GradientHistory(steps=[10, 20], epochs=[1, 2],
        ...                     grad_norm={"0.weight": [1e-4, 2e-4], "2.weight": [0.1, 0.05]},
        ...                     update_ratio={"0.weight": [1e-6, 1e-6], "2.weight": [1e-3, 8e-4]})
        >>> fig = plot_gradient_flow(h)
        >>> [ax.get_title() for ax in fig.axes]
        ['Gradient norm by layer', 'Gradient norm', 'Update / weight ratio']
    """
    caller = "plot_gradient_flow"
    if isinstance(monitor_or_history, Mapping):
        if not monitor_or_history:
            raise ValueError(f"{caller}: the dict of runs is empty")
        runs = {str(label): _gradient_history(item, caller) for label, item in monitor_or_history.items()}
        prefixes = {label: f"{label}\n" for label in runs}
    else:
        runs = {"": _gradient_history(monitor_or_history, caller)}
        prefixes = {"": ""}
    chosen: dict[str, list[str]] = {}
    for label, history in runs.items():
        wanted = history.names if names is None else list(names)
        unknown = [name for name in wanted if name not in history.grad_norm]
        if unknown or not wanted:
            raise ValueError(f"{caller}: {unknown or 'no parameters'} not recorded; recorded: {history.names}")
        chosen[label] = wanted
    with_ratio = any(
        np.isfinite(np.asarray(h.update_ratio[name], dtype=float)).any() for h in runs.values() for name in h.names
    )
    n_cols = 3 if with_ratio else 2
    fig = _new_figure(caller, (PANEL_SIZE[0] * n_cols, (PANEL_SIZE[1] + 0.4) * len(runs)), show)
    axes = fig.subplots(len(runs), n_cols, squeeze=False, sharey="col" if len(runs) > 1 else False)
    for row, (label, history) in zip(axes, runs.items()):
        _flow_panels(row, history, chosen[label], x, prefixes[label], caller)
    _finish(fig, path, show)
    return fig


# ================================================================== loss landscapes


def _check_landscape(result: Any, caller: str) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    alphas = getattr(result, "alphas", None)
    losses = getattr(result, "losses", None)
    if alphas is None or losses is None or not hasattr(result, "betas"):
        raise TypeError(
            f"{caller}: expected a LossLandscape (from loss_landscape_1d or loss_landscape_2d), "
            f"got {type(result).__name__}"
        )
    alphas, losses = np.asarray(alphas, dtype=float), np.asarray(losses, dtype=float)
    betas = None if result.betas is None else np.asarray(result.betas, dtype=float)
    expected = (len(alphas),) if betas is None else (len(alphas), len(betas))
    if losses.shape != expected:
        raise ValueError(f"{caller}: the losses have shape {losses.shape}, the grid {expected}")
    return alphas, betas, losses


def plot_loss_landscape(
    result: Any,
    kind: str | None = None,
    *,
    levels: int = 30,
    log: bool = False,
    title: str | None = None,
    path: str | os.PathLike | None = None,
    show: bool = False,
) -> Figure:
    """Plot a loss landscape: a line, or a plane as contours or a surface.

    Args:
        result: the ``LossLandscape`` that ``loss_landscape_1d`` or ``loss_landscape_2d`` returned.
        kind: 'line' (for a line), 'contour' (filled contours with a colour bar, the model's
            point marked) or 'surface' (3-D) for a plane; default None: 'line' for a line,
            'contour' for a plane.
        levels: contour levels (default 30).
        log: draw log10 of the loss (default False): shows the shape of a landscape whose loss
            spans orders of magnitude.
        title: the Axes' title (default: one naming the kind).
        path: save the figure there (PNG unless the suffix names another format); parent
            folders are created. Default None: not saved.
        show: also show the figure with ``pyplot.show()`` (default False).

    Returns:
        The matplotlib ``Figure`` (with the colour bar's Axes after the plot's, for 'contour').

    Raises:
        ImportError: matplotlib is not installed (``pip install "chainrule[viz]"``).
        ValueError: an unknown kind, or one that does not fit the landscape's dimensions.

    Example:
        >>> import numpy as np
        >>> from chainrule.explain.landscape import LossLandscape
        >>> grid = np.linspace(-1, 1, 9)
        >>> plane = LossLandscape(grid, grid, np.add.outer(grid**2, 2 * grid**2), ({}, {}), {})
        >>> fig = plot_loss_landscape(plane, "contour")
        >>> fig.axes[0].get_title(), fig.axes[0].get_xlabel()
        ('Loss landscape (contour)', 'alpha (direction 1)')
        >>> plot_loss_landscape(plane, "surface").axes[0].name
        '3d'
    """
    caller = "plot_loss_landscape"
    alphas, betas, losses = _check_landscape(result, caller)
    if kind is None:
        kind = "line" if betas is None else "contour"
    if kind not in KINDS:
        raise ValueError(f"{caller}: kind must be one of {KINDS}, got {kind!r}")
    if (kind == "line") != (betas is None):
        have = "a line (loss_landscape_1d)" if betas is None else "a plane (loss_landscape_2d)"
        fits = "'line'" if betas is None else "'contour' or 'surface'"
        raise ValueError(f"{caller}: kind={kind!r} does not fit {have}; use kind={fits}")
    levels = int(levels)
    if levels < 2:
        raise ValueError(f"{caller}: levels must be at least 2, got {levels}")
    values = losses.copy()
    if log:
        with np.errstate(divide="ignore", invalid="ignore"):
            values = np.where(values > 0, np.log10(values), np.nan)
    values[~np.isfinite(values)] = np.nan
    z_label = "log10 loss" if log else "loss"

    if kind == "line":
        fig = _new_figure(caller, (6.4, 4.2), show)
        ax = fig.subplots()
        ax.plot(alphas, values, color="C0", linewidth=1.8)
        for t, name in ((0.0, "t = 0 (a)"), (1.0, "t = 1 (b)")):
            if alphas[0] <= t <= alphas[-1]:
                ax.axvline(t, color="0.5", linestyle=":", linewidth=1.2)
                ax.annotate(name, (t, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -12),
                            textcoords="offset points", fontsize="small", color="0.3")  # fmt: skip
        ax.set_title(title or "Loss along the line")
        ax.set_xlabel("t   ((1 - t) a + t b)")
        ax.set_ylabel(z_label)
        ax.grid(True, alpha=0.3)
    elif kind == "contour":
        fig = _new_figure(caller, (5.8, 4.8), show)
        ax = fig.subplots()
        masked = np.ma.masked_invalid(values.T)  # rows: beta, columns: alpha
        filled = ax.contourf(alphas, betas, masked, levels=levels, cmap="viridis")
        ax.contour(alphas, betas, masked, levels=levels, colors="k", linewidths=0.4, alpha=0.5, linestyles="solid")
        fig.colorbar(filled, ax=ax, label=z_label)
        ax.plot([0.0], [0.0], marker="*", color="w", markeredgecolor="k", markersize=12, linestyle="none",
                label="the model")  # fmt: skip
        ax.set_title(title or "Loss landscape (contour)")
        ax.set_xlabel("alpha (direction 1)")
        ax.set_ylabel("beta (direction 2)")
        ax.set_aspect("equal", adjustable="box")
        ax.legend(loc="upper right", fontsize="small")
    else:
        fig = _new_figure(caller, (6.4, 5.2), show)
        ax = fig.add_subplot(projection="3d")
        A, B = np.meshgrid(alphas, betas, indexing="ij")
        ax.plot_surface(A, B, np.ma.masked_invalid(values), cmap="viridis", linewidth=0, antialiased=True)
        ax.set_title(title or "Loss landscape (surface)")
        ax.set_xlabel("alpha (direction 1)")
        ax.set_ylabel("beta (direction 2)")
        ax.set_zlabel(z_label)
    _finish(fig, path, show)
    return fig
