"""The commands of ``chainrule``, one function each: ``cmd_train``, ``cmd_evaluate``,
``cmd_predict``, ``cmd_summary``, ``cmd_export`` and ``cmd_datasets``. Each takes the parsed
arguments and returns the exit code; a user error raises CLIError (or tabular.DataError)."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import hashlib
import json
import os
import sys
import time
import uuid
from typing import Any

import numpy as np

import chainrule as cr
from chainrule import distributed
from chainrule.cli import outputs, tabular
from chainrule.cli.errors import CLIError
from chainrule.cli.models import (
    MODEL_FILE,
    build_network,
    check_model_and_task,
    input_shape,
    load_model,
    loss_name,
    make_loss,
    make_optimizer,
    metric_names,
)
from chainrule.cli.reports import (
    print_confusion_matrix,
    print_metrics,
    print_notes,
    print_training_report,
    write_history_csv,
)
from chainrule.cli.sources import DataSource, TrainingData, model_inputs, open_data, split_rows, training_data
from chainrule.data import list_datasets
from chainrule.io.files import write_text_atomic
from chainrule.train import BackupAndRestore, EarlyStopping, History, TerminateOnNaN, evaluate, fit, predict, summary
from chainrule.train.metrics import confusion_matrix

MAX_CONFUSION_CLASSES = 50
"""The confusion matrix is kept in report.json and printed only for at most this many classes."""


def _confusion_note(n_classes: int) -> str:
    return f"no confusion matrix: {n_classes} classes (it is shown for at most {MAX_CONFUSION_CLASSES})"


# ====================================================================================== train
def cmd_train(args: argparse.Namespace) -> int:
    """``chainrule train``: fit a network on DATA, save it to --out with its history and report,
    and print its train / validation / test metrics."""
    _check_train_arguments(args)
    source = open_data(args.data)
    data = training_data(source, args.target, args.drop, args.task)
    check_model_and_task(args.model, data.task, source.name)

    rows = _split_rows(data, args)
    inputs = _prepare_inputs(source, data, rows.fit, args)
    targets = _prepare_targets(data, rows.fit)

    model, optimizer = _build_model(args, data, inputs)
    loss = loss_name(args.model, data.task)
    loss_fn = make_loss(loss)
    # Under mpiexec every process reads the data and trains its shard (fit); rank 0 alone writes
    # the output folder and reports, so that the run writes one folder.
    main = distributed.is_main()
    # every file goes to a fresh folder beside --out, swapped in once all are written (outputs.py)
    with outputs.staged(args.out) if main else contextlib.nullcontext() as staging:
        if main:
            print_notes(args, data.notes)
            backup, replaced = outputs.start_backup(args.out, _settings(args), args.resume)
            if replaced:
                print(
                    f"note: {backup} held the backup of an interrupted run: replaced by this fresh run "
                    "(pass --resume to continue it instead)",
                    file=sys.stderr,
                )
        else:
            backup = outputs.backup_folder(args.out)
        distributed.barrier()  # the backup folder is ready before any process looks into it
        history, seconds = _train(model, loss_fn, optimizer, inputs.X, targets, rows, args, backup)
        if not main:
            return 0
        _restore_target_units(model, targets)
        results = _evaluate(model, loss_fn, inputs.X, targets, rows)

        run_id = uuid.uuid4().hex
        metadata = _metadata(args, source, data, inputs, rows, loss)
        cr.save(model, os.path.join(staging, MODEL_FILE), metadata={**metadata, "run_id": run_id})
        files = {"model": os.path.join(args.out, MODEL_FILE), **_save_history(history, args, staging)}
        report = _report(args, source, data, inputs, history, seconds, results, files)
        report = {"run_id": run_id, "finished": datetime.datetime.now().astimezone().isoformat(), **report}
        write_report(os.path.join(staging, "report.json"), report)
        # the run is finished: nothing to resume
        outputs.publish(staging, args.out, retire=outputs.backup_folder(args.out))

    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_training_report(args, report, model, inputs.shape, len(rows.fit))
    return 0


def write_report(path: str, report: dict) -> None:
    """Write report.json (a function of its own so that tests can make it fail)."""
    write_text_atomic(path, json.dumps(report, indent=2) + "\n")


@dataclasses.dataclass
class _Rows:
    """The rows of each part of the data, by index: fitted on, validated on, tested on."""

    fit: np.ndarray
    validation: np.ndarray  # the last fraction of the training rows (as fit's validation_split takes it)
    test: np.ndarray
    stratified: bool  # whether the test split keeps every class's share


@dataclasses.dataclass
class _Inputs:
    """The inputs of every row, prepared for the network, and the preprocessing that prepared them."""

    X: np.ndarray  # float32, (rows, *shape)
    shape: tuple[int, ...]  # of one input
    feature_names: list[str]  # after preprocessing (one-hot columns named column=category)
    preprocessing: dict  # the fitted preprocessing's JSON state, saved with the model


@dataclasses.dataclass
class _Targets:
    """The targets of every row: as the model is scored on them, and as the network learns them."""

    task: str  # "classification" or "regression"
    y: np.ndarray  # class indices, or values of shape (rows, 1)
    learned: np.ndarray  # y, or for regression y standardised (mean 0, scale 1 on the fitted rows)
    mean: float = 0.0
    scale: float = 1.0


def _check_train_arguments(args: argparse.Namespace) -> None:
    """Raise CLIError for arguments that cannot work together, or an --out that cannot take the run."""
    if args.epochs <= 0 or args.batch_size <= 0:
        raise CLIError("--epochs and --batch-size must be positive")
    if args.patience < 0:
        raise CLIError(f"--patience must be >= 0, got {args.patience}")
    if args.early_stopping and not args.validation_split:
        raise CLIError("--early-stopping watches the validation loss: give a --validation-split above 0")
    if args.hidden is not None and args.model not in ("mlp", "cnn"):
        raise CLIError(f"--hidden is for --model mlp or cnn; --model {args.model} has no hidden layer")
    outputs.check(args.out, args.force or args.resume)
    if args.resume:
        _check_resume(args)


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    """What a run's result depends on: the settings a ``--resume`` must repeat (stored as JSON in
    the backup folder when the run starts). A CSV file is also identified by its size and SHA-256."""
    settings = {name: getattr(args, name) for name in RESUME_SETTINGS}
    if os.path.isfile(args.data):
        digest = hashlib.sha256()
        with open(args.data, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        settings["data_sha256"] = digest.hexdigest()
    return json.loads(json.dumps(settings))  # as read back: lists, not tuples


RESUME_SETTINGS = (
    "data", "target", "task", "drop", "test_size", "validation_split", "model", "hidden", "activation",
    "epochs", "batch_size", "lr", "optimizer", "l2", "early_stopping", "patience", "seed",
)  # fmt: skip
"""The arguments of ``train`` that ``--resume`` must repeat (not --out, --force, --no-plot or
what is printed)."""


def _check_resume(args: argparse.Namespace) -> None:
    """Raise CLIError when ``--resume`` has no backup of ``--out`` to resume, or settings that
    differ from those of the interrupted run."""
    stored = outputs.read_settings(args.out)
    if stored is None:
        raise CLIError(
            f"nothing to resume: no backup of an interrupted run of --out {args.out} "
            f"({outputs.backup_folder(args.out)} does not exist); run without --resume"
        )
    settings = _settings(args)
    differ = [name for name in sorted(set(settings) | set(stored)) if settings.get(name) != stored.get(name)]
    if differ:
        shown = ", ".join(
            f"{'DATA (its contents)' if name == 'data_sha256' else _option(name)} "
            + ("" if name == "data_sha256" else f"{stored.get(name)!r} then, {settings.get(name)!r} now")
            for name in differ
        )
        raise CLIError(
            f"--resume needs the settings of the interrupted run; these differ: {shown.strip()} "
            "(repeat them, or run without --resume to start afresh)"
        )


def _option(name: str) -> str:
    return "DATA" if name == "data" else "--" + name.replace("_", "-")


def _split_rows(data: TrainingData, args: argparse.Namespace) -> _Rows:
    """Split the rows into training and test sets (stratified when it can be), then keep the last
    --validation-split of the training rows for validation."""
    classification = data.task == "classification"
    train_rows, test_rows, stratified = split_rows(len(data.y), data.y, args.test_size, args.seed, classification)
    if classification and not stratified:
        data.notes.append("some class has a single row: the split is not stratified")
    n_val = int(np.ceil(len(train_rows) * args.validation_split))
    if n_val >= len(train_rows):
        raise CLIError(
            f"--validation-split {args.validation_split} leaves no training samples out of {len(train_rows)}"
        )
    n_fit = len(train_rows) - n_val
    return _Rows(train_rows[:n_fit], train_rows[n_fit:], test_rows, stratified)


def _prepare_inputs(source: DataSource, data: TrainingData, fit_rows: np.ndarray, args: argparse.Namespace) -> _Inputs:
    """Every row's inputs, standardised (a CSV file's also imputed and one-hot encoded) by a
    preprocessing fitted on the ``fit_rows`` only, and shaped as --model takes them."""
    n = len(data.y)
    if source.table is not None:
        prep = tabular.fit_preprocessing(source.table.frame.iloc[fit_rows], data.features)
        state = prep.state
        tabular.check_numbers(source.table, state["numeric"])  # as evaluate and predict will
        state["dropped"].update({column: "left out with --drop" for column in args.drop})
        data.notes += prep.notes + tabular.summary_notes(state, source.table.frame, "train")
        X = tabular.transform(source.table.frame, state).astype(np.float32)
        feature_names = prep.feature_names
    else:
        flat = source.bundle.X.reshape(n, -1)
        state = tabular.fit_standardisation(flat[fit_rows], data.features, per_feature=args.model != "cnn")
        X = tabular.standardise(flat, state).astype(np.float32)
        feature_names = data.features
    shape = input_shape(args.model, source.name, source.bundle is not None, X.shape[1])
    return _Inputs(X.reshape((n, *shape)), shape, feature_names, state)


def _prepare_targets(data: TrainingData, fit_rows: np.ndarray) -> _Targets:
    """The targets; for regression the network learns them standardised (see ``_restore_target_units``)."""
    if data.task == "classification":
        return _Targets(data.task, data.y, data.y)
    y = data.y.reshape(-1, 1).astype(np.float64)  # the mean and scale in float64: no overflow on large values
    mean, scale = float(y[fit_rows].mean()), float(y[fit_rows].std() or 1.0)
    return _Targets(data.task, y.astype(np.float32), ((y - mean) / scale).astype(np.float32), mean, scale)


def _build_model(
    args: argparse.Namespace, data: TrainingData, inputs: _Inputs
) -> tuple[cr.nn.Sequential, cr.optim.Optimizer]:
    """The network of --model (its initial weights drawn from --seed) and its optimiser."""
    cr.manual_seed(args.seed)
    n_outputs = len(data.classes) if data.task == "classification" else 1
    hidden = [64] if args.hidden is None else args.hidden
    model = build_network(args.model, inputs.X[0].size, n_outputs, hidden, args.activation or "relu", inputs.shape)
    return model, make_optimizer(args.optimizer, model.parameters(), args.lr, args.l2)


def _train(
    model: cr.nn.Module,
    loss_fn: cr.nn.Module,
    optimizer: cr.optim.Optimizer,
    X: np.ndarray,
    targets: _Targets,
    rows: _Rows,
    args: argparse.Namespace,
    backup: str,
) -> tuple[History, float]:
    """Fit ``model`` on the fitted rows, watching the validation rows, backed up after every epoch
    in the folder ``backup`` (and resumed from it when it holds a backup); (history, seconds taken)."""
    callbacks: list[Any] = [TerminateOnNaN()]
    stopping = None
    if args.early_stopping:
        stopping = EarlyStopping(patience=args.patience, restore_best_weights=True)
        callbacks.append(stopping)
    callbacks.append(_Backup(backup, stopping))  # after EarlyStopping: backs up its state of the epoch
    validation = (X[rows.validation], targets.learned[rows.validation]) if len(rows.validation) else None
    start = time.perf_counter()
    history = fit(
        model,
        loss_fn,
        optimizer,
        X[rows.fit],
        targets.learned[rows.fit],
        epochs=args.epochs,
        batch_size=args.batch_size,
        validation_data=validation,
        metrics=metric_names(targets.task),
        callbacks=callbacks,
        verbose=0 if args.quiet or args.json else "auto",
        seed=args.seed,
        compile=not args.no_compile,
    )
    seconds = time.perf_counter() - start
    # the columns in the order of an uninterrupted run (a resumed History may hold them in another)
    names = ["loss", *metric_names(targets.task)]
    order = [*names, *(f"val_{name}" for name in names), "lr"]
    rank = {key: i for i, key in enumerate(order)}
    history.history = dict(sorted(history.history.items(), key=lambda item: rank.get(item[0], len(order))))
    if history.stop_reason and history.stop_reason.startswith("TerminateOnNaN"):
        if distributed.is_main():
            outputs.remove_backup(args.out)  # a run that diverged: resuming it would diverge again
        raise CLIError(f"training diverged ({history.stop_reason.split(': ', 1)[1]}): try a smaller --lr")
    return history, seconds


class _Backup(BackupAndRestore):
    """BackupAndRestore, which also backs up the state of ``stopping`` (an EarlyStopping, or
    None): its count, its best value and the best weights, in ``early_stopping-<epoch>.npz``
    beside the checkpoint of the same epoch."""

    def __init__(self, backup_dir: str, stopping: EarlyStopping | None):
        super().__init__(backup_dir)
        self.stopping = stopping

    def _stopping_file(self, epoch: int) -> str:
        return os.path.join(self.backup_dir, f"early_stopping-{epoch}.npz")

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
        super().on_train_begin(logs)
        if self.stopping is None or not self.resumed_from:
            return
        with np.load(self._stopping_file(self.resumed_from)) as saved:
            state = json.loads(str(saved["state"]))
            weights = {key[2:]: saved[key].copy() for key in saved.files if key.startswith("w/")}
        stopping = self.stopping
        stopping.wait, stopping.best, stopping.best_epoch = state["wait"], state["best"], state["best_epoch"]
        stopping.best_weights = weights if state["has_weights"] else None

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        stopping = self.stopping
        if stopping is not None and self._writes():  # first the early stopping's state, then the checkpoint
            state = {
                "wait": stopping.wait,
                "best": stopping.best,
                "best_epoch": stopping.best_epoch,
                "has_weights": stopping.best_weights is not None,
            }
            arrays = {f"w/{key}": value for key, value in (stopping.best_weights or {}).items()}
            os.makedirs(self.backup_dir, exist_ok=True)
            path = self._stopping_file(epoch)
            with open(path + ".tmp", "wb") as f:
                np.savez(f, state=np.array(json.dumps(state)), **arrays)
            os.replace(path + ".tmp", path)
        super().on_epoch_end(epoch, logs)
        if stopping is not None and self._writes() and os.path.exists(self._stopping_file(epoch - 1)):
            os.remove(self._stopping_file(epoch - 1))


def _restore_target_units(model: cr.nn.Sequential, targets: _Targets) -> None:
    """A regression network learned standardised targets: rescale its last layer so that it
    predicts in the target's own units."""
    if targets.task != "regression":
        return
    last = model[len(model) - 1]
    last.weight._data *= targets.scale
    last.bias._data[...] = last.bias._data * targets.scale + targets.mean


