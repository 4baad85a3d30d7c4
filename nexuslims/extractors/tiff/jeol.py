"""JEOL TEM TIFFs (JEOL camera / Analysis Center software): a ``<TemReporter2>`` XML
document in the ImageDescription tag (270).

Its elements are data-contract serialised with namespace prefixes, which are dropped
here: ``MeasurementReporter/AccVoltage``, ``MeasurementReporter/SelectorValue`` (the
magnification, or the camera length in diffraction), ``MeasurementReporter/
MeasureLengthPerPixelReporter/LengthPerPixel`` (nm, or 1/nm in diffraction),
``MeasurementReporter/MeasurementUnitType`` (``UnitType_Length``, ``_Scanning`` or
``_Diffraction``), ``ObservationReporter/EOSReporter/...`` (defocus, spot size, mode)
and the stage's ``...Reporter/TiltX``-style angles.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from .._common import finish, put
from ..base import ExtractedDataset, ExtractionContext
from ._common import (
    TIFF_EXTENSIONS,
    Field,
    creation,
    image_preview,
    num,
    read_fields,
    tiff_basics,
    tiff_datetime,
)
from ._common import (
    tags as read_tags,
)

_M = "MeasurementReporter/"
_EOS = "ObservationReporter/EOSReporter/"
FIELDS: tuple[Field, ...] = (
    Field(_EOS + "OperationMode", "Mode", kind="text"),
    Field(_EOS + "SpotSizeString", "Spot Size", kind="text"),
    Field(_EOS + "ConvergenceAngleAlphaNumter", "Convergence Angle", kind="text"),
    Field("ObservationReporter/DetectorReporter/DetectorKind", "Detector Name", kind="text"),
    Field("ObservationReporter/ScanGeneratorReporter/ExposureTimeValue", "Dwell Time (us)"),
    Field(_M + "MeasurementUnitType", "Measurement Unit Type", kind="text"),
    Field(_M + "MeasureDiffractionPerPixelReporter/WaveLength", "Wavelength"),
)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].split(":")[-1]


def jeol_tree(path: Path) -> dict[str, str] | None:
    """Leaf texts of the ``<TemReporter2>`` document by slash path, or None."""
    description = read_tags(path).get(270)
    if isinstance(description, bytes):
        description = description.decode("utf-8", errors="replace")
    if not isinstance(description, str) or "<TemReporter2" not in description[:300]:
        return None
    try:
        root = ET.fromstring(description.strip().encode("utf-8"))  # noqa: S314
    except ET.ParseError:
        return None
    leaves: dict[str, str] = {}

    def walk(node: ET.Element, prefix: str) -> None:
        for child in node:
            name = f"{prefix}{_local(child.tag)}"
            if len(child):
                walk(child, name + "/")
            elif child.text and child.text.strip():
                leaves.setdefault(name, child.text.strip())

    walk(root, "")
    return leaves


def jeol_meta(leaves: dict[str, str]) -> dict[str, Any]:
    """The JEOL settings under human names."""
    meta: dict[str, Any] = {}
    unit_type = leaves.get(_M + "MeasurementUnitType", "")
    diffraction = unit_type.endswith("Diffraction")
    volts = num(leaves.get(_M + "AccVoltage"))
    if volts is not None:  # written in volts by some versions, kilovolts by others
        put(meta, "Voltage (kV)", volts / 1000 if volts > 1000 else volts)
    selector = num(leaves.get(_M + "SelectorValue"))
    if selector is not None:
        put(meta, "Camera Length (mm)" if diffraction else "Magnification (x)", selector)
    per_pixel = num(leaves.get(_M + "MeasureLengthPerPixelReporter/LengthPerPixel"))
    if per_pixel is not None and not diffraction:
        put(meta, "Pixel Width (nm)", per_pixel)
    defocus, unit = leaves.get(_EOS + "DefocusString"), leaves.get(_EOS + "DefocusUnitString")
    if defocus:
        put(meta, f"Defocus ({unit})" if unit else "Defocus", num(defocus)
            if num(defocus) is not None else defocus)
    read_fields(meta, leaves.get, FIELDS)
    for key, value in leaves.items():  # goniometer tilts, wherever the version puts them
        name = key.rsplit("/", 1)[-1]
        if "tilt" in name.lower() and num(value) is not None:
            put(meta, f"Stage {name} (degrees)", num(value))
    return meta


class JeolTiffExtractor:
    """JEOL TEM TIFFs with a ``<TemReporter2>`` description."""

    name = "jeol_tiff"
    format_name = "JEOL TEM TIFF"
    extensions = TIFF_EXTENSIONS
    priority = 120

    def sniff(self, path: Path) -> bool:
        """An ImageDescription holding a ``<TemReporter2>`` document."""
        return jeol_tree(path) is not None

    def extract(self, path: Path, context: ExtractionContext) -> list[ExtractedDataset]:
        """One TEM/STEM image or diffraction dataset."""
        warnings: list[str] = []
        unreliable: set[str] = set()
        meta: dict[str, Any] = {}
        tiff_basics(path, meta, warnings)
        leaves = jeol_tree(path) or {}
        meta.update(jeol_meta(leaves))
        unit_type = str(meta.get("Measurement Unit Type", ""))
        date, time = tiff_datetime(read_tags(path).get(306))
        creation(meta, unreliable, path, context, date, time)
        if unit_type.endswith("Diffraction"):
            kind, data_type = "Diffraction", "TEM_Diffraction"
        else:
            kind = "Image"
            data_type = "STEM_Imaging" if unit_type.endswith("Scanning") else "TEM_Imaging"
        width = num(meta.get("Pixel Width (nm)"))
        return [ExtractedDataset(
            name=path.name, dataset_type=kind, extractor=self.name,
            nx_meta=finish(meta, dataset_type=kind, data_type=data_type, extractor=self.name),
            unreliable=unreliable, warnings=warnings,
            render_preview=image_preview(path, scale=(width, "nm") if width else None))]
