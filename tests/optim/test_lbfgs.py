"""L-BFGS: convergence (Rosenbrock, least squares), the two-loop recursion against the explicit BFGS
update, the strong Wolfe conditions, PyTorch's bookkeeping, saved state, and argument errors."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import chainrule as cr
from chainrule.optim.lbfgs import _cubic_minimum, _Point, _two_loop

LINE_SEARCHES = [None, "strong_wolfe"]


def rosenbrock_closure(opt: cr.optim.LBFGS, xy: cr.Tensor, calls: list | None = None):
    def closure():
        opt.zero_grad()
        x, y = xy[0], xy[1]
        loss = (1 - x) ** 2 + 100 * (y - x * x) ** 2
        loss.backward()
        if calls is not None:
            calls.append((xy.numpy().copy(), loss.item(), xy.grad.numpy().copy()))
        return loss

    return closure


def start(dtype=np.float64) -> cr.nn.Parameter:
    return cr.nn.Parameter(np.array([-1.5, 2.0], dtype=dtype))


def regression_data(seed: int = 0):
    """A cubic fit of y = sin(x) on [-pi, pi] (PyTorch's polynomial tutorial, as least squares)."""
    x = np.linspace(-np.pi, np.pi, 200)
    features = np.stack([x, x**2, x**3], axis=1)
    y = np.sin(x)[:, None] + 0.01 * np.random.default_rng(seed).normal(size=(200, 1))
    return features, y


def least_squares(features: np.ndarray, y: np.ndarray) -> np.ndarray:
    design = np.hstack([features, np.ones((len(features), 1))])
    return np.linalg.lstsq(design, y, rcond=None)[0].ravel()


def fit_regression(line_search_fn, steps: int = 20, **kwargs):
    features, y = regression_data()
    cr.manual_seed(0)
    model = cr.nn.Linear(3, 1, dtype="float64")
    opt = cr.optim.LBFGS(model.parameters(), line_search_fn=line_search_fn, **kwargs)
    X, Y = cr.tensor(features), cr.tensor(y)

    def closure():
        opt.zero_grad()
        loss = cr.nn.functional.mse_loss(model(X), Y)
        loss.backward()
        return loss

    for _ in range(steps):
        opt.step(closure)
    return model, opt, least_squares(features, y)


# ---------------------------------------------------------------- convergence
@pytest.mark.parametrize("line_search_fn", LINE_SEARCHES)
def test_minimises_the_rosenbrock_function(line_search_fn):
    xy = start()
    opt = cr.optim.LBFGS([xy], line_search_fn=line_search_fn, tolerance_change=1e-14)
    closure = rosenbrock_closure(opt, xy)
    for _ in range(10):
        opt.step(closure)
    np.testing.assert_allclose(xy.numpy(), [1.0, 1.0], atol=1e-6)


@pytest.mark.parametrize("line_search_fn", LINE_SEARCHES)
def test_fits_a_polynomial_regression_to_the_least_squares_solution(line_search_fn):
    lr = 0.5 if line_search_fn is None else 1.0
    model, _, solution = fit_regression(line_search_fn, lr=lr, tolerance_change=1e-14)
    fitted = np.concatenate([model.weight.numpy().ravel(), model.bias.numpy()])
    np.testing.assert_allclose(fitted, solution, rtol=0, atol=1e-6)
    features, y = regression_data()
    design = np.hstack([features, np.ones((len(features), 1))])
    best = np.mean((design @ solution - y.ravel()) ** 2)
    assert np.mean((design @ fitted - y.ravel()) ** 2) <= best * (1 + 1e-9)


def test_float32_parameters_stay_float32_and_converge():
    xy = start(np.float32)
    opt = cr.optim.LBFGS([xy], line_search_fn="strong_wolfe")
    closure = rosenbrock_closure(opt, xy)
    for _ in range(5):
        opt.step(closure)
    assert xy.numpy().dtype == np.float32
    np.testing.assert_allclose(xy.numpy(), [1.0, 1.0], atol=1e-3)


# ---------------------------------------------------------------- the algorithm's pieces
def test_two_loop_recursion_equals_the_explicit_bfgs_inverse_hessian():
    rng = np.random.default_rng(0)
    n, k = 5, 4
    a = rng.normal(size=(n, n))
    hessian = a @ a.T + n * np.eye(n)  # positive definite: every pair has y.s > 0
    steps = [rng.normal(size=n) for _ in range(k)]
    changes = [hessian @ s for s in steps]
    rho = [1.0 / (y @ s) for s, y in zip(steps, changes)]
    gamma = (steps[-1] @ changes[-1]) / (changes[-1] @ changes[-1])
    h = gamma * np.eye(n)
    for s, y, r in zip(steps, changes, rho):  # H <- (I - rho s y') H (I - rho y s') + rho s s' (N&W eq. 6.17)
        left = np.eye(n) - r * np.outer(s, y)
        h = left @ h @ left.T + r * np.outer(s, s)
    g = rng.normal(size=n)
    np.testing.assert_allclose(_two_loop(g, steps, changes, rho, gamma), -h @ g, rtol=1e-12)


def test_cubic_minimum_is_the_minimum_of_the_interpolating_cubic():
    cubic = np.poly1d([1.0, -2.0, -1.0, 3.0])  # a local minimum at (2 + sqrt(7)) / 3
    slope = cubic.deriv()
    a, b = (_Point(t, cubic(t), np.zeros(1), slope(t)) for t in (0.5, 2.5))
    expected = (2 + np.sqrt(7)) / 3
    assert _cubic_minimum(a, b) == pytest.approx(expected, rel=1e-12)
    assert _cubic_minimum(b, a) == pytest.approx(expected, rel=1e-12)
    assert _cubic_minimum(a, b, bounds=(0.0, 1.0)) == 1.0  # clipped to the bounds
    line = _Point(0.0, 0.0, np.zeros(1), 0.0), _Point(0.0, 1.0, np.zeros(1), 1.0)  # coincident: no cubic
    assert _cubic_minimum(*line, bounds=(1.0, 3.0)) == 2.0


def test_first_iteration_is_a_gradient_step_of_min_1_over_the_l1_norm_of_the_gradient():
    xy = start()
    opt = cr.optim.LBFGS([xy], lr=0.5, max_iter=1)
    loss = opt.step(rosenbrock_closure(opt, xy))
    x, y = -1.5, 2.0
    g = np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])
    np.testing.assert_allclose(xy.numpy(), [x, y] - min(1.0, 1.0 / np.abs(g).sum()) * 0.5 * g, rtol=1e-14)
    assert loss.item() == pytest.approx((1 - x) ** 2 + 100 * (y - x * x) ** 2)


