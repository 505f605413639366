"""cumsum, cumprod, prod, the norms and einsum: dtypes, gradients at zeros, and the errors."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import chainrule as cr


def brute_cumprod_grad(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """d/dx_k of sum_j g_j prod(x[:j+1]) by the definition (a product without x_k)."""
    n = len(x)
    out = np.zeros(n)
    for k, j in itertools.product(range(n), range(n)):
        if j >= k:
            out[k] += g[j] * np.prod(np.delete(x[: j + 1], k))
    return out


@pytest.mark.parametrize(
    "x", [[2.0, 0.0, 3.0, 4.0], [0.0, 2.0, 0.0, 5.0], [1.5, -2.0, 3.0, 0.0], [0.0, 0.0, 0.0, 0.0], [1.0, 2.0, 3.0, 4.0]]
)
def test_the_cumprod_gradient_is_exact_with_zeros(x):
    g = np.array([1.0, -2.0, 0.5, 3.0])
    t = cr.tensor(x, dtype="float64", requires_grad=True)
    (t.cumprod(0) * cr.tensor(g)).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), brute_cumprod_grad(np.array(x), g), atol=1e-12)
    t.grad = None
    cr.prod(t).backward()
    np.testing.assert_allclose(t.grad.numpy(), brute_cumprod_grad(np.array(x), np.eye(4)[-1]), atol=1e-12)


def test_scans_and_prod_give_int64_for_integers_and_take_dtype():
    x = cr.tensor([[1, 2], [3, 4]], dtype="int32")
    assert x.cumsum(0).dtype == np.int64 and x.cumprod(1).dtype == np.int64 and x.prod().dtype == np.int64
    assert cr.tensor([True, True]).cumsum(0).tolist() == [1, 2]
    assert cr.cumsum(x, 1, dtype=cr.float64).dtype == np.float64
    assert cr.prod(x, 1, keepdim=True).tolist() == [[2], [12]]
    assert cr.prod(cr.ones(2, 0), 1).tolist() == [1.0, 1.0]
    assert cr.cumsum(cr.tensor(3.0), 0).item() == 3.0  # a 0-d tensor: dim 0 or -1
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        cr.cumsum(x, 2)
    with pytest.raises(TypeError, match="dim must be one integer"):
        cr.cumsum(x, (0, 1))
    with pytest.raises(TypeError, match="keepdim=True needs a dim"):
        cr.prod(x, keepdim=True)


def test_the_norm_gradient_at_zero_is_zero_not_nan():
    for p in (2, "fro", 3, 1):
        x = cr.zeros(2, 3, requires_grad=True)
        cr.norm(x, p).backward()
        np.testing.assert_array_equal(x.grad.numpy(), 0.0)
    x = cr.tensor([[0.0, 0.0], [3.0, 4.0]], requires_grad=True)
    n = x.norm(dim=1)
    (g,) = cr.grad(n.sum(), x, create_graph=True)
    np.testing.assert_allclose(g.numpy(), [[0, 0], [0.6, 0.8]], atol=1e-7)
    assert np.isfinite(cr.grad(g.sum(), x)[0].numpy()).all()


def test_norms_values_and_refusals():
    a = cr.tensor([[1.0, -2.0], [3.0, 4.0]])
    assert math.isclose(a.norm().item(), math.sqrt(30), rel_tol=1e-6)
    assert a.norm(p=float("inf")).item() == 4.0 and a.norm(p=0).item() == 4.0 and a.norm(p=1, dim=0).tolist() == [4, 6]
    assert cr.linalg.norm(a, 2, dim=1).shape == (2,)
    assert cr.linalg.matrix_norm(a, -1).item() == 4.0 and cr.linalg.matrix_norm(a, -math.inf).item() == 3.0
    with pytest.raises(NotImplementedError, match="nuc"):
        a.norm(p="nuc")
    with pytest.raises(NotImplementedError, match="SVD"):
        cr.linalg.matrix_norm(a, 2)
    with pytest.raises(TypeError, match="floating point"):
        cr.norm(cr.tensor([1, 2]))
    with pytest.raises(ValueError, match="p='fro' is over at most 2 dimensions"):
        cr.ones(2, 2, 2).norm(dim=(0, 1, 2))
    with pytest.raises(ValueError, match="must be 1-d or 2-d"):
        cr.linalg.norm(cr.ones(2, 2, 2), 1)
    assert cr.norm(cr.tensor([3, 4]), dtype=cr.float64).item() == 5.0


def test_einsum_values_forms_and_errors():
    a, b = cr.tensor(np.arange(6.0).reshape(2, 3)), cr.tensor(np.arange(12.0).reshape(3, 4))
    np.testing.assert_array_equal(cr.einsum("ij,jk", [a, b]).numpy(), a.numpy() @ b.numpy())  # one list of operands
    np.testing.assert_array_equal(cr.einsum("i j , j k -> k i", a, b).numpy(), (a.numpy() @ b.numpy()).T)
    assert cr.einsum("ba", a).shape == (3, 2)  # implicit: the letters in alphabetical order
    assert cr.einsum("...i,i->...", cr.ones(2, 1, 3), cr.ones(3)).shape == (2, 1)
    assert cr.einsum("i,i->i", cr.ones(1), cr.ones(3)).shape == (3,)  # size 1 broadcasts, as PyTorch
    errors = [
        (("ij,jk->ii", a, b), "output subscript i appears more than once"),
        (("ij,jk->iz", a, b), "output subscript z does not appear"),
        (("ij,jk->ik", a), "fewer operands"),
        (("ij->ij", a, b), "more operands"),
        (("ijk,jk->ik", a, b), r"number of subscripts in 'ijk' \(3\) does not match .* \(2\) of operand 0"),
        (("ij,ij->ij", a, b), "do not broadcast"),
        (("ii", a), "subscript i is repeated for operand 0 but the sizes don't match"),
        (("i1", a), "invalid subscript '1'"),
        (("....i", a), "only as one"),
    ]
    for (eq, *ops), message in errors:
        with pytest.raises(ValueError, match=message):
            cr.einsum(eq, *ops)
    with pytest.raises(TypeError, match="different dtypes"):
        cr.einsum("i,i", cr.ones(2), cr.ones(2, dtype="float64"))
    with pytest.raises(TypeError, match="sublist form"):
        cr.einsum(a, [0, 1])


def test_einsum_broadcast_operand_gets_its_own_shape_of_gradient():
    x = cr.tensor(np.ones((2, 1, 3)), requires_grad=True)
    y = cr.tensor(np.arange(12.0).reshape(4, 3), requires_grad=True)
    cr.einsum("...i,...i->...", x, y).sum().backward()
    assert x.grad.shape == (2, 1, 3) and y.grad.shape == (4, 3)
    np.testing.assert_allclose(x.grad.numpy()[0, 0], y.numpy().sum(0))
    np.testing.assert_allclose(y.grad.numpy(), np.full((4, 3), 2.0))


def test_a_compiled_step_gives_the_eager_gradients_when_zeros_appear_after_it_was_traced():
    def make():
        w = cr.nn.Parameter(cr.tensor(np.linspace(0.5, 2.0, 4)))
        opt = cr.optim.SGD([w], lr=0.01)

        def step(x):
            opt.zero_grad()
            h = x * w
            loss = cr.cumprod(h, 1).sum() + cr.einsum("bi,i->b", x, w).sum() + h.norm(dim=1).sum() + h.cumsum(0).sum()
            loss.backward()
            opt.step()
            return loss

        return w, step

    (w_eager, eager), (w_compiled, compiled) = make(), make()
    compiled = cr.compile(compiled)
    rng = np.random.default_rng(0)
    for k in range(5):
        x = rng.standard_normal((3, 4))
        if k >= 3:  # zeros inside the rows and a row all zero: the masks change, the plan is the same
            x[:, 1] = 0.0
            x[0] = 0.0
        np.testing.assert_allclose(compiled(cr.tensor(x)).item(), eager(cr.tensor(x)).item(), rtol=1e-6)
        np.testing.assert_allclose(w_compiled.numpy(), w_eager.numpy(), rtol=1e-6)
    assert compiled.stats["replayed"] >= 3
