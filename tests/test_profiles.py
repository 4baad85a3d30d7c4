"""Per-instrument extraction profiles: a site's corrections, applied without code changes."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path

import pytest
from lxml import etree

from nexuslims import db
from nexuslims.builder.run import run_pass
from nexuslims.config import load_settings
from nexuslims.errors import ConfigError
from nexuslims.extract.stage import extract_files
from nexuslims.extractors.base import ExtractedDataset, ExtractionContext
from nexuslims.extractors.profiles import apply_profile, load_profile, parse_profile
from nexuslims.model.session import EventType, Instrument, Status

NS = {"nx": "https://data.nist.gov/od/dm/nexus/experiment/v1.0"}
PROFILE = """
description = "Helios in room 101: the ETD reports a stale operator"
unreliable = ["Operator", "Voltage (kV)"]

[values]
"Camera" = "Gatan OneView"

[defaults]
"Detector Name" = "HAADF"
"Spot Size" = 3.0
"""


def dataset(**meta) -> ExtractedDataset:
    return ExtractedDataset(name="a.tif", dataset_type="Image", extractor="fei_tiff",
                            nx_meta={"DatasetType": "Image", **meta})


def test_values_replace_defaults_fill_and_fields_are_marked() -> None:
    profile = parse_profile("helios", {"values": {"Camera": "OneView"},
                                       "defaults": {"Detector Name": "HAADF", "Spot Size": 3},
                                       "unreliable": ["Operator", "Not There"]}, "x/helios.toml")
    (out,) = apply_profile([dataset(Camera="wrong", **{"Spot Size": 5.0, "Operator": "bob"})],
                           profile)
    assert out.nx_meta["Camera"] == "OneView"  # a fixed value wins over the file
    assert out.nx_meta["Spot Size"] == 5.0  # a default never hides the file's value
    assert out.nx_meta["Detector Name"] == "HAADF"
    assert out.unreliable == {"Operator"}  # only fields the dataset has
    assert out.nx_meta["Extraction Profile"] == "helios.toml"


def test_profile_limited_to_some_extractors_leaves_the_others() -> None:
    profile = parse_profile("t", {"values": {"Camera": "X"}, "extractors": ["tia_ser"]}, "t")
    (out,) = apply_profile([dataset()], profile)
    assert "Camera" not in out.nx_meta and "Extraction Profile" not in out.nx_meta


@pytest.mark.parametrize(("document", "says"), [
    ({"valeus": {}}, "unknown key(s) valeus"),
    ({"values": {"Camera": [1, 2]}}, "values must be text, numbers"),
    ({"unreliable": "Operator"}, "unreliable must be a list"),
    ({"values": {"Data Type": "TEM_Imaging"}}, "may not set Data Type"),
])
def test_a_malformed_profile_says_what_to_fix(document, says) -> None:
    with pytest.raises(ConfigError, match="profile p.toml: .*" + says.replace("(", r"\(")
                       .replace(")", r"\)")):
        parse_profile("p", document, "p.toml")


def test_profiles_are_found_by_pid_as_toml_or_json(tmp_path: Path) -> None:
    (tmp_path / "helios.toml").write_text(PROFILE)
    (tmp_path / "titan.json").write_text(json.dumps({"values": {"Camera": "Ceta"}}))
    env = {"NX_LOCAL_PROFILES_PATH": str(tmp_path)}
    assert load_profile("helios", env).values == {"Camera": "Gatan OneView"}
    assert load_profile("titan", env).values == {"Camera": "Ceta"}
    assert load_profile("other", env) is None
    assert load_profile("helios", {}) is None
    (tmp_path / "broken.toml").write_text("values = [\n")
    with pytest.raises(ConfigError, match="broken.toml: not valid TOML"):
        load_profile("broken", env)
    with pytest.raises(ConfigError, match="NX_LOCAL_PROFILES_PATH=.*expects a folder"):
        load_profile("helios", {"NX_LOCAL_PROFILES_PATH": str(tmp_path / "nope")})


@pytest.mark.slow
@pytest.mark.corpus
def test_profile_applies_in_worker_processes_and_sidecars(corpus: Path, tmp_path: Path) -> None:
    """The profile travels with the context to the extraction pool and reaches the JSON."""
    store = tmp_path / "store"
    store.mkdir()
    files = []
    for i in range(8):  # enough files for extract_files to use a real process pool
        target = store / f"image_{i}.tif"
        shutil.copyfile(corpus / "tiff/FEI-Helios-Ebeam-8bits.tif", target)
        files.append(target)
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "helios.toml").write_text(PROFILE)
    profile = load_profile("helios", {"NX_LOCAL_PROFILES_PATH": str(tmp_path / "profiles")})
    datasets = extract_files(files, instrument_root=store, data_root=tmp_path / "data",
                             context=ExtractionContext(instrument="helios", profile=profile),
                             previews=False, workers=2)
    assert len(datasets) == 8
    for ds in datasets:
        assert ds.nx_meta["Camera"] == "Gatan OneView"
        assert ds.nx_meta["Detector Name"] == "ETD"  # the file says; the default waits
        assert {"Operator", "Voltage (kV)"} <= ds.unreliable
    sidecar = json.loads((tmp_path / "data" / "image_0.tif.json").read_text())
    assert sidecar["datasets"][0]["nx_meta"]["Camera"] == "Gatan OneView"
    assert "Voltage (kV)" in sidecar["datasets"][0]["unreliable"]


@pytest.mark.corpus
def test_a_pass_shows_profile_values_and_marks_bad_fields(corpus: Path, tmp_path: Path) -> None:
    """End to end: a site profile's values are in the record, its bad field is flagged."""
    start = dt.datetime(2024, 3, 5, 9, 0)
    store = tmp_path / "instr" / "Helios"
    store.mkdir(parents=True)
    when = dt.datetime(2024, 3, 5, 10, 0, tzinfo=dt.UTC).timestamp()
    for name in ("FEI-Helios-Ebeam-16bits.tif", "FEI-Helios-Ebeam-8bits.tif"):
        shutil.copyfile(corpus / "tiff" / name, store / name)
        os.utime(store / name, (when, when))
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "helios.toml").write_text(PROFILE)
    settings = load_settings({"NX_INSTRUMENT_DATA_PATH": str(tmp_path / "instr"),
                              "NX_DATA_PATH": str(tmp_path / "data"),
                              "NX_DB_PATH": str(tmp_path / "db.sqlite"),
                              "NX_LOCAL_PROFILES_PATH": str(tmp_path / "profiles")})
    db.init_db(settings.db_url)
    engine = db.make_engine(settings.db_url)
    db.add_instrument(engine, Instrument(pid="helios", filestore_path="Helios", timezone="UTC"))
    for event, at in ((EventType.START, start), (EventType.END, start.replace(hour=12))):
        db.log_session_event(engine, "s1", "helios", at, event, Status.TO_BE_BUILT, "alice")
    summary = run_pass(settings, now=dt.datetime(2024, 3, 10, tzinfo=dt.UTC))
    engine.dispose()
    assert summary.built == 1, [o.message for o in summary.outcomes]

    (record,) = settings.records_path.glob("*.xml")
    doc = etree.parse(str(record))
    named = {}
    for element in doc.iter(f"{{{NS['nx']}}}meta", f"{{{NS['nx']}}}param"):
        named.setdefault(element.get("name"), []).append(element)
    assert {e.text for e in named["Camera"]} == {"Gatan OneView"}
    assert all(e.get("warning") == "true" for e in named["Voltage (kV)"])
    assert all(e.get("warning") is None for e in named["Horizontal Field Width (um)"])


