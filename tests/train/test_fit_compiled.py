"""fit compiles its step by default: the same training as eager, and a later fit replays at once."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule.compiler import CompileWarning
from chainrule.data import DataLoader
from chainrule.train import fit
from tests.train.support import assert_same_weights, blobs


def networks():
    return {
        "mlp": lambda: cr.nn.Sequential(cr.nn.Linear(8, 16), cr.nn.ReLU(), cr.nn.Dropout(0.3), cr.nn.Linear(16, 3)),
        "cnn": lambda: cr.nn.Sequential(
            _Channels(),
            cr.nn.Conv1d(1, 4, 3),
            cr.nn.BatchNorm1d(4),
            cr.nn.ReLU(),
            cr.nn.MaxPool1d(2),
            cr.nn.Flatten(),
            cr.nn.Linear(12, 3),
        ),  # fmt: skip
        "gru": lambda: _Sequence(cr.nn.GRU(2, 4, batch_first=True, bidirectional=True)),
        "lstm": lambda: _Sequence(cr.nn.LSTM(2, 4, batch_first=True)),
    }


class _Channels(cr.nn.Module):
    def forward(self, x):
        return x.reshape((x.shape[0], 1, -1))


class _Sequence(cr.nn.Module):
    def __init__(self, rnn):
        super().__init__()
        self.rnn = rnn
        self.out = cr.nn.Linear(rnn.hidden_size * (2 if rnn.bidirectional else 1), 3)

    def forward(self, x):
        seq, _ = self.rnn(x.reshape((x.shape[0], 4, 2)))
        return self.out(seq[:, -1])


def train(name, compile, epochs=3, **kwargs):
    X, y = blobs(50, n_features=8)
    y = y % 3
    cr.manual_seed(0)
    model = networks()[name]()
    opt = cr.optim.Adam(model.parameters(), lr=0.01)
    history = fit(
        model, cr.nn.CrossEntropyLoss(), opt, X, y, epochs=epochs, batch_size=8, verbose=0, compile=compile, **kwargs
    )
    return model, opt, history


@pytest.mark.parametrize("name", list(networks()))
def test_fit_compiled_trains_as_fit_eager(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)  # nothing here may fall back to eager
        eager = train(name, False, validation_split=0.2, metrics=["accuracy"])
        compiled = train(name, True, validation_split=0.2, metrics=["accuracy"])
    assert_same_weights(compiled[0], eager[0])
    assert compiled[2].history == eager[2].history
    steps = compiled[1]._fit_steps
    (step,) = steps.values()
    assert step.run.stats["replayed"] > 0 and step.run.stats["eager"] == 0


def test_a_later_fit_with_the_same_model_replays_at_once():
    model, opt, _ = train("mlp", True, epochs=1)
    (step,) = opt._fit_steps.values()
    recorded = step.run.stats["recorded"]
    X, y = blobs(16, n_features=8)
    loss = cr.nn.CrossEntropyLoss()  # another loss object: a step of its own, which replaces the first
    for _ in range(3):
        fit(model, loss, opt, X, y % 3, batch_size=8, verbose=0)
    (second,) = opt._fit_steps.values()
    assert second is not step and step.run.stats["recorded"] == recorded
    assert second.run.stats == {"recorded": 2, "replayed": 4, "eager": 0}  # recorded once, in the first fit


def test_the_compiled_step_is_left_out_of_pickles_and_copies():
    import copy

    model, opt, _ = train("mlp", True, epochs=1)
    assert opt._fit_steps
    assert not hasattr(pickle.loads(pickle.dumps(opt)), "_fit_steps")
    assert not hasattr(copy.deepcopy(opt), "_fit_steps")


def test_sample_weights_and_weighted_batches_compile():
    X, y = blobs(24, n_features=8)
    w = np.linspace(0.2, 2.0, 24).astype(np.float32)
    results = []
    for compile in (False, True):
        cr.manual_seed(0)
        model = networks()["mlp"]()
        opt = cr.optim.SGD(model.parameters(), lr=0.1)
        with warnings.catch_warnings():
            warnings.simplefilter("error", CompileWarning)
            fit(model, cr.nn.CrossEntropyLoss(), opt, X, y % 3, sample_weight=w, batch_size=6, verbose=0,
                compile=compile)  # fmt: skip
            fit(model, cr.nn.CrossEntropyLoss(), opt, DataLoader((X, y % 3, w), batch_size=6), verbose=0,
                compile=compile)  # fmt: skip
        results.append(model)
    assert_same_weights(results[1], results[0])


def test_a_nan_loss_still_stops_before_its_step():
    X, _ = blobs(40, n_features=8)
    y = X.sum(axis=1, keepdims=True)
    runs = []
    for compile in (False, True):
        cr.manual_seed(0)
        model = cr.nn.Linear(8, 1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # the overflow itself
            history = fit(model, cr.nn.MSELoss(), cr.optim.SGD(model.parameters(), lr=3.0), X, y, epochs=50,
                          batch_size=4, verbose=0, compile=compile)  # fmt: skip
        assert "the loss became" in history.stop_reason
        assert all(np.isfinite(v).all() for v in model.state_dict().values())
        runs.append((history.stop_reason, model))
    assert runs[0][0] == runs[1][0]  # the same epoch and batch
    assert_same_weights(runs[1][1], runs[0][1])


def test_a_loss_with_python_state_trains_eagerly_and_says_so():
    class Counting:
        def __init__(self):
            self.calls = 0

        def __call__(self, out, y):
            self.calls += 1
            return cr.nn.functional.cross_entropy(out, y) * (2.0 if self.calls > 3 else 1.0)

    X, y = blobs(40, n_features=8)
    loss = Counting()
    model = networks()["mlp"]()
    with pytest.warns(CompileWarning, match="changes the Python attribute 'calls'"):
        fit(model, loss, cr.optim.SGD(model.parameters(), lr=0.1), X, y % 3, batch_size=4, verbose=0)
    assert loss.calls == 10  # every batch ran it


def test_compile_must_be_a_bool():
    X, y = blobs(8, n_features=8)
    model = networks()["mlp"]()
    with pytest.raises(ValueError, match="fit: compile must be True or False, got 'yes'"):
        fit(model, cr.nn.CrossEntropyLoss(), cr.optim.SGD(model.parameters(), lr=0.1), X, y, compile="yes")


def test_predict_and_evaluate_compiled_give_the_eager_outputs():
    from chainrule.train import evaluate, predict, predict_proba

    model, _, _ = train("cnn", True, epochs=1)  # BatchNorm and its running statistics, in eval mode
    X, y = blobs(50, n_features=8)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)
        for _ in range(2):  # the second time replays
            np.testing.assert_array_equal(
                predict(model, X, batch_size=16), predict(model, X, batch_size=16, compile=False)
            )
        p = predict_proba(model, X, batch_size=16)
        np.testing.assert_array_equal(p, predict_proba(model, X, batch_size=16, compile=False))
        loss = cr.nn.CrossEntropyLoss()
        assert evaluate(model, loss, X, y % 3, batch_size=16) == evaluate(
            model, loss, X, y % 3, batch_size=16, compile=False
        )
    with pytest.raises(ValueError, match="predict: compile must be True or False, got 1"):
        predict(model, X, compile=1)
