"""Kill and resume: a run interrupted at any epoch and resumed with BackupAndRestore ends with the
weights, History and random state of a run that was never interrupted, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.train import (
    BackupAndRestore,
    Callback,
    CSVLogger,
    EarlyStopping,
    LearningRateScheduler,
    ModelCheckpoint,
    fit,
)
from tests.train.support import assert_same_weights


class Killed(Exception):
    """Stands for the process dying."""


class KillAt(Callback):
    """Dies in the middle of epoch ``epoch`` (after its first batch: the backup is of the epoch before)."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_batch_end(self, batch, logs):
        if self.current == self.epoch and batch == 1:
            raise Killed


def data():
    X, y = cr.data.load_iris(return_X_y=True)
    return ((X - X.mean(0)) / X.std(0)).astype(np.float32), y


def model_and_optimizer(kind):
    net = cr.nn.Sequential(cr.nn.Linear(4, 16), cr.nn.ReLU(), cr.nn.Dropout(0.3), cr.nn.Linear(16, 3))
    params = net.parameters()
    opt = cr.optim.Adam(params, lr=0.01) if kind == "adam" else cr.optim.SGD(params, lr=0.1, momentum=0.9)
    return net, opt


def train(kind, seed, callbacks, epochs=6):
    cr.manual_seed(7)
    net, opt = model_and_optimizer(kind)
    history = fit(net, cr.nn.CrossEntropyLoss(), opt, *data(), epochs=epochs, batch_size=16, seed=seed,
                  callbacks=callbacks, metrics=["accuracy", "f1"], validation_split=0.2, verbose=0)  # fmt: skip
    return net, history


@pytest.mark.parametrize("kind", ["adam", "sgd"])
@pytest.mark.parametrize("seed", [None, 3], ids=["global-rng", "seed"])
@pytest.mark.parametrize("kill_at", [1, 2, 5])
def test_killed_and_resumed_equals_uninterrupted(tmp_path, kind, seed, kill_at):
    straight, straight_history = train(kind, seed, [])

    with pytest.raises(Killed):
        train(kind, seed, [BackupAndRestore(tmp_path), KillAt(kill_at)])
    assert (tmp_path / "backup.safetensors").exists() == (kill_at > 1)

    cr.manual_seed(12345)  # a new process: other weights, another random state
    backup = BackupAndRestore(tmp_path)
    resumed, history = train(kind, seed, [backup])

    assert backup.resumed_from == (kill_at - 1 if kill_at > 1 else None)
    assert_same_weights(straight, resumed)
    assert history.epoch == straight_history.epoch
    assert history.history == straight_history.history
    assert history.keys() == straight_history.keys()  # the columns in the same order
    assert not (tmp_path / "backup.safetensors").exists()  # a finished run deletes its backup


def test_a_backup_beyond_the_runs_epochs_is_refused(tmp_path):
    with pytest.raises(Killed):
        train("sgd", None, [BackupAndRestore(tmp_path), KillAt(4)])
    with pytest.raises(ValueError, match="the backup .* is of epoch 3, beyond this run's epochs=2"):
        train("sgd", None, [BackupAndRestore(tmp_path)], epochs=2)


def test_initial_epoch_runs_the_remaining_epochs():
    net, _ = model_and_optimizer("sgd")
    history = fit(net, cr.nn.CrossEntropyLoss(), cr.optim.SGD(net.parameters(), lr=0.1), *data(), epochs=5,
                  initial_epoch=3, verbose=0)  # fmt: skip
    assert history.epoch == [4, 5]
    with pytest.raises(ValueError, match="initial_epoch must be a non-negative integer, got -1"):
        fit(net, cr.nn.CrossEntropyLoss(), cr.optim.SGD(net.parameters(), lr=0.1), *data(), initial_epoch=-1)


# ---------------------------------------------------------------- the state of the other callbacks
def run(tmp_path, make_callbacks, kill_at=None, epochs=12, seed=3, first=True):
    """Train with ``make_callbacks(optimizer)`` (and a backup in ``tmp_path``, first or last in the
    list), or without a backup when ``tmp_path`` is None; dies in epoch ``kill_at`` if given.
    Returns the network, the History, the optimizer and the callbacks."""
    cr.manual_seed(7)
    net, opt = model_and_optimizer("sgd")
    callbacks = list(make_callbacks(opt))
    if tmp_path is not None:
        backup = [BackupAndRestore(tmp_path)]
        callbacks = backup + callbacks if first else callbacks + backup
    if kill_at is not None:
        callbacks.append(KillAt(kill_at))
    history = fit(net, cr.nn.CrossEntropyLoss(), opt, *data(), epochs=epochs, batch_size=16, seed=seed,
                  callbacks=callbacks, metrics=["accuracy"], validation_split=0.2, verbose=0)  # fmt: skip
    return net, history, opt, callbacks


