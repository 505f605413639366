"""The order in which a backward runs gradient hooks, module backward hooks and post-accumulate-grad
hooks: chainrule's walk takes the nodes made last first, as PyTorch's engine does, so code that
pairs forward-hook activations with backward-hook gradients (per-sample gradients, K-FAC) works
unchanged."""

from __future__ import annotations

import numpy as np
import torch

import chainrule as cr


def events_of(lib, nn):
    events = []
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    w = lib.tensor([0.5, -1.0], requires_grad=True)
    layer = nn.Linear(2, 2)
    with lib.no_grad():
        layer.weight.copy_(lib.tensor([[1.0, -2.0], [0.5, 3.0]]))
        layer.bias.copy_(lib.tensor([0.25, -0.75]))
    layer.register_forward_hook(lambda m, args, out: events.append(("forward", float(args[0].detach().sum()))))
    layer.register_full_backward_hook(lambda m, gi, go: events.append(("module", round(float(go[0].sum()), 4))))
    w.register_post_accumulate_grad_hook(lambda p: events.append(("w", p.grad.numpy().round(4).tolist())))
    parts = []
    for k in (1.0, 2.0, 3.0):
        h = layer(x * k) * (w * k)
        h.register_hook(lambda g, k=k: events.append(("tensor", k)))
        parts.append(h * (10.0 * k))
    (parts[0] + parts[1] + parts[2]).sum().backward()
    return events


def test_hooks_run_in_pytorchs_order():
    ours = events_of(cr, cr.nn)
    theirs = events_of(torch, torch.nn)
    assert [e[0] for e in ours] == [e[0] for e in theirs]
    assert [e for e in ours if e[0] in ("forward", "tensor")] == [e for e in theirs if e[0] in ("forward", "tensor")]
    theirs_w = next(e[1] for e in theirs if e[0] == "w")
    ours_w = next(e[1] for e in ours if e[0] == "w")
    np.testing.assert_allclose(ours_w, theirs_w, rtol=1e-5)
