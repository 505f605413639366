"""Pictures of chainrule's computations and training runs (optional extras).

- ``draw_graph``: the computational graph behind a tensor (graphviz).
- ``plot_history``: loss and metric curves of a training run (matplotlib).
- ``plot_decision_boundary``: the class regions of any 2-D classifier (matplotlib).
- ``plot_image_attributions``, ``plot_signal_attributions``, ``plot_feature_importances``,
  ``plot_lime``: pictures of ``chainrule.explain``'s attributions (matplotlib).
- ``plot_gradient_flow``: each layer's gradient norm and update/weight ratio during training, as
  ``train.GradientMonitor`` records them; ``plot_loss_landscape``: a loss landscape as a line,
  contour or surface (matplotlib).
- ``trace``: the chain rule written out step by step on a small graph: each node's value, local
  derivative, upstream gradient and their product, as text, HTML and a labelled graph.

Importing this package needs no optional dependency: graphviz and matplotlib are imported when a
function that needs them is called (``pip install "chainrule[viz]"`` installs both).
"""

from chainrule.viz.attributions import (
    plot_feature_importances,
    plot_image_attributions,
    plot_lime,
    plot_signal_attributions,
)
from chainrule.viz.chain_rule import Trace, TraceStep, trace
from chainrule.viz.graph import draw_graph
from chainrule.viz.plots import plot_decision_boundary, plot_history
from chainrule.viz.training import plot_gradient_flow, plot_loss_landscape

__all__ = [
    "draw_graph",
    "plot_history",
    "plot_decision_boundary",
    "plot_image_attributions",
    "plot_signal_attributions",
    "plot_feature_importances",
    "plot_lime",
    "plot_gradient_flow",
    "plot_loss_landscape",
    "trace",
    "Trace",
    "TraceStep",
]
