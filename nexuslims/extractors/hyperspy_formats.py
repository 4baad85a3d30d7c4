"""Formats read through RosettaSciIO's standard metadata: Bruker, EDAX, HyperSpy.

These readers all fill HyperSpy's ``metadata`` tree (``Acquisition_instrument``,
``Sample``, ``General.date``/``time``...), so one mapping serves them; each extractor adds
what its own ``original_metadata`` holds beyond that. The tree is taken as the *reader*
gave it, before HyperSpy/exspy add their defaults (130 eV resolution, 0° tilt...): a
value the file does not hold is not reported.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._common import (
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
from ._reader import load_with_file_metadata
from ._time import (
    ABSOLUTE,
    MTIME_WARNING,
    SOURCE_KEY,
    AcquisitionTime,
    from_wall_clock,
    stamp,
)
from .base import ExtractedDataset, ExtractionContext
from .fields import Meta
from .kinds import DEFAULT, INSTRUMENT, Evidence, kind_name, settle
from .values import Unset, drop_unset, negative

# (path under Acquisition_instrument.<SEM|TEM>, key, scale)
_INSTRUMENT = (
    (("microscope",), "Microscope", 1),
    (("beam_energy",), "Voltage (kV)", 1),
    (("magnification",), "Indicated Magnification (x)", 1),
    (("beam_current",), "Beam Current (nA)", 1),
    (("convergence_angle",), "Convergence Semi-angle (mrad)", 1),
    (("camera_length",), "Camera Length (mm)", 1),
    (("working_distance",), "Working Distance (mm)", 1),
    (("dwell_time",), "Dwell Time (s)", 1),
    (("Stage", "tilt_alpha"), "Stage Position Alpha (deg)", 1),
    (("Stage", "tilt_beta"), "Stage Position Beta (deg)", 1),
    (("Stage", "rotation"), "Stage Rotation (deg)", 1),
    (("Detector", "EDS", "detector_type"), "EDS Detector Type", 1),
    (("Detector", "EDS", "elevation_angle"), "EDS Elevation Angle (deg)", 1),
    (("Detector", "EDS", "azimuth_angle"), "EDS Azimuthal Angle (deg)", 1),
    (("Detector", "EDS", "live_time"), "EDS Live Time (s)", 1),
    (("Detector", "EDS", "real_time"), "EDS Real Time (s)", 1),
    (("Detector", "EDS", "energy_resolution_MnKa"), "EDS Energy Resolution MnKa (eV)", 1),
    (("Detector", "EELS", "collection_angle"), "EELS Collection Semi-angle (mrad)", 1),
    (("Detector", "EELS", "aperture_size"), "EELS Spectrometer Aperture (mm)", 1),
    (("Detector", "EELS", "dispersion"), "EELS Dispersion (eV/ch)", 1),
    (("Detector", "Camera", "exposure"), "Exposure Time (s)", 1),
)

_ZERO_MEANS_UNKNOWN = {"EDS Live Time (s)", "EDS Real Time (s)", "Beam Current (nA)"}

# "Not set" values of RosettaSciIO's metadata tree, whichever reader filled it: Bruker
# writes WD -1 when the microscope did not report one; a length, a size or an angle
# of convergence below zero is no measurement.
UNSET = (
    Unset("Working Distance (mm)", (0,), when=negative,
          why="0 or below: not reported (Bruker -1, Phenom EDS items 0)"),
    Unset("Convergence Semi-angle (mrad)", when=negative,
          why="below 0: parallel illumination, no convergence"),
    Unset("Camera Length (mm)", (0,), when=negative, why="0 or below: not reported"),
    Unset("Indicated Magnification (x)", (0,), why="0: not reported"),
    Unset("Voltage (kV)", (0,), why="0: not reported"),
)


def _instrument(metadata: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    tree = dig(metadata, "Acquisition_instrument") or {}
    for family in ("TEM", "SEM"):
        node = tree.get(family) if isinstance(tree, Mapping) else None
        if isinstance(node, Mapping):
            return family, node
    return "", {}


def standard_meta(signal: Any, md: Mapping[str, Any], sources: Mapping[str, str], path: Path,
                  context: ExtractionContext, stage_unit: str = "mm"
                  ) -> tuple[Meta, set[str], str, list[str]]:
    """nx_meta from the metadata the file gave (``md``, no library defaults).

    Returns nx_meta, unreliable keys, the SEM/TEM family and warnings.
    """
    meta = Meta()
    unreliable: set[str] = set()
    warnings: list[str] = []
    general = md.get("General", {}) or {}
    zone = context.timezone
    if general.get("time_zone"):
        # A zone the file names (e.g. "UTC") wins over the instrument's.
        with contextlib.suppress(Exception):
            from zoneinfo import ZoneInfo

            zone = ZoneInfo(str(general["time_zone"]))
    found = from_wall_clock(general.get("date"), general.get("time"), zone,
                            sources.get("General.time", "reader:General.time"))
    stamp(meta, found, path, context.timezone, unreliable, warnings)
    meta["Data Dimensions"] = data_dimensions(signal)

    def take(key: str, dotted: str, scale: float = 1) -> None:
        value = dig(md, *dotted.split("."))
        if key in _ZERO_MEANS_UNKNOWN and value == 0:
            return
        put(meta, key, value, scale, source=sources.get(dotted, f"reader:{dotted}"))

    take("Title", "General.title")
    take("Operator", "General.authors")
    family, _ = _instrument(md)
    base = f"Acquisition_instrument.{family}"
    for tag_path, key, scale in _INSTRUMENT:
        take(key, ".".join((base, *tag_path)), scale)
    for axis in ("x", "y", "z"):
        take(f"Stage Position {axis.upper()} ({stage_unit})", f"{base}.Stage.{axis}")
    sample = md.get("Sample", {}) or {}
    for name, key in (("elements", "Elements"), ("xray_lines", "X-ray Lines")):
        values = sample.get(name)
        if values is not None and len(values):
            meta.set(key, ", ".join(str(e) for e in values),
                     sources.get(f"Sample.{name}", f"reader:Sample.{name}"))
    take("Signal Quantity", "Signal.quantity")
    spectrum_axis(meta, signal)
    return meta, unreliable, family, warnings


def _data_type(dataset_type: str, signal: Any, family: Evidence, xrf: str = "",
               scanned: str = "") -> tuple[str, str]:
    """Data Type and the evidence of its kind, from the family evidence and signal type.

    ``family`` is what the reader's tree or the format says (SEM/TEM); the signal class
    (``EDS_SEM``/``EDS_TEM``, the file's own ``signal_type``) beats it, and a TEM signal
    with navigation axes, or from a file ``scanned`` names as scanned, is STEM. ``xrf``
    names the evidence of an X-ray tube (no electron beam: no SEM/TEM prefix).
    """
    signal_type = str(signal.metadata.get_item("Signal.signal_type", "") or "").upper()
    kind = "EDS" if signal_type.startswith("EDS") else "EELS" if signal_type.startswith(
        "EELS") else "CL" if signal_type.startswith("CL") else ""
    if xrf or signal_type.startswith("XRF"):
        return {"Spectrum": "XRF_Spectrum", "SpectrumImage": "XRF_Spectrum_Imaging"}.get(
            dataset_type, "XRF_Map"), xrf or "reader:Signal.signal_type"
    # The signal class names the instrument (EDS_SEM/EDS_TEM) from the file's own
    # evidence; a reader's default tree (MSA puts everything under TEM) does not.
    named = next((Evidence(f, INSTRUMENT + 1, "reader:Signal.signal_type")
                  for f in ("SEM", "TEM") if signal_type.endswith("_" + f)), None)
    decided = settle([named], family)
    prefix, source = decided.family, decided.source
    if prefix == "TEM" and (signal.axes_manager.navigation_dimension or scanned):
        prefix = "STEM"
        source += " + " + (scanned or "data:navigation axes")
    tail = {"SpectrumImage": "Spectrum_Imaging", "Image": "Imaging",
            "Diffraction": "Diffraction"}.get(dataset_type, "")
    if dataset_type == "Spectrum":
        tail = "Spectrum" if not (prefix and kind) else ""
    if dataset_type == "Image" and kind:
        tail = "Map"
    return kind_name(prefix, kind, tail) or dataset_type, source


class _HyperSpyExtractor:
    """Shared body: load (lazily unless small and uncompressed), map standard metadata, one
    dataset per signal."""

    name = "hyperspy"
    format_name = "HyperSpy-readable file"
    extensions: frozenset[str] = frozenset()
    priority = 40
    reader: str | None = None
    stage_unit = "mm"
    lazy: bool | None = None
    """None: by the format and the file's size (:func:`._reader.read_lazily`)."""

    def sniff(self, path: Path) -> bool:
        """Accepts by extension; readers check content."""
        return True

    family = ""
    """The instrument family when the reader names none (a Phenom is always an SEM)."""
    unset: tuple[Unset, ...] = ()
    """This format's "not set" values (see :mod:`.values`), dropped after reading."""

    def extras(self, signal: Any, meta: dict[str, Any]) -> None:
        """Format-specific fields from ``original_metadata`` (override)."""

    def family_of(self, meta: dict[str, Any]) -> Evidence | None:
        """The instrument family (SEM/TEM) the format implies, when the reader's tree names
        none (override: from a mode the file states)."""
        return Evidence(self.family, DEFAULT, f"format:{self.name}") if self.family else None

    def as_read(self, signal: Any) -> Any:
        """The signal as this format means it (override: a reader's axes fixed)."""
        return signal

    def file_time(self, path: Path, context: ExtractionContext) -> AcquisitionTime | None:
        """An acquisition time the file (or its companion) states beyond the reader's."""
        return None

    def is_xrf(self, path: Path, signal: Any) -> bool:
        """Whether the file says its X-rays were excited by an X-ray tube (override)."""
        return False

    def scanned(self, path: Path) -> str:
        """The evidence that every signal of the file was scanned, or "" (override)."""
        return ""

    def extract(self, path: Path, context: ExtractionContext) -> list[ExtractedDataset]:
        """One dataset per signal the file holds."""
        loaded = [(self.as_read(s), md, src) for s, md, src in
                  load_with_file_metadata(path, self.reader, lazy=self.lazy)]
        metas = [standard_meta(s, md, src, path, context, self.stage_unit)
                 for s, md, src in loaded]
        # Signals of one file are one acquisition: one that states no time takes a
        # sibling's (a .bcf's survey image has none, its EDS map has).
        own = self.file_time(path, context)
        if own is not None:
            for meta, unreliable, _, warnings in metas:
                if meta.get(SOURCE_KEY) != ABSOLUTE or "Creation Time" in unreliable:
                    with contextlib.suppress(ValueError):
                        warnings.remove(MTIME_WARNING)
                    stamp(meta, own, path, context.timezone, unreliable, warnings)
        stated = next(((m["Creation Time"], m.sources["Creation Time"], m[SOURCE_KEY])
                       for m, unrel, _, _ in metas if "Creation Time" not in unrel), None)
        out: list[ExtractedDataset] = []
        for index, ((signal, _, _), (meta, unreliable, family, warnings)) in enumerate(
                zip(loaded, metas, strict=True), 1):
            if stated and "Creation Time" in unreliable:
                meta["Creation Time"], meta.sources["Creation Time"], meta[SOURCE_KEY] = stated
                unreliable.discard("Creation Time")
                warnings.remove(MTIME_WARNING)
            try:
                self.extras(signal, meta)
            except Exception as exc:  # noqa: BLE001 - the standard fields are still good
                warnings.append(f"could not read {self.format_name} extra fields: {exc}")
            if not any(k in meta for k in ("Pixel Size (nm)", "Pixel Size (1/nm)",
                                           "Pixel Width (nm)")):
                axis_calibration(meta, signal)
            drop_unset(meta, (*UNSET, *self.unset))
            tree = Evidence(family, INSTRUMENT, f"reader:Acquisition_instrument.{family}")
            evidence = settle([tree if family else None, self.family_of(meta)],
                              Evidence("", DEFAULT, f"format:{self.name}"))
            dataset_type = dataset_type_of(signal)
            xrf = self.is_xrf(path, signal)
            if xrf and "Voltage (kV)" in meta:
                # An X-ray tube's voltage, not an electron beam's.
                source = meta.sources.get("Voltage (kV)", "")
                meta.set("X-ray Tube Voltage (kV)", meta.pop("Voltage (kV)"), source)
            data_type, kind_source = _data_type(
                dataset_type, signal, evidence,
                f"format:{self.name} X-ray tube header" if xrf else "", self.scanned(path))
            out.append(
                ExtractedDataset(
                    name=multi_name(path, index, len(loaded)),
                    dataset_type=dataset_type,
                    nx_meta=finish(meta, dataset_type=dataset_type, data_type=data_type,
                                   extractor=self.name, kind_source=kind_source),
                    extractor=self.name,
                    unreliable=unreliable,
                    warnings=warnings,
                    render_preview=signal_preview(signal, dataset_type),
                )
            )
        return out


# (original_metadata path, nx_meta key) of Bruker Esprit headers
_BRUKER = (
    (("Microscope", "Name"), "Microscope"),
    (("Microscope", "WD"), "Working Distance (mm)"),
    (("Hardware", "DetectorTemperature"), "Detector Temperature (C)"),
    (("Hardware", "DeadTime"), "EDS Dead Time (%)"),
    (("Hardware", "ShapingTime"), "EDS Shaping Time (ns)"),
    (("Detector", "WindowType"), "EDS Window Type"),
    (("DSP Configuration", "ImageWidth"), "Image Width (px)"),
    (("DSP Configuration", "ImageHeight"), "Image Height (px)"),
    (("DSP Configuration", "PixelAverage"), "Pixel Averaging"),
    (("DSP Configuration", "LineAverage"), "Line Averaging"),
    (("DSP Configuration", "PixelTime"), "Pixel Dwell Time (us)"),
)


class BrukerExtractor(_HyperSpyExtractor):
    """Bruker Esprit ``.bcf`` hypermaps (image + EDS map) and ``.spx`` spectra."""

    name = "bruker"
    format_name = "Bruker Esprit"
    extensions = frozenset({"bcf", "spx"})
    reader = "Bruker"
    stage_unit = "um"

    def sniff(self, path: Path) -> bool:
        """``.bcf`` is an AidAim SFS container; ``.spx`` is XML."""
        with open(path, "rb") as handle:
            head = handle.read(8)
        return head.startswith(b"AAMVHFSS") or head.lstrip(b"\xef\xbb\xbf").startswith(b"<")

    def scanned(self, path: Path) -> str:
        """A ``.bcf`` hypermap is acquired by Esprit's own scan generator: its images,
        like its spectrum image, are scanned (STEM on a TEM, not TEM camera images)."""
        return "format:bcf hypermap (scanned)" if path.suffix.lower() == ".bcf" else ""

    def is_xrf(self, path: Path, signal: Any) -> bool:
        """A micro-XRF spectrum (.spx) carries a ``TRTXrfHeader`` (X-ray tube settings)."""
        if path.suffix.lower() != ".spx":
            return False
        return b"TRTXrfHeader" in path.read_bytes()

    def extras(self, signal: Any, meta: dict[str, Any]) -> None:
        om = signal.original_metadata.as_dictionary()
        for tag_path, key in _BRUKER:
            put(meta, key, dig(om, *tag_path), source="om:" + ".".join(tag_path))
        counter = dig(om, "Line counter")
        if counter is not None and "Mapping Frames" not in meta:
            put(meta, "Mapping Frames", len(set(counter)) if hasattr(counter, "__len__")
                else counter, source="om:Line counter")


# spc_header field -> nx_meta key (EDAX .spc)
_SPC = (
    ("elevation", "EDS Elevation Angle (deg)"),
    ("azimuth", "EDS Azimuthal Angle (deg)"),
    ("liveTime", "EDS Live Time (s)"),
    ("evPerChan", "EDS Energy Per Channel (eV)"),
    ("detReso", "EDS Detector Resolution (eV)"),
    ("endEnergy", "EDS End Energy (keV)"),
    ("numPts", "Number of Channels"),
    ("tilt", "Stage Tilt (deg)"),
)


class EdaxSpcExtractor(_HyperSpyExtractor):
    """EDAX Genesis/TEAM ``.spc`` spectra."""

    name = "edax"
    format_name = "EDAX spectrum (.spc)"
    extensions = frozenset({"spc"})
    reader = "EDAX"

    def extras(self, signal: Any, meta: dict[str, Any]) -> None:
        header = dig(signal.original_metadata.as_dictionary(), "spc_header") or {}
        if not isinstance(header, Mapping):
            return
        for tag, key in _SPC:
            value = header.get(tag)
            if tag == "detReso" and not value:
                continue
            put(meta, key, value, source=f"om:spc_header.{tag}")
        if "Voltage (kV)" not in meta:
            put(meta, "Voltage (kV)", header.get("kV"), source="om:spc_header.kV")


class HyperSpyExtractor(_HyperSpyExtractor):
    """HyperSpy's own ``.hspy`` (HDF5) and ``.zspy`` (Zarr) files."""

    name = "hspy"
    format_name = "HyperSpy file"
    extensions = frozenset({"hspy", "zspy"})

    def extras(self, signal: Any, meta: dict[str, Any]) -> None:
        """A file first read from DigitalMicrograph keeps the DM tags in its
        ``original_metadata``: they are read as the DM extractor reads them (Cs, modes,
        stage...), and the DM reader's ``microscope`` (the plug-in's name) is named so."""
        from .digitalmicrograph import tag_fields

        tags = dig(signal.original_metadata.as_dictionary(), "ImageList", "TagGroup0",
                   "ImageTags")
        if not isinstance(tags, Mapping):
            return
        plugin = dig(tags, "Microscope Info", "Name")
        if plugin and meta.get("Microscope") == plugin:
            source = meta.sources.pop("Microscope", "")  # type: ignore[attr-defined]
            meta.pop("Microscope")
            put(meta, "Microscope Plug-in", plugin, source=source)
        tag_fields(meta, tags, prefix="om:ImageList.TagGroup0.ImageTags.")
