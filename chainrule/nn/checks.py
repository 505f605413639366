"""Checks of layer arguments and inputs, written once for every layer of ``chainrule.nn``.

- ``positive_int(owner, name, value)``: a size or a count (``in_features``, ``hidden_size``, ...);
- ``unit_interval(owner, name, value)``: a probability or a fraction (dropout, momentum, ...);
- :class:`InputSpec`: the input a layer takes (its numbers of dimensions and the sizes of some
  axes), declared in ``__init__`` and checked on every call by one membership test and one tuple
  compare (Keras's ``InputSpec``).

Every error names the layer, what it expected and what it got, and is raised before any state
changes: ``Linear(in_features=40) got input of shape (32, 30): the last dimension must be 40``.

Example:
    >>> import chainrule as cr
    >>> from chainrule.nn.checks import InputSpec, positive_int
    >>> positive_int("Linear", "in_features", 40)
    40
    >>> spec = InputSpec("Linear(in_features=40)", axes={-1: 40})
    >>> spec.check(cr.zeros(32, 40)).shape
    (32, 40)
    >>> spec.check(cr.zeros(32, 30))
    Traceback (most recent call last):
    ...
    ValueError: Linear(in_features=40) got input of shape (32, 30): the last dimension must be 40
"""

from __future__ import annotations

import numbers
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from chainrule.devices import as_device
from chainrule.tensor import DEFAULT_DTYPE, Tensor


