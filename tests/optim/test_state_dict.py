"""Optimiser state_dict / load_state_dict: the format, validation, and bit-identical resumed training."""

from __future__ import annotations

import copy
import json
import re

import numpy as np
import pytest

import chainrule as cr

CONFIGS = [
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=1e-3)),
    ("AdamW", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.005, momentum=0.5, centered=True)),
    ("Adagrad", dict(lr=0.05, lr_decay=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=1e-3, decoupled_weight_decay=True)),
    ("RAdam", dict(lr=0.01, betas=(0.9, 0.9))),
    ("Adamax", dict(lr=0.01, weight_decay=1e-3)),
    ("Adadelta", dict(lr=0.5)),
    ("Rprop", dict(lr=0.005, etas=(0.4, 1.3))),
    ("ASGD", dict(lr=0.05, lambd=0.01, t0=5)),
]
IDS = [f"{name}-{i}" for i, (name, _) in enumerate(CONFIGS)]


def make_model(seed: int = 0) -> cr.nn.Module:
    cr.manual_seed(seed)
    return cr.nn.Sequential(cr.nn.Linear(5, 8), cr.nn.Tanh(), cr.nn.Linear(8, 2))


def batches():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 5)).astype(np.float32)
    Y = rng.normal(size=(40, 2)).astype(np.float32)
    return [(cr.tensor(X[i : i + 10]), cr.tensor(Y[i : i + 10])) for i in range(0, 40, 10)]


def train(model, opt, sched, epochs):
    loss_fn = cr.nn.MSELoss()
    for _ in range(epochs):
        for X, Y in batches():
            opt.zero_grad()
            loss_fn(model(X), Y).backward()
            opt.step()
        sched.step()


def through_json(state: dict) -> dict:
    """What a save to JSON + safetensors and a load give back: string keys, lists for tuples, fresh arrays."""
    groups = json.loads(json.dumps(state["param_groups"]))
    arrays = {f"state.{i}.{k}": np.array(v) for i, entries in state["state"].items() for k, v in entries.items()}
    restored: dict = {}
    for key, value in arrays.items():
        _, index, name = key.split(".")
        restored.setdefault(index, {})[name] = value
    return {"state": restored, "param_groups": groups}


@pytest.mark.parametrize("name, kwargs", CONFIGS, ids=IDS)
def test_resumed_training_equals_uninterrupted_training_bit_for_bit(name, kwargs):
    make_opt = lambda model: getattr(cr.optim, name)(model.parameters(), **kwargs)  # noqa: E731
    make_sched = lambda opt: cr.optim.StepLR(opt, step_size=2, gamma=0.5)  # noqa: E731

    model = make_model()
    opt = make_opt(model)
    sched = make_sched(opt)
    train(model, opt, sched, 5)
    uninterrupted = model.state_dict()

    model = make_model()
    opt = make_opt(model)
    sched = make_sched(opt)
    train(model, opt, sched, 3)
    checkpoint = (model.state_dict(), through_json(opt.state_dict()), json.loads(json.dumps(sched.state_dict())))
    del model, opt, sched

    model = make_model(seed=123)  # different initial weights: everything must come from the checkpoint
    opt = make_opt(model)
    sched = make_sched(opt)
    model.load_state_dict(checkpoint[0])
    opt.load_state_dict(checkpoint[1])
    sched.load_state_dict(checkpoint[2])
    train(model, opt, sched, 2)
    resumed = model.state_dict()
    for key in uninterrupted:
        np.testing.assert_array_equal(resumed[key], uninterrupted[key], err_msg=key)


def test_resuming_without_the_optimiser_state_differs():
    """The bit-for-bit test above can fail: dropping the Adam moments changes the result."""
    model = make_model()
    opt = cr.optim.Adam(model.parameters(), lr=0.01)
    sched = cr.optim.StepLR(opt, step_size=2)
    train(model, opt, sched, 3)
    weights = model.state_dict()
    train(model, opt, sched, 2)
    uninterrupted = model.state_dict()
    model.load_state_dict(weights)
    fresh = cr.optim.Adam(model.parameters(), lr=0.01)
    train(model, fresh, cr.optim.StepLR(fresh, step_size=2), 2)
    assert not np.array_equal(model.state_dict()["0.weight"], uninterrupted["0.weight"])


