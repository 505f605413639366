"""chainrule.nn.functional's parameter names against torch.nn.functional's: code that passes
PyTorch's arguments by keyword (``F.softplus(input=t, beta=2)``) runs on chainrule as written."""

from __future__ import annotations

import inspect
import re

import pytest
import torch.nn.functional as TF

import chainrule.nn.functional as F

# chainrule's own helpers, in F but not PyTorch functions
OURS_ONLY = {"check_reduction", "legacy_reduction", "l1_penalty", "l2_penalty", "hinge_loss", "step", "lift", "pure"}

# Names chainrule adds: its seeded generator (dropout), NumPy's axis spelling beside PyTorch's dim,
# and PyTorch's deprecated size_average and reduce, which every loss here takes by keyword.
LEGACY = {"size_average", "reduce"}
EXTRA_NAMES = {"generator", "axis", *LEGACY}

# PyTorch's parameters chainrule does not take yet (a call naming one raises a TypeError naming it).
# The test fails when this list is out of date in either direction.
KNOWN_GAPS = {
    "interpolate": {"align_corners", "recompute_scale_factor", "antialias"},
}


def torch_names(name: str) -> list[str] | None:
    """The parameter names of PyTorch's function: from its signature, or (a builtin) from the
    first line of its docstring, ``name(a, b=1) -> Tensor``."""
    function = getattr(TF, name)
    try:
        return [p for p in inspect.signature(function).parameters if p not in ("args", "kwargs")] or None
    except (TypeError, ValueError):
        found = re.match(rf"\s*{name}\((.*?)\)", function.__doc__ or "", re.DOTALL)  # (it may span lines)
        if not found:
            return None
        return [a.split("=")[0].strip() for a in found.group(1).split(",") if a.strip() not in ("*", "")]


def shared_functions() -> list[str]:
    names = []
    for name in sorted(vars(F)):
        value = getattr(F, name)
        if name.startswith("_") or name in OURS_ONLY or isinstance(value, type) or not callable(value):
            continue
        if getattr(value, "__module__", "").startswith("chainrule") and hasattr(TF, name):
            names.append(name)
    return names


def test_the_comparison_covers_the_functions_pytorch_code_calls():
    covered = set(shared_functions())
    assert {"softplus", "leaky_relu", "gelu", "dropout", "linear", "softmax", "cross_entropy", "pad"} <= covered
    assert len(covered) > 60


@pytest.mark.parametrize("name", shared_functions())
def test_parameter_names_are_pytorchs(name):
    theirs = torch_names(name)
    if theirs is None:  # (max_pool1d/2d: a dispatcher without names in torch)
        theirs = [p for p in inspect.signature(getattr(TF, f"{name}_with_indices")).parameters]
        theirs.remove("return_indices")
    mine = list(inspect.signature(getattr(F, name)).parameters)
    assert mine[0] == theirs[0], f"{name}: the first parameter is {mine[0]!r}, PyTorch's is {theirs[0]!r}"
    invented = [p for p in mine if p not in theirs and p not in EXTRA_NAMES]
    assert not invented, f"{name}: parameters PyTorch does not have: {invented}"
    missing = {p for p in theirs if p not in mine}
    assert missing == KNOWN_GAPS.get(name, set()), f"{name}: PyTorch's parameters missing here: {missing}"
    # the parameters before PyTorch's deprecated size_average in PyTorch's order (from there on the
    # losses here differ by design: size_average and reduce are keyword-only, and a True/False in
    # reduction's place raises, naming them)
    # (axis is NumPy's spelling in dim's place: a positional argument means the same in both)
    before = theirs[: theirs.index("size_average")] if "size_average" in theirs else theirs
    order = [p for p in before if p in mine]
    positional = [
        "dim" if p.name == "axis" else p.name
        for p in inspect.signature(getattr(F, name)).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    assert positional[: len(order)] == order, f"{name}: {mine} against PyTorch's {theirs}"


def test_keyword_calls_in_pytorchs_words_run():
    import chainrule as cr

    t = cr.tensor([-1.0, 0.5, 2.0])
    assert F.softplus(input=t, beta=2.0).shape == (3,)
    assert F.leaky_relu(input=t, negative_slope=0.2).numpy().tolist()[0] == pytest.approx(-0.2)
    assert F.gelu(input=t, approximate="tanh").shape == (3,)
    assert F.dropout(input=t, p=0.0).numpy().tolist() == t.numpy().tolist()
    u = cr.ones(4)
    assert F.dropout(u, 0.5, True, True) is u  # PyTorch's 4th positional: inplace (not a generator seed)
    assert F.softmax(input=t, dim=0).shape == (3,)
