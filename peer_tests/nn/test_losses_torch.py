"""Losses against torch.nn's: values and input gradients for every reduction."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from peer_tests.support import to_torch
from tests.nn.support import data, leaf
from tests.nn.test_losses import CE_CASES, REDUCTIONS, np_log_softmax, off_kinks


def torch_pair(ours, theirs, x, target_ours, target_theirs):
    """Values and input gradients of one of our losses and its torch twin."""
    xs, xt = leaf(x), to_torch(x).requires_grad_(True)
    out_s, out_t = ours(xs, target_ours), theirs(xt, target_theirs)
    g = data(*out_s.shape, seed=9) if out_s.ndim else np.array(1.0)
    out_s.backward(cr.tensor(g))
    out_t.backward(to_torch(g))
    np.testing.assert_allclose(out_s.numpy(), out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_losses_match_torch(reduction):
    x, y = data(5, 3, low=-4, high=4), data(5, 3, seed=1)
    tn = torch.nn
    for ours, theirs in [
        (nn.MSELoss(reduction), tn.MSELoss(reduction=reduction)),
        (nn.L1Loss(reduction), tn.L1Loss(reduction=reduction)),
        (nn.HuberLoss(reduction, delta=0.7), tn.HuberLoss(reduction=reduction, delta=0.7)),
    ]:
        torch_pair(ours, theirs, x, cr.tensor(y), to_torch(y))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_weighted_regression_losses_match_torch(reduction):
    x, y, w = data(5, 3, low=-4, high=4), data(5, 3, seed=1), data(5, 3, seed=2, low=0.1, high=2.0)
    for name, args in [("mse_loss", (reduction,)), ("l1_loss", (reduction,)), ("huber_loss", (reduction, 0.7))]:
        xs, xt = leaf(x), to_torch(x).requires_grad_(True)
        ws, wt = leaf(w), to_torch(w).requires_grad_(True)
        out_s = getattr(F, name)(xs, cr.tensor(y), *args, weight=ws)
        out_t = getattr(TF, name)(xt, to_torch(y), **dict(zip(("reduction", "delta"), args)), weight=wt)
        np.testing.assert_allclose(out_s.numpy(), out_t.detach().numpy(), rtol=1e-12, atol=1e-14)
        g = data(*out_s.shape, seed=9) if out_s.ndim else np.array(1.0)
        out_s.backward(cr.tensor(g))
        out_t.backward(to_torch(g))
        np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(ws.grad.numpy(), wt.grad.numpy(), rtol=1e-10, atol=1e-12)
    # huber's weight is its fifth positional argument in both
    out_s = F.huber_loss(cr.tensor(x), cr.tensor(y), reduction, 0.7, cr.tensor(w))
    out_t = TF.huber_loss(to_torch(x), to_torch(y), reduction, 0.7, to_torch(w))
    np.testing.assert_allclose(out_s.numpy(), out_t.numpy(), rtol=1e-12, atol=1e-14)


def test_weight_of_another_shape_is_refused_by_both():
    for name in ("mse_loss", "l1_loss", "huber_loss"):
        with pytest.raises(ValueError, match="Weights and input must have the same size"):
            getattr(TF, name)(torch.ones(4, 3), torch.zeros(4, 3), weight=torch.ones(3))
        with pytest.raises(ValueError, match=f"{name}: weight of shape"):
            getattr(F, name)(cr.ones(4, 3), cr.zeros(4, 3), weight=cr.ones(3))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_losses_match_torch(reduction):
    tn = torch.nn
    z = data(6, 3, low=-6, high=6)
    y = data(6, 3, seed=1, low=0, high=1)
    w, pw = np.array([2.0, 1.0, 0.25]), np.array([1.0, 3.0, 0.5])
    torch_pair(
        nn.BCEWithLogitsLoss(weight=w, pos_weight=pw, reduction=reduction),
        tn.BCEWithLogitsLoss(weight=to_torch(w), pos_weight=to_torch(pw), reduction=reduction),
        z,
        cr.tensor(y),
        to_torch(y),
    )
    p = data(6, 3, low=0.01, high=0.99)
    torch_pair(
        nn.BCELoss(weight=w, reduction=reduction),
        tn.BCELoss(weight=to_torch(w), reduction=reduction),
        p,
        cr.tensor(y),
        to_torch(y),
    )


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bce_at_the_edges_matches_torch(dtype):
    """Probabilities of exactly 0 and 1, and below 1e-12: the loss, and the gradients of the
    probabilities and of the targets."""
    p = np.array([0.0, 1.0, 0.0, 1.0, 1e-20, 1 - 1e-7, 1e-30, 0.5], dtype=dtype)
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.3], dtype=dtype)
    ps, ys = cr.tensor(p, requires_grad=True), cr.tensor(y, requires_grad=True)
    pt, yt = torch.tensor(p, requires_grad=True), torch.tensor(y, requires_grad=True)
    out_s = nn.functional.binary_cross_entropy(ps, ys, reduction="none")
    out_t = torch.nn.functional.binary_cross_entropy(pt, yt, reduction="none")
    out_s.sum().backward()
    out_t.sum().backward()
    np.testing.assert_allclose(out_s.numpy(), out_t.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(ps.grad.numpy(), pt.grad.numpy(), rtol=1e-12 if dtype == "float64" else 1e-6)
    np.testing.assert_allclose(ys.grad.numpy(), yt.grad.numpy(), rtol=1e-6)  # (inf at 0 and 1, as torch)


def test_bce_after_a_saturated_sigmoid_matches_torch():
    """A float32 sigmoid of a score of 40 is exactly 1: with target 0 the loss is 100 (it was 27.6),
    and a score of -40 with target 1 has torch's small gradient (it was 0)."""
    z = np.array([40.0, -40.0, 3.0], dtype="float32")
    y = np.array([0.0, 1.0, 1.0], dtype="float32")
    zs, zt = cr.tensor(z, requires_grad=True), torch.tensor(z, requires_grad=True)
    out_s = nn.functional.binary_cross_entropy(cr.sigmoid(zs), cr.tensor(y))
    out_t = torch.nn.functional.binary_cross_entropy(torch.sigmoid(zt), torch.tensor(y))
    out_s.backward()
    out_t.backward()
    np.testing.assert_allclose(out_s.item(), out_t.item(), rtol=1e-6)
    np.testing.assert_allclose(zs.grad.numpy(), zt.grad.numpy(), rtol=1e-5)
    assert zs.grad.numpy()[1] != 0


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kwargs", CE_CASES, ids=lambda k: ",".join(k) or "plain")
def test_cross_entropy_matches_torch(reduction, kwargs):
    x = data(6, 4, low=-3, high=3)
    t = np.array([0, 3, 1, 1, 2, 3])
    q = np.exp(data(6, 4, seed=1))
    q /= q.sum(axis=1, keepdims=True)
    torch_kwargs = {k: to_torch(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    ours = nn.CrossEntropyLoss(reduction=reduction, **kwargs)
    theirs = torch.nn.CrossEntropyLoss(reduction=reduction, **torch_kwargs)
    torch_pair(ours, theirs, x, cr.tensor(t), to_torch(t))
    torch_pair(ours, theirs, x, cr.tensor(q), to_torch(q))


def test_cross_entropy_extreme_logits_match_torch():
    x = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, -1000.0]])
    t = np.array([1, 1])
    torch_pair(
        nn.CrossEntropyLoss(label_smoothing=0.1),
        torch.nn.CrossEntropyLoss(label_smoothing=0.1),
        x,
        cr.tensor(t),
        to_torch(t),
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_and_multi_margin_match_torch(reduction):
    x = off_kinks(data(6, 4, low=-2, high=2))
    t = np.array([0, 3, 1, 1, 2, 3])
    w = np.array([1.0, 2.0, 0.5, 4.0])
    torch_pair(
        nn.NLLLoss(weight=w, reduction=reduction),
        torch.nn.NLLLoss(weight=to_torch(w), reduction=reduction),
        np_log_softmax(x),
        cr.tensor(t),
        to_torch(t),
    )
    for p in (1, 2):
        for weight in (None, w):
            torch_pair(
                nn.MultiMarginLoss(p, 0.5, weight, reduction=reduction),
                torch.nn.MultiMarginLoss(p, 0.5, None if weight is None else to_torch(weight), reduction=reduction),
                x,
                cr.tensor(t),
                to_torch(t),
            )


def test_hinge_matches_torch_hinge_formula():
    # torch has no binary hinge loss module; its relu(margin - y s) is the definition.
    s = data(8, low=-3, high=3)
    y = np.where(data(8, seed=1) > 0, 1.0, -1.0)
    torch_pair(nn.HingeLoss("mean"), lambda a, b: torch.relu(1.0 - a * b).mean(), s, cr.tensor(y), to_torch(y))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("beta", [1.0, 0.3, 2.5, 0.0])
def test_smooth_l1_matches_torch(reduction, beta):
    y = data(6, 4, seed=1)
    x = y + off_kinks(data(6, 4, low=-4, high=4))
    if beta:
        e = x - y
        x = np.where(np.abs(np.abs(e) - beta) < 0.05, x + 0.2, x)  # off the joint at |e| = beta
    torch_pair(
        nn.SmoothL1Loss(reduction, beta=beta),
        torch.nn.SmoothL1Loss(reduction=reduction, beta=beta),
        x,
        cr.tensor(y),
        to_torch(y),
    )
    out = nn.functional.smooth_l1_loss(cr.tensor(x), cr.tensor(y), reduction, beta)
    expected = torch.nn.functional.smooth_l1_loss(to_torch(x), to_torch(y), reduction=reduction, beta=beta)
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-12)


