"""chainrule.estimators against scikit-learn: test accuracy / R², fit time and, with 'lbfgs', the loss.

Every classifier is trained on scikit-learn's bundled iris, breast_cancer and digits, the
regressors on diabetes; each dataset is split once (half for testing, stratified for the
classifiers, ``random_state=0``) and standardised with a StandardScaler fitted on the training
half. Each chainrule estimator is set up to do the job its scikit-learn counterpart does (see
``CASES``: same regularisation, trained to convergence) with chainrule's teaching solvers (Adam,
gradient descent, Rosenblatt's rule), and the two are fitted and scored one after the other.

The lbfgs columns fit both libraries with the L-BFGS solver and scikit-learn's settings (its
liblinear for LinearSVC, its closed form for LinearRegression: the exact minimum) and compare the
training loss each reaches, the objective both minimise (``training_loss``), as a relative
difference: chainrule's ``solver='lbfgs'`` is scipy's L-BFGS-B on chainrule's autodiff gradient,
as scikit-learn's lbfgs is scipy's on its hand-written one.

Fit times are wall-clock seconds of one ``fit`` (the median of ``--repeats`` fits), both
libraries in this one process: unlike ``overhead.py``, whose per-step timings need a process per
library, these fits differ by 10-1000x, far more than what OpenBLAS's spinning threads move. Set
``OPENBLAS_NUM_THREADS=1`` on a machine that other jobs share.

``tests/estimators/test_parity.py`` asserts the accuracy parity on these very cases, and
``tests/estimators/test_lbfgs.py`` the lbfgs losses.

Usage::

    python benchmarks/estimators_parity.py               # prints a markdown table
    python benchmarks/estimators_parity.py --repeats 3 --json benchmarks/results/estimators_parity.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # import chainrule from this checkout
    sys.path.insert(0, str(REPO_ROOT))

from sklearn import datasets, linear_model, neural_network, svm  # noqa: E402
from sklearn.compose import TransformedTargetRegressor  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.metrics import log_loss  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from chainrule import estimators as cre  # noqa: E402

CLASSIFICATION = ("iris", "breast_cancer", "digits")
REGRESSION = ("diabetes",)
TEST_SIZE = 0.5
"""Half the samples for testing: on iris one test sample is then 1.3 accuracy points."""
SPLIT_SEED = 0


@dataclass(frozen=True)
class Lbfgs:
    """The lbfgs columns of a row: both libraries fitted with L-BFGS (``sklearn``, ``chainrule``:
    factories like ``Case``'s) and the training loss they reach (``loss(model, X, y)``)."""

    sklearn: Callable[[int, int], Any]
    chainrule: Callable[[int, int], Any]
    loss: Callable[[Any, np.ndarray, np.ndarray], float]
    settings: str


@dataclass(frozen=True)
class Case:
    """One row of the table: an estimator pair on a dataset.

    ``sklearn`` and ``chainrule`` build the two estimators from the number of training samples and
    a seed; the score is averaged over ``seeds`` (one seed unless the fits are noisy); the parity
    test requires ``|chainrule - sklearn| <= tolerance``. ``lbfgs`` (None: not applicable) adds the
    L-BFGS fits of both libraries, on the first seed.
    """

    dataset: str
    estimator: str
    sklearn: Callable[[int, int], Any]
    chainrule: Callable[[int, int], Any]
    tolerance: float
    settings: str
    seeds: tuple[int, ...] = (0,)
    lbfgs: Lbfgs | None = None

    @property
    def metric(self) -> str:
        return "R²" if self.dataset in REGRESSION else "accuracy"


def _scaled_target(model: Any) -> TransformedTargetRegressor:
    """Standardise y too (diabetes' targets are around 150): both MLPs then converge quickly."""
    return TransformedTargetRegressor(regressor=model, transformer=StandardScaler())


# ------------------------------------------------------------------ the training losses
# The objective each lbfgs fit minimises, computed from the fitted model the same way for both
# libraries (they share scikit-learn's attributes), in its mean form: the mean loss plus the
# penalty divided by the number of samples.


def logistic_loss(model: Any, X: np.ndarray, y: np.ndarray) -> float:
    """Mean log-loss + 0.5 ||W||² / (C n): scikit-learn's LogisticRegression objective / (C n)."""
    return float(log_loss(y, model.predict_proba(X), labels=model.classes_)) + 0.5 * float(np.sum(model.coef_**2)) / (
        model.C * len(X)
    )


def squared_hinge_loss(model: Any, X: np.ndarray, y: np.ndarray) -> float:
    """liblinear's LinearSVC objective / (C n): the mean over samples of the one-vs-rest squared
    hinges summed over the classes, + 0.5 (||W||² + ||b||²) / (C n) (the intercept is penalised)."""
    scores = model.decision_function(X)
    scores = scores[:, None] if scores.ndim == 1 else scores
    if scores.shape[1] == 1:
        signs = np.where(y == model.classes_[1], 1.0, -1.0)[:, None]
    else:
        signs = np.where(y[:, None] == model.classes_[None, :], 1.0, -1.0)
    hinge = np.maximum(0.0, 1.0 - signs * scores) ** 2
    penalty = 0.5 * (np.sum(model.coef_**2) + np.sum(np.asarray(model.intercept_) ** 2))
    return float(hinge.sum(axis=1).mean() + penalty / (model.C * len(X)))


def squared_error(model: Any, X: np.ndarray, y: np.ndarray) -> float:
    """Mean squared error (LinearRegression's objective, unpenalised)."""
    return float(np.mean((y - model.predict(X)) ** 2))


def mlp_loss(model: Any, X: np.ndarray, y: np.ndarray) -> float:
    """The MLP's ``loss_``: its objective at the solution (the same definition in both libraries:
    mean log-loss or half squared error + alpha * 0.5 ||W||² / n; for a TransformedTargetRegressor,
    on the transformed y)."""
    return float(getattr(model, "regressor_", model).loss_)


# The settings that make each pair do the same job. C: scikit-learn's LogisticRegression and
# LinearSVC minimise 0.5 ||w||² + C sum(loss), and so do chainrule's (mean(loss) + 0.5 ||w||² / (C n)).
PERCEPTRON = "shuffle=False, tol=None, max_iter=20 (the same sample order: identical weights)"
LOGISTIC = "C=1; chainrule: full-batch Adam, lr 0.05, tol 1e-6 (converged)"
SVC = "C=1, squared hinge; chainrule: full-batch Adam, lr 0.1, tol 1e-5 (converged)"
MLP_CLASSIFIER = "defaults: (100,) ReLU, Adam lr 1e-3, batch 200, max_iter 200, random_state=0"
LINEAR_REGRESSION = "scikit-learn: closed form; chainrule: full-batch GD, lr 0.1 (defaults)"
MLP_REGRESSOR = "(10,) tanh, alpha=1, Adam lr 0.01, max_iter 500, y standardised; mean of seeds 0-4"
LBFGS_LOGISTIC = "both: the defaults (C=1, lbfgs, tol 1e-4) with max_iter=1000"
LBFGS_SVC = "C=1, squared hinge; scikit-learn: liblinear, max_iter=10000; chainrule: the defaults (lbfgs)"
LBFGS_MLP_CLASSIFIER = "both: solver='lbfgs', (100,) ReLU, max_iter 200, random_state=0 (the same initial weights)"
LBFGS_LINEAR_REGRESSION = "scikit-learn: closed form; chainrule: solver='lbfgs'"
LBFGS_MLP_REGRESSOR = "both: solver='lbfgs', (10,) tanh, alpha=1, max_iter 200, y standardised, random_state=0"


def _cases() -> list[Case]:
    cases = []
    for data in CLASSIFICATION:
        cases += [
            Case(
                data,
                "Perceptron",
                lambda n, s: linear_model.Perceptron(shuffle=False, tol=None, max_iter=20),
                lambda n, s: cre.Perceptron(shuffle=False, tol=None, max_iter=20),
                tolerance=0.015,
                settings=PERCEPTRON,
            ),
            Case(
                data,
                "LogisticRegression",
                lambda n, s: linear_model.LogisticRegression(C=1.0, max_iter=5000),
                lambda n, s: cre.LogisticRegression(
                    C=1.0, solver="adam", batch_size=n, learning_rate_init=0.05, tol=1e-6, max_iter=3000
                ),
                tolerance=0.015,
                settings=LOGISTIC,
                lbfgs=Lbfgs(
                    lambda n, s: linear_model.LogisticRegression(max_iter=1000),
                    lambda n, s: cre.LogisticRegression(max_iter=1000),
                    logistic_loss,
                    LBFGS_LOGISTIC,
                ),
            ),
            Case(
                data,
                "LinearSVC",
                lambda n, s: svm.LinearSVC(C=1.0, max_iter=10000),
                lambda n, s: cre.LinearSVC(
                    C=1.0, solver="adam", batch_size=n, learning_rate_init=0.1, tol=1e-5, max_iter=3000
                ),
                tolerance=0.015,
                settings=SVC,
                lbfgs=Lbfgs(
                    lambda n, s: svm.LinearSVC(C=1.0, max_iter=10000),
                    lambda n, s: cre.LinearSVC(C=1.0),
                    squared_hinge_loss,
                    LBFGS_SVC,
                ),
            ),
            Case(
                data,
                "MLPClassifier",
                lambda n, s: neural_network.MLPClassifier(random_state=s),
                lambda n, s: cre.MLPClassifier(random_state=s),
                tolerance=0.015,
                settings=MLP_CLASSIFIER,
                lbfgs=Lbfgs(
                    lambda n, s: neural_network.MLPClassifier(solver="lbfgs", random_state=s),
                    lambda n, s: cre.MLPClassifier(solver="lbfgs", random_state=s),
                    mlp_loss,
                    LBFGS_MLP_CLASSIFIER,
                ),
            ),
        ]
    mlp_regressor = dict(hidden_layer_sizes=(10,), activation="tanh", alpha=1.0, learning_rate_init=0.01, max_iter=500)
    lbfgs_regressor = dict(hidden_layer_sizes=(10,), activation="tanh", alpha=1.0, solver="lbfgs")
    cases += [
        Case(
            "diabetes",
            "LinearRegression",
            lambda n, s: linear_model.LinearRegression(),
            lambda n, s: cre.LinearRegression(),
            tolerance=0.01,
            settings=LINEAR_REGRESSION,
            lbfgs=Lbfgs(
                lambda n, s: linear_model.LinearRegression(),
                lambda n, s: cre.LinearRegression(solver="lbfgs", tol=1e-6, max_iter=1000),
                squared_error,
                LBFGS_LINEAR_REGRESSION,
            ),
        ),
        Case(
            "diabetes",
            "MLPRegressor",
            lambda n, s: _scaled_target(neural_network.MLPRegressor(random_state=s, **mlp_regressor)),
            lambda n, s: _scaled_target(cre.MLPRegressor(random_state=s, **mlp_regressor)),
            tolerance=0.03,
            settings=MLP_REGRESSOR,
            seeds=(0, 1, 2, 3, 4),
            lbfgs=Lbfgs(
                lambda n, s: _scaled_target(neural_network.MLPRegressor(random_state=s, **lbfgs_regressor)),
                lambda n, s: _scaled_target(cre.MLPRegressor(random_state=s, **lbfgs_regressor)),
                mlp_loss,
                LBFGS_MLP_REGRESSOR,
            ),
        ),
    ]
    return cases


CASES: list[Case] = _cases()


def load_split(dataset: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(X_train, X_test, y_train, y_test) of a bundled dataset, X standardised on the training half."""
    X, y = getattr(datasets, f"load_{dataset}")(return_X_y=True)
    stratify = y if dataset in CLASSIFICATION else None
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=TEST_SIZE, random_state=SPLIT_SEED, stratify=stratify
    )
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def fit_and_score(
    make: Callable[[int, int], Any], split: tuple, seeds: tuple[int, ...], repeats: int = 1
) -> tuple[float, float]:
    """(mean test score over the seeds, median seconds per fit) of one library on one case."""
    X_train, X_test, y_train, y_test = split
    scores, times = [], []
    for seed in seeds:
        for _ in range(repeats):
            model, seconds = _timed_fit(make, X_train, y_train, seed)
            times.append(seconds)
        scores.append(float(model.score(X_test, y_test)))
    return float(np.mean(scores)), float(statistics.median(times))


def fit_lbfgs_pair(lbfgs: Lbfgs, split: tuple, seed: int = 0, repeats: int = 1) -> dict[str, float]:
    """Both libraries' L-BFGS fits of a case: test scores, training losses (and their relative
    difference, chainrule's minus scikit-learn's over scikit-learn's) and median fit times."""
    X_train, X_test, y_train, y_test = split
    out: dict[str, float] = {}
    for library, make in (("sklearn", lbfgs.sklearn), ("chainrule", lbfgs.chainrule)):
        times = []
        for _ in range(repeats):
            model, seconds = _timed_fit(make, X_train, y_train, seed)
            times.append(seconds)
        out[f"lbfgs_{library}"] = float(model.score(X_test, y_test))
        out[f"lbfgs_{library}_loss"] = lbfgs.loss(model, X_train, y_train)
        out[f"lbfgs_{library}_seconds"] = float(statistics.median(times))
    out["lbfgs_loss_difference"] = (out["lbfgs_chainrule_loss"] - out["lbfgs_sklearn_loss"]) / out["lbfgs_sklearn_loss"]
    return out


def _timed_fit(make: Callable[[int, int], Any], X: np.ndarray, y: np.ndarray, seed: int) -> tuple[Any, float]:
    model = make(len(X), seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        model.fit(X, y)
        return model, time.perf_counter() - start


def run(repeats: int = 1, progress: bool = True) -> list[dict[str, Any]]:
    """Every case, both libraries; one dict per row."""
    rows, splits = [], {}
    for case in CASES:
        if case.dataset not in splits:
            splits[case.dataset] = load_split(case.dataset)
        if progress:
            print(f"  {case.estimator} on {case.dataset} ...", file=sys.stderr, flush=True)
        sk_score, sk_time = fit_and_score(case.sklearn, splits[case.dataset], case.seeds, repeats)
        cr_score, cr_time = fit_and_score(case.chainrule, splits[case.dataset], case.seeds, repeats)
        row = {
            "estimator": case.estimator,
            "dataset": case.dataset,
            "metric": case.metric,
            "sklearn": sk_score,
            "chainrule": cr_score,
            "difference": cr_score - sk_score,
            "tolerance": case.tolerance,
            "sklearn_seconds": sk_time,
            "chainrule_seconds": cr_time,
            "settings": case.settings,
        }
        if case.lbfgs is not None:
            row.update(fit_lbfgs_pair(case.lbfgs, splits[case.dataset], case.seeds[0], repeats))
            row["lbfgs_settings"] = case.lbfgs.settings
        rows.append(row)
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    """The table (scores in %, R² as is), then the settings of each estimator."""
    lines = [
        "| estimator | dataset | metric | scikit-learn | chainrule | difference | fit time sklearn | "
        "fit time chainrule | time ratio | lbfgs: scikit-learn | lbfgs: chainrule | lbfgs: loss vs scikit-learn "
        "| lbfgs: time sklearn | lbfgs: time chainrule |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        percent = r["metric"] == "accuracy"
        value = (lambda v: f"{100 * v:.2f}%") if percent else (lambda v: f"{v:.4f}")
        diff = f"{100 * r['difference']:+.2f} pts" if percent else f"{r['difference']:+.4f}"
        if "lbfgs_chainrule" in r:
            lbfgs = (
                f"{value(r['lbfgs_sklearn'])} | {value(r['lbfgs_chainrule'])} | {r['lbfgs_loss_difference']:+.1e} "
                f"| {r['lbfgs_sklearn_seconds'] * 1000:.1f} ms | {r['lbfgs_chainrule_seconds'] * 1000:.1f} ms"
            )
        else:
            lbfgs = "— | — | — | — | —"
        lines.append(
            f"| {r['estimator']} | {r['dataset']} | {r['metric']} | {value(r['sklearn'])} | {value(r['chainrule'])} "
            f"| {diff} | {r['sklearn_seconds'] * 1000:.1f} ms | {r['chainrule_seconds'] * 1000:.1f} ms "
            f"| {r['chainrule_seconds'] / r['sklearn_seconds']:.1f}x | {lbfgs} |"
        )
    lines.append("")
    seen: dict[str, str] = {}
    for r in rows:
        seen.setdefault(r["estimator"], r["settings"])
        if "lbfgs_settings" in r:
            seen.setdefault(f"{r['estimator']} (lbfgs)", r["lbfgs_settings"])
    lines += [f"- {name}: {settings}" for name, settings in seen.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1, help="fits per library and seed; the median time is shown")
    parser.add_argument("--json", help="also write the rows to this JSON file")
    args = parser.parse_args(argv)
    rows = run(repeats=args.repeats)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import _common

    print(markdown(rows))
    print()
    machine = _common.machine_summary()
    print("machine: " + ", ".join(f"{k}={v}" for k, v in machine.items()))
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"machine": machine, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
