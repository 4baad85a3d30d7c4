"""NEMO settings: which servers to ask, how patiently, and how to read their times.

Servers are numbered: ``NX_NEMO_ADDRESS_<N>`` with ``NX_NEMO_TOKEN_<N>`` and the optional
``NX_NEMO_TZ_<N>``, ``NX_NEMO_STRFTIME_FMT_<N>``, ``NX_NEMO_STRPTIME_FMT_<N>``. The
NexusLIMS 1.x names (``NEMO_address_<N>``...) are accepted with a deprecation warning.
Tokens are kept out of every ``repr``, message and log line.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from nexuslims.config import number_setting
from nexuslims.errors import ConfigError

logger = logging.getLogger(__name__)

#: Per-server settings: our suffix -> NexusLIMS 1.x prefix.
_PER_SERVER = {
    "ADDRESS": "NEMO_address_",
    "TOKEN": "NEMO_token_",
    "TZ": "NEMO_tz_",
    "STRFTIME_FMT": "NEMO_strftime_fmt_",
    "STRPTIME_FMT": "NEMO_strptime_fmt_",
}
_NUMBERED = re.compile(r"^(?:NX_NEMO_(ADDRESS|TOKEN|TZ|STRFTIME_FMT|STRPTIME_FMT)_|"
                       r"NEMO_(address|token|tz|strftime_fmt|strptime_fmt)_)(\w+)$")

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_RETRIES = 3
DEFAULT_BACKOFF_S = 1.0
DEFAULT_FIRST_HARVEST_DAYS = 7.0
DEFAULT_OVERLAP_HOURS = 48.0


@dataclass(frozen=True)
class NemoServer:
    """One NEMO server: its API root, token and how its times are written."""

    number: str
    """The ``<N>`` of its settings, used in messages ("check NX_NEMO_TOKEN_<N>")."""
    address: str
    """The API root, ending in ``/api/``."""
    token: str = field(repr=False)
    timezone: dt.tzinfo | None = None
    """When set, replaces the zone of the wall-clock times NEMO returns."""
    strftime_fmt: str | None = None
    """Format of times sent in queries (default: ISO 8601 with offset)."""
    strptime_fmt: str | None = None
    """Format of times NEMO returns (default: ISO 8601, offset optional)."""

    @property
    def root(self) -> str:
        """The web root (the address without ``api/``), for links people can open."""
        return self.address[: -len("api/")]

    def setting(self, name: str) -> str:
        """The name of one of this server's settings, e.g. ``NX_NEMO_TOKEN_1``."""
        return f"NX_NEMO_{name}_{self.number}"

    def owns(self, api_url: str | None) -> bool:
        """Whether an instrument's ``api_url`` points into this server."""
        return bool(api_url and api_url.strip().startswith(self.address))

    def parse_time(self, value: str) -> dt.datetime:
        """A time NEMO returned, as an aware datetime.

        Raises
        ------
        ValueError
            ``value`` is not a time in the expected format.
        """
        if self.strptime_fmt:
            parsed = dt.datetime.strptime(value, self.strptime_fmt)
        else:
            parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        if self.timezone is not None:
            return replace_zone(parsed, self.timezone)
        if parsed.utcoffset() is None:
            raise ValueError(f"{value!r} has no UTC offset: set {self.setting('TZ')} to the "
                             "server's timezone")
        return parsed

    def format_time(self, value: dt.datetime) -> str:
        """An aware time as this server's query parameters expect it."""
        local = value.astimezone(self.timezone or dt.UTC)
        if self.strftime_fmt:
            return local.strftime(self.strftime_fmt)
        return local.isoformat()


