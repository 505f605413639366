"""What every chainrule estimator shares: parameter checks, input validation, the training loop.

An estimator here is a chainrule network (``network_``, an ``nn.Sequential``) trained by gradient
descent on a loss through chainrule's autodiff and optimisers, behind scikit-learn's estimator
contract: ``__init__`` stores its arguments, ``fit`` checks them, validates the data with
scikit-learn's own utilities, builds the network, trains it and returns ``self``.

The training loop follows scikit-learn's stochastic MLP solver, so that settings carry over:

- ``solver`` picks the optimiser and the batch: 'gd' (full batch), 'sgd' (one sample a step),
  'minibatch' (``batch_size`` samples a step), 'momentum' (mini-batches, SGD with momentum
  ``momentum``, Nesterov's if ``nesterovs_momentum``) and 'adam' (mini-batches, Adam with
  ``beta_1``, ``beta_2``, ``epsilon``). ``batch_size='auto'`` is ``min(200, n_samples)``.
- After each epoch the loss (including the L2 term) joins ``loss_curve_``. Training stops when it
  has not gone down by at least ``tol`` for more than ``n_iter_no_change`` epochs in a row; with
  ``early_stopping`` a ``validation_fraction`` of the data is held out and its score (accuracy or
  R²) must go up by ``tol`` instead, and the best weights are restored at the end.
- ``learning_rate`` schedules the step size: 'constant'; 'invscaling', after each epoch
  ``learning_rate_init / (t_ + 1) ** power_t`` with ``t_`` the samples seen; 'adaptive', divide
  it by 5 each time the stopping rule fires, and stop once it is at or below 1e-6. (scikit-learn's
  MLP applies schedules to its 'sgd' solver only; here every solver follows them.)
- The L2 term ``alpha * 0.5 * ||W||²`` (weights, not biases) is added to each batch's loss; the
  MLPs divide it by the batch's total sample weight, as scikit-learn's MLP does.

Sample weights (and class weights, which multiply them) are relative: they are divided by their
mean, so each batch's loss is ``mean_i(w_i * loss_i)`` and a full batch's is
``sum_i(w_i * loss_i) / sum_i(w_i)``.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import r2_score
    from sklearn.utils import check_random_state
    from sklearn.utils.class_weight import compute_class_weight
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_array, check_is_fitted, validate_data
except ImportError as error:  # pragma: no cover - exercised only without the optional extra
    raise ImportError(
        "chainrule.estimators needs scikit-learn, an optional extra of chainrule: "
        'pip install "chainrule[sklearn]" (or pip install scikit-learn)'
    ) from error

from chainrule import nn, ops
from chainrule.autograd import no_grad
from chainrule.data import train_test_split
from chainrule.nn import functional as F
from chainrule.optim import SGD, Adam
from chainrule.tensor import Tensor

__all__ = ["InvalidParameterError", "GradientDescentEstimator", "ClassifierBase", "LogLossClassifier", "RegressorBase"]

SOLVERS = ("gd", "sgd", "minibatch", "momentum", "adam")
LEARNING_RATES = ("constant", "invscaling", "adaptive")
AUTO_BATCH = 200
"""``batch_size='auto'`` means ``min(AUTO_BATCH, n_samples)``, as in scikit-learn's MLP."""
ADAPTIVE_DIVISOR = 5.0
"""'adaptive' divides the learning rate by this when the loss stops improving (scikit-learn's value)."""
ADAPTIVE_MIN_LR = 1e-6
"""'adaptive' stops training once the learning rate is at or below this (scikit-learn's value)."""
LOOKAHEAD = 256
"""One-sample SGD on a loss with zero-gradient regions scores this many samples ahead at once to
find the next one that needs a step (see ``GradientDescentEstimator._sgd_epoch_on_mistakes``)."""


class InvalidParameterError(ValueError, TypeError):
    """A constructor argument of the wrong type or value, reported by ``fit`` (like scikit-learn's,
    it is both a ValueError and a TypeError)."""


# --------------------------------------------------------------------------- parameter constraints


class Constraint:
    """One acceptable kind of value for a constructor argument."""

    def accepts(self, value: Any) -> bool:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


class Interval(Constraint):
    """A number of a kind (int or float; an int is a float too) between ``low`` and ``high``.

    ``closed`` is 'both', 'left', 'right' or 'neither'; a missing bound is infinite.
    """

    def __init__(self, kind: type, low: float | None = None, high: float | None = None, closed: str = "both"):
        self.kind, self.low, self.high, self.closed = kind, low, high, closed

    def accepts(self, value: Any) -> bool:
        if isinstance(value, (bool, np.bool_)):
            return False
        if not isinstance(value, numbers.Integral if self.kind is int else numbers.Real):
            return False
        if isinstance(value, numbers.Real) and math.isnan(value):
            return False
        if self.low is not None:
            if value < self.low or (value == self.low and self.closed in ("right", "neither")):
                return False
        if self.high is not None:
            if value > self.high or (value == self.high and self.closed in ("left", "neither")):
                return False
        return True

    def describe(self) -> str:
        kind = "an int" if self.kind is int else "a float"
        low_in = self.closed in ("both", "left")
        high_in = self.closed in ("both", "right")
        if self.low is not None and self.high is not None:
            return f"{kind} in {'[' if low_in else '('}{self.low}, {self.high}{']' if high_in else ')'}"
        if self.low is not None:
            return f"{kind} {'>=' if low_in else '>'} {self.low}"
        if self.high is not None:
            return f"{kind} {'<=' if high_in else '<'} {self.high}"
        return kind


