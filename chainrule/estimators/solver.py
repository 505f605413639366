"""How an estimator trains: its solvers.

The stochastic solvers ('sgd', 'adam') and full-batch gradient descent ('gd') run through
``chainrule.train.fit``, the library's one training loop: the estimator hands ``fit`` what makes
it a scikit-learn solver, and ``fit`` runs the epochs and takes every step:

- its batches (``EpochBatches``): (X, targets[, weights]) in a new order each epoch drawn from the
  estimator's ``RandomState`` (scikit-learn's stream: the same ``random_state``, the same fit; no
  order drawn for full batches). One-sample SGD on a loss with flat regions (the perceptron
  criterion, the hinge) gets only the samples whose gradient is not zero: Rosenblatt's rule, which
  updates on mistakes only, without the empty steps;
- its loss (``Objective``): the mean of the (weighted) sample losses from the network's scores
  plus the L2 term, computed on the network without its output activation (the logits);
- its per-epoch bookkeeping, a callback: ``n_iter_``, ``t_``, ``loss_curve_``, the stopping rule
  (``tol``, ``n_iter_no_change``, ``early_stopping`` on a held-out score, whose best weights come
  back at the end), the 'invscaling' and 'adaptive' schedules;
- its progress report: a bar over the epochs named after the estimator (``verbose``), or a line
  per epoch as scikit-learn's MLP prints it when tqdm is missing or for one epoch.

'lbfgs' (``fit_lbfgs``) is scikit-learn's: scipy's L-BFGS-B (``scipy.optimize.minimize``) on
the network's parameters flattened into one vector, with the full-batch loss (``Objective``) and
its gradient computed by chainrule's autodiff at each point scipy asks for.

``fit`` and ``partial_fit`` of ``GradientDescentEstimator`` call ``train`` (or ``fit_lbfgs``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np
from sklearn.exceptions import ConvergenceWarning  # after base, which explains a missing scikit-learn

from chainrule import nn
from chainrule.autograd import no_grad
from chainrule.compiler import CompiledFunction
from chainrule.data import DataLoader
from chainrule.nn import functional as F
from chainrule.nn.utils import parameters_to_vector, vector_to_parameters
from chainrule.optim import SGD, Adam
from chainrule.optim.optimizer import ParamsLike
from chainrule.tensor import Tensor
from chainrule.train import Callback, History, fit
from chainrule.train.progress import Progress

__all__ = ["train", "fit_lbfgs", "Objective", "Penalty", "EpochBatches", "ScikitLearnAdam", "linear_layers"]

AUTO_BATCH = 200
"""``batch_size='auto'`` means ``min(AUTO_BATCH, n_samples)``, as in scikit-learn's MLP."""
ADAPTIVE_DIVISOR = 5.0
"""'adaptive' divides the learning rate by this when the loss stops improving (scikit-learn's value)."""
ADAPTIVE_MIN_LR = 1e-6
"""'adaptive' stops training once the learning rate is at or below this (scikit-learn's value)."""
LOOKAHEAD = 256
"""One-sample SGD on a loss with zero-gradient regions scores this many samples ahead at once to
find the next one that needs a step (see ``_StepsOnMistakes``)."""


def linear_layers(network: nn.Module) -> list[nn.Linear]:
    """The Linear layers of a network, input to output.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.estimators.solver import linear_layers
        >>> net = cr.nn.Sequential(cr.nn.Linear(3, 4), cr.nn.ReLU(), cr.nn.Linear(4, 2))
        >>> [layer.out_features for layer in linear_layers(net)]
        [4, 2]
    """
    return [m for m in network.modules() if isinstance(m, nn.Linear)]