def _evaluate(model: cr.nn.Module, loss_fn: cr.nn.Module, X: np.ndarray, targets: _Targets, rows: _Rows) -> dict:
    """The loss and metrics on each part of the data (``{}`` for an absent validation set); for
    classification also the test set's confusion matrix."""
    metrics = metric_names(targets.task)
    y = targets.y
    results: dict[str, Any] = {
        "train": evaluate(model, loss_fn, X[rows.fit], y[rows.fit], metrics=metrics),
        "validation": evaluate(model, loss_fn, X[rows.validation], y[rows.validation], metrics=metrics)
        if len(rows.validation)
        else {},
        "test": evaluate(model, loss_fn, X[rows.test], y[rows.test], metrics=metrics),
    }
    if targets.task == "classification":
        results["confusion_matrix"] = _confusion_matrix(model, X[rows.test], y[rows.test])  # None: too many classes
    return results


def _confusion_matrix(model: cr.nn.Module, X: np.ndarray, y: np.ndarray) -> list[list[int]] | None:
    """The confusion matrix of the classes ``model`` predicts (its largest score) for ``X``
    against the true class indices ``y``, over all the classes it scores; None for more than
    MAX_CONFUSION_CLASSES classes."""
    scores = predict(model, X)
    if scores.shape[1] > MAX_CONFUSION_CLASSES:
        return None
    return confusion_matrix(y, scores.argmax(axis=1), labels=np.arange(scores.shape[1])).tolist()


