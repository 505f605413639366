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
        "sigmoid",
        "tanh",
        "gelu",
        "softplus",
        "step",
        "linear",
        "softsign",
        "softmin",
        "glu",
        "tanhshrink",
        "softshrink",
        "hardshrink",
        "prelu",
    ):
        assert getattr(F, name) is getattr(cr, name), name
    # those that take PyTorch's inplace= too wrap the op: the same values
    x = cr.tensor([-1.0, 0.0, 2.0, 7.0])
    for name in ("relu", "elu", "silu", "mish", "selu", "celu", "relu6", "hardtanh", "hardswish", "hardsigmoid"):
        np.testing.assert_array_equal(getattr(F, name)(x).numpy(), getattr(cr, name)(x).numpy())
    np.testing.assert_array_equal(F.threshold(x, 0.5, 3.0).numpy(), cr.threshold(x, 0.5, 3.0).numpy())
    np.testing.assert_array_equal(F.leaky_relu(x, 0.2).numpy(), cr.leaky_relu(x, 0.2).numpy())
    for name in ("softmax", "log_softmax"):  # (they take PyTorch's _stacklevel and dtype too)
        np.testing.assert_array_equal(getattr(F, name)(x, 0).numpy(), getattr(cr, name)(x, 0).numpy())


def test_leaky_relu_inplace_writes_into_the_input():
    x = cr.tensor([-10.0, 0.0, 3.0])
    data = x.numpy()
    assert F.leaky_relu(x, 0.1, True) is x and x.numpy() is data
    np.testing.assert_array_equal(data, [-1.0, 0.0, 3.0])
    y = cr.tensor([-2.0, 5.0])
    assert F.leaky_relu(y) is not y and y.numpy().tolist() == [-2.0, 5.0]
    leaf_x = leaf([-1.0, 2.0])
    with pytest.raises(RuntimeError, match="leaf"):
        F.leaky_relu(leaf_x, inplace=True)
    w = leaf([-1.0, 2.0])
    out = F.leaky_relu(w * 1.0, 0.3, inplace=True)  # on a non-leaf: the gradient flows as without inplace
    out.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [0.3, 1.0])


def test_softmax_dtype_casts_the_input_first():
    x = cr.tensor([1.0, 2.0, 3.0])  # float32
    for f in (F.softmax, F.log_softmax):
        out = f(x, 0, 3, cr.float64)  # PyTorch's positional order: input, dim, _stacklevel, dtype
        assert out.dtype == np.float64 and f(x, dim=0, dtype=cr.float64).dtype == np.float64
        exact = np.array([1.0, 2.0, 3.0])
        want = np.exp(exact) / np.exp(exact).sum()
        np.testing.assert_allclose(out.numpy(), want if f is F.softmax else np.log(want), rtol=1e-15)
        assert f(x, 0).dtype == np.float32
        assert getattr(x, f.__name__)(dim=0, dtype=cr.float64).dtype == np.float64
    ints = cr.tensor([1, 2])
    assert F.softmax(ints, 0, dtype=cr.float32).dtype == np.float32
    with pytest.raises(TypeError, match="softmax: dtype=int64 is not a float dtype"):
        F.softmax(x, 0, dtype=cr.int64)
    w = leaf([0.5, -0.5])
    F.log_softmax(w, 0, dtype=cr.float32)[0].backward()
    assert w.grad.dtype == np.float64
    np.testing.assert_allclose(w.grad.numpy(), [1 - 1 / (1 + np.exp(-1.0)), -1 / (1 + np.exp(1.0))], rtol=1e-6)


def test_functional_linear_matches_the_layer():
    cr.manual_seed(0)
    layer = nn.Linear(4, 3).to("float64")
    x = cr.tensor(data(5, 4))
    np.testing.assert_array_equal(F.linear(x, layer.weight, layer.bias).numpy(), layer(x).numpy())
    np.testing.assert_allclose(F.linear(x, layer.weight).numpy(), x.numpy() @ layer.weight.numpy().T, rtol=1e-12)


