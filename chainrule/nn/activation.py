"""Activation functions as layers: Step, Sigmoid, Tanh, ReLU, LeakyReLU, ELU, GELU, Softplus,
Softmax, LogSoftmax, and PyTorch's SiLU, Mish, SELU, CELU, ReLU6, Hardtanh, Hardswish,
Hardsigmoid, Softsign, LogSigmoid, Softmin, GLU, Threshold, Tanhshrink, Softshrink, Hardshrink and PReLU
(learned slopes). Each applies its function elementwise (Softmax, Softmin and GLU along ``dim``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from chainrule import ops
from chainrule.nn import init as _init
from chainrule.nn.checks import parameter_dtype, positive_int
from chainrule.nn.module import Module, Parameter
from chainrule.tensor import Tensor


class Step(Module):
    """The perceptron's activation: 1 where x >= 0, else 0. Its gradient is zero everywhere.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Step()(cr.tensor([-1.0, 0.0, 2.0]))
        tensor([0., 1., 1.])
    """

    def forward(self, x: Tensor) -> Tensor:
        return ops.step(x)


class Sigmoid(Module):
    """1 / (1 + e^-x): squashes any value into (0, 1).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Sigmoid()(cr.tensor([-100.0, 0.0, 100.0]))
        tensor([3.8e-44, 5.0e-01, 1.0e+00])
    """

    def forward(self, x: Tensor) -> Tensor:
        return ops.sigmoid(x)


class Tanh(Module):
    """tanh(x): squashes into (-1, 1), centred on 0.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Tanh()(cr.tensor([0.0, 100.0]))
        tensor([0., 1.])
    """

    def forward(self, x: Tensor) -> Tensor:
        return ops.tanh(x)


class ReLU(Module):
    """max(x, 0).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.ReLU()(cr.tensor([-1.0, 2.0]))
        tensor([0., 2.])
    """

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = bool(inplace)  # PyTorch's: the input's own memory takes the result

    def forward(self, x: Tensor) -> Tensor:
        return x.relu_() if self.inplace else ops.relu(x)

    def get_config(self) -> dict[str, Any]:
        return {"inplace": True} if self.inplace else {}

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    """x for x > 0, ``negative_slope * x`` otherwise.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.LeakyReLU(0.1)(cr.tensor([-2.0, 3.0]))
        tensor([-0.2,  3. ])
    """

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = bool(inplace)

    def forward(self, x: Tensor) -> Tensor:
        if self.inplace:
            return x._in_place("leaky_relu_", ops.leaky_relu, self.negative_slope)
        return ops.leaky_relu(x, self.negative_slope)

    def get_config(self) -> dict[str, Any]:
        return {"negative_slope": self.negative_slope, **({"inplace": True} if self.inplace else {})}

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class ELU(Module):
    """x for x > 0, alpha (e^x - 1) otherwise.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.ELU()(cr.tensor([-100.0, 2.0]))
        tensor([-1.,  2.])
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha = alpha
        self.inplace = bool(inplace)

    def forward(self, x: Tensor) -> Tensor:
        return _apply(x, self.inplace, "elu_", ops.elu, self.alpha)

    def get_config(self) -> dict[str, Any]:
        return {"alpha": self.alpha, **_inplace_config(self)}

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class GELU(Module):
    """Gaussian error linear unit, x Phi(x), as PyTorch's: exact (erf) by default,
    ``approximate="tanh"`` for the tanh form (see ``cr.gelu``).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.GELU()(cr.tensor([0.0, 10.0]))
        tensor([ 0., 10.])
        >>> cr.nn.GELU(approximate="tanh")
        GELU(approximate='tanh')
    """

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return ops.gelu(x, self.approximate)

    def get_config(self) -> dict[str, Any]:
        return {"approximate": self.approximate}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> GELU:
        # a model saved before GELU had the exact form computed the tanh one: it keeps it
        return cls(config.get("approximate", "tanh"))

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}" if self.approximate != "none" else ""


