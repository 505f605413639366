"""Convolution and pooling layers: values, gradients, shapes, init, config, repr, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F
from tests.nn.support import data, leaf, module_gradcheck
from tests.ops.references import (
    reference_adaptive_avg_pool,
    reference_avg_pool,
    reference_conv,
    reference_conv_transpose,
    reference_max_pool,
    reference_nearest,
)


def layer64(cls, *args, seed=0, **kwargs):
    cr.manual_seed(seed)
    return cls(*args, **kwargs).to("float64")


def direct_conv1d(x, w, b, stride, padding):
    """Plain loops: y[n, o, t] = b[o] + sum_{c, k} x_padded[n, c, t stride + k] w[o, c, k]."""
    xp = np.pad(x, [(0, 0), (0, 0), (padding, padding)])
    n, o, k = x.shape[0], w.shape[0], w.shape[2]
    length = (xp.shape[2] - k) // stride + 1
    y = np.zeros((n, o, length))
    for i in range(n):
        for oc in range(o):
            for t in range(length):
                y[i, oc, t] = b[oc] + np.sum(xp[i, :, t * stride : t * stride + k] * w[oc])
    return y


# ------------------------------------------------------------------ Conv1d / Conv2d


def test_conv1d_values_against_loops():
    layer = layer64(nn.Conv1d, 3, 4, 5, stride=2, padding=1)
    x = data(2, 3, 12)
    expected = direct_conv1d(x, layer.weight.numpy(), layer.bias.numpy(), 2, 1)
    np.testing.assert_allclose(layer(cr.tensor(x)).numpy(), expected, rtol=1e-12)


def test_conv2d_values_against_loops_non_square():
    layer = layer64(nn.Conv2d, 2, 3, (3, 2), stride=(2, 1), padding=(1, 0))
    x = data(2, 2, 7, 5)
    w, b = layer.weight.numpy(), layer.bias.numpy()
    xp = np.pad(x, [(0, 0), (0, 0), (1, 1), (0, 0)])
    expected = np.zeros((2, 3, 4, 4))
    for i in range(2):
        for o in range(3):
            for r in range(4):
                for c in range(4):
                    expected[i, o, r, c] = b[o] + np.sum(xp[i, :, 2 * r : 2 * r + 3, c : c + 2] * w[o])
    np.testing.assert_allclose(layer(cr.tensor(x)).numpy(), expected, rtol=1e-12)


def test_grouped_dilated_and_transposed_layers_against_the_loop_references():
    """The layers pass their options through to the ops: checked against tests/ops' direct loops."""
    conv = layer64(nn.Conv2d, 4, 6, (3, 2), padding="same", dilation=(1, 2), groups=2)
    x = data(2, 4, 6, 5)
    expected = reference_conv(x, conv.weight.numpy(), conv.bias.numpy(), (1, 1), "same", (1, 2), 2)
    np.testing.assert_allclose(conv(cr.tensor(x)).numpy(), expected, rtol=1e-10, atol=1e-12)
    conv1 = layer64(nn.Conv1d, 3, 4, 5, stride=2, padding=1)
    x = data(2, 3, 12, seed=1)
    expected = reference_conv(x, conv1.weight.numpy(), conv1.bias.numpy(), (2,), (1,), (1,), 1)
    np.testing.assert_allclose(conv1(cr.tensor(x)).numpy(), expected, rtol=1e-10, atol=1e-12)
    convt = layer64(nn.ConvTranspose2d, 4, 6, 3, stride=2, padding=1, output_padding=1, groups=2)
    x = data(2, 4, 3, 4, seed=2)
    expected = reference_conv_transpose(x, convt.weight.numpy(), convt.bias.numpy(), (2, 2), (1, 1), (1, 1), 2, (1, 1))
    out = convt(cr.tensor(x))
    assert out.shape == expected.shape == (2, 6, 6, 8)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "cls, args, kwargs, shape",
    [
        (nn.Conv1d, (2, 4, 3), {}, (2, 2, 9)),
        (nn.Conv1d, (4, 4, 3), {"padding": "same", "dilation": 2, "groups": 2}, (2, 4, 9)),
        (nn.Conv1d, (2, 3, 4), {"stride": 3, "padding": 2, "bias": False}, (2, 2, 10)),
        (nn.Conv2d, (2, 3, 3), {"padding": 1}, (2, 2, 5, 4)),
        (nn.Conv2d, (3, 3, (2, 3)), {"stride": (2, 1), "dilation": (1, 2), "groups": 3}, (2, 3, 6, 7)),
        (nn.Conv2d, (2, 4, 2), {"padding": "same", "bias": False}, (2, 2, 4, 5)),
        (nn.ConvTranspose1d, (2, 3, 3), {"stride": 2, "padding": 1, "output_padding": 1}, (2, 2, 5)),
        (nn.ConvTranspose2d, (4, 2, (3, 2)), {"stride": (2, 1), "groups": 2}, (2, 4, 3, 3)),
    ],
)
def test_conv_layer_gradients_against_finite_differences(cls, args, kwargs, shape):
    layer = layer64(cls, *args, **kwargs)
    assert module_gradcheck(layer, leaf(data(*shape)))


