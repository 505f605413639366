"""The ``chainrule`` command: train a model on an embedded dataset and report its results.

    chainrule train                       # an MLP on digits, offline, in seconds
    chainrule train iris --hidden 16 --epochs 200
    chainrule datasets
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Sequence

import numpy as np

import chainrule as cr
from chainrule.data import list_datasets, load_dataset, train_test_split
from chainrule.train import EarlyStopping, evaluate, fit, predict, summary
from chainrule.train.metrics import confusion_matrix


class CLIError(Exception):
    """A user error: printed as one line on stderr, exit code 2."""


def _hidden(text: str) -> list[int]:
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--hidden must be comma-separated integers like 64,32, got {text!r}") from None
    if any(s <= 0 for s in sizes):
        raise argparse.ArgumentTypeError(f"--hidden sizes must be positive, got {text!r}")
    return sizes


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chainrule",
        description="Train and inspect neural networks built on chainrule's autodiff.",
        epilog="examples:\n  chainrule train\n  chainrule train iris --hidden 16 --epochs 200\n  chainrule datasets",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"chainrule {cr.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    train = sub.add_parser(
        "train",
        help="train a model on an embedded dataset",
        description="Train an MLP on an embedded dataset, print its test metrics and summary, and save "
        "the model, history.csv, a loss-curve PNG and report.json to --out.",
        epilog="examples:\n  chainrule train\n  chainrule train wine --hidden 32 --epochs 100 --optimizer adam",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument("data", nargs="?", default="digits", help="embedded dataset name (default: digits)")
    train.add_argument("--hidden", type=_hidden, default=[64], help="hidden layer sizes, e.g. 64,32 (default: 64)")
    train.add_argument("--activation", default="relu", choices=["relu", "tanh", "sigmoid", "identity"])
    train.add_argument("--epochs", type=int, default=60)
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument("--lr", type=float, default=None, help="learning rate (default: 0.05 for sgd/momentum, 0.001 for adam)")
    train.add_argument("--optimizer", default="momentum", choices=["sgd", "momentum", "adam"])
    train.add_argument("--l2", type=float, default=0.0, help="weight decay (L2 penalty)")
    train.add_argument("--validation-split", type=_fraction(True), default=0.2,
                       help="fraction of the training set held out for validation (default: 0.2)")
    train.add_argument("--test-size", type=_fraction(False), default=0.25, help="fraction kept for testing (default: 0.25)")
    train.add_argument("--early-stopping", action="store_true", help="stop when validation loss stops improving")
    train.add_argument("--patience", type=int, default=10)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", default="runs/latest", help="output directory (default: runs/latest)")
    train.add_argument("--force", action="store_true", help="overwrite an existing model in --out")
    train.add_argument("--quiet", action="store_true", help="print only the final metrics")
    train.add_argument("--json", action="store_true", help="print the report as JSON (for scripts)")

    sub.add_parser("datasets", help="list the embedded datasets", description="List the embedded datasets with their sizes.")
    return parser


def _scaling(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and standard deviations of ``a`` (1 where a column is constant)."""
    mean = a.mean(axis=0)
    std = a.std(axis=0)
    std[std == 0] = 1.0
    return mean, std


def _make_optimizer(name: str, params, lr: float | None, l2: float):
    try:
        if name == "adam":
            return cr.optim.Adam(params, lr=1e-3 if lr is None else lr, weight_decay=l2)
        return cr.optim.SGD(params, lr=0.05 if lr is None else lr, momentum=0.9 if name == "momentum" else 0.0,
                            weight_decay=l2)
    except ValueError as e:  # "SGD: invalid learning rate: -1.0 (expected a number >= 0)"
        raise CLIError(str(e)) from None


