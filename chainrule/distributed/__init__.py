"""Data-parallel training over MPI: the world, its collectives, ``DistributedDataParallel``, ``DistributedSampler``.

Run the same script on several processes with an MPI launcher (``mpiexec -n 4 python train.py``;
``pip install "chainrule[mpi]"`` installs mpi4py and MPICH). ``fit`` uses the world by itself;
a training loop of your own uses the pieces, as with ``torch.distributed``:

    import chainrule.distributed as dist
    model = dist.DistributedDataParallel(model)
    loader = DataLoader(data, batch_size=32, sampler=dist.DistributedSampler(data))

Without a launcher the world is this process alone and every collective does nothing.
"""

from chainrule.distributed.parallel import DistributedDataParallel
from chainrule.distributed.sampler import DistributedSampler
from chainrule.distributed.world import (
    DistributedError,
    ReduceOp,
    all_gather,
    all_reduce,
    barrier,
    broadcast,
    get_rank,
    get_world_size,
    init,
    is_initialized,
    is_main,
    rank,
    world_size,
)

__all__ = [
    "init",
    "is_initialized",
    "rank",
    "world_size",
    "get_rank",
    "get_world_size",
    "is_main",
    "barrier",
    "all_reduce",
    "broadcast",
    "all_gather",
    "ReduceOp",
    "DistributedError",
    "DistributedDataParallel",
    "DistributedSampler",
]
