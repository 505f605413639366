"""BatchNorm1d/2d and LayerNorm against torch.nn with copied affine parameters: train and eval values,
gradients, running statistics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn
from peer_tests.support import to_torch
from tests.nn.support import data, leaf
from tests.nn.test_normalization import affine_batchnorm, affine_layernorm


@pytest.mark.parametrize("shape", [(16, 3), (8, 3, 5)])
def test_batchnorm1d_matches_torch_train_and_eval(shape):
    bn = affine_batchnorm(nn.BatchNorm1d, 3, momentum=0.3)
    ref = torch.nn.BatchNorm1d(3, momentum=0.3).double()
    with torch.no_grad():
        ref.weight.copy_(to_torch(bn.weight))
        ref.bias.copy_(to_torch(bn.bias))
    for step in range(3):
        x = data(*shape, seed=step) * 3 + 1
        g = data(*shape, seed=step + 10)
        xs, xt = leaf(x), to_torch(x).requires_grad_(True)
        bn.zero_grad()
        ref.zero_grad()
        out_s, out_t = bn(xs), ref(xt)
        out_s.backward(cr.tensor(g))
        out_t.backward(to_torch(g))
        np.testing.assert_allclose(out_s.numpy(), out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(bn.weight.grad.numpy(), ref.weight.grad.numpy(), rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(bn.bias.grad.numpy(), ref.bias.grad.numpy(), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(bn.running_mean.numpy(), ref.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.numpy(), ref.running_var.numpy(), rtol=1e-12)
    bn.eval()
    ref.eval()
    x = data(*shape, seed=50)
    np.testing.assert_allclose(bn(cr.tensor(x)).numpy(), ref(to_torch(x)).detach().numpy(), rtol=1e-10, atol=1e-12)


def test_batchnorm2d_matches_torch():
    bn = affine_batchnorm(nn.BatchNorm2d, 3)
    ref = torch.nn.BatchNorm2d(3).double()
    with torch.no_grad():
        ref.weight.copy_(to_torch(bn.weight))
        ref.bias.copy_(to_torch(bn.bias))
    x = data(4, 3, 5, 6)
    np.testing.assert_allclose(bn(cr.tensor(x)).numpy(), ref(to_torch(x)).detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(bn.running_var.numpy(), ref.running_var.numpy(), rtol=1e-12)


@pytest.mark.parametrize("shape, normalized", [((5, 4), 4), ((2, 3, 4), (3, 4))])
def test_layernorm_matches_torch(shape, normalized):
    ln = affine_layernorm(normalized)
    ref = torch.nn.LayerNorm(normalized).double()
    with torch.no_grad():
        ref.weight.copy_(to_torch(ln.weight))
        ref.bias.copy_(to_torch(ln.bias))
    x, g = data(*shape), data(*shape, seed=3)
    xs, xt = leaf(x), to_torch(x).requires_grad_(True)
    out_s, out_t = ln(xs), ref(xt)
    out_s.backward(cr.tensor(g))
    out_t.backward(to_torch(g))
    np.testing.assert_allclose(out_s.numpy(), out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(ln.weight.grad.numpy(), ref.weight.grad.numpy(), rtol=1e-8, atol=1e-10)
