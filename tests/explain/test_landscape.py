"""chainrule.explain.landscape: loss along a line (Goodfellow et al. 2015) and over a filter-normalised
random plane (Li et al. 2018), checked against losses computed by loading the points into the
model by hand; the model is put back bit for bit; chainrule.viz.training's pictures of them."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.explain.landscape import LossLandscape, loss_landscape_1d, loss_landscape_2d
from chainrule.train import evaluate
from chainrule.viz.training import plot_loss_landscape

LOSS = nn.CrossEntropyLoss()


def data(n=30, seed=0):
    X = np.random.default_rng(seed).normal(size=(n, 3)).astype(np.float32)
    return X, (X[:, 0] * X[:, 1] > 0).astype(np.int64)


def mlp(seed=0):
    cr.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 6), nn.Tanh(), nn.Linear(6, 2))


def loss_at(model, values, X, y):
    """The model's loss with ``values`` loaded into it (then put back), the way a user would."""
    saved = model.state_dict()
    state = model.state_dict()
    state.update({k: np.asarray(v) for k, v in values.items()})
    model.load_state_dict(state)
    try:
        return evaluate(model, LOSS, X, y)["loss"]
    finally:
        model.load_state_dict(saved)


def snapshot(model):
    return {name: (t.numpy(), t.numpy().copy()) for name, t in model.state_dict(keep_vars=True).items()}


def assert_untouched(model, before):
    for name, t in model.state_dict(keep_vars=True).items():
        array, copy = before[name]
        assert t.numpy() is array  # the same array ...
        assert array.tobytes() == copy.tobytes(), name  # ... holding the same bits


# ------------------------------------------------------------------ the line


def test_the_ends_of_the_line_are_the_losses_of_a_and_b():
    X, y = data()
    a, b = mlp(0).state_dict(), mlp(1).state_dict()
    model = mlp(2)
    line = loss_landscape_1d(model, LOSS, X, y, a, b, steps=9, t_range=(-1.0, 3.0))
    assert line.ndim == 1 and line.betas is None
    assert line.alphas.tolist() == [-1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
    t = list(line.alphas)
    assert line.losses[t.index(0.0)] == pytest.approx(evaluate(mlp(0), LOSS, X, y)["loss"], rel=1e-6)
    assert line.losses[t.index(1.0)] == pytest.approx(evaluate(mlp(1), LOSS, X, y)["loss"], rel=1e-6)
    for i in (0, 3, 8):  # any t: the loss of (1 - t) a + t b, loaded by hand
        point = {k: (1 - line.alphas[i]) * a[k].astype(np.float64) + line.alphas[i] * b[k] for k in a}
        assert line.losses[i] == pytest.approx(loss_at(model, point, X, y), rel=1e-6)
    assert line.origin.keys() == a.keys() and all(np.array_equal(line.origin[k], a[k]) for k in a)
    assert all(np.allclose(line.directions[0][k], b[k] - a[k]) for k in a)


def test_default_line_runs_from_a_to_the_model_and_takes_vectors_and_modules():
    X, y = data()
    initial = mlp(0)
    model = mlp(1)
    line = loss_landscape_1d(model, LOSS, X, y, initial.state_dict())
    assert line.alphas[0] == -0.5 and line.alphas[-1] == 1.5 and len(line.alphas) == 41
    t = list(line.alphas)
    assert line.losses[t.index(1.0)] == pytest.approx(evaluate(model, LOSS, X, y)["loss"], rel=1e-6)
    vector = cr.nn.utils.parameters_to_vector(initial.parameters())
    by_vector = loss_landscape_1d(model, LOSS, X, y, vector, cr.nn.utils.parameters_to_vector(model.parameters()))
    by_module = loss_landscape_1d(model, LOSS, X, y, initial, model)
    np.testing.assert_allclose(by_vector.losses, line.losses, rtol=1e-6)
    np.testing.assert_array_equal(by_module.losses, line.losses)


def test_the_model_is_put_back_bit_for_bit_in_its_modes():
    X, y = data()
    model = nn.Sequential(nn.Linear(3, 6), nn.BatchNorm1d(6), nn.Dropout(0.5), nn.ReLU(), nn.Linear(6, 2))
    model.train()
    model[1].eval()  # mixed modes come back as they were
    before = snapshot(model)
    loss_landscape_1d(model, LOSS, X, y, mlp_state(model, 1), steps=5)
    loss_landscape_2d(model, LOSS, X, y, steps=3, seed=0)
    assert_untouched(model, before)
    assert [m.training for m in model.modules()] == [True, True, False, True, True, True]


def mlp_state(model, seed):
    """A state of ``model``'s architecture with other values (and other running statistics)."""
    rng = np.random.default_rng(seed)
    state = {}
    for k, v in model.state_dict().items():
        moved = (v + rng.normal(size=v.shape)).astype(v.dtype) if v.dtype.kind == "f" else v
        state[k] = np.abs(moved) if k.endswith("running_var") else moved
    return state


def test_it_is_put_back_when_the_loss_fails():
    X, y = data()
    model = mlp()
    before = snapshot(model)
    calls = []

    def failing(outputs, targets):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("boom")
        return LOSS(outputs, targets)

    with pytest.raises(RuntimeError, match="boom"):
        loss_landscape_2d(model, failing, X, y, steps=3, seed=0)
    assert_untouched(model, before)
    assert model.training


def test_eval_mode_and_batches():
    X, y = data(50)
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 16), nn.Dropout(0.5), nn.Tanh(), nn.Linear(16, 2))
    a = model.state_dict()
    first = loss_landscape_1d(model, LOSS, X, y, a, mlp_state(model, 3), steps=5)
    again = loss_landscape_1d(model, LOSS, X, y, a, mlp_state(model, 3), steps=5, batch_size=7)  # in chunks
    np.testing.assert_allclose(again.losses, first.losses, rtol=1e-6)  # dropout off: the same every time
    model.eval()
    assert first.losses[list(first.alphas).index(0.0)] == pytest.approx(evaluate(model, LOSS, X, y)["loss"])


