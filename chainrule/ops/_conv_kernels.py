"""A convolution's input gradient scatter as one compiled loop (numba, the extra ``fast``).

``_input_grad`` adds, for each kernel offset, a (N * out, C) block of contributions onto the input
positions that offset read. With NumPy that is one strided ``+=`` per offset, each a separate
pass; the loop below adds every offset's rows in one call, element by element in the same order
(offset by offset, so every input position sums its contributions in the order NumPy does: the
result is the same bit for bit).
"""

from __future__ import annotations

import functools

import numpy as np

from chainrule import kernels


def _scatter_add(out, parts, rows):  # noqa: ANN001, ANN202
    """out[rows[k, p], :] += parts[k, p, :] for each offset k, in order (out: (M, C), C order)."""
    K, P, C = parts.shape
    for k in range(K):
        for p in range(P):
            target = out[rows[k, p]]
            source = parts[k, p]
            for c in range(C):
                target[c] += source[c]


SCATTER_ADD = kernels.Kernel(_scatter_add)


@functools.lru_cache(maxsize=64)
def destination_rows(
    batch: int, padded: tuple[int, ...], out: tuple[int, ...], kernel: tuple[int, ...], stride: tuple, dilation: tuple
) -> np.ndarray:
    """For each kernel offset and output position, the row of the padded channels-last input
    (flattened to (N * padded positions, C)) that the offset's window read: (K, N * out) int64."""
    positions = np.arange(batch * int(np.prod(padded)), dtype=np.int64).reshape(batch, *padded)
    rows = []
    for ks in np.ndindex(*kernel):
        where = tuple(slice(k * di, k * di + s * (o - 1) + 1, s) for k, di, s, o in zip(ks, dilation, stride, out))
        rows.append(positions[(slice(None), *where)].reshape(-1))
    result = np.stack(rows)
    result.flags.writeable = False
    return result
