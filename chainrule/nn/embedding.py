"""Embedding: a lookup table of learned vectors, one row per token id."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from chainrule import ops
from chainrule.autograd import no_grad
from chainrule.compiler.recorder import replayed
from chainrule.nn import init
from chainrule.nn.checks import parameter_dtype, positive_int
from chainrule.nn.module import Module, Parameter
from chainrule.tensor import Tensor


@replayed  # reads the ids: a compiled step checks them again on each replay
def _checked_ids(num_embeddings: int, ids: Tensor) -> Tensor:
    """``ids`` after checking they are integers in [0, num_embeddings)."""
    data = ids._data
    if data.dtype.kind not in "iu":
        raise TypeError(
            f"Embedding(num_embeddings={num_embeddings}) got input of dtype {data.dtype}: ids must be integers"
        )
    if data.size and (data.min() < 0 or data.max() >= num_embeddings):
        bad = data.min() if data.min() < 0 else data.max()
        raise IndexError(
            f"Embedding(num_embeddings={num_embeddings}) got id {int(bad)}: ids must be in [0, {num_embeddings})"
        )
    return ids


class Embedding(Module):
    """A table of ``num_embeddings`` learned vectors; the input's integer ids pick rows of it.

    The lookup is indexing (``weight[ids]``), so its gradient is indexing's scatter-add: every
    occurrence of an id adds its output gradient to that row (repeated ids accumulate) and rows
    never looked up get zero.

    Args:
        num_embeddings: size of the vocabulary (ids run from 0 to num_embeddings - 1).
        embedding_dim: length of each vector.
        padding_idx: an id whose row gets no gradient and starts as zeros (a padding token that
            must stay fixed); negative counts from the end. Default None.
        device: "cpu" or None, as PyTorch code passes it (another device is a clear error).
        dtype: parameter dtype (float32 by default).

    Shape:
        input: integers of any shape (*) -> output (*, embedding_dim). ``weight`` is
        (num_embeddings, embedding_dim), initialised from N(0, 1) as in PyTorch.

    Example:
        >>> import chainrule as cr
        >>> emb = cr.nn.Embedding(10, 3, padding_idx=0)
        >>> emb(cr.tensor([[1, 2, 0], [4, 4, 9]])).shape
        (2, 3, 3)
        >>> emb(cr.tensor([0])).tolist()
        [[0.0, 0.0, 0.0]]
        >>> emb
        Embedding(10, 3, padding_idx=0)
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        device: Any = None,
        dtype: Any = None,
    ):
        super().__init__()
        self.num_embeddings = positive_int("Embedding", "num_embeddings", num_embeddings)
        self.embedding_dim = positive_int("Embedding", "embedding_dim", embedding_dim)
        if padding_idx is not None:
            if (
                not isinstance(padding_idx, numbers.Integral)
                or isinstance(padding_idx, bool)
                or not (-self.num_embeddings <= padding_idx < self.num_embeddings)
            ):
                raise ValueError(
                    f"Embedding: padding_idx must be an id in [-{self.num_embeddings}, {self.num_embeddings}), "
                    f"got {padding_idx!r}"
                )
            padding_idx = int(padding_idx) % self.num_embeddings
        self.padding_idx = padding_idx
        dtype = parameter_dtype("Embedding", dtype, device)
        self.weight = Parameter(np.empty((self.num_embeddings, self.embedding_dim), dtype=dtype))
        self.reset_parameters()

    @classmethod
    def from_pretrained(cls, embeddings: Any, freeze: bool = True, padding_idx: int | None = None) -> Embedding:
        """An Embedding holding a copy of the (num_embeddings, embedding_dim) array ``embeddings``,
        frozen (no gradient) unless ``freeze=False``. The padding row keeps its given values."""
        table = np.array(embeddings._data if isinstance(embeddings, Tensor) else embeddings)
        if table.ndim != 2 or table.dtype.kind != "f":
            raise ValueError(
                f"Embedding.from_pretrained: expects a 2-D floating array, got shape {table.shape} dtype {table.dtype}"
            )
        emb = cls(table.shape[0], table.shape[1], padding_idx=padding_idx, dtype=table.dtype)
        emb.weight._data[...] = table
        emb.weight.requires_grad_(not freeze)
        return emb

    def reset_parameters(self) -> None:
        init.normal_(self.weight)  # N(0, 1): PyTorch's default
        if self.padding_idx is not None:
            with no_grad():
                init.zeros_(self.weight[self.padding_idx])  # a view: writes the row (nothing under skip_init)

    def forward(self, input: Any) -> Tensor:
        ids = _checked_ids(self.num_embeddings, input if isinstance(input, Tensor) else Tensor._make(np.asarray(input)))
        out = ops.index(self.weight, ids._data)
        if self.padding_idx is not None and self.weight.requires_grad:
            # the padding row's value, detached: no gradient reaches the row from these positions
            padding = ops.index(self.weight, self.padding_idx).detach()
            keep = ops.reshape(ops.ne(ids, self.padding_idx), (*ids.shape, 1))
            out = ops.where(keep, out, padding)
        return out

    def get_config(self) -> dict[str, Any]:
        return {
            "num_embeddings": self.num_embeddings,
            "embedding_dim": self.embedding_dim,
            "padding_idx": self.padding_idx,
            "dtype": str(self.weight.dtype),
        }

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        return text if self.padding_idx is None else text + f", padding_idx={self.padding_idx}"
