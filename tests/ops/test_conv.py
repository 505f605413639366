"""Convolution, pooling and resizing ops: values against plain-loop NumPy references written here,
gradients against finite differences (first and second order), errors. (The comparison with PyTorch
is in peer_tests/ops/test_conv_torch.py, outside the default suite.)"""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.ops import conv as conv_ops
from tests.helpers import leaf, rand
from tests.ops.references import (
    reference_adaptive_avg_pool, reference_avg_pool, reference_conv, reference_conv_transpose,
    reference_max_pool, reference_nearest,
)

# ------------------------------------------------------------------ convolution: values and gradients

CONV2D_CASES = [
    # (in_channels, out_channels, input size, kernel, stride, padding, dilation, groups, bias)
    (1, 1, (5, 5), (3, 3), (1, 1), (0, 0), (1, 1), 1, True),
    (2, 3, (6, 5), (3, 2), (1, 1), (1, 0), (1, 1), 1, False),
    (2, 4, (7, 6), (3, 3), (2, 2), (1, 1), (1, 1), 1, True),
    (3, 2, (7, 8), (2, 3), (2, 1), (0, 2), (1, 1), 1, True),
    (2, 2, (7, 7), (3, 3), (1, 1), (2, 2), (2, 2), 1, True),
    (2, 3, (6, 7), (2, 2), (1, 1), "same", (1, 1), 1, True),  # even kernel: the extra zero goes after
    (2, 2, (6, 6), (3, 3), (1, 1), "same", (2, 1), 1, False),
    (3, 2, (5, 6), (3, 3), (1, 1), "valid", (1, 1), 1, True),
    (4, 6, (6, 5), (3, 2), (1, 2), (1, 1), (1, 1), 2, True),
    (3, 3, (6, 6), (3, 3), (2, 1), (1, 1), (1, 2), 3, True),  # depthwise
    (4, 2, (5, 7), (1, 3), (1, 1), (0, 1), (1, 1), 2, False),
]

CONV1D_CASES = [
    # (in_channels, out_channels, length, kernel, stride, padding, dilation, groups, bias)
    (1, 2, 9, 3, 1, 0, 1, 1, True),
    (1, 3, 12, 5, 2, 1, 1, 1, True),  # the MNIST-1D CNN's first layer, small
    (3, 2, 10, 3, 2, 1, 1, 1, False),
    (2, 2, 11, 3, 3, 2, 2, 1, True),
    (2, 3, 8, 4, 1, "same", 1, 1, True),
    (2, 2, 9, 3, 1, "same", 3, 1, False),
    (4, 4, 9, 2, 1, "valid", 1, 4, True),
    (4, 2, 10, 3, 2, 1, 1, 2, True),
]


def _conv_inputs(cin, cout, size, kernel, groups, bias, seed=0, batch=2):
    x = rand(batch, cin, *size, seed=seed)
    w = rand(cout, cin // groups, *kernel, seed=seed + 1)
    b = rand(cout, seed=seed + 2) if bias else None
    return x, w, b


@pytest.mark.parametrize("case", CONV2D_CASES)
def test_conv2d_values_and_gradients(case):
    cin, cout, size, kernel, stride, padding, dilation, groups, bias = case
    x, w, b = _conv_inputs(cin, cout, size, kernel, groups, bias)
    expected = reference_conv(x, w, b, stride, padding, dilation, groups)
    tensors = [leaf(a) for a in (x, w, b) if a is not None]

    def f(*ts):
        return cr.conv2d(ts[0], ts[1], ts[2] if bias else None, stride, padding, dilation, groups)

    out = f(*tensors)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-12)
    assert cr.gradcheck(f, tensors)


@pytest.mark.parametrize("case", CONV1D_CASES)
def test_conv1d_values_and_gradients(case):
    cin, cout, length, kernel, stride, padding, dilation, groups, bias = case
    x, w, b = _conv_inputs(cin, cout, (length,), (kernel,), groups, bias)
    pad = padding if isinstance(padding, str) else (padding,)
    expected = reference_conv(x, w, b, (stride,), pad, (dilation,), groups)
    tensors = [leaf(a) for a in (x, w, b) if a is not None]

    def f(*ts):
        return cr.conv1d(ts[0], ts[1], ts[2] if bias else None, stride, padding, dilation, groups)

    out = f(*tensors)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-12)
    assert cr.gradcheck(f, tensors)


