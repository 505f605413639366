"""fit's sample weights, callbacks that add to the logs, and the Progress reporter it drives."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import DataLoader
from chainrule.nn import functional as F
from chainrule.train import Callback, fit
from chainrule.train.progress import Progress
from tests.train.support import CountingSGD, blobs, mlp


def weighted_ce(out, y, w):
    return (F.cross_entropy(out, y, reduction="none") * cr.tensor(w)).mean()


# --- sample weights ---------------------------------------------------------------------------


def test_sample_weights_reach_the_loss_and_give_the_hand_written_step():
    X, y = blobs(12)
    w = np.linspace(0.0, 2.0, 12)
    model, reference = mlp(), mlp()
    fit(model, weighted_ce, cr.optim.SGD(model.parameters(), lr=0.5), X, y, sample_weight=w,
        epochs=1, batch_size=None, verbose=0)  # fmt: skip
    reference.zero_grad()
    weighted_ce(reference(cr.tensor(X)), y, w.astype(np.float32)).backward()
    for p in reference.parameters():
        p.data -= 0.5 * p.grad.data
    for (name, a), b in zip(model.state_dict().items(), reference.state_dict().values(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7, err_msg=name)


def test_weights_of_two_double_the_sample_in_the_loss():
    X, y = blobs(10)
    doubled = np.concatenate([X, X[:3]]), np.concatenate([y, y[:3]])
    w = np.ones(10)
    w[:3] = 2.0
    a, b = mlp(), mlp()
    ha = fit(a, weighted_ce, cr.optim.SGD(a.parameters(), lr=0.2), X, y, sample_weight=w * 10 / 13,
             epochs=1, batch_size=None, verbose=0)  # fmt: skip
    hb = fit(b, cr.nn.CrossEntropyLoss(), cr.optim.SGD(b.parameters(), lr=0.2), *doubled,
             epochs=1, batch_size=None, verbose=0)  # fmt: skip
    assert ha["loss"][0] == pytest.approx(hb["loss"][0], rel=1e-5)
    for k, v in a.state_dict().items():
        np.testing.assert_allclose(v, b.state_dict()[k], rtol=1e-5, atol=1e-6, err_msg=k)


def test_a_batch_whose_weights_are_all_zero_takes_no_step_and_counts_with_loss_zero():
    X, y = blobs(8)
    w = np.array([0, 0, 0, 0, 1, 1, 1, 1], dtype=float)
    model = mlp()
    opt = CountingSGD(model.parameters(), lr=0.1)
    history = fit(model, weighted_ce, opt, X, y, sample_weight=w, epochs=1, batch_size=4, shuffle=False, verbose=0)
    assert opt.steps == 1
    reference = mlp()
    second_half = float(weighted_ce(reference(cr.tensor(X[4:])), y[4:], w[4:].astype(np.float32)).data)
    assert history["loss"][0] == pytest.approx(second_half * 4 / 8, rel=1e-6)


def test_a_loss_without_a_weights_argument_is_refused_before_training():
    X, y = blobs(8)
    model = mlp()
    before = model.state_dict()
    with pytest.raises(ValueError, match="takes no third argument; give a loss_fn\\(outputs, targets, weights\\)"):
        fit(model, cr.nn.CrossEntropyLoss(), cr.optim.SGD(model.parameters(), lr=0.1), X, y,
            sample_weight=np.ones(8), verbose=0)  # fmt: skip
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


@pytest.mark.parametrize(
    "weights, message",
    [
        (np.ones(7), r"one weight per sample, shape \(8,\), got shape \(7,\)"),
        (np.ones((8, 1)), r"one weight per sample, shape \(8,\), got shape \(8, 1\)"),
        (np.array([1.0] * 7 + [-1.0]), "finite and non-negative"),
        (np.array([1.0] * 7 + [np.nan]), "finite and non-negative"),
        (np.array(["a"] * 8), "must be numbers"),
    ],
)
def test_bad_sample_weights_are_refused_before_training(weights, message):
    X, y = blobs(8)
    model = mlp()
    opt = CountingSGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match=message):
        fit(model, weighted_ce, opt, X, y, sample_weight=weights, verbose=0)
    assert opt.steps == 0


def test_sample_weights_with_a_dataloader_are_refused_with_what_to_do():
    X, y = blobs(8)
    model = mlp()
    with pytest.raises(ValueError, match=r"a DataLoader yields \(inputs, targets, weights\) batches"):
        fit(model, weighted_ce, cr.optim.SGD(model.parameters(), lr=0.1), DataLoader((X, y)),
            sample_weight=np.ones(8), verbose=0)  # fmt: skip


def test_a_dataloader_of_weighted_batches_trains_as_sample_weight_does():
    X, y = blobs(12)
    w = np.linspace(0.5, 1.5, 12).astype(np.float32)
    a, b = mlp(), mlp()
    fit(a, weighted_ce, cr.optim.SGD(a.parameters(), lr=0.2), X, y, sample_weight=w, batch_size=4, shuffle=False,
        verbose=0)  # fmt: skip
    fit(b, weighted_ce, cr.optim.SGD(b.parameters(), lr=0.2), DataLoader((X, y, w), batch_size=4), verbose=0)
    for k, v in a.state_dict().items():
        np.testing.assert_array_equal(v, b.state_dict()[k], err_msg=k)


def test_batches_of_four_arrays_are_refused():
    X, y = blobs(8)
    model = mlp()
    with pytest.raises(ValueError, match="got 4 array"):
        fit(model, weighted_ce, cr.optim.SGD(model.parameters(), lr=0.1), DataLoader((X, y, y, y)), verbose=0)


def test_validation_split_holds_out_the_weights_of_the_held_out_samples():
    X, y = blobs(10)
    w = np.ones(10)
    w[-2:] = np.nan  # the held-out samples' weights are never looked at... but they are checked
    model = mlp()
    with pytest.raises(ValueError, match="finite"):
        fit(model, weighted_ce, cr.optim.SGD(model.parameters(), lr=0.1), X, y, sample_weight=w,
            validation_split=0.2, verbose=0)  # fmt: skip
    w[-2:] = 1.0
    w[:8] = 0.0  # every training sample weighs nothing: no step, while validation is unweighted
    opt = CountingSGD(model.parameters(), lr=0.1)
    history = fit(model, weighted_ce, opt, X, y, sample_weight=w, validation_split=0.2, verbose=0)
    assert opt.steps == 0 and history["loss"] == [0.0] and history["val_loss"][0] > 0


# --- callbacks add to the logs ------------------------------------------------------------------


def test_what_a_callback_adds_to_the_logs_is_recorded_and_shown(capsys):
    class AddsNorm(Callback):
        def on_epoch_end(self, epoch, logs):
            logs["weight_norm"] = float(np.linalg.norm(self.context.model[0].weight.data))

    model = mlp()
    history = fit(model, cr.nn.CrossEntropyLoss(), cr.optim.SGD(model.parameters(), lr=0.1), *blobs(10),
                  epochs=2, callbacks=[AddsNorm()], verbose=2)  # fmt: skip
    assert history["weight_norm"][-1] == pytest.approx(float(np.linalg.norm(model[0].weight.data)))
    assert all("weight_norm: " in line for line in capsys.readouterr().err.splitlines())


# --- the Progress reporter ----------------------------------------------------------------------


def test_a_callbacks_message_comes_after_the_epoch_it_was_said_in(capsys):
    class Talks(Callback):
        def on_batch_end(self, batch, logs):
            if batch == 0:
                self.context.progress.message(f"first batch done, loss {logs['loss']:.3f}")

    model = mlp()
    fit(model, cr.nn.CrossEntropyLoss(), cr.optim.SGD(model.parameters(), lr=0.1), *blobs(10), epochs=2,
        batch_size=5, callbacks=[Talks()], verbose=2)  # fmt: skip
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(" ")[0] for line in lines] == ["Epoch", "first", "Epoch", "first"]
    assert lines[0].startswith("Epoch 1/2") and lines[2].startswith("Epoch 2/2")


def test_messages_are_silent_with_verbose_0(capsys):
    progress = Progress(0)
    progress.train_begin(1, 1)
    progress.message("not shown")
    progress.close()
    assert capsys.readouterr() == ("", "")


def test_one_bar_over_the_epochs(capsys):
    import tqdm  # noqa: F401  (a test dependency)

    model = mlp()
    fit(model, cr.nn.CrossEntropyLoss(), cr.optim.SGD(model.parameters(), lr=0.1), *blobs(10), epochs=4,
        batch_size=5, verbose=Progress(1, unit="epoch", name="my run"))  # fmt: skip
    err = capsys.readouterr().err
    assert "my run" in err and "4/4" in err and "epoch" in err and "Epoch 1/4" not in err


def test_a_progress_of_an_unknown_unit_is_refused():
    with pytest.raises(ValueError, match="unit must be 'batch' or 'epoch', got 'step'"):
        Progress(1, unit="step")


def test_the_bar_is_closed_when_training_fails():
    import tqdm  # noqa: F401  (a test dependency)

    class Fails(Callback):
        def on_batch_end(self, batch, logs):
            raise RuntimeError("boom")

    progress = Progress(1)
    model = mlp()
    with pytest.raises(RuntimeError, match="boom"):
        fit(model, cr.nn.CrossEntropyLoss(), cr.optim.SGD(model.parameters(), lr=0.1), *blobs(10),
            callbacks=[Fails()], verbose=progress)  # fmt: skip
    assert progress.bar is None
