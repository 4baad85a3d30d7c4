"""Formats read through RosettaSciIO's standard metadata: Bruker, EDAX, EMSA, HyperSpy, MRC.

These readers all fill HyperSpy's ``metadata`` tree (``Acquisition_instrument``,
``Sample``, ``General.date``/``time``...), so one mapping serves them; each extractor adds
what its own ``original_metadata`` holds beyond that.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._common import (
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


def standard_meta(signal: Any, path: Path, context: ExtractionContext,
                  stage_unit: str = "mm") -> tuple[dict[str, Any], set[str], str]:
    """nx_meta from HyperSpy's standard metadata; also unreliable keys and SEM/TEM family."""
    md = signal.metadata.as_dictionary()
    meta: dict[str, Any] = {}
    unreliable: set[str] = set()
    general = md.get("General", {})
    when = wallclock_iso(general.get("date"), general.get("time"), context.timezone)
    if when and general.get("time_zone") and "+" not in str(general.get("time")):
        # A stated zone name (e.g. "UTC") wins over the instrument's.
        try:
            from zoneinfo import ZoneInfo

            zone = ZoneInfo(str(general["time_zone"]))
            when = wallclock_iso(general.get("date"), general.get("time"), zone)
        except Exception:  # noqa: BLE001 - unknown zone names keep the instrument's zone
            pass
    if when:
        meta["Creation Time"] = when
    else:
        meta["Creation Time"] = mtime_iso(path, context.timezone)
        unreliable.add("Creation Time")
    meta["Data Dimensions"] = data_dimensions(signal)
    put(meta, "Title", general.get("title"))
    put(meta, "Operator", general.get("authors"))
    family, inst = _instrument(md)
    for tag_path, key, scale in _INSTRUMENT:
        value = dig(inst, *tag_path)
        if key in _ZERO_MEANS_UNKNOWN and value == 0:
            continue
        put(meta, key, value, scale)
    for axis in ("x", "y", "z"):
        put(meta, f"Stage Position {axis.upper()} ({stage_unit})", dig(inst, "Stage", axis))
    sample = md.get("Sample", {})
    elements = sample.get("elements")
    if elements is not None and len(elements):
        meta["Elements"] = ", ".join(str(e) for e in elements)
    lines = sample.get("xray_lines")
    if lines is not None and len(lines):
        meta["X-ray Lines"] = ", ".join(str(e) for e in lines)
    put(meta, "Signal Quantity", dig(md, "Signal", "quantity"))
    return meta, unreliable, family