def test_floating_buffers_are_interpolated_when_both_ends_hold_them():
    X, y = data()
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    a, b = mlp_state(model, 1), mlp_state(model, 2)
    line = loss_landscape_1d(model, LOSS, X, y, a, b, t_range=(0.0, 1.0), steps=3)
    for i, state in ((0, a), (2, b)):
        other = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
        other.load_state_dict(state)
        assert line.losses[i] == pytest.approx(evaluate(other, LOSS, X, y)["loss"], rel=1e-6)
    assert "1.running_mean" in line.directions[0] and "1.num_batches_tracked" not in line.directions[0]
    beyond = loss_landscape_1d(model, LOSS, X, y, a, b, t_range=(-3.0, 3.0), steps=3)  # running_var would be < 0
    assert np.isfinite(beyond.losses).all()
    other = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    params = {k: (3 * b[k].astype(np.float64) - 2 * a[k]) if "running" not in k else b[k] for k in b}
    other.load_state_dict(params)  # t = 3: the parameters extrapolated, the statistics b's
    assert beyond.losses[2] == pytest.approx(evaluate(other, LOSS, X, y)["loss"], rel=1e-5)


def test_line_errors():
    X, y = data()
    model = mlp()
    a = model.state_dict()
    wrong = dict(a)
    del wrong["0.bias"]
    wrong["0.weight"] = np.zeros((2, 2))
    wrong["extra"] = np.zeros(1)
    every_problem = (
        r"theta_a does not fit Sequential's parameters: missing \['0.bias'\], unexpected \['extra'\], "
        r"mis-shaped \['0.weight: expected \(6, 3\), got \(2, 2\)'\]"
    )
    with pytest.raises(ValueError, match=every_problem):
        loss_landscape_1d(model, LOSS, X, y, wrong)
    with pytest.raises(ValueError, match=r"theta_b must be a state dict .* the 38 parameter values"):
        loss_landscape_1d(model, LOSS, X, y, a, np.zeros(37))
    bn = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    with_buffers = bn.state_dict()
    params_only = {k: v for k, v in with_buffers.items() if "running" not in k}
    with pytest.raises(ValueError, match=r"same entries; only in theta_a: \['1.running_mean', '1.running_var'\]"):
        loss_landscape_1d(bn, LOSS, X, y, with_buffers, params_only)
    for steps in (1, 0, 2.5, True):
        with pytest.raises(ValueError, match="steps must be an integer >= 2"):
            loss_landscape_1d(model, LOSS, X, y, a, steps=steps)
    with pytest.raises(ValueError, match="t_range must be increasing"):
        loss_landscape_1d(model, LOSS, X, y, a, t_range=(1.0, 0.0))
    with pytest.raises(ValueError, match="t_range must be finite"):
        loss_landscape_1d(model, LOSS, X, y, a, t_range=(0.0, np.inf))
    nan = dict(a, **{"2.bias": np.array([np.nan, 0.0])})
    with pytest.raises(ValueError, match=r"theta_b holds NaN or infinite values in \['2.bias'\]"):
        loss_landscape_1d(model, LOSS, X, y, a, nan)
    with pytest.raises(ValueError, match="y \\(the targets\\) is needed"):
        loss_landscape_1d(model, LOSS, X, None, a)
    with pytest.raises(TypeError, match="model must be a chainrule.nn.Module"):
        loss_landscape_1d(lambda x: x, LOSS, X, y, a)
    with pytest.raises(ValueError, match="X has 30 samples but y has 29"):
        loss_landscape_1d(model, LOSS, X, y[:-1], a)
    with pytest.raises(ValueError, match=r"loss_fn must return one number .* shape \(30,\)"):
        loss_landscape_1d(model, nn.CrossEntropyLoss(reduction="none"), X, y, a)


