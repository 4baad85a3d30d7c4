"""Formats read through RosettaSciIO's standard metadata: Bruker, EDAX, EMSA, HyperSpy, MRC.

These readers all fill HyperSpy's ``metadata`` tree (``Acquisition_instrument``,
``Sample``, ``General.date``/``time``...), so one mapping serves them; each extractor adds
what its own ``original_metadata`` holds beyond that. The tree is taken as the *reader*
gave it, before HyperSpy/exspy add their defaults (130 eV resolution, 0° tilt...): a
value the file does not hold is not reported.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._common import (
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
from ._time import MTIME_WARNING, SOURCE_KEY, from_wall_clock, stamp
from .base import ExtractedDataset, ExtractionContext
from .fields import Meta

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


def _data_type(dataset_type: str, signal: Any, family: str, xrf: bool = False) -> str:
    signal_type = str(signal.metadata.get_item("Signal.signal_type", "") or "").upper()
    kind = "EDS" if signal_type.startswith("EDS") else "EELS" if signal_type.startswith(
        "EELS") else "CL" if signal_type.startswith("CL") else ""
    if xrf or signal_type.startswith("XRF"):
        # X-rays excited by an X-ray tube: no electron beam, so no SEM/TEM prefix.
        return {"Spectrum": "XRF_Spectrum", "SpectrumImage": "XRF_Spectrum_Imaging"}.get(
            dataset_type, "XRF_Map")
    # The signal class names the instrument (EDS_SEM/EDS_TEM) from the file's own
    # evidence; a reader's default tree (MSA puts everything under TEM) does not.
    for family_name in ("SEM", "TEM"):
        if signal_type.endswith("_" + family_name):
            family = family_name
    prefix = family if family else ""
    if family == "TEM" and signal.axes_manager.navigation_dimension:
        prefix = "STEM"
    tail = {"SpectrumImage": "Spectrum_Imaging", "Image": "Imaging",
            "Diffraction": "Diffraction"}.get(dataset_type, "")
    if dataset_type == "Spectrum":
        tail = "Spectrum" if not (prefix and kind) else ""
    if dataset_type == "Image" and kind:
        tail = "Map"
    parts = [p for p in (prefix, kind, tail) if p]
    return "_".join(parts) or dataset_type


class _HyperSpyExtractor:
    """Shared body: load lazily, map standard metadata, one dataset per signal."""

    name = "hyperspy"
    format_name = "HyperSpy-readable file"
    extensions: frozenset[str] = frozenset()
    priority = 40
    reader: str | None = None
    stage_unit = "mm"
    lazy = True

    def sniff(self, path: Path) -> bool:
        """Accepts by extension; readers check content."""
        return True

    def extras(self, signal: Any, meta: dict[str, Any]) -> None:
        """Format-specific fields from ``original_metadata`` (override)."""

    def is_xrf(self, path: Path, signal: Any) -> bool:
        """Whether the file says its X-rays were excited by an X-ray tube (override)."""
        return False

    def extract(self, path: Path, context: ExtractionContext) -> list[ExtractedDataset]:
        """One dataset per signal the file holds."""
        loaded = load_with_file_metadata(path, self.reader, lazy=self.lazy)
        metas = [standard_meta(s, md, src, path, context, self.stage_unit)
                 for s, md, src in loaded]
        # Signals of one file are one acquisition: one that states no time takes a
        # sibling's (a .bcf's survey image has none, its EDS map has).
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
            dataset_type = dataset_type_of(signal)
            xrf = self.is_xrf(path, signal)
            if xrf and "Voltage (kV)" in meta:
                # An X-ray tube's voltage, not an electron beam's.
                source = meta.sources.get("Voltage (kV)", "")
                meta.set("X-ray Tube Voltage (kV)", meta.pop("Voltage (kV)"), source)
            data_type = _data_type(dataset_type, signal, family, xrf)
            out.append(
                ExtractedDataset(
                    name=multi_name(path, index, len(loaded)),
                    dataset_type=dataset_type,
                    nx_meta=finish(meta, dataset_type=dataset_type, data_type=data_type,
                                   extractor=self.name),
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


class MsaExtractor(_HyperSpyExtractor):
    """EMSA/MAS ``.msa`` text spectra (ISO 22029), e.g. from EDAX or Gatan."""

    name = "msa"
    format_name = "EMSA/MAS spectrum (.msa)"
    extensions = frozenset({"msa", "ems", "mas", "emsa"})
    reader = "MSA"
    lazy = False  # rsciio's MSA reader cannot load lazily; the files are small text

    def sniff(self, path: Path) -> bool:
        """EMSA files start with a ``#FORMAT`` keyword line."""
        with open(path, "rb") as handle:
            head = handle.read(64).lstrip(b"\xef\xbb\xbf").lstrip()
        return head.upper().startswith(b"#FORMAT")

    def is_xrf(self, path: Path, signal: Any) -> bool:
        """``#SIGNALTYPE : XRF``."""
        return str(signal.original_metadata.get_item("SIGNALTYPE", "")).upper() == "XRF"

    def extras(self, signal: Any, meta: dict[str, Any]) -> None:
        om = signal.original_metadata.as_dictionary()
        # Covered by the standard mapping, or layout of the data rather than acquisition.
        skip = {"FORMAT", "VERSION", "NPOINTS", "NCOLUMNS", "XPERCHAN", "OFFSET", "CHOFFSET",
                "DATATYPE", "XUNITS", "YUNITS", "XLABEL", "YLABEL", "DATE", "TIME", "TITLE",
                "OWNER", "SIGNALTYPE", "BEAMKV", "LIVETIME", "REALTIME", "ELEVANGLE",
                "AZIMANGLE", "MAGCAM", "RESO"}
        for key, value in om.items():
            name = re.sub(r"\s*-\s*([A-Za-z]+)$", r" (\1)", " ".join(str(key).split()))
            if name.split(" (")[0].upper() in skip or isinstance(value, Mapping):
                continue
            if value in ("", None):
                continue
            put(meta, f"MSA {name}", _number_or_text(value), source=f"msa:{key}")
        put(meta, "Number of Channels", om.get("NPOINTS"), source="msa:NPOINTS")
        put(meta, "Energy Per Channel (eV)", om.get("XPERCHAN"), source="msa:XPERCHAN")
        put(meta, "Indicated Magnification (x)", om.get("MAGCAM"), source="msa:MAGCAM")
        # EDAX writes its detector's resolution (at Mn Ka) as the ##RESO keyword.
        if "EDS Energy Resolution MnKa (eV)" not in meta:
            put(meta, "EDS Energy Resolution MnKa (eV)", _number_or_text(om.get("RESO (MnKa)")),
                source="msa:RESO (MnKa)")
        if "Operator" not in meta:
            put(meta, "Operator", om.get("OWNER"), source="msa:OWNER")


