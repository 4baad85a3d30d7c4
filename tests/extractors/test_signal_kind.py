"""The right kind of signal: Data Type and DatasetType follow the file's evidence.

Where the corpus has no file for a case, the test builds one: with HyperSpy's own
writer (EMSA), with h5py following the Velox layout (``/Data/<kind>/<uid>/Data`` and a
``Metadata`` column of JSON, as RosettaSciIO's Velox reader expects), from a real TIA
file with its energy calibration changed, or as a HyperSpy signal carrying DM tags.
"""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import h5py
import numpy as np
import pytest

from nexuslims.extractors import ExtractionContext, extract
from nexuslims.extractors.digitalmicrograph import _tags_of, classify
from tests.extractors.tia_files import build_tia_eds
from tests.extractors.velox_files import build_velox_eels

CTX = ExtractionContext()


def test_tia_eds_spectrum_is_eds_not_eels(corpus, tmp_path):
    # TIA stores only an energy calibration; this .emi says "Filter mode: Spectroscopy"
    # (a GIF is fitted), which made every TIA spectrum EELS. Recalibrated to 0-10 keV
    # at 10 eV/channel, the same file is an EDS spectrum.
    for name in ("16x16-point_spectrum-1x1024.emi", "16x16-point_spectrum-1x1024_1.ser"):
        shutil.copy(corpus / "tia" / name, tmp_path / name)
    ser = tmp_path / "16x16-point_spectrum-1x1024_1.ser"
    raw = ser.read_bytes()
    assert raw.count(struct.pack("<dd", -20.0, 0.2)) == 1
    ser.write_bytes(raw.replace(struct.pack("<dd", -20.0, 0.2), struct.pack("<dd", 0.0, 10.0)))
    [ds] = extract(ser, CTX)
    assert ds.nx_meta["Data Type"] == "STEM_EDS"
    assert ds.nx_meta["Energy per Channel (eV)"] == 10.0
    [eels] = extract(corpus / "tia/16x16-point_spectrum-1x1024_1.ser", CTX)
    assert eels.nx_meta["Data Type"] == "STEM_EELS"
    assert eels.nx_meta["Energy Offset (eV)"] == -20.0


def test_xrf_spectrum_is_not_eds(tmp_path):
    import hyperspy.api as hs

    signal = hs.signals.Signal1D(np.arange(2048.0))
    signal.metadata.set_item("Signal.signal_type", "XRF")
    signal.axes_manager[0].units, signal.axes_manager[0].scale = "keV", 0.02
    signal.save(tmp_path / "xrf.msa")
    [ds] = extract(tmp_path / "xrf.msa", CTX)
    assert (ds.dataset_type, ds.nx_meta["Data Type"]) == ("Spectrum", "XRF_Spectrum")


def test_dm_cathodoluminescence_image_in_sem_mode(tmp_path):
    import hyperspy.api as hs

    # Tag names as DigitalMicrograph writes them (RosettaSciIO's CL mapping reads these).
    signal = hs.signals.Signal2D(np.zeros((8, 8)))
    signal.original_metadata.add_dictionary({"ImageList": {"TagGroup0": {"ImageTags": {
        "Microscope Info": {"Illumination Mode": "SEM", "Operation Mode": "SEM"},
        "DigiScan": {"Sample Time": 10.0},
        "Meta Data": {"Signal": "CL", "Format": "Image"},
        "CL": {"Acquisition": {"Dispersion grating (lines/mm)": 150.0,
                               "Central wavelength (nm)": 550.0}},
    }}}})
    tags = _tags_of(signal.original_metadata)
    assert classify(signal, tags)[:2] == ("Image", "SEM_CL_Imaging")  # was STEM_Imaging


def _json_column(doc: dict) -> np.ndarray:
    return np.frombuffer(json.dumps(doc).encode(), dtype=np.uint8).reshape(-1, 1)


