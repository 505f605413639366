"""RNN, LSTM, GRU and their cells: values against a plain NumPy reference, gradients (finite
differences, first and second order, fused and composed paths), shapes, errors, dropout, parameter
names and init, config, errors."""

from __future__ import annotations

import itertools
import json
import math
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.ops.recurrent import recurrent_layer
from tests.nn.support import data, leaf
from tests.ops.references import reference, reference_step

MODES = ["rnn_tanh", "rnn_relu", "lstm", "gru"]
GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}


# ------------------------------------------------------------------ helpers


def make(mode, input_size=3, hidden_size=4, seed=0, **kwargs):
    """A float64 layer of ``mode`` with seeded parameters."""
    cr.manual_seed(seed)
    if mode.startswith("rnn"):
        layer = nn.RNN(input_size, hidden_size, nonlinearity=mode[4:], **kwargs)
    else:
        layer = {"lstm": nn.LSTM, "gru": nn.GRU}[mode](input_size, hidden_size, **kwargs)
    return layer.to("float64")


def params_of(layer):
    return {name: p.numpy() for name, p in layer.named_parameters()}


def run(layer, x, h0=None, c0=None):
    """Call ``layer``; return (output, h_n, c_n) with c_n None except for an LSTM."""
    if isinstance(layer, nn.LSTM):
        hx = None if h0 is None else (h0, c0)
        output, (h_n, c_n) = layer(x, hx)
        return output, h_n, c_n
    output, h_n = layer(x, h0)
    return output, h_n, None


def flat(*tensors):
    """One tensor of every output, so that gradcheck checks the gradients from all of them."""
    return cr.concatenate([t.reshape(-1) for t in tensors if t is not None])


def inputs_for(layer, steps=5, batch=2, seed=1, states=True):
    directions = 2 if layer.bidirectional else 1
    shape = (batch, steps, layer.input_size) if layer.batch_first else (steps, batch, layer.input_size)
    state_shape = (layer.num_layers * directions, batch, layer.hidden_size)
    x = data(*shape, seed=seed)
    h0 = data(*state_shape, seed=seed + 1, low=-1, high=1) if states else None
    c0 = data(*state_shape, seed=seed + 2, low=-1, high=1) if states and isinstance(layer, nn.LSTM) else None
    return x, h0, c0


OPTIONS = list(itertools.product([1, 2], [False, True], [False, True], [True, False], [False, True]))
OPTION_IDS = [
    f"layers{n}-{'bi' if b else 'uni'}-{'bf' if f else 'tf'}-{'bias' if s else 'nobias'}-{'h0' if h else 'zeros'}"
    for n, b, f, s, h in OPTIONS
]


