"""Activation layers against torch: values and gradients (the default suite checks them against NumPy)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import chainrule as cr
from chainrule import nn
from peer_tests.support import to_torch
from tests.nn.support import data, leaf
from tests.nn.test_activation import away_from_zero

# (layer, the torch function it stands for)
CASES = [
    (nn.Sigmoid(), torch.sigmoid),
    (nn.Tanh(), torch.tanh),
    (nn.ReLU(), torch.relu),
    (nn.LeakyReLU(), TF.leaky_relu),
    (nn.LeakyReLU(0.2), lambda t: TF.leaky_relu(t, 0.2)),
    (nn.ELU(), TF.elu),
    (nn.ELU(0.5), lambda t: TF.elu(t, 0.5)),
    (nn.GELU(), TF.gelu),  # (the exact form, PyTorch's default)
    (nn.GELU(approximate="tanh"), lambda t: TF.gelu(t, approximate="tanh")),
    (nn.Softplus(), TF.softplus),
    (nn.Softplus(2.0), lambda t: TF.softplus(t, beta=2.0)),
    (nn.Softmax(dim=1), lambda t: torch.softmax(t, 1)),
    (nn.Softmax(dim=0), lambda t: torch.softmax(t, 0)),
    (nn.Softmax(), lambda t: torch.softmax(t, -1)),
    (nn.LogSoftmax(dim=1), lambda t: torch.log_softmax(t, 1)),
    (nn.LogSoftmax(dim=0), lambda t: torch.log_softmax(t, 0)),
]


@pytest.mark.parametrize("layer, torch_fn", CASES, ids=[repr(layer) for layer, _ in CASES])
def test_values_and_gradients_match_torch(layer, torch_fn):
    x = away_from_zero(4, 5, seed=5)
    g = data(4, 5, seed=6)
    xs = leaf(x)
    layer(xs).backward(cr.tensor(g))
    xt = to_torch(x).requires_grad_(True)
    out_t = torch_fn(xt)
    out_t.backward(to_torch(g))
    np.testing.assert_allclose(layer(cr.tensor(x)).numpy(), out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-12)
