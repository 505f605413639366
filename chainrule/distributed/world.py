"""The MPI world: which process this is, how many there are, and the collective operations.

chainrule uses the MPI that clusters already run, through mpi4py (the extra ``mpi``:
``pip install "chainrule[mpi]"`` brings mpi4py and MPICH's wheels). A program started by an MPI
launcher (``mpiexec -n 4 python train.py``, ``srun``) is one process of a world of 4; a program
started on its own is a world of one, in which every collective below returns at once and does
nothing. ``init()`` reads the world; the functions call it themselves, so it is rarely needed.

Every collective waits at most ``timeout`` seconds (``init(timeout=...)`` or the environment
variable ``CHAINRULE_DIST_TIMEOUT``; default 600) for the other processes, then raises
:class:`DistributedError` saying which collective and rank waited. An exception that nothing
catches on one process ends the whole run: its traceback is printed, then a line naming the
rank, then ``MPI_Abort`` stops every process (mpiexec exits non-zero). A process that has joined
the world and ends before a collective the others wait in (``sys.exit`` on one rank, or its script
returning early) tells them as it exits, and they raise :class:`DistributedError` naming it at once.
A process killed by a signal is seen by the launcher, which stops the others.
"""

from __future__ import annotations

import atexit
import enum
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule.tensor import Tensor

# Variables an MPI launcher sets in each process it starts: MPICH/Intel MPI (Hydra), Open MPI,
# PMIx launchers (srun, prterun), MVAPICH; Slurm's SLURM_NTASKS counts only beside a rank variable
# (it is also set in a batch script's single process).
_SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MV2_COMM_WORLD_SIZE")
_LAUNCH_VARIABLES = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "MV2_COMM_WORLD_RANK")
DEFAULT_TIMEOUT = 600.0
_OWNER_VARIABLE = "CHAINRULE_MPI_PID"  # set by the process that started MPI: its children are not ranks


class DistributedError(RuntimeError):
    """A collective operation failed or waited longer than the timeout for another process."""


class ReduceOp(str, enum.Enum):
    """How ``all_reduce`` combines the processes' values (PyTorch's ``ReduceOp`` names).

    Example:
        >>> from chainrule.distributed import ReduceOp
        >>> ReduceOp.SUM.value, ReduceOp("avg") is ReduceOp.AVG
        ('sum', True)
    """

    SUM = "sum"
    AVG = "avg"
    MAX = "max"
    MIN = "min"
    PRODUCT = "product"


