"""chainrule.explain's attribution methods against what they must recover: the exact terms of a
linear model, finite differences, the completeness of integrated gradients, NumPy references
written one sample and one window at a time, and their own batch/row agreement. Captum's values
on identical weights are compared in peer_tests/explain."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import explain, nn

RNG = np.random.default_rng(0)


def linear_model(w: np.ndarray, b: float = 0.5, dtype: str = "float64") -> nn.Linear:
    lin = nn.Linear(len(w), 1, dtype=dtype)
    with cr.no_grad():
        lin.weight.copy_(cr.tensor(w.reshape(1, -1), dtype=dtype))
        lin.bias.fill_(b)
    return lin


def smooth_mlp(n_in: int = 5, n_out: int = 3, seed: int = 0) -> nn.Sequential:
    cr.manual_seed(seed)
    return nn.Sequential(nn.Linear(n_in, 8, dtype="float64"), nn.Tanh(), nn.Linear(8, n_out, dtype="float64"))


W = RNG.standard_normal(6)
X_LIN = RNG.standard_normal((7, 6))


# ------------------------------------------------------------------ a linear model: exact answers


def test_linear_model_input_x_gradient_is_each_term_w_x():
    lin = linear_model(W)
    np.testing.assert_allclose(explain.input_x_gradient(lin, X_LIN), W * X_LIN, rtol=1e-12)


@pytest.mark.parametrize("method", explain.attributions.INTEGRATION_RULES)
def test_linear_model_integrated_gradients_with_zero_baseline_is_w_x(method):
    att, delta = explain.integrated_gradients(
        linear_model(W), X_LIN, method=method, n_steps=7, return_convergence_delta=True
    )
    np.testing.assert_allclose(att, W * X_LIN, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(delta, 0.0, atol=1e-12)


def test_linear_model_occlusion_of_one_feature_is_w_i_x_i():
    np.testing.assert_allclose(explain.occlusion(linear_model(W), X_LIN), W * X_LIN, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(explain.feature_ablation(linear_model(W), X_LIN), W * X_LIN, rtol=1e-12, atol=1e-12)


def test_linear_model_lime_recovers_the_terms_of_the_model():
    """In LIME's interpretable space (feature kept or set to the zero baseline) the model is
    b + sum_i (w_i x_i) z_i, so the surrogate's coefficients are w_i x_i exactly, up to the ridge."""
    result = explain.lime(linear_model(W), X_LIN, seed=0, alpha=1e-8, n_samples=300)
    np.testing.assert_allclose(result.coefficients, W * X_LIN, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(result.intercepts, 0.5, atol=1e-6)
    assert (result.scores > 0.999999).all()
    np.testing.assert_allclose(result.attributions, result.coefficients)  # one feature per group


def test_lime_default_ridge_shrinks_only_slightly():
    result = explain.lime(linear_model(W), X_LIN, seed=0)
    np.testing.assert_allclose(result.coefficients, W * X_LIN, rtol=0.05, atol=0.02)


# ------------------------------------------------------------------ gradients and completeness


def finite_difference_gradient(model, X, target, eps=1e-6):
    grads = np.zeros_like(X)
    for j in range(X.shape[1]):
        step = np.zeros_like(X)
        step[:, j] = eps
        with cr.no_grad():
            up = model(cr.tensor(X + step)).numpy()[np.arange(len(X)), target]
            down = model(cr.tensor(X - step)).numpy()[np.arange(len(X)), target]
        grads[:, j] = (up - down) / (2 * eps)
    return grads


def test_saliency_is_the_finite_difference_gradient():
    net, X, target = smooth_mlp(), RNG.standard_normal((6, 5)), np.array([0, 1, 2, 0, 1, 2])
    expected = finite_difference_gradient(net, X, target)
    np.testing.assert_allclose(explain.saliency(net, X, target, abs=False), expected, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(explain.saliency(net, X, target), np.abs(expected), rtol=1e-6, atol=1e-9)


def test_integrated_gradients_completeness_error_goes_to_zero_as_steps_grow():
    net, X = smooth_mlp(), 2.0 * RNG.standard_normal((6, 5))
    errors = {}
    for method in ("riemann_left", "riemann_middle", "riemann_trapezoid", "gausslegendre"):
        errors[method] = [
            np.abs(
                explain.integrated_gradients(net, X, 1, method=method, n_steps=n, return_convergence_delta=True)[1]
            ).max()
            for n in (4, 16, 64)
        ]
        assert errors[method][0] > errors[method][1] > errors[method][2] or errors[method][2] < 1e-12, errors
    # the stated tolerance at the default 50 steps for a smooth model: Gauss-Legendre is exact to
    # rounding, and the middle and trapezoid rules are second order
    for method, bound in (("gausslegendre", 1e-10), ("riemann_middle", 1e-3), ("riemann_trapezoid", 1e-3)):
        delta = explain.integrated_gradients(net, X, 1, method=method, return_convergence_delta=True)[1]
        assert np.abs(delta).max() < bound, (method, delta)


def test_integrated_gradients_equals_the_rule_written_out_for_one_sample():
    net, X, base = smooth_mlp(), RNG.standard_normal((3, 5)), RNG.standard_normal(5)
    for method in explain.attributions.INTEGRATION_RULES:
        alphas, weights = explain.integration_rule(method, 9)
        att = explain.integrated_gradients(net, X, 2, baselines=base, method=method, n_steps=9)
        for i, x in enumerate(X):
            g = sum(
                w * explain.saliency(net, (base + a * (x - base))[None], 2, abs=False)[0]
                for a, w in zip(alphas, weights)
            )
            np.testing.assert_allclose(att[i], (x - base) * g, rtol=1e-10, atol=1e-12)


def test_integration_rules_integrate_polynomials_as_their_order_says():
    for n in (3, 8):
        a, w = explain.integration_rule("gausslegendre", n)
        assert abs(np.sum(w * a ** (2 * n - 1)) - 1 / (2 * n)) < 1e-12  # exact to degree 2n - 1
    a, w = explain.integration_rule("riemann_trapezoid", 5)
    assert abs(np.sum(w * a) - 0.5) < 1e-15
    with pytest.raises(ValueError, match="method must be one of"):
        explain.integration_rule("simpson", 5)


# ------------------------------------------------------------------ SmoothGrad


@pytest.mark.parametrize(
    "base", ["saliency", "input_x_gradient", "integrated_gradients", "occlusion", "feature_ablation"]
)
def test_smoothgrad_with_zero_noise_equals_its_base_method(base):
    net, X = smooth_mlp(), RNG.standard_normal((4, 5))
    plain = explain.METHODS[base](net, X, 1)
    np.testing.assert_allclose(explain.smoothgrad(net, X, 1, base=base, stdevs=0.0, nt_samples=3), plain, rtol=1e-12)
    np.testing.assert_allclose(explain.smoothgrad(net, X, 1, base=base, stdevs=0.0, nt_type="vargrad"), 0.0, atol=1e-20)


def test_smoothgrad_is_the_mean_over_the_noisy_copies_it_draws():
    net, X = smooth_mlp(), RNG.standard_normal((4, 5))
    noise = np.random.default_rng(3).standard_normal((6, 4, 5)) * 0.3
    expected = np.mean([explain.saliency(net, X + e, 0) for e in noise], axis=0)
    got = explain.smoothgrad(net, X, 0, nt_samples=6, stdevs=0.3, seed=3)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    squared = explain.smoothgrad(net, X, 0, nt_samples=6, stdevs=0.3, seed=3, nt_type="smoothgrad_sq")
    np.testing.assert_allclose(squared, np.mean([explain.saliency(net, X + e, 0) ** 2 for e in noise], axis=0))


def test_seeds_make_smoothgrad_and_lime_reproducible():
    net, X = smooth_mlp(), RNG.standard_normal((3, 5))
    a = explain.smoothgrad(net, X, 0, seed=7)
    np.testing.assert_array_equal(a, explain.smoothgrad(net, X, 0, seed=7))
    assert not np.array_equal(a, explain.smoothgrad(net, X, 0, seed=8))
    la = explain.lime(net, X, 0, seed=7, n_samples=50)
    np.testing.assert_array_equal(la.coefficients, explain.lime(net, X, 0, seed=7, n_samples=50).coefficients)
    assert not np.array_equal(la.coefficients, explain.lime(net, X, 0, seed=8, n_samples=50).coefficients)


# ------------------------------------------------------------------ occlusion on signals and images


def occlusion_reference(f, x, window, strides, baseline=0.0):
    """Captum's definition, one sample and one window at a time: windows start every stride
    until one reaches the end (it may be cut there)."""
    total, count = np.zeros_like(x), np.zeros_like(x)
    ranges = [range(0, s - w + st, st) for s, w, st in zip(x.shape, window, strides)]  # the last one cut
    full = f(x[None])[0]
    for corner in np.array(np.meshgrid(*ranges, indexing="ij")).reshape(len(x.shape), -1).T:
        where = tuple(slice(c, c + w) for c, w in zip(corner, window))
        occluded = x.copy()
        occluded[where] = baseline
        total[where] += full - f(occluded[None])[0]
        count[where] += 1
    return np.divide(total, count, out=np.zeros_like(total), where=count > 0)


def small_cnn2d():
    cr.manual_seed(1)
    return nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1),
        nn.BatchNorm2d(3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(3 * 3 * 3, 4),
    ).double()


@pytest.mark.parametrize("window, strides", [((1, 2, 2), (1, 1, 1)), ((2, 3, 2), (1, 2, 2)), ((1, 1, 1), (1, 1, 1))])
def test_occlusion_on_images_equals_the_one_window_at_a_time_reference(window, strides):
    net = small_cnn2d().eval()
    X = RNG.standard_normal((3, 2, 6, 6))
    got = explain.occlusion(net, X, 2, sliding_window_shapes=window, strides=strides, baselines=0.1)
    with cr.no_grad():
        f = lambda a: net(cr.tensor(a)).numpy()[:, 2]  # noqa: E731
    for i in range(3):
        np.testing.assert_allclose(got[i], occlusion_reference(f, X[i], window, strides, 0.1), rtol=1e-10, atol=1e-12)


def test_occlusion_on_signals():
    cr.manual_seed(2)
    net = nn.Sequential(
        nn.Conv1d(1, 4, 5, stride=2, dtype="float64"), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8, 3, dtype="float64")
    )
    X = RNG.standard_normal((2, 1, 20))
    got = explain.occlusion(net, X, 0, sliding_window_shapes=(1, 4), strides=(1, 2))
    with cr.no_grad():
        f = lambda a: net(cr.tensor(a)).numpy()[:, 0]  # noqa: E731
    for i in range(2):
        np.testing.assert_allclose(got[i], occlusion_reference(f, X[i], (1, 4), (1, 2)), rtol=1e-10, atol=1e-12)


