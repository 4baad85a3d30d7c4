"""Velox ``.emd`` files built for tests where the corpus has none (EELS on a Velox TEM).

The layout is the one Velox writes and RosettaSciIO's Velox reader
(``rsciio/emd/_emd_velox.py``) parses, checked against the corpus' Velox 11 EDS file:

- a ``Version`` JSON (``{"version": "11", "format": "Velox"}``);
- ``/Data/<Image|SpectrumImage|SpectrumStream|EelsSpectrumImage>/<uid>`` groups with a
  ``Data`` array and a ``Metadata`` array of NUL-padded UTF-8 JSON, one column per frame;
  images are stored ``(rows, columns, frames)``; chunked as Velox chunks them (one
  frame; 8192 rows of a stream; one 60000-byte metadata column);
- the EDS spectrum image as a ``SpectrumStream`` (encoded with rsciio's own
  ``array_to_stream``: channel indices, 65535 between pixels) with its
  ``AcquisitionSettings``, beside a ``SpectrumImage`` entry holding the scan's
  calibration;
- each EELS spectrum image (the Zebra detector writes one per energy range, as the
  reader's comment says) in ``EelsSpectrumImage/<uid>`` with an ``AcquisitionMetadata``
  JSON whose ``Data.offset``/``Data.dispersion`` calibrate the energy-loss axis (eV),
  stored ``(rows, channels, columns)``: the reader transposes ``(2, 0, 1)``;
- map titles in ``/Displays/ImageDisplay`` -> ``/SharedProperties/ImageSeriesDataReference``
  -> ``/Data/Image/<uid>``, and the browser's ``/SharedProperties/DisplayGroupItem``
  entries whose ``groupType`` says what kind of map each is (``Stem`` and ``Eds`` as in
  the corpus file; ``Eels`` for the EELS maps, by analogy: an assumption).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np

SCAN = (4, 4)
EELS_CHANNELS = 48
EDS_CHANNELS = 128
LOW_LOSS = {"offset": "-5.0", "dispersion": "0.25"}  # eV
CORE_LOSS = {"offset": "480.0", "dispersion": "0.5"}  # eV
PIXEL = "2.5e-09"  # m
EDS_DISPERSION, EDS_OFFSET = "10", "-250"  # eV (Velox writes eV; rsciio divides by 1000)


def _column(doc: dict[str, Any], frames: int = 1) -> np.ndarray:
    """A JSON document as Velox stores it: 60000 bytes, NUL-padded, one column a frame."""
    raw = np.zeros(60000, np.uint8)
    text = json.dumps(doc).encode()
    raw[: len(text)] = np.frombuffer(text, dtype=np.uint8)
    return np.repeat(raw.reshape(-1, 1), frames, axis=1)


def _chunked(group: Any, name: str, data: np.ndarray) -> None:
    """A dataset chunked as Velox chunks it: one frame, or 8192 rows of a column."""
    chunks = (*data.shape[:-1], 1) if name in ("Metadata", "AcquisitionMetadata") or (
        data.ndim == 3) else (min(8192, data.shape[0]), *data.shape[1:])
    group.create_dataset(name, data=data, chunks=chunks)


def _text(doc: dict[str, Any]) -> np.ndarray:
    return np.array([json.dumps(doc).encode()])


def _metadata(detector: str, **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "Core": {"UserId": "tester"},
        "Instrument": {"Manufacturer": "FEI Company", "InstrumentClass": "Spectra",
                       "InstrumentModel": "Spectra Ultra", "InstrumentId": "1234"},
        "Acquisition": {"AcquisitionStartDatetime": {"DateTime": "1709189884"}},
        "Optics": {"AccelerationVoltage": "300000", "OperatingMode": "2",
                   "ProjectorMode": "2", "BeamConvergence": "0.025"},
        "Scan": {"DwellTime": "1e-05", "FrameTime": "0.2",
                 "ScanSize": {"width": str(SCAN[1]), "height": str(SCAN[0])}},
        "Stage": {"Position": {"x": "1e-05", "y": "-2e-05", "z": "0"}},
        "Detectors": {
            "Detector-0": {"DetectorName": "HAADF", "DetectorType": "ScanningDetector"},
            "Detector-1": {"DetectorName": "SuperXG21", "DetectorType": "AnalyticalDetector",
                           "Dispersion": EDS_DISPERSION, "OffsetEnergy": EDS_OFFSET,
                           "ElevationAngle": "0.3", "AzimuthAngle": "0.785"},
            "Detector-2": {"DetectorName": "Zebra", "DetectorType": "SpectrometerDetector"},
        },
        "BinaryResult": {"Detector": detector, "PixelSize": {"width": PIXEL, "height": PIXEL},
                         "PixelUnitX": "m", "PixelUnitY": "m",
                         "Offset": {"x": "0", "y": "0"}},
    }
    doc.update(extra)
    return doc


def build_velox_eels(path: Path) -> Path:
    """A STEM EELS + EDS acquisition: HAADF, two EELS maps, one EDS map, the EDS spectrum
    image and two EELS spectrum images (low loss and core loss), in Velox's layout.
    """
    from rsciio.utils._fei_stream_readers import array_to_stream

    rng = np.random.default_rng(11)
    rows, cols = SCAN
    images = {  # uid -> (detector, title, id, groupType)
        "a0000000000000000000000000000001": ("HAADF", "HAADF", "HAADF", "Stem"),
        "a0000000000000000000000000000002": ("Zebra", "Fe L2,3", "Fe", "Eels"),
        "a0000000000000000000000000000003": ("Zebra", "O K", "O", "Eels"),
        "a0000000000000000000000000000004": ("SuperXG2", "Fe", "Fe", "Eds"),
    }
    with h5py.File(path, "w") as h5:
        h5["Version"] = _text({"version": "11", "format": "Velox"})
        for n, (uid, (detector, title, ident, group)) in enumerate(images.items()):
            grp = h5.create_group(f"Data/Image/{uid}")
            _chunked(grp, "Data", rng.integers(0, 200, (rows, cols, 1)).astype(np.float32))
            _chunked(grp, "Metadata", _column(_metadata(detector)))
            h5[f"SharedProperties/ImageSeriesDataReference/r{n}"] = _text(
                {"dataPath": f"/Data/Image/{uid}", "frameIndex": 0})
            h5[f"Displays/ImageDisplay/d{n}"] = _text(
                {"data": f"/SharedProperties/ImageSeriesDataReference/r{n}", "id": ident,
                 "settings": "", "title": title})
            h5[f"SharedProperties/DisplayGroupItem/g{n}"] = _text(
                {"display": f"/Displays/ImageDisplay/d{n}", "groupType": group,
                 "name": title, "selected": True})
        eds = rng.integers(0, 3, (rows, cols, EDS_CHANNELS)).astype(np.uint16)
        si = h5.create_group("Data/SpectrumImage/b0000000000000000000000000000001")
        _chunked(si, "Data", np.zeros((1, 1), np.uint8))
        _chunked(si, "Metadata", _column(_metadata("SuperXG2")))
        si["SpectrumImageSettings"] = _text({"endFramePosition": "1"})
        stream = h5.create_group("Data/SpectrumStream/c0000000000000000000000000000001")
        _chunked(stream, "Data", np.asarray(array_to_stream(eds), np.uint16).reshape(-1, 1))
        _chunked(stream, "Metadata", _column(_metadata("SuperXG2")))
        stream["AcquisitionSettings"] = _text(
            {"bincount": str(EDS_CHANNELS), "StreamEncoding": "uint16"})
        for n, calibration in enumerate((LOW_LOSS, CORE_LOSS)):
            cube = rng.random((rows, EELS_CHANNELS, cols)).astype(np.float32)
            eels = h5.create_group(f"Data/EelsSpectrumImage/e{n:031d}")
            _chunked(eels, "Data", cube)
            _chunked(eels, "Metadata", _column(_metadata("Zebra")))
            _chunked(eels, "AcquisitionMetadata", _column({"Data": calibration}))
    return path