class EpochBatches(DataLoader):
    """An estimator's epochs: (X, targets[, weights]) in batches of ``batch_size``, in a new order
    each epoch drawn from ``random_state`` (a NumPy ``RandomState``; None keeps the order).

    Each epoch shuffles the previous epoch's order (``order = order[random_state.permutation(n)]``),
    as scikit-learn's MLP shuffles its sample indices: the same ``random_state``, the same batches.

    Args:
        arrays: (X, targets) or (X, targets, weights), of equal length.
        batch_size: samples per batch.
        random_state: the estimator's ``RandomState`` (scikit-learn's stream), or None.

    Example:
        >>> import numpy as np
        >>> from chainrule.estimators.solver import EpochBatches
        >>> batches = EpochBatches((np.arange(5.0), np.arange(5)), 2, np.random.RandomState(0))
        >>> [t.tolist() for _, t in batches]
        [[2, 0], [1, 3], [4]]
    """

    def __init__(self, arrays: tuple[np.ndarray, ...], batch_size: int, random_state: np.random.RandomState | None):
        super().__init__(tuple(arrays), batch_size=batch_size)
        self.random_state = random_state
        self._order: np.ndarray | None = None

    def _ordered(self) -> tuple[np.ndarray, ...]:
        """This epoch's arrays, in this epoch's order."""
        arrays = self.dataset.arrays
        if self.random_state is None:
            return arrays
        n = len(arrays[0])
        previous = np.arange(n) if self._order is None else self._order
        self._order = previous[self.random_state.permutation(n)]
        return tuple(a[self._order] for a in arrays)

    def __iter__(self) -> Iterator[tuple[np.ndarray, ...]]:
        arrays = self._ordered()
        n, size = len(arrays[0]), self.batch_size
        if size >= n:  # full batches
            return iter((arrays,))
        return (tuple(a[start : start + size] for a in arrays) for start in range(0, n, size))


class _StepsOnMistakes(EpochBatches):
    """One-sample SGD that steps only where the gradient is not zero.

    Between two updates the weights do not change, so one vectorised forward pass scores the next
    ``LOOKAHEAD`` samples at once and finds the first with a non-zero gradient (for the
    perceptron, the next mistake), which is the next batch; the samples before it, whose loss and
    gradient are zero, come as one batch of weight zero, on which ``fit`` takes no step (they count
    in the epoch's loss with their loss, 0). The weights after the epoch are those of stepping
    through every sample in turn, as Rosenblatt's algorithm updates only on mistakes. Batches are
    drawn lazily: each window is scored with the weights of the steps before it.
    """

    def __init__(self, arrays: tuple[np.ndarray, ...], random_state: Any, scores: nn.Module, zero_gradient: Any):
        super().__init__(arrays, 1, random_state)
        self.scores, self.zero_gradient = scores, zero_gradient
        self._zeros = np.zeros(LOOKAHEAD, dtype=arrays[0].dtype)

    def __iter__(self) -> Iterator[tuple[np.ndarray, ...]]:
        X, targets, *rest = self._ordered()
        weights = rest[0] if rest else None
        n, i = len(X), 0
        while i < n:
            window = slice(i, min(i + LOOKAHEAD, n))
            with no_grad():
                scores = self.scores(Tensor(X[window]))._data
            active = ~self.zero_gradient(scores, targets[window])
            if weights is not None:
                active &= weights[window] > 0
            hits = np.flatnonzero(active)
            j = window.stop if hits.size == 0 else i + int(hits[0])
            if j > i:
                yield X[i:j], targets[i:j], self._zeros[: j - i]
            if hits.size:
                yield (X[j : j + 1], targets[j : j + 1]) + (() if weights is None else (weights[j : j + 1],))
            i = j + 1 if hits.size else j


class Penalty(NamedTuple):
    """The coefficients of an estimator's regularisation terms, added to a batch's mean loss.

    Example:
        >>> from chainrule.estimators.solver import Penalty
        >>> Penalty(l2=0.01), any(Penalty())
        (Penalty(l2=0.01, l1=0.0, intercept_l2=0.0), False)
    """

    l2: float = 0.0
    """Of ``F.l2_penalty`` of the weights (0.5 * the sum of their squares; biases excluded)."""
    l1: float = 0.0
    """Of ``F.l1_penalty`` of the weights (the sum of their absolute values)."""
    intercept_l2: float = 0.0
    """Of ``F.l2_penalty`` of the biases (liblinear's penalised intercept: LinearSVC)."""


