"""chainrule.io: save/load of models, weights and checkpoints as safetensors files."""

from __future__ import annotations

import functools
import json
import math
import os
import pickle
import stat
import subprocess
import sys
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import safetensors.numpy as safetensors_numpy  # noqa: E402  (a test dependency)

import chainrule as cr
from chainrule import optim
from chainrule.io import (
    FORMAT_VERSION,
    ModelFileError,
    files,
    load,
    load_checkpoint,
    load_metadata,
    load_state_dict,
    save,
    save_checkpoint,
    save_state_dict,
)
from chainrule.nn import module as module_registry

REPO = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------- helpers
def mlp(dtype: Any = None) -> cr.nn.Sequential:
    """A Sequential with every kind of state: weights, biases, BatchNorm running statistics."""
    model = cr.nn.Sequential(
        cr.nn.Linear(6, 8),
        cr.nn.BatchNorm1d(8),
        cr.nn.ReLU(),
        cr.nn.Dropout(0.3),
        cr.nn.Linear(8, 8),
        cr.nn.LayerNorm(8),
        cr.nn.Tanh(),
        cr.nn.Linear(8, 3),
    )
    if dtype is not None:
        model.to(dtype)
    return model


def trained(model: cr.nn.Module, steps: int = 3) -> cr.nn.Module:
    """Move every parameter and the running statistics away from their initial values."""
    rng = np.random.default_rng(1)
    dtype = next(model.parameters()).dtype
    for _ in range(steps):
        model(cr.tensor(rng.normal(2.0, 3.0, size=(16, 6)).astype(dtype)))  # updates BatchNorm statistics
    for p in model.parameters():
        p.data += rng.normal(size=p.shape).astype(p.dtype)
    return model


