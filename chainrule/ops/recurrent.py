"""Recurrent networks: the RNN, LSTM and GRU cells, and one whole recurrent layer over a sequence.

Layout and gate order are PyTorch's, so weights copy across unchanged. For a layer with hidden
size H and G gate blocks (RNN 1, LSTM 4, GRU 3), ``w_ih`` is (G*H, input_size), ``w_hh`` is
(G*H, H) and the biases ``b_ih``, ``b_hh`` are (G*H,), the blocks stacked in this order::

    RNN   h' = tanh(W_ih x + b_ih + W_hh h + b_hh)            (or relu)
    LSTM  i, f, g, o = sigma(.), sigma(.), tanh(.), sigma(.)  of W_i* x + b_i* + W_h* h + b_h*
          c' = f * c + i * g,   h' = o * tanh(c')
    GRU   r, z = sigma(W_ir x + b_ir + W_hr h + b_hr), sigma(W_iz x + b_iz + W_hz h + b_hz)
          n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),   h' = (1 - z) * n + z * h

How a layer runs. The input projection ``W_ih x + b_ih`` of every time step is one GEMM before the
loop; only ``W_hh h`` depends on the previous step, so the loop over time holds one small GEMM and
a few elementwise operations per step. A bidirectional layer runs its reverse direction over the
time steps in reverse order and puts the two outputs side by side (forward first).

Two implementations with the same values and gradients:

- composed (``fused=False``): the steps written with chainrule ops (linear, sigmoid, tanh,
  slicing, stack). Every step is a handful of graph nodes, so it is automatically differentiable to
  any order, and slow: about fifteen nodes per step and direction.
- fused (``fused=True``, the default): ``RecurrentLayer``, one graph node for the whole layer. Its
  forward runs the time loop in NumPy, both directions at once (one batched GEMM
  (directions, G*H, H) @ (directions, H, batch) per step), keeping the gate activations. Its
  gradient rule is backpropagation through time, written once against an interpreter (see
  ``chainrule.interpreters``): on NumPy arrays for a plain backward, on Tensors (recorded) for
  ``create_graph=True``, where it recomputes the gate activations with the same forward code so
  that higher-order gradients stay exact.

Measured (float32, bidirectional GRU, hidden 6, 40 steps, batch 100, input 1, then Linear(480, 10)
and cross-entropy; forward + backward per step, 5 alternating processes per variant on a busy
2-core machine, one BLAS/torch thread): fused 10 ms median (8.4 best), composed 52 ms (39 best),
PyTorch 2.13 eager 23 ms (16 best). So the fused layer is the default; the composed one stays as
the reference its tests compare against.

Example:
    >>> import chainrule as cr
    >>> x = cr.randn(5, 2, 3)                                # (time, batch, features)
    >>> h0 = cr.zeros(1, 2, 4)                               # (directions, batch, hidden)
    >>> w_ih, w_hh = cr.randn(12, 3), cr.randn(12, 4)        # GRU: 3 gate blocks of 4
    >>> out, h_n, c_n = cr.recurrent_layer("gru", x, h0, [(w_ih, w_hh, None, None)])
    >>> out.shape, h_n.shape, c_n is None
    ((5, 2, 4), (1, 2, 4), True)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule import kernels
from chainrule.autograd import Function
from chainrule.interpreters import NUMPY, NumpySteps
from chainrule.ops._recurrent_kernels import (
    GRU_BACKWARD,
    GRU_CANDIDATE,
    GRU_CELL_BACKWARD,
    GRU_FORWARD,
    GRU_GATES,
    GRU_STATE,
    LSTM_CELL,
    LSTM_CELL_BACKWARD,
    TANH_CONSTANTS,
)
from chainrule.ops.elementwise import lift, relu, sigmoid, tanh
from chainrule.ops.linalg import linear
from chainrule.ops.shape import concatenate, index, reshape, stack, swapaxes, transpose
from chainrule.tensor import Tensor

GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}
"""The recurrent modes and how many gate blocks of ``hidden_size`` rows each one's weights hold."""

DirectionWeights = Sequence[Tensor | None]  # (w_ih, w_hh, b_ih, b_hh), biases None without bias

LOOPED_HIDDEN = 16
"""The largest hidden size whose GRU time loops run compiled (numba, ``chainrule.kernels``): the
loops' hand-written products and tanh beat NumPy's per-step calls up to about there (measured:
see ``_compiled_loops``)."""


# ------------------------------------------------------------------ one step, composed


def _rnn_step(gi: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None, nonlinearity: str) -> Tensor:
    pre = gi + linear(h, w_hh, b_hh)
    return tanh(pre) if nonlinearity == "tanh" else relu(pre)


def _lstm_step(gi: Tensor, h: Tensor, c: Tensor, w_hh: Tensor, b_hh: Tensor | None) -> tuple[Tensor, Tensor]:
    n = h.shape[-1]
    gates = gi + linear(h, w_hh, b_hh)
    i = sigmoid(gates[..., :n])
    f = sigmoid(gates[..., n : 2 * n])
    g = tanh(gates[..., 2 * n : 3 * n])
    o = sigmoid(gates[..., 3 * n :])
    c = f * c + i * g
    return o * tanh(c), c


