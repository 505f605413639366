"""The DataLoader yields Tensors, as PyTorch's does (NumPy arrays with ``as_numpy=True``), and
chainrule's own loops read its arrays without a Tensor per batch."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import DataLoader, Dataset, TensorDataset, loader as loader_module
from chainrule.data.loader import _array_batches


def arrays(n=10):
    return np.arange(n * 3, dtype=np.float32).reshape(n, 3), np.arange(n) % 2


def test_batches_are_tensors_that_share_the_datasets_arrays():
    X, y = arrays()
    batches = list(DataLoader((X, y), batch_size=4))
    assert [type(a) for batch in batches for a in batch] == [cr.Tensor] * 6
    xb, yb = batches[0]
    assert np.shares_memory(xb.numpy(), X)  # wrapped, not copied
    assert (xb.dtype, yb.dtype, xb.requires_grad) == (np.float32, np.int64, False)
    np.testing.assert_array_equal(np.concatenate([xb.numpy() for xb, _ in batches]), X)
    np.testing.assert_array_equal(np.concatenate([yb.numpy() for _, yb in batches]), y)


@pytest.mark.parametrize("shuffle", [False, True])
def test_as_numpy_yields_the_same_batches_as_arrays(shuffle):
    X, y = arrays(11)
    tensors = list(DataLoader((X, y), batch_size=3, shuffle=shuffle, seed=5))
    numpy = list(DataLoader((X, y), batch_size=3, shuffle=shuffle, seed=5, as_numpy=True))
    assert [type(a) for batch in numpy for a in batch] == [np.ndarray] * 8
    for (xt, yt), (xn, yn) in zip(tensors, numpy, strict=True):
        np.testing.assert_array_equal(xt.numpy(), xn)
        np.testing.assert_array_equal(yt.numpy(), yn)


def test_a_datasets_samples_are_collated_into_tensors_and_text_stays_an_array():
    class Named(Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return cr.tensor([float(i), 2.0 * i]), np.int64(i), f"sample {i}"

    xb, yb, names = next(iter(DataLoader(Named(), batch_size=2)))
    assert isinstance(xb, cr.Tensor) and isinstance(yb, cr.Tensor)
    assert xb.tolist() == [[0.0, 0.0], [1.0, 2.0]] and yb.tolist() == [0, 1]
    assert names == ("sample 0", "sample 1")  # (the strings as PyTorch's default_collate gives them)


def test_a_training_loop_written_for_pytorch_runs_as_written():
    cr.manual_seed(0)
    X = np.random.default_rng(0).normal(size=(64, 2)).astype(np.float32)
    y = (X.sum(axis=1) > 0).astype(np.int64)
    model = cr.nn.Sequential(cr.nn.Linear(2, 8), cr.nn.Tanh(), cr.nn.Linear(8, 2))
    loss_fn = cr.nn.CrossEntropyLoss()
    optimizer = cr.optim.SGD(model.parameters(), lr=0.5)
    loader = DataLoader(TensorDataset(X, y), batch_size=16, shuffle=True)
    for _ in range(20):
        for xb, yb in loader:
            loss = loss_fn(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    correct = sum(int((model(xb).numpy().argmax(1) == yb.numpy()).sum()) for xb, yb in DataLoader((X, y)))
    assert correct / len(X) > 0.9


def test_as_numpy_must_be_a_bool():
    with pytest.raises(TypeError, match="DataLoader: as_numpy must be True or False, got 'yes'"):
        DataLoader(arrays(), as_numpy="yes")


def test_the_library_reads_a_loaders_arrays_and_unwraps_a_subclasss_tensors():
    X, y = arrays()
    plain = DataLoader((X, y), batch_size=4)
    assert [type(a) for batch in _array_batches(plain) for a in batch] == [np.ndarray] * 6

    class Own(DataLoader):  # yields its batches its own way, as Tensors
        def __iter__(self):
            yield cr.tensor(X[:4]), cr.tensor(y[:4])
            yield [cr.tensor(X[4:]), y[4:]]

    batches = list(_array_batches(Own((X, y))))
    assert [type(a) for batch in batches for a in batch] == [np.ndarray] * 4
    np.testing.assert_array_equal(batches[1][0], X[4:])

    batch = (X, y)

    class OwnArrays(DataLoader):  # yields arrays, and says so: its batches pass as they are
        def __iter__(self):
            yield batch

    assert next(_array_batches(OwnArrays((X, y), as_numpy=True))) is batch
    assert next(_array_batches(OwnArrays((X, y)))) is not batch  # (checked for Tensors: a new tuple)


def test_fit_makes_no_tensor_per_batch_of_its_loader(monkeypatch):
    def refuse(batch):
        raise AssertionError("fit wrapped a batch in Tensors")

    monkeypatch.setattr(loader_module, "_tensors", refuse)
    X, y = arrays(40)
    model = cr.nn.Linear(3, 2)
    for data in [(X, y), (DataLoader((X, y), batch_size=8),)]:
        history = cr.train.fit(model, cr.nn.CrossEntropyLoss(), cr.optim.SGD(model.parameters(), lr=0.01), *data,
                               epochs=2, batch_size=8, verbose=0)  # fmt: skip
        assert len(history.epoch) == 2
    with pytest.raises(AssertionError, match="wrapped a batch"):
        next(iter(DataLoader((X, y))))  # (the patch is in force)


def test_fit_trains_alike_on_tensors_arrays_and_a_subclass_of_tensors():
    X, y = arrays(24)
    X = X / X.max()

    class OwnTensors(DataLoader):
        def __iter__(self):
            for start in range(0, 24, 6):
                yield cr.tensor(X[start : start + 6]), cr.tensor(y[start : start + 6])

    results = []
    for data in [DataLoader((X, y), batch_size=6), DataLoader((X, y), batch_size=6, as_numpy=True), OwnTensors((X, y))]:
        cr.manual_seed(0)
        model = cr.nn.Linear(3, 2)
        cr.train.fit(model, cr.nn.CrossEntropyLoss(), cr.optim.SGD(model.parameters(), lr=0.1), data, epochs=3,
                     verbose=0)  # fmt: skip
        results.append(model.state_dict())
    for other in results[1:]:
        for name, value in results[0].items():
            np.testing.assert_array_equal(other[name], value)


def test_collate_fn_makes_each_batch_from_the_samples_as_pytorchs_does():
    ds = TensorDataset(np.arange(12.0).reshape(6, 2), np.arange(6))
    calls = []

    def collate(samples):
        calls.append(len(samples))
        xs, ys = zip(*samples)
        return cr.stack(list(xs)) * 10, [int(y) for y in ys]

    batches = list(DataLoader(ds, batch_size=4, collate_fn=collate))
    assert calls == [4, 2]
    assert batches[0][1] == [0, 1, 2, 3] and batches[1][1] == [4, 5]
    np.testing.assert_array_equal(batches[1][0].numpy(), [[80.0, 90.0], [100.0, 110.0]])
    # the same order as the loader without it, shuffled with the same seed
    plain = [yb.tolist() for _, yb in DataLoader(ds, batch_size=4, shuffle=True, seed=3)]
    mine = [yb for _, yb in DataLoader(ds, batch_size=4, shuffle=True, seed=3, collate_fn=collate)]
    assert plain == mine


def test_fit_reads_a_loader_with_a_collate_fn():
    X, y = np.random.default_rng(0).normal(size=(32, 3)).astype(np.float32), np.arange(32) % 2

    def collate(samples):
        xs, ys = zip(*samples)
        return cr.stack(list(xs)), cr.tensor(np.array([int(v) for v in ys]))

    model = cr.nn.Linear(3, 2)
    loader = DataLoader(TensorDataset(X, y), batch_size=8, collate_fn=collate)
    history = cr.train.fit(
        model, cr.nn.CrossEntropyLoss(), cr.optim.SGD(model.parameters(), lr=0.1), loader, epochs=2, verbose=0
    )
    assert len(history.history["loss"]) == 2
    with pytest.raises(TypeError, match="collate_fn must be a function"):
        DataLoader(TensorDataset(X, y), collate_fn="stack")


def test_a_datasets_batches_are_collated_as_pytorchs_default_collate():
    import collections

    from chainrule.data import Dataset, default_collate

    class Single(Dataset):  # one array per sample (an autoencoder's data)
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return np.full(3, float(i), dtype=np.float32)

    xb = next(iter(DataLoader(Single(), batch_size=2)))
    assert isinstance(xb, cr.Tensor) and xb.shape == (2, 3)  # (was a 1-tuple, which Linear took as a batch)
    assert len(xb) == 2

    class Records(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return {"x": np.ones(2) * i, "label": i, "weight": 0.5, "parts": (i, [float(i), 2.0 * i])}

    batch = next(iter(DataLoader(Records(), batch_size=3)))
    assert batch["x"].shape == (3, 2) and batch["label"].tolist() == [0, 1, 2]
    assert batch["label"].dtype == np.int64 and batch["weight"].dtype == np.float64
    first, second = batch["parts"]
    assert first.tolist() == [0, 1, 2]
    assert [t.tolist() for t in second] == [[0.0, 1.0, 2.0], [0.0, 2.0, 4.0]]  # position by position, as PyTorch
    Pair = collections.namedtuple("Pair", "x y")
    pair = default_collate([Pair(np.zeros(2), 1), Pair(np.ones(2), 0)])
    assert isinstance(pair, Pair) and pair.x.shape == (2, 2) and pair.y.tolist() == [1, 0]
    with pytest.raises(RuntimeError, match="different shapes"):
        default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(RuntimeError, match="same number of parts"):
        default_collate([(1, 2), (1,)])
    with pytest.raises(TypeError, match="holds a NoneType"):
        default_collate([None, None])
    assert default_collate([True, False]).dtype == np.bool_
