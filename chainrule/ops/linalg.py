"""Linear algebra: matmul (1-D, 2-D, batched with broadcasting), dot, outer, and the fused linear map."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.autograd import Function
from chainrule.ops.elementwise import lift, promote_operands
from chainrule.ops.shape import reshape
from chainrule.tensor import Tensor


class MatMul(Function):
    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"matmul: both operands need at least one dimension, got shapes {a.shape} and {b.shape}")
        k_a = a.shape[-1]
        k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
        if k_a != k_b:
            raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not align ({k_a} != {k_b})")
        try:
            return np.matmul(a, b)
        except ValueError:
            raise ValueError(
                f"matmul: batch dimensions of shapes {a.shape} and {b.shape} cannot be broadcast"
            ) from None

    def backward(self, ns, grad, a, b):
        need_a, need_b = self.needs(0), self.needs(1)
        if a.ndim == 1 and b.ndim == 1:
            return (grad * b if need_a else None), (grad * a if need_b else None)
        if a.ndim == 1:  # (k,) @ (..., k, m) -> (..., m); the walk sums grad_a's batch axes to (k,)
            g = ns.reshape(grad, grad.shape[:-1] + (1, grad.shape[-1]))  # (..., 1, m)
            grad_a = g @ ns.swapaxes(b, -1, -2) if need_a else None
            grad_b = ns.reshape(a, (a.shape[0], 1)) @ g if need_b else None
            return grad_a, grad_b
        if b.ndim == 1:  # (..., n, k) @ (k,) -> (..., n)
            g = ns.reshape(grad, grad.shape + (1,))  # (..., n, 1)
            grad_a = g @ ns.reshape(b, (1, b.shape[0])) if need_a else None
            grad_b = ns.reshape(ns.swapaxes(a, -1, -2) @ g, a.shape[:-2] + (a.shape[-1],)) if need_b else None
            return grad_a, grad_b
        grad_a = grad @ ns.swapaxes(b, -1, -2) if need_a else None
        grad_b = ns.swapaxes(a, -1, -2) @ grad if need_b else None
        return grad_a, grad_b


class Linear(Function):
    """``x @ weight.T + bias`` in one node (the layer ``nn.Linear`` computes).

    Fused because it is the hot path of every MLP: one node instead of three (transpose, matmul,
    add) and a backward of three GEMM-sized calls.
    """

    def forward(self, x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
        if x.ndim == 0 or x.shape[-1] != weight.shape[1]:
            raise ValueError(
                f"linear: input of shape {x.shape} does not match weight of shape {weight.shape} "
                f"(the last dimension must be {weight.shape[1]})"
            )
        out = x @ weight.T
        if bias is not None:
            out += bias
        return out

    @staticmethod
    def forward_into(out: np.ndarray, x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
        """``forward`` written into ``out`` (a compiled step's buffer, of the output's shape and
        dtype; the shapes were checked when the step was recorded): the same GEMM and bias add."""
        np.matmul(x, weight.T, out=out)
        if bias is not None:
            out += bias
        return out

    def backward(self, ns, grad, x, weight, bias=None):
        grad_x = grad @ weight if self.needs(0) else None
        grad_w = None
        if self.needs(1):  # (out, in): summed over every leading axis of the input
            g2 = ns.reshape(grad, (-1, grad.shape[-1])) if grad.ndim != 2 else grad
            x2 = ns.reshape(x, (-1, x.shape[-1])) if x.ndim != 2 else x
            grad_w = g2.T @ x2
        if bias is None:
            return grad_x, grad_w
        grad_b = None
        if self.needs(2):
            grad_b = ns.sum(grad, tuple(range(grad.ndim - 1))) if grad.ndim > 1 else grad
        return grad_x, grad_w, grad_b


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product with NumPy's rules: 1-D vectors, 2-D matrices, batched N-D with broadcasting.

    Example:
        >>> import chainrule as cr
        >>> (cr.ones(2, 3) @ cr.ones(3, 4)).shape
        (2, 4)
    """
    return MatMul.apply(*promote_operands(a, b))


def dot(a: Any, b: Any) -> Tensor:
    """Inner product of two vectors.

    Example:
        >>> import chainrule as cr
        >>> cr.dot(cr.tensor([1.0, 2.0]), cr.tensor([3.0, 4.0]))
        tensor(11.)
    """
    a, b = promote_operands(a, b)
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"dot: expects two 1-D tensors, got shapes {a.shape} and {b.shape}")
    return matmul(a, b)


def mm(a: Any, b: Any) -> Tensor:
    """The product of two matrices (2-D tensors only), as PyTorch's ``mm``.

    Example:
        >>> import chainrule as cr
        >>> cr.mm(cr.ones(2, 3), cr.ones(3, 4)).shape
        (2, 4)
    """
    a, b = promote_operands(a, b)
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"mm: expects two 2-D tensors (matrices), got shapes {a.shape} and {b.shape}; see matmul")
    return matmul(a, b)


def bmm(a: Any, b: Any) -> Tensor:
    """Batched matrix products of two 3-D tensors (b, n, m) and (b, m, p), as PyTorch's ``bmm``
    (no broadcasting: the batch sizes must be equal).

    Example:
        >>> import chainrule as cr
        >>> cr.bmm(cr.ones(5, 2, 3), cr.ones(5, 3, 4)).shape
        (5, 2, 4)
    """
    a, b = promote_operands(a, b)
    if a.ndim != 3 or b.ndim != 3 or a.shape[0] != b.shape[0]:
        raise ValueError(
            f"bmm: expects two 3-D tensors with the same batch size, got shapes {a.shape} and {b.shape}; see matmul"
        )
    return matmul(a, b)


def outer(a: Any, b: Any) -> Tensor:
    """Outer product of two vectors: shape (len(a), len(b)).

    Example:
        >>> import chainrule as cr
        >>> cr.outer(cr.tensor([1.0, 2.0]), cr.tensor([1.0, 10.0, 100.0]))
        tensor([[  1.,  10., 100.],
                [  2.,  20., 200.]])
    """
    a, b = promote_operands(a, b)
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"outer: expects two 1-D tensors, got shapes {a.shape} and {b.shape}")
    return reshape(a, (a.shape[0], 1)) * reshape(b, (1, b.shape[0]))


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``x @ weight.T + bias`` with ``weight`` of shape (out_features, in_features), as PyTorch.

    Example:
        >>> import chainrule as cr
        >>> cr.linear(cr.ones(5, 3), cr.ones(2, 3), cr.zeros(2)).shape
        (5, 2)
    """
    x = lift(x)
    if bias is None:
        return Linear.apply(x, weight)
    return Linear.apply(x, weight, bias)
