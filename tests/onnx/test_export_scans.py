"""ONNX export of the running sum (CumSum), einsum (Einsum), the composed prod and norms; cumprod refused by name."""

from __future__ import annotations

import pytest

import chainrule as cr
from chainrule import nn
from chainrule.onnx import OnnxError
from tests.onnx.test_export import batch, check_two_batches


class Scans(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(cr.randn(4, 3))

    def forward(self, x):
        mixed = cr.einsum("bi,ij->bj", x, self.w) + cr.einsum("bi,bi->b", x, x)[:, None]
        return cr.cat(
            [x.cumsum(1), mixed, x.norm(dim=1, keepdim=True), cr.linalg.vector_norm(x, 1, dim=-1)[:, None]], 1
        )


class Prod(nn.Module):
    def forward(self, x):
        return x.prod(1)


def test_cumsum_einsum_and_norms_run_in_onnxruntime_at_two_batch_sizes():
    proto = check_two_batches(Scans(), (4,))
    ops = {node.op_type for node in proto.graph.node}
    assert {"CumSum", "Einsum"} <= ops


def test_prod_and_cumprod_are_refused_naming_cumprod():
    with pytest.raises(OnnxError, match="op Cumprod .* has no ONNX translation"):
        cr.onnx.export(Prod(), batch((4,), 3))


def test_einsum_with_upper_case_letters_exports_in_lower_case():
    class Upper(nn.Module):
        def forward(self, x):
            return cr.einsum("Bi,Bj->Bij", x, x)

    proto = check_two_batches(Upper(), (3,))
    (node,) = [n for n in proto.graph.node if n.op_type == "Einsum"]
    assert node.attribute[0].s.decode() == "ab,ac->abc"  # B, i, j in sorted order


def test_cumsum_and_einsum_load_back(tmp_path):
    """What the exporter writes, the loader reads: the loaded model computes what the model does."""
    import numpy as np

    model = Scans()
    x = cr.tensor(batch((4,), 3))
    path = tmp_path / "scans.onnx"
    cr.onnx.export(model, x, path)
    np.testing.assert_allclose(cr.onnx.load(path)(x).numpy(), model(x).numpy(), rtol=1e-6, atol=1e-6)
