"""The shared Optimizer machinery: param groups, validation, in-place updates, zero_grad, repr."""

from __future__ import annotations

import re

import numpy as np
import pytest

import chainrule as cr

ALL = [
    ("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.01, nesterov=True)),
    ("Adam", dict(lr=0.1, weight_decay=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.1, amsgrad=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True, weight_decay=0.01)),
    ("Adagrad", dict(lr=0.1, weight_decay=0.01, maximize=True)),
    ("NAdam", dict(lr=0.1, weight_decay=0.01, decoupled_weight_decay=True)),
    ("RAdam", dict(lr=0.1, weight_decay=0.01, maximize=True)),
    ("Adamax", dict(lr=0.1, weight_decay=0.01)),
    ("Adadelta", dict(weight_decay=0.01, maximize=True)),
    ("Rprop", dict(lr=0.1)),
    ("ASGD", dict(lr=0.1, weight_decay=0.01, t0=1)),
]
NAMES = [name for name, _ in ALL]


def params_with_grads(seed: int = 0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    ps = [cr.nn.Parameter(rng.normal(size=(4, 3)).astype(dtype)), cr.nn.Parameter(rng.normal(size=3).astype(dtype))]
    for p in ps:
        p.grad = cr.tensor(rng.normal(size=p.shape).astype(dtype))
    return ps


# ---------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: cr.optim.SGD(p, lr=-1), "SGD: invalid learning rate: -1"),
        (lambda p: cr.optim.SGD(p, lr=0.1, momentum=-0.5), "SGD: invalid momentum: -0.5"),
        (lambda p: cr.optim.SGD(p, lr=0.1, weight_decay=-1e-4), "SGD: invalid weight_decay: -0.0001"),
        (lambda p: cr.optim.SGD(p, lr=0.1, dampening=2), "SGD: invalid dampening: 2"),
        (lambda p: cr.optim.SGD(p, lr=0.1, nesterov=True), "SGD: Nesterov momentum requires momentum > 0"),
        (lambda p: cr.optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "dampening=0.1"),
        (lambda p: cr.optim.SGD(p, lr=float("nan")), "SGD: invalid learning rate: nan"),
        (lambda p: cr.optim.SGD(p, lr="0.1"), "SGD: invalid learning rate: '0.1'"),
        (lambda p: cr.optim.SGD(p, lr=0.1, nesterov="yes"), "SGD: invalid nesterov: 'yes'"),
        (lambda p: cr.optim.Adam(p, lr=-0.001), "Adam: invalid learning rate: -0.001"),
        (lambda p: cr.optim.Adam(p, betas=(1.0, 0.999)), "Adam: invalid beta parameter at index 0: 1.0"),
        (lambda p: cr.optim.Adam(p, betas=(0.9, -0.1)), "Adam: invalid beta parameter at index 1: -0.1"),
        (lambda p: cr.optim.Adam(p, betas=(0.9,)), "Adam: invalid betas: (0.9,)"),
        (lambda p: cr.optim.Adam(p, eps=-1e-8), "Adam: invalid epsilon value: -1e-08"),
        (lambda p: cr.optim.Adam(p, weight_decay=-1), "Adam: invalid weight_decay: -1"),
        (lambda p: cr.optim.AdamW(p, lr=-1), "AdamW: invalid learning rate: -1"),
        (lambda p: cr.optim.RMSprop(p, alpha=-0.1), "RMSprop: invalid alpha value: -0.1"),
        (lambda p: cr.optim.RMSprop(p, momentum=-1), "RMSprop: invalid momentum: -1"),
        (lambda p: cr.optim.RMSprop(p, eps=-1), "RMSprop: invalid epsilon value: -1"),
        (lambda p: cr.optim.Adagrad(p, lr_decay=-1), "Adagrad: invalid lr_decay: -1"),
        (lambda p: cr.optim.Adagrad(p, initial_accumulator_value=-1), "Adagrad: invalid initial_accumulator_value: -1"),
        (lambda p: cr.optim.Adagrad(p, eps=-1), "Adagrad: invalid epsilon value: -1"),
        (lambda p: cr.optim.NAdam(p, lr=-1), "NAdam: invalid learning rate: -1"),
        (lambda p: cr.optim.NAdam(p, eps=-1), "NAdam: invalid epsilon value: -1"),
        (lambda p: cr.optim.NAdam(p, betas=(0.9, 1.0)), "NAdam: invalid beta parameter at index 1: 1.0"),
        (lambda p: cr.optim.NAdam(p, weight_decay=-1), "NAdam: invalid weight_decay: -1"),
        (lambda p: cr.optim.NAdam(p, momentum_decay=-1), "NAdam: invalid momentum_decay value: -1"),
        (lambda p: cr.optim.NAdam(p, decoupled_weight_decay=1), "NAdam: invalid decoupled_weight_decay: 1"),
        (lambda p: cr.optim.RAdam(p, lr=-1), "RAdam: invalid learning rate: -1"),
        (lambda p: cr.optim.RAdam(p, betas=(-0.1, 0.9)), "RAdam: invalid beta parameter at index 0: -0.1"),
        (lambda p: cr.optim.RAdam(p, weight_decay=-1), "RAdam: invalid weight_decay: -1"),
        (lambda p: cr.optim.Adamax(p, lr=-1), "Adamax: invalid learning rate: -1"),
        (lambda p: cr.optim.Adamax(p, eps=-1), "Adamax: invalid epsilon value: -1"),
        (lambda p: cr.optim.Adamax(p, betas=(1.0, 0.9)), "Adamax: invalid beta parameter at index 0: 1.0"),
        (lambda p: cr.optim.Adadelta(p, lr=-1), "Adadelta: invalid learning rate: -1"),
        (lambda p: cr.optim.Adadelta(p, rho=1.5), "Adadelta: invalid rho value: 1.5"),
        (lambda p: cr.optim.Adadelta(p, eps=-1), "Adadelta: invalid epsilon value: -1"),
        (lambda p: cr.optim.Adadelta(p, weight_decay=-1), "Adadelta: invalid weight_decay: -1"),
        (lambda p: cr.optim.Rprop(p, lr=-1), "Rprop: invalid learning rate: -1"),
        (lambda p: cr.optim.Rprop(p, etas=(1.5, 1.2)), "Rprop: invalid eta values: (1.5, 1.2)"),
        (lambda p: cr.optim.Rprop(p, etas=(0.5, 0.9)), "Rprop: invalid eta values: (0.5, 0.9)"),
        (lambda p: cr.optim.Rprop(p, step_sizes=(1.0, 0.1)), "Rprop: invalid step_sizes: (1.0, 0.1)"),
        (lambda p: cr.optim.ASGD(p, lr=-1), "ASGD: invalid learning rate: -1"),
        (lambda p: cr.optim.ASGD(p, weight_decay=-1), "ASGD: invalid weight_decay: -1"),
        (lambda p: cr.optim.ASGD(p, t0=None), "ASGD: invalid t0: None"),
        (
            lambda p: cr.optim.SGD([{"params": p[:1]}, {"params": p[1:], "lr": -2}], lr=0.1),
            "SGD: invalid learning rate: -2 (expected a number >= 0) (param group 1)",
        ),
    ],
)
def test_invalid_hyperparameters_raise_naming_optimiser_and_value(make, message):
    ps = params_with_grads()
    with pytest.raises(ValueError, match=re.escape(message)):
        make(ps)


