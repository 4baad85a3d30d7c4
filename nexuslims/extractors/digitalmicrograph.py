"""Gatan DigitalMicrograph ``.dm3``/``.dm4``: images, spectra, spectrum images, stacks.

The microscope and acquisition tags live under
``original_metadata.ImageList.TagGroup0.ImageTags`` of each signal (one per image the
file holds). Acquisition dates and times are wall-clock strings in the locale of the
acquisition PC, in 12-hour (``1:23:45 PM``) or 24-hour (``20:50:13``) form; they are
read as times in the instrument's timezone.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._common import (
    attach_error,
    data_dimensions,
    dataset_type_of,
    dig,
    finish,
    load_signals,
    mtime_iso,
    multi_name,
    put,
    signal_preview,
    wallclock_iso,
)
from .base import ExtractedDataset, ExtractionContext

NAME = "digitalmicrograph"

# (tag path under ImageTags, nx_meta key, scale): copied when present.
_MICROSCOPE = (
    (("Microscope Info", "Name"), "Microscope", 1),
    (("Microscope Info", "Voltage"), "Voltage (kV)", 1e-3),
    (("Microscope Info", "Indicated Magnification"), "Indicated Magnification (x)", 1),
    (("Microscope Info", "Actual Magnification"), "Actual Magnification (x)", 1),
    (("Microscope Info", "STEM Camera Length"), "STEM Camera Length (mm)", 1),
    (("Microscope Info", "Illumination Mode"), "Illumination Mode", 1),
    (("Microscope Info", "Imaging Mode"), "Imaging Mode", 1),
    (("Microscope Info", "Operation Mode"), "Operation Mode", 1),
    (("Microscope Info", "Field of View (µm)"), "Field of View (um)", 1),
    (("Microscope Info", "Stage Position", "Stage X"), "Stage Position X (um)", 1),
    (("Microscope Info", "Stage Position", "Stage Y"), "Stage Position Y (um)", 1),
    (("Microscope Info", "Stage Position", "Stage Z"), "Stage Position Z (um)", 1),
    (("Microscope Info", "Stage Position", "Stage Alpha"), "Stage Position Alpha (deg)", 1),
    (("Microscope Info", "Stage Position", "Stage Beta"), "Stage Position Beta (deg)", 1),
    (("DataBar", "Device Name"), "Acquisition Device", 1),
    (("DataBar", "Exposure Time (s)"), "Exposure Time (s)", 1),
    (("Acquisition", "Device", "Name"), "Camera", 1),
    (("Acquisition", "Parameters", "High Level", "Exposure (s)"), "Exposure Time (s)", 1),
    (("Acquisition", "Parameters", "High Level", "Binning"), "Binning", 1),
    (("DigiScan", "Sample Time"), "Pixel Dwell Time (us)", 1),
    (("DigiScan", "Number Summing Frames"), "Frames Summed", 1),
    (("DigiScan", "Rotation"), "Scan Rotation (deg)", 1),
    (("EELS", "Acquisition", "Exposure (s)"), "EELS Exposure (s)", 1),
    (("EELS", "Acquisition", "Integration time (s)"), "EELS Integration Time (s)", 1),
    (("EELS", "Acquisition", "Number of frames"), "EELS Number of Frames", 1),
    (("EELS", "Experimental Conditions", "Convergence semi-angle (mrad)"),
     "EELS Convergence Semi-angle (mrad)", 1),
    (("EELS", "Experimental Conditions", "Collection semi-angle (mrad)"),
     "EELS Collection Semi-angle (mrad)", 1),
    (("EELS Spectrometer", "Instrument name"), "EELS Spectrometer", 1),
    (("EELS Spectrometer", "Aperture label"), "EELS Spectrometer Aperture", 1),
    (("EELS Spectrometer", "Dispersion (eV/ch)"), "EELS Dispersion (eV/ch)", 1),
    (("EELS Spectrometer", "Energy loss (eV)"), "EELS Energy Loss (eV)", 1),
    (("EELS Spectrometer", "Slit width (eV)"), "EELS Slit Width (eV)", 1),
    (("EDS", "Acquisition", "Exposure (s)"), "EDS Exposure (s)", 1),
    (("EDS", "Acquisition", "Dispersion (eV)"), "EDS Dispersion (eV/ch)", 1),
    (("EDS", "Live time"), "EDS Live Time (s)", 1),
    (("EDS", "Real time"), "EDS Real Time (s)", 1),
    (("EDS", "Count rate"), "EDS Count Rate (cps)", 1),
    (("EDS", "Detector Info", "Detector type"), "EDS Detector Type", 1),
    (("EDS", "Detector Info", "Elevation angle"), "EDS Elevation Angle (deg)", 1),
    (("EDS", "Detector Info", "Azimuthal angle"), "EDS Azimuthal Angle (deg)", 1),
    (("EDS", "Detector Info", "Solid angle"), "EDS Solid Angle (sr)", 1),
    (("SI", "Acquisition", "Pixel time (s)"), "SI Pixel Time (s)", 1),
    (("SI", "Acquisition", "Number of cycles"), "SI Number of Cycles", 1),
    (("Meta Data", "Acquisition Mode"), "Acquisition Mode", 1),
    (("Meta Data", "Signal"), "Signal Name", 1),
    (("Meta Data", "Format"), "Signal Format", 1),
)
# Tecnai-style "Microscope Info" writes 0.0 for what it does not know.
_ZERO_MEANS_UNKNOWN = {"Actual Magnification (x)", "Field of View (um)", "STEM Camera Length (mm)"}

# Where acquisition date and time may be, best first.
_WHEN = (
    (("DataBar", "Acquisition Date"), ("DataBar", "Acquisition Time")),
    (("EELS", "Acquisition", "Date"), ("EELS", "Acquisition", "Start time")),
    (("EDS", "Acquisition", "Date"), ("EDS", "Acquisition", "Start time")),
    (("SI", "Acquisition", "Date"), ("SI", "Acquisition", "Start time")),
)


def _tags_of(signal: Any) -> dict[str, Any]:
    tags = dig(signal.original_metadata, "ImageList", "TagGroup0", "ImageTags")
    if not isinstance(tags, Mapping):
        return {}
    tags = dict(tags)
    # Stack Builder keeps the source image's tags under "source/Tags at creation".
    created = dig(tags, "source", "Tags at creation")
    if isinstance(created, Mapping):
        for key, value in created.items():
            tags.setdefault(key, value)
    return tags


def _mode_prefix(tags: Mapping[str, Any]) -> str:
    operation = str(dig(tags, "Microscope Info", "Operation Mode") or "").upper()
    illumination = str(dig(tags, "Microscope Info", "Illumination Mode") or "").upper()
    if "SCANNING" in operation or "STEM" in illumination or "DigiScan" in tags:
        return "STEM"
    if operation or illumination:
        return "TEM"
    return ""


def _join(*parts: str) -> str:
    return "_".join(p for p in parts if p)


def classify(signal: Any, tags: Mapping[str, Any]) -> tuple[str, str]:
    """DatasetType and Data Type of one DM signal, from its tags and axes."""
    fmt = str(dig(tags, "Meta Data", "Format") or "").lower()
    kind = str(dig(tags, "Meta Data", "Signal") or "").upper()
    signal_type = str(signal.metadata.Signal.get_item("signal_type", "") or "").upper()
    if not kind:
        kind = "EELS" if signal_type.startswith("EELS") else "EDS" if signal_type.startswith(
            "EDS") else ""
    kind = {"X-RAY": "EDS"}.get(kind, kind)
    operation = str(dig(tags, "Microscope Info", "Operation Mode") or "").upper()
    prefix = _mode_prefix(tags)
    hint = fmt
    if operation == "DIFFRACTION":
        hint = "diffraction"
    if dig(tags, "Private", "FFT") is not None:
        return "Image", "FFT"
    dataset_type = dataset_type_of(signal, hint)
    if dataset_type == "Diffraction":
        return dataset_type, _join(prefix, "Diffraction")
    if dataset_type == "Image":
        if kind == "EELS":
            return dataset_type, "STEM_EELS_Map" if prefix == "STEM" else _join(
                prefix, "EFTEM_Imaging" if prefix == "TEM" else "EELS_Map")
        if kind == "EDS":
            return dataset_type, _join(prefix, "EDS_Map")
        return dataset_type, _join(prefix or "", "Imaging") if prefix else "Imaging"
    if dataset_type == "SpectrumImage":
        return dataset_type, _join(prefix, kind, "Spectrum_Imaging")
    if dataset_type == "Spectrum":
        return dataset_type, _join(prefix, kind) if prefix and kind else _join(kind, "Spectrum")
    return dataset_type, dataset_type


def creation_time(tags: Mapping[str, Any], context: ExtractionContext) -> str | None:
    """The acquisition time the tags state, as ISO 8601 in the instrument's timezone."""
    for date_path, time_path in _WHEN:
        when = wallclock_iso(dig(tags, *date_path), dig(tags, *time_path), context.timezone)
        if when:
            return when
    return None