def test_feature_ablation_gives_a_group_its_joint_drop():
    lin = linear_model(W)
    mask = np.array([0, 0, 1, 1, 1, 2])
    got = explain.feature_ablation(lin, X_LIN, feature_mask=mask)
    terms = W * X_LIN
    for g in range(3):
        np.testing.assert_allclose(
            got[:, mask == g], terms[:, mask == g].sum(1, keepdims=True).repeat((mask == g).sum(), 1)
        )


# ------------------------------------------------------------------ a batch equals its rows; eval mode


ALL = ["saliency", "input_x_gradient", "integrated_gradients", "smoothgrad", "occlusion", "feature_ablation"]


@pytest.mark.parametrize("method", ALL)
def test_attributions_of_a_batch_equal_attributions_one_row_at_a_time(method):
    net = small_cnn2d()
    net.train()  # explained in eval mode whatever the mode: BatchNorm uses its running statistics
    X = RNG.standard_normal((4, 2, 6, 6))
    target = np.array([0, 3, 1, 2])
    with cr.no_grad():
        net[1].running_mean.copy_(cr.tensor([0.1, -0.2, 0.3], dtype="float64"))
    state = {k: v.copy() for k, v in net.state_dict().items()}
    kwargs = {"seed": 0} if method == "smoothgrad" else {}
    batch = (
        explain.explain(net, X, method=method, target=target, n_steps=8, **kwargs)
        if method == "integrated_gradients"
        else explain.explain(net, X, method=method, target=target, **kwargs)
    )
    if method == "smoothgrad":  # the noise of row i is drawn as part of the batch's: compare with zero noise
        batch = explain.smoothgrad(net, X, target, stdevs=0.0)
        rows = [explain.smoothgrad(net, X[i : i + 1], target[i], stdevs=0.0) for i in range(4)]
    elif method == "integrated_gradients":
        rows = [explain.integrated_gradients(net, X[i : i + 1], target[i], n_steps=8) for i in range(4)]
    else:
        rows = [explain.explain(net, X[i : i + 1], method=method, target=target[i]) for i in range(4)]
    np.testing.assert_allclose(batch, np.concatenate(rows), rtol=1e-10, atol=1e-12)
    assert net.training and all(m.training for m in net.modules())  # its mode put back
    for k, v in net.state_dict().items():  # and nothing in it changed (BatchNorm's statistics)
        np.testing.assert_array_equal(v, state[k])


