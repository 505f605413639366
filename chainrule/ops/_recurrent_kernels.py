"""The fused recurrent layer's compiled loops (numba, the extra ``fast``): a small GRU's whole time
loops, and an LSTM's elementwise work of each step.

``_layer_forward`` and ``_layer_backward`` (``chainrule.ops.recurrent``) step through time in
Python: for a small hidden size every step is some 25 NumPy calls on arrays of a few hundred
numbers, so the layer's time goes to the calls, not to the arithmetic. The two loops below run a
whole layer (every step and both directions) in one call each, with the same layout and the same
operations in the same order as the NumPy code, so they store exactly what it stores; the values
differ from it only by rounding:

- the small products ``W_hh h`` (the forward), ``W_hh^T dgh`` and ``dgh h^T`` (the backward) are
  written out as loops, whose sums run in another order than BLAS's (``dw_hh`` sums over the
  batch within the steps, not step by step);
- ``tanh`` is computed here (a libm call per number would cost more than the whole NumPy step),
  as ``e / (e + 2)`` with ``e = expm1(2|x|)`` from a range reduction by ln 2 and the Taylor series
  of ``expm1``, in the layer's dtype (a float32 layer's in float32: twice the numbers per vector
  instruction); its error against a long-double reference is measured by
  tests/ops/test_recurrent_kernels.py, beside NumPy's.

Everything else is computed in the layer's dtype: the constants 1/2 and 1 come from the argument
``one`` (numba would compute ``float32 * 0.5`` in float64).

Layout, as in ``_layer_forward``: (step, direction, features, batch), batch fastest, so the
innermost loops run over the batch, contiguous, and LLVM vectorises them.

The cells (``LSTM_CELL``, ``LSTM_CELL_BACKWARD``; ``GRU_GATES``, ``GRU_CANDIDATE``, ``GRU_STATE``,
``GRU_CELL_BACKWARD`` for a GRU too big for the whole loops) are another kind: the layer's Python
loop stays, with NumPy's GEMMs and tanh (for hidden 64 these are most of a step, and NumPy's
vectorised tanh is four times faster than the one above), and each step's remaining elementwise
work -- five to ten NumPy calls in the forward, some fifteen in the backward -- is one loop
between them that does the same operations in the same order, so the results are NumPy's bit for
bit (no fast-math: numba neither reorders nor fuses them into FMAs; the tests compare). One
exception, the sign of a NaN: where two NaNs of opposite signs meet in an addition NumPy keeps
the first operand's and a compiled loop may keep the other's (the values are NaN either way).
"""

from __future__ import annotations

import math

import numpy as np

from chainrule import kernels

# the constants of the tanh below, in the layer's dtype (so a float32 layer's tanh runs in float32,
# twice as many numbers per vector instruction): log2(e); ln 2 split into a head of 16 fractional
# bits (m * head is exact in float32 too: m < 64) and the rest; the cap (tanh is 1 from 19.1 on in
# float64, 9.1 in float32); 1/2, 1, 2; 2^32 ... 2^1 and 32 ... 1 for 2^m; then 1/k! for k = 13
# down to 1 (Horner's order)
_LN2_HI = math.ldexp(math.floor(math.ldexp(math.log(2.0), 16)), -16)
_CONSTANTS = [1.0 / math.log(2.0), _LN2_HI, math.log(2.0) - _LN2_HI, 22.0, 0.5, 1.0, 2.0]
_CONSTANTS += [2.0**32, 2.0**16, 2.0**8, 2.0**4, 2.0**2, 2.0, 32.0, 16.0, 8.0, 4.0, 2.0, 1.0]
_CONSTANTS += [1.0 / math.factorial(k) for k in range(13, 0, -1)]
TANH_CONSTANTS = {np.dtype(t): np.array(_CONSTANTS, dtype=t) for t in (np.float32, np.float64)}


