"""Loss landscapes: a small network's loss is not one bowl but many valleys.

A network's loss is a function of all its weights at once, far too many dimensions to look at.
``chainrule.explain.landscape`` looks at it along a line or over a plane through weight space:

1. From the initial weights to the trained ones (Goodfellow, Vinyals and Saxe 2015): along the
   straight line ``(1 - t) * initial + t * trained`` the loss usually falls without a bump, as if
   training had walked down one simple slope.
2. That simplicity is misleading. Permute the hidden units of the trained network (rows of the
   first weight matrix and its bias, columns of the second matrix) and it computes exactly the
   same function, with the same loss: a second minimum. Halfway between the two the loss is high
   (averaging two different units gives a unit that does neither's job): there is a barrier, so
   the landscape cannot be convex.
3. The plane through the trained network and two permuted copies shows three separate valleys
   of equal depth, at (0, 0), (1, 0) and (0, 1).
4. A plane along two random directions through the trained weights, filter-normalised (Li et al.
   2018: each neuron's direction scaled to the size of that neuron's weights), shows the valley
   around the minimum that training found.

The data: 200 points in the square [-1, 1]^2, labelled by the sign of x1 * x2 (XOR's pattern);
the network 2 -> 16 (tanh) -> 2, trained full-batch with Adam.

Run:  python examples/loss_landscape.py [--out examples/output]
Writes: loss_landscape_line.png, loss_landscape_minima.png, loss_landscape_random.png.
"""

import argparse
import os

import numpy as np

import chainrule as cr
from chainrule import nn
from chainrule.explain.landscape import loss_landscape_1d, loss_landscape_2d
from chainrule.train import fit
from chainrule.viz.training import plot_loss_landscape

HIDDEN = 16
LOSS = nn.CrossEntropyLoss()


def make_data(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    X = np.random.default_rng(seed).uniform(-1, 1, size=(n, 2)).astype(np.float32)
    return X, (X[:, 0] * X[:, 1] > 0).astype(np.int64)


def permuted(state: dict, seed: int) -> dict:
    """The same network with its hidden units in another order: the same function, other weights."""
    order = np.random.default_rng(seed).permutation(HIDDEN)
    copy = dict(state)
    copy["0.weight"], copy["0.bias"] = state["0.weight"][order], state["0.bias"][order]
    copy["2.weight"] = state["2.weight"][:, order]
    return copy


def local_minima(losses: np.ndarray) -> list[tuple[int, int]]:
    """Grid points lower than all their (up to 8) neighbours."""
    found = []
    n, m = losses.shape
    for i in range(n):
        for j in range(m):
            around = losses[max(i - 1, 0) : i + 2, max(j - 1, 0) : j + 2]
            if (around > losses[i, j]).sum() == around.size - 1:
                found.append((i, j))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join("examples", "output"), help="folder for the PNGs")
    parser.add_argument("--steps", type=int, default=31, help="grid points per direction of the planes")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    X, y = make_data()
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, HIDDEN), nn.Tanh(), nn.Linear(HIDDEN, 2))
    initial = model.state_dict()
    history = fit(model, LOSS, cr.optim.Adam(model.parameters(), lr=0.05), X, y, epochs=300, batch_size=None,
                  metrics=["accuracy"], verbose=0)  # fmt: skip
    trained = model.state_dict()
    print(f"trained: loss {history['loss'][-1]:.4f}, accuracy {history['accuracy'][-1]:.1%}")

    # 1. initial -> trained
    line = loss_landscape_1d(model, LOSS, X, y, initial)  # theta_b=None: the model as it is now
    t = list(line.alphas)
    start, end = t.index(0.0), t.index(1.0)
    between = line.losses[start : end + 1]
    print(
        f"initial -> trained: loss {line.losses[start]:.4f} at t=0, {line.losses[end]:.4f} at t=1, "
        f"falls all the way: {bool(np.all(np.diff(between) < 0))}"
    )

    # 2. trained -> a permuted copy of itself
    copy_1, copy_2 = permuted(trained, 1), permuted(trained, 2)
    barrier = loss_landscape_1d(model, LOSS, X, y, trained, copy_1)
    t = list(barrier.alphas)
    a, b, middle = (barrier.losses[t.index(v)] for v in (0.0, 1.0, 0.5))
    print(f"trained -> permuted copy: loss {a:.6f} at t=0, {b:.6f} at t=1, {middle:.4f} halfway (a barrier)")
    fig = plot_loss_landscape(barrier, title="From the trained network to a permuted copy of it")
    fig.savefig(os.path.join(args.out, "loss_landscape_line.png"), dpi=110)

    # 3. the plane through the network and two permuted copies: origin theta, d1 = copy_1 - theta, d2 = copy_2 - theta
    d1 = {k: copy_1[k] - trained[k] for k in trained}
    d2 = {k: copy_2[k] - trained[k] for k in trained}
    plane = loss_landscape_2d(model, LOSS, X, y, directions=(d1, d2), span=1.5, steps=args.steps,
                              filter_normalize=False)  # fmt: skip
    minima = [
        (float(plane.alphas[i]), float(plane.betas[j]), plane.losses[i, j]) for i, j in local_minima(plane.losses)
    ]
    listed = ", ".join(f"({al:.2f}, {be:.2f}) loss {loss:.4f}" for al, be, loss in minima)
    print(f"plane through the network and two permuted copies: {len(minima)} local minima on the grid: {listed}")
    fig = plot_loss_landscape(plane, log=True, title="Three copies of one network: three valleys")
    fig.axes[0].plot([1.0, 0.0], [0.0, 1.0], marker="*", color="w", markeredgecolor="k", markersize=12,
                     linestyle="none", label="permuted copies")  # fmt: skip
    fig.axes[0].legend(loc="upper right", fontsize="small")
    fig.savefig(os.path.join(args.out, "loss_landscape_minima.png"), dpi=110)

    # 4. a random filter-normalised plane through the trained weights (Li et al. 2018)
    random_plane = loss_landscape_2d(model, LOSS, X, y, span=1.0, steps=args.steps, seed=0)
    centre = args.steps // 2
    print(
        f"random filter-normalised plane: loss {random_plane.losses[centre, centre]:.4f} at the centre, "
        f"from {random_plane.losses.min():.4f} to {random_plane.losses.max():.2f} over [-1, 1]^2"
    )
    path = os.path.join(args.out, "loss_landscape_random.png")
    plot_loss_landscape(random_plane, "surface", title="Random directions, filter-normalised", path=path)
    print(f"saved {', '.join(f'loss_landscape_{n}.png' for n in ('line', 'minima', 'random'))} in {args.out}")


if __name__ == "__main__":
    main()
