"""``chainrule export``: a trained model as an ONNX file with its preprocessing, run by ONNX Runtime
on the raw rows of a CSV file against what ``chainrule predict`` gives for the same file; and
``chainrule summary`` of an .onnx file."""

from __future__ import annotations

import csv
import json
import os

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
import pytest

import chainrule as cr
from chainrule.cli import tabular
from chainrule.cli.models import MODEL_FILE
from chainrule.data import load_dataset
from tests.cli.test_cli import assert_clean_error, run, run_here

RTOL = 1e-5
CITIES = ["Lyon", "Paris", "Nice", "Lille"]


def write_training_csv(path: str, n: int = 160, seed: int = 0) -> None:
    """Numeric columns (area, rooms), categorical ones (city, garden), and three targets: kind
    (text classes), grade (whole numbers: integer classes) and price (regression); some cells
    missing in each feature column."""
    rng = np.random.default_rng(seed)
    area = rng.uniform(30, 120, n)
    rooms = rng.integers(1, 6, n)
    city = rng.choice(CITIES, n)
    garden = rng.choice(["yes", "no"], n)
    price = 3 * area + 20 * rooms + 80 * (city == "Paris") + 30 * (garden == "yes") + rng.normal(0, 10, n)
    kind = np.where(price > np.median(price), "dear", "cheap")
    grade = np.digitize(price, np.quantile(price, [1 / 3, 2 / 3]))
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["area", "rooms", "city", "garden", "kind", "grade", "price"])
        for i in range(n):
            writer.writerow(
                [
                    "" if i % 17 == 3 else f"{area[i]:.1f}",
                    "NA" if i % 19 == 4 else rooms[i],
                    "?" if i % 23 == 5 else city[i],
                    "" if i % 29 == 6 else garden[i],
                    kind[i],
                    grade[i],
                    f"{price[i]:.2f}",
                ]
            )


NEW_ROWS = """area,rooms,city,garden
50,2,Paris,yes
,3,Lyon,no
80,?,Marseille,yes
70,NA,,no
90.5,4,?,N/A
60,2,N/A,NA
abc,5,Lille,
110,1, Nice ,yes
"""
"""Rows to predict: empty cells, NA, N/A and ? in numeric and text columns, an unseen category
(Marseille), a number that is not one (abc) and blanks around a cell."""


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A folder with the CSV files and the models trained on them (each in a few tenths of a second)."""
    cwd = tmp_path_factory.mktemp("export")
    write_training_csv(str(cwd / "houses.csv"))
    (cwd / "new.csv").write_text(NEW_ROWS)
    trainings = {
        "kind_mlp": ["houses.csv", "--target", "kind", "--drop", "grade,price", "--epochs", "15"],
        "grade_svm": ["houses.csv", "--target", "grade", "--drop", "kind,price", "--model", "svm", "--epochs", "15"],
        "price_mlp": ["houses.csv", "--target", "price", "--drop", "kind,grade", "--epochs", "15"],
        "iris_logistic": ["iris", "--model", "logistic", "--epochs", "20"],
        "digits_cnn": ["digits", "--model", "cnn", "--epochs", "1", "--hidden", "8"],
    }
    for out, args in trainings.items():
        result = run_here("train", *args, "--out", out, "--no-plot", "-q", cwd=cwd)
        assert result.returncode == 0, result.stderr
    return cwd


def export(models, name: str, *more: str) -> str:
    """`chainrule export --model NAME`; the path of the file written (NAME/model.onnx by default)."""
    result = run_here("export", "--model", name, "--force", *more, cwd=models)
    assert result.returncode == 0, result.stderr
    return (
        str(models / name / "model.onnx") if "--output" not in more else str(models / more[more.index("--output") + 1])
    )


def session(path: str) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def raw_feeds(s: ort.InferenceSession, path: str) -> dict[str, np.ndarray]:
    """The cells of a CSV file as a user feeds them, read with the csv module: a numeric column's
    text parsed as a float (NaN when it is not a number), a text column's cell stripped."""
    with open(path, newline="") as f:
        table = list(csv.DictReader(f))
    feeds = {}
    for item in s.get_inputs():
        cells = [row[item.name].strip() for row in table]
        if item.type in ("tensor(float)", "tensor(double)"):
            dtype = np.float32 if item.type == "tensor(float)" else np.float64
            feeds[item.name] = np.array([[_number(c)] for c in cells], dtype=dtype)
        else:
            assert item.type == "tensor(string)"
            feeds[item.name] = np.array([[c] for c in cells], dtype=object)
    return feeds


