"""Tabular data for the ``chainrule`` command: read a CSV file, fit its preprocessing, and apply
that preprocessing again, later, from JSON.

What a CSV file goes through:

- ``read_csv``: every cell is read as text (so a column reads the same at training and at
  prediction time, whatever its other rows hold); the delimiter is sniffed, a UTF-8 byte-order
  mark is dropped (Latin-1 is the fallback encoding), surrounding blanks are stripped, and empty
  cells, ``NA``, ``n/a``, ``?`` and the like are missing values. Rows with more fields than the
  header are skipped and counted.
- ``fit_preprocessing``: each feature column is *numeric* (its values parse as numbers; a column
  whose values are at least 90% numbers is numeric too, its other values are taken as missing)
  or *categorical*. Numeric columns are imputed with their median and standardised; categorical
  columns are imputed with their most frequent value and one-hot encoded, with one column per
  category seen in training (a category seen only later is ignored: all its one-hot columns are
  0). A categorical column whose every value is distinct (an identifier, a free-text field) or
  with no value at all is left out and reported. The fitting is scikit-learn's
  (``SimpleImputer``, ``StandardScaler``, ``OneHotEncoder(handle_unknown='ignore')`` in a
  ``ColumnTransformer``); what it learned is kept as plain JSON (``Preprocessing.state``), never
  as a pickle.
- ``transform``: applies that JSON with NumPy and pandas alone, giving what the fitted
  ``ColumnTransformer`` gives (the tests check they agree).
- ``check_numbers``: a cell of a numeric column that is infinite ('inf', '1e400'), NaN spelt out
  or beyond +-1e30 (+-1e15 in the target) is refused, naming its data row and column, at
  training, evaluation and prediction alike (an empty cell stays a missing value);
  ``check_target`` / ``check_classes``: a numeric target with text cells, and a classification
  target with a class per row or more than 100 classes, are refused.
- ``encode_target`` / ``decode_labels``: class labels become indices into a sorted list of class
  names kept with the model, and indices become the original labels again.

pandas (``pip install "chainrule[csv]"``) and, for fitting, scikit-learn are imported on first
use, so ``import chainrule`` and training on the embedded datasets need NumPy only.

Example:
    >>> import os, tempfile
    >>> from chainrule.cli import tabular
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "houses.csv")
    >>> with open(path, "w") as f:
    ...     _ = f.write("area,city,price\\n50,Lyon,100\\n80,Paris,250\\n,Paris,200\\n65,Lyon,?\\n")
    >>> table = tabular.read_csv(path)
    >>> prep = tabular.fit_preprocessing(table.frame, ["area", "city"])
    >>> prep.state["numeric"], prep.state["categorical"], prep.state["categories"]
    (['area'], ['city'], [['Lyon', 'Paris']])
    >>> prep.feature_names
    ['area', 'city=Lyon', 'city=Paris']
    >>> tabular.transform(table.frame, prep.state).round(2).tolist()[2]   # area missing -> median 65
    [0.0, 0.0, 1.0]
"""

from __future__ import annotations

import csv
import dataclasses
import difflib
import io
import math
import os
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "DataError",
    "Table",
    "Preprocessing",
    "read_csv",
    "closest",
    "quoted",
    "require_columns",
    "infer_task",
    "encode_target",
    "decode_labels",
    "unusable_numbers",
    "looks_numeric",
    "check_numbers",
    "check_target",
    "check_classes",
    "fit_preprocessing",
    "transform",
    "typed_frame",
    "standardise",
    "fit_standardisation",
    "FORMAT",
    "MISSING_MARKERS",
]

FORMAT = "chainrule.tabular/1"
"""The version of the JSON layout of a fitted preprocessing (``Preprocessing.state``)."""