def test_same_padding_keeps_the_size():
    for kernel, dilation in [(1, 1), (2, 1), (3, 1), (4, 2), (5, 3)]:
        y = cr.conv1d(cr.ones(1, 2, 9), cr.ones(3, 2, kernel), padding="same", dilation=dilation)
        assert y.shape == (1, 3, 9)
    assert cr.conv2d(cr.ones(1, 1, 6, 7), cr.ones(1, 1, 4, 3), padding="same").shape == (1, 1, 6, 7)


def test_conv_backward_plain_and_differentiable_paths_agree():
    """backward() takes the NumPy fast path; grad(create_graph=True) the path through Functions."""
    x, w, b = _conv_inputs(4, 6, (7, 6), (3, 2), 2, True, seed=3)
    g = rand(2, 6, 4, 3, seed=9)
    ts = [leaf(a) for a in (x, w, b)]
    cr.conv2d(*ts, stride=(2, 2), padding=1, dilation=(1, 2), groups=2).backward(cr.tensor(g))
    fast = [t.grad.numpy() for t in ts]
    ts2 = [leaf(a) for a in (x, w, b)]
    y = cr.conv2d(*ts2, stride=(2, 2), padding=1, dilation=(1, 2), groups=2)
    slow = cr.grad(y, ts2, grad_outputs=cr.tensor(g), create_graph=True)
    assert slow[0].requires_grad and slow[1].requires_grad  # they depend on w and on x
    for a, s in zip(fast, slow):
        np.testing.assert_allclose(a, s.numpy(), rtol=1e-12, atol=1e-12)


def test_conv_gradients_by_hand_for_a_single_window():
    # one output position: y = sum(x * w) + b, so dy/dx = w, dy/dw = x, dy/db = 1
    x, w, b = leaf(rand(1, 2, 3, 3)), leaf(rand(4, 2, 3, 3, seed=1)), leaf(rand(4, seed=2))
    y = cr.conv2d(x, w, b)
    assert y.shape == (1, 4, 1, 1)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy()[0], w.numpy().sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), np.broadcast_to(x.numpy(), (4, 2, 3, 3)), rtol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), np.ones(4))


def test_conv_second_order_gradcheck():
    """create_graph through conv: the gradients of a loss, differentiated again."""
    x, w, b = (leaf(a) for a in _conv_inputs(4, 4, (5, 4), (2, 3), 2, True, seed=5))

    def gradients(x, w, b):
        y = cr.tanh(cr.conv2d(x, w, b, stride=(2, 1), padding=1, dilation=(1, 2), groups=2))
        gx, gw, gb = cr.grad((y * y).sum(), [x, w, b], create_graph=True)
        return cr.concat([gx.reshape(-1), gw.reshape(-1), gb.reshape(-1)])

    assert cr.gradcheck(gradients, [x, w, b])


def test_conv1d_third_order_gradcheck():
    x, w = leaf(rand(1, 2, 6, seed=1)), leaf(rand(2, 2, 3, seed=2))

    def second(x, w):
        y = cr.sin(cr.conv1d(x, w, stride=2, padding=1))
        gx, gw = cr.grad(y.sum(), [x, w], create_graph=True)
        (hx,) = cr.grad((gx * gx).sum() + (gw * gw).sum(), [x], create_graph=True)
        return hx

    assert cr.gradcheck(second, [x, w])


def test_conv_gradient_functions_gradcheck_directly():
    """The input- and weight-gradient Functions are themselves differentiable in both arguments."""
    x, w, _ = _conv_inputs(4, 6, (6, 5), (3, 2), 2, False, seed=7)
    geometry = conv_ops.Windows(x.shape, (3, 2), (2, 1), (1, 2), ((1, 1), (0, 1)), "conv2d",
                                out_channels=6, groups=2)
    gy = rand(2, 6, *geometry.out, seed=8)
    assert cr.gradcheck(lambda g, w: conv_ops.ConvInputGrad.apply(g, w, geometry=geometry), [leaf(gy), leaf(w)])
    assert cr.gradcheck(lambda x, g: conv_ops.ConvWeightGrad.apply(x, g, geometry=geometry), [leaf(x), leaf(gy)])


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
    expected = reference_conv(np.maximum(reference_conv(x.numpy().astype(np.float64), w1.numpy().astype(np.float64),
                                                        None, (1,), (1,), (1,), 1), 0),
                              w2.numpy().astype(np.float64), None, (2,), (0,), (1,), 1)
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


