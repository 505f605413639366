"""Progress reporting for ``fit``: a tqdm bar per epoch, or one line per epoch."""

from __future__ import annotations

import sys
import time
from typing import Any


def resolve_verbose(verbose: int | str) -> int:
    """0 silent, 1 a progress bar per epoch, 2 one line per epoch; 'auto' is 1 on a terminal, else 2."""
    if verbose == "auto":
        return 1 if sys.stderr.isatty() else 2
    if verbose not in (0, 1, 2):
        raise ValueError(f"fit: verbose must be 0, 1, 2 or 'auto', got {verbose!r}")
    return int(verbose)


def format_logs(logs: dict[str, float]) -> str:
    return " - ".join(f"{k}: {v:.4g}" for k, v in logs.items())


class EpochProgress:
    """Shows one epoch's progress: a tqdm bar with the running loss and ETA (verbose=1), or a
    line at the end of the epoch (verbose=2, and verbose=1 when tqdm is not installed)."""

    def __init__(self, verbose: int, epoch: int, epochs: int, total_batches: int):
        self.verbose, self.epoch, self.epochs = verbose, epoch, epochs
        self.start = time.perf_counter()
        self.bar = None
        if verbose == 1:
            try:
                from tqdm.auto import tqdm
            except ImportError:  # the 'progress' extra is optional: fall back to a line per epoch
                tqdm = None
            if tqdm is not None:
                self.bar = tqdm(
                    total=total_batches,
                    desc=f"Epoch {epoch}/{epochs}",
                    unit="batch",
                    leave=True,
                    dynamic_ncols=True,
                    file=sys.stderr,
                )

    def update(self, running_loss: float) -> None:
        if self.bar is not None:
            self.bar.update(1)
            if self.bar.n == self.bar.total or self.bar.n % 10 == 0:
                self.bar.set_postfix(loss=f"{running_loss:.4f}", refresh=False)

    def close(self, logs: dict[str, Any]) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(format_logs(logs), refresh=True)
            self.bar.close()
        elif self.verbose:
            seconds = time.perf_counter() - self.start
            print(f"Epoch {self.epoch}/{self.epochs} - {seconds:.2f}s - {format_logs(logs)}", file=sys.stderr)
