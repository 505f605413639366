"""chainrule.cli.tabular: reading CSV files, the preprocessing fitted with scikit-learn and applied
again from its JSON, and target encoding."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd  # noqa: E402  (pandas and scikit-learn are test dependencies)
import pytest
import sklearn  # noqa: E402,F401
from hypothesis import given, settings, strategies as st

from chainrule.cli import tabular
from chainrule.cli.tabular import DataError

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str, name: str = "data.csv", encoding: str = "utf-8") -> str:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return str(path)


def messy_frame(n: int = 60, seed: int = 0):
    """Text cells as read_csv gives them: numbers with gaps, categories with gaps, a constant."""
    rng = np.random.default_rng(seed)
    age = [f"{v:.1f}" for v in rng.normal(40, 12, n)]
    income = [str(int(v)) for v in rng.integers(1000, 9000, n)]
    city = list(rng.choice(["Lyon", "Paris", "Nice"], n))
    plan = list(rng.choice(["free", "pro"], n))
    for i in range(0, n, 7):
        age[i] = np.nan
    for i in range(3, n, 11):
        city[i] = np.nan
    return pd.DataFrame({"age": age, "income": income, "city": city, "plan": plan, "const": ["1"] * n})


# --- reading ----------------------------------------------------------------------------------


def test_read_csv_reads_every_cell_as_text_and_missing_values_as_nan(tmp_path):
    path = write(tmp_path, "a,b,c\n1, x ,NA\n2,,?\n3,n/a,z\n")
    table = tabular.read_csv(path)
    assert list(table.frame.columns) == ["a", "b", "c"]
    assert table.frame["a"].tolist() == ["1", "2", "3"]
    assert table.frame["b"].tolist()[0] == "x"  # blanks stripped
    assert table.frame["b"].isna().tolist() == [False, True, True]
    assert table.frame["c"].isna().tolist() == [True, True, False]
    assert table.notes == [] and table.name == "data.csv"


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_read_csv_sniffs_the_delimiter(tmp_path, sep):
    path = write(tmp_path, f"x{sep}y{sep}label\n1{sep}2{sep}a\n3{sep}4{sep}b\n")
    assert list(tabular.read_csv(path).frame.columns) == ["x", "y", "label"]


def test_read_csv_drops_a_byte_order_mark_and_falls_back_on_latin1(tmp_path):
    table = tabular.read_csv(write(tmp_path, "\ufeffname,v\nx,1\n", "bom.csv"))
    assert list(table.frame.columns) == ["name", "v"]
    table = tabular.read_csv(write(tmp_path, "ville,v\nOrléans,1\n", "latin.csv", encoding="latin-1"))
    assert table.frame["ville"].tolist() == ["Orléans"]
    assert table.notes == ["latin.csv: not UTF-8, read as Latin-1"]


def test_read_csv_skips_rows_with_too_many_fields_and_says_so(tmp_path):
    path = write(tmp_path, "a,b\n1,2\n3,4,5\n6,7\n8,9,10,11\n12\n")
    table = tabular.read_csv(path)
    assert table.frame["a"].tolist() == ["1", "6", "12"]
    assert table.frame["b"].tolist()[:2] == ["2", "7"] and pd.isna(table.frame["b"].tolist()[2])
    assert table.notes == ["data.csv: skipped 2 rows with more fields than the 2 columns of the header"]


def test_rows_skipped_for_extra_fields_do_not_shift_the_row_numbers_of_later_rows(tmp_path):
    # data rows: 1 "1,2"; 2 skipped (3 fields); 3 "6,7"; 4 blank; 5 skipped (4 fields); 6 "inf,1"
    table = tabular.read_csv(write(tmp_path, "a,b\n1,2\n3,4,5\n6,7\n\n8,9,10,11\ninf,1\n"))
    assert table.frame["a"].tolist() == ["1", "6", "inf"]
    assert table.row_numbers().tolist() == [1, 3, 6]
    with pytest.raises(DataError, match=r"row 6 column 'a' \('inf'\)"):  # was "row 4": one per skipped row
        tabular.check_numbers(table, ["a", "b"])


def test_the_training_data_error_names_the_file_row_after_a_skipped_one(tmp_path):
    from chainrule.cli import sources

    text = "x,y\n" + "".join(f"{i},{i % 3}\n" for i in range(1, 6)) + "6,1,extra\n7,1e400\n"
    source = sources.open_data(write(tmp_path, text))
    with pytest.raises(DataError, match=r"row 7 column 'y' \('1e400'\)"):  # data row 7 of the file, not 6
        sources.training_data(source, "y", [], None)


def test_a_file_whose_header_is_blank_and_rows_too_long_is_refused_in_one_line(tmp_path):  # found by fuzzing
    with pytest.raises(DataError, match="has a header but no data rows"):
        tabular.read_csv(write(tmp_path, "\n,,,\n,,\n,,,,"))


@settings(max_examples=40)
@given(kinds=st.lists(st.sampled_from(["good", "long", "blank", "short"]), min_size=1, max_size=12))
def test_data_row_numbers_are_those_of_the_file_whatever_rows_are_skipped(kinds):
    lines, expected = [], []
    for number, kind in enumerate(kinds, start=1):
        lines.append({"good": f"{number},x", "long": f"{number},x,extra", "blank": "", "short": f"{number}"}[kind])
        if kind in ("good", "short"):
            expected.append(number)
    if not expected or kinds[0] == "long":  # no data rows; or a first row too long: refused, tested elsewhere
        return
    with tempfile.TemporaryDirectory() as folder:
        table = tabular.read_csv(write(Path(folder), "n,label\n" + "\n".join(lines) + "\n"))
    assert table.row_numbers().tolist() == expected
    assert table.frame["n"].astype(int).tolist() == expected  # each row numbered by its own first cell


def test_read_csv_leaves_out_empty_rows(tmp_path):
    table = tabular.read_csv(write(tmp_path, "a,b\n1,2\n,\n\n3,4\n"))
    assert table.frame["a"].tolist() == ["1", "3"]


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "is empty"),
        ("\n  \n", "is empty"),
        ("a,b,c\n", "has a header but no data rows"),
        ("PK\x03\x04\x00\x00binary", "is not a text file"),
    ],
)
def test_read_csv_refuses_files_it_cannot_use(tmp_path, content, message):
    with pytest.raises(DataError, match=message):
        tabular.read_csv(write(tmp_path, content))


def test_read_csv_names_a_missing_file_and_a_folder(tmp_path):
    with pytest.raises(DataError, match="no such file: .*nope.csv"):
        tabular.read_csv(str(tmp_path / "nope.csv"))
    with pytest.raises(DataError, match="is a folder, not a CSV file"):
        tabular.read_csv(str(tmp_path))


def test_require_columns_suggests_the_closest_names(tmp_path):
    table = tabular.read_csv(write(tmp_path, "price,City,rooms\n1,a,2\n"))
    tabular.require_columns(table, ["price"], "as target")
    with pytest.raises(DataError) as info:
        tabular.require_columns(table, ["prise"], "given as --target")
    assert str(info.value) == (
        "data.csv lacks the column 'prise' given as --target; did you mean 'price'? (it has: 'price', 'City', 'rooms')"
    )
    with pytest.raises(DataError, match="lacks the columns 'city', 'zzz' .*did you mean 'City' for 'city'\\?"):
        tabular.require_columns(table, ["city", "zzz"], "the model was trained on")


# --- targets ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values, task",
    [
        (["a", "b", "a"], "classification"),
        (["0", "1", "1", "0"], "classification"),
        (["1.5", "2.25", "3"], "regression"),
        ([str(i) for i in range(50)], "regression"),  # too many distinct whole numbers for classes
    ],
)
def test_infer_task(values, task):
    assert tabular.infer_task(pd.Series(values))[0] == task


def test_encode_target_keeps_the_original_labels():
    y, classes = tabular.encode_target(pd.Series(["yes", "no", "yes", "maybe"]), "classification", "t")
    assert classes == ["maybe", "no", "yes"] and y.tolist() == [2, 1, 2, 0] and y.dtype == np.int64
    assert tabular.decode_labels(y, classes) == ["yes", "no", "yes", "maybe"]
    # numeric labels come back as numbers (whole ones as ints), sorted numerically, whatever their spelling
    y, classes = tabular.encode_target(pd.Series(["10", "2", "2.0", "10"]), "classification", "t")
    assert classes == [2, 10] and y.tolist() == [1, 0, 0, 1]
    assert json.loads(json.dumps(classes)) == classes
    # later data is looked up in the classes the model knows
    y, _ = tabular.encode_target(pd.Series(["10.0", "2"]), "classification", "t", classes=[2, 10])
    assert y.tolist() == [1, 0]


def test_encode_target_refuses_unknown_classes_and_text_for_regression():
    with pytest.raises(DataError, match="holds 'perhaps', not among the classes the model was trained on"):
        tabular.encode_target(pd.Series(["yes", "perhaps"]), "classification", "t", classes=["no", "yes"])
    with pytest.raises(DataError, match="must hold numbers for regression, but holds 'cheap'.*--task classification"):
        tabular.encode_target(pd.Series(["1.5", "cheap", "3"]), "regression", "price")
    y, classes = tabular.encode_target(pd.Series(["1.5", "2", "-3e2"]), "regression", "price")
    assert classes is None and y.dtype == np.float32 and y.tolist() == [1.5, 2.0, -300.0]


# --- preprocessing: fitted by scikit-learn, applied from JSON ---------------------------------


def test_column_kinds_and_what_is_left_out():
    frame = messy_frame()
    frame["name"] = [f"user{i}" for i in range(len(frame))]  # all distinct: an identifier
    frame["empty"] = np.nan
    frame["dirty"] = [str(i % 5) for i in range(len(frame))]
    frame.loc[4, "dirty"] = "unknown"  # one non-number in a numeric column
    frame["row_id"] = [str(i) for i in range(len(frame))]
    prep = tabular.fit_preprocessing(frame, list(frame.columns))
    state = prep.state
    assert state["numeric"] == ["age", "income", "const", "dirty", "row_id"]
    assert state["categorical"] == ["city", "plan"]
    assert state["dropped"] == {"name": "every value is different (an identifier?)", "empty": "it has no values"}
    assert state["categories"] == [["Lyon", "Nice", "Paris"], ["free", "pro"]]
    assert state["impute"] == {"numeric": "median", "categorical": "most_frequent"}
    assert "column 'dirty': 1 value(s) that are not numbers ('unknown') taken as missing" in prep.notes
    assert any(
        "column 'row_id' holds distinct whole numbers" in note and "--drop row_id" in note for note in prep.notes
    )
    assert "column 'name' left out: every value is different (an identifier?)" in prep.notes
    assert prep.feature_names == [
        "age",
        "income",
        "const",
        "dirty",
        "row_id",
        "city=Lyon",
        "city=Nice",
        "city=Paris",
        "plan=free",
        "plan=pro",
    ]


def test_transform_equals_scikit_learns_on_the_training_data():
    frame = messy_frame()
    prep = tabular.fit_preprocessing(frame, ["age", "income", "city", "plan", "const"])
    state = json.loads(json.dumps(prep.state))  # what is saved with the model
    ours = tabular.transform(frame, state)
    theirs = prep.transformer.transform(tabular.typed_frame(frame, state["numeric"], state["categorical"]))
    assert ours.shape == theirs.shape == (60, 3 + 3 + 2)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)
    # standardised: numeric columns have mean 0 (the imputed values included) and the constant stays 0
    np.testing.assert_allclose(ours[:, :3].mean(axis=0), 0, atol=1e-12)
    assert np.all(ours[:, 2] == 0)
    assert np.all(ours[:, 3:6].sum(axis=1) == 1)  # one city each, missing ones imputed


def test_transform_equals_scikit_learns_on_new_data_with_unseen_categories():
    prep = tabular.fit_preprocessing(messy_frame(), ["age", "income", "city", "plan"])
    new = pd.DataFrame(
        {
            "plan": ["pro", "enterprise", np.nan],
            "city": ["Marseille", np.nan, "Nice"],
            "income": ["5000", np.nan, "1200"],
            "age": [np.nan, "30", "51.5"],
            "extra": ["a", "b", "c"],
        }
    )
    state = prep.state
    ours = tabular.transform(new, state)
    theirs = prep.transformer.transform(tabular.typed_frame(new, state["numeric"], state["categorical"]))
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)
    assert ours[0, 2:5].tolist() == [0, 0, 0]  # Marseille: unseen, ignored
    assert ours[1, 5:].tolist() == [0, 0]  # enterprise: unseen, ignored
    fill = state["fill_categorical"][0]
    assert ours[1, 2 + state["categories"][0].index(fill)] == 1  # a missing city is the most frequent one


def test_transform_takes_text_in_a_numeric_column_as_missing():
    prep = tabular.fit_preprocessing(messy_frame(), ["age", "income"])
    out = tabular.transform(pd.DataFrame({"age": ["abc", np.nan], "income": ["2000", "2000"]}), prep.state)
    assert out[0].tolist() == out[1].tolist()
    assert out[0, 0] == pytest.approx((prep.state["fill_numeric"][0] - prep.state["mean"][0]) / prep.state["scale"][0])


def test_describe_and_summary_notes_count_missing_and_unseen_values():
    prep = tabular.fit_preprocessing(messy_frame(), ["age", "city"])
    new = pd.DataFrame({"age": [np.nan, "x", "3"], "city": ["Rome", np.nan, "Nice"]})
    info = tabular.describe(prep.state, new)
    assert info["age"]["missing"] == 1 and info["age"]["not_numbers"] == 1 and info["age"]["impute"] == "median"
    assert info["city"]["missing"] == 1 and info["city"]["unseen"] == 1 and info["city"]["categories"] == 3
    notes = tabular.summary_notes(prep.state, new, "predict")
    assert notes[0].startswith("column 'age': 1 missing and 1 not numbers -> median ")
    assert notes[1].startswith("column 'city': 1 missing -> most frequent ")
    assert notes[2] == (
        "column 'city': 1 value(s) of categories not seen in training (their one-hot columns are all 0)"
    )


def test_fit_preprocessing_with_no_usable_column():
    with pytest.raises(DataError, match="no usable feature column: 'e': it has no values"):
        tabular.fit_preprocessing(pd.DataFrame({"e": [np.nan, np.nan]}), ["e"])


def test_standardisation_of_arrays():
    X = np.array([[1.0, 5.0], [3.0, 5.0], [5.0, 5.0]])
    state = tabular.fit_standardisation(X, ["a", "b"])
    assert state["mean"] == [3.0, 5.0] and state["scale"][1] == 1.0 and state["fill_numeric"] == [3.0, 5.0]
    out = tabular.standardise(np.array([[np.nan, 5.0], [5.0, 6.0]]), state)
    np.testing.assert_allclose(out, [[0.0, 0.0], [2 / np.std([1, 3, 5]), 1.0]])
    one = tabular.fit_standardisation(X, ["a", "b"], per_feature=False)
    assert one["mean"] == [X.mean()] * 2 and one["scale"] == [X.std()] * 2


def test_write_csv_text_quotes_and_keeps_full_floats():
    text = tabular.write_csv_text(["id", "label", "p"], [["a,b", "x", 0.1 + 0.2], [2, None, 1.0]])
    assert text == 'id,label,p\n"a,b",x,0.30000000000000004\n2,,1.0\n'


def test_import_chainrule_and_its_cli_need_neither_pandas_nor_sklearn():
    code = (
        "import sys, chainrule, chainrule.cli, chainrule.cli.tabular; "
        "print(sorted(m for m in ('pandas', 'sklearn') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_unusable_numbers_and_classes():
    cells = ["1", "inf", "-Infinity", "1e400", "1e308", "NAN", "nan", np.nan, "abc", "-1.5", "2e29"]
    assert tabular.unusable_numbers(cells).tolist() == [False, True, True, True, True, True, True] + [False] * 4
    assert tabular.unusable_numbers(["2e29", "2e15"], limit=1e15).tolist() == [True, True]
    assert tabular.looks_numeric(["1", "2", "inf", np.nan]) and not tabular.looks_numeric(["1", "a"])
    tabular.check_classes(["a", "b"], 2, "y", "t.csv")  # few rows: distinct values may be classes
    with pytest.raises(tabular.DataError, match="every value differs"):
        tabular.check_classes([f"u{i}" for i in range(20)], 20, "y", "t.csv")
    with pytest.raises(tabular.DataError, match="--task regression"):
        tabular.check_classes(list(range(101)), 500, "y", "t.csv")


def test_write_csv_text_neutralises_formulas_but_keeps_numbers():
    assert tabular.neutralise("\rx") == "'\rx"
    cells = ["=1+2", "+x", "-cmd", "@SUM(A1)", "\tx", "-1.5", "+3", "-inf", "plain", -2, -0.5]
    text = tabular.write_csv_text(["=h", "n"], [[c, i] for i, c in enumerate(cells)])
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == ["'=h", "n"]
    assert [r[0] for r in rows[1:]] == ["'=1+2", "'+x", "'-cmd", "'@SUM(A1)", "'\tx", "-1.5", "+3"] + [
        "'-inf",
        "plain",
        "-2",
        "-0.5",
    ]