def test_conv_output_shapes_and_mnist1d_cnn():
    model = nn.Sequential(
        nn.Conv1d(1, 25, 5, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv1d(25, 25, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv1d(25, 25, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(125, 10),
    )
    x = cr.randn(100, 1, 40)
    assert model[0](x).shape == (100, 25, 19)
    out = model(x)
    assert out.shape == (100, 10) and out.dtype == np.float32
    nn.functional.cross_entropy(out, cr.tensor(np.arange(100) % 10)).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.shape == p.shape and p.grad.dtype == np.float32, name
        assert p.grad.numpy().flags.c_contiguous, name  # optimisers update .grad in place


def test_conv_parameter_shapes_and_dtype():
    conv = nn.Conv2d(6, 8, (3, 5), groups=2)
    assert conv.weight.shape == (8, 3, 3, 5) and conv.bias.shape == (8,)
    assert conv.weight.dtype == np.float32
    assert nn.Conv1d(2, 3, 3, dtype="float64").weight.dtype == np.float64
    assert nn.Conv1d(2, 3, 3, bias=False).bias is None
    assert nn.ConvTranspose2d(6, 4, 3, groups=2).weight.shape == (6, 2, 3, 3)
    assert conv.num_parameters() == 8 * 3 * 3 * 5 + 8


def test_conv_default_init_is_pytorchs():
    conv = nn.Conv2d(16, 32, 3)
    bound = 1 / math.sqrt(16 * 3 * 3)  # kaiming_uniform_(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    w, b = conv.weight.numpy(), conv.bias.numpy()
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert np.abs(w).max() > 0.95 * bound  # the whole range is used
    assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound
    cr.manual_seed(1)
    conv.reset_parameters()
    first = conv.weight.numpy().copy()
    cr.manual_seed(1)
    conv.reset_parameters()
    np.testing.assert_array_equal(conv.weight.numpy(), first)
    depthwise = nn.Conv1d(8, 8, 5, groups=8)
    assert np.abs(depthwise.weight.numpy()).max() <= 1 / math.sqrt(5)


def test_conv_repr_matches_pytorchs_form():
    assert (
        repr(nn.Conv1d(1, 25, 5, stride=2, padding=1)) == "Conv1d(1, 25, kernel_size=(5,), stride=(2,), padding=(1,))"
    )
    assert repr(nn.Conv2d(3, 8, 3)) == "Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1))"
    assert (
        repr(nn.Conv2d(4, 8, (3, 1), padding="same", dilation=2, groups=2, bias=False))
        == "Conv2d(4, 8, kernel_size=(3, 1), stride=(1, 1), padding=same, dilation=(2, 2), groups=2, bias=False)"
    )
    assert (
        repr(nn.ConvTranspose1d(4, 2, 3, stride=2, output_padding=1))
        == "ConvTranspose1d(4, 2, kernel_size=(3,), stride=(2,), output_padding=(1,))"
    )


@pytest.mark.parametrize(
    "layer",
    [
        nn.Conv1d(2, 4, 3, stride=2, padding=1, bias=False),
        nn.Conv2d(4, 6, (3, 2), padding="same", dilation=(2, 1), groups=2),
        nn.ConvTranspose2d(4, 2, 3, stride=2, output_padding=1, dtype="float64"),
        nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
        nn.MaxPool1d([3], stride=(2,), dilation=2),
        nn.AvgPool2d((2, 3), padding=(1, 0)),
        nn.AvgPool2d(3, 2, 1, divisor_override=2),
        nn.AdaptiveAvgPool1d(1),
        nn.Upsample(size=(4, 6)),
        nn.AvgPool1d(4, 2, count_include_pad=False),
        nn.AdaptiveAvgPool2d((None, 3)),
        nn.GlobalAvgPool(keepdims=True),
        nn.Upsample(scale_factor=(2, 3)),
    ],
)
def test_config_round_trip(layer):
    import json

    spec = json.loads(json.dumps(nn.module_to_spec(layer)))  # JSON-friendly
    rebuilt = nn.module_from_spec(spec)
    assert type(rebuilt) is type(layer) and repr(rebuilt) == repr(layer)
    assert rebuilt.get_config() == layer.get_config()
    assert list(rebuilt.state_dict()) == list(layer.state_dict())
    assert [p.shape for p in rebuilt.parameters()] == [p.shape for p in layer.parameters()]
    assert [p.dtype for p in rebuilt.parameters()] == [p.dtype for p in layer.parameters()]


def test_conv_input_shape_errors_name_the_layer():
    with pytest.raises(ValueError) as info:
        nn.Conv2d(3, 8, 3)(cr.zeros(8, 1, 28, 28))
    assert str(info.value) == "Conv2d(in_channels=3) got input of shape (8, 1, 28, 28): dimension 1 must be 3"
    with pytest.raises(
        ValueError, match=r"Conv2d\(in_channels=3\) got input of shape \(1, 28, 28\): dimension 0 must be 3"
    ):
        nn.Conv2d(3, 8, 3)(cr.zeros(1, 28, 28))
    with pytest.raises(ValueError) as info:  # the channel axis forgotten
        nn.Conv1d(1, 25, 5)(cr.zeros(100, 40))
    assert str(info.value) == (
        "Conv1d(in_channels=1) got input of shape (100, 40): dimension 0 must be 1 "
        "(a 2-D input is one unbatched (C, L) sample)"
    )
    with pytest.raises(
        ValueError, match=r"Conv1d\(in_channels=1\) got input of shape \(100,\): expected a 3-D \(N, C, L\)"
    ):
        nn.Conv1d(1, 25, 5)(cr.zeros(100))
    with pytest.raises(ValueError, match=r"conv1d: input of shape \(2, 1, 3\) .* is smaller than the kernel"):
        nn.Conv1d(1, 2, 5)(cr.zeros(2, 1, 3))


def test_conv_unbatched_input():
    conv = layer64(nn.Conv2d, 3, 4, 3, padding=1)
    x = data(3, 5, 6)
    np.testing.assert_allclose(conv(cr.tensor(x)).numpy(), conv(cr.tensor(x[None])).numpy()[0], rtol=1e-12)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: nn.Conv2d(3, 8, 3, groups=2), "Conv2d: in_channels (3) must be divisible by groups (2)"),
        (lambda: nn.Conv2d(4, 6, 3, groups=4), "Conv2d: out_channels (6) must be divisible by groups (4)"),
        (lambda: nn.Conv1d(0, 8, 3), "Conv1d: in_channels must be a positive integer, got 0"),
        (lambda: nn.Conv1d(2, 8, (3, 3)), "Conv1d: kernel_size must be an int or a sequence of 1 ints"),
        (lambda: nn.Conv2d(2, 8, 3, stride=2, padding="same"), "Conv2d: padding='same' needs stride 1"),
        (lambda: nn.Conv2d(2, 8, 3, padding="full"), "Conv2d: padding must be an int, a tuple, 'same' or 'valid'"),
        (lambda: nn.Conv2d(2, 8, 3, padding=-1), "Conv2d: padding must be at least 0"),
        (lambda: nn.Conv2d(2, 8, 3, padding_mode="reflect"), "Conv2d: only padding_mode='zeros'"),
        (
            lambda: nn.ConvTranspose1d(2, 8, 3, stride=2, output_padding=2),
            "ConvTranspose1d: output_padding (2,) must be smaller",
        ),
        (lambda: nn.MaxPool2d(0), "MaxPool2d: kernel_size must be at least 1"),
        (lambda: nn.AdaptiveAvgPool2d((1, 2, 3)), "AdaptiveAvgPool2d: output_size must be an int or 2 sizes"),
        (lambda: nn.Upsample(), "Upsample: give exactly one of size and scale_factor"),
    ],
)
def test_construction_errors(make, message):
    with pytest.raises(ValueError) as info:
        make()
    assert message in str(info.value)