def test_small_batch_size_chunks_give_the_same_result():
    net, X = smooth_mlp(), RNG.standard_normal((5, 5))
    np.testing.assert_allclose(
        explain.integrated_gradients(net, X, 1, batch_size=3), explain.integrated_gradients(net, X, 1), rtol=1e-12
    )
    np.testing.assert_allclose(explain.occlusion(net, X, 1, batch_size=2), explain.occlusion(net, X, 1), rtol=1e-12)


def test_dropout_is_off_while_explaining_and_the_mode_is_restored():
    cr.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 2)).train()
    X = RNG.standard_normal((3, 5)).astype(np.float32)
    a = explain.saliency(net, X, 1)
    np.testing.assert_array_equal(a, explain.saliency(net, X, 1))
    assert net.training


# ------------------------------------------------------------------ estimators, loaded models, callables


def test_a_fitted_estimator_is_explained_on_its_checked_inputs():
    from chainrule.estimators import LogisticRegression

    X = RNG.standard_normal((80, 4))
    y = (X[:, 0] - 2 * X[:, 2] > 0).astype(int)
    clf = LogisticRegression().fit(X, y)
    att = explain.integrated_gradients(clf, X[:5])  # binary: one output, the probability of class 1
    assert att.shape == (5, 4)
    with pytest.raises(ValueError, match="one output per sample.*leave target=None"):
        explain.integrated_gradients(clf, X[:5], 0)
    assert np.abs(att[:, [0, 2]]).sum() > np.abs(att[:, [1, 3]]).sum()
    with pytest.raises(ValueError, match="features"):
        explain.saliency(clf, X[:5, :3])
    result = explain.permutation_importance(clf, X, y, seed=0)
    assert result.importances.shape == (4, 5)
    assert result.importances_mean[2] > result.importances_mean[1]