def assert_same_state(a: cr.nn.Module, b: cr.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for key in sa:
        assert sa[key].dtype == sb[key].dtype, key
        assert sa[key].shape == sb[key].shape, key
        np.testing.assert_array_equal(sa[key], sb[key], err_msg=key)


def predictions(model: cr.nn.Module, dtype: Any = np.float32) -> np.ndarray:
    x = np.random.default_rng(7).normal(size=(10, 6)).astype(dtype)
    with cr.no_grad():
        return model.eval()(cr.tensor(x)).numpy()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


class IoTestScaler(cr.nn.Module):
    """A custom module with constructor arguments, a sub-module and a buffer."""

    def __init__(self, features: int, scale: float = 2.0, names: tuple[str, ...] = ()):
        super().__init__()
        self.features, self.scale, self.names = features, scale, tuple(names)
        self.inner = cr.nn.Linear(features, features)
        self.register_buffer("shift", cr.zeros(features))

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        return self.inner(x) * self.scale + self.shift

    def get_config(self) -> dict[str, Any]:
        return {"features": self.features, "scale": self.scale, "names": list(self.names)}


# ---------------------------------------------------------------- round trips
def test_sequential_round_trip_identical_state_and_predictions(tmp_path: Path) -> None:
    model = trained(mlp())
    assert model[1].num_batches_tracked.item() == 3
    path = tmp_path / "model.safetensors"
    save(model, path)
    loaded = load(path)
    assert repr(loaded) == repr(model)
    assert_same_state(loaded, model)  # BatchNorm running mean/var and num_batches_tracked included
    np.testing.assert_array_equal(predictions(loaded), predictions(model))


def test_float64_model_round_trips_in_float64(tmp_path: Path) -> None:
    model = trained(mlp(cr.float64))
    path = tmp_path / "model64.safetensors"
    save(model, path)
    loaded = load(path)
    # BatchNorm and LayerNorm have no dtype in their config: load restores the saved dtypes.
    assert {a.dtype for a in loaded.state_dict().values() if a.dtype.kind == "f"} == {np.dtype(np.float64)}
    assert_same_state(loaded, model)
    np.testing.assert_array_equal(predictions(loaded, np.float64), predictions(model, np.float64))


def test_nested_containers_round_trip(tmp_path: Path) -> None:
    model = cr.nn.Sequential(
        OrderedDict(
            encoder=cr.nn.Sequential(cr.nn.Linear(4, 5), cr.nn.GELU()),
            heads=cr.nn.ModuleDict({"a": cr.nn.Linear(5, 2), "b/odd name": cr.nn.Linear(5, 1)}),
            extra=cr.nn.ModuleList([cr.nn.LeakyReLU(0.2), cr.nn.Softmax(dim=1)]),
        )
    )
    path = tmp_path / "nested.safetensors"
    save(model, path)
    loaded = load(path)
    assert repr(loaded) == repr(model)
    assert cr.nn.module_to_spec(loaded) == cr.nn.module_to_spec(model)
    assert_same_state(loaded, model)


@pytest.mark.parametrize(
    "layer",
    [
        cr.nn.Linear(3, 2, bias=False),
        cr.nn.Flatten(2, 3),
        cr.nn.Identity(),
        cr.nn.Step(),
        cr.nn.Sigmoid(),
        cr.nn.ELU(0.5),
        cr.nn.Softplus(2.0),
        cr.nn.LogSoftmax(0),
        cr.nn.Dropout(0.1),
        cr.nn.BatchNorm1d(4, eps=1e-3, momentum=0.2, affine=False),
        cr.nn.BatchNorm2d(2, track_running_stats=False),
        cr.nn.LayerNorm((2, 3), elementwise_affine=False),
        cr.nn.MSELoss("sum"),
        cr.nn.HuberLoss(delta=0.5),
        cr.nn.BCELoss(weight=[1.0, 2.0]),
        cr.nn.BCEWithLogitsLoss(weight=[0.5, 1.0], pos_weight=[3.0, 1.0]),
        cr.nn.CrossEntropyLoss(weight=[1.0, 2.0, 3.0], label_smoothing=0.1),
        cr.nn.NLLLoss(reduction="none"),
        cr.nn.HingeLoss(squared=True),
        cr.nn.MultiMarginLoss(margin=2.0),
    ],
    ids=lambda m: type(m).__name__,
)
def test_every_layer_config_survives_a_round_trip(tmp_path: Path, layer: cr.nn.Module) -> None:
    path = tmp_path / "layer.safetensors"
    save(layer, path)
    loaded = load(path)
    assert type(loaded) is type(layer)
    assert cr.nn.module_to_spec(loaded) == json.loads(json.dumps(cr.nn.module_to_spec(layer)))
    assert_same_state(loaded, layer)


def test_custom_module_with_get_config_round_trips(tmp_path: Path) -> None:
    model = cr.nn.Sequential(IoTestScaler(3, scale=0.5, names=("x", "y")), cr.nn.ReLU())
    model[0].shift.numpy()[...] = [1.0, 2.0, 3.0]
    path = tmp_path / "custom.safetensors"
    save(model, path)
    loaded = load(path)
    assert isinstance(loaded[0], IoTestScaler)
    assert (loaded[0].features, loaded[0].scale, loaded[0].names) == (3, 0.5, ("x", "y"))
    assert_same_state(loaded, model)
    np.testing.assert_array_equal(loaded(cr.ones(2, 3)).numpy(), model(cr.ones(2, 3)).numpy())


def test_training_modes_are_restored(tmp_path: Path) -> None:
    model = mlp()
    model.train()
    model[3].eval()  # a frozen dropout inside a training model
    save(model, tmp_path / "train.safetensors")
    loaded = load(tmp_path / "train.safetensors")
    assert [m.training for m in loaded.modules()] == [m.training for m in model.modules()]
    save(model.eval(), tmp_path / "eval.safetensors")
    assert not any(m.training for m in load(tmp_path / "eval.safetensors").modules())


def test_frozen_parameters_stay_frozen(tmp_path: Path) -> None:
    model = mlp()
    model[0].requires_grad_(False)
    save(model, tmp_path / "frozen.safetensors")
    loaded = load(tmp_path / "frozen.safetensors")
    assert [(n, p.requires_grad) for n, p in loaded.named_parameters()] == [
        (n, p.requires_grad) for n, p in model.named_parameters()
    ]
    assert not loaded[0].weight.requires_grad and loaded[4].weight.requires_grad


def test_metadata_round_trip(tmp_path: Path) -> None:
    metadata = {
        "accuracy": np.float32(0.5),
        "epochs": 12,
        "tags": ["mlp", "digits"],
        "nested": {"lr": 0.1},
        "note": "ünïcode",
    }
    path = tmp_path / "meta.safetensors"
    save(cr.nn.Linear(2, 2), path, metadata=metadata)
    assert load_metadata(path) == {
        "accuracy": 0.5,
        "epochs": 12,
        "tags": ["mlp", "digits"],
        "nested": {"lr": 0.1},
        "note": "ünïcode",
    }
    save(cr.nn.Linear(2, 2), path)
    assert load_metadata(path) == {}
    save_state_dict(cr.nn.Linear(2, 2), path, metadata={"source": "weights"})
    assert load_metadata(path) == {"source": "weights"}


def test_metadata_must_be_json(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="JSON-serialisable"):
        save(cr.nn.Linear(2, 2), tmp_path / "m.safetensors", metadata={"bad": object()})
    with pytest.raises(TypeError, match="must be a dict"):
        save(cr.nn.Linear(2, 2), tmp_path / "m.safetensors", metadata=["not", "a", "dict"])
    assert not (tmp_path / "m.safetensors").exists()


# ---------------------------------------------------------------- weights only
def test_state_dict_file_round_trip(tmp_path: Path) -> None:
    model = trained(mlp())
    path = tmp_path / "weights.safetensors"
    save_state_dict(model, path)
    state = load_state_dict(path)
    assert list(state) == list(model.state_dict())  # saved order kept
    other = mlp()
    other.load_state_dict(state)
    assert_same_state(other, model)

    mapping = {"w": cr.tensor([[1.0, 2.0]]), "step": np.array(3, dtype=np.int64), "mask": np.array([True, False])}
    save_state_dict(mapping, path)
    back = load_state_dict(path)
    assert list(back) == ["w", "step", "mask"]
    assert back["step"].shape == () and back["step"].dtype == np.int64 and back["mask"].dtype == np.bool_
    np.testing.assert_array_equal(back["w"], [[1.0, 2.0]])


def test_load_state_dict_reads_model_checkpoint_and_foreign_files(tmp_path: Path) -> None:
    model = trained(mlp())
    save(model, tmp_path / "model.safetensors")
    save_checkpoint(tmp_path / "ckpt.safetensors", model, epoch=1)
    for name in ("model.safetensors", "ckpt.safetensors"):
        state = load_state_dict(tmp_path / name)
        assert list(state) == list(model.state_dict())
        for key, value in model.state_dict().items():
            np.testing.assert_array_equal(state[key], value)
    # weights written by another tool (e.g. exported from PyTorch) load as they are
    safetensors_numpy.save_file({"weight": np.ones((2, 3), np.float32)}, str(tmp_path / "foreign.safetensors"))
    foreign = load_state_dict(tmp_path / "foreign.safetensors")
    assert list(foreign) == ["weight"] and foreign["weight"].shape == (2, 3)


def test_save_state_dict_rejects_non_string_keys_and_object_arrays(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="names must be strings"):
        save_state_dict({0: np.zeros(2)}, tmp_path / "w.safetensors")
    with pytest.raises(TypeError, match="'obj'.*dtype object"):
        save_state_dict({"obj": np.array([None, 1])}, tmp_path / "w.safetensors")
    with pytest.raises(TypeError, match="Module or a mapping"):
        save_state_dict([np.zeros(2)], tmp_path / "w.safetensors")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- errors
def test_missing_file(tmp_path: Path) -> None:
    for read in (load, load_state_dict, load_metadata):
        with pytest.raises(FileNotFoundError, match="no such file"):
            read(tmp_path / "nope.safetensors")
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "nope.safetensors", mlp())


