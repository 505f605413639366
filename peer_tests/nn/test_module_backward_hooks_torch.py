"""Module backward hooks (``register_full_backward_hook``, ``register_full_backward_pre_hook``): the
same modules, hooks and calls on chainrule and PyTorch give the same hook calls (which gradients,
None where PyTorch gives None), the same gradients, and errors in the same cases
(tests/nn/test_module_backward_hooks.py checks chainrule alone)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import chainrule as cr

A = np.array([[1.0, -2.0], [0.5, 3.0]], dtype=np.float32)
B = np.array([[2.0, 0.25], [-1.0, 4.0]], dtype=np.float32)


def lib_of(name):
    return (cr, cr.nn) if name == "cr" else (torch, torch.nn)


def as_list(gradients):
    return [
        None if g is None else np.asarray(g.detach().numpy() if hasattr(g, "detach") else g).tolist() for g in gradients
    ]


def modules(nn):
    """The modules of the cases, made with ``nn`` (chainrule's or PyTorch's), seeded alike."""

    class Mul(nn.Module):
        def forward(self, a, b, k=1.0):
            return a * b * k

    class MulScaleFirst(nn.Module):
        def forward(self, a, k, b):
            return a * b * k

    class Two(nn.Module):
        def forward(self, x):
            return x * 2.0, x * x

    class Identity(nn.Module):
        def forward(self, x):
            return x

    class IgnoresB(nn.Module):
        def forward(self, a, b):
            return a * 3.0

    class Keyword(nn.Module):
        def forward(self, a, b=None):
            return a * b

    return {
        "Mul": Mul,
        "MulScaleFirst": MulScaleFirst,
        "Two": Two,
        "Identity": Identity,
        "IgnoresB": IgnoresB,
        "Keyword": Keyword,
    }


def linear(name):
    lib, nn = lib_of(name)
    layer = nn.Linear(2, 2)
    with lib.no_grad():
        layer.weight.copy_(lib.tensor(A)) if name == "torch" else layer.weight.data.copy_(cr.tensor(A))
        layer.bias.copy_(lib.tensor([0.5, -0.5])) if name == "torch" else layer.bias.data.copy_(cr.tensor([0.5, -0.5]))
    return layer


def run_case(name, case):
    """One case on one library: (hook calls, gradients of the leaves, output of the loss)."""
    lib, nn = lib_of(name)
    log = []
    full = lambda m, gi, go: log.append(("full", as_list(gi), as_list(go)))  # noqa: E731
    pre = lambda m, go: log.append(("pre", as_list(go)))  # noqa: E731
    a = lib.tensor(A, requires_grad=True)
    b = lib.tensor(B, requires_grad=True)
    b_plain = lib.tensor(B)
    kinds = modules(nn)
    if case == "two inputs, a number between":
        m = kinds["MulScaleFirst"]()
        m.register_full_backward_hook(full)
        loss = m(a, 2.0, b).sum()
    elif case == "an input without grad and a keyword number":
        m = kinds["Mul"]()
        m.register_full_backward_hook(full)
        m.register_full_backward_pre_hook(pre)
        loss = m(a, b_plain, k=5.0).sum()
    elif case == "the same tensor twice":
        m = kinds["Mul"]()
        m.register_full_backward_hook(full)
        loss = (m(a, a) * lib.tensor(B)).sum()
    elif case == "an unused input gets zeros":
        m = kinds["IgnoresB"]()
        m.register_full_backward_hook(full)
        loss = m(a, b).sum()
    elif case == "a keyword tensor is left out":
        m = kinds["Keyword"]()
        m.register_full_backward_hook(full)
        loss = m(a, b=b).sum()
    elif case == "two outputs, one used":
        m = kinds["Two"]()
        m.register_full_backward_hook(full)
        m.register_full_backward_pre_hook(pre)
        loss = m(a)[1].sum()
    elif case == "two outputs, both used":
        m = kinds["Two"]()
        m.register_full_backward_hook(full)
        m.register_full_backward_pre_hook(pre)
        first, second = m(a)
        loss = (first * lib.tensor(B)).sum() + second.sum()
    elif case == "identity module":
        m = kinds["Identity"]()
        m.register_full_backward_hook(full)
        loss = (m(a) * 3.0).sum()
    elif case == "hooks replace, in order, prepend first":
        m = linear(name)
        m.register_full_backward_hook(lambda mod, gi, go: (gi[0] * 2.0,))
        m.register_full_backward_hook(full)
        m.register_full_backward_hook(lambda mod, gi, go: log.append("prepended") or (gi[0] - 1.0,), prepend=True)
        loss = m(a).sum()
    elif case == "a pre-hook replaces the output gradient":
        m = linear(name)
        m.register_full_backward_pre_hook(lambda mod, go: (go[0] * lib.tensor(B),))
        m.register_full_backward_pre_hook(pre)
        m.register_full_backward_hook(full)
        loss = m(a).sum()
    elif case == "None in a replacement stops that gradient":
        m = kinds["Mul"]()
        m.register_full_backward_hook(lambda mod, gi, go: (None, gi[1] * 10.0))
        loss = m(a, b).sum()
    elif case == "a list as the replacement":
        m = linear(name)
        m.register_full_backward_hook(lambda mod, gi, go: [gi[0] * 3.0])
        loss = m(a).sum()
    elif case == "no input requires grad":
        m = linear(name)
        m.register_full_backward_hook(full)
        m.register_full_backward_pre_hook(pre)
        loss = m(b_plain).sum()
    elif case == "called twice, each call its own":
        m = linear(name)
        m.register_full_backward_hook(full)
        loss = (m(a) * 2.0 + m(a * a)).sum()
    elif case == "a Sequential":
        lin = linear(name)
        m = nn.Sequential(lin, nn.Tanh())
        m.register_full_backward_hook(full)
        lin.register_full_backward_hook(full)
        loss = m(a).sum()
    elif case == "removed after the forward still runs":
        m = linear(name)
        handle = m.register_full_backward_hook(full)
        out = m(a)
        handle.remove()
        loss = out.sum()
    elif case == "added after the forward does not run":
        m = linear(name)
        out = m(a)
        m.register_full_backward_hook(full)
        loss = out.sum()
    elif case == "no_grad makes no call":
        m = linear(name)
        m.register_full_backward_hook(full)
        with lib.no_grad():
            m(a)
        loss = (a * 2.0).sum()
    else:
        raise KeyError(case)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loss.backward()
    grads = [None if t.grad is None else t.grad.numpy().tolist() for t in (a, b)]
    params = [p.grad.numpy().tolist() for p in m.parameters() if p.grad is not None]
    return log, grads, params, len(caught)


CASES = [
    "two inputs, a number between",
    "an input without grad and a keyword number",
    "the same tensor twice",
    "an unused input gets zeros",
    "a keyword tensor is left out",
    "two outputs, one used",
    "two outputs, both used",
    "identity module",
    "hooks replace, in order, prepend first",
    "a pre-hook replaces the output gradient",
    "None in a replacement stops that gradient",
    "a list as the replacement",
    "no input requires grad",
    "called twice, each call its own",
    "a Sequential",
    "removed after the forward still runs",
    "added after the forward does not run",
    "no_grad makes no call",
]


def close(ours, theirs):
    if isinstance(theirs, list) and isinstance(ours, list):
        return len(ours) == len(theirs) and all(close(o, t) for o, t in zip(ours, theirs))
    if isinstance(theirs, tuple) and isinstance(ours, tuple):
        return len(ours) == len(theirs) and all(close(o, t) for o, t in zip(ours, theirs))
    if isinstance(theirs, float) and isinstance(ours, float):
        return abs(ours - theirs) <= 1e-5 * (1 + abs(theirs))
    return ours == theirs


@pytest.mark.parametrize("case", CASES)
def test_backward_hooks_are_called_and_change_gradients_as_in_pytorch(case):
    ours, theirs = run_case("cr", case), run_case("torch", case)
    assert close(ours[0], theirs[0]), f"hook calls differ:\nchainrule {ours[0]}\nPyTorch   {theirs[0]}"
    assert close(ours[1], theirs[1]), f"input gradients differ:\nchainrule {ours[1]}\nPyTorch   {theirs[1]}"
    assert close(ours[2], theirs[2]), f"parameter gradients differ:\nchainrule {ours[2]}\nPyTorch   {theirs[2]}"
    assert ours[3] == theirs[3], f"warnings: chainrule {ours[3]}, PyTorch {theirs[3]}"


ERRORS = {
    "too many gradients": lambda lib: lambda m, gi, go: (gi[0], gi[0]),
    "a wrong shape": lambda lib: lambda m, gi, go: (lib.ones(3),),
    "a wrong dtype": lambda lib: lambda m, gi, go: (gi[0].double(),),
    "a Tensor, not a tuple": lambda lib: lambda m, gi, go: gi[0],
}


@pytest.mark.parametrize("error", sorted(ERRORS))
def test_a_bad_replacement_raises_in_both(error):
    for name in ("cr", "torch"):
        lib, _ = lib_of(name)
        m = linear(name)
        m.register_full_backward_hook(ERRORS[error](lib))
        with pytest.raises(RuntimeError):
            m(lib.tensor(A, requires_grad=True)).sum().backward()


@pytest.mark.parametrize("where", ["an input, in the forward", "the output, after the call"])
def test_changing_a_hooked_tensor_in_place_raises_in_both(where):
    for name in ("cr", "torch"):
        lib, nn = lib_of(name)
        m = nn.ReLU(inplace=True) if where.startswith("an input") else linear(name)
        m.register_full_backward_hook(lambda mod, gi, go: None)
        x = lib.tensor(A, requires_grad=True) * 1.0
        with pytest.raises(RuntimeError):
            out = m(x)
            out.add_(1.0)


def test_a_hook_returning_gradients_when_no_input_requires_grad_raises_in_both():
    for name in ("cr", "torch"):
        lib, _ = lib_of(name)
        m = linear(name)
        m.register_full_backward_hook(lambda mod, gi, go, lib=lib: (lib.ones(2, 2),))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(RuntimeError):
                m(lib.tensor(A)).sum().backward()


def test_a_list_output_warns_and_calls_no_hook_in_both():
    for name in ("cr", "torch"):
        lib, nn = lib_of(name)

        class Listing(nn.Module):
            def forward(self, x):
                return [x * 2.0]

        m = Listing()
        calls = []
        m.register_full_backward_hook(lambda mod, gi, go, calls=calls: calls.append(1))
        x = lib.tensor(A, requires_grad=True)
        with pytest.warns(UserWarning, match="Tensor or a tuple of Tensors"):
            out = m(x)
        out[0].sum().backward()
        assert calls == [] and np.allclose(x.grad.numpy(), 2.0)


def test_second_order_gradients_call_the_hook_once_as_in_pytorch():
    results = []
    for name in ("cr", "torch"):
        lib, nn = lib_of(name)

        class Cube(nn.Module):
            def forward(self, x):
                return x**3

        m = Cube()
        calls = []
        m.register_full_backward_hook(lambda mod, gi, go, calls=calls: calls.append(as_list(gi)))
        x = lib.tensor([2.0, -1.0], dtype=lib.float64, requires_grad=True)
        (g,) = (cr.grad if name == "cr" else torch.autograd.grad)(m(x).sum(), x, create_graph=True)
        g.sum().backward()
        results.append((calls, g.detach().numpy().tolist(), x.grad.numpy().tolist()))
    assert results[0] == results[1]
