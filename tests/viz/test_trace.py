"""Tests for chainrule.viz.trace (in chain_rule.py): the chain rule written out step by step."""

from __future__ import annotations

import gc
import re
import subprocess
import sys
import weakref

import numpy as np
import pytest

import chainrule as cr
from chainrule.viz.chain_rule import MAX_CHAIN_LENGTH, MAX_NODES, Trace, TraceStep, trace

# ------------------------------------------------------------------ helpers


def seed_example():
    """J = 4(x + y*z) at x=2, y=3, z=4, the derivation done by hand in the course notes."""
    x = cr.tensor(2.0, requires_grad=True)
    y = cr.tensor(3.0, requires_grad=True)
    z = cr.tensor(4.0, requires_grad=True)
    J = 4 * (x + y * z)
    return x, y, z, J


def traced_seed_example() -> Trace:
    x, y, z, J = seed_example()
    return trace(J, names={"x": x, "y": y, "z": z})


def as_tuple(step: TraceStep) -> tuple:
    """A step as plain numbers: (node, input, local, upstream, passed)."""
    local = None if step.local is None else float(step.local)
    return step.node, step.input, local, float(step.upstream), float(step.passed)


def small_network():
    """A tiny Linear + tanh + sum on fixed numbers (float64, so comparisons are exact enough)."""
    layer = cr.nn.Linear(3, 2, dtype="float64")
    with cr.no_grad():
        layer.weight.numpy()[...] = [[0.5, -0.25, 0.125], [-0.75, 0.3, 0.2]]
        layer.bias.numpy()[...] = [0.1, -0.2]
    x = cr.tensor(np.arange(6.0).reshape(2, 3) / 6, dtype="float64")
    J = cr.tanh(layer(x)).sum()
    return layer, x, J


def dot_edges(source: str) -> dict[tuple[str, str], str]:
    """The edges of a DOT text, (tail, head) -> the rest of the line (its attributes)."""
    edges = {}
    for line in source.splitlines():
        match = re.fullmatch(r"\s*(\w+) -> (\w+)(?: \[(.*)\])?", line)
        if match:
            edges[(match[1], match[2])] = match[3] or ""
    return edges


def dot_nodes(source: str) -> dict[str, str]:
    """The nodes of a DOT text, id -> its label."""
    nodes = {}
    for line in source.splitlines():
        match = re.fullmatch(r"\s*(\w+) \[label=(<.*>|\w+) .*\]", line)
        if match:
            nodes[match[1]] = match[2]
    return nodes


# ------------------------------------------------------------------ the worked example, every number


def test_seed_example_forward_values():
    t = traced_seed_example()
    assert list(t.values) == ["x", "y", "z", "u", "v", "J"]
    assert {name: float(v) for name, v in t.values.items()} == {
        "x": 2.0,
        "y": 3.0,
        "z": 4.0,
        "u": 12.0,
        "v": 14.0,
        "J": 56.0,
    }
    assert t.output == "J"


def test_seed_example_every_step():
    t = traced_seed_example()
    assert [as_tuple(s) for s in t.steps] == [
        ("J", "v", 4.0, 1.0, 4.0),  # dJ/dv = 4
        ("v", "x", 1.0, 4.0, 4.0),  # dv/dx = 1, so dJ/dx = 4
        ("v", "u", 1.0, 4.0, 4.0),  # dv/du = 1, so dJ/du = 4
        ("u", "y", 4.0, 4.0, 16.0),  # du/dy = z = 4, so dJ/dy = 4 * 1 * 4 = 16
        ("u", "z", 3.0, 4.0, 12.0),  # du/dz = y = 3, so dJ/dz = 12
    ]
    assert [(s.op, s.formula) for s in t.steps] == [
        ("Mul", "4 * v"),
        ("Add", "x + u"),
        ("Add", "x + u"),
        ("Mul", "y * z"),
        ("Mul", "y * z"),
    ]
    assert not any(s.is_vjp for s in t.steps)


