"""Find stage: the instrument's files modified during a session.

:func:`find_files` lists the regular files under an instrument's file store whose
modification time lies in the session window ``(start, end]``. GNU ``find`` does the
walk when it can (about 1.5x faster than Python on local disk, see
``benchmarks/bench_find.py``); a pure-Python walk answers when ``find`` is missing or
misbehaves, and both give exactly the same files:

- the share is untrusted: a path is read only if its real path (every symlink resolved)
  lies inside the instrument's own folder, or inside one of the extra roots a site
  allows (``NX_INSTRUMENT_DATA_ROOTS``). The folder is walked physically (``find -P``);
  a symlink met on the way is resolved here, the same way for both methods: one that
  leads outside is skipped and named in ``FindResult.outside`` (warned once per walk),
  never listed; one that leads back into the folder is not followed, because its
  target is listed under its own path anyway; one that leads into an allowed extra
  root is followed (a file is listed under the link's path, with the target's mtime
  and size; a directory is walked the same way, once). A broken link is skipped
  silently, a link loop with a warning;
- each walk has a time limit and a ceiling on the entries it looks at
  (:class:`WalkLimits`, ``NX_FIND_TIMEOUT`` and ``NX_FIND_MAX_ENTRIES``): past either
  it stops, gives no files and says why in ``FindResult.stopped``, so the caller can
  leave the sessions for a later pass instead of concluding from half a tree;
- ``extensions`` keeps only files whose name ends in ``.<ext>``, case-insensitively;
- ``ignore_patterns`` are shell-style patterns (``*``, ``?``, ``[...]``, ``\\``
  escapes) matched case-insensitively against the file *name* (``! -iname``), as
  NexusLIMS does, because Windows acquisition software writes ``.EMI`` and ``.emi``
  alike. They exclude files only; directories matching them are still searched;
- unreadable directories and files are skipped with a warning, never an exception,
  and the result says the walk was not complete: "no files" is only an answer when
  ``FindResult.complete`` is true (an unmounted share and a folder we may not read look
  empty, but prove nothing).

:func:`find_files_by_window` answers several sessions of one instrument with one walk
over the union of their windows, then splits the files by window: the same files as
one :func:`find_files` call per window, for the cost of one walk.

Longer than most modules: GNU find and the Python walk are two implementations of one
answer (tests hold them equal), and they are kept side by side so they stay so.
"""

from __future__ import annotations

import bisect
import datetime as dt
import logging
import os
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TypeVar

from nexuslims.find.folder import (
    filestore_path_problem,
    instrument_folder_problem,
    share_problem,
)
from nexuslims.find.names import NameFilter
from nexuslims.find.results import FindFailed, FindResult, FoundFile, WalkLimits
from nexuslims.find.walk import FindUnusable, GnuFindTree, Walk, python_tree

log = logging.getLogger(__name__)

#: Name or path of GNU find; tests and odd installations (``gfind`` on macOS) change it.
FIND_EXECUTABLE = "find"

METHODS = ("auto", "gnu-find", "python")

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_NS = 1_000_000_000

K = TypeVar("K")
#: A walk without a time limit or an entry ceiling.
NO_LIMITS = WalkLimits()

__all__ = ["FIND_EXECUTABLE", "METHODS", "FindFailed", "FindResult", "FoundFile",
           "WalkLimits", "filestore_path_problem", "find_files", "find_files_by_window",
           "instrument_folder_problem", "share_problem"]


