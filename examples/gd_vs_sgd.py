"""Full-batch gradient descent, stochastic gradient descent and mini-batch gradient descent.

The three are one training loop with a different batch size:
  batch_size=None  full-batch GD:  one step per epoch, along the exact gradient of the loss;
  batch_size=1     SGD:            one step per sample, along a noisy one-sample estimate;
  batch_size=32    mini-batch GD:  in between, and what is used in practice.
Here each trains the same logistic regression (one Linear layer and BCEWithLogitsLoss) on the
breast-cancer data, from the same initial weights, with the same learning rate, for the same
number of epochs (passes over the data).

Run:  python examples/gd_vs_sgd.py [--out examples/output]
Writes: gd_vs_sgd.png (the loss per epoch and per parameter update).
"""

import argparse
import os
import time

import numpy as np

import chainrule as cr
from chainrule import nn
from chainrule.data import load_breast_cancer, train_test_split
from chainrule.train import Callback, evaluate, fit

METHODS = {"full-batch GD (batch_size=None)": None, "SGD (batch_size=1)": 1, "mini-batch GD (batch_size=32)": 32}


class TrainingLoss(Callback):
    """After each epoch, the loss over the whole training set (``fit`` logs the average of the
    batch losses instead, measured while the weights were still changing)."""

    def __init__(self, X, y):
        self.X, self.y = X, y

    def on_train_begin(self, logs=None):
        self.losses, self.seconds = [], 0.0  # seconds spent here, to leave out of the timing

    def on_epoch_end(self, epoch, logs):
        start = time.perf_counter()
        self.losses.append(evaluate(self.context.model, self.context.loss_fn, self.X, self.y)["loss"])
        self.seconds += time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join("examples", "output"), help="folder for the PNG")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--lr", type=float, default=0.1)
    args = parser.parse_args()
    cr.manual_seed(0)

    # Data: 569 tumours, 30 measurements; standardise with the training set's mean and std.
    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)
    mean, std = X_train.mean(axis=0), X_train.std(axis=0)
    X_train, X_test = (X_train - mean) / std, (X_test - mean) / std
    y_train, y_test = y_train[:, None].astype(np.float32), y_test[:, None].astype(np.float32)

    model = nn.Linear(30, 1)  # logistic regression: one neuron, its sigmoid inside the loss
    loss_fn = nn.BCEWithLogitsLoss()
    initial = model.state_dict()  # every method starts from these weights
    start_loss = evaluate(model, loss_fn, X_train, y_train)["loss"]

    curves = {}
    print(f"{args.epochs} epochs, lr={args.lr}, {len(X_train)} training samples")
    for name, batch_size in METHODS.items():
        model.load_state_dict(initial)
        optimizer = cr.optim.SGD(model.parameters(), lr=args.lr)
        tracker = TrainingLoss(X_train, y_train)
        start = time.perf_counter()
        fit(
            model,
            loss_fn,
            optimizer,
            X_train,
            y_train,
            epochs=args.epochs,
            batch_size=batch_size,
            callbacks=[tracker],
            verbose=0,
            seed=0,
        )
        per_epoch = (time.perf_counter() - start - tracker.seconds) / args.epochs
        steps = -(-len(X_train) // (batch_size or len(X_train)))  # parameter updates per epoch
        test = evaluate(model, loss_fn, X_test, y_test, metrics=["accuracy"])
        curves[name] = (steps, [start_loss] + tracker.losses)
        print(
            f"{name:32s} {steps:4d} updates/epoch  {per_epoch * 1000:7.2f} ms/epoch  "
            f"train loss {tracker.losses[-1]:.4f}  test accuracy {test['accuracy']:.4f}"
        )

    # The loss against epochs (the same data seen) and against updates (the same steps taken).
    # Per epoch, SGD gets furthest: it takes 455 steps to full-batch GD's one. Per update,
    # full-batch and mini-batch GD make about the same progress: 32 samples estimate the
    # gradient well enough, at a fourteenth of the cost. SGD's one-sample steps are the noisiest,
    # and in Python each step has a fixed overhead, so it is the slowest per epoch.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4), layout="constrained")
    by_epoch, by_update = fig.subplots(1, 2)
    for (name, (steps, losses)), colour in zip(curves.items(), ("C0", "C3", "C2")):
        epochs = np.arange(len(losses))
        by_epoch.plot(epochs, losses, color=colour, marker="o", markersize=3, label=name)
        by_update.plot(epochs[1:] * steps, losses[1:], color=colour, marker="o", markersize=3, label=name)
    by_epoch.set(title="Training loss after each epoch", xlabel="epoch", ylabel="loss (whole training set)")
    by_update.set(
        title="The same, against parameter updates", xlabel="updates (log scale)", ylabel="loss", xscale="log"
    )
    for ax in (by_epoch, by_update):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(frameon=False)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "gd_vs_sgd.png")
    fig.savefig(path, dpi=110)
    print(f"saved {path}")


if __name__ == "__main__":
    main()