NUMERIC_SHARE = 0.9
"""A text column is numeric when at least this share of its non-missing values parse as numbers."""
MAX_CLASSES_INFERRED = 20
"""A numeric target with whole values and at most this many distinct ones is taken as class labels."""
MIN_ROWS_FOR_IDENTIFIER = 20
"""A categorical column of distinct values is dropped as an identifier only from this many rows on."""
MAX_CLASSES = 100
"""A classification target with more distinct values than this is refused (not a set of classes)."""
MAX_ABS = 1e30
"""Numbers beyond +-MAX_ABS in a feature column are refused, as are inf and NaN: the network
computes in 32-bit floats (up to about 3.4e38) on standardised inputs."""
MAX_ABS_TARGET = 1e15
"""Numbers beyond +-MAX_ABS_TARGET in a target column are refused: predictions and their squared
errors are computed in 32-bit floats, in the target's units."""
EXTRA_MISSING = ["?"]
"""Cells read as missing besides pandas' defaults ('', 'NA', 'N/A', 'n/a', 'NaN', 'null', ...)."""
PANDAS_MISSING = (
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>", "N/A", "NA",
    "NULL", "NaN", "None", "n/a", "nan", "null",
)  # fmt: skip
"""pandas' default spellings of a missing cell (``pandas.read_csv``'s ``na_values``; the tests
check that pandas reads each as missing, and that it has no other)."""
MISSING_MARKERS = (*PANDAS_MISSING, *EXTRA_MISSING)
"""Every spelling of a missing cell ``read_csv`` knows: what an exported model's categorical
inputs take as missing (``chainrule export``)."""


class DataError(ValueError):
    """Data that cannot be used as asked; its message is one line meant for the user."""


def _pandas():
    try:
        import pandas
    except ImportError:
        raise DataError('reading CSV files needs pandas: pip install "chainrule[csv]"') from None
    return pandas


def closest(name: str, choices: Sequence[str], n: int = 3) -> list[str]:
    """The names in ``choices`` closest to ``name`` (a different case counts as closest)."""
    same_case = [c for c in choices if c.lower() == name.lower() and c != name]
    close = difflib.get_close_matches(name, list(choices), n=n, cutoff=0.7)
    lowered = {c.lower(): c for c in choices}
    close += [lowered[c] for c in difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.7)]
    return list(dict.fromkeys(same_case + close))[:n]