def test_a_loaded_model_explains_like_the_original(tmp_path):
    net, X = smooth_mlp(), RNG.standard_normal((3, 5))
    cr.save(net, tmp_path / "m.crm")
    loaded = cr.load(tmp_path / "m.crm")
    np.testing.assert_allclose(explain.integrated_gradients(loaded, X, 1), explain.integrated_gradients(net, X, 1))


def test_permutation_importance_of_an_ignored_feature_is_zero():
    lin = linear_model(np.array([2.0, 0.0, -1.0]))
    X = RNG.standard_normal((100, 3))
    y = X @ np.array([2.0, 0.0, -1.0]) + 0.5
    result = explain.permutation_importance(lin, X, y, n_repeats=4, seed=1)
    assert result.baseline_score == pytest.approx(1.0)
    assert result.importances_mean[1] == 0.0 and result.importances_std[1] == 0.0
    assert result.importances_mean[0] > result.importances_mean[2] > 0.2  # about 2 w_j^2 / var(y): 1.6 and 0.4
    grouped = explain.permutation_importance(
        lin, X, y, feature_mask=[0, 0, 1], seed=1, scoring="neg_mean_squared_error"
    )
    assert grouped.importances.shape == (2, 5)


# ------------------------------------------------------------------ bad input: clear errors


