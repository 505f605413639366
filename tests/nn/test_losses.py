"""Losses: every reduction against NumPy references, gradients by finite differences, extremes."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from tests.nn.support import data, leaf

REDUCTIONS = ["mean", "sum", "none"]


def reduce(per_element: np.ndarray, reduction: str) -> np.ndarray:
    return {"mean": np.mean, "sum": np.sum, "none": np.asarray}[reduction](per_element)


def check_loss(loss: nn.Module, x: np.ndarray, target, expected: np.ndarray, rtol: float = 1e-10) -> cr.Tensor:
    """Value against the reference, then a finite-difference check of d loss / d input."""
    out = loss(cr.tensor(x), target)
    assert out.dtype == np.float64
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.numpy(), expected, rtol=rtol, atol=1e-12)
    assert cr.gradcheck(lambda t: loss(t, target), [leaf(x)])
    return out


def assert_finite_loss_and_grad(loss: nn.Module, x: np.ndarray, target) -> None:
    xs = leaf(x)
    out = loss(xs, target)
    assert np.all(np.isfinite(out.numpy())), out
    out.sum().backward()
    assert np.all(np.isfinite(xs.grad.numpy())), xs.grad


def np_log_softmax(x: np.ndarray) -> np.ndarray:
    shifted = x - x.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def one_hot(t: np.ndarray, c: int) -> np.ndarray:
    return np.eye(c)[t]


def away_from(x: np.ndarray, target: np.ndarray, gap: float = 0.05) -> np.ndarray:
    """Nudge ``x`` so no |x - target| lies within ``gap`` of 0 (or of a kink): keeps finite differences clean."""
    d = x - target
    return np.where(np.abs(d) < gap, target + np.where(d < 0, -gap, gap) * 2, x)


# ------------------------------------------------------------------ regression


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse(reduction):
    x, y = data(4, 3), data(4, 3, seed=1)
    check_loss(nn.MSELoss(reduction), x, cr.tensor(y), reduce((x - y) ** 2, reduction))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_l1(reduction):
    y = data(4, 3, seed=1)
    x = away_from(data(4, 3), y)
    check_loss(nn.L1Loss(reduction), x, cr.tensor(y), reduce(np.abs(x - y), reduction))


def test_l1_gradient_is_the_sign():
    x = leaf([1.0, -2.0, 3.0])
    nn.L1Loss("sum")(x, cr.tensor([0.0, 0.0, 3.0])).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, -1.0, 0.0])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("delta", [1.0, 0.5, 2.0])
def test_huber(reduction, delta):
    y = data(5, 4, seed=1)
    x = data(5, 4, low=-4, high=4)
    e = x - y
    e = np.where(np.abs(np.abs(e) - delta) < 0.05, e + 0.2, e)  # keep off the joint at |e| = delta
    x = y + e
    per = np.where(np.abs(e) < delta, 0.5 * e**2, delta * (np.abs(e) - 0.5 * delta))
    check_loss(nn.HuberLoss(reduction, delta=delta), x, cr.tensor(y), reduce(per, reduction))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_weighted_regression_losses(reduction):
    """weight= as PyTorch's: weight * loss; 'mean' is sum(w l) / sum(w) for mse and l1, the plain mean for huber."""
    y = data(4, 3, seed=1)
    x = away_from(data(4, 3, low=-3, high=3), y)
    w = data(4, 3, seed=2, low=0.1, high=2.0)
    e = x - y
    x = y + np.where(np.abs(np.abs(e) - 0.7) < 0.05, e + 0.2, e)  # off huber's joint
    e = x - y
    huber = np.where(np.abs(e) < 0.7, 0.5 * e**2, 0.7 * (np.abs(e) - 0.35))
    for fn, per, by_weight in [
        (lambda t, **kw: F.mse_loss(t, cr.tensor(y), reduction, **kw), e**2, True),
        (lambda t, **kw: F.l1_loss(t, cr.tensor(y), reduction, **kw), np.abs(e), True),
        (lambda t, **kw: F.huber_loss(t, cr.tensor(y), reduction, 0.7, **kw), huber, False),
    ]:
        expected = (w * per).sum() / w.sum() if reduction == "mean" and by_weight else reduce(w * per, reduction)
        out = fn(cr.tensor(x), weight=cr.tensor(w))
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)
        assert cr.gradcheck(lambda t, wt, fn=fn: fn(t, weight=wt), [leaf(x), leaf(w)])


def test_loss_weight_must_have_the_input_shape():
    x, y = cr.ones(4, 3), cr.zeros(4, 3)
    for call in [
        lambda: F.mse_loss(x, y, weight=cr.ones(3)),
        lambda: F.l1_loss(x, y, weight=cr.ones(1, 3)),
        lambda: F.huber_loss(x, y, "mean", 1.0, cr.ones(4, 1)),
    ]:
        with pytest.raises(ValueError, match=r"_loss: weight of shape .* must have the input's shape \(4, 3\)"):
            call()
    with pytest.raises(ValueError, match="mse_loss: the batch is empty"):
        F.mse_loss(cr.ones(0), cr.ones(0), weight=cr.ones(0))


def test_huber_is_quadratic_then_linear():
    loss = nn.HuberLoss("none", delta=1.0)
    out = loss(cr.tensor([0.5, 3.0, -3.0], dtype="float64"), cr.tensor([0.0, 0.0, 0.0], dtype="float64"))
    np.testing.assert_allclose(out.numpy(), [0.125, 2.5, 2.5])
    with pytest.raises(ValueError, match="delta must be positive, got 0"):
        nn.HuberLoss(delta=0)


def np_smooth_l1(e: np.ndarray, beta: float) -> np.ndarray:
    if beta == 0:
        return np.abs(e)
    return np.where(np.abs(e) < beta, 0.5 * e**2 / beta, np.abs(e) - 0.5 * beta)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("beta", [1.0, 0.5, 2.0, 0.0])
def test_smooth_l1(reduction, beta):
    y = data(5, 4, seed=1)
    e = data(5, 4, low=-4, high=4)
    e = np.where(np.abs(np.abs(e) - beta) < 0.05, e + 0.2, e)  # keep finite differences off the joint
    e = np.where(np.abs(e) < 0.05, 0.3, e)  # and off the kink of |e| when beta = 0
    x = y + e
    check_loss(nn.SmoothL1Loss(reduction, beta=beta), x, cr.tensor(y), reduce(np_smooth_l1(e, beta), reduction))


def test_smooth_l1_is_huber_over_beta_and_its_gradient_is_clipped_at_one():
    x = leaf([0.25, -0.5, 3.0, -7.0, 1.5])
    target = cr.tensor(np.zeros(5))
    out = nn.SmoothL1Loss("sum", beta=1.5)(x, target)
    huber = nn.HuberLoss("sum", delta=1.5)(cr.tensor(x.numpy()), target)
    assert out.item() == pytest.approx(huber.item() / 1.5, rel=1e-14)
    out.backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.25 / 1.5, -0.5 / 1.5, 1.0, -1.0, 1.0], rtol=1e-14)