# ------------------------------------------------------------------ the plane


def test_the_centre_of_the_plane_is_the_model_and_each_point_is_theta_plus_a_step():
    X, y = data()
    model = mlp()
    plane = loss_landscape_2d(model, LOSS, X, y, span=0.5, steps=5, seed=0)
    assert plane.ndim == 2 and plane.losses.shape == (5, 5)
    assert plane.alphas.tolist() == [-0.5, -0.25, 0.0, 0.25, 0.5] and plane.betas.tolist() == plane.alphas.tolist()
    assert plane.losses[2, 2] == pytest.approx(evaluate(model, LOSS, X, y)["loss"], rel=1e-6)
    theta, (d1, d2) = plane.origin, plane.directions
    for i, j in ((0, 4), (3, 1), (4, 4)):
        point = {k: theta[k].astype(np.float64) + plane.alphas[i] * d1[k] + plane.betas[j] * d2[k] for k in theta}
        assert plane.losses[i, j] == pytest.approx(loss_at(model, point, X, y), rel=1e-6)
    assert not np.allclose(plane.losses, plane.losses[2, 2])  # the directions do move the loss


def test_filter_normalisation():
    X = np.random.default_rng(0).normal(size=(8, 1, 6, 6)).astype(np.float32)
    y = np.arange(8) % 2
    cr.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 4 * 4, 2))
    with cr.no_grad():
        model[4].weight.mul_(cr.tensor(np.array([[10.0], [0.1]], dtype=np.float32)))  # rows of very different sizes
    plane = loss_landscape_2d(model, LOSS, X, y, steps=3, seed=1)
    for d in plane.directions:
        kernel, rows = d["0.weight"], d["4.weight"]
        w_kernel, w_rows = model[0].weight.numpy(), model[4].weight.numpy()
        np.testing.assert_allclose(  # each output channel of the kernel: the norm of the weights' channel
            np.linalg.norm(kernel.reshape(3, -1), axis=1), np.linalg.norm(w_kernel.reshape(3, -1), axis=1), rtol=1e-5
        )
        np.testing.assert_allclose(np.linalg.norm(rows, axis=1), np.linalg.norm(w_rows, axis=1), rtol=1e-5)
        for name in ("0.bias", "1.weight", "1.bias", "4.bias"):  # biases and BatchNorm: zero
            assert not d[name].any(), name
    assert not np.allclose(plane.directions[0]["0.weight"], plane.directions[1]["0.weight"])
    raw = loss_landscape_2d(model, LOSS, X, y, steps=3, seed=1, filter_normalize=False)
    assert raw.directions[0]["4.bias"].any()
    rng = np.random.default_rng(1)  # the same draws, as they were: standard normal, parameter by parameter
    assert np.allclose(raw.directions[0]["0.weight"], rng.standard_normal(model[0].weight.shape))