def test_params_must_be_an_iterable_of_tensors_or_groups():
    p = cr.nn.Parameter([1.0])
    with pytest.raises(TypeError, match="single Parameter"):
        cr.optim.SGD(p, lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        cr.optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="can only optimise Tensors"):
        cr.optim.SGD([np.zeros(3)], lr=0.1)
    with pytest.raises(TypeError, match="ordered collection"):
        cr.optim.SGD([{"params": {p}}], lr=0.1)
    with pytest.raises(ValueError, match="more than once"):
        cr.optim.SGD([p, p], lr=0.1)
    with pytest.raises(ValueError, match="more than one param group"):
        cr.optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        cr.optim.SGD([p * 2], lr=0.1)


def test_accepts_a_generator_of_parameters():
    model = cr.nn.Linear(3, 2)
    opt = cr.optim.Adam(model.parameters())
    assert [p for g in opt.param_groups for p in g["params"]] == list(model.parameters())


# ---------------------------------------------------------------- in-place updates
@pytest.mark.parametrize("name, kwargs", ALL, ids=NAMES)
def test_step_never_writes_the_gradients(name, kwargs):
    ps = params_with_grads()
    grads_before = [p.grad.numpy().copy() for p in ps]
    grad_arrays = [p.grad.numpy() for p in ps]
    opt = getattr(cr.optim, name)(ps, **kwargs)
    for _ in range(3):
        opt.step()
    for p, before, array in zip(ps, grads_before, grad_arrays):
        assert p.grad.numpy() is array
        np.testing.assert_array_equal(array, before)


