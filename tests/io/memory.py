"""Measuring the memory a call really uses: the growth of the process's peak resident set size
(RSS), not what was allocated. Layers built inside ``chainrule.nn.init.skip_init()`` allocate
arrays that are never written, which the operating system never backs with memory, so
tracemalloc (which counts every allocation NumPy makes) would report gigabytes that were never
used; RSS reports what was.

``peak_rss_growth`` measures in this process: on Linux the peak is reset before the call
(``/proc/self/clear_refs``), so each call is measured on its own; elsewhere the growth of
``ru_maxrss`` is used, which only sees a call that goes beyond the highest peak so far (never a
false alarm, sometimes a miss). ``subprocess_peak_rss_growth`` measures in a fresh interpreter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
MB = 1 << 20


def _max_rss_bytes() -> int:
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # macOS counts bytes, Linux KiB


def _reset_linux_peak() -> bool:
    """Reset the peak RSS to the current RSS (Linux 4.0 and later); False where that cannot be done."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # 5: reset the peak resident set size
    except OSError:
        return False
    return True


def _linux_peak() -> int:
    """VmHWM, the peak RSS since the last reset, in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def peak_rss_growth(fn: Callable[[], Any]) -> tuple[Any, BaseException | None, int]:
    """``(result, exception, growth)``: what ``fn()`` returned (or None), the exception it raised
    (or None), and how many bytes the peak RSS grew while it ran."""
    linux = _reset_linux_peak()
    peak = _linux_peak if linux else _max_rss_bytes
    start = peak()
    result, error = None, None
    try:
        result = fn()
    except Exception as err:  # noqa: BLE001  (returned to the test)
        error = err
    return result, error, max(0, peak() - start)


def subprocess_peak_rss_growth(code: str) -> dict[str, Any]:
    """Run ``code`` in a fresh Python (the repository importable) after ``import chainrule``, where
    nothing earlier (another test, a fixture) has touched the memory being measured;
    ``measure(fn)`` there gives ``(growth in bytes, "Error: message" or None)`` for ``fn()``. The
    code's last line prints a JSON object, which is returned."""
    prelude = (
        "import json, sys\n"
        "import numpy as np\n"
        "import chainrule as cr\n"
        "from tests.io.memory import peak_rss_growth\n"
        "def measure(fn):\n"
        "    _, error, growth = peak_rss_growth(fn)\n"
        "    return growth, None if error is None else f'{type(error).__name__}: {error}'\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run(
        [sys.executable, "-c", prelude + code], capture_output=True, text=True, env=env, cwd=REPO, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