class _World:
    """The state of this process's world; one per process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ready = False
        self.comm: Any = None  # mpi4py's COMM_WORLD when size > 1
        self.MPI: Any = None
        self.rank, self.size = 0, 1
        self.timeout = DEFAULT_TIMEOUT
        self.count = 0  # collectives so far (named in a timeout's message)
        self.leavers: _Leavers | None = None  # the other ranks' notices that their program ended


_NOTICE_TAG = 25458  # ("cr"; point-to-point on COMM_WORLD never matches a collective's messages)


class _Leavers:
    """The ranks whose program has ended, as each says when it exits: a rank that ends (``sys.exit``,
    its script returning) before a collective the others wait in would otherwise leave them waiting
    until the timeout (600 s), with a message naming the wrong rank. Each rank sends one small
    message to every other as its interpreter exits (``atexit``, before mpi4py ends MPI), point to
    point with a tag of its own (MPI keeps them apart from the collectives' messages; a new
    communicator would need every rank to take part in making it): its rank and the number of
    collectives it started. ``_wait`` reads them: a rank that ended having started fewer collectives
    than the one waited for never will; one that started it had finished its part (every collective
    is waited for before the program goes on), so a late third rank is waited for as before."""

    def __init__(self, comm: Any, MPI: Any) -> None:
        self.MPI = MPI
        self.comm = comm
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        self.box = np.zeros(2, dtype=np.int64)  # (its rank, the collectives it started)
        self.request = self.comm.Irecv(self.box, source=MPI.ANY_SOURCE, tag=_NOTICE_TAG)
        self.ended: dict[int, int] = {}  # rank -> the number of collectives it had started when it ended
        self.pid = os.getpid()
        atexit.register(self.leave)

    def poll(self) -> dict[int, int]:
        """The ranks known to have ended, with the number of collectives each had started (reading
        the notices that have arrived)."""
        while self.request is not None and self.request.Test():
            self.ended[int(self.box[0])] = int(self.box[1])
            self.request = self.comm.Irecv(self.box, source=self.MPI.ANY_SOURCE, tag=_NOTICE_TAG)
        return self.ended

    def leave(self) -> None:
        """This program is ending: tell every other rank (waiting at most a second for the sends)."""
        if self.request is None or os.getpid() != self.pid:  # (a forked child that runs atexit is no rank)
            return
        if self.MPI.Is_finalized():  # (the program ended MPI itself: nothing can be sent now)
            self.request = None
            return
        note = np.array([self.rank, _world.count], dtype=np.int64)
        sends = [self.comm.Isend(note, dest=r, tag=_NOTICE_TAG) for r in range(self.size) if r != self.rank]
        until = time.perf_counter() + 1.0
        while sends and time.perf_counter() < until:
            sends = [s for s in sends if not s.Test()]
        self.request.Cancel()  # (a cancelled receive completes at once)
        self.request.Wait()
        for request in sends:  # (never block an exit: a send that has not gone goes on its own or not at all)
            request.Free()
        self.request = None


_world = _World()


def _launched_size() -> int:
    """The number of processes the launcher says it started (1 when no launcher is seen, and in a
    process that one of them started: it inherits the launcher's variables, not its world)."""
    owner = os.environ.get(_OWNER_VARIABLE)
    if owner is not None and owner != str(os.getpid()):
        return 1
    for name in _SIZE_VARIABLES:
        value = os.environ.get(name)
        if value and value.isdigit():
            return int(value)
    if os.environ.get("SLURM_NTASKS", "").isdigit() and any(v in os.environ for v in _LAUNCH_VARIABLES):
        return int(os.environ["SLURM_NTASKS"])
    return 1


def _timeout_from_environment() -> float:
    text = os.environ.get("CHAINRULE_DIST_TIMEOUT")
    if text is None:
        return DEFAULT_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"CHAINRULE_DIST_TIMEOUT must be a number of seconds, got {text!r}") from None
    if not value > 0:
        raise ValueError(f"CHAINRULE_DIST_TIMEOUT must be positive, got {text!r}")
    return value


def init(timeout: float | None = None) -> None:
    """Read the MPI world (once; later calls only change ``timeout``).

    Under an MPI launcher with more than one process this imports mpi4py (which starts MPI);
    otherwise the world is this one process and nothing is imported. (The hook that stops every
    process when one raises is installed when this module is imported under such a launcher.)
    A launcher that started several processes when mpi4py is not installed is an error: each
    process would otherwise train alone, silently.

    Args:
        timeout: seconds a collective waits for the other processes before raising
            ``DistributedError`` (default: ``CHAINRULE_DIST_TIMEOUT``, else 600).

    Example:
        >>> import chainrule.distributed as dist
        >>> dist.init()
        >>> dist.world_size(), dist.rank(), dist.is_main()
        (1, 0, True)
    """
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise ValueError(f"init: timeout must be a positive number of seconds, got {timeout!r}")
    with _world.lock:
        if not _world.ready:
            _world.timeout = _timeout_from_environment()
            size = _launched_size()
            if size > 1:
                try:
                    from mpi4py import MPI
                except ImportError:
                    raise ImportError(
                        f"chainrule.distributed: this process was started by an MPI launcher with {size} processes, "
                        'but mpi4py is not installed; pip install "chainrule[mpi]" (without it each process '
                        "would train on its own)"
                    ) from None
                comm = MPI.COMM_WORLD
                _world.MPI, _world.comm = MPI, comm
                _world.rank, _world.size = comm.Get_rank(), comm.Get_size()
                os.environ[_OWNER_VARIABLE] = str(os.getpid())
                if _world.size == 1:
                    _world.comm = None
                else:
                    _world.leavers = _Leavers(comm, MPI)
            _world.ready = True
        if timeout is not None:
            _world.timeout = float(timeout)


