"""Shape operations: reshape, transpose, broadcast, indexing, concatenate, pad, and those built on them."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule.autograd import Function, _mode
from chainrule.interpreters import index_add
from chainrule.ops.elementwise import lift, where
from chainrule.tensor import Tensor


def axis_or_dim(op: str, axis: Any, dim: Any, default: Any = None) -> Any:
    """``axis`` (NumPy's name) or ``dim`` (PyTorch's): both spellings accepted, both at once refused."""
    if dim is not None:
        if axis is not None:
            raise TypeError(
                f"{op}: got both axis={axis!r} and dim={dim!r}; they are NumPy's and PyTorch's names for one "
                "thing, give one"
            )
        return dim
    return default if axis is None else axis


def normalize_axis(axis: int, ndim: int, op: str) -> int:
    """A non-negative axis of a tensor with ``ndim`` dimensions (negatives count from the end).

    An axis out of range is an error naming ``op``, never silently wrapped around.
    """
    if not -ndim <= axis < ndim:
        raise ValueError(f"{op}: axis {axis} is out of range for a tensor with {ndim} dimensions")
    return int(axis) % ndim


def _insert_axis(axis: int, shape: tuple[int, ...], op: str) -> int:
    """Where a new axis goes among ``len(shape) + 1`` positions (unsqueeze, stack)."""
    ndim = len(shape) + 1
    if not -ndim <= axis < ndim:
        raise ValueError(f"{op}: axis {axis} is out of range for inserting an axis into shape {shape}")
    return int(axis) % ndim


class Reshape(Function):
    def forward(self, a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        try:
            return a.reshape(shape)
        except ValueError:
            raise ValueError(
                f"reshape: cannot reshape a tensor of shape {a.shape} ({a.size} elements) into {shape}"
            ) from None

    def backward(self, ns, grad, a):
        return ns.reshape(grad, a.shape)


class Transpose(Function):
    def forward(self, a: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
        self.axes = axes
        return np.transpose(a, axes)

    def backward(self, ns, grad, a):
        return ns.transpose(grad, tuple(int(i) for i in np.argsort(self.axes)))


class BroadcastTo(Function):
    def forward(self, a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        try:
            return np.broadcast_to(a, shape)
        except ValueError:
            raise ValueError(f"broadcast_to: cannot broadcast shape {a.shape} to {shape}") from None

    def backward(self, ns, grad, a):
        return grad  # the graph walk sums it back over the broadcast axes


def unwrap_index(index: Any, masks: bool = True) -> Any:
    """Replace Tensors inside an index by their arrays, and boolean masks by integer arrays.

    Masks become ``nonzero()`` index arrays, which select the same elements and let the backward
    scatter with ``np.add.at`` (``masks=False`` keeps them: ``Index`` converts them in its forward,
    so that a compiled step converts each call's mask again). A list or a tuple inside the index is a
    sequence of indices, as in NumPy (``x[((0, 0, 2),)]`` is ``x[[0, 0, 2]]``): it becomes an array,
    so that repeats accumulate.
    """
    items = index if isinstance(index, tuple) else (index,)
    out = []
    for i in items:
        if isinstance(i, Tensor):
            i = i._data
        if isinstance(i, (list, tuple)):
            i = np.asarray(i)
        if isinstance(i, np.ndarray) and i.dtype == bool and masks:
            out.extend(np.nonzero(i))
            continue
        if isinstance(i, np.ndarray) and i.dtype.kind not in "iub":
            raise IndexError(f"index: index arrays must be integers or booleans, got dtype {i.dtype}")
        out.append(i)
    return tuple(out) if isinstance(index, tuple) or len(out) != 1 else out[0]


class Index(Function):
    def forward(self, a: np.ndarray, index: Any) -> np.ndarray:
        index = self.index = unwrap_index(index)  # boolean masks to integer arrays, here
        try:
            return a[index]
        except IndexError as e:
            raise IndexError(f"index: {e} (tensor of shape {a.shape})") from None

    def backward(self, ns, grad, a):
        return ns.index_add(grad, ns.saved(self, "index"), a.shape)


class IndexAdd(Function):
    """The backward of indexing: zeros of the input's shape with ``grad`` added at ``index``.

    Repeated indices accumulate (``np.add.at``); basic indices (ints, slices) cannot repeat, so
    they take a plain assignment.
    """

    def forward(self, grad: np.ndarray, index: Any, shape: tuple[int, ...]) -> np.ndarray:
        self.index = index
        return index_add(grad, index, shape)

    def backward(self, ns, grad, g):
        return ns.index(grad, ns.saved(self, "index"))


class Concat(Function):
    def forward(self, *arrays: np.ndarray, axis: int) -> np.ndarray:
        self.axis = axis
        try:
            return np.concatenate(arrays, axis=axis)
        except ValueError:
            shapes = ", ".join(str(a.shape) for a in arrays)
            raise ValueError(f"concatenate: shapes {shapes} differ outside axis {axis}") from None

    def backward(self, ns, grad, *inputs):
        grads, start = [], 0
        lead = (slice(None),) * self.axis
        for i, t in enumerate(inputs):
            stop = start + t.shape[self.axis]
            grads.append(ns.index(grad, lead + (slice(start, stop),)) if self.needs(i) else None)
            start = stop
        return tuple(grads)


class Pad(Function):
    def forward(self, a: np.ndarray, pad_width: tuple[tuple[int, int], ...], value: float) -> np.ndarray:
        self.pad_width = pad_width
        return np.pad(a, pad_width, mode="constant", constant_values=value)

    def backward(self, ns, grad, a):
        inner = tuple(slice(lo, n - hi) for (lo, hi), n in zip(self.pad_width, grad.shape))
        return ns.index(grad, inner)


def reshape(x: Tensor, shape: Sequence[int]) -> Tensor:
    """The same values in a new shape (one dimension may be -1).

    Example:
        >>> import chainrule as cr
        >>> cr.reshape(cr.arange(6.0), (2, -1))
        tensor([[0., 1., 2.],
                [3., 4., 5.]])
    """
    x = lift(x)
    shape = tuple(int(n) for n in shape)
    if shape == x.shape:
        return x
    return Reshape.apply(x, shape=shape)


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dimensions ``start_dim`` to ``end_dim`` (inclusive) into one.

    Example:
        >>> import chainrule as cr
        >>> cr.flatten(cr.ones(2, 3, 4), start_dim=1).shape
        (2, 12)
    """
    x = lift(x)
    if x.ndim == 0:
        return reshape(x, (1,))
    start, end = normalize_axis(start_dim, x.ndim, "flatten"), normalize_axis(end_dim, x.ndim, "flatten")
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for shape {x.shape}")
    merged = int(np.prod(x.shape[start : end + 1]))
    return reshape(x, x.shape[:start] + (merged,) + x.shape[end + 1 :])


def transpose(x: Tensor, axes: Sequence[int] | int | None = None, dim1: int | None = None) -> Tensor:
    """Permute the axes (reverse them when ``axes`` is None), NumPy's form; or, given two
    dimensions (PyTorch's ``transpose(x, dim0, dim1)``), swap them.

    Example:
        >>> import chainrule as cr
        >>> cr.transpose(cr.ones(2, 3, 4), (2, 0, 1)).shape, cr.transpose(cr.ones(2, 3)).shape
        ((4, 2, 3), (3, 2))
        >>> cr.transpose(cr.ones(2, 3, 4), 0, 2).shape
        (4, 3, 2)
    """
    if dim1 is not None:
        if not isinstance(axes, (int, np.integer)):
            raise TypeError(f"transpose: with two dimensions to swap, both must be integers, got {axes!r} and {dim1!r}")
        return swapaxes(x, axes, dim1)
    x = lift(x)
    if axes is None:
        axes = tuple(reversed(range(x.ndim)))
    axes = tuple(normalize_axis(a, x.ndim, "transpose") for a in axes)
    if sorted(axes) != list(range(x.ndim)):
        raise ValueError(f"transpose: {axes} is not a permutation of the axes of a tensor of shape {x.shape}")
    return Transpose.apply(x, axes=axes)


def permute(x: Tensor, axes: Sequence[int]) -> Tensor:
    """Permute the axes into the order ``axes`` (PyTorch's name for transpose with axes).

    Example:
        >>> import chainrule as cr
        >>> cr.permute(cr.ones(2, 3, 4), (1, 2, 0)).shape
        (3, 4, 2)
    """
    return transpose(x, axes)


def swapaxes(x: Tensor, axis1: int, axis2: int) -> Tensor:
    """Exchange two axes.

    Example:
        >>> import chainrule as cr
        >>> cr.swapaxes(cr.ones(2, 3, 4), 0, 2).shape
        (4, 3, 2)
    """
    x = lift(x)
    axis1, axis2 = normalize_axis(axis1, x.ndim, "swapaxes"), normalize_axis(axis2, x.ndim, "swapaxes")
    axes = list(range(x.ndim))
    axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
    return transpose(x, axes)


def squeeze(x: Tensor, axis: int | Sequence[int] | None = None, *, dim: int | Sequence[int] | None = None) -> Tensor:
    """Remove axes of length 1 (all of them, or those named; a named axis longer than 1 stays,
    as in PyTorch).

    Example:
        >>> import chainrule as cr
        >>> x = cr.ones(1, 3, 1)
        >>> cr.squeeze(x).shape, cr.squeeze(x, -1).shape, cr.squeeze(x, 1).shape
        ((3,), (1, 3), (1, 3, 1))
    """
    axis = axis_or_dim("squeeze", axis, dim)
    x = lift(x)
    if axis is None:
        return reshape(x, tuple(n for n in x.shape if n != 1))
    if x.ndim == 0:
        return reshape(x, ())  # (PyTorch: squeeze(0) of a 0-d tensor is the tensor)
    axes = {normalize_axis(a, x.ndim, "squeeze") for a in ((axis,) if isinstance(axis, numbers.Integral) else axis)}
    # a named axis longer than 1 stays, as in PyTorch (NumPy raises): x.squeeze(0) on a batch of one or more
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if i not in axes or n != 1))


