"""Find stage: the instrument's files modified during a session.

:func:`find_files` lists the regular files under an instrument's file store whose
modification time lies in the session window ``(start, end]``. GNU ``find`` does the
walk when it can (about 1.5x faster than Python on local disk, see
``benchmarks/bench_find.py``); a pure-Python walk answers when ``find`` is missing or
misbehaves, and both give exactly the same files:

- symlinks are followed (``find -L``); a file is listed under the path it was reached
  by, so a file reachable through two paths is listed twice, as ``find -L`` prints it;
  mtime and size are the link target's;
- a directory that leads back to one of its own ancestors is a loop: it is not
  entered and a warning is given; a broken symlink is skipped silently;
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
import errno
import logging
import os
import re
import shlex
import stat
import subprocess
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from nexuslims.errors import NexusLIMSError

if TYPE_CHECKING:
    from nexuslims.config import Settings
    from nexuslims.model.session import Instrument

log = logging.getLogger(__name__)

#: Name or path of GNU find; tests and odd installations (``gfind`` on macOS) change it.
FIND_EXECUTABLE = "find"

METHODS = ("auto", "gnu-find", "python")

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_NS = 1_000_000_000

# find reports these and carries on (exit status 1); anything else means its answer
# cannot be trusted and the Python walk takes over.
_BENIGN_FIND_ERRORS = (
    "Permission denied",
    "File system loop detected",
    "Too many levels of symbolic links",
    "No such file or directory",  # a file removed while find was walking
)
# Of those, the ones that leave part of the tree unread (a loop or a vanished file does not).
_INCOMPLETE_FIND_ERRORS = ("Permission denied",)

K = TypeVar("K")


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


@dataclass
class FindResult:
    """Files found (sorted by mtime, then path), how, and what went wrong on the way.

    ``method`` is ``"gnu-find"``, ``"python"``, or ``"none"`` when nothing was searched
    (no directory to search, or an empty ``extensions`` set). ``complete`` is false when
    part of the tree could not be read (the root is missing, unreachable or unreadable,
    or a directory inside could not be listed): then an empty ``files`` proves nothing.
    ``nearby`` (from :func:`find_files_by_window` only) holds the files modified within
    its ``margin`` before or after the window.
    """

    files: list[FoundFile]
    method: str
    warnings: list[str] = field(default_factory=list)
    complete: bool = True
    nearby: list[FoundFile] = field(default_factory=list)


def find_files(
    root: Path,
    start: dt.datetime,
    end: dt.datetime,
    *,
    extensions: frozenset[str] | None = None,
    ignore_patterns: tuple[str, ...] = (),
    method: str = "auto",
    find_executable: str | None = None,
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
    name_filter = _NameFilter(extensions, ignore_patterns)
    root = Path(root)

    problem = _root_problem(root)
    if problem is not None or name_filter.matches_nothing:
        if problem is not None:
            log.warning("%s", problem)
        return FindResult(files=[], method="none", warnings=[problem] if problem else [],
                          complete=problem is None)

    warnings: list[str] = []
    files: list[FoundFile] | None = None
    used = "python"
    complete = True
    if method in ("auto", "gnu-find"):
        try:
            files, warnings = _gnu_find(root, window, name_filter, find_executable)
            used = "gnu-find"
            complete = not any(e in w for w in warnings for e in _INCOMPLETE_FIND_ERRORS)
        except _FindUnusable as exc:
            if method == "gnu-find":
                raise FindFailed(f"GNU find could not search {root}: {exc}") from exc
            if exc.missing:
                log.debug("%s; using the Python walk", exc)
            else:
                warnings = [f"GNU find failed under {root} ({exc}); used the Python walk"]
    if files is None:
        log.debug("finding files under %s with the Python walk", root)
        files = []
        complete = _python_walk(root, window, name_filter, files, warnings)

    for warning in warnings:
        log.warning("%s", warning)
    files.sort(key=lambda f: (f.mtime_ns, str(f.path)))
    return FindResult(files=files, method=used, warnings=warnings, complete=complete)


def find_files_by_window(
    root: Path,
    windows: Mapping[K, tuple[dt.datetime, dt.datetime]],
    *,
    margin: dt.timedelta = dt.timedelta(0),
    extensions: frozenset[str] | None = None,
    ignore_patterns: tuple[str, ...] = (),
    method: str = "auto",
    find_executable: str | None = None,
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
                        find_executable=find_executable)
    wide = _epoch_ns(_EPOCH + margin, "margin")
    # The walk's files are sorted by mtime: each window is a slice, found by bisection,
    # so thousands of windows over a large tree cost no more than the walk.
    mtimes = [_ns(f) for f in walked.files]
    files = walked.files

    def between(low: int, high: int) -> list[FoundFile]:  # low < mtime <= high
        return files[bisect.bisect_right(mtimes, low):bisect.bisect_right(mtimes, high)]

    return {key: FindResult(files=between(start, end), method=walked.method,
                            warnings=list(walked.warnings), complete=walked.complete,
                            nearby=between(start - wide, start) + between(end, end + wide))
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


# --- name patterns -------------------------------------------------------------------


class _NameFilter:
    """The extension and ignore filters, as find arguments and as a Python test.

    Both sides are built from the same glob strings, and the Python side translates
    them with glibc fnmatch rules (which differ from :mod:`fnmatch` on ``[^...]`` and
    backslashes), so the two methods agree on every name.
    """

    def __init__(self, extensions: frozenset[str] | None, ignore_patterns: Iterable[str]):
        self.keep: list[str] | None = None
        if extensions is not None:
            exts = sorted({e.lower().lstrip(".") for e in extensions})
            self.keep = ["*." + _glob_escape(e) for e in exts if e]
        self.ignore = list(ignore_patterns)
        flags = re.IGNORECASE | re.DOTALL  # names may hold newlines; * must match them
        self._keep = [re.compile(_glob_to_regex(p), flags) for p in self.keep or ()]
        self._ignore = [re.compile(_glob_to_regex(p), flags) for p in self.ignore]

    @property
    def matches_nothing(self) -> bool:
        return self.keep is not None and not self.keep

    def find_args(self) -> list[str]:
        args: list[str] = []
        if self.keep is not None:
            alternatives: list[str] = []
            for i, pattern in enumerate(self.keep):
                alternatives += (["-o"] if i else []) + ["-iname", pattern]
            args += ["(", *alternatives, ")"]
        for pattern in self.ignore:
            args += ["!", "-iname", pattern]
        return args

    def accepts(self, name: str) -> bool:
        if self.keep is not None and not any(r.fullmatch(name) for r in self._keep):
            return False
        return not any(r.fullmatch(name) for r in self._ignore)


def _glob_escape(text: str) -> str:
    return re.sub(r"([*?\[\\])", r"\\\1", text)


def _glob_to_regex(pattern: str) -> str:
    """A regex matching what glibc ``fnmatch(pattern, name, 0)`` matches."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        i += 1
        if c == "\\":
            out.append(re.escape(pattern[i] if i < n else "\\"))
            i += 1
        elif c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "[":
            bracket, i = _bracket_to_regex(pattern, i)
            out.append(bracket)
        else:
            out.append(re.escape(c))
    return "".join(out)


