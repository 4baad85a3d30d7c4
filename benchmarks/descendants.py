"""Wall time and the CPU time of a command and of every process it starts, waited for or not.

``nexuslims extract`` reads files in a process pool whose fork server and workers are
not the command's waited-for children: the fork server is started by the command and
outlives it by a moment (it notices its parent's end and exits), and the workers are the
fork server's children. ``/usr/bin/time`` and ``RUSAGE_CHILDREN`` after a plain
``subprocess.run`` therefore see only the command's own process (0.2 CPU-s of 6).

How this counts everything, exactly and without sampling: the benchmark makes itself a
*child subreaper* (Linux ``prctl(PR_SET_CHILD_SUBREAPER)``), so every descendant whose
parent ends before it is re-parented to the benchmark instead of to init. Linux adds a
process's CPU time, and that of all the children it reaped, to whoever reaps it. The
fork server reaps its workers (multiprocessing's fork server waits for each), the
command reaps what it waits for, and the benchmark reaps the command and every orphan
(the fork server); so once all are reaped, the growth of the benchmark's
``RUSAGE_CHILDREN`` is the CPU of the whole tree, including processes that lived only
a moment. A process that its parent neither waits for nor outlives (a parent that
ignores ``SIGCHLD``) would be missed; none in this tree does that.

A cgroup would count the same, but needs a writable cgroup hierarchy (not in every
container); sampling ``/proc`` loses what a process used after its last sample.
"""

from __future__ import annotations

import ctypes
import os
import resource
import subprocess
import time
from dataclasses import dataclass
from typing import Any

_PR_SET_CHILD_SUBREAPER = 36
_subreaper = False


def become_subreaper() -> None:
    """Make this process the reaper of its orphaned descendants (Linux only)."""
    global _subreaper
    if _subreaper:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")
    _subreaper = True


@dataclass(frozen=True)
class Usage:
    """What one command cost: wall time, and CPU of it and all its descendants."""

    wall_s: float
    user_s: float
    system_s: float
    load: float
    """The 1-minute load average when the command ended."""

    @property
    def cpu_s(self) -> float:
        return self.user_s + self.system_s


def _reap_orphans() -> None:
    """Wait for every remaining child (orphaned descendants re-parented to us)."""
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return
        except InterruptedError:
            continue


def run(cmd: list[str], **kwargs: Any) -> tuple[Usage, subprocess.CompletedProcess]:
    """Run ``cmd`` (``subprocess.run`` keywords) and measure it with all its descendants.

    The caller must have no other child processes running: every child is waited for.
    Wall time ends when ``cmd`` ends; CPU counts what its descendants used after that too.
    """
    become_subreaper()
    _reap_orphans()  # nothing of an earlier command may be counted here
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, check=False, **kwargs)
    wall = time.perf_counter() - start
    _reap_orphans()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    usage = Usage(wall, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime,
                  os.getloadavg()[0])
    return usage, proc
