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


# ------------------------------------------------------------------ orthogonal, truncated normal, eye, dirac, sparse


def orthogonality_error(w: np.ndarray) -> float:
    """How far a tensor, seen as a (shape[0], rest) matrix, is from having orthonormal rows or columns."""
    m = w.reshape(w.shape[0], -1)
    gram = m @ m.T if m.shape[0] < m.shape[1] else m.T @ m
    return float(abs(gram - np.eye(len(gram))).max())


@pytest.mark.parametrize("shape", [(5, 5), (3, 7), (7, 3), (8, 4, 3), (6, 2, 3, 3), (4, 1, 1, 2, 2)])
def test_orthogonal_rows_or_columns_are_orthonormal(shape):
    w = init.orthogonal_(weight(*shape))
    assert w.shape == shape
    assert orthogonality_error(w.numpy()) < 1e-6


def test_orthogonal_gain_scales_the_matrix():
    m = init.orthogonal_(weight(4, 6), gain=2.5).numpy()
    np.testing.assert_allclose(m @ m.T, 6.25 * np.eye(4), atol=1e-6)


def test_orthogonal_is_uniform_not_biased_by_qr_signs():
    # Without moving R's signs into Q, Q's first column leans towards the positive first axis.
    cr.manual_seed(0)
    firsts = np.array([init.orthogonal_(weight(3, 3)).numpy()[0, 0] for _ in range(2000)])
    assert abs(firsts.mean()) < 0.05  # an entry of a uniform rotation has mean 0 and std 1/sqrt(3)
    assert firsts.std() == pytest.approx(1 / math.sqrt(3), rel=0.05)


def test_orthogonal_of_an_empty_tensor_and_of_float32():
    assert init.orthogonal_(weight(0, 3)).shape == (0, 3)
    w = init.orthogonal_(cr.zeros(16, 8)).numpy()
    assert w.dtype == np.float32 and orthogonality_error(w) < 1e-5


