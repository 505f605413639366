"""masked_fill, unbind, repeat_interleave, tile, movedim, narrow, tensor_split, hstack/vstack, diag,
trace and numel against PyTorch: values, dtypes and gradients, with NaN and infinities in the data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr

X = np.random.default_rng(0).standard_normal((3, 4))
EDGES = X.copy()
EDGES[0, 1], EDGES[1, 2], EDGES[2, 0] = np.nan, np.inf, -np.inf
MASK = np.array([[True, False, False, True]] * 3)


def run(lib, fn, *arrays):
    leaves = [lib.tensor(a, requires_grad=True) for a in arrays]
    out = fn(lib, *leaves)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    total = 0
    for k, o in enumerate(outs):
        weights = lib.tensor(np.linspace(-1.0, 2.0, int(np.prod(o.shape))).reshape(tuple(o.shape)) + k)
        total = total + (o * weights).sum() if o.numel() else total
    total.backward()
    grads = [np.zeros(t.shape) if t.grad is None else t.grad.numpy() for t in leaves]
    return [o.detach().numpy() for o in outs], grads


CASES = {
    "masked_fill": lambda lib, t: t.masked_fill(lib.tensor(MASK), -1.5),
    "masked_fill -inf broadcast": lambda lib, t: lib.masked_fill(t, lib.tensor([True, False, True, False]), -np.inf),
    "masked_fill_ in place": lambda lib, t: (t * 2).masked_fill_(lib.tensor(MASK), 0.0),
    "unbind": lambda lib, t: lib.unbind(t, 1),
    "unbind method": lambda lib, t: t.unbind(-2),
    "repeat_interleave int": lambda lib, t: lib.repeat_interleave(t, 2),
    "repeat_interleave dim": lambda lib, t: t.repeat_interleave(lib.tensor([2, 0, 1]), dim=0),
    "repeat_interleave -1": lambda lib, t: t.repeat_interleave(3, dim=-1),
    "tile": lambda lib, t: lib.tile(t, (2,)),
    "tile method": lambda lib, t: t.tile(2, 1, 1),
    "movedim": lambda lib, t: lib.movedim(t[None], 0, -1),
    "moveaxis": lambda lib, t: t.reshape(3, 2, 2).moveaxis((0, 1), (2, 0)),
    "narrow": lambda lib, t: lib.narrow(t, 1, -3, 2),
    "narrow method": lambda lib, t: t.narrow(0, 1, 2),
    "tensor_split sections": lambda lib, t: lib.tensor_split(t, 3, dim=1),
    "tensor_split indices": lambda lib, t: t.tensor_split([1, 3, 2], dim=1),
    "hstack": lambda lib, t: lib.hstack([t, t[:, :1]]),
    "vstack": lambda lib, t: lib.vstack([t[0], t]),
    "diag of a matrix": lambda lib, t: lib.diag(t),
    "diag above": lambda lib, t: t.diag(1),
    "diag below": lambda lib, t: lib.diag(t, -2),
    "diag of a vector": lambda lib, t: lib.diag(t[0]),
    "diag of a vector, offset": lambda lib, t: t[1].diag(-2),
    "trace": lambda lib, t: lib.trace(t),
    "trace method": lambda lib, t: t.trace(),
}


@pytest.mark.parametrize("data", [X, EDGES], ids=["finite", "nan and inf"])
@pytest.mark.parametrize("name", list(CASES))
def test_agrees_with_pytorch(name, data):
    (ours, our_grads), (theirs, their_grads) = (run(lib, CASES[name], data) for lib in (cr, torch))
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12, equal_nan=True)
    for g, h in zip(our_grads, their_grads):
        np.testing.assert_allclose(g, h, rtol=1e-12, equal_nan=True)


def test_dtypes_values_and_counts_agree_with_pytorch():
    ints = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.int32)
    mask = np.array([True, False, True])
    for lib in (cr, torch):
        assert lib.tensor(ints).masked_fill(lib.tensor(mask), 7.9).tolist() == [[7, 2, 7], [7, 5, 7]]
    assert str(cr.trace(cr.tensor(ints)).dtype) == str(torch.trace(torch.tensor(ints)).dtype).replace("torch.", "")
    assert cr.trace(cr.tensor(ints)).item() == torch.trace(torch.tensor(ints)).item()
    counts = np.array([3, 0, 2])
    assert cr.repeat_interleave(cr.tensor(counts)).tolist() == torch.repeat_interleave(torch.tensor(counts)).tolist()
    assert cr.numel(cr.zeros(2, 3, 4)) == torch.numel(torch.zeros(2, 3, 4))
    for given in (4, [2, 2, 5], [0, 10]):
        ours = [p.tolist() for p in cr.tensor_split(cr.arange(9), given)]
        assert ours == [p.tolist() for p in torch.tensor_split(torch.arange(9), given)]
    v = cr.tensor(2.0, requires_grad=True)
    tv = torch.tensor(2.0, requires_grad=True)
    cr.zeros(2, 3).masked_fill(cr.tensor(mask), v).sum().backward()
    torch.zeros(2, 3).masked_fill(torch.tensor(mask), tv).sum().backward()
    assert v.grad.item() == tv.grad.item()
