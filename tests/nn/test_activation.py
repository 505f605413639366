"""Activation layers: values against NumPy, gradients against finite differences."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from tests.nn.support import data, leaf


def away_from_zero(*shape: int, seed: int = 0) -> np.ndarray:
    """Values with |x| in [0.1, 3], so kinks at 0 stay out of the finite differences."""
    x = data(*shape, seed=seed, low=0.1, high=3.0)
    return x * np.where(np.random.default_rng(seed + 7).random(shape) < 0.5, -1.0, 1.0)


def np_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_gelu_tanh(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


# (layer, NumPy reference)
CASES = [
    (nn.Sigmoid(), lambda x: 1 / (1 + np.exp(-x))),
    (nn.Tanh(), np.tanh),
    (nn.ReLU(), lambda x: np.maximum(x, 0)),
    (nn.LeakyReLU(), lambda x: np.where(x > 0, x, 0.01 * x)),
    (nn.LeakyReLU(0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    (nn.ELU(), lambda x: np.where(x > 0, x, np.expm1(x))),
    (nn.ELU(0.5), lambda x: np.where(x > 0, x, 0.5 * np.expm1(x))),
    (nn.GELU(), lambda x: 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))),
    (nn.GELU(approximate="tanh"), np_gelu_tanh),
    (nn.Softplus(), lambda x: np.log1p(np.exp(x))),
    (nn.Softplus(2.0), lambda x: np.log1p(np.exp(2 * x)) / 2),
    (nn.Softmax(dim=1), lambda x: np_softmax(x, 1)),
    (nn.Softmax(dim=0), lambda x: np_softmax(x, 0)),
    (nn.Softmax(), lambda x: np_softmax(x, -1)),
    (nn.LogSoftmax(dim=1), lambda x: np.log(np_softmax(x, 1))),
    (nn.LogSoftmax(dim=0), lambda x: np.log(np_softmax(x, 0))),
]
IDS = [repr(layer) for layer, _ in CASES]


@pytest.mark.parametrize("layer, reference", CASES, ids=IDS)
def test_values_against_numpy(layer, reference):
    x = away_from_zero(4, 5)
    out = layer(cr.tensor(x))
    assert out.shape == x.shape and out.dtype == np.float64
    np.testing.assert_allclose(out.numpy(), reference(x), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("layer, _", CASES, ids=IDS)
def test_gradients_against_finite_differences(layer, _):
    assert cr.gradcheck(layer, [leaf(away_from_zero(3, 4, seed=3))])


@pytest.mark.parametrize("layer, _", CASES, ids=IDS)
def test_float32_in_float32_out(layer, _):
    out = layer(cr.tensor(away_from_zero(2, 3), dtype="float32"))
    assert out.dtype == np.float32


def test_gelu_is_exact_by_default_as_pytorchs_and_its_tanh_form_within_1e_3():
    x = np.linspace(-5, 5, 201)
    exact = 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))
    np.testing.assert_allclose(nn.GELU()(cr.tensor(x)).numpy(), exact, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(nn.GELU(approximate="tanh")(cr.tensor(x)).numpy(), exact, atol=1e-3)
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh'"):
        nn.GELU(approximate="exact")


def test_a_gelu_saved_before_the_exact_form_keeps_the_tanh_form_it_computed():
    from chainrule.nn import module_from_spec, module_to_spec

    assert module_to_spec(nn.GELU()) == {"class": "GELU", "config": {"approximate": "none"}}
    old = module_from_spec({"class": "GELU", "config": {}})  # (what a file of an earlier version holds)
    assert old.approximate == "tanh"
    assert module_from_spec(module_to_spec(nn.GELU(approximate="tanh"))).approximate == "tanh"


def test_erf_gives_the_same_numbers_with_and_without_numba():
    from chainrule import kernels

    x = np.random.default_rng(0).standard_normal(50_000) * 3
    with kernels.disable():
        slow = cr.erf(cr.tensor(x)).numpy()
    fast = cr.erf(cr.tensor(x)).numpy()
    np.testing.assert_array_equal(slow, fast)
    np.testing.assert_array_equal(slow, np.vectorize(math.erf)(x))


def test_relu_derivative_is_zero_below_zero_and_one_above():
    x = leaf([-2.0, -0.5, 0.5, 3.0])
    nn.ReLU()(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 1.0, 1.0])


@pytest.mark.parametrize(
    "layer", [nn.Sigmoid(), nn.Tanh(), nn.Softplus(), nn.Softmax(dim=1), nn.LogSoftmax(dim=1), nn.ELU()]
)
def test_saturating_activations_stay_finite_at_extremes(layer):
    x = leaf([[-1000.0, 0.0, 1000.0]])
    out = layer(x)
    assert np.all(np.isfinite(out.numpy()))
    out.backward(cr.ones(1, 3, dtype="float64"))
    assert np.all(np.isfinite(x.grad.numpy()))


def test_softmax_rows_sum_to_one_and_log_softmax_is_its_log():
    x = cr.tensor(data(6, 4) * 50)
    p = nn.Softmax(dim=1)(x).numpy()
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(nn.LogSoftmax(dim=1)(x).numpy(), np.log(p), rtol=1e-10, atol=1e-10)


# ------------------------------------------------------------------ Step


def test_step_values():
    out = nn.Step()(cr.tensor([-2.0, -1e-9, 0.0, 1e-9, 3.0]))
    np.testing.assert_array_equal(out.numpy(), [0.0, 0.0, 1.0, 1.0, 1.0])


def test_step_gradient_is_zero():
    x = leaf(data(3, 4))
    out = nn.Step()(x)
    assert out.requires_grad
    (out * 5.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((3, 4)))
    # Away from 0 the finite differences agree: the step is flat there.
    assert cr.gradcheck(nn.Step(), [leaf(away_from_zero(3, 4))])


def test_step_stops_gradients_reaching_earlier_layers():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Step(), nn.Linear(4, 1)).to("float64")
    model(cr.tensor(data(5, 3))).sum().backward()
    np.testing.assert_array_equal(model[0].weight.grad.numpy(), np.zeros((4, 3)))
    assert np.any(model[2].weight.grad.numpy() != 0)


# ------------------------------------------------------------------ by name, repr, config


@pytest.mark.parametrize(
    "name, cls",
    [
        ("step", nn.Step),
        ("sigmoid", nn.Sigmoid),
        ("logistic", nn.Sigmoid),
        ("tanh", nn.Tanh),
        ("relu", nn.ReLU),
        ("leaky_relu", nn.LeakyReLU),
        ("elu", nn.ELU),
        ("gelu", nn.GELU),
        ("softplus", nn.Softplus),
        ("identity", nn.Identity),
        ("linear", nn.Identity),
    ],
)
def test_activation_by_name(name, cls):
    assert type(nn.activation(name)) is cls


def test_unknown_activation_name_lists_the_choices():
    with pytest.raises(ValueError, match=r"unknown activation 'swish'; choose from \[.*'relu'.*'identity'\]"):
        nn.activation("swish")


def test_reprs():
    assert repr(nn.ReLU()) == "ReLU()"
    assert repr(nn.Step()) == "Step()"
    assert repr(nn.LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)"
    assert repr(nn.ELU()) == "ELU(alpha=1.0)"
    assert repr(nn.Softplus(2.0)) == "Softplus(beta=2.0)"
    assert repr(nn.Softmax(dim=1)) == "Softmax(dim=1)"
    assert repr(nn.LogSoftmax(dim=-1)) == "LogSoftmax(dim=-1)"


def test_activations_have_no_parameters():
    for layer, _ in CASES:
        assert list(layer.parameters()) == [] and layer.state_dict() == {}
