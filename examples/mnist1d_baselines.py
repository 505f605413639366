"""MNIST-1D baselines: logistic regression, MLP, CNN and GRU, next to the published table.

MNIST-1D (Greydanus, "Scaling down deep learning", 2020) is a 1-D stand-in for MNIST: 4000
training and 1000 test signals of 40 values, 10 classes. Unlike MNIST it separates model families
clearly. The paper's table (test accuracy):

    logistic regression 32%   MLP 68%   CNN 94%   GRU 91%

The four models are the ones of the ``mnist1d`` repository (``mnist1d/models.py``):

* logistic regression: ``Linear(40, 10)``;
* MLP: ``Linear(40, 100)``, ReLU, ``Linear(100, 100)``, ReLU, ``Linear(100, 10)``;
* CNN: ``Conv1d(1, 25, 5, stride=2, padding=1)``, then twice ``Conv1d(25, 25, 3, stride=2,
  padding=1)``, ReLU after each, and ``Linear(125, 10)`` on the 25 channels x 5 positions;
* GRU: a bidirectional GRU with 6 hidden units per direction reading the signal one value per time
  step, and ``Linear(480, 10)`` on all 40 steps x 12 outputs.

The recipe is the repository's ``get_model_args()``: Adam, learning rate 1e-2, no weight decay,
batches of 100, 6000 steps (= 150 epochs of 40 batches). The accuracy printed is the test accuracy
after the last epoch.

Run:  python examples/mnist1d_baselines.py [--models logistic,mlp,cnn,gru] [--epochs 150]
          [--seed 0] [--out examples/output]
Writes: mnist1d_baselines.png (test accuracy per epoch for every model trained).
Needs the MNIST-1D data: the optional ``mnist1d`` package the first time (it is cached after).
On a laptop CPU the logistic regression and the MLP train in seconds, the CNN in about a minute,
the GRU (a Python loop over 40 time steps, both ways) in a few minutes.
"""

import argparse
import os
import time

import numpy as np

import chainrule as cr
from chainrule import nn
from chainrule.data import load_mnist1d
from chainrule.train import evaluate, fit

PUBLISHED = {"logistic": 0.32, "mlp": 0.68, "cnn": 0.94, "gru": 0.91}  # the paper's table
NAMES = {"logistic": "logistic regression", "mlp": "MLP", "cnn": "CNN", "gru": "GRU"}


class GRUClassifier(nn.Module):
    """(N, 40) signals -> a sequence of 40 steps with one value each -> (N, 10) scores."""

    def __init__(self, seq_len: int = 40, hidden: int = 6):
        super().__init__()
        self.seq_len = seq_len
        self.gru = nn.GRU(1, hidden, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(seq_len * 2 * hidden, 10)  # every step's forward and backward state

    def forward(self, x):
        n = x.shape[0]
        outputs, _ = self.gru(x.reshape(n, self.seq_len, 1))  # (N, 40, 12)
        return self.fc(outputs.reshape(n, -1))                 # (N, 480) -> (N, 10)


def build_model(name: str) -> nn.Module:
    """The model called ``name``: 'logistic', 'mlp', 'cnn' or 'gru'."""
    if name == "logistic":
        return nn.Linear(40, 10)
    if name == "mlp":
        return nn.Sequential(nn.Linear(40, 100), nn.ReLU(),
                             nn.Linear(100, 100), nn.ReLU(),
                             nn.Linear(100, 10))
    if name == "cnn":
        return nn.Sequential(                                     # input (N, 1, 40)
            nn.Conv1d(1, 25, 5, stride=2, padding=1), nn.ReLU(),  # (N, 25, 19)
            nn.Conv1d(25, 25, 3, stride=2, padding=1), nn.ReLU(),  # (N, 25, 10)
            nn.Conv1d(25, 25, 3, stride=2, padding=1), nn.ReLU(),  # (N, 25, 5)
            nn.Flatten(),                                          # (N, 125)
            nn.Linear(125, 10))
    if name == "gru":
        return GRUClassifier()
    raise ValueError(f"unknown model {name!r}; choose from {', '.join(PUBLISHED)}")


def inputs(name: str, X: np.ndarray) -> np.ndarray:
    """The CNN wants a channel axis, (N, 1, 40); the others take (N, 40)."""
    return X[:, None, :] if name == "cnn" else X


def train_one(name: str, data, epochs: int, seed: int, lr: float = 1e-2, batch_size: int = 100,
              verbose: int = 0):
    """Train model ``name`` with the paper's recipe; returns (test accuracy, seconds, History)."""
    cr.manual_seed(seed)  # the same initial weights and batch order every run
    model = build_model(name)
    optimizer = cr.optim.Adam(model.parameters(), lr=lr)
    X_train, X_test = inputs(name, data.X_train), inputs(name, data.X_test)
    start = time.perf_counter()
    history = fit(model, nn.CrossEntropyLoss(), optimizer, X_train, data.y_train,
                  epochs=epochs, batch_size=batch_size, metrics=["accuracy"],
                  validation_data=(X_test, data.y_test), verbose=verbose, seed=seed)
    seconds = time.perf_counter() - start
    accuracy = evaluate(model, nn.CrossEntropyLoss(), X_test, data.y_test,
                        metrics=["accuracy"])["accuracy"]
    return accuracy, seconds, history


def plot_curves(histories: dict, path: str) -> None:
    """Test accuracy per epoch, one line per model, with the published accuracy dotted."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, history in histories.items():
        line, = ax.plot(history.epoch, history["val_accuracy"], label=NAMES[name])
        ax.axhline(PUBLISHED[name], color=line.get_color(), linestyle=":", linewidth=1)
    ax.set_xlabel("epoch (40 steps of 100 samples)")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1)
    ax.set_title("MNIST-1D with chainrule (dotted: published accuracy)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="logistic,mlp,cnn,gru",
                        help="comma-separated subset of logistic,mlp,cnn,gru (default: all)")
    parser.add_argument("--epochs", type=int, default=150,
                        help="passes over the 4000 training signals (default 150 = 6000 steps)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and batches")
    parser.add_argument("--out", default=os.path.join("examples", "output"), help="folder for the PNG")
    parser.add_argument("--verbose", action="store_true", help="one line per epoch")
    args = parser.parse_args()
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    for name in names:
        if name not in PUBLISHED:
            parser.error(f"unknown model {name!r}; choose from {', '.join(PUBLISHED)}")

    data = load_mnist1d()
    print(f"MNIST-1D: train {data.X_train.shape}, test {data.X_test.shape}; "
          f"Adam lr 1e-2, batch 100, {args.epochs} epochs ({args.epochs * 40} steps)")

    rows, histories = [], {}
    for name in names:
        accuracy, seconds, history = train_one(name, data, args.epochs, args.seed,
                                               verbose=2 if args.verbose else 0)
        histories[name] = history
        rows.append((name, accuracy, seconds))
        print(f"{NAMES[name]}: test accuracy {accuracy:.3f} in {seconds:.1f}s", flush=True)

    print()
    print("| model | chainrule accuracy | published accuracy | train seconds |")
    print("|---|---:|---:|---:|")
    for name, accuracy, seconds in rows:
        print(f"| {NAMES[name]} | {100 * accuracy:.1f}% | {100 * PUBLISHED[name]:.0f}% | {seconds:.1f} |")

    path = os.path.join(args.out, "mnist1d_baselines.png")
    plot_curves(histories, path)
    print(f"\nsaved {path}")


if __name__ == "__main__":
    main()
