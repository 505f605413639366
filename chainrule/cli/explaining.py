"""``chainrule explain``: which input columns drove a trained model's outputs, row by row.

The attributions are computed on the inputs as the model sees them (standardised numbers, one-hot
categories) by ``chainrule.explain``, then summed back to the data's own columns: the one-hot
columns of a category add up to that category's column, so the CSV has one column per original
column. The baseline of the gradient and perturbation methods is the zero input, which after the
preprocessing is the training mean of every numeric column and no category.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

import chainrule as cr
from chainrule.cli import outputs, tabular
from chainrule.cli.errors import CLIError
from chainrule.cli.models import load_model
from chainrule.cli.reports import print_notes
from chainrule.cli.sources import model_inputs, open_data
from chainrule.io.files import write_text_atomic

METHODS = ("ig", "saliency", "input_x_gradient", "smoothgrad", "occlusion", "lime", "permutation")
EXPLAIN_FILES = ("attributions.csv", "importances.csv", "attributions.png", "importances.png", "lime.png")
PICTURE_ROWS = 8  # rows drawn in the pictures (the CSV has them all)


def parse_rows(text: str, n: int) -> np.ndarray:
    """Row positions from 'A:B', 'A:', ':B', 'K' or 'I,J,K' (0-based, as Python slices)."""
    try:
        if ":" in text:
            start, _, stop = text.partition(":")
            rows = np.arange(n)[slice(int(start) if start else None, int(stop) if stop else None)]
        else:
            rows = np.array([int(part) for part in text.split(",")], dtype=np.int64)
    except ValueError:
        raise CLIError(f"--rows {text!r}: give A:B (a range), K (one row) or I,J,K (0-based row numbers)") from None
    if len(rows) == 0:
        raise CLIError(f"--rows {text} selects no row of the {n} rows of the data")
    bad = rows[(rows < 0) | (rows >= n)]
    if len(bad):
        raise CLIError(f"--rows {text}: row {int(bad[0])} is out of range for data of {n} rows (0..{n - 1})")
    return rows


def _source_columns(meta: dict) -> tuple[list[str], np.ndarray]:
    """(the data's columns, the column index of every prepared input feature)."""
    state = meta["preprocessing"]
    columns = [str(c) for c in state["columns"]]
    prepared = list(state["numeric"]) + [c for c, cats in zip(state["categorical"], state["categories"]) for _ in cats]
    index = {c: i for i, c in enumerate(columns)}
    return columns, np.array([index[str(c)] for c in prepared], dtype=np.int64)


def _targets(args: argparse.Namespace, meta: dict, model: cr.nn.Module, X: np.ndarray) -> tuple[Any, list]:
    """(what to explain: class indices per row or None for one output, their labels for the CSV)."""
    outputs_ = cr.train.predict(model, X)
    width = outputs_.shape[1] if outputs_.ndim == 2 else 1
    classes = meta.get("classes")
    if width == 1:
        if args.target is not None:
            raise CLIError("--target names a class to explain; this model has one output per row: leave it out")
        return None, ["output"] * len(X)
    if args.target is None:  # each row's predicted class
        t = outputs_.argmax(axis=1)
    else:
        labels = [str(c) for c in classes]
        if args.target not in labels:
            raise CLIError(f"--target {args.target}: not a class of this model ({tabular.quoted(labels)})")
        t = np.full(len(X), labels.index(args.target))
    return t, [str(classes[k]) for k in t]


def _attributions(method: str, model: cr.nn.Module, X: np.ndarray, target: Any, groups: np.ndarray, seed: int) -> Any:
    """Attributions shaped like X by ``method``; for LIME also its result object."""
    shape = X.shape[1:]
    if method == "ig":
        return cr.explain.integrated_gradients(model, X, target), None
    if method == "saliency":
        return cr.explain.saliency(model, X, target, abs=False), None
    if method == "input_x_gradient":
        return cr.explain.input_x_gradient(model, X, target), None
    if method == "smoothgrad":  # noise of a tenth of a standard deviation of the standardised inputs
        return cr.explain.smoothgrad(model, X, target, stdevs=0.1, nt_samples=20, seed=seed, abs=False), None
    if method == "occlusion":
        if len(shape) == 1:  # tabular: a whole column (all its one-hot features) at a time
            return cr.explain.feature_ablation(model, X, target, feature_mask=groups), None
        window = (1, 4) if len(shape) == 2 else (1, 2, 2)
        return cr.explain.occlusion(model, X, target, sliding_window_shapes=window, strides=1), None
    if method == "lime":
        mask = groups if len(shape) == 1 else _patches(shape)
        result = cr.explain.lime(model, X, target, feature_mask=mask, seed=seed)
        return result.attributions, result
    raise AssertionError(method)


def _explained(method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``method(*args, **kwargs)``, its refusals (a ValueError naming what was wrong, such as NaN
    outputs of the model) as the command's one-line error."""
    try:
        return method(*args, **kwargs)
    except ValueError as error:
        raise CLIError(str(error)) from None


def _patches(shape: tuple[int, ...]) -> np.ndarray:
    """LIME's interpretable features for signals (segments of 4) and images (2x2 patches)."""
    if len(shape) == 2:
        return np.broadcast_to(np.arange(shape[1]) // 4, shape).copy()
    rows, cols = np.arange(shape[1]) // 2, np.arange(shape[2]) // 2
    ids = rows[:, None] * (-(-shape[2] // 2)) + cols[None, :]
    return np.broadcast_to(ids, shape).copy()


def cmd_explain(args: argparse.Namespace) -> int:
    """``chainrule explain``: attributions of a trained model's outputs to the data's columns, as
    CSV (to --out DIR with pictures, or to stdout)."""
    if args.repeats < 1:
        raise CLIError(f"--repeats {args.repeats}: shuffles per column must be at least 1")
    if args.out is not None:
        outputs.check(args.out, args.force, files=EXPLAIN_FILES, command="explain")
    model, meta, _ = load_model(args.model)
    permutation = args.method == "permutation"
    inputs = model_inputs(meta, open_data(args.data), need_target=permutation)
    rows = parse_rows(args.rows, len(inputs.X))
    X = inputs.X[rows]
    columns, source = _source_columns(meta)
    flat_groups = source if len(inputs.X.shape) == 2 else np.arange(int(np.prod(X.shape[1:])))
    notes = list(inputs.notes)
    seed = args.seed
    # the groups of the tabular features, numbered in sorted order of their column (as explain does):
    # the column of each group, which skips any column left out in training
    group_columns = np.unique(flat_groups)
    if args.method == "lime" and len(group_columns) < 2:
        raise CLIError(
            "--method lime needs at least 2 columns: with one, LIME's kernel gives the samples without it almost "
            "no weight and its surrogate learns nothing; use --method occlusion"
        )
    if permutation:
        y = inputs.y[rows]
        if meta["task"] == "regression":
            y = y.astype(np.float64)
        if len(rows) < 2:
            raise CLIError(f"--rows {args.rows}: permutation shuffles columns across rows: select at least 2 rows")
        mask = flat_groups.reshape(X.shape[1:]) if len(X.shape) == 2 else None
        scoring = "accuracy" if meta["task"] == "classification" else "r2"
        result = _explained(
            cr.explain.permutation_importance,
            model,
            X,
            y,
            feature_mask=mask,
            n_repeats=args.repeats,
            seed=seed,
            scoring=scoring,
        )
        # one row per data column; a column the model never saw (left out in training) has importance 0
        drops = np.zeros((len(columns), args.repeats))
        drops[group_columns] = result.importances
        mean, std = drops.mean(axis=1), drops.std(axis=1)
        result = cr.explain.PermutationImportance(mean, std, drops, result.baseline_score)
        names = [str(c) for c in columns]
        header = ["column", "importance_mean", "importance_std"]
        table = [[names[g], round(float(m), 6), round(float(s), 6)] for g, (m, s) in enumerate(zip(mean, std))]
        summary = {"baseline_score": result.baseline_score, "scoring": scoring}
        files = {"importances.csv": tabular.write_csv_text(header, table)}
        pictures = {"importances.png": lambda path: cr.viz.plot_feature_importances(result, names, path=path)}
    else:
        target, labels = _targets(args, meta, model, X)
        attributions, lime_result = _explained(
            _attributions, args.method, model, X, target, flat_groups.reshape(X.shape[1:]), seed
        )
        per_feature = attributions.reshape(len(X), -1).astype(np.float64)
        if len(X.shape) == 2:  # one column per data column: one-hot features summed back
            summed = np.zeros((len(X), len(columns)))
            np.add.at(summed.T, flat_groups, per_feature.T)
            per_column, names = summed, columns
        else:
            per_column, names = per_feature, columns
        ids = inputs.ids[1] if inputs.ids is not None and inputs.ids[0] != "index" else None
        row_names = [ids[r] for r in rows] if ids is not None else rows.tolist()
        header = [inputs.ids[0] if ids is not None else "row", "explained"] + names
        table = [
            [rid, label] + [round(float(v), 6) for v in values]
            for rid, label, values in zip(row_names, labels, per_column)
        ]
        summary = {
            "explained": "the predicted class"
            if args.target is None and target is not None
            else (args.target or "the output")
        }
        files = {"attributions.csv": tabular.write_csv_text(header, table)}
        lime_names = [names[c] for c in group_columns]  # LIME's weights: one per group of features
        pictures = _pictures(X, attributions, per_column, names, labels, lime_result, lime_names, args.method)
    result = {
        "model": args.model,
        "data": inputs.description,
        "method": args.method,
        "rows": len(rows),
        **summary,
        "columns": header,
        "out": args.out,
    }
    if notes:
        result["notes"] = notes
    print_notes(args, notes)
    if args.out is None:
        if args.json:
            result["table"] = [dict(zip(header, row)) for row in table]
            print(json.dumps(result, indent=2))
        else:
            sys.stdout.write(next(iter(files.values())))
        return 0
    _write(args, files, pictures, result)
    return 0


def _pictures(
    X: np.ndarray,
    attributions: np.ndarray,
    per_column: np.ndarray,
    names: list[str],
    labels: list,
    lime_result: Any,
    lime_names: list[str],
    method: str,
) -> dict:
    shown = slice(0, PICTURE_ROWS)
    titles = [f"row {i}: {label}" for i, label in enumerate(labels[:PICTURE_ROWS])]
    if X.ndim == 4:
        return {
            "attributions.png": lambda path: cr.viz.plot_image_attributions(
                X[shown], {method: attributions[shown]}, titles=titles, path=path
            )
        }
    if X.ndim == 3:
        return {
            "attributions.png": lambda path: cr.viz.plot_signal_attributions(
                X[shown], {method: attributions[shown]}, titles=titles, path=path
            )
        }
    pictures = {
        "attributions.png": lambda path: cr.viz.plot_feature_importances(
            per_column, names, title=f"{method}: mean |attribution| per column", path=path
        )
    }
    if lime_result is not None:
        pictures["lime.png"] = lambda path: cr.viz.plot_lime(lime_result, 0, lime_names, path=path)
    return pictures


def _write(args: argparse.Namespace, files: dict[str, str], pictures: dict, result: dict) -> None:
    """Every file to a fresh folder beside --out, swapped in once all are written."""
    with outputs.staged(args.out) as staging:
        for name, text in files.items():
            write_text_atomic(os.path.join(staging, name), text)
        written = list(files)
        if not args.no_plot:
            try:
                for name, draw in pictures.items():
                    draw(os.path.join(staging, name))
                    written.append(name)
            except ImportError as e:
                raise CLIError(f"{str(e).splitlines()[0]}; or pass --no-plot") from None
        outputs.publish(staging, args.out)
    result["files"] = [os.path.join(args.out, name) for name in written]
    if args.json:
        print(json.dumps(result, indent=2))
    elif not args.quiet:
        print(f"Wrote {', '.join(result['files'])} ({result['method']}, {result['rows']} rows of {result['data']})")