def is_positive_int(value: Any) -> bool:
    """Whether ``value`` is an integer (a Python or NumPy one, not a bool) above 0."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value > 0


def positive_int(owner: str, name: str, value: Any) -> int:
    """``value`` as an int, or a ValueError naming ``owner`` and the argument ``name``.

    Example:
        >>> positive_int("Embedding", "embedding_dim", 0)
        Traceback (most recent call last):
        ...
        ValueError: Embedding: embedding_dim must be a positive integer, got 0
    """
    if not is_positive_int(value):
        raise ValueError(f"{owner}: {name} must be a positive integer, got {value!r}")
    return int(value)


def unit_interval(owner: str, name: str, value: Any) -> float:
    """``value`` as a float in [0, 1] (a probability, a momentum, a smoothing), or a ValueError.

    Example:
        >>> unit_interval("Dropout", "p", 1.5)
        Traceback (most recent call last):
        ...
        ValueError: Dropout: p must be in [0, 1], got 1.5
    """
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise ValueError(f"{owner}: {name} must be a number in [0, 1], got {value!r}")
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{owner}: {name} must be in [0, 1], got {value!r}")
    return float(value)


class InputSpec:
    """The input a layer takes: which numbers of dimensions, and which sizes on which axes.

    A layer builds its spec once in ``__init__`` and calls ``check`` first thing in ``forward``;
    the check is one membership test and one tuple compare, and only a failing input pays for
    the error message.

    Args:
        owner: how errors name the layer, e.g. ``"Linear(in_features=40)"``.
        ndim: the accepted numbers of dimensions, an int or a sequence of them (default: any).
        min_ndim: at least this many dimensions (instead of ``ndim``; default 0).
        axes: fixed sizes by axis, ``{axis: size}``; a negative axis counts from the end (so
            ``{-1: 40}`` is "the last dimension must be 40", whatever the number of dimensions).
            The axes must be adjacent and of one sign, so that they are one slice of the shape.
        expected: what the input should look like, for the error on a wrong number of
            dimensions, e.g. ``"a 3-D (N, C, L) or 2-D unbatched (C, L) input"`` (default:
            made from ``ndim`` or ``min_ndim``).
        hints: a note to add to the size error for an input with a given number of dimensions,
            e.g. ``{2: "a 2-D input is one unbatched (C, L) sample"}``.

    Example:
        >>> import chainrule as cr
        >>> spec = InputSpec("Conv1d(in_channels=3)", ndim=(3, 2), axes={-2: 3})
        >>> spec.check(cr.zeros(8, 4, 10))
        Traceback (most recent call last):
        ...
        ValueError: Conv1d(in_channels=3) got input of shape (8, 4, 10): dimension 1 must be 3
        >>> spec.check(cr.zeros(10))
        Traceback (most recent call last):
        ...
        ValueError: Conv1d(in_channels=3) got input of shape (10,): expected a 3-D or 2-D input
    """

    __slots__ = ("owner", "ndims", "axes", "sizes", "expected", "hints")

    def __init__(
        self,
        owner: str,
        ndim: int | Sequence[int] | None = None,
        *,
        min_ndim: int = 0,
        axes: Mapping[int, int] | None = None,
        expected: str | None = None,
        hints: Mapping[int, str] | None = None,
    ):
        if ndim is not None and min_ndim:
            raise ValueError(f"InputSpec for {owner}: give ndim or min_ndim, not both")
        self.owner = owner
        if ndim is None:
            self.ndims: Sequence[int] = range(min_ndim, sys.maxsize)
            default = f"an input with at least {min_ndim} dimensions"
        else:
            self.ndims = (ndim,) if isinstance(ndim, int) else tuple(ndim)
            default = "a " + " or ".join(f"{n}-D" for n in self.ndims) + " input"
        keys = sorted(axes or {})
        if keys and (keys != list(range(keys[0], keys[0] + len(keys))) or keys[0] < 0 <= keys[-1]):
            raise ValueError(f"InputSpec for {owner}: axes must be adjacent and of one sign, got {keys}")
        stop = keys[-1] + 1 if keys else 0
        self.axes = slice(keys[0] if keys else 0, None if stop == 0 and keys else stop)
        self.sizes = tuple(axes[k] for k in keys) if keys else ()
        self.expected = default if expected is None else expected
        self.hints = dict(hints or {})

    def check(self, x: Any) -> Tensor:
        """``x`` as a Tensor, or a ValueError naming the layer, the input's shape and the rule it breaks."""
        if not isinstance(x, Tensor):
            if isinstance(x, (tuple, list)) and any(isinstance(item, (Tensor, np.ndarray)) for item in x):
                raise TypeError(
                    f"{self.owner} got a {type(x).__name__} of {len(x)} tensor(s) or array(s) as its input, where it "
                    "takes one Tensor (PyTorch raises too); a batch (xb, yb) from a DataLoader is unpacked first: "
                    "xb, yb = batch (or (xb,) = batch)"
                )
            x = Tensor(x)
        shape = x._data.shape  # the array's own, not Tensor's properties: this runs on every call
        if len(shape) not in self.ndims or shape[self.axes] != self.sizes:
            raise ValueError(self.problem(shape))
        return x

    def problem(self, shape: tuple[int, ...]) -> str:
        """What is wrong with an input of ``shape``: the error message ``check`` raises."""
        head = f"{self.owner} got input of shape {shape}"
        if len(shape) not in self.ndims:
            return f"{head}: expected {self.expected}"
        count, start = len(self.sizes), self.axes.start
        if self.axes.stop is None:  # axes counted from the end, up to the last
            where = "the last dimension" if count == 1 else f"the last {count} dimensions"
        else:
            first = start + len(shape) if start < 0 <= start + len(shape) else start  # counted from 0 if it exists
            where = f"dimension {first}" if count == 1 else f"dimensions {first} to {first + count - 1}"
        size = self.sizes[0] if count == 1 else self.sizes
        hint = f" ({self.hints[len(shape)]})" if len(shape) in self.hints else ""
        return f"{head}: {where} must be {size}{hint}"

    def __repr__(self) -> str:
        ndims = f"min_ndim={self.ndims.start}" if isinstance(self.ndims, range) else f"ndim={self.ndims}"
        return f"InputSpec({self.owner!r}, {ndims}, axes={self.axes}, sizes={self.sizes})"


def parameter_dtype(owner: str, dtype: Any, device: Any = None) -> np.dtype:
    """The dtype of a layer's parameters from PyTorch's factory arguments ``device=`` and
    ``dtype=``: the device must be the CPU (a clear error names the one that is not), the dtype a
    floating one (default float32).

    Example:
        >>> from chainrule.nn.checks import parameter_dtype
        >>> parameter_dtype("Linear", "float64", device="cpu")
        dtype('float64')
    """
    if device is not None:
        as_device(device, owner)
    try:
        resolved = np.dtype(DEFAULT_DTYPE if dtype is None else dtype)
    except TypeError:
        raise TypeError(f"{owner}: dtype={dtype!r} is not a dtype") from None
    if resolved.kind != "f":
        raise ValueError(f"{owner}: parameters must be floating point, got dtype={resolved}")
    return resolved
