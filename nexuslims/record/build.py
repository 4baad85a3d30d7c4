"""Build stage: the XML Experiment record of one session.

:func:`build_record` turns a reservation, an instrument and the session's activities
into the bytes of one ``Experiment`` document in :data:`NAMESPACE` (the format
``schemas/nexus-experiment.xsd`` describes and NexusLIMS CDCS servers accept). It
knows nothing of files, HTTP or the database: plain data in, bytes out.

Choices the record makes:

- **Activities** are numbered by the ``seqno`` attribute from **0**, in order of
  their start time (ties keep :attr:`Activity.seqno` order), so the numbers are
  always 0, 1, 2... whatever the caller put in :attr:`Activity.seqno`.
- **Setup**: for an activity of two or more datasets, every ``nx_meta`` key that all
  its datasets share with the same value (same rendered text, or numerically equal
  numbers; the first dataset's text is recorded) goes once into ``setup`` as a
  ``param``, and is left out of the datasets' ``meta``. Provenance (``Extractor``,
  ``nexuslims version``, ``Creation Time Source``) never goes into ``setup``: it
  describes the reading, not the instrument. A single-dataset activity
  has no ``setup``: all its values stay on the dataset, where readers look first.
- **Order**: ``param`` and ``meta`` elements are sorted by name (case-insensitively,
  then exactly), so the record does not depend on dict order.
- **Values** (:mod:`nexuslims.record.values`): booleans read ``true``/``false``;
  floats are rounded to the fewest significant digits that stay within 1e-9 of the
  value (``0.30000000000000004`` reads ``0.3``); lists and tuples are joined with
  ``", "``; nested dicts are flattened to ``"<key> <subkey>"``; ``None`` and empty
  values are left out; characters XML 1.0 forbids are dropped. ``DatasetType`` is the
  dataset's ``type`` attribute, not a ``meta``.
- **Locations** and **previews** are URL-quoted (``/`` kept) from the bytes of the
  path on disk, so they can be joined to the data server's base URL as they are and
  round-trip to the real file (control characters and non-UTF-8 bytes included).
- The same inputs always give the same bytes.

Longer than most modules: it follows the Experiment schema element by element, in the
schema's order, so that the record's shape can be read against the XSD top to bottom.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import mimetypes
import os
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from lxml import etree

from nexuslims.model.dataset import Dataset
from nexuslims.model.record import NAMESPACE
from nexuslims.model.reservation import Project, Reservation, Sample
from nexuslims.model.session import Instrument
from nexuslims.record.values import (
    CACHED_TEXT,
    TYPE_KEY,
    Value,
    dataset_values,
    format_value,
    shared,
)
from nexuslims.record.values import clean as _clean

log = logging.getLogger(__name__)


DATASET_TYPES = ("Image", "Spectrum", "SpectrumImage", "Diffraction", "Notes", "Misc", "Unknown")
"""The schema's ``DatasetType`` values; anything else is recorded as ``Unknown``."""

_SYMBOLS = """H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga
    Ge As Se Br Kr Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm
    Sm Eu Gd Tb Dy Ho Er Tm Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa
    U Np Pu Am Cm Bk Cf Es Fm Md No Lr Rf Db Sg Bh Hs Mt Ds Rg Cn Nh Fl Mc Lv Ts Og"""
ELEMENT_SYMBOLS = tuple(_SYMBOLS.split())
"""Chemical element symbols in atomic-number order (the ``sample/elements`` children)."""

FORMATS = {
    ".dm3": "Gatan DigitalMicrograph 3 (.dm3)",
    ".dm4": "Gatan DigitalMicrograph 4 (.dm4)",
    ".ser": "FEI TIA series data (.ser)",
    ".emi": "FEI TIA metadata (.emi)",
    ".emd": "Electron Microscopy Dataset, HDF5 (.emd)",
    ".bcf": "Bruker composite file (.bcf)",
    ".spx": "Bruker spectrum (.spx)",
    ".msa": "EMSA/MAS spectral data (.msa)",
    ".spc": "EDAX spectrum (.spc)",
    ".hspy": "HyperSpy HDF5 (.hspy)",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
}
"""Formats of microscopy files ``mimetypes`` does not know (or names badly)."""

