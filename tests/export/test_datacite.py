"""The DataCite search document: what it says and that its checksums are the files'."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from urllib.parse import quote

import pytest
from lxml import etree

from nexuslims.export.datacite import search_document
from nexuslims.model.session import Status


def test_the_document_lists_every_file_with_its_checksum(make_site) -> None:
    site = make_site(NX_DATACITE_EXPORT="true")
    ident = site.add_session()
    [outcome] = site.run().outcomes
    assert outcome.status == Status.COMPLETED, outcome.message
    record = site.record(ident)
    document = json.loads(record.with_name(f"{record.stem}.datacite.json").read_text())

    assert document["record"] == record.name
    dc = document["dc"]
    assert dc["schemaVersion"] == "http://datacite.org/schema/kernel-4"
    assert dc["titles"][0]["title"]
    assert dc["creators"] == [{"name": "alice", "nameType": "Personal"}]
    assert dc["dates"][0]["dateType"] == "Collected"
    assert dc["dates"][0]["date"].startswith("2024-03-05T09:00:00")
    assert {"subject": "Test Scope", "subjectScheme": "instrument",
            "classificationCode": "scope"} in dc["subjects"]
    assert dc["publicationYear"] == "2024"

    files = site.store / ident
    assert sorted(f["name"] for f in document["files"]) == sorted(
        p.name for p in files.iterdir())
    for entry in document["files"]:
        path = site.settings.instrument_data_path / entry["location"]
        assert entry["checksum"] == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
        assert entry["size"] == path.stat().st_size
        assert entry["mimeType"] == "text/plain"
    [upload] = site.uploads(ident)
    assert upload.destination == "datacite" and upload.success
    assert upload.metadata["files"] == 3


def test_locations_are_unquoted_and_missing_files_are_marked(tmp_path) -> None:
    (tmp_path / "a b&c").mkdir()
    (tmp_path / "a b&c" / "x 1.dm3").write_bytes(b"\x00" * 10)
    xml = f"""<?xml version="1.0"?>
<Experiment xmlns="https://data.nist.gov/od/dm/nexus/experiment/v1.0">
 <title>T</title><summary><instrument pid="p">P</instrument></summary>
 <acquisitionActivity seqno="0">
  <dataset type="Image" role="Experimental"><name>x 1.dm3</name>
   <location>{quote("a b&c/x 1.dm3")}</location></dataset>
  <dataset type="Image" role="Experimental"><name>x 1.dm3 (2 of 2)</name>
   <location>{quote("a b&c/x 1.dm3")}</location></dataset>
  <dataset type="Spectrum" role="Experimental"><name>gone.msa</name>
   <location>gone.msa</location></dataset>
 </acquisitionActivity></Experiment>""".encode()
    document = search_document(xml, tmp_path, "rec")
    present, gone = document["files"]
    assert present["location"] == "a b&c/x 1.dm3" and present["size"] == 10
    assert present["checksum"] == "sha256:" + hashlib.sha256(b"\x00" * 10).hexdigest()
    assert gone == {"name": "gone.msa", "location": "gone.msa", "size": None,
                    "mimeType": "application/octet-stream", "checksum": None, "missing": True}
    assert document["dc"]["creators"] == [{"name": "unknown", "nameType": "Organizational"}]


REFERENCE_XSD = Path(__file__).resolve().parents[3] / "shared" / "reference" \
    / "datacite-kernel-4.5" / "metadata.xsd"


def datacite_schema() -> etree.XMLSchema:
    if not REFERENCE_XSD.is_file():
        pytest.skip("../shared/reference/datacite-kernel-4.5 is not present")
    return etree.XMLSchema(etree.parse(str(REFERENCE_XSD)))


@pytest.mark.corpus
@pytest.mark.parametrize("more", [{}, {"NX_DATACITE_PUBLISHER": "Example Microscopy Facility",
                                       "NX_DATACITE_DOI_PREFIX": "10.80000"}])
def test_json_and_xml_follow_datacite_4_5(make_site, corpus, more) -> None:
    from datacite import schema45

    site = make_site(NX_DATACITE_EXPORT="true", **more)
    ident = site.add_corpus_session(corpus, ["tiff/FEI-Helios-Ebeam-8bits.tif",
                                             "msa/example1.msa"])
    assert [o.status for o in site.run().outcomes] == [Status.COMPLETED]
    record = site.record(ident)
    dc = json.loads(record.with_name(f"{record.stem}.datacite.json").read_text())["dc"]
    errors = [e.message for e in schema45.validator.iter_errors(dc)]
    assert errors == []
    xml = etree.parse(str(record.with_name(f"{record.stem}.datacite.xml")))
    schema = datacite_schema()
    assert schema.validate(xml), schema.error_log
    ns = {"d": "http://datacite.org/schema/kernel-4"}
    identifier = xml.find("d:identifier", ns)
    if more:
        assert (identifier.get("identifierType"), identifier.text) == \
            ("DOI", f"10.80000/{record.stem}")
        assert xml.findtext("d:publisher", namespaces=ns) == "Example Microscopy Facility"
    else:
        assert (identifier.get("identifierType"), identifier.text) == ("Local", record.stem)
        assert xml.findtext("d:publisher", namespaces=ns) == "(:unav)"
    titles = [t.text for t in xml.iterfind("d:titles/d:title", ns)]
    assert titles == [dc["titles"][0]["title"]]
