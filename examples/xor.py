"""XOR: a hidden layer needs a non-linear activation.

XOR is 1 when exactly one of its two inputs is 1. No straight line separates its 1s from its 0s,
so no linear model can learn it. A 2-4-1 network with a tanh hidden layer learns it; the same
network with the identity as activation cannot, because a stack of linear layers is itself one
linear layer:  W2 (W1 x + b1) + b2 = (W2 W1) x + (W2 b1 + b2).

Run:  python examples/xor.py [--out examples/output]
Writes: xor_decision_boundaries.png (both networks side by side).
"""

import argparse
import os

import numpy as np

import chainrule as cr
from chainrule import nn
from chainrule.train import fit, predict
from chainrule.viz import plot_decision_boundary

# float64 rather than chainrule's default float32: the identity network's best outputs are all
# close to 0, and in float32 the sign of such tiny numbers would be rounding noise.
DTYPE = np.float64
X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=DTYPE)
y = np.array([[0], [1], [1], [0]], dtype=DTYPE)  # one column, as BCEWithLogitsLoss expects


def make_net(activation: nn.Module) -> nn.Sequential:
    """2 inputs -> 4 hidden units -> 1 output (a logit: positive means class 1)."""
    return nn.Sequential(nn.Linear(2, 4, dtype=DTYPE), activation, nn.Linear(4, 1, dtype=DTYPE))


def train(net: nn.Sequential, epochs: int) -> float:
    """Full-batch gradient descent with momentum on the four XOR points; returns the final loss."""
    optimizer = cr.optim.SGD(net.parameters(), lr=0.5, momentum=0.9)
    history = fit(net, nn.BCEWithLogitsLoss(), optimizer, X, y, epochs=epochs, batch_size=None, verbose=0)
    return history["loss"][-1]


def accuracy(logits: np.ndarray) -> float:
    return float(np.mean((logits > 0) == (y > 0)))


def collapse(net: nn.Sequential) -> tuple[np.ndarray, np.ndarray]:
    """The single linear model (W, b) that a Linear-Identity-Linear network computes."""
    W1, b1 = net[0].weight.numpy(), net[0].bias.numpy()
    W2, b2 = net[2].weight.numpy(), net[2].bias.numpy()
    return W2 @ W1, W2 @ b1 + b2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join("examples", "output"), help="folder for the PNG")
    parser.add_argument("--epochs", type=int, default=300)
    args = parser.parse_args()
    cr.manual_seed(0)  # the same initial weights every run

    # 1. With tanh in the hidden layer the network bends its decision boundary around XOR.
    tanh_net = make_net(nn.Tanh())
    tanh_loss = train(tanh_net, args.epochs)
    tanh_acc = accuracy(predict(tanh_net, X))
    print(f"tanh network:     loss {tanh_loss:.4f}  accuracy {tanh_acc:.0%}")

    # 2. With the identity it is a linear model in disguise. A straight line puts at most 3 of
    #    the 4 points on the right side; under log-loss the best linear model of XOR even gives
    #    up and says p = 0.5 for every point (all outputs 0, loss ln 2 = 0.6931).
    linear_net = make_net(nn.Identity())
    before = predict(linear_net, X)  # outputs of the random initial weights, for step 3
    W0, b0 = collapse(linear_net)
    linear_loss = train(linear_net, args.epochs)
    linear_out = predict(linear_net, X)
    linear_acc = accuracy(linear_out)
    print(
        f"identity network: loss {linear_loss:.4f}  accuracy {linear_acc:.0%}  "
        f"outputs {np.array2string(linear_out.ravel(), precision=1)}"
    )

    # 3. Multiply its two layers out: one weight matrix and one bias give the same outputs,
    #    before training (random weights) and after.
    W, b = collapse(linear_net)
    gap_before = np.abs(before - (X @ W0.T + b0)).max()
    gap_after = np.abs(linear_out - (X @ W.T + b)).max()
    print(
        f"identity network = one linear model x @ (W2 W1).T + (W2 b1 + b2): largest difference "
        f"{gap_before:.1e} before training, {gap_after:.1e} after"
    )
    print(f"XOR solved: tanh {tanh_acc == 1.0}, identity {linear_acc == 1.0}")

    # 4. Both decision boundaries side by side (a matplotlib Figure, no window needed).
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4.2), layout="constrained")
    left, right = fig.subplots(1, 2)
    labels = y.ravel().astype(int)
    plot_decision_boundary(tanh_net, X, labels, ax=left, title=f"2-4-1 with tanh: accuracy {tanh_acc:.0%}")
    plot_decision_boundary(
        linear_net, X, labels, ax=right, title=f"2-4-1 with identity (a linear model): accuracy {linear_acc:.0%}"
    )
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "xor_decision_boundaries.png")
    fig.savefig(path, dpi=110)
    print(f"saved {path}")


if __name__ == "__main__":
    main()
