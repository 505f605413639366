"""Tests for chainrule.train.callbacks, driven through fit."""

from __future__ import annotations

import csv
import math
import os
import stat

import numpy as np
import pytest

import chainrule as cr
from chainrule.io import files
from chainrule.train import (
    Callback,
    CSVLogger,
    EarlyStopping,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    TerminateOnNaN,
    fit,
)
from tests.train.support import CountingSGD, blobs, mlp, weights

LOSS = cr.nn.CrossEntropyLoss()


def scripted(values):
    """A metric named 'score' that returns ``values`` one per epoch (fit calls it once per epoch)."""
    it = iter(values)

    def score(y_true, outputs):
        return next(it)

    return score


def train(values=None, callbacks=(), epochs=None, lr=0.1, model=None, **kwargs):
    """fit a small MLP for len(values) epochs, logging ``values`` as 'score'."""
    X, y = blobs(20)
    model = model if model is not None else mlp()
    metrics = [scripted(values)] if values is not None else kwargs.pop("metrics", None)
    return fit(
        model,
        LOSS,
        kwargs.pop("optimizer", None) or cr.optim.SGD(model.parameters(), lr=lr),
        X,
        y,
        epochs=epochs or len(values),
        batch_size=5,
        metrics=metrics,
        callbacks=list(callbacks),
        verbose=0,
        seed=0,
        **kwargs,
    )


# --- EarlyStopping ----------------------------------------------------------------------------


@pytest.mark.parametrize("patience, epochs_run", [(0, 3), (1, 3), (2, 4), (3, 5), (4, 6), (5, 8)])
def test_early_stopping_stops_after_patience_epochs_without_improvement(patience, epochs_run):
    # best at epoch 2; then no improvement until epoch 7 (which improves, and the run has 8 epochs)
    values = [1.0, 0.9, 0.95, 0.9, 0.91, 0.93, 0.5, 0.6]
    es = EarlyStopping(monitor="score", patience=patience)
    history = train(values, [es])
    assert len(history.epoch) == epochs_run
    if epochs_run < len(values):
        assert es.stopped_epoch == epochs_run
        assert history.stop_reason.startswith("EarlyStopping: score did not improve")
        assert "best 0.9 at epoch 2" in history.stop_reason


def test_early_stopping_runs_to_the_end_while_improving():
    es = EarlyStopping(monitor="score", patience=0)
    history = train([5, 4, 3, 2, 1], [es])
    assert len(history.epoch) == 5
    assert es.stopped_epoch is None and history.stop_reason is None
    assert (es.best, es.best_epoch) == (1, 5)


def test_early_stopping_min_delta():
    values = [1.0, 0.95, 0.92, 0.9, 0.5]
    assert len(train(values, [EarlyStopping(monitor="score", patience=1, min_delta=0.1)]).epoch) == 2
    assert len(train(values, [EarlyStopping(monitor="score", patience=1, min_delta=0.01)]).epoch) == 5
    # a change of exactly min_delta does not count (more than min_delta is needed)
    assert len(train([1.0, 0.75, 0.5], [EarlyStopping(monitor="score", patience=0, min_delta=0.25)]).epoch) == 2
    assert len(train([1.0, 0.75, 0.5], [EarlyStopping(monitor="score", patience=0, min_delta=0.2)]).epoch) == 3


@pytest.mark.parametrize(
    "monitor, mode",
    [
        ("val_accuracy", "max"),
        ("accuracy", "max"),
        ("val_acc", "max"),
        ("val_f1", "max"),
        ("r2", "max"),
        ("top_k_accuracy", "max"),
        ("val_loss", "min"),
        ("loss", "min"),
        ("val_mae", "min"),
        ("score", "min"),
    ],
)
def test_early_stopping_mode_auto(monitor, mode):
    assert EarlyStopping(monitor=monitor).mode == mode
    assert EarlyStopping(monitor=monitor, mode="max").mode == "max"


def test_early_stopping_maximises_accuracy():
    X, y = blobs(20)
    model = mlp()
    es = EarlyStopping(monitor="val_accuracy", patience=0)
    history = fit(
        model,
        LOSS,
        cr.optim.SGD(model.parameters(), lr=0.5),
        X,
        y,
        epochs=30,
        batch_size=5,
        validation_data=blobs(20, seed=1),
        metrics=["accuracy"],
        callbacks=[es],
        verbose=0,
        seed=0,
    )
    accuracies = history["val_accuracy"]
    assert es.best == max(accuracies)
    if es.stopped_epoch is not None:
        assert accuracies[-1] <= accuracies[-2]  # stopped on the first epoch that did not raise it


