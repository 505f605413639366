"""Helpers over a model's parameters, under PyTorch's names (``torch.nn.utils``).

- ``parameters_to_vector(parameters)``: all parameters as one flat vector (differentiable);
- ``vector_to_parameters(vec, parameters)``: write a flat vector back into the parameters, in place;
- ``clip_grad_norm_`` and ``clip_grad_value_``: the gradient clipping of ``chainrule.optim``,
  reachable here too, as PyTorch code finds them (the same functions, not copies).

Example:
    >>> import chainrule as cr
    >>> model = cr.nn.Linear(3, 2)
    >>> vec = cr.nn.utils.parameters_to_vector(model.parameters())
    >>> vec.shape                      # 2 * 3 weights and 2 biases
    (8,)
    >>> cr.nn.utils.vector_to_parameters(vec * 0.0, model.parameters())
    >>> float(abs(model.weight.numpy()).sum())
    0.0
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from chainrule import ops
from chainrule.autograd import mark_modified
from chainrule.tensor import Tensor

__all__ = [  # noqa: F822  (the clip_grad_* functions come from chainrule.optim, through __getattr__)
    "parameters_to_vector",
    "vector_to_parameters",
    "clip_grad_norm_",
    "clip_grad_value_",
]

_FROM_OPTIM = ("clip_grad_norm_", "clip_grad_value_")


def _parameter_list(parameters: Any, owner: str) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        return [parameters]
    if isinstance(parameters, np.ndarray) or not isinstance(parameters, Iterable):
        raise TypeError(
            f"{owner}: parameters must be a Tensor or an iterable of Tensors (e.g. model.parameters()), "
            f"got {type(parameters).__name__}"
        )
    params = list(parameters)
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            hint = "; pass model.parameters(), not model.named_parameters()" if isinstance(p, tuple) else ""
            raise TypeError(f"{owner}: parameter {i} is a {type(p).__name__}, not a Tensor{hint}")
    if not params:
        raise ValueError(f"{owner}: got no parameters")
    return params


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters, flattened and joined into one vector, in order (PyTorch's name).

    The result is made by operations, so gradients flow back to the parameters through it.

    Args:
        parameters: a Tensor or an iterable of Tensors, e.g. ``model.parameters()``.

    Example:
        >>> import chainrule as cr
        >>> a, b = cr.nn.Parameter([[1.0, 2.0], [3.0, 4.0]]), cr.nn.Parameter([5.0])
        >>> cr.nn.utils.parameters_to_vector([a, b])
        tensor([1., 2., 3., 4., 5.], grad_fn=...)
    """
    params = _parameter_list(parameters, "parameters_to_vector")
    return ops.concatenate([ops.reshape(p, (-1,)) for p in params], axis=0)


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of the flat vector ``vec`` into the parameters, in place, in order.

    The inverse of ``parameters_to_vector``. Each parameter keeps its array, shape and dtype (the
    values are cast to it); nothing is recorded for autograd, and a graph built from the
    parameters before the write can no longer be differentiated (it used the old values).
    Unlike PyTorch, the parameters do not become views of ``vec``: changing ``vec`` afterwards
    changes nothing.

    Args:
        vec: a 1-D Tensor (or array) with exactly as many entries as the parameters hold.
        parameters: a Tensor or an iterable of Tensors, e.g. ``model.parameters()``.

    Raises:
        ValueError: when ``vec`` is not 1-D or its length differs from the parameters' total
            size (checked before anything is written).

    Example:
        >>> import chainrule as cr
        >>> a, b = cr.nn.Parameter([[0.0, 0.0]]), cr.nn.Parameter([0.0])
        >>> cr.nn.utils.vector_to_parameters(cr.tensor([1.0, 2.0, 3.0]), [a, b])
        >>> a, b
        (Parameter([[1., 2.]], requires_grad=True), Parameter([3.], requires_grad=True))
        >>> try:
        ...     cr.nn.utils.vector_to_parameters(cr.tensor([1.0, 2.0]), [a, b])
        ... except ValueError as error:
        ...     print(error)
        vector_to_parameters: the vector has 2 entries, the parameters 3 (shapes (1, 2), (1,))
    """
    owner = "vector_to_parameters"
    params = _parameter_list(parameters, owner)
    if isinstance(vec, Tensor):
        values = vec._data
    elif isinstance(vec, (np.ndarray, list, tuple)):
        values = np.asarray(vec)
    else:
        raise TypeError(f"{owner}: expected a Tensor, got {type(vec).__name__}")
    if values.ndim != 1:
        raise ValueError(f"{owner}: expected a 1-D vector, got shape {values.shape}")
    if values.dtype.kind not in "iuf":
        raise TypeError(f"{owner}: expected a vector of numbers, got dtype {values.dtype}")
    total = sum(p._data.size for p in params)
    if values.size != total:
        shapes = ", ".join(str(p._data.shape) for p in params)
        raise ValueError(f"{owner}: the vector has {values.size} entries, the parameters {total} (shapes {shapes})")
    offset = 0
    for p in params:
        n = p._data.size
        p._data[...] = values[offset : offset + n].reshape(p._data.shape)
        offset += n
    mark_modified(params, owner)


def __getattr__(name: str) -> Any:
    """``clip_grad_norm_`` and ``clip_grad_value_``, from ``chainrule.optim.clip`` on first use
    (nn comes before optim in the package's layers, so it imports optim only when asked)."""
    if name in _FROM_OPTIM:
        from chainrule.optim import clip

        return getattr(clip, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_FROM_OPTIM))
