"""examples/one_neuron_models.py: the four one-neuron models and the perceptron's outlier."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("sklearn")

from tests.examples.test_examples import assert_png, run_example  # noqa: E402


def test_one_neuron_models(tmp_path):
    out = run_example("one_neuron_models.py", tmp_path / "out")
    networks = dict(re.findall(r"^(\w+)\s+w = .* network (.+)$", out, flags=re.MULTILINE))
    assert networks == {
        "Perceptron": "Linear -> Step",
        "LogisticRegression": "Linear -> Sigmoid",
        "LinearSVC": "Linear -> Identity",
        "LinearRegression": "Linear -> Identity",
    }
    accuracies = [int(a) for a in re.findall(r"accuracy (\d+)%  network", out)]
    assert len(accuracies) == 4 and min(accuracies) >= 95
    swing = re.search(r"perceptron with the outlier: .* from (\d+)% to (\d+)%; .* epochs: True", out)
    steady = re.search(r"logistic regression with the outlier: accuracy on the other points (\d+)%", out)
    assert swing and steady, out
    assert int(swing.group(1)) < 90 <= int(steady.group(1))  # the perceptron swings, the sigmoid holds
    assert_png(tmp_path / "out" / "one_neuron_models.png")  # both rows, one picture
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["one_neuron_models.png"]
