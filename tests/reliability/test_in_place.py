"""A tensor written in place after a graph used it makes that graph's backward raise, naming the op
(PyTorch's version counters), instead of computing a wrong gradient in silence."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import mark_modified

STALE = "was modified in place by {by} after {op} used it"


def test_writing_a_saved_output_makes_backward_raise():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x.exp()
    with cr.no_grad():
        y[...] = 0.0
    with pytest.raises(
        RuntimeError, match=r"the output of Exp \(shape \(3,\)\) " + STALE.format(by="setitem", op="Exp")
    ):
        y.sum().backward()
    assert x.grad is None


@pytest.mark.parametrize(
    "make", [lambda x: x * x, lambda x: x.tanh(), lambda x: x @ x.T, lambda x: x.sum(axis=0) ** 2], ids=str
)
def test_writing_an_input_after_its_use_makes_backward_raise(make):
    x = cr.tensor(np.arange(1.0, 7.0).reshape(2, 3), requires_grad=True)
    out = make(x)
    with cr.no_grad():
        x[0, 0] = 9.0
    with pytest.raises(RuntimeError, match="an input of .* was modified in place by setitem"):
        out.sum().backward()


def test_a_step_between_two_backward_passes_of_one_graph_is_refused():
    model = cr.nn.Linear(2, 1)
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    loss = model(cr.tensor(np.ones((3, 2)))).sum()
    loss.backward(retain_graph=True)
    opt.step()
    with pytest.raises(RuntimeError, match="an input of Linear .* by SGD.step after Linear used it"):
        loss.backward()


@pytest.mark.parametrize("by", ["load_state_dict", "nn.init"])
def test_loading_weights_or_initialising_them_makes_an_older_graph_stale(by):
    model = cr.nn.Linear(2, 2)
    loss = model(cr.tensor(np.ones((1, 2)))).sum()
    if by == "load_state_dict":
        model.load_state_dict(cr.nn.Linear(2, 2).state_dict())
    else:
        cr.nn.init.zeros_(model.weight)
    with pytest.raises(RuntimeError, match=f"by {by} after Linear used it"):
        loss.backward()


def test_writes_before_the_graph_and_ordinary_training_are_not_refused():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with cr.no_grad():
        x[0] = 3.0
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 4.0])
    model = cr.nn.Sequential(cr.nn.Linear(2, 4), cr.nn.Tanh(), cr.nn.Linear(4, 1))
    opt = cr.optim.Adam(model.parameters(), lr=0.01)
    X = cr.tensor(np.random.default_rng(0).normal(size=(8, 2)))
    for _ in range(3):
        opt.zero_grad()
        loss = ((model(X) - 1.0) ** 2).mean()
        loss.backward()
        opt.step()
    assert np.isfinite(loss.item())


def test_second_order_graphs_are_checked_too():
    x = cr.tensor([0.5, 1.5], requires_grad=True)
    (g,) = cr.grad((x**3).sum(), [x], create_graph=True)
    with cr.no_grad():
        x[1] = 0.0
    with pytest.raises(RuntimeError, match="modified in place by setitem"):
        g.sum().backward()


def test_code_that_writes_an_array_itself_can_say_so():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x.sigmoid()
    y.numpy()[0] = 0.0  # autograd cannot see this write ...
    mark_modified([y], "my code")  # ... unless the code says so
    with pytest.raises(RuntimeError, match="the output of Sigmoid .* by my code"):
        y.sum().backward()


@pytest.mark.parametrize(
    "write",
    [
        lambda z: z[0:2].__iadd__(1.0),  # a slice is a view
        lambda z: z.reshape(3, 1).mul_(2.0),  # so is a reshape
        lambda z: z.detach().zero_(),  # and a detached tensor
        lambda z: z.detach().__setitem__(0, 5.0),
    ],
)
def test_a_write_through_a_view_is_seen_by_the_graph_of_the_viewed_tensor(write):
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    z = x.exp()  # exp's rule reads its output
    with cr.no_grad():
        write(z)
    with pytest.raises(RuntimeError, match="the output of Exp"):
        z.sum().backward()


def test_a_write_to_other_memory_does_not_stop_backward():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    z = x.exp()
    other = z.clone().detach()
    with cr.no_grad():
        other += 1.0
    z.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp([1.0, 2.0, 3.0]), rtol=1e-6)