def test_smooth_l1_with_beta_zero_is_the_l1_loss_with_a_finite_gradient():
    x = leaf([0.5, -2.0, 0.0])
    target = cr.tensor([0.0, 0.0, 0.0])
    out = nn.SmoothL1Loss(beta=0)(x, target)
    assert out.item() == pytest.approx(nn.L1Loss()(cr.tensor(x.numpy()), target).item())
    out.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1 / 3, -1 / 3, 0.0])


@pytest.mark.parametrize("beta", [-1.0, float("nan"), "1", True])
def test_smooth_l1_rejects_a_bad_beta(beta):
    with pytest.raises(ValueError, match=r"SmoothL1Loss: beta must be a number >= 0, got"):
        nn.SmoothL1Loss(beta=beta)


def test_smooth_l1_repr_and_config():
    assert repr(nn.SmoothL1Loss(beta=0.5)) == "SmoothL1Loss(reduction='mean', beta=0.5)"
    assert nn.SmoothL1Loss("sum", beta=2).get_config() == {"reduction": "sum", "beta": 2.0}


# ------------------------------------------------------------------ PyTorch's deprecated size_average / reduce

LEGACY = [  # (size_average, reduce) -> reduction, PyTorch's rule (torch/nn/_reduction.py), None counting as True
    (True, True, "mean"),
    (False, True, "sum"),
    (True, False, "none"),
    (False, False, "none"),
    (None, False, "none"),
    (False, None, "sum"),
    (True, None, "mean"),
    (None, True, "mean"),
]


def every_loss(**legacy):
    w = np.array([1.0, 2.0, 0.5])
    return [
        (nn.MSELoss(**legacy), data(4, 3), cr.tensor(data(4, 3, seed=1))),
        (nn.L1Loss(**legacy), data(4, 3), cr.tensor(data(4, 3, seed=1))),
        (nn.HuberLoss(delta=0.5, **legacy), data(4, 3), cr.tensor(data(4, 3, seed=1))),
        (nn.SmoothL1Loss(beta=0.5, **legacy), data(4, 3), cr.tensor(data(4, 3, seed=1))),
        (nn.BCELoss(weight=w, **legacy), data(4, 3, low=0.1, high=0.9), cr.tensor(data(4, 3, seed=1, low=0, high=1))),
        (nn.BCEWithLogitsLoss(pos_weight=w, **legacy), data(4, 3), cr.tensor(data(4, 3, seed=1, low=0, high=1))),
        (nn.CrossEntropyLoss(weight=w, **legacy), data(4, 3), cr.tensor([0, 2, 1, 2])),
        (nn.NLLLoss(weight=w, **legacy), np_log_softmax(data(4, 3)), cr.tensor([0, 2, 1, 2])),
        (nn.HingeLoss(**legacy), data(4, 3), cr.tensor((data(4, 3, seed=1) > 0).astype(int))),
        (nn.MultiMarginLoss(**legacy), data(4, 3), cr.tensor([0, 2, 1, 2])),
        (nn.KLDivLoss(**legacy), np_log_softmax(data(4, 3)), cr.tensor(np.full((4, 3), 1 / 3))),
        (nn.SoftMarginLoss(**legacy), data(4, 3), cr.tensor(np.sign(data(4, 3, seed=1)))),
        (nn.HingeEmbeddingLoss(**legacy), np.abs(data(4, 3)), cr.tensor(np.sign(data(4, 3, seed=1)))),
        (nn.PoissonNLLLoss(**legacy), data(4, 3), cr.tensor(np.floor(np.abs(data(4, 3, seed=1)) * 2))),
    ]


# losses of three inputs (their legacy arguments: below), and GaussianNLLLoss, which has none (as PyTorch's)
THREE_INPUTS = {"MarginRankingLoss", "CosineEmbeddingLoss", "TripletMarginLoss"}


@pytest.mark.parametrize("cls", [nn.MarginRankingLoss, nn.CosineEmbeddingLoss, nn.TripletMarginLoss])
def test_three_input_losses_take_the_legacy_arguments(cls):
    a, b = cr.tensor(data(4, 3)), cr.tensor(data(4, 3, seed=1))
    third = cr.tensor(data(4, 3, seed=2)) if cls is nn.TripletMarginLoss else cr.tensor([1.0, -1.0, 1.0, -1.0])
    if cls is nn.MarginRankingLoss:
        a, b, third = a[:, 0], b[:, 0], third
    with pytest.warns(UserWarning, match="please use reduction='sum'"):
        legacy = cls(size_average=False)
    assert legacy.reduction == "sum"
    np.testing.assert_array_equal(legacy(a, b, third).numpy(), cls(reduction="sum")(a, b, third).numpy())


