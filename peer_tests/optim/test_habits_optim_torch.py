"""The optimisers' signatures are PyTorch's: the same parameters, kinds (positional or keyword-only)
and defaults, so that a call written for torch.optim binds every value to the same meaning."""

from __future__ import annotations

import inspect

import pytest
import torch

import chainrule as cr

NAMES = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "NAdam", "RAdam", "Adamax", "Adadelta", "Rprop", "ASGD", "LBFGS"]


@pytest.mark.parametrize("name", NAMES)
def test_the_signature_is_pytorchs(name):
    def spec(cls):
        return [(p.name, p.kind, p.default) for p in inspect.signature(cls).parameters.values()][1:]

    assert spec(getattr(cr.optim, name)) == spec(getattr(torch.optim, name))


def test_named_parameters_give_the_same_groups_and_steps():
    ours, theirs = cr.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.numpy()))
        theirs.bias.copy_(torch.tensor(ours.bias.numpy()))
    a = cr.optim.Adam(ours.named_parameters(), lr=0.1, foreach=False, fused=False)
    b = torch.optim.Adam(theirs.named_parameters(), lr=0.1, foreach=False, fused=False)
    assert a.param_groups[0]["param_names"] == b.param_groups[0]["param_names"]
    for _ in range(3):
        x = torch.ones(4, 3)
        cr.nn.functional.mse_loss(ours(cr.tensor(x.numpy())), cr.zeros(4, 2)).backward()
        torch.nn.functional.mse_loss(theirs(x), torch.zeros(4, 2)).backward()
        a.step()
        b.step()
        a.zero_grad()
        b.zero_grad()
    assert abs(ours.weight.numpy() - theirs.weight.detach().numpy()).max() < 1e-6
