"""Training curves and decision boundaries, drawn with matplotlib (an optional extra).

Both functions build a ``matplotlib.figure.Figure`` directly, with an Agg canvas, rather than
going through ``pyplot``: no global state changes, no GUI and no display are needed, and the
backend the user chose (if any) is left alone. The returned Figure displays inline in Jupyter
when it is the last expression of a cell; ``path=`` saves it (PNG by default, or the format the
file's suffix names).

Only ``show=True`` touches ``pyplot``: the figure is then made by it and shown with
``pyplot.show()`` (which needs an interactive backend to open a window).

matplotlib is imported when a function is called, never when ``chainrule.viz`` is imported.
"""

from __future__ import annotations

import functools
import io
import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from chainrule.nn.module import Module
from chainrule.tensor import Tensor

if TYPE_CHECKING:  # only for annotations: matplotlib is imported when a function is called
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_history", "plot_decision_boundary"]

TRAIN_STYLE = {"linestyle": "-", "color": "C0", "linewidth": 1.8}
VAL_STYLE = {"linestyle": "--", "color": "C1", "linewidth": 1.8}
PANEL_SIZE = (4.6, 3.4)
"""Inches per panel of ``plot_history`` (width, height)."""
MAX_COLUMNS = 3
"""``plot_history`` puts at most this many panels in a row."""
HIDDEN_BY_DEFAULT = ("lr",)
"""Logged values that ``plot_history`` leaves out unless named in ``metrics``."""
GRID_MARGIN = 0.1
"""``plot_decision_boundary`` extends the grid this fraction of the data's range past each side."""
PREDICT_BATCH = 8192
"""Grid points per forward pass when a chainrule Module is asked for the decision boundary."""


def _import_matplotlib(caller: str) -> tuple[type, type]:
    """(Figure class that displays inline in Jupyter, FigureCanvasAgg), or a clear ImportError."""
    try:
        import matplotlib  # noqa: F401  (fails first, and clearly, when matplotlib is missing)
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure  # noqa: F401
    except ImportError as err:
        raise ImportError(
            f"{caller} needs matplotlib, an optional extra of chainrule: "
            'pip install "chainrule[viz]" (or pip install matplotlib)'
        ) from err
    return _inline_figure_class(), FigureCanvasAgg


@functools.cache
def _inline_figure_class() -> type:
    from matplotlib.figure import Figure

    class InlineFigure(Figure):
        """A Figure that renders itself as PNG for Jupyter even when pyplot was never imported."""

        def _repr_png_(self) -> bytes:
            buffer = io.BytesIO()
            self.savefig(buffer, format="png", bbox_inches="tight")
            return buffer.getvalue()

    InlineFigure.__module__, InlineFigure.__qualname__ = __name__, "InlineFigure"  # picklable by name
    return InlineFigure


def __getattr__(name: str) -> Any:
    """``plots.InlineFigure`` on demand (defined on first use, as it subclasses matplotlib's Figure)."""
    if name == "InlineFigure":
        return _inline_figure_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _new_figure(caller: str, figsize: tuple[float, float], show: bool) -> Figure:
    figure_class, canvas_class = _import_matplotlib(caller)
    if show:  # the user asked for a window: pyplot manages this figure so that it can be shown
        import matplotlib.pyplot as plt

        return plt.figure(figsize=figsize, FigureClass=figure_class, layout="constrained")
    fig = figure_class(figsize=figsize, layout="constrained")
    canvas_class(fig)  # attaches itself as fig.canvas: drawing and saving need no pyplot
    return fig


def _finish(fig: Figure, path: str | os.PathLike | None, show: bool) -> None:
    if path is not None:
        path = os.fspath(path)
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        fig.savefig(path, dpi=110)
    if show:
        import matplotlib.pyplot as plt

        plt.show()


