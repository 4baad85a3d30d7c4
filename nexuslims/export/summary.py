"""A built record read back for ELN destinations: the session, its activities and files.

:func:`read_summary` parses a record from the outbox (it never trusts it: a location
that climbs out of its root is dropped with a warning) and finds on disk what the
record names: each instrument file under ``NX_INSTRUMENT_DATA_PATH``, its preview and
JSON sidecar under ``NX_DATA_PATH``, each with size, sha256 and modification time.
:func:`html_summary` is the HTML text ELNs show for the session (the ``.eln``
package's ``text`` and the eLabFTW experiment's body): escaped, no scripts, no links
to anything but the files it describes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import mimetypes
import os
import posixpath
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from urllib.parse import unquote

from lxml import etree

from nexuslims.model.record import NAMESPACE

logger = logging.getLogger(__name__)

_NS = {"nx": NAMESPACE}
_MIME = mimetypes.MimeTypes()  # the built-in table: a package must not depend on /etc
SETTINGS_SHOWN = 8
"""How many of an activity's shared settings the HTML text shows."""


@dataclass(frozen=True)
class FileFact:
    """A file on disk a record names, as found when the record was read."""

    path: Path
    relative: str
    """Its path under its root, forward slashes, not quoted (``Scope/s1/a.dm3``)."""
    size: int
    sha256: str
    """Hex digest."""
    modified: dt.datetime
    media_type: str


@dataclass
class DatasetFacts:
    """One dataset of the record, with the files behind it (None: not found on disk)."""

    name: str
    location: str
    """As in the record (URL-quoted)."""
    dataset_type: str
    format: str | None
    file: FileFact | None
    preview: FileFact | None = None
    sidecar: FileFact | None = None


@dataclass
class ActivityFacts:
    """One acquisition activity: its number, start, shared settings and datasets."""

    seqno: int
    start: str | None
    settings: list[tuple[str, str]] = field(default_factory=list)
    datasets: list[DatasetFacts] = field(default_factory=list)

    @property
    def end(self) -> str | None:
        """When its last file was written (ISO 8601, UTC), else its start."""
        times = [d.file.modified for d in self.datasets if d.file]
        return iso(max(times)) if times else self.start


@dataclass
class RecordSummary:
    """What ELN destinations say about one session's record."""

    session_identifier: str
    name: str
    """The record's name (its file name without ``.xml``)."""
    title: str
    instrument: str | None
    instrument_pid: str | None
    experimenters: list[str]
    start: str | None
    end: str | None
    motivation: str | None
    activities: list[ActivityFacts]
    missing: list[str] = field(default_factory=list)
    """Locations the record names that are not on disk (or not allowed)."""

    @property
    def files(self) -> list[tuple[ActivityFacts, DatasetFacts]]:
        """Each instrument file once (several datasets may come from one file)."""
        seen: set[str] = set()
        out = []
        for activity in self.activities:
            for ds in activity.datasets:
                if ds.file is not None and ds.location not in seen:
                    seen.add(ds.location)
                    out.append((activity, ds))
        return out

    @property
    def locations(self) -> list[str]:
        """Every distinct dataset location the record names, in record order."""
        return list(dict.fromkeys(d.location for a in self.activities for d in a.datasets))


def read_summary(xml: bytes, *, session_identifier: str, name: str, data_root: Path,
                 derived_root: Path | None) -> RecordSummary:
    """The record's summary, with every file it names looked up on disk.

    Parameters
    ----------
    xml
        The record.
    data_root
        ``NX_INSTRUMENT_DATA_PATH``: where dataset locations are relative to.
    derived_root
        ``NX_DATA_PATH``: where previews and sidecars are; None: none looked up.

    Raises
    ------
    lxml.etree.XMLSyntaxError
        The record is not XML.
    OSError
        A file that exists could not be read.
    """
    root = etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True))
    summary = root.find("nx:summary", _NS)

    def text(element: etree._Element | None, path: str) -> str | None:
        if element is None:
            return None
        value = element.findtext(path, namespaces=_NS)
        return value.strip() if value and value.strip() else None

    instrument = summary.find("nx:instrument", _NS) if summary is not None else None
    missing: list[str] = []
    facts: dict[str, FileFact | None] = {}

    def lookup(root_dir: Path | None, quoted: str | None, suffix: str = "") -> FileFact | None:
        if root_dir is None or not quoted:
            return None
        key = f"{root_dir}\0{quoted}{suffix}"
        if key not in facts:
            facts[key] = file_fact(root_dir, unquote(quoted) + suffix)
        return facts[key]

    activities: list[ActivityFacts] = []
    for element in root.findall("nx:acquisitionActivity", _NS):
        activity = ActivityFacts(int(element.get("seqno", len(activities))),
                                 text(element, "nx:startTime"))
        for param in element.findall("nx:setup/nx:param", _NS):
            if param.get("name") and param.text:
                activity.settings.append((param.get("name", ""), param.text.strip()))
        for ds in element.findall("nx:dataset", _NS):
            location = text(ds, "nx:location") or ""
            raw = lookup(data_root, location)
            if raw is None and location not in missing:
                missing.append(location)
            activity.datasets.append(DatasetFacts(
                name=text(ds, "nx:name") or location, location=location,
                dataset_type=ds.get("type", "Unknown"), format=text(ds, "nx:format"),
                file=raw, preview=lookup(derived_root, text(ds, "nx:preview")),
                sidecar=lookup(derived_root, location, ".json") if location else None))
        activities.append(activity)
    return RecordSummary(
        session_identifier=session_identifier, name=name,
        title=text(root, "nx:title") or name,
        instrument=(instrument.text or "").strip() or None if instrument is not None else None,
        instrument_pid=instrument.get("pid") if instrument is not None else None,
        experimenters=[e.text.strip() for e in (summary.findall("nx:experimenter", _NS)
                                                if summary is not None else [])
                       if e.text and e.text.strip()],
        start=text(summary, "nx:reservationStart"), end=text(summary, "nx:reservationEnd"),
        motivation=text(summary, "nx:motivation"), activities=activities, missing=missing)