def test_bad_input_is_a_clear_error():
    net, X = smooth_mlp(), RNG.standard_normal((3, 5))
    with pytest.raises(ValueError, match="target 3 is out of range for a model with 3 outputs"):
        explain.saliency(net, X, 3)
    with pytest.raises(ValueError, match="pass target="):
        explain.saliency(net, X)
    with pytest.raises(ValueError, match="target must be an int or 3 integer class indices"):
        explain.saliency(net, X, [0, 1])
    with pytest.raises(ValueError, match=r"baselines of shape \(4,\) do not fit inputs of shape \(3, 5\)"):
        explain.integrated_gradients(net, X, 0, baselines=np.zeros(4))
    with pytest.raises(ValueError, match="X holds NaN or infinite values"):
        explain.saliency(net, np.where(np.eye(3, 5) > 0, np.nan, X), 0)
    with pytest.raises(ValueError, match="n_steps must be a positive integer"):
        explain.integrated_gradients(net, X, 0, n_steps=0)
    with pytest.raises(ValueError, match="method must be one of"):
        explain.explain(net, X, method="shap", target=0)
    with pytest.raises(ValueError, match="sliding_window_shapes"):
        explain.occlusion(net, X, 0, sliding_window_shapes=(6,))
    with pytest.raises(ValueError, match="feature_mask must be integer group ids"):
        explain.lime(net, X, 0, feature_mask=[0, 1])
    with pytest.raises(ValueError, match="X must be a non-empty batch"):
        explain.saliency(net, X[0], 0)
    with pytest.raises(ValueError, match="5"):  # the wrong feature count: the layer names both shapes
        explain.saliency(net, RNG.standard_normal((3, 4)), 0)
    with pytest.raises(ValueError, match="X has 3 samples but y has 2"):
        explain.permutation_importance(net, X, [0, 1])
    with pytest.raises(TypeError, match="model must be"):
        explain.saliency(42, X, 0)


# ------------------------------------------------------------------ found by review: each a silent wrong result before


def test_a_model_must_return_one_output_per_row():
    """A scalar (a loss-like sum) or a fixed-size output used to give gradients of the batch's
    sum, or zeros for every row but the first."""
    X = RNG.standard_normal((4, 3))
    for method in ("saliency", "integrated_gradients", "occlusion"):
        with pytest.raises(ValueError, match=r"returned shape \(\) for a batch of 1 rows"):
            explain.explain(lambda x: (x**2).sum(), X, method=method)
        with pytest.raises(ValueError, match=r"returned shape \(1,\) for a batch of \d+ rows"):
            explain.explain(lambda x: (x**2).sum(1)[:1], X, method=method)


def test_a_model_computed_in_numpy_is_explained_by_perturbations_and_refused_by_gradients():
    w = np.array([2.0, -1.0, 0.5])
    X = RNG.standard_normal((5, 3))
    in_numpy = lambda x: x.numpy() @ w  # noqa: E731
    np.testing.assert_allclose(explain.occlusion(in_numpy, X), w * X, rtol=1e-12)
    np.testing.assert_allclose(explain.feature_ablation(in_numpy, X), w * X, rtol=1e-12)
    np.testing.assert_allclose(explain.lime(in_numpy, X, seed=0, alpha=1e-9).coefficients, w * X, rtol=1e-6)
    y = X @ w
    assert explain.permutation_importance(in_numpy, X, y, seed=0).baseline_score == pytest.approx(1.0)
    with pytest.raises(TypeError, match="must return a chainrule Tensor, got ndarray.*occlusion"):
        explain.saliency(in_numpy, X)
    with pytest.raises(ValueError, match="does not depend on X through chainrule operations"):
        explain.integrated_gradients(lambda x: cr.tensor(in_numpy(x)), X)  # the graph cut: all zeros before


