"""FEI / Thermo Fisher TEM TIFFs (TIA, TEM Imaging & Analysis exports): a ``<Root>`` XML.

Where the SEM software writes INI sections, the TEM software writes into the FEI tag
(34682, or 34683 "FEI_TITAN") an XML document of ``<Data>`` rows, each a ``<Label>``,
a ``<Value>`` and a ``<Unit>``::

    <Root><Data><Label>High tension</Label><Value>300</Value><Unit>kV</Unit></Data>...

Rows the table knows get their usual names (converted from the row's own unit); any
other row is kept under its label and unit, so nothing in the file is dropped.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from .._common import put
from ..base import ExtractedDataset, ExtractionContext
from ..fields import Meta
from ..kinds import DEFAULT, Evidence, kind_name, mode_family, settle
from ..values import put_quantity
from ._common import (
    TIFF_EXTENSIONS,
    creation,
    num,
    one_image,
    tag_key,
    tags,
    tiff_basics,
    tiff_datetime,
    xml_tag,
)

TEM_TAGS = (34682, 34683)

# label (lower case) -> (output key, unit of the output; "" dimensionless, "text")
LABELS: dict[str, tuple[str, str]] = {
    "microscope": ("Microscope", "text"),
    "gun type": ("Gun Type", "text"),
    "high tension": ("Voltage (kV)", "kV"),
    "extraction voltage": ("Extraction Voltage (V)", "V"),
    "emission": ("Emission Current (uA)", "uA"),
    "gun lens": ("Gun Lens", ""),
    "spot size": ("Spot Size", ""),
    "mode": ("Mode", "text"),
    "magnification": ("Magnification (x)", ""),
    "camera length": ("Camera Length (mm)", "mm"),
    "defocus": ("Defocus (um)", "um"),
    "filter mode": ("Filter Mode", "text"),
    "intensity": ("Intensity", ""),
    "objective lens": ("Objective Lens", ""),
    "diffraction lens": ("Diffraction Lens", ""),
    "stage x": ("Stage Position X (um)", "um"),
    "stage y": ("Stage Position Y (um)", "um"),
    "stage z": ("Stage Position Z (um)", "um"),
    "stage a": ("Stage Position Alpha (degrees)", "deg"),
    "stage b": ("Stage Position Beta (degrees)", "deg"),
    "pixel size": ("Pixel Width (nm)", "nm"),
    "exposure time": ("Exposure Time (s)", "s"),
    "binning": ("Binning", ""),
    "camera": ("Camera", "text"),
    "detector": ("Detector Name", "text"),
    "acquisition date": ("Acquisition Date", "text"),
    "acquisition time": ("Acquisition Time", "text"),
}


def tem_xml(path: Path) -> tuple[int, ET.Element] | None:
    """(tag code, ``<Root>`` element) of an FEI TEM TIFF, or None."""
    present = tags(path)
    for code in TEM_TAGS:
        if code not in present:
            continue
        text = xml_tag(path, code)
        if not text or "<Root" not in text[:400]:
            continue
        try:
            root = ET.fromstring(text.encode("utf-8") if text.startswith("<?xml") else text)  # noqa: S314
        except ET.ParseError:
            continue
        if root.tag == "Root":
            return code, root
    return None


def tem_meta(root: ET.Element, code: int = TEM_TAGS[0]) -> Meta:
    """The ``<Data>`` rows under human names, in the table's units.

    Each value's source is its row: ``tiff:34682 Root/Data[Label=High tension]/Value``.
    """
    meta = Meta()
    for row in root.iter("Data"):
        label = (row.findtext("Label") or "").strip()
        field = "Value" if (row.findtext("Value") or "").strip() else "ValueAsString"
        value = (row.findtext(field) or "").strip()
        unit = (row.findtext("Unit") or "").strip()
        if not label or not value:
            continue
        source = tag_key(code, f"Root/Data[Label={label}]/{field}")
        output, want = LABELS.get(label.lower(), ("", ""))
        if not output:
            put(meta, f"{label} ({unit})" if unit else label, num(value) if num(value)
                is not None else value, source=source)
            continue
        if want == "text" or num(value) is None:
            put(meta, output, value, source=source)
            continue
        if want:
            put_quantity(meta, output, num(value), unit or None, source)
        else:
            put(meta, output, num(value), source=source)
    return meta


def _data_type(meta: Meta) -> tuple[str, Evidence]:
    """``Diffraction`` or ``Imaging``, and TEM or STEM from the mode the file names."""
    mode = str(meta.get("Mode", ""))
    kind = settle([mode_family(mode, meta.sources.get("Mode", ""), column="TEM")],
                  Evidence("TEM", DEFAULT, "format:fei_tem_tiff"))
    return "Diffraction" if "diffraction" in mode.lower() else "Imaging", kind


class FeiTemTiffExtractor:
    """FEI / Thermo Fisher TEM TIFFs whose FEI tag holds a ``<Root>`` XML document."""

    name = "fei_tem_tiff"
    format_name = "FEI/Thermo Fisher TEM TIFF"
    extensions = TIFF_EXTENSIONS
    priority = 110

    def sniff(self, path: Path) -> bool:
        """Tag 34682 or 34683 holding a ``<Root>`` XML document."""
        return tem_xml(path) is not None

    def extract(self, path: Path, context: ExtractionContext) -> list[ExtractedDataset]:
        """One TEM image (or diffraction) dataset with the microscope's settings."""
        warnings: list[str] = []
        unreliable: set[str] = set()
        meta = Meta()
        tiff_basics(path, meta, warnings)
        found = tem_xml(path)
        if found is None:
            warnings.append("FEI TEM XML (tag 34682/34683) could not be read")
        else:
            rows = tem_meta(found[1], found[0])
            meta.update(rows)
            meta.sources.update(rows.sources)
        date_key, time_key = (meta.sources.get("Acquisition Date", ""),
                              meta.sources.get("Acquisition Time", ""))
        date, time = meta.pop("Acquisition Date", None), meta.pop("Acquisition Time", None)
        key = f"{date_key} + {time_key}"
        if not (date and time):
            date, time = tiff_datetime(tags(path).get(306))
            key = tag_key(306)
        creation(meta, unreliable, warnings, path, context, date, time, key)
        what, family = _data_type(meta)
        return one_image(path, meta, unreliable, warnings, extractor=self.name,
                         data_type=kind_name(family.family, what), kind_source=family.source,
                         kind="Diffraction" if what == "Diffraction" else "Image")