def _gru_step(gi: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None) -> Tensor:
    n_ = h.shape[-1]
    gh = linear(h, w_hh, b_hh)
    r = sigmoid(gi[..., :n_] + gh[..., :n_])
    z = sigmoid(gi[..., n_ : 2 * n_] + gh[..., n_ : 2 * n_])
    n = tanh(gi[..., 2 * n_ :] + r * gh[..., 2 * n_ :])
    return n + z * (h - n)  # = (1 - z) * n + z * h, one node fewer


def _check_cell(op: str, x: Tensor, h: Tensor, w_ih: Tensor, w_hh: Tensor, gates: int) -> None:
    hidden = w_hh.shape[-1]
    if w_ih.ndim != 2 or w_hh.shape != (gates * hidden, hidden) or w_ih.shape[0] != gates * hidden:
        raise ValueError(
            f"{op}: weights of shapes {w_ih.shape} and {w_hh.shape} are not ({gates} * hidden, "
            f"input_size) and ({gates} * hidden, hidden)"
        )
    if x.ndim == 0 or x.shape[-1] != w_ih.shape[1]:
        raise ValueError(
            f"{op}: input of shape {x.shape} does not match w_ih of shape {w_ih.shape} "
            f"(the last dimension must be {w_ih.shape[1]})"
        )
    if h.shape != x.shape[:-1] + (hidden,):
        raise ValueError(
            f"{op}: hidden state of shape {h.shape} does not match input of shape {x.shape}: "
            f"expected {x.shape[:-1] + (hidden,)}"
        )


def rnn_cell(
    x: Any,
    h: Any,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None = None,
    b_hh: Tensor | None = None,
    nonlinearity: str = "tanh",
) -> Tensor:
    """One Elman RNN step: ``tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)`` (or ``relu``).

    ``x`` is (batch, input_size) or (input_size,), ``h`` (batch, H) or (H,); weights as PyTorch's.

    Example:
        >>> import chainrule as cr
        >>> cr.rnn_cell(cr.ones(2, 3), cr.zeros(2, 4), cr.ones(4, 3), cr.ones(4, 4)).shape
        (2, 4)
    """
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"rnn_cell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    x, h = lift(x), lift(h)
    _check_cell("rnn_cell", x, h, w_ih, w_hh, 1)
    return _rnn_step(linear(x, w_ih, b_ih), h, w_hh, b_hh, nonlinearity)