_MIME = mimetypes.MimeTypes()  # built-in table only: the record must not depend on /etc


@dataclass
class Activity:
    """An acquisition activity: datasets acquired close together in time."""

    seqno: int
    start: dt.datetime
    datasets: list[Dataset]
    sample_id: str | None = None
    """Which of the reservation's samples it examined; needed only when there are several."""


def build_record(
    reservation: Reservation,
    instrument: Instrument,
    activities: list[Activity],
    *,
    record_id: str | None = None,
) -> bytes:
    """The record as UTF-8 XML bytes: :func:`serialize` of :func:`record_tree`.

    Parameters
    ----------
    reservation
        Title, summary, samples and projects of the record.
    instrument
        The instrument of the session (``summary/instrument``).
    activities
        The session's acquisition activities, each with its datasets.
    record_id
        A local identifier for the record (the ``id`` element), if any.

    Returns
    -------
    bytes
        A pretty-printed XML document with declaration, in UTF-8.
    """
    return serialize(record_tree(reservation, instrument, activities, record_id=record_id))


def record_tree(
    reservation: Reservation,
    instrument: Instrument,
    activities: list[Activity],
    *,
    record_id: str | None = None,
) -> etree._Element:
    """The record's ``Experiment`` element, not yet serialised (see :func:`build_record`).

    A caller that writes the record and reads it further (validation, the web index)
    keeps this tree and writes :func:`serialize` of it, rather than parsing the bytes
    again (some 0.2 CPU-s per 16 MB of records).
    """
    tz = instrument.tzinfo
    root = etree.Element(_q("Experiment"), nsmap={None: NAMESPACE})
    _text(root, "title", reservation.title)
    _text(root, "id", record_id)
    _summary(root, reservation, instrument, tz)
    sample_ids = [s.id for s in reservation.samples if _clean(s.id)]
    for sample in reservation.samples:
        _sample(root, sample)
    for project in reservation.projects:
        _project(root, project)
    ordered = sorted(
        enumerate(activities), key=lambda p: (_aware(p[1].start, tz), p[1].seqno, p[0])
    )
    for seqno, (_, activity) in enumerate(ordered):
        _activity(root, activity, seqno, _sample_ref(activity, sample_ids), tz)
    return root


def serialize(root: etree._Element) -> bytes:
    """The bytes of a record tree: pretty-printed, with declaration, in UTF-8."""
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def dataset_format(dataset: Dataset) -> str | None:
    """The ``format`` of a dataset: a MIME type or a format name from its extension."""
    suffix = dataset.path.suffix.lower() if dataset.path.suffix else ""
    if not suffix:
        return None
    if suffix in FORMATS:
        return FORMATS[suffix]
    mime, _ = _MIME.guess_type("file" + suffix, strict=False)
    return mime or suffix.lstrip(".").upper()


def dataset_type(dataset: Dataset) -> str:
    """The schema ``DatasetType`` for a dataset (``Unknown`` when it names none)."""
    raw = dataset.dataset_type or str(dataset.nx_meta.get(TYPE_KEY) or "")
    key = re.sub(r"[\s_-]", "", raw).lower()
    for known in DATASET_TYPES:
        if known.lower() == key:
            return known
    return "Unknown"


# --------------------------------------------------------------------------- parts


def _summary(root: etree._Element, res: Reservation, inst: Instrument, tz: dt.tzinfo) -> None:
    summary = etree.SubElement(root, _q("summary"))
    if res.url and _clean(res.url):
        summary.set("ref", _clean(res.url))
    for person in res.experimenters:
        _text(summary, "experimenter", person)
    instrument = _text(summary, "instrument", inst.display_name)
    if instrument is not None and _clean(inst.pid):
        instrument.set("pid", _clean(inst.pid))
    _text(summary, "reservationStart", _datetime(res.start, tz))
    _text(summary, "reservationEnd", _datetime(res.end, tz))
    _text(summary, "motivation", res.motivation)