def test_a_gradient_shared_between_parameters_is_read_correctly():
    """Two parameters whose .grad is the same array (a shared view) both get the plain update."""
    a = cr.nn.Parameter(np.ones(3))
    b = cr.nn.Parameter(np.ones(3))
    shared = cr.tensor(np.array([1.0, 2.0, 3.0]))
    a.grad = b.grad = shared
    opt = cr.optim.SGD([a, b], lr=0.1, weight_decay=0.5, maximize=True)
    opt.step()
    np.testing.assert_allclose(a.numpy(), b.numpy())
    np.testing.assert_array_equal(shared.numpy(), [1.0, 2.0, 3.0])


@pytest.mark.parametrize("name, kwargs", ALL, ids=NAMES)
def test_parameter_and_state_arrays_keep_their_identity(name, kwargs):
    ps = params_with_grads()
    data_ids = [id(p.numpy()) for p in ps]
    opt = getattr(cr.optim, name)(ps, **kwargs)
    opt.step()
    state_arrays = {(i, k): v for i, p in enumerate(ps) for k, v in opt.state[p].items() if isinstance(v, np.ndarray)}
    assert state_arrays
    for _ in range(3):
        opt.step()
    assert [id(p.numpy()) for p in ps] == data_ids
    for (i, k), array in state_arrays.items():
        assert opt.state[ps[i]][k] is array, f"{name} reallocated state {k!r}"
        assert array.dtype == np.float32


@pytest.mark.parametrize("name, kwargs", ALL, ids=NAMES)
def test_parameters_without_grad_are_skipped(name, kwargs):
    ps = params_with_grads()
    ps[1].grad = None
    before = ps[1].numpy().copy()
    opt = getattr(cr.optim, name)(ps, **kwargs)
    opt.step()
    np.testing.assert_array_equal(ps[1].numpy(), before)
    assert ps[1] not in opt.state
    assert not np.array_equal(ps[0].numpy(), params_with_grads()[0].numpy())


def test_a_gradient_of_the_wrong_shape_is_an_error():
    p = cr.nn.Parameter(np.zeros((2, 3)))
    p.grad = cr.tensor(np.zeros(3))
    with pytest.raises(ValueError, match=r"shape \(2, 3\) has a gradient of shape \(3,\)"):
        cr.optim.SGD([p], lr=0.1).step()


def test_zero_grad_sets_grads_to_none():
    ps = params_with_grads()
    arrays = [p.grad.numpy().copy() for p in ps]
    kept = [p.grad for p in ps]
    opt = cr.optim.SGD(ps, lr=0.1)
    opt.zero_grad()
    assert all(p.grad is None for p in ps)
    for t, a in zip(kept, arrays):  # the old gradient tensors were not zeroed in place
        np.testing.assert_array_equal(t.numpy(), a)


