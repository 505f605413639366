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
  (directions, G*H, H) @ (directions, H, batch) per step), keeping the gate activations. A plain
  backward (``backward_numpy``) is backpropagation through time in NumPy; ``backward``, used only
  when the backward itself is being recorded (``create_graph=True``), recomputes the layer with the
  composed ops and differentiates that, so higher-order gradients stay exact.

Measured (float32, bidirectional GRU, hidden 6, 40 steps, batch 100, input 1, then Linear(480, 10)
and cross-entropy; forward + backward per step, 5 alternating processes per variant on a busy
2-core machine, one BLAS/torch thread): fused 10 ms median (8.4 best), composed 52 ms (39 best),
PyTorch 2.13 eager 23 ms (16 best). So the fused layer is the default; the composed one stays as
the reference and as the recorded (create_graph) path.

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

from chainrule import autograd
from chainrule.autograd import Function
from chainrule.ops.elementwise import lift, relu, sigmoid, tanh
from chainrule.ops.linalg import linear
from chainrule.ops.shape import concatenate, index, reshape, stack, swapaxes, transpose
from chainrule.tensor import Tensor

GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}
"""The recurrent modes and how many gate blocks of ``hidden_size`` rows each one's weights hold."""

DirectionWeights = Sequence[Tensor | None]  # (w_ih, w_hh, b_ih, b_hh), biases None without bias


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
        raise ValueError(f"{op}: input of shape {x.shape} does not match w_ih of shape {w_ih.shape} "
                         f"(the last dimension must be {w_ih.shape[1]})")
    if h.shape != x.shape[:-1] + (hidden,):
        raise ValueError(f"{op}: hidden state of shape {h.shape} does not match input of shape {x.shape}: "
                         f"expected {x.shape[:-1] + (hidden,)}")


def rnn_cell(x: Any, h: Any, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
             b_hh: Tensor | None = None, nonlinearity: str = "tanh") -> Tensor:
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


def lstm_cell(x: Any, hx: tuple[Any, Any], w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
              b_hh: Tensor | None = None) -> tuple[Tensor, Tensor]:
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


def gru_cell(x: Any, h: Any, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
             b_hh: Tensor | None = None) -> Tensor:
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


