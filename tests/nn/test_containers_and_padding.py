"""ParameterList and ParameterDict (registration, state_dict, optimisers, save and load), Unflatten,
Identity's arguments, the padding layers and F.pad against NumPy."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from tests.nn.support import data, leaf


class Mixture(nn.Module):
    """A model holding its weights in a ParameterList and a ParameterDict."""

    def __init__(self):
        super().__init__()
        self.weights = nn.ParameterList([nn.Parameter(cr.randn(3, 3)) for _ in range(2)])
        self.extra = nn.ParameterDict({"scale": nn.Parameter(cr.ones(3)), "shift": cr.zeros(3)})

    def forward(self, x):
        for w in self.weights:
            x = cr.tanh(x @ w)
        return x * self.extra["scale"] + self.extra["shift"]


def test_parameters_in_the_containers_are_found_by_name():
    model = Mixture()
    names = [n for n, _ in model.named_parameters()]
    assert names == ["weights.0", "weights.1", "extra.scale", "extra.shift"]
    assert list(model.state_dict()) == names
    assert len(list(model.parameters())) == 4
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in model.parameters())


def test_an_optimiser_trains_the_parameters_in_the_containers():
    cr.manual_seed(0)
    model = Mixture()
    before = {k: v.copy() for k, v in model.state_dict().items()}
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    loss = (model(cr.randn(4, 3)) ** 2).sum()
    loss.backward()
    opt.step()
    assert all(not np.array_equal(before[k], v) for k, v in model.state_dict().items())


def test_save_and_load_rebuild_the_containers(tmp_path):
    cr.manual_seed(0)
    model = Mixture()
    cr.save(model, tmp_path / "m.safetensors")
    again = cr.load(tmp_path / "m.safetensors")
    for (k, a), (j, b) in zip(model.state_dict().items(), again.state_dict().items()):
        assert k == j
        np.testing.assert_array_equal(a, b)
    x = cr.randn(2, 3)
    np.testing.assert_array_equal(again(x).numpy(), model(x).numpy())


def test_parameter_list_behaves_as_a_list():
    params = nn.ParameterList()
    assert len(params) == 0 and repr(params) == "ParameterList()"
    params.append(cr.ones(2))
    params += [nn.Parameter(cr.zeros(2, 3, dtype="float64"))]
    assert len(params) == 2 and params[-1].shape == (2, 3) and isinstance(params[0], nn.Parameter)
    assert repr(params) == (
        "ParameterList(\n    (0): Parameter containing: [float32 of size 2]\n"
        "    (1): Parameter containing: [float64 of size 2x3]\n)"
    )
    params[0] = nn.Parameter(cr.full((4,), 2.0))
    assert params[0].shape == (4,) and [p.shape for p in params[:1]] == [(4,)]
    assert [n for n, _ in params.named_parameters()] == ["0", "1"]
    with pytest.raises(IndexError, match="index 2 is out of range"):
        params[2]
    with pytest.raises(TypeError, match="expected a Parameter or a Tensor"):
        params.append("weights")


def test_parameter_dict_behaves_as_a_dict():
    params = nn.ParameterDict([("b", cr.ones(2)), ("a", cr.zeros(1))])
    assert params.keys() == ["b", "a"] and "a" in params and len(params) == 2
    assert repr(params) == (
        "ParameterDict(\n    (b): Parameter containing: [float32 of size 2]\n"
        "    (a): Parameter containing: [float32 of size 1]\n)"
    )
    assert (
        repr(nn.ParameterDict({"w": cr.ones(2)})) == "ParameterDict(  (w): Parameter containing: [float32 of size 2])"
    )
    removed = params.pop("b")
    assert removed.shape == (2,) and list(params.state_dict()) == ["a"] and params.get("b") is None
    params.update({"c": cr.ones(3)})
    assert [k for k, _ in params.items()] == ["a", "c"]
    params.clear()
    assert len(params) == 0 and list(params.parameters()) == []
    with pytest.raises(KeyError, match="attribute of the dict itself"):
        params["training"] = cr.ones(1)
    with pytest.raises(KeyError, match='contain "."'):
        params["a.b"] = cr.ones(1)
    with pytest.raises(KeyError):
        params["missing"]


def test_unflatten_inverts_flatten():
    x = cr.tensor(data(4, 6, 5))
    out = nn.Unflatten(1, (2, -1))(x)
    assert out.shape == (4, 2, 3, 5)
    np.testing.assert_array_equal(nn.Flatten(1, 2)(out).numpy(), x.numpy())
    assert nn.Unflatten(-1, (5, 1))(x).shape == (4, 6, 5, 1)
    assert repr(nn.Unflatten(-1, [5, 1])) == "Unflatten(dim=-1, unflattened_size=(5, 1))"
    with pytest.raises(ValueError, match="must multiply to the size of dimension 1, 6"):
        nn.Unflatten(1, (4, 2))(x)
    t = leaf(data(2, 6))
    nn.Unflatten(1, (3, 2))(t).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), np.ones((2, 6)))


def test_identity_takes_any_arguments_and_ignores_them():
    x = cr.ones(2)
    assert nn.Identity(54, unused_argument1=0.1)(x) is x


@pytest.mark.parametrize(
    "layer, padding, value",
    [
        (nn.ZeroPad1d(2), ((0, 0), (0, 0), (2, 2)), 0.0),
        (nn.ZeroPad2d((1, 0, 2, 3)), ((0, 0), (0, 0), (2, 3), (1, 0)), 0.0),
        (nn.ConstantPad1d((3, 1), 2.5), ((0, 0), (0, 0), (3, 1)), 2.5),
        (nn.ConstantPad2d(1, -1.0), ((0, 0), (0, 0), (1, 1), (1, 1)), -1.0),
    ],
    ids=repr,
)
def test_padding_layers_against_numpy(layer, padding, value):
    shape = (2, 3, 4) if len(padding) == 3 else (2, 3, 4, 5)
    x = data(*shape)
    np.testing.assert_array_equal(layer(cr.tensor(x)).numpy(), np.pad(x, padding, constant_values=value))
    np.testing.assert_array_equal(layer(cr.tensor(x[0])).numpy(), np.pad(x[0], padding[1:], constant_values=value))
    assert cr.gradcheck(layer, [leaf(x)])


def test_padding_layer_reprs_and_errors():
    assert repr(nn.ZeroPad2d(1)) == "ZeroPad2d((1, 1, 1, 1))"
    assert repr(nn.ConstantPad1d(2, 3.5)) == "ConstantPad1d(padding=(2, 2), value=3.5)"
    with pytest.raises(ValueError, match="padding must be an int or a tuple of 4 ints"):
        nn.ZeroPad2d((1, 2))
    with pytest.raises(ValueError, match="expects a 3-D or 4-D input"):
        nn.ZeroPad2d(1)(cr.ones(3, 3))


def test_pad_crops_with_negative_amounts_and_takes_pytorchs_modes():
    x = np.arange(12.0).reshape(1, 3, 4)
    np.testing.assert_array_equal(
        F.pad(cr.tensor(x), (-1, 2), value=7.0).numpy(),
        np.pad(x, ((0, 0), (0, 0), (0, 2)), constant_values=7.0)[..., 1:],
    )
    for mode, numpy_mode in (("reflect", "reflect"), ("replicate", "edge"), ("circular", "wrap")):
        out = F.pad(cr.tensor(x), (2, 1, 1, 2), mode=mode).numpy()
        np.testing.assert_array_equal(out, np.pad(x, ((0, 0), (1, 2), (2, 1)), mode=numpy_mode), err_msg=mode)
    assert cr.gradcheck(lambda t: F.pad(t, (2, 1), mode="reflect"), [leaf(x)])
    with pytest.raises(ValueError, match="each amount must be >= 0 and smaller than the size"):
        F.pad(cr.tensor(x), (4, 0), mode="reflect")
    with pytest.raises(ValueError, match="an even number of amounts"):
        F.pad(cr.tensor(x), (1, 2, 3))
    with pytest.raises(ValueError, match="mode must be"):
        F.pad(cr.tensor(x), (1, 1), mode="symmetric")


@pytest.mark.parametrize(
    "layer, mode, pad_width",
    [
        (nn.ReflectionPad1d(2), "reflect", ((0, 0), (0, 0), (2, 2))),
        (nn.ReflectionPad2d((1, 0, 2, 1)), "reflect", ((0, 0), (0, 0), (2, 1), (1, 0))),
        (nn.ReplicationPad1d((0, 3)), "edge", ((0, 0), (0, 0), (0, 3))),
        (nn.ReplicationPad2d(1), "edge", ((0, 0), (0, 0), (1, 1), (1, 1))),
        (nn.CircularPad1d(1), "wrap", ((0, 0), (0, 0), (1, 1))),
        (nn.CircularPad2d((1, 1, 2, 0)), "wrap", ((0, 0), (0, 0), (2, 0), (1, 1))),
    ],
    ids=repr,
)
def test_the_mode_padding_layers_pad_as_numpy(layer, mode, pad_width):
    x = np.random.default_rng(0).normal(size=(2, 3, 5, 6)[: len(pad_width)])
    np.testing.assert_array_equal(layer(cr.tensor(x)).numpy(), np.pad(x, pad_width, mode=mode))
    with pytest.raises(ValueError, match="padding must be an int or a tuple"):
        type(layer)((1, 2, 3))
    with pytest.raises(ValueError, match=r"expects a \d-D or \d-D input"):
        layer(cr.ones(*([2] * (len(pad_width) + 1))))