def _gru_forward(pre, w_hh, b_hn, has_bias, one, c, hs, rz, n, ghn):  # noqa: ANN001, ANN202
    """The GRU forward of every step and direction, the states and gates stored for the backward.

    pre (T, D, 3H, B): the input projection (bias included) of each step, the r and z rows
        halved (``_sigmoid_scale``); w_hh (D, 3H, H), its r and z rows halved; b_hn (D, 3H): the
        recurrent bias, halved likewise, added when ``has_bias``; one: 1 in the layer's dtype; c:
        ``TANH_CONSTANTS`` of the layer's dtype.
    Writes hs (T+1, D, H, B) from hs[0] (the initial state, set by the caller), rz (T, D, 2H, B)
    (sigma of the r and z gates), n (T, D, H, B) (the candidate) and ghn (T, D, H, B) (its
    ``W_hn h + b_hn``).
    """
    T, D, G, B = pre.shape
    H = G // 3
    half = one / (one + one)
    gh = np.empty((G, B), dtype=pre.dtype)  # W_hh h + b_hh of one step and direction
    u = np.empty(B, dtype=pre.dtype)  # one row's pre-activations, then their tanh
    log2e, ln2_hi, ln2_lo, cap, two = c[0], c[1], c[2], c[3], c[6]  # (the tanh's constants, see TANH_CONSTANTS)
    p32, p16, p8, p4, p2, n32, n16, n8, n4 = c[7], c[8], c[9], c[10], c[11], c[13], c[14], c[15], c[16]
    f13, f12, f11, f10, f9, f8, f7, f6, f5, f4, f3, f2, f1 = c[19:32]
    for s in range(T):
        for d in range(D):
            h = hs[s, d]
            p = pre[s, d]
            w = w_hh[d]
            # gh = W_hh h (+ b_hh): row j is the sum over k of w[j, k] h[k], batch fastest
            for j in range(G):
                row = gh[j]
                for b in range(B):
                    row[b] = one - one
                for k in range(H):
                    wjk = w[j, k]
                    hk = h[k]
                    for b in range(B):
                        row[b] += wjk * hk[b]
                if has_bias:
                    bj = b_hn[d, j]
                    for b in range(B):
                        row[b] += bj
            # gate row j: r and z first (rows 0..2H), then n (rows 2H..3H), which needs r
            for j in range(G):
                i = j - 2 * H  # the candidate's row, for j >= 2H
                if j < 2 * H:  # half of r's or z's pre-activation: sigma(a) = (1 + tanh(a/2)) / 2
                    for b in range(B):
                        u[b] = p[j, b] + gh[j, b]
                else:  # n's: W_in x + b_in + r * (W_hn h + b_hn)
                    for b in range(B):
                        ghn[s, d, i, b] = gh[j, b]
                        u[b] = rz[s, d, i, b] * gh[j, b] + p[j, b]
                # u = tanh(u), in float64; see the module docstring
                for b in range(B):
                    x = u[b]
                    # tanh(a) = e / (e + 2) with e = expm1(2a), a = |x| (capped). expm1(y) = 2^m (1 + q) - 1
                    # with y = m ln2 + r, |r| <= ln2 / 2, and q = expm1(r) from its Taylor series (13
                    # terms: the remainder is below 1e-17), so tanh keeps its relative accuracy near 0,
                    # where e is about 2a. In the layer's dtype: every constant comes from c (read once,
                    # above the loops, and written out here so that the loop stays one vector loop).
                    a = abs(x)
                    y = two * (cap if a >= cap else a)  # (NaN passes through, and stays NaN)
                    m = np.floor(y * log2e + half)
                    r = (y - m * ln2_hi) - m * ln2_lo
                    q = ((((((f13 * r + f12) * r + f11) * r + f10) * r + f9) * r + f8) * r + f7) * r + f6
                    q = (((((q * r + f5) * r + f4) * r + f3) * r + f2) * r + f1) * r
                    # 2^m for m in 0..63, exactly, from its binary digits (selects)
                    scale = one
                    if m >= n32:
                        scale *= p32
                        m -= n32
                    if m >= n16:
                        scale *= p16
                        m -= n16
                    if m >= n8:
                        scale *= p8
                        m -= n8
                    if m >= n4:
                        scale *= p4
                        m -= n4
                    if m >= two:
                        scale *= p2
                        m -= two
                    if m >= one:
                        scale *= two
                    e = scale * q + (scale - one)
                    t = e / (e + two)
                    u[b] = t if x > 0 else (-t if x < 0 else x)  # (tanh(+-0) = +-0; NaN stays NaN)
                if j < 2 * H:  # sigma = tanh(a/2) / 2 + 1/2, rounded to the dtype first
                    for b in range(B):
                        rz[s, d, j, b] = u[b]
                        rz[s, d, j, b] = rz[s, d, j, b] * half + half
                else:  # n, then h' = z (h - n) + n
                    hn = hs[s + 1, d, i]
                    for b in range(B):
                        n[s, d, i, b] = u[b]
                        nb = n[s, d, i, b]
                        hn[b] = rz[s, d, H + i, b] * (h[i, b] - nb) + nb


