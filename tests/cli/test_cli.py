"""End-to-end tests of the ``chainrule`` command, run as ``python -m chainrule`` in a subprocess."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import load_dataset, train_test_split

REPO = Path(__file__).resolve().parents[2]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """`python -m chainrule ARGS` in a subprocess: the command as a user runs it."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg"}
    return subprocess.run(
        [sys.executable, "-m", "chainrule", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def run_here(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """`chainrule ARGS` through ``main`` in this process (fast: for the many error cases), with the
    same result as ``run``; an exception escaping ``main`` fails the test, as a traceback would."""
    from chainrule.cli import main

    out, err = io.StringIO(), io.StringIO()
    here = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as e:  # argparse's usage errors, --help, --version
                code = e.code
    finally:
        os.chdir(here)
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def assert_clean_error(result: subprocess.CompletedProcess, *fragments: str, command: str = "train") -> None:
    """A non-zero exit with one error line on stderr, no traceback."""
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"chainrule {command}: error: ")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


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
    assert {"model.safetensors", "history.csv", "report.json", "loss_curve.png"} <= set(os.listdir(out))
    assert (out / "loss_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
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
    assert meta["dataset"] == "digits" and meta["split"] == {
        "test_size": 0.25,
        "validation_split": 0.2,
        "seed": 0,
        "stratified": True,
    }
    bundle = load_dataset("digits")
    _, X_test, _, y_test = train_test_split(
        bundle.X.astype(np.float32), bundle.y, test_size=0.25, random_state=0, stratify=bundle.y
    )
    X_test = (
        (X_test - np.array(meta["preprocessing"]["mean"], dtype=np.float32))
        / np.array(meta["preprocessing"]["scale"], dtype=np.float32)
    ).astype(np.float32)
    predicted = cr.train.predict(model, X_test).argmax(axis=1)
    assert float((predicted == y_test).mean()) == report["test"]["accuracy"]


def test_train_iris(tmp_path):
    result = run(
        "train", "iris", "--epochs", "30", "--hidden", "16", "--out", "iris", "--quiet", "--no-plot", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "iris" / "report.json").read_text())
    assert report["dataset"] == "iris" and report["epochs_run"] == 30
    assert report["test"]["accuracy"] >= 0.85
    assert np.array(report["confusion_matrix"]).shape == (3, 3)
    assert result.stderr == ""  # --quiet: no progress
    assert "Total params" not in result.stdout  # nor the summary
    assert "iris: classification, 150 samples, 4 features; 30 epochs" in result.stdout


def test_train_diabetes_reports_regression_metrics(tmp_path):
    result = run_here(
        "train",
        "diabetes",
        "--epochs",
        "30",
        "--optimizer",
        "adam",
        "--out",
        "reg",
        "--json",
        "--no-plot",
        cwd=tmp_path,
    )
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
    X_test = (X_test - np.array(meta["preprocessing"]["mean"])) / np.array(meta["preprocessing"]["scale"])
    predicted = cr.train.predict(model, X_test.astype(np.float32)).ravel()
    assert float(np.abs(predicted - y_test).mean()) == pytest.approx(report["test"]["mae"], rel=1e-4)
    assert float(((predicted - y_test) ** 2).mean()) == pytest.approx(report["test"]["loss"], rel=1e-4)


def test_json_output_parses_and_matches_the_report_file(tmp_path):
    result = run("train", "wine", "--epochs", "5", "--out", "w", "--json", "--no-plot", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed == json.loads((tmp_path / "w" / "report.json").read_text())
    assert printed["files"]["model"] == os.path.join("w", "model.safetensors")
    assert result.stderr == ""


def test_early_stopping_restores_the_best_epoch(tmp_path):
    result = run_here(
        "train",
        "iris",
        "--epochs",
        "200",
        "--early-stopping",
        "--patience",
        "3",
        "--lr",
        "0.5",
        "--out",
        "es",
        "--json",
        "--no-plot",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["epochs_run"] < 200
    assert report["stop_reason"].startswith("EarlyStopping: val_loss did not improve for 3 epoch(s)")
    with open(tmp_path / "es" / "history.csv", newline="") as f:
        val_losses = [float(row["val_loss"]) for row in csv.DictReader(f)]
    # the reported validation loss is that of the restored (best) weights
    assert report["validation"]["loss"] == pytest.approx(min(val_losses), rel=1e-5)


def test_lr_zero_is_taken_as_given(tmp_path):
    result = run_here("train", "iris", "--epochs", "2", "--lr", "0", "--out", "z", "--json", "--no-plot", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    with open(tmp_path / "z" / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [float(r["lr"]) for r in rows] == [0.0, 0.0]
    assert float(rows[0]["loss"]) == pytest.approx(float(rows[1]["loss"]), rel=1e-6)  # nothing learned


def test_no_validation_split(tmp_path):
    result = run_here(
        "train", "iris", "--epochs", "3", "--validation-split", "0", "--out", "nv", "--json", "--no-plot", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["validation"] == {}
    with open(tmp_path / "nv" / "history.csv", newline="") as f:
        assert next(csv.reader(f)) == ["epoch", "loss", "accuracy", "f1", "lr"]


# --- overwriting ------------------------------------------------------------------------------


def test_an_existing_model_is_kept_without_force_and_replaced_with_it(tmp_path):
    assert (
        run_here("train", "iris", "--epochs", "1", "--out", "m", "--quiet", "--no-plot", cwd=tmp_path).returncode == 0
    )
    model = tmp_path / "m" / "model.safetensors"
    before = model.read_bytes()
    report_before = (tmp_path / "m" / "report.json").read_text()

    result = run("train", "iris", "--epochs", "2", "--seed", "1", "--out", "m", "--quiet", "--no-plot", cwd=tmp_path)
    assert_clean_error(result, "model.safetensors exists", "--force")
    assert result.returncode == 2
    assert model.read_bytes() == before
    assert (tmp_path / "m" / "report.json").read_text() == report_before

    result = run_here(
        "train", "iris", "--epochs", "2", "--seed", "1", "--out", "m", "--quiet", "--force", "--no-plot", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert model.read_bytes() != before
    assert json.loads((tmp_path / "m" / "report.json").read_text())["epochs_run"] == 2


# --- the output folder: one run complete, never a mixture --------------------------------------

RUN_FILES = {"model.safetensors", "history.csv", "report.json", "loss_curve.png"}


def run_files(folder: Path) -> tuple[set[str], str, str]:
    """(the files of a run folder, its report's run id, its model's run id)."""
    report = json.loads((folder / "report.json").read_text())
    meta = cr.io.load_metadata(str(folder / "model.safetensors"))
    return set(os.listdir(folder)), report["run_id"], meta["run_id"]


def test_force_no_plot_over_a_run_with_a_plot_leaves_no_stale_plot(tmp_path):
    first = run("train", "iris", "--epochs", "2", "--out", "m", "--quiet", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    files, old_id, model_id = run_files(tmp_path / "m")
    assert files == RUN_FILES and old_id == model_id
    result = run_here("train", "iris", "--epochs", "1", "--out", "m", "--quiet", "--force", "--no-plot", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    files, new_id, model_id = run_files(tmp_path / "m")
    assert files == RUN_FILES - {"loss_curve.png"}
    assert new_id == model_id != old_id
    report = json.loads((tmp_path / "m" / "report.json").read_text())
    assert report["files"]["loss_curve"] is None and report["files"]["model"] == os.path.join("m", "model.safetensors")
    assert os.listdir(tmp_path) == ["m"]  # no folder left beside it


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_failure_after_training_leaves_the_earlier_run_whole(tmp_path, monkeypatch, failure):
    from chainrule.cli import commands

    assert run_here("train", "iris", "--epochs", "1", "--out", "m", "--quiet", cwd=tmp_path).returncode == 0
    before = {name: (tmp_path / "m" / name).read_bytes() for name in os.listdir(tmp_path / "m")}
    assert set(before) == RUN_FILES

    def fail(path, report):
        assert os.path.basename(os.path.dirname(path)).startswith("m.chainrule-new-")
        raise failure

    monkeypatch.setattr(commands, "write_report", fail)
    result = run_here("train", "iris", "--epochs", "2", "--out", "m", "--quiet", "--force", "--no-plot", cwd=tmp_path)
    assert result.returncode == (130 if isinstance(failure, KeyboardInterrupt) else 1)
    assert {name: (tmp_path / "m" / name).read_bytes() for name in os.listdir(tmp_path / "m")} == before
    # the unfinished run's folder is removed; its backup stays, for --resume (the finished
    # training's checkpoint is deleted: a resume trains again from the start, with the same result)
    assert sorted(os.listdir(tmp_path)) == ["m", "m.chainrule-backup"]
    assert os.listdir(tmp_path / "m.chainrule-backup") == ["settings.json"]


def test_an_unwritable_parent_fails_before_training(tmp_path, monkeypatch):
    from chainrule.cli import commands

    def no_training(*args, **kwargs):
        raise AssertionError("trained before checking --out")

    monkeypatch.setattr(commands, "_train", no_training)
    (tmp_path / "file").write_text("x")
    result = run_here("train", "iris", "--out", "file/m", "--quiet", cwd=tmp_path)
    assert_clean_error(result, "cannot create the folder", "for --out file/m")
    assert result.returncode == 2
    if sys.platform.startswith("linux"):  # not writable even by root
        result = run_here("train", "iris", "--out", "/proc/chainrule-test-out", "--quiet", cwd=tmp_path)
        assert_clean_error(result, "cannot write --out /proc/chainrule-test-out: its folder /proc is not writable")
        assert result.returncode == 2
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        try:
            result = run_here("train", "iris", "--out", "locked/m", "--quiet", cwd=tmp_path)
        finally:
            locked.chmod(0o700)
        assert_clean_error(result, "is not writable")


def test_an_out_folder_with_other_files_is_never_replaced(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    result = run_here("train", "iris", "--out", "mine", "--force", "--quiet", cwd=tmp_path)
    assert_clean_error(result, "mine holds files that `chainrule train` does not write ('notes.txt')")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    result = run_here("train", "iris", "--out", ".", "--force", "--quiet", cwd=tmp_path / "mine")
    assert_clean_error(result, "is the working folder")


@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGKILL"])
def test_a_run_killed_at_any_moment_leaves_the_old_run_or_the_new_one(tmp_path, signal_name):
    import shutil
    import signal
    import time

    first = run("train", "iris", "--epochs", "3", "--out", "m", "--quiet", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    old = run_files(tmp_path / "m")
    assert old[0] == RUN_FILES
    env = {**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg"}
    outcomes = set()
    for i, delay in enumerate([0.2, 0.6, 0.9, 1.1, 1.4, 2.5]):
        cwd = tmp_path / f"kill{i}"
        shutil.copytree(tmp_path / "m", cwd / "m")
        process = subprocess.Popen(
            # (200 epochs: the compiled run trains for about half a second, so that some kills land in it)
            [sys.executable, "-m", "chainrule", "train", "iris", "--epochs", "200", "--out", "m", "--force"]
            + ["--no-plot", "--quiet"],
            cwd=cwd,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        time.sleep(delay)
        process.send_signal(getattr(signal, signal_name))
        _, err = process.communicate(timeout=60)  # (a SIGINT while Python imports gives a traceback)
        files, report_id, model_id = run_files(cwd / "m")
        assert report_id == model_id, f"a mixture after {delay}s"
        if report_id == old[1]:
            assert files == old[0], f"after {delay}s"
            outcomes.add("old")
        else:
            assert files == RUN_FILES - {"loss_curve.png"}, f"after {delay}s"
            outcomes.add("new")
        leftovers = [name for name in os.listdir(cwd) if name not in ("m", "m.chainrule-backup")]
        assert all(".chainrule-new-" in name or ".chainrule-old-" in name for name in leftovers), leftovers
        if signal_name == "SIGINT":
            assert leftovers == [] and process.returncode in (0, 130, -signal.SIGINT), (delay, err.decode())
        # the backup of the run is left only by a run that did not finish (for --resume)
        assert not (report_id != old[1] and (cwd / "m.chainrule-backup").exists()), delay
    assert "old" in outcomes


# --- --resume: a run killed and resumed ends as the uninterrupted run -------------------------


def state_and_history(folder: Path) -> tuple[dict, str, dict]:
    """(the weights of a run folder's model, its history.csv, its report's metrics)."""
    model = cr.load(str(folder / "model.safetensors"))
    report = json.loads((folder / "report.json").read_text())
    metrics = {key: report[key] for key in ("train", "validation", "test", "epochs_run", "stop_reason")}
    metrics["confusion_matrix"] = report.get("confusion_matrix")
    return model.state_dict(), (folder / "history.csv").read_text(), metrics


@pytest.mark.parametrize(
    "extra", [[], ["--optimizer", "adam", "--lr", "0.01", "--early-stopping", "--patience", "3", "--seed", "7"]]
)
def test_a_killed_run_resumed_ends_as_the_uninterrupted_run(tmp_path, extra):
    import signal
    import time

    args = ["train", "digits", "--epochs", "40", "--hidden", "32", "--no-plot", "--quiet", *extra]
    whole = run(*args, "--out", "whole", cwd=tmp_path)
    assert whole.returncode == 0, whole.stderr
    assert not (tmp_path / "whole.chainrule-backup").exists()  # a finished run leaves no backup

    env = {**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg"}
    process = subprocess.Popen(
        [sys.executable, "-m", "chainrule", *args, "--out", "m"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    checkpoint = tmp_path / "m.chainrule-backup" / "backup.safetensors"
    deadline = time.monotonic() + 60
    while not checkpoint.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert checkpoint.exists() and not (tmp_path / "m").exists()

    resumed = run(*args, "--out", "m", "--resume", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert not (tmp_path / "m.chainrule-backup").exists()
    weights, history, metrics = state_and_history(tmp_path / "m")
    weights_whole, history_whole, metrics_whole = state_and_history(tmp_path / "whole")
    assert weights.keys() == weights_whole.keys()
    for key in weights:
        assert np.array_equal(weights[key], weights_whole[key]), key
    assert history == history_whole
    assert metrics == metrics_whole
    # (the killed run's own staging folder may be left, as documented, safe to delete)
    assert sorted(name for name in os.listdir(tmp_path) if ".chainrule-new-" not in name) == ["m", "whole"]


def test_resume_without_a_backup_is_an_error(tmp_path):
    result = run_here("train", "iris", "--epochs", "2", "--out", "m", "--resume", cwd=tmp_path)
    assert_clean_error(result, "nothing to resume", "m.chainrule-backup")
    assert result.returncode == 2
    assert not (tmp_path / "m").exists()
    # nor after a finished run
    assert run_here("train", "iris", "--epochs", "2", "--out", "m", "--no-plot", cwd=tmp_path).returncode == 0
    assert os.listdir(tmp_path) == ["m"]
    result = run_here("train", "iris", "--epochs", "2", "--out", "m", "--resume", cwd=tmp_path)
    assert_clean_error(result, "nothing to resume")


def test_resume_with_other_settings_names_them(tmp_path):
    from chainrule.cli import outputs

    settings = {
        "data": "iris", "target": None, "task": None, "drop": [], "test_size": 0.25, "validation_split": 0.2,
        "model": "mlp", "hidden": None, "activation": None, "epochs": 5, "batch_size": 32, "lr": None,
        "optimizer": "momentum", "l2": 0.0, "early_stopping": False, "patience": 10, "seed": 0,
    }  # fmt: skip
    outputs.start_backup(str(tmp_path / "m"), settings, resume=False)  # as an interrupted run leaves it
    result = run_here(
        "train", "iris", "--epochs", "9", "--lr", "0.1", "--out", "m", "--resume", "--no-plot", cwd=tmp_path
    )
    assert_clean_error(result, "settings", "--epochs 5 then, 9 now", "--lr None then, 0.1 now")
    assert "--seed" not in result.stderr and result.returncode == 2
    assert (tmp_path / "m.chainrule-backup" / "settings.json").exists()  # kept for a right --resume
    result = run_here("train", "iris", "--epochs", "5", "--out", "m", "--resume", "--no-plot", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert os.listdir(tmp_path) == ["m"]


def test_a_fresh_run_replaces_a_leftover_backup_and_says_so(tmp_path):
    from chainrule.cli import outputs

    outputs.start_backup(str(tmp_path / "m"), {"data": "wine"}, resume=False)
    result = run_here("train", "iris", "--epochs", "2", "--out", "m", "--no-plot", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "m.chainrule-backup" in result.stderr and "replaced" in result.stderr
    assert os.listdir(tmp_path) == ["m"]


# --- bad input --------------------------------------------------------------------------------


def test_an_unknown_dataset_suggests_the_closest_name(tmp_path):
    result = run("train", "irsi", cwd=tmp_path)
    assert_clean_error(result, "unknown dataset 'irsi'", "did you mean 'iris'?")
    assert result.returncode == 2
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--epochs", "0"], "--epochs and --batch-size must be positive"),
        (["--batch-size", "-4"], "--epochs and --batch-size must be positive"),
        (["--patience", "-1"], "--patience must be >= 0"),
        (["--early-stopping", "--validation-split", "0"], "--early-stopping watches the validation loss"),
        (["--lr", "-1"], "SGD: invalid learning rate: -1.0"),
        (["--optimizer", "adam", "--l2", "-0.1"], "Adam: invalid weight_decay: -0.1"),
    ],
)
def test_bad_settings_give_one_clear_line(tmp_path, args, fragment):
    result = run_here("train", "iris", *args, cwd=tmp_path)
    assert_clean_error(result, fragment)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--validation-split", "1.5"], "argument --validation-split: must be in [0, 1), got 1.5"),
        (["--test-size", "0"], "argument --test-size: must be in (0, 1), got 0"),
        (["--test-size", "half"], "argument --test-size: expected a number, got 'half'"),
        (["--hidden", "64,x"], "argument --hidden: --hidden must be comma-separated integers"),
        (["--optimizer", "lbfgs"], "argument --optimizer: invalid choice: 'lbfgs'"),
    ],
)
def test_bad_arguments_are_usage_errors(tmp_path, args, fragment):
    result = run_here("train", "iris", *args, cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("chainrule train: error: argument ") and fragment in last


def test_an_out_path_that_is_a_file_is_a_clear_error(tmp_path):
    (tmp_path / "taken").write_text("not a folder")
    result = run_here("train", "iris", "--epochs", "1", "--out", "taken", "--quiet", "--no-plot", cwd=tmp_path)
    assert_clean_error(result, "--out taken is a file, not a folder")
    assert result.returncode == 2
    assert (tmp_path / "taken").read_text() == "not a folder"


# --- datasets, --version, --help --------------------------------------------------------------


def test_datasets_lists_the_embedded_datasets(tmp_path):
    result = run_here("datasets", cwd=tmp_path)
    assert result.returncode == 0 and result.stderr == ""
    lines = result.stdout.strip().splitlines()
    assert lines[0].split() == ["name", "samples", "features", "task", "classes"]
    table = {line.split()[0]: line.split()[1:] for line in lines[1:]}
    assert table.pop("mnist1d", ["5000", "40", "classification", "10"]) == ["5000", "40", "classification", "10"]
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
    for command in ("train", "evaluate", "predict", "summary", "datasets", "examples:"):
        assert command in result.stdout
    assert "chainrule train iris --hidden 16 --epochs 200" in result.stdout
    result = run_here("train", "--help", cwd=tmp_path)
    assert result.returncode == 0
    for option in (
        "--target",
        "--task",
        "--model",
        "--epochs",
        "--hidden",
        "--optimizer",
        "--validation-split",
        "--early-stopping",
        "--force",
        "--json",
        "--quiet",
        "--verbose",
        "--drop",
    ):
        assert option in result.stdout
    for command in ("evaluate", "predict", "summary", "datasets"):
        result = run_here(command, "--help", cwd=tmp_path)
        assert result.returncode == 0 and "examples:" in result.stdout and f"chainrule {command}" in result.stdout


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


def test_datasets_json(tmp_path):
    result = run_here("datasets", "--json", cwd=tmp_path)
    assert result.returncode == 0
    assert json.loads(result.stdout)["iris"] == {
        "n_samples": 150,
        "n_features": 4,
        "task": "classification",
        "n_classes": 3,
    }


# --- evaluate and predict on an embedded dataset ----------------------------------------------


def test_evaluate_on_the_training_dataset_uses_its_test_split(digits_run):
    cwd, _ = digits_run
    report = json.loads((cwd / "out" / "report.json").read_text())
    result = run_here("evaluate", "--model", "out", "digits", "--json", cwd=cwd)
    assert result.returncode == 0, result.stderr
    evaluation = json.loads(result.stdout)
    assert evaluation["samples"] == 450 and "the 450 test samples held out" in evaluation["data"]
    for name, value in report["test"].items():
        assert evaluation["metrics"][name] == pytest.approx(value, rel=1e-6)
    assert evaluation["confusion_matrix"] == report["confusion_matrix"]

    result = run_here("evaluate", "--model", "out", "digits", cwd=cwd)
    assert result.returncode == 0 and result.stdout.startswith("digits, the 450 test samples held out in training")
    assert "confusion matrix" in result.stdout and any(
        r.split()[:1] == ["evaluation"] for r in result.stdout.splitlines()
    )


def test_predict_on_an_embedded_dataset_writes_labels_probabilities_and_row_numbers(digits_run):
    cwd, _ = digits_run
    report = json.loads((cwd / "out" / "report.json").read_text())
    result = run_here("predict", "--model", "out", "digits", "--output", "digits_pred.csv", cwd=cwd)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Wrote 450 predictions to digits_pred.csv")
    with open(cwd / "digits_pred.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["index", "prediction", *(f"proba_{d}" for d in range(10))]
    bundle = load_dataset("digits")
    correct = [int(r["prediction"]) == bundle.y[int(r["index"])] for r in rows]
    assert np.mean(correct) == pytest.approx(report["test"]["accuracy"])
    for r in rows[:20]:
        probabilities = [float(r[f"proba_{d}"]) for d in range(10)]
        assert sum(probabilities) == pytest.approx(1, abs=1e-4)
        assert int(np.argmax(probabilities)) == int(r["prediction"])


# --- the models -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data, model, extra, metric, low",
    [
        ("iris", "logistic", ["--epochs", "40"], "accuracy", 0.85),
        ("iris", "perceptron", ["--epochs", "40"], "accuracy", 0.8),
        ("iris", "svm", ["--epochs", "40"], "accuracy", 0.85),
        ("diabetes", "linear", ["--epochs", "40"], "r2", 0.3),
        (
            "breast_cancer",
            "mlp",
            ["--hidden", "16,8", "--activation", "tanh", "--epochs", "10", "--optimizer", "adam", "--lr", "0.01"],
            "accuracy",
            0.9,
        ),
        (
            "digits",
            "cnn",
            ["--epochs", "2", "--hidden", "32", "--batch-size", "64", "--optimizer", "adam", "--lr", "0.01"],
            "accuracy",
            0.85,
        ),
    ],
)
def test_each_model_trains_and_its_predictions_come_back(tmp_path, data, model, extra, metric, low):
    result = run_here("train", data, "--model", model, *extra, "--out", "m", "--json", "--no-plot", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["model"] == model and report["test"][metric] >= low
    meta = cr.io.load_metadata(tmp_path / "m" / "model.safetensors")
    assert meta["model"] == model
    assert (
        meta["loss"]
        == {
            "logistic": "cross_entropy",
            "perceptron": "perceptron",
            "svm": "hinge",
            "linear": "mse",
            "mlp": "cross_entropy",
            "cnn": "cross_entropy",
        }[model]
    )
    network = cr.load(tmp_path / "m" / "model.safetensors")
    layers = [type(m).__name__ for m in network.children()]
    if model in ("logistic", "perceptron", "svm", "linear"):
        assert layers == ["Linear"]  # one layer of neurons
    if model == "cnn":
        assert meta["input_shape"] == [1, 8, 8] and layers.count("Conv2d") == 2
    result = run_here("predict", "--model", "m", data, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    header = result.stdout.splitlines()[0].split(",")
    has_probabilities = model in ("logistic", "mlp", "cnn")
    assert header[:2] == ["index", "prediction"] and any(h.startswith("proba_") for h in header) == has_probabilities
    if data == "iris":
        assert {line.split(",")[1] for line in result.stdout.splitlines()[1:]} <= {"setosa", "versicolor", "virginica"}


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["diabetes", "--model", "logistic"], "--model logistic is a classifier, but diabetes is a regression task"),
        (["iris", "--model", "linear"], "--model linear is for regression, but iris is a classification task"),
        (["wine", "--model", "cnn"], "--model cnn needs images or sequences"),
        (["iris", "--model", "svm", "--hidden", "8"], "--hidden is for --model mlp or cnn"),
        (["iris", "--task", "regression"], "iris is a classification dataset, not regression"),
        (["iris", "--target", "species"], "--target is for CSV files"),
    ],
)
def test_a_model_that_does_not_fit_the_task_is_refused(tmp_path, args, fragment):
    result = run_here("train", *args, cwd=tmp_path)
    assert_clean_error(result, fragment)
    assert result.returncode == 2 and os.listdir(tmp_path) == []


# --- CSV files --------------------------------------------------------------------------------

CITIES = ["Lyon", "Paris", "Nice"]


def house_rows(n: int, seed: int) -> list[dict]:
    """Houses whose price is a known function of area, rooms, city and garden, plus noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        area, rooms = rng.uniform(30, 150), int(rng.integers(1, 6))
        city, garden = CITIES[int(rng.integers(0, 3))], ["yes", "no"][int(rng.integers(0, 2))]
        price = 3 * area + 15 * rooms + 80 * (city == "Paris") + 30 * (garden == "yes") + rng.normal(0, 8)
        rows.append(
            {
                "id": f"h{seed}-{i}",
                "area": f"{area:.1f}",
                "rooms": str(rooms),
                "city": city,
                "garden": garden,
                "price": f"{price:.2f}",
            }
        )
    return rows


def true_price(row: dict) -> float:
    return (
        3 * float(row["area"]) + 15 * int(row["rooms"]) + 80 * (row["city"] == "Paris") + 30 * (row["garden"] == "yes")
    )


def write_rows(path: Path, rows: list[dict], columns: list[str]) -> None:
    lines = [",".join(columns)] + [",".join(str(r.get(c, "")) for c in columns) for r in rows]
    path.write_text("\n".join(lines) + "\n")


MESSY_HOUSES = {"rows": 240, "missing_area": 19, "missing_city": 15, "missing_price": 9, "bad_rows": 1}


@pytest.fixture(scope="module")
def houses(tmp_path_factory):
    """A messy house-price CSV (missing values, '?' cells, a malformed row, rows without a price),
    and `chainrule train houses.csv --target price` run on it once."""
    cwd = tmp_path_factory.mktemp("houses")
    rows = house_rows(MESSY_HOUSES["rows"], seed=0)
    for i, row in enumerate(rows):
        if i % 13 == 0:
            row["area"] = "" if i % 2 else "?"
        if i % 16 == 1:
            row["city"] = "NA"
        if i % 27 == 2:
            row["price"] = ""
    lines = ["id, area, rooms, city, garden, price"]  # blanks around names are stripped
    lines += [",".join(r[c] for c in ("id", "area", "rooms", "city", "garden", "price")) for r in rows]
    lines.insert(50, "x,1,2,Lyon,yes,100,surplus")  # a malformed row
    lines.insert(80, "")  # a blank line
    (cwd / "houses.csv").write_text("\n".join(lines) + "\n")
    result = run(
        "train",
        "houses.csv",
        "--target",
        "price",
        "--drop",
        "id",
        "--epochs",
        "40",
        "--hidden",
        "32",
        "--out",
        "house_model",
        "--no-plot",
        cwd=cwd,
    )
    return cwd, result


def test_train_on_a_messy_csv(houses):
    cwd, result = houses
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    out = cwd / "house_model"
    assert {"model.safetensors", "history.csv", "report.json"} <= set(os.listdir(out))
    report = json.loads((out / "report.json").read_text())
    n = MESSY_HOUSES["rows"] - MESSY_HOUSES["missing_price"]
    assert report["task"] == "regression" and report["target"] == "price" and report["samples"] == n
    assert report["features"] == 2 + 3 + 2  # area, rooms; 3 cities; 2 garden values
    assert report["test"]["r2"] > 0.8 and report["test"]["mae"] < 40  # price spans ~100-600, std ~110
    prep = report["preprocessing"]
    assert prep["area"]["kind"] == "numeric" and prep["area"]["impute"] == "median"
    assert prep["area"]["missing"] == MESSY_HOUSES["missing_area"]  # '' and '?' (no such row lacks a price)
    assert prep["city"] == {**prep["city"], "kind": "categorical", "impute": "most_frequent", "categories": 3}
    assert prep["id"] == {"kind": "dropped", "reason": "left out with --drop"}
    notes = report["notes"]
    assert "houses.csv: skipped 1 row with more fields than the 6 columns of the header" in notes
    assert f"left out {MESSY_HOUSES['missing_price']} row(s) whose target 'price' is missing" in notes
    assert any(note.startswith("task: regression, as the target 'price' holds numbers") for note in notes)
    # the notes go to stderr, before the progress lines
    assert "note: left out 9 row(s) whose target 'price' is missing" in result.stderr.splitlines()
    assert result.stdout.startswith(f"houses.csv: regression of 'price', {n} samples, 7 features; 40 epochs")
    assert "Preprocessing (fitted on the " in result.stdout
    assert "2 numeric column(s): missing values -> the median, then standardised" in result.stdout
    meta = cr.io.load_metadata(out / "model.safetensors")
    assert meta["source"] == "csv" and meta["target"] == "price" and meta["classes"] is None
    assert meta["features"] == ["area", "rooms", "city=Lyon", "city=Nice", "city=Paris", "garden=no", "garden=yes"]
    assert meta["preprocessing"]["numeric"] == ["area", "rooms"]
    assert meta["preprocessing"]["categories"] == [CITIES[:1] + sorted(CITIES[1:]), ["no", "yes"]]


def test_predict_on_a_csv_applies_the_saved_preprocessing(houses):
    cwd, _ = houses
    rows = house_rows(30, seed=1)
    rows[0]["city"] = "Marseille"  # unseen: ignored
    rows[1]["area"] = ""  # missing: the training median
    rows[2]["rooms"] = "many"  # not a number: taken as missing
    for row in rows:
        row["note"] = "extra column"
    write_rows(cwd / "new.csv", rows, ["note", "id", "garden", "city", "rooms", "area"])  # other order, no price
    result = run("predict", "--model", "house_model", "new.csv", "--output", "pred.csv", "--id-column", "id", cwd=cwd)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    with open(cwd / "pred.csv", newline="") as f:
        predicted = list(csv.DictReader(f))
    assert list(predicted[0]) == ["id", "prediction"]
    assert [p["id"] for p in predicted] == [r["id"] for r in rows]
    errors = [abs(float(p["prediction"]) - true_price(r)) for p, r in zip(predicted[3:], rows[3:])]
    assert np.median(errors) < 30
    assert (
        "note: column 'city': 1 value(s) of categories not seen in training (their one-hot columns are all 0)"
        in result.stderr.splitlines()
    )
    assert any(line.startswith("note: column 'rooms': 1 not numbers -> median") for line in result.stderr.splitlines())
    assert "note: ignored column(s) the model was not trained on: 'note'" in result.stderr.splitlines()

    # the same numbers as the model applied by hand to chainrule.cli.tabular.transform of the saved JSON
    from chainrule.cli import tabular

    meta = cr.io.load_metadata(cwd / "house_model" / "model.safetensors")
    X = tabular.transform(tabular.read_csv(str(cwd / "new.csv")).frame, meta["preprocessing"]).astype(np.float32)
    by_hand = cr.train.predict(cr.load(cwd / "house_model" / "model.safetensors"), X)[:, 0]
    np.testing.assert_allclose([float(p["prediction"]) for p in predicted], by_hand, rtol=1e-6)

    # to stdout, and as JSON
    result = run_here("predict", "--model", "house_model", "new.csv", "--quiet", cwd=cwd)
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.splitlines()[0] == "prediction" and len(result.stdout.splitlines()) == 31
    result = run_here("predict", "--model", "house_model", "new.csv", "--json", cwd=cwd)
    printed = json.loads(result.stdout)
    assert printed["rows"] == 30 and len(printed["predictions"]) == 30 and result.stderr == ""
    assert any("not seen in training" in note for note in printed["notes"])


def test_evaluate_on_new_labelled_rows(houses):
    cwd, _ = houses
    more = [{**row, "colour": "red"} for row in house_rows(60, seed=2)]
    write_rows(cwd / "more.csv", more, ["id", "area", "rooms", "city", "garden", "price", "colour"])
    result = run_here("evaluate", "--model", "house_model", "more.csv", "--json", cwd=cwd)
    assert result.returncode == 0, result.stderr
    evaluation = json.loads(result.stdout)
    assert evaluation["samples"] == 60 and evaluation["task"] == "regression"
    assert evaluation["metrics"]["r2"] > 0.9 and evaluation["metrics"]["mae"] < 25
    result = run_here("evaluate", "--model", "house_model", "more.csv", cwd=cwd)
    assert result.stdout.startswith("more.csv, 60 rows: regression")
    assert result.stderr == "note: ignored column(s) the model was not trained on: 'colour'\n"  # 'id': --drop


def test_summary_of_a_csv_model(houses):
    cwd, _ = houses
    result = run("summary", "--model", "house_model", cwd=cwd)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("house_model: mlp for regression, trained on houses.csv, target 'price'")
    assert (
        "columns: 2 numeric (median, standardised), 2 categorical (most frequent, one-hot), 1 left out" in result.stdout
    )
    assert "test: loss " in result.stdout and "Total params: 289" in result.stdout  # 7*32+32 + 32+1
    summary = json.loads(run_here("summary", "--model", "house_model", "--json", cwd=cwd).stdout)
    assert summary["total_params"] == 289 and summary["preprocessing"]["garden"]["kind"] == "categorical"
    assert summary["features"][:2] == ["area", "rooms"]


@pytest.fixture(scope="module")
def clicks(tmp_path_factory):
    """A classification CSV with text labels, a categorical column and missing values."""
    cwd = tmp_path_factory.mktemp("clicks")
    rng = np.random.default_rng(3)
    rows = []
    for i in range(300):
        age, device, hour = rng.uniform(18, 70), ["mobile", "desktop", "tablet"][i % 3], int(rng.integers(0, 24))
        score = -0.08 * (age - 40) + 1.5 * (device == "mobile") - 1.0 * (device == "tablet") + 0.1 * (hour - 12)
        label = "click" if score + rng.normal(0, 0.3) > 0 else "no click"
        rows.append(
            {
                "user": f"u{i}",
                "age": f"{age:.0f}" if i % 19 else "",
                "device": device if i % 23 else "",
                "hour": str(hour),
                "outcome": label,
            }
        )
    write_rows(cwd / "clicks.csv", rows, ["user", "age", "device", "hour", "outcome"])
    result = run(
        "train",
        "clicks.csv",
        "--target",
        "outcome",
        "--model",
        "logistic",
        "--epochs",
        "40",
        "--lr",
        "0.1",
        "--out",
        "click_model",
        "--json",
        "--no-plot",
        cwd=cwd,
    )
    return cwd, result, rows


def test_train_a_classifier_on_a_csv_with_text_labels(clicks):
    _, result, _ = clicks
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # --json: the notes are in the report, not on stderr
    report = json.loads(result.stdout)
    assert report["task"] == "classification" and report["classes"] == ["click", "no click"]
    assert report["test"]["accuracy"] >= 0.85
    assert np.array(report["confusion_matrix"]).shape == (2, 2) and np.sum(report["confusion_matrix"]) == 75
    assert report["preprocessing"]["user"] == {"kind": "dropped", "reason": "every value is different (an identifier?)"}
    assert "column 'user' left out: every value is different (an identifier?)" in report["notes"]
    assert any(note.startswith("task: classification, as the target 'outcome' holds text") for note in report["notes"])


def test_predict_gives_the_original_labels_and_class_probabilities(clicks):
    cwd, _, rows = clicks
    new = [dict(r) for r in rows[:40]]
    new[0]["device"] = "smart tv"  # unseen
    write_rows(cwd / "visits.csv", new, ["user", "hour", "device", "age"])
    result = run_here("predict", "--model", "click_model", "visits.csv", "-o", "p.csv", "--id-column", "user", cwd=cwd)
    assert result.returncode == 0, result.stderr
    with open(cwd / "p.csv", newline="") as f:
        predicted = list(csv.DictReader(f))
    assert list(predicted[0]) == ["user", "prediction", "proba_click", "proba_no click"]
    assert [p["user"] for p in predicted] == [r["user"] for r in new]
    for p in predicted:
        assert p["prediction"] in ("click", "no click")
        pc, pn = float(p["proba_click"]), float(p["proba_no click"])
        assert pc + pn == pytest.approx(1, abs=2e-6)
        assert p["prediction"] == ("click" if pc > pn else "no click")
    assert np.mean([p["prediction"] == r["outcome"] for p, r in zip(predicted, new)]) >= 0.8

    # evaluate: the labels are read back as classes of the model
    write_rows(cwd / "labelled.csv", rows[200:], ["age", "device", "hour", "outcome"])
    evaluation = json.loads(run_here("evaluate", "--model", "click_model", "labelled.csv", "--json", cwd=cwd).stdout)
    assert evaluation["classes"] == ["click", "no click"] and evaluation["metrics"]["accuracy"] >= 0.8


def test_verbose_and_quiet(houses):
    cwd, _ = houses
    result = run_here(
        "train",
        "houses.csv",
        "--target",
        "price",
        "--drop",
        "id",
        "--epochs",
        "2",
        "--out",
        "v",
        "--verbose",
        "--no-plot",
        cwd=cwd,
    )
    assert result.returncode == 0, result.stderr
    assert any(line.split()[:2] == ["area", "numeric"] and "fill" in line for line in result.stdout.splitlines())
    assert any(line.split()[:2] == ["city", "categorical"] for line in result.stdout.splitlines())
    result = run_here(
        "train",
        "houses.csv",
        "--target",
        "price",
        "--drop",
        "id",
        "--epochs",
        "2",
        "--out",
        "q",
        "--quiet",
        "--no-plot",
        cwd=cwd,
    )
    assert result.returncode == 0 and result.stderr == ""
    assert "Preprocessing" not in result.stdout and "Total params" not in result.stdout
    result = run_here("train", "iris", "--quiet", "--verbose", cwd=cwd)
    assert result.returncode == 2 and "not allowed with argument" in result.stderr


# --- bad input --------------------------------------------------------------------------------


def test_a_misspelt_target_in_a_real_process(houses):
    cwd, _ = houses
    result = run("train", "houses.csv", "--target", "prise", "--out", "nope", cwd=cwd)
    assert_clean_error(result, "houses.csv lacks the column 'prise' given as --target; did you mean 'price'?")
    assert result.returncode == 2 and not (cwd / "nope").exists()


@pytest.mark.parametrize(
    "content, args, fragment",
    [
        (None, ["missing.csv", "--target", "y"], "no such file: missing.csv"),
        ("", ["data.csv", "--target", "y"], "data.csv is empty"),
        ("a,y\n", ["data.csv", "--target", "y"], "data.csv has a header but no data rows"),
        ("a,y\n1,2\n", ["data.csv"], "a CSV file needs --target COLUMN, the column to predict; data.csv has: 'a', 'y'"),
        (
            "a,Target\n1,2\n",
            ["data.csv", "--target", "target"],
            "lacks the column 'target' given as --target; did you mean 'Target'?",
        ),
        (
            "a,y\n1,cheap\n2,dear\n",
            ["data.csv", "--target", "y", "--task", "regression"],
            "the target column 'y' of data.csv must hold numbers for regression, but holds text in row 1 ('cheap'), "
            "row 2 ('dear')",
        ),
        ("a,y\n1,x\n2,x\n3,x\n4,x\n", ["data.csv", "--target", "y"], "has only one class, 'x'"),
        ("a,y\n1,\n2,\n", ["data.csv", "--target", "y"], "the target column 'y' of data.csv is empty"),
        ("y\n1\n2\n", ["data.csv", "--target", "y"], "has no column to learn from besides the target 'y'"),
        ("a,y\n1,2\n", ["data.csv", "--target", "y", "--drop", "b"], "lacks the column 'b' given in --drop"),
    ],
)
def test_bad_csv_input_gives_one_clear_line(tmp_path, content, args, fragment):
    if content is not None:
        (tmp_path / "data.csv").write_text(content)
    result = run_here("train", *args, "--out", "m", cwd=tmp_path)
    assert_clean_error(result, fragment)
    assert result.returncode == 2 and not (tmp_path / "m").exists()


def csv_text(columns: dict[str, list]) -> str:
    """CSV text of ``columns`` (name -> cells)."""
    names = list(columns)
    return "\n".join([",".join(names)] + [",".join(str(c) for c in row) for row in zip(*columns.values())]) + "\n"


N = 40
NOT_CLASSES = [
    (  # an identifier
        {"a": range(N), "y": [f"user{i}" for i in range(N)]},
        [],
        "the target column 'y' of data.csv holds 40 distinct values in 40 rows (every value differs): too many to "
        "learn as classes (at most 100, each seen more than once); is it an identifier or free text? choose another "
        "--target",
    ),
    (  # many labels, each repeated
        {"a": range(300), "y": [f"c{i % 150}" for i in range(300)]},
        [],
        "holds 150 distinct values in 300 rows: too many to learn as classes",
    ),
    (  # a quantity taken as classes
        {"a": range(N), "y": [f"{i * 1.5}" for i in range(N)]},
        ["--task", "classification"],
        "holds 40 distinct values in 40 rows (every value differs): too many to learn as classes (at most 100, each "
        "seen more than once); if it is a quantity, pass --task regression",
    ),
    (  # numbers with a few text cells (data row numbers, counting from the first row after the header)
        {"a": range(N), "y": [("n/k" if i == 4 else "unknown" if i in (16, 30) else i * 1.5) for i in range(N)]},
        [],
        "the target column 'y' of data.csv holds numbers, but text in row 5 ('n/k'), row 17 ('unknown'), "
        "row 31 ('unknown'): fix or remove these rows, or pass --task classification",
    ),
    (  # inf, a number too large for a float, NaN spelt out: refused, naming rows and columns
        {"a": [("inf" if i == 2 else "NAN" if i == 9 else i) for i in range(N)], "b": ["1e400"] + list(range(1, N))}
        | {"y": [i % 2 for i in range(N)]},
        [],
        "data.csv holds numbers that cannot be used (infinite, NaN, or beyond +-1e+30 in a feature, 1e+15 in the "
        "target): row 1 column 'b' ('1e400'), row 3 column 'a' ('inf'), row 10 column 'a' ('NAN'); fix or remove "
        "these rows (an empty cell is a missing value: imputed in a feature column, its row left out in the target",
    ),
    (  # finite but overflowing once standardised: refused for the value, not blamed on the learning rate
        {"a": [("1e308" if i == 7 else i) for i in range(N)], "y": [i * 0.5 for i in range(N)]},
        [],
        "row 8 column 'a' ('1e308')",
    ),
    ({"a": range(N), "y": [("-inf" if i == 3 else i * 0.5) for i in range(N)]}, [], "row 4 column 'y' ('-inf')"),
    ({"a": range(N), "y": [("2e20" if i == 3 else i * 0.5) for i in range(N)]}, [], "row 4 column 'y' ('2e20')"),
]


@pytest.mark.parametrize("columns, args, fragment", NOT_CLASSES)
def test_unusable_targets_and_numbers_are_refused_before_training(tmp_path, columns, args, fragment):
    (tmp_path / "data.csv").write_text(csv_text(columns))
    result = run_here("train", "data.csv", "--target", "y", "--epochs", "1", "--quiet", *args, cwd=tmp_path)
    assert_clean_error(result, fragment)
    assert result.returncode == 2 and "--lr" not in result.stderr
    assert os.listdir(tmp_path) == ["data.csv"]


def test_row_numbers_count_blank_lines_and_empty_cells_stay_missing_values(tmp_path):
    rows = [f"{i},{i % 3}" for i in range(30)]
    rows[5] = ","  # an empty row (left out) and empty cells (imputed) are not refused
    rows[6] = ",1"
    text = "a,y\n" + "\n".join(rows[:10]) + "\n\n" + "\n".join(rows[10:]) + "\n"
    (tmp_path / "data.csv").write_text(text)
    result = run_here("train", "data.csv", "--target", "y", "--epochs", "1", "--quiet", "--no-plot", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (tmp_path / "data.csv").write_text(text.replace("\n20,2\n", "\ninf,2\n"))
    result = run_here("train", "data.csv", "--target", "y", "--out", "o", "--quiet", cwd=tmp_path)
    assert_clean_error(result, "row 22 column 'a' ('inf')")  # data row 22: the 21st row after a blank line


@pytest.fixture()
def model_dir(houses, tmp_path):
    """A copy of the house model, to be broken."""
    import shutil

    cwd, _ = houses
    shutil.copytree(cwd / "house_model", tmp_path / "model")
    return tmp_path


@pytest.mark.parametrize("command", ["evaluate", "predict", "summary"])
def test_a_missing_or_corrupt_model_gives_one_clear_line(model_dir, command):
    data = [] if command == "summary" else ["houses.csv"]
    (model_dir / "houses.csv").write_text("area,rooms,city,garden,price\n1,2,Lyon,yes,3\n")
    result = run_here(command, "--model", "nowhere", *data, cwd=model_dir)
    assert_clean_error(result, "no model at nowhere: no such folder", command=command)
    (model_dir / "empty").mkdir()
    result = run_here(command, "--model", "empty", *data, cwd=model_dir)
    assert_clean_error(result, "empty holds no model.safetensors", command=command)
    path = model_dir / "model" / "model.safetensors"
    path.write_bytes(path.read_bytes()[:100])  # truncated
    result = run_here(command, "--model", "model", *data, cwd=model_dir)
    assert_clean_error(result, "model.safetensors is not a readable model", command=command)
    cr.save(cr.nn.Linear(2, 1), path, metadata={"note": "not from chainrule train"})
    result = run_here(command, "--model", "model", *data, cwd=model_dir)
    assert_clean_error(result, "was not written by this version of `chainrule train`", command=command)


@pytest.mark.parametrize("command", ["evaluate", "predict", "summary"])
def test_a_model_with_non_finite_weights_gives_one_clear_line(model_dir, command):
    data = [] if command == "summary" else ["houses.csv"]
    (model_dir / "houses.csv").write_text("area,rooms,city,garden,price\n1,2,Lyon,yes,3\n")
    path = model_dir / "model" / "model.safetensors"
    meta = cr.io.load_metadata(str(path))
    model = cr.load(str(path))
    first = next(model.parameters())
    first.data[0] = np.nan
    cr.save(model, str(path), metadata=meta)
    result = run_here(command, "--model", "model", *data, cwd=model_dir)
    assert_clean_error(result, "holds non-finite weights (NaN or inf)", command=command)


@pytest.mark.parametrize(
    "command, content, extra, fragment",
    [
        (
            "predict",
            "area,rooms,price\n1,2,3\n",
            [],
            "new.csv lacks the columns 'city', 'garden' the model was trained on",
        ),
        (
            "predict",
            "area,rooms,City,garden\n1,2,Lyon,yes\n",
            [],
            "lacks the column 'city' the model was trained on; did you mean 'City'?",
        ),
        (
            "predict",
            "area,rooms,city,garden\n1,2,Lyon,yes\n",
            ["--id-column", "ID"],
            "lacks the column 'ID' given as --id-column",
        ),
        ("evaluate", "area,rooms,city,garden\n1,2,Lyon,yes\n", [], "new.csv lacks the column 'price' (the target)"),
        (
            "evaluate",
            "area,rooms,city,garden,price\n1,2,Lyon,yes,cheap\n",
            [],
            "the target column 'price' of new.csv must hold numbers for regression",
        ),
        (
            "evaluate",
            "area,rooms,city,garden,price\n1,2,Lyon,yes,3\n1,2,Lyon,yes,inf\n",
            [],
            "new.csv holds numbers that cannot be used (infinite, NaN, or beyond +-1e+30 in a feature, 1e+15 in the "
            "target): row 2 column 'price' ('inf')",
        ),
        (
            "predict",
            "area,rooms,city,garden\n1,2,Lyon,yes\n1e400,2,Lyon,yes\n1,-inf,Lyon,yes\n",
            [],
            "new.csv holds numbers that cannot be used (infinite, NaN, or beyond +-1e+30): row 2 column 'area' "
            "('1e400'), row 3 column 'rooms' ('-inf')",
        ),
        ("evaluate", "", [], "new.csv is empty"),
        ("predict", None, [], "no such file: new.csv"),
        (
            "predict",
            "area,rooms,city,garden\n1,2,Lyon,yes\n",
            ["--output", "taken.csv"],
            "taken.csv exists; pass --force to overwrite it",
        ),
    ],
)
def test_bad_input_to_evaluate_and_predict(model_dir, command, content, extra, fragment):
    if content is not None:
        (model_dir / "new.csv").write_text(content)
    (model_dir / "taken.csv").write_text("keep me")
    result = run_here(command, "--model", "model", "new.csv", *extra, cwd=model_dir)
    assert_clean_error(result, fragment, command=command)
    assert result.returncode == 2
    assert (model_dir / "taken.csv").read_text() == "keep me"


def test_evaluate_with_labels_the_model_does_not_know(clicks):
    cwd, _, _ = clicks
    (cwd / "odd.csv").write_text("user,age,device,hour,outcome\nz,30,mobile,3,maybe\n")
    result = run_here("evaluate", "--model", "click_model", "odd.csv", cwd=cwd)
    assert_clean_error(
        result,
        "the target column 'outcome' of odd.csv holds 'maybe', not among the classes the model "
        "was trained on ('click', 'no click')",
        command="evaluate",
    )
    result = run_here("evaluate", "--model", "click_model", "iris", cwd=cwd)
    assert_clean_error(result, "the model was trained on clicks.csv", command="evaluate")


def test_predict_overwrites_its_output_only_with_force(houses):
    cwd, _ = houses
    write_rows(cwd / "few.csv", house_rows(3, seed=4), ["area", "rooms", "city", "garden"])
    (cwd / "out.csv").write_text("old")
    assert run_here("predict", "--model", "house_model", "few.csv", "-o", "out.csv", cwd=cwd).returncode == 2
    assert (cwd / "out.csv").read_text() == "old"
    assert run_here("predict", "--model", "house_model", "few.csv", "-o", "out.csv", "--force", cwd=cwd).returncode == 0
    assert (cwd / "out.csv").read_text().splitlines()[0] == "prediction"


def test_metrics_table_keeps_large_values_apart(tmp_path, capsys):
    # a regression loss of ~1e8 is 14 characters at 4 decimals: the columns must still be separate
    from chainrule.cli.reports import print_metrics

    print_metrics(
        {
            "train": {"loss": 151282608.0, "mae": 10069.5540, "r2": 0.9903},
            "validation": {},
            "test": {"loss": 3.0, "mae": 1.0, "r2": -12345678.5},
        }
    )
    lines = capsys.readouterr().out.strip("\n").splitlines()
    assert lines[0].split() == ["loss", "mae", "r2"]
    assert [line.split() for line in lines[1:]] == [
        ["train", "151282608.0000", "10069.5540", "0.9903"],
        ["test", "3.0000", "1.0000", "-12345678.5000"],
    ]
    ends = {len(line) for line in lines}
    assert len(ends) == 1  # right-aligned columns: every row ends at the same place


def test_the_confusion_matrix_is_left_out_for_many_classes(tmp_path):
    labels = [f"c{i % 60}" for i in range(240)]
    (tmp_path / "data.csv").write_text(csv_text({"a": range(240), "b": [i % 7 for i in range(240)], "y": labels}))
    result = run_here("train", "data.csv", "--target", "y", "--epochs", "1", "--no-plot", "--out", "m", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "m" / "report.json").read_text())
    assert len(report["classes"]) == 60 and "confusion_matrix" not in report
    assert "no confusion matrix: 60 classes (it is shown for at most 50)" in report["notes"]
    assert "confusion matrix" not in result.stdout
    result = run_here("evaluate", "--model", "m", "data.csv", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    evaluation = json.loads(result.stdout)
    assert "confusion_matrix" not in evaluation and any("no confusion matrix" in n for n in evaluation["notes"])
    result = run_here("evaluate", "--model", "m", "data.csv", cwd=tmp_path)
    assert result.returncode == 0 and "confusion matrix" not in result.stdout
    assert "note: no confusion matrix: 60 classes" in result.stderr


def test_predictions_csv_neutralises_formula_cells(tmp_path):
    n = 40
    columns = {
        "id": [["=1+2", "+cmd", "-7", "@SUM(A1)", "u"][i % 5] + ("" if i % 5 == 2 else str(i)) for i in range(n)],
        "a": range(n),
        "y": ["=HYPERLINK(x)" if i % 2 else "-1.5" for i in range(n)],
    }
    (tmp_path / "data.csv").write_text(csv_text(columns))
    train = ("train", "data.csv", "--target", "y", "--drop", "id", "--epochs", "2", "--no-plot", "--out", "m")
    assert run_here(*train, "--quiet", cwd=tmp_path).returncode == 0
    result = run_here("predict", "--model", "m", "data.csv", "--id-column", "id", "-o", "p.csv", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    with open(tmp_path / "p.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0][:2] == ["id", "prediction"]
    ids = [r[0] for r in rows[1:]]
    assert ids[:5] == ["'=1+20", "'+cmd1", "-7", "'@SUM(A1)3", "u4"]  # -7 is a number: kept
    assert {r[1] for r in rows[1:]} <= {"'=HYPERLINK(x)", "-1.5"}
    assert all(not cell.startswith(("=", "+", "@")) for row in rows for cell in row)


def test_train_no_compile_trains_the_same_model(tmp_path):
    from safetensors.numpy import load_file

    for folder, extra in (("compiled", []), ("eager", ["--no-compile"])):
        result = run_here(
            "train", "iris", "--epochs", "3", "--out", folder, "--quiet", "--no-plot", *extra, cwd=tmp_path
        )
        assert result.returncode == 0, result.stderr
    compiled, eager = (load_file(tmp_path / f / "model.safetensors") for f in ("compiled", "eager"))
    assert compiled.keys() == eager.keys()
    for key in compiled:
        np.testing.assert_array_equal(compiled[key], eager[key])
    assert (tmp_path / "compiled" / "history.csv").read_text() == (tmp_path / "eager" / "history.csv").read_text()


@pytest.mark.parametrize("killed", ["before the swap", "before the backup is removed"])
def test_publishing_moves_the_backup_aside_first_so_a_kill_never_leaves_a_new_run_with_its_backup(
    tmp_path, monkeypatch, killed
):
    from chainrule.cli import outputs

    out = str(tmp_path / "m")
    os.makedirs(out)
    (tmp_path / "m" / "report.json").write_text("old")
    staging = outputs.prepare(out)
    with open(os.path.join(staging, "report.json"), "w") as f:
        f.write("new")
    backup = outputs.backup_folder(out)
    os.makedirs(backup)

    class Killed(BaseException):
        pass

    def kill(*args):
        raise Killed

    monkeypatch.setattr(outputs, "replace" if killed == "before the swap" else "_remove", kill)
    with pytest.raises(Killed):
        outputs.publish(staging, out, retire=backup)
    report = (tmp_path / "m" / "report.json").read_text()
    assert not os.path.exists(backup)  # moved aside in one step, before anything else
    assert report == ("old" if killed == "before the swap" else "new")
    assert any(".chainrule-old-" in name for name in os.listdir(tmp_path))  # (named as the swap's own leftovers)
