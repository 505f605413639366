"""Draw the computational graph behind a tensor with Graphviz.

``draw_graph(J)`` walks back from ``J`` through each tensor's ``grad_fn`` and its ``inputs`` and
returns a ``graphviz.Digraph``: one box per tensor (its name, its value or shape, and its gradient
once computed) and one ellipse per operation, with edges tensor -> op -> tensor. In Jupyter the
returned graph displays itself inline; elsewhere ``.render(path, format="png")`` writes a file.

``backward()`` frees the graph as it goes (each op forgets its inputs) unless asked to keep it, so
to draw a graph *with* its gradients, keep it alive and ask intermediates to keep their gradients::

    u.retain_grad()                     # intermediates keep .grad only when asked
    J.backward(retain_graph=True)       # leaves the graph in place for drawing
    cr.viz.draw_graph(J)

graphviz is an optional extra: ``pip install "chainrule[viz]"`` installs the Python package, and
rendering also needs Graphviz's ``dot`` program (``apt-get install graphviz``,
``brew install graphviz`` or ``conda install graphviz``). Neither is needed to import chainrule.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from chainrule.tensor import Tensor

if TYPE_CHECKING:  # only for annotations: graphviz is imported when draw_graph is called
    import graphviz

__all__ = ["draw_graph"]

SHOW_MODES = ("auto", "value", "shape")
RANKDIRS = ("LR", "RL", "TB", "BT")
MAX_VALUE_ELEMENTS = 4
"""With ``show="auto"`` a tensor of at most this many elements shows its value, a larger one its shape."""

# Colours: leaves that require grad (what backprop is for) in blue, the tensor drawn from in orange,
# constants dashed, operations grey; gradients in red so they stand apart from values.
_LEAF_FILL = "#dbe9f6"
_ROOT_FILL = "#fde4c4"
_OP_FILL = "#eeeeee"
_GRAD_COLOR = "#b03a2e"
_CONSTANT_COLOR = "#666666"


def draw_graph(root: Tensor, show: str = "auto", rankdir: str = "LR", precision: int = 4) -> graphviz.Digraph:
    """Draw the computational graph that produced ``root``.

    Each tensor is a box labelled with its name (``cr.tensor(..., name="x")`` or ``t.name = "x"``),
    its value or its shape, and its gradient once ``backward()`` has stored one in ``.grad``. Each
    operation is an ellipse labelled with its Function's name (``Mul``, ``Add``, ``Sigmoid``...).
    Leaves that require grad are blue, ``root`` is orange, constants (tensors that neither require
    grad nor come from an op, such as the ``4`` in ``4 * x``) have a dashed border.

    A graph drawn before ``backward()`` shows no gradients. To see them, keep the graph with
    ``J.backward(retain_graph=True)``: a plain ``backward()`` frees it, and drawing a freed graph
    raises ``RuntimeError``. Intermediate tensors keep their gradient only after
    ``t.retain_grad()``, called before ``backward()``.

    Args:
        root: the tensor to draw the graph of, usually a loss.
        show: what a box says about its tensor's data (and gradient): ``"auto"`` (default) gives the
            value when the tensor has at most 4 elements and the shape otherwise; ``"value"`` always
            gives the value (summarised with ``...`` when large); ``"shape"`` always the shape.
        rankdir: the direction of the drawing, Graphviz's ``rankdir``: ``"LR"`` (default, inputs
            on the left), ``"RL"``, ``"TB"`` (top to bottom) or ``"BT"``.
        precision: significant digits of the numbers shown (default 4).

    Returns:
        A ``graphviz.Digraph``. It displays itself inline in Jupyter; ``.render(path,
        format="png")`` or ``format="svg"`` writes ``path.png`` / ``path.svg`` (this needs the
        Graphviz ``dot`` program); ``.source`` is the DOT text.

    Raises:
        ImportError: the graphviz Python package is not installed (``pip install "chainrule[viz]"``).
        RuntimeError: the graph was freed by ``backward()`` without ``retain_graph=True``.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor(2.0, requires_grad=True, name="x")
        >>> y = cr.tensor(3.0, requires_grad=True, name="y")
        >>> J = x * y
        >>> J.name = "J"
        >>> J.backward(retain_graph=True)
        >>> g = cr.viz.draw_graph(J)
        >>> print(g.source)  # doctest: +ELLIPSIS
        digraph ...
        >>> g.render("graph_J", format="svg")  # doctest: +SKIP
        'graph_J.svg'
    """
    graphviz = _import_graphviz()
    if not isinstance(root, Tensor):
        raise TypeError(f"draw_graph: expected a Tensor, got {type(root).__name__}")
    if show not in SHOW_MODES:
        raise ValueError(f"draw_graph: show must be one of {SHOW_MODES}, got {show!r}")
    if rankdir not in RANKDIRS:
        raise ValueError(f"draw_graph: rankdir must be one of {RANKDIRS}, got {rankdir!r}")
    if isinstance(precision, bool) or not isinstance(precision, (int, np.integer)) or precision < 1:
        raise ValueError(f"draw_graph: precision must be a positive integer, got {precision!r}")

    tensors = _tensors_behind(root)  # raises on a freed graph before anything is drawn

    dot = graphviz.Digraph(
        name="computational_graph",
        graph_attr={"rankdir": rankdir, "ranksep": "0.3", "nodesep": "0.2"},
        node_attr={"fontname": "Helvetica", "fontsize": "12"},
        edge_attr={"arrowsize": "0.7"},
    )
    for t in tensors:
        dot.node(_tensor_id(t), _tensor_label(t, show, precision), **_tensor_style(t, root))
        fn = t.grad_fn
        if fn is None:
            continue
        op_id = f"op{id(fn)}"
        dot.node(op_id, fn.name, shape="ellipse", style="filled", fillcolor=_OP_FILL)
        for inp in fn.inputs:
            dot.edge(_tensor_id(inp), op_id)
        dot.edge(op_id, _tensor_id(t))
    return dot


def _import_graphviz():
    try:
        import graphviz
    except ImportError as err:
        raise ImportError(
            "draw_graph needs the graphviz Python package, an optional extra of chainrule: "
            'pip install "chainrule[viz]" (or pip install graphviz). Rendering the graph to an '
            "image also needs Graphviz's `dot` program on the system, e.g. apt-get install "
            "graphviz, brew install graphviz or conda install graphviz."
        ) from err
    return graphviz


def _tensors_behind(
    root: Tensor,
    max_nodes: int | None = None,
    too_many: Callable[[], Exception] | None = None,
    freed: Callable[[Tensor, str], Exception] | None = None,
) -> list[Tensor]:
    """Every tensor that ``root`` was computed from, and ``root``, inputs before outputs.

    An iterative depth-first walk (a graph of 100,000 ops must not hit the recursion limit). Unlike
    the backward walk it also visits constants, which are drawn too. With ``max_nodes``, it stops
    as soon as it has seen more tensors and raises ``too_many()``; a node freed by ``backward()``
    raises ``freed(tensor, op name)`` (draw_graph's error by default).
    """
    order: list[Tensor] = []
    visited: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:
        t, inputs_done = stack.pop()
        if inputs_done:
            order.append(t)
            continue
        if id(t) in visited:
            continue
        visited.add(id(t))
        if max_nodes is not None and len(visited) > max_nodes and too_many is not None:
            raise too_many()
        stack.append((t, True))
        fn = t.grad_fn
        if fn is None:
            continue
        if fn.inputs is None:
            raise (freed or _freed_for_drawing)(t, fn.name)
        for inp in reversed(fn.inputs):  # reversed: the first input is walked (and drawn) first
            if id(inp) not in visited:
                stack.append((inp, False))
    return order


def _freed_for_drawing(t: Tensor, op: str) -> Exception:
    return RuntimeError(
        f"draw_graph: the graph behind {_describe_tensor(t)} was freed by backward(), so its "
        f"{op} node no longer knows its inputs. To draw a graph with its gradients, "
        "call backward(retain_graph=True) (and t.retain_grad() on intermediates, before "
        "backward, to see their gradients); or draw the graph before backward()."
    )


def _describe_tensor(t: Tensor) -> str:
    return repr(t.name) if t.name else f"a tensor of shape {t.shape}"


def _tensor_id(t: Tensor) -> str:
    return f"t{id(t)}"


def _tensor_style(t: Tensor, root: Tensor) -> dict[str, str]:
    if t is root:
        return {"shape": "box", "style": "filled,bold", "fillcolor": _ROOT_FILL}
    if t.grad_fn is None and t.requires_grad:
        return {"shape": "box", "style": "filled", "fillcolor": _LEAF_FILL}
    if t.grad_fn is None:
        return {"shape": "box", "style": "dashed", "color": _CONSTANT_COLOR}
    return {"shape": "box"}


def _tensor_label(t: Tensor, show: str, precision: int) -> str:
    """An HTML-like Graphviz label: the name in bold, the value or shape, the gradient in red."""
    lines = []
    if t.name:
        lines.append(f"<B>{_escape(t.name)}</B>")
    lines.append(_escape(_describe_array(t._data, show, precision)))
    if t.grad is not None:
        grad = _describe_array(t.grad._data, show, precision, is_grad=True)
        lines.append(f'<FONT COLOR="{_GRAD_COLOR}">{_escape(grad)}</FONT>')
    return "<" + "<BR/>".join(lines) + ">"


def _describe_array(data: np.ndarray, show: str, precision: int, is_grad: bool = False) -> str:
    """``"56"``, ``"[1, 2]"``, ``"shape (3, 4)"``; for a gradient ``"grad 4"`` or ``"grad norm 1.5"``."""
    small = data.size <= MAX_VALUE_ELEMENTS
    if show == "value" or (show == "auto" and small):
        text = np.array2string(
            data,
            separator=", ",
            threshold=16,
            edgeitems=2,
            formatter={"float_kind": lambda v: f"{v + 0.0:.{precision}g}"},  # + 0.0 turns -0 into 0
        )
        return f"grad {text}" if is_grad else text
    if is_grad:
        norm = float(np.linalg.norm(data.astype(np.float64, copy=False).ravel()))
        return f"grad norm {norm:.{precision}g}"
    return f"shape {data.shape}"


def _escape(text: str) -> str:
    """Escape text for an HTML-like label, keeping line breaks (of a printed matrix) as breaks."""
    return html.escape(text).replace("\n", '<BR ALIGN="LEFT"/>')
