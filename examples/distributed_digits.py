"""Handwritten digits trained by several processes at once (data parallelism over MPI).

The same script runs alone or under an MPI launcher:

    python examples/distributed_digits.py                 # one process
    mpiexec -n 2 python examples/distributed_digits.py    # two processes, one model
    mpiexec -n 8 -f hosts python examples/distributed_digits.py   # several machines (MPICH's host file)

(``pip install "chainrule[mpi]"`` installs mpi4py and MPICH, whose ``mpiexec`` this is.)

Part 1 is ``fit`` as it is written for one process: under mpiexec it shards every batch across
the processes (``batch_size`` is per process, as in PyTorch and Horovod), averages the gradients
inside the backward, and rank 0 alone prints and writes the checkpoint. Part 2 is the same
training written the PyTorch way, with ``DistributedDataParallel`` and ``DistributedSampler``.
Both end with the same weights on every process, which the script checks.

Run:  [mpiexec -n N] python examples/distributed_digits.py [--out examples/output] [--epochs 8]
Writes: digits_distributed.safetensors (rank 0).
"""

import argparse
import os
import time

import numpy as np

import chainrule as cr
import chainrule.distributed as dist
from chainrule import nn
from chainrule.data import DataLoader, load_digits, train_test_split
from chainrule.train import ModelCheckpoint, evaluate, fit


def network() -> nn.Module:
    cr.manual_seed(0)  # (rank 0's weights are sent to every process anyway)
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))


def same_everywhere(model: nn.Module) -> bool:
    """Whether every process holds rank 0's weights, bit for bit."""
    mine = np.concatenate([p.detach().numpy().ravel() for p in model.parameters()])
    return all(np.array_equal(mine, other) for other in dist.all_gather(mine))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join("examples", "output"), help="folder for the checkpoint")
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args()
    say = print if dist.is_main() else (lambda *a, **k: None)  # rank 0 speaks for the run

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype("float32")
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)
    say(f"{dist.world_size()} process(es); {len(X_train)} training images, {len(X_test)} test images")

    # Part 1: fit, unchanged.
    model = network()
    optimizer = cr.optim.Adam(model.parameters(), lr=1e-3)
    checkpoint = ModelCheckpoint(os.path.join(args.out, "digits_distributed.safetensors"), monitor="val_loss")
    start = time.perf_counter()
    history = fit(
        model,
        nn.CrossEntropyLoss(),
        optimizer,
        X_train,
        y_train,
        epochs=args.epochs,
        batch_size=32,  # per process
        validation_data=(X_test, y_test),
        metrics=["accuracy"],
        callbacks=[checkpoint],
        seed=0,
        verbose=0,
    )
    seconds = time.perf_counter() - start
    say(f"fit: {seconds:.2f} s, test accuracy {history['val_accuracy'][-1]:.4f}")
    say(f"fit: the same weights on every process: {same_everywhere(model)}")

    # Part 2: a loop of your own, written as for torch.distributed.
    model = network()
    ddp = dist.DistributedDataParallel(model)
    sampler = dist.DistributedSampler(range(len(X_train)), shuffle=True, seed=0)
    loader = DataLoader((X_train, y_train), batch_size=32, sampler=sampler)
    optimizer = cr.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)
        for xb, yb in loader:
            optimizer.zero_grad()
            loss_fn(ddp(xb), yb).backward()  # the gradients are averaged over the processes here
            optimizer.step()
    accuracy = evaluate(model, loss_fn, X_test, y_test, metrics=["accuracy"])["accuracy"]
    say(f"own loop: test accuracy {accuracy:.4f}")
    say(f"own loop: the same weights on every process: {same_everywhere(model)}")
    stats = ddp.comm_stats
    say(f"own loop: {stats['all_reduces']} gradient all-reduces, {stats['wait_seconds']:.3f} s waiting for them")


if __name__ == "__main__":
    main()
