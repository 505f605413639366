"""The output folder of ``chainrule train``, replaced whole or not at all.

A run writes every file into a fresh folder beside ``--out`` (same parent, so renaming it is
atomic), named ``<out>.chainrule-new-XXXXXXXX``, and only once all of them are written swaps it
in: on Linux with one atomic exchange of the two folders (``renameat2(RENAME_EXCHANGE)``),
elsewhere by renaming the old folder aside (``<out>.chainrule-old-XXXXXXXX``), the new one into
place, then removing the old. So ``--out`` holds the earlier run complete or the new run
complete, never a mixture; a run that fails or is interrupted removes its folder, and one killed
outright (SIGKILL, a power cut) can leave a ``*.chainrule-new-*`` or ``*.chainrule-old-*`` folder
behind, safe to delete.

Every run also keeps, beside ``--out``, a backup folder ``<out>.chainrule-backup`` (the run's
settings as JSON, and after every epoch ``chainrule.train.BackupAndRestore``'s checkpoint): it is
removed once the run's outputs are swapped in, so one that is left behind is the backup of a run
that was interrupted, which ``chainrule train ... --resume`` continues.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import shutil
import signal
import sys
import threading
from collections.abc import Iterator

from chainrule.cli.errors import CLIError
from chainrule.cli.models import MODEL_FILE
from chainrule.io.files import write_text_atomic

ONNX_FILE = "model.onnx"
"""What ``chainrule export`` writes beside the model by default."""
RUN_FILES = (MODEL_FILE, "history.csv", "report.json", "loss_curve.png", ONNX_FILE)
"""The files a run writes, and the ONNX file exported from it: an existing --out may hold these and
nothing else (a new run replaces them all; an old model's ONNX file goes with it)."""
NEW = ".chainrule-new-"
"""Infix of the folder a run writes into before it is swapped in."""
OLD = ".chainrule-old-"
"""Infix of the earlier run's folder while it is being replaced (where the exchange is not atomic)."""


def check(out: str, force: bool, files: tuple[str, ...] = RUN_FILES, command: str = "train") -> None:
    """Raise CLIError when ``out`` cannot receive a new run of ``chainrule command``: it is a file
    or a link, the working folder, or a folder holding an earlier run (without ``force``) or files
    other than the ``files`` such a run writes."""
    path = os.path.abspath(out)
    if os.path.islink(out):
        raise CLIError(f"--out {out} is a symbolic link: give the folder itself or another --out")
    if not os.path.lexists(out):
        return
    if not os.path.isdir(out):
        raise CLIError(f"--out {out} is a file, not a folder: choose another --out")
    if os.path.commonpath([path, os.getcwd()]) == path:
        raise CLIError(f"--out {out} is the working folder or holds it: choose a folder of its own")
    entries = sorted(os.listdir(out))
    foreign = [e for e in entries if e not in files]
    if foreign:
        shown = ", ".join(repr(e) for e in foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise CLIError(
            f"{out} holds files that `chainrule {command}` does not write ({shown}): a run replaces the whole "
            "folder, so choose another --out"
        )
    if entries and not force:
        if MODEL_FILE in entries and command == "train":
            raise CLIError(
                f"{os.path.join(out, MODEL_FILE)} exists; pass --force to overwrite it or choose another --out"
            )
        raise CLIError(f"{out} holds an earlier run's files; pass --force to replace them or choose another --out")


def _fresh(out: str, infix: str) -> str:
    """A path beside ``out`` named ``<out><infix>XXXXXXXX`` that does not exist yet."""
    while True:
        path = f"{out}{infix}{secrets.token_hex(4)}"
        if not os.path.lexists(path):
            return path


def prepare(out: str) -> str:
    """Create (with its parents) the folder a run of ``--out out`` writes into and return it; a
    CLIError when ``out``'s parent cannot be created or written."""
    out = os.path.normpath(out)
    parent = os.path.dirname(os.path.abspath(out))
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as e:
        raise CLIError(f"cannot create the folder {parent} for --out {out}: {e.strerror or e}") from None
    while True:
        staging = _fresh(out, NEW)
        try:
            os.mkdir(staging)  # the umask's permissions, as a folder made by os.makedirs gets
            return staging
        except FileExistsError:
            continue
        except OSError as e:
            raise CLIError(
                f"cannot write --out {out}: its folder {parent} is not writable ({e.strerror or e})"
            ) from None


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: str, b: str) -> bool:
    """Swap the folders ``a`` and ``b`` in one atomic step (Linux's renameat2); False where that
    is not available (another system, an old kernel or C library, a file system without it)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    return renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0


def replace(staging: str, out: str) -> None:
    """Put the finished run in ``staging`` in place of ``out`` (see the module's docstring); the
    earlier run left in ``staging`` or beside it is removed by ``discard``."""
    out = os.path.normpath(out)
    if not os.path.lexists(out):
        os.rename(staging, out)
        return
    if _exchange(staging, out):  # staging now holds the earlier run: discard removes it
        return
    retired = _fresh(out, OLD)
    os.rename(out, retired)
    try:
        os.rename(staging, out)
    except BaseException:
        os.rename(retired, out)
        raise
    shutil.rmtree(retired, ignore_errors=True)


def discard(staging: str) -> None:
    """Remove ``staging``: an unfinished run, or after ``replace`` the run it replaced."""
    shutil.rmtree(staging, ignore_errors=True)


@contextlib.contextmanager
def uninterrupted() -> Iterator[None]:
    """Hold back Ctrl-C (SIGINT) while the folders are swapped and cleaned up, so that an
    interrupt cannot leave half a folder removed; it takes effect right after. (POSIX, main
    thread; elsewhere a no-op.)"""
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


@contextlib.contextmanager
def staged(out: str) -> Iterator[str]:
    """A fresh folder beside ``out`` (``prepare``) for a run to write into; whatever is left in it
    when the block ends (the unfinished run, or after ``publish`` the run it replaced) is removed."""
    staging = prepare(out)
    try:
        yield staging
    finally:
        with uninterrupted():
            discard(staging)


def publish(staging: str, out: str, *, retire: str | None = None) -> None:
    """Swap the finished run in ``staging`` in for ``out`` (``replace``) and remove the run it
    replaced, Ctrl-C held back throughout. ``retire``: a folder (the run's backup) renamed aside
    first, in one step, and removed after, so that a kill at any moment (SIGKILL is not held back)
    leaves either the earlier run with the backup, or the new run without it."""
    with uninterrupted():
        retired = None
        if retire is not None and os.path.lexists(retire):
            retired = _fresh(os.path.normpath(retire), OLD)
            os.rename(retire, retired)
        replace(staging, out)
        if retired is not None:
            _remove(retired)
        discard(staging)


# ---------------------------------------------------------------------- backup of a run, --resume

BACKUP = ".chainrule-backup"
"""Suffix of the folder beside ``--out`` that holds the backup of a run in progress."""
SETTINGS_FILE = "settings.json"
"""The settings of the run a backup folder belongs to (what ``--resume`` must match)."""


def backup_folder(out: str) -> str:
    """``<out>.chainrule-backup``: where a run of ``--out out`` keeps, after every epoch, what a
    ``--resume`` needs (outside the folder that is swapped in, so it survives the run's end only
    when the run did not finish)."""
    return os.path.normpath(out) + BACKUP


def read_settings(out: str) -> dict | None:
    """The settings stored in ``out``'s backup folder; None when there is no backup to resume."""
    path = os.path.join(backup_folder(out), SETTINGS_FILE)
    try:
        with open(path, encoding="utf-8") as f:
            settings = json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise CLIError(f"cannot read {path} to resume the run: {e}") from None
    return settings if isinstance(settings, dict) else None


def start_backup(out: str, settings: dict, resume: bool) -> tuple[str, bool]:
    """Make ``out``'s backup folder ready for a run with ``settings``: kept as it is with
    ``resume``, else an earlier one is removed and a fresh one made holding the settings. Return
    the folder and whether an earlier backup was removed."""
    folder = backup_folder(out)
    replaced = False
    if not resume:
        if os.path.lexists(folder):
            remove_backup(out)
            replaced = True
        os.makedirs(folder)
        write_text_atomic(os.path.join(folder, SETTINGS_FILE), json.dumps(settings, indent=2) + "\n")
    return folder, replaced


def remove_backup(out: str) -> None:
    """Remove ``out``'s backup folder (the run it backed up has finished)."""
    _remove(backup_folder(out))


def _remove(path: str) -> None:
    """Remove the folder ``path`` (or the link or file in its place)."""
    if os.path.islink(path) or os.path.isfile(path):
        os.remove(path)
    else:
        shutil.rmtree(path, ignore_errors=True)
