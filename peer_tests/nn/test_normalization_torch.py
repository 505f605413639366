"""BatchNorm1d/2d and LayerNorm against torch.nn with copied affine parameters: train and eval values,
gradients, running statistics."""

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


# ------------------------------------------------------------------ GroupNorm, InstanceNorm, LayerNorm(bias=False)


def _copy_into(mine, theirs, seed=20):
    """The same random parameters in both (PyTorch's names: the same state_dict keys)."""
    assert list(mine.state_dict()) == list(theirs.state_dict())
    state = {k: data(*np.shape(v), seed=seed + i) + (1.5 if k == "weight" else 0.0) for i, (k, v) in
             enumerate(mine.state_dict().items()) if k in ("weight", "bias")}  # fmt: skip
    mine.load_state_dict(state, strict=False)
    theirs.load_state_dict({k: to_torch(v) for k, v in state.items()}, strict=False)


def _compare(mine, theirs, x, steps=1):
    for step in range(steps):
        xs, xt = leaf(x + step), to_torch(x + step).requires_grad_(True)
        g = data(*x.shape, seed=30 + step)
        mine.zero_grad()
        theirs.zero_grad()
        out_s, out_t = mine(xs), theirs(xt)
        out_s.backward(cr.tensor(g))
        out_t.backward(to_torch(g))
        np.testing.assert_allclose(out_s.detach().numpy(), out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=1e-8, atol=1e-10)
        for (name, p), (_, q) in zip(mine.named_parameters(), theirs.named_parameters()):
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-8, atol=1e-10, err_msg=name)
    for (name, b), (_, c) in zip(mine.state_dict().items(), theirs.state_dict().items()):
        np.testing.assert_allclose(np.asarray(b), c.numpy(), rtol=1e-12, err_msg=name)


@pytest.mark.parametrize(
    "args, kwargs, shape",
    [
        ((2, 6), {}, (4, 6, 5)),
        ((3, 6), {"affine": False}, (2, 6, 3, 4)),
        ((1, 4), {"eps": 1e-3, "bias": False}, (3, 4)),
        ((4, 4), {}, (2, 4, 7)),
    ],
)
def test_groupnorm_matches_torch_with_copied_weights(args, kwargs, shape):
    mine = nn.GroupNorm(*args, **kwargs, dtype="float64")
    theirs = torch.nn.GroupNorm(*args, **kwargs, dtype=torch.float64)
    assert repr(mine) == repr(theirs)
    _copy_into(mine, theirs)
    _compare(mine, theirs, data(*shape) * 3 + 1)


@pytest.mark.parametrize("cls", ["InstanceNorm1d", "InstanceNorm2d"])
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"affine": True},
        {"affine": True, "bias": False, "eps": 1e-3},
        {"track_running_stats": True, "momentum": 0.3},
    ],
)
@pytest.mark.parametrize("batched", [True, False])
def test_instancenorm_matches_torch_train_and_eval(cls, kwargs, batched):
    mine = getattr(nn, cls)(3, **kwargs, dtype="float64")
    theirs = getattr(torch.nn, cls)(3, **kwargs, dtype=torch.float64)
    assert repr(mine) == repr(theirs)
    _copy_into(mine, theirs)
    shape = (2, 3, 5) if cls == "InstanceNorm1d" else (2, 3, 4, 3)
    x = data(*(shape if batched else shape[1:])) * 2 - 0.5
    _compare(mine, theirs, x, steps=3)
    mine.eval()
    theirs.eval()
    _compare(mine, theirs, x * 0.5, steps=1)


@pytest.mark.parametrize("kwargs", [{"bias": False}, {"elementwise_affine": False}, {"eps": 1e-3}])
def test_layernorm_without_bias_matches_torch(kwargs):
    mine = nn.LayerNorm((3, 4), **kwargs, dtype="float64")
    theirs = torch.nn.LayerNorm((3, 4), **kwargs, dtype=torch.float64)
    assert repr(mine) == repr(theirs)
    _copy_into(mine, theirs)
    _compare(mine, theirs, data(2, 3, 4))


def test_batchnorm_without_bias_matches_torch():
    mine, theirs = nn.BatchNorm1d(3, bias=False, dtype="float64"), torch.nn.BatchNorm1d(3, bias=False).double()
    assert repr(mine) == repr(theirs)
    _copy_into(mine, theirs)
    _compare(mine, theirs, data(8, 3), steps=2)