# ------------------------------------------------------------------ pooling layers


def test_pooling_layers_values():
    x = data(2, 3, 6, 4)
    np.testing.assert_allclose(nn.MaxPool2d(2)(cr.tensor(x)).numpy(), x.reshape(2, 3, 3, 2, 2, 2).max(axis=(3, 5)))
    np.testing.assert_allclose(
        nn.AvgPool2d((2, 1))(cr.tensor(x)).numpy(), x.reshape(2, 3, 3, 2, 4).mean(axis=3), rtol=1e-12
    )
    np.testing.assert_allclose(
        nn.AdaptiveAvgPool2d(1)(cr.tensor(x)).numpy(), x.mean(axis=(2, 3), keepdims=True), rtol=1e-12
    )
    np.testing.assert_allclose(nn.GlobalAvgPool()(cr.tensor(x)).numpy(), x.mean(axis=(2, 3)), rtol=1e-12)
    x1 = data(2, 3, 8)
    np.testing.assert_allclose(nn.MaxPool1d(2)(cr.tensor(x1)).numpy(), x1.reshape(2, 3, 4, 2).max(axis=3))
    np.testing.assert_allclose(nn.AvgPool1d(4)(cr.tensor(x1)).numpy(), x1.reshape(2, 3, 2, 4).mean(axis=3), rtol=1e-12)
    np.testing.assert_allclose(
        nn.AdaptiveAvgPool1d(2)(cr.tensor(x1)).numpy(), x1.reshape(2, 3, 2, 4).mean(axis=3), rtol=1e-12
    )
    np.testing.assert_allclose(nn.Upsample(scale_factor=2)(cr.tensor(x1)).numpy(), np.repeat(x1, 2, axis=2))
    np.testing.assert_allclose(nn.GlobalAvgPool()(cr.tensor(x1)).numpy(), x1.mean(axis=2), rtol=1e-12)


