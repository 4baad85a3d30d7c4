"""Preflight: will the next pass work, and if not, what should be fixed?

Each check is a plain function over a :class:`Site` (the settings and what the database
says about instruments) returning :class:`Check` records: a name, ``ok`` / ``warning`` /
``failure``, and a message that says what to do. The same records feed
``nexuslims doctor``, the support bundle and the web pages.

:func:`cheap_checks` are the ones that touch only this machine (no network, no walk of
the file store); ``process`` runs them before every pass. :func:`run_checks` adds the
servers: NEMO, SharePoint, CDCS and the mail server.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from nexuslims.errors import ConfigError

if TYPE_CHECKING:
    from nexuslims.config import Settings
    from nexuslims.sessions import Instrument

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


def load_site(source: Settings | Mapping[str, str], *, now: dt.datetime | None = None,
              timeout: float = 10.0, commands: Mapping[str, Callable] | None = None,
              ) -> tuple[Site, list[Check]]:
    """The site to check, and the check of its settings.

    ``source`` is checked settings, or raw variables (``read_environment``): then every
    problem is reported as a failure, and the checks that can still run do.
    """
    from nexuslims.config import Settings, load_settings

    site = Site(env={}, now=now or dt.datetime.now(dt.UTC), timeout=timeout,
                commands=dict(commands or {}))
    problems: list[str] = []
    if isinstance(source, Settings):
        site.env, site.settings = source.env, source
    else:
        site.env = dict(source)
        try:
            site.settings = load_settings(site.env)
        except ConfigError as exc:
            problems.extend(exc.problems)
            # What can be read still lets the other checks run: drop the bad settings.
            bad = {m.group(1) for p in exc.problems if (m := re.match(r"(\w+)[= ]", p))}
            try:
                site.settings = load_settings(
                    {k: v for k, v in site.env.items() if k not in bad}, frozenset())
            except ConfigError:
                site.settings = None
    if site.settings is not None:
        problems.extend(_plugin_problems(site.settings))
    if problems:
        return site, [Check("settings", FAILURE, "fix these settings: " + "; ".join(problems))]
    return site, [Check("settings", OK, "the settings a pass reads are valid")]


def _plugin_problems(settings: Settings) -> list[str]:
    """Calendar, export, mail and alert settings, checked the way a pass reads them."""
    from nexuslims.alerts import thresholds
    from nexuslims.alerts.mail import read_mail_settings
    from nexuslims.export import build_exporter
    from nexuslims.reservations import build_harvesters

    problems: list[str] = []
    for build in (build_harvesters, build_exporter, lambda s: read_mail_settings(s.env),
                  lambda s: thresholds(s.env)):
        try:
            build(settings)
        except ConfigError as exc:
            problems.extend(exc.problems)
    return problems


def cheap_checks(source: Settings | Mapping[str, str], *,
                 now: dt.datetime | None = None) -> list[Check]:
    """The checks that touch only this machine: settings, database, paths, folders, find."""
    from nexuslims.doctor import local
    from nexuslims.doctor import settings as setting_checks

    site, checks = load_site(source, now=now)
    for check in (*local.CHEAP, *setting_checks.CHECKS):
        checks.extend(check(site))
    return checks


def run_checks(source: Settings | Mapping[str, str], *, now: dt.datetime | None = None,
               timeout: float = 10.0, commands: Mapping[str, Callable] | None = None,
               ) -> list[Check]:
    """Every check, local then servers, in the order ``nexuslims doctor`` prints them.

    Parameters
    ----------
    source
        Checked settings, or the raw variables (then bad settings are a failed check).
    now
        The current time (tests): decides which files count as recent.
    timeout
        Seconds each server gets to answer.
    commands
        The settings readers of other commands (``{"serve": load_web_settings}``).
    """
    from nexuslims.doctor import local, remote
    from nexuslims.doctor import settings as setting_checks

    site, checks = load_site(source, now=now, timeout=timeout, commands=commands)
    for check in (*local.CHEAP, *setting_checks.CHECKS, *local.SLOW, *remote.CHECKS):
        checks.extend(check(site))
    return checks


def instrument_folder_problem(settings: Settings, instrument: Instrument) -> str | None:
    """Why an instrument's folder cannot be searched now (missing, unreadable), or None."""
    from nexuslims.doctor.local import folder_problem

    return folder_problem(settings, instrument)


__all__ = ["FAILURE", "OK", "STATUSES", "WARNING", "Check", "Site", "cheap_checks", "failed",
           "instrument_folder_problem", "load_site", "run_checks"]
