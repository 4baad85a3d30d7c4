"""Each pass of ``nexuslims process`` is remembered: when, how long, and how it ended.

The builder page shows the last passes and ``/healthz`` answers from the newest one
(:mod:`nexuslims.db.passes`). A pass that could not run is recorded as ``failed`` with
the reason, when the database can still be reached; one stopped by SIGTERM or Ctrl-C as
``interrupted``, with the sessions it left for the next pass.
"""

from __future__ import annotations

import datetime as dt
import logging

from nexuslims.builder.lease import note_stopped_pass
from nexuslims.builder.outcome import PassSummary
from nexuslims.builder.run import run_pass
from nexuslims.config import Settings
from nexuslims.db.passes import FAILED, INTERRUPTED, OK, PassRecord, record_pass
from nexuslims.errors import NexusLIMSError

logger = logging.getLogger(__name__)


def run_recorded_pass(settings: Settings, **kwargs) -> PassSummary:  # type: ignore[no-untyped-def]
    """:func:`~nexuslims.builder.run.run_pass`, then record the pass in ``passes``.

    Parameters are those of ``run_pass``; a dry run is not recorded.
    """
    started = dt.datetime.now(dt.UTC)
    try:
        summary = run_pass(settings, **kwargs)
    except KeyboardInterrupt as exc:  # SIGTERM/SIGINT (nexuslims.builder.interrupt)
        if not kwargs.get("dry_run"):
            _record(settings, PassRecord(started, dt.datetime.now(dt.UTC), INTERRUPTED,
                                         message=_stop_message(exc)))
            note_stopped_pass(settings)
        raise
    except Exception as exc:
        if not kwargs.get("dry_run"):
            _record(settings, PassRecord(started, dt.datetime.now(dt.UTC), FAILED,
                                         message=str(exc) or type(exc).__name__))
        raise
    if not kwargs.get("dry_run"):
        _record(settings, PassRecord(
            started, dt.datetime.now(dt.UTC), OK, sessions=len(summary.outcomes),
            built=summary.built, failed=summary.failed, exported=summary.exported))
    return summary


def _stop_message(exc: KeyboardInterrupt) -> str:
    sessions = getattr(exc, "sessions", [])
    left = (f"; {len(sessions)} session(s) left for the next pass: {', '.join(sessions)}"
            if sessions else "")
    return f"{exc or 'interrupted'}{left}"


def _record(settings: Settings, record: PassRecord) -> None:
    from nexuslims import db

    try:
        assert settings.db_url is not None
        engine = db.make_engine(settings.db_url)
        try:
            record_pass(engine, record)
        finally:
            engine.dispose()
    except (NexusLIMSError, AssertionError) as exc:
        logger.warning("the pass could not be recorded for the builder page: %s", exc)
