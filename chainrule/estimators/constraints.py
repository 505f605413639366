"""The estimators' parameter constraints: what each constructor argument accepts, checked by ``fit``.

scikit-learn's contract (DESIGN.md, rule 9): ``__init__`` stores its arguments and ``fit`` checks
them against the class's declared constraints (``_constraints``: parameter name -> the kinds of
value it accepts), raising ``InvalidParameterError`` before anything changes. A value is accepted
when any one of its constraints accepts it.

Example:
    >>> from chainrule.estimators.constraints import Interval, NONE, describe
    >>> constraints = (Interval(float, 0, None), NONE)
    >>> [any(c.accepts(v) for c in constraints) for v in (1e-3, None, -1.0)]
    [True, True, False]
    >>> describe(constraints)
    'a float >= 0 or None'
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

__all__ = [
    "InvalidParameterError",
    "Constraint",
    "Interval",
    "Options",
    "Exactly",
    "OfType",
    "Satisfies",
    "describe",
    "check_params",
    "BOOLEAN",
    "NONE",
    "RANDOM_STATE",
    "CLASS_WEIGHT",
    "LAYER_SIZES",
    "SOLVERS",
    "RENAMED_SOLVERS",
    "LEARNING_RATES",
    "SOLVER",
    "STEP_SIZE",
    "ALPHA",
    "INVERSE_REGULARIZATION",
    "COMMON_CONSTRAINTS",
]

SOLVERS = ("lbfgs", "sgd", "adam", "gd")
"""The training algorithms (see ``chainrule.estimators.base``): scikit-learn's three and 'gd'."""
RENAMED_SOLVERS = {
    "minibatch": "solver='sgd' with momentum=0 (and batch_size, default 'auto': min(200, n_samples))",
    "momentum": "solver='sgd' (scikit-learn's name: mini-batch SGD with momentum and nesterovs_momentum)",
}
"""Solver names chainrule used before its ``solver`` followed scikit-learn's, and what to write
instead (the old one-sample 'sgd' is now ``solver='sgd', batch_size=1, momentum=0``)."""
LEARNING_RATES = ("constant", "invscaling", "adaptive")
"""The learning-rate schedules (see ``chainrule.estimators.base``)."""


class InvalidParameterError(ValueError, TypeError):
    """A constructor argument of the wrong type or value, reported by ``fit`` (like scikit-learn's,
    it is both a ValueError and a TypeError).

    Example:
        >>> from chainrule.estimators import InvalidParameterError, LogisticRegression
        >>> try:
        ...     LogisticRegression(C=-1.0).fit([[0.0], [1.0]], [0, 1])
        ... except InvalidParameterError as error:
        ...     print(error)
        LogisticRegression: the 'C' parameter must be a float > 0; got -1.0
    """


