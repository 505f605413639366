"""Regenerate chainrule's embedded datasets from scikit-learn's bundled copies.

chainrule ships five small classic datasets as compressed ``.npz`` files in
``chainrule/data/_embedded/`` so that examples and tests run offline with NumPy
only. This script rebuilds those files; it is the only place that needs
scikit-learn::

    pip install scikit-learn
    python scripts/make_embedded_datasets.py

Each file holds plain (never pickled) arrays:

``X``              features; ``uint8`` when every value is a small non-negative
                   integer (digits pixels, 0..16), otherwise ``float32``
``y``              ``int64`` class labels, or ``float32`` regression targets
``feature_names``  unicode string array, one name per column of ``X``
``target_names``   unicode string array, one name per class (classification only)
``task``           0-d string: ``"classification"`` or ``"regression"``
``description``    0-d string: what the data is, its original source and licence

The loader (``chainrule.data.datasets``) converts ``X`` to ``float32``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import sklearn
from sklearn import datasets as skdatasets

OUT_DIR = Path(__file__).resolve().parent.parent / "chainrule" / "data" / "_embedded"

# One short paragraph per dataset: what it is, where it came from, under which licence.
_UCI_LICENCE = "Licence: CC BY 4.0 (UCI Machine Learning Repository)."
DESCRIPTIONS = {
    "iris": (
        "Iris plants: 150 flowers of 3 species (setosa, versicolor, virginica), "
        "4 measurements in cm. R. A. Fisher (1936). "
        "Source: UCI Machine Learning Repository, 'Iris'. " + _UCI_LICENCE
    ),
    "digits": (
        "Optical recognition of handwritten digits: 1797 images of 8x8 pixels, "
        "each pixel a count 0..16 of set pixels in a 4x4 block of a 32x32 bitmap; "
        "10 classes. E. Alpaydin and C. Kaynak (1998). Source: UCI Machine Learning "
        "Repository, 'Optical Recognition of Handwritten Digits' (its test "
        "set, optdigits.tes). " + _UCI_LICENCE
    ),
    "wine": (
        "Wine recognition: 178 wines from 3 cultivars in one region of Italy, "
        "13 chemical measurements. M. Forina et al., PARVUS, Genoa. Source: UCI "
        "Machine Learning Repository, 'Wine'. " + _UCI_LICENCE
    ),
    "breast_cancer": (
        "Breast cancer Wisconsin (diagnostic): 569 fine-needle aspirate images, "
        "30 features of the cell nuclei (mean, standard error and worst of 10 "
        "measurements); classes malignant (0) and benign (1). W. H. Wolberg, "
        "W. N. Street and O. L. Mangasarian (1995). Source: UCI Machine Learning "
        "Repository, 'Breast Cancer Wisconsin (Diagnostic)'. " + _UCI_LICENCE
    ),
    "diabetes": (
        "Diabetes: 442 patients, 10 baseline variables (age, sex, body mass index, "
        "average blood pressure and six blood serum measurements s1..s6), each "
        "mean-centred and scaled so that its sum of squares is 1; the target is a "
        "measure of disease progression one year later. B. Efron, T. Hastie, "
        "I. Johnstone and R. Tibshirani, 'Least Angle Regression', Annals of "
        "Statistics 32(2), 2004. Not from UCI: source is the authors' published "
        "data, as redistributed with scikit-learn (BSD-3-Clause)."
    ),
}

CLASSIFICATION = ("iris", "digits", "wine", "breast_cancer")
REGRESSION = ("diabetes",)


def _feature_dtype(X: np.ndarray) -> np.dtype:
    """uint8 when every value is an integer in 0..255, else float32."""
    is_small_int = np.all(X == np.round(X)) and X.min() >= 0 and X.max() <= 255
    return np.dtype(np.uint8) if is_small_int else np.dtype(np.float32)


def build(name: str) -> dict[str, np.ndarray]:
    """Return the arrays to store for dataset ``name``, read from scikit-learn."""
    bunch = getattr(skdatasets, f"load_{name}")()
    X = np.asarray(bunch.data)
    arrays: dict[str, np.ndarray] = {
        "X": X.astype(_feature_dtype(X)),
        "feature_names": np.array([str(f) for f in bunch.feature_names], dtype=np.str_),
        "description": np.array(
            f"{DESCRIPTIONS[name]} Copied from scikit-learn {sklearn.__version__}.",
            dtype=np.str_,
        ),
    }
    if name in CLASSIFICATION:
        arrays["y"] = np.asarray(bunch.target).astype(np.int64)
        arrays["target_names"] = np.array([str(t) for t in bunch.target_names], dtype=np.str_)
        arrays["task"] = np.array("classification", dtype=np.str_)
    else:
        arrays["y"] = np.asarray(bunch.target).astype(np.float32)
        arrays["task"] = np.array("regression", dtype=np.str_)
    return arrays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT_DIR, help=f"output folder (default: {OUT_DIR})")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    total = 0
    for name in CLASSIFICATION + REGRESSION:
        arrays = build(name)
        path = args.out / f"{name}.npz"
        np.savez_compressed(path, **arrays)
        size = path.stat().st_size
        total += size
        print(
            f"{path.name:20s} X{arrays['X'].shape} {arrays['X'].dtype}, y {arrays['y'].dtype}: {size / 1024:6.1f} KiB"
        )
    print(f"{'total':20s} {total / 1024:6.1f} KiB")


if __name__ == "__main__":
    main()
