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


# The same schemes under their other common names (Keras says glorot and he).
glorot_uniform_ = xavier_uniform_
glorot_normal_ = xavier_normal_
he_uniform_ = kaiming_uniform_
he_normal_ = kaiming_normal_
