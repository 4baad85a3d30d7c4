"""When a dataset was acquired: the file's absolute clock, its wall clock, or the file's mtime.

Every extractor stamps ``Creation Time`` through :func:`stamp`, choosing in this order:

1. ``ABSOLUTE``: an instant the file states unambiguously (a Windows FILETIME in a DM
   ``DataBar``, TIA's epoch seconds, Velox's epoch, an ISO time with an offset). It is
   shown in the instrument's timezone but is the same instant whatever that zone is.
2. ``WALL_CLOCK``: a date and time of day the acquisition PC wrote without a zone,
   read in the instrument's timezone *at that date* (a ``ZoneInfo``), so a June time in
   New York is -04:00 and a January one -05:00.
3. ``MTIME``: the file's modification time, with a warning (copying a file changes it).

The TIFF extractors use the same helpers (JEOL/Zeiss XML times with an offset are
``ABSOLUTE``; FEI ``[User] Date/Time`` are ``WALL_CLOCK``).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._common import parse_date, parse_time_of_day

ABSOLUTE = "file absolute clock"
WALL_CLOCK = "file wall clock + timezone"
MTIME = "modification time"
SOURCE_KEY = "Creation Time Source"
"""The nx_meta key that says which of the three a dataset's ``Creation Time`` is."""

MTIME_WARNING = ("no acquisition date/time in the file; Creation Time is the file's "
                 "modification time")

_FILETIME_EPOCH = dt.datetime(1601, 1, 1, tzinfo=dt.UTC)
# A file's absolute and wall clocks of one acquisition differ by the zone offset only.
_MAX_ZONE_GAP = dt.timedelta(hours=14, minutes=1)


@dataclass(frozen=True)
class AcquisitionTime:
    """An acquisition instant, how it was known, and the file key it came from."""

    when: dt.datetime
    """Timezone-aware."""
    source: str
    """:data:`ABSOLUTE`, :data:`WALL_CLOCK` or :data:`MTIME`."""
    key: str
    """Where in the file (or ``filesystem:mtime``)."""
    own_offset: bool = False
    """The file wrote its own UTC offset: show the time with it, as written."""


def from_filetime(value: Any, key: str) -> AcquisitionTime | None:
    """A Windows FILETIME (100 ns ticks since 1601-01-01 UTC); None if not plausible."""
    try:
        ticks = float(value)
    except (TypeError, ValueError):
        return None
    # 1980..2100: anything else is not a FILETIME (or a corrupt one).
    if not 1.19e17 < ticks < 1.58e17:
        return None
    return AcquisitionTime(_FILETIME_EPOCH + dt.timedelta(microseconds=ticks / 10),
                           ABSOLUTE, key)


def from_epoch(value: Any, key: str) -> AcquisitionTime | None:
    """POSIX seconds (UTC); None for zero, negative or non-numbers."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    if not seconds > 0:
        return None
    return AcquisitionTime(dt.datetime.fromtimestamp(seconds, dt.UTC), ABSOLUTE, key)


def from_iso(text: Any, key: str, tz: dt.tzinfo) -> AcquisitionTime | None:
    """An ISO 8601 time: ABSOLUTE when it carries an offset, else WALL_CLOCK in ``tz``."""
    try:
        when = dt.datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is not None:
        return AcquisitionTime(when, ABSOLUTE, key, own_offset=True)
    return AcquisitionTime(when.replace(tzinfo=tz), WALL_CLOCK, key)


def from_wall_clock(date: Any, time: Any, tz: dt.tzinfo, key: str) -> AcquisitionTime | None:
    """A date and a time of day as the PC wrote them; an explicit offset makes it ABSOLUTE."""
    if not date or not time:
        return None
    day = parse_date(str(date))
    if day is None:
        return None
    text = str(time).strip()
    offset = _offset_suffix(text)
    if offset is not None:
        text = text[: -offset[1]].strip()
    clock = parse_time_of_day(text)
    if clock is None:
        return None
    if offset is not None:
        return AcquisitionTime(dt.datetime.combine(day, clock, offset[0]), ABSOLUTE, key,
                               own_offset=True)
    # ZoneInfo gives the offset in force on that date (fold=0 for the repeated hour).
    return AcquisitionTime(dt.datetime.combine(day, clock, tz), WALL_CLOCK, key)


def _offset_suffix(text: str) -> tuple[dt.tzinfo, int] | None:
    """(offset, length of the suffix) of ``…Z`` or ``…+02:00``/``…-0500``, else None."""
    if text.endswith("Z") and ":" in text:
        return dt.UTC, 1
    for length in (6, 5):
        tail = text[-length:]
        if len(text) > length and tail[0] in "+-" and ":" in text[:-length]:
            digits = tail[1:].replace(":", "")
            if len(digits) == 4 and digits.isdigit():
                delta = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
                return dt.timezone(delta if tail[0] == "+" else -delta), length
    return None


def from_mtime(path: Path) -> AcquisitionTime:
    """The file's modification time (the last resort)."""
    return AcquisitionTime(dt.datetime.fromtimestamp(os.stat(path).st_mtime, dt.UTC), MTIME,
                           "filesystem:mtime")


