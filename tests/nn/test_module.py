"""Module, Parameter and the containers: registration, traversal, modes, state dicts, config, repr."""

from __future__ import annotations

import copy
import json
import pickle
from collections import OrderedDict

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from tests.nn.support import data, module_gradcheck


class TwoLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(4, 3)
        self.out = nn.Linear(3, 2)

    def forward(self, x):
        return self.out(cr.relu(self.hidden(x)))


class WithBuffers(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(np.ones(3))
        self.register_buffer("count", cr.zeros(3))
        self.register_buffer("cache", cr.zeros(2), persistent=False)

    def forward(self, x):
        return x * self.scale


# ------------------------------------------------------------------ Parameter


def test_parameter_requires_grad_and_is_a_tensor():
    p = nn.Parameter([1.0, 2.0])
    assert isinstance(p, cr.Tensor)
    assert p.requires_grad
    assert p.dtype == np.float32
    assert repr(p).startswith("Parameter(")


def test_parameter_rejects_integer_data():
    with pytest.raises(TypeError, match="floating"):
        nn.Parameter(np.arange(3))


# ------------------------------------------------------------------ registration


def test_attribute_assignment_registers_nested_parameters_in_order():
    model = TwoLayer()
    names = [n for n, _ in model.named_parameters()]
    assert names == ["hidden.weight", "hidden.bias", "out.weight", "out.bias"]
    assert [n for n, _ in model.named_children()] == ["hidden", "out"]
    assert [n for n, _ in model.named_modules()] == ["", "hidden", "out"]
    assert model.num_parameters() == 4 * 3 + 3 + 3 * 2 + 2


def test_deeply_nested_names_are_dotted():
    outer = nn.Sequential(nn.Sequential(TwoLayer()), nn.Linear(2, 1))
    names = [n for n, _ in outer.named_parameters()]
    assert names == ["0.0.hidden.weight", "0.0.hidden.bias", "0.0.out.weight", "0.0.out.bias", "1.weight", "1.bias"]
    assert [n for n, _ in outer.named_modules()] == ["", "0", "0.0", "0.0.hidden", "0.0.out", "1"]
    assert next(outer.named_parameters(prefix="net"))[0] == "net.0.0.hidden.weight"


def test_named_parameters_without_recursion():
    m = WithBuffers()
    m.sub = nn.Linear(2, 2)
    assert [n for n, _ in m.named_parameters(recurse=False)] == ["scale"]
    assert len(list(m.parameters())) == 3


def test_module_list_and_module_dict_register_their_modules():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3
    assert [n for n, _ in layers.named_parameters()][:2] == ["0.weight", "0.bias"]
    layers.append(nn.Linear(2, 1)).extend([nn.ReLU()])
    assert len(layers) == 5 and isinstance(layers[-1], nn.ReLU)
    assert len(list(layers.parameters())) == 8

    heads = nn.ModuleDict({"a": nn.Linear(2, 3), "b": nn.Linear(2, 4)})
    heads["c"] = nn.Linear(2, 5)
    assert list(heads) == ["a", "b", "c"]
    assert list(heads.keys()) == ["a", "b", "c"]
    assert heads["c"].out_features == 5
    assert [n for n, _ in heads.named_parameters()] == [
        "a.weight",
        "a.bias",
        "b.weight",
        "b.bias",
        "c.weight",
        "c.bias",
    ]

    class Holder(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2)])
            self.heads = nn.ModuleDict({"x": nn.Linear(2, 1)})

    assert [n for n, _ in Holder().named_parameters()] == [
        "blocks.0.weight",
        "blocks.0.bias",
        "blocks.1.weight",
        "blocks.1.bias",
        "heads.x.weight",
        "heads.x.bias",
    ]