def quoted(names: Sequence[Any], limit: int = 8) -> str:
    """Names quoted for a message, the first ``limit`` of them: "'a', 'b', ... (12 in all)"."""
    shown = ", ".join(repr(str(n)) for n in list(names)[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


# ------------------------------------------------------------------------------------- reading
@dataclasses.dataclass
class Table:
    """A CSV file as read: ``frame`` holds text (str) or NaN in every cell; ``notes`` says what
    reading it did (rows skipped, the encoding fallen back on); ``rows`` the data row number of
    each row of ``frame`` (1 for the first row after the header), for messages."""

    frame: Any
    path: str
    notes: list[str]
    rows: Any = None

    def row_numbers(self) -> np.ndarray:
        """The data row number of each row of ``frame`` (1-based, the header not counted)."""
        return np.arange(1, len(self.frame) + 1) if self.rows is None else np.asarray(self.rows)

    def keep(self, mask: Any) -> None:
        """Keep only the rows of ``frame`` where ``mask`` is true (and their row numbers)."""
        mask = np.asarray(mask, dtype=bool)
        self.rows = self.row_numbers()[mask]
        self.frame = self.frame[mask].reset_index(drop=True)

    @property
    def name(self) -> str:
        """The file's name, without its folder (as messages show it)."""
        return os.path.basename(self.path)


_SKIPPED_ROW = "\x00chainrule: a row skipped for its extra fields"
"""What ``read_csv`` puts in place of a row with too many fields, so that later rows keep their
numbers (it starts with a NUL byte, which no cell of a text file holds; compared as Python
strings, as NumPy drops trailing NULs)."""


def _sniff(sample: str) -> str:
    """The delimiter: csv.Sniffer's guess, else the candidate found most often in the header."""
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:  # rows of differing lengths confuse the sniffer
        header = sample.splitlines()[0] if sample.strip() else ""
        counts = {d: header.count(d) for d in ",;\t|"}
        best = max(counts, key=counts.get)
        return best if counts[best] else ","


def read_csv(path: str) -> Table:
    """Read a CSV file as text cells; raises DataError (one line) for a file that cannot be used.

    Example:
        >>> import os, tempfile
        >>> from chainrule.cli import tabular
        >>> path = os.path.join(tempfile.mkdtemp(), "t.csv")
        >>> with open(path, "w") as f:
        ...     _ = f.write("a;b\\n1; x\\n2;n/a\\n3;y;extra\\n")
        >>> table = tabular.read_csv(path)
        >>> table.frame.to_dict("list"), table.notes
        ({'a': ['1', '2'], 'b': ['x', nan]}, ['t.csv: skipped 1 row with more fields than the 2 columns of the header'])
    """
    pd = _pandas()
    name = os.path.basename(path)
    if not os.path.exists(path):
        raise DataError(f"no such file: {path}")
    if os.path.isdir(path):
        raise DataError(f"{path} is a folder, not a CSV file")
    with open(path, "rb") as f:
        head = f.read(65536)
    if not head.strip():
        raise DataError(f"{path} is empty")
    notes: list[str] = []
    try:
        encoding, sample = "utf-8-sig", head.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        if e.start < len(head) - 4:  # not merely a character cut at the end of the sample
            encoding, sample = "latin-1", head.decode("latin-1")
            notes.append(f"{name}: not UTF-8, read as Latin-1")
        else:
            encoding, sample = "utf-8-sig", head[: e.start].decode("utf-8-sig")
    if "\x00" in sample:
        raise DataError(f"{path} is not a text file (it holds NUL bytes): expected a CSV file")
    options = {
        "sep": _sniff(sample),
        "encoding": encoding,
        "dtype": str,
        "na_values": EXTRA_MISSING,
        "skipinitialspace": True,
        "skip_blank_lines": False,  # blank lines read as empty rows (dropped below), so rows keep their numbers
        # never take the first column as row labels: pandas does when the first data row has one
        # field more than the header, shifting every column by one (a silent misread); a trailing
        # empty field there (a delimiter at the end of the line) is dropped, as it holds nothing
        "index_col": False,
    }
    skipped: list[int] = []

    def skip(fields: list[str]) -> list[str]:
        # a placeholder row rather than None (which drops the row): the rows after it keep their
        # numbers (pandas pads it with NaN); it is left out below
        skipped.append(len(fields))
        return [_SKIPPED_ROW]

    try:
        with warnings.catch_warnings():
            # with index_col=False, a first data row with more (non-empty) fields than the header
            # would lose them with only a warning: refused below instead
            warnings.simplefilter("error", pd.errors.ParserWarning)
            try:
                frame = pd.read_csv(path, **options)
            except pd.errors.ParserError:  # rows with more fields than the header: skip and count them
                frame = pd.read_csv(path, engine="python", on_bad_lines=skip, **options)
    except pd.errors.ParserWarning:
        raise DataError(
            f"{path}: its first data row has more fields than the header has columns: "
            "add the missing column names to the header, or remove the extra fields"
        ) from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as e:
        raise DataError(f"{path} could not be read as CSV: {str(e).strip().splitlines()[0]}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if skipped:
        noun = "row" if len(skipped) == 1 else "rows"
        notes.append(
            f"{name}: skipped {len(skipped)} {noun} with more fields than the "
            f"{len(frame.columns)} columns of the header"
        )
    if skipped and len(frame.columns):  # (a header without names has no column to hold the placeholder)
        frame = frame[[cell != _SKIPPED_ROW for cell in frame.iloc[:, 0]]]  # the other rows keep their numbers
    frame = frame.apply(lambda column: column.str.strip()).replace("", np.nan)
    frame = frame.dropna(how="all")
    rows = frame.index.to_numpy() + 1  # the data row numbers of the file: skipped and blank rows counted
    frame = frame.reset_index(drop=True)
    if len(frame) == 0:
        raise DataError(f"{path} has a header but no data rows")
    return Table(frame, path, notes, rows)


def require_columns(table: Table, columns: Sequence[str], what: str) -> None:
    """Raise DataError naming every column of ``columns`` that ``table`` lacks (with the closest
    names it has), e.g. "new.csv lacks the column 'city' the model was trained on"."""
    missing = [c for c in columns if c not in table.frame.columns]
    if not missing:
        return
    hints = []
    for column in missing:
        near = closest(column, [str(c) for c in table.frame.columns], n=1)
        if near:
            hints.append(repr(near[0]) if len(missing) == 1 else f"{near[0]!r} for {column!r}")
    hint = f"; did you mean {', '.join(hints)}?" if hints else ""
    noun = "column" if len(missing) == 1 else "columns"
    raise DataError(
        f"{table.name} lacks the {noun} {quoted(missing)} {what}{hint} (it has: {quoted(list(table.frame.columns))})"
    )


# ------------------------------------------------------------------------------------- targets
def _numbers(values: Any) -> np.ndarray:
    """Text cells as float64, NaN where a cell is missing or not a number."""
    pd = _pandas()
    return pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(dtype=np.float64)


def _is_nan_text(values: Any) -> np.ndarray:
    """Whether each cell spells NaN ('nan', 'NAN', '-nan', ...; pandas reads the commonest ones,
    like an empty cell, as missing already)."""
    return np.array([isinstance(v, str) and v.strip().lstrip("+-").lower() == "nan" for v in values], dtype=bool)


def unusable_numbers(values: Any, limit: float = MAX_ABS) -> np.ndarray:
    """Whether each cell is a number that cannot be used: infinite ('inf', or too large for a
    float, like '1e400'), NaN spelled out, or beyond +-``limit``. Missing cells and text are not."""
    numbers = _numbers(values)
    with np.errstate(invalid="ignore"):
        return np.isinf(numbers) | (np.abs(np.nan_to_num(numbers)) > limit) | _is_nan_text(values)


def looks_numeric(values: Any) -> bool:
    """Whether a column of text cells is numeric, as ``fit_preprocessing`` decides it: at least
    NUMERIC_SHARE of its present values are numbers (inf and huge ones included)."""
    pd = _pandas()
    present = [v for v in values if not pd.isna(v)]
    if not present:
        return False
    numbers = _numbers(present)
    return int((~np.isnan(numbers)).sum()) >= NUMERIC_SHARE * len(present)


def _cells_named(found: Sequence[tuple[int, str, Any]], limit: int = 3, columns: bool = True) -> str:
    """(row, column, value) triples in words: "row 3 column 'area' ('inf'), ... (7 in all)"."""
    shown = ", ".join(f"row {r}{f' column {c!r}' if columns else ''} ({v!r})" for r, c, v in found[:limit])
    return shown + (f", ... ({len(found)} in all)" if len(found) > limit else "")


def check_numbers(table: Table, columns: Sequence[str], target: str | None = None) -> None:
    """Raise DataError naming the first rows and columns of the feature ``columns`` and the
    ``target`` column whose cells are numbers that cannot be used (``unusable_numbers``, beyond
    MAX_ABS or MAX_ABS_TARGET); the same at train, evaluate and predict time."""
    rows = table.row_numbers()
    found = []
    limits = {column: MAX_ABS for column in columns}
    if target is not None:
        limits[target] = MAX_ABS_TARGET
    for column, limit in limits.items():
        cells = table.frame[column].to_numpy(dtype=object)
        found += [(int(rows[i]), column, cells[i]) for i in np.flatnonzero(unusable_numbers(cells, limit))]
    if found:
        found.sort(key=lambda f: f[0])
        bound = f"{MAX_ABS:g} in a feature, {MAX_ABS_TARGET:g} in the target" if target else f"{MAX_ABS:g}"
        raise DataError(
            f"{table.name} holds numbers that cannot be used (infinite, NaN, or beyond +-{bound}): "
            f"{_cells_named(found)}; fix or remove these rows (an empty cell is a missing value: imputed in a "
            "feature column, its row left out in the target column)"
        )


def check_target(table: Table, column: str, task: str | None) -> None:
    """Raise DataError for a target column that is mostly numbers with some text in it, unless
    ``task`` is classification (then every value is a class); naming the first such rows."""
    if task is not None:  # regression: encode_target names the rows; classification: all are classes
        return
    cells = table.frame[column].to_numpy(dtype=object)
    numbers = _numbers(cells)
    text = np.isnan(numbers) & ~_is_nan_text(cells)
    if not text.any() or not looks_numeric(cells):
        return
    rows = table.row_numbers()
    found = [(int(rows[i]), column, cells[i]) for i in np.flatnonzero(text)]
    raise DataError(
        f"the target column {column!r} of {table.name} holds numbers, but text in "
        f"{_cells_named(found, columns=False)}: "
        "fix or remove these rows, or pass --task classification to take every value as a class"
    )


def check_classes(classes: Sequence[Any], n_rows: int, column: str, source: str) -> None:
    """Raise DataError when the ``classes`` of a target column of ``n_rows`` rows are not a set
    of classes: more than MAX_CLASSES of them, or (from MIN_ROWS_FOR_IDENTIFIER rows) one per row."""
    k = len(classes)
    if k <= MAX_CLASSES and (k < n_rows or n_rows < MIN_ROWS_FOR_IDENTIFIER):
        return
    counted = f"{k} distinct values in {n_rows} rows" + (" (every value differs)" if k == n_rows else "")
    if all(isinstance(c, (int, float)) for c in classes):
        hint = "if it is a quantity, pass --task regression; otherwise choose another --target"
    else:
        hint = "is it an identifier or free text? choose another --target"
    raise DataError(
        f"the target column {column!r} of {source} holds {counted}: too many to learn as classes "
        f"(at most {MAX_CLASSES}, each seen more than once); {hint}"
    )


def infer_task(target: Any) -> tuple[str, str]:
    """('classification' or 'regression', why) for a target column of text cells (no missing)."""
    numbers = _numbers(target)
    if np.isnan(numbers).any():
        return "classification", "holds text"
    distinct = np.unique(numbers)
    if np.all(distinct == np.round(distinct)) and len(distinct) <= MAX_CLASSES_INFERRED:
        return "classification", f"holds {len(distinct)} distinct whole numbers"
    return "regression", "holds numbers"


def _label(value: float) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


def _label_keys(values: Any, numeric: bool) -> list:
    """Labels as the JSON values they are stored as: numbers (ints when whole) or strings."""
    if numeric:
        return [_label(v) for v in _numbers(values)]
    return [str(v) for v in values]


def encode_target(
    target: Any,
    task: str,
    column: str,
    classes: Sequence[Any] | None = None,
    source: str = "the data",
    rows: Sequence[int] | None = None,
) -> tuple[np.ndarray, list | None]:
    """Targets for training or scoring: (class indices int64, class names) for classification,
    (values float32, None) for regression. Given ``classes`` (those the model knows), labels are
    looked up in them and an unknown label is a DataError; ``rows`` (the data row numbers) lets
    that message name the rows.

    Example:
        >>> from chainrule.cli.tabular import encode_target
        >>> encode_target(["b", "a", "b"], "classification", "y")
        (array([1, 0, 1]), ['a', 'b'])
        >>> encode_target(["1", "0", "1.0"], "classification", "y")
        (array([1, 0, 1]), [0, 1])
    """
    values = list(target)
    if task == "regression":
        numbers = _numbers(values)
        bad = [i for i, x in enumerate(numbers) if math.isnan(x)]
        if bad:
            held = quoted(list(dict.fromkeys(values[i] for i in bad)), 3)
            if rows is not None:
                held = "text in " + _cells_named([(int(rows[i]), column, values[i]) for i in bad], columns=False)
            raise DataError(
                f"the target column {column!r} of {source} must hold numbers for regression, "
                f"but holds {held}; use --task classification to predict it as classes"
            )
        return numbers.astype(np.float32), None
    if classes is None:
        numeric = not np.isnan(_numbers(values)).any()
        keys = _label_keys(values, numeric)
        classes = sorted(set(keys))
    else:
        numeric = all(isinstance(c, (int, float)) for c in classes)
        keys = _label_keys(values, numeric and not np.isnan(_numbers(values)).any())
    index = {c: i for i, c in enumerate(classes)}
    unknown = [k for k in dict.fromkeys(keys) if k not in index]
    if unknown:
        raise DataError(
            f"the target column {column!r} of {source} holds {quoted(unknown, 3)}, not among the "
            f"classes the model was trained on ({quoted(classes)})"
        )
    return np.array([index[k] for k in keys], dtype=np.int64), list(classes)


def decode_labels(indices: np.ndarray, classes: Sequence[Any]) -> list:
    """Class indices back to the original labels."""
    return [classes[int(i)] for i in indices]


# ------------------------------------------------------------------------------- preprocessing
@dataclasses.dataclass
class Preprocessing:
    """A fitted preprocessing: ``state`` (JSON, what ``transform`` reads), the fitted
    scikit-learn ``transformer`` (for checking), and ``notes`` on what was decided."""

    state: dict
    transformer: Any
    notes: list[str]

    @property
    def feature_names(self) -> list[str]:
        """The names of the columns ``transform`` gives (see ``feature_names``)."""
        return feature_names(self.state)


def feature_names(state: dict) -> list[str]:
    """The names of the columns ``transform`` gives: numeric columns, then ``column=category``."""
    names = list(state["numeric"])
    for column, categories in zip(state["categorical"], state["categories"]):
        names += [f"{column}={c}" for c in categories]
    return names


def _categories(values: Any) -> np.ndarray:
    """Text cells as an object array of str, NaN where missing (the form OneHotEncoder is fit on)."""
    pd = _pandas()
    series = pd.Series(values, dtype=object)
    return np.array([np.nan if pd.isna(v) else str(v) for v in series], dtype=object)


def _kinds(frame: Any, columns: Sequence[str]) -> tuple[list[str], list[str], dict[str, str], list[str]]:
    """Split ``columns`` into numeric and categorical ones; those to drop, with the reason."""
    numeric, categorical, dropped, notes = [], [], {}, []
    for column in columns:
        cells = frame[column]
        present = cells.dropna()
        if len(present) == 0:
            dropped[column] = "it has no values"
            continue
        numbers = _numbers(present)
        bad = int(np.isnan(numbers).sum())
        if bad == 0 or bad <= (1 - NUMERIC_SHARE) * len(present):
            numeric.append(column)
            whole = numbers[~np.isnan(numbers)]
            if (
                len(whole) >= MIN_ROWS_FOR_IDENTIFIER
                and np.all(whole == np.round(whole))
                and len(np.unique(whole)) == len(whole)
            ):
                notes.append(
                    f"column {column!r} holds distinct whole numbers: if it is an identifier, "
                    f"leave it out with --drop {column}"
                )
            if bad:
                examples = quoted(list(dict.fromkeys(present[np.isnan(numbers)])), 3)
                notes.append(f"column {column!r}: {bad} value(s) that are not numbers ({examples}) taken as missing")
        elif present.nunique() == len(present) and len(present) >= MIN_ROWS_FOR_IDENTIFIER:
            dropped[column] = "every value is different (an identifier?)"
        else:
            categorical.append(column)
    return numeric, categorical, dropped, notes


def typed_frame(frame: Any, numeric: Sequence[str], categorical: Sequence[str]) -> Any:
    """The columns as the fitted scikit-learn transformer takes them: floats and str objects (NaN
    where missing)."""
    pd = _pandas()
    data = {c: _numbers(frame[c]) for c in numeric}
    data.update({c: _categories(frame[c]) for c in categorical})
    return pd.DataFrame(data, index=frame.index, columns=[*numeric, *categorical])


def fit_preprocessing(frame: Any, columns: Sequence[str]) -> Preprocessing:
    """Fit the preprocessing of ``columns`` of ``frame`` (text cells, from ``read_csv``) with
    scikit-learn, and keep what it learned as JSON.

    ``state`` holds: ``format``; ``columns`` (the feature columns asked for); ``numeric`` with,
    per column, ``fill_numeric`` (the median, imputed for a missing value), ``mean`` and
    ``scale`` (standardisation after imputing); ``categorical`` with ``fill_categorical`` (the
    most frequent value) and ``categories`` (one one-hot column each); ``dropped`` (column ->
    reason); ``impute`` (the strategies: median, most_frequent).
    """
    try:
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler
    except ImportError:
        raise DataError('preparing a CSV file for training needs scikit-learn: pip install "chainrule[csv]"') from None
    numeric, categorical, dropped, notes = _kinds(frame, columns)
    if not numeric and not categorical:
        raise DataError("no usable feature column: " + "; ".join(f"{c!r}: {r}" for c, r in dropped.items()))
    steps = []
    if numeric:
        steps.append(
            (
                "numeric",
                Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]),
                list(numeric),
            )
        )
    if categorical:
        steps.append(
            (
                "categorical",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="most_frequent")),
                        ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
                    ]
                ),
                list(categorical),
            )
        )
    transformer = ColumnTransformer(steps, remainder="drop", sparse_threshold=0.0)
    transformer.fit(typed_frame(frame, numeric, categorical))
    state: dict[str, Any] = {
        "format": FORMAT,
        "columns": list(columns),
        "impute": {"numeric": "median", "categorical": "most_frequent"},
        "numeric": list(numeric),
        "fill_numeric": [],
        "mean": [],
        "scale": [],
        "categorical": list(categorical),
        "fill_categorical": [],
        "categories": [],
        "dropped": dropped,
    }
    if numeric:
        pipeline = transformer.named_transformers_["numeric"]
        state["fill_numeric"] = pipeline.named_steps["impute"].statistics_.astype(float).tolist()
        state["mean"] = pipeline.named_steps["scale"].mean_.astype(float).tolist()
        state["scale"] = pipeline.named_steps["scale"].scale_.astype(float).tolist()
    if categorical:
        pipeline = transformer.named_transformers_["categorical"]
        state["fill_categorical"] = [str(v) for v in pipeline.named_steps["impute"].statistics_]
        state["categories"] = [[str(c) for c in cats] for cats in pipeline.named_steps["onehot"].categories_]
    for column, reason in dropped.items():
        notes.append(f"column {column!r} left out: {reason}")
    return Preprocessing(state, transformer, notes)