@pytest.mark.parametrize("keep", [0, 5, 20, "header", "data"])
def test_truncated_file(tmp_path: Path, keep: Any) -> None:
    path = tmp_path / "model.safetensors"
    save(trained(mlp()), path)
    data = path.read_bytes()
    header_end = 8 + int.from_bytes(data[:8], "little")
    cut = {"header": header_end - 10, "data": len(data) - 7}.get(keep, keep)
    path.write_bytes(data[:cut])
    message = "empty" if cut == 0 else "truncated"
    for read in (load, load_state_dict):
        with pytest.raises(ModelFileError, match=message):
            read(path)


def test_files_of_other_formats(tmp_path: Path) -> None:
    png = tmp_path / "picture.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(40))
    text = tmp_path / "notes.txt"
    text.write_text("these are not the weights you are looking for\n")
    pickled = tmp_path / "model.pkl"
    pickled.write_bytes(pickle.dumps({"weight": [1.0, 2.0]}))
    npz = tmp_path / "weights.npz"
    np.savez(npz, weight=np.ones(3))
    cases = {png: "PNG image", text: "not a safetensors file", pickled: "pickle", npz: "ZIP archive"}
    for path, what in cases.items():
        for read in (load, load_state_dict, load_metadata):
            with pytest.raises(ModelFileError, match=what):
                read(path)


def test_safetensors_file_without_chainrule_metadata(tmp_path: Path) -> None:
    path = tmp_path / "plain.safetensors"
    safetensors_numpy.save_file({"weight": np.ones((2, 2), np.float32)}, str(path), metadata={"format": "np"})
    with pytest.raises(ModelFileError, match="not saved by chainrule.*weight.*load_state_dict"):
        load(path)
    with pytest.raises(ModelFileError, match="not saved by chainrule"):
        load_checkpoint(path, cr.nn.Linear(2, 2))