class Objective:
    """An estimator's loss of a batch, from the network's scores (the output before the output
    activation): the mean of the (weighted) sample losses plus the estimator's ``Penalty``.

    Args:
        estimator: a fitted (or being fitted) estimator; its ``_sample_losses`` and
            ``_regularization(batch_weight, total_weight)``.
        scale: the mean of the training set's raw sample weights (default 1.0); the batches' weights
            are relative (mean 1), ``weights.sum() * scale`` is a batch's total raw weight, which
            scikit-learn's MLP divides alpha by.
        penalised: the weights under the penalty (default: every Linear layer's weight, not biases).
        total_weight: the training set's total raw sample weight (its size when unweighted), which
            ``C`` is divided by (default None: the batch's own, for a full batch).

    Called as ``fit`` calls a loss: ``objective(scores, targets)`` or ``objective(scores, targets,
    sample_weight=weights)``; returns a scalar Tensor.

    Example:
        >>> import numpy as np, chainrule as cr
        >>> from chainrule.estimators import LinearRegression
        >>> from chainrule.estimators.solver import Objective
        >>> reg = LinearRegression().partial_fit(np.eye(3), [1.0, 2.0, 3.0])
        >>> loss = Objective(reg)(cr.tensor(np.zeros((3, 1))), np.ones((3, 1)))
        >>> float(loss.numpy())  # the mean squared error of scores 0 against targets 1 (alpha=0)
        1.0
    """

    def __init__(
        self,
        estimator: Any,
        scale: float = 1.0,
        penalised: list[Tensor] | None = None,
        total_weight: float | None = None,
    ):
        self.estimator, self.scale = estimator, float(scale)
        layers = linear_layers(estimator.network_)
        if penalised is None:
            penalised = [layer.weight for layer in layers]
        self.penalised = penalised
        self.biases = [layer.bias for layer in layers if layer.bias is not None]
        self.total_weight = None if total_weight is None else float(total_weight)
        # the estimator's parameters it was made with (its penalty reads them): ``train`` makes a
        # new objective when they change (set_params between partial_fit calls)
        self.settings = estimator.get_params(deep=False)

    def __call__(self, scores: Tensor, targets: np.ndarray, sample_weight: np.ndarray | None = None) -> Tensor:
        per_sample = self.estimator._sample_losses(scores, targets)
        weights = sample_weight
        if weights is None:
            loss = per_sample.mean()
            batch_weight = float(len(targets))
        else:
            w = Tensor(weights)
            loss = (per_sample * w).mean()
            # a tensor, not a Python number: a compiled step sums each batch's weights again
            batch_weight = w.sum() * self.scale
        total = batch_weight if self.total_weight is None else self.total_weight
        penalty = self.estimator._regularization(batch_weight, total)
        if _nonzero(penalty.l2):
            loss = loss + F.l2_penalty(self.penalised) * penalty.l2
        if _nonzero(penalty.l1):
            loss = loss + F.l1_penalty(self.penalised) * penalty.l1
        if _nonzero(penalty.intercept_l2) and self.biases:
            loss = loss + F.l2_penalty(self.biases) * penalty.intercept_l2
        return loss


def _same_settings(a: dict, b: dict) -> bool:
    """Whether two ``get_params()`` dicts hold the same values (arrays by value, objects by identity)."""
    if a.keys() != b.keys():
        return False
    for k in a:
        x, y = a[k], b[k]
        if x is y:
            continue
        try:
            if not bool(np.array_equal(x, y) if isinstance(x, np.ndarray) else x == y):
                return False
        except (TypeError, ValueError):  # no plain truth value: not the same
            return False
    return True


