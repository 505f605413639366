"""Small PyTorch habits, run on both libraries: an f-string of a 0-d tensor, ``~`` on integers,
``full``'s dtype, ``squeeze`` of an axis longer than one, ``contiguous``, ``zero_grad(set_to_none=)``,
the random factories' dtypes, a DataLoader with worker options."""

from __future__ import annotations

import numpy as np
import torch

import chainrule as cr


def test_the_same_results_as_pytorch():
    assert f"{cr.tensor(0.125, dtype=cr.float64)}" == f"{torch.tensor(0.125, dtype=torch.float64)}"
    assert f"{cr.tensor(7)}" == f"{torch.tensor(7)}"
    assert (~cr.tensor([1, 0, -3])).tolist() == (~torch.tensor([1, 0, -3])).tolist()
    assert (~cr.tensor([True, False])).tolist() == (~torch.tensor([True, False])).tolist()
    for value in (-100, True, 0.5):
        ours, theirs = cr.full((2,), value), torch.full((2,), value)
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
    assert cr.ones(2, 1, 3).squeeze(0).shape == tuple(torch.ones(2, 1, 3).squeeze(0).shape)
    x = np.arange(6.0).reshape(2, 3)
    assert cr.tensor(x).t().contiguous().view(-1).tolist() == torch.tensor(x).t().contiguous().view(-1).tolist()
    assert cr.tensor(x).t().is_contiguous() == torch.tensor(x).t().is_contiguous()
    assert str(cr.randint(0, 5, (3,)).dtype) == str(torch.randint(0, 5, (3,)).dtype).replace("torch.", "")
    assert str(cr.randperm(4).dtype) == str(torch.randperm(4).dtype).replace("torch.", "")


def test_zero_grad_set_to_none_as_pytorch():
    for lib in (cr, torch):
        p = cr.nn.Parameter(cr.ones(2)) if lib is cr else torch.nn.Parameter(torch.ones(2))
        opt = lib.optim.SGD([p], lr=0.1)
        (p * 3.0).sum().backward()
        opt.zero_grad(set_to_none=False)
        assert p.grad.tolist() == [0.0, 0.0]
        opt.zero_grad()
        assert p.grad is None


def test_default_collate_makes_the_batches_pytorchs_makes():
    import collections

    from torch.utils.data import default_collate as theirs

    from chainrule.data import default_collate as ours

    Pair = collections.namedtuple("Pair", "x y")

    def plain(value):
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, tuple) and hasattr(value, "_fields"):
            return (type(value).__name__, [plain(v) for v in value])
        if isinstance(value, (list, tuple)):
            return (type(value).__name__, [plain(v) for v in value])
        if hasattr(value, "numpy"):
            array = value.numpy()
            return (str(array.dtype), array.tolist())
        return value

    batches = [
        [np.ones(3, dtype=np.float32) * i for i in range(3)],
        [{"x": np.arange(2.0) * i, "label": i, "w": 0.5} for i in range(3)],
        [(np.float32(i), (f"s{i}", i)) for i in range(3)],
        [[float(i), 2.0 * i] for i in range(3)],
        [Pair(np.zeros(2), i) for i in range(3)],
        [True, False, True],
    ]
    for batch in batches:
        assert plain(ours(batch)) == plain(theirs(batch)), batch


def test_a_softmax_without_dim_normalises_the_axis_pytorchs_does():
    import warnings

    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for a in (x, x[0], x[0, 0], x[0, 0, 0]):
            ours = cr.nn.functional.softmax(cr.tensor(a)).numpy()
            theirs = torch.nn.functional.softmax(torch.tensor(a)).numpy()
            np.testing.assert_allclose(ours, theirs, atol=1e-6)


def test_the_index_and_shape_ops_pytorch_code_uses_agree_with_pytorch():
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    index = np.array([[0, 0], [3, 1], [2, 2]])
    cases = [
        (lambda lib, t: lib.gather(t, 1, lib.tensor(index))),
        (lambda lib, t: t.index_select(1, lib.tensor([3, 0, 3]))),
        (lambda lib, t: t.flip(0, 1)),
        (lambda lib, t: lib.roll(t, (-1, 5), (0, 1))),
        (lambda lib, t: lib.roll(t, 2)),
        (lambda lib, t: t.tril(-1) + t.triu(1) * 2),
        (lambda lib, t: lib.cat([p * (i + 1) for i, p in enumerate(t.chunk(3, 1))], 1)),
        (lambda lib, t: t.amax(1) + t.amin(0).sum()),
        (lambda lib, t: lib.bmm(t[None], t.T[None])[0] + t.mm(t.T)),
        (lambda lib, t: lib.clamp(t, min=-0.5, max=0.5)),
    ]
    for case in cases:
        ours_x = cr.tensor(x, requires_grad=True)
        theirs_x = torch.tensor(x, requires_grad=True)
        ours, theirs = case(cr, ours_x), case(torch, theirs_x)
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-5, atol=1e-6)
        ours.sum().backward()
        theirs.sum().backward()
        np.testing.assert_allclose(ours_x.grad.numpy(), theirs_x.grad.numpy(), rtol=1e-5, atol=1e-6)
    assert (
        cr.argsort(cr.tensor(x), 1, descending=True).tolist()
        == torch.argsort(torch.tensor(x), 1, descending=True).tolist()
    )
    labels = np.array([[0, 2], [1, 1]])
    assert (
        cr.nn.functional.one_hot(cr.tensor(labels), 4).tolist()
        == torch.nn.functional.one_hot(torch.tensor(labels), 4).tolist()
    )
    nan = np.array([1.0, np.nan, np.inf])
    assert cr.isnan(cr.tensor(nan)).tolist() == torch.isnan(torch.tensor(nan)).tolist()
    assert cr.isfinite(cr.tensor(nan)).tolist() == torch.isfinite(torch.tensor(nan)).tolist()


def test_remainder_floor_divide_nonzero_and_keywords_as_pytorch():
    a = np.array([5.0, -5.0, 7.5, -0.5])
    b = np.array([3.0, 3.0, -2.0, 0.75])
    ours_a, ours_b = cr.tensor(a, requires_grad=True), cr.tensor(b, requires_grad=True)
    theirs_a, theirs_b = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    (ours_a % ours_b).sum().backward()
    (theirs_a % theirs_b).sum().backward()
    assert (ours_a % ours_b).tolist() == (theirs_a % theirs_b).tolist()
    assert ours_a.grad.tolist() == theirs_a.grad.tolist() and ours_b.grad.tolist() == theirs_b.grad.tolist()
    ints = [7, -7, 0, 5]
    assert (cr.tensor(ints) // 3).tolist() == (torch.tensor(ints) // 3).tolist()
    assert (cr.tensor(ints) % -3).tolist() == (torch.tensor(ints) % -3).tolist()
    x = np.array([[0.0, 2.0], [3.0, 0.0], [1.0, 1.0]])
    assert cr.nonzero(cr.tensor(x)).tolist() == torch.nonzero(torch.tensor(x)).tolist()
    assert [t.tolist() for t in cr.where(cr.tensor(x) > 0)] == [t.tolist() for t in torch.where(torch.tensor(x) > 0)]
    assert (
        cr.add(cr.tensor(a), cr.tensor(b), alpha=2).tolist()
        == torch.add(torch.tensor(a), torch.tensor(b), alpha=2).tolist()
    )
    assert cr.tensor([1, 2]).sum(dtype=cr.float64).item() == torch.tensor([1, 2]).sum(dtype=torch.float64).item()
