"""Module reprs against torch.nn's, nested containers included."""

from __future__ import annotations

from collections import OrderedDict

import torch

from chainrule import nn


def test_nested_repr_matches_torch():
    # Layers whose arguments are the same in both libraries (torch's BatchNorm and LayerNorm also
    # show a `bias` argument that chainrule does not have; their reprs are tested on their own).
    ours = nn.Sequential(
        nn.Linear(4, 8),
        nn.ReLU(),
        nn.Identity(),
        nn.Sequential(
            OrderedDict(
                [
                    ("fc", nn.Linear(8, 8, bias=False)),
                    ("act", nn.Sequential(nn.Tanh(), nn.Sigmoid())),
                ]
            )
        ),
        nn.LeakyReLU(0.2),
        nn.ELU(0.5),
        nn.Flatten(),
        nn.Softmax(dim=1),
        nn.LogSoftmax(dim=0),
    )
    tn = torch.nn
    theirs = tn.Sequential(
        tn.Linear(4, 8),
        tn.ReLU(),
        tn.Identity(),
        tn.Sequential(
            OrderedDict(
                [
                    ("fc", tn.Linear(8, 8, bias=False)),
                    ("act", tn.Sequential(tn.Tanh(), tn.Sigmoid())),
                ]
            )
        ),
        tn.LeakyReLU(0.2),
        tn.ELU(0.5),
        tn.Flatten(),
        tn.Softmax(dim=1),
        tn.LogSoftmax(dim=0),
    )
    assert repr(ours) == repr(theirs)
