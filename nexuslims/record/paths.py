"""Where a session's record is written: a file name of its own, never another session's."""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

from nexuslims.config import Settings
from nexuslims.db import buildstate
from nexuslims.model.session import Session

logger = logging.getLogger(__name__)


def record_filename(session: Session, *, unique: bool = False) -> str:
    """``YYYY-MM-DD_<instrument>_<short id>.xml``, date in the instrument's timezone.

    When the short id loses part of the id's last segment (characters that are not
    file-name safe, or more than 48 of them), or with ``unique``, a hash of the whole
    id is added: ``...-run-0001`` and ``...-run-0002`` never share a record.
    """
    day = session.start.astimezone(session.instrument.tzinfo).strftime("%Y-%m-%d")
    instrument = re.sub(r"[^A-Za-z0-9._-]+", "_", session.instrument.pid)
    token = session.short_id
    last = re.split(r"[/?=&#]", session.identifier.rstrip("/"))[-1]
    if unique or token != last:
        digest = hashlib.sha256(session.identifier.encode("utf-8", "surrogateescape"))
        token = f"{token[:40]}-{digest.hexdigest()[:10]}"
    return f"{day}_{instrument}_{token}.xml"


def record_path(engine, settings: Settings, session: Session,
                claimed: set[Path] | None = None) -> Path:
    """Where the session's record goes: never a path the history gives another session,
    nor one in ``claimed`` (given to another session of this pass; the path is added)."""
    assert settings.records_path is not None
    claimed = set() if claimed is None else claimed
    path = settings.records_path / record_filename(session)
    others = buildstate.record_owners(engine, str(path)) - {session.identifier}
    if others or path in claimed:
        unique = settings.records_path / record_filename(session, unique=True)
        owner = f"session {sorted(others)[0]}" if others else "another session of this pass"
        logger.warning("session %s: %s is the record of %s; writing %s instead",
                       session.identifier, path, owner, unique.name)
        path = unique
    claimed.add(path)
    return path
