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
from pathlib import Path
from typing import Any

from ._common import finish, multi_name, put
from ._time import from_epoch, stamp
from .base import ExtractedDataset, ExtractionContext
from .fields import Meta

NAME = "velox"
_KINDS = ("Image", "Spectrum", "SpectrumImage", "EelsSpectrumImage")
_SCANNING = ("ScanningDetector", "AnalyticalDetector")
_OPERATING = {"1": "TEM", "2": "STEM"}  # Optics.OperatingMode
_WHEN = ("Acquisition", "AcquisitionStartDatetime", "DateTime")  # epoch seconds
_SYMBOLS = """H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr
    Mn Fe Co Ni Cu Zn Ga Ge As Se Br Kr Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe
    Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po
    At Rn Fr Ra Ac Th Pa U Np Pu Am Cm Bk Cf"""
ELEMENT_SYMBOLS = frozenset(_SYMBOLS.split())


def _f(value: Any) -> float | None:
    try:
        val = float(value)
    except (TypeError, ValueError):
        return None
    return val if math.isfinite(val) else None


def _scaled(value: Any, scale: float) -> float | None:
    val = _f(value)
    return None if val is None else val * scale


def _json_at(dataset: Any) -> dict[str, Any]:
    """A Velox JSON document: a column of bytes (one column per frame; the first)."""
    column = dataset[:, 0] if dataset.ndim == 2 else dataset[:]
    raw = column.tobytes().rstrip(b"\0") if column.dtype.kind == "u" else bytes(column[0])
    return json.loads(raw.decode("utf-8", "replace"))


def _metadata(group: Any) -> dict[str, Any]:
    return _json_at(group["Metadata"])


def map_labels(h5: Any) -> dict[str, tuple[str, str]]:
    """Image uid -> (label Velox shows, e.g. ``"Fe"`` or ``"HAADF"``; its file key).

    Velox 11 keeps them in ``/Displays/ImageDisplay`` (``id`` names the element of an
    EDS map; ``data`` points at a reference holding the image's path); older files in
    ``/Presentation/Displays/ImageDisplay`` (``display.label``).
    """
    out: dict[str, tuple[str, str]] = {}
    for base, new in (("Displays/ImageDisplay", True),
                      ("Presentation/Displays/ImageDisplay", False)):
        if base not in h5:
            continue
        for key, item in h5[base].items():
            try:
                display = json.loads(item[0])
                if new:
                    reference = json.loads(h5[display["data"]][0])
                    path, label = reference["dataPath"], display.get("id") or display["title"]
                    source = f"velox:{base}/{key}.id"
                else:
                    path, label = display["dataPath"], display["display"]["label"]
                    source = f"velox:{base}/{key}.display.label"
            except (KeyError, ValueError, TypeError, IndexError):
                continue
            if label:
                out.setdefault(str(path).rstrip("/").split("/")[-1], (str(label), source))
    return out


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


