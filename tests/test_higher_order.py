"""Gradients of gradients through whole networks agree with finite differences of the first
gradient (float64): an MLP with ReLU, tanh and softmax cross-entropy, a Conv2d network with max
pooling, and a bidirectional LSTM. Both the Hessian-vector product in the parameters and the
gradient of an input-gradient penalty (what WGAN-GP and double backpropagation train with)."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn


def mlp():
    return nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 3))


def cnn():
    return nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1),
        nn.Tanh(),
        nn.MaxPool2d(2),
        nn.Conv2d(3, 2, 2),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(2, 3),
    )


class LastStep(nn.Module):
    """A bidirectional LSTM read at its last time step, then a linear layer."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(3, 4, batch_first=True, bidirectional=True)
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        output, _ = self.lstm(x)
        return self.head(output[:, -1])


NETWORKS = {
    "mlp": (mlp, (5, 4)),
    "cnn": (cnn, (5, 2, 4, 4)),
    "lstm": (LastStep, (5, 4, 3)),
}


def setup(name, seed=0):
    build, shape = NETWORKS[name]
    cr.manual_seed(seed)
    model = build().to("float64")
    r = np.random.default_rng(seed)
    x = cr.tensor(r.standard_normal(shape))
    y = cr.tensor(r.integers(0, 3, shape[0]))
    return model, x, y


def first_gradient(model, x, y, wrt, create_graph):
    loss = nn.functional.cross_entropy(model(x), y)
    return cr.grad(loss, wrt, create_graph=create_graph)


@pytest.mark.parametrize("name", NETWORKS)
def test_hessian_vector_product_in_the_parameters(name):
    """H v = d/dθ <∇L(θ), v> against (∇L(θ + εv) − ∇L(θ − εv)) / 2ε."""
    model, x, y = setup(name)
    params = list(model.parameters())
    r = np.random.default_rng(1)
    v = [r.standard_normal(p.shape) for p in params]
    grads = first_gradient(model, x, y, params, create_graph=True)
    assert all(g.requires_grad for g in grads)
    hv = cr.grad(sum((g * cr.tensor(d)).sum() for g, d in zip(grads, v)), params, allow_unused=True)
    hv = [np.zeros(p.shape) if h is None else h.numpy() for p, h in zip(params, hv)]

    eps = 1e-6  # small: a larger step moved a max-pooling winner in the CNN (a kink, not a bug)
    originals = [p.numpy().copy() for p in params]
    shifted = []
    for sign in (1.0, -1.0):
        for p, o, d in zip(params, originals, v):
            p.numpy()[...] = o + sign * eps * d
        shifted.append([g.numpy() for g in first_gradient(model, x, y, params, create_graph=False)])
    for p, o in zip(params, originals):
        p.numpy()[...] = o
    numeric = [(a - b) / (2 * eps) for a, b in zip(*shifted)]
    scale = max(np.abs(n).max() for n in numeric)
    assert scale > 1e-3  # a real curvature, not a trivially zero one
    for k, (a, n) in enumerate(zip(hv, numeric)):
        np.testing.assert_allclose(a, n, rtol=1e-4, atol=1e-6 * scale, err_msg=f"{name}: parameter {k}")


@pytest.mark.parametrize("name", NETWORKS)
def test_gradient_of_an_input_gradient_penalty(name):
    """P(θ) = ||∇_x L||²: its gradient in the parameters goes through the backward of every layer."""
    model, x, y = setup(name, seed=2)
    x.requires_grad_(True)
    params = list(model.parameters())

    def penalty(create_graph):
        (gx,) = first_gradient(model, x, y, [x], create_graph=True)
        return (gx * gx).sum()

    analytic = cr.grad(penalty(True), params, allow_unused=True)
    analytic = [np.zeros(p.shape) if a is None else a.numpy() for p, a in zip(params, analytic)]
    eps = 1e-6
    r = np.random.default_rng(3)
    for k, p in enumerate(params):  # a few coordinates of each parameter, by central differences
        flat = p.numpy().reshape(-1)
        for i in r.choice(flat.size, size=min(3, flat.size), replace=False):
            original = flat[i]
            flat[i] = original + eps
            plus = penalty(False).item()
            flat[i] = original - eps
            minus = penalty(False).item()
            flat[i] = original
            numeric = (plus - minus) / (2 * eps)
            assert abs(analytic[k].reshape(-1)[i] - numeric) <= 1e-5 + 1e-4 * abs(numeric), (name, k, i)
