"""Every public name is documented with a runnable example (CONTRIBUTING.md): a docstring, and in it
at least one ``>>>`` example, which tests/test_doctests.py then runs.

Public names: the ``__all__`` of the package and of each public module below (or, where a module
has no ``__all__``, the names it defines without a leading underscore); classes and functions
defined in chainrule (the NumPy dtypes re-exported as ``cr.float32`` and the like are NumPy's).
"""

from __future__ import annotations

import importlib
import inspect

import pytest

PUBLIC_MODULES = [
    "chainrule", "chainrule.nn", "chainrule.nn.functional", "chainrule.nn.init", "chainrule.nn.utils",
    "chainrule.optim",
    "chainrule.optim.lr_scheduler", "chainrule.data", "chainrule.train", "chainrule.train.metrics",
    "chainrule.io", "chainrule.io.files", "chainrule.viz", "chainrule.estimators", "chainrule.compiler",
    "chainrule.interpreters", "chainrule.random", "chainrule.memory",
    "chainrule.explain.landscape", "chainrule.viz.training",
    "chainrule.explain", "chainrule.viz.chain_rule", "chainrule.onnx",
]  # fmt: skip


def public_names() -> dict[str, object]:
    found: dict[int, tuple[str, object]] = {}
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        names = getattr(module, "__all__", None)
        if names is None:
            names = [
                n
                for n, o in vars(module).items()
                if not n.startswith("_") and getattr(o, "__module__", None) == module_name
            ]
        for name in names:
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or inspect.isroutine(obj)):
                continue
            if not getattr(obj, "__module__", "").startswith("chainrule"):
                continue
            found.setdefault(id(obj), (f"{module_name}.{name}", obj))
    return dict(found.values())


NAMES = public_names()


def test_the_public_api_is_large_enough_to_mean_something():
    assert len(NAMES) > 250


@pytest.mark.parametrize("name", sorted(NAMES))
def test_public_name_has_a_docstring_with_an_example(name):
    obj = NAMES[name]
    doc = obj.__doc__ or ""
    assert inspect.getdoc(obj), f"{name} has no docstring"
    assert ">>>" in doc, f"{name}'s docstring has no runnable example (a '>>>' line)"
