"""MNIST-1D baselines: logistic regression, MLP, CNN and GRU, next to the published table.

MNIST-1D (Greydanus, "Scaling down deep learning", 2020) is a 1-D stand-in for MNIST: 4000
training and 1000 test signals of 40 values, 10 classes. Unlike MNIST it separates model families
clearly. The paper's table (test accuracy):

    logistic regression 32%   MLP 68%   CNN 94%   GRU 91%

The four models are the ones of the ``mnist1d`` repository (``notebooks/models.py``):

* logistic regression: ``Linear(40, 10)``;
* MLP: ``Linear(40, 100)`` and ReLU, then a *residual* block ``h + ReLU(Linear(100, 100)(h))``,
  then ``Linear(100, 10)`` (the repository's ``MLPBase``; without the skip connection the
  accuracy is the same within the spread between seeds);
* CNN: ``Conv1d(1, 25, 5, stride=2, padding=1)``, then twice ``Conv1d(25, 25, 3, stride=2,
  padding=1)``, ReLU after each, and ``Linear(125, 10)`` on the 25 channels x 5 positions;
* GRU: a bidirectional GRU with 6 hidden units per direction reading the signal one value per time
  step, and ``Linear(480, 10)`` on all 40 steps x 12 outputs.

The recipe is the repository's ``train.py`` as its notebooks run it: Adam, learning rate 1e-2, no
weight decay, batches of 100 taken in a fixed order (step k trains on samples 100k .. 100k + 99
modulo 4000: the data is never reshuffled), 6000 steps, the test accuracy measured every 250
steps. PyTorch's default initialisation, which chainrule's layers share. The data is the paper's:
``mnist1d``'s generator with its default arguments (seed 42), 4000 + 1000 samples.

What is printed, per model, over the seeds given: the test accuracy after the last step (mean
and standard deviation), and the best of the 24 measurements taken every 250 steps (mean). The
repository's own notebooks, run by its author with this very loop and models on the released
data, print after 6000 steps: 31.7%, 64.6%, 92.5%, 91.1% (quickstart, 2020) and 31.5%, 65.1%,
92.3%, 89.1% (2024), for logistic regression, MLP, CNN and GRU. The 68% of the MLP in the paper's
table is above what that loop gives; the MLP's accuracy also varies by ±1.5 points from seed to
seed. ``--order shuffled`` reshuffles the training set every epoch instead (``fit``'s default),
which gives the MLP about two points more (66.0% after the last step, five seeds; 31.6%,
93.3% and 90.4% for the other three).

Run:  python examples/mnist1d_baselines.py [--models logistic,mlp,cnn,gru] [--steps 6000]
          [--seeds 0,1,2,3,4] [--order fixed|shuffled] [--out examples/output]
Writes: mnist1d_baselines.png (test accuracy every 250 steps, first seed, every model trained).
Needs the MNIST-1D data: the optional ``mnist1d`` package the first time (it is cached after).
On a 2-core CPU one run takes about 2 s for the logistic regression, 6 s for the MLP, 17 s for the
CNN and a minute for the GRU (a loop over 40 time steps, both ways): 8 minutes for all four models
and five seeds.
"""

import argparse
import os
import time

import numpy as np

import chainrule as cr
from chainrule import nn
from chainrule.data import load_mnist1d
from chainrule.train import Callback, evaluate, fit

PUBLISHED = {"logistic": 0.32, "mlp": 0.68, "cnn": 0.94, "gru": 0.91}  # the paper's table
NAMES = {"logistic": "logistic regression", "mlp": "MLP", "cnn": "CNN", "gru": "GRU"}
BATCH = 100
EVAL_EVERY = 250  # steps between test measurements, as in the repository's train.py


class ResidualMLP(nn.Module):
    """The repository's MLP: 40 -> 100, then one residual block of width 100, then -> 10."""

    def __init__(self, inputs: int = 40, hidden: int = 100, classes: int = 10):
        super().__init__()
        self.linear1 = nn.Linear(inputs, hidden)
        self.linear2 = nn.Linear(hidden, hidden)
        self.linear3 = nn.Linear(hidden, classes)

    def forward(self, x):
        h = self.linear1(x).relu()
        h = h + self.linear2(h).relu()  # the skip connection
        return self.linear3(h)


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
        return self.fc(outputs.reshape(n, -1))  # (N, 480) -> (N, 10)


def build_model(name: str) -> nn.Module:
    """The model called ``name``: 'logistic', 'mlp', 'cnn' or 'gru'."""
    if name == "logistic":
        return nn.Linear(40, 10)
    if name == "mlp":
        return ResidualMLP()
    if name == "cnn":
        return nn.Sequential(  # input (N, 1, 40)
            nn.Conv1d(1, 25, 5, stride=2, padding=1),
            nn.ReLU(),  # (N, 25, 19)
            nn.Conv1d(25, 25, 3, stride=2, padding=1),
            nn.ReLU(),  # (N, 25, 10)
            nn.Conv1d(25, 25, 3, stride=2, padding=1),
            nn.ReLU(),  # (N, 25, 5)
            nn.Flatten(),  # (N, 125)
            nn.Linear(125, 10),
        )
    if name == "gru":
        return GRUClassifier()
    raise ValueError(f"unknown model {name!r}; choose from {', '.join(PUBLISHED)}")