def test_every_loss_module_is_in_the_legacy_argument_test():
    exported = {name for name in nn.__all__ if name.endswith("Loss")} - THREE_INPUTS - {"GaussianNLLLoss"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        covered = {type(loss).__name__ for loss, _, _ in every_loss(size_average=True)}
    assert exported == covered


@pytest.mark.parametrize("size_average, reduce, expected", LEGACY)
def test_size_average_and_reduce_map_to_reduction_as_in_pytorch_with_its_warning(size_average, reduce, expected):
    message = rf"size_average and reduce args will be deprecated, please use reduction='{expected}' instead"
    with pytest.warns(UserWarning, match=message):
        losses = every_loss(size_average=size_average, reduce=reduce, reduction="sum" if expected != "sum" else "mean")
    for (legacy, x, target), (plain, _, _) in zip(losses, every_loss(reduction=expected)):
        name = type(legacy).__name__
        assert legacy.reduction == expected, name  # the reduction= given alongside is ignored, as in PyTorch
        assert legacy.get_config() == plain.get_config(), name
        np.testing.assert_array_equal(legacy(cr.tensor(x), target).numpy(), plain(cr.tensor(x), target).numpy(), name)


def test_the_legacy_warning_points_at_the_users_line():
    with pytest.warns(UserWarning) as caught:
        nn.CrossEntropyLoss(size_average=False)
    assert caught[0].filename == __file__


def test_without_the_legacy_arguments_there_is_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        every_loss(reduction="sum")
        every_loss(size_average=None, reduce=None)


def test_a_positional_true_or_false_for_reduction_names_size_average_and_what_to_write():
    # PyTorch's MSELoss(False) meant size_average=False; here the first argument is reduction
    with pytest.raises(ValueError, match=r"MSELoss: reduction must be one of .* got False; .* old size_average"):
        nn.MSELoss(False)
    with pytest.raises(ValueError, match=r"reduction='sum' \(size_average=False\)"):
        nn.CrossEntropyLoss(None, False)


def test_a_legacy_argument_that_is_not_a_bool_is_refused():
    with pytest.raises(TypeError, match="MSELoss: size_average must be True, False or None, got 'mean'"):
        nn.MSELoss(size_average="mean")


def test_regression_losses_accept_arrays_and_keep_the_input_dtype():
    out = nn.MSELoss()(cr.tensor([1.0, 2.0]), np.array([1.0, 4.0]))  # float32 input, float64 target
    assert out.dtype == np.float32
    assert out.item() == pytest.approx(2.0)


@pytest.mark.parametrize(
    "loss", [nn.MSELoss(), nn.L1Loss(), nn.HuberLoss(), nn.SmoothL1Loss(), nn.BCELoss(), nn.BCEWithLogitsLoss()]
)
def test_shape_mismatch_is_an_error_not_a_broadcast(loss):
    with pytest.raises(ValueError, match=r"input shape \(4, 1\) and target shape \(4,\) differ"):
        loss(cr.full((4, 1), 0.5), cr.full(4, 0.5))


# ------------------------------------------------------------------ BCE on probabilities


def np_bce(p, y, weight=None):
    per = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    return per if weight is None else per * weight


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce(reduction):
    p = data(6, 2, low=0.05, high=0.95)
    y = (data(6, 2, seed=1) > 0).astype(float)
    check_loss(nn.BCELoss(reduction=reduction), p, cr.tensor(y), reduce(np_bce(p, y), reduction))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_weight_and_soft_targets(reduction):
    p = data(6, 2, low=0.05, high=0.95)
    y = data(6, 2, seed=1, low=0, high=1)
    w = np.array([0.5, 2.0])
    check_loss(nn.BCELoss(weight=w, reduction=reduction), p, cr.tensor(y), reduce(np_bce(p, y, w), reduction))


def test_bce_is_stable_at_probabilities_zero_and_one():
    p = np.array([0.0, 1.0, 0.0, 1.0])
    y = np.array([1.0, 0.0, 0.0, 1.0])
    for reduction in REDUCTIONS:
        assert_finite_loss_and_grad(nn.BCELoss(reduction=reduction), p, cr.tensor(y))
    out = nn.BCELoss(reduction="none")(cr.tensor(p), cr.tensor(y)).numpy()
    assert out[0] > 20 and out[1] > 20  # confidently wrong: large, clipped at -log(1e-12)
    np.testing.assert_allclose(out[2:], 0.0, atol=1e-10)  # confidently right: no loss


def test_bce_rejects_values_outside_zero_one():
    message = r"probabilities in \[0, 1\]; for raw scores use binary_cross_entropy_with_logits"
    with pytest.raises(ValueError, match=message):
        nn.BCELoss()(cr.tensor([1.5, 0.5]), cr.tensor([1.0, 0.0]))


# ------------------------------------------------------------------ BCE with logits


def np_bce_logits(z, y, weight=None, pos_weight=None):
    log_sig = -np.logaddexp(0, -z)  # log sigmoid(z)
    log_not_sig = -np.logaddexp(0, z)  # log (1 - sigmoid(z))
    pw = 1.0 if pos_weight is None else pos_weight
    per = -(pw * y * log_sig + (1 - y) * log_not_sig)
    return per if weight is None else per * weight


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits(reduction):
    z = data(6, 3, low=-5, high=5)
    y = (data(6, 3, seed=1) > 0).astype(float)
    check_loss(nn.BCEWithLogitsLoss(reduction=reduction), z, cr.tensor(y), reduce(np_bce_logits(z, y), reduction))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_pos_weight_and_weight(reduction):
    z = data(6, 3, low=-5, high=5)
    y = data(6, 3, seed=1, low=0, high=1)
    pw, w = np.array([1.0, 3.0, 0.5]), np.array([2.0, 1.0, 0.25])
    loss = nn.BCEWithLogitsLoss(weight=w, pos_weight=pw, reduction=reduction)
    check_loss(loss, z, cr.tensor(y), reduce(np_bce_logits(z, y, w, pw), reduction))


def test_bce_with_logits_equals_bce_after_sigmoid():
    z = data(10, low=-4, high=4)
    y = (data(10, seed=1) > 0).astype(float)
    a = nn.BCEWithLogitsLoss()(cr.tensor(z), cr.tensor(y)).item()
    b = nn.BCELoss()(cr.sigmoid(cr.tensor(z)), cr.tensor(y)).item()
    assert a == pytest.approx(b, rel=1e-12)


def test_bce_with_logits_is_stable_for_extreme_scores():
    z = np.array([-1000.0, 1000.0, -1000.0, 1000.0, 0.0])
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0])
    assert_finite_loss_and_grad(nn.BCEWithLogitsLoss(reduction="none", pos_weight=[2.0]), z, cr.tensor(y))
    out = nn.BCEWithLogitsLoss(reduction="none")(cr.tensor(z), cr.tensor(y)).numpy()
    np.testing.assert_allclose(out, [1000.0, 1000.0, 0.0, 0.0, np.log(2)], rtol=1e-12, atol=1e-300)


# ------------------------------------------------------------------ cross-entropy


def np_cross_entropy(x, target, weight=None, reduction="mean", label_smoothing=0.0):
    """PyTorch's definition, written out: q is the smoothed target distribution, w the class weights."""
    n, c = x.shape
    w = np.ones(c) if weight is None else weight
    probabilities = target.ndim == 2
    q = target if probabilities else one_hot(target, c)
    q = q * (1 - label_smoothing) + label_smoothing / c
    per = -(q * w * np_log_softmax(x)).sum(axis=1)
    if reduction == "none":
        return per
    if reduction == "sum":
        return per.sum()
    denominator = n if (probabilities or weight is None) else w[target].sum()
    return per.sum() / denominator


