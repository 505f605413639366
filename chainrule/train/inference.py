"""Inference: ``evaluate``, ``predict`` and ``predict_proba``, the batched forward they share, and
the preparation of inputs that ``fit`` uses too.

The batched forward runs the model in eval mode under ``no_grad`` over a ``DataLoader`` and
restores the model's mode afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from chainrule.autograd import no_grad
from chainrule.data.loader import DataLoader
from chainrule.nn.module import Module
from chainrule.ops import sigmoid, softmax
from chainrule.tensor import Tensor
from chainrule.train.metrics import get_metric

Loss = Callable[[Tensor, Any], Tensor]


def _array(x: Any) -> np.ndarray:
    return np.asarray(x.data if isinstance(x, Tensor) else x)


def _param_dtype(model: Module) -> np.dtype:
    for p in model.parameters():
        return p.dtype
    return np.dtype(np.float32)


def _prepare(x: Any, dtype: np.dtype, owner: str = "fit", what: str = "X") -> np.ndarray:
    """Floating inputs take the model's dtype once, up front (not per batch), and must be finite."""
    a = _array(x)
    if a.dtype.kind != "f":
        if a.dtype.kind not in "biu":
            raise TypeError(f"{owner}: {what} must hold numbers, got dtype {a.dtype}")
        return a
    with np.errstate(over="ignore"):  # a value too large for the model's dtype is reported below
        cast = a.astype(dtype, copy=False)
    _check_finite(cast, a, owner, what)
    return cast


MAX_LISTED = 5
"""How many rows (and columns) an error about non-finite values names."""


def _check_finite(cast: np.ndarray, original: np.ndarray, owner: str, what: str) -> None:
    """Refuse NaN and inf (and values too large for the model's dtype), naming the first rows and
    columns that hold them: a network trained or evaluated on them gives NaN without a word."""
    finite = np.isfinite(cast)
    if finite.all():
        return
    bad = np.argwhere(~finite)
    count = len(bad)
    rows = np.unique(bad[:, 0]) if cast.ndim else np.array([], dtype=int)
    where = f"in rows {_listed(rows)}" if cast.ndim else "in the value"
    if cast.ndim == 2:
        where += f", columns {_listed(np.unique(bad[:, 1]))}"
    overflow = np.isfinite(original[tuple(bad[0])]) if original.dtype != cast.dtype else False
    kind = f"values too large for the model's {cast.dtype}" if overflow else "non-finite values (NaN or inf)"
    raise ValueError(
        f"{owner}: {what} has {count} {kind} {where} (counting from 0); remove or impute them "
        "(e.g. sklearn.impute.SimpleImputer), or rescale the data, first"
    )


def _listed(indices: np.ndarray) -> str:
    shown = ", ".join(str(int(i)) for i in indices[:MAX_LISTED])
    return f"[{shown}{', ...' if len(indices) > MAX_LISTED else ''}]"


def _prepare_batch(batch: tuple, dtype: np.dtype) -> tuple:
    """A DataLoader's batch with floating arrays in the model's dtype (a no-op for fit's own loaders)."""
    # runs every step: integer targets and inputs already in the model's dtype pass untouched
    for a in batch:
        if isinstance(a, np.ndarray) and a.dtype.kind == "f" and a.dtype != dtype:
            break
    else:
        return batch
    return tuple(
        a.astype(dtype) if isinstance(a, np.ndarray) and a.dtype.kind == "f" and a.dtype != dtype else a for a in batch
    )


def _check_lengths(X: np.ndarray, y: np.ndarray, owner: str) -> None:
    if len(X) != len(y):
        raise ValueError(f"{owner}: X has {len(X)} samples but y has {len(y)}")


def _loader(
    X: Any, y: Any, batch_size: int | None, shuffle: bool, seed: Any, dtype: np.dtype, owner: str
) -> DataLoader:
    if isinstance(X, DataLoader):
        if y is not None:
            raise ValueError(f"{owner}: y must be None when X is a DataLoader (it yields the targets)")
        return X
    X = _prepare(X, dtype, owner, "X")
    if y is None:
        return DataLoader((X,), batch_size=batch_size, shuffle=shuffle, seed=seed)
    y = _prepare(y, dtype, owner, "y")
    _check_lengths(X, y, owner)
    return DataLoader((X, y), batch_size=batch_size, shuffle=shuffle, seed=seed)


