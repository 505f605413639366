"""The one-neuron classics: Perceptron, LogisticRegression, LinearSVC and LinearRegression.

Each is one layer of neurons, ``nn.Linear`` (a weighted sum plus a bias per neuron) followed by an
activation, trained by gradient descent on its own loss through chainrule's autodiff:

=================== ======================================== ============================================
estimator           network (``network_``)                   loss of a sample (score s, label y = ±1)
=================== ======================================== ============================================
Perceptron          Linear -> Step, one neuron per class     max(0, -y s): the perceptron criterion
LogisticRegression  Linear -> Sigmoid (2 classes) / Softmax  log-loss (cross-entropy)
LinearSVC           Linear -> Identity, one neuron per class hinge max(0, 1 - y s) or its square
LinearRegression    Linear -> Identity, one neuron per target squared error (y - s)²
=================== ======================================== ============================================

plus the penalty, with scikit-learn's parameters: the Perceptron's ``penalty`` and ``alpha`` (as
scikit-learn's SGD estimators: ``alpha * 0.5 * ||W||²`` for 'l2'), LogisticRegression's and
LinearSVC's ``C`` (the objective ``C * sum(loss) + 0.5 * ||W||²``, which scikit-learn minimises;
LinearSVC, as liblinear, penalises the intercept too), LinearRegression's ``alpha`` (ridge). With
several classes, the Perceptron and LinearSVC are one-vs-rest: each neuron learns "its class or not"
and the highest score wins; LogisticRegression is multinomial (softmax).

LogisticRegression and LinearSVC train with 'lbfgs' by default and reach scikit-learn's solution;
the Perceptron with Rosenblatt's one-sample rule ('sgd', ``batch_size=1``, no momentum).

The weights start at zero. ``coef_`` and ``intercept_`` are the layer's weight and bias, shaped as
scikit-learn shapes them; they are views of ``network_``'s parameters, so the two never disagree.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted  # after base, which explains a missing scikit-learn

from chainrule import nn, ops
from chainrule.estimators.base import ClassifierBase, LogLossClassifier, RegressorBase
from chainrule.estimators.constraints import (
    ALPHA,
    BOOLEAN,
    CLASS_WEIGHT,
    COMMON_CONSTRAINTS,
    INVERSE_REGULARIZATION,
    NONE,
    RENAMED_SOLVERS,
    SOLVER,
    STEP_SIZE,
    Interval,
    Options,
)
from chainrule.estimators.solver import Penalty
from chainrule.nn import functional as F
from chainrule.tensor import Tensor

__all__ = ["Perceptron", "LogisticRegression", "LinearSVC", "LinearRegression"]


class _OneLayer:
    """One layer of neurons and an activation: ``Sequential(linear=Linear, activation=...)``."""

    def _activation(self, n_outputs: int) -> nn.Module:  # pragma: no cover - abstract
        raise NotImplementedError

    def _build_network(self, n_features: int, n_outputs: int, dtype: np.dtype, rng: Any) -> nn.Sequential:
        linear = nn.Linear(n_features, n_outputs, bias=self.fit_intercept, dtype=dtype)
        nn.init.zeros_(linear.weight)  # a convex loss needs no random start (scikit-learn starts at 0 too)
        if linear.bias is not None:
            nn.init.zeros_(linear.bias)
        return nn.Sequential(OrderedDict(linear=linear, activation=self._activation(n_outputs)))

    @property
    def _layer(self) -> nn.Linear:
        check_is_fitted(self)
        return self.network_.linear

    @property
    def coef_(self) -> np.ndarray:
        """The neurons' weights, (1, n_features) for two classes or (n_classes, n_features)
        (regression: (n_features,) for a 1-D y, else (n_targets, n_features)); a view of
        ``network_.linear.weight``."""
        return self._layer.weight._data

    @property
    def intercept_(self) -> np.ndarray:
        """The neurons' biases, shape (1,) or (n_classes,) (zeros with ``fit_intercept=False``)."""
        layer = self._layer
        if layer.bias is None:
            return np.zeros(layer.out_features, dtype=layer.weight.dtype)
        return layer.bias._data


