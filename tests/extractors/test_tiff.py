"""TIFF extractors: FEI/Thermo SEM/FIB, Zeiss SEM, Olympus SIS, ImageJ and plain TIFF."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nexuslims.extractors import registry
from nexuslims.extractors._time import MTIME_WARNING
from nexuslims.extractors.base import ExtractionContext
from nexuslims.extractors.tiff import (
    FeiTiffExtractor,
    OlympusTiffExtractor,
    TiffExtractor,
    ZeissTiffExtractor,
    parse_ini,
)
from nexuslims.previews import render_placeholder

tifffile = pytest.importorskip("tifffile")

ALL = [FeiTiffExtractor(), ZeissTiffExtractor(), OlympusTiffExtractor(), TiffExtractor()]


def chosen(path: Path):
    """The first of our TIFF extractors, by priority, that accepts ``path``."""
    return next(e for e in sorted(ALL, key=lambda e: -e.priority) if e.sniff(path))


def preview_pixels(dataset, tmp_path: Path) -> np.ndarray:
    out = tmp_path / "preview.png"
    dataset.render_preview(out)
    with Image.open(out) as image:
        return np.asarray(image.convert("L")).astype(float)


# -- FEI / Thermo Fisher (corpus) ------------------------------------------------------


@pytest.mark.corpus
@pytest.mark.parametrize("name", ["FEI-Helios-Ebeam-16bits.tif", "FEI-Helios-Ebeam-8bits.tif"])
def test_helios_sem_settings_in_human_units(corpus, denver, tmp_path, name) -> None:
    path = corpus / "tiff" / name
    assert chosen(path).name == "fei_tiff"
    (ds,) = FeiTiffExtractor().extract(path, denver)
    meta = ds.nx_meta
    assert ds.dataset_type == meta["DatasetType"] == "Image"
    assert meta["Data Type"] == "SEM_Imaging"
    # June in Denver is MDT, UTC-6; the file says 05:06:40 PM
    assert meta["Creation Time"] == "2016-06-13T17:06:40-06:00"
    expected = {
        "Voltage (kV)": 5.0,
        "Working Distance (mm)": 4.03466,
        "Horizontal Field Width (um)": 1726.67,
        "Pixel Width (nm)": 3372.4,
        "Detector Name": "ETD",
        "Detector Mode": "SE",
        "Detector Signal": "SE",
        "Dwell Time (us)": 10.0,
        "Frame Time (s)": 2.62,
        "Chamber Pressure (Pa)": 0.000584097,
        "Stage Position X (um)": 25.76,
        "Stage Position Y (um)": -194.177,
        "Stage Position Z (um)": 7965.0,
        "Beam Current (pA)": 6.25,
        "Software Version": "5.5.1.3318",
        "Magnification (x)": 120.0,
        "Instrument Type": 'Helios NanoLab" 660',
        "Data Dimensions": "(442, 512)",
        "Bit Depth": 16 if "16" in name else 8,
        "Extractor": "fei_tiff",
    }
    assert {k: meta.get(k) for k in expected} == expected
    assert meta["Stage Position R (degrees)"] == pytest.approx(-135.281, abs=1e-3)
    assert len(meta) >= 55
    assert not ds.warnings and not ds.unreliable
    pixels = preview_pixels(ds, tmp_path)
    assert pixels.shape == (460, 500) and pixels.std() > 10


@pytest.mark.corpus
def test_navcam_is_told_apart_from_sem_images(corpus, utc) -> None:
    (ds,) = FeiTiffExtractor().extract(corpus / "tiff/FEI-Helios-navcam.tif", utc)
    assert ds.nx_meta["Data Type"] == "NavCam_Imaging"
    assert ds.nx_meta["Detector Name"] == "Nav-Cam"
    assert ds.nx_meta["Creation Time"] == "2022-05-17T09:07:08+00:00"
    assert "Voltage (kV)" not in ds.nx_meta  # HV is empty for the camera


@pytest.mark.corpus
def test_quanta_tiff_with_damaged_tags_and_missing_sections(corpus, denver, tmp_path) -> None:
    """Its tag table is damaged (no tag 34682, strips point outside the file) and it lacks
    [Beam]/[System]: the INI text is found in the file's tail, the preview fails cleanly."""
    path = corpus / "nexuslims/quad1image_001_no_beam_scan_or_system_meta.tif"
    assert chosen(path).name == "fei_tiff"
    (ds,) = FeiTiffExtractor().extract(path, denver)
    meta = ds.nx_meta
    assert meta["Creation Time"] == "2017-12-18T13:04:14-07:00"
    assert meta["Voltage (kV)"] == 30.0
    assert meta["Working Distance (mm)"] == 11.051
    assert meta["Chamber Pressure (Pa)"] == 79.8238
    assert meta["Vacuum Mode"] == "Low vacuum"
    assert meta["Detector Name"] == "LFD" and meta["Detector Signal"] == "SE"
    assert meta["Dwell Time (us)"] == 30.0
    assert any("Beam, System" in w for w in ds.warnings)
    out = tmp_path / "preview.png"
    try:
        ds.render_preview(out)
    except (ValueError, OSError) as exc:  # what the caller does on failure
        assert "truncated" in str(exc)
        render_placeholder(out, str(exc))
    with Image.open(out) as image:
        assert max(image.size) == 500


