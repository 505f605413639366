"""What the commands print and write besides the model: notes, tables of metrics, the
preprocessing in words, the history as CSV and the results of a training run."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import chainrule as cr
from chainrule.cli import tabular
from chainrule.cli.models import MODEL_FILE
from chainrule.io.files import write_text_atomic
from chainrule.train import summary
from chainrule.train.metrics import format_confusion_matrix


def print_notes(args: argparse.Namespace, notes: Sequence[str]) -> None:
    """Each note as a line ``note: ...`` on stderr, unless --quiet or --json."""
    if not (args.quiet or args.json):
        for note in notes:
            print(f"note: {note}", file=sys.stderr)


def print_metrics(table: dict[str, dict]) -> None:
    """A table of metrics: one row per split (``train``, ...), one right-aligned column per metric;
    a split without logs (no validation set) is left out."""
    names = list(next(logs for logs in table.values() if logs))
    rows = {split: [f"{logs.get(n, float('nan')):.4f}" for n in names] for split, logs in table.items() if logs}
    width = max(12, max(len(split) for split in table) + 2)
    # each column as wide as its longest entry, two spaces apart, so large values never run together
    widths = [max(len(n), *(len(cells[j]) for cells in rows.values())) + 2 for j, n in enumerate(names)]
    print(f"\n{'':{width}}" + "".join(f"{n:>{w}}" for n, w in zip(names, widths)))
    for split, cells in rows.items():
        print(f"{split:{width}}" + "".join(f"{c:>{w}}" for c, w in zip(cells, widths)))


def print_confusion_matrix(matrix: list[list[int]], classes: Sequence[Any]) -> None:
    """The confusion matrix after a blank line (rows: true class, columns: predicted)."""
    print()
    print(format_confusion_matrix(matrix, classes))


def print_preprocessing(columns: dict[str, dict], n_rows: int, verbose: bool) -> None:
    """What the preprocessing fitted on ``n_rows`` training rows does, from its description by
    column (``tabular.describe``); ``verbose``: each column's fill value, mean and scale or number
    of categories, and its missing values."""
    kinds = [entry["kind"] for entry in columns.values()]
    n_onehot = sum(entry["categories"] for entry in columns.values() if entry["kind"] == "categorical")
    print(f"Preprocessing (fitted on the {n_rows} training rows, saved with the model):")
    if "numeric" in kinds:
        print(f"  {kinds.count('numeric')} numeric column(s): missing values -> the median, then standardised")
    if "categorical" in kinds:
        print(
            f"  {kinds.count('categorical')} categorical column(s): missing values -> the most frequent value, "
            f"then one-hot ({n_onehot} columns; categories unseen in training are ignored)"
        )
    for column, entry in columns.items():
        if entry["kind"] == "dropped":
            print(f"  left out {column!r}: {entry['reason']}")
    if verbose:
        for column, entry in columns.items():
            if entry["kind"] == "numeric":
                detail = f"fill {entry['fill']:.6g}, mean {entry['mean']:.6g}, scale {entry['scale']:.6g}"
            elif entry["kind"] == "categorical":
                detail = f"fill {entry['fill']!r}, {entry['categories']} categories"
            else:
                continue
            print(f"    {column:20} {entry['kind']:12} {entry['missing']:>5} missing  {detail}")


def write_history_csv(history: cr.train.History, path: str) -> None:
    """The history of a training run as CSV: one row per epoch, one column per logged value."""
    keys = history.keys()
    rows = [[epoch, *(history.history[k][i] for k in keys)] for i, epoch in enumerate(history.epoch)]
    write_text_atomic(path, tabular.write_csv_text(["epoch", *keys], rows))


def print_training_report(
    args: argparse.Namespace,
    report: dict,
    model: cr.nn.Module,
    input_shape: Sequence[int],
    n_fit_rows: int,
) -> None:
    """The results of ``chainrule train`` (its ``report``), then unless --quiet the preprocessing of
    a CSV file (fitted on ``n_fit_rows`` rows), the network's summary and the files written."""
    target = f" of {report['target']!r}" if report["target"] else ""
    print(
        f"{report['dataset']}: {report['task']}{target}, {report['samples']} samples, {report['features']} features; "
        f"{report['epochs_run']} epochs in {report['seconds']:.2f}s"
    )
    print_metrics({split: report[split] for split in ("train", "validation", "test")})
    if "confusion_matrix" in report:
        print_confusion_matrix(report["confusion_matrix"], report["classes"])
    if args.quiet:
        return
    if "preprocessing" in report:  # a CSV file's
        print()
        print_preprocessing(report["preprocessing"], n_fit_rows, args.verbose)
    print()
    print(summary(model, input_shape))
    curve = ", loss_curve.png" if report["files"]["loss_curve"] else ""
    print(f"\nSaved to {args.out}/: {MODEL_FILE}, history.csv, report.json" + curve)
