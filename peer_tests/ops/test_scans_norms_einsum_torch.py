"""cumsum, cumprod, prod, norm, linalg norms and einsum against PyTorch: values and gradients,
with zeros, NaN, dim=None, negative dims and keepdim."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import chainrule as cr


def both(fn, x: np.ndarray, *others: np.ndarray):
    """fn on chainrule and on torch leaves of ``x`` (float64): the outputs and the gradients of their sum
    weighted by a fixed pattern."""
    results = []
    for lib in (cr, torch):
        leaves = [lib.tensor(a, requires_grad=True) for a in (x, *others)]
        out = fn(lib, *leaves)
        weights = lib.tensor(np.linspace(-1.0, 2.0, int(np.prod(out.shape))).reshape(tuple(out.shape)))
        (out * weights).sum().backward()
        # (no gradient, None, is PyTorch's zeros: its ord=0 norm gives none)
        results.append(
            (out.detach().numpy(), [np.zeros(t.shape) if t.grad is None else t.grad.numpy() for t in leaves])
        )
    return results


def assert_same(fn, x, *others):
    (ours, our_grads), (theirs, their_grads) = both(fn, x, *others)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12, equal_nan=True)
    for g, h in zip(our_grads, their_grads):
        np.testing.assert_allclose(g, h, rtol=1e-9, atol=1e-12, equal_nan=True)


X = np.random.default_rng(0).standard_normal((3, 4))
ZEROS = X.copy()
ZEROS[0, 1] = ZEROS[2, 0] = ZEROS[2, 3] = ZEROS[1, 2] = 0.0
ALL_ZERO = np.zeros((2, 3))
WITH_NAN = X.copy()
WITH_NAN[1, 1] = np.nan


CASES = [
    lambda lib, t: lib.cumsum(t, dim=1),
    lambda lib, t: t.cumsum(-2),
    lambda lib, t: lib.cumprod(t, 1),
    lambda lib, t: t.cumprod(dim=-2),
    lambda lib, t: t.prod(),
    lambda lib, t: lib.prod(t, 1),
    lambda lib, t: t.prod(-2, keepdim=True),
    lambda lib, t: t.norm(),
    lambda lib, t: lib.norm(t, dim=1),
    lambda lib, t: t.norm(p=2, dim=-1, keepdim=True),
    lambda lib, t: t.norm(p="fro", dim=(0, 1)),
    lambda lib, t: t.norm(p=1, dim=0),
    lambda lib, t: t.norm(p=3),
    lambda lib, t: t.norm(p=math.inf, dim=1),
    lambda lib, t: lib.linalg.vector_norm(t, dim=-1),
    lambda lib, t: lib.linalg.vector_norm(t, 0, dim=0),
    lambda lib, t: lib.linalg.norm(t),
    lambda lib, t: lib.linalg.norm(t, 1, dim=1, keepdim=True),
    lambda lib, t: lib.linalg.matrix_norm(t),
    lambda lib, t: lib.linalg.matrix_norm(t[None], -1),
]
ABS_AT_NAN = {11, 13, 17, 19}  # through |x|: its gradient at NaN is NaN here (x * sign(x)), 0 in PyTorch


@pytest.mark.parametrize(
    "k, x",
    [
        (k, x)
        for k in range(len(CASES))
        for x in (X, ZEROS, ALL_ZERO, WITH_NAN)
        if x is not WITH_NAN or k not in ABS_AT_NAN
    ],
)
def test_scans_prod_and_norms_agree_with_pytorch(k, x):
    assert_same(CASES[k], x)


@pytest.mark.parametrize(
    "equation, shapes",
    [
        ("ij,jk->ik", [(2, 3), (3, 4)]),
        ("ii->i", [(3, 3)]),
        ("ii", [(3, 3)]),
        ("...ij,...jk", [(2, 1, 2, 3), (4, 3, 2)]),
        ("bij,bjk->bik", [(2, 2, 3), (2, 3, 4)]),
        ("i,j->ij", [(3,), (4,)]),
        ("ij,ij", [(2, 3), (2, 3)]),
        ("ijk->kji", [(2, 3, 4)]),
        ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
        ("ij,k->j", [(2, 3), (4,)]),
        ("iij,j->ij", [(2, 2, 3), (3,)]),
        ("bA,Ab", [(2, 3), (3, 2)]),
        ("i,i->i", [(1,), (3,)]),
    ],
)
def test_einsum_agrees_with_pytorch(equation, shapes):
    rng = np.random.default_rng(len(equation))
    arrays = [rng.standard_normal(s) for s in shapes]
    assert_same(lambda lib, *ts: lib.einsum(equation, *ts), *arrays)


def test_dtypes_agree_with_pytorch():
    for dtype in (np.int32, np.int64, np.bool_):
        a = np.array([[1, 0], [1, 1]]).astype(dtype)
        for name in ("cumsum", "cumprod"):
            ours, theirs = getattr(cr, name)(cr.tensor(a), 1), getattr(torch, name)(torch.tensor(a), 1)
            assert ours.tolist() == theirs.tolist() and str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
        assert cr.prod(cr.tensor(a)).tolist() == torch.prod(torch.tensor(a)).tolist()
        assert str(cr.prod(cr.tensor(a)).dtype) == str(torch.prod(torch.tensor(a)).dtype).replace("torch.", "")
