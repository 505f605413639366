"""chainrule.nn.init against torch.nn.init: gains, and the spread of each scheme on conv-shaped weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.nn import init
from tests.nn.test_init import weight


@pytest.mark.parametrize(
    "name, param",
    [
        ("linear", None),
        ("sigmoid", None),
        ("tanh", None),
        ("relu", None),
        ("selu", None),
        ("leaky_relu", None),
        ("leaky_relu", 0.3),
        ("conv2d", None),
    ],
)
def test_gains_match_torch(name, param):
    assert init.calculate_gain(name, param) == pytest.approx(torch.nn.init.calculate_gain(name, param), rel=1e-12)


def test_bounds_match_torch_on_the_same_shapes():
    # torch draws different numbers; compare the spread each scheme aims for.
    torch.manual_seed(0)
    cr.manual_seed(0)
    for ours, theirs, kwargs in [
        (init.xavier_uniform_, torch.nn.init.xavier_uniform_, {}),
        (init.kaiming_uniform_, torch.nn.init.kaiming_uniform_, {"nonlinearity": "relu"}),
        (init.kaiming_normal_, torch.nn.init.kaiming_normal_, {"mode": "fan_out", "nonlinearity": "relu"}),
    ]:
        w = ours(weight(64, 32, 3, 3), **kwargs)
        t = theirs(torch.empty(64, 32, 3, 3, dtype=torch.float64), **kwargs)
        assert w.numpy().std() == pytest.approx(float(t.std()), rel=0.03)


# orthogonal_, trunc_normal_, eye_, dirac_, sparse_: the properties of PyTorch's output hold for ours on the same
# shapes and arguments (the random streams differ); the deterministic ones are compared exactly.


def matrix_gram(w) -> np.ndarray:
    m = np.asarray(w, dtype=np.float64).reshape(w.shape[0], -1)
    return m @ m.T if m.shape[0] < m.shape[1] else m.T @ m


@pytest.mark.parametrize("shape, gain", [((5, 5), 1.0), ((3, 7), 2.0), ((7, 3), 0.5), ((6, 2, 3, 3), 1.0)])
def test_orthogonal_like_torch(shape, gain):
    ours = init.orthogonal_(weight(*shape), gain=gain).numpy()
    theirs = torch.nn.init.orthogonal_(torch.empty(shape, dtype=torch.float64), gain=gain).numpy()
    for w in (ours, theirs):
        np.testing.assert_allclose(matrix_gram(w), gain**2 * np.eye(min(shape[0], w.size // shape[0])), atol=1e-6)
    assert np.linalg.norm(ours) == pytest.approx(np.linalg.norm(theirs), rel=1e-9)  # the same Frobenius norm


@pytest.mark.parametrize("mean, std, a, b", [(0.0, 1.0, -2.0, 2.0), (0.0, 0.02, -0.04, 0.04), (1.0, 2.0, 0.0, 0.5)])
def test_trunc_normal_like_torch(mean, std, a, b):
    torch.manual_seed(0)
    cr.manual_seed(0)
    ours = init.trunc_normal_(weight(300, 300), mean, std, a, b).numpy()
    theirs = torch.nn.init.trunc_normal_(torch.empty(300, 300, dtype=torch.float64), mean, std, a, b).numpy()
    for w in (ours, theirs):
        assert w.min() >= a and w.max() <= b
    assert ours.mean() == pytest.approx(theirs.mean(), abs=10 * ours.std() / 300)
    assert ours.std() == pytest.approx(theirs.std(), rel=0.02)


def test_trunc_normal_warns_as_torch():
    with pytest.warns(UserWarning, match="mean is more than 2 std") as ours:
        init.trunc_normal_(weight(10), mean=5.0, a=-1.0, b=1.0)
    with pytest.warns(UserWarning, match="mean is more than 2 std") as theirs:
        torch.nn.init.trunc_normal_(torch.empty(10, dtype=torch.float64), mean=5.0, a=-1.0, b=1.0)
    assert str(ours[0].message) == str(theirs[0].message)


@pytest.mark.parametrize("shape", [(3, 3), (2, 5), (5, 2)])
def test_eye_equals_torch(shape):
    np.testing.assert_array_equal(init.eye_(weight(*shape)).numpy(), torch.nn.init.eye_(torch.empty(shape)).numpy())


@pytest.mark.parametrize(
    "shape, groups",
    [((4, 2, 3), 1), ((2, 4, 3, 2), 1), ((3, 3, 3, 4, 5), 1), ((6, 2, 3), 3), ((4, 3, 1, 1), 2), ((6, 1, 2, 2, 3), 2)],
)
def test_dirac_equals_torch(shape, groups):
    ours = init.dirac_(weight(*shape), groups=groups).numpy()
    np.testing.assert_array_equal(ours, torch.nn.init.dirac_(torch.empty(shape), groups=groups).numpy())


@pytest.mark.parametrize("rows, cols, sparsity, std", [(20, 50, 0.1, 0.01), (10, 30, 0.25, 1.0), (9, 40, 0.5, 0.3)])
def test_sparse_like_torch(rows, cols, sparsity, std):
    torch.manual_seed(0)
    cr.manual_seed(0)
    ours = init.sparse_(weight(rows, cols), sparsity, std=std).numpy()
    theirs = torch.nn.init.sparse_(torch.empty(rows, cols, dtype=torch.float64), sparsity, std=std).numpy()
    np.testing.assert_array_equal((ours == 0).sum(axis=0), (theirs == 0).sum(axis=0))
    assert ours[ours != 0].std() == pytest.approx(theirs[theirs != 0].std(), rel=0.2)


@pytest.mark.parametrize(
    "call",
    [
        lambda nn_init, t: nn_init.orthogonal_(t(5)),
        lambda nn_init, t: nn_init.eye_(t(2, 2, 2)),
        lambda nn_init, t: nn_init.dirac_(t(3, 3)),
        lambda nn_init, t: nn_init.dirac_(t(4, 2, 3), groups=3),
        lambda nn_init, t: nn_init.sparse_(t(2, 2, 2), 0.1),
    ],
)
def test_the_same_shapes_are_refused(call):
    with pytest.raises(ValueError):
        call(torch.nn.init, lambda *shape: torch.empty(shape))
    with pytest.raises(ValueError):
        call(init, weight)
