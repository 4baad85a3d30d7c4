"""Thermo Fisher Velox ``.emd`` (HDF5): many signals per file, each with its own metadata.

Each ``/Data/<Image|Spectrum|SpectrumImage>/<uuid>`` group holds ``Data`` and a
``Metadata`` array of JSON text (one column per frame). The metadata is read here with
h5py directly: RosettaSciIO's Velox reader needs the optional ``sparse`` package as soon
as a file holds an EDS spectrum image, and one missing package must not lose a whole
file's metadata. Pixel data are read only when a preview is drawn.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from pathlib import Path
from typing import Any

from ._common import finish, multi_name, put
from ._time import from_epoch, stamp
from ._velox_displays import map_labels
from ._velox_layout import _f, _json_at, _metadata, _shape, first_of, scanned_area, stored_shape
from ._velox_preview import Axis, VeloxFile, eds_axis, eels_axis, image_axes, velox_preview
from .base import ExtractedDataset, ExtractionContext
from .fields import Meta
from .kinds import DEFAULT, DETECTOR, MODE, Evidence, kind_name, settle
from .values import Unset, drop_unset, negative, put_quantity

NAME = "velox"
_KINDS = ("Image", "Spectrum", "SpectrumImage", "EelsSpectrumImage")
_SCANNING = ("ScanningDetector", "AnalyticalDetector")
_OPERATING = {"1": "TEM", "2": "STEM"}  # Optics.OperatingMode
_WHEN = ("Acquisition", "AcquisitionStartDatetime", "DateTime")  # epoch seconds


def _scaled(value: Any, scale: float) -> float | None:
    val = _f(value)
    return None if val is None else val * scale


def _segments(md: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """The segments ``<name>1``, ``<name>2``... of a detector array, in name order."""
    found = [det for det in (md.get("Detectors") or {}).values()
             if isinstance(det, dict) and re.fullmatch(re.escape(name) + r"\d",
                                                       str(det.get("DetectorName") or ""))]
    return sorted(found, key=lambda det: str(det.get("DetectorName")))


def _detector(md: dict[str, Any], name: str) -> dict[str, Any]:
    for det in (md.get("Detectors") or {}).values():
        if isinstance(det, dict) and det.get("DetectorName") == name:
            return det
    return {}


_RAD = 180 / math.pi
# (JSON path in the dataset's Metadata, nx_meta key, scale): copied when present.
_FIELDS = (
    (("Instrument", "InstrumentId"), "Instrument ID", 1),
    (("Instrument", "ControlSoftwareVersion"), "Software Version", 1),
    (("Core", "UserId"), "Operator", 1),
    (("Optics", "AccelerationVoltage"), "Voltage (kV)", 1e-3),
    (("Optics", "ExtractorVoltage"), "Extractor Voltage (V)", 1),
    (("Optics", "SpotIndex"), "Spot Size", 1),
    (("Optics", "CameraLength"), "Camera Length (mm)", 1e3),
    (("Optics", "BeamConvergence"), "Convergence Semi-angle (mrad)", 1e3),
    (("Optics", "Defocus"), "Defocus (um)", 1e6),
    (("Optics", "LastMeasuredScreenCurrent"), "Screen Current (nA)", 1e9),
    (("Optics", "FullScanFieldOfView", "x"), "Field of View (um)", 1e6),
    (("Optics", "IlluminationMode"), "Illumination Mode", 1),
    (("Optics", "ObjectiveLensMode"), "Objective Lens Mode", 1),
    (("Optics", "ProjectorMode"), "Projector Mode", 1),
    (("Acquisition", "SourceType"), "Source Type", 1),
    (("Stage", "Position", "x"), "Stage Position X (um)", 1e6),
    (("Stage", "Position", "y"), "Stage Position Y (um)", 1e6),
    (("Stage", "Position", "z"), "Stage Position Z (um)", 1e6),
    (("Stage", "AlphaTilt"), "Stage Position Alpha (deg)", _RAD),
    (("Stage", "BetaTilt"), "Stage Position Beta (deg)", _RAD),
    (("Stage", "HolderType"), "Holder Type", 1),
)
_SCAN = (
    ("DwellTime", "Dwell Time (s)", 1),
    ("FrameTime", "Frame Time (s)", 1),
    ("ScanRotation", "Scan Rotation (deg)", _RAD),
)
_EDS = (
    ("ElevationAngle", "EDS Elevation Angle (deg)", _RAD),
    ("AzimuthAngle", "EDS Azimuthal Angle (deg)", _RAD),
    ("CollectionAngle", "EDS Solid Angle (sr)", 1),
    ("Dispersion", "Energy per Channel (eV)", 1),
    ("OffsetEnergy", "Energy Offset (eV)", 1),
    ("RealTime", "EDS Real Time (s)", 1),
    ("LiveTime", "EDS Live Time (s)", 1),
    ("InputCountRate", "EDS Input Count Rate (cps)", 1),
)


# Velox's "not set": a 0x0 scan on a point spectrum, a negative spot index or
# convergence (parallel illumination has no convergence angle), camera length 0.
UNSET = (
    Unset("Scan Size", ("0x0",), why="0x0: no scan (a point acquisition)"),
    Unset("Spot Size", when=negative, why="below 0: not reported"),
    Unset("Convergence Semi-angle (mrad)", when=negative,
          why="below 0: parallel illumination"),
    Unset("Camera Length (mm)", when=lambda v, m: float(v) <= 0, why="0: not reported"),
)


def _get(md: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = md
    for part in path:
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _put(meta: Meta, key: str, value: Any, scale: float, source: str) -> None:
    val = _f(value)
    put(meta, key, value if val is None else val * scale, source=source)


def velox_meta(md: dict[str, Any], kind: str, shape: tuple[int, ...],
               context: ExtractionContext, group: str = "") -> tuple[Meta, str, str, str]:
    """nx_meta, DatasetType, Data Type and its evidence of one Velox dataset from its JSON
    metadata.

    ``group`` is the ``groupType`` of the image's display group (``Eds``, ``Eels``...).
    """
    meta = Meta()
    instrument = md.get("Instrument") or {}
    model = " ".join(str(instrument.get(k, "")) for k in ("Manufacturer", "InstrumentClass",
                                                          "InstrumentModel")).strip()
    put(meta, "Microscope", model or None, source="velox:Instrument.InstrumentModel")
    for path, key, scale in _FIELDS:
        _put(meta, key, _get(md, path), scale, "velox:" + ".".join(path))
    scan = md.get("Scan") or {}
    result = md.get("BinaryResult") or {}
    detector_name = str(result.get("Detector") or "")
    detector = _detector(md, detector_name)
    segments = [] if detector or not detector_name else _segments(md, detector_name)
    if segments:
        # A summed Super-X result names the array; its segments are SuperXG21..24.
        detector = segments[0]
    put(meta, "Detector", detector_name or None, source="velox:BinaryResult.Detector")
    det_type = str(detector.get("DetectorType") or "")
    det_key = "velox:Detectors.<" + str(detector.get("DetectorName")) + ">."
    if (det_type in _SCANNING or kind != "Image") and scan:
        for tag, key, scale in _SCAN:
            _put(meta, key, scan.get(tag), scale, f"velox:Scan.{tag}")
        size = scan.get("ScanSize") or {}
        if size:
            meta.set("Scan Size", f"{size.get('width')}x{size.get('height')}",
                     "velox:Scan.ScanSize")
    if det_type == "ImagingDetector":
        _put(meta, "Exposure Time (s)", detector.get("ExposureTime"), 1, det_key + "ExposureTime")
        binning = detector.get("Binning") or {}
        if binning:
            meta.set("Binning", f"{binning.get('width')}x{binning.get('height')}",
                     det_key + "Binning")
    angles = detector.get("CollectionAngleRange") or {}
    if _f(angles.get("end")):
        for end in ("begin", "end"):
            _put(meta, f"Collection Angle {end.title()} (mrad)", angles.get(end), 1e3,
                 det_key + f"CollectionAngleRange.{end}")
    if det_type == "AnalyticalDetector":
        for tag, key, scale in _EDS:
            # A sum over segments has the settings its segments share, and no other:
            # one segment's azimuth or live time is not the sum's, nor (additive, or
            # the array's total: the file does not say) its solid angle.
            shared = all(seg.get(tag) == detector.get(tag) for seg in segments)
            if shared and not (segments and tag == "CollectionAngle"):
                _put(meta, key, detector.get(tag), scale, det_key + tag)
    pixel = result.get("PixelSize") or {}
    if result.get("PixelUnitX") == "m" and kind == "Image":
        _put(meta, "Pixel Size (nm)", pixel.get("width"), 1e9, "velox:BinaryResult.PixelSize")
    elif result.get("PixelUnitX") and kind == "Image" and _f(pixel.get("width")):
        # A diffraction pattern or an FFT: calibrated in reciprocal space ("1/m").
        put_quantity(meta, "Pixel Size (1/nm)", _f(pixel.get("width")),
                     str(result["PixelUnitX"]), "velox:BinaryResult.PixelSize")
    meta["Data Dimensions"] = str(shape)
    drop_unset(meta, UNSET)
    return (meta, *_classify(md, kind, det_type, detector_name, group))


def _family(md: dict[str, Any], det_type: str, detector: str) -> Evidence:
    """TEM or STEM: ``Optics.OperatingMode`` (mode) beats the detector's type (a camera
    is a TEM detector, a scanning or X-ray detector a STEM one); else STEM, Velox's
    usual."""
    mode = _OPERATING.get(str((md.get("Optics") or {}).get("OperatingMode") or ""), "")
    det = {"ImagingDetector": "TEM", "ScanningDetector": "STEM",
           "AnalyticalDetector": "STEM"}.get(det_type, "")
    return settle([
        Evidence(mode, MODE, "velox:Optics.OperatingMode") if mode else None,
        Evidence(det, DETECTOR, f"velox:Detectors.<{detector}>.DetectorType") if det else None,
    ], Evidence("STEM", DEFAULT, "format:velox"))


def _classify(md: dict[str, Any], kind: str, det_type: str, detector: str,
              group: str = "") -> tuple[str, str, str]:
    """DatasetType, Data Type and the evidence of its kind, from the mode, the detector
    and the pixel calibration.

    EELS or EDS: an ``EelsSpectrumImage`` is EELS; a map is what its display group says
    (``Eels``/``Eds``), else what its detector is (EELS in its name, or an analytical,
    i.e. X-ray, detector): a Zebra EELS camera's name says nothing of EELS.

    Thermo Fisher TEMs acquire STEM with the projector in diffraction mode, so
    ``ProjectorMode`` says "diffraction" for every STEM image: a camera image is a
    diffraction pattern only when it is calibrated in reciprocal space (or, with no
    calibration, when a TEM-mode projector is in diffraction).
    """
    optics = md.get("Optics") or {}
    result = md.get("BinaryResult") or {}
    family = _family(md, det_type, detector)
    mode, source = family.family, family.source
    group = group.upper()
    eels = kind == "EelsSpectrumImage" or group == "EELS" or (
        not group and "EELS" in detector.upper())
    eds = not eels and (group == "EDS" or det_type == "AnalyticalDetector")
    technique = "EELS" if eels else "EDS" if eds else ""
    if kind in ("SpectrumImage", "EelsSpectrumImage"):
        return "SpectrumImage", kind_name(mode, technique or "EDS", "Spectrum_Imaging"), source
    if kind == "Spectrum":
        return "Spectrum", kind_name(mode, technique or "EDS"), source
    if technique:
        return "Image", kind_name(mode, technique, "Map"), source
    if det_type == "ImagingDetector":
        unit = str(result.get("PixelUnitX") or "")
        reciprocal = unit.startswith("1/") or unit.endswith("^-1")
        projector_diffraction = str(optics.get("ProjectorMode") or "") == "2"
        if reciprocal or (not unit and projector_diffraction and mode != "STEM"):
            return "Diffraction", kind_name(mode, "Diffraction"), source
    return "Image", kind_name(mode, "Imaging"), source


def _bincount(h5: Any) -> str | None:
    """Channels of the EDS spectrum image, from its stream's ``AcquisitionSettings``."""
    for stream in (h5["Data/SpectrumStream"].values() if "Data/SpectrumStream" in h5 else ()):
        with contextlib.suppress(KeyError, ValueError, TypeError, IndexError):
            return json.loads(first_of(stream, "AcquisitionSettings"))["bincount"]
    return None


