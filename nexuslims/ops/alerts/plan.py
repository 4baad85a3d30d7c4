"""Deciding what to send: the problems found now against what was found and sent before.

:func:`plan` is a pure function over plain data, so the rules of repetition are tested
without a database or a mail server:

- a problem is told once it has been seen in ``after_passes`` passes in a row;
- one that persists is told again at most every ``repeat`` (a day);
- a condition told about that clears gets one "recovered" line;
- an event or recovery whose message could not be sent stays pending for the next pass.
"""

from __future__ import annotations

import datetime as dt
import socket
from dataclasses import dataclass, field, replace

from nexuslims.db.monitoring import AlertState
from nexuslims.ops.alerts.rules import EVENT, Problem

REPEAT = dt.timedelta(days=1)
NEW, REMINDER, RECOVERED = "new", "still open", "recovered"


@dataclass(frozen=True)
class Item:
    """One line of the message."""

    key: str
    what: str
    """``new``, ``still open`` or ``recovered``."""
    text: str


@dataclass
class Plan:
    """The state to keep, and what to send now (nothing: no message)."""

    states: dict[str, AlertState]
    items: list[Item] = field(default_factory=list)


def plan(previous: dict[str, AlertState], found: list[Problem], now: dt.datetime, *,
         repeat: dt.timedelta = REPEAT) -> Plan:
    """What to send this pass, and the state to keep if it is sent."""
    states: dict[str, AlertState] = {}
    items: list[Item] = []
    for problem in found:
        old = previous.get(problem.key)
        state = replace(old, text=problem.text, last_seen=now, passes=old.passes + 1,
                        cleared=False, kind=problem.kind) if old else \
            AlertState(problem.key, problem.kind, problem.text, now, now, 1)
        states[problem.key] = state
        if state.passes < problem.after_passes:
            continue
        if state.last_sent is None:
            items.append(Item(problem.key, NEW, problem.text))
        elif now - state.last_sent >= repeat:
            items.append(Item(problem.key, REMINDER, problem.text))
    for key, old in previous.items():
        if key in states:
            continue
        if old.kind == EVENT:
            if old.last_sent is None:  # an earlier message failed: still to tell
                states[key] = old
                items.append(Item(key, NEW, old.text))
        elif old.last_sent is not None:  # told about, now cleared
            states[key] = replace(old, cleared=True)
            items.append(Item(key, RECOVERED, old.text.splitlines()[0]))
    return Plan(states, items)


def after_sending(result: Plan, now: dt.datetime) -> dict[str, AlertState]:
    """The state to keep once ``result``'s message went out."""
    states = dict(result.states)
    for item in result.items:
        if item.what == RECOVERED:
            states.pop(item.key, None)
        else:
            states[item.key] = replace(states[item.key], last_sent=now)
    return states


def compose(items: list[Item], host: str | None = None) -> tuple[str, str]:
    """The subject and body of one message."""
    host = host or socket.gethostname()
    new = [i for i in items if i.what == NEW]
    still = [i for i in items if i.what == REMINDER]
    recovered = [i for i in items if i.what == RECOVERED]
    counts = [f"{len(new)} new problem{'s' * (len(new) != 1)}" if new else "",
              f"{len(still)} still open" if still else "",
              f"{len(recovered)} recovered" if recovered else ""]
    subject = f"nexuslims on {host}: " + ", ".join(c for c in counts if c)
    body = []
    for title, group in (("New problems", new), ("Still open (repeated once a day)", still),
                         ("Recovered", recovered)):
        if group:
            body.append(f"{title}:")
            body.extend(f"  - {i.text}" for i in group)
            body.append("")
    body.append(f"Check everything with `nexuslims doctor` on {host}.")
    return subject, "\n".join(body) + "\n"
