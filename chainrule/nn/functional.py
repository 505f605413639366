"""Layers and losses as plain functions (the modules in ``chainrule.nn`` call these).

Every loss takes ``reduction='mean'|'sum'|'none'``, and, for code written for PyTorch, its
deprecated ``size_average=`` and ``reduce=`` keywords, mapped as PyTorch maps them, with its
warning (``legacy_reduction``).

Example:
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> logits = cr.tensor([[2.0, 0.5, -1.0]], requires_grad=True)
    >>> loss = F.cross_entropy(logits, cr.tensor([0]))
    >>> round(loss.item(), 4)
    0.2413
"""

from __future__ import annotations

import builtins
import math
import numbers
import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np

from chainrule import ops
from chainrule.autograd import _stacklevel_outside, no_grad, pure
from chainrule.compiler.recorder import replayed
from chainrule.nn.checks import unit_interval
from chainrule.ops import (  # noqa: F401  (activations, convolution, pooling and resizing, re-exported)
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    avg_pool1d,
    avg_pool2d,
    conv1d,
    conv2d,
    conv_transpose1d,
    conv_transpose2d,
    gelu,
    glu,
    hardshrink,
    interpolate,
    linear,
    logsigmoid,
    max_pool1d,
    max_pool2d,
    prelu,
    sigmoid,
    softmin,
    softplus,
    softshrink,
    softsign,
    step,
    tanh,
    tanhshrink,
)
from chainrule.ops.elementwise import dropout as _dropout, lift
from chainrule.ops.loss import BinaryCrossEntropy, cross_entropy_indices
from chainrule.ops.reduce import vector_norm
from chainrule.tensor import Tensor

REDUCTIONS = ("mean", "sum", "none")


