"""Where a command's rows come from (an embedded dataset or a CSV file), and those rows made ready:
for training (``training_data``) or for a trained model (``model_inputs``)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule.cli import tabular
from chainrule.cli.errors import CLIError
from chainrule.data import load_dataset, train_test_split


@dataclasses.dataclass
class DataSource:
    """The DATA a command was given: an embedded dataset (``bundle``, as ``load_dataset`` returns
    it) or a CSV file (``table``, as ``tabular.read_csv`` reads it); exactly one of them is set."""

    name: str
    bundle: Any = None
    table: tabular.Table | None = None

    @property
    def kind(self) -> str:
        """'csv' or 'embedded'."""
        return "csv" if self.table is not None else "embedded"


def _looks_like_a_file(data: str) -> bool:
    """Whether DATA names a file (it exists, or has a folder or an extension) rather than a dataset."""
    return os.path.exists(data) or os.sep in data or "/" in data or os.path.splitext(data)[1] != ""


def open_data(data: str) -> DataSource:
    """An embedded dataset by name, or a CSV file by path."""
    if _looks_like_a_file(data):
        table = tabular.read_csv(data)
        return DataSource(table.name, table=table)
    try:
        bundle = load_dataset(data)
    except ValueError as e:  # "load_dataset: unknown dataset 'irsi'; did you mean 'iris'? ..."
        message = str(e).strip("'\"").replace("load_dataset: ", "")
        raise CLIError(message + "; or give the path of a CSV file") from None
    except (ImportError, OSError, RuntimeError) as e:  # a generated dataset whose maker is missing
        raise CLIError(f"dataset {data!r} could not be loaded: {str(e).splitlines()[0]}") from None
    return DataSource(bundle.name, bundle=bundle)


def split_rows(
    n: int, y: np.ndarray, test_size: float, seed: int, stratify: bool
) -> tuple[np.ndarray, np.ndarray, bool]:
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


def _drop_rows_without_target(table: tabular.Table, target: str, notes: list[str]) -> None:
    """Leave out the rows of ``table`` whose ``target`` is missing (and say so in ``notes``)."""
    present = table.frame[target].notna().to_numpy()
    if present.all():
        return
    notes.append(f"left out {int((~present).sum())} row(s) whose target {target!r} is missing")
    table.keep(present)
    if len(table.frame) == 0:
        raise CLIError(f"the target column {target!r} of {table.name} is empty")


# ================================================================================= training
@dataclasses.dataclass
class TrainingData:
    """The targets of the data ``chainrule train`` learns from, and what they mean."""

    task: str  # "classification" or "regression"
    y: np.ndarray  # class indices (int64) or values (float32)
    classes: list | None  # the class names, indexed by y; None for regression
    target: str | None  # the CSV column, None for an embedded dataset
    features: list[str]  # CSV columns or embedded feature names
    notes: list[str]  # what was left out or inferred, for the user


def training_data(source: DataSource, target: str | None, drop: Sequence[str], task: str | None) -> TrainingData:
    """The target and task of the training data, checked against --target, --drop and --task."""
    if source.bundle is not None:
        bundle = source.bundle
        if target is not None:
            raise CLIError(f"--target is for CSV files: the embedded dataset {bundle.name!r} has its own target")
        if drop:
            raise CLIError(f"--drop is for CSV files, not the embedded dataset {bundle.name!r}")
        if task is not None and task != bundle.task:
            raise CLIError(f"{bundle.name} is a {bundle.task} dataset, not {task}")
        classes = None if bundle.target_names is None else [str(c) for c in bundle.target_names]
        return TrainingData(bundle.task, bundle.y, classes, None, [str(f) for f in bundle.feature_names], [])
    table = source.table
    columns = [str(c) for c in table.frame.columns]
    if target is None:
        raise CLIError(
            f"a CSV file needs --target COLUMN, the column to predict; {table.name} has: {tabular.quoted(columns)}"
        )
    tabular.require_columns(table, [target], "given as --target")
    tabular.require_columns(table, drop, "given in --drop")
    if len(columns) - 1 - len([c for c in drop if c != target]) < 1:
        raise CLIError(f"{table.name} has no column to learn from besides the target {target!r}")
    notes = list(table.notes)
    _drop_rows_without_target(table, target, notes)
    features = [c for c in columns if c != target and c not in drop]
    numeric_target = task == "regression" or tabular.looks_numeric(table.frame[target])
    tabular.check_numbers(
        table, [c for c in features if tabular.looks_numeric(table.frame[c])], target if numeric_target else None
    )
    tabular.check_target(table, target, task)
    if task is None:
        task, why = tabular.infer_task(table.frame[target])
        notes.append(f"task: {task}, as the target {target!r} {why} (--task to choose)")
    y, classes = tabular.encode_target(table.frame[target], task, target, source=table.name, rows=table.row_numbers())
    if classes is not None:
        if len(classes) < 2:
            raise CLIError(
                f"the target {target!r} of {table.name} has only one class, {classes[0]!r}: there is nothing to learn"
            )
        tabular.check_classes(classes, len(y), target, table.name)
    return TrainingData(task, y, classes, target, features, notes)


# =========================================================================== a trained model
@dataclasses.dataclass
class ModelInputs:
    """Rows prepared for a trained model as its training prepared its inputs (``evaluate``,
    ``predict``)."""

    X: np.ndarray  # prepared, shaped as the network wants
    y: np.ndarray | None  # encoded targets (evaluate)
    ids: tuple[str, list] | None  # (column name, values) to copy into predictions
    notes: list[str]  # what was left out, ignored or imputed, for the user
    description: str  # the rows in words: "houses.csv, 40 rows"


def model_inputs(
    meta: dict,
    source: DataSource,
    *,
    target: str | None = None,
    need_target: bool = False,
    id_column: str | None = None,
) -> ModelInputs:
    """The rows of ``source`` prepared as the model's training (its metadata ``meta``) prepared its inputs."""
    if source.bundle is not None:
        if id_column is not None:
            raise CLIError("--id-column is for CSV files; predictions on an embedded dataset carry its row numbers")
        return _embedded_inputs(meta, source.bundle, need_target)
    return _csv_inputs(meta, source.table, target, need_target, id_column)