class Softplus(Module):
    """log(1 + e^(beta x)) / beta: a smooth ReLU; x itself where ``beta * x > threshold``, as PyTorch.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Softplus()(cr.tensor([0.0, 50.0], dtype='float64'))
        tensor([ 0.6931, 50.    ], dtype=float64)
        >>> cr.nn.Softplus(beta=2.0, threshold=5.0)
        Softplus(beta=2.0, threshold=5.0)
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, x: Tensor) -> Tensor:
        return ops.softplus(x, self.beta, self.threshold)

    def get_config(self) -> dict[str, Any]:
        return {"beta": self.beta, "threshold": self.threshold}

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Softmax(Module):
    """exp(x) / sum(exp(x)) along ``dim``: turns scores into probabilities.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Softmax(dim=1)(cr.tensor([[0.0, 0.0], [0.0, 1000.0]]))
        tensor([[0.5, 0.5],
                [0. , 1. ]])
    """

    def __init__(self, dim: int | None = None):
        # (None: PyTorch's default, the last axis up to 2-d and its implicit choice beyond, with its warning)
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return ops.softmax(x, self.dim)

    def get_config(self) -> dict[str, Any]:
        return {"dim": self.dim}

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """log(softmax(x)) along ``dim``, computed stably.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.LogSoftmax()(cr.tensor([0.0, 0.0]))
        tensor([-0.6931, -0.6931])
    """

    def forward(self, x: Tensor) -> Tensor:
        return ops.log_softmax(x, self.dim)


def _apply(x: Tensor, inplace: bool, name: str, function: Any, *args: Any) -> Tensor:
    """``function(x, *args)``, or with ``inplace`` (PyTorch's) written into ``x``'s own memory."""
    return x._in_place(name, function, *args) if inplace else function(x, *args)


def _inplace_config(module: Module) -> dict[str, Any]:
    return {"inplace": True} if module.inplace else {}


class _InplaceActivation(Module):
    """An activation without arguments but PyTorch's ``inplace``; ``function`` computes it."""

    function: Any = None
    inplace_name = ""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = bool(inplace)

    def forward(self, x: Tensor) -> Tensor:
        return _apply(x, self.inplace, self.inplace_name, type(self).function)

    def get_config(self) -> dict[str, Any]:
        return _inplace_config(self)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class SiLU(_InplaceActivation):
    """x * sigmoid(x) (the swish; see ``cr.silu``).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.SiLU()(cr.tensor([-1.0, 0.0, 2.0]))
        tensor([-0.2689,  0.    ,  1.7616])
    """

    function = staticmethod(ops.silu)
    inplace_name = "silu_"


class Mish(_InplaceActivation):
    """x * tanh(softplus(x)) (see ``cr.mish``).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Mish()(cr.tensor([0.0, 2.0]))
        tensor([0.   , 1.944])
    """

    function = staticmethod(ops.mish)
    inplace_name = "mish_"


class SELU(_InplaceActivation):
    """Scaled ELU with PyTorch's constants (see ``cr.selu``).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.SELU()(cr.tensor([-1.0, 1.0]))
        tensor([-1.1113,  1.0507])
    """

    function = staticmethod(ops.selu)
    inplace_name = "selu_"


class ReLU6(_InplaceActivation):
    """min(max(x, 0), 6) (see ``cr.relu6``).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.ReLU6()(cr.tensor([-1.0, 3.0, 8.0]))
        tensor([0., 3., 6.])
    """

    function = staticmethod(ops.relu6)
    inplace_name = "relu6_"


class Hardswish(_InplaceActivation):
    """x * relu6(x + 3) / 6 (see ``cr.hardswish``). Its repr leaves out ``inplace``, as PyTorch's.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Hardswish()(cr.tensor([-4.0, 1.0, 4.0]))
        tensor([-0.    ,  0.6667,  4.    ])
    """

    function = staticmethod(ops.hardswish)
    inplace_name = "hardswish_"

    def extra_repr(self) -> str:
        return ""


class Hardsigmoid(_InplaceActivation):
    """relu6(x + 3) / 6 (see ``cr.hardsigmoid``). Its repr leaves out ``inplace``, as PyTorch's.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Hardsigmoid()(cr.tensor([-4.0, 0.0, 4.0]))
        tensor([0. , 0.5, 1. ])
    """

    function = staticmethod(ops.hardsigmoid)
    inplace_name = "hardsigmoid_"

    def extra_repr(self) -> str:
        return ""


class CELU(Module):
    """x if x > 0 else alpha (e^(x / alpha) - 1) (see ``cr.celu``).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.CELU(alpha=2.0)(cr.tensor([-1.0, 2.0]))
        tensor([-0.7869,  2.    ])
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha = alpha
        self.inplace = bool(inplace)

    def forward(self, x: Tensor) -> Tensor:
        return _apply(x, self.inplace, "celu_", ops.celu, self.alpha)

    def get_config(self) -> dict[str, Any]:
        return {"alpha": self.alpha, **_inplace_config(self)}

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class Hardtanh(Module):
    """x limited to [min_val, max_val] (see ``cr.hardtanh``).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Hardtanh(-2.0, 2.0)(cr.tensor([-3.0, 0.5, 3.0]))
        tensor([-2. ,  0.5,  2. ])
    """

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
        super().__init__()
        if min_val > max_val:
            raise ValueError(f"Hardtanh: min_val cannot be greater than max_val, got {min_val} > {max_val}")
        self.min_val, self.max_val = min_val, max_val
        self.inplace = bool(inplace)

    def forward(self, x: Tensor) -> Tensor:
        return _apply(x, self.inplace, "hardtanh_", ops.hardtanh, self.min_val, self.max_val)

    def get_config(self) -> dict[str, Any]:
        return {"min_val": self.min_val, "max_val": self.max_val, **_inplace_config(self)}

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}" + (", inplace=True" if self.inplace else "")


class Threshold(Module):
    """x where x > ``threshold``, else ``value`` (see ``cr.threshold``).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Threshold(0.5, -10.0)(cr.tensor([0.0, 2.0]))
        tensor([-10.,   2.])
    """

    def __init__(self, threshold: float, value: float, inplace: bool = False):
        super().__init__()
        self.threshold, self.value = threshold, value
        self.inplace = bool(inplace)

    def forward(self, x: Tensor) -> Tensor:
        return _apply(x, self.inplace, "threshold_", ops.threshold, self.threshold, self.value)

    def get_config(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "value": self.value, **_inplace_config(self)}

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}, value={self.value}" + (", inplace=True" if self.inplace else "")


class Softsign(Module):
    """x / (1 + |x|).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Softsign()(cr.tensor([-3.0, 1.0]))
        tensor([-0.75,  0.5 ])
    """

    def forward(self, x: Tensor) -> Tensor:
        return ops.softsign(x)


class LogSigmoid(Module):
    """log(sigmoid(x)) = -softplus(-x), stable for any x (see ``cr.logsigmoid``).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.LogSigmoid()(cr.tensor([0.0, -100.0]))
        tensor([  -0.6931, -100.    ])
    """

    def forward(self, x: Tensor) -> Tensor:
        return ops.logsigmoid(x)


class Tanhshrink(Module):
    """x - tanh(x).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Tanhshrink()(cr.tensor([0.0, 1.0]))
        tensor([0.    , 0.2384])
    """

    def forward(self, x: Tensor) -> Tensor:
        return ops.tanhshrink(x)


class Softshrink(Module):
    """x - lambd above lambd, x + lambd below -lambd, 0 between (see ``cr.softshrink``).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Softshrink(1.0)(cr.tensor([-2.0, 0.5, 3.0]))
        tensor([-1.,  0.,  2.])
    """

    def __init__(self, lambd: float = 0.5):
        super().__init__()
        self.lambd = lambd

    def forward(self, x: Tensor) -> Tensor:
        return ops.softshrink(x, self.lambd)

    def get_config(self) -> dict[str, Any]:
        return {"lambd": self.lambd}

    def extra_repr(self) -> str:
        return str(self.lambd)


class Hardshrink(Softshrink):
    """x where |x| > lambd, else 0 (see ``cr.hardshrink``).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Hardshrink(1.0)(cr.tensor([-2.0, 0.5, 3.0]))
        tensor([-2.,  0.,  3.])
    """

    def forward(self, x: Tensor) -> Tensor:
        return ops.hardshrink(x, self.lambd)


class Softmin(Softmax):
    """softmax(-x) along ``dim``: the smallest entries get the largest weights.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Softmin(dim=1)(cr.tensor([[1.0, 2.0]]))
        tensor([[0.7311, 0.2689]])
    """

    def forward(self, x: Tensor) -> Tensor:
        return ops.softmin(x, self.dim)


class GLU(Module):
    """The gated linear unit: a * sigmoid(b) of the two halves a, b of the input along ``dim``.

    Shape:
        input (*, 2 n, *) -> output (*, n, *) (the halved axis is ``dim``).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.GLU()(cr.ones(3, 4)).shape
        (3, 2)
    """

    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return ops.glu(x, self.dim)

    def get_config(self) -> dict[str, Any]:
        return {"dim": self.dim}

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class PReLU(Module):
    """x for x > 0, a * x otherwise, with learned slopes a: one shared (``num_parameters=1``) or one
    per channel (the input's dim 1), each starting at ``init``.

    Args:
        num_parameters: how many slopes: 1, or the number of channels (default 1).
        init: the slopes' initial value (default 0.25, PyTorch's).
        device: "cpu" or None, as PyTorch code passes it.
        dtype: the slopes' dtype (float32 by default).

    Shape:
        input (N, C, *) or any shape with one slope -> output of the same shape. ``weight`` is
        (num_parameters,), as PyTorch's.

    Example:
        >>> import chainrule as cr
        >>> layer = cr.nn.PReLU()
        >>> layer(cr.tensor([-2.0, 3.0]))
        tensor([-0.5,  3. ], grad_fn=<WhereBackward0>)
        >>> layer, list(layer.state_dict())
        (PReLU(num_parameters=1), ['weight'])
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device: Any = None, dtype: Any = None):
        super().__init__()
        self.num_parameters = positive_int("PReLU", "num_parameters", num_parameters)
        self.init = init
        self.weight = Parameter(np.empty(self.num_parameters, dtype=parameter_dtype("PReLU", dtype, device)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _init.constant_(self.weight, self.init)

    def forward(self, x: Tensor) -> Tensor:
        return ops.prelu(x, self.weight)

    def get_config(self) -> dict[str, Any]:
        return {"num_parameters": self.num_parameters, "init": self.init, "dtype": str(self.weight.dtype)}

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


ACTIVATIONS: dict[str, type[Module]] = {
    "step": Step,
    "sigmoid": Sigmoid,
    "logistic": Sigmoid,
    "tanh": Tanh,
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "elu": ELU,
    "gelu": GELU,
    "softplus": Softplus,
    "silu": SiLU,
    "mish": Mish,
    "selu": SELU,
    "celu": CELU,
    "relu6": ReLU6,
    "hardtanh": Hardtanh,
    "hardswish": Hardswish,
    "hardsigmoid": Hardsigmoid,
    "softsign": Softsign,
    "logsigmoid": LogSigmoid,
    "tanhshrink": Tanhshrink,
    "softshrink": Softshrink,
    "hardshrink": Hardshrink,
    "prelu": PReLU,
}


def activation(name: str) -> Module:
    """An activation layer by name ('relu', 'tanh', 'sigmoid' or 'logistic', 'identity', ...).

    Example:
        >>> from chainrule import nn
        >>> nn.activation('relu'), nn.activation('logistic')
        (ReLU(), Sigmoid())
    """
    if name in ("identity", "linear"):
        from chainrule.nn.linear import Identity

        return Identity()
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose from {sorted(ACTIVATIONS) + ['identity']}") from None
