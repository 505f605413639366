"""chainrule.explain against Captum on identical weights: saliency, input x gradient, integrated
gradients (every rule, with the completeness delta), SmoothGrad on the same noise, occlusion and
feature ablation. The networks are built in both libraries from one definition and chainrule's
weights are copied into PyTorch's (the parameter names are the same)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from captum.attr import FeatureAblation, InputXGradient, IntegratedGradients, Occlusion, Saliency

import chainrule as cr
from chainrule import explain

RNG = np.random.default_rng(0)


def build(nn, kind):
    if kind == "cnn":
        return nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 10)
        )
    if kind == "cnn1d":
        return nn.Sequential(nn.Conv1d(1, 5, 5, stride=2), nn.Tanh(), nn.Flatten(), nn.Linear(5 * 8, 10))
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))


SHAPES = {"cnn": (1, 8, 8), "cnn1d": (1, 20), "mlp": (6,)}


def pair(kind):
    cr.manual_seed(3)
    ours = build(cr.nn, kind).double().eval()
    theirs = build(torch.nn, kind).double().eval()
    theirs.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in ours.state_dict().items()})
    X = RNG.standard_normal((5, *SHAPES[kind]))
    target = np.array([0, 2, 1, 2, 0])
    return ours, theirs, X, target


def t(a):
    return torch.from_numpy(np.ascontiguousarray(a)).requires_grad_()


def close(ours, theirs):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-9 * max(1.0, np.abs(theirs).max()))


@pytest.mark.parametrize("kind", ["cnn", "cnn1d", "mlp"])
def test_saliency_and_input_x_gradient(kind):
    ours, theirs, X, target = pair(kind)
    tt = torch.from_numpy(target)
    close(explain.saliency(ours, X, target), Saliency(theirs).attribute(t(X), target=tt))
    close(explain.saliency(ours, X, target, abs=False), Saliency(theirs).attribute(t(X), target=tt, abs=False))
    close(explain.input_x_gradient(ours, X, target), InputXGradient(theirs).attribute(t(X), target=tt))


@pytest.mark.parametrize("kind", ["cnn", "mlp"])
@pytest.mark.parametrize(
    "method", ["gausslegendre", "riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid"]
)
def test_integrated_gradients_every_rule_with_its_delta(kind, method):
    ours, theirs, X, target = pair(kind)
    base = 0.3 * RNG.standard_normal(X.shape)
    att, delta = explain.integrated_gradients(
        ours, X, target, baselines=base, n_steps=20, method=method, return_convergence_delta=True
    )
    ref, ref_delta = IntegratedGradients(theirs).attribute(
        t(X),
        baselines=torch.from_numpy(base),
        target=torch.from_numpy(target),
        n_steps=20,
        method=method,
        return_convergence_delta=True,
    )
    if method == "riemann_trapezoid":
        # Captum weighs its n points 1/(2n), 1/n, ..., 1/n, 1/(2n): they add up to (n - 1)/n, not 1.
        # chainrule uses the trapezoid rule on [0, 1] (1/(2(n - 1)), 1/(n - 1), ...), the same
        # weights times n/(n - 1): so are its attributions; its delta is then the true error
        ref = ref * (20 / 19)
        ref_delta = ref_delta + ref.reshape(len(X), -1).sum(1) * (1 - 19 / 20)
    close(att, ref)
    np.testing.assert_allclose(delta, ref_delta.detach().numpy(), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("kind", ["cnn", "mlp"])
def test_smoothgrad_on_the_same_noise(kind):
    """Captum's NoiseTunnel draws its noise from torch's generator: the same noise is given to
    Captum's base method copy by copy, and the mean taken (NoiseTunnel's definition)."""
    ours, theirs, X, target = pair(kind)
    noise = np.random.default_rng(5).standard_normal((4, *X.shape)) * 0.2
    got = explain.smoothgrad(ours, X, target, nt_samples=4, stdevs=0.2, seed=5)
    ref = np.mean(
        [Saliency(theirs).attribute(t(X + e), target=torch.from_numpy(target)).detach().numpy() for e in noise], axis=0
    )
    close(got, ref)


@pytest.mark.parametrize(
    "kind, window, strides", [("cnn", (1, 3, 3), (1, 2, 2)), ("cnn1d", (1, 4), (1, 3)), ("mlp", (2,), (1,))]
)
def test_occlusion(kind, window, strides):
    ours, theirs, X, target = pair(kind)
    got = explain.occlusion(ours, X, target, sliding_window_shapes=window, strides=strides, baselines=0.5)
    ref = Occlusion(theirs).attribute(
        t(X), sliding_window_shapes=window, strides=strides, baselines=0.5, target=torch.from_numpy(target)
    )
    close(got, ref)


def test_feature_ablation_with_a_feature_mask():
    ours, theirs, X, target = pair("mlp")
    mask = np.array([0, 0, 1, 2, 2, 2])
    got = explain.feature_ablation(ours, X, target, feature_mask=mask)
    ref = FeatureAblation(theirs).attribute(
        t(X), target=torch.from_numpy(target), feature_mask=torch.from_numpy(mask).unsqueeze(0)
    )
    close(got, ref)


def test_feature_mask_as_captum_takes_it_with_a_leading_axis_and_any_ids():
    ours, theirs, X, target = pair("mlp")
    mask = torch.tensor([[7, 7, -2, 4, 4, 4]])
    got = explain.feature_ablation(ours, X, target, feature_mask=mask.numpy())
    close(got, FeatureAblation(theirs).attribute(t(X), target=torch.from_numpy(target), feature_mask=mask))


def test_strides_larger_than_the_window_are_refused_by_both():
    ours, theirs, X, target = pair("cnn1d")
    with pytest.raises(AssertionError, match="Stride"):
        Occlusion(theirs).attribute(t(X), sliding_window_shapes=(1, 2), strides=(1, 3), target=0)
    with pytest.raises(ValueError, match="strides"):
        explain.occlusion(ours, X, 0, sliding_window_shapes=(1, 2), strides=(1, 3))