@pytest.mark.parametrize(
    "fn, module, args",
    [
        (F.mse_loss, nn.MSELoss, ()),
        (F.l1_loss, nn.L1Loss, ()),
        (F.huber_loss, nn.HuberLoss, ()),
        (F.smooth_l1_loss, nn.SmoothL1Loss, ()),
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


def test_smooth_l1_loss_function_takes_beta_and_checks_it():
    x, y = cr.tensor(data(4, 3)), cr.tensor(data(4, 3, seed=1))
    np.testing.assert_array_equal(
        F.smooth_l1_loss(x, y, "none", 0.7).numpy(), nn.SmoothL1Loss("none", beta=0.7)(x, y).numpy()
    )
    np.testing.assert_allclose(
        F.smooth_l1_loss(x, y, beta=0.7).numpy(), (F.huber_loss(x, y, delta=0.7) * (1 / 0.7)).numpy(), rtol=1e-6
    )
    with pytest.raises(ValueError, match=r"smooth_l1_loss: beta must be a number >= 0, got -0\.5"):
        F.smooth_l1_loss(x, y, beta=-0.5)
    with pytest.raises(ValueError, match=r"smooth_l1_loss: input shape \(4, 3\) and target shape \(3,\) differ"):
        F.smooth_l1_loss(x, cr.ones(3))


def test_check_reduction_explains_a_true_or_false():
    with pytest.raises(ValueError, match=r"l1_loss: .* got False; a True/False here is PyTorch's old size_average"):
        F.l1_loss(cr.ones(2), cr.ones(2), False)


LEGACY = [(True, True, "mean"), (False, True, "sum"), (True, False, "none"), (False, False, "none")]


def legacy_calls():
    """Every loss function with arguments: (name, call(**reduction_kwargs))."""
    x, y = cr.tensor(data(4, 3)), cr.tensor(data(4, 3, seed=1))
    p, soft = F.sigmoid(x), cr.tensor(data(4, 3, seed=1, low=0, high=1))
    t, w = cr.tensor([0, 2, 1, 2]), [1.0, 2.0, 0.5]
    labels = cr.tensor((data(4, 3, seed=2) > 0).astype(int))
    return {
        "mse_loss": lambda **kw: F.mse_loss(x, y, **kw),
        "l1_loss": lambda **kw: F.l1_loss(x, y, **kw),
        "huber_loss": lambda **kw: F.huber_loss(x, y, delta=0.5, **kw),
        "smooth_l1_loss": lambda **kw: F.smooth_l1_loss(x, y, beta=0.5, **kw),
        "binary_cross_entropy": lambda **kw: F.binary_cross_entropy(p, soft, w, **kw),
        "binary_cross_entropy_with_logits": lambda **kw: F.binary_cross_entropy_with_logits(x, soft, w, w, **kw),
        "hinge_loss": lambda **kw: F.hinge_loss(x, labels, **kw),
        "cross_entropy": lambda **kw: F.cross_entropy(x, t, w, label_smoothing=0.1, **kw),
        "nll_loss": lambda **kw: F.nll_loss(F.log_softmax(x, 1), t, w, **kw),
        "multi_margin_loss": lambda **kw: F.multi_margin_loss(x, t, **kw),
        "margin_ranking_loss": lambda **kw: F.margin_ranking_loss(x, y, cr.sign(y), 0.2, **kw),
        "hinge_embedding_loss": lambda **kw: F.hinge_embedding_loss(cr.abs(x), cr.sign(y), **kw),
        "soft_margin_loss": lambda **kw: F.soft_margin_loss(x, cr.sign(y), **kw),
        "cosine_embedding_loss": lambda **kw: F.cosine_embedding_loss(x, y, cr.tensor([1.0, -1.0, 1.0, -1.0]), **kw),
        "poisson_nll_loss": lambda **kw: F.poisson_nll_loss(x, cr.abs(y), full=True, **kw),
        "triplet_margin_loss": lambda **kw: F.triplet_margin_loss(x, y, soft, swap=True, **kw),
    }


# kl_div takes them too, with its own 'mean' warning (tests/nn/test_losses.py); gaussian_nll_loss
# has none, as PyTorch's
NO_LEGACY_TEST_HERE = {"kl_div", "gaussian_nll_loss"}


def test_every_loss_function_is_in_the_legacy_argument_test():
    names = {name for name in vars(F) if name.endswith(("_loss", "cross_entropy", "cross_entropy_with_logits"))}
    assert names - NO_LEGACY_TEST_HERE == set(legacy_calls())


@pytest.mark.parametrize("size_average, reduce, expected", LEGACY)
@pytest.mark.parametrize("name", sorted(legacy_calls()))
def test_loss_functions_map_size_average_and_reduce_as_pytorch_does(name, size_average, reduce, expected):
    call = legacy_calls()[name]
    other = "sum" if expected != "sum" else "mean"  # the reduction given alongside is ignored, as in PyTorch
    with pytest.warns(UserWarning, match=rf"please use reduction='{expected}' instead \({name}\)"):
        out = call(size_average=size_average, reduce=reduce, reduction=other)
    np.testing.assert_array_equal(out.numpy(), call(reduction=expected).numpy())


def test_legacy_reduction_leaves_reduction_alone_when_neither_is_given():
    assert F.legacy_reduction(None, None, "sum", "x") == "sum"
    with pytest.warns(
        UserWarning, match=r"^size_average and reduce args will be deprecated, please use reduction='none'"
    ):
        assert F.legacy_reduction(None, False, "sum", "x") == "none"


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
    expected = sum(np.abs(p.numpy().astype(np.float64)).sum() for p in model.parameters())
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
    np.testing.assert_allclose(with_penalty - layer.weight.grad.numpy(), alpha * layer.weight.numpy(), rtol=1e-10)


def test_the_input_is_named_input_as_in_pytorch():
    t = cr.tensor([-1.0, 0.5, 2.0])
    for f, kw in [
        (F.softplus, {"beta": 2.0}),
        (F.leaky_relu, {"negative_slope": 0.2}),
        (F.gelu, {"approximate": "tanh"}),
        (F.sigmoid, {}),
        (F.tanh, {}),
        (F.softmax, {"dim": 0}),
        (F.log_softmax, {"dim": 0}),
        (F.dropout, {"p": 0.0}),
    ]:
        np.testing.assert_array_equal(f(input=t, **kw).numpy(), f(t, **kw).numpy(), err_msg=f.__name__)
    assert F.linear(input=t, weight=cr.ones(1, 3)).item() == 1.5


def test_dropouts_fourth_positional_argument_is_inplace_as_in_pytorch():
    for f, x in ((F.dropout, cr.ones(3)), (F.dropout1d, cr.ones(2, 3, 4)), (F.dropout2d, cr.ones(2, 3, 4, 4))):
        assert f(x, 0.5, True, True) is x
    a = F.dropout(cr.ones(100), 0.5, True, False, generator=3).numpy()
    np.testing.assert_array_equal(F.dropout(cr.ones(100), 0.5, generator=3).numpy(), a)