def test_early_stopping_restores_a_copy_of_the_best_weights():
    snapshots = []
    recorder = LambdaCallback(on_epoch_end=lambda epoch, logs: snapshots.append(weights(model)))
    model = mlp()
    es = EarlyStopping(monitor="score", patience=2, restore_best_weights=True)
    history = train([1.0, 0.5, 0.7, 0.8, 0.9], [recorder, es], model=model, lr=0.3)
    assert len(history.epoch) == 4
    assert es.best_epoch == 2
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, snapshots[1][k])  # epoch 2's weights, not those trained after
    assert not np.array_equal(model.state_dict()["0.weight"], snapshots[-1]["0.weight"])


def test_early_stopping_without_restore_keeps_the_last_weights():
    snapshots = []
    model = mlp()
    recorder = LambdaCallback(on_epoch_end=lambda epoch, logs: snapshots.append(weights(model)))
    train([1.0, 0.5, 0.7, 0.8], [recorder, EarlyStopping(monitor="score", patience=2)], model=model, lr=0.3)
    np.testing.assert_array_equal(model.state_dict()["0.weight"], snapshots[-1]["0.weight"])


def test_early_stopping_baseline():
    # never better than the baseline: stops after `patience` epochs
    es = EarlyStopping(monitor="score", patience=2, baseline=0.5)
    history = train([0.8, 0.7, 0.6, 0.55, 0.52], [es])
    assert len(history.epoch) == 2 and es.best_epoch is None
    # beating it resets the wait
    es = EarlyStopping(monitor="score", patience=2, baseline=0.5)
    history = train([0.8, 0.4, 0.45, 0.45, 0.3], [es])
    assert len(history.epoch) == 4 and es.best_epoch == 2


def test_early_stopping_baseline_with_restore_keeps_the_last_weights_when_never_beaten():
    model = mlp()
    snapshots = []
    recorder = LambdaCallback(on_epoch_end=lambda epoch, logs: snapshots.append(weights(model)))
    train(
        [0.8, 0.7],
        [recorder, EarlyStopping(monitor="score", patience=2, baseline=0.5, restore_best_weights=True)],
        model=model,
    )
    np.testing.assert_array_equal(model.state_dict()["0.weight"], snapshots[-1]["0.weight"])


def test_early_stopping_start_from_epoch():
    es = EarlyStopping(monitor="score", patience=0, start_from_epoch=2)
    history = train([1.0, 2.0, 3.0, 2.5, 2.6], [es])
    # epochs 1-2 are not watched; epoch 3 sets the best, epoch 4 improves, epoch 5 does not
    assert len(history.epoch) == 5 and es.best_epoch == 4 and es.stopped_epoch == 5


def test_early_stopping_is_reusable_across_fit_calls():
    es = EarlyStopping(monitor="score", patience=1, restore_best_weights=True)
    first = train([0.1, 0.2, 0.3], [es])
    assert len(first.epoch) == 2 and es.stopped_epoch == 2
    # without a reset, 0.1 from the first run would stop this one at its first epoch
    second = train([0.9, 0.8, 0.7, 0.6], [es])
    assert len(second.epoch) == 4
    assert (es.best, es.best_epoch, es.wait, es.stopped_epoch) == (0.6, 4, 0, None)
    assert second.stop_reason is None


def test_early_stopping_with_a_missing_monitor_lists_the_logged_keys():
    with pytest.raises(ValueError) as info:
        train(callbacks=[EarlyStopping()], epochs=2, metrics=["accuracy"])
    message = str(info.value)
    assert "EarlyStopping: monitor 'val_loss' is not among the logged values" in message
    assert "['accuracy', 'loss', 'lr']" in message
    assert "validation_data or validation_split" in message


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"patience": -1}, "patience and min_delta must be >= 0"),
        ({"min_delta": -0.1}, "patience and min_delta must be >= 0"),
        ({"mode": "maximum"}, "mode must be 'auto', 'min' or 'max', got 'maximum'"),
    ],
)
def test_early_stopping_validates_its_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        EarlyStopping(**kwargs)