def test_the_line_search_accepts_a_step_meeting_the_strong_wolfe_conditions():
    xy = start()
    calls = []
    opt = cr.optim.LBFGS([xy], line_search_fn="strong_wolfe", max_iter=1, max_eval=25)
    opt.step(rosenbrock_closure(opt, xy, calls))
    assert len(calls) > 2  # the first trial step, t = 1 / sum|g|, overshoots
    (x0, f0, g0), trials = calls[0], calls[1:]
    d = -g0  # the first direction
    t = np.abs(xy.numpy() - x0).max() / np.abs(d).max()
    f_t, g_t = next((f, g) for x, f, g in trials if np.allclose(x, xy.numpy(), rtol=0, atol=1e-15))
    assert f_t <= f0 + 1e-4 * t * (g0 @ d)  # sufficient decrease
    assert abs(g_t @ d) <= 0.9 * abs(g0 @ d)  # curvature
    np.testing.assert_allclose(xy.numpy(), x0 + t * d, rtol=1e-12)


# ---------------------------------------------------------------- PyTorch's bookkeeping
def test_step_returns_the_closures_first_loss_object():
    xy = start()
    opt = cr.optim.LBFGS([xy])
    returned = []

    def closure():
        loss = rosenbrock_closure(opt, xy)()
        returned.append(loss)
        return loss

    assert opt.step(closure) is returned[0]
    assert len(returned) > 1


