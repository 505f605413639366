"""Convolution, pooling and resizing ops against torch.nn.functional: values and gradients.

The default suite checks the same ops against plain-loop NumPy references (tests/ops/references.py,
used by the op registry, tests/ops/registry.py).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import chainrule as cr
from tests.helpers import leaf, rand


def _torch_grads(fn, arrays, g):
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    y = fn(*ts)
    y.backward(torch.tensor(g))
    return y.detach().numpy(), [t.grad.numpy() for t in ts]


def _cr_grads(fn, arrays, g):
    ts = [leaf(a) for a in arrays]
    y = fn(*ts)
    y.backward(cr.tensor(g))
    return y.numpy(), [t.grad.numpy() for t in ts]


def _agree(cr_fn, torch_fn, arrays, seed=0):
    with torch.no_grad():
        shape = torch_fn(*[torch.tensor(a) for a in arrays]).shape
    g = rand(*shape, seed=seed + 100)
    y_t, grads_t = _torch_grads(torch_fn, arrays, g)
    y_c, grads_c = _cr_grads(cr_fn, arrays, g)
    np.testing.assert_allclose(y_c, y_t, rtol=1e-10, atol=1e-10)
    for a, b in zip(grads_c, grads_t):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch warns about 'same' with even kernels
def test_conv_against_torch():
    rng = np.random.default_rng(0)
    for stride, padding, dilation, groups in itertools.product(
        [1, 2, (2, 1)], [0, 1, (2, 0), "same", "valid"], [1, (2, 1)], [1, 2]
    ):
        if padding == "same" and stride != 1:
            continue
        x, w, b = rng.standard_normal((2, 4, 7, 6)), rng.standard_normal((6, 4 // groups, 3, 2)), rng.standard_normal(6)
        _agree(
            lambda x, w, b: cr.conv2d(x, w, b, stride, padding, dilation, groups),
            lambda x, w, b: TF.conv2d(x, w, b, stride, padding, dilation, groups),
            [x, w, b],
        )
    for stride, padding, dilation, groups in itertools.product([1, 3], [0, 2, "same"], [1, 2], [1, 3]):
        if padding == "same" and stride != 1:
            continue
        x, w = rng.standard_normal((3, 6, 11)), rng.standard_normal((9, 6 // groups, 4))
        _agree(
            lambda x, w: cr.conv1d(x, w, None, stride, padding, dilation, groups),
            lambda x, w: TF.conv1d(x, w, None, stride, padding, dilation, groups),
            [x, w],
        )


def test_conv_transpose_against_torch():
    rng = np.random.default_rng(1)
    for stride, padding, output_padding, dilation, groups in itertools.product(
        [1, 2, 3], [0, 1], [0, 1], [1, 2], [1, 2]
    ):
        if output_padding >= max(stride, dilation):
            continue
        x, w, b = rng.standard_normal((2, 4, 5, 4)), rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(3 * groups)
        _agree(
            lambda x, w, b: cr.conv_transpose2d(x, w, b, stride, padding, output_padding, groups, dilation),
            lambda x, w, b: TF.conv_transpose2d(x, w, b, stride, padding, output_padding, groups, dilation),
            [x, w, b],
        )


def test_pooling_against_torch():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 9, 8))
    for k, s, p, d, ceil in itertools.product([2, 3, (3, 2)], [None, 1, 2], [0, 1], [1, 2], [False, True]):
        _agree(lambda t: cr.max_pool2d(t, k, s, p, d, ceil), lambda t: TF.max_pool2d(t, k, s, p, d, ceil), [x])
    for k, s, p, ceil, cip in itertools.product([2, 3, (3, 2)], [None, 1, 2], [0, 1], [False, True], [True, False]):
        _agree(lambda t: cr.avg_pool2d(t, k, s, p, ceil, cip), lambda t: TF.avg_pool2d(t, k, s, p, ceil, cip), [x])
    for o in [1, 2, 3, (4, 5), (None, 3), 7, 11]:
        _agree(lambda t: cr.adaptive_avg_pool2d(t, o), lambda t: TF.adaptive_avg_pool2d(t, o), [x])
    x1 = rng.standard_normal((2, 3, 13))
    for o in [1, 4, 5, 13]:
        _agree(lambda t: cr.adaptive_avg_pool1d(t, o), lambda t: TF.adaptive_avg_pool1d(t, o), [x1])
    _agree(lambda t: cr.max_pool1d(t, 3, 2, 1, 2, True), lambda t: TF.max_pool1d(t, 3, 2, 1, 2, True), [x1])
    _agree(lambda t: cr.avg_pool1d(t, 4, 3, 2, True, False), lambda t: TF.avg_pool1d(t, 4, 3, 2, True, False), [x1])


def test_interpolate_against_torch():
    x = np.random.default_rng(3).standard_normal((2, 3, 5, 4))
    for kwargs in (
        {"scale_factor": 2},
        {"scale_factor": (2, 3)},
        {"scale_factor": 1.5},
        {"scale_factor": 0.5},
        {"size": (7, 3)},
        {"size": 10},
    ):
        _agree(lambda t: cr.interpolate(t, **kwargs), lambda t: TF.interpolate(t, mode="nearest", **kwargs), [x])
