"""chainrule: neural networks on a computational graph with reverse-mode autodiff over NumPy.

Example:
    >>> import chainrule as cr
    >>> x, y, z = (cr.tensor(v, requires_grad=True) for v in (2.0, 3.0, 4.0))
    >>> J = 4 * (x + y * z)
    >>> J.backward()
    >>> J.item(), x.grad.item(), y.grad.item(), z.grad.item()
    (56.0, 4.0, 16.0, 12.0)
"""

import numpy as _np

from chainrule import compiler, data, distributed, linalg, memory, nn, optim, train, utils
from chainrule._version import __version__
from chainrule.autograd import (
    Function,
    GradcheckError,
    backward,
    detect_anomaly,
    enable_grad,
    grad,
    gradcheck,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from chainrule.compiler import compile
from chainrule.devices import backends, cuda, device
from chainrule.io import load, save
from chainrule.ops import *  # noqa: F401,F403  (every differentiable op, e.g. cr.exp, cr.matmul)
from chainrule.ops import __all__ as _ops_all
from chainrule.random import manual_seed, rand, rand_like, randint, randn, randn_like, randperm
from chainrule.tensor import (
    DEFAULT_DTYPE,
    Tensor,
    arange,
    as_tensor,
    empty,
    eye,
    from_numpy,
    full,
    full_like,
    is_tensor,
    linspace,
    numel,
    ones,
    ones_like,
    tensor,
    zeros,
    zeros_like,
)

float16, float32, float64 = _np.float16, _np.float32, _np.float64
int8, int16, int32, int64, uint8, bool_ = _np.int8, _np.int16, _np.int32, _np.int64, _np.uint8, _np.bool_
# PyTorch's dtype names (cr.float, cr.long, ...). Not in __all__: `from chainrule import *` must not
# shadow Python's float, int and bool.
float, double, half, long, int, short, bool = float32, float64, float16, int64, int32, int16, bool_  # noqa: A001


__all__ = [
    "Tensor",
    "tensor",
    "is_tensor",
    "zeros",
    "ones",
    "full",
    "zeros_like",
    "ones_like",
    "full_like",
    "empty",
    "from_numpy",
    "as_tensor",
    "arange",
    "linspace",
    "eye",
    "numel",
    "DEFAULT_DTYPE",
    "Function",
    "GradcheckError",
    "backward",
    "detect_anomaly",
    "enable_grad",
    "grad",
    "gradcheck",
    "is_grad_enabled",
    "inference_mode",
    "no_grad",
    "set_grad_enabled",
    "float16",
    "float32",
    "float64",
    "int32",
    "int64",
    "bool_",
    "int8",
    "int16",
    "uint8",
    "device",
    "cuda",
    "backends",
    "manual_seed",
    "rand",
    "rand_like",
    "randint",
    "randn",
    "randn_like",
    "randperm",
    "nn",
    "linalg",
    "optim",
    "data",
    "utils",
    "memory",
    "compile",
    "compiler",
    "train",
    "save",
    "load",
    *_ops_all,
]


def __getattr__(name: str):
    """Import ``cr.viz``, ``cr.explain`` and ``cr.onnx`` on first use: ``import chainrule`` never
    imports graphviz, and does not pay for the explanation methods or the ONNX translation of a
    program that trains only."""
    if name in ("viz", "explain", "onnx"):
        import importlib

        return importlib.import_module(f"chainrule.{name}")
    raise AttributeError(f"module 'chainrule' has no attribute {name!r}")