def unsqueeze(x: Tensor, axis: int | None = None, *, dim: int | None = None) -> Tensor:
    """Insert an axis of length 1 at position ``axis``.

    Example:
        >>> import chainrule as cr
        >>> cr.unsqueeze(cr.ones(3), 0).shape
        (1, 3)
    """
    axis = axis_or_dim("unsqueeze", axis, dim)
    if axis is None:
        raise TypeError("unsqueeze: give the position of the new axis (axis= or dim=)")
    x = lift(x)
    axis = _insert_axis(axis, x.shape, "unsqueeze")
    return reshape(x, x.shape[:axis] + (1,) + x.shape[axis:])


def broadcast_to(x: Tensor, shape: Sequence[int]) -> Tensor:
    """Expand to ``shape`` by NumPy broadcasting; -1 keeps a dimension (``expand`` in PyTorch).

    Example:
        >>> import chainrule as cr
        >>> cr.broadcast_to(cr.tensor([1.0, 2.0]), (2, 2))
        tensor([[1., 2.],
                [1., 2.]])
    """
    x = lift(x)
    shape = tuple(int(n) for n in shape)
    lead = len(shape) - x.ndim
    shape = tuple(x.shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(shape))
    if shape == x.shape:
        return x
    return BroadcastTo.apply(x, shape=shape)


