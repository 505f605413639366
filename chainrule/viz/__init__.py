"""Pictures of chainrule's computations and training runs (optional extras).

- ``draw_graph``: the computational graph behind a tensor (graphviz).
- ``plot_history``: loss and metric curves of a training run (matplotlib).
- ``plot_decision_boundary``: the class regions of any 2-D classifier (matplotlib).

Importing this package needs no optional dependency: graphviz and matplotlib are imported when a
function that needs them is called (``pip install "chainrule[viz]"`` installs both).
"""

from chainrule.viz.graph import draw_graph
from chainrule.viz.plots import plot_decision_boundary, plot_history

__all__ = ["draw_graph", "plot_history", "plot_decision_boundary"]
