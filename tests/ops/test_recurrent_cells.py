"""The recurrent layers' compiled cells (numba, chainrule/ops/_recurrent_kernels.py: LSTM_CELL and
LSTM_CELL_BACKWARD for the LSTM; GRU_GATES, GRU_CANDIDATE, GRU_STATE and GRU_CELL_BACKWARD for a
GRU too big for its whole compiled loops) against the NumPy loop they replace. They do the same
operations in the same order and leave the GEMMs and tanh to NumPy, so outputs, final states and
every gradient are equal bit for bit; they run only where they should (a plain NumPy forward or
backward, float32/float64, a step's gates of at least ``kernels.MIN_SIZE`` numbers); either
backward reads either forward's stored values; NaN and inf travel as in NumPy; a compiled step
that uses them equals eager steps."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import chainrule as cr
from chainrule import kernels
from chainrule.ops import _recurrent_kernels, recurrent

assert kernels.available(), 'numba is part of the test extra: pip install -e ".[test]"'

BATCH, STEPS, FEATURES = 4, 6, 3
LAYERS = {"lstm": cr.nn.LSTM, "gru": cr.nn.GRU}
GATES = {"lstm": 4, "gru": 3}
ABOVE = recurrent.LOOPED_HIDDEN + 1  # the smallest GRU that takes the cells, not the whole loops
HIDDEN = {"lstm": [1, 5], "gru": [ABOVE, ABOVE + 3]}


def run_layer(
    mode, hidden, dtype, bidirectional=True, bias=True, batch_first=True, num_layers=1, with_state=True, x=None
):
    """Outputs and gradients of an LSTM or GRU on a fixed sample: [output, *final states, dx,
    *d(initial states), *dparams]."""
    rng = np.random.default_rng(0)
    cr.manual_seed(0)
    layer = LAYERS[mode](
        FEATURES,
        hidden,
        num_layers=num_layers,
        bias=bias,
        batch_first=batch_first,
        bidirectional=bidirectional,
        dtype=dtype,
    )
    if x is None:
        x = rng.standard_normal((BATCH, STEPS, FEATURES) if batch_first else (STEPS, BATCH, FEATURES))
    x = cr.tensor(x, dtype=dtype, requires_grad=True)
    states = []
    if with_state:
        shape = ((2 if bidirectional else 1) * num_layers, BATCH, hidden)
        states = [cr.tensor(rng.standard_normal(shape), dtype=dtype, requires_grad=True) for _ in range(2)]
        states = states if mode == "lstm" else states[:1]
    given = (tuple(states) if mode == "lstm" else states[0],) if with_state else ()
    out, final = layer(x, *given)
    final = list(final) if mode == "lstm" else [final]
    loss = (out * cr.tensor(rng.standard_normal(out.shape), dtype=dtype)).sum()
    loss = loss + (final[0] * cr.tensor(rng.standard_normal(final[0].shape), dtype=dtype)).sum()
    loss = loss + sum((f * f).sum() for f in final[1:])
    loss.backward()
    results = [out.numpy(), *(f.numpy() for f in final), x.grad.numpy()]
    results += [s.grad.numpy() for s in states]
    return results + [p.grad.numpy() for p in layer.parameters()]


def assert_same(got, want):
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)


@pytest.fixture
def cell_calls(monkeypatch):
    """Counts the compiled cells' calls, once per step: {'forward': n, 'backward': n}
    (LSTM_CELL or GRU_STATE, LSTM_CELL_BACKWARD or GRU_CELL_BACKWARD)."""
    calls = {"forward": 0, "backward": 0}

    def counted(name, kernel):
        def call(*args):
            calls[name] += 1
            return kernel(*args)

        return call

    # (replaced where they are called)
    for kernel, name in [
        ("LSTM_CELL", "forward"),
        ("GRU_STATE", "forward"),
        ("LSTM_CELL_BACKWARD", "backward"),
        ("GRU_CELL_BACKWARD", "backward"),
    ]:
        monkeypatch.setattr(recurrent, kernel, counted(name, getattr(_recurrent_kernels, kernel)))
    return calls


@pytest.fixture
def any_size(monkeypatch):
    """The loops for the tests' small layers too (the library hands them only big ones)."""
    monkeypatch.setattr(kernels, "MIN_SIZE", 0)


