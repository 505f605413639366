"""ONNX export of the composed shape functions (masked_fill, repeat_interleave, tile, movedim,
narrow, tensor_split, unbind, hstack, vstack, diag, trace): no rule of their own, so they export."""

from __future__ import annotations

import chainrule as cr
from chainrule import nn
from tests.onnx.test_export import check_two_batches


class Shapes(nn.Module):
    def forward(self, x):
        filled = x.masked_fill(cr.tensor([True, False, False, True]), -2.0)
        parts = cr.tensor_split(x, 3, dim=1)
        rows = cr.unbind(x.narrow(1, 1, 2), dim=1)
        square = cr.diag(cr.diag(x[:, :3].movedim(0, 1)[:3, :3] @ x[:3, :3]))  # a diagonal matrix of the diagonal
        stacked = cr.hstack([filled, parts[0], rows[0][:, None], x.repeat_interleave(2, dim=1)[:, :3]])
        tiled = cr.vstack([x[:, :2].tile(1, 2).movedim(0, 1), x[:, :4].t()]).sum(0)
        return cr.hstack([stacked, tiled[:, None].t().expand(x.shape[0], -1), (square.trace() + x[:, :1] * 0)])


def test_the_composed_shape_functions_run_in_onnxruntime_at_two_batch_sizes():
    proto = check_two_batches(Shapes(), (4,))
    assert {"Gather", "Where", "Concat"} <= {node.op_type for node in proto.graph.node}
