"""FEI/Thermo Fisher TIA ``.ser`` + ``.emi``: one acquisition, one dataset per detector.

TIA writes one ``name.emi`` (microscope settings, as XML ``<ObjectInfo>`` blocks, one per
detector) and one ``name_N.ser`` (data) per detector. Each ``.ser`` becomes a dataset
carrying the settings of the ``N``-th block of its ``.emi`` and a ``TIA Metadata File``
key naming it; the ``.emi`` itself yields no dataset when its ``.ser`` files are there,
so the record does not list one acquisition twice.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from ._common import (
    axis_calibration,
    data_dimensions,
    dataset_type_of,
    finish,
    multi_name,
    put,
    signal_preview,
    spectrum_axis,
)
from ._reader import load_signals
from ._time import MTIME_WARNING, AcquisitionTime, from_epoch, from_wall_clock, stamp
from .base import ExtractedDataset, ExtractionContext
from .basic import basic_dataset
from .fields import Meta, sources_of
from .kinds import DEFAULT, Evidence, kind_name, mode_family, settle
from .values import Unset, drop_unset, negative

NAME = "tia"

_SER_NAME = re.compile(r"^(?P<base>.*)_(?P<index>\d+)$")

# ExperimentalDescription labels (with units) renamed to the keys other formats use.
_RENAME = {
    ("High tension", "kV"): ("Voltage (kV)", 1),
    ("Magnification", "x"): ("Indicated Magnification (x)", 1),
    ("Camera length", "m"): ("Camera Length (mm)", 1e3),
    ("Stage X", "um"): ("Stage Position X (um)", 1),
    ("Stage Y", "um"): ("Stage Position Y (um)", 1),
    ("Stage Z", "um"): ("Stage Position Z (um)", 1),
    ("Stage A", "deg"): ("Stage Position Alpha (deg)", 1),
    ("Stage B", "deg"): ("Stage Position Beta (deg)", 1),
    ("Emission", "uA"): ("Emission Current (uA)", 1),
    ("User", ""): ("Operator", 1),
    ("Stem rotation", "deg"): ("STEM Rotation (deg)", 1),
    ("Stem rotation correction", "deg"): ("STEM Rotation Correction (deg)", 1),
}
# TIA's "not set": a negative spot size (the microscope reported none), a camera
# length of 0 (imaging mode).
UNSET = (
    Unset("Spot Size", when=negative, why="below 0: not reported"),
    Unset("Camera Length (mm)", (0,), when=negative, why="0: not in diffraction"),
)
_ACQUIRE = {
    "DwellTimePath": ("Dwell Time (s)", 1),
    "FrameTime": ("Frame Time (s)", 1),
    "CameraNamePath": ("Camera", 1),
    "Binning": ("Binning", 1),
}


def emi_objects(emi: Path) -> list[str]:
    """The ``<ObjectInfo>`` XML blocks of an ``.emi`` file, in file order."""
    raw = emi.read_bytes()
    blocks: list[str] = []
    start = raw.find(b"<ObjectInfo>")
    while start != -1:
        end = raw.find(b"</ObjectInfo>", start)
        if end == -1:
            break
        blocks.append(raw[start : end + len(b"</ObjectInfo>")].decode("utf-8", "replace"))
        start = raw.find(b"<ObjectInfo>", end)
    return blocks


def _title(label: str) -> str:
    words = label.strip().split()
    return " ".join(w if w.isupper() else w[:1].upper() + w[1:] for w in words)


def emi_time(block: str, context: ExtractionContext) -> AcquisitionTime | None:
    """The block's ``AcquireDate``: wall clock of the TIA PC, read in the instrument's zone."""
    when = ET.fromstring(block).findtext("AcquireDate")
    if not when:
        return None
    try:
        naive = dt.datetime.strptime(" ".join(when.split()), "%a %b %d %H:%M:%S %Y")
    except ValueError:
        return None
    return from_wall_clock(naive.date().isoformat(), naive.time().isoformat(),
                           context.timezone, "emi:AcquireDate")


def ser_time(signal: Any) -> AcquisitionTime | None:
    """The ``.ser``'s own time tag (seconds since the epoch; the first of a series)."""
    import numpy as np

    stamps = signal.original_metadata.get_item("ser_header_parameters.Time")
    if stamps is None:
        return None
    values = np.asarray(stamps, dtype=float).ravel()
    values = values[values > 0]
    return from_epoch(values.min(), "om:ser_header_parameters.Time") if values.size else None


