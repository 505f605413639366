"""Differentiable operations, one module per family; every name is also exported from ``chainrule``."""

from chainrule.ops.elementwise import (
    abs, add, cast, clip, clone, cos, div, elu, eq, exp, ge, gelu, gt, heaviside, le, leaky_relu,
    lift, log, log1p, logical_and, logical_not, logical_or, lt, maximum, minimum, mul, ne, neg, pow,
    relu, sigmoid, sign, sin, softplus, sqrt, step, sub, tanh, where,
)
from chainrule.ops.shape import (
    broadcast_to, cat, concat, concatenate, expand, flatten, index, pad, permute, repeat, reshape,
    split, squeeze, stack, swapaxes, transpose, unsqueeze, unwrap_index,
)
from chainrule.ops.reduce import (
    argmax, argmin, logsumexp, log_softmax, max, mean, min, softmax, std, sum, var,
)
from chainrule.ops.linalg import dot, linear, matmul, outer
from chainrule.ops.recurrent import gru_cell, lstm_cell, recurrent_layer, rnn_cell
from chainrule.ops.conv import (
    adaptive_avg_pool1d, adaptive_avg_pool2d, avg_pool1d, avg_pool2d, conv1d, conv2d,
    conv_transpose1d, conv_transpose2d, interpolate, max_pool1d, max_pool2d,
)

__all__ = [
    "abs", "add", "cast", "clip", "clone", "cos", "div", "elu", "eq", "exp", "ge", "gelu", "gt",
    "heaviside", "le", "leaky_relu", "log", "log1p", "logical_and", "logical_not", "logical_or",
    "lt", "maximum", "minimum", "mul", "ne", "neg", "pow", "relu", "sigmoid", "sign", "sin",
    "softplus", "sqrt", "step", "sub", "tanh", "where",
    "broadcast_to", "cat", "concat", "concatenate", "expand", "flatten", "index", "pad", "permute",
    "repeat", "reshape", "split", "squeeze", "stack", "swapaxes", "transpose", "unsqueeze",
    "argmax", "argmin", "logsumexp", "log_softmax", "max", "mean", "min", "softmax", "std", "sum",
    "var", "dot", "linear", "matmul", "outer",
    "rnn_cell", "lstm_cell", "gru_cell", "recurrent_layer",
    "conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "max_pool1d", "max_pool2d",
    "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d", "interpolate",
]
