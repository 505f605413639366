"""The GRU layer's compiled time loops (numba, chainrule/ops/_recurrent_kernels.py) against the NumPy
loops they replace: outputs, final states and every gradient agree to rounding (the loops' products
and tanh sum and round in another order), the loops run only where they should, the mixed cases
(a forward with one path, its backward with the other) agree, gradients match finite differences,
and the loops' tanh is as accurate as NumPy's."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import chainrule as cr
from chainrule import kernels
from chainrule.ops import _recurrent_kernels, recurrent

assert kernels.available(), 'numba is part of the test extra: pip install -e ".[test]"'

TOLERANCE = {"float64": 1e-12, "float32": 1e-5}
ABOVE = recurrent.LOOPED_HIDDEN + 1  # a hidden size that keeps the NumPy loops


def run_gru(hidden, dtype, bidirectional=True, bias=True, batch_first=True, num_layers=1, with_h0=True, seed=0):
    """Outputs and gradients of a GRU on a fixed sample: [output, h_n, dx, (dh0,) *dparams]."""
    rng = np.random.default_rng(seed)
    cr.manual_seed(seed)
    gru = cr.nn.GRU(
        3, hidden, num_layers=num_layers, bias=bias, batch_first=batch_first, bidirectional=bidirectional, dtype=dtype
    )
    batch, steps = 4, 6
    x = cr.tensor(rng.standard_normal((batch, steps, 3) if batch_first else (steps, batch, 3)), dtype=dtype)
    x.requires_grad = True
    directions = 2 if bidirectional else 1
    h0 = None
    if with_h0:
        h0 = cr.tensor(rng.standard_normal((directions * num_layers, batch, hidden)), dtype=dtype, requires_grad=True)
    out, h_n = gru(x, h0) if with_h0 else gru(x)
    loss = (out * cr.tensor(rng.standard_normal(out.shape), dtype=dtype)).sum()
    loss = loss + (h_n * cr.tensor(rng.standard_normal(h_n.shape), dtype=dtype)).sum()
    loss.backward()
    results = [out.numpy(), h_n.numpy(), x.grad.numpy()]
    if with_h0:
        results.append(h0.grad.numpy())
    return results + [p.grad.numpy() for p in gru.parameters()]


def relative_difference(a, b):
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


@pytest.fixture
def loop_calls(monkeypatch):
    """Counts the compiled loops' calls: {'forward': n, 'backward': n}."""
    calls = {"forward": 0, "backward": 0}
    forward, backward = _recurrent_kernels.GRU_FORWARD, _recurrent_kernels.GRU_BACKWARD

    def counted(name, kernel):
        def call(*args):
            calls[name] += 1
            return kernel(*args)

        return call

    monkeypatch.setattr("chainrule.ops.recurrent.GRU_FORWARD", counted("forward", forward))  # (where they are called)
    monkeypatch.setattr("chainrule.ops.recurrent.GRU_BACKWARD", counted("backward", backward))
    return calls