def test_a_plain_list_of_modules_is_not_registered():
    class Hidden(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = [nn.Linear(2, 2)]

    assert list(Hidden().parameters()) == []


def test_shared_parameters_and_modules_are_counted_once():
    shared = nn.Linear(3, 3)
    model = nn.Sequential(shared, nn.Tanh(), shared)
    assert len(list(model.parameters())) == 2
    assert model.num_parameters() == 12
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias"]
    assert len(list(model.modules())) == 3  # the Sequential, the shared Linear once, Tanh

    a, b = nn.Linear(3, 3), nn.Linear(3, 3)
    b.weight = a.weight  # weight tying
    tied = nn.Sequential(a, b)
    assert [n for n, _ in tied.named_parameters()] == ["0.weight", "0.bias", "1.bias"]
    assert list(tied.state_dict()) == ["0.weight", "0.bias", "1.bias"]


def test_reassigning_an_attribute_to_a_non_parameter_unregisters_it():
    m = TwoLayer()
    m.hidden.bias = None
    assert [n for n, _ in m.named_parameters()] == ["hidden.weight", "out.weight", "out.bias"]
    m.hidden.weight = cr.zeros(3, 4)  # a plain Tensor is not a Parameter
    assert [n for n, _ in m.named_parameters()] == ["out.weight", "out.bias"]
    m.out = "not a module"
    assert list(m.parameters()) == []
    assert [n for n, _ in m.named_children()] == ["hidden"]


def test_reassigning_a_parameter_to_a_module_and_back():
    m = WithBuffers()
    m.scale = nn.Linear(1, 1)
    assert [n for n, _ in m.named_parameters()] == ["scale.weight", "scale.bias"]
    m.scale = nn.Parameter(np.zeros(2))
    assert [n for n, _ in m.named_parameters()] == ["scale"]
    assert list(m.children()) == []


def test_delattr_unregisters():
    m = TwoLayer()
    del m.out
    assert [n for n, _ in m.named_parameters()] == ["hidden.weight", "hidden.bias"]
    assert not hasattr(m, "out")


def test_register_parameter_and_add_module():
    m = nn.Module()
    m.register_parameter("w", nn.Parameter(np.ones(2)))
    m.add_module("lin", nn.Linear(2, 1))
    assert [n for n, _ in m.named_parameters()] == ["w", "lin.weight", "lin.bias"]
    m.register_parameter("w", None)
    assert m.w is None
    assert [n for n, _ in m.named_parameters()] == ["lin.weight", "lin.bias"]
    with pytest.raises(TypeError, match="must be a Module"):
        m.add_module("bad", 3)


def test_assigning_before_super_init_gives_a_clear_error():
    class Forgot(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match=r"Forgot: call super\(\).__init__\(\)"):
        Forgot()


def test_calling_a_module_that_forgot_super_init_gives_a_clear_error():
    class Forgot(nn.Module):
        def __init__(self):
            pass

        def forward(self, x):
            return x

    with pytest.raises(AttributeError, match=r"Forgot: call super\(\).__init__\(\)"):
        Forgot()(cr.ones(2))


def test_module_without_forward_names_itself():
    with pytest.raises(NotImplementedError, match="Module has no forward"):
        nn.Module()(cr.ones(1))


# ------------------------------------------------------------------ buffers


def test_buffers_are_apart_from_parameters():
    m = WithBuffers()
    assert [n for n, _ in m.named_parameters()] == ["scale"]
    assert [n for n, _ in m.named_buffers()] == ["count", "cache"]
    assert not m.count.requires_grad
    m.count = cr.ones(3)  # reassigning a buffer keeps it a buffer
    assert [n for n, _ in m.named_buffers()] == ["count", "cache"]
    np.testing.assert_array_equal(m.state_dict()["count"], np.ones(3))
    with pytest.raises(TypeError, match="buffer 'count' must be a Tensor"):
        m.count = [1, 2, 3]


def test_register_buffer_accepts_arrays():
    m = nn.Module()
    m.register_buffer("table", np.arange(4.0))
    assert isinstance(m.table, cr.Tensor)
    assert list(m.state_dict()) == ["table"]


def test_re_registering_a_buffer_as_persistent_puts_it_back_in_the_state_dict():
    m = nn.Module()
    m.register_buffer("b", cr.zeros(2), persistent=False)
    assert list(m.state_dict()) == []
    m.register_buffer("b", cr.zeros(2), persistent=True)
    assert list(m.state_dict()) == ["b"]


def test_non_persistent_buffers_are_excluded_from_state_dict():
    m = WithBuffers()
    assert list(m.state_dict()) == ["scale", "count"]
    nested = nn.Sequential(WithBuffers(), nn.BatchNorm1d(2))
    assert list(nested.state_dict()) == [
        "0.scale",
        "1.weight",
        "1.bias",
        "0.count",
        "1.running_mean",
        "1.running_var",
        "1.num_batches_tracked",
    ]


# ------------------------------------------------------------------ modes, gradients, dtype


def test_train_and_eval_propagate_to_every_module():
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Dropout(0.5), nn.BatchNorm1d(2)))
    assert all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    model.train(False)
    assert not any(m.training for m in model.modules())