def _composed_layer(mode: str, x: Tensor, h0: Tensor, c0: Tensor | None,
                    weights: Sequence[DirectionWeights], batch_first: bool
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
    """Per-column factors that let one ``tanh`` compute every gate: sigma(a) = (1 + tanh(a/2)) / 2.

    The sigmoid gates' pre-activations are halved (exactly: a power of two) by scaling their columns
    of the input projection and of ``W_hh``; after one tanh over all gates, ``act * scale + shift``
    turns the sigmoid gates' tanh(a/2) into sigma(a) and leaves the tanh gates alone.
    """
    if mode == "lstm":  # i, f sigmoid; g tanh; o sigmoid
        blocks = [0.5, 0.5, 1.0, 0.5]
    elif mode == "gru":  # r, z sigmoid; n tanh (computed separately: it needs r first)
        blocks = [0.5, 0.5, 1.0]
    else:
        return None
    return np.repeat(np.asarray(blocks, dtype=dtype), hidden)


class RecurrentLayer(Function):
    """A whole recurrent layer, every direction and time step, in one node (see the module docstring).

    Inputs: ``x``, ``h0``, (``c0`` for an LSTM), then per direction ``w_ih, w_hh`` and, with
    ``bias``, ``b_ih, b_hh``. The output packs everything into one array along the time axis:
    steps 0..T-1 are the layer's output (T, B, D*H) (or (B, T, D*H) with ``batch_first``), step T
    holds h_n and step T+1 c_n, each with the directions side by side; ``_unpack`` takes it apart.

    Inside, the arrays are laid out (direction, features, batch): a step's state is (D, H, B) and
    its gates (D, G*H, B), so every gate block is one contiguous run of H*B numbers per direction
    and the elementwise work runs over long contiguous rows (gate blocks along the last axis, as in
    PyTorch's layout, make rows of only H numbers: measured several times slower per call for H = 6).
    ``W_hh`` multiplies from the left: (D, G*H, H) @ (D, H, B), both directions in one batched GEMM.

    Timings against the composed layer and PyTorch: see the module docstring.
    """

    def forward(self, x: np.ndarray, h0: np.ndarray, *rest: np.ndarray, mode: str, bias: bool,
                batch_first: bool) -> np.ndarray:
        lstm = mode == "lstm"
        c0 = rest[0] if lstm else None
        params = rest[1:] if lstm else rest
        per = 4 if bias else 2
        directions = len(params) // per
        w_ih = [params[d * per] for d in range(directions)]
        w_hh = [params[d * per + 1] for d in range(directions)]
        hidden = h0.shape[-1]
        dtype = np.result_type(x, h0, *params)
        batch, steps = (x.shape[0], x.shape[1]) if batch_first else (x.shape[1], x.shape[0])

        folded = None  # a recurrent bias added inside the loop (GRU only: b_hn sits inside r * (.))
        b_in = None
        if bias:
            b_in = np.stack([params[d * per + 2] for d in range(directions)])
            b_hh = np.stack([params[d * per + 3] for d in range(directions)])
            if mode == "gru":
                folded = b_hh[:, :, None]
            else:  # RNN and LSTM add b_ih + b_hh to the same pre-activation: fold it in here
                b_in = b_in + b_hh
        scale = _sigmoid_scale(mode, hidden, dtype)
        w_hh_s = np.stack(w_hh).astype(dtype, copy=False)  # (D, G*H, H)
        # the input projection of every step and direction, in step order: x (small) goes time-major
        # first, so one batched GEMM (D, G*H, K) @ (T, D, K, B) writes pre (T, D, G*H, B) contiguously
        # (projecting in the input's order and reordering the big result afterwards cost more than
        # the rest of the forward with batch_first); the bias rides along as an input row of ones
        xs = self.xs = _inputs_by_step(x, directions, batch_first, bias, dtype)  # (T, D, K, B)
        w_in = np.stack(w_ih).astype(dtype, copy=False)  # (D, G*H, I), then [W_ih | b] (D, G*H, K)
        if bias:
            w_in = np.concatenate([w_in, b_in[:, :, None]], axis=2)
        if scale is not None:
            scale = scale[:, None]
            w_in *= scale  # exact (powers of two): as scaling pre itself
            w_hh_s = w_hh_s * scale
            if folded is not None:
                folded = folded * scale
        if xs.shape[2] == 1:  # an outer product: OpenBLAS's GEMM with inner dimension 1 is ~15x slower
            pre = np.multiply(w_in, xs)
        else:
            pre = np.matmul(w_in, xs)  # pre[s, d]: what direction d adds at its step s, (G*H, B)

        hs = np.empty((steps + 1, directions, hidden, batch), dtype=dtype)  # hs[s]: the state before step s
        hs[0] = h0.transpose(0, 2, 1)
        self.hs = hs
        if mode == "lstm":
            self._forward_lstm(pre, w_hh_s, scale, c0)
        elif mode == "gru":
            self._forward_gru(pre, w_hh_s, folded)
        else:
            act = np.tanh if mode == "rnn_tanh" else _relu_inplace
            for s in range(steps):
                h = hs[s + 1]
                np.matmul(w_hh_s, hs[s], out=h)
                h += pre[s]
                act(h, out=h)
        self.mode, self.bias, self.batch_first, self.directions = mode, bias, batch_first, directions

        extra = 2 if lstm else 1
        packed = np.empty((batch, steps + extra, directions * hidden) if batch_first else
                          (steps + extra, batch, directions * hidden), dtype=dtype)
        pt = packed.swapaxes(0, 1) if batch_first else packed  # (T + extra, B, D*H)
        pt[:steps, :, :hidden] = hs[1:, 0].transpose(0, 2, 1)
        if directions == 2:  # the reverse direction's step s is time T-1-s
            pt[:steps, :, hidden:] = hs[steps:0:-1, 1].transpose(0, 2, 1)
        pt[steps] = hs[steps].transpose(2, 0, 1).reshape(batch, -1)
        if lstm:
            pt[steps + 1] = self.cs[steps].transpose(2, 0, 1).reshape(batch, -1)
        return packed

    def _forward_lstm(self, pre: np.ndarray, w_hh_s: np.ndarray, scale: np.ndarray, c0: np.ndarray) -> None:
        steps = pre.shape[0]
        hs = self.hs
        shift = 1.0 - scale  # sigma(a) = 0.5 tanh(a/2) + 0.5 for i, f, o; g = tanh(a) as it is
        acts = pre  # i, f, g, o after their nonlinearities, over their pre-activations (one big array fewer)
        i_, f_, g_, o_ = _blocks(acts, 4)  # (T, D, H, B) views: a step's gate is then one index away
        cs = np.empty_like(hs)
        cs[0] = c0.transpose(0, 2, 1)
        tanh_c = np.empty_like(hs[1:])
        ig = np.empty_like(hs[0])
        gh = np.empty_like(pre[0])
        for s in range(steps):
            a, c = acts[s], cs[s + 1]
            np.matmul(w_hh_s, hs[s], out=gh)
            a += gh
            np.tanh(a, out=a)
            a *= scale
            a += shift
            np.multiply(f_[s], cs[s], out=c)  # c' = f * c + i * g
            np.multiply(i_[s], g_[s], out=ig)
            c += ig
            np.tanh(c, out=tanh_c[s])
            np.multiply(o_[s], tanh_c[s], out=hs[s + 1])  # h' = o * tanh(c')
        self.acts, self.cs, self.tanh_c = acts, cs, tanh_c

    def _forward_gru(self, pre: np.ndarray, w_hh_s: np.ndarray, folded: np.ndarray | None) -> None:
        steps = pre.shape[0]
        hs = self.hs
        acts = pre  # r, z, n after their nonlinearities, over their pre-activations' input parts
        ghs = np.empty_like(pre)  # W_hh h + b_hh (the r and z blocks halved): r's gradient needs it
        rz_, n_ = _blocks(acts, 3, (2, 1))
        r_, z_ = _blocks(rz_, 2)
        gh_rz, gh_n = _blocks(ghs, 3, (2, 1))
        rgh = np.empty_like(hs[0])
        for s in range(steps):
            np.matmul(w_hh_s, hs[s], out=ghs[s])
            if folded is not None:
                ghs[s] += folded
            rz, n, h = rz_[s], n_[s], hs[s + 1]
            rz += gh_rz[s]
            np.tanh(rz, out=rz)  # of half the pre-activation: sigma(a) = (1 + tanh(a/2)) / 2
            rz *= 0.5
            rz += 0.5
            np.multiply(r_[s], gh_n[s], out=rgh)  # n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
            n += rgh
            np.tanh(n, out=n)
            np.subtract(hs[s], n, out=h)  # h' = n + z * (h - n)
            h *= z_[s]
            h += n
        self.acts, self.ghn = acts, gh_n

    # ---------------------------------------------------------------- backward

    def backward(self, grad: Tensor) -> tuple[Tensor | None, ...]:
        """Recompute the layer with chainrule ops and differentiate it, recording (create_graph)."""
        lstm = self.mode == "lstm"
        x, h0 = self.inputs[0], self.inputs[1]
        c0 = self.inputs[2] if lstm else None
        weights = _direction_weights(self.inputs[3 if lstm else 2 :], self.bias)
        outputs = _composed_layer(self.mode, x, h0, c0, weights, self.batch_first)
        grad_outputs = _unpack(grad, self.mode, self.directions, self.batch_first)
        if not lstm:
            outputs, grad_outputs = outputs[:2], grad_outputs[:2]
        wanted = [t for t in self.inputs if t._requires_grad]
        found = iter(autograd.grad(outputs, wanted, grad_outputs=grad_outputs, create_graph=True,
                                   allow_unused=True))
        return tuple(next(found) if t._requires_grad else None for t in self.inputs)

    def backward_numpy(self, grad: np.ndarray) -> tuple[np.ndarray | None, ...]:
        """Backpropagation through time in NumPy: a plain backward (nothing recorded)."""
        mode, directions, batch_first = self.mode, self.directions, self.batch_first
        lstm = mode == "lstm"
        x_t, h0_t = self.inputs[0], self.inputs[1]
        params = [t.data for t in self.inputs[3 if lstm else 2 :]]
        per = 4 if self.bias else 2
        hs = self.hs
        steps, _, hidden, batch = hs.shape[0] - 1, *hs.shape[1:]
        gt = grad.swapaxes(0, 1) if batch_first else grad  # (T + extra, B, D*H)

        # the gradient reaching each step's output from above, in each direction's step order
        dys = np.empty((steps, directions, hidden, batch), dtype=hs.dtype)
        dys[:, 0] = gt[:steps, :, :hidden].transpose(0, 2, 1)
        if directions == 2:
            dys[:, 1] = gt[steps - 1 :: -1, :, hidden:].transpose(0, 2, 1)
        dh = _final_state_grad(gt[steps], directions, hs.dtype)
        w_hh_t = np.stack([params[d * per + 1].T for d in range(directions)]).astype(hs.dtype)  # (D, H, G*H)
        dpre = np.empty((steps, directions, w_hh_t.shape[2], batch), dtype=hs.dtype)  # d loss / d pre-activation
        # d loss / d W_hh, summed over the steps inside the loop (each step's factors still in cache)
        dw_hh = np.zeros((directions, w_hh_t.shape[2], hidden), dtype=hs.dtype)
        dw_step = np.empty_like(dw_hh)
        dc = None
        if lstm:
            dc = _final_state_grad(gt[steps + 1], directions, hs.dtype)
            dgh = self._backward_lstm(dys, dh, dc, dpre, w_hh_t, dw_hh)
        elif mode == "gru":
            dgh = self._backward_gru(dys, dh, dpre, w_hh_t, dw_hh)
        else:
            for s in range(steps - 1, -1, -1):
                dh += dys[s]
                d = dpre[s]
                h = hs[s + 1]
                if mode == "rnn_tanh":
                    np.multiply(h, h, out=d)
                    np.subtract(1.0, d, out=d)
                    d *= dh
                else:
                    np.multiply(dh, h > 0, out=d)
                np.matmul(d, hs[s].transpose(0, 2, 1), out=dw_step)
                dw_hh += dw_step
                np.matmul(w_hh_t, d, out=dh)
            dgh = dpre  # the recurrent and the input pre-activations are the same sum

        # the input weights' gradients (and the input biases', from the ones row of xs) and the
        # input's: batched GEMMs in step order, as in the forward
        x, xs = x_t.data, self.xs
        features = x.shape[-1]
        dw_in = np.matmul(dpre, xs.transpose(0, 1, 3, 2)).sum(axis=0)  # (D, G*H, K)
        grads: list[np.ndarray | None] = []
        if x_t._requires_grad:
            w_ih_t = np.stack([params[d * per].T for d in range(directions)]).astype(hs.dtype, copy=False)
            dxs = np.matmul(w_ih_t, dpre)  # (T, D, I, B)
            dx = dxs[:, 0] + dxs[::-1, 1] if directions == 2 else dxs[:, 0]  # (T, I, B) in time order
            dx = dx.transpose(2, 0, 1) if batch_first else dx.transpose(0, 2, 1)
            grads.append(np.ascontiguousarray(dx))
        else:
            grads.append(None)
        grads.append(np.ascontiguousarray(dh.transpose(0, 2, 1)) if h0_t._requires_grad else None)
        if lstm:
            grads.append(np.ascontiguousarray(dc.transpose(0, 2, 1)) if self.inputs[2]._requires_grad else None)
        for d in range(directions):
            grads.append(np.ascontiguousarray(dw_in[d, :, :features]))
            grads.append(dw_hh[d])
            if self.bias:
                db_ih = dw_in[d, :, features]
                grads.append(np.ascontiguousarray(db_ih))
                # RNN and LSTM: b_hh enters the same sum as b_ih; GRU: dgh differs in the n block
                grads.append(dgh[:, d].sum(axis=(0, 2)) if mode == "gru" else db_ih.copy())
        return tuple(grads)

    def _backward_lstm(self, dys: np.ndarray, dh: np.ndarray, dc: np.ndarray, dpre: np.ndarray,
                       w_hh_t: np.ndarray, dw_hh: np.ndarray) -> np.ndarray:
        acts, cs, tanh_c, hs = self.acts, self.cs, self.tanh_c, self.hs
        dw_step = np.empty_like(dw_hh)
        i_, f_, g_, o_ = _blocks(acts, 4)
        di_, df_, dg_, do_ = _blocks(dpre, 4)
        tmp = np.empty_like(dh)
        slope = np.empty_like(dpre[0])
        slope_g = _blocks(slope[None], 4)[2][0]
        for s in range(dys.shape[0] - 1, -1, -1):
            dh += dys[s]
            a, d, tc = acts[s], dpre[s], tanh_c[s]
            np.multiply(dh, tc, out=do_[s])  # h = o * tanh(c): d o
            np.multiply(tc, tc, out=tmp)  # d c += d h * o * (1 - tanh(c)^2)
            np.subtract(1.0, tmp, out=tmp)
            tmp *= dh
            tmp *= o_[s]
            dc += tmp
            np.multiply(dc, g_[s], out=di_[s])  # c = f * c_prev + i * g
            np.multiply(dc, cs[s], out=df_[s])
            np.multiply(dc, i_[s], out=dg_[s])
            dc *= f_[s]
            np.subtract(1.0, a, out=slope)  # sigma' = s (1 - s) for i, f, o ...
            slope *= a
            np.multiply(g_[s], g_[s], out=slope_g)  # ... and tanh' = 1 - g^2 for g
            np.subtract(1.0, slope_g, out=slope_g)
            d *= slope
            np.matmul(d, hs[s].transpose(0, 2, 1), out=dw_step)
            dw_hh += dw_step
            np.matmul(w_hh_t, d, out=dh)
        return dpre

    def _backward_gru(self, dys: np.ndarray, dh: np.ndarray, dpre: np.ndarray, w_hh_t: np.ndarray,
                      dw_hh: np.ndarray) -> np.ndarray:
        acts, ghn, hs = self.acts, self.ghn, self.hs
        dw_step = np.empty_like(dw_hh)
        rz_, n_ = _blocks(acts, 3, (2, 1))
        r_, z_ = _blocks(rz_, 2)
        drz_, dn_ = _blocks(dpre, 3, (2, 1))
        dr_, dz_ = _blocks(drz_, 2)
        dgh = np.empty_like(dpre)  # the gradient of W_hh h + b_hh: differs from dpre in the n block
        dgh_rz, dgh_n = _blocks(dgh, 3, (2, 1))
        tmp = np.empty_like(dh)
        slope = np.empty_like(drz_[0])
        back = np.empty_like(dh)
        for s in range(dys.shape[0] - 1, -1, -1):
            dh += dys[s]
            n, z, dn, dz, drz = n_[s], z_[s], dn_[s], dz_[s], drz_[s]
            np.subtract(hs[s], n, out=dz)  # h' = n + z * (h - n): d z
            dz *= dh
            np.subtract(1.0, z, out=tmp)  # d n, then through its tanh
            np.multiply(dh, tmp, out=dn)
            np.multiply(n, n, out=tmp)
            np.subtract(1.0, tmp, out=tmp)
            dn *= tmp
            np.multiply(dn, ghn[s], out=dr_[s])  # n = tanh(. + r * gh_n): d r
            np.subtract(1.0, rz_[s], out=slope)  # through the sigmoids of r and z
            slope *= rz_[s]
            drz *= slope
            np.copyto(dgh_rz[s], drz)
            np.multiply(dn, r_[s], out=dgh_n[s])
            dh *= z  # the direct path h -> h', then the path through W_hh
            np.matmul(dgh[s], hs[s].transpose(0, 2, 1), out=dw_step)
            dw_hh += dw_step
            np.matmul(w_hh_t, dgh[s], out=back)
            dh += back
        return dgh


def _blocks(array: np.ndarray, count: int, sizes: tuple[int, ...] | None = None) -> list[np.ndarray]:
    """Views of the gate blocks of a (T, D, count*H, B) array along axis 2: ``count`` of (T, D, H, B),
    or, with ``sizes``, blocks of that many gates each (``(2, 1)``: GRU's r and z together, then n)."""
    width = array.shape[2] // count
    views, start = [], 0
    for size in sizes or (1,) * count:
        views.append(array[:, :, start * width : (start + size) * width])
        start += size
    return views


def _inputs_by_step(x: np.ndarray, directions: int, batch_first: bool, bias: bool, dtype: np.dtype) -> np.ndarray:
    """The input as (T, D, K, B) in each direction's step order (the reverse direction's step s is
    time T-1-s), K = input_size, plus a row of ones with ``bias`` (it meets the bias column of [W_ih | b])."""
    xt = x.transpose(1, 2, 0) if batch_first else x.transpose(0, 2, 1)  # (T, I, B)
    steps, features, batch = xt.shape
    xs = np.empty((steps, directions, features + bias, batch), dtype=dtype)
    xs[:, 0, :features] = xt
    if directions == 2:
        xs[:, 1, :features] = xt[::-1]
    if bias:
        xs[:, :, features] = 1
    return xs


def _final_state_grad(row: np.ndarray, directions: int, dtype: np.dtype) -> np.ndarray:
    """The gradient of h_n (or c_n), a (B, D*H) row of the packed gradient, as a (D, H, B) array."""
    return row.reshape(row.shape[0], directions, -1).transpose(1, 2, 0).astype(dtype)


def _relu_inplace(a: np.ndarray, out: np.ndarray) -> np.ndarray:
    return np.maximum(a, 0, out=out)


def _direction_weights(params: Sequence[Tensor], bias: bool) -> list[tuple[Tensor | None, ...]]:
    per = 4 if bias else 2
    return [tuple(params[k : k + per]) + ((None, None) if not bias else ())
            for k in range(0, len(params), per)]


def _unpack(packed: Tensor, mode: str, directions: int, batch_first: bool
            ) -> tuple[Tensor, Tensor, Tensor | None]:
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
