"""Callbacks: code that runs at fixed points of ``fit`` (EarlyStopping, ModelCheckpoint, ...).

A callback sees the training through ``self.context`` (the model, optimizer, history, the
``stop_training`` flag it may set, and the progress reporter to write through). Callbacks reset
themselves in ``on_train_begin``, so one instance can serve several ``fit`` calls. Their
``on_epoch_end`` may add values to the epoch's ``logs``: ``fit`` records and shows the logs after
the callbacks have run, as Keras does. Each batch, ``on_after_backward`` runs between
``loss.backward()`` and ``optimizer.step()``, where the gradients can be read (``GradientMonitor``).

A callback that keeps state from epoch to epoch (a count, a best value) hands it over with
``state_dict()`` and takes it back with ``load_state_dict(state)``, as modules, optimizers and
schedulers do; ``BackupAndRestore`` saves it with its backup. The state is plain values (numbers,
strings, None, lists and dicts of them) and NumPy arrays: it is stored as JSON and safetensors,
never pickled.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from chainrule import distributed
from chainrule.io.files import write_text_atomic
from chainrule.train.history import History
from chainrule.train.progress import Progress

_MAXIMISED = ("acc", "accuracy", "f1", "precision", "recall", "r2", "auc")


@dataclass
class TrainContext:
    """What callbacks can see and change during ``fit``; ``progress`` shows what they have to say
    (``self.context.progress.message(text)``) without tearing a progress bar.

    Example:
        >>> import numpy as np, chainrule as cr
        >>> from chainrule.train import Callback, fit
        >>> class StopAtOnce(Callback):
        ...     def on_epoch_end(self, epoch, logs):
        ...         print(self.context.epochs, self.context.steps_per_epoch)
        ...         self.context.stop("seen enough")
        >>> model = cr.nn.Linear(2, 1)
        >>> history = fit(model, cr.nn.MSELoss(), cr.optim.SGD(model.parameters(), lr=0.1),
        ...               np.ones((8, 2)), np.ones((8, 1)), epochs=5, batch_size=4,
        ...               callbacks=[StopAtOnce()], verbose=0)
        5 2
        >>> history.epoch, history.stop_reason
        ([1], 'seen enough')
    """

    model: Any
    optimizer: Any
    loss_fn: Any
    history: History
    epochs: int
    steps_per_epoch: int
    stop_training: bool = False
    stop_reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    progress: Progress = field(default_factory=lambda: Progress(0))
    initial_epoch: int = 0
    """Epochs already done: ``fit`` runs the rest (``BackupAndRestore`` sets it in ``on_train_begin``)."""
    train_loader: Any = None
    """The loader of the training batches (its shuffle generator is part of a run's state)."""
    callbacks: list[Callback] = field(default_factory=list)
    """The run's callbacks, in the order ``fit`` calls them (``BackupAndRestore`` saves their state)."""
    processes: int = 1
    """The processes training this model together (``mpiexec -n N``: N, when ``fit`` is data-parallel)."""
    rank: int = 0
    """This process's rank among them: rank 0 writes the files (``main``)."""

    @property
    def main(self) -> bool:
        """Whether this process writes the run's files (checkpoints, logs, backups): rank 0 of a
        data-parallel run, in which every process holds the same weights and logs."""
        return self.rank == 0

    def stop(self, reason: str) -> None:
        """Ask ``fit`` to stop after the current batch, saying why."""
        self.stop_training = True
        self.stop_reason = reason


class Callback:
    """Base class: override any of the ``on_*`` methods.

    A callback with state that must survive an interrupted run (``BackupAndRestore``) also
    overrides ``state_dict`` and ``load_state_dict``; one that does not is resumed as
    ``on_train_begin`` leaves it.

    Example:
        >>> from chainrule.train import Callback
        >>> class PrintEpoch(Callback):
        ...     def on_epoch_end(self, epoch, logs):
        ...         print(epoch, round(logs["loss"], 2))
        >>> class CountEpochs(Callback):  # with state that a resumed run gets back
        ...     def on_train_begin(self, logs=None):
        ...         self.count = 0
        ...     def on_epoch_end(self, epoch, logs):
        ...         self.count += 1
        ...     def state_dict(self):
        ...         return {"count": self.count}
        ...     def load_state_dict(self, state):
        ...         self.count = state["count"]
        >>> counter = CountEpochs()
        >>> counter.load_state_dict({"count": 3})
        >>> counter.state_dict()
        {'count': 3}
    """

    context: TrainContext

    def set_context(self, context: TrainContext) -> None:
        self.context = context

    def _writes(self) -> bool:
        """Whether this process writes the run's files: rank 0 of a data-parallel run (or a
        callback used outside ``fit``, with no context)."""
        context = getattr(self, "context", None)
        return context is None or context.main

    def _processes(self) -> int:
        context = getattr(self, "context", None)
        return 1 if context is None else context.processes

    def state_dict(self) -> dict[str, Any]:
        """What this callback has learnt so far in the run, to resume it from: plain values
        (numbers, strings, None, lists and dicts of them) and NumPy arrays. The base class has
        none (``{}``)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Take back what ``state_dict`` gave (after ``on_train_begin``); refuses state it does not know."""
        if state:
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: it keeps no state, but was given {sorted(state)}; "
                "define state_dict and load_state_dict on it to save and restore its state"
            )

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None: ...

    def on_train_end(self, logs: dict[str, float] | None = None) -> None: ...

    def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None: ...

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None: ...

    def on_batch_begin(self, batch: int, logs: dict[str, float] | None = None) -> None: ...

    def on_after_backward(self, batch: int, logs: dict[str, float] | None = None) -> None:
        """After ``loss.backward()`` and before ``optimizer.step()``: the batch's gradients are in
        each parameter's ``grad`` and the weights are still those the gradients were computed at
        (``logs``: the batch's ``loss`` and ``size``)."""

    def on_batch_end(self, batch: int, logs: dict[str, float]) -> None: ...