def _ensure() -> _World:
    if not _world.ready:
        init()
    return _world


def is_initialized() -> bool:
    """Whether ``init`` has read the world in this process.

    Example:
        >>> import chainrule.distributed as dist
        >>> dist.init(); dist.is_initialized()
        True
    """
    return _world.ready


def rank() -> int:
    """This process's number in the world, from 0 (PyTorch: ``get_rank``).

    Example:
        >>> import chainrule.distributed as dist
        >>> dist.rank()
        0
    """
    return _ensure().rank


def world_size() -> int:
    """The number of processes in the world; 1 without an MPI launcher (PyTorch: ``get_world_size``).

    Example:
        >>> import chainrule.distributed as dist
        >>> dist.world_size()
        1
    """
    return _ensure().size


def is_main() -> bool:
    """Whether this is rank 0, the process that reports and writes files.

    Example:
        >>> import chainrule.distributed as dist
        >>> dist.is_main()
        True
    """
    return _ensure().rank == 0


get_rank = rank
get_world_size = world_size


def _launched_rank() -> str:
    for name in _LAUNCH_VARIABLES:
        if name in os.environ:
            return os.environ[name]
    return "?"


_ABORT_GRACE = 0.25
"""Seconds between a failing rank's last words on stderr and ``MPI_Abort``: the launcher
(``mpiexec``) forwards each process's output, and the abort ends the launcher's forwarding too, so
without a pause the traceback and the reason were sometimes lost (seen twice in the test suite's
runs under load: an empty stderr)."""


def _abort_run(code: int, reason: str) -> None:
    """Stop every process of a launched world with exit code ``code``, saying why on stderr (this
    rank's ``reason``). In a world of one, nothing.

    A process that had not started MPI starts it first, because the others may be waiting in
    ``MPI_Init`` for it, where no timeout reaches them; but the others may also have finished
    without MPI (a script that never used it), and then ``MPI_Init`` would wait for ever (holding
    the interpreter: no thread can watch it). So an alarm ends this process after the world's
    timeout if ``MPI_Init`` has not returned by then (SIGALRM, where there is one)."""
    if _launched_size() <= 1 and not (_world.ready and _world.size > 1):
        return
    if not _world.ready:
        alarm = getattr(signal, "SIGALRM", None)
        if threading.current_thread() is not threading.main_thread():
            alarm = None  # (only the main thread can set one)
        if alarm is not None:
            seconds = max(int(_timeout_or_default()), 1)
            signal.signal(alarm, signal.SIG_DFL)  # (its default action ends the process)
            signal.alarm(seconds)
            sys.stderr.write(
                f"chainrule.distributed: rank {_launched_rank()} {reason}; reaching the other processes through MPI "
                f"to stop them (this process ends in {seconds} s if they have gone)\n"
            )
            sys.stderr.flush()
        try:
            init()
        except Exception:  # (no mpi4py: there is no MPI to stop the others with)
            return
        finally:
            if alarm is not None:
                signal.alarm(0)
    if _world.comm is None:  # (the launcher's variables without a world: one process)
        return
    sys.stderr.write(
        f"chainrule.distributed: rank {_world.rank} of {_world.size} {reason}; stopping all {_world.size} processes\n"
    )
    sys.stderr.flush()
    sys.stdout.flush()
    time.sleep(_ABORT_GRACE)  # (for the launcher to forward what was just written: Abort kills it too)
    _world.comm.Abort(code)


def _timeout_or_default() -> float:
    try:
        return _timeout_from_environment()
    except ValueError:
        return DEFAULT_TIMEOUT


