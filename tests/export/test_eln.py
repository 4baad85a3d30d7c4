"""The ``eln`` destination: packages of real sessions, checked as the ELN Consortium does."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from nexuslims import db
from nexuslims.config import load_settings
from nexuslims.errors import ConfigError
from nexuslims.export import build_exporter
from nexuslims.export.base import RecordFile
from nexuslims.export.eln import ELNDestination
from nexuslims.model.record import NAMESPACE
from nexuslims.model.session import Status
from tests.export import eln_checks
from tests.export.conftest import later

pytestmark = pytest.mark.corpus

FILES = ["digitalmicrograph/test_STEM_image.dm3", "tiff/FEI-Helios-Ebeam-8bits.tif",
         "msa/example1.msa", "nexuslims/test_image_thumb_source.png"]


def package_of(site, ident: str) -> Path:
    [package] = [p for p in site.settings.records_path.glob("*.eln") if ident in p.name]
    return package


def crate_of(package: Path, into: Path) -> tuple[Path, dict]:
    top = eln_checks.extract(package, into)
    return top, json.loads((top / "ro-crate-metadata.json").read_text())


def nodes_of(metadata: dict) -> dict[str, dict]:
    return {n["@id"]: n for n in metadata["@graph"]}


@pytest.fixture
def built(make_site, corpus, tmp_path):
    """A pass over one session of real instrument files, with NX_ELN_EXPORT on."""
    site = make_site(NX_ELN_EXPORT="true", NX_WEB_PUBLIC_URL="https://nexus.example.org/")
    ident = site.add_corpus_session(corpus, FILES)
    [outcome] = site.run().outcomes
    assert outcome.status == Status.COMPLETED, outcome.message
    return site, ident


def test_a_package_passes_every_check_of_the_eln_consortium(built, tmp_path) -> None:
    site, ident = built
    package = package_of(site, ident)
    assert eln_checks.archive_problems(package) == []
    top, metadata = crate_of(package, tmp_path / "x")
    assert top.name == site.record(ident).stem
    from rocrate.rocrate import ROCrate

    crate = ROCrate(top)
    assert crate.root_dataset["version"] == "107"
    assert eln_checks.convention_problems(metadata) == []
    assert eln_checks.schema_problems(metadata) == []
    assert eln_checks.validator_problems(top, tmp_path) == []
    assert eln_checks.file_problems(top, metadata) == []


def test_the_package_says_what_the_record_says(built, tmp_path) -> None:
    site, ident = built
    record = site.record(ident)
    _, metadata = crate_of(package_of(site, ident), tmp_path / "x")
    nodes = nodes_of(metadata)
    session = nodes["session/"]
    assert session["genre"] == "experiment" and session["identifier"] == ident
    assert isinstance(session["keywords"], str) and "scope" in session["keywords"]
    assert nodes[session["author"]["@id"]] == {"@id": "#person-alice", "@type": "Person",
                                               "name": "alice"}
    assert "<h2>Activity 1" in session["text"] and "<script" not in session["text"]
    [meta_ref] = session["variableMeasured"]
    meta = nodes[meta_ref["@id"]]
    assert meta["@type"] == "PropertyValue" and meta["propertyID"] == "elabftw_metadata"
    fields = json.loads(meta["value"])["extra_fields"]
    assert fields["Session id"]["value"] == ident
    assert fields["Web page"]["value"] == f"https://nexus.example.org/sessions/{ident}"

    xml = etree.parse(str(record))
    ns = {"nx": NAMESPACE}
    locations = {d.findtext("nx:location", namespaces=ns)
                 for d in xml.iterfind(".//nx:dataset", ns)}
    instrument_files = [n for n in metadata["@graph"] if n["@type"] == "File"
                        and "/files/" in n["@id"]]
    assert len(instrument_files) == len(locations) == len(FILES)
    for node in instrument_files:
        assert node["encodingFormat"] and node["dateModified"].startswith("2024-03-05")
    about = {n["about"]["@id"] for n in metadata["@graph"] if "about" in n
             and n["@type"] == "File"}
    assert about <= {n["@id"] for n in instrument_files} and about
    previews = [n for n in metadata["@graph"] if "/previews/" in n["@id"]]
    sidecars = [n for n in metadata["@graph"] if "/metadata/" in n["@id"]]
    assert previews and all(p["encodingFormat"] == "image/png" for p in previews)
    assert len(sidecars) == len(FILES)
    [xml_node] = [n for n in metadata["@graph"] if n.get("conformsTo") == {"@id": NAMESPACE}]
    assert xml_node["@id"].endswith(record.name)

    activities = xml.findall("nx:acquisitionActivity", ns)
    actions = [n for n in metadata["@graph"] if n["@type"] == "CreateAction"]
    assert len(actions) == len(activities) >= 1
    for action in actions:
        assert nodes[action["instrument"]["@id"]]["identifier"] == "scope"
        assert action["startTime"] <= action["endTime"]


def test_a_rebuilt_session_gives_the_same_bytes(built) -> None:
    site, ident = built
    package = package_of(site, ident)
    first = package.read_bytes()
    package.unlink()
    db.set_session_status(site.engine, ident, site.instrument, Status.TO_BE_BUILT)
    [outcome] = site.run(later()).outcomes
    assert outcome.status == Status.COMPLETED
    assert package.read_bytes() == first
    assert not list(package.parent.glob(".*tmp*"))


def test_files_over_the_limit_are_referenced_with_the_reason(make_site, corpus,
                                                             tmp_path) -> None:
    # 0.2 MB: the 252 kB Helios TIFF is referenced, the smaller files packed.
    site = make_site(NX_ELN_EXPORT="true", NX_ELN_MAX_FILE_MB="0.2",
                     NX_ELN_EXPORT_PATH=str(tmp_path / "eln"))
    ident = site.add_corpus_session(corpus, FILES)
    assert [o.status for o in site.run().outcomes] == [Status.COMPLETED]
    [package] = (tmp_path / "eln").glob("*.eln")
    top, metadata = crate_of(package, tmp_path / "x")
    [big] = [n for n in metadata["@graph"] if n.get("name") == "FEI-Helios-Ebeam-8bits.tif"]
    assert big["@id"].startswith("file:///") and big["url"] == big["@id"]
    assert "NX_ELN_MAX_FILE_MB" in big["description"] and "100 MB" in big["description"]
    with zipfile.ZipFile(package) as zf:
        assert not [n for n in zf.namelist() if n.endswith("FEI-Helios-Ebeam-8bits.tif")]
        assert [n for n in zf.namelist() if n.endswith("example1.msa")]
    assert eln_checks.file_problems(top, metadata) == []
    assert eln_checks.validator_problems(top, tmp_path) == []
    [upload] = [u for u in site.uploads(ident) if u.destination == "eln"]
    assert upload.metadata["referenced"] == [big["@id"].rsplit("/", 3)[-3] + "/" + ident
                                            + "/FEI-Helios-Ebeam-8bits.tif"]


def test_a_record_naming_files_outside_the_data_root_packs_none_of_them(make_site,
                                                                        tmp_path) -> None:
    site = make_site(NX_ELN_EXPORT="true")
    secret = tmp_path / "secret.txt"
    secret.write_text("not for export")
    record = tmp_path / "hostile.xml"
    record.write_text(
        f'<Experiment xmlns="{NAMESPACE}"><title>t</title><summary><instrument>x'
        '</instrument></summary><acquisitionActivity seqno="0"><dataset type="Misc">'
        '<name>a</name><location>../../secret.txt</location></dataset>'
        '<dataset type="Misc"><name>b</name><location>/etc/hostname</location></dataset>'
        '</acquisitionActivity></Experiment>')
    result = ELNDestination(site.settings).export(RecordFile("s", "scope", record))
    assert result.success, result.error
    with zipfile.ZipFile(tmp_path / "hostile.eln") as zf:
        names = zf.namelist()
    assert not [n for n in names if "secret" in n or "hostname" in n]
    assert result.metadata["missing"] == ["../../secret.txt", "/etc/hostname"]


def test_an_unwritable_target_leaves_the_session_waiting(make_site, corpus, tmp_path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    site = make_site(NX_ELN_EXPORT="true", NX_ELN_EXPORT_PATH=str(blocker))
    ident = site.add_corpus_session(corpus, FILES[:1])
    [outcome] = site.run().outcomes
    assert outcome.status == Status.BUILT_NOT_EXPORTED
    [upload] = site.uploads(ident)
    assert not upload.success and "cannot write the package" in upload.error


def test_settings_are_checked_by_name(tmp_path) -> None:
    env = {"NX_INSTRUMENT_DATA_PATH": str(tmp_path), "NX_DATA_PATH": str(tmp_path / "d"),
           "NX_DB_PATH": str(tmp_path / "x.db"), "NX_ELN_EXPORT": "true",
           "NX_ELN_EXPORT_PATH": "relative/path", "NX_ELN_MAX_FILE_MB": "-3",
           "NX_ELN_LICENSE": "CC-BY"}
    with pytest.raises(ConfigError) as caught:
        build_exporter(load_settings(env))
    text = str(caught.value)
    for name in ("NX_ELN_EXPORT_PATH", "NX_ELN_MAX_FILE_MB", "NX_ELN_LICENSE"):
        assert name in text


def test_a_referenced_file_is_downloadable_from_the_web_face(make_site, corpus,
                                                             tmp_path) -> None:
    import hashlib
    from urllib.parse import urlsplit

    import httpx

    from tests.web.world import WebServer

    site = make_site(NX_ELN_EXPORT="true", NX_ELN_MAX_FILE_MB="0.2",
                     NX_WEB_SERVE_RAW_FILES="true",
                     NX_WEB_PUBLIC_URL="https://nexus.example.org/nx")
    ident = site.add_corpus_session(corpus, FILES)
    assert [o.status for o in site.run().outcomes] == [Status.COMPLETED]
    _, metadata = crate_of(package_of(site, ident), tmp_path / "x")
    [big] = [n for n in metadata["@graph"] if n.get("name") == "FEI-Helios-Ebeam-8bits.tif"]
    url = urlsplit(big["@id"])
    assert big["@id"].startswith("https://nexus.example.org/nx/raw?session=")
    assert "web face" in big["description"]
    # The proxy at nexus.example.org/nx forwards to the server: ask it the same path.
    server = WebServer(dict(site.env), tmp_path / "web.log").wait()
    try:
        got = httpx.get(f"{server.url}/raw?{url.query}", timeout=30)
        other = httpx.get(f"{server.url}/raw", params={"session": ident,
                                                       "location": "../nexuslims.db"},
                          timeout=30)
    finally:
        server.stop()
    assert got.status_code == 200, got.text
    assert hashlib.sha256(got.content).hexdigest() == big["sha256"]
    assert other.status_code == 404


def test_record_text_is_escaped_in_the_html(tmp_path) -> None:
    from nexuslims.export.summary import html_summary, read_summary

    hostile = "<script>alert(1)</script>"
    record = (f'<Experiment xmlns="{NAMESPACE}"><title>{hostile.replace("<", "&lt;")}'
              '</title><summary><experimenter>&lt;img src=x onerror=alert(2)&gt;'
              '</experimenter><instrument pid="p">&lt;b&gt;scope</instrument></summary>'
              '<acquisitionActivity seqno="0"><setup><param name="&lt;i&gt;">'
              '&lt;/td&gt;</param></setup><dataset type="Misc"><name>&lt;a&gt;</name>'
              '<location>x</location></dataset></acquisitionActivity></Experiment>')
    summary = read_summary(record.encode(), session_identifier="s<1>", name="r",
                           data_root=tmp_path, derived_root=None)
    text = html_summary(summary)
    assert "<script" not in text and "<img" not in text and "<b>" not in text
    assert "<i>" not in text and "</td></td>" not in text and "<a>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "s&lt;1&gt;" in text
