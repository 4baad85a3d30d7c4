"""Export stage: publish built records to their destinations.

The pipeline writes every valid record to ``NX_RECORDS_PATH`` first (the outbox), then
hands it to the :class:`Exporter` of the pass, which decides the session's final status
(COMPLETED, BUILT_NOT_EXPORTED to retry on later passes, or ERROR) and records each
attempt. With no destination configured, a record in the outbox is COMPLETED.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from nexuslims.sessions import Status

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from nexuslims.config import Settings


@dataclass
class ExportOutcome:
    """What exporting one record came to."""

    session_identifier: str
    instrument: str
    status: Status
    message: str | None = None


class Exporter(Protocol):
    """Sends records from the outbox to the configured destinations."""

    def export(self, engine: Engine, session_identifier: str, instrument: str,
               record_path: Path) -> ExportOutcome:
        """Export one freshly built record; report, never raise."""
        ...

    def retry_pending(self, engine: Engine, *, now: dt.datetime,
                      dry_run: bool = False) -> list[ExportOutcome]:
        """Export again the records left BUILT_NOT_EXPORTED whose backoff has passed."""
        ...


class OutboxOnly:
    """No destinations: a record written to NX_RECORDS_PATH is complete."""

    def export(self, engine: Engine, session_identifier: str, instrument: str,
               record_path: Path) -> ExportOutcome:
        return ExportOutcome(session_identifier, instrument, Status.COMPLETED)

    def retry_pending(self, engine: Engine, *, now: dt.datetime,
                      dry_run: bool = False) -> list[ExportOutcome]:
        return []


def build_exporter(settings: Settings) -> Exporter:
    """The exporter of this pass, from the settings (ConfigError if they are wrong)."""
    return OutboxOnly()
