"""The RO-Crate 1.2 metadata of a session's ``.eln`` package, as plain data.

:func:`build_crate` turns a :class:`~nexuslims.export.summary.RecordSummary` into the
``ro-crate-metadata.json`` document and the list of files to put beside it. It reads
nothing and writes nothing; the same summary always gives the same document, so a
session built twice gives the same package.

The shape follows what eLabFTW writes and reads (``.eln`` import):

- ``./`` (the crate) has one part, the session: a Dataset with ``genre: experiment``,
  its HTML ``text``, ``author``, dates, ``keywords`` as one comma-separated string, and
  ``variableMeasured`` pointing to a ``PropertyValue`` ``elabftw_metadata`` that holds
  eLabFTW extra fields (session id, instrument, times, user, links); ``./`` carries
  ``version: "107"``, from which eLabFTW follows such references;
- each activity is a Dataset (a folder) holding its instrument files, with each file's
  preview and JSON sidecar as Files ``about`` it; a file above the size limit is not
  embedded but referenced by URI, the reason in its ``description``;
- the XML record is a File that ``conformsTo`` the Experiment schema;
- the instrument, the user (a Person) and one ``CreateAction`` per activity (start,
  end, instrument, the files it made).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from nexuslims.export.summary import FileFact, RecordSummary, file_fact, html_summary
from nexuslims.model.record import NAMESPACE

RO_CRATE = "https://w3id.org/ro/crate/1.2"
CONTEXT = "https://w3id.org/ro/crate/1.2/context"
ELN_SPEC = "https://purl.archive.org/purl/elnconsortium/eln-spec/1.1"
ELABFTW_VERSION = "107"
"""eLabFTW reads ``variableMeasured`` references only from crates of this version on."""
SITE_TAG = "NexusLIMS"
PUBLISHER = {"@id": "https://github.com/usnistgov/NexusLIMS", "@type": "Organization",
             "name": "NexusLIMS", "url": "https://github.com/usnistgov/NexusLIMS"}


@dataclass(frozen=True)
class PackedFile:
    """A file that goes into the package: where in the zip, and where from."""

    member: str
    """Path inside the crate folder (forward slashes, not quoted)."""
    source: Path


@dataclass(frozen=True)
class Crate:
    """A package's metadata and the files to pack beside it."""

    metadata: dict[str, Any]
    files: list[PackedFile]
    folders: list[str]
    """Folders of the crate (``session/``, ``session/activity-1/``...) to create."""
    referenced: list[str]
    """Instrument files too large to embed (their locations)."""

    def metadata_bytes(self) -> bytes:
        """``ro-crate-metadata.json`` as written: indented, UTF-8, a final newline."""
        return (json.dumps(self.metadata, indent=2, ensure_ascii=False) + "\n").encode()


def extra_fields(summary: RecordSummary, links: Mapping[str, str]) -> dict[str, Any]:
    """The session as eLabFTW extra fields (``metadata.extra_fields``), read-only.

    ``links`` maps a label (``"Web page"``, ``"CDCS record"``) to a URL.
    """
    fields: dict[str, Any] = {}

    def add(name: str, value: str | None, kind: str = "text") -> None:
        if value:
            fields[name] = {"type": kind, "value": value, "readonly": True,
                            "position": len(fields) + 1}

    add("Session id", summary.session_identifier)
    add("Instrument", summary.instrument_pid or summary.instrument)
    add("Start", summary.start)
    add("End", summary.end)
    add("User", ", ".join(summary.experimenters))
    for label in sorted(links):
        add(label, links[label], "url")
    return {"extra_fields": fields}


def keywords(summary: RecordSummary) -> list[str]:
    """The session's tags: instrument, user(s), the site tag (deduplicated, in order)."""
    tags = [summary.instrument_pid or summary.instrument or "", *summary.experimenters,
            SITE_TAG]
    return list(dict.fromkeys(t for t in tags if t))


