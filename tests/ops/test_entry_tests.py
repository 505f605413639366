"""any, all, count_nonzero, isclose, allclose, equal: PyTorch's forms, dtypes and NaN handling."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr


def test_any_and_all_take_dim_tuples_and_keepdim_and_keep_uint8():
    x = cr.tensor([[[0.0, 1.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]]])
    assert cr.any(x).item() is True and cr.all(x).item() is False
    assert x.any(dim=(1, 2)).tolist() == [True, False] and x.any((1, 2), keepdim=True).shape == (2, 1, 1)
    assert x.all(axis=0).dtype == np.bool_ and x.any(-1).shape == (2, 2)
    assert cr.any(cr.tensor([0, 3], dtype="uint8")).dtype == np.uint8
    assert cr.all(cr.tensor(math.nan)).item() is True  # NaN is nonzero
    assert cr.any(cr.tensor(2.0), dim=0).item() is True
    with pytest.raises(ValueError, match="any: axis 3 is out of range"):
        x.any(3)


def test_count_nonzero():
    x = cr.tensor([[0.0, math.nan, 2.0], [0.0, 0.0, -1.0]])
    assert cr.count_nonzero(x).item() == 3 and cr.count_nonzero(x).dtype == np.int64
    assert x.count_nonzero(dim=0).tolist() == [0, 1, 2] and x.count_nonzero((0, 1)).item() == 3


def test_isclose_allclose_and_equal():
    a = cr.tensor([1.0, math.inf, math.nan, 0.0])
    b = cr.tensor([1.0 + 1e-6, math.inf, math.nan, 1e-9])
    assert cr.isclose(a, b).tolist() == [True, True, False, True]
    assert a.isclose(b, equal_nan=True).tolist() == [True, True, True, True]
    assert cr.isclose(cr.tensor([1.0]), cr.tensor([1.1]), rtol=0.2).item() is True
    assert cr.allclose(a, b, equal_nan=True) is True and a.allclose(b) is False
    assert cr.equal(cr.tensor([1.0, 2.0]), cr.tensor([1.0, 2.0])) is True
    assert cr.equal(cr.ones(2), cr.ones(2, 1)) is False and cr.tensor([math.nan]).equal(cr.tensor([math.nan])) is False
    with pytest.raises(ValueError, match="non-negative"):
        cr.isclose(a, b, rtol=-1)