# ------------------------------------------------------------------ values


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("num_layers, bidirectional, batch_first, bias, states", OPTIONS, ids=OPTION_IDS)
def test_values_match_the_numpy_reference_and_both_paths_agree(
    mode, num_layers, bidirectional, batch_first, bias, states
):
    """Outputs of the fused and the composed path against the reference; their gradients against each other."""
    layer = make(mode, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first, bias=bias)
    x, h0, c0 = inputs_for(layer, states=states)
    expected = reference(mode, x, params_of(layer), num_layers, bidirectional, batch_first, h0, c0)
    directions = 2 if bidirectional else 1
    gradients = []
    for fused in (True, False):
        layer.fused = fused
        leaves = [leaf(a) for a in (x, h0, c0) if a is not None]
        states_in = leaves[1:] + [None, None]
        got = run(layer, leaves[0], states_in[0], states_in[1])
        assert got[0].shape == ((2, 5, directions * 4) if batch_first else (5, 2, directions * 4))
        assert got[1].shape == (num_layers * directions, 2, 4)
        for g, e in zip(got, expected):
            if e is None:
                assert g is None
            else:
                np.testing.assert_allclose(g.numpy(), e, rtol=1e-10, atol=1e-12)
        out = flat(*got)
        loss = (out * cr.tensor(np.cos(np.arange(out.size)))).sum()
        gradients.append([g.numpy() for g in cr.grad(loss, leaves + list(layer.parameters()))])
    for fused_grad, composed_grad in zip(*gradients):
        np.testing.assert_allclose(fused_grad, composed_grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mode", MODES)
def test_float32_runs_in_float32_and_matches_float64(mode):
    layer32 = make(mode, bidirectional=True).to("float32")
    layer64 = make(mode, bidirectional=True)
    x = data(5, 2, 3)
    out32 = run(layer32, cr.tensor(x, dtype="float32"))
    out64 = run(layer64, cr.tensor(x))
    assert out32[0].dtype == np.float32 and out32[1].dtype == np.float32
    np.testing.assert_allclose(out32[0].numpy(), out64[0].numpy(), atol=1e-5)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("mode", MODES)
def test_unbatched_input(mode, batch_first):
    """A 2-D input is one (seq_len, input_size) sequence, whatever batch_first says (as in PyTorch)."""
    layer = make(mode, num_layers=2, bidirectional=True, batch_first=batch_first)
    x, h0, c0 = inputs_for(layer, batch=1)
    sequence = x[0] if batch_first else x[:, 0]
    batched = run(layer, cr.tensor(x), cr.tensor(h0), None if c0 is None else cr.tensor(c0))
    single = run(layer, cr.tensor(sequence), cr.tensor(h0[:, 0]), None if c0 is None else cr.tensor(c0[:, 0]))
    assert single[0].shape == (5, 8) and single[1].shape == (4, 4)
    np.testing.assert_allclose(
        single[0].numpy(), batched[0].numpy()[0] if batch_first else batched[0].numpy()[:, 0], rtol=1e-12
    )
    for s, b in zip(single[1:], batched[1:]):
        if b is not None:
            np.testing.assert_allclose(s.numpy(), b.numpy()[:, 0], rtol=1e-12)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("mode", MODES)
def test_one_input_without_bias_matches_the_composed_layer(mode, batch_first):
    """The fused input projection with one feature and no bias is an outer product, not a GEMM."""
    layer = make(mode, input_size=1, num_layers=2, bidirectional=True, batch_first=batch_first, bias=False)
    x = data(2, 5, 1) if batch_first else data(5, 2, 1)
    results = []
    for fused in (True, False):
        layer.fused = fused
        xt = leaf(x)
        out = flat(*run(layer, xt))
        loss = (out * cr.tensor(np.cos(np.arange(out.size)))).sum()
        results.append([out.numpy()] + [g.numpy() for g in cr.grad(loss, [xt] + list(layer.parameters()))])
    for fused_value, composed_value in zip(*results):
        np.testing.assert_allclose(fused_value, composed_value, rtol=1e-10, atol=1e-12)


def test_input_projection_runs_on_integer_features_after_a_cast():
    gru = make("gru", input_size=1)
    out, _ = gru(cr.tensor(np.arange(6).reshape(3, 2, 1)))
    assert out.dtype == np.float64


# ------------------------------------------------------------------ gradients


# every option of every layer appears in at least one of these (small sizes: finite differences)
GRAD_CASES = [
    {"num_layers": 1},
    {"num_layers": 2, "bidirectional": True, "batch_first": True},
    {"num_layers": 1, "bidirectional": True, "bias": False},
]


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composed"])
@pytest.mark.parametrize("case", GRAD_CASES, ids=["plain", "2layers-bi-batchfirst", "bi-nobias"])
@pytest.mark.parametrize("mode", MODES)
def test_gradcheck_every_layer_and_option(mode, case, fused):
    layer = make(mode, input_size=2, hidden_size=2, **case)
    layer.fused = fused
    x, h0, c0 = inputs_for(layer, steps=2 if layer.num_layers > 1 else 3, batch=2)
    inputs = [leaf(a) for a in (x, h0, c0) if a is not None]
    # with two layers, the input's gradient checks the path through layer 0, whose parameters the
    # one-layer cases check: nudge layer 1's only (finite differences cost two passes per number)
    params = [p for name, p in layer.named_parameters() if layer.num_layers == 1 or "_l1" in name]
    n = len(inputs)

    def f(*ts):
        states = list(ts[1:n]) + [None, None]
        return flat(*run(layer, ts[0], states[0], states[1]))

    assert cr.gradcheck(f, inputs + params)


@pytest.mark.parametrize("mode", MODES)
def test_gradcheck_of_the_op_without_initial_state_gradient(mode):
    """recurrent_layer with a constant h0 and an input that needs no gradient (the first layer)."""
    gates = GATES[mode] * 2
    w = [tuple(leaf(data(*shape, seed=k)) for k, shape in enumerate([(gates, 3), (gates, 2), (gates,), (gates,)]))]
    x = cr.tensor(data(4, 2, 3))
    zeros = cr.zeros(1, 2, 2, dtype="float64")
    c0 = zeros if mode == "lstm" else None

    def f(*ps):
        out, h_n, c_n = recurrent_layer(mode, x, zeros, [ps], c0=c0)
        return flat(out, h_n, c_n)

    assert cr.gradcheck(f, list(w[0]))


@pytest.mark.parametrize("mode", ["lstm", "gru", "rnn_tanh"])
def test_second_order_gradcheck_through_the_fused_layer(mode):
    """The fused backward, when recorded (create_graph), differentiates the composed layer."""
    layer = make(mode, input_size=1, hidden_size=2, bidirectional=True)
    x = leaf(data(3, 1, 1))
    params = [layer.weight_hh_l0, layer.bias_ih_l0_reverse, layer.weight_ih_l0_reverse]

    def gradient_of_loss(x, *ps):
        output = run(layer, x)[0]
        loss = (output * output).sum()
        grads = cr.grad(loss, [x, ps[0], ps[1]], create_graph=True)
        return flat(*grads)

    assert cr.gradcheck(gradient_of_loss, [x] + params, atol=1e-5)


def test_recorded_backward_gives_the_same_first_order_gradients():
    layer = make("gru", bidirectional=True, num_layers=2)
    x, h0, _ = inputs_for(layer)
    grads = []
    for create_graph in (False, True):
        xt, ht = leaf(x), leaf(h0)
        output, h_n = layer(xt, ht)
        loss = (output * output).sum() + h_n.sum()
        grads.append(cr.grad(loss, [xt, ht, *layer.parameters()], create_graph=create_graph))
    assert grads[1][0].requires_grad and not grads[0][0].requires_grad
    for plain, recorded in zip(*grads):
        np.testing.assert_allclose(plain.numpy(), recorded.numpy(), rtol=1e-10, atol=1e-12)


def test_plain_backward_reads_the_saved_gates_and_a_recorded_one_recomputes_them(monkeypatch):
    """The layer's one rule reads the forward's gate activations on NumPy (no second forward) and
    recomputes them on Tensors, so that gradients of gradients flow through them."""
    from chainrule.ops import recurrent

    calls = []
    original = recurrent._layer_forward

    def counting(ns, *args):
        calls.append(ns.name)
        return original(ns, *args)

    monkeypatch.setattr(recurrent, "_layer_forward", counting)
    layer = make("lstm", bidirectional=True)
    x = leaf(data(4, 2, 3))
    output, (h_n, c_n) = layer(x)
    (output.sum() + h_n.sum() + c_n.sum()).backward()
    assert calls == ["numpy"]
    assert x.grad.shape == x.shape
    assert all(p.grad is not None for p in layer.parameters())
    output, _ = layer(x)
    cr.grad(output.sum(), x, create_graph=True)
    assert calls == ["numpy", "numpy", "tensor"]


def test_backward_accumulates_into_parameters_and_spares_constants():
    layer = make("lstm")
    x = cr.tensor(data(4, 2, 3))
    output, (_, c_n) = layer(x)
    loss = output.sum() + c_n.sum()
    loss.backward(retain_graph=True)
    assert x.grad is None
    first = {}
    for name, p in layer.named_parameters():
        assert p.grad is not None and p.grad.shape == p.shape, name
        assert np.abs(p.grad.numpy()).sum() > 0, name
        first[name] = p.grad.numpy().copy()
    loss.backward()  # the saved gates survive a retained graph: the same gradients again, added
    for name, p in layer.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), 2 * first[name], rtol=1e-12, err_msg=name)