def test_avg_pool2d_divisor_override_divides_every_window_sum():
    x = data(2, 3, 6, 4)
    sums = x.reshape(2, 3, 3, 2, 2, 2).sum(axis=(3, 5))
    for d in (1, 3, -2):
        np.testing.assert_allclose(F.avg_pool2d(cr.tensor(x), 2, divisor_override=d).numpy(), sums / d, rtol=1e-12)
        np.testing.assert_allclose(nn.AvgPool2d(2, divisor_override=d)(cr.tensor(x)).numpy(), sums / d, rtol=1e-12)
    # padded and partial (ceil_mode) windows too: the override wins over count_include_pad
    y = F.avg_pool2d(cr.tensor(x), 3, 2, 1, ceil_mode=True, count_include_pad=False, divisor_override=5)
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    corner = padded[:, :, 0:3, 0:3].sum(axis=(2, 3)) / 5
    np.testing.assert_allclose(y.numpy()[:, :, 0, 0], corner, rtol=1e-12)
    # the gradient: each output's gradient / divisor, added over its window
    xc = leaf(x)
    g = data(2, 3, 3, 2, seed=1)
    F.avg_pool2d(xc, 2, divisor_override=3).backward(cr.tensor(g))
    np.testing.assert_allclose(xc.grad.numpy(), np.repeat(np.repeat(g, 2, axis=2), 2, axis=3) / 3, rtol=1e-12)


