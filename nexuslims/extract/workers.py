"""Worker processes for the extract stage: one file at a time, each under limits.

``concurrent.futures.ProcessPoolExecutor`` breaks as a whole when one worker dies (every
queued file fails), cannot stop one task that runs too long, and on Ctrl-C waits for
every queued file before it lets go. This pool is small and does only what the stage
needs:

- workers are forked from multiprocessing's fork server, which imported the readers once;
- each worker is handed one task at a time over its own pipe and answers on it;
- a task past its time limit, or a worker past its memory ceiling, is killed (SIGKILL):
  the task gets a :class:`Failure` saying which limit, and a new worker takes over;
- a worker that dies under a task (the OOM killer, ``kill -9``, a reader that calls
  ``os._exit``) costs that task one retry in a new worker while the others go on; a task
  that kills two workers is a poison task and gets a :class:`Failure`;
- workers die with the process that started them (``PR_SET_PDEATHSIG`` down the chain
  main -> fork server -> worker), and any way out of :func:`run_tasks` (an exception,
  Ctrl-C, SIGTERM turned into an exception) kills them first.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Any

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 120.0
"""Seconds a file may take, and as much again per GB of its size (NX_EXTRACT_TIMEOUT)."""
DEFAULT_MEMORY_MB = 4096
"""Memory ceiling per worker (NX_EXTRACT_MEMORY_MB), at most half the machine's memory."""
WATCH_INTERVAL = 0.25
"""How often (s) the parent looks at its workers' resident memory."""
DEATHS_ALLOWED = 1
"""Workers a task may kill and still be tried again."""
_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


SOCKET_PATH_MAX = 107
"""Longest Unix socket path Linux takes (``sun_path`` is 108 bytes, NUL included)."""
_SOCKET_NAME = "/pymp-xxxxxxxx/listener-xxxxxxxx"
"""What multiprocessing appends to the temporary folder for its fork server's socket."""
SHORT_TEMP_DIRS = ("/tmp", "/var/tmp", "/dev/shm")


def short_socket_dir() -> str:
    """Make sure multiprocessing's sockets get paths short enough to bind; its folder.

    The fork server listens on a Unix socket in multiprocessing's temporary folder,
    which it makes under ``TMPDIR``. A ``TMPDIR`` longer than about 75 characters (a
    batch system's per-job scratch folder, a deep home) makes that path too long, and
    no worker could start ("AF_UNIX path too long"). Then the folder is made in the first
    writable of :data:`SHORT_TEMP_DIRS` instead; only the socket lives there. Call it
    before the fork server starts (a folder already made is kept).
    """
    import tempfile
    from multiprocessing import util

    if len(tempfile.gettempdir()) + len(_SOCKET_NAME) <= SOCKET_PATH_MAX:
        return util.get_temp_dir()
    saved = tempfile.tempdir
    try:
        for folder in SHORT_TEMP_DIRS:
            if os.access(folder, os.W_OK | os.X_OK):
                tempfile.tempdir = folder  # what tempfile.mkdtemp, hence multiprocessing, uses
                break
        return util.get_temp_dir()
    finally:
        tempfile.tempdir = saved


@dataclass(frozen=True)
class Limits:
    """What one task may use; 0 switches a limit off."""

    timeout: float = DEFAULT_TIMEOUT
    """Base seconds per task; a task of ``size`` bytes gets ``timeout * (1 + size / 1 GB)``."""
    memory_mb: int = DEFAULT_MEMORY_MB
    """Resident memory (MB) a worker may reach before it is killed."""

    def seconds_for(self, size: int) -> float | None:
        """The time limit of a task over ``size`` bytes, or None for no limit."""
        return self.timeout * (1 + max(size, 0) / 1e9) if self.timeout > 0 else None


