"""Thermo Fisher Velox ``.emd`` (HDF5): many signals per file, each with its own metadata.

Each ``/Data/<Image|Spectrum|SpectrumImage>/<uuid>`` group holds ``Data`` and a
``Metadata`` array of JSON text (one column per frame). The metadata is read here with
h5py directly: RosettaSciIO's Velox reader needs the optional ``sparse`` package as soon
as a file holds an EDS spectrum image, and one missing package must not lose a whole
file's metadata. Pixel data are read only when a preview is drawn.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ._common import epoch_iso, finish, mtime_iso, multi_name, put
from .base import ExtractedDataset, ExtractionContext

NAME = "velox"
_KINDS = ("Image", "Spectrum", "SpectrumImage")
_SCANNING = ("ScanningDetector", "AnalyticalDetector")


def _f(value: Any) -> float | None:
    try:
        val = float(value)
    except (TypeError, ValueError):
        return None
    return val if math.isfinite(val) else None


def _scaled(value: Any, scale: float) -> float | None:
    val = _f(value)
    return None if val is None else val * scale


def _metadata(group: Any) -> dict[str, Any]:
    raw = group["Metadata"][:, 0].tobytes().rstrip(b"\0")
    return json.loads(raw.decode("utf-8", "replace"))


def _detector(md: dict[str, Any], name: str) -> dict[str, Any]:
    for det in (md.get("Detectors") or {}).values():
        if isinstance(det, dict) and det.get("DetectorName") == name:
            return det
    return {}


def velox_meta(md: dict[str, Any], kind: str, shape: tuple[int, ...],
               context: ExtractionContext) -> tuple[dict[str, Any], str, str]:
    """nx_meta, DatasetType and Data Type of one Velox dataset from its JSON metadata."""
    meta: dict[str, Any] = {}
    stamp = _f((md.get("Acquisition") or {}).get("AcquisitionStartDatetime", {}).get("DateTime"))
    if stamp:
        meta["Creation Time"] = epoch_iso(stamp, context.timezone)
    instrument = md.get("Instrument") or {}
    model = " ".join(str(instrument.get(k, "")) for k in ("Manufacturer", "InstrumentClass",
                                                          "InstrumentModel")).strip()
    put(meta, "Microscope", model or None)
    put(meta, "Instrument ID", instrument.get("InstrumentId"))
    put(meta, "Software Version", instrument.get("ControlSoftwareVersion"))
    put(meta, "Operator", (md.get("Core") or {}).get("UserId"))
    optics = md.get("Optics") or {}
    put(meta, "Voltage (kV)", _scaled(optics.get("AccelerationVoltage"), 1e-3))
    put(meta, "Extractor Voltage (V)", _f(optics.get("ExtractorVoltage")))
    put(meta, "Spot Size", optics.get("SpotIndex"))
    put(meta, "Camera Length (mm)", _scaled(optics.get("CameraLength"), 1e3))
    put(meta, "Convergence Semi-angle (mrad)", _scaled(optics.get("BeamConvergence"), 1e3))
    put(meta, "Defocus (um)", _scaled(optics.get("Defocus"), 1e6))
    put(meta, "Screen Current (nA)", _scaled(optics.get("LastMeasuredScreenCurrent"), 1e9))
    put(meta, "Field of View (um)",
        _scaled((optics.get("FullScanFieldOfView") or {}).get("x"), 1e6))
    put(meta, "Illumination Mode", optics.get("IlluminationMode"))
    put(meta, "Objective Lens Mode", optics.get("ObjectiveLensMode"))
    put(meta, "Source Type", (md.get("Acquisition") or {}).get("SourceType"))
    stage = md.get("Stage") or {}
    position = stage.get("Position") or {}
    for axis in ("x", "y", "z"):
        put(meta, f"Stage Position {axis.upper()} (um)", _scaled(position.get(axis), 1e6))
    put(meta, "Stage Position Alpha (deg)", _scaled(stage.get("AlphaTilt"), 180 / math.pi))
    put(meta, "Stage Position Beta (deg)", _scaled(stage.get("BetaTilt"), 180 / math.pi))
    put(meta, "Holder Type", stage.get("HolderType"))
    scan = md.get("Scan") or {}
    result = md.get("BinaryResult") or {}
    detector_name = str(result.get("Detector") or "")
    detector = _detector(md, detector_name)
    if not detector and detector_name:
        # A combined Super-X result names the array; its quadrants are SuperXG21..24.
        detector = _detector(md, detector_name + "1")
    put(meta, "Detector", detector_name or None)
    det_type = str(detector.get("DetectorType") or "")
    scanning = det_type in _SCANNING or kind != "Image"
    if scanning and scan:
        put(meta, "Dwell Time (s)", _f(scan.get("DwellTime")))
        put(meta, "Frame Time (s)", _f(scan.get("FrameTime")))
        size = scan.get("ScanSize") or {}
        if size:
            meta["Scan Size"] = f"{size.get('width')}x{size.get('height')}"
        put(meta, "Scan Rotation (deg)", _scaled(scan.get("ScanRotation"), 180 / math.pi))
    if det_type == "ImagingDetector":
        put(meta, "Exposure Time (s)", _f(detector.get("ExposureTime")))
        binning = detector.get("Binning") or {}
        if binning:
            meta["Binning"] = f"{binning.get('width')}x{binning.get('height')}"
    angles = detector.get("CollectionAngleRange") or {}
    if _f(angles.get("end")):
        put(meta, "Collection Angle Begin (mrad)", _scaled(angles.get("begin"), 1e3))
        put(meta, "Collection Angle End (mrad)", _scaled(angles.get("end"), 1e3))
    if det_type == "AnalyticalDetector":
        elevation = _scaled(detector.get("ElevationAngle"), 180 / math.pi)
        put(meta, "EDS Elevation Angle (deg)", elevation)
        put(meta, "EDS Azimuthal Angle (deg)", _scaled(detector.get("AzimuthAngle"), 180 / math.pi))
        put(meta, "EDS Solid Angle (sr)", _f(detector.get("CollectionAngle")))
        put(meta, "EDS Dispersion (eV/ch)", _f(detector.get("Dispersion")))
        put(meta, "EDS Real Time (s)", _f(detector.get("RealTime")))
        put(meta, "EDS Live Time (s)", _f(detector.get("LiveTime")))
        put(meta, "EDS Input Count Rate (cps)", _f(detector.get("InputCountRate")))
    pixel = result.get("PixelSize") or {}
    if result.get("PixelUnitX") == "m" and kind != "Spectrum":
        put(meta, "Pixel Size (nm)", _scaled(pixel.get("width"), 1e9))
    meta["Data Dimensions"] = str(shape)
    if kind == "Spectrum":
        return meta, "Spectrum", "STEM_EDS"
    if kind == "SpectrumImage":
        return meta, "SpectrumImage", "STEM_EDS_Spectrum_Imaging"
    if det_type == "AnalyticalDetector":
        return meta, "Image", "STEM_EDS_Map"
    if det_type == "ImagingDetector":
        projector = str(optics.get("ProjectorMode") or "")
        if projector == "2":  # Velox: 1 imaging, 2 diffraction
            return meta, "Diffraction", "TEM_Diffraction"
        return meta, "Image", "TEM_Imaging"
    return meta, "Image", "STEM_Imaging"


def _shape(kind: str, data: Any, md: dict[str, Any]) -> tuple[int, ...]:
    if kind == "Image":
        height, width, frames = data.shape
        return (frames, height, width) if frames > 1 else (height, width)
    if kind == "Spectrum":
        return (int(data.shape[0]),)
    size = (md.get("Scan") or {}).get("ScanSize") or {}
    channels = int(_f((md.get("SpectrumImageSettings") or {}).get("channels")) or 0)
    dims = [int(_f(size.get("height")) or 0), int(_f(size.get("width")) or 0)]
    return tuple(d for d in (*dims, channels) if d)


def _preview(path: Path, kind: str, uid: str, dataset_type: str):
    def render(out: Path) -> None:
        import h5py
        import hyperspy.api as hs
        import numpy as np

        from nexuslims.previews import render_placeholder, render_signal

        with h5py.File(path, "r") as h5:
            data = h5[f"Data/{kind}/{uid}/Data"]
            if kind == "Image":
                array = np.asarray(data[:, :, 0])
            elif kind == "Spectrum":
                array = np.asarray(data[:, 0])
            else:
                array = None
                order = list(h5["Data/SpectrumImage"])
        if array is None:
            # The spectrum image is a compressed event stream; RosettaSciIO decodes it
            # (with `sparse`) into a lazy signal, summed chunk by chunk for the preview.
            loaded = hs.load(path, select_type="spectrum_image", lazy=True, sum_frames=True)
            images = loaded if isinstance(loaded, list) else [loaded]
            if not images:
                render_placeholder(out, "EDS spectrum image (Velox): no data in the stream")
                return
            position = order.index(uid) if len(images) == len(order) else 0
            render_signal(images[position], out, dataset_type=dataset_type)
            return

        signal = hs.signals.Signal2D(array) if array.ndim == 2 else hs.signals.Signal1D(array)
        render_signal(signal, out, dataset_type=dataset_type)

    return render


class VeloxEmdExtractor:
    """Thermo Fisher Velox EMD files: images, EDS spectra, maps and spectrum images."""

    name = NAME
    format_name = "Thermo Fisher Velox EMD"
    extensions = frozenset({"emd"})
    priority = 50

    def sniff(self, path: Path) -> bool:
        """An HDF5 file (signature at byte 0) with Velox's ``/Data`` layout."""
        with open(path, "rb") as handle:
            if handle.read(8) != b"\x89HDF\r\n\x1a\n":
                return False
        import h5py

        with h5py.File(path, "r") as h5:
            return "Data" in h5 and any(k in h5["Data"] for k in _KINDS)

    def extract(self, path: Path, context: ExtractionContext) -> list[ExtractedDataset]:
        """One dataset per image, spectrum and spectrum image, in Velox's group order."""
        import h5py

        entries: list[tuple[str, str, dict[str, Any], tuple[int, ...]]] = []
        warnings: list[str] = []
        with h5py.File(path, "r") as h5:
            for kind in _KINDS:
                if kind not in h5["Data"]:
                    continue
                for uid, group in h5["Data"][kind].items():
                    try:
                        md = _metadata(group)
                    except (KeyError, ValueError) as exc:
                        warnings.append(f"{kind} {uid}: unreadable metadata ({exc})")
                        md = {}
                    if kind == "SpectrumImage" and "SpectrumImageSettings" in group:
                        try:
                            settings = json.loads(group["SpectrumImageSettings"][0])
                            md["SpectrumImageSettings"] = settings
                        except (ValueError, TypeError):
                            pass
                    entries.append((kind, uid, md, _shape(kind, group["Data"], md)))
        # The SI's own shape sits in its compressed stream; its maps and spectra tell it.
        image = next((s for k, _, _, s in entries if k == "Image" and len(s) == 2), None)
        spectrum = next((s for k, _, _, s in entries if k == "Spectrum"), None)
        if image and spectrum:
            entries = [(k, u, m, (*image, *spectrum) if k == "SpectrumImage" else s)
                       for k, u, m, s in entries]
        out: list[ExtractedDataset] = []
        for index, (kind, uid, md, shape) in enumerate(entries, 1):
            meta, dataset_type, data_type = velox_meta(md, kind, shape, context)
            unreliable: set[str] = set()
            if "Creation Time" not in meta:
                meta["Creation Time"] = mtime_iso(path, context.timezone)
                unreliable.add("Creation Time")
            meta["Velox Dataset"] = f"{kind}/{uid}"
            out.append(
                ExtractedDataset(
                    name=multi_name(path, index, len(entries)),
                    dataset_type=dataset_type,
                    nx_meta=finish(meta, dataset_type=dataset_type, data_type=data_type,
                                   extractor=NAME),
                    extractor=NAME,
                    unreliable=unreliable,
                    warnings=list(warnings),
                    render_preview=_preview(path, kind, uid, dataset_type),
                )
            )
        return out
