"""Gatan DigitalMicrograph ``.dm3``/``.dm4``: images, spectra, spectrum images, stacks.

The microscope and acquisition tags live under
``original_metadata.ImageList.TagGroup0.ImageTags`` of each signal (one per image the
file holds). The acquisition instant is the ``DataBar``'s Windows FILETIME when the file
has one; otherwise the wall-clock date and time strings (12-hour ``1:23:45 PM`` or
24-hour ``20:50:13``, in the acquisition PC's locale) read in the instrument's timezone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ._common import (
    attach_error,
    axis_calibration,
    data_dimensions,
    dataset_type_of,
    dig,
    finish,
    multi_name,
    put,
    signal_preview,
    spectrum_axis,
)
from ._reader import load_with_tags
from ._time import AcquisitionTime, agrees, from_filetime, from_wall_clock, stamp
from .base import ExtractedDataset, ExtractionContext
from .fields import Meta
from .kinds import DEFAULT, DETECTOR, Evidence, mode_family, settle
from .values import Unset, drop_unset, negative, put_quantity

NAME = "digitalmicrograph"

# (tag path under ImageTags, nx_meta key, scale): copied when present.
_MICROSCOPE = (
    # "Name" is the microscope plug-in GMS talks to ("FEI Tecnai", "Libra COM"); the
    # instrument is "Microscope" ("NCEM TEAM 0.5"), else Session Info's (below).
    (("Microscope Info", "Microscope"), "Microscope", 1),
    (("Microscope Info", "Name"), "Microscope Plug-in", 1),
    (("Microscope Info", "Operator"), "Operator", 1),
    (("Microscope Info", "Specimen"), "Specimen", 1),
    (("Microscope Info", "Probe Current (nA)"), "Probe Current (nA)", 1),
    (("Microscope Info", "Probe Size (nm)"), "Probe Size (nm)", 1),
    (("Microscope Info", "Emission Current (µA)"), "Emission Current (uA)", 1),
    (("Microscope Info", "Magnification Interpolated"), "Magnification Interpolated", 1),
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
    (("Microscope Info", "Cs(mm)"), "Spherical Aberration Cs (mm)", 1),
    (("EDS", "Acquisition", "Channels"), "Number of Channels", 1),
    (("EDS", "Detector Info", "Window type"), "EDS Window Type", 1),
    (("EDS", "Detector Info", "Stage tilt"), "EDS Stage Tilt (deg)", 1),
    (("EDS", "Detector Info", "Incidence angle"), "EDS Incidence Angle (deg)", 1),
    # The Fano factor is a pure number. The window, gold, dead and active layer
    # thicknesses and "Zero fwhm" beside it are published as written, with no unit: no
    # public DM documentation or reader states theirs (the values fit EMSA's cm, but
    # that would be a guess).
    (("EDS", "Detector Info", "Active layer"), "EDS Active Layer", 1),
    (("EDS", "Detector Info", "Dead layer"), "EDS Dead Layer", 1),
    (("EDS", "Detector Info", "Gold layer"), "EDS Gold Layer", 1),
    (("EDS", "Detector Info", "Window thickness"), "EDS Window Thickness", 1),
    (("EDS", "Detector Info", "Zero fwhm"), "EDS Zero FWHM", 1),
    (("EDS", "Detector Info", "Fano"), "EDS Fano Factor", 1),
    (("EDS", "Acquisition", "Continuous Mode"), "EDS Continuous Mode", 1),
    (("EDS", "Acquisition", "Energy Cutoff (V)"), "EDS Energy Cutoff (V)", 1),
    # Gatan Monarc/MonoCL cathodoluminescence (tag names as RosettaSciIO maps them)
    (("CL", "Acquisition", "Dispersion grating (lines/mm)"), "CL Grating (lines/mm)", 1),
    (("Acquisition", "Monarc Spectrometer", "Grating"), "CL Grating", 1),
    (("CL", "Acquisition", "Central wavelength (nm)"), "CL Centre Wavelength (nm)", 1),
    (("Acquisition", "Monarc Spectrometer", "Slit Width"), "CL Slit Width", 1),
    (("Acquisition", "Monarc Spectrometer", "Bandpass"), "CL Bandpass", 1),
    (("CL", "Acquisition", "Exposure (s)"), "CL Exposure (s)", 1),
    (("CL", "Acquisition", "Number of frames"), "CL Number of Frames", 1),
    (("CL", "Acquisition", "Dwell time (s)"), "CL Dwell Time (s)", 1),
    (("CL", "Acquisition", "Start wavelength (nm)"), "CL Start Wavelength (nm)", 1),
    (("CL", "Acquisition", "Step-size (nm)"), "CL Step Size (nm)", 1),
    (("Meta Data", "Acquisition Mode"), "Acquisition Mode", 1),
    (("Meta Data", "Signal"), "Signal Name", 1),
    (("Meta Data", "Format"), "Signal Format", 1),
)
# Tecnai-style "Microscope Info" writes 0.0 for what it does not know.
_ZERO_MEANS_UNKNOWN = {"Actual Magnification (x)", "Field of View (um)", "STEM Camera Length (mm)",
                       "Spherical Aberration Cs (mm)", "Probe Current (nA)", "Probe Size (nm)",
                       "Emission Current (uA)"}

# DM's "not set" beyond the zeros above: a convergence angle below zero (parallel
# illumination has none).
UNSET = (
    Unset("EELS Convergence Semi-angle (mrad)", when=negative, why="below 0: parallel beam"),
)

# DataBar's absolute clock: a Windows FILETIME (GMS writes it under either key).
_FILETIME_KEYS = ("Acquisition Time (OS)", "System Info")
# Where acquisition date and time may be, best first.
_WHEN = (
    (("DataBar", "Acquisition Date"), ("DataBar", "Acquisition Time")),
    (("EELS", "Acquisition", "Date"), ("EELS", "Acquisition", "Start time")),
    (("EDS", "Acquisition", "Date"), ("EDS", "Acquisition", "Start time")),
    (("SI", "Acquisition", "Date"), ("SI", "Acquisition", "Start time")),
    (("CL", "Acquisition", "Date"), ("CL", "Acquisition", "Start time")),
)


def _tags_of(tree: Any) -> dict[str, Any]:
    """``ImageTags`` of a signal's tag tree (a dictionary or HyperSpy's tree), with a
    stack's source tags."""
    tags = dig(tree, "ImageList", "TagGroup0", "ImageTags")
    if not isinstance(tags, Mapping):
        return {}
    tags = dict(tags)
    # Stack Builder keeps the source image's tags under "source/Tags at creation".
    created = dig(tags, "source", "Tags at creation")
    if isinstance(created, Mapping):
        for key, value in created.items():
            tags.setdefault(key, value)
    return tags


