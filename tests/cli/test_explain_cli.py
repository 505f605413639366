"""`chainrule explain`: attributions per row and data column, as CSV and pictures, and clear errors."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli.explaining import parse_rows
from chainrule.cli.models import MODEL_FILE
from tests.cli.test_cli import assert_clean_error, run, run_here

CSV = "a,b,color,y\n" + "".join(
    f"{a},{b},{c},{int(a + 2 * (c == 'red') > 4)}\n"
    for a, b, c in zip(range(40), [1, 2, 3, 4] * 10, ["red", "blue", "green", "blue"] * 10)
)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A CSV model (a numeric and a one-hot column) and a CNN on digits, trained once."""
    cwd = tmp_path_factory.mktemp("explain")
    (cwd / "t.csv").write_text(CSV)
    for args in (
        ["t.csv", "--target", "y", "--out", "csv_model", "--epochs", "150"],
        ["digits", "--model", "cnn", "--out", "cnn_model", "--epochs", "2"],
    ):
        result = run_here("train", *args, "--no-plot", "-q", cwd=cwd)
        assert result.returncode == 0, result.stderr
    return cwd


def read_csv(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_ig_sums_one_hot_columns_back_to_their_column(models):
    result = run_here("explain", "--model", "csv_model", "t.csv", "--rows", "0:4", cwd=models)
    assert result.returncode == 0, result.stderr
    rows = read_csv(result.stdout)
    assert list(rows[0]) == ["row", "explained", "a", "b", "color"]
    assert [r["row"] for r in rows] == ["0", "1", "2", "3"]
    # the same numbers by hand: chainrule.explain on the prepared inputs, one-hot columns summed
    model = cr.load(models / "csv_model" / MODEL_FILE)
    meta = cr.io.load_metadata(models / "csv_model" / MODEL_FILE)
    from chainrule.cli.sources import model_inputs, open_data

    X = model_inputs(meta, open_data(str(models / "t.csv"))).X[:4]
    predicted = cr.train.predict(model, X).argmax(axis=1)
    att = cr.explain.integrated_gradients(model, X, predicted)
    expected = np.column_stack([att[:, 0], att[:, 1], att[:, 2:].sum(axis=1)])
    got = np.array([[float(r[c]) for c in ("a", "b", "color")] for r in rows])
    np.testing.assert_allclose(got, expected, atol=2e-6)
    assert [r["explained"] for r in rows] == [str(meta["classes"][k]) for k in predicted]


def test_a_named_target_class_is_explained_for_every_row(models):
    result = run_here(
        "explain", "--model", "csv_model", "t.csv", "--target", "1", "--rows", "5,7", "--json", cwd=models
    )
    report = json.loads(result.stdout)
    assert report["explained"] == "1" and [r["explained"] for r in report["table"]] == ["1", "1"]
    assert [r["row"] for r in report["table"]] == [5, 7]


@pytest.mark.parametrize("method", ["saliency", "input_x_gradient", "smoothgrad", "occlusion", "lime"])
def test_every_method_writes_one_value_per_row_and_column(models, method):
    result = run_here("explain", "--model", "csv_model", "t.csv", "--method", method, "--rows", ":3", cwd=models)
    assert result.returncode == 0, result.stderr
    rows = read_csv(result.stdout)
    assert len(rows) == 3 and all(np.isfinite(float(r[c])) for r in rows for c in ("a", "b", "color"))


def test_permutation_gives_one_importance_per_column(models):
    result = run_here("explain", "--model", "csv_model", "t.csv", "--method", "permutation", "--rows", ":", cwd=models)
    assert result.returncode == 0, result.stderr
    rows = read_csv(result.stdout)
    assert [r["column"] for r in rows] == ["a", "b", "color"]
    importance = {r["column"]: float(r["importance_mean"]) for r in rows}
    assert importance["a"] > importance["b"]  # y depends on a (and color), not on b


def test_out_folder_gets_the_csv_and_pictures_together(models):
    result = run(
        "explain",
        "--model",
        "cnn_model",
        "digits",
        "--rows",
        "0:3",
        "--method",
        "occlusion",
        "--out",
        "why",
        cwd=models,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (models / "why").iterdir()) == ["attributions.csv", "attributions.png"]
    rows = read_csv((models / "why" / "attributions.csv").read_text())
    assert len(rows) == 3 and len(rows[0]) == 2 + 64 and "pixel_0_0" in rows[0]
    again = run_here("explain", "--model", "cnn_model", "digits", "--out", "why", cwd=models)
    assert_clean_error(again, "--force", command="explain")
    lime = run_here(
        "explain", "--model", "csv_model", "t.csv", "--method", "lime", "--out", "why_csv", "--rows", ":2", cwd=models
    )
    assert lime.returncode == 0, lime.stderr
    assert sorted(p.name for p in (models / "why_csv").iterdir()) == [
        "attributions.csv",
        "attributions.png",
        "lime.png",
    ]


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--rows", "5:2"], "selects no row"),
        (["--rows", "x"], "give A:B"),
        (["--rows", "99"], "row 99 is out of range"),
        (["--target", "daisy"], "--target daisy: not a class of this model"),
        (["--method", "permutation", "--repeats", "0"], "--repeats 0"),
    ],
)
def test_bad_arguments_are_one_clear_line(models, args, fragment):
    result = run_here("explain", "--model", "csv_model", "t.csv", *args, cwd=models)
    assert_clean_error(result, fragment, command="explain")