class Constraint:
    """One acceptable kind of value for a constructor argument: subclasses define ``accepts`` and
    ``describe`` (the words that complete "the parameter must be ...").

    Example:
        >>> from chainrule.estimators.constraints import Constraint
        >>> class Even(Constraint):
        ...     def accepts(self, value):
        ...         return isinstance(value, int) and value % 2 == 0
        ...     def describe(self):
        ...         return "an even int"
        >>> Even().accepts(4), Even().describe()
        (True, 'an even int')
    """

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` is of this kind."""
        raise NotImplementedError(f"{type(self).__name__} must define accepts")

    def describe(self) -> str:
        """The kind in words, e.g. 'an int >= 1'."""
        raise NotImplementedError(f"{type(self).__name__} must define describe")

    def hint(self, value: Any) -> str | None:
        """What to write instead of a rejected ``value``, when this constraint knows (default None)."""
        return None


class Interval(Constraint):
    """A number of a kind (int or float; an int is a float too) between ``low`` and ``high``.

    Args:
        kind: ``int`` or ``float``.
        low, high: the bounds; None is no bound (default None).
        closed: which bounds belong to the interval, 'both' (default), 'left', 'right' or 'neither'.

    Booleans and NaN are never accepted.

    Example:
        >>> from chainrule.estimators.constraints import Interval
        >>> fraction = Interval(float, 0, 1, closed="neither")
        >>> fraction.accepts(0.1), fraction.accepts(1), fraction.accepts(True)
        (True, False, False)
        >>> fraction.describe()
        'a float in (0, 1)'
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
    """One of a few strings.

    Args:
        *options: the accepted strings.
        hints: {rejected string: what to write instead} (default none), e.g. for a renamed option.

    Example:
        >>> from chainrule.estimators.constraints import Options
        >>> loss = Options("hinge", "squared_hinge", hints={"log": "LogisticRegression"})
        >>> loss.accepts("hinge"), loss.describe(), loss.hint("log")
        (True, "one of 'hinge', 'squared_hinge'", 'LogisticRegression')
    """

    def __init__(self, *options: str, hints: Mapping[str, str] | None = None):
        self.options = options
        self.hints = dict(hints or {})

    def hint(self, value: Any) -> str | None:
        return self.hints.get(value) if isinstance(value, str) else None

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str) and value in self.options

    def describe(self) -> str:
        if len(self.options) == 1:
            return repr(self.options[0])
        return "one of " + ", ".join(repr(o) for o in self.options)


class Exactly(Constraint):
    """A single value (None, for instance), compared by identity.

    Example:
        >>> from chainrule.estimators.constraints import Exactly
        >>> Exactly(None).accepts(None), Exactly(None).accepts(0), Exactly(None).describe()
        (True, False, 'None')
    """

    def __init__(self, value: Any):
        self.value = value

    def accepts(self, value: Any) -> bool:
        return value is self.value

    def describe(self) -> str:
        return repr(self.value)


class OfType(Constraint):
    """An instance of some types (``bool`` accepts NumPy's bool too).

    Example:
        >>> import numpy as np
        >>> from chainrule.estimators.constraints import OfType
        >>> flag = OfType(bool, name="True or False")
        >>> flag.accepts(np.True_), flag.accepts(1), flag.describe()
        (True, False, 'True or False')
    """

    def __init__(self, *types: type, name: str):
        self.types = tuple(types) + ((np.bool_,) if bool in types else ())
        self.name = name

    def accepts(self, value: Any) -> bool:
        return isinstance(value, self.types)

    def describe(self) -> str:
        return self.name


class Satisfies(Constraint):
    """Any value a predicate accepts (a predicate that raises TypeError or ValueError rejects).

    Example:
        >>> from chainrule.estimators.constraints import Satisfies
        >>> odd = Satisfies(lambda v: v % 2 == 1, "an odd number")
        >>> odd.accepts(3), odd.accepts("3"), odd.describe()
        (True, False, 'an odd number')
    """

    def __init__(self, predicate: Callable[[Any], bool], name: str):
        self.predicate, self.name = predicate, name

    def accepts(self, value: Any) -> bool:
        try:
            return bool(self.predicate(value))
        except (TypeError, ValueError):
            return False

    def describe(self) -> str:
        return self.name


def describe(constraints: tuple[Constraint, ...]) -> str:
    """What a parameter with these constraints must be, in words.

    Example:
        >>> from chainrule.estimators.constraints import COMMON_CONSTRAINTS, describe
        >>> describe(COMMON_CONSTRAINTS["batch_size"])
        "'auto' or an int >= 1"
    """
    return " or ".join(c.describe() for c in constraints)


def check_params(estimator: Any, constraints: Mapping[str, tuple[Constraint, ...]]) -> None:
    """Check each named attribute of ``estimator`` against its constraints; raise
    ``InvalidParameterError`` naming the estimator, the parameter, what it must be and what it is.

    Example:
        >>> from chainrule.estimators import Perceptron
        >>> from chainrule.estimators.constraints import COMMON_CONSTRAINTS, check_params
        >>> check_params(Perceptron(), COMMON_CONSTRAINTS)  # the defaults pass
        >>> try:
        ...     check_params(Perceptron(max_iter=0), COMMON_CONSTRAINTS)
        ... except ValueError as error:
        ...     print(error)
        Perceptron: the 'max_iter' parameter must be an int >= 1; got 0
    """
    name = type(estimator).__name__
    for param, accepted in constraints.items():
        value = getattr(estimator, param)
        if not any(c.accepts(value) for c in accepted):
            message = f"{name}: the {param!r} parameter must be {describe(accepted)}; got {value!r}"
            hint = next((h for h in (c.hint(value) for c in accepted) if h), None)
            raise InvalidParameterError(message if hint is None else f"{message}: write {hint}")


BOOLEAN = OfType(bool, name="True or False")
NONE = Exactly(None)


def _is_random_state(value: Any) -> bool:
    if isinstance(value, np.random.RandomState):
        return True
    return Interval(int, 0, 2**32 - 1).accepts(value)


RANDOM_STATE = (NONE, Satisfies(_is_random_state, "an int in [0, 2**32 - 1] or a numpy RandomState"))


def _is_class_weight_dict(value: Any) -> bool:
    return isinstance(value, dict) and all(Interval(float, 0, None).accepts(w) for w in value.values())


CLASS_WEIGHT = (NONE, Options("balanced"), Satisfies(_is_class_weight_dict, "a dict {class: weight >= 0}"))


def _is_layer_sizes(value: Any) -> bool:
    """An int >= 1, or a sequence (possibly empty: no hidden layer) of them."""
    if isinstance(value, (str, bool, np.bool_)):
        return False
    sizes = [value] if isinstance(value, numbers.Integral) else list(value)
    return all(isinstance(s, numbers.Integral) and not isinstance(s, (bool, np.bool_)) and s >= 1 for s in sizes)


LAYER_SIZES = (Satisfies(_is_layer_sizes, "an int >= 1 or a sequence of them"),)
"""The MLPs' ``hidden_layer_sizes``."""

SOLVER = (Options(*SOLVERS, hints=RENAMED_SOLVERS),)
"""``solver`` of every estimator but the Perceptron."""
STEP_SIZE = (Interval(float, 0, None, closed="neither"),)
"""``learning_rate_init`` (the Perceptron's ``eta0``)."""
ALPHA = (Interval(float, 0, None),)
"""``alpha``: the Perceptron's, LinearRegression's and the MLPs' L2 coefficient."""
INVERSE_REGULARIZATION = (Interval(float, 0, None, closed="neither"),)
"""``C`` of LogisticRegression and LinearSVC: > 0, ``np.inf`` for no penalty."""

COMMON_CONSTRAINTS: dict[str, tuple[Constraint, ...]] = {
    "learning_rate": (Options(*LEARNING_RATES),),
    "power_t": (Interval(float, 0, None),),
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
"""The constraints of the parameters every estimator here has (each adds its ``solver``, its
step size and its regularisation: ``SOLVER``, ``STEP_SIZE``, ``ALPHA`` or ``C``)."""