def _embedded_inputs(meta: dict, bundle: Any, need_target: bool) -> ModelInputs:
    """An embedded dataset's rows for the model: for the dataset it was trained on, the test split."""
    state, task, classes = meta["preprocessing"], meta["task"], meta.get("classes")
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
        _, rows, _ = split_rows(
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
    shape = tuple(meta["input_shape"])
    return ModelInputs(X.astype(np.float32).reshape((len(rows), *shape)), y, ("index", rows.tolist()), [], description)


def _csv_inputs(
    meta: dict, table: tabular.Table, target: str | None, need_target: bool, id_column: str | None
) -> ModelInputs:
    """A CSV file's rows for the model, with the preprocessing fitted in training."""
    state, task, classes = meta["preprocessing"], meta["task"], meta.get("classes")
    shape = tuple(meta["input_shape"])
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
        _drop_rows_without_target(table, target, notes)
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
        notes.append(f"ignored column(s) the model was not trained on: {tabular.quoted(ignored)}")
    numeric_target = need_target and (task == "regression" or all(isinstance(c, (int, float)) for c in classes))
    tabular.check_numbers(table, state["numeric"], target if numeric_target else None)
    notes += tabular.summary_notes(state, table.frame, "predict")
    X = tabular.transform(table.frame, state).astype(np.float32).reshape((len(table.frame), *shape))
    y = None
    if need_target:
        y, _ = tabular.encode_target(
            table.frame[target], task, target, classes=classes, source=table.name, rows=table.row_numbers()
        )
    return ModelInputs(X, y, ids, notes, f"{table.name}, {len(table.frame)} rows")
