"""Calendar feed -> calendar entries -> the reservation of a session.

The mapping from a calendar list's Atom feed to reservations is an XSLT 1.0 stylesheet
(``xslt/sharepoint-reservation.xsl``; a site may use its own through
``NX_SHAREPOINT_XSLT``), so sites whose calendars have other columns adapt it without
touching Python. It turns each ``entry`` into a small neutral ``<reservation>``
(documented in the stylesheet), which :func:`read_entries` reads into
:class:`CalendarEntry` objects; :func:`best_entry` picks the one overlapping the session
most and :func:`to_reservation` makes it the :class:`~nexuslims.reservations.Reservation`.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import uuid
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from lxml import etree

from nexuslims.reservations import Project, Reservation, Sample

logger = logging.getLogger(__name__)

STYLESHEET = "sharepoint-reservation.xsl"
ATOM = "http://www.w3.org/2005/Atom"

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
_NO_ACCESS = etree.XSLTAccessControl.DENY_ALL


@dataclass(frozen=True)
class CalendarEntry:
    """One calendar item, as the stylesheet mapped it, with aware start and end."""

    id: str
    title: str
    start: dt.datetime
    end: dt.datetime
    updated: str | None = None
    experimenters: list[tuple[str, str]] = field(default_factory=list)
    """(full name, username) pairs, either part possibly empty."""
    motivation: str | None = None
    sample: Sample | None = None
    project: Project | None = None
    category: str | None = None
    url: str | None = None

    def overlap(self, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
        """How long this entry and ``start``-``end`` share (zero when apart)."""
        return max(min(self.end, end) - max(self.start, start), dt.timedelta(0))


def stylesheet_path() -> Path:
    """Where the shipped stylesheet is: in the installed package, else the source tree.

    Raises
    ------
    FileNotFoundError
        When neither exists (a broken install: reinstall nexuslims).
    """
    packaged = resources.files("nexuslims").joinpath("_xslt", STYLESHEET)
    if packaged.is_file():
        return Path(str(packaged))
    in_repo = Path(__file__).resolve().parents[3] / "xslt" / STYLESHEET
    if in_repo.is_file():
        return in_repo
    raise FileNotFoundError(f"the stylesheet {STYLESHEET} is neither in the installed package "
                            f"({packaged}) nor in a source checkout ({in_repo}); "
                            "reinstall nexuslims")


def load_stylesheet(path: Path | None = None) -> etree.XSLT:
    """Compile a feed-to-reservation stylesheet (the shipped one when ``path`` is None).

    Raises
    ------
    ValueError
        When the file is not a readable XSLT 1.0 stylesheet.
    """
    path = path or stylesheet_path()
    try:
        return etree.XSLT(etree.parse(str(path), _PARSER), access_control=_NO_ACCESS)
    except (OSError, etree.XMLSyntaxError, etree.XSLTParseError) as exc:
        raise ValueError(f"{path} is not a usable XSLT stylesheet: {exc}") from None


def read_entries(feed: bytes, stylesheet: etree.XSLT, tz: dt.tzinfo,
                 params: dict[str, str] | None = None) -> list[CalendarEntry]:
    """The calendar entries of an Atom feed (or of a single Atom entry).

    Entries without a readable start and end are left out with a warning.

    Parameters
    ----------
    feed
        The answer of ``ListData.svc``.
    stylesheet
        From :func:`load_stylesheet`.
    tz
        The server's time zone: feed datetimes without an offset are wall-clock there.
    params
        String parameters for the stylesheet (``calendar_url``, ``api_url``, ``instrument``).

    Raises
    ------
    ValueError
        When ``feed`` is not XML, not Atom, or the stylesheet fails on it.
    """
    try:
        doc = etree.fromstring(feed, _PARSER).getroottree()
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"not XML ({exc}); it starts {_start(feed)}") from None
    if doc.getroot().tag not in (f"{{{ATOM}}}feed", f"{{{ATOM}}}entry"):
        raise ValueError(f"not an Atom feed (root element {doc.getroot().tag})")
    quoted = {k: etree.XSLT.strparam(v) for k, v in (params or {}).items()}
    try:
        result = stylesheet(doc, **quoted)
    except etree.XSLTApplyError as exc:
        raise ValueError(f"the feed-to-reservation stylesheet failed: {exc}") from None
    root = result.getroot()
    if root is None:
        raise ValueError("the feed-to-reservation stylesheet produced nothing")
    entries = []
    for item in root.iter("reservation"):
        try:
            entries.append(_entry(item, tz))
        except ValueError as exc:
            logger.warning("calendar entry %s left out: %s", _text(item, "id") or "?", exc)
    return entries


def best_entry(entries: list[CalendarEntry], start: dt.datetime,
               end: dt.datetime) -> CalendarEntry | None:
    """The entry sharing the most time with the session; ties go to the latest edit."""
    overlapping = [e for e in entries if e.overlap(start, end) > dt.timedelta(0)]
    if not overlapping:
        return None
    return max(overlapping, key=lambda e: (e.overlap(start, end), e.updated or "", e.id))


def to_reservation(entry: CalendarEntry, fallback_title: str, tz: dt.tzinfo) -> Reservation:
    """The reservation a record's title, summary, sample and project come from.

    Its times are in ``tz``, the instrument's zone, as records show them.
    """
    people = []
    for name, username in entry.experimenters:
        person = f"{name} ({username})" if name and username and name != username \
            else name or username
        if person and person not in people:
            people.append(person)
    return Reservation(
        title=entry.title or fallback_title,
        start=entry.start.astimezone(tz),
        end=entry.end.astimezone(tz),
        experimenters=people,
        motivation=entry.motivation,
        samples=[entry.sample] if entry.sample else [],
        projects=[entry.project] if entry.project else [],
        url=entry.url,
    )


def _entry(item: etree._Element, tz: dt.tzinfo) -> CalendarEntry:
    ident = _text(item, "id") or ""
    url = _text(item, "url")
    sample = None
    element = item.find("sample")
    if element is not None:
        sample_id = (element.get("id") or "").strip() or _stable_id(url or ident)
        elements = tuple(s for s in re.split(r"[\s,;]+", _text(element, "elements") or "") if s)
        sample = Sample(id=sample_id, name=_text(element, "name"),
                        description=_text(element, "description"), elements=elements)
        if not (sample.name or sample.description or sample.elements):
            sample = None
    project = None
    element = item.find("project")
    if element is not None:
        project = Project(name=_text(element, "name"),
                          project_id=_text(element, "project_id"), ref=_text(element, "ref"))
        if not (project.name or project.project_id or project.ref):
            project = None
    start = _datetime(_text(item, "start"), tz, "start")
    end = _datetime(_text(item, "end"), tz, "end")
    if end < start:
        raise ValueError(f"it ends ({end.isoformat()}) before it starts ({start.isoformat()})")
    return CalendarEntry(
        id=ident, title=_text(item, "title") or "", start=start, end=end,
        updated=_text(item, "updated"),
        experimenters=[(_text(p, "name") or "", _text(p, "username") or "")
                       for p in item.iter("experimenter")],
        motivation=_text(item, "motivation"), sample=sample, project=project,
        category=_text(item, "category"), url=url)


def _datetime(value: str | None, tz: dt.tzinfo, what: str) -> dt.datetime:
    """An OData ``Edm.DateTime``: wall clock in ``tz`` unless it carries an offset."""
    if not value:
        raise ValueError(f"no {what} time")
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"unreadable {what} time {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)  # fold=0: the first of a repeated hour
    return parsed.astimezone(dt.UTC)


def _stable_id(key: str) -> str:
    """The same sample id every time the same reservation is built."""
    return f"sharepoint-{uuid.uuid5(uuid.NAMESPACE_URL, key)}"


def _text(element: etree._Element, tag: str) -> str | None:
    found = element.find(tag)
    if found is None:
        return None
    text = " ".join("".join(found.itertext()).split())
    return text or None


def _start(body: bytes) -> str:
    head = body[:60].decode("utf-8", "replace")
    return repr(" ".join(head.split()))
