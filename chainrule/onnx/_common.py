"""What the exporter and the loader share: the error they raise, the opsets they speak, and the
import of the optional ``onnx`` package (the extra ``onnx``)."""

from __future__ import annotations

from typing import Any

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


def require_onnxruntime() -> Any:
    """The ``onnxruntime`` package, or an ImportError that says how to install it."""
    try:
        import onnxruntime
    except ImportError:
        raise ImportError('running ONNX models needs onnxruntime: pip install "chainrule[onnx]"') from None
    return onnxruntime
