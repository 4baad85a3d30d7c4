"""The SharePoint server's time zone, from ``_api/web/RegionalSettings/TimeZone``.

Feed datetimes are wall-clock times in the site's time zone. SharePoint describes that
zone the Windows way, e.g.::

    <d:Description>(UTC-05:00) Eastern Time (US and Canada)</d:Description>
    <d:Information><d:Bias>300</d:Bias><d:DaylightBias>-60</d:DaylightBias>
                   <d:StandardBias>0</d:StandardBias></d:Information>

(Atom XML by default; JSON ``{"d": {...}}`` or bare with ``Accept: application/json``).
``Bias`` is minutes *behind* UTC. The description's place names map to an IANA zone
with daylight-saving rules; a description we do not know falls back to the fixed
offset ``-(Bias + StandardBias)``, which is exact only for zones without daylight
saving time, so a warning tells to set ``NX_SHAREPOINT_TZ``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from lxml import etree

logger = logging.getLogger(__name__)

D = "http://schemas.microsoft.com/ado/2007/08/dataservices"

# SharePoint's zone descriptions (place names after "(UTC+hh:mm) ") -> IANA names.
WINDOWS_ZONES = {
    "coordinated universal time": "UTC",
    "dublin, edinburgh, lisbon, london": "Europe/London",
    "amsterdam, berlin, bern, rome, stockholm, vienna": "Europe/Berlin",
    "belgrade, bratislava, budapest, ljubljana, prague": "Europe/Budapest",
    "brussels, copenhagen, madrid, paris": "Europe/Paris",
    "sarajevo, skopje, warsaw, zagreb": "Europe/Warsaw",
    "athens, bucharest": "Europe/Bucharest",
    "athens, bucharest, istanbul": "Europe/Bucharest",
    "helsinki, kyiv, riga, sofia, tallinn, vilnius": "Europe/Helsinki",
    "helsinki, kiev, riga, sofia, tallinn, vilnius": "Europe/Helsinki",
    "jerusalem": "Asia/Jerusalem",
    "moscow, st. petersburg": "Europe/Moscow",
    "moscow, st. petersburg, volgograd": "Europe/Moscow",
    "chennai, kolkata, mumbai, new delhi": "Asia/Kolkata",
    "beijing, chongqing, hong kong, urumqi": "Asia/Shanghai",
    "kuala lumpur, singapore": "Asia/Singapore",
    "taipei": "Asia/Taipei",
    "osaka, sapporo, tokyo": "Asia/Tokyo",
    "seoul": "Asia/Seoul",
    "perth": "Australia/Perth",
    "adelaide": "Australia/Adelaide",
    "brisbane": "Australia/Brisbane",
    "canberra, melbourne, sydney": "Australia/Sydney",
    "auckland, wellington": "Pacific/Auckland",
    "brasilia": "America/Sao_Paulo",
    "newfoundland": "America/St_Johns",
    "atlantic time (canada)": "America/Halifax",
    "eastern time (us and canada)": "America/New_York",
    "eastern time (us & canada)": "America/New_York",
    "indiana (east)": "America/Indiana/Indianapolis",
    "central time (us and canada)": "America/Chicago",
    "central time (us & canada)": "America/Chicago",
    "saskatchewan": "America/Regina",
    "guadalajara, mexico city, monterrey": "America/Mexico_City",
    "mountain time (us and canada)": "America/Denver",
    "mountain time (us & canada)": "America/Denver",
    "arizona": "America/Phoenix",
    "pacific time (us and canada)": "America/Los_Angeles",
    "pacific time (us & canada)": "America/Los_Angeles",
    "alaska": "America/Anchorage",
    "hawaii": "Pacific/Honolulu",
}

_PREFIX = re.compile(r"^\s*\((?:UTC|GMT)[^)]*\)\s*")


@dataclass(frozen=True)
class ServerZone:
    """What the server said about its time zone, and the zone nexuslims uses for it."""

    description: str
    bias: int | None
    tzinfo: dt.tzinfo
    exact: bool
    """False when only a fixed offset could be derived (daylight saving unknown)."""


def parse_timezone(body: bytes) -> ServerZone:
    """Read a ``RegionalSettings/TimeZone`` answer (XML or JSON).

    Raises
    ------
    ValueError
        When the answer has neither a usable description nor a bias.
    """
    text = body.lstrip()
    if text.startswith(b"{"):
        data = json.loads(text)
        data = data.get("d", data) if isinstance(data, dict) else {}
        info = data.get("Information") or {}
        description = str(data.get("Description") or "")
        biases = [info.get(k) for k in ("Bias", "StandardBias", "DaylightBias")]
    else:
        root = etree.fromstring(text, etree.XMLParser(resolve_entities=False, no_network=True))
        description = root.findtext(f".//{{{D}}}Description") or ""
        biases = [root.findtext(f".//{{{D}}}Information/{{{D}}}{k}")
                  for k in ("Bias", "StandardBias", "DaylightBias")]
    bias, standard, daylight = (_int(b) for b in biases)

    name = WINDOWS_ZONES.get(_PREFIX.sub("", description).strip().lower())
    if name is not None:
        return ServerZone(description, bias, ZoneInfo(name), exact=True)
    if bias is None:
        raise ValueError(f"time zone answer names no known zone ({description!r}) and no Bias")
    minutes = -(bias + (standard or 0))
    fixed = dt.timezone(dt.timedelta(minutes=minutes))
    return ServerZone(description, bias, fixed, exact=not daylight)


def _int(value: object) -> int | None:
    try:
        return int(str(value).strip()) if value is not None else None
    except ValueError:
        return None
