"""Reservations: who reserved the instrument, when, and why.

A harvester answers one question for a session: its :class:`Reservation`, or a typed
"no reservation" / "no consent" answer. The instrument's ``harvester`` column picks the
harvester by name; an empty or NULL value means the instrument has no calendar, and the
record summary comes from the session itself (:class:`SessionOnly`).

Harvesters for NEMO and SharePoint register themselves in :data:`HARVESTERS`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Protocol

from nexuslims.sessions import Session


@dataclass(frozen=True)
class Sample:
    """A sample examined during the session."""

    id: str
    name: str | None = None
    description: str | None = None
    elements: tuple[str, ...] = ()


@dataclass(frozen=True)
class Project:
    """The project a session belongs to."""

    name: str | None = None
    project_id: str | None = None
    ref: str | None = None


@dataclass
class Reservation:
    """What the record's title, summary, sample and project elements come from."""

    title: str
    start: dt.datetime
    end: dt.datetime
    experimenters: list[str] = field(default_factory=list)
    motivation: str | None = None
    samples: list[Sample] = field(default_factory=list)
    projects: list[Project] = field(default_factory=list)
    url: str | None = None


@dataclass(frozen=True)
class NoReservation:
    """The calendar has no reservation for this session (status NO_RESERVATION)."""

    reason: str


@dataclass(frozen=True)
class NoConsent:
    """The user declined to have a record made (status NO_CONSENT)."""

    reason: str


ReservationAnswer = Reservation | NoReservation | NoConsent


class Harvester(Protocol):
    """Finds the reservation matching a session."""

    name: str

    def reservation_for(self, session: Session) -> ReservationAnswer:
        """Return the reservation for ``session``; raise HarvesterError if unreachable."""
        ...


class SessionOnly:
    """For instruments with no calendar: the summary comes from the session itself."""

    name = ""

    def reservation_for(self, session: Session) -> ReservationAnswer:
        tz = session.instrument.tzinfo
        start = session.start.astimezone(tz)
        title = f"{session.instrument.display_name} session on {start:%Y-%m-%d}"
        return Reservation(
            title=title,
            start=start,
            end=session.end.astimezone(tz),
            experimenters=[session.user] if session.user else [],
        )


HARVESTERS: dict[str, Harvester] = {"": SessionOnly()}


def harvester_for(name: str | None) -> Harvester:
    """The harvester an instrument's ``harvester`` column names.

    Raises
    ------
    KeyError
        When no harvester of that name is installed.
    """
    key = (name or "").strip().lower()
    return HARVESTERS[key]