def dm_family(tags: Mapping[str, Any], key: Callable[[str], str] = "tags:".__add__,
              default: str = "") -> Evidence:
    """TEM, STEM or SEM from the modes ``Microscope Info`` names, and DigiScan.

    ``Operation Mode`` (``SCANNING``, ``SEM``) and ``Illumination Mode``/``Imaging Mode``
    (``STEM``, ``TEM``, ``SEM``) name the mode; ``IMAGING``, ``DIFFRACTION`` or a probe
    name say only that a TEM column took it. A ``DigiScan`` group says a scan unit
    acquired it (STEM on a TEM; an SEM, a MonoCL on an SEM say, scans with it too):
    detector evidence, which a named mode beats. ``key`` spells a tag's source.
    """
    info = "Microscope Info."
    return settle([
        mode_family(dig(tags, "Microscope Info", name), key(info + name),
                    column="TEM", scanning="STEM" if name == "Operation Mode" else "")
        for name in ("Operation Mode", "Illumination Mode", "Imaging Mode")
    ] + [Evidence("STEM", DETECTOR, key("DigiScan")) if "DigiScan" in tags else None],
        Evidence(default, DEFAULT, "format:" + NAME))


def _join(*parts: str) -> str:
    return "_".join(p for p in parts if p)


def _signal_kind(signal: Any, tags: Mapping[str, Any]) -> str:
    """EELS, EDS or CL from the tags (``Meta Data.Signal``, a CL or Monarc group)."""
    kind = str(dig(tags, "Meta Data", "Signal") or "").upper()
    kind = {"X-RAY": "EDS", "EDX": "EDS", "CATHODOLUMINESCENCE": "CL"}.get(kind, kind)
    if kind in ("EELS", "EDS", "CL"):
        return kind
    if "CL" in tags or dig(tags, "Acquisition", "Monarc Spectrometer") is not None:
        return "CL"
    signal_type = str(signal.metadata.Signal.get_item("signal_type", "") or "").upper()
    for known in ("EELS", "EDS", "CL"):
        if signal_type.startswith(known):
            return known
    return ""


def classify(signal: Any, tags: Mapping[str, Any]) -> tuple[str, str, str]:
    """DatasetType, Data Type and the evidence of its kind, from a DM signal's tags and axes.
    """
    family = dm_family(tags)
    return (*_classify(signal, tags, family.family), family.source)


def _classify(signal: Any, tags: Mapping[str, Any], prefix: str) -> tuple[str, str]:
    fmt = str(dig(tags, "Meta Data", "Format") or "").lower()
    kind = _signal_kind(signal, tags)
    operation = str(dig(tags, "Microscope Info", "Operation Mode") or "").upper()
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
        if kind in ("EDS", "CL"):
            return dataset_type, _join(prefix, kind, "Map" if kind == "EDS" else "Imaging")
        return dataset_type, _join(prefix or "", "Imaging") if prefix else "Imaging"
    if dataset_type == "SpectrumImage":
        return dataset_type, _join(prefix, kind, "Spectrum_Imaging")
    if dataset_type == "Spectrum":
        return dataset_type, _join(prefix, kind) if prefix and kind else _join(kind, "Spectrum")
    return dataset_type, dataset_type


