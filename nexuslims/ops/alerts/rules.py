"""Alert rules: plain functions from what a pass recorded to the problems worth telling.

A :class:`Problem` is an ``event`` (a session that failed: told once) or a
``condition`` (a server or folder that cannot be reached, a record not exported: it
lasts, is repeated at most once a day, and is said to have recovered when it clears).
NO_CONSENT, NO_RESERVATION, NO_FILES_FOUND and a clean pass give no problem.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

EVENT, CONDITION = "event", "condition"
#: ``SessionOutcome.problem`` values: something outside the data could not be reached.
OUTSIDE = {"calendar": "calendar", "filestore": "instrument folder",
           "destination": "export destination", "environment": "environment"}


@dataclass(frozen=True)
class Problem:
    """Something an operator should hear about."""

    key: str
    """Identifies the problem across passes (``session ID``, ``calendar SERVER``...)."""
    kind: str
    """``event`` or ``condition``."""
    text: str
    """What happened and what to do, for the message."""
    after_passes: int = 1
    """Told only once seen in this many passes in a row (a short outage is not news)."""


def failed_sessions(outcomes: Iterable[object]) -> list[Problem]:
    """Each session that became ERROR, with its message and the command to see more."""
    problems = []
    for o in outcomes:
        if getattr(o, "status", None) != "ERROR":
            continue
        ident, instrument = getattr(o, "identifier", "?"), getattr(o, "instrument", "?")
        problems.append(Problem(
            f"session {ident}", EVENT,
            f"session {ident} on {instrument} failed: {getattr(o, 'message', None) or '?'}\n"
            f"    details: nexuslims sessions show {ident}"))
    return problems


def unreachable(outcomes: Iterable[object], *, calendar_errors: dict[str, str],
                skipped_instruments: dict[str, str], passes: int) -> list[Problem]:
    """Calendars, instrument folders and destinations that could not be reached.

    Parameters
    ----------
    outcomes
        The pass's session outcomes (builds and export retries); ``problem`` (when set)
        names what was unreachable; BUILT_NOT_EXPORTED means a destination was.
    calendar_errors
        Calendar server -> why its harvest failed.
    skipped_instruments
        Instrument -> why its folder could not be searched (the pass skipped it).
    passes
        Told after this many passes in a row (``NX_ALERT_UNREACHABLE_PASSES``).
    """
    found: dict[str, Problem] = {}

    def add(key: str, text: str) -> None:
        found.setdefault(key, Problem(key, CONDITION, text, passes))

    for server, error in calendar_errors.items():
        add(f"calendar {server}", f"calendar {server} could not be harvested: {error}")
    for pid, reason in skipped_instruments.items():
        add(f"instrument folder {pid}",
            f"instrument {pid} was skipped (its sessions wait): {reason}")
    for o in outcomes:
        problem = getattr(o, "problem", None)
        if problem is None and getattr(o, "status", None) == "BUILT_NOT_EXPORTED":
            problem = "destination"
        if problem not in OUTSIDE:
            continue
        instrument = getattr(o, "instrument", "?")
        key = "export destination" if problem == "destination" else \
            f"{OUTSIDE[problem]} {instrument}"
        add(key, f"{OUTSIDE[problem]} unreachable ({instrument}, session "
                 f"{getattr(o, 'identifier', '?')}): {getattr(o, 'message', None) or '?'}")
    return list(found.values())


def not_exported(waiting: Iterable[object], *, now: dt.datetime,
                 hours: float) -> list[Problem]:
    """Records built at least ``hours`` ago and still not exported.

    ``waiting`` holds :class:`~nexuslims.db.uploads.ExportState` of the sessions
    BUILT_NOT_EXPORTED.
    """
    problems = []
    for state in waiting:
        built = getattr(state, "built", None)
        if built is None or now - built < dt.timedelta(hours=hours):
            continue
        ident = getattr(state, "session_identifier", "?")
        errors = [u.error for u in getattr(state, "uploads", []) if u.error]
        problems.append(Problem(
            f"export {ident}", CONDITION,
            f"the record of session {ident} ({getattr(state, 'instrument', '?')}) is not exported "
            f"{(now - built).total_seconds() / 3600:.0f} h after it was built"
            + (f": {errors[-1]}" if errors else "")
            + f"\n    details: nexuslims sessions show {ident}; "
            f"retry now: nexuslims export --session {ident}"))
    return problems


def pass_failed(error: str) -> Problem:
    """A pass that could not run at all (bad settings, database unreachable)."""
    return Problem("pass", CONDITION, f"a pass could not run: {error}")