def _install_abort_hook() -> None:
    """Make an uncaught exception on this rank stop every rank (instead of leaving them waiting):
    installed when this module is imported under a launcher of several processes, so that a
    failure before any collective (reading the data) stops the run too."""
    previous = sys.excepthook

    def abort_all(kind: type, error: BaseException, traceback: Any) -> None:
        try:
            previous(kind, error, traceback)
        finally:
            _abort_run(1, f"failed ({kind.__name__}: {error})")

    sys.excepthook = abort_all


if _launched_size() > 1:
    _install_abort_hook()


def _wait(requests: list, what: str, done: Callable[[int], None] | None = None) -> None:
    """Wait for MPI requests, at most the world's timeout; then raise naming ``what``.
    ``done(i)``, if given, is called as soon as request ``i`` is complete, in any order, while
    the others are still in flight (each is tested until it completes, then no more).

    Polls (``Test``) so that the wait can end: a blocking ``Wait`` on a dead peer never returns.
    The first 10 ms it spins (a collective between the processes of one machine takes about
    20 microseconds here, and a poll that sleeps adds its oversleep to every step); then it
    sleeps between tests, up to 1 ms, so that a long wait leaves the CPU to processes that
    compute (more processes than cores)."""
    pending = list(range(len(requests)))

    def finished() -> bool:
        for i in list(pending):
            if requests[i].Test():
                pending.remove(i)
                if done is not None:
                    done(i)
            elif done is None:
                return False
        return not pending

    if finished():
        return
    w = _world
    start = time.perf_counter()
    pause = 0.0
    while not finished():
        waited = time.perf_counter() - start
        ended = w.leavers.poll() if w.leavers is not None else {}
        gone = sorted(r for r, started in ended.items() if started < w.count)
        if gone:
            raise DistributedError(
                f"chainrule.distributed: rank {', '.join(map(str, gone))} of {w.size} ended (its program exited: "
                f"sys.exit, or its script returned) after {min(ended[r] for r in gone)} collective(s), while rank "
                f"{w.rank} waited for it in {what} (collective #{w.count}); every process must take part in every "
                "collective, so this run cannot go on"
            )
        if waited > w.timeout:
            raise DistributedError(
                f"chainrule.distributed: rank {w.rank} of {w.size} waited {waited:.0f} s in {what} (collective "
                f"#{w.count}) for the other processes; one has failed, is stuck, or took another path through the "
                "program. (The limit is init(timeout=...) or CHAINRULE_DIST_TIMEOUT.)"
            )
        if waited > 0.01:
            pause = min(max(pause * 2, 5e-5), 1e-3)
            time.sleep(pause)


def _start() -> _World:
    """The world, a collective counted (a timeout's message names its number)."""
    w = _ensure()
    w.count += 1
    return w


def _op(op: ReduceOp) -> Any:
    MPI = _world.MPI
    return {
        ReduceOp.SUM: MPI.SUM,
        ReduceOp.AVG: MPI.SUM,
        ReduceOp.MAX: MPI.MAX,
        ReduceOp.MIN: MPI.MIN,
        ReduceOp.PRODUCT: MPI.PROD,
    }[op]


def _buffer(x: Any, owner: str, writes: bool = True) -> tuple[np.ndarray, bool]:
    """The array to work on for ``x`` and whether the result goes back into ``x`` (a Tensor or a
    writable, contiguous ndarray is changed in place, as PyTorch's collectives change their
    tensor; a number or a read-only array gives a new one). Checked before any communication,
    so that a refusal happens on every process alike."""
    if isinstance(x, Tensor):
        array, in_place = x._data, True
        if writes and not array.flags.writeable:
            raise ValueError(
                f"{owner}: this Tensor is read-only (a DataLoader batch shares the dataset's memory) and a "
                "collective writes its result into it; pass x.clone()"
            )
    elif isinstance(x, np.ndarray):
        array, in_place = x, bool(x.flags.writeable)
    elif isinstance(x, (bool, int, float, complex, np.number)):
        array, in_place = np.asarray(x), False
    else:
        raise TypeError(f"{owner}: needs a Tensor, an ndarray or a number, got {type(x).__name__}")
    if array.dtype.kind not in "biufc":
        raise TypeError(f"{owner}: needs numbers, got dtype {array.dtype} (a Python int beyond 64 bits is an object)")
    if not array.dtype.isnative:
        raise ValueError(
            f"{owner}: the array's bytes are in the other byte order ({array.dtype.str}); "
            "pass x.astype(x.dtype.newbyteorder('='))"
        )
    return array, in_place