def _velox(path: Path, groups: list[tuple[str, str, dict, np.ndarray, dict]]) -> Path:
    with h5py.File(path, "w") as h5:
        h5["Version"] = np.array([json.dumps({"version": "11", "format": "Velox"}).encode()])
        for kind, uid, metadata, data, extras in groups:
            group = h5.create_group(f"Data/{kind}/{uid}")
            group["Data"] = data
            group["Metadata"] = _json_column(metadata)
            for name, doc in extras.items():
                group[name] = _json_column(doc)
    return path


def _camera(unit: str, projector: str, mode: str = "1") -> dict:
    return {
        "Acquisition": {"AcquisitionStartDatetime": {"DateTime": "1709189884"}},
        "Optics": {"AccelerationVoltage": "300000", "OperatingMode": mode,
                   "ProjectorMode": projector},
        "BinaryResult": {"Detector": "BM-Ceta", "PixelUnitX": unit,
                         "PixelSize": {"width": "1e-10", "height": "1e-10"}},
        "Detectors": {"Detector-0": {"DetectorName": "BM-Ceta",
                                     "DetectorType": "ImagingDetector",
                                     "ExposureTime": "0.5"}},
    }


def test_velox_projector_in_diffraction_does_not_make_a_diffraction_pattern(tmp_path):
    frames = np.zeros((16, 16, 3), np.uint16)
    path = _velox(tmp_path / "bf.emd", [
        ("Image", "a1", _camera("m", "2"), frames, {}),
        ("Image", "b2", _camera("1/m", "2"), frames[:, :, :1], {}),
    ])
    image, pattern = extract(path, CTX)
    assert (image.dataset_type, image.nx_meta["Data Type"]) == ("Image", "TEM_Imaging")
    assert image.nx_meta["Data Dimensions"] == "(3, 16, 16)"
    assert (pattern.dataset_type, pattern.nx_meta["Data Type"]) == (
        "Diffraction", "TEM_Diffraction")
    # previews carry the calibration: nm for the image, 1/nm for the pattern
    from nexuslims.extractors._velox_preview import preview_picture
    from nexuslims.extractors.velox import _axes

    with h5py.File(path, "r") as h5:
        units = [preview_picture(h5, "Image", uid, _axes("Image", _camera(u, "2")))
                 .pixel_size()[1] for uid, u in (("a1", "m"), ("b2", "1/m"))]
    assert units == ["nm", "1/nm"]


@pytest.mark.slow
def test_velox_eels_spectrum_images_are_datasets_with_their_energy_axis(tmp_path):
    """A built Velox EELS + EDS file (tests/extractors/velox_files.py: the layout
    RosettaSciIO's Velox reader parses; the corpus has no Velox EELS file).

    Each EELS spectrum image is one dataset, EELS (its detector, Zebra, says nothing
    of EELS by name), its shape as the reader gives it and its own energy calibration.
    """
    import hyperspy.api as hs

    path = build_velox_eels(tmp_path / "eels.emd")
    sis = [d for d in extract(path, CTX) if d.dataset_type == "SpectrumImage"]
    kinds = [d.nx_meta["Data Type"] for d in sis]
    assert kinds == ["STEM_EDS_Spectrum_Imaging", "STEM_EELS_Spectrum_Imaging",
                     "STEM_EELS_Spectrum_Imaging"]
    low, core = sis[1].nx_meta, sis[2].nx_meta
    assert (low["Energy Offset (eV)"], low["Energy per Channel (eV)"]) == (-5.0, 0.25)
    assert (core["Energy Offset (eV)"], core["Energy per Channel (eV)"]) == (480.0, 0.5)
    assert low["Detector"] == "Zebra"
    # the reader's own view of the same file: shapes and calibration agree
    read = [s for s in hs.load(path, select_type="spectrum_image")
            if s.metadata.Signal.signal_type == "EELS"]
    assert [str(s.data.shape) for s in read] == [low["Data Dimensions"],
                                                core["Data Dimensions"]] == ["(4, 4, 48)"] * 2
    assert [s.axes_manager.signal_axes[0].offset for s in read] == [-5.0, 480.0]
    assert sis[0].nx_meta["Data Dimensions"] == "(4, 4, 128)"