CE_CASES = [
    {},
    {"weight": np.array([1.0, 2.0, 0.5, 4.0])},
    {"label_smoothing": 0.1},
    {"weight": np.array([1.0, 2.0, 0.5, 4.0]), "label_smoothing": 0.2},
    {"label_smoothing": 1.0},
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kwargs", CE_CASES, ids=lambda k: ",".join(k) or "plain")
def test_cross_entropy_with_class_indices(reduction, kwargs):
    x = data(6, 4, low=-3, high=3)
    t = np.array([0, 3, 1, 1, 2, 3])
    check_loss(
        nn.CrossEntropyLoss(reduction=reduction, **kwargs),
        x,
        cr.tensor(t),
        np_cross_entropy(x, t, reduction=reduction, **kwargs),
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kwargs", CE_CASES, ids=lambda k: ",".join(k) or "plain")
def test_cross_entropy_with_probabilities(reduction, kwargs):
    x = data(5, 4, low=-3, high=3)
    q = np.exp(data(5, 4, seed=1))
    q /= q.sum(axis=1, keepdims=True)
    check_loss(
        nn.CrossEntropyLoss(reduction=reduction, **kwargs),
        x,
        cr.tensor(q),
        np_cross_entropy(x, q, reduction=reduction, **kwargs),
    )


def test_weighted_mean_divides_by_the_summed_target_weights():
    x = np.zeros((2, 2))  # every per-sample loss is log 2
    w = np.array([1.0, 3.0])
    out = nn.CrossEntropyLoss(weight=w)(cr.tensor(x), cr.tensor([0, 1])).item()
    assert out == pytest.approx((1 * np.log(2) + 3 * np.log(2)) / (1 + 3))
    out = nn.CrossEntropyLoss(weight=w)(cr.tensor(x), cr.tensor([1, 1])).item()
    assert out == pytest.approx(np.log(2))


def test_one_hot_probabilities_equal_class_indices():
    x = data(6, 4)
    t = np.array([0, 3, 1, 1, 2, 3])
    for kwargs in ({}, {"label_smoothing": 0.1}, {"reduction": "sum"}, {"reduction": "none"}):
        a = nn.CrossEntropyLoss(**kwargs)(cr.tensor(x), cr.tensor(t)).numpy()
        b = nn.CrossEntropyLoss(**kwargs)(cr.tensor(x), cr.tensor(one_hot(t, 4))).numpy()
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_cross_entropy_fused_gradient_is_softmax_minus_target():
    x = data(5, 3)
    t = np.array([0, 2, 1, 1, 0])
    xs = leaf(x)
    nn.CrossEntropyLoss()(xs, cr.tensor(t)).backward()
    p = np.exp(np_log_softmax(x))
    np.testing.assert_allclose(xs.grad.numpy(), (p - one_hot(t, 3)) / 5, rtol=1e-12)


def test_cross_entropy_second_order_gradient():
    x = leaf(data(3, 4))
    t = cr.tensor([0, 1, 3])

    def grad_norm(z):
        (g,) = cr.grad(nn.CrossEntropyLoss()(z, t), [z], create_graph=True)
        return (g * g).sum()

    assert cr.gradcheck(grad_norm, [x])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kwargs", CE_CASES, ids=lambda k: ",".join(k) or "plain")
def test_cross_entropy_second_order_gradient_every_option(reduction, kwargs):
    x = leaf(data(4, 4, low=-3, high=3))
    t = cr.tensor([0, 3, 1, 3])
    loss = nn.CrossEntropyLoss(reduction=reduction, **kwargs)
    r = cr.tensor(data(4, seed=2))  # weights the per-sample losses of reduction="none"

    def grad_norm(z):
        out = loss(z, t)
        (g,) = cr.grad(out if out.ndim == 0 else (out * r).sum(), [z], create_graph=True)
        return (g * g * g).sum()

    assert cr.gradcheck(grad_norm, [x])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kwargs", CE_CASES, ids=lambda k: ",".join(k) or "plain")
def test_cross_entropy_plain_and_recorded_gradients_agree(reduction, kwargs):
    x = leaf(data(6, 4, low=-3, high=3))
    t = cr.tensor([0, 3, 1, 1, 2, 3])
    g_out = cr.tensor(data(6, seed=3)) if reduction == "none" else None
    loss = nn.CrossEntropyLoss(reduction=reduction, **kwargs)
    (plain,) = cr.grad(loss(x, t), [x], grad_outputs=g_out)
    (recorded,) = cr.grad(loss(x, t), [x], grad_outputs=g_out, create_graph=True)
    np.testing.assert_allclose(plain.numpy(), recorded.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("kwargs", CE_CASES, ids=lambda k: ",".join(k) or "plain")
def test_cross_entropy_is_finite_for_extreme_logits(kwargs):
    x = np.array([[1000.0, -1000.0, 0.0, 0.0], [-1000.0, 1000.0, -1000.0, 1000.0], [-1000.0, -1000.0, -1000.0, 1000.0]])
    t = np.array([1, 0, 3])  # confidently wrong, wrong, right
    for reduction in REDUCTIONS:
        loss = nn.CrossEntropyLoss(reduction=reduction, **kwargs)
        assert_finite_loss_and_grad(loss, x, cr.tensor(t))
        assert_finite_loss_and_grad(loss, x, cr.tensor(one_hot(t, 4)))
    out = nn.CrossEntropyLoss(reduction="none")(cr.tensor(x), cr.tensor(t)).numpy()
    np.testing.assert_allclose(out, [2000.0, 2000.0 + np.log(2), 0.0], atol=1e-9)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kwargs", CE_CASES, ids=lambda k: ",".join(k) or "plain")
def test_cross_entropy_extreme_logits_against_the_reference(reduction, kwargs):
    """Values at |logits| = 1000 equal the shifted-log-softmax reference, smoothing and weights included."""
    x = np.array([[1000.0, -1000.0, 0.0, 0.0], [-1000.0, 1000.0, -1000.0, 1000.0], [-1000.0, -1000.0, -1000.0, 1000.0]])
    t = np.array([1, 0, 3])
    out = nn.CrossEntropyLoss(reduction=reduction, **kwargs)(cr.tensor(x), cr.tensor(t))
    np.testing.assert_allclose(out.numpy(), np_cross_entropy(x, t, reduction=reduction, **kwargs), rtol=1e-12)


def test_cross_entropy_with_label_smoothing_gradient_is_softmax_minus_smoothed_target():
    x = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, -1000.0]])
    t = np.array([1, 1])
    xs = leaf(x)
    nn.CrossEntropyLoss(label_smoothing=0.1)(xs, cr.tensor(t)).backward()
    q = one_hot(t, 3) * 0.9 + 0.1 / 3
    np.testing.assert_allclose(xs.grad.numpy(), (np.exp(np_log_softmax(x)) - q) / 2, rtol=1e-12, atol=1e-15)


def test_cross_entropy_float32_extremes_stay_finite():
    x = cr.tensor([[1000.0, -1000.0], [-1000.0, 1000.0]], requires_grad=True)  # float32
    out = nn.CrossEntropyLoss()(x, cr.tensor([1, 1]))
    out.backward()
    assert out.dtype == np.float32 and np.isfinite(out.item())
    assert np.all(np.isfinite(x.grad.numpy()))


def test_cross_entropy_errors():
    x = cr.zeros(3, 4)
    with pytest.raises(ValueError, match=r"target classes must be in \[0, 3\], got values from 0 to 4"):
        nn.CrossEntropyLoss()(x, cr.tensor([0, 1, 4]))
    with pytest.raises(ValueError, match=r"target classes must be in \[0, 3\]"):
        nn.CrossEntropyLoss()(x, cr.tensor([0, -1, 2]))
    with pytest.raises(ValueError, match=r"expects input of shape \(N, C\) and target of shape \(N,\)"):
        nn.CrossEntropyLoss()(x, cr.tensor([0, 1]))
    with pytest.raises(ValueError, match="weight must have one entry per class \\(4\\), got shape \\(3,\\)"):
        nn.CrossEntropyLoss(weight=[1.0, 2.0, 3.0])(x, cr.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\], got 1.5"):
        nn.CrossEntropyLoss(label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"input shape \(3, 4\) and target shape \(3, 3\) differ"):
        nn.CrossEntropyLoss()(x, cr.zeros(3, 3))


