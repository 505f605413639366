"""chainrule.nn.init: fans, gains, the bounds and spreads of each scheme, seeding, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn import init


def weight(*shape: int) -> nn.Parameter:
    return nn.Parameter(np.zeros(shape, dtype=np.float64))


# ------------------------------------------------------------------ fans and gains


@pytest.mark.parametrize(
    "shape, fans",
    [
        ((100, 40), (40, 100)),  # Linear: (out_features, in_features)
        ((16, 3, 5), (15, 80)),  # conv1d: (out, in, k)
        ((16, 3, 3, 3), (27, 144)),  # conv2d: (out, in, kh, kw)
        ((8, 4, 2, 3, 1), (24, 48)),  # conv3d
    ],
)
def test_fan_in_and_fan_out(shape, fans):
    assert init.fan_in_and_fan_out(weight(*shape)) == fans


def test_linear_layer_fans():
    layer = nn.Linear(40, 100)
    assert init.fan_in_and_fan_out(layer.weight) == (40, 100)


def test_fans_need_two_dimensions():
    with pytest.raises(ValueError, match=r"at least 2 dimensions, got shape \(5,\)"):
        init.fan_in_and_fan_out(weight(5))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.xavier_uniform_(weight(5))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.kaiming_normal_(weight(5))


@pytest.mark.parametrize(
    "name, param, gain",
    [
        ("linear", None, 1.0),
        ("identity", None, 1.0),
        ("sigmoid", None, 1.0),
        ("conv1d", None, 1.0),
        ("conv2d", None, 1.0),
        ("tanh", None, 5 / 3),
        ("relu", None, math.sqrt(2)),
        ("selu", None, 0.75),
        ("leaky_relu", None, math.sqrt(2 / (1 + 0.01**2))),
        ("leaky_relu", 0.2, math.sqrt(2 / 1.04)),
        ("leaky_relu", 0, math.sqrt(2)),
    ],
)
def test_calculate_gain(name, param, gain):
    assert init.calculate_gain(name, param) == pytest.approx(gain, rel=1e-15)


def test_unknown_gain_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown nonlinearity 'swish'; known: \[.*'relu'.*'leaky_relu'\]"):
        init.calculate_gain("swish")


# ------------------------------------------------------------------ constant fills


def test_constant_fills_in_place():
    w = weight(3, 4)
    data = w.numpy()
    assert init.ones_(w) is w
    assert w.numpy() is data
    np.testing.assert_array_equal(w.numpy(), np.ones((3, 4)))
    init.zeros_(w)
    np.testing.assert_array_equal(w.numpy(), np.zeros((3, 4)))
    init.constant_(w, 2.5)
    np.testing.assert_array_equal(w.numpy(), np.full((3, 4), 2.5))
    b = nn.Parameter(np.zeros(3, dtype=np.float32))
    init.constant_(b, 0.1)
    assert b.dtype == np.float32  # fills keep the dtype


# ------------------------------------------------------------------ random schemes on large tensors

BIG = (400, 500)  # 200,000 draws: the sample std is within 0.5% of the true one


def uniform_std(bound: float) -> float:
    return bound / math.sqrt(3)


def test_uniform_and_normal():
    cr.manual_seed(0)
    w = init.uniform_(weight(*BIG), -2.0, 3.0)
    assert w.numpy().min() >= -2.0 and w.numpy().max() < 3.0
    assert w.numpy().mean() == pytest.approx(0.5, abs=0.02)
    assert w.numpy().std() == pytest.approx(5 / math.sqrt(12), rel=0.01)
    init.normal_(w, 1.0, 0.5)
    assert w.numpy().mean() == pytest.approx(1.0, abs=0.01)
    assert w.numpy().std() == pytest.approx(0.5, rel=0.01)


def test_xavier_uniform_bound_and_std():
    cr.manual_seed(0)
    w = init.xavier_uniform_(weight(*BIG))
    bound = math.sqrt(6 / (500 + 400))
    assert np.abs(w.numpy()).max() <= bound
    assert np.abs(w.numpy()).max() > 0.99 * bound
    assert w.numpy().std() == pytest.approx(uniform_std(bound), rel=0.01)
    init.xavier_uniform_(w, gain=init.calculate_gain("tanh"))
    assert np.abs(w.numpy()).max() <= 5 / 3 * bound


def test_xavier_normal_std():
    cr.manual_seed(0)
    w = init.xavier_normal_(weight(*BIG), gain=2.0)
    assert w.numpy().std() == pytest.approx(2.0 * math.sqrt(2 / 900), rel=0.01)
    assert abs(w.numpy().mean()) < 0.01 * w.numpy().std() * 5


@pytest.mark.parametrize("mode, fan", [("fan_in", 500), ("fan_out", 400)])
def test_kaiming_uniform_bound_and_std(mode, fan):
    cr.manual_seed(0)
    w = init.kaiming_uniform_(weight(*BIG), mode=mode, nonlinearity="relu")
    bound = math.sqrt(2) * math.sqrt(3 / fan)
    assert np.abs(w.numpy()).max() <= bound
    assert np.abs(w.numpy()).max() > 0.99 * bound
    assert w.numpy().std() == pytest.approx(math.sqrt(2 / fan), rel=0.01)


@pytest.mark.parametrize("mode, fan", [("fan_in", 500), ("fan_out", 400)])
def test_kaiming_normal_std(mode, fan):
    cr.manual_seed(0)
    w = init.kaiming_normal_(weight(*BIG), mode=mode, nonlinearity="relu")
    assert w.numpy().std() == pytest.approx(math.sqrt(2 / fan), rel=0.01)


def test_kaiming_default_is_leaky_relu_with_slope_a():
    cr.manual_seed(0)
    w = init.kaiming_normal_(weight(*BIG))  # a = 0: the ReLU gain
    assert w.numpy().std() == pytest.approx(math.sqrt(2 / 500), rel=0.01)
    init.kaiming_normal_(w, a=1.0)  # slope 1: a linear unit, gain 1
    assert w.numpy().std() == pytest.approx(math.sqrt(1 / 500), rel=0.01)


def test_kaiming_uses_the_receptive_field_of_conv_weights():
    cr.manual_seed(0)
    w = init.kaiming_normal_(weight(64, 32, 5, 5), nonlinearity="relu")  # fan_in = 32 * 25
    assert w.numpy().std() == pytest.approx(math.sqrt(2 / 800), rel=0.02)
    w = init.xavier_uniform_(weight(64, 32, 5, 5))
    assert np.abs(w.numpy()).max() <= math.sqrt(6 / (800 + 1600))


def test_schemes_on_conv_weights_use_both_fans_of_the_receptive_field():
    """(64, 32, 3, 3): fan_in = 32 * 9 = 288, fan_out = 64 * 9 = 576 (the spreads PyTorch aims for)."""
    cr.manual_seed(0)
    w = init.xavier_uniform_(weight(64, 32, 3, 3))
    bound = math.sqrt(6 / (288 + 576))
    assert bound * 0.99 < np.abs(w.numpy()).max() <= bound
    assert w.numpy().std() == pytest.approx(uniform_std(bound), rel=0.02)
    w = init.kaiming_uniform_(weight(64, 32, 3, 3), nonlinearity="relu")
    bound = math.sqrt(2) * math.sqrt(3 / 288)
    assert bound * 0.99 < np.abs(w.numpy()).max() <= bound
    assert w.numpy().std() == pytest.approx(math.sqrt(2 / 288), rel=0.02)
    w = init.kaiming_normal_(weight(64, 32, 3, 3), mode="fan_out", nonlinearity="relu")
    assert w.numpy().std() == pytest.approx(math.sqrt(2 / 576), rel=0.02)
    assert abs(w.numpy().mean()) < 0.02 * math.sqrt(2 / 576)


def test_other_names_for_the_same_schemes():
    assert init.glorot_uniform_ is init.xavier_uniform_
    assert init.glorot_normal_ is init.xavier_normal_
    assert init.he_uniform_ is init.kaiming_uniform_
    assert init.he_normal_ is init.kaiming_normal_


# ------------------------------------------------------------------ seeding and generators


def test_manual_seed_makes_initialisation_reproducible():
    cr.manual_seed(42)
    a = init.kaiming_uniform_(weight(10, 10)).numpy().copy()
    cr.manual_seed(42)
    np.testing.assert_array_equal(init.kaiming_uniform_(weight(10, 10)).numpy(), a)


def test_generator_argument_seed_or_generator():
    a = init.normal_(weight(5, 5), generator=3).numpy().copy()
    np.testing.assert_array_equal(init.normal_(weight(5, 5), generator=3).numpy(), a)
    b = init.xavier_uniform_(weight(5, 5), generator=np.random.default_rng(3)).numpy()
    c = init.xavier_uniform_(weight(5, 5), generator=np.random.default_rng(3)).numpy()
    np.testing.assert_array_equal(b, c)


def test_manual_seed_rejects_bad_seeds():
    for seed in (-1, 1.5, True, "1"):
        with pytest.raises(ValueError, match="non-negative integer"):
            cr.manual_seed(seed)


# ------------------------------------------------------------------ errors


def test_invalid_arguments():
    with pytest.raises(ValueError, match="low 2 is above high 1"):
        init.uniform_(weight(2, 2), 2, 1)
    with pytest.raises(ValueError, match="std must be non-negative, got -1"):
        init.normal_(weight(2, 2), 0.0, -1)
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out', got 'fan_avg'"):
        init.kaiming_uniform_(weight(2, 2), mode="fan_avg")
    with pytest.raises(ValueError, match="unknown nonlinearity"):
        init.kaiming_normal_(weight(2, 2), nonlinearity="swish")


def test_a_failed_initialisation_leaves_the_tensor_unchanged():
    w = weight(3, 3)
    init.ones_(w)
    for bad in (
        lambda: init.uniform_(w, 1, 0),
        lambda: init.kaiming_uniform_(w, mode="x"),
        lambda: init.normal_(w, std=-1.0),
    ):
        with pytest.raises(ValueError):
            bad()
        np.testing.assert_array_equal(w.numpy(), np.ones((3, 3)))


# ------------------------------------------------------------------ skip_init


SCHEMES = [
    lambda w: init.zeros_(w),
    lambda w: init.ones_(w),
    lambda w: init.constant_(w, 0.3),
    lambda w: init.uniform_(w, -1, 1),
    lambda w: init.normal_(w),
    lambda w: init.xavier_uniform_(w),
    lambda w: init.xavier_normal_(w),
    lambda w: init.kaiming_uniform_(w),
    lambda w: init.kaiming_normal_(w),
]


@pytest.mark.parametrize("scheme", SCHEMES)
def test_skip_init_writes_nothing_and_draws_nothing(scheme):
    w = weight(4, 3)
    w.numpy()[...] = 7.0
    cr.manual_seed(0)
    with init.skip_init():
        assert scheme(w) is w
    np.testing.assert_array_equal(w.numpy(), np.full((4, 3), 7.0))
    drawn = cr.randn(3).numpy()
    cr.manual_seed(0)
    np.testing.assert_array_equal(cr.randn(3).numpy(), drawn)  # the random stream did not move
    scheme(w)  # outside the block it writes again
    assert not np.array_equal(w.numpy(), np.full((4, 3), 7.0))


def test_skip_init_still_checks_arguments_and_ends_with_its_block():
    w = weight(3, 3)
    with pytest.raises(ValueError, match="low 1 is above high 0"), init.skip_init():
        init.uniform_(w, 1, 0)
    with init.skip_init(), pytest.raises(ValueError, match="mode must be"):
        init.kaiming_uniform_(w, mode="x")
    init.ones_(w)  # the error left the block: writing again
    np.testing.assert_array_equal(w.numpy(), np.ones((3, 3)))


def test_skip_init_in_pytorchs_form_builds_one_module():
    layer = init.skip_init(nn.Linear, 3, 2, bias=False)
    assert isinstance(layer, nn.Linear) and layer.weight.shape == (2, 3) and layer.bias is None
    assert float(abs(init.ones_(weight(2)).numpy()).sum()) == 2.0  # and nothing after it is skipped
    with pytest.raises(TypeError, match="arguments without a module class"):
        init.skip_init(None, 3)
    with pytest.raises(TypeError, match="expected a Module class, got int"):
        init.skip_init(3)


def test_skip_init_belongs_to_the_thread_that_entered_it():
    import threading

    written = []

    def other_thread():
        written.append(init.ones_(weight(2)).numpy().copy())

    with init.skip_init():
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
    np.testing.assert_array_equal(written[0], np.ones(2))


def test_a_layer_built_inside_skip_init_uses_no_memory_for_its_weights():
    from tests.io.memory import MB, peak_rss_growth

    layer, _, skipped = peak_rss_growth(lambda: init.skip_init(nn.Linear, 4000, 4000))  # 64 MB of weights
    assert layer.weight.shape == (4000, 4000)
    assert skipped < 10 * MB, f"{skipped / MB:.1f} MB"
    del layer
    _, _, built = peak_rss_growth(lambda: nn.Linear(4000, 4000))  # the measure sees written weights
    assert built > 60 * MB, f"{built / MB:.1f} MB"