def test_unknown_module_class(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class IoTestVanishing(cr.nn.Module):
        def forward(self, x: cr.Tensor) -> cr.Tensor:
            return x

    path = tmp_path / "vanishing.safetensors"
    save(cr.nn.Sequential(cr.nn.Linear(2, 2), IoTestVanishing()), path)
    monkeypatch.delitem(module_registry._MODULE_CLASSES, "IoTestVanishing")  # as in a fresh process
    with pytest.raises(ModelFileError, match="'IoTestVanishing'.*not defined.*import or define it"):
        load(path)


def test_weights_that_do_not_fit_the_architecture(tmp_path: Path) -> None:
    # A file whose header says Linear(2, 3) but whose tensors are shaped for Linear(2, 4).
    good = tmp_path / "good.safetensors"
    save(cr.nn.Linear(2, 3), good)
    with safetensors_numpy.safe_open(str(good), framework="np") as f:
        header = f.metadata()
    bad = tmp_path / "bad.safetensors"
    safetensors_numpy.save_file(
        {"weight": np.zeros((4, 2), np.float32), "bias": np.zeros(4, np.float32)}, str(bad), metadata=header
    )
    with pytest.raises(ModelFileError, match=r"mis-shaped: weight: expected \(3, 2\), got \(4, 2\); bias"):
        load(bad)


def test_config_that_does_not_fit_the_constructor(tmp_path: Path) -> None:
    good = tmp_path / "good.safetensors"
    save(cr.nn.Linear(2, 3), good)
    with safetensors_numpy.safe_open(str(good), framework="np") as f:
        header = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    header["chainrule.architecture"] = json.dumps({"class": "Linear", "config": {"in_features": 2, "widht": 3}})
    bad = tmp_path / "bad.safetensors"
    safetensors_numpy.save_file(tensors, str(bad), metadata=header)
    with pytest.raises(ModelFileError, match="cannot rebuild the model.*widht"):
        load(bad)


def test_newer_format_is_refused(tmp_path: Path) -> None:
    good = tmp_path / "good.safetensors"
    save(cr.nn.Linear(2, 3), good)
    with safetensors_numpy.safe_open(str(good), framework="np") as f:
        header = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    header["chainrule.format"] = json.dumps(FORMAT_VERSION + 1)
    newer = tmp_path / "newer.safetensors"
    safetensors_numpy.save_file(tensors, str(newer), metadata=header)
    with pytest.raises(ModelFileError, match="upgrade chainrule"):
        load(newer)


def test_wrong_kind_of_file(tmp_path: Path) -> None:
    save_state_dict(cr.nn.Linear(2, 2), tmp_path / "w.safetensors")
    with pytest.raises(ModelFileError, match="weights only.*load_state_dict"):
        load(tmp_path / "w.safetensors")
    save_checkpoint(tmp_path / "c.safetensors", cr.nn.Linear(2, 2))
    with pytest.raises(ModelFileError, match="checkpoint.*load_checkpoint"):
        load(tmp_path / "c.safetensors")
    save(cr.nn.Linear(2, 2), tmp_path / "m.safetensors")
    with pytest.raises(ModelFileError, match="not a checkpoint"):
        load_checkpoint(tmp_path / "m.safetensors", cr.nn.Linear(2, 2))


def test_save_refuses_what_load_could_not_rebuild(tmp_path: Path) -> None:
    class IoTestNoConfig(cr.nn.Module):  # constructor arguments, but get_config not overridden
        def __init__(self, width: int):
            super().__init__()
            self.layer = cr.nn.Linear(width, width)

    class IoTestBadConfig(cr.nn.Module):
        def __init__(self, rng: Any = None):
            super().__init__()
            self.rng = rng

        def get_config(self) -> dict[str, Any]:
            return {"rng": self.rng}

    path = tmp_path / "m.safetensors"
    with pytest.raises(TypeError, match="IoTestNoConfig at '1'.*override get_config"):
        save(cr.nn.Sequential(cr.nn.ReLU(), IoTestNoConfig(2)), path)
    with pytest.raises(TypeError, match="IoTestBadConfig at '0'.*not JSON-serialisable"):
        save(cr.nn.Sequential(IoTestBadConfig(np.random.default_rng())), path)
    with pytest.raises(TypeError, match="Linear at 'model'.*save its weights instead"):
        save({"model": cr.nn.Linear(2, 2)}, path)
    assert list(tmp_path.iterdir()) == []


def test_save_refuses_sharing_that_load_would_undo(tmp_path: Path) -> None:
    layer = cr.nn.Linear(3, 3)
    with pytest.raises(TypeError, match="same Linear is at '0' and '2'"):
        save(cr.nn.Sequential(layer, cr.nn.ReLU(), layer), tmp_path / "m.safetensors")
    tied = cr.nn.Sequential(cr.nn.Linear(3, 3), cr.nn.Linear(3, 3))
    tied[1].weight = tied[0].weight
    with pytest.raises(TypeError, match="parameter '1.weight' is shared with '0'"):
        save(tied, tmp_path / "m.safetensors")
    assert list(tmp_path.iterdir()) == []

    class IoTestAutoencoder(cr.nn.Module):  # tied in __init__: rebuilt tied, so it saves and loads
        def __init__(self, features: int):
            super().__init__()
            self.features = features
            self.encode = cr.nn.Linear(features, features)
            self.decode = cr.nn.Linear(features, features)
            self.decode.weight = self.encode.weight
            self.same = cr.nn.Sequential(self.encode)

        def get_config(self) -> dict[str, Any]:
            return {"features": self.features}

    model = cr.nn.Sequential(IoTestAutoencoder(3))
    save(model, tmp_path / "tied.safetensors")
    loaded = load(tmp_path / "tied.safetensors")
    assert loaded[0].decode.weight is loaded[0].encode.weight
    assert_same_state(loaded, model)


def test_save_refuses_a_shadowed_class_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def define() -> type:
        class IoTestTwin(cr.nn.Module):
            pass

        return IoTestTwin

    first = define()
    monkeypatch.setitem(module_registry._MODULE_CLASSES, "IoTestTwin", first)
    define()  # a second class named IoTestTwin replaces the first in the registry
    with pytest.raises(TypeError, match="another Module class named 'IoTestTwin'"):
        save(first(), tmp_path / "twin.safetensors")


def test_missing_safetensors_raises_import_error_when_saving(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = trained(mlp())
    save(model, tmp_path / "m.safetensors")
    save({"w": np.ones(2)}, tmp_path / "o.safetensors")
    monkeypatch.setitem(sys.modules, "safetensors", None)
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)
    for call in (
        lambda: save(cr.nn.Linear(2, 2), tmp_path / "new.safetensors"),
        lambda: save({"w": np.ones(2)}, tmp_path / "new.safetensors"),
        lambda: save_checkpoint(tmp_path / "c.safetensors", cr.nn.Linear(2, 2)),
        lambda: save_state_dict(cr.nn.Linear(2, 2), tmp_path / "w.safetensors"),
    ):
        with pytest.raises(ImportError, match=r'pip install "chainrule\[io\]"'):
            call()
    # reading needs NumPy alone
    assert_same_state(load(tmp_path / "m.safetensors"), model)
    np.testing.assert_array_equal(load(tmp_path / "o.safetensors")["w"], np.ones(2))
    assert list(load_state_dict(tmp_path / "m.safetensors")) == list(model.state_dict())


def test_import_chainrule_does_not_import_safetensors() -> None:
    code = (
        "import sys; import chainrule as cr; assert 'safetensors' not in sys.modules, 'imported'; "
        "sys.modules['safetensors'] = None; "  # and works where safetensors cannot be imported
        "import importlib; importlib.reload(cr.io.serialization); print(cr.save, cr.load)"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO)
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------- atomic writes
def test_failed_save_leaves_previous_file_intact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "model.safetensors"
    original = trained(mlp())
    save(original, path)
    before = path.read_bytes()

    def half_then_fail(fd: int, data: bytes) -> None:
        os.write(fd, data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files, "_write_all", half_then_fail)
    with pytest.raises(OSError, match="No space left"):
        save(mlp(), path)
    assert path.read_bytes() == before
    assert_same_state(load(path), original)
    assert leftovers(tmp_path) == []

    def interrupted(fd: int, data: bytes) -> None:
        os.write(fd, data[:100])
        raise KeyboardInterrupt

    monkeypatch.setattr(files, "_write_all", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, mlp(), epoch=2)
    assert path.read_bytes() == before
    assert leftovers(tmp_path) == []


def test_failed_first_save_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(files.os, "fsync", fail_fsync)
    with pytest.raises(OSError, match="Input/output"):
        save_state_dict(mlp(), tmp_path / "new.safetensors")
    assert list(tmp_path.iterdir()) == []


def test_save_replaces_a_file_and_keeps_its_permissions(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    save(cr.nn.Linear(2, 2), path)
    if os.name == "posix":
        os.chmod(path, 0o600)
    second = cr.nn.Linear(2, 5)
    save(second, path)
    assert_same_state(load(path), second)
    if os.name == "posix":
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert leftovers(tmp_path) == []


# ---------------------------------------------------------------- nothing but tensors and JSON
def test_file_holds_only_tensors_and_json_metadata(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "model.safetensors"
    model = trained(mlp())
    save(model, path, metadata={"k": "v"})
    data = path.read_bytes()
    length = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + length])
    metadata = header.pop("__metadata__")
    assert all(isinstance(v, str) for v in metadata.values())
    for value in metadata.values():
        json.loads(value)  # every metadata value is JSON
    assert set(header) == set(model.state_dict())
    assert {entry["dtype"] for entry in header.values()} <= {"F32", "F64", "I64"}
    # the data section is exactly the tensors' bytes, back to back: no room for anything else
    sizes = sorted((e["data_offsets"] for e in header.values()), key=lambda o: o[0])
    assert sizes[0][0] == 0 and all(a[1] == b[0] for a, b in zip(sizes, sizes[1:]))
    assert sizes[-1][1] == len(data) - 8 - length

    def forbidden(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("loading must never unpickle")

    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "Unpickler", forbidden)
    monkeypatch.setattr(np, "load", forbidden)
    assert_same_state(load(path), model)


# ---------------------------------------------------------------- checkpoints
class FakeSGD:
    """A momentum SGD with a state_dict in chainrule.optim's layout (int keys, tuples, 0-d step)."""

    def __init__(self, params: Any, lr: float = 0.1, momentum: float = 0.9):
        self.params = list(params)
        self.group = {"lr": lr, "momentum": momentum, "betas": (0.9, 0.999)}
        self.state: dict[int, dict[str, Any]] = {}

    def step(self) -> None:
        for i, p in enumerate(self.params):
            entry = self.state.setdefault(i, {"step": np.array(0, np.int64), "buf": np.zeros_like(p.numpy())})
            entry["buf"] *= self.group["momentum"]
            entry["buf"] += p.grad.numpy()
            entry["step"] += 1
            p.data -= self.group["lr"] * entry["buf"]
            p.grad = None

    def state_dict(self) -> dict[str, Any]:
        return {
            "state": {i: {k: v.copy() for k, v in s.items()} for i, s in self.state.items()},
            "param_groups": [{**self.group, "params": list(range(len(self.params)))}],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if set(state["state"]) - set(range(len(self.params))):
            raise ValueError("FakeSGD.load_state_dict: unknown parameter index")
        self.group = {k: v for k, v in state["param_groups"][0].items() if k != "params"}
        self.state = {i: {k: v.copy() for k, v in s.items()} for i, s in state["state"].items()}


def train_steps(model: cr.nn.Module, optimizer: Any, steps: int) -> None:
    """Mini-batch steps that use chainrule's random source (shuffling and dropout)."""
    data = np.random.default_rng(0).normal(size=(32, 6)).astype(np.float32)
    target = np.random.default_rng(1).normal(size=(32, 3)).astype(np.float32)
    model.train()
    for _ in range(steps):
        batch = cr.random.default_generator().permutation(32)[:8]
        loss = cr.nn.MSELoss()(model(cr.tensor(data[batch])), cr.tensor(target[batch]))
        loss.backward()
        optimizer.step()
        if hasattr(optimizer, "zero_grad"):
            optimizer.zero_grad()


def test_checkpoint_round_trips_optimizer_state_exactly(tmp_path: Path) -> None:
    model = mlp()
    optimizer = FakeSGD(model.parameters())
    train_steps(model, optimizer, 2)
    extra = {"best": np.float32(0.25), "history": [1.0, 0.5], "pair": (1, "a"), 3: "int key", "arr": np.arange(3)}
    path = tmp_path / "ckpt.safetensors"
    save_checkpoint(path, model, optimizer, epoch=2, extra=extra)

    model2 = mlp()
    optimizer2 = FakeSGD(model2.parameters())
    info = load_checkpoint(path, model2, optimizer2)
    assert info["epoch"] == 2
    assert info["extra"]["best"] == np.float32(0.25) and type(info["extra"]["best"]) is np.float32
    assert info["extra"]["pair"] == (1, "a") and info["extra"][3] == "int key"
    np.testing.assert_array_equal(info["extra"]["arr"], np.arange(3))
    assert_same_state(model2, model)
    saved, restored = optimizer.state_dict(), optimizer2.state_dict()
    assert restored["param_groups"] == saved["param_groups"]
    assert restored["param_groups"][0]["betas"] == (0.9, 0.999)  # tuples stay tuples
    assert list(restored["state"]) == list(saved["state"])  # int keys stay ints
    for i, entry in saved["state"].items():
        for key, value in entry.items():
            assert restored["state"][i][key].dtype == value.dtype
            np.testing.assert_array_equal(restored["state"][i][key], value)


def test_resumed_training_equals_uninterrupted_training(tmp_path: Path) -> None:
    cr.manual_seed(0)
    model = mlp()
    optimizer = FakeSGD(model.parameters())
    train_steps(model, optimizer, 6)
    uninterrupted = model.state_dict()

    cr.manual_seed(0)
    model = mlp()
    optimizer = FakeSGD(model.parameters())
    train_steps(model, optimizer, 3)
    save_checkpoint(tmp_path / "ckpt.safetensors", model, optimizer, epoch=3)
    del model, optimizer

    cr.manual_seed(123)  # a new process: other initial weights, another random state
    model = mlp()
    optimizer = FakeSGD(model.parameters())
    assert load_checkpoint(tmp_path / "ckpt.safetensors", model, optimizer)["epoch"] == 3
    train_steps(model, optimizer, 3)
    for key, value in uninterrupted.items():
        np.testing.assert_array_equal(model.state_dict()[key], value, err_msg=key)


def test_resume_with_chainrule_optimizers(tmp_path: Path) -> None:
    settings = {
        "SGD": {"lr": 0.05, "momentum": 0.9, "nesterov": True},
        "Adam": {"lr": 0.01},
        "AdamW": {"lr": 0.01},
        "RMSprop": {"lr": 0.01},
        "Adagrad": {"lr": 0.1},
        "NAdam": {"lr": 0.01},
        "ASGD": {"lr": 0.05, "t0": 1},
        "Rprop": {"lr": 0.01},
    }
    makers = [functools.partial(getattr(optim, name), **kwargs) for name, kwargs in settings.items()]
    for make in makers:
        cr.manual_seed(0)
        model = mlp()
        optimizer = make(model.parameters())
        train_steps(model, optimizer, 6)
        uninterrupted = model.state_dict()

        cr.manual_seed(0)
        model = mlp()
        optimizer = make(model.parameters())
        train_steps(model, optimizer, 3)
        save_checkpoint(tmp_path / "ckpt.safetensors", model, optimizer, epoch=3)
        cr.manual_seed(99)
        model = mlp()
        optimizer = make(model.parameters())
        load_checkpoint(tmp_path / "ckpt.safetensors", model, optimizer)
        train_steps(model, optimizer, 3)
        for key, value in uninterrupted.items():
            np.testing.assert_array_equal(model.state_dict()[key], value, err_msg=f"{type(optimizer).__name__} {key}")


def test_load_checkpoint_changes_nothing_on_error(tmp_path: Path) -> None:
    model = trained(mlp())
    save_checkpoint(tmp_path / "no_opt.safetensors", model)
    optimizer = FakeSGD(model.parameters())
    train_steps(model, optimizer, 1)
    save_checkpoint(tmp_path / "ckpt.safetensors", model, optimizer)

    target = mlp()
    before = target.state_dict()

    def unchanged() -> None:
        for key, value in before.items():
            np.testing.assert_array_equal(target.state_dict()[key], value)

    # an optimizer is given but the checkpoint has none
    with pytest.raises(ModelFileError, match="no optimizer state"):
        load_checkpoint(tmp_path / "no_opt.safetensors", target, FakeSGD(target.parameters()))
    unchanged()
    # the optimizer refuses its state: the model is rolled back
    with pytest.raises(ValueError, match="unknown parameter index"):
        load_checkpoint(tmp_path / "ckpt.safetensors", target, FakeSGD(list(target.parameters())[:1]))
    unchanged()
    # a model of another shape: every mis-shaped, missing and unexpected name at once
    smaller = cr.nn.Sequential(cr.nn.Linear(6, 4), cr.nn.ReLU())
    expected = r"mis-shaped: 0\.weight: expected \(4, 6\), got \(8, 6\).*unexpected: 1\.weight"
    with pytest.raises(ModelFileError, match=expected):
        load_checkpoint(tmp_path / "ckpt.safetensors", smaller)


def test_load_checkpoint_restores_the_random_state_unless_asked_not_to(tmp_path: Path) -> None:
    model = cr.nn.Linear(2, 2)  # built first: initialisation draws from the random source
    cr.manual_seed(5)
    save_checkpoint(tmp_path / "ckpt.safetensors", model)
    expected = cr.randn(4).numpy()
    cr.manual_seed(6)
    load_checkpoint(tmp_path / "ckpt.safetensors", model)
    np.testing.assert_array_equal(cr.randn(4).numpy(), expected)
    cr.manual_seed(6)
    following = np.random.default_rng(6).standard_normal(4).astype(np.float32)
    load_checkpoint(tmp_path / "ckpt.safetensors", model, restore_rng=False)
    np.testing.assert_array_equal(cr.randn(4).numpy(), following)


def test_checkpoint_argument_checks(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="epoch must be an int"):
        save_checkpoint(tmp_path / "c.safetensors", cr.nn.Linear(2, 2), epoch=1.5)
    with pytest.raises(TypeError, match="no state_dict"):
        save_checkpoint(tmp_path / "c.safetensors", cr.nn.Linear(2, 2), optimizer=object())
    with pytest.raises(TypeError, match="cannot save object at 'extra/thing'"):
        save_checkpoint(tmp_path / "c.safetensors", cr.nn.Linear(2, 2), extra={"thing": object()})
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- objects: state dicts and checkpoints as dicts
def assert_same_object(saved: Any, loaded: Any, where: str = "obj") -> None:
    """``loaded`` is ``saved`` rebuilt: the same nesting, the same types (mappings come back as
    dicts), the same values, dtypes and Tensor attributes."""
    if isinstance(saved, cr.Tensor):
        assert type(loaded) is type(saved), where
        assert loaded.requires_grad == saved.requires_grad and loaded.grad_fn is None, where
        assert loaded.dtype == saved.dtype, where
        np.testing.assert_array_equal(loaded.numpy(), saved.numpy(), err_msg=where)
    elif isinstance(saved, (np.ndarray, np.generic)):
        assert type(loaded) is type(saved) and loaded.dtype == saved.dtype, where
        np.testing.assert_array_equal(loaded, saved, err_msg=where)
    elif isinstance(saved, Mapping):
        assert type(loaded) is dict and list(loaded) == list(saved), where
        for key in saved:
            assert type(next(k for k in loaded if k == key)) is type(key), where
            assert_same_object(saved[key], loaded[key], f"{where}[{key!r}]")
    elif isinstance(saved, (list, tuple)):
        assert type(loaded) is type(saved) and len(loaded) == len(saved), where
        for i, (a, b) in enumerate(zip(saved, loaded)):
            assert_same_object(a, b, f"{where}[{i}]")
    elif isinstance(saved, float) and math.isnan(saved):
        assert isinstance(loaded, float) and math.isnan(loaded), where
    else:
        assert type(loaded) is type(saved) and loaded == saved, where


def adam_after(model: cr.nn.Module, steps: int) -> optim.Adam:
    optimizer = optim.Adam(model.parameters(), lr=0.01, betas=(0.8, 0.99))
    train_steps(model, optimizer, steps)
    return optimizer


def test_a_checkpoint_dict_round_trips_with_every_type(tmp_path: Path) -> None:
    model = trained(mlp())
    optimizer = adam_after(model, 2)
    obj = {
        "epoch": 3,
        "model": model.state_dict(),
        "optim": optimizer.state_dict(),
        "losses": [0.5, 0.4],
        "pair": (1, 2.5, "x", None, True),
        "special": [float("nan"), float("inf"), -0.0, 2**70, -(2**70)],
        "scalars": [np.float64(1.5), np.int32(7), np.bool_(True), np.float16(0.5)],
        "arrays": [np.arange(3, dtype=np.int16), np.zeros((0, 3)), np.array(2.0), np.ones((2, 2), ">f8")],
        "tensors": [cr.tensor([1.0, 2.0], requires_grad=True), cr.nn.Parameter(np.eye(2)), cr.arange(3)],
        "frozen": cr.nn.Parameter(np.ones(2, np.float32), requires_grad=False),
        "graph": cr.tensor([1.0], requires_grad=True) * 2,  # saved as its value: a leaf, as PyTorch does
        "keys": {1: "int", (1, "a"): "tuple", None: "none", 2.5: "float", "__tensor__": "a marker as a key"},
        "empty": [{}, [], (), ""],
        "text": "é \x1b[31m \u202e",
        "model/0.weight": "a key shaped like a tensor name",
        "__metadata__": np.ones(1),  # the safetensors header's own key, as a key
    }
    path = tmp_path / "ckpt.crt"
    save(obj, path)
    loaded = load(path)
    expected = dict(obj)
    expected["graph"] = cr.tensor([2.0], requires_grad=True)
    expected["arrays"] = obj["arrays"][:3] + [np.ones((2, 2), "<f8")]  # the file's byte order: little-endian
    assert_same_object(expected, loaded)
    assert loaded["optim"]["param_groups"][0]["betas"] == (0.8, 0.99)


def test_model_load_state_dict_takes_a_loaded_state_dict(tmp_path: Path) -> None:
    model = trained(mlp())
    save(model.state_dict(), tmp_path / "sd.crt")
    state = load(tmp_path / "sd.crt")
    assert list(state) == list(model.state_dict()) and all(isinstance(v, np.ndarray) for v in state.values())
    fresh = mlp()
    fresh.load_state_dict(state)
    assert_same_state(fresh, model)
    np.testing.assert_array_equal(predictions(fresh), predictions(model))
    # chainrule.io.load_state_dict reads it too, and refuses an object that is no state dict
    assert list(load_state_dict(tmp_path / "sd.crt")) == list(model.state_dict())
    save({"epoch": 1, "model": model.state_dict()}, tmp_path / "ckpt.crt")
    with pytest.raises(ModelFileError, match="holds a dict saved with chainrule.save, not a state dict"):
        load_state_dict(tmp_path / "ckpt.crt")
    with pytest.raises(ModelFileError, match="not a checkpoint.*load it with chainrule.load"):
        load_checkpoint(tmp_path / "ckpt.crt", mlp())


@pytest.mark.parametrize("make", [lambda p: optim.Adam(p, lr=0.01), lambda p: optim.SGD(p, lr=0.1, momentum=0.9)])
def test_a_saved_optimizer_state_resumes_training_exactly(tmp_path: Path, make: Any) -> None:
    cr.manual_seed(0)
    model = mlp()
    optimizer = make(model.parameters())
    train_steps(model, optimizer, 3)
    save(
        {
            "model": model.state_dict(),
            "optim": optimizer.state_dict(),
            "rng": cr.random.default_generator().bit_generator.state,
        },
        tmp_path / "c.crt",
    )
    train_steps(model, optimizer, 3)  # the uninterrupted run

    checkpoint = load(tmp_path / "c.crt")
    resumed = mlp()
    resumed.load_state_dict(checkpoint["model"])
    resumed_optimizer = make(resumed.parameters())
    resumed_optimizer.load_state_dict(checkpoint["optim"])
    cr.random.default_generator().bit_generator.state = checkpoint["rng"]
    train_steps(resumed, resumed_optimizer, 3)
    assert_same_state(resumed, model)


@pytest.mark.parametrize(
    "obj",
    [None, 5, -1.5, "text", True, [1, [2, [3]]], (), np.arange(4.0), np.float32(3), cr.ones(2, 3), {"a": None}],
    ids=repr,
)
def test_top_level_values_round_trip(tmp_path: Path, obj: Any) -> None:
    save(obj, tmp_path / "o.crt")
    assert_same_object(obj, load(tmp_path / "o.crt"))


def test_object_file_holds_only_tensors_and_json_and_notes_the_types(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "o.safetensors"
    obj = {"w": cr.nn.Parameter(np.ones(2)), "t": cr.ones(2, requires_grad=True), "a": np.zeros(3, np.int64), 4: (1,)}
    save(obj, path, metadata={"run": 7})
    data = path.read_bytes()
    header = json.loads(data[8 : 8 + int.from_bytes(data[:8], "little")])
    metadata = header.pop("__metadata__")
    assert json.loads(metadata["chainrule.format"]) == 2 and json.loads(metadata["chainrule.kind"]) == "object"
    assert json.loads(metadata["chainrule.object"]) == {
        "__items__": [
            ["w", {"__Tensor__": {"tensor": "w", "class": "Parameter", "requires_grad": True}}],
            ["t", {"__Tensor__": {"tensor": "t", "class": "Tensor", "requires_grad": True}}],
            ["a", {"__tensor__": "a"}],
            [4, {"__tuple__": [1]}],
        ]
    }
    assert {name: entry["dtype"] for name, entry in header.items()} == {"w": "F64", "t": "F32", "a": "I64"}
    assert load_metadata(path) == {"run": 7}
    for forbidden in ("loads", "load", "Unpickler"):
        monkeypatch.setattr(pickle, forbidden, lambda *a, **k: pytest.fail("loading must never unpickle"))
    assert_same_object(obj, load(path))


def test_models_weights_and_checkpoints_are_still_written_as_format_1(tmp_path: Path) -> None:
    # so that an older chainrule still reads them; only objects need format 2
    save(cr.nn.Linear(2, 2), tmp_path / "m.crt")
    save_state_dict(cr.nn.Linear(2, 2), tmp_path / "w.crt")
    save_checkpoint(tmp_path / "c.crt", cr.nn.Linear(2, 2))
    for name in ("m.crt", "w.crt", "c.crt"):
        with safetensors_numpy.safe_open(str(tmp_path / name), framework="np") as f:
            assert f.metadata()["chainrule.format"] == "1"
    assert FORMAT_VERSION == 2


@pytest.mark.parametrize(
    "obj, message",
    [
        ({"losses": [0.5, {1, 2}]}, r"cannot save set at 'losses\.1'"),
        ({"z": 1 + 2j}, "cannot save complex at 'z'"),
        ({"b": b"bytes"}, "cannot save bytes at 'b'"),
        ({"f": print}, "cannot save builtin_function_or_method at 'f'"),
        ({"o": np.array([None, 1])}, "'o'.*dtype object"),
        ({"c": np.ones(2, np.complex64)}, "'c'.*dtype complex64"),
        ({"model": cr.nn.Linear(2, 2)}, "Linear at 'model'.*model.state_dict"),
        ([cr.nn.ReLU()], r"ReLU at '0'"),
    ],
)
def test_what_cannot_be_stored_is_named_and_nothing_is_written(tmp_path: Path, obj: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        save(obj, tmp_path / "o.crt")
    assert list(tmp_path.iterdir()) == []


def test_nesting_that_load_would_refuse_is_refused_when_saving(tmp_path: Path) -> None:
    looped: list[Any] = []
    looped.append(looped)
    with pytest.raises(ValueError, match="nested too deep, or contains itself"):
        save(looped, tmp_path / "o.crt")
    deep: Any = 1
    for _ in range(250):
        deep = [deep]
    with pytest.raises(ValueError, match="nested too deep to be stored.*200 levels"):
        save(deep, tmp_path / "o.crt")
    assert list(tmp_path.iterdir()) == []
    deep = 1
    for _ in range(199):
        deep = [deep]
    save(deep, tmp_path / "o.crt")
    assert load(tmp_path / "o.crt") == deep


def test_a_failed_object_save_leaves_the_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "o.crt"
    save({"a": np.ones(3)}, path)
    before = path.read_bytes()

    def half_then_fail(fd: int, data: bytes) -> None:
        os.write(fd, data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files, "_write_all", half_then_fail)
    with pytest.raises(OSError, match="No space left"):
        save({"a": np.zeros(100)}, path)
    assert path.read_bytes() == before and leftovers(tmp_path) == []


def test_save_state_dict_refuses_the_name_safetensors_keeps(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="'__metadata__'.*keeps that name"):
        save_state_dict({"__metadata__": np.zeros(2)}, tmp_path / "w.crt")
    assert list(tmp_path.iterdir()) == []