def find_files(
    root: Path,
    start: dt.datetime,
    end: dt.datetime,
    *,
    extensions: frozenset[str] | None = None,
    ignore_patterns: tuple[str, ...] = (),
    method: str = "auto",
    find_executable: str | None = None,
    allowed_roots: Iterable[Path] = (),
    limits: WalkLimits = NO_LIMITS,
) -> FindResult:
    """Files under ``root`` whose modification time is in ``(start, end]``.

    Parameters
    ----------
    root
        The instrument's file store (``NX_INSTRUMENT_DATA_PATH/<filestore_path>``).
    start, end
        The session window, timezone-aware. A file modified exactly at ``start`` is
        left out, one modified exactly at ``end`` is kept (nanosecond comparison).
    extensions
        Keep only these extensions (``"dm3"`` or ``".dm3"``, any case); ``None`` keeps
        every file, an empty set keeps none.
    ignore_patterns
        Shell-style name patterns of files to leave out, e.g. ``("*.mib", "*.db")``.
    method
        ``"auto"`` (GNU find, falling back to Python), ``"gnu-find"`` (no fallback) or
        ``"python"``.
    find_executable
        The find program; defaults to :data:`FIND_EXECUTABLE`.
    allowed_roots
        Directories outside ``root`` that symlinks in it may lead to
        (``NX_INSTRUMENT_DATA_ROOTS``); a link anywhere else is skipped.
    limits
        The walk's time limit and entry ceiling.

    Returns
    -------
    FindResult
        The files sorted by (mtime, path) and the warnings met. A ``root`` that does
        not exist or is not a directory gives no files and a warning naming it, so
        the caller can treat it like any session without files.

    Raises
    ------
    ValueError
        ``start``/``end`` are naive, ``method`` is unknown, or a pattern is invalid.
    FindFailed
        ``method="gnu-find"`` and find is missing or failed.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    window = (_epoch_ns(start, "start"), _epoch_ns(end, "end"))
    name_filter = NameFilter(extensions, ignore_patterns)
    root = Path(root)

    problem = _root_problem(root)
    if problem is not None or name_filter.matches_nothing:
        if problem is not None:
            log.warning("%s", problem)
        return FindResult(files=[], method="none", warnings=[problem] if problem else [],
                          complete=problem is None)

    walk = Walk(root, window, name_filter, allowed_roots, limits)
    used = "python"
    if method in ("auto", "gnu-find"):
        try:
            walk.run(GnuFindTree(executable=find_executable or FIND_EXECUTABLE))
            used = "gnu-find"
        except FindUnusable as exc:
            if method == "gnu-find":
                raise FindFailed(f"GNU find could not search {root}: {exc}") from exc
            if exc.missing:
                log.debug("%s; using the Python walk", exc)
            else:
                log.debug("GNU find failed under %s (%s); using the Python walk", root, exc)
            walk = Walk(root, window, name_filter, allowed_roots, limits)
            if not exc.missing:
                walk.warnings.append(f"GNU find failed under {root} ({exc}); "
                                     "used the Python walk")
    if used == "python":
        log.debug("finding files under %s with the Python walk", root)
        walk.run(python_tree)

    for warning in [*walk.warnings, *walk.gaps]:
        log.warning("%s", warning)
    if walk.outside:
        shown = ", ".join(str(p) for p in walk.outside[:10])
        more = f" and {len(walk.outside) - 10} more" if len(walk.outside) > 10 else ""
        log.warning("%d symlink(s) under %s lead outside the instrument's folder and were "
                    "skipped (allow another volume with NX_INSTRUMENT_DATA_ROOTS): %s%s",
                    len(walk.outside), root, shown, more)
    if walk.stopped is not None:
        log.warning("%s", walk.stopped)
        return FindResult(files=[], method=used,
                          warnings=[*walk.warnings, *walk.gaps, walk.stopped],
                          complete=False, outside=walk.outside, stopped=walk.stopped)
    files = walk.files
    files.sort(key=lambda f: (f.mtime_ns, str(f.path)))
    return FindResult(files=files, method=used, warnings=[*walk.warnings, *walk.gaps],
                      complete=not walk.gaps, outside=walk.outside, empty=walk.empty)


def find_files_by_window(
    root: Path,
    windows: Mapping[K, tuple[dt.datetime, dt.datetime]],
    *,
    margin: dt.timedelta = dt.timedelta(0),
    extensions: frozenset[str] | None = None,
    ignore_patterns: tuple[str, ...] = (),
    method: str = "auto",
    find_executable: str | None = None,
    allowed_roots: Iterable[Path] = (),
    limits: WalkLimits = NO_LIMITS,
) -> dict[K, FindResult]:
    """:func:`find_files` for several windows under one root, with one walk.

    The tree is walked once over the union of the windows (widened by ``margin``), and
    the files are split by window: each result holds exactly the files one
    :func:`find_files` call for its window would give (windows may overlap or be far
    apart), the walk's warnings and completeness, and in ``nearby`` the files modified
    within ``margin`` outside the window (a clue to an instrument clock that is off).

    Parameters
    ----------
    windows
        ``(start, end]`` per key (e.g. per session id), timezone-aware.
    margin
        How far outside each window to report files in ``nearby``.

    Other parameters and exceptions are those of :func:`find_files`.
    """
    if not windows:
        return {}
    bounds = {key: (_epoch_ns(s, "start"), _epoch_ns(e, "end")) for key, (s, e) in windows.items()}
    first = min(s for s, _ in windows.values()) - margin
    last = max(e for _, e in windows.values()) + margin
    walked = find_files(root, first, last, extensions=extensions,
                        ignore_patterns=ignore_patterns, method=method,
                        find_executable=find_executable, allowed_roots=allowed_roots,
                        limits=limits)
    wide = _epoch_ns(_EPOCH + margin, "margin")
    # The walk's files are sorted by mtime: each window is a slice, found by bisection,
    # so thousands of windows over a large tree cost no more than the walk.
    mtimes = [_ns(f) for f in walked.files]
    files = walked.files

    def between(low: int, high: int) -> list[FoundFile]:  # low < mtime <= high
        return files[bisect.bisect_right(mtimes, low):bisect.bisect_right(mtimes, high)]

    return {key: FindResult(files=between(start, end), method=walked.method,
                            warnings=list(walked.warnings), complete=walked.complete,
                            nearby=between(start - wide, start) + between(end, end + wide),
                            outside=walked.outside, stopped=walked.stopped, empty=walked.empty)
            for key, (start, end) in bounds.items()}


def _ns(found: FoundFile) -> int:
    assert found.mtime_ns is not None
    return found.mtime_ns


def _epoch_ns(when: dt.datetime, name: str) -> int:
    """Exact nanoseconds since the epoch (datetime has microseconds, so no float error)."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {when.isoformat()}")
    delta = when - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * _NS + delta.microseconds * 1_000


def _root_problem(root: Path) -> str | None:
    """Why ``root`` cannot be searched, or None when it can."""
    try:
        st = os.stat(root)
    except FileNotFoundError:
        return f"instrument data directory {root} does not exist"
    except OSError as exc:
        return f"cannot reach instrument data directory {root}: {exc.strerror}"
    if not stat.S_ISDIR(st.st_mode):
        return f"instrument data path {root} is not a directory"
    return None
