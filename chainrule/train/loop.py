"""The training loop: ``fit``.

One loop serves full-batch gradient descent, stochastic gradient descent and mini-batch gradient
descent: ``batch_size=None`` (the whole set), ``1`` or ``k``; with or without sample weights; for
networks built by hand and for ``chainrule.estimators`` (which bring their own batches, loss and
stopping rule as a DataLoader, a loss function and a callback). Evaluation and prediction are in
``chainrule.train.inference``.
"""

from __future__ import annotations

import copy
import inspect
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from chainrule import distributed, ops
from chainrule.autograd import no_grad
from chainrule.compiler import CompiledFunction
from chainrule.data.loader import DataLoader, _array_batches
from chainrule.nn.module import Module
from chainrule.tensor import Tensor
from chainrule.train import parallel
from chainrule.train.callbacks import BackupAndRestore, Callback, TrainContext
from chainrule.train.history import History
from chainrule.train.inference import (
    Loss,
    _array,
    _check_finite,
    _check_lengths,
    _check_model,
    _loader,
    _metric_logs,
    _param_dtype,
    _prepare,
    _prepare_batch,
    evaluate,
)
from chainrule.train.metrics import get_metric
from chainrule.train.progress import Progress


def fit(
    model: Module,
    loss_fn: Loss,
    optimizer: Any,
    X: Any,
    y: Any = None,
    *,
    epochs: int = 1,
    batch_size: int | None = 32,
    sample_weight: Any = None,
    validation_data: tuple[Any, Any] | DataLoader | None = None,
    validation_split: float = 0.0,
    metrics: Sequence[str | Callable] | None = None,
    callbacks: Sequence[Callback] | None = None,
    verbose: int | str | Progress = "auto",
    shuffle: bool = True,
    seed: int | np.random.Generator | None = None,
    terminate_on_nan: bool = True,
    initial_epoch: int = 0,
    compile: bool = True,
    data_parallel: bool | None = None,
) -> History:
    """Train ``model`` to minimise ``loss_fn`` with ``optimizer``; returns the History.

    Args:
        model: the network.
        loss_fn: ``loss_fn(outputs, targets) -> scalar Tensor``, e.g. ``nn.CrossEntropyLoss()``.
        optimizer: from ``chainrule.optim``, built on ``model.parameters()``.
        X, y: arrays (or Tensors) of inputs and targets, or X a DataLoader yielding (inputs, targets).
        epochs: passes over the training data.
        batch_size: samples per step; None is full-batch gradient descent, 1 is SGD.
        sample_weight: one finite, non-negative weight per sample, not all zero (default None:
            all equal); with a DataLoader, a third array in each batch is its weights. As in
            Keras, a weighted batch's loss is the mean of ``weight * sample loss``: a chainrule
            loss module (``nn.CrossEntropyLoss()``, ``nn.MSELoss()``, ...) is weighted by ``fit``;
            any other loss_fn is called as ``loss_fn(outputs, targets, sample_weight=weights)``.
            A batch whose weights are all zero teaches nothing: no step is taken on it, its
            samples count in the epoch's loss with loss 0 (and in the metrics, which are
            unweighted). Validation is unweighted.
        validation_data: (X_val, y_val) or a DataLoader, evaluated after each epoch.
        validation_split: or hold out this fraction of X, y (the last samples, before shuffling).
        metrics: names ('accuracy', 'f1', 'mse', 'r2', ...) or functions ``fn(y_true, outputs)``.
        callbacks: e.g. EarlyStopping, ModelCheckpoint, CSVLogger, TerminateOnNaN, GradientMonitor.
            Each batch runs ``on_batch_begin``, the forward pass, ``backward()``,
            ``on_after_backward`` (gradients computed, weights not yet updated), the optimizer's
            step and ``on_batch_end``. As in Keras,
            their ``on_epoch_end`` runs before the epoch is recorded in the History and reported,
            so what they add to ``logs`` is recorded and shown. They run in the order given,
            except ``BackupAndRestore``, which runs after the others (its backup holds what they
            did in the epoch; what it restores is not reset by their ``on_train_begin``).
        verbose: 0 silent, 1 progress bar per epoch, 2 one line per epoch, 'auto', or a
            ``chainrule.train.progress.Progress`` to report through (e.g. one bar over the epochs).
        shuffle: reshuffle the training data every epoch.
        seed: seed of the shuffling (by default chainrule's random source, see ``cr.manual_seed``).
        terminate_on_nan: stop as soon as a batch's loss is NaN or infinite, before its step, saying
            so on stderr (even with ``verbose=0``) and in ``History.stop_reason`` (default True;
            False trains on, as Keras does without its TerminateOnNaN callback). NaN or inf in
            X or y is refused before training, whatever this says.
        initial_epoch: epochs already done (Keras' name): training runs epochs
            ``initial_epoch + 1 .. epochs``. ``BackupAndRestore`` sets it when it resumes a run.
        compile: run each batch's forward pass, loss, ``zero_grad`` and ``backward`` as a step
            compiled by ``cr.compile`` (default True): the same numbers, without the per-op cost.
            The compiled step is kept with the optimizer, so a later ``fit`` (``partial_fit``)
            with the same model, loss and optimizer replays it at once. A model it cannot
            replay (one that reads a tensor's value in ``forward``, ...) trains eagerly, with one
            ``CompileWarning`` saying why. The loss function's Python state (attributes, closure,
            globals, the dicts and lists in them) is watched: a change records the step again.
            Python values a model's ``forward`` reads, other than module attributes, are
            constants of the compiled step: use False for a model that changes them during
            training. False: every batch eagerly.
        data_parallel: under an MPI launcher (``mpiexec -n N python train.py``), train one model
            with the N processes (None, the default, when N > 1): each process takes its share
            of every batch (``batch_size`` is per process, as in PyTorch and Horovod; the
            samples are sharded with a ``DistributedSampler`` seeded the same everywhere), the
            gradients are averaged inside the backward, each batch's loss and the epoch's metrics
            and validation are computed over all the processes, rank 0 alone shows progress and
            callbacks write files from rank 0, and every process leaves with rank 0's weights.
            False: this process trains alone on all the data it was given (what the
            scikit-learn estimators do).

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
    if isinstance(initial_epoch, bool) or not isinstance(initial_epoch, (int, np.integer)) or not 0 <= initial_epoch:
        raise ValueError(f"fit: initial_epoch must be a non-negative integer, got {initial_epoch!r}")
    if not 0.0 <= validation_split < 1.0:
        raise ValueError(f"fit: validation_split must be in [0, 1), got {validation_split}")
    if validation_split and validation_data is not None:
        raise ValueError("fit: give validation_data or validation_split, not both")
    if not isinstance(compile, (bool, np.bool_)):
        raise ValueError(f"fit: compile must be True or False, got {compile!r}")
    progress = verbose if isinstance(verbose, Progress) else Progress(verbose)
    if data_parallel not in (None, True, False):
        raise ValueError(f"fit: data_parallel must be None, True or False, got {data_parallel!r}")
    processes = 1 if data_parallel is False else distributed.world_size()  # under mpiexec: a shard each
    if processes > 1 and not distributed.is_main():
        progress = parallel.Quiet()  # rank 0 shows the run
    metric_fns = [get_metric(m) for m in (metrics or [])]
    dtype = _param_dtype(model)
    weighted_loss = None  # how a weighted batch's loss is computed: made when there are weights
    weights = None
    if not isinstance(X, DataLoader):  # checked whole, before the weights and the validation split use them
        X = _prepare(X, dtype, "fit", "X")
        y = None if y is None else _prepare(y, dtype, "fit", "y")
    if sample_weight is not None:
        if isinstance(X, DataLoader):
            raise ValueError(
                "fit: sample_weight goes with arrays; a DataLoader yields (inputs, targets, weights) batches"
            )
        weights = _sample_weights(sample_weight, len(X), dtype, "sample_weight")
        weighted_loss = _weighted_loss(loss_fn)
    check_batch_weights = False  # weights that come from a loader's dataset, one batch at a time
    if isinstance(X, DataLoader):
        held = _held_weights(X)
        if held is not None:  # a loader over (inputs, targets, weights) arrays: checked now, not halfway
            _sample_weights(held, len(held), dtype, "the DataLoader's third array (the weights)")
            weighted_loss = _weighted_loss(loss_fn)
        else:
            check_batch_weights = True
        for i, array in enumerate(getattr(X.dataset, "arrays", ())):  # arrays it holds: checked up front
            if array.dtype.kind == "f":
                _check_finite(array, array, "fit", f"the DataLoader's array {i}")

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
        if weights is not None:
            weights = weights[:-n_val]
            if not weights.any():
                raise ValueError(
                    "fit: sample_weight is zero for every training sample (the validation_split holds out the "
                    "rest): there is nothing to learn from"
                )
    if weights is None:
        train_loader = _loader(X, y, batch_size, shuffle, seed, dtype, "fit")
    else:
        train_loader = _weighted_loader(X, y, weights, batch_size, shuffle, seed)
    if len(train_loader) == 0:
        raise ValueError("fit: there are no training samples (X has 0 rows)")
    if processes > 1:
        train_loader = parallel.shard(train_loader, parallel.shared_seed(seed), "fit")
    if validation_data is not None and not isinstance(validation_data, DataLoader):
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise ValueError("fit: validation_data must be (X_val, y_val) or a DataLoader")
        validation_data = _loader(
            validation_data[0], validation_data[1], batch_size, False, None, dtype, "fit (validation)"
        )

    validation_loss = loss_fn if validation_data is None else _unweighted(loss_fn)
    history = History()
    callbacks = _call_order(list(callbacks or []))
    context = TrainContext(
        # (callbacks save and restore the model itself: a DistributedDataParallel given to fit is no model to save)
        model.module if isinstance(model, distributed.DistributedDataParallel) else model,
        optimizer,
        loss_fn,
        history,
        epochs,
        len(train_loader),
        progress=progress,
        initial_epoch=int(initial_epoch),
        train_loader=train_loader,
        callbacks=callbacks,
        processes=processes,
        rank=distributed.rank() if processes > 1 else 0,
    )
    epoch_begin = _hooks(callbacks, "on_epoch_begin")  # only those that do something: a step stays lean
    batch_begin = _hooks(callbacks, "on_batch_begin")
    after_backward = _hooks(callbacks, "on_after_backward")
    batch_end = _hooks(callbacks, "on_batch_end")
    modules = list(model.modules())
    trained = parallel.wrapper(model) if processes > 1 else model  # its backward averages the gradients
    # a sampler that draws its order per epoch (DistributedSampler) is told the epoch, as Lightning does
    sampler = getattr(train_loader, "sampler", None)
    set_epoch = getattr(sampler, "set_epoch", None)
    train_step = _fit_step(trained, loss_fn, optimizer) if compile else None
    try:
        progress.train_begin(epochs, len(train_loader))
        for cb in callbacks:
            cb.set_context(context)
            cb.on_train_begin()

        for epoch in range(context.initial_epoch + 1, epochs + 1):  # (a callback may have resumed a run)
            for module in modules:  # training mode, which an evaluation or a callback may have changed
                if not module.training:
                    model.train()
                    break
            if set_epoch is not None:
                set_epoch(epoch)
            for hook in epoch_begin:
                hook(epoch)
            progress.epoch_begin(epoch)
            total_loss, seen = 0.0, 0
            outputs, targets = [], []
            for batch_index, batch in enumerate(_array_batches(train_loader)):  # arrays: no Tensor per batch
                n_arrays = len(batch)
                if n_arrays == 3:
                    if processes == 1 and not np.asarray(batch[2]).any():  # nothing to learn here: no step
                        seen += len(batch[0])
                        progress.batch_end(total_loss / seen)
                        if metric_fns:  # the metrics still cover every sample
                            xb, yb = _prepare_batch(batch[:2], dtype)
                            with no_grad():
                                outputs.append(model(Tensor._make(xb) if isinstance(xb, np.ndarray) else xb)._data)
                            targets.append(yb)
                        continue
                    if check_batch_weights:
                        what = f"the weights in batch {batch_index} of the DataLoader"
                        # (under mpiexec one process's share may be all zeros: the whole batch decides)
                        batch = (*batch[:2], _sample_weights(batch[2], len(batch[0]), dtype, what, processes == 1))
                    if weighted_loss is None:
                        weighted_loss = _weighted_loss(loss_fn)
                elif n_arrays != 2:
                    raise ValueError(
                        "fit: each batch must be (inputs, targets) or (inputs, targets, sample_weight), "
                        f"got {n_arrays} array(s); pass y or a loader that yields targets"
                    )
                batch = _prepare_batch(batch, dtype)
                xb, yb = batch[0], batch[1]
                wb = batch[2] if n_arrays == 3 else None
                n = len(xb)
                for hook in batch_begin:
                    hook(batch_index)
                if train_step is not None:  # forward, loss, zero_grad, backward: compiled
                    train_step.weighted = weighted_loss
                    out, loss = train_step.run(xb, yb, wb)
                else:
                    out = trained(Tensor._make(xb) if isinstance(xb, np.ndarray) else xb)
                    loss = loss_fn(out, yb) if wb is None else weighted_loss(out, yb, wb)
                    if processes > 1:  # every process exchanges its gradients, whatever its loss
                        optimizer.zero_grad()
                        loss.backward()
                value = float(loss._data)
                skip = False
                if processes > 1:  # the batch of every process together: one loss, one decision
                    value, n, weight = parallel.batch_totals(value, n, 1.0 if wb is None else float(wb.sum()))
                    skip = weight == 0.0  # no sample of the whole batch has weight: no step
                total_loss += value * n
                seen += n
                if terminate_on_nan and not math.isfinite(value):  # before the step: the weights stay finite
                    reason = (
                        f"fit: the loss became {value} at epoch {epoch}, batch {batch_index}; training stopped before "
                        "this batch's step. Look for extreme values in the data or lower the learning rate "
                        "(terminate_on_nan=False trains on)"
                    )
                    progress.message(reason, True)
                    context.stop(reason)
                    break
                if train_step is None and processes == 1:
                    optimizer.zero_grad()
                    loss.backward()
                if after_backward:  # the gradients are there, the weights not yet updated
                    for hook in after_backward:
                        hook(batch_index, {"loss": value, "size": n})
                if not skip:
                    optimizer.step()
                if metric_fns:
                    outputs.append(out._data)
                    targets.append(yb)
                progress.batch_end(total_loss / seen)
                if batch_end:
                    for hook in batch_end:
                        hook(batch_index, {"loss": value, "size": n})
                if context.stop_training:
                    break
            logs = {"loss": total_loss / max(seen, 1)}
            if metric_fns and outputs:
                if processes > 1:  # every process's outputs (the sampler's padding left out)
                    finished = len(outputs) == len(train_loader)
                    all_outputs, all_targets = parallel.gathered(
                        outputs, targets, sampler.real_samples() if finished else None
                    )
                    logs.update(_metric_logs(metric_fns, all_targets, all_outputs))
                else:
                    logs.update(_metric_logs(metric_fns, np.concatenate(targets), np.concatenate(outputs)))
            if validation_data is not None:
                if processes > 1:  # each process evaluates its part
                    validation = parallel.evaluated(model, validation_loss, validation_data, metrics, compile)
                else:
                    validation = evaluate(model, validation_loss, validation_data, metrics=metrics, compile=compile)
                logs.update({f"val_{k}": v for k, v in validation.items()})
            if getattr(optimizer, "param_groups", None):
                logs["lr"] = float(optimizer.param_groups[0]["lr"])
            for cb in callbacks:  # first, as in Keras: what they add to logs is recorded and shown
                cb.on_epoch_end(epoch, logs)
            history.record(epoch, logs)
            progress.epoch_end(epoch, logs)
            if context.stop_training:
                break

        for cb in callbacks:
            cb.on_train_end()
        if processes > 1:
            trained.sync_module_states()  # equal already, unless the MPI library's rounding differed: now equal
    finally:
        progress.close()
        if trained is not model:
            trained._detach_hooks()  # the model exchanges gradients during fit only
    history.stop_reason = context.stop_reason
    model.eval()
    return history


def _call_order(callbacks: list[Callback]) -> list[Callback]:
    """The callbacks in the order ``fit`` calls them: as given, with ``BackupAndRestore`` last."""
    backups = [cb for cb in callbacks if isinstance(cb, BackupAndRestore)]
    return [cb for cb in callbacks if not isinstance(cb, BackupAndRestore)] + backups


def _hooks(callbacks: list[Callback], name: str) -> list[Callable]:
    """The callbacks' ``name`` methods, leaving out those that only inherit ``Callback``'s no-op."""
    default = getattr(Callback, name)
    hooks = [getattr(cb, name) for cb in callbacks]
    return [hook for hook in hooks if getattr(hook, "__func__", hook) is not default]


def _binds(loss_fn: Any, n_args: int, keyword: str | None = None) -> bool | None:
    """Whether ``loss_fn`` can be called with ``n_args`` positional arguments (and ``keyword``);
    None: no signature to read."""
    function = loss_fn.forward if isinstance(loss_fn, Module) else loss_fn
    try:
        inspect.signature(function).bind(*[None] * n_args, **({keyword: None} if keyword else {}))
    except TypeError:
        return False
    except ValueError:
        return None
    return True


def _unweighted(loss_fn: Any) -> Any:
    """``loss_fn`` for the (unweighted) validation: a loss that must be given weights gets ones."""
    if _binds(loss_fn, 2) is not False:
        return loss_fn
    return lambda outputs, targets: loss_fn(outputs, targets, sample_weight=np.ones(len(targets), dtype=outputs.dtype))


class _FitStep:
    """``fit``'s step compiled: the forward pass, the loss (weighted by ``weighted`` when a batch
    has weights), ``zero_grad`` and ``backward``; ``run(xb, yb, wb)`` returns (outputs, loss)."""

    def __init__(self, model: Module, loss_fn: Any, optimizer: Any) -> None:
        self.weighted: Callable | None = None

        def step(xb: Any, yb: Any, wb: np.ndarray | None) -> tuple[Tensor, Tensor]:
            out = model(Tensor._make(xb) if isinstance(xb, np.ndarray) else xb)
            loss = loss_fn(out, yb) if wb is None else self.weighted(out, yb, wb)
            optimizer.zero_grad()
            loss.backward()
            return out, loss

        # the loss function's Python state (attributes, closure, the dicts and lists in them) is
        # watched: a change (a weight a callback anneals) makes the step record again
        self.run = CompiledFunction(
            step, watch=(loss_fn,), name="fit's compiled step", hint="fit(..., compile=False) trains eagerly, silently"
        )


def _fit_step(model: Module, loss_fn: Any, optimizer: Any) -> _FitStep:
    """The compiled step of ``fit`` for this model, loss and optimizer, kept with the optimizer
    (``Optimizer.__getstate__`` leaves it out of copies and pickles) for the next ``fit`` with the
    same model and loss (``partial_fit``); a fit with another model or loss object replaces it."""
    steps = getattr(optimizer, "__dict__", {}).setdefault("_fit_steps", {})
    key = (id(model), id(loss_fn))
    step = steps.pop(key, None)
    if step is None:
        step = _FitStep(model, loss_fn, optimizer)
        while len(steps) >= _FIT_STEPS_KEPT:  # the least recently used goes (with its loss and model)
            del steps[next(iter(steps))]
    steps[key] = step  # (last: the most recently used)
    return step


_FIT_STEPS_KEPT = 1  # the step of the optimizer's last fit: a new loss object each fit must not pile up


def _weighted_loss(loss_fn: Any) -> Callable[[Tensor, Any, np.ndarray], Tensor]:
    """How ``fit`` computes the loss of a batch with sample weights ``w``, Keras' rule.

    A chainrule loss module (``nn.MSELoss``, ``nn.CrossEntropyLoss``, ...): each sample's loss
    (its ``reduction='none'`` loss, averaged over any further axes) times its weight, then the
    mean over the batch (``reduction='sum'``: the sum). Any other ``loss_fn`` is given the
    weights itself, as ``loss_fn(outputs, targets, sample_weight=w)``.
    """
    if isinstance(loss_fn, Module) and hasattr(loss_fn, "reduction") and hasattr(loss_fn, "get_config"):
        if loss_fn.reduction not in ("mean", "sum"):
            raise ValueError(
                f"fit: {loss_fn!r} has reduction={loss_fn.reduction!r}; with sample weights give it "
                "reduction='mean' (or 'sum'): fit weighs its per-sample losses itself"
            )
        per_sample = copy.copy(loss_fn)  # the same loss, unreduced; loss_fn itself is left as it is
        # (set past Module.__setattr__: a copy's setting is no change a compiled step must notice)
        object.__setattr__(per_sample, "reduction", "none")
        total = loss_fn.reduction == "sum"

        def weighted(outputs: Tensor, targets: Any, weights: np.ndarray) -> Tensor:
            losses = per_sample(outputs, targets)
            if losses.ndim > 1:
                losses = losses.reshape(losses.shape[0], -1).mean(axis=1)
            w = Tensor._make(weights)
            losses = losses * (w if w.dtype == losses.dtype else ops.cast(w, losses.dtype))
            return losses.sum() if total else losses.mean()

        return weighted
    if _binds(loss_fn, 2, "sample_weight") is False:
        raise ValueError(
            f"fit: the batches carry sample weights, but loss_fn {loss_fn!r} takes no sample_weight; use a "
            "chainrule loss (nn.CrossEntropyLoss(), nn.MSELoss(), ...), whose per-sample losses fit weighs, or "
            "give a loss_fn(outputs, targets, sample_weight) -> scalar Tensor, e.g. "
            "lambda out, y, sample_weight: (F.cross_entropy(out, y, reduction='none') * cr.tensor(sample_weight))"
            ".mean()"
        )
    return lambda outputs, targets, weights: loss_fn(outputs, targets, sample_weight=weights)


def _held_weights(loader: DataLoader) -> np.ndarray | None:
    """The weights a DataLoader over three arrays holds (None for two arrays, or another dataset)."""
    arrays = getattr(loader.dataset, "arrays", None)
    return arrays[2] if arrays is not None and len(arrays) == 3 else None


def _sample_weights(
    sample_weight: Any, n_samples: int, dtype: np.dtype, what: str, some_nonzero: bool = True
) -> np.ndarray:
    """Sample weights checked: one finite, non-negative number per sample, not all zero, in the
    model's dtype; ``what`` names them in an error. Serves ``sample_weight``, the weights a
    DataLoader holds, and those of a DataLoader's batch (checked as they come)."""
    weights = _array(sample_weight)
    if weights.ndim != 1 or len(weights) != n_samples:
        raise ValueError(
            f"fit: {what} must hold one weight per sample, shape ({n_samples},), got shape {weights.shape}"
        )
    if weights.dtype.kind not in "biuf":
        raise ValueError(f"fit: {what} must be numbers, got dtype {weights.dtype}")
    with np.errstate(over="ignore"):  # a weight too large for the model's dtype is reported below
        cast = weights.astype(dtype, copy=False)
    _check_finite(cast, weights, "fit", what)  # NaN, inf, and weights whose products overflow
    weights = cast
    if np.any(weights < 0):
        raise ValueError(f"fit: {what} must be non-negative, got {weights.min()!r}")
    if some_nonzero and n_samples and not weights.any():
        raise ValueError(f"fit: {what} is zero for every sample: there is nothing to learn from")
    return weights


def _weighted_loader(
    X: np.ndarray, y: np.ndarray | None, weights: np.ndarray, batch_size: int | None, shuffle: bool, seed: Any
) -> DataLoader:
    """Batches of (inputs, targets, weights), from X and y that ``fit`` has already prepared."""
    if y is None:
        raise ValueError("fit: sample_weight needs y (the targets)")
    _check_lengths(X, y, "fit")
    return DataLoader((X, y, weights), batch_size=batch_size, shuffle=shuffle, seed=seed)
