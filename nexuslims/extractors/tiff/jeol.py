"""JEOL TEM TIFFs: an XML document in the ImageDescription tag (270).

Two layouts are known from public readers and sample files:

- ``<TemReporter>`` (SightX; ``Make`` is ``JEOL Ltd.``), as RosettaSciIO's TIFF reader
  reads it and its ``JEOL-SightX-*-dummy.tif`` test files hold it: ``ElectronGun/
  AccelerationVoltage`` (V), ``Eos/EosMode`` (``eosTEM``, ``eosASID`` for STEM),
  ``ImageFormingSystem/ModeString`` (``MAG`` or ``DIFF``) with ``SelectorValue`` and
  ``SelectorUnitString`` (the magnification, or the camera length in mm/cm),
  ``GonioStage/StagePosition/TX``/``TY`` (tilts, degrees), ``JemBaumerCamera/
  Parameter/ExposureTimeValue`` (us; ``ExposureTimeString`` says ``100.00 msec`` beside
  100000) and ``DateTime`` (ISO 8601 with the PC's UTC offset).
- ``<TemReporter2>`` (Analysis Center), data-contract XML whose namespace prefixes are
  dropped here, as the public JEOL-to-DM converters read it: ``MeasurementReporter/
  AccVoltage``, ``SelectorValue``, ``MeasureLengthPerPixelReporter/LengthPerPixel``
  (nm), ``MeasurementUnitType`` (``UnitType_Length``, ``_Scanning``, ``_Diffraction``)
  and ``ObservationReporter/EOSReporter``, ``HTReporter``, ``DetectorReporter``,
  ``ScanGeneratorReporter``. No public reader names a goniometer element in this
  layout, so it yields no tilts.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from functools import lru_cache
from pathlib import Path
from typing import Any

from .._common import put
from .._time import from_iso
from ..base import ExtractedDataset, ExtractionContext
from ..fields import Meta
from ..kinds import DEFAULT, MODE, Evidence, kind_name, settle
from ..values import put_quantity
from ._common import (
    TIFF_EXTENSIONS,
    Field,
    creation,
    image_preview,
    num,
    one_image,
    read_fields,
    tag_key,
    tiff_basics,
    tiff_datetime,
)
from ._common import (
    tags as read_tags,
)

SIGHTX, ANALYSIS_CENTER = "TemReporter", "TemReporter2"

_CAM = "JemBaumerCamera/Parameter/"
SIGHTX_FIELDS: tuple[Field, ...] = (
    Field("ElectronGun/AccelerationVoltage", "Voltage (kV)", 1e-3),
    # RosettaSciIO reads BeamCurrent * 0.001 as nA: the file's unit is pA.
    Field("ElectronGun/BeamCurrent", "Beam Current (pA)"),
    Field("ElectronGun/EmissionCurrent", "Emission Current"),  # no unit in the file
    Field("ElectronGun/GunType", "Gun Type", kind="text"),
    Field("ElectronGun/FilamentType", "Filament Type", kind="text"),
    Field("Instruments", "Microscope", kind="text"),
    Field("Operator", "Operator", kind="text"),
    Field("Specimen", "Specimen", kind="text"),
    Field("Comment", "Comment", kind="text"),
    Field("Eos/EosMode", "Mode", kind="text"),
    Field("IlluminationSystem/SpotSizeString", "Spot Size", kind="text"),
    Field("IlluminationSystem/AlphaSelector", "Alpha Selector", kind="count"),
    Field("IlluminationSystem/ImageField", "Illumination Field", kind="text"),
    Field("ImageFormingSystem/ModeString", "Imaging Mode", kind="text"),
    Field("GonioStage/StagePosition/TX", "Stage Position Alpha (deg)"),
    Field("GonioStage/StagePosition/TY", "Stage Position Beta (deg)"),
    # The motor positions carry no unit in the file (RosettaSciIO leaves x/y as a to-do).
    Field("GonioStage/StagePosition/MX", "Stage Motor X"),
    Field("GonioStage/StagePosition/MY", "Stage Motor Y"),
    Field("GonioStage/StagePosition/MZ", "Stage Motor Z"),
    Field("GonioStage/HolderInformation/Name", "Specimen Holder", kind="text"),
    Field(_CAM + "ExposureTimeValue", "Exposure Time (s)", 1e-6),
    Field(_CAM + "BinningHorizontalSize", "Binning", kind="count"),
    Field(_CAM + "FrameIntegration", "Frames Integrated", kind="count"),
    Field("JemBaumerCamera/Modelname", "Camera", kind="text"),
    Field("ImageSourceDetector", "Detector Name", kind="text"),
)

_M = "MeasurementReporter/"
_OBS = "ObservationReporter/"
ANALYSIS_CENTER_FIELDS: tuple[Field, ...] = (
    Field(_M + "MeasureLengthPerPixelReporter/LengthPerPixel", "Pixel Width (nm)"),
    Field(_M + "MeasurementUnitType", "Measurement Unit Type", kind="text"),
    Field(_M + "MeasureDiffractionPerPixelReporter/WaveLength", "Wavelength"),
    Field(_M + "SelectorValueScanningDiffraction", "STEM Camera Length"),
    Field(_OBS + "EOSReporter/OperationMode", "Mode", kind="text"),
    Field(_OBS + "EOSReporter/SpotSizeString", "Spot Size", kind="text"),
    Field(_OBS + "EOSReporter/ConvergenceAngleAlphaNumter", "Convergence Angle", kind="text"),
    Field(_OBS + "HTReporter/EmissionCurrent", "Emission Current"),
    Field(_OBS + "DetectorReporter/DetectorKind", "Detector Name", kind="text"),
    Field(_OBS + "DetectorReporter/ExposureTimeValue", "Exposure Time (s)", 1e-6),
    Field(_OBS + "ScanGeneratorReporter/ExposureTimeValue", "Dwell Time (us)"),
)

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].split(":")[-1]


def jeol_tree(path: Path) -> tuple[str, dict[str, str]] | None:
    """(root name, leaf texts by slash path below the root) of a JEOL description.

    Parsed once for the sniff and the extraction (SightX documents are ~50 kB).
    """
    try:
        info = os.stat(path)
    except OSError:
        return None
    return _jeol_tree(os.fspath(path), (info.st_size, info.st_mtime_ns))


@lru_cache(maxsize=8)
def _jeol_tree(path: str, stamp: tuple[int, int]) -> tuple[str, dict[str, str]] | None:
    del stamp  # part of the cache key only: a rewritten file is read again
    description = read_tags(Path(path)).get(270)
    if isinstance(description, bytes):
        description = description.decode("utf-8", errors="replace")
    if not isinstance(description, str) or "<TemReporter" not in description[:300]:
        return None
    # SightX pads the tag with NULs and control bytes after the document.
    text = _CONTROL.sub("", description).strip()
    if text.startswith("<?xml"):
        text = text.split("?>", 1)[1]
    try:
        root = ET.fromstring(text.strip())  # noqa: S314 - a local instrument file
    except ET.ParseError:
        return None
    name = _local(root.tag)
    if name not in (SIGHTX, ANALYSIS_CENTER):
        return None
    leaves: dict[str, str] = {}

    def walk(node: ET.Element, prefix: str) -> None:
        for child in node:
            key = f"{prefix}{_local(child.tag)}"
            if len(child):
                walk(child, key + "/")
            elif child.text and child.text.strip():
                leaves.setdefault(key, child.text.strip())

    walk(root, "")
    return name, leaves


def _number_and_unit(text: str | None) -> tuple[float | None, str]:
    match = re.fullmatch(r"\s*([-+]?[\d.]+(?:[eE][-+]?\d+)?)\s*(\S*)\s*", text or "")
    return (float(match[1]), match[2]) if match else (None, "")


_METRES_PER_UNIT = {2: 0.0254, 3: 0.01}  # TIFF ResolutionUnit: inch, centimetre


def sightx_pixel_width(meta: Meta, found: dict[int, Any]) -> None:
    """A magnified image's pixel size at the specimen, as RosettaSciIO derives it: the
    camera pixel (1 / XResolution) divided by the magnification."""
    xres, unit = found.get(282), int(found.get(296, 2) or 2)
    mag = num(meta.get("Magnification (x)"))
    if not (isinstance(xres, tuple) and len(xres) == 2 and xres[0] and mag
            and unit in _METRES_PER_UNIT):
        return
    put(meta, "Pixel Width (nm)", xres[1] / xres[0] * _METRES_PER_UNIT[unit] / mag * 1e9,
        source=f"{tag_key(282)} + {tag_key(296)} + {meta.sources['Magnification (x)']}")


def jeol_meta(root: str, leaves: dict[str, str]) -> Meta:
    """The JEOL settings under human names, each with its XML path as source."""
    meta = Meta()

    def where(source: str) -> str:
        return tag_key(270, f"{root}/{source}")

    if root == SIGHTX:
        read_fields(meta, leaves.get, SIGHTX_FIELDS, where)
        selector = num(leaves.get("ImageFormingSystem/SelectorValue"))
        unit = leaves.get("ImageFormingSystem/SelectorUnitString", "")
        source = (f"{where('ImageFormingSystem/SelectorValue')} + "
                  f"{where('ImageFormingSystem/SelectorUnitString')}")
        if selector is not None and leaves.get("ImageFormingSystem/ModeString") == "DIFF":
            if unit:  # converted from the unit the file states ("cm"); none, no guess
                put_quantity(meta, "Camera Length (mm)", selector, unit, source)
        elif selector is not None and unit.upper() == "X":
            put(meta, "Magnification (x)", selector, source=source)
        defocus, defocus_unit = _number_and_unit(leaves.get("ImageFormingSystem/DefocusValue"))
        if defocus is not None:
            put(meta, f"Defocus ({defocus_unit})" if defocus_unit else "Defocus", defocus,
                source=where("ImageFormingSystem/DefocusValue"))
        return meta

    diffraction = leaves.get(_M + "MeasurementUnitType", "").endswith("Diffraction")
    volts = num(leaves.get(_M + "AccVoltage"))
    if volts is not None:  # written in volts by some versions, kilovolts by others
        put(meta, "Voltage (kV)", volts / 1000 if volts > 1000 else volts,
            source=where(_M + "AccVoltage"))
    selector = num(leaves.get(_M + "SelectorValue"))
    if selector is not None:
        put(meta, "Camera Length (mm)" if diffraction else "Magnification (x)", selector,
            source=where(_M + "SelectorValue"))
    stated = leaves.get(_OBS + "EOSReporter/DefocusString")
    stated_unit = leaves.get(_OBS + "EOSReporter/DefocusUnitString")
    if stated:
        put(meta, f"Defocus ({stated_unit})" if stated_unit else "Defocus",
            num(stated) if num(stated) is not None else stated,
            source=where(_OBS + "EOSReporter/DefocusString") + (
                f" + {where(_OBS + 'EOSReporter/DefocusUnitString')}" if stated_unit else ""))
    read_fields(meta, leaves.get, ANALYSIS_CENTER_FIELDS, where)
    if diffraction:  # LengthPerPixel is in reciprocal units there
        meta.pop("Pixel Width (nm)", None)
    return meta


def _data_type(root: str, leaves: dict[str, str]) -> tuple[str, str, str]:
    """DatasetType, Data Type and the evidence of its kind, from the JEOL reporter.

    SightX names the optics mode (``Eos/EosMode``: ``eosASID`` is the scanning unit,
    ``eosTEM`` the TEM) and the lens mode (``ModeString`` ``DIFF``); Analysis Center
    names the measurement unit (``...Scanning``, ``...Diffraction``).
    """
    def where(source: str) -> str:
        return tag_key(270, f"{root}/{source}")

    if root == SIGHTX:
        eos = leaves.get("Eos/EosMode", "")
        family = Evidence("STEM", MODE, where("Eos/EosMode")) if eos == "eosASID" else (
            Evidence("TEM", MODE, where("Eos/EosMode")) if eos == "eosTEM" else None)
        diffraction = leaves.get("ImageFormingSystem/ModeString") == "DIFF"
    else:
        unit_type = leaves.get(_M + "MeasurementUnitType", "")
        family = Evidence("STEM", MODE, where(_M + "MeasurementUnitType")) if (
            unit_type.endswith("Scanning")) else None
        diffraction = unit_type.endswith("Diffraction")
        if diffraction:
            family = Evidence("TEM", MODE, where(_M + "MeasurementUnitType"))
    kind = settle([family], Evidence("TEM", DEFAULT, "format:jeol_tiff"))
    if diffraction:
        return "Diffraction", kind_name(kind.family, "Diffraction"), kind.source
    return "Image", kind_name(kind.family, "Imaging"), kind.source


class JeolTiffExtractor:
    """JEOL TEM TIFFs with a ``<TemReporter>`` or ``<TemReporter2>`` description."""

    name = "jeol_tiff"
    format_name = "JEOL TEM TIFF"
    extensions = TIFF_EXTENSIONS
    priority = 120

    def sniff(self, path: Path) -> bool:
        """An ImageDescription holding a ``<TemReporter>``/``<TemReporter2>`` document."""
        return jeol_tree(path) is not None

    def extract(self, path: Path, context: ExtractionContext) -> list[ExtractedDataset]:
        """One TEM/STEM image or diffraction dataset."""
        warnings: list[str] = []
        unreliable: set[str] = set()
        meta = Meta()
        tiff_basics(path, meta, warnings)
        root, leaves = jeol_tree(path) or (ANALYSIS_CENTER, {})
        settings = jeol_meta(root, leaves)
        meta.update(settings)
        meta.sources.update(settings.sources)
        if root == SIGHTX:
            sightx_pixel_width(meta, read_tags(path))
        stated = from_iso(leaves["DateTime"], tag_key(270, f"{root}/DateTime"),
                          context.timezone) if leaves.get("DateTime") else None
        date, time = tiff_datetime(read_tags(path).get(306))
        creation(meta, unreliable, warnings, path, context, date, time, tag_key(306),
                 found=stated)
        kind, data_type, kind_source = _data_type(root, leaves)
        width = num(meta.get("Pixel Width (nm)"))
        return one_image(path, meta, unreliable, warnings, extractor=self.name,
                         data_type=data_type, kind=kind, kind_source=kind_source,
                         preview=image_preview(path, scale=(width, "nm") if width else None))