def acquisition_time(tags: Mapping[str, Any], context: ExtractionContext) -> AcquisitionTime | None:
    """The DataBar's absolute FILETIME if it agrees with a wall-clock time; else the latter."""
    wall = None
    for date_path, time_path in _WHEN:
        wall = from_wall_clock(dig(tags, *date_path), dig(tags, *time_path), context.timezone,
                               "tags:" + ".".join(time_path))
        if wall:
            break
    for key in _FILETIME_KEYS:
        absolute = from_filetime(dig(tags, "DataBar", key), f"tags:DataBar.{key}")
        # "System Info" is not always a clock: trust it only beside a wall clock it matches.
        if absolute and (key == _FILETIME_KEYS[0] or wall) and agrees(absolute, wall):
            return absolute
    return wall


def creation_time(tags: Mapping[str, Any], context: ExtractionContext) -> str | None:
    """The acquisition time the tags state, as ISO 8601 in the instrument's timezone."""
    found = acquisition_time(tags, context)
    return found.when.astimezone(context.timezone).isoformat() if found else None


def _processing(tags: Mapping[str, Any]) -> str | None:
    steps = dig(tags, "Processing")
    if not isinstance(steps, Mapping):
        return None
    done = []
    for step in steps.values():
        if isinstance(step, Mapping) and step.get("Operation"):
            when = f" ({step['Time']})" if step.get("Time") else ""
            done.append(f"{step['Operation']}{when}")
    return "; ".join(done) or None


def tag_fields(meta: dict[str, Any], tags: Mapping[str, Any], prefix: str = "tags:") -> None:
    """The ``ImageTags`` fields of :data:`_MICROSCOPE` into ``meta`` (their "not set"
    zeros and empty lists left out); ``prefix`` starts each value's source."""
    for tag_path, key, scale in _MICROSCOPE:
        if key in meta:
            continue
        value = dig(tags, *tag_path)
        if key in _ZERO_MEANS_UNKNOWN and isinstance(value, int | float) and value == 0:
            continue
        if isinstance(value, list) and not value:
            continue
        put(meta, key, value, scale, source=prefix + ".".join(tag_path))


def dm_meta(signal: Any, tags: Mapping[str, Any], path: Path,
            context: ExtractionContext) -> tuple[dict[str, Any], list[str], set[str]]:
    """nx_meta (without DatasetType/Data Type), warnings and unreliable keys of a signal."""
    meta = Meta()
    warnings: list[str] = []
    unreliable: set[str] = set()
    stamp(meta, acquisition_time(tags, context), path, context.timezone, unreliable, warnings)
    meta["Data Dimensions"] = data_dimensions(signal)
    title = signal.metadata.General.get_item("title", "")
    put(meta, "Title", title, source="om:ImageList.TagGroup0.Name")
    tag_fields(meta, tags)
    for field in ("Specimen", "Operator", "Microscope"):
        value = dig(tags, "Session Info", field)
        if isinstance(value, str) and value.strip():
            put(meta, "Session Microscope" if field == "Microscope" else field, value,
                source=f"tags:Session Info.{field}")
            if field == "Microscope" and "Microscope" not in meta:
                put(meta, "Microscope", value, source="tags:Session Info.Microscope")
    drop_unset(meta, UNSET)
    # A STEM camera length on an SEM (DigiScan on an SEM writes one) describes no optics.
    if dm_family(tags).family == "SEM":
        meta.pop("STEM Camera Length (mm)", None)
    for version in ("Created", "Saved"):
        put(meta, "GMS Version", dig(tags, "GMS Version", version),
            source=f"tags:GMS Version.{version}")
        if "GMS Version" in meta:
            break
    stated = dig(tags, "EDS", "Acquisition", "Count Rate Unit")
    if stated and "EDS Count Rate (cps)" in meta:  # the file states the unit: convert
        rate = meta.pop("EDS Count Rate (cps)")
        put_quantity(meta, "EDS Count Rate (cps)", rate, str(stated),
                     "tags:EDS.Count rate + tags:EDS.Acquisition.Count Rate Unit")
    put(meta, "Processing History", _processing(tags), source="tags:Processing")
    spectrum_axis(meta, signal)
    axis_calibration(meta, signal)
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
        signals = load_with_tags(path, file_format="DigitalMicrograph")
        out: list[ExtractedDataset] = []
        for index, (signal, tree) in enumerate(signals, 1):
            tags = _tags_of(tree)
            try:
                meta, warnings, unreliable = dm_meta(signal, tags, path, context)
                dataset_type, data_type, kind_source = classify(signal, tags)
                error = None
            except Exception as exc:  # noqa: BLE001 - keep the other signals and the basics
                meta, warnings, unreliable = Meta(), [], set()
                stamp(meta, None, path, context.timezone, unreliable, warnings)
                meta["Data Dimensions"] = data_dimensions(signal)
                dataset_type, data_type = dataset_type_of(signal), "Unknown"
                kind_source = "format:" + NAME
                error = f"could not map Gatan DigitalMicrograph tags: {exc}"
            meta = finish(meta, dataset_type=dataset_type, data_type=data_type, extractor=NAME,
                          kind_source=kind_source)
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
