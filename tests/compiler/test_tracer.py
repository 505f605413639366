"""The tracer: the third interpreter of the gradient rules records a backward into a plan that can
be replayed on another forward pass (what cr.compile builds on)."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.compiler import BackwardPlan, trace_backward


def mlp(seed: int = 0):
    cr.manual_seed(seed)
    return cr.nn.Sequential(cr.nn.Linear(4, 5), cr.nn.ReLU(), cr.nn.Linear(5, 5), cr.nn.Tanh(), cr.nn.Linear(5, 3))


def data(seed: int):
    r = np.random.default_rng(seed)
    return cr.tensor(r.standard_normal((6, 4)).astype(np.float32)), cr.tensor(r.integers(0, 3, 6))


def loss_of(model, x, y):
    return cr.nn.functional.cross_entropy(model(x), y)


def plain_gradients(model, x, y):
    model.zero_grad()
    loss_of(model, x, y).backward()
    return [p.grad.numpy().copy() for p in model.parameters()]


def test_the_plan_lists_the_backward_op_by_op():
    x = cr.tensor([[1.0, 2.0]], requires_grad=True)
    w = cr.tensor([[3.0], [4.0]], requires_grad=True)
    plan = trace_backward((x @ w).sum())
    # Sum's rule (reshape the scalar gradient, broadcast it back), then MatMul's two products
    assert plan.ops() == ["reshape", "broadcast_to", "swapaxes", "matmul", "swapaxes", "matmul"]
    # the loss's gradient, Sum's input (node 0; its rule reads only its shape), x and w (node 1)
    assert sorted(plan.inputs.values()) == [("gradient", 0), ("input", 0, 0), ("input", 1, 0), ("input", 1, 1)]
    np.testing.assert_array_equal(x.grad.numpy(), [[3.0, 4.0]])
    np.testing.assert_array_equal(w.grad.numpy(), [[1.0], [2.0]])


@pytest.mark.parametrize("build", ["mlp", "cnn", "lstm"])
def test_a_traced_backward_gives_the_plain_gradients(build):
    cr.manual_seed(1)
    r = np.random.default_rng(0)
    if build == "mlp":
        model, x = mlp(), cr.tensor(r.standard_normal((6, 4)).astype(np.float32))
        forward = model
    elif build == "cnn":
        model = cr.nn.Sequential(
            cr.nn.Conv2d(2, 3, 3, padding=1), cr.nn.ReLU(), cr.nn.MaxPool2d(2), cr.nn.Flatten(), cr.nn.Linear(12, 3)
        )
        x, forward = cr.tensor(r.standard_normal((6, 2, 4, 4)).astype(np.float32)), model
    else:
        model = cr.nn.LSTM(4, 3, batch_first=True, bidirectional=True)
        x = cr.tensor(r.standard_normal((6, 5, 4)).astype(np.float32))

        def forward(t):
            return model(t)[0][:, -1]

    y = cr.tensor(r.integers(0, 3, 6))
    model.zero_grad()
    cr.nn.functional.cross_entropy(forward(x), y).backward()
    plain = [p.grad.numpy().copy() for p in model.parameters()]
    model.zero_grad()
    plan = trace_backward(cr.nn.functional.cross_entropy(forward(x), y))
    for p, expected in zip(model.parameters(), plain):
        np.testing.assert_array_equal(p.grad.numpy(), expected)
    assert len(plan.steps) > 10 and {id(t) for t in plan.leaves} == {id(p) for p in model.parameters()}


class Mixed(cr.nn.Module):
    """Every kind of array a node saves from its data: an embedding's ids (an index), a leaky
    ReLU's mask (a where's condition), max pooling's winners, dropout's mask (a Mul input)."""

    def __init__(self):
        super().__init__()
        self.embed = cr.nn.Embedding(10, 4)
        self.conv = cr.nn.Conv1d(4, 3, 3, padding=1)
        self.head = cr.nn.Linear(6, 3)

    def forward(self, ids):
        h = self.embed(ids).transpose(0, 2, 1)  # (N, 4, L)
        h = cr.nn.functional.max_pool1d(cr.leaky_relu(self.conv(h), 0.1), 2)
        return self.head(cr.nn.functional.dropout(h.flatten(1), 0.3, training=True))


@pytest.mark.parametrize("build", ["mlp", "mixed"])
def test_a_plan_replays_on_another_forward_pass(build):
    """Recorded once on one batch and one set of weights, the plan gives the gradients of
    another batch and other weights: it holds the computation, not the values."""
    r = np.random.default_rng(0)
    if build == "mlp":
        model, other = mlp(0), mlp(5)
        (x, y), (x2, y2) = data(0), data(1)
    else:
        cr.manual_seed(0)
        model = Mixed()
        cr.manual_seed(5)
        other = Mixed()
        x, x2 = (cr.tensor(r.integers(0, 10, (6, 4))) for _ in range(2))
        y, y2 = (cr.tensor(r.integers(0, 3, 6)) for _ in range(2))
    cr.manual_seed(1)
    plan = trace_backward(loss_of(model, x, y))
    cr.manual_seed(2)  # another dropout mask too
    replayed = plan.run(plan.feed(loss_of(other, x2, y2)))
    cr.manual_seed(2)
    expected = plain_gradients(other, x2, y2)
    by_leaf = {id(t): g for t, g in zip(plan.leaves, replayed)}
    for p_old, e in zip(model.parameters(), expected):
        np.testing.assert_allclose(by_leaf[id(p_old)], e, rtol=1e-5, atol=1e-6)
        assert not np.allclose(p_old.grad.numpy(), e)  # the first batch's gradients were different


def test_each_root_has_its_own_gradient_input_even_when_they_were_the_same():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    g = cr.tensor([1.0, 1.0])
    plan = trace_backward([x * 2.0, x * 3.0], [g, g])
    assert sorted(v for v in plan.inputs.values() if v[0] == "gradient") == [("gradient", 0), ("gradient", 1)]
    feed = plan.feed([x * 2.0, x * 3.0], [cr.tensor([1.0, 0.0]), cr.tensor([0.0, 10.0])])
    np.testing.assert_array_equal(plan.run(feed)[0], [2.0, 30.0])


def test_replayed_gradients_never_share_memory():
    a, b = cr.tensor([1.0, 2.0], requires_grad=True), cr.tensor([3.0, 4.0], requires_grad=True)
    g = cr.tensor([5.0, 6.0])
    plan = trace_backward(a + b, g)
    feed = plan.feed(a + b, g)
    ga, gb = plan.run(feed)
    assert not np.shares_memory(ga, gb) and not np.shares_memory(ga, feed[("gradient", 0)])
    ga += 1.0
    np.testing.assert_array_equal(gb, [5.0, 6.0])


def test_a_plan_refuses_another_graph_or_other_shapes():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    plan = trace_backward((w * w).sum())
    with pytest.raises(ValueError, match="BackwardPlan.feed: node 1 of the traced graph was Mul, this graph has Exp"):
        plan.feed(w.exp().sum())
    feed = plan.feed((w * w).sum())
    feed[("input", 1, 0)] = np.ones(3, dtype=np.float32)
    with pytest.raises(ValueError, match=r"BackwardPlan.run: input \('input', 1, 0\) has shape \(3,\)"):
        plan.run(feed)


def test_a_rule_that_calls_numpy_on_a_traced_value_is_told_what_to_write():
    class NumpyInside(cr.Function):
        def forward(self, a):
            return np.sin(a)

        def backward(self, ns, grad, a):
            return grad * np.cos(a)

    x = cr.tensor([0.5], requires_grad=True)
    with pytest.raises(TypeError, match="NumPy function on a traced value.*ns.exp"):
        trace_backward(NumpyInside.apply(x).sum())


def test_the_plan_records_no_in_place_update_and_has_every_value_defined_once():
    model = mlp(0)
    plan = trace_backward(loss_of(model, *data(0)))
    defined = list(plan.inputs) + [s.out for s in plan.steps]
    assert len(defined) == len(set(defined)) == plan.size
    assert not {"iadd", "imul", "itanh"} & set(plan.ops())


def test_running_a_plan_without_all_its_inputs_names_them():
    plan = trace_backward((cr.tensor([1.0, 2.0], requires_grad=True) * 3.0).sum())
    with pytest.raises(KeyError, match=r"BackwardPlan.run: no value for the plan's inputs \[\('gradient', 0\)"):
        plan.run({})
    assert isinstance(plan, BackwardPlan) and "steps" in repr(plan)


def test_tracing_needs_a_graph():
    with pytest.raises(RuntimeError, match="trace_backward: an output does not require grad"):
        trace_backward(cr.tensor([1.0]).sum())
