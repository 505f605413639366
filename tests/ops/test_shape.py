"""Shape ops and indexing, what the op registry does not cover: Tensor-method and property forms
(a shape tuple, view, .T, transpose/permute with several arguments, expand), random shapes,
permutations and indices, Tensor indices, accumulation at repeated indices, second derivatives
through indexing and through a chain of shape ops, iteration, setitem, errors naming the op. Values
and gradients of each op on fixed samples (every kind of axis, index, padding, split) are checked by
the registry (tests/ops/registry.py, tests/ops/test_registry.py)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr
from tests.helpers import FAST, check_op, leaf, rand

X = rand(2, 3, 4, seed=1)


# ------------------------------------------------------------------ reshape family


@pytest.mark.parametrize(
    "cr_fn, np_fn",
    [
        (lambda t: t.reshape((3, 8)), lambda a: a.reshape(3, 8)),
        (lambda t: t.view(24), lambda a: a.reshape(24)),
    ],
)
def test_reshape_method_forms(cr_fn, np_fn):
    check_op(cr_fn, np_fn, X)


def test_reshape_to_same_shape_is_the_same_tensor():
    x = cr.tensor(X)
    assert cr.reshape(x, X.shape) is x


# ------------------------------------------------------------------ transpose family


@pytest.mark.parametrize(
    "cr_fn, np_fn",
    [
        (lambda t: t.T, lambda a: a.T),
        (lambda t: t.transpose(2, 0, 1), lambda a: np.transpose(a, (2, 0, 1))),
        (lambda t: t.permute(1, 2, 0), lambda a: np.transpose(a, (1, 2, 0))),
    ],
)
def test_transpose_permute_method_forms(cr_fn, np_fn):
    check_op(cr_fn, np_fn, X)


@FAST
@given(data=st.data(), shape=hnp.array_shapes(min_dims=1, max_dims=4, max_side=3))
def test_random_permutations(data, shape):
    axes = data.draw(st.permutations(range(len(shape))))
    check_op(lambda t: cr.permute(t, axes), lambda a: np.transpose(a, axes), rand(*shape))


# ------------------------------------------------------------------ broadcast and repeat


def test_expand_keeps_minus_one_dimensions():
    out = check_op(lambda t: t.expand(2, -1, 4), lambda a: np.broadcast_to(a, (2, 3, 4)), rand(3, 1))
    assert out.shape == (2, 3, 4)
    assert cr.expand(cr.tensor(rand(3, 1)), (-1, 5)).shape == (3, 5)


@FAST
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=1, min_dims=0, max_dims=4, max_side=3))
def test_broadcast_to_random_shapes(shapes):
    (shape,), target = shapes.input_shapes, shapes.result_shape
    check_op(lambda t: cr.broadcast_to(t, target), lambda a: np.broadcast_to(a, target), rand(*shape))


def test_repeat_method_and_too_few_counts():
    x = cr.tensor(rand(2, 3))
    np.testing.assert_array_equal(x.repeat(2, 1).numpy(), np.tile(x.numpy(), (2, 1)))
    with pytest.raises(ValueError, match=r"repeat: give at least 2 repeat counts for shape \(2, 3\)"):
        cr.repeat(x, (2,))


# ------------------------------------------------------------------ concatenate, stack, split, pad


def test_concatenate_aliases_and_constant_inputs():
    assert cr.cat is cr.concatenate and cr.concat is cr.concatenate
    a = leaf(rand(2, 2))
    b = cr.tensor(rand(3, 2, seed=2))  # no grad
    y = cr.cat([a, b, np.ones((1, 2))], axis=0)
    assert y.shape == (6, 2)
    (y * cr.tensor(rand(6, 2, seed=3))).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), rand(6, 2, seed=3)[:2])
    assert b.grad is None


def test_split_method_and_errors():
    x = cr.tensor(rand(4, 2))
    assert [p.shape for p in x.split(3)] == [(3, 2), (1, 2)]
    with pytest.raises(ValueError, match=r"split: sizes \[1, 2\] add up to 3, but axis 0 has length 4"):
        cr.split(x, [1, 2])
    with pytest.raises(ValueError, match="split: piece size must be positive"):
        cr.split(x, 0)


def test_pad_errors():
    x = cr.tensor(rand(2, 3))
    with pytest.raises(ValueError, match=r"pad: got widths for 1 axes, but the tensor has shape \(2, 3\)"):
        cr.pad(x, ((1, 1),))
    with pytest.raises(ValueError, match="pad: widths must be non-negative"):
        cr.pad(x, ((1, -1), (0, 0)))


# ------------------------------------------------------------------ indexing

A = rand(4, 5, 3, seed=2)
MASK_FULL = A > 0.3


def test_indexing_with_tensors():
    rows = cr.tensor([2, 2, 0])
    mask = cr.tensor(MASK_FULL)
    check_op(lambda t: t[rows], lambda a: a[[2, 2, 0]], A)
    check_op(lambda t: t[mask], lambda a: a[MASK_FULL], A)
    check_op(lambda t: cr.index(t, (rows, rows)), lambda a: a[[2, 2, 0], [2, 2, 0]], A)


def test_repeated_indices_accumulate():
    x = leaf([1.0, 2.0, 3.0, 4.0])
    (x[[0, 0, 2, 0]] * cr.tensor([1.0, 2.0, 3.0, 4.0], dtype="float64")).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [7.0, 0.0, 3.0, 0.0])


def test_repeated_index_pairs_accumulate_in_2d():
    x = leaf(np.zeros((2, 3)))
    x[[1, 1, 0], [2, 2, 2]].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0, 1], [0, 0, 2]])


@FAST
@given(
    shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4),
    data=st.data(),
)
def test_random_integer_array_indexing(shape, data):
    idx = data.draw(hnp.integer_array_indices(shape, result_shape=hnp.array_shapes(min_dims=1, max_dims=2, max_side=5)))
    check_op(lambda t: t[idx], lambda a: a[idx], rand(*shape))


@FAST
@given(
    shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4),
    data=st.data(),
)
def test_random_basic_indexing(shape, data):
    idx = data.draw(hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True))
    check_op(lambda t: t[idx], lambda a: a[idx], rand(*shape))


@pytest.mark.parametrize("idx", [[0, 0, 2], (slice(None, None, -1), 1), MASK_FULL, (None, 2)], ids=str)
def test_second_derivative_through_indexing(idx):
    def first(t):
        (g,) = cr.grad((t[idx] ** 3).sum(), t, create_graph=True)
        return g

    assert cr.gradcheck(first, [leaf(A)])


def test_index_errors():
    x = cr.tensor(rand(2, 3))
    with pytest.raises(IndexError, match=r"index: .*\(tensor of shape \(2, 3\)\)"):
        x[5]
    with pytest.raises(IndexError, match="index arrays must be integers or booleans, got dtype float64"):
        x[np.array([0.5])]


def test_iteration_yields_rows_in_the_graph():
    x = leaf(rand(3, 2))
    rows = list(x)
    assert len(rows) == len(x) == 3
    sum(r.sum() for r in rows).backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((3, 2)))
    with pytest.raises(TypeError, match="0-d"):
        iter(cr.tensor(1.0))


# ------------------------------------------------------------------ setitem


def test_setitem_on_a_plain_tensor():
    x = cr.tensor(np.zeros((2, 3)))
    x[0, 1] = 5.0
    x[cr.tensor([True, False])] = cr.tensor(np.ones(3))
    x[:, 2] = 7.0
    np.testing.assert_array_equal(x.numpy(), [[1, 1, 7], [0, 0, 7]])


def test_setitem_on_a_tensor_that_requires_grad_is_refused_outside_no_grad():
    w = cr.tensor(np.zeros(3), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"setitem: in-place assignment .*cr.no_grad\(\)"):
        w[0] = 1.0
    with cr.no_grad():
        w[0] = 1.0
    assert w.numpy()[0] == 1.0


# ------------------------------------------------------------------ errors name the op, the shapes and never wrap axes


def test_shape_errors_name_the_op_and_shapes():
    x = cr.tensor(rand(2, 3))
    with pytest.raises(
        ValueError, match=r"reshape: cannot reshape a tensor of shape \(2, 3\) \(6 elements\) into \(4, 2\)"
    ):
        x.reshape(4, 2)
    with pytest.raises(ValueError, match=r"broadcast_to: cannot broadcast shape \(2, 3\) to \(2, 4\)"):
        cr.broadcast_to(x, (2, 4))
    with pytest.raises(ValueError, match=r"concatenate: shapes \(2, 3\), \(2, 2\) differ outside axis 0"):
        cr.concatenate([x, cr.tensor(rand(2, 2))])
    with pytest.raises(ValueError, match=r"concatenate: tensors have different numbers of dimensions"):
        cr.concatenate([x, cr.tensor(rand(3))])
    with pytest.raises(ValueError, match="concatenate: 0-d tensors cannot be concatenated; use stack"):
        cr.concatenate([cr.tensor(1.0), cr.tensor(2.0)])
    with pytest.raises(ValueError, match=r"stack: all tensors must have the same shape, got \[\(2, 3\), \(3, 2\)\]"):
        cr.stack([x, x.T])
    assert cr.squeeze(x, 1).shape == (2, 3)  # a named axis longer than 1 stays, as in PyTorch (was an error)
    with pytest.raises(ValueError, match=r"transpose: \(0, 0\) is not a permutation"):
        cr.transpose(x, (0, 0))
    with pytest.raises(ValueError, match="flatten: start_dim 1 comes after end_dim 0"):
        cr.flatten(x, 1, 0)
    for op in (cr.concatenate, cr.stack):
        with pytest.raises(ValueError, match=f"{op.__name__}: needs at least one tensor"):
            op([])


@pytest.mark.parametrize(
    "call, op",
    [
        (lambda x: cr.squeeze(x, 3), "squeeze"),
        (lambda x: cr.squeeze(x, -4), "squeeze"),
        (lambda x: cr.unsqueeze(x, 4), "unsqueeze"),
        (lambda x: cr.unsqueeze(x, -5), "unsqueeze"),
        (lambda x: cr.permute(x, (0, 1, 3)), "transpose"),
        (lambda x: cr.swapaxes(x, 0, 3), "swapaxes"),
        (lambda x: cr.swapaxes(x, -4, 0), "swapaxes"),
        (lambda x: cr.flatten(x, 0, 3), "flatten"),
        (lambda x: cr.concatenate([x, x], axis=3), "concatenate"),
        (lambda x: cr.stack([x, x], axis=5), "stack"),
        (lambda x: cr.split(x, 1, axis=-4), "split"),
    ],
)
def test_axis_out_of_range_is_an_error_not_a_wraparound(call, op):
    x = cr.tensor(rand(2, 1, 3))
    with pytest.raises(ValueError, match=rf"{op}: axis -?\d+ is out of range"):
        call(x)


def test_second_derivative_through_shape_ops():
    a, b = leaf(rand(2, 3, seed=1)), leaf(rand(2, 3, seed=2))

    def pipeline(a, b):
        joined = cr.concatenate([a, b * b], axis=1)  # (2, 6)
        stacked = cr.stack([joined, joined.T.reshape(2, 6)], axis=-1)  # (2, 6, 2)
        padded = cr.pad(stacked.permute(2, 0, 1), ((0, 0), (1, 0), (0, 2)))  # (2, 3, 8)
        tiled = cr.repeat(cr.broadcast_to(padded[:, 1:, None], (2, 2, 3, 8)), (1, 1, 1, 2))
        return (cr.split(tiled, 4, axis=-1)[1] ** 3).sum()

    def first(a, b):
        ga, gb = cr.grad(pipeline(a, b), [a, b], create_graph=True)
        return ga * gb

    assert cr.gradcheck(pipeline, [a, b])
    assert cr.gradcheck(first, [a, b])


def test_a_tuple_inside_an_index_is_a_sequence_of_indices_whose_repeats_accumulate():
    """x[((0, 0, 2),)] is NumPy's x[[0, 0, 2]]: the gradient of the repeated row is 2 (it was 1)."""
    x = leaf([1.0, 2.0, 3.0])
    y = x[((0, 0, 2),)]
    np.testing.assert_array_equal(y.numpy(), [1.0, 1.0, 3.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 0.0, 1.0])
