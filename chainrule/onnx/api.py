"""The public entry point of ONNX export: a Module is traced (``chainrule.onnx.exporter``), a
fitted estimator converted (``chainrule.onnx.estimators``); the file is checked and written whole."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chainrule.nn.module import Module
from chainrule.onnx._common import DEFAULT_OPSET, OnnxError, require_onnx, save_model
from chainrule.onnx.exporter import export_model


def export(
    model: Any,
    example_input: Any = None,
    path: Any = None,
    *,
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    dynamic_batch: bool = True,
    dynamic_axes: dict[str, Any] | None = None,
    opset: int = DEFAULT_OPSET,
) -> Any:
    """Export ``model`` as ONNX; returns the ``onnx.ModelProto`` and, given ``path``, writes it there.

    ``model`` is any chainrule ``Module``: its forward is traced on ``example_input`` (a tensor or
    array, or a tuple of them for several inputs) in eval mode, so Dropout is the identity and
    BatchNorm uses its running statistics; the model's own modes are restored afterwards.
    The file passes ``onnx.checker.check_model(full_check=True)``.

    Args:
        model: the module to export.
        example_input: an input of the right dtype and shape (its values are only run through).
        path: where to write the file (written whole or not at all); None: only return the model.
        input_names, output_names: the graph's names (default ``input``/``output``, numbered when
            there are several).
        dynamic_batch: make axis 0 of every input symbolic (``batch``), so that the file runs on any
            batch size.
        dynamic_axes: more symbolic axes, as in ``torch.onnx.export``: ``{"input": {1: "time"}}``
            (or a list of axes); an input named here takes its axes from here only.
        opset: the ONNX opset to write (18 or later).

    Example:
        >>> import chainrule as cr
        >>> net = cr.nn.Sequential(cr.nn.Linear(4, 8), cr.nn.Tanh(), cr.nn.Linear(8, 3))
        >>> proto = cr.onnx.export(net, cr.zeros(2, 4))
        >>> [n.op_type for n in proto.graph.node]
        ['Gemm', 'Tanh', 'Gemm', 'Identity']
        >>> proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param
        'batch'
    """
    if isinstance(model, Module):
        if example_input is None:
            raise OnnxError("export: a Module needs an example_input (a tensor of the shape it takes)")
        proto = export_model(
            model,
            example_input,
            input_names=input_names,
            output_names=output_names,
            dynamic_batch=dynamic_batch,
            dynamic_axes=dynamic_axes,
            opset=opset,
        )
        require_onnx().checker.check_model(proto, full_check=True)
    else:
        if not (hasattr(model, "fit") and hasattr(model, "get_params")):
            raise TypeError(
                f"export: expected a chainrule Module or a fitted chainrule estimator, got {type(model).__name__}"
            )
        from chainrule.onnx.estimators import export_estimator  # scikit-learn, imported when an estimator is exported

        proto = export_estimator(model, opset=opset)  # checked with full_check as it is made
    if path is not None:
        save_model(proto, path)
    return proto
