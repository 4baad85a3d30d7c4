"""Records never collide, and their locations lead back to the real files (issue 10)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from urllib.parse import unquote_to_bytes

import pytest
from lxml import etree

from nexuslims.builder.run import run_pass
from nexuslims.model.session import Status
from tests.test_pipeline_faults import NOW, START, log_session, make_site, put_dm3

NS = {"nx": "https://data.nist.gov/od/dm/nexus/experiment/v1.0"}


@pytest.mark.corpus
def test_sessions_sharing_48_characters_get_records_of_their_own(tmp_path, corpus):
    settings, engine = make_site(tmp_path)
    put_dm3(corpus, tmp_path / "instr/Scope", START + dt.timedelta(minutes=30), "a.dm3")
    put_dm3(corpus, tmp_path / "instr/Scope", START + dt.timedelta(minutes=150), "b.dm3")
    prefix = "facility-2024-03-05-titan-overnight-tomography-series"  # > 48 characters
    middle = START + dt.timedelta(minutes=90)
    log_session(engine, f"{prefix}-run-0001", end=middle)
    log_session(engine, f"{prefix}-run-0002", start=middle)
    summary = run_pass(settings, now=NOW)
    assert [o.status for o in summary.outcomes] == [Status.COMPLETED, Status.COMPLETED]
    paths = [o.record_path for o in summary.outcomes]
    assert paths[0] != paths[1]
    names = {p: [d.findtext("nx:name", namespaces=NS) for d in
                 etree.parse(str(p)).iter(f"{{{NS['nx']}}}dataset")] for p in paths}
    assert names == {paths[0]: ["a.dm3"], paths[1]: ["b.dm3"]}
    engine.dispose()


@pytest.mark.corpus
def test_a_record_path_of_another_session_is_never_overwritten(tmp_path, corpus):
    settings, engine = make_site(tmp_path)
    put_dm3(corpus, tmp_path / "instr/Scope", START + dt.timedelta(minutes=30))
    # Two calendars with the same event number: the same short id, the same day.
    log_session(engine, "https://nemo-a.example.org/api/usage_events/?id=77")
    log_session(engine, "https://nemo-b.example.org/api/usage_events/?id=77")
    first, second = run_pass(settings, now=NOW).outcomes
    assert first.status == second.status == Status.COMPLETED
    assert first.record_path != second.record_path
    assert first.record_path.is_file() and second.record_path.is_file()
    assert first.record_path.name == "2024-03-05_scope_77.xml"
    engine.dispose()


@pytest.mark.corpus
def test_locations_round_trip_to_files_with_odd_names(tmp_path, corpus):
    settings, engine = make_site(tmp_path)
    store = tmp_path / "instr/Scope"
    put_dm3(corpus, store, START + dt.timedelta(minutes=30), "plain.dm3")
    when = (START + dt.timedelta(minutes=31)).timestamp()
    for name in (b"ctrl\x01char.dm3", b"bad\xff\xfeutf8.dm3"):
        path = os.path.join(os.fsencode(store), name)
        shutil.copyfile(corpus / "digitalmicrograph/test_STEM_image.dm3", path)
        os.utime(path, (when, when))
    log_session(engine, "odd-names")
    (outcome,) = run_pass(settings, now=NOW).outcomes
    assert outcome.status == Status.COMPLETED, outcome.message

    doc = etree.parse(str(outcome.record_path))
    datasets = list(doc.iter(f"{{{NS['nx']}}}dataset"))
    assert len(datasets) == 3
    instrument_root = os.fsencode(settings.instrument_data_path)
    data_root = os.fsencode(settings.data_path)
    metadata = {}
    for dataset in datasets:
        location = unquote_to_bytes(dataset.findtext("nx:location", namespaces=NS))
        real = os.path.join(instrument_root, location)
        assert os.path.isfile(real), location
        preview = unquote_to_bytes(dataset.findtext("nx:preview", namespaces=NS))
        assert os.path.isfile(os.path.join(data_root, preview)), preview
        sidecar = os.path.join(data_root, location + b".json")
        with open(sidecar, "rb") as handle:
            (extracted,) = json.load(handle)["datasets"]
        assert extracted["error"] is None
        metadata[os.path.basename(location)] = extracted["nx_meta"]
    # The same file under three names: the same metadata, whatever the name's bytes.
    assert len(metadata[b"plain.dm3"]) > 5
    assert metadata[b"ctrl\x01char.dm3"] == metadata[b"plain.dm3"]
    assert metadata[b"bad\xff\xfeutf8.dm3"] == metadata[b"plain.dm3"]
    names = {d.findtext("nx:name", namespaces=NS) for d in datasets}
    assert "bad\ufffd\ufffdutf8.dm3" in names
    engine.dispose()


@pytest.mark.corpus
def test_broken_files_are_said_once_in_plain_words_without_server_paths(tmp_path, corpus):
    """A copy cut short, an empty file and a file whose preview cannot be drawn: the
    record says what is wrong with each once, in words a microscopist can act on, and the
    server's own folders (the share's mount point) appear nowhere in it."""
    settings, engine = make_site(tmp_path)
    store = tmp_path / "instr/Scope"
    good = put_dm3(corpus, store, START + dt.timedelta(minutes=30), "good.dm3")
    cut = store / "cut.dm3"
    cut.write_bytes(good.read_bytes()[:20_000])  # a copy that stopped part way
    empty = store / "empty.tif"
    empty.touch()
    picture = store / "picture.tif"  # a TIFF the preview library cannot open
    picture.write_bytes(b"II*\x00" + b"\x00" * 60)
    for n, path in enumerate((cut, empty, picture), 1):
        when = (START + dt.timedelta(minutes=30 + n)).timestamp()
        os.utime(path, (when, when))
    log_session(engine, "broken-files")
    [outcome] = run_pass(settings, now=NOW).outcomes
    assert outcome.status == Status.COMPLETED
    text = outcome.record_path.read_text()
    assert str(tmp_path) not in text  # nor the share's mount point, in any message
    said = {d.findtext("nx:name", namespaces=NS): [e.text for e in d.iterfind(
        "nx:description", NS)] for d in etree.parse(str(outcome.record_path)).iter(
        f"{{{NS['nx']}}}dataset")}
    assert said["good.dm3"] == []
    assert "preview could not be drawn (UnidentifiedImageError: cannot identify image " \
           "file 'picture.tif'); a placeholder is shown" in said["picture.tif"]
    [cut_short] = [t for t in said["cut.dm3"] if "extraction failed" in t]
    assert cut_short.startswith("Metadata extraction failed: could not read as Gatan "
                                "DigitalMicrograph: the file ends before its data does")
    assert "Metadata extraction failed: the file is empty (0 bytes): a copy still under " \
           "way, or one that failed" in said["empty.tif"]
    # Their previews say why there is no picture (a DM3 normally has one).
    from PIL import Image

    from nexuslims.previews import render_placeholder

    for name, why in (("cut.dm3", "the file could not be read"), ("empty.tif", "empty file")):
        expected = tmp_path / f"expected-{name}.png"
        render_placeholder(expected, why)
        drawn = Image.open(settings.data_path / "Scope" / f"{name}.thumb.png").convert("RGB")
        assert drawn.tobytes() == Image.open(expected).convert("RGB").tobytes(), name
    for name, texts in said.items():  # each problem said once
        assert len(texts) == len(set(texts)), (name, texts)
        assert not any(t.removeprefix("Metadata extraction failed: ") in texts
                       for t in texts if t.startswith("Metadata extraction failed: ")), texts
    engine.dispose()