def _metadata(
    args: argparse.Namespace, source: DataSource, data: TrainingData, inputs: _Inputs, rows: _Rows, loss: str
) -> dict[str, Any]:
    """What is saved with the network: all that is needed to use it again."""
    return {
        "dataset": source.name,
        "source": source.kind,
        "task": data.task,
        "model": args.model,
        "loss": loss,
        "target": data.target,
        "classes": data.classes,
        "input_shape": list(inputs.shape),
        "features": inputs.feature_names,
        # what the model expects: the inputs prepared with this, fitted on the training rows
        "preprocessing": inputs.preprocessing,
        "split": {
            "test_size": args.test_size,
            "validation_split": args.validation_split,
            "seed": args.seed,
            "stratified": rows.stratified,
        },
    }


def _save_history(history: History, args: argparse.Namespace, folder: str) -> dict[str, str | None]:
    """Write history.csv and, unless --no-plot or without matplotlib, loss_curve.png to ``folder``;
    their paths in --out (``loss_curve`` None when no plot was drawn)."""
    write_history_csv(history, os.path.join(folder, "history.csv"))
    curve = None
    if not args.no_plot:
        try:
            history.plot(path=os.path.join(folder, "loss_curve.png"))
            curve = os.path.join(args.out, "loss_curve.png")
        except ImportError:  # matplotlib is an optional extra
            pass
    return {"history": os.path.join(args.out, "history.csv"), "loss_curve": curve}