expand = broadcast_to


def index(x: Tensor, idx: Any) -> Tensor:
    """``x[idx]`` with ints, slices, None, Ellipsis, boolean masks and integer arrays.

    Gradients of repeated indices accumulate.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
        >>> x[[0, 0, 2]].sum().backward()
        >>> x.grad
        tensor([2., 0., 1.])
    """
    index = unwrap_index(idx, masks=False)
    if _mode.recorder is not None and _has_mask(index):
        _mode.recorder.refuse(_DATA_SHAPE)
    return Index.apply(lift(x), index=index)


_DATA_SHAPE = (
    "a boolean mask selects elements (x[mask]): how many depends on the data, so the shapes after it "
    "change from call to call (write cr.where(mask, x, 0) to keep the shape)"
)


def _has_mask(index: Any) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, np.ndarray) and i.dtype == bool for i in items)


def concatenate(tensors: Sequence[Tensor], axis: int | None = None, *, dim: int | None = None) -> Tensor:
    """Join tensors along an existing axis.

    Example:
        >>> import chainrule as cr
        >>> cr.concatenate([cr.ones(1, 2), cr.zeros(1, 2)], axis=0)
        tensor([[1., 1.],
                [0., 0.]])
    """
    axis = axis_or_dim("concatenate", axis, dim, 0)
    tensors = [lift(t) for t in tensors]
    if not tensors:
        raise ValueError("concatenate: needs at least one tensor")
    ndim = tensors[0].ndim
    if any(t.ndim != ndim for t in tensors):
        raise ValueError(f"concatenate: tensors have different numbers of dimensions: {[t.shape for t in tensors]}")
    if ndim == 0:
        raise ValueError("concatenate: 0-d tensors cannot be concatenated; use stack")
    return Concat.apply(*tensors, axis=normalize_axis(axis, ndim, "concatenate"))


concat = concatenate
cat = concatenate


def stack(tensors: Sequence[Tensor], axis: int | None = None, *, dim: int | None = None) -> Tensor:
    """Join tensors of equal shape along a new axis.

    Example:
        >>> import chainrule as cr
        >>> cr.stack([cr.ones(2), cr.zeros(2)], axis=1)
        tensor([[1., 0.],
                [1., 0.]])
    """
    axis = axis_or_dim("stack", axis, dim, 0)
    tensors = [lift(t) for t in tensors]
    if not tensors:
        raise ValueError("stack: needs at least one tensor")
    shapes = {t.shape for t in tensors}
    if len(shapes) != 1:
        raise ValueError(f"stack: all tensors must have the same shape, got {[t.shape for t in tensors]}")
    axis = _insert_axis(axis, tensors[0].shape, "stack")
    return concatenate([unsqueeze(t, axis) for t in tensors], axis=axis)


