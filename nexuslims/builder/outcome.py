"""What a pass did: one outcome per session, and the summary of the pass, as plain data."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from nexuslims.model.reservation import Reservation
from nexuslims.model.session import Status


@dataclass
class SessionOutcome:
    """What one pass did with one session."""

    identifier: str
    instrument: str
    status: str
    """The status written (or that would be, in a dry run)."""
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    files: int = 0
    bytes: int = 0
    activities: list[list[str]] = field(default_factory=list)
    """File locations per activity."""
    datasets: int = 0
    failures: int = 0
    reused: int = 0
    """Files whose datasets came from the extraction cache, not from reading them."""
    record_path: Path | None = None
    reservation: Reservation | None = None
    message: str | None = None
    problem: str | None = None
    """Set when the session was left TO_BE_BUILT (or its export failed) because something
    outside the data was out of reach: "calendar", "filestore", "destination" or
    "environment" (disk, database); see :data:`nexuslims.faults.PROBLEMS`."""
    waiting: bool = False
    """Not tried in this pass: not due yet, in its backoff, or still waiting for files."""
    unrecorded: bool = False
    """Its outcome could not be written to the database (damaged, read-only, full)."""


@dataclass
class PassSummary:
    """The outcome of one pass."""

    outcomes: list[SessionOutcome]
    seconds: float
    dry_run: bool
    exports: list[SessionOutcome] = field(default_factory=list)
    """Records built on earlier passes and exported again on this one."""
    calendar_errors: dict[str, str] = field(default_factory=dict)
    """Calendar server -> why harvesting it failed this pass."""
    skipped_instruments: dict[str, str] = field(default_factory=dict)
    """Instrument -> why its folder could not be searched (its sessions were not tried)."""

    @property
    def unrecorded(self) -> list[SessionOutcome]:
        """Sessions whose outcome the database refused: the pass did not fully run."""
        return [o for o in self.outcomes if o.unrecorded]

    @property
    def exported(self) -> int:
        return sum(o.status == Status.COMPLETED for o in self.exports)

    @property
    def built(self) -> int:
        return sum(o.status in (Status.COMPLETED, Status.BUILT_NOT_EXPORTED)
                   for o in self.outcomes)

    @property
    def failed(self) -> int:
        return sum(o.status == Status.ERROR for o in self.outcomes)

    @property
    def skipped(self) -> int:
        return len(self.outcomes) - self.built - self.failed

    @property
    def files(self) -> int:
        return sum(o.files for o in self.outcomes)