def _result(x: Any, array: np.ndarray, in_place: bool) -> Any:
    if in_place:
        return x
    if isinstance(x, (bool, int, float, np.number)):
        return array.item() if isinstance(x, (bool, int, float)) else array[()]
    return array


def _in_place(array: np.ndarray, in_place: bool, launch: Callable[[np.ndarray], Any], what: str) -> np.ndarray:
    """Run the collective ``launch(work)`` starts on a contiguous array and wait for it: on
    ``array`` itself when it is to be changed in place and contiguous, else on a copy (written
    back into ``array`` when in place). Returns the array holding the result."""
    work = array if (in_place and array.flags.c_contiguous) else np.ascontiguousarray(array).copy()
    _wait([launch(work)], what)
    if in_place and work is not array:
        np.copyto(array, work)
        return array
    return work


def all_reduce(x: Any, op: ReduceOp | str = ReduceOp.SUM) -> Any:
    """Combine ``x`` over every process (sum, avg, max, min, product); every process gets the result.

    A Tensor or a writable ndarray is changed in place (as ``torch.distributed.all_reduce``) and
    returned; a number or a read-only array gives a new value. In a world of one, ``x`` comes back
    as it is. ``avg`` of integers is refused (the mean is not an integer). Every process must
    pass the same shape and dtype (MPI does not check it).

    Example:
        >>> import numpy as np, chainrule.distributed as dist
        >>> dist.all_reduce(np.array([1.0, 2.0]), op="avg")
        array([1., 2.])
    """
    array, in_place = _buffer(x, "all_reduce")
    operation = ReduceOp(op.lower() if isinstance(op, str) else op)
    if operation is ReduceOp.AVG and array.dtype.kind not in "fc":
        raise TypeError(f"all_reduce: op='avg' needs floating-point values, got dtype {array.dtype}")
    if array.dtype.kind == "b":
        raise TypeError("all_reduce: booleans cannot be combined by MPI's sum, max, ...; pass x.astype(np.int64)")
    if array.dtype.kind == "c" and operation in (ReduceOp.MAX, ReduceOp.MIN):
        raise TypeError(f"all_reduce: complex numbers have no {operation.value}")
    w = _start()
    if w.size == 1:
        return x
    mpi_op = _op(operation)
    work = _in_place(
        array,
        in_place,
        lambda work: w.comm.Iallreduce(w.MPI.IN_PLACE, work, op=mpi_op),
        f"all_reduce({operation.value})",
    )
    if operation is ReduceOp.AVG:
        np.divide(work, w.size, out=work)
    return _result(x, work, in_place)


def broadcast(x: Any, src: int = 0) -> Any:
    """Give every process the value ``x`` has on rank ``src`` (in place for a Tensor or a writable
    ndarray, whose shape and dtype must be the same on every rank; a new value otherwise).

    Example:
        >>> import numpy as np, chainrule.distributed as dist
        >>> dist.broadcast(np.arange(3.0), src=0)
        array([0., 1., 2.])
    """
    array, in_place = _buffer(x, "broadcast")
    w = _start()
    if not isinstance(src, (int, np.integer)) or isinstance(src, bool) or not 0 <= src < w.size:
        raise ValueError(f"broadcast: src must be a rank from 0 to {w.size - 1}, got {src!r}")
    if w.size == 1:
        return x
    work = _in_place(array, in_place, lambda work: w.comm.Ibcast(work, root=int(src)), f"broadcast(src={src})")
    return _result(x, work, in_place)