def _number(cell: str) -> float:
    try:
        return float(cell)
    except ValueError:
        return float("nan")


def predictions(models, name: str, data: str) -> list[dict]:
    """`chainrule predict --model NAME DATA --json`'s rows."""
    result = run_here("predict", "--model", name, data, "--json", cwd=models)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["predictions"]


def run_rows(s: ort.InferenceSession, feeds: dict[str, np.ndarray], rows: slice) -> dict[str, np.ndarray]:
    names = [o.name for o in s.get_outputs()]
    return dict(zip(names, s.run(None, {k: v[rows] for k, v in feeds.items()})))


# ---------------------------------------------------------------------------------- CSV models


def test_a_classifier_runs_on_the_raw_columns_and_gives_what_predict_gives(models):
    path = export(models, "kind_mlp")
    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    s = session(path)
    assert [(i.name, i.type, i.shape) for i in s.get_inputs()] == [
        ("area", "tensor(double)", ["batch", 1]),
        ("rooms", "tensor(double)", ["batch", 1]),
        ("city", "tensor(string)", ["batch", 1]),
        ("garden", "tensor(string)", ["batch", 1]),
    ]
    assert [o.name for o in s.get_outputs()] == ["label", "probabilities"]
    want = predictions(models, "kind_mlp", "new.csv")
    feeds = raw_feeds(s, str(models / "new.csv"))
    for rows in (slice(None), slice(2, 3)):  # every row, then a batch of one
        got = run_rows(s, feeds, rows)
        expected = want[rows]
        assert got["label"].tolist() == [row["prediction"] for row in expected]
        probabilities = np.array([[row["proba_cheap"], row["proba_dear"]] for row in expected])
        np.testing.assert_allclose(
            got["probabilities"], probabilities, rtol=RTOL, atol=1e-6
        )  # predict rounds to 6 places
    metadata = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(metadata["classes"]) == ["cheap", "dear"] and metadata["target"] == "kind"


def test_missing_markers_and_unseen_categories_are_what_predict_makes_of_them(models):
    s = session(export(models, "kind_mlp"))
    feeds = raw_feeds(s, str(models / "new.csv"))
    # the same rows with each missing cell written another way: the probabilities must not change
    spelled = {k: v.copy() for k, v in feeds.items()}
    for column in ("city", "garden"):
        cells = spelled[column]
        for i, cell in enumerate(cells[:, 0]):
            if cell in ("", "NA", "N/A", "?"):
                cells[i, 0] = ["", "NA", "N/A", "?", "NULL", "NaN", "n/a"][i % 7]
    np.testing.assert_array_equal(
        run_rows(s, spelled, slice(None))["probabilities"], run_rows(s, feeds, slice(None))["probabilities"]
    )
    # a missing city is the most frequent one; an unseen one (all one-hot columns 0) differs from both
    rows = {k: np.repeat(v[:1], 3, axis=0) for k, v in feeds.items()}
    rows["city"] = np.array([[""], ["Marseille"], [None]], dtype=object)
    meta = cr.io.load_metadata(str(models / "kind_mlp" / MODEL_FILE))
    rows["city"][2, 0] = meta["preprocessing"]["fill_categorical"][0]
    p = run_rows(s, rows, slice(None))["probabilities"]
    np.testing.assert_array_equal(p[0], p[2])
    assert not np.allclose(p[0], p[1])


def test_integer_classes_without_probabilities_give_int64_labels_and_scores(models):
    path = export(models, "grade_svm")
    s = session(path)
    assert [o.name for o in s.get_outputs()] == ["label", "scores"]
    want = predictions(models, "grade_svm", "new.csv")
    assert set(want[0]) == {"prediction"}  # predict writes no probabilities for the svm
    got = run_rows(s, raw_feeds(s, str(models / "new.csv")), slice(None))
    assert got["label"].dtype == np.int64
    assert got["label"].tolist() == [row["prediction"] for row in want]
    assert got["scores"].shape == (len(want), 3)
    assert (got["scores"].argmax(axis=1) == got["label"]).all()  # grades 0, 1, 2: a label is its index


