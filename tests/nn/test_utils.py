"""chainrule.nn.utils: parameters_to_vector / vector_to_parameters, and the clipping functions under
PyTorch's path."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn import utils
from tests.nn.support import data


def model() -> nn.Module:
    cr.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2, bias=False))


def test_parameters_to_vector_joins_the_flattened_parameters_in_order():
    net = model()
    vec = utils.parameters_to_vector(net.parameters())
    expected = np.concatenate([p.numpy().ravel() for p in net.parameters()])
    assert vec.shape == (3 * 4 + 4 + 4 * 2,)
    np.testing.assert_array_equal(vec.numpy(), expected)
    single = cr.nn.Parameter(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(utils.parameters_to_vector(single).numpy(), np.arange(6.0))


def test_gradients_flow_through_parameters_to_vector():
    net = model()
    weights = data(24)
    (utils.parameters_to_vector(net.parameters()) * cr.tensor(weights.astype(np.float32))).sum().backward()
    grads = np.concatenate([p.grad.numpy().ravel() for p in net.parameters()])
    np.testing.assert_allclose(grads, weights, rtol=1e-6)
    a, b = cr.tensor(data(2, 3), requires_grad=True), cr.tensor(data(4), requires_grad=True)
    assert cr.gradcheck(lambda x, y: utils.parameters_to_vector([x, y]) ** 2, [a, b])


def test_vector_to_parameters_writes_in_place_and_round_trips():
    net = model()
    arrays = [p.numpy() for p in net.parameters()]
    vec = utils.parameters_to_vector(net.parameters())
    new = np.arange(vec.shape[0], dtype=np.float64)
    utils.vector_to_parameters(cr.tensor(new), net.parameters())
    assert all(p.numpy() is a for p, a in zip(net.parameters(), arrays))  # the same arrays, written
    assert all(p.dtype == np.float32 for p in net.parameters())  # cast to each parameter's dtype
    np.testing.assert_array_equal(utils.parameters_to_vector(net.parameters()).numpy(), new)
    np.testing.assert_array_equal(net[0].bias.numpy(), [12.0, 13.0, 14.0, 15.0])
    new[0] = -1.0  # the parameters are copies, not views of the vector
    assert net[0].weight.numpy()[0, 0] == 0.0


def test_vector_to_parameters_takes_an_array_and_a_generator():
    net = model()
    utils.vector_to_parameters(np.ones(24), (p for p in net.parameters()))
    assert all((p.numpy() == 1).all() for p in net.parameters())


@pytest.mark.parametrize("length", [23, 25, 0])
def test_a_vector_of_the_wrong_length_is_refused_before_anything_is_written(length):
    net = model()
    before = [p.numpy().copy() for p in net.parameters()]
    with pytest.raises(
        ValueError,
        match=rf"vector_to_parameters: the vector has {length} entries, the parameters 24 "
        r"\(shapes \(4, 3\), \(4,\), \(2, 4\)\)",
    ):
        utils.vector_to_parameters(cr.ones(length), net.parameters())
    for p, b in zip(net.parameters(), before):
        np.testing.assert_array_equal(p.numpy(), b)


@pytest.mark.parametrize(
    "vec, error, message",
    [
        (cr.ones(4, 5), ValueError, r"expected a 1-D vector, got shape \(4, 5\)"),
        (cr.tensor(np.ones(24, bool)), TypeError, "expected a vector of numbers, got dtype bool"),
        ("1,2,3", TypeError, "expected a Tensor, got str"),
    ],
)
def test_vector_to_parameters_checks_the_vector(vec, error, message):
    with pytest.raises(error, match="vector_to_parameters: " + message):
        utils.vector_to_parameters(vec, model().parameters())


def test_parameter_arguments_are_checked():
    with pytest.raises(ValueError, match="parameters_to_vector: got no parameters"):
        utils.parameters_to_vector([])
    with pytest.raises(TypeError, match=r"parameter 0 is a tuple, not a Tensor; pass model.parameters\(\)"):
        utils.parameters_to_vector(model().named_parameters())
    with pytest.raises(TypeError, match="vector_to_parameters: parameters must be a Tensor or an iterable"):
        utils.vector_to_parameters(cr.ones(3), 3)


def test_a_graph_built_before_vector_to_parameters_cannot_be_differentiated():
    net = model()
    stale = net(cr.ones(2, 3)).sum()
    utils.vector_to_parameters(np.zeros(24), net.parameters())
    with pytest.raises(RuntimeError, match="modified in place by vector_to_parameters"):
        stale.backward()


def test_clipping_is_reachable_under_pytorchs_path_and_is_optims_own():
    assert nn.utils.clip_grad_norm_ is cr.optim.clip_grad_norm_
    assert nn.utils.clip_grad_value_ is cr.optim.clip_grad_value_
    from chainrule.nn.utils import clip_grad_norm_

    p = cr.nn.Parameter(np.zeros(2))
    p.grad = cr.tensor([3.0, 4.0])
    assert clip_grad_norm_([p], max_norm=1.0).item() == pytest.approx(5.0)
    np.testing.assert_allclose(p.grad.numpy(), [0.6, 0.8], rtol=1e-5)
    assert {"clip_grad_norm_", "clip_grad_value_", "parameters_to_vector"} <= set(dir(nn.utils))
    with pytest.raises(AttributeError, match="has no attribute 'clip_grad_norm'"):
        nn.utils.clip_grad_norm  # noqa: B018  (the name without PyTorch's trailing underscore)
