"""Multi-layer perceptrons: MLPClassifier and MLPRegressor, layers of neurons composed.

The network is ``Linear -> activation`` for each hidden layer, then an output ``Linear`` and the
output activation: a sigmoid for two classes, a softmax for more, the identity for regression
(scikit-learn's ``out_activation_``). It is trained by backpropagation, chainrule's autodiff,
on the log-loss (classification) or half the squared error (regression), as scikit-learn's
``MLPClassifier`` and ``MLPRegressor`` are.

Parameters mean what they mean in scikit-learn's MLP, with its defaults, including ``solver``
('adam' by default, 'sgd' with momentum, 'lbfgs'; and chainrule's 'gd') and ``alpha``: the L2 term
of a batch is ``alpha * 0.5 * ||W||² / batch_weight`` (``batch_weight`` the batch's total sample
weight, its size when unweighted). Weights start as scikit-learn starts them, drawn in its order
from the same ``RandomState``: for each layer, the weights uniform in ±sqrt(6 / (fan_in +
fan_out)) (±sqrt(2 / (fan_in + fan_out)) for the logistic activation), then the biases. With the
same ``random_state`` the two libraries start from the same weights, shuffle the samples into the
same batches and take the same steps ('adam' in scikit-learn's form, ``solver.ScikitLearnAdam``),
so the fits agree up to rounding (which a long non-convex run amplifies).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted  # after base, which explains a missing scikit-learn

from chainrule import nn
from chainrule.estimators.base import GradientDescentEstimator, LogLossClassifier, RegressorBase, as_list
from chainrule.estimators.constraints import (
    ALPHA,
    COMMON_CONSTRAINTS,
    LAYER_SIZES,
    SOLVER,
    STEP_SIZE,
    Interval,
    Options,
)
from chainrule.estimators.solver import Penalty, linear_layers
from chainrule.nn import functional as F
from chainrule.tensor import Tensor

__all__ = ["MLPClassifier", "MLPRegressor"]

ACTIVATIONS = ("identity", "logistic", "sigmoid", "tanh", "relu")
"""The hidden layers' activations; 'sigmoid' is another name of scikit-learn's 'logistic'."""


class _MLP(GradientDescentEstimator):
    """Shared by MLPClassifier and MLPRegressor: the network, its initialisation, the L2 term."""

    _constraints = {
        **COMMON_CONSTRAINTS,
        "solver": SOLVER,
        "learning_rate_init": STEP_SIZE,
        "alpha": ALPHA,
        "max_fun": (Interval(int, 1, None),),
        "hidden_layer_sizes": LAYER_SIZES,
        "activation": (Options(*ACTIVATIONS),),
    }

    def __init__(
        self,
        hidden_layer_sizes: int | Sequence[int] = (100,),
        activation: str = "relu",
        *,
        solver: str = "adam",
        alpha: float = 1e-4,
        batch_size: int | str = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 1e-3,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: int | np.random.RandomState | None = None,
        tol: float | None = 1e-4,
        verbose: int | bool = 0,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int = 10,
        max_fun: int = 15000,
    ):
        """Store the arguments (scikit-learn's MLP parameters, the same defaults); ``fit`` checks them."""
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun

    def _output_activation(self, n_outputs: int) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def _build_network(self, n_features: int, n_outputs: int, dtype: np.dtype, rng: Any) -> nn.Sequential:
        widths = [n_features, *as_list(self.hidden_layer_sizes), n_outputs]
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:]), start=1):
            last = i == len(widths) - 1
            name = "output" if last else f"hidden{i}"
            layers[name] = nn.Linear(fan_in, fan_out, dtype=dtype)
            if not last:
                layers[f"activation{i}"] = nn.activation(self.activation)
        out_activation = self._output_activation(n_outputs)
        layers["output_activation"] = (
            nn.Softmax(dim=1) if out_activation == "softmax" else nn.activation(out_activation)
        )
        network = nn.Sequential(layers)
        # scikit-learn's (Glorot's) initialisation, drawn as it draws it: factor 6, or 2 for the
        # logistic activation; per layer the (fan_in, fan_out) weights, then the biases
        factor = 2.0 if self.activation in ("logistic", "sigmoid") else 6.0
        for layer in linear_layers(network):
            bound = math.sqrt(factor / (layer.in_features + layer.out_features))
            layer.weight._data[...] = rng.uniform(-bound, bound, (layer.in_features, layer.out_features)).T
            layer.bias._data[...] = rng.uniform(-bound, bound, layer.out_features)
        return network

    def _regularization(self, batch_weight: float, total_weight: float) -> Penalty:
        """scikit-learn's MLP convention: alpha * 0.5 * ||W||² / (the batch's total weight)."""
        return Penalty(l2=float(self.alpha) / batch_weight)

    def _lbfgs_options(self) -> dict[str, Any]:
        """scikit-learn's MLP's L-BFGS-B options: at most ``max_fun`` loss evaluations."""
        return {"maxfun": int(self.max_fun)}

    @property
    def n_layers_(self) -> int:
        """Layers of neurons, the input layer included (scikit-learn's count)."""
        check_is_fitted(self)
        return len(linear_layers(self.network_)) + 1

    @property
    def n_outputs_(self) -> int:
        """Neurons in the output layer."""
        check_is_fitted(self)
        return linear_layers(self.network_)[-1].out_features

    @property
    def out_activation_(self) -> str:
        """The output layer's activation: 'logistic', 'softmax' or 'identity'."""
        return self._output_activation(self.n_outputs_)

    @property
    def coefs_(self) -> list[np.ndarray]:
        """The weight matrices, layer by layer, as scikit-learn lays them out: (fan_in, fan_out),
        i.e. the transposes of the ``nn.Linear`` weights (views of ``network_``'s parameters)."""
        check_is_fitted(self)
        return [layer.weight._data.T for layer in linear_layers(self.network_)]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """The bias vectors, layer by layer (views of ``network_``'s parameters)."""
        check_is_fitted(self)
        return [layer.bias._data for layer in linear_layers(self.network_)]

    @property
    def loss_(self) -> float:
        """The loss of the last epoch."""
        check_is_fitted(self)
        return self.loss_curve_[-1]


