"""A check's result as plain data (name, status, message) and the site the checks look at."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nexuslims.config import Settings
    from nexuslims.model.session import Instrument

OK, WARNING, FAILURE = "ok", "warning", "failure"
STATUSES = (OK, WARNING, FAILURE)


@dataclass(frozen=True)
class Check:
    """The result of one check."""

    name: str
    """What was checked, e.g. ``instrument folder titan``."""
    status: str
    """``ok``, ``warning`` or ``failure``."""
    message: str
    """What was found, and when it is not ok, what to do."""
    instrument: str | None = None
    """The instrument concerned, if any (``process`` skips those whose folder failed)."""

    def as_dict(self) -> dict[str, str | None]:
        return asdict(self)


@dataclass
class Site:
    """What the checks look at: the environment, the settings, the instruments."""

    env: Mapping[str, str]
    settings: Settings | None = None
    """Settings as far as they could be read (None when even the paths are unusable)."""
    instruments: list[Instrument] = field(default_factory=list)
    """From the database, when it could be read."""
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    timeout: float = 10.0
    """Seconds each server gets to answer."""
    commands: Mapping[str, Callable[[Mapping[str, str]], object]] = field(
        default_factory=dict)
    """The settings readers of other commands, by command (``serve``), given by the
    command line: each raises ConfigError naming what that command would refuse."""


CheckFunction = Callable[[Site], Iterable[Check]]


def failed(checks: Iterable[Check]) -> bool:
    """Whether any check failed."""
    return any(c.status == FAILURE for c in checks)
