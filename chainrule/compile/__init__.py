"""Compiled steps (``cr.compile``, to come) and the tracer they build on.

``trace_backward`` records the operations of a backward into a :class:`Plan` (the third
interpreter of the gradient rules, beside NumPy and recorded Tensors); ``Plan.run`` replays it on
the values of another forward pass (``Plan.feed``).
"""

from chainrule.compile.tracer import Plan, Step, Traced, Tracer, trace_backward

__all__ = ["Plan", "Step", "Traced", "Tracer", "trace_backward"]