def test_no_graph_under_no_grad():
    layer = make("gru")
    with cr.no_grad():
        output, h_n = layer(cr.tensor(data(4, 2, 3)))
    assert not output.requires_grad and not h_n.requires_grad


# ------------------------------------------------------------------ dropout between layers


@pytest.mark.parametrize("mode", ["lstm", "gru"])
def test_dropout_acts_between_layers_in_training_only(mode):
    p = 0.4
    layer = make(mode, num_layers=3, dropout=p, bidirectional=True)
    x = data(6, 3, 3)
    params = params_of(layer)
    # evaluation: no dropout at all
    layer.eval()
    got = run(layer, cr.tensor(x))
    expected = reference(mode, x, params, 3, True, False)
    np.testing.assert_allclose(got[0].numpy(), expected[0], rtol=1e-10, atol=1e-12)
    # training: the outputs of layers 0 and 1 (not 2) are masked and scaled by 1/(1-p)
    layer.train()
    cr.manual_seed(7)
    got = run(layer, cr.tensor(x))
    generator = cr.manual_seed(7)
    masks = [(generator.random((6, 3, 8)) >= p) / (1 - p) for _ in range(2)]
    expected = reference(mode, x, params, 3, True, False, masks=masks)
    for g, e in zip(got, expected):
        if e is not None:
            np.testing.assert_allclose(g.numpy(), e, rtol=1e-10, atol=1e-12)
    assert not np.allclose(got[0].numpy(), reference(mode, x, params, 3, True, False)[0])


