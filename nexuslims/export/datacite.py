"""The ``datacite`` destination: a JSON search document beside each record.

For ``<name>.xml`` in the outbox it writes ``<name>.datacite.json`` (in
``NX_DATACITE_EXPORT_PATH``, default: beside the record), ready for a search index,
and ``<name>.datacite.xml``, the same description as DataCite kernel-4.5 XML:

- ``dc``: a DataCite 4.5 description (valid against DataCite's JSON schema: titles,
  creators, publisher ``NX_DATACITE_PUBLISHER``, dates, subjects, types, formats,
  sizes, descriptions; a ``doi`` when ``NX_DATACITE_DOI_PREFIX`` is set), from the
  record;
- ``files``: every dataset file the record names, once each, with its name, location,
  size, MIME type and ``sha256:<hex>`` checksum, computed by streaming the file found
  at ``NX_INSTRUMENT_DATA_PATH / <dataset location, unquoted>``.

A file that is gone is listed with ``"checksum": null`` and ``"missing": true``; a data
root that cannot be read at all fails the export, to be tried again on a later pass.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import mimetypes
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from lxml import etree

from nexuslims.atomic import write_atomically
from nexuslims.export.base import ExportResult, Failure, RecordFile, setting, truthy
from nexuslims.model.record import NAMESPACE

if TYPE_CHECKING:
    from nexuslims.config import Settings

SCHEMA_VERSION = "http://datacite.org/schema/kernel-4"
SUFFIX = ".datacite.json"
XML_SUFFIX = ".datacite.xml"
UNAVAILABLE = "(:unav)"
"""DataCite's standard value for "not available"."""
_NS = {"nx": NAMESPACE}
_MIME = mimetypes.MimeTypes()  # the built-in table: the document must not depend on /etc


class DataCiteDestination:
    """Writes a search document for each record."""

    name = "datacite"
    priority = 50

    @classmethod
    def check(cls, settings: Settings) -> list[str]:
        """The document needs the dataset files: NX_INSTRUMENT_DATA_PATH must be set."""
        problems = []
        if truthy(settings.env, "NX_DATACITE_EXPORT") is None:
            problems.append(f"NX_DATACITE_EXPORT={settings.env['NX_DATACITE_EXPORT']}: "
                            "expects true or false")
        if settings.instrument_data_path is None:
            problems.append("NX_DATACITE_EXPORT=true needs NX_INSTRUMENT_DATA_PATH (the "
                            "dataset files it lists and checksums)")
        raw = setting(settings.env, "NX_DATACITE_EXPORT_PATH")
        if raw and not Path(raw).expanduser().is_absolute():
            problems.append(f"NX_DATACITE_EXPORT_PATH={raw}: expects an absolute directory path")
        prefix = setting(settings.env, "NX_DATACITE_DOI_PREFIX")
        if prefix and not prefix.startswith("10."):
            problems.append(f"NX_DATACITE_DOI_PREFIX={prefix}: expects a DOI prefix such as "
                            "10.12345")
        return problems

    def __init__(self, settings: Settings):
        assert settings.instrument_data_path is not None
        self.data_root = settings.instrument_data_path
        raw = setting(settings.env, "NX_DATACITE_EXPORT_PATH")
        self.directory = Path(raw).expanduser() if raw else None
        self.publisher = setting(settings.env, "NX_DATACITE_PUBLISHER") or UNAVAILABLE
        self.doi_prefix = setting(settings.env, "NX_DATACITE_DOI_PREFIX").rstrip("/") or None

    def export(self, record: RecordFile) -> ExportResult:
        """Write the search document of ``record``."""
        target = (self.directory or record.path.parent) / f"{record.name}{SUFFIX}"
        if not self.data_root.is_dir():
            return ExportResult.failed(
                Failure.UNAVAILABLE, f"the dataset files cannot be read: {self.data_root} "
                                     "(NX_INSTRUMENT_DATA_PATH) is not a readable directory")
        xml_target = target.with_name(f"{record.name}{XML_SUFFIX}")
        try:
            document = search_document(record.read(), self.data_root, record.name,
                                       publisher=self.publisher, doi_prefix=self.doi_prefix)
            write_json_atomically(target, document)
            write_atomically(xml_target, datacite_xml(document["dc"], record.name),
                             durable=True)
        except etree.XMLSyntaxError as exc:
            return ExportResult.failed(Failure.REJECTED, f"record {record.path} is not XML: {exc}")
        except OSError as exc:
            return ExportResult.failed(Failure.UNAVAILABLE,
                                       f"cannot write {target}: {exc.strerror or exc}")
        missing = [f["location"] for f in document["files"] if f.get("missing")]
        return ExportResult.ok(record_url=target.resolve().as_uri(),
                               files=len(document["files"]), missing=missing or None,
                               xml=xml_target.resolve().as_uri())


