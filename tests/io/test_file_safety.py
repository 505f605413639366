"""Crafted or damaged model files: refused with a clear ModelFileError, in bounded memory, before
any module is built; and the atomic writer's errors and temporary files."""

from __future__ import annotations

import json
import os
import re
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule.io import (
    ModelFileError,
    files as io_files,
    load,
    load_checkpoint,
    load_metadata,
    load_state_dict,
    save,
    save_checkpoint,
)
from tests.io.memory import peak_rss_growth, subprocess_peak_rss_growth

safetensors_numpy = pytest.importorskip("safetensors.numpy")

MB = 1 << 20


def craft(
    path: Path,
    tensors: dict[str, tuple[str, list[int], list[int]]],
    data: bytes,
    metadata: dict[str, str] | None = None,
    raw_header: bytes | None = None,
) -> Path:
    """Write a safetensors file by hand: name -> (dtype, shape, data_offsets), then ``data``."""
    header: dict[str, Any] = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, (dtype, shape, offsets) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": offsets}
    text = raw_header if raw_header is not None else json.dumps(header).encode()
    path.write_bytes(len(text).to_bytes(8, "little") + text + data)
    return path


def model_metadata(spec: dict[str, Any], keys: list[str], kind: str = "model") -> dict[str, str]:
    metadata = {
        "chainrule.format": "1",
        "chainrule.version": json.dumps(cr.__version__),
        "chainrule.kind": json.dumps(kind),
        "chainrule.keys": json.dumps(keys),
    }
    if kind == "model":
        metadata["chainrule.architecture"] = json.dumps(spec)
    return metadata


def linear_spec(n_in: int, n_out: int) -> dict[str, Any]:
    return {"class": "Linear", "config": {"in_features": n_in, "out_features": n_out, "bias": True, "dtype": "float32"}}


def peak_while(fn: Any, *args: Any) -> tuple[BaseException, int]:
    """The exception ``fn(*args)`` raises and the peak of memory traced meanwhile."""
    tracemalloc.start()
    try:
        fn(*args)
    except BaseException as err:  # noqa: BLE001  (returned to the test)
        error = err
    else:
        raise AssertionError(f"{fn.__name__} did not refuse the file")
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return error, peak


# ---------------------------------------------------------------- 1. bounded memory
# The loader builds a file's architecture inside init.skip_init() (parameters allocated, never
# written) and compares it with the header before reading any tensor. Allocated-but-unwritten
# memory is not used memory, so these tests measure the peak resident set size (tests/io/memory.py),
# which is what a machine runs out of; tracemalloc would count the unwritten gigabytes.
WIDE_BLOCK = """
class IoSafetyWide(cr.nn.Module):
    # a user-defined Module with a constructor argument, a parameter of its own, a child layer
    # and a normalisation layer: the loader builds it from the file's config
    def __init__(self, width=2):
        super().__init__()
        self.width = width
        self.scale = cr.nn.Parameter(np.empty((width, width), np.float32))
        self.inner = cr.nn.Linear(width, width)
        self.norm = cr.nn.LayerNorm(width)
        self.reset_parameters()

    def reset_parameters(self):
        cr.nn.init.xavier_uniform_(self.scale)

    def get_config(self):
        return {"width": self.width}

    def forward(self, x):
        return self.norm(self.inner(x) @ self.scale)
"""


