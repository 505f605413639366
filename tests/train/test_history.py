"""Tests for chainrule.train.History: recording, lookup, best, and plot."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.train import History, fit
from tests.train.support import blobs, mlp


def make_history(rows) -> History:
    h = History()
    for epoch, logs in enumerate(rows, 1):
        h.record(epoch, logs)
    return h


def test_record_keeps_one_list_per_key_in_first_seen_order():
    h = make_history([{"loss": 0.9, "val_loss": 1.0}, {"loss": 0.5, "val_loss": 0.7}])
    assert h.keys() == ["loss", "val_loss"]
    assert h.history == {"loss": [0.9, 0.5], "val_loss": [1.0, 0.7]}
    assert h["loss"] == [0.9, 0.5] and h.epoch == [1, 2]
    assert "loss" in h and "accuracy" not in h
    assert h.stop_reason is None
    assert repr(h) == "History(epochs=2, keys=['loss', 'val_loss'])"


def test_record_stores_plain_floats():
    h = make_history([{"loss": np.float32(0.5), "accuracy": np.int64(1)}])
    assert all(type(v) is float for column in h.history.values() for v in column)


def test_keys_that_come_and_go_are_padded_with_nan():
    h = make_history([{"loss": 1.0}, {"loss": 0.8, "lr": 0.1}, {"lr": 0.05}])
    assert h.epoch == [1, 2, 3]
    assert math.isnan(h["lr"][0]) and h["lr"][1:] == [0.1, 0.05]
    assert h["loss"][:2] == [1.0, 0.8] and math.isnan(h["loss"][2])


def test_epoch_numbers_are_kept_as_given():
    h = History()
    h.record(3, {"loss": 1.0})
    h.record(4, {"loss": 0.5})
    assert h.epoch == [3, 4] and h.best("loss") == (4, 0.5)


def test_a_missing_key_names_the_recorded_ones():
    h = make_history([{"loss": 1.0, "accuracy": 0.5}])
    with pytest.raises(KeyError, match=r"History has no 'val_loss'; recorded: \['accuracy', 'loss'\]"):
        h["val_loss"]


def test_best():
    h = make_history(
        [
            {"val_loss": 0.9, "val_accuracy": 0.5},
            {"val_loss": 0.4, "val_accuracy": 0.9},
            {"val_loss": 0.6, "val_accuracy": 0.7},
        ]
    )
    assert h.best() == (2, 0.4)
    assert h.best("val_accuracy", mode="max") == (2, 0.9)
    assert h.best("val_accuracy", mode="min") == (1, 0.5)


def test_best_picks_the_first_of_equal_values():
    h = make_history([{"loss": 1.0}, {"loss": 0.5}, {"loss": 0.5}])
    assert h.best("loss") == (2, 0.5)


def test_best_skips_nan():
    h = make_history([{"loss": 1.0}, {"loss": 0.8, "val_loss": 0.9}, {"loss": 0.7, "val_loss": 0.95}])
    assert h.best("val_loss") == (2, 0.9)
    assert h.best("val_loss", mode="max") == (3, 0.95)
    h = make_history([{"loss": float("nan")}, {"loss": 2.0}])
    assert h.best("loss") == (2, 2.0) and h.best("loss", mode="max") == (2, 2.0)


def test_best_with_nothing_to_choose_from():
    h = make_history([{"loss": float("nan")}])
    with pytest.raises(ValueError, match="History.best: 'loss' has no recorded value"):
        h.best("loss")
    with pytest.raises(KeyError, match="History has no 'val_loss'"):
        History().best()


def test_best_rejects_an_unknown_mode():
    h = make_history([{"loss": 1.0}])
    with pytest.raises(ValueError, match="History.best: mode must be 'min' or 'max', got 'maximum'"):
        h.best("loss", mode="maximum")


def test_fit_history_matches_the_keras_layout():
    X, y = blobs(20)
    model = mlp()
    h = fit(
        model,
        cr.nn.CrossEntropyLoss(),
        cr.optim.SGD(model.parameters(), lr=0.3),
        X,
        y,
        epochs=3,
        validation_split=0.2,
        metrics=["accuracy"],
        verbose=0,
        seed=0,
    )
    assert set(h.history) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr"}
    assert all(len(v) == 3 for v in h.history.values())
    epoch, value = h.best("val_loss")
    assert value == min(h["val_loss"]) and h["val_loss"][epoch - 1] == value


def test_plot_saves_a_png_and_returns_the_figure(tmp_path):
    import matplotlib  # noqa: F401  (a test dependency)

    h = make_history(
        [
            {"loss": 0.9, "val_loss": 1.0, "accuracy": 0.6, "lr": 0.1},
            {"loss": 0.5, "val_loss": 0.7, "accuracy": 0.8, "lr": 0.1},
        ]
    )
    path = tmp_path / "curves.png"
    fig = h.plot(path=path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [ax.get_title() for ax in fig.axes] == ["Loss", "Accuracy"]
    assert [ax.get_title() for ax in h.plot(metrics=["lr"]).axes] == ["Loss", "Lr"]


def test_recording_an_epoch_allocates_nothing_proportional_to_the_epochs_so_far():
    import tracemalloc

    history = History()
    for epoch in range(1, 20001):
        history.record(epoch, {"loss": 0.5, "lr": 0.1})
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        history.record(20001, {"loss": 0.5, "lr": 0.1})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak - before < 20_000  # a column of NaN for 20,000 epochs would be 160 kB
    assert history["loss"][-1] == 0.5 and len(history["lr"]) == 20001