def test_a_regressor_gives_the_predicted_value_in_the_targets_units(models):
    path = export(models, "price_mlp")
    s = session(path)
    assert [(o.name, o.shape) for o in s.get_outputs()] == [("variable", ["batch"])]
    want = np.array([row["prediction"] for row in predictions(models, "price_mlp", "new.csv")])
    feeds = raw_feeds(s, str(models / "new.csv"))
    for rows in (slice(None), slice(4, 5)):
        got = run_rows(s, feeds, rows)["variable"]
        np.testing.assert_allclose(got, want[rows], rtol=RTOL)
    assert want.min() > 50  # in the target's units (prices of 100 to 500), not standardised


# ---------------------------------------------------------------------------------- embedded datasets


def test_an_embedded_dataset_model_takes_its_raw_features_as_input(models):
    path = export(models, "iris_logistic")
    s = session(path)
    assert [(i.name, i.shape) for i in s.get_inputs()] == [("input", ["batch", 4])]
    want = predictions(models, "iris_logistic", "iris")  # the held-out test rows, with their index
    rows = [row["index"] for row in want]
    X = load_dataset("iris").X[rows].astype(np.float32)
    label, probabilities = s.run(None, {"input": X})
    assert label.tolist() == [row["prediction"] for row in want]
    classes = ["setosa", "versicolor", "virginica"]
    np.testing.assert_allclose(probabilities, [[row[f"proba_{c}"] for c in classes] for row in want], atol=1e-6)
    label1, _ = s.run(None, {"input": X[:1]})
    assert label1.tolist() == [want[0]["prediction"]]


def test_a_cnn_gets_its_rows_reshaped_into_images(models):
    path = export(models, "digits_cnn")
    s = session(path)
    assert [(i.name, i.shape) for i in s.get_inputs()] == [("input", ["batch", 64])]
    want = predictions(models, "digits_cnn", "digits")[:40]
    X = load_dataset("digits").X[[row["index"] for row in want]].astype(np.float32)
    label, probabilities = s.run(None, {"input": X})
    assert label.tolist() == [row["prediction"] for row in want]
    np.testing.assert_allclose(probabilities, [[row[f"proba_{k}"] for k in range(10)] for row in want], atol=2e-6)


def test_network_only_writes_the_network_from_prepared_features_to_scores(models):
    path = export(models, "kind_mlp", "--network-only", "--output", "net.onnx")
    s = session(path)
    assert [(i.name, i.shape) for i in s.get_inputs()] == [("input", ["batch", 8])]  # 2 numeric + 4 + 2 one-hot
    assert [o.name for o in s.get_outputs()] == ["output"]
    model = cr.load(str(models / "kind_mlp" / MODEL_FILE))
    X = np.random.default_rng(0).normal(size=(6, 8)).astype(np.float32)
    np.testing.assert_allclose(s.run(None, {"input": X})[0], cr.train.predict(model, X), rtol=RTOL, atol=1e-6)


# ---------------------------------------------------------------------------------- the command


def test_the_command_writes_model_onnx_in_the_model_folder_and_says_what_it_takes(models):
    target = models / "price_mlp" / "model.onnx"
    if target.exists():
        target.unlink()
    result = run("export", "--model", "price_mlp", cwd=models)  # as a user runs it
    assert result.returncode == 0, result.stderr
    assert target.is_file()
    lines = result.stdout.splitlines()
    assert lines[0] == f"Wrote {os.path.join('price_mlp', 'model.onnx')}"
    columns = (
        "area (double [batch, 1]), rooms (double [batch, 1]), city (string [batch, 1]), garden (string [batch, 1])"
    )
    assert lines[1] == f"inputs: {columns}"
    assert lines[2] == "outputs: variable (float [batch])"
    assert lines[3].startswith("missing cells: NaN (double inputs); '', NA")


def test_json_lists_the_inputs_outputs_and_the_missing_markers(models):
    result = run_here("export", "--model", "grade_svm", "--output", "grade.onnx", "--force", "--json", cwd=models)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["output"] == "grade.onnx"
    assert [v["name"] for v in report["inputs"]] == ["area", "rooms", "city", "garden"]
    assert report["outputs"] == [
        {"name": "label", "type": "int64", "shape": ["batch"]},
        {"name": "scores", "type": "float", "shape": ["batch", 3]},
    ]
    assert report["missing"] == {"double": "NaN", "string": list(tabular.MISSING_MARKERS)}


def test_the_missing_markers_are_the_csv_readers(tmp_path):
    from pandas._libs.parsers import STR_NA_VALUES  # pandas' own list: the markers must cover it

    assert set(STR_NA_VALUES) <= set(tabular.MISSING_MARKERS)
    path = tmp_path / "markers.csv"
    markers = [m for m in tabular.MISSING_MARKERS if m]
    path.write_text("a,b\n" + "".join(f"{m},x\n" for m in markers) + "1,y\n")
    frame = tabular.read_csv(str(path)).frame
    assert frame["a"].isna().tolist() == [True] * len(markers) + [False]