def test_seed_example_gradients():
    t = traced_seed_example()
    assert {name: float(g) for name, g in t.gradients.items()} == {
        "x": 4.0,
        "y": 16.0,
        "z": 12.0,
        "u": 4.0,
        "v": 4.0,
        "J": 1.0,
    }


def test_seed_example_text_reads_like_the_hand_derivation():
    t = traced_seed_example()
    text = str(t)
    assert text == t.table()
    for line in (
        "  u = y * z = 12",
        "  v = x + u = 14",
        "  J = 4 * v = 56",
        "  1     J = 4 * v  dJ/dv = 4  dJ/dJ = 1  dJ/dv = 1 * 4 = 4",
        "  3     v = x + u  dv/du = 1  dJ/dv = 4  dJ/du = 4 * 1 = 4",
        "  4     u = y * z  du/dy = 4  dJ/du = 4  dJ/dy = 4 * 4 = 16",
        "  dJ/dx = dJ/dv * dv/dx = 4 * 1 = 4",
        "  dJ/dy = dJ/dv * dv/du * du/dy = 4 * 1 * 4 = 16",
        "  dJ/dz = dJ/dv * dv/du * du/dz = 4 * 1 * 3 = 12",
    ):
        assert line in text.splitlines(), f"missing line {line!r} in\n{text}"
    assert "VJP" not in text  # every node is a single number: true local derivatives throughout
    assert all(line == line.rstrip() for line in text.splitlines())


def test_names_come_from_tensor_names_then_letters():
    x, y, z, J = seed_example()
    x.name = "x"
    t = trace(J, names={"y": y})  # x by its .name, z unnamed: a leaf letter
    assert list(t.values) == ["x", "y", "a", "u", "v", "J"]
    J.name = "loss"
    assert trace(J).output == "loss"
    assert "dloss/dv = 4" in str(trace(J))


def test_automatic_names_do_not_collide_with_given_ones():
    x, y, z, J = seed_example()
    t = trace(J, names={"u": x, "v": y, "J": z})
    assert list(t.values) == ["u", "v", "J", "w", "p", "J_2"]
    assert float(t.gradients["v"]) == 16.0  # y, named "v"


def test_names_may_name_intermediates_and_the_output():
    x = cr.tensor(2.0, dtype="float64", requires_grad=True)
    h = x * x
    L = cr.tanh(h)
    t = trace(L, names={"x": x, "h": h, "L": L})
    assert list(t.values) == ["x", "h", "L"]
    assert t.steps[0].formula == "Tanh(h)"
    np.testing.assert_allclose(float(t.steps[0].local), 1 - np.tanh(4.0) ** 2, rtol=1e-12)


# ------------------------------------------------------------------ no side effects on the user's tensors


def test_trace_changes_no_grad_and_backward_still_works():
    x, y, z, J = seed_example()
    u = J.grad_fn.inputs[1].grad_fn.inputs[1]  # y * z
    u.retain_grad()
    trace(J, names={"x": x, "y": y, "z": z})
    assert x.grad is None and y.grad is None and z.grad is None and u.grad is None and J.grad is None
    J.backward()  # the graph was not freed by the trace
    assert float(x.grad) == 4.0 and float(y.grad) == 16.0 and float(z.grad) == 12.0 and float(u.grad) == 4.0


def test_trace_after_backward_with_retained_graph_does_not_accumulate():
    x, y, z, J = seed_example()
    J.backward(retain_graph=True)
    t = trace(J, names={"x": x})
    assert float(t.gradients["x"]) == 4.0
    assert float(x.grad) == 4.0  # not 8: the trace adds nothing to .grad
    J.backward()
    assert float(x.grad) == 8.0  # and the graph is still there for a second backward


def test_the_trace_keeps_no_reference_to_the_graph():
    x, y, z, J = seed_example()
    t = trace(J)
    ref = weakref.ref(J)
    del J
    gc.collect()
    assert ref() is None
    assert float(t.values["J"]) == 56.0