CASES = [
    dict(bidirectional=bidirectional, bias=bias, batch_first=batch_first, num_layers=num_layers, with_state=with_state)
    for bidirectional, bias, batch_first, num_layers, with_state in itertools.product(
        (False, True), (False, True), (False, True), (1, 2), (False, True)
    )
]


MODE_HIDDEN = [(mode, hidden) for mode in ("lstm", "gru") for hidden in HIDDEN[mode]]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("mode, hidden", MODE_HIDDEN)
@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_the_compiled_cells_give_the_numpy_loops_values_and_gradients_bit_for_bit(
    mode, hidden, dtype, case, cell_calls, any_size
):
    fused = run_layer(mode, hidden, dtype, **case)
    calls = STEPS * case["num_layers"]
    assert cell_calls == {"forward": calls, "backward": calls}, "the compiled cells did not run"
    with kernels.disable():
        plain = run_layer(mode, hidden, dtype, **case)
    assert cell_calls == {"forward": calls, "backward": calls}  # not under kernels.disable()
    assert_same(fused, plain)


@pytest.mark.parametrize("mode", ["lstm", "gru"])
def test_the_cells_run_from_min_size_numbers_of_gates_on(mode, monkeypatch, cell_calls):
    """A step's gates hold directions * gates * hidden * batch numbers: the cells from MIN_SIZE on."""
    hidden = HIDDEN[mode][-1]
    monkeypatch.setattr(kernels, "MIN_SIZE", 2 * GATES[mode] * hidden * BATCH)  # exactly this layer's
    run_layer(mode, hidden, "float32")
    assert cell_calls == {"forward": STEPS, "backward": STEPS}
    monkeypatch.setattr(kernels, "MIN_SIZE", 2 * GATES[mode] * hidden * BATCH + 1)
    run_layer(mode, hidden, "float32")
    assert cell_calls == {"forward": STEPS, "backward": STEPS}  # (no more calls)


def test_a_small_gru_runs_its_whole_loops_not_the_cells(cell_calls, any_size):
    run_layer("gru", recurrent.LOOPED_HIDDEN, "float32")
    assert cell_calls == {"forward": 0, "backward": 0}


@pytest.mark.parametrize("mode", ["lstm", "gru"])
def test_other_dtypes_recorded_rules_and_disable_keep_the_numpy_loop(mode, cell_calls, any_size):
    hidden = HIDDEN[mode][-1]
    layer = LAYERS[mode](2, hidden, dtype="float16")
    layer(cr.randn(5, 2, 2, dtype="float16"))[0].sum().backward()
    with kernels.disable():
        run_layer(mode, hidden, "float64")
    assert cell_calls == {"forward": 0, "backward": 0}
    layer = LAYERS[mode](2, hidden, dtype="float64")
    x = cr.randn(4, 2, 2, dtype="float64", requires_grad=True)
    (gx,) = cr.grad(layer(x)[0].sum(), [x], create_graph=True)
    assert cell_calls == {"forward": 4, "backward": 0}  # the recorded rule runs on Tensors
    gx.sum().backward()
    with kernels.disable():
        x2 = cr.tensor(x.numpy(), requires_grad=True)
        (gx2,) = cr.grad(layer(x2)[0].sum(), [x2], create_graph=True)
        gx2.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), x2.grad.numpy())


