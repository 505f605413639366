"""Activation layers: values against NumPy, gradients against finite differences."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
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
    (nn.Softplus(2.0, threshold=1.0), lambda x: np.where(2 * x > 1, x, np.log1p(np.exp(2 * x)) / 2)),
    (nn.Softmax(dim=1), lambda x: np_softmax(x, 1)),
    (nn.Softmax(dim=0), lambda x: np_softmax(x, 0)),
    (nn.Softmax(), lambda x: np_softmax(x, -1)),
    (nn.LogSoftmax(dim=1), lambda x: np.log(np_softmax(x, 1))),
    (nn.LogSoftmax(dim=0), lambda x: np.log(np_softmax(x, 0))),
    (nn.SiLU(), lambda x: x / (1 + np.exp(-x))),
    (nn.Mish(), lambda x: x * np.tanh(np.log1p(np.exp(x)))),
    (nn.SELU(), lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x))),
    (nn.CELU(), lambda x: np.where(x > 0, x, np.expm1(x))),
    (nn.CELU(2.0), lambda x: np.where(x > 0, x, 2.0 * np.expm1(x / 2.0))),
    (nn.ReLU6(), lambda x: np.clip(x, 0, 6)),
    (nn.Hardtanh(), lambda x: np.clip(x, -1, 1)),
    (nn.Hardtanh(-2.5, 0.5), lambda x: np.clip(x, -2.5, 0.5)),
    (nn.Hardswish(), lambda x: x * np.clip(x + 3, 0, 6) / 6),
    (nn.Hardsigmoid(), lambda x: np.clip(x + 3, 0, 6) / 6),
    (nn.Softsign(), lambda x: x / (1 + np.abs(x))),
    (nn.Softmin(dim=1), lambda x: np_softmax(-x, 1)),
    (nn.Softmin(dim=0), lambda x: np_softmax(-x, 0)),
    (nn.Tanhshrink(), lambda x: x - np.tanh(x)),
    (nn.Softshrink(), lambda x: np.sign(x) * np.maximum(np.abs(x) - 0.5, 0)),
    (nn.Softshrink(1.5), lambda x: np.sign(x) * np.maximum(np.abs(x) - 1.5, 0)),
    (nn.Hardshrink(), lambda x: np.where(np.abs(x) > 0.5, x, 0)),
    (nn.Hardshrink(1.5), lambda x: np.where(np.abs(x) > 1.5, x, 0)),
    (nn.Threshold(0.3, -7.0), lambda x: np.where(x > 0.3, x, -7.0)),
]

SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
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
    assert repr(nn.Softplus(2.0)) == "Softplus(beta=2.0, threshold=20.0)"
    assert repr(nn.Softplus(1.0, 5.0)) == "Softplus(beta=1.0, threshold=5.0)"
    assert repr(nn.Softmax(dim=1)) == "Softmax(dim=1)"
    assert repr(nn.LogSoftmax(dim=-1)) == "LogSoftmax(dim=-1)"


def test_activations_have_no_parameters():
    for layer, _ in CASES:
        assert list(layer.parameters()) == [] and layer.state_dict() == {}


# ------------------------------------------------------------------ PyTorch's other activations

NAN, INF = float("nan"), float("inf")
EDGES = [NAN, INF, -INF, -3.0, 0.0, 3.0, 6.0, -1.0, 1.0, 0.5, -0.5, 25.0]


def values_and_gradients(layer, x):
    t = leaf(x)
    out = layer(t)
    out.sum().backward()
    return out.numpy(), t.grad.numpy()


# (layer, its values at EDGES, its gradients there): PyTorch's, read off its kernels. NaN in gives
# NaN out; at a kink the gradient takes the side PyTorch's backward takes.
EDGE_CASES = [
    (nn.ReLU6(), [NAN, 6, 0, 0, 0, 3, 6, 0, 1, 0.5, 0, 6], [0, 0, 0, 0, 0, 1, 0, 0, 1, 1, 0, 0]),
    (nn.Hardtanh(), [NAN, 1, -1, -1, 0, 1, 1, -1, 1, 0.5, -0.5, 1], [0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 0]),
    (
        nn.Hardswish(),
        [NAN, INF, NAN, 0, 0, 3, 6, -1 / 3, 2 / 3, 0.5 * 3.5 / 6, -0.5 * 2.5 / 6, 25],
        [1, 1, 0, 0, 0.5, 1, 1, 1 / 6, 5 / 6, 2 / 3, 1 / 3, 1],
    ),
    (
        nn.Hardsigmoid(),
        [NAN, 1, 0, 0, 0.5, 1, 1, 1 / 3, 2 / 3, 3.5 / 6, 2.5 / 6, 1],
        [0, 0, 0, 0, 1 / 6, 0, 0, 1 / 6, 1 / 6, 1 / 6, 1 / 6, 0],
    ),
    (nn.Softshrink(), [NAN, INF, -INF, -2.5, 0, 2.5, 5.5, -0.5, 0.5, 0, 0, 24.5], [0, 1, 1, 1, 0, 1, 1, 1, 1, 0, 0, 1]),
    (nn.Hardshrink(), [NAN, INF, -INF, -3, 0, 3, 6, -1, 1, 0, 0, 25], [0, 1, 1, 1, 0, 1, 1, 1, 1, 0, 0, 1]),
    (
        nn.Threshold(0.5, -2.0),
        [NAN, INF, -2, -2, -2, 3, 6, -2, 1, -2, -2, 25],
        [1, 1, 0, 0, 0, 1, 1, 0, 1, 0, 0, 1],
    ),
    (
        nn.SELU(),
        [NAN, INF, -SELU_SCALE * SELU_ALPHA, None, 0, None, None, None, None, None, None, None],
        [
            SELU_SCALE,
            SELU_SCALE,
            0,
            None,
            SELU_SCALE * SELU_ALPHA,
            SELU_SCALE,
            SELU_SCALE,
            None,
            None,
            None,
            None,
            None,
        ],
    ),
    (nn.ELU(), [NAN, INF, -1, None, 0, 3, 6, None, 1, 0.5, None, 25], [1, 1, 0, None, 1, 1, 1, None, 1, 1, None, 1]),
    (
        nn.CELU(2.0),
        [NAN, INF, -2, None, 0, 3, 6, None, 1, 0.5, None, 25],
        [1, 1, 0, None, 1, 1, 1, None, 1, 1, None, 1],
    ),
    (nn.SiLU(), [NAN, INF, NAN, None, 0, None, None, None, None, None, None, None], [NAN, NAN, NAN] + [None] * 9),
    (
        nn.Mish(),
        [NAN, INF, NAN, None, 0, None, None, None, None, None, None, 25],
        [NAN, NAN, NAN, None, 0.6] + [None] * 7,
    ),
    (
        nn.Softsign(),
        [NAN, NAN, NAN, -0.75, 0, 0.75, 6 / 7, -0.5, 0.5] + [None] * 3,
        [NAN, NAN, NAN, None, 1] + [None] * 7,
    ),
    (nn.Tanhshrink(), [NAN, INF, -INF, None, 0] + [None] * 7, [NAN, 1, 1, None, 0] + [None] * 7),
]


@pytest.mark.parametrize("layer, values, grads", EDGE_CASES, ids=[repr(c[0]) for c in EDGE_CASES])
def test_nan_inf_and_kinks_give_pytorchs_values_and_gradients(layer, values, grads):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # (NumPy's notes on inf - inf)
        out, grad = values_and_gradients(layer, EDGES)
    for got, want in ((out, values), (grad, grads)):
        known = [i for i, w in enumerate(want) if w is not None]
        np.testing.assert_allclose(got[known], np.array([want[i] for i in known], dtype=float), rtol=1e-12, atol=1e-15)


def test_hardswish_and_softshrink_keep_pytorchs_signed_zeros():
    out = nn.Hardswish()(cr.tensor([-3.0, -5.0])).numpy()
    assert out.tolist() == [0.0, 0.0] and np.signbit(out).all()  # x * 0, as PyTorch: -0.
    assert not np.signbit(nn.Hardshrink()(cr.tensor([-0.5])).numpy()).any()  # a plain 0 between


@pytest.mark.parametrize(
    "layer, function",
    [
        (nn.SiLU(inplace=True), cr.silu),
        (nn.Mish(inplace=True), cr.mish),
        (nn.SELU(inplace=True), cr.selu),
        (nn.CELU(0.5, inplace=True), lambda x: cr.celu(x, 0.5)),
        (nn.ELU(0.5, inplace=True), lambda x: cr.elu(x, 0.5)),
        (nn.ReLU6(inplace=True), cr.relu6),
        (nn.Hardtanh(-0.5, 0.5, inplace=True), lambda x: cr.hardtanh(x, -0.5, 0.5)),
        (nn.Hardswish(inplace=True), cr.hardswish),
        (nn.Hardsigmoid(inplace=True), cr.hardsigmoid),
        (nn.Threshold(0.1, 2.0, inplace=True), lambda x: cr.threshold(x, 0.1, 2.0)),
    ],
    ids=lambda v: repr(v) if isinstance(v, nn.Module) else "",
)
def test_inplace_writes_the_input_and_keeps_the_gradient(layer, function):
    x = data(3, 4, seed=2) * 3
    base = leaf(x)
    h = base * 1.0
    out = layer(h)
    assert out is h
    np.testing.assert_allclose(h.numpy(), function(cr.tensor(x)).numpy(), rtol=1e-12)
    out.sum().backward()
    want = leaf(x)
    function(want).sum().backward()
    np.testing.assert_allclose(base.grad.numpy(), want.grad.numpy(), rtol=1e-12)
    # and the functional form
    arr = cr.tensor(x)
    assert getattr(F, layer_function_name(layer))(arr, *layer_args(layer), inplace=True) is arr


def layer_function_name(layer):
    return {"ReLU6": "relu6"}.get(type(layer).__name__, type(layer).__name__.lower())


def layer_args(layer):
    return [getattr(layer, a) for a in ("alpha", "min_val", "max_val", "threshold", "value") if hasattr(layer, a)]


def test_new_reprs_are_pytorchs():
    assert [repr(m) for m in (nn.SiLU(), nn.SiLU(True), nn.Mish(inplace=True), nn.SELU(True))] == [
        "SiLU()",
        "SiLU(inplace=True)",
        "Mish(inplace=True)",
        "SELU(inplace=True)",
    ]
    assert repr(nn.CELU()) == "CELU(alpha=1.0)" and repr(nn.CELU(2.0, True)) == "CELU(alpha=2.0, inplace=True)"
    assert repr(nn.ELU(inplace=True)) == "ELU(alpha=1.0, inplace=True)"
    assert repr(nn.ReLU6()) == "ReLU6()" and repr(nn.ReLU6(True)) == "ReLU6(inplace=True)"
    assert repr(nn.Hardtanh()) == "Hardtanh(min_val=-1.0, max_val=1.0)"
    assert repr(nn.Hardtanh(-2, 2, True)) == "Hardtanh(min_val=-2, max_val=2, inplace=True)"
    assert repr(nn.Hardswish(True)) == "Hardswish()" and repr(nn.Hardsigmoid(True)) == "Hardsigmoid()"
    assert repr(nn.Softsign()) == "Softsign()" and repr(nn.Tanhshrink()) == "Tanhshrink()"
    assert repr(nn.Softmin()) == "Softmin(dim=None)" and repr(nn.Softmin(1)) == "Softmin(dim=1)"
    assert repr(nn.GLU()) == "GLU(dim=-1)"
    assert repr(nn.Threshold(0.1, 20, True)) == "Threshold(threshold=0.1, value=20, inplace=True)"
    assert repr(nn.Softshrink()) == "Softshrink(0.5)" and repr(nn.Hardshrink(0.3)) == "Hardshrink(0.3)"
    assert repr(nn.PReLU()) == "PReLU(num_parameters=1)" and repr(nn.PReLU(3, 0.1)) == "PReLU(num_parameters=3)"


def test_glu_halves_along_dim_and_refuses_an_odd_size():
    x = data(2, 6, 3)
    out = nn.GLU(dim=1)(cr.tensor(x)).numpy()
    np.testing.assert_allclose(out, x[:, :3] / (1 + np.exp(-x[:, 3:])), rtol=1e-12)
    assert cr.gradcheck(nn.GLU(dim=1), [leaf(x)])
    with pytest.raises(ValueError, match="halving dimension must be even, but dimension 1 is size 3"):
        nn.GLU()(cr.ones(2, 3))
    with pytest.raises(ValueError, match="0-d"):
        F.glu(cr.tensor(1.0))


def test_softmin_takes_pytorchs_dtype_argument():
    out = F.softmin(cr.tensor([[1.0, 2.0]], dtype="float32"), dim=1, dtype="float64")
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.numpy(), [[1 / (1 + np.exp(-1)), 1 / (1 + np.exp(1))]], rtol=1e-12)


def test_bad_arguments_are_errors_naming_them():
    with pytest.raises(ValueError, match="softshrink: lambd must be >= 0, got -1"):
        F.softshrink(cr.ones(2), -1.0)
    with pytest.raises(ValueError, match="min_val cannot be greater than max_val"):
        nn.Hardtanh(1.0, -1.0)
    with pytest.raises(ValueError, match="min_val cannot be greater than max_val"):
        F.hardtanh(cr.ones(2), 1.0, -1.0)
    with pytest.raises(ValueError, match="celu: alpha cannot be 0"):
        F.celu(cr.ones(2), 0.0)
    with pytest.raises(ValueError, match="PReLU: num_parameters must be a positive integer"):
        nn.PReLU(0)
    with pytest.raises(ValueError, match="prelu: mismatch .* 2 slopes for an input of shape \\(2, 3\\)"):
        F.prelu(cr.ones(2, 3), cr.ones(2))
    with pytest.raises(ValueError, match="prelu: mismatch"):
        F.prelu(cr.ones(3), cr.ones(3))  # (a 1-d input has one channel, as PyTorch's)


def test_prelu_learns_one_slope_per_channel():
    layer = nn.PReLU(3, init=0.1, dtype="float64")
    assert list(layer.state_dict()) == ["weight"] and layer.weight.shape == (3,)
    np.testing.assert_array_equal(layer.weight.numpy(), [0.1] * 3)
    assert [n for n, _ in layer.named_parameters()] == ["weight"]
    x = data(2, 3, 4, seed=4)
    w = np.array([0.1, 0.1, 0.1])[None, :, None]
    np.testing.assert_allclose(layer(cr.tensor(x)).numpy(), np.where(x > 0, x, w * x), rtol=1e-12)
    from tests.nn.support import module_gradcheck

    assert module_gradcheck(layer, leaf(x))
    layer(cr.tensor(x)).sum().backward()
    np.testing.assert_allclose(layer.weight.grad.numpy(), np.where(x > 0, 0, x).sum(axis=(0, 2)), rtol=1e-12)
    opt = cr.optim.SGD(layer.parameters(), lr=0.5)
    opt.step()
    assert not np.allclose(layer.weight.numpy(), 0.1)
    layer.reset_parameters()
    np.testing.assert_array_equal(layer.weight.numpy(), [0.1] * 3)
    assert nn.PReLU()(cr.tensor(-4.0)).item() == -1.0  # one slope: any shape, 0-d too


def test_softplus_is_x_itself_above_the_threshold_as_pytorch():
    x = leaf(np.array([-30.0, 0.0, 19.9, 20.5, 40.0, np.inf]))
    out = cr.nn.functional.softplus(x)
    out.backward(cr.ones(6, dtype=cr.float64))
    assert out.numpy()[3] == 20.5 and out.numpy()[4] == 40.0 and out.numpy()[5] == np.inf  # exactly x
    assert out.numpy()[2] == np.logaddexp(0, 19.9) != 19.9  # below the threshold: the smooth function
    np.testing.assert_array_equal(x.grad.numpy()[3:], [1.0, 1.0, 1.0])
    assert x.grad.numpy()[2] == pytest.approx(1 / (1 + np.exp(-19.9)), rel=1e-15)
    # with beta the test is on beta * x; the layer keeps both settings
    layer = nn.Softplus(beta=2.0, threshold=3.0)
    np.testing.assert_array_equal(layer(cr.tensor([1.6, 1.4], dtype=cr.float64)).numpy()[0], 1.6)
    assert layer(cr.tensor([1.4], dtype=cr.float64)).item() == pytest.approx(np.logaddexp(0, 2.8) / 2, rel=1e-15)
    assert nn.Softplus(threshold=5.0).get_config() == {"beta": 1.0, "threshold": 5.0}
    no_linear_region = cr.nn.functional.softplus(cr.tensor([30.0], dtype=cr.float64), threshold=np.inf).item()
    assert no_linear_region == np.logaddexp(0, 30.0) != 30.0


def test_the_implicit_dim_warning_names_the_users_line():
    """Through cr.softmax, F.softmax, nn.Softmax and the method alike (F.softmax became a wrapper,
    and a fixed stacklevel then named chainrule's own file)."""
    import warnings

    x = cr.randn(2, 3, 4)
    calls = [
        lambda: cr.softmax(x),
        lambda: nn.functional.softmax(x),
        lambda: nn.functional.log_softmax(x),
        lambda: nn.Softmax()(x),
        lambda: x.softmax(),
    ]
    for call in calls:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            call()
        assert [w.filename for w in caught] == [__file__]