# ------------------------------------------------------------------ tensors that are not single numbers


def test_linear_tanh_sum_matches_grad():
    layer, x, J = small_network()
    t = trace(J, names={"x": x, "W": layer.weight, "b": layer.bias})
    grad_w, grad_b = cr.grad(J, [layer.weight, layer.bias], retain_graph=True)
    np.testing.assert_allclose(t.gradients["W"], grad_w.numpy(), rtol=1e-12)
    np.testing.assert_allclose(t.gradients["b"], grad_b.numpy(), rtol=1e-12)
    assert t.gradients["W"].shape == (2, 3) and t.gradients["b"].shape == (2,)
    assert "x" not in t.gradients  # a constant: no gradient is computed for it
    assert layer.weight.grad is None and layer.bias.grad is None


def test_non_scalar_steps_are_vector_jacobian_products():
    layer, x, J = small_network()
    t = trace(J, names={"x": x, "W": layer.weight, "b": layer.bias})
    assert [(s.node, s.op, s.input, s.is_vjp) for s in t.steps] == [
        ("J", "Sum", "v", False),  # J is one number: dJ/dv is a true local derivative (all ones)
        ("v", "Tanh", "u", True),
        ("u", "Linear", "W", True),
        ("u", "Linear", "b", True),
    ]
    np.testing.assert_array_equal(t.steps[0].local, np.ones((2, 2)))
    h = x.numpy() @ layer.weight.numpy().T + layer.bias.numpy()
    np.testing.assert_allclose(t.steps[1].passed, 1 - np.tanh(h) ** 2, rtol=1e-12)  # VJP of tanh with ones
    text = str(t)
    assert "VJP: the operation's output is not a single number" in text
    assert "dJ/dW = VJP(dJ/du) = [[" in text
    assert "u = Linear(x, W, b)" in text and "(constant)" in text


def test_broadcast_input_gets_its_gradient_summed_back():
    a = cr.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    b = cr.tensor([0.5, -1.0, 2.0], requires_grad=True)
    J = (a * b).sum()
    t = trace(J, names={"a": a, "b": b})
    grad_a, grad_b = cr.grad(J, [a, b], retain_graph=True)
    np.testing.assert_array_equal(t.gradients["b"], grad_b.numpy())
    np.testing.assert_array_equal(t.gradients["b"], [5.0, 7.0, 9.0])
    np.testing.assert_array_equal(t.gradients["a"], grad_a.numpy())


def test_large_arrays_are_summarised_by_shape_and_norm():
    w = cr.tensor(np.ones((4, 3)), requires_grad=True)
    t = trace((w * w).sum(), names={"w": w})
    assert "w = shape (4, 3), norm 3.464" in str(t)


# ------------------------------------------------------------------ reuse, constants, leaves


def test_a_tensor_used_twice_gets_the_sum_and_the_chain_shows_every_path():
    x = cr.tensor(3.0, requires_grad=True)
    t = trace(x * x + x, names={"x": x})
    assert float(t.gradients["x"]) == 7.0  # d/dx (x^2 + x) = 2x + 1
    text = str(t)
    assert "dJ/dx = dJ/dx + dJ/du * du/dx + dJ/du * du/dx = 1 + 1 * 3 + 1 * 3 = 7" in text
    assert "receives the sum of what each use passes down" in text


def test_chains_are_written_out_only_while_short():
    x = cr.tensor(1.0, requires_grad=True)
    h = x
    for _ in range(MAX_CHAIN_LENGTH):
        h = h * 2.0
    last = str(trace(h, names={"x": x})).splitlines()[-1]
    assert last.startswith("  dJ/dx = dJ/ds * ds/dr * ")
    assert last.endswith(f" = {' * '.join(['2'] * MAX_CHAIN_LENGTH)} = {2**MAX_CHAIN_LENGTH}")
    text = str(trace(h * 2.0, names={"x": x}))
    assert f"dJ/dx = {2 ** (MAX_CHAIN_LENGTH + 1)}" in text.splitlines()[-1]
    assert " * 2 * " not in text.splitlines()[-1]


