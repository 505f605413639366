"""Fuzzing the readers of untrusted files: model files (``chainrule.io.load``, ``load_state_dict``,
``load_metadata``, ``load_checkpoint``) and the CLI's CSV reader (``tabular.read_csv`` and the
training-data checks after it).

Property: a file either loads (a model whose tensors are arrays of a proper shape, or an object
of tensors and plain values) or is refused with the reader's documented error
(``ModelFileError`` for model files, ``DataError`` / ``CLIError`` for CSV files): never another
exception from deep inside, and never a memory peak far beyond the file's size. Memory is the
growth of the peak resident set size (tests/io/memory.py): a model file's architecture is built
without writing its parameters, and memory allocated but never written is never used.

Model files start from valid files written by ``save`` (of a model, and of an object: a
checkpoint-like dict of a state dict, an optimizer's state, Tensors, tuples, int keys),
``save_state_dict`` and ``save_checkpoint`` for small models, then hypothesis mutates them (bytes
flipped, overwritten, inserted, cut off; the header length changed; the JSON header, or one value
inside it or inside chainrule's JSON-in-a-string entries, replaced with generated JSON, deeply
nested too).

Here a fixed, modest number of derandomized examples runs (CI is deterministic); for a long run
by hand: ``python scripts/fuzz_files.py --examples 20000``, which runs the same properties.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import chainrule as cr
from chainrule.cli import sources, tabular
from chainrule.cli.errors import CLIError
from chainrule.io import ModelFileError
from chainrule.random import default_generator
from tests.io.memory import MB, peak_rss_growth

pytest.importorskip("safetensors")


# ============================================================================ model files
def _models() -> dict[str, Any]:
    cr.manual_seed(0)
    return {
        "mlp": lambda: cr.nn.Sequential(cr.nn.Linear(3, 4), cr.nn.ReLU(), cr.nn.Linear(4, 2)),
        "conv": lambda: cr.nn.Conv1d(2, 3, kernel_size=3),
        "lstm": lambda: cr.nn.LSTM(3, 4),
    }


MODELS = _models()


def _seed_files() -> list[tuple[str, str, bytes]]:
    """(kind, model name, bytes) of valid files: a model, an object, its weights, a checkpoint,
    each model."""
    out = []
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "seed.safetensors")
        for name, make in MODELS.items():
            model = make()
            for kind in ("model", "object", "state_dict", "checkpoint"):
                if kind == "model":
                    cr.io.save(model, path, metadata={"note": "seed"})
                elif kind == "object":
                    cr.io.save(_checkpoint_object(model), path, metadata={"note": "seed"})
                elif kind == "state_dict":
                    cr.io.save_state_dict(model, path)
                else:
                    optimizer = cr.optim.Adam(model.parameters(), lr=0.01)
                    cr.io.save_checkpoint(path, model, optimizer, epoch=1, extra={"a": [1]})
                with open(path, "rb") as f:
                    out.append((kind, name, f.read()))
    return out


def _checkpoint_object(model: cr.nn.Module) -> dict[Any, Any]:
    """What a training script saves with ``chainrule.save``: every kind of value it stores."""
    optimizer = cr.optim.Adam(model.parameters(), lr=0.01)
    return {
        "epoch": 3,
        "model": model.state_dict(),
        "optim": optimizer.state_dict(),
        "moments": {0: {"step": np.int64(2), "exp_avg": np.ones((2, 3), np.float32)}},
        "losses": [0.5, float("nan"), (1, "two", None, True)],
        "tensors": [cr.tensor([1.0, 2.0], requires_grad=True), cr.nn.Parameter(np.zeros(2)), cr.arange(3)],
    }


SEEDS = _seed_files()

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
# Values that are likely to reach deep checks: plausible numbers, names, dtypes, offsets.
INTERESTING = st.sampled_from(
    [
        0, -1, 1, 2, 3, 2**31, 2**63, 2**64, 10**30, -(2**63), 1e308, -0.0, 0.5, "", "F32", "F64", "I64", "BF16",
        "U8", "BOOL", "C64", "model", "state_dict", "checkpoint", "Linear", "Sequential", "LSTM", "Conv1d",
        "ModuleList", "ModuleDict", "Module", "object", "float128", [], {}, [0], [0, 0], [1, 2**62], [2**40, 2**40],
        "1", "2", "[]", "{}", "null", '"x"', "[[[[]]]]", "weight", "bias", "0.weight", "\x1b[31m", "\ud800",
    ]
)  # fmt: skip
ANY_VALUE = INTERESTING | JSON_VALUES


def _split(data: bytes) -> tuple[dict, bytes] | None:
    """(header, tensor bytes) of a valid safetensors file."""
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + n]), data[8 + n :]


def _join(header: Any, body: bytes) -> bytes:
    text = json.dumps(header).encode("utf-8", "surrogatepass")
    return struct.pack("<Q", len(text)) + text + body


def _nodes(value: Any, path: tuple = ()) -> list[tuple]:
    """The paths of every node of a JSON value, descending into strings that hold JSON (the
    values of ``__metadata__``): a path step ``("json",)`` means "parse this string"."""
    out = [path]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _nodes(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _nodes(v, path + (i,))
    elif isinstance(value, str) and value[:1] in "[{":
        try:
            inner = json.loads(value)
        except (ValueError, RecursionError):  # not JSON, or nested too deep for json (a "deep" mutation)
            return out
        out += _nodes(inner, path + (("json",),))
    return out


def _replace(value: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    step, rest = path[0], path[1:]
    if step == ("json",):
        return json.dumps(_replace(json.loads(value), rest, new))
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[step] = _replace(value[step], rest, new)
    return copy


@st.composite
def mutated_files(draw: Any) -> tuple[str, str, bytes]:
    kind, name, data = draw(st.sampled_from(SEEDS))
    header, body = _split(data)
    for _ in range(draw(st.integers(1, 3))):
        how = draw(
            st.sampled_from(
                ["value", "value", "value", "delete", "header", "deep", "flip", "overwrite", "insert", "truncate"]
                + ["length"]
            )
        )
        if how in ("value", "delete", "header", "deep") and header is None:
            how = "flip"
        if how == "value":  # one node of the header (or of chainrule's JSON inside it) replaced
            path = draw(st.sampled_from(_nodes(header)))
            header = _replace(header, path, draw(ANY_VALUE))
            data = _join(header, body)
        elif how == "delete":  # one key of an object left out
            paths = [p for p in _nodes(header) if p and not isinstance(p[-1], (int, tuple))]
            if paths:
                path = draw(st.sampled_from(paths))
                header = _delete(header, path)
                data = _join(header, body)
        elif how == "header":  # the whole header replaced with generated JSON
            header = draw(JSON_VALUES)
            data = _join(header, body)
        elif how == "deep":  # deeply nested JSON in the header or in an entry of it
            depth = draw(st.integers(10, 100_000))
            opener = draw(st.sampled_from(["[", '{"a":']))
            closer = "]" if opener == "[" else "}"
            nested = opener * depth + "1" + closer * depth
            path = draw(st.sampled_from(_nodes(header)))
            if path and path[-1] != ("json",) and draw(st.booleans()):
                # as a string value: chainrule's own entries are JSON strings
                header = _replace(header, path, nested)
                data = _join(header, body)
            else:
                text = nested.encode()
                data = struct.pack("<Q", len(text)) + text + body
                header = None
        else:
            data = _mutate_bytes(draw, how, data)
            header = None
    return kind, name, data


def _delete(value: Any, path: tuple) -> Any:
    if len(path) == 1:
        copy = dict(value)
        copy.pop(path[0], None)
        return copy
    step = path[0]
    if step == ("json",):
        return json.dumps(_delete(json.loads(value), path[1:]))
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[step] = _delete(value[step], path[1:])
    return copy


def _mutate_bytes(draw: Any, how: str, data: bytes) -> bytes:
    n = len(data)
    if how == "length":
        new = draw(st.sampled_from([0, 1, 2, 7, n - 8, n - 7, n, 2**31, 2**63, 2**64 - 1]) | st.integers(0, 2**64 - 1))
        return struct.pack("<Q", max(0, min(new, 2**64 - 1))) + data[8:]
    at = draw(st.integers(0, max(0, n - 1)))
    if how == "flip":
        return data[:at] + bytes([data[at] ^ (1 << draw(st.integers(0, 7)))]) + data[at + 1 :] if n else data
    if how == "overwrite":
        chunk = draw(st.binary(min_size=1, max_size=16))
        return data[:at] + chunk + data[at + len(chunk) :]
    if how == "insert":
        return data[:at] + draw(st.binary(min_size=1, max_size=16)) + data[at:]
    return data[:at]  # truncate


def _check_model(model: Any) -> None:
    assert isinstance(model, cr.nn.Module)
    for name, tensor in list(model.state_dict().items()):
        array = np.asarray(tensor)
        assert isinstance(array, np.ndarray), name
        assert all(isinstance(s, int) and s >= 0 for s in array.shape), name


def _check_loaded(value: Any) -> None:
    """What ``load`` gives back: a model, or an object of the kinds ``save`` stores."""
    if isinstance(value, cr.nn.Module):
        _check_model(value)
        return
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            assert all(isinstance(hash(k), int) for k in item)
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        else:
            assert item is None or isinstance(item, (bool, int, float, str, np.generic, np.ndarray, cr.Tensor)), item


def load_model_bytes(kind: str, name: str, data: bytes) -> None:
    """The property for one file's bytes: every reader loads it or raises ModelFileError, within
    a bounded memory peak."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "fuzzed.safetensors")
        with open(path, "wb") as f:
            f.write(data)
        readers = [
            ("load", lambda: _check_loaded(cr.io.load(path))),
            ("load_state_dict", lambda: [np.asarray(v).shape for v in cr.io.load_state_dict(path).values()]),
            ("load_metadata", lambda: cr.io.load_metadata(path)),
            ("load_checkpoint", lambda: cr.io.load_checkpoint(path, MODELS[name](), restore_rng=False)),
        ]
        if kind == "checkpoint":
            model = MODELS[name]()
            optimizer = cr.optim.Adam(model.parameters(), lr=0.01)
            readers.append(("load_checkpoint+optimizer", lambda: cr.io.load_checkpoint(path, model, optimizer)))
        rng = default_generator().bit_generator
        state = rng.state  # load_checkpoint restores the file's random state: put ours back after
        for reader, call in readers:
            _, err, growth = peak_rss_growth(call)
            if err is not None and not isinstance(err, ModelFileError):  # a finding: name the reader and the error
                raise AssertionError(f"{reader} raised {type(err).__name__}: {err!s:.300}") from err
            assert err is None or str(err), reader
            limit = 50 * MB + 10 * len(data)
            assert growth < limit, f"{reader}: memory peak grew {growth / MB:.1f} MB for {len(data)} bytes"
        rng.state = state