def test_given_directions_and_seeds_reproduce_the_plane():
    X, y = data()
    model = mlp()
    plane = loss_landscape_2d(model, LOSS, X, y, steps=3, seed=5)
    np.testing.assert_array_equal(loss_landscape_2d(model, LOSS, X, y, steps=3, seed=5).losses, plane.losses)
    assert not np.allclose(loss_landscape_2d(model, LOSS, X, y, steps=3, seed=6).losses, plane.losses)
    again = loss_landscape_2d(model, LOSS, X, y, directions=plane.directions, steps=3)  # normalising again: a no-op
    np.testing.assert_allclose(again.losses, plane.losses, rtol=1e-6)
    # as given (no normalisation), as a dict and as a flat vector: theta + alpha * 1 + beta * 0
    d1 = {k: np.ones_like(v) for k, v in plane.origin.items()}
    as_given = loss_landscape_2d(model, LOSS, X, y, directions=(d1, np.zeros(38)), steps=2, filter_normalize=False)
    assert as_given.alphas.tolist() == [-1.0, 1.0]
    for i, alpha in enumerate((-1.0, 1.0)):
        expected = loss_at(model, {k: v.astype(np.float64) + alpha for k, v in plane.origin.items()}, X, y)
        assert as_given.losses[i].tolist() == pytest.approx([expected, expected], rel=1e-6)


def test_plane_errors():
    X, y = data()
    model = mlp()
    with pytest.raises(ValueError, match="steps must be an integer >= 2"):
        loss_landscape_2d(model, LOSS, X, y, steps=1)
    with pytest.raises(ValueError, match="span must be positive"):
        loss_landscape_2d(model, LOSS, X, y, span=0.0)
    with pytest.raises(ValueError, match=r"directions must be a pair \(d1, d2\)"):
        loss_landscape_2d(model, LOSS, X, y, directions=model.state_dict())
    bad = {k: np.zeros((1,)) for k in model.state_dict()}
    with pytest.raises(ValueError, match=r"directions\[1\] does not fit .* mis-shaped \['0.weight: expected"):
        loss_landscape_2d(model, LOSS, X, y, directions=(model.state_dict(), bad))
    with pytest.raises(ValueError, match=r"directions\[0\] holds NaN"):
        loss_landscape_2d(model, LOSS, X, y, directions=(np.full(38, np.nan), np.zeros(38)))
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        loss_landscape_2d(model, LOSS, X, y, batch_size=0)


# ------------------------------------------------------------------ pictures


def test_plots(tmp_path):
    X, y = data()
    model = mlp()
    line = loss_landscape_1d(model, LOSS, X, y, mlp(1).state_dict(), steps=5)
    fig = plot_loss_landscape(line, path=tmp_path / "line.png")
    (ax,) = fig.axes
    assert ax.get_title() == "Loss along the line" and ax.get_ylabel() == "loss"
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), line.losses)
    assert (tmp_path / "line.png").stat().st_size > 1000
    assert line.plot(log=True).axes[0].get_ylabel() == "log10 loss"

    plane = loss_landscape_2d(model, LOSS, X, y, steps=5, seed=0)
    fig = plot_loss_landscape(plane)
    assert [ax.get_title() for ax in fig.axes][0] == "Loss landscape (contour)"
    assert len(fig.axes) == 2 and fig.axes[1].get_ylabel() == "loss"  # the colour bar
    assert fig.axes[0].get_xlabel() == "alpha (direction 1)" and fig.axes[0].get_ylabel() == "beta (direction 2)"
    surface = plane.plot("surface", title="mine")
    assert surface.axes[0].name == "3d" and surface.axes[0].get_title() == "mine"
    assert surface.axes[0].get_zlabel() == "loss"

    with pytest.raises(ValueError, match=r"kind='contour' does not fit a line .* use kind='line'"):
        plot_loss_landscape(line, "contour")
    with pytest.raises(ValueError, match=r"kind='line' does not fit a plane .* use kind='contour' or 'surface'"):
        plot_loss_landscape(plane, "line")
    with pytest.raises(ValueError, match="kind must be one of"):
        plot_loss_landscape(plane, "heatmap")
    with pytest.raises(TypeError, match="expected a LossLandscape"):
        plot_loss_landscape(np.zeros((3, 3)))
    broken = LossLandscape(plane.alphas, plane.betas, plane.losses[:, :2], plane.directions, plane.origin)
    with pytest.raises(ValueError, match=r"the losses have shape \(5, 2\), the grid \(5, 5\)"):
        plot_loss_landscape(broken)
