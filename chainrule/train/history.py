"""History: what ``fit`` records each epoch, and its plot."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


class History:
    """Per-epoch training and validation loss and metrics, returned by ``fit``.

    ``history["loss"]``, ``history["val_accuracy"]``, ... are lists with one value per epoch
    (the Keras layout); ``epoch`` lists the epoch numbers (from 1); ``stop_reason`` says why
    training ended early, if it did.

    Example:
        >>> from chainrule.train import History
        >>> h = History()
        >>> h.record(1, {"loss": 0.9, "val_loss": 1.0})
        >>> h.record(2, {"loss": 0.5, "val_loss": 0.7})
        >>> h["loss"], h.best("val_loss")
        ([0.9, 0.5], (2, 0.7))
    """

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.stop_reason: str | None = None

    def record(self, epoch: int, logs: dict[str, float]) -> None:
        """Add one epoch's values (keys may appear later; earlier epochs get NaN for them)."""
        history, n = self.history, len(self.epoch)
        for key, value in logs.items():
            column = history.get(key)
            if column is None:  # a new key (made only then: a column of NaN costs O(epochs))
                column = history[key] = [float("nan")] * n
            column.append(float(value))
        self.epoch.append(epoch)
        if len(history) > len(logs):  # keys this epoch did not log
            for column in history.values():
                if len(column) == n:
                    column.append(float("nan"))

    def __getitem__(self, key: str) -> list[float]:
        try:
            return self.history[key]
        except KeyError:
            raise KeyError(f"History has no {key!r}; recorded: {sorted(self.history)}") from None

    def __contains__(self, key: str) -> bool:
        return key in self.history

    def keys(self) -> list[str]:
        return list(self.history)

    def best(self, key: str = "val_loss", mode: str = "min") -> tuple[int, float]:
        """(epoch, value) of the best value of ``key`` (the first, on ties), ``mode`` 'min' or 'max';
        epochs where it was not recorded (NaN) are skipped."""
        if mode not in ("min", "max"):
            raise ValueError(f"History.best: mode must be 'min' or 'max', got {mode!r}")
        values = self[key]
        recorded = [i for i, v in enumerate(values) if not math.isnan(v)]
        if not recorded:
            raise ValueError(f"History.best: {key!r} has no recorded value (only NaN or no epochs)")
        pick = min if mode == "min" else max
        index = pick(recorded, key=lambda i: values[i])
        return self.epoch[index], values[index]

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, keys={self.keys()})"

    def plot(self, metrics: Sequence[str] | None = None, path: str | None = None, show: bool = False) -> Any:
        """Plot loss and metric curves (training solid, validation dashed), one panel each.

        Needs matplotlib (``pip install "chainrule[viz]"``). Saves a PNG when ``path`` is given;
        returns the matplotlib Figure (which displays inline in Jupyter).
        """
        from chainrule.viz.plots import plot_history

        return plot_history(self, metrics=metrics, path=path, show=show)