def default_memory_mb() -> int:
    """:data:`DEFAULT_MEMORY_MB`, or half the physical memory if that is less."""
    try:
        total_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    except (ValueError, OSError, AttributeError):
        return DEFAULT_MEMORY_MB
    return int(min(DEFAULT_MEMORY_MB, max(512, total_mb // 2)))


def limits(timeout: float, memory_mb: int | None) -> Limits:
    """The limits of settings ``NX_EXTRACT_TIMEOUT`` and ``NX_EXTRACT_MEMORY_MB`` (None:
    the default ceiling, see :func:`default_memory_mb`)."""
    return Limits(timeout=timeout,
                  memory_mb=default_memory_mb() if memory_mb is None else memory_mb)


@dataclass(frozen=True)
class Failure:
    """A task that gave no result: why (a limit it hit, or the workers it killed)."""

    reason: str


# -- in the worker ---------------------------------------------------------------------

PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int | None = None) -> None:
    """Ask Linux to SIGKILL this process when its parent dies (elsewhere: nothing).

    ``parent`` is the pid the parent should have; if it is gone already (we were
    re-parented before asking), exit at once.

    The signal follows the parent *thread* that forked us; the pool is always driven
    from one thread, and a fork server lost that way is restarted by multiprocessing.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    parent = os.getppid() if parent is None else parent
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL))
    except (OSError, AttributeError):  # no libc prctl: the pipe's EOF still ends idle workers
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _serve(conn: Any, func: Callable[..., Any], memory_mb: int,
           initializer: Callable[[], None] | None) -> None:
    """A worker's life: run tasks from ``conn`` until it closes or says stop."""
    die_with_parent(getattr(sys.modules.get("nexuslims.extract._forkserver"), "PID", None))
    # Ctrl-C reaches the whole process group; the parent decides what stops, and kills us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if memory_mb > 0:
        _limit_data(memory_mb)
    if initializer is not None:
        initializer()
    kept = _KeptLines()
    logging.getLogger().addHandler(kept)  # ours and any library's that reach the root
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        index, args = job
        try:
            result = func(*args)
        except MemoryError:
            result = Failure(f"needed more memory than NX_EXTRACT_MEMORY_MB={memory_mb} "
                             "allows")
        conn.send((index, result, kept.take()))
        if isinstance(result, Failure):
            return  # a worker that ran out of memory may be left in a poor state


class _KeptLines(logging.Handler):
    """A worker's warnings (``nexuslims.*``, and a library's such as tifffile's), kept to
    travel back with the task's result: the coordinating process logs them as its own,
    formatted, into the pass's log file and under ``-q``'s rules. (A worker has no
    handler of its own: they went to Python's last-resort handler, printed bare on
    stderr, ``-q`` or not, and in no log.)"""

    MAX_LINES = 50
    MAX_CHARS = 2000
    """Bounds per file: a hostile file can make a reader warn without end."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[tuple[str, int, str]] = []
        self.dropped = 0

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.lines) >= self.MAX_LINES:
            self.dropped += 1
            return
        try:
            text = record.getMessage()
            if record.exc_info:
                text += "\n" + logging.Formatter().formatException(record.exc_info)
        except Exception:  # noqa: BLE001 - a bad log call must not fail the file
            text = str(record.msg)
        if len(text) > self.MAX_CHARS:
            text = text[:self.MAX_CHARS] + f"... ({len(text) - self.MAX_CHARS} more characters)"
        line = (record.name, record.levelno, text)
        if line not in self.lines:  # said once a file (each TIFF reader tries a bad TIFF)
            self.lines.append(line)

    def take(self) -> list[tuple[str, int, str]]:
        lines, self.lines = self.lines, []
        if self.dropped:
            lines.append((__name__, logging.WARNING,
                          f"and {self.dropped} more warnings while reading that file"))
            self.dropped = 0
        return lines


def _log_here(lines: list[tuple[str, int, str]]) -> None:
    """Log, in this process, the lines a worker kept (:class:`_KeptLines`)."""
    for name, level, text in lines:
        if name == "nexuslims" or name.startswith("nexuslims."):
            logging.getLogger(name).log(level, "%s", text)
        else:  # a library's: under ours, which has this process's handlers
            logger.log(level, "%s: %s", name, text)


def _limit_data(memory_mb: int) -> None:
    """Make one huge allocation fail at once (MemoryError) rather than swap the machine.

    RLIMIT_DATA counts private writable memory, reserved or touched; the parent's watch
    on resident memory catches what grows page by page.
    """
    import resource

    limit = memory_mb * 2**20
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))
    except (ValueError, OSError) as exc:
        logger.debug("cannot limit worker memory: %s", exc)


# -- in the parent ---------------------------------------------------------------------


class _Worker:
    """One worker process, its pipe, and the task it holds (if any)."""

    def __init__(self, context: Any, func: Callable[..., Any], memory_mb: int,
                 initializer: Callable[[], None] | None) -> None:
        ours, theirs = context.Pipe(duplex=True)
        self.process = context.Process(target=_serve, daemon=True,
                                       args=(theirs, func, memory_mb, initializer))
        self.process.start()
        theirs.close()
        self.conn = ours
        self.task: int | None = None
        self.deadline: float | None = None
        self.watched = 0.0
        """When (monotonic) its resident memory was last looked at."""

    def ready(self) -> bool:
        """Alive and idle, with nothing unread on its pipe (fit to be reused)."""
        try:
            return self.task is None and self.process.is_alive() and not self.conn.poll()
        except (OSError, ValueError):
            return False

    def give(self, index: int, args: tuple, seconds: float | None) -> None:
        self.task = index
        self.deadline = None if seconds is None else time.monotonic() + seconds
        self.conn.send((index, args))

    def watch_due(self) -> bool:
        """Whether its memory is to be looked at now: on each :data:`WATCH_INTERVAL`
        wake-up, not each time another worker answers (a /proc read per file is CPU
        the parent takes from the workers)."""
        now = time.monotonic()
        if now - self.watched < WATCH_INTERVAL / 2:
            return False
        self.watched = now
        return True

    def resident_mb(self) -> float:
        """Resident memory in MB (0 when unknown: not Linux, or already gone)."""
        try:
            with open(f"/proc/{self.process.pid}/statm") as handle:
                pages = int(handle.read().split()[1])
        except (OSError, ValueError, IndexError):
            return 0.0
        return pages * _PAGE_BYTES / 2**20

    def kill(self) -> None:
        with contextlib.suppress(OSError, ValueError, AttributeError):  # already gone
            self.process.kill()
        self.process.join(5)
        self.conn.close()

    def death(self) -> str:
        """How the worker ended, in words (after it has)."""
        self.process.join(5)
        code = self.process.exitcode
        if code is not None and code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exited with code {code}"


def run_tasks(
    func: Callable[..., Any],
    tasks: Sequence[tuple],
    *,
    context: Any,
    workers: int,
    limits: Limits,
    sizes: Sequence[int] | None = None,
    on_result: Callable[[int, Any], None],
    initializer: Callable[[], None] | None = None,
) -> None:
    """Run ``func(*tasks[i])`` for every ``i`` in worker processes.

    Parameters
    ----------
    func
        A module-level function (it is passed to workers by name).
    tasks
        Its arguments, one tuple per task.
    context
        The multiprocessing context the workers come from (a fork server).
    workers
        How many run at once.
    limits
        Time and memory a task may use.
    sizes
        Bytes each task reads (scales its time limit); 0 if None.
    on_result
        Called in this process, in completion order, with ``(i, result)``; ``result``
        is what ``func`` returned, or a :class:`Failure`. The worker that returned it
        has already been handed its next task, so a slow ``on_result`` (a session
        built and exported when its last file is in) does not leave it idle.
    initializer
        Run once in each worker before its first task.
    """
    queue = deque(range(len(tasks)))
    deaths = [0] * len(tasks)
    pool: list[_Worker] = []
    key = (func, limits.memory_mb, initializer, tuple(sys.path))
    parked = _parked.pop(key, [])
    size_of = (lambda i: sizes[i]) if sizes is not None else (lambda i: 0)  # noqa: E731

    def release(worker: _Worker) -> int:
        """The task ``worker`` held; it holds none now."""
        index = worker.task
        assert index is not None
        worker.task = worker.deadline = None
        return index

    def settle(worker: _Worker, result: Any) -> None:
        on_result(release(worker), result)

    def take_parked() -> _Worker | None:
        while parked:
            worker = parked.pop()
            if worker.ready():
                return worker
            worker.kill()
        return None

    def assign(worker: _Worker) -> None:
        i = queue.popleft()
        try:
            worker.give(i, tasks[i], limits.seconds_for(size_of(i)))
        except OSError:  # it died while idle: the task never started, so no death counted
            queue.appendleft(i)
            worker.task = None
            worker.kill()
            pool.remove(worker)

    try:
        while queue or any(w.task is not None for w in pool):
            # Keep every worker busy; start new ones for those that were lost.
            for worker in [w for w in pool if w.task is None]:
                if queue:
                    assign(worker)
            while queue and len(pool) < workers:
                pool.append(take_parked()
                            or _Worker(context, func, limits.memory_mb, initializer))
                assign(pool[-1])
            busy = [w for w in pool if w.task is not None]
            deadlines = [w.deadline for w in busy if w.deadline is not None]
            timeout = WATCH_INTERVAL if limits.memory_mb > 0 else None
            if deadlines:
                left = max(0.0, min(deadlines) - time.monotonic())
                timeout = left if timeout is None else min(timeout, left)
            ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy],
                         timeout=timeout)
            for worker in busy:
                if worker.conn in ready or worker.process.sentinel in ready:
                    try:
                        _index, result, lines = worker.conn.recv()
                    except (EOFError, OSError):
                        _lost(worker, deaths, queue, settle)
                        pool.remove(worker)
                        continue
                    if lines:
                        _log_here(lines)
                    # A worker that ran out of memory retires itself after answering;
                    # one that ended otherwise has its sentinel ready too (is_alive()
                    # would poll it once more, a second select per file).
                    if isinstance(result, Failure) or worker.process.sentinel in ready:
                        settle(worker, result)
                        worker.kill()
                        pool.remove(worker)
                        continue
                    index = release(worker)
                    if queue:  # its next file first: it reads while we handle this result
                        assign(worker)
                    on_result(index, result)
                elif worker.deadline is not None and time.monotonic() > worker.deadline:
                    seconds = limits.seconds_for(size_of(worker.task or 0))
                    worker.kill()
                    pool.remove(worker)
                    settle(worker, Failure(
                        f"took longer than the time limit of {seconds:.0f} s "
                        f"(NX_EXTRACT_TIMEOUT={limits.timeout:g} s, plus as much per GB); "
                        "stopped"))
                elif limits.memory_mb > 0 and worker.watch_due() \
                        and worker.resident_mb() > limits.memory_mb:
                    used = worker.resident_mb()
                    worker.kill()
                    pool.remove(worker)
                    settle(worker, Failure(
                        f"used {used:.0f} MB, more than the memory ceiling "
                        f"NX_EXTRACT_MEMORY_MB={limits.memory_mb}; stopped"))
        # Done: idle workers wait for the next call (the next session of the pass), so
        # they need not import and warm up again.
        _parked[key] = [w for w in pool + parked if w.ready()]
        pool = [w for w in pool + parked if w not in _parked[key]]
        parked = []
    finally:
        # However we leave (an exception, Ctrl-C, SIGTERM), no busy worker outlives us.
        for worker in pool + parked:
            worker.kill()


_parked: dict[tuple, list[_Worker]] = {}
"""Idle workers between calls, by (function, memory ceiling, initializer, sys.path).
They are daemonic and die with this process (multiprocessing's exit handler, and
``PR_SET_PDEATHSIG`` if it is killed)."""


def stop_idle_workers() -> None:
    """End the workers kept between calls (they also end when this process does)."""
    while _parked:
        for worker in _parked.popitem()[1]:
            worker.kill()


def _lost(worker: _Worker, deaths: list[int], queue: deque[int],
          settle: Callable[[_Worker, Any], None]) -> None:
    """A worker died under its task: try the task once more, or give it up as poison."""
    index = worker.task
    assert index is not None
    how = worker.death()
    worker.conn.close()
    deaths[index] += 1
    if deaths[index] <= DEATHS_ALLOWED:
        logger.warning("extraction worker %s %s; its file is tried again in a new worker",
                       worker.process.pid, how)
        worker.task = worker.deadline = None
        queue.appendleft(index)
        return
    logger.error("extraction worker %s %s; the file killed %d workers and is not read again",
                 worker.process.pid, how, deaths[index])
    settle(worker, Failure(f"the reader killed its worker {deaths[index]} times "
                           f"(last {how}); a poison file, not read again"))
