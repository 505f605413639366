"""The adding problem: a plain RNN fails to carry a number across 50 steps, an LSTM learns it.

Each sequence has T steps of two channels: a number drawn uniformly from [0, 1) and a marker that
is 1 at exactly two steps, one in each half of the sequence (``chainrule.data.make_adding_problem``).
The target is the sum of the two marked numbers, read from the network's state after the last
step. The first marked number must be kept for at least T/2 steps while T/2 - 1 other numbers
stream past.

A model that ignores the inputs can do no better than answering the mean, 1, which gives a mean
squared error of 1/6 ≈ 0.167 (the variance of a sum of two uniform numbers). A tanh RNN stays
there: the gradient reaching the marked step shrinks by a factor at every step back
(``examples/vanishing_gradients.py`` plots this), so it never finds out that the marker matters.
An LSTM carries its cell state along an additive path and, after a plateau at the baseline,
suddenly drops far below it.

The recipe, the same for both: hidden size 64, a Linear read-out of the last step's state, Adam
with learning rate 1e-2, the gradients clipped to a global norm of 1, batches of 100 fresh
sequences every step (an endless supply, as in the original experiments), the test MSE on 1000
held-out sequences measured every 100 steps. The LSTM's forget-gate bias starts at 1.

Run:  python examples/adding_problem.py [--seq-len 50] [--steps 2000] [--hidden 64] [--lr 1e-2]
          [--seed 0] [--models RNN,LSTM] [--out examples/output]
Writes: adding_problem.png (test MSE against training steps, both models, with the baseline).
About 2.5 minutes on a 2-core CPU with the defaults (the LSTM's 2000 steps take 2 of them).
"""

import argparse
import os
import time

import numpy as np

import chainrule as cr
from chainrule import nn
from chainrule.data import make_adding_problem

BASELINE = 1 / 6  # the MSE of always answering 1, the mean target
TEST_SEED = 2**31 - 1  # the test sequences come from their own seed, apart from every training seed


class LastStepRegressor(nn.Module):
    """A recurrent layer (RNN or LSTM) read out by a Linear layer at the last time step only."""

    def __init__(self, cell: str, input_size: int = 2, hidden: int = 64):
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


def train(
    cell: str,
    seq_len: int = 50,
    steps: int = 2000,
    hidden: int = 64,
    lr: float = 1e-2,
    seed: int = 0,
    batch_size: int = 100,
    eval_every: int = 100,
    n_test: int = 1000,
    max_norm: float = 1.0,
) -> dict:
    """Train ``cell`` ('RNN' or 'LSTM') on the adding problem with T = ``seq_len``.

    Returns a dict: ``steps`` and ``test_mse`` (the curve, measured every ``eval_every`` steps),
    ``final`` (the test MSE after the last step) and ``seconds``.
    """
    X_test, y_test = make_adding_problem(n_test, seq_len, seed=TEST_SEED)
    X_test, y_test = cr.tensor(X_test), cr.tensor(y_test)
    batches = np.random.default_rng(seed)  # the training sequences, fresh every step
    cr.manual_seed(seed)
    model = LastStepRegressor(cell, hidden=hidden)
    optimizer = cr.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.MSELoss()

    def test_mse() -> float:
        with cr.no_grad():
            return float(loss_fn(model(X_test), y_test).numpy())

    curve_steps, curve = [0], [test_mse()]
    start = time.perf_counter()
    for step in range(1, steps + 1):
        X, y = make_adding_problem(batch_size, seq_len, seed=batches)
        loss = loss_fn(model(cr.tensor(X)), cr.tensor(y))
        optimizer.zero_grad()
        loss.backward()
        cr.optim.clip_grad_norm_(model.parameters(), max_norm)
        optimizer.step()
        if step % eval_every == 0 or step == steps:
            curve_steps.append(step)
            curve.append(test_mse())
    return {"steps": curve_steps, "test_mse": curve, "final": curve[-1], "seconds": time.perf_counter() - start}


def plot_curves(results: dict, seq_len: int, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for cell, result in results.items():
        ax.semilogy(result["steps"], result["test_mse"], label=f"{cell}")
    ax.axhline(BASELINE, color="black", linestyle=":", linewidth=1.2, label="always answering 1 (MSE 1/6)")
    ax.set_xlabel("training step (batches of 100 fresh sequences)")
    ax.set_ylabel("test MSE (log scale)")
    ax.set_title(f"The adding problem, T = {seq_len}: tanh RNN vs LSTM")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seq-len", type=int, default=50, help="sequence length T (default 50)")
    parser.add_argument("--steps", type=int, default=2000, help="training steps per model")
    parser.add_argument("--hidden", type=int, default=64, help="hidden size of both models")
    parser.add_argument("--lr", type=float, default=1e-2, help="Adam's learning rate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", default="RNN,LSTM", help="comma-separated subset of RNN,LSTM")
    parser.add_argument("--out", default=os.path.join("examples", "output"), help="folder for the PNG")
    args = parser.parse_args()
    cells = [c.strip() for c in args.models.split(",") if c.strip()]
    for cell in cells:
        if cell not in ("RNN", "LSTM"):
            parser.error(f"unknown model {cell!r}; choose from RNN, LSTM")

    print(
        f"adding problem, T = {args.seq_len}: hidden {args.hidden}, Adam lr {args.lr:g}, "
        f"gradients clipped to norm 1, {args.steps} steps of 100 fresh sequences; "
        f"baseline (always answering 1): MSE {BASELINE:.3f}"
    )
    results = {}
    for cell in cells:
        results[cell] = result = train(cell, args.seq_len, args.steps, args.hidden, args.lr, args.seed)
        print(f"{cell}: test MSE {result['final']:.4f} after {args.steps} steps ({result['seconds']:.1f}s)", flush=True)

    print()
    print("| model | T | steps | test MSE | baseline | MSE / baseline | learnt? |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for cell, result in results.items():
        ratio = result["final"] / BASELINE
        learnt = "yes" if ratio < 0.3 else "no"
        print(
            f"| {cell} | {args.seq_len} | {args.steps} | {result['final']:.4f} | {BASELINE:.3f} | "
            f"{ratio:.3f} | {learnt} |"
        )

    path = os.path.join(args.out, "adding_problem.png")
    plot_curves(results, args.seq_len, path)
    print(f"\nsaved {path}")


if __name__ == "__main__":
    main()
