"""Inference: ``evaluate``, ``predict`` and ``predict_proba``, the batched forward they share, and
the preparation of inputs that ``fit`` uses too.

The batched forward runs the model in eval mode under ``no_grad`` over a ``DataLoader`` and
restores the model's mode afterwards.

What the data must be, for ``fit``, ``evaluate`` and ``predict`` alike (``_prepare``): an array with
one row per sample of real numbers (bool, int or float: not complex, objects, text or dates), with
no NaN or inf, and no value beyond the square root of the model's dtype's largest number (1.8e19 in
float32, 1.3e154 in float64), whose square would overflow. Anything else is refused up front, naming
the rows and columns, before anything changes. ``predict`` refuses to answer NaN or inf, naming the
model's non-finite parameters if it has some. ``evaluate`` reports its loss as computed: ``fit``
calls it on the validation data after each epoch, where an error would end the training.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from chainrule.autograd import no_grad
from chainrule.compiler import CompiledFunction
from chainrule.data.loader import DataLoader, _array_batches
from chainrule.nn.module import Module
from chainrule.ops import sigmoid, softmax
from chainrule.tensor import Tensor
from chainrule.train.metrics import get_metric

Loss = Callable[[Tensor, Any], Tensor]


def _array(x: Any, owner: str | None = None, what: str | None = None) -> np.ndarray:
    """``x`` as an array (a Tensor's data); a ragged list is a TypeError naming it (``owner``:
    ``what``), not NumPy's "inhomogeneous shape" error."""
    if isinstance(x, Tensor):
        return np.asarray(x._data)
    try:
        return np.asarray(x)
    except ValueError as error:  # "setting an array element with a sequence. ... inhomogeneous shape ..."
        named = f"{owner}: {what}" if owner else "the data"
        if "inhomogeneous" not in str(error):
            raise TypeError(f"{named} cannot be made into an array of numbers: {error}") from None
        raise TypeError(
            f"{named} is a ragged {type(x).__name__}: its rows have different lengths, so it is not an array of "
            "numbers; give every sample the same number of values"
        ) from None


def _param_dtype(model: Module) -> np.dtype:
    for p in model.parameters():
        return p.dtype
    return np.dtype(np.float32)


_NOT_REAL = {
    "c": "complex numbers: chainrule computes with real numbers; give the real and imaginary parts as "
    "separate features",
    "O": "Python objects: convert them first, e.g. np.asarray(X, dtype=float)",
    "U": "text: parse it into numbers first, e.g. X.astype(float), or encode categories (one-hot)",
    "S": "bytes: parse them into numbers first, e.g. X.astype(float)",
    "M": "dates: turn them into numbers first, e.g. days since a reference date",
    "m": "time spans: turn them into numbers first, e.g. X / np.timedelta64(1, 's')",
    "V": "raw records: give an array of numbers",
}
"""What an array of each non-numeric dtype kind holds, and what to do about it."""


def _prepare(x: Any, dtype: np.dtype, owner: str = "fit", what: str = "X") -> np.ndarray:
    """Inputs or targets checked and ready: an array with one row per sample, of real numbers;
    floating values take the model's dtype once, up front (not per batch), and must be finite and
    small enough to compute with (``_check_finite``). Integers and booleans pass as they are (class
    indices, token ids)."""
    a = _array(x, owner, what)
    if a.dtype.kind not in "biuf":
        hint = _NOT_REAL.get(a.dtype.kind, "no numbers")
        raise TypeError(f"{owner}: {what} must hold real numbers (bool, int or float), got dtype {a.dtype}: {hint}")
    if a.ndim == 0:
        raise ValueError(
            f"{owner}: {what} must be an array with one row per sample, got a single value ({a.item()!r}); "
            f"for one sample give [{what}]"
        )
    if a.dtype.kind != "f":
        return a
    with np.errstate(over="ignore"):  # a value too large for the model's dtype is reported below
        cast = a.astype(dtype, copy=False)
    _check_finite(cast, a, owner, what)
    return cast


MAX_LISTED = 5
"""How many rows (and columns) an error about non-finite values names."""


def _largest(dtype: np.dtype) -> float:
    """The largest magnitude a value of ``dtype`` may have for training on it: the square root of
    the dtype's largest number (1.8e19 in float32, 1.3e154 in float64), beyond which its square
    (in a squared error, a variance, Adam's second moment) overflows to inf. float16 takes float32's
    bound: its own (256) would refuse ordinary data, such as pixel values, kept in float16 to be
    cast per batch (a value beyond float16's range is still refused, as inf once cast)."""
    return float(np.sqrt(np.finfo(np.promote_types(dtype, np.float32)).max))


