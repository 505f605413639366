"""Weight initialisation, in place, drawn from chainrule's seeded random source.

Fan-in and fan-out follow each layer's weight layout: a Linear weight is (out_features,
in_features); a convolution weight is (out_channels, in_channels / groups, *kernel), whose fans
are multiplied by the kernel size.

Inside ``skip_init()`` every function here leaves its tensor as it is (it still checks its
arguments): a module built there keeps the memory its layers allocated with ``np.empty``
unwritten, which the operating system does not even provide until something writes it. The model
loader builds a file's architecture that way, to compare its shapes with the file's before reading
any weight.

Example:
    >>> import chainrule as cr
    >>> w = cr.nn.Parameter(cr.zeros(100, 50))
    >>> _ = cr.nn.init.kaiming_uniform_(w, nonlinearity='relu')
    >>> bool(abs(w.numpy()).max() <= (6 / 50) ** 0.5)
    True
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from chainrule.autograd import mark_modified
from chainrule.random import resolve_generator
from chainrule.tensor import Tensor

Generator = np.random.Generator | int | None

_GAINS = {
    "linear": 1.0,
    "identity": 1.0,
    "sigmoid": 1.0,
    "conv1d": 1.0,
    "conv2d": 1.0,
    "tanh": 5.0 / 3,  # the gain PyTorch and others use for tanh
    "relu": math.sqrt(2.0),  # He et al. (2015): ReLU halves the variance
    "selu": 3.0 / 4,
}


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended scale of the weights for a nonlinearity (leaky_relu takes its slope).

    Example:
        >>> from chainrule.nn import init
        >>> init.calculate_gain('relu'), init.calculate_gain('tanh'), init.calculate_gain('linear')
        (1.4142135623730951, 1.6666666666666667, 1.0)
    """
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope**2))
    try:
        return _GAINS[nonlinearity]
    except KeyError:
        raise ValueError(
            f"calculate_gain: unknown nonlinearity {nonlinearity!r}; known: {sorted(_GAINS) + ['leaky_relu']}"
        ) from None


def fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of shape (out, in, *kernel).

    Example:
        >>> import chainrule as cr
        >>> from chainrule.nn import init
        >>> init.fan_in_and_fan_out(cr.zeros(16, 3, 5))  # a Conv1d weight (out, in, kernel)
        (15, 80)
    """
    if tensor.ndim < 2:
        raise ValueError(f"fan_in_and_fan_out: needs a weight with at least 2 dimensions, got shape {tensor.shape}")
    receptive = int(np.prod(tensor.shape[2:])) if tensor.ndim > 2 else 1
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


# Whether the init functions write (False inside skip_init). A context variable, so that the
# mode belongs to the code inside the ``with`` block (its thread or task), not to the process.
_SKIPPING: contextvars.ContextVar[bool] = contextvars.ContextVar("chainrule.nn.init.skip_init", default=False)


@contextlib.contextmanager
def _skipping() -> Iterator[None]:
    token = _SKIPPING.set(True)
    try:
        yield
    finally:
        _SKIPPING.reset(token)


def skip_init(module_cls: Callable[..., Any] | None = None, /, *args: Any, **kwargs: Any) -> Any:
    """Build modules without initialising their parameters and buffers.

    Every function of ``chainrule.nn.init`` (and so every layer's ``reset_parameters``) leaves its
    tensor unwritten and draws nothing from the random source, while still checking its
    arguments. The arrays that layers allocate with ``np.empty`` hold whatever the memory held,
    and a large one costs no memory until it is written: the operating system maps its pages on
    first write. Load weights into such a module (``load_state_dict``) before using it.

    Two forms:
        ``skip_init(cls, *args, **kwargs)``: PyTorch's form, one module ``cls(*args, **kwargs)``.
        ``with skip_init(): ...``: everything built inside the block (in this thread).

    ``chainrule.load`` builds a file's architecture inside ``skip_init()``, so that a file which
    declares huge layers costs no memory before its weights are found not to fit.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.nn import init
        >>> layer = init.skip_init(cr.nn.Linear, 3000, 2000)  # 24 MB allocated, none of it written
        >>> layer.weight.shape
        (2000, 3000)
        >>> with init.skip_init():
        ...     bn = cr.nn.BatchNorm1d(3)
        ...     w = init.ones_(cr.zeros(2))
        >>> w  # left as it was
        tensor([0., 0.])
        >>> bn.reset_parameters()  # outside the block, initialisation writes again
        >>> bn.running_var
        tensor([1., 1., 1.])
    """
    if module_cls is None:
        if args or kwargs:
            raise TypeError("skip_init: arguments without a module class; write skip_init(cls, *args, **kwargs)")
        return _skipping()
    if not callable(module_cls):
        raise TypeError(f"skip_init: expected a Module class, got {type(module_cls).__name__}")
    with _skipping():
        return module_cls(*args, **kwargs)


def _fill(tensor: Tensor, values: float | Callable[[], np.ndarray]) -> Tensor:
    """Write ``values`` into ``tensor`` in place: a number, or a function that draws an array of
    the tensor's shape (called only when writing). Inside ``skip_init`` nothing is written."""
    if _SKIPPING.get():
        return tensor
    tensor._data[...] = values() if callable(values) else values
    mark_modified((tensor,), "nn.init")
    return tensor


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with 0.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.nn import init
        >>> init.zeros_(cr.ones(2))
        tensor([0., 0.])
    """
    return _fill(tensor, 0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with 1.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.nn import init
        >>> init.ones_(cr.zeros(2))
        tensor([1., 1.])
    """
    return _fill(tensor, 1)


def constant_(tensor: Tensor, val: float | None = None, *, value: float | None = None) -> Tensor:
    """Fill with ``val`` (PyTorch's name; ``value=`` is accepted too).

    Example:
        >>> import chainrule as cr
        >>> from chainrule.nn import init
        >>> init.constant_(cr.zeros(2), 0.5), init.constant_(cr.zeros(2), val=0.25)
        (tensor([0.5, 0.5]), tensor([0.25, 0.25]))
    """
    if (val is None) == (value is None):
        raise TypeError("constant_: give the value once, as constant_(tensor, val) or constant_(tensor, val=...)")
    return _fill(tensor, val if value is None else value)


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator: Generator = None) -> Tensor:
    """Samples from U(a, b).

    Example:
        >>> import chainrule as cr
        >>> from chainrule.nn import init
        >>> w = init.uniform_(cr.zeros(1000), -0.1, 0.1)
        >>> bool(w.numpy().min() >= -0.1 and w.numpy().max() < 0.1)
        True
    """
    if a > b:
        raise ValueError(f"uniform_: low {a} is above high {b}")
    rng = resolve_generator(generator)
    return _fill(tensor, lambda: rng.uniform(a, b, tensor.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator: Generator = None) -> Tensor:
    """Samples from N(mean, std²).

    Example:
        >>> import chainrule as cr
        >>> from chainrule.nn import init
        >>> _ = cr.manual_seed(0)
        >>> w = init.normal_(cr.zeros(10000), std=0.02)
        >>> round(float(w.numpy().std()), 3)
        0.02
    """
    if std < 0:
        raise ValueError(f"normal_: std must be non-negative, got {std}")
    rng = resolve_generator(generator)
    return _fill(tensor, lambda: rng.normal(mean, std, tensor.shape))


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator: Generator = None) -> Tensor:
    """Glorot & Bengio (2010): U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)).

    Example:
        >>> import chainrule as cr
        >>> from chainrule.nn import init
        >>> w = init.xavier_uniform_(cr.zeros(200, 100))  # bound sqrt(6 / (100 + 200)) = 0.141
        >>> bool(abs(w.numpy()).max() <= 0.1415)
        True
    """
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator: Generator = None) -> Tensor:
    """Glorot & Bengio (2010): N(0, std²) with std = gain * sqrt(2 / (fan_in + fan_out)).

    Example:
        >>> import chainrule as cr
        >>> from chainrule.nn import init
        >>> _ = cr.manual_seed(0)
        >>> w = init.xavier_normal_(cr.zeros(200, 100))  # std sqrt(2 / 300) = 0.0816
        >>> round(float(w.numpy().std()), 2)
        0.08
    """
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str) -> float:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming init: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(
    tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", generator: Generator = None
) -> Tensor:
    """He et al. (2015): U(-b, b) with b = gain * sqrt(3 / fan).

    Example:
        >>> import chainrule as cr
        >>> from chainrule.nn import init
        >>> w = init.kaiming_uniform_(cr.zeros(64, 100), nonlinearity='relu')  # bound sqrt(6 / 100) = 0.245
        >>> bool(abs(w.numpy()).max() <= 0.245)
        True
    """
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(
    tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", generator: Generator = None
) -> Tensor:
    """He et al. (2015): N(0, std²) with std = gain / sqrt(fan).

    Example:
        >>> import chainrule as cr
        >>> from chainrule.nn import init
        >>> _ = cr.manual_seed(0)
        >>> w = init.kaiming_normal_(cr.zeros(256, 200), nonlinearity='relu')  # std sqrt(2 / 200) = 0.1
        >>> round(float(w.numpy().std()), 2)
        0.1
    """
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity), generator)