@pytest.mark.parametrize("case", [
    # (in, out, size, kernel, stride, padding, output_padding, groups, dilation)
    (2, 3, (4,), (3,), (2,), (1,), (1,), 1, (1,)),
    (4, 2, (5,), (2,), (1,), (0,), (0,), 2, (2,)),
    (2, 2, (3, 4), (3, 2), (2, 1), (1, 0), (1, 0), 1, (1, 1)),
    (4, 4, (3, 3), (2, 2), (3, 2), (0, 1), (2, 0), 2, (1, 2)),
])
def test_conv_transpose_values_and_gradients(case):
    cin, cout, size, kernel, stride, padding, output_padding, groups, dilation = case
    x = rand(2, cin, *size)
    w = rand(cin, cout // groups, *kernel, seed=1)
    b = rand(cout, seed=2)
    op = cr.conv_transpose1d if len(size) == 1 else cr.conv_transpose2d
    expected = reference_conv_transpose(x, w, b, stride, padding, output_padding, groups, dilation)
    tensors = [leaf(a) for a in (x, w, b)]

    def f(x, w, b):
        return op(x, w, b, stride, padding, output_padding, groups, dilation)

    out = f(*tensors)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-12)
    assert cr.gradcheck(f, tensors)


def test_conv_transpose_is_the_adjoint_of_conv():
    x, w = rand(2, 3, 7, 6), rand(4, 3, 3, 2, seed=1)
    y = rand(2, 4, 4, 2, seed=2)
    forward = cr.conv2d(cr.tensor(x), cr.tensor(w), stride=2, padding=(1, 0), dilation=(1, 2)).numpy()
    back = cr.conv_transpose2d(cr.tensor(y), cr.tensor(w), stride=2, padding=(1, 0), dilation=(1, 2)).numpy()
    # <conv(x), y> = <conv_transpose(y), x>; the last column of x is read by no window
    assert forward.shape == y.shape and back.shape == (2, 3, 7, 5)
    np.testing.assert_allclose(np.sum(forward * y), np.sum(back * x[:, :, :, :5]), rtol=1e-10)


# ------------------------------------------------------------------ convolution errors


@pytest.mark.parametrize("call, message", [
    (lambda: cr.conv2d(cr.ones(8, 1, 28, 28), cr.ones(4, 3, 3, 3)),
     "conv2d: input of shape (8, 1, 28, 28) has 1 channels, but weight of shape (4, 3, 3, 3) with groups=1 expects 3"),
    (lambda: cr.conv2d(cr.ones(8, 28, 28), cr.ones(4, 3, 3)), "conv2d: weight must be 4-D"),
    (lambda: cr.conv2d(cr.ones(28, 28), cr.ones(4, 1, 3, 3)), "conv2d: expected a 4-D input (N, C, H, W)"),
    (lambda: cr.conv1d(cr.ones(2, 1, 4), cr.ones(2, 1, 5)), "conv1d: input of shape (2, 1, 4) padded by ((0, 0),) is smaller than the kernel (5,)"),
    (lambda: cr.conv1d(cr.ones(2, 1, 9), cr.ones(2, 1, 3), stride=2, padding="same"), "conv1d: padding='same' needs stride 1"),
    (lambda: cr.conv1d(cr.ones(2, 1, 9), cr.ones(2, 1, 3), padding="full"), "conv1d: padding must be an int, a tuple, 'same' or 'valid'"),
    (lambda: cr.conv1d(cr.ones(2, 1, 9), cr.ones(2, 1, 3), stride=0), "conv1d: stride must be at least 1"),
    (lambda: cr.conv2d(cr.ones(2, 1, 9, 9), cr.ones(2, 1, 3, 3), dilation=(1, 2, 3)), "conv2d: dilation must be an int or a sequence of 2 ints"),
    (lambda: cr.conv1d(cr.ones(2, 4, 9), cr.ones(3, 2, 3), groups=2), "conv1d: out_channels (3) must be divisible by groups (2)"),
    (lambda: cr.conv1d(cr.ones(2, 1, 9), cr.ones(3, 1, 3), cr.ones(2)), "conv1d: bias must have shape (3,)"),
    (lambda: cr.conv_transpose1d(cr.ones(2, 1, 9), cr.ones(1, 1, 3), stride=2, output_padding=2), "conv_transpose1d: output_padding"),
])
def test_conv_errors_name_the_op_and_the_shapes(call, message):
    with pytest.raises(ValueError) as info:
        call()
    assert message in str(info.value)


# ------------------------------------------------------------------ pooling


POOL2D_CASES = [
    # (kernel, stride, padding, dilation, ceil_mode)
    ((2, 2), (2, 2), (0, 0), (1, 1), False),
    ((3, 3), (2, 2), (1, 1), (1, 1), False),
    ((3, 2), (1, 2), (1, 0), (1, 1), False),
    ((2, 3), (2, 2), (0, 1), (1, 1), True),
    ((3, 3), (3, 2), (1, 1), (1, 1), True),
    ((2, 2), (1, 1), (0, 1), (2, 1), False),
]