class _LinearClassifier(_OneLayer, ClassifierBase):
    _constraints = {**COMMON_CONSTRAINTS, "fit_intercept": (BOOLEAN,), "class_weight": CLASS_WEIGHT}

    def decision_function(self, X: Any) -> np.ndarray:
        """The neurons' scores s = X Wᵀ + b, before the activation.

        Args:
            X: array-like of shape (n_samples, n_features).

        Returns:
            ndarray of shape (n_samples,) for two classes (positive means ``classes_[1]``), else
            (n_samples, n_classes).
        """
        scores = self._forward(self._validate_X(X), scores=True)
        return scores[:, 0] if scores.shape[1] == 1 else scores


class Perceptron(_LinearClassifier):
    """Rosenblatt's perceptron: a neuron with a step activation, trained by the perceptron rule.

    The network is ``Linear -> Step``: each neuron fires (1) when its score s = w·x + b is >= 0.
    The step's derivative is zero, so backpropagating through it learns nothing; the perceptron is
    trained instead on the *perceptron criterion*, the loss of the score itself,

        L(s, y) = max(0, -y s),    y = ±1,

    which is zero for a sample on the right side of the boundary and grows with the distance on the
    wrong side. Its gradient is -y x for a misclassified sample (a sample on the boundary, s = 0,
    counts as misclassified) and 0 otherwise, so one step of SGD with step size eta0 is

        w <- w + eta0 * y * x,   b <- b + eta0 * y     (only when y s <= 0)

    which is exactly Rosenblatt's update. chainrule's autodiff computes that gradient; chainrule's
    SGD optimiser takes the step. Starting from zero weights, eta0 only scales w and b, so the
    predictions do not depend on it. The parameters are scikit-learn's ``Perceptron``'s, with its
    defaults; with ``shuffle=False`` the weights are scikit-learn's (the parity tests check it).
    With ``shuffle=True`` both draw a new order each epoch from ``random_state``, but scikit-learn
    draws it in its compiled SGD (a generator per class), so the two orders, and the weights,
    differ. A correctly classified sample has gradient 0, so (with the defaults: one sample a step,
    no momentum, no penalty) one vectorised forward pass finds the next mistake and the step is
    taken only there: the result of stepping through every sample, without the empty steps.

    With more than two classes there is one neuron per class (one-vs-rest) and the highest score
    wins; scikit-learn fits the classes one after another and stops each when its own loss stops
    improving, chainrule fits them together and stops them together. There is no
    ``predict_proba``: a step says yes or no.

    Args:
        penalty: None (default), 'l2', 'l1' or 'elasticnet': the penalty ``alpha * R(W)`` added to
            the mean loss, R = 0.5 * ||W||² ('l2'), ||W||₁ ('l1') or their mix by ``l1_ratio``.
            scikit-learn applies 'l1' by truncated gradient steps, chainrule by the subgradient of
            the same objective: the weights differ.
        alpha: the penalty's coefficient (default 0.0001; used only with a penalty).
        l1_ratio: the share of L1 in 'elasticnet' (default 0.15).
        fit_intercept: learn the bias b (default True).
        max_iter: maximum number of epochs (default 1000).
        tol: stop when the epoch loss has not gone down by tol for ``n_iter_no_change`` epochs
            (default 1e-3; None: run ``max_iter`` epochs).
        shuffle: reshuffle the samples every epoch (default True).
        verbose: show a progress bar over the epochs (default 0).
        eta0: the step size (default 1.0).
        random_state: seed of the shuffling and the validation split (default 0, as scikit-learn's).
        early_stopping: hold out ``validation_fraction`` of the data and stop on its accuracy
            (default False).
        validation_fraction: default 0.1.
        n_iter_no_change: see ``tol`` (default 5).
        class_weight: None, 'balanced' or {class: weight}, multiplying the sample weights.
        warm_start: start ``fit`` from the previous solution (default False).
        solver: 'sgd' (default), 'adam' or 'gd' (see ``chainrule.estimators.base``; not 'lbfgs':
            the criterion is 0 at w = 0, its minimum, and only Rosenblatt's rule learns from it).
        batch_size: samples per step (default 1: Rosenblatt's rule; 'auto': min(200, n_samples)).
        momentum, nesterovs_momentum: of 'sgd' (default 0.0: plain SGD, and True).
        learning_rate, power_t, beta_1, beta_2, epsilon: the step-size schedule ('constant',
            'invscaling', 'adaptive'; default 'constant') and its exponent (0.5); of 'adam'
            (0.9, 0.999, 1e-8). chainrule's, not scikit-learn's Perceptron's.

    Attributes:
        network_: the fitted ``nn.Sequential(linear=Linear, activation=Step)``.
        coef_, intercept_: the weights (1 or n_classes, n_features) and biases.
        also: classes_, n_features_in_, feature_names_in_ (for a DataFrame), n_iter_ (epochs run),
            t_ (samples seen), loss_curve_ (loss per epoch), best_loss_, validation_scores_,
            best_validation_score_ (with early_stopping).

    Example:
        >>> from sklearn.datasets import load_iris
        >>> from chainrule.estimators import Perceptron
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = Perceptron().fit(X[y < 2], y[y < 2])   # two separable classes
        >>> clf.score(X[y < 2], y[y < 2])
        1.0
        >>> clf.network_
        Sequential(
          (linear): Linear(in_features=4, out_features=1, bias=True)
          (activation): Step()
        )
    """

    _target_kind = "signs"
    _has_zero_gradient_rule = True
    _sgd_stopping_rule = True
    _step_size_name = "eta0"
    _constraints = {
        **_LinearClassifier._constraints,
        "solver": (
            Options(
                "sgd",
                "adam",
                "gd",
                hints={
                    **RENAMED_SOLVERS,
                    "lbfgs": "solver='sgd': the perceptron criterion is 0 at w = 0, its minimum, so only "
                    "Rosenblatt's one-sample rule learns from it",
                },
            ),
        ),
        "eta0": STEP_SIZE,
        "penalty": (NONE, Options("l2", "l1", "elasticnet")),
        "alpha": ALPHA,
        "l1_ratio": (Interval(float, 0, 1),),
    }

    def __init__(
        self,
        *,
        penalty: str | None = None,
        alpha: float = 0.0001,
        l1_ratio: float = 0.15,
        fit_intercept: bool = True,
        max_iter: int = 1000,
        tol: float | None = 1e-3,
        shuffle: bool = True,
        verbose: int | bool = 0,
        eta0: float = 1.0,
        random_state: int | np.random.RandomState | None = 0,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 5,
        class_weight: dict | str | None = None,
        warm_start: bool = False,
        solver: str = "sgd",
        batch_size: int | str = 1,
        momentum: float = 0.0,
        nesterovs_momentum: bool = True,
        learning_rate: str = "constant",
        power_t: float = 0.5,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
    ):
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.shuffle = shuffle
        self.verbose = verbose
        self.eta0 = eta0
        self.random_state = random_state
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.class_weight = class_weight
        self.warm_start = warm_start
        self.solver = solver
        self.batch_size = batch_size
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.learning_rate = learning_rate
        self.power_t = power_t
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon

    def _activation(self, n_outputs: int) -> nn.Module:
        return nn.Step()

    def _regularization(self, batch_weight: float, total_weight: float) -> Penalty:
        """scikit-learn's SGD penalty: ``alpha * R(W)`` on the mean loss, R by ``penalty``."""
        if self.penalty is None:
            return Penalty()
        l1_share = {"l2": 0.0, "l1": 1.0, "elasticnet": float(self.l1_ratio)}[self.penalty]
        return Penalty(l2=float(self.alpha) * (1.0 - l1_share), l1=float(self.alpha) * l1_share)

    def _sample_losses(self, scores: Tensor, targets: np.ndarray) -> Tensor:
        """The perceptron criterion max(0, -y s) summed over the neurons, written as Rosenblatt's
        -y s over the misclassified (y s <= 0): the same value, and at y s = 0 the gradient -y x
        that updates a point on the boundary (and a zero start)."""
        y = ops.cast(Tensor._make(np.asarray(targets)), scores.dtype)
        # which samples are misclassified, with ops (a compiled step decides again on each replay)
        mistakes = (scores * y) <= 0
        return -(scores * ops.where(mistakes, y, 0.0).detach()).sum(axis=1)

    def _zero_gradient(self, scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """A sample every neuron classifies correctly (y s > 0) has loss 0 and gradient 0."""
        return np.all(scores * targets > 0, axis=1)

    def predict(self, X: Any) -> np.ndarray:
        """The class of each sample. Two classes: the neuron's step output (fires -> ``classes_[1]``;
        at a score of exactly 0 it fires). More: the neuron with the highest score.

        Args:
            X: array-like of shape (n_samples, n_features).

        Returns:
            ndarray of shape (n_samples,) of labels from ``classes_``.
        """
        X = self._validate_X(X)
        if len(self.classes_) == 2:
            fired = self._forward(X)[:, 0]  # the Step output, 0 or 1
            return self.classes_[fired.astype(np.intp)]
        return self.classes_[self._forward(X, scores=True).argmax(axis=1)]


class _CRegularized(_LinearClassifier):
    """LogisticRegression and LinearSVC: scikit-learn's ``C``, the objective
    ``C * sum_i(w_i * loss_i) + 0.5 * ||W||²``, trained as its mean-loss form
    ``sum_i(w_i * loss_i) / sum_i(w_i) + 0.5 * ||W||² / (C * sum_i(w_i))`` (what scikit-learn's
    lbfgs minimises: the same solution, and gradients of the same size for ``tol``)."""

    _constraints = {
        **_LinearClassifier._constraints,
        "solver": SOLVER,
        "learning_rate_init": STEP_SIZE,
        "C": INVERSE_REGULARIZATION,
    }

    def _penalised(self) -> bool:
        return self.C != np.inf

    def _regularization(self, batch_weight: float, total_weight: float) -> Penalty:
        if not self._penalised():
            return Penalty()
        return Penalty(l2=1.0 / (float(self.C) * total_weight))


_L1_HINT = (
    "penalty='l2' or None: an L1 penalty needs a solver for non-smooth objectives (scikit-learn's "
    "'liblinear' or 'saga'), which chainrule does not have"
)


class LogisticRegression(LogLossClassifier, _CRegularized):
    """Logistic regression: a neuron with a sigmoid activation (a softmax layer for more than two
    classes), trained on the log-loss; scikit-learn's ``LogisticRegression``, the same parameters
    and defaults, the same solution.

    For two classes the neuron outputs p = sigmoid(w·x + b), the probability of ``classes_[1]``,
    and the loss of a sample is -(y log p + (1 - y) log(1 - p)) with y in {0, 1}. Its gradient is
    the seed's vectorised formula: over a batch of n samples, dJ/dW = (1/n)(A - Y)Xᵀ and
    dJ/db = (1/n)Σ(A - Y), A the outputs. For k > 2 classes a layer of k neurons feeds a softmax
    (multinomial logistic regression) and the loss is the cross-entropy. The loss is computed from
    the scores (``BCEWithLogits`` / fused softmax cross-entropy), which is stable for any score.

    The objective is scikit-learn's, ``C * sum(log-loss) + 0.5 * ||W||²`` (the intercept is not
    penalised), and the default solver is scikit-learn's, 'lbfgs' with its options, from zero
    weights: swapping the import gives scikit-learn's coefficients (to about ``tol``).

    Args:
        penalty: 'l2' (default) or None (no penalty; also ``C=np.inf``). 'l1' and 'elasticnet'
            are refused: chainrule has no solver for non-smooth objectives.
        C: inverse of the regularisation strength, > 0 (default 1.0).
        tol: 'lbfgs' stops when no gradient component exceeds tol (default 1e-4); the stochastic
            solvers when the epoch loss has not gone down by tol for ``n_iter_no_change`` epochs.
        fit_intercept: learn the biases (default True).
        class_weight: None, 'balanced' or {class: weight}, multiplying the sample weights.
        random_state: seed of the stochastic solvers' shuffling (default None).
        solver: 'lbfgs' (default), 'sgd', 'adam' or 'gd' (see ``chainrule.estimators.base``).
        max_iter: iterations of 'lbfgs', epochs of the others (default 100).
        verbose: report each iteration or epoch (default 0).
        warm_start: start ``fit`` from the previous solution (default False).
        learning_rate_init: the step size of 'sgd', 'adam' and 'gd' (default 0.01).
        also: learning_rate, power_t, n_iter_no_change (default 10), early_stopping,
            validation_fraction, shuffle, batch_size, momentum, nesterovs_momentum, beta_1, beta_2,
            epsilon: of the stochastic solvers, as in ``MLPClassifier`` (chainrule's; 'lbfgs'
            ignores them).

    ``alpha`` (the mean loss + ``alpha * 0.5 * ||W||²``) was chainrule's name before ``C``:
    ``alpha`` is ``1 / (C * n_samples)``.

    Attributes:
        network_: the fitted ``nn.Sequential(linear=Linear, activation=Sigmoid or Softmax)``.
        coef_, intercept_: weights (1 or n_classes, n_features) and biases.
        also: classes_, n_features_in_, feature_names_in_, n_iter_ (iterations or epochs),
            loss_curve_ (the objective after each), and for the stochastic solvers t_, best_loss_,
            validation_scores_, best_validation_score_: as in ``Perceptron``.

    Example:
        >>> from sklearn.datasets import load_iris
        >>> from chainrule.estimators import LogisticRegression
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = LogisticRegression(max_iter=1000).fit(X, y)
        >>> clf.coef_.shape, clf.predict_proba(X[:1]).shape
        ((3, 4), (1, 3))
        >>> round(clf.score(X, y), 2)
        0.97
    """

    _constraints = {
        **_CRegularized._constraints,
        "penalty": (NONE, Options("l2", hints={"l1": _L1_HINT, "elasticnet": _L1_HINT, "none": "penalty=None"})),
    }

    def __init__(
        self,
        penalty: str | None = "l2",
        *,
        C: float = 1.0,
        tol: float | None = 1e-4,
        fit_intercept: bool = True,
        class_weight: dict | str | None = None,
        random_state: int | np.random.RandomState | None = None,
        solver: str = "lbfgs",
        max_iter: int = 100,
        verbose: int | bool = 0,
        warm_start: bool = False,
        learning_rate_init: float = 0.01,
        learning_rate: str = "constant",
        power_t: float = 0.5,
        n_iter_no_change: int = 10,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        shuffle: bool = True,
        batch_size: int | str = "auto",
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
    ):
        self.penalty = penalty
        self.C = C
        self.tol = tol
        self.fit_intercept = fit_intercept
        self.class_weight = class_weight
        self.random_state = random_state
        self.solver = solver
        self.max_iter = max_iter
        self.verbose = verbose
        self.warm_start = warm_start
        self.learning_rate_init = learning_rate_init
        self.learning_rate = learning_rate
        self.power_t = power_t
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.shuffle = shuffle
        self.batch_size = batch_size
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon

    def _penalised(self) -> bool:
        return self.penalty is not None and self.C != np.inf

    def _activation(self, n_outputs: int) -> nn.Module:
        return nn.Sigmoid() if n_outputs == 1 else nn.Softmax(dim=1)


class LinearSVC(_CRegularized):
    """A linear support-vector classifier: a neuron per class trained on the hinge loss;
    scikit-learn's ``LinearSVC`` (liblinear), the same parameters and defaults, the same solution.

    The loss of a sample with score s and label y = ±1 is the hinge max(0, 1 - y s) (``loss='hinge'``)
    or its square (``'squared_hinge'``, the default, as in scikit-learn): zero for a sample on the
    right side by a margin of at least 1, so only the samples near the boundary (the support
    vectors) move it. The objective is liblinear's, ``C * sum(loss) + 0.5 * (||W||² + b² /
    intercept_scaling²)``: the intercept is penalised too, as liblinear learns it as the weight of
    a constant feature ``intercept_scaling``. More than two classes: one neuron per class,
    one-vs-rest, the highest score wins.

    The default solver is 'lbfgs', which reaches liblinear's minimum of the squared hinge (a
    smooth loss). The hinge has a kink where the loss reaches 0, where L-BFGS's line search may
    stop short of the minimum (the fit then warns); ``solver='adam'`` steps over the kinks.

    Args:
        penalty: 'l2' (default, the only one: 'l1' needs a solver for non-smooth objectives).
        loss: 'squared_hinge' (default) or 'hinge'.
        tol: 'lbfgs' stops when no gradient component exceeds tol (default 1e-4).
        C: inverse of the regularisation strength, > 0 (default 1.0).
        fit_intercept: learn the biases (default True).
        intercept_scaling: the value of liblinear's constant feature, whose weight (times it) is the
            intercept: the larger, the less the intercept is penalised (default 1.0).
        class_weight: None, 'balanced' or {class: weight}, multiplying the sample weights.
        verbose: report each iteration or epoch (default 0).
        random_state: seed of the stochastic solvers' shuffling (default None).
        max_iter: iterations of 'lbfgs', epochs of the others (default 1000).
        solver: 'lbfgs' (default), 'sgd', 'adam' or 'gd' (chainrule's; see ``chainrule.estimators.base``).
        warm_start: start ``fit`` from the previous solution (default False).
        also: learning_rate_init, learning_rate, power_t, n_iter_no_change, early_stopping,
            validation_fraction, shuffle, batch_size, momentum, nesterovs_momentum, beta_1, beta_2,
            epsilon: of the stochastic solvers, as in ``LogisticRegression`` (chainrule's).

    ``alpha`` (the mean loss + ``alpha * 0.5 * ||W||²``) was chainrule's name before ``C``:
    ``alpha`` is ``1 / (C * n_samples)``.

    Attributes:
        network_: the fitted ``nn.Sequential(linear=Linear, activation=Identity)``.
        also: coef_, intercept_, classes_, n_features_in_, feature_names_in_, n_iter_, loss_curve_,
            and for the stochastic solvers t_, best_loss_, validation_scores_,
            best_validation_score_: as in ``LogisticRegression``.

    Example:
        >>> from sklearn.datasets import load_iris
        >>> from sklearn.pipeline import make_pipeline
        >>> from sklearn.preprocessing import StandardScaler
        >>> from chainrule.estimators import LinearSVC
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = make_pipeline(StandardScaler(), LinearSVC()).fit(X, y)
        >>> clf.decision_function(X[:2]).shape, round(clf.score(X, y), 2)
        ((2, 3), 0.95)
    """

    _target_kind = "signs"
    _has_zero_gradient_rule = True
    _constraints = {
        **_CRegularized._constraints,
        "penalty": (Options("l2", hints={"l1": _L1_HINT.replace(" or None", "")}),),
        "loss": (Options("hinge", "squared_hinge"),),
        "intercept_scaling": (Interval(float, 0, None, closed="neither"),),
    }

    def __init__(
        self,
        penalty: str = "l2",
        loss: str = "squared_hinge",
        *,
        tol: float | None = 1e-4,
        C: float = 1.0,
        fit_intercept: bool = True,
        intercept_scaling: float = 1.0,
        class_weight: dict | str | None = None,
        verbose: int | bool = 0,
        random_state: int | np.random.RandomState | None = None,
        max_iter: int = 1000,
        solver: str = "lbfgs",
        warm_start: bool = False,
        learning_rate_init: float = 0.01,
        learning_rate: str = "constant",
        power_t: float = 0.5,
        n_iter_no_change: int = 10,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        shuffle: bool = True,
        batch_size: int | str = "auto",
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
    ):
        self.penalty = penalty
        self.loss = loss
        self.tol = tol
        self.C = C
        self.fit_intercept = fit_intercept
        self.intercept_scaling = intercept_scaling
        self.class_weight = class_weight
        self.verbose = verbose
        self.random_state = random_state
        self.max_iter = max_iter
        self.solver = solver
        self.warm_start = warm_start
        self.learning_rate_init = learning_rate_init
        self.learning_rate = learning_rate
        self.power_t = power_t
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.shuffle = shuffle
        self.batch_size = batch_size
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon

    def _regularization(self, batch_weight: float, total_weight: float) -> Penalty:
        """``C``'s penalty on the weights, and liblinear's on the intercept, ``b² / intercept_scaling²``."""
        weights = super()._regularization(batch_weight, total_weight)
        if not self.fit_intercept or not weights.l2:
            return weights
        return weights._replace(intercept_l2=weights.l2 / float(self.intercept_scaling) ** 2)

    def _activation(self, n_outputs: int) -> nn.Module:
        return nn.Identity()

    def _zero_gradient(self, scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """A sample outside the margin for every neuron (y s >= 1) has loss 0 and gradient 0."""
        return np.all(scores * targets >= 1, axis=1)

    def _sample_losses(self, scores: Tensor, targets: np.ndarray) -> Tensor:
        squared = self.loss == "squared_hinge"
        return F.hinge_loss(scores, targets, reduction="none", squared=squared).sum(axis=1)


class LinearRegression(_OneLayer, RegressorBase):
    """Linear regression: a neuron with the identity activation (one per target), trained by
    gradient descent on the mean squared error; with ``alpha > 0`` it is ridge regression.

    The loss is mean_i sum_t (y_it - s_it)² + alpha * 0.5 * ||W||², whose minimiser is scikit-learn's
    ``Ridge(alpha=n_samples * alpha / 2)`` (and ``LinearRegression``'s for alpha = 0). Gradient
    descent needs features on comparable scales: standardise X (``StandardScaler``) first, or
    lower ``learning_rate_init``.

    Args:
        solver: 'gd' (default), 'lbfgs', 'sgd' or 'adam'. Full-batch gradient descent steps in
            proportion to the error, so it fits targets on any scale (Adam's steps are about
            ``learning_rate_init`` each, slow for large targets); 'lbfgs' reaches the least-squares
            solution in a few iterations (``max_iter`` then counts them).
        learning_rate_init: step size (default 0.1; stable for standardised features).
        alpha: L2 penalty coefficient (default 0.0: ordinary least squares).
        max_iter: maximum number of epochs (default 5000).
        tol: stop when the epoch loss has not gone down by tol for ``n_iter_no_change`` epochs
            (default 1e-4; None: run ``max_iter`` epochs).
        n_iter_no_change: default 10.
        also: learning_rate, power_t, fit_intercept, early_stopping (on the validation R²),
            validation_fraction, shuffle, random_state, warm_start, verbose, batch_size, momentum,
            nesterovs_momentum, beta_1, beta_2, epsilon: as in ``LogisticRegression``.

    Attributes:
        network_: the fitted ``nn.Sequential(linear=Linear, activation=Identity)``.
        coef_: shape (n_features,) for a 1-D y, else (n_targets, n_features).
        intercept_: a float for a 1-D y, else shape (n_targets,).
        also: n_features_in_, feature_names_in_, n_iter_, t_, loss_curve_, best_loss_,
            validation_scores_, best_validation_score_: as in ``Perceptron``.

    Example:
        >>> import numpy as np
        >>> from chainrule.estimators import LinearRegression
        >>> X = np.random.default_rng(0).normal(size=(100, 2))
        >>> y = 3 * X[:, 0] - 2 * X[:, 1] + 1
        >>> reg = LinearRegression().fit(X, y)
        >>> np.round(reg.coef_, 2).tolist(), round(reg.intercept_, 2)
        ([3.0, -2.0], 1.0)
    """

    _constraints = {
        **COMMON_CONSTRAINTS,
        "solver": SOLVER,
        "learning_rate_init": STEP_SIZE,
        "alpha": ALPHA,
        "fit_intercept": (BOOLEAN,),
    }

    def __init__(
        self,
        *,
        solver: str = "gd",
        learning_rate_init: float = 0.1,
        learning_rate: str = "constant",
        power_t: float = 0.5,
        alpha: float = 0.0,
        fit_intercept: bool = True,
        max_iter: int = 5000,
        tol: float | None = 1e-4,
        n_iter_no_change: int = 10,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        shuffle: bool = True,
        random_state: int | np.random.RandomState | None = None,
        warm_start: bool = False,
        verbose: int | bool = 0,
        batch_size: int | str = "auto",
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
    ):
        self.solver = solver
        self.learning_rate_init = learning_rate_init
        self.learning_rate = learning_rate
        self.power_t = power_t
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.shuffle = shuffle
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.batch_size = batch_size
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon

    def _activation(self, n_outputs: int) -> nn.Module:
        return nn.Identity()

    def _sample_losses(self, scores: Tensor, targets: np.ndarray) -> Tensor:
        return F.mse_loss(scores, targets, reduction="none").sum(axis=1)

    @property
    def coef_(self) -> np.ndarray:
        """The weights: (n_features,) for a 1-D y, else (n_targets, n_features); a view of
        ``network_.linear.weight``."""
        weight = self._layer.weight._data
        return weight[0] if self._y_1d else weight

    @property
    def intercept_(self) -> float | np.ndarray:
        """The bias: a float for a 1-D y, else shape (n_targets,)."""
        bias = super().intercept_
        return float(bias[0]) if self._y_1d else bias