class Options(Constraint):
    """One of a few strings."""

    def __init__(self, *options: str):
        self.options = options

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str) and value in self.options

    def describe(self) -> str:
        if len(self.options) == 1:
            return repr(self.options[0])
        return "one of " + ", ".join(repr(o) for o in self.options)


class Exactly(Constraint):
    """A single value (None, for instance)."""

    def __init__(self, value: Any):
        self.value = value

    def accepts(self, value: Any) -> bool:
        return value is self.value

    def describe(self) -> str:
        return repr(self.value)


class OfType(Constraint):
    """An instance of some types (``bool`` accepts NumPy's bool too)."""

    def __init__(self, *types: type, name: str):
        self.types = tuple(types) + ((np.bool_,) if bool in types else ())
        self.name = name

    def accepts(self, value: Any) -> bool:
        return isinstance(value, self.types)

    def describe(self) -> str:
        return self.name


class Satisfies(Constraint):
    """Any value a predicate accepts."""

    def __init__(self, predicate: Callable[[Any], bool], name: str):
        self.predicate, self.name = predicate, name

    def accepts(self, value: Any) -> bool:
        try:
            return bool(self.predicate(value))
        except (TypeError, ValueError):
            return False

    def describe(self) -> str:
        return self.name


BOOLEAN = OfType(bool, name="True or False")
NONE = Exactly(None)


def _is_random_state(value: Any) -> bool:
    if isinstance(value, np.random.RandomState):
        return True
    return Interval(int, 0, 2**32 - 1).accepts(value)


RANDOM_STATE = (NONE, Satisfies(_is_random_state, "an int in [0, 2**32 - 1] or a numpy RandomState"))

COMMON_CONSTRAINTS: dict[str, tuple[Constraint, ...]] = {
    "solver": (Options(*SOLVERS),),
    "learning_rate_init": (Interval(float, 0, None, closed="neither"),),
    "learning_rate": (Options(*LEARNING_RATES),),
    "power_t": (Interval(float, 0, None),),
    "alpha": (Interval(float, 0, None),),
    "max_iter": (Interval(int, 1, None),),
    "tol": (Interval(float, 0, None), NONE),
    "n_iter_no_change": (Interval(int, 1, None),),
    "early_stopping": (BOOLEAN,),
    "validation_fraction": (Interval(float, 0, 1, closed="neither"),),
    "shuffle": (BOOLEAN,),
    "random_state": RANDOM_STATE,
    "warm_start": (BOOLEAN,),
    "verbose": (BOOLEAN, Interval(int, 0, None)),
    "batch_size": (Options("auto"), Interval(int, 1, None)),
    "momentum": (Interval(float, 0, 1),),
    "nesterovs_momentum": (BOOLEAN,),
    "beta_1": (Interval(float, 0, 1, closed="left"),),
    "beta_2": (Interval(float, 0, 1, closed="left"),),
    "epsilon": (Interval(float, 0, None, closed="neither"),),
}
"""The constraints of the parameters every estimator here has."""


def _is_class_weight_dict(value: Any) -> bool:
    return isinstance(value, dict) and all(Interval(float, 0, None).accepts(w) for w in value.values())


CLASS_WEIGHT = (NONE, Options("balanced"), Satisfies(_is_class_weight_dict, "a dict {class: weight >= 0}"))


# --------------------------------------------------------------------------- progress