def dm_meta(signal: Any, tags: Mapping[str, Any], path: Path,
            context: ExtractionContext) -> tuple[dict[str, Any], list[str], set[str]]:
    """nx_meta (without DatasetType/Data Type), warnings and unreliable keys of a signal."""
    meta: dict[str, Any] = {}
    warnings: list[str] = []
    unreliable: set[str] = set()
    when = creation_time(tags, context)
    if when is None:
        meta["Creation Time"] = mtime_iso(path, context.timezone)
        unreliable.add("Creation Time")
        warnings.append("no acquisition date/time in the file; Creation Time is the file's "
                        "modification time")
    else:
        meta["Creation Time"] = when
    meta["Data Dimensions"] = data_dimensions(signal)
    title = signal.metadata.General.get_item("title", "")
    put(meta, "Title", title)
    for tag_path, key, scale in _MICROSCOPE:
        if key in meta:
            continue
        value = dig(tags, *tag_path)
        if key in _ZERO_MEANS_UNKNOWN and isinstance(value, int | float) and value == 0:
            continue
        if isinstance(value, list) and not value:
            continue
        put(meta, key, value, scale)
    for field in ("Specimen", "Operator", "Microscope"):
        value = dig(tags, "Session Info", field)
        if isinstance(value, str) and value.strip():
            put(meta, "Session Microscope" if field == "Microscope" else field, value)
    gms = dig(tags, "GMS Version", "Created") or dig(tags, "GMS Version", "Saved")
    put(meta, "GMS Version", gms)
    # Indicated magnification of a Tecnai in diffraction is a camera setting, not a mag.
    if "Indicated Magnification (x)" in meta and str(
        dig(tags, "Microscope Info", "Operation Mode") or ""
    ).upper() == "DIFFRACTION":
        unreliable.add("Indicated Magnification (x)")
    return meta, warnings, unreliable


