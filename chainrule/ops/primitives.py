"""Every primitive of chainrule: the ``Function`` classes that carry a gradient rule, by name.

The interpreters (``chainrule.interpreters``) bind these when a rule calls ``ns.exp``,
``ns.sum``, ...; the test registry (``tests/ops/registry.py``) checks that each one is covered.
Composed ops (``sqrt``, ``mean``, ``elu``, ...) have no class: their gradients follow from these.
"""

from chainrule.ops.conv import Conv, ConvInputGrad, ConvWeightGrad
from chainrule.ops.elementwise import (
    Add,
    Cast,
    Clip,
    Clone,
    Cos,
    Div,
    Exp,
    Log,
    Log1p,
    Mul,
    Neg,
    Pow,
    PowScalar,
    Relu,
    Sigmoid,
    Sin,
    Softplus,
    Step,
    Sub,
    Tanh,
    Where,
)
from chainrule.ops.linalg import Einsum, Linear, MatMul
from chainrule.ops.loss import CrossEntropy
from chainrule.ops.pool import AvgPool, AvgPoolAdjoint, MaxPool, MaxPoolGather, MaxPoolScatter
from chainrule.ops.recurrent import RecurrentLayer
from chainrule.ops.reduce import Cumprod, Cumsum, LogSoftmax, LogSumExp, Max, Softmax, Sum
from chainrule.ops.shape import BroadcastTo, Concat, Index, IndexAdd, Pad, Reshape, Transpose

__all__ = [
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Neg",
    "PowScalar",
    "Pow",
    "Exp",
    "Log",
    "Log1p",
    "Sin",
    "Cos",
    "Tanh",
    "Sigmoid",
    "Relu",
    "Softplus",
    "Step",
    "Clip",
    "Where",
    "Cast",
    "Clone",
    "Sum",
    "Max",
    "LogSumExp",
    "Softmax",
    "LogSoftmax",
    "Cumsum",
    "Cumprod",
    "Reshape",
    "Transpose",
    "BroadcastTo",
    "Index",
    "IndexAdd",
    "Concat",
    "Pad",
    "MatMul",
    "Linear",
    "Einsum",
    "CrossEntropy",
    "RecurrentLayer",
    "Conv",
    "ConvInputGrad",
    "ConvWeightGrad",
    "MaxPool",
    "MaxPoolScatter",
    "MaxPoolGather",
    "AvgPool",
    "AvgPoolAdjoint",
]
