"""Files written whole or not at all.

Every file nexuslims writes (records, sidecars, previews, exported copies) goes to a
temporary file beside its target and is moved into place with ``os.replace``, so a
reader or a crash never sees half a file. The temporary file is created the way
``open(path, "w")`` creates a file, so the result has the mode the umask gives (0644
under 022): a web server or CDCS running as another user can read records and previews.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


@contextmanager
def atomic_file(path: Path, *, durable: bool = False) -> Iterator[BinaryIO]:
    """A binary file handle whose content replaces ``path`` when the block ends.

    Parameters
    ----------
    path
        The target; its folder is created if needed.
    durable
        Also ``fsync`` before the move: for files that must survive a power cut once
        the caller has recorded them (records in the outbox, exported copies).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp, fd = _create_temporary(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomically(path: Path, data: bytes, *, durable: bool = False) -> None:
    """Write ``data`` to ``path`` whole or not at all (see :func:`atomic_file`)."""
    with atomic_file(path, durable=durable) as handle:
        handle.write(data)


def _create_temporary(path: Path) -> tuple[Path, int]:
    """A new, exclusive temporary file beside ``path``: its name and descriptor.

    Not ``tempfile.mkstemp``: that creates files 0600 whatever the umask; created with
    mode 0666, the kernel applies the umask as for any other file.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        # The writer's pid last: a pass finding it after the writer is gone (a worker
        # killed mid-write) removes it at once (see builder.lease.remove_stale_tmp_files).
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.{os.getpid()}.tmp"
        try:
            return tmp, os.open(tmp, flags, 0o666)
        except FileExistsError:  # another writer picked the same name: draw again
            continue