class DigitalMicrographExtractor:
    """Reads Gatan DigitalMicrograph 3 and 4 files through rsciio (lazily)."""

    name = NAME
    format_name = "Gatan DigitalMicrograph"
    extensions = frozenset({"dm3", "dm4"})
    priority = 50

    def sniff(self, path: Path) -> bool:
        """DM files start with a big-endian version number, 3 or 4."""
        with open(path, "rb") as handle:
            head = handle.read(4)
        return len(head) == 4 and int.from_bytes(head, "big") in (3, 4)

    def extract(self, path: Path, context: ExtractionContext) -> list[ExtractedDataset]:
        """One dataset per image the file holds."""
        signals = load_signals(path, file_format="DigitalMicrograph")
        out: list[ExtractedDataset] = []
        for index, signal in enumerate(signals, 1):
            tags = _tags_of(signal)
            try:
                meta, warnings, unreliable = dm_meta(signal, tags, path, context)
                dataset_type, data_type = classify(signal, tags)
                error = None
            except Exception as exc:  # noqa: BLE001 - keep the other signals and the basics
                meta = {"Creation Time": mtime_iso(path, context.timezone),
                        "Data Dimensions": data_dimensions(signal)}
                warnings, unreliable = [], {"Creation Time"}
                dataset_type, data_type = dataset_type_of(signal), "Unknown"
                error = f"could not map Gatan DigitalMicrograph tags: {exc}"
            meta = finish(meta, dataset_type=dataset_type, data_type=data_type, extractor=NAME)
            ds = ExtractedDataset(
                name=multi_name(path, index, len(signals)),
                dataset_type=dataset_type,
                nx_meta=meta,
                extractor=NAME,
                unreliable=unreliable,
                warnings=warnings,
                render_preview=signal_preview(signal, dataset_type),
            )
            if error:
                attach_error([ds], error)
            out.append(ds)
        return out
