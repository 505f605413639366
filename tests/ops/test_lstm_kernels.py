"""The LSTM layer's compiled cell loops (numba, chainrule/ops/_recurrent_kernels.py: LSTM_CELL and
LSTM_CELL_BACKWARD) against the NumPy loop they replace. They do the same operations in the same
order and leave the GEMMs and tanh to NumPy, so outputs, final states and every gradient are equal
bit for bit; they run only where they should (a plain NumPy forward or backward, float32/float64,
a step's gates of at least ``kernels.MIN_SIZE`` numbers); either backward reads either forward's
stored values; NaN and inf travel as in NumPy; a compiled step that uses them equals eager steps."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import chainrule as cr
from chainrule import kernels
from chainrule.ops import _recurrent_kernels, recurrent

assert kernels.available(), 'numba is part of the test extra: pip install -e ".[test]"'

BATCH, STEPS, FEATURES = 4, 6, 3


def run_lstm(hidden, dtype, bidirectional=True, bias=True, batch_first=True, num_layers=1, with_state=True, x=None):
    """Outputs and gradients of an LSTM on a fixed sample: [output, h_n, c_n, dx, (dh0, dc0,) *dparams]."""
    rng = np.random.default_rng(0)
    cr.manual_seed(0)
    lstm = cr.nn.LSTM(
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
    out, (h_n, c_n) = lstm(x, tuple(states)) if with_state else lstm(x)
    loss = (out * cr.tensor(rng.standard_normal(out.shape), dtype=dtype)).sum()
    loss = loss + (h_n * cr.tensor(rng.standard_normal(h_n.shape), dtype=dtype)).sum() + (c_n * c_n).sum()
    loss.backward()
    results = [out.numpy(), h_n.numpy(), c_n.numpy(), x.grad.numpy()]
    results += [s.grad.numpy() for s in states]
    return results + [p.grad.numpy() for p in lstm.parameters()]


def assert_same(got, want):
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)


@pytest.fixture
def cell_calls(monkeypatch):
    """Counts the compiled cell loops' calls: {'forward': n, 'backward': n}."""
    calls = {"forward": 0, "backward": 0}

    def counted(name, kernel):
        def call(*args):
            calls[name] += 1
            return kernel(*args)

        return call

    # (replaced where they are called)
    monkeypatch.setattr(recurrent, "LSTM_CELL", counted("forward", _recurrent_kernels.LSTM_CELL))
    monkeypatch.setattr(recurrent, "LSTM_CELL_BACKWARD", counted("backward", _recurrent_kernels.LSTM_CELL_BACKWARD))
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


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("hidden", [1, 5])
@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_the_compiled_cells_give_the_numpy_loops_values_and_gradients_bit_for_bit(
    hidden, dtype, case, cell_calls, any_size
):
    fused = run_lstm(hidden, dtype, **case)
    calls = STEPS * case["num_layers"]
    assert cell_calls == {"forward": calls, "backward": calls}, "the compiled cells did not run"
    with kernels.disable():
        plain = run_lstm(hidden, dtype, **case)
    assert cell_calls == {"forward": calls, "backward": calls}  # not under kernels.disable()
    assert_same(fused, plain)


def test_the_cells_run_from_min_size_numbers_of_gates_on(monkeypatch, cell_calls):
    """A step's gates hold directions * 4 * hidden * batch numbers: the loops from MIN_SIZE on."""
    monkeypatch.setattr(kernels, "MIN_SIZE", 2 * 4 * 5 * BATCH)  # exactly this layer's
    run_lstm(5, "float32")
    assert cell_calls == {"forward": STEPS, "backward": STEPS}
    monkeypatch.setattr(kernels, "MIN_SIZE", 2 * 4 * 5 * BATCH + 1)
    run_lstm(5, "float32")
    assert cell_calls == {"forward": STEPS, "backward": STEPS}  # (no more calls)