def test_zero_grad_clears_every_gradient():
    model = TwoLayer()
    model(cr.ones(5, 4)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_requires_grad_false_freezes_parameters():
    model = TwoLayer()
    assert model.requires_grad_(False) is model
    assert not any(p.requires_grad for p in model.parameters())
    assert model.num_parameters(trainable_only=True) == 0
    assert not model(cr.ones(2, 4)).requires_grad
    model.hidden.requires_grad_(True)
    assert model.num_parameters(trainable_only=True) == 15
    out = model(cr.ones(2, 4)).sum()
    out.backward()
    assert model.hidden.weight.grad is not None
    assert model.out.weight.grad is None


def test_to_float64_converts_parameters_and_float_buffers():
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    before = model.state_dict()
    assert model.to("float64") is model
    assert all(p.dtype == np.float64 for p in model.parameters())
    assert model[1].running_mean.dtype == np.float64
    assert model[1].num_batches_tracked.dtype == np.int64  # integer buffers stay integer
    for k, v in model.state_dict().items():
        np.testing.assert_allclose(v, before[k])
    out = model(cr.tensor(data(4, 3)))
    assert out.dtype == np.float64
    model.to(cr.float32)
    assert all(p.dtype == np.float32 for p in model.parameters())
    with pytest.raises(TypeError, match="floating point"):
        model.to("int32")


def test_apply_visits_children_then_self():
    seen = []
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    assert model.apply(lambda m: seen.append(type(m).__name__)) is model
    assert seen[-1] == "Sequential"
    assert sorted(seen[:-1]) == ["Linear", "ReLU"]


def test_gradients_through_a_whole_model():
    cr.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(4, 6),
        nn.BatchNorm1d(6),
        nn.Tanh(),
        nn.Dropout(0.5),
        nn.Linear(6, 5),
        nn.LayerNorm(5),
        nn.ELU(),
        nn.Linear(5, 3),
        nn.LogSoftmax(dim=1),
    ).to("float64")
    model[3].eval()  # a fixed function for finite differences
    assert module_gradcheck(model, cr.tensor(data(7, 4), requires_grad=True))


# ------------------------------------------------------------------ state_dict / load_state_dict


def test_state_dict_returns_copies():
    model = TwoLayer()
    state = model.state_dict()
    assert list(state) == ["hidden.weight", "hidden.bias", "out.weight", "out.bias"]
    state["hidden.weight"][...] = 123.0
    assert not np.any(model.hidden.weight.numpy() == 123.0)
    model.hidden.weight.numpy()[...] = 7.0
    assert not np.any(state["hidden.weight"] == 7.0)


def test_load_state_dict_round_trip_copies_values_in_place():
    a, b = TwoLayer(), TwoLayer()
    weight_object = b.hidden.weight
    missing, unexpected = b.load_state_dict(a.state_dict())
    assert missing == [] and unexpected == []
    assert b.hidden.weight is weight_object  # same Parameter objects, new values
    for (name, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        np.testing.assert_array_equal(pa.numpy(), pb.numpy(), err_msg=name)
    state = a.state_dict()
    b.load_state_dict(state)
    state["out.bias"][...] = 5.0
    assert not np.any(b.out.bias.numpy() == 5.0)  # loading copies


def test_load_state_dict_accepts_tensors_and_casts_dtype():
    m = nn.Linear(2, 1)
    m.load_state_dict({"weight": cr.tensor([[1.0, 2.0]]), "bias": np.array([3.0], dtype=np.float64)})
    assert m.bias.dtype == np.float32
    np.testing.assert_array_equal(m.weight.numpy(), [[1.0, 2.0]])
    np.testing.assert_array_equal(m.bias.numpy(), [3.0])


def test_load_state_dict_reports_every_problem_at_once_and_changes_nothing():
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    before = model.state_dict()
    bad = {
        "0.weight": np.zeros((3, 3)),  # mis-shaped
        "0.bias": np.full(2, 9.0),  # fine, but must not be written
        "1.running_mean": np.full(2, 9.0),  # fine, but must not be written
        "extra.weight": np.zeros(1),  # unexpected
        "other": np.zeros(1),  # unexpected
    }  # missing: 1.weight, 1.bias, 1.running_var, 1.num_batches_tracked
    with pytest.raises(KeyError) as info:
        model.load_state_dict(bad)
    message = str(info.value)
    for key in (
        "0.weight",
        "(2, 3)",
        "(3, 3)",
        "extra.weight",
        "other",
        "1.weight",
        "1.bias",
        "1.running_var",
        "1.num_batches_tracked",
        "missing",
        "unexpected",
        "mis-shaped",
    ):
        assert key in message, key
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k], err_msg=k)