def _data_type(dataset_type: str, signal: Any, family: str) -> str:
    signal_type = str(signal.metadata.get_item("Signal.signal_type", "") or "").upper()
    kind = "EDS" if signal_type.startswith("EDS") else "EELS" if signal_type.startswith(
        "EELS") else "CL" if signal_type.startswith("CL") else ""
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

    def extract(self, path: Path, context: ExtractionContext) -> list[ExtractedDataset]:
        """One dataset per signal the file holds."""
        kwargs: dict[str, Any] = {"file_format": self.reader} if self.reader else {}
        signals = load_signals(path, lazy=self.lazy, **kwargs)
        metas = [standard_meta(s, path, context, self.stage_unit) for s in signals]
        # Signals of one file are one acquisition: one that states no time takes a
        # sibling's (a .bcf's survey image has none, its EDS map has).
        stated = next((m["Creation Time"] for m, unrel, _ in metas
                       if "Creation Time" not in unrel), None)
        out: list[ExtractedDataset] = []
        for index, (signal, (meta, unreliable, family)) in enumerate(
                zip(signals, metas, strict=True), 1):
            if stated and "Creation Time" in unreliable:
                meta["Creation Time"] = stated
                unreliable.discard("Creation Time")
            warnings: list[str] = []
            try:
                self.extras(signal, meta)
            except Exception as exc:  # noqa: BLE001 - the standard fields are still good
                warnings.append(f"could not read {self.format_name} extra fields: {exc}")
            dataset_type = dataset_type_of(signal)
            data_type = _data_type(dataset_type, signal, family)
            if "Creation Time" in unreliable:
                warnings.append("no acquisition date/time in the file; Creation Time is the "
                                "file's modification time")
            out.append(
                ExtractedDataset(
                    name=multi_name(path, index, len(signals)),
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

    def extras(self, signal: Any, meta: dict[str, Any]) -> None:
        om = signal.original_metadata.as_dictionary()
        put(meta, "Microscope", dig(om, "Microscope", "Name") or meta.get("Microscope"))
        put(meta, "Working Distance (mm)", dig(om, "Microscope", "WD"))
        put(meta, "Detector Temperature (C)", dig(om, "Hardware", "DetectorTemperature"))
        put(meta, "EDS Dead Time (%)", dig(om, "Hardware", "DeadTime"))
        put(meta, "EDS Shaping Time (ns)", dig(om, "Hardware", "ShapingTime"))
        put(meta, "EDS Window Type", dig(om, "Detector", "WindowType"))
        dsp = dig(om, "DSP Configuration") or {}
        if isinstance(dsp, Mapping):
            put(meta, "Image Width (px)", dsp.get("ImageWidth"))
            put(meta, "Image Height (px)", dsp.get("ImageHeight"))
            put(meta, "Pixel Averaging", dsp.get("PixelAverage"))
            put(meta, "Line Averaging", dsp.get("LineAverage"))
            put(meta, "Pixel Dwell Time (us)", dsp.get("PixelTime"))
        counter = dig(om, "Line counter")
        if counter is not None:
            meta.setdefault("Mapping Frames", len(set(counter)) if hasattr(counter, "__len__")
                            else counter)


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
        put(meta, "EDS Elevation Angle (deg)", header.get("elevation"))
        put(meta, "EDS Azimuthal Angle (deg)", header.get("azimuth"))
        put(meta, "EDS Live Time (s)", header.get("liveTime"))
        put(meta, "EDS Energy Per Channel (eV)", header.get("evPerChan"))
        put(meta, "EDS Detector Resolution (eV)", header.get("detReso") or None)
        put(meta, "EDS End Energy (keV)", header.get("endEnergy"))
        put(meta, "Number of Channels", header.get("numPts"))
        put(meta, "Stage Tilt (deg)", header.get("tilt"))
        if "Voltage (kV)" not in meta:
            put(meta, "Voltage (kV)", header.get("kV"))


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

    def extras(self, signal: Any, meta: dict[str, Any]) -> None:
        om = signal.original_metadata.as_dictionary()
        # Covered by the standard mapping, or layout of the data rather than acquisition.
        skip = {"FORMAT", "VERSION", "NPOINTS", "NCOLUMNS", "XPERCHAN", "OFFSET", "CHOFFSET",
                "DATATYPE", "XUNITS", "YUNITS", "XLABEL", "YLABEL", "DATE", "TIME", "TITLE",
                "OWNER", "SIGNALTYPE", "BEAMKV", "LIVETIME", "REALTIME", "ELEVANGLE",
                "AZIMANGLE", "MAGCAM"}
        for key, value in om.items():
            name = re.sub(r"\s*-\s*([A-Za-z]+)$", r" (\1)", " ".join(str(key).split()))
            if name.split(" (")[0].upper() in skip or isinstance(value, Mapping):
                continue
            if value in ("", None):
                continue
            put(meta, f"MSA {name}", value)
        put(meta, "Number of Channels", om.get("NPOINTS"))
        put(meta, "Energy Per Channel (eV)", om.get("XPERCHAN"))
        put(meta, "Indicated Magnification (x)", om.get("MAGCAM"))
        put(meta, "Operator", meta.get("Operator") or om.get("OWNER"))


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
            put(meta, f"Pixel Size ({x_axis.units})", float(x_axis.scale))
        put(meta, "Pixel Data Type", self._MODES.get(int(header.get("MODE", -1))))
        put(meta, "Number of Sections", int(header["NZ"]) if "NZ" in header else None)
        space_group = header.get("ISPG")
        if space_group is not None:
            put(meta, "Stack Kind", "image stack" if int(space_group) == 0 else "volume")
        for key, label in (("AMIN", "Minimum"), ("AMAX", "Maximum"), ("AMEAN", "Mean"),
                           ("RMS", "RMS")):
            if key in header:
                put(meta, f"Density {label}", round(float(header[key]), 6))
        if int(header.get("NEXT", 0) or 0):
            put(meta, "Extended Header Size (bytes)", int(header["NEXT"]))
        labels = _mrc_labels(header.get("LABELS"), int(header.get("NLABL", 0) or 0))
        if labels:
            put(meta, "Labels", "; ".join(labels))


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
