"""Tests for chainrule.viz.graph: drawing the computational graph with graphviz."""

from __future__ import annotations

import doctest
import html
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule.viz import draw_graph, graph as graph_module

REPO_ROOT = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------ helpers


def seed_example(backward: bool = True):
    """The seed's worked example J = 4(x + y*z) at x=2, y=3, z=4, with every tensor named."""
    x = cr.tensor(2.0, requires_grad=True, name="x")
    y = cr.tensor(3.0, requires_grad=True, name="y")
    z = cr.tensor(4.0, requires_grad=True, name="z")
    u = y * z
    u.name = "u"
    v = x + u
    v.name = "v"
    J = 4 * v
    J.name = "J"
    if backward:
        for t in (u, v, J):
            t.retain_grad()
        J.backward(retain_graph=True)
    return {"x": x, "y": y, "z": z, "u": u, "v": v, "J": J}


def parse(g) -> tuple[dict[str, dict], list[tuple[str, str]]]:
    """The nodes (id -> {"lines": label lines as plain text, "attrs": the rest}) and edges of a Digraph."""
    nodes: dict[str, dict] = {}
    edges: list[tuple[str, str]] = []
    for line in g.body:
        line = line.strip()
        edge = re.fullmatch(r"(\w+) -> (\w+)", line)
        if edge:
            edges.append((edge[1], edge[2]))
            continue
        node = re.fullmatch(r"(\w+) \[label=(<.*>|\w+) (.*)\]", line)
        assert node, f"unexpected line in the DOT body: {line!r}"
        nodes[node[1]] = {"lines": label_lines(node[2]), "attrs": node[3]}
    return nodes, edges


def label_lines(label: str) -> list[str]:
    if not label.startswith("<"):
        return [label]
    parts = re.split(r"<BR[^>]*/>", label[1:-1])
    return [html.unescape(re.sub(r"<[^>]+>", "", p)) for p in parts]


def tensor_node(g, t: cr.Tensor) -> dict:
    nodes, _ = parse(g)
    return nodes[f"t{id(t)}"]


def op_labels(g) -> list[str]:
    nodes, _ = parse(g)
    return sorted(n["lines"][0] for key, n in nodes.items() if key.startswith("op"))


# ------------------------------------------------------------------ the seed's example


def test_seed_example_has_one_box_per_tensor_one_node_per_op_and_edges_through_ops():
    ts = seed_example()
    nodes, edges = parse(draw_graph(ts["J"]))
    boxes = [k for k in nodes if k.startswith("t")]
    ops = [k for k in nodes if k.startswith("op")]
    assert len(boxes) == 7  # x, y, z, u, v, J and the constant 4
    assert len(ops) == 3  # Mul (y*z), Add (x+u), Mul (4*v)
    assert len(edges) == 9  # 6 inputs into ops + 3 ops into their outputs
    assert all("shape=box" in nodes[k]["attrs"] for k in boxes)
    assert all("shape=ellipse" in nodes[k]["attrs"] for k in ops)
    for a, b in edges:  # tensor -> op -> tensor, never tensor -> tensor
        assert a.startswith("t") != b.startswith("t")
    u_fn = f"op{id(ts['u'].grad_fn)}"
    assert {e for e in edges if u_fn in e} == {
        (f"t{id(ts['y'])}", u_fn),
        (f"t{id(ts['z'])}", u_fn),
        (u_fn, f"t{id(ts['u'])}"),
    }


def test_seed_example_labels_show_names_values_and_gradients():
    ts = seed_example()
    g = draw_graph(ts["J"])
    expected = {  # name: (value, dJ/d name)
        "x": ("2", "grad 4"),
        "y": ("3", "grad 16"),
        "z": ("4", "grad 12"),
        "u": ("12", "grad 4"),
        "v": ("14", "grad 4"),
        "J": ("56", "grad 1"),
    }
    for name, lines in expected.items():
        assert tensor_node(g, ts[name])["lines"] == [name, *lines]


def test_op_nodes_are_named_after_their_function():
    ts = seed_example()
    assert op_labels(draw_graph(ts["J"])) == ["Add", "Mul", "Mul"]
    a = cr.sigmoid(cr.tensor([0.5, -1.0], requires_grad=True)).sum()
    assert op_labels(draw_graph(a)) == ["Sigmoid", "Sum"]


