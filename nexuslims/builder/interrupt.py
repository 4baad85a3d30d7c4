"""Stopping a pass: SIGTERM and SIGINT become an exception that unwinds the pass.

A pass holds the builder lock, an open build attempt and extraction workers, all released
by ``with`` blocks and ``finally`` clauses. Python turns SIGINT into KeyboardInterrupt but
leaves SIGTERM (what systemd and ``kill`` send) to kill the process outright, so nothing
unwinds. :func:`stop_on_signals` makes both raise :class:`Interrupted` in the main thread:
the extraction pool kills its workers, the pipeline records the attempt as interrupted
and leaves the session for the next pass, and the lock is released. A second signal
while the pass unwinds gets the default action (SIGTERM kills; workers die with us).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

logger = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Interrupted(KeyboardInterrupt):
    """The pass was asked to stop by a signal."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.signal_name = signal.Signals(signum).name
        self.sessions: list[str] = []
        """The sessions being built when it came, left for the next pass."""
        super().__init__(f"stopped by {self.signal_name}")

    def sessions_left(self) -> str:
        """``the session X is``, ``the sessions X and Y are`` (left for the next pass)."""
        if not self.sessions:
            return "no session was being built; nothing is"
        if len(self.sessions) == 1:
            return f"the session {self.sessions[0]} is"
        return f"the {len(self.sessions)} sessions {', '.join(self.sessions[:-1])} and " \
               f"{self.sessions[-1]} are"

    @property
    def exit_code(self) -> int:
        """The shell's convention for a process ended by this signal (128 + number)."""
        return 128 + self.signum


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within the block, SIGTERM and SIGINT raise :class:`Interrupted` (main thread only;
    elsewhere the block runs with the handlers unchanged)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, _frame: FrameType | None) -> None:
        for sig in STOP_SIGNALS:  # once only: a second signal takes the default action
            signal.signal(sig, signal.SIG_DFL if sig != signal.SIGINT
                          else signal.default_int_handler)
        logger.warning("%s received: stopping the pass", signal.Signals(signum).name)
        raise Interrupted(signum)

    previous = {sig: signal.signal(sig, stop) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