def fit_standardisation(X: np.ndarray, names: Sequence[str], per_feature: bool = True) -> dict:
    """The preprocessing state of an all-numeric array (an embedded dataset), fitted with NumPy:
    medians to impute, means and standard deviations (1 for a constant column) to standardise
    with. ``per_feature=False`` uses one mean and one deviation for every value (images)."""
    X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    if per_feature:
        mean, std = X.mean(axis=0), X.std(axis=0)
        std[std == 0] = 1.0
    else:
        mean = np.full(X.shape[1], X.mean())
        std = np.full(X.shape[1], X.std() or 1.0)
    return {
        "format": FORMAT,
        "columns": list(names),
        "impute": {"numeric": "median", "categorical": "most_frequent"},
        "numeric": list(names),
        "fill_numeric": np.median(X, axis=0).tolist(),
        "mean": mean.tolist(),
        "scale": std.tolist(),
        "categorical": [],
        "fill_categorical": [],
        "categories": [],
        "dropped": {},
    }


def standardise(values: np.ndarray, state: dict) -> np.ndarray:
    """Numeric values (n, len(state['numeric'])) imputed and standardised as ``state`` says."""
    values = np.asarray(values, dtype=np.float64)
    values = np.where(np.isnan(values), np.asarray(state["fill_numeric"], dtype=np.float64), values)
    return (values - np.asarray(state["mean"], dtype=np.float64)) / np.asarray(state["scale"], dtype=np.float64)


