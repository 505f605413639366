"""Every loss meets predictions and targets of any shapes and dtypes with a correct result or a clear
error naming it — never an error from deep inside NumPy, never a silent NaN from finite inputs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr
from chainrule import nn

LOSSES = {
    "MSELoss": nn.MSELoss,
    "L1Loss": nn.L1Loss,
    "HuberLoss": nn.HuberLoss,
    "SmoothL1Loss": nn.SmoothL1Loss,
    "BCELoss": nn.BCELoss,
    "BCEWithLogitsLoss": nn.BCEWithLogitsLoss,
    "CrossEntropyLoss": nn.CrossEntropyLoss,
    "NLLLoss": nn.NLLLoss,
    "HingeLoss": nn.HingeLoss,
    "MultiMarginLoss": nn.MultiMarginLoss,
    "KLDivLoss": nn.KLDivLoss,
    "SoftMarginLoss": nn.SoftMarginLoss,
    "HingeEmbeddingLoss": nn.HingeEmbeddingLoss,
    "PoissonNLLLoss": nn.PoissonNLLLoss,
}
THREE_INPUTS = {  # losses of three tensors
    "GaussianNLLLoss": nn.GaussianNLLLoss,
    "MarginRankingLoss": nn.MarginRankingLoss,
    "CosineEmbeddingLoss": nn.CosineEmbeddingLoss,
    "TripletMarginLoss": nn.TripletMarginLoss,
}
NAMES = {  # the words an error of each loss uses for it
    "MSELoss": "mse_loss", "L1Loss": "l1_loss", "HuberLoss": "huber_loss", "SmoothL1Loss": "smooth_l1_loss",
    "BCELoss": "binary_cross_entropy",
    "BCEWithLogitsLoss": "binary_cross_entropy_with_logits", "CrossEntropyLoss": "cross_entropy",
    "NLLLoss": "nll_loss", "HingeLoss": "hinge_loss", "MultiMarginLoss": "multi_margin_loss",
    "KLDivLoss": "kl_div", "SoftMarginLoss": "soft_margin_loss", "HingeEmbeddingLoss": "hinge_embedding_loss",
    "PoissonNLLLoss": "poisson_nll_loss", "GaussianNLLLoss": "gaussian_nll_loss",
    "MarginRankingLoss": "margin_ranking_loss", "CosineEmbeddingLoss": "cosine_embedding_loss",
    "TripletMarginLoss": "triplet_margin_loss",
}  # fmt: skip
SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)
FLOATS = st.floats(-4, 4, width=32)


@pytest.mark.parametrize("name", sorted(LOSSES))
@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    input_shape=SHAPES,
    target_shape=SHAPES,
    target_dtype=st.sampled_from([np.float32, np.int64, np.bool_]),
    same_shape=st.booleans(),
    reduction=st.sampled_from(["mean", "sum", "none"]),
    data=st.data(),
)
def test_a_loss_gives_a_result_or_an_error_naming_it(
    name, input_shape, target_shape, target_dtype, same_shape, reduction, data
):
    if same_shape:
        target_shape = input_shape
    prediction = data.draw(hnp.arrays(np.float32, input_shape, elements=FLOATS))
    if name == "BCELoss":
        prediction = 1.0 / (1.0 + np.exp(-prediction))
    elements = FLOATS if target_dtype == np.float32 else (st.integers(-1, 4) if target_dtype == np.int64 else None)
    target = data.draw(hnp.arrays(target_dtype, target_shape, elements=elements))
    try:
        loss = LOSSES[name](reduction=reduction)(cr.tensor(prediction), cr.tensor(target))
    except (ValueError, TypeError, IndexError) as error:
        message = str(error)
        assert NAMES[name] in message or "tensor:" in message, f"{name}: {type(error).__name__}: {message}"
        return
    values = loss.numpy()
    assert np.isfinite(values).all() or (reduction == "mean" and values.size == 1 and prediction.size == 0), (
        f"{name} gave {values} for finite inputs of shapes {input_shape} and {target_shape}"
    )


@pytest.mark.parametrize("name", ["MSELoss", "L1Loss", "HuberLoss", "SmoothL1Loss", "BCELoss", "HingeLoss"])
def test_the_mean_loss_of_an_empty_batch_is_an_error_naming_the_loss(name):  # was "mean: cannot average ..."
    empty = cr.tensor(np.zeros((0,), np.float32))
    with pytest.raises(ValueError, match=rf"{NAMES[name]}: the batch is empty \(shape \(0,\)\)"):
        LOSSES[name]()(empty, empty)
    assert LOSSES[name](reduction="sum")(empty, empty).item() == 0.0


@pytest.mark.parametrize("name", sorted(THREE_INPUTS))
@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    shapes=st.lists(SHAPES, min_size=3, max_size=3),
    same_shape=st.booleans(),
    third_dtype=st.sampled_from([np.float32, np.int64]),
    reduction=st.sampled_from(["mean", "sum", "none"]),
    data=st.data(),
)
def test_a_loss_of_three_tensors_gives_a_result_or_an_error_naming_it(
    name, shapes, same_shape, third_dtype, reduction, data
):
    if same_shape:
        shapes = [shapes[0]] * 3
    first = data.draw(hnp.arrays(np.float32, shapes[0], elements=FLOATS))
    second = data.draw(hnp.arrays(np.float32, shapes[1], elements=FLOATS))
    elements = FLOATS if third_dtype == np.float32 else st.integers(-1, 1)
    third = data.draw(hnp.arrays(third_dtype, shapes[2], elements=elements))
    try:
        loss = THREE_INPUTS[name](reduction=reduction)(cr.tensor(first), cr.tensor(second), cr.tensor(third))
    except (ValueError, TypeError, IndexError) as error:
        message = str(error)
        assert NAMES[name] in message or "tensor:" in message, f"{name}: {type(error).__name__}: {message}"
        return
    values = loss.numpy()
    assert np.isfinite(values).all() or (reduction == "mean" and values.size == 1 and first.size == 0), (
        f"{name} gave {values} for finite inputs of shapes {shapes}"
    )


def test_every_loss_is_in_the_property_test():
    everything = set(LOSSES) | set(THREE_INPUTS)
    assert {name for name in nn.__all__ if name.endswith("Loss")} == everything == set(NAMES)


def test_cross_entropy_of_a_scalar_names_the_shape_it_needs():  # was a log_softmax axis error
    with pytest.raises(
        ValueError,
        match=r"cross_entropy: input must be logits of shape \(N, C, \.\.\.\) or \(C,\), C >= 1, got shape \(\)",
    ):
        nn.CrossEntropyLoss()(cr.tensor(1.0), cr.tensor(0))


def test_cross_entropy_with_no_classes_names_the_shape_it_needs():  # was LogSoftmax's "zero-size array"
    empty = cr.tensor(np.zeros((0, 0), np.float32))
    with pytest.raises(ValueError, match=r"cross_entropy: input must be logits .* C >= 1, got shape \(0, 0\)"):
        nn.CrossEntropyLoss()(empty, empty)
