"""XOR: a 2-4-1 MLP with tanh learns it; with identity activations it is one linear model and cannot.

The seed's "linear activations collapse to a linear model": W2 (W1 x + b1) + b2 = (W2 W1) x + (W2 b1 + b2).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.train import fit, predict

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
Y = np.array([[0], [1], [1], [0]], dtype=np.float32)
POINTS = np.random.default_rng(0).uniform(-3, 3, size=(500, 2)).astype(np.float32)


def xor_net(activation: nn.Module) -> nn.Sequential:
    return nn.Sequential(nn.Linear(2, 4), activation, nn.Linear(4, 1))


def train(net: nn.Sequential, epochs: int = 300) -> float:
    optimizer = cr.optim.SGD(net.parameters(), lr=0.5, momentum=0.9)
    history = fit(net, nn.BCEWithLogitsLoss(), optimizer, X, Y, epochs=epochs, batch_size=None, verbose=0)
    return history["loss"][-1]


def accuracy(net: nn.Sequential) -> float:
    return float(np.mean((predict(net, X) > 0) == (Y > 0)))


def collapsed(net: nn.Sequential) -> tuple[np.ndarray, np.ndarray]:
    """(W, b) of the single linear model W x + b that Linear -> Identity -> Linear computes."""
    W1, b1 = net[0].weight.numpy(), net[0].bias.numpy()
    W2, b2 = net[2].weight.numpy(), net[2].bias.numpy()
    return W2 @ W1, W2 @ b1 + b2


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tanh_network_learns_xor(seed):
    cr.manual_seed(seed)
    net = xor_net(nn.Tanh())
    loss = train(net)
    assert accuracy(net) == 1.0
    assert loss < 0.05


def test_sigmoid_network_learns_xor():
    cr.manual_seed(0)
    net = xor_net(nn.Sigmoid())
    train(net, epochs=500)
    assert accuracy(net) == 1.0


def test_identity_network_cannot_learn_xor_and_is_one_linear_model():
    cr.manual_seed(0)
    net = xor_net(nn.Identity())

    # Before training (random weights) the network already computes W x + b exactly.
    W, b = collapsed(net)
    np.testing.assert_allclose(predict(net, POINTS), POINTS @ W.T + b, rtol=1e-5, atol=1e-5)

    loss = train(net)
    assert accuracy(net) < 1.0  # no straight line separates XOR
    # The best a linear model can do on XOR under log-loss is to predict 0.5 everywhere: ln 2.
    assert loss >= math.log(2) - 1e-3

    # After training it is still exactly the composed single linear model.
    W, b = collapsed(net)
    assert W.shape == (1, 2) and b.shape == (1,)
    for points in (X, POINTS):
        np.testing.assert_allclose(predict(net, points), points @ W.T + b, rtol=1e-5, atol=1e-5)
    # ...and it predicts the same classes as that linear model.
    np.testing.assert_array_equal(predict(net, X) > 0, X @ W.T + b > 0)


def test_a_single_linear_layer_does_no_better_than_the_identity_network():
    cr.manual_seed(0)
    single = nn.Linear(2, 1)
    loss = train(single)
    assert accuracy(single) < 1.0
    assert loss >= math.log(2) - 1e-3