def _number_or_text(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


class HyperSpyExtractor(_HyperSpyExtractor):
    """HyperSpy's own ``.hspy`` (HDF5) and ``.zspy`` (Zarr) files."""

    name = "hspy"
    format_name = "HyperSpy file"
    extensions = frozenset({"hspy", "zspy"})


class MrcExtractor(_HyperSpyExtractor):
    """MRC/CCP-EM volumes and image stacks."""

    name = "mrc"
    format_name = "MRC"
    extensions = frozenset({"mrc", "mrcs", "ali", "rec"})
    reader = "MRC"

    def sniff(self, path: Path) -> bool:
        """MRC files have a 1024-byte header; older ones lack the ``MAP`` stamp, so no more."""
        with open(path, "rb") as handle:
            head = handle.read(224)
        return len(head) >= 224

    # MRC2014 MODE -> how each pixel is stored
    _MODES = {0: "int8", 1: "int16", 2: "float32", 3: "complex int16", 4: "complex64",
              6: "uint16", 12: "float16", 101: "4-bit"}

    def extras(self, signal: Any, meta: dict[str, Any]) -> None:
        """Header fields: pixel size, pixel type, sections, density statistics, labels."""
        header = signal.original_metadata.get_item("std_header")
        if header is None:
            return
        header = header.as_dictionary() if hasattr(header, "as_dictionary") else dict(header)
        x_axis = signal.axes_manager.signal_axes[0]
        if x_axis.units and x_axis.scale:
            put(meta, f"Pixel Size ({x_axis.units})", float(x_axis.scale), source="axis:x.scale")
        put(meta, "Pixel Data Type", self._MODES.get(int(header.get("MODE", -1))),
            source="om:std_header.MODE")
        put(meta, "Number of Sections", int(header["NZ"]) if "NZ" in header else None,
            source="om:std_header.NZ")
        space_group = header.get("ISPG")
        if space_group is not None:
            put(meta, "Stack Kind", "image stack" if int(space_group) == 0 else "volume",
                source="om:std_header.ISPG")
        for key, label in (("AMIN", "Minimum"), ("AMAX", "Maximum"), ("AMEAN", "Mean"),
                           ("RMS", "RMS")):
            if key in header:
                put(meta, f"Density {label}", round(float(header[key]), 6),
                    source=f"om:std_header.{key}")
        if int(header.get("NEXT", 0) or 0):
            put(meta, "Extended Header Size (bytes)", int(header["NEXT"]),
                source="om:std_header.NEXT")
        labels = _mrc_labels(header.get("LABELS"), int(header.get("NLABL", 0) or 0))
        if labels:
            put(meta, "Labels", "; ".join(labels), source="om:std_header.LABELS")


def _mrc_labels(raw: Any, count: int) -> list[str]:
    """The header's text labels (RosettaSciIO hands them over hex-encoded, 80 bytes each)."""
    if not raw or not count:
        return []
    try:
        data = bytes.fromhex(raw) if isinstance(raw, str) else bytes(raw)
    except ValueError:
        return []
    chunks = (data[i * 80:(i + 1) * 80] for i in range(count))
    return [text for c in chunks if (text := c.decode("latin-1").strip(" \x00"))]
