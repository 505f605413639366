"""ParameterList/ParameterDict, Unflatten, the padding layers and F.pad against torch.nn: reprs,
state_dict keys, values and gradients with copied weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from peer_tests.support import to_torch
from tests.nn.support import data, leaf


def test_parameter_containers_have_pytorchs_keys_and_train_alike():
    weights = [data(3, 3, seed=k) for k in range(2)]
    scale = data(3, seed=5)

    def build(lib, module):
        model = module.Module()
        model.ws = module.ParameterList([module.Parameter(lib(w)) for w in weights])
        model.extra = module.ParameterDict({"scale": module.Parameter(lib(scale)), "shift": lib(np.zeros(3))})
        return model

    mine, theirs = build(cr.tensor, nn), build(to_torch, torch.nn)
    assert list(mine.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in mine.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    x = data(4, 3, seed=9)

    def step(model, opt, lib, tanh):
        opt.zero_grad()
        y = lib(x)
        for w in model.ws:
            y = tanh(y @ w)
        loss = ((y * model.extra["scale"] + model.extra["shift"]) ** 2).sum()
        loss.backward()
        opt.step()

    opt_mine, opt_theirs = cr.optim.Adam(mine.parameters(), lr=0.1), torch.optim.Adam(theirs.parameters(), lr=0.1)
    for _ in range(3):
        step(mine, opt_mine, cr.tensor, cr.tanh)
        step(theirs, opt_theirs, to_torch, torch.tanh)
    for (k, a), (_, b) in zip(mine.state_dict().items(), theirs.state_dict().items()):
        np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-10, err_msg=k)


def test_parameter_container_reprs_follow_pytorchs_layout():
    mine = nn.ParameterList([nn.Parameter(cr.ones(2)), nn.Parameter(cr.ones(2, 3, dtype="float64"))])
    theirs = torch.nn.ParameterList([torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(2, 3).double())])
    # the same layout, with NumPy's dtype names where PyTorch writes torch.float32
    assert repr(mine) == repr(theirs).replace("torch.", "")


@pytest.mark.parametrize(
    "mine, theirs, shape",
    [
        (nn.Unflatten(1, (2, 3)), torch.nn.Unflatten(1, (2, 3)), (4, 6, 5)),
        (nn.Unflatten(-1, (-1, 5)), torch.nn.Unflatten(-1, (-1, 5)), (4, 10)),
        (nn.ZeroPad1d((1, 3)), torch.nn.ZeroPad1d((1, 3)), (2, 3, 4)),
        (nn.ZeroPad2d(2), torch.nn.ZeroPad2d(2), (2, 3, 4, 5)),
        (nn.ZeroPad2d((1, -1, 0, 2)), torch.nn.ZeroPad2d((1, -1, 0, 2)), (3, 4, 5)),
        (nn.ConstantPad1d(2, 3.5), torch.nn.ConstantPad1d(2, 3.5), (3, 4)),
        (nn.ConstantPad2d((1, 0, 2, 0), -1.0), torch.nn.ConstantPad2d((1, 0, 2, 0), -1.0), (2, 3, 4, 5)),
        (nn.Identity(3, bias=True), torch.nn.Identity(3, bias=True), (2, 3)),
        (nn.ReflectionPad1d(2), torch.nn.ReflectionPad1d(2), (2, 3, 4)),
        (nn.ReflectionPad2d((1, 2, 0, 3)), torch.nn.ReflectionPad2d((1, 2, 0, 3)), (2, 3, 5, 6)),
        (nn.ReplicationPad1d((0, 3)), torch.nn.ReplicationPad1d((0, 3)), (3, 4)),
        (nn.ReplicationPad2d(2), torch.nn.ReplicationPad2d(2), (3, 4, 5)),
        (nn.CircularPad1d(1), torch.nn.CircularPad1d(1), (2, 3, 4)),
        (nn.CircularPad2d((1, 1, 2, 0)), torch.nn.CircularPad2d((1, 1, 2, 0)), (2, 3, 4, 5)),
    ],
    ids=lambda m: repr(m) if isinstance(m, nn.Module) else None,
)
def test_layers_match_torch_in_repr_values_and_gradients(mine, theirs, shape):
    assert repr(mine) == repr(theirs)
    x, xt = leaf(data(*shape)), to_torch(data(*shape)).requires_grad_(True)
    out, out_t = mine(x), theirs(xt)
    g = data(*out_t.shape, seed=3)
    out.backward(cr.tensor(g))
    out_t.backward(to_torch(g))
    np.testing.assert_array_equal(out.detach().numpy(), out_t.detach().numpy())
    # (the gradients of reflected or wrapped entries are sums, added in another order: to rounding)
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize(
    "pad, kwargs",
    [
        ((1, 2), {}),
        ((1, -2, 0, 1), {"value": 2.0}),
        ((2, 1, 1, 2), {"mode": "reflect"}),
        ((2, 1, 1, 2), {"mode": "replicate"}),
        ((3, 1, 2, 0), {"mode": "circular"}),
        ((1, 1, 1, 1, 1, 1), {"value": -3.0}),
    ],
)
def test_pad_matches_torch(pad, kwargs):
    x = data(2, 3, 4, 5)
    mine, theirs = cr.tensor(x, requires_grad=True), to_torch(x).requires_grad_(True)
    out, out_t = F.pad(input=mine, pad=pad, **kwargs), TF.pad(input=theirs, pad=pad, **kwargs)
    g = data(*out_t.shape, seed=2)
    out.backward(cr.tensor(g))
    out_t.backward(to_torch(g))
    np.testing.assert_array_equal(out.detach().numpy(), out_t.detach().numpy())
    np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=1e-14)