def emi_meta(block: str, context: ExtractionContext) -> dict[str, Any]:
    """nx_meta fields from one ``<ObjectInfo>`` block (microscope settings)."""
    root = ET.fromstring(block)
    meta = Meta()
    for data in root.iterfind("ExperimentalDescription/Root/Data"):
        label = (data.findtext("Label") or "").strip()
        value = (data.findtext("Value") or "").strip()
        unit = (data.findtext("Unit") or "").strip()
        if not label or not value:
            continue
        key, scale = _RENAME.get((label, unit), (None, 1))
        if key is None:
            key = f"{_title(label)} ({unit})" if unit else _title(label)
        if label == "Microscope":
            value = re.sub(r"^Microscope\s+", "", value)
        source = f"emi:ExperimentalDescription/{label}"
        if unit:
            try:
                put(meta, key, float(value), scale, source=source)
                continue
            except ValueError:
                pass
        put(meta, key, value, source=source)
    for tag, (key, scale) in _ACQUIRE.items():
        value = (root.findtext(f"AcquireInfo/{tag}") or "").strip()
        if value:
            try:
                put(meta, key, float(value) if key != "Camera" else value, scale,
                    source=f"emi:AcquireInfo/{tag}")
            except ValueError:
                put(meta, key, value, source=f"emi:AcquireInfo/{tag}")
    # The microscope's own report beside the description: the voltage in V, and the
    # two goniometer tilts, whose unit TIA does not state (published as written).
    conditions = "ExperimentalConditions/MicroscopeConditions/"
    if "Voltage (kV)" not in meta:
        put(meta, "Voltage (kV)", _number(root.findtext(conditions + "AcceleratingVoltage")),
            1e-3, source=f"emi:{conditions}AcceleratingVoltage")
    for tag, key in (("Tilt1", "Microscope Tilt 1"), ("Tilt2", "Microscope Tilt 2")):
        put(meta, key, _number(root.findtext(conditions + tag)),
            source=f"emi:{conditions}{tag}")
    _eds_settings(root, meta)
    put(meta, "Manufacturer", root.findtext("Manufacturer"), source="emi:Manufacturer")
    return meta


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


# A TIA EDS acquisition's AcquireInfo tags, with the units TIA writes them in (as
# NexusLIMS 1.4, which read them from TIA EDS files, maps them). BeamPosition is text,
# "(x, y) um".
_EDS_ACQUIRE = {
    "EnergyResolution": "EDS Energy Resolution (eV)",
    "IntegrationTime": "EDS Integration Time (s)",
    "ShapingTime": "EDS Shaping Time (s)",
    "NumberSpectra": "Number of Spectra",
    "ScanArea": "Scan Area",
}
_BEAM_POSITION = re.compile(r"^\(?\s*([-+\d.eE]+)\s*,\s*([-+\d.eE]+)\s*\)?\s*(um|µm|nm)$")


def _eds_settings(root: ET.Element, meta: dict[str, Any]) -> None:
    """Every other ``AcquireInfo`` setting: an EDS acquisition's with their units, the
    rest under ``TIA <name>`` as TIA wrote them."""
    for child in root.iterfind("AcquireInfo/*"):
        text = (child.text or "").strip()
        if child.tag in _ACQUIRE or child.tag == "Magnification" or not text or len(child):
            continue
        source = f"emi:AcquireInfo/{child.tag}"
        if child.tag in _EDS_ACQUIRE:
            key = _EDS_ACQUIRE[child.tag]
            try:
                put(meta, key, float(text) if "(" in key else int(text), source=source)
            except ValueError:
                put(meta, key, text, source=source)
            continue
        position = _BEAM_POSITION.match(text) if child.tag == "BeamPosition" else None
        if position:
            unit = position.group(3).replace("µ", "u")
            put(meta, f"Beam Position X ({unit})", float(position.group(1)), source=source)
            put(meta, f"Beam Position Y ({unit})", float(position.group(2)), source=source)
            continue
        name = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", child.tag.removesuffix("Path"))
        try:
            put(meta, f"TIA {name}", float(text), source=f"emi:AcquireInfo/{child.tag}")
        except ValueError:
            put(meta, f"TIA {name}", text, source=f"emi:AcquireInfo/{child.tag}")