GRU_FORWARD = kernels.Kernel(_gru_forward)


def _gru_backward(dys, dh_last, w_hh, hs, rz, n, ghn, one, dpre, dgh, dw_hh, dh):  # noqa: ANN001, ANN202
    """Backpropagation through time of the GRU, every step and direction, last step first.

    dys (T, D, H, B): the gradient reaching each step's output from above (step order of each
    direction); dh_last (D, H, B): the gradient of h_n; w_hh (D, 3H, H), unscaled; hs, rz, n,
    ghn: what ``_gru_forward`` stored; one: 1 in the layer's dtype.
    Writes dpre (T, D, 3H, B) (the gradient of the pre-activations: the input projection's), dgh
    (T, D, 3H, B) (of ``W_hh h + b_hh``: dpre but for r * dn in the n block), dw_hh (D, 3H, H)
    (summed over the steps) and dh (D, H, B) (the gradient of h0).
    """
    T, D, H, B = dys.shape
    G = 3 * H
    zero = one - one
    acc = np.empty(B, dtype=dys.dtype)  # a row of W_hh^T dgh
    dwT = np.empty((H, G), dtype=dys.dtype)  # dw_hh[d]^T, summed over the steps
    gT = np.empty((B, G), dtype=dys.dtype)  # dgh of one step, transposed
    hT = np.empty((B, H), dtype=dys.dtype)  # h_prev of one step, transposed
    for d in range(D):
        w = w_hh[d]
        dhd = dh[d]
        for k in range(H):
            for b in range(B):
                dhd[k, b] = dh_last[d, k, b]
        dwT[:] = zero
        for s in range(T - 1, -1, -1):
            h_prev = hs[s, d]
            dp = dpre[s, d]
            dg = dgh[s, d]
            # dh += the gradient from above, then through h' = n + z (h - n) and the gates
            for i in range(H):
                for b in range(B):
                    dhd[i, b] += dys[s, d, i, b]
                    dhb = dhd[i, b]
                    r = rz[s, d, i, b]
                    z = rz[s, d, H + i, b]
                    nb = n[s, d, i, b]
                    dz = dhb * (h_prev[i, b] - nb)
                    dn = dhb * (one - z) * (one - nb * nb)  # d n, then through its tanh
                    dr = dn * ghn[s, d, i, b] * (r * (one - r))  # n = tanh(. + r * gh_n)
                    dp[i, b] = dr
                    dp[H + i, b] = dz * (z * (one - z))
                    dp[2 * H + i, b] = dn
                    dg[i, b] = dr
                    dg[H + i, b] = dp[H + i, b]
                    dg[2 * H + i, b] = dn * r
            # dw_hh += dgh h_prev^T, as dw^T[k, :] += h[k, b] dgh[:, b] for each b: updates of rows
            # of 3H numbers, which vectorise (a sum over the batch, contiguous, would not: its
            # additions cannot be reordered), from transposed copies of dgh and h_prev
            for k in range(H):
                for b in range(B):
                    hT[b, k] = h_prev[k, b]
            for j in range(G):
                for b in range(B):
                    gT[b, j] = dg[j, b]
            for b in range(B):
                gb = gT[b]
                for k in range(H):
                    hbk = hT[b, k]
                    wk = dwT[k]
                    for j in range(G):
                        wk[j] += hbk * gb[j]
            # dh = dh z + W_hh^T dgh: the direct path h -> h', and through every gate
            for k in range(H):
                for b in range(B):
                    acc[b] = zero
                for j in range(G):
                    wjk = w[j, k]
                    gj = dg[j]
                    for b in range(B):
                        acc[b] += wjk * gj[b]
                for b in range(B):
                    dhd[k, b] = dhd[k, b] * rz[s, d, H + k, b] + acc[b]
        for j in range(G):
            for k in range(H):
                dw_hh[d, j, k] = dwT[k, j]