def test_a_closure_returning_a_float_works():
    w = cr.nn.Parameter(np.array([3.0, -4.0]))
    opt = cr.optim.LBFGS([w], line_search_fn="strong_wolfe")

    def closure():
        w.grad = cr.tensor(2 * w.numpy())
        return float(w.numpy() @ w.numpy())

    assert opt.step(closure) == 25.0
    np.testing.assert_allclose(w.numpy(), [0.0, 0.0], atol=1e-10)


@pytest.mark.parametrize("line_search_fn", LINE_SEARCHES)
@pytest.mark.parametrize("max_iter, max_eval", [(20, None), (10, 4), (3, 100)])
def test_closure_evaluations_per_step_stay_within_max_eval(line_search_fn, max_iter, max_eval):
    xy = start()
    calls = []
    opt = cr.optim.LBFGS([xy], max_iter=max_iter, max_eval=max_eval, line_search_fn=line_search_fn)
    closure = rosenbrock_closure(opt, xy, calls)
    limit = max_iter * 5 // 4 if max_eval is None else max_eval
    for _ in range(3):
        before = len(calls)
        opt.step(closure)
        made = len(calls) - before
        if line_search_fn is None:
            assert made <= min(limit, max_iter)  # one per iteration, the last iteration's skipped
        else:  # the budget check runs after each line search, which may spend the rest of the budget
            assert made <= max(limit, 1 + 25)
    assert opt.state[xy]["func_evals"] == len(calls)
    assert opt.state[xy]["n_iter"] >= 3


def test_max_eval_defaults_to_five_quarters_of_max_iter():
    assert cr.optim.LBFGS([start()], max_iter=8).param_groups[0]["max_eval"] == 10
    assert cr.optim.LBFGS([start()]).defaults["max_eval"] == 25


def test_a_stationary_point_ends_the_step_after_one_evaluation():
    w = cr.nn.Parameter(np.zeros(3))
    calls = []
    opt = cr.optim.LBFGS([w])

    def closure():
        calls.append(1)
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    assert calls == [1]
    np.testing.assert_array_equal(w.numpy(), np.zeros(3))
    assert opt.state[w] == {"func_evals": 1, "n_iter": 0}


def test_with_max_eval_1_the_line_search_has_no_evaluation_to_spare_and_stays_put():  # as in PyTorch
    xy = start()
    opt = cr.optim.LBFGS([xy], max_iter=1, line_search_fn="strong_wolfe")  # max_eval = 1 * 5 // 4 = 1
    opt.step(rosenbrock_closure(opt, xy))
    np.testing.assert_array_equal(xy.numpy(), [-1.5, 2.0])
    assert opt.state[xy]["t"] == 0.0 and opt.state[xy]["func_evals"] == 2


@pytest.mark.parametrize("line_search_fn", LINE_SEARCHES)
def test_state_carries_over_so_two_short_steps_equal_one_long_one(line_search_fn):
    trajectories = []
    for steps, max_iter in ((1, 8), (2, 4)):
        xy = start()
        calls = []
        opt = cr.optim.LBFGS([xy], lr=0.2, max_iter=max_iter, max_eval=1000, line_search_fn=line_search_fn)
        closure = rosenbrock_closure(opt, xy, calls)
        for _ in range(steps):
            opt.step(closure)
        if line_search_fn is None:
            closure()  # the fixed-step run skips the evaluation after its last iteration
        distinct = [x for i, (x, _, _) in enumerate(calls) if i == 0 or not np.array_equal(x, calls[i - 1][0])]
        trajectories.append((distinct, xy.numpy().copy()))
    (points_a, end_a), (points_b, end_b) = trajectories
    np.testing.assert_array_equal(end_a, end_b)
    assert len(points_a) == len(points_b)
    for a, b in zip(points_a, points_b):
        np.testing.assert_array_equal(a, b)


