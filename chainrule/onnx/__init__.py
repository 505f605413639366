"""ONNX export and import (the extra ``onnx``: ``pip install "chainrule[onnx]"``).

- :func:`export` writes a model (any ``Module``, traced from its forward) or a fitted estimator
  as an ONNX file that ONNX Runtime and the other ONNX tools run; the batch dimension is symbolic.
- :func:`load` reads an ONNX file (chainrule's, or one PyTorch's or Keras's exporters wrote) back
  into a ``Module`` that runs, trains and can be drawn and summarised.

``import chainrule`` does not import ``onnx``: it is imported when one of these is called.
"""

from chainrule.onnx._common import DEFAULT_OPSET, OnnxError
from chainrule.onnx._loaded import OnnxModule
from chainrule.onnx.api import export
from chainrule.onnx.loader import load

__all__ = ["DEFAULT_OPSET", "OnnxError", "OnnxModule", "export", "load"]