def test_load_state_dict_with_an_unconvertible_value_changes_nothing():
    model = nn.Linear(2, 2)
    before = model.state_dict()
    with pytest.raises(TypeError, match="bias is a floating float32 tensor, but the value given is <U1"):
        model.load_state_dict({"weight": np.ones((2, 2)), "bias": np.array(["a", "b"])})
    np.testing.assert_array_equal(model.weight.numpy(), before["weight"])


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.bool_])
def test_load_state_dict_refuses_integers_for_float_parameters(dtype):  # they were cast silently
    model = nn.Linear(2, 2)
    before = model.state_dict()
    with pytest.raises(
        TypeError, match=f"weight is a floating float32 tensor, but the value given is {np.dtype(dtype)}"
    ):
        model.load_state_dict({"weight": np.ones((2, 2), dtype=dtype), "bias": np.zeros(2)})
    np.testing.assert_array_equal(model.weight.numpy(), before["weight"])
    model.load_state_dict({"weight": np.ones((2, 2), dtype=np.float64), "bias": np.zeros(2)})  # floats convert
    assert model.weight.dtype == np.float32 and model.weight.numpy().sum() == 4.0


def test_load_state_dict_non_strict_allows_missing_and_unexpected():
    model = TwoLayer()
    source = TwoLayer()
    state = {"hidden.weight": source.hidden.weight.numpy(), "surplus": np.zeros(3)}
    old_out = model.out.weight.numpy().copy()
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert missing == ["hidden.bias", "out.weight", "out.bias"]
    assert unexpected == ["surplus"]
    np.testing.assert_array_equal(model.hidden.weight.numpy(), source.hidden.weight.numpy())
    np.testing.assert_array_equal(model.out.weight.numpy(), old_out)


def test_load_state_dict_non_strict_still_refuses_wrong_shapes():
    model = TwoLayer()
    before = model.state_dict()
    with pytest.raises(KeyError, match="hidden.bias"):
        model.load_state_dict({"hidden.bias": np.zeros(4), "out.bias": np.zeros(2)}, strict=False)
    np.testing.assert_array_equal(model.out.bias.numpy(), before["out.bias"])


def test_load_state_dict_restores_buffers():
    bn = nn.BatchNorm1d(2)
    bn(cr.tensor(data(8, 2)))
    fresh = nn.BatchNorm1d(2)
    fresh.load_state_dict(bn.state_dict())
    np.testing.assert_array_equal(fresh.running_mean.numpy(), bn.running_mean.numpy())
    assert int(fresh.num_batches_tracked.item()) == 1


# ------------------------------------------------------------------ Sequential


def test_sequential_applies_layers_in_order():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 1))
    x = data(5, 4)
    w1, b1 = model[0].weight.numpy(), model[0].bias.numpy()
    w2, b2 = model[2].weight.numpy(), model[2].bias.numpy()
    expected = np.maximum(x @ w1.T.astype(np.float64) + b1, 0) @ w2.T.astype(np.float64) + b2
    np.testing.assert_allclose(model(cr.tensor(x, dtype="float32")).numpy(), expected, rtol=1e-5, atol=1e-6)
    assert len(model) == 3
    assert [type(m).__name__ for m in model] == ["Linear", "ReLU", "Linear"]


def test_sequential_by_dict_keeps_names():
    model = nn.Sequential(OrderedDict([("hidden", nn.Linear(2, 3)), ("act", nn.Tanh()), ("out", nn.Linear(3, 1))]))
    assert [n for n, _ in model.named_children()] == ["hidden", "act", "out"]
    assert [n for n, _ in model.named_parameters()] == ["hidden.weight", "hidden.bias", "out.weight", "out.bias"]
    assert model.hidden is model[0]
    assert model(cr.ones(4, 2)).shape == (4, 1)


