"""What every chainrule estimator shares: input validation, targets, the network's hooks.

An estimator here is a chainrule network (``network_``, an ``nn.Sequential``) trained on a loss
through chainrule's autodiff, behind scikit-learn's estimator contract: ``__init__`` stores its
arguments, ``fit`` checks them (``constraints``), validates the data with scikit-learn's own
utilities, builds the network, trains it (``solver``) and returns ``self``.

``solver`` means what it means in scikit-learn:

- 'lbfgs': scipy's L-BFGS-B on the full-batch loss, its gradient by chainrule's autodiff (the
  default of LogisticRegression and LinearSVC, and of scikit-learn's LogisticRegression). Up to
  ``max_iter`` iterations; it stops when no gradient component exceeds ``tol``. As in
  scikit-learn, it has no ``partial_fit`` and ignores ``early_stopping`` and the step-size settings.
- 'sgd': mini-batch SGD, ``batch_size`` samples a step ('auto': ``min(200, n_samples)``), with
  ``momentum`` (Nesterov's if ``nesterovs_momentum``), as scikit-learn's MLP.
- 'adam': mini-batch Adam with ``beta_1``, ``beta_2``, ``epsilon`` (scikit-learn's form of the
  update; the default of the MLPs).
- 'gd': full-batch gradient descent, the textbook's rule (not a scikit-learn name).

The three classic ways of stepping are settings of 'sgd': full-batch gradient descent is
``solver='gd'`` (or ``batch_size=n_samples, momentum=0``), one-sample SGD ``batch_size=1,
momentum=0`` (the Perceptron's defaults: Rosenblatt's rule), mini-batch ``batch_size=k``.

The stochastic solvers and 'gd' follow scikit-learn's stochastic MLP solver, so that settings
carry over (``max_iter`` counts epochs):

- After each epoch the loss (including the penalty) joins ``loss_curve_``. Training stops when it
  has not gone down by at least ``tol`` for more than ``n_iter_no_change`` epochs in a row (the
  Perceptron: for ``n_iter_no_change`` epochs, as scikit-learn's SGD estimators); with
  ``early_stopping`` a ``validation_fraction`` of the data is held out and its score (accuracy or
  R²) must go up by ``tol`` instead, and the best weights are restored at the end.
- ``learning_rate`` schedules the step size (``learning_rate_init``; the Perceptron's ``eta0``):
  'constant'; 'invscaling', after each epoch ``learning_rate_init / (t_ + 1) ** power_t`` with
  ``t_`` the samples seen; 'adaptive', divide it by 5 each time the stopping rule fires, and stop
  once it is at or below 1e-6. (scikit-learn's MLP applies schedules to its 'sgd' solver only;
  here every stochastic solver follows them.)
- The penalty is added to each batch's mean loss: ``alpha * 0.5 * ||W||²`` (weights, not biases;
  the MLPs divide it by the batch's total sample weight, as scikit-learn's MLP does), or for the
  estimators with ``C`` the objective scikit-learn minimises, ``C * sum(loss) + 0.5 * ||W||²``,
  divided by the training set's total sample weight: ``mean(loss) + 0.5 * ||W||² / (C * n)``.

Sample weights (and class weights, which multiply them) weigh each sample's loss: a batch's loss
is ``sum_i(w_i * loss_i) / sum_i(w_i)``; with ``C`` the weights' sum also divides the penalty, so
that doubling every weight is doubling ``C``, as in scikit-learn.
"""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.metrics import r2_score
    from sklearn.model_selection import train_test_split
    from sklearn.utils import check_random_state
    from sklearn.utils.class_weight import compute_class_weight
    from sklearn.utils.metaestimators import available_if
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_array, check_is_fitted, validate_data
except ImportError as error:  # pragma: no cover - exercised only without the optional extra
    raise ImportError(
        "chainrule.estimators needs scikit-learn, an optional extra of chainrule: "
        'pip install "chainrule[sklearn]" (or pip install scikit-learn)'
    ) from error

from chainrule import ops
from chainrule.autograd import no_grad
from chainrule.estimators import solver
from chainrule.estimators.constraints import COMMON_CONSTRAINTS, Constraint, check_params
from chainrule.estimators.solver import Penalty, linear_layers
from chainrule.nn import functional as F
from chainrule.tensor import Tensor
from chainrule.train.inference import _check_finite

__all__ = ["GradientDescentEstimator", "ClassifierBase", "LogLossClassifier", "RegressorBase"]


# --------------------------------------------------------------------------- helpers


def logits(network: Any, x: Tensor) -> Tensor:
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


