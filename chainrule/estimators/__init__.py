"""scikit-learn estimators built from chainrule networks: the one-neuron classics and MLPs.

Each estimator is a chainrule network (``network_``) trained on its loss through chainrule's
autodiff, and a scikit-learn estimator in full: the same parameters with the same meanings and
defaults as its scikit-learn namesake (swap the import, get scikit-learn's solution), and it works
in ``Pipeline``, ``GridSearchCV``, ``cross_val_score``, ``clone`` and ``permutation_importance``,
and passes scikit-learn's ``parametrize_with_checks`` suite. Warnings are scikit-learn's classes
(``sklearn.exceptions.ConvergenceWarning``), so its filters catch them.

- ``Perceptron``: Linear -> Step, the perceptron criterion (Rosenblatt's update).
- ``LogisticRegression``: Linear -> Sigmoid / Softmax, log-loss, ``C``; 'lbfgs' by default.
- ``LinearSVC``: Linear, (squared) hinge loss, ``C``; 'lbfgs' by default.
- ``LinearRegression``: Linear, squared error (ridge with ``alpha``).
- ``MLPClassifier``, ``MLPRegressor``: hidden layers of neurons, as scikit-learn's; 'adam' by default.

``solver`` is scikit-learn's: 'lbfgs' (scipy's L-BFGS-B, the gradient by chainrule's autodiff),
'sgd' (mini-batches of ``batch_size``, 'auto' = min(200, n_samples), with ``momentum`` and
``nesterovs_momentum``), 'adam', and chainrule's 'gd' (full-batch gradient descent). One-sample
SGD is ``solver='sgd', batch_size=1, momentum=0`` (the Perceptron's default). The stochastic
solvers take ``learning_rate_init`` (the Perceptron: ``eta0``) and ``learning_rate``
('constant', 'invscaling', 'adaptive'), ``max_iter`` (epochs), ``tol`` and ``n_iter_no_change``,
``early_stopping`` with ``validation_fraction``, ``shuffle``, ``random_state``, ``warm_start``,
``verbose`` (a progress bar), ``class_weight`` (the linear classifiers). See
``chainrule.estimators.base`` for the training and ``chainrule.estimators.solver`` for the
solvers; ``chainrule.estimators.constraints`` holds what each parameter accepts.

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
