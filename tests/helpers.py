"""Helpers shared by the tests: random float64 data, leaves, the values+gradients check, and the
examples/ scripts imported as modules."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
from hypothesis import settings
from hypothesis.extra import numpy as hnp

import chainrule as cr

# Hypothesis profile for the whole suite: few examples, no deadline (the first call of an op pays
# NumPy's warm-up, which has nothing to do with the property under test).
FAST = settings(max_examples=25, deadline=None)


def rand(*shape: int, seed: int = 0, low: float = -2.0, high: float = 2.0) -> np.ndarray:
    """Uniform float64 data of ``shape``."""
    return np.random.default_rng(seed).uniform(low, high, size=shape)


def positive(*shape: int, seed: int = 0) -> np.ndarray:
    """Float64 data in [0.5, 2], safe for log, sqrt and division."""
    return rand(*shape, seed=seed, low=0.5, high=2.0)


def leaf(array: np.ndarray | float) -> cr.Tensor:
    """A float64 leaf that requires grad (a copy, so gradcheck's nudges never touch ``array``)."""
    return cr.tensor(np.array(array, dtype=np.float64), requires_grad=True)


def check_op(
    cr_fn: Callable[..., cr.Tensor],
    np_fn: Callable[..., np.ndarray],
    *arrays: np.ndarray,
    grad: bool = True,
    rtol: float = 1e-7,
    atol: float = 1e-12,
) -> cr.Tensor:
    """Check ``cr_fn`` against ``np_fn`` on float64 copies of ``arrays``, then gradcheck it.

    Returns the chainrule result for further checks.
    """
    tensors = [leaf(a) for a in arrays]
    out = cr_fn(*tensors)
    expected = np.asarray(np_fn(*[np.array(a, dtype=np.float64) for a in arrays]))
    assert isinstance(out, cr.Tensor)
    assert out.shape == expected.shape, (out.shape, expected.shape)
    np.testing.assert_allclose(out.numpy(), expected, rtol=rtol, atol=atol)
    if grad:
        assert cr.gradcheck(cr_fn, tensors)
    return out


def broadcastable_pair(max_dims: int = 3, max_side: int = 4):
    """A hypothesis strategy for two shapes that broadcast together."""
    return hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=max_dims, min_side=1, max_side=max_side)


EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load_example(name: str) -> ModuleType:
    """Import ``examples/<name>.py`` as a module (its ``main`` does not run), so a test uses the
    example's own models and recipe rather than a copy of them."""
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
