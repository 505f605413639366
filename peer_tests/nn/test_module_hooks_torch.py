"""Module forward hooks and pre-hooks: the same hooks on a chainrule and a PyTorch module give the
same outputs, gradients and call orders (tests/nn/test_module_hooks.py checks chainrule alone)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr

X = np.array([[1.0, 2.0], [-3.0, 0.5]], dtype=np.float32)


def pair():
    """A chainrule and a PyTorch Linear(2, 3) with the same weights."""
    theirs = torch.nn.Linear(2, 3)
    ours = cr.nn.Linear(2, 3)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def run(module, lib, hooks):
    """Register ``hooks`` [(kind, fn, options)], call on X, backward; (output, weight grad, calls)."""
    calls = []
    for kind, fn, options in hooks:
        register = module.register_forward_pre_hook if kind == "pre" else module.register_forward_hook
        register(fn(calls), **options)
    x = lib.tensor(X, requires_grad=True)
    out = module(x)
    out.sum().backward()
    return out.detach().numpy(), module.weight.grad.numpy(), x.grad.numpy(), calls


CASES = {
    "output replaced": [("post", lambda calls: lambda m, a, o: o * 3 + 1, {})],
    "two replacements in order": [
        ("post", lambda calls: lambda m, a, o: o * 2, {}),
        ("post", lambda calls: lambda m, a, o: o - 1, {}),
    ],
    "prepended": [
        ("post", lambda calls: lambda m, a, o: o * 2, {}),
        ("post", lambda calls: lambda m, a, o: o - 1, {"prepend": True}),
    ],
    "pre-hook, one value": [("pre", lambda calls: lambda m, a: a[0] * -2, {})],
    "pre-hook, a tuple": [("pre", lambda calls: lambda m, a: (a[0] + 1,), {})],
    "pre-hooks prepended": [
        ("pre", lambda calls: lambda m, a: (a[0] * 2,), {}),
        ("pre", lambda calls: lambda m, a: (a[0] + 1,), {"prepend": True}),
    ],
    "with kwargs": [
        ("pre", lambda calls: lambda m, a, k: ((a[0] * 0.5,), k), {"with_kwargs": True}),
        ("post", lambda calls: lambda m, a, k, o: calls.append(sorted(k)) or o.exp(), {"with_kwargs": True}),
    ],
    "observing only": [
        ("pre", lambda calls: lambda m, a: calls.append(("pre", a[0].shape[0])), {}),
        ("post", lambda calls: lambda m, a, o: calls.append(("post", tuple(o.shape))), {}),
    ],
}


@pytest.mark.parametrize("case", list(CASES))
def test_hooks_do_what_they_do_in_pytorch(case):
    ours, theirs = pair()
    got = run(ours, cr, CASES[case])
    want = run(theirs, torch, CASES[case])
    for a, b in zip(got[:3], want[:3]):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    assert got[3] == [tuple(c) if isinstance(c, tuple) else c for c in want[3]]


def test_always_call_runs_on_an_error_as_in_pytorch():
    seen = {}
    for lib in (cr, torch):

        class Fails(lib.nn.Module):
            def forward(self, x):
                raise ValueError("broken")

        m = Fails()
        calls = seen[lib.__name__] = []
        m.register_forward_hook(lambda mod, a, o, calls=calls: calls.append(("always", o)), always_call=True)
        m.register_forward_hook(lambda mod, a, o, calls=calls: calls.append(("plain", o)))
        with pytest.raises(ValueError, match="broken"):
            m(lib.tensor(X))
    assert seen["chainrule"] == seen["torch"] == [("always", None)]
