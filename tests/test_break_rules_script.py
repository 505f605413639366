"""scripts/break_rules.py breaks gradient rules on purpose to show the tests notice; its mutations
must keep pointing at real code (each rule's text found exactly once), or it would test nothing."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("break_rules", ROOT / "scripts" / "break_rules.py")
break_rules = importlib.util.module_from_spec(spec)
spec.loader.exec_module(break_rules)


@pytest.mark.parametrize("name, file, old, new", break_rules.MUTATIONS, ids=[m[0] for m in break_rules.MUTATIONS])
def test_each_mutation_targets_one_place_in_a_rule(name, file, old, new):
    assert (ROOT / file).read_text().count(old) == 1, f"{name}: its text is no longer in {file}"
    assert old != new


def test_at_least_ten_ops_are_broken_including_the_four_that_once_went_unnoticed():
    names = " ".join(m[0] for m in break_rules.MUTATIONS)
    assert len(break_rules.MUTATIONS) >= 10
    for op in ("Softmax", "LogSoftmax", "Relu", "Neg"):
        assert f"{op}:" in names
