"""CosineSimilarity, PairwiseDistance, F.normalize and LogSigmoid against hand formulas and NumPy."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from tests.nn.support import data, leaf


def test_cosine_similarity_of_known_vectors():
    a = cr.tensor([[1.0, 0.0], [1.0, 1.0], [2.0, 0.0]])
    b = cr.tensor([[0.0, 3.0], [-2.0, -2.0], [5.0, 0.0]])
    np.testing.assert_allclose(nn.CosineSimilarity()(a, b).numpy(), [0.0, -1.0, 1.0], atol=1e-7)


def test_cosine_similarity_clamps_each_norm_at_eps():
    # PyTorch's rule: x1 / max(|x1|, eps) . x2 / max(|x2|, eps), each norm clamped on its own
    a, b = np.array([[1e-3, 0.0]]), np.array([[4.0, 3.0]])
    out = F.cosine_similarity(cr.tensor(a), cr.tensor(b), eps=0.1).numpy()
    np.testing.assert_allclose(out, [(1e-3 / 0.1) * (4.0 / 5.0)], rtol=1e-12)
    zero = F.cosine_similarity(cr.tensor([[0.0, 0.0]]), cr.tensor(b))
    assert zero.numpy().tolist() == [0.0]


def test_cosine_similarity_broadcasts_and_takes_dim():
    a, b = data(2, 4, 3), data(4, 3, seed=1)
    out = F.cosine_similarity(cr.tensor(a), cr.tensor(b), dim=-1).numpy()
    expected = (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    x1, x2 = leaf(a), leaf(np.broadcast_to(b, a.shape))
    assert cr.gradcheck(lambda p, q: F.cosine_similarity(p, q, dim=0), [x1, x2])


@pytest.mark.parametrize("p, dim", [(2.0, 1), (1.0, 0), (3.0, -1)])
def test_normalize_gives_unit_norms(p, dim):
    x = data(4, 3)
    out = F.normalize(cr.tensor(x), p=p, dim=dim).numpy()
    np.testing.assert_allclose((np.abs(out) ** p).sum(axis=dim), 1.0, rtol=1e-12)
    assert cr.gradcheck(lambda t: F.normalize(t, p, dim), [leaf(x)])


def test_normalize_clamps_small_norms_and_refuses_out():
    x = np.array([[3e-13, 4e-13], [3.0, 4.0]])
    np.testing.assert_allclose(F.normalize(cr.tensor(x)).numpy(), [[0.3, 0.4], [0.6, 0.8]], rtol=1e-12)
    with pytest.raises(TypeError, match="out= is not supported"):
        F.normalize(cr.tensor(x), out=cr.tensor(x))


def test_pairwise_distance_module_and_config():
    layer = nn.PairwiseDistance(p=1.0, eps=0.0, keepdim=True)
    assert (layer.norm, layer.eps, layer.keepdim) == (1.0, 0.0, True)
    out = layer(cr.tensor([[0.0, 0.0]]), cr.tensor([[3.0, -4.0]]))
    assert out.shape == (1, 1) and out.item() == 7.0


def test_logsigmoid_is_stable_at_both_ends():
    x = np.array([-1000.0, -20.0, 0.0, 20.0, 1000.0])
    out = nn.LogSigmoid()(cr.tensor(x)).numpy()
    np.testing.assert_allclose(out, -np.logaddexp(0.0, -x), rtol=1e-12)
    assert np.isfinite(out).all() and F.logsigmoid is cr.logsigmoid
    t = leaf(x)
    F.logsigmoid(t).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), np.exp(-np.logaddexp(0.0, x)), rtol=1e-12)  # sigmoid(-x)
