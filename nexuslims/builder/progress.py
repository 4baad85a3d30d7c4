"""A progress bar on a terminal; nothing otherwise.

The pipeline reports through three functions, :func:`sessions`, :func:`finding` and
:func:`extracting`, which do nothing unless :func:`on_terminal` is active. It is
active only when stderr is a terminal, so under cron, journald or a pipe a pass logs
plain lines exactly as before. On a terminal the log lines still print, above a bar
with counts and the time remaining for the sessions of the pass and the files of the
current session (rich, https://github.com/Textualize/rich).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

_active: _Bars | None = None


def sessions(done: int, total: int, current: str | None = None) -> None:
    """``done`` of ``total`` sessions built; ``current`` is being built now."""
    if _active is not None:
        _active.sessions(done, total, current)


def finding(session: str) -> None:
    """Files of ``session`` are being found."""
    if _active is not None:
        _active.finding(session)


def extracting(session: str, done: int, total: int) -> None:
    """``done`` of ``total`` files of ``session`` extracted."""
    if _active is not None:
        _active.extracting(session, done, total)


def is_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is an interactive terminal that can show a bar."""
    try:
        return stream.isatty() and os.environ.get("TERM", "") != "dumb"
    except (AttributeError, ValueError):
        return False


class _Bars:
    def __init__(self, stream: TextIO):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            console=Console(file=stream), transient=True, redirect_stderr=True,
            redirect_stdout=False)
        self.pass_task: Any = None
        self.files_task: Any = None

    def sessions(self, done: int, total: int, current: str | None) -> None:
        label = f"sessions ({current})" if current else "sessions"
        if self.pass_task is None:
            self.pass_task = self.progress.add_task(label, total=total)
        self.progress.update(self.pass_task, completed=done, total=total, description=label)

    def finding(self, session: str) -> None:
        # A new session: a fresh task (rich keeps an old total when given None), whose
        # bar pulses until the number of files is known.
        if self.files_task is not None:
            self.progress.remove_task(self.files_task)
        self.files_task = self.progress.add_task(f"finding files of {session}", total=None)

    def extracting(self, session: str, done: int, total: int) -> None:
        self._files(f"extracting files of {session}", done, total)

    def _files(self, label: str, done: int, total: int | None) -> None:
        if self.files_task is None:
            self.files_task = self.progress.add_task(label, total=total)
        self.progress.update(self.files_task, completed=done, total=total, description=label)


@contextmanager
def on_terminal(stream: TextIO | None = None, *, enabled: bool = True) -> Iterator[bool]:
    """Show the bars while the block runs, if ``stream`` (stderr) is a terminal.

    ``enabled=False`` (``-q``) shows nothing wherever the output goes.

    Yields whether the bars are shown. Log lines of the ``nexuslims`` loggers that go to
    that terminal are printed above the bars instead of through them.
    """
    global _active
    stream = stream or sys.stderr
    if not enabled or not is_terminal(stream) or _active is not None:
        yield False
        return
    bars = _Bars(stream)
    handlers = [h for h in logging.getLogger("nexuslims").handlers
                if isinstance(h, logging.StreamHandler) and getattr(h, "stream", None) is stream]
    with bars.progress:
        proxy = sys.stderr  # rich's proxy: prints above the live bars
        for handler in handlers:
            handler.setStream(proxy)
        _active = bars
        try:
            yield True
        finally:
            _active = None
            for handler in handlers:
                handler.setStream(stream)