LEGACY = [(True, True), (False, True), (True, False), (False, False), (None, False), (False, None)]


@pytest.mark.parametrize("size_average, reduce", LEGACY)
def test_size_average_and_reduce_mean_what_they_mean_in_torch(size_average, reduce):
    x, y = data(5, 3), data(5, 3, seed=1)
    t, w = np.array([0, 2, 1, 1, 0]), np.array([1.0, 2.0, 0.5])
    legacy = dict(size_average=size_average, reduce=reduce)
    cases = [
        (nn.MSELoss, torch.nn.MSELoss, {}, x, y),
        (nn.L1Loss, torch.nn.L1Loss, {}, x, y),
        (nn.SmoothL1Loss, torch.nn.SmoothL1Loss, {}, x, y),
        (nn.BCEWithLogitsLoss, torch.nn.BCEWithLogitsLoss, {}, x, np.abs(y) / 2),
        (nn.CrossEntropyLoss, torch.nn.CrossEntropyLoss, {"weight": w}, x, t),
        (nn.NLLLoss, torch.nn.NLLLoss, {"weight": w}, np_log_softmax(x), t),
        (nn.MultiMarginLoss, torch.nn.MultiMarginLoss, {}, x, t),
    ]
    for ours, theirs, kwargs, inputs, target in cases:
        with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated") as caught:
            a = ours(**kwargs, **legacy)
        torch_kwargs = {k: to_torch(v) for k, v in kwargs.items()}
        with pytest.warns(UserWarning) as torch_caught:
            b = theirs(**torch_kwargs, **legacy)
        assert a.reduction == b.reduction, ours.__name__
        assert str(caught[0].message).startswith(str(torch_caught[0].message).rstrip(".")), ours.__name__
        np.testing.assert_allclose(
            a(cr.tensor(inputs), cr.tensor(target)).numpy(),
            b(to_torch(inputs), to_torch(target)).numpy(),
            rtol=1e-10,
            err_msg=ours.__name__,
        )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_class_index_losses_per_pixel_and_unbatched_match_torch(reduction):
    x = data(2, 4, 3, 5, low=-3, high=3)
    t = np.random.default_rng(0).integers(0, 4, size=(2, 3, 5))
    t[0, 0, 0] = -100
    w = np.array([1.0, 2.0, 0.5, 3.0])
    torch_pair(
        nn.CrossEntropyLoss(weight=w, reduction=reduction, label_smoothing=0.1, ignore_index=-100),
        torch.nn.CrossEntropyLoss(weight=to_torch(w), reduction=reduction, label_smoothing=0.1),
        x,
        cr.tensor(t),
        to_torch(t),
    )
    torch_pair(
        nn.NLLLoss(weight=w, reduction=reduction, ignore_index=-100),
        torch.nn.NLLLoss(weight=to_torch(w), reduction=reduction),
        x,
        cr.tensor(t),
        to_torch(t),
    )
    for target in (np.array(2), np.array([0.2, 0.5, 0.1, 0.2])):
        torch_pair(
            nn.CrossEntropyLoss(reduction=reduction),
            torch.nn.CrossEntropyLoss(reduction=reduction),
            x[0, :, 0, 0],
            cr.tensor(target),
            to_torch(target),
        )


