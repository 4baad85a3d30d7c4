"""Database layer: the only place that speaks SQL.

OWNER: database helper. The functions below are the contract the pipeline and CLI use.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from nexuslims.sessions import Instrument, SessionLogRow


def make_engine(url: str) -> Engine:
    """An engine for ``url`` (SQLite gets foreign keys on and a busy timeout)."""
    raise NotImplementedError


def init_db(url: str) -> str:
    """Create a new database at head; return the revision. Refuses a non-empty database."""
    raise NotImplementedError


def upgrade_db(url: str) -> tuple[str | None, str]:
    """Adopt/upgrade a database (empty, NexusLIMS 1.x/2.x, or ours) to head; (from, to)."""
    raise NotImplementedError


def current_revision(url: str) -> str | None:
    """The database's revision, ``"nexuslims-1.x"``/``"nexuslims-2.x"`` if unadopted, or None."""
    raise NotImplementedError


def require_head(engine: Engine) -> None:
    """Raise DatabaseNotAtHead (saying to run ``nexuslims db upgrade``) unless at head."""
    raise NotImplementedError


# --- session log -------------------------------------------------------------------

def load_instruments(engine: Engine) -> dict[str, Instrument]:
    raise NotImplementedError


def add_instrument(engine: Engine, instrument: Instrument) -> None:
    raise NotImplementedError


def session_rows(engine: Engine, status: str = "TO_BE_BUILT") -> list[SessionLogRow]:
    """START/END rows of every session having a row with ``status`` (all its rows)."""
    raise NotImplementedError


def set_session_status(engine: Engine, session_identifier: str, instrument: str,
                       status: str, *, user: str | None = None) -> None:
    """Set every row of the session to ``status`` and add a RECORD_GENERATION row."""
    raise NotImplementedError


# --- build history -----------------------------------------------------------------

@dataclass
class StageRecord:
    name: str          # find_files | cluster | extract | build | validate | export
    started: dt.datetime
    finished: dt.datetime
    status: str        # ok | error | skipped
    files_found: int | None = None
    bytes_found: int | None = None
    datasets: int | None = None
    failures: int | None = None
    error: str | None = None
