"""Every docstring example in the package runs and prints what it shows (CONTRIBUTING.md: every
public name has a runnable example, and the examples are tested)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import tempfile

import numpy as np
import pytest

import chainrule

MODULES = ["chainrule"] + sorted(
    info.name
    for info in pkgutil.walk_packages(chainrule.__path__, prefix="chainrule.")
    if not info.name.endswith(".__main__")  # importing it runs the command line
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # (the examples' mkdtemp folders: pytest's, removed)
    module = importlib.import_module(name)
    with np.errstate(all="ignore"):  # examples may show inf/NaN on purpose (detect_anomaly)
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False, report=True)
    assert result.failed == 0, f"{result.failed} of {result.attempted} docstring examples failed in {name}"


def test_the_core_modules_have_examples():
    for name in (
        "chainrule",
        "chainrule.tensor",
        "chainrule.autograd",
        "chainrule.ops.elementwise",
        "chainrule.ops.reduce",
        "chainrule.ops.shape",
        "chainrule.ops.linalg",
    ):
        finder = doctest.DocTestFinder()
        examples = sum(len(t.examples) for t in finder.find(importlib.import_module(name)))
        assert examples > 0, f"{name} has no docstring example"