def _kind(meta: Meta, signal: Any) -> tuple[str, str, str]:
    """DatasetType, Data Type and the evidence of its kind (the microscope's mode TIA
    recorded, ``TEM uP SA Zoom Image``, ``STEM nP Mi Zoom Diffraction``)."""
    mode = str(meta.get("Mode", "")).upper()
    family = settle([mode_family(mode, meta.sources.get("Mode", ""), column="TEM")],
                    Evidence("", DEFAULT, f"format:{NAME}"))
    prefix, source = family.family, family.source
    hint = "diffraction" if prefix == "TEM" and "DIFFRACTION" in mode else None
    dataset_type = dataset_type_of(signal, hint)
    if dataset_type in ("Spectrum", "SpectrumImage"):
        kind = spectrum_kind(meta, signal)
        tail = "Spectrum_Imaging" if dataset_type == "SpectrumImage" else (
            "" if kind and prefix else "Spectrum")
        return dataset_type, kind_name(prefix, kind, tail), source
    if dataset_type == "Diffraction":
        return dataset_type, kind_name(prefix, "Diffraction"), source
    if dataset_type == "Image":
        return dataset_type, kind_name(prefix, "Imaging"), source
    return dataset_type, dataset_type, source


def spectrum_kind(meta: dict[str, Any], signal: Any) -> str:
    """EELS or EDS, from the energy axis first: TIA labels neither.

    EELS spectrometers disperse at 0.01-1 eV/channel around the zero-loss peak; an EDS
    detector at 5-20 eV/channel from 0 to tens of keV. The filter being in
    spectroscopy mode says only that a GIF is fitted, so it decides only when the axis
    is not an energy axis.
    """
    try:
        axis = signal.axes_manager.signal_axes[0]
        units = str(axis.units or "").strip().lower()
        scale = float(axis.scale) * (1000.0 if units == "kev" else 1.0)
        offset = float(axis.offset) * (1000.0 if units == "kev" else 1.0)
        end = offset + scale * axis.size
    except Exception:  # noqa: BLE001 - no axis: only the settings can tell
        units, scale, end = "", 0.0, 0.0
    if units in ("ev", "kev") and scale > 0:
        if scale >= 3.0 and end >= 5000.0:
            return "EDS"
        if scale <= 2.0:
            return "EELS"
    if str(meta.get("Filter Mode", "")).lower() == "spectroscopy":
        return "EELS"
    return ""


def _find_emi(ser: Path) -> tuple[Path | None, int]:
    match = _SER_NAME.match(ser.stem)
    if not match:
        return None, 0
    index = int(match.group("index"))
    for suffix in (".emi", ".EMI", ".Emi"):
        emi = ser.with_name(match.group("base") + suffix)
        if emi.is_file():
            return emi, index
    return None, index


def _ser_siblings(emi: Path) -> list[Path]:
    pattern = re.compile(re.escape(emi.stem) + r"_\d+\.ser$", re.IGNORECASE)
    return sorted(p for p in emi.parent.iterdir() if pattern.match(p.name))