def test_velox_eels_maps_carry_element_and_line_and_are_never_eds(tmp_path):
    """Built file (see velox_files.py): an EDS Fe map beside an EELS Fe L2,3 map."""
    datasets = extract(build_velox_eels(tmp_path / "eels.emd"), CTX)
    maps = {d.nx_meta["Map Label"]: d.nx_meta for d in datasets if d.dataset_type == "Image"}
    assert set(maps) == {"HAADF", "Fe L2,3", "O K", "Fe"}
    assert [maps[k]["Data Type"] for k in ("Fe L2,3", "O K", "Fe", "HAADF")] == [
        "STEM_EELS_Map", "STEM_EELS_Map", "STEM_EDS_Map", "STEM_Imaging"]
    assert (maps["Fe L2,3"]["Elements"], maps["Fe L2,3"]["Map Line"]) == ("Fe", "L2,3")
    assert (maps["O K"]["Elements"], maps["O K"]["Map Line"]) == ("O", "K")
    assert maps["Fe"]["Elements"] == "Fe" and "Map Line" not in maps["Fe"]
    # the two Fe maps of the file can be told apart by what they say
    assert {(m["Map Label"], m["Map Group"]) for m in maps.values() if m.get("Elements") == "Fe"
            } == {("Fe L2,3", "Eels"), ("Fe", "Eds")}
    for meta in maps.values():
        if meta["Map Group"] == "Eels":
            assert not any("EDS" in str(v) for v in meta.values()), meta
            assert not any(k.startswith("EDS ") for k in meta)


def test_velox_summed_eds_maps_report_only_what_their_segments_share(corpus):
    # The maps and the spectrum image sum the four Super-X segments (SIFeature:
    # "summed": true; BinaryResult.Detector "SuperXG2"); they used to carry segment 1's
    # azimuth (45 deg), live time and count rate as if they were the sum's.
    datasets = extract(corpus / "emd/Test SI 16x16 215 kx.emd", CTX)
    summed = [d.nx_meta for d in datasets if d.nx_meta.get("Detector") == "SuperXG2"]
    assert [m["Data Type"] for m in summed] == ["STEM_EDS_Map"] * 4 + [
        "STEM_EDS_Spectrum_Imaging"]
    for meta in summed:
        assert meta["Map Group"] == "Eds" if meta["DatasetType"] == "Image" else True
        assert meta["EDS Elevation Angle (deg)"] == 18.0
        assert meta["Energy per Channel (eV)"] == 10.0
        for key in ("EDS Azimuthal Angle (deg)", "EDS Live Time (s)",
                    "EDS Input Count Rate (cps)", "EDS Solid Angle (sr)"):
            assert key not in meta, key
    segment = next(d.nx_meta for d in datasets if d.nx_meta.get("Detector") == "SuperXG24")
    assert (segment["Data Type"], segment["EDS Azimuthal Angle (deg)"]) == ("STEM_EDS", 315.0)


def test_bruker_micro_xrf_spectrum_is_not_sem_eds(corpus, tmp_path):
    # A Bruker M4-style .spx: the electron-beam header (TRTESMAHeader) replaced by the
    # X-ray tube header RosettaSciIO reads for micro-XRF (TRTXrfHeader: Voltage,
    # ExcitationAngle). 50 kV used to make the reader guess "TEM", hence TEM_EDS.
    import re

    raw = (corpus / "bruker/bruker_nano.spx").read_bytes()
    tube = (b'<ClassInstance Type="TRTXrfHeader"><Voltage>5E1</Voltage>'
            b"<ExcitationAngle>5.1E1</ExcitationAngle></ClassInstance>")
    xrf = re.sub(rb'<ClassInstance Type="TRTESMAHeader">.*?</ClassInstance>', tube, raw,
                 count=1, flags=re.S)
    (tmp_path / "xrf.spx").write_bytes(xrf)
    [ds] = extract(tmp_path / "xrf.spx", CTX)
    assert ds.nx_meta["Data Type"] == "XRF_Spectrum"
    assert ds.nx_meta["X-ray Tube Voltage (kV)"] == 50.0 and "Voltage (kV)" not in ds.nx_meta
    [sem] = extract(corpus / "bruker/bruker_nano.spx", CTX)
    assert sem.nx_meta["Data Type"] == "SEM_EDS"


