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
import contextlib
import datetime as dt
import errno
import logging
import os
import re
import select
import shlex
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import IO, TYPE_CHECKING, TypeVar

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
    limits: WalkLimits = WalkLimits(),
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
    name_filter = _NameFilter(extensions, ignore_patterns)
    root = Path(root)

    problem = _root_problem(root)
    if problem is not None or name_filter.matches_nothing:
        if problem is not None:
            log.warning("%s", problem)
        return FindResult(files=[], method="none", warnings=[problem] if problem else [],
                          complete=problem is None)

    walk = _Walk(root, window, name_filter, allowed_roots, limits)
    used = "python"
    if method in ("auto", "gnu-find"):
        try:
            walk.run(_GnuFindTree(executable=find_executable or FIND_EXECUTABLE))
            used = "gnu-find"
        except _FindUnusable as exc:
            if method == "gnu-find":
                raise FindFailed(f"GNU find could not search {root}: {exc}") from exc
            if exc.missing:
                log.debug("%s; using the Python walk", exc)
            else:
                log.debug("GNU find failed under %s (%s); using the Python walk", root, exc)
            walk = _Walk(root, window, name_filter, allowed_roots, limits)
            if not exc.missing:
                walk.warnings.append(f"GNU find failed under {root} ({exc}); "
                                     "used the Python walk")
    if used == "python":
        log.debug("finding files under %s with the Python walk", root)
        walk.run(_python_tree)

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
    limits: WalkLimits = WalkLimits(),
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


# --- one walk: physical trees, the links met on the way, limits ---------------------


class _Stopped(Exception):
    """The walk went past its time limit or its entry ceiling."""


class _Walk:
    """One walk of an instrument folder: the trees walked physically, the links met.

    A tree walker (GNU find or Python) lists one tree without following links: its
    files in the window go to :attr:`files`, its symlinks to a list that :meth:`run`
    resolves here, the same way whichever walker found them.
    """

    def __init__(self, root: Path, window: tuple[int, int], name_filter: _NameFilter,
                 allowed_roots: Iterable[Path], limits: WalkLimits) -> None:
        self.root, self.window, self.name_filter, self.limits = root, window, name_filter, limits
        real_root = os.path.realpath(root)
        self.allowed = [real_root, *(os.path.realpath(r) for r in allowed_roots)]
        # Real trees walked in full: a link into one of them is not followed, because
        # what it points to is listed under its own path already.
        self.walked = [real_root]
        self.files: list[FoundFile] = []
        self.warnings: list[str] = []
        self.gaps: list[str] = []
        self.outside: list[Path] = []
        self.stopped: str | None = None
        self.empty = False
        self.entries = 0
        self._deadline = None if not limits.seconds else time.monotonic() + limits.seconds

    def count(self, entries: int) -> None:
        """Note ``entries`` more entries looked at; stop past the ceiling or the time."""
        self.entries += entries
        if self.limits.entries and self.entries > self.limits.entries:
            raise _Stopped(f"the walk of {self.root} looked at more than "
                           f"{self.limits.entries:,} entries and was stopped: its sessions "
                           "are left for a later pass (raise NX_FIND_MAX_ENTRIES if the "
                           "folder is really that large, or look for a link loop)")
        if self._deadline is not None and time.monotonic() > self._deadline:
            raise _Stopped(f"the walk of {self.root} took longer than "
                           f"{self.limits.seconds:g} s and was stopped: its sessions are "
                           "left for a later pass (is the share slow or hanging? raise "
                           "NX_FIND_TIMEOUT if it is just large)")

    def remaining(self) -> float | None:
        """Seconds left before the time limit (None: no limit)."""
        return None if self._deadline is None else max(0.0, self._deadline - time.monotonic())

    def run(self, tree: Callable[[_Walk, str, list[str]], int]) -> None:
        """Walk the root, then each allowed tree its links lead to, within the limits."""
        pending = [str(self.root)]
        try:
            while pending:
                top = pending.pop(0)
                links: list[str] = []
                entries = tree(self, top, links)
                if top == str(self.root):
                    self.empty = entries == 0 and not self.gaps
                for link in sorted(links):
                    self._follow(link, pending)
        except _Stopped as exc:
            self.stopped = str(exc)
        self.outside.sort()

    def _follow(self, link: str, pending: list[str]) -> None:
        try:
            real = os.path.realpath(link, strict=True)
            st = os.stat(real)
        except FileNotFoundError:
            return  # a broken link, or one removed while walking
        except OSError as exc:
            # A link loop reads nothing, so no part of the tree is missing.
            (self.warnings if exc.errno == errno.ELOOP else self.gaps).append(
                f"cannot read {link}: {exc.strerror}")
            return
        if not any(_within(real, allowed) for allowed in self.allowed):
            self.outside.append(Path(link))
            return
        if any(_within(real, walked) for walked in self.walked):
            return
        self.walked.append(real)
        if stat.S_ISDIR(st.st_mode):
            pending.append(link)
        elif stat.S_ISREG(st.st_mode):
            start, end = self.window
            if start < st.st_mtime_ns <= end and self.name_filter.accepts(os.path.basename(link)):
                self.files.append(FoundFile(Path(link), st.st_mtime_ns / _NS, st.st_size,
                                            st.st_mtime_ns))


