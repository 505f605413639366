"""Vanishing gradients: how much of a loss at the last step reaches each earlier input, RNN vs LSTM.

A plain (tanh) RNN passes its state through ``h_t = tanh(W_ih x_t + W_hh h_{t-1} + b)``: the
gradient going back one step is multiplied by ``diag(1 - h_t^2) W_hh``, whose size is usually
below 1, so after tens of steps almost nothing is left: the network cannot learn that an early
input matters. An LSTM carries a cell state ``c_t = f * c_{t-1} + i * g`` along an additive path;
with forget gates near 1 the gradient passes back through it nearly unchanged.

This script measures it directly: for one sequence of 100 steps and a loss computed from the last
step's output only, ``cr.grad`` gives dL/dx_t for every step t, and the plot shows its norm on a
log scale for a freshly initialised RNN and LSTM of the same size.

The consequence for learning is ``examples/adding_problem.py``: on the adding problem with 50
steps the RNN stays at the trivial baseline while the LSTM learns the task. The same happens
across the layers of a deep feed-forward network: ``examples/gradient_flow.py`` watches it with
``chainrule.train.GradientMonitor`` (10 layers, sigmoid against ReLU).

Run:  python examples/vanishing_gradients.py [--out examples/output] [--seq-len 100]
Writes: vanishing_gradients.png.
"""

import argparse
import os

import numpy as np

import chainrule as cr
from chainrule import nn
from chainrule.data import make_adding_problem


class LastStepRegressor(nn.Module):
    """A recurrent layer (RNN or LSTM) read out by a Linear layer at the last time step only."""

    def __init__(self, cell: str, input_size: int = 2, hidden: int = 32):
        super().__init__()
        layer = {"RNN": nn.RNN, "LSTM": nn.LSTM}[cell]
        self.rnn = layer(input_size, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, 1)
        if cell == "LSTM":
            # forget-gate bias 1 (gates in PyTorch's order i, f, g, o): remember by default
            self.rnn.bias_hh_l0.numpy()[hidden : 2 * hidden] = 1.0

    def forward(self, x):
        outputs, _ = self.rnn(x)  # (N, T, H)
        return self.fc(outputs[:, -1, :])  # (N, 1) from the last step


def gradient_per_step(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """||dL/dx_t|| for every step t of one sequence x of shape (1, T, D), L = the last output."""
    inputs = cr.tensor(x, requires_grad=True)
    loss = model(inputs).sum()
    (gradient,) = cr.grad(loss, inputs)
    return np.linalg.norm(gradient.numpy()[0], axis=1)  # (T,)


def plot_norms(norms: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, values in norms.items():
        ax.semilogy(np.arange(len(values)), values, label=name)
    ax.set_xlabel("time step t (the loss is computed at the last step)")
    ax.set_ylabel("||dL / dx_t||  (log scale)")
    ax.set_title("Gradient reaching each earlier input: tanh RNN vs LSTM")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join("examples", "output"), help="folder for the PNG")
    parser.add_argument("--seq-len", type=int, default=100, help="sequence length (default 100)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    # The gradient reaching each step, same sequence, same hidden size.
    x, _ = make_adding_problem(1, args.seq_len, seed=args.seed)
    norms = {}
    for cell in ("RNN", "LSTM"):
        cr.manual_seed(args.seed)
        norms[cell] = gradient_per_step(LastStepRegressor(cell), x)
    print(f"||dL/dx_t|| for a loss at step {args.seq_len - 1} (freshly initialised, hidden 32):")
    print("| steps back | RNN | LSTM |")
    print("|---:|---:|---:|")
    for back in (0, 1, 5, 10, 20, 50, args.seq_len - 1):
        if back < args.seq_len:
            t = args.seq_len - 1 - back
            print(f"| {back} | {norms['RNN'][t]:.2e} | {norms['LSTM'][t]:.2e} |")
    path = os.path.join(args.out, "vanishing_gradients.png")
    plot_norms(norms, path)
    print(f"saved {path}")


if __name__ == "__main__":
    main()