def _bracket_to_regex(pattern: str, i: int) -> tuple[str, int]:
    """Translate ``[...]`` starting after its ``[``; an unclosed ``[`` is literal."""
    j, n = i, len(pattern)
    negate = j < n and pattern[j] in "!^"
    j += negate
    members: list[str] = []
    first = True
    while j < n and (pattern[j] != "]" or first):
        c = pattern[j]
        if c == "[" and pattern.startswith(":", j + 1):
            raise ValueError(f"character classes like [:alpha:] are not supported: {pattern!r}")
        if c == "\\" and j + 1 < n:
            j += 1
            c = pattern[j]
        if c == "-" and members and j + 1 < n and pattern[j + 1] != "]":
            members.append("-")
        else:
            members.append(re.escape(c))
        first = False
        j += 1
    if j >= n:
        return re.escape("["), i
    return "[" + ("^" if negate else "") + "".join(members) + "]", j + 1


# --- GNU find ------------------------------------------------------------------------


class _FindUnusable(Exception):
    """find's answer cannot be used; ``missing`` when there is no find at all."""

    def __init__(self, message: str, *, missing: bool = False):
        super().__init__(message)
        self.missing = missing


def _find_command(
    root: Path, window: tuple[int, int], name_filter: _NameFilter, executable: str
) -> list[str]:
    # "./" keeps a relative root such as "-x" or "!" from being read as an expression.
    top = str(root) if root.is_absolute() else os.path.join(".", str(root))
    return [
        executable, "-L", top, "-type", "f",
        "-newermt", _find_time(window[0]), "!", "-newermt", _find_time(window[1]),
        *name_filter.find_args(),
        "-printf", r"%T@ %s %p\0",
    ]  # fmt: skip


def _find_time(ns: int) -> str:
    sign = "-" if ns < 0 else ""
    whole, frac = divmod(abs(ns), _NS)
    return f"@{sign}{whole}.{frac:09d}"