@pytest.mark.parametrize("bad, error", [(0, ValueError), (2.5, TypeError), (True, TypeError), ("2", TypeError)])
def test_avg_pool2d_divisor_override_must_be_a_nonzero_int(bad, error):
    with pytest.raises(error, match="avg_pool2d: divisor_override must"):
        F.avg_pool2d(cr.ones(1, 1, 4, 4), 2, divisor_override=bad)
    with pytest.raises(error, match="AvgPool2d: divisor_override must"):
        nn.AvgPool2d(2, divisor_override=bad)


def test_pooling_layers_with_options_against_the_loop_references():
    x = data(2, 3, 9, 7)
    t = cr.tensor(x)
    np.testing.assert_allclose(
        nn.MaxPool2d(3, 2, 1, ceil_mode=True)(t).numpy(),
        reference_max_pool(x, (3, 3), (2, 2), (1, 1), (1, 1), ceil_mode=True)[0],
    )
    np.testing.assert_allclose(
        nn.AvgPool2d(3, 2, 1, count_include_pad=False)(t).numpy(),
        reference_avg_pool(x, (3, 3), (2, 2), (1, 1), count_include_pad=False),
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        nn.AdaptiveAvgPool2d((4, 3))(t).numpy(), reference_adaptive_avg_pool(x, (4, 3)), rtol=1e-12
    )
    np.testing.assert_array_equal(nn.Upsample(scale_factor=2)(t).numpy(), reference_nearest(x, scale_factor=2))


@pytest.mark.parametrize(
    "layer, shape",
    [
        (nn.MaxPool1d(3, stride=2, padding=1), (2, 2, 9)),
        (nn.MaxPool2d((2, 3), stride=1, dilation=(2, 1), ceil_mode=True), (2, 2, 6, 5)),
        (nn.AvgPool1d(3, stride=2, padding=1, count_include_pad=False), (2, 2, 9)),
        (nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True), (2, 2, 6, 5)),
        (nn.AdaptiveAvgPool1d(4), (2, 2, 9)),
        (nn.AdaptiveAvgPool2d((3, 2)), (2, 2, 7, 5)),
        (nn.GlobalAvgPool(), (2, 2, 4, 3)),
        (nn.Upsample(size=(5, 7)), (2, 2, 3, 4)),
    ],
)
def test_pooling_layer_gradients(layer, shape):
    x = np.random.default_rng(0).permutation(int(np.prod(shape))).reshape(shape) / 10.0  # no max ties
    assert module_gradcheck(layer, leaf(x))


def test_pooling_repr():
    assert repr(nn.MaxPool2d(2)) == "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"
    assert repr(nn.AvgPool1d(3, 1, 1)) == "AvgPool1d(kernel_size=3, stride=1, padding=1)"
    assert repr(nn.AdaptiveAvgPool2d((None, 7))) == "AdaptiveAvgPool2d(output_size=(None, 7))"
    assert repr(nn.GlobalAvgPool()) == "GlobalAvgPool(keepdims=False)"
    assert repr(nn.Upsample(scale_factor=2)) == "Upsample(scale_factor=2, mode='nearest')"


def test_pooling_input_shape_errors_name_the_layer():
    with pytest.raises(ValueError, match=r"MaxPool2d\(kernel_size=2\) got input of shape \(8, 28\): expected a 4-D"):
        nn.MaxPool2d(2)(cr.zeros(8, 28))
    with pytest.raises(ValueError, match=r"AdaptiveAvgPool1d\(output_size=1\) got input of shape \(2, 3, 4, 5\)"):
        nn.AdaptiveAvgPool1d(1)(cr.zeros(2, 3, 4, 5))
    with pytest.raises(ValueError, match=r"GlobalAvgPool got input of shape \(8, 16\)"):
        nn.GlobalAvgPool()(cr.zeros(8, 16))


def test_digits_style_conv2d_network_trains_a_step():
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding="same"),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1),
        nn.ReLU(),
        nn.GlobalAvgPool(),
        nn.Linear(16, 10),
    )
    x = cr.randn(32, 1, 8, 8)
    y = cr.tensor(np.arange(32) % 10)
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    with cr.no_grad():
        for p in model.parameters():
            p.data -= 0.1 * p.grad.numpy()
    assert nn.functional.cross_entropy(model(x), y).item() < loss.item()
