"""ONNX export of the new elementwise functions: Floor, Ceil, Round (with decimals), trunc, Expm1
(as Exp - 1), log2/log10 (Log over log(base)), hypot (Sqrt of the squares), lerp and cosh (a Less
of |x| choosing the formula); atan2 and nan_to_num refused by name."""

from __future__ import annotations

import pytest

import chainrule as cr
from chainrule import nn
from chainrule.onnx import OnnxError
from tests.onnx.test_export import batch, check_two_batches


class Elementwise(nn.Module):
    def forward(self, x):
        y = x * 3.0
        rounded = [y.floor(), y.ceil(), cr.round(y, decimals=1), y.trunc(), cr.frac(y), cr.round(y * 50, decimals=-1)]
        smooth = [x.expm1(), (x * x + 1).log2(), (x * x + 1).log10(), cr.exp2(x), x.sinh(), x.cosh(), cr.cosh(y)]
        more = [
            cr.hypot(x, y + 1),
            x.lerp(y, cr.sigmoid(x) * 1.4 - 0.2),
            x.lerp(y, 0.75),
            cr.addcmul(x, x, y, value=0.5),
            (x * x + 1).rsqrt(),
            (x * x + 1).reciprocal(),
            cr.where(cr.logical_xor(x > 0, y > 1), x, y),
            cr.logit(cr.sigmoid(x), eps=0.1),
        ]
        return cr.cat([*rounded, *smooth, *more], 1)


def test_the_elementwise_functions_run_in_onnxruntime_at_two_batch_sizes():
    proto = check_two_batches(Elementwise(), (4,))
    assert {"Floor", "Ceil", "Round", "Xor", "Less"} <= {node.op_type for node in proto.graph.node}


@pytest.mark.parametrize("fn, name", [(lambda x: cr.atan2(x, x + 1), "Atan2"), (cr.nan_to_num, "nan_to_num")])
def test_atan2_and_nan_to_num_are_refused_by_name(fn, name):
    class Model(nn.Module):
        def forward(self, x):
            return fn(x)

    with pytest.raises(OnnxError, match=f"op {name} .* has no ONNX translation"):
        cr.onnx.export(Model(), batch((4,), 3))
