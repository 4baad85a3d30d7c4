"""Helium-ion microscope TIFFs: Zeiss Orion (tag 65000) and Fibics NPVE (tag 51023).

Zeiss Orion writes an ``<ImageTags>`` XML document whose entries carry a ``<Value>``
and a ``<Units>`` (``<AccelerationVoltage><Value>29989</Value><Units>V</Units>``),
some under a group (``<GFIS><IonGas>``; older versions spell it ``GFIS.IonGas``).
Fibics writes a ``<Fibics>`` document: ``<Image>``, ``<Scan>`` and ``<Stage>`` hold
plain elements (``<Dwell>`` in ns, stage in um), ``<BeamInfo>``/``<DetectorInfo>``
``<item name="...">`` rows.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from .._common import put
from .._time import AcquisitionTime, best, from_iso, from_wall_clock
from ..base import ExtractedDataset, ExtractionContext
from ..fields import Meta
from ..kinds import BEAM, DEFAULT, Evidence, beam_family, settle
from ..values import put_quantity
from ._common import (
    TIFF_EXTENSIONS,
    Field,
    creation,
    num,
    one_image,
    read_fields,
    tag_key,
    tags,
    tiff_basics,
    tiff_datetime,
    xml_tag,
)

ZEISS_HIM_TAG, FIBICS_TAG = 65000, 51023

# (source path, output, unit the output is in): Zeiss values are converted from the
# file's own <Units> when it gives one, else taken as already in the output's unit.
ZEISS_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("AccelerationVoltage", "Voltage (kV)", "kV"),
    ("GFIS/AccelerationVoltage", "Voltage (kV)", "kV"),
    ("GFIS/ExtractionVoltage", "Extraction Voltage (kV)", "kV"),
    ("ExtractionVoltage", "Extraction Voltage (kV)", "kV"),
    ("GFIS/BeamCurrent", "Beam Current (pA)", "pA"),
    ("BlankerCurrent", "Beam Current (pA)", "pA"),
    ("SampleCurrent", "Specimen Current (pA)", "pA"),
    ("SpotNumber", "Spot Size", ""),
    ("WorkingDistance", "Working Distance (mm)", "mm"),
    ("GFIS/WorkingDistance", "Working Distance (mm)", "mm"),
    ("Fov", "Horizontal Field Width (um)", "um"),
    ("GFIS/FieldOfView", "Horizontal Field Width (um)", "um"),
    ("DwellTime", "Dwell Time (us)", "us"),
    ("NumAverages", "Frames Averaged", ""),
    ("AveragingMode", "Averaging Mode", "text"),
    ("ScanRotate", "Scan Rotation (degrees)", "deg"),
    ("GFIS/ApertureSize", "Aperture Diameter (um)", "um"),
    ("GFIS/IonGas", "Ion Gas", "text"),
    ("StageX", "Stage Position X (um)", "um"),
    ("StageY", "Stage Position Y (um)", "um"),
    ("StageZ", "Stage Position Z (um)", "um"),
    ("StageTilt", "Stage Position Tilt (degrees)", "deg"),
    ("StageRotate", "Stage Position R (degrees)", "deg"),
    ("Detector", "Detector Name", "text"),
    ("DetectorName", "Detector Name", "text"),
    ("ColumnMode", "Column Mode", "text"),
    # Alignments, detector, vacuum and flood gun (units from each entry's <Units>;
    # an entry without a table unit keeps the unit the file gives it).
    ("PanX", "Pan X (um)", "um"), ("PanY", "Pan Y (um)", "um"),
    ("StigmationX", "Stigmation X", ""), ("StigmationY", "Stigmation Y", ""),
    ("CrossOverPosition", "Crossover Position", ""),
    ("FrameRetrace", "Frame Retrace", ""), ("LineRetrace", "Line Retrace", ""),
    ("McXShift", "MC X Shift", ""), ("McYShift", "MC Y Shift", ""),
    ("McXTilt", "MC X Tilt", ""), ("McYTilt", "MC Y Tilt", ""),
    ("ColumnMag", "Column Magnification", ""), ("ColumnType", "Column", "text"),
    ("ETGridVoltage", "ET Grid Voltage (V)", "V"), ("ETContrast", "ET Contrast", ""),
    ("ETBrightness", "ET Brightness", ""), ("MCPBias", "MCP Bias (V)", "V"),
    ("MCPContrast", "MCP Contrast", ""), ("MCPBrightness", "MCP Brightness", ""),
    ("SampleBiasVoltage", "Sample Bias Voltage (V)", "V"),
    ("GunPressure", "Gun Pressure (Pa)", "Pa"), ("ColumnPressure", "Column Pressure (Pa)", "Pa"),
    ("ChamberPressure", "Chamber Pressure (Pa)", "Pa"),
    ("HeliumPressure", "Helium Pressure (Pa)", "Pa"), ("GunTemp", "Gun Temperature (K)", "K"),
    ("FloodGunMode", "Flood Gun Mode", "text"), ("FloodGunEnergy", "Flood Gun Energy (eV)", "eV"),
    ("FloodGunTime", "Flood Gun Time (us)", "us"), ("LutMode", "LUT Mode", "text"),
    ("LowGray", "LUT Low Gray", ""), ("HighGray", "LUT High Gray", ""),
)

FIBICS_FIELDS: tuple[Field, ...] = (
    Field("BeamInfo/@AccV", "Voltage (kV)", 1e-3),
    Field("BeamInfo/@BeamI", "Beam Current (pA)"),
    Field("BeamInfo/@GFISGas", "Ion Gas", kind="text"),
    Field("BeamInfo/@Aperture", "Aperture", kind="text"),
    Field("BeamInfo/@SpotControl", "Spot Size"),
    Field("Image/Beam", "Beam", kind="text"),
    Field("Image/Machine", "Instrument Type", kind="text"),
    Field("Image/Detector", "Detector Name", kind="text"),
    Field("Image/Contrast", "Detector Contrast"),
    Field("Image/Brightness", "Detector Brightness"),
    Field("Scan/Dwell", "Dwell Time (us)", 1e-3),
    Field("Scan/LineAvg", "Line Averaging", kind="count"),
    Field("Scan/FOV_X", "Horizontal Field Width (um)"),
    Field("Scan/FOV_Y", "Vertical Field Width (um)"),
    Field("Scan/ScanRot", "Scan Rotation (degrees)"),
    Field("Stage/X", "Stage Position X (um)"),
    Field("Stage/Y", "Stage Position Y (um)"),
    Field("Stage/Z", "Stage Position Z (um)"),
    Field("Stage/Tilt", "Stage Position Tilt (degrees)"),
    Field("Stage/Rot", "Stage Position R (degrees)"),
    Field("DetectorInfo/@Collector", "Collector Voltage (V)"),
    Field("Application/Version", "Software Version", kind="text"),
    Field("Image/Aperture", "Aperture", kind="text"),
    Field("Scan/Focus", "Focus"),
    Field("Scan/StigX", "Stigmator X"),
    Field("Scan/StigY", "Stigmator Y"),
    Field("Scan/Ux", "Scan Affine Ux"),
    Field("Scan/Uy", "Scan Affine Uy"),
    Field("Scan/Vx", "Scan Affine Vx"),
    Field("Scan/Vy", "Scan Affine Vy"),
    Field("Stage/M", "Stage Position M (um)"),
    Field("BeamInfo/@GunGasPressure", "Gun Gas Pressure"),
)


def _root(path: Path) -> tuple[str, ET.Element] | None:
    """("zeiss" | "fibics", parsed XML root) of a HIM TIFF, else None."""
    for code, variant, root_name in ((ZEISS_HIM_TAG, "zeiss", "ImageTags"),
                                     (FIBICS_TAG, "fibics", "Fibics")):
        text = xml_tag(path, code)
        if not text:
            continue
        try:
            root = ET.fromstring(text)  # noqa: S314 - a local instrument file, not a web input
        except ET.ParseError:
            continue
        if root.tag.rsplit("}", 1)[-1] == root_name:
            return variant, root
    return None


def _child(node: ET.Element, name: str) -> ET.Element | None:
    return next((c for c in node if c.tag.rsplit("}", 1)[-1] == name), None)


def zeiss_value(root: ET.Element, path: str) -> tuple[str, str, str] | None:
    """(value text, unit text, XML path read) of a Zeiss entry by ``Group/Name``
    (or ``Group.Name``, as older versions write it)."""
    dotted = path.replace("/", ".")
    node: ET.Element | None = _child(root, dotted)
    where = f"{dotted}"
    if node is None:
        node, where = root, path
        for part in path.split("/"):
            node = _child(node, part) if node is not None else None
    if node is None:
        return None
    value = _child(node, "Value")
    unit = _child(node, "Units")
    text = (value.text if value is not None else node.text) or ""
    where = f"ImageTags/{where}" + ("/Value" if value is not None else "")
    return text.strip(), ((unit.text or "").strip() if unit is not None else ""), where


def _zeiss(meta: dict[str, Any], root: ET.Element) -> None:
    for source, output, unit in ZEISS_FIELDS:
        found = zeiss_value(root, source)
        if output in meta or not found or not found[0]:
            continue
        text, given, where = found
        key = tag_key(ZEISS_HIM_TAG, where)
        if unit == "text":
            put(meta, output, text, source=key)
            continue
        number = num(text)
        if number is None:
            continue
        if unit and given:
            put_quantity(meta, output, number, given, key)
            continue
        if not unit and given and given.lower() not in ("none", "-"):
            output = f"{output} ({given})"  # the table names no unit: the file's own
        put(meta, output, int(number) if number.is_integer() and not unit else number,
            source=key)


def _fibics_where(source: str) -> str:
    section, _, key = source.partition("/")
    node = f"item[@name={key[1:]}]" if key.startswith("@") else key
    return tag_key(FIBICS_TAG, f"Fibics/{section}/{node}")


def _fibics_lookup(root: ET.Element):
    def lookup(source: str) -> Any:
        section_name, _, key = source.partition("/")
        section = _child(root, section_name)
        if section is None:
            return None
        if key.startswith("@"):
            node = next((i for i in section.iter("item") if i.get("name") == key[1:]), None)
        else:
            node = _child(section, key)
        if node is None or node.text is None:
            return None
        text = node.text.strip().lstrip("=").strip()
        # The unit is in a units="ns" attribute or after the number ("500.0 V"):
        # read_fields converts from it.
        unit = node.get("units") or node.get("unit")
        return f"{text} {unit}" if unit and num(text) is not None else text

    return lookup


class HeliumIonTiffExtractor:
    """Zeiss Orion and Fibics helium-ion microscope TIFFs."""

    name = "him_tiff"
    format_name = "Zeiss Orion / Fibics HIM TIFF"
    extensions = TIFF_EXTENSIONS
    priority = 150

    def sniff(self, path: Path) -> bool:
        """Tag 65000 holding ``<ImageTags>`` or tag 51023 holding ``<Fibics>``."""
        present = tags(path)
        if ZEISS_HIM_TAG not in present and FIBICS_TAG not in present:
            return False
        return _root(path) is not None

    def extract(self, path: Path, context: ExtractionContext) -> list[ExtractedDataset]:
        """One HIM image dataset with the beam, scan, stage and detector settings."""
        warnings: list[str] = []
        unreliable: set[str] = set()
        meta = Meta()
        tiff_basics(path, meta, warnings)
        found = _root(path)
        if found is None:
            warnings.append("HIM XML metadata (tags 65000/51023) could not be read")
        elif found[0] == "zeiss":
            put(meta, "Metadata Source", f"TIFF tag {ZEISS_HIM_TAG} (Zeiss Orion)",
                source=tag_key(ZEISS_HIM_TAG, "ImageTags"))
            _zeiss(meta, found[1])
        else:
            put(meta, "Metadata Source", f"TIFF tag {FIBICS_TAG} (Fibics)",
                source=tag_key(FIBICS_TAG, "Fibics"))
            read_fields(meta, _fibics_lookup(found[1]), FIBICS_FIELDS, _fibics_where)
        width, fov = meta.get("Image Width (pixels)"), num(meta.get("Horizontal Field Width (um)"))
        if width and fov and "Pixel Width (nm)" not in meta:
            put(meta, "Pixel Width (nm)", round(fov * 1e3 / width, 6),
                source=f"{meta.sources['Horizontal Field Width (um)']} + {tag_key(256)}")
        date, time = tiff_datetime(tags(path).get(306))
        wall = from_wall_clock(date, time, context.timezone, tag_key(306)) if date else None
        own = _fibics_time(found[1], context) if found and found[0] == "fibics" else None
        # An instant with its offset beats the TIFF DateTime, a wall clock with no zone.
        creation(meta, unreliable, warnings, path, context, found=best(own, wall))
        kind = settle([beam_family(meta.get("Beam"), BEAM, meta.sources.get("Beam", ""))],
                      Evidence("HIM", DEFAULT, "format:him_tiff"))
        return one_image(path, meta, unreliable, warnings, extractor=self.name,
                         data_type=f"{kind.family}_Imaging", kind_source=kind.source)


def _fibics_time(root: ET.Element, context: ExtractionContext) -> AcquisitionTime | None:
    """The acquisition time a Fibics document states (``<Date>`` with its offset)."""
    for name in ("Date", "DateTime", "TimeStamp", "AcquisitionDate"):
        for node in root.iter():
            if node.tag.rsplit("}", 1)[-1] != name or not (node.text or "").strip():
                continue
            parent = next((p for p in root.iter() if node in list(p)), root)
            where = tag_key(FIBICS_TAG, f"Fibics/{parent.tag}/{name}".replace(
                "Fibics/Fibics/", "Fibics/"))
            found = from_iso(node.text, where, context.timezone)
            if found is None:
                time_node = _child(parent, "Time")
                found = from_wall_clock(node.text, time_node.text if time_node is not None
                                        else None, context.timezone, where)
            if found is not None:
                return found
    return None
