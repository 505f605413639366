"""``DistributedDataParallel``: the same model on every process, gradients averaged after each backward.

The design is PyTorch's DDP and Horovod's: the parameters are grouped in buckets of about
``bucket_cap_mb`` megabytes, in the reverse of their order in the model (the order a backward
finishes them); a gradient hook copies each parameter's gradient, times 1/p (p processes, a power
of two: then the sum is the mean bit for bit), into its bucket's flat buffer as soon as the
backward has accumulated it, and a bucket whose gradients are all in is sent at once with one
non-blocking ``Iallreduce``, in bucket order, while the backward goes on. A gradient of 1 MiB or
more has a bucket of its own and is sent in its ``.grad`` itself (no copy in and out) when the
backward ends: until then the walk may still read that array as another edge's gradient. With
``gradient_as_bucket_view`` every gradient is in a shared bucket, and each ``.grad`` becomes a
view of its bucket once the sums arrive (no copy out). The sums are waited for and the means
written back into each ``.grad``, each bucket as soon as it arrives. Inside ``cr.compile``'s step
the hooks and the final wait are replayed calls: the exchange stays inside the compiled step, at
the same points of its backward.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from chainrule.autograd import queue_callback
from chainrule.compiler.recorder import replayed
from chainrule.distributed import world
from chainrule.nn.module import Module
from chainrule.tensor import Tensor

DIRECT_BYTES = 2**20
"""A gradient of at least this many bytes is all-reduced where it lies, in its ``.grad`` (a bucket
of its own, no copy in and out: measured on the 784-1024-1024-10 MLP, the two passes over its
7.5 MB of gradients cost 1.75 ms of a 34 ms step); smaller ones share buckets. Not with
``gradient_as_bucket_view``, where the one copy in replaces the copy out."""


class _Bucket:
    """Parameters whose gradients travel together in one flat buffer; a ``direct`` bucket holds
    one large parameter and sends its ``.grad`` array itself."""

    def __init__(self, params: list[tuple[str, Tensor]], dtype: np.dtype, direct: bool = False) -> None:
        self.params = params
        self.direct = direct
        sizes = [p._data.size for _, p in params]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int).tolist()
        self.dtype = dtype
        self.flat: np.ndarray | None = None  # (made by allocate(): a world of one never needs it)
        self.waiting = len(params)
        self.filled: set[int] = set()
        self.request: Any = None

    def allocate(self) -> None:
        if not self.direct and self.flat is None:
            self.flat = np.zeros(self.offsets[-1], dtype=self.dtype)

    def view(self, k: int) -> np.ndarray:
        p = self.params[k][1]
        if self.direct:
            return self.flat.reshape(p._data.shape)
        return self.flat[self.offsets[k] : self.offsets[k + 1]].reshape(p._data.shape)

    def take(self, k: int, grad: np.ndarray, scale: float | None) -> None:
        """Parameter ``k``'s gradient, times ``scale`` if given: into the flat buffer, or (direct) the
        array itself when MPI can send it where it lies (contiguous, writable, the parameter's dtype)."""
        if not self.direct:
            if scale is None:
                np.copyto(self.view(k), grad)
            else:
                np.multiply(grad, scale, out=self.view(k))
            return
        if grad.flags.c_contiguous and grad.flags.writeable and grad.dtype == self.dtype:
            self.flat = grad.reshape(-1)
        else:
            self.flat = np.array(grad, dtype=self.dtype, order="C").reshape(-1)
        if scale is not None:
            np.multiply(self.flat, scale, out=self.flat)


class _Reducer:
    """The gradient exchange of one ``DistributedDataParallel``: buckets, hooks, the final wait.

    The buckets of small gradients (copied into a flat buffer) come first and are sent during the
    backward as they fill; the direct buckets (a large gradient each, sent in its ``.grad``) come
    last and are sent when the backward ends, because during the walk a ``.grad`` array may
    still be read as the gradient of another edge (``y = P + f(x)``: the same array is ``P``'s
    ``.grad`` and the gradient the walk passes on into ``f``). Every process sends the buckets in
    the same order."""

    def __init__(
        self, named: list[tuple[str, Tensor]], bucket_cap_mb: float, find_unused: bool, as_view: bool = False
    ) -> None:
        self.find_unused = find_unused
        self.as_view = as_view
        processes = world.world_size()
        # each gradient is multiplied by 1/p as it goes into its bucket, so the sum is the mean:
        # (a/p + b/p) is (a + b)/p bit for bit when p is a power of two (scaling by a power of two
        # is exact, and commutes with rounding); otherwise the sum is divided by p after
        self.prescale = 1.0 / processes if processes > 1 and processes & (processes - 1) == 0 else None
        self.sync = True
        self.active = False  # a backward has reported a gradient; the exchange is not finished
        self.launched = 0  # buckets sent in this backward (always in order)
        self.where: dict[int, tuple[_Bucket, int]] = {}
        self.buckets: list[_Bucket] = []
        self.ordered = [p for _, p in named]
        cap = max(int(bucket_cap_mb * 2**20), 1)
        current: list[tuple[str, Tensor]] = []
        direct: list[tuple[str, Tensor]] = []
        size = 0
        for name, p in reversed(named):  # the backward finishes the last layers first
            if p._data.nbytes >= DIRECT_BYTES and not as_view:
                direct.append((name, p))
                continue
            if current and (size + p._data.nbytes > cap or current[0][1]._data.dtype != p._data.dtype):
                self._bucket(current)
                current, size = [], 0
            current.append((name, p))
            size += p._data.nbytes
        if current:
            self._bucket(current)
        self.first_direct = len(self.buckets)
        for entry in direct:
            self._bucket([entry], direct=True)
        self.handles: list[Any] = []
        self.stats = {"all_reduces": 0, "bytes": 0, "wait_seconds": 0.0}

    def _bucket(self, params: list[tuple[str, Tensor]], direct: bool = False) -> None:
        bucket = _Bucket(params, params[0][1]._data.dtype, direct)
        for k, (_, p) in enumerate(params):
            self.where[id(p)] = (bucket, k)
        self.buckets.append(bucket)

    def params(self) -> list[Tensor]:
        """The parameters, in the model's order."""
        return list(self.ordered)

    def attach(self) -> None:
        if not self.handles:
            for bucket in self.buckets:
                bucket.allocate()
                for _, p in bucket.params:  # (a replayed call: a compiled step calls it again, live)
                    self.handles.append(p.register_post_accumulate_grad_hook(self.ready))

    def detach(self) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles = []

    @replayed
    def ready(self, p: Tensor) -> None:
        """Parameter ``p``'s gradient is accumulated: into its bucket; send the buckets now complete."""
        if not self.active:
            self.active = True
            self.launched = 0
            for bucket in self.buckets:
                bucket.waiting = len(bucket.params)
                bucket.filled.clear()
                bucket.request = None
            queue_callback(self.finish)  # (a replay has the finish in its plan; this does nothing there)
        if not self.sync:
            return
        bucket, k = self.where[id(p)]
        if p._data.dtype != bucket.dtype:
            raise RuntimeError(
                f"DistributedDataParallel: {bucket.params[k][0]} is {p._data.dtype} now but was {bucket.dtype} "
                "when the model was wrapped, so its gradient would be exchanged in the old dtype; convert the "
                "model (model.to(...)) before wrapping it"
            )
        if k in bucket.filled:
            raise RuntimeError(
                f"DistributedDataParallel: the gradient of {bucket.params[k][0]} was accumulated twice in one "
                "backward (a parameter used by two graphs backpropagated separately?); use no_sync() for all but "
                "the last backward"
            )
        if not bucket.direct:  # (a direct bucket takes its .grad when the backward has ended)
            bucket.take(k, p._grad._data, self.prescale)
        bucket.filled.add(k)
        bucket.waiting -= 1
        self._launch_ready(self.first_direct)
        if 0 < self.launched < len(self.buckets):  # let the sends in flight progress
            world._test([b.request for b in self.buckets[: self.launched]])

    def _launch_ready(self, limit: int) -> None:
        """Send, in order, the complete buckets among the first ``limit``."""
        while self.launched < limit and self.buckets[self.launched].waiting == 0:
            bucket = self.buckets[self.launched]
            bucket.request = world._start_all_reduce(bucket.flat)
            self.launched += 1
            self.stats["all_reduces"] += 1
            self.stats["bytes"] += bucket.flat.nbytes

    @replayed
    def finish(self) -> None:
        """The end of the backward: send what is left, wait for every bucket, write the means back."""
        if not self.active:
            return
        self.active = False
        if not self.sync:
            return
        missing = [(b, k) for b in self.buckets for k in range(len(b.params)) if k not in b.filled]
        if missing and not self.find_unused:
            names = ", ".join(b.params[k][0] for b, k in missing[:5])
            raise RuntimeError(
                f"DistributedDataParallel: {len(missing)} parameter(s) got no gradient in this backward "
                f"({names}{', ...' if len(missing) > 5 else ''}); every process must send every gradient. "
                "Pass find_unused_parameters=True (or static_graph=True, if the same ones are unused every step) if "
                "some parameters are not used in every step (with fit: "
                "fit(DistributedDataParallel(model, find_unused_parameters=True), ...))"
            )
        for bucket, k in missing:
            # not used in this backward: what its .grad holds (accumulated under no_sync), else zeros
            p = bucket.params[k][1]
            if p._grad is not None:
                bucket.filled.add(k)
                if not bucket.direct:
                    bucket.take(k, p._grad._data, self.prescale)
            elif bucket.direct:
                bucket.flat = np.zeros(bucket.offsets[-1], dtype=bucket.dtype)
            else:
                bucket.view(k)[...] = 0
            bucket.waiting -= 1
        for bucket in self.buckets[self.first_direct :]:  # the walk is over: the .grad arrays are free
            if bucket.filled:
                bucket.take(0, bucket.params[0][1]._grad._data, self.prescale)
        self._launch_ready(len(self.buckets))
        used = None
        if self.find_unused:  # which parameters some process has a gradient of: they get the mean everywhere
            used = np.array([k in b.filled for b in self.buckets for k in range(len(b.params))], dtype=np.int32)
            used_request = world._start_all_reduce(used)
        size = world.world_size()

        def write_back(i: int) -> None:  # (as each bucket arrives, while the others are in flight)
            bucket = self.buckets[i]
            if self.prescale is None:  # the sum, divided in place
                np.divide(bucket.flat, size, out=bucket.flat)
            for k, (_, p) in enumerate(bucket.params):
                mean = bucket.view(k)
                if k in bucket.filled:
                    if self.as_view and not bucket.direct:
                        p._grad = Tensor._make(mean)
                    elif not np.may_share_memory(mean, p._grad._data):  # (direct: the .grad itself)
                        np.copyto(p._grad._data, mean)
                elif used[first[i] + k]:  # only other processes had its gradient: its .grad is the mean too
                    p._grad = Tensor._make(mean if self.as_view and not bucket.direct else mean.copy())
                # (a parameter no process used keeps its .grad, None, as in PyTorch)
            if bucket.direct:
                bucket.flat = None  # (the .grad is the caller's now)

        requests = [b.request for b in self.buckets]
        if used is not None:
            first = np.cumsum([0] + [len(b.params) for b in self.buckets]).tolist()
            world._wait([used_request], "the count of the processes that used each parameter")
        start = time.perf_counter()
        world._wait(requests, "the gradient all-reduce", write_back)
        self.stats["wait_seconds"] += time.perf_counter() - start


def _broadcast_buffers_of(module: Module) -> None:
    """Give every process rank 0's buffers of ``module`` (BatchNorm's running statistics), in place."""
    for _, buffer in module.named_buffers():
        if buffer is not None:
            world.broadcast(buffer._data, src=0)


class DistributedDataParallel(Module):
    """Train ``module`` on every process of the MPI world at once, each on its share of the data.

    When it is made it gives every process rank 0's parameters and buffers. After each
    ``backward()`` the gradients are averaged over the processes (one ``Iallreduce`` per bucket of
    up to ``bucket_cap_mb`` MB, sent while the backward goes on; a gradient of 1 MiB or more in
    its own ``.grad``, when the backward ends, unless ``gradient_as_bucket_view``), so every
    process takes the same optimiser step and the copies stay equal. In a world of one process it
    is the module itself, with no communication.

    ``fit`` does this by itself under ``mpiexec``; the wrapper is for a training loop of your own.
    The arguments are PyTorch's, in its order; the processes are MPI's world, on the CPU.

    Args:
        module: the model.
        device_ids, output_device: None (as PyTorch for a module on the CPU).
        dim: accepted, unused (as PyTorch on the CPU: it is for one process over several devices).
        broadcast_buffers: give every process rank 0's buffers (BatchNorm's running statistics)
            before each forward, as PyTorch (default True). BatchNorm normalises with each
            process's own batch statistics (there is no SyncBatchNorm yet).
        init_sync: give every process rank 0's parameters and buffers now (default True).
        process_group: None: every process of the MPI world (there are no process groups).
        bucket_cap_mb: the size of a bucket (default None: 25, PyTorch's).
        find_unused_parameters: allow parameters that get no gradient in a backward (they
            contribute what their ``.grad`` holds, else zeros); by default that is an error
            naming them.
        check_reduction: accepted, unused (deprecated in PyTorch).
        gradient_as_bucket_view: make each ``.grad`` a view of its bucket after the exchange,
            as PyTorch: no copy back into the ``.grad``, no second copy of the gradients kept, and
            every gradient in a bucket. A ``.grad`` kept from one step to the next is overwritten
            by the next step's exchange (default False: each exchange writes the ``.grad`` the
            backward made).
        static_graph: a promise that every step uses the same parameters; as in PyTorch, those a
            step does not use are then allowed, as with ``find_unused_parameters``.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.distributed import DistributedDataParallel
        >>> model = DistributedDataParallel(cr.nn.Linear(3, 1))
        >>> model(cr.ones(2, 3)).sum().backward()
        >>> model.module.weight.grad.shape
        (1, 3)
        >>> with model.no_sync():  # accumulate without exchanging
        ...     model(cr.ones(2, 3)).sum().backward()
    """

    def __init__(
        self,
        module: Module,
        device_ids: Any = None,
        output_device: Any = None,
        dim: int = 0,
        broadcast_buffers: bool | None = True,
        init_sync: bool = True,
        process_group: Any = None,
        bucket_cap_mb: float | None = None,
        find_unused_parameters: bool = False,
        check_reduction: bool = False,
        gradient_as_bucket_view: bool = False,
        static_graph: bool = False,
    ) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: module must be a chainrule Module, got {type(module).__name__}")
        if isinstance(module, DistributedDataParallel):
            raise TypeError("DistributedDataParallel: this module is already wrapped")
        for name, value in (("device_ids", device_ids), ("output_device", output_device)):
            if value is not None and not (isinstance(value, (list, tuple)) and not value):  # ([]: as None)
                moved = (
                    " (bucket_cap_mb, once the second argument here, is the eighth, as PyTorch's: pass it by name)"
                    if name == "device_ids" and isinstance(value, (int, float)) and not isinstance(value, bool)
                    else ""
                )
                raise ValueError(
                    f"DistributedDataParallel: {name}={value!r}, but chainrule trains on the CPU: leave {name} out "
                    f"(None, as PyTorch for a module on the CPU){moved}"
                )
        if process_group is not None:
            raise ValueError(
                "DistributedDataParallel: process_group must be None: the processes are MPI's world (COMM_WORLD), "
                "and there are no process groups"
            )
        if isinstance(dim, bool) or not isinstance(dim, int):
            raise TypeError(f"DistributedDataParallel: dim must be an int, got {dim!r}")
        if bucket_cap_mb is None:
            bucket_cap_mb = 25.0
        if isinstance(bucket_cap_mb, bool) or not isinstance(bucket_cap_mb, (int, float)) or not bucket_cap_mb > 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be a positive number, got {bucket_cap_mb!r}")
        super().__init__()
        self.module = module
        self.broadcast_buffers = True if broadcast_buffers is None else bool(broadcast_buffers)
        self.static_graph = bool(static_graph)
        world.init()
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        # (a static graph uses the same parameters every step: then it does not matter, in PyTorch,
        # whether find_unused_parameters is set; those it never uses keep .grad None)
        allow_unused = bool(find_unused_parameters) or self.static_graph
        reducer = _Reducer(named, float(bucket_cap_mb), allow_unused, bool(gradient_as_bucket_view))
        object.__setattr__(self, "_reducer", reducer)
        if init_sync:
            self.sync_module_states()
        self._attach_hooks()

    def get_config(self) -> dict[str, Any]:
        """Not saved whole: raises, saying to save the wrapped model (``cr.save(ddp.module, path)``)."""
        raise TypeError(
            "DistributedDataParallel is a wrapper for training, not a model to save: save the model it wraps, "
            "cr.save(ddp.module, path) (ddp.state_dict() has PyTorch's 'module.' keys, for a state dict)"
        )

    @property
    def find_unused_parameters(self) -> bool:
        return self._reducer.find_unused

    @property
    def gradient_as_bucket_view(self) -> bool:
        return self._reducer.as_view

    @property
    def comm_stats(self) -> dict[str, float]:
        """The gradient exchange so far: ``all_reduces`` (buckets sent), ``bytes`` (sent per
        process, before MPI's own algorithm) and ``wait_seconds`` (time the backward's end spent
        waiting for the sums and writing the means into the ``.grad``: the communication the
        computation did not hide)."""
        return dict(self._reducer.stats)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if self._reducer.active and self._reducer.sync:
            raise RuntimeError(
                "DistributedDataParallel: the last backward's gradient exchange did not finish (it failed half-way)"
            )
        if self.broadcast_buffers and world.world_size() > 1:
            self._broadcast_buffers()
        return self.module(*args, **kwargs)

    @replayed
    def _broadcast_buffers(self) -> None:
        _broadcast_buffers_of(self.module)

    def sync_module_states(self) -> None:
        """Give every process rank 0's parameters and buffers (done when the wrapper is made)."""
        if world.world_size() == 1:
            return
        for _, p in self.module.named_parameters():
            world.broadcast(p._data, src=0)
        _broadcast_buffers_of(self.module)

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Backward passes inside keep their gradients on this process (accumulating them); the first
        backward after it averages the sum (PyTorch's ``no_sync``, for gradient accumulation)."""
        before = self._reducer.sync
        self._reducer.sync = False
        try:
            yield
        finally:
            self._reducer.sync = before

    def _detach_hooks(self) -> None:
        """Stop exchanging gradients (``fit`` wraps a model for its run only)."""
        self._reducer.detach()

    def _attach_hooks(self) -> None:
        if world.world_size() > 1:
            self._reducer.attach()