def test_dropout_with_one_layer_warns_and_changes_nothing():
    with pytest.warns(UserWarning, match="num_layers=1"):
        layer = make("gru", dropout=0.5)
    x = cr.tensor(data(4, 2, 3))
    np.testing.assert_array_equal(layer(x)[0].numpy(), layer.eval()(x)[0].numpy())


# ------------------------------------------------------------------ parameters, init, config


def expected_names(num_layers, bidirectional, bias):
    names = []
    for layer in range(num_layers):
        for suffix in [""] + (["_reverse"] if bidirectional else []):
            kinds = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if bias else [])
            names += [f"{k}_l{layer}{suffix}" for k in kinds]
    return names


@pytest.mark.parametrize("mode", MODES)
def test_parameter_names_and_shapes_are_pytorchs(mode):
    layer = make(mode, input_size=3, hidden_size=5, num_layers=2, bidirectional=True)
    gates = GATES[mode] * 5
    shapes = {name: p.shape for name, p in layer.named_parameters()}
    assert list(shapes) == expected_names(2, True, True)
    assert shapes["weight_ih_l0"] == shapes["weight_ih_l0_reverse"] == (gates, 3)
    assert shapes["weight_ih_l1"] == shapes["weight_ih_l1_reverse"] == (gates, 10)
    assert shapes["weight_hh_l1_reverse"] == (gates, 5)
    assert shapes["bias_ih_l1"] == shapes["bias_hh_l1_reverse"] == (gates,)
    assert list(make(mode, bias=False).state_dict()) == expected_names(1, False, False)


