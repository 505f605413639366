"""GradientMonitor: gradient norms and update/weight ratios, in fit and in a loop of one's own,
checked against norms computed by hand from the parameters' gradients and weights."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.train import BackupAndRestore, Callback, GradientHistory, GradientMonitor, LambdaCallback, fit
from tests.train.support import blobs, mlp

LOSS = cr.nn.CrossEntropyLoss()


def by_hand_step(model, X, y, lr):
    """One SGD step by hand: the gradient norms, and lr * ||g|| / ||w|| (plain SGD's update ratio)."""
    model.zero_grad()
    LOSS(model(cr.tensor(X)), y).backward()
    norms = {n: float(np.linalg.norm(p.grad.numpy().astype(np.float64))) for n, p in model.named_parameters()}
    weights = {n: float(np.linalg.norm(p.numpy().astype(np.float64))) for n, p in model.named_parameters()}
    return norms, {n: lr * norms[n] / weights[n] for n in norms}


# ------------------------------------------------------------------ a loop of one's own


def test_record_gives_the_norms_of_the_gradients_after_backward():
    X, y = blobs(16)
    model = mlp()
    opt = cr.optim.SGD(model.parameters(), lr=0.3)
    expected, expected_ratio = by_hand_step(model, X, y, 0.3)
    monitor = GradientMonitor()
    norms = monitor.record(model)
    assert norms == pytest.approx(expected, rel=1e-6)
    assert list(norms) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    opt.step()
    ratios = monitor.record_update(model)
    assert ratios == pytest.approx(expected_ratio, rel=1e-5)  # ||dw|| / ||w|| = lr ||g|| / ||w|| for SGD
    h = monitor.history
    assert h.steps == [1] and h.epochs == [None]
    assert {n: v[0] for n, v in h.grad_norm.items()} == norms
    assert {n: v[0] for n, v in h.update_ratio.items()} == ratios


def test_the_update_ratio_is_the_weights_change_for_any_optimizer():
    X, y = blobs(16)
    model = mlp()
    opt = cr.optim.Adam(model.parameters(), lr=0.01)
    monitor = GradientMonitor()
    for _ in range(3):
        opt.zero_grad()
        LOSS(model(cr.tensor(X)), y).backward()
        before = {n: p.numpy().astype(np.float64) for n, p in model.named_parameters()}
        monitor.record(model)
        opt.step()
        ratios = monitor.record_update(model)
        for n, p in model.named_parameters():
            change = np.linalg.norm(p.numpy().astype(np.float64) - before[n]) / np.linalg.norm(before[n])
            assert ratios[n] == pytest.approx(change, rel=1e-9)
    assert monitor.history.steps == [1, 2, 3]


def test_steps_and_epochs_can_be_given():
    X, y = blobs(8)
    model = mlp()
    monitor = GradientMonitor()
    LOSS(model(cr.tensor(X)), y).backward()
    monitor.record(model, step=10, epoch=2)
    monitor.record(model)  # a record without record_update: its ratios stay NaN
    assert monitor.history.steps == [10, 11] and monitor.history.epochs == [2, None]
    assert all(math.isnan(v) for values in monitor.history.update_ratio.values() for v in values)


def test_weights_only_leaves_out_biases_and_zero_weights_give_nan():
    X, y = blobs(8)
    model = mlp()
    LOSS(model(cr.tensor(X)), y).backward()
    assert list(GradientMonitor(weights_only=True).record(model)) == ["0.weight", "2.weight"]
    with cr.no_grad():
        model[0].bias.zero_()
    monitor = GradientMonitor()
    monitor.record(model)
    cr.optim.SGD(model.parameters(), lr=0.1).step()
    ratios = monitor.record_update(model)
    assert math.isnan(ratios["0.bias"]) and ratios["0.weight"] > 0  # ||w|| = 0: no ratio


def test_frozen_and_gradientless_parameters():
    X, y = blobs(8)
    model = mlp()
    model[0].weight.requires_grad_(False)
    LOSS(model(cr.tensor(X)), y).backward()
    model[2].bias.grad = None
    norms = GradientMonitor().record(model)
    assert "0.weight" not in norms and math.isnan(norms["2.bias"]) and norms["2.weight"] > 0


def test_a_parameter_seen_later_is_padded_with_nan():
    h = GradientHistory()
    h._add(1, None, {"a": 1.0})
    h._add(2, None, {"a": 2.0, "b": 3.0})
    assert h.grad_norm["a"] == [1.0, 2.0]
    assert math.isnan(h.grad_norm["b"][0]) and h.grad_norm["b"][1] == 3.0
    assert len(h.update_ratio["b"]) == 2


def test_misuse_is_a_clear_error():
    model = mlp()
    monitor = GradientMonitor()
    with pytest.raises(RuntimeError, match=r"no parameter of the model has a gradient; call it after loss.backward"):
        monitor.record(model)
    with pytest.raises(RuntimeError, match=r"no record to complete; call record\(model\)"):
        monitor.record_update(model)
    with pytest.raises(TypeError, match="must be a chainrule.nn.Module, got ndarray"):
        monitor.record(np.zeros(3))
    X, y = blobs(8)
    LOSS(model(cr.tensor(X)), y).backward()
    monitor.record(model)
    with pytest.raises(ValueError, match=r"has no parameters \['0.weight', '0.bias', '2.weight', '2.bias'\]"):
        monitor.record_update(cr.nn.Linear(2, 2))
    with pytest.raises(RuntimeError, match="hooks are called by fit"):
        GradientMonitor().on_after_backward(0)
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="every_n_steps must be a positive integer or None"):
            GradientMonitor(every_n_steps=bad)