def _gnu_find(
    root: Path, window: tuple[int, int], name_filter: _NameFilter, executable: str | None
) -> tuple[list[FoundFile], list[str]]:
    cmd = _find_command(root, window, name_filter, executable or FIND_EXECUTABLE)
    log.debug("finding files under %s with GNU find: %s", root, shlex.join(cmd))
    # English messages so they can be classified, UTF-8 so -iname folds non-ASCII names.
    env = {**os.environ, "LC_ALL": "C.UTF-8"}
    try:
        proc = subprocess.run(cmd, capture_output=True, env=env, check=False)
    except FileNotFoundError as exc:
        raise _FindUnusable(f"{cmd[0]!r} not found", missing=True) from exc
    except OSError as exc:
        raise _FindUnusable(f"cannot run {cmd[0]!r}: {exc.strerror}") from exc

    lines = [ln for ln in proc.stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    unexpected = [ln for ln in lines if not any(b in ln for b in _BENIGN_FIND_ERRORS)]
    if proc.returncode != 0 and (unexpected or not lines):
        detail = "; ".join(unexpected) or "no message"
        raise _FindUnusable(f"exit status {proc.returncode}: {detail}")
    return _parse_find_output(proc.stdout), lines


def _parse_find_output(stdout: bytes) -> list[FoundFile]:
    """Records of ``<sec>.<frac> <size> <path>`` separated by NUL."""
    files = []
    records = stdout.split(b"\0")
    if records[-1]:
        raise _FindUnusable("output does not end with a NUL")
    for record in records[:-1]:
        try:
            mtime, size, raw_path = record.split(b" ", 2)
            # find prints tv_sec and tv_nsec ("-6.75" is -6 s + 0.75 s for pre-1970).
            whole, _, frac = mtime.decode("ascii").partition(".")
            ns = int(whole) * _NS + int((frac + "0" * 9)[:9])
            files.append(FoundFile(Path(os.fsdecode(raw_path)), ns / _NS, int(size), ns))
        except (ValueError, UnicodeDecodeError) as exc:
            raise _FindUnusable(f"unreadable output record {record[:200]!r}") from exc
    return files


# --- Python walk ---------------------------------------------------------------------


def _python_walk(
    root: Path,
    window: tuple[int, int],
    name_filter: _NameFilter,
    files: list[FoundFile],
    warnings: list[str],
) -> bool:
    """Walk like ``find -L``: follow links, skip loops back to an ancestor.

    Returns whether every directory could be read (a loop skipped is not a gap).
    """
    start, end = window
    top = str(root)
    try:
        top_st = os.stat(top)
    except OSError as exc:
        warnings.append(f"cannot read directory {top}: {exc.strerror}")
        return False
    gaps: list[str] = []
    # Each pending directory carries the (dev, ino) -> path of itself and its
    # ancestors: only those make a loop, so a directory linked twice from elsewhere is
    # listed twice, as find does.
    pending: list[tuple[str, dict[tuple[int, int], str]]] = [
        (top, {(top_st.st_dev, top_st.st_ino): top})
    ]
    while pending:
        directory, ancestors = pending.pop()
        for entry, st in _entries(directory, warnings, gaps):
            if stat.S_ISDIR(st.st_mode):
                key = (st.st_dev, st.st_ino)
                if key in ancestors:
                    warnings.append(
                        f"file system loop: {entry.path} leads back to {ancestors[key]}; "
                        "not followed"
                    )
                    continue
                pending.append((entry.path, {**ancestors, key: entry.path}))
            elif (
                stat.S_ISREG(st.st_mode)
                and start < st.st_mtime_ns <= end
                and name_filter.accepts(entry.name)
            ):
                files.append(
                    FoundFile(Path(entry.path), st.st_mtime_ns / _NS, st.st_size, st.st_mtime_ns)
                )
    warnings.extend(gaps)
    return not gaps


def _entries(
    directory: str, warnings: list[str], gaps: list[str]
) -> Iterator[tuple[os.DirEntry[str], os.stat_result]]:
    """The entries of ``directory`` with their followed stat; what cannot be read is
    reported in ``gaps``."""
    try:
        with os.scandir(directory) as it:
            entries = list(it)
    except OSError as exc:
        gaps.append(f"cannot read directory {directory}: {exc.strerror}")
        return
    for entry in entries:
        try:
            yield entry, entry.stat(follow_symlinks=True)
        except FileNotFoundError:
            # A broken symlink (find -L skips it without a word) or a file just removed.
            continue
        except OSError as exc:
            # A symlink loop is skipped, as find does; anything else leaves a gap.
            (warnings if exc.errno == errno.ELOOP else gaps).append(
                f"cannot read {entry.path}: {exc.strerror}")


def instrument_folder_problem(settings: Settings, instrument: Instrument) -> str | None:
    """Why ``instrument``'s folder cannot be searched (missing, unreadable), or None."""
    if settings.instrument_data_path is None:
        return "NX_INSTRUMENT_DATA_PATH is not set"
    folder = settings.instrument_data_path / instrument.filestore_path
    fix = (f"mount the share or fix its filestore_path (`nexuslims instruments edit "
           f"{instrument.pid} --filestore-path ...`)")
    try:
        if not stat.S_ISDIR(os.stat(folder).st_mode):
            return f"{folder} is not a directory: {fix}"
    except FileNotFoundError:
        return f"folder {folder} does not exist: {fix}"
    except OSError as exc:
        return f"folder {folder} cannot be reached ({exc.strerror or exc}): {fix}"
    try:
        with os.scandir(folder) as entries:
            next(entries, None)  # a stale NFS handle or EACCES shows only when reading
    except OSError as exc:
        return f"folder {folder} cannot be read ({exc.strerror or exc}): {fix}"
    return None
