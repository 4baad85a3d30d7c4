"""Issue 23: the right values on files the extractors had not been shown, one test per
class of mistake (units, "not set" values, signal kind, instrument and people, clocks,
dimensions, calibrations, formats, dropped fields, noise).

Real files come from the shared corpus (``corpus``) and from public repositories
(``extra_files``: RosettaSciIO's ``rsciio/tests/data`` at commit bc254db1, zip
archives unpacked; see docs/formats.md). A few tests build a file to a format's
documentation where no public file has the case (a Fibics TIFF dated with an offset).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from nexuslims.extractors import registry

REGISTRY = registry.Registry(entry_points=False)


def extract(path: Path, context) -> list:
    assert path.is_file(), f"{path} missing from the test files"
    return REGISTRY.extract(path, context)


def one(path: Path, context):
    (ds,) = extract(path, context)
    return ds.nx_meta


# -- 1. a unit the file states is converted from that unit --------------------------


def test_units_are_converted_from_the_unit_the_file_states() -> None:
    from nexuslims.extractors.values import convert, put_quantity

    assert convert(1.9, "Mins", "s") == pytest.approx(114.0)
    assert convert(100, "ns", "us") == pytest.approx(0.1)
    assert convert(1.87e-6, "mbar", "Pa") == pytest.approx(1.87e-4)
    assert convert(3, "furlongs per fortnight", "s") is None
    meta: dict = {}
    put_quantity(meta, "Frame Time (s)", 1.6, "Fortnites", "test")
    assert meta == {"Frame Time": "1.6 Fortnites"}  # an unknown unit is kept, not guessed


def test_zeiss_cycle_time_in_minutes_and_dwell_time_in_ns(extra_files, utc) -> None:
    """SmartSEM writes ``Cycle Time = 1.9  Mins``: it was published as 1.9 s; the
    ``DP_DWELL_TIME`` (ns) was dropped."""
    meta = one(extra_files / "tiff/tiff_Zeiss_SEM/ZEISS_SEM_multipage.tif", utc)
    assert meta["Frame Time (s)"] == pytest.approx(114.0)
    assert meta["Dwell Time (us)"] == pytest.approx(0.1)
    assert meta["Chamber Pressure (Pa)"] == pytest.approx(4.09e-4)
    other = one(extra_files / "tiff/tiff_Zeiss_SEM/test_tiff_Zeiss_SEM_1k.tif", utc)
    assert other["Frame Time (s)"] == pytest.approx(40.5)  # "Secs"
    assert other["Chamber Pressure (Pa)"] == pytest.approx(1.87e-4)  # "mbar"
    assert other["Pixel Width (nm)"] == pytest.approx(2615.0)  # "µm"


# -- 2. "not set" and "not computed" publish nothing --------------------------------


def test_bruker_working_distance_minus_one_is_not_set(extra_files, utc) -> None:
    for ds in extract(extra_files / "bruker/test_TEM.bcf", utc):
        assert "Working Distance (mm)" not in ds.nx_meta


def test_mrc_statistics_not_computed_and_uncalibrated_axes(extra_files, utc) -> None:
    """MRC2014: AMAX < AMIN and RMS < 0 mean "not computed"; DE's movie axes carry
    RosettaSciIO's default scale 1 (nm^-1), which is no calibration."""
    meta = one(extra_files / "mrc/HAADFscan.mrc", utc)
    assert not any(key.startswith("Density") for key in meta)
    assert meta["Pixel Size (nm)"] == pytest.approx(5.67913)  # this one is calibrated
    movie = one(extra_files / "mrc/20241021_00405_movie.mrc", utc)
    assert not any(key.startswith(("Pixel Size", "Density")) for key in movie)


# -- 3. the kind of signal follows the file's own evidence --------------------------


def test_bruker_hypermap_image_is_scanned_like_its_spectrum_image(extra_files, utc) -> None:
    image, spectrum_image = extract(extra_files / "bruker/test_TEM.bcf", utc)
    assert spectrum_image.nx_meta["Data Type"] == "STEM_EDS_Spectrum_Imaging"
    assert image.nx_meta["Data Type"] == "STEM_Imaging"


