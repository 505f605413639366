"""Tests for chainrule.train.loop: fit, evaluate, predict, predict_proba."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import DataLoader
from chainrule.train import Callback, evaluate, fit, predict, predict_proba
from tests.train.support import CountingSGD, Recorder, assert_same_weights, blobs, mlp

LOSS = cr.nn.CrossEntropyLoss()


# --- History ------------------------------------------------------------------------------------


def test_fit_returns_history_with_one_value_per_epoch_for_each_key():
    X, y = blobs(40)
    model = mlp()
    history = fit(
        model,
        LOSS,
        cr.optim.SGD(model.parameters(), lr=0.3),
        X,
        y,
        epochs=3,
        batch_size=10,
        validation_data=blobs(12, seed=1),
        metrics=["accuracy", "f1"],
        verbose=0,
        seed=0,
    )
    assert isinstance(history, cr.train.History)
    assert history.keys() == ["loss", "accuracy", "f1", "val_loss", "val_accuracy", "val_f1", "lr"]
    assert history.epoch == [1, 2, 3]
    for key in history.keys():
        assert len(history[key]) == 3
        assert all(math.isfinite(v) for v in history[key])
    assert history["lr"] == [0.3, 0.3, 0.3]
    assert history.stop_reason is None


def test_the_epoch_loss_is_the_sample_weighted_mean_of_the_batch_losses():
    X, y = blobs(25)
    model = mlp()
    batch_losses = []

    class Spy(Callback):
        def on_batch_end(self, batch, logs):
            batch_losses.append((logs["loss"], logs["size"]))

    history = fit(
        model,
        LOSS,
        cr.optim.SGD(model.parameters(), lr=0.1),
        X,
        y,
        epochs=1,
        batch_size=10,
        callbacks=[Spy()],
        verbose=0,
        seed=0,
    )
    assert [n for _, n in batch_losses] == [10, 10, 5]
    expected = sum(loss * n for loss, n in batch_losses) / 25
    assert history["loss"][0] == pytest.approx(expected, rel=1e-12)


def test_validation_logs_equal_evaluate_after_the_epoch():
    X, y = blobs(30)
    Xv, yv = blobs(10, seed=3)
    model = mlp()
    history = fit(
        model,
        LOSS,
        cr.optim.SGD(model.parameters(), lr=0.2),
        X,
        y,
        epochs=2,
        batch_size=8,
        validation_data=(Xv, yv),
        metrics=["accuracy"],
        verbose=0,
        seed=0,
    )
    logs = evaluate(model, LOSS, Xv, yv, metrics=["accuracy"])
    assert history["val_loss"][-1] == pytest.approx(logs["loss"], rel=1e-6)
    assert history["val_accuracy"][-1] == logs["accuracy"]


def test_metric_functions_are_called_with_targets_and_outputs():
    X, y = blobs(20)
    model = mlp()
    calls = []

    def fraction_positive(y_true, outputs):
        calls.append((y_true.shape, outputs.shape))
        return float((outputs.argmax(axis=1) == 1).mean())

    history = fit(
        model,
        LOSS,
        cr.optim.SGD(model.parameters(), lr=0.1),
        X,
        y,
        epochs=1,
        batch_size=5,
        metrics=[fraction_positive],
        verbose=0,
        seed=0,
    )
    assert "fraction_positive" in history
    assert calls == [((20,), (20, 2))]


# --- batch size: GD, SGD and mini-batch are one loop -------------------------------------------


@pytest.mark.parametrize("batch_size, steps_per_epoch", [(None, 1), (1, 10), (3, 4), (5, 2), (10, 1), (64, 1)])
def test_batch_size_sets_the_number_of_optimizer_steps(batch_size, steps_per_epoch):
    X, y = blobs(10)
    model = mlp()
    opt = CountingSGD(model.parameters(), lr=0.1)
    fit(model, LOSS, opt, X, y, epochs=3, batch_size=batch_size, verbose=0, seed=0)
    assert opt.steps == 3 * steps_per_epoch


def test_full_batch_gradient_descent_equals_hand_written_gradient_descent():
    X, y = blobs(16)
    model, reference = mlp(seed=0), mlp(seed=0)
    fit(
        model, LOSS, cr.optim.SGD(model.parameters(), lr=0.5), X, y, epochs=5, batch_size=None, shuffle=False, verbose=0
    )
    opt = cr.optim.SGD(reference.parameters(), lr=0.5)
    for _ in range(5):
        opt.zero_grad()
        LOSS(reference(cr.tensor(X)), y).backward()
        opt.step()
    assert_same_weights(model, reference)


def test_sgd_with_batch_size_one_equals_hand_written_sgd_in_the_same_order():
    X, y = blobs(6)
    model, reference = mlp(seed=0), mlp(seed=0)
    fit(model, LOSS, cr.optim.SGD(model.parameters(), lr=0.1), X, y, epochs=2, batch_size=1, shuffle=False, verbose=0)
    opt = cr.optim.SGD(reference.parameters(), lr=0.1)
    for _ in range(2):
        for i in range(len(X)):
            opt.zero_grad()
            LOSS(reference(cr.tensor(X[i : i + 1])), y[i : i + 1]).backward()
            opt.step()
    assert_same_weights(model, reference)


@pytest.mark.parametrize("batch_size", [None, 1, 8])
def test_gd_sgd_and_minibatch_all_learn_a_separable_problem(batch_size):
    X, y = blobs(64)
    model = mlp()
    epochs = {None: 150, 1: 5, 8: 20}[batch_size]
    history = fit(
        model,
        LOSS,
        cr.optim.SGD(model.parameters(), lr=0.5),
        X,
        y,
        epochs=epochs,
        batch_size=batch_size,
        metrics=["accuracy"],
        verbose=0,
        seed=0,
    )
    assert history["loss"][-1] < history["loss"][0]
    assert history["accuracy"][-1] >= 0.9


# --- validation -------------------------------------------------------------------------------


def test_validation_split_holds_out_the_last_fraction_before_shuffling():
    X = np.arange(20, dtype=np.float32).reshape(-1, 1)
    y = np.arange(20) % 2
    model = Recorder()
    fit(
        model,
        LOSS,
        cr.optim.SGD(model.parameters(), lr=0.0),
        X,
        y,
        epochs=2,
        batch_size=4,
        validation_split=0.25,
        verbose=0,
        seed=0,
    )
    train_seen = np.concatenate(model.seen_train).ravel()
    val_seen = np.concatenate(model.seen_eval).ravel()
    assert sorted(train_seen[:15].tolist()) == list(range(15))  # first epoch: the first 15, shuffled
    assert train_seen[:15].tolist() != list(range(15))
    assert sorted(train_seen[15:].tolist()) == list(range(15))
    assert val_seen.tolist() == [15, 16, 17, 18, 19] * 2  # in order, after each epoch


def test_validation_split_rounds_the_held_out_count_up():
    X, y = blobs(10)
    model = Recorder(n_in=2)
    fit(
        model,
        LOSS,
        cr.optim.SGD(model.parameters(), lr=0.0),
        X,
        y,
        epochs=1,
        batch_size=None,
        validation_split=0.15,
        verbose=0,
    )
    assert len(model.seen_train[0]) == 8 and len(model.seen_eval[0]) == 2


def test_validation_data_as_tuple_and_as_dataloader_give_the_same_logs():
    X, y = blobs(30)
    Xv, yv = blobs(12, seed=5)
    histories = []
    for validation in [(Xv, yv), DataLoader((Xv, yv), batch_size=5)]:
        model = mlp()
        histories.append(
            fit(
                model,
                LOSS,
                cr.optim.SGD(model.parameters(), lr=0.2),
                X,
                y,
                epochs=2,
                batch_size=10,
                validation_data=validation,
                metrics=["accuracy"],
                verbose=0,
                seed=0,
            )
        )
    assert histories[0]["val_accuracy"] == histories[1]["val_accuracy"]
    np.testing.assert_allclose(histories[0]["val_loss"], histories[1]["val_loss"], rtol=1e-6)


def test_validation_does_not_train_and_runs_in_eval_mode():
    X, y = blobs(20)
    Xv, yv = blobs(8, seed=1)
    cr.manual_seed(0)
    model = cr.nn.Sequential(cr.nn.Linear(2, 8), cr.nn.Dropout(0.5), cr.nn.Linear(8, 2))
    history = fit(
        model,
        LOSS,
        cr.optim.SGD(model.parameters(), lr=0.0),
        X,
        y,
        epochs=3,
        batch_size=None,
        validation_data=(Xv, yv),
        verbose=0,
        seed=0,
    )
    # lr 0: the weights never change, so eval-mode validation (no dropout) is the same every epoch
    assert len(set(history["val_loss"])) == 1
    assert history["val_loss"][0] == pytest.approx(evaluate(model, LOSS, Xv, yv)["loss"], rel=1e-6)


# --- inputs -----------------------------------------------------------------------------------


def test_x_can_be_a_dataloader_of_inputs_and_targets():
    X, y = blobs(20)
    model, reference = mlp(seed=0), mlp(seed=0)
    opt = CountingSGD(model.parameters(), lr=0.2)
    fit(model, LOSS, opt, DataLoader((X, y), batch_size=5), epochs=2, verbose=0)
    fit(
        reference,
        LOSS,
        cr.optim.SGD(reference.parameters(), lr=0.2),
        X,
        y,
        epochs=2,
        batch_size=5,
        shuffle=False,
        verbose=0,
    )
    assert opt.steps == 8
    assert_same_weights(model, reference)


def test_shuffle_is_reproducible_with_a_seed():
    X, y = blobs(30)
    models = [mlp(seed=0) for _ in range(3)]
    for model, seed in zip(models, [7, 7, 8]):
        fit(model, LOSS, cr.optim.SGD(model.parameters(), lr=0.3), X, y, epochs=3, batch_size=4, verbose=0, seed=seed)
    assert_same_weights(models[0], models[1])
    assert not np.array_equal(models[0].state_dict()["0.weight"], models[2].state_dict()["0.weight"])


def test_shuffle_is_reproducible_with_manual_seed():
    X = np.arange(12, dtype=np.float32).reshape(-1, 1)
    y = np.zeros(12, dtype=np.int64)
    orders = []
    for seed in [3, 3, 4]:
        model = Recorder()
        cr.manual_seed(seed)
        fit(model, LOSS, cr.optim.SGD(model.parameters(), lr=0.1), X, y, epochs=2, batch_size=3, verbose=0)
        orders.append(np.concatenate(model.seen_train).ravel().tolist())
    assert orders[0] == orders[1]
    assert orders[0] != orders[2]
    assert orders[0][:12] != orders[0][12:]  # a new order each epoch


def test_shuffle_false_keeps_the_order():
    X = np.arange(8, dtype=np.float32).reshape(-1, 1)
    model = Recorder()
    fit(
        model,
        LOSS,
        cr.optim.SGD(model.parameters(), lr=0.1),
        X,
        np.zeros(8, dtype=np.int64),
        epochs=2,
        batch_size=3,
        shuffle=False,
        verbose=0,
    )
    assert np.concatenate(model.seen_train).ravel().tolist() == list(range(8)) * 2


def test_model_is_left_in_eval_mode_and_trains_in_train_mode():
    X, y = blobs(10)
    model = cr.nn.Sequential(cr.nn.Linear(2, 4), cr.nn.Dropout(0.2), cr.nn.Linear(4, 2))
    modes = []
    cb = cr.train.LambdaCallback(on_batch_end=lambda batch, logs: modes.append([m.training for m in model.modules()]))
    fit(
        model,
        LOSS,
        cr.optim.SGD(model.parameters(), lr=0.1),
        X,
        y,
        epochs=2,
        batch_size=5,
        validation_data=(X, y),
        callbacks=[cb],
        verbose=0,
    )
    assert all(all(m) for m in modes) and len(modes) == 4  # training mode again after validation
    assert not any(m.training for m in model.modules())


def test_float64_inputs_are_cast_to_the_model_dtype():
    X, y = blobs(12, dtype="float64")
    model = Recorder(n_in=2)
    fit(
        model,
        LOSS,
        cr.optim.SGD(model.parameters(), lr=0.1),
        X,
        y,
        epochs=1,
        batch_size=4,
        validation_data=(X, y),
        verbose=0,
    )
    assert {a.dtype for a in model.seen_train + model.seen_eval} == {np.dtype(np.float32)}
    assert model.linear.weight.dtype == np.float32
    assert predict(model, X).dtype == np.float32


def test_float64_batches_of_a_dataloader_are_cast_to_the_model_dtype():
    X, y = blobs(12, dtype="float64")
    model = Recorder(n_in=2)
    fit(
        model,
        LOSS,
        cr.optim.SGD(model.parameters(), lr=0.1),
        DataLoader((X, y), batch_size=4),
        epochs=1,
        validation_data=DataLoader((X, y), batch_size=6),
        verbose=0,
    )
    assert {a.dtype for a in model.seen_train + model.seen_eval} == {np.dtype(np.float32)}
    assert model.linear.weight.dtype == np.float32


def test_a_float64_model_keeps_float64_inputs():
    X, y = blobs(12, dtype="float64")
    model = Recorder(n_in=2).to(np.float64)
    fit(model, LOSS, cr.optim.SGD(model.parameters(), lr=0.1), X.astype(np.float32), y, epochs=1, verbose=0)
    assert {a.dtype for a in model.seen_train} == {np.dtype(np.float64)}


def test_regression_targets_and_tensors_are_accepted():
    X = np.random.default_rng(0).normal(size=(32, 3))
    w = np.array([[1.0], [-2.0], [0.5]])
    y = X @ w
    cr.manual_seed(0)
    model = cr.nn.Linear(3, 1)
    history = fit(
        model,
        cr.nn.MSELoss(),
        cr.optim.SGD(model.parameters(), lr=0.1),
        cr.tensor(X),
        cr.tensor(y),
        epochs=60,
        batch_size=8,
        metrics=["r2"],
        verbose=0,
        seed=0,
    )
    assert history["r2"][-1] > 0.99
    np.testing.assert_allclose(model.weight.numpy().ravel(), w.ravel(), atol=1e-2)


def test_zero_epochs_trains_nothing():
    X, y = blobs(10)
    model = mlp()
    before = model.state_dict()
    history = fit(model, LOSS, cr.optim.SGD(model.parameters(), lr=0.1), X, y, epochs=0, verbose=0)
    assert history.epoch == [] and history.keys() == []
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


# --- errors -----------------------------------------------------------------------------------


def _fit(**kwargs):
    X, y = kwargs.pop("X", None), kwargs.pop("y", None)
    if X is None:
        X, y = blobs(10)
    model = mlp()
    return fit(model, LOSS, cr.optim.SGD(model.parameters(), lr=0.1), X, y, verbose=0, **kwargs)


def test_mismatched_lengths_name_both():
    X, y = blobs(10)
    with pytest.raises(ValueError, match="X has 10 samples but y has 9"):
        _fit(X=X, y=y[:9])


def test_mismatched_lengths_name_both_with_a_validation_split():
    X, y = blobs(10)
    with pytest.raises(ValueError, match="X has 10 samples but y has 9"):
        _fit(X=X, y=y[:9], validation_split=0.2)


def test_mismatched_validation_lengths_name_both():
    with pytest.raises(ValueError, match="validation.*X has 4 samples but y has 3"):
        _fit(validation_data=(np.zeros((4, 2), np.float32), np.zeros(3, np.int64)))


@pytest.mark.parametrize("epochs", [-1, 2.5, "3", None, True])
def test_bad_epochs(epochs):
    with pytest.raises(ValueError, match="epochs must be a non-negative integer"):
        _fit(epochs=epochs)


@pytest.mark.parametrize("split", [-0.1, 1.0, 1.5])
def test_validation_split_out_of_range(split):
    with pytest.raises(ValueError, match=r"validation_split must be in \[0, 1\)"):
        _fit(validation_split=split)


def test_validation_split_that_leaves_nothing_to_train_on():
    X, y = blobs(2)
    with pytest.raises(ValueError, match="leaves no training"):
        _fit(X=X, y=y, validation_split=0.9)


def test_validation_split_without_targets():
    X, _ = blobs(10)
    with pytest.raises(ValueError, match="validation_split needs y"):
        _fit(X=X, y=None, validation_split=0.2)


def test_validation_data_and_split_together():
    with pytest.raises(ValueError, match="not both"):
        _fit(validation_data=blobs(4), validation_split=0.2)


def test_bad_validation_data():
    with pytest.raises(ValueError, match=r"validation_data must be \(X_val, y_val\) or a DataLoader"):
        _fit(validation_data=np.zeros((4, 2)))


def test_y_with_a_dataloader():
    X, y = blobs(10)
    with pytest.raises(ValueError, match="y must be None when X is a DataLoader"):
        _fit(X=DataLoader((X, y), batch_size=2), y=y)


def test_validation_split_with_a_dataloader():
    X, y = blobs(10)
    with pytest.raises(ValueError, match="validation_split needs arrays"):
        _fit(X=DataLoader((X, y), batch_size=2), validation_split=0.2)


def test_missing_targets():
    X, _ = blobs(10)
    with pytest.raises(ValueError, match="each batch must be \\(inputs, targets\\)"):
        _fit(X=X, y=None)


def test_not_a_module():
    with pytest.raises(TypeError, match="fit: model must be a chainrule.nn.Module, got function"):
        fit(lambda x: x, LOSS, None, *blobs(4), verbose=0)


def test_bad_verbose():
    model = mlp()
    with pytest.raises(ValueError, match="verbose must be 0, 1, 2 or 'auto', got 3"):
        fit(model, LOSS, cr.optim.SGD(model.parameters(), lr=0.1), *blobs(4), verbose=3)


def test_errors_change_nothing():
    X, y = blobs(10)
    model = mlp()
    before = model.state_dict()
    with pytest.raises(ValueError):
        fit(model, LOSS, cr.optim.SGD(model.parameters(), lr=0.1), X, y[:5], epochs=2, verbose=0)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


# --- progress output --------------------------------------------------------------------------


def test_verbose_2_prints_one_line_per_epoch_to_stderr(capsys):
    model = mlp()
    fit(model, LOSS, cr.optim.SGD(model.parameters(), lr=0.1), *blobs(10), epochs=3, metrics=["accuracy"], verbose=2)
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("Epoch 1/3") and "loss: " in lines[0] and "accuracy: " in lines[0]


def test_verbose_1_shows_a_progress_bar_on_stderr(capsys):
    import tqdm  # noqa: F401  (a test dependency)

    model = mlp()
    fit(model, LOSS, cr.optim.SGD(model.parameters(), lr=0.1), *blobs(10), epochs=2, batch_size=5, verbose=1)
    out, err = capsys.readouterr()
    assert out == ""
    assert "Epoch 1/2" in err and "Epoch 2/2" in err and "2/2" in err and "loss: " in err


def test_verbose_auto_is_one_line_per_epoch_when_stderr_is_not_a_terminal(capsys):
    model = mlp()
    fit(model, LOSS, cr.optim.SGD(model.parameters(), lr=0.1), *blobs(10), epochs=2)
    lines = capsys.readouterr().err.strip().splitlines()
    assert [line.split(" - ")[0] for line in lines] == ["Epoch 1/2", "Epoch 2/2"]


def test_verbose_0_prints_nothing(capsys):
    _fit(epochs=2)
    assert capsys.readouterr() == ("", "")


# --- resuming ---------------------------------------------------------------------------------


def _resumable_model() -> cr.nn.Module:
    return cr.nn.Sequential(cr.nn.Linear(4, 16), cr.nn.ReLU(), cr.nn.Dropout(0.3), cr.nn.Linear(16, 3))


@pytest.mark.parametrize(
    "make_optimizer",
    [
        lambda params: cr.optim.SGD(params, lr=0.1, momentum=0.9, nesterov=True),
        lambda params: cr.optim.Adam(params, lr=0.01),
    ],
    ids=["sgd-nesterov", "adam"],
)
def test_resumed_training_equals_uninterrupted_training_bit_for_bit(tmp_path, make_optimizer):
    X, y = cr.data.load_iris(return_X_y=True)
    X = ((X - X.mean(0)) / X.std(0)).astype(np.float32)

    cr.manual_seed(42)
    straight = _resumable_model()
    fit(straight, LOSS, make_optimizer(straight.parameters()), X, y, epochs=4, batch_size=16, verbose=0)

    cr.manual_seed(42)
    first = _resumable_model()
    opt = make_optimizer(first.parameters())
    fit(first, LOSS, opt, X, y, epochs=2, batch_size=16, verbose=0)
    path = tmp_path / "ckpt.safetensors"
    cr.io.save_checkpoint(path, first, opt, epoch=2)
    del first, opt

    cr.manual_seed(999)  # a new process: other weights, another random state
    resumed = _resumable_model()
    opt = make_optimizer(resumed.parameters())
    info = cr.io.load_checkpoint(path, resumed, opt)
    assert info["epoch"] == 2
    fit(resumed, LOSS, opt, X, y, epochs=2, batch_size=16, verbose=0)

    assert_same_weights(straight, resumed)


NEW_OPTIMIZERS = {
    "NAdam": dict(lr=0.01, decoupled_weight_decay=True, weight_decay=0.01),
    "RAdam": dict(lr=0.01, betas=(0.9, 0.9)),
    "Adamax": dict(lr=0.01),
    "Adadelta": dict(lr=1.0),
    "Rprop": dict(lr=0.01),
    "ASGD": dict(lr=0.05, t0=3),
}


@pytest.mark.parametrize("name", list(NEW_OPTIMIZERS))
def test_fit_trains_with_each_optimizer_compiled_or_not_under_a_schedule(name):
    """fit takes NAdam, RAdam, Adamax, Adadelta, Rprop and ASGD as it takes Adam: its compiled step
    gives the eager numbers, a scheduler changes their ``lr`` each epoch, and the loss goes down."""
    X, y = cr.data.load_iris(return_X_y=True)
    X = ((X - X.mean(0)) / X.std(0)).astype(np.float32)
    runs = []
    for compiled in (True, False):
        cr.manual_seed(0)
        model = cr.nn.Sequential(cr.nn.Linear(4, 16), cr.nn.ReLU(), cr.nn.Linear(16, 3))
        opt = getattr(cr.optim, name)(model.parameters(), **NEW_OPTIMIZERS[name])
        schedule = cr.train.LearningRateScheduler(cr.optim.StepLR(opt, step_size=2, gamma=0.5))
        history = fit(
            model, LOSS, opt, X, y, epochs=6, batch_size=150, callbacks=[schedule], compile=compiled, verbose=0
        )
        runs.append((model, history))
    (compiled_model, history), (eager_model, eager_history) = runs
    lr = NEW_OPTIMIZERS[name]["lr"]
    assert history["lr"] == pytest.approx([lr, lr, lr / 2, lr / 2, lr / 4, lr / 4])
    assert history["loss"][-1] < history["loss"][0]
    np.testing.assert_allclose(history["loss"], eager_history["loss"], rtol=1e-6)
    for a, b in zip(compiled_model.parameters(), eager_model.parameters()):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


# --- evaluate, predict, predict_proba ---------------------------------------------------------


def test_evaluate_averages_over_samples_whatever_the_batch_size():
    X, y = blobs(23)
    model = mlp()
    full = evaluate(model, LOSS, X, y, metrics=["accuracy"], batch_size=None)
    small = evaluate(model, LOSS, X, y, metrics=["accuracy"], batch_size=4)
    assert full["loss"] == pytest.approx(small["loss"], rel=1e-6)
    assert full["accuracy"] == small["accuracy"]
    assert full["loss"] == pytest.approx(float(LOSS(model(cr.tensor(X)), y).numpy()), rel=1e-6)


def test_evaluate_and_predict_keep_the_training_mode_and_build_no_graph():
    X, y = blobs(8)
    model = mlp().train()
    evaluate(model, LOSS, X, y)
    out = predict(model, X)
    assert model.training
    assert isinstance(out, np.ndarray) and out.shape == (8, 2)
    assert all(p.grad is None for p in model.parameters())


def test_evaluate_needs_targets():
    with pytest.raises(ValueError, match="evaluate: needs targets"):
        evaluate(mlp(), LOSS, DataLoader((np.zeros((4, 2), np.float32),), batch_size=2))


def test_predict_accepts_a_dataloader_and_rejects_no_samples():
    X, _ = blobs(9)
    model = mlp()
    np.testing.assert_allclose(predict(model, DataLoader((X,), batch_size=4)), predict(model, X), rtol=1e-6)
    with pytest.raises(ValueError, match="no samples"):
        predict(model, np.zeros((0, 2), np.float32))


def test_predict_proba_softmax_and_sigmoid():
    X, _ = blobs(6)
    model = mlp(n_out=3)
    p = predict_proba(model, X)
    logits = predict(model, X)
    expected = np.exp(logits - logits.max(1, keepdims=True))
    np.testing.assert_allclose(p, expected / expected.sum(1, keepdims=True), rtol=1e-5)
    binary = mlp(n_out=1)
    p = predict_proba(binary, X)
    z = predict(binary, X)
    assert p.shape == (6, 2)
    np.testing.assert_allclose(p[:, 1:], 1 / (1 + np.exp(-z)), rtol=1e-5)
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-6)
    probs = cr.nn.Sequential(mlp(n_out=3), cr.nn.Softmax(dim=1))
    np.testing.assert_array_equal(predict_proba(probs, X, from_logits=False), predict(probs, X))