def test_fei_ini_parser_takes_any_line_ending() -> None:
    text = "[User]\rDate=12/18/2017\r\n[Beam]\nHV=30000\nEmpty=\n"
    assert parse_ini(text) == {"User": {"Date": "12/18/2017"}, "Beam": {"HV": "30000", "Empty": ""}}


def test_fei_tiff_written_by_tifffile(tmp_path: Path, utc) -> None:
    """A FIB image: [Beam] Beam=IBeam selects the [IBeam] and [IScan] sections."""
    ini = (
        "[User]\r\nDate=01/02/2023\r\nTime=14:05:06\r\n[Beam]\r\nBeam=IBeam\r\nScan=IScan\r\n"
        "[IBeam]\r\nHV=30000\r\nBeamCurrent=1e-10\r\nWD=0.0165\r\nHFW=1e-05\r\n"
        "[IScan]\r\nDwell=1e-07\r\nPixelWidth=1e-08\r\nFrameTime=0.5\r\n"
        "[Stage]\r\nStageX=0.001\r\nStageT=0.9180\r\n[Detectors]\r\nName=ICE\r\nMode=SE\r\n"
        "[ICE]\r\nSignal=SI\r\n"
    )
    path = tmp_path / "fib.tif"
    tifffile.imwrite(path, np.arange(64 * 64, dtype=np.uint16).reshape(64, 64),
                     extratags=[(34682, "s", 0, ini, True)])
    (ds,) = chosen(path).extract(path, utc)
    meta = ds.nx_meta
    assert meta["Data Type"] == "FIB_Imaging"
    assert meta["Voltage (kV)"] == 30.0 and meta["Beam Current (pA)"] == 100.0
    assert meta["Dwell Time (us)"] == 0.1 and meta["Pixel Width (nm)"] == 10.0
    assert meta["Stage Position X (um)"] == 1000.0
    assert meta["Stage Position Tilt (degrees)"] == pytest.approx(52.6, abs=0.01)
    assert meta["Detector Name"] == "ICE" and meta["Detector Signal"] == "SI"
    assert meta["Creation Time"] == "2023-01-02T14:05:06+00:00"


# -- Zeiss (no Zeiss file in the corpus: a tag 34118 payload written here) -------------
# SmartSEM writes parameter-name / "Label = value unit" line pairs in Latin-1 (µm, °),
# which tifffile will not write as ASCII; the bytes are stored as they are.

ZEISS_PAYLOAD = "\r\n".join([
    "", "AP_EHT", "EHT = 5.00 kV", "AP_WD", "WD = 8.5 mm", "AP_MAG", "Mag = 25.00 K X",
    "AP_PIXEL_SIZE", "Pixel Size = 4.465 nm", "AP_IPROBE", "I Probe = 200 pA",
    "AP_WIDTH", "Width = 4.572 µm", "AP_STAGE_AT_X", "Stage at X = 57.381 mm",
    "AP_STAGE_AT_T", "Stage at T = 0.0 °", "AP_FRAME_TIME", "Frame Time = 20.2 Secs",
    "AP_VACUUM", "Vac = 1.23e-004 mBar", "DP_DETECTOR_CHANNEL", "Signal A = InLens",
    "SV_VERSION", "Version = V06.03.00.00", "SV_USER_NAME", "User Name = ZEISS",
    "AP_DATE", "Date :14 Jan 2020", "AP_TIME", "Time :10:32:45", "",
])


def test_zeiss_smartsem_parameters(tmp_path: Path, denver) -> None:
    path = tmp_path / "zeiss.tif"
    tifffile.imwrite(path, (np.arange(96 * 128) % 251).astype(np.uint8).reshape(96, 128),
                     extratags=[(34118, "B", 0, ZEISS_PAYLOAD.encode("latin-1"), True)])
    assert chosen(path).name == "zeiss_tiff"
    (ds,) = ZeissTiffExtractor().extract(path, denver)
    meta = ds.nx_meta
    assert meta["Data Type"] == "SEM_Imaging"
    assert meta["Voltage (kV)"] == 5.0
    assert meta["Working Distance (mm)"] == 8.5
    assert meta["Magnification (x)"] == 25000.0
    assert meta["Pixel Width (nm)"] == 4.465
    assert meta["Beam Current (pA)"] == 200.0
    assert meta["Horizontal Field Width (um)"] == 4.572
    assert meta["Stage Position X (um)"] == 57381.0
    assert meta["Frame Time (s)"] == 20.2
    assert meta["Chamber Pressure (Pa)"] == pytest.approx(0.0123)
    assert meta["Detector Name"] == "InLens"
    assert meta["Software Version"] == "V06.03.00.00"
    assert meta["Creation Time"] == "2020-01-14T10:32:45-07:00"
    assert not ds.unreliable
    assert preview_pixels(ds, tmp_path).std() > 10


