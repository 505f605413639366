"""Compiled steps: ``cr.compile`` records a step once and replays it as a plan.

- :mod:`~chainrule.compiler.api`: ``compile`` and ``CompiledFunction`` (signatures, guards, when a
  step runs eagerly);
- :mod:`~chainrule.compiler.recorder`: what the engine reports while a step is recorded;
- :mod:`~chainrule.compiler.program`: two recordings compared and turned into a :class:`Plan`;
- :mod:`~chainrule.compiler.tracer`: the tracer that records a backward's gradient rules
  (``trace_backward``: the third interpreter of the rules, beside NumPy and recorded Tensors).
"""

import chainrule.tensor  # noqa: F401  (the engine loads from tensor.py; entered from autograd.py it is a cycle)
from chainrule.compiler.api import CompiledFunction, CompileWarning, compile, disable
from chainrule.compiler.program import Plan
from chainrule.compiler.recorder import replayed
from chainrule.compiler.tracer import BackwardPlan, Step, Traced, Tracer, trace_backward

__all__ = [
    "BackwardPlan",
    "CompileWarning",
    "CompiledFunction",
    "Plan",
    "Step",
    "Traced",
    "Tracer",
    "compile",
    "disable",
    "replayed",
    "trace_backward",
]