FIBICS = """<?xml version="1.0" encoding="iso-8859-1"?><Fibics version="1.2">\
<Application><Version>ZEISS Atlas 5 Client v5.5</Version>\
<Date>2021-06-01T10:15:00+02:00</Date></Application>\
<Image><Width>64</Width><Height>48</Height><Beam>SEM</Beam><Machine>Auriga</Machine>\
<Detector>InLens</Detector></Image>\
<Scan><Dwell units="ns">800</Dwell><FOV_X units="um">12.8</FOV_X></Scan>\
<Stage><X units="mm">1.5</X></Stage>\
<BeamInfo><item name="AccV">=1500.0 V</item></BeamInfo></Fibics>"""


def test_fibics_sem_beam_date_with_offset_and_units(tmp_path: Path, utc) -> None:
    """A Fibics Atlas TIFF on an SEM (``<Beam>SEM``) was typed HIM; its ``<Date>`` with
    an offset lost to the TIFF wall clock; ``units`` attributes were ignored."""
    tifffile = pytest.importorskip("tifffile")
    path = tmp_path / "atlas.tif"
    tifffile.imwrite(path, np.zeros((48, 64), np.uint8), datetime="2021:06:01 12:15:00",
                     extratags=[(51023, "s", 0, FIBICS, True)])
    meta = one(path, utc)
    assert meta["Data Type"] == "SEM_Imaging"
    assert meta.sources["Data Type"].endswith("Fibics/Image/Beam")
    assert meta["Creation Time"] == "2021-06-01T10:15:00+02:00"
    assert meta["Creation Time Source"] == "file absolute clock"
    assert meta["Dwell Time (us)"] == pytest.approx(0.8)
    assert meta["Stage Position X (um)"] == pytest.approx(1500.0)
    assert meta["Voltage (kV)"] == pytest.approx(1.5)


# -- 4. instrument and people ---------------------------------------------------------


def test_dm_microscope_is_the_instrument_not_the_plugin(corpus, utc) -> None:
    meta = one(corpus / "digitalmicrograph/test-EELS_spectrum.dm3", utc)
    assert meta["Microscope"] == "FEI Titan"
    assert meta["Microscope Plug-in"] == "FEI Tecnai Remote"
    bare = one(corpus / "digitalmicrograph/test_diffraction_pattern.dm3", utc)
    assert "Microscope" not in bare  # the file names only the plug-in
    assert bare["Microscope Plug-in"] == "FEI Tecnai"
    assert bare["Voltage (kV)"] == 200.0 and bare["Spherical Aberration Cs (mm)"] == 1.31


def test_placeholders_are_not_published(extra_files, utc) -> None:
    """DE-Server writes ``Instrument Project Name = Unknown``; the Phenom reader maps the
    serial number as the microscope."""
    movie = one(extra_files / "mrc/20241021_00405_movie.mrc", utc)
    assert "Unknown" not in movie.values()
    # "Instrument Metadata = TEM Channel Disconnected": the voltage is DE's default
    assert "Voltage (kV)" not in movie and "Magnification (x)" not in movie
    image = extract(extra_files / "phenom/Elid2Version4.elid", utc)[0].nx_meta
    assert image["Microscope"] == "PhenomXL"
    assert image["Instrument Serial"] == "MVE027364-0026-L"


# -- 5. every clock a format carries; an absolute instant beats a wall clock --------


def test_tvips_and_de_server_clocks(extra_files, utc) -> None:
    tvips = one(extra_files / "tiff/TVIPS_bin4/TVIPS_bin4.tif", utc)
    assert tvips["Creation Time"] == "2017-04-12T09:01:17+00:00"
    assert tvips.sources["Creation Time"] == "tiff:37706 Date + tiff:37706 Time"
    de = one(extra_files / "mrc/20241021_00405_movie.mrc", utc)
    assert de["Creation Time"] == "2024-10-21T19:36:50+00:00"  # epoch 1729539410
    assert de["Creation Time Source"] == "file absolute clock"


