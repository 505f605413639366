"""Pictures of chainrule's computations: the computational graph (graphviz, an optional extra).

Importing this package needs no optional dependency; ``draw_graph`` imports graphviz when called.
"""

from chainrule.viz.graph import draw_graph

__all__ = ["draw_graph"]
