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


# ------------------------------------------------------------------ channel-wise: Dropout1d, Dropout2d

CHANNEL_WISE = [  # (layer, function, batched shape, unbatched or 3-D shape)
    (nn.Dropout1d, F.dropout1d, (40, 50, 7), (50, 7)),
    (nn.Dropout2d, F.dropout2d, (40, 50, 3, 4), None),
]
IDS = ["Dropout1d", "Dropout2d"]


def channel_values(out: np.ndarray, channel_axes: int) -> np.ndarray:
    """(channels, values in each) from an output whose first ``channel_axes`` axes index channels."""
    return out.reshape(int(np.prod(out.shape[:channel_axes])), -1)


@pytest.mark.parametrize("layer, fn, shape, _", CHANNEL_WISE, ids=IDS)
def test_whole_channels_are_zeroed_and_the_rest_scaled(layer, fn, shape, _):
    cr.manual_seed(0)
    p = 0.3
    x = data(*shape, low=1.0, high=2.0)
    out = channel_values(layer(p)(cr.tensor(x)).numpy(), 2)
    kept = out[:, 0] != 0
    assert ((out != 0) == kept[:, None]).all()  # a channel is kept or dropped as a whole
    np.testing.assert_allclose(out[kept], channel_values(x, 2)[kept] / (1 - p), rtol=1e-12)
    # 2,000 channels: the dropped fraction has a standard error of 0.01
    assert abs((~kept).mean() - p) < 0.04


@pytest.mark.parametrize("layer, fn, shape, _", CHANNEL_WISE, ids=IDS)
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_channel_dropout_preserves_the_mean_in_expectation(layer, fn, shape, _, p):
    cr.manual_seed(1)
    out = layer(p)(cr.ones(*shape, dtype="float64")).numpy()
    per_channel = channel_values(out, 2)[:, 0]  # 0 or 1/(1-p): mean 1, std sqrt(p/(1-p))
    assert abs(per_channel.mean() - 1.0) < 4 * np.sqrt(p / (1 - p)) / np.sqrt(per_channel.size)


@pytest.mark.parametrize("layer, fn, shape, _", CHANNEL_WISE, ids=IDS)
def test_channel_dropout_in_eval_mode_is_the_identity(layer, fn, shape, _):
    x = leaf(data(*shape))
    out = layer(0.5).eval()(x)
    np.testing.assert_array_equal(out.numpy(), x.numpy())
    np.testing.assert_array_equal(fn(x, 0.5, training=False).numpy(), x.numpy())


@pytest.mark.parametrize("layer, fn, shape, _", CHANNEL_WISE, ids=IDS)
def test_channel_dropout_gradient_uses_the_same_mask(layer, fn, shape, _):
    cr.manual_seed(2)
    x = leaf(data(*shape, low=1.0, high=2.0))
    out = layer(0.4)(x)
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.where(out.numpy() != 0, 1 / 0.6, 0.0), rtol=1e-12)
    small = leaf(data(*(2, 3) + shape[2:]))
    assert cr.gradcheck(lambda t: fn(t, 0.5, True, generator=np.random.default_rng(0)), [small])


def test_dropout1d_takes_an_unbatched_input_and_drops_its_rows():
    cr.manual_seed(3)
    out = nn.Dropout1d(0.5)(cr.ones(200, 6)).numpy()
    assert out.shape == (200, 6)
    assert set(np.unique(out.std(axis=1))) == {0.0}  # each row (channel) is constant
    assert set(np.unique(out)) == {0.0, 2.0}


def test_dropout2d_reads_a_3d_input_as_n_c_l_with_pytorchs_warning():
    cr.manual_seed(4)
    with pytest.warns(UserWarning, match=r"dropout2d: a 3-D input is read as \(N, C, L\), as PyTorch does") as caught:
        out = nn.Dropout2d(0.5)(cr.ones(30, 20, 5)).numpy()
    assert caught[0].filename == __file__  # the warning names the caller's line
    assert set(np.unique(out.std(axis=2))) == {0.0}  # rows of axis 2 dropped as a whole


@pytest.mark.parametrize(
    "layer, shape, message",
    [
        (nn.Dropout1d, (5,), r"Dropout1d got input of shape \(5,\): expected a 3-D \(N, C, L\) or 2-D unbatched"),
        (nn.Dropout1d, (2, 3, 4, 5), r"Dropout1d got input of shape \(2, 3, 4, 5\)"),
        (nn.Dropout2d, (3, 4), r"Dropout2d got input of shape \(3, 4\): expected a 4-D \(N, C, H, W\) input"),
        (nn.Dropout2d, (1, 2, 3, 4, 5), r"Dropout2d got input of shape \(1, 2, 3, 4, 5\)"),
    ],
)
def test_channel_dropout_of_a_wrong_shape_names_the_layer_even_in_eval_mode(layer, shape, message):
    for mode in (True, False):
        with pytest.raises(ValueError, match=message):
            layer(0.5).train(mode)(cr.ones(*shape))


def test_channel_dropout_functions_check_their_input():
    with pytest.raises(ValueError, match=r"dropout1d: expects a 3-D \(N, C, L\) or 2-D unbatched \(C, L\) input"):
        F.dropout1d(cr.ones(4), 0.5)
    with pytest.raises(ValueError, match=r"dropout2d: expects a 4-D \(N, C, H, W\) input .* got shape \(4, 4\)"):
        F.dropout2d(cr.ones(4, 4), 0.5)
    with pytest.raises(ValueError, match=r"dropout1d: p must be in \[0, 1\]"):
        F.dropout1d(cr.ones(2, 2), 1.5)


@pytest.mark.parametrize("layer", [nn.Dropout1d, nn.Dropout2d])
def test_channel_dropout_settings_repr_and_extremes(layer):
    name = layer.__name__
    with pytest.raises(ValueError, match=rf"{name}: p must be in \[0, 1\]"):
        layer(-0.1)
    assert repr(layer(0.25)) == f"{name}(p=0.25)"
    assert layer(0.25).get_config() == {"p": 0.25}
    x = leaf(data(2, 3, 4) if layer is nn.Dropout1d else data(2, 3, 4, 4))
    np.testing.assert_array_equal(layer(0.0)(x).numpy(), x.numpy())
    out = layer(1.0)(x)
    np.testing.assert_array_equal(out.numpy(), np.zeros(x.shape))
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros(x.shape))


@pytest.mark.parametrize("layer", [nn.Dropout1d, nn.Dropout2d])
def test_channel_dropout_keeps_the_dtype_and_follows_the_seed(layer):
    shape = (3, 4, 5) if layer is nn.Dropout1d else (3, 4, 5, 5)
    assert layer(0.5)(cr.ones(*shape)).dtype == np.float32
    cr.manual_seed(7)
    a = layer(0.5)(cr.ones(*shape)).numpy()
    cr.manual_seed(7)
    np.testing.assert_array_equal(layer(0.5)(cr.ones(*shape)).numpy(), a)
