"""Passing faults versus final outcomes: what leaves a session for a later pass.

A session becomes ERROR only when its data or its record is at fault (an invalid record,
inconsistent session rows): another pass would fail the same way. Trouble from outside
the data passes: a full or failing disk under our own output paths, a locked or
unreachable database, a calendar or file store that does not answer. Such a fault leaves
the session TO_BE_BUILT; its attempt is finished as ``DEFERRED`` with the reason, and the
session is tried again after a backoff (:func:`retry_after`). See docs/reliability.md.
"""

from __future__ import annotations

import datetime as dt
import errno
import re

from nexuslims.errors import DatabaseError, HarvesterError

#: What was out of reach, for alerts: a calendar, the instrument file store, an export
#: destination, or the machine itself (disk, database).
PROBLEMS = ("calendar", "filestore", "destination", "environment")

#: OS errors on our own output paths that say the machine, not the data, is at fault.
ENVIRONMENTAL_ERRNOS = frozenset({
    errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.ESTALE, errno.EACCES, errno.EPERM,
    errno.EROFS, errno.ENOMEM, errno.ETIMEDOUT, errno.ENOTCONN, errno.EHOSTDOWN,
    errno.EHOSTUNREACH,
})

#: The longest wait between two tries of a deferred session.
MAX_RETRY_DELAY = dt.timedelta(days=1)

_ERRNO_IN_TEXT = re.compile(r"\[Errno (\d+)\]")


class Deferred(Exception):
    """A passing fault: the session stays TO_BE_BUILT and is tried again later."""

    def __init__(self, problem: str, message: str):
        assert problem in PROBLEMS, problem
        super().__init__(message)
        self.problem = problem


def classify(exc: BaseException) -> Deferred | None:
    """The passing fault ``exc`` is, or None when it is final (the session is at fault)."""
    if isinstance(exc, Deferred):
        return exc
    if isinstance(exc, HarvesterError):
        return Deferred("calendar", str(exc))
    if isinstance(exc, DatabaseError):
        return Deferred("environment", str(exc))
    if isinstance(exc, OSError) and exc.errno in ENVIRONMENTAL_ERRNOS:
        where = f"{exc.filename}: " if exc.filename else ""
        return Deferred("environment", f"{where}[Errno {exc.errno}] {exc.strerror}")
    return None


def environmental_text(text: str) -> bool:
    """Whether a message carries an OS error that is a passing fault (``[Errno 28] ...``)."""
    match = _ERRNO_IN_TEXT.search(text)
    return match is not None and int(match.group(1)) in ENVIRONMENTAL_ERRNOS


def retry_after(count: int, last: dt.datetime, base: dt.timedelta) -> dt.datetime:
    """When a session deferred ``count`` times in a row, last at ``last``, is tried again.

    The wait doubles with each deferral in a row: ``base``, ``2 base``, ``4 base``...
    up to :data:`MAX_RETRY_DELAY`, so a long outage costs a few attempts a day.
    """
    if count < 1 or base <= dt.timedelta(0):
        return last
    wait = min(base * 2 ** min(count - 1, 20), MAX_RETRY_DELAY)
    return last + wait
