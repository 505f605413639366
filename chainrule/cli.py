"""The ``chainrule`` command: train a model on an embedded dataset or a CSV file, then evaluate it,
predict with it and describe it.

    chainrule train                                   # an MLP on digits, offline, in seconds
    chainrule train iris --hidden 16 --epochs 200
    chainrule train houses.csv --target price --out house_model
    chainrule evaluate --model house_model more_houses.csv
    chainrule predict --model house_model new_houses.csv --output predictions.csv --id-column id
    chainrule summary --model house_model
    chainrule datasets

A model folder holds ``model.safetensors`` (the network, and in its metadata everything needed to
use it again: the fitted preprocessing as JSON, the class names, the target column, the split),
``history.csv``, ``loss_curve.png`` and ``report.json``. ``evaluate`` and ``predict`` read the
preprocessing from the metadata and apply it with ``chainrule.tabular.transform``, as training
did. A user error (a missing file, a misspelt column, ...) is one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

import chainrule as cr
from chainrule import tabular
from chainrule.data import list_datasets, load_dataset, train_test_split
from chainrule.io.files import write_text_atomic
from chainrule.tabular import DataError
from chainrule.train import EarlyStopping, TerminateOnNaN, evaluate, fit, predict, summary
from chainrule.train.metrics import confusion_matrix

MODEL_FILE = "model.safetensors"
MODELS = ("mlp", "logistic", "perceptron", "svm", "linear", "cnn")
CLASSIFIERS_ONLY = ("logistic", "perceptron", "svm")
# The loss each model trains on, by task.
LOSSES = {
    "logistic": "cross_entropy",
    "perceptron": "perceptron",
    "svm": "hinge",
    "linear": "mse",
}
# Inputs a CNN understands: images (channels, height, width) or sequences (channels, length).
CNN_INPUTS = {"digits": (1, 8, 8), "mnist1d": None}  # None: a sequence as long as the rows


class CLIError(Exception):
    """A user error: printed as one line on stderr, exit code 2."""


# ======================================================================================= parser
def _hidden(text: str) -> list[int]:
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--hidden must be comma-separated integers like 64,32, got {text!r}"
        ) from None
    if any(s <= 0 for s in sizes):
        raise argparse.ArgumentTypeError(f"--hidden sizes must be positive, got {text!r}")
    return sizes


def _names(text: str) -> list[str]:
    return [s.strip() for s in text.split(",") if s.strip()]


def _fraction(low_inclusive: bool):
    """An argparse type for a fraction in [0, 1) (``low_inclusive``) or (0, 1)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not ((0.0 <= value if low_inclusive else 0.0 < value) and value < 1.0):
            raise argparse.ArgumentTypeError(f"must be in {'[0, 1)' if low_inclusive else '(0, 1)'}, got {text}")
        return value

    return parse


EXAMPLES = {
    None: """examples:
  chainrule train                               # an MLP on the digits, offline
  chainrule train iris --hidden 16 --epochs 200
  chainrule train houses.csv --target price --out house_model
  chainrule evaluate --model house_model more_houses.csv
  chainrule predict --model house_model new.csv --output predictions.csv --id-column id
  chainrule summary --model house_model
  chainrule datasets""",
    "train": """DATA is an embedded dataset (see `chainrule datasets`) or a CSV file with a header row.
In a CSV file, numeric columns are imputed with their median and standardised, other columns
imputed with their most frequent value and one-hot encoded; rows whose target is missing are
left out. The data is split into train / validation / test sets; the preprocessing is fitted on
the training rows only and saved (as JSON) with the model.

examples:
  chainrule train
  chainrule train iris --hidden 16 --epochs 200
  chainrule train wine --model logistic --optimizer adam --lr 0.01
  chainrule train digits --model cnn --epochs 20
  chainrule train houses.csv --target price --hidden 64,32 --early-stopping --out house_model
  chainrule train clicks.csv --target clicked --task classification --drop user_id --json""",
    "evaluate": """Prints the loss and metrics of a trained model on labelled data (and a confusion
matrix for classification). For the embedded dataset a model was trained on, the held-out test
split is used; a CSV file is used whole.

examples:
  chainrule evaluate --model runs/latest digits
  chainrule evaluate --model house_model more_houses.csv
  chainrule evaluate --model house_model more_houses.csv --json""",
    "predict": """Writes one row per input row: the prediction (the original class label, or a value
in the target's units), then for a model with probabilities one column per class,
proba_<class>. Without --output the CSV goes to stdout. Categories not seen in training are
ignored (their one-hot columns are 0); missing values are imputed as in training.

examples:
  chainrule predict --model house_model new_houses.csv --output predictions.csv
  chainrule predict --model house_model new_houses.csv --id-column id > predictions.csv
  chainrule predict --model runs/latest digits --output digits_test.csv""",
    "summary": """examples:
  chainrule summary --model runs/latest
  chainrule summary --model house_model --json""",
    "datasets": """examples:
  chainrule datasets
  chainrule datasets --json""",
}