def _within(path: str, root: str) -> bool:
    """Whether real path ``path`` is ``root`` or lies under it."""
    return path == root or path.startswith(root if root.endswith(os.sep) else root + os.sep)


# --- GNU find ------------------------------------------------------------------------


class _FindUnusable(Exception):
    """find's answer cannot be used; ``missing`` when there is no find at all."""

    def __init__(self, message: str, *, missing: bool = False):
        super().__init__(message)
        self.missing = missing


def _find_command(
    top: str, window: tuple[int, int], name_filter: _NameFilter, executable: str
) -> list[str]:
    # "./" keeps a relative root such as "-x" or "!" from being read as an expression.
    top = top if os.path.isabs(top) else os.path.join(".", top)
    # -P: never follow a link (-H: except the starting point); links are printed and
    # resolved in Python. Every other entry prints an empty record, so the entries
    # looked at can be counted as the output streams in.
    return [
        executable, "-H", top,
        "(", "-type", "l", "-printf", r"L%p\0", ")", "-o",
        "(", "-type", "f",
        "-newermt", _find_time(window[0]), "!", "-newermt", _find_time(window[1]),
        *name_filter.find_args(), "-printf", r"F%T@ %s %p\0", ")", "-o",
        "-printf", r"\0",
    ]  # fmt: skip


def _find_time(ns: int) -> str:
    sign = "-" if ns < 0 else ""
    whole, frac = divmod(abs(ns), _NS)
    return f"@{sign}{whole}.{frac:09d}"


class _GnuFindTree:
    """List one tree with GNU find (see :func:`_find_command`)."""

    def __init__(self, executable: str) -> None:
        self.executable = executable

    def __call__(self, walk: _Walk, top: str, links: list[str]) -> int:
        cmd = _find_command(top, walk.window, walk.name_filter, self.executable)
        log.debug("finding files under %s with GNU find: %s", top, shlex.join(cmd))
        # English messages so they can be classified, UTF-8 so -iname folds non-ASCII names.
        env = {**os.environ, "LC_ALL": "C.UTF-8"}
        with tempfile.TemporaryFile() as err:
            stdout, returncode = self._run(walk, cmd, err, env)
            err.seek(0)
            stderr = err.read()
        lines = [ln for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
        unexpected = [ln for ln in lines if not any(b in ln for b in _BENIGN_FIND_ERRORS)]
        if returncode != 0 and (unexpected or not lines):
            detail = "; ".join(unexpected) or "no message"
            raise _FindUnusable(f"exit status {returncode}: {detail}")
        for line in lines:
            incomplete = any(e in line for e in _INCOMPLETE_FIND_ERRORS)
            (walk.gaps if incomplete else walk.warnings).append(line)
        records = _parse_find_output(stdout, walk.files, links)
        return records - 1  # the top itself is one record

    @staticmethod
    def _run(walk: _Walk, cmd: list[str], err: IO[bytes],
             env: dict[str, str]) -> tuple[bytes, int]:
        try:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=env)
        except FileNotFoundError as exc:
            raise _FindUnusable(f"{cmd[0]!r} not found", missing=True) from exc
        except OSError as exc:
            raise _FindUnusable(f"cannot run {cmd[0]!r}: {exc.strerror}") from exc
        assert proc.stdout is not None
        chunks: list[bytes] = []
        try:
            fd = proc.stdout.fileno()
            while True:
                remaining = walk.remaining()
                if remaining is not None and not select.select([fd], [], [], remaining)[0]:
                    walk.count(0)  # past the time limit: raises
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
                walk.count(chunk.count(b"\0"))
            return b"".join(chunks), proc.wait()
        except BaseException:
            proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)  # a find stuck on a dead mount may not even die
            raise
        finally:
            proc.stdout.close()


_FOUND = ord("F")
_LINK = ord("L")


