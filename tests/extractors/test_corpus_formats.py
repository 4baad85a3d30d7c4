"""Extractors on the real instrument files (skipped without NEXUSLIMS_TEST_CORPUS)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from nexuslims.extractors import extract

pytestmark = pytest.mark.corpus


def one(path, ctx):
    [ds] = extract(path, ctx)
    return ds


def test_eels_spectrum_dm3(corpus, denver):
    ds = one(corpus / "digitalmicrograph/test-EELS_spectrum.dm3", denver)
    m = ds.nx_meta
    assert ds.extractor == "digitalmicrograph"
    assert ds.dataset_type == "Spectrum" and m["Data Type"] == "STEM_EELS"
    assert m["Creation Time"] == "2016-08-08T19:35:17-06:00"
    assert m["Microscope"] == "FEI Titan"  # Session Info; "Name" is the plug-in
    assert m["Microscope Plug-in"] == "FEI Tecnai Remote"
    assert m["Voltage (kV)"] == 200.0
    assert m["Indicated Magnification (x)"] == 640000.0
    assert m["STEM Camera Length (mm)"] == 135.0
    assert m["Illumination Mode"] == "STEM NANOPROBE"
    assert m["Operation Mode"] == "SCANNING"
    assert m["Stage Position X (um)"] == -478.619
    assert m["EELS Exposure (s)"] == 7e-05
    assert m["EELS Convergence Semi-angle (mrad)"] == 21.0
    assert m["EELS Collection Semi-angle (mrad)"] == 0.0
    assert m["EELS Number of Frames"] == 50
    assert m["GMS Version"] == "2.31.734.0"
    assert m["Data Dimensions"] == "(2048,)"
    assert ds.render_preview is not None


def test_eels_si_dm4_24_hour_time(corpus, denver):
    ds = one(corpus / "digitalmicrograph/EELS_SI.dm4", denver)
    assert ds.dataset_type == "SpectrumImage"
    assert ds.nx_meta["Data Type"] == "STEM_EELS_Spectrum_Imaging"
    assert ds.nx_meta["Creation Time"] == "2019-05-14T20:50:13-06:00"
    assert ds.nx_meta["EELS Collection Semi-angle (mrad)"] == 62.0


@pytest.mark.parametrize(
    "name, dataset_type, data_type",
    [
        ("test-EDS_spectrum.dm3", "Spectrum", "STEM_EDS"),
        ("test_STEM_image.dm3", "Image", "STEM_Imaging"),
        ("test_diffraction_pattern.dm3", "Diffraction", "TEM_Diffraction"),
        ("test_stackbuilder_imagestack.dm3", "Image", "STEM_Imaging"),
        ("test_fft_packed_complex8.dm4", "Image", "FFT"),
        ("image-2D-test-1.dm3", "Image", "Imaging"),
        ("spectrum-1D-test-1.dm4", "Spectrum", "Spectrum"),
    ],
)
def test_dm_dataset_types(corpus, utc, name, dataset_type, data_type):
    ds = one(corpus / "digitalmicrograph" / name, utc)
    assert (ds.dataset_type, ds.nx_meta["Data Type"]) == (dataset_type, data_type)


def test_dm_multi_signal(corpus, utc):
    sets = extract(corpus / "digitalmicrograph/multi_signal.dm3", utc)
    assert [d.name for d in sets] == ["multi_signal.dm3 (1 of 2)", "multi_signal.dm3 (2 of 2)"]
    assert sets[0].nx_meta["Voltage (kV)"] == 300.0
    # the DataBar FILETIME (20:32:41Z); its wall clock said 15:32:41 (a PC on US Eastern)
    assert sets[0].nx_meta["Creation Time"] == "2019-12-10T20:32:41.436376+00:00"


def test_dm_without_date_uses_mtime_and_says_so(corpus, utc):
    ds = one(corpus / "digitalmicrograph/image-2D-test-1.dm3", utc)
    assert "Creation Time" in ds.unreliable and ds.warnings


def test_titan_eels_map_has_nexuslims_1_4_fields(corpus, utc):
    m = one(corpus / "nexuslims/643_Titan_EELS_proc_intgrate_and_bg_dataZeroed.dm3", utc).nx_meta
    assert m["DatasetType"] == "Image" and m["Data Type"] == "STEM_EELS_Map"
    assert m["Operator"] == "AndrewHerzing" and m["Specimen"] == "Au_Fibers_A2"


def test_tia_one_dataset_per_ser_with_emi_source(corpus, denver):
    first = one(corpus / "tia/16x16_STEM_BF_DF_acquire_1.ser", denver)
    second = one(corpus / "tia/16x16_STEM_BF_DF_acquire_2.ser", denver)
    for i, ds in enumerate((first, second), 1):
        m = ds.nx_meta
        assert m["TIA Metadata File"] == "16x16_STEM_BF_DF_acquire.emi"
        assert m["TIA Detector Index"] == i
        assert m["Data Type"] == "STEM_Imaging"
        assert m["Voltage (kV)"] == 200.0
        assert m["Indicated Magnification (x)"] == 10000.0
        assert m["Mode"] == "STEM nP SA Zoom Diffraction"
        assert m["Spot Size"] == "5"
        assert m["Defocus (um)"] == 0.0
        assert m["Stage Position X (um)"] == -0.158
        assert m["Emission Current (uA)"] == 0.29
        # the .ser epoch time (16:53:06Z); the .emi wall clock (17:53:06) was a CET PC
        assert m["Creation Time"] == "2016-02-21T09:53:06-07:00"


def test_tia_camera_and_spectra(corpus, utc):
    tem = one(corpus / "tia/64x64_TEM_images_acquire_1.ser", utc).nx_meta
    assert tem["Camera"] == "WA-Orius" and tem["Data Type"] == "TEM_Imaging"
    point = one(corpus / "tia/16x16-point_spectrum-1x1024_1.ser", utc)
    assert point.dataset_type == "Spectrum"
    si = one(corpus / "tia/16x16-spectrum_image-5x5x1024_1.ser", utc)
    assert si.dataset_type == "SpectrumImage" and si.nx_meta["Data Dimensions"] == "(5, 5, 1024)"


def test_emi_yields_nothing_when_ser_exists(corpus, utc):
    assert extract(corpus / "tia/64x64_TEM_images_acquire.emi", utc) == []


def test_lonely_emi_gives_basic_with_warning(corpus, utc, tmp_path):
    emi = shutil.copy(corpus / "tia/64x64_TEM_images_acquire.emi", tmp_path / "x.emi")
    ds = one(tmp_path / "x.emi", utc)
    assert ds.warnings and ds.nx_meta["Voltage (kV)"] == 200.0
    assert emi


def test_velox_emd_many_signals(corpus, denver):
    sets = extract(corpus / "emd/Test SI 16x16 215 kx.emd", denver)
    assert len(sets) == 10
    assert sets[0].name == "Test SI 16x16 215 kx.emd (1 of 10)"
    types = [d.dataset_type for d in sets]
    assert types.count("Image") == 5 and types.count("Spectrum") == 4
    assert types[-1] == "SpectrumImage"
    haadf = sets[4].nx_meta
    assert haadf["Detector"] == "HAADF" and haadf["Voltage (kV)"] == 300.0
    assert haadf["Creation Time"] == "2024-02-28T23:58:04-07:00"
    assert haadf["Dwell Time (s)"] == 0.001
    assert haadf["Stage Position X (um)"] == -416.116
    assert sets[-1].nx_meta["Data Dimensions"] == "(16, 16, 4096)"


def test_bruker_bcf_and_spx(corpus, denver):
    sets = extract(corpus / "bruker/16x16_12bit_packed_8bit.bcf", denver)
    assert [d.dataset_type for d in sets] == ["Image", "SpectrumImage"]
    si = sets[1].nx_meta
    assert si["Data Type"] == "SEM_EDS_Spectrum_Imaging"
    assert si["Voltage (kV)"] == 20.0 and si["EDS Detector Type"] == "XFlash 6|10"
    assert si["Creation Time"] == "2018-09-12T13:09:11-06:00"
    assert sets[0].nx_meta["Creation Time"] == si["Creation Time"]
    spx = one(corpus / "bruker/bruker_nano.spx", denver).nx_meta
    assert spx["Elements"] == "Fe, S, Cu" and spx["EDS Live Time (s)"] == 7.385
    assert len(spx) >= 15


def test_edax_spc_and_msa(corpus, utc):
    spc = one(corpus / "nexuslims/647_leo_edax_test.spc", utc).nx_meta
    assert spc["Voltage (kV)"] == 10.0 and spc["Elements"] == "Co, O, S"
    msa = one(corpus / "nexuslims/647_leo_edax_test.msa", utc)
    assert msa.extractor == "msa" and msa.dataset_type == "Spectrum"
    assert msa.nx_meta["Creation Time"] == "2022-08-29T10:14:00+00:00"
    assert msa.nx_meta["MSA EDAX Detector"] == "Octane Elite 25"


def test_corrupt_dm3_falls_back_with_reason(corpus, utc, tmp_path):
    bad = tmp_path / "broken.dm3"
    bad.write_bytes((corpus / "digitalmicrograph/test_STEM_image.dm3").read_bytes()[:300])
    ds = one(bad, utc)
    assert ds.extractor == "basic"
    assert ds.error.startswith("could not read as Gatan DigitalMicrograph: the file ends "
                               "before its data does (cut short")
    assert str(tmp_path) not in ds.error  # the server's folders stay out of the record


def test_zero_byte_and_wrong_extension(corpus, utc, tmp_path):
    empty = tmp_path / "empty.dm3"
    empty.touch()
    ds = one(empty, utc)
    assert ds.extractor == "basic" and ds.nx_meta["File Size (bytes)"] == 0
    assert ds.error == "the file is empty (0 bytes): a copy still under way, or one that " \
                       "failed"
    blank = tmp_path / "blank.txt"  # a reader that accepts an empty file: no error
    blank.touch()
    assert one(blank, utc).error is None
    png_named_dm3 = tmp_path / "picture.dm3"
    shutil.copy(corpus / "nexuslims/test_image_thumb_source.png", png_named_dm3)
    ds = one(png_named_dm3, utc)
    assert ds.extractor == "basic" and any("does not look like" in w for w in ds.warnings)
    assert ds.error is not None


def test_awkward_names(corpus, utc, tmp_path):
    odd = tmp_path / "a b & <c> é.dm3"
    shutil.copy(corpus / "digitalmicrograph/test-EELS_spectrum.dm3", odd)
    ds = one(odd, utc)
    assert ds.name == odd.name and ds.nx_meta["Data Type"] == "STEM_EELS"


def test_velox_spectrum_image_preview_shows_sum_image_and_spectrum(corpus, denver, tmp_path):
    from PIL import Image

    si = extract(corpus / "emd/Test SI 16x16 215 kx.emd", denver)[-1]
    assert si.dataset_type == "SpectrumImage" and si.render_preview is not None
    out = tmp_path / "si.png"
    si.render_preview(out)
    picture = Image.open(out).convert("L")
    # Two panels (500 x 260), not the 500 x 375 "Preview unavailable" card.
    assert picture.size == (500, 260)
    left = picture.crop((0, 0, 240, 260))
    assert len(np.unique(np.asarray(left))) > 8  # the summed map has structure
