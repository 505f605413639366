"""Linear (Dense), Identity and Flatten: values against NumPy, gradients, shapes, errors, init."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from tests.nn.support import data, leaf, module_gradcheck


def linear64(in_features: int, out_features: int, bias: bool = True, seed: int = 0) -> nn.Linear:
    cr.manual_seed(seed)
    return nn.Linear(in_features, out_features, bias=bias).to("float64")


# ------------------------------------------------------------------ Linear


def test_linear_values_against_numpy():
    layer = linear64(4, 3)
    x = data(5, 4)
    expected = x @ layer.weight.numpy().T + layer.bias.numpy()
    out = layer(cr.tensor(x))
    assert out.shape == (5, 3)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)


def test_linear_parameter_shapes_and_default_dtype():
    layer = nn.Linear(40, 100)
    assert layer.weight.shape == (100, 40)
    assert layer.bias.shape == (100,)
    assert layer.weight.dtype == np.float32 and layer.bias.dtype == np.float32
    assert layer.num_parameters() == 40 * 100 + 100
    assert nn.Linear(2, 3, dtype="float64").weight.dtype == np.float64
    assert nn.Dense is nn.Linear


def test_linear_gradients_against_finite_differences():
    layer = linear64(4, 3)
    assert module_gradcheck(layer, leaf(data(5, 4)))


def test_linear_gradients_by_hand():
    layer = linear64(4, 3)
    x = data(5, 4)
    g = data(5, 3, seed=1)
    out = layer(leaf(x))
    out.backward(cr.tensor(g))
    np.testing.assert_allclose(layer.weight.grad.numpy(), g.T @ x, rtol=1e-12)
    np.testing.assert_allclose(layer.bias.grad.numpy(), g.sum(axis=0), rtol=1e-12)


def test_linear_batched_3d_input():
    layer = linear64(4, 3)
    x = data(2, 5, 4)
    out = layer(cr.tensor(x))
    assert out.shape == (2, 5, 3)
    np.testing.assert_allclose(out.numpy(), x @ layer.weight.numpy().T + layer.bias.numpy(), rtol=1e-12)
    assert module_gradcheck(layer, leaf(data(2, 3, 4)))


def test_linear_single_sample_1d_input():
    layer = linear64(4, 3)
    x = data(4)
    np.testing.assert_allclose(layer(cr.tensor(x)).numpy(), layer.weight.numpy() @ x + layer.bias.numpy(), rtol=1e-12)


def test_linear_without_bias():
    layer = linear64(4, 3, bias=False)
    assert layer.bias is None
    assert [n for n, _ in layer.named_parameters()] == ["weight"]
    x = data(5, 4)
    np.testing.assert_allclose(layer(cr.tensor(x)).numpy(), x @ layer.weight.numpy().T, rtol=1e-12)
    assert module_gradcheck(layer, leaf(x))
    assert repr(layer) == "Linear(in_features=4, out_features=3, bias=False)"


def test_linear_accepts_numpy_input():
    layer = nn.Linear(3, 2)
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    out = layer(x)
    assert isinstance(out, cr.Tensor) and out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), x @ layer.weight.numpy().T + layer.bias.numpy(), rtol=1e-6)
    out.sum().backward()  # the array became a constant input: the weights get gradients, x none
    np.testing.assert_allclose(layer.weight.grad.numpy(), np.tile(x.sum(axis=0), (2, 1)), rtol=1e-6)


def test_linear_shape_error_names_layer_input_and_expectation():
    layer = nn.Linear(40, 100)
    with pytest.raises(ValueError) as info:
        layer(cr.zeros(32, 30))
    assert str(info.value) == "Linear(in_features=40) got input of shape (32, 30): the last dimension must be 40"
    with pytest.raises(ValueError, match=r"got input of shape \(\)"):
        layer(cr.tensor(1.0))


@pytest.mark.parametrize("args", [(0, 3), (3, 0), (-1, 3), (2.5, 3), ("4", 3), (True, 3)])
def test_linear_rejects_bad_sizes(args):
    with pytest.raises(ValueError, match="must be a positive integer"):
        nn.Linear(*args)


def test_linear_init_bounds_follow_fan_in():
    cr.manual_seed(0)
    layer = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    for p in (layer.weight, layer.bias):
        assert np.abs(p.numpy()).max() <= bound
    # Large enough to fill the interval: extremes near the bounds, variance near bound² / 3.
    assert np.abs(layer.weight.numpy()).max() > 0.99 * bound
    np.testing.assert_allclose(layer.weight.numpy().var(), bound**2 / 3, rtol=0.02)
    assert abs(layer.weight.numpy().mean()) < 0.01 * bound


def test_reset_parameters_re_runs_the_initialisation():
    cr.manual_seed(0)
    layer = nn.Linear(20, 10)
    first = layer.state_dict()
    weight = layer.weight
    layer.weight.numpy()[...] = 100.0
    layer.bias.numpy()[...] = 100.0
    layer.reset_parameters()
    assert layer.weight is weight  # the same Parameter, refilled in place
    assert np.abs(layer.weight.numpy()).max() <= 1 / math.sqrt(20)
    assert np.abs(layer.bias.numpy()).max() <= 1 / math.sqrt(20)
    assert not np.array_equal(layer.weight.numpy(), first["weight"])  # new draws
    cr.manual_seed(0)
    layer.reset_parameters()
    np.testing.assert_array_equal(layer.weight.numpy(), first["weight"])  # seeded: the same draws


def test_initialisation_is_reproducible_with_manual_seed():
    cr.manual_seed(123)
    a = nn.Sequential(nn.Linear(5, 4), nn.Linear(4, 2))
    cr.manual_seed(123)
    b = nn.Sequential(nn.Linear(5, 4), nn.Linear(4, 2))
    for (name, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        np.testing.assert_array_equal(pa.numpy(), pb.numpy(), err_msg=name)
    c = nn.Sequential(nn.Linear(5, 4), nn.Linear(4, 2))  # the stream moves on
    assert not np.array_equal(a[0].weight.numpy(), c[0].weight.numpy())


# ------------------------------------------------------------------ Identity and Flatten


def test_identity_returns_its_input():
    x = leaf(data(3, 2))
    assert nn.Identity()(x) is x
    assert repr(nn.Identity()) == "Identity()"


def test_flatten_default_keeps_the_batch_dimension():
    x = data(8, 1, 4, 4)
    out = nn.Flatten()(cr.tensor(x))
    assert out.shape == (8, 16)
    np.testing.assert_array_equal(out.numpy(), x.reshape(8, 16))
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"


@pytest.mark.parametrize(
    "start, end, shape", [(0, -1, (120,)), (1, 2, (2, 12, 5)), (2, 3, (2, 3, 20)), (0, 1, (6, 4, 5))]
)
def test_flatten_ranges_and_gradient(start, end, shape):
    x = data(2, 3, 4, 5)
    layer = nn.Flatten(start, end)
    out = layer(cr.tensor(x))
    assert out.shape == shape
    np.testing.assert_array_equal(out.numpy(), x.reshape(shape))
    assert cr.gradcheck(layer, [leaf(x)])


# ------------------------------------------------------------------ the seed's collapse of linear activations


def test_linear_activations_collapse_to_one_linear_model():
    """Linear layers with identity activations compose to a single linear layer:
    W2 (W1 x + b1) + b2 = (W2 W1) x + (W2 b1 + b2)."""
    cr.manual_seed(0)
    stack = nn.Sequential(nn.Linear(5, 7), nn.Identity(), nn.Linear(7, 4), nn.Identity(), nn.Linear(4, 3)).to("float64")
    W1, b1 = stack[0].weight.numpy(), stack[0].bias.numpy()
    W2, b2 = stack[2].weight.numpy(), stack[2].bias.numpy()
    W3, b3 = stack[4].weight.numpy(), stack[4].bias.numpy()

    single = nn.Linear(5, 3).to("float64")
    single.load_state_dict({"weight": W3 @ W2 @ W1, "bias": W3 @ (W2 @ b1 + b2) + b3})
    x = cr.tensor(data(50, 5, low=-10, high=10))
    np.testing.assert_allclose(stack(x).numpy(), single(x).numpy(), rtol=1e-10, atol=1e-10)

    # And with a nonlinearity in between the stack is no longer linear: f(a + b) != f(a) + f(b) - f(0).
    bent = nn.Sequential(stack[0], nn.Tanh(), stack[2])
    a, b, zero = (cr.tensor(v) for v in (data(1, 5, seed=1), data(1, 5, seed=2), np.zeros((1, 5))))
    assert not np.allclose(bent(a + b).numpy(), (bent(a) + bent(b) - bent(zero)).numpy())