GRU_BACKWARD = kernels.Kernel(_gru_backward)


def _lstm_cell(a, c, one, c_next):  # noqa: ANN001, ANN202
    """The elementwise part of one LSTM step, every direction: the gates, then the cell state.

    a (D, 4H, B): the tanh of every gate's pre-activation, the i, f and o rows' halved
    (``_sigmoid_scale``), computed by NumPy; c (D, H, B): the cell state before the step.
    Overwrites a with the gates (sigma = tanh(a/2) / 2 + 1/2 for i, f, o; g's tanh as it is, as
    ``g * 1 + 0``) and writes c_next = f c + i g: the operations of ``_layer_forward``'s NumPy loop
    (``a * scale + shift``, then ``f * c + i * g``) in the same order, so the same bits.
    """
    D, G, B = a.shape
    H = G // 4
    zero = one - one
    half = one / (one + one)
    for d in range(D):
        for k in range(H):
            ir, fr, gr, orow = a[d, k], a[d, H + k], a[d, 2 * H + k], a[d, 3 * H + k]
            cp, cn = c[d, k], c_next[d, k]
            for b in range(B):
                i = ir[b] * half + half
                f = fr[b] * half + half
                g = gr[b] * one + zero
                ir[b] = i
                fr[b] = f
                gr[b] = g
                orow[b] = orow[b] * half + half
                cn[b] = f * cp[b] + i * g


LSTM_CELL = kernels.Kernel(_lstm_cell)


def _lstm_cell_backward(dh, dc, dy, a, tc, c_prev, one, dpre):  # noqa: ANN001, ANN202
    """The elementwise part of one LSTM step's backward, every direction.

    dh, dc (D, H, B): the gradients of the step's h and c from the later steps (updated in place:
    dh += dy, then dc becomes the gradient of the state before the step); dy (D, H, B): the
    gradient reaching the step's output from above; a (D, 4H, B): the step's gates; tc: tanh of
    its cell state; c_prev: the cell state before it. Writes dpre (D, 4H, B), the gradient of the
    gates' pre-activations. The operations of ``_layer_backward``'s NumPy loop in the same order:
    dc + dh o (1 - tc^2); the gate values' gradients (dc g, dc c_prev, dc i, dh tc); each times
    (1 - v) (v + offset), offset 0 for the sigmoid gates and 1 for g; dc f.
    """
    D, G, B = a.shape
    H = G // 4
    zero = one - one
    for d in range(D):
        for k in range(H):
            ir, fr, gr, orow = a[d, k], a[d, H + k], a[d, 2 * H + k], a[d, 3 * H + k]
            di, df, dg, do = dpre[d, k], dpre[d, H + k], dpre[d, 2 * H + k], dpre[d, 3 * H + k]
            dhr, dcr, dyr, tcr, cpr = dh[d, k], dc[d, k], dy[d, k], tc[d, k], c_prev[d, k]
            for b in range(B):
                h_grad = dhr[b] + dyr[b]
                dhr[b] = h_grad
                t = tcr[b]
                c_grad = dcr[b] + h_grad * orow[b] * (one - t * t)
                i, f, g, o = ir[b], fr[b], gr[b], orow[b]
                di[b] = c_grad * g * (one - i) * (i + zero)
                df[b] = c_grad * cpr[b] * (one - f) * (f + zero)
                dg[b] = c_grad * i * (one - g) * (g + one)
                do[b] = h_grad * t * (one - o) * (o + zero)
                dcr[b] = c_grad * f


LSTM_CELL_BACKWARD = kernels.Kernel(_lstm_cell_backward)


