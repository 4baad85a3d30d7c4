"""Nothing invented: every reported value traces to a key in the file, with a pint unit."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import h5py
import pint
import pytest

from nexuslims.extract.one import extract_one
from nexuslims.extractors import ExtractionContext, extract
from nexuslims.extractors.fields import DERIVED_KEYS, PROVENANCE_KEYS, field_records

CTX = ExtractionContext()


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
    if " + " in source:  # a value computed from several keys (see fields.SOURCE_KINDS)
        return all(traced(file, ds, key, part, signals) for part in source.split(" + "))
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


def is_tiff(file: Path) -> bool:
    return file.suffix.lower() in (".tif", ".tiff")


def assert_traced(file: Path, datasets: list, signals: list) -> int:
    """Every reported value of ``datasets`` has a source found in ``file``; the count."""
    checked = 0
    for ds in datasets:
        for key in ds.nx_meta:
            if key in PROVENANCE_KEYS | DERIVED_KEYS:
                continue
            source = ds.sources.get(key)
            assert source, f"{ds.name}: {key!r} has no source"
            found = tiff_traced(file, source) if is_tiff(file) else traced(
                file, ds, key, source, signals)
            assert found, f"{ds.name}: {key} <- {source}"
            checked += 1
    return checked


# -- TIFF: sources are "tiff:<tag> <where in the tag>", joined by " + " when a value is
# computed from several keys. Checked here against the file with tifffile and plain
# parsers, not with the extractors' own code.

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def tiff_traced(file: Path, source: str) -> bool:
    return all(_tiff_part(file, part.strip()) for part in source.split(" + "))


def _tiff_part(file: Path, part: str) -> bool:
    import tifffile

    kind, _, rest = part.partition(":")
    if kind in ("data", "filesystem"):
        return rest in ("shape", "mtime")
    if kind == "file-tail":  # the FEI text after a damaged tag table, from its [User]
        tail = file.read_bytes()[-256 * 1024:].decode("latin-1")
        return "[User]" in tail and _ini_has(tail[tail.index("[User]"):], rest)
    if kind == "hdr":  # the Tescan sidecar
        text = file.with_suffix(".hdr").read_text("utf-8", errors="replace")
        return not rest or _ini_has(text, rest)
    if kind != "tiff":
        return False
    code_text, _, path = rest.partition(" ")
    with tifffile.TiffFile(file) as tif:
        if code_text == "pages":
            return len(tif.pages) > 1
        code = int(code_text)
        tag = next((p.tags[code] for p in tif.pages if code in p.tags), None)
        if tag is None:
            return False
        tif.filehandle.seek(tag.valueoffset)
        raw = bytes(tif.filehandle.read(tag.valuebytecount))
        value = tag.value
    if not path or path == tag.name:
        return True
    if code == 65027:
        return _dm_has(raw, path)
    if code in (33560, 34665):  # Olympus SIS block, EXIF: decoded by tifffile
        return path.rsplit("/", 1)[-1] in value
    text = raw.replace(b"\x00", b"").decode("utf-8", errors="replace")
    if path.startswith("["):
        section, _, key = path[1:].partition("] ")
        if code == 50431:  # Tescan writes the keys without their section headers
            return f"{key}=" in text
        return _ini_has(text, path)
    if path.startswith("ImageDescription "):  # ImageJ's key=value lines
        return path.split(" ", 1)[1] in text.splitlines()[0] or any(
            line.startswith(path.split(" ", 1)[1]) for line in text.splitlines())
    if code == 34118:  # a Zeiss SmartSEM parameter name
        return path in text.split()
    return _xml_has(text, path)


def _ini_has(text: str, path: str) -> bool:
    """``[Section] Key`` (or just ``[Section]``) present in INI text, any line ending."""
    section, _, key = path[1:].partition("]")
    current = None
    for line in re.split(r"\r\n|\r|\n", text):
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            if current == section and not key.strip():
                return True
        elif current == section and line.startswith(key.strip() + "="):
            return True
    return False


def _xml_has(text: str, path: str) -> bool:
    import xml.etree.ElementTree as ET

    text = _CONTROL.sub("", text).strip()
    if text.startswith("<?xml"):
        text = text.split("?>", 1)[1]
    root = ET.fromstring(text.strip())
    nodes = [root]
    for depth, step in enumerate(re.findall(r"[^/\[]+(?:\[[^\]]*\])?", path)):
        name, _, predicate = step.partition("[")
        if depth == 0:
            if _local(root.tag) != name:
                return False
            continue
        attr, _, wanted = predicate.rstrip("]").partition("=")
        nodes = [child for node in nodes for child in node if _local(child.tag) == name
                 and (not predicate or (child.get(attr[1:]) if attr.startswith("@")
                                        else child.findtext(attr)) == wanted)]
    return bool(nodes)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _dm_has(raw: bytes, dotted: str) -> bool:
    import io

    from rsciio.digitalmicrograph._api import DigitalMicrographReader

    reader = DigitalMicrographReader(io.BytesIO(raw))
    reader.parse_file()
    node = reader.tags_dict
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node is not None


@pytest.mark.slow
def test_every_reported_field_traces_to_a_key_in_the_file(corpus):
    import hyperspy.api as hs

    checked = 0
    for file in corpus_files(corpus):
        datasets = extract(file, CTX)
        if not datasets or datasets[0].extractor in {"basic", "tia-emi"}:
            continue
        signals = []
        if datasets[0].extractor not in ("velox", "image", "text") and not is_tiff(file):
            try:
                loaded = hs.load(str(file), lazy=True)
            except NotImplementedError:  # the MSA reader reads eagerly only
                loaded = hs.load(str(file))
            signals = loaded if isinstance(loaded, list) else [loaded]
        checked += assert_traced(file, datasets, signals)
    assert checked > 800


def test_every_tiff_field_traces_to_a_key_in_the_file(corpus, tmp_path):
    """Corpus TIFFs and one built file of each vendor layout the corpus lacks: before,
    no TIFF extractor recorded where its values came from."""
    files = [p for p in corpus_files(corpus) if is_tiff(p)] + built_vendor_tiffs(tmp_path)
    counts = {}
    for file in files:
        datasets = extract(file, CTX)
        counts[(file.name, datasets[0].extractor)] = assert_traced(file, datasets, [])
    extractors = {extractor for _, extractor in counts}
    assert extractors == {"fei_tiff", "fei_tem_tiff", "tescan_tiff", "him_tiff", "zeiss_tiff",
                          "jeol_tiff", "gatan_tiff", "olympus_sis_tiff", "tiff"}
    assert counts[("FEI-Helios-Ebeam-16bits.tif", "fei_tiff")] > 50


def built_vendor_tiffs(folder: Path) -> list[Path]:
    """One TIFF per vendor layout the tests build (see test_tiff*.py for their origin)."""
    import numpy as np
    import tifffile

    from tests.extractors import test_tiff, test_tiff_jeol_dm, test_tiff_vendors

    image = np.arange(48 * 64, dtype=np.uint16).reshape(48, 64)
    ini = ("[User]\nDate=01/02/2023\nTime=14:05:06\n[Beam]\nBeam=EBeam\n"
           "[EBeam]\nHV=5000\nStageX=0.002\nStageTa=0.1\n[Stage]\nStageY=0.003\n")
    tags = {
        "fei_mixed_frames.tif": [(34682, "s", 0, ini, True)],
        "zeiss.tif": [(34118, "B", 0, test_tiff.ZEISS_PAYLOAD.encode("latin-1"), True)],
        "tescan.tif": [(50431, 7, 0, (test_tiff_vendors.TESCAN_MAIN
                                      + test_tiff_vendors.TESCAN_SEM).encode(), True)],
        "orion.tif": [(65000, "s", 0, test_tiff_vendors.ORION_XML, True)],
        "fibics.tif": [(51023, "s", 0, test_tiff_vendors.FIBICS_XML, True)],
        "tecnai.tif": [(34682, 7, 0, test_tiff_vendors.FEI_TEM_XML.encode("utf-8"), True)],
        "dm.tif": test_tiff_jeol_dm.CALIBRATION + [
            (65027, "B", 0, test_tiff_jeol_dm.dm4_stream(test_tiff_jeol_dm.DM_TAGS), True)],
        "sightx.tif": [(270, "s", 0, test_tiff_jeol_dm.SIGHTX_XML, True),
                       (271, "s", 0, "JEOL Ltd.", True)],
        "analysis_center.tif": [(270, "s", 0, test_tiff_jeol_dm.ANALYSIS_CENTER_XML, True)],
        "camera.tif": [],
    }
    files = []
    for name, extra in tags.items():
        extra = [(c, d, len(v) if d in (7, "B") else n, v, w) for c, d, n, v, w in extra]
        tifffile.imwrite(folder / name, image, extratags=extra, metadata=None,
                         datetime="2021:03:04 05:06:07", resolution=(300, 300))
        files.append(folder / name)
    hdr = folder / "tescan_sidecar.tif"
    tifffile.imwrite(hdr, image, metadata=None)
    hdr.with_suffix(".hdr").write_text(f"[MAIN]\n{test_tiff_vendors.TESCAN_MAIN}[SEM]\n"
                                       f"{test_tiff_vendors.TESCAN_SEM}")
    return [*files, hdr]


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


def test_the_tiff_source_check_refuses_keys_the_file_lacks(corpus, tmp_path):
    helios = corpus / "tiff/FEI-Helios-Ebeam-16bits.tif"
    assert tiff_traced(helios, "tiff:34682 [EBeam] HV + tiff:256 ImageWidth")
    assert not tiff_traced(helios, "tiff:34682 [EBeam] NoSuchKey")
    assert not tiff_traced(helios, "tiff:34682 [NoSection] HV")
    assert not tiff_traced(helios, "tiff:65027 Microscope Info.Voltage")  # no such tag
    [sightx] = [p for p in built_vendor_tiffs(tmp_path) if p.name == "sightx.tif"]
    assert tiff_traced(sightx, "tiff:270 TemReporter/GonioStage/StagePosition/TX")
    assert not tiff_traced(sightx, "tiff:270 TemReporter/GonioReporter/TiltX")
