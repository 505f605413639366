"""Synthetic tasks made on demand: the adding problem, a long-range dependency for RNNs."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.random import resolve_generator

__all__ = ["make_adding_problem"]


def make_adding_problem(
    n_samples: int = 1000,
    seq_len: int = 100,
    seed: int | np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The adding problem: add the two marked numbers of a long sequence.

    Each sample is a sequence of ``seq_len`` steps with two channels. Channel 0 holds numbers
    drawn uniformly from [0, 1); channel 1 is a marker, 0 everywhere except for exactly two 1s,
    one at a random step of the first half (steps ``0 .. seq_len // 2 - 1``) and one at a random
    step of the second half. The target is the sum of the two marked numbers, in [0, 2).

    The task comes from Hochreiter & Schmidhuber (1997, "Long short-term memory", experiment 4),
    in the form of Le, Jaitly & Hinton (2015, "A simple way to initialize recurrent networks of
    rectified linear units"). A network must carry the first marked number across at least half
    the sequence, so a plain tanh RNN fails for long sequences while an LSTM learns it. Always
    answering 1 (the mean target) gives a mean squared error of 1/6 ≈ 0.167, the variance of a
    sum of two uniform numbers: a model has learnt something only when it does clearly better.

    Args:
        n_samples: number of sequences. Default 1000.
        seq_len: number of time steps T, at least 2. Default 100.
        seed: an int or ``np.random.Generator``; by default chainrule's random source, which
            ``cr.manual_seed`` makes reproducible.

    Returns:
        ``(X, y)``: ``X`` of shape ``(n_samples, seq_len, 2)`` (batch first: sample, time
        step, channel) and ``y`` of shape ``(n_samples, 1)``, the shape of a one-output
        regression head, so that ``MSELoss`` compares them directly; both ``float32``.

    Example:
        >>> import numpy as np
        >>> from chainrule.data import make_adding_problem
        >>> X, y = make_adding_problem(n_samples=4, seq_len=10, seed=0)
        >>> X.shape, y.shape, X.dtype
        ((4, 10, 2), (4, 1), dtype('float32'))
        >>> X[:, :, 1].sum(axis=1).tolist()  # two markers in every sequence
        [2.0, 2.0, 2.0, 2.0]
        >>> bool(np.allclose((X[:, :, 0] * X[:, :, 1]).sum(axis=1, keepdims=True), y))
        True
    """
    n_samples = _check_int(n_samples, "n_samples", minimum=1)
    seq_len = _check_int(seq_len, "seq_len", minimum=2)
    rng = resolve_generator(seed)

    half = seq_len // 2
    values = rng.random((n_samples, seq_len), dtype=np.float32)
    first = rng.integers(0, half, size=n_samples)
    second = rng.integers(half, seq_len, size=n_samples)

    rows = np.arange(n_samples)
    markers = np.zeros((n_samples, seq_len), dtype=np.float32)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    X = np.stack([values, markers], axis=-1)
    y = (values[rows, first] + values[rows, second]).reshape(n_samples, 1)
    return X, y


def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"make_adding_problem: {name} must be an integer, got {value!r} of type {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"make_adding_problem: {name} must be >= {minimum}, got {value}")
    return int(value)
