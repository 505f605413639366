"""The tracer: the third interpreter of the gradient rules records a backward into a plan that can
be replayed on another forward pass (what cr.compile builds on)."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.compile import Plan, feed_of, trace_backward


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
        model = cr.nn.Sequential(cr.nn.Conv2d(2, 3, 3, padding=1), cr.nn.ReLU(), cr.nn.MaxPool2d(2), cr.nn.Flatten(),
                                 cr.nn.Linear(12, 3))
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


def test_a_plan_replays_on_another_forward_pass():
    """Recorded once on one batch and one set of weights, the plan gives the gradients of
    another batch and other weights: it holds the computation, not the values."""
    model = mlp(0)
    x, y = data(0)
    plan = trace_backward(loss_of(model, x, y))
    other = mlp(5)
    x2, y2 = data(1)
    replayed = plan.run(feed_of(loss_of(other, x2, y2)))
    expected = plain_gradients(other, x2, y2)
    by_leaf = {id(t): g for t, g in zip(plan.leaves, replayed)}
    for p_old, p_new, e in zip(model.parameters(), other.parameters(), expected):
        np.testing.assert_allclose(by_leaf[id(p_old)], e, rtol=1e-6, atol=1e-7)
        assert not np.allclose(p_old.grad.numpy(), e)  # the first batch's gradients were different


def test_the_plan_records_no_in_place_update_and_has_every_value_defined_once():
    model = mlp(0)
    plan = trace_backward(loss_of(model, *data(0)))
    defined = list(plan.inputs) + [s.out for s in plan.steps]
    assert len(defined) == len(set(defined)) == plan.size
    assert not {"iadd", "isub", "imul", "itanh"} & set(plan.ops())


def test_running_a_plan_without_all_its_inputs_names_them():
    plan = trace_backward((cr.tensor([1.0, 2.0], requires_grad=True) * 3.0).sum())
    with pytest.raises(KeyError, match=r"Plan.run: no value for the plan's inputs \[\('gradient', 0\)"):
        plan.run({})
    assert isinstance(plan, Plan) and "steps" in repr(plan)


def test_tracing_needs_a_graph():
    with pytest.raises(RuntimeError, match="trace_backward: an output does not require grad"):
        trace_backward(cr.tensor([1.0]).sum())
