"""examples/gradient_flow.py: in a 10-layer MLP the sigmoid network's early layers starve (their
gradients are millions of times smaller than the last layer's) and it learns nothing, while the
same network with ReLU and He initialisation passes the gradient back and learns (issue 16)."""

from __future__ import annotations

import re

from tests.examples.test_examples import assert_png, run_example


def test_gradient_flow_script(tmp_path):
    out = run_example("gradient_flow.py", tmp_path / "out", "--epochs", "5")
    rows = re.findall(r"^\| (\d+) \| (\S+) \| (\S+) \| (\S+) \| (\S+) \|$", out, flags=re.MULTILINE)
    assert [int(r[0]) for r in rows] == list(range(1, 11)), out
    sigmoid = [float(r[1]) for r in rows]
    relu = [float(r[2]) for r in rows]
    sigmoid_ratio = [float(r[3]) for r in rows]
    assert all(a < b for a, b in zip(sigmoid, sigmoid[1:])), out  # smaller at every layer towards the input
    assert sigmoid[0] / sigmoid[-1] < 1e-5, out  # the first layer starves
    assert relu[0] / relu[-1] > 0.05, out  # ReLU + He: the gradient arrives
    assert sigmoid_ratio[0] < 1e-8 < relu[0], out  # the sigmoid's first layer hardly moves
    accuracy = dict(re.findall(r"^(sigmoid|ReLU)\S*, .* epochs ([\d.]+)%$", out, flags=re.MULTILINE))
    assert float(accuracy["sigmoid"]) < 20 and float(accuracy["ReLU"]) > 80, out
    assert_png(tmp_path / "out" / "gradient_flow.png")