def _axes(kind: str, md: dict[str, Any]) -> list[Axis]:
    """The calibrated axes of a dataset's preview, in array order, from the file."""
    if kind == "Image":
        return image_axes(md)
    if kind == "Spectrum":
        name = str((md.get("BinaryResult") or {}).get("Detector") or "")
        return eds_axis(_detector(md, name) or _detector(md, name + "1"))
    if kind == "EelsSpectrumImage":
        return image_axes(md) + eels_axis(md)
    return []


def _si_shape(md: dict[str, Any], own: tuple[int, ...], image: tuple[int, ...] | None,
              spectrum: tuple[int, ...] | None) -> tuple[int, ...]:
    """A spectrum image's (rows, columns, channels): its own metadata first."""
    rows, cols = scanned_area(md)
    area = (rows, cols) if rows and cols else image
    channels = own[2:] if len(own) == 3 else spectrum
    if area and channels:
        return (*area, *channels)
    return own


class VeloxEmdExtractor:
    """Thermo Fisher Velox EMD files: images, spectra, maps, EDS and EELS spectrum images."""

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
            data = h5["Data"]
            for kind in _KINDS:
                if kind not in data:
                    continue
                for uid, group in data[kind].items():
                    try:
                        md = _metadata(group)
                    except (KeyError, ValueError) as exc:
                        warnings.append(f"{kind} {uid}: unreadable metadata ({exc})")
                        md = {}
                    for extra in ("SpectrumImageSettings", "AcquisitionMetadata"):
                        if extra in group:
                            with contextlib.suppress(ValueError, TypeError):
                                md[extra] = _json_at(group, extra)
                    if kind == "SpectrumImage":
                        md["StreamBinCount"] = _bincount(h5)
                    entries.append((kind, uid, md,
                                    _shape(kind, stored_shape(group, "Data"), md)))
            labels = map_labels(h5)
        # The SI's own shape sits in its compressed stream: its scanned area (the scan
        # size times the fraction of the frame acquired) and its channels say it; a map
        # and a spectrum of the same file stand in only for what the SI does not state.
        # (An image of the file may be a survey of the whole frame, not the SI's area.)
        image = next((s for k, _, _, s in entries if k == "Image" and len(s) == 2), None)
        spectrum = next((s for k, _, _, s in entries if k == "Spectrum"), None)
        entries = [(k, u, m, _si_shape(m, s, image, spectrum) if k == "SpectrumImage" else s)
                   for k, u, m, s in entries]
        out: list[ExtractedDataset] = []
        file = VeloxFile(path, len(entries))  # its previews' renderers open it once
        for index, (kind, uid, md, shape) in enumerate(entries, 1):
            label = labels.get(uid)
            meta, dataset_type, data_type, kind_source = velox_meta(
                md, kind, shape, context, label.group if label else "")
            unreliable: set[str] = set()
            notes = list(warnings)
            stamp(meta, from_epoch(_get(md, _WHEN), "velox:" + ".".join(_WHEN)), path,
                  context.timezone, unreliable, notes)
            meta.set("Velox Dataset", f"{kind}/{uid}", "velox:Data")
            if label is not None:
                meta.set("Map Label", label.label, label.source)
                if label.group:
                    meta.set("Map Group", label.group, label.group_source)
                element, line = label.element_line()
                if element:
                    meta.set("Elements", element, label.source)
                if line:
                    meta.set("Map Line", line, label.source)
            if kind == "EelsSpectrumImage":
                for tag, key in (("offset", "Energy Offset (eV)"),
                                 ("dispersion", "Energy per Channel (eV)")):
                    _put(meta, key, _get(md, ("AcquisitionMetadata", "Data", tag)), 1,
                         f"velox:AcquisitionMetadata.Data.{tag}")
            out.append(
                ExtractedDataset(
                    name=multi_name(path, index, len(entries)),
                    dataset_type=dataset_type,
                    nx_meta=finish(meta, dataset_type=dataset_type, data_type=data_type,
                                   extractor=NAME, kind_source=kind_source),
                    extractor=NAME,
                    unreliable=unreliable,
                    warnings=notes,
                    render_preview=velox_preview(file, index - 1, kind, uid, dataset_type,
                                                 _axes(kind, md)),
                )
            )
        return out