def _pretty(name: str) -> str:
    """'val_top5_accuracy' -> 'Top5 accuracy' (the val_ prefix is the panel's dashed line)."""
    text = name.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def _history_columns(history: Any) -> tuple[dict[str, list[float]], list[int]]:
    """The recorded values and epoch numbers of a History, a Keras-style object or a dict."""
    columns = getattr(history, "history", history)
    if not isinstance(columns, Mapping):
        raise TypeError(
            "plot_history: history must be a chainrule History (returned by fit) or a dict of "
            f"per-epoch lists, got {type(history).__name__}"
        )
    columns = {str(k): list(np.asarray(v, dtype=float).reshape(-1)) for k, v in columns.items()}
    lengths = {len(v) for v in columns.values()}
    if not columns or lengths == {0}:
        raise ValueError("plot_history: the history is empty (no epoch was recorded)")
    if len(lengths) != 1:
        raise ValueError(
            f"plot_history: the recorded lists differ in length: { {k: len(v) for k, v in columns.items()} }"
        )
    n_epochs = lengths.pop()
    epochs = list(getattr(history, "epoch", None) or range(1, n_epochs + 1))
    if len(epochs) != n_epochs:
        epochs = list(range(1, n_epochs + 1))
    return columns, epochs


def _quantities(columns: Mapping[str, list[float]], metrics: str | Sequence[str] | None) -> list[str]:
    """The panels, in order: the loss first, then each metric (given, or all recorded)."""
    base = list(dict.fromkeys(k[4:] if k.startswith("val_") else k for k in columns))
    if metrics is None:
        chosen = [q for q in base if q != "loss" and q not in HIDDEN_BY_DEFAULT]
    else:
        chosen = [metrics] if isinstance(metrics, str) else list(metrics)
        unknown = [m for m in chosen if m not in base]
        if unknown:
            raise ValueError(f"plot_history: {unknown} not recorded in the history; recorded: {sorted(columns)}")
    return (["loss"] if "loss" in base else []) + [q for q in dict.fromkeys(chosen) if q != "loss"]