# -- 6. dimensions describe the stored data ---------------------------------------


def test_fei_data_dimensions_exclude_the_data_bar(corpus, utc) -> None:
    meta = one(corpus / "tiff/FEI-Helios-Ebeam-16bits.tif", utc)
    assert meta["Data Dimensions"] == "(442, 512)"
    assert meta["Image Height (pixels)"] == 471
    assert meta["Data Bar Height (pixels)"] == 29


# -- 7. calibrations the file has --------------------------------------------------


def test_pixel_size_of_tia_and_bruker_images(corpus, utc) -> None:
    tia = one(corpus / "tia/128x128-TEM_search_1.ser", utc)
    assert tia["Pixel Size (nm)"] > 0
    image = extract(corpus / "bruker/16x16_12bit_packed_8bit.bcf", utc)[0].nx_meta
    assert image["Pixel Size (nm)"] > 0
    assert image.sources["Pixel Size (nm)"].startswith("axis:")
    pattern = one(corpus / "digitalmicrograph/test_diffraction_pattern.dm3", utc)
    assert pattern["Pixel Size (1/nm)"] == pytest.approx(0.174433, rel=1e-5)  # reciprocal
    assert "Pixel Size (nm)" not in pattern


# -- 8. formats read as basic information only ---------------------------------------


@pytest.mark.parametrize("name, extractor, fields", [
    ("phenom/Elid2Version4.elid", "phenom", 25),
    ("emd/example_metadata.emd", "ncem_emd", 10),
    ("tiff/TVIPS_bin4/TVIPS_bin4.tif", "tvips_tiff", 20),
    ("mrc/20241021_00405_movie.mrc", "mrc", 25),
])
def test_formats_read_beyond_basic_information(extra_files, utc, name, extractor,
                                               fields) -> None:
    datasets = extract(extra_files / name, utc)
    assert {ds.extractor for ds in datasets} == {extractor}
    assert len(datasets[0].nx_meta) >= fields


def test_ncem_emd_microscope_and_user(extra_files, utc) -> None:
    meta = one(extra_files / "emd/example_metadata.emd", utc)
    assert (meta["Microscope"], meta["Voltage (kV)"], meta["Operator"]) == (
        "Titan", 300.0, "John Doe")


# -- 9. header fields no longer dropped ---------------------------------------------


def test_every_emsa_keyword_is_metadata(corpus, utc) -> None:
    meta = one(corpus / "msa/example1.msa", utc)
    for key in ("MSA OFFSET", "MSA XUNITS", "MSA YUNITS", "MSA SIGNALTYPE"):
        assert key in meta, key


def test_zeiss_beam_shift_and_stigmators(extra_files, utc) -> None:
    meta = one(extra_files / "tiff/tiff_Zeiss_SEM/ZEISS_SEM_multipage.tif", utc)
    assert meta["Beam Shift X (%)"] == -54.2 and meta["Stigmator X (%)"] == -12.8


# -- 10. noise ---------------------------------------------------------------------


def test_unknown_signal_type_is_not_a_warning(tmp_path: Path, utc, caplog) -> None:
    """A CL signal without LumiSpy installed: HyperSpy's "not understood" is no
    warning about the data."""
    import hyperspy.api as hs

    path = tmp_path / "cl.hspy"
    signal = hs.signals.Signal1D(np.arange(64, dtype=float))
    signal.set_signal_type("CL")
    signal.save(path)
    caplog.set_level(logging.WARNING)
    caplog.clear()  # set_signal_type above complains itself
    (ds,) = extract(path, utc)
    assert not [r for r in caplog.records if "not understood" in r.getMessage()]
    assert not [w for w in ds.warnings if "not understood" in w]


def test_velox_complex_images_get_a_preview(extra_files, utc, tmp_path: Path) -> None:
    """Velox stores FFTs and DPC results as (real, imaginary) fields: the preview was
    "could not be drawn"; it is magnitude and phase side by side."""
    from PIL import Image

    for name in ("emd/fei_example_complex_fft.emd", "emd/FFTComplexEven.emd"):
        first = extract(extra_files / name, utc)[0]
        out = tmp_path / (Path(name).stem + ".png")
        first.render_preview(out)
        width, height = Image.open(out).size
        assert width == 500 and height < width  # two panels side by side