def _sample(root: etree._Element, sample: Sample) -> None:
    element = etree.SubElement(root, _q("sample"))
    if _clean(sample.id):
        element.set("id", _clean(sample.id))
    _text(element, "name", sample.name)
    _text(element, "description", sample.description)
    wanted = {s.strip().lower() for s in sample.elements if s}
    symbols = [s for s in ELEMENT_SYMBOLS if s.lower() in wanted]
    unknown = wanted - {s.lower() for s in symbols}
    if unknown:
        log.warning("sample %s: not chemical elements, left out: %s", sample.id, sorted(unknown))
    if symbols:
        elements = etree.SubElement(element, _q("elements"))
        for symbol in symbols:
            etree.SubElement(elements, _q(symbol))


def _project(root: etree._Element, project: Project) -> None:
    if not any(_clean(v or "") for v in (project.name, project.project_id, project.ref)):
        return
    element = etree.SubElement(root, _q("project"))
    _text(element, "name", project.name)
    _text(element, "project_id", project.project_id)
    _text(element, "ref", project.ref)


def _sample_ref(activity: Activity, sample_ids: list[str]) -> str | None:
    """The sample id an activity refers to: one the record really has, or none."""
    if activity.sample_id is not None:
        if activity.sample_id in sample_ids:
            return activity.sample_id
        log.warning("activity %s names unknown sample %r", activity.seqno, activity.sample_id)
        return None
    return sample_ids[0] if len(set(sample_ids)) == 1 else None


def _activity(
    root: etree._Element, activity: Activity, seqno: int, sample_id: str | None, tz: dt.tzinfo
) -> None:
    element = etree.SubElement(root, _q("acquisitionActivity"), seqno=str(seqno))
    _text(element, "startTime", _datetime(activity.start, tz))
    _text(element, "sampleID", sample_id)
    values = [dataset_values(d) for d in activity.datasets]
    setup = shared(values) if len(values) >= 2 else {}
    if setup:
        setup_element = etree.SubElement(element, _q("setup"))
        _params(setup_element, "param", [
            (key, setup[key], any(v[key].unreliable for v in values))
            for key in _ordered(setup)])
    for dataset, meta in zip(activity.datasets, values, strict=True):
        _dataset(element, dataset, {k: v for k, v in meta.items() if k not in setup})


def _dataset(parent: etree._Element, dataset: Dataset, meta: dict[str, Value]) -> None:
    element = etree.SubElement(
        parent, _q("dataset"), type=dataset_type(dataset), role="Experimental"
    )
    name = _display_name(dataset.name).strip() or _display_name(dataset.path.name)
    etree.SubElement(element, _q("name")).text = name
    etree.SubElement(element, _q("location")).text = _url(dataset.location)
    _text(element, "format", dataset_format(dataset))
    if dataset.error:
        _text(element, "description", f"Metadata extraction failed: {dataset.error}")
    for warning in dataset.warnings:
        if warning != dataset.error:  # said just above
            _text(element, "description", warning)
    if dataset.preview_location:
        _text(element, "preview", _url(dataset.preview_location))
    _params(element, "meta", [(key, meta[key].text, meta[key].unreliable)
                              for key in _ordered(meta)])


# --------------------------------------------------------------------------- elements


def _ordered(keys: Iterable[str]) -> list[str]:
    return sorted(keys, key=lambda k: (k.casefold(), k))


def _params(parent: etree._Element, tag: str, items: list[tuple[str, str, bool]]) -> None:
    """``<tag name="name" [warning="true"]>text</tag>`` (``param`` or ``meta``) for each
    of ``items``, appended to ``parent``.

    They are written as one fragment of XML text and parsed by libxml2, then moved into
    ``parent``: the same elements, attributes and text as one ``SubElement`` each (the
    characters that parsing would change are written as references), at a third of the
    CPU. A record has some 30 per dataset, hundreds of thousands in a large session.
    """
    if not items:
        return
    if not all(text for _, text, _ in items):  # an empty text is no text once parsed
        for name, text, unreliable in items:
            element = etree.SubElement(parent, _q(tag), name=name)
            element.text = text
            if unreliable:
                element.set("warning", "true")
        return
    body = "".join([f'<{tag} name="{_attribute(name)}"{_WARNING if unreliable else ""}>'
                    f"{_escape(text)}</{tag}>" for name, text, unreliable in items])
    parent.extend(etree.fromstring(f'<f xmlns="{NAMESPACE}">{body}</f>', _parser()))