def _check_ndim(name: str, tensor: Tensor, allowed: tuple[int, ...], words: str) -> None:
    if tensor.ndim not in allowed:
        raise ValueError(f"{name}: only tensors with {words} dimensions are supported, got shape {tensor.shape}")


def orthogonal_(tensor: Tensor, gain: float = 1.0, generator: Generator = None) -> Tensor:
    """Saxe et al. (2013): a (semi-)orthogonal matrix times ``gain``, uniform over such matrices.

    The tensor is seen as a matrix of ``shape[0]`` rows and ``numel // shape[0]`` columns (as PyTorch
    flattens a convolution weight); its rows are orthonormal if there are fewer rows than columns,
    else its columns are. Drawn from a standard normal matrix by QR, with the signs of R's diagonal
    moved into Q, so that Q is uniform (Mezzadri, 2007).

    Example:
        >>> import numpy as np
        >>> import chainrule as cr
        >>> from chainrule.nn import init
        >>> w = init.orthogonal_(cr.zeros(3, 5, dtype=cr.float64)).numpy()
        >>> bool(np.allclose(w @ w.T, np.eye(3)))
        True
    """
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_: only tensors with 2 or more dimensions are supported, got shape {tensor.shape}")
    rng = resolve_generator(generator)
    if tensor.numel() == 0:
        return tensor

    def draw() -> np.ndarray:
        rows = tensor.shape[0]
        cols = tensor.numel() // rows
        flat = rng.normal(0.0, 1.0, (rows, cols))
        if rows < cols:
            flat = flat.T
        q, r = np.linalg.qr(flat)
        q = q * np.where(np.diagonal(r) < 0, -1.0, 1.0)  # a zero diagonal (probability 0) keeps +1
        if rows < cols:
            q = q.T
        return (gain * q).reshape(tensor.shape)

    return _fill(tensor, draw)


def _normal_cdf(x: float) -> float:
    return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0


def trunc_normal_(
    tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0, generator: Generator = None
) -> Tensor:
    """Samples from N(mean, std²) truncated to [a, b] (``a`` and ``b`` are values, not multiples of std).

    Every value lies inside [a, b]. As PyTorch 2.x: values outside the interval are redrawn
    (rejection), from the normal itself when it puts more than 0.3 of its mass in [a, b], else
    from U(a, b) accepted with the normal's density relative to its peak in [a, b], which stays
    exact far into the tails. A mean more than 2 std outside [a, b] warns, as PyTorch's does.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.nn import init
        >>> w = init.trunc_normal_(cr.zeros(10000), std=0.02, a=-0.04, b=0.04).numpy()
        >>> bool(w.min() >= -0.04 and w.max() <= 0.04)
        True
    """
    if not std > 0:
        raise ValueError(f"trunc_normal_: std must be positive, got {std}")
    if not a <= b:
        raise ValueError(f"trunc_normal_: low {a} is above high {b}")
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn(
            "mean is more than 2 std from [a, b] in nn.init.trunc_normal_. "
            "The distribution of values may be incorrect.",
            stacklevel=2,
        )
    rng = resolve_generator(generator)
    inside = _normal_cdf((b - mean) / std) - _normal_cdf((a - mean) / std)
    dtype = tensor.dtype if np.dtype(tensor.dtype).kind == "f" else np.float64
    low, high = float(np.asarray(a, dtype)), float(np.asarray(b, dtype))  # the bounds as the tensor holds them

    def draw() -> np.ndarray:
        out = np.empty(tensor.shape)
        pending = np.ones(tensor.shape, dtype=bool)
        if inside > 0.3:
            while (count := int(pending.sum())) > 0:
                out[pending] = rng.normal(mean, std, count)
                pending &= (out < low) | (out > high)
            return out
        log_peak = -0.5 * ((max(a, min(mean, b)) - mean) / std) ** 2
        while (count := int(pending.sum())) > 0:
            candidates = rng.uniform(a, b, count)
            log_density = -0.5 * ((candidates - mean) / std) ** 2 - log_peak
            out[pending] = candidates
            rejected = np.zeros(tensor.shape, dtype=bool)
            rejected[pending] = np.log1p(-rng.uniform(0.0, 1.0, count)) > log_density  # log U, U in (0, 1]
            pending = rejected
        return np.clip(out, low, high)

    return _fill(tensor, draw)