def _report(
    args: argparse.Namespace,
    source: DataSource,
    data: TrainingData,
    inputs: _Inputs,
    history: History,
    seconds: float,
    results: dict,
    files: dict[str, str | None],
) -> dict[str, Any]:
    """What report.json holds: the run, the metrics of each part of the data (``results``), the
    files written, and for classification the test set's confusion matrix."""
    report = {
        "dataset": source.name,
        "task": data.task,
        "model": args.model,
        "target": data.target,
        "samples": len(inputs.X),
        "features": inputs.X[0].size,
        "epochs_run": len(history.epoch),
        "seconds": round(seconds, 3),
        "processes": distributed.world_size(),  # (mpiexec -n N: N processes trained it, each on 1/N of a batch)
        "train": results["train"],
        "validation": results["validation"],
        "test": results["test"],
        "stop_reason": history.stop_reason,
        "files": files,
    }
    if data.task == "classification":
        report["classes"] = data.classes
        if results["confusion_matrix"] is not None:
            report["confusion_matrix"] = results["confusion_matrix"]
        else:
            data.notes.append(_confusion_note(len(data.classes)))
    if source.table is not None:
        report["preprocessing"] = tabular.describe(inputs.preprocessing, source.table.frame)
    if data.notes:
        report["notes"] = data.notes
    return report


