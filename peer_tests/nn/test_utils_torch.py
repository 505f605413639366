"""chainrule.nn.utils against torch.nn.utils: the same vector from the same weights, the same
weights from the same vector, the same clipping."""

from __future__ import annotations

import numpy as np
import torch

import chainrule as cr


def twins():
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2)).double()
    ours = cr.nn.Sequential(cr.nn.Linear(3, 4), cr.nn.Tanh(), cr.nn.Linear(4, 2)).to("float64")
    for p, q in zip(ours.parameters(), theirs.parameters()):
        p.numpy()[...] = q.detach().numpy()
    return ours, theirs


def test_parameters_to_vector_and_back_match_torch():
    ours, theirs = twins()
    a = cr.nn.utils.parameters_to_vector(ours.parameters()).numpy()
    b = torch.nn.utils.parameters_to_vector(theirs.parameters()).detach().numpy()
    np.testing.assert_array_equal(a, b)
    new = np.random.default_rng(0).normal(size=a.size)
    cr.nn.utils.vector_to_parameters(cr.tensor(new), ours.parameters())
    torch.nn.utils.vector_to_parameters(torch.tensor(new), theirs.parameters())
    for p, q in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_array_equal(p.numpy(), q.detach().numpy())


def test_clipping_under_nn_utils_matches_torch():
    ours, theirs = twins()
    x = np.random.default_rng(1).normal(size=(5, 3))
    ours(cr.tensor(x)).sum().backward()
    theirs(torch.tensor(x)).sum().backward()
    norm = cr.nn.utils.clip_grad_norm_(ours.parameters(), max_norm=0.5)
    torch_norm = torch.nn.utils.clip_grad_norm_(theirs.parameters(), max_norm=0.5)
    np.testing.assert_allclose(norm, float(torch_norm), rtol=1e-12)
    for p, q in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-12)