# -- Olympus SIS, ImageJ and plain TIFF ------------------------------------------------


@pytest.mark.corpus
def test_olympus_sis_tiff(corpus, denver, tmp_path) -> None:
    path = corpus / "tiff/olympus_SIS.tif"
    assert chosen(path).name == "olympus_sis_tiff"
    (ds,) = OlympusTiffExtractor().extract(path, denver)
    meta = ds.nx_meta
    assert meta["Data Type"] == "TEM_Imaging"
    assert meta["Data Dimensions"] == "(101, 112)"  # the 16-bit data page, not the RGB one
    assert meta["Bit Depth"] == 16
    assert meta["Pixel Width (nm)"] == pytest.approx(0.0239279)
    assert meta["Magnification (x)"] == 600000.0
    assert meta["Camera"] == "Quemesa"
    assert meta["Exposure Time (s)"] == pytest.approx(0.367093)
    assert meta["Creation Time"] == "2018-11-15T19:42:31-07:00"
    assert preview_pixels(ds, tmp_path).std() > 10


@pytest.mark.corpus
def test_imagej_float_tiff(corpus, utc, tmp_path) -> None:
    path = corpus / "tiff/test_loading_image_saved_with_imageJ.tif"
    assert chosen(path).name == "tiff"
    (ds,) = TiffExtractor().extract(path, utc)
    meta = ds.nx_meta
    assert meta["Data Type"] == "Image" and ds.dataset_type == "Image"
    assert meta["Pixel Data Type"] == "float32" and meta["Bit Depth"] == 32
    assert meta["ImageJ Version"] == "1.51a"
    assert meta["Pixel Width (nm)"] == pytest.approx(168.675)  # 5.928571 px per micron
    assert "Creation Time" in ds.unreliable  # no date in the file: modification time
    # said as every other format says it (before, TIFFs fell back silently)
    assert ds.warnings == [MTIME_WARNING]
    assert meta["Creation Time Source"] == "modification time"
    pixels = preview_pixels(ds, tmp_path)  # float data stretched, not saved raw
    assert pixels.shape == (500, 500) and pixels.std() > 20


def test_plain_tiff_with_datetime_and_resolution(tmp_path: Path, denver) -> None:
    path = tmp_path / "cam.tif"
    tifffile.imwrite(path, np.random.default_rng(1).integers(0, 60000, (50, 80), np.uint16),
                     datetime="2021:03:04 05:06:07", software="CamSoft 2",
                     resolution=(300, 300), resolutionunit=2)
    (ds,) = chosen(path).extract(path, denver)
    meta = ds.nx_meta
    assert ds.extractor == "tiff"
    assert meta["Creation Time"] == "2021-03-04T05:06:07-07:00"
    assert meta["Software"] == "CamSoft 2"
    assert meta["Resolution (pixels per inch)"] == 300.0
    assert meta["Data Dimensions"] == "(50, 80)"


def test_instrument_sniffs_refuse_a_plain_tiff(tmp_path: Path) -> None:
    path = tmp_path / "plain.tif"
    tifffile.imwrite(path, np.zeros((8, 8), np.uint8))
    assert [e.sniff(path) for e in ALL] == [False, False, False, True]
    (tmp_path / "fake.tif").write_bytes(b"not a tiff at all")
    assert not any(e.sniff(tmp_path / "fake.tif") for e in ALL)


@pytest.mark.corpus
def test_registry_chooses_these_extractors(corpus) -> None:
    reg = registry.Registry(entry_points=False)
    names = {name: reg.select(corpus / name).name for name in (
        "tiff/FEI-Helios-Ebeam-16bits.tif", "tiff/olympus_SIS.tif",
        "tiff/test_loading_image_saved_with_imageJ.tif",
        "nexuslims/quad1image_001_no_beam_scan_or_system_meta.tif")}
    assert names == {
        "tiff/FEI-Helios-Ebeam-16bits.tif": "fei_tiff",
        "tiff/olympus_SIS.tif": "olympus_sis_tiff",
        "tiff/test_loading_image_saved_with_imageJ.tif": "tiff",
        "nexuslims/quad1image_001_no_beam_scan_or_system_meta.tif": "fei_tiff",
    }
    datasets = reg.extract(corpus / "tiff/FEI-Helios-Ebeam-8bits.tif", ExtractionContext())
    assert datasets[0].error is None and datasets[0].render_preview is not None