# =================================================================================== evaluate
def cmd_evaluate(args: argparse.Namespace) -> int:
    """``chainrule evaluate``: print the loss and metrics of a trained model on labelled DATA (and
    for classification the confusion matrix)."""
    model, meta, _ = load_model(args.model)
    inputs = model_inputs(meta, open_data(args.data), target=args.target, need_target=True)
    task = meta["task"]
    y = inputs.y.reshape(-1, 1).astype(np.float32) if task == "regression" else inputs.y
    logs = evaluate(model, make_loss(meta["loss"]), inputs.X, y, metrics=metric_names(task))
    result: dict[str, Any] = {
        "model": args.model,
        "data": inputs.description,
        "samples": len(inputs.X),
        "task": task,
        "metrics": logs,
    }
    if task == "classification":
        result["classes"] = meta["classes"]
        matrix = _confusion_matrix(model, inputs.X, inputs.y)
        if matrix is not None:
            result["confusion_matrix"] = matrix
        else:
            inputs.notes.append(_confusion_note(len(meta["classes"])))
    if inputs.notes:
        result["notes"] = inputs.notes
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print_notes(args, inputs.notes)
    print(f"{inputs.description}: {task}, model {args.model} ({meta['model']} trained on {meta['dataset']})")
    print_metrics({"evaluation": logs})
    if "confusion_matrix" in result:
        print_confusion_matrix(result["confusion_matrix"], meta["classes"])
    return 0