def test_other_dtypes_recorded_rules_and_disable_keep_the_numpy_loop(cell_calls, any_size):
    lstm = cr.nn.LSTM(2, 3, dtype="float16")
    lstm(cr.randn(5, 2, 2, dtype="float16"))[0].sum().backward()
    with kernels.disable():
        run_lstm(3, "float64")
    assert cell_calls == {"forward": 0, "backward": 0}
    lstm = cr.nn.LSTM(2, 3, dtype="float64")
    x = cr.randn(4, 2, 2, dtype="float64", requires_grad=True)
    (gx,) = cr.grad(lstm(x)[0].sum(), [x], create_graph=True)
    assert cell_calls == {"forward": 4, "backward": 0}  # the recorded rule runs on Tensors
    gx.sum().backward()
    with kernels.disable():
        x2 = cr.tensor(x.numpy(), requires_grad=True)
        (gx2,) = cr.grad(lstm(x2)[0].sum(), [x2], create_graph=True)
        gx2.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), x2.grad.numpy())


@pytest.mark.parametrize("forward_fused", [True, False])
def test_a_forward_and_a_backward_on_different_paths_agree(forward_fused, any_size):
    """The compiled and NumPy loops store the same things in the same layout: either backward reads
    either forward's."""
    rng = np.random.default_rng(1)
    lstm = cr.nn.LSTM(2, 5, bidirectional=True, dtype="float64")
    x = cr.tensor(rng.standard_normal((7, 3, 2)), dtype="float64", requires_grad=True)
    weight = cr.tensor(rng.standard_normal((7, 3, 10)), dtype="float64")

    def gradients(mixed):
        lstm.zero_grad()
        x.grad = None
        if mixed and not forward_fused:
            with kernels.disable():
                loss = (lstm(x)[0] * weight).sum()
        else:
            loss = (lstm(x)[0] * weight).sum()
        if mixed and forward_fused:
            with kernels.disable():
                loss.backward()
        else:
            loss.backward()
        return [x.grad.numpy()] + [p.grad.numpy() for p in lstm.parameters()]

    assert_same(gradients(True), gradients(False))


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # (NumPy's, on both paths)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_travel_as_in_numpy(bad, cell_calls, any_size):
    x = np.random.default_rng(3).standard_normal((BATCH, STEPS, FEATURES))
    x[1, 2, 0] = bad
    x[3, 0, 2] = 1e30  # saturates every gate
    fused = run_lstm(4, "float32", x=x)
    assert cell_calls["forward"] > 0 and cell_calls["backward"] > 0
    with kernels.disable():
        plain = run_lstm(4, "float32", x=x)
    for a, b in zip(fused, plain):
        np.testing.assert_array_equal(a, b)  # (NaN where NumPy has NaN)
    assert not all(np.isfinite(a).all() for a in fused)  # (the bad value reached something)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_gradients_match_finite_differences(bidirectional, cell_calls, any_size):
    rng = np.random.default_rng(2)
    lstm = cr.nn.LSTM(2, 3, bidirectional=bidirectional, dtype="float64")
    x = cr.tensor(rng.standard_normal((4, 2, 2)), dtype="float64", requires_grad=True)
    shape = (2 if bidirectional else 1, 2, 3)
    h0, c0 = (cr.tensor(rng.standard_normal(shape), dtype="float64", requires_grad=True) for _ in range(2))
    params = list(lstm.parameters())

    def f(x, h0, c0, *_):
        out, (h_n, c_n) = lstm(x, (h0, c0))
        return out.sum() + (h_n * h_n).sum() + (c_n * c_n).sum()

    assert cr.gradcheck(f, [x, h0, c0] + params)
    assert cell_calls["backward"] > 0


def test_a_compiled_training_step_equals_the_eager_steps(cell_calls, any_size):
    """The layer's rule is replayed whole by a plan: 20 compiled Adam steps give the eager run's
    losses and weights bit for bit, the cells compiled in both."""

    def train(compiled):
        cr.manual_seed(0)
        rng = np.random.default_rng(0)
        net = cr.nn.LSTM(FEATURES, 8, batch_first=True, bidirectional=True)
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
            t = cr.tensor(rng.standard_normal((BATCH, 16)).astype(np.float32))
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