def search_document(xml: bytes, data_root: Path, identifier: str, *,
                    publisher: str = UNAVAILABLE, doi_prefix: str | None = None,
                    ) -> dict[str, Any]:
    """The search document of one record.

    Parameters
    ----------
    xml
        The record.
    data_root
        Where dataset locations are relative to (``NX_INSTRUMENT_DATA_PATH``).
    identifier
        The record's name (its file name without ``.xml``).
    publisher
        ``NX_DATACITE_PUBLISHER`` (DataCite's ``(:unav)`` when not set).
    doi_prefix
        ``NX_DATACITE_DOI_PREFIX``: the record's DOI is ``<prefix>/<identifier>``.
    """
    root = etree.fromstring(xml)

    def text(element: etree._Element, path: str) -> str | None:
        value = element.findtext(path, namespaces=_NS)
        return value.strip() if value and value.strip() else None

    summary = root.find("nx:summary", _NS)
    instrument = summary.find("nx:instrument", _NS) if summary is not None else None
    start = text(summary, "nx:reservationStart") if summary is not None else None
    end = text(summary, "nx:reservationEnd") if summary is not None else None
    datasets = root.findall(".//nx:acquisitionActivity/nx:dataset", _NS)

    files: dict[str, dict[str, Any]] = {}
    for ds in datasets:
        location = text(ds, "nx:location")
        if location and location not in files:
            files[location] = file_entry(data_root, location)

    subjects = []
    if instrument is not None and (instrument.text or "").strip():
        subject = {"subject": instrument.text.strip(), "subjectScheme": "instrument"}
        if instrument.get("pid"):
            subject["classificationCode"] = instrument.get("pid")
        subjects.append(subject)
    for kind in sorted({ds.get("type") for ds in datasets if ds.get("type")}):
        subjects.append({"subject": kind, "subjectScheme": "dataset type"})
    for sample in root.findall("nx:sample", _NS):
        if text(sample, "nx:name"):
            subjects.append({"subject": text(sample, "nx:name"), "subjectScheme": "sample"})
        for element in sample.findall("nx:elements/*", _NS):
            subjects.append({"subject": etree.QName(element).localname,
                             "subjectScheme": "chemical element"})

    dates = [{"date": dt.date.today().isoformat(), "dateType": "Created"}]
    if start:
        dates.insert(0, {"date": f"{start}/{end}" if end else start, "dateType": "Collected"})
    experimenters = [e.text.strip() for e in (summary.findall("nx:experimenter", _NS)
                                             if summary is not None else []) if e.text]
    dc: dict[str, Any] = {
        "alternateIdentifiers": [{"alternateIdentifier": identifier,
                                  "alternateIdentifierType": "Local"}],
        "titles": [{"title": text(root, "nx:title") or identifier}],
        "creators": [{"name": name, "nameType": "Personal"} for name in experimenters]
        or [{"name": "unknown", "nameType": "Organizational"}],
        "publisher": {"name": publisher},
        "publicationYear": (start or dt.date.today().isoformat())[:4],
        "dates": dates,
        "subjects": subjects,
        "types": {"resourceTypeGeneral": "Dataset",
                  "resourceType": "Electron microscopy session"},
        "formats": sorted({f for f in (text(ds, "nx:format") for ds in datasets) if f}),
        "sizes": [f"{len(files)} files",
                  f"{sum(f['size'] or 0 for f in files.values())} bytes"],
        "schemaVersion": SCHEMA_VERSION,
    }
    if doi_prefix:
        dc["doi"] = f"{doi_prefix}/{identifier}"
    motivation = text(summary, "nx:motivation") if summary is not None else None
    if motivation:
        dc["descriptions"] = [{"description": motivation, "descriptionType": "Abstract"}]
    return {"id": identifier, "record": f"{identifier}.xml", "dc": dc,
            "files": list(files.values())}


def datacite_xml(dc: dict[str, Any], identifier: str) -> bytes:
    """``dc`` as DataCite kernel-4.5 XML (written by the ``datacite`` library).

    The XML needs an ``identifier``: the DOI when there is one, else the record's name
    with ``identifierType="Local"`` (valid against the schema; a DOI prefix makes it
    registrable).
    """
    from datacite import schema45

    root = schema45.dump_etree(dc)
    if not any(etree.QName(child).localname == "identifier" for child in root):
        root.insert(0, schema45.E.identifier(identifier, identifierType="Local"))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def file_entry(data_root: Path, location: str) -> dict[str, Any]:
    """Name, location, size, MIME type and checksum of one dataset file."""
    relative = unquote(location)
    path = data_root / relative
    mime, _ = _MIME.guess_type(path.name, strict=False)
    entry: dict[str, Any] = {"name": path.name, "location": relative, "size": None,
                             "mimeType": mime or "application/octet-stream", "checksum": None}
    try:
        with path.open("rb") as fh:
            entry["size"] = os.fstat(fh.fileno()).st_size
            entry["checksum"] = "sha256:" + hashlib.file_digest(fh, "sha256").hexdigest()
    except FileNotFoundError:
        entry["missing"] = True
    return entry


def write_json_atomically(path: Path, document: dict[str, Any]) -> None:
    """Write ``document`` to a temporary file beside ``path``, then move it into place."""
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    write_atomically(path, text.encode("utf-8"), durable=True)
