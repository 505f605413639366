"""BatchNorm1d/2d and LayerNorm against NumPy references (train and eval), gradients."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from tests.nn.support import data, leaf, module_gradcheck


class NumpyBatchNorm:
    """A plain NumPy batch norm: the reference, written out longhand."""

    def __init__(self, channels: int, eps: float = 1e-5, momentum: float = 0.1):
        self.eps, self.momentum = eps, momentum
        self.running_mean = np.zeros(channels)
        self.running_var = np.ones(channels)

    def train_step(self, x: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
        axes = (0,) + tuple(range(2, x.ndim))
        shape = (1, -1) + (1,) * (x.ndim - 2)
        n = x.size // x.shape[1]
        mean = x.mean(axis=axes)
        var = x.var(axis=axes)  # biased: used to normalise
        unbiased = x.var(axis=axes, ddof=1)  # unbiased: kept in the running estimate
        self.running_mean = (1 - self.momentum) * self.running_mean + self.momentum * mean
        self.running_var = (1 - self.momentum) * self.running_var + self.momentum * unbiased
        assert np.allclose(unbiased, var * n / (n - 1))
        normalized = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + self.eps)
        return normalized * gamma.reshape(shape) + beta.reshape(shape)

    def eval_step(self, x: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
        shape = (1, -1) + (1,) * (x.ndim - 2)
        normalized = (x - self.running_mean.reshape(shape)) / np.sqrt(self.running_var.reshape(shape) + self.eps)
        return normalized * gamma.reshape(shape) + beta.reshape(shape)


def affine_batchnorm(cls, channels, **kwargs):
    bn = cls(channels, **kwargs).to("float64")
    bn.weight.numpy()[...] = data(channels, seed=10, low=0.5, high=2.0)
    bn.bias.numpy()[...] = data(channels, seed=11)
    return bn


# ------------------------------------------------------------------ BatchNorm


@pytest.mark.parametrize(
    "cls, shape", [(nn.BatchNorm1d, (16, 3)), (nn.BatchNorm1d, (8, 3, 5)), (nn.BatchNorm2d, (4, 3, 5, 6))]
)
def test_batchnorm_train_then_eval_against_numpy(cls, shape):
    bn = affine_batchnorm(cls, 3, momentum=0.2)
    ref = NumpyBatchNorm(3, momentum=0.2)
    gamma, beta = bn.weight.numpy(), bn.bias.numpy()
    for step in range(3):
        x = data(*shape, seed=step) * (step + 1) + step
        np.testing.assert_allclose(bn(cr.tensor(x)).numpy(), ref.train_step(x, gamma, beta), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(bn.running_mean.numpy(), ref.running_mean, rtol=1e-12)
        np.testing.assert_allclose(bn.running_var.numpy(), ref.running_var, rtol=1e-12)
    assert int(bn.num_batches_tracked.item()) == 3
    bn.eval()
    x = data(*shape, seed=99)
    np.testing.assert_allclose(bn(cr.tensor(x)).numpy(), ref.eval_step(x, gamma, beta), rtol=1e-10, atol=1e-12)
    assert int(bn.num_batches_tracked.item()) == 3  # eval leaves the statistics alone
    np.testing.assert_allclose(bn.running_mean.numpy(), ref.running_mean, rtol=1e-12)


def test_batchnorm_training_output_is_standardised_per_channel():
    bn = nn.BatchNorm1d(4).to("float64")
    x = data(64, 4) * np.array([1.0, 5.0, 0.1, 20.0]) + np.array([0.0, -3.0, 7.0, 100.0])
    y = bn(cr.tensor(x)).numpy()
    np.testing.assert_allclose(y.mean(axis=0), 0.0, atol=1e-10)
    np.testing.assert_allclose(y.var(axis=0), 1.0, rtol=1e-3)  # eps = 1e-5 keeps it just under 1


def test_batchnorm_eval_with_fresh_statistics_is_almost_the_identity():
    bn = nn.BatchNorm1d(3).to("float64").eval()
    x = data(5, 3)
    np.testing.assert_allclose(bn(cr.tensor(x)).numpy(), x / np.sqrt(1 + 1e-5), rtol=1e-12)


def test_batchnorm_running_statistics_converge_to_the_data_statistics():
    bn = nn.BatchNorm1d(2).to("float64")
    rng = np.random.default_rng(0)
    for _ in range(100):
        bn(cr.tensor(rng.normal([3.0, -1.0], [2.0, 0.5], size=(50, 2))))
    np.testing.assert_allclose(bn.running_mean.numpy(), [3.0, -1.0], atol=0.15)
    np.testing.assert_allclose(bn.running_var.numpy(), [4.0, 0.25], rtol=0.15)


@pytest.mark.parametrize(
    "cls, shape", [(nn.BatchNorm1d, (6, 3)), (nn.BatchNorm1d, (4, 3, 2)), (nn.BatchNorm2d, (3, 3, 2, 2))]
)
def test_batchnorm_gradients_train_and_eval(cls, shape):
    bn = affine_batchnorm(cls, 3)
    assert module_gradcheck(bn, leaf(data(*shape)))
    bn.running_mean.numpy()[...] = data(3, seed=3)
    bn.running_var.numpy()[...] = data(3, seed=4, low=0.5, high=2.0)
    bn.eval()
    assert module_gradcheck(bn, leaf(data(*shape, seed=1)))


def test_batchnorm_without_affine_or_running_statistics():
    bn = nn.BatchNorm1d(3, affine=False, track_running_stats=False).to("float64")
    assert list(bn.parameters()) == [] and list(bn.buffers()) == []
    assert bn.state_dict() == {}
    x = data(10, 3)
    expected = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5)
    np.testing.assert_allclose(bn(cr.tensor(x)).numpy(), expected, rtol=1e-10)
    bn.eval()  # no running statistics: evaluation also uses the batch's
    np.testing.assert_allclose(bn(cr.tensor(x)).numpy(), expected, rtol=1e-10)
    assert cr.gradcheck(bn, [leaf(x)])


def test_batchnorm_momentum_one_keeps_only_the_last_batch():
    bn = nn.BatchNorm1d(2, momentum=1.0).to("float64")
    bn(cr.tensor(data(10, 2, seed=0)))
    x = data(10, 2, seed=1)
    bn(cr.tensor(x))
    np.testing.assert_allclose(bn.running_mean.numpy(), x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.numpy(), x.var(0, ddof=1), rtol=1e-12)


def test_batchnorm_reset_parameters():
    bn = affine_batchnorm(nn.BatchNorm1d, 3)
    bn(cr.tensor(data(8, 3)))
    bn.reset_parameters()
    np.testing.assert_array_equal(bn.weight.numpy(), np.ones(3))
    np.testing.assert_array_equal(bn.bias.numpy(), np.zeros(3))
    np.testing.assert_array_equal(bn.running_mean.numpy(), np.zeros(3))
    np.testing.assert_array_equal(bn.running_var.numpy(), np.ones(3))
    assert int(bn.num_batches_tracked.item()) == 0


def test_batchnorm_buffers_and_state_dict():
    bn = nn.BatchNorm1d(3)
    assert [n for n, _ in bn.named_parameters()] == ["weight", "bias"]
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert not bn.running_mean.requires_grad


def test_batchnorm_float32_input_keeps_float32():
    bn = nn.BatchNorm1d(3)
    out = bn(cr.tensor(data(8, 3), dtype="float32"))
    assert out.dtype == np.float32
    assert bn.running_mean.dtype == np.float32
    bn.eval()
    assert bn(cr.tensor(data(8, 3), dtype="float32")).dtype == np.float32


def test_batchnorm_shape_errors():
    message = r"BatchNorm1d\(num_features=3\) got input of shape \(4, 5\): dimension 1 must be 3"
    with pytest.raises(ValueError, match=message):
        nn.BatchNorm1d(3)(cr.zeros(4, 5))
    message = r"BatchNorm1d\(num_features=3\) got input of shape \(4,\): expected 2-D or 3-D input with 3 channels"
    with pytest.raises(ValueError, match=message):
        nn.BatchNorm1d(3)(cr.zeros(4))
    with pytest.raises(ValueError, match=r"BatchNorm2d\(num_features=3\) got input of shape \(4, 3\): expected 4-D"):
        nn.BatchNorm2d(3)(cr.zeros(4, 3))
    with pytest.raises(ValueError, match="more than one value per channel"):
        nn.BatchNorm1d(3)(cr.zeros(1, 3))
    nn.BatchNorm1d(3).eval()(cr.zeros(1, 3))  # one sample is fine in evaluation


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_features": 0}, "num_features must be a positive integer"),
        ({"num_features": 2.0}, "num_features must be a positive integer"),
        ({"num_features": 2, "momentum": 1.5}, r"momentum must be in \[0, 1\]"),
    ],
)
def test_batchnorm_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        nn.BatchNorm1d(**kwargs)


def test_batchnorm_repr():
    assert repr(nn.BatchNorm1d(8)) == (
        "BatchNorm1d(8, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)"
    )
    assert repr(nn.BatchNorm2d(4, affine=False, track_running_stats=False)) == (
        "BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=False, bias=False, track_running_stats=False)"
    )


def test_batchnorm_without_bias_keeps_a_scale_only():
    bn = nn.BatchNorm1d(3, bias=False).to("float64")
    assert bn.bias is None and list(bn.state_dict()) == ["weight", "running_mean", "running_var", "num_batches_tracked"]
    bn.weight.numpy()[...] = [1.0, 2.0, 3.0]
    x = data(10, 3)
    expected = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5) * [1.0, 2.0, 3.0]
    np.testing.assert_allclose(bn(cr.tensor(x)).numpy(), expected, rtol=1e-10)


# ------------------------------------------------------------------ LayerNorm


def np_layer_norm(x, normalized_ndim, gamma=None, beta=None, eps=1e-5):
    axes = tuple(range(x.ndim - normalized_ndim, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    out = (x - mean) / np.sqrt(var + eps)
    return out if gamma is None else out * gamma + beta


def affine_layernorm(shape):
    ln = nn.LayerNorm(shape).to("float64")
    ln.weight.numpy()[...] = data(*ln.normalized_shape, seed=10, low=0.5, high=2.0)
    ln.bias.numpy()[...] = data(*ln.normalized_shape, seed=11)
    return ln


@pytest.mark.parametrize("shape, normalized", [((5, 4), 4), ((2, 3, 4), 4), ((2, 3, 4), (3, 4))])
def test_layernorm_against_numpy(shape, normalized):
    ln = affine_layernorm(normalized)
    x = data(*shape) * 3 + 1
    expected = np_layer_norm(x, len(ln.normalized_shape), ln.weight.numpy(), ln.bias.numpy())
    np.testing.assert_allclose(ln(cr.tensor(x)).numpy(), expected, rtol=1e-10, atol=1e-12)
    ln.eval()  # no running statistics: the same in evaluation
    np.testing.assert_allclose(ln(cr.tensor(x)).numpy(), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("shape, normalized", [((3, 4), 4), ((2, 2, 3), (2, 3))])
def test_layernorm_gradients(shape, normalized):
    assert module_gradcheck(affine_layernorm(normalized), leaf(data(*shape)))


def test_layernorm_without_affine():
    ln = nn.LayerNorm(4, elementwise_affine=False)
    assert list(ln.parameters()) == []
    x = data(3, 4)
    np.testing.assert_allclose(ln(cr.tensor(x)).numpy(), np_layer_norm(x, 1), rtol=1e-10)
    assert cr.gradcheck(ln, [leaf(x)])


def test_layernorm_parameters_and_defaults():
    ln = nn.LayerNorm((2, 3))
    assert ln.normalized_shape == (2, 3)
    assert ln.weight.shape == (2, 3) and ln.bias.shape == (2, 3)
    np.testing.assert_array_equal(ln.weight.numpy(), np.ones((2, 3)))
    np.testing.assert_array_equal(ln.bias.numpy(), np.zeros((2, 3)))
    y = ln(cr.randn(5, 2, 3)).numpy()
    np.testing.assert_allclose(y.mean(axis=(1, 2)), 0, atol=1e-5)


def test_layernorm_reset_parameters():
    ln = nn.LayerNorm(3)
    ln.weight.numpy()[...] = 5.0
    ln.bias.numpy()[...] = -2.0
    ln.reset_parameters()
    np.testing.assert_array_equal(ln.weight.numpy(), np.ones(3))
    np.testing.assert_array_equal(ln.bias.numpy(), np.zeros(3))
    nn.LayerNorm(3, elementwise_affine=False).reset_parameters()  # nothing to reset: no error


@pytest.mark.parametrize(
    "make, names",
    [
        (lambda: nn.BatchNorm1d(4), ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]),
        (lambda: nn.BatchNorm2d(4, affine=False), ["running_mean", "running_var", "num_batches_tracked"]),
        (lambda: nn.LayerNorm((2, 2)), ["weight", "bias"]),
    ],
)
def test_normalization_built_inside_skip_init_is_left_unwritten_until_reset(make, names, monkeypatch):
    # every tensor is allocated empty and filled through chainrule.nn.init, so skip_init covers it
    monkeypatch.setattr(np, "empty", lambda shape, dtype=float: np.full(shape, 9, dtype=dtype))
    with nn.init.skip_init():
        layer = make()
    assert list(layer.state_dict()) == names
    assert all((value == 9).all() for value in layer.state_dict().values())
    layer.reset_parameters()
    fresh = {"weight": 1, "bias": 0, "running_mean": 0, "running_var": 1, "num_batches_tracked": 0}
    for name, value in layer.state_dict().items():
        assert (value == fresh[name]).all(), name


def test_layernorm_shape_error():
    message = r"LayerNorm\(normalized_shape=\(4,\)\) got input of shape \(2, 5\): the last dimension must be 4"
    with pytest.raises(ValueError, match=message):
        nn.LayerNorm(4)(cr.zeros(2, 5))
    message = r"got input of shape \(3,\): the last 2 dimensions must be \(2, 3\)"
    with pytest.raises(ValueError, match=message):
        nn.LayerNorm((2, 3))(cr.zeros(3))


@pytest.mark.parametrize("shape", [0, -2, (3, 0), 2.5, (2, 1.5), "4"])
def test_layernorm_rejects_bad_shapes(shape):
    with pytest.raises(ValueError, match="LayerNorm: normalized_shape must be a positive integer or a tuple of them"):
        nn.LayerNorm(shape)


def test_layernorm_repr():
    assert repr(nn.LayerNorm(8)) == "LayerNorm((8,), eps=1e-05, elementwise_affine=True, bias=True)"
    no_affine = nn.LayerNorm((2, 3), elementwise_affine=False)
    assert repr(no_affine) == "LayerNorm((2, 3), eps=1e-05, elementwise_affine=False, bias=False)"


def test_layernorm_without_bias():
    ln = nn.LayerNorm(4, bias=False).to("float64")
    assert ln.bias is None and [n for n, _ in ln.named_parameters()] == ["weight"]
    assert repr(ln) == "LayerNorm((4,), eps=1e-05, elementwise_affine=True, bias=False)"
    ln.weight.numpy()[...] = data(4, seed=3)
    x = data(3, 4)
    np.testing.assert_allclose(ln(cr.tensor(x)).numpy(), np_layer_norm(x, 1) * ln.weight.numpy(), rtol=1e-10)
    assert module_gradcheck(ln, leaf(x))


# ------------------------------------------------------------------ GroupNorm


def np_group_norm(x, groups, gamma=None, beta=None, eps=1e-5):
    n, c = x.shape[:2]
    g = x.reshape(n, groups, -1)
    out = ((g - g.mean(-1, keepdims=True)) / np.sqrt(g.var(-1, keepdims=True) + eps)).reshape(x.shape)
    shape = (1, c) + (1,) * (x.ndim - 2)
    return out if gamma is None else out * gamma.reshape(shape) + beta.reshape(shape)


@pytest.mark.parametrize("groups, shape", [(2, (4, 6, 5)), (3, (2, 6, 3, 4)), (1, (5, 6)), (6, (2, 6, 3))])
def test_groupnorm_against_numpy_and_gradients(groups, shape):
    gn = nn.GroupNorm(groups, 6, dtype="float64")
    gn.weight.numpy()[...] = data(6, seed=10, low=0.5, high=2.0)
    gn.bias.numpy()[...] = data(6, seed=11)
    x = data(*shape) * 3 + 1
    expected = np_group_norm(x, groups, gn.weight.numpy(), gn.bias.numpy())
    np.testing.assert_allclose(gn(cr.tensor(x)).numpy(), expected, rtol=1e-10, atol=1e-12)
    gn.eval()  # no running statistics: the same in evaluation
    np.testing.assert_allclose(gn(cr.tensor(x)).numpy(), expected, rtol=1e-10, atol=1e-12)
    assert module_gradcheck(gn, leaf(data(*shape, seed=2)))


def test_groupnorm_arguments_parameters_and_repr():
    gn = nn.GroupNorm(2, 4)
    assert repr(gn) == "GroupNorm(2, 4, eps=1e-05, affine=True, bias=True)"
    assert list(gn.state_dict()) == ["weight", "bias"]
    np.testing.assert_array_equal(gn.weight.numpy(), np.ones(4))
    assert list(nn.GroupNorm(2, 4, affine=False).state_dict()) == []
    no_bias = nn.GroupNorm(2, 4, bias=False)
    assert no_bias.bias is None and repr(no_bias).endswith("affine=True, bias=False)")
    with pytest.raises(ValueError, match=r"num_channels \(6\) must be divisible by num_groups \(4\)"):
        nn.GroupNorm(4, 6)
    with pytest.raises(ValueError, match=r"GroupNorm\(num_channels=4\) got input of shape \(2, 3, 5\)"):
        gn(cr.zeros(2, 3, 5))
    with pytest.raises(ValueError, match="divisible by num_groups=3"):
        cr.nn.functional.group_norm(cr.zeros(2, 4, 5), 3)


# ------------------------------------------------------------------ InstanceNorm


def np_instance_norm(x, eps=1e-5):
    axes = tuple(range(2, x.ndim))
    return (x - x.mean(axes, keepdims=True)) / np.sqrt(x.var(axes, keepdims=True) + eps)


@pytest.mark.parametrize("cls, shape", [(nn.InstanceNorm1d, (4, 3, 5)), (nn.InstanceNorm2d, (2, 3, 4, 3))])
def test_instancenorm_defaults_normalise_each_sample_and_channel(cls, shape):
    norm = cls(3)
    assert list(norm.state_dict()) == [] and norm.weight is None and norm.running_mean is None
    assert repr(norm) == (
        f"{cls.__name__}(3, eps=1e-05, momentum=0.1, affine=False, bias=False, track_running_stats=False)"
    )
    x = data(*shape) * 4 - 1
    np.testing.assert_allclose(norm(cr.tensor(x)).numpy(), np_instance_norm(x), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(norm(cr.tensor(x[0])).numpy(), np_instance_norm(x[:1])[0], rtol=1e-10, atol=1e-12)
    norm.eval()  # without running statistics, evaluation uses the input's too
    np.testing.assert_allclose(norm(cr.tensor(x)).numpy(), np_instance_norm(x), rtol=1e-10, atol=1e-12)
    assert cr.gradcheck(norm, [leaf(data(*shape, seed=3))])


def test_instancenorm_running_statistics_and_affine():
    norm = nn.InstanceNorm1d(2, momentum=0.5, affine=True, track_running_stats=True, dtype="float64")
    assert list(norm.state_dict()) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    norm.weight.numpy()[...] = [2.0, 3.0]
    norm.bias.numpy()[...] = [0.5, -1.0]
    x = data(3, 2, 4) * 2 + 1
    out = norm(cr.tensor(x)).numpy()
    np.testing.assert_allclose(out, np_instance_norm(x) * [[[2.0], [3.0]]] + [[[0.5], [-1.0]]], rtol=1e-10)
    # the running mean / variance: the batch's average of each sample's mean / unbiased variance
    np.testing.assert_allclose(norm.running_mean.numpy(), 0.5 * x.mean(2).mean(0), rtol=1e-12)
    np.testing.assert_allclose(norm.running_var.numpy(), 0.5 + 0.5 * x.var(2, ddof=1).mean(0), rtol=1e-12)
    norm.eval()
    mean, var = norm.running_mean.numpy()[:, None], norm.running_var.numpy()[:, None]
    expected = (x - mean) / np.sqrt(var + 1e-5) * [[2.0], [3.0]] + [[0.5], [-1.0]]
    np.testing.assert_allclose(norm(cr.tensor(x)).numpy(), expected, rtol=1e-10)
    assert module_gradcheck(norm, leaf(x))


def test_instancenorm_input_errors_and_pytorchs_warning():
    with pytest.raises(ValueError, match="expected 2-D or 3-D input, got 4-D"):
        nn.InstanceNorm1d(3)(cr.zeros(2, 3, 4, 5))
    with pytest.raises(ValueError, match=r"expected input's size at dim=1 to match num_features \(3\), but got: 4"):
        nn.InstanceNorm1d(3, affine=True)(cr.zeros(2, 4, 5))
    with pytest.warns(UserWarning, match="does not match num_features"):
        nn.InstanceNorm2d(3)(cr.randn(2, 4, 3, 3))
    with pytest.raises(ValueError, match="more than 1 spatial element"):
        nn.InstanceNorm1d(3)(cr.zeros(2, 3, 1))


def test_batch_norm_momentum_none_is_the_cumulative_average():
    """PyTorch's momentum=None: the running statistics are the plain average of the batches' (the
    variance unbiased), compiled or not; instance norm's then stay as they are, as PyTorch's."""
    rng = np.random.default_rng(0)
    batches = [rng.normal(size=(5, 3)) for _ in range(4)]
    eager = cr.nn.BatchNorm1d(3, momentum=None, dtype="float64")
    compiled_bn = cr.nn.BatchNorm1d(3, momentum=None, dtype="float64")

    @cr.compile
    def step(x):
        loss = compiled_bn(x).sum()
        loss.backward()
        return loss

    for x in batches:
        eager(cr.tensor(x))
        step(cr.tensor(x))
    np.testing.assert_allclose(eager.running_mean.numpy(), np.mean([b.mean(0) for b in batches], 0), rtol=1e-12)
    np.testing.assert_allclose(eager.running_var.numpy(), np.mean([b.var(0, ddof=1) for b in batches], 0), rtol=1e-12)
    np.testing.assert_allclose(compiled_bn.running_mean.numpy(), eager.running_mean.numpy(), rtol=1e-12)
    assert step.stats["replayed"] >= 1 and int(compiled_bn.num_batches_tracked.item()) == 4
    inorm = cr.nn.InstanceNorm1d(3, momentum=None, track_running_stats=True)
    inorm(cr.tensor(rng.normal(size=(2, 3, 5)).astype(np.float32)))
    np.testing.assert_array_equal(inorm.running_mean.numpy(), [0.0, 0.0, 0.0])
