"""The chain rule, step by step, on a small graph: ``trace(J)``.

``trace(J)`` walks back from a scalar ``J`` as ``backward()`` does and writes down every step: each
intermediate value of the forward pass, and for each operation and each of its inputs the *local*
derivative (how the operation's output moves with that input), the *upstream* gradient (how ``J``
moves with the operation's output) and their product, the gradient *passed down* to the input. On
``J = 4 * (x + y * z)`` at x=2, y=3, z=4 it reads like the derivation by hand::

    u = y * z = 12,  v = x + u = 14,  J = 4 * v = 56
    dJ/dv = 4,  dv/du = 1,  du/dy = 4,  so  dJ/dy = 4 * 1 * 4 = 16

The result prints as a plain-text table (``print(t)``), shows as an HTML table in Jupyter, and draws
the graph with each edge labelled by its local derivative and its gradient (``t.draw()``, graphviz).

Where an operation's output is not a single number, its local derivative is a Jacobian matrix, which
backpropagation never builds: the gradient rule maps the upstream gradient straight to the gradient
passed down (a vector-Jacobian product, VJP). The trace shows that product and says "VJP" rather
than pretending to a local derivative.

The trace computes its own gradients (the same rules ``backward()`` runs, on bare arrays): no
``.grad`` is changed and the graph is left in place, so ``J.backward()`` still works afterwards.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

# the write check backward() makes (a graph whose inputs were overwritten gives wrong gradients)
from chainrule.autograd import Function, _check_not_written, _writes, no_grad
from chainrule.interpreters import NUMPY
from chainrule.tensor import Tensor
from chainrule.viz.graph import (
    _CONSTANT_COLOR,
    _GRAD_COLOR,
    _LEAF_FILL,
    _OP_FILL,
    _ROOT_FILL,
    _escape,
    _import_graphviz,
    _tensors_behind,
)

if TYPE_CHECKING:  # only for annotations: graphviz is imported when Trace.draw is called
    import graphviz

__all__ = ["trace", "Trace", "TraceStep"]

MAX_NODES = 200
"""``trace`` refuses a graph of more tensors than this: the trace is for graphs a person reads."""
MAX_SHOWN = 6
"""An array of at most this many elements is written out; a larger one as its shape and norm."""
MAX_CHAIN_PATHS = 6
MAX_CHAIN_LENGTH = 8
"""A leaf reached by at most ``MAX_CHAIN_PATHS`` paths of at most ``MAX_CHAIN_LENGTH`` steps, all
through single numbers, gets its gradient written as the sum over the paths of the products of the
local derivatives along each; a longer sum would not be read."""

RANKDIRS = ("LR", "RL", "TB", "BT")

_INFIX = {"Add": "+", "Sub": "-", "Mul": "*", "Div": "/", "MatMul": "@", "Pow": "**"}
_OP_NAMES = ("u", "v", "w", "p", "q", "r", "s")  # intermediates, as in the derivations by hand
_LEAF_NAMES = ("a", "b", "c", "d", "e", "f", "g")  # leaves that require grad but were not named
_VJP_NOTE = (
    "VJP: the operation's output is not a single number, so its local derivative is a Jacobian matrix; "
    "backpropagation never builds it: the gradient rule maps the upstream gradient straight to the "
    "gradient passed down (a vector-Jacobian product)."
)
_KIND_TEXT = {"leaf": "input (requires grad)", "constant": "constant"}
_SUM_NOTE = "A tensor used more than once receives the sum of what each use passes down to it."


@dataclass(frozen=True)
class TraceStep:
    """One step of the backward pass: an operation hands a gradient down to one of its inputs.

    Attributes:
        node: the name of the tensor the operation made (``"u"``).
        op: the operation's name (``"Mul"``).
        formula: how the node was computed (``"y * z"``).
        input: the name of the input (``"y"``).
        upstream: dJ/d(node), the gradient of the output with respect to the node.
        local: d(node)/d(input), the local derivative, when the node is a single number (it then
            has the input's shape); None when the node is not (the step is then a VJP).
        passed: dJ/d(input) along this step (``upstream * local`` when ``local`` is known; the
            rule's vector-Jacobian product otherwise); None when the rule passes no gradient.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.viz import trace
        >>> x = cr.tensor(3.0, requires_grad=True)
        >>> step = trace(x * x + x, names={"x": x}).steps[2]   # steps 0 and 1 are J = u + x
        >>> step.node, step.formula, step.input, float(step.local), float(step.passed)
        ('u', 'x * x', 'x', 3.0, 3.0)
    """

    node: str
    op: str
    formula: str
    input: str
    upstream: np.ndarray
    local: np.ndarray | None
    passed: np.ndarray | None

    @property
    def is_vjp(self) -> bool:
        """Whether the step is a vector-Jacobian product (the node is not a single number)."""
        return self.local is None


@dataclass
class _Entry:
    """One tensor of the traced graph (the trace keeps no reference to the tensors themselves)."""

    name: str
    kind: str  # "output", "op", "leaf" (requires grad), "constant"
    value: np.ndarray
    op: str | None = None
    formula: str | None = None
    inputs: tuple[int, ...] = ()
    gradient: np.ndarray | None = None
    inline: bool = False  # an unnamed one-number constant, written as its value ("4" in 4 * v)


@dataclass(eq=False)
class Trace:
    """What ``trace(J)`` found: the forward values, the steps of the backward pass, the gradients.

    ``print(t)`` (or ``t.table()``) gives a plain-text table, Jupyter shows an HTML table, and
    ``t.draw()`` returns the graph as a ``graphviz.Digraph`` with each edge labelled by its local
    derivative and the gradient it carries.

    Attributes:
        output: the name of the traced output (``"J"``).
        steps: the backward pass, one :class:`TraceStep` per (operation, input that needs a
            gradient), in the order ``backward()`` runs them.
        values: the forward value of every named tensor (leaves, intermediates, the output), in
            the order they were computed.
        gradients: dJ/d(tensor) for every tensor that requires grad, summed over all its uses.
        precision: significant digits in the renderings.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.viz import trace
        >>> x = cr.tensor(2.0, requires_grad=True)
        >>> t = trace(x * x, names={"x": x})
        >>> float(t.values["J"]), float(t.gradients["x"])
        (4.0, 4.0)
        >>> t
        Trace(output='J', operations=1, steps=2)
    """

    output: str
    steps: list[TraceStep]
    precision: int = 4
    _entries: list[_Entry] = field(default_factory=list, repr=False)
    _edges: list[tuple[int, int]] = field(default_factory=list, repr=False)  # per step: (node, input position)

    @property
    def values(self) -> dict[str, np.ndarray]:
        """The forward value of every named tensor, by name, in the order they were computed."""
        return {e.name: e.value for e in self._entries if not e.inline}

    @property
    def gradients(self) -> dict[str, np.ndarray]:
        """dJ/d(tensor) by name for every tensor that requires grad (summed over its uses)."""
        return {e.name: e.gradient for e in self._entries if e.gradient is not None}

    def __repr__(self) -> str:
        ops = sum(e.op is not None for e in self._entries)
        return f"Trace(output={self.output!r}, operations={ops}, steps={len(self.steps)})"

    def __str__(self) -> str:
        return self.table()

    # ---------------------------------------------------------------- plain text
    def table(self) -> str:
        """The trace as plain text: the forward pass, the backward steps as a table, the gradients.

        Example:
            >>> import chainrule as cr
            >>> from chainrule.viz import trace
            >>> x = cr.tensor(2.0, requires_grad=True)
            >>> print(trace(3 * x, names={"x": x}).table())
            Chain rule, step by step, for J
            <BLANKLINE>
            Forward pass
              x = 2
              J = 3 * x = 6
            <BLANKLINE>
            Backward pass (passed down = upstream * local)
              step  operation  local      upstream   passed down
              ----  ---------  ---------  ---------  -----------------
              1     J = 3 * x  dJ/dx = 3  dJ/dJ = 1  dJ/dx = 1 * 3 = 3
            <BLANKLINE>
            Gradients
              dJ/dx = 3
        """
        lines = [f"Chain rule, step by step, for {self.output}", "", "Forward pass"]
        lines += ["  " + line for line in self._forward_lines()]
        lines += ["", "Backward pass (passed down = upstream * local)"]
        if self.steps:
            header, rows = self._step_rows()
            lines += ["  " + line for line in _text_table(header, rows)]
        else:
            lines.append(f"  (none: {self.output} is a leaf, not made by an operation)")
        lines += ["", "Gradients"]
        lines += ["  " + line for line in self._gradient_lines()]
        notes = self._notes()
        if notes:
            lines.append("")
            lines += notes
        return "\n".join(lines)

    # ---------------------------------------------------------------- HTML (Jupyter)
    def _repr_html_(self) -> str:
        """The trace as HTML tables, which Jupyter shows in place of the repr."""
        parts = [
            '<div class="chainrule-trace">',
            f"<p><b>Chain rule, step by step, for {_html(self.output)}</b></p>",
            "<table>",
            "<caption>Forward pass</caption>",
            "<thead><tr><th>tensor</th><th>computed as</th><th>value</th></tr></thead>",
            "<tbody>",
        ]
        for e in self._entries:
            if e.inline:
                continue
            formula = e.formula if e.formula is not None else _KIND_TEXT[e.kind]
            parts.append(
                f"<tr><td>{_html(e.name)}</td><td>{_html(formula)}</td><td>{_html(self._format(e.value))}</td></tr>"
            )
        parts += ["</tbody>", "</table>"]
        if self.steps:
            header, rows = self._step_rows()
            parts += ["<table>", "<caption>Backward pass (passed down = upstream &middot; local)</caption>"]
            parts.append("<thead><tr>" + "".join(f"<th>{_html(h)}</th>" for h in header) + "</tr></thead>")
            parts.append("<tbody>")
            for row in rows:
                parts.append("<tr>" + "".join(f"<td>{_html(cell)}</td>" for cell in row) + "</tr>")
            parts += ["</tbody>", "</table>"]
        parts.append("<p><b>Gradients</b><br/>")
        parts.append("<br/>".join(_html(line) for line in self._gradient_lines()))
        parts.append("</p>")
        for note in self._notes():
            parts.append(f"<p><small>{_html(note)}</small></p>")
        parts.append("</div>")
        return "\n".join(parts)

    # ---------------------------------------------------------------- graphviz
    def draw(self, rankdir: str = "LR") -> graphviz.Digraph:
        """The traced graph as a ``graphviz.Digraph``, each edge labelled by its step.

        Each tensor is a box with its name, its value and (in red) dJ/d(tensor); each operation an
        ellipse. The edge from an input into an operation carries the local derivative (or "VJP")
        and, in red, the gradient passed down along it.

        Args:
            rankdir: the direction of the drawing: ``"LR"`` (default), ``"RL"``, ``"TB"`` or ``"BT"``.

        Returns:
            A ``graphviz.Digraph``: it displays itself in Jupyter; ``.render(path, format="svg")``
            writes a file (this needs Graphviz's ``dot`` program); ``.source`` is the DOT text.

        Raises:
            ImportError: the graphviz Python package is not installed (``pip install "chainrule[viz]"``).

        Example:
            >>> import chainrule as cr
            >>> from chainrule.viz import trace
            >>> x = cr.tensor(2.0, requires_grad=True)
            >>> g = trace(3 * x, names={"x": x}).draw()
            >>> "dJ/dx = 3" in g.source
            True
        """
        graphviz = _import_graphviz()
        if rankdir not in RANKDIRS:
            raise ValueError(f"Trace.draw: rankdir must be one of {RANKDIRS}, got {rankdir!r}")
        dot = graphviz.Digraph(
            name="chain_rule_trace",
            graph_attr={"rankdir": rankdir, "ranksep": "0.4", "nodesep": "0.25"},
            node_attr={"fontname": "Helvetica", "fontsize": "12"},
            edge_attr={"arrowsize": "0.7", "fontname": "Helvetica", "fontsize": "10"},
        )
        step_of = dict(zip(self._edges, self.steps))
        for i, e in enumerate(self._entries):
            dot.node(f"t{i}", self._node_label(e), **_node_style(e))
            if e.op is None:
                continue
            op_id = f"op{i}"
            dot.node(op_id, e.op, shape="ellipse", style="filled", fillcolor=_OP_FILL)
            for position, j in enumerate(e.inputs):
                step = step_of.get((i, position))
                if step is not None:
                    dot.edge(f"t{j}", op_id, label=self._edge_label(step))
                elif self._entries[j].kind == "constant":
                    dot.edge(f"t{j}", op_id, style="dashed", color=_CONSTANT_COLOR)
                else:  # an input that got no gradient along this edge
                    dot.edge(f"t{j}", op_id)
            dot.edge(op_id, f"t{i}")
        return dot

    # ---------------------------------------------------------------- pieces shared by the renderings
    def _format(self, data: np.ndarray | None) -> str:
        return _format_array(data, self.precision)

    def _forward_lines(self) -> list[str]:
        lines = []
        for e in self._entries:
            if e.inline:
                continue
            if e.formula is None:
                suffix = "  (constant)" if e.kind == "constant" else ""
                lines.append(f"{e.name} = {self._format(e.value)}{suffix}")
            else:
                lines.append(f"{e.name} = {e.formula} = {self._format(e.value)}")
        return lines

    def _step_rows(self) -> tuple[list[str], list[list[str]]]:
        header = ["step", "operation", "local", "upstream", "passed down"]
        rows = []
        for k, s in enumerate(self.steps, start=1):
            local = f"{_d(s.node, s.input)} = {self._format(s.local)}" if s.local is not None else "VJP"
            upstream = f"{_d(self.output, s.node)} = {self._format(s.upstream)}"
            passed = _d(self.output, s.input) + " = "
            if s.passed is None:
                passed += "none (the rule passes no gradient)"
            elif s.local is not None:
                passed += f"{self._format(s.upstream)} * {self._format(s.local)} = {self._format(s.passed)}"
            else:
                passed += f"VJP({_d(self.output, s.node)}) = {self._format(s.passed)}"
            rows.append([str(k), f"{s.node} = {s.formula}", local, upstream, passed])
        return header, rows

    def _gradient_lines(self) -> list[str]:
        chains = self._chains()
        lines = []
        for e in self._entries:
            if e.kind != "leaf" or e.gradient is None:
                continue
            text = f"{_d(self.output, e.name)} = "
            if e.name in chains:
                text += chains[e.name] + " = "
            lines.append(text + self._format(e.gradient))
        if not lines:
            lines.append(f"(no leaf that requires grad: {self.output} is the only tensor to differentiate)")
        return lines

    def _chains(self) -> dict[str, str]:
        """For each leaf reached only through single numbers, by few paths: dJ/dleaf as a sum over the
        paths of the products of the local derivatives along each (the chain rule, written out)."""
        count: dict[str, int] = {self.output: 1}  # paths from the output
        length: dict[str, int] = {self.output: 0}  # steps on the longest of them
        scalar: dict[str, bool] = {self.output: True}  # every step on them between single numbers
        into: dict[str, list[TraceStep]] = {}
        for s in self.steps:  # in backward order: a node is complete before its own steps run
            scalar_step = s.local is not None and s.local.size == 1 and scalar.get(s.node, False)
            count[s.input] = count.get(s.input, 0) + count.get(s.node, 0)
            length[s.input] = max(length.get(s.input, 0), length.get(s.node, 0) + 1)
            scalar[s.input] = scalar.get(s.input, True) and scalar_step
            into.setdefault(s.input, []).append(s)

        def paths(name: str) -> list[list[TraceStep]]:  # recursion depth <= MAX_CHAIN_LENGTH
            if name == self.output:
                return [[]]
            return [p + [s] for s in into.get(name, []) for p in paths(s.node)]

        chains = {}
        for e in self._entries:
            if e.kind != "leaf" or not scalar.get(e.name) or not 0 < count.get(e.name, 0) <= MAX_CHAIN_PATHS:
                continue
            if length[e.name] > MAX_CHAIN_LENGTH:
                continue
            found = paths(e.name)
            if len(found) == 1 and len(found[0]) == 1:
                continue  # dJ/dx = 4: nothing to write out
            symbols = " + ".join(" * ".join(_d(s.node, s.input) for s in p) for p in found)
            numbers = " + ".join(" * ".join(self._format(s.local) for s in p) for p in found)
            chains[e.name] = f"{symbols} = {numbers}"
        return chains

    def _notes(self) -> list[str]:
        notes = []
        if any(s.is_vjp for s in self.steps):
            notes.append(_VJP_NOTE)
        inputs = [s.input for s in self.steps]
        if len(set(inputs)) < len(inputs):
            notes.append(_SUM_NOTE)
        return notes

    def _node_label(self, e: _Entry) -> str:
        lines = [] if e.inline else [f"<B>{_escape(e.name)}</B>"]
        lines.append(_escape(self._format(e.value)))
        if e.gradient is not None:
            grad = f"{_d(self.output, e.name)} = {self._format(e.gradient)}"
            lines.append(f'<FONT COLOR="{_GRAD_COLOR}">{_escape(grad)}</FONT>')
        return "<" + "<BR/>".join(lines) + ">"

    def _edge_label(self, s: TraceStep) -> str:
        local = f"{_d(s.node, s.input)} = {self._format(s.local)}" if s.local is not None else "VJP"
        passed = f"{_d(self.output, s.input)} = {self._format(s.passed)}"
        return f'<{_escape(local)}<BR/><FONT COLOR="{_GRAD_COLOR}">{_escape(passed)}</FONT>>'


def trace(
    output: Tensor,
    names: Mapping[str, Tensor] | None = None,
    precision: int = 4,
    max_nodes: int = MAX_NODES,
) -> Trace:
    """Trace the chain rule through the small graph behind the scalar ``output``, step by step.

    For every operation, from ``output`` down, and every input of it that needs a gradient, the
    trace records the local derivative d(node)/d(input), the upstream gradient dJ/d(node) and the
    gradient passed down, dJ/d(input) = upstream * local. Where a node is not a single number the
    local derivative is a Jacobian that backpropagation never builds, and the step shows the rule's
    vector-Jacobian product instead (marked "VJP").

    Tensors are named by ``names``, else by their ``.name``; the others get letters: ``u, v, w, ...``
    for intermediates in the order they were computed, ``a, b, ...`` for leaves, and ``J`` for the
    output. Constants of one number are written as their value (``4 * v``).

    The trace runs the same gradient rules as ``backward()``, on its own: no ``.grad`` changes and
    the graph stays in place, so ``output.backward()`` works afterwards as before.

    Args:
        output: a tensor of one element that requires grad (a loss), made from a small graph.
        names: names for tensors of the graph, ``{"x": x, "W": layer.weight}`` (default None).
        precision: significant digits of the numbers shown (default 4).
        max_nodes: the most tensors the graph may have (default 200): the trace is for graphs a
            person reads step by step. Draw a large graph with ``chainrule.viz.draw_graph``.

    Returns:
        A :class:`Trace`: ``print`` it for a plain-text table, show it in Jupyter for an HTML table,
        ``.draw()`` it for the graph with labelled edges; ``.steps``, ``.values`` and
        ``.gradients`` hold the numbers.

    Raises:
        TypeError: ``output`` is not a Tensor, or ``names`` is not a mapping of names to Tensors.
        ValueError: ``output`` has more than one element or does not require grad; a tensor of
            ``names`` is not in the graph; the graph has more than ``max_nodes`` tensors.
        RuntimeError: the graph was freed by ``backward()`` (trace before it, or pass
            ``retain_graph=True``), or a tensor was modified in place after the graph used it.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.viz import trace
        >>> x = cr.tensor(2.0, requires_grad=True)
        >>> y = cr.tensor(3.0, requires_grad=True)
        >>> z = cr.tensor(4.0, requires_grad=True)
        >>> J = 4 * (x + y * z)
        >>> t = trace(J, names={"x": x, "y": y, "z": z})
        >>> print(t)
        Chain rule, step by step, for J
        <BLANKLINE>
        Forward pass
          x = 2
          y = 3
          z = 4
          u = y * z = 12
          v = x + u = 14
          J = 4 * v = 56
        <BLANKLINE>
        Backward pass (passed down = upstream * local)
          step  operation  local      upstream   passed down
          ----  ---------  ---------  ---------  ------------------
          1     J = 4 * v  dJ/dv = 4  dJ/dJ = 1  dJ/dv = 1 * 4 = 4
          2     v = x + u  dv/dx = 1  dJ/dv = 4  dJ/dx = 4 * 1 = 4
          3     v = x + u  dv/du = 1  dJ/dv = 4  dJ/du = 4 * 1 = 4
          4     u = y * z  du/dy = 4  dJ/du = 4  dJ/dy = 4 * 4 = 16
          5     u = y * z  du/dz = 3  dJ/du = 4  dJ/dz = 4 * 3 = 12
        <BLANKLINE>
        Gradients
          dJ/dx = dJ/dv * dv/dx = 4 * 1 = 4
          dJ/dy = dJ/dv * dv/du * du/dy = 4 * 1 * 4 = 16
          dJ/dz = dJ/dv * dv/du * du/dz = 4 * 1 * 3 = 12
        >>> float(t.gradients["y"]), x.grad is None    # the tensors' .grad are left alone
        (16.0, True)
    """
    _check_output(output)
    names = _check_names(names)
    if isinstance(precision, bool) or not isinstance(precision, (int, np.integer)) or precision < 1:
        raise ValueError(f"trace: precision must be a positive integer, got {precision!r}")
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, (int, np.integer)) or max_nodes < 1:
        raise ValueError(f"trace: max_nodes must be a positive integer, got {max_nodes!r}")

    tensors = _graph_behind(output, int(max_nodes))
    index = {id(t): i for i, t in enumerate(tensors)}
    missing = [name for name, t in names.items() if id(t) not in index]
    if missing:
        raise ValueError(
            f"trace: names {missing} are tensors that the output was not computed from; name only tensors "
            "of its graph (a tensor made again, e.g. by re-running a cell, is a new tensor)"
        )
    labels = _name_tensors(tensors, output, names, int(precision))
    entries = [_entry(t, labels, index, output) for t in tensors]
    steps, edges = _backward_steps(tensors, entries, index)
    return Trace(labels[id(output)][0], steps, int(precision), _entries=entries, _edges=edges)


# ------------------------------------------------------------------ checks


def _check_output(output: object) -> None:
    if not isinstance(output, Tensor):
        raise TypeError(
            f"trace: expected a Tensor (a scalar computed from tensors with requires_grad=True, such as a "
            f"loss), got {type(output).__name__}"
        )
    if output._data.size != 1:
        raise ValueError(
            f"trace: the output has shape {output.shape}; trace starts from a single number, as backward() "
            "does without a gradient argument. Reduce it first, e.g. trace(out.sum()) or trace(out.mean())"
        )
    if not output.requires_grad:
        raise ValueError(
            "trace: the output does not require grad, so no graph was recorded behind it. Make its inputs "
            "with requires_grad=True (cr.tensor(2.0, requires_grad=True)) and compute it outside no_grad()"
        )


def _check_names(names: object) -> dict[str, Tensor]:
    if names is None:
        return {}
    if not isinstance(names, Mapping):
        raise TypeError(
            f"trace: names must be a mapping from names to tensors, e.g. names={{'x': x}}, got {type(names).__name__}"
        )
    checked: dict[str, Tensor] = {}
    seen: dict[int, str] = {}
    for name, t in names.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"trace: names' keys must be non-empty strings, got {name!r}")
        if not isinstance(t, Tensor):
            raise TypeError(f"trace: names[{name!r}] must be a Tensor, got {type(t).__name__}")
        if id(t) in seen:
            raise ValueError(f"trace: one tensor was given two names, {seen[id(t)]!r} and {name!r}")
        seen[id(t)] = name
        checked[name] = t
    return checked


# ------------------------------------------------------------------ the graph


def _graph_behind(output: Tensor, max_nodes: int) -> list[Tensor]:
    """Every tensor ``output`` was computed from (constants too), inputs before outputs: draw_graph's
    walk, stopped as soon as it has seen more than ``max_nodes`` tensors."""

    def too_many() -> Exception:
        return ValueError(
            f"trace: the graph behind the output has more than {max_nodes} tensors; trace is for small "
            "graphs that a person reads step by step. Draw a large graph with "
            "chainrule.viz.draw_graph(output), or trace a small piece of it (one layer, on a few numbers)"
        )

    def freed(t: Tensor, op: str) -> Exception:
        return RuntimeError(
            f"trace: the graph behind the output was freed by backward(), so its {op} node no longer "
            "knows its inputs. Trace before calling backward(), or call backward(retain_graph=True)"
        )

    return _tensors_behind(output, max_nodes, too_many, freed)


def _name_tensors(
    tensors: list[Tensor], output: Tensor, names: dict[str, Tensor], precision: int
) -> dict[int, tuple[str, bool]]:
    """A unique name per tensor, by id, and whether it is an inline constant (named by its value)."""
    labels: dict[int, tuple[str, bool]] = {id(t): (name, False) for name, t in names.items()}
    used = set(names)

    def unique(base: str) -> str:
        name, k = base, 2
        while name in used:
            name, k = f"{base}_{k}", k + 1
        used.add(name)
        return name

    for t in tensors:  # the tensors' own names next
        if id(t) not in labels and t.name:
            labels[id(t)] = (unique(str(t.name)), False)
    if id(output) not in labels:
        labels[id(output)] = (unique("J"), False)
    pools = {"op": iter(_OP_NAMES), "leaf": iter(_LEAF_NAMES), "constant": iter(())}
    counters = {"op": 0, "leaf": 0, "constant": 0}
    prefixes = {"op": "u", "leaf": "a", "constant": "c"}
    for t in tensors:
        if id(t) in labels:
            continue
        kind = "op" if t.grad_fn is not None else ("leaf" if t.requires_grad else "constant")
        if kind == "constant" and t._data.size == 1:
            labels[id(t)] = (_format_array(t._data, precision), True)
            continue
        name = next((n for n in pools[kind] if n not in used), None)
        while name is None or name in used:
            counters[kind] += 1
            name = f"{prefixes[kind]}{counters[kind]}"
        used.add(name)
        labels[id(t)] = (name, False)
    return labels


def _entry(t: Tensor, labels: dict[int, tuple[str, bool]], index: dict[int, int], output: Tensor) -> _Entry:
    name, inline = labels[id(t)]
    fn = t.grad_fn
    value = np.array(t._data, copy=True)
    if fn is None:
        return _Entry(name, "leaf" if t.requires_grad else "constant", value, inline=inline)
    inputs = tuple(index[id(i)] for i in fn.inputs)
    operands = [_operand(*labels[id(i)]) for i in fn.inputs]
    return _Entry(
        name,
        "output" if t is output else "op",
        value,
        op=fn.name,
        formula=_formula(fn, operands),
        inputs=inputs,
    )


def _operand(name: str, inline: bool) -> str:
    return f"({name})" if inline and name.startswith("-") else name


def _formula(fn: Function, operands: list[str]) -> str:
    """``"y * z"``, ``"-a"``, ``"h ** 2"``, or ``"Tanh(h)"`` for an op without an operator."""
    name = fn.name
    if name in _INFIX and len(operands) == 2:
        return f"{operands[0]} {_INFIX[name]} {operands[1]}"
    if name == "Neg" and len(operands) == 1:
        return f"-{operands[0]}"
    exponent = getattr(fn, "exponent", None)
    if name == "PowScalar" and len(operands) == 1 and exponent is not None:
        return f"{operands[0]} ** {exponent:g}"
    return f"{name}({', '.join(operands)})"


# ------------------------------------------------------------------ the backward pass, written down


def _backward_steps(
    tensors: list[Tensor], entries: list[_Entry], index: dict[int, int]
) -> tuple[list[TraceStep], list[tuple[int, int]]]:
    """Run every node's gradient rule on bare arrays (the NUMPY interpreter), output down, as
    ``backward()`` does, and record each step, with the edge it runs along (node, input position).
    Nothing is stored on the tensors or freed."""
    output = tensors[-1]
    grads: dict[int, np.ndarray] = {id(output): np.ones_like(output._data)}
    steps: list[TraceStep] = []
    edges: list[tuple[int, int]] = []
    with no_grad():  # a rule in PyTorch's form runs on Tensors: nothing may be recorded
        for t in reversed(tensors):
            g = grads.get(id(t))
            if g is None or not t.requires_grad:
                continue
            entry = entries[index[id(t)]]
            entry.gradient = np.array(g, copy=True)
            fn = t.grad_fn
            if fn is None:
                continue
            if fn._clock < _writes.clock:  # as backward(): refuse a graph whose inputs were overwritten
                _check_not_written(fn)
            passed = _run_rule(fn, g)
            local = _run_rule(fn, np.ones_like(t._data)) if t._data.size == 1 else None
            for i, inp in enumerate(fn.inputs):
                if not inp.requires_grad:
                    continue
                ig = passed[i]
                if ig is not None:
                    grads[id(inp)] = grads[id(inp)] + ig if id(inp) in grads else ig
                steps.append(
                    TraceStep(
                        node=entry.name,
                        op=entry.op,
                        formula=entry.formula,
                        input=entries[index[id(inp)]].name,
                        upstream=entry.gradient,
                        local=None if local is None or local[i] is None else np.array(local[i], copy=True),
                        passed=None if ig is None else np.array(ig, copy=True),
                    )
                )
                edges.append((index[id(t)], i))
    return steps, edges


def _run_rule(fn: Function, grad: np.ndarray) -> list[np.ndarray | None]:
    """The gradients ``fn``'s rule hands its inputs for the output gradient ``grad``, each summed back
    to its input's shape and dtype (as the graph walk does); None where the rule gives none."""
    inputs = fn.inputs
    result = fn.backward(NUMPY, grad, *[i._data for i in inputs])
    if not isinstance(result, tuple):
        result = (result,)
    if len(result) != len(inputs):
        raise RuntimeError(f"trace: the rule of {fn.name} returned {len(result)} gradients for {len(inputs)} inputs")
    out: list[np.ndarray | None] = []
    for inp, g in zip(inputs, result):
        if g is None or not inp.requires_grad:
            out.append(None)
            continue
        g = np.asarray(g)
        like = inp._data
        if g.shape != like.shape:
            g = np.asarray(NUMPY.sum_to_shape(g, like.shape))
        if g.dtype != like.dtype:
            g = g.astype(like.dtype)
        out.append(g)
    return out


# ------------------------------------------------------------------ formatting


def _d(top: str, bottom: str) -> str:
    """The derivative of ``top`` with respect to ``bottom``, written ``dtop/dbottom``."""
    return f"d{top}/d{bottom}"


def _format_array(data: np.ndarray | None, precision: int) -> str:
    """``"56"``, ``"[1, 2, 3]"``, ``"[[1, 2], [3, 4]]"`` on one line; ``"shape (4, 3), norm 2.5"``."""
    if data is None:
        return "none"
    data = np.asarray(data)
    if data.size == 1:
        return _format_number(data.reshape(()).item(), precision)
    if data.size <= MAX_SHOWN:
        text = np.array2string(
            data,
            separator=", ",
            max_line_width=10**6,
            formatter={"float_kind": lambda v: _format_number(float(v), precision)},
        )
        return " ".join(text.split())
    norm = float(np.linalg.norm(data.astype(np.float64, copy=False).ravel()))
    return f"shape {data.shape}, norm {norm:.{precision}g}"


def _format_number(value: object, precision: int) -> str:
    if isinstance(value, float):
        return f"{value + 0.0:.{precision}g}"  # + 0.0 turns -0 into 0
    return str(value)


def _text_table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[k]) for r in [header, *rows]) for k in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(header, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    return lines


def _html(text: str) -> str:
    return html.escape(text, quote=True)


def _node_style(e: _Entry) -> dict[str, str]:
    if e.kind == "output":
        return {"shape": "box", "style": "filled,bold", "fillcolor": _ROOT_FILL}
    if e.kind == "leaf":
        return {"shape": "box", "style": "filled", "fillcolor": _LEAF_FILL}
    if e.kind == "constant":
        return {"shape": "box", "style": "dashed", "color": _CONSTANT_COLOR}
    return {"shape": "box"}
