"""``chainrule.linalg``: PyTorch's ``torch.linalg`` names that chainrule has (the norms, composed
of differentiable ops: no rule of their own).

Example:
    >>> import chainrule as cr
    >>> cr.linalg.vector_norm(cr.tensor([3.0, 4.0]))
    tensor(5.)
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from chainrule.ops.elementwise import lift
from chainrule.ops.reduce import Axis, Max, vector_norm
from chainrule.ops.shape import normalize_axis
from chainrule.tensor import Tensor

__all__ = ["matrix_norm", "norm", "vector_norm"]


def matrix_norm(
    x: Tensor, ord: float | str = "fro", dim: tuple[int, int] = (-2, -1), keepdim: bool = False, *, dtype: Any = None
) -> Tensor:
    """The matrix norm of ``x`` over the two dimensions ``dim``, as PyTorch's ``linalg.matrix_norm``:
    ``'fro'`` (the default), ``1``/``-1`` (the largest/smallest column sum of ``|x|``), ``inf``/``-inf``
    (the largest/smallest row sum). ``'nuc'``, ``2`` and ``-2`` (singular values) are not supported.

    Example:
        >>> import chainrule as cr
        >>> a = cr.tensor([[1.0, -2.0], [3.0, 4.0]])
        >>> cr.linalg.matrix_norm(a, 1), cr.linalg.matrix_norm(a, float("inf"))
        (tensor(6.), tensor(7.))
    """
    x = lift(x)
    if isinstance(dim, numbers.Integral) or len(dim) != 2:
        raise ValueError(f"matrix_norm: dim must name two dimensions, got {dim!r}")
    if x.ndim < 2:
        raise ValueError(f"matrix_norm: needs a tensor of at least 2 dimensions, got shape {x.shape}")
    rows, cols = (normalize_axis(d, x.ndim, "matrix_norm") for d in dim)
    if rows == cols:
        raise ValueError(f"matrix_norm: dim {tuple(dim)} names one dimension twice")
    if ord == "fro":
        return vector_norm(x, 2, (rows, cols), keepdim, dtype=dtype)
    if ord in ("nuc", 2, -2):
        raise NotImplementedError(f"matrix_norm: ord={ord!r} needs singular values (an SVD), which chainrule lacks")
    if ord not in (1, -1, np.inf, -np.inf) or isinstance(ord, bool):
        raise ValueError(f"matrix_norm: ord must be 'fro', 'nuc', 1, -1, 2, -2, inf or -inf, got {ord!r}")
    summed, over = (rows, cols) if np.abs(ord) == 1 else (cols, rows)  # 1: column sums; inf: row sums
    sums = vector_norm(x, 1, summed, keepdim=True, dtype=dtype)
    out = Max.apply(sums, axes=(over,), keepdims=True, find_min=ord < 0)
    return out if keepdim else out.reshape([n for i, n in enumerate(out.shape) if i not in (rows, cols)])


def norm(
    x: Tensor, ord: float | str | None = None, dim: Axis = None, keepdim: bool = False, *, dtype: Any = None
) -> Tensor:
    """PyTorch's ``linalg.norm``: a vector norm over one ``dim``, a matrix norm over two; without
    ``dim``, the 2-norm of the flattened tensor (``ord=None``), or the ``ord``-norm of a 1-d or
    2-d tensor.

    Example:
        >>> import chainrule as cr
        >>> cr.linalg.norm(cr.tensor([[1.0, 2.0], [2.0, 4.0]])), cr.linalg.norm(cr.tensor([3.0, 4.0]), 1)
        (tensor(5.), tensor(7.))
    """
    x = lift(x)
    if dim is None:
        if ord is None:
            return vector_norm(x, 2, None, keepdim, dtype=dtype)
        if x.ndim not in (1, 2):
            raise ValueError(f"linalg.norm: with ord and no dim, the input must be 1-d or 2-d, got shape {x.shape}")
        dim = (0,) if x.ndim == 1 else (-2, -1)
    dims = (dim,) if isinstance(dim, numbers.Integral) else tuple(dim)
    if len(dims) == 1:
        return vector_norm(x, 2 if ord is None else ord, dims, keepdim, dtype=dtype)
    if len(dims) == 2:
        return matrix_norm(x, "fro" if ord is None else ord, dims, keepdim, dtype=dtype)
    raise ValueError(f"linalg.norm: dim must name one or two dimensions, got {dim!r}")
