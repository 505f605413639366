"""Draw two computational graphs with their gradients: the seed's J = 4(x + y*z), and one neuron.

Run from the repository root:

    pip install "chainrule[viz]"      # the graphviz Python package
    apt-get install graphviz          # the `dot` program that renders (or brew / conda install graphviz)
    python examples/graph_of_J.py

It writes docs/images/graph_J.png and docs/images/graph_logistic_neuron.png.

backward() normally frees the graph as it goes; retain_graph=True keeps it so that it can be
drawn afterwards, and retain_grad() asks an intermediate tensor to keep its gradient in .grad.
"""

from pathlib import Path

import chainrule as cr

IMAGES = Path(__file__).resolve().parents[1] / "docs" / "images"


def graph_of_J() -> cr.Tensor:
    """J = 4(x + y*z) at x=2, y=3, z=4: J = 56, dJ/dx = 4, dJ/dy = 16, dJ/dz = 12."""
    x = cr.tensor(2.0, requires_grad=True, name="x")
    y = cr.tensor(3.0, requires_grad=True, name="y")
    z = cr.tensor(4.0, requires_grad=True, name="z")
    u = y * z
    u.name = "u = y*z"
    v = x + u
    v.name = "v = x + u"
    J = 4 * v
    J.name = "J = 4v"
    for t in (u, v, J):
        t.retain_grad()
    J.backward(retain_graph=True)

    print(f"J = {J.item():g}; dJ/dx = {x.grad.item():g}, dJ/dy = {y.grad.item():g}, dJ/dz = {z.grad.item():g}")
    print(f"dJ/du = {u.grad.item():g}, dJ/dv = {v.grad.item():g}")
    return J


def graph_of_logistic_neuron() -> cr.Tensor:
    """One logistic-regression example: z = w1 x1 + w2 x2 + b, a = sigmoid(z), L = log-loss.

    The graph gives dL/dz = a - y, dL/dw_i = (a - y) x_i and dL/db = a - y.
    """
    x1 = cr.tensor(1.5, name="x1")
    x2 = cr.tensor(2.0, name="x2")
    y = cr.tensor(1.0, name="y")
    w1 = cr.tensor(0.5, requires_grad=True, name="w1")
    w2 = cr.tensor(-0.25, requires_grad=True, name="w2")
    b = cr.tensor(0.1, requires_grad=True, name="b")

    z = w1 * x1 + w2 * x2 + b
    z.name = "z"
    a = cr.sigmoid(z)
    a.name = "a = sigmoid(z)"
    one_minus_y = 1 - y
    one_minus_y.name = "1 - y"
    L = -(y * cr.log(a) + one_minus_y * cr.log(1 - a))
    L.name = "L (log-loss)"
    for t in (z, a, L):
        t.retain_grad()
    L.backward(retain_graph=True)

    error = a.item() - y.item()
    print(f"a = {a.item():.4f}, L = {L.item():.4f}")
    print(f"dL/dz = {z.grad.item():.4f}   (a - y = {error:.4f})")
    print(f"dL/dw1 = {w1.grad.item():.4f}  ((a - y) x1 = {error * x1.item():.4f})")
    print(f"dL/dw2 = {w2.grad.item():.4f}  ((a - y) x2 = {error * x2.item():.4f})")
    print(f"dL/db = {b.grad.item():.4f}   (a - y = {error:.4f})")
    return L


def main() -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    for name, root in (("graph_J", graph_of_J()), ("graph_logistic_neuron", graph_of_logistic_neuron())):
        path = cr.viz.draw_graph(root).render(IMAGES / name, format="png", cleanup=True)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