def test_sequential_indexing_and_slicing():
    layers = [nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 4), nn.Tanh()]
    model = nn.Sequential(*layers)
    assert model[-1] is layers[-1]
    head = model[:2]
    assert isinstance(head, nn.Sequential)
    assert list(head) == layers[:2]
    assert head(cr.ones(1, 2)).shape == (1, 3)
    tail = model[2:]
    assert [n for n, _ in tail.named_children()] == ["2", "3"]  # names kept, as PyTorch
    assert tail[0] is layers[2]
    assert list(model[::2]) == [layers[0], layers[2]]
    with pytest.raises(IndexError):
        model[4]


def test_sequential_append_and_rejects_non_modules():
    model = nn.Sequential(nn.Linear(2, 2))
    model.append(nn.ReLU())
    assert len(model) == 2 and isinstance(model[1], nn.ReLU)
    with pytest.raises(TypeError, match="layer '1' must be a Module, got function"):
        nn.Sequential(nn.Linear(2, 2), lambda x: x)


# ------------------------------------------------------------------ an error inside a container names the layer


class UserBlock(nn.Module):
    """A user's module that runs a Sequential of its own."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x)


def _error(model, x, kind=ValueError):
    with pytest.raises(kind) as info:
        model(x)
    return info.value


LINEAR_40 = "Linear(in_features=40) got input of shape (32, 30): the last dimension must be 40"


def test_an_error_in_a_sequential_names_the_child_keeps_its_type_and_chains_the_original():
    model = nn.Sequential(nn.Linear(30, 30), nn.ReLU(), nn.Linear(40, 10))
    error = _error(model, cr.zeros(32, 30))
    assert type(error) is ValueError
    assert str(error) == f"Sequential[2] (Linear): {LINEAR_40}"
    assert type(error.__cause__) is ValueError and str(error.__cause__) == LINEAR_40
    with pytest.raises(ValueError) as direct:  # the layer on its own says the same, unprefixed
        model[2](cr.zeros(32, 30))
    assert str(direct.value) == LINEAR_40


def test_other_error_types_keep_their_type():
    model = nn.Sequential(nn.Linear(3, 3), nn.Embedding(10, 2))
    error = _error(model, cr.zeros(2, 3), TypeError)
    assert type(error) is TypeError
    assert str(error).startswith("Sequential[1] (Embedding): Embedding(num_embeddings=10) got input of dtype float32")
    ids = nn.Sequential(nn.Embedding(10, 2))
    error = _error(ids, cr.tensor([3, 12]), IndexError)
    assert str(error) == "Sequential[0] (Embedding): Embedding(num_embeddings=10) got id 12: ids must be in [0, 10)"


def test_nested_containers_give_the_path():
    model = nn.Sequential(nn.Linear(30, 30), nn.Sequential(nn.ReLU(), nn.Sequential(nn.Linear(40, 2))))
    error = _error(model, cr.zeros(32, 30))
    assert str(error) == f"Sequential[1].Sequential[1].Sequential[0] (Linear): {LINEAR_40}"
    assert str(error.__cause__) == LINEAR_40  # the layer's own error, not an inner container's


def test_a_path_through_a_users_module_names_that_module():
    model = nn.Sequential(nn.ReLU(), UserBlock(nn.Sequential(nn.Linear(40, 2))))
    error = _error(model, cr.zeros(32, 30))
    assert str(error) == f"Sequential[1] (UserBlock).Sequential[0] (Linear): {LINEAR_40}"


def test_named_and_sliced_layers_are_named_as_they_are_reached():
    model = nn.Sequential(OrderedDict([("encoder", nn.Linear(30, 30)), ("decoder", nn.Linear(40, 2))]))
    assert str(_error(model, cr.zeros(32, 30))) == f"Sequential.decoder (Linear): {LINEAR_40}"
    tail = nn.Sequential(nn.ReLU(), nn.ReLU(), nn.Linear(40, 2))[2:]  # its layer is named "2", reached as tail[0]
    assert str(_error(tail, cr.zeros(32, 30))) == f"Sequential[0] (Linear): {LINEAR_40}"


class Picky(Exception):
    """An error type whose constructor does not take a message alone."""

    def __init__(self, code, detail):
        super().__init__(code, detail)


class RaisesPicky(nn.Module):
    def forward(self, x):
        raise Picky(7, "no")


def test_an_error_type_that_cannot_be_rebuilt_is_raised_as_it_is_with_a_note():
    error = _error(nn.Sequential(nn.ReLU(), RaisesPicky()), cr.zeros(2), Picky)
    assert error.args == (7, "no")
    assert error.__notes__ == ["raised by Sequential[1] (RaisesPicky)"]


def test_an_error_keeps_the_attributes_of_the_original():
    class Coded(ValueError):
        pass

    class RaisesCoded(nn.Module):
        def forward(self, x):
            error = Coded("bad input")
            error.code = 42
            raise error

    error = _error(nn.Sequential(RaisesCoded()), cr.zeros(2), Coded)
    assert type(error) is Coded and error.code == 42
    assert str(error) == "Sequential[0] (RaisesCoded): bad input"


def test_an_interrupt_passes_through_untouched():
    class Stop(nn.Module):
        def forward(self, x):
            raise KeyboardInterrupt("stop")

    with pytest.raises(KeyboardInterrupt) as info:
        nn.Sequential(Stop())(cr.zeros(2))
    assert str(info.value) == "stop" and info.value.__cause__ is None


# ------------------------------------------------------------------ repr


def test_repr_of_leaf_and_nested_modules():
    assert repr(nn.Linear(4, 3)) == "Linear(in_features=4, out_features=3, bias=True)"
    assert repr(nn.ReLU()) == "ReLU()"
    model = nn.Sequential(
        nn.Linear(4, 3), nn.ReLU(), nn.Sequential(OrderedDict([("inner", nn.Linear(3, 2)), ("act", nn.Tanh())]))
    )
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Linear(in_features=4, out_features=3, bias=True)\n"
        "  (1): ReLU()\n"
        "  (2): Sequential(\n"
        "    (inner): Linear(in_features=3, out_features=2, bias=True)\n"
        "    (act): Tanh()\n"
        "  )\n"
        ")"
    )
    assert repr(TwoLayer()) == (
        "TwoLayer(\n"
        "  (hidden): Linear(in_features=4, out_features=3, bias=True)\n"
        "  (out): Linear(in_features=3, out_features=2, bias=True)\n"
        ")"
    )
    assert repr(nn.Sequential()) == "Sequential()"


def test_repr_with_extra_repr_and_children_puts_each_on_its_own_line():
    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)

        def extra_repr(self):
            return "scale=2.0"

    assert repr(Scaled()) == "Scaled(\n  scale=2.0\n  (fc): Linear(in_features=2, out_features=2, bias=True)\n)"


# ------------------------------------------------------------------ config and specs


def every_layer():
    """One instance of every layer, with non-default arguments where it has any."""
    return [
        nn.Linear(3, 2),
        nn.Linear(3, 2, bias=False, dtype="float64"),
        nn.Dense(5, 1),
        nn.Identity(),
        nn.Flatten(),
        nn.Flatten(0, 2),
        nn.Step(),
        nn.Sigmoid(),
        nn.Tanh(),
        nn.ReLU(),
        nn.LeakyReLU(0.2),
        nn.ELU(0.5),
        nn.GELU(),
        nn.Softplus(2.0),
        nn.Softmax(0),
        nn.LogSoftmax(1),
        nn.Dropout(0.3),
        nn.Dropout1d(0.3),
        nn.Dropout(0.2, inplace=True),
        nn.ReLU(inplace=True),
        nn.LeakyReLU(0.2, inplace=True),
        nn.SiLU(inplace=True),
        nn.Mish(),
        nn.SELU(),
        nn.CELU(0.5, inplace=True),
        nn.ELU(0.5, inplace=True),
        nn.ReLU6(),
        nn.Hardtanh(-2.0, 0.5),
        nn.Hardswish(),
        nn.Hardsigmoid(inplace=True),
        nn.Softsign(),
        nn.Softmin(1),
        nn.GLU(0),
        nn.Threshold(0.1, 20.0),
        nn.Tanhshrink(),
        nn.Softshrink(0.3),
        nn.Hardshrink(0.2),
        nn.PReLU(3, init=0.1, dtype="float64"),
        nn.Dropout2d(0.2),
        nn.BatchNorm1d(4, eps=1e-3, momentum=0.2, affine=False, track_running_stats=False),
        nn.BatchNorm2d(3),
        nn.LayerNorm((2, 3), eps=1e-4, elementwise_affine=False),
        nn.LayerNorm(3, bias=False),
        nn.BatchNorm1d(3, bias=False),
        nn.GroupNorm(2, 4, eps=1e-3, bias=False),
        nn.GroupNorm(3, 3, affine=False),
        nn.InstanceNorm1d(3),
        nn.InstanceNorm2d(4, eps=1e-3, momentum=0.2, affine=True, track_running_stats=True, dtype="float64"),
        nn.CosineSimilarity(dim=0, eps=1e-6),
        nn.PairwiseDistance(p=1.0, eps=0.0, keepdim=True),
        nn.LogSigmoid(),
        nn.Unflatten(-1, (2, -1)),
        nn.ZeroPad1d((1, 2)),
        nn.ZeroPad2d(1),
        nn.ConstantPad1d(2, 3.5),
        nn.ConstantPad2d((1, 0, 2, 0), -1.0),
        nn.ReflectionPad1d(1),
        nn.ReflectionPad2d((1, 0, 2, 1)),
        nn.ReplicationPad1d((0, 2)),
        nn.ReplicationPad2d(1),
        nn.CircularPad1d(1),
        nn.CircularPad2d((1, 1, 0, 1)),
        nn.ParameterList([nn.Parameter(cr.ones(2)), nn.Parameter(cr.zeros(2, 3, dtype="float64"))]),
        nn.ParameterDict({"scale": nn.Parameter(cr.ones(3)), "shift": nn.Parameter(cr.zeros(1), requires_grad=False)}),
        nn.MSELoss("sum"),
        nn.SmoothL1Loss(beta=0.5),
        nn.L1Loss("none"),
        nn.HuberLoss(delta=0.5),
        nn.BCELoss(weight=[1.0, 2.0], reduction="sum"),
        nn.BCEWithLogitsLoss(weight=[0.5, 1.0], pos_weight=[3.0, 1.0]),
        nn.CrossEntropyLoss(weight=[1.0, 2.0, 3.0], label_smoothing=0.1),
        nn.NLLLoss(weight=[1.0, 0.5]),
        nn.HingeLoss(squared=True, margin=2.0),
        nn.MultiMarginLoss(p=2, margin=0.5, reduction="none"),
        nn.KLDivLoss(reduction="batchmean", log_target=True),
        nn.MarginRankingLoss(0.5, "sum"),
        nn.CosineEmbeddingLoss(0.2),
        nn.SoftMarginLoss("none"),
        nn.HingeEmbeddingLoss(2.0),
        nn.GaussianNLLLoss(full=True, eps=1e-3, reduction="sum"),
        nn.PoissonNLLLoss(log_input=False, full=True, eps=1e-6),
        nn.TripletMarginLoss(margin=0.5, p=1.0, swap=True),
        nn.Sequential(nn.Linear(2, 2), nn.ReLU()),
        nn.Sequential(OrderedDict([("a", nn.Linear(2, 2)), ("b", nn.Dropout(0.1))])),
        nn.ModuleList([nn.Linear(1, 1), nn.Tanh()]),
        nn.ModuleDict({"x": nn.Linear(1, 2), "y": nn.ELU()}),
        nn.Conv1d(2, 4, 3, stride=2, padding=1, bias=False),
        nn.Conv2d(4, 6, (3, 2), padding="same", dilation=(2, 1), groups=2),
        nn.ConvTranspose1d(4, 2, 3, stride=2, output_padding=1),
        nn.ConvTranspose2d(4, 2, 3, stride=2, output_padding=1, dtype="float64"),
        nn.MaxPool1d(3, stride=2, dilation=2),
        nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
        nn.AvgPool1d(4, 2, count_include_pad=False),
        nn.AvgPool2d((2, 3), padding=(1, 0)),
        nn.AdaptiveAvgPool1d(1),
        nn.AdaptiveAvgPool2d((None, 3)),
        nn.GlobalAvgPool(keepdims=True),
        nn.Upsample(scale_factor=(2, 3)),
        nn.Embedding(10, 3, padding_idx=0),
        nn.RNN(3, 4, nonlinearity="relu"),
        nn.LSTM(3, 4, num_layers=2, bidirectional=True),
        nn.GRU(1, 6, batch_first=True),
        nn.RNNCell(3, 4),
        nn.LSTMCell(3, 4),
        nn.GRUCell(3, 4),
        nn.MultiheadAttention(8, 2, dropout=0.1, kdim=3, vdim=5, add_bias_kv=True, batch_first=True),
        nn.TransformerEncoderLayer(8, 2, 16, activation="gelu", norm_first=True, bias=False, dtype="float64"),
        nn.TransformerEncoder(nn.TransformerEncoderLayer(4, 1, 8, activation=nn.SiLU()), 2, norm=nn.LayerNorm(4)),
    ]


@pytest.mark.parametrize("layer", every_layer(), ids=lambda m: type(m).__name__)
def test_spec_round_trip_rebuilds_the_same_config(layer):
    spec = json.loads(json.dumps(nn.module_to_spec(layer)))  # JSON-friendly
    rebuilt = nn.module_from_spec(spec)
    assert type(rebuilt) is type(layer)
    assert rebuilt.get_config() == layer.get_config()
    assert repr(rebuilt) == repr(layer)
    assert [(n, p.shape, p.dtype) for n, p in rebuilt.named_parameters()] == [
        (n, p.shape, p.dtype) for n, p in layer.named_parameters()
    ]
    assert list(rebuilt.state_dict()) == list(layer.state_dict())


def test_every_exported_layer_is_covered_by_the_round_trip():
    covered = {type(m).__name__ for m in every_layer()}
    exported = {
        name for name in nn.__all__ if isinstance(getattr(nn, name), type) and issubclass(getattr(nn, name), nn.Module)
    }
    assert exported - {"Module", "Dense"} <= covered


def test_rebuilt_loss_computes_the_same_value():
    loss = nn.CrossEntropyLoss(weight=[1.0, 2.0, 3.0], label_smoothing=0.1)
    rebuilt = nn.module_from_spec(json.loads(json.dumps(nn.module_to_spec(loss))))
    x, t = cr.tensor(data(4, 3)), cr.tensor([0, 2, 1, 2])
    np.testing.assert_allclose(rebuilt(x, t).item(), loss(x, t).item())


def test_custom_modules_register_and_unknown_classes_fail_clearly():
    class Custom(nn.Module):
        def __init__(self, width=2):
            super().__init__()
            self.width = width

        def get_config(self):
            return {"width": self.width}

    assert nn.module_class("Custom") is Custom
    assert nn.module_from_spec(nn.module_to_spec(Custom(7))).width == 7
    with pytest.raises(KeyError, match="unknown module class 'NoSuchLayer'"):
        nn.module_from_spec({"class": "NoSuchLayer", "config": {}})
    with pytest.raises(ValueError, match="'class' key"):
        nn.module_from_spec({"config": {}})


def test_module_list_slicing_gives_a_module_list():
    layers = nn.ModuleList([nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1)])
    tail = layers[1:]
    assert isinstance(tail, nn.ModuleList)
    assert list(tail) == list(layers)[1:]
    assert layers[-1].out_features == 1


# ------------------------------------------------------------------ copies


@pytest.mark.parametrize("clone", [copy.deepcopy, lambda m: pickle.loads(pickle.dumps(m))], ids=["deepcopy", "pickle"])
def test_copies_are_independent_and_keep_registration(clone):
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2), WithBuffers().eval())
    twin = clone(model)
    assert list(twin.state_dict()) == list(model.state_dict())
    assert repr(twin) == repr(model)
    assert not twin[2].training and twin[0].training
    twin[0].weight.numpy()[...] = 0.0
    assert not np.all(model[0].weight.numpy() == 0.0)
    assert [n for n, _ in twin[2].named_buffers()] == ["count", "cache"]


def test_load_state_dict_returns_pytorchs_named_pair():
    layer = cr.nn.Linear(2, 1)
    result = layer.load_state_dict({"weight": cr.ones(1, 2), "extra": 3.0}, strict=False)
    assert result.missing_keys == ["bias"] and result.unexpected_keys == ["extra"]
    missing, unexpected = result  # the tuple form still unpacks
    assert (missing, unexpected) == (["bias"], ["extra"])
    assert layer.load_state_dict(layer.state_dict()) == ([], [])
