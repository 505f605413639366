"""End-to-end tests of the ``chainrule`` command, run as ``python -m chainrule`` in a subprocess."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import load_dataset, train_test_split

REPO = Path(__file__).resolve().parents[1]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, "-m", "chainrule", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def assert_clean_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    """A non-zero exit with one error line on stderr, no traceback."""
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("chainrule train: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """`chainrule train --epochs 10` (the default: an MLP on digits), run once for several tests."""
    cwd = tmp_path_factory.mktemp("digits")
    result = run("train", "--epochs", "10", "--out", "out", cwd=cwd)
    return cwd, result


# --- train -------------------------------------------------------------------------------------

def test_train_digits_writes_the_files_and_reaches_the_expected_accuracy(digits_run):
    cwd, result = digits_run
    assert result.returncode == 0, result.stderr
    out = cwd / "out"
    assert {"model.safetensors", "history.csv", "report.json"} <= set(os.listdir(out))
    report = json.loads((out / "report.json").read_text())
    assert report["dataset"] == "digits" and report["task"] == "classification"
    assert report["epochs_run"] == 10 and report["stop_reason"] is None
    assert report["test"]["accuracy"] >= 0.9
    assert report["validation"]["accuracy"] >= 0.9
    assert report["train"]["accuracy"] >= report["test"]["accuracy"] - 0.02
    for split in ("train", "validation", "test"):
        assert set(report[split]) == {"loss", "accuracy", "f1"}
        assert 0 <= report[split]["loss"] < 1
    cm = np.array(report["confusion_matrix"])
    assert cm.shape == (10, 10)
    assert cm.sum() == 450  # 25% of the 1797 samples
    assert np.trace(cm) / cm.sum() == pytest.approx(report["test"]["accuracy"])


def test_train_writes_the_history_csv(digits_run):
    cwd, _ = digits_run
    with open(cwd / "out" / "history.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["epoch", "loss", "accuracy", "f1", "val_loss", "val_accuracy", "val_f1", "lr"]
    assert [r[0] for r in rows[1:]] == [str(e) for e in range(1, 11)]
    losses = [float(r[1]) for r in rows[1:]]
    assert losses[-1] < losses[0]


def test_train_prints_the_results_the_summary_and_the_confusion_matrix(digits_run):
    _, result = digits_run
    out = result.stdout
    assert out.startswith("digits: classification, 1797 samples, 64 features; 10 epochs in ")
    for line in ("train", "validation", "test"):
        assert any(row.split()[:1] == [line] for row in out.splitlines())
    assert "confusion matrix (rows: true class, columns: predicted)" in out
    assert "Total params: 4,810" in out and "Depth (layers with weights): 2" in out
    assert "Width (most units in a layer): 64" in out
    assert "Saved to out/: model.safetensors, history.csv, report.json" in out
    # progress goes to stderr, one line per epoch when it is not a terminal
    assert [line.split(" - ")[0] for line in result.stderr.splitlines()] == [f"Epoch {e}/10" for e in range(1, 11)]


def test_the_saved_model_reloads_and_gives_the_reported_test_accuracy(digits_run):
    cwd, _ = digits_run
    path = cwd / "out" / "model.safetensors"
    report = json.loads((cwd / "out" / "report.json").read_text())
    model = cr.load(path)
    meta = cr.io.load_metadata(path)
    assert meta["dataset"] == "digits" and meta["split"] == {"test_size": 0.25, "validation_split": 0.2, "seed": 0}
    bundle = load_dataset("digits")
    _, X_test, _, y_test = train_test_split(bundle.X.astype(np.float32), bundle.y, test_size=0.25, random_state=0,
                                            stratify=bundle.y)
    X_test = ((X_test - np.array(meta["preprocessing"]["mean"], dtype=np.float32))
              / np.array(meta["preprocessing"]["scale"], dtype=np.float32)).astype(np.float32)
    predicted = cr.train.predict(model, X_test).argmax(axis=1)
    assert float((predicted == y_test).mean()) == report["test"]["accuracy"]


def test_train_iris(tmp_path):
    result = run("train", "iris", "--epochs", "30", "--hidden", "16", "--out", "iris", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "iris" / "report.json").read_text())
    assert report["dataset"] == "iris" and report["epochs_run"] == 30
    assert report["test"]["accuracy"] >= 0.85
    assert np.array(report["confusion_matrix"]).shape == (3, 3)
    assert result.stderr == ""  # --quiet: no progress
    assert "Total params" not in result.stdout  # nor the summary
    assert "iris: classification, 150 samples, 4 features; 30 epochs" in result.stdout


def test_train_diabetes_reports_regression_metrics(tmp_path):
    result = run("train", "diabetes", "--epochs", "30", "--optimizer", "adam", "--out", "reg", "--json",
                 cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["task"] == "regression" and "confusion_matrix" not in report
    for split in ("train", "validation", "test"):
        assert set(report[split]) == {"loss", "mae", "r2"}
        assert all(np.isfinite(v) for v in report[split].values())
    # metrics in the target's own units (it spans 25-346, std 77): the model is not standardised-only
    assert report["train"]["r2"] > 0.5 and report["test"]["r2"] > 0.25
    assert 30 < report["test"]["mae"] < 60
    model = cr.load(tmp_path / "reg" / "model.safetensors")
    meta = cr.io.load_metadata(tmp_path / "reg" / "model.safetensors")
    bundle = load_dataset("diabetes")
    _, X_test, _, y_test = train_test_split(bundle.X.astype(np.float32), bundle.y, test_size=0.25, random_state=0)
    X_test = ((X_test - np.array(meta["preprocessing"]["mean"])) / np.array(meta["preprocessing"]["scale"]))
    predicted = cr.train.predict(model, X_test.astype(np.float32)).ravel()
    assert float(np.abs(predicted - y_test).mean()) == pytest.approx(report["test"]["mae"], rel=1e-4)
    assert float(((predicted - y_test) ** 2).mean()) == pytest.approx(report["test"]["loss"], rel=1e-4)


def test_json_output_parses_and_matches_the_report_file(tmp_path):
    result = run("train", "wine", "--epochs", "5", "--out", "w", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed == json.loads((tmp_path / "w" / "report.json").read_text())
    assert printed["files"]["model"] == os.path.join("w", "model.safetensors")
    assert result.stderr == ""


def test_early_stopping_restores_the_best_epoch(tmp_path):
    result = run("train", "iris", "--epochs", "200", "--early-stopping", "--patience", "3", "--lr", "0.5",
                 "--out", "es", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["epochs_run"] < 200
    assert report["stop_reason"].startswith("EarlyStopping: val_loss did not improve for 3 epoch(s)")
    with open(tmp_path / "es" / "history.csv", newline="") as f:
        val_losses = [float(row["val_loss"]) for row in csv.DictReader(f)]
    # the reported validation loss is that of the restored (best) weights
    assert report["validation"]["loss"] == pytest.approx(min(val_losses), rel=1e-5)


def test_lr_zero_is_taken_as_given(tmp_path):
    result = run("train", "iris", "--epochs", "2", "--lr", "0", "--out", "z", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    with open(tmp_path / "z" / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [float(r["lr"]) for r in rows] == [0.0, 0.0]
    assert float(rows[0]["loss"]) == pytest.approx(float(rows[1]["loss"]), rel=1e-6)  # nothing learned


def test_no_validation_split(tmp_path):
    result = run("train", "iris", "--epochs", "3", "--validation-split", "0", "--out", "nv", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["validation"] == {}
    with open(tmp_path / "nv" / "history.csv", newline="") as f:
        assert next(csv.reader(f)) == ["epoch", "loss", "accuracy", "f1", "lr"]


# --- overwriting ------------------------------------------------------------------------------

def test_an_existing_model_is_kept_without_force_and_replaced_with_it(tmp_path):
    assert run("train", "iris", "--epochs", "1", "--out", "m", "--quiet", cwd=tmp_path).returncode == 0
    model = tmp_path / "m" / "model.safetensors"
    before = model.read_bytes()
    report_before = (tmp_path / "m" / "report.json").read_text()

    result = run("train", "iris", "--epochs", "2", "--seed", "1", "--out", "m", "--quiet", cwd=tmp_path)
    assert_clean_error(result, "model.safetensors exists", "--force")
    assert result.returncode == 2
    assert model.read_bytes() == before
    assert (tmp_path / "m" / "report.json").read_text() == report_before

    result = run("train", "iris", "--epochs", "2", "--seed", "1", "--out", "m", "--quiet", "--force", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert model.read_bytes() != before
    assert json.loads((tmp_path / "m" / "report.json").read_text())["epochs_run"] == 2


# --- bad input --------------------------------------------------------------------------------

def test_an_unknown_dataset_suggests_the_closest_name(tmp_path):
    result = run("train", "irsi", cwd=tmp_path)
    assert_clean_error(result, "unknown dataset 'irsi'", "did you mean 'iris'?")
    assert result.returncode == 2
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("args, fragment", [
    (["--epochs", "0"], "--epochs and --batch-size must be positive"),
    (["--batch-size", "-4"], "--epochs and --batch-size must be positive"),
    (["--patience", "-1"], "--patience must be >= 0"),
    (["--early-stopping", "--validation-split", "0"], "--early-stopping watches the validation loss"),
    (["--lr", "-1"], "SGD: invalid learning rate: -1.0"),
    (["--optimizer", "adam", "--l2", "-0.1"], "Adam: invalid weight_decay: -0.1"),
])
def test_bad_settings_give_one_clear_line(tmp_path, args, fragment):
    result = run("train", "iris", *args, cwd=tmp_path)
    assert_clean_error(result, fragment)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("args, fragment", [
    (["--validation-split", "1.5"], "argument --validation-split: must be in [0, 1), got 1.5"),
    (["--test-size", "0"], "argument --test-size: must be in (0, 1), got 0"),
    (["--test-size", "half"], "argument --test-size: expected a number, got 'half'"),
    (["--hidden", "64,x"], "argument --hidden: --hidden must be comma-separated integers"),
    (["--optimizer", "lbfgs"], "argument --optimizer: invalid choice: 'lbfgs'"),
])
def test_bad_arguments_are_usage_errors(tmp_path, args, fragment):
    result = run("train", "iris", *args, cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("chainrule train: error: argument ") and fragment in last


def test_an_out_path_that_is_a_file_is_a_clear_error(tmp_path):
    (tmp_path / "taken").write_text("not a folder")
    result = run("train", "iris", "--epochs", "1", "--out", "taken", "--quiet", cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("chainrule train: error: ")
    assert (tmp_path / "taken").read_text() == "not a folder"


# --- datasets, --version, --help --------------------------------------------------------------

def test_datasets_lists_the_five_embedded_datasets(tmp_path):
    result = run("datasets", cwd=tmp_path)
    assert result.returncode == 0 and result.stderr == ""
    lines = result.stdout.strip().splitlines()
    assert lines[0].split() == ["name", "samples", "features", "task", "classes"]
    table = {line.split()[0]: line.split()[1:] for line in lines[1:]}
    assert table == {
        "breast_cancer": ["569", "30", "classification", "2"],
        "diabetes": ["442", "10", "regression", "-"],
        "digits": ["1797", "64", "classification", "10"],
        "iris": ["150", "4", "classification", "3"],
        "wine": ["178", "13", "classification", "3"],
    }


def test_version(tmp_path):
    result = run("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == f"chainrule {cr.__version__}"


def test_help(tmp_path):
    result = run("--help", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith("usage: chainrule")
    assert "train" in result.stdout and "datasets" in result.stdout and "examples:" in result.stdout
    result = run("train", "--help", cwd=tmp_path)
    assert result.returncode == 0
    for option in ("--epochs", "--hidden", "--optimizer", "--validation-split", "--early-stopping", "--force", "--json"):
        assert option in result.stdout
    assert "chainrule train iris --hidden 16 --epochs 200" in run("--help", cwd=tmp_path).stdout


def test_no_command_prints_the_help(tmp_path):
    result = run(cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.startswith("usage: chainrule")


def test_an_unknown_command(tmp_path):
    result = run("fly", cwd=tmp_path)
    assert result.returncode == 2 and "invalid choice: 'fly'" in result.stderr
    assert "Traceback" not in result.stderr


def test_main_can_be_called_in_process(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    from chainrule.cli import main

    assert main(["datasets"]) == 0
    assert "digits" in capsys.readouterr().out
    assert main(["train", "nope"]) == 2
    assert "unknown dataset 'nope'" in capsys.readouterr().err
