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
    """Keeps each distinct message (WARNING and above) of the reader loggers, in order."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        library = READER_LOGGERS.get(record.name.split(".")[0], record.name)
        try:
            text = f"{library}: {record.getMessage()}"
        except Exception:  # noqa: BLE001 - a malformed log call must not fail the read
            text = f"{library}: {record.msg}"
        if text not in self.messages:
            self.messages.append(text)


@contextlib.contextmanager
def reader_messages() -> Iterator[list[str]]:
    """Collect the reader libraries' messages for the duration (and print none of them).

    Yields the list the messages are appended to, as ``"RosettaSciIO: <message>"``.
    RosettaSciIO is imported first when it is installed: its import puts its own
    printing handler back (in a process that has it, it costs nothing).
    """
    if "rsciio" not in sys.modules and importlib.util.find_spec("rsciio") is not None:
        import rsciio  # noqa: F401 - see above
    collect = _Collect()
    saved = []
    for name in READER_LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, list(logger.handlers), logger.propagate))
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        logger.addHandler(collect)
        logger.propagate = False
    try:
        yield collect.messages
    finally:
        for logger, handlers, propagate in saved:
            logger.removeHandler(collect)
            for handler in handlers:
                logger.addHandler(handler)
            logger.propagate = propagate


# Imported first by the extraction fork server, before HyperSpy.
quiet_hyperspy()
