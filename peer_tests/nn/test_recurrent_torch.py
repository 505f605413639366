"""RNN, LSTM, GRU and their cells against torch.nn's with copied weights: outputs, final states,
gradients of inputs, states and parameters; reprs and state_dict keys."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn
from tests.nn.support import data, leaf
from tests.nn.test_recurrent import MODES, OPTIONS, inputs_for, make, make_cell, run


def torch_layer(layer):
    """The PyTorch twin of ``layer`` (float64) holding the same weights."""
    kind = type(layer).__name__
    config = {
        "num_layers": layer.num_layers,
        "bias": layer.bias,
        "batch_first": layer.batch_first,
        "bidirectional": layer.bidirectional,
        "dtype": torch.float64,
    }
    if kind == "RNN":
        config["nonlinearity"] = layer.nonlinearity
    twin = getattr(torch.nn, kind)(layer.input_size, layer.hidden_size, **config)
    assert [n for n, _ in twin.named_parameters()] == [n for n, _ in layer.named_parameters()]
    with torch.no_grad():
        for (_, theirs), (_, ours) in zip(twin.named_parameters(), layer.named_parameters()):
            theirs.copy_(torch.tensor(ours.numpy()))
    return twin


TORCH_CASES = [(*options, True) for options in OPTIONS[::4]] + [
    (2, True, True, True, True, False),
    (1, False, False, False, False, False),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("num_layers, bidirectional, batch_first, bias, states, fused", TORCH_CASES)
def test_outputs_and_gradients_match_pytorch(mode, num_layers, bidirectional, batch_first, bias, states, fused):
    layer = make(mode, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first, bias=bias)
    layer.fused = fused
    twin = torch_layer(layer)
    x, h0, c0 = inputs_for(layer, states=states)
    ours_in = [leaf(a) for a in (x, h0, c0) if a is not None]
    theirs_in = [torch.tensor(a, requires_grad=True) for a in (x, h0, c0) if a is not None]
    ours = run(layer, *ours_in)
    if mode == "lstm":
        out, (h_n, c_n) = twin(theirs_in[0], tuple(theirs_in[1:]) if states else None)
        theirs = (out, h_n, c_n)
    else:
        theirs = (*twin(*theirs_in), None)
    loss_ours, loss_theirs = 0, 0
    for k, (o, t) in enumerate(zip(ours, theirs)):
        if t is None:
            continue
        np.testing.assert_allclose(o.numpy(), t.detach().numpy(), rtol=1e-10, atol=1e-12)
        r = data(*o.shape, seed=10 + k)
        loss_ours = loss_ours + (o * cr.tensor(r)).sum()
        loss_theirs = loss_theirs + (t * torch.tensor(r)).sum()
    loss_ours.backward()
    loss_theirs.backward()
    for o, t in zip(ours_in, theirs_in):
        np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=1e-9, atol=1e-12)
    for (name, p), (_, q) in zip(layer.named_parameters(), twin.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("mode", MODES)
def test_cells_match_pytorch(mode):
    cell = make_cell(mode)
    kind = type(cell).__name__
    extra = {"nonlinearity": cell.nonlinearity} if kind == "RNNCell" else {}
    twin = getattr(torch.nn, kind)(3, 4, dtype=torch.float64, **extra)
    with torch.no_grad():
        for name, p in cell.named_parameters():
            getattr(twin, name).copy_(torch.tensor(p.numpy()))
    x, h, c = data(2, 3), data(2, 4, seed=1), data(2, 4, seed=2)
    if mode == "lstm":
        ours = cell(cr.tensor(x), (cr.tensor(h), cr.tensor(c)))[1]
        theirs = twin(torch.tensor(x), (torch.tensor(h), torch.tensor(c)))[1]
    else:
        ours, theirs = cell(cr.tensor(x), cr.tensor(h)), twin(torch.tensor(x), torch.tensor(h))
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-12)


def test_repr_and_state_dict_keys_match_pytorch():
    for ours, theirs in [
        (nn.LSTM(10, 20, num_layers=2, bidirectional=True), torch.nn.LSTM(10, 20, num_layers=2, bidirectional=True)),
        (nn.GRU(1, 6, batch_first=True, bias=False), torch.nn.GRU(1, 6, batch_first=True, bias=False)),
        (nn.RNN(3, 4, dropout=0.5, num_layers=2), torch.nn.RNN(3, 4, dropout=0.5, num_layers=2)),
        (nn.LSTMCell(3, 4), torch.nn.LSTMCell(3, 4)),
    ]:
        assert repr(ours) == repr(theirs)
        assert [(k, v.shape) for k, v in ours.state_dict().items()] == [
            (k, tuple(v.shape)) for k, v in theirs.state_dict().items()
        ]
        ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})  # copies across unchanged
