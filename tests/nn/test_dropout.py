"""Dropout: inverted scaling in training, identity in evaluation, seeded, validated."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from tests.nn.support import data, leaf


def test_eval_mode_is_the_identity():
    drop = nn.Dropout(0.5).eval()
    x = leaf(data(10, 10))
    out = drop(x)
    np.testing.assert_array_equal(out.numpy(), x.numpy())
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((10, 10)))


def test_training_zeroes_and_scales_the_survivors():
    cr.manual_seed(0)
    p = 0.3
    x = data(200, 100, low=1.0, high=2.0)
    out = nn.Dropout(p)(cr.tensor(x)).numpy()
    kept = out != 0
    np.testing.assert_allclose(out[kept], x[kept] / (1 - p), rtol=1e-12)
    assert abs((~kept).mean() - p) < 0.01  # 20,000 draws: the standard error is 0.003


def test_mean_is_preserved_in_expectation():
    cr.manual_seed(1)
    x = cr.ones(500, 200)
    for p in (0.1, 0.5, 0.8):
        out = nn.Dropout(p)(x).numpy()
        # each element is 0 or 1/(1-p): mean 1, std sqrt(p/(1-p)) / sqrt(100,000)
        assert abs(out.mean() - 1.0) < 4 * np.sqrt(p / (1 - p)) / np.sqrt(out.size)


def test_gradient_uses_the_same_mask():
    cr.manual_seed(2)
    drop = nn.Dropout(0.4)
    x = leaf(data(30, 30, low=1.0, high=2.0))
    out = drop(x)
    out.sum().backward()
    expected = np.where(out.numpy() != 0, 1 / 0.6, 0.0)
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12)


def test_gradcheck_with_a_fixed_mask():
    x = leaf(data(4, 5))
    # Each call draws from the same freshly seeded generator, so the mask is fixed.
    assert cr.gradcheck(lambda t: F.dropout(t, 0.5, True, generator=np.random.default_rng(0)), [x])


def test_p_zero_is_the_identity_even_in_training():
    x = leaf(data(5, 5))
    np.testing.assert_array_equal(nn.Dropout(0.0)(x).numpy(), x.numpy())


def test_p_one_zeroes_everything_with_a_zero_gradient():
    x = leaf(data(5, 5))
    out = nn.Dropout(1.0)(x)
    np.testing.assert_array_equal(out.numpy(), np.zeros((5, 5)))
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((5, 5)))


def test_reproducible_with_manual_seed():
    drop = nn.Dropout(0.5)
    x = cr.ones(20, 20)
    cr.manual_seed(7)
    a = drop(x).numpy()
    b = drop(x).numpy()
    cr.manual_seed(7)
    np.testing.assert_array_equal(drop(x).numpy(), a)
    np.testing.assert_array_equal(drop(x).numpy(), b)
    assert not np.array_equal(a, b)  # successive calls draw new masks


def test_generator_argument_of_the_function():
    x = cr.ones(10, 10)
    a = F.dropout(x, 0.5, generator=3).numpy()
    np.testing.assert_array_equal(F.dropout(x, 0.5, generator=3).numpy(), a)
    np.testing.assert_array_equal(F.dropout(x, 0.5, training=False).numpy(), x.numpy())


def test_keeps_dtype():
    assert nn.Dropout(0.5)(cr.ones(4, 4)).dtype == np.float32
    assert nn.Dropout(0.5)(cr.ones(4, 4, dtype="float64")).dtype == np.float64


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan")])
def test_invalid_p(p):
    with pytest.raises(ValueError, match=r"Dropout: p must be in \[0, 1\]"):
        nn.Dropout(p)
    with pytest.raises(ValueError, match=r"dropout: p must be in \[0, 1\]"):
        F.dropout(cr.ones(2), p)


def test_dropout_inside_a_model_follows_train_and_eval():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, 10), nn.Dropout(0.5))
    x = cr.ones(4, 10)
    model.eval()
    np.testing.assert_array_equal(model(x).numpy(), model(x).numpy())
    model.train()
    assert not np.array_equal(model(x).numpy(), model(x).numpy())


def test_repr_and_config():
    assert repr(nn.Dropout(0.25)) == "Dropout(p=0.25)"
    assert nn.Dropout(0.25).get_config() == {"p": 0.25}
