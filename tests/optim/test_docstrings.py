"""The docstring examples of chainrule.optim run and show what they say."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "optimizer",
    "sgd",
    "adam",
    "rmsprop",
    "adagrad",
    "nadam",
    "radam",
    "adamax",
    "adadelta",
    "rprop",
    "asgd",
    "lbfgs",
    "lr_scheduler",
    "clip",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"chainrule.optim.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"chainrule.optim.{name} has no docstring example"
    assert result.failed == 0


def test_every_public_class_and_function_has_an_example():
    import chainrule.optim as optim

    finder = doctest.DocTestFinder(recurse=False)
    missing = []
    for name in optim.__all__:
        obj = getattr(optim, name)
        if name in ("lr_scheduler", "LRScheduler", "GD"):
            continue
        if not any(t.examples for t in finder.find(obj, name)):
            missing.append(name)
    assert not missing, f"no docstring example: {missing}"
