"""Tensor: construction and dtype rules, attributes, conversion, repr, factories."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

# ------------------------------------------------------------------ dtype rules


@pytest.mark.parametrize(
    "data, dtype",
    [
        ([1.0, 2.0], np.float32),  # Python floats default to float32
        (1.5, np.float32),
        ([[1, 2.5], [3, 4]], np.float32),  # mixed ints and floats are floats
        (np.array([1.0, 2.0]), np.float64),  # a float64 array keeps float64
        (np.array([1.0, 2.0], dtype=np.float32), np.float32),
        (np.array([1.0], dtype=np.float16), np.float16),
        (np.float64(2.0), np.float64),
        ([1, 2, 3], np.int64),  # integers stay integers
        (7, np.int64),
        (np.array([1, 2], dtype=np.int32), np.int32),
        ([True, False], np.bool_),
    ],
)
def test_dtype_rules(data, dtype):
    assert cr.tensor(data).dtype == dtype
    assert cr.Tensor(data).dtype == dtype


@pytest.mark.parametrize("dtype", ["float64", np.float64, cr.float64, "float16", "int32", cr.bool_])
def test_dtype_argument_overrides(dtype):
    t = cr.tensor([1.0, 0.0], dtype=dtype)
    assert t.dtype == np.dtype(dtype)


def test_tensor_of_a_tensor_copies_and_keeps_dtype():
    a = cr.tensor(np.array([1.0, 2.0]))
    b = cr.tensor(a)
    assert b.dtype == np.float64
    b.numpy()[0] = 9.0
    assert a.numpy()[0] == 1.0


def test_tensor_copies_ndarrays():
    src = np.array([1.0, 2.0])
    t = cr.tensor(src)
    src[0] = 9.0
    assert t.numpy()[0] == 1.0


def test_tensor_of_mixed_objects_is_a_clear_error():
    with pytest.raises(
        TypeError, match=r"tensor: chainrule tensors hold real numbers .* got list \[1.0, .a., None\] of dtype object"
    ):
        cr.tensor([1.0, "a", None])


# ------------------------------------------------------------------ requires_grad rules


@pytest.mark.parametrize("data", [[1, 2], np.array([1, 2], dtype=np.int32), [True, False]])
def test_int_and_bool_tensors_cannot_require_grad(data):
    dtype = np.asarray(data).dtype
    with pytest.raises(
        TypeError, match=rf"requires_grad: only floating-point tensors can require grad, got dtype {dtype}"
    ):
        cr.tensor(data, requires_grad=True)
    t = cr.tensor(data)
    with pytest.raises(TypeError, match=f"got dtype {dtype}"):
        t.requires_grad_()
    with pytest.raises(TypeError, match=f"got dtype {dtype}"):
        t.requires_grad = True
    assert not t.requires_grad  # nothing changed


def test_int_factories_cannot_require_grad():
    with pytest.raises(TypeError, match="got dtype int64"):
        cr.zeros(2, dtype="int64", requires_grad=True)
    with pytest.raises(TypeError, match="got dtype int32"):
        cr.ones_like(cr.tensor([1, 2], dtype="int32"), requires_grad=True)


def test_int_tensor_can_require_grad_after_conversion():
    t = cr.tensor([1, 2], dtype="float32", requires_grad=True)
    assert t.requires_grad and t.dtype == np.float32


def test_requires_grad_toggles_on_a_leaf():
    t = cr.tensor([1.0])
    assert t.requires_grad_() is t and t.requires_grad
    t.requires_grad = False
    assert not t.requires_grad


def test_requires_grad_cannot_be_turned_off_on_a_non_leaf():
    x = cr.tensor([1.0], requires_grad=True)
    y = x * 2
    assert not y.is_leaf and x.is_leaf
    with pytest.raises(RuntimeError, match=r"requires_grad_: .*use .detach\(\)"):
        y.requires_grad_(False)


# ------------------------------------------------------------------ attributes and conversion


def test_attributes():
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    t = cr.tensor(a)
    assert t.shape == (2, 3, 4) and t.ndim == 3 and t.size == 24 and t.dtype == np.float32
    assert t.numel() == 24 and t.dim() == 3 and len(t) == 2
    np.testing.assert_array_equal(t.T.numpy(), a.T)
    assert t.tolist() == a.tolist()
    assert isinstance(t.numpy(), np.ndarray)


def test_item_and_python_conversions():
    t = cr.tensor([[2.5]])
    assert t.item() == 2.5 and isinstance(t.item(), float)
    assert float(t) == 2.5 and int(t) == 2 and bool(t)
    assert cr.tensor(3).item() == 3 and isinstance(cr.tensor(3).item(), int)
    with pytest.raises(ValueError, match=r"item: only a one-element tensor can be converted, got shape \(2,\)"):
        cr.tensor([1.0, 2.0]).item()
    with pytest.raises(ValueError, match="ambiguous"):
        bool(cr.tensor([1.0, 2.0]))
    with pytest.raises(TypeError, match="0-d"):
        len(cr.tensor(1.0))


def test_numpy_gives_an_ndarray_even_for_0d_results():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    for t in (x.sum(), x[0], x @ x, (x * x).sum() * 2.0, cr.tensor(1.0) + 1.0, cr.sign(x[1])):
        assert type(t.numpy()) is np.ndarray and t.shape == ()
    assert np.asarray(x.sum()).shape == ()
    np.testing.assert_array_equal(np.asarray(x), [1.0, 2.0])
    assert np.asarray(x, dtype=np.float64).dtype == np.float64


def test_numpy_ufuncs_accept_tensors():
    x = cr.tensor([0.0, 1.0])
    np.testing.assert_allclose(np.exp(np.asarray(x)), [1.0, np.e], rtol=1e-6)


def test_detach_shares_data_and_leaves_the_graph():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = (x * 2).detach()
    assert not y.requires_grad and y.grad_fn is None
    d = x.detach()
    d.numpy()[0] = 5.0
    assert x.numpy()[0] == 5.0


def test_clone_copies_memory_and_stays_in_the_graph():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    c = x.clone()
    c.numpy()[0] = 7.0
    assert x.numpy()[0] == 1.0
    (c * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


def test_any_all():
    t = cr.tensor([[True, False], [True, True]])
    assert t.any().item() and not t.all().item()
    assert t.all(axis=1).tolist() == [False, True]


def test_tensors_are_hashable_by_identity():
    a, b = cr.tensor([1.0]), cr.tensor([1.0])
    assert len({a, b}) == 2 and {a: 1}[a] == 1


def test_zero_grad():
    x = cr.tensor([1.0], requires_grad=True)
    (x * 2).sum().backward()
    x.zero_grad()
    assert x.grad is None


# ------------------------------------------------------------------ repr


def test_repr():
    assert repr(cr.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(cr.tensor([0.5, 1.5], requires_grad=True)) == "tensor([0.5, 1.5], requires_grad=True)"
    assert repr(cr.tensor(np.array([1.0]))) == "tensor([1.], dtype=float64)"
    assert repr(cr.tensor([1, 2])) == "tensor([1, 2])"
    x = cr.tensor([1.0], requires_grad=True, name="x")
    assert repr(x) == "tensor([1.], requires_grad=True, name='x')"
    assert repr(x * 2) == "tensor([2.], grad_fn=<MulBackward0>)"
    assert repr(cr.tensor(3.14159)) == "tensor(3.1416)"
    assert repr(cr.tensor([[1.0, 2.0], [3.0, 4.0]])) == "tensor([[1., 2.],\n        [3., 4.]])"


# ------------------------------------------------------------------ factories


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda: cr.zeros(2, 3), np.zeros((2, 3))),
        (lambda: cr.zeros((2, 3)), np.zeros((2, 3))),
        (lambda: cr.ones(4), np.ones(4)),
        (lambda: cr.ones([2, 2]), np.ones((2, 2))),
        (lambda: cr.full((2, 2), 3.5), np.full((2, 2), 3.5)),
        (lambda: cr.full(3, 1.0), np.full(3, 1.0)),
        (lambda: cr.zeros_like(cr.tensor([[1.0, 2.0]])), np.zeros((1, 2))),
        (lambda: cr.ones_like(cr.tensor([1.0, 2.0])), np.ones(2)),
        (lambda: cr.linspace(0, 1, 5), np.linspace(0, 1, 5)),
        (lambda: cr.eye(3), np.eye(3)),
        (lambda: cr.eye(2, 3), np.eye(2, 3)),
        (lambda: cr.arange(0.0, 1.0, 0.25), np.arange(0.0, 1.0, 0.25)),
    ],
)
def test_float_factories_default_to_float32(make, expected):
    t = make()
    assert t.dtype == np.float32
    np.testing.assert_array_equal(t.numpy(), expected.astype(np.float32))


def test_factory_dtype_and_requires_grad():
    assert cr.zeros(2, dtype="float64").dtype == np.float64
    assert cr.ones(2, requires_grad=True).requires_grad
    assert cr.full(2, 1, dtype=np.int64).dtype == np.int64
    assert cr.zeros_like(cr.tensor([1, 2])).dtype == np.int64
    assert cr.ones_like(cr.tensor([1.0]), dtype="float64").dtype == np.float64
    assert cr.arange(0.0, 1.0, 0.5, dtype="float64").dtype == np.float64


def test_arange_of_integers_stays_integer():
    t = cr.arange(5)
    assert t.dtype.kind == "i" and t.tolist() == [0, 1, 2, 3, 4]
    assert cr.arange(2, 8, 2).tolist() == [2, 4, 6]


def test_is_tensor():
    assert cr.is_tensor(cr.tensor(1.0)) and not cr.is_tensor(np.ones(1))


def test_numpy_array_copies_and_asarray_shares():
    t = cr.tensor([1.0, 2.0])
    copied = np.array(t)
    copied[0] = 99.0
    assert t.numpy()[0] == 1.0
    assert np.asarray(t) is t.numpy()
    assert np.array(t, dtype=np.float64).dtype == np.float64


def test_comparing_with_none_is_identity_not_an_error():
    t = cr.tensor([1.0, 2.0])
    assert (t == None) is False  # noqa: E711
    assert (t != None) is True  # noqa: E711
    assert t not in (None,)
    assert t in [None, t]


def test_integer_tensors_promote_to_float32_as_in_pytorch():
    pixels = cr.tensor(np.arange(4))
    assert (pixels / 255.0).dtype == np.float32
    assert (pixels * 2.5).dtype == np.float32
    assert (pixels / pixels[1:2]).dtype == np.float32  # true division of integers
    assert (pixels + cr.tensor([1.0, 2.0, 3.0, 4.0])).dtype == np.float32
    assert (pixels + cr.tensor(np.ones(4))).dtype == np.float64  # a float64 operand decides
    assert (pixels * 2).dtype == np.int64  # integers with integers stay integers


@pytest.mark.parametrize(
    "name, args, kwargs",
    [
        ("addcmul", ([0.5, 1.0, 2.0], [2.0, 4.0, 1.0]), {"value": 0.3}),
        ("addcdiv", ([0.5, 1.0, 2.0], [2.0, 4.0, 1.0]), {"value": 2}),
        ("lerp", ([0.5, 1.0, 2.0], 0.25), {}),
        ("round", (), {"decimals": 1}),
        ("nan_to_num", (), {}),
        ("floor", (), {}),
        ("ceil", (), {}),
        ("trunc", (), {}),
        ("frac", (), {}),
        ("reciprocal", (), {}),
        ("sign", (), {}),
        ("fmod", (1.5,), {}),
        ("remainder", (1.5,), {}),
        ("expm1", (), {}),
        ("log1p", (), {}),
    ],
)
def test_in_place_forms_write_what_the_op_computes(name, args, kwargs):
    """PyTorch's trailing-underscore methods (hand-written optimisers use addcdiv_ and lerp_): the
    same values as the op, in the same tensor, recorded like the other in-place methods."""
    x = [1.55, -2.5, 0.3]
    plain = getattr(cr.tensor(x, dtype="float64"), name)(
        *[cr.tensor(a, dtype="float64") if isinstance(a, list) else a for a in args], **kwargs
    )
    t = cr.tensor(x, dtype="float64")
    out = getattr(t, name + "_")(*[cr.tensor(a, dtype="float64") if isinstance(a, list) else a for a in args], **kwargs)
    assert out is t
    np.testing.assert_array_equal(t.numpy(), plain.numpy())
    w = cr.tensor(x, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        getattr(w, name + "_")(*[cr.tensor(a) if isinstance(a, list) else a for a in args], **kwargs)
