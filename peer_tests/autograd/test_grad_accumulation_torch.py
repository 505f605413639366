"""Gradient accumulation against torch: a second backward adds into the same ``.grad`` in place,
so a reference to it taken earlier sees the sum, and ``zero_grad(set_to_none=False)`` of a module
or an optimiser zeroes that same ``.grad`` in place."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr


def accumulation(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    kept = x.grad
    (x * x).sum().backward()
    return kept is x.grad, np.asarray(kept.detach().numpy()).tolist()


def test_a_second_backward_adds_into_the_grad_a_caller_kept_as_torch():
    assert accumulation(cr) == accumulation(torch) == (True, [5.0, 7.0])


@pytest.mark.parametrize("owner", ["module", "optimizer"])
def test_zero_grad_set_to_none_false_zeroes_the_same_grad_as_torch(owner):
    def run(lib):
        lib.manual_seed(0)
        model = lib.nn.Linear(2, 1)
        opt = lib.optim.SGD(model.parameters(), lr=0.1)
        model(lib.ones(3, 2)).sum().backward()
        kept = model.weight.grad
        (model if owner == "module" else opt).zero_grad(set_to_none=False)
        zeroed = kept is model.weight.grad, kept.detach().numpy().tolist()
        model(lib.ones(3, 2)).sum().backward()
        return zeroed, kept is model.weight.grad, kept.detach().numpy().tolist()

    assert run(cr) == run(torch) == ((True, [[0.0, 0.0]]), True, [[3.0, 3.0]])