_WARNING = ' warning="true"'
_THREAD = threading.local()


def _parser() -> etree.XMLParser:
    """This thread's parser of fragments (an lxml parser is not for two threads at once)."""
    parser = getattr(_THREAD, "parser", None)
    if parser is None:
        parser = _THREAD.parser = etree.XMLParser(resolve_entities=False, no_network=True,
                                                  huge_tree=True)
    return parser


_TEXT_SPECIAL = re.compile("[&<>\r]")
_ATTRIBUTE_SPECIAL = re.compile('[&<>"\t\n\r]')
_REFERENCES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\t": "&#9;",
               "\n": "&#10;", "\r": "&#13;"}


def _escape(text: str) -> str:
    """``text`` as element content that parses back to itself (a lone CR too)."""
    if _TEXT_SPECIAL.search(text) is None:
        return text
    return _TEXT_SPECIAL.sub(lambda m: _REFERENCES[m[0]], text)


def _attribute(value: str) -> str:
    """``value`` as an attribute value that parses back to itself (whitespace kept);
    the same few hundred names come back in every dataset: short ones are remembered."""
    if len(value) > CACHED_TEXT:
        return _ATTRIBUTE_SPECIAL.sub(lambda m: _REFERENCES[m[0]], value)
    return _short_attribute(value)


@functools.lru_cache(maxsize=8192)
def _short_attribute(value: str) -> str:
    return _ATTRIBUTE_SPECIAL.sub(lambda m: _REFERENCES[m[0]], value)


def _datetime(value: dt.datetime | None, tz: dt.tzinfo) -> str | None:
    """xs:dateTime text with a UTC offset; naive times are the instrument's wall clock."""
    if value is None:
        return None
    value = _aware(value, tz)
    if value.utcoffset().seconds % 60:  # type: ignore[union-attr]
        value = value.astimezone(dt.UTC)  # xs:dateTime offsets are whole minutes
    return value.isoformat()


def _aware(value: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=tz)
    return value


def _url(path: str) -> str:
    """``path`` percent-encoded from its bytes on disk, so it round-trips to the file.

    Control characters and bytes that are not UTF-8 (which ``os.fsdecode`` carries as
    lone surrogates) are encoded too, never dropped: ``unquote_to_bytes`` gives the
    file's real name back. The encoding is ``urllib.parse.quote(..., safe="/")``'s, one
    substitution per unsafe byte rather than a Python call for every byte of the path.
    """
    return _UNSAFE.sub(_percent, os.fsencode(path)).decode("ascii")


_UNSAFE = re.compile(rb"[^A-Za-z0-9_.\-~/]")
"""Bytes ``quote`` encodes: all but its always-safe set and ``/``."""


def _percent(match: re.Match[bytes]) -> bytes:
    return b"%%%02X" % match[0][0]


def _display_name(name: str) -> str:
    """A file name as text XML can hold: bytes that are not UTF-8 become U+FFFD (the
    name shows something is there); control characters are dropped, as elsewhere."""
    return _clean(name.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))


def _text(parent: etree._Element, tag: str, value: str | None) -> etree._Element | None:
    """Append ``<tag>value</tag>`` unless the value is empty after cleaning."""
    if value is None:
        return None
    text = _clean(str(value)).strip()
    if not text:
        return None
    element = etree.SubElement(parent, _q(tag))
    element.text = text
    return element


def _q(tag: str) -> str:
    return f"{{{NAMESPACE}}}{tag}"


__all__ = [
    "NAMESPACE",
    "Activity",
    "build_record",
    "dataset_format",
    "dataset_type",
    "format_value",
    "record_tree",
    "serialize",
]
