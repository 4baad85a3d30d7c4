"""The SharePoint harvester's settings, read from the pass's environment and checked."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from nexuslims.config import file_setting, legacy_setting, number_setting
from nexuslims.errors import ConfigError

logger = logging.getLogger(__name__)

# NexusLIMS 1.x name -> ours
LEGACY_NAMES = {"nexusLIMS_user": "NX_SHAREPOINT_USER", "nexusLIMS_pass": "NX_SHAREPOINT_PASSWORD"}


@dataclass(frozen=True)
class SharePointSettings:
    """How to reach the SharePoint calendars."""

    user: str
    """``DOMAIN\\user`` for NTLM."""
    password: str = field(repr=False)
    timezone: ZoneInfo | None = None
    """The server's zone when configured (``NX_SHAREPOINT_TZ``); asked otherwise."""
    timeout: float = 30.0
    """Seconds to wait for a connection and for each answer."""
    retries: int = 3
    """Further attempts after a connection error or 5xx answer."""
    backoff: float = 1.0
    """Seconds before the first retry; doubled for each next one."""
    xslt: Path | None = None
    """A site's own feed-to-reservation stylesheet (``NX_SHAREPOINT_XSLT``)."""
    ca_bundle: Path | None = None
    """Certificates to trust for HTTPS (``NX_CERT_BUNDLE_FILE``)."""
    user_setting: str = "NX_SHAREPOINT_USER"
    password_setting: str = "NX_SHAREPOINT_PASSWORD"
    """The names the credentials were read from, for messages telling what to check."""


def incomplete(env: Mapping[str, str]) -> str | None:
    """What is missing when only one of the SharePoint user and password is set (the
    calendars are then not read), or None."""
    values = {new: legacy_setting(env, new, old, warn=False) for new, old in
              (("NX_SHAREPOINT_USER", "nexusLIMS_user"),
               ("NX_SHAREPOINT_PASSWORD", "nexusLIMS_pass"))}
    (user, user_name), (password, password_name) = values.values()
    if not user and not password:
        others = sorted(n for n in env if n.startswith("NX_SHAREPOINT_") and
                        (env.get(n) or "").strip())
        if others:
            return (f"{' and '.join(others)} {'is' if len(others) == 1 else 'are'} set but "
                    "NX_SHAREPOINT_USER and NX_SHAREPOINT_PASSWORD are not: SharePoint "
                    "calendars are not read (set both, or remove "
                    f"{'it' if len(others) == 1 else 'them'})")
        return None
    if user and password:
        return None
    given, missing = (user_name, "NX_SHAREPOINT_PASSWORD") if user else \
        (password_name, "NX_SHAREPOINT_USER")
    return (f"{given} is set but {missing} is not: SharePoint calendars are not read "
            f"(set {missing}, or remove {given} if no instrument uses SharePoint)")


_warned: set[str] = set()


def _warn_once(message: str) -> None:
    """Each command reads these settings more than once (doctor, the support bundle)."""
    if message not in _warned:
        _warned.add(message)
        logger.warning("%s", message)


def read_settings(env: Mapping[str, str]) -> SharePointSettings | None:
    """The SharePoint settings in ``env``, or None when no credentials are configured
    (or only one of the user and password is: warned about, see :func:`incomplete`).

    Raises
    ------
    ConfigError
        Naming every SharePoint setting that is present but wrong.
    """
    problems: list[str] = []
    names = {}
    values = {}
    for new, old in (("NX_SHAREPOINT_USER", "nexusLIMS_user"),
                     ("NX_SHAREPOINT_PASSWORD", "nexusLIMS_pass")):
        values[new], names[new] = legacy_setting(env, new, old)
    user = values["NX_SHAREPOINT_USER"].strip()
    password = values["NX_SHAREPOINT_PASSWORD"]
    half_done = incomplete(env)
    if half_done is not None:
        # Not an error for every command: only an instrument whose harvester is
        # "sharepoint" needs it, and its sessions then wait, saying so (doctor fails).
        _warn_once(half_done)
        return None
    if not user and not password:
        return None
    if "\\" not in user and "@" not in user:
        _warn_once(f"{names['NX_SHAREPOINT_USER']}={user} has no DOMAIN\\ part; SharePoint "
                   "will assume its own domain")

    zone = None
    raw_tz = env.get("NX_SHAREPOINT_TZ", "").strip()
    if raw_tz:
        try:
            zone = ZoneInfo(raw_tz)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"NX_SHAREPOINT_TZ={raw_tz}: expects an IANA time zone name such "
                            "as America/New_York (or leave it unset to ask the server)")

    timeout = number_setting(env, "NX_SHAREPOINT_TIMEOUT", 30.0, problems, minimum=0.001,
                      expects="a number of seconds > 0 (e.g. 30)")
    retries = number_setting(env, "NX_SHAREPOINT_RETRIES", 3, problems, minimum=0,
                      expects="a whole number of retries >= 0 (e.g. 3)", whole=True)
    backoff = number_setting(env, "NX_SHAREPOINT_BACKOFF", 1.0, problems, minimum=0,
                      expects="a number of seconds >= 0 (e.g. 1)")

    xslt = file_setting(env, "NX_SHAREPOINT_XSLT", problems, "an XSLT 1.0 stylesheet mapping the "
                 "calendar feed to reservations (see xslt/sharepoint-reservation.xsl)")
    ca_bundle = file_setting(env, "NX_CERT_BUNDLE_FILE", problems, "a PEM file of the certificates "
                      "to trust for HTTPS")
    if problems:
        raise ConfigError(problems)
    return SharePointSettings(
        user=user, password=password, timezone=zone, timeout=timeout, retries=int(retries),
        backoff=backoff, xslt=xslt, ca_bundle=ca_bundle,
        user_setting=names["NX_SHAREPOINT_USER"],
        password_setting=names["NX_SHAREPOINT_PASSWORD"])
