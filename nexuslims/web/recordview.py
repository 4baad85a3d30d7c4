"""One record as the record page shows it, read from its XML.

Only the record page and the record API read XML, one record at a time; the parsed
result is kept for the few records last asked for (keyed by file, size and mtime), so
opening a 1,000-dataset record's metadata one dataset at a time parses it once.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from nexuslims.model.record import NAMESPACE

_NS = {"nx": NAMESPACE}
_PARSER_OPTIONS = dict(resolve_entities=False, no_network=True, huge_tree=True)
CACHE_SIZE = 8


@dataclass(frozen=True)
class Param:
    """A ``param`` (setup) or ``meta`` (dataset) value; ``warning``: it may be unreliable."""

    name: str
    value: str
    warning: bool = False


@dataclass
class DatasetView:
    number: int
    """Position in the record (0-based, across activities): the dataset's URL part."""
    name: str
    type: str
    format: str | None
    location: str | None
    preview: str | None
    descriptions: list[str] = field(default_factory=list)
    meta: list[Param] = field(default_factory=list)


@dataclass
class ActivityView:
    seqno: int
    start: dt.datetime | None
    sample_id: str | None
    setup: list[Param] = field(default_factory=list)
    datasets: list[DatasetView] = field(default_factory=list)


@dataclass(frozen=True)
class SampleView:
    id: str | None
    name: str | None
    description: str | None
    elements: list[str]


@dataclass(frozen=True)
class ProjectView:
    name: str | None
    project_id: str | None
    ref: str | None


@dataclass
class RecordView:
    """Everything the record page shows."""

    title: str | None
    identifier: str | None
    instrument_pid: str | None
    instrument_name: str | None
    experimenters: list[str]
    start: dt.datetime | None
    end: dt.datetime | None
    motivation: str | None
    reference: str | None
    samples: list[SampleView]
    projects: list[ProjectView]
    activities: list[ActivityView]

    @property
    def datasets(self) -> list[DatasetView]:
        return [d for a in self.activities for d in a.datasets]

    def dataset(self, number: int) -> DatasetView | None:
        for activity in self.activities:
            for d in activity.datasets:
                if d.number == number:
                    return d
        return None


def parse_record(xml: bytes) -> RecordView:
    """The record page's view of one record's XML."""
    root = etree.fromstring(xml, parser=etree.XMLParser(**_PARSER_OPTIONS))

    def text(el: etree._Element, path: str) -> str | None:
        found = el.find(path, _NS)
        value = found.text if found is not None else None
        return value.strip() if value and value.strip() else None

    def params(el: etree._Element, tag: str) -> list[Param]:
        return [Param(p.get("name") or "", (p.text or "").strip(), p.get("warning") == "true")
                for p in el.findall(tag, _NS)]

    summary = root.find("nx:summary", _NS)
    instrument = summary.find("nx:instrument", _NS) if summary is not None else None
    samples = [SampleView(s.get("id"), text(s, "nx:name"), text(s, "nx:description"),
                          [etree.QName(e).localname for e in s.findall("nx:elements/*", _NS)])
               for s in root.findall("nx:sample", _NS)]
    projects = [ProjectView(text(p, "nx:name"), text(p, "nx:project_id"), text(p, "nx:ref"))
                for p in root.findall("nx:project", _NS)]
    activities: list[ActivityView] = []
    number = 0
    for a in root.findall("nx:acquisitionActivity", _NS):
        setup = a.find("nx:setup", _NS)
        activity = ActivityView(int(a.get("seqno") or len(activities)),
                                _time(text(a, "nx:startTime")), text(a, "nx:sampleID"),
                                params(setup, "nx:param") if setup is not None else [])
        for d in a.findall("nx:dataset", _NS):
            activity.datasets.append(DatasetView(
                number, text(d, "nx:name") or "(unnamed)", d.get("type") or "Unknown",
                text(d, "nx:format"), text(d, "nx:location"), text(d, "nx:preview"),
                [(e.text or "").strip() for e in d.findall("nx:description", _NS)],
                params(d, "nx:meta")))
            number += 1
        activities.append(activity)
    return RecordView(
        title=text(root, "nx:title"), identifier=text(root, "nx:id"),
        instrument_pid=instrument.get("pid") if instrument is not None else None,
        instrument_name=(instrument.text or "").strip() or None
        if instrument is not None else None,
        experimenters=[(e.text or "").strip() for e in root.findall("nx:summary/nx:experimenter",
                                                                      _NS)],
        start=_time(text(summary, "nx:reservationStart")) if summary is not None else None,
        end=_time(text(summary, "nx:reservationEnd")) if summary is not None else None,
        motivation=text(summary, "nx:motivation") if summary is not None else None,
        reference=summary.get("ref") if summary is not None else None,
        samples=samples, projects=projects, activities=activities)


_cache: OrderedDict[tuple[str, int, int], RecordView] = OrderedDict()
_lock = threading.Lock()


def load_record(path: Path) -> RecordView:
    """:func:`parse_record` of the file at ``path``, from the cache when unchanged.

    Raises
    ------
    OSError
        The file cannot be read.
    lxml.etree.XMLSyntaxError
        It is not well-formed XML.
    """
    st = os.stat(path)
    key = (str(path), st.st_size, st.st_mtime_ns)
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    view = parse_record(path.read_bytes())
    with _lock:
        _cache[key] = view
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return view


def _time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        return None