def test_history_keeps_only_history_size_pairs():
    xy = start()
    opt = cr.optim.LBFGS([xy], history_size=3, line_search_fn="strong_wolfe", tolerance_change=0, tolerance_grad=0)
    opt.step(rosenbrock_closure(opt, xy))
    state = opt.state[xy]
    assert state["n_iter"] == 20
    assert len(state["old_dirs"]) == len(state["old_stps"]) == len(state["ro"]) == 3


def test_parameters_without_a_gradient_stay_where_they_are():
    w, unused = cr.nn.Parameter(np.array([2.0])), cr.nn.Parameter(np.array([5.0, 6.0]))
    opt = cr.optim.LBFGS([w, unused], line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = ((w - 1.0) ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    np.testing.assert_allclose(w.numpy(), [1.0], atol=1e-8)
    np.testing.assert_array_equal(unused.numpy(), [5.0, 6.0])


def test_several_parameters_are_updated_in_place():
    model, opt, _ = fit_regression("strong_wolfe", steps=1)
    arrays = [p.numpy() for p in model.parameters()]
    features, y = regression_data()

    def closure():
        opt.zero_grad()
        loss = cr.nn.functional.mse_loss(model(cr.tensor(features)), cr.tensor(y))
        loss.backward()
        return loss

    opt.step(closure)
    assert all(p.numpy() is a for p, a in zip(model.parameters(), arrays))


def test_a_graph_built_before_the_step_cannot_be_differentiated_after_it():
    xy = start()
    opt = cr.optim.LBFGS([xy])
    stale = (xy * xy).sum()
    opt.step(rosenbrock_closure(opt, xy))
    with pytest.raises(RuntimeError, match=r"modified in place by LBFGS\.step"):
        stale.backward()


def test_the_closure_runs_with_gradients_enabled_under_no_grad():
    xy = start()
    opt = cr.optim.LBFGS([xy], max_iter=2)
    with cr.no_grad():
        opt.step(rosenbrock_closure(opt, xy))
    assert opt.state[xy]["func_evals"] == 2


def test_repr_lists_the_settings():
    assert repr(cr.optim.LBFGS([start()], lr=0.5, history_size=10, line_search_fn="strong_wolfe")) == (
        "LBFGS(lr=0.5, max_iter=20, max_eval=25, tolerance_grad=1e-07, tolerance_change=1e-09, "
        "history_size=10, line_search_fn='strong_wolfe')"
    )


# ---------------------------------------------------------------- saving and resuming
def through_json(state: dict) -> dict:
    """What a JSON + safetensors round trip gives back: string keys, fresh arrays, lists for tuples."""
    groups = json.loads(json.dumps(state["param_groups"]))
    entries = {str(i): {k: np.array(v) for k, v in e.items()} for i, e in state["state"].items()}
    return {"state": entries, "param_groups": groups}


@pytest.mark.parametrize("line_search_fn", LINE_SEARCHES)
def test_resumed_optimisation_equals_uninterrupted_optimisation_bit_for_bit(line_search_fn):
    def run(interrupt: bool):
        xy = start()
        opt = cr.optim.LBFGS([xy], lr=0.3, max_iter=3, history_size=4, line_search_fn=line_search_fn)
        for i in range(6):
            if interrupt and i == 3:
                saved = through_json(opt.state_dict())
                data = xy.numpy().copy()
                xy = cr.nn.Parameter(data)
                opt = cr.optim.LBFGS([xy], line_search_fn=line_search_fn)  # settings come from the state
                opt.load_state_dict(saved)
            opt.step(rosenbrock_closure(opt, xy))
        return xy.numpy(), opt.state[xy]

    (end_a, state_a), (end_b, state_b) = run(False), run(True)
    np.testing.assert_array_equal(end_a, end_b)
    assert state_a["func_evals"] == state_b["func_evals"] and state_a["n_iter"] == state_b["n_iter"]
    np.testing.assert_array_equal(state_a["d"], state_b["d"])


def test_state_dict_format():
    xy = start()
    opt = cr.optim.LBFGS([xy], max_iter=4, line_search_fn="strong_wolfe")
    assert opt.state_dict()["state"] == {}
    opt.step(rosenbrock_closure(opt, xy))
    saved = opt.state_dict()
    assert list(saved["state"]) == [0]
    entries = saved["state"][0]
    assert set(entries) == {
        "func_evals", "n_iter", "d", "t", "old_dirs", "old_stps", "ro", "H_diag", "prev_flat_grad", "prev_loss"
    }  # fmt: skip
    assert entries["n_iter"].dtype == np.int64 and int(entries["n_iter"]) == opt.state[xy]["n_iter"] > 1
    k = len(opt.state[xy]["old_dirs"])
    assert entries["old_dirs"].shape == entries["old_stps"].shape == (k, 2) and entries["ro"].shape == (k,)
    assert entries["d"].shape == entries["prev_flat_grad"].shape == (2,) and entries["t"].shape == ()
    entries["d"][0] = 123.0  # a copy
    assert opt.state[xy]["d"][0] != 123.0
    assert saved["param_groups"] == [
        dict(lr=1, max_iter=4, max_eval=5, tolerance_grad=1e-7, tolerance_change=1e-9, history_size=100,
             line_search_fn="strong_wolfe", params=[0])
    ]  # fmt: skip


def test_a_checkpoint_with_an_empty_history_round_trips(tmp_path):
    model = cr.nn.Linear(2, 1, dtype="float64")
    opt = cr.optim.LBFGS(model.parameters(), max_iter=1)
    X, Y = cr.tensor(np.eye(2)), cr.tensor([[1.0], [2.0]])

    def closure():
        opt.zero_grad()
        loss = cr.nn.functional.mse_loss(model(X), Y)
        loss.backward()
        return loss

    opt.step(closure)  # one iteration: no (s, y) pair yet
    assert opt.state_dict()["state"][0]["old_dirs"].shape == (0, 3)
    cr.io.save_checkpoint(tmp_path / "ckpt.safetensors", model, opt)
    fresh = cr.optim.LBFGS(model.parameters(), max_iter=1)
    cr.io.load_checkpoint(tmp_path / "ckpt.safetensors", model, fresh)
    for key, value in opt.state_dict()["state"][0].items():
        np.testing.assert_array_equal(fresh.state_dict()["state"][0][key], value, err_msg=key)
    assert fresh.state_dict()["param_groups"] == opt.state_dict()["param_groups"]


def test_load_state_dict_reports_every_problem_and_changes_nothing():
    xy = start()
    opt = cr.optim.LBFGS([xy], max_iter=3)
    opt.step(rosenbrock_closure(opt, xy))
    saved = opt.state_dict()
    bad = through_json(saved)
    bad["state"]["0"]["d"] = np.zeros(3)
    bad["state"]["0"]["ro"] = np.zeros(7)
    bad["state"]["0"]["extra"] = np.zeros(1)
    del bad["state"]["0"]["prev_loss"]
    target = cr.optim.LBFGS([start()], lr=0.5)
    with pytest.raises(ValueError) as error:
        target.load_state_dict(bad)
    message = str(error.value)
    assert message.startswith("LBFGS.load_state_dict: ")
    for part in ("unexpected state extra", "missing state prev_loss"):
        assert part in message
    del bad["state"]["0"]["extra"]
    bad["state"]["0"]["prev_loss"] = np.array(1.0)
    with pytest.raises(ValueError) as error:
        target.load_state_dict(bad)
    assert "'d' has shape (3,), expected (2,)" in str(error.value) and "'ro' has shape (7,)" in str(error.value)
    assert target.state == {} and target.param_groups[0]["lr"] == 0.5
    with pytest.raises(ValueError, match=r"state under parameter 0 only, got state for parameters \['0', '1'\]"):
        target.load_state_dict({"state": {0: saved["state"][0], 1: {}}, "param_groups": saved["param_groups"]})


# ---------------------------------------------------------------- argument errors
@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(lr=-1), "LBFGS: invalid learning rate: -1"),
        (dict(lr=float("nan")), "LBFGS: invalid learning rate: nan"),
        (dict(max_iter=0), "LBFGS: invalid max_iter: 0 (expected a positive integer)"),
        (dict(max_iter=2.5), "LBFGS: invalid max_iter: 2.5"),
        (dict(max_eval=0), "LBFGS: invalid max_eval: 0 (expected a positive integer or None)"),
        (dict(history_size=0), "LBFGS: invalid history_size: 0"),
        (dict(history_size=True), "LBFGS: invalid history_size: True"),
        (dict(tolerance_grad=-1e-3), "LBFGS: invalid tolerance_grad: -0.001"),
        (dict(tolerance_change=-1.0), "LBFGS: invalid tolerance_change: -1.0"),
        (dict(line_search_fn="backtracking"), "LBFGS: invalid line_search_fn: 'backtracking' (expected None or"),
        (dict(line_search_fn=["strong_wolfe"]), "LBFGS: invalid line_search_fn: ['strong_wolfe']"),
    ],
)
def test_bad_settings_are_refused_naming_the_value(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        cr.optim.LBFGS([start()], **kwargs)


def test_one_param_group_only():
    with pytest.raises(ValueError, match="LBFGS: takes one param group"):
        cr.optim.LBFGS([{"params": [start()]}, {"params": [start()], "lr": 0.1}])
    opt = cr.optim.LBFGS([{"params": [start()], "lr": 0.1}])
    assert opt.param_groups[0]["lr"] == 0.1
    with pytest.raises(ValueError, match="LBFGS: takes one param group"):
        opt.add_param_group({"params": [start()]})
    assert len(opt.param_groups) == 1


def test_step_without_a_closure_is_a_clear_error():
    xy = start()
    opt = cr.optim.LBFGS([xy])
    with pytest.raises(TypeError, match=r"LBFGS\.step needs a closure .* opt\.step\(closure\); got NoneType None"):
        opt.step()
    np.testing.assert_array_equal(xy.numpy(), [-1.5, 2.0])
    assert opt.state == {}


@pytest.mark.parametrize(
    "returned, message",
    [
        (None, r"the loss \(a one-element Tensor or a number\), got NoneType None"),
        (cr.tensor([1.0, 2.0]), r"a one-element loss, got a tensor of shape \(2,\)"),
        ("1.0", r"got str '1\.0'"),
    ],
)
def test_a_closure_that_returns_no_loss_is_refused_before_anything_changes(returned, message):
    xy = start()
    opt = cr.optim.LBFGS([xy])

    def closure():
        rosenbrock_closure(opt, xy)()
        return returned

    with pytest.raises(TypeError, match=r"LBFGS\.step: the closure must return .*" + message):
        opt.step(closure)
    np.testing.assert_array_equal(xy.numpy(), [-1.5, 2.0])
    assert opt.state == {}


def test_a_failing_closure_inside_the_line_search_leaves_the_parameters_where_the_search_started():
    xy = start()
    opt = cr.optim.LBFGS([xy], line_search_fn="strong_wolfe")
    inner = rosenbrock_closure(opt, xy)
    calls = []

    def closure():
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("out of data")
        return inner()

    with pytest.raises(RuntimeError, match="out of data"):
        opt.step(closure)
    np.testing.assert_array_equal(xy.numpy(), [-1.5, 2.0])


def test_a_gradient_of_the_wrong_shape_names_both_shapes():
    w = cr.nn.Parameter(np.zeros(3))
    opt = cr.optim.LBFGS([w])

    def closure():
        w.grad = cr.tensor(np.ones(4))
        return 1.0

    with pytest.raises(ValueError, match=r"LBFGS\.step: a parameter of shape \(3,\) has a gradient of shape \(4,\)"):
        opt.step(closure)