def license_node(license_url: str | None) -> dict[str, Any]:
    """The crate's license: ``NX_ELN_LICENSE``, or an entity saying none was stated."""
    if license_url:
        return {"@id": license_url, "@type": "CreativeWork", "name": license_url}
    return {"@id": "#license", "@type": "CreativeWork", "name": "No license stated",
            "description": "The facility has not stated a license for these data "
                           "(NX_ELN_LICENSE): ask it before reusing them."}


def build_crate(summary: RecordSummary, record_xml: Path, *, embed_limit: int,
                links: Mapping[str, str], reference_url: Mapping[str, str],
                license_url: str | None = None) -> Crate:
    """The crate of one session.

    Parameters
    ----------
    record_xml
        The record in the outbox (packed as ``session/<name>.xml``).
    embed_limit
        Instrument files of this many bytes or more are referenced, not embedded.
    links
        Extra-field links (label -> URL).
    reference_url
        Where a referenced file can be fetched, by location; else its ``file:`` URI.
    license_url
        The license the data are shared under (RO-Crate 1.2 requires one on ``./``).
    """
    graph: list[dict[str, Any]] = []
    files: list[PackedFile] = []
    folders = ["session/"]
    referenced: list[str] = []

    def member(path: str) -> str:
        return quote(path, safe="/")

    def file_node(fact: FileFact, at: str, dated: bool = True, **more: Any) -> dict[str, Any]:
        # Previews, sidecars and the record are rewritten by every build: their times
        # would make two builds of one session differ, so only instrument files have one.
        node = {"@id": at, "@type": "File", "name": Path(fact.relative).name,
                "encodingFormat": fact.media_type, "contentSize": str(fact.size),
                "sha256": fact.sha256}
        if dated:
            node["dateModified"] = fact.modified.isoformat()
        return {**node, **more}

    person = None
    if summary.experimenters:
        person = {"@id": f"#person-{quote(summary.experimenters[0], safe='')}",
                  "@type": "Person", "name": summary.experimenters[0]}
    instrument = None
    if summary.instrument or summary.instrument_pid:
        key = quote(summary.instrument_pid or summary.instrument or "", safe="")
        instrument = {"@id": f"#instrument-{key}",
                      "@type": "IndividualProduct",
                      "name": summary.instrument or summary.instrument_pid}
        if summary.instrument_pid:
            instrument["identifier"] = summary.instrument_pid

    session_parts: list[dict[str, str]] = []
    actions: list[dict[str, Any]] = []
    placed: set[str] = set()
    for activity in summary.activities:
        folder = f"session/activity-{activity.seqno + 1}/"
        folders.append(folder)
        parts: list[dict[str, str]] = []
        made: list[dict[str, str]] = []
        for ds in activity.datasets:
            fact = ds.file
            if fact is None or ds.location in placed:
                continue
            placed.add(ds.location)
            if fact.size < embed_limit:
                at = member(folder + "files/" + fact.relative)
                files.append(PackedFile(folder + "files/" + fact.relative, fact.path))
                node = file_node(fact, at, description=f"{ds.dataset_type} data from "
                                 f"{summary.instrument or 'the instrument'}")
            else:
                at = reference_url.get(ds.location) or fact.path.resolve().as_uri()
                referenced.append(ds.location)
                node = file_node(fact, at, url=at, description=(
                    f"Not embedded: {fact.size} bytes is at or above the package's limit "
                    f"of {embed_limit} bytes (NX_ELN_MAX_FILE_MB; eLabFTW's importer skips "
                    "files of 100 MB or more). Fetch it from its URL"
                    + (" (the facility's web face)." if ds.location in reference_url
                       else " (a path on the facility's file store).")))
            graph.append(node)
            parts.append({"@id": at})
            made.append({"@id": at})
            for kind, extra in (("preview", ds.preview), ("metadata", ds.sidecar)):
                if extra is None or f"{kind}\0{extra.relative}" in placed:
                    continue
                placed.add(f"{kind}\0{extra.relative}")
                inner = folder + ("previews/" if kind == "preview" else "metadata/") \
                    + extra.relative
                files.append(PackedFile(inner, extra.path))
                what = "Preview image" if kind == "preview" else \
                    "Metadata extracted by NexusLIMS (JSON sidecar)"
                graph.append(file_node(extra, member(inner), False, about={"@id": at},
                                       description=f"{what} of {Path(fact.relative).name}"))
                parts.append({"@id": member(inner)})
        graph.append({"@id": member(folder), "@type": "Dataset",
                      "name": f"Activity {activity.seqno + 1}",
                      "description": f"Acquisition activity {activity.seqno + 1}: "
                                     f"{len(activity.datasets)} dataset(s)",
                      **({"dateCreated": activity.start} if activity.start else {}),
                      "hasPart": parts})
        session_parts.append({"@id": member(folder)})
        action: dict[str, Any] = {"@id": f"#activity-{activity.seqno + 1}",
                                  "@type": "CreateAction",
                                  "name": f"Acquisition activity {activity.seqno + 1}"}
        if activity.start:
            action["startTime"] = activity.start
        if activity.end:
            action["endTime"] = activity.end
        if instrument:
            action["instrument"] = {"@id": instrument["@id"]}
        if person:
            action["agent"] = {"@id": person["@id"]}
        if made:
            action["result"] = made
        actions.append(action)

    record_at = f"session/{summary.name}.xml"
    files.append(PackedFile(record_at, record_xml))
    record_fact = file_fact(record_xml.parent, record_xml.name)
    if record_fact is None:
        raise FileNotFoundError(f"record {record_xml} is gone from the outbox")
    graph.append(file_node(record_fact, member(record_at), False, name=f"{summary.name}.xml",
                           encodingFormat="application/xml",
                           conformsTo={"@id": NAMESPACE},
                           description="The NexusLIMS Experiment record of the session"))
    session_parts.append({"@id": member(record_at)})

    session: dict[str, Any] = {
        "@id": "session/", "@type": "Dataset", "genre": "experiment",
        "name": summary.title, "identifier": summary.session_identifier,
        "text": html_summary(summary),
        "keywords": ", ".join(keywords(summary)),
        "variableMeasured": [{"@id": "#elabftw-metadata"}],
        "hasPart": session_parts,
    }
    if person:
        session["author"] = {"@id": person["@id"]}
    if summary.start:
        session["dateCreated"] = summary.start
    if summary.end:
        session["dateModified"] = summary.end
    if summary.missing:
        session["description"] = ("Files named by the record but not found when the "
                                  "package was made: " + ", ".join(summary.missing))
    published = summary.end or summary.start or "1970-01-01T00:00:00+00:00"
    head = [
        {"@id": "ro-crate-metadata.json", "@type": "CreativeWork", "about": {"@id": "./"},
         "conformsTo": {"@id": RO_CRATE}, "version": "1.0", "additionalType": ELN_SPEC,
         "dateCreated": published, "sdPublisher": {"@id": PUBLISHER["@id"]}},
        {"@id": "./", "@type": "Dataset", "name": summary.title,
         "description": f"Electron microscopy session {summary.session_identifier} "
                        f"({summary.instrument or 'instrument unknown'}), exported by "
                        "NexusLIMS",
         "datePublished": published, "version": ELABFTW_VERSION,
         "license": {"@id": license_node(license_url)["@id"]},
         "hasPart": [{"@id": "session/"}]},
        dict(PUBLISHER),
        license_node(license_url),
        session,
        {"@id": "#elabftw-metadata", "@type": "PropertyValue", "propertyID": "elabftw_metadata",
         "name": "eLabFTW metadata",
         "value": json.dumps(extra_fields(summary, links), sort_keys=True)},
        {"@id": NAMESPACE, "@type": "CreativeWork",
         "name": "Nexus Microscopy Experiment schema v1.0"},
    ]
    head += [n for n in (person, instrument) if n]
    return Crate({"@context": CONTEXT, "@graph": head + graph + actions}, files, folders,
                 referenced)
