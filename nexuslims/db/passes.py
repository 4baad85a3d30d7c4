"""The builder's passes (``passes``): when each ran, how long, and how it ended.

The builder page lists them and ``/healthz`` answers from the newest. ``outcome`` is
``ok`` (the pass ran; some sessions may have failed, which the counts say) or
``failed`` (the pass could not run: ``message`` says why) or ``interrupted`` (stopped
by a signal; ``message`` names the sessions left for the next pass).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from nexuslims.db.engine import translated
from nexuslims.db.schema import passes

OK, FAILED, INTERRUPTED = "ok", "failed", "interrupted"


@dataclass(frozen=True)
class PassRecord:
    """One pass of the builder."""

    started: dt.datetime
    finished: dt.datetime
    outcome: str
    sessions: int = 0
    built: int = 0
    failed: int = 0
    exported: int = 0
    message: str | None = None
    id: int | None = None

    @property
    def duration_s(self) -> float:
        return (self.finished - self.started).total_seconds()


def record_pass(engine: Engine, record: PassRecord) -> int:
    """Store one finished pass; return its id."""
    with translated(engine.url, "recording a pass"), engine.begin() as conn:
        result = conn.execute(sa.insert(passes).values(
            started=record.started, finished=record.finished, duration_s=record.duration_s,
            outcome=record.outcome, sessions=record.sessions, built=record.built,
            failed=record.failed, exported=record.exported, message=record.message))
        return int(result.inserted_primary_key[0])  # type: ignore[index]


def recent_passes(engine: Engine, limit: int = 20) -> list[PassRecord]:
    """The newest passes, newest first."""
    p = passes
    with translated(engine.url, "reading the passes"), engine.connect() as conn:
        return [PassRecord(r.started, r.finished or r.started, r.outcome, r.sessions, r.built,
                           r.failed, r.exported, r.message, r.id)
                for r in conn.execute(sa.select(p).order_by(p.c.id.desc()).limit(limit))]