# ==================================================================================== predict
def cmd_predict(args: argparse.Namespace) -> int:
    """``chainrule predict``: write a trained model's predictions on DATA as CSV (to --output or
    stdout), with the class probabilities of a model that has them."""
    if args.output:
        _check_output_file(args.output, args.force)
    model, meta, _ = load_model(args.model)
    inputs = model_inputs(meta, open_data(args.data), id_column=args.id_column)
    outputs = predict(model, inputs.X)
    header: list[str] = []
    columns: list[list] = []
    if inputs.ids is not None:
        header.append(inputs.ids[0])
        columns.append(inputs.ids[1])
    header.append("prediction")
    if meta["task"] == "classification":
        classes = meta["classes"]
        columns.append(tabular.decode_labels(outputs.argmax(axis=1), classes))
        if meta["loss"] == "cross_entropy":  # the scores are logits: softmax gives probabilities
            probabilities = cr.train.predict_proba(model, inputs.X)
            header += [f"proba_{c}" for c in classes]
            columns += [[round(float(p), 6) for p in probabilities[:, k]] for k in range(len(classes))]
    else:
        columns.append([float(str(v)) for v in outputs[:, 0]])  # float32's shortest digits
    rows = list(zip(*columns))
    text = tabular.write_csv_text(header, rows)
    result = {
        "model": args.model,
        "data": inputs.description,
        "rows": len(rows),
        "columns": header,
        "output": args.output,
    }
    if inputs.notes:
        result["notes"] = inputs.notes
    print_notes(args, inputs.notes)
    if not args.output:
        if args.json:
            result["predictions"] = [dict(zip(header, row)) for row in rows]
            print(json.dumps(result, indent=2))
        else:
            sys.stdout.write(text)
        return 0
    write_text_atomic(args.output, text)
    if args.json:
        print(json.dumps(result, indent=2))
    elif not args.quiet:
        print(f"Wrote {len(rows)} predictions to {args.output} ({inputs.description}; columns: {', '.join(header)})")
    return 0


def _check_output_file(path: str, force: bool) -> None:
    """Raise CLIError for an --output that cannot take the file: a folder, a file that exists
    (unless ``force``), or a path in a folder that does not exist."""
    if os.path.isdir(path):
        raise CLIError(f"{path} is a folder: give the path of a file as --output")
    if os.path.exists(path) and not force:
        raise CLIError(f"{path} exists; pass --force to overwrite it or choose another --output")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CLIError(f"cannot write {path}: the folder {folder} does not exist")


# ==================================================================================== summary
def cmd_summary(args: argparse.Namespace) -> int:
    """``chainrule summary``: describe a trained model: its data, preprocessing, network and test
    metrics; or an ONNX file: its inputs, outputs and (read back by ``chainrule.onnx.loader``) layers."""
    if args.model.lower().endswith(".onnx"):
        return _summary_of_onnx(args)
    model, meta, path = load_model(args.model)
    state = meta["preprocessing"]
    report = _read_report(os.path.join(os.path.dirname(path), "report.json"))
    network = summary(model, tuple(meta["input_shape"]))
    if args.json:
        print(
            json.dumps(
                {
                    "model": args.model,
                    "kind": meta["model"],
                    "dataset": meta["dataset"],
                    "task": meta["task"],
                    "target": meta.get("target"),
                    "classes": meta.get("classes"),
                    "loss": meta["loss"],
                    "input_shape": meta["input_shape"],
                    "features": meta.get("features"),
                    "preprocessing": tabular.describe(state),
                    "total_params": network.total_params,
                    "test": (report or {}).get("test"),
                },
                indent=2,
            )
        )
        return 0
    target = f", target {meta['target']!r}" if meta.get("target") else ""
    print(f"{args.model}: {meta['model']} for {meta['task']}, trained on {meta['dataset']}{target}")
    if meta.get("classes"):
        print(f"classes: {', '.join(str(c) for c in meta['classes'])}")
    print(f"loss: {meta['loss']}; input: {' x '.join(str(s) for s in meta['input_shape'])}")
    if meta["source"] == "csv":
        print(
            f"columns: {len(state['numeric'])} numeric (median, standardised), {len(state['categorical'])} "
            f"categorical (most frequent, one-hot), {len(state['dropped'])} left out"
        )
        if args.verbose:
            for column, entry in tabular.describe(state).items():
                print(f"  {column:20} {entry['kind']}")
    if report and report.get("test"):
        print("test: " + ", ".join(f"{k} {v:.4f}" for k, v in report["test"].items()))
    if not args.quiet:
        print()
        print(network)
    return 0


