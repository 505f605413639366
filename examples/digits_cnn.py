"""Handwritten digits with a convolutional network: two Conv2d layers, max pooling, one Linear.

The digits dataset (embedded in chainrule) holds 1797 images of 8x8 pixels. A convolution slides
the same small 3x3 filter over every position of the image, so a pattern (a stroke, a corner) is
recognised wherever it appears: the first layer finds edges, the second combines them into
parts of digits, max pooling keeps the strongest response of each 2x2 patch, and a Linear layer
reads the digit from those features. With batch normalisation and dropout this network
classifies about 99% of the held-out digits, against about 98% for the MLP of digits_mlp.py, in
a few seconds on a laptop's CPU.

Run:  python examples/digits_cnn.py [--out examples/output] [--epochs 12] [--seed 0] [--quiet]
Writes: digits_cnn_loss.png (training loss and accuracy per epoch). With label smoothing the
training loss levels off near 0.5 rather than 0: that is the smoothed target's own entropy.
"""

import argparse
import os
import time

import numpy as np

import chainrule as cr
from chainrule import nn
from chainrule.data import load_digits, train_test_split
from chainrule.train import LearningRateScheduler, evaluate, fit, metrics, predict, summary


def build_model() -> nn.Module:
    """(N, 1, 8, 8) images -> (N, 10) scores, one per digit."""
    return nn.Sequential(
        nn.Conv2d(1, 16, kernel_size=3, padding=1),  # 16 filters of 3x3: (N, 16, 8, 8)
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.Conv2d(16, 32, kernel_size=3, padding=1),  # each looks at all 16 maps: (N, 32, 8, 8)
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.MaxPool2d(2),  # the largest of each 2x2 patch: (N, 32, 4, 4)
        nn.Flatten(),  # (N, 512)
        nn.Dropout(0.5),  # zero half the features while training
        nn.Linear(32 * 4 * 4, 10),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join("examples", "output"), help="folder for the PNG")
    parser.add_argument("--epochs", type=int, default=12, help="passes over the training set (default 12)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split, weights and batches")
    parser.add_argument("--quiet", action="store_true", help="no per-epoch progress")
    args = parser.parse_args()
    cr.manual_seed(args.seed)  # the same initial weights, dropout masks and batch order every run

    # Data: images of shape (1, 8, 8) (one channel), pixels scaled from 0..16 to [0, 1]; 20% kept
    # for the test, with every digit in the same proportion in both parts (stratify).
    X, y = load_digits(as_images=True, return_X_y=True)
    X = X / 16.0
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y, random_state=args.seed)
    print(f"train {len(X_train)}, test {len(X_test)} images of shape {X_train.shape[1:]}")

    model = build_model()
    print(summary(model, (1, 8, 8)))

    # Training: cross-entropy with label smoothing (the target is 0.9 for the right digit rather
    # than 1, so the network does not grow over-confident), AdamW (Adam with weight decay) and a
    # learning rate that falls along a half cosine from 3e-3 to 0 over the epochs.
    optimizer = cr.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-2)
    schedule = cr.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    start = time.perf_counter()
    history = fit(
        model,
        nn.CrossEntropyLoss(label_smoothing=0.1),
        optimizer,
        X_train,
        y_train,
        epochs=args.epochs,
        batch_size=32,
        metrics=["accuracy"],
        callbacks=[LearningRateScheduler(schedule)],
        verbose=0 if args.quiet else "auto",
    )
    seconds = time.perf_counter() - start
    print(f"trained {len(history.epoch)} epochs in {seconds:.1f}s")

    # Test: evaluate puts the model in eval mode (BatchNorm uses its running statistics, dropout
    # is off); the loss is reported without smoothing.
    results = evaluate(model, nn.CrossEntropyLoss(), X_test, y_test, metrics=["accuracy"])
    print(f"test loss: {results['loss']:.4f}")
    print(f"test accuracy: {results['accuracy']:.4f}")
    predicted = predict(model, X_test).argmax(axis=1)
    matrix = metrics.confusion_matrix(y_test, predicted, labels=np.arange(10))
    print(metrics.format_confusion_matrix(matrix, labels=range(10)))

    path = os.path.join(args.out, "digits_cnn_loss.png")
    history.plot(path=path)  # creates the folder if needed
    print(f"saved {path}")


if __name__ == "__main__":
    main()