@pytest.mark.parametrize("mode", MODES)
def test_init_is_uniform_within_one_over_sqrt_hidden(mode):
    cr.manual_seed(0)
    layer = make(mode, input_size=20, hidden_size=16, num_layers=2)
    bound = 1 / math.sqrt(16)
    values = np.concatenate([p.numpy().ravel() for p in layer.parameters()])
    assert np.abs(values).max() <= bound
    assert np.abs(values).max() > 0.95 * bound and abs(values.mean()) < 0.02
    assert abs(values.std() - bound / math.sqrt(3)) < 0.01  # the std of U(-b, b)
    assert nn.GRU(2, 3).weight_ih_l0.dtype == np.float32


def test_reset_parameters_redraws():
    layer = make("lstm")
    before = layer.weight_hh_l0.numpy().copy()
    layer.reset_parameters()
    assert not np.array_equal(before, layer.weight_hh_l0.numpy())


@pytest.mark.parametrize(
    "layer",
    [
        nn.RNN(3, 5),
        nn.RNN(3, 5, 2, "relu", False, True, 0.25, True, dtype="float64"),
        nn.LSTM(3, 5, num_layers=2, bidirectional=True),
        nn.GRU(1, 6, batch_first=True, bias=False),
        nn.RNNCell(3, 4, nonlinearity="relu"),
        nn.LSTMCell(3, 4, bias=False),
        nn.GRUCell(2, 2, dtype="float64"),
    ],
    ids=lambda m: repr(m),
)
def test_config_round_trip(layer):
    rebuilt = nn.module_from_spec(json.loads(json.dumps(nn.module_to_spec(layer))))
    assert type(rebuilt) is type(layer) and repr(rebuilt) == repr(layer)
    assert rebuilt.get_config() == layer.get_config()
    assert [(n, p.shape, p.dtype) for n, p in rebuilt.named_parameters()] == [
        (n, p.shape, p.dtype) for n, p in layer.named_parameters()
    ]


def test_repr():
    assert repr(nn.LSTM(10, 20, num_layers=2)) == "LSTM(10, 20, num_layers=2)"
    assert repr(nn.GRU(1, 6, batch_first=True, bidirectional=True)) == "GRU(1, 6, batch_first=True, bidirectional=True)"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert (
            repr(nn.RNN(3, 5, bias=False, dropout=0.5, nonlinearity="relu"))
            == "RNN(3, 5, bias=False, dropout=0.5, nonlinearity=relu)"
        )
    assert repr(nn.GRUCell(3, 4, bias=False)) == "GRUCell(3, 4, bias=False)"


# ------------------------------------------------------------------ errors


def test_constructor_errors_name_the_layer():
    with pytest.raises(ValueError, match=r"LSTM: hidden_size must be a positive integer, got 0"):
        nn.LSTM(3, 0)
    with pytest.raises(ValueError, match=r"GRU: num_layers must be a positive integer, got 1.5"):
        nn.GRU(3, 4, num_layers=1.5)
    with pytest.raises(ValueError, match=r"RNN: nonlinearity must be 'tanh' or 'relu', got 'sigmoid'"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match=r"GRU: dropout must be in \[0, 1\], got 1.5"):
        nn.GRU(3, 4, num_layers=2, dropout=1.5)
    with pytest.raises(ValueError, match=r"GRU: dropout must be a number in \[0, 1\], got '0.5'"):
        nn.GRU(3, 4, num_layers=2, dropout="0.5")
    with pytest.raises(ValueError, match=r"LSTMCell: input_size must be a positive integer"):
        nn.LSTMCell(-1, 4)


def test_input_shape_errors_name_the_layer_and_the_expected_shape():
    lstm = nn.LSTM(3, 5, num_layers=2)
    with pytest.raises(
        ValueError,
        match=r"LSTM\(input_size=3, hidden_size=5\) got input of shape \(4, 2, 7\): "
        r"the last dimension must be 3",
    ):
        lstm(cr.zeros(4, 2, 7))
    with pytest.raises(
        ValueError,
        match=r"LSTM\(input_size=3, hidden_size=5\) got input of shape \(3,\): "
        r"expected a 3-D \(seq_len, batch, input_size\)",
    ):
        lstm(cr.zeros(3))
    gru = nn.GRU(3, 5, batch_first=True)
    with pytest.raises(ValueError, match=r"expected a 3-D \(batch, seq_len, input_size\)"):
        gru(cr.zeros(1, 2, 4, 3))
    with pytest.raises(ValueError, match=r"the sequence has no time steps"):
        gru(cr.zeros(2, 0, 3))