# -- issue 11: fidelity of FEI values -------------------------------------------------


@pytest.mark.corpus
def test_frame_integration_comes_from_the_image_section(corpus, utc) -> None:
    """The Quanta image integrated 5 frames ([Image] Integrate=5); [Scan] says 1, the
    scan engine's setting after acquisition, which is what used to be reported."""
    path = corpus / "nexuslims/quad1image_001_no_beam_scan_or_system_meta.tif"
    (ds,) = FeiTiffExtractor().extract(path, utc)
    assert ds.nx_meta["Frames Integrated"] == 5
    assert ds.nx_meta["Frames Averaged"] == 0


@pytest.mark.corpus
def test_stage_position_says_which_section_it_came_from(corpus, utc) -> None:
    (ds,) = FeiTiffExtractor().extract(corpus / "tiff/FEI-Helios-Ebeam-16bits.tif", utc)
    assert ds.nx_meta["Stage Position Source"] == "[Stage]"
    assert not [w for w in ds.warnings if "stage" in w]


def test_stage_sections_that_disagree_are_reported(tmp_path: Path, utc) -> None:
    """[Stage] is the stage's own frame and wins; the [EBeam] copy that differs is named."""
    ini = ("[User]\nDate=01/02/2023\nTime=14:05:06\n[Beam]\nBeam=EBeam\n"
           "[EBeam]\nHV=5000\nStageX=0.002\nStageY=0.003\nStageTa=0.1\n"
           "[Stage]\nStageX=0.001\nStageY=0.003\nStageT=0.1\n")
    path = tmp_path / "sem.tif"
    tifffile.imwrite(path, np.zeros((8, 8), np.uint8), extratags=[(34682, "s", 0, ini, True)])
    (ds,) = FeiTiffExtractor().extract(path, utc)
    assert ds.nx_meta["Stage Position X (um)"] == 1000.0
    assert ds.nx_meta["Stage Position Source"] == "[Stage]"
    assert any("[EBeam]" in w and "Stage Position X (um)" in w for w in ds.warnings)

    only_beam = ini.split("[Stage]")[0]
    tifffile.imwrite(path, np.zeros((8, 8), np.uint8),
                     extratags=[(34682, "s", 0, only_beam, True)])
    (ds,) = FeiTiffExtractor().extract(path, utc)
    assert ds.nx_meta["Stage Position X (um)"] == 2000.0
    assert ds.nx_meta["Stage Position Source"] == "[EBeam]"


def test_each_stage_value_names_its_frame_in_the_sidecar_and_the_record(tmp_path: Path,
                                                                      utc) -> None:
    """[Stage] lacks X and the tilt here: they come from the beam's [EBeam] frame. Each
    value's sidecar field says which section it is in; the record says it per value in a
    schema-valid meta (before, one "[EBeam] and [Stage]" for all, and no per-value key)."""
    import json

    from nexuslims.extract.one import extract_one
    from nexuslims.record.build import build_record
    from nexuslims.record.validate import validate_record
    from tests.test_record import REFERENCE, make_activity, make_instrument, make_reservation

    ini = ("[User]\nDate=03/10/2024\nTime=10:00:00\n[Beam]\nBeam=EBeam\n"
           "[EBeam]\nHV=5000\nStageX=0.002\nStageY=0.004\nStageTa=0.1\n"
           "[Stage]\nStageY=0.003\nStageZ=0.01\n")
    folder = tmp_path / "data"
    folder.mkdir()
    path = folder / "sem.tif"
    tifffile.imwrite(path, np.zeros((8, 8), np.uint8), extratags=[(34682, "s", 0, ini, True)])
    [ds] = extract_one(path, folder, tmp_path / "out", utc, previews=False)
    body = json.loads((tmp_path / "out" / "sem.tif.json").read_text())
    fields = {f["key"]: f for f in body["datasets"][0]["fields"]}
    assert fields["Stage Position X (um)"]["source"] == "tiff:34682 [EBeam] StageX"
    assert fields["Stage Position Y (um)"]["source"] == "tiff:34682 [Stage] StageY"
    assert fields["Stage Position Y (um)"]["value"] == 3000.0  # [Stage] wins
    assert fields["Stage Position Tilt (degrees)"]["source"] == "tiff:34682 [EBeam] StageTa"
    assert ds.nx_meta["Stage Position Source"] == "X, Tilt from [EBeam]; Y, Z from [Stage]"

    xml = build_record(make_reservation(), make_instrument(), [make_activity([ds])])
    assert b"X, Tilt from [EBeam]; Y, Z from [Stage]" in xml
    assert validate_record(xml) == []  # the packaged copy of the v1.0 schema
    if REFERENCE.is_file():
        assert validate_record(xml, REFERENCE) == []