def wide_block_file(path: Path, width: int) -> Path:
    """A file whose architecture is IoSafetyWide(width) but whose tensors are those of width 2."""
    names = ["scale", "inner.weight", "inner.bias", "norm.weight", "norm.bias"]
    shapes = [[2, 2], [2, 2], [2], [2], [2]]
    tensors, at = {}, 0
    for name, shape in zip(names, shapes):
        tensors[name] = ("F32", shape, [at, at + 4 * int(np.prod(shape))])
        at += 4 * int(np.prod(shape))
    spec = {"class": "IoSafetyWide", "config": {"width": width}}
    return craft(path, tensors, bytes(at), model_metadata(spec, names))


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Peak-RSS growth (and error) of loading, in one fresh process: two files under 1 KB that
    declare 1.6 GB (Linear(20000, 20000)) and 3.2 GB (the user-defined IoSafetyWide(20000)) of
    weights; valid files of 16 MB (a Linear, an object); a control that writes 64 MB."""
    folder = tmp_path_factory.mktemp("measured")
    files = {
        "linear": craft(
            folder / "huge.safetensors",
            {"weight": ("F32", [2, 2], [0, 16]), "bias": ("F32", [2], [16, 24])},
            np.zeros(6, np.float32).tobytes(),
            model_metadata(linear_spec(20000, 20000), ["weight", "bias"]),
        ),
        "custom": wide_block_file(folder / "wide.safetensors", 20000),
        "model": folder / "linear.safetensors",
        "object": folder / "object.safetensors",
    }
    save(cr.nn.Linear(2000, 2000), files["model"])  # 16 MB
    save({"step": 3, "moments": [np.ones(1_000_000), cr.ones(2_000_000)]}, files["object"])  # 16 MB
    results = subprocess_peak_rss_growth(
        WIDE_BLOCK
        + f"""
