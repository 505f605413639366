"""chainrule.nn.init against torch.nn.init: gains, and the spread of each scheme on conv-shaped weights."""

from __future__ import annotations

import pytest
import torch

import chainrule as cr
from chainrule.nn import init
from tests.nn.test_init import weight


@pytest.mark.parametrize(
    "name, param",
    [
        ("linear", None),
        ("sigmoid", None),
        ("tanh", None),
        ("relu", None),
        ("selu", None),
        ("leaky_relu", None),
        ("leaky_relu", 0.3),
        ("conv2d", None),
    ],
)
def test_gains_match_torch(name, param):
    assert init.calculate_gain(name, param) == pytest.approx(torch.nn.init.calculate_gain(name, param), rel=1e-12)


def test_bounds_match_torch_on_the_same_shapes():
    # torch draws different numbers; compare the spread each scheme aims for.
    torch.manual_seed(0)
    cr.manual_seed(0)
    for ours, theirs, kwargs in [
        (init.xavier_uniform_, torch.nn.init.xavier_uniform_, {}),
        (init.kaiming_uniform_, torch.nn.init.kaiming_uniform_, {"nonlinearity": "relu"}),
        (init.kaiming_normal_, torch.nn.init.kaiming_normal_, {"mode": "fan_out", "nonlinearity": "relu"}),
    ]:
        w = ours(weight(64, 32, 3, 3), **kwargs)
        t = theirs(torch.empty(64, 32, 3, 3, dtype=torch.float64), **kwargs)
        assert w.numpy().std() == pytest.approx(float(t.std()), rel=0.03)