def split(
    x: Tensor, split_size_or_sections: int | Sequence[int], axis: int | None = None, *, dim: int | None = None
) -> list[Tensor]:
    """Cut into pieces along ``axis``: pieces of a given size (an int) or of the sizes listed.

    As in PyTorch, an int is the size of each piece (the last may be smaller).

    Example:
        >>> import chainrule as cr
        >>> [p.shape for p in cr.split(cr.ones(5, 2), 2)]
        [(2, 2), (2, 2), (1, 2)]
    """
    x = lift(x)
    axis = normalize_axis(axis_or_dim("split", axis, dim, 0), x.ndim, "split")
    n = x.shape[axis]
    if isinstance(split_size_or_sections, numbers.Integral):
        size = int(split_size_or_sections)
        if size <= 0:
            raise ValueError(f"split: piece size must be positive, got {size}")
        sizes = [size] * (n // size) + ([n % size] if n % size else [])
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n:
            raise ValueError(f"split: sizes {sizes} add up to {sum(sizes)}, but axis {axis} has length {n}")
    pieces, start = [], 0
    lead = (slice(None),) * axis
    for s in sizes:
        pieces.append(index(x, lead + (slice(start, start + s),)))
        start += s
    return pieces


def pad(x: Tensor, pad_width: Sequence[Sequence[int]] | int, value: float = 0.0) -> Tensor:
    """Pad with a constant, NumPy style: ``pad_width`` is ((before, after), ...) per axis, or an int for all.

    Example:
        >>> import chainrule as cr
        >>> cr.pad(cr.ones(1, 2), ((0, 0), (1, 1)))
        tensor([[0., 1., 1., 0.]])
    """
    x = lift(x)
    if isinstance(pad_width, numbers.Integral):
        widths = ((int(pad_width), int(pad_width)),) * x.ndim
    else:
        widths = tuple((int(lo), int(hi)) for lo, hi in pad_width)
    if len(widths) != x.ndim:
        raise ValueError(f"pad: got widths for {len(widths)} axes, but the tensor has shape {x.shape}")
    if any(lo < 0 or hi < 0 for lo, hi in widths):
        raise ValueError(f"pad: widths must be non-negative, got {widths}")
    return Pad.apply(x, pad_width=widths, value=value)


def repeat(x: Tensor, repeats: Sequence[int]) -> Tensor:
    """Tile the tensor ``repeats[i]`` times along axis i (PyTorch's ``Tensor.repeat``, NumPy's ``tile``).

    Example:
        >>> import chainrule as cr
        >>> cr.repeat(cr.tensor([1.0, 2.0]), (2, 2))
        tensor([[1., 2., 1., 2.],
                [1., 2., 1., 2.]])
    """
    x = lift(x)
    repeats = tuple(int(r) for r in repeats)
    if len(repeats) < x.ndim:
        raise ValueError(f"repeat: give at least {x.ndim} repeat counts for shape {x.shape}, got {repeats}")
    shape = (1,) * (len(repeats) - x.ndim) + x.shape
    # (a, b) -> (1, a, 1, b) -> (ra, a, rb, b) -> (ra*a, rb*b): every copy is one broadcast
    interleaved = tuple(d for n in shape for d in (1, n))
    expanded = tuple(d for r, n in zip(repeats, shape) for d in (r, n))
    out = broadcast_to(reshape(x, interleaved), expanded)
    return reshape(out, tuple(r * n for r, n in zip(repeats, shape)))


# ------------------------------------------------------------------ PyTorch's indexing helpers (through ``index``)


_select = index  # (the functions below take PyTorch's argument named ``index``)


def _index_array(index: Any, op: str, bound: int, axis: int) -> np.ndarray:
    """``index`` (a Tensor or array of integers) as an int64 array whose values lie in [0, bound);
    an out-of-range or negative value is an error (NumPy would wrap a negative one silently)."""
    array = np.asarray(index._data if isinstance(index, Tensor) else index)
    if array.dtype.kind not in "iu":
        raise TypeError(f"{op}: index must hold integers, got dtype {array.dtype}")
    if array.size and (array.min() < 0 or array.max() >= bound):
        bad = int(array.min()) if array.min() < 0 else int(array.max())
        raise IndexError(f"{op}: index {bad} is out of bounds for dimension {axis} with size {bound}")
    return array.astype(np.int64, copy=False)


def gather(x: Tensor, dim: int, index: Any) -> Tensor:
    """PyTorch's ``gather``: ``out[i][j] = x[index[i][j]][j]`` for ``dim=0`` (and so on): ``index``
    has ``x``'s number of dimensions, and no dimension larger than ``x``'s except ``dim``. The
    gradient goes back to the picked elements (repeats add up).

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([[1.0, 2.0], [3.0, 4.0]])
        >>> cr.gather(x, 1, cr.tensor([[0, 0], [1, 0]]))
        tensor([[1., 1.],
                [4., 3.]])
    """
    x = lift(x)
    axis = normalize_axis(dim, max(x.ndim, 1), "gather")
    picked = _index_array(index, "gather", x.shape[axis] if x.ndim else 1, axis)
    if picked.ndim != x.ndim:
        raise ValueError(f"gather: index has {picked.ndim} dimensions but the tensor has {x.ndim}; they must match")
    if any(n > m for d, (n, m) in enumerate(zip(picked.shape, x.shape)) if d != axis):
        raise ValueError(
            f"gather: index of shape {picked.shape} is larger than the tensor's {x.shape} outside dimension {axis}"
        )
    if x.ndim == 0:
        return x
    return take_along(x, picked, axis)


def take_along(x: Tensor, indices: np.ndarray, axis: int) -> Tensor:
    """``x`` picked at ``indices`` along ``axis`` (NumPy's take_along_axis: ``indices`` may be
    smaller than ``x`` along the other axes), through the differentiable index; what ``gather``,
    ``sort`` and ``topk`` pick with."""
    grids = list(np.ogrid[tuple(slice(n) for n in indices.shape)])
    grids[axis] = indices
    return _select(x, tuple(grids))


def index_select(x: Tensor, dim: int, index: Any) -> Tensor:
    """The entries at the positions ``index`` (a 1-d integer tensor) along ``dim``, as PyTorch's.

    Example:
        >>> import chainrule as cr
        >>> cr.index_select(cr.tensor([[1.0, 2.0, 3.0]]), 1, cr.tensor([2, 0]))
        tensor([[3., 1.]])
    """
    x = lift(x)
    axis = normalize_axis(dim, x.ndim, "index_select")
    picked = _index_array(index, "index_select", x.shape[axis], axis)
    if picked.ndim > 1:
        raise ValueError(f"index_select: index must be 1-d, got shape {picked.shape}")
    given = reshape(index, (-1,)) if isinstance(index, Tensor) else picked.reshape(-1)
    return _select(x, (slice(None),) * axis + (given,))


def flip(x: Tensor, dims: int | Sequence[int]) -> Tensor:
    """The entries in reverse order along each of ``dims``.

    Example:
        >>> import chainrule as cr
        >>> cr.flip(cr.tensor([[1.0, 2.0], [3.0, 4.0]]), 1)
        tensor([[2., 1.],
                [4., 3.]])
    """
    x = lift(x)
    listed = [normalize_axis(a, x.ndim, "flip") for a in ((dims,) if isinstance(dims, numbers.Integral) else dims)]
    if len(set(listed)) != len(listed):
        raise ValueError(f"flip: dims {tuple(dims)} name an axis twice")
    axes = set(listed)
    return _select(x, tuple(slice(None, None, -1) if a in axes else slice(None) for a in range(x.ndim)))


def roll(x: Tensor, shifts: int | Sequence[int], dims: int | Sequence[int] | None = None) -> Tensor:
    """The entries shifted by ``shifts`` along ``dims``, those pushed off the end coming back at the
    start (the flattened tensor when ``dims`` is None), as PyTorch's and NumPy's ``roll``.

    Example:
        >>> import chainrule as cr
        >>> cr.roll(cr.tensor([1.0, 2.0, 3.0, 4.0]), 1)
        tensor([4., 1., 2., 3.])
    """
    x = lift(x)
    if dims is None:
        if not isinstance(shifts, numbers.Integral):
            raise TypeError("roll: without dims, shifts is one number (the flattened tensor is rolled)")
        return reshape(roll(reshape(x, (-1,)), shifts, 0), x.shape)
    shifts = (shifts,) if isinstance(shifts, numbers.Integral) else tuple(shifts)
    dims = (dims,) if isinstance(dims, numbers.Integral) else tuple(dims)
    if len(shifts) != len(dims):
        raise ValueError(f"roll: {len(shifts)} shift(s) for {len(dims)} dim(s); give one shift per dim")
    out = x
    for shift, dim in zip(shifts, dims):
        axis = normalize_axis(dim, x.ndim, "roll")
        order = np.roll(np.arange(x.shape[axis]), shift)
        out = _select(out, (slice(None),) * axis + (order,))
    return out


def _triangle(x: Tensor, diagonal: int, op: str, upper: bool) -> Tensor:
    x = lift(x)
    if x.ndim < 2:
        raise ValueError(f"{op}: needs a tensor of at least 2 dimensions (matrices), got shape {x.shape}")
    rows, cols = x.shape[-2:]
    keep = (np.triu if upper else np.tril)(np.ones((rows, cols), dtype=bool), diagonal)
    return where(keep, x, Tensor._make(np.zeros((), dtype=x.dtype)))


def tril(x: Tensor, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two dimensions (on and below ``diagonal``), zeros above.

    Example:
        >>> import chainrule as cr
        >>> cr.tril(cr.ones(3, 3))
        tensor([[1., 0., 0.],
                [1., 1., 0.],
                [1., 1., 1.]])
    """
    return _triangle(x, diagonal, "tril", upper=False)


def triu(x: Tensor, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two dimensions (on and above ``diagonal``), zeros below.

    Example:
        >>> import chainrule as cr
        >>> cr.triu(cr.ones(2, 3), 1)
        tensor([[0., 1., 1.],
                [0., 0., 1.]])
    """
    return _triangle(x, diagonal, "triu", upper=True)


def chunk(x: Tensor, chunks: int, dim: int = 0) -> list[Tensor]:
    """Cut into ``chunks`` pieces along ``dim``, each of ceil(size / chunks) entries but the last
    (so fewer pieces when the size does not allow as many), as PyTorch's.

    Example:
        >>> import chainrule as cr
        >>> [p.shape for p in cr.chunk(cr.ones(5, 2), 3)]
        [(2, 2), (2, 2), (1, 2)]
    """
    if not isinstance(chunks, numbers.Integral) or chunks < 1:
        raise ValueError(f"chunk: chunks must be a whole number >= 1, got {chunks!r}")
    x = lift(x)
    axis = normalize_axis(dim, x.ndim, "chunk")
    if x.shape[axis] == 0:  # (PyTorch: as many empty pieces as asked)
        return split(x, [0] * int(chunks), axis)
    return split(x, -(-x.shape[axis] // int(chunks)), axis)


# ------------------------------------------------------------------ more of PyTorch's shape functions


def unbind(x: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    """The slices along ``dim``, that dimension removed, as a tuple (PyTorch's ``unbind``).

    Example:
        >>> import chainrule as cr
        >>> cr.unbind(cr.tensor([[1.0, 2.0], [3.0, 4.0]]), dim=1)
        (tensor([1., 3.]), tensor([2., 4.]))
    """
    x = lift(x)
    if x.ndim == 0:
        raise ValueError("unbind: a 0-d tensor has no dimension to unbind")
    axis = normalize_axis(dim, x.ndim, "unbind")
    lead = (slice(None),) * axis
    return tuple(_select(x, lead + (i,)) for i in range(x.shape[axis]))


def _counts(repeats: Any, op: str) -> np.ndarray:
    """Repeat counts (an int, a list or an integer tensor) as an int64 array, none negative."""
    counts = np.asarray(repeats._data if isinstance(repeats, Tensor) else repeats)
    if counts.dtype.kind not in "iu" and not (counts.dtype == bool and counts.ndim):
        raise TypeError(f"{op}: repeats must be integers, got {repeats!r}")
    if counts.ndim > 1:
        raise ValueError(f"{op}: repeats must be an integer or a 1-d tensor, got shape {counts.shape}")
    if counts.size and counts.min() < 0:
        raise ValueError(f"{op}: repeats must be non-negative, got {counts.tolist()}")
    return counts.astype(np.int64)


def repeat_interleave(
    x: Tensor, repeats: Any = None, dim: int | None = None, *, output_size: int | None = None
) -> Tensor:
    """Each entry repeated ``repeats`` times along ``dim`` (the flattened tensor when ``dim`` is
    None), as PyTorch's: ``repeats`` is one count or one per entry of ``dim`` (a list or a 1-d
    integer tensor). ``repeat_interleave(counts)`` alone repeats each index ``counts[i]`` times.
    The gradient of each entry is the sum over its copies.

    Example:
        >>> import chainrule as cr
        >>> cr.repeat_interleave(cr.tensor([1.0, 2.0]), 2)
        tensor([1., 1., 2., 2.])
        >>> cr.repeat_interleave(cr.tensor([[1.0, 2.0], [3.0, 4.0]]), cr.tensor([1, 2]), dim=0)
        tensor([[1., 2.],
                [3., 4.],
                [3., 4.]])
        >>> cr.repeat_interleave(cr.tensor([2, 1]))
        tensor([0, 0, 1])
    """
    if repeats is None:  # repeat_interleave(counts): the indices, each its count times
        counts = _counts(x, "repeat_interleave")
        if counts.ndim != 1:
            raise ValueError(f"repeat_interleave: the counts must be a 1-d tensor, got shape {counts.shape}")
        return Tensor._make(np.repeat(np.arange(len(counts), dtype=np.int64), counts))
    x = lift(x)
    if isinstance(repeats, Tensor) and _mode.recorder is not None:
        _mode.recorder.read("repeat_interleave with a tensor of repeats")
    counts = _counts(repeats, "repeat_interleave")
    if dim is None:
        x, axis = reshape(x, (-1,)), 0
    else:
        axis = normalize_axis(dim, max(x.ndim, 1), "repeat_interleave")
        if x.ndim == 0:
            x = reshape(x, (1,))
    n = x.shape[axis]
    if counts.size == 1:
        counts = np.full(n, counts.reshape(-1)[0])
    elif counts.shape != (n,):
        raise ValueError(
            f"repeat_interleave: {counts.size} repeats for dimension {axis} of size {n}; give one count or {n}"
        )
    order = np.repeat(np.arange(n), counts)
    if output_size is not None and output_size != len(order):
        raise ValueError(f"repeat_interleave: output_size={output_size}, but the repeats make {len(order)} entries")
    return _select(x, (slice(None),) * axis + (order,))


def tile(x: Tensor, dims: Sequence[int]) -> Tensor:
    """The tensor repeated ``dims[i]`` times along dimension i, as PyTorch's ``tile``: fewer ``dims``
    than dimensions are padded with 1s in front (``repeat`` would refuse them).

    Example:
        >>> import chainrule as cr
        >>> cr.tile(cr.tensor([[1.0, 2.0]]), (2,))
        tensor([[1., 2., 1., 2.]])
    """
    x = lift(x)
    dims = (dims,) if isinstance(dims, numbers.Integral) else tuple(dims)
    return repeat(x, (1,) * (x.ndim - len(dims)) + dims)


def movedim(x: Tensor, source: int | Sequence[int], destination: int | Sequence[int]) -> Tensor:
    """The dimensions ``source`` moved to the positions ``destination``, the others keeping their
    order (PyTorch's ``movedim``, NumPy's ``moveaxis``).

    Example:
        >>> import chainrule as cr
        >>> cr.movedim(cr.zeros(2, 3, 4), 0, -1).shape, cr.movedim(cr.zeros(2, 3, 4), (0, 1), (2, 0)).shape
        ((3, 4, 2), (3, 4, 2))
    """
    x = lift(x)
    sources = (source,) if isinstance(source, numbers.Integral) else tuple(source)
    targets = (destination,) if isinstance(destination, numbers.Integral) else tuple(destination)
    if len(sources) != len(targets):
        raise ValueError(
            f"movedim: {len(sources)} source dims {sources} but {len(targets)} destinations {targets}; give as many"
        )
    ndim = max(x.ndim, 1)
    sources = tuple(normalize_axis(a, ndim, "movedim") for a in sources)
    targets = tuple(normalize_axis(a, ndim, "movedim") for a in targets)
    for named, what in ((sources, "source"), (targets, "destination")):
        if len(set(named)) != len(named):
            raise ValueError(f"movedim: repeated dim in {what} {named}")
    if x.ndim == 0:
        return x
    rest = iter(a for a in range(x.ndim) if a not in sources)
    placed = dict(zip(targets, sources))
    return transpose(x, tuple(placed[i] if i in placed else next(rest) for i in range(x.ndim)))


moveaxis = movedim


def narrow(x: Tensor, dim: int, start: int | Tensor, length: int) -> Tensor:
    """The ``length`` entries from ``start`` along ``dim`` (a negative start counts from the end),
    as PyTorch's ``narrow``.

    Example:
        >>> import chainrule as cr
        >>> cr.narrow(cr.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), 1, -2, 2)
        tensor([[2., 3.],
                [5., 6.]])
    """
    x = lift(x)
    if x.ndim == 0:
        raise ValueError("narrow: a 0-d tensor has no dimension to narrow")
    axis = normalize_axis(dim, x.ndim, "narrow")
    n = x.shape[axis]
    if isinstance(start, Tensor):
        if start.ndim != 0 or start.dtype.kind not in "iu":
            raise TypeError(f"narrow: a tensor start must be a 0-d integer tensor, got {start.dtype} {start.shape}")
        if _mode.recorder is not None:
            _mode.recorder.read("narrow with a tensor start")
        start = int(start._data)
    if not -n <= start <= n:
        raise IndexError(f"narrow: start {start} is out of range for dimension {axis} of size {n}")
    start = start + n if start < 0 else start
    if length < 0 or start + length > n:
        raise ValueError(f"narrow: start ({start}) + length ({length}) exceeds dimension {axis} of size {n}")
    return _select(x, (slice(None),) * axis + (slice(start, start + length),))


def tensor_split(x: Tensor, indices_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """Cut along ``dim`` into ``n`` pieces of near-equal sizes (an int: the first ``size % n`` pieces
    one longer), or at the listed indices (``[2, 5]``: ``x[:2]``, ``x[2:5]``, ``x[5:]``), as
    PyTorch's ``tensor_split`` (and NumPy's ``array_split``).

    Example:
        >>> import chainrule as cr
        >>> [p.tolist() for p in cr.tensor_split(cr.arange(7), 3)]
        [[0, 1, 2], [3, 4], [5, 6]]
        >>> [p.tolist() for p in cr.tensor_split(cr.arange(7), [1, 5])]
        [[0], [1, 2, 3, 4], [5, 6]]
    """
    x = lift(x)
    if x.ndim == 0:
        raise ValueError("tensor_split: expected a tensor of at least one dimension, got a 0-d tensor")
    axis = normalize_axis(dim, x.ndim, "tensor_split")
    n = x.shape[axis]
    given = indices_or_sections
    if isinstance(given, Tensor):
        if given.dtype.kind not in "iu" or given.ndim > 1:
            raise TypeError(
                f"tensor_split: a tensor of indices or sections must be a 0-d or 1-d integer tensor, got "
                f"{given.dtype} of shape {given.shape}"
            )
        given = int(given._data) if given.ndim == 0 else [int(i) for i in given._data]
    if isinstance(given, numbers.Integral):
        sections = int(given)
        if sections <= 0:
            raise ValueError(f"tensor_split: the number of sections must be at least 1, got {sections}")
        sizes = [n // sections + (1 if k < n % sections else 0) for k in range(sections)]
        bounds = np.concatenate([[0], np.cumsum(sizes)]).tolist()
        pairs = list(zip(bounds[:-1], bounds[1:]))
    else:
        cuts = [int(i) for i in given]
        pairs = list(zip([0, *cuts], [*cuts, None]))
    lead = (slice(None),) * axis
    return tuple(_select(x, lead + (slice(lo, hi),)) for lo, hi in pairs)


def _at_least(x: Tensor, ndim: int) -> Tensor:
    """``x`` with dimensions of size 1 added as NumPy's atleast_1d / atleast_2d do."""
    if x.ndim >= ndim:
        return x
    return reshape(x, (1,) * (ndim - max(x.ndim, 1)) + (x.shape or (1,)))


def hstack(tensors: Sequence[Tensor]) -> Tensor:
    """Join side by side: 1-d tensors (0-d ones taken as 1-d) end to end, others along dim 1.

    Example:
        >>> import chainrule as cr
        >>> cr.hstack([cr.tensor([[1.0], [2.0]]), cr.tensor([[3.0], [4.0]])])
        tensor([[1., 3.],
                [2., 4.]])
    """
    tensors = [_at_least(lift(t), 1) for t in tensors]
    if not tensors:
        raise ValueError("hstack: needs at least one tensor")
    return concatenate(tensors, dim=0 if tensors[0].ndim == 1 else 1)


def vstack(tensors: Sequence[Tensor]) -> Tensor:
    """Join one below the other along dim 0, 1-d tensors as rows (0-d ones as 1x1).

    Example:
        >>> import chainrule as cr
        >>> cr.vstack([cr.tensor([1.0, 2.0]), cr.tensor([3.0, 4.0])])
        tensor([[1., 2.],
                [3., 4.]])
    """
    tensors = [_at_least(lift(t), 2) for t in tensors]
    if not tensors:
        raise ValueError("vstack: needs at least one tensor")
    return concatenate(tensors, dim=0)


def diag(x: Tensor, diagonal: int = 0) -> Tensor:
    """A 1-d tensor made the ``diagonal``-th diagonal of a square matrix of zeros (above the main
    one when positive), or the ``diagonal``-th diagonal of a 2-d tensor, as PyTorch's ``diag``.

    Example:
        >>> import chainrule as cr
        >>> cr.diag(cr.tensor([1.0, 2.0]), 1)
        tensor([[0., 1., 0.],
                [0., 0., 2.],
                [0., 0., 0.]])
        >>> cr.diag(cr.tensor([[1.0, 2.0], [3.0, 4.0]]))
        tensor([1., 4.])
    """
    x = lift(x)
    if not isinstance(diagonal, numbers.Integral) or isinstance(diagonal, bool):
        raise TypeError(f"diag: diagonal must be an integer, got {diagonal!r}")
    k = int(diagonal)
    if x.ndim == 1:
        n = x.shape[0]
        m = n + abs(k)
        if n == 0:
            return pad(reshape(x, (0, 0)), ((0, m), (0, m)))
        rows, cols = np.indices((m, m))
        on = cols - rows == k
        position = np.clip(rows if k >= 0 else cols, 0, n - 1)  # which entry of x each place shows
        zero = Tensor._make(np.zeros((), dtype=x.dtype))
        return where(on, _select(x, position), zero)
    if x.ndim == 2:
        rows, cols = x.shape
        first_row, first_col = max(0, -k), max(0, k)
        length = max(0, min(rows - first_row, cols - first_col))
        steps = np.arange(length)
        # one index into the flattened matrix (a single gather, which ONNX export writes as one too)
        return _select(reshape(x, (-1,)), (steps + first_row) * cols + steps + first_col)
    raise ValueError(f"diag: expected a 1-d or 2-d tensor, got shape {x.shape}")


def trace(x: Tensor) -> Tensor:
    """The sum of the main diagonal of a 2-d tensor (integers sum to int64), as PyTorch's.

    Example:
        >>> import chainrule as cr
        >>> cr.trace(cr.tensor([[1.0, 2.0], [3.0, 4.0]]))
        tensor(5.)
    """
    x = lift(x)
    if x.ndim != 2:
        raise ValueError(f"trace: expected a 2-d tensor (a matrix), got shape {x.shape}")
    return diag(x).sum()