# ------------------------------------------------------------------ more of PyTorch's losses

_rng = np.random.default_rng(0)
_X, _Y, _Z = (_rng.standard_normal((4, 5)) for _ in range(3))
_P = _rng.dirichlet(np.ones(5), 4)
_P[0, 1] = 0.0  # a target of 0: 0 log 0 = 0
_LOGQ = np.log(_rng.dirichlet(np.ones(5), 4))
_SIGNS = np.array([1.0, -1.0, -1.0, 1.0])
_COUNTS = np.floor(np.abs(_Y) * 3)


def _case(name, arrays, grads, **kw):
    return pytest.param(name, arrays, grads, kw, id=f"{name}-{kw}")


MORE = [
    *[_case("kl_div", [_LOGQ, _P], (0,), reduction=r) for r in ("batchmean", "sum", "none", "mean")],
    _case("kl_div", [_LOGQ, np.log(_P + 0.1)], (0, 1), reduction="batchmean", log_target=True),
    *[_case("margin_ranking_loss", [_X[0], _Y[0], np.sign(_Z[0])], (0, 1), margin=m) for m in (0.0, 0.3)],
    _case("hinge_embedding_loss", [np.abs(_X), np.sign(_Y)], (0,), margin=0.7, reduction="none"),
    _case("soft_margin_loss", [_X, np.sign(_Y)], (0,)),
    *[_case("cosine_embedding_loss", [_X, _Y, _SIGNS], (0, 1), margin=m, reduction="sum") for m in (0.0, -0.2)],
    _case("cosine_embedding_loss", [_X[0], _Y[0], np.array(-1.0)], (0, 1), margin=-0.5),
    _case("gaussian_nll_loss", [_X, _Y, np.abs(_Z) * (np.arange(5) > 0)], (0, 1, 2), full=True),
    _case("gaussian_nll_loss", [_X, _Y, np.abs(_Z[:, 0])], (0, 1, 2), reduction="none"),
    _case("gaussian_nll_loss", [_X, _Y, np.abs(_Z[:1])], (0, 1, 2), reduction="sum"),
    _case("poisson_nll_loss", [_X, _COUNTS], (0,), full=True),
    _case("poisson_nll_loss", [np.abs(_X), _COUNTS], (0,), log_input=False, reduction="none"),
    *[
        _case("triplet_margin_loss", [_X, _Y, _Z], (0, 1, 2), p=p, swap=swap, margin=0.5)
        for p in (2.0, 1.0, 3.0, float("inf"))
        for swap in (False, True)
    ],
    _case("triplet_margin_loss", [_X[0], _Y[0], _Z[0]], (0, 1, 2)),
    _case("pairwise_distance", [_X, _Y], (0, 1), keepdim=True),
    _case("pairwise_distance", [_X, _Y], (0, 1), p=1.0, eps=0.0),
]


