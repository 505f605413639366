"""Channel-wise dropout against torch.nn.Dropout1d / Dropout2d: the same inputs accepted, the same
kind of mask (whole channels), the same scaling, the same eval-mode identity. The random draws
differ between the libraries, so the masks are compared by their structure and statistics."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn
from peer_tests.support import to_torch

PAIRS = [(nn.Dropout1d, torch.nn.Dropout1d), (nn.Dropout2d, torch.nn.Dropout2d)]
SHAPES = {"Dropout1d": [(8, 30, 5), (300, 5)], "Dropout2d": [(8, 30, 3, 4), (8, 30, 5)]}


def kept_channels(out: np.ndarray) -> np.ndarray:
    """Whether each channel (axis 1 of a batched output, axis 0 of an unbatched 2-D one) was kept,
    checking that it was kept or dropped as a whole."""
    flat = out.reshape(-1, out.shape[-1]) if out.ndim == 2 else out.reshape(out.shape[0] * out.shape[1], -1)
    kept = flat[:, 0] != 0
    assert ((flat != 0) == kept[:, None]).all()
    return kept


@pytest.mark.parametrize("ours, theirs", PAIRS, ids=["Dropout1d", "Dropout2d"])
def test_channel_dropout_behaves_like_torch(ours, theirs):
    cr.manual_seed(0)
    torch.manual_seed(0)
    p = 0.4
    for shape in SHAPES[ours.__name__]:
        x = np.random.default_rng(1).uniform(1, 2, size=shape)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # both warn about Dropout2d's 3-D input
            a = ours(p)(cr.tensor(x)).numpy()
            b = theirs(p)(to_torch(x)).numpy()
            np.testing.assert_array_equal(ours(p).eval()(cr.tensor(x)).numpy(), x)
            np.testing.assert_array_equal(theirs(p).eval()(to_torch(x)).numpy(), x)
        assert a.shape == b.shape == shape
        kept_a, kept_b = kept_channels(a), kept_channels(b)
        np.testing.assert_allclose(a[a != 0], x[a != 0] / (1 - p), rtol=1e-12)
        np.testing.assert_allclose(b[b != 0], x[b != 0] / (1 - p), rtol=1e-12)
        assert abs(kept_a.mean() - kept_b.mean()) < 0.15  # 240 or 300 channels each at p = 0.4: 3 standard errors


def test_dropout2d_warns_on_3d_input_like_torch():
    x = np.ones((4, 6, 5))
    with pytest.warns(UserWarning, match="3-D input"):
        nn.Dropout2d(0.5)(cr.tensor(x))
    with pytest.warns(UserWarning, match="3D input"):
        torch.nn.Dropout2d(0.5)(to_torch(x))


def test_dropout1d_refuses_the_shapes_torch_refuses():
    for shape in [(5,), (2, 3, 4, 5)]:
        with pytest.raises(ValueError, match="Dropout1d got input of shape"):
            nn.Dropout1d(0.5)(cr.ones(*shape))
        with pytest.raises(RuntimeError, match="dropout1d: Expected 2D or 3D input"):
            torch.nn.Dropout1d(0.5)(torch.ones(*shape))
