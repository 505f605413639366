"""An MLP on the digits dataset reaches at least 97% test accuracy in a few seconds (issue 3)."""

from __future__ import annotations

import time

import numpy as np

import chainrule as cr
from chainrule import nn
from chainrule.data import load_digits, train_test_split
from chainrule.train import EarlyStopping, evaluate, fit, predict


def test_mlp_on_digits_reaches_97_percent():
    cr.manual_seed(0)
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)
    X_train, X_val, y_train, y_val = train_test_split(X_train, y_train, test_size=0.1, stratify=y_train, random_state=0)

    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    stop = EarlyStopping(monitor="val_loss", patience=5, restore_best_weights=True)
    start = time.perf_counter()
    history = fit(
        model,
        nn.CrossEntropyLoss(label_smoothing=0.1),
        cr.optim.Adam(model.parameters(), lr=2e-3),
        X_train,
        y_train,
        epochs=200,
        batch_size=32,
        validation_data=(X_val, y_val),
        metrics=["accuracy"],
        callbacks=[stop],
        verbose=0,
    )
    seconds = time.perf_counter() - start

    assert stop.stopped_epoch is not None, "early stopping should end training before 200 epochs"
    assert len(history.epoch) < 200
    test = evaluate(model, nn.CrossEntropyLoss(), X_test, y_test, metrics=["accuracy"])
    assert test["accuracy"] >= 0.97, f"test accuracy {test['accuracy']:.4f} after {len(history.epoch)} epochs"
    # the restored weights are the best epoch's: their validation loss is the best recorded
    best_epoch, _ = history.best("val_loss")
    assert best_epoch == stop.best_epoch
    labels = predict(model, X_test).argmax(axis=1)
    assert np.mean(labels == y_test) == test["accuracy"]
    print(f"digits MLP: {test['accuracy']:.4f} test accuracy, {len(history.epoch)} epochs, {seconds:.1f}s")
