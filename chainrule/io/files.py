"""Files written so that a crash never leaves one half-written: atomic writes of bytes and text.

Every file chainrule writes (models and checkpoints, ``history.csv``, ``report.json``, predictions)
goes through ``write_bytes_atomic``: the bytes go to a temporary file in the target's folder, are
flushed to disk, and the temporary file is renamed onto the target, so the target holds either
its old contents or the new ones, never a part. Permissions follow the umask (or those of the
file being replaced), as with a plain ``open()``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat

__all__ = ["write_bytes_atomic", "write_text_atomic"]


def _write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` to the file descriptor (``os.write`` may write fewer)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that ``path`` holds either its old or its new contents, never
    a part: a temporary file in the same folder (same file system), flushed and fsynced, then
    renamed onto ``path``. On any error, including KeyboardInterrupt, the temporary file is removed.

    The temporary file is named ``.<name>.<pid>-<12 hex digits>.tmp`` next to the target
    (``<name>`` is the target's file name, cut to 200 characters; ``<pid>`` the writing process),
    so one left behind by a process killed mid-save (the only way one survives) is recognisable
    as such and safe to delete; the next save of the same file deletes those whose process is gone.

    Raises:
        FileNotFoundError: the folder to write into does not exist (the message names it, as
            given in ``path``); other OSErrors (a folder that is not writable, a full disk) name
            ``path`` too, never the temporary file.

    Example:
        >>> import os, tempfile
        >>> from chainrule.io.files import write_bytes_atomic
        >>> path = os.path.join(tempfile.mkdtemp(), 'weights.bin')
        >>> write_bytes_atomic(path, b"weights")
        >>> open(path, "rb").read()
        b'weights'
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    prefix = f".{os.path.basename(path)[:200]}."
    temporary = os.path.join(folder, f"{prefix}{os.getpid()}-{secrets.token_hex(6)}.tmp")
    # 0o666 filtered by the umask, like a plain open(); O_EXCL never follows or reuses a file.
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    except OSError as err:
        given = os.path.dirname(path) or "."
        if isinstance(err, FileNotFoundError):
            reason = f"the folder {given!r} does not exist"
        elif isinstance(err, NotADirectoryError):
            reason = f"{given!r} is not a folder"
        elif isinstance(err, PermissionError):
            reason = f"no permission to create files in the folder {given!r}"
        else:
            reason = err.strerror or str(err)
        raise type(err)(err.errno, f"cannot write {path!r}: {reason}") from None
    try:
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        with contextlib.suppress(OSError):  # keep the permissions of the file being replaced
            os.chmod(temporary, stat.S_IMODE(os.stat(path).st_mode))
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _fsync_folder(folder)
    _remove_orphans(folder, prefix)


def _remove_orphans(folder: str, prefix: str) -> None:
    """Delete the temporary files of earlier saves of this target whose writer died mid-save."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        for name in os.listdir(folder):
            if not (name.startswith(prefix) and name.endswith(".tmp")):
                continue
            pid = name[len(prefix) : -len(".tmp")].split("-", 1)[0]
            if not pid.isdigit() or int(pid) == os.getpid() or _alive(int(pid)):
                continue
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(folder, name))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists, owned by someone else
        return True
    return True


def _fsync_folder(folder: str) -> None:
    """Make the rename itself durable (POSIX); best effort, a no-op where folders cannot be opened."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (see ``write_bytes_atomic``).

    Example:
        >>> import os, tempfile
        >>> from chainrule.io.files import write_text_atomic
        >>> path = os.path.join(tempfile.mkdtemp(), 'report.json')
        >>> write_text_atomic(path, '{}')
        >>> open(path).read()
        '{}'
    """
    write_bytes_atomic(path, text.encode("utf-8"))