def test_format():
    a = cr.nn.Parameter(np.zeros((2, 3), dtype=np.float32))
    b = cr.nn.Parameter(np.zeros(3, dtype=np.float32))
    c = cr.nn.Parameter(np.zeros(1, dtype=np.float32))
    opt = cr.optim.Adam([{"params": [a, b]}, {"params": [c], "lr": 0.1}])
    assert opt.state_dict()["state"] == {}
    a.grad = cr.tensor(np.ones((2, 3), dtype=np.float32))
    c.grad = cr.tensor(np.ones(1, dtype=np.float32))
    opt.step()
    state = opt.state_dict()
    assert set(state) == {"state", "param_groups"}
    assert set(state["state"]) == {0, 2}  # b has no gradient yet, so no state
    assert set(state["state"][0]) == {"step", "exp_avg", "exp_avg_sq"}
    step = state["state"][0]["step"]
    assert isinstance(step, np.ndarray) and step.shape == () and step.dtype == np.int64 and step == 1
    assert state["state"][0]["exp_avg"].shape == (2, 3) and state["state"][0]["exp_avg"].dtype == np.float32
    assert [g["params"] for g in state["param_groups"]] == [[0, 1], [2]]
    assert state["param_groups"][1]["lr"] == 0.1 and state["param_groups"][0]["betas"] == (0.9, 0.999)
    json.dumps(state["param_groups"])  # hyper-parameters are JSON-friendly


def test_state_dict_is_a_snapshot():
    w = cr.nn.Parameter(np.ones(3))
    opt = cr.optim.SGD([w], lr=0.1, momentum=0.9)
    w.grad = cr.tensor(np.ones(3))
    opt.step()
    state = opt.state_dict()
    saved = state["state"][0]["momentum_buffer"].copy()
    opt.step()
    np.testing.assert_array_equal(state["state"][0]["momentum_buffer"], saved)
    state["state"][0]["momentum_buffer"][:] = 99
    state["param_groups"][0]["lr"] = 5.0
    assert opt.param_groups[0]["lr"] == 0.1
    assert not np.any(opt.state[w]["momentum_buffer"] == 99)


def test_numpy_scalar_hyperparameters_become_python_numbers():
    opt = cr.optim.SGD([cr.nn.Parameter([1.0])], lr=np.float32(0.5))
    assert type(opt.state_dict()["param_groups"][0]["lr"]) is float


def test_load_restores_hyperparameters_and_casts_state_to_the_parameter_dtype():
    w = cr.nn.Parameter(np.ones(3, dtype=np.float32))
    opt = cr.optim.RMSprop([w], lr=0.1, momentum=0.5)
    state = {
        "state": {"0": {"step": 4, "square_avg": np.full(3, 2.0), "momentum_buffer": [1.0, 2.0, 3.0]}},
        "param_groups": [
            {
                "lr": 0.02,
                "alpha": 0.9,
                "eps": 1e-8,
                "weight_decay": 0,
                "momentum": 0.5,
                "centered": False,
                "maximize": False,
                "params": [0],
            }
        ],
    }
    opt.load_state_dict(state)
    assert opt.param_groups[0]["lr"] == 0.02 and opt.param_groups[0]["params"] == [w]
    assert opt.state[w]["step"] == 4
    assert opt.state[w]["square_avg"].dtype == np.float32
    np.testing.assert_array_equal(opt.state[w]["momentum_buffer"], [1, 2, 3])
    state["state"]["0"]["square_avg"][:] = 0  # loading copied the arrays
    assert opt.state[w]["square_avg"][0] == 2.0


def test_betas_come_back_as_a_tuple_after_json():
    w = cr.nn.Parameter([1.0])
    opt = cr.optim.Adam([w])
    opt.load_state_dict(through_json(opt.state_dict()))
    assert opt.param_groups[0]["betas"] == (0.9, 0.999)