@pytest.mark.parametrize("kernel, stride, padding, dilation, ceil_mode", POOL2D_CASES)
def test_max_pool2d_values_and_gradients(kernel, stride, padding, dilation, ceil_mode):
    x = np.random.default_rng(0).permutation(2 * 3 * 7 * 6).reshape(2, 3, 7, 6) / 10.0  # no ties
    expected, _ = reference_max_pool(x, kernel, stride, padding, dilation, ceil_mode)
    f = lambda t: cr.max_pool2d(t, kernel, stride, padding, dilation, ceil_mode)  # noqa: E731
    out = f(leaf(x))
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.numpy(), expected)
    assert cr.gradcheck(f, leaf(x))


@pytest.mark.parametrize("kernel, stride, padding, dilation, ceil_mode", [
    (2, None, 0, 1, False), (3, 1, 1, 1, False), (3, 2, 1, 2, True), (4, 3, 2, 1, True),
])
def test_max_pool1d_values_and_gradients(kernel, stride, padding, dilation, ceil_mode):
    x = np.random.default_rng(1).permutation(2 * 3 * 11).reshape(2, 3, 11) / 10.0
    s = kernel if stride is None else stride
    expected, _ = reference_max_pool(x, (kernel,), (s,), (padding,), (dilation,), ceil_mode)
    f = lambda t: cr.max_pool1d(t, kernel, stride, padding, dilation, ceil_mode)  # noqa: E731
    out = f(leaf(x))
    np.testing.assert_allclose(out.numpy(), expected)
    assert cr.gradcheck(f, leaf(x))


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


@pytest.mark.parametrize("kernel, stride, padding, ceil_mode, count_include_pad", [
    ((2, 2), (2, 2), (0, 0), False, True),
    ((3, 3), (2, 2), (1, 1), False, True),
    ((3, 3), (2, 2), (1, 1), False, False),
    ((3, 2), (2, 1), (1, 1), True, True),
    ((3, 3), (2, 2), (1, 0), True, False),
    ((2, 3), (1, 2), (0, 0), True, True),
])
def test_avg_pool2d_values_and_gradients(kernel, stride, padding, ceil_mode, count_include_pad):
    x = rand(2, 3, 7, 6)
    expected = reference_avg_pool(x, kernel, stride, padding, ceil_mode, count_include_pad)
    f = lambda t: cr.avg_pool2d(t, kernel, stride, padding, ceil_mode, count_include_pad)  # noqa: E731
    out = f(leaf(x))
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)
    assert cr.gradcheck(f, leaf(x))


@pytest.mark.parametrize("kernel, stride, padding, ceil_mode, count_include_pad", [
    (2, None, 0, False, True), (3, 1, 1, False, False), (4, 3, 2, True, True), (3, 2, 1, True, False),
])
def test_avg_pool1d_values_and_gradients(kernel, stride, padding, ceil_mode, count_include_pad):
    x = rand(2, 3, 10)
    s = kernel if stride is None else stride
    expected = reference_avg_pool(x, (kernel,), (s,), (padding,), ceil_mode, count_include_pad)
    f = lambda t: cr.avg_pool1d(t, kernel, stride, padding, ceil_mode, count_include_pad)  # noqa: E731
    np.testing.assert_allclose(f(leaf(x)).numpy(), expected, rtol=1e-12)
    assert cr.gradcheck(f, leaf(x))


@pytest.mark.parametrize("size, output_size", [
    ((7, 6), 1), ((7, 6), (1, 1)), ((8, 6), (4, 3)), ((7, 6), (3, 4)), ((5, 5), (5, 2)), ((4, 6), (None, 4)),
    ((3, 3), (5, 4)),  # output larger than input: overlapping windows of one element
])
def test_adaptive_avg_pool2d_values_and_gradients(size, output_size):
    x = rand(2, 3, *size)
    sizes = (output_size,) * 2 if isinstance(output_size, int) else tuple(n if o is None else o for o, n in zip(output_size, size))
    expected = reference_adaptive_avg_pool(x, sizes)
    f = lambda t: cr.adaptive_avg_pool2d(t, output_size)  # noqa: E731
    out = f(leaf(x))
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)
    assert cr.gradcheck(f, leaf(x))


@pytest.mark.parametrize("length, output_size", [(10, 1), (10, 5), (10, 3), (7, 4)])
def test_adaptive_avg_pool1d_values_and_gradients(length, output_size):
    x = rand(2, 3, length)
    f = lambda t: cr.adaptive_avg_pool1d(t, output_size)  # noqa: E731
    np.testing.assert_allclose(f(leaf(x)).numpy(), reference_adaptive_avg_pool(x, (output_size,)), rtol=1e-12)
    assert cr.gradcheck(f, leaf(x))