# ------------------------------------------------------------------ NLL


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight", [None, np.array([2.0, 0.5, 1.0])], ids=["unweighted", "weighted"])
def test_nll(reduction, weight):
    logp = np_log_softmax(data(5, 3))
    t = np.array([0, 2, 1, 2, 2])
    w = np.ones(3) if weight is None else weight
    per = -logp[np.arange(5), t] * w[t]
    expected = per.sum() / w[t].sum() if reduction == "mean" else reduce(per, reduction)
    check_loss(nn.NLLLoss(weight=weight, reduction=reduction), logp, cr.tensor(t), expected)


def test_log_softmax_then_nll_equals_cross_entropy():
    x = data(6, 4)
    t = cr.tensor([0, 3, 1, 1, 2, 3])
    w = [1.0, 2.0, 0.5, 4.0]
    for reduction in REDUCTIONS:
        a = nn.NLLLoss(weight=w, reduction=reduction)(nn.LogSoftmax(dim=1)(cr.tensor(x)), t).numpy()
        b = nn.CrossEntropyLoss(weight=w, reduction=reduction)(cr.tensor(x), t).numpy()
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_nll_rejects_float_targets():
    with pytest.raises(TypeError, match="class-index targets must be integers, got dtype float"):
        nn.NLLLoss()(cr.zeros(2, 3), cr.tensor([0.0, 1.0]))


# ------------------------------------------------------------------ hinge


def np_hinge(s, y_pm, margin=1.0, squared=False):
    per = np.maximum(0, margin - y_pm * s)
    return per**2 if squared else per


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("squared", [False, True])
@pytest.mark.parametrize("margin", [1.0, 2.0])
def test_hinge_with_plus_minus_one_labels(reduction, squared, margin):
    y = np.where(data(8, seed=1) > 0, 1.0, -1.0)
    s = data(8, low=-3, high=3)
    s = np.where(np.abs(margin - y * s) < 0.05, s + 0.2, s)  # off the kink
    check_loss(
        nn.HingeLoss(reduction, squared=squared, margin=margin),
        s,
        cr.tensor(y),
        reduce(np_hinge(s, y, margin, squared), reduction),
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_hinge_zero_one_labels_are_converted(reduction):
    y01 = (data(8, seed=1) > 0).astype(np.int64)
    s = cr.tensor(data(8, low=-3, high=3))
    a = nn.HingeLoss(reduction)(s, cr.tensor(y01)).numpy()
    b = nn.HingeLoss(reduction)(s, cr.tensor(2.0 * y01 - 1)).numpy()
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a, reduce(np_hinge(s.numpy(), 2.0 * y01 - 1), reduction), rtol=1e-12)


def test_hinge_accepts_all_one_class_and_rejects_other_labels():
    s = cr.tensor(data(3))
    nn.HingeLoss()(s, cr.tensor([1, 1, 1]))
    nn.HingeLoss()(s, cr.tensor([0, 0, 0]))
    nn.HingeLoss()(s, cr.tensor([-1.0, -1.0, -1.0]))
    with pytest.raises(ValueError, match=r"labels must be in \{-1, \+1\} or \{0, 1\}, got values \[-1, 0, 1\]"):
        nn.HingeLoss()(s, cr.tensor([-1, 0, 1]))
    with pytest.raises(ValueError, match="labels must be in"):
        nn.HingeLoss()(s, cr.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match=r"input shape \(3,\) and target shape \(3, 1\) differ"):
        nn.HingeLoss()(s, cr.tensor([[1], [0], [1]]))


# ------------------------------------------------------------------ multi-class hinge


def off_kinks(x: np.ndarray) -> np.ndarray:
    """Scores on a 0.1 grid plus a different offset per class: every margin - s_y + s_c, with margin a
    multiple of 0.1, is then at least 0.013 away from the hinge's kink at 0."""
    return np.round(x, 1) + np.array([0.0, 0.013, 0.031, 0.047])


def np_multi_margin(x, t, margin=1.0, p=1, weight=None):
    n, c = x.shape
    per = np.zeros(n)
    for i in range(n):
        for j in range(c):
            if j != t[i]:
                m = max(0.0, margin - x[i, t[i]] + x[i, j])
                per[i] += (m**p) * (1.0 if weight is None else weight[t[i]])
    return per / c


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("margin", [1.0, 0.5])
@pytest.mark.parametrize("weighted", [False, True])
def test_multi_margin(reduction, p, margin, weighted):
    x = off_kinks(data(6, 4, low=-2, high=2))
    t = np.array([0, 3, 1, 1, 2, 3])
    w = np.array([1.0, 2.0, 0.5, 4.0]) if weighted else None
    check_loss(
        nn.MultiMarginLoss(p=p, margin=margin, weight=w, reduction=reduction),
        x,
        cr.tensor(t),
        reduce(np_multi_margin(x, t, margin, p, w), reduction),
    )


def test_multi_margin_takes_pytorchs_arguments_in_pytorchs_order():
    x = cr.tensor([[0.1, 0.9, -0.3]], dtype="float64")
    y = cr.tensor([1])
    assert nn.MultiMarginLoss(2)(x, y).item() == pytest.approx(((1 - 0.8) ** 2 + 0.0) / 3)  # p=2
    assert nn.MultiMarginLoss(1, 0.5)(x, y).item() == 0.0  # margin 0.5 is met
    assert nn.functional.multi_margin_loss(x, y, 2).item() == pytest.approx(0.04 / 3)
    with pytest.raises(ValueError, match="p must be 1 or 2"):
        nn.MultiMarginLoss(3)
    with pytest.raises(TypeError, match="former squared=True is p=2"):
        nn.MultiMarginLoss(1.0, True)  # chainrule's former (margin, squared) order
    old = nn.MultiMarginLoss.from_config({"reduction": "sum", "margin": 0.5, "squared": True})
    assert (old.p, old.margin, old.reduction) == (2, 0.5, "sum")
    assert repr(old) == "MultiMarginLoss(p=2, margin=0.5, reduction='sum')"


def test_multi_margin_is_zero_when_the_margin_is_met():
    x = cr.tensor([[5.0, 0.0, 1.0], [0.0, 0.0, 9.0]])
    assert nn.MultiMarginLoss()(x, cr.tensor([0, 2])).item() == 0.0


# ------------------------------------------------------------------ common behaviour