def test_velox_previews_keep_the_file_calibration(corpus, tmp_path):
    # Previews used to wrap Velox data in bare signals: spectra on a "Channel" axis,
    # images without a scale bar. The preview's axes now are the file's, as
    # RosettaSciIO reads them, and agree with the extracted offset and dispersion.
    import hyperspy.api as hs

    from nexuslims.extractors._velox_preview import preview_picture
    from nexuslims.extractors.velox import _axes, _metadata

    path = corpus / "emd/Test SI 16x16 215 kx.emd"
    datasets = extract(path, CTX)
    by_uid = {d.nx_meta["Velox Dataset"]: d for d in datasets}
    read = hs.load(path, select_type="single_spectrum")
    read = read if isinstance(read, list) else [read]
    with h5py.File(path, "r") as h5:
        docs = {f"{k}/{u}": _metadata(h5[f"Data/{k}/{u}"])
                for k in ("Image", "Spectrum") for u in h5[f"Data/{k}"]}
    spectra = 0
    for key, md in docs.items():
        kind, uid = key.split("/")
        with h5py.File(path, "r") as h5:
            picture = preview_picture(h5, kind, uid, _axes(kind, md))
        meta = by_uid[key].nx_meta
        if kind == "Spectrum":
            [axis] = picture.axes
            assert (axis.name, axis.units) == ("Energy", "keV")
            assert axis.offset * 1000 == meta["Energy Offset (eV)"] == -250.0
            assert axis.scale * 1000 == meta["Energy per Channel (eV)"] == 10.0
            theirs = read[spectra].axes_manager.signal_axes[0]
            assert (theirs.offset, theirs.scale, theirs.units) == (axis.offset, axis.scale,
                                                                   axis.units)
            assert np.allclose(picture.x()[0], theirs.axis)
            spectra += 1
        else:
            y, x = picture.axes
            assert (x.units, y.units) == ("nm", "nm")
            assert abs(x.scale - meta["Pixel Size (nm)"]) < 1e-4
    assert spectra == 4
    # the built EELS spectrum image: its energy-loss axis, and the sums of the cube
    # RosettaSciIO reads
    eels_path = build_velox_eels(tmp_path / "eels.emd")
    with h5py.File(eels_path, "r") as h5:
        uid = sorted(h5["Data/EelsSpectrumImage"])[1]
        group = h5[f"Data/EelsSpectrumImage/{uid}"]
        md = _metadata(group)
        md["AcquisitionMetadata"] = json.loads(
            group["AcquisitionMetadata"][:, 0].tobytes().rstrip(b"\0"))
        picture = preview_picture(h5, "EelsSpectrumImage", uid, _axes("EelsSpectrumImage", md))
    [energy] = picture.axes
    assert (energy.name, energy.units, energy.offset, energy.scale) == (
        "Energy loss", "eV", 480.0, 0.5)
    cube = next(s for s in hs.load(eels_path, select_type="spectrum_image")
                if s.metadata.Signal.signal_type == "EELS"
                and s.axes_manager.signal_axes[0].offset == 480.0).data
    assert np.allclose(picture.data, np.asarray(cube).sum(axis=(0, 1)))
    assert np.allclose(picture.image, np.asarray(cube).sum(axis=2))


