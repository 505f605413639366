"""Convolution, pooling and resizing ops, what the op registry does not cover: 'same' padding's
output size, gradients by hand and where max pooling sends them, ties, second derivatives through
pooling (whose backward Functions the registry checks on one geometry only), a third derivative,
float32 with channels-last views, unbatched inputs, no_grad, conv_transpose as the adjoint of conv,
errors naming the op and the shapes. Values against the plain-loop NumPy references
(tests/ops/references.py) and first- and second-order gradients of each op on fixed samples (every
geometry: strides, paddings, dilations, groups, ceil_mode, count_include_pad, sizes) are checked by
the registry (tests/ops/registry.py, tests/ops/test_registry.py). (The comparison with PyTorch is
in peer_tests/ops/test_conv_torch.py, outside the default suite.)"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from tests.helpers import leaf, rand
from tests.ops.references import reference_conv, reference_max_pool

# ------------------------------------------------------------------ convolution


def _conv_inputs(cin, cout, size, kernel, groups, bias, seed=0, batch=2):
    x = rand(batch, cin, *size, seed=seed)
    w = rand(cout, cin // groups, *kernel, seed=seed + 1)
    b = rand(cout, seed=seed + 2) if bias else None
    return x, w, b


def test_same_padding_keeps_the_size():
    for kernel, dilation in [(1, 1), (2, 1), (3, 1), (4, 2), (5, 3)]:
        y = cr.conv1d(cr.ones(1, 2, 9), cr.ones(3, 2, kernel), padding="same", dilation=dilation)
        assert y.shape == (1, 3, 9)
    assert cr.conv2d(cr.ones(1, 1, 6, 7), cr.ones(1, 1, 4, 3), padding="same").shape == (1, 1, 6, 7)


def test_conv_gradients_by_hand_for_a_single_window():
    # one output position: y = sum(x * w) + b, so dy/dx = w, dy/dw = x, dy/db = 1
    x, w, b = leaf(rand(1, 2, 3, 3)), leaf(rand(4, 2, 3, 3, seed=1)), leaf(rand(4, seed=2))
    y = cr.conv2d(x, w, b)
    assert y.shape == (1, 4, 1, 1)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy()[0], w.numpy().sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), np.broadcast_to(x.numpy(), (4, 2, 3, 3)), rtol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), np.ones(4))


def test_conv1d_third_order_gradcheck():
    x, w = leaf(rand(1, 2, 6, seed=1)), leaf(rand(2, 2, 3, seed=2))

    def second(x, w):
        y = cr.sin(cr.conv1d(x, w, stride=2, padding=1))
        gx, gw = cr.grad(y.sum(), [x, w], create_graph=True)
        (hx,) = cr.grad((gx * gx).sum() + (gw * gw).sum(), [x], create_graph=True)
        return hx

    assert cr.gradcheck(second, [x, w])


def test_conv_keeps_float32_and_accepts_channels_last_views():
    x = cr.tensor(rand(3, 2, 9).astype(np.float32), requires_grad=True)
    w1 = cr.tensor(rand(4, 2, 3, seed=1).astype(np.float32), requires_grad=True)
    w2 = cr.tensor(rand(5, 4, 3, seed=2).astype(np.float32), requires_grad=True)
    h = cr.relu(cr.conv1d(x, w1, padding=1))  # the conv's output is a channels-last view
    y = cr.conv1d(h, w2, stride=2)
    assert y.dtype == np.float32 and h.dtype == np.float32
    flat = y.reshape(3, -1)
    flat.sum().backward()
    assert x.grad.dtype == np.float32 and w2.grad.dtype == np.float32
    expected = reference_conv(
        np.maximum(
            reference_conv(x.numpy().astype(np.float64), w1.numpy().astype(np.float64), None, (1,), (1,), (1,), 1), 0
        ),
        w2.numpy().astype(np.float64),
        None,
        (2,),
        (0,),
        (1,),
        1,
    )
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-5, atol=1e-5)


def test_conv_unbatched_input():
    x, w, b = _conv_inputs(2, 3, (5, 6), (3, 3), 1, True, batch=1)
    y = cr.conv2d(cr.tensor(x[0]), cr.tensor(w), cr.tensor(b), padding=1)
    assert y.shape == (3, 5, 6)
    np.testing.assert_allclose(y.numpy(), reference_conv(x, w, b, (1, 1), (1, 1), (1, 1), 1)[0], rtol=1e-10)


def test_conv_under_no_grad_records_nothing():
    w = leaf(rand(2, 1, 3))
    with cr.no_grad():
        y = cr.conv1d(cr.ones(1, 1, 5), w)
    assert not y.requires_grad and y.grad_fn is None


def test_conv_transpose_is_the_adjoint_of_conv():
    x, w = rand(2, 3, 7, 6), rand(4, 3, 3, 2, seed=1)
    y = rand(2, 4, 4, 2, seed=2)
    forward = cr.conv2d(cr.tensor(x), cr.tensor(w), stride=2, padding=(1, 0), dilation=(1, 2)).numpy()
    back = cr.conv_transpose2d(cr.tensor(y), cr.tensor(w), stride=2, padding=(1, 0), dilation=(1, 2)).numpy()
    # <conv(x), y> = <conv_transpose(y), x>; the last column of x is read by no window
    assert forward.shape == y.shape and back.shape == (2, 3, 7, 5)
    np.testing.assert_allclose(np.sum(forward * y), np.sum(back * x[:, :, :, :5]), rtol=1e-10)


# ------------------------------------------------------------------ convolution errors


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: cr.conv2d(cr.ones(8, 1, 28, 28), cr.ones(4, 3, 3, 3)),
            "conv2d: input of shape (8, 1, 28, 28) has 1 channels, but weight of shape (4, 3, 3, 3) "
            "with groups=1 expects 3",
        ),
        (lambda: cr.conv2d(cr.ones(8, 28, 28), cr.ones(4, 3, 3)), "conv2d: weight must be 4-D"),
        (lambda: cr.conv2d(cr.ones(28, 28), cr.ones(4, 1, 3, 3)), "conv2d: expected a 4-D input (N, C, H, W)"),
        (
            lambda: cr.conv1d(cr.ones(2, 1, 4), cr.ones(2, 1, 5)),
            "conv1d: input of shape (2, 1, 4) padded by ((0, 0),) is smaller than the kernel (5,)",
        ),
        (
            lambda: cr.conv1d(cr.ones(2, 1, 9), cr.ones(2, 1, 3), stride=2, padding="same"),
            "conv1d: padding='same' needs stride 1",
        ),
        (
            lambda: cr.conv1d(cr.ones(2, 1, 9), cr.ones(2, 1, 3), padding="full"),
            "conv1d: padding must be an int, a tuple, 'same' or 'valid'",
        ),
        (lambda: cr.conv1d(cr.ones(2, 1, 9), cr.ones(2, 1, 3), stride=0), "conv1d: stride must be at least 1"),
        (
            lambda: cr.conv2d(cr.ones(2, 1, 9, 9), cr.ones(2, 1, 3, 3), dilation=(1, 2, 3)),
            "conv2d: dilation must be an int or a sequence of 2 ints",
        ),
        (
            lambda: cr.conv1d(cr.ones(2, 4, 9), cr.ones(3, 2, 3), groups=2),
            "conv1d: out_channels (3) must be divisible by groups (2)",
        ),
        (lambda: cr.conv1d(cr.ones(2, 1, 9), cr.ones(3, 1, 3), cr.ones(2)), "conv1d: bias must have shape (3,)"),
        (
            lambda: cr.conv_transpose1d(cr.ones(2, 1, 9), cr.ones(1, 1, 3), stride=2, output_padding=2),
            "conv_transpose1d: output_padding",
        ),
    ],
)
def test_conv_errors_name_the_op_and_the_shapes(call, message):
    with pytest.raises(ValueError) as info:
        call()
    assert message in str(info.value)


# ------------------------------------------------------------------ pooling


def test_max_pool_gradient_goes_to_the_argmax_and_accumulates():
    x = rand(2, 2, 6, 5, seed=4)
    g = rand(2, 2, 5, 4, seed=5)
    t = leaf(x)
    cr.max_pool2d(t, 2, stride=1).backward(cr.tensor(g))  # overlapping windows
    _, grad_map = reference_max_pool(x, (2, 2), (1, 1), (0, 0), (1, 1))
    expected = np.zeros_like(x)
    for out_at, in_at in grad_map:
        expected[in_at] += g[out_at]
    np.testing.assert_allclose(t.grad.numpy(), expected, rtol=1e-12)


def test_max_pool_ties_send_the_gradient_to_the_first_element():
    x = leaf(np.array([[[1.0, 1.0, 0.0, 2.0, 2.0, 2.0]]]))
    y = cr.max_pool1d(x, 3)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[[1.0, 0.0, 0.0, 1.0, 0.0, 0.0]]])
    z = leaf(np.ones((1, 1, 2, 2)))
    cr.max_pool2d(z, 2).sum().backward()
    np.testing.assert_array_equal(z.grad.numpy(), [[[[1.0, 0.0], [0.0, 0.0]]]])


def test_pooling_second_order_gradcheck():
    x = leaf(np.random.default_rng(2).permutation(2 * 2 * 5 * 4).reshape(2, 2, 5, 4) / 7.0)
    for pool in (
        lambda t: cr.max_pool2d(t, 2, 1, 1),
        lambda t: cr.avg_pool2d(t, 3, 2, 1, ceil_mode=True, count_include_pad=False),
        lambda t: cr.adaptive_avg_pool2d(t, (3, 2)),
    ):

        def gradient(t, pool=pool):
            y = pool(t)
            (g,) = cr.grad((y * y * y).sum(), [t], create_graph=True)
            return g

        assert cr.gradcheck(gradient, x)


def test_pooling_unbatched_and_float32():
    x = cr.tensor(rand(3, 6, 6).astype(np.float32))
    assert cr.max_pool2d(x, 2).shape == (3, 3, 3)
    assert cr.avg_pool2d(x, 2).dtype == np.float32
    assert cr.adaptive_avg_pool2d(x, (2, 3)).dtype == np.float32
    assert cr.avg_pool1d(cr.ones(2, 8), 2).shape == (2, 4)


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: cr.max_pool2d(cr.ones(1, 1, 4, 4), 2, padding=2),
            "max_pool2d: padding (2, 2) must be at most half of the kernel size (2, 2)",
        ),
        (
            lambda: cr.max_pool2d(cr.ones(4, 4), 2),
            "max_pool2d: expected a 4-D input (N, C, H, W) or a 3-D unbatched input (C, H, W), got shape (4, 4)",
        ),
        (lambda: cr.avg_pool1d(cr.ones(1, 1, 2), 3), "avg_pool1d: input of shape (1, 1, 2)"),
        (
            lambda: cr.adaptive_avg_pool2d(cr.ones(1, 1, 4, 4), (1, 2, 3)),
            "adaptive_avg_pool2d: output_size must be an int or 2 sizes",
        ),
        (lambda: cr.max_pool1d(cr.ones(1, 1, 4), 0), "max_pool1d: kernel_size must be at least 1"),
    ],
)
def test_pooling_errors(call, message):
    with pytest.raises(ValueError) as info:
        call()
    assert message in str(info.value)


# ------------------------------------------------------------------ interpolate (nearest)


def test_interpolate_errors():
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        cr.interpolate(cr.ones(1, 1, 4))
    with pytest.raises(ValueError, match="only mode='nearest'"):
        cr.interpolate(cr.ones(1, 1, 4), scale_factor=2, mode="bilinear")


def _ceil_pool_reference(x: np.ndarray, k: int, s: int, p: int, pick) -> np.ndarray:
    """1-D pooling with ceil_mode by PyTorch's rule, one window at a time (padding never picked)."""
    n = x.shape[-1]
    out = -(-(n + 2 * p - k) // s) + 1
    if (out - 1) * s >= n + p:
        out -= 1
    return np.stack([pick(x[..., max(0, i * s - p) : min(n, i * s - p + k)], axis=-1) for i in range(out)], axis=-1)


@pytest.mark.parametrize(
    "n, k, s, p", [(3, 1, 3, 0), (3, 2, 4, 1), (7, 2, 3, 0), (8, 1, 5, 0), (10, 3, 5, 1), (5, 2, 2, 1)]
)
def test_ceil_mode_with_a_stride_longer_than_the_kernel(n, k, s, p):
    # the last window can end before the input does: it used to ask for negative padding and fail
    x = np.random.default_rng(n * 31 + s).standard_normal((2, 3, n))
    got = cr.max_pool1d(cr.tensor(x), k, s, p, ceil_mode=True).numpy()
    np.testing.assert_allclose(got, _ceil_pool_reference(x, k, s, p, np.max))
    if p == 0:  # without padding, every window's divisor is its size
        avg = cr.avg_pool1d(cr.tensor(x), k, s, p, ceil_mode=True).numpy()
        np.testing.assert_allclose(avg, _ceil_pool_reference(x, k, s, p, np.mean))