def all_gather(x: Any, tensor: Any = None) -> list:
    """Every process's ``x``, in rank order, on every process.

    ``all_gather(x)`` returns the list of arrays (Tensors for a Tensor). The rows may differ in
    number from rank to rank; the other dimensions and the dtype must agree. PyTorch's form,
    ``all_gather(tensor_list, tensor)``, fills ``tensor_list`` (one Tensor per rank) too.

    Example:
        >>> import numpy as np, chainrule.distributed as dist
        >>> dist.all_gather(np.array([1.0, 2.0]))
        [array([1., 2.])]
    """
    if tensor is not None:  # PyTorch's all_gather(tensor_list, tensor)
        if not isinstance(x, list):
            raise TypeError("all_gather(tensor_list, tensor): tensor_list must be a list")
        parts = all_gather(tensor)
        x[:] = parts
        return x
    array, _ = _buffer(x, "all_gather", writes=False)
    w = _start()
    as_tensor = isinstance(x, Tensor)
    if w.size == 1:
        return [Tensor._make(array.copy()) if as_tensor else np.array(array, copy=True)]
    array = array if array.flags.c_contiguous else array.copy(order="C")  # (np.ascontiguousarray makes 0-d 1-d)
    if array.ndim > 6:
        raise ValueError(f"all_gather: at most 6 dimensions, got {array.ndim}")
    rows_here = len(array) if array.ndim else 1
    mine = np.full(8, -1, dtype=np.int64)  # ndim, dtype, rows, then the other dimensions
    mine[:3] = array.ndim, array.dtype.num, rows_here
    mine[3 : 3 + max(array.ndim - 1, 0)] = array.shape[1:]
    headers = np.empty((w.size, 8), dtype=np.int64)
    _wait([w.comm.Iallgather(mine, headers)], "all_gather (shapes)")
    if (np.delete(headers, 2, axis=1) != np.delete(mine, 2)).any():
        raise DistributedError(
            f"all_gather: the ranks' arrays differ in dimensions or dtype (rank {w.rank}: shape {array.shape}, "
            f"dtype {array.dtype}); only the number of rows may differ"
        )
    rows = headers[:, 2]
    row = int(np.prod(array.shape[1:], dtype=np.int64)) if array.ndim else 1
    counts = rows * row
    out = np.empty(int(counts.sum()), dtype=array.dtype)
    displacements = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    _wait([w.comm.Iallgatherv(array.reshape(-1), [out, (counts.tolist(), displacements.tolist())])], "all_gather")
    parts = []
    for r in range(w.size):
        part = out[displacements[r] : displacements[r] + counts[r]]
        part = part.reshape(array.shape) if not array.ndim else part.reshape((int(rows[r]), *array.shape[1:]))
        parts.append(Tensor._make(part) if as_tensor else part)
    return parts


def barrier() -> None:
    """Wait until every process has called ``barrier`` (at most the timeout).

    Example:
        >>> import chainrule.distributed as dist
        >>> dist.barrier()
    """
    w = _start()
    if w.size > 1:
        _wait([w.comm.Ibarrier()], "barrier")


def _start_all_reduce(array: np.ndarray) -> Any:
    """A non-blocking sum of a contiguous ``array`` in place over every rank: the request to wait on
    (``_wait``), for ``DistributedDataParallel``'s gradient buckets."""
    w = _start()
    return w.comm.Iallreduce(w.MPI.IN_PLACE, array, op=w.MPI.SUM)


def _test(requests: list) -> bool:
    """Let MPI progress the requests; whether they are all done. (One ``Test`` each: mpi4py's
    ``Testall`` costs several times more here.)"""
    for request in requests:
        if not request.Test():
            return False
    return True