def _has_partial_fit(estimator: Any) -> bool:
    """``partial_fit`` exists for the solvers that step on batches, not for 'lbfgs' (as in
    scikit-learn's MLP); ``hasattr(estimator, 'partial_fit')`` says which."""
    if estimator.solver == "lbfgs":
        raise AttributeError(
            f"{type(estimator).__name__}: partial_fit is only available for the solvers that step on batches "
            "('sgd', 'adam', 'gd'); solver='lbfgs' fits the whole problem at once"
        )
    return True


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
    - ``_regularization(batch_weight, total_weight)``: the ``Penalty`` added to a batch's loss.
    """

    _constraints: dict[str, tuple[Constraint, ...]] = COMMON_CONSTRAINTS
    _is_regressor = False

    def __sklearn_is_fitted__(self) -> bool:
        """Fitted once ``fit`` (or ``partial_fit``) has built the network."""
        return hasattr(self, "network_")

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> None:
        """Check every constructor argument against ``_constraints``; nothing is changed on error."""
        check_params(self, self._constraints)

    def _validate_X(self, X: Any) -> np.ndarray:
        """X for predicting: checked as at fit, in the network's dtype."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        X = X.astype(self._dtype, copy=False)
        _check_finite(X, X, type(self).__name__, "X")  # as at fit: a huge value predicts inf
        return X

    @property
    def _dtype(self) -> np.dtype:
        """The dtype of the network's parameters (that of X at the first fit: float64 or float32)."""
        return next(self.network_.parameters()).dtype

    def _forward(self, X: np.ndarray, scores: bool = False) -> np.ndarray:
        """The network's output (or scores) for validated X, without a graph."""
        with no_grad():
            x = Tensor(X)
            out = logits(self.network_, x) if scores else self.network_(x)
        return out._data

    # ------------------------------------------------------------------ fitting
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
            _check_finite(X, X, owner, "X")  # values whose squares overflow train into NaN
            weights = sample_weights(sample_weight, X.shape[0], dtype, owner)
            encoded = self._encode_targets(y, weights, fresh=fresh, incremental=incremental, classes=classes)
            targets, labels, weights = encoded.values, encoded.labels, encoded.weights
            if targets.dtype.kind == "f":
                targets = targets.astype(dtype, copy=False)
                _check_finite(targets, targets, owner, "y")
            if weights is not None:
                weights = weights.astype(dtype, copy=False)
            rng = check_random_state(self.random_state) if fresh else self._random_state
            # the initial weights, then the validation split, from one stream (scikit-learn's order)
            network = self._build_network(X.shape[1], encoded.n_outputs, dtype, rng) if fresh else None
            validation = None
            if self.early_stopping and not incremental and self.solver != "lbfgs":
                X, targets, labels, weights, validation = self._split_validation(X, targets, labels, weights, rng)

        # Every check has passed: from here on the estimator learns.
        for name, value in encoded.attributes.items():
            setattr(self, name, value)
        if fresh:
            self._random_state = rng
            self.network_ = network
            self.t_ = 0
            self.loss_curve_ = []
            self._optimizer = None
        if self.solver == "lbfgs":
            solver.fit_lbfgs(self, X, targets, weights)
            self.best_loss_, self.validation_scores_, self.best_validation_score_ = None, None, None
        else:
            new_run = fresh or not incremental
            solver.train(self, X, targets, weights, validation, incremental=incremental, new_run=new_run)
        if not all(np.all(np.isfinite(p._data)) for p in self.network_.parameters()):
            raise ValueError(self._diverged("the solver produced non-finite parameter weights"))
        self.network_.eval()
        return self

    def _diverged(self, what: str) -> str:
        return (
            f"{type(self).__name__}: {what}. The input data may contain large values and need to be "
            f"preprocessed (e.g. with StandardScaler), or {self._step_size_name}={self._step_size} is "
            "too large for it."
        )

    _step_size_name = "learning_rate_init"
    """The parameter that holds the stochastic solvers' step size (the Perceptron's is ``eta0``)."""

    @property
    def _step_size(self) -> float:
        """The stochastic solvers' (initial) step size."""
        return getattr(self, self._step_size_name)

    _sgd_stopping_rule = False
    """Stop after ``n_iter_no_change`` epochs without improvement (scikit-learn's SGD estimators)
    rather than after more than ``n_iter_no_change`` (its MLP)."""

    def _lbfgs_options(self) -> dict[str, Any]:
        """scipy's L-BFGS-B options besides ``maxiter`` and ``gtol``: scikit-learn's
        LogisticRegression's (``maxls`` 50, ``ftol`` 64 machine epsilons); the MLPs override it."""
        return {"maxls": 50, "ftol": 64 * np.finfo(float).eps}

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

    def _skips_zero_gradients(self) -> bool:
        """Whether one-sample SGD may skip the samples whose gradient is exactly zero: only for a
        loss that says which (``_zero_gradient``), with plain SGD (no momentum) and no penalty,
        where such a step changes nothing."""
        plain_sgd = self.solver == "sgd" and self.momentum == 0
        return self._has_zero_gradient_rule and plain_sgd and not any(self._regularization(1.0, 1.0))

    _has_zero_gradient_rule = False
    """Whether ``_zero_gradient`` is defined (losses with flat regions: perceptron criterion, hinge)."""

    def _zero_gradient(self, scores: np.ndarray, targets: np.ndarray) -> np.ndarray:  # pragma: no cover
        """Per sample, True where the loss has zero gradient at these scores."""
        raise NotImplementedError

    # ------------------------------------------------------------------ hooks
    def _encode_targets(self, y, weights, *, fresh, incremental, classes) -> Targets:  # pragma: no cover
        raise NotImplementedError

    def _build_network(self, n_features, n_outputs, dtype, rng):  # pragma: no cover - abstract
        raise NotImplementedError

    def _sample_losses(self, scores: Tensor, targets: np.ndarray) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _score_arrays(self, X, y, weights):  # pragma: no cover - abstract
        raise NotImplementedError

    def _regularization(self, batch_weight: float, total_weight: float) -> Penalty:
        """The penalty added to a batch's mean loss, given the batch's and the training set's total
        sample weight (their sizes when unweighted). Default: ``alpha * 0.5 * ||W||²``, as
        scikit-learn's SGD estimators and Ridge (in its mean-loss form) add it."""
        return Penalty(l2=float(self.alpha))


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

    @available_if(_has_partial_fit)
    def partial_fit(self, X: Any, y: Any, classes: Any = None, sample_weight: Any = None) -> ClassifierBase:
        """One epoch of the solver on (X, y), continuing from the current weights (not for 'lbfgs').

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
            return np.hstack([-ops.softplus(s)._data, -ops.softplus(-s)._data])
        return ops.log_softmax(s, axis=1)._data


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

    @available_if(_has_partial_fit)
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> RegressorBase:
        """One epoch of the solver on (X, y), continuing from the current weights (not for 'lbfgs').

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
