"""An exclusive lock beside an output file, held for the whole write.

Two runs writing the same file (the same ``--out``, or ``--in-place`` on one input) would
otherwise both succeed while one result disappears. :func:`write_lock` takes an advisory
``flock`` on ``.<name>.lock`` beside the target. The kernel drops the lock when its holder
exits, however it exits, so a lock file left by a killed run never blocks a later one (stale-lock
safe); the holder removes the file when it is done.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from ..errors import OutputError

__all__ = ["LOCK_WAIT_S", "lock_path", "write_lock"]

#: How long a writer waits for another writer of the same file before giving up (seconds).
LOCK_WAIT_S = 60.0
_POLL_S = 0.05


def lock_path(target: str | os.PathLike) -> Path:
    """The lock file of ``target``: ``.<name>.lock`` in the same folder."""
    target = Path(target).absolute()
    return target.with_name(f".{target.name}.lock")


def _acquire(path: Path, target: str | os.PathLike, deadline: float) -> int:
    """A descriptor of ``path`` holding its exclusive lock (retried while another process holds it)."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            if time.monotonic() > deadline:
                raise OutputError(
                    f"{os.fspath(target)} is locked by another run writing it (lock file {path}); "
                    "wait for that run to finish, or write to another file"
                ) from None
            time.sleep(_POLL_S)
            continue
        try:  # the previous holder may have removed the file after we opened it: lock the file now there
            same = os.stat(path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)


@contextlib.contextmanager
def write_lock(target: str | os.PathLike, *, wait_s: float = LOCK_WAIT_S) -> Iterator[Path]:
    """Hold the exclusive write lock of ``target`` for the ``with`` block.

    Parameters
    ----------
    target : str or path
        The file about to be written (its folder must exist).
    wait_s : float
        Wait this long for another writer to finish before failing.

    Yields
    ------
    Path
        The lock file.

    Raises
    ------
    OutputError
        Another process still holds the lock after ``wait_s`` seconds (the message says "locked"),
        or the lock file cannot be created (read-only folder, a link in its place).
    """
    path = lock_path(target)
    try:
        fd = _acquire(path, target, time.monotonic() + wait_s)
    except OutputError:
        raise
    except OSError as err:
        why = "permission denied (read-only?)" if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS) else str(err)
        raise OutputError(
            f"cannot write {os.fspath(target)}: {why} (its lock file {path} cannot be created); nothing was changed."
        ) from None
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield path
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
        os.close(fd)
