"""Where the command's log lines go: stderr at the chosen verbosity, and each pass's log files."""

from __future__ import annotations

import datetime as dt
import logging
import re
import sys


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.ERROR if quiet else logging.DEBUG if verbose >= 2 else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s",
                                           "%H:%M:%S"))
    # The handler keeps its own level: a pass lowers the logger's to INFO for its log file.
    handler.setLevel(level)
    if quiet:
        handler.addFilter(_not_about_one_session)
    root = logging.getLogger("nexuslims")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    if verbose < 2:
        from nexuslims.extractors._quiet import quiet_hyperspy

        quiet_hyperspy()
    events = logging.getLogger("nexuslims.events")
    events.propagate = False  # machine-readable lines go to the events file only
    events.setLevel(logging.INFO)


def _not_about_one_session(record: logging.LogRecord) -> bool:
    """Under ``-q``, a session's own log lines stay in the log file: the pass summary
    reports each session that needs attention once, on stdout."""
    template = getattr(record, "template", record.msg)  # before redaction formatted it
    return not (isinstance(template, str) and _SESSION_LINE.match(template))


_SESSION_LINE = re.compile(r"(\[%d/%d\] )?session %s")


def log_to_files(settings) -> None:
    """Each pass logs to ``NX_LOG_PATH/YYYY/MM/DD/HHMMSS_process.log`` plus events.jsonl.

    The files are made at the first line: a pass that finds another one holding the lease
    (every ten minutes under a timer, while a long pass runs) leaves no empty log.
    """
    now = dt.datetime.now()
    folder = settings.log_path / now.strftime("%Y/%m/%d")
    folder.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(folder / now.strftime("%H%M%S_process.log"), encoding="utf-8",
                                  delay=True)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger("nexuslims")
    root.addHandler(handler)
    if root.level > logging.INFO:
        root.setLevel(logging.INFO)
    events_handler = logging.FileHandler(settings.log_path / "events.jsonl", encoding="utf-8",
                                         delay=True)
    events_handler.setFormatter(logging.Formatter("%(message)s"))
    logging.getLogger("nexuslims.events").addHandler(events_handler)