def test_step_calls_the_closure_and_returns_its_loss():
    w = cr.nn.Parameter(np.array([3.0]))
    opt = cr.optim.SGD([w], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with cr.no_grad():  # the closure still records its graph
        loss = opt.step(closure)
    assert loss.item() == 9.0
    np.testing.assert_allclose(w.numpy(), [1.5])


# ---------------------------------------------------------------- param groups
def test_param_groups_have_their_own_learning_rates():
    a = cr.nn.Parameter(np.zeros(2))
    b = cr.nn.Parameter(np.zeros(2))
    opt = cr.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.01}], lr=0.1, momentum=0.0)
    a.grad = b.grad = cr.tensor(np.ones(2))
    opt.step()
    np.testing.assert_allclose(a.numpy(), [-0.1, -0.1])
    np.testing.assert_allclose(b.numpy(), [-0.01, -0.01])
    assert opt.param_groups[1]["momentum"] == 0.0  # filled from the defaults


def test_param_groups_have_their_own_momentum():
    """Two groups, each following the momentum-SGD equations with its own lr and momentum."""
    a, b = cr.nn.Parameter(np.zeros(2)), cr.nn.Parameter(np.zeros(2))
    opt = cr.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.01, "momentum": 0.5}], lr=0.1, momentum=0.9)
    g = np.array([1.0, -2.0])
    expected = {}
    for name, lr, momentum in [("a", 0.1, 0.9), ("b", 0.01, 0.5)]:
        p, buf = np.zeros(2), None
        for _ in range(3):
            buf = g.copy() if buf is None else momentum * buf + g
            p = p - lr * buf
        expected[name] = p
    for _ in range(3):
        a.grad, b.grad = cr.tensor(g.copy()), cr.tensor(g.copy())
        opt.step()
    np.testing.assert_allclose(a.numpy(), expected["a"], rtol=1e-14)
    np.testing.assert_allclose(b.numpy(), expected["b"], rtol=1e-14)
    np.testing.assert_allclose(a.numpy(), -np.array([0.561, -1.122]), rtol=1e-14)  # 0.1 * (1 + 1.9 + 2.71) g


def test_changing_a_groups_lr_takes_effect_on_the_next_step():
    w = cr.nn.Parameter(np.zeros(1))
    opt = cr.optim.SGD([w], lr=1.0)
    w.grad = cr.tensor(np.ones(1))
    opt.step()
    opt.param_groups[0]["lr"] = 0.5
    opt.step()
    np.testing.assert_allclose(w.numpy(), [-1.5])


