"""One walk of an instrument folder: physical trees, the links met on the way, limits.

A tree walker (GNU find, or the Python walk when find is missing or misbehaves) lists
one tree without following links; :class:`Walk` resolves each link it met, the same
way whichever walker found it, and walks the allowed trees links lead to.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import select
import shlex
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO

from nexuslims.find.names import NameFilter
from nexuslims.find.results import FoundFile, WalkLimits

log = logging.getLogger("nexuslims.find")

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


class _Stopped(Exception):
    """The walk went past its time limit or its entry ceiling."""


class Walk:
    """One walk of an instrument folder: the trees walked physically, the links met.

    A tree walker (GNU find or Python) lists one tree without following links: its
    files in the window go to :attr:`files`, its symlinks to a list that :meth:`run`
    resolves here, the same way whichever walker found them.
    """

    def __init__(self, root: Path, window: tuple[int, int], name_filter: NameFilter,
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

    def run(self, tree: Callable[[Walk, str, list[str]], int]) -> None:
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
                    self.count(0)  # resolving many links takes time too
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


class FindUnusable(Exception):
    """find's answer cannot be used; ``missing`` when there is no find at all."""

    def __init__(self, message: str, *, missing: bool = False):
        super().__init__(message)
        self.missing = missing


def _find_command(
    top: str, window: tuple[int, int], name_filter: NameFilter, executable: str
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


class GnuFindTree:
    """List one tree with GNU find (see :func:`_find_command`)."""

    def __init__(self, executable: str) -> None:
        self.executable = executable

    def __call__(self, walk: Walk, top: str, links: list[str]) -> int:
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
            raise FindUnusable(f"exit status {returncode}: {detail}")
        for line in lines:
            incomplete = any(e in line for e in _INCOMPLETE_FIND_ERRORS)
            (walk.gaps if incomplete else walk.warnings).append(line)
        records = _parse_find_output(stdout, walk.files, links)
        return records - 1  # the top itself is one record

    @staticmethod
    def _run(walk: Walk, cmd: list[str], err: IO[bytes],
             env: dict[str, str]) -> tuple[bytes, int]:
        try:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=env)
        except FileNotFoundError as exc:
            raise FindUnusable(f"{cmd[0]!r} not found", missing=True) from exc
        except OSError as exc:
            raise FindUnusable(f"cannot run {cmd[0]!r}: {exc.strerror}") from exc
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
        raise FindUnusable("output does not end with a NUL")
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
            raise FindUnusable(f"unreadable output record {record[:200]!r}") from exc
    return len(records) - 1


# --- Python walk ---------------------------------------------------------------------


def python_tree(walk: Walk, top: str, links: list[str]) -> int:
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