files = {json.dumps({k: str(v) for k, v in files.items()})}
results = {{name: measure(lambda: cr.load(path)) for name, path in files.items()}}
# the same measure sees memory that is written: building 64 MB of weights (and their draws)
results["control"] = measure(lambda: cr.nn.Linear(4000, 4000))
model = IoSafetyWide(300)
cr.save(model, {str(folder / "ok.safetensors")!r})
loaded = cr.load({str(folder / "ok.safetensors")!r})
x = cr.randn(4, 300)
results["same"] = bool((loaded(x).numpy() == model(x).numpy()).all())
print(json.dumps(results))
"""
    )
    results["sizes"] = {name: path.stat().st_size for name, path in files.items()}
    return results


def test_tiny_files_declaring_huge_layers_are_refused_in_bounded_memory(measured: dict[str, Any]) -> None:
    assert measured["sizes"]["linear"] < 1000 and measured["sizes"]["custom"] < 1000
    (linear_growth, linear_error), (custom_growth, custom_error) = measured["linear"], measured["custom"]
    assert measured["control"][1] is None and measured["control"][0] > 60 * MB, measured["control"]
    assert linear_growth < 10 * MB, f"{linear_growth / MB:.1f} MB"
    assert custom_growth < 10 * MB, f"{custom_growth / MB:.1f} MB"
    assert linear_error.startswith("ModelFileError") and "huge.safetensors" in linear_error
    assert "do not fit its architecture (checked before reading them)" in linear_error
    assert "weight: expected (20000, 20000), got (2, 2)" in linear_error
    assert "bias: expected (20000,), got (2,)" in linear_error
    assert custom_error.startswith("ModelFileError"), custom_error
    assert "scale: expected (20000, 20000), got (2, 2)" in custom_error
    assert "inner.weight: expected (20000, 20000)" in custom_error
    assert "norm.weight: expected (20000,), got (2,)" in custom_error


def test_loading_uses_about_the_files_size_in_memory(measured: dict[str, Any]) -> None:
    # The tensors are read straight into the model built without initialisation (no file-sized
    # buffer, no copy, no random draws): the peak grows by about the weights' size.
    for name in ("model", "object"):
        growth, error = measured[name]
        assert error is None, error
        size = measured["sizes"][name]
        assert growth < 1.25 * size + 4 * MB, f"{name}: {growth / MB:.1f} MB for a {size / MB:.1f} MB file"


def test_loading_a_valid_file_of_a_user_defined_class(measured: dict[str, Any]) -> None:
    assert measured["same"] is True


@pytest.mark.parametrize("builtin", [True, False])
def test_layers_too_large_to_allocate_are_named(tmp_path: Path, builtin: bool) -> None:
    class IoSafetyHuge(cr.nn.Module):
        def __init__(self, width: int = 2):
            super().__init__()
            self.width = width
            self.table = cr.nn.Parameter(np.empty((width, width), np.float32))

        def get_config(self) -> dict[str, Any]:
            return {"width": self.width}

    n = 10**9  # 4e18 bytes: more than any machine's address space, so allocating fails
    spec = linear_spec(n, n) if builtin else {"class": "IoSafetyHuge", "config": {"width": n}}
    inner = {
        "class": "Sequential",
        "config": {"layers": [{"name": "0", "class": "ReLU", "config": {}}, {"name": "1", **spec}]},
    }
    path = craft(tmp_path / "absurd.safetensors", {}, b"", model_metadata(inner, []))
    _, error, growth = peak_rss_growth(lambda: load(path))
    assert isinstance(error, ModelFileError) and isinstance(error, ValueError), error
    assert growth < 10 * MB
    name = "Linear" if builtin else "IoSafetyHuge"
    assert (
        f"absurd.safetensors': its architecture's {name} needs a float32 tensor of shape (1000000000, 1000000000)"
        in str(error)
    )
    assert "more than this machine can allocate; the file holds 0 bytes of tensors" in str(error)


def test_huge_layer_inside_containers_and_missing_or_extra_tensors(tmp_path: Path) -> None:
    spec = {
        "class": "Sequential",
        "config": {
            "layers": [
                {"name": "0", **linear_spec(2, 2)},
                {"name": "1", "class": "ReLU", "config": {}},
                {"name": "2", "class": "LSTM", "config": {"input_size": 2, "hidden_size": 3000}},
            ]
        },
    }
    data = np.zeros(6, np.float32).tobytes()
    path = craft(
        tmp_path / "nested.safetensors",
        {"0.weight": ("F32", [2, 2], [0, 16]), "0.bias": ("F32", [2], [16, 24]), "extra": ("F32", [0], [24, 24])},
        data,
        model_metadata(spec, ["0.weight", "0.bias", "extra"]),
    )
    _, error, growth = peak_rss_growth(lambda: load(path))
    assert isinstance(error, ModelFileError), error
    assert growth < 10 * MB, f"{growth / MB:.1f} MB"  # the LSTM's 144 MB are never written
    assert re.search(r"missing: 2\.weight_ih_l0, 2\.weight_hh_l0, .* \| unexpected: extra", str(error))


def test_loading_draws_no_random_numbers(tmp_path: Path) -> None:
    save(cr.nn.Sequential(cr.nn.Linear(3, 4), cr.nn.LSTM(4, 2)), tmp_path / "m.safetensors")
    cr.manual_seed(5)
    load(tmp_path / "m.safetensors")
    after_load = cr.randn(3).numpy()
    cr.manual_seed(5)
    np.testing.assert_array_equal(cr.randn(3).numpy(), after_load)


def test_offsets_beyond_the_end_of_the_file(tmp_path: Path) -> None:
    path = craft(
        tmp_path / "short.safetensors",
        {"weight": ("F32", [10000, 10000], [0, 400_000_000])},
        b"\0" * 16,
        model_metadata(linear_spec(10000, 10000), ["weight"]),
    )
    for loader in (load, load_state_dict, load_metadata):
        error, peak = peak_while(loader, path)
        assert isinstance(error, ModelFileError), error
        assert peak < 10 * MB
        assert "short.safetensors' is truncated" in str(error)


def test_shape_that_does_not_match_the_offsets(tmp_path: Path) -> None:
    # 16 bytes of data, a header claiming a million float32s live in them.
    path = craft(tmp_path / "lying.safetensors", {"weight": ("F32", [1_000_000], [0, 16])}, b"\0" * 16)
    error, peak = peak_while(load_state_dict, path)
    assert isinstance(error, ModelFileError), error
    assert peak < 10 * MB
    assert "'weight' is declared as F32 of shape (1000000,) (4000000 bytes)" in str(error)
    assert "data_offsets 0..16 hold 16 bytes" in str(error)


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"dtype": "F32", "shape": [-1], "data_offsets": [0, 0]}, "no valid shape"),
        ({"dtype": "F32", "shape": [1], "data_offsets": [8, 4]}, "no valid data_offsets"),
        ({"dtype": "F32", "shape": "big", "data_offsets": [0, 4]}, "no valid shape"),
        ([1, 2], "not a JSON object"),
    ],
)
def test_malformed_tensor_entries(tmp_path: Path, entry: Any, message: str) -> None:
    path = craft(tmp_path / "m.safetensors", {}, b"\0" * 8, raw_header=json.dumps({"w": entry}).encode())
    with pytest.raises(ModelFileError, match=message):
        load_state_dict(path)


def test_tensors_must_lie_back_to_back_and_fill_the_data(tmp_path: Path) -> None:
    # as the safetensors format requires (and its own reader checks): no gaps, no overlaps, no
    # bytes that belong to no tensor
    cases = {
        "gap": (
            {"a": ("F32", [1], [0, 4]), "b": ("F32", [1], [8, 12])},
            12,
            "'b' starts at byte 8 of the data section, where 4",
        ),
        "overlap": (
            {"a": ("F32", [2], [0, 8]), "b": ("F32", [2], [4, 12])},
            12,
            "'b' starts at byte 4 of the data section, where 8",
        ),
        "trailing": ({"a": ("F32", [2], [0, 8])}, 16, "8 bytes after its tensors' data belong to no tensor"),
        "no tensors": ({}, 4, "4 bytes after its tensors' data belong to no tensor"),
    }
    for name, (tensors, size, message) in cases.items():
        path = craft(tmp_path / f"{name}.safetensors", tensors, bytes(size))
        for reader in (load_state_dict, load, load_metadata):
            with pytest.raises(ModelFileError, match=re.escape(message)):
                reader(path)


def test_a_key_twice_in_the_header_is_refused(tmp_path: Path) -> None:
    # Python's json keeps the last of two equal keys, hiding the first; safetensors refuses them
    entry = '{"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}'
    for raw in (
        '{"w": ' + entry + ', "w": ' + entry + "}",
        '{"w": {"dtype": "F32", "dtype": "F64", "shape": [1], "data_offsets": [0, 4]}}',
    ):
        path = craft(tmp_path / "twice.safetensors", {}, bytes(4), raw_header=raw.encode())
        with pytest.raises(ModelFileError, match="corrupt: its safetensors header has the key .* twice"):
            load_state_dict(path)


def object_file(path: Path, obj_json: Any) -> Path:
    """An object file (``save`` of a non-Module) whose chainrule.object entry is ``obj_json``, with
    the tensors i (int64 [2]), f (float32 [2]) and s (float32 [])."""
    metadata = {
        "chainrule.format": "2",
        "chainrule.version": json.dumps(cr.__version__),
        "chainrule.kind": json.dumps("object"),
    }
    if obj_json is not None:
        metadata["chainrule.object"] = json.dumps(obj_json)
    tensors = {"i": ("I64", [2], [0, 16]), "f": ("F32", [2], [16, 24]), "s": ("F32", [], [24, 28])}
    data = np.array([1, 2], np.int64).tobytes() + np.array([0.5, 1.5], np.float32).tobytes()
    return craft(path, tensors, data + np.float32(3).tobytes(), metadata)


def test_a_crafted_object_file_loads_what_it_says(tmp_path: Path) -> None:
    obj = {
        "a": {"__tensor__": "i"},
        "b": {"__scalar__": "s"},
        "c": {"__Tensor__": {"tensor": "f", "class": "Parameter", "requires_grad": False}},
    }
    loaded = load(object_file(tmp_path / "o.safetensors", obj))
    assert loaded["a"].tolist() == [1, 2] and loaded["b"] == np.float32(3) and type(loaded["b"]) is np.float32
    assert isinstance(loaded["c"], cr.nn.Parameter) and not loaded["c"].requires_grad


@pytest.mark.parametrize(
    "obj, message",
    [
        (None, "has no chainrule.object entry"),
        ({"__tensor__": "nope"}, "refers to a missing tensor 'nope'"),
        ({"__tensor__": [1]}, r"refers to a missing tensor \[1\]"),
        ({"__scalar__": "i"}, "its scalar 'i' has shape \\(2,\\)"),
        ({"__tuple__": 5}, "a tuple in its header is not a list"),
        ({"__items__": [1]}, "a dict in its header is not a list of pairs"),
        ({"__items__": [[[1], 2]]}, "a dict in its header has an unhashable key \\(list\\)"),
        ({"__items__": [[{"__tensor__": "i"}, 2]]}, "a dict in its header has an unhashable key \\(ndarray\\)"),
        ({"__Tensor__": "f"}, "a Tensor in its header has no valid class"),
        ({"__Tensor__": {"tensor": "f", "class": "Module", "requires_grad": True}}, "no valid class"),
        # found by the fuzzer: a list as the class raised TypeError (unhashable type: 'list')
        ({"__Tensor__": {"tensor": "f", "class": [], "requires_grad": True}}, "no valid class"),
        ({"__Tensor__": {"tensor": "f", "class": "Tensor", "requires_grad": 1}}, "no valid class and requires_grad"),
        (
            {"__Tensor__": {"tensor": "i", "class": "Parameter", "requires_grad": True}},
            "tensor 'i' cannot be a Parameter",
        ),
        ({"__Tensor__": {"tensor": "i", "class": "Tensor", "requires_grad": True}}, "tensor 'i' cannot be a Tensor"),
        ({"__Tensor__": {"tensor": "x", "class": "Tensor", "requires_grad": False}}, "missing tensor 'x'"),
    ],
)
def test_corrupt_object_entries_are_model_file_errors(tmp_path: Path, obj: Any, message: str) -> None:
    path = object_file(tmp_path / "o.safetensors", obj)
    with pytest.raises(ModelFileError, match=message):
        load(path)


# ---------------------------------------------------------------- 2. nesting
@pytest.mark.parametrize("where", ["header", "metadata", "architecture"])
def test_deeply_nested_json_is_refused_cleanly(tmp_path: Path, where: str) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    metadata = model_metadata(linear_spec(1, 1), [])
    if where == "header":
        raw = ('{"__metadata__": ' + json.dumps(metadata) + ', "x": ' + deep + "}").encode()
        path = craft(tmp_path / "deep.safetensors", {}, b"", raw_header=raw)
    else:
        metadata["chainrule.metadata" if where == "metadata" else "chainrule.architecture"] = deep
        path = craft(tmp_path / "deep.safetensors", {}, b"", metadata)
    for loader in (load, load_metadata):
        with pytest.raises(ModelFileError, match="deep.safetensors.* nested more than 200 levels deep"):
            loader(path)


def test_deeply_nested_architecture_of_modules_is_refused_cleanly(tmp_path: Path) -> None:
    depth = 2000  # built as text: json.dumps itself would recurse too deep
    text = "{" + '"class": "Sequential", "config": {"layers": [{"name": "0", ' * depth
    text += '"class": "ReLU", "config": {}' + "}]}" * depth + "}"
    metadata = model_metadata({}, [])
    metadata["chainrule.architecture"] = text
    path = craft(tmp_path / "deep.safetensors", {}, b"", metadata)
    with pytest.raises(ModelFileError, match="nested more than 200 levels deep"):
        load(path)


def test_moderately_nested_model_still_round_trips(tmp_path: Path) -> None:
    model: cr.nn.Module = cr.nn.Linear(2, 2)
    for _ in range(30):
        model = cr.nn.Sequential(model)
    save(model, tmp_path / "m.safetensors")
    loaded = load(tmp_path / "m.safetensors")
    x = cr.randn(3, 2)
    assert np.array_equal(loaded(x).numpy(), model(x).numpy())


# ---------------------------------------------------------------- 3. dtypes
def test_integer_weights_for_a_float_parameter_are_refused(tmp_path: Path) -> None:
    data = np.zeros(4, np.int32).tobytes() + np.zeros(2, np.float32).tobytes()
    path = craft(
        tmp_path / "ints.safetensors",
        {"weight": ("I32", [2, 2], [0, 16]), "bias": ("F32", [2], [16, 24])},
        data,
        model_metadata(linear_spec(2, 2), ["weight", "bias"]),
    )
    with pytest.raises(ModelFileError, match=r"tensor 'weight' is stored as int32, but the model's tensor is float32"):
        load(path)


def test_bool_weights_in_a_checkpoint_are_refused_and_change_nothing(tmp_path: Path) -> None:
    model = cr.nn.Linear(2, 2)
    before = model.state_dict()
    data = np.ones(4, np.bool_).tobytes() + np.zeros(2, np.float32).tobytes()
    path = craft(
        tmp_path / "bools.safetensors",
        {"model/weight": ("BOOL", [2, 2], [0, 4]), "model/bias": ("F32", [2], [4, 12])},
        data,
        {**model_metadata({}, ["weight", "bias"], kind="checkpoint"), "chainrule.checkpoint": json.dumps({})},
    )
    with pytest.raises(ModelFileError, match=r"'weight' is stored as bool, but the model's tensor is float32"):
        load_checkpoint(path, model, restore_rng=False)
    assert all(np.array_equal(before[k], v) for k, v in model.state_dict().items())


def test_float64_weights_still_load_as_before(tmp_path: Path) -> None:
    model = cr.nn.Linear(2, 2).to("float64")
    save(model, tmp_path / "f64.safetensors")
    assert load(tmp_path / "f64.safetensors").weight.dtype == np.float64
    save_checkpoint(tmp_path / "ckpt.safetensors", model)
    target = cr.nn.Linear(2, 2)
    load_checkpoint(tmp_path / "ckpt.safetensors", target, restore_rng=False)
    assert np.allclose(target.weight.numpy(), model.weight.numpy())


def test_batchnorm_counter_must_stay_an_integer(tmp_path: Path) -> None:
    bn = cr.nn.BatchNorm1d(2)
    state = bn.state_dict()
    state["num_batches_tracked"] = state["num_batches_tracked"].astype(np.float32)
    path = tmp_path / "bn.safetensors"
    save(bn, path)
    with safetensors_numpy.safe_open(str(path), framework="np") as f:
        metadata = f.metadata()
    safetensors_numpy.save_file(state, str(path), metadata=metadata)
    with pytest.raises(
        ModelFileError, match="'num_batches_tracked' is stored as float32, but the model's tensor is int64"
    ):
        load(path)


def test_unknown_safetensors_dtype_is_named(tmp_path: Path) -> None:
    path = craft(tmp_path / "f8.safetensors", {"w": ("F8_E4M3", [4], [0, 4])}, b"\0" * 4)
    for loader in (load_state_dict, load_metadata, load):
        with pytest.raises(ModelFileError) as info:
            loader(path)
        message = str(info.value)
        assert "'F8_E4M3', a dtype chainrule does not read" in message
        assert "it reads BOOL, U8, I8, U16, I16, U32, I32, U64, I64, F16, F32, F64" in message


# ---------------------------------------------------------------- 4. no terminal escapes
ESC_NAME = "w\x1b[2J\x1b]0;pwned\x07\u202e"


def assert_no_control_characters(message: str) -> None:
    assert all(ch.isprintable() for ch in message), repr(message)


def test_tensor_names_with_escapes_are_shown_escaped(tmp_path: Path) -> None:
    path = craft(tmp_path / "esc.safetensors", {ESC_NAME: ("F32", [1], [0, 4])}, b"\0" * 4)
    with pytest.raises(ModelFileError) as info:
        load(path)
    assert_no_control_characters(str(info.value))
    assert "\\x1b[2J" in str(info.value)


def test_class_names_and_versions_with_escapes_are_shown_escaped(tmp_path: Path) -> None:
    spec = {"class": "Evil\x1b[31m", "config": {}}
    path = craft(tmp_path / "esc.safetensors", {}, b"", model_metadata(spec, []))
    with pytest.raises(ModelFileError) as info:
        load(path)
    assert "not defined" in str(info.value)
    assert_no_control_characters(str(info.value))

    metadata = model_metadata(linear_spec(1, 1), [])
    metadata["chainrule.format"] = "99"
    metadata["chainrule.version"] = json.dumps("9\x1b[31m")
    path = craft(tmp_path / "newer.safetensors", {}, b"", metadata)
    with pytest.raises(ModelFileError, match="upgrade chainrule") as info:
        load(path)
    assert_no_control_characters(str(info.value))


def test_missing_keys_with_escapes_are_shown_escaped(tmp_path: Path) -> None:
    metadata = model_metadata({}, [ESC_NAME], kind="state_dict")
    path = craft(tmp_path / "esc.safetensors", {}, b"", metadata)
    with pytest.raises(ModelFileError, match="lists tensors that are not in it") as info:
        load_state_dict(path)
    assert_no_control_characters(str(info.value))


# ---------------------------------------------------------------- 5. the atomic writer
def test_saving_into_a_missing_folder_names_the_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError) as info:
        save(cr.nn.Linear(2, 1), os.path.join("no_such_folder", "model.safetensors"))
    message = str(info.value)
    assert "the folder 'no_such_folder' does not exist" in message
    assert ".tmp" not in message
    assert os.listdir(tmp_path) == []


def test_saving_under_a_file_names_it(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("x")
    with pytest.raises(NotADirectoryError) as info:
        io_files.write_bytes_atomic(tmp_path / "plain" / "m.bin", b"x")
    assert "is not a folder" in str(info.value) and ".tmp" not in str(info.value)


def test_temporary_file_is_recognisable_and_removed_on_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def failing_replace(src: str, dst: str) -> None:
        seen.append(src)
        assert os.path.exists(src)
        raise KeyboardInterrupt

    monkeypatch.setattr(io_files.os, "replace", failing_replace)
    with pytest.raises(KeyboardInterrupt):
        io_files.write_bytes_atomic(tmp_path / "model.safetensors", b"weights")
    (temporary,) = seen
    name = os.path.basename(temporary)
    assert os.path.dirname(temporary) == str(tmp_path)
    assert re.fullmatch(rf"\.model\.safetensors\.{os.getpid()}-[0-9a-f]{{12}}\.tmp", name), name
    assert os.listdir(tmp_path) == []
    assert ".<name>.<pid>-<12 hex digits>.tmp" in " ".join((io_files.write_bytes_atomic.__doc__ or "").split())


def test_the_next_save_removes_what_killed_saves_left_behind(tmp_path: Path) -> None:
    import subprocess

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)  # a process that has ended
    orphan = tmp_path / f".model.safetensors.{dead_pid}-0123456789ab.tmp"
    live = tmp_path / f".model.safetensors.{os.getppid()}-0123456789ab.tmp"  # its writer is still running
    other = tmp_path / f".other.safetensors.{dead_pid}-0123456789ab.tmp"  # another target's
    for path in (orphan, live, other):
        path.write_bytes(b"half a save")
    io_files.write_bytes_atomic(tmp_path / "model.safetensors", b"weights")
    assert sorted(os.listdir(tmp_path)) == sorted(["model.safetensors", live.name, other.name])


def test_long_file_names_still_save(tmp_path: Path) -> None:
    name = "m" * 250  # the temporary file's name must stay under the 255-byte limit too
    io_files.write_bytes_atomic(tmp_path / name, b"weights")
    assert (tmp_path / name).read_bytes() == b"weights"
    assert os.listdir(tmp_path) == [name]


# ---------------------------------------------------------------- custom modules
def test_custom_modules_are_still_loaded(tmp_path: Path) -> None:
    class IoSafetyBlock(cr.nn.Module):
        def __init__(self, width: int = 3):
            super().__init__()
            self.width = width
            self.inner = cr.nn.Linear(width, width)

        def get_config(self) -> dict[str, Any]:
            return {"width": self.width}

        def forward(self, x: Any) -> Any:
            return self.inner(x)

    model = cr.nn.Sequential(cr.nn.Linear(2, 3), IoSafetyBlock(3))
    save(model, tmp_path / "c.safetensors")
    loaded = load(tmp_path / "c.safetensors")
    x = cr.randn(2, 2)
    assert np.array_equal(loaded(x).numpy(), model(x).numpy())
