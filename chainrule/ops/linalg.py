"""Linear algebra: matmul (1-D, 2-D, batched with broadcasting), dot, outer, einsum, and the fused linear map."""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule.autograd import Function
from chainrule.ops.elementwise import lift, promote_operands
from chainrule.ops.shape import broadcast_to, reshape
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


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``x @ weight.T + bias`` with ``weight`` of shape (out_features, in_features), as PyTorch.

    Example:
        >>> import chainrule as cr
        >>> cr.linear(cr.ones(5, 3), cr.ones(2, 3), cr.zeros(2)).shape
        (5, 2)
    """
    x = lift(input)
    if bias is None:
        return Linear.apply(x, weight)
    return Linear.apply(x, weight, bias)


class Einsum(Function):
    """``np.einsum`` with explicit subscripts (letters only, the output after ``->``).

    The gradient of an operand is one einsum of the output's gradient and the other operands, to
    that operand's subscripts: a letter only that operand sums over comes from a vector of ones,
    a letter it repeats (a diagonal) from an identity matrix, both constants.
    """

    def forward(self, *operands: np.ndarray, subscripts: str) -> np.ndarray:
        self.subscripts = subscripts
        return np.asarray(np.einsum(subscripts, *operands, optimize=len(operands) > 1))

    def backward(self, ns, grad, *operands):
        terms, output = self.subscripts.split("->")
        terms = terms.split(",")
        unused = iter(c for c in string.ascii_letters if c not in self.subscripts)
        grads = []
        for i, term in enumerate(terms):
            if not self.needs(i):
                grads.append(None)
                continue
            subs, xs = [output], [grad]
            for j, (other, x) in enumerate(zip(terms, operands)):
                if j != i:
                    subs.append(other)
                    xs.append(x)
            reached = set("".join(subs))
            wanted = []
            for letter, size in zip(term, operands[i].shape):
                if letter in wanted:  # a repeated letter: the gradient lies on the diagonal
                    fresh = next(unused)
                    subs.append(letter + fresh)
                    xs.append(ns.const(np.eye(size, dtype=grad.dtype)))
                    wanted.append(fresh)
                    continue
                if letter not in reached:  # summed over in this operand alone: the gradient is broadcast
                    subs.append(letter)
                    xs.append(ns.const(np.ones(size, dtype=grad.dtype)))
                wanted.append(letter)
            grads.append(ns.einsum(",".join(subs) + "->" + "".join(wanted), *xs))
        return tuple(grads)


def einsum(equation: str, *operands: Any) -> Tensor:
    """Einstein summation, as PyTorch's and NumPy's: ``einsum('ij,jk->ik', a, b)`` is ``a @ b``.

    Letters name dimensions; a letter missing from the output is summed over; ``...`` stands for
    the dimensions not named (broadcast together); without ``->`` the output holds the letters
    that appear once, in alphabetical order, after the ``...`` dimensions. The operands may also
    come as one list (``einsum(eq, [a, b])``). Differentiable in every operand.

    Example:
        >>> import chainrule as cr
        >>> a = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        >>> cr.einsum("ij,j->i", a, cr.tensor([1.0, 10.0]))
        tensor([21., 43.], grad_fn=<EinsumBackward0>)
        >>> cr.einsum("ii", a).backward()  # the trace
        >>> a.grad
        tensor([[1., 0.],
                [0., 1.]])
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        raise TypeError(
            f"einsum: the equation comes first, as a string ('ij,jk->ik'), got {type(equation).__name__}; "
            "the sublist form einsum(a, [0, 1], b, [1, 2]) is not supported"
        )
    tensors = [lift(x) for x in operands]
    dtypes = {t.dtype for t in tensors}
    if len(dtypes) > 1:
        raise TypeError(
            f"einsum: the operands have different dtypes ({', '.join(str(t.dtype) for t in tensors)}); "
            "convert them to one first (x.float(), x.double())"
        )
    subscripts, shapes = _einsum_subscripts(equation.replace(" ", ""), [t.shape for t in tensors])
    tensors = [t if t.shape == shape else broadcast_to(t, shape) for t, shape in zip(tensors, shapes)]
    return Einsum.apply(*tensors, subscripts=subscripts)


def _einsum_subscripts(equation: str, shapes: Sequence[tuple[int, ...]]) -> tuple[str, list[tuple[int, ...]]]:
    """An equation made explicit (letters for ``...``, the output after ``->``), and the shape each
    operand is broadcast to; an equation that does not fit the operands is an error saying why."""
    allowed = set(string.ascii_letters) | set(",.->")
    bad = sorted(set(equation) - allowed)
    if bad:
        raise ValueError(f"einsum: invalid subscript {bad[0]!r} in {equation!r}; subscripts are letters a-z, A-Z")
    inputs, arrow, output = equation.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(shapes):
        more = "more" if len(shapes) > len(terms) else "fewer"
        raise ValueError(f"einsum: {more} operands ({len(shapes)}) were given than {equation!r} names ({len(terms)})")
    free = [c for c in string.ascii_letters if c not in equation]
    named: list[str] = []
    ellipsis_ndim = 0
    for k, (term, shape) in enumerate(zip(terms, shapes)):
        letters = term.replace("...", "")
        if "." in letters or term.count("...") > 1:
            raise ValueError(f"einsum: operand {k}'s subscripts {term!r}: '.' only as one '...'")
        if "..." in term:
            if len(letters) > len(shape):
                raise ValueError(
                    f"einsum: operand {k} has {len(shape)} dimensions, fewer than the {len(letters)} subscripts "
                    f"of {term!r}"
                )
            ellipsis_ndim = max(ellipsis_ndim, len(shape) - len(letters))
        elif len(letters) != len(shape):
            raise ValueError(
                f"einsum: the number of subscripts in {term!r} ({len(letters)}) does not match the number of "
                f"dimensions ({len(shape)}) of operand {k}, and no ellipsis was given"
            )
    dots = "".join(free[:ellipsis_ndim])
    for term, shape in zip(terms, shapes):
        n = len(shape) - len(term.replace("...", ""))
        named.append(term.replace("...", dots[ellipsis_ndim - n :] if n else ""))
    if arrow:
        if output.count("...") > 1 or "." in output.replace("...", ""):
            raise ValueError(f"einsum: the output {output!r}: '.' only as one '...'")
        out = output.replace("...", dots)
        seen = set()
        for c in out:
            if c in seen:
                raise ValueError(f"einsum: output subscript {c} appears more than once in the output")
            if c not in "".join(named):
                raise ValueError(f"einsum: output subscript {c} does not appear in the equation for any input operand")
            seen.add(c)
    else:
        counts = "".join(t.replace("...", "") for t in terms)
        out = dots + "".join(sorted(c for c in set(counts) if counts.count(c) == 1))
    sizes: dict[str, int] = {}
    for k, (term, shape) in enumerate(zip(named, shapes)):
        own: dict[str, int] = {}
        for c, n in zip(term, shape):
            if own.setdefault(c, n) != n:
                raise ValueError(
                    f"einsum: subscript {c} is repeated for operand {k} but the sizes don't match, {own[c]} != {n}"
                )
            if n != 1 and sizes.get(c, 1) not in (1, n):
                raise ValueError(
                    f"einsum: operands do not broadcast: dimension {c!r} has sizes {sizes[c]} and {n} "
                    f"(equation {equation!r}, shapes {[tuple(s) for s in shapes]})"
                )
            if n != 1 or c not in sizes:
                sizes[c] = n
    targets = [tuple(sizes[c] for c in term) for term in named]
    return ",".join(named) + "->" + out, targets
