"""Sessions from calendars that discover them (NEMO): asked once per pass, stored in the log."""

from __future__ import annotations

import datetime as dt
import logging

from nexuslims.model.session import Instrument, Session
from nexuslims.reservations import SessionSource

logger = logging.getLogger(__name__)


def harvest_sessions(engine, source: SessionSource, instruments: dict[str, Instrument], *,
                     since: dt.datetime | None, until: dt.datetime | None, now: dt.datetime,
                     dry_run: bool, errors: dict[str, str] | None = None) -> list[Session]:
    """Ask a scheduler for sessions that ended since its last successful harvest.

    They are written to the session log as TO_BE_BUILT (in a dry run, only returned).
    ``since``/``until`` (``--from``/``--to``) override the stored harvest window. A
    server that cannot be reached is logged and asked again from the same point on the
    next pass, so no event is lost to an outage.
    """
    from nexuslims.db import harvest as harvest_db

    result = source.harvest(instruments, harvest_db.harvest_state(engine, source.name),
                            until or now, since)
    for server, error in result.errors.items():
        logger.error("%s server %s could not be harvested: %s", source.name, server, error)
        if errors is not None:
            errors[server] = error
    logger.info("%s: %d finished session(s) reported", source.name, len(result.sessions))
    if not dry_run:
        saved = harvest_db.save_harvest(engine, source.name, result, now=now)
        logger.info("%s: %d session(s) added to the session log, %d updated, %d unchanged",
                    source.name, saved.added, saved.updated, saved.unchanged)
        return []
    sessions = []
    for h in result.sessions:
        instrument = instruments.get(h.instrument)
        if instrument is not None:
            sessions.append(Session(h.identifier, instrument, h.start.astimezone(dt.UTC),
                                    h.end.astimezone(dt.UTC), h.user))
    return sessions
