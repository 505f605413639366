"""What the exporter and the loader share: the error they raise, the opsets they speak, the
import of the optional ``onnx`` package (the extra ``onnx``), and the making of a model."""

from __future__ import annotations

from typing import Any

from chainrule.io.files import write_bytes_atomic

# The opset written by default: 18 has every operator the exporter uses (LayerNormalization
# since 17; Reduce* take their axes as an input since 18). The loader reads opsets 11 and later.
DEFAULT_OPSET = 18
# The ai.onnx.ml opset written with it (Imputer, Scaler, OneHotEncoder, LabelEncoder, ...).
ML_OPSET = 3


class OnnxError(ValueError):
    """An ONNX file or graph chainrule cannot write or read, with what was wrong.

    Example:
        >>> from chainrule.onnx import OnnxError
        >>> issubclass(OnnxError, ValueError)
        True
    """


def require_onnx() -> Any:
    """The ``onnx`` package, or an ImportError that says how to install it."""
    try:
        import onnx
    except ImportError:
        raise ImportError('ONNX export and import need the onnx package: pip install "chainrule[onnx]"') from None
    return onnx


def check_opset(opset: Any, owner: str) -> int:
    """``opset`` checked: an int from DEFAULT_OPSET to the installed onnx's newest (an OnnxError
    naming ``owner`` otherwise)."""
    top = require_onnx().defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, int) or not DEFAULT_OPSET <= opset <= top:
        raise OnnxError(
            f"{owner}: opset must be an int from {DEFAULT_OPSET} to {top} (this onnx's newest), got {opset!r}"
        )
    return opset


def new_model(graph: Any, opset_imports: list[Any], doc_string: str) -> Any:
    """The ``onnx.ModelProto`` of ``graph``, produced by chainrule, at an IR version that current
    ONNX Runtime releases read (10 at most)."""
    from chainrule._version import __version__

    onnx = require_onnx()
    model = onnx.helper.make_model(
        graph,
        opset_imports=opset_imports,
        producer_name="chainrule",
        producer_version=__version__,
        doc_string=doc_string,
    )
    model.ir_version = min(model.ir_version, 10)
    return model


def save_model(model: Any, path: Any) -> None:
    """Write the ONNX ``model`` to ``path`` whole or not at all (``write_bytes_atomic``): the one
    writer of ``export``, ``export_estimator`` and ``chainrule export``."""
    write_bytes_atomic(path, model.SerializeToString())
