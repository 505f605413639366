"""Four classics, one neuron each: perceptron, logistic regression, linear SVM, linear regression.

Each is a weighted sum s = w·x + b followed by an activation, trained by gradient descent on a
loss; they differ only in the activation and the loss:

    Perceptron          step       max(0, -y s)       (the perceptron criterion: Rosenblatt's rule)
    LogisticRegression  sigmoid    log-loss
    LinearSVC           identity   squared hinge max(0, 1 - y s)²
    LinearRegression    identity   squared error (y - s)², classifying by s > 0.5

On well-separated data all four draw a good line, each a slightly different one. Then one
mislabelled point far from the others: the perceptron's loss has no squashing, every mistake is a
full step w <- w + y x, and a far-away point makes a big step. The data can no longer be separated,
so the perceptron never settles: its line swings from epoch to epoch. Logistic regression squashes
the score through a sigmoid: the outlier's pull is one bounded term of a mean, and its line barely
moves.

Run:  python examples/one_neuron_models.py [--out examples/output]
Writes: one_neuron_models.png, one picture: the four boundaries side by side (top row), and the
outlier (bottom row): the perceptron's swinging line, logistic regression's steady one, and the
accuracy of each on the other points after every epoch.
"""

import argparse
import os
import warnings

import numpy as np
from matplotlib.figure import Figure

from chainrule.estimators import LinearRegression, LinearSVC, LogisticRegression, Perceptron
from chainrule.viz import plot_decision_boundary

OUTLIER = np.array([[5.0, 4.5]])  # deep in class 1's corner ...
OUTLIER_LABEL = 0  # ... but labelled class 0
EPOCHS = 50  # the perceptron's epochs on the data with the outlier
LAST_EPOCHS = 20  # its line is drawn after each of its last epochs


def make_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two Gaussian blobs, 60 points each, separable with a clear margin."""
    rng = np.random.default_rng(seed)
    X = np.r_[rng.normal((-1.5, -1.0), 0.6, size=(60, 2)), rng.normal((1.5, 1.0), 0.6, size=(60, 2))]
    y = np.r_[np.zeros(60, dtype=int), np.ones(60, dtype=int)]
    return X, y


class ThresholdedRegression:
    """Linear regression used as a classifier: fit the 0/1 labels, predict class 1 when s > 0.5."""

    def __init__(self, regression: LinearRegression):
        self.regression = regression

    def fit(self, X: np.ndarray, y: np.ndarray) -> "ThresholdedRegression":
        self.regression.fit(X, y)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return (self.regression.predict(X) > 0.5).astype(int)


def boundary(ax, w: np.ndarray, b: float, level: float = 0.0, **style) -> None:
    """Draw the line w·x + b = level across the axes."""
    x1 = np.array(ax.get_xlim())
    ax.plot(x1, (level - b - w[0] * x1) / w[1], **style)


def accuracy(model, X: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(model.predict(X) == y))


def four_models(X: np.ndarray, y: np.ndarray, panels) -> None:
    """Fit the four models on (X, y) and draw each one's decision boundary into its panel."""
    models = {
        "Perceptron (step, perceptron criterion)": Perceptron(random_state=0),
        "LogisticRegression (sigmoid, log-loss)": LogisticRegression(random_state=0),
        "LinearSVC (identity, squared hinge)": LinearSVC(random_state=0),
        "LinearRegression (identity, squared error)": ThresholdedRegression(LinearRegression()),
    }
    for ax, (title, model) in zip(panels, models.items()):
        model.fit(X, y)
        fitted = getattr(model, "regression", model)
        w, b = fitted.coef_.ravel(), float(np.ravel(fitted.intercept_)[0])
        name = title.split(" ")[0]
        print(
            f"{name:<18}  w = [{w[0]:+.3f}, {w[1]:+.3f}]  b = {b:+.3f}  accuracy {accuracy(model, X, y):.0%}  "
            f"network {' -> '.join(type(m).__name__ for m in fitted.network_)}"
        )
        plot_decision_boundary(model, X, y, ax=ax, title=title, resolution=150)