def inputs(name: str, X: np.ndarray) -> np.ndarray:
    """The CNN wants a channel axis, (N, 1, 40); the others take (N, 40)."""
    return X[:, None, :] if name == "cnn" else X


class TestEvery(Callback):
    """Measure the test accuracy after every ``every``-th optimiser step (the repository's eval_every)."""

    def __init__(self, X_test: np.ndarray, y_test: np.ndarray, every: int = EVAL_EVERY):
        self.X_test, self.y_test, self.every = X_test, y_test, every
        self.steps, self.accuracy = 0, []  # accuracy[k] is measured after step (k + 1) * every

    def on_batch_end(self, batch, logs):
        self.steps += 1
        if self.steps % self.every == 0:
            logs = evaluate(self.context.model, nn.CrossEntropyLoss(), self.X_test, self.y_test, metrics=["accuracy"])
            self.accuracy.append(logs["accuracy"])


def train_one(name: str, data, steps: int = 6000, seed: int = 0, order: str = "fixed", lr: float = 1e-2) -> dict:
    """Train model ``name`` with the repository's recipe; returns final and best test accuracy,
    the curve measured every 250 steps and the seconds taken."""
    per_epoch = len(data.X_train) // BATCH
    if steps % per_epoch:
        raise ValueError(f"steps must be a multiple of {per_epoch} (whole passes over the data)")
    cr.manual_seed(seed)  # the same initial weights (and, shuffled, batch order) every run
    model = build_model(name)
    optimizer = cr.optim.Adam(model.parameters(), lr=lr)
    X_test = inputs(name, data.X_test)
    tracker = TestEvery(X_test, data.y_test)
    start = time.perf_counter()
    fit(
        model,
        nn.CrossEntropyLoss(),
        optimizer,
        inputs(name, data.X_train),
        data.y_train,
        epochs=steps // per_epoch,
        batch_size=BATCH,
        shuffle=order == "shuffled",
        seed=seed,
        callbacks=[tracker],
        verbose=0,
    )
    seconds = time.perf_counter() - start
    final = evaluate(model, nn.CrossEntropyLoss(), X_test, data.y_test, metrics=["accuracy"])["accuracy"]
    curve = tracker.accuracy or [final]
    return {"final": final, "best": max(curve), "curve": curve, "seconds": seconds}


def plot_curves(curves: dict, path: str) -> None:
    """Test accuracy every 250 steps, one line per model, with the published accuracy dotted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, curve in curves.items():
        steps = EVAL_EVERY * np.arange(1, len(curve) + 1)
        (line,) = ax.plot(steps, curve, label=NAMES[name])
        ax.axhline(PUBLISHED[name], color=line.get_color(), linestyle=":", linewidth=1)
    ax.set_xlabel("training step (batches of 100)")
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
    parser.add_argument(
        "--models", default="logistic,mlp,cnn,gru", help="comma-separated subset of logistic,mlp,cnn,gru (default: all)"
    )
    parser.add_argument(
        "--steps", type=int, default=6000, help="optimiser steps, a multiple of 40 (default 6000 = 150 epochs)"
    )
    parser.add_argument("--seeds", default="0,1,2,3,4", help="comma-separated seeds of the weights")
    parser.add_argument(
        "--order",
        choices=("fixed", "shuffled"),
        default="fixed",
        help="batches in the repository's fixed order, or reshuffled every epoch",
    )
    parser.add_argument("--out", default=os.path.join("examples", "output"), help="folder for the PNG")
    args = parser.parse_args()
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    for name in names:
        if name not in PUBLISHED:
            parser.error(f"unknown model {name!r}; choose from {', '.join(PUBLISHED)}")
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]

    data = load_mnist1d()
    print(
        f"MNIST-1D: train {data.X_train.shape}, test {data.X_test.shape}; Adam lr 1e-2, batch "
        f"{BATCH}, {args.steps} steps, {args.order} batch order, seeds {seeds}"
    )

    rows, curves = [], {}
    for name in names:
        runs = []
        for seed in seeds:
            run = train_one(name, data, args.steps, seed, args.order)
            runs.append(run)
            print(
                f"{NAMES[name]}, seed {seed}: test accuracy {run['final']:.3f} after the last step, "
                f"best {run['best']:.3f} ({run['seconds']:.1f}s)",
                flush=True,
            )
        curves[name] = runs[0]["curve"]
        final = np.array([r["final"] for r in runs])
        best = np.array([r["best"] for r in runs])
        rows.append((name, final.mean(), final.std(), best.mean(), np.mean([r["seconds"] for r in runs])))

    print()
    print(
        f"| model | chainrule, after {args.steps} steps | chainrule, best of every {EVAL_EVERY} "
        f"steps | published | seconds per run |"
    )
    print("|---|---:|---:|---:|---:|")
    for name, mean, std, best, seconds in rows:
        print(
            f"| {NAMES[name]} | {100 * mean:.1f}% ± {100 * std:.1f} | {100 * best:.1f}% | "
            f"{100 * PUBLISHED[name]:.0f}% | {seconds:.0f} |"
        )
    print(f"(mean over seeds {', '.join(map(str, seeds))}; ± is the standard deviation)")

    path = os.path.join(args.out, "mnist1d_baselines.png")
    plot_curves(curves, path)
    print(f"\nsaved {path}")


if __name__ == "__main__":
    main()