def test_early_stopping_repr():
    assert (
        repr(EarlyStopping(monitor="val_accuracy", patience=3)) == "EarlyStopping(monitor='val_accuracy', patience=3)"
    )


# --- ModelCheckpoint --------------------------------------------------------------------------


def test_model_checkpoint_every_epoch_with_formatted_names(tmp_path):
    model = mlp()
    snapshots = []
    recorder = LambdaCallback(on_epoch_end=lambda epoch, logs: snapshots.append(weights(model)))
    ckpt = ModelCheckpoint(str(tmp_path / "m-{epoch:02d}-{score:.3f}.safetensors"))
    train([0.5, 0.25, 0.125], [recorder, ckpt], model=model)
    names = ["m-01-0.500.safetensors", "m-02-0.250.safetensors", "m-03-0.125.safetensors"]
    assert sorted(os.listdir(tmp_path)) == names
    assert ckpt.saved == [str(tmp_path / n) for n in names]
    for name, snapshot in zip(names, snapshots):
        loaded = cr.load(tmp_path / name)
        for k, v in loaded.state_dict().items():
            np.testing.assert_array_equal(v, snapshot[k])


def test_model_checkpoint_creates_the_folder(tmp_path):
    ckpt = ModelCheckpoint(str(tmp_path / "runs" / "a" / "m{epoch}.safetensors"))
    train([1.0, 1.0], [ckpt])
    assert sorted(os.listdir(tmp_path / "runs" / "a")) == ["m1.safetensors", "m2.safetensors"]


def test_model_checkpoint_save_best_only(tmp_path):
    ckpt = ModelCheckpoint(str(tmp_path / "e{epoch}-{val_loss:.3f}.safetensors"), save_best_only=True)
    X, y = blobs(20)
    model = mlp()
    history = fit(
        model,
        LOSS,
        cr.optim.SGD(model.parameters(), lr=5.0),
        X,
        y,
        epochs=8,
        batch_size=2,
        validation_data=blobs(20, seed=1),
        callbacks=[ckpt],
        verbose=0,
        seed=0,
    )
    val = history["val_loss"]
    best_so_far = [i for i in range(len(val)) if val[i] < min(val[:i], default=math.inf)]
    assert [os.path.basename(p) for p in ckpt.saved] == [f"e{i + 1}-{val[i]:.3f}.safetensors" for i in best_so_far]
    assert sorted(os.listdir(tmp_path)) == sorted(os.path.basename(p) for p in ckpt.saved)


def test_model_checkpoint_save_best_only_with_one_file_keeps_the_best(tmp_path):
    path = tmp_path / "best.safetensors"
    model = mlp()
    snapshots = []
    recorder = LambdaCallback(on_epoch_end=lambda epoch, logs: snapshots.append(weights(model)))
    ckpt = ModelCheckpoint(path, monitor="score", mode="max", save_best_only=True)
    train([0.5, 0.9, 0.7, 0.8], [recorder, ckpt], model=model)
    assert len(ckpt.saved) == 2
    best = cr.load(path)
    np.testing.assert_array_equal(best.state_dict()["0.weight"], snapshots[1]["0.weight"])


def test_model_checkpoint_weights_only(tmp_path):
    path = tmp_path / "w.safetensors"
    model = mlp()
    train([1.0], [ModelCheckpoint(path, save_weights_only=True)], model=model)
    state = cr.io.load_state_dict(path)
    assert list(state) == list(model.state_dict())
    np.testing.assert_array_equal(state["0.weight"], model.state_dict()["0.weight"])
    with pytest.raises(cr.io.ModelFileError, match="weights only"):
        cr.load(path)