def _gru_gates(gh, b_hn, has_bias, p, u):  # noqa: ANN001, ANN202
    """A GRU step's r and z pre-activations, before NumPy's tanh (the cells of a GRU too big for
    the whole loops above): gh (D, 3H, B) = W_hh h gets the recurrent bias b_hn (D, 3H) when
    ``has_bias``, in place; u (D, 2H, B) = the input projection p's r and z rows + gh's. As the
    NumPy loop's ``gh += b_hh`` and ``p[:, :2H] + gh[:, :2H]``."""
    D, G, B = gh.shape
    H = G // 3
    for d in range(D):
        if has_bias:
            for j in range(G):
                row, bj = gh[d, j], b_hn[d, j]
                for b in range(B):
                    row[b] = row[b] + bj
        for j in range(2 * H):
            out, pj, gj = u[d, j], p[d, j], gh[d, j]
            for b in range(B):
                out[b] = pj[b] + gj[b]


GRU_GATES = kernels.Kernel(_gru_gates)


def _gru_candidate(rz, gh, p, one, ghn, n):  # noqa: ANN001, ANN202
    """After NumPy's tanh of the r and z rows: rz (D, 2H, B) becomes sigma, tanh(a/2) / 2 + 1/2,
    in place; ghn (D, H, B) = gh's n rows (kept for the backward); n (D, H, B) = r * ghn + the
    input projection's n rows, the candidate's pre-activation, before NumPy's tanh."""
    D, H2, B = rz.shape
    H = H2 // 2
    half = one / (one + one)
    for d in range(D):
        for j in range(H2):
            row = rz[d, j]
            for b in range(B):
                row[b] = row[b] * half + half
        for k in range(H):
            r, g, pn, gn, nn = rz[d, k], gh[d, 2 * H + k], p[d, 2 * H + k], ghn[d, k], n[d, k]
            for b in range(B):
                gn[b] = g[b]
                nn[b] = r[b] * g[b] + pn[b]


GRU_CANDIDATE = kernels.Kernel(_gru_candidate)


def _gru_state(rz, n, h, h_next):  # noqa: ANN001, ANN202
    """h_next = z (h - n) + n (D, H, B), after NumPy's tanh of the candidate n."""
    D, H, B = n.shape
    for d in range(D):
        for k in range(H):
            z, nk, hk, out = rz[d, H + k], n[d, k], h[d, k], h_next[d, k]
            for b in range(B):
                out[b] = z[b] * (hk[b] - nk[b]) + nk[b]


GRU_STATE = kernels.Kernel(_gru_state)


def _gru_cell_backward(dh, dy, rz, n, ghn, h_prev, one, dpre, dgh):  # noqa: ANN001, ANN202
    """The elementwise part of one GRU step's backward, every direction (the cells' counterpart of
    ``_gru_backward``'s step). dh (D, H, B): the gradient of the step's h from the later steps,
    replaced by its direct path dh z (the caller adds W_hh^T dgh); dy: the gradient from above;
    rz, n, ghn, h_prev: the step's stored gates and the state before it. Writes dpre (D, 3H, B)
    and dgh (D, 3H, B). The NumPy loop's operations in its order: dz = dh (h - n);
    dn = dh (1 - z) (1 - n^2); the r and z rows times rz (1 - rz); dgh's n rows dn r."""
    D, H, B = n.shape
    for d in range(D):
        for k in range(H):
            r, z, nk, gn, hp = rz[d, k], rz[d, H + k], n[d, k], ghn[d, k], h_prev[d, k]
            dhr, dyr = dh[d, k], dy[d, k]
            pr, pz, pn = dpre[d, k], dpre[d, H + k], dpre[d, 2 * H + k]
            gr, gz, gnn = dgh[d, k], dgh[d, H + k], dgh[d, 2 * H + k]
            for b in range(B):
                h_grad = dhr[b] + dyr[b]
                rb, zb, nb = r[b], z[b], nk[b]
                dz = h_grad * (hp[b] - nb)
                dn = h_grad * (one - zb) * (one - nb * nb)
                dr = dn * gn[b] * (rb * (one - rb))
                dzp = dz * (zb * (one - zb))
                pr[b] = dr
                pz[b] = dzp
                pn[b] = dn
                gr[b] = dr
                gz[b] = dzp
                gnn[b] = dn * rb
                dhr[b] = h_grad * zb


GRU_CELL_BACKWARD = kernels.Kernel(_gru_cell_backward)
