"""``grad_fn``, ``name()`` and ``next_functions`` walk the same graph as PyTorch's for the same
expressions (the tutorials print them to show what autograd recorded)."""

from __future__ import annotations

import numpy as np
import torch

import chainrule as cr


def _names(fn):
    if fn is None:
        return None
    # (PyTorch's leaf node is named "torch::autograd::AccumulateGrad"; chainrule's "AccumulateGrad")
    return (fn.name().removeprefix("torch::autograd::"), [_names(f) for f, _ in fn.next_functions])


def test_the_graph_of_a_neuron_reads_as_pytorchs():
    def neuron(lib, w, b, x):
        return (lib.sigmoid(w * x + b) - 1.0).exp().sum()

    w, b, x = np.array([0.5, -1.0]), np.array([0.25, 0.1]), np.array([2.0, 3.0])
    ours = neuron(cr, cr.tensor(w, requires_grad=True), cr.tensor(b, requires_grad=True), cr.tensor(x))
    theirs = neuron(torch, torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True), torch.tensor(x))
    assert _names(ours.grad_fn) == _names(theirs.grad_fn)
    assert str(ours.grad_fn).startswith("<SumBackward0") and str(theirs.grad_fn).startswith("<SumBackward0")