def _resolve_mode(mode: str, monitor: str, owner: str) -> str:
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{owner}: mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode != "auto":
        return mode
    name = monitor[4:] if monitor.startswith("val_") else monitor
    return "max" if name in _MAXIMISED or name.endswith("accuracy") else "min"


def _monitored(logs: dict[str, float], monitor: str, owner: str) -> float:
    if monitor not in logs:
        raise ValueError(
            f"{owner}: monitor {monitor!r} is not among the logged values {sorted(logs)}; "
            "for 'val_...' pass validation_data or validation_split to fit"
        )
    return float(logs[monitor])


def _loaded(owner: Callback, state: dict[str, Any], keys: tuple[str, ...]) -> list[Any]:
    """The values of ``keys`` in a callback's saved ``state``; every missing or unexpected key is
    reported at once, before anything changes."""
    missing = [k for k in keys if k not in state]
    unexpected = [k for k in state if k not in keys]
    if missing or unexpected:
        raise ValueError(
            f"{type(owner).__name__}.load_state_dict: the state does not fit: missing {missing}, "
            f"unexpected {unexpected}"
        )
    return [state[k] for k in keys]


class EarlyStopping(Callback):
    """Stop when the monitored value has not improved for ``patience`` epochs.

    Args:
        monitor: a logged value, e.g. 'val_loss' (default) or 'val_accuracy'.
        min_delta: the smallest change that counts as an improvement.
        patience: epochs without improvement before stopping.
        mode: 'min', 'max', or 'auto' (max for accuracy-like names, else min).
        restore_best_weights: at the end of training, put back the weights of the best epoch
            (kept as a copy).
        baseline: stop if the value does not beat this within ``patience`` epochs.
        start_from_epoch: epochs to wait before watching at all.

    Example:
        >>> from chainrule.train import EarlyStopping
        >>> EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
        EarlyStopping(monitor='val_loss', patience=3)
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0.0,
        patience: int = 0,
        mode: str = "auto",
        restore_best_weights: bool = False,
        baseline: float | None = None,
        start_from_epoch: int = 0,
        verbose: int = 0,
    ):
        if patience < 0 or min_delta < 0:
            raise ValueError(f"EarlyStopping: patience and min_delta must be >= 0, got {patience} and {min_delta}")
        self.monitor, self.min_delta, self.patience = monitor, float(min_delta), int(patience)
        self.mode = _resolve_mode(mode, monitor, "EarlyStopping")
        self.restore_best_weights, self.baseline = restore_best_weights, baseline
        self.start_from_epoch, self.verbose = start_from_epoch, verbose
        self.on_train_begin()

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
        self.wait = 0
        self.best = self.baseline if self.baseline is not None else (math.inf if self.mode == "min" else -math.inf)
        self.best_epoch: int | None = None
        self.best_weights: dict[str, np.ndarray] | None = None
        self.stopped_epoch: int | None = None

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        value = _monitored(logs, self.monitor, "EarlyStopping")
        if epoch <= self.start_from_epoch:
            return
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.context.model.state_dict()  # a copy
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.context.stop(
                f"EarlyStopping: {self.monitor} did not improve for {self.wait} epoch(s) "
                f"(best {self.best:.6g} at epoch {self.best_epoch})"
            )

    _STATE = ("wait", "best", "best_epoch", "best_weights", "stopped_epoch")

    def state_dict(self) -> dict[str, Any]:
        """The patience count, the best value and epoch, and the best weights when kept."""
        return {key: getattr(self, key) for key in self._STATE}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Take back what ``state_dict`` gave."""
        for key, value in zip(self._STATE, _loaded(self, state, self._STATE)):
            setattr(self, key, value)

    def on_train_end(self, logs: dict[str, float] | None = None) -> None:
        if self.restore_best_weights and self.best_weights is not None:
            self.context.model.load_state_dict(self.best_weights)
            if self.verbose:
                self.context.progress.message(f"EarlyStopping: restored the weights of epoch {self.best_epoch}", True)

    def __repr__(self) -> str:
        return f"EarlyStopping(monitor={self.monitor!r}, patience={self.patience})"