def transform(frame: Any, state: dict) -> np.ndarray:
    """Apply a fitted preprocessing (its JSON ``state``) to ``frame``, with NumPy and pandas only.

    Returns float64 of shape (rows, features); the same as the fitted scikit-learn transformer,
    except that a text cell in a numeric column is taken as missing (imputed) rather than
    refused. A category unseen in training gives zeros in that column's one-hot block.
    """
    parts = [np.empty((len(frame), 0))]
    if state["numeric"]:
        parts.append(standardise(np.column_stack([_numbers(frame[c]) for c in state["numeric"]]), state))
    for column, fill, categories in zip(state["categorical"], state["fill_categorical"], state["categories"]):
        values = _categories(frame[column])
        values[[isinstance(v, float) for v in values]] = fill
        parts.append((values[:, None] == np.array(categories, dtype=object)[None, :]).astype(np.float64))
    return np.hstack(parts)


def describe(state: dict, frame: Any = None) -> dict:
    """What the preprocessing does, for reports: per column its kind and imputation, and (given
    the frame it is applied to) how many values were missing, not numbers or unseen categories."""
    columns: dict[str, dict] = {}
    for i, column in enumerate(state["numeric"]):
        entry = {
            "kind": "numeric",
            "impute": state["impute"]["numeric"],
            "fill": state["fill_numeric"][i],
            "mean": state["mean"][i],
            "scale": state["scale"][i],
        }
        if frame is not None:
            numbers = _numbers(frame[column])
            entry["missing"] = int(frame[column].isna().sum())
            entry["not_numbers"] = int(np.isnan(numbers).sum()) - entry["missing"]
        columns[column] = entry
    for column, fill, categories in zip(state["categorical"], state["fill_categorical"], state["categories"]):
        entry = {
            "kind": "categorical",
            "impute": state["impute"]["categorical"],
            "fill": fill,
            "categories": len(categories),
        }
        if frame is not None:
            values = _categories(frame[column])
            known = set(categories)
            entry["missing"] = int(sum(isinstance(v, float) for v in values))
            entry["unseen"] = int(sum(not isinstance(v, float) and v not in known for v in values))
        columns[column] = entry
    for column, reason in state["dropped"].items():
        columns[column] = {"kind": "dropped", "reason": reason}
    return columns


