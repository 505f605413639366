"""Convolution and pooling layers against torch.nn's with copied weights: values and gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn
from peer_tests.support import to_torch
from tests.nn.support import data, leaf


def test_layers_match_torch_with_copied_weights():
    pairs = [
        (nn.Conv1d(3, 4, 5, stride=2, padding=1), torch.nn.Conv1d(3, 4, 5, stride=2, padding=1), (2, 3, 12)),
        (
            nn.Conv2d(4, 6, (3, 2), padding="same", dilation=(1, 2), groups=2),
            torch.nn.Conv2d(4, 6, (3, 2), padding="same", dilation=(1, 2), groups=2),
            (2, 4, 6, 5),
        ),
        (
            nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2),
            torch.nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2),
            (2, 4, 3, 4),
        ),
    ]
    for ours, theirs, shape in pairs:
        ours.to("float64")
        theirs.double()
        with torch.no_grad():
            theirs.weight.copy_(to_torch(ours.weight))
            theirs.bias.copy_(to_torch(ours.bias))
        x = data(*shape)
        xt = to_torch(x).requires_grad_(True)
        xc = leaf(x)
        yt, yc = theirs(xt), ours(xc)
        np.testing.assert_allclose(yc.numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
        g = data(*yt.shape, seed=1)
        yt.backward(to_torch(g))
        yc.backward(cr.tensor(g))
        np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(ours.bias.grad.numpy(), theirs.bias.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_pooling_layers_match_torch():
    x = data(2, 3, 9, 7)
    for ours, theirs in [
        (nn.MaxPool2d(3, 2, 1, ceil_mode=True), torch.nn.MaxPool2d(3, 2, 1, ceil_mode=True)),
        (nn.AvgPool2d(3, 2, 1, count_include_pad=False), torch.nn.AvgPool2d(3, 2, 1, count_include_pad=False)),
        (nn.AdaptiveAvgPool2d((4, 3)), torch.nn.AdaptiveAvgPool2d((4, 3))),
        (nn.Upsample(scale_factor=2), torch.nn.Upsample(scale_factor=2)),
    ]:
        np.testing.assert_allclose(ours(cr.tensor(x)).numpy(), theirs(to_torch(x)).numpy(), rtol=1e-12)


def test_avg_pool2d_divisor_override_matches_torch():
    x = data(2, 3, 9, 7)
    cases = [
        dict(kernel_size=2, divisor_override=3),
        dict(kernel_size=3, stride=2, padding=1, divisor_override=-4),
        dict(kernel_size=(3, 2), stride=2, padding=1, ceil_mode=True, count_include_pad=False, divisor_override=5),
    ]
    for kw in cases:
        for ours, theirs in [
            (
                lambda t, kw=kw: cr.nn.functional.avg_pool2d(t, **kw),
                lambda t, kw=kw: torch.nn.functional.avg_pool2d(t, **kw),
            ),
            (nn.AvgPool2d(**kw), torch.nn.AvgPool2d(**kw)),
        ]:
            xt = to_torch(x).requires_grad_(True)
            xc = leaf(x)
            yt, yc = theirs(xt), ours(xc)
            np.testing.assert_allclose(yc.numpy(), yt.detach().numpy(), rtol=1e-12, atol=1e-14)
            g = data(*yt.shape, seed=1)
            yt.backward(to_torch(g))
            yc.backward(cr.tensor(g))
            np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_avg_pool2d_divisor_override_zero_is_refused_by_both():
    with pytest.raises(RuntimeError, match="divisor must be not zero"):
        torch.nn.functional.avg_pool2d(torch.ones(1, 1, 4, 4), 2, divisor_override=0)
    with pytest.raises(ValueError, match="divisor_override must not be zero"):
        cr.nn.functional.avg_pool2d(cr.ones(1, 1, 4, 4), 2, divisor_override=0)