def test_state_shape_errors_name_the_layer_and_the_expected_shape():
    gru = nn.GRU(3, 5, num_layers=2, bidirectional=True)
    with pytest.raises(
        ValueError,
        match=r"GRU\(input_size=3, hidden_size=5\) got h0 of shape \(2, 4, 5\): "
        r"expected \(4, 4, 5\) = \(num_layers \* num_directions, batch, hidden_size\)",
    ):
        gru(cr.zeros(6, 4, 3), cr.zeros(2, 4, 5))
    lstm = nn.LSTM(3, 5)
    with pytest.raises(TypeError, match=r"LSTM\(input_size=3, hidden_size=5\): hx must be a tuple \(h0, c0\)"):
        lstm(cr.zeros(6, 4, 3), cr.zeros(1, 4, 5))
    with pytest.raises(ValueError, match=r"got c0 of shape \(1, 4, 4\): expected \(1, 4, 5\)"):
        lstm(cr.zeros(6, 4, 3), (cr.zeros(1, 4, 5), cr.zeros(1, 4, 4)))
    with pytest.raises(ValueError, match=r"got h0 of shape \(1, 4, 5\): expected \(1, 5\)"):
        lstm(cr.zeros(6, 3), (cr.zeros(1, 4, 5), cr.zeros(1, 4, 5)))  # unbatched input, batched states


def test_op_errors_name_the_op():
    w = (cr.zeros(6, 3), cr.zeros(6, 2), None, None)
    with pytest.raises(ValueError, match=r"recurrent_layer: mode must be one of"):
        recurrent_layer("elman", cr.zeros(4, 1, 3), cr.zeros(1, 1, 2), [w])
    with pytest.raises(ValueError, match=r"recurrent_layer: gru weights of shapes \(6, 3\) and \(6, 2\) do not match"):
        recurrent_layer("gru", cr.zeros(4, 1, 5), cr.zeros(1, 1, 2), [w])
    with pytest.raises(
        ValueError, match=r"recurrent_layer: h0 of shape \(1, 2, 2\) does not match: expected \(1, 1, 2\)"
    ):
        recurrent_layer("gru", cr.zeros(4, 1, 3), cr.zeros(1, 2, 2), [w])
    with pytest.raises(ValueError, match=r"recurrent_layer: an LSTM needs c0"):
        recurrent_layer("lstm", cr.zeros(4, 1, 3), cr.zeros(1, 1, 2), [(cr.zeros(8, 3), cr.zeros(8, 2), None, None)])
    with pytest.raises(
        ValueError, match=r"gru_cell: hidden state of shape \(3, 2\) does not match input of shape \(2, 3\)"
    ):
        cr.gru_cell(cr.zeros(2, 3), cr.zeros(3, 2), cr.zeros(6, 3), cr.zeros(6, 2))


def test_cell_errors_name_the_cell():
    cell = nn.GRUCell(3, 4)
    with pytest.raises(
        ValueError,
        match=r"GRUCell\(input_size=3, hidden_size=4\) got input of shape \(2, 5\): the last dimension must be 3",
    ):
        cell(cr.zeros(2, 5))
    with pytest.raises(
        ValueError,
        match=r"GRUCell\(input_size=3, hidden_size=4\) got input of shape \(2, 3, 3\): "
        r"expected \(batch, 3\) or unbatched \(3,\)",
    ):
        cell(cr.zeros(2, 3, 3))
    with pytest.raises(
        ValueError,
        match=r"GRUCell\(input_size=3, hidden_size=4\) got hx of shape \(3, 4\): "
        r"expected \(2, 4\)",
    ):
        cell(cr.zeros(2, 3), cr.zeros(3, 4))
    with pytest.raises(TypeError, match=r"LSTMCell\(input_size=3, hidden_size=4\): hx must be a tuple \(h, c\)"):
        nn.LSTMCell(3, 4)(cr.zeros(2, 3), cr.zeros(2, 4))