@pytest.mark.parametrize(
    "cls",
    [
        nn.MSELoss,
        nn.L1Loss,
        nn.HuberLoss,
        nn.BCELoss,
        nn.BCEWithLogitsLoss,
        nn.CrossEntropyLoss,
        nn.NLLLoss,
        nn.HingeLoss,
        nn.MultiMarginLoss,
    ],
)
def test_invalid_reduction(cls):
    message = rf"{cls.__name__}: reduction must be one of \('mean', 'sum', 'none'\), got 'avg'"
    with pytest.raises(ValueError, match=message):
        cls(reduction="avg")


FLOAT32_CASES = [
    (nn.MSELoss(), [[0.5, 1.0]], np.array([[1.0, 0.0]])),
    (nn.L1Loss(), [[0.5, 1.0]], np.array([[1.0, 0.0]])),
    (nn.HuberLoss(), [[0.5, 3.0]], np.array([[1.0, 0.0]])),
    (nn.SmoothL1Loss(beta=0.5), [[0.5, 3.0]], np.array([[1.0, 0.0]])),
    (nn.BCELoss(weight=np.array([2.0, 1.0])), [[0.5, 0.25]], np.array([[1.0, 0.0]])),
    (
        nn.BCEWithLogitsLoss(weight=np.array([2.0, 1.0]), pos_weight=np.array([3.0, 1.0])),
        [[0.5, 1.0]],
        np.array([[1.0, 0.0]]),
    ),
    (nn.CrossEntropyLoss(weight=np.array([2.0, 1.0]), label_smoothing=0.1), [[0.5, 1.0]], np.array([1])),
    (nn.CrossEntropyLoss(reduction="sum"), [[0.5, 1.0]], np.array([[0.3, 0.7]])),
    (nn.NLLLoss(weight=np.array([2.0, 1.0])), [[-0.5, -1.0]], np.array([1])),
    (nn.HingeLoss(), [[0.5, -1.0]], np.array([[1, 0]])),
    (nn.MultiMarginLoss(), [[0.5, 1.0]], np.array([0])),
]


@pytest.mark.parametrize("loss, x, target", FLOAT32_CASES, ids=[type(c[0]).__name__ for c in FLOAT32_CASES])
def test_float32_input_gives_float32_loss_and_gradient(loss, x, target):
    """float64 targets and weights never promote a float32 model's loss (the fast path stays float32)."""
    xs = cr.tensor(x, dtype="float32", requires_grad=True)
    out = loss(xs, target)
    out.backward()
    assert out.dtype == np.float32
    assert xs.grad.dtype == np.float32


def test_loss_repr_and_config():
    assert repr(nn.MSELoss()) == "MSELoss(reduction='mean')"
    assert nn.CrossEntropyLoss(weight=cr.tensor([1.0, 2.0]), label_smoothing=0.1).get_config() == {
        "reduction": "mean",
        "weight": [1.0, 2.0],
        "label_smoothing": 0.1,
        "ignore_index": None,
    }
    assert nn.BCEWithLogitsLoss(pos_weight=np.array([3.0])).get_config()["pos_weight"] == [3.0]
    assert nn.BCELoss(weight=[0.5]).get_config()["weight"] == [0.5]


def test_losses_train_a_model_end_to_end():
    cr.manual_seed(0)
    model = nn.Linear(4, 3).to("float64")
    x = cr.tensor(data(12, 4))
    t = cr.tensor(np.arange(12) % 3)
    loss = nn.CrossEntropyLoss()(model(x), t)
    loss.backward()
    assert model.weight.grad.shape == (3, 4) and model.bias.grad.shape == (3,)
    # The bias gradient of a mean softmax cross-entropy sums to zero over classes.
    assert model.bias.grad.numpy().sum() == pytest.approx(0.0, abs=1e-12)


# ------------------------------------------------------------------ ignore_index (PyTorch's)


def _log_softmax(x):
    z = x - x.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_ignore_index_leaves_those_samples_out(reduction, weighted):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(6, 4)), np.array([1, -100, 3, 0, -100, 2])
    w = rng.random(4) + 0.5 if weighted else None
    kept = y != -100
    per = -_log_softmax(x)[np.arange(6), np.where(kept, y, 0)] * (w[np.where(kept, y, 0)] if weighted else 1.0)
    per = per * kept
    want = {"none": per, "sum": per.sum(), "mean": per.sum() / (w[y[kept]].sum() if weighted else kept.sum())}
    logits = cr.tensor(x, requires_grad=True)
    got = nn.CrossEntropyLoss(weight=w, reduction=reduction, ignore_index=-100)(logits, cr.tensor(y))
    np.testing.assert_allclose(got.numpy(), want[reduction], rtol=1e-12)
    nll = nn.NLLLoss(weight=w, reduction=reduction, ignore_index=-100)(cr.tensor(_log_softmax(x)), cr.tensor(y))
    np.testing.assert_allclose(nll.numpy(), want[reduction], rtol=1e-12)
    got.sum().backward()
    assert not logits.grad.numpy()[~kept].any()  # no gradient reaches an ignored sample


def test_a_target_of_minus_100_without_ignore_index_says_what_to_pass():
    with pytest.raises(ValueError, match="pass ignore_index=-100"):
        nn.CrossEntropyLoss()(cr.zeros(2, 3), cr.tensor([0, -100]))
    with pytest.raises(TypeError, match="ignore_index must be an int"):
        nn.functional.cross_entropy(cr.zeros(2, 3), cr.tensor([0, 1]), ignore_index=0.5)
    assert nn.CrossEntropyLoss(ignore_index=0).get_config()["ignore_index"] == 0


def test_a_compiled_step_follows_each_batchs_ignored_samples():
    rng = np.random.default_rng(2)
    batches = [(rng.normal(size=(5, 3)), np.array(t)) for t in ([0, -1, 2, -1, 1], [2, 2, -1, 0, 1], [1, 0, 2, 2, 0])]

    def run(compiled):
        cr.manual_seed(0)
        model = nn.Linear(3, 3, dtype="float64")
        opt = cr.optim.SGD(model.parameters(), lr=0.1)
        loss_fn = nn.CrossEntropyLoss(ignore_index=-1)

        def step(x, y):
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            return loss

        step = cr.compile(step) if compiled else step
        losses = [step(cr.tensor(x), cr.tensor(y)).item() for x, y in batches * 2]
        return losses, model.weight.numpy().copy()

    (eager, w_eager), (compiled, w_compiled) = run(False), run(True)
    np.testing.assert_allclose(compiled, eager, rtol=1e-12)
    np.testing.assert_allclose(w_compiled, w_eager, rtol=1e-12)


