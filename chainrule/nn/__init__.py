"""Neural-network layers, losses and containers (PyTorch-style modules)."""

from chainrule.nn import functional, init
from chainrule.nn.activation import (
    ELU, GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Softplus, Step, Tanh, activation,
)
from chainrule.nn.conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d
from chainrule.nn.dropout import Dropout
from chainrule.nn.embedding import Embedding
from chainrule.nn.linear import Dense, Flatten, Identity, Linear
from chainrule.nn.losses import (
    BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HingeLoss, HuberLoss, L1Loss, MSELoss,
    MultiMarginLoss, NLLLoss,
)
from chainrule.nn.module import (
    Module, ModuleDict, ModuleList, Parameter, Sequential, module_class, module_from_spec,
    module_to_spec,
)
from chainrule.nn.normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from chainrule.nn.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from chainrule.nn.pooling import (
    AdaptiveAvgPool1d, AdaptiveAvgPool2d, AvgPool1d, AvgPool2d, GlobalAvgPool, MaxPool1d, MaxPool2d,
    Upsample,
)

__all__ = [
    "functional", "init", "Module", "ModuleDict", "ModuleList", "Parameter", "Sequential",
    "module_class", "module_from_spec", "module_to_spec", "Linear", "Dense", "Flatten", "Identity",
    "Step", "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "ELU", "GELU", "Softplus", "Softmax",
    "LogSoftmax", "activation", "Dropout", "BatchNorm1d", "BatchNorm2d", "LayerNorm",
    "MSELoss", "L1Loss", "HuberLoss", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss",
    "NLLLoss", "HingeLoss", "MultiMarginLoss",
    "Embedding", "RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell",
    "Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d", "MaxPool1d", "MaxPool2d",
    "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "GlobalAvgPool", "Upsample",
]