# =============================================================================== CSV files
CELLS = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "1",
            "-0",
            "0.5",
            "1e400",
            "-1e400",
            "1e30",
            "1e31",
            "nan",
            "NaN",
            "inf",
            "-inf",
            "Infinity",
            "?",
            "NA",
            "n/a",
            "null",
            '"',
            '""',
            '"a,b"',
            '"x\ny"',
            "a",
            "b",
            "é",
            "\u202e",
            "\ufeff",
            "\x1b[2J",
            "=1+1",
            "1,5",
            ";",
            "\t",
            "|",
            "\r",
            "\n",
            "0x10",
            "1_000",
            "True",
            "1e-400",
            str(2**70),
            "١٢",
        ]
    ),  # fmt: skip
    st.integers(-(10**20), 10**20).map(str),
    st.floats().map(repr),
    st.text(max_size=6),
)


@st.composite
def csv_texts(draw: Any) -> bytes:
    sep = draw(st.sampled_from([",", ";", "\t", "|"]))
    width = draw(st.integers(1, 4))
    header = draw(st.lists(CELLS, min_size=width, max_size=width))
    rows = draw(st.lists(st.lists(CELLS, min_size=max(0, width - 1), max_size=width + 1), min_size=0, max_size=8))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = newline.join(sep.join(r) for r in [header, *rows])
    if draw(st.booleans()):
        text += newline
    prefix = draw(st.sampled_from(["", "\ufeff", "\ufeff\ufeff", "\n"]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "latin-1", "utf-16"]))
    data = (prefix + text).encode(encoding, "replace")
    if draw(st.integers(0, 9)) == 0:  # raw bytes now and then
        data = draw(st.binary(max_size=64))
    return data


