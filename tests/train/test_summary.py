"""Tests for chainrule.train.summary: the table, parameter counts, depth and width."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.train import ModelSummary, summary


def seed_mlp() -> cr.nn.Sequential:
    """The seed's 4-3-2-1 network with sigmoid units."""
    return cr.nn.Sequential(
        cr.nn.Linear(4, 3), cr.nn.Sigmoid(), cr.nn.Linear(3, 2), cr.nn.Sigmoid(), cr.nn.Linear(2, 1), cr.nn.Sigmoid()
    )


def test_the_seeds_4_3_2_1_mlp():
    s = summary(seed_mlp(), (4,))
    assert isinstance(s, ModelSummary)
    assert [r.params for r in s.rows] == [15, 0, 8, 0, 3, 0]
    assert [r.params for r in s.rows if r.params] == [15, 8, 3]
    assert (s.total_params, s.trainable_params, s.non_trainable_params) == (26, 26, 0)
    assert (s.depth, s.width) == (3, 4)
    assert [r.output_shape for r in s.rows] == [(1, 3), (1, 3), (1, 2), (1, 2), (1, 1), (1, 1)]
    assert [r.kind for r in s.rows] == ["Linear", "Sigmoid"] * 3
    assert [r.name for r in s.rows] == ["0", "1", "2", "3", "4", "5"]


def test_the_table_shows_the_numbers():
    text = str(summary(seed_mlp(), (4,)))
    lines = text.splitlines()
    assert lines[1].split() == ["Layer", "(type)", "Output", "Shape", "Param", "#"]
    assert "0 (Linear)" in text and "(None, 3)" in text and "5 (Sigmoid)" in text
    rows = [line.split() for line in lines if line.startswith(("0 ", "2 ", "4 "))]
    assert [row[-1] for row in rows] == ["15", "8", "3"]
    for expected in [
        "Total params: 26",
        "Trainable params: 26",
        "Non-trainable params: 0",
        "Depth (layers with weights): 3",
        "Width (most units in a layer): 4",
    ]:
        assert expected in lines


def test_thousands_are_grouped():
    text = str(summary(cr.nn.Sequential(cr.nn.Linear(64, 100), cr.nn.ReLU(), cr.nn.Linear(100, 10)), (64,)))
    assert "6,500" in text and "1,010" in text and "Total params: 7,510" in text


def test_width_is_the_widest_layer_when_wider_than_the_input():
    s = summary(cr.nn.Sequential(cr.nn.Linear(2, 16), cr.nn.Tanh(), cr.nn.Linear(16, 1)), (2,))
    assert (s.total_params, s.depth, s.width) == (65, 2, 16)


def test_frozen_parameters_are_non_trainable():
    net = seed_mlp()
    net[0].requires_grad_(False)
    s = summary(net, (4,))
    assert (s.total_params, s.trainable_params, s.non_trainable_params) == (26, 11, 15)
    assert [(r.params, r.trainable) for r in s.rows if r.params] == [(15, 0), (8, 8), (3, 3)]
    assert "Trainable params: 11" in str(s) and "Non-trainable params: 15" in str(s)
    net[2].bias.requires_grad_(False)
    assert summary(net, (4,)).non_trainable_params == 17


def test_batchnorm_buffers_are_not_parameters():
    net = cr.nn.Sequential(cr.nn.Linear(4, 8), cr.nn.BatchNorm1d(8), cr.nn.ReLU(), cr.nn.Linear(8, 1))
    s = summary(net, (4,))
    assert [r.params for r in s.rows] == [40, 16, 0, 9]  # gamma and beta only
    assert s.total_params == 65 == net.num_parameters()
    assert len(net.state_dict()) > len(list(net.parameters()))  # the running statistics exist


def test_summary_leaves_the_model_as_it_was():
    net = cr.nn.Sequential(cr.nn.Linear(4, 8), cr.nn.BatchNorm1d(8), cr.nn.Dropout(0.5), cr.nn.Linear(8, 1))
    net[3].bias.numpy()[...] = 1.0  # non-zero outputs reach no running statistics in eval mode anyway
    before = {k: v.copy() for k, v in net.state_dict().items()}
    summary(net, (4,))
    assert net.training and all(m.training for m in net.modules())
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v, before[k], err_msg=k)
    assert all(not m._forward_hooks for m in net.modules())
    assert all(p.grad is None for p in net.parameters())
    net.eval()
    summary(net, (4,))
    assert not net.training


def test_nested_modules_get_dotted_names():
    class Block(cr.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = cr.nn.Sequential(cr.nn.Linear(3, 5), cr.nn.ReLU())
            self.head = cr.nn.Linear(5, 2)

        def forward(self, x):
            return self.head(self.body(x))

    s = summary(Block(), (3,))
    assert [(r.name, r.kind) for r in s.rows] == [("body.0", "Linear"), ("body.1", "ReLU"), ("head", "Linear")]
    assert (s.total_params, s.depth, s.width) == (32, 2, 5)


def test_a_single_layer_is_its_own_row():
    s = summary(cr.nn.Linear(4, 2), (4,))
    assert [(r.name, r.params) for r in s.rows] == [("Linear", 10)]
    assert (s.depth, s.width) == (1, 4)


def test_a_layer_used_twice_is_counted_once():
    shared = cr.nn.Linear(3, 3)
    s = summary(cr.nn.Sequential(shared, cr.nn.ReLU(), shared), (3,))
    assert s.total_params == 12 and [r.params for r in s.rows] == [12, 0]


def test_layers_that_never_run_are_listed_last():
    class WithSpare(cr.nn.Module):
        def __init__(self):
            super().__init__()
            self.spare = cr.nn.Linear(2, 7)
            self.used = cr.nn.Linear(2, 1)

        def forward(self, x):
            return self.used(x)

    s = summary(WithSpare(), (2,))
    assert [(r.name, r.output_shape, r.params) for r in s.rows] == [("used", (1, 1), 3), ("spare", None, 21)]
    assert s.total_params == 24
    line = next(line for line in str(s).splitlines() if line.startswith("spare"))
    assert line.split() == ["spare", "(Linear)", "-", "21"]


def test_a_float64_model():
    s = summary(seed_mlp().to(np.float64), (4,))
    assert s.total_params == 26


def test_a_model_that_fails_on_the_input_shape_gives_a_clear_error():
    net = seed_mlp()
    with pytest.raises(ValueError) as info:
        summary(net, (5,))
    message = str(info.value)
    assert message.startswith("summary: the model failed on an input of shape (1, 5): ")
    assert "Linear(in_features=4)" in message and "must be 4" in message
    assert all(not m._forward_hooks for m in net.modules())  # hooks removed on failure too
    assert summary(net, (4,)).total_params == 26


def test_not_a_module():
    with pytest.raises(TypeError, match="summary: model must be a chainrule.nn.Module, got function"):
        summary(lambda x: x, (4,))


def test_summary_gives_each_module_its_own_mode_back():
    model = cr.nn.Sequential(cr.nn.Linear(3, 4), cr.nn.BatchNorm1d(4), cr.nn.Dropout(0.5), cr.nn.Linear(4, 2))
    model.train()
    model[1].eval()  # a frozen BatchNorm inside a model that trains
    cr.train.summary(model, (3,))
    assert [m.training for m in model] == [True, False, True, True]
    assert model.training
