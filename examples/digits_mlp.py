"""Handwritten digits with a multi-layer perceptron: train, stop early, test, plot.

The digits dataset (embedded in chainrule) holds 1797 images of 8x8 pixels, each pixel 0..16.
A 64-128-10 network with a ReLU hidden layer, trained with Adam on mini-batches, classifies
held-out digits with about 98% accuracy in a second or two.

Run:  python examples/digits_mlp.py [--out examples/output] [--quiet]
Writes: digits_loss.png (training and validation curves).
"""

import argparse
import os
import time

import numpy as np

import chainrule as cr
from chainrule import nn
from chainrule.data import load_digits, train_test_split
from chainrule.train import EarlyStopping, evaluate, fit, metrics, predict, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join("examples", "output"), help="folder for the PNG")
    parser.add_argument("--quiet", action="store_true", help="no per-epoch progress")
    args = parser.parse_args()
    cr.manual_seed(0)  # the same initial weights and batch order every run

    # Data: scale pixels to [0, 1]; keep 20% for the test and 10% of the rest for validation,
    # with every digit in the same proportion in each part (stratify).
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)
    X_train, X_val, y_train, y_val = train_test_split(X_train, y_train, test_size=0.1, stratify=y_train, random_state=0)
    print(f"train {len(X_train)}, validation {len(X_val)}, test {len(X_test)} images")

    # Model: 64 pixels -> 128 ReLU units -> 10 scores (logits), one per digit.
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    print(summary(model, (64,)))

    # Training: softmax cross-entropy with label smoothing (the target is 0.9 for the right digit
    # rather than 1, which keeps the network from becoming over-confident), Adam, batches of 32.
    # EarlyStopping watches the validation loss and puts back the best epoch's weights.
    optimizer = cr.optim.Adam(model.parameters(), lr=2e-3)
    stop = EarlyStopping(monitor="val_loss", patience=5, restore_best_weights=True)
    start = time.perf_counter()
    history = fit(
        model,
        nn.CrossEntropyLoss(label_smoothing=0.1),
        optimizer,
        X_train,
        y_train,
        epochs=200,
        batch_size=32,
        validation_data=(X_val, y_val),
        metrics=["accuracy"],
        callbacks=[stop],
        verbose=0 if args.quiet else "auto",
    )
    seconds = time.perf_counter() - start
    print(f"trained {len(history.epoch)} epochs in {seconds:.1f}s; {history.stop_reason}")

    # Test: the loss without smoothing, accuracy, macro F1 and the confusion matrix.
    results = evaluate(model, nn.CrossEntropyLoss(), X_test, y_test, metrics=["accuracy", "f1"])
    print(f"test loss: {results['loss']:.4f}")
    print(f"test accuracy: {results['accuracy']:.4f}")
    print(f"test macro F1: {results['f1']:.4f}")
    predicted = predict(model, X_test).argmax(axis=1)
    matrix = metrics.confusion_matrix(y_test, predicted, labels=np.arange(10))
    print(metrics.format_confusion_matrix(matrix, labels=range(10)))

    path = os.path.join(args.out, "digits_loss.png")
    history.plot(path=path)  # creates the folder if needed
    print(f"saved {path}")


if __name__ == "__main__":
    main()
