"""``chainrule.data`` under PyTorch's name ``torch.utils.data``: the same objects, not copies.

Example:
    >>> import chainrule as cr
    >>> from chainrule.utils.data import DataLoader, TensorDataset
    >>> DataLoader is cr.data.DataLoader and TensorDataset is cr.data.TensorDataset
    True
"""

from chainrule.data import *  # noqa: F401,F403
from chainrule.data import __all__  # noqa: F401