def test_non_finite_outputs_baselines_and_targets_are_refused():
    net, X = smooth_mlp(), RNG.standard_normal((3, 5))
    with pytest.raises(ValueError, match="model's outputs hold NaN"):
        explain.occlusion(lambda x: (x * 0 + np.nan).sum(1), X)
    with pytest.raises(ValueError, match="model's outputs hold NaN"):
        explain.saliency(lambda x: (x * 0 + np.nan).sum(1), X)
    for method, kwargs in [("integrated_gradients", {}), ("occlusion", {}), ("lime", {}), ("smoothgrad", {})]:
        if method == "smoothgrad":
            kwargs = {"base": "integrated_gradients"}
        with pytest.raises(ValueError, match="baselines hold NaN or infinite values"):
            explain.explain(net, X, method=method, target=0, baselines=np.nan, **kwargs)
    with pytest.raises(ValueError, match="got a boolean True"):  # was class 1
        explain.saliency(net, X, True)
    with pytest.raises(ValueError, match="got a boolean"):
        explain.saliency(net, X, np.array([True, False, True]))


def test_integration_rule_checks_its_number_of_points():
    for method in explain.attributions.INTEGRATION_RULES:
        with pytest.raises(ValueError, match="n_steps must be a positive integer, got 0"):
            explain.integration_rule(method, 0)


def test_occlusion_strides_larger_than_the_window_are_refused_as_in_captum():
    """Features between two windows were never occluded and got 0."""
    with pytest.raises(ValueError, match=r"strides \(4,\) are larger than sliding_window_shapes \(1,\)"):
        explain.occlusion(linear_model(W), X_LIN, sliding_window_shapes=1, strides=4)


def test_feature_mask_with_a_leading_axis_of_one_as_captum_takes_it():
    mask = np.array([0, 0, 1, 1, 1, 2])
    lin = linear_model(W)
    expected = explain.feature_ablation(lin, X_LIN, feature_mask=mask)
    np.testing.assert_array_equal(explain.feature_ablation(lin, X_LIN, feature_mask=mask[None]), expected)
    np.testing.assert_array_equal(explain.feature_ablation(lin, X_LIN, feature_mask=cr.tensor(mask * 7 - 3)), expected)