@pytest.mark.parametrize("name, arrays, grads, kw", MORE)
def test_more_losses_match_torch_in_values_and_gradients(name, arrays, grads, kw):
    mine = [cr.tensor(a, requires_grad=i in grads) for i, a in enumerate(arrays)]
    theirs = [to_torch(a).requires_grad_(i in grads) for i, a in enumerate(arrays)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (kl_div's 'mean' warns in both)
        out = getattr(F, name)(*mine, **kw)
        out_t = getattr(TF, name)(*theirs, **kw)
    g = np.random.default_rng(1).standard_normal(out_t.shape)
    out.backward(cr.tensor(g))
    out_t.backward(to_torch(g))
    np.testing.assert_allclose(out.detach().numpy(), out_t.detach().numpy(), rtol=1e-12, atol=1e-14)
    for i in grads:
        np.testing.assert_allclose(mine[i].grad.numpy(), theirs[i].grad.numpy(), rtol=1e-10, atol=1e-14)


def test_kl_div_target_gradient_where_the_target_is_zero_is_finite_where_pytorchs_is_nan():
    # (a documented difference: 0 log 0 taken as 0 has the derivative 1 - input here; PyTorch's is NaN)
    t_mine, t_theirs = cr.tensor(_P, requires_grad=True), to_torch(_P).requires_grad_(True)
    F.kl_div(cr.tensor(_LOGQ), t_mine, reduction="sum").backward()
    TF.kl_div(to_torch(_LOGQ), t_theirs, reduction="sum").backward()
    zero = _P == 0
    assert np.isnan(t_theirs.grad.numpy()[zero]).all() and np.isfinite(t_mine.grad.numpy()).all()
    np.testing.assert_allclose(t_mine.grad.numpy()[~zero], t_theirs.grad.numpy()[~zero], rtol=1e-12)


@pytest.mark.parametrize(
    "mine, theirs",
    [
        (
            nn.KLDivLoss(reduction="batchmean", log_target=True),
            torch.nn.KLDivLoss(reduction="batchmean", log_target=True),
        ),
        (nn.MarginRankingLoss(0.2), torch.nn.MarginRankingLoss(0.2)),
        (nn.HingeEmbeddingLoss(), torch.nn.HingeEmbeddingLoss()),
        (nn.CosineEmbeddingLoss(), torch.nn.CosineEmbeddingLoss()),
        (nn.GaussianNLLLoss(full=True), torch.nn.GaussianNLLLoss(full=True)),
        (nn.PoissonNLLLoss(log_input=False), torch.nn.PoissonNLLLoss(log_input=False)),
        (nn.TripletMarginLoss(p=1.0, swap=True), torch.nn.TripletMarginLoss(p=1.0, swap=True)),
    ],
    ids=lambda m: type(m).__name__,
)
def test_loss_modules_keep_pytorchs_arguments(mine, theirs):
    for name in ("reduction", "log_target", "margin", "full", "eps", "log_input", "p", "swap"):
        if hasattr(theirs, name):
            assert getattr(mine, name) == getattr(theirs, name), name
