"""SharePoint calendars: the NexusLIMS 1.x source of reservations.

Instruments whose ``harvester`` is ``sharepoint`` have their ``api_url`` set to a
calendar list's OData feed, ``<site>/_vti_bin/ListData.svc/<list>``. For each session
the harvester asks that feed, with NTLM, for the entries within a day of the session,
maps them to reservations with an XSLT stylesheet and takes the one overlapping the
session most. Sessions still come from the session log: SharePoint discovers none.

- :mod:`.settings`: ``NX_SHAREPOINT_*`` settings;
- :mod:`.client`: HTTP (NTLM, timeouts, retries, errors naming the URL);
- :mod:`.zones`: the server's time zone from ``_api/web/RegionalSettings/TimeZone``;
- :mod:`.feed`: the stylesheet, calendar entries, choosing one, the Reservation;
- :mod:`.harvester`: the :class:`SharePointHarvester` joining them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from nexuslims.errors import ConfigError
from nexuslims.reservations.sharepoint.settings import SharePointSettings, read_settings

if TYPE_CHECKING:
    from nexuslims.config import Settings
    from nexuslims.reservations.sharepoint.harvester import SharePointHarvester

__all__ = ["SharePointHarvester", "SharePointSettings", "from_settings"]


def from_settings(settings: Settings) -> SharePointHarvester | None:
    """The SharePoint harvester for this pass, or None when no account is configured.

    Raises
    ------
    ConfigError
        When SharePoint settings are present but wrong (e.g. a user without a password,
        an unknown ``NX_SHAREPOINT_TZ``, an unusable ``NX_SHAREPOINT_XSLT``).
    """
    sp_settings = read_settings(settings.env)
    if sp_settings is None:
        return None
    # Imported here: the harvester and requests only when SharePoint is used.
    from nexuslims.reservations.sharepoint.feed import load_stylesheet
    from nexuslims.reservations.sharepoint.harvester import SharePointHarvester

    try:
        stylesheet = load_stylesheet(sp_settings.xslt)
    except (ValueError, FileNotFoundError) as exc:
        name = "NX_SHAREPOINT_XSLT" if sp_settings.xslt else "the shipped stylesheet"
        raise ConfigError([f"{name}: {exc}"]) from None
    return SharePointHarvester(sp_settings, stylesheet)


def __getattr__(name: str) -> Any:
    # The harvester (and requests, under its client) only when SharePoint is used:
    # every pass asks this module whether it is configured (build_harvesters).
    if name == "SharePointHarvester":
        module = importlib.import_module("nexuslims.reservations.sharepoint.harvester")
        return module.SharePointHarvester
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
