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
    data_dimensions,
    dataset_type_of,
    epoch_iso,
    finish,
    load_signals,
    mtime_iso,
    multi_name,
    put,
    signal_preview,
)
from .base import ExtractedDataset, ExtractionContext
from .basic import basic_dataset

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


def emi_meta(block: str, context: ExtractionContext) -> dict[str, Any]:
    """nx_meta fields from one ``<ObjectInfo>`` block (microscope settings, date)."""
    root = ET.fromstring(block)
    meta: dict[str, Any] = {}
    when = root.findtext("AcquireDate")
    if when:
        try:
            stamp = dt.datetime.strptime(" ".join(when.split()), "%a %b %d %H:%M:%S %Y")
            meta["Creation Time"] = stamp.replace(tzinfo=context.timezone).isoformat()
        except ValueError:
            pass
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
        if unit:
            try:
                put(meta, key, float(value), scale)
                continue
            except ValueError:
                pass
        put(meta, key, value)
    for tag, (key, scale) in _ACQUIRE.items():
        value = (root.findtext(f"AcquireInfo/{tag}") or "").strip()
        if value:
            try:
                put(meta, key, float(value) if key != "Camera" else value, scale)
            except ValueError:
                put(meta, key, value)
    put(meta, "Manufacturer", root.findtext("Manufacturer"))
    return meta


def _kind(meta: dict[str, Any], signal: Any) -> tuple[str, str]:
    mode = str(meta.get("Mode", "")).upper()
    prefix = "STEM" if "STEM" in mode else "TEM" if mode else ""
    hint = "diffraction" if prefix == "TEM" and "DIFFRACTION" in mode else None
    dataset_type = dataset_type_of(signal, hint)
    if dataset_type in ("Spectrum", "SpectrumImage"):
        kind = "EELS" if str(meta.get("Filter Mode", "")).lower() == "spectroscopy" else ""
        tail = "Spectrum_Imaging" if dataset_type == "SpectrumImage" else (
            "" if kind and prefix else "Spectrum")
        return dataset_type, "_".join(p for p in (prefix, kind, tail) if p)
    if dataset_type == "Diffraction":
        return dataset_type, "_".join(p for p in (prefix, "Diffraction") if p)
    if dataset_type == "Image":
        return dataset_type, "_".join(p for p in (prefix, "Imaging") if p)
    return dataset_type, dataset_type


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
                else:
                    warnings.append(f"{emi.name} holds no settings")
            except (OSError, ET.ParseError) as exc:
                warnings.append(f"could not read settings from {emi.name}: {exc}")
        out: list[ExtractedDataset] = []
        for i, signal in enumerate(signals, 1):
            meta = dict(settings)
            unreliable: set[str] = set()
            notes = list(warnings)
            if "Creation Time" not in meta:
                stamp = signal.original_metadata.get_item("ser_header_parameters.Time")
                if stamp:
                    meta["Creation Time"] = epoch_iso(float(stamp), context.timezone)
                else:
                    meta["Creation Time"] = mtime_iso(path, context.timezone)
                    unreliable.add("Creation Time")
            meta["Data Dimensions"] = data_dimensions(signal)
            if emi is not None:
                meta["TIA Metadata File"] = emi.name
                meta["TIA Detector Index"] = index
            dataset_type, data_type = _kind(meta, signal)
            out.append(
                ExtractedDataset(
                    name=multi_name(path, i, len(signals)),
                    dataset_type=dataset_type,
                    nx_meta=finish(meta, dataset_type=dataset_type, data_type=data_type,
                                   extractor=NAME),
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
                ds.nx_meta.update(
                    {k: v for k, v in settings.items() if k not in ("Creation Time",)}
                )
                if "Creation Time" in settings:
                    ds.nx_meta["Creation Time"] = settings["Creation Time"]
                ds.nx_meta["Extractor"] = self.name
        except (OSError, ET.ParseError) as exc:
            ds.warnings.append(f"could not read settings: {exc}")
        return [ds]