def test_a_broken_profile_fails_its_session_with_a_message_naming_the_file(
        tmp_path: Path) -> None:
    store = tmp_path / "instr" / "Scope"
    store.mkdir(parents=True)
    note = store / "notes.txt"
    note.write_text("operator notes\n")
    when = dt.datetime(2024, 3, 5, 10, 0, tzinfo=dt.UTC).timestamp()
    os.utime(note, (when, when))
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "scope.toml").write_text('[values]\n"Camera" = [1]\n')
    settings = load_settings({"NX_INSTRUMENT_DATA_PATH": str(tmp_path / "instr"),
                              "NX_DATA_PATH": str(tmp_path / "data"),
                              "NX_DB_PATH": str(tmp_path / "db.sqlite"),
                              "NX_FILE_STRATEGY": "inclusive",
                              "NX_LOCAL_PROFILES_PATH": str(tmp_path / "profiles")})
    db.init_db(settings.db_url)
    engine = db.make_engine(settings.db_url)
    db.add_instrument(engine, Instrument(pid="scope", filestore_path="Scope", timezone="UTC"))
    start = dt.datetime(2024, 3, 5, 9, 0)
    for event, at in ((EventType.START, start), (EventType.END, start.replace(hour=12))):
        db.log_session_event(engine, "s1", "scope", at, event, Status.TO_BE_BUILT, "alice")
    summary = run_pass(settings, now=dt.datetime(2024, 3, 10, tzinfo=dt.UTC))
    engine.dispose()
    (outcome,) = summary.outcomes
    assert outcome.status == Status.ERROR
    assert "scope.toml" in outcome.message and "values must be text" in outcome.message


def test_a_profile_from_an_installed_entry_point(tmp_path: Path, monkeypatch) -> None:
    """A plug-in distribution declares ``[nexuslims.profiles] helios = module:PROFILE``;
    a site file of the same name would win over it."""
    site = tmp_path / "site"
    (site / "acme_profiles-1.0.dist-info").mkdir(parents=True)
    (site / "acme_profiles-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: acme-profiles\nVersion: 1.0\n")
    (site / "acme_profiles-1.0.dist-info" / "entry_points.txt").write_text(
        "[nexuslims.profiles]\nhelios = acme_profiles:HELIOS\ntitan = acme_profiles:by_pid\n")
    (site / "acme_profiles.py").write_text(
        "HELIOS = {'values': {'Camera': 'from plug-in'}}\n"
        "def by_pid(pid):\n    return {'defaults': {'Detector Name': pid.upper()}}\n")
    monkeypatch.syspath_prepend(str(site))
    assert load_profile("helios", {}).values == {"Camera": "from plug-in"}
    assert load_profile("titan", {}).defaults == {"Detector Name": "TITAN"}
    (tmp_path / "helios.toml").write_text(PROFILE)
    local = load_profile("helios", {"NX_LOCAL_PROFILES_PATH": str(tmp_path)})
    assert local.values == {"Camera": "Gatan OneView"}
