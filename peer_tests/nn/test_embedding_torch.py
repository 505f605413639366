"""Embedding against torch.nn.Embedding: lookup values, scatter-add gradients, padding_idx, repr."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from tests.nn.support import data
from tests.nn.test_embedding import embedding64


@pytest.mark.parametrize("padding_idx", [None, 2])
def test_matches_pytorch(padding_idx):
    emb = embedding64(padding_idx=padding_idx)
    twin = torch.nn.Embedding(10, 3, padding_idx=padding_idx, dtype=torch.float64)
    with torch.no_grad():
        twin.weight.copy_(torch.tensor(emb.weight.numpy()))
    ids = np.array([[2, 2, 7], [0, 2, 9]])
    g = data(2, 3, 3, seed=3)
    ours, theirs = emb(cr.tensor(ids)), twin(torch.tensor(ids))
    np.testing.assert_array_equal(ours.numpy(), theirs.detach().numpy())
    ours.backward(cr.tensor(g))
    theirs.backward(torch.tensor(g))
    np.testing.assert_allclose(emb.weight.grad.numpy(), twin.weight.grad.numpy(), rtol=1e-12)
    assert repr(emb) == repr(twin)
