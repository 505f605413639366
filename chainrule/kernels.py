"""Compiled loops with numba, the optional extra ``fast`` (``pip install "chainrule[fast]"``).

Where numba is installed, these run as compiled loops instead of many small NumPy calls:

- the optimisers' updates (every one but ``LBFGS``: ``SGD``, ``Adam``, ``AdamW``, ``NAdam``,
  ``RAdam``, ``Adamax``, ``RMSprop``, ``Adagrad``, ``Adadelta``, ``Rprop``, ``ASGD``): one pass over
  each parameter instead of five to twelve NumPy calls, each with its own pass over memory;
- the elementwise chains of a compiled step (``cr.compile``): ``g * (x > 0)`` is one loop into a
  buffer the plan keeps, not two NumPy calls and two fresh arrays;
- a convolution's input-gradient scatter-add, a small GRU layer's time loops (hidden size up
  to 16, ``chainrule.ops.recurrent``), and the elementwise work of each step of a bigger GRU or
  an LSTM.

They compute what the NumPy code computes, operation by operation in the same precision (a
float32 update stays float32), so results do not depend on whether numba is installed: the tests
check the optimisers, the scatter, the fused chains and the recurrent cells bit for bit. A small
GRU's time loops are the one exception, equal to rounding (their small products sum in another
order, and they compute tanh themselves).

numba compiles a loop on its first use (a second or so); compiled code is cached on disk, so the
next process loads it instead (importing numba itself takes a quarter of a second, on the first
loop a process runs). The library's own loops are cached beside its source (or
in numba's user-wide cache when that folder is read-only); the loops generated for a compiled
step are written as small modules under ``$CHAINRULE_CACHE/kernels`` (else
``~/.cache/chainrule/kernels``) and cached beside them.

``CHAINRULE_NUMBA=0`` in the environment, or :func:`disable` as a context manager, turns the
compiled loops off; nothing is imported from numba until a loop is first needed.

Example:
    >>> from chainrule import kernels
    >>> with kernels.disable():
    ...     kernels.enabled()
    False
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

ENV = "CHAINRULE_NUMBA"
DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
"""The dtypes the compiled loops compute in; other arrays stay with NumPy."""
MIN_SIZE = 16384
"""The fewest numbers an array must have for the library to hand its work to a compiled loop on
its own (an optimiser's update, a fused chain, a convolution's scatter, a recurrent step's gates):
below it a loop saves a few microseconds a call, and importing numba and loading its cached loops
(about half a second, once per process) would cost a short run more than it saves. ``cr.compile(fn, backend="numba")``
fuses whatever the size; the GRU's time loops, which replace a thousand calls each, always run."""
_CACHE_ENV = "CHAINRULE_CACHE"

_found: bool | None = None  # whether numba imports and is not turned off (looked up once)


class _Local(threading.local):
    off = 0  # how many disable() blocks this thread is in (a class default: a missing attribute is slow)


_local = _Local()
_lock = threading.Lock()


def available() -> bool:
    """Whether numba is installed and not turned off by ``CHAINRULE_NUMBA=0`` (read once, on the
    first call).

    Example:
        >>> from chainrule import kernels
        >>> isinstance(kernels.available(), bool)
        True
    """
    global _found
    if _found is None:  # (looked up once: the optimisers ask on every step)
        off = os.environ.get(ENV, "").strip().lower() in ("0", "false", "no", "off")
        _found = not off and importlib.util.find_spec("numba") is not None
    return _found


def enabled() -> bool:
    """Whether compiled loops are used now: numba is available and no :func:`disable` is open in
    this thread.

    Example:
        >>> from chainrule import kernels
        >>> kernels.enabled() == kernels.available()
        True
    """
    return not _local.off and available()


@contextmanager
def disable() -> Iterator[None]:
    """Run the block with NumPy only (in this thread): the optimisers update with NumPy calls and
    steps compiled in it fuse nothing.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import kernels
        >>> w = cr.nn.Parameter(cr.tensor([1.0, 2.0]))
        >>> (w * w).sum().backward()
        >>> with kernels.disable():
        ...     cr.optim.SGD([w], lr=0.5).step()
        >>> w.tolist()
        [0.0, 0.0]
    """
    _local.off += 1
    try:
        yield
    finally:
        _local.off -= 1


class Kernel:
    """A Python function compiled by numba on its first call (``njit``, cached on disk when it is
    defined in a file; NumPy's rules for floats: ``x / 0`` is inf, not an exception).

    Example:
        >>> import numpy as np
        >>> from chainrule import kernels
        >>> def twice(x, out):
        ...     for i in range(x.size):
        ...         out[i] = 2 * x[i]
        >>> k = kernels.Kernel(twice)
        >>> out = np.empty(3)
        >>> k(np.arange(3.0), out) if kernels.available() else twice(np.arange(3.0), out)
        >>> out.tolist()
        [0.0, 2.0, 4.0]
    """

    __slots__ = ("fn", "compiled")

    def __init__(self, fn: Callable) -> None:
        self.fn = fn
        self.compiled: Callable | None = None

    def __call__(self, *args: Any) -> Any:
        compiled = self.compiled
        if compiled is None:
            compiled = self._compile()
        return compiled(*args)

    def _compile(self) -> Callable:
        with _lock:
            if self.compiled is None:
                import numba

                cache = not self.fn.__code__.co_filename.startswith("<")  # (numba caches what has a file)
                self.compiled = numba.njit(cache=cache, nogil=True, error_model="numpy")(self.fn)
        return self.compiled

    def __repr__(self) -> str:
        return f"<Kernel {self.fn.__name__}{' (compiled)' if self.compiled is not None else ''}>"


def cache_dir() -> Path:
    """The folder of the generated loops' modules: ``$CHAINRULE_CACHE/kernels``, else
    ``~/.cache/chainrule/kernels``; a temporary folder when neither can be written.

    Example:
        >>> from chainrule import kernels
        >>> kernels.cache_dir().name.startswith("kernels") or kernels.cache_dir().exists()
        True
    """
    root = os.environ.get(_CACHE_ENV)
    base = Path(root) if root else Path.home() / ".cache" / "chainrule"
    folder = base / "kernels"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if os.access(folder, os.W_OK):
            return folder
    except OSError:
        pass
    fallback = Path(tempfile.gettempdir()) / f"chainrule-kernels-{os.getuid() if hasattr(os, 'getuid') else 0}"
    fallback.mkdir(parents=True, exist_ok=True)
    return fallback


_generated: dict[str, Callable] = {}


def generated(source: str, name: str) -> Callable:
    """The function ``name`` defined by ``source`` (a module's code that imports what it uses and
    compiles ``name`` with ``numba.njit(cache=True)``), loaded from a file named by the source's
    hash under :func:`cache_dir`: the same source in a later process finds numba's cache there.

    Example:
        >>> from chainrule import kernels
        >>> f = kernels.generated("def half(x):\\n    return x / 2\\n", "half")
        >>> f(3.0)
        1.5
    """
    digest = hashlib.sha1(source.encode()).hexdigest()[:20]
    module_name = f"chainrule_kernel_{digest}"
    found = _generated.get(f"{module_name}.{name}")
    if found is not None:
        return found
    with _lock:
        folder = cache_dir()
        path = folder / f"{module_name}.py"
        if not path.exists() or path.read_text() != source:
            fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
            with os.fdopen(fd, "w") as f:
                f.write(source)
            os.replace(tmp, path)  # whole or not at all: another process may be loading it
        spec = importlib.util.spec_from_file_location(module_name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[module_name] = module
        fn = _generated[f"{module_name}.{name}"] = getattr(module, name)
    return fn


__all__ = ["DTYPES", "ENV", "MIN_SIZE", "Kernel", "available", "cache_dir", "disable", "enabled", "generated"]