def cmd_train(args: argparse.Namespace) -> int:
    if args.epochs <= 0 or args.batch_size <= 0:
        raise CLIError("--epochs and --batch-size must be positive")
    if args.patience < 0:
        raise CLIError(f"--patience must be >= 0, got {args.patience}")
    if args.early_stopping and not args.validation_split:
        raise CLIError("--early-stopping watches the validation loss: give a --validation-split above 0")
    try:
        bundle = load_dataset(args.data)
    except (KeyError, ValueError) as e:
        raise CLIError(str(e).strip("'\"")) from None
    model_path = os.path.join(args.out, "model.safetensors")
    if os.path.exists(model_path) and not args.force:
        raise CLIError(f"{model_path} exists; pass --force to overwrite it or choose another --out")
    cr.manual_seed(args.seed)
    classification = bundle.task == "classification"
    X, y = bundle.X.astype(np.float32), bundle.y
    stratify = y if classification else None
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=args.test_size, random_state=args.seed, stratify=stratify)
    # the validation set is the last fraction of the training set (as fit's validation_split takes it)
    n_val = int(np.ceil(len(X_train) * args.validation_split))
    if n_val >= len(X_train):
        raise CLIError(f"--validation-split {args.validation_split} leaves no training samples out of {len(X_train)}")
    n_fit = len(X_train) - n_val
    mean, scale = _scaling(X_train[:n_fit])
    X_train, X_test = [((a - mean) / scale).astype(np.float32) for a in (X_train, X_test)]
    targets = y_train
    if not classification:
        y_train, y_test = y_train.reshape(-1, 1).astype(np.float32), y_test.reshape(-1, 1).astype(np.float32)
        # the network learns the standardised target; its last layer is rescaled after training
        y_mean, y_scale = _scaling(y_train[:n_fit])
        targets = (y_train - y_mean) / y_scale

    n_out = len(bundle.target_names) if classification else 1
    sizes = [X.shape[1], *args.hidden]
    layers: list[cr.nn.Module] = []
    for n_in, n_next in zip(sizes[:-1], sizes[1:]):
        layers += [cr.nn.Linear(n_in, n_next), cr.nn.activation(args.activation)]
    layers.append(cr.nn.Linear(sizes[-1], n_out))
    model = cr.nn.Sequential(*layers)
    loss_fn = cr.nn.CrossEntropyLoss() if classification else cr.nn.MSELoss()
    metrics = ["accuracy", "f1"] if classification else ["mae", "r2"]
    optimizer = _make_optimizer(args.optimizer, model.parameters(), args.lr, args.l2)
    callbacks = [EarlyStopping(patience=args.patience, restore_best_weights=True)] if args.early_stopping else []

    verbose = 0 if (args.quiet or args.json) else "auto"
    start = time.perf_counter()
    validation = (X_train[n_fit:], targets[n_fit:]) if n_val else None
    history = fit(model, loss_fn, optimizer, X_train[:n_fit], targets[:n_fit], epochs=args.epochs,
                  batch_size=args.batch_size, validation_data=validation, metrics=metrics, callbacks=callbacks,
                  verbose=verbose, seed=args.seed)
    seconds = time.perf_counter() - start
    if not classification:
        last = layers[-1]
        last.weight.data *= y_scale
        last.bias.data[...] = last.bias.data * y_scale + y_mean
    train_logs = evaluate(model, loss_fn, X_train[:n_fit], y_train[:n_fit], metrics=metrics)
    val_logs = evaluate(model, loss_fn, X_train[n_fit:], y_train[n_fit:], metrics=metrics) if n_val else {}
    test_logs = evaluate(model, loss_fn, X_test, y_test, metrics=metrics)

    os.makedirs(args.out, exist_ok=True)
    metadata = {
        "dataset": bundle.name, "task": bundle.task,
        # what the model expects: inputs standardised with these, from the training samples
        "preprocessing": {"mean": mean.tolist(), "scale": scale.tolist()},
        "split": {"test_size": args.test_size, "validation_split": args.validation_split, "seed": args.seed},
    }
    cr.save(model, model_path, metadata=metadata)
    history_csv = os.path.join(args.out, "history.csv")
    _write_history_csv(history, history_csv)
    curve_png = os.path.join(args.out, "loss_curve.png")
    try:
        history.plot(path=curve_png)
    except ImportError:
        curve_png = None
    report = {
        "dataset": bundle.name, "task": bundle.task, "epochs_run": len(history.epoch), "seconds": round(seconds, 3),
        "train": train_logs, "validation": val_logs, "test": test_logs, "stop_reason": history.stop_reason,
        "files": {"model": model_path, "history": history_csv, "loss_curve": curve_png},
    }
    if classification:
        labels = predict(model, X_test).argmax(axis=1)
        report["confusion_matrix"] = confusion_matrix(y_test, labels, labels=np.arange(n_out)).tolist()
    from chainrule.train.callbacks import write_text_atomic

    write_text_atomic(os.path.join(args.out, "report.json"), json.dumps(report, indent=2) + "\n")

    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    _print_results(report, bundle, train_logs, val_logs, test_logs)
    if not args.quiet:
        print()
        print(summary(model, (X.shape[1],)))
        print(f"\nSaved to {args.out}/: model.safetensors, history.csv, report.json" + (", loss_curve.png" if curve_png else ""))
    return 0


def _write_history_csv(history, path: str) -> None:
    from chainrule.train.callbacks import write_text_atomic

    keys = history.keys()
    lines = [",".join(["epoch", *keys])]
    for i, epoch in enumerate(history.epoch):
        lines.append(",".join([str(epoch), *(repr(history.history[k][i]) for k in keys)]))
    write_text_atomic(path, "\n".join(lines) + "\n")


def _print_results(report: dict, bundle, train_logs: dict, val_logs: dict, test_logs: dict) -> None:
    print(f"{bundle.name}: {bundle.task}, {len(bundle.X)} samples, {bundle.X.shape[1]} features; "
          f"{report['epochs_run']} epochs in {report['seconds']:.2f}s")
    names = list(test_logs)
    print(f"\n{'':12}" + "".join(f"{n:>10}" for n in names))
    for split, logs in (("train", train_logs), ("validation", val_logs), ("test", test_logs)):
        if not logs:  # no validation set (--validation-split 0)
            continue
        print(f"{split:12}" + "".join(f"{logs.get(n, float('nan')):>10.4f}" for n in names))
    if "confusion_matrix" in report:
        cm = np.asarray(report["confusion_matrix"])
        print("\nconfusion matrix (rows: true class, columns: predicted)")
        width = max(3, len(str(cm.max())) + 1)
        print(" " * 6 + "".join(f"{str(c)[:width]:>{width}}" for c in range(cm.shape[1])))
        for i, row in enumerate(cm):
            print(f"{str(bundle.target_names[i])[:5]:>5} " + "".join(f"{v:>{width}}" for v in row))


def cmd_datasets(args: argparse.Namespace) -> int:
    print(f"{'name':15}{'samples':>8}{'features':>9}  task             classes")
    for name, info in list_datasets().items():
        n, f, task, k = info
        print(f"{name:15}{n:>8}{f:>9}  {task:16} {k or '-'}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    handlers = {"train": cmd_train, "datasets": cmd_datasets}
    try:
        return handlers[args.command](args)
    except CLIError as e:
        print(f"chainrule {args.command}: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # an --out that cannot be written, a full disk: one line, not a traceback
        print(f"chainrule {args.command}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