def plot_history(
    history: Any,
    metrics: str | Sequence[str] | None = None,
    path: str | os.PathLike | None = None,
    show: bool = False,
) -> Figure:
    """Plot the loss and metric curves of a training run, one panel per quantity.

    Training values are drawn solid, validation values (the ``val_`` keys) dashed, against the
    epoch number. The loss panel marks the epoch of the lowest validation loss (the one
    ``EarlyStopping(restore_best_weights=True)`` goes back to). ``History.plot()`` calls this.

    Args:
        history: the ``History`` that ``fit`` returns (or a dict of per-epoch lists, the layout
            of ``history.history``).
        metrics: the metrics to plot after the loss, e.g. ``["accuracy"]``; default None plots
            every recorded metric except the learning rate ``lr`` (name it to plot it).
        path: save the figure there (PNG unless the suffix names another format); parent
            folders are created. Default None: not saved.
        show: also show the figure with ``pyplot.show()`` (default False). In Jupyter the
            returned Figure displays by itself.

    Returns:
        The matplotlib ``Figure``, with one Axes per panel.

    Raises:
        ImportError: matplotlib is not installed (``pip install "chainrule[viz]"``).
        ValueError: the history is empty, or a metric asked for was not recorded.

    Example:
        >>> from chainrule.train import History
        >>> h = History()
        >>> for epoch, (loss, val_loss, acc) in enumerate([(0.9, 1.0, 0.6), (0.5, 0.7, 0.8)], 1):
        ...     h.record(epoch, {"loss": loss, "val_loss": val_loss, "accuracy": acc})
        >>> fig = plot_history(h)
        >>> [ax.get_title() for ax in fig.axes]
        ['Loss', 'Accuracy']
    """
    columns, epochs = _history_columns(history)
    quantities = _quantities(columns, metrics)
    if not quantities:
        raise ValueError(f"plot_history: nothing to plot; recorded: {sorted(columns)}")
    n_cols = min(len(quantities), MAX_COLUMNS)
    n_rows = -(-len(quantities) // n_cols)
    fig = _new_figure("plot_history", (PANEL_SIZE[0] * n_cols, PANEL_SIZE[1] * n_rows), show)
    axes = np.atleast_1d(fig.subplots(n_rows, n_cols, squeeze=False)).ravel()
    for ax in axes[len(quantities) :]:  # a last row that is not full
        ax.remove()

    from matplotlib.ticker import MaxNLocator

    for ax, name in zip(axes, quantities):
        if name in columns:
            ax.plot(epochs, columns[name], label="training", **TRAIN_STYLE)
        val = columns.get("val_" + name)
        if val is not None:
            ax.plot(epochs, val, label="validation", **VAL_STYLE)
            if name == "loss" and np.isfinite(val).any():
                best = int(np.nanargmin(val))
                ax.plot(
                    [epochs[best]],
                    [val[best]],
                    "o",
                    color=VAL_STYLE["color"],
                    markersize=6,
                    label=f"best validation (epoch {epochs[best]})",
                )
        ax.set_title(_pretty(name))
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        ax.legend(frameon=False)
    _finish(fig, path, show)
    return fig


# --------------------------------------------------------------------------- decision boundary


def _binary_labels(scores: np.ndarray, threshold: float, y: np.ndarray) -> np.ndarray:
    """One column of scores -> the two labels of ``y`` (0/1, -1/+1, ...): above the threshold is
    the larger label."""
    classes = np.unique(y)
    negative, positive = (classes[0], classes[-1]) if len(classes) == 2 else (0, 1)
    return np.where(scores.reshape(-1) > threshold, positive, negative)


def _ends_in_probability(model: Module) -> bool:
    leaves = [m for m in model.modules() if not any(True for _ in m.children())]
    return bool(leaves) and type(leaves[-1]).__name__ in ("Sigmoid", "Softmax")


def _labeller(model: Any, y: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """A function from points (n, 2) to predicted labels (n,), for any kind of classifier."""
    if isinstance(model, Module):
        from chainrule.train.inference import predict

        threshold = 0.5 if _ends_in_probability(model) else 0.0  # probabilities or logits

        def labels(points: np.ndarray) -> np.ndarray:
            out = predict(model, points, batch_size=PREDICT_BATCH)
            if out.ndim == 2 and out.shape[1] > 1:
                return out.argmax(axis=1)
            return _binary_labels(out, threshold, y)

        return labels
    if hasattr(model, "predict") and callable(model.predict):  # scikit-learn style
        return lambda points: np.asarray(model.predict(points))
    if callable(model):

        def labels_of_function(points: np.ndarray) -> np.ndarray:
            out = model(points)
            return np.asarray(out._data if isinstance(out, Tensor) else out)

        return labels_of_function
    raise TypeError(
        "plot_decision_boundary: expected a chainrule Module, an estimator with .predict, or a "
        f"function from points (n, 2) to labels, got {type(model).__name__}"
    )


def _as_labels(raw: np.ndarray, n: int, y: np.ndarray) -> np.ndarray:
    """What a predict function returned -> one label per point (argmax of scores if given)."""
    raw = np.asarray(raw)
    if raw.ndim == 2 and raw.shape[1] > 1:
        return raw.argmax(axis=1)
    raw = raw.reshape(-1)
    if raw.shape[0] != n:
        raise ValueError(f"plot_decision_boundary: the classifier returned {raw.shape[0]} labels for {n} points")
    if raw.dtype.kind == "f" and not np.all(raw == np.round(raw)):  # scores, not labels
        return _binary_labels(raw, 0.5 if raw.min() >= 0 and raw.max() <= 1 else 0.0, y)
    return raw


def _check_xy(X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X._data if isinstance(X, Tensor) else X)
    y = np.asarray(y._data if isinstance(y, Tensor) else y)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"plot_decision_boundary: X must have shape (n_samples, 2), got {X.shape}")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or len(y) != len(X):
        raise ValueError(f"plot_decision_boundary: y must hold one label per sample, shape ({len(X)},), got {y.shape}")
    if len(X) == 0:
        raise ValueError("plot_decision_boundary: X has no samples")
    return X.astype(np.float64), y


def plot_decision_boundary(
    model_or_predict_fn: Any,
    X: Any,
    y: Any,
    ax: Axes | None = None,
    path: str | os.PathLike | None = None,
    resolution: int = 200,
    title: str | None = None,
) -> Figure:
    """Colour the plane by the class a 2-D classifier predicts, with the data points on top.

    The classifier is asked for a label at every point of a ``resolution`` x ``resolution`` grid
    spanning the data (plus a margin); the class regions are filled in light colours, the
    boundaries drawn as lines, and the samples plotted in the colour of their true class.

    Args:
        model_or_predict_fn: a chainrule ``Module`` (its outputs give the class: argmax of
            several columns; for one column, above 0 for logits, or above 0.5 when the model ends
            in a Sigmoid), a scikit-learn-style estimator with ``.predict``, or a function from
            points of shape (n, 2) to labels (n,).
        X: the samples, shape (n_samples, 2).
        y: their labels, shape (n_samples,).
        ax: draw into this matplotlib Axes (e.g. one panel of a figure); default None makes a
            new figure.
        path: save the figure there (PNG unless the suffix says otherwise); default None.
        resolution: grid points along each axis (default 200).
        title: the panel's title; default None gives "Decision boundary".

    Returns:
        The matplotlib ``Figure`` drawn into (``ax.figure`` when ``ax`` is given).

    Raises:
        ImportError: matplotlib is not installed (``pip install "chainrule[viz]"``).
        ValueError: X is not (n, 2), y does not match it, or ``resolution`` < 2.

    Example:
        >>> import numpy as np
        >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
        >>> y = np.array([0, 1, 1, 0])
        >>> xor = lambda points: (points[:, 0] > 0.5) ^ (points[:, 1] > 0.5)
        >>> fig = plot_decision_boundary(xor, X, y, resolution=50, title="XOR")
        >>> fig.axes[0].get_title()
        'XOR'
    """
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) or resolution < 2:
        raise ValueError(f"plot_decision_boundary: resolution must be an integer >= 2, got {resolution!r}")
    X, y = _check_xy(X, y)
    labeller = _labeller(model_or_predict_fn, y)
    if ax is None:
        fig = _new_figure("plot_decision_boundary", (5.2, 4.4), show=False)
        ax = fig.subplots()
    else:
        _import_matplotlib("plot_decision_boundary")
        fig = ax.figure

    low, high = X.min(axis=0), X.max(axis=0)
    margin = GRID_MARGIN * np.where(high > low, high - low, 1.0)
    xs = np.linspace(low[0] - margin[0], high[0] + margin[0], int(resolution))
    ys = np.linspace(low[1] - margin[1], high[1] + margin[1], int(resolution))
    xx, yy = np.meshgrid(xs, ys)
    grid = np.column_stack([xx.ravel(), yy.ravel()])
    Z = _as_labels(labeller(grid), len(grid), y)

    # One colour per class, shared by regions and points; regions are a lighter tint.
    from matplotlib.colors import ListedColormap, to_rgb

    classes = np.unique(np.concatenate([np.unique(y), np.unique(Z)]))
    palette = [to_rgb(f"C{i % 10}") for i in range(len(classes))]
    light = [tuple(0.65 + 0.35 * c for c in rgb) for rgb in palette]
    region = np.searchsorted(classes, Z).reshape(xx.shape)
    levels = np.arange(len(classes) + 1) - 0.5
    ax.contourf(xx, yy, region, levels=levels, cmap=ListedColormap(light))
    if len(classes) > 1:
        ax.contour(xx, yy, region, levels=levels[1:-1], colors="k", linewidths=0.8)
    for index, label in enumerate(classes):
        mask = y == label
        if mask.any():
            ax.scatter(
                X[mask, 0],
                X[mask, 1],
                color=palette[index],
                edgecolors="k",
                linewidths=0.6,
                s=36 if len(X) < 500 else 14,
                label=f"class {label}",
                zorder=3,
            )
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(ys[0], ys[-1])
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_title("Decision boundary" if title is None else title)
    ax.legend(loc="best", fontsize="small", framealpha=0.8)
    _finish(fig, path, show=False)
    return fig