def test_model_checkpoint_is_atomic_when_a_save_fails_midway(tmp_path, monkeypatch):
    path = tmp_path / "model.safetensors"
    model = mlp()
    ckpt = ModelCheckpoint(path)
    train([1.0], [ckpt], model=model)
    before = path.read_bytes()
    saved_weights = weights(model)

    def write_half_then_fail(fd, data):
        os.write(fd, bytes(data[: len(data) // 2]))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files, "_write_all", write_half_then_fail)
    with pytest.raises(OSError, match="No space left"):
        train([1.0], [ckpt], model=model)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.safetensors"]  # no temporary file left behind
    monkeypatch.undo()
    np.testing.assert_array_equal(cr.load(path).state_dict()["0.weight"], saved_weights["0.weight"])


def test_model_checkpoint_with_a_name_that_is_not_logged(tmp_path):
    ckpt = ModelCheckpoint(str(tmp_path / "m-{val_loss:.3f}.safetensors"))
    with pytest.raises(ValueError) as info:
        train([1.0], [ckpt])
    message = str(info.value)
    assert "ModelCheckpoint" in message and "'val_loss'" in message and "['loss', 'lr', 'score']" in message
    assert os.listdir(tmp_path) == []


def test_model_checkpoint_with_a_missing_monitor(tmp_path):
    with pytest.raises(ValueError, match="ModelCheckpoint: monitor 'val_loss' is not among the logged values"):
        train([1.0], [ModelCheckpoint(str(tmp_path / "m.safetensors"), save_best_only=True)])


def test_model_checkpoint_is_reusable(tmp_path):
    ckpt = ModelCheckpoint(str(tmp_path / "m{epoch}.safetensors"), monitor="score", save_best_only=True)
    train([0.1, 0.2], [ckpt])
    assert len(ckpt.saved) == 1
    train([0.9, 0.8], [ckpt])  # worse than the first run's best, but a new run starts afresh
    assert [os.path.basename(p) for p in ckpt.saved] == ["m1.safetensors", "m2.safetensors"]


# --- LearningRateScheduler --------------------------------------------------------------------


def test_lr_scheduler_with_a_function_of_the_epoch_and_lr():
    calls = []

    def schedule(epoch, lr):
        calls.append((epoch, lr))
        return 0.1 / epoch

    history = train([0] * 3, [LearningRateScheduler(schedule)], lr=0.7)
    assert calls == [(1, 0.7), (2, 0.1), (3, 0.05)]
    assert history["lr"] == pytest.approx([0.1, 0.05, 0.1 / 3])


def test_lr_scheduler_sets_the_lr_the_optimizer_uses():
    model = mlp()
    before = weights(model)
    train([0] * 2, [LearningRateScheduler(lambda epoch, lr: 0.0)], model=model, lr=0.5)
    assert all(np.array_equal(v, before[k]) for k, v in model.state_dict().items())


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf")])
def test_lr_scheduler_rejects_an_invalid_lr(bad):
    with pytest.raises(ValueError, match="invalid learning rate .* at epoch 1"):
        train([0], [LearningRateScheduler(lambda epoch, lr: bad)])


def test_lr_scheduler_with_step_lr():
    model = mlp()
    opt = cr.optim.SGD(model.parameters(), lr=1.0)
    history = train(
        [0] * 5, [LearningRateScheduler(cr.optim.StepLR(opt, step_size=2, gamma=0.1))], model=model, optimizer=opt
    )
    assert history["lr"] == pytest.approx([1.0, 1.0, 0.1, 0.1, 0.01])


def test_lr_scheduler_with_cosine_annealing():
    model = mlp()
    opt = cr.optim.SGD(model.parameters(), lr=1.0)
    history = train(
        [0] * 5, [LearningRateScheduler(cr.optim.CosineAnnealingLR(opt, T_max=4))], model=model, optimizer=opt
    )
    expected = [0.5 * (1 + math.cos(math.pi * t / 4)) for t in range(5)]
    assert history["lr"] == pytest.approx(expected)


def test_lr_scheduler_with_reduce_on_plateau():
    model = mlp()
    opt = cr.optim.SGD(model.parameters(), lr=1.0)
    plateau = cr.optim.ReduceLROnPlateau(opt, factor=0.5, patience=1)
    history = train([1.0] * 6, [LearningRateScheduler(plateau, monitor="score")], model=model, optimizer=opt)
    assert history["lr"] == pytest.approx([1.0, 1.0, 1.0, 0.5, 0.5, 0.25])


def test_lr_scheduler_with_reduce_on_plateau_and_a_missing_monitor():
    model = mlp()
    opt = cr.optim.SGD(model.parameters(), lr=1.0)
    with pytest.raises(ValueError, match="LearningRateScheduler: monitor 'val_loss' is not among the logged"):
        train([1.0], [LearningRateScheduler(cr.optim.ReduceLROnPlateau(opt))], model=model, optimizer=opt)


def test_lr_scheduler_rejects_what_is_not_a_schedule():
    with pytest.raises(TypeError, match="schedule must be a function"):
        LearningRateScheduler(0.1)


# --- CSVLogger --------------------------------------------------------------------------------


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_csv_logger_writes_a_header_and_one_row_per_epoch(tmp_path):
    path = tmp_path / "log.csv"
    history = train(callbacks=[CSVLogger(path)], epochs=3, metrics=["accuracy"], validation_data=blobs(8, seed=2))
    rows = read_csv(path)
    assert rows[0] == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr"]
    assert len(rows) == 4
    for i, row in enumerate(rows[1:]):
        assert row[0] == str(i + 1)
        assert [float(v) for v in row[1:]] == [history[k][i] for k in rows[0][1:]]  # exact round trip


def test_csv_logger_overwrites_or_appends(tmp_path):
    path = tmp_path / "log.csv"
    logger = CSVLogger(path)
    train([0.5, 0.25], [logger])
    train([0.1], [logger])  # a new run overwrites
    assert len(read_csv(path)) == 2
    appender = CSVLogger(path, append=True)
    train([0.2, 0.3], [appender])
    rows = read_csv(path)
    assert rows[0] == ["epoch", "loss", "score", "lr"]
    assert [r[0] for r in rows[1:]] == ["1", "1", "2"]
    assert [float(r[2]) for r in rows[1:]] == [0.1, 0.2, 0.3]


def test_csv_logger_append_to_a_missing_file_writes_the_header(tmp_path):
    path = tmp_path / "new.csv"
    train([0.5], [CSVLogger(path, append=True)])
    assert read_csv(path)[0] == ["epoch", "loss", "score", "lr"]


def test_csv_logger_appends_after_a_last_line_without_newline(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("epoch,loss,score,lr\n1,0.5,0.5,0.1")
    train([0.25], [CSVLogger(path, append=True)])
    rows = read_csv(path)
    assert [r[0] for r in rows] == ["epoch", "1", "1"] and all(len(r) == 4 for r in rows)


def test_csv_logger_separator(tmp_path):
    path = tmp_path / "log.tsv"
    train([0.5], [CSVLogger(path, separator="\t")])
    assert path.read_text().splitlines()[0] == "epoch\tloss\tscore\tlr"


def test_csv_logger_rows_survive_an_interrupted_run(tmp_path):
    path = tmp_path / "log.csv"

    class Boom(Callback):
        def on_epoch_end(self, epoch, logs):
            if epoch == 2:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train([0.5, 0.4, 0.3], [CSVLogger(path), Boom()])
    assert [r[0] for r in read_csv(path)[1:]] == ["1", "2"]


# --- TerminateOnNaN ---------------------------------------------------------------------------


class NaNAfter:
    """A loss that becomes ``value`` from its ``n``-th call on."""

    def __init__(self, n, value=float("nan")):
        self.n, self.value, self.calls = n, value, 0

    def __call__(self, outputs, targets):
        self.calls += 1
        loss = LOSS(outputs, targets)
        return loss * self.value if self.calls >= self.n else loss


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the NaN step itself
@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_terminate_on_nan_names_the_epoch_and_batch(value, capsys):
    X, y = blobs(40)
    model = mlp()
    opt = CountingSGD(model.parameters(), lr=0.1)
    # 4 batches per epoch: the 6th loss is epoch 2, batch 1 (batches count from 0)
    history = fit(
        model,
        NaNAfter(6, value),
        opt,
        X,
        y,
        epochs=5,
        batch_size=10,
        callbacks=[TerminateOnNaN()],
        verbose=0,
        seed=0,
        terminate_on_nan=False,
    )
    assert opt.steps == 6
    assert history.epoch == [1, 2]
    assert history.stop_reason == f"TerminateOnNaN: the loss became {value} at epoch 2, batch 1; training stopped"
    assert history.stop_reason in capsys.readouterr().err


def test_terminate_on_nan_leaves_finite_training_alone():
    history = train([1.0, 1.0, 1.0], [TerminateOnNaN()])
    assert len(history.epoch) == 3 and history.stop_reason is None


# --- LambdaCallback and the Callback base -----------------------------------------------------


def test_lambda_callback_hooks():
    events = []
    cb = LambdaCallback(
        on_train_begin=lambda logs=None: events.append("train_begin"),
        on_epoch_begin=lambda epoch, logs=None: events.append(("epoch_begin", epoch)),
        on_batch_begin=lambda batch, logs=None: events.append(("batch_begin", batch)),
        on_batch_end=lambda batch, logs: events.append(("batch_end", batch)),
        on_epoch_end=lambda epoch, logs: events.append(("epoch_end", epoch, sorted(logs))),
        on_train_end=lambda logs=None: events.append("train_end"),
    )
    X, y = blobs(6)
    model = mlp()
    fit(model, LOSS, cr.optim.SGD(model.parameters(), lr=0.1), X, y, epochs=2, batch_size=4, callbacks=[cb], verbose=0)

    def one_epoch(e):
        return [
            ("epoch_begin", e),
            ("batch_begin", 0),
            ("batch_end", 0),
            ("batch_begin", 1),
            ("batch_end", 1),
            ("epoch_end", e, ["loss", "lr"]),
        ]

    assert events == ["train_begin", *one_epoch(1), *one_epoch(2), "train_end"]


def test_lambda_callback_rejects_an_unknown_hook():
    with pytest.raises(ValueError, match="unknown hook 'on_step'"):
        LambdaCallback(on_step=print)
    with pytest.raises(ValueError, match="unknown hook 'set_context'"):
        LambdaCallback(set_context=print)


def test_a_custom_callback_sees_the_context_and_can_stop_training():
    X, y = blobs(20)
    model = mlp()
    opt = CountingSGD(model.parameters(), lr=0.1)

    class StopAtSecondBatch(Callback):
        def on_train_begin(self, logs=None):
            ctx = self.context
            self.seen = (ctx.model is model, ctx.optimizer is opt, ctx.loss_fn is LOSS, ctx.epochs, ctx.steps_per_epoch)

        def on_batch_end(self, batch, logs):
            assert set(logs) == {"loss", "size"} and logs["size"] == 5
            if batch == 1:
                self.context.stop("enough")

    cb = StopAtSecondBatch()
    history = fit(model, LOSS, opt, X, y, epochs=3, batch_size=5, callbacks=[cb], verbose=0)
    assert cb.seen == (True, True, True, 3, 4)
    assert opt.steps == 2
    assert history.epoch == [1] and history.stop_reason == "enough"
    assert not model.training


def test_stopping_at_the_end_of_an_epoch():
    class StopAfterEpoch2(Callback):
        def on_epoch_end(self, epoch, logs):
            if epoch == 2:
                self.context.stop("two is enough")

    history = train([1, 1, 1, 1], [StopAfterEpoch2()])
    assert history.epoch == [1, 2] and history.stop_reason == "two is enough"


def test_the_base_callback_does_nothing():
    history = train([1, 2], [Callback()])
    assert history.epoch == [1, 2]


def test_a_new_fit_clears_the_stop_flag():
    es = EarlyStopping(monitor="score", patience=0)
    train([1.0, 2.0], [es])
    history = train([3.0, 2.0, 1.0], [es])
    assert history.epoch == [1, 2, 3] and history.stop_reason is None


def test_text_files_get_the_umask_permissions_like_open(tmp_path):
    # a temporary file from mkstemp is private (0o600): the written file must not inherit that
    from chainrule.io.files import write_text_atomic

    old = os.umask(0o022)
    try:
        write_text_atomic(str(tmp_path / "report.json"), "{}\n")
        logger = CSVLogger(tmp_path / "log.csv")
        logger.on_train_begin()
        logger.on_epoch_end(1, {"loss": 0.5})
    finally:
        os.umask(old)
    for name in ("report.json", "log.csv"):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o644, name
    assert (tmp_path / "report.json").read_text() == "{}\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left


def test_learning_rate_scheduler_verbose_reports_each_epochs_rate(capsys):
    model = cr.nn.Linear(2, 1)
    fit(
        model,
        cr.nn.MSELoss(),
        cr.optim.SGD(model.parameters(), lr=0.1),
        np.ones((8, 2)),
        np.ones((8, 1)),
        epochs=2,
        verbose=0,
        callbacks=[LearningRateScheduler(lambda epoch, lr: lr / 2, verbose=1)],
    )
    err = capsys.readouterr().err
    assert "LearningRateScheduler: epoch 1, learning rate 0.05" in err
    assert "LearningRateScheduler: epoch 2, learning rate 0.025" in err