def read_csv_bytes(data: bytes) -> None:
    """The property for one CSV file: reading it, then preparing it for training with its first
    column as the target, gives a result or the CLI's DataError / CLIError, nothing else."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "fuzzed.csv")
        with open(path, "wb") as f:
            f.write(data)
        try:
            source = sources.open_data(path)
            frame = source.table.frame
            target = str(frame.columns[0])
            sources.training_data(source, target, [], None)
            features = [str(c) for c in frame.columns if str(c) != target]
            if features:
                tabular.fit_preprocessing(source.table.frame, features)
        except (tabular.DataError, CLIError) as err:
            assert str(err)
        except Exception as err:
            raise AssertionError(f"{type(err).__name__}: {err!s:.300}") from err


# ================================================================================== tests
FUZZ = settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def test_seed_files_load() -> None:
    for kind, name, data in SEEDS:
        load_model_bytes(kind, name, data)


@FUZZ
@given(mutated_files())
def test_mutated_model_files_load_or_raise_model_file_error(file: tuple[str, str, bytes]) -> None:
    load_model_bytes(*file)


@settings(FUZZ, max_examples=100)
@given(csv_texts())
def test_fuzzed_csv_files_read_or_raise_data_error(data: bytes) -> None:
    read_csv_bytes(data)


# ===================================================================== regression tests
def _checkpoint_with_optimizer_entry(optimizer_json: str) -> bytes:
    """The mlp checkpoint seed whose ``optimizer`` entry inside chainrule.checkpoint is replaced."""
    data = next(d for kind, name, d in SEEDS if kind == "checkpoint" and name == "mlp")
    header, body = _split(data)
    checkpoint = json.loads(header["__metadata__"]["chainrule.checkpoint"])
    checkpoint["optimizer"] = json.loads(optimizer_json)
    header["__metadata__"]["chainrule.checkpoint"] = json.dumps(checkpoint)
    return _join(header, body)


@pytest.mark.parametrize(
    "optimizer_json",
    [
        "0",  # ValueError from Adam.load_state_dict
        '{"state": 0, "param_groups": [{}]}',  # TypeError / AttributeError from deep inside
        '{"state": {}, "param_groups": []}',  # 0 param groups for an optimizer of 1
        '{"state": {}, "param_groups": [{"lr": 0.01, "betas": {}}]}',
    ],
)
def test_regression_corrupt_optimizer_state_is_a_model_file_error(tmp_path: Any, optimizer_json: str) -> None:
    # found by the fuzzer: the optimizer's own ValueError/TypeError/AttributeError escaped load_checkpoint
    path = str(tmp_path / "ckpt.safetensors")
    with open(path, "wb") as f:
        f.write(_checkpoint_with_optimizer_entry(optimizer_json))
    model = MODELS["mlp"]()
    before = {k: np.array(v, copy=True) for k, v in model.state_dict().items()}
    with pytest.raises(ModelFileError, match="optimizer state does not fit Adam"):
        cr.io.load_checkpoint(path, model, cr.optim.Adam(model.parameters(), lr=0.01))
    for k, v in model.state_dict().items():  # the model's weights were put back
        np.testing.assert_array_equal(np.asarray(v), before[k])


@pytest.mark.parametrize(
    "data",
    [
        b" \n1,1",  # a blank header and a row of 2 fields: the row's first field became the index (TypeError)
        b",,,\n,,,,\n,1e400,",  # NaN row labels from the index (ValueError: cannot convert float NaN to integer)
        b"a,b\n1,2,3\n4,5\n",  # first data row one field longer: every column shifted by one, silently
    ],
)
def test_regression_first_row_longer_than_header_is_a_data_error_or_read_unshifted(tmp_path: Any, data: bytes) -> None:
    # found by the fuzzer: pandas took the first column as row labels when the first data row had
    # one field more than the header; now the row is refused, or (an empty trailing field) dropped
    read_csv_bytes(data)
    path = str(tmp_path / "t.csv")
    with open(path, "wb") as f:
        f.write(data)
    try:
        table = tabular.read_csv(path)
    except tabular.DataError as err:
        assert "more fields than the header" in str(err) or "no data rows" in str(err)
    else:
        assert list(table.frame.index) == list(range(len(table.frame)))
        assert all(isinstance(r, (int, np.integer)) for r in table.row_numbers())


def test_regression_longer_first_row_is_refused_not_shifted(tmp_path: Any) -> None:
    path = str(tmp_path / "t.csv")
    with open(path, "w") as f:
        f.write("a,b\n1,2,3\n4,5\n")
    with pytest.raises(tabular.DataError, match="first data row has more fields"):
        tabular.read_csv(path)


def test_trailing_delimiters_are_still_read(tmp_path: Any) -> None:
    path = str(tmp_path / "t.csv")
    with open(path, "w") as f:
        f.write("a,b\n1,2,\n3,4,\n")
    assert tabular.read_csv(path).frame.to_dict("list") == {"a": ["1", "3"], "b": ["2", "4"]}


@pytest.mark.parametrize(
    ("entry", "value"),
    [
        ("chainrule.frozen", "[[[[[[[[[[1]]]]]]]]]]"),  # TypeError: unhashable type: 'list'
        ("chainrule.frozen", "[1]"),
        ("chainrule.frozen", "5"),  # TypeError: 'int' object is not iterable
        ("chainrule.training", '{"training": true, "flipped": [[]]}'),
        ("chainrule.training", '{"training": true, "flipped": 3}'),
    ],
)
def test_regression_frozen_and_flipped_must_be_lists_of_names(tmp_path: Any, entry: str, value: str) -> None:
    # found by the fuzzer: load raised TypeError for a chainrule.frozen (or flipped) entry that
    # is not a list of strings
    data = next(d for kind, name, d in SEEDS if kind == "model" and name == "mlp")
    header, body = _split(data)
    header["__metadata__"][entry] = value
    path = str(tmp_path / "m.safetensors")
    with open(path, "wb") as f:
        f.write(_join(header, body))
    with pytest.raises(ModelFileError, match="is not a list of names"):
        cr.io.load(path)
    load_model_bytes("model", "mlp", _join(header, body))


def test_regression_kind_that_is_a_list_is_a_model_file_error(tmp_path: Any) -> None:
    # found by the fuzzer: "chainrule.kind": "[[1]]" raised TypeError (unhashable type: 'list')
    data = next(d for kind, name, d in SEEDS if kind == "state_dict" and name == "conv")
    header, body = _split(data)
    header["__metadata__"]["chainrule.kind"] = "[[[[[[[[[[1]]]]]]]]]]"
    path = str(tmp_path / "w.safetensors")
    with open(path, "wb") as f:
        f.write(_join(header, body))
    for reader in (cr.io.load, cr.io.load_state_dict, cr.io.load_metadata):
        with pytest.raises(ModelFileError, match="unknown kind of chainrule file"):
            reader(path)
