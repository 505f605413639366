"""Optimisers, learning-rate schedules and gradient clipping.

Each optimiser updates parameters in place from their ``.grad``::

    opt = cr.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for X, y in loader:
        opt.zero_grad()
        loss_fn(model(X), y).backward()
        opt.step()

``LBFGS`` instead takes a closure that recomputes the loss, ``opt.step(closure)``, as in PyTorch.

Full-batch GD, SGD and mini-batch GD are the same optimiser (``GD`` is ``SGD``); the batch size
makes the difference. Schedules live in ``chainrule.optim.lr_scheduler`` and are re-exported here.
"""

from chainrule.optim import lr_scheduler
from chainrule.optim.adadelta import Adadelta
from chainrule.optim.adagrad import Adagrad
from chainrule.optim.adam import Adam, AdamW
from chainrule.optim.adamax import Adamax
from chainrule.optim.asgd import ASGD
from chainrule.optim.clip import clip_grad_norm_, clip_grad_value_
from chainrule.optim.lbfgs import LBFGS
from chainrule.optim.lr_scheduler import (
    ChainedScheduler,
    ConstantLR,
    CosineAnnealingLR,
    CosineAnnealingWarmRestarts,
    CyclicLR,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    LinearWarmup,
    LRScheduler,
    MultiplicativeLR,
    MultiStepLR,
    OneCycleLR,
    PolynomialLR,
    ReduceLROnPlateau,
    SequentialLR,
    StepLR,
)
from chainrule.optim.nadam import NAdam
from chainrule.optim.optimizer import Optimizer
from chainrule.optim.radam import RAdam
from chainrule.optim.rmsprop import RMSprop
from chainrule.optim.rprop import Rprop
from chainrule.optim.sgd import GD, SGD

__all__ = [
    "Optimizer",
    "SGD",
    "GD",
    "Adam",
    "AdamW",
    "RMSprop",
    "Adagrad",
    "NAdam",
    "RAdam",
    "Adamax",
    "Adadelta",
    "Rprop",
    "ASGD",
    "LBFGS",
    "lr_scheduler",
    "LRScheduler",
    "StepLR",
    "MultiStepLR",
    "ExponentialLR",
    "CosineAnnealingLR",
    "LambdaLR",
    "LinearLR",
    "LinearWarmup",
    "ReduceLROnPlateau",
    "MultiplicativeLR",
    "ConstantLR",
    "PolynomialLR",
    "CosineAnnealingWarmRestarts",
    "CyclicLR",
    "OneCycleLR",
    "SequentialLR",
    "ChainedScheduler",
    "clip_grad_norm_",
    "clip_grad_value_",
]