def test_an_existing_output_needs_force(models):
    (models / "taken.onnx").write_bytes(b"old")
    result = run_here("export", "--model", "kind_mlp", "--output", "taken.onnx", cwd=models)
    assert_clean_error(result, "taken.onnx exists; pass --force", command="export")
    assert (models / "taken.onnx").read_bytes() == b"old"


def test_a_missing_model_folder_is_a_clean_error(models):
    result = run_here("export", "--model", "no_such_model", cwd=models)
    assert_clean_error(result, "no model at no_such_model", command="export")


def test_an_output_in_a_missing_folder_or_that_is_a_folder_is_a_clean_error(models):
    result = run_here("export", "--model", "kind_mlp", "--output", "nowhere/model.onnx", cwd=models)
    assert_clean_error(result, "cannot write nowhere/model.onnx: the folder", "does not exist", command="export")
    result = run_here("export", "--model", "kind_mlp", "--output", "kind_mlp", "--force", cwd=models)
    assert_clean_error(result, "kind_mlp is a folder", command="export")
    assert not (models / "nowhere").exists()


def test_a_column_named_like_an_output_is_a_clean_error(tmp_path):
    frame = pd.DataFrame({"label": ["a", "b"] * 20, "x": np.arange(40.0), "y": ["p", "q", "q", "p"] * 10})
    frame.to_csv(tmp_path / "t.csv", index=False)
    result = run_here("train", "t.csv", "--target", "y", "--epochs", "2", "--out", "m", "--no-plot", "-q", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    result = run_here("export", "--model", "m", cwd=tmp_path)
    assert_clean_error(result, "['label'] are named like an output", command="export")
    assert not (tmp_path / "m" / "model.onnx").exists()


# ---------------------------------------------------------------------------------- summary


def test_summary_of_an_onnx_file_prints_its_inputs_outputs_and_metadata(models):
    path = export(models, "kind_mlp")
    result = run_here("summary", "--model", os.path.relpath(path, models), cwd=models)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("kind_mlp/model.onnx: ONNX (ai.onnx 18, ai.onnx.ml 3), written by chainrule")
    assert lines[1].startswith("inputs: area (double [batch, 1]), rooms (double [batch, 1]), city (string [batch, 1])")
    assert lines[2] == "outputs: label (string [batch]), probabilities (float [batch, 2])"
    assert 'classes: ["cheap", "dear"]' in lines
    # the network inside, cut out between the values the metadata names, read back: its layers
    assert "no layer table" not in result.stderr
    assert "(Linear)" in result.stdout and "Total params:" in result.stdout


def test_summary_of_an_onnx_network_prints_its_layers(models):
    export(models, "iris_logistic", "--network-only", "--output", "iris_net.onnx")
    result = run_here("summary", "--model", "iris_net.onnx", cwd=models)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "inputs: input (float [batch, 4])" in result.stdout
    assert "Total params: 15" in result.stdout  # Linear(4, 3)
    data = json.loads(run_here("summary", "--model", "iris_net.onnx", "--json", cwd=models).stdout)
    assert data["total_params"] == 15 and data["format"] == "onnx"


def test_summary_of_a_file_that_is_not_onnx_is_a_clean_error(models):
    (models / "junk.onnx").write_text("not a protobuf at all")
    result = run_here("summary", "--model", "junk.onnx", cwd=models)
    assert_clean_error(result, "junk.onnx is not a readable ONNX file", command="summary")
    result = run_here("summary", "--model", "absent.onnx", cwd=models)
    assert_clean_error(result, "no ONNX file at absent.onnx", command="summary")


def test_a_model_folder_with_its_export_can_be_trained_again(tmp_path):
    # export writes DIR/model.onnx by default: train --force replaces the folder, the stale export with it
    assert run_here("train", "iris", "--epochs", "1", "--out", "m", "--quiet", cwd=tmp_path).returncode == 0
    assert run_here("export", "--model", "m", cwd=tmp_path).returncode == 0
    assert (tmp_path / "m" / "model.onnx").exists()
    result = run_here("train", "iris", "--epochs", "1", "--out", "m", "--quiet", "--force", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "m" / "model.onnx").exists()  # it described the old model