def test_drawing_before_backward_shows_values_but_no_gradient():
    ts = seed_example(backward=False)
    g = draw_graph(ts["J"])
    assert "grad" not in g.source
    assert tensor_node(g, ts["J"])["lines"] == ["J", "56"]
    ts["J"].backward()  # the graph was not consumed by drawing it
    assert ts["y"].grad.item() == 16.0


def test_constants_are_drawn_with_a_dashed_border_and_leaves_filled():
    ts = seed_example()
    nodes, _ = parse(draw_graph(ts["J"]))
    constants = [n for n in nodes.values() if "dashed" in n["attrs"]]
    assert [n["lines"] for n in constants] == [["4"]]
    assert "filled" in nodes[f"t{id(ts['x'])}"]["attrs"]
    assert "bold" in nodes[f"t{id(ts['J'])}"]["attrs"]  # the root stands out


def test_logistic_neuron_gradients_appear_in_the_picture():
    x1, x2, y = cr.tensor(1.5), cr.tensor(2.0), cr.tensor(1.0)
    w1 = cr.tensor(0.5, requires_grad=True, name="w1")
    w2 = cr.tensor(-0.25, requires_grad=True, name="w2")
    b = cr.tensor(0.1, requires_grad=True, name="b")
    z = w1 * x1 + w2 * x2 + b
    z.name = "z"
    a = cr.sigmoid(z)
    L = -(y * cr.log(a) + (1 - y) * cr.log(1 - a))
    z.retain_grad()
    L.backward(retain_graph=True)
    g = draw_graph(L, precision=3)
    error = a.item() - y.item()  # dL/dz = a - y
    assert tensor_node(g, z)["lines"] == ["z", "0.35", f"grad {error:.3g}"]
    assert tensor_node(g, w2)["lines"] == ["w2", "-0.25", f"grad {error * 2.0:.3g}"]
    assert tensor_node(g, b)["lines"] == ["b", "0.1", f"grad {error:.3g}"]


# ------------------------------------------------------------------ what a box says


def test_small_tensors_show_values_and_large_ones_their_shape():
    small = cr.tensor([1.0, 2.5], requires_grad=True, name="small")
    big = cr.tensor(np.ones((3, 4)), dtype="float32", requires_grad=True, name="big")
    out = (small.sum() + big.sum()) * 1.0
    out.backward(retain_graph=True)
    g = draw_graph(out)
    assert tensor_node(g, small)["lines"] == ["small", "[1, 2.5]", "grad [1, 1]"]
    assert tensor_node(g, big)["lines"] == ["big", "shape (3, 4)", f"grad norm {np.sqrt(12):.4g}"]

    g = draw_graph(out, show="shape")
    assert tensor_node(g, small)["lines"][1] == "shape (2,)"
    g = draw_graph(out, show="value")
    assert tensor_node(g, big)["lines"][1].startswith("[[1, 1, 1, 1]")


def test_precision_sets_significant_digits():
    t = cr.tensor(1 / 3, dtype="float64", requires_grad=True, name="t")
    assert tensor_node(draw_graph(t, precision=2), t)["lines"] == ["t", "0.33"]
    assert tensor_node(draw_graph(t), t)["lines"] == ["t", "0.3333"]


def test_names_are_escaped_for_graphviz():
    t = cr.tensor(1.0, requires_grad=True, name='<a & "b">')
    out = t * 2.0
    g = draw_graph(out)
    assert tensor_node(g, t)["lines"][0] == '<a & "b">'


def test_a_tensor_used_twice_gets_two_edges_into_the_op():
    x = cr.tensor(3.0, requires_grad=True, name="x")
    y = x * x
    nodes, edges = parse(draw_graph(y))
    assert len(nodes) == 3
    assert edges.count((f"t{id(x)}", f"op{id(y.grad_fn)}")) == 2


def test_a_deep_chain_is_walked_without_recursion():
    x = cr.tensor(1.0, requires_grad=True, name="x")
    y = x
    for _ in range(3 * sys.getrecursionlimit()):
        y = y * 1.0
    nodes, edges = parse(draw_graph(y))
    n = 3 * sys.getrecursionlimit()
    assert len(nodes) == 1 + 3 * n  # x, then per op: a constant, the op, its output
    assert len(edges) == 3 * n


def test_a_leaf_alone_is_one_box():
    t = cr.tensor([1.0, 2.0], name="t")
    nodes, edges = parse(draw_graph(t))
    assert [n["lines"] for n in nodes.values()] == [["t", "[1, 2]"]] and edges == []


