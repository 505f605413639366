"""fit's sample weights, callbacks that add to the logs, and the Progress reporter it drives."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import DataLoader
from chainrule.nn import functional as F
from chainrule.train import Callback, fit
from chainrule.train.progress import Progress
from tests.train.support import CountingSGD, blobs, mlp


def weighted_ce(out, y, sample_weight):
    return (F.cross_entropy(out, y, reduction="none") * cr.tensor(sample_weight)).mean()


def sgd(model, lr=0.1):
    return CountingSGD(model.parameters(), lr=lr)


# --- sample weights ---------------------------------------------------------------------------


@pytest.mark.parametrize("loss_fn", [cr.nn.CrossEntropyLoss(), weighted_ce], ids=["module", "function"])
def test_sample_weights_give_the_hand_written_step(loss_fn):
    X, y = blobs(12)
    w = np.linspace(0.0, 2.0, 12)
    model, reference = mlp(), mlp()
    fit(model, loss_fn, sgd(model, 0.5), X, y, sample_weight=w, epochs=1, batch_size=None, verbose=0)
    reference.zero_grad()
    weighted_ce(reference(cr.tensor(X)), y, w.astype(np.float32)).backward()
    for p in reference.parameters():
        p.data -= 0.5 * p.grad.numpy()
    for (name, a), b in zip(model.state_dict().items(), reference.state_dict().values(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7, err_msg=name)


def test_a_loss_module_is_weighted_per_sample_mean_over_its_other_axes_and_summed_for_sum():
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(6, 3)).astype(np.float32), rng.normal(size=(6, 2)).astype(np.float32)
    w = np.array([0.0, 1.0, 2.0, 0.5, 1.0, 3.0])
    per_sample = ((X[:, :2] - Y) ** 2).mean(axis=1)  # the model is the identity on the first two features
    for reduction, expected in [("mean", (w * per_sample).mean()), ("sum", (w * per_sample).sum())]:
        model = cr.nn.Linear(3, 2)
        model.weight.numpy()[...] = np.eye(2, 3)
        model.bias.numpy()[...] = 0.0
        history = fit(model, cr.nn.MSELoss(reduction=reduction), cr.optim.SGD(model.parameters(), lr=0.0), X, Y,
                      sample_weight=w, batch_size=None, verbose=0)  # fmt: skip
        assert history["loss"][0] == pytest.approx(expected, rel=1e-6)


def test_weights_of_two_count_the_sample_twice():
    X, y = blobs(10)
    doubled = np.concatenate([X, X[:3]]), np.concatenate([y, y[:3]])
    w = np.ones(10)
    w[:3] = 2.0
    a, b = mlp(), mlp()
    ha = fit(a, cr.nn.CrossEntropyLoss(), sgd(a, 0.2), X, y, sample_weight=w * 10 / 13, batch_size=None, verbose=0)
    hb = fit(b, cr.nn.CrossEntropyLoss(), sgd(b, 0.2), *doubled, batch_size=None, verbose=0)
    assert ha["loss"][0] == pytest.approx(hb["loss"][0], rel=1e-5)
    for k, v in a.state_dict().items():
        np.testing.assert_allclose(v, b.state_dict()[k], rtol=1e-5, atol=1e-6, err_msg=k)


def test_the_loss_module_is_left_as_it_was():
    loss = cr.nn.CrossEntropyLoss()
    model = mlp()
    fit(model, loss, sgd(model), *blobs(8), sample_weight=np.ones(8), verbose=0)
    assert loss.reduction == "mean"


def test_a_batch_whose_weights_are_all_zero_takes_no_step_and_counts_with_loss_zero():
    X, y = blobs(8)
    w = np.array([0, 0, 0, 0, 1, 1, 1, 1], dtype=float)
    model = mlp()
    opt = sgd(model)
    history = fit(model, weighted_ce, opt, X, y, sample_weight=w, epochs=1, batch_size=4, shuffle=False,
                  metrics=["accuracy"], verbose=0)  # fmt: skip
    assert opt.steps == 1
    reference = mlp()
    second_half = float(weighted_ce(reference(cr.tensor(X[4:])), y[4:], w[4:].astype(np.float32)).numpy())
    assert history["loss"][0] == pytest.approx(second_half * 4 / 8, rel=1e-6)
    # the metrics cover all eight samples; both batches were scored by the untrained weights (the
    # skipped one, and the trained one by its forward pass before the step)
    reference.eval()
    expected = np.mean(reference(cr.tensor(X)).numpy().argmax(axis=1) == y)
    assert history["accuracy"][0] == pytest.approx(expected)


@pytest.mark.parametrize(
    "loss_fn, message",
    [
        (cr.nn.functional.mse_loss, "takes no sample_weight; use a chainrule loss"),
        (lambda out, y, w: out.sum(), "takes no sample_weight"),
        (cr.nn.CrossEntropyLoss(reduction="none"), "reduction='none'; with sample weights give it reduction='mean'"),
    ],
)
def test_a_loss_that_cannot_weigh_is_refused_before_training(loss_fn, message):
    X, y = blobs(8)
    model = mlp()
    before = model.state_dict()
    with pytest.raises(ValueError, match=message):
        fit(model, loss_fn, sgd(model), X, y, sample_weight=np.ones(8), verbose=0)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


@pytest.mark.parametrize(
    "weights, message",
    [
        (np.ones(7), r"one weight per sample, shape \(8,\), got shape \(7,\)"),
        (np.ones((8, 1)), r"one weight per sample, shape \(8,\), got shape \(8, 1\)"),
        (np.array([1.0] * 7 + [-1.0]), "must be non-negative"),
        (np.array([1.0] * 7 + [np.nan]), r"non-finite values \(NaN or inf\) in rows \[7\]"),
        (np.array(["a"] * 8), "must be numbers"),
        (np.zeros(8), "zero for every sample: there is nothing to learn from"),
    ],
)
def test_bad_sample_weights_are_refused_before_training(weights, message):
    X, y = blobs(8)
    model = mlp()
    opt = sgd(model)
    with pytest.raises(ValueError, match=message):
        fit(model, weighted_ce, opt, X, y, sample_weight=weights, verbose=0)
    assert opt.steps == 0


def test_sample_weights_with_a_dataloader_are_refused_with_what_to_do():
    X, y = blobs(8)
    model = mlp()
    with pytest.raises(ValueError, match=r"a DataLoader yields \(inputs, targets, weights\) batches"):
        fit(model, weighted_ce, sgd(model), DataLoader((X, y)), sample_weight=np.ones(8), verbose=0)


def test_a_dataloader_of_weighted_batches_trains_as_sample_weight_does():
    X, y = blobs(12)
    w = np.linspace(0.5, 1.5, 12).astype(np.float32)
    a, b = mlp(), mlp()
    fit(a, weighted_ce, sgd(a, 0.2), X, y, sample_weight=w, batch_size=4, shuffle=False, verbose=0)
    fit(b, weighted_ce, sgd(b, 0.2), DataLoader((X, y, w), batch_size=4), verbose=0)
    for k, v in a.state_dict().items():
        np.testing.assert_array_equal(v, b.state_dict()[k], err_msg=k)


def test_a_dataloaders_weights_are_checked_before_training():
    X, y = blobs(8)
    w = np.ones(8)
    w[5] = -1.0
    model = mlp()
    opt = sgd(model)
    with pytest.raises(ValueError, match="the DataLoader's third array \\(the weights\\) must be non-negative"):
        fit(model, weighted_ce, opt, DataLoader((X, y, w), batch_size=2), verbose=0)
    assert opt.steps == 0


@pytest.mark.parametrize(
    "bad, every, message",
    [
        (np.float32(np.nan), False, "the weights in batch 2 of the DataLoader has 1 non-finite values"),
        (np.float32(-1.0), False, "the weights in batch 2 of the DataLoader must be non-negative"),
        (np.str_("1"), False, "the weights in batch 2 of the DataLoader must be numbers, got dtype <U"),
        (
            np.ones(1),
            True,
            r"batch 0 of the DataLoader must hold one weight per sample, shape \(2,\), got shape \(2, 1\)",
        ),
    ],
)
def test_weights_from_a_dataset_are_checked_batch_by_batch(bad, every, message):
    X, y = blobs(8)

    class Weighted(cr.data.Dataset):
        def __len__(self):
            return 8

        def __getitem__(self, i):
            return X[i], y[i], bad if every or i == 5 else np.float32(1.0)

    model = mlp()
    opt = sgd(model)
    with pytest.raises(ValueError, match=message):
        fit(model, weighted_ce, opt, DataLoader(Weighted(), batch_size=2), verbose=0)
    assert opt.steps == (0 if every else 2)  # the batches before the bad one were trained on


def test_batches_of_four_arrays_are_refused():
    X, y = blobs(8)
    model = mlp()
    with pytest.raises(ValueError, match="got 4 array"):
        fit(model, weighted_ce, sgd(model), DataLoader((X, y, y, y)), verbose=0)


def test_validation_split_holds_out_the_weights_of_the_held_out_samples():
    X, y = blobs(10)
    w = np.ones(10)
    w[:8] = 0.0  # every training sample weighs nothing
    model = mlp()
    with pytest.raises(ValueError, match="zero for every training sample"):
        fit(model, weighted_ce, sgd(model), X, y, sample_weight=w, validation_split=0.2, verbose=0)
    w[0] = 1.0
    opt = sgd(model)
    history = fit(model, weighted_ce, opt, X, y, sample_weight=w, validation_split=0.2, batch_size=None, verbose=0)
    assert opt.steps == 1 and history["val_loss"][0] > 0  # the validation loss is unweighted


# --- callbacks add to the logs ------------------------------------------------------------------


def test_what_a_callback_adds_to_the_logs_is_recorded_and_shown(capsys):
    class AddsNorm(Callback):
        def on_epoch_end(self, epoch, logs):
            logs["weight_norm"] = float(np.linalg.norm(self.context.model[0].weight.numpy()))

    model = mlp()
    history = fit(model, cr.nn.CrossEntropyLoss(), cr.optim.SGD(model.parameters(), lr=0.1), *blobs(10),
                  epochs=2, callbacks=[AddsNorm()], verbose=2)  # fmt: skip
    assert history["weight_norm"][-1] == pytest.approx(float(np.linalg.norm(model[0].weight.numpy())))
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


def test_built_in_callbacks_speak_after_the_epoch_report(capsys, tmp_path):
    from chainrule.train import ModelCheckpoint

    model = mlp()
    checkpoint = ModelCheckpoint(str(tmp_path / "ckpt-{epoch}.safetensors"), monitor="loss", verbose=1)
    fit(model, cr.nn.CrossEntropyLoss(), sgd(model), *blobs(10), epochs=2, callbacks=[checkpoint], verbose=2)
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(" ")[0] for line in lines] == ["Epoch", "ModelCheckpoint:", "Epoch", "ModelCheckpoint:"]
    assert lines[1].endswith("ckpt-1.safetensors")


def test_a_callbacks_own_verbose_speaks_when_fit_is_silent(capsys):
    from chainrule.train import TerminateOnNaN

    model = mlp()
    X, y = blobs(4)
    with np.errstate(invalid="ignore"):
        fit(model, NaNAfter(2), sgd(model), X, y, batch_size=1, shuffle=False,
            callbacks=[TerminateOnNaN()], verbose=0, terminate_on_nan=False)  # fmt: skip
    assert (
        capsys.readouterr().err.strip() == "TerminateOnNaN: the loss became nan at epoch 1, batch 1; training stopped"
    )


class NaNAfter:
    """Cross-entropy, NaN from the ``n``-th call on."""

    def __init__(self, n):
        self.n, self.calls = n, 0

    def __call__(self, out, y):
        self.calls += 1
        loss = F.cross_entropy(out, y)
        return loss * float("nan") if self.calls >= self.n else loss


# --- non-finite data and losses -------------------------------------------------------------------


def test_a_nan_loss_stops_fit_before_its_step_by_default(capsys):
    model = mlp()
    opt = sgd(model)
    history = fit(model, NaNAfter(3), opt, *blobs(8), epochs=4, batch_size=2, shuffle=False, verbose=0)
    assert opt.steps == 2 and history.epoch == [1]
    assert all(np.isfinite(p.numpy()).all() for p in model.parameters())
    assert history.stop_reason.startswith("fit: the loss became nan at epoch 1, batch 2; training stopped before")
    assert history.stop_reason in capsys.readouterr().err  # said even with verbose=0
    assert math.isnan(history["loss"][0])


def test_terminate_on_nan_false_trains_on():
    model = mlp()
    opt = sgd(model)
    with np.errstate(invalid="ignore"):
        history = fit(model, NaNAfter(3), opt, *blobs(8), epochs=2, batch_size=2, verbose=0, terminate_on_nan=False)
    assert opt.steps == 8 and history.stop_reason is None


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", ["X", "y"])
def test_non_finite_data_are_refused_before_training_naming_rows_and_columns(bad, where):
    X, y = blobs(12)
    y = y.astype(np.float32)[:, None]
    (X if where == "X" else y)[[3, 7], 0] = bad
    model = cr.nn.Linear(2, 1)
    opt = sgd(model)
    with pytest.raises(
        ValueError, match=rf"fit: {where} has 2 non-finite values \(NaN or inf\) in rows \[3, 7\], columns \[0\]"
    ):
        fit(model, cr.nn.MSELoss(), opt, X, y, verbose=0)
    assert opt.steps == 0


def test_values_too_large_for_the_models_dtype_are_named_as_such():
    X = np.ones((4, 2))
    X[1, 1] = 1e300  # finite in float64, inf in the model's float32
    model = cr.nn.Linear(2, 1)
    with pytest.raises(
        ValueError, match=r"X has 1 values too large for the model's float32 in rows \[1\], columns \[1\]"
    ):
        fit(model, cr.nn.MSELoss(), sgd(model), X, np.ones((4, 1)), verbose=0)


def test_long_lists_of_rows_are_cut_short():
    X = np.full((100, 2), np.nan)
    model = cr.nn.Linear(2, 1)
    with pytest.raises(ValueError, match=r"in rows \[0, 1, 2, 3, 4, \.\.\.\], columns \[0, 1\]"):
        fit(model, cr.nn.MSELoss(), sgd(model), X, np.ones((100, 1)), verbose=0)


def test_non_finite_validation_data_dataloaders_and_predict_inputs_are_refused():
    X, y = blobs(8)
    bad = X.copy()
    bad[2, 1] = np.nan
    model = mlp()
    with pytest.raises(ValueError, match=r"fit \(validation\): X has 1 non-finite"):
        fit(model, cr.nn.CrossEntropyLoss(), sgd(model), X, y, validation_data=(bad, y), verbose=0)
    with pytest.raises(ValueError, match=r"fit: the DataLoader's array 0 has 1 non-finite values"):
        fit(model, cr.nn.CrossEntropyLoss(), sgd(model), DataLoader((bad, y)), verbose=0)
    with pytest.raises(ValueError, match=r"predict: X has 1 non-finite values \(NaN or inf\) in rows \[2\]"):
        cr.train.predict(model, bad)
    with pytest.raises(ValueError, match=r"evaluate: X has 1 non-finite"):
        cr.train.evaluate(model, cr.nn.CrossEntropyLoss(), bad, y)


def test_fit_on_no_rows_is_refused():
    model = mlp()
    with pytest.raises(ValueError, match="fit: there are no training samples"):
        fit(model, cr.nn.CrossEntropyLoss(), sgd(model), np.zeros((0, 2)), np.zeros(0, dtype=int), verbose=0)