def test_pooling_second_order_gradcheck():
    x = leaf(np.random.default_rng(2).permutation(2 * 2 * 5 * 4).reshape(2, 2, 5, 4) / 7.0)
    for pool in (lambda t: cr.max_pool2d(t, 2, 1, 1),
                 lambda t: cr.avg_pool2d(t, 3, 2, 1, ceil_mode=True, count_include_pad=False),
                 lambda t: cr.adaptive_avg_pool2d(t, (3, 2))):
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


@pytest.mark.parametrize("call, message", [
    (lambda: cr.max_pool2d(cr.ones(1, 1, 4, 4), 2, padding=2), "max_pool2d: padding (2, 2) must be at most half of the kernel size (2, 2)"),
    (lambda: cr.max_pool2d(cr.ones(4, 4), 2), "max_pool2d: expected a 4-D input (N, C, H, W) or a 3-D unbatched input (C, H, W), got shape (4, 4)"),
    (lambda: cr.avg_pool1d(cr.ones(1, 1, 2), 3), "avg_pool1d: input of shape (1, 1, 2)"),
    (lambda: cr.adaptive_avg_pool2d(cr.ones(1, 1, 4, 4), (1, 2, 3)), "adaptive_avg_pool2d: output_size must be an int or 2 sizes"),
    (lambda: cr.max_pool1d(cr.ones(1, 1, 4), 0), "max_pool1d: kernel_size must be at least 1"),
])
def test_pooling_errors(call, message):
    with pytest.raises(ValueError) as info:
        call()
    assert message in str(info.value)


# ------------------------------------------------------------------ interpolate (nearest)


@pytest.mark.parametrize("kwargs, expected_shape", [
    ({"scale_factor": 2}, (2, 3, 8, 6)), ({"scale_factor": (1, 3)}, (2, 3, 4, 9)),
    ({"scale_factor": 1.5}, (2, 3, 6, 4)), ({"size": (7, 5)}, (2, 3, 7, 5)), ({"size": 2}, (2, 3, 2, 2)),
])
def test_interpolate_nearest_values_and_gradients(kwargs, expected_shape):
    x = rand(2, 3, 4, 3)
    out = cr.interpolate(leaf(x), **kwargs)
    assert out.shape == expected_shape
    h, w = expected_shape[2:]
    if "size" in kwargs:
        rows = [min(int(i * 4 / h), 3) for i in range(h)]
        cols = [min(int(j * 3 / w), 2) for j in range(w)]
    else:
        f = kwargs["scale_factor"]
        fh, fw = (f, f) if not isinstance(f, tuple) else f
        rows = [min(int(math.floor(i / fh)), 3) for i in range(h)]
        cols = [min(int(math.floor(j / fw)), 2) for j in range(w)]
    expected = x[:, :, rows][:, :, :, cols]
    np.testing.assert_allclose(out.numpy(), expected)
    assert cr.gradcheck(lambda t: cr.interpolate(t, **kwargs), leaf(x))


@pytest.mark.parametrize("shape, kwargs", [
    ((2, 3, 5, 4), {"scale_factor": 0.5}),  # downsampling: every other row and column
    ((2, 3, 5, 4), {"scale_factor": 0.7}),
    ((2, 3, 5, 4), {"scale_factor": (2, 3)}),
    ((2, 3, 5, 4), {"scale_factor": (0.5, 1.5)}),
    ((2, 3, 5, 4), {"size": (7, 3)}),
    ((2, 3, 5, 4), {"size": 10}),
    ((2, 3, 5, 4), {"size": (2, 3)}),
    ((2, 3, 7), {"scale_factor": 0.5}),
    ((2, 3, 7), {"size": 3}),
    ((2, 3, 7), {"size": 11}),
])
def test_interpolate_nearest_up_and_down_against_the_loop_reference(shape, kwargs):
    x = rand(*shape, seed=3)
    expected = reference_nearest(x, **kwargs)
    out = cr.interpolate(leaf(x), **kwargs)
    assert out.shape == expected.shape
    np.testing.assert_array_equal(out.numpy(), expected)
    assert cr.gradcheck(lambda t: cr.interpolate(t, **kwargs), leaf(x))


def test_interpolate_errors():
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        cr.interpolate(cr.ones(1, 1, 4))
    with pytest.raises(ValueError, match="only mode='nearest'"):
        cr.interpolate(cr.ones(1, 1, 4), scale_factor=2, mode="bilinear")