def _nonzero(weight: float | Tensor) -> bool:
    """Whether a penalty's weight may be nonzero: a number that is not 0, or a tensor (computed
    from the batch's weights: not read into Python, so that a compiled step stays replayable)."""
    return isinstance(weight, Tensor) or weight != 0


class _StoppingRule(Callback):
    """The estimator's bookkeeping after each epoch of ``fit``: ``n_iter_``, ``t_``, ``loss_curve_``,
    the 'invscaling' schedule, and scikit-learn's stopping rule: training stops when the loss has
    not gone down by ``tol`` (with early stopping: the held-out score has not gone up by ``tol``)
    for more than ``n_iter_no_change`` epochs in a row ('adaptive': divide the learning rate by 5
    instead, until it is at or below 1e-6). With early stopping the best weights come back at the
    end and the epoch's score is logged as 'val_score'."""

    def __init__(self, estimator: Any, validation: tuple | None, n_samples: int):
        self.estimator, self.validation, self.n_samples = estimator, validation, n_samples

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        est = self.estimator
        epoch_loss = logs["loss"]
        est.n_iter_ += 1
        est.t_ += self.n_samples
        est.loss_curve_.append(epoch_loss)
        if not math.isfinite(epoch_loss):
            raise ValueError(est._diverged(f"the loss became {epoch_loss} at epoch {est.n_iter_}"))
        score = self._update(epoch_loss)
        if score is not None:
            logs["val_score"] = score
        if est.learning_rate == "invscaling":
            _set_lr(self.context.optimizer, est._step_size / (est.t_ + 1) ** est.power_t)
        # scikit-learn's MLP stops after more than n_iter_no_change epochs without improvement, its
        # SGD estimators (the Perceptron) after n_iter_no_change
        patience = est.n_iter_no_change - 1 if est._sgd_stopping_rule else est.n_iter_no_change
        if est._no_improvement_count > patience:
            reason = self._fire()
            if reason is not None:
                self.context.stop(reason)
            else:
                est._no_improvement_count = 0

    def on_train_end(self, logs: dict[str, float] | None = None) -> None:
        est = self.estimator
        if self.validation is not None and est._best_state is not None:
            est.network_.load_state_dict(est._best_state)

    def _update(self, epoch_loss: float) -> float | None:
        """Count epochs without improvement (of the loss, or the validation score); keep the best."""
        est = self.estimator
        tol = -np.inf if est.tol is None else est.tol
        if self.validation is None:
            if epoch_loss > est.best_loss_ - tol:
                est._no_improvement_count += 1
            else:
                est._no_improvement_count = 0
            est.best_loss_ = min(est.best_loss_, epoch_loss)
            return None
        X_val, y_val, w_val = self.validation
        score = float(est._score_arrays(X_val, y_val, w_val))
        est.validation_scores_.append(score)
        if score < est.best_validation_score_ + tol:
            est._no_improvement_count += 1
        else:
            est._no_improvement_count = 0
        if score > est.best_validation_score_:
            est.best_validation_score_ = score
            est._best_state = est.network_.state_dict()
        return score

    def _fire(self) -> str | None:
        """The stopping rule fired: why training stops, or None ('adaptive': the learning rate is
        divided and training goes on)."""
        est = self.estimator
        owner = type(est).__name__
        what = "Validation score" if self.validation is not None else "Training loss"
        message = f"{what} did not improve more than tol={est.tol} for {est.n_iter_no_change} consecutive epochs."
        say = self.context.progress.message
        if est.learning_rate != "adaptive":
            say(f"{owner}: {message} Stopping.")
            return f"{owner}: {message}"
        lr = self.context.optimizer.param_groups[0]["lr"]
        if lr <= ADAPTIVE_MIN_LR:
            say(f"{owner}: {message} Learning rate too small. Stopping.")
            return f"{owner}: {message} Learning rate too small."
        _set_lr(self.context.optimizer, lr / ADAPTIVE_DIVISOR)
        say(f"{owner}: {message} Setting learning rate to {lr / ADAPTIVE_DIVISOR:g}.")
        return None