def test_negative_and_large_constants():
    x = cr.tensor(2.0, requires_grad=True)
    c = cr.tensor(np.arange(8.0))
    t = trace((x * -3.0) + (c * x).sum(), names={"x": x})
    assert "x * (-3)" in str(t)
    assert "c1 = shape (8,)" in str(t)
    assert float(t.gradients["x"]) == -3.0 + 28.0


def test_output_that_is_a_leaf():
    x = cr.tensor(5.0, requires_grad=True)
    t = trace(x, names={"x": x})
    assert t.steps == [] and float(t.gradients["x"]) == 1.0
    assert "(none: x is a leaf" in str(t)


def test_precision():
    x, y, z, J = seed_example()
    t = trace(cr.tanh(J / 100), precision=2)
    assert "= 0.51" in str(t) and "0.5148" not in str(t)


def test_custom_function_in_pytorch_form():
    class Cube(cr.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a**3

        @staticmethod
        def backward(ctx, grad):
            (a,) = ctx.saved_tensors
            return grad * 3.0 * a * a

    x = cr.tensor(2.0, requires_grad=True)
    t = trace(2 * Cube.apply(x), names={"x": x})
    assert [as_tuple(s) for s in t.steps] == [("J", "u", 2.0, 1.0, 2.0), ("u", "x", 12.0, 2.0, 24.0)]
    assert t.steps[1].formula == "Cube(x)"


def test_repr():
    assert repr(traced_seed_example()) == "Trace(output='J', operations=3, steps=5)"


# ------------------------------------------------------------------ HTML


def test_html_has_the_tables():
    page = traced_seed_example()._repr_html_()
    assert page.count("<table>") == 2 and page.count("</table>") == 2
    assert "<th>local</th>" in page and "<th>upstream</th>" in page and "<th>passed down</th>" in page
    assert "<td>u = y * z</td><td>du/dy = 4</td><td>dJ/du = 4</td><td>dJ/dy = 4 * 4 = 16</td>" in page
    assert "<td>v</td><td>x + u</td><td>14</td>" in page
    assert "dJ/dy = dJ/dv * dv/du * du/dy = 4 * 1 * 4 = 16" in page


def test_html_escapes_names():
    x = cr.tensor(2.0, requires_grad=True)
    page = trace(x * x, names={"<x>": x})._repr_html_()
    assert "&lt;x&gt;" in page and "<x>" not in page


# ------------------------------------------------------------------ the drawing


def test_draw_labels_edges_with_local_derivative_and_gradient():
    import graphviz

    g = traced_seed_example().draw()
    assert isinstance(g, graphviz.Digraph)
    nodes = dot_nodes(g.source)
    ids = {re.search(r"<B>(\w+)</B>", label)[1]: i for i, label in nodes.items() if "<B>" in label}
    assert set(ids) == {"x", "y", "z", "u", "v", "J"}
    edges = dot_edges(g.source)
    op_of = {head: tail for (tail, head) in edges if tail.startswith("op")}  # tensor -> the op that made it

    def label(source: str, made: str) -> str:
        return edges[(ids[source], op_of[ids[made]])]

    assert "du/dy = 4" in label("y", "u") and "dJ/dy = 16" in label("y", "u")
    assert "du/dz = 3" in label("z", "u") and "dJ/dz = 12" in label("z", "u")
    assert "dv/dx = 1" in label("x", "v") and "dJ/dx = 4" in label("x", "v")
    assert "dJ/dv = 4" in label("v", "J")
    constant_edges = [attrs for (tail, head), attrs in edges.items() if head == op_of[ids["J"]] and tail != ids["v"]]
    assert constant_edges == ['color="#666666" style=dashed']  # the 4 of 4 * v: no gradient along it
    assert "dJ/dy = 16" in nodes[ids["y"]] and "56" in nodes[ids["J"]]


def test_draw_marks_vjp_edges():
    layer, x, J = small_network()
    source = trace(J, names={"x": x, "W": layer.weight}).draw(rankdir="TB").source
    assert "rankdir=TB" in source
    assert re.search(r"label=<VJP<BR/><FONT COLOR=\"#b03a2e\">dJ/dW = \[\[", source)


def test_draw_rejects_a_bad_rankdir():
    with pytest.raises(ValueError, match="rankdir must be one of"):
        traced_seed_example().draw(rankdir="sideways")


def test_draw_without_graphviz_says_what_to_install(monkeypatch):
    t = traced_seed_example()
    monkeypatch.setitem(sys.modules, "graphviz", None)  # makes `import graphviz` raise ImportError
    with pytest.raises(ImportError, match=r"pip install"):
        t.draw()


def test_importing_the_module_does_not_import_graphviz():
    code = "import sys, chainrule.viz.chain_rule\nassert 'graphviz' not in sys.modules, 'graphviz was imported'\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


# ------------------------------------------------------------------ clear errors


def test_output_must_be_a_tensor():
    with pytest.raises(TypeError, match="trace: expected a Tensor .* got float"):
        trace(3.0)


def test_output_must_be_a_single_number():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match=r"shape \(2,\).*trace\(out\.sum\(\)\)"):
        trace(x * x)