def _metric_logs(
    metrics: list[tuple[str, Callable]], y_true: np.ndarray, outputs: np.ndarray, prefix: str = ""
) -> dict[str, float]:
    return {prefix + name: float(fn(y_true, outputs)) for name, fn in metrics}


def _check_model(model: Any, owner: str) -> None:
    if not isinstance(model, Module):
        raise TypeError(f"{owner}: model must be a chainrule.nn.Module, got {type(model).__name__}")


def _batched_outputs(model: Module, loader: DataLoader) -> tuple[np.ndarray, list[np.ndarray]]:
    was_training = model.training
    model.eval()
    dtype = _param_dtype(model)
    outputs, rest = [], []
    try:
        with no_grad():
            for batch in loader:
                batch = _prepare_batch(batch, dtype)
                outputs.append(model(Tensor._make(batch[0])).data)
                rest.append(batch[1:])
    finally:
        model.train(was_training)
    if not outputs:
        raise ValueError("predict: no samples given")
    return np.concatenate(outputs), rest


def evaluate(
    model: Module,
    loss_fn: Loss,
    X: Any,
    y: Any = None,
    *,
    metrics: Sequence[str | Callable] | None = None,
    batch_size: int | None = 256,
) -> dict[str, float]:
    """The loss (averaged over samples) and metrics of ``model`` on labelled data, in eval mode.

    Example:
        >>> import numpy as np, chainrule as cr
        >>> from chainrule.train import evaluate
        >>> model = cr.nn.Linear(3, 1)
        >>> logs = evaluate(model, cr.nn.MSELoss(), np.zeros((4, 3)), np.zeros((4, 1)), metrics=["mae"])
        >>> sorted(logs)
        ['loss', 'mae']
    """
    _check_model(model, "evaluate")
    loader = _loader(X, y, batch_size, False, None, _param_dtype(model), "evaluate")
    outputs, rest = _batched_outputs(model, loader)
    if not rest or len(rest[0]) < 1:
        raise ValueError("evaluate: needs targets (y, or a loader that yields them)")
    y_true = np.concatenate([r[0] for r in rest])
    with no_grad():
        loss = loss_fn(Tensor._make(outputs), y_true)
    logs = {"loss": float(loss.data)}
    logs.update(_metric_logs([get_metric(m) for m in (metrics or [])], y_true, outputs))
    return logs


def predict(model: Module, X: Any, *, batch_size: int | None = 256) -> np.ndarray:
    """The model's outputs for X as an array (eval mode, no graph).

    Example:
        >>> import numpy as np, chainrule as cr
        >>> from chainrule.train import predict
        >>> predict(cr.nn.Linear(3, 2), np.zeros((5, 3))).shape
        (5, 2)
    """
    _check_model(model, "predict")
    if isinstance(X, DataLoader):
        loader = X
    else:
        loader = DataLoader((_prepare(X, _param_dtype(model), "predict"),), batch_size=batch_size)
    outputs, _ = _batched_outputs(model, loader)
    return outputs


def predict_proba(model: Module, X: Any, *, batch_size: int | None = 256, from_logits: bool = True) -> np.ndarray:
    """Class probabilities: softmax of the outputs (sigmoid for a single output column, giving
    columns [1 - p, p]). Use ``from_logits=False`` when the model already ends in Softmax/Sigmoid.

    Example:
        >>> import numpy as np
        >>> import chainrule as cr
        >>> from chainrule.train import predict_proba
        >>> p = predict_proba(cr.nn.Linear(4, 3), np.zeros((2, 4)))
        >>> p.shape, p.sum(axis=1).round(6).tolist()
        ((2, 3), [1.0, 1.0])
    """
    outputs = predict(model, X, batch_size=batch_size)
    if outputs.ndim == 1:
        outputs = outputs[:, None]
    if outputs.shape[1] == 1:
        p = sigmoid(Tensor._make(outputs)).data if from_logits else outputs
        return np.concatenate([1.0 - p, p], axis=1)
    return softmax(Tensor._make(outputs), axis=1).data if from_logits else outputs
