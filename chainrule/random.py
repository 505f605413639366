"""The random source behind initialisation, shuffling and dropout, reproducible with ``manual_seed``
(each function's docstring shows it at work)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule.tensor import DEFAULT_DTYPE, Tensor, _check_device, _shape_args

_generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Seed chainrule's random source; returns the new generator.

    Example:
        >>> import chainrule as cr
        >>> _ = cr.manual_seed(0); a = cr.randn(3)
        >>> _ = cr.manual_seed(0); b = cr.randn(3)
        >>> bool((a == b).all())
        True
    """
    global _generator
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"manual_seed: the seed must be a non-negative integer, got {seed!r}")
    from chainrule.autograd import _mode  # (the engine: imported here, after it is loaded)

    if _mode.recorder is not None:
        _mode.recorder.refuse("cr.manual_seed inside the step (a plan would not seed again)")
    _generator = np.random.default_rng(int(seed))
    return _generator


def default_generator() -> np.random.Generator:
    """The generator used when no other is given.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.random import default_generator
        >>> _ = cr.manual_seed(3)  # returns the generator, as torch.manual_seed does
        >>> g = default_generator()
        >>> type(g).__name__
        'Generator'
    """
    return _generator


def resolve_generator(seed_or_generator: int | np.random.Generator | None) -> np.random.Generator:
    """A generator from a seed, a generator, or None (the default generator).

    Example:
        >>> import numpy as np
        >>> from chainrule.random import resolve_generator
        >>> a = resolve_generator(7).integers(100, size=3)
        >>> b = resolve_generator(7).integers(100, size=3)
        >>> bool((a == b).all())
        True
    """
    if seed_or_generator is None:
        return _generator
    if isinstance(seed_or_generator, np.random.Generator):
        return seed_or_generator
    return np.random.default_rng(seed_or_generator)


def randn(*shape: int | Sequence[int], dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """Standard normal samples (float32 unless ``dtype`` says otherwise).

    Example:
        >>> import chainrule as cr
        >>> _ = cr.manual_seed(0)  # returns the generator, as torch.manual_seed does
        >>> cr.randn(1000).numpy().std().round(1)
        np.float32(1.0)
    """
    _check_device(device, "randn")
    data = _generator.standard_normal(_shape_args(shape)).astype(np.dtype(dtype or DEFAULT_DTYPE))
    return Tensor(data, requires_grad=requires_grad)


def rand(*shape: int | Sequence[int], dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """Uniform samples on [0, 1).

    Example:
        >>> import chainrule as cr
        >>> _ = cr.manual_seed(0)  # returns the generator, as torch.manual_seed does
        >>> x = cr.rand(2, 3)
        >>> x.shape, x.dtype, bool(((x >= 0) & (x < 1)).all())
        ((2, 3), dtype('float32'), True)
    """
    _check_device(device, "rand")
    data = _generator.random(_shape_args(shape)).astype(np.dtype(dtype or DEFAULT_DTYPE))
    return Tensor(data, requires_grad=requires_grad)