def safe_relative(relative: str) -> str | None:
    """``relative`` if it stays inside its root (no ``..``, not absolute), else None."""
    if not relative or "\0" in relative or relative.startswith(("/", "\\")):
        return None
    normal = posixpath.normpath(relative.replace("\\", "/"))
    if normal.startswith("../") or normal in ("..", ".") or Path(normal).is_absolute():
        return None
    return normal


def file_fact(root: Path, relative: str) -> FileFact | None:
    """Size, sha256, time and media type of ``root/relative``; None if absent or outside."""
    safe = safe_relative(relative)
    if safe is None:
        logger.warning("a record names %r, which is outside %s: left out", relative, root)
        return None
    path = root / safe
    try:
        if not path.resolve().is_relative_to(root.resolve()):
            logger.warning("%s leads outside %s (a link?): left out", path, root)
            return None
        with path.open("rb") as fh:
            stat = os.fstat(fh.fileno())
            digest = hashlib.file_digest(fh, "sha256").hexdigest()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None
    mime, _ = _MIME.guess_type(path.name, strict=False)
    return FileFact(path, safe, stat.st_size, digest,
                    dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC).replace(microsecond=0),
                    mime or "application/octet-stream")


def iso(when: dt.datetime) -> str:
    """``when`` as ISO 8601 in UTC, to the second (``2024-03-05T09:10:00+00:00``)."""
    return when.astimezone(dt.UTC).isoformat(timespec="seconds")


def html_summary(summary: RecordSummary) -> str:
    """The session as HTML: what, who, when, then each activity's settings and files."""
    e = escape
    out = [f"<h1>{e(summary.title)}</h1>", "<ul>"]
    if summary.instrument:
        out.append(f"<li><strong>Instrument:</strong> {e(summary.instrument)}</li>")
    if summary.experimenters:
        out.append(f"<li><strong>User:</strong> {e(', '.join(summary.experimenters))}</li>")
    if summary.start:
        out.append(f"<li><strong>Session:</strong> {e(summary.start)}"
                   + (f" to {e(summary.end)}" if summary.end else "") + "</li>")
    out.append(f"<li><strong>Session id:</strong> {e(summary.session_identifier)}</li>")
    if summary.motivation:
        out.append(f"<li><strong>Motivation:</strong> {e(summary.motivation)}</li>")
    count = sum(len(a.datasets) for a in summary.activities)
    out.append(f"<li><strong>Datasets:</strong> {count} in {len(summary.activities)} "
               f"activit{'y' if len(summary.activities) == 1 else 'ies'}</li></ul>")
    for activity in summary.activities:
        out.append(f"<h2>Activity {activity.seqno + 1}"
                   + (f" ({e(activity.start)})" if activity.start else "") + "</h2>")
        if activity.settings:
            out.append("<table><tbody>")
            for key, value in activity.settings[:SETTINGS_SHOWN]:
                out.append(f"<tr><th>{e(key)}</th><td>{e(value)}</td></tr>")
            out.append("</tbody></table>")
            if len(activity.settings) > SETTINGS_SHOWN:
                out.append(f"<p>and {len(activity.settings) - SETTINGS_SHOWN} more settings "
                           "in the XML record</p>")
        out.append("<ul>")
        for ds in activity.datasets:
            extra = [ds.dataset_type] + ([ds.format] if ds.format else [])
            if ds.preview is not None:
                extra.append(f"preview {Path(ds.preview.relative).name}")
            if ds.file is None:
                extra.append("file not found")
            out.append(f"<li>{e(ds.name)} <em>({e(', '.join(extra))})</em></li>")
        out.append("</ul>")
    return "".join(out)
