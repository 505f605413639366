"""Steady memory: freed arrays stay with the process, so training steps take no page faults.

Every training step allocates its activations, gradients and temporaries afresh and frees them
when the step ends. With glibc's default settings, the C allocator hands much of that memory back
to the kernel at the end of each step (``munmap`` of arrays above its mmap threshold, and trimming
of the heap's free top above its trim threshold); the next step asks for it again, and the kernel
has to supply and zero every 4 KiB page once more: a page fault each. Measured on this project's
machine kind (a 2-vCPU virtual machine), a fault costs 4-6 us, and an LSTM step took 3,600 of them
(over a third of its time), the CNN's 110-170; PyTorch's steps took none. Faults in a virtual
machine also cost what the host makes them cost, which is what makes such a process's speed vary
from run to run.

So on import, chainrule asks glibc (through ``mallopt``) to keep freed memory for reuse:

* arrays up to 32 MiB come from the heap instead of their own ``mmap`` (``M_MMAP_THRESHOLD``,
  glibc's largest allowed value, 512 KiB on 32-bit systems; it also turns off glibc's own
  threshold adjustment);
* the heap's free top is given back to the kernel only when it exceeds 512 MiB
  (``M_TRIM_THRESHOLD``), so a step's memory is reused by the next step, while a one-off peak
  larger than that is still returned.

After the first step, training then runs without page faults (a test counts them). The cost is
that memory the process freed stays in it, up to its high-water mark, until :func:`empty_cache`
returns it, as PyTorch's caching allocators do with ``torch.cuda.empty_cache()``. To leave glibc's
defaults alone, set ``CHAINRULE_KEEP_FREED_MEMORY=0`` before importing chainrule, or call
``keep_freed_memory(False)``. On other C libraries (macOS, Windows, musl) nothing is changed and
:func:`allocator_info` says so.

One limit, measured: once an allocation has failed in the process (a ``MemoryError`` for an array
larger than the machine can give), glibc can no longer grow its heap in one piece and returns
part of what is freed again (in a test, 126 of 200 MiB kept instead of 200). Steps then take some
page faults again; a fresh process does not.

Example:
    >>> import chainrule as cr
    >>> info = cr.memory.allocator_info()
    >>> sorted(info)
    ['allocator', 'keep_freed_memory', 'mmap_threshold', 'reason', 'trim_threshold']
"""

from __future__ import annotations

import ctypes
import os
import platform
from typing import Any

import numpy as np

__all__ = ["allocator_info", "empty_cache", "keep_freed_memory"]

ENVIRONMENT_VARIABLE = "CHAINRULE_KEEP_FREED_MEMORY"
_OFF = ("0", "false", "no", "off")
_ON = ("1", "true", "yes", "on", "")

# glibc's mallopt parameters (malloc.h) and its documented initial values
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_GLIBC_DEFAULT_MMAP_THRESHOLD = 128 * 1024
_GLIBC_DEFAULT_TRIM_THRESHOLD = 128 * 1024


def _largest_mmap_threshold(long_bytes: int) -> int:
    """The largest M_MMAP_THRESHOLD glibc accepts (half its largest heap, malloc.c's
    DEFAULT_MMAP_THRESHOLD_MAX): 4 MiB times sizeof(long) on 64-bit systems, 512 KiB on 32-bit ones."""
    return 4 * 1024 * 1024 * long_bytes if long_bytes >= 8 else 512 * 1024


MMAP_THRESHOLD = _largest_mmap_threshold(ctypes.sizeof(ctypes.c_long))  # 32 MiB on 64-bit systems
TRIM_THRESHOLD = 512 * 1024 * 1024


def _load_glibc() -> tuple[Any, str]:
    """(the C library, "") when it is glibc with mallopt and malloc_trim, else (None, why not)."""
    name, version = platform.libc_ver()
    if name != "glibc":
        return (
            None,
            f"the C library is not glibc ({platform.system()} {name or 'unknown'}): its allocator is left alone",
        )
    try:
        libc = ctypes.CDLL(None)
        mallopt, malloc_trim = libc.mallopt, libc.malloc_trim
    except (OSError, AttributeError) as error:  # a static or unusual build
        return None, f"glibc {version} without mallopt/malloc_trim reachable ({error}): its allocator is left alone"
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    malloc_trim.argtypes, malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
    return libc, ""


_LIBC, _WHY_NOT = _load_glibc()
_state: dict[str, Any] = {
    "keep_freed_memory": False,
    "mmap_threshold": None,
    "trim_threshold": None,
    "reason": _WHY_NOT or "glibc's defaults (keep_freed_memory(False) or CHAINRULE_KEEP_FREED_MEMORY=0)",
}


