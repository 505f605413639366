"""any, all, count_nonzero, isclose, allclose and equal against PyTorch, with NaN and infinities."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import chainrule as cr

X = np.array([[0.0, math.nan, 2.0, -math.inf], [0.0, 0.0, -1.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
Y = X + np.array([1e-9, 0.0, 1e-3, 0.0])


@pytest.mark.parametrize("name", ["any", "all"])
@pytest.mark.parametrize("kw", [{}, {"dim": 1}, {"dim": 0, "keepdim": True}, {"dim": (0, 1)}, {"dim": -1}])
def test_any_all_agree_with_pytorch(name, kw):
    for data in (X, np.abs(np.nan_to_num(X, posinf=5, neginf=5)).astype(np.uint8), X > 0):
        ours, theirs = getattr(cr, name)(cr.tensor(data), **kw), getattr(torch, name)(torch.tensor(data), **kw)
        assert ours.tolist() == theirs.tolist() and str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
        assert getattr(cr.tensor(data), name)(**kw).tolist() == theirs.tolist()


@pytest.mark.parametrize("dim", [None, 0, 1, (0, 1)])
def test_count_nonzero_agrees_with_pytorch(dim):
    ours, theirs = cr.count_nonzero(cr.tensor(X), dim), torch.count_nonzero(torch.tensor(X), dim)
    assert ours.tolist() == theirs.tolist() and str(theirs.dtype) == "torch.int64" and ours.dtype == np.int64


@pytest.mark.parametrize("kw", [{}, {"equal_nan": True}, {"rtol": 1e-2}, {"atol": 1e-2, "rtol": 0.0}])
def test_isclose_allclose_equal_agree_with_pytorch(kw):
    ours = cr.isclose(cr.tensor(X), cr.tensor(Y), **kw)
    assert ours.tolist() == torch.isclose(torch.tensor(X), torch.tensor(Y), **kw).tolist()
    assert cr.allclose(cr.tensor(X), cr.tensor(Y), **kw) == torch.allclose(torch.tensor(X), torch.tensor(Y), **kw)
    finite = np.nan_to_num(X)
    for a, b in ((finite, finite), (finite, finite + 1e-12), (X, X), (finite, finite[:2])):
        assert cr.equal(cr.tensor(a), cr.tensor(b)) == torch.equal(torch.tensor(a), torch.tensor(b))