def agrees(absolute: AcquisitionTime, wall: AcquisitionTime | None) -> bool:
    """Whether an absolute time can be the same acquisition as a wall-clock one."""
    if wall is None:
        return True
    naive_wall = wall.when.replace(tzinfo=None)
    naive_abs = absolute.when.astimezone(dt.UTC).replace(tzinfo=None)
    return abs(naive_wall - naive_abs) <= _MAX_ZONE_GAP


def best(*candidates: AcquisitionTime | None) -> AcquisitionTime | None:
    """The first absolute candidate, else the first wall-clock one, else None."""
    for source in (ABSOLUTE, WALL_CLOCK):
        for candidate in candidates:
            if candidate is not None and candidate.source == source:
                return candidate
    return None


def stamp(meta: Any, found: AcquisitionTime | None, path: Path, tz: dt.tzinfo,
          unreliable: set[str], warnings: list[str]) -> AcquisitionTime:
    """Set ``Creation Time`` and ``Creation Time Source`` on ``meta``.

    The time is shown in ``tz`` unless the file wrote its own offset.

    Falls back to the modification time (marked unreliable, with a warning) when the
    file states no time. ``meta`` records the file key as the value's source when it is
    a :class:`~nexuslims.extractors.fields.Meta`.
    """
    if found is None:
        found = from_mtime(path)
        unreliable.add("Creation Time")
        if MTIME_WARNING not in warnings:
            warnings.append(MTIME_WARNING)
    else:
        unreliable.discard("Creation Time")
    shown = found.when if found.own_offset else found.when.astimezone(tz)
    meta["Creation Time"] = shown.isoformat()
    meta[SOURCE_KEY] = found.source
    sources = getattr(meta, "sources", None)
    if sources is not None:
        sources["Creation Time"] = found.key
    return found


def local_zone() -> dt.tzinfo:
    """This machine's timezone as a ZoneInfo (DST-aware), not today's fixed offset.

    ``TZ`` wins (as for the C library); then the zone ``/etc/localtime`` links to, then
    ``/etc/timezone``; UTC if none names a zone. Always a *named* ZoneInfo, so it can
    be sent to extraction worker processes.
    """
    from zoneinfo import ZoneInfo

    candidates = [os.environ.get("TZ", "").lstrip(":")]
    link = os.path.realpath("/etc/localtime")
    if "zoneinfo/" in link:
        candidates.append(link.split("zoneinfo/", 1)[1])
    try:
        with open("/etc/timezone", encoding="utf-8") as handle:
            candidates.append(handle.read().strip())
    except OSError:
        pass
    for name in candidates:
        if name:
            try:
                return ZoneInfo(name)
            except (ValueError, OSError, KeyError):
                continue
    return dt.UTC