class _SolverProgress(Progress):
    """The estimators' ``verbose``: a bar over the epochs named after the estimator, the epoch's
    loss (and validation score) beside it; a line per epoch as scikit-learn's MLP prints it."""

    def __init__(self, owner: str, verbose: int | bool):
        super().__init__(1 if verbose else 0, unit="epoch", name=owner)

    def line(self, epoch: int, seconds: float, logs: dict[str, float]) -> str:
        line = f"{self.name}: iteration {epoch}, loss = {logs['loss']:.8f}"
        return line if "val_score" not in logs else f"{line}, validation score = {logs['val_score']:.6f}"

    def postfix(self, logs: dict[str, float]) -> dict[str, str]:
        postfix = {"loss": f"{logs['loss']:.6g}"}
        if "val_score" in logs:
            postfix["val_score"] = f"{logs['val_score']:.4f}"
        return postfix


def _scores(network: nn.Sequential) -> nn.Module:
    """The network without its output activation (what the losses take: the scores, or logits);
    a one-layer network's layer itself."""
    layers = list(network)
    return layers[0] if len(layers) == 2 else network[:-1]


def _set_lr(optimizer: Any, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = float(lr)


def _batch_size(estimator: Any, n_samples: int) -> int:
    """Samples per step of the estimator's solver: all of them for 'gd' and 'lbfgs', else
    ``batch_size`` ('auto': min(200, n_samples))."""
    if estimator.solver in ("gd", "lbfgs"):
        return n_samples
    if estimator.batch_size == "auto":
        return min(AUTO_BATCH, n_samples)
    if estimator.batch_size > n_samples:
        warnings.warn(
            f"{type(estimator).__name__}: batch_size={estimator.batch_size} is larger than the {n_samples} training "
            "samples; using full batches",
            UserWarning,
            stacklevel=5,  # the caller of fit: _batch_size < train < _fit < fit
        )
        return n_samples
    return int(estimator.batch_size)


class ScikitLearnAdam(Adam):
    """Adam as scikit-learn's MLP takes its steps: ``epsilon`` is added to sqrt(v) before the bias
    correction, ``theta <- theta - lr * sqrt(1 - beta2**t) / (1 - beta1**t) * m / (sqrt(v) + eps)``.

    That is PyTorch's rule (``chainrule.optim.Adam``) with ``eps / sqrt(1 - beta2**t)`` in place of
    ``eps`` at step t, which is how this class takes it: the same update rule, a different
    constant, so that an estimator's 'adam' follows scikit-learn's from the same start (the two
    rules differ by about eps / sqrt(v) of a step, which a long non-convex run amplifies).

    Args:
        params, lr, betas, eps: as ``Adam``'s (no weight decay: the estimators' penalty is in the loss).

    Example:
        >>> import chainrule as cr
        >>> from chainrule.estimators.solver import ScikitLearnAdam
        >>> w = cr.nn.Parameter(cr.tensor([1.0, -2.0], dtype=cr.float64))
        >>> opt = ScikitLearnAdam([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w.numpy().round(6).tolist()
        [0.9, -1.9]
    """

    def __init__(self, params: ParamsLike, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps=1e-8):
        super().__init__(params, lr=lr, betas=betas, eps=eps)
        self.epsilon = float(eps)
        self.t = 0

    def step(self, closure: Any = None) -> Any:
        """One step: scikit-learn's epsilon for step ``t``, then Adam's update."""
        self.t += 1
        for group in self.param_groups:
            group["eps"] = self.epsilon / math.sqrt(1.0 - group["betas"][1] ** self.t)
        return super().step(closure)


def _make_optimizer(estimator: Any) -> Any:
    """The optimiser of the estimator's solver, on its network's parameters: scikit-learn's Adam
    ('adam'), SGD with momentum (Nesterov's if ``nesterovs_momentum``: 'sgd') or plain ('gd')."""
    params = list(estimator.network_.parameters())
    lr = float(estimator._step_size)
    if estimator.solver == "adam":
        betas = (float(estimator.beta_1), float(estimator.beta_2))
        return ScikitLearnAdam(params, lr=lr, betas=betas, eps=float(estimator.epsilon))
    if estimator.solver == "sgd" and estimator.momentum > 0:
        return SGD(params, lr=lr, momentum=float(estimator.momentum), nesterov=bool(estimator.nesterovs_momentum))
    return SGD(params, lr=lr)


def _reset_stopping(estimator: Any, early_stopping: bool) -> None:
    """Start counting epochs without improvement: of the validation score with early stopping
    (``fit`` only; ``partial_fit`` holds nothing out), else of the training loss."""
    estimator._no_improvement_count = 0
    estimator._best_state = None
    if early_stopping:
        estimator.validation_scores_ = []
        estimator.best_validation_score_ = -np.inf
        estimator.best_loss_ = None
    else:
        estimator.validation_scores_ = None
        estimator.best_validation_score_ = None
        estimator.best_loss_ = np.inf


def train(
    estimator: Any,
    X: np.ndarray,
    targets: np.ndarray,
    weights: np.ndarray | None,
    validation: tuple | None,
    *,
    incremental: bool,
    new_run: bool,
) -> History:
    """Run epochs of the estimator's solver on prepared arrays with ``chainrule.train.fit``: up to
    ``max_iter`` (``incremental``: one, as ``partial_fit``), until the stopping rule fires.

    Args:
        estimator: with its network (``network_``), ``t_`` and ``loss_curve_`` set.
        X, targets, weights: the training arrays (weights: raw, or None).
        validation: (X_val, y_val, w_val) held out for early stopping, or None.
        incremental: one epoch, continuing the optimiser (``partial_fit``).
        new_run: start the stopping rule and the optimiser afresh (``fit``, and a first
            ``partial_fit``); else continue them.

    Returns:
        fit's History of these epochs.

    Example:
        >>> import numpy as np
        >>> from chainrule.estimators import LinearRegression
        >>> from chainrule.estimators.solver import train
        >>> X = np.linspace(-1, 1, 8)[:, None]
        >>> reg = LinearRegression().partial_fit(X, 2 * X[:, 0])  # one epoch
        >>> history = train(reg, X, 2 * X, None, None, incremental=True, new_run=False)
        >>> history.epoch, reg.n_iter_, len(reg.loss_curve_)
        ([1], 1, 2)
    """
    owner = type(estimator).__name__
    if new_run:  # a new run of epochs (warm start: from the current weights)
        _reset_stopping(estimator, early_stopping=validation is not None)
    elif estimator.best_loss_ is None:  # partial_fit after fit(early_stopping=True): watch the loss
        estimator.best_loss_ = np.inf
    if new_run or estimator._optimizer is None:
        estimator._optimizer = _make_optimizer(estimator)
    estimator.n_iter_ = 0  # epochs of this call (t_ and loss_curve_ go on across warm starts)

    n = X.shape[0]
    batch = _batch_size(estimator, n)
    scale = 1.0
    if weights is not None:
        scale = float(weights.mean())
        weights = weights / scale  # relative weights, mean 1
    arrays = (X, targets) if weights is None else (X, targets, weights)
    random_state = estimator._random_state if estimator.shuffle and batch < n else None
    # the same scores module and objective while they are the same: fit keeps its compiled step per
    # (model, loss, optimiser), so the next partial_fit replays the step this call recorded
    # kept with the optimiser, as fit's compiled step is (and only once fit has accepted the data)
    network, scores, objective = estimator._optimizer.__dict__.get("_solver_parts", (None, None, None))
    if new_run or network is not estimator.network_:
        scores = _scores(estimator.network_)
    if batch == 1 and estimator._skips_zero_gradients():
        batches = _StepsOnMistakes(arrays, random_state, scores, estimator._zero_gradient)
    else:
        batches = EpochBatches(arrays, batch, random_state)
    max_epochs = 1 if incremental else estimator.max_iter
    first_epoch = len(estimator.loss_curve_)
    if (
        new_run
        or objective is None
        or (objective.scale, objective.total_weight) != (scale, float(n * scale))
        or not _same_settings(objective.settings, estimator.get_params(deep=False))
    ):
        objective = Objective(estimator, scale, total_weight=n * scale)
    history = fit(
        scores,
        objective,
        estimator._optimizer,
        batches,
        epochs=max_epochs,
        callbacks=[_StoppingRule(estimator, validation, n)],
        verbose=_SolverProgress(owner, estimator.verbose),
        terminate_on_nan=False,  # the stopping rule says how the estimator diverged, in scikit-learn's words
        data_parallel=False,  # (under mpiexec each process fits the whole estimator, as scikit-learn would)
    )
    estimator._optimizer._solver_parts = (estimator.network_, scores, objective)
    if not incremental and history.stop_reason is None:
        warnings.warn(
            f"{owner}: maximum iterations ({max_epochs}) reached and the optimization hasn't converged yet.",
            ConvergenceWarning,
            stacklevel=4,  # the caller of fit (or partial_fit): train < _fit < fit
        )
    run = estimator.loss_curve_[first_epoch:]
    if not incremental and len(run) > 1 and math.isfinite(run[-1]) and run[-1] > run[0]:
        warnings.warn(
            f"{owner}: the loss went up during training, from {run[0]:.4g} (epoch 1) to {run[-1]:.4g} "
            f"(epoch {len(run)}): {estimator._step_size_name}={estimator._step_size} is too large for this data. "
            f"Standardise X (e.g. StandardScaler) or lower {estimator._step_size_name}.",
            ConvergenceWarning,
            stacklevel=4,
        )
    return history


LBFGS_EAGER_POINTS = 20
"""The 'lbfgs' solver evaluates its first points eagerly, the rest in a compiled step: recording
costs about as much as 15 evaluations of a small model gain from the plan (measured on iris:
LogisticRegression's default fit, 17 iterations, took 6.7 ms eagerly and 8.5 ms compiled from the
first point; with 279 iterations, 114 against 63 ms)."""


def fit_lbfgs(estimator: Any, X: np.ndarray, targets: np.ndarray, weights: np.ndarray | None) -> Any:
    """Fit the estimator's network with scikit-learn's 'lbfgs' solver: scipy's L-BFGS-B on the
    parameters flattened into one float64 vector (``nn.utils.parameters_to_vector``), starting
    from the network's current weights, on the full-batch ``Objective`` and its gradient, both
    computed by chainrule's autodiff: eagerly for the first ``LBFGS_EAGER_POINTS`` points, then in a
    compiled step (``cr.compile``: recorded on two points, replayed on the others).

    Up to ``max_iter`` iterations (``max_fun`` loss evaluations for the MLPs); it stops when the
    largest gradient component is at most ``tol`` (scipy's ``gtol``; ``tol=None``: 0). The other
    options are scikit-learn's for the estimator (``_lbfgs_options``). Sets ``n_iter_`` (the
    iterations) and appends each iteration's loss to ``loss_curve_``; warns with scikit-learn's
    ``ConvergenceWarning`` when scipy reports that it did not converge.

    Args:
        estimator: with its network (``network_``) and ``loss_curve_`` set.
        X, targets, weights: the training arrays (weights: raw, or None).

    Returns:
        scipy's ``OptimizeResult``.

    Example:
        >>> import numpy as np
        >>> from chainrule.estimators import LogisticRegression
        >>> from chainrule.estimators.solver import fit_lbfgs
        >>> X, y = np.array([[-2.0], [-1.0], [1.0], [2.0]]), np.array([0, 1, 0, 1])
        >>> clf = LogisticRegression(solver="sgd").partial_fit(X, y, classes=[0, 1])  # a network
        >>> targets = (y == 1).astype(float)[:, None]   # the form the log-loss takes
        >>> result = fit_lbfgs(clf.set_params(solver="lbfgs"), X, targets, None)
        >>> bool(result.success), clf.n_iter_ > 0, clf.loss_curve_[-1] == result.fun
        (True, True, True)
    """
    from scipy.optimize import minimize  # scipy comes with scikit-learn; only 'lbfgs' needs it

    owner = type(estimator).__name__
    network = estimator.network_
    params = list(network.parameters())
    n = X.shape[0]
    scale = 1.0
    if weights is not None:
        scale = float(weights.mean())
        weights = weights / scale  # relative weights, mean 1: the loss is sum(w * loss) / sum(w)
    objective = Objective(estimator, scale, total_weight=n * scale)
    scores = _scores(network)
    inputs = Tensor(X)
    network.train()

    def flat(tensors: list[Tensor]) -> np.ndarray:
        with no_grad():
            return parameters_to_vector(tensors)._data.astype(np.float64)

    def evaluate() -> Tensor:
        network.zero_grad()
        loss = objective(scores(inputs), targets, weights)
        loss.backward()
        return loss

    # compiled, as the other solvers' steps are, once the run is long enough for recording to pay
    # (LBFGS_EAGER_POINTS): every point scipy asks for runs the same forward and backward, on the
    # parameters vector_to_parameters writes in place (the plan reads them live). Nothing changes
    # the objective's settings during one minimize: no watch (it would cost what the plan saves).
    compiled = CompiledFunction(evaluate, name=f"{owner}'s lbfgs objective", hint="the result is the same, only slower")
    points = 0

    def loss_and_gradient(point: np.ndarray) -> tuple[float, np.ndarray]:
        nonlocal points
        vector_to_parameters(point, params)
        points += 1
        loss = compiled() if points > LBFGS_EAGER_POINTS else evaluate()
        grads = [Tensor(np.zeros_like(p._data)) if p.grad is None else p.grad for p in params]
        return float(loss._data), flat(grads)

    progress = _SolverProgress(owner, estimator.verbose)
    curve: list[float] = []

    def after_iteration(intermediate_result: Any) -> None:
        curve.append(float(intermediate_result.fun))
        progress.epoch_end(len(curve), {"loss": curve[-1]})
        progress.epoch_begin(len(curve) + 1)

    tol = 0.0 if estimator.tol is None else float(estimator.tol)
    options = {"maxiter": int(estimator.max_iter), "gtol": tol, **estimator._lbfgs_options()}
    if estimator.tol is None:
        options["ftol"] = 0.0
    start = flat(params)
    progress.train_begin(int(estimator.max_iter), 1)
    progress.epoch_begin(1)
    try:
        result = minimize(
            loss_and_gradient, start, method="L-BFGS-B", jac=True, options=options, callback=after_iteration
        )
    finally:
        progress.close()
    vector_to_parameters(result.x, params)
    network.zero_grad()
    estimator.n_iter_ = min(int(result.nit), int(estimator.max_iter))
    estimator.loss_curve_.extend(curve if curve else [float(result.fun)])
    estimator.loss_curve_[-1] = float(result.fun)
    if result.status != 0:
        warnings.warn(
            f"{owner}: lbfgs failed to converge after {estimator.n_iter_} iteration(s) (status={result.status}): "
            f"{result.message}. Increase max_iter (now {estimator.max_iter}) or scale the data (e.g. StandardScaler).",
            ConvergenceWarning,
            stacklevel=4,  # the caller of fit: fit_lbfgs < _fit < fit
        )
    return result
