"""Helpers shared by the chainrule.nn tests: seeded float64 data, leaves, module gradchecks."""

from __future__ import annotations

from typing import Any

import numpy as np

import chainrule as cr


def data(*shape: int, seed: int = 0, low: float = -2.0, high: float = 2.0) -> np.ndarray:
    """Uniform float64 data of ``shape``."""
    return np.random.default_rng(seed).uniform(low, high, size=shape)


def leaf(array: Any) -> cr.Tensor:
    """A float64 leaf that requires grad (a copy, so gradcheck never touches ``array``)."""
    return cr.tensor(np.array(array, dtype=np.float64), requires_grad=True)


def module_gradcheck(module: cr.nn.Module, *inputs: cr.Tensor, **kwargs: Any) -> bool:
    """Finite-difference check of ``module(*inputs)`` against backprop, for its inputs that
    require grad and for all its parameters (the module must be float64)."""
    params = list(module.parameters())
    n = len(inputs)
    return cr.gradcheck(lambda *ts: module(*ts[:n]), [*inputs, *params], **kwargs)