class ModelCheckpoint(Callback):
    """Save the model every epoch, or only when the monitored value improves.

    ``filepath`` may contain ``{epoch}`` and logged names, e.g. ``"ckpt-{epoch:02d}-{val_loss:.3f}.safetensors"``.
    Writes are atomic (a temporary file renamed into place): a crash never leaves a half-written
    checkpoint, and the previous one survives.

    Example:
        >>> import os, tempfile, numpy as np, chainrule as cr
        >>> from chainrule.train import ModelCheckpoint, fit
        >>> model, folder = cr.nn.Linear(2, 1), tempfile.mkdtemp()
        >>> checkpoint = ModelCheckpoint(os.path.join(folder, "ckpt-{epoch}.safetensors"), monitor="loss")
        >>> _ = fit(model, cr.nn.MSELoss(), cr.optim.SGD(model.parameters(), lr=0.1),
        ...         np.ones((8, 2)), np.ones((8, 1)), epochs=2, callbacks=[checkpoint], verbose=0)
        >>> sorted(os.listdir(folder))
        ['ckpt-1.safetensors', 'ckpt-2.safetensors']
    """

    def __init__(
        self,
        filepath: str,
        monitor: str = "val_loss",
        mode: str = "auto",
        save_best_only: bool = False,
        save_weights_only: bool = False,
        verbose: int = 0,
    ):
        self.filepath, self.monitor = os.fspath(filepath), monitor
        self.mode = _resolve_mode(mode, monitor, "ModelCheckpoint")
        self.save_best_only, self.save_weights_only, self.verbose = save_best_only, save_weights_only, verbose
        self.on_train_begin()

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.saved: list[str] = []

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        if self.save_best_only:
            value = _monitored(logs, self.monitor, "ModelCheckpoint")
            better = value < self.best if self.mode == "min" else value > self.best
            if not better:
                return
            self.best = value
        try:
            path = self.filepath.format(epoch=epoch, **logs)
        except KeyError as err:
            raise ValueError(
                f"ModelCheckpoint: filepath {self.filepath!r} names {err.args[0]!r}, which is not among the "
                f"logged values {sorted(logs)} (nor 'epoch')"
            ) from None
        from chainrule import io

        if self._writes():  # (under mpiexec every process has the same weights: rank 0 writes them)
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)  # e.g. "checkpoints/{epoch}.safetensors"
            if self.save_weights_only:
                io.save_state_dict(self.context.model, path)
            else:
                io.save(self.context.model, path)
        self.saved.append(path)
        if self.verbose:
            self.context.progress.message(f"ModelCheckpoint: saved {path}", True)

    def state_dict(self) -> dict[str, Any]:
        """The best value so far and the files saved."""
        return {"best": self.best, "saved": list(self.saved)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Take back what ``state_dict`` gave."""
        best, saved = _loaded(self, state, ("best", "saved"))
        self.best, self.saved = best, list(saved)


class LearningRateScheduler(Callback):
    """Change the learning rate each epoch.

    ``schedule`` is either a function ``(epoch, lr) -> new_lr`` called before each epoch (epochs
    count from 1, as in the History), or a
    scheduler from ``chainrule.optim`` (StepLR, CosineAnnealingLR, ...) stepped after each epoch;
    ReduceLROnPlateau is stepped with the ``monitor``ed value. ``verbose=1`` reports the rate each
    epoch trains at, as Keras does.

    Example:
        >>> import numpy as np, chainrule as cr
        >>> from chainrule.train import LearningRateScheduler, fit
        >>> model = cr.nn.Linear(2, 1)
        >>> halve = LearningRateScheduler(lambda epoch, lr: 0.1 / 2 ** (epoch - 1))
        >>> history = fit(model, cr.nn.MSELoss(), cr.optim.SGD(model.parameters(), lr=0.1),
        ...               np.ones((8, 2)), np.ones((8, 1)), epochs=3, callbacks=[halve], verbose=0)
        >>> history.history["lr"]
        [0.1, 0.05, 0.025]
    """

    def __init__(self, schedule: Any, monitor: str = "val_loss", verbose: int = 0):
        if not (callable(schedule) or hasattr(schedule, "step")):
            raise TypeError(
                f"LearningRateScheduler: schedule must be a function (epoch, lr) -> lr or a scheduler, got {schedule!r}"
            )
        self.schedule, self.monitor, self.verbose = schedule, monitor, verbose

    def _is_function(self) -> bool:
        return not hasattr(self.schedule, "step")

    def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        if self._is_function():
            groups = self.context.optimizer.param_groups
            new_lr = float(self.schedule(epoch, groups[0]["lr"]))
            if not math.isfinite(new_lr) or new_lr < 0:
                raise ValueError(
                    f"LearningRateScheduler: the schedule returned an invalid learning rate {new_lr} at epoch {epoch}"
                )
            for group in groups:
                group["lr"] = new_lr
        if self.verbose:  # Keras's report, with the rate the epoch trains at
            lr = self.context.optimizer.param_groups[0]["lr"]
            self.context.progress.message(f"LearningRateScheduler: epoch {epoch}, learning rate {lr:g}", True)

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        if self._is_function():
            return
        if type(self.schedule).__name__ == "ReduceLROnPlateau":
            self.schedule.step(_monitored(logs, self.monitor, "LearningRateScheduler"))
        else:
            self.schedule.step()

    def _saves_schedule(self) -> bool:
        return callable(getattr(self.schedule, "state_dict", None))

    def state_dict(self) -> dict[str, Any]:
        """The scheduler's ``state_dict()`` (its epoch count, a plateau's best value, ...); a
        function keeps no state (the learning rate itself is the optimizer's)."""
        return {"schedule": self.schedule.state_dict()} if self._saves_schedule() else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Take back what ``state_dict`` gave."""
        if self._saves_schedule():
            (schedule,) = _loaded(self, state, ("schedule",))
            self.schedule.load_state_dict(schedule)
        else:
            _loaded(self, state, ())


class CSVLogger(Callback):
    """Write each epoch's logged values as a row of a CSV file (rewritten atomically each epoch).

    Args:
        filename: the CSV file.
        separator: between values (default ',').
        append: add to the rows of an existing file instead of replacing it (default False).

    Example:
        >>> import os, tempfile, numpy as np, chainrule as cr
        >>> from chainrule.train import CSVLogger, fit
        >>> model = cr.nn.Linear(2, 1)
        >>> path = os.path.join(tempfile.mkdtemp(), "history.csv")
        >>> _ = fit(model, cr.nn.MSELoss(), cr.optim.SGD(model.parameters(), lr=0.1),
        ...         np.ones((8, 2)), np.ones((8, 1)), epochs=2, callbacks=[CSVLogger(path)], verbose=0)
        >>> with open(path) as f:
        ...     print([line.split(",")[0] for line in f.read().splitlines()])
        ['epoch', '1', '2']
    """

    def __init__(self, filename: str, separator: str = ",", append: bool = False):
        self.filename, self.separator, self.append = os.fspath(filename), separator, append

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
        self.rows: list[dict[str, Any]] = []
        self.previous = ""
        if self.append and os.path.exists(self.filename):
            with open(self.filename, encoding="utf-8") as f:
                self.previous = f.read()
            if self.previous and not self.previous.endswith("\n"):
                self.previous += "\n"

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        self.rows.append({"epoch": epoch, **logs})
        keys = list(dict.fromkeys(k for row in self.rows for k in row))
        lines = [] if self.previous else [self.separator.join(keys)]
        lines += [self.separator.join(_csv_value(row.get(k, "")) for k in keys) for row in self.rows]
        if self._writes():  # (under mpiexec the logs are the same everywhere: rank 0 writes them)
            write_text_atomic(self.filename, self.previous + "\n".join(lines) + "\n")

    def state_dict(self) -> dict[str, Any]:
        """The rows written so far, and what the file held before the run (``append=True``)."""
        return {"rows": [dict(row) for row in self.rows], "previous": self.previous}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Take back what ``state_dict`` gave."""
        rows, previous = _loaded(self, state, ("rows", "previous"))
        self.rows, self.previous = [dict(row) for row in rows], previous


def _csv_value(value: Any) -> str:
    return repr(float(value)) if isinstance(value, (float, np.floating)) else str(value)


class TerminateOnNaN(Callback):
    """Stop as soon as the loss becomes NaN or infinite, naming the epoch and batch.

    ``fit`` already stops on such a loss by default, before the batch's step
    (``terminate_on_nan=True``); this callback, as in Keras, stops after it, and serves
    ``fit(..., terminate_on_nan=False)``.

    Example:
        >>> import contextlib, io, numpy as np, chainrule as cr
        >>> from chainrule.train import TerminateOnNaN, fit
        >>> model = cr.nn.Linear(2, 1)
        >>> with contextlib.redirect_stderr(io.StringIO()):  # a learning rate so large that it diverges
        ...     history = fit(model, cr.nn.MSELoss(), cr.optim.SGD(model.parameters(), lr=1e30),
        ...                   np.ones((2, 2)), np.ones((2, 1)), epochs=3, batch_size=1, shuffle=False,
        ...                   callbacks=[TerminateOnNaN()], verbose=0, terminate_on_nan=False)
        >>> history.stop_reason
        'TerminateOnNaN: the loss became inf at epoch 1, batch 1; training stopped'
    """

    def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        self.epoch = epoch

    def on_batch_end(self, batch: int, logs: dict[str, float]) -> None:
        loss = logs.get("loss")
        if loss is not None and not math.isfinite(loss):
            message = f"TerminateOnNaN: the loss became {loss} at epoch {self.epoch}, batch {batch}; training stopped"
            self.context.progress.message(message, True)
            self.context.stop(message)


class LambdaCallback(Callback):
    """A callback from functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``.

    Args:
        **hooks: ``on_*`` names of ``Callback`` methods, each with the function to run there.

    Example:
        >>> import numpy as np, chainrule as cr
        >>> from chainrule.train import LambdaCallback, fit
        >>> model, seen = cr.nn.Linear(2, 1), []
        >>> _ = fit(model, cr.nn.MSELoss(), cr.optim.SGD(model.parameters(), lr=0.1),
        ...         np.ones((8, 2)), np.ones((8, 1)), epochs=3, verbose=0,
        ...         callbacks=[LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(epoch))])
        >>> seen
        [1, 2, 3]
    """

    def __init__(self, **hooks: Callable[..., None]):
        for name, fn in hooks.items():
            if not name.startswith("on_") or not hasattr(Callback, name):
                raise ValueError(f"LambdaCallback: unknown hook {name!r}")
            setattr(self, name, fn)


BACKUP_FILE = "backup.safetensors"
"""The file ``BackupAndRestore`` keeps in its folder."""


class BackupAndRestore(Callback):
    """Resume a run that was interrupted (killed, crashed, Ctrl-C) exactly where its last epoch ended.

    After every epoch it saves, atomically, everything the rest of the run depends on: the
    weights and buffers, the optimizer's state (learning rates included), the epoch, the History
    so far, chainrule's random state (dropout, shuffling with ``seed=None``), the shuffle
    generator of ``fit``'s own loader (``seed=int``) and the state of the other callbacks (an
    EarlyStopping's patience count and best weights, a LearningRateScheduler's scheduler, a
    ModelCheckpoint's best value, a CSVLogger's rows: every callback that defines
    ``state_dict``/``load_state_dict``). When ``fit`` starts and a backup is there, it restores all
    of it and ``fit`` goes on from the next epoch, so an interrupted and resumed run ends with the
    same weights, History, learning rate and stopping epoch, bit for bit, as one that was never
    interrupted. At the end of a run that finishes, the backup is deleted (Keras'
    ``BackupAndRestore``).

    ``fit`` calls it after every other callback, wherever it stands in the list, so that its
    backup holds what they did in the epoch and what it restores is not reset by their
    ``on_train_begin``. Run again with the same model architecture, optimizer kind, data,
    ``epochs`` and callbacks: the callbacks that keep state must be the same kinds in the same
    order (callbacks without state may come and go). A callback of your own is saved if it
    defines ``state_dict`` and ``load_state_dict`` (see ``Callback``); one that does not is
    resumed as its ``on_train_begin`` leaves it.

    Args:
        backup_dir: the folder of the backup (made if missing).
        delete_checkpoint: delete the backup when training finishes (default True).

    Example:
        >>> import tempfile, numpy as np, chainrule as cr
        >>> from chainrule.train import BackupAndRestore, EarlyStopping, fit
        >>> folder = tempfile.mkdtemp()
        >>> model = cr.nn.Linear(2, 1)
        >>> opt = cr.optim.SGD(model.parameters(), lr=0.1)
        >>> callbacks = [BackupAndRestore(folder), EarlyStopping(monitor="loss", patience=2)]
        >>> history = fit(model, cr.nn.MSELoss(), opt, np.ones((8, 2)), np.ones((8, 1)), epochs=3,
        ...               callbacks=callbacks, verbose=0)
        >>> history.epoch
        [1, 2, 3]
    """

    def __init__(self, backup_dir: str | os.PathLike, delete_checkpoint: bool = True):
        self.backup_dir = os.fspath(backup_dir)
        self.delete_checkpoint = delete_checkpoint
        self.path = os.path.join(self.backup_dir, BACKUP_FILE)
        self.resumed_from: int | None = None

    def _stateful(self) -> list[Callback]:
        """The run's callbacks that define their own ``state_dict``, in the order ``fit`` calls them."""
        return [cb for cb in self.context.callbacks if type(cb).state_dict is not Callback.state_dict]

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
        from chainrule import io
        from chainrule.random import default_generator

        self.resumed_from = None
        found = os.path.exists(self.path)
        if self._processes() > 1:  # every process must resume from the same backup, or none
            found_on = distributed.all_gather(np.array([found]))
            if len({bool(f[0]) for f in found_on}) > 1:
                ranks = [r for r, f in enumerate(found_on) if not f[0]]
                raise RuntimeError(
                    f"BackupAndRestore: the backup {self.path!r} is seen by some processes and not by rank(s) "
                    f"{ranks}; under mpiexec backup_dir must be on a filesystem every process sees"
                )
        if not found:
            return
        context = self.context
        before = (context.model.state_dict(), context.optimizer.state_dict(), default_generator().bit_generator.state)
        info = io.load_checkpoint(self.path, context.model, context.optimizer)
        epoch, extra = int(info["epoch"]), info["extra"] or {}
        try:
            self._check(epoch, extra)
            for cb, saved in zip(self._stateful(), extra.get("callbacks", [])):
                cb.load_state_dict(saved["state"])
        except Exception:  # the run is left as it was, callbacks aside (their on_train_begin resets them)
            context.model.load_state_dict(before[0])
            context.optimizer.load_state_dict(before[1])
            default_generator().bit_generator.state = before[2]
            raise
        history = extra.get("history", {})
        for i, done in enumerate(extra.get("epochs", [])):
            context.history.record(int(done), {key: values[i] for key, values in history.items()})
        state = extra.get("loader_rng")
        generator = getattr(context.train_loader, "_generator", None)
        if state is not None and generator is not None:
            generator.bit_generator.state = state
        sampler = getattr(context.train_loader, "sampler", None)
        if extra.get("sampler_seed") is not None and hasattr(sampler, "seed"):
            sampler.seed = int(extra["sampler_seed"])  # (a distributed run's order: its seed and the epoch)
        context.initial_epoch = self.resumed_from = epoch
        context.progress.message(f"BackupAndRestore: resumed after epoch {epoch} from {self.path}", True)

    def _check(self, epoch: int, extra: dict[str, Any]) -> None:
        """Refuse a backup that does not fit this run: beyond its epochs, or of other callbacks."""
        if epoch > self.context.epochs:
            raise ValueError(
                f"BackupAndRestore: the backup in {self.backup_dir!r} is of epoch {epoch}, beyond this run's "
                f"epochs={self.context.epochs}"
            )
        saved = [entry["class"] for entry in extra.get("callbacks", [])]
        here = [type(cb).__name__ for cb in self._stateful()]
        if saved != here:
            raise ValueError(
                f"BackupAndRestore: the backup in {self.backup_dir!r} holds the state of the callbacks {saved}, "
                f"but this run's callbacks with state are {here}; run again with the same callbacks, or delete "
                f"{self.path!r} to start afresh"
            )

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        from chainrule import io

        context = self.context
        history = History()  # the run's History with this epoch, which fit records after the callbacks
        history.history = {key: list(values) for key, values in context.history.history.items()}
        history.epoch = list(context.history.epoch)
        history.record(epoch, logs)
        generator = getattr(context.train_loader, "_generator", None)
        extra = {
            "history": history.history,
            "epochs": history.epoch,
            "loader_rng": None if generator is None else generator.bit_generator.state,
            "sampler_seed": getattr(getattr(context.train_loader, "sampler", None), "seed", None),
            "callbacks": [{"class": type(cb).__name__, "state": cb.state_dict()} for cb in self._stateful()],
        }
        if self._writes():  # (under mpiexec every process has the same state: rank 0 saves it)
            os.makedirs(self.backup_dir, exist_ok=True)
            io.save_checkpoint(self.path, context.model, context.optimizer, epoch=epoch, extra=extra)

    def on_train_end(self, logs: dict[str, float] | None = None) -> None:
        if self._processes() > 1:
            distributed.barrier()  # (no process may still be about to read the backup)
        if self._writes() and self.delete_checkpoint and os.path.exists(self.path):
            os.remove(self.path)


@dataclass
class GradientHistory:
    """What a ``GradientMonitor`` recorded: one entry per record, in the order they were made.

    Attributes:
        steps: the optimizer step of each record (counted from 1 over the run).
        epochs: the epoch of each record (None for a record made outside ``fit`` without ``epoch=``).
        grad_norm: for each parameter name ('0.weight'), the L2 norm of its gradient at each record
            (NaN where the parameter had no gradient).
        update_ratio: for each parameter name, ``||w_after - w_before|| / ||w_before||``, the
            relative change that the optimizer's step after each record made (NaN until
            ``record_update`` fills it in, and where ``||w_before|| = 0``, e.g. a bias at zero).

    Example:
        >>> from chainrule.train import GradientHistory
        >>> h = GradientHistory(steps=[1, 2], epochs=[1, 1], grad_norm={"weight": [0.5, 0.25]},
        ...                     update_ratio={"weight": [0.01, 0.005]})
        >>> len(h), h.names
        (2, ['weight'])
    """

    steps: list[int] = field(default_factory=list)
    epochs: list[int | None] = field(default_factory=list)
    grad_norm: dict[str, list[float]] = field(default_factory=dict)
    update_ratio: dict[str, list[float]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.steps)

    @property
    def names(self) -> list[str]:
        """The parameter names recorded, in the model's order."""
        return list(self.grad_norm)

    def _add(self, step: int, epoch: int | None, norms: dict[str, float]) -> None:
        """A new record: the gradient norms now, the update ratios NaN until the step is seen."""
        before = len(self.steps)
        self.steps.append(int(step))
        self.epochs.append(None if epoch is None else int(epoch))
        for name in norms:  # a parameter seen for the first time: NaN at the earlier records
            if name not in self.grad_norm:
                self.grad_norm[name] = [math.nan] * before
                self.update_ratio[name] = [math.nan] * before
        for name, values in self.grad_norm.items():
            values.append(norms.get(name, math.nan))
            self.update_ratio[name].append(math.nan)

    def to_dict(self) -> dict[str, Any]:
        """The record as plain lists and dicts (a copy): what ``GradientMonitor.state_dict`` saves."""
        return {
            "steps": list(self.steps),
            "epochs": list(self.epochs),
            "grad_norm": {k: list(v) for k, v in self.grad_norm.items()},
            "update_ratio": {k: list(v) for k, v in self.update_ratio.items()},
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> GradientHistory:
        """The history that ``to_dict`` gave, checked: every list as long as ``steps``."""
        keys = ("steps", "epochs", "grad_norm", "update_ratio")
        missing = [k for k in keys if k not in state]
        unexpected = [k for k in state if k not in keys]
        if missing or unexpected:
            raise ValueError(f"GradientHistory.from_dict: missing {missing}, unexpected {unexpected}")
        n = len(state["steps"])
        columns = {f"{kind}[{name!r}]": v for kind in keys[2:] for name, v in state[kind].items()}
        wrong = {what: len(v) for what, v in {"epochs": state["epochs"], **columns}.items() if len(v) != n}
        if wrong or set(state["grad_norm"]) != set(state["update_ratio"]):
            raise ValueError(
                f"GradientHistory.from_dict: every list must hold one value per step ({n}), and grad_norm and "
                f"update_ratio name the same parameters; got lengths {wrong}, names {sorted(state['grad_norm'])} "
                f"and {sorted(state['update_ratio'])}"
            )
        return cls(
            [int(s) for s in state["steps"]],
            [None if e is None else int(e) for e in state["epochs"]],
            {k: [float(x) for x in v] for k, v in state["grad_norm"].items()},
            {k: [float(x) for x in v] for k, v in state["update_ratio"].items()},
        )


def _l2(a: np.ndarray) -> float:
    """The L2 norm of an array of any shape, summed in float64."""
    flat = np.asarray(a).reshape(-1).astype(np.float64, copy=False)
    return math.sqrt(float(np.dot(flat, flat)))


class GradientMonitor(Callback):
    """Watch the gradient flow: each parameter's gradient norm and update/weight ratio as it trains.

    Per parameter (by name, '0.weight'), at each record:

    - the **gradient norm** ``||g||`` after ``backward()``. Layers whose gradients are orders of
      magnitude below the others' barely learn: the early layers of a deep sigmoid network
      (sigmoid' <= 1/4 shrinks the gradient at every layer on its way back) are the classic case.
    - the **update/weight ratio** ``||w_after - w_before|| / ||w_before||``: how much the
      optimizer's step changed the weights, relative to their size (for plain SGD,
      ``lr * ||g|| / ||w||``). A common rule of thumb (cs231n) is about 1e-3: far below, the layer is
      stuck; far above, the learning rate is too high for it.

    With ``fit``, pass it in ``callbacks``: it records once per epoch, at the epoch's first batch
    (default: a full batch, where the last may be a small remainder; epoch 1's record is the
    freshly initialised network), or every ``every_n_steps`` optimizer steps, through the
    ``on_after_backward`` hook (gradients) and ``on_batch_end`` (the step's change). It resets in
    ``on_train_begin``.

    In a loop of your own (PyTorch style), call ``record(model)`` after ``loss.backward()`` and
    ``record_update(model)`` after ``optimizer.step()``, at the steps you want recorded.

    The results are in ``history`` (a ``GradientHistory``); ``plot()`` draws them
    (``chainrule.viz.training.plot_gradient_flow``).

    Args:
        every_n_steps: record every this many optimizer steps (counted over the run, from 1);
            default None: once per epoch, at its first batch.
        weights_only: watch only parameters of two or more dimensions (weight matrices, kernels),
            leaving out biases and normalisation scales, as the usual gradient-flow plots do
            (default False: every parameter that requires grad).

    Example:
        >>> import numpy as np, chainrule as cr
        >>> from chainrule.train import GradientMonitor, fit
        >>> model = cr.nn.Sequential(cr.nn.Linear(3, 4), cr.nn.Sigmoid(), cr.nn.Linear(4, 1))
        >>> monitor = GradientMonitor()
        >>> _ = fit(model, cr.nn.MSELoss(), cr.optim.SGD(model.parameters(), lr=0.1),
        ...         np.ones((8, 3)), np.ones((8, 1)), epochs=3, batch_size=4, callbacks=[monitor], verbose=0)
        >>> monitor.history.epochs, monitor.history.steps, monitor.history.names
        ([1, 2, 3], [1, 3, 5], ['0.weight', '0.bias', '2.weight', '2.bias'])
    """

    def __init__(self, every_n_steps: int | None = None, weights_only: bool = False):
        if every_n_steps is not None and (
            isinstance(every_n_steps, bool) or not isinstance(every_n_steps, (int, np.integer)) or every_n_steps < 1
        ):
            raise ValueError(
                f"GradientMonitor: every_n_steps must be a positive integer or None (once per epoch), "
                f"got {every_n_steps!r}"
            )
        self.every_n_steps = None if every_n_steps is None else int(every_n_steps)
        self.weights_only = bool(weights_only)
        self.reset()

    def reset(self) -> None:
        """Forget everything recorded (``fit`` calls it through ``on_train_begin``)."""
        self.history = GradientHistory()
        self._step = 0  # optimizer steps seen in fit
        self._epoch: int | None = None
        self._before: dict[str, np.ndarray] | None = None  # the weights a pending record's step starts from

    # ------------------------------------------------------------------ a loop of your own

    def _watched(self, model: Any, caller: str) -> list[tuple[str, Any]]:
        from chainrule.nn.module import Module

        if not isinstance(model, Module):
            raise TypeError(
                f"GradientMonitor.{caller}: model must be a chainrule.nn.Module, got {type(model).__name__}"
            )
        return [
            (name, p)
            for name, p in model.named_parameters()
            if p.requires_grad and (not self.weights_only or p.ndim >= 2)
        ]

    def record(self, model: Any, *, step: int | None = None, epoch: int | None = None) -> dict[str, float]:
        """Record the gradient norm of each parameter now: call it after ``loss.backward()`` and
        before ``optimizer.step()``; then ``record_update(model)`` after the step.

        Args:
            model: the network whose gradients to read.
            step: the step this record belongs to (default: one after the last record's).
            epoch: its epoch, if you count them (default None).

        Returns:
            {parameter name: gradient norm} of this record (NaN for a parameter without gradient).

        Example:
            >>> import chainrule as cr
            >>> from chainrule.train import GradientMonitor
            >>> model = cr.nn.Linear(2, 1)
            >>> with cr.no_grad():
            ...     _ = model.weight.copy_(cr.tensor([[3.0, 4.0]])); _ = model.bias.zero_()
            >>> opt = cr.optim.SGD(model.parameters(), lr=0.1)
            >>> monitor = GradientMonitor()
            >>> model(cr.tensor([[1.0, 1.0]])).sum().backward()  # dL/dw = [1, 1], dL/db = 1
            >>> {k: round(v, 4) for k, v in monitor.record(model).items()}
            {'weight': 1.4142, 'bias': 1.0}
            >>> opt.step()
            >>> {k: round(v, 4) for k, v in monitor.record_update(model).items()}  # 0.1 * sqrt(2) / 5
            {'weight': 0.0283, 'bias': nan}
        """
        watched = self._watched(model, "record")
        norms: dict[str, float] = {}
        for name, p in watched:
            g = p.grad
            norms[name] = math.nan if g is None else _l2(g._data if hasattr(g, "_data") else g)
        if not watched or all(math.isnan(v) for v in norms.values()):
            raise RuntimeError(
                "GradientMonitor.record: no parameter of the model has a gradient; call it after "
                "loss.backward() and before optimizer.step() (and before the next optimizer.zero_grad())"
            )
        if step is None:
            step = self.history.steps[-1] + 1 if len(self.history) else 1
        self.history._add(step, epoch, norms)
        self._before = {name: p._data.copy() for name, p in watched}
        return norms

    def record_update(self, model: Any) -> dict[str, float]:
        """Complete the last record with the update/weight ratio of the step just taken: call it
        after ``optimizer.step()`` (``record(model)`` having been called before the step).

        Returns:
            {parameter name: ``||w_after - w_before|| / ||w_before||``} (NaN where ``||w_before|| = 0``).

        Example:
            >>> import chainrule as cr
            >>> from chainrule.train import GradientMonitor
            >>> GradientMonitor().record_update(cr.nn.Linear(2, 1))
            Traceback (most recent call last):
            ...
            RuntimeError: GradientMonitor.record_update: there is no record to complete; call record(model) ...
        """
        if self._before is None:
            raise RuntimeError(
                "GradientMonitor.record_update: there is no record to complete; call record(model) after "
                "loss.backward() and before optimizer.step(), then record_update(model) after the step"
            )
        now = dict(self._watched(model, "record_update"))
        missing = [name for name in self._before if name not in now]
        if missing:
            raise ValueError(
                f"GradientMonitor.record_update: the model has no parameters {missing}, which record() saw: "
                "give both the same model"
            )
        ratios: dict[str, float] = {}
        for name, before in self._before.items():
            after = now[name]._data
            if after.shape != before.shape:
                raise ValueError(
                    f"GradientMonitor.record_update: {name} has shape {after.shape}, but {before.shape} at record()"
                )
            size = _l2(before)
            delta = _l2(after.astype(np.float64) - before)
            ratios[name] = delta / size if size > 0 else math.nan
            self.history.update_ratio[name][-1] = ratios[name]
        self._before = None
        return ratios

    def plot(self, path: str | os.PathLike | None = None, show: bool = False, **kwargs: Any) -> Any:
        """Draw the record: ``chainrule.viz.training.plot_gradient_flow(self, ...)``; returns the Figure.

        Example:
            >>> from chainrule.train import GradientMonitor
            >>> monitor = GradientMonitor()
            >>> monitor.history = monitor.history.from_dict({"steps": [1, 2], "epochs": [1, 2],
            ...     "grad_norm": {"w": [1.0, 0.5]}, "update_ratio": {"w": [1e-3, 2e-3]}})
            >>> [ax.get_title() for ax in monitor.plot().axes]
            ['Gradient norm by layer', 'Gradient norm', 'Update / weight ratio']
        """
        from chainrule.viz.training import plot_gradient_flow

        return plot_gradient_flow(self, path=path, show=show, **kwargs)

    # ------------------------------------------------------------------ fit's hooks

    def _context(self) -> TrainContext:
        context = getattr(self, "context", None)
        if context is None:
            raise RuntimeError(
                "GradientMonitor: its on_* hooks are called by fit (pass it in callbacks=[...]); in a loop of "
                "your own call record(model) after loss.backward() and record_update(model) after optimizer.step()"
            )
        return context

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
        self.reset()

    def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        self._epoch = epoch

    def on_after_backward(self, batch: int, logs: dict[str, float] | None = None) -> None:
        context = self._context()
        self._step += 1
        if self.every_n_steps is None:
            due = batch == 0
        else:
            due = self._step % self.every_n_steps == 0
        if due:
            self.record(context.model, step=self._step, epoch=self._epoch)

    def on_batch_end(self, batch: int, logs: dict[str, float]) -> None:
        if self._before is not None:
            self.record_update(self._context().model)

    def state_dict(self) -> dict[str, Any]:
        """The record so far and the count of steps."""
        return {"history": self.history.to_dict(), "step": self._step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Take back what ``state_dict`` gave."""
        history, step = _loaded(self, state, ("history", "step"))
        self.history, self._step, self._before = GradientHistory.from_dict(history), int(step), None

    def __repr__(self) -> str:
        return f"GradientMonitor(every_n_steps={self.every_n_steps}, weights_only={self.weights_only})"