def eye_(tensor: Tensor) -> Tensor:
    """Fill a 2-d tensor with the identity matrix (ones on the main diagonal, also when not square).

    Example:
        >>> import chainrule as cr
        >>> from chainrule.nn import init
        >>> init.eye_(cr.zeros(2, 3))
        tensor([[1., 0., 0.],
                [0., 1., 0.]])
    """
    _check_ndim("eye_", tensor, (2,), "2")
    return _fill(tensor, lambda: np.eye(*tensor.shape))


def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """Fill a 3-, 4- or 5-d convolution weight with the Dirac delta: the convolution passes its input through.

    Each group's first ``min(out_channels // groups, in_channels)`` output channels copy one input
    channel each, from the kernel's centre; everything else is 0.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.nn import init
        >>> w = init.dirac_(cr.zeros(2, 2, 3))
        >>> w[:, :, 1], float(w.sum())
        (tensor([[1., 0.],
                [0., 1.]]), 2.0)
    """
    _check_ndim("dirac_", tensor, (3, 4, 5), "3, 4, or 5")
    if isinstance(groups, bool) or not isinstance(groups, int | np.integer) or groups < 1:
        raise ValueError(f"dirac_: groups must be a positive integer, got {groups!r}")
    if tensor.shape[0] % groups:
        raise ValueError(f"dirac_: dim 0 ({tensor.shape[0]}) must be divisible by groups ({groups})")

    def draw() -> np.ndarray:
        out = np.zeros(tensor.shape)
        per_group = tensor.shape[0] // groups
        channels = np.arange(min(per_group, tensor.shape[1]))
        centre = tuple(size // 2 for size in tensor.shape[2:])
        for g in range(groups):
            out[(g * per_group + channels, channels, *centre)] = 1.0
        return out

    return _fill(tensor, draw)


def sparse_(tensor: Tensor, sparsity: float, std: float = 0.01, generator: Generator = None) -> Tensor:
    """Martens (2010): a 2-d tensor from N(0, std²) with ``ceil(sparsity * rows)`` zeros in each column.

    The zeros sit in rows drawn at random for each column.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.nn import init
        >>> w = init.sparse_(cr.zeros(10, 4), sparsity=0.3)
        >>> (w.numpy() == 0).sum(axis=0).tolist()
        [3, 3, 3, 3]
    """
    _check_ndim("sparse_", tensor, (2,), "2")
    if not 0 <= sparsity <= 1:
        raise ValueError(f"sparse_: sparsity must be a fraction in [0, 1], got {sparsity}")
    if std < 0:
        raise ValueError(f"sparse_: std must be non-negative, got {std}")
    rng = resolve_generator(generator)

    def draw() -> np.ndarray:
        rows, cols = tensor.shape
        out = rng.normal(0.0, std, (rows, cols))
        zeros = np.argsort(rng.random((rows, cols)), axis=0)[: math.ceil(sparsity * rows)]  # random rows per column
        np.put_along_axis(out, zeros, 0.0, axis=0)
        return out

    return _fill(tensor, draw)


# The same schemes under their other common names (Keras says glorot and he).
glorot_uniform_ = xavier_uniform_
glorot_normal_ = xavier_normal_
he_uniform_ = kaiming_uniform_
he_normal_ = kaiming_normal_
