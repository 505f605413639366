"""PyTorch's ``torch.utils`` path, for code written against it: ``chainrule.utils.data`` is
``chainrule.data`` (``from chainrule.utils.data import DataLoader, TensorDataset``)."""

from chainrule.utils import data

__all__ = ["data"]
