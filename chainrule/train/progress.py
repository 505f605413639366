"""Progress reporting for ``fit``: what a training run shows while it trains.

``Progress`` shows nothing (``verbose=0``), a tqdm bar (1), or one line per epoch (2). The bar
runs over each epoch's batches (``unit='batch'``, the default: a bar per epoch) or once over all
the epochs (``unit='epoch'``). ``fit`` makes one from its ``verbose`` argument, or drives the one it
is given; callbacks write through it (``self.context.progress.message(...)``), so that their
words do not tear a bar and come after the report of the epoch they are about.
"""

from __future__ import annotations

import sys
import time
from typing import Any

UNITS = ("batch", "epoch")
"""What a bar counts: the batches of one epoch (a bar per epoch), or the epochs of the run."""


def resolve_verbose(verbose: int | str) -> int:
    """0 silent, 1 a progress bar, 2 one line per epoch; 'auto' is 1 on a terminal, else 2.

    Example:
        >>> from chainrule.train.progress import resolve_verbose
        >>> resolve_verbose(2), resolve_verbose(0)
        (2, 0)
    """
    if verbose == "auto":
        return 1 if sys.stderr.isatty() else 2
    if verbose not in (0, 1, 2):
        raise ValueError(f"fit: verbose must be 0, 1, 2 or 'auto', got {verbose!r}")
    return int(verbose)


def format_logs(logs: dict[str, float]) -> str:
    """An epoch's logged values as ``'loss: 0.5 - accuracy: 0.9'``.

    Example:
        >>> from chainrule.train.progress import format_logs
        >>> format_logs({"loss": 0.51234, "accuracy": 0.9})
        'loss: 0.5123 - accuracy: 0.9'
    """
    return " - ".join(f"{k}: {v:.4g}" for k, v in logs.items())


def _tqdm(**kwargs: Any) -> Any:
    """A tqdm bar on stderr, or None when tqdm (the optional 'progress' extra) is not installed."""
    try:
        from tqdm.auto import tqdm
    except ImportError:  # fall back to a line per epoch
        return None
    return tqdm(leave=True, dynamic_ncols=True, file=sys.stderr, **kwargs)


class Progress:
    """Shows a training run's progress on stderr, as ``fit`` drives it.

    Args:
        verbose: 0 silent, 1 a tqdm bar (a line per epoch without tqdm), 2 one line per epoch,
            'auto' (default: 1 on a terminal, else 2).
        unit: 'batch' (default), a bar per epoch over its batches with the running loss; or
            'epoch', one bar over all the epochs with the last epoch's logs (a run of one epoch
            gets a line).
        name: the title of an 'epoch' bar (default None, none).

    ``fit`` calls ``train_begin``, then per epoch ``epoch_begin``, ``batch_end`` after each batch
    and ``epoch_end`` with the epoch's logs, and ``close`` at the end (also when training fails).
    Subclasses may change what an epoch's line says (``line``) and what an 'epoch' bar shows
    beside it (``postfix``).

    Example:
        >>> import contextlib, io
        >>> from chainrule.train.progress import Progress
        >>> progress, err = Progress(verbose=2), io.StringIO()
        >>> with contextlib.redirect_stderr(err):
        ...     progress.train_begin(epochs=3, steps_per_epoch=1)
        ...     progress.epoch_begin(1)
        ...     progress.message("said during epoch 1")
        ...     progress.epoch_end(1, {"loss": 0.25})
        ...     progress.close()
        >>> print(err.getvalue(), end="")
        Epoch 1/3 - ...s - loss: 0.25
        said during epoch 1

    ``fit(..., verbose=Progress(1, unit="epoch", name="my run"))`` shows one bar over the epochs.
    """

    def __init__(self, verbose: int | str = "auto", unit: str = "batch", name: str | None = None):
        if unit not in UNITS:
            raise ValueError(f"Progress: unit must be 'batch' or 'epoch', got {unit!r}")
        self.verbose = resolve_verbose(verbose)
        self.unit, self.name = unit, name
        self.epochs = self.steps_per_epoch = 0
        self.bar: Any = None
        self._start = 0.0
        self._in_epoch = False
        self._pending: list[tuple[str, bool]] = []

    def train_begin(self, epochs: int, steps_per_epoch: int) -> None:
        """A run of ``epochs`` epochs of ``steps_per_epoch`` batches begins."""
        self.epochs, self.steps_per_epoch = epochs, steps_per_epoch
        if self.verbose == 1 and self.unit == "epoch" and epochs > 1:
            self.bar = _tqdm(total=epochs, desc=self.name, unit="epoch")

    def epoch_begin(self, epoch: int) -> None:
        """Epoch ``epoch`` (from 1) begins."""
        self._start = time.perf_counter()
        self._in_epoch = True
        if self.verbose == 1 and self.unit == "batch":
            self.bar = _tqdm(total=self.steps_per_epoch, desc=f"Epoch {epoch}/{self.epochs}", unit="batch")

    def batch_end(self, running_loss: float) -> None:
        """A batch is done; ``running_loss`` is the epoch's mean loss so far."""
        bar = self.bar
        if bar is not None and self.unit == "batch":
            bar.update(1)
            if bar.n == bar.total or bar.n % 10 == 0:
                bar.set_postfix(loss=f"{running_loss:.4f}", refresh=False)

    def epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        """Report the epoch's logs, then what callbacks said during it."""
        self._in_epoch = False
        if self.bar is not None and self.unit == "batch":
            self.bar.set_postfix_str(format_logs(logs), refresh=True)
            self.bar.close()
            self.bar = None
        elif self.bar is not None:
            self.bar.set_postfix(self.postfix(logs), refresh=False)
            self.bar.update(1)
        elif self.verbose:
            print(self.line(epoch, time.perf_counter() - self._start, logs), file=sys.stderr)
        pending, self._pending = self._pending, []
        for text, always in pending:
            self.message(text, always)

    def message(self, text: str, always: bool = False) -> None:
        """Show ``text`` (silent with ``verbose=0``, unless ``always``: a callback's own ``verbose``,
        or a warning); said during an epoch, it comes after the epoch's report."""
        if not (self.verbose or always):
            return
        if self._in_epoch:
            self._pending.append((text, always))
        elif self.bar is not None:
            self.bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr)

    def close(self) -> None:
        """The run is over (or failed): close the bar, show what is still to be said."""
        self._in_epoch = False
        pending, self._pending = self._pending, []
        for text, always in pending:
            self.message(text, always)
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def line(self, epoch: int, seconds: float, logs: dict[str, float]) -> str:
        """One epoch's line: ``'Epoch 3/10 - 0.02s - loss: 0.3 - ...'``."""
        return f"Epoch {epoch}/{self.epochs} - {seconds:.2f}s - {format_logs(logs)}"

    def postfix(self, logs: dict[str, float]) -> dict[str, str]:
        """What an 'epoch' bar shows beside it: each logged value."""
        return {k: f"{v:.4g}" for k, v in logs.items()}