class TiaSerExtractor:
    """TIA ``.ser`` data files, with the settings from their ``.emi``."""

    name = NAME
    format_name = "FEI TIA series"
    extensions = frozenset({"ser"})
    priority = 50

    def sniff(self, path: Path) -> bool:
        """``.ser`` files start with byte order ``II`` and series id 0x0197."""
        with open(path, "rb") as handle:
            head = handle.read(4)
        return head[:2] == b"II" and int.from_bytes(head[2:4], "little") == 0x0197

    def extract(self, path: Path, context: ExtractionContext) -> list[ExtractedDataset]:
        """One dataset per signal of the ``.ser`` (normally one)."""
        signals = load_signals(path, file_format="TIA")
        emi, index = _find_emi(path)
        warnings: list[str] = []
        settings: dict[str, Any] = {}
        wall: AcquisitionTime | None = None
        if emi is None:
            warnings.append("no .emi file next to this .ser: microscope settings unavailable")
        else:
            try:
                blocks = emi_objects(emi)
                block = blocks[index - 1] if 0 < index <= len(blocks) else None
                if block is None and blocks:
                    block = blocks[0]
                    warnings.append(f"{emi.name} has no settings block for detector {index}; "
                                    "used the first one")
                if block is not None:
                    settings = emi_meta(block, context)
                    wall = emi_time(block, context)
                else:
                    warnings.append(f"{emi.name} holds no settings")
            except (OSError, ET.ParseError) as exc:
                warnings.append(f"could not read settings from {emi.name}: {exc}")
        out: list[ExtractedDataset] = []
        for i, signal in enumerate(signals, 1):
            meta = Meta(settings)
            meta.sources.update(sources_of(settings))
            unreliable: set[str] = set()
            notes = list(warnings)
            # The .ser's epoch seconds are the instant; the .emi's date is the TIA PC's
            # wall clock (and may be a sibling detector's block).
            stamp(meta, ser_time(signal) or wall, path, context.timezone, unreliable, notes)
            meta["Data Dimensions"] = data_dimensions(signal)
            spectrum_axis(meta, signal)
            axis_calibration(meta, signal)
            if emi is not None:
                meta.set("TIA Metadata File", emi.name, "filesystem:name")
                meta.set("TIA Detector Index", index, "filesystem:name")
            drop_unset(meta, UNSET)
            dataset_type, data_type, kind_source = _kind(meta, signal)
            out.append(
                ExtractedDataset(
                    name=multi_name(path, i, len(signals)),
                    dataset_type=dataset_type,
                    nx_meta=finish(meta, dataset_type=dataset_type, data_type=data_type,
                                   extractor=NAME, kind_source=kind_source),
                    extractor=NAME,
                    unreliable=unreliable,
                    warnings=notes,
                    render_preview=signal_preview(signal, dataset_type),
                )
            )
        return out


class TiaEmiExtractor:
    """TIA ``.emi`` settings files: described by their ``.ser`` siblings' datasets."""

    name = "tia-emi"
    format_name = "FEI TIA settings (.emi)"
    extensions = frozenset({"emi"})
    priority = 50

    def sniff(self, path: Path) -> bool:
        """Any ``.emi``: the content is checked when it is read."""
        return True

    def extract(self, path: Path, context: ExtractionContext) -> list[ExtractedDataset]:
        """No dataset when ``name_N.ser`` files exist; else basic info and the settings."""
        if _ser_siblings(path):
            return []
        ds = basic_dataset(
            path,
            context,
            warnings=[f"no {path.stem}_N.ser data files next to this .emi; "
                      "only its settings are described"],
        )
        ds.extractor = self.name
        try:
            blocks = emi_objects(path)
            if blocks:
                settings = emi_meta(blocks[0], context)
                ds.nx_meta.update(settings)
                ds.sources.update(sources_of(settings))
                wall = emi_time(blocks[0], context)
                if wall is not None:
                    found = stamp(ds.nx_meta, wall, path, context.timezone, ds.unreliable,
                                  ds.warnings)
                    ds.sources["Creation Time"] = found.key
                    if MTIME_WARNING in ds.warnings:
                        ds.warnings.remove(MTIME_WARNING)
                ds.nx_meta["Extractor"] = self.name
        except (OSError, ET.ParseError) as exc:
            ds.warnings.append(f"could not read settings: {exc}")
        return [ds]
