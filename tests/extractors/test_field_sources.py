"""Nothing invented: every reported value traces to a key in the file, with a pint unit."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import h5py
import pint
import pytest

from nexuslims.extraction import extract_one
from nexuslims.extractors import ExtractionContext, extract
from nexuslims.extractors.fields import DERIVED_KEYS, PROVENANCE_KEYS, field_records

CTX = ExtractionContext()
# TIFF extractors (helper fidtiff's) record sources in their own change.
TIFF_EXTRACTORS = {"fei_tiff", "zeiss_tiff", "olympus_sis_tiff", "tiff"}


def corpus_files(corpus: Path) -> list[Path]:
    return sorted(p for p in corpus.rglob("*") if p.is_file() and p.name != "README.md")


def _om_has(signals: list, path: str) -> bool:
    for signal in signals:
        node = signal.original_metadata.as_dictionary()
        for part in _split(path):
            node = node.get(part) if isinstance(node, dict) else None
        if node is not None:
            return True
    return False


def _split(path: str) -> list[str]:
    """Dotted path; a dot inside a key that exists is kept (``Stage.X``)."""
    return path.split(".")


def _tags_have(signals: list, path: str) -> bool:
    for prefix in ("ImageList.TagGroup0.ImageTags.",
                   "ImageList.TagGroup0.ImageTags.source.Tags at creation."):
        if _om_has(signals, prefix + path):
            return True
    return False


def _velox_has(file: Path, dataset: str, path: str) -> bool:
    with h5py.File(file, "r") as h5:
        if path.startswith(("Displays/", "Presentation/", "SharedProperties/")):
            name, _, field = path.partition(".")
            return name in h5 and (not field or f'"{field}"' in h5[name][0].decode())
        if path == "Data":
            return f"Data/{dataset}" in h5
        group = h5[f"Data/{dataset}"]
        doc_name = "AcquisitionMetadata" if path.startswith("AcquisitionMetadata.") else "Metadata"
        raw = group[doc_name][:, 0].tobytes().rstrip(b"\0")
    node = json.loads(raw)
    parts = path.split(".")[1:] if doc_name == "AcquisitionMetadata" else path.split(".")
    if parts[0] == "Detectors":
        name = parts[1].strip("<>")
        node = next(d for d in node["Detectors"].values() if d.get("DetectorName") == name)
        parts = parts[2:]
    for part in parts:
        node = node[part]
    return node is not None


def _reader_has(file: Path, extractor: str, path: str) -> bool:
    from rsciio import IO_PLUGINS

    reader = {"bruker": "Bruker", "edax": "EDAX", "msa": "MSA", "hspy": "HSPY",
              "mrc": "MRC"}[extractor]
    plugin = next(p for p in IO_PLUGINS if p["name"] == reader)
    dicts = importlib.import_module(plugin["api"]).file_reader(
        str(file), lazy=reader != "MSA")
    for d in dicts:
        node = d["metadata"]
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is not None:
            return True
    return False


def traced(file: Path, ds, key: str, source: str, signals: list) -> bool:
    kind, _, where = source.partition(":")
    if kind in ("data", "filesystem"):
        return where in ("shape", "mtime", "size", "name")
    if kind == "axis":
        name = where.rsplit(".", 1)[0]
        return any(str(a.name) == name for s in signals for a in s.axes_manager.signal_axes)
    if kind in ("om", "msa"):
        return _om_has(signals, where) or (kind == "msa" and _om_has(signals, where))
    if kind == "tags":
        return _tags_have(signals, where)
    if kind == "emi":
        emi = file.parent / (re.sub(r"_\d+$", "", file.stem) + ".emi")
        raw = emi.read_bytes()
        tag = where.split("/")[-1]
        return f"<Label>{tag}</Label>".encode() in raw or f"<{tag}>".encode() in raw
    if kind == "velox":
        return _velox_has(file, ds.nx_meta["Velox Dataset"], where)
    if kind == "reader":
        return _reader_has(file, ds.extractor, where)
    if kind in ("image", "exif", "text"):
        return ds.extractor in ("image", "text")
    return False


@pytest.mark.slow
def test_every_reported_field_traces_to_a_key_in_the_file(corpus):
    import hyperspy.api as hs

    checked = 0
    for file in corpus_files(corpus):
        datasets = extract(file, CTX)
        if not datasets or datasets[0].extractor in TIFF_EXTRACTORS | {"basic", "tia-emi"}:
            continue
        signals = []
        if datasets[0].extractor not in ("velox", "image", "text"):
            try:
                loaded = hs.load(str(file), lazy=True)
            except NotImplementedError:  # the MSA reader reads eagerly only
                loaded = hs.load(str(file))
            signals = loaded if isinstance(loaded, list) else [loaded]
        for ds in datasets:
            for key in ds.nx_meta:
                if key in PROVENANCE_KEYS | DERIVED_KEYS:
                    continue
                source = ds.sources.get(key)
                assert source, f"{ds.name}: {key!r} has no source"
                assert traced(file, ds, key, source, signals), f"{ds.name}: {key} <- {source}"
                checked += 1
    assert checked > 500


def test_built_velox_eels_fields_trace_to_the_file(tmp_path):
    """The built Velox EELS file (tests/extractors/velox_files.py) traces too."""
    from tests.extractors.velox_files import build_velox_eels

    path = build_velox_eels(tmp_path / "eels.emd")
    checked = 0
    for ds in extract(path, CTX):
        for key in ds.nx_meta:
            if key in PROVENANCE_KEYS | DERIVED_KEYS:
                continue
            source = ds.sources.get(key)
            assert source and traced(path, ds, key, source, []), f"{ds.name}: {key} <- {source}"
            checked += 1
    assert checked > 60


def test_built_tia_eds_fields_trace_to_the_file(tmp_path):
    """The built TIA EDS pair (tests/extractors/tia_files.py) traces too."""
    import hyperspy.api as hs

    from tests.extractors.tia_files import build_tia_eds

    _, ser = build_tia_eds(tmp_path)
    [ds] = extract(ser, CTX)
    signals = [hs.load(ser)]
    for key in ds.nx_meta:
        if key not in PROVENANCE_KEYS | DERIVED_KEYS:
            assert traced(ser, ds, key, ds.sources[key], signals), key
    assert "EDS Energy Resolution (eV)" in ds.nx_meta


def test_no_reader_defaults_are_reported(corpus):
    # exspy fills 130 eV and a 0° stage tilt into every EDS signal; before, six datasets
    # carried that 130 eV beside the file's own 125.2 eV.
    for name in ("bruker/bruker_nano.spx", "bruker/16x16_12bit_packed_8bit.bcf",
                 "nexuslims/647_leo_edax_test.msa", "nexuslims/647_leo_edax_test.spc",
                 "msa/example1.msa", "msa/example2.msa"):
        for ds in extract(corpus / name, CTX):
            assert ds.nx_meta.get("EDS Energy Resolution MnKa (eV)") != 130.0, name
    [spx] = extract(corpus / "bruker/bruker_nano.spx", CTX)
    assert "Stage Position Alpha (deg)" not in spx.nx_meta  # the .spx states no tilt
    [msa] = extract(corpus / "nexuslims/647_leo_edax_test.msa", CTX)
    assert msa.nx_meta["EDS Energy Resolution MnKa (eV)"] == 125.2
    assert msa.sources["EDS Energy Resolution MnKa (eV)"] == "msa:RESO (MnKa)"
    [spc] = extract(corpus / "nexuslims/647_leo_edax_test.spc", CTX)
    assert spc.nx_meta["Stage Position Alpha (deg)"] == -1.0  # the file's own tilt


@pytest.mark.slow
def test_every_unit_parses_with_pint(corpus):
    ureg = pint.UnitRegistry()
    units = set()
    for file in corpus_files(corpus):
        for ds in extract(file, CTX):
            units |= {f["unit"] for f in field_records(ds.nx_meta, ds.sources) if f["unit"]}
    assert {"kV", "eV", "keV", "um", "deg", "mrad", "s"} <= units
    for unit in units:
        ureg.parse_units(unit)


def test_sidecar_carries_value_unit_source_and_em_glossary_term(corpus, tmp_path):
    file = corpus / "digitalmicrograph/test-EDS_spectrum.dm3"
    [ds] = extract_one(file, file.parent, tmp_path, CTX, previews=False)
    body = json.loads((tmp_path / "test-EDS_spectrum.dm3.json").read_text())
    fields = {f["key"]: f for f in body["datasets"][0]["fields"]}
    voltage = fields["Voltage (kV)"]
    assert voltage == {"key": "Voltage (kV)", "name": "Voltage", "value": 200.0, "unit": "kV",
                       "source": "tags:Microscope Info.Voltage",
                       "emg": "https://purls.helmholtz-metadaten.de/emg/EMG_00000004"}
    assert fields["EDS Elevation Angle (deg)"]["unit"] == "deg"
    assert fields["EDS Solid Angle (sr)"]["source"] == "tags:EDS.Detector Info.Solid angle"
    assert fields["Energy Offset (keV)"]["source"].startswith("axis:")
    assert fields["Creation Time"]["source"] == "tags:EDS.Acquisition.Start time"
    assert ds.nx_meta["Creation Time Source"] == "file wall clock + timezone"


def test_every_calibrated_spectrum_states_its_energy_offset_and_channel_width(corpus):
    # Before, only DM EELS dispersion and EDAX channel width were reported; an EELS
    # spectrum's offset (where the zero-loss peak sits) was dropped everywhere.
    seen = 0
    for name in ("digitalmicrograph/EELS_SI.dm4", "digitalmicrograph/test-EELS_spectrum.dm3",
                 "digitalmicrograph/test-EDS_spectrum.dm3", "tia/16x16-point_spectrum-1x1024_1.ser",
                 "emd/Test SI 16x16 215 kx.emd", "bruker/bruker_nano.spx",
                 "nexuslims/647_leo_edax_test.spc", "msa/example1.msa"):
        for ds in extract(corpus / name, CTX):
            if ds.dataset_type not in ("Spectrum", "SpectrumImage"):
                continue
            offset = [k for k in ds.nx_meta if k.startswith("Energy Offset (")]
            width = [k for k in ds.nx_meta if k.startswith("Energy per Channel (")]
            assert offset and width, ds.name
            seen += 1
    [eels] = extract(corpus / "digitalmicrograph/test-EELS_spectrum.dm3", CTX)
    assert (eels.nx_meta["Energy Offset (eV)"], eels.nx_meta["Energy per Channel (eV)"]) == (
        -100.0, 0.5)
    assert seen >= 12


def test_dm_spherical_aberration_processing_history_and_eds_detector(corpus):
    [diffraction] = extract(corpus / "digitalmicrograph/test_diffraction_pattern.dm3", CTX)
    assert diffraction.nx_meta["Spherical Aberration Cs (mm)"] == 1.31
    # a Tecnai writes Cs 0.0 when it does not know it: not reported
    [stem] = extract(corpus / "digitalmicrograph/test_STEM_image.dm3", CTX)
    assert "Spherical Aberration Cs (mm)" not in stem.nx_meta
    [titan] = extract(corpus / "nexuslims/643_Titan_EELS_proc_intgrate_and_bg_dataZeroed.dm3",
                      CTX)
    assert titan.nx_meta["Processing History"] == (
        "Background Removal (12/11/2019, 2:04:40 PM); "
        "Signal Integration (12/11/2019, 2:04:40 PM)")
    [eds] = extract(corpus / "digitalmicrograph/test-EDS_spectrum.dm3", CTX)
    geometry = {k: eds.nx_meta[k] for k in (
        "EDS Elevation Angle (deg)", "EDS Azimuthal Angle (deg)", "EDS Solid Angle (sr)",
        "EDS Detector Type", "EDS Window Type")}
    assert geometry == {"EDS Elevation Angle (deg)": 18.0, "EDS Azimuthal Angle (deg)": 45.0,
                        "EDS Solid Angle (sr)": 0.7, "EDS Detector Type": "SIUTW",
                        "EDS Window Type": 0}