def test_hspy_saved_from_dm_keeps_the_dm_fields(corpus, utc, tmp_path: Path) -> None:
    """A DM file saved by HyperSpy keeps its DM tags: Cs, modes and stage are read as
    from the .dm3, and the DM reader's "microscope" is the plug-in."""
    import hyperspy.api as hs

    path = tmp_path / "pattern.hspy"
    hs.load(corpus / "digitalmicrograph/test_diffraction_pattern.dm3").save(path)
    meta = one(path, utc)
    assert meta["Spherical Aberration Cs (mm)"] == 1.31
    assert meta["Microscope Plug-in"] == "FEI Tecnai" and "Microscope" not in meta
    assert meta["Operation Mode"] == "DIFFRACTION"


def test_velox_spectrum_image_is_its_scanned_area(corpus, utc, tmp_path: Path) -> None:
    """The corpus SI scans a 16x16 part (``Scan.ScanArea``) of a 128x128 frame
    (``Scan.ScanSize``). Without its maps beside it (removed from a copy), the SI was
    reported as the whole frame, (128, 128, 4096)."""
    import shutil

    import h5py

    path = tmp_path / "si.emd"
    shutil.copy(corpus / "emd/Test SI 16x16 215 kx.emd", path)
    with h5py.File(path, "r+") as h5:
        del h5["Data/Image"]
    (si,) = [ds for ds in extract(path, utc) if ds.dataset_type == "SpectrumImage"]
    assert si.nx_meta["Data Dimensions"] == "(16, 16, 4096)"
    assert si.nx_meta["Scan Size"] == "128x128"  # the frame: a separate field


def test_tescan_alignments_and_grid_voltage(tmp_path: Path, utc) -> None:
    """Tescan's [SEM] block carries gun shift and tilt, lens centring and the MTD grid
    voltage; they were dropped (built to the layout of test_tiff_vendors' AMBER X file,
    with the keys NexusLIMS 2.8 reads from real Tescan files)."""
    tifffile = pytest.importorskip("tifffile")
    from tests.extractors.test_tiff_vendors import IMAGE, TESCAN_MAIN, TESCAN_SEM

    extra = ("GunShiftX=0.12\r\nGunShiftY=-0.3\r\nGunTiltX=1.5\r\nGunTiltY=-2.25\r\n"
             "IMLCenteringX=0.01\r\nIMLCenteringY=0.02\r\nMTDGrid=-50.0\r\n")
    payload = (TESCAN_MAIN + TESCAN_SEM + extra).encode() + b"\x00"
    path = tmp_path / "amber.tif"
    tifffile.imwrite(path, IMAGE, extratags=[(50431, 7, len(payload), payload, True)],
                     metadata=None)
    meta = one(path, utc)
    assert (meta["Gun Shift X"], meta["Gun Tilt Y"], meta["IML Centering Y"]) == (
        0.12, -2.25, 0.02)
    assert meta["MTD Grid Voltage (V)"] == -50.0


def test_ncem_emd_converted_from_tia_keeps_its_clock_and_settings(extra_files, utc) -> None:
    """NCEM's converter (openNCEM ``fileSER.writeEMD``, run on the corpus'
    ``tia/64x64_TEM_images_acquire_1.ser``; see docs/formats.md) keeps the .ser's epoch
    ``timestamp`` on the data and the .emi settings as ``Label [unit]`` attributes."""
    meta = one(extra_files / "ncem/64x64_TEM_images_acquire.emd", utc)
    assert meta["Creation Time"] == "2016-02-21T16:50:29+00:00"
    assert meta["Creation Time Source"] == "file absolute clock"
    assert meta["Data Type"] == "TEM_Imaging"
    assert (meta["Microscope"], meta["Voltage (kV)"], meta["Operator"]) == (
        "Tecnai 200 kV D2267 SuperTwin", 200.0, "ERIC")
    assert meta["Objective lens (%)"] == 91.722
