"""The distributed pieces in one process (a world of one), without an MPI launcher."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import chainrule as cr
import chainrule.distributed as dist
from chainrule.autograd import queue_callback
from chainrule.data import DataLoader


def test_a_world_of_one_without_a_launcher():
    assert (dist.world_size(), dist.rank(), dist.is_main()) == (1, 0, True)
    assert dist.get_world_size() == 1 and dist.get_rank() == 0
    x = np.array([1.0, 2.0])
    assert dist.all_reduce(x) is x and dist.broadcast(x) is x
    t = cr.tensor([3.0])
    assert dist.all_reduce(t, op=dist.ReduceOp.MAX) is t
    assert dist.all_reduce(4, op="sum") == 4
    parts = dist.all_gather(x)
    assert len(parts) == 1 and parts[0] is not x and parts[0].tolist() == [1.0, 2.0]
    dist.barrier()


def read_only_batch() -> cr.Tensor:
    return next(iter(DataLoader((np.ones((4, 2)),), batch_size=2)))[0]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: dist.all_reduce("text"), "needs a Tensor, an ndarray or a number"),
        (lambda: dist.all_reduce(np.array([1, 2]), op="avg"), "op='avg' needs floating-point"),
        (lambda: dist.all_reduce(np.ones(2), op="median"), "median"),
        (lambda: dist.broadcast(np.ones(2), src=1), "src must be a rank from 0 to 0"),
        (lambda: dist.init(timeout=0), "timeout must be a positive number"),
        (lambda: dist.all_gather(np.array(["a"])), "needs numbers"),
        (lambda: dist.all_reduce(2**70), "a Python int beyond 64 bits"),
        (lambda: dist.all_reduce(np.array([True])), "booleans cannot be combined"),
        (lambda: dist.all_reduce(np.array([1j]), op="max"), "complex numbers have no max"),
        (lambda: dist.all_reduce(np.ones(2, dtype=">f8")), "other byte order"),
        (lambda: dist.all_reduce(read_only_batch()), "read-only .* pass x.clone()"),
        (lambda: dist.broadcast(read_only_batch()), "read-only .* pass x.clone()"),
    ],
)
def test_bad_arguments_are_refused_by_name(call, message):
    with pytest.raises((TypeError, ValueError), match=message):
        call()


def test_a_launcher_with_several_processes_and_no_mpi4py_is_an_error(tmp_path):
    code = (
        "import sys; sys.modules['mpi4py'] = None\n"
        "import chainrule.distributed as dist\n"
        "try:\n    dist.init()\nexcept ImportError as e:\n    print(e)\n"
    )
    env = {"PATH": "", "PMI_SIZE": "4", "PMI_RANK": "0", "PYTHONPATH": sys.path[0]}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert "MPI launcher with 4 processes" in done.stdout and 'pip install "chainrule[mpi]"' in done.stdout


def test_a_bad_timeout_in_the_environment_is_named(monkeypatch):
    from chainrule.distributed import world

    monkeypatch.setenv("CHAINRULE_DIST_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="CHAINRULE_DIST_TIMEOUT must be a number of seconds, got 'soon'"):
        world._timeout_from_environment()


@pytest.mark.parametrize("n, replicas, drop_last", [(10, 3, False), (10, 3, True), (12, 4, False), (5, 8, False)])
def test_the_shards_are_disjoint_cover_the_data_and_are_equal_in_size(n, replicas, drop_last):
    shards = [
        DistributedSampler(range(n), num_replicas=replicas, rank=r, seed=1, drop_last=drop_last)
        for r in range(replicas)
    ]
    indices = [list(s) for s in shards]
    assert len({len(i) for i in indices}) == 1 and all(len(i) == len(s) for i, s in zip(indices, shards))
    every = [k for shard in indices for k in shard]
    if drop_last:
        assert len(set(every)) == len(every) == n - n % replicas
    else:
        assert set(every) == set(range(n))
        real = [k for s, shard in zip(shards, indices) for k in shard[: s.real_samples()]]
        assert sorted(real) == list(range(n))  # the padding is what comes after real_samples()


DistributedSampler = dist.DistributedSampler


def test_the_order_is_shared_and_new_each_epoch():
    a, b = DistributedSampler(range(20), 2, 0, seed=4), DistributedSampler(range(20), 2, 1, seed=4)
    assert sorted(list(a) + list(b)) == list(range(20))
    first = list(a)
    a.set_epoch(1)
    assert list(a) != first and sorted(list(a) + [k for k in DistributedSampler(range(20), 2, 1, seed=4)]) != []
    b.set_epoch(1)
    assert sorted(list(a) + list(b)) == list(range(20))
    assert list(DistributedSampler(range(6), 2, 1, shuffle=False)) == [1, 3, 5]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_replicas": 0}, "num_replicas must be at least 1"),
        ({"num_replicas": 2, "rank": 2}, "rank must be from 0 to 1"),
        ({"num_replicas": 2.0}, "num_replicas must be an integer"),
        ({"seed": -1}, "seed must be non-negative"),
    ],
)
def test_the_sampler_refuses_bad_settings(kwargs, message):
    with pytest.raises((TypeError, ValueError), match=message):
        DistributedSampler(range(4), **kwargs)


def test_a_dataloader_takes_its_order_from_a_sampler():
    X = np.arange(10.0)
    loader = DataLoader((X,), batch_size=2, sampler=DistributedSampler(X, num_replicas=2, rank=1, shuffle=False))
    assert len(loader) == 3
    assert [b[0].tolist() for b in loader] == [[1.0, 3.0], [5.0, 7.0], [9.0]]
    assert [b[0].tolist() for b in DataLoader((X,), batch_size=4, sampler=[9, 0])] == [[9.0, 0.0]]
    with pytest.raises(ValueError, match="sampler and shuffle=True cannot go together"):
        DataLoader((X,), shuffle=True, sampler=[0])
    with pytest.raises(TypeError, match="sampler must be an iterable of indices with a length"):
        DataLoader((X,), sampler=5)


def test_fit_tells_a_sampler_the_epoch():
    X, y = np.ones((8, 2)), np.ones((8, 1))
    sampler = DistributedSampler(X, num_replicas=1, rank=0, seed=0)
    epochs = []
    original = sampler.set_epoch
    sampler.set_epoch = lambda e: (epochs.append(e), original(e))
    model = cr.nn.Linear(2, 1).to("float64")
    loader = DataLoader((X, y), batch_size=4, sampler=sampler)
    cr.train.fit(model, cr.nn.MSELoss(), cr.optim.SGD(model.parameters(), lr=0.1), loader, epochs=3, verbose=0)
    assert epochs == [1, 2, 3] and sampler.epoch == 3


def test_post_accumulate_grad_hooks_see_the_final_gradient_and_can_be_removed():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    handle = w.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.tolist()))
    (w * w + w * 3).sum().backward()  # two paths into w: the hook runs once, with their sum
    assert seen == [[5.0, 7.0]]
    handle.remove()
    (w * 1).sum().backward()
    assert seen == [[5.0, 7.0]]
    with pytest.raises(RuntimeError, match="only a leaf tensor"):
        (w * 2).register_post_accumulate_grad_hook(print)
    with pytest.raises(TypeError, match="hook must be callable"):
        w.register_post_accumulate_grad_hook(3)


def test_a_queued_callback_runs_once_at_the_end_of_the_backward():
    a = cr.tensor([1.0], requires_grad=True)
    b = cr.tensor([2.0], requires_grad=True)
    events = []

    def hook(p):
        events.append("a" if p is a else "b")
        if len(events) == 1:
            queue_callback(lambda: events.append(("end", a.grad.tolist(), b.grad.tolist())))

    for t in (a, b):
        t.register_post_accumulate_grad_hook(hook)
    (a * b).sum().backward()
    assert sorted(events[:2]) == ["a", "b"] and events[2] == ("end", [2.0], [1.0])
    assert queue_callback(lambda: None) is False  # outside a backward: nothing queued


def test_distributed_data_parallel_in_a_world_of_one_is_the_module():
    model = cr.nn.Linear(3, 2).to("float64")
    ddp = dist.DistributedDataParallel(model)
    x = cr.ones(4, 3, dtype="float64")
    np.testing.assert_array_equal(ddp(x).numpy(), model(x).numpy())
    ddp(x).sum().backward()
    np.testing.assert_array_equal(model.weight.grad.numpy(), np.full((2, 3), 4.0))
    assert ddp.comm_stats == {"all_reduces": 0, "bytes": 0, "wait_seconds": 0.0}
    assert set(ddp.state_dict()) == {"module.weight", "module.bias"}  # PyTorch's keys
    with pytest.raises(TypeError, match="already wrapped"):
        dist.DistributedDataParallel(ddp)
    with pytest.raises(ValueError, match="bucket_cap_mb must be a positive number"):
        dist.DistributedDataParallel(model, bucket_cap_mb=0)


def test_saving_the_wrapper_whole_says_to_save_the_model_it_wraps(tmp_path):
    ddp = dist.DistributedDataParallel(cr.nn.Linear(3, 2))
    with pytest.raises(TypeError, match=r"save the model it wraps, cr.save\(ddp.module, path\)"):
        cr.save(ddp, tmp_path / "ddp.safetensors")  # (it said to override get_config())
    assert not list(tmp_path.iterdir())  # nothing half-written
    cr.save(ddp.module, tmp_path / "model.safetensors")
    cr.save(ddp.state_dict(), tmp_path / "state.safetensors")
    assert set(cr.load(tmp_path / "state.safetensors")) == {"module.weight", "module.bias"}


def test_distributed_data_parallel_takes_pytorchs_arguments_in_pytorchs_order():
    model = cr.nn.Linear(3, 2)
    # (module, device_ids, output_device, dim, broadcast_buffers, init_sync, process_group, bucket_cap_mb, ...)
    ddp = dist.DistributedDataParallel(model, None, None, 0, False, True, None, 0.5, True, False, True, True)
    assert not ddp.broadcast_buffers and ddp.find_unused_parameters and ddp.gradient_as_bucket_view
    assert ddp.static_graph and ddp._reducer.as_view
    assert dist.DistributedDataParallel(cr.nn.Linear(3, 2), bucket_cap_mb=None)  # None: PyTorch's 25
    with pytest.raises(ValueError, match=r"device_ids=\[0\], but chainrule trains on the CPU: leave device_ids out"):
        dist.DistributedDataParallel(model, device_ids=[0])
    with pytest.raises(ValueError, match="bucket_cap_mb, once the second argument here, is the eighth"):
        dist.DistributedDataParallel(model, 25)  # the old order
    assert dist.DistributedDataParallel(model, device_ids=[], output_device=None)  # ([]: PyTorch's test is falsy)
    with pytest.raises(ValueError, match="output_device=0, but chainrule trains on the CPU"):
        dist.DistributedDataParallel(model, output_device=0)
    with pytest.raises(ValueError, match="process_group must be None: the processes are MPI's world"):
        dist.DistributedDataParallel(model, process_group=object())
    with pytest.raises(TypeError, match="dim must be an int"):
        dist.DistributedDataParallel(model, dim="0")


def test_with_gradient_as_bucket_view_no_gradient_has_a_bucket_of_its_own():
    model = cr.nn.Sequential(cr.nn.Linear(1000, 300), cr.nn.Linear(300, 10))  # a 1.2 MB weight
    plain = dist.DistributedDataParallel(model)
    assert [b.direct for b in plain._reducer.buckets] == [False, True]  # the large weight: sent in its .grad
    viewed = dist.DistributedDataParallel(model, gradient_as_bucket_view=True)
    assert [b.direct for b in viewed._reducer.buckets] == [False]
    assert viewed._reducer.buckets[0].offsets[-1] == sum(p.numel() for p in model.parameters())
    assert viewed._reducer.buckets[0].flat is None  # (a world of one sends nothing: no buffer made)


def test_buckets_follow_the_reverse_order_and_the_size_cap():
    model = cr.nn.Sequential(cr.nn.Linear(100, 100), cr.nn.Linear(100, 10))  # 10100 + 1010 floats
    ddp = dist.DistributedDataParallel(model, bucket_cap_mb=0.01)  # 10485 bytes
    names = [[name for name, _ in b.params] for b in ddp._reducer.buckets]
    # the last layer's first (a backward finishes them first); a bucket closes before it would pass the cap
    assert names == [["1.bias", "1.weight", "0.bias"], ["0.weight"]]
    assert [b.offsets[-1] for b in ddp._reducer.buckets] == [1110, 10000]


def test_a_process_started_by_a_rank_is_not_a_rank(tmp_path):
    code = "import chainrule.distributed as dist; print(dist.world_size())"
    env = {"PATH": "", "PMI_SIZE": "2", "PMI_RANK": "1", "CHAINRULE_MPI_PID": "1", "PYTHONPATH": sys.path[0]}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert done.stdout.strip() == "1", done.stderr  # (pid 1 started MPI; this child inherited its variables)


def test_a_user_hook_makes_a_compiled_step_run_eagerly_so_the_hook_always_runs():
    import warnings

    lin = cr.nn.Linear(3, 2)
    calls = []
    lin.weight.register_post_accumulate_grad_hook(lambda p: calls.append(1))

    @cr.compile
    def step(x):
        lin.zero_grad()
        lin(x).sum().backward()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for i in range(5):
            step(cr.ones(2, 3) * (i + 1))
    assert len(calls) == 5
    assert any("post-accumulate-grad hook" in str(w.message) for w in caught)


def test_fit_refuses_a_bad_data_parallel_setting():
    model = cr.nn.Linear(2, 1)
    with pytest.raises(ValueError, match="data_parallel must be None, True or False, got 'yes'"):
        cr.train.fit(
            model,
            cr.nn.MSELoss(),
            cr.optim.SGD(model.parameters(), lr=0.1),
            np.ones((4, 2)),
            np.ones((4, 1)),
            data_parallel="yes",
        )
