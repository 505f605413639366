"""Plain NumPy references for the ops whose forward is not one NumPy call: convolutions, pooling,
resizing (explicit loops over windows) and recurrent layers (the equations of PyTorch's
documentation, one time step at a time). Shared by the op registry and the op and layer tests."""

from __future__ import annotations

import itertools
import math

import numpy as np


def _pairs(padding, kernel, dilation):
    """(before, after) per axis, as the convolution pads."""
    if padding == "valid":
        return [(0, 0)] * len(kernel)
    if padding == "same":
        totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return [(t // 2, t - t // 2) for t in totals]
    return [(p, p) for p in padding]


def reference_conv(x, w, b, stride, padding, dilation, groups):
    """Direct convolution: for every sample, output channel and output position, the sum over the
    window. ``stride``, ``padding``, ``dilation`` are tuples (or 'same'/'valid' padding)."""
    n, c = x.shape[:2]
    o, cg = w.shape[:2]
    kernel = w.shape[2:]
    pads = _pairs(padding, kernel, dilation)
    xp = np.pad(x, [(0, 0), (0, 0)] + pads)
    out_size = [(xp.shape[2 + i] - dilation[i] * (kernel[i] - 1) - 1) // stride[i] + 1 for i in range(len(kernel))]
    og = o // groups
    y = np.zeros((n, o, *out_size))
    for i in range(n):
        for oc in range(o):
            first = (oc // og) * cg
            for pos in np.ndindex(*out_size):
                total = 0.0
                for k in np.ndindex(*kernel):
                    at = tuple(p * s + kk * d for p, s, kk, d in zip(pos, stride, k, dilation))
                    for ci in range(cg):
                        total += xp[(i, first + ci) + at] * w[(oc, ci) + k]
                y[(i, oc) + pos] = total + (b[oc] if b is not None else 0.0)
    return y


def reference_conv_transpose(x, w, b, stride, padding, output_padding, groups, dilation):
    """Direct transposed convolution: every input element scatters ``x * w`` onto the output."""
    n, c = x.shape[:2]
    og = w.shape[1]
    kernel = w.shape[2:]
    cg = c // groups
    size = [
        (x.shape[2 + i] - 1) * stride[i] - 2 * padding[i] + dilation[i] * (kernel[i] - 1) + output_padding[i] + 1
        for i in range(len(kernel))
    ]
    full = np.zeros((n, og * groups, *[s + 2 * p for s, p in zip(size, padding)]))
    for i in range(n):
        for ci in range(c):
            group = ci // cg
            for pos in np.ndindex(*x.shape[2:]):
                for k in np.ndindex(*kernel):
                    at = tuple(p * s + kk * d for p, s, kk, d in zip(pos, stride, k, dilation))
                    for oc in range(og):
                        full[(i, group * og + oc) + at] += x[(i, ci) + pos] * w[(ci, oc) + k]
    inner = tuple(slice(p, p + s) for p, s in zip(padding, size))
    y = full[(slice(None), slice(None)) + inner]
    return y + (b.reshape(-1, *[1] * len(kernel)) if b is not None else 0.0)


def _pool_size(size, k, s, p, d, ceil_mode):
    span = size + 2 * p - d * (k - 1) - 1
    if not ceil_mode:
        return span // s + 1
    out = -(-span // s) + 1
    return out - 1 if (out - 1) * s >= size + p else out


def reference_max_pool(x, kernel, stride, padding, dilation, ceil_mode=False):
    """Loop over every window; returns the maxima and where each came from (first maximum)."""
    n, c = x.shape[:2]
    out_size = [
        _pool_size(x.shape[2 + i], kernel[i], stride[i], padding[i], dilation[i], ceil_mode) for i in range(len(kernel))
    ]
    y = np.zeros((n, c, *out_size))
    grad_map = []
    for i, ch in itertools.product(range(n), range(c)):
        for pos in np.ndindex(*out_size):
            best, where = -np.inf, None
            for k in np.ndindex(*kernel):
                at = tuple(p * s + kk * d - pad for p, s, kk, d, pad in zip(pos, stride, k, dilation, padding))
                if all(0 <= a < m for a, m in zip(at, x.shape[2:])) and x[(i, ch) + at] > best:
                    best, where = x[(i, ch) + at], at
            y[(i, ch) + pos] = best
            grad_map.append(((i, ch) + pos, (i, ch) + where))
    return y, grad_map


def reference_avg_pool(x, kernel, stride, padding, ceil_mode=False, count_include_pad=True, divisor_override=None):
    """Loop over every window; the divisor follows PyTorch (padding counts up to the declared
    padding, never past it; ``divisor_override``, when given, divides every window's sum)."""
    n, c = x.shape[:2]
    d = len(kernel)
    out_size = [_pool_size(x.shape[2 + i], kernel[i], stride[i], padding[i], 1, ceil_mode) for i in range(d)]
    y = np.zeros((n, c, *out_size))
    for i, ch in itertools.product(range(n), range(c)):
        for pos in np.ndindex(*out_size):
            total, real, declared = 0.0, 1, 1
            for ax in range(d):
                start = pos[ax] * stride[ax] - padding[ax]
                stop = min(start + kernel[ax], x.shape[2 + ax] + padding[ax])
                declared *= stop - start
                real *= min(stop, x.shape[2 + ax]) - max(start, 0)
            for k in np.ndindex(*kernel):
                at = tuple(p * s + kk - pad for p, s, kk, pad in zip(pos, stride, k, padding))
                if all(0 <= a < m for a, m in zip(at, x.shape[2:])):
                    total += x[(i, ch) + at]
            if divisor_override is not None:
                y[(i, ch) + pos] = total / divisor_override
            else:
                y[(i, ch) + pos] = total / (declared if count_include_pad else real)
    return y


def reference_adaptive_avg_pool(x, out_size):
    n, c = x.shape[:2]
    y = np.zeros((n, c, *out_size))
    for pos in np.ndindex(*out_size):
        window = tuple(
            slice(math.floor(p * m / o), math.ceil((p + 1) * m / o)) for p, m, o in zip(pos, x.shape[2:], out_size)
        )
        y[(slice(None), slice(None)) + pos] = x[(slice(None), slice(None)) + window].mean(axis=tuple(range(2, x.ndim)))
    return y


def reference_nearest(x, size=None, scale_factor=None):
    """Nearest-neighbour resize, one output position at a time: output size ``size``, or
    floor(input size * scale); output index i reads input index floor(i * input / output) for a
    given size, floor(i / scale) for a given scale, clamped to the last element."""
    spatial = x.shape[2:]
    d = len(spatial)
    if size is not None:
        out = (size,) * d if isinstance(size, int) else tuple(size)
        sources = [[min(math.floor(i * n / o), n - 1) for i in range(o)] for n, o in zip(spatial, out)]
    else:
        scales = (scale_factor,) * d if not isinstance(scale_factor, tuple) else scale_factor
        out = tuple(math.floor(n * s) for n, s in zip(spatial, scales))
        sources = [[min(math.floor(i / s), n - 1) for i in range(o)] for n, s, o in zip(spatial, scales, out)]
    y = np.zeros(x.shape[:2] + out)
    for pos in np.ndindex(*out):
        src = tuple(sources[ax][p] for ax, p in enumerate(pos))
        y[(slice(None), slice(None)) + pos] = x[(slice(None), slice(None)) + src]
    return y


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def reference_step(mode, x, h, c, w_ih, w_hh, b_ih, b_hh):
    """One time step, written out as the equations in PyTorch's documentation."""
    if mode == "lstm":
        gates = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh
        i, f, g, o = np.split(gates, 4, axis=-1)
        i, f, g, o = sigmoid(i), sigmoid(f), np.tanh(g), sigmoid(o)
        c = f * c + i * g
        return o * np.tanh(c), c
    if mode == "gru":
        x_r, x_z, x_n = np.split(x @ w_ih.T + b_ih, 3, axis=-1)
        h_r, h_z, h_n = np.split(h @ w_hh.T + b_hh, 3, axis=-1)
        r = sigmoid(x_r + h_r)
        z = sigmoid(x_z + h_z)
        n = np.tanh(x_n + r * h_n)
        return (1 - z) * n + z * h, None
    a = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh
    return (np.tanh(a) if mode == "rnn_tanh" else np.maximum(a, 0.0)), None


def reference(mode, x, params, num_layers, bidirectional, batch_first, h0=None, c0=None, masks=()):
    """A whole multi-layer network, one sample row at a time, time steps in a Python loop.

    ``params`` maps PyTorch's parameter names to arrays; ``masks[k]`` multiplies the output of
    layer k before layer k+1 reads it (dropout).
    """
    if batch_first:
        x = x.transpose(1, 0, 2)
    steps, batch = x.shape[:2]
    directions = 2 if bidirectional else 1
    hidden = params["weight_hh_l0"].shape[1]
    zeros = np.zeros((num_layers * directions, batch, hidden))
    h0 = zeros if h0 is None else h0
    c0 = zeros if c0 is None else c0
    h_n, c_n = [], []
    layer_input = x
    for layer in range(num_layers):
        outputs = []
        for d in range(directions):
            name = f"_l{layer}" + ("_reverse" if d else "")
            w_ih, w_hh = params["weight_ih" + name], params["weight_hh" + name]
            b_ih = params.get("bias_ih" + name, 0.0)
            b_hh = params.get("bias_hh" + name, 0.0)
            h, c = h0[layer * directions + d], c0[layer * directions + d]
            out = np.zeros((steps, batch, hidden))
            for t in range(steps) if d == 0 else reversed(range(steps)):
                h, c = reference_step(mode, layer_input[t], h, c, w_ih, w_hh, b_ih, b_hh)
                out[t] = h
            outputs.append(out)
            h_n.append(h)
            c_n.append(c)
        layer_input = np.concatenate(outputs, axis=-1)
        if layer < len(masks):
            layer_input = layer_input * masks[layer]
    output = layer_input.transpose(1, 0, 2) if batch_first else layer_input
    return output, np.stack(h_n), (np.stack(c_n) if mode == "lstm" else None)