def test_lime_is_lime_image_kernel_and_weighted_ridge_written_out_in_numpy():
    """LIME's kernel is sqrt(exp(-d^2 / w^2)) (lime_image.py); the surrogate a weighted ridge with an
    unpenalised intercept, solved here in closed form on the same draws."""
    net, X = smooth_mlp(), RNG.standard_normal((2, 5))
    mask, n_samples, width, alpha = np.array([0, 0, 1, 2, 2]), 40, 0.4, 0.5
    got = explain.lime(net, X, 1, feature_mask=mask, n_samples=n_samples, kernel_width=width, alpha=alpha, seed=3)
    z = np.random.default_rng(3).integers(0, 2, size=(2, n_samples, 3)).astype(bool)
    z[:, 0] = True
    for i in range(2):
        zi = z[i].astype(float)
        with cr.no_grad():
            y = net(cr.tensor(np.where(zi[:, mask] > 0, X[i], 0.0))).numpy()[:, 1]
        d = 1.0 - zi.sum(1) / np.sqrt(np.maximum(zi.sum(1), 1) * 3)
        d[zi.sum(1) == 0] = 1.0
        w = np.sqrt(np.exp(-(d**2) / width**2))
        zc, yc = zi - np.average(zi, axis=0, weights=w), y - np.average(y, weights=w)
        beta = np.linalg.solve(zc.T @ (w[:, None] * zc) + alpha * np.eye(3), zc.T @ (w * yc))
        np.testing.assert_allclose(got.coefficients[i], beta, rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(got.attributions[i], beta[mask], rtol=1e-8, atol=1e-12)


def test_lime_refuses_settings_under_which_it_would_learn_nothing():
    """n_samples=1 and a tiny kernel_width gave all-zero weights with a perfect score of 1."""
    lin = linear_model(W)
    with pytest.raises(ValueError, match="n_samples must be at least 2"):
        explain.lime(lin, X_LIN, n_samples=1)
    with pytest.raises(ValueError, match="weigh 0 in all"):
        explain.lime(lin, X_LIN, kernel_width=1e-6, seed=0)
    with pytest.raises(ValueError, match="alpha"):
        explain.lime(lin, X_LIN, alpha=-1.0)


def test_smoothgrad_refuses_a_convergence_delta_it_cannot_average():
    with pytest.raises(ValueError, match="return_convergence_delta"):
        explain.smoothgrad(smooth_mlp(), X_LIN[:, :5], 0, base="integrated_gradients", return_convergence_delta=True)


def test_an_unfitted_estimator_says_so():
    from sklearn.exceptions import NotFittedError

    from chainrule.estimators import LogisticRegression

    with pytest.raises(NotFittedError, match="not fitted"):
        explain.saliency(LogisticRegression(), X_LIN)


def permutation_by_hand(predict, score, X, y, n_repeats, seed):
    """scikit-learn's definition, one feature and one shuffle at a time, on the same permutations."""
    rng = np.random.default_rng(seed)
    baseline = score(y, predict(X))
    drops = np.zeros((X.shape[1], n_repeats))
    for j in range(X.shape[1]):
        orders = [rng.permutation(len(X)) for _ in range(n_repeats)]
        for r, order in enumerate(orders):
            shuffled = X.copy()
            shuffled[:, j] = X[order, j]
            drops[j, r] = baseline - score(y, predict(shuffled))
    return baseline, drops


def test_permutation_importance_of_integer_regression_targets_is_r2_by_hand():
    """Integer y of a one-output regression was scored by accuracy of outputs > 0.5: all zeros."""
    from sklearn.metrics import r2_score

    w = np.array([2.0, 0.0, -1.0])
    lin, X = linear_model(w), RNG.standard_normal((60, 3))
    y = np.round(X @ w * 3).astype(int)
    got = explain.permutation_importance(lin, X, y, n_repeats=3, seed=4)
    with cr.no_grad():
        predict = lambda a: lin(cr.tensor(a)).numpy()[:, 0]  # noqa: E731
    baseline, drops = permutation_by_hand(predict, r2_score, X, y, 3, 4)
    assert got.baseline_score == pytest.approx(baseline, rel=1e-12)
    np.testing.assert_allclose(got.importances, drops, rtol=1e-10, atol=1e-12)
    assert got.importances_mean[0] > 0.5


def test_permutation_importance_of_a_classifier_with_labels_is_its_accuracy_by_hand():
    """Labels that are not 0..C-1 (strings, or 5/7/9) were compared with output indices: all zeros."""
    from sklearn.metrics import accuracy_score

    from chainrule.estimators import LinearSVC, LogisticRegression

    X = RNG.standard_normal((90, 3))
    for labels in (np.array(["no", "yes"]), np.array([5, 7, 9])):
        score = X[:, 0] - X[:, 2]
        y = labels[np.digitize(score, [-0.5, 0.5]) if len(labels) == 3 else (score > 0).astype(int)]
        for estimator in (LogisticRegression(), LinearSVC()):  # probabilities; raw scores (0 the threshold)
            clf = estimator.fit(X, y)
            got = explain.permutation_importance(clf, X, y, n_repeats=2, seed=1)
            baseline, drops = permutation_by_hand(clf.predict, accuracy_score, X, y, 2, 1)
            assert got.baseline_score == pytest.approx(clf.score(X, y)) == pytest.approx(baseline)
            np.testing.assert_allclose(got.importances, drops, atol=1e-12)
            assert got.importances_mean[0] > got.importances_mean[1]
    with pytest.raises(ValueError, match=r"one label of the classifier's classes_ \['no', 'yes'\]"):
        clf = LogisticRegression().fit(X, np.where(X[:, 0] > 0, "yes", "no"))
        explain.permutation_importance(clf, X, np.where(X[:, 0] > 0, "yes", "maybe"))


def test_permutation_importance_of_several_outputs_averages_r2_as_scikit_learn():
    from sklearn.metrics import mean_squared_error, r2_score

    cr.manual_seed(0)
    net, X = nn.Linear(3, 2, dtype="float64"), RNG.standard_normal((40, 3))
    Y = X[:, :2] * [1.0, 10.0] + 0.3 * RNG.standard_normal((40, 2))
    with cr.no_grad():
        outputs = net(cr.tensor(X)).numpy()
    assert explain.permutation_importance(net, X, Y, n_repeats=1).baseline_score == pytest.approx(r2_score(Y, outputs))
    neg_mse = explain.permutation_importance(net, X, Y, n_repeats=1, scoring="neg_mean_squared_error").baseline_score
    assert neg_mse == pytest.approx(-mean_squared_error(Y, outputs))


def test_permutation_importance_gives_a_callable_score_the_same_shape_every_time():
    """The unshuffled score got (N, 1) outputs and the shuffled ones (N,): y - out broadcast to
    (N, N) for the first only, and every importance was off by the same wrong amount."""
    lin, X = linear_model(np.array([1.0, 0.0])), RNG.standard_normal((30, 2))
    y = X[:, 0] + 0.5
    shapes = []

    def neg_mse(yy, out):
        shapes.append(out.shape)
        return -np.mean((yy - out) ** 2)

    got = explain.permutation_importance(lin, X, y, scoring=neg_mse, n_repeats=2, seed=0)
    assert set(shapes) == {(30,)}
    assert got.baseline_score == pytest.approx(0.0, abs=1e-20)
    assert got.importances_mean[1] == 0.0 and got.importances_mean[0] > 0.5


def test_permutation_importance_refuses_what_it_cannot_score():
    lin, X = linear_model(np.array([1.0, -1.0])), RNG.standard_normal((20, 2))
    y = X[:, 0] - X[:, 1]
    with pytest.raises(ValueError, match="at least 2 samples"):
        explain.permutation_importance(lin, X[:1], y[:1])
    with pytest.raises(ValueError, match="y holds NaN"):
        explain.permutation_importance(lin, X, np.where(np.arange(20) == 3, np.nan, y))
    with pytest.raises(ValueError, match="none \\(a scalar\\)"):
        explain.permutation_importance(lin, X, 1.0)
    with pytest.raises(ValueError, match="y holds labels"):
        explain.permutation_importance(nn.Linear(2, 2, dtype="float64"), X, np.array(["a", "b"] * 10))
    with pytest.raises(ValueError, match="y holds class 2, out of range for a model with 2 outputs"):
        explain.permutation_importance(nn.Linear(2, 2, dtype="float64"), X, np.arange(20) % 3)
    with pytest.raises(ValueError, match="for logits pass scoring="):  # 0/1 labels against a logit: > 0.5 was wrong
        explain.permutation_importance(lin, 10 * X, (y > 0).astype(int))


WRAPPED = None  # a network a module-level function names as a global, as a script's lambda does


def test_the_modules_a_function_calls_are_explained_in_eval_mode_and_left_as_they_were():
    """A lambda over a network in train mode used its batch statistics (the rows of a batch
    changed each other's attributions) and updated BatchNorm's running statistics."""
    global WRAPPED
    net = small_cnn2d().train()
    X = RNG.standard_normal((4, 2, 6, 6))
    state = {k: v.copy() for k, v in net.state_dict().items()}
    with cr.no_grad():
        expected = explain.saliency(net, X, 1, abs=False)
    WRAPPED = net
    for wrapper in (net.forward, lambda x: net(x) * 1.0, lambda x: WRAPPED(x) * 1.0):
        np.testing.assert_allclose(explain.saliency(wrapper, X, 1, abs=False), expected, rtol=1e-12)
        np.testing.assert_allclose(explain.occlusion(wrapper, X, 1), explain.occlusion(net, X, 1), rtol=1e-12)
        assert all(m.training for m in net.modules())
        for k, v in net.state_dict().items():
            np.testing.assert_array_equal(v, state[k])
    WRAPPED = None
