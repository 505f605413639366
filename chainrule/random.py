"""The random source behind initialisation, shuffling and dropout, reproducible with ``manual_seed``
(each function's docstring shows it at work)."""

from __future__ import annotations

import numbers
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


def _draw(kind: str, shape: tuple[int, ...], dtype: np.dtype, low: int = 0, high: int = 0) -> np.ndarray:
    """Samples of ``kind`` from chainrule's generator: the one ``manual_seed`` made last, read at
    each call. The creation functions below make their tensors through ``autograd.pure``, so a
    compiled step records the draw and each replay draws anew, as the eager step would (noise added
    to the inputs, a VAE's reparameterisation)."""
    g = _generator
    if kind == "normal":
        return g.standard_normal(shape).astype(dtype)
    if kind == "uniform":
        return g.random(shape).astype(dtype)
    if kind == "integers":
        return g.integers(low, high, shape).astype(dtype)
    return g.permutation(high).astype(dtype)  # "permutation"


_draw.draws = True  # (a compiled step replays each draw: see chainrule.compiler.program._draws)


def _sample(kind: str, shape: tuple[int, ...], dtype: np.dtype, requires_grad: bool = False, **bounds: int) -> Tensor:
    if requires_grad:  # (a leaf of its own, as torch.randn(..., requires_grad=True))
        return Tensor(_draw(kind, shape, dtype, **bounds), requires_grad=True)
    from chainrule.autograd import pure  # (the engine: imported here, after it is loaded)

    return pure(_draw, kind=kind, shape=tuple(shape), dtype=np.dtype(dtype), **bounds)


def randn(
    *shape: int | Sequence[int], size: Any = None, dtype: Any = None, requires_grad: bool = False, device: Any = None
) -> Tensor:
    """Standard normal samples (float32 unless ``dtype`` says otherwise).

    Example:
        >>> import chainrule as cr
        >>> _ = cr.manual_seed(0)  # returns the generator, as torch.manual_seed does
        >>> cr.randn(1000).numpy().std().round(1)
        np.float32(1.0)
    """
    _check_device(device, "randn")
    shape = _shape_args(_size_or_shape("randn", shape, size))
    return _sample("normal", shape, np.dtype(dtype or DEFAULT_DTYPE), requires_grad)


def rand(
    *shape: int | Sequence[int], size: Any = None, dtype: Any = None, requires_grad: bool = False, device: Any = None
) -> Tensor:
    """Uniform samples on [0, 1).

    Example:
        >>> import chainrule as cr
        >>> _ = cr.manual_seed(0)  # returns the generator, as torch.manual_seed does
        >>> x = cr.rand(2, 3)
        >>> x.shape, x.dtype, bool(((x >= 0) & (x < 1)).all())
        ((2, 3), dtype('float32'), True)
    """
    _check_device(device, "rand")
    shape = _shape_args(_size_or_shape("rand", shape, size))
    return _sample("uniform", shape, np.dtype(dtype or DEFAULT_DTYPE), requires_grad)


def _size_or_shape(op: str, shape: tuple, size: Any) -> tuple:
    """The shape given positionally, or as PyTorch's ``size=`` keyword; not both."""
    if size is None:
        return shape
    if shape:
        raise TypeError(f"{op}: give the shape once, positionally or as size=")
    return (size,)


def randn_like(t: Tensor, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """Standard normal samples with the shape (and, unless ``dtype`` is given, the dtype) of ``t``.

    Example:
        >>> import chainrule as cr
        >>> cr.randn_like(cr.zeros(2, 3, dtype="float64")).dtype
        dtype('float64')
    """
    _check_device(device, "randn_like")
    return _sample("normal", t.shape, _float_like("randn_like", t, dtype), requires_grad)


def rand_like(t: Tensor, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """Uniform samples on [0, 1) with the shape (and, unless ``dtype`` is given, the dtype) of ``t``.

    Example:
        >>> import chainrule as cr
        >>> cr.rand_like(cr.zeros(2, 3)).shape
        (2, 3)
    """
    _check_device(device, "rand_like")
    return _sample("uniform", t.shape, _float_like("rand_like", t, dtype), requires_grad)


def _float_like(op: str, t: Tensor, dtype: Any) -> np.dtype:
    """The float dtype of ``op``'s samples: ``dtype``, else ``t``'s, which must be a float (as PyTorch)."""
    chosen = np.dtype(dtype or t.dtype)
    if chosen.kind != "f":
        raise TypeError(f"{op}: draws floats, but the tensor is {chosen}; give dtype= (e.g. dtype=cr.float32)")
    return chosen


def randint(*args: Any, size: Any = None, dtype: Any = None, device: Any = None) -> Tensor:
    """Integers drawn uniformly from [low, high), as PyTorch's: ``randint(high, size)`` or
    ``randint(low, high, size)`` (int64 unless ``dtype`` says otherwise).

    Example:
        >>> import chainrule as cr
        >>> x = cr.randint(3, 10, (2, 4))
        >>> x.shape, x.dtype, bool(((x >= 3) & (x < 10)).all())
        ((2, 4), dtype('int64'), True)
    """
    _check_device(device, "randint")
    if size is None and args and not isinstance(args[-1], numbers.Integral):
        *args, size = args
    if size is None or len(args) not in (1, 2):
        raise TypeError("randint: write randint(high, size) or randint(low, high, size), size a tuple such as (3,)")
    low, high = (0, args[0]) if len(args) == 1 else args
    if not all(isinstance(v, numbers.Integral) for v in (low, high)) or high <= low:
        raise ValueError(f"randint: low and high must be integers with low < high, got low={low!r}, high={high!r}")
    shape = (size,) if isinstance(size, numbers.Integral) else tuple(size)
    kind = np.dtype(dtype or np.int64)
    if kind.kind in "iu" and (low < np.iinfo(kind).min or high - 1 > np.iinfo(kind).max):
        raise ValueError(f"randint: [{low}, {high}) does not fit in {kind}")
    return _sample("integers", shape, kind, low=int(low), high=int(high))


def randperm(n: int, dtype: Any = None, device: Any = None) -> Tensor:
    """A random permutation of 0, ..., n - 1 (int64 unless ``dtype`` says otherwise).

    Example:
        >>> import chainrule as cr
        >>> sorted(cr.randperm(5).tolist())
        [0, 1, 2, 3, 4]
    """
    _check_device(device, "randperm")
    if not isinstance(n, numbers.Integral) or n < 0:
        raise ValueError(f"randperm: n must be a whole number >= 0, got {n!r}")
    kind = np.dtype(dtype or np.int64)
    exact = np.iinfo(kind).max if kind.kind in "iu" else 2 ** (np.finfo(kind).nmant + 1) if kind.kind == "f" else 1
    if n and n - 1 > exact:
        raise ValueError(f"randperm: {n} values do not fit in {kind} (its whole numbers stop at {exact})")
    return _sample("permutation", (), kind, high=int(n))
