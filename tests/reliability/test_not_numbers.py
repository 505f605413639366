"""Data that are not real numbers are refused where they enter, with a TypeError that says what
they were: never accepted and failed on later inside NumPy, never computed wrongly (complex)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr
from tests.ops.registry import REGISTRY

NUMERIC = [np.bool_, np.int8, np.int32, np.int64, np.uint8, np.float16, np.float32, np.float64]
NOT_NUMBERS = {
    "complex": lambda shape: np.full(shape, 3 + 4j),
    "object": lambda shape: np.full(shape, None, dtype=object),
    "str": lambda shape: np.full(shape, "abc"),
    "bytes": lambda shape: np.full(shape, b"abc"),
    "datetime": lambda shape: np.full(shape, np.datetime64("2026-01-01")),
}
SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), dtype=st.sampled_from(NUMERIC), shape=SHAPES)
def test_real_numbers_of_any_kind_and_shape_become_the_same_values(data, dtype, shape):
    array = data.draw(hnp.arrays(dtype, shape))
    t = cr.tensor(array)
    assert t.shape == array.shape and t.dtype == array.dtype
    np.testing.assert_array_equal(t.numpy(), array)


@settings(max_examples=40, deadline=None)
@given(kind=st.sampled_from(sorted(NOT_NUMBERS)), shape=SHAPES)
def test_arrays_that_are_not_real_numbers_are_refused(kind, shape):
    with pytest.raises(TypeError, match=r"tensor: chainrule tensors hold real numbers .* of dtype"):
        cr.tensor(NOT_NUMBERS[kind](shape))


@pytest.mark.parametrize(
    "value, what",
    [("abc", "strings"), (None, "Python objects"), (3 + 4j, "complex numbers"), ([1, "a"], "strings")],
)
def test_python_values_that_are_not_numbers_are_refused_naming_them(value, what):
    with pytest.raises(TypeError, match=what):
        cr.tensor(value)


def test_ragged_lists_and_unconvertible_values_with_a_dtype_are_type_errors():
    with pytest.raises(TypeError, match=r"tensor: cannot make a tensor from list \[\[1, 2\], \[3\]\]"):
        cr.tensor([[1, 2], [3]])
    with pytest.raises(TypeError, match="cannot make a float32 tensor from str 'abc'"):
        cr.tensor("abc", dtype="float32")
    with pytest.raises(TypeError, match="dtype complex128 is not supported"):
        cr.tensor([1.0], dtype=complex)


def test_complex_numbers_are_not_computed_wrongly():
    with pytest.raises(TypeError, match="complex numbers"):
        abs(cr.tensor(3 + 4j))
    x = cr.tensor([1.0, 2.0])
    with pytest.raises(TypeError, match="complex numbers"):
        x + (1 + 1j)
    with pytest.raises(TypeError, match="strings"):
        x * "a"


def _public(name):
    """The public function of a registry entry (None for an internal primitive)."""
    for namespace in (cr, cr.nn.functional):
        function = getattr(namespace, name, None)
        if callable(function):
            return function
    return None


ARRANGED = {
    "concatenate", "stack", "hstack", "vstack", "split", "where", "lstm_cell", "recurrent_layer", "einsum",
    "group_norm", "layer_norm",
}  # fmt: skip
"""Entries whose samples the registry arranges for its own call (a list of tensors, a condition)."""
PUBLIC_OPS = [info for info in REGISTRY if _public(info.name) is not None]


def test_the_public_ops_are_most_of_the_registry():
    assert len(PUBLIC_OPS) >= 60


@pytest.mark.parametrize("info", PUBLIC_OPS, ids=lambda info: info.name)
@pytest.mark.parametrize("kind", sorted(NOT_NUMBERS))
def test_every_public_op_refuses_operands_that_are_not_numbers(info, kind):
    sample = info.samples()[0]
    args = [NOT_NUMBERS[kind](np.shape(sample.args[0]))] + [cr.tensor(a) for a in sample.args[1:]]
    # the registry's own call where its samples are not spelled as the public signature
    op = info.op if info.name in ARRANGED else _public(info.name)
    with pytest.raises(TypeError, match="tensor: chainrule tensors hold real numbers"):
        op(*args, **sample.kwargs)


@pytest.mark.parametrize("shape", [(4,), (4, 1)])
def test_float_class_labels_get_a_message_that_leads_somewhere(shape):
    logits = cr.tensor(np.random.default_rng(0).normal(size=(4, 3)))
    labels = np.array([0.0, 1.0, 2.0, 1.0]).reshape(shape)
    with pytest.raises(ValueError, match=r"holds floats.*class probabilities.*give integers.*target.astype\(int\)"):
        cr.nn.CrossEntropyLoss()(logits, labels)
    fixed = cr.nn.CrossEntropyLoss()(logits, cr.tensor(labels).astype(int).reshape(-1))  # what the message says
    assert np.isfinite(fixed.item())
