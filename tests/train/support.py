"""Small models, data and a spy optimizer shared by the chainrule.train tests."""

from __future__ import annotations

import numpy as np

import chainrule as cr


def blobs(n: int = 40, n_features: int = 2, seed: int = 0, dtype: str = "float32") -> tuple[np.ndarray, np.ndarray]:
    """Two separable classes: label 1 where the features sum to more than 0."""
    X = np.random.default_rng(seed).normal(size=(n, n_features)).astype(dtype)
    y = (X.sum(axis=1) > 0).astype(np.int64)
    return X, y


def mlp(n_in: int = 2, hidden: int = 8, n_out: int = 2, seed: int | None = 0) -> cr.nn.Module:
    if seed is not None:
        cr.manual_seed(seed)
    return cr.nn.Sequential(cr.nn.Linear(n_in, hidden), cr.nn.Tanh(), cr.nn.Linear(hidden, n_out))


class CountingSGD(cr.optim.SGD):
    """SGD that counts its steps."""

    def __init__(self, params, lr: float = 0.1, **kwargs):
        super().__init__(params, lr=lr, **kwargs)
        self.steps = 0

    def step(self, closure=None):
        self.steps += 1
        return super().step(closure)


class Recorder(cr.nn.Module):
    """Identity-like model (one linear layer) that records every input batch it sees, by mode."""

    def __init__(self, n_in: int = 1, n_out: int = 2):
        super().__init__()
        self.linear = cr.nn.Linear(n_in, n_out)
        self.seen_train: list[np.ndarray] = []
        self.seen_eval: list[np.ndarray] = []

    def forward(self, x):
        (self.seen_train if self.training else self.seen_eval).append(np.array(x.numpy(), copy=True))
        return self.linear(x)


def weights(model: cr.nn.Module) -> dict[str, np.ndarray]:
    return {k: v.copy() for k, v in model.state_dict().items()}


def assert_same_weights(a: cr.nn.Module, b: cr.nn.Module) -> None:
    wa, wb = a.state_dict(), b.state_dict()
    assert list(wa) == list(wb)
    for k in wa:
        np.testing.assert_array_equal(wa[k], wb[k], err_msg=k)
