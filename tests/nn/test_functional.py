"""chainrule.nn.functional: the same maths as the modules, as functions; penalties; reductions."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from tests.nn.support import data, leaf


def test_activations_are_re_exported_ops():
    for name in (
        "relu",
        "sigmoid",
        "tanh",
        "leaky_relu",
        "elu",
        "gelu",
        "softplus",
        "softmax",
        "log_softmax",
        "step",
        "linear",
    ):
        assert getattr(F, name) is getattr(cr, name), name


def test_functional_linear_matches_the_layer():
    cr.manual_seed(0)
    layer = nn.Linear(4, 3).to("float64")
    x = cr.tensor(data(5, 4))
    np.testing.assert_array_equal(F.linear(x, layer.weight, layer.bias).numpy(), layer(x).numpy())
    np.testing.assert_allclose(F.linear(x, layer.weight).numpy(), x.numpy() @ layer.weight.data.T, rtol=1e-12)


@pytest.mark.parametrize(
    "fn, module, args",
    [
        (F.mse_loss, nn.MSELoss, ()),
        (F.l1_loss, nn.L1Loss, ()),
        (F.huber_loss, nn.HuberLoss, ()),
        (F.binary_cross_entropy_with_logits, nn.BCEWithLogitsLoss, ()),
    ],
)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_regression_and_logit_functions_match_their_modules(fn, module, args, reduction):
    x, y = cr.tensor(data(4, 3)), cr.tensor(data(4, 3, seed=1, low=0, high=1))
    np.testing.assert_array_equal(fn(x, y, reduction=reduction).numpy(), module(reduction=reduction)(x, y).numpy())


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_classification_functions_match_their_modules(reduction):
    x = cr.tensor(data(5, 3))
    t = cr.tensor([0, 2, 1, 1, 0])
    w = [1.0, 2.0, 3.0]
    np.testing.assert_array_equal(
        F.cross_entropy(x, t, w, reduction, 0.1).numpy(),
        nn.CrossEntropyLoss(weight=w, reduction=reduction, label_smoothing=0.1)(x, t).numpy(),
    )
    logp = F.log_softmax(x, 1)
    np.testing.assert_array_equal(
        F.nll_loss(logp, t, w, reduction).numpy(), nn.NLLLoss(weight=w, reduction=reduction)(logp, t).numpy()
    )
    np.testing.assert_array_equal(
        F.multi_margin_loss(x, t, reduction=reduction).numpy(), nn.MultiMarginLoss(reduction=reduction)(x, t).numpy()
    )
    p = F.sigmoid(x)
    y = cr.tensor((data(5, 3, seed=2) > 0).astype(float))
    np.testing.assert_array_equal(
        F.binary_cross_entropy(p, y, reduction=reduction).numpy(), nn.BCELoss(reduction=reduction)(p, y).numpy()
    )
    s = cr.tensor(data(5))
    labels = cr.tensor([1, -1, 1, 1, -1])
    np.testing.assert_array_equal(
        F.hinge_loss(s, labels, reduction).numpy(), nn.HingeLoss(reduction)(s, labels).numpy()
    )


def test_functional_cross_entropy_accepts_plain_lists_and_arrays():
    x = cr.tensor(data(3, 4))
    a = F.cross_entropy(x, [0, 1, 3]).item()
    b = F.cross_entropy(x, np.array([0, 1, 3])).item()
    assert a == b


def test_check_reduction():
    assert F.check_reduction("sum", "thing") == "sum"
    with pytest.raises(ValueError, match=r"thing: reduction must be one of \('mean', 'sum', 'none'\), got 'max'"):
        F.check_reduction("max", "thing")
    with pytest.raises(ValueError, match="mse_loss: reduction must be one of"):
        F.mse_loss(cr.ones(2), cr.ones(2), reduction="avg")


def test_invalid_delta_in_the_function():
    with pytest.raises(ValueError, match="huber_loss: delta must be positive"):
        F.huber_loss(cr.ones(2), cr.ones(2), delta=-1.0)


# ------------------------------------------------------------------ penalties


def test_l1_and_l2_penalties_values():
    a, b = data(3, 2), data(4, seed=1)
    params = [nn.Parameter(a), nn.Parameter(b)]
    assert F.l1_penalty(params).item() == pytest.approx(np.abs(a).sum() + np.abs(b).sum(), rel=1e-12)
    assert F.l2_penalty(params).item() == pytest.approx(0.5 * ((a**2).sum() + (b**2).sum()), rel=1e-12)


def test_penalty_gradients():
    a, b = data(3, 2), data(4, seed=1)
    pa, pb = nn.Parameter(a), nn.Parameter(b)
    F.l2_penalty([pa, pb]).backward()
    np.testing.assert_allclose(pa.grad.numpy(), a, rtol=1e-12)  # d/dw 0.5 w² = w
    pa.grad = pb.grad = None
    F.l1_penalty([pa, pb]).backward()
    np.testing.assert_array_equal(pb.grad.numpy(), np.sign(b))
    assert cr.gradcheck(lambda x, y: F.l2_penalty([x, y]), [leaf(a), leaf(b)])
    assert cr.gradcheck(lambda x, y: F.l1_penalty([x, y]), [leaf(a), leaf(b)])


def test_penalties_take_a_model_s_parameters_generator():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    expected = sum(np.abs(p.data.astype(np.float64)).sum() for p in model.parameters())
    assert F.l1_penalty(model.parameters()).item() == pytest.approx(expected, rel=1e-6)


def test_penalties_need_parameters():
    with pytest.raises(ValueError, match="l1_penalty: no parameters given"):
        F.l1_penalty([])
    with pytest.raises(ValueError, match="l2_penalty: no parameters given"):
        F.l2_penalty(iter([]))


def test_penalty_added_to_a_loss_trains_towards_smaller_weights():
    cr.manual_seed(0)
    layer = nn.Linear(3, 1).to("float64")
    x, y = cr.tensor(data(8, 3)), cr.tensor(data(8, 1, seed=1))
    alpha = 0.1
    (F.mse_loss(layer(x), y) + alpha * F.l2_penalty(layer.parameters())).backward()
    with_penalty = layer.weight.grad.numpy().copy()
    layer.zero_grad()
    F.mse_loss(layer(x), y).backward()
    np.testing.assert_allclose(with_penalty - layer.weight.grad.numpy(), alpha * layer.weight.data, rtol=1e-10)