def test_tia_eds_acquisition_settings_with_units_and_sources(tmp_path):
    """A TIA EDS .emi/.ser pair built in the layout RosettaSciIO's TIA reader parses
    (tests/extractors/tia_files.py; the corpus has no TIA EDS file): 0-40 keV at
    10 eV/channel, the EDS acquisition settings in the .emi's AcquireInfo."""
    import hyperspy.api as hs
    import pint

    from nexuslims.extractors.fields import field_records

    emi, ser = build_tia_eds(tmp_path)
    [ds] = extract(ser, CTX)
    assert (ds.dataset_type, ds.nx_meta["Data Type"]) == ("Spectrum", "STEM_EDS")
    fields = {f["key"]: f for f in field_records(ds.nx_meta, ds.sources)}
    wanted = {
        "EDS Energy Resolution (eV)": (134.2, "eV", "emi:AcquireInfo/EnergyResolution"),
        "EDS Integration Time (s)": (30.0, "s", "emi:AcquireInfo/IntegrationTime"),
        "EDS Shaping Time (s)": (2.56e-05, "s", "emi:AcquireInfo/ShapingTime"),
        "Number of Spectra": (1, None, "emi:AcquireInfo/NumberSpectra"),
        "Beam Position X (um)": (0.012, "um", "emi:AcquireInfo/BeamPosition"),
        "Beam Position Y (um)": (-0.0345, "um", "emi:AcquireInfo/BeamPosition"),
        "Energy Offset (eV)": (0.0, "eV", "axis:Energy.offset"),
        "Energy per Channel (eV)": (10.0, "eV", "axis:Energy.scale"),
    }
    for key, (value, unit, source) in wanted.items():
        assert (fields[key]["value"], fields[key]["unit"], fields[key]["source"]) == (
            value, unit, source), key
        if unit:
            pint.UnitRegistry().Unit(unit)
    assert not any("EELS" in str(v) for v in ds.nx_meta.values())
    # the reader sees the same file: its settings and calibration
    signal = hs.load(emi)
    axis = signal.axes_manager.signal_axes[0]
    assert (axis.offset, axis.scale, axis.units, axis.size) == (0.0, 10.0, "eV", 4000)
    assert signal.original_metadata.ObjectInfo.AcquireInfo.EnergyResolution == "134.2"
    assert extract(emi, CTX) == []  # the .ser describes the acquisition


def test_dm_eds_detector_model_claims_no_unit_it_does_not_know(corpus):
    # DM's EDS "Detector Info" holds the detector model: the Fano factor (a pure
    # number) is reported; layer thicknesses are reported as written but with no unit
    # in their key, as no public source states the units DM stores them in (issue 23:
    # a parameter block's fields are reported; a unit is never guessed).
    [eds] = extract(corpus / "digitalmicrograph/test-EDS_spectrum.dm3", CTX)
    assert eds.nx_meta["EDS Fano Factor"] == 0.1
    assert eds.sources["EDS Fano Factor"] == "tags:EDS.Detector Info.Fano"
    layers = {k: v for k, v in eds.nx_meta.items()
              if "layer" in k.lower() or "thickness" in k.lower()}
    assert layers == {"EDS Active Layer": 0.5, "EDS Dead Layer": 1e-05,
                      "EDS Gold Layer": 1e-06, "EDS Window Thickness": 0.0001}
    assert not [k for k in layers if "(" in k]


def test_dm_image_stack_label_follows_its_source_image_tags(corpus):
    # Stack Builder keeps the HAADF source image's tags ("source.Tags at creation"):
    # STEM illumination, scanning operation, DigiScan. Three 16x2 frames of a STEM
    # image: an Image dataset labelled STEM_Imaging, as the corpus README describes.
    [stack] = extract(corpus / "digitalmicrograph/test_stackbuilder_imagestack.dm3", CTX)
    meta = stack.nx_meta
    assert (stack.dataset_type, meta["Data Type"], meta["Data Dimensions"]) == (
        "Image", "STEM_Imaging", "(3, 2, 16)")
    assert (meta["Illumination Mode"], meta["Operation Mode"]) == ("STEM", "SCANNING")
    assert stack.sources["Illumination Mode"] == "tags:Microscope Info.Illumination Mode"
