"""The explanation examples run, print what they promise and write their pictures."""

from __future__ import annotations

import re

from tests.examples.test_examples import assert_png, run_example


def test_explain_digits(tmp_path):
    out = run_example("explain_digits.py", tmp_path / "out", "--epochs", "4")
    accuracy = re.search(r"test accuracy: (\d\.\d+)", out)
    assert accuracy and float(accuracy.group(1)) > 0.85, out
    error = re.search(r"completeness error at most ([\d.]+)%", out)
    assert error and float(error.group(1)) < 10, out
    correlations = [float(c) for c in re.search(r"per image: ([\d. -]+)", out).group(1).split()]
    assert len(correlations) == 8 and min(correlations) > 0.3, out  # two independent methods agree
    assert_png(tmp_path / "out" / "explain_digits.png")


def test_explain_breast_cancer(tmp_path):
    out = run_example("explain_breast_cancer.py", tmp_path / "out")
    assert float(re.search(r"test accuracy: (\d\.\d+)", out).group(1)) > 0.9, out
    for method in ("integrated gradients", "permutation", "LIME"):
        assert re.search(rf"{method}: (.+, ){{4}}", out), out
    rho = float(re.search(r"LIME (-?[\d.]+)", out).group(1))
    assert rho > 0.5, out
    assert_png(tmp_path / "out" / "explain_breast_cancer.png")
    assert_png(tmp_path / "out" / "explain_breast_cancer_lime.png")