@pytest.mark.parametrize("mode", ["lstm", "gru"])
@pytest.mark.parametrize("forward_fused", [True, False])
def test_a_forward_and_a_backward_on_different_paths_agree(mode, forward_fused, any_size):
    """The compiled and NumPy loops store the same things in the same layout: either backward reads
    either forward's."""
    rng = np.random.default_rng(1)
    hidden = HIDDEN[mode][-1]
    layer = LAYERS[mode](2, hidden, bidirectional=True, dtype="float64")
    x = cr.tensor(rng.standard_normal((7, 3, 2)), dtype="float64", requires_grad=True)
    weight = cr.tensor(rng.standard_normal((7, 3, 2 * hidden)), dtype="float64")

    def gradients(mixed):
        layer.zero_grad()
        x.grad = None
        if mixed and not forward_fused:
            with kernels.disable():
                loss = (layer(x)[0] * weight).sum()
        else:
            loss = (layer(x)[0] * weight).sum()
        if mixed and forward_fused:
            with kernels.disable():
                loss.backward()
        else:
            loss.backward()
        return [x.grad.numpy()] + [p.grad.numpy() for p in layer.parameters()]

    assert_same(gradients(True), gradients(False))


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # (NumPy's, on both paths)
@pytest.mark.parametrize("mode", ["lstm", "gru"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_travel_as_in_numpy(mode, bad, cell_calls, any_size):
    x = np.random.default_rng(3).standard_normal((BATCH, STEPS, FEATURES))
    x[1, 2, 0] = bad
    x[3, 0, 2] = 1e30  # saturates every gate
    hidden = HIDDEN[mode][0]
    fused = run_layer(mode, hidden, "float32", x=x)
    assert cell_calls["forward"] > 0 and cell_calls["backward"] > 0
    with kernels.disable():
        plain = run_layer(mode, hidden, "float32", x=x)
    for a, b in zip(fused, plain):
        np.testing.assert_array_equal(a, b)  # (NaN where NumPy has NaN)
    assert not all(np.isfinite(a).all() for a in fused)  # (the bad value reached something)


@pytest.mark.parametrize("mode", ["lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_gradients_match_finite_differences(mode, bidirectional, cell_calls, any_size):
    rng = np.random.default_rng(2)
    hidden = HIDDEN[mode][0]
    layer = LAYERS[mode](2, hidden, bidirectional=bidirectional, dtype="float64")
    x = cr.tensor(rng.standard_normal((4, 2, 2)), dtype="float64", requires_grad=True)
    shape = (2 if bidirectional else 1, 2, hidden)
    h0, c0 = (cr.tensor(rng.standard_normal(shape), dtype="float64", requires_grad=True) for _ in range(2))
    params = list(layer.parameters())

    if mode == "lstm":

        def f(x, h0, c0, *_):
            out, (h_n, c_n) = layer(x, (h0, c0))
            return out.sum() + (h_n * h_n).sum() + (c_n * c_n).sum()

        inputs = [x, h0, c0]
    else:

        def f(x, h0, *_):
            out, h_n = layer(x, h0)
            return out.sum() + (h_n * h_n).sum()

        inputs = [x, h0]
    assert cr.gradcheck(f, inputs + params)
    assert cell_calls["backward"] > 0


@pytest.mark.parametrize("mode", ["lstm", "gru"])
def test_a_compiled_training_step_equals_the_eager_steps(mode, cell_calls, any_size):
    """The layer's rule is replayed whole by a plan: 20 compiled Adam steps give the eager run's
    losses and weights bit for bit, the cells compiled in both."""
    hidden = HIDDEN[mode][-1]

    def train(compiled):
        cr.manual_seed(0)
        rng = np.random.default_rng(0)
        net = LAYERS[mode](FEATURES, hidden, batch_first=True, bidirectional=True)
        opt = cr.optim.Adam(net.parameters(), lr=0.01)

        def step(x, t):
            opt.zero_grad()
            out, _ = net(x)
            loss = ((out[:, -1] - t) ** 2).mean()
            loss.backward()
            opt.step()
            return loss

        run = cr.compile(step) if compiled else step
        losses = []
        for _ in range(20):
            x = cr.tensor(rng.standard_normal((BATCH, STEPS, FEATURES)).astype(np.float32))
            t = cr.tensor(rng.standard_normal((BATCH, 2 * hidden)).astype(np.float32))
            losses.append(run(x, t).item())
        if compiled:
            assert run.stats["replayed"] == 18
        return losses, [p.numpy() for p in net.parameters()]

    eager = train(False)
    calls = dict(cell_calls)
    compiled = train(True)
    assert cell_calls["forward"] == 2 * calls["forward"] > 0  # the plan's replays run them too
    assert eager[0] == compiled[0]
    assert_same(compiled[1], eager[1])