def _check_finite(cast: np.ndarray, original: np.ndarray, owner: str, what: str) -> None:
    """Refuse NaN and inf, and values too large for the model's dtype (infinite once cast to it, or
    beyond ``_largest``: their squares overflow), naming the first rows and columns that hold them:
    a network trained or evaluated on them gives NaN or inf without a word."""
    if cast.size == 0:
        return
    limit = _largest(cast.dtype)
    low, high = float(cast.min()), float(cast.max())  # NaN propagates; fast, no array as large as the data
    if -limit <= low and high <= limit:
        return
    with np.errstate(invalid="ignore"):
        usable = np.abs(cast) <= limit  # False at NaN
    given = np.isfinite(original) if original is not cast else np.isfinite(cast)
    parts = []
    not_finite = ~given & ~usable
    too_large = given & ~usable
    if not_finite.any():
        parts.append(f"{int(not_finite.sum())} non-finite values (NaN or inf) {_where(not_finite)}")
    if too_large.any():
        parts.append(f"{int(too_large.sum())} values too large for the model's {cast.dtype} {_where(too_large)}")
    advice = []
    if not_finite.any():
        advice.append("remove or impute the non-finite values (e.g. sklearn.impute.SimpleImputer)")
    if too_large.any():
        advice.append(
            f"rescale the data (e.g. sklearn.preprocessing.StandardScaler): beyond +-{limit:.2g} a value's square "
            f"overflows {cast.dtype}"
        )
    raise ValueError(f"{owner}: {what} has {' and '.join(parts)} (counting from 0); {'; '.join(advice)}")


def _where(mask: np.ndarray) -> str:
    """Where ``mask`` is true, in words: 'in rows [3, 7], columns [0]'."""
    if mask.ndim == 0:
        return "in the value"
    bad = np.argwhere(mask)
    where = f"in rows {_listed(np.unique(bad[:, 0]))}"
    if mask.ndim == 2:
        where += f", columns {_listed(np.unique(bad[:, 1]))}"
    return where


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
    _check_samples(X, owner)
    if y is None:
        return DataLoader((X,), batch_size=batch_size, shuffle=shuffle, seed=seed)
    y = _prepare(y, dtype, owner, "y")
    _check_lengths(X, y, owner)
    return DataLoader((X, y), batch_size=batch_size, shuffle=shuffle, seed=seed)


def _check_samples(X: np.ndarray, owner: str) -> None:
    """Refuse X with no rows, up front (for fit's validation data: before any training)."""
    if len(X) == 0:
        training = "training " if owner == "fit" else ""
        raise ValueError(f"{owner}: there are no {training}samples (X has 0 rows, shape {X.shape})")


def _metric_logs(
    metrics: list[tuple[str, Callable]], y_true: np.ndarray, outputs: np.ndarray, prefix: str = ""
) -> dict[str, float]:
    return {prefix + name: float(fn(y_true, outputs)) for name, fn in metrics}


def _check_model(model: Any, owner: str) -> None:
    if not isinstance(model, Module):
        raise TypeError(f"{owner}: model must be a chainrule.nn.Module, got {type(model).__name__}")


def _batched_outputs(
    model: Module, loader: DataLoader, owner: str, compile: bool = True
) -> tuple[np.ndarray, list[np.ndarray]]:
    if not isinstance(compile, (bool, np.bool_)):
        raise ValueError(f"{owner}: compile must be True or False, got {compile!r}")
    was_training = model.training
    model.eval()
    dtype = _param_dtype(model)
    outputs, rest = [], []
    forward = _compiled_forward(model) if compile else lambda x: model(Tensor._make(x))
    try:
        with no_grad():
            for batch in _array_batches(loader):  # arrays: no Tensor per batch
                batch = _prepare_batch(batch, dtype)
                out = forward(batch[0])._data
                _check_output_rows(out, batch[0], owner)
                outputs.append(out)
                rest.append(batch[1:])
    finally:
        model.train(was_training)
    if not outputs:
        raise ValueError(f"{owner}: there are no samples (the loader yields no batches)")
    return np.concatenate(outputs), rest


_FORWARDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> its compiled forward


def _compiled_forward(model: Module) -> CompiledFunction:
    """``model``'s forward on an array, compiled (``cr.compile``) once per model and kept while the
    model lives: predict and evaluate replay it (in eval mode, under no_grad)."""
    forward = _FORWARDS.get(model)
    if forward is None:
        ref = weakref.ref(model)  # the cache must not keep the model alive

        def forward_pass(x: np.ndarray) -> Tensor:
            return ref()(Tensor._make(x))

        forward = _FORWARDS[model] = CompiledFunction(
            forward_pass,
            name="the compiled forward of predict/evaluate",
            hint="compile=False runs it eagerly, silently",
        )
    return forward


