"""A Conv2d network on the digits images reaches at least 98% test accuracy (issue 5).

The network and its training recipe live in one place, examples/digits_cnn.py; this test runs
that script as a learner would (a fresh interpreter, fixed seed) and reads what it prints.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "examples" / "digits_cnn.py"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_conv2d_network_on_digits_reaches_98_percent(tmp_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(tmp_path / "out"), "--quiet", "--seed", "0"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    seconds = time.perf_counter() - start
    assert result.returncode == 0, f"digits_cnn.py failed:\n{result.stdout}\n{result.stderr}"
    out = result.stdout

    accuracy = re.search(r"test accuracy: (\d\.\d+)", out)
    assert accuracy, out
    assert float(accuracy.group(1)) >= 0.98, out
    # the summary: two Conv2d layers feeding one Linear, 160 + 32 + 4,640 + 64 + 5,130 parameters
    assert "Total params: 10,026" in out
    for layer in ("(Conv2d)", "(BatchNorm2d)", "(MaxPool2d)", "(Linear)"):
        assert layer in out
    assert "(None, 32, 4, 4)" in out  # the pooled feature maps
    assert "train 1437, test 360 images of shape (1, 8, 8)" in out
    assert "trained 12 epochs" in out
    png = tmp_path / "out" / "digits_cnn_loss.png"
    assert png.is_file() and png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 1000
    print(f"digits CNN: {accuracy.group(1)} test accuracy, {seconds:.1f}s including start-up")
