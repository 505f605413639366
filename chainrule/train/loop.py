"""The training loop: ``fit``.

One loop serves full-batch gradient descent, stochastic gradient descent and mini-batch gradient
descent: ``batch_size=None`` (the whole set), ``1`` or ``k``. Evaluation and prediction are in
``chainrule.train.inference``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from chainrule.data.loader import DataLoader
from chainrule.nn.module import Module
from chainrule.tensor import Tensor
from chainrule.train.callbacks import Callback, TrainContext
from chainrule.train.history import History
from chainrule.train.inference import (
    Loss,
    _array,
    _check_lengths,
    _check_model,
    _loader,
    _metric_logs,
    _param_dtype,
    _prepare_batch,
    evaluate,
)
from chainrule.train.metrics import get_metric
from chainrule.train.progress import EpochProgress, resolve_verbose


def fit(
    model: Module,
    loss_fn: Loss,
    optimizer: Any,
    X: Any,
    y: Any = None,
    *,
    epochs: int = 1,
    batch_size: int | None = 32,
    validation_data: tuple[Any, Any] | DataLoader | None = None,
    validation_split: float = 0.0,
    metrics: Sequence[str | Callable] | None = None,
    callbacks: Sequence[Callback] | None = None,
    verbose: int | str = "auto",
    shuffle: bool = True,
    seed: int | np.random.Generator | None = None,
) -> History:
    """Train ``model`` to minimise ``loss_fn`` with ``optimizer``; returns the History.

    Args:
        model: the network.
        loss_fn: ``loss_fn(outputs, targets) -> scalar Tensor``, e.g. ``nn.CrossEntropyLoss()``.
        optimizer: from ``chainrule.optim``, built on ``model.parameters()``.
        X, y: arrays (or Tensors) of inputs and targets, or X a DataLoader yielding (inputs, targets).
        epochs: passes over the training data.
        batch_size: samples per step; None is full-batch gradient descent, 1 is SGD.
        validation_data: (X_val, y_val) or a DataLoader, evaluated after each epoch.
        validation_split: or hold out this fraction of X, y (the last samples, before shuffling).
        metrics: names ('accuracy', 'f1', 'mse', 'r2', ...) or functions ``fn(y_true, outputs)``.
        callbacks: e.g. EarlyStopping, ModelCheckpoint, CSVLogger, TerminateOnNaN.
        verbose: 0 silent, 1 progress bar per epoch, 2 one line per epoch, 'auto'.
        shuffle: reshuffle the training data every epoch.
        seed: seed of the shuffling (by default chainrule's random source, see ``cr.manual_seed``).

    Example:
        >>> import numpy as np, chainrule as cr
        >>> from chainrule.train import fit
        >>> _ = cr.manual_seed(0)
        >>> X = np.random.default_rng(0).normal(size=(64, 2)).astype("float32")
        >>> y = (X[:, 0] + X[:, 1] > 0).astype("int64")
        >>> model = cr.nn.Sequential(cr.nn.Linear(2, 8), cr.nn.Tanh(), cr.nn.Linear(8, 2))
        >>> opt = cr.optim.SGD(model.parameters(), lr=0.5)
        >>> history = fit(model, cr.nn.CrossEntropyLoss(), opt, X, y, epochs=30, metrics=["accuracy"], verbose=0)
        >>> history["accuracy"][-1] > 0.9
        True
    """
    _check_model(model, "fit")
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"fit: epochs must be a non-negative integer, got {epochs!r}")
    if not 0.0 <= validation_split < 1.0:
        raise ValueError(f"fit: validation_split must be in [0, 1), got {validation_split}")
    if validation_split and validation_data is not None:
        raise ValueError("fit: give validation_data or validation_split, not both")
    verbose = resolve_verbose(verbose)
    metric_fns = [get_metric(m) for m in (metrics or [])]
    dtype = _param_dtype(model)

    if validation_split:
        if isinstance(X, DataLoader):
            raise ValueError("fit: validation_split needs arrays; with a DataLoader pass validation_data")
        if y is None:
            raise ValueError("fit: validation_split needs y (the targets)")
        X_all, y_all = _array(X), _array(y)
        _check_lengths(X_all, y_all, "fit")
        n_val = int(math.ceil(len(X_all) * validation_split))
        if n_val == 0 or n_val >= len(X_all):
            raise ValueError(
                f"fit: validation_split={validation_split} leaves no training or no validation samples "
                f"out of {len(X_all)}"
            )
        X, y = X_all[:-n_val], y_all[:-n_val]
        validation_data = (X_all[-n_val:], y_all[-n_val:])
    train_loader = _loader(X, y, batch_size, shuffle, seed, dtype, "fit")
    if validation_data is not None and not isinstance(validation_data, DataLoader):
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise ValueError("fit: validation_data must be (X_val, y_val) or a DataLoader")
        validation_data = _loader(
            validation_data[0], validation_data[1], batch_size, False, None, dtype, "fit (validation)"
        )

    history = History()
    callbacks = list(callbacks or [])
    context = TrainContext(model, optimizer, loss_fn, history, epochs, len(train_loader))
    for cb in callbacks:
        cb.set_context(context)
        cb.on_train_begin()

    for epoch in range(1, epochs + 1):
        model.train()
        for cb in callbacks:
            cb.on_epoch_begin(epoch)
        progress = EpochProgress(verbose, epoch, epochs, len(train_loader))
        total_loss, seen = 0.0, 0
        outputs, targets = [], []
        for batch_index, batch in enumerate(train_loader):
            if len(batch) < 2:
                raise ValueError("fit: each batch must be (inputs, targets); pass y or a loader that yields targets")
            for cb in callbacks:
                cb.on_batch_begin(batch_index)
            xb, yb = _prepare_batch(batch[:2], dtype)
            out = model(Tensor._make(xb) if isinstance(xb, np.ndarray) else xb)
            loss = loss_fn(out, yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            value = float(loss.data)
            n = len(xb)
            total_loss += value * n
            seen += n
            if metric_fns:
                outputs.append(out.data)
                targets.append(yb)
            progress.update(total_loss / seen)
            if callbacks:
                for cb in callbacks:
                    cb.on_batch_end(batch_index, {"loss": value, "size": n})
                if context.stop_training:
                    break
        logs = {"loss": total_loss / max(seen, 1)}
        if metric_fns and outputs:
            logs.update(_metric_logs(metric_fns, np.concatenate(targets), np.concatenate(outputs)))
        if validation_data is not None:
            logs.update({f"val_{k}": v for k, v in evaluate(model, loss_fn, validation_data, metrics=metrics).items()})
        if getattr(optimizer, "param_groups", None):
            logs["lr"] = float(optimizer.param_groups[0]["lr"])
        history.record(epoch, logs)
        progress.close(logs)
        for cb in callbacks:
            cb.on_epoch_end(epoch, logs)
        if context.stop_training:
            break

    for cb in callbacks:
        cb.on_train_end()
    history.stop_reason = context.stop_reason
    model.eval()
    return history