def _check_output_rows(out: np.ndarray, inputs: Any, owner: str) -> None:
    """The model must give one row of output per sample of the batch."""
    n = len(inputs)
    if out.ndim and out.shape[0] == n:
        return
    hint = ""
    if np.ndim(inputs) == 1:
        hint = (
            f"; X of shape ({n},) is read as {n} samples of one value each: for one sample of {n} features "
            "give X.reshape(1, -1)"
        )
    raise ValueError(
        f"{owner}: the model gave an output of shape {out.shape} for a batch of {n} samples of shape "
        f"{np.shape(inputs)}: it must give one row per sample{hint}"
    )


def _non_finite_parameters(model: Module) -> list[str]:
    """The names of ``model``'s floating parameters that hold NaN or inf."""
    return [
        name for name, p in model.named_parameters() if p._data.dtype.kind == "f" and not np.isfinite(p._data).all()
    ]


def _check_finite_outputs(model: Module, outputs: np.ndarray, owner: str) -> None:
    """Refuse to hand back NaN or inf outputs, saying whence they come (the model's parameters, or
    an overflow inside it): a prediction of NaN is no prediction."""
    if outputs.dtype.kind != "f" or np.isfinite(outputs).all():
        return
    bad = ~np.isfinite(outputs)
    broken = _non_finite_parameters(model)
    if broken:
        listed = ", ".join(broken[:MAX_LISTED]) + (", ..." if len(broken) > MAX_LISTED else "")
        cause = f"the model's parameters {listed} hold NaN or inf (did its training diverge?)"
    else:
        cause = "the values overflow inside the model: rescale X (e.g. sklearn.preprocessing.StandardScaler)"
    raise ValueError(
        f"{owner}: the model's outputs hold {int(bad.sum())} non-finite values (NaN or inf) {_where(bad)} "
        f"(counting from 0): {cause}"
    )


def evaluate(
    model: Module,
    loss_fn: Loss,
    X: Any,
    y: Any = None,
    *,
    metrics: Sequence[str | Callable] | None = None,
    batch_size: int | None = 256,
    compile: bool = True,
) -> dict[str, float]:
    """The loss (averaged over samples) and metrics of ``model`` on labelled data, in eval mode.

    ``compile``: run the forward pass compiled (``cr.compile``; the same outputs, without the
    per-op cost); False runs it eagerly.

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
    return _evaluate(model, loss_fn, loader, metrics, compile)


def _evaluate(
    model: Module,
    loss_fn: Loss,
    loader: DataLoader,
    metrics: Sequence[str | Callable] | None,
    compile: bool,
    gather: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None,
) -> dict[str, float]:
    """``evaluate`` on a loader; ``gather`` (``fit`` on several processes, each with its part of
    the loader) turns this process's outputs and targets into every process's."""
    outputs, rest = _batched_outputs(model, loader, "evaluate", compile)
    if not rest or len(rest[0]) < 1:
        raise ValueError("evaluate: needs targets (y, or a loader that yields them)")
    y_true = np.concatenate([r[0] for r in rest])
    if gather is not None:
        outputs, y_true = gather(outputs, y_true)
    with no_grad():
        loss = loss_fn(Tensor._make(outputs), y_true)
    logs = {"loss": float(loss._data)}
    logs.update(_metric_logs([get_metric(m) for m in (metrics or [])], y_true, outputs))
    return logs


def predict(model: Module, X: Any, *, batch_size: int | None = 256, compile: bool = True) -> np.ndarray:
    """The model's outputs for X as an array (eval mode, no graph); ``compile``: the forward pass
    compiled, as in ``evaluate``.

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
        X = _prepare(X, _param_dtype(model), "predict")
        _check_samples(X, "predict")
        loader = DataLoader((X,), batch_size=batch_size)
    outputs, _ = _batched_outputs(model, loader, "predict", compile)
    _check_finite_outputs(model, outputs, "predict")
    return outputs


def predict_proba(
    model: Module, X: Any, *, batch_size: int | None = 256, from_logits: bool = True, compile: bool = True
) -> np.ndarray:
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
    outputs = predict(model, X, batch_size=batch_size, compile=compile)
    if outputs.ndim == 1:
        outputs = outputs[:, None]
    if outputs.shape[1] == 1:
        p = sigmoid(Tensor._make(outputs))._data if from_logits else outputs
        return np.concatenate([1.0 - p, p], axis=1)
    return softmax(Tensor._make(outputs), axis=1)._data if from_logits else outputs
