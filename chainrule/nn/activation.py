"""Activation functions as layers: Step, Sigmoid, Tanh, ReLU, LeakyReLU, ELU, GELU, Softplus,
Softmax, LogSoftmax. Each applies its function elementwise (Softmax along ``dim``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chainrule import ops
from chainrule.nn.module import Module
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

    def __init__(self, alpha: float = 1.0):
        super().__init__()
        self.alpha = alpha

    def forward(self, x: Tensor) -> Tensor:
        return ops.elu(x, self.alpha)

    def get_config(self) -> dict[str, Any]:
        return {"alpha": self.alpha}

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


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
    """log(1 + e^(beta x)) / beta: a smooth ReLU.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Softplus()(cr.tensor([0.0, 50.0], dtype='float64'))
        tensor([ 0.6931, 50.    ], dtype=float64)
    """

    def __init__(self, beta: float = 1.0):
        super().__init__()
        self.beta = beta

    def forward(self, x: Tensor) -> Tensor:
        return ops.softplus(x, self.beta)

    def get_config(self) -> dict[str, Any]:
        return {"beta": self.beta}

    def extra_repr(self) -> str:
        return f"beta={self.beta}"


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
