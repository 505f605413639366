"""Linear against torch.nn.Linear with copied weights: values and gradients."""

from __future__ import annotations

import numpy as np
import torch

import chainrule as cr
from peer_tests.support import to_torch
from tests.nn.support import data, leaf
from tests.nn.test_linear import linear64


def test_linear_matches_torch_values_and_gradients():
    layer = linear64(6, 4)
    x = data(3, 2, 6)
    g = data(3, 2, 4, seed=2)
    ours = layer(leaf(x))
    ours.backward(cr.tensor(g))

    ref = torch.nn.Linear(6, 4).double()
    with torch.no_grad():
        ref.weight.copy_(to_torch(layer.weight))
        ref.bias.copy_(to_torch(layer.bias))
    xt = to_torch(x).requires_grad_(True)
    theirs = ref(xt)
    theirs.backward(to_torch(g))
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(layer.weight.grad.numpy(), ref.weight.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(layer.bias.grad.numpy(), ref.bias.grad.numpy(), rtol=1e-12)
