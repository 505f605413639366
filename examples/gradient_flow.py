"""Gradient flow in a deep network: sigmoid in the 80s-90s, ReLU now.

Backpropagation multiplies the gradient, layer after layer on its way back to the input, by the
derivative of each activation and by each weight matrix. The sigmoid's derivative is at most 1/4,
so in a network of 10 layers with the small random weights of the time (PyTorch's default,
U(-1/sqrt(fan_in), 1/sqrt(fan_in)), LeCun et al.'s "Efficient BackProp", 1998) the gradient that
reaches the first layers is about a million times smaller than the last layer's: the early layers
hardly learn, and the network learns nothing. This is why deep networks were long thought
untrainable. The same network with ReLU (derivative 1 where active) and He initialisation (He et
al. 2015: weights scaled so that activations keep their size) passes the gradient back nearly
unchanged, and learns.

``chainrule.train.GradientMonitor`` records each layer's gradient norm and the update/weight
ratio ``||dw|| / ||w||`` of the optimizer's step; here it is a ``fit`` callback. In a loop of your
own (PyTorch style) call its ``record(model)`` after ``loss.backward()`` and
``record_update(model)`` after ``optimizer.step()``::

    monitor = GradientMonitor()
    for xb, yb in loader:
        optimizer.zero_grad()
        loss_fn(model(xb), yb).backward()
        monitor.record(model)
        optimizer.step()
        monitor.record_update(model)

Both networks: 64 -> 32 x 9 -> 10 on the 8x8 digits, SGD with momentum, the same data order.

Run:  python examples/gradient_flow.py [--out examples/output] [--epochs 10]
Writes: gradient_flow.png (the two networks' gradient flow, one row each).
"""

import argparse
import os

import numpy as np

import chainrule as cr
from chainrule import nn
from chainrule.data import load_digits
from chainrule.train import GradientMonitor, fit
from chainrule.viz.training import plot_gradient_flow

DEPTH = 10  # Linear layers
WIDTH = 32


def deep_mlp(activation: type[nn.Module], he_init: bool, seed: int = 0) -> nn.Sequential:
    """64 inputs -> DEPTH - 1 hidden layers of WIDTH units -> 10 logits."""
    cr.manual_seed(seed)
    layers, n_in = [], 64
    for _ in range(DEPTH - 1):
        linear = nn.Linear(n_in, WIDTH)
        if he_init:  # variance 2 / fan_in: a ReLU halves it, so each layer keeps its activations' size
            nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
            nn.init.zeros_(linear.bias)
        layers += [linear, activation()]
        n_in = WIDTH
    layers.append(nn.Linear(n_in, 10))
    return nn.Sequential(*layers)


def train(model: nn.Sequential, X: np.ndarray, y: np.ndarray, epochs: int) -> tuple[GradientMonitor, float]:
    """Train with the monitor watching the weight matrices; returns it and the final accuracy."""
    monitor = GradientMonitor(weights_only=True)
    optimizer = cr.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
    history = fit(model, nn.CrossEntropyLoss(), optimizer, X, y, epochs=epochs, batch_size=64,
                  metrics=["accuracy"], callbacks=[monitor], verbose=0, seed=0)  # fmt: skip
    return monitor, history["accuracy"][-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join("examples", "output"), help="folder for the PNG")
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)  # pixel values 0..16 -> 0..1
    runs = {
        "sigmoid, small random weights (1990)": deep_mlp(nn.Sigmoid, he_init=False),
        "ReLU, He initialisation (2015)": deep_mlp(nn.ReLU, he_init=True),
    }
    monitors, accuracies = {}, {}
    for label, model in runs.items():
        monitors[label], accuracies[label] = train(model, X, y, args.epochs)

    sigmoid, relu = (monitors[label].history for label in runs)
    print(f"Gradient norm of each layer's weights at the first step ({DEPTH} layers, the input's first):")
    print("| layer | sigmoid ||g|| | ReLU ||g|| | sigmoid ||dw||/||w|| | ReLU ||dw||/||w|| |")
    print("|---:|---:|---:|---:|---:|")
    for i, name in enumerate(sigmoid.names, 1):
        print(
            f"| {i} | {sigmoid.grad_norm[name][0]:.1e} | {relu.grad_norm[name][0]:.1e} "
            f"| {sigmoid.update_ratio[name][0]:.1e} | {relu.update_ratio[name][0]:.1e} |"
        )
    first, last = sigmoid.names[0], sigmoid.names[-1]
    for label, h in zip(runs, (sigmoid, relu)):
        print(
            f"{label}: first/last layer gradient {h.grad_norm[first][0] / h.grad_norm[last][0]:.1e}, "
            f"training accuracy after {args.epochs} epochs {accuracies[label]:.1%}"
        )
    path = os.path.join(args.out, "gradient_flow.png")
    plot_gradient_flow(monitors, path=path)
    print(f"saved {path}")


if __name__ == "__main__":
    main()