def test_an_out_folder_with_other_files_is_never_replaced(models):
    folder = models / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep")
    result = run_here("explain", "--model", "csv_model", "t.csv", "--out", "mine", "--force", cwd=models)
    assert_clean_error(result, "does not write", command="explain")
    assert (folder / "notes.txt").read_text() == "keep"


def test_parse_rows():
    assert parse_rows("2:5", 10).tolist() == [2, 3, 4]
    assert parse_rows(":", 3).tolist() == [0, 1, 2]
    assert parse_rows("1,4", 5).tolist() == [1, 4]


# a CSV with two columns left out in training (one empty, one an identifier) between used ones
LEFT_OUT_CSV = "a,empty,name,b,color,y\n" + "".join(
    f"{a},,id{i},{b},{c},{int(a + 2 * (c == 'red') > 4)}\n"
    for i, (a, b, c) in enumerate(zip(range(40), [1, 2, 3, 4] * 10, ["red", "blue", "green", "blue"] * 10))
)


@pytest.fixture(scope="module")
def left_out(tmp_path_factory):
    """A model trained on LEFT_OUT_CSV and a one-column model."""
    cwd = tmp_path_factory.mktemp("explain_left_out")
    (cwd / "d.csv").write_text(LEFT_OUT_CSV)
    (cwd / "one.csv").write_text("a,y\n" + "".join(f"{a},{int(a > 20)}\n" for a in range(40)))
    for args in (["d.csv", "--out", "model"], ["one.csv", "--out", "one_model"]):
        result = run_here("train", *args, "--target", "y", "--epochs", "60", "--no-plot", "-q", cwd=cwd)
        assert result.returncode == 0, result.stderr
    return cwd


def test_permutation_names_each_importance_by_its_column_when_columns_were_left_out(left_out):
    """The importances of a, b and color were printed against a, empty and name."""
    result = run_here("explain", "--model", "model", "d.csv", "--method", "permutation", "--rows", ":", cwd=left_out)
    assert result.returncode == 0, result.stderr
    rows = {r["column"]: float(r["importance_mean"]) for r in read_csv(result.stdout)}
    assert list(rows) == ["a", "empty", "name", "b", "color"]
    assert rows["empty"] == rows["name"] == 0.0  # never seen by the model
    # the same numbers by hand: permutation_importance on the prepared inputs, one group per used column
    model = cr.load(left_out / "model" / MODEL_FILE)
    meta = cr.io.load_metadata(left_out / "model" / MODEL_FILE)
    from chainrule.cli.explaining import _source_columns
    from chainrule.cli.sources import model_inputs, open_data

    inputs = model_inputs(meta, open_data(str(left_out / "d.csv")), need_target=True)
    _, source = _source_columns(meta)
    expected = cr.explain.permutation_importance(model, inputs.X, inputs.y, feature_mask=source, seed=0)
    for column, value in zip(["a", "b", "color"], expected.importances_mean):
        assert rows[column] == pytest.approx(value, abs=1e-6)


def test_lime_picture_names_each_weight_by_its_column_when_columns_were_left_out(left_out):
    """plot_lime got the 5 column names for 3 weights: a traceback once the CSV was written."""
    result = run_here(
        "explain", "--model", "model", "d.csv", "--method", "lime", "--rows", ":2", "--out", "why", cwd=left_out
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (left_out / "why").iterdir()) == ["attributions.csv", "attributions.png", "lime.png"]


@pytest.mark.parametrize(
    "model, data, args, fragment",
    [
        ("model", "d.csv", ["--method", "permutation", "--rows", "3"], "select at least 2 rows"),
        ("one_model", "one.csv", ["--method", "lime"], "--method lime needs at least 2 columns"),
    ],
)
def test_what_a_method_cannot_do_is_one_clear_line(left_out, model, data, args, fragment):
    result = run_here("explain", "--model", model, data, *args, cwd=left_out)
    assert_clean_error(result, fragment, command="explain")