# ------------------------------------------------------------------ in fit


def test_fit_calls_on_after_backward_between_backward_and_step():
    X, y = blobs(12)
    model = mlp()
    seen = []

    class Spy(Callback):
        def on_batch_begin(self, batch, logs=None):
            self.weights = model[0].weight.numpy().copy()

        def on_after_backward(self, batch, logs=None):
            assert model[0].weight.grad is not None  # backward has run
            assert np.array_equal(model[0].weight.numpy(), self.weights)  # the step has not
            seen.append((batch, logs["size"], round(logs["loss"], 6) > 0))

        def on_batch_end(self, batch, logs):
            assert not np.array_equal(model[0].weight.numpy(), self.weights)

    fit(
        model,
        LOSS,
        cr.optim.SGD(model.parameters(), lr=0.1),
        X,
        y,
        epochs=2,
        batch_size=5,
        callbacks=[Spy()],
        verbose=0,
    )
    assert seen == [(0, 5, True), (1, 5, True), (2, 2, True)] * 2
    calls = []
    fit(model, LOSS, cr.optim.SGD(model.parameters(), lr=0.1), X, y, epochs=1, batch_size=6, verbose=0,
        callbacks=[LambdaCallback(on_after_backward=lambda batch, logs: calls.append(batch))])  # fmt: skip
    assert calls == [0, 1]


def test_in_fit_it_records_the_first_step_of_each_epoch_by_default():
    X, y = blobs(20)
    model = mlp()
    opt = cr.optim.SGD(model.parameters(), lr=0.2)
    expected = {}

    class ByHand(Callback):  # computes the same numbers from the gradients and weights fit left
        def on_after_backward(self, batch, logs=None):
            if batch == 0:
                self.norms = {n: np.linalg.norm(p.grad.numpy().astype(np.float64)) for n, p in model.named_parameters()}
                self.w = {n: np.linalg.norm(p.numpy().astype(np.float64)) for n, p in model.named_parameters()}

        def on_epoch_end(self, epoch, logs):
            expected[epoch] = (self.norms, {n: 0.2 * self.norms[n] / self.w[n] for n in self.norms})

    monitor = GradientMonitor()
    fit(model, LOSS, opt, X, y, epochs=3, batch_size=8, shuffle=False, callbacks=[ByHand(), monitor], verbose=0)
    h = monitor.history
    assert h.epochs == [1, 2, 3] and h.steps == [1, 4, 7]  # 3 batches per epoch (8, 8, 4 samples): the 1st
    for i, epoch in enumerate(h.epochs):
        norms, ratios = expected[epoch]
        assert {n: v[i] for n, v in h.grad_norm.items()} == pytest.approx(norms, rel=1e-6)
        assert {n: v[i] for n, v in h.update_ratio.items()} == pytest.approx(ratios, rel=1e-5)


