"""Which measurements drive a breast-cancer classifier? Three explanations compared.

A chainrule MLPClassifier (scikit-learn's interface) learns to tell malignant from benign tumours
from 30 measurements of cell nuclei (standardised). Three methods then rank the features:

* integrated gradients: the mean |attribution| over the test rows, for the network's one output,
  the probability of "benign" (gradients through the network; baseline zero = the average tumour);
* permutation importance: how much the test accuracy drops when one column is shuffled (no
  gradient; works for any model; scikit-learn's idea);
* LIME: the mean |weight| of a local linear surrogate fitted around each of 20 test rows.

The script prints each method's five most important features and the rank correlation of the
rankings. The gradient methods and LIME both explain the model around single rows and agree
closely; permutation importance measures what the accuracy needs over the whole test set, and
shares their top features (the worst texture and concavity of the nuclei) more than their order.
A second picture shows LIME's weights for one row.

Run:  python examples/explain_breast_cancer.py [--out examples/output] [--seed 0]
Writes: explain_breast_cancer.png (the three rankings), explain_breast_cancer_lime.png (one row).
"""

import argparse
import os

import numpy as np

from chainrule import explain, viz
from chainrule.data import load_dataset, train_test_split
from chainrule.estimators import MLPClassifier


def ranks(values: np.ndarray) -> np.ndarray:
    return np.argsort(np.argsort(-values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join("examples", "output"), help="folder for the PNGs")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    data = load_dataset("breast_cancer")
    names = [str(n) for n in data.feature_names]
    X_train, X_test, y_train, y_test = train_test_split(
        data.X, data.y, test_size=0.25, stratify=data.y, random_state=args.seed
    )
    mean, std = X_train.mean(axis=0), X_train.std(axis=0)
    X_train, X_test = (X_train - mean) / std, (X_test - mean) / std
    clf = MLPClassifier((32,), max_iter=1000, random_state=args.seed).fit(X_train, y_train)
    print(f"test accuracy: {clf.score(X_test, y_test):.3f}")

    # a binary classifier has one output, the probability of its second class: no target to choose
    ig = explain.integrated_gradients(clf, X_test)
    permutation = explain.permutation_importance(clf, X_test, y_test, n_repeats=10, seed=args.seed)  # the labels
    lime = explain.lime(clf, X_test[:20], seed=args.seed)
    rankings = {
        "integrated gradients": np.abs(ig).mean(axis=0),
        "permutation": permutation.importances_mean,
        "LIME": np.abs(lime.coefficients).mean(axis=0),
    }
    for method, values in rankings.items():
        top = np.argsort(-values)[:5]
        print(f"{method:>21}: {', '.join(names[j] for j in top)}")
    base = ranks(rankings["integrated gradients"])
    for method in ("permutation", "LIME"):
        rho = np.corrcoef(base, ranks(rankings[method]))[0, 1]
        print(f"rank correlation with integrated gradients: {method} {rho:.2f}")

    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "explain_breast_cancer.png")
    viz.plot_feature_importances(
        rankings, names, top=12, title="breast cancer: the 12 most important features", path=path
    )
    lime_path = os.path.join(args.out, "explain_breast_cancer_lime.png")
    viz.plot_lime(lime, 0, names, top=10, path=lime_path)
    print(f"wrote {path} and {lime_path}")


if __name__ == "__main__":
    main()
