"""What the find stage gives: the files found, how, and what went wrong on the way."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from nexuslims.errors import NexusLIMSError

_NS = 1_000_000_000


class FindFailed(NexusLIMSError):
    """GNU find could not list the files (only raised when ``method="gnu-find"``)."""


@dataclass(frozen=True)
class FoundFile:
    """A file found in the instrument's file store.

    ``mtime`` is in epoch seconds; ``mtime_ns`` is the exact value it was rounded from
    (derived from ``mtime`` when not given).
    """

    path: Path
    mtime: float
    size: int
    mtime_ns: int | None = None

    def __post_init__(self) -> None:
        if self.mtime_ns is None:
            object.__setattr__(self, "mtime_ns", round(self.mtime * _NS))


@dataclass(frozen=True)
class WalkLimits:
    """How far one walk may go: seconds and entries looked at (None: no limit)."""

    seconds: float | None = None
    entries: int | None = None


@dataclass
class FindResult:
    """Files found (sorted by mtime, then path), how, and what went wrong on the way.

    ``method`` is ``"gnu-find"``, ``"python"``, or ``"none"`` when nothing was searched
    (no directory to search, or an empty ``extensions`` set). ``complete`` is false when
    part of the tree could not be read (the root is missing, unreachable or unreadable,
    or a directory inside could not be listed), or the walk was stopped: then an empty
    ``files`` proves nothing. ``nearby`` (from :func:`find_files_by_window` only) holds
    the files modified within its ``margin`` before or after the window.
    """

    files: list[FoundFile]
    method: str
    warnings: list[str] = field(default_factory=list)
    complete: bool = True
    nearby: list[FoundFile] = field(default_factory=list)
    outside: list[Path] = field(default_factory=list)
    """Symlinks skipped because they lead outside the instrument's folder (and the extra
    roots allowed): never listed, read or served."""
    stopped: str | None = None
    """Why the walk stopped before its end (time limit, entry ceiling); then ``files``
    is empty and ``complete`` false."""
    empty: bool = False
    """The instrument's folder has no entries at all (an unmounted share looks so)."""