def test_every_n_steps_and_a_fresh_start_for_each_fit():
    X, y = blobs(20)
    model = mlp()
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    monitor = GradientMonitor(every_n_steps=2)
    fit(model, LOSS, opt, X, y, epochs=3, batch_size=8, callbacks=[monitor], verbose=0)  # 9 steps
    assert monitor.history.steps == [2, 4, 6, 8] and monitor.history.epochs == [1, 2, 2, 3]
    assert all(np.isfinite(v).all() for v in monitor.history.update_ratio.values())
    fit(model, LOSS, opt, X, y, epochs=1, batch_size=8, callbacks=[monitor], verbose=0)  # reset in on_train_begin
    assert monitor.history.steps == [2]


def test_state_survives_backup_and_restore(tmp_path):
    X, y = blobs(20)
    monitor = GradientMonitor()
    model = mlp()
    fit(model, LOSS, cr.optim.SGD(model.parameters(), lr=0.1), X, y, epochs=2, batch_size=10, verbose=0,
        callbacks=[monitor, BackupAndRestore(tmp_path, delete_checkpoint=False)])  # fmt: skip
    saved = monitor.state_dict()
    again = GradientMonitor()
    again.load_state_dict(saved)
    assert again.history == monitor.history and again.state_dict() == saved
    resumed = GradientMonitor()
    model = mlp()
    fit(model, LOSS, cr.optim.SGD(model.parameters(), lr=0.1), X, y, epochs=3, batch_size=10, verbose=0,
        callbacks=[resumed, BackupAndRestore(tmp_path)])  # fmt: skip
    assert resumed.history.epochs == [1, 2, 3] and resumed.history.steps == [1, 3, 5]
    assert resumed.history.grad_norm["0.weight"][:2] == monitor.history.grad_norm["0.weight"]
    with pytest.raises(ValueError, match=r"missing \['step'\]"):
        GradientMonitor().load_state_dict({"history": saved["history"]})
    broken = dict(saved["history"], steps=[1])
    with pytest.raises(ValueError, match="one value per step"):
        GradientMonitor().load_state_dict({"history": broken, "step": 4})


def test_plot(tmp_path):
    X, y = blobs(20)
    model = mlp()
    monitor = GradientMonitor(every_n_steps=1)
    fit(model, LOSS, cr.optim.SGD(model.parameters(), lr=0.1), X, y, epochs=2, batch_size=10, callbacks=[monitor],
        verbose=0)  # fmt: skip
    fig = monitor.plot(path=tmp_path / "flow.png")
    assert [ax.get_title() for ax in fig.axes] == ["Gradient norm by layer", "Gradient norm", "Update / weight ratio"]
    assert fig.axes[1].get_xlabel() == "step" and fig.axes[1].get_yscale() == "log"
    assert len(fig.axes[1].get_lines()) == 4
    assert (tmp_path / "flow.png").stat().st_size > 1000
    per_epoch = GradientMonitor()
    fit(model, LOSS, cr.optim.SGD(model.parameters(), lr=0.1), X, y, epochs=2, batch_size=10, verbose=0,
        callbacks=[per_epoch])  # fmt: skip
    assert per_epoch.plot().axes[1].get_xlabel() == "epoch"
    from chainrule.viz.training import plot_gradient_flow

    fig = plot_gradient_flow({"a": monitor, "b": per_epoch.history}, names=["0.weight", "2.weight"])
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[:3] == ["a\nGradient norm by layer", "a\nGradient norm", "a\nUpdate / weight ratio"]
    assert titles[3] == "b\nGradient norm by layer" and len(fig.axes) == 6
    assert len(fig.axes[1].get_lines()) == 2
    LOSS(model(cr.tensor(X)), y).backward()
    only_norms = GradientMonitor()
    only_norms.record(model)
    assert [ax.get_title() for ax in only_norms.plot().axes] == ["Gradient norm by layer", "Gradient norm"]
    with pytest.raises(ValueError, match="nothing was recorded yet"):
        GradientMonitor().plot()
    with pytest.raises(ValueError, match=r"\['nope'\] not recorded"):
        monitor.plot(names=["nope"])
    with pytest.raises(ValueError, match="x='epoch' needs one record per epoch"):
        monitor.plot(x="epoch")
    with pytest.raises(TypeError, match="expected a GradientMonitor"):
        plot_gradient_flow([1, 2])