def killed_and_resumed(tmp_path, make_callbacks, kill_at, **kwargs):
    with pytest.raises(Killed):
        run(tmp_path, make_callbacks, kill_at=kill_at, **kwargs)
    assert (tmp_path / "backup.safetensors").exists()
    cr.manual_seed(12345)  # a new process
    return run(tmp_path, make_callbacks, **kwargs)


def assert_same_run(straight, resumed):
    (net_a, history_a, opt_a, _), (net_b, history_b, opt_b, _) = straight, resumed
    assert_same_weights(net_a, net_b)
    assert history_b.epoch == history_a.epoch  # the same stopping epoch
    assert history_b.history == history_a.history  # 'lr' included
    assert history_b.stop_reason == history_a.stop_reason
    assert opt_b.param_groups[0]["lr"] == opt_a.param_groups[0]["lr"]


def early_stopping(opt):
    return [EarlyStopping(monitor="val_loss", patience=2, min_delta=0.01, restore_best_weights=True)]


@pytest.mark.parametrize("first", [True, False], ids=["backup-first", "backup-last"])
@pytest.mark.parametrize("kill_at", [3, 9, 10])
def test_early_stopping_resumes_its_patience_and_best_weights(tmp_path, kill_at, first):
    straight = run(None, early_stopping)
    assert straight[1].epoch[-1] == 10 < 12  # it stops early (best epoch 8), after the kills below
    resumed = killed_and_resumed(tmp_path, early_stopping, kill_at, first=first)
    assert_same_run(straight, resumed)
    stopper, again = straight[3][0], next(cb for cb in resumed[3] if isinstance(cb, EarlyStopping))
    assert (again.best_epoch, again.stopped_epoch, again.best) == (
        stopper.best_epoch,
        stopper.stopped_epoch,
        stopper.best,
    )
    assert not (tmp_path / "backup.safetensors").exists()


def step_lr(opt):
    return [LearningRateScheduler(cr.optim.StepLR(opt, step_size=3, gamma=0.5))]


def plateau(opt):
    return [LearningRateScheduler(cr.optim.ReduceLROnPlateau(opt, factor=0.5, patience=0), monitor="val_loss")]


def one_cycle(opt):  # stepped once per epoch here: 12 epochs, and its momentum cycled too
    return [LearningRateScheduler(cr.optim.OneCycleLR(opt, max_lr=0.2, total_steps=12, three_phase=True))]


def warm_up_then_restarts(opt):
    warm_up = cr.optim.LinearLR(opt, start_factor=0.2, total_iters=3)
    restarts = cr.optim.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2, eta_min=0.01)
    return [LearningRateScheduler(cr.optim.SequentialLR(opt, [warm_up, restarts], milestones=[3]))]


@pytest.mark.parametrize(
    "make_callbacks",
    [step_lr, plateau, one_cycle, warm_up_then_restarts],
    ids=["StepLR", "ReduceLROnPlateau", "OneCycleLR", "SequentialLR"],
)
@pytest.mark.parametrize("kill_at", [2, 5, 9])
def test_a_learning_rate_schedule_resumes_where_it_was(tmp_path, make_callbacks, kill_at):
    straight = run(None, make_callbacks)
    assert len(set(straight[1]["lr"])) > 2  # the rate changes several times in the run
    resumed = killed_and_resumed(tmp_path, make_callbacks, kill_at)
    assert_same_run(straight, resumed)
    assert resumed[2].param_groups[0]["momentum"] == straight[2].param_groups[0]["momentum"]
    schedule_a, schedule_b = straight[3][0].schedule, resumed[3][1].schedule
    assert schedule_b.state_dict() == schedule_a.state_dict()


class EpochCounter(Callback):
    """A user's callback with state of its own, which it logs; it may or may not save it."""

    def on_train_begin(self, logs=None):
        self.count, self.seen = 0, []

    def on_epoch_end(self, epoch, logs):
        self.count += 1
        self.seen.append(round(logs["loss"], 3))
        logs["count"] = float(self.count)


class SavedEpochCounter(EpochCounter):
    def state_dict(self):
        return {"count": self.count, "seen": list(self.seen)}

    def load_state_dict(self, state):
        self.count, self.seen = state["count"], list(state["seen"])


def test_a_users_callback_that_defines_state_dict_is_resumed(tmp_path):
    def counter(opt):
        return [SavedEpochCounter()]

    straight = run(None, counter, epochs=6)
    resumed = killed_and_resumed(tmp_path, counter, 4, epochs=6)
    assert_same_run(straight, resumed)
    assert resumed[1]["count"] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert resumed[3][1].seen == straight[3][0].seen


