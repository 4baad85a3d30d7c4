"""Find stage: the instrument's files modified during a session.

OWNER: files helper. Contract below; implementation to follow.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class FoundFile:
    """A file found in the instrument's file store."""

    path: Path
    mtime: float
    size: int


@dataclass
class FindResult:
    """Files found (sorted by mtime, then path), how, and what went wrong on the way."""

    files: list[FoundFile]
    method: str  # "gnu-find" or "python"
    warnings: list[str] = field(default_factory=list)


def find_files(
    root: Path,
    start: dt.datetime,
    end: dt.datetime,
    *,
    extensions: frozenset[str] | None = None,
    ignore_patterns: tuple[str, ...] = (),
    method: str = "auto",
) -> FindResult:
    """Files under ``root`` whose modification time is in ``(start, end]``."""
    raise NotImplementedError