CASES = [
    dict(bidirectional=bidirectional, bias=bias, batch_first=batch_first, num_layers=num_layers, with_h0=with_h0)
    for bidirectional, bias, batch_first, num_layers, with_h0 in itertools.product(
        (False, True), (False, True), (False, True), (1, 2), (False, True)
    )
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("hidden", [1, 6])
@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_the_compiled_loops_give_the_numpy_loops_values_and_gradients(hidden, dtype, case, loop_calls):
    looped = run_gru(hidden, dtype, **case)
    layers = case["num_layers"]
    assert loop_calls == {"forward": layers, "backward": layers}, "the compiled loops did not run"
    with kernels.disable():
        plain = run_gru(hidden, dtype, **case)
    assert loop_calls == {"forward": layers, "backward": layers}  # not under kernels.disable()
    assert len(looped) == len(plain)
    for a, b in zip(looped, plain):
        assert a.dtype == b.dtype == np.dtype(dtype) and a.shape == b.shape
        assert relative_difference(a, b) <= TOLERANCE[dtype]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_hidden_size_above_the_threshold_keeps_the_numpy_loops(dtype, loop_calls):
    looped = run_gru(ABOVE, dtype)
    assert loop_calls == {"forward": 0, "backward": 0}
    with kernels.disable():
        plain = run_gru(ABOVE, dtype)
    for a, b in zip(looped, plain):
        np.testing.assert_array_equal(a, b)


def test_other_modes_and_dtypes_keep_the_numpy_loops(loop_calls):
    for mode in (cr.nn.LSTM, cr.nn.RNN):
        layer = mode(2, 3, bidirectional=True, dtype="float64")
        layer(cr.randn(5, 2, 2, dtype="float64"))[0].sum().backward()
    gru = cr.nn.GRU(2, 3, dtype="float16") if hasattr(cr, "float16") else None
    if gru is not None:
        gru(cr.randn(5, 2, 2, dtype="float16"))[0].sum().backward()
    assert loop_calls == {"forward": 0, "backward": 0}


def test_a_recorded_backward_uses_the_numpy_loops_for_its_rule(loop_calls):
    gru = cr.nn.GRU(2, 3, dtype="float64")
    x = cr.randn(4, 2, 2, dtype="float64", requires_grad=True)
    (gx,) = cr.grad(gru(x)[0].sum(), [x], create_graph=True)
    assert loop_calls["forward"] == 1 and loop_calls["backward"] == 0  # the recorded rule runs on Tensors
    gx.sum().backward()
    assert x.grad is not None


@pytest.mark.parametrize("forward_looped", [True, False])
def test_a_forward_and_a_backward_on_different_paths_agree(forward_looped):
    """The compiled and NumPy loops store the same things in the same layout: either backward reads
    either forward's."""
    rng = np.random.default_rng(1)
    gru = cr.nn.GRU(2, 5, bidirectional=True, dtype="float64")
    x = cr.tensor(rng.standard_normal((7, 3, 2)), dtype="float64", requires_grad=True)
    weight = cr.tensor(rng.standard_normal((7, 3, 10)), dtype="float64")

    def gradients(mixed):
        gru.zero_grad()
        x.grad = None
        if mixed and not forward_looped:
            with kernels.disable():
                loss = (gru(x)[0] * weight).sum()
        else:
            loss = (gru(x)[0] * weight).sum()
        if mixed and forward_looped:
            with kernels.disable():
                loss.backward()
        else:
            loss.backward()
        return [x.grad.numpy()] + [p.grad.numpy() for p in gru.parameters()]

    for a, b in zip(gradients(True), gradients(False)):
        assert relative_difference(a, b) <= 1e-12


@pytest.mark.parametrize("bidirectional", [False, True])
def test_gradients_match_finite_differences(bidirectional, loop_calls):
    rng = np.random.default_rng(2)
    gru = cr.nn.GRU(2, 3, bidirectional=bidirectional, dtype="float64")
    x = cr.tensor(rng.standard_normal((4, 2, 2)), dtype="float64", requires_grad=True)
    h0 = cr.tensor(rng.standard_normal((2 if bidirectional else 1, 2, 3)), dtype="float64", requires_grad=True)
    params = list(gru.parameters())

    def f(x, h0, *_):
        out, h_n = gru(x, h0)
        return out.sum() + (h_n * h_n).sum()

    assert cr.gradcheck(f, [x, h0] + params)
    assert loop_calls["backward"] > 0


def test_the_loops_tanh_is_as_accurate_as_numpys():
    """tanh through the forward loop: with zero weights and no bias a GRU step computes
    n = tanh(W_in x), read from the stored candidates; against long-double references."""
    x = np.concatenate(
        [
            np.linspace(-25, 25, 20001),
            np.geomspace(1e-300, 30, 3000),
            -np.geomspace(1e-300, 30, 3000),
            [0.0, -0.0, 0.625, -0.625, np.inf, -np.inf],
        ]
    )
    for dtype in (np.float64, np.float32):
        values = x.astype(dtype)
        pre = np.zeros((1, 1, 3, values.size), dtype=dtype)
        pre[0, 0, 2] = values  # the candidate's row: n = tanh(0 * gh + x)
        hs = np.zeros((2, 1, 1, values.size), dtype=dtype)
        rz, n, ghn = (np.empty((1, 1, rows, values.size), dtype=dtype) for rows in (2, 1, 1))
        w_hh, b_hn = np.zeros((1, 3, 1), dtype=dtype), np.zeros((1, 3), dtype=dtype)
        _recurrent_kernels.GRU_FORWARD(
            pre, w_hh, b_hn, False, dtype(1), _recurrent_kernels.TANH_CONSTANTS[np.dtype(dtype)], hs, rz, n, ghn
        )
        got = n[0, 0, 0]
        want = np.tanh(values.astype(np.longdouble))
        ulp = np.spacing(np.abs(want).astype(dtype)).astype(np.longdouble)
        ours = float(np.max(np.abs(got - want) / ulp))
        numpys = float(np.max(np.abs(np.tanh(values) - want) / ulp))
        # float64: the loop's tanh is within 2.5 ulp (expm1's series and one division), NumPy's
        # libm within about 1; float32: rounded from float64, as close as NumPy's float32 tanh
        assert ours <= 2.5, (dtype, ours, numpys)
        nonzero = values != 0  # (-0.0 reaches tanh as 0.5 * 0 + -0.0 = +0.0)
        assert np.array_equal(np.signbit(got[nonzero]), np.signbit(values[nonzero]))  # odd
    nan_pre = np.full((1, 1, 3, 1), np.nan)
    out = [np.empty((1, 1, rows, 1)) for rows in (2, 1, 1)]
    hs = np.zeros((2, 1, 1, 1))
    _recurrent_kernels.GRU_FORWARD(
        nan_pre,
        np.zeros((1, 3, 1)),
        np.zeros((1, 3)),
        False,
        1.0,
        _recurrent_kernels.TANH_CONSTANTS[np.dtype(np.float64)],
        hs,
        *out,
    )
    assert np.isnan(out[1]).all()
