"""Pictures of attributions (``chainrule.explain``), drawn with matplotlib (an optional extra).

* ``plot_image_attributions``: heat-maps over images (e.g. digits), one row per method;
* ``plot_signal_attributions``: 1-D signals (e.g. MNIST-1D) coloured by their attributions;
* ``plot_feature_importances``: a ranked bar chart of tabular feature importances with the
  features' names, one bar per method when several are compared;
* ``plot_lime``: LIME's surrogate weights for one row.

Like ``plots.py``: a Figure built without pyplot (``path=`` saves it, ``show=True`` shows it),
matplotlib imported when a function is called. Attributions are drawn on a diverging colour map
centred on 0 (red: pushes the output up, blue: pushes it down), with limits symmetric around 0 so
that equal colours mean equal magnitudes within a picture.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from chainrule.viz.plots import _finish, _new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_image_attributions", "plot_signal_attributions", "plot_feature_importances", "plot_lime"]

CMAP = "RdBu_r"
PANEL = 1.9  # inches per image panel


def _methods(attributions: Any, shape: tuple[int, ...], caller: str) -> dict[str, np.ndarray]:
    """{method name: attributions shaped like the inputs} from one array or a mapping of them."""
    items = attributions.items() if isinstance(attributions, Mapping) else [("attribution", attributions)]
    out = {}
    for name, value in items:
        a = _finite(value, f"attributions {str(name)!r}", caller)
        if a.shape != shape:
            raise ValueError(f"{caller}: attributions {name!r} have shape {a.shape}, the inputs {shape}")
        out[str(name)] = a
    if not out:
        raise ValueError(f"{caller}: no attributions given")
    return out


def _finite(a: Any, what: str, caller: str) -> np.ndarray:
    """``a`` as float64, refused when empty or when it holds NaN or infinite values (drawn as
    nothing, and a colour scale or ranking built on them would be wrong)."""
    a = np.asarray(a, dtype=np.float64)
    if a.size == 0:
        raise ValueError(f"{caller}: {what} are empty (shape {a.shape})")
    if not np.isfinite(a).all():
        raise ValueError(f"{caller}: {what} hold NaN or infinite values ({int((~np.isfinite(a)).sum())} of {a.size})")
    return a


def _top(top: Any, caller: str) -> int | None:
    if top is not None and (not isinstance(top, numbers.Integral) or isinstance(top, bool) or top < 1):
        raise ValueError(f"{caller}: top must be a positive int (the number shown) or None (all), got {top!r}")
    return None if top is None else int(top)


def _errors(std: Any, f: int, what: str, caller: str) -> np.ndarray:
    """Error bars: F finite values >= 0."""
    e = _finite(std, what, caller)
    if e.shape != (f,) or (e < 0).any():
        raise ValueError(f"{caller}: {what} must be {f} values >= 0, one per feature, got {e.tolist()[:5]}...")
    return e


def _names(names: Any, what: str, caller: str) -> list[str] | None:
    """Names or titles as a list of strings; one string is refused (its letters are not names)."""
    if names is None:
        return None
    if isinstance(names, str):
        raise ValueError(f"{caller}: {what} must be a sequence of strings, one per item, got the string {names!r}")
    return [str(n) for n in names]


def _limit(a: np.ndarray) -> float:
    m = float(np.abs(a).max())
    return m if m > 0 else 1.0


def plot_image_attributions(
    images: Any,
    attributions: Any,
    *,
    titles: Sequence[str] | None = None,
    alpha: float = 0.6,
    path: str | os.PathLike | None = None,
    show: bool = False,
) -> Figure:
    """Heat-maps of attributions over images: one column per image, a first row with the images,
    then one row per method (the heat-map over the image, in grey).

    Args:
        images: (N, H, W), or (N, C, H, W) with C = 1 or 3 (channels first, as the models take them);
            colour images are drawn rescaled to [0, 1] (e.g. standardised ones), all with one scale.
        attributions: an array shaped like ``images``, or ``{method name: array}`` to compare
            methods side by side; channels are summed into one heat-map per image.
        titles: one title per image (e.g. the true and predicted labels).
        alpha: the heat-map's opacity over the image (default 0.6).
        path, show: save the figure / show it with pyplot (as ``plot_history``).

    Example:
        >>> import numpy as np
        >>> from chainrule.viz import plot_image_attributions
        >>> images = np.random.default_rng(0).random((2, 1, 8, 8))
        >>> fig = plot_image_attributions(images, {"IG": images - 0.5, "occlusion": 0.5 - images})
        >>> len(fig.axes) - 1  # 2 images x (image + 2 methods), and a colour bar
        6
    """
    caller = "plot_image_attributions"
    x = _finite(images, "images", caller)
    methods = _methods(attributions, x.shape, caller)
    if x.ndim == 3:
        x = x[:, None]
        methods = {k: v[:, None] for k, v in methods.items()}
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(
            f"{caller}: images must be (N, H, W) or (N, C, H, W) with 1 or 3 channels, got {np.shape(images)}"
        )
    n = len(x)
    titles = _names(titles, "titles", caller)
    if titles is not None and len(titles) != n:
        raise ValueError(f"{caller}: {len(titles)} titles for {n} images")
    pictures = np.moveaxis(x, 1, -1)
    lo, hi = float(pictures.min()), float(pictures.max())
    if x.shape[1] == 1:
        pictures = pictures[..., 0]
    else:  # colour images drawn as they are only in [0, 1] (matplotlib clips the rest): rescale them
        pictures = (pictures - lo) / (hi - lo if hi > lo else 1.0)
        lo, hi = 0.0, 1.0
    fig = _new_figure(caller, (PANEL * n, PANEL * (1 + len(methods)) + 0.4), show)
    axes = fig.subplots(1 + len(methods), n, squeeze=False)
    image = None
    for i in range(n):
        axes[0, i].imshow(pictures[i], cmap="gray" if x.shape[1] == 1 else None, vmin=lo, vmax=hi)
        axes[0, i].set_title(titles[i] if titles is not None else f"sample {i}", fontsize=9)
        for r, (name, a) in enumerate(methods.items(), start=1):
            heat = a[i].sum(axis=0)
            limit = _limit(a.sum(axis=1))
            axes[r, i].imshow(pictures[i], cmap="gray" if x.shape[1] == 1 else None, vmin=lo, vmax=hi)
            image = axes[r, i].imshow(heat, cmap=CMAP, vmin=-limit, vmax=limit, alpha=alpha)
            if i == 0:
                axes[r, i].set_ylabel(name)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(image, ax=axes[1:, :].ravel().tolist(), shrink=0.8, label="attribution (per method's scale)")
    _finish(fig, path, show)
    return fig


def plot_signal_attributions(
    signals: Any,
    attributions: Any,
    *,
    titles: Sequence[str] | None = None,
    path: str | os.PathLike | None = None,
    show: bool = False,
) -> Figure:
    """1-D signals with each point coloured by its attribution: one panel per signal, one row per
    method when several are compared.

    Args:
        signals: (N, L), or (N, 1, L) as a Conv1d takes them.
        attributions: an array shaped like ``signals``, or ``{method name: array}``.
        titles: one title per signal.
        path, show: as ``plot_history``.

    Example:
        >>> import numpy as np
        >>> from chainrule.viz import plot_signal_attributions
        >>> t = np.linspace(0, 6, 40)
        >>> fig = plot_signal_attributions(np.stack([np.sin(t), np.cos(t)]), np.stack([t, -t]))
        >>> len(fig.axes)  # 2 signals, and a colour bar
        3
    """
    caller = "plot_signal_attributions"
    s = _finite(signals, "signals", caller)
    methods = _methods(attributions, s.shape, caller)
    if s.ndim == 3 and s.shape[1] == 1:
        s = s[:, 0]
        methods = {k: v[:, 0] for k, v in methods.items()}
    if s.ndim != 2:
        raise ValueError(f"{caller}: signals must be (N, L) or (N, 1, L), got {np.shape(signals)}")
    n = len(s)
    titles = _names(titles, "titles", caller)
    if titles is not None and len(titles) != n:
        raise ValueError(f"{caller}: {len(titles)} titles for {n} signals")
    fig = _new_figure(caller, (3.2 * n, 2.4 * len(methods) + 0.4), show)
    axes = fig.subplots(len(methods), n, squeeze=False)
    points = None
    steps = np.arange(s.shape[1])
    for r, (name, a) in enumerate(methods.items()):
        limit = _limit(a)
        for i in range(n):
            ax = axes[r, i]
            ax.plot(steps, s[i], color="0.6", linewidth=1.0)
            points = ax.scatter(steps, s[i], c=a[i], cmap=CMAP, vmin=-limit, vmax=limit, s=18, edgecolors="none")
            if r == 0:
                ax.set_title(titles[i] if titles is not None else f"sample {i}", fontsize=9)
            if i == 0:
                ax.set_ylabel(name)
    fig.colorbar(points, ax=axes.ravel().tolist(), shrink=0.8, label="attribution")
    _finish(fig, path, show)
    return fig


def plot_feature_importances(
    importances: Any,
    feature_names: Sequence[str] | None = None,
    *,
    std: Any = None,
    top: int | None = 20,
    title: str | None = None,
    path: str | os.PathLike | None = None,
    show: bool = False,
) -> Figure:
    """A ranked horizontal bar chart of feature importances, the most important on top.

    Args:
        importances: (F,) importances; (N, F) attributions of N rows (their mean absolute value
            per feature is plotted); a ``PermutationImportance`` (its mean, with its standard
            deviation as error bars); or ``{method name: any of these}`` to compare methods,
            each scaled to a maximum of 1 (ranked by the first).
        feature_names: F names (default: "feature 0", ...).
        std: error bars for a single (F,) ranking.
        top: the number of features shown (default 20; None: all).
        title: the chart's title.
        path, show: as ``plot_history``.

    Example:
        >>> from chainrule.viz import plot_feature_importances
        >>> fig = plot_feature_importances([0.1, 0.5, -0.3], ["age", "dose", "weight"])
        >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]  # the largest on top
        ['age', 'weight', 'dose']
    """
    caller = "plot_feature_importances"
    top = _top(top, caller)
    items = importances.items() if isinstance(importances, Mapping) else [("importance", importances)]
    ranked: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
    for name, value in items:
        errors = None
        if hasattr(value, "importances_mean"):
            value, errors = value.importances_mean, value.importances_std
        a = np.asarray(value, dtype=np.float64)
        if a.ndim == 2:
            a = np.abs(a).mean(axis=0)
        if a.ndim != 1 or not len(a):
            raise ValueError(f"{caller}: importances {name!r} must be (F,) or (N, F), got shape {a.shape}")
        ranked[str(name)] = (
            _finite(a, f"importances {str(name)!r}", caller),
            None if errors is None else _errors(errors, len(a), f"the standard deviations of {str(name)!r}", caller),
        )
    if not ranked:
        raise ValueError(f"{caller}: no importances given")
    sizes = {len(a) for a, _ in ranked.values()}
    if len(sizes) != 1:
        raise ValueError(f"{caller}: the methods rank different numbers of features: {sorted(sizes)}")
    f = sizes.pop()
    names = _names(feature_names, "feature_names", caller) or [f"feature {j}" for j in range(f)]
    if len(names) != f:
        raise ValueError(f"{caller}: {len(names)} feature names for {f} features")
    if std is not None:
        if len(ranked) != 1:
            raise ValueError(f"{caller}: std is for a single ranking; pass PermutationImportance objects to compare")
        key = next(iter(ranked))
        ranked[key] = (ranked[key][0], _errors(std, f, "std", caller))
    several = len(ranked) > 1
    if several:  # each method on its own scale: compare rankings, not units
        ranked = {k: (a / _limit(a), None if e is None else e / _limit(a)) for k, (a, e) in ranked.items()}
    xlabel = "importance (scaled to 1 per method)" if several else "importance"
    return _ranked_bars(caller, ranked, names, top, xlabel, title, path, show)


def _ranked_bars(
    caller: str,
    ranked: Mapping[str, tuple[np.ndarray, np.ndarray | None]],
    names: Sequence[str],
    top: int | None,
    xlabel: str,
    title: str | None,
    path: str | os.PathLike | None,
    show: bool,
) -> Figure:
    """Horizontal bars, the largest |value| of the first ranking on top (``top`` of them): one
    ranking in red (up) and blue (down), several side by side with a legend."""
    several = len(ranked) > 1
    first = next(iter(ranked.values()))[0]
    order = np.argsort(-np.abs(first), kind="stable")[: top or len(first)][::-1]  # barh draws bottom-up
    fig = _new_figure(caller, (6.0, 0.9 + 0.32 * len(order) * (1 + 0.5 * several)), show)
    ax = fig.subplots()
    height = 0.8 / len(ranked)
    for k, (name, (a, e)) in enumerate(ranked.items()):
        offset = (k - (len(ranked) - 1) / 2) * height
        ax.barh(
            np.arange(len(order)) + offset,
            a[order],
            height=height,
            xerr=None if e is None else e[order],
            label=name,
            color=None if several else np.where(a[order] >= 0, "C3", "C0"),
        )
    ax.set_yticks(np.arange(len(order)), [names[j] for j in order])
    ax.axvline(0.0, color="0.3", linewidth=0.8)
    ax.set_xlabel(xlabel)
    if title:
        ax.set_title(title)
    if several:
        ax.legend(frameon=False)
    _finish(fig, path, show)
    return fig


def plot_lime(
    explanation: Any,
    row: int = 0,
    feature_names: Sequence[str] | None = None,
    *,
    top: int | None = 15,
    path: str | os.PathLike | None = None,
    show: bool = False,
) -> Figure:
    """LIME's surrogate for one row: its weights as bars (red: pushes the output up, blue: down),
    with the intercept and the surrogate's weighted R^2 in the title.

    Args:
        explanation: what ``chainrule.explain.lime`` returns.
        row: the row to show (default 0).
        feature_names: one name per interpretable feature (group), default "feature k".
        top: the number of weights shown, the largest in magnitude (default 15; None: all).
        path, show: as ``plot_history``.

    Example:
        >>> import numpy as np
        >>> from chainrule.explain import LimeExplanation
        >>> from chainrule.viz import plot_lime
        >>> result = LimeExplanation(np.zeros((1, 2)), np.array([[0.4, -0.2]]), np.array([0.1]), np.array([0.93]))
        >>> plot_lime(result, feature_names=["a", "b"]).axes[0].get_title()
        'LIME, row 0: intercept 0.1, weighted R² 0.93'
    """
    caller = "plot_lime"
    top = _top(top, caller)
    coefficients = np.asarray(explanation.coefficients)
    if not isinstance(row, numbers.Integral) or isinstance(row, bool) or not 0 <= row < len(coefficients):
        raise ValueError(
            f"{caller}: row {row!r} is out of range: it must be an int in 0..{len(coefficients) - 1} (an explained row)"
        )
    w = _finite(coefficients[row], f"the weights of row {row}", caller)
    names = _names(feature_names, "feature_names", caller) or [f"feature {j}" for j in range(len(w))]
    if len(names) != len(w):
        raise ValueError(f"{caller}: {len(names)} feature names for {len(w)} interpretable features")
    title = (
        f"LIME, row {row}: intercept {float(explanation.intercepts[row]):.3g}, "
        f"weighted R² {float(explanation.scores[row]):.3g}"
    )
    return _ranked_bars(caller, {"weight": (w, None)}, names, top, "surrogate weight", title, path, show)
