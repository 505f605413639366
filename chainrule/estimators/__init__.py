"""scikit-learn estimators built from chainrule networks: the one-neuron classics and MLPs.

Each estimator is a chainrule network (``network_``) trained by gradient descent on its loss
through chainrule's autodiff and optimisers, and a scikit-learn estimator in full: it works in
``Pipeline``, ``GridSearchCV``, ``cross_val_score``, ``clone`` and ``permutation_importance``, and
passes scikit-learn's ``parametrize_with_checks`` suite.

- ``Perceptron``: Linear -> Step, the perceptron criterion (Rosenblatt's update).
- ``LogisticRegression``: Linear -> Sigmoid / Softmax, log-loss.
- ``LinearSVC``: Linear, (squared) hinge loss.
- ``LinearRegression``: Linear, squared error (ridge with ``alpha``).
- ``MLPClassifier``, ``MLPRegressor``: hidden layers of neurons, as scikit-learn's.

Common parameters, named as scikit-learn names them: ``solver`` ('gd' full batch, 'sgd' one sample
a step, 'minibatch', 'momentum', 'adam'), ``learning_rate_init`` and ``learning_rate``
('constant', 'invscaling', 'adaptive'), ``alpha`` (L2), ``max_iter`` (epochs), ``tol`` and
``n_iter_no_change``, ``early_stopping`` with ``validation_fraction``, ``shuffle``,
``random_state``, ``warm_start``, ``verbose`` (a progress bar), ``batch_size``, ``class_weight``
(the linear classifiers). See ``chainrule.estimators.base`` for the training and
``chainrule.estimators.solver`` for how it runs through ``chainrule.train.fit``;
``chainrule.estimators.constraints`` holds what each parameter accepts.

This package needs scikit-learn (``pip install "chainrule[sklearn]"``); ``import chainrule`` does
not import it.

Example:
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.model_selection import cross_val_score
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from chainrule.estimators import LogisticRegression
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> model = make_pipeline(StandardScaler(), LogisticRegression())
    >>> bool(cross_val_score(model, X, y, cv=3).mean() > 0.95)
    True
"""

from chainrule.estimators.constraints import InvalidParameterError
from chainrule.estimators.linear import LinearRegression, LinearSVC, LogisticRegression, Perceptron
from chainrule.estimators.mlp import MLPClassifier, MLPRegressor

__all__ = [
    "Perceptron",
    "LogisticRegression",
    "LinearSVC",
    "LinearRegression",
    "MLPClassifier",
    "MLPRegressor",
    "InvalidParameterError",
]