class _Progress:
    """What ``verbose`` shows: a tqdm bar over the epochs (a line per epoch without tqdm)."""

    def __init__(self, owner: str, verbose: int | bool, total: int):
        self.owner, self.verbose = owner, bool(verbose)
        self.bar = None
        if self.verbose and total > 1:
            try:
                from tqdm.auto import tqdm
            except ImportError:  # the 'progress' extra is optional: fall back to lines
                tqdm = None
            if tqdm is not None:
                self.bar = tqdm(total=total, desc=owner, unit="epoch", leave=True, dynamic_ncols=True, file=sys.stderr)

    def epoch(self, n_iter: int, loss: float, score: float | None) -> None:
        if not self.verbose:
            return
        if self.bar is not None:
            postfix = {"loss": f"{loss:.6g}"}
            if score is not None:
                postfix["val_score"] = f"{score:.4f}"
            self.bar.set_postfix(postfix, refresh=False)
            self.bar.update(1)
            return
        line = f"{self.owner}: iteration {n_iter}, loss = {loss:.8f}"
        print(line if score is None else f"{line}, validation score = {score:.6f}", file=sys.stderr)

    def message(self, text: str) -> None:
        if not self.verbose:
            return
        if self.bar is not None:
            self.bar.write(f"{self.owner}: {text}", file=sys.stderr)
        else:
            print(f"{self.owner}: {text}", file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# --------------------------------------------------------------------------- helpers


def linear_layers(network: nn.Module) -> list[nn.Linear]:
    """The Linear layers of a network, input to output."""
    return [m for m in network.modules() if isinstance(m, nn.Linear)]


def logits(network: nn.Sequential, x: Tensor) -> Tensor:
    """The network's output before its last layer, the output activation: the scores (logits) on
    which the losses are computed, stably (e.g. log-loss on logits rather than on probabilities)."""
    layers = list(network)
    for layer in layers[:-1]:
        x = layer(x)
    return x


def sample_weights(sample_weight: Any, n_samples: int, dtype: np.dtype, owner: str) -> np.ndarray | None:
    """``sample_weight`` checked and as an array in ``dtype`` (None stays None): a number, or one
    non-negative finite weight per sample, not all zero."""
    if sample_weight is None:
        return None
    if isinstance(sample_weight, numbers.Number):
        weights = np.full(n_samples, sample_weight, dtype=dtype)
    else:
        weights = check_array(sample_weight, ensure_2d=False, dtype=dtype, order="C", input_name="sample_weight")
        if weights.ndim != 1 or weights.shape[0] != n_samples:
            raise ValueError(
                f"{owner}: sample_weight.shape == {weights.shape}, expected ({n_samples},): one weight per sample"
            )
    if not np.all(np.isfinite(weights)):
        raise ValueError(f"{owner}: sample_weight must be finite")
    if np.any(weights < 0):
        raise ValueError(f"{owner}: Negative values in data passed to `sample_weight`")
    if n_samples and not np.any(weights > 0):
        raise ValueError(f"{owner}: Sample weights must contain at least one non-zero number.")
    return weights


@contextlib.contextmanager
def _restored_on_error(estimator: Any, names: tuple[str, ...]) -> Iterator[None]:
    """Put back these attributes of ``estimator`` (or their absence) if the block raises."""
    saved = {name: estimator.__dict__[name] for name in names if name in estimator.__dict__}
    try:
        yield
    except BaseException:
        for name in names:
            estimator.__dict__.pop(name, None)
        estimator.__dict__.update(saved)
        raise


# --------------------------------------------------------------------------- the estimator base


class Targets(NamedTuple):
    """y prepared for training, and what fit learns from it (set once every check has passed)."""

    values: np.ndarray
    """The targets in the form the loss takes."""
    labels: np.ndarray
    """What the early-stopping score compares predictions with (class indices, or the targets)."""
    weights: np.ndarray | None
    """Sample weights times class weights (None: all equal)."""
    n_outputs: int
    """Neurons in the output layer."""
    attributes: dict[str, Any]
    """Attributes to set on the estimator (``classes_``, ...)."""


class GradientDescentEstimator(BaseEstimator):
    """Base of the estimators: a chainrule network trained by gradient descent (see the module doc).

    Subclasses declare ``_constraints`` (parameter name -> acceptable kinds) and define:

    - ``_encode_targets(y, weights, fresh, incremental, classes)``: ``Targets``, checked, changing
      nothing on the estimator;
    - ``_build_network(n_features, n_outputs, dtype, rng)``: the ``nn.Sequential`` to train,
      ending in its output activation;
    - ``_sample_losses(scores, targets)``: the loss of each sample, shape (batch,), from the
      network's scores (the output before the last activation);
    - ``_score_arrays(X, y, weights)``: the early-stopping score (accuracy, R²);
    - ``_penalty(batch_weight)``: the coefficient of ``F.l2_penalty`` (0.5 * sum of squared
      weights, biases excluded) added to each batch's loss.
    """

    _constraints: dict[str, tuple[Constraint, ...]] = COMMON_CONSTRAINTS
    _is_regressor = False

    def __sklearn_is_fitted__(self) -> bool:
        """Fitted once ``fit`` (or ``partial_fit``) has built the network."""
        return hasattr(self, "network_")

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> None:
        """Check every constructor argument against ``_constraints``; nothing is changed on error."""
        name = type(self).__name__
        for param, constraints in self._constraints.items():
            value = getattr(self, param)
            if not any(c.accepts(value) for c in constraints):
                expected = " or ".join(c.describe() for c in constraints)
                raise InvalidParameterError(f"{name}: the {param!r} parameter must be {expected}; got {value!r}")

    def _validate_X(self, X: Any) -> np.ndarray:
        """X for predicting: checked as at fit, in the network's dtype."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return X.astype(self._dtype, copy=False)

    @property
    def _dtype(self) -> np.dtype:
        """The dtype of the network's parameters (that of X at the first fit: float64 or float32)."""
        return next(self.network_.parameters()).dtype

    def _forward(self, X: np.ndarray, scores: bool = False) -> np.ndarray:
        """The network's output (or scores) for validated X, without a graph."""
        with no_grad():
            x = Tensor(X)
            out = logits(self.network_, x) if scores else self.network_(x)
        return out.data

    # ------------------------------------------------------------------ fitting
    def _batch_size(self, n_samples: int) -> int:
        if self.solver == "gd":
            return n_samples
        if self.solver == "sgd":
            return 1
        if self.batch_size == "auto":
            return min(AUTO_BATCH, n_samples)
        if self.batch_size > n_samples:
            warnings.warn(
                f"{type(self).__name__}: batch_size={self.batch_size} is larger than the {n_samples} training "
                "samples; using full batches",
                UserWarning,
                stacklevel=3,
            )
            return n_samples
        return int(self.batch_size)

    def _make_optimizer(self) -> Any:
        params = list(self.network_.parameters())
        lr = float(self.learning_rate_init)
        if self.solver == "adam":
            return Adam(params, lr=lr, betas=(float(self.beta_1), float(self.beta_2)), eps=float(self.epsilon))
        if self.solver == "momentum":
            return SGD(
                params,
                lr=lr,
                momentum=float(self.momentum),
                nesterov=bool(self.nesterovs_momentum) and self.momentum > 0,
            )
        return SGD(params, lr=lr)

    def _objective(
        self,
        network: nn.Sequential,
        X: np.ndarray,
        targets: np.ndarray,
        weights: np.ndarray | None = None,
        batch_weight: float | None = None,
        penalised: list[Tensor] | None = None,
    ) -> Tensor:
        """The loss of one batch: mean of (weighted) sample losses plus the L2 term, a scalar Tensor.

        ``weights`` are relative (mean 1 over the training set); ``batch_weight`` is the batch's
        total raw weight (its size when unweighted), which scikit-learn's MLP scales alpha by;
        ``penalised`` are the weights under the L2 term (default: every Linear layer's weight).
        """
        per_sample = self._sample_losses(logits(network, Tensor(X)), targets)
        if weights is None:
            loss = per_sample.mean()
        else:
            loss = (per_sample * Tensor(weights)).mean()
        coefficient = self._penalty(float(len(X) if batch_weight is None else batch_weight))
        if coefficient:
            if penalised is None:
                penalised = [layer.weight for layer in linear_layers(network)]
            loss = loss + F.l2_penalty(penalised) * coefficient
        return loss

    def _fit(
        self, X: Any, y: Any, sample_weight: Any = None, *, incremental: bool = False, classes: Any = None
    ) -> GradientDescentEstimator:
        """fit (``incremental=False``) and partial_fit (one epoch, ``incremental=True``).

        Parameters, data, labels and weights are all checked, and the validation samples held out,
        before anything on the estimator changes; ``validate_data`` then records
        ``n_features_in_`` (and ``feature_names_in_``) as scikit-learn does.
        """
        self._check_params()
        owner = type(self).__name__
        fresh = not ((incremental or self.warm_start) and hasattr(self, "network_"))
        with _restored_on_error(self, ("n_features_in_", "feature_names_in_")):  # what validate_data records
            X, y = validate_data(
                self,
                X,
                y,
                reset=fresh,
                dtype=[np.float64, np.float32],
                multi_output=self._is_regressor,
                y_numeric=self._is_regressor,
            )
            dtype = X.dtype if fresh else self._dtype
            X = X.astype(dtype, copy=False)
            weights = sample_weights(sample_weight, X.shape[0], dtype, owner)
            encoded = self._encode_targets(y, weights, fresh=fresh, incremental=incremental, classes=classes)
            targets, labels, weights = encoded.values, encoded.labels, encoded.weights
            if targets.dtype.kind == "f":
                targets = targets.astype(dtype, copy=False)
            if weights is not None:
                weights = weights.astype(dtype, copy=False)
            rng = check_random_state(self.random_state) if fresh else self._random_state
            validation = None
            if self.early_stopping and not incremental:
                X, targets, labels, weights, validation = self._split_validation(X, targets, labels, weights, rng)

        # Every check has passed: from here on the estimator learns.
        for name, value in encoded.attributes.items():
            setattr(self, name, value)
        if fresh:
            self._random_state = rng
            self.network_ = self._build_network(X.shape[1], encoded.n_outputs, dtype, rng)
            self.t_ = 0
            self.loss_curve_ = []
            self._optimizer = None
        if fresh or not incremental:  # a new run of epochs (warm start: from the current weights)
            self._reset_stopping(early_stopping=validation is not None)
        elif self.best_loss_ is None:  # partial_fit after fit(early_stopping=True): watch the loss
            self.best_loss_ = np.inf
        if not incremental or self._optimizer is None:
            self._optimizer = self._make_optimizer()
        self.n_iter_ = 0  # epochs of this call (t_ and loss_curve_ go on across warm starts)
        self._train(
            X, targets, weights, validation, max_epochs=1 if incremental else self.max_iter, incremental=incremental
        )
        if not all(np.all(np.isfinite(p.data)) for p in self.network_.parameters()):
            raise ValueError(self._diverged("the solver produced non-finite parameter weights"))
        self.network_.eval()
        return self

    def _diverged(self, what: str) -> str:
        return (
            f"{type(self).__name__}: {what}. The input data may contain large values and need to be "
            f"preprocessed (e.g. with StandardScaler), or learning_rate_init={self.learning_rate_init} is "
            "too large for it."
        )

    def _reset_stopping(self, early_stopping: bool) -> None:
        """Start counting epochs without improvement: of the validation score with early stopping
        (``fit`` only; ``partial_fit`` holds nothing out), else of the training loss."""
        self._no_improvement_count = 0
        self._best_state = None
        if early_stopping:
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
            self.best_loss_ = np.inf

    def _split_validation(self, X, targets, labels, weights, rng):
        """Hold out ``validation_fraction`` of the samples (stratified for classifiers)."""
        arrays = [X, targets, labels] + ([weights] if weights is not None else [])
        try:
            parts = train_test_split(
                *arrays,
                test_size=self.validation_fraction,
                random_state=rng,
                stratify=None if self._is_regressor else labels,
            )
        except ValueError as error:
            raise ValueError(
                f"{type(self).__name__}: early_stopping could not hold out validation_fraction="
                f"{self.validation_fraction} of {len(X)} samples: {error}"
            ) from None
        train, held_out = parts[0::2], parts[1::2]
        if weights is None:
            train.append(None)
            held_out.append(None)
        X_val, _, y_val, w_val = held_out
        if w_val is not None and w_val.sum() == 0:
            w_val = None
        return train[0], train[1], train[2], train[3], (X_val, y_val, w_val)

    def _train(
        self,
        X: np.ndarray,
        targets: np.ndarray,
        weights: np.ndarray | None,
        validation: tuple | None,
        max_epochs: int,
        incremental: bool,
    ) -> None:
        """Run epochs of the solver until the stopping rule fires or ``max_epochs`` have run."""
        owner = type(self).__name__
        n = X.shape[0]
        batch = self._batch_size(n)
        scale = 1.0
        if weights is not None:
            scale = float(weights.mean())
            weights = weights / scale  # relative weights, mean 1
        network = self.network_
        penalised = [layer.weight for layer in linear_layers(network)]
        network.train()
        first_epoch = len(self.loss_curve_)
        progress = _Progress(owner, self.verbose, max_epochs)
        exhausted = False  # max_epochs ran out before the stopping rule fired
        try:
            for _ in range(max_epochs):
                Xe, Te, We = X, targets, weights
                if self.shuffle and batch < n:
                    order = self._random_state.permutation(n)
                    Xe, Te = X[order], targets[order]
                    We = None if weights is None else weights[order]
                if batch == 1 and self._skips_zero_gradients():
                    total = self._sgd_epoch_on_mistakes(network, Xe, Te, We, scale)
                else:
                    total = self._epoch(network, Xe, Te, We, batch, scale, penalised)
                epoch_loss = total / n
                self.n_iter_ += 1
                self.t_ += n
                self.loss_curve_.append(epoch_loss)
                if not math.isfinite(epoch_loss):
                    raise ValueError(self._diverged(f"the loss became {epoch_loss} at epoch {self.n_iter_}"))
                score = self._update_stopping(epoch_loss, validation)
                progress.epoch(self.n_iter_, epoch_loss, score)
                if self.learning_rate == "invscaling":
                    self._set_lr(self.learning_rate_init / (self.t_ + 1) ** self.power_t)
                if self._no_improvement_count > self.n_iter_no_change:
                    if self._trigger_stopping(progress, validation is not None):
                        break
                    self._no_improvement_count = 0
                if incremental:
                    break
            else:
                exhausted = not incremental
        finally:
            progress.close()
        if exhausted:
            warnings.warn(
                f"{owner}: maximum iterations ({max_epochs}) reached and the optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=3,
            )
        run = self.loss_curve_[first_epoch:]
        if not incremental and len(run) > 1 and math.isfinite(run[-1]) and run[-1] > run[0]:
            warnings.warn(
                f"{owner}: the loss went up during training, from {run[0]:.4g} (epoch 1) to {run[-1]:.4g} "
                f"(epoch {len(run)}): learning_rate_init={self.learning_rate_init} is too large for this data. "
                "Standardise X (e.g. StandardScaler) or lower learning_rate_init.",
                ConvergenceWarning,
                stacklevel=3,
            )
        if validation is not None and self._best_state is not None:
            self.network_.load_state_dict(self._best_state)

    def _step(
        self,
        network: nn.Sequential,
        X: np.ndarray,
        targets: np.ndarray,
        weights: np.ndarray | None,
        batch_weight: float,
        penalised: list[Tensor] | None,
    ) -> float:
        """One step of the optimiser on one batch: forward, loss, backward, update; returns the loss."""
        loss = self._objective(network, X, targets, weights, batch_weight, penalised)
        self._optimizer.zero_grad()
        loss.backward()
        self._optimizer.step()
        return float(loss.data)

    def _epoch(
        self,
        network: nn.Sequential,
        X: np.ndarray,
        targets: np.ndarray,
        weights: np.ndarray | None,
        batch: int,
        scale: float,
        penalised: list[Tensor],
    ) -> float:
        """One pass over the (shuffled) samples in batches; returns the summed loss (loss x batch size)."""
        total, n = 0.0, X.shape[0]
        for start in range(0, n, batch):
            stop = min(start + batch, n)
            wb = None if weights is None else weights[start:stop]
            batch_weight = stop - start if wb is None else float(wb.sum()) * scale
            if batch_weight == 0:
                continue  # only zero-weight samples: nothing to learn from them
            loss = self._step(network, X[start:stop], targets[start:stop], wb, batch_weight, penalised)
            total += loss * (stop - start)
        return total

    def _skips_zero_gradients(self) -> bool:
        """Whether one-sample SGD may skip the samples whose gradient is exactly zero: only for a
        loss that says which (``_zero_gradient``), with plain SGD and no L2 term, where such a step
        changes nothing."""
        return self._has_zero_gradient_rule and self.solver == "sgd" and self.alpha == 0

    _has_zero_gradient_rule = False
    """Whether ``_zero_gradient`` is defined (losses with flat regions: perceptron criterion, hinge)."""

    def _zero_gradient(self, scores: np.ndarray, targets: np.ndarray) -> np.ndarray:  # pragma: no cover
        """Per sample, True where the loss has zero gradient at these scores."""
        raise NotImplementedError

    def _sgd_epoch_on_mistakes(
        self, network: nn.Sequential, X: np.ndarray, targets: np.ndarray, weights: np.ndarray | None, scale: float
    ) -> float:
        """One epoch of one-sample SGD that steps only where the gradient is not zero.

        Between two updates the weights do not change, so one vectorised forward pass scores the
        next ``LOOKAHEAD`` samples at once and finds the first with a non-zero gradient (for the
        perceptron, the next mistake); the samples before it would each have been a step of size
        zero. The weights after the epoch are those of stepping through every sample in turn, as
        Rosenblatt's algorithm updates only on mistakes.
        """
        n, total, i = X.shape[0], 0.0, 0
        while i < n:
            window = slice(i, min(i + LOOKAHEAD, n))
            with no_grad():
                scores = logits(network, Tensor(X[window])).data
            active = ~self._zero_gradient(scores, targets[window])
            if weights is not None:
                active &= weights[window] > 0
            hits = np.flatnonzero(active)
            if hits.size == 0:
                i = window.stop
                continue
            j = i + int(hits[0])
            wb = None if weights is None else weights[j : j + 1]
            batch_weight = 1.0 if wb is None else float(wb[0]) * scale
            total += self._step(network, X[j : j + 1], targets[j : j + 1], wb, batch_weight, None)
            i = j + 1
        return total

    def _update_stopping(self, epoch_loss: float, validation: tuple | None) -> float | None:
        """Count epochs without improvement (of the loss, or the validation score); keep the best."""
        tol = -np.inf if self.tol is None else self.tol
        if validation is None:
            if epoch_loss > self.best_loss_ - tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            self.best_loss_ = min(self.best_loss_, epoch_loss)
            return None
        X_val, y_val, w_val = validation
        score = float(self._score_arrays(X_val, y_val, w_val))
        self.validation_scores_.append(score)
        if score < self.best_validation_score_ + tol:
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        if score > self.best_validation_score_:
            self.best_validation_score_ = score
            self._best_state = self.network_.state_dict()
        return score

    def _trigger_stopping(self, progress: _Progress, early_stopping: bool) -> bool:
        """The stopping rule fired: stop, or (adaptive) divide the learning rate and go on."""
        what = "Validation score" if early_stopping else "Training loss"
        message = f"{what} did not improve more than tol={self.tol} for {self.n_iter_no_change} consecutive epochs."
        if self.learning_rate != "adaptive":
            progress.message(message + " Stopping.")
            return True
        lr = self._optimizer.param_groups[0]["lr"]
        if lr <= ADAPTIVE_MIN_LR:
            progress.message(message + " Learning rate too small. Stopping.")
            return True
        self._set_lr(lr / ADAPTIVE_DIVISOR)
        progress.message(message + f" Setting learning rate to {lr / ADAPTIVE_DIVISOR:g}.")
        return False

    def _set_lr(self, lr: float) -> None:
        for group in self._optimizer.param_groups:
            group["lr"] = float(lr)

    # ------------------------------------------------------------------ hooks
    def _encode_targets(self, y, weights, *, fresh, incremental, classes) -> Targets:  # pragma: no cover
        raise NotImplementedError

    def _build_network(self, n_features, n_outputs, dtype, rng):  # pragma: no cover - abstract
        raise NotImplementedError

    def _sample_losses(self, scores: Tensor, targets: np.ndarray) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _score_arrays(self, X, y, weights):  # pragma: no cover - abstract
        raise NotImplementedError

    def _penalty(self, batch_weight: float) -> float:
        """Linear models: ``alpha`` (the batch loss gets alpha * 0.5 * ||W||², as scikit-learn's SGD
        estimators). The MLPs override this with scikit-learn's MLP convention."""
        return float(self.alpha)


class ClassifierBase(ClassifierMixin, GradientDescentEstimator):
    """Classifiers: labels encoded as ``classes_`` indices; targets in the form the loss wants.

    ``_target_kind`` says which: 'signs' gives a ±1 matrix with one column per neuron (one
    neuron for two classes, one per class, one-vs-rest, otherwise); 'logistic' gives a 0/1 column
    for two classes and class indices for more (for softmax cross-entropy).
    """

    _target_kind = "logistic"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        tags.classifier_tags.multi_label = False
        return tags

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> ClassifierBase:
        """Train the network on (X, y) from a fresh start (with ``warm_start``, from the last fit).

        Args:
            X: array-like of shape (n_samples, n_features).
            y: array-like of shape (n_samples,), the class labels.
            sample_weight: array-like of shape (n_samples,), relative weights; default None (equal).

        Returns:
            self, fitted.
        """
        return self._fit(X, y, sample_weight)

    def partial_fit(self, X: Any, y: Any, classes: Any = None, sample_weight: Any = None) -> ClassifierBase:
        """One epoch of the solver on (X, y), continuing from the current weights.

        Args:
            X: array-like of shape (n_samples, n_features).
            y: array-like of shape (n_samples,).
            classes: every class that y may ever hold; required on the first call.
            sample_weight: array-like of shape (n_samples,); default None.

        Returns:
            self.
        """
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def _encode_targets(self, y, weights, *, fresh, incremental, classes) -> Targets:
        owner = type(self).__name__
        check_classification_targets(y)
        seen = np.unique(y)
        if fresh:
            if incremental and classes is None:
                raise ValueError(f"{owner}: classes must be passed on the first call to partial_fit")
            known = np.unique(np.asarray(classes)) if incremental else seen
            if len(known) < 2:
                where = "classes" if incremental else "the data"
                raise ValueError(
                    f"{owner}: needs samples of at least 2 classes in the data, but {where} contains only one "
                    f"class: {known.tolist()[0]!r}"
                )
        else:
            known = self.classes_
            if incremental and classes is not None and not np.array_equal(np.unique(np.asarray(classes)), known):
                raise ValueError(
                    f"{owner}: classes={np.unique(np.asarray(classes)).tolist()} is not the same as on the first "
                    f"call to partial_fit, {known.tolist()}"
                )
            if not incremental and not np.array_equal(seen, known):
                raise ValueError(
                    f"{owner}: warm_start can only be used where y has the same classes as in the previous call "
                    f"to fit; previously got {known.tolist()}, y has {seen.tolist()}"
                )
        unknown = np.setdiff1d(seen, known)
        if unknown.size:
            raise ValueError(f"{owner}: y has labels {unknown.tolist()} not in classes_ {known.tolist()}")
        indices = np.searchsorted(known, y)
        class_weight = getattr(self, "class_weight", None)
        if class_weight is not None:
            if incremental and class_weight == "balanced":
                raise ValueError(
                    f"{owner}: class_weight='balanced' cannot be used with partial_fit: one batch's class "
                    "frequencies are not the data's. Compute the weights once, e.g. "
                    "sklearn.utils.class_weight.compute_class_weight('balanced', classes=classes, y=y_all), "
                    "and pass them as class_weight={class: weight}"
                )
            try:
                per_sample = compute_class_weight(class_weight, classes=known, y=y)[indices]
            except ValueError as error:
                raise ValueError(
                    f"{owner}: class_weight={class_weight!r} does not fit the classes {known.tolist()}: {error}"
                ) from None
            weights = per_sample if weights is None else weights * per_sample
            if not np.any(weights > 0):
                raise ValueError(f"{owner}: the class and sample weights are zero for every sample")
        n_outputs = 1 if len(known) == 2 else len(known)  # one neuron for two classes, one per class for more
        return Targets(self._targets(indices, n_outputs), indices, weights, n_outputs, {"classes_": known})

    def _targets(self, indices: np.ndarray, n_outputs: int) -> np.ndarray:
        """Class indices in the form the loss takes (see ``_target_kind``)."""
        n = len(indices)
        if self._target_kind == "signs":
            signs = -np.ones((n, n_outputs))
            if n_outputs == 1:
                signs[indices == 1, 0] = 1.0
            else:
                signs[np.arange(n), indices] = 1.0
            return signs
        if n_outputs == 1:
            return (indices == 1).astype(np.float64)[:, None]
        return indices.astype(np.int64)

    def _indices_from_scores(self, scores: np.ndarray) -> np.ndarray:
        if scores.shape[1] == 1:
            return (scores[:, 0] > 0).astype(np.intp)
        return scores.argmax(axis=1)

    def _score_arrays(self, X, y, weights):
        """Accuracy (weighted) of the class indices ``y``: the early-stopping score."""
        correct = self._indices_from_scores(self._forward(X, scores=True)) == y
        return float(np.average(correct, weights=weights))

    def predict(self, X: Any) -> np.ndarray:
        """The class of each sample: the neuron that scores highest (one neuron: above 0).

        Args:
            X: array-like of shape (n_samples, n_features).

        Returns:
            ndarray of shape (n_samples,) with labels from ``classes_``.
        """
        scores = self._forward(self._validate_X(X), scores=True)
        return self.classes_[self._indices_from_scores(scores)]


class LogLossClassifier(ClassifierBase):
    """Classifiers whose output layer is a sigmoid (two classes) or a softmax, trained on the
    log-loss: LogisticRegression and MLPClassifier. They have probabilities; the Perceptron and
    LinearSVC do not."""

    def _sample_losses(self, scores: Tensor, targets: np.ndarray) -> Tensor:
        """Log-loss from the scores: binary cross-entropy on one logit, softmax cross-entropy on more."""
        if scores.shape[1] == 1:
            return F.binary_cross_entropy_with_logits(scores, targets, reduction="none").sum(axis=1)
        return F.cross_entropy(scores, targets, reduction="none")

    def predict_proba(self, X: Any) -> np.ndarray:
        """The network's output (sigmoid or softmax): the probability of each class.

        Args:
            X: array-like of shape (n_samples, n_features).

        Returns:
            ndarray of shape (n_samples, n_classes), columns in the order of ``classes_``.
        """
        p = self._forward(self._validate_X(X))
        if p.shape[1] == 1:
            return np.hstack([1.0 - p, p])
        return p

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """log of ``predict_proba``, from the scores (no log(0) where a probability rounds to 0).

        Args:
            X: array-like of shape (n_samples, n_features).

        Returns:
            ndarray of shape (n_samples, n_classes).
        """
        s = Tensor(self._forward(self._validate_X(X), scores=True))
        if s.shape[1] == 1:  # log(1 - sigmoid(s)) = -softplus(s), log(sigmoid(s)) = -softplus(-s)
            return np.hstack([-ops.softplus(s).data, -ops.softplus(-s).data])
        return ops.log_softmax(s, axis=1).data


class RegressorBase(RegressorMixin, GradientDescentEstimator):
    """Regressors: y of shape (n_samples,) or (n_samples, n_targets), one output neuron per target;
    ``predict`` answers in the shape y had."""

    _is_regressor = True

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> RegressorBase:
        """Train the network on (X, y) from a fresh start (with ``warm_start``, from the last fit).

        Args:
            X: array-like of shape (n_samples, n_features).
            y: array-like of shape (n_samples,) or (n_samples, n_targets).
            sample_weight: array-like of shape (n_samples,), relative weights; default None (equal).

        Returns:
            self, fitted.
        """
        return self._fit(X, y, sample_weight)

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> RegressorBase:
        """One epoch of the solver on (X, y), continuing from the current weights.

        Args:
            X: array-like of shape (n_samples, n_features).
            y: array-like of shape (n_samples,) or (n_samples, n_targets), as on the first call.
            sample_weight: array-like of shape (n_samples,); default None.

        Returns:
            self.
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def _encode_targets(self, y, weights, *, fresh, incremental, classes) -> Targets:
        owner = type(self).__name__
        targets = y.reshape(-1, 1) if y.ndim == 1 else y
        if not fresh:
            n_outputs = linear_layers(self.network_)[-1].out_features
            if targets.shape[1] != n_outputs:
                raise ValueError(f"{owner}: y has {targets.shape[1]} targets, but the fitted network has {n_outputs}")
        return Targets(targets, targets, weights, targets.shape[1], {"_y_1d": y.ndim == 1})

    def _score_arrays(self, X, y, weights):
        """R² (weighted, averaged over targets): the early-stopping score."""
        return float(r2_score(y, self._forward(X), sample_weight=weights))

    def predict(self, X: Any) -> np.ndarray:
        """The network's output for each sample.

        Args:
            X: array-like of shape (n_samples, n_features).

        Returns:
            ndarray of shape (n_samples,) when fitted on a 1-D y, else (n_samples, n_targets).
        """
        out = self._forward(self._validate_X(X))
        return out[:, 0] if self._y_1d else out


def as_list(value: int | Iterable[int]) -> list[int]:
    """``hidden_layer_sizes`` as a list of ints."""
    if isinstance(value, numbers.Integral):
        return [int(value)]
    return [int(v) for v in value]
