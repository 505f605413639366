"""The argument and input checks every layer shares (chainrule/nn/checks.py): one positive-integer
check, one [0, 1] check, and InputSpec, the declared input each layer checks on every call."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn.checks import InputSpec, is_positive_int, positive_int, unit_interval

# ------------------------------------------------------------------ arguments


@pytest.mark.parametrize("value", [1, 40, np.int64(3), np.uint8(2)])
def test_positive_int_accepts_python_and_numpy_integers(value):
    assert is_positive_int(value)
    result = positive_int("Layer", "size", value)
    assert result == int(value) and type(result) is int


@pytest.mark.parametrize("value", [0, -1, 2.5, 3.0, "4", True, None, np.float64(2.0)])
def test_positive_int_names_the_owner_the_argument_and_the_value(value):
    assert not is_positive_int(value)
    with pytest.raises(ValueError) as info:
        positive_int("Layer", "size", value)
    assert str(info.value) == f"Layer: size must be a positive integer, got {value!r}"


@pytest.mark.parametrize("value", [0, 0.0, 0.5, 1, 1.0, np.float32(0.25)])
def test_unit_interval_accepts_numbers_from_zero_to_one(value):
    assert unit_interval("Dropout", "p", value) == float(value)


def test_unit_interval_says_what_was_wrong():
    with pytest.raises(ValueError, match=r"^Dropout: p must be in \[0, 1\], got 1.5$"):
        unit_interval("Dropout", "p", 1.5)
    with pytest.raises(ValueError, match=r"^Dropout: p must be in \[0, 1\], got -0.1$"):
        unit_interval("Dropout", "p", -0.1)
    with pytest.raises(ValueError, match=r"^Dropout: p must be in \[0, 1\], got nan$"):
        unit_interval("Dropout", "p", float("nan"))
    for value in ("0.5", None, True):
        with pytest.raises(ValueError, match=rf"^Dropout: p must be a number in \[0, 1\], got {value!r}$"):
            unit_interval("Dropout", "p", value)


# every layer argument that is a size or a count goes through positive_int (one message for all)
SIZED_LAYERS = [
    (nn.Linear, (0, 3), "Linear: in_features"),
    (nn.Linear, (3, -2), "Linear: out_features"),
    (nn.Embedding, (2.5, 3), "Embedding: num_embeddings"),
    (nn.Embedding, (10, 0), "Embedding: embedding_dim"),
    (nn.BatchNorm1d, (0,), "BatchNorm1d: num_features"),
    (nn.BatchNorm2d, (True,), "BatchNorm2d: num_features"),
    (nn.Conv1d, (0, 4, 3), "Conv1d: in_channels"),
    (nn.Conv2d, (3, "4", 3), "Conv2d: out_channels"),
    (lambda *a: nn.ConvTranspose1d(*a, groups=0), (2, 4, 3), "ConvTranspose1d: groups"),
    (nn.RNN, (0, 4), "RNN: input_size"),
    (nn.LSTM, (3, 0), "LSTM: hidden_size"),
    (lambda *a: nn.GRU(*a, num_layers=1.5), (3, 4), "GRU: num_layers"),
    (nn.GRUCell, (3, -1), "GRUCell: hidden_size"),
]


@pytest.mark.parametrize("make, args, prefix", SIZED_LAYERS, ids=[p for _, _, p in SIZED_LAYERS])
def test_every_size_argument_is_checked_the_same_way(make, args, prefix):
    with pytest.raises(ValueError, match=rf"^{prefix} must be a positive integer, got "):
        make(*args)


@pytest.mark.parametrize(
    "make, prefix",
    [
        (lambda: nn.Dropout(1.5), "Dropout: p"),
        (lambda: nn.BatchNorm1d(3, momentum=-0.5), "BatchNorm1d: momentum"),
        (lambda: nn.CrossEntropyLoss(label_smoothing=2.0), "CrossEntropyLoss: label_smoothing"),
        (lambda: nn.LSTM(3, 4, num_layers=2, dropout=1.01), "LSTM: dropout"),
        (lambda: nn.functional.dropout(cr.ones(3), p=-1.0), "dropout: p"),
        (
            lambda: nn.functional.cross_entropy(cr.zeros(2, 3), [0, 1], label_smoothing=3),
            "cross_entropy: label_smoothing",
        ),
    ],
)
def test_every_fraction_argument_is_checked_the_same_way(make, prefix):
    with pytest.raises(ValueError, match=rf"^{prefix} must be in \[0, 1\], got "):
        make()


# ------------------------------------------------------------------ InputSpec


def test_a_spec_on_the_last_axis_takes_any_number_of_dimensions():
    spec = InputSpec("Linear(in_features=4)", axes={-1: 4})
    for shape in [(4,), (2, 4), (3, 2, 4)]:
        assert spec.check(cr.zeros(*shape)).shape == shape
    for shape in [(), (4, 3), (2, 5)]:
        with pytest.raises(ValueError) as info:
            spec.check(cr.zeros(*shape))
        assert str(info.value) == f"Linear(in_features=4) got input of shape {shape}: the last dimension must be 4"


def test_check_turns_arrays_into_tensors_and_returns_tensors_as_they_are():
    spec = InputSpec("Layer", axes={-1: 2})
    t = cr.zeros(3, 2)
    assert spec.check(t) is t
    out = spec.check(np.zeros((3, 2)))
    assert isinstance(out, cr.Tensor) and out.shape == (3, 2)


def test_ndim_expected_and_hints():
    spec = InputSpec(
        "Conv1d(in_channels=3)",
        ndim=(3, 2),
        axes={-2: 3},
        expected="a 3-D (N, C, L) or 2-D unbatched (C, L) input",
        hints={2: "a 2-D input is one unbatched (C, L) sample"},
    )
    assert spec.check(cr.zeros(8, 3, 10)).shape == (8, 3, 10)
    assert spec.check(cr.zeros(3, 10)).shape == (3, 10)
    cases = {
        (10,): "expected a 3-D (N, C, L) or 2-D unbatched (C, L) input",
        (8, 2, 3, 10): "expected a 3-D (N, C, L) or 2-D unbatched (C, L) input",
        (8, 4, 10): "dimension 1 must be 3",
        (28, 28): "dimension 0 must be 3 (a 2-D input is one unbatched (C, L) sample)",
    }
    for shape, problem in cases.items():
        with pytest.raises(ValueError) as info:
            spec.check(cr.zeros(*shape))
        assert str(info.value) == f"Conv1d(in_channels=3) got input of shape {shape}: {problem}"


def test_default_descriptions_and_leading_or_several_axes():
    with pytest.raises(
        ValueError, match=r"^P got input of shape \(8, 16\): expected an input with at least 3 dimensions$"
    ):
        InputSpec("P", min_ndim=3).check(cr.zeros(8, 16))
    with pytest.raises(ValueError, match=r"^P got input of shape \(8,\): expected a 2-D or 3-D input$"):
        InputSpec("P", ndim=(2, 3)).check(cr.zeros(8))
    with pytest.raises(ValueError, match=r"^B got input of shape \(4, 5\): dimension 1 must be 3$"):
        InputSpec("B", ndim=(2, 3), axes={1: 3}).check(cr.zeros(4, 5))
    spec = InputSpec("N", axes={-2: 2, -1: 3})
    assert spec.check(cr.zeros(5, 2, 3)).shape == (5, 2, 3)
    for shape in [(3,), (2, 4), (5, 3, 3)]:
        with pytest.raises(ValueError, match=r"the last 2 dimensions must be \(2, 3\)$"):
            spec.check(cr.zeros(*shape))
    with pytest.raises(ValueError, match=r"^M got input of shape \(1, 4, 5, 6\): dimensions 1 to 2 must be \(2, 3\)$"):
        InputSpec("M", ndim=4, axes={1: 2, 2: 3}).check(cr.zeros(1, 4, 5, 6))


def test_a_spec_that_could_not_be_one_compare_is_refused():
    with pytest.raises(ValueError, match="axes must be adjacent and of one sign"):
        InputSpec("X", axes={-1: 2, 0: 3})
    with pytest.raises(ValueError, match="axes must be adjacent and of one sign"):
        InputSpec("X", axes={1: 2, 3: 3})
    with pytest.raises(ValueError, match="give ndim or min_ndim, not both"):
        InputSpec("X", ndim=2, min_ndim=1)


def test_layers_declare_their_input_once():
    layers = [
        nn.Linear(4, 3),
        nn.Conv1d(2, 3, 3),
        nn.ConvTranspose2d(2, 3, 3),
        nn.MaxPool2d(2),
        nn.AdaptiveAvgPool1d(1),
        nn.GlobalAvgPool(),
        nn.BatchNorm2d(3),
        nn.LayerNorm((2, 3)),
        nn.GRU(3, 4),
        nn.LSTMCell(3, 4),
    ]
    for layer in layers:
        assert isinstance(layer.input_spec, InputSpec), type(layer).__name__
        assert "input_spec" not in layer.get_config() and "input_spec" not in repr(layer)