def _parse_find_output(stdout: bytes, files: list[FoundFile], links: list[str]) -> int:
    """Records separated by NUL: ``F<sec>.<frac> <size> <path>``, ``L<path>`` or empty.

    Adds the files and links found; returns the number of records.
    """
    records = stdout.split(b"\0")
    if records[-1]:
        raise _FindUnusable("output does not end with a NUL")
    for record in records[:-1]:
        if not record:
            continue
        kind, body = record[0], record[1:]
        try:
            if kind == _LINK:
                links.append(os.fsdecode(body))
                continue
            if kind != _FOUND:
                raise ValueError("unknown record")
            mtime, size, raw_path = body.split(b" ", 2)
            # find prints tv_sec and tv_nsec ("-6.75" is -6 s + 0.75 s for pre-1970).
            whole, _, frac = mtime.decode("ascii").partition(".")
            ns = int(whole) * _NS + int((frac + "0" * 9)[:9])
            files.append(FoundFile(Path(os.fsdecode(raw_path)), ns / _NS, int(size), ns))
        except (ValueError, UnicodeDecodeError) as exc:
            raise _FindUnusable(f"unreadable output record {record[:200]!r}") from exc
    return len(records) - 1


# --- Python walk ---------------------------------------------------------------------


def _python_tree(walk: _Walk, top: str, links: list[str]) -> int:
    """List one tree like ``find -H``: nothing but the top is followed.

    Returns the number of entries under ``top``.
    """
    start, end = walk.window
    walk.count(1)
    found = 0
    pending = [top]
    while pending:
        directory = pending.pop()
        try:
            with os.scandir(directory) as it:
                entries = list(it)
        except OSError as exc:
            walk.gaps.append(f"cannot read directory {directory}: {exc.strerror}")
            continue
        walk.count(len(entries))
        found += len(entries)
        for entry in entries:
            try:
                if entry.is_symlink():
                    links.append(entry.path)
                    continue
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # removed while walking
            except OSError as exc:
                walk.gaps.append(f"cannot read {entry.path}: {exc.strerror}")
                continue
            if stat.S_ISDIR(st.st_mode):
                pending.append(entry.path)
            elif (stat.S_ISREG(st.st_mode) and start < st.st_mtime_ns <= end
                  and walk.name_filter.accepts(entry.name)):
                walk.files.append(
                    FoundFile(Path(entry.path), st.st_mtime_ns / _NS, st.st_size, st.st_mtime_ns))
    return found


def filestore_path_problem(path: str) -> str | None:
    """Why ``path`` cannot be an instrument's filestore path (absolute, climbing out of
    ``NX_INSTRUMENT_DATA_PATH`` with ``..``, empty), or None if it can."""
    if PurePosixPath(path).is_absolute() or PureWindowsPath(path).is_absolute():
        return (f"filestore path {path}: must be relative to NX_INSTRUMENT_DATA_PATH "
                "(e.g. Titan or microscopy/Titan)")
    if ".." in PurePosixPath(path.replace("\\", "/")).parts:
        return f"filestore path {path}: must stay inside NX_INSTRUMENT_DATA_PATH (no '..')"
    if not path.strip():
        return "filestore path: must not be empty"
    return None


def instrument_folder_problem(settings: Settings, instrument: Instrument) -> str | None:
    """Why ``instrument``'s folder cannot be searched (a filestore path that leaves
    ``NX_INSTRUMENT_DATA_PATH``, missing, unreadable), or None."""
    if settings.instrument_data_path is None:
        return "NX_INSTRUMENT_DATA_PATH is not set"
    fix = (f"mount the share or fix its filestore_path (`nexuslims instruments edit "
           f"{instrument.pid} --filestore-path ...`)")
    # The database may have been written by other hands than `instruments add`.
    problem = filestore_path_problem(instrument.filestore_path)
    if problem is not None:
        return f"{problem}: not searched; fix it with `nexuslims instruments edit " \
            f"{instrument.pid} --filestore-path ...`"
    folder = settings.instrument_data_path / instrument.filestore_path
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


def share_problem(settings: Settings) -> str | None:
    """Why the instrument share is not there by the site's own test (mount point, marker
    file), or None; without NX_INSTRUMENT_DATA_MOUNT or _MARKER there is no test."""
    root, share = settings.instrument_data_path, settings.share
    if root is None:
        return None
    if share.is_mount and not os.path.ismount(root):
        return (f"NX_INSTRUMENT_DATA_PATH={root} is not a mount point "
                "(NX_INSTRUMENT_DATA_MOUNT=true): mount the instruments' share")
    if share.marker is not None and not (root / share.marker).exists():
        return (f"{root / share.marker} is missing (NX_INSTRUMENT_DATA_MARKER): is the "
                "instruments' share mounted?")
    return None
