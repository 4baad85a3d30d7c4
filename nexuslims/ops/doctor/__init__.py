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
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from nexuslims.errors import ConfigError
from nexuslims.ops.doctor.checks import (
    FAILURE,
    OK,
    STATUSES,
    WARNING,
    Check,
    Site,
    failed,
)

if TYPE_CHECKING:
    from nexuslims.config import Settings


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
    from nexuslims.export import build_exporter
    from nexuslims.ops.alerts import thresholds
    from nexuslims.ops.alerts.mail import read_mail_settings
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
    from nexuslims.ops.doctor import local
    from nexuslims.ops.doctor import settings as setting_checks

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
    from nexuslims.ops.doctor import local, remote, state
    from nexuslims.ops.doctor import settings as setting_checks

    site, checks = load_site(source, now=now, timeout=timeout, commands=commands)
    for check in (*local.CHEAP, *setting_checks.CHECKS, *local.SLOW, *state.CHECKS,
                  *remote.CHECKS):
        checks.extend(check(site))
    return checks


__all__ = ["FAILURE", "OK", "STATUSES", "WARNING", "Check", "Site", "cheap_checks", "failed",
           "load_site", "run_checks"]