def test_bce_floors_each_log_at_minus_100_and_keeps_a_gradient_below_1e_12():
    """PyTorch's edges: log 0 is -100, and the gradient is (p - y) / max(p (1 - p), 1e-12) (clipping
    p at 1e-12 gave a loss of at most 27.6 and no gradient below it)."""
    p = cr.tensor([0.0, 1.0, 1e-20, 0.25], dtype="float64", requires_grad=True)
    y = cr.tensor([1.0, 0.0, 1.0, 1.0], dtype="float64")
    loss = nn.functional.binary_cross_entropy(p, y, reduction="none")
    np.testing.assert_allclose(loss.numpy(), [100.0, 100.0, 20 * np.log(10), np.log(4)], rtol=1e-12)
    loss.sum().backward()
    floor = float(np.float32(1e-12))  # (PyTorch's constant, a float32)
    np.testing.assert_allclose(p.grad.numpy(), [-1 / floor, 1 / floor, -1 / floor, -4.0], rtol=1e-12)


def test_an_ignored_sample_with_infinite_logits_counts_nothing():
    """Padding rows of -inf logits with ignore_index: the loss and gradients of the others (the
    ignored row's loss was multiplied by 0: inf * 0 made the loss NaN)."""
    inf = float("inf")
    x = cr.tensor([[-inf, 2.0, 0.5], [-inf, 0.1, 1.0]], dtype="float64", requires_grad=True)
    loss = nn.functional.cross_entropy(x, cr.tensor([1, -100]), ignore_index=-100)
    loss.backward()
    expected = -(2.0 - np.log(np.exp(2.0) + np.exp(0.5)))
    np.testing.assert_allclose(loss.item(), expected, rtol=1e-12)
    np.testing.assert_array_equal(x.grad.numpy()[1], [0.0, 0.0, 0.0])
    logp = cr.tensor([[-inf, np.log(0.7), np.log(0.3)], [-inf, -0.1, -0.2]])
    np.testing.assert_allclose(
        nn.functional.nll_loss(logp, cr.tensor([1, -100]), ignore_index=-100).item(), -np.log(0.7), rtol=1e-6
    )


