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

from nexuslims.extractors import ExtractionContext, extract
from nexuslims.extractors.digitalmicrograph import _tags_of, classify

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
    tags = _tags_of(signal)
    assert classify(signal, tags) == ("Image", "SEM_CL_Imaging")  # was STEM_Imaging


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


def test_velox_eels_spectrum_image_is_a_dataset(tmp_path):
    eels = {"Acquisition": {"AcquisitionStartDatetime": {"DateTime": "1709189884"}},
            "Optics": {"AccelerationVoltage": "300000", "OperatingMode": "2"},
            "BinaryResult": {"Detector": "EELS"}}
    calibration = {"Data": {"offset": "-5.0", "dispersion": "0.25"}}
    path = _velox(tmp_path / "eels.emd", [
        ("EelsSpectrumImage", "c3", eels, np.zeros((4, 4, 32), np.float32),
         {"AcquisitionMetadata": calibration}),
    ])
    [ds] = extract(path, CTX)
    assert (ds.dataset_type, ds.nx_meta["Data Type"]) == (
        "SpectrumImage", "STEM_EELS_Spectrum_Imaging")
    assert ds.nx_meta["Energy Offset (eV)"] == -5.0
    assert ds.nx_meta["Energy per Channel (eV)"] == 0.25
    assert ds.nx_meta["Data Dimensions"] == "(4, 4, 32)"


def test_velox_maps_carry_their_element(corpus):
    datasets = extract(corpus / "emd/Test SI 16x16 215 kx.emd", CTX)
    labels = [d.nx_meta.get("Map Label") for d in datasets if d.dataset_type == "Image"]
    assert labels == ["C", "Ca", "O", "Cu", "HAADF"]
    maps = [d for d in datasets if d.nx_meta["Data Type"] == "STEM_EDS_Map"]
    assert [d.nx_meta["Elements"] for d in maps] == ["C", "Ca", "O", "Cu"]


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
