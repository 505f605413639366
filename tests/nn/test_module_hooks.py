"""Forward hooks and forward pre-hooks on modules, with PyTorch's semantics: a hook's return value
replaces the output (a pre-hook's the arguments), ``with_kwargs``, ``prepend``, ``always_call``,
handles that remove (also as ``with`` blocks), and what a compiled step and ONNX export do with a
hooked model. peer_tests/nn/test_module_hooks_torch.py runs the same calls on PyTorch."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn


def doubling_linear() -> nn.Linear:
    layer = nn.Linear(2, 1, bias=False)
    layer.weight.data.fill_(1.0)
    return layer


X = [[1.0, 2.0]]


def test_a_forward_hook_sees_args_and_output_and_its_return_value_replaces_the_output():
    layer = doubling_linear()
    seen = []
    layer.register_forward_hook(lambda m, args, out: seen.append((m, args[0].tolist(), out.tolist())))
    layer.register_forward_hook(lambda m, args, out: out * 10)  # (was silently ignored before)
    layer.register_forward_hook(lambda m, args, out: seen.append(out.tolist()))  # sees the replaced output
    out = layer(cr.tensor(X))
    assert out.tolist() == [[30.0]]
    assert seen == [(layer, X, [[3.0]]), [[30.0]]]


def test_the_replaced_output_carries_gradients():
    layer = doubling_linear()
    layer.register_forward_hook(lambda m, args, out: out * 10)
    layer(cr.tensor(X)).sum().backward()
    assert layer.weight.grad.tolist() == [[10.0, 20.0]]


def test_a_pre_hook_replaces_the_arguments_a_single_value_or_a_tuple():
    layer = doubling_linear()
    seen = []
    h1 = layer.register_forward_pre_hook(lambda m, args: seen.append(args[0].tolist()))
    h2 = layer.register_forward_pre_hook(lambda m, args: args[0] * 2)  # a single value: one argument
    h3 = layer.register_forward_pre_hook(lambda m, args: (args[0] + 1,))
    assert layer(cr.tensor(X)).tolist() == [[(2 + 1) + (4 + 1)]]
    assert seen == [X]
    for h in (h1, h2, h3):
        h.remove()
    assert layer(cr.tensor(X)).tolist() == [[3.0]]


def test_with_kwargs_hooks_see_and_replace_keyword_arguments():
    class Scale(nn.Module):
        def forward(self, x, *, factor=1.0):
            return x * factor

    m = Scale()
    calls = []

    def pre(module, args, kwargs):
        calls.append(("pre", dict(kwargs)))
        return args, {**kwargs, "factor": 3.0}

    def post(module, args, kwargs, out):
        calls.append(("post", dict(kwargs), out.tolist()))
        return out + 1

    m.register_forward_pre_hook(pre, with_kwargs=True)
    m.register_forward_hook(post, with_kwargs=True)
    assert m(cr.tensor([1.0, 2.0]), factor=2.0).tolist() == [4.0, 7.0]
    assert calls == [("pre", {"factor": 2.0}), ("post", {"factor": 3.0}, [3.0, 6.0])]


def test_a_with_kwargs_pre_hook_must_return_args_and_kwargs():
    m = nn.ReLU()
    m.register_forward_pre_hook(lambda mod, args, kwargs: args, with_kwargs=True)
    with pytest.raises(RuntimeError, match=r"with_kwargs=True must return None or a tuple \(new_args, new_kwargs\)"):
        m(cr.tensor([1.0]))


def test_prepend_puts_a_hook_before_the_others():
    m = nn.Identity()
    order = []
    m.register_forward_hook(lambda *a: order.append("b"))
    m.register_forward_hook(lambda *a: order.append("a"), prepend=True)
    m.register_forward_pre_hook(lambda *a: order.append("pre-b"))
    m.register_forward_pre_hook(lambda *a: order.append("pre-a"), prepend=True)
    m(cr.tensor([1.0]))
    assert order == ["pre-a", "pre-b", "a", "b"]


def test_a_with_kwargs_pre_hook_may_give_the_arguments_as_a_list():
    layer = doubling_linear()
    layer.register_forward_pre_hook(lambda m, args, kwargs: ([args[0] * 2], kwargs), with_kwargs=True)
    assert layer(cr.tensor(X)).tolist() == [[6.0]]  # (not wrapped into one argument: PyTorch unpacks it)


def test_always_call_hooks_run_when_a_pre_hook_or_another_hook_raises_each_once_chaining_results():
    m = nn.Identity()
    seen = []

    def broken(*a):
        raise KeyError("hook broke")

    m.register_forward_hook(lambda mod, args, out: seen.append(("first", out)) or "replacement", always_call=True)
    m.register_forward_hook(broken)
    m.register_forward_hook(lambda mod, args, out: seen.append(("always", out)), always_call=True)
    with pytest.raises(KeyError, match="hook broke"):
        m(1.0)
    assert seen == [("first", 1.0), ("always", "replacement")]  # the first ran once; its result went on
    seen.clear()
    with m.register_forward_pre_hook(broken), pytest.raises(KeyError, match="hook broke"):
        m(1.0)
    assert seen == [("first", None), ("always", "replacement")]


def test_always_call_runs_the_hook_when_the_forward_raises_then_the_error_goes_on():
    class Fails(nn.Module):
        def forward(self, x):
            raise ValueError("broken forward")

    m = Fails()
    seen = []
    m.register_forward_hook(lambda mod, args, out: seen.append(("always", out)), always_call=True)
    m.register_forward_hook(lambda mod, args, out: seen.append(("plain", out)))
    with pytest.raises(ValueError, match="broken forward"):
        m(cr.tensor([1.0]))
    assert seen == [("always", None)]
    m.register_forward_hook(lambda mod, args, out: 1 / 0, always_call=True)
    with pytest.warns(UserWarning, match="ZeroDivisionError"), pytest.raises(ValueError, match="broken forward"):
        m(cr.tensor([1.0]))


def test_handles_remove_and_work_as_with_blocks():
    m = nn.ReLU()
    seen = []
    with m.register_forward_hook(lambda mod, args, out: seen.append(1)):
        m(cr.tensor([1.0]))
    m(cr.tensor([1.0]))
    assert seen == [1]
    assert not m._forward_hooks and not m._forward_pre_hooks


def test_the_hook_tables_hold_the_hooks_themselves_as_pytorchs_do():
    m = nn.ReLU()

    def hook(*a):
        return None

    handle = m.register_forward_hook(hook, with_kwargs=True, always_call=True)
    assert list(m._forward_hooks.values()) == [hook]
    assert handle.id in m._forward_hooks_with_kwargs and handle.id in m._forward_hooks_always_called
    handle.remove()
    assert not m._forward_hooks and not m._forward_hooks_with_kwargs and not m._forward_hooks_always_called


def test_a_module_made_without_init_says_so_when_a_hook_is_registered():
    m = nn.ReLU.__new__(nn.ReLU)
    for register in (m.register_forward_hook, m.register_forward_pre_hook):
        with pytest.raises(AttributeError, match=r"call super\(\).__init__\(\)"):
            register(lambda *a: None)


def test_hooks_must_be_callable_and_options_are_keywords():
    m = nn.ReLU()
    with pytest.raises(TypeError, match="hook must be callable"):
        m.register_forward_hook("not a function")
    with pytest.raises(TypeError, match="hook must be callable"):
        m.register_forward_pre_hook(None)
    with pytest.raises(TypeError):
        m.register_forward_hook(lambda *a: None, True)  # (prepend is keyword-only, as in PyTorch)


def times_ten(module, args, out):
    return out * 10


def test_a_module_pickled_before_pre_hooks_existed_still_calls_and_takes_them():
    m = doubling_linear()
    m.register_forward_hook(times_ten)  # (an older pickle holds the forward hooks, as now)
    for table in ("_forward_pre_hooks", "_forward_pre_hooks_with_kwargs", "_forward_hooks_with_kwargs"):
        del m.__dict__[table]  # (what an older pickle restores)
    del m.__dict__["_forward_hooks_always_called"]
    old = pickle.loads(pickle.dumps(m))
    assert old(cr.tensor(X)).tolist() == [[30.0]]
    old.register_forward_pre_hook(lambda mod, args: args[0] * 2)
    assert old(cr.tensor(X)).tolist() == [[60.0]]


def test_a_compiled_step_with_a_pre_hook_runs_eagerly_with_a_warning():
    layer = doubling_linear()
    layer.register_forward_pre_hook(lambda m, args: args[0] * 2)
    step = cr.compile(lambda x: layer(x))
    with pytest.warns(cr.compiler.CompileWarning, match="has hooks"), cr.no_grad():
        results = [step(cr.tensor(X)).tolist() for _ in range(3)]
    assert results == [[[6.0]]] * 3 and step.stats["replayed"] == 0


@pytest.mark.parametrize("kind", ["hook", "pre-hook"])
def test_a_hook_registered_after_a_step_was_compiled_makes_it_run_eagerly_until_removed(kind):
    layer = doubling_linear()
    step = cr.compile(lambda x: layer(x))
    with cr.no_grad():
        assert [step(cr.tensor(X)).tolist() for _ in range(3)] == [[[3.0]]] * 3
        if kind == "hook":
            handle = layer.register_forward_hook(lambda m, args, out: out * 0.5)
        else:
            handle = layer.register_forward_pre_hook(lambda m, args: args[0] * 2)
        with pytest.warns(cr.compiler.CompileWarning, match="has hooks"):
            assert step(cr.tensor(X)).tolist() == ([[1.5]] if kind == "hook" else [[6.0]])  # (the plan skipped it)
        handle.remove()
        replayed = step.stats["replayed"]
        assert step(cr.tensor(X)).tolist() == [[3.0]] and step.stats["replayed"] == replayed + 1


def test_onnx_export_refuses_a_pre_hook():
    pytest.importorskip("onnx")
    from chainrule.onnx import OnnxError, export

    layer = doubling_linear()
    with layer.register_forward_pre_hook(lambda m, args: args[0] * 2), pytest.raises(OnnxError, match="pre-hooks"):
        export(layer, np.ones((1, 2), dtype=np.float32))


def test_summary_leaves_user_hooks_alone_and_a_replacing_hook_shapes_its_rows():
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
    handle = net[0].register_forward_hook(lambda m, args, out: out[:, :2])  # narrows the output
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = cr.train.summary(net, (3,))
    assert [r.output_shape for r in s.rows][:2] == [(1, 2), (1, 2)]
    assert len(net[0]._forward_hooks) == 1
    handle.remove()