def trained_adam():
    a = cr.nn.Parameter(np.ones((2, 2)))
    b = cr.nn.Parameter(np.ones(2))
    opt = cr.optim.Adam([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    a.grad, b.grad = cr.tensor(np.ones((2, 2))), cr.tensor(np.ones(2))
    opt.step()
    return opt


@pytest.mark.parametrize(
    "corrupt, message",
    [
        (lambda s: s["param_groups"].pop(), "has 1 param groups, this optimiser has 2"),
        (
            lambda s: s["param_groups"][0]["params"].append(7),
            "param group 0 has 2 parameters in the saved state, 1 here",
        ),
        (
            lambda s: s["state"][0].update(exp_avg=np.zeros(3)),
            "parameter 0: 'exp_avg' has shape (3,), the parameter (2, 2)",
        ),
        (lambda s: s["state"][1].pop("exp_avg_sq"), "parameter 1: missing state exp_avg_sq"),
        (lambda s: s["state"][1].update(velocity=np.zeros(2)), "parameter 1: unexpected state velocity"),
        (lambda s: s["state"][1].update(step=np.array([1, 2])), "parameter 1: 'step' must be one count >= 0"),
        (lambda s: s["state"].update({5: {}}), "state for parameter 5, which no param group lists"),
        (lambda s: s["param_groups"][1].update(lr=-1.0), "Adam: invalid learning rate: -1.0"),
        (lambda s: s.pop("state"), "expected a dict with 'state' and 'param_groups'"),
    ],
)
def test_load_rejects_a_mismatched_state_and_changes_nothing(corrupt, message):
    opt = trained_adam()
    before_groups = copy.deepcopy([{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups])
    before_state = {p: {k: np.array(v, copy=True) for k, v in s.items()} for p, s in opt.state.items()}
    state = opt.state_dict()
    state["param_groups"][0]["lr"] = 0.001
    state["state"][0]["exp_avg"][...] = 42.0
    corrupt(state)
    with pytest.raises(ValueError, match=re.escape(message)):
        opt.load_state_dict(state)
    assert [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups] == before_groups
    for p, entries in before_state.items():
        for k, v in entries.items():
            np.testing.assert_array_equal(opt.state[p][k], v)


def test_load_reports_every_problem_at_once():
    opt = trained_adam()
    state = opt.state_dict()
    state["state"][0]["exp_avg"] = np.zeros(5)
    state["state"][1].pop("step")
    with pytest.raises(ValueError) as info:
        opt.load_state_dict(state)
    assert "parameter 0: 'exp_avg' has shape" in str(info.value) and "parameter 1: missing state step" in str(
        info.value
    )


def test_load_replaces_state_of_parameters_that_had_none_saved():
    w = cr.nn.Parameter(np.ones(2))
    opt = cr.optim.SGD([w], lr=0.1, momentum=0.9)
    fresh = opt.state_dict()
    w.grad = cr.tensor(np.ones(2))
    opt.step()
    opt.load_state_dict(fresh)
    assert opt.state == {}


@pytest.mark.parametrize(
    ("name", "kwargs", "entries"),
    [
        ("NAdam", {}, {"step", "mu_product", "exp_avg", "exp_avg_sq"}),
        ("RAdam", {}, {"step", "exp_avg", "exp_avg_sq"}),
        ("Adamax", {}, {"step", "exp_avg", "exp_inf"}),
        ("Adadelta", {}, {"step", "square_avg", "acc_delta"}),
        ("Rprop", {}, {"step", "prev", "step_size"}),
        ("ASGD", {}, {"step", "eta", "mu", "ax"}),
    ],
)
def test_the_state_entries_are_pytorchs(name, kwargs, entries):
    w = cr.nn.Parameter(np.ones((2, 3), dtype=np.float32))
    opt = getattr(cr.optim, name)([w], **kwargs)
    w.grad = cr.tensor(np.ones((2, 3), dtype=np.float32))
    opt.step()
    saved = opt.state_dict()["state"][0]
    assert set(saved) == entries
    for key, value in saved.items():
        assert isinstance(value, np.ndarray)
        if key in ("mu_product", "eta", "mu"):  # one number per parameter, as PyTorch's 0-d tensors
            assert value.shape == () and value.dtype == np.float64
        elif key != "step":
            assert value.shape == (2, 3) and value.dtype == np.float32


def test_scalar_state_comes_back_as_a_number_and_a_bad_one_is_refused():
    w = cr.nn.Parameter(np.ones(3))
    opt = cr.optim.ASGD([w], lr=0.1, t0=0)
    for _ in range(3):
        w.grad = cr.tensor(np.ones(3))
        opt.step()
    state = through_json(opt.state_dict())
    fresh = cr.optim.ASGD([w], lr=0.1, t0=0)
    fresh.load_state_dict(state)
    assert type(fresh.state[w]["eta"]) is float and fresh.state[w]["mu"] == 1 / 3
    assert fresh.state[w]["eta"] == opt.state[w]["eta"]
    state["state"]["0"]["mu"] = np.ones(3)
    with pytest.raises(ValueError, match=re.escape("parameter 0: 'mu' must be one finite number, got an array")):
        fresh.load_state_dict(state)
    assert fresh.state[w]["mu"] == 1 / 3


def test_nadam_resumes_its_momentum_product():
    """NAdam's mu_product (a number, not an array) is saved and restored: without it, a resumed
    run would restart the product at 1 and take another step."""
    w = cr.nn.Parameter(np.array([1.0, -2.0]))
    opt = cr.optim.NAdam([w], lr=0.1)
    for _ in range(3):
        w.grad = cr.tensor(2 * w.numpy())
        opt.step()
    saved = through_json(opt.state_dict())
    assert saved["state"]["0"]["mu_product"] == pytest.approx(opt.state[w]["mu_product"]) != 1.0
    w2 = cr.nn.Parameter(w.numpy().copy())
    opt2 = cr.optim.NAdam([w2], lr=0.1)
    opt2.load_state_dict(saved)
    for p, o in ((w, opt), (w2, opt2)):
        p.grad = cr.tensor(2 * p.numpy())
        o.step()
    np.testing.assert_array_equal(w2.numpy(), w.numpy())