def check_reduction(reduction: str, owner: str) -> str:
    """Validate a loss's ``reduction`` argument.

    Example:
        >>> import chainrule.nn.functional as F
        >>> F.check_reduction('sum', 'mse_loss')
        'sum'
        >>> try:
        ...     F.check_reduction('avg', 'mse_loss')
        ... except ValueError as e:
        ...     print(e)
        mse_loss: reduction must be one of ('mean', 'sum', 'none'), got 'avg'
    """
    if isinstance(reduction, (bool, np.bool_)):  # PyTorch's old positional size_average landed here
        raise ValueError(
            f"{owner}: reduction must be one of {REDUCTIONS}, got {reduction!r}; a True/False here is "
            "PyTorch's old size_average argument: write reduction='mean' (size_average=True) or "
            "reduction='sum' (size_average=False), or pass size_average= by keyword"
        )
    if reduction not in REDUCTIONS:
        raise ValueError(f"{owner}: reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return reduction


def legacy_reduction(size_average: bool | None, reduce: bool | None, reduction: str, owner: str) -> str:
    """The ``reduction`` that PyTorch's deprecated ``size_average`` and ``reduce`` arguments mean.

    When both are None, ``reduction`` itself. Otherwise (with a UserWarning, PyTorch's words)
    ``reduction`` is ignored and, a None counting as True: ``reduce=False`` gives 'none' whatever
    ``size_average`` says; else ``size_average=False`` gives 'sum' and ``size_average=True`` 'mean'.
    Every loss function and loss module takes both arguments, by keyword, for code written for
    PyTorch; new code says ``reduction=``.

    Example:
        >>> import warnings
        >>> import chainrule.nn.functional as F
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     F.legacy_reduction(False, None, "mean", "mse_loss")
        'sum'
        >>> print(caught[0].message)
        size_average and reduce args will be deprecated, please use reduction='sum' instead (mse_loss)
        >>> F.legacy_reduction(None, None, "none", "mse_loss")  # neither given: no warning
        'none'
    """
    if size_average is None and reduce is None:
        return reduction
    for name, value in (("size_average", size_average), ("reduce", reduce)):
        if value is not None and not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{owner}: {name} must be True, False or None, got {value!r}; better: reduction=")
    size_average = True if size_average is None else bool(size_average)
    reduce = True if reduce is None else bool(reduce)
    if not reduce:
        result = "none"
    elif size_average:
        result = "mean"
    else:
        result = "sum"
    warnings.warn(
        f"size_average and reduce args will be deprecated, please use reduction='{result}' instead ({owner})",
        UserWarning,
        stacklevel=_stacklevel_outside("chainrule.nn"),
    )
    return result


def _reduce(loss: Tensor, reduction: str, op: str) -> Tensor:
    if reduction == "mean":
        if loss.size == 0:  # NumPy's mean would be NaN, with a warning at best
            raise ValueError(f"{op}: the batch is empty (shape {loss.shape}): a mean over no samples is undefined")
        return ops.mean(loss)
    if reduction == "sum":
        return ops.sum(loss)
    return loss


def _as_target(target: Any, like: Tensor) -> Tensor:
    """A float target tensor of the input's dtype."""
    t = target if isinstance(target, Tensor) else Tensor(np.asarray(target))
    if t.dtype != like.dtype:
        t = ops.cast(t, like.dtype)
    return t


def _same_shape(name: str, input: Tensor, target: Tensor) -> None:
    if input.shape != target.shape:
        raise ValueError(
            f"{name}: input shape {input.shape} and target shape {target.shape} differ; "
            "reshape one of them (e.g. target.reshape(-1, 1)) so they match"
        )


def _broadcastable(name: str, **tensors: Tensor) -> None:
    """Raise ValueError naming the loss when the tensors' shapes do not broadcast together (PyTorch
    broadcasts these losses' inputs)."""
    try:
        np.broadcast_shapes(*(t.shape for t in tensors.values()))
    except ValueError:
        shapes = ", ".join(f"{n} {t.shape}" for n, t in tensors.items())
        raise ValueError(f"{name}: the shapes do not broadcast together: {shapes}") from None


@replayed  # reads the values: a compiled step checks them again on each replay
def _check_distribution(name: str, target: Tensor) -> None:
    if target._data.size and (target._data < 0).any():
        raise ValueError(
            f"{name}: target has negative entries, which are not probabilities (its log is NaN); "
            "for a target given as log-probabilities pass log_target=True"
        )


# ------------------------------------------------------------------ regularisation and dropout


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0); with ``inplace=True`` (PyTorch's) the input's own memory takes the result.

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn.functional as F
        >>> F.relu(cr.tensor([-1.0, 2.0]))
        tensor([0., 2.])
    """
    return input.relu_() if inplace else ops.relu(input)


def _maybe_in_place(input: Tensor, inplace: bool, name: str, function: Any, *args: Any) -> Tensor:
    return input._in_place(name, function, *args) if inplace else function(input, *args)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x where x > 0, ``negative_slope * x`` elsewhere (``inplace=True``: into the input's own memory).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn.functional as F
        >>> x = cr.tensor([-10.0, 1.0])
        >>> F.leaky_relu(x, 0.1, inplace=True) is x, x
        (True, tensor([-1.,  1.]))
    """
    return _maybe_in_place(input, inplace, "leaky_relu_", ops.leaky_relu, negative_slope)


def softmax(
    input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None, *, axis: int | None = None
) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim``; ``dtype=``: the input cast to it first, as PyTorch.

    ``_stacklevel`` is PyTorch's (the depth of its implicit-dim warning), accepted and unused.

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn.functional as F
        >>> F.softmax(cr.tensor([0.0, 0.0]), dim=0, dtype=cr.float64)
        tensor([0.5, 0.5], dtype=float64)
    """
    return ops.softmax(input, axis, dim=dim, dtype=dtype)


def log_softmax(
    input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None, *, axis: int | None = None
) -> Tensor:
    """x - logsumexp(x) along ``dim``; ``dtype=``: the input cast to it first, as PyTorch.

    ``_stacklevel`` is PyTorch's (the depth of its implicit-dim warning), accepted and unused.

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn.functional as F
        >>> F.log_softmax(cr.tensor([0.0, 0.0]), dim=0, dtype=cr.float64)
        tensor([-0.6931, -0.6931], dtype=float64)
    """
    return ops.log_softmax(input, axis, dim=dim, dtype=dtype)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x where x > 0, alpha (e^x - 1) elsewhere (``inplace=True``: into the input's own memory).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn.functional as F
        >>> F.elu(cr.tensor([-1000.0, 2.0]))
        tensor([-1.,  2.])
    """
    return _maybe_in_place(input, inplace, "elu_", ops.elu, alpha)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x * sigmoid(x) (``inplace=True``: into the input's own memory).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn.functional as F
        >>> F.silu(cr.tensor([0.0, 2.0]))
        tensor([0.    , 1.7616])
    """
    return _maybe_in_place(input, inplace, "silu_", ops.silu)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * tanh(softplus(x)) (``inplace=True``: into the input's own memory).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn.functional as F
        >>> F.mish(cr.tensor([0.0, 2.0]))
        tensor([0.   , 1.944])
    """
    return _maybe_in_place(input, inplace, "mish_", ops.mish)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """Scaled ELU with PyTorch's constants (``inplace=True``: into the input's own memory).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn.functional as F
        >>> F.selu(cr.tensor([-1.0, 1.0]))
        tensor([-1.1113,  1.0507])
    """
    return _maybe_in_place(input, inplace, "selu_", ops.selu)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x if x > 0 else alpha (e^(x / alpha) - 1) (``inplace=True``: into the input's own memory).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn.functional as F
        >>> F.celu(cr.tensor([-1.0, 1.0]), alpha=2.0)
        tensor([-0.7869,  1.    ])
    """
    return _maybe_in_place(input, inplace, "celu_", ops.celu, alpha)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """x limited to [min_val, max_val] (``inplace=True``: into the input's own memory).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn.functional as F
        >>> F.hardtanh(cr.tensor([-3.0, 0.5, 3.0]))
        tensor([-1. ,  0.5,  1. ])
    """
    return _maybe_in_place(input, inplace, "hardtanh_", ops.hardtanh, min_val, max_val)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6) (``inplace=True``: into the input's own memory).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn.functional as F
        >>> F.relu6(cr.tensor([-1.0, 8.0]))
        tensor([0., 6.])
    """
    return _maybe_in_place(input, inplace, "relu6_", ops.relu6)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * relu6(x + 3) / 6 (``inplace=True``: into the input's own memory).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn.functional as F
        >>> F.hardswish(cr.tensor([1.0, 4.0]))
        tensor([0.6667, 4.    ])
    """
    return _maybe_in_place(input, inplace, "hardswish_", ops.hardswish)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """relu6(x + 3) / 6 (``inplace=True``: into the input's own memory).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn.functional as F
        >>> F.hardsigmoid(cr.tensor([0.0, 4.0]))
        tensor([0.5, 1. ])
    """
    return _maybe_in_place(input, inplace, "hardsigmoid_", ops.hardsigmoid)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """x where x > ``threshold``, else ``value`` (``inplace=True``: into the input's own memory).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn.functional as F
        >>> F.threshold(cr.tensor([0.0, 2.0]), 0.5, -1.0)
        tensor([-1.,  2.])
    """
    return _maybe_in_place(input, inplace, "threshold_", ops.threshold, threshold, value)


def dropout(
    input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False, *, generator: Any = None
) -> Tensor:
    """Inverted dropout: zero each element with probability ``p`` and scale the rest by 1/(1-p).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn.functional as F
        >>> _ = cr.manual_seed(0)
        >>> y = F.dropout(cr.ones(1000), p=0.5)
        >>> sorted(set(y.numpy().tolist())), F.dropout(cr.ones(3), training=False)
        ([0.0, 2.0], tensor([1., 1., 1.]))
    """
    x = input
    unit_interval("dropout", "p", p)
    return _drop(x, p, training, generator, x.shape, inplace)


def dropout1d(
    input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False, *, generator: Any = None
) -> Tensor:
    """Channel-wise dropout for (N, C, L) or unbatched (C, L) inputs: each channel, a whole row
    of L values, is zeroed with probability ``p``; the others are scaled by 1/(1-p).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn.functional as F
        >>> _ = cr.manual_seed(0)
        >>> y = F.dropout1d(cr.ones(2, 3, 4), p=0.5).numpy()
        >>> bool((y == y[:, :, :1]).all())     # every row of 4 is all 0 or all 1/(1-p) = 2
        True
    """
    unit_interval("dropout1d", "p", p)
    x = lift(input)
    if x.ndim not in (2, 3):
        raise ValueError(
            f"dropout1d: expects a 3-D (N, C, L) or 2-D unbatched (C, L) input, got shape {x.shape}; "
            "for element-wise dropout use dropout"
        )
    return _drop(x, p, training, generator, x.shape[:-1] + (1,), inplace)


def dropout2d(
    input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False, *, generator: Any = None
) -> Tensor:
    """Channel-wise dropout for (N, C, H, W) inputs: each channel, a whole H x W map, is zeroed with
    probability ``p``; the others are scaled by 1/(1-p).

    A 3-D input is read as PyTorch reads it, as (N, C, L) (dropping rows, as ``dropout1d``), with
    PyTorch's warning; for one unbatched (C, H, W) sample add the batch axis: ``x[None]``.

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn.functional as F
        >>> _ = cr.manual_seed(0)
        >>> y = F.dropout2d(cr.ones(2, 3, 4, 4), p=0.5).numpy()
        >>> sorted(set(y.reshape(6, 16).std(axis=1).tolist()))   # every map is constant: all 0 or all 2
        [0.0]
    """
    unit_interval("dropout2d", "p", p)
    x = lift(input)
    if x.ndim not in (3, 4):
        raise ValueError(
            f"dropout2d: expects a 4-D (N, C, H, W) input (or 3-D, read as (N, C, L)), got shape {x.shape}; "
            "for element-wise dropout use dropout"
        )
    if x.ndim == 3:
        warnings.warn(
            "dropout2d: a 3-D input is read as (N, C, L), as PyTorch does, and whole rows are dropped; "
            "for 1-D feature maps use dropout1d (Dropout1d), for one (C, H, W) sample add the batch axis "
            "(x[None])",
            UserWarning,
            stacklevel=_stacklevel_outside("chainrule.nn"),
        )
    return _drop(x, p, training, generator, x.shape[:2] + (1,) * (x.ndim - 2), inplace)


def _drop(
    x: Tensor, p: float, training: bool, generator: Any, mask_shape: tuple[int, ...], inplace: bool = False
) -> Tensor:
    """``x`` times a mask of ``mask_shape`` (broadcast over the rest) holding 0 with probability
    ``p`` and 1/(1-p) otherwise; ``x`` itself when not training. ``inplace``: multiplied in place."""
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x.mul_(0.0) if inplace else x * 0.0
    if inplace:
        return x._in_place("dropout", _dropout, p, mask_shape, generator)
    return _dropout(x, p, mask_shape, generator)


def l1_penalty(parameters: Iterable[Tensor]) -> Tensor:
    """Sum of absolute values of the parameters (add ``alpha * l1_penalty(...)`` to a loss).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn.functional as F
        >>> F.l1_penalty([cr.tensor([1.0, -2.0]), cr.tensor([3.0])])
        tensor(6.)
    """
    terms = [ops.sum(ops.abs(p)) for p in parameters]
    if not terms:
        raise ValueError("l1_penalty: no parameters given")
    return sum(terms[1:], terms[0])


def l2_penalty(parameters: Iterable[Tensor]) -> Tensor:
    """Half the sum of squares of the parameters, 0.5 * sum(w²) (its gradient is w).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn.functional as F
        >>> F.l2_penalty([cr.tensor([1.0, -2.0]), cr.tensor([3.0])])
        tensor(7.)
    """
    terms = [ops.sum(p * p) for p in parameters]
    if not terms:
        raise ValueError("l2_penalty: no parameters given")
    return sum(terms[1:], terms[0]) * 0.5


# ------------------------------------------------------------------ regression losses


def _weighted(op: str, loss: Tensor, weight: Tensor, reduction: str, by_weight: bool) -> Tensor:
    """PyTorch's weighted loss: ``loss * weight`` (``weight`` of the input's shape exactly, never
    broadcast), reduced; its 'mean' is ``sum(weight * loss) / sum(weight)`` when ``by_weight``
    (mse_loss, l1_loss), the plain mean of ``weight * loss`` otherwise (huber_loss)."""
    weighted = loss * weight
    if reduction == "mean" and by_weight:
        if loss.size == 0:
            raise ValueError(f"{op}: the batch is empty (shape {loss.shape}): a mean over no samples is undefined")
        return ops.sum(weighted) / ops.sum(weight)
    return _reduce(weighted, reduction, op)


def _as_weight(op: str, weight: Any, input: Tensor) -> Tensor:
    """The loss weight as a tensor of the input's dtype; its shape must be the input's."""
    w = _as_target(weight, input)
    if w.shape != input.shape:
        raise ValueError(
            f"{op}: weight of shape {w.shape} must have the input's shape {input.shape} "
            "(as in PyTorch, it is not broadcast)"
        )
    return w


def mse_loss(
    input: Tensor,
    target: Any,
    reduction: str = "mean",
    *,
    size_average: bool | None = None,
    reduce: bool | None = None,
    weight: Tensor | None = None,
) -> Tensor:
    """Mean squared error, (input - target)².

    Args:
        reduction: 'mean' (default), 'sum' or 'none'.
        weight: optional per-element weights of the input's shape (keyword-only here): the loss is
            ``weight * (input - target)²``, and its 'mean' is ``sum(weight * loss) / sum(weight)``
            (PyTorch's).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn.functional as F
        >>> F.mse_loss(cr.tensor([1.0, 2.0]), cr.tensor([1.0, 4.0]))
        tensor(2.)
        >>> F.mse_loss(cr.tensor([1.0, 2.0]), cr.tensor([1.0, 4.0]), weight=cr.tensor([1.0, 3.0]))  # 12 / 4
        tensor(3.)
    """
    reduction = legacy_reduction(size_average, reduce, reduction, "mse_loss")
    check_reduction(reduction, "mse_loss")
    target = _as_target(target, input)
    _same_shape("mse_loss", input, target)
    w = None if weight is None else _as_weight("mse_loss", weight, input)
    diff = input - target
    if w is not None:
        return _weighted("mse_loss", diff * diff, w, reduction, by_weight=True)
    return _reduce(diff * diff, reduction, "mse_loss")


def l1_loss(
    input: Tensor,
    target: Any,
    reduction: str = "mean",
    *,
    size_average: bool | None = None,
    reduce: bool | None = None,
    weight: Tensor | None = None,
) -> Tensor:
    """Mean absolute error, |input - target|.

    Args:
        reduction: 'mean' (default), 'sum' or 'none'.
        weight: optional per-element weights of the input's shape (keyword-only here): the loss is
            ``weight * |input - target|``, and its 'mean' is ``sum(weight * loss) / sum(weight)``
            (PyTorch's).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn.functional as F
        >>> F.l1_loss(cr.tensor([1.0, 2.0]), cr.tensor([1.0, 4.0]), reduction='sum')
        tensor(2.)
        >>> F.l1_loss(cr.tensor([1.0, 2.0]), cr.tensor([0.0, 4.0]), weight=cr.tensor([1.0, 3.0]))  # 7 / 4
        tensor(1.75)
    """
    reduction = legacy_reduction(size_average, reduce, reduction, "l1_loss")
    check_reduction(reduction, "l1_loss")
    target = _as_target(target, input)
    _same_shape("l1_loss", input, target)
    w = None if weight is None else _as_weight("l1_loss", weight, input)
    loss = ops.abs(input - target)
    if w is not None:
        return _weighted("l1_loss", loss, w, reduction, by_weight=True)
    return _reduce(loss, reduction, "l1_loss")


def huber_loss(
    input: Tensor,
    target: Any,
    reduction: str = "mean",
    delta: float = 1.0,
    weight: Tensor | None = None,
    *,
    size_average: bool | None = None,
    reduce: bool | None = None,
) -> Tensor:
    """Quadratic for |error| < delta, linear beyond: 0.5 e² or delta (|e| - delta/2).

    Args:
        reduction: 'mean' (default), 'sum' or 'none'.
        delta: where the quadratic piece turns linear (positive).
        weight: optional per-element weights of the input's shape: the loss is ``weight`` times
            the above, and its 'mean' is the plain mean of that product (PyTorch's: unlike
            ``mse_loss``'s and ``l1_loss``'s, not divided by ``sum(weight)``).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn.functional as F
        >>> F.huber_loss(cr.tensor([0.5, 3.0]), cr.tensor([0.0, 0.0]), reduction='none')
        tensor([0.125, 2.5  ])
        >>> F.huber_loss(cr.tensor([0.5, 3.0]), cr.tensor([0.0, 0.0]), weight=cr.tensor([2.0, 1.0]))  # (0.25 + 2.5) / 2
        tensor(1.375)
    """
    reduction = legacy_reduction(size_average, reduce, reduction, "huber_loss")
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    check_reduction(reduction, "huber_loss")
    target = _as_target(target, input)
    _same_shape("huber_loss", input, target)
    w = None if weight is None else _as_weight("huber_loss", weight, input)
    err = input - target
    small = ops.abs(err) < delta  # an op: a compiled step compares again on each replay
    inner = ops.where(small, err, 0.0)  # (squared only where used: inf * 0 in its gradient would be NaN)
    loss = ops.where(small, inner * inner * 0.5, (ops.abs(err) - 0.5 * delta) * delta)
    if w is not None:
        return _weighted("huber_loss", loss, w, reduction, by_weight=False)
    return _reduce(loss, reduction, "huber_loss")


def smooth_l1_loss(
    input: Tensor,
    target: Any,
    reduction: str = "mean",
    beta: float = 1.0,
    *,
    size_average: bool | None = None,
    reduce: bool | None = None,
) -> Tensor:
    """Smooth L1: 0.5 e² / beta for |error| < beta, |e| - beta/2 beyond (PyTorch's; the L1 loss
    when ``beta`` = 0). It is ``huber_loss`` with ``delta = beta``, divided by ``beta``.

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn.functional as F
        >>> F.smooth_l1_loss(cr.tensor([0.5, 3.0]), cr.tensor([0.0, 0.0]), reduction='none')
        tensor([0.125, 2.5  ])
        >>> F.smooth_l1_loss(cr.tensor([0.5, 3.0]), cr.tensor([0.0, 0.0]), beta=2.0)  # (0.0625 + 2) / 2
        tensor(1.0312)
    """
    reduction = legacy_reduction(size_average, reduce, reduction, "smooth_l1_loss")
    if isinstance(beta, bool) or not isinstance(beta, numbers.Real) or not beta >= 0:
        raise ValueError(f"smooth_l1_loss: beta must be a number >= 0, got {beta!r}")
    check_reduction(reduction, "smooth_l1_loss")
    target = _as_target(target, input)
    _same_shape("smooth_l1_loss", input, target)
    err = input - target
    if beta == 0:  # the quadratic piece has vanished; 0.5 e² / 0 must not enter the graph
        return _reduce(ops.abs(err), reduction, "smooth_l1_loss")
    size = ops.abs(err)
    small = size < beta
    inner = ops.where(small, err, 0.0)  # (squared only where used: inf * 0 in its gradient would be NaN)
    loss = ops.where(small, inner * inner * (0.5 / beta), size - 0.5 * beta)
    return _reduce(loss, reduction, "smooth_l1_loss")


# ------------------------------------------------------------------ binary classification


def one_hot(tensor: Any, num_classes: int = -1) -> Tensor:
    """Class indices as one-hot rows, as PyTorch's: an int64 tensor of shape ``(*tensor.shape,
    num_classes)`` (``num_classes=-1``: the largest index + 1); no gradient.

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn.functional as F
        >>> F.one_hot(cr.tensor([0, 2]), 3)
        tensor([[1, 0, 0],
                [0, 0, 1]])
    """
    labels = ops.lift(tensor)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"one_hot: needs a tensor of class indices (integers), got dtype {labels.dtype}")
    values = labels._data
    if values.size and values.min() < 0:
        raise ValueError(f"one_hot: class indices must be >= 0, got {int(values.min())}")
    if num_classes == -1:
        if not values.size:
            raise ValueError("one_hot: cannot infer the number of classes of an empty tensor; give num_classes")
        num_classes = int(values.max()) + 1
    if not isinstance(num_classes, numbers.Integral) or num_classes < 1:
        raise ValueError(f"one_hot: num_classes must be a whole number >= 1 (or -1), got {num_classes!r}")
    if values.size and values.max() >= num_classes:
        raise ValueError(f"one_hot: class index {int(values.max())} is not smaller than num_classes={num_classes}")
    return pure(_one_hot, labels, num_classes=int(num_classes))


def _one_hot(values: np.ndarray, num_classes: int) -> np.ndarray:
    return (values[..., None] == np.arange(num_classes)).astype(np.int64)


def binary_cross_entropy(
    input: Tensor,
    target: Any,
    weight: Any = None,
    reduction: str = "mean",
    *,
    size_average: bool | None = None,
    reduce: bool | None = None,
) -> Tensor:
    """Log-loss on probabilities: -(y log p + (1 - y) log(1 - p)), each log floored at -100 and the
    gradient (p - y) / max(p (1 - p), 1e-12), as PyTorch computes them (a p of exactly 0 or 1 on the
    wrong side costs 100 and still has a gradient).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn.functional as F
        >>> F.binary_cross_entropy(cr.tensor([0.9, 0.1]), cr.tensor([1.0, 0.0]))
        tensor(0.1054)
    """
    reduction = legacy_reduction(size_average, reduce, reduction, "binary_cross_entropy")
    input = lift(input)
    target = _as_target(target, input)
    _same_shape("binary_cross_entropy", input, target)
    _check_probabilities(input)
    loss = BinaryCrossEntropy.apply(input, target)
    if weight is not None:
        loss = loss * _as_target(weight, input)
    return _reduce(loss, check_reduction(reduction, "binary_cross_entropy"), "binary_cross_entropy")


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Any,
    weight: Any = None,
    pos_weight: Any = None,
    reduction: str = "mean",
    *,
    size_average: bool | None = None,
    reduce: bool | None = None,
) -> Tensor:
    """Log-loss on raw scores z, stable for any z: (1 - y) z + (1 + (pw - 1) y) softplus(-z).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn.functional as F
        >>> F.binary_cross_entropy_with_logits(cr.tensor([0.0]), cr.tensor([1.0]))
        tensor(0.6931)
    """
    reduction = legacy_reduction(size_average, reduce, reduction, "binary_cross_entropy_with_logits")
    input = lift(input)
    target = _as_target(target, input)
    _same_shape("binary_cross_entropy_with_logits", input, target)
    if pos_weight is None:
        loss = (1.0 - target) * input + ops.softplus(-input)
    else:
        log_weight = (_as_target(pos_weight, input) - 1.0) * target + 1.0
        loss = (1.0 - target) * input + log_weight * ops.softplus(-input)
    if weight is not None:
        loss = loss * _as_target(weight, input)
    return _reduce(
        loss, check_reduction(reduction, "binary_cross_entropy_with_logits"), "binary_cross_entropy_with_logits"
    )


def hinge_loss(
    input: Tensor,
    target: Any,
    reduction: str = "mean",
    squared: bool = False,
    margin: float = 1.0,
    *,
    size_average: bool | None = None,
    reduce: bool | None = None,
) -> Tensor:
    """The linear SVM's loss max(0, margin - y s), labels in {-1, +1} or {0, 1} (0 becomes -1).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn.functional as F
        >>> F.hinge_loss(cr.tensor([0.5, -2.0]), cr.tensor([1, 0]), reduction='none')
        tensor([0.5, 0. ])
    """
    reduction = legacy_reduction(size_average, reduce, reduction, "hinge_loss")
    loss = ops.relu(margin - input * _hinge_signs(input, target))
    if squared:
        loss = loss * loss
    return _reduce(loss, check_reduction(reduction, "hinge_loss"), "hinge_loss")


# ------------------------------------------------------------------ multi-class


@replayed  # reads the labels: a compiled step checks them (and makes the signs) again on each replay
def _hinge_signs(input: Tensor, target: Any) -> Tensor:
    """The labels of ``hinge_loss`` as signs ±1 in ``input``'s dtype, after checking them."""
    t = target._data if isinstance(target, Tensor) else np.asarray(target)
    values = np.unique(t)
    if not (set(values.tolist()) <= {-1, 1} or set(values.tolist()) <= {0, 1}):
        raise ValueError(f"hinge_loss: labels must be in {{-1, +1}} or {{0, 1}}, got values {values[:5].tolist()}")
    signs = np.where(t > 0, 1.0, -1.0).astype(input.dtype)
    if signs.shape != input.shape:
        raise ValueError(f"hinge_loss: input shape {input.shape} and target shape {signs.shape} differ")
    return Tensor._make(signs)


@replayed  # reads the values: a compiled step checks them again on each replay
def _check_probabilities(input: Tensor) -> None:
    if input._data.size and (input._data.min() < 0 or input._data.max() > 1):
        raise ValueError(
            "binary_cross_entropy: input must hold probabilities in [0, 1]; for raw scores use "
            "binary_cross_entropy_with_logits"
        )


@replayed  # reads the labels: a compiled step checks them again on each replay
def _class_indices(name: str, input: Tensor, target: Any) -> Tensor:
    t = target if isinstance(target, Tensor) else Tensor(np.asarray(target))
    if t.dtype.kind not in "iu":
        raise TypeError(f"{name}: class-index targets must be integers, got dtype {t.dtype}")
    if input.ndim != 2 or t.shape != (input.shape[0],):
        raise ValueError(
            f"{name}: expects input of shape (N, C) and target of shape (N,), got {input.shape} and {t.shape}"
        )
    if t._data.size and (t._data.min() < 0 or t._data.max() >= input.shape[1]):
        hint = ""
        if (t._data == -100).any():  # PyTorch's default ignore_index, which chainrule does not assume
            hint = "; -100 is PyTorch's default ignore_index: pass ignore_index=-100 to leave those samples out"
        raise ValueError(
            f"{name}: target classes must be in [0, {input.shape[1] - 1}], got values from "
            f"{t._data.min()} to {t._data.max()}{hint}"
        )
    return t


def _ignoring(
    name: str, input: Tensor, target: Any, ignore_index: int, per_sample: Any, weight: np.ndarray | None, reduction: str
) -> Tensor:
    """A class-index loss that leaves out the samples whose target is ``ignore_index`` (PyTorch's
    rule: 0 for them with reduction 'none'; the mean divides by the others' count, or by their
    class weights' sum). ``per_sample(valid_target)`` gives the loss of every sample, unreduced."""
    if not isinstance(ignore_index, numbers.Integral) or isinstance(ignore_index, bool):
        raise TypeError(f"{name}: ignore_index must be an int, got {ignore_index!r}")
    t = target if isinstance(target, Tensor) else Tensor(np.asarray(target))
    keep = ops.ne(t, int(ignore_index))  # ops on the data: a compiled step computes them again
    valid = _class_indices(name, input, ops.where(keep, t, 0))  # an ignored target reads class 0, then counts 0
    kept = ops.cast(keep, input.dtype)
    # (a where, not a product with 0: an ignored row's loss may be inf or NaN, padding logits of -inf)
    loss = ops.where(keep, per_sample(valid), 0.0)
    if reduction != "mean":
        return _reduce(loss, reduction, name)
    count = ops.sum(kept if weight is None else ops.index(Tensor._make(weight), valid._data) * kept)
    return ops.sum(loss) / count


def _classes_last(name: str, input: Tensor, target: Any) -> tuple[Tensor, Tensor, tuple[int, ...]] | None:
    """PyTorch's other layouts of a class-index loss, as (N, C) rows: an unbatched (C,) input with a
    0-d target, and (N, C, d1, ...) with a target of (N, d1, ...) (a class per pixel or time step).
    Returns the (M, C) input, the (M,) target and the shape of the per-element loss; None for (N, C)."""
    t = target if isinstance(target, Tensor) else Tensor(np.asarray(target))
    if input.ndim == 2 or t.dtype.kind not in "iu":
        return None
    if input.ndim == 1 and t.ndim == 0:
        return ops.reshape(input, (1, input.shape[0])), ops.reshape(t, (1,)), ()
    if input.ndim > 2 and t.shape == input.shape[:1] + input.shape[2:]:
        c = input.shape[1]
        moved = ops.permute(input, (0, *range(2, input.ndim), 1))  # (N, d1, ..., C)
        return ops.reshape(moved, (-1, c)), ops.reshape(t, (-1,)), t.shape
    raise ValueError(
        f"{name}: input of shape {input.shape} and class-index target of shape {t.shape} do not match; "
        "PyTorch's layouts are input (N, C) with target (N,), (C,) with a 0-d target, and (N, C, d1, ...) "
        "with target (N, d1, ...)"
    )


def _class_weight(name: str, weight: Any, input: Tensor) -> np.ndarray | None:
    if weight is None:
        return None
    w = np.asarray(weight._data if isinstance(weight, Tensor) else weight, dtype=input.dtype)
    if w.shape != (input.shape[1],):
        raise ValueError(f"{name}: weight must have one entry per class ({input.shape[1]}), got shape {w.shape}")
    return w


def cross_entropy(
    input: Tensor,
    target: Any,
    weight: Any = None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    *,
    ignore_index: int | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
) -> Tensor:
    """Softmax cross-entropy of (N, C) logits against class indices (N,) or class probabilities (N, C).

    ``weight`` rescales each class; ``label_smoothing`` mixes the target with the uniform
    distribution; ``ignore_index`` (class indices only) leaves out the samples with that target, as
    PyTorch's does (PyTorch's default is -100; here nothing is left out unless asked, and a target of
    -100 is an error that says to pass it).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn.functional as F
        >>> F.cross_entropy(cr.tensor([[0.0, 0.0], [10.0, 0.0]]), cr.tensor([1, 0]), reduction='none')
        tensor([6.9315e-01, 4.5418e-05])
    """
    reduction = legacy_reduction(size_average, reduce, reduction, "cross_entropy")
    check_reduction(reduction, "cross_entropy")
    unit_interval("cross_entropy", "label_smoothing", label_smoothing)
    input = lift(input)
    if input.ndim == 0 or input.shape[min(1, input.ndim - 1)] == 0:
        raise ValueError(
            f"cross_entropy: input must be logits of shape (N, C, ...) or (C,), C >= 1, got shape {input.shape}"
        )
    target_t = target if isinstance(target, Tensor) else Tensor(np.asarray(target))
    if input.ndim == 1:  # one unbatched sample: a batch of one, and a 0-d loss
        if target_t.dtype.kind in "iu" and target_t.ndim != 0:
            _classes_last("cross_entropy", input, target_t)  # (raises, naming PyTorch's layouts)
        one = ops.reshape(target_t, (1, *target_t.shape)) if target_t.ndim < 2 else target_t
        loss = cross_entropy(
            ops.reshape(input, (1, input.shape[0])), one, weight, reduction, label_smoothing, ignore_index=ignore_index
        )
        return ops.reshape(loss, ()) if reduction == "none" else loss
    if target_t.dtype.kind == "f":  # class probabilities
        if target_t.ndim == input.ndim - 1 or (
            target_t.ndim == input.ndim and target_t.shape[1:2] == (1,) != input.shape[1:2]
        ):
            raise ValueError(
                f"cross_entropy: target of shape {target_t.shape} holds floats ({target_t.dtype}), which cross_entropy "
                f"takes as class probabilities, one per class, of the input's shape {input.shape}; for class indices "
                "give integers of shape (N,): target.astype(int) (NumPy arrays and Tensors alike)"
            )
        _same_shape("cross_entropy", input, target_t)
        q = _as_target(target_t, input)
        if label_smoothing:
            q = q * (1.0 - label_smoothing) + label_smoothing / input.shape[1]
        w = _class_weight("cross_entropy", weight, input)
        if w is not None:
            q = q * Tensor._make(w)
        loss = -ops.sum(q * ops.log_softmax(input, axis=1), axis=1)
        return _reduce(loss, reduction, "cross_entropy")
    rows = _classes_last("cross_entropy", input, target_t)
    if rows is not None:  # (C,) or (N, C, d1, ...): the same loss over (M, C) rows
        flat_input, flat_target, shape = rows
        loss = cross_entropy(flat_input, flat_target, weight, reduction, label_smoothing, ignore_index=ignore_index)
        return ops.reshape(loss, shape) if reduction == "none" else loss
    w = _class_weight("cross_entropy", weight, input)
    if ignore_index is not None:
        return _ignoring(
            "cross_entropy",
            input,
            target_t,
            ignore_index,
            lambda valid: cross_entropy_indices(input, valid, w, label_smoothing, "none"),
            w,
            reduction,
        )
    target_t = _class_indices("cross_entropy", input, target_t)
    return cross_entropy_indices(input, target_t, w, label_smoothing, reduction)


def nll_loss(
    input: Tensor,
    target: Any,
    weight: Any = None,
    reduction: str = "mean",
    *,
    ignore_index: int | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
) -> Tensor:
    """Negative log-likelihood of (N, C) log-probabilities at the target class indices
    (``ignore_index`` as in ``cross_entropy``).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn.functional as F
        >>> F.nll_loss(cr.tensor([[-0.5, -1.0]]), cr.tensor([1]))
        tensor(1.)
    """
    reduction = legacy_reduction(size_average, reduce, reduction, "nll_loss")
    check_reduction(reduction, "nll_loss")
    input = lift(input)
    rows = _classes_last("nll_loss", input, target)
    if rows is not None:  # (C,) or (N, C, d1, ...): the same loss over (M, C) rows
        flat_input, flat_target, shape = rows
        loss = nll_loss(flat_input, flat_target, weight, reduction, ignore_index=ignore_index)
        return ops.reshape(loss, shape) if reduction == "none" else loss
    w = _class_weight("nll_loss", weight, input)
    if ignore_index is not None:

        def per_sample(valid: Tensor) -> Tensor:
            picked = -ops.index(input, (np.arange(input.shape[0]), valid._data))
            return picked if w is None else picked * ops.index(Tensor._make(w), valid._data)

        return _ignoring("nll_loss", input, target, ignore_index, per_sample, w, reduction)
    t = _class_indices("nll_loss", input, target)
    picked = -ops.index(input, (np.arange(input.shape[0]), t._data))
    if w is None:
        return _reduce(picked, reduction, "nll_loss")
    w_t = ops.index(Tensor._make(w), t._data)  # each sample's class weight (an op: replayed per batch)
    loss = picked * w_t
    if reduction == "mean":
        return ops.sum(loss) / ops.sum(w_t)
    return _reduce(loss, reduction, "nll_loss")


def multi_margin_loss(
    input: Tensor,
    target: Any,
    p: int = 1,
    margin: float = 1.0,
    weight: Any = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Multi-class hinge (Weston-Watkins, as PyTorch's ``multi_margin_loss``, with its arguments in
    its order): per sample, the sum over the wrong classes c of ``w_y max(0, margin - s_y + s_c) ** p``,
    divided by the number of classes; ``p`` is 1 or 2 (the squared hinge).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn.functional as F
        >>> F.multi_margin_loss(cr.tensor([[1.0, 0.8]]), cr.tensor([0]))  # max(0, 1 - 1 + 0.8) / 2
        tensor(0.4)
    """
    reduction = legacy_reduction(size_average, reduce, reduction, "multi_margin_loss")
    check_reduction(reduction, "multi_margin_loss")
    if isinstance(p, bool) or p not in (1, 2):
        raise ValueError(f"multi_margin_loss: p must be 1 or 2 (the squared hinge), got {p!r}")
    if isinstance(margin, bool) or not isinstance(margin, numbers.Real):
        raise TypeError(
            f"multi_margin_loss: margin must be a number, got {margin!r} (the arguments are PyTorch's: "
            "input, target, p, margin, weight, ...; chainrule's former squared=True is p=2)"
        )
    t = _class_indices("multi_margin_loss", input, target)
    w = _class_weight("multi_margin_loss", weight, input)
    n, c = input.shape
    correct = ops.index(input, (np.arange(n), t._data))
    margins = ops.relu(input - ops.reshape(correct, (n, 1)) + float(margin))
    if p == 2:
        margins = margins * margins
    # 1 for each wrong class, 0 for the right one: an op, so a compiled step makes it per batch
    wrong = ops.cast(ops.ne(ops.reshape(t, (n, 1)), Tensor._make(np.arange(c))), input.dtype)
    loss = ops.sum(margins * wrong, axis=1) * (1.0 / c)
    if w is not None:  # each sample's term scaled by its target class's weight (a plain mean after)
        loss = loss * ops.index(Tensor._make(w), t._data)
    return _reduce(loss, reduction, "multi_margin_loss")


# ------------------------------------------------------------------ distances


def _p_norm(x: Tensor, p: float, axis: int, keepdim: bool, owner: str) -> Tensor:
    """The p-norm of ``x`` along ``axis`` (``vector_norm``, after checking p > 0 for ``owner``)."""
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not p > 0:
        raise ValueError(f"{owner}: p must be a number > 0 (or inf), got {p!r}")
    return vector_norm(x, float(p), dim=axis, keepdim=keepdim)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """The p-norm distance between rows, ``||x1 - x2 + eps||_p`` along the last dim, as PyTorch's
    (``eps`` is added to the difference, so equal rows have a gradient).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn.functional as F
        >>> F.pairwise_distance(cr.tensor([[0.0, 0.0]]), cr.tensor([[3.0, 4.0]]), eps=0.0)
        tensor([5.])
    """
    x1, x2 = lift(x1), lift(x2)
    diff = x1 - x2 + eps
    if diff.ndim == 0:
        diff = ops.reshape(diff, (1,))
    return _p_norm(diff, p, diff.ndim - 1, keepdim, "pairwise_distance")


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out: Any = None) -> Tensor:
    """``input`` divided by its ``p``-norm along ``dim``, the norm clamped at ``eps`` from below
    (``input / max(||input||_p, eps)``, PyTorch's ``F.normalize``).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn.functional as F
        >>> F.normalize(cr.tensor([[3.0, 4.0], [0.0, 0.0]]))
        tensor([[0.6, 0.8],
                [0. , 0. ]])
    """
    if out is not None:
        raise TypeError("normalize: out= is not supported; assign the result (y = F.normalize(x, ...))")
    input = lift(input)
    norm = vector_norm(input, float(p), dim=dim, keepdim=True)
    return input / ops.clip(norm, min=float(eps))


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """The cosine of the angle between ``x1`` and ``x2`` along ``dim`` (broadcast to one shape), as
    PyTorch's: each is divided by its 2-norm clamped at ``eps`` (the clamp changes the value only;
    the gradient is that of the unclamped norm), then their products summed.

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn.functional as F
        >>> F.cosine_similarity(cr.tensor([[1.0, 0.0], [1.0, 1.0]]), cr.tensor([[0.0, 2.0], [2.0, 2.0]]))
        tensor([0., 1.])
    """
    x1 = lift(x1)
    x2 = _as_target(x2, x1)
    shape = np.broadcast_shapes(x1.shape, x2.shape)
    x1, x2 = ops.broadcast_to(x1, shape), ops.broadcast_to(x2, shape)
    n1 = vector_norm(x1, 2, dim=dim, keepdim=True)
    n2 = vector_norm(x2, 2, dim=dim, keepdim=True)
    # PyTorch clamps each norm in place under no_grad: the value is clamped, its gradient is not
    with no_grad():  # (ops: a compiled step and an ONNX export compute the gap again)
        gap1, gap2 = ops.clip(n1, min=float(eps)) - n1, ops.clip(n2, min=float(eps)) - n2
    n1, n2 = n1 + gap1, n2 + gap2
    return ops.sum((x1 / n1) * (x2 / n2), axis=dim)


# ------------------------------------------------------------------ padding

_NUMPY_PAD_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def pad(input: Tensor, pad: Any, mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad the last dimensions, PyTorch's way: ``pad`` is (left, right) for the last dimension,
    then (top, bottom) for the one before, ... A negative amount crops (constant mode). ``mode``:
    'constant' (``value``, default 0), 'reflect' (mirrored, the edge not repeated), 'replicate'
    (the edge repeated) or 'circular' (wrapped around).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn.functional as F
        >>> F.pad(cr.tensor([[1.0, 2.0, 3.0]]), (1, 2))
        tensor([[0., 1., 2., 3., 0., 0.]])
        >>> F.pad(cr.tensor([[1.0, 2.0, 3.0]]), (2, 1), mode="reflect")
        tensor([[3., 2., 1., 2., 3., 2.]])
    """
    input = lift(input)
    amounts = tuple(pad)
    if len(amounts) % 2 or len(amounts) // 2 > input.ndim:
        raise ValueError(
            f"pad: needs an even number of amounts, two per padded dimension and at most 2 * {input.ndim} for a "
            f"{input.ndim}-d input, got {amounts}"
        )
    if not all(isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in amounts):
        raise TypeError(f"pad: the amounts must be integers, got {amounts}")
    # (left, right) pairs, the last dimension first, as widths per axis
    widths = [(0, 0)] * input.ndim
    for k in range(len(amounts) // 2):
        widths[input.ndim - 1 - k] = (int(amounts[2 * k]), int(amounts[2 * k + 1]))
    if mode == "constant":
        grown = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
        out = ops.pad(input, grown, 0.0 if value is None else float(value)) if any(map(any, grown)) else input
        if any(lo < 0 or hi < 0 for lo, hi in widths):  # crop
            out = ops.index(out, tuple(slice(-min(lo, 0), n + min(hi, 0)) for (lo, hi), n in zip(widths, out.shape)))
        return out
    if mode not in _NUMPY_PAD_MODES:
        raise ValueError(f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got {mode!r}")
    if value:
        raise ValueError(f"pad: padding mode {mode!r} doesn't take in value argument")
    out = input
    for axis, (lo, hi) in enumerate(widths):
        if lo == hi == 0:
            continue
        n = input.shape[axis]
        if lo < 0 or hi < 0 or (mode == "reflect" and max(lo, hi) >= n) or (mode == "circular" and max(lo, hi) > n):
            limit = "smaller than" if mode == "reflect" else "at most"
            raise ValueError(
                f"pad: {mode} padding of dimension {axis} (size {n}) by {(lo, hi)}: each amount must be >= 0 and "
                f"{limit} the size"
            )
        if n == 0:
            raise ValueError(f"pad: {mode} padding of an empty dimension {axis}")
        source = np.pad(np.arange(n), (lo, hi), mode=_NUMPY_PAD_MODES[mode])
        out = ops.index(out, (slice(None),) * axis + (source,))
    return out


# ------------------------------------------------------------------ normalisation


def _standardize(x: Tensor, axes: tuple[int, ...], eps: float) -> Tensor:
    """``x`` minus its mean over ``axes``, divided by sqrt(biased variance + eps)."""
    centered = x - ops.mean(x, axes, keepdims=True)
    var = ops.mean(centered * centered, axes, keepdims=True)
    return centered / ops.sqrt(var + eps)


def _per_channel(t: Any, like: Tensor, ndim: int) -> Tensor:
    """A (C,) weight, bias or statistic as (1, C, 1, ...) for an ``ndim``-d input of ``like``'s dtype."""
    return ops.reshape(_as_target(t, like), (1, -1) + (1,) * (ndim - 2))


def _channel_affine(out: Tensor, weight: Any, bias: Any, owner: str) -> Tensor:
    c = out.shape[1]
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(getattr(t, "shape", np.shape(t))) != (c,):
            raise ValueError(f"{owner}: {name} must have one entry per channel ({c}), got shape {np.shape(t)}")
    if weight is not None:
        out = out * _per_channel(weight, out, out.ndim)
    if bias is not None:
        out = out + _per_channel(bias, out, out.ndim)
    return out


def layer_norm(input: Tensor, normalized_shape: Any, weight: Any = None, bias: Any = None, eps: float = 1e-5) -> Tensor:
    """Normalise over the last ``len(normalized_shape)`` dimensions (mean 0, biased variance 1),
    then scale by ``weight`` and shift by ``bias`` (each of ``normalized_shape``, or None).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn.functional as F
        >>> F.layer_norm(cr.tensor([[1.0, 3.0]]), (2,))
        tensor([[-1.,  1.]])
    """
    input = lift(input)
    shape = (normalized_shape,) if isinstance(normalized_shape, numbers.Integral) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or input.shape[input.ndim - k :] != tuple(int(n) for n in shape) or input.ndim < k:
        raise ValueError(
            f"layer_norm: normalized_shape {tuple(shape)} must be the last dimensions of the input, got shape "
            f"{input.shape}"
        )
    out = _standardize(input, tuple(range(input.ndim - k, input.ndim)), eps)
    if weight is not None:
        out = out * _as_target(weight, out)
    if bias is not None:
        out = out + _as_target(bias, out)
    return out


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Any = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> Tensor:
    """Attention as PyTorch's: softmax(query @ keyᵀ * scale + bias) @ value, over the last two dimensions.

    Args:
        query: (..., L, E); key: (..., S, E); value: (..., S, Ev). The leading dimensions broadcast.
        attn_mask: a boolean mask broadcastable to (..., L, S), True where a query may attend to a
            key (the others get -inf), or a floating mask added to the scores. Default None.
        dropout_p: dropout on the attention weights (applied whenever it is above 0, as PyTorch's).
        is_causal: mask out the keys after each query (the upper triangle, ``tril`` of an (L, S)
            all-True mask kept); cannot be combined with ``attn_mask``.
        scale: the scores' factor, default 1/sqrt(E).
        enable_gqa: grouped-query attention: the key's and value's head dimension (-3) may divide
            the query's, each key head then serves that many query heads.

    A query whose keys are all masked gets zeros (PyTorch's safe softmax), not NaN.

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn.functional as F
        >>> q = cr.ones(1, 2, 4)
        >>> v = cr.tensor([[[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]]])
        >>> F.scaled_dot_product_attention(q, q, v, is_causal=True)
        tensor([[[1. , 0. , 0. , 0. ],
                 [0.5, 0.5, 0. , 0. ]]])
    """
    query, key, value = lift(query), lift(key), lift(value)
    name = "scaled_dot_product_attention"
    if min(query.ndim, key.ndim, value.ndim) < 2:
        raise ValueError(
            f"{name}: query, key and value need at least 2 dimensions (..., L, E), got shapes {query.shape}, "
            f"{key.shape} and {value.shape}"
        )
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise ValueError(
            f"{name}: the query's and key's last dimensions (E) and the key's and value's sequence dimensions (S) "
            f"must agree, got shapes {query.shape}, {key.shape} and {value.shape}"
        )
    unit_interval(name, "dropout_p", dropout_p)
    if is_causal and attn_mask is not None:
        raise ValueError(f"{name}: give attn_mask or is_causal=True, not both (fold the causal mask into attn_mask)")
    if enable_gqa and key.ndim >= 3 and query.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        groups, rest = divmod(query.shape[-3], key.shape[-3])
        if rest or value.shape[-3] != key.shape[-3]:
            raise ValueError(
                f"{name}: with enable_gqa the query's heads ({query.shape[-3]}) must be a multiple of the key's and "
                f"value's ({key.shape[-3]}, {value.shape[-3]})"
            )
        key, value = ops.repeat_interleave(key, groups, -3), ops.repeat_interleave(value, groups, -3)
    length, source = query.shape[-2], key.shape[-2]
    factor = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    scores = ops.matmul(query, ops.swapaxes(key, -2, -1)) * factor
    if is_causal:
        scores = ops.masked_fill(scores, ~np.tril(np.ones((length, source), dtype=bool)), -math.inf)
    if attn_mask is not None:
        scores = _add_attention_mask(name, scores, attn_mask, query.dtype, keep=True)
        weights = _safe_softmax(scores)
    else:
        weights = ops.softmax(scores, dim=-1)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, True)
    return ops.matmul(weights, value)


def _add_attention_mask(name: str, scores: Tensor, mask: Any, dtype: np.dtype, keep: bool) -> Tensor:
    """``scores`` with a boolean mask applied (-inf where the mask is False when ``keep``, where it is
    True otherwise) or a floating mask added; a clear error for another dtype or shape."""
    mask = mask if isinstance(mask, Tensor) else Tensor(np.asarray(mask))
    try:
        np.broadcast_shapes(mask.shape, scores.shape)
    except ValueError:
        raise ValueError(
            f"{name}: a mask of shape {mask.shape} does not broadcast with the attention scores' {scores.shape}"
        ) from None
    if mask.dtype == bool:
        return ops.masked_fill(scores, ops.logical_not(mask) if keep else mask, -math.inf)
    if mask.dtype.kind != "f":
        raise TypeError(f"{name}: a mask must be boolean or floating point, got dtype {mask.dtype}")
    if mask.dtype != dtype:
        raise TypeError(
            f"{name}: a floating mask must have the query's dtype {np.dtype(dtype)}, got {mask.dtype} "
            "(convert it with .to(query.dtype))"
        )
    return scores + mask


def _safe_softmax(scores: Tensor) -> Tensor:
    """Softmax over the last dimension, a row whose scores are all -inf giving zeros (and a zero
    gradient), as PyTorch's attention does, rather than NaN."""
    live = ops.isfinite(ops.amax(scores.detach(), -1, keepdim=True))
    weights = ops.softmax(ops.where(live, scores, 0.0), dim=-1)
    return ops.where(live, weights, 0.0)


def group_norm(input: Tensor, num_groups: int, weight: Any = None, bias: Any = None, eps: float = 1e-5) -> Tensor:
    """Split the C channels of an (N, C, ...) input into ``num_groups`` groups and normalise each
    sample's group (over its channels and positions), then scale and shift per channel.

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn.functional as F
        >>> F.group_norm(cr.tensor([[[1.0], [3.0], [5.0], [5.0]]]), 2).reshape(-1)
        tensor([-1.,  1.,  0.,  0.])
    """
    input = lift(input)
    if input.ndim < 2:
        raise ValueError(f"group_norm: expects an input of shape (N, C, ...), got shape {input.shape}")
    n, c = input.shape[:2]
    if isinstance(num_groups, bool) or not isinstance(num_groups, numbers.Integral) or num_groups < 1:
        raise ValueError(f"group_norm: num_groups must be a positive integer, got {num_groups!r}")
    if c % num_groups:
        raise ValueError(
            f"group_norm: expected the number of channels {c} (input shape {input.shape}) to be divisible by "
            f"num_groups={num_groups}"
        )
    grouped = ops.reshape(input, (n, int(num_groups), -1))
    out = ops.reshape(_standardize(grouped, (2,), eps), input.shape)
    return _channel_affine(out, weight, bias, "group_norm")


def instance_norm(
    input: Tensor,
    running_mean: Tensor | None = None,
    running_var: Tensor | None = None,
    weight: Any = None,
    bias: Any = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise each channel of each sample of an (N, C, ...) input over its positions, then scale
    and shift per channel. With ``use_input_stats`` and running statistics given, these are updated
    in place as PyTorch's: running = (1 - momentum) running + momentum * (the batch's average of
    each sample's mean, or unbiased variance). Without ``use_input_stats`` the running statistics
    normalise.

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn.functional as F
        >>> F.instance_norm(cr.tensor([[[1.0, 3.0], [2.0, 2.0]]]))
        tensor([[[-1.,  1.],
                 [ 0.,  0.]]])
    """
    input = lift(input)
    if input.ndim < 3:
        raise ValueError(
            f"instance_norm: expects an input of shape (N, C, L, ...), got shape {input.shape}; for one unbatched "
            "sample add the batch axis (x[None])"
        )
    if (running_mean is None) != (running_var is None):
        raise ValueError("instance_norm: give both running_mean and running_var, or neither")
    c = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var)):
        if t is not None and t.shape != (c,):
            raise ValueError(f"instance_norm: {name} must have one entry per channel ({c}), got shape {t.shape}")
    axes = tuple(range(2, input.ndim))
    if use_input_stats:
        count = math.prod(input.shape[2:])
        if count <= 1:
            raise ValueError(
                f"instance_norm: expected more than 1 spatial element when training, got input of shape {input.shape}"
            )
        mean = ops.mean(input, axes, keepdims=True)
        centered = input - mean
        var = ops.mean(centered * centered, axes, keepdims=True)
        if running_mean is not None:
            with no_grad():  # in place, with ops (a compiled step records and replays the update)
                m = float(momentum)
                batch_mean = ops.mean(ops.reshape(mean, input.shape[:2]), 0)
                batch_var = ops.mean(ops.reshape(var, input.shape[:2]), 0) * (count / (count - 1))
                running_mean.mul_(1 - m).add_(ops.cast(batch_mean, running_mean.dtype) * m)
                running_var.mul_(1 - m).add_(ops.cast(batch_var, running_var.dtype) * m)
        out = centered / ops.sqrt(var + eps)
    else:
        if running_mean is None:
            raise ValueError("instance_norm: use_input_stats=False needs running_mean and running_var")
        with no_grad():
            mean = _per_channel(running_mean, input, input.ndim)
            inv_std = 1.0 / ops.sqrt(_per_channel(running_var, input, input.ndim) + eps)
        out = (input - mean) * inv_std
    return _channel_affine(out, weight, bias, "instance_norm")


# ------------------------------------------------------------------ more losses, as PyTorch's


def kl_div(
    input: Tensor,
    target: Any,
    reduction: str = "mean",
    log_target: bool = False,
    *,
    size_average: bool | None = None,
    reduce: bool | None = None,
) -> Tensor:
    """Kullback-Leibler divergence of log-probabilities ``input`` from the distribution ``target``:
    target (log target - input), 0 where target is 0 (``log_target=True``: the target is given as
    logs, exp(t) (t - input)). ``reduction='batchmean'`` divides the sum by the batch size (the
    true KL divergence); 'mean' divides by the number of elements, with PyTorch's warning.

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn.functional as F
        >>> p = cr.tensor([[0.5, 0.5]])
        >>> F.kl_div(cr.log(cr.tensor([[0.25, 0.75]])), p, reduction='batchmean')
        tensor(0.1438)
    """
    reduction = legacy_reduction(size_average, reduce, reduction, "kl_div")
    if reduction not in (*REDUCTIONS, "batchmean"):
        raise ValueError(f"kl_div: reduction must be one of {(*REDUCTIONS, 'batchmean')}, got {reduction!r}")
    input = lift(input)
    target = _as_target(target, input)
    _broadcastable("kl_div", input=input, target=target)
    if not log_target:
        _check_distribution("kl_div", target)
    if log_target:
        loss = ops.exp(target) * (target - input)
    else:
        zero = ops.eq(target, 0.0)
        # target log target, 0 where the target is 0 (PyTorch's xlogy; a NaN stays NaN)
        loss = ops.where(zero, 0.0, target * ops.log(ops.where(zero, 1.0, target))) - target * input
    if reduction == "batchmean":
        total = ops.sum(loss)
        return total / input.shape[0] if input.ndim else total
    if reduction == "mean":
        warnings.warn(
            "reduction: 'mean' divides the total loss by both the batch size and the support size. 'batchmean' "
            "divides only by the batch size, and aligns with the KL div math definition. 'mean' will be changed "
            "to behave the same as 'batchmean' in the next major release.",
            UserWarning,
            stacklevel=_stacklevel_outside("chainrule.nn"),
        )
    return _reduce(loss, reduction, "kl_div")


def _same_ndim(owner: str, **tensors: Tensor) -> None:
    ndims = {t.ndim for t in tensors.values()}
    if len(ndims) > 1:
        shapes = ", ".join(f"{n} {t.shape}" for n, t in tensors.items())
        raise ValueError(f"{owner}: all inputs must have the same number of dimensions, got {shapes}")


def margin_ranking_loss(
    input1: Tensor,
    input2: Tensor,
    target: Any,
    margin: float = 0.0,
    reduction: str = "mean",
    *,
    size_average: bool | None = None,
    reduce: bool | None = None,
) -> Tensor:
    """max(0, -y (x1 - x2) + margin): ``x1`` should rank above ``x2`` where y = 1, below where y = -1.

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn.functional as F
        >>> F.margin_ranking_loss(cr.tensor([1.0, 0.0]), cr.tensor([0.0, 1.0]), cr.tensor([1.0, 1.0]), 0.5)
        tensor(0.75)
    """
    reduction = check_reduction(
        legacy_reduction(size_average, reduce, reduction, "margin_ranking_loss"), "margin_ranking_loss"
    )
    input1 = lift(input1)
    input2, target = _as_target(input2, input1), _as_target(target, input1)
    _same_ndim("margin_ranking_loss", input1=input1, input2=input2, target=target)
    _broadcastable("margin_ranking_loss", input1=input1, input2=input2, target=target)
    # clamp's gradient includes the bound, as PyTorch's clamp_min: 1 at a margin met exactly
    loss = ops.clip(-target * (input1 - input2) + margin, min=0.0)
    return _reduce(loss, reduction, "margin_ranking_loss")


def hinge_embedding_loss(
    input: Tensor,
    target: Any,
    margin: float = 1.0,
    reduction: str = "mean",
    *,
    size_average: bool | None = None,
    reduce: bool | None = None,
) -> Tensor:
    """x where y = 1, max(0, margin - x) where y = -1 (``input`` is a distance; PyTorch's rule: a
    label that is neither adds both terms).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn.functional as F
        >>> F.hinge_embedding_loss(cr.tensor([0.3, 0.4]), cr.tensor([1.0, -1.0]), reduction='none')
        tensor([0.3, 0.6])
    """
    reduction = check_reduction(
        legacy_reduction(size_average, reduce, reduction, "hinge_embedding_loss"), "hinge_embedding_loss"
    )
    input = lift(input)
    target = _as_target(target, input)
    _broadcastable("hinge_embedding_loss", input=input, target=target)
    margin_part = ops.where(ops.ne(target, 1.0), ops.clip(margin - input, min=0.0), 0.0)
    loss = margin_part + ops.where(ops.ne(target, -1.0), input, 0.0)
    return _reduce(loss, reduction, "hinge_embedding_loss")


def soft_margin_loss(
    input: Tensor, target: Any, reduction: str = "mean", *, size_average: bool | None = None, reduce: bool | None = None
) -> Tensor:
    """The two-class logistic loss log(1 + exp(-y x)) for labels y = ±1, computed stably (PyTorch's
    log1p(exp(.)) overflows to inf beyond a margin of 88 in float32; this stays finite).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn.functional as F
        >>> F.soft_margin_loss(cr.tensor([0.0, 2.0]), cr.tensor([1.0, -1.0]), reduction='none')
        tensor([0.6931, 2.1269])
    """
    reduction = check_reduction(
        legacy_reduction(size_average, reduce, reduction, "soft_margin_loss"), "soft_margin_loss"
    )
    input = lift(input)
    target = _as_target(target, input)
    _broadcastable("soft_margin_loss", input=input, target=target)
    return _reduce(ops.softplus(-input * target), reduction, "soft_margin_loss")


def cosine_embedding_loss(
    input1: Tensor,
    input2: Tensor,
    target: Any,
    margin: float = 0.0,
    reduction: str = "mean",
    *,
    size_average: bool | None = None,
    reduce: bool | None = None,
) -> Tensor:
    """1 - cos(x1, x2) where y = 1, max(0, cos(x1, x2) - margin) where y = -1, the cosine taken
    along dim 1 of (N, D) inputs (or of two 1-d vectors, with a 0-d target), as PyTorch's.

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn.functional as F
        >>> a, b = cr.tensor([[1.0, 0.0], [1.0, 1.0]]), cr.tensor([[0.0, 1.0], [1.0, 1.0]])
        >>> F.cosine_embedding_loss(a, b, cr.tensor([1.0, -1.0]), reduction='none')
        tensor([1., 1.])
    """
    reduction = check_reduction(
        legacy_reduction(size_average, reduce, reduction, "cosine_embedding_loss"), "cosine_embedding_loss"
    )
    input1 = lift(input1)
    input2, target = _as_target(input2, input1), _as_target(target, input1)
    if input1.ndim not in (1, 2) or input2.ndim != input1.ndim or target.ndim != input1.ndim - 1:
        raise ValueError(
            "cosine_embedding_loss: expects inputs of shape (N, D) with a target (N,), or (D,) with a 0-d target; "
            f"got {input1.shape}, {input2.shape} and {target.shape}"
        )
    axis = input1.ndim - 1
    # PyTorch's: each squared magnitude + 1e-12 before the square root of their product
    product = ops.sum(input1 * input2, axis=axis)
    squares = (ops.sum(input1 * input1, axis=axis) + 1e-12) * (ops.sum(input2 * input2, axis=axis) + 1e-12)
    cos = product / ops.sqrt(squares)
    loss = ops.where(ops.eq(target, 1.0), 1.0 - cos, 0.0) + ops.where(
        ops.eq(target, -1.0), ops.clip(cos - margin, min=0.0), 0.0
    )
    return _reduce(loss, reduction, "cosine_embedding_loss")


@replayed  # reads the values: a compiled step checks them again on each replay
def _check_variances(var: Tensor) -> None:
    if var._data.size and (var._data < 0).any():
        raise ValueError("gaussian_nll_loss: var has negative entries (variances must be >= 0)")


def gaussian_nll_loss(
    input: Tensor, target: Any, var: Any, full: bool = False, eps: float = 1e-6, reduction: str = "mean"
) -> Tensor:
    """Negative log-likelihood of ``target`` under a Gaussian of mean ``input`` and variance ``var``:
    0.5 (log var + (input - target)² / var) (+ 0.5 log 2 pi with ``full``). As PyTorch's, ``var``
    is clamped at ``eps`` for the value while its gradient passes unchanged; it has the input's
    shape, or one dim fewer (one variance per row), or a size 1 in one dim (shared along it), or
    is a float.

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn.functional as F
        >>> F.gaussian_nll_loss(cr.tensor([0.0, 1.0]), cr.tensor([1.0, 1.0]), cr.tensor([1.0, 1.0]))
        tensor(0.25)
    """
    check_reduction(reduction, "gaussian_nll_loss")
    input = lift(input)
    target = _as_target(target, input)
    if isinstance(var, numbers.Real) and not isinstance(var, bool):
        if var < 0:
            raise ValueError("gaussian_nll_loss: var has negative entries (variances must be >= 0)")
        var = ops.broadcast_to(lift(float(var), input), input.shape)
    var = _as_target(var, input)
    _check_variances(var)
    if var.shape != input.shape:
        if input.shape[:-1] == var.shape:  # one variance per row, shared by its last dim
            var = ops.unsqueeze(var, -1)
        elif not (input.ndim == var.ndim and builtins.sum(b for a, b in zip(input.shape, var.shape) if a != b) == 1):
            raise ValueError(
                f"gaussian_nll_loss: var is of incorrect size {var.shape} for an input of shape {input.shape}: give "
                "the input's shape, its shape without the last dim, or a size 1 in one dim"
            )
    # the value clamped at eps, its gradient unchanged (PyTorch clamps a clone under no_grad)
    var = var + pure(_clamp_gap, var, eps=float(eps))
    loss = (ops.log(var) + (input - target) ** 2 / var) * 0.5
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction, "gaussian_nll_loss")


def _clamp_gap(var: np.ndarray, eps: float) -> np.ndarray:
    """What clamping at ``eps`` adds to ``var`` (0 where var >= eps)."""
    return np.maximum(var, np.asarray(eps, var.dtype)) - var


def poisson_nll_loss(
    input: Tensor,
    target: Any,
    log_input: bool = True,
    full: bool = False,
    reduction: str = "mean",
    eps: float = 1e-8,
    *,
    size_average: bool | None = None,
    reduce: bool | None = None,
) -> Tensor:
    """Negative log-likelihood of counts ``target`` under a Poisson of rate e^input (``log_input``)
    or ``input``: exp(x) - y x, or x - y log(x + eps); ``full`` adds Stirling's approximation
    y log y - y + 0.5 log(2 pi y) of log(y!) where y > 1.

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn.functional as F
        >>> F.poisson_nll_loss(cr.tensor([0.0, 1.0]), cr.tensor([1.0, 2.0]), reduction='none')
        tensor([1.    , 0.7183])
    """
    reduction = check_reduction(
        legacy_reduction(size_average, reduce, reduction, "poisson_nll_loss"), "poisson_nll_loss"
    )
    input = lift(input)
    target = _as_target(target, input)
    _broadcastable("poisson_nll_loss", input=input, target=target)
    if log_input:
        loss = ops.exp(input) - target * input
    else:
        loss = input - target * ops.log(input + eps)
    if full:
        small = ops.le(target, 1.0)
        y = ops.where(small, 2.0, target)  # (any y > 1: the masked entries must not take a log of 0)
        stirling = y * ops.log(y) - y + ops.log(y * (2 * math.pi)) * 0.5
        loss = loss + ops.where(small, 0.0, stirling)
    return _reduce(loss, reduction, "poisson_nll_loss")


def triplet_margin_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    margin: float = 1.0,
    p: float = 2,
    eps: float = 1e-6,
    swap: bool = False,
    reduction: str = "mean",
    *,
    size_average: bool | None = None,
    reduce: bool | None = None,
) -> Tensor:
    """max(0, d(a, p) - d(a, n) + margin) with ``pairwise_distance`` d (``p``, ``eps``); ``swap``
    takes d(p, n) instead of d(a, n) where it is smaller (Balntas et al.'s distance swap).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn.functional as F
        >>> a, p, n = cr.tensor([[0.0, 0.0]]), cr.tensor([[3.0, 4.0]]), cr.tensor([[0.0, 1.0]])
        >>> F.triplet_margin_loss(a, p, n, eps=0.0)   # 5 - 1 + 1
        tensor(5.)
    """
    reduction = check_reduction(
        legacy_reduction(size_average, reduce, reduction, "triplet_margin_loss"), "triplet_margin_loss"
    )
    anchor = lift(anchor)
    positive, negative = _as_target(positive, anchor), _as_target(negative, anchor)
    _same_ndim("triplet_margin_loss", anchor=anchor, positive=positive, negative=negative)
    if anchor.ndim not in (1, 2):
        raise ValueError(f"triplet_margin_loss: expects (N, D) or (D,) inputs, got {anchor.ndim}-d ones")
    if not isinstance(margin, numbers.Real) or not margin > 0:
        raise ValueError(f"triplet_margin_loss: margin must be greater than 0, got {margin!r}")
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = ops.minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    loss = ops.clip(d_pos - d_neg + margin, min=0.0)
    if anchor.ndim == 1:
        loss = ops.reshape(loss, ())
    return _reduce(loss, reduction, "triplet_margin_loss")