# ------------------------------------------------------------------ cells


def make_cell(mode, bias=True, seed=0):
    cr.manual_seed(seed)
    if mode.startswith("rnn"):
        cell = nn.RNNCell(3, 4, bias=bias, nonlinearity=mode[4:])
    else:
        cell = {"lstm": nn.LSTMCell, "gru": nn.GRUCell}[mode](3, 4, bias=bias)
    return cell.to("float64")


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("mode", MODES)
def test_cells_match_the_reference_step_and_gradcheck(mode, bias):
    cell = make_cell(mode, bias)
    x, h, c = data(2, 3), data(2, 4, seed=1, low=-1, high=1), data(2, 4, seed=2, low=-1, high=1)
    b_ih = cell.bias_ih.numpy() if bias else 0.0
    b_hh = cell.bias_hh.numpy() if bias else 0.0
    exp_h, exp_c = reference_step(mode, x, h, c, cell.weight_ih.numpy(), cell.weight_hh.numpy(), b_ih, b_hh)
    lstm = mode == "lstm"
    if lstm:
        got_h, got_c = cell(cr.tensor(x), (cr.tensor(h), cr.tensor(c)))
        np.testing.assert_allclose(got_c.numpy(), exp_c, rtol=1e-12)
    else:
        got_h = cell(cr.tensor(x), cr.tensor(h))
    np.testing.assert_allclose(got_h.numpy(), exp_h, rtol=1e-12)

    def step(x, h, c, *params):
        return flat(*cell(x, (h, c))) if lstm else cell(x, h)

    assert cr.gradcheck(step, [leaf(x), leaf(h), leaf(c)] + list(cell.parameters()))


@pytest.mark.parametrize("mode", MODES)
def test_cells_default_to_zero_states_and_take_unbatched_input(mode):
    cell = make_cell(mode)
    x = data(2, 3)
    zeros = cr.zeros(2, 4, dtype="float64")
    if mode == "lstm":
        np.testing.assert_array_equal(cell(cr.tensor(x))[1].numpy(), cell(cr.tensor(x), (zeros, zeros))[1].numpy())
        assert cell(cr.tensor(x[0]))[0].shape == (4,)
    else:
        np.testing.assert_array_equal(cell(cr.tensor(x)).numpy(), cell(cr.tensor(x), zeros).numpy())
        np.testing.assert_allclose(cell(cr.tensor(x[0])).numpy(), cell(cr.tensor(x)).numpy()[0], rtol=1e-12)


def test_cell_loop_equals_the_sequence_layer():
    cell, gru = make_cell("gru"), make("gru")
    gru.load_state_dict({f"{k}_l0": v for k, v in cell.state_dict().items()})
    x = data(5, 2, 3)
    h = None
    for t in range(5):
        h = cell(cr.tensor(x[t]), h)
    np.testing.assert_allclose(h.numpy(), gru(cr.tensor(x))[1].numpy()[0], rtol=1e-12)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_outputs_are_laid_out_features_fastest(batch_first, bidirectional):
    """The next layer reduces over features: strided outputs made a following Linear 2x slower."""
    layer = make("lstm", batch_first=batch_first, bidirectional=bidirectional)
    output, (h_n, c_n) = layer(cr.tensor(data(5, 6, 3)))
    values = output.numpy()
    assert values.strides[-1] == values.itemsize
    assert values.strides[-2] == values.shape[-1] * values.itemsize
    if not batch_first:
        assert values.flags.c_contiguous
