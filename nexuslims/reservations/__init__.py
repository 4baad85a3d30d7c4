"""Reservations: who reserved the instrument, when, and why.

A harvester answers one question for a session: its :class:`Reservation`, or a typed
"no reservation" / "no consent" answer. The instrument's ``harvester`` column picks the
harvester by name; an empty or NULL value means the instrument has no calendar, and the
record summary comes from the session itself (:class:`SessionOnly`).

Harvesters for NEMO and SharePoint live in their own modules, named in
:data:`_FACTORIES` and built per pass by :func:`build_harvesters`. A harvester that
also discovers sessions (NEMO) is a :class:`SessionSource`.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from nexuslims.model.reservation import (
    HarvestedSession,
    HarvestResult,
    NoConsent,
    NoReservation,
    Project,
    Reservation,
    ReservationAnswer,
    Sample,
)
from nexuslims.model.session import Instrument, Session

__all__ = ["HarvestResult", "HarvestedSession", "NoConsent", "NoReservation", "Project",
           "Reservation", "ReservationAnswer", "Sample"]

if TYPE_CHECKING:
    from nexuslims.config import Settings


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


@runtime_checkable
class SessionSource(Protocol):
    """A harvester that also discovers sessions (NEMO), at the start of each pass."""

    name: str

    def harvest(self, instruments: Mapping[str, Instrument],
                last_harvest: Mapping[str, dt.datetime], until: dt.datetime,
                since: dt.datetime | None = None) -> HarvestResult:
        """Sessions on known instruments that ended after each server's last harvest.

        ``last_harvest`` maps a server to the ``harvested_until`` of its last successful
        harvest (absent: never harvested; the source picks a first window). ``since``,
        when given (``--from``), replaces it for every server.
        """
        ...


# Harvesters besides SessionOnly: name -> "module:factory". The factory takes the
# pass's Settings and returns a harvester, or None when it is not configured; a
# module that is not installed is skipped, so each harvester lives in its own module.
_FACTORIES = {
    "nemo": "nexuslims.reservations.nemo:from_settings",
    "sharepoint": "nexuslims.reservations.sharepoint:from_settings",
}


def build_harvesters(settings: Settings) -> dict[str, Harvester]:
    """The harvesters configured for this pass, by the name instruments use.

    Raises
    ------
    ConfigError
        When a harvester's settings are present but wrong.
    """
    harvesters: dict[str, Harvester] = {"": SessionOnly()}
    for name, target in _FACTORIES.items():
        module_name, _, factory = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        harvester = getattr(module, factory)(settings)
        if harvester is not None:
            harvesters[name] = harvester
    return harvesters


def unavailable_reason(name: str | None) -> str:
    """Why an instrument's ``harvester`` has no harvester this pass, for messages."""
    key = (name or "").strip().lower()
    if key in _FACTORIES:
        return (f"the {key!r} calendar is not configured (see docs/{key}.md for its "
                "settings)")
    return f"no harvester is named {key!r} (known: {', '.join(sorted(_FACTORIES))})"


def harvester_for(name: str | None, harvesters: Mapping[str, Harvester] | None = None,
                  ) -> Harvester:
    """The harvester an instrument's ``harvester`` column names.

    Raises
    ------
    KeyError
        When no harvester of that name is installed and configured.
    """
    key = (name or "").strip().lower()
    return (harvesters if harvesters is not None else {"": SessionOnly()})[key]