def outlier(X: np.ndarray, y: np.ndarray, panels) -> None:
    """Add one mislabelled far-away point; train the perceptron and logistic regression one epoch at
    a time and draw their lines and their accuracy on the other points, epoch by epoch."""
    X_out, y_out = np.r_[X, OUTLIER], np.r_[y, OUTLIER_LABEL]

    # Both one epoch at a time (partial_fit), keeping the perceptron's line after every epoch.
    perceptron = Perceptron(random_state=0)
    stepwise_logistic = LogisticRegression(solver="adam", random_state=0)  # lbfgs has no partial_fit
    lines, clean, logistic_clean_by_epoch = [], [], []
    for _ in range(EPOCHS):
        perceptron.partial_fit(X_out, y_out, classes=[0, 1])
        stepwise_logistic.partial_fit(X_out, y_out, classes=[0, 1])
        lines.append((perceptron.coef_[0].copy(), float(perceptron.intercept_[0])))
        clean.append(accuracy(perceptron, X, y))
        logistic_clean_by_epoch.append(accuracy(stepwise_logistic, X, y))
    last = clean[-LAST_EPOCHS:]
    print(
        f"perceptron with the outlier: accuracy on the other points over its last {LAST_EPOCHS} epochs "
        f"from {min(last):.0%} to {max(last):.0%}; it made mistakes in every one of its {EPOCHS} epochs: "
        f"{all(loss > 0 for loss in perceptron.loss_curve_)}"
    )

    logistic = LogisticRegression(random_state=0).fit(X_out, y_out)
    logistic_clean = accuracy(logistic, X, y)
    without = LogisticRegression(random_state=0).fit(X, y)
    turn = np.degrees(
        np.arccos(
            np.dot(logistic.coef_[0], without.coef_[0])
            / np.linalg.norm(logistic.coef_[0])
            / np.linalg.norm(without.coef_[0])
        )
    )
    print(
        f"logistic regression with the outlier: accuracy on the other points {logistic_clean:.0%}; "
        f"its line turned by {turn:.1f} degrees"
    )

    left, middle, right = panels
    plot_decision_boundary(
        perceptron,
        X_out,
        y_out,
        ax=left,
        resolution=150,
        title=f"With an outlier, Perceptron: its line after each of the last {LAST_EPOCHS} epochs",
    )
    for w, b in lines[-LAST_EPOCHS:]:
        boundary(left, w, b, color="0.25", linewidth=0.8, alpha=0.6)
    plot_decision_boundary(
        logistic,
        X_out,
        y_out,
        ax=middle,
        resolution=150,
        title="With an outlier, LogisticRegression: the sigmoid squashes its pull",
    )
    boundary(
        middle,
        without.coef_[0],
        float(without.intercept_[0]),
        color="0.25",
        linestyle="--",
        linewidth=1.0,
        label="without the outlier",
    )
    for ax in (left, middle):
        ax.scatter(*OUTLIER.T, s=160, facecolors="none", edgecolors="red", linewidths=2, zorder=4, label="outlier")
        ax.legend(loc="lower right", fontsize="small")
    epochs = np.arange(1, EPOCHS + 1)
    right.plot(epochs, 100 * np.array(clean), marker=".", label="Perceptron")
    right.plot(epochs, 100 * np.array(logistic_clean_by_epoch), marker=".", label="LogisticRegression")
    right.set(
        title="Accuracy on the other 120 points after each epoch", xlabel="epoch", ylabel="accuracy (%)", ylim=(-2, 102)
    )
    right.grid(alpha=0.3)
    right.legend(loc="lower right", fontsize="small")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join("examples", "output"), help="folder for the PNGs")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    warnings.filterwarnings("ignore", message=".*maximum iterations")  # short fits are fine here
    X, y = make_data()
    fig = Figure(figsize=(20, 10), layout="constrained")
    top, bottom = fig.subfigures(2, 1)
    top.suptitle("Four one-neuron models on the same data: a weighted sum, an activation, a loss", fontsize=14)
    bottom.suptitle("One mislabelled point far away (red): the perceptron has no squashing", fontsize=14)
    four_models(X, y, top.subplots(1, 4))
    outlier(X, y, bottom.subplots(1, 3, width_ratios=[1.4, 1.4, 1]))
    path = os.path.join(args.out, "one_neuron_models.png")
    fig.savefig(path, dpi=90)
    print(f"saved {path}")


if __name__ == "__main__":
    main()
