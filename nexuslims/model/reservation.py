"""Reservations and harvested sessions: what a calendar says about a session, as plain data."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


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


@dataclass(frozen=True)
class HarvestedSession:
    """A finished instrument session a scheduler reported (e.g. a NEMO usage event)."""

    identifier: str
    instrument: str
    start: dt.datetime
    end: dt.datetime
    user: str | None = None


@dataclass
class HarvestResult:
    """What one harvest of a scheduler found.

    ``harvested_until`` maps each server that answered to the time up to which its
    events are now known (the next harvest starts there); ``errors`` maps each server
    that did not answer to why. A server in neither was not asked.
    """

    sessions: list[HarvestedSession] = field(default_factory=list)
    harvested_until: dict[str, dt.datetime] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
