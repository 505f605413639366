"""masked_fill (and masked_fill_), unbind, repeat_interleave, tile, movedim, narrow, tensor_split,
hstack/vstack, diag, trace, numel: PyTorch's forms, dtypes, gradients, in-place recording and errors."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr


def test_masked_fill_casts_the_value_to_the_tensor_dtype_and_broadcasts():
    ints = cr.tensor([1, 2, 3], dtype="int32").masked_fill(cr.tensor([True, False, True]), 1.7)
    assert ints.dtype == np.int32 and ints.tolist() == [1, 2, 1]
    wide = cr.masked_fill(cr.zeros(3), cr.zeros(2, 3, dtype="bool"), 5.0)
    assert wide.shape == (2, 3)
    assert cr.masked_fill(cr.tensor([1.0, float("nan")]), cr.tensor([False, True]), 0.0).tolist() == [1.0, 0.0]


def test_masked_fill_gives_a_tensor_value_the_gradient_of_the_entries_it_fills():
    x = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    v = cr.tensor(9.0, requires_grad=True)
    (cr.masked_fill(x, cr.tensor([True, False]), v) * cr.tensor([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
    assert v.grad.item() == 4.0
    assert x.grad.tolist() == [[0.0, 2.0], [0.0, 4.0]]


def test_masked_fill_errors_name_what_was_wrong():
    x = cr.zeros(2, 3)
    with pytest.raises(TypeError, match="mask must be boolean"):
        x.masked_fill(cr.tensor([1, 0, 1]), 0.0)
    with pytest.raises(ValueError, match="does not broadcast"):
        x.masked_fill(cr.tensor([True, False]), 0.0)
    with pytest.raises(ValueError, match="must be 0-d"):
        x.masked_fill(cr.tensor([True, False, True]), cr.tensor([1.0, 2.0]))
    with pytest.raises(RuntimeError, match="keeps its shape"):
        cr.zeros(3).masked_fill_(cr.zeros(2, 3, dtype="bool"), 1.0)
    assert x.tolist() == [[0.0] * 3] * 2


def test_masked_fill_in_place_is_recorded_like_the_other_in_place_methods():
    w = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    h = w * 2
    h.masked_fill_(cr.tensor([False, True, False]), 0.0)
    assert h.tolist() == [2.0, 0.0, 6.0] and h.grad_fn is not None
    h.sum().backward()
    assert w.grad.tolist() == [2.0, 0.0, 2.0]
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        w.masked_fill_(cr.tensor([True, False, False]), 0.0)
    with cr.no_grad():
        w.masked_fill_(cr.tensor([True, False, False]), 0.0)
    assert w.tolist() == [0.0, 2.0, 3.0]


def test_repeat_interleave_forms():
    x = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    out = x.repeat_interleave(cr.tensor([3, 1]), dim=0)
    assert out.shape == (4, 2)
    out.sum().backward()
    assert x.grad.tolist() == [[3.0, 3.0], [1.0, 1.0]]
    assert cr.repeat_interleave(cr.tensor(2.0), 3).tolist() == [2.0, 2.0, 2.0]
    assert cr.tensor([2, 0, 1]).repeat_interleave().tolist() == [0, 0, 2]
    assert cr.repeat_interleave(cr.tensor([1.0, 2.0]), cr.tensor([2]), dim=0).tolist() == [1.0, 1.0, 2.0, 2.0]
    with pytest.raises(ValueError, match="3 repeats for dimension 0 of size 2"):
        cr.repeat_interleave(x, [1, 2, 3], dim=0)
    with pytest.raises(ValueError, match="non-negative"):
        cr.repeat_interleave(x, -1)
    with pytest.raises(ValueError, match="output_size=3"):
        cr.repeat_interleave(x, 2, dim=0, output_size=3)


def test_tile_movedim_narrow_and_their_errors():
    x = cr.arange(24.0).reshape(2, 3, 4)
    assert x.tile(2).shape == (2, 3, 8) and cr.tile(cr.ones(2), (3, 1)).shape == (3, 2)
    assert x.movedim(-1, 0).shape == (4, 2, 3) and cr.moveaxis(x, [0, 2], [1, 0]).shape == (4, 2, 3)
    assert np.array_equal(cr.movedim(x, (0, 1), (2, 0)).numpy(), np.moveaxis(x.numpy(), (0, 1), (2, 0)))
    with pytest.raises(ValueError, match="repeated dim in source"):
        cr.movedim(x, (0, 0), (1, 2))
    with pytest.raises(ValueError, match="2 source dims"):
        cr.movedim(x, (0, 1), 2)
    assert x.narrow(2, cr.tensor(1), 2).tolist() == x.numpy()[:, :, 1:3].tolist()
    with pytest.raises(ValueError, match="exceeds dimension 1 of size 3"):
        x.narrow(1, 2, 2)
    with pytest.raises(IndexError, match="start 4 is out of range"):
        x.narrow(1, 4, 0)


def test_tensor_split_unbind_and_stacks():
    x = cr.arange(10.0)
    assert [p.shape[0] for p in x.tensor_split(4)] == [3, 3, 2, 2]
    assert [p.tolist() for p in cr.tensor_split(x, cr.tensor([2, 8]))] == [[0.0, 1.0], list(range(2, 8)), [8.0, 9.0]]
    assert [p.shape for p in cr.tensor_split(cr.ones(2, 5), cr.tensor(2), dim=1)] == [(2, 3), (2, 2)]
    with pytest.raises(ValueError, match="at least 1"):
        cr.tensor_split(x, 0)
    assert isinstance(cr.unbind(x.reshape(2, 5)), tuple) and len(cr.unbind(x.reshape(2, 5), 1)) == 5
    assert cr.hstack([cr.tensor(1.0), cr.tensor([2.0, 3.0])]).tolist() == [1.0, 2.0, 3.0]
    assert cr.vstack([cr.tensor([1.0]), cr.ones(2, 1)]).shape == (3, 1)


def test_diag_and_trace():
    v = cr.tensor([1.0, 2.0], requires_grad=True)
    d = cr.diag(v, -1)
    assert d.tolist() == [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 2.0, 0.0]]
    (d * cr.arange(9.0).reshape(3, 3)).sum().backward()
    assert v.grad.tolist() == [3.0, 7.0]
    assert cr.diag(cr.zeros(0), 2).shape == (2, 2)
    assert cr.diag(cr.ones(2, 3), -5).shape == (0,)
    m = cr.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    t = m.trace()
    t.backward()
    assert t.item() == 6.0 and m.grad.tolist() == [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    assert cr.trace(cr.ones(2, 2, dtype="int32")).dtype == np.int64
    with pytest.raises(ValueError, match="1-d or 2-d"):
        cr.diag(cr.ones(2, 2, 2))
    with pytest.raises(ValueError, match="2-d tensor"):
        cr.trace(cr.ones(3))


def test_numel():
    assert cr.numel(cr.zeros(2, 3)) == 6 == cr.zeros(2, 3).numel() and cr.numel(cr.tensor(1.0)) == 1
    with pytest.raises(TypeError, match="expected a Tensor"):
        cr.numel([1, 2])
