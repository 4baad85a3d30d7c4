"""TIFFs written by Gatan DigitalMicrograph: its calibration in private tags.

DigitalMicrograph stores an exported image's calibration beside the pixels, and reads
it back: tags 65003/65004 the x/y unit (``nm``, ``1/nm``), 65009/65010 the x/y size of
one pixel in that unit, 65012/65013 the unit's long name. A TIFF with them is a
calibrated image (a reciprocal unit makes it a diffraction pattern).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .._common import finish, put
from ..base import ExtractedDataset, ExtractionContext
from ._common import TIFF_EXTENSIONS, creation, image_preview, num, tiff_basics, tiff_datetime
from ._common import tags as read_tags

UNIT_X, UNIT_Y, SCALE_X, SCALE_Y = 65003, 65004, 65009, 65010


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return str(value or "").strip("\x00 ").replace("\xb5", "µ")


def dm_calibration(found: dict[int, Any]) -> dict[str, Any]:
    """Pixel size and unit from DigitalMicrograph's tags, under human names."""
    meta: dict[str, Any] = {}
    unit = _text(found.get(UNIT_X))
    for code, axis in ((SCALE_X, "Width"), (SCALE_Y, "Height")):
        raw = found.get(code)
        scale = num(raw[0] if isinstance(raw, tuple) else raw)
        if scale is not None and unit:
            put(meta, f"Pixel {axis} ({unit})", scale)
    put(meta, "Calibration Unit", _text(found.get(65012)) or unit or None)
    return meta


class GatanTiffExtractor:
    """TIFFs exported by DigitalMicrograph, with its calibration tags."""

    name = "gatan_tiff"
    format_name = "DigitalMicrograph TIFF"
    extensions = TIFF_EXTENSIONS
    priority = 60

    def sniff(self, path: Path) -> bool:
        """Tags 65003 (unit) and 65009 (pixel size) present."""
        found = read_tags(path)
        return UNIT_X in found and SCALE_X in found

    def extract(self, path: Path, context: ExtractionContext) -> list[ExtractedDataset]:
        """One calibrated image (or diffraction pattern) dataset."""
        warnings: list[str] = []
        unreliable: set[str] = set()
        meta: dict[str, Any] = {}
        tiff_basics(path, meta, warnings)
        found = read_tags(path)
        meta.update(dm_calibration(found))
        put(meta, "Description", _text(found.get(270))[:500] or None)
        date, time = tiff_datetime(found.get(306))
        creation(meta, unreliable, path, context, date, time)
        unit = _text(found.get(UNIT_X))
        kind = "Diffraction" if unit.startswith("1/") else "Image"
        scale = num(meta.get(f"Pixel Width ({unit})"))
        return [ExtractedDataset(
            name=path.name, dataset_type=kind, extractor=self.name,
            nx_meta=finish(meta, dataset_type=kind,
                           data_type="TEM_Diffraction" if kind == "Diffraction" else "Image",
                           extractor=self.name),
            unreliable=unreliable, warnings=warnings,
            render_preview=image_preview(path, scale=(scale, unit) if scale else None))]