def _set(mmap_threshold: int, trim_threshold: int) -> None:
    """Both thresholds, or neither: a refusal of the second puts the first back."""
    if not _LIBC.mallopt(_M_MMAP_THRESHOLD, mmap_threshold):
        raise OSError(f"glibc refused mallopt(M_MMAP_THRESHOLD, {mmap_threshold}): its allocator is unchanged")
    if not _LIBC.mallopt(_M_TRIM_THRESHOLD, trim_threshold):
        _LIBC.mallopt(_M_MMAP_THRESHOLD, _state["mmap_threshold"] or _GLIBC_DEFAULT_MMAP_THRESHOLD)
        raise OSError(f"glibc refused mallopt(M_TRIM_THRESHOLD, {trim_threshold}): its allocator is unchanged")
    _state["mmap_threshold"], _state["trim_threshold"] = mmap_threshold, trim_threshold


def keep_freed_memory(enabled: bool = True) -> bool:
    """Keep freed memory in the process for reuse (True, chainrule's default) or not (False).

    With ``enabled``, glibc serves arrays up to 32 MiB (512 KiB on 32-bit systems) from its heap
    and returns the heap's free top to the kernel only above 512 MiB, so repeated training steps
    reuse the same memory instead of faulting in fresh pages every step. ``False`` sets glibc's
    initial values back (128 KiB for both; glibc's own adjustment of its mmap threshold stays off
    once set). Returns whether the setting is in effect: always False where the C library is not
    glibc. A refusal by glibc is an OSError, with the allocator unchanged (at import:
    ``allocator_info()["reason"]`` says why).

    Example:
        >>> import chainrule as cr
        >>> cr.memory.keep_freed_memory(False)  # glibc's defaults (False elsewhere, too)
        False
        >>> cr.memory.keep_freed_memory() == (cr.memory.allocator_info()["allocator"] == "glibc")
        True
    """
    if not isinstance(enabled, (bool, np.bool_)):
        raise TypeError(f"keep_freed_memory(enabled) takes True or False, got {enabled!r}")
    if _LIBC is None:
        return False
    if enabled:
        _set(MMAP_THRESHOLD, TRIM_THRESHOLD)
        _state.update(keep_freed_memory=True, reason="")
    else:
        _set(_GLIBC_DEFAULT_MMAP_THRESHOLD, _GLIBC_DEFAULT_TRIM_THRESHOLD)
        _state.update(keep_freed_memory=False, reason="glibc's defaults, set by keep_freed_memory(False)")
    return _state["keep_freed_memory"]


def empty_cache() -> bool:
    """Return the memory the process has freed to the kernel now (glibc's ``malloc_trim(0)``).

    Arrays still in use are not touched; the next allocations fault their pages in again. Returns
    whether any memory was returned (False where the C library is not glibc).

    Example:
        >>> import chainrule as cr
        >>> big = cr.zeros(4_000_000); del big
        >>> isinstance(cr.memory.empty_cache(), bool)
        True
    """
    if _LIBC is None:
        return False
    return bool(_LIBC.malloc_trim(0))


def allocator_info() -> dict[str, Any]:
    """What chainrule set in the C allocator: its name, whether freed memory is kept, the two
    thresholds in bytes (None when not set by chainrule) and, when not kept, why.

    Example:
        >>> import chainrule as cr
        >>> cr.memory.allocator_info()["allocator"] in ("glibc", "other")
        True
    """
    return {"allocator": "glibc" if _LIBC is not None else "other", **_state}


def _apply_environment() -> None:
    """Run once, when ``import chainrule`` imports this module: keep freed memory unless the
    environment says not to."""
    value = os.environ.get(ENVIRONMENT_VARIABLE, "").strip().lower()
    if value in _OFF:
        _state["reason"] = f"{ENVIRONMENT_VARIABLE}={os.environ[ENVIRONMENT_VARIABLE].strip()} in the environment"
        return
    if value not in _ON:
        raise ValueError(
            f"{ENVIRONMENT_VARIABLE}={os.environ[ENVIRONMENT_VARIABLE]!r}: use 1 (keep freed memory for reuse, "
            "the default) or 0 (leave the C allocator's defaults)"
        )
    try:
        keep_freed_memory(True)
    except OSError as error:  # an allocator that refuses: import chainrule all the same, and say why
        _state["reason"] = str(error)


_apply_environment()
