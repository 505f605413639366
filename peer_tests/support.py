"""Helpers shared by the peer tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

import chainrule as cr


def to_torch(array: Any) -> torch.Tensor:
    """A torch tensor of ``array`` (a Tensor or an ndarray), same dtype (float64 in these tests)."""
    return torch.tensor(np.asarray(array.numpy() if isinstance(array, cr.Tensor) else array))
