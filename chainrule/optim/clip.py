"""Gradient clipping: by the global norm of all gradients, or by value.

Both functions change each gradient in place, as PyTorch's do: its array is written (a reference to
``p.grad`` or to its array taken before sees the clipped values, and a graph that used it then
refuses backward); a gradient whose array cannot be written, or that is part of a graph
(``create_graph=True``), gets a new array instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import numpy as np

from chainrule.autograd import mark_modified
from chainrule.compiler.recorder import replayed
from chainrule.optim.optimizer import check_loop_flag
from chainrule.tensor import Tensor


@replayed
def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> Tensor:
    """Scale all gradients together so that their global norm is at most ``max_norm``.

    The global norm is the ``norm_type``-norm of all gradients viewed as one long vector. When it
    exceeds ``max_norm`` every gradient is multiplied by ``max_norm / (total_norm + 1e-6)``, which
    keeps the direction of the update; otherwise the gradients are left as they are.

    Args:
        parameters: a tensor or an iterable of tensors (e.g. ``model.parameters()``); those whose
            ``grad`` is None are ignored.
        max_norm: the largest norm allowed (>= 0).
        norm_type: the order p of the norm (> 0), or ``float('inf')`` for the largest absolute value
            (default 2).
        error_if_nonfinite: raise RuntimeError when the total norm is nan or inf (default False:
            the gradients then become nan).
        foreach: PyTorch's choice of loops; accepted (None, True or False), it changes nothing.

    Returns:
        The total norm of the gradients before clipping, as a 0-d tensor of the gradients' dtype
        (as in PyTorch; 0 when none has a gradient). ``.item()`` gives the number.

    Example:
        >>> import chainrule as cr
        >>> w = cr.nn.Parameter(cr.zeros(2, dtype=cr.float64))
        >>> w.grad = cr.tensor([3.0, 4.0], dtype=cr.float64)
        >>> cr.optim.clip_grad_norm_([w], max_norm=1.0).item()
        5.0
        >>> w.grad.numpy().round(4).tolist()
        [0.6, 0.8]
    """
    check_loop_flag("clip_grad_norm_", "foreach", foreach)
    params = _as_list(parameters)
    max_norm = float(max_norm)
    norm_type = float(norm_type)
    if not max_norm >= 0:
        raise ValueError(f"clip_grad_norm_: invalid max_norm: {max_norm!r} (expected a number >= 0)")
    if not norm_type > 0:
        raise ValueError(f"clip_grad_norm_: invalid norm_type: {norm_type!r} (expected a number > 0 or inf)")
    with_grad = [p for p in params if p.grad is not None]
    if not with_grad:
        return Tensor(np.zeros((), dtype=params[0].dtype if params else np.float32))
    grads = [_grad_array(p) for p in with_grad]
    total = _global_norm(grads, norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is {total}, so they "
            "cannot be clipped; pass error_if_nonfinite=False to clip anyway (the gradients become nan)"
        )
    coef = max_norm / (total + 1e-6)
    if coef < 1.0 or not math.isfinite(total):
        done: set[int] = set()  # (one array that is the .grad of two parameters is scaled once)
        for p, g in zip(with_grad, grads):
            _clip(p, g, np.multiply, (np.asarray(coef, dtype=g.dtype),), done, "clip_grad_norm_")
    return Tensor(np.asarray(total, dtype=np.result_type(*grads)))


@replayed
def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float, foreach: bool | None = None) -> None:
    """Clamp every gradient element into ``[-clip_value, clip_value]``.

    Args:
        parameters: a tensor or an iterable of tensors; those whose ``grad`` is None are ignored.
        clip_value: the largest absolute value allowed (>= 0).
        foreach: PyTorch's choice of loops; accepted (None, True or False), it changes nothing.

    Example:
        >>> import chainrule as cr
        >>> w = cr.nn.Parameter([0.0, 0.0, 0.0])
        >>> w.grad = cr.tensor([-3.0, 0.5, 2.0])
        >>> cr.optim.clip_grad_value_([w], clip_value=1.0)
        >>> w.grad.numpy().tolist()
        [-1.0, 0.5, 1.0]
    """
    check_loop_flag("clip_grad_value_", "foreach", foreach)
    params = _as_list(parameters)
    clip_value = float(clip_value)
    if not clip_value >= 0:
        raise ValueError(f"clip_grad_value_: invalid clip_value: {clip_value!r} (expected a number >= 0)")
    done: set[int] = set()
    for p in params:
        if p.grad is not None:
            g = _grad_array(p)
            bound = np.asarray(clip_value, dtype=g.dtype)
            _clip(p, g, np.clip, (-bound, bound), done, "clip_grad_value_")


def _as_list(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    for p in params:
        if not isinstance(p, Tensor):
            raise TypeError(f"expected tensors (e.g. model.parameters()), got {type(p).__name__}")
    return params


def _grad_array(p: Tensor) -> np.ndarray:
    grad = p.grad
    return grad._data if isinstance(grad, Tensor) else np.asarray(grad)


def _clip(p: Tensor, g: np.ndarray, clip: Callable, args: tuple, done: set[int], name: str) -> None:
    """Clip ``p``'s gradient array ``g`` with ``clip(g, *args, out=...)``: in place, as PyTorch, when its tensor
    is no part of a graph and the array is writable; otherwise into a new array (a tensor of a
    graph: a new tensor, whose graph's nodes read the old values)."""
    grad = p.grad
    if isinstance(grad, Tensor) and grad.grad_fn is None and not grad.requires_grad:
        if g.flags.writeable:
            if id(g) not in done:
                clip(g, *args, out=g)
                done.add(id(g))
                mark_modified((grad,), name)
        else:  # (a read-only array: a broadcast view)
            grad._data = clip(g, *args)
    else:
        p.grad = Tensor(clip(g, *args))


def _global_norm(grads: list[np.ndarray], norm_type: float) -> float:
    """The norm of all gradients as one vector (each gradient's part in its own dtype, summed in float64)."""
    if math.isinf(norm_type):  # (np.max keeps a NaN, where Python's max would drop it)
        return float(np.max([np.max(np.abs(g)) for g in grads if g.size], initial=0.0))
    if norm_type == 2.0:
        return math.sqrt(sum(float(np.vdot(g, g)) for g in grads))
    if norm_type == 1.0:
        return sum(float(np.abs(g).sum(dtype=np.float64)) for g in grads)
    total = sum(float((np.abs(g, dtype=np.float64) ** norm_type).sum()) for g in grads)
    return total ** (1.0 / norm_type)