def _get(md: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = md
    for part in path:
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _put(meta: Meta, key: str, value: Any, scale: float, source: str) -> None:
    val = _f(value)
    put(meta, key, value if val is None else val * scale, source=source)


def velox_meta(md: dict[str, Any], kind: str, shape: tuple[int, ...],
               context: ExtractionContext) -> tuple[Meta, str, str]:
    """nx_meta, DatasetType and Data Type of one Velox dataset from its JSON metadata."""
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
    if not detector and detector_name:
        # A combined Super-X result names the array; its quadrants are SuperXG21..24.
        detector = _detector(md, detector_name + "1")
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
            _put(meta, key, detector.get(tag), scale, det_key + tag)
    pixel = result.get("PixelSize") or {}
    if result.get("PixelUnitX") == "m" and kind == "Image":
        _put(meta, "Pixel Size (nm)", pixel.get("width"), 1e9, "velox:BinaryResult.PixelSize")
    meta["Data Dimensions"] = str(shape)
    return (meta, *_classify(md, kind, det_type, detector_name))


def _classify(md: dict[str, Any], kind: str, det_type: str, detector: str) -> tuple[str, str]:
    """DatasetType and Data Type from the mode, the detector and the pixel calibration.

    Thermo Fisher TEMs acquire STEM with the projector in diffraction mode, so
    ``ProjectorMode`` says "diffraction" for every STEM image: a camera image is a
    diffraction pattern only when it is calibrated in reciprocal space (or, with no
    calibration, when a TEM-mode projector is in diffraction).
    """
    optics = md.get("Optics") or {}
    result = md.get("BinaryResult") or {}
    mode = _OPERATING.get(str(optics.get("OperatingMode") or ""), "")
    eels = "EELS" in detector.upper() or kind == "EelsSpectrumImage"
    technique = "EELS" if eels else "EDS" if det_type == "AnalyticalDetector" else ""
    if kind in ("SpectrumImage", "EelsSpectrumImage"):
        return "SpectrumImage", "_".join(p for p in (mode or "STEM", technique or "EDS",
                                                      "Spectrum_Imaging"))
    if kind == "Spectrum":
        return "Spectrum", "_".join(p for p in (mode or "STEM", technique or "EDS"))
    if technique:
        return "Image", f"{mode or 'STEM'}_{technique}_Map"
    if det_type == "ImagingDetector":
        unit = str(result.get("PixelUnitX") or "")
        reciprocal = unit.startswith("1/") or unit.endswith("^-1")
        projector_diffraction = str(optics.get("ProjectorMode") or "") == "2"
        if reciprocal or (not unit and projector_diffraction and mode != "STEM"):
            return "Diffraction", "TEM_Diffraction"
        return "Image", "TEM_Imaging"
    return "Image", f"{mode or 'STEM'}_Imaging"


def _shape(kind: str, data: Any, md: dict[str, Any]) -> tuple[int, ...]:
    if kind == "Image":
        height, width, frames = data.shape
        return (frames, height, width) if frames > 1 else (height, width)
    if kind == "Spectrum":
        return (int(data.shape[0]),)
    if kind == "EelsSpectrumImage":
        return tuple(int(n) for n in data.shape)
    size = (md.get("Scan") or {}).get("ScanSize") or {}
    channels = int(_f((md.get("SpectrumImageSettings") or {}).get("channels")) or 0)
    dims = [int(_f(size.get("height")) or 0), int(_f(size.get("width")) or 0)]
    return tuple(d for d in (*dims, channels) if d)


EAGER_SPECTRUM_IMAGE = 2**26
"""Values (pixels x channels) up to which a spectrum image's preview decodes it into memory
(128 MB at Velox's usual 16-bit stream encoding, well under a worker's memory ceiling)."""


def _dense_size(h5: Any, uid: str) -> int:
    """Pixels x channels of a spectrum image (0 when the file does not tell).

    The scan size is in its metadata; the channels in its settings or, failing that, in
    the length of the file's spectra (as :meth:`VeloxEmdExtractor.extract` reads them).
    """
    group = h5[f"Data/SpectrumImage/{uid}"]
    try:
        md = _metadata(group)
        if "SpectrumImageSettings" in group:
            md["SpectrumImageSettings"] = _json_at(group["SpectrumImageSettings"])
    except (KeyError, ValueError, TypeError):
        return 0
    shape = _shape("SpectrumImage", None, md)
    if len(shape) == 2 and "Spectrum" in h5["Data"]:
        spectra = [g["Data"].shape[0] for g in h5["Data/Spectrum"].values() if "Data" in g]
        shape = (*shape, max(spectra, default=0))
    return math.prod(shape) if len(shape) == 3 else 0


def _preview(path: Path, kind: str, uid: str, dataset_type: str):
    def render(out: Path) -> None:
        import h5py
        import numpy as np

        from nexuslims.previews import render_placeholder, render_signal

        from ._common import load_signals

        with h5py.File(path, "r") as h5:
            data = h5[f"Data/{kind}/{uid}/Data"]
            if kind == "Image":
                array = np.asarray(data[:, :, 0])
            elif kind == "Spectrum":
                array = np.asarray(data[:, 0])
            elif kind == "EelsSpectrumImage":
                array = np.asarray(data)
            else:
                array = None
                order = list(h5["Data/SpectrumImage"])
                dense = _dense_size(h5, uid)
        if array is None:
            # The spectrum image is a compressed event stream; RosettaSciIO decodes it
            # (with `sparse`) into a lazy signal, summed chunk by chunk for the preview.
            # A small one is decoded into memory instead: the same sums, without numba
            # compiling sparse's slicing (seconds, in every worker) for a few MB.
            lazy = not dense or dense > EAGER_SPECTRUM_IMAGE
            images = load_signals(path, select_type="spectrum_image", sum_frames=True,
                                  lazy=lazy)
            if not images:
                render_placeholder(out, "EDS spectrum image (Velox): no data in the stream")
                return
            position = order.index(uid) if len(images) == len(order) else 0
            render_signal(images[position], out, dataset_type=dataset_type)
            return

        from hyperspy.signals import Signal1D, Signal2D

        signal = (Signal2D(array) if array.ndim == 2 and kind == "Image"
                  else Signal1D(array))
        render_signal(signal, out, dataset_type=dataset_type)

    return render


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
            for kind in _KINDS:
                if kind not in h5["Data"]:
                    continue
                for uid, group in h5["Data"][kind].items():
                    try:
                        md = _metadata(group)
                    except (KeyError, ValueError) as exc:
                        warnings.append(f"{kind} {uid}: unreadable metadata ({exc})")
                        md = {}
                    for extra in ("SpectrumImageSettings", "AcquisitionMetadata"):
                        if extra in group:
                            with contextlib.suppress(ValueError, TypeError):
                                md[extra] = _json_at(group[extra])
                    entries.append((kind, uid, md, _shape(kind, group["Data"], md)))
            labels = map_labels(h5)
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
            notes = list(warnings)
            stamp(meta, from_epoch(_get(md, _WHEN), "velox:" + ".".join(_WHEN)), path,
                  context.timezone, unreliable, notes)
            meta.set("Velox Dataset", f"{kind}/{uid}", "velox:Data")
            if uid in labels:
                label, source = labels[uid]
                meta.set("Map Label", label, source)
                if label.split()[0] in ELEMENT_SYMBOLS:
                    meta.set("Elements", label.split()[0], source)
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
                                   extractor=NAME),
                    extractor=NAME,
                    unreliable=unreliable,
                    warnings=notes,
                    render_preview=_preview(path, kind, uid, dataset_type),
                )
            )
        return out