@pytest.mark.parametrize(
    "mean, std, a, b",
    [
        (0.0, 1.0, -2.0, 2.0),
        (0.0, 0.02, -0.04, 0.04),
        (1.0, 2.0, 0.0, 0.5),
        (0.0, 1.0, 2.0, 6.0),
        (-3.0, 0.5, -3.0, 9.0),
    ],
)
def test_trunc_normal_stays_inside_and_matches_the_truncated_moments(mean, std, a, b):
    cr.manual_seed(1)
    w = init.trunc_normal_(weight(200, 500), mean, std, a, b).numpy()
    assert w.min() >= a and w.max() <= b
    # the truncated normal's mean and std, from the standard normal's pdf and cdf at the bounds
    alpha, beta = (a - mean) / std, (b - mean) / std
    pdf = lambda x: math.exp(-x * x / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda x: (1 + math.erf(x / math.sqrt(2))) / 2  # noqa: E731
    z = cdf(beta) - cdf(alpha)
    mu = mean + std * (pdf(alpha) - pdf(beta)) / z
    var = std**2 * (1 + (alpha * pdf(alpha) - beta * pdf(beta)) / z - ((pdf(alpha) - pdf(beta)) / z) ** 2)
    sigma = math.sqrt(var)
    assert abs(w.mean() - mu) < 5 * sigma / math.sqrt(w.size)
    assert w.std() == pytest.approx(sigma, rel=0.02)


def test_trunc_normal_defaults_and_float32_bounds():
    w = init.trunc_normal_(cr.zeros(100000)).numpy()
    assert w.min() >= -2 and w.max() <= 2 and w.std() == pytest.approx(0.8796, rel=0.02)  # N(0, 1) cut at ±2
    w = init.trunc_normal_(cr.zeros(100000), mean=0.1, std=0.1, a=0.1, b=0.3).numpy()
    assert w.min() >= np.float32(0.1) and w.max() <= np.float32(0.3)
    np.testing.assert_array_equal(init.trunc_normal_(weight(3), a=0.5, b=0.5).numpy(), np.full(3, 0.5))


def test_trunc_normal_warns_when_the_mean_is_far_outside():
    with pytest.warns(UserWarning, match="mean is more than 2 std from"):
        w = init.trunc_normal_(weight(1000), mean=5.0, std=1.0, a=-1.0, b=1.0).numpy()
    assert w.min() >= -1 and w.max() <= 1 and w.mean() > 0.5  # still exact: mass piles up near b


def test_eye_on_square_wide_and_tall_matrices():
    for shape in [(3, 3), (2, 5), (5, 2)]:
        np.testing.assert_array_equal(init.eye_(weight(*shape)).numpy(), np.eye(*shape))
    layer = nn.Linear(4, 4)
    init.eye_(layer.weight)
    x = cr.randn(2, 4)
    np.testing.assert_allclose((layer(x) - layer.bias).numpy(), x.numpy(), rtol=1e-6)


def test_dirac_makes_a_convolution_the_identity():
    conv = nn.Conv2d(3, 3, 3, padding=1, bias=False)
    init.dirac_(conv.weight)
    x = cr.randn(2, 3, 5, 5)
    np.testing.assert_allclose(conv(x).numpy(), x.numpy(), rtol=1e-6)


@pytest.mark.parametrize("shape", [(4, 2, 3), (2, 4, 3, 2), (3, 3, 3, 4, 5)])
def test_dirac_puts_one_one_per_kept_channel_at_the_kernel_centre(shape):
    w = init.dirac_(weight(*shape)).numpy()
    expected = np.zeros(shape)
    centre = tuple(k // 2 for k in shape[2:])
    for c in range(min(shape[0], shape[1])):
        expected[(c, c, *centre)] = 1
    np.testing.assert_array_equal(w, expected)


def test_dirac_inside_skip_init_writes_nothing():
    w = weight(2, 2, 3)
    w.numpy()[...] = 7.0
    with init.skip_init():
        assert init.dirac_(w) is w
    np.testing.assert_array_equal(w.numpy(), np.full((2, 2, 3), 7.0))


def test_dirac_groups():
    w = init.dirac_(weight(6, 2, 3), groups=3).numpy()
    expected = np.zeros((6, 2, 3))
    for g in range(3):
        expected[2 * g, 0, 1] = expected[2 * g + 1, 1, 1] = 1
    np.testing.assert_array_equal(w, expected)
    w = init.dirac_(weight(4, 3, 1, 1), groups=2).numpy()  # 2 outputs per group, 3 inputs: 2 ones per group
    assert w.sum() == 4 and w[0, 0, 0, 0] == w[1, 1, 0, 0] == w[2, 0, 0, 0] == w[3, 1, 0, 0] == 1


@pytest.mark.parametrize("sparsity, rows, zeros", [(0.1, 20, 2), (0.25, 10, 3), (0.0, 7, 0), (1.0, 5, 5), (0.5, 9, 5)])
def test_sparse_zeros_per_column(sparsity, rows, zeros):
    w = init.sparse_(weight(rows, 300), sparsity).numpy()
    np.testing.assert_array_equal((w == 0).sum(axis=0), np.full(300, zeros))


def test_sparse_values_and_random_rows():
    cr.manual_seed(0)
    w = init.sparse_(weight(100, 400), 0.2, std=0.5).numpy()
    assert w[w != 0].std() == pytest.approx(0.5, rel=0.02)
    per_row = (w == 0).sum(axis=1)  # 20 zeros in each of 400 columns: a row holds Binomial(400, 0.2), 80 ± 8
    assert per_row.mean() == 80 and per_row.max() < 120 and per_row.min() > 40
    assert abs(init.sparse_(weight(50, 50), 0.1, std=0.01).numpy()).max() < 0.06


def test_new_schemes_follow_the_seed_and_the_generator():
    for scheme in (
        init.orthogonal_,
        init.trunc_normal_,
        lambda w, generator=None: init.sparse_(w, 0.5, generator=generator),
    ):
        cr.manual_seed(5)
        a = scheme(weight(6, 4)).numpy().copy()
        cr.manual_seed(5)
        np.testing.assert_array_equal(scheme(weight(6, 4)).numpy(), a)
        b = scheme(weight(6, 4), generator=3).numpy().copy()
        np.testing.assert_array_equal(scheme(weight(6, 4), generator=np.random.default_rng(3)).numpy(), b)
        assert not np.array_equal(a, b)


def test_new_schemes_refuse_bad_shapes_and_arguments_before_writing():
    w = weight(2, 3, 3)
    init.ones_(w)
    for bad, message in [
        (
            lambda: init.orthogonal_(weight(5)),
            r"orthogonal_: only tensors with 2 or more dimensions .* got shape \(5,\)",
        ),
        (lambda: init.eye_(w), r"eye_: only tensors with 2 dimensions are supported, got shape \(2, 3, 3\)"),
        (lambda: init.dirac_(weight(3, 3)), r"dirac_: only tensors with 3, 4, or 5 dimensions"),
        (lambda: init.dirac_(w, groups=4), r"dirac_: dim 0 \(2\) must be divisible by groups \(4\)"),
        (lambda: init.dirac_(w, groups=0), "groups must be a positive integer, got 0"),
        (lambda: init.sparse_(w, 0.1), r"sparse_: only tensors with 2 dimensions .* got shape \(2, 3, 3\)"),
        (lambda: init.sparse_(weight(3, 3), 1.5), r"sparsity must be a fraction in \[0, 1\], got 1.5"),
        (lambda: init.sparse_(weight(3, 3), 0.5, std=-1), "std must be non-negative, got -1"),
        (lambda: init.trunc_normal_(w, std=0), "std must be positive, got 0"),
        (lambda: init.trunc_normal_(w, a=1, b=0), "low 1 is above high 0"),
    ]:
        with pytest.raises(ValueError, match=message):
            bad()
    np.testing.assert_array_equal(w.numpy(), np.ones((2, 3, 3)))


def test_new_schemes_write_in_place_and_mark_the_tensor_modified():
    w = weight(4, 4)
    data = w.numpy()
    for scheme in (init.orthogonal_, init.trunc_normal_, init.eye_, lambda t: init.sparse_(t, 0.5)):
        assert scheme(w) is w and w.numpy() is data
    x = nn.Parameter(np.ones((2, 2, 1)))
    y = (x * x).sum()
    init.dirac_(x)
    with pytest.raises(RuntimeError, match="modified"):
        y.backward()


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
    lambda w: init.orthogonal_(w),
    lambda w: init.trunc_normal_(w),
    lambda w: init.eye_(w),
    lambda w: init.sparse_(w, 0.5),
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