def build_parser() -> argparse.ArgumentParser:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="chainrule",
        description="Train and use neural networks built on chainrule's autodiff, on embedded datasets or CSV files.",
        epilog=EXAMPLES[None],
        formatter_class=formatter,
    )
    parser.add_argument("--version", action="version", version=f"chainrule {cr.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    output = argparse.ArgumentParser(add_help=False)
    group = output.add_argument_group("output")
    loudness = group.add_mutually_exclusive_group()
    loudness.add_argument(
        "-q", "--quiet", action="store_true", help="print only the results (no progress, notes or summary)"
    )
    loudness.add_argument(
        "-v", "--verbose", action="store_true", help="print more (train, summary: the preprocessing of every column)"
    )
    group.add_argument("--json", action="store_true", help="print the results as JSON (for scripts)")

    def command(name: str, help: str, description: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name, help=help, description=description, epilog=EXAMPLES[name], formatter_class=formatter, parents=[output]
        )

    train = command(
        "train",
        "train a model on an embedded dataset or a CSV file",
        "Train a model, print its train / validation / test metrics and its summary, and save the "
        "model, history.csv, a loss-curve PNG and report.json to --out.",
    )
    data = train.add_argument_group("data")
    data.add_argument(
        "data",
        nargs="?",
        default="digits",
        metavar="DATA",
        help="an embedded dataset name or a CSV file (default: digits)",
    )
    data.add_argument("--target", metavar="COL", help="the column to predict (required for a CSV file)")
    data.add_argument(
        "--task",
        choices=["classification", "regression"],
        help="default: from the data (a CSV target of text or of few whole numbers is classification)",
    )
    data.add_argument(
        "--drop", type=_names, default=[], metavar="COL,COL", help="CSV columns to leave out (ids, leaks)"
    )
    data.add_argument(
        "--test-size",
        type=_fraction(False),
        default=0.25,
        metavar="F",
        help="fraction kept for testing (default: 0.25)",
    )
    data.add_argument(
        "--validation-split",
        type=_fraction(True),
        default=0.2,
        metavar="F",
        help="fraction of the training set held out for validation (default: 0.2)",
    )
    net = train.add_argument_group("model")
    net.add_argument(
        "--model",
        choices=MODELS,
        default="mlp",
        help="mlp (default); logistic, perceptron, svm: one layer of neurons, classification; "
        "linear: one neuron, regression; cnn: convolutions, for digits and mnist1d",
    )
    net.add_argument(
        "--hidden",
        type=_hidden,
        default=None,
        metavar="SIZES",
        help="hidden layer sizes of mlp and cnn, e.g. 64,32 (default: 64)",
    )
    net.add_argument(
        "--activation",
        default=None,
        choices=["relu", "tanh", "sigmoid", "identity"],
        help="of the hidden layers (default: relu)",
    )
    fitting = train.add_argument_group("training")
    fitting.add_argument("--epochs", type=int, default=60, metavar="N", help="default: 60")
    fitting.add_argument("--batch-size", type=int, default=32, metavar="K", help="default: 32")
    fitting.add_argument(
        "--lr", type=float, default=None, help="learning rate (default: 0.05 for sgd/momentum, 0.001 for adam)"
    )
    fitting.add_argument(
        "--optimizer", default="momentum", choices=["sgd", "momentum", "adam"], help="default: momentum"
    )
    fitting.add_argument("--l2", type=float, default=0.0, metavar="A", help="weight decay (L2 penalty, default: 0)")
    fitting.add_argument(
        "--early-stopping",
        action="store_true",
        help="stop when the validation loss stops improving and keep the best weights",
    )
    fitting.add_argument(
        "--patience", type=int, default=10, metavar="N", help="epochs without improvement before stopping (default: 10)"
    )
    fitting.add_argument(
        "--seed",
        type=int,
        default=0,
        metavar="S",
        help="seed of the split, the initial weights and the shuffling (default: 0)",
    )
    saving = train.add_argument_group("saving")
    saving.add_argument("--out", default="runs/latest", metavar="DIR", help="output folder (default: runs/latest)")
    saving.add_argument("--force", action="store_true", help="overwrite an existing model in --out")
    saving.add_argument(
        "--no-plot", action="store_true", help="skip loss_curve.png (matplotlib takes seconds to start)"
    )

    ev = command(
        "evaluate",
        "the metrics of a trained model on labelled data",
        "Print the loss and metrics of a trained model on labelled data.",
    )
    ev.add_argument("--model", required=True, metavar="DIR", help="a model folder written by `chainrule train`")
    ev.add_argument("data", metavar="DATA", help="an embedded dataset name or a CSV file with the target column")
    ev.add_argument("--target", metavar="COL", help="the target column (default: the one the model was trained on)")

    pr = command(
        "predict",
        "predictions of a trained model, as CSV",
        "Predict with a trained model and write the predictions as CSV.",
    )
    pr.add_argument("--model", required=True, metavar="DIR", help="a model folder written by `chainrule train`")
    pr.add_argument("data", metavar="DATA", help="an embedded dataset name or a CSV file")
    pr.add_argument("-o", "--output", metavar="FILE", help="the CSV file to write (default: stdout)")
    pr.add_argument("--id-column", metavar="COL", help="a column of DATA copied into the output, first")
    pr.add_argument("--force", action="store_true", help="overwrite an existing --output file")

    sm = command(
        "summary",
        "describe a trained model",
        "Describe a trained model: its data, preprocessing, network and test metrics.",
    )
    sm.add_argument("--model", required=True, metavar="DIR", help="a model folder written by `chainrule train`")

    command("datasets", "list the embedded datasets", "List the embedded datasets with their sizes.")
    return parser


# ================================================================================ data sources
@dataclasses.dataclass
class Source:
    """Where the rows come from: an embedded dataset (``bundle``) or a CSV file (``table``)."""

    name: str
    bundle: Any = None
    table: tabular.Table | None = None

    @property
    def kind(self) -> str:
        return "csv" if self.table is not None else "embedded"


def _looks_like_a_file(data: str) -> bool:
    return os.path.exists(data) or os.sep in data or "/" in data or os.path.splitext(data)[1] != ""


def open_data(data: str) -> Source:
    """An embedded dataset by name, or a CSV file by path."""
    if _looks_like_a_file(data):
        table = tabular.read_csv(data)
        return Source(table.name, table=table)
    try:
        bundle = load_dataset(data)
    except ValueError as e:  # "load_dataset: unknown dataset 'irsi'; did you mean 'iris'? ..."
        message = str(e).strip("'\"").replace("load_dataset: ", "")
        raise CLIError(message + "; or give the path of a CSV file") from None
    except (ImportError, OSError, RuntimeError) as e:  # a generated dataset whose maker is missing
        raise CLIError(f"dataset {data!r} could not be loaded: {str(e).splitlines()[0]}") from None
    return Source(bundle.name, bundle=bundle)


def _split(n: int, y: np.ndarray, test_size: float, seed: int, stratify: bool) -> tuple[np.ndarray, np.ndarray, bool]:
    """(train rows, test rows, stratified): stratified by class when every class allows it."""
    rows = np.arange(n)
    try:
        if stratify:
            train, test = train_test_split(rows, test_size=test_size, random_state=seed, stratify=y)
            return train, test, True
    except ValueError:
        pass  # a class with a single member: split without stratifying (train reports it)
    try:
        train, test = train_test_split(rows, test_size=test_size, random_state=seed)
    except ValueError as e:
        raise CLIError(f"{n} rows are too few to split with --test-size {test_size}: {e}") from None
    return train, test, False


# =================================================================================== networks
def build_network(
    kind: str, n_features: int, n_outputs: int, hidden: Sequence[int], activation: str, input_shape: Sequence[int]
) -> cr.nn.Sequential:
    """The network of each ``--model``, ending in a Linear layer that gives the scores (logits).

    - logistic, perceptron, svm, linear: one layer of neurons, ``Linear(n_features, n_outputs)``
      (one neuron per class; they differ by their loss, ``LOSSES``);
    - mlp: ``Linear -> activation`` per hidden size, then ``Linear``;
    - cnn: two convolution blocks (``Conv -> activation -> MaxPool``, 16 then 32 channels) over
      images (Conv2d) or sequences (Conv1d), flattened into the hidden ``Linear`` layers.
    """
    nn = cr.nn
    if kind in LOSSES:
        return nn.Sequential(nn.Linear(n_features, n_outputs))
    layers: list[nn.Module] = []
    width = n_features
    if kind == "cnn":
        conv, pool = (nn.Conv2d, nn.MaxPool2d) if len(input_shape) == 3 else (nn.Conv1d, nn.MaxPool1d)
        kernel = 3 if len(input_shape) == 3 else 5
        channels, spatial = input_shape[0], list(input_shape[1:])
        for out_channels in (16, 32):
            layers += [conv(channels, out_channels, kernel, padding=kernel // 2), nn.activation(activation), pool(2)]
            channels, spatial = out_channels, [s // 2 for s in spatial]
        layers.append(nn.Flatten())
        width = channels * int(np.prod(spatial))
    for size in hidden:
        layers += [nn.Linear(width, size), nn.activation(activation)]
        width = size
    layers.append(nn.Linear(width, n_outputs))
    return nn.Sequential(*layers)


def make_loss(name: str) -> cr.nn.Module:
    """The loss by the name kept in a model's metadata."""
    return {
        "cross_entropy": lambda: cr.nn.CrossEntropyLoss(),
        "mse": lambda: cr.nn.MSELoss(),
        "hinge": lambda: cr.nn.MultiMarginLoss(margin=1.0),  # the multi-class SVM's hinge
        "perceptron": lambda: cr.nn.MultiMarginLoss(margin=0.0),  # the multi-class perceptron criterion
    }[name]()


def _metric_names(task: str) -> list[str]:
    return ["accuracy", "f1"] if task == "classification" else ["mae", "r2"]


def _make_optimizer(name: str, params, lr: float | None, l2: float):
    try:
        if name == "adam":
            return cr.optim.Adam(params, lr=1e-3 if lr is None else lr, weight_decay=l2)
        return cr.optim.SGD(
            params, lr=0.05 if lr is None else lr, momentum=0.9 if name == "momentum" else 0.0, weight_decay=l2
        )
    except ValueError as e:  # "SGD: invalid learning rate: -1.0 (expected a number >= 0)"
        raise CLIError(str(e)) from None


# ====================================================================================== train
@dataclasses.dataclass
class Labelled:
    """Rows ready for training: raw inputs, targets, and what they mean."""

    task: str
    y: np.ndarray  # class indices (int64) or values (float32)
    classes: list | None
    target: str | None  # the CSV column, None for an embedded dataset
    features: list[str]  # CSV columns or embedded feature names
    notes: list[str]


def _labelled(source: Source, args: argparse.Namespace) -> Labelled:
    """The target and task of the training data, checked against the arguments."""
    if source.bundle is not None:
        bundle = source.bundle
        if args.target is not None:
            raise CLIError(f"--target is for CSV files: the embedded dataset {bundle.name!r} has its own target")
        if args.drop:
            raise CLIError(f"--drop is for CSV files, not the embedded dataset {bundle.name!r}")
        if args.task is not None and args.task != bundle.task:
            raise CLIError(f"{bundle.name} is a {bundle.task} dataset, not {args.task}")
        classes = None if bundle.target_names is None else [str(c) for c in bundle.target_names]
        return Labelled(bundle.task, bundle.y, classes, None, [str(f) for f in bundle.feature_names], [])
    table = source.table
    frame = table.frame
    columns = [str(c) for c in frame.columns]
    if args.target is None:
        raise CLIError(
            f"a CSV file needs --target COLUMN, the column to predict; {table.name} has: {tabular._quoted(columns)}"
        )
    tabular.require_columns(table, [args.target], "given as --target")
    tabular.require_columns(table, args.drop, "given in --drop")
    if len(columns) - 1 - len([c for c in args.drop if c != args.target]) < 1:
        raise CLIError(f"{table.name} has no column to learn from besides the target {args.target!r}")
    notes = list(table.notes)
    present = frame[args.target].notna().to_numpy()
    if not present.all():
        notes.append(f"left out {int((~present).sum())} row(s) whose target {args.target!r} is missing")
        table.frame = frame = frame[present].reset_index(drop=True)
    if len(frame) == 0:
        raise CLIError(f"the target column {args.target!r} of {table.name} is empty")
    task = args.task
    if task is None:
        task, why = tabular.infer_task(frame[args.target])
        notes.append(f"task: {task}, as the target {args.target!r} {why} (--task to choose)")
    y, classes = tabular.encode_target(frame[args.target], task, args.target, source=table.name)
    if classes is not None and len(classes) < 2:
        raise CLIError(
            f"the target {args.target!r} of {table.name} has only one class, {classes[0]!r}: there is nothing to learn"
        )
    features = [c for c in columns if c != args.target and c not in args.drop]
    return Labelled(task, y, classes, args.target, features, notes)


def _input_shape(kind: str, source: Source, n_features: int) -> tuple[int, ...]:
    if kind != "cnn":
        return (n_features,)
    if source.bundle is None or source.name not in CNN_INPUTS:
        raise CLIError(
            f"--model cnn needs images or sequences ({', '.join(CNN_INPUTS)}); {source.name} is a "
            "table: use --model mlp"
        )
    return CNN_INPUTS[source.name] or (1, n_features)


def _check_model_and_task(kind: str, task: str, name: str) -> None:
    if kind in CLASSIFIERS_ONLY and task != "classification":
        raise CLIError(f"--model {kind} is a classifier, but {name} is a regression task: use --model linear or mlp")
    if kind == "linear" and task != "regression":
        raise CLIError(
            f"--model linear is for regression, but {name} is a classification task: "
            "use --model logistic, perceptron, svm or mlp"
        )


def cmd_train(args: argparse.Namespace) -> int:
    if args.epochs <= 0 or args.batch_size <= 0:
        raise CLIError("--epochs and --batch-size must be positive")
    if args.patience < 0:
        raise CLIError(f"--patience must be >= 0, got {args.patience}")
    if args.early_stopping and not args.validation_split:
        raise CLIError("--early-stopping watches the validation loss: give a --validation-split above 0")
    if args.hidden is not None and args.model not in ("mlp", "cnn"):
        raise CLIError(f"--hidden is for --model mlp or cnn; --model {args.model} has no hidden layer")
    hidden = [64] if args.hidden is None else args.hidden
    activation = args.activation or "relu"
    model_path = os.path.join(args.out, MODEL_FILE)
    if os.path.exists(model_path) and not args.force:
        raise CLIError(f"{model_path} exists; pass --force to overwrite it or choose another --out")
    source = open_data(args.data)
    data = _labelled(source, args)
    _check_model_and_task(args.model, data.task, source.name)
    classification = data.task == "classification"
    n = len(data.y)

    train_rows, test_rows, stratified = _split(n, data.y, args.test_size, args.seed, classification)
    if classification and not stratified:
        data.notes.append("some class has a single row: the split is not stratified")
    # the validation set is the last fraction of the training set (as fit's validation_split takes it)
    n_val = int(np.ceil(len(train_rows) * args.validation_split))
    if n_val >= len(train_rows):
        raise CLIError(
            f"--validation-split {args.validation_split} leaves no training samples out of {len(train_rows)}"
        )
    n_fit = len(train_rows) - n_val
    fit_rows, val_rows = train_rows[:n_fit], train_rows[n_fit:]

    # the preprocessing is fitted on the training rows only
    if source.table is not None:
        prep = tabular.fit_preprocessing(source.table.frame.iloc[fit_rows], data.features)
        state = prep.state
        state["dropped"].update({column: "left out with --drop" for column in args.drop})
        data.notes += prep.notes + tabular.summary_notes(state, source.table.frame, "train")
        X = tabular.transform(source.table.frame, state).astype(np.float32)
        feature_names = prep.feature_names
    else:
        flat = source.bundle.X.reshape(n, -1)
        state = tabular.fit_standardisation(flat[fit_rows], data.features, per_feature=args.model != "cnn")
        X = tabular.standardise(flat, state).astype(np.float32)
        feature_names = data.features
    input_shape = _input_shape(args.model, source, X.shape[1])
    X = X.reshape((n, *input_shape))

    y = data.y
    targets = y
    if not classification:
        y = y.reshape(-1, 1).astype(np.float32)
        # the network learns the standardised target; its last layer is rescaled after training
        y_mean, y_scale = float(y[fit_rows].mean()), float(y[fit_rows].std() or 1.0)
        targets = (y - y_mean) / y_scale

    cr.manual_seed(args.seed)
    n_out = len(data.classes) if classification else 1
    model = build_network(args.model, X[0].size, n_out, hidden, activation, input_shape)
    loss_name = LOSSES.get(args.model) or ("cross_entropy" if classification else "mse")
    loss_fn = make_loss(loss_name)
    metrics = _metric_names(data.task)
    optimizer = _make_optimizer(args.optimizer, model.parameters(), args.lr, args.l2)
    callbacks = [TerminateOnNaN()]
    if args.early_stopping:
        callbacks.append(EarlyStopping(patience=args.patience, restore_best_weights=True))

    quiet = args.quiet or args.json
    if not quiet:
        for note in data.notes:
            print(f"note: {note}", file=sys.stderr)
    start = time.perf_counter()
    validation = (X[val_rows], targets[val_rows]) if n_val else None
    history = fit(
        model,
        loss_fn,
        optimizer,
        X[fit_rows],
        targets[fit_rows],
        epochs=args.epochs,
        batch_size=args.batch_size,
        validation_data=validation,
        metrics=metrics,
        callbacks=callbacks,
        verbose=0 if quiet else "auto",
        seed=args.seed,
    )
    seconds = time.perf_counter() - start
    if history.stop_reason and history.stop_reason.startswith("TerminateOnNaN"):
        raise CLIError(f"training diverged ({history.stop_reason.split(': ', 1)[1]}): try a smaller --lr")
    if not classification:
        last = model[len(model) - 1]
        last.weight.data *= y_scale
        last.bias.data[...] = last.bias.data * y_scale + y_mean
    logs = {
        "train": evaluate(model, loss_fn, X[fit_rows], y[fit_rows], metrics=metrics),
        "validation": evaluate(model, loss_fn, X[val_rows], y[val_rows], metrics=metrics) if n_val else {},
        "test": evaluate(model, loss_fn, X[test_rows], y[test_rows], metrics=metrics),
    }

    os.makedirs(args.out, exist_ok=True)
    metadata = {
        "dataset": source.name,
        "source": source.kind,
        "task": data.task,
        "model": args.model,
        "loss": loss_name,
        "target": data.target,
        "classes": data.classes,
        "input_shape": list(input_shape),
        "features": feature_names,
        # what the model expects: the inputs prepared with this, fitted on the training rows
        "preprocessing": state,
        "split": {
            "test_size": args.test_size,
            "validation_split": args.validation_split,
            "seed": args.seed,
            "stratified": stratified,
        },
    }
    cr.save(model, model_path, metadata=metadata)
    history_csv = os.path.join(args.out, "history.csv")
    _write_history_csv(history, history_csv)
    curve_png = None if args.no_plot else os.path.join(args.out, "loss_curve.png")
    try:
        if curve_png:
            history.plot(path=curve_png)
    except ImportError:  # matplotlib is an optional extra
        curve_png = None
    report = {
        "dataset": source.name,
        "task": data.task,
        "model": args.model,
        "target": data.target,
        "samples": n,
        "features": X[0].size,
        "epochs_run": len(history.epoch),
        "seconds": round(seconds, 3),
        "train": logs["train"],
        "validation": logs["validation"],
        "test": logs["test"],
        "stop_reason": history.stop_reason,
        "files": {"model": model_path, "history": history_csv, "loss_curve": curve_png},
    }
    if classification:
        report["classes"] = data.classes
        predicted = predict(model, X[test_rows]).argmax(axis=1)
        report["confusion_matrix"] = confusion_matrix(y[test_rows], predicted, labels=np.arange(n_out)).tolist()
    if source.table is not None:
        report["preprocessing"] = tabular.describe(state, source.table.frame)
    if data.notes:
        report["notes"] = data.notes
    write_text_atomic(os.path.join(args.out, "report.json"), json.dumps(report, indent=2) + "\n")

    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    target = f" of {data.target!r}" if data.target else ""
    print(
        f"{source.name}: {data.task}{target}, {n} samples, {X[0].size} features; "
        f"{report['epochs_run']} epochs in {report['seconds']:.2f}s"
    )
    _print_metrics({split: logs[split] for split in ("train", "validation", "test")})
    if classification:
        _print_confusion(report["confusion_matrix"], data.classes)
    if not args.quiet:
        if source.table is not None:
            print()
            _print_preprocessing(state, source.table.frame, len(fit_rows), args.verbose)
        print()
        print(summary(model, input_shape))
        print(
            f"\nSaved to {args.out}/: {MODEL_FILE}, history.csv, report.json"
            + (", loss_curve.png" if curve_png else "")
        )
    return 0


def _write_history_csv(history, path: str) -> None:
    keys = history.keys()
    rows = [[epoch, *(history.history[k][i] for k in keys)] for i, epoch in enumerate(history.epoch)]
    write_text_atomic(path, tabular.write_csv_text(["epoch", *keys], rows))


def _print_metrics(table: dict[str, dict]) -> None:
    names = list(next(logs for logs in table.values() if logs))
    rows = {split: [f"{logs.get(n, float('nan')):.4f}" for n in names] for split, logs in table.items() if logs}
    width = max(12, max(len(split) for split in table) + 2)
    # each column as wide as its longest entry, two spaces apart, so large values never run together
    widths = [max(len(n), *(len(cells[j]) for cells in rows.values())) + 2 for j, n in enumerate(names)]
    print(f"\n{'':{width}}" + "".join(f"{n:>{w}}" for n, w in zip(names, widths)))
    for split, cells in rows.items():  # a split without logs (no validation set) is left out
        print(f"{split:{width}}" + "".join(f"{c:>{w}}" for c, w in zip(cells, widths)))


def _print_confusion(matrix: list[list[int]], classes: Sequence[Any]) -> None:
    cm = np.asarray(matrix)
    print("\nconfusion matrix (rows: true class, columns: predicted)")
    width = max(3, len(str(cm.max())) + 1)
    print(" " * 6 + "".join(f"{str(c)[:width]:>{width}}" for c in range(cm.shape[1])))
    for i, row in enumerate(cm):
        print(f"{str(classes[i])[:5]:>5} " + "".join(f"{v:>{width}}" for v in row))


def _print_preprocessing(state: dict, frame: Any, n_rows: int, verbose: bool) -> None:
    n_onehot = sum(len(c) for c in state["categories"])
    print(f"Preprocessing (fitted on the {n_rows} training rows, saved with the model):")
    if state["numeric"]:
        print(f"  {len(state['numeric'])} numeric column(s): missing values -> the median, then standardised")
    if state["categorical"]:
        print(
            f"  {len(state['categorical'])} categorical column(s): missing values -> the most frequent value, "
            f"then one-hot ({n_onehot} columns; categories unseen in training are ignored)"
        )
    for column, reason in state["dropped"].items():
        print(f"  left out {column!r}: {reason}")
    if verbose:
        for column, entry in tabular.describe(state, frame).items():
            if entry["kind"] == "numeric":
                detail = f"fill {entry['fill']:.6g}, mean {entry['mean']:.6g}, scale {entry['scale']:.6g}"
            elif entry["kind"] == "categorical":
                detail = f"fill {entry['fill']!r}, {entry['categories']} categories"
            else:
                continue
            print(f"    {column:20} {entry['kind']:12} {entry['missing']:>5} missing  {detail}")


# ================================================================== loading a model and its inputs
def load_model(folder: str) -> tuple[cr.nn.Module, dict, str]:
    """(network, metadata, file) of a model folder written by ``chainrule train`` (or its file)."""
    if not os.path.exists(folder):
        raise CLIError(f"no model at {folder}: no such folder (train one with `chainrule train ... --out {folder}`)")
    path = os.path.join(folder, MODEL_FILE) if os.path.isdir(folder) else folder
    if not os.path.isfile(path):
        raise CLIError(f"{folder} holds no {MODEL_FILE}: it is not a model folder written by `chainrule train`")
    try:
        meta = cr.io.load_metadata(path)
        model = cr.load(path)
    except ImportError as e:
        raise CLIError(str(e).splitlines()[0]) from None
    except (ValueError, KeyError, TypeError) as e:  # ModelFileError and the like: truncated, foreign
        raise CLIError(f"{path} is not a readable model: {str(e).splitlines()[0]}") from None
    needed = ("task", "loss", "preprocessing", "input_shape")
    if any(key not in meta for key in needed) or "numeric" not in meta["preprocessing"]:
        raise CLIError(
            f"{path} was not written by this version of `chainrule train` (its metadata lacks the "
            "preprocessing): train it again"
        )
    return model, meta, path


@dataclasses.dataclass
class Inputs:
    X: np.ndarray  # prepared, shaped as the network wants
    y: np.ndarray | None  # encoded targets (evaluate)
    ids: tuple[str, list] | None  # (column name, values) to copy into predictions
    notes: list[str]
    description: str


def model_inputs(
    meta: dict, source: Source, *, target: str | None = None, need_target: bool = False, id_column: str | None = None
) -> Inputs:
    """The rows of ``source`` prepared as the model's training prepared its inputs."""
    state, task, classes = meta["preprocessing"], meta["task"], meta.get("classes")
    shape = tuple(meta["input_shape"])
    if source.bundle is not None:
        bundle = source.bundle
        if id_column is not None:
            raise CLIError("--id-column is for CSV files; predictions on an embedded dataset carry its row numbers")
        names = [str(f) for f in bundle.feature_names]
        if names != state["columns"]:
            raise CLIError(
                f"the model was trained on {meta['dataset']} ({len(state['columns'])} columns), not on the "
                f"features of {bundle.name} ({len(names)})"
            )
        rows = np.arange(bundle.n_samples)
        description = f"{bundle.name}, all {len(rows)} samples"
        if bundle.name == meta["dataset"]:  # the held-out test split of training
            split = meta["split"]
            _, rows, _ = _split(
                bundle.n_samples,
                bundle.y,
                split["test_size"],
                split["seed"],
                split.get("stratified", task == "classification"),
            )
            description = f"{bundle.name}, the {len(rows)} test samples held out in training"
        X = tabular.standardise(bundle.X.reshape(bundle.n_samples, -1)[rows], state)
        y = None
        if need_target:
            if bundle.task != task or ([str(c) for c in bundle.target_names] if classes else None) != classes:
                raise CLIError(f"the targets of {bundle.name} are not those the model was trained on")
            y = bundle.y[rows]
        return Inputs(X.astype(np.float32).reshape((len(rows), *shape)), y, ("index", rows.tolist()), [], description)

    table = source.table
    if meta["source"] != "csv" and shape != (len(state["columns"]),):
        raise CLIError(f"the model was trained on {meta['dataset']} as images or sequences: give that dataset's name")
    notes = list(table.notes)
    target = target or meta.get("target")
    if need_target:
        if target is None:
            raise CLIError(
                f"the model was trained on {meta['dataset']}: give the target column of {table.name} with --target"
            )
        tabular.require_columns(table, [target], "(the target)")
        present = table.frame[target].notna().to_numpy()
        if not present.all():
            notes.append(f"left out {int((~present).sum())} row(s) whose target {target!r} is missing")
            table.frame = table.frame[present].reset_index(drop=True)
            if len(table.frame) == 0:
                raise CLIError(f"the target column {target!r} of {table.name} is empty")
    used = [*state["numeric"], *state["categorical"]]
    tabular.require_columns(table, used, "the model was trained on")
    ids = None
    if id_column is not None:
        tabular.require_columns(table, [id_column], "given as --id-column")
        ids = (id_column, [None if isinstance(v, float) else v for v in table.frame[id_column]])  # NaN: empty
    ignored = [
        c for c in table.frame.columns if c not in used and c not in (target, id_column) and c not in state["dropped"]
    ]
    if ignored:
        notes.append(f"ignored column(s) the model was not trained on: {tabular._quoted(ignored)}")
    notes += tabular.summary_notes(state, table.frame, "predict")
    X = tabular.transform(table.frame, state).astype(np.float32).reshape((len(table.frame), *shape))
    y = None
    if need_target:
        y, _ = tabular.encode_target(table.frame[target], task, target, classes=classes, source=table.name)
    return Inputs(X, y, ids, notes, f"{table.name}, {len(table.frame)} rows")


def _print_notes(args: argparse.Namespace, notes: Sequence[str]) -> None:
    if not (args.quiet or args.json):
        for note in notes:
            print(f"note: {note}", file=sys.stderr)


# =================================================================================== evaluate
def cmd_evaluate(args: argparse.Namespace) -> int:
    model, meta, _ = load_model(args.model)
    inputs = model_inputs(meta, open_data(args.data), target=args.target, need_target=True)
    task = meta["task"]
    y = inputs.y.reshape(-1, 1).astype(np.float32) if task == "regression" else inputs.y
    logs = evaluate(model, make_loss(meta["loss"]), inputs.X, y, metrics=_metric_names(task))
    result: dict[str, Any] = {
        "model": args.model,
        "data": inputs.description,
        "samples": len(inputs.X),
        "task": task,
        "metrics": logs,
    }
    if task == "classification":
        predicted = predict(model, inputs.X).argmax(axis=1)
        result["classes"] = meta["classes"]
        result["confusion_matrix"] = confusion_matrix(
            inputs.y, predicted, labels=np.arange(len(meta["classes"]))
        ).tolist()
    if inputs.notes:
        result["notes"] = inputs.notes
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    _print_notes(args, inputs.notes)
    print(f"{inputs.description}: {task}, model {args.model} ({meta['model']} trained on {meta['dataset']})")
    _print_metrics({"evaluation": logs})
    if task == "classification":
        _print_confusion(result["confusion_matrix"], meta["classes"])
    return 0


# ==================================================================================== predict
def cmd_predict(args: argparse.Namespace) -> int:
    if args.output and os.path.exists(args.output) and not args.force:
        raise CLIError(f"{args.output} exists; pass --force to overwrite it or choose another --output")
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
    _print_notes(args, inputs.notes)
    if not args.output:
        if args.json:
            result["predictions"] = [dict(zip(header, row)) for row in rows]
            print(json.dumps(result, indent=2))
        else:
            sys.stdout.write(text)
        return 0
    folder = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(folder):
        raise CLIError(f"cannot write {args.output}: the folder {folder} does not exist")
    write_text_atomic(args.output, text)
    if args.json:
        print(json.dumps(result, indent=2))
    elif not args.quiet:
        print(f"Wrote {len(rows)} predictions to {args.output} ({inputs.description}; columns: {', '.join(header)})")
    return 0


# ==================================================================================== summary
def cmd_summary(args: argparse.Namespace) -> int:
    model, meta, path = load_model(args.model)
    state = meta["preprocessing"]
    report_path = os.path.join(os.path.dirname(path), "report.json")
    report = None
    if os.path.isfile(report_path):
        try:
            with open(report_path, encoding="utf-8") as f:
                report = json.load(f)
        except (OSError, ValueError):
            report = None
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


# =================================================================================== datasets
def cmd_datasets(args: argparse.Namespace) -> int:
    infos = list_datasets()
    if args.json:
        print(json.dumps({name: info._asdict() for name, info in infos.items()}, indent=2))
        return 0
    print(f"{'name':15}{'samples':>8}{'features':>9}  task             classes")
    for name, info in infos.items():
        n, f, task, k = info
        print(f"{name:15}{n:>8}{f:>9}  {task:16} {k or '-'}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    handlers = {
        "train": cmd_train,
        "evaluate": cmd_evaluate,
        "predict": cmd_predict,
        "summary": cmd_summary,
        "datasets": cmd_datasets,
    }
    try:
        return handlers[args.command](args)
    except (CLIError, DataError) as e:
        print(f"chainrule {args.command}: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `chainrule predict ... | head`: the reader has gone, so stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except OSError as e:  # an --out that cannot be written, a full disk: one line, not a traceback
        print(f"chainrule {args.command}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