def _summary_of_onnx(args: argparse.Namespace) -> int:
    """``chainrule summary --model FILE.onnx``: the file's inputs and outputs, what chainrule wrote
    in its metadata, and the layers of the network ``chainrule.onnx.loader`` reads back from it (or
    why it cannot)."""
    path = args.model
    if not os.path.isfile(path):
        raise CLIError(f"no ONNX file at {path}" + (": it is a folder" if os.path.isdir(path) else ""))
    proto = _read_onnx(path)
    graph = proto.graph
    inputs, outputs = _values(graph.input, {t.name for t in graph.initializer}), _values(graph.output)
    opsets = {entry.domain or "ai.onnx": entry.version for entry in proto.opset_import}
    metadata = {entry.key: entry.value for entry in proto.metadata_props}
    network, note = _onnx_network_summary(path, proto, inputs, metadata)
    if args.json:
        result = {
            "model": path,
            "format": "onnx",
            "producer": f"{proto.producer_name} {proto.producer_version}".strip(),
            "opsets": opsets,
            "inputs": inputs,
            "outputs": outputs,
            "metadata": metadata,
            "total_params": network.total_params if network is not None else None,
            "layers": [row.name for row in network.rows] if network is not None else None,
        }
        if note:
            result["notes"] = [note]
        print(json.dumps(result, indent=2))
        return 0
    producer = f", written by {proto.producer_name} {proto.producer_version}".rstrip() if proto.producer_name else ""
    print(f"{path}: ONNX ({', '.join(f'{d} {v}' for d, v in opsets.items())}){producer}")
    print("inputs: " + ", ".join(_value_text(v) for v in inputs))
    print("outputs: " + ", ".join(_value_text(v) for v in outputs))
    for key, value in metadata.items():
        print(f"{key}: {value}")
    if note:
        print_notes(args, [note])
    if network is not None and not args.quiet:
        print()
        print(network)
    return 0


def _read_onnx(path: str) -> Any:
    """The ``onnx.ModelProto`` in ``path``, or a CLIError that says why it cannot be read."""
    try:
        from chainrule.onnx._common import require_onnx

        onnx = require_onnx()
    except ImportError as e:
        raise CLIError(str(e)) from None
    try:
        return onnx.load(path)
    except Exception as e:  # protobuf's DecodeError (not an OSError or ValueError) for a file that is not ONNX
        raise CLIError(
            f"{path} is not a readable ONNX file: {str(e).splitlines()[0] if str(e) else type(e).__name__}"
        ) from None


def _values(values: Any, initializers: set[str] = frozenset()) -> list[dict[str, Any]]:
    """An ONNX graph's inputs or outputs as {name, type, shape} (initializers listed as inputs left out)."""
    from chainrule.onnx._common import require_onnx

    onnx = require_onnx()
    found = []
    for value in values:
        if value.name in initializers:
            continue
        tensor = value.type.tensor_type
        kind = onnx.TensorProto.DataType.Name(tensor.elem_type).lower() if tensor.elem_type else "?"
        shape = [d.dim_param or (d.dim_value if d.HasField("dim_value") else "?") for d in tensor.shape.dim]
        found.append({"name": value.name, "type": kind, "shape": shape})
    return found


def _value_text(value: dict[str, Any]) -> str:
    """One of ``_values``'s entries as text: ``name (type [dims])``."""
    return f"{value['name']} ({value['type']} [{', '.join(str(d) for d in value['shape'])}])"


def _onnx_network_summary(
    path: str, proto: Any, inputs: list[dict[str, Any]], metadata: dict[str, str]
) -> tuple[Any, str | None]:
    """(the summary of the network ``chainrule.onnx.loader`` reads from ``path``, None), or (None,
    why there is none); ``proto``, ``inputs`` and ``metadata`` are the file's, as read. A file
    chainrule wrote around a network (an estimator's, or a CLI model's with its preprocessing)
    names the network's input and output in its metadata: that part is cut out and read. Any other
    graph of several inputs, text inputs or operators the loader does not read has no network
    summary."""
    if "chainrule.network_input" in metadata:
        start, end = metadata["chainrule.network_input"], metadata["chainrule.network_output"]
        return _embedded_network_summary(proto, start, end)
    if len(inputs) != 1 or not all(isinstance(d, int) for d in inputs[0]["shape"][1:]):
        return (
            None,
            "no layer table: the graph does not take one tensor of fixed row shape (it takes the columns one by one)",
        )
    from chainrule.onnx.loader import load as load_onnx

    try:
        model = load_onnx(path)
    except (ValueError, TypeError, NotImplementedError, ImportError) as e:  # OnnxError is a ValueError
        return None, f"no layer table: chainrule.onnx.loader cannot read it back as a network: {str(e).splitlines()[0]}"
    return summary(model, tuple(inputs[0]["shape"][1:])), None