def replace_zone(value: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """``value``'s wall-clock time in ``tz``.

    In the hour repeated when DST ends, the offset ``value`` carried (if any) picks the
    occurrence it meant.
    """
    naive = value.replace(tzinfo=None)
    first, second = naive.replace(tzinfo=tz, fold=0), naive.replace(tzinfo=tz, fold=1)
    if value.utcoffset() is not None and second.utcoffset() == value.utcoffset():
        return second
    return first


def tool_id(api_url: str | None) -> int | None:
    """The tool id in an instrument's ``api_url`` (``<address>tools/?id=<id>``)."""
    if not api_url:
        return None
    values = parse_qs(urlsplit(api_url.strip()).query).get("id", [])
    try:
        return int(values[0]) if values else None
    except ValueError:
        return None


@dataclass(frozen=True)
class NemoSettings:
    """Every NEMO server, and how the harvester treats them."""

    servers: tuple[NemoServer, ...]
    timeout: float = DEFAULT_TIMEOUT_S
    """Seconds to wait for each request (connect and each read)."""
    retries: int = DEFAULT_RETRIES
    """Further attempts after a connection error, timeout or HTTP 5xx."""
    backoff: float = DEFAULT_BACKOFF_S
    """Seconds before the first retry; doubled before each next one."""
    first_harvest: dt.timedelta = dt.timedelta(days=DEFAULT_FIRST_HARVEST_DAYS)
    """How far back the first harvest of a server looks."""
    overlap: dt.timedelta = dt.timedelta(hours=DEFAULT_OVERLAP_HOURS)
    """How far before the last harvest each harvest starts again, so events written
    late or edited after harvesting are still seen."""

    def server_for(self, api_url: str | None) -> NemoServer | None:
        """The server an instrument belongs to (longest matching address)."""
        owners = [s for s in self.servers if s.owns(api_url)]
        return max(owners, key=lambda s: len(s.address)) if owners else None


def parse_settings(env: Mapping[str, str]) -> NemoSettings | None:
    """The NEMO settings in ``env``, or None when no NEMO server is configured.

    Raises
    ------
    ConfigError
        Naming every problem: an address without token (or the reverse), an address
        that does not end in ``/api/``, an unknown timezone, a bad number.
    """
    values: dict[str, dict[str, str]] = {}
    legacy_used: list[str] = []
    problems: list[str] = []
    for name, raw in env.items():
        match = _NUMBERED.match(name)
        if not match or raw is None or raw.strip() == "":
            continue
        key = (match.group(1) or match.group(2)).upper()
        number = match.group(3)
        per_server = values.setdefault(number, {})
        if match.group(2):
            legacy_used.append(name)
            per_server.setdefault(key, raw.strip())
        else:
            per_server[key] = raw.strip()
    for name in sorted(legacy_used):
        key = _NUMBERED.match(name).group(2).upper()  # type: ignore[union-attr]
        logger.warning("%s is a NexusLIMS 1.x setting name; rename it to NX_NEMO_%s_%s",
                       name, key, name[len(_PER_SERVER[key]):])

    servers: list[NemoServer] = []
    for number in sorted(values, key=lambda n: (len(n), n)):
        got = values[number]
        address, token = got.get("ADDRESS"), got.get("TOKEN")
        if address is None:
            problems.append(f"NX_NEMO_TOKEN_{number} (or another NX_NEMO_*_{number}) is set "
                            f"but NX_NEMO_ADDRESS_{number} is not: it expects the server's "
                            "API root, e.g. https://nemo.example.org/api/")
            continue
        if not re.match(r"^https?://[^/\s]+", address) or not address.endswith("/api/"):
            problems.append(f"NX_NEMO_ADDRESS_{number}={address}: expects the server's API "
                            "root, an http(s) URL ending in /api/ "
                            "(e.g. https://nemo.example.org/api/)")
        if token is None:
            problems.append(f"NX_NEMO_TOKEN_{number} is not set: NX_NEMO_ADDRESS_{number} "
                            "needs the API token of a NEMO superuser")
        tz: dt.tzinfo | None = None
        if got.get("TZ"):
            try:
                tz = ZoneInfo(got["TZ"])
            except (ZoneInfoNotFoundError, ValueError):
                problems.append(f"NX_NEMO_TZ_{number}={got['TZ']}: expects an IANA timezone "
                                "name such as America/New_York")
        for key in ("STRFTIME_FMT", "STRPTIME_FMT"):
            fmt = got.get(key)
            if fmt is not None and "%" not in fmt:
                problems.append(f"NX_NEMO_{key}_{number}={fmt}: expects a strftime-style "
                                "format such as %Y-%m-%dT%H:%M:%S%z")
        servers.append(NemoServer(number=number, address=address, token=token or "",
                                  timezone=tz, strftime_fmt=got.get("STRFTIME_FMT"),
                                  strptime_fmt=got.get("STRPTIME_FMT")))
    seen: dict[str, str] = {}
    for server in servers:
        if server.address in seen:
            problems.append(f"NX_NEMO_ADDRESS_{server.number} repeats "
                            f"NX_NEMO_ADDRESS_{seen[server.address]} ({server.address})")
        seen.setdefault(server.address, server.number)

    timeout = number_setting(env, "NX_NEMO_TIMEOUT", DEFAULT_TIMEOUT_S, problems, minimum=0.001,
                      expects="a number of seconds > 0 (e.g. 30)")
    retries = number_setting(env, "NX_NEMO_RETRIES", DEFAULT_RETRIES, problems, minimum=0,
                      expects="a whole number >= 0 (e.g. 3)", whole=True)
    backoff = number_setting(env, "NX_NEMO_BACKOFF", DEFAULT_BACKOFF_S, problems, minimum=0,
                      expects="a number of seconds >= 0 (e.g. 1)")
    first = number_setting(env, "NX_NEMO_FIRST_HARVEST_DAYS", DEFAULT_FIRST_HARVEST_DAYS, problems,
                    minimum=0, expects="a number of days >= 0 (e.g. 7)")
    overlap = number_setting(env, "NX_NEMO_OVERLAP_HOURS", DEFAULT_OVERLAP_HOURS, problems,
                      minimum=0, expects="a number of hours >= 0 (e.g. 48)")
    if problems:
        raise ConfigError(problems)
    if not servers:
        return None
    return NemoSettings(servers=tuple(servers), timeout=timeout, retries=int(retries),
                        backoff=backoff, first_harvest=dt.timedelta(days=first),
                        overlap=dt.timedelta(hours=overlap))