@pytest.mark.parametrize("which", ["huber", "smooth_l1"])
def test_huber_and_smooth_l1_have_a_finite_gradient_at_an_infinite_error(which):
    a = cr.tensor([float("inf"), 2.0, -float("inf"), 0.1], dtype="float64", requires_grad=True)
    if which == "huber":
        loss = nn.functional.huber_loss(a, cr.zeros(4, dtype="float64"), reduction="sum", delta=0.5)
        expected = [0.5, 0.5, -0.5, 0.1]
    else:
        loss = nn.functional.smooth_l1_loss(a, cr.zeros(4, dtype="float64"), reduction="sum", beta=0.5)
        expected = [1.0, 1.0, -1.0, 0.2]
    loss.backward()
    np.testing.assert_allclose(a.grad.numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_class_index_losses_take_pytorchs_other_layouts(reduction):
    """(N, C, d1, d2) scores with (N, d1, d2) targets (a class per pixel) give the loss of the same
    rows as (N d1 d2, C); an unbatched (C,) with a 0-d target gives a 0-d loss."""
    x = data(2, 4, 3, 5, low=-3, high=3)
    t = np.random.default_rng(0).integers(0, 4, size=(2, 3, 5))
    t[0, 0, 0] = -100
    w = np.array([1.0, 2.0, 0.5, 3.0])
    rows, row_t = x.transpose(0, 2, 3, 1).reshape(-1, 4), t.reshape(-1)
    for fn, scores in ((nn.functional.cross_entropy, x), (nn.functional.nll_loss, np_log_softmax(x))):
        flat = rows if fn is nn.functional.cross_entropy else np_log_softmax(rows)
        got = fn(cr.tensor(scores), cr.tensor(t), w, reduction, ignore_index=-100)
        expected = fn(cr.tensor(flat), cr.tensor(row_t), w, reduction, ignore_index=-100)
        assert got.shape == ((2, 3, 5) if reduction == "none" else ())
        np.testing.assert_allclose(got.numpy().reshape(-1), expected.numpy().reshape(-1), rtol=1e-12)
    one = nn.functional.cross_entropy(cr.tensor([1.0, 2.0, 0.5], dtype="float64"), cr.tensor(1), reduction=reduction)
    assert one.shape == () and one.item() == pytest.approx(np.log(np.exp([1.0, 2.0, 0.5]).sum()) - 2.0)
    with pytest.raises(ValueError, match=r"\(N, C, d1, ...\) with target \(N, d1, ...\)"):
        nn.functional.cross_entropy(cr.randn(2, 4, 3), cr.tensor(np.zeros((2, 4), dtype=int)))
    with pytest.raises(ValueError, match="PyTorch's layouts"):
        nn.functional.cross_entropy(cr.randn(3), cr.tensor([0, 1]))


# ------------------------------------------------------------------ more of PyTorch's losses


def test_kl_div_is_the_kl_divergence_per_sample_with_batchmean():
    p, q = np.array([[0.5, 0.5], [0.1, 0.9]]), np.array([[0.25, 0.75], [0.5, 0.5]])
    want = (p * np.log(p / q)).sum() / 2
    got = F.kl_div(cr.tensor(np.log(q)), cr.tensor(p), reduction="batchmean").item()
    assert got == pytest.approx(want, rel=1e-12)
    assert F.kl_div(cr.tensor(np.log(q)), cr.tensor(np.log(p)), "batchmean", log_target=True).item() == pytest.approx(
        want, rel=1e-12
    )
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
        assert F.kl_div(cr.tensor(np.log(q)), cr.tensor(p)).item() == pytest.approx(want / 2, rel=1e-12)
    # a target of 0 adds nothing (0 log 0 = 0), a NaN stays NaN
    zero = F.kl_div(cr.tensor([[-1.0, -2.0]]), cr.tensor([[0.0, 1.0]]), reduction="none").numpy()
    np.testing.assert_allclose(zero, [[0.0, 2.0]])
    assert np.isnan(F.kl_div(cr.tensor([-1.0]), cr.tensor([float("nan")]), reduction="sum").item())
    with pytest.raises(ValueError, match="kl_div: reduction must be one of"):
        F.kl_div(cr.tensor([0.0]), cr.tensor([1.0]), reduction="avg")
    assert repr(nn.KLDivLoss(reduction="batchmean", log_target=True)) == "KLDivLoss(reduction='batchmean')"


def test_margin_and_embedding_losses_by_hand():
    x1, x2, y = cr.tensor([1.0, 0.0, 2.0]), cr.tensor([0.0, 1.0, 2.0]), cr.tensor([1.0, 1.0, -1.0])
    np.testing.assert_allclose(nn.MarginRankingLoss(0.5, "none")(x1, x2, y).numpy(), [0.0, 1.5, 0.5])
    d, s = cr.tensor([0.3, 0.4, 2.0]), cr.tensor([1.0, -1.0, -1.0])
    np.testing.assert_allclose(nn.HingeEmbeddingLoss(reduction="none")(d, s).numpy(), [0.3, 0.6, 0.0])
    np.testing.assert_allclose(
        nn.SoftMarginLoss("none")(d, s).numpy(), np.log1p(np.exp(-d.numpy() * s.numpy())), rtol=1e-6
    )
    a, b = cr.tensor([[1.0, 0.0], [1.0, 1.0], [1.0, 0.0]]), cr.tensor([[0.0, 2.0], [2.0, 2.0], [1.0, 1.0]])
    cos = np.array([0.0, 1.0, np.sqrt(0.5)])
    got = nn.CosineEmbeddingLoss(0.5, reduction="none")(a, b, cr.tensor([1.0, -1.0, -1.0])).numpy()
    np.testing.assert_allclose(got, [1 - cos[0], cos[1] - 0.5, cos[2] - 0.5], rtol=1e-6)
    with pytest.raises(ValueError, match="cosine_embedding_loss: expects inputs of shape"):
        F.cosine_embedding_loss(a, b, cr.tensor([[1.0]]))
    with pytest.raises(ValueError, match="margin_ranking_loss: all inputs must have the same number of dimensions"):
        F.margin_ranking_loss(x1, x2, cr.tensor([[1.0]]))


def test_margin_losses_pass_the_gradient_at_a_margin_met_exactly_as_pytorchs_clamp():
    x1 = leaf([1.0])
    F.margin_ranking_loss(x1, cr.tensor([1.0], dtype="float64"), cr.tensor([1.0], dtype="float64")).backward()
    assert x1.grad.numpy().tolist() == [-1.0]


def test_gaussian_nll_loss_shapes_clamp_and_errors():
    x, y = data(4, 3), data(4, 3, seed=1)
    var = np.abs(data(4, seed=2))
    want = 0.5 * (np.log(var[:, None]) + (x - y) ** 2 / var[:, None])
    got = nn.GaussianNLLLoss(reduction="none")(cr.tensor(x), cr.tensor(y), cr.tensor(var)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12)
    full = nn.GaussianNLLLoss(full=True)(cr.tensor(x), cr.tensor(y), 2.0).item()  # a float variance
    assert full == pytest.approx((0.5 * (np.log(2.0) + (x - y) ** 2 / 2.0) + 0.5 * np.log(2 * np.pi)).mean())
    v = leaf([0.0, 1.0])  # clamped at eps for the value, its gradient passes as if not clamped
    loss = F.gaussian_nll_loss(
        cr.tensor([0.0, 0.0], dtype="float64"), cr.tensor([0.0, 0.0], dtype="float64"), v, eps=0.5
    )
    assert loss.item() == pytest.approx(0.25 * np.log(0.5))
    loss.backward()
    np.testing.assert_allclose(v.grad.numpy(), [0.5 * 0.5 / 0.5, 0.5 * 0.5 / 1.0])
    with pytest.raises(ValueError, match="var has negative entries"):
        F.gaussian_nll_loss(cr.tensor([0.0]), cr.tensor([0.0]), cr.tensor([-1.0]))
    with pytest.raises(ValueError, match="var is of incorrect size"):
        F.gaussian_nll_loss(cr.tensor(x), cr.tensor(y), cr.tensor(np.ones((2, 3))))
    assert repr(nn.GaussianNLLLoss(full=True)) == "GaussianNLLLoss(reduction='mean')"


def test_poisson_nll_loss_with_and_without_stirling():
    x, t = data(5), np.array([0.0, 1.0, 2.0, 3.0, 7.0])
    base = np.exp(x) - t * x
    got = nn.PoissonNLLLoss(reduction="none")(cr.tensor(x), cr.tensor(t)).numpy()
    np.testing.assert_allclose(got, base, rtol=1e-12)
    stirling = np.where(t > 1, t * np.log(np.maximum(t, 1)) - t + 0.5 * np.log(2 * np.pi * np.maximum(t, 1)), 0)
    got = F.poisson_nll_loss(cr.tensor(x), cr.tensor(t), full=True, reduction="none").numpy()
    np.testing.assert_allclose(got, base + stirling, rtol=1e-12)
    rates = np.abs(x) + 0.1
    got = F.poisson_nll_loss(cr.tensor(rates), cr.tensor(t), log_input=False, reduction="sum").item()
    assert got == pytest.approx((rates - t * np.log(rates + 1e-8)).sum(), rel=1e-12)


def test_triplet_margin_loss_and_pairwise_distance():
    a, p, n = data(4, 3), data(4, 3, seed=1), data(4, 3, seed=2)
    dist = lambda u, v, q=2.0: (np.abs(u - v + 1e-6) ** q).sum(-1) ** (1 / q)  # noqa: E731
    np.testing.assert_allclose(F.pairwise_distance(cr.tensor(a), cr.tensor(p)).numpy(), dist(a, p), rtol=1e-12)
    assert F.pairwise_distance(cr.tensor(a), cr.tensor(p), keepdim=True).shape == (4, 1)
    want = np.maximum(dist(a, p) - np.minimum(dist(a, n), dist(p, n)) + 1.0, 0).mean()
    got = nn.TripletMarginLoss(swap=True)(cr.tensor(a), cr.tensor(p), cr.tensor(n)).item()
    assert got == pytest.approx(want, rel=1e-12)
    got = F.triplet_margin_loss(cr.tensor(a), cr.tensor(p), cr.tensor(n), p=3, reduction="none").numpy()
    np.testing.assert_allclose(got, np.maximum(dist(a, p, 3) - dist(a, n, 3) + 1.0, 0), rtol=1e-12)
    assert cr.gradcheck(lambda u, v, w: F.triplet_margin_loss(u, v, w, margin=3.0), [leaf(a), leaf(p), leaf(n)])
    with pytest.raises(ValueError, match="margin must be greater than 0"):
        nn.TripletMarginLoss(margin=0.0)
    with pytest.raises(ValueError, match="same number of dimensions"):
        F.triplet_margin_loss(cr.tensor(a), cr.tensor(p[0]), cr.tensor(n))
    with pytest.raises(ValueError, match="p must be a number > 0"):
        F.pairwise_distance(cr.tensor(a), cr.tensor(p), p=-1)


@pytest.mark.parametrize("shapes", [((0, 3), (0,)), ((2, 3, 0), (2, 0))])
def test_cross_entropy_of_no_samples_has_an_empty_gradient(shapes):
    """The mean over no samples is NaN, as PyTorch's; its backward divided by the count (0) and
    raised ZeroDivisionError."""
    x = cr.tensor(np.zeros(shapes[0]), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        loss = nn.functional.cross_entropy(x, cr.tensor(np.zeros(shapes[1], dtype=int)))
    assert np.isnan(loss.item())
    loss.backward()
    assert x.grad.shape == shapes[0]