@pytest.mark.parametrize(
    "name, args, kwargs",
    [
        ("layer_norm", {"input": (4, 5), "weight": (5,), "bias": (5,)}, {"normalized_shape": (5,)}),
        ("layer_norm", {"input": (2, 4, 5)}, {"normalized_shape": (4, 5), "eps": 0.1}),
        ("group_norm", {"input": (2, 4, 3), "weight": (4,), "bias": (4,)}, {"num_groups": 2}),
        ("group_norm", {"input": (2, 6, 3, 2)}, {"num_groups": 3, "eps": 0.1}),
        ("instance_norm", {"input": (2, 3, 4), "weight": (3,), "bias": (3,)}, {}),
        ("instance_norm", {"input": (2, 3, 4, 2)}, {"eps": 0.1}),
        ("normalize", {"input": (4, 3)}, {}),
        ("normalize", {"input": (4, 3)}, {"p": 1.0, "dim": 0}),
        ("normalize", {"input": (4, 3)}, {"p": 3.0, "dim": -1, "eps": 0.5}),
        ("cosine_similarity", {"x1": (4, 3), "x2": (4, 3)}, {}),
        ("cosine_similarity", {"x1": (4, 3), "x2": (1, 3)}, {"dim": -1}),
        ("cosine_similarity", {"x1": (2, 4, 3), "x2": (4, 3)}, {"dim": 0, "eps": 0.3}),
        ("logsigmoid", {"input": (3, 4)}, {}),
    ],
)
def test_functional_forms_match_torch_in_values_and_gradients(name, args, kwargs):
    arrays = {n: data(*shape, seed=k) * 2 for k, (n, shape) in enumerate(args.items())}
    mine = {n: cr.tensor(a, requires_grad=True) for n, a in arrays.items()}
    theirs = {n: to_torch(a).requires_grad_(True) for n, a in arrays.items()}
    out = getattr(F, name)(**mine, **kwargs)  # (by keyword: PyTorch's names)
    out_t = getattr(TF, name)(**theirs, **kwargs)
    g = data(*out_t.shape, seed=9)
    out.backward(cr.tensor(g))
    out_t.backward(to_torch(g))
    np.testing.assert_allclose(out.detach().numpy(), out_t.detach().numpy(), rtol=1e-10, atol=1e-13)
    for n in arrays:
        np.testing.assert_allclose(mine[n].grad.numpy(), theirs[n].grad.numpy(), rtol=1e-8, atol=1e-12, err_msg=n)


def test_instance_norm_updates_running_statistics_as_torch():
    x = data(4, 3, 5) * 3
    mine = [cr.tensor(np.zeros(3)), cr.tensor(np.ones(3))]
    theirs = [torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)]
    for step in range(2):
        F.instance_norm(cr.tensor(x + step), *mine, momentum=0.3)
        TF.instance_norm(to_torch(x + step), *theirs, momentum=0.3)
    for a, b in zip(mine, theirs):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)
    np.testing.assert_allclose(
        F.instance_norm(cr.tensor(x), *mine, use_input_stats=False).numpy(),
        TF.instance_norm(to_torch(x), *theirs, use_input_stats=False).numpy(),
        rtol=1e-12,
    )


def test_the_clamped_norms_give_pytorchs_values_and_gradients_near_zero():
    x1 = np.array([[1e-9, 0.0, 0.0], [0.0, 0.0, 0.0], [1.0, 2.0, 3.0]])
    x2 = np.array([[3.0, 4.0, 0.0], [1.0, 1.0, 1.0], [2e-10, 0.0, 1e-10]])
    for name, extra in (("cosine_similarity", [x2]), ("normalize", [])):
        mine = [cr.tensor(a, requires_grad=True) for a in (x1, *extra)]
        theirs = [to_torch(a).requires_grad_(True) for a in (x1, *extra)]
        out, out_t = getattr(F, name)(*mine), getattr(TF, name)(*theirs)
        out.sum().backward()
        out_t.sum().backward()
        np.testing.assert_allclose(out.detach().numpy(), out_t.detach().numpy(), rtol=1e-10, atol=1e-13)
        for a, b in zip(mine, theirs):
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-8, atol=1e-12, err_msg=name)


def test_distance_and_logsigmoid_modules_match_torch():
    a, b = data(4, 3), data(4, 3, seed=1)
    for mine, theirs in [
        (nn.CosineSimilarity(dim=0, eps=1e-6), torch.nn.CosineSimilarity(dim=0, eps=1e-6)),
        (nn.PairwiseDistance(p=1.0, keepdim=True), torch.nn.PairwiseDistance(p=1.0, keepdim=True)),
    ]:
        assert repr(mine) == repr(theirs)
        np.testing.assert_allclose(mine(cr.tensor(a), cr.tensor(b)).numpy(), theirs(to_torch(a), to_torch(b)).numpy())
    assert repr(nn.LogSigmoid()) == repr(torch.nn.LogSigmoid())
    x = np.array([-1000.0, -30.0, 0.0, 30.0, 1000.0, np.inf, -np.inf])
    np.testing.assert_allclose(nn.LogSigmoid()(cr.tensor(x)).numpy(), torch.nn.LogSigmoid()(to_torch(x)).numpy())


def test_momentum_none_is_torchs_cumulative_average():
    rng = np.random.default_rng(0)
    ours, theirs = cr.nn.BatchNorm1d(3, momentum=None), torch.nn.BatchNorm1d(3, momentum=None)
    for _ in range(4):
        x = rng.normal(size=(5, 3)).astype(np.float32)
        ours(cr.tensor(x))
        theirs(torch.tensor(x))
    np.testing.assert_allclose(ours.running_mean.numpy(), theirs.running_mean.numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(ours.running_var.numpy(), theirs.running_var.numpy(), rtol=1e-6)
    assert repr(ours) == repr(theirs)
