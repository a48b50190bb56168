"""One state file shared by several processes: an exclusive lock per operation, and news of
changes made by the others.

Every :class:`~cmnb.sandbox.store.Store` with a ``path`` takes :meth:`StateFile.held` around
each operation, then reloads when :meth:`StateFile.changed` says another process replaced the
file since this one last read or wrote it. So two ``cmnb`` commands, or a command and a
``cmnb sandbox --shared`` server, can use the same file at once and never lose each other's
changes. The lock is ``flock`` on the file's folder (the state file itself is replaced on each
write, so it cannot carry the lock), or ``msvcrt.locking`` on a lock file beside it on Windows:
the system drops it when a process dies, so a crash never leaves the file locked.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

if sys.platform == "win32":
    import msvcrt
else:
    import fcntl

__all__ = ["StateFile"]

_Stamp = tuple[int, int, int]


class StateFile:
    """The lock and the change stamp of one state file.

    Not thread-safe on its own: the store calls it with its thread lock held.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: int | IO[bytes] | None = None
        self._depth = 0
        self._seen: _Stamp | None = None

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Hold the file's exclusive lock (re-entrant: only the outermost call locks)."""
        if self._depth == 0:
            self._acquire()
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if self._depth == 0:
                self._release()

    def changed(self) -> bool:
        """Whether the file is not what this process last read or wrote (or has gone)."""
        return self._stamp() != self._seen

    def mark(self) -> None:
        """Remember the file as it is now: this process has just read or written it."""
        self._seen = self._stamp()

    def _stamp(self) -> _Stamp | None:
        try:
            status = os.stat(self.path)
        except FileNotFoundError:
            return None
        # os.replace gives each write a new inode: a change shows even within one mtime tick.
        return (status.st_ino, status.st_mtime_ns, status.st_size)

    if sys.platform == "win32":

        def _acquire(self) -> None:
            folder = self.path.parent
            folder.mkdir(parents=True, exist_ok=True)
            handle = open(folder / f".{self.path.name}.lock", "a+b")  # noqa: SIM115 - see _release
            try:
                msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
            except BaseException:
                handle.close()
                raise
            self._handle = handle

        def _release(self) -> None:
            handle, self._handle = self._handle, None
            if isinstance(handle, int) or handle is None:
                return
            try:
                handle.seek(0)
                msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
            finally:
                handle.close()

    else:

        def _acquire(self) -> None:
            folder = self.path.parent
            folder.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(folder, os.O_RDONLY)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX)
            except BaseException:
                os.close(descriptor)
                raise
            self._handle = descriptor

        def _release(self) -> None:
            handle, self._handle = self._handle, None
            if not isinstance(handle, int):
                return
            try:
                fcntl.flock(handle, fcntl.LOCK_UN)
            finally:
                os.close(handle)