def test_output_must_require_grad():
    with pytest.raises(ValueError, match="does not require grad.*requires_grad=True"):
        trace(cr.tensor(2.0) * 3)
    x = cr.tensor(2.0, requires_grad=True)
    with cr.no_grad():
        y = x * 3
    with pytest.raises(ValueError, match="outside no_grad"):
        trace(y)


def test_a_freed_graph_is_refused():
    x, y, z, J = seed_example()
    J.backward()
    with pytest.raises(RuntimeError, match=r"freed by backward\(\).*retain_graph=True"):
        trace(J)


def test_large_graphs_are_refused_with_a_pointer_to_draw_graph():
    x = cr.tensor(1.0, requires_grad=True)
    h = x
    for _ in range(MAX_NODES):
        h = h * 1.0
    with pytest.raises(ValueError, match=r"more than 200 tensors.*small graphs.*draw_graph"):
        trace(h)
    long = trace(h, max_nodes=1000)  # allowed when asked for
    assert len(long.steps) == MAX_NODES
    assert str(long).splitlines()[-1] == "  dJ/da = 1"  # a product of 200 factors is not written out
    with pytest.raises(ValueError, match="more than 5 tensors"):
        trace(seed_example()[3], max_nodes=5)


def test_bad_names():
    x, y, z, J = seed_example()
    with pytest.raises(TypeError, match="names must be a mapping"):
        trace(J, names=[x, y])
    with pytest.raises(TypeError, match=r"names\['x'\] must be a Tensor, got float"):
        trace(J, names={"x": 2.0})
    with pytest.raises(TypeError, match="non-empty strings"):
        trace(J, names={1: x})
    with pytest.raises(ValueError, match="two names, 'x' and 'also_x'"):
        trace(J, names={"x": x, "also_x": x})
    with pytest.raises(ValueError, match=r"names \['w'\] are tensors that the output was not computed from"):
        trace(J, names={"x": x, "w": cr.tensor(1.0, requires_grad=True)})


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_bad_precision_and_max_nodes(bad):
    J = seed_example()[3]
    with pytest.raises(ValueError, match="precision must be a positive integer"):
        trace(J, precision=bad)
    with pytest.raises(ValueError, match="max_nodes must be a positive integer"):
        trace(J, max_nodes=bad)


def test_a_tensor_written_in_place_after_use_is_refused_as_backward_refuses_it():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    J = (x * x).sum()
    with cr.no_grad():
        x.numpy()[0] = 5.0
    cr.autograd.mark_modified([x], "my update")
    with pytest.raises(RuntimeError, match="modified in place by my update"):
        trace(J)