class MLPClassifier(LogLossClassifier, _MLP):
    """A multi-layer perceptron classifier trained by backpropagation on the log-loss.

    Args:
        hidden_layer_sizes: neurons per hidden layer (default (100,)).
        activation: of the hidden layers, 'relu' (default), 'tanh', 'logistic' (or its other name
            'sigmoid') or 'identity'.
        solver: 'adam' (default), 'sgd' (mini-batch SGD with ``momentum``), 'lbfgs' (scipy's
            L-BFGS-B on the full batch; ``max_iter`` counts its iterations) or 'gd' (full-batch
            gradient descent, chainrule's).
        alpha: L2 penalty coefficient, scikit-learn's MLP convention (default 1e-4).
        batch_size: samples per step (default 'auto': min(200, n_samples)).
        learning_rate: 'constant' (default), 'invscaling' or 'adaptive'.
        learning_rate_init: step size (default 1e-3).
        power_t: exponent of 'invscaling' (default 0.5).
        max_iter: maximum number of epochs (default 200).
        shuffle: reshuffle the samples every epoch (default True).
        random_state: seed of the initial weights, shuffling and validation split (default None).
        tol: stop when the epoch loss (or validation accuracy) has not improved by tol for
            ``n_iter_no_change`` epochs ('lbfgs': when no gradient component exceeds tol; default
            1e-4; None: run ``max_iter`` epochs).
        verbose: show a progress bar over the epochs (default 0).
        warm_start: start ``fit`` from the previous solution (default False).
        momentum, nesterovs_momentum: of 'sgd' (default 0.9, True).
        early_stopping: hold out ``validation_fraction`` (default 0.1) and stop on its accuracy,
            keeping the best weights (default False).
        beta_1, beta_2, epsilon: of the 'adam' solver (default 0.9, 0.999, 1e-8).
        n_iter_no_change: see ``tol`` (default 10).
        max_fun: 'lbfgs': at most this many loss evaluations (default 15000).

    Attributes:
        network_: the fitted ``nn.Sequential``: hidden1, activation1, ..., output, output_activation.
        coefs_, intercepts_: weight matrices (fan_in, fan_out) and bias vectors, layer by layer.
        also: classes_, n_features_in_, feature_names_in_ (for a DataFrame), n_iter_, t_, loss_,
            loss_curve_, best_loss_, validation_scores_, best_validation_score_, n_layers_,
            n_outputs_, out_activation_ ('logistic' or 'softmax').

    Example:
        >>> from sklearn.datasets import load_iris
        >>> from chainrule.estimators import MLPClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=500,
        ...                     random_state=0).fit(X, y)
        >>> clf.score(X, y) > 0.95
        True
        >>> [w.shape for w in clf.coefs_]
        [(4, 16), (16, 3)]
    """

    def _output_activation(self, n_outputs: int) -> str:
        return "logistic" if n_outputs == 1 else "softmax"


class MLPRegressor(RegressorBase, _MLP):
    """A multi-layer perceptron regressor trained by backpropagation on half the squared error.

    The loss of a batch is 0.5 * mean((y - output)²) plus scikit-learn's MLP L2 term; the output
    layer has one neuron per target and no activation.

    Args:
        all: hidden_layer_sizes, activation, solver, alpha, batch_size, learning_rate,
            learning_rate_init, power_t, max_iter, shuffle, random_state, tol, verbose, warm_start,
            momentum, nesterovs_momentum, early_stopping (on the validation R²), validation_fraction,
            beta_1, beta_2, epsilon, n_iter_no_change, max_fun: as in ``MLPClassifier`` (same
            defaults).

    Attributes:
        all: network_, coefs_, intercepts_, n_features_in_, feature_names_in_, n_iter_, t_, loss_,
            loss_curve_, best_loss_, validation_scores_, best_validation_score_, n_layers_,
            n_outputs_: as in ``MLPClassifier``; out_activation_ is 'identity'.

    Example:
        >>> import numpy as np
        >>> from chainrule.estimators import MLPRegressor
        >>> X = np.random.default_rng(0).uniform(-1, 1, size=(200, 1))
        >>> y = X[:, 0] ** 2
        >>> reg = MLPRegressor(hidden_layer_sizes=(32,), activation="tanh", learning_rate_init=0.01,
        ...                    max_iter=500, random_state=0).fit(X, y)
        >>> reg.score(X, y) > 0.95
        True
    """

    def _output_activation(self, n_outputs: int) -> str:
        return "identity"

    def _sample_losses(self, scores: Tensor, targets: np.ndarray) -> Tensor:
        return F.mse_loss(scores, targets, reduction="none").mean(axis=1) * 0.5
