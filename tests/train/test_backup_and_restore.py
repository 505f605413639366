"""Kill and resume: a run interrupted at any epoch and resumed with BackupAndRestore ends with the
weights, History and random state of a run that was never interrupted, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.train import BackupAndRestore, Callback, fit
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