def lstm_cell(
    x: Any, hx: tuple[Any, Any], w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None, b_hh: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """One LSTM step: ``(h, c) -> (h', c')`` with PyTorch's gate order i, f, g, o.

    Example:
        >>> import chainrule as cr
        >>> h, c = cr.lstm_cell(cr.ones(2, 3), (cr.zeros(2, 4), cr.zeros(2, 4)), cr.ones(16, 3), cr.ones(16, 4))
        >>> h.shape, c.shape
        ((2, 4), (2, 4))
    """
    h, c = lift(hx[0]), lift(hx[1])
    x = lift(x)
    _check_cell("lstm_cell", x, h, w_ih, w_hh, 4)
    if c.shape != h.shape:
        raise ValueError(f"lstm_cell: cell state of shape {c.shape} differs from hidden state of shape {h.shape}")
    return _lstm_step(linear(x, w_ih, b_ih), h, c, w_hh, b_hh)


def gru_cell(
    x: Any, h: Any, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None, b_hh: Tensor | None = None
) -> Tensor:
    """One GRU step with PyTorch's gate order r, z, n and ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``.

    Example:
        >>> import chainrule as cr
        >>> cr.gru_cell(cr.ones(2, 3), cr.zeros(2, 4), cr.ones(12, 3), cr.ones(12, 4)).shape
        (2, 4)
    """
    x, h = lift(x), lift(h)
    _check_cell("gru_cell", x, h, w_ih, w_hh, 3)
    return _gru_step(linear(x, w_ih, b_ih), h, w_hh, b_hh)


# ------------------------------------------------------------------ a layer, composed


def _composed_layer(
    mode: str, x: Tensor, h0: Tensor, c0: Tensor | None, weights: Sequence[DirectionWeights], batch_first: bool
) -> tuple[Tensor, Tensor, Tensor | None]:
    """The layer from chainrule ops: differentiable to any order (see the module docstring)."""
    time_axis = 1 if batch_first else 0
    steps = x.shape[time_axis]
    outputs, h_last, c_last = [], [], []
    for d, (w_ih, w_hh, b_ih, b_hh) in enumerate(weights):
        gi = linear(x, w_ih, b_ih)  # the input projection of every time step: one GEMM
        if batch_first:
            gi = swapaxes(gi, 0, 1)  # (time, batch, G*H): gi[t] is one step
        h = h0[d]
        c = c0[d] if c0 is not None else None
        hs: list[Tensor] = [None] * steps  # type: ignore[list-item]
        for t in range(steps) if d == 0 else range(steps - 1, -1, -1):
            if mode == "lstm":
                h, c = _lstm_step(gi[t], h, c, w_hh, b_hh)
            elif mode == "gru":
                h = _gru_step(gi[t], h, w_hh, b_hh)
            else:
                h = _rnn_step(gi[t], h, w_hh, b_hh, "tanh" if mode == "rnn_tanh" else "relu")
            hs[t] = h
        outputs.append(stack(hs, axis=time_axis))
        h_last.append(h)
        c_last.append(c)
    output = outputs[0] if len(outputs) == 1 else concatenate(outputs, axis=-1)
    return output, stack(h_last), (stack(c_last) if mode == "lstm" else None)


# ------------------------------------------------------------------ a layer, fused


def _sigmoid_scale(mode: str, hidden: int, dtype: np.dtype) -> np.ndarray | None:
    """Per-row factors (G*H, 1) that let one ``tanh`` compute every gate: sigma(a) = (1 + tanh(a/2)) / 2.

    The sigmoid gates' pre-activations are halved (exactly: a power of two) by scaling their rows
    of the input projection and of ``W_hh``; after one tanh over all gates, ``act * scale + shift``
    (shift = 1 - scale) turns the sigmoid gates' tanh(a/2) into sigma(a) and leaves the tanh gates
    alone. The derivative of a gate with respect to its (unscaled) pre-activation a is then, for
    both kinds, ``scale^2 - (gate - shift)^2``: sigma (1 - sigma) for scale 1/2, 1 - tanh^2 for 1.
    """
    if mode == "lstm":  # i, f sigmoid; g tanh; o sigmoid
        blocks = [0.5, 0.5, 1.0, 0.5]
    elif mode == "gru":  # r, z sigmoid; n tanh (computed separately: it needs r first)
        blocks = [0.5, 0.5, 1.0]
    else:
        return None
    return np.repeat(np.asarray(blocks, dtype=dtype), hidden)[:, None]


class _Layout:
    """The sizes of one call of a recurrent layer and how its inputs are split."""

    def __init__(self, mode: str, bias: bool, batch_first: bool, x: Any, h0: Any, rest: tuple):
        self.mode, self.bias, self.batch_first = mode, bias, batch_first
        self.lstm = mode == "lstm"
        self.c0 = rest[0] if self.lstm else None
        params = rest[1:] if self.lstm else rest
        per = 4 if bias else 2
        self.directions = len(params) // per
        self.w_ih = [params[d * per] for d in range(self.directions)]
        self.w_hh = [params[d * per + 1] for d in range(self.directions)]
        self.b_ih = [params[d * per + 2] for d in range(self.directions)] if bias else None
        self.b_hh = [params[d * per + 3] for d in range(self.directions)] if bias else None
        self.hidden = h0.shape[-1]
        self.features = x.shape[-1]
        self.batch, self.steps = (x.shape[0], x.shape[1]) if batch_first else (x.shape[1], x.shape[0])
        self.dtype = np.result_type(*(v.dtype for v in (x, h0, *rest)))


def _fused_cells(ns, layout: _Layout) -> bool:
    """Whether an LSTM's or a GRU's steps do their elementwise work in compiled loops
    (``_recurrent_kernels``: ``LSTM_CELL``, ``LSTM_CELL_BACKWARD``, ``GRU_GATES``, ...): in a
    plain forward or backward (NumPy), float32 or float64, with numba available and enabled, and a
    step's gates of at least ``kernels.MIN_SIZE`` numbers; a GRU small enough for its whole loops
    (``_compiled_loops``) runs those instead. The GEMMs and NumPy's tanh stay as they are, so the
    results are the NumPy loop's bit for bit (but for a NaN's sign, see ``_recurrent_kernels``).

    Measured (float32, bidirectional, hidden 64, batch 100, 40 steps; one thread): per step, the
    LSTM's gates and cell state 47 -> 8 us and its backward's elementwise work 90 -> 15 us; the
    GRU's work between the GEMMs 48 -> 34 us (two NumPy tanh among it), its backward's 45 -> 10 us.
    """
    return (
        ns is NUMPY
        and layout.mode in ("lstm", "gru")
        and layout.directions * GATES[layout.mode] * layout.hidden * layout.batch >= kernels.MIN_SIZE
        and layout.dtype in kernels.DTYPES
        and kernels.enabled()
        and not _compiled_loops(ns, layout)
    )


def _compiled_loops(ns, layout: _Layout) -> bool:
    """Whether the layer's time loops run as compiled loops (``_recurrent_kernels``): a GRU in a
    plain forward or backward (NumPy; a recorded or traced rule keeps the generic loops), float32
    or float64, hidden size at most ``LOOPED_HIDDEN``, with numba available and enabled.

    Measured (float32, bidirectional GRU, batch 100, 40 steps, input 1; forward + backward, one
    thread, NumPy loops -> compiled): hidden 6 3.5 -> 1.8 ms, 16 5.8 -> 4.7 ms, 24 7.8 -> 7.8 ms,
    32 9.8 -> 11.2 ms: from 24 on the loops' products (no register blocking) and tanh cost what the
    per-step calls save.
    """
    return (
        ns is NUMPY
        and layout.mode == "gru"
        and layout.hidden <= LOOPED_HIDDEN
        and layout.dtype in kernels.DTYPES
        and kernels.enabled()
    )


def _layer_forward(ns, layout: _Layout, x: Any, h0: Any) -> tuple[Any, dict[str, Any]]:
    """The layer's forward with interpreter ``ns``: the packed output and what the rule needs.

    Everything is laid out (step, direction, features, batch): a step's state is (D, H, B) and its
    gates (D, G*H, B), so every gate block is one contiguous run of H*B numbers per direction and
    the elementwise work runs over long rows (gate blocks along the last axis, as in PyTorch's
    layout, make rows of only H numbers: measured several times slower per call for H = 6).
    ``W_hh`` multiplies from the left: (D, G*H, H) @ (D, H, B), every direction in one batched
    GEMM. The reverse direction's step s is time T-1-s.
    """
    L = layout
    mode, hidden, steps, dtype = L.mode, L.hidden, L.steps, L.dtype

    def as_dtype(v):
        return v if v.dtype == dtype else ns.cast(v, dtype)

    scale = _sigmoid_scale(mode, hidden, dtype)
    w_hh = as_dtype(ns.stack(L.w_hh))  # (D, G*H, H)
    # the input projection of every step and direction, in step order: x (small) goes time-major
    # first, so one batched GEMM (D, G*H, K) @ (T, D, K, B) writes pre (T, D, G*H, B) contiguously
    # (projecting in the input's order and reordering the big result afterwards cost more than
    # the rest of the forward with batch_first); the bias rides along as an input row of ones
    xt = as_dtype(ns.transpose(x, (1, 2, 0) if L.batch_first else (0, 2, 1)))  # (T, I, B)
    xs = [xt] if L.directions == 1 else [xt, ns.index(xt, slice(None, None, -1))]
    xs = ns.stack(xs, axis=1)  # (T, D, I, B)
    w_in = as_dtype(ns.stack(L.w_ih))  # (D, G*H, I), then [W_ih | b] (D, G*H, K)
    folded = None  # a recurrent bias added inside the loop (GRU only: b_hn sits inside r * (.))
    if L.bias:
        xs = ns.concat([xs, ns.const(np.ones((steps, L.directions, 1, L.batch), dtype=dtype))], axis=2)
        b_in = as_dtype(ns.stack(L.b_ih))
        b_hh = as_dtype(ns.stack(L.b_hh))
        if mode == "gru":
            folded = ns.reshape(b_hh, b_hh.shape + (1,))
        else:  # RNN and LSTM add b_ih + b_hh to the same pre-activation: fold it in here
            b_in = b_in + b_hh
        w_in = ns.concat([w_in, ns.reshape(b_in, b_in.shape + (1,))], axis=2)
    if scale is not None:  # exact (powers of two): as scaling the pre-activations themselves
        w_in = w_in * scale
        w_hh = w_hh * scale
        if folded is not None:
            folded = folded * scale
    # an outer product when K = 1: OpenBLAS's GEMM with inner dimension 1 is ~15x slower
    pre = w_in * xs if xs.shape[2] == 1 else w_in @ xs  # pre[s, d]: what direction d adds at step s

    # the states in C order: NumPy's elementwise results follow their operands' layout, and a
    # transposed start would make every later step's state strided (measured 2x slower)
    h = ns.contiguous(ns.transpose(as_dtype(h0), (0, 2, 1)))  # (D, H, B)
    hs = ns.steps(steps + 1)  # hs[s]: the state before step s
    hs[0] = h
    saved: dict[str, Any] = {"xs": xs, "hs": hs}
    if mode == "lstm" and _fused_cells(ns, L):  # the loop below, its elementwise work compiled
        shape = (L.directions, hidden, L.batch)
        h_all, c_all = np.empty((steps + 1, *shape), dtype=dtype), np.empty((steps + 1, *shape), dtype=dtype)
        tc_all = np.empty((steps, *shape), dtype=dtype)
        h_all[0] = h
        c_all[0] = np.transpose(as_dtype(L.c0), (0, 2, 1))
        gh = np.empty(pre.shape[1:], dtype=dtype)  # W_hh h of one step
        one = dtype.type(1)
        for s in range(steps):
            a = pre[s]  # (the gates overwrite the input projection, as below)
            a += np.matmul(w_hh, h_all[s], out=gh)
            np.tanh(a, out=a)
            LSTM_CELL(a, c_all[s], one, c_all[s + 1])
            np.tanh(c_all[s + 1], out=tc_all[s])
            np.multiply(a[:, 3 * hidden :], tc_all[s], out=h_all[s + 1])
        hs, h, c = NumpySteps(steps + 1, rows=h_all), h_all[steps], c_all[steps]
        acts, cs, tanh_c = (
            NumpySteps(steps, rows=pre),
            NumpySteps(steps + 1, rows=c_all),
            NumpySteps(steps, rows=tc_all),
        )
        saved.update(hs=hs, acts=acts, cs=cs, tanh_c=tanh_c)
    elif mode == "lstm":
        shift = 1.0 - scale
        c = ns.contiguous(ns.transpose(as_dtype(L.c0), (0, 2, 1)))
        # the gate activations overwrite the input projection, step by step (one big array fewer)
        acts, cs, tanh_c = ns.steps(steps, rows=pre), ns.steps(steps + 1), ns.steps(steps)
        cs[0] = c
        for s in range(steps):
            a = ns.itanh(ns.iadd(acts[s], w_hh @ h))  # every gate at once, then sigma for i, f, o
            a = ns.iadd(ns.imul(a, scale), shift)
            i, f, g, o = (a[:, k * hidden : (k + 1) * hidden] for k in range(4))
            c = ns.iadd(f * c, i * g)  # c' = f * c + i * g
            tc = ns.tanh(c)
            h = o * tc  # h' = o * tanh(c')
            acts[s], cs[s + 1], tanh_c[s], hs[s + 1] = a, c, tc, h
        saved.update(acts=acts, cs=cs, tanh_c=tanh_c)
    elif mode == "gru" and _compiled_loops(ns, L):  # the loop below as one compiled call
        shape = (steps, L.directions, hidden, L.batch)
        states = np.empty((steps + 1,) + shape[1:], dtype=dtype)
        states[0] = h
        rz_all = np.empty((steps, L.directions, 2 * hidden, L.batch), dtype=dtype)
        n_all, ghn_all = np.empty(shape, dtype=dtype), np.empty(shape, dtype=dtype)
        b_hn = np.zeros((L.directions, 3 * hidden), dtype=dtype) if folded is None else folded[..., 0]
        GRU_FORWARD(
            np.ascontiguousarray(pre),
            np.ascontiguousarray(w_hh),
            np.ascontiguousarray(b_hn),
            folded is not None,
            dtype.type(1),
            TANH_CONSTANTS[dtype],
            states,
            rz_all,
            n_all,
            ghn_all,
        )
        hs = NumpySteps(steps + 1, rows=states)
        h = hs[steps]
        saved.update(
            hs=hs,
            rz=NumpySteps(steps, rows=rz_all),
            n=NumpySteps(steps, rows=n_all),
            ghn=NumpySteps(steps, rows=ghn_all),
        )
    elif mode == "gru" and _fused_cells(ns, L):  # the loop below, its elementwise work compiled
        shape = (L.directions, hidden, L.batch)
        h_all, n_all, ghn_all = (np.empty((count, *shape), dtype=dtype) for count in (steps + 1, steps, steps))
        rz_all = np.empty((steps, L.directions, 2 * hidden, L.batch), dtype=dtype)
        h_all[0] = h
        gh = np.empty(pre.shape[1:], dtype=dtype)  # W_hh h (+ b_hh) of one step
        b_hn = gh[:, :, 0] if folded is None else np.ascontiguousarray(folded[..., 0])  # (unread without bias)
        one = dtype.type(1)
        for s in range(steps):
            p = pre[s]
            np.matmul(w_hh, h_all[s], out=gh)
            GRU_GATES(gh, b_hn, folded is not None, p, rz_all[s])
            np.tanh(rz_all[s], out=rz_all[s])  # of half of the pre-activation
            GRU_CANDIDATE(rz_all[s], gh, p, one, ghn_all[s], n_all[s])
            np.tanh(n_all[s], out=n_all[s])
            GRU_STATE(rz_all[s], n_all[s], h_all[s], h_all[s + 1])
        hs, h = NumpySteps(steps + 1, rows=h_all), h_all[steps]
        rzs, ns_, ghns = (NumpySteps(steps, rows=rows) for rows in (rz_all, n_all, ghn_all))
        saved.update(hs=hs, rz=rzs, n=ns_, ghn=ghns)
    elif mode == "gru":
        rzs, ns_, ghns = ns.steps(steps), ns.steps(steps), ns.steps(steps)
        for s in range(steps):
            gh = w_hh @ h
            if folded is not None:
                gh = ns.iadd(gh, folded)
            p = pre[s]
            rz = ns.tanh(p[:, : 2 * hidden] + gh[:, : 2 * hidden])  # of half of the pre-activation
            rz = ns.iadd(ns.imul(rz, 0.5), 0.5)  # sigma(a) = (1 + tanh(a/2)) / 2
            r, z = rz[:, :hidden], rz[:, hidden:]
            ghn = gh[:, 2 * hidden :]
            n = ns.tanh(ns.iadd(r * ghn, p[:, 2 * hidden :]))  # n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
            h = ns.iadd(z * (h - n), n)  # h' = n + z * (h - n)
            rzs[s], ns_[s], ghns[s], hs[s + 1] = rz, n, ghn, h
        saved.update(rz=rzs, n=ns_, ghn=ghns)
    else:
        act = ns.tanh if mode == "rnn_tanh" else ns.relu
        for s in range(steps):
            h = act(ns.iadd(w_hh @ h, pre[s]))
            hs[s + 1] = h

    # the packed output, in the output's own axis order (C order: the next layer reads features
    # fastest): steps 0..T-1 the layer's output (T, B, D*H), step T h_n, step T+1 c_n; batch first
    # with batch_first
    time_axis = 1 if L.batch_first else 0
    to_output = (2, 0, 1) if L.batch_first else (0, 2, 1)  # (T, H, B) -> (B, T, H) or (T, B, H)

    def state_row(v):  # (D, H, B) -> one step of the output, the directions side by side
        rows = ns.transpose(v, (2, 0, 1))  # (B, D, H)
        return ns.reshape(rows, (L.batch, 1, -1) if L.batch_first else (1, L.batch, L.directions * hidden))

    by_step = hs.stack()[1:]  # (T, D, H, B)
    out = [ns.transpose(by_step[:, 0], to_output)]
    if L.directions == 2:  # back into time order
        out.append(ns.transpose(ns.index(by_step[:, 1], slice(None, None, -1)), to_output))
    pieces = [out[0] if L.directions == 1 else ns.concat(out, axis=2), state_row(h)]
    if mode == "lstm":
        pieces.append(state_row(c))
    return ns.concat(pieces, axis=time_axis), saved


def _transposed_stack(ns, weights: Sequence[Any], dtype: np.dtype) -> Any:
    """The directions' ``W_hh^T`` (D, H, G*H), in C order and the layer's dtype."""
    stacked = ns.stack([w.T for w in weights])
    return stacked if stacked.dtype == dtype else ns.cast(stacked, dtype)


def _layer_backward(ns, layout: _Layout, grad: Any, saved: dict[str, Any], needs: Sequence[bool]) -> tuple:
    """Backpropagation through time with interpreter ``ns``: one gradient (or None) per input."""
    L = layout
    mode, hidden, steps, directions, dtype = L.mode, L.hidden, L.steps, L.directions, L.dtype
    hs = saved["hs"]
    gt = ns.swapaxes(grad, 0, 1) if L.batch_first else grad  # (T + extra, B, D*H)
    if gt.dtype != dtype:
        gt = ns.cast(gt, dtype)

    def state_grad(row):  # the gradient of h_n (or c_n), (B, D*H), as (D, H, B) in C order
        return ns.contiguous(ns.transpose(ns.reshape(row, (L.batch, directions, hidden)), (1, 2, 0)))

    # the gradient reaching each step's output from above, in each direction's step order
    dys = [ns.transpose(gt[:steps, :, :hidden], (0, 2, 1))]
    if directions == 2:
        dys.append(ns.transpose(gt[steps - 1 :: -1, :, hidden:], (0, 2, 1)))
    dys = ns.stack(dys, axis=1)  # (T, D, H, B)
    dh = state_grad(gt[steps])
    dpres = ns.steps(steps)  # d loss / d pre-activation, per step
    dghs = dpres  # d loss / d (W_hh h + b_hh): the same except for the GRU's n block
    dw_hh = None  # d loss / d W_hh, summed over the steps inside the loop (each step's factors in cache)
    dc = None
    if mode == "lstm":
        dc = state_grad(gt[steps + 1])
    elif mode == "gru":
        dghs = ns.steps(steps)
    if _fused_cells(ns, L):  # the loop below, its elementwise work compiled
        w_hh_t = _transposed_stack(ns, L.w_hh, dtype)
        dpre_all = np.empty((steps, directions, GATES[mode] * hidden, L.batch), dtype=dtype)
        dgh_all = dpre_all if L.lstm else np.empty_like(dpre_all)  # (the LSTM's are the same)
        dh = np.array(dh, dtype=dtype, order="C")  # (updated in place: its own copy)
        dc = np.array(dc, dtype=dtype, order="C") if L.lstm else None
        dw_hh, step_w = np.empty((directions, GATES[mode] * hidden, hidden), dtype=dtype), None
        through = np.empty_like(dh)  # W_hh^T dgh of one step (GRU)
        one = dtype.type(1)
        for s in range(steps - 1, -1, -1):
            if L.lstm:  # dh becomes dh + dy, dc the gradient of the state before the step
                LSTM_CELL_BACKWARD(
                    dh, dc, dys[s], saved["acts"][s], saved["tanh_c"][s], saved["cs"][s], one, dpre_all[s]
                )
            else:  # dh becomes its direct path dh z
                GRU_CELL_BACKWARD(
                    dh, dys[s], saved["rz"][s], saved["n"][s], saved["ghn"][s], hs[s], one, dpre_all[s], dgh_all[s]
                )
            h_prev_t = np.swapaxes(hs[s], 1, 2)
            if step_w is None:
                np.matmul(dgh_all[s], h_prev_t, out=dw_hh)
                step_w = np.empty_like(dw_hh)
            else:
                dw_hh += np.matmul(dgh_all[s], h_prev_t, out=step_w)
            if L.lstm:
                np.matmul(w_hh_t, dgh_all[s], out=dh)
            else:
                dh += np.matmul(w_hh_t, dgh_all[s], out=through)
        dpres = NumpySteps(steps, rows=dpre_all)
        dghs = dpres if L.lstm else NumpySteps(steps, rows=dgh_all)
    elif _compiled_loops(ns, L):  # the GRU's loop below as one compiled call
        w_hh = ns.stack(L.w_hh)
        dpre_all = np.empty((steps, directions, 3 * hidden, L.batch), dtype=dtype)
        dgh_all = np.empty_like(dpre_all)
        dw_hh = np.empty((directions, 3 * hidden, hidden), dtype=dtype)
        dh_first = np.empty((directions, hidden, L.batch), dtype=dtype)  # (dh may view the gradient)
        GRU_BACKWARD(
            np.ascontiguousarray(dys, dtype=dtype),
            np.ascontiguousarray(dh, dtype=dtype),
            np.ascontiguousarray(w_hh, dtype=dtype),
            hs.stack(),
            saved["rz"].stack(),
            saved["n"].stack(),
            saved["ghn"].stack(),
            dtype.type(1),
            dpre_all,
            dgh_all,
            dw_hh,
            dh_first,
        )
        dpres, dghs, dh = NumpySteps(steps, rows=dpre_all), NumpySteps(steps, rows=dgh_all), dh_first
    else:
        w_hh_t = _transposed_stack(ns, L.w_hh, dtype)
        if mode == "lstm":
            # a gate's derivative with respect to its pre-activation, from the gate's value v:
            # (1 - v) (v + 2 scale - 1): sigma (1 - sigma) for the sigmoid gates, 1 - tanh^2 for g
            offset = 2.0 * _sigmoid_scale(mode, hidden, dtype) - 1.0
        for s in range(steps - 1, -1, -1):
            # in place from the second step on: dh is then the rule's own (the first is the gradient's)
            dh = dh + dys[s] if s == steps - 1 else ns.iadd(dh, dys[s])
            h_prev = hs[s]
            if mode == "lstm":
                a, tc = saved["acts"][s], saved["tanh_c"][s]
                i, f, g, o = (a[:, k * hidden : (k + 1) * hidden] for k in range(4))
                dc = dc + dh * o * (1.0 - tc * tc)  # h = o * tanh(c); a new array, as dh
                # d loss / d gate value (c = f c_prev + i g), stored as this step's row, then through
                # the gates' sigma and tanh in place
                dv = dpres.concat(s, [dc * g, dc * saved["cs"][s], dc * i, dh * tc], axis=1)
                dc = ns.imul(dc, f)
                dpres[s] = dgh = ns.imul(ns.imul(dv, 1.0 - a), a + offset)
                dh_direct = None
            elif mode == "gru":
                rz, n, ghn = saved["rz"][s], saved["n"][s], saved["ghn"][s]
                r, z = rz[:, :hidden], rz[:, hidden:]
                dz = dh * (h_prev - n)  # h' = n + z * (h - n)
                dn = dh * (1.0 - z) * (1.0 - n * n)  # d n, then through its tanh
                drz = ns.concat([dn * ghn, dz], axis=1) * (rz * (1.0 - rz))  # n = tanh(. + r * gh_n)
                dpres.concat(s, [drz, dn], axis=1)
                dgh = dghs.concat(s, [drz, dn * r], axis=1)
                dh_direct = dh * z  # the direct path h -> h'
            else:
                h = hs[s + 1]
                dpres[s] = dgh = dh * (1.0 - h * h) if mode == "rnn_tanh" else dh * (h > 0)
                dh_direct = None
            step_w = dgh @ ns.swapaxes(h_prev, 1, 2)
            dw_hh = step_w if dw_hh is None else ns.iadd(dw_hh, step_w)
            dh = w_hh_t @ dgh if dh_direct is None else ns.iadd(dh_direct, w_hh_t @ dgh)

    # the input weights' gradients (and the input biases', from the ones row of xs) and the
    # input's: batched GEMMs in step order, as in the forward
    dpre = dpres.stack()  # (T, D, G*H, B)
    dw_in = ns.sum(dpre @ ns.swapaxes(saved["xs"], 2, 3), (0,))  # (D, G*H, K)
    grads: list[Any] = []
    if needs[0]:
        w_ih_t = ns.stack([w.T for w in L.w_ih])  # (D, I, G*H)
        dxs = w_ih_t @ dpre  # (T, D, I, B)
        dx = dxs[:, 0] if directions == 1 else dxs[:, 0] + ns.index(dxs[:, 1], slice(None, None, -1))
        grads.append(ns.transpose(dx, (2, 0, 1) if L.batch_first else (0, 2, 1)))  # time order
    else:
        grads.append(None)
    grads.append(ns.transpose(dh, (0, 2, 1)) if needs[1] else None)
    if L.lstm:
        grads.append(ns.transpose(dc, (0, 2, 1)) if needs[2] else None)
    features = L.features
    for d in range(directions):
        grads.append(dw_in[d, :, :features])
        grads.append(dw_hh[d])
        if L.bias:
            db_ih = dw_in[d, :, features]
            grads.append(db_ih)
            # RNN and LSTM: b_hh enters the same sum as b_ih; GRU: dgh differs in the n block
            grads.append(ns.sum(dghs.stack()[:, d], (0, 2)) if mode == "gru" else db_ih)
    return tuple(grads)


class RecurrentLayer(Function):
    """A whole recurrent layer, every direction and time step, in one node (see the module docstring).

    Inputs: ``x``, ``h0``, (``c0`` for an LSTM), then per direction ``w_ih, w_hh`` and, with
    ``bias``, ``b_ih, b_hh``. The output packs everything into one array along the time axis:
    steps 0..T-1 are the layer's output (T, B, D*H) (or (B, T, D*H) with ``batch_first``), step T
    holds h_n and step T+1 c_n, each with the directions side by side; ``_unpack`` takes it apart.

    The forward (``_layer_forward``) and the rule, backpropagation through time
    (``_layer_backward``), are each written once against an interpreter: the forward runs on
    NumPy and keeps the gate activations; the rule reads them in a plain backward and, when it is
    recorded or traced, recomputes them with the forward on its own interpreter, so that gradients
    of gradients are exact. Timings against the composed layer and PyTorch: see the module docstring.
    """

    traced_rule = False  # a compiled step calls this rule whole: traced, it is ~1,200 small operations

    def forward(
        self, x: np.ndarray, h0: np.ndarray, *rest: np.ndarray, mode: str, bias: bool, batch_first: bool
    ) -> np.ndarray:
        self.layout = _Layout(mode, bias, batch_first, x, h0, rest)
        packed, self.saved = _layer_forward(NUMPY, self.layout, x, h0)
        return packed

    def backward(self, ns, grad, x, h0, *rest):
        layout = self.layout
        if ns is not NUMPY:  # the rule's inputs, as values of this interpreter
            layout = _Layout(layout.mode, layout.bias, layout.batch_first, x, h0, rest)
        saved = ns.residual(self.saved, lambda: _layer_forward(ns, layout, x, h0)[1])
        return _layer_backward(ns, layout, grad, saved, [self.needs(i) for i in range(len(self.inputs))])


def _unpack(packed: Tensor, mode: str, directions: int, batch_first: bool) -> tuple[Tensor, Tensor, Tensor | None]:
    """Split ``RecurrentLayer``'s packed array into output (T, B, D*H), h_n and c_n (D, B, H)."""
    extra = 2 if mode == "lstm" else 1
    axis = 1 if batch_first else 0
    steps = packed.shape[axis] - extra
    lead = (slice(None),) * axis

    def final(k: int) -> Tensor:  # (B, D*H) -> (D, B, H)
        row = index(packed, lead + (k,))
        return transpose(reshape(row, (row.shape[0], directions, -1)), (1, 0, 2))

    output = index(packed, lead + (slice(0, steps),))
    return output, final(steps), (final(steps + 1) if mode == "lstm" else None)


def recurrent_layer(
    mode: str,
    x: Any,
    h0: Any,
    weights: Sequence[DirectionWeights],
    c0: Any = None,
    batch_first: bool = False,
    fused: bool = True,
) -> tuple[Tensor, Tensor, Tensor | None]:
    """Run one recurrent layer (one or two directions) over a whole sequence.

    Args:
        mode: ``'rnn_tanh'``, ``'rnn_relu'``, ``'lstm'`` or ``'gru'``.
        x: the input sequence, (T, B, input_size), or (B, T, input_size) with ``batch_first``.
        h0: the initial hidden state of each direction, (D, B, H).
        weights: per direction (forward first), ``(w_ih, w_hh, b_ih, b_hh)`` in PyTorch's layout;
            the biases are None in a layer without bias.
        c0: the initial cell state (D, B, H), LSTM only.
        batch_first: the layout of ``x`` and of the output.
        fused: one NumPy node for the whole layer (default) or the composed ops (see above).

    Returns:
        ``(output, h_n, c_n)``: output (T, B, D*H) (batch first if asked), the last hidden state of
        each direction (D, B, H) (the reverse direction's is at time 0), and for an LSTM the last
        cell state (D, B, H), else None.

    Example:
        >>> import chainrule as cr
        >>> x, h0 = cr.randn(4, 2, 3), cr.zeros(1, 2, 5)  # (time, batch, features), (directions, batch, hidden)
        >>> w = (cr.randn(5, 3), cr.randn(5, 5), cr.zeros(5), cr.zeros(5))  # an Elman RNN: 1 gate block
        >>> out, h_n, c_n = cr.recurrent_layer('rnn_tanh', x, h0, [w])
        >>> out.shape, h_n.shape, c_n
        ((4, 2, 5), (1, 2, 5), None)
    """
    if mode not in GATES:
        raise ValueError(f"recurrent_layer: mode must be one of {sorted(GATES)}, got {mode!r}")
    x, h0 = lift(x), lift(h0)
    lstm = mode == "lstm"
    if x.ndim != 3:
        raise ValueError(f"recurrent_layer: the input must be 3-D (time, batch, features), got shape {x.shape}")
    if not 1 <= len(weights) <= 2:
        raise ValueError(f"recurrent_layer: weights for 1 or 2 directions, got {len(weights)}")
    steps, batch = (x.shape[1], x.shape[0]) if batch_first else x.shape[:2]
    if steps == 0:
        raise ValueError(f"recurrent_layer: the input sequence of shape {x.shape} has no time steps")
    w_hh = weights[0][1]
    hidden = w_hh.shape[-1]
    gh_size = GATES[mode] * hidden
    has_bias = weights[0][2] is not None
    for w_ih_d, w_hh_d, b_ih_d, b_hh_d in weights:
        if w_ih_d.shape != (gh_size, x.shape[-1]) or w_hh_d.shape != (gh_size, hidden):
            raise ValueError(
                f"recurrent_layer: {mode} weights of shapes {w_ih_d.shape} and {w_hh_d.shape} do not match "
                f"an input of {x.shape[-1]} features: expected {(gh_size, x.shape[-1])} and {(gh_size, hidden)}"
            )
        if (b_ih_d is not None) != has_bias or (b_hh_d is not None) != has_bias:
            raise ValueError("recurrent_layer: give both biases in every direction, or none")
    expected = (len(weights), batch, hidden)
    if h0.shape != expected:
        raise ValueError(f"recurrent_layer: h0 of shape {h0.shape} does not match: expected {expected}")
    if lstm:
        if c0 is None:
            raise ValueError("recurrent_layer: an LSTM needs c0")
        c0 = lift(c0)
        if c0.shape != expected:
            raise ValueError(f"recurrent_layer: c0 of shape {c0.shape} does not match: expected {expected}")
    if not fused:
        return _composed_layer(mode, x, h0, c0 if lstm else None, weights, batch_first)
    params = [p for w in weights for p in (w if has_bias else w[:2])]
    states = [h0, c0] if lstm else [h0]
    packed = RecurrentLayer.apply(x, *states, *params, mode=mode, bias=has_bias, batch_first=batch_first)
    return _unpack(packed, mode, len(weights), batch_first)
