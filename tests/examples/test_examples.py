"""Each script in examples/ runs top to bottom, writes its pictures and prints the promised results."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import matplotlib  # noqa: F401  (a test dependency: the examples draw with it)

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = REPO_ROOT / "examples"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run_example(name: str, out: Path, *args: str) -> str:
    """Run examples/<name> with --out ``out`` in a fresh interpreter; return its stdout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name), "--out", str(out), *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"{name} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def assert_png(path: Path) -> None:
    assert path.is_file(), f"{path} was not written"
    assert path.stat().st_size > 1000 and path.read_bytes()[:8] == PNG_MAGIC


def test_xor(tmp_path):
    out = run_example("xor.py", tmp_path / "out")
    assert re.search(r"tanh network: .*accuracy 100%", out)
    identity = re.search(r"identity network: .*accuracy (\d+)%", out)
    assert identity and int(identity.group(1)) < 100
    assert "XOR solved: tanh True, identity False" in out
    gaps = re.search(r"largest difference (\S+) before training, (\S+) after", out)
    assert gaps and float(gaps.group(1)) < 1e-5 and float(gaps.group(2)) < 1e-5
    assert_png(tmp_path / "out" / "xor_decision_boundaries.png")


def test_digits_mlp(tmp_path):
    out = run_example("digits_mlp.py", tmp_path / "out", "--quiet")
    accuracy = re.search(r"test accuracy: (\d\.\d+)", out)
    assert accuracy, out
    assert float(accuracy.group(1)) >= 0.97
    assert "Total params: 9,610" in out  # the summary: 64*128 + 128 + 128*10 + 10
    assert "confusion matrix" in out
    assert re.search(r"EarlyStopping: val_loss did not improve", out)
    assert_png(tmp_path / "out" / "digits_loss.png")


def test_gd_vs_sgd(tmp_path):
    out = run_example("gd_vs_sgd.py", tmp_path / "out")
    rows = re.findall(
        r"\(batch_size=(\w+)\)\s+(\d+) updates/epoch\s+([\d.]+) ms/epoch\s+train loss ([\d.]+)"
        r"\s+test accuracy ([\d.]+)",
        out,
    )
    assert [r[0] for r in rows] == ["None", "1", "32"], out
    updates = [int(r[1]) for r in rows]
    assert updates == [1, 455, 15]
    train_loss = {r[0]: float(r[3]) for r in rows}
    assert train_loss["1"] < train_loss["32"] < train_loss["None"]  # more updates per epoch, lower loss
    assert all(float(r[4]) > 0.9 for r in rows)
    assert_png(tmp_path / "out" / "gd_vs_sgd.png")