def _embedded_network_summary(proto: Any, start: str, end: str) -> tuple[Any, str | None]:
    """The summary of the network between the values ``start`` and ``end`` of ``proto``."""
    from chainrule.onnx._common import require_onnx
    from chainrule.onnx.loader import load as load_onnx

    onnx = require_onnx()
    try:
        inferred = onnx.shape_inference.infer_shapes(proto)
        part = onnx.utils.Extractor(inferred).extract_model([start], [end])
        model = load_onnx(part)
        shape = [d.dim_value for d in part.graph.input[0].type.tensor_type.shape.dim[1:]]
    except (ValueError, TypeError, KeyError, NotImplementedError, ImportError) as e:
        return None, f"no layer table: the network inside cannot be read back: {str(e).splitlines()[0]}"
    return summary(model, tuple(shape)), None


def _read_report(path: str) -> dict | None:
    """The report.json a training run wrote, or None when it is missing or unreadable."""
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


# ===================================================================================== export
ONNX_FILE = outputs.ONNX_FILE
"""The file ``chainrule export`` writes in the model folder when no --output is given."""


def cmd_export(args: argparse.Namespace) -> int:
    """``chainrule export``: write a trained model as an ONNX file: from the raw columns (or an
    embedded dataset's raw features) through the fitted preprocessing and the network to what
    ``chainrule predict`` gives (``chainrule.onnx.tabular``); with --network-only the network
    alone, from the prepared features to its scores."""
    model, meta, path = load_model(args.model)
    output = args.output or os.path.join(os.path.dirname(path), ONNX_FILE)
    _check_output_file(output, args.force)
    try:
        from chainrule.onnx import OnnxError
        from chainrule.onnx._common import save_model

        try:
            proto = _onnx_model(model, meta, args.network_only)
        except OnnxError as e:
            raise CLIError(f"{path} cannot be exported: {e}") from None
    except ImportError as e:  # the extra onnx is missing
        raise CLIError(str(e).splitlines()[0]) from None
    save_model(proto, output)
    inputs, outputs = _values(proto.graph.input), _values(proto.graph.output)
    result = {"model": args.model, "output": output, "inputs": inputs, "outputs": outputs}
    if not args.network_only:
        numbers = "double" if meta["source"] == "csv" else "float"  # the type of the numeric inputs
        result["missing"] = {numbers: "NaN"}
        if meta["preprocessing"]["categorical"]:
            result["missing"]["string"] = list(tabular.MISSING_MARKERS)
    if args.json:
        print(json.dumps(result, indent=2))
    elif not args.quiet:
        print(f"Wrote {output}")
        print("inputs: " + ", ".join(_value_text(v) for v in inputs))
        print("outputs: " + ", ".join(_value_text(v) for v in outputs))
        if "missing" in result:
            text = f" ({next(iter(result['missing']))} inputs)"
            if "string" in result["missing"]:
                text += "; '', NA, N/A, NULL, NaN, ?, ... (string inputs: the CSV reader's markers, listed by --json)"
            print("missing cells: NaN" + text)
    return 0


def _onnx_model(model: cr.nn.Module, meta: dict, network_only: bool) -> Any:
    """The ONNX model of a trained model (``meta``: its metadata): with its preprocessing and
    labels, or the network alone."""
    from chainrule.onnx.api import export
    from chainrule.onnx.tabular import export_tabular

    shape = tuple(meta["input_shape"])
    if network_only:  # cr.onnx.export: traced and checked as any exported module
        dtype = next(model.parameters()).dtype
        return export(model, np.zeros((1, *shape), dtype=dtype), input_names=["input"], output_names=["output"])
    metadata = {"chainrule.model": meta["model"], "dataset": meta["dataset"]}
    if meta.get("target"):
        metadata["target"] = meta["target"]
    return export_tabular(
        model,
        meta["preprocessing"],
        task=meta["task"],
        classes=meta.get("classes"),
        probabilities=meta["loss"] == "cross_entropy",  # the others (perceptron, hinge) give scores
        input_shape=shape,
        single_input=None if meta["source"] == "csv" else "input",
        missing=tabular.MISSING_MARKERS,
        name=f"chainrule {meta['model']} on {meta['dataset']}",
        metadata=metadata,
    )


# =================================================================================== datasets
def cmd_datasets(args: argparse.Namespace) -> int:
    """``chainrule datasets``: list the embedded datasets with their sizes."""
    infos = list_datasets()
    if args.json:
        print(json.dumps({name: info._asdict() for name, info in infos.items()}, indent=2))
        return 0
    print(f"{'name':15}{'samples':>8}{'features':>9}  task             classes")
    for name, info in infos.items():
        n, f, task, k = info
        print(f"{name:15}{n:>8}{f:>9}  {task:16} {k or '-'}")
    return 0