def test_a_users_callback_without_state_dict_starts_afresh_as_documented(tmp_path):
    def counter(opt):
        return [EpochCounter()]

    resumed = killed_and_resumed(tmp_path, counter, 4, epochs=6)
    assert resumed[1]["count"] == [1.0, 2.0, 3.0, 1.0, 2.0, 3.0]  # epochs 1-3 from the backup, then anew
    assert_same_weights(run(None, counter, epochs=6)[0], resumed[0])  # the training itself is resumed


def test_a_csv_logger_and_a_checkpoint_resume_their_rows_and_best(tmp_path):
    def loggers(folder):
        def make(opt):
            checkpoint = ModelCheckpoint(str(folder / "best-{epoch}.safetensors"), save_best_only=True)
            return [CSVLogger(str(folder / "log.csv")), checkpoint]

        return make

    straight_dir, resumed_dir = tmp_path / "straight", tmp_path / "resumed"
    straight_dir.mkdir()
    resumed_dir.mkdir()
    straight = run(None, loggers(straight_dir), epochs=8)
    resumed = killed_and_resumed(tmp_path / "backup", loggers(resumed_dir), 6, epochs=8)
    assert_same_run(straight, resumed)
    assert (resumed_dir / "log.csv").read_text() == (straight_dir / "log.csv").read_text()
    assert (resumed_dir / "log.csv").read_text().count("\n") == 9  # a header and every epoch's row
    saved_a, saved_b = straight[3][1], resumed[3][2]
    assert [p.replace("resumed", "straight") for p in saved_b.saved] == saved_a.saved
    assert saved_b.best == saved_a.best


def test_a_backup_of_other_callbacks_is_refused_and_nothing_changes(tmp_path):
    with pytest.raises(Killed):
        run(tmp_path, early_stopping, kill_at=4)
    cr.manual_seed(7)
    net, opt = model_and_optimizer("sgd")
    before, rng = net.state_dict(), cr.random.default_generator().bit_generator.state
    message = r"holds the state of the callbacks \['EarlyStopping'\], but this run's callbacks with state are \[\]"
    with pytest.raises(ValueError, match=message):
        fit(net, cr.nn.CrossEntropyLoss(), opt, *data(), epochs=12, callbacks=[BackupAndRestore(tmp_path)], verbose=0)
    for name, value in net.state_dict().items():
        np.testing.assert_array_equal(value, before[name])
    assert cr.random.default_generator().bit_generator.state == rng
    assert opt.state == {}


def test_the_state_of_every_stateful_builtin_goes_through_a_checkpoint_file(tmp_path):
    net, opt = model_and_optimizer("sgd")
    stopper = EarlyStopping(restore_best_weights=True)
    stopper.wait, stopper.best, stopper.best_epoch, stopper.best_weights = 1, 0.5, 3, net.state_dict()
    schedule = LearningRateScheduler(cr.optim.ReduceLROnPlateau(opt))
    schedule.schedule.step(0.75)
    logger = CSVLogger(str(tmp_path / "log.csv"))
    logger.on_train_begin()
    logger.rows = [{"epoch": 1, "loss": 0.25}]
    callbacks = [stopper, schedule, logger, ModelCheckpoint(str(tmp_path / "m.safetensors"))]
    states = [cb.state_dict() for cb in callbacks]
    cr.io.save_checkpoint(tmp_path / "c.safetensors", net, extra=states)  # JSON and safetensors, no pickle
    loaded = cr.io.load_checkpoint(tmp_path / "c.safetensors", net)["extra"]
    fresh = [EarlyStopping(), LearningRateScheduler(cr.optim.ReduceLROnPlateau(opt)),
             CSVLogger(str(tmp_path / "log.csv")), ModelCheckpoint(str(tmp_path / "m.safetensors"))]  # fmt: skip
    for cb, state in zip(fresh, loaded):
        cb.load_state_dict(state)
    for cb, state in zip(fresh, states):
        again = cb.state_dict()
        weights = again.pop("best_weights", None)
        expected = {k: v for k, v in state.items() if k != "best_weights"}
        assert again == expected
        if weights is not None:
            for name, value in weights.items():
                np.testing.assert_array_equal(value, state["best_weights"][name])
    assert fresh[1].schedule.best == 0.75


def test_load_state_dict_names_what_does_not_fit():
    with pytest.raises(
        ValueError, match=r"EarlyStopping.load_state_dict: .*missing \['best_epoch'.*unexpected \['x'\]"
    ):
        EarlyStopping().load_state_dict({"wait": 0, "best": 1.0, "x": 1})
    with pytest.raises(ValueError, match=r"KillAt.load_state_dict: it keeps no state, but was given \['n'\]"):
        KillAt(1).load_state_dict({"n": 1})
    KillAt(1).load_state_dict({})  # nothing to take back
    assert KillAt(1).state_dict() == {}
