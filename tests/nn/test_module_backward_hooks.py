"""Backward hooks on modules (``register_full_backward_hook``, ``register_full_backward_pre_hook``),
with PyTorch's semantics: which gradients a hook sees, how its return value replaces them, the
refusals (a bad replacement, an in-place change of a hooked tensor), second-order gradients through
the boundary node, and what ``cr.compile``, ``fit`` and ONNX export do with such a model.
peer_tests/nn/test_module_backward_hooks_torch.py runs the same calls on PyTorch."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

W = np.array([[1.0, 2.0], [3.0, -1.0], [0.5, 0.0]])  # Linear(2, 3)
X = np.array([[1.0, -2.0], [0.5, 4.0]])


def linear(dtype: str = "float64") -> nn.Linear:
    layer = nn.Linear(2, 3, bias=False, dtype=dtype)
    layer.weight.data.copy_(cr.tensor(W, dtype=dtype))
    return layer


class Mul(nn.Module):
    def forward(self, a, b, k=1.0):
        return a * b * k


class Two(nn.Module):
    def forward(self, x):
        return x * 2.0, x * x


def test_a_hook_sees_the_gradients_of_the_call_inputs_and_outputs():
    layer, seen = linear(), []
    layer.register_full_backward_hook(lambda m, gi, go: seen.append((m, gi, go)))
    x = cr.tensor(X, requires_grad=True)
    g = np.array([[1.0, 0.0, 2.0], [-1.0, 3.0, 0.5]])
    (layer(x) * cr.tensor(g)).sum().backward()
    [(module, grad_input, grad_output)] = seen
    assert module is layer and isinstance(grad_input, tuple) and isinstance(grad_output, tuple)
    np.testing.assert_allclose(grad_output[0].numpy(), g)
    np.testing.assert_allclose(grad_input[0].numpy(), g @ W)  # dL/dx = dL/dy W
    np.testing.assert_allclose(x.grad.numpy(), g @ W)


def test_only_the_gradient_through_this_call_is_grad_input():
    layer, seen = linear(), []
    layer.register_full_backward_hook(lambda m, gi, go: seen.append(gi[0].numpy().copy()))
    x = cr.tensor(X, requires_grad=True)
    (layer(x).sum() + (x * 100.0).sum()).backward()  # x is used outside the layer too
    np.testing.assert_allclose(seen[0], np.ones((2, 3)) @ W)
    np.testing.assert_allclose(x.grad.numpy(), np.ones((2, 3)) @ W + 100.0)


def test_a_hook_replaces_the_inputs_gradient_and_not_the_weights():
    layer = linear()
    layer.register_full_backward_hook(lambda m, gi, go: (gi[0] * 10.0,))
    x = cr.tensor(X, requires_grad=True)
    layer(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 10.0 * np.ones((2, 3)) @ W)
    np.testing.assert_allclose(layer.weight.grad.numpy(), np.ones((3, 2)) * X.sum(axis=0))


def test_a_pre_hook_replaces_the_outputs_gradient_for_the_module_and_the_hooks_after_it():
    layer, seen = linear(), []
    layer.register_full_backward_pre_hook(lambda m, go: (go[0] * 3.0,))
    layer.register_full_backward_pre_hook(lambda m, go: seen.append(go[0].numpy().copy()))
    layer.register_full_backward_hook(lambda m, gi, go: seen.append(go[0].numpy().copy()))
    x = cr.tensor(X, requires_grad=True)
    layer(x).sum().backward()
    assert [s.tolist() for s in seen] == [np.full((2, 3), 3.0).tolist()] * 2
    np.testing.assert_allclose(layer.weight.grad.numpy(), 3.0 * np.ones((3, 2)) * X.sum(axis=0))
    np.testing.assert_allclose(x.grad.numpy(), 3.0 * np.ones((2, 3)) @ W)


def test_grad_input_has_none_for_numbers_zeros_for_tensors_without_a_gradient():
    m, seen = Mul(), []
    m.register_full_backward_hook(lambda mod, gi, go: seen.append(gi))
    a = cr.tensor([2.0, 3.0], requires_grad=True)
    b = cr.tensor([5.0, 7.0])  # no grad
    m(a, b, 4.0).sum().backward()
    ga, gb, gk = seen[0]
    assert ga.tolist() == [20.0, 28.0] and gb.tolist() == [0.0, 0.0] and gk is None
    assert b.grad is None


def test_an_output_that_gets_no_gradient_is_none_in_grad_output():
    m, seen = Two(), []
    m.register_full_backward_pre_hook(lambda mod, go: seen.append(go))
    x = cr.tensor([3.0], requires_grad=True)
    m(x)[1].sum().backward()
    assert seen[0][0] is None and seen[0][1].tolist() == [1.0]
    assert x.grad.tolist() == [6.0]


def test_none_in_a_replacement_stops_that_inputs_gradient():
    m = Mul()
    m.register_full_backward_hook(lambda mod, gi, go: (None, gi[1]))
    a, b = cr.tensor([2.0], requires_grad=True), cr.tensor([3.0], requires_grad=True)
    m(a, b).sum().backward()
    assert a.grad is None and b.grad.tolist() == [2.0]


def test_no_input_requiring_grad_calls_the_hook_with_none_at_the_outputs_gradients():
    layer, seen = linear(), []
    layer.register_full_backward_hook(lambda m, gi, go: seen.append((gi, go[0].shape)))
    with pytest.warns(UserWarning, match="none of its inputs requires grad"):
        layer(cr.tensor(X)).sum().backward()
    assert seen == [((None,), (2, 3))]
    assert layer.weight.grad is not None
    layer.register_full_backward_hook(lambda m, gi, go: (cr.ones(2, 2),))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(RuntimeError, match="must return None"):
            layer(cr.tensor(X)).sum().backward()


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        (lambda gi: (gi[0], gi[0]), "returned 2 gradient"),
        (lambda gi: (cr.ones(3),), r"shape \(2, 2\)"),
        (lambda gi: (gi[0].float(),), "dtype float64 to shape"),
        (lambda gi: gi[0], "returned a Tensor"),
        (lambda gi: (gi[0].numpy(),), "returned a ndarray at position 0"),
    ],
)
def test_a_bad_replacement_is_refused_naming_the_module(returned, message):
    layer = linear()
    layer.register_full_backward_hook(lambda m, gi, go: returned(gi))
    with pytest.raises(RuntimeError, match=message) as error:
        layer(cr.tensor(X, requires_grad=True)).sum().backward()
    assert str(error.value).startswith("Linear: a full backward hook")


def test_a_gradient_for_a_number_argument_is_refused():
    m = Mul()
    m.register_full_backward_hook(lambda mod, gi, go: (gi[0], gi[1], cr.ones(1)))
    with pytest.raises(RuntimeError, match="position 2, which is not a tensor"):
        m(cr.tensor([1.0], requires_grad=True), cr.tensor([2.0], requires_grad=True), 3.0).sum().backward()


def test_a_bad_pre_hook_replacement_is_refused():
    layer = linear()
    layer.register_full_backward_pre_hook(lambda m, go: (go[0][:1],))
    with pytest.raises(RuntimeError, match="backward pre-hook's grad_output"):
        layer(cr.tensor(X, requires_grad=True)).sum().backward()


@pytest.mark.parametrize("where", ["the input, in the forward", "the output", "one output of a tuple"])
def test_changing_a_hooked_tensor_in_place_is_refused_as_in_pytorch(where):
    module = {
        "the input, in the forward": nn.ReLU(inplace=True),
        "the output": linear(),
        "one output of a tuple": Two(),
    }[where]
    module.register_full_backward_hook(lambda m, gi, go: None)
    x = cr.tensor(X, requires_grad=True) * 1.0
    before = x.numpy().copy()
    with pytest.raises(RuntimeError, match="passes through a backward hook"):
        out = module(x)
        (out[1] if isinstance(out, tuple) else out).add_(1.0)
    np.testing.assert_array_equal(x.numpy(), before)  # refused before anything was written


def test_without_the_hook_the_same_in_place_change_is_allowed():
    relu = nn.ReLU(inplace=True)
    handle = relu.register_full_backward_hook(lambda m, gi, go: None)
    handle.remove()
    x = cr.tensor([-1.0, 2.0], requires_grad=True) * 1.0
    assert relu(x).tolist() == [0.0, 2.0]


def test_a_list_output_warns_and_calls_no_hook():
    class Listing(nn.Module):
        def forward(self, x):
            return [x * 2.0]

    m, calls = Listing(), []
    m.register_full_backward_hook(lambda mod, gi, go: calls.append(1))
    x = cr.tensor([1.0], requires_grad=True)
    with pytest.warns(UserWarning, match="returned a list"):
        out = m(x)
    out[0].sum().backward()
    assert calls == [] and x.grad.tolist() == [2.0]


def test_the_hooks_of_a_call_are_those_registered_when_it_was_made():
    layer, calls = linear(), []
    handle = layer.register_full_backward_hook(lambda m, gi, go: calls.append("first"))
    out = layer(cr.tensor(X, requires_grad=True))
    handle.remove()
    layer.register_full_backward_hook(lambda m, gi, go: calls.append("late"))
    out.sum().backward()
    assert calls == ["first"]


def test_prepend_and_with_blocks():
    layer, calls = linear(), []
    layer.register_full_backward_hook(lambda m, gi, go: calls.append(1))
    with layer.register_full_backward_hook(lambda m, gi, go: calls.append(0), prepend=True):
        with layer.register_full_backward_pre_hook(lambda m, go: calls.append("pre"), prepend=True):
            layer(cr.tensor(X, requires_grad=True)).sum().backward()
    layer(cr.tensor(X, requires_grad=True)).sum().backward()
    assert calls == ["pre", 0, 1, 1]
    assert len(layer._backward_hooks) == 1 and not layer._backward_pre_hooks


def test_each_call_of_a_shared_module_calls_the_hook_with_its_own_gradients():
    layer, seen = linear(), []
    layer.register_full_backward_hook(lambda m, gi, go: seen.append(go[0].numpy()[0, 0]))
    x = cr.tensor(X, requires_grad=True)
    (layer(x) * 2.0 + layer(x) * 5.0).sum().backward()
    assert sorted(seen) == [2.0, 5.0]


def test_no_grad_and_retain_graph():
    layer, calls = linear(), []
    layer.register_full_backward_hook(lambda m, gi, go: calls.append(1))
    with cr.no_grad():
        out = layer(cr.tensor(X, requires_grad=True))
    assert out.grad_fn is None and calls == []
    loss = layer(cr.tensor(X, requires_grad=True)).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    assert calls == [1, 1]


def test_gradients_through_hooked_modules_match_finite_differences_first_and_second_order():
    net = nn.Sequential(nn.Linear(2, 3, dtype="float64"), nn.Tanh(), nn.Linear(3, 1, dtype="float64"))
    for layer in net:
        layer.register_full_backward_hook(lambda m, gi, go: None)
        layer.register_full_backward_pre_hook(lambda m, go: None)
    x = cr.tensor(X, requires_grad=True)
    assert cr.gradcheck(lambda t: net(t).sum(), x)
    (g,) = cr.grad(net(x).sum(), x, create_graph=True)
    assert cr.gradcheck(lambda t: cr.grad(net(t).sum(), t, create_graph=True)[0].sum(), x)
    assert g.requires_grad


def test_a_replacement_made_under_create_graph_is_differentiated_again():
    class Cube(nn.Module):
        def forward(self, x):
            return x**3

    m = Cube()
    m.register_full_backward_hook(lambda mod, gi, go: (gi[0] * 2.0,))
    x = cr.tensor([2.0, -1.0], dtype="float64", requires_grad=True)
    (g,) = cr.grad(m(x).sum(), x, create_graph=True)
    assert g.tolist() == [24.0, 6.0]  # 2 * 3x^2
    g.sum().backward()
    assert x.grad.tolist() == [24.0, -12.0]  # d/dx 6x^2 = 12x; the hook is not called again (as in PyTorch)


def test_a_compiled_step_with_backward_hooks_runs_eagerly_and_calls_them_each_step():
    net = nn.Sequential(linear(), nn.ReLU())
    calls = []
    net[0].register_full_backward_hook(lambda m, gi, go: calls.append(go[0].shape))
    optimizer = cr.optim.SGD(net.parameters(), lr=0.1)

    @cr.compile
    def step(x):
        optimizer.zero_grad()
        loss = net(x).sum()
        loss.backward()
        optimizer.step()
        return loss

    with pytest.warns(cr.compiler.CompileWarning, match="has hooks"):
        for _ in range(3):
            step(cr.tensor(X, requires_grad=True))
    assert calls == [(2, 3)] * 3 and step.stats["replayed"] == 0


def test_a_backward_hook_registered_after_a_step_was_compiled_runs():
    layer, calls = linear(), []
    optimizer = cr.optim.SGD(layer.parameters(), lr=0.1)

    @cr.compile
    def step(x):
        optimizer.zero_grad()
        layer(x).sum().backward()
        optimizer.step()

    for _ in range(3):
        step(cr.tensor(X, requires_grad=True))
    with layer.register_full_backward_pre_hook(lambda m, go: calls.append(1)):
        with pytest.warns(cr.compiler.CompileWarning, match="has hooks"):
            step(cr.tensor(X, requires_grad=True))
    assert calls == [1]


def test_fit_with_a_hooked_model_calls_the_hook_every_batch():
    net = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1))
    norms = []
    net[0].register_full_backward_hook(lambda m, gi, go: norms.append(float((go[0] ** 2).sum())))
    x = np.random.default_rng(0).standard_normal((40, 2)).astype(np.float32)
    y = x[:, :1] * 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the compile warning, and no input requiring grad)
        cr.train.fit(
            net, nn.MSELoss(), cr.optim.SGD(net.parameters(), lr=0.1), x, y, epochs=2, batch_size=10, verbose=0
        )
    assert len(norms) == 8 and all(n > 0 for n in norms)


def test_onnx_export_ignores_backward_hooks_which_do_not_change_the_forward():
    pytest.importorskip("onnx")
    from chainrule.onnx import export, load

    layer = linear("float32")
    layer.register_full_backward_hook(lambda m, gi, go: None)
    x = X.astype(np.float32)
    loaded = load(export(layer, x))
    np.testing.assert_allclose(loaded(cr.tensor(x)).numpy(), layer(cr.tensor(x)).numpy(), rtol=1e-6)


def test_register_backward_hook_is_refused_naming_the_full_one():
    with pytest.raises(NotImplementedError, match=r"register_full_backward_hook\(hook\)"):
        linear().register_backward_hook(lambda m, gi, go: None)


def test_hooks_must_be_callable_and_a_module_pickled_before_backward_hooks_existed_takes_them():
    layer = linear()
    with pytest.raises(TypeError, match="register_full_backward_hook: hook must be callable"):
        layer.register_full_backward_hook(3)
    with pytest.raises(TypeError, match="register_full_backward_pre_hook: hook must be callable"):
        layer.register_full_backward_pre_hook(None)
    for table in ("_backward_hooks", "_backward_pre_hooks"):
        del layer.__dict__[table]  # (what an older pickle restores)
    old = pickle.loads(pickle.dumps(layer))
    calls = []
    old.register_full_backward_hook(lambda m, gi, go: calls.append(1))
    old(cr.tensor(X, requires_grad=True)).sum().backward()
    assert calls == [1]


def test_the_boundary_node_is_named_as_pytorchs_and_shares_memory_without_copying():
    layer = linear()
    layer.register_full_backward_hook(lambda m, gi, go: None)
    x = cr.tensor(X, requires_grad=True)
    out = layer(x)
    assert repr(out.grad_fn) == "<BackwardHookFunctionBackward0>"
    assert np.shares_memory(out.grad_fn.inputs[0].numpy(), out.numpy())


def test_a_hooked_loss_scaled_afterwards_runs_its_0d_gradient_through_the_boundary():
    criterion = nn.CrossEntropyLoss()
    seen = []
    criterion.register_full_backward_hook(lambda m, gi, go: seen.append(float(go[0])))
    logits = cr.tensor([[1.0, 2.0, 0.5]], requires_grad=True)
    (criterion(logits, cr.tensor([1])) * 0.5).backward()  # (raised: flags of a NumPy scalar)
    assert seen == [0.5]
    p = np.exp([1.0, 2.0, 0.5]) / np.exp([1.0, 2.0, 0.5]).sum()
    np.testing.assert_allclose(logits.grad.numpy()[0], 0.5 * (p - [0, 1, 0]), rtol=1e-6)


def test_a_tensor_the_hook_returns_is_not_shared_with_a_leafs_grad():
    buffer = cr.tensor([5.0, 5.0])

    class Double(nn.Module):
        def forward(self, x):
            return x * 2

    m = Double()
    m.register_full_backward_hook(lambda mod, gi, go: (buffer,))
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    m(x).sum().backward()
    with cr.no_grad():
        buffer.mul_(100)
    assert x.grad.tolist() == [5.0, 5.0]
    x.grad.zero_()
    assert buffer.tolist() == [500.0, 500.0]


def test_a_namedtuple_output_stays_one():
    import collections

    Pair = collections.namedtuple("Pair", "a b")

    class Named(nn.Module):
        def forward(self, x):
            return Pair(x * 2, x * 3)

    m = Named()
    m.register_full_backward_hook(lambda mod, gi, go: None)
    out = m(cr.tensor([1.0], requires_grad=True))
    assert isinstance(out, Pair) and out.b.tolist() == [3.0]


def test_a_pre_hook_may_give_an_output_that_requires_no_grad_a_gradient_which_goes_nowhere():
    class Half(nn.Module):
        def forward(self, a):
            return a * 2, a.detach() * 3

    m = Half()
    m.register_full_backward_pre_hook(lambda mod, go: (go[0], cr.ones(2)))
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    m(x)[0].sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_hooks_of_a_module_called_three_times_run_last_call_first_as_in_pytorch():
    layer, inputs, pairs = linear(), [], []
    layer.register_forward_hook(lambda m, args, out: inputs.append(float(args[0].sum())))
    layer.register_full_backward_hook(lambda m, gi, go: pairs.append((inputs.pop(), float(go[0].sum()))))
    x = cr.ones(1, 2, dtype="float64", requires_grad=True)
    a, b, c = layer(x * 1.0), layer(x * 2.0), layer(x * 3.0)
    (a * 10 + b * 20 + c * 30).sum().backward()  # (the activations stack of per-sample-gradient code)
    assert pairs == [(6.0, 90.0), (4.0, 60.0), (2.0, 30.0)]
