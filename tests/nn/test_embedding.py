"""Embedding: lookup values, scatter-add gradients (repeated ids accumulate), padding_idx, init,
errors, from_pretrained, config."""

from __future__ import annotations

import json

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from tests.nn.support import data


def embedding64(num=10, dim=3, padding_idx=None, seed=0):
    cr.manual_seed(seed)
    return nn.Embedding(num, dim, padding_idx=padding_idx).to("float64")


IDS = np.array([[1, 2, 4, 5], [4, 3, 2, 9]])


def test_lookup_picks_rows():
    emb = embedding64()
    out = emb(cr.tensor(IDS))
    assert out.shape == (2, 4, 3)
    np.testing.assert_array_equal(out.numpy(), emb.weight.numpy()[IDS])
    assert emb(IDS.tolist()).shape == (2, 4, 3)  # lists and arrays work too
    assert emb(cr.tensor(7)).shape == (3,)  # a single id


def test_repeated_ids_accumulate_their_gradients():
    emb = embedding64()
    out = emb(cr.tensor([[1, 1, 2], [1, 9, 2]]))
    g = data(*out.shape, seed=1)
    out.backward(cr.tensor(g))
    expected = np.zeros((10, 3))
    np.add.at(expected, np.array([[1, 1, 2], [1, 9, 2]]), g)
    np.testing.assert_allclose(emb.weight.grad.numpy(), expected, rtol=1e-12)
    assert np.all(emb.weight.grad.numpy()[[0, 3, 4, 5, 6, 7, 8]] == 0)


def test_gradcheck():
    emb = embedding64(6, 2)
    ids = cr.tensor([[0, 5, 5], [2, 0, 1]])
    assert cr.gradcheck(lambda w: emb(ids), [emb.weight])


def test_padding_row_starts_at_zero_and_gets_no_gradient():
    emb = embedding64(padding_idx=0)
    np.testing.assert_array_equal(emb.weight.numpy()[0], 0.0)
    with cr.no_grad():
        emb.weight[0] = 5.0  # a padding vector set by hand is still looked up as it is
    ids = cr.tensor([[0, 2, 0], [2, 2, 1]])
    out = emb(ids)
    np.testing.assert_array_equal(out.numpy(), emb.weight.numpy()[ids.numpy()])
    out.sum().backward()
    grad = emb.weight.grad.numpy()
    np.testing.assert_array_equal(grad[0], 0.0)
    np.testing.assert_array_equal(grad[2], 3.0)
    np.testing.assert_array_equal(grad[1], 1.0)
    # (no gradcheck here: the padding row's zero gradient is a rule, as in PyTorch, not its derivative)


def test_negative_padding_idx_counts_from_the_end():
    emb = nn.Embedding(10, 3, padding_idx=-1)
    assert emb.padding_idx == 9
    np.testing.assert_array_equal(emb.weight.numpy()[9], 0.0)


def test_init_is_standard_normal():
    cr.manual_seed(0)
    w = nn.Embedding(1000, 50).weight.numpy()
    assert w.dtype == np.float32
    assert abs(w.mean()) < 0.01 and abs(w.std() - 1.0) < 0.01


def test_errors_name_the_layer():
    emb = nn.Embedding(10, 3)
    with pytest.raises(IndexError, match=r"Embedding\(num_embeddings=10\) got id 10: ids must be in \[0, 10\)"):
        emb(cr.tensor([1, 10]))
    with pytest.raises(IndexError, match=r"got id -1"):
        emb(cr.tensor([-1, 2]))  # never wrapped around silently
    with pytest.raises(
        TypeError, match=r"Embedding\(num_embeddings=10\) got input of dtype float32: ids must be integers"
    ):
        emb(cr.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"Embedding: embedding_dim must be a positive integer, got 0"):
        nn.Embedding(10, 0)
    with pytest.raises(ValueError, match=r"Embedding: padding_idx must be an id in \[-10, 10\), got 10"):
        nn.Embedding(10, 3, padding_idx=10)


def test_from_pretrained_freezes_by_default():
    table = data(5, 2)
    emb = nn.Embedding.from_pretrained(table)
    assert not emb.weight.requires_grad and emb.weight.dtype == np.float64
    np.testing.assert_array_equal(emb(cr.tensor([4, 0])).numpy(), table[[4, 0]])
    assert nn.Embedding.from_pretrained(cr.tensor(table), freeze=False).weight.requires_grad
    table[0, 0] = 99.0
    assert emb.weight.numpy()[0, 0] != 99.0  # a copy
    with pytest.raises(ValueError, match="from_pretrained: expects a 2-D floating array"):
        nn.Embedding.from_pretrained(np.zeros(3))


def test_config_round_trip_and_repr():
    emb = nn.Embedding(10, 3, padding_idx=2, dtype="float64")
    rebuilt = nn.module_from_spec(json.loads(json.dumps(nn.module_to_spec(emb))))
    assert rebuilt.get_config() == emb.get_config()
    assert repr(rebuilt) == repr(emb) == "Embedding(10, 3, padding_idx=2)"
    assert rebuilt.weight.dtype == np.float64
    assert [n for n, _ in emb.named_parameters()] == ["weight"]