def summary_notes(state: dict, frame: Any, stage: str) -> list[str]:
    """One line per column with missing, non-number or unseen values in ``frame`` ("column 'age':
    3 missing -> median 41")."""
    notes = []
    for column, entry in describe(state, frame).items():
        parts = []
        if entry.get("missing"):
            parts.append(f"{entry['missing']} missing")
        if entry.get("not_numbers") and stage != "train":  # at training, _kinds already said so
            parts.append(f"{entry['not_numbers']} not numbers")
        if parts:
            fill = entry["fill"]
            shown = f"{fill:.6g}" if isinstance(fill, float) else repr(fill)
            notes.append(f"column {column!r}: {' and '.join(parts)} -> {entry['impute'].replace('_', ' ')} {shown}")
        if entry.get("unseen"):
            notes.append(
                f"column {column!r}: {entry['unseen']} value(s) of categories not seen in training "
                "(their one-hot columns are all 0)"
            )
    return notes


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""A text cell starting with one of these is taken as a formula by spreadsheets."""


def neutralise(cell: Any) -> Any:
    """A text cell a spreadsheet would run as a formula (it starts with ``=``, ``+``, ``-``, ``@``,
    a tab or a carriage return) prefixed with a single quote, as OWASP advises against CSV
    injection; numbers, and text that is a finite number like '-1.5', are kept as they are.

    Example:
        >>> from chainrule.cli.tabular import neutralise
        >>> neutralise("=HYPERLINK(1)"), neutralise("-1.5"), neutralise(-2), neutralise("@x")
        ("'=HYPERLINK(1)", '-1.5', -2, "'@x")
    """
    if not isinstance(cell, str) or not cell.startswith(FORMULA_STARTS):
        return cell
    try:
        if math.isfinite(float(cell)):
            return cell
    except ValueError:
        pass
    return "'" + cell


def write_csv_text(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """CSV text (a header and rows) with the csv module's quoting; floats written in full, text
    cells that a spreadsheet would run as formulas neutralised (``neutralise``)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([neutralise(h) for h in header])
    for row in rows:
        writer.writerow([repr(v) if isinstance(v, float) else neutralise(v) for v in row])
    return buffer.getvalue()