def test_rankdir_is_passed_to_graphviz():
    ts = seed_example()
    assert "rankdir=TB" in draw_graph(ts["J"], rankdir="TB").source
    assert "rankdir=LR" in draw_graph(ts["J"]).source


# ------------------------------------------------------------------ errors


def test_a_freed_graph_raises_a_clear_error():
    ts = seed_example(backward=False)
    ts["J"].backward()  # without retain_graph: the graph is freed
    with pytest.raises(RuntimeError, match=r"freed by backward\(\).*retain_graph=True.*retain_grad"):
        draw_graph(ts["J"])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"show": "values"}, "show must be one of"),
        ({"rankdir": "left"}, "rankdir must be one of"),
        ({"precision": 0}, "precision must be a positive integer"),
    ],
)
def test_bad_settings_raise_value_errors(kwargs, message):
    ts = seed_example()
    with pytest.raises(ValueError, match=message):
        draw_graph(ts["J"], **kwargs)


def test_a_non_tensor_raises_type_error():
    with pytest.raises(TypeError, match="expected a Tensor, got list"):
        draw_graph([1.0, 2.0])


def test_missing_graphviz_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "graphviz", None)  # makes `import graphviz` raise ImportError
    ts = seed_example()
    with pytest.raises(ImportError, match=r'pip install "chainrule\[viz\]"') as info:
        draw_graph(ts["J"])
    assert "`dot` program" in str(info.value)


def test_importing_chainrule_does_not_import_graphviz():
    code = (
        "import sys, chainrule as cr\n"
        "assert 'graphviz' not in sys.modules, 'import chainrule imported graphviz'\n"
        "assert cr.viz.draw_graph is not None\n"
        "assert 'graphviz' not in sys.modules, 'import chainrule.viz imported graphviz'\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 0, result.stderr


def test_cr_viz_is_the_viz_package():
    assert cr.viz.draw_graph is draw_graph
    with pytest.raises(AttributeError, match="no attribute 'vizz'"):
        getattr(cr, "vizz")  # noqa: B009  (the attribute access is the test)


# ------------------------------------------------------------------ rendering


DOT = shutil.which("dot")
"""Graphviz's ``dot`` program, which rendering needs (``.ci/run`` installs it). Without it, the
rendering tests check the error that says so instead of the picture: both are behaviour a user meets."""


def rendered(make):
    """``make()``'s result where ``dot`` is installed; where it is not, check that ``make()`` fails
    with an error naming the missing program, and return None."""
    if DOT is not None:
        return make()
    import graphviz

    with pytest.raises(graphviz.ExecutableNotFound, match="dot"):
        make()
    return None


def test_rendering_without_dot_names_the_missing_program(tmp_path, monkeypatch):
    import graphviz

    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` on it, installed or not
    with pytest.raises(graphviz.ExecutableNotFound, match=r"failed to execute .*dot.*Graphviz executables"):
        draw_graph(seed_example()["J"]).pipe(format="svg")
    source = draw_graph(seed_example()["J"]).source  # the DOT text needs no program
    assert "digraph" in source and "Mul" in source


def test_render_writes_an_svg_with_the_labels(tmp_path):
    ts = seed_example()
    path = rendered(lambda: draw_graph(ts["J"]).render(tmp_path / "graph_J", format="svg", cleanup=True))
    if path is None:
        return
    svg = Path(path).read_text()
    assert Path(path) == tmp_path / "graph_J.svg"
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    for text in ("56", "grad 16", "grad 12", "Mul", "Add"):
        assert f">{text}</text>" in svg


def test_names_with_quotes_backslashes_and_markup_render():
    x = cr.tensor(1.0, requires_grad=True, name='x "in" <a & b>')
    J = x * 2.0
    J.name = "J \\"  # a trailing backslash ends a quoted DOT string badly if not kept inside the label
    svg = rendered(lambda: draw_graph(J).pipe(format="svg").decode())
    if svg is not None:
        assert "x &quot;in&quot; &lt;a &amp; b&gt;" in svg and "J \\" in svg


def test_jupyter_display_gives_svg():
    ts = seed_example()
    bundle = rendered(lambda: draw_graph(ts["J"])._repr_mimebundle_())
    if bundle is not None:
        assert "<svg" in bundle["image/svg+xml"]


def test_docstring_examples_run():
    result = doctest.testmod(graph_module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
