"""Reader libraries' notices: silenced when they say nothing about a file, kept with the
file's datasets when they do.

:func:`quiet_hyperspy` silences, in every process that reads files, the two notices
HyperSpy prints on import (that the optional Numba accelerator is missing, and its
internal deprecations): printed by every reader process they would fill a pass's output
and journal.

:func:`reader_messages` collects what RosettaSciIO, HyperSpy and exspy log while one file
is read or previewed (a pruned Velox file, a tag that could not be parsed). Their own
handlers would print each message in colour on standard output, once per file, outside
the pass log's format and past ``-q``: a facility's copies of one odd file would fill the
journal with the same line. Collected, each becomes a warning of the dataset it concerns,
in the sidecar and the record, where whoever reads the record sees it.
"""

import contextlib
import importlib.util
import logging
import sys
import threading
import warnings
from collections.abc import Iterator

_installed = False

READER_LOGGERS = {"rsciio": "RosettaSciIO", "hyperspy": "HyperSpy", "exspy": "exspy"}
"""The loggers of the reader libraries, and the name a message is quoted under."""


def quiet_hyperspy() -> None:
    """Install the filters (once per process; cheap to call again)."""
    global _installed
    if _installed:
        return
    _installed = True
    logging.getLogger("hyperspy.decorators").addFilter(
        lambda record: "Numba is not installed" not in record.getMessage())
    warnings.filterwarnings("ignore", message=r"Importing `\w+` from `hyperspy\._signals")
    warnings.filterwarnings("ignore", category=DeprecationWarning,
                            module=r"(hyperspy|rsciio|exspy)")


class _Collect(logging.Handler):
    """The reader loggers' one handler: each distinct message (WARNING and above) goes to
    the innermost :func:`reader_messages` list of the thread that logged it; outside any,
    to the ``nexuslims.readers`` logger (the process's own log format and filters)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.local = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        library = READER_LOGGERS.get(record.name.split(".")[0], record.name)
        try:
            text = f"{library}: {record.getMessage()}"
        except Exception:  # noqa: BLE001 - a malformed log call must not fail the read
            text = f"{library}: {record.msg}"
        stack = getattr(self.local, "stack", None)
        if not stack:
            logging.getLogger("nexuslims.readers").log(record.levelno, "%s", text)
        elif text not in stack[-1]:
            stack[-1].append(text)


_collect = _Collect()
_lock = threading.Lock()
_routed = False


def _route_reader_loggers() -> None:
    """Give the reader loggers :data:`_collect` as their only handler (once a process).

    RosettaSciIO is imported first when it is installed: its import puts its own
    printing handler back (in a process that reads files it is imported anyway).
    """
    global _routed
    if _routed:  # every file after the first
        return
    with _lock:
        if _routed:
            return
        if "rsciio" not in sys.modules and importlib.util.find_spec("rsciio") is not None:
            import rsciio  # noqa: F401 - see above
        for name in READER_LOGGERS:
            logger = logging.getLogger(name)
            for handler in list(logger.handlers):
                logger.removeHandler(handler)
            logger.addHandler(_collect)
            logger.propagate = False
        _routed = True


@contextlib.contextmanager
def reader_messages() -> Iterator[list[str]]:
    """Collect the reader libraries' messages logged by this thread for the duration
    (and print none of them); safe in threads (a Dask worker may run several files).

    Yields the list the messages are appended to, as ``"RosettaSciIO: <message>"``.
    """
    _route_reader_loggers()
    messages: list[str] = []
    stack = getattr(_collect.local, "stack", None)
    if stack is None:
        stack = _collect.local.stack = []
    stack.append(messages)
    try:
        yield messages
    finally:
        stack.pop()


# Imported first by the extraction fork server, before HyperSpy.
quiet_hyperspy()
