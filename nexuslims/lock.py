"""The builder lock: one pass at a time per NX_DATA_PATH."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nexuslims.errors import LockHeld


@contextmanager
def builder_lock(path: Path) -> Iterator[None]:
    """Hold a non-blocking exclusive ``flock`` on ``path`` for the duration.

    The lock is released by the kernel when the process dies, so a crashed pass never
    leaves a stale lock behind. The file records the holder's PID for humans.

    Raises
    ------
    LockHeld
        When another process holds the lock.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise LockHeld(f"another pass (pid {holder}) holds {path}") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
