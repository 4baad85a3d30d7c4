"""The SharePoint harvester: the reservation of a session from its instrument's calendar."""

from __future__ import annotations

import datetime as dt
import logging
import re
from urllib.parse import quote

from lxml import etree

from nexuslims.errors import HarvesterError, shown_url
from nexuslims.model.session import Session
from nexuslims.reservations import NoReservation, ReservationAnswer
from nexuslims.reservations.sharepoint.client import SharePointClient
from nexuslims.reservations.sharepoint.feed import best_entry, read_entries, to_reservation
from nexuslims.reservations.sharepoint.settings import SharePointSettings
from nexuslims.reservations.sharepoint.zones import ServerZone, parse_timezone

logger = logging.getLogger(__name__)

FEED_ACCEPT = "application/atom+xml, application/xml;q=0.9"
TZ_ACCEPT = "application/atom+xml, application/xml;q=0.9, application/json;q=0.8"
TZ_PATH = "/_api/web/RegionalSettings/TimeZone"
WINDOW = dt.timedelta(days=1)
"""How far around the session the feed is asked for entries."""


class SharePointHarvester:
    """Finds a session's reservation in a SharePoint calendar list (NexusLIMS 1.x style).

    Built once per pass: the server time zones it learns and the servers it found down
    are remembered for that pass only.
    """

    name = "sharepoint"

    def __init__(self, settings: SharePointSettings, stylesheet: etree.XSLT,
                 client: SharePointClient | None = None):
        self.settings = settings
        self.stylesheet = stylesheet
        self.client = client or SharePointClient(settings)
        self._zones: dict[str, ServerZone] = {}

    def reservation_for(self, session: Session) -> ReservationAnswer:
        """The calendar entry overlapping ``session`` most, as a reservation.

        Raises
        ------
        HarvesterError
            When the calendar cannot be asked or answers something unreadable.
        """
        instrument = session.instrument
        api_url = (instrument.api_url or "").strip()
        if not api_url:
            raise HarvesterError(
                f"instrument {instrument.pid} uses the SharePoint calendar but has no api_url: "
                "set it to the calendar list's URL, <site>/_vti_bin/ListData.svc/<list>")
        tz = self.server_timezone(api_url)
        url = feed_url(api_url, session.start - WINDOW, session.end + WINDOW, tz)
        shown = shown_url(api_url)
        response = self.client.get(url, FEED_ACCEPT)
        params = {"calendar_url": instrument.calendar_url or "", "api_url": api_url,
                  "instrument": instrument.pid}
        try:
            entries = read_entries(response.content, self.stylesheet, tz, params)
        except ValueError as exc:
            raise HarvesterError(f"SharePoint at {shown} answered with an unreadable calendar "
                                 f"feed: {exc}") from None
        entry = best_entry(entries, session.start, session.end)
        if entry is None:
            return NoReservation(f"no reservation on the SharePoint calendar {shown} overlaps "
                                 f"the session ({len(entries)} within a day of it)")
        logger.info("session %s: SharePoint reservation %s (%s), %s to %s", session.identifier,
                    entry.id, entry.url or shown, entry.start.isoformat(), entry.end.isoformat())
        local = session.start.astimezone(instrument.tzinfo)
        return to_reservation(entry, f"{instrument.display_name} session on {local:%Y-%m-%d}",
                              instrument.tzinfo)

    def server_timezone(self, api_url: str) -> dt.tzinfo:
        """The zone the feed's wall-clock times are in: configured, else asked once."""
        if self.settings.timezone is not None:
            return self.settings.timezone
        root = site_root(api_url)
        if root is None:
            raise HarvesterError(
                f"cannot tell the SharePoint site of {shown_url(api_url)} (no /_vti_bin/ in "
                "it) to ask its time zone: set NX_SHAREPOINT_TZ")
        if root not in self._zones:
            url = root + TZ_PATH
            response = self.client.get(url, TZ_ACCEPT)
            try:
                zone = parse_timezone(response.content)
            except (ValueError, etree.XMLSyntaxError, AttributeError) as exc:
                raise HarvesterError(
                    f"SharePoint at {shown_url(url)} answered with an unreadable time zone "
                    f"({exc}): set NX_SHAREPOINT_TZ") from None
            if zone.exact:
                logger.info("SharePoint at %s: time zone %r, read as %s", shown_url(root),
                            zone.description, zone.tzinfo)
            else:
                logger.warning("SharePoint at %s: time zone %r is not one nexuslims knows; "
                               "using the fixed offset %s, which is wrong in daylight saving "
                               "time: set NX_SHAREPOINT_TZ", shown_url(root), zone.description,
                               zone.tzinfo)
            self._zones[root] = zone
        return self._zones[root].tzinfo


def site_root(api_url: str) -> str | None:
    """The site a ``.../_vti_bin/ListData.svc/<list>`` URL belongs to, or None."""
    parts = re.split(r"/_vti_bin/", api_url.split("?", 1)[0], maxsplit=1, flags=re.I)
    return parts[0].rstrip("/") if len(parts) == 2 else None


def feed_url(api_url: str, start: dt.datetime, end: dt.datetime, tz: dt.tzinfo) -> str:
    """The calendar feed asked for entries overlapping ``start``-``end``.

    ``$filter`` compares with OData v2 ``datetime'...'`` literals, which SharePoint reads
    as wall-clock time in the site's zone ``tz``; the users who booked come expanded.
    """
    since = start.astimezone(tz).strftime("%Y-%m-%dT%H:%M:%S")
    until = end.astimezone(tz).strftime("%Y-%m-%dT%H:%M:%S")
    condition = f"StartTime le datetime'{until}' and EndTime ge datetime'{since}'"
    query = f"$expand=CreatedBy,UserName&$filter={quote(condition, safe=':,')}"
    return f"{api_url}{'&' if '?' in api_url else '?'}{query}"
