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
    serialization,
)

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
def test_tiny_file_declaring_a_huge_layer_is_refused_before_building(tmp_path: Path) -> None:
    # A few hundred bytes whose architecture says Linear(20000, 20000) (1.6 GB of weights).
    data = np.zeros(6, np.float32).tobytes()
    path = craft(
        tmp_path / "huge.safetensors",
        {"weight": ("F32", [2, 2], [0, 16]), "bias": ("F32", [2], [16, 24])},
        data,
        model_metadata(linear_spec(20000, 20000), ["weight", "bias"]),
    )
    assert path.stat().st_size < 1000
    error, peak = peak_while(load, path)
    assert isinstance(error, ModelFileError), error
    assert peak < 10 * MB, f"peak {peak / MB:.1f} MB"
    message = str(error)
    assert "huge.safetensors" in message
    assert "do not fit its architecture" in message
    assert "weight: expected (20000, 20000), got (2, 2)" in message
    assert "bias: expected (20000,), got (2,)" in message


def test_huge_layer_inside_containers_and_missing_or_extra_tensors(tmp_path: Path) -> None:
    spec = {
        "class": "Sequential",
        "config": {
            "layers": [
                {"name": "0", **linear_spec(2, 2)},
                {"name": "1", "class": "ReLU", "config": {}},
                {"name": "2", "class": "LSTM", "config": {"input_size": 2, "hidden_size": 30000}},
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
    error, peak = peak_while(load, path)
    assert isinstance(error, ModelFileError), error
    assert peak < 10 * MB
    assert re.search(r"missing: 2\.weight_ih_l0, 2\.weight_hh_l0, .* \| unexpected: extra", str(error))


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
    import sys

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


# ---------------------------------------------------------------- the rules agree with the layers
LAYERS = [
    cr.nn.Linear(3, 2),
    cr.nn.Linear(3, 2, bias=False, dtype="float64"),
    cr.nn.Embedding(5, 3),
    cr.nn.Conv1d(4, 6, 3, groups=2),
    cr.nn.Conv2d(4, 6, (3, 2), bias=False),
    cr.nn.ConvTranspose1d(4, 6, 3, groups=2),
    cr.nn.ConvTranspose2d(4, 6, (3, 2)),
    cr.nn.BatchNorm1d(3),
    cr.nn.BatchNorm2d(3, affine=False),
    cr.nn.BatchNorm1d(3, track_running_stats=False),
    cr.nn.LayerNorm((3, 4)),
    cr.nn.LayerNorm(3, elementwise_affine=False),
    cr.nn.RNN(3, 4, num_layers=2, bidirectional=True),
    cr.nn.LSTM(3, 4, bias=False),
    cr.nn.GRU(3, 4, num_layers=3, bidirectional=True),
    cr.nn.RNNCell(3, 4),
    cr.nn.LSTMCell(3, 4, bias=False),
    cr.nn.GRUCell(3, 4),
    cr.nn.Sequential(cr.nn.Linear(2, 3), cr.nn.ModuleList([cr.nn.Linear(3, 3)]), cr.nn.ModuleDict({"a": cr.nn.ReLU()})),
    cr.nn.MaxPool2d(2),
    cr.nn.AdaptiveAvgPool1d(2),
    cr.nn.Upsample(scale_factor=2),
    cr.nn.CrossEntropyLoss(weight=[1.0, 2.0]),
    cr.nn.Dropout(0.1),
]


@pytest.mark.parametrize("layer", LAYERS, ids=lambda m: type(m).__name__)
def test_implied_tensors_match_the_built_layer(layer: cr.nn.Module) -> None:
    spec = json.loads(json.dumps(cr.nn.module_to_spec(layer), default=serialization._json_default))
    implied, opaque = serialization._implied_tensors("x", spec)
    assert opaque == []
    state = layer.state_dict()
    assert {k: v[0] for k, v in implied.items()} == {k: v.shape for k, v in state.items()}
    assert {k: v[1] for k, v in implied.items()} == {k: v.dtype for k, v in state.items()}


def test_every_builtin_layer_is_known_to_the_check() -> None:
    from chainrule.nn.module import _MODULE_CLASSES

    known = set(serialization._LAYER_TENSORS) | serialization._STATELESS | set(serialization._CONTAINERS)
    public = {  # the layers chainrule.nn defines (not classes that doctests define in its modules' names)
        name
        for name, cls in _MODULE_CLASSES.items()
        if cls.__module__.startswith("chainrule.nn.")
        and getattr(sys.modules[cls.__module__], name, None) is cls
        and not name.startswith("_")
        and not name.endswith("Base")
    }
    assert {"Linear", "Conv2d", "LSTM", "BatchNorm1d", "Embedding"} <= public
    assert public <= known, sorted(public - known)


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
