"""The models of ``chainrule train --model``: their networks, losses, metrics and optimisers, and a
saved model folder read back."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

import numpy as np

import chainrule as cr
from chainrule.cli.errors import CLIError
from chainrule.train.inference import _non_finite_parameters

MODEL_FILE = "model.safetensors"
MODELS = ("mlp", "logistic", "perceptron", "svm", "linear", "cnn")
CLASSIFIERS_ONLY = ("logistic", "perceptron", "svm")
# The loss each model trains on, by task.
LOSSES = {
    "logistic": "cross_entropy",
    "perceptron": "perceptron",
    "svm": "hinge",
    "linear": "mse",
}
# Inputs a CNN understands: images (channels, height, width) or sequences (channels, length).
CNN_INPUTS = {"digits": (1, 8, 8), "mnist1d": None}  # None: a sequence as long as the rows


def check_model_and_task(kind: str, task: str, name: str) -> None:
    """Raise CLIError when ``--model kind`` cannot learn the ``task`` of the dataset ``name``."""
    if kind in CLASSIFIERS_ONLY and task != "classification":
        raise CLIError(f"--model {kind} is a classifier, but {name} is a regression task: use --model linear or mlp")
    if kind == "linear" and task != "regression":
        raise CLIError(
            f"--model linear is for regression, but {name} is a classification task: "
            "use --model logistic, perceptron, svm or mlp"
        )


def input_shape(kind: str, dataset: str, embedded: bool, n_features: int) -> tuple[int, ...]:
    """The shape of one input of ``--model kind``: a vector, or for cnn an image or a sequence."""
    if kind != "cnn":
        return (n_features,)
    if not embedded or dataset not in CNN_INPUTS:
        raise CLIError(
            f"--model cnn needs images or sequences ({', '.join(CNN_INPUTS)}); {dataset} is a table: use --model mlp"
        )
    return CNN_INPUTS[dataset] or (1, n_features)


def build_network(
    kind: str, n_features: int, n_outputs: int, hidden: Sequence[int], activation: str, input_shape: Sequence[int]
) -> cr.nn.Sequential:
    """The network of each ``--model``, ending in a Linear layer that gives the scores (logits).

    - logistic, perceptron, svm, linear: one layer of neurons, ``Linear(n_features, n_outputs)``
      (one neuron per class; they differ by their loss, ``LOSSES``);
    - mlp: ``Linear -> activation`` per hidden size, then ``Linear``;
    - cnn: two convolution blocks (``Conv -> activation -> MaxPool``, 16 then 32 channels) over
      images (Conv2d) or sequences (Conv1d), flattened into the hidden ``Linear`` layers.
    """
    nn = cr.nn
    if kind in LOSSES:
        return nn.Sequential(nn.Linear(n_features, n_outputs))
    layers: list[nn.Module] = []
    width = n_features
    if kind == "cnn":
        conv, pool = (nn.Conv2d, nn.MaxPool2d) if len(input_shape) == 3 else (nn.Conv1d, nn.MaxPool1d)
        kernel = 3 if len(input_shape) == 3 else 5
        channels, spatial = input_shape[0], list(input_shape[1:])
        for out_channels in (16, 32):
            layers += [conv(channels, out_channels, kernel, padding=kernel // 2), nn.activation(activation), pool(2)]
            channels, spatial = out_channels, [s // 2 for s in spatial]
        layers.append(nn.Flatten())
        width = channels * int(np.prod(spatial))
    for size in hidden:
        layers += [nn.Linear(width, size), nn.activation(activation)]
        width = size
    layers.append(nn.Linear(width, n_outputs))
    return nn.Sequential(*layers)


def loss_name(kind: str, task: str) -> str:
    """The name of the loss ``--model kind`` trains on (kept in the model's metadata)."""
    return LOSSES.get(kind) or ("cross_entropy" if task == "classification" else "mse")


def make_loss(name: str) -> cr.nn.Module:
    """The loss by the name kept in a model's metadata."""
    return {
        "cross_entropy": lambda: cr.nn.CrossEntropyLoss(),
        "mse": lambda: cr.nn.MSELoss(),
        "hinge": lambda: cr.nn.MultiMarginLoss(margin=1.0),  # the multi-class SVM's hinge
        "perceptron": lambda: cr.nn.MultiMarginLoss(margin=0.0),  # the multi-class perceptron criterion
    }[name]()


def metric_names(task: str) -> list[str]:
    """The metrics reported for a task: accuracy and macro F1, or mean absolute error and R²."""
    return ["accuracy", "f1"] if task == "classification" else ["mae", "r2"]


def make_optimizer(name: str, params: Iterable[cr.nn.Parameter], lr: float | None, l2: float) -> cr.optim.Optimizer:
    """The optimiser of ``--optimizer name``, with its default learning rate when ``lr`` is None."""
    try:
        if name == "adam":
            return cr.optim.Adam(params, lr=1e-3 if lr is None else lr, weight_decay=l2)
        return cr.optim.SGD(
            params, lr=0.05 if lr is None else lr, momentum=0.9 if name == "momentum" else 0.0, weight_decay=l2
        )
    except ValueError as e:  # "SGD: invalid learning rate: -1.0 (expected a number >= 0)"
        raise CLIError(str(e)) from None


def load_model(folder: str) -> tuple[cr.nn.Module, dict, str]:
    """(network, metadata, file) of a model folder written by ``chainrule train`` (or its file)."""
    if not os.path.exists(folder):
        raise CLIError(f"no model at {folder}: no such folder (train one with `chainrule train ... --out {folder}`)")
    path = os.path.join(folder, MODEL_FILE) if os.path.isdir(folder) else folder
    if not os.path.isfile(path):
        raise CLIError(f"{folder} holds no {MODEL_FILE}: it is not a model folder written by `chainrule train`")
    try:
        meta = cr.io.load_metadata(path)
        model = cr.load(path)
    except ImportError as e:
        raise CLIError(str(e).splitlines()[0]) from None
    except (ValueError, KeyError, TypeError) as e:  # ModelFileError and the like: truncated, foreign
        raise CLIError(f"{path} is not a readable model: {str(e).splitlines()[0]}") from None
    needed = ("task", "loss", "preprocessing", "input_shape")
    if any(key not in meta for key in needed) or "numeric" not in meta["preprocessing"]:
        raise CLIError(
            f"{path} was not written by this version of `chainrule train` (its metadata lacks the "
            "preprocessing): train it again"
        )
    broken = _non_finite_parameters(model)
    if broken:  # it would answer NaN for every row
        raise CLIError(f"{path} holds non-finite weights (NaN or inf) in {', '.join(broken[:5])}: train it again")
    return model, meta, path