def test_add_param_group():
    a = cr.nn.Parameter(np.zeros(2))
    b = cr.nn.Parameter(np.zeros(3))
    opt = cr.optim.Adam([a], lr=0.1)
    opt.add_param_group({"params": b, "lr": 0.5, "name": "head"})
    assert len(opt.param_groups) == 2
    assert opt.param_groups[1]["betas"] == (0.9, 0.999) and opt.param_groups[1]["name"] == "head"
    with pytest.raises(ValueError, match="more than one param group"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(ValueError, match=r"Adam: invalid epsilon value: -1 .*\(param group 2\)"):
        opt.add_param_group({"params": [cr.nn.Parameter([1.0])], "eps": -1})
    assert len(opt.param_groups) == 2


def test_param_group_dict_is_not_mutated():
    a = cr.nn.Parameter(np.zeros(2))
    group = {"params": [a], "lr": 0.5}
    cr.optim.SGD([group], lr=0.1)
    assert group == {"params": [a], "lr": 0.5}


def test_scratch_buffers_are_shared_and_reused():
    ps = params_with_grads()
    opt = cr.optim.Adam(ps, lr=0.1)
    opt.step()
    work = {p: opt._work[p] for p in ps}
    opt.step()
    assert all(opt._work[p] is work[p] for p in ps)
    assert len(opt._pools) == 1  # one pool for the one dtype, sized for the largest parameter
    assert next(iter(opt._pools.values())).shape == (2, 12)


# ---------------------------------------------------------------- repr
def test_repr_single_group():
    opt = cr.optim.Adam([cr.nn.Parameter([1.0])], lr=0.01)
    assert repr(opt) == (
        "Adam(lr=0.01, betas=(0.9, 0.999), eps=1e-08, weight_decay=0, amsgrad=False, maximize=False, "
        "decoupled_weight_decay=False)"
    )


def test_repr_several_groups():
    a, b, c = (cr.nn.Parameter([1.0]) for _ in range(3))
    opt = cr.optim.SGD([{"params": [a, b]}, {"params": [c], "lr": 0.01}], lr=0.1)
    assert repr(opt) == (
        "SGD(\n"
        "  (0): 2 parameters, lr=0.1, momentum=0, dampening=0, weight_decay=0, nesterov=False, maximize=False\n"
        "  (1): 1 parameter, lr=0.01, momentum=0, dampening=0, weight_decay=0, nesterov=False, maximize=False\n"
        ")"
    )


POSITIONAL = {  # PyTorch 2.13's positional parameters after params, in order (the rest are keyword-only)
    "SGD": "lr momentum dampening weight_decay nesterov",
    "Adam": "lr betas eps weight_decay amsgrad",
    "AdamW": "lr betas eps weight_decay amsgrad",
    "RMSprop": "lr alpha eps weight_decay momentum centered capturable foreach maximize differentiable",
    "Adagrad": "lr lr_decay weight_decay initial_accumulator_value eps foreach",
    "NAdam": "lr betas eps weight_decay momentum_decay decoupled_weight_decay",
    "RAdam": "lr betas eps weight_decay decoupled_weight_decay",
    "Adamax": "lr betas eps weight_decay foreach",
    "Adadelta": "lr rho eps weight_decay foreach",
    "Rprop": "lr etas step_sizes",
    "ASGD": "lr lambd alpha t0 weight_decay foreach maximize differentiable capturable",
}


@pytest.mark.parametrize("name", NAMES)
def test_positional_arguments_are_pytorchs_in_pytorchs_order(name):
    """A positional value lands where it lands in PyTorch (RMSprop's 8th is capturable, not maximize)."""
    import inspect

    parameters = list(inspect.signature(getattr(cr.optim, name)).parameters.values())[1:]
    positional = [p.name for p in parameters if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
    assert positional == POSITIONAL[name].split()
    assert {p.name for p in parameters} >= {"maximize", "foreach", "differentiable"}


# ---------------------------------------------------------------- PyTorch's implementation flags
FLAGS = {  # the flags each PyTorch optimiser takes (besides maximize)
    "SGD": ("foreach", "differentiable", "fused"),
    "Adam": ("foreach", "capturable", "differentiable", "fused"),
    "AdamW": ("foreach", "capturable", "differentiable", "fused"),
    "RMSprop": ("foreach", "capturable", "differentiable"),
    "Adagrad": ("foreach", "differentiable", "fused"),
    "NAdam": ("foreach", "capturable", "differentiable"),
    "RAdam": ("foreach", "capturable", "differentiable"),
    "Adamax": ("foreach", "capturable", "differentiable"),
    "Adadelta": ("foreach", "capturable", "differentiable"),
    "Rprop": ("foreach", "capturable", "differentiable"),
    "ASGD": ("foreach", "capturable", "differentiable"),
}


@pytest.mark.parametrize("name, kwargs", ALL, ids=NAMES)
def test_pytorchs_implementation_flags_are_accepted_and_change_nothing(name, kwargs):
    flags = {"foreach": True, "fused": True, "capturable": True, "differentiable": False}
    given = {k: flags[k] for k in FLAGS[name]}
    plain, flagged = params_with_grads(), params_with_grads()
    a, b = getattr(cr.optim, name)(plain, **kwargs), getattr(cr.optim, name)(flagged, **kwargs, **given)
    for _ in range(3):
        a.step()
        b.step()
    for p, q in zip(plain, flagged):
        np.testing.assert_array_equal(p.numpy(), q.numpy())
    with pytest.raises(ValueError, match=rf"{name}: differentiable=True is not supported"):
        getattr(cr.optim, name)(params_with_grads(), **kwargs, differentiable=True)
    with pytest.raises(TypeError, match="foreach must be None, True or False"):
        getattr(cr.optim, name)(params_with_grads(), **kwargs, foreach="yes")


def test_sgd_defaults_to_pytorchs_learning_rate():
    assert cr.optim.SGD(params_with_grads()).defaults["lr"] == 1e-3


def test_adam_with_decoupled_weight_decay_is_adamw():
    a_params, w_params = params_with_grads(dtype=np.float64), params_with_grads(dtype=np.float64)
    adam = cr.optim.Adam(a_params, lr=0.1, weight_decay=0.3, decoupled_weight_decay=True)
    adamw = cr.optim.AdamW(w_params, lr=0.1, weight_decay=0.3)
    for _ in range(3):
        adam.step()
        adamw.step()
    for p, q in zip(a_params, w_params):
        np.testing.assert_array_equal(p.numpy(), q.numpy())
    assert cr.optim.Adam(params_with_grads()).param_groups[0]["decoupled_weight_decay"] is False
    # a group's own setting, saved with the state, as PyTorch's
    g_params, w_params = params_with_grads(dtype=np.float64), params_with_grads(dtype=np.float64)
    grouped = cr.optim.Adam([{"params": g_params, "decoupled_weight_decay": True}], lr=0.1, weight_decay=0.3)
    adamw = cr.optim.AdamW(w_params, lr=0.1, weight_decay=0.3)
    for _ in range(3):
        grouped.step()
        adamw.step()
    for p, q in zip(g_params, w_params):
        np.testing.assert_array_equal(p.numpy(), q.numpy())
    again = cr.optim.Adam(params_with_grads(dtype=np.float64), lr=0.1, weight_decay=0.3)
    again.load_state_dict(grouped.state_dict())
    assert again.param_groups[0]["decoupled_weight_decay"] is True


def test_named_parameters_are_taken_and_their_names_kept_as_pytorch():
    model = cr.nn.Linear(3, 2)
    opt = cr.optim.SGD(model.named_parameters(), lr=0.1, momentum=0.9)
    assert opt.param_groups[0]["param_names"] == ["weight", "bias"]
    assert opt.param_groups[0]["params"] == list(model.parameters())
    cr.nn.functional.mse_loss(model(cr.ones(4, 3)), cr.zeros(4, 2)).backward()
    opt.step()
    saved = opt.state_dict()
    assert saved["param_groups"][0]["param_names"] == ["weight", "bias"]
    again = cr.optim.SGD(model.named_parameters(), lr=0.1, momentum=0.9)
    again.load_state_dict(saved)
    assert again.param_groups[0]["param_names"] == ["weight", "bias"]
    with pytest.raises(TypeError, match="mixes"):
        cr.optim.SGD([("weight", model.weight), model.bias], lr=0.1)


def test_param_groups_are_all_named_or_none():
    a, b = cr.nn.Linear(2, 2), cr.nn.Linear(2, 2)
    opt = cr.optim.SGD(a.named_parameters(), lr=0.1)
    with pytest.raises(TypeError, match="all param groups must hold named parameters"):
        opt.add_param_group({"params": list(b.parameters())})
    plain = cr.optim.SGD(a.parameters(), lr=0.1)
    with pytest.raises(TypeError, match="all param groups must hold named parameters"):
        plain.add_param_group({"params": list(b.named_parameters())})
    opt.add_param_group({"params": list(b.named_parameters()), "lr": 0.01})
    assert opt.param_groups[1]["param_names"] == ["weight", "bias"]
