"""Index a written record for the web's record list: once, when it is written.

:func:`index_record` is what the pipeline calls after writing a record: it reads the
few fields the list filters and searches on from the record's XML and stores them
(:mod:`nexuslims.db.records`). :func:`backfill` does the same once for records written
before the index existed. Indexing never fails a pass: a problem is logged, and the
record is still built and exported.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from pathlib import Path

from lxml import etree
from sqlalchemy.engine import Engine

from nexuslims.db.records import (
    IndexEntry,
    entries_without_dataset_lines,
    save_entry,
    unindexed_records,
)
from nexuslims.model.record import NAMESPACE

logger = logging.getLogger(__name__)

_NS = {"nx": NAMESPACE}


_NAME = f"{{{NAMESPACE}}}name"
_META = f"{{{NAMESPACE}}}meta"


def _string(element: etree._Element | None) -> str:
    """XPath's ``string()`` of an element: all its text, in document order."""
    return "" if element is None else "".join(element.itertext())


def dataset_line(dataset) -> str:  # type: ignore[no-untyped-def]
    """``name<TAB>type words<TAB>signal words<TAB>Name`` of one ``<dataset>`` element:
    searched in lower case, the name also as written, to be shown."""
    # Children walked, not XPath: an XPath is compiled per call and scans every meta
    # (a third of the index's CPU, tens of thousands of datasets in a large pass).
    name = " ".join(_string(dataset.find(_NAME)).split())
    kind = dataset.get("type") or ""
    signal = next((_string(m) for m in dataset.iterchildren(_META)
                   if m.get("name") == "Data Type"), "").strip()
    # SpectrumImage -> "spectrumimage spectrum image"; TEM_EDS -> "tem_eds tem eds"
    kinds = " ".join(dict.fromkeys([kind, *re.findall(r"[A-Z][a-z]+|[A-Z]+(?![a-z])", kind)]))
    signals = " ".join(dict.fromkeys([signal, *re.split(r"[_\s/-]+", signal)]))
    searched = "\t".join((name, kinds.strip(), signals.strip())).lower()
    return f"{searched}\t{name}"


def entry_from_xml(xml: bytes, record_path: str, session_identifier: str | None = None,
                   instrument: str | None = None, *,
                   root: etree._Element | None = None) -> IndexEntry:
    """What the index keeps of one record, read from its XML (or from ``root``, its
    document element already parsed, e.g. by validation).

    Raises
    ------
    lxml.etree.XMLSyntaxError
        The record is not well-formed XML.
    """
    if root is None:
        root = etree.fromstring(xml, parser=etree.XMLParser(resolve_entities=False,
                                                            no_network=True, huge_tree=True))

    def texts(path: str) -> list[str]:
        return [t.strip() for t in root.xpath(path, namespaces=_NS) if t and t.strip()]

    title = " ".join(texts("nx:title/text()")) or None
    pid = root.xpath("string(nx:summary/nx:instrument/@pid)", namespaces=_NS) or instrument
    experimenters = texts("nx:summary/nx:experimenter/text()")
    starts = (texts("nx:summary/nx:reservationStart/text()")
              or texts("nx:acquisitionActivity/nx:startTime/text()"))
    words = [title or ""]
    words += texts("nx:summary/nx:motivation/text()")
    words += texts("nx:sample/nx:name/text()") + texts("nx:sample/nx:description/text()")
    words += texts("nx:sample/@id")
    words += texts("nx:project/nx:name/text()") + texts("nx:project/nx:project_id/text()")
    words += experimenters
    words = [w.replace("\t", " ") for w in words]
    # One line per dataset: its name, its type and its signal kind (``Data Type``), tab
    # separated, so that "spectrum" or "eels" finds a record and the list can say which
    # of its datasets matched (:func:`nexuslims.db.records.matching_datasets`).
    lines = [dataset_line(d) for d in root.xpath("nx:acquisitionActivity/nx:dataset",
                                                 namespaces=_NS)]
    return IndexEntry(
        record_path=record_path,
        session_identifier=session_identifier,
        instrument=pid or None,
        instrument_name=next(iter(texts("nx:summary/nx:instrument/text()")), None),
        title=title,
        start=_parse_time(starts[0] if starts else None),
        experimenters=", ".join(experimenters) or None,
        datasets=int(root.xpath("count(nx:acquisitionActivity/nx:dataset)", namespaces=_NS)),
        activities=int(root.xpath("count(nx:acquisitionActivity)", namespaces=_NS)),
        search_text="\n".join([w.lower() for w in words] + lines),
    )


def index_record(engine: Engine, record_path: Path, session_identifier: str | None = None,
                 instrument: str | None = None, xml: bytes | None = None,
                 root: etree._Element | None = None) -> int | None:
    """Add (or refresh) one record in the index; its id, or None if it could not be.

    ``xml`` is the record's bytes when the caller has them, ``root`` its document
    element when it has parsed them too (:func:`~nexuslims.record.validate.check_record`).

    Never raises: the record exists whatever happens here, and :func:`backfill` (run by
    ``nexuslims serve`` at start) picks up a record that was missed.
    """
    try:
        data = xml if xml is not None else record_path.read_bytes()
        entry = entry_from_xml(data, str(record_path), session_identifier, instrument,
                               root=root)
        return save_entry(engine, entry, now=dt.datetime.now(dt.UTC))
    except Exception as exc:  # noqa: BLE001 - the index is a convenience, never a failure
        logger.warning("record %s not indexed for the web pages: %s", record_path, exc)
        return None


def backfill(engine: Engine) -> int:
    """Index every record the build history names that is not indexed yet.

    Returns
    -------
    int
        How many records were added. Records whose file is gone are skipped.
    """
    added = 0
    for path, session_identifier, instrument in unindexed_records(engine):
        if not Path(path).is_file():
            continue
        if index_record(engine, Path(path), session_identifier, instrument) is not None:
            added += 1
    if added:
        logger.info("indexed %d record(s) written before the record index existed", added)
    # Entries from before dataset types and signal kinds were searched: once, again.
    refreshed = sum(index_record(engine, Path(path), session, instrument) is not None
                    for path, session, instrument in entries_without_dataset_lines(engine)
                    if Path(path).is_file())
    if refreshed:
        logger.info("indexed %d record(s) again so that dataset types and signal kinds are "
                    "searched", refreshed)
    return added


def _parse_time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
