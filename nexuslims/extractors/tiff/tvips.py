"""TVIPS camera TIFFs (EM-MENU; F416, XF416...): the private tag 37706.

tifffile decodes the tag's TVIPS structure (version 1 or 2) into a dict; this module's
table names each field, its unit and its "not set" values. The acquisition date and
time are the tag's ``Date`` (``year << 16 | month << 8 | day``) and ``Time`` (seconds
since midnight) on the camera PC's clock; RosettaSciIO reads the time and leaves the
date undecoded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._common import put
from ..base import ExtractedDataset, ExtractionContext
from ..fields import Meta
from ..kinds import DEFAULT, Evidence, kind_name
from ..values import Unset, drop_unset
from ._common import (
    TIFF_EXTENSIONS,
    Field,
    creation,
    one_image,
    read_fields,
    tag_key,
    tags,
    tiff_basics,
)

TVIPS_TAG = 37706

# Units as EM-MENU writes them in version 2 of the structure (and as RosettaSciIO's
# reader takes them): voltage in V, exposure in ms, pixel sizes in nm.
FIELDS: tuple[Field, ...] = (
    Field("TemType", "Microscope", kind="text"),
    Field("CameraType", "Camera", kind="text"),
    Field("TemHighTension", "Voltage (kV)", 1e-3),
    Field("ExposureTime", "Exposure Time (s)", 1e-3),
    Field("PixelSizeX", "Pixel Width (nm)"),
    Field("PixelSizeY", "Pixel Height (nm)"),
    Field("PhysicalPixelSizeX", "Camera Pixel Size (um)", 1e-3),
    Field("BinningX", "Binning", kind="count"),
    Field("Gain", "Camera Gain"),
    Field("FlatfieldDescription", "Flat-field Correction", kind="text"),
    Field("TemMagnificationCorrection", "Magnification Correction"),
    Field("Dose", "Dose"),
    Field("ImageName", "Title", kind="text"),
    Field("ImageFolder", "Image Folder", kind="text"),
    Field("Comment", "Comment", kind="text"),
)
# "Not set" in the TVIPS structure: EM-MENU writes 0 for what the microscope
# connection did not report (no Cs, no dose, no gain correction factor).
UNSET = (
    Unset("Dose", (0,), why="0: no dose measured"),
    Unset("Camera Gain", (0,), why="0: not reported"),
    Unset("Magnification Correction", (0,), why="0: not reported"),
)
_DIFFRACTION_MODE = 3  # TemMode: 3 is diffraction (the magnification is a camera length)


def tvips_block(path: Path) -> Mapping[str, Any] | None:
    """The decoded tag-37706 structure of the first page, or None."""
    value = tags(path).get(TVIPS_TAG)
    return value if isinstance(value, Mapping) else None


def tvips_time(block: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(ISO date, ``HH:MM:SS``) from the packed ``Date`` and the seconds-of-day ``Time``."""
    try:
        packed, seconds = int(block.get("Date") or 0), int(block.get("Time") or -1)
        day = dt.date(packed >> 16, (packed >> 8) & 0xFF, packed & 0xFF)
    except (TypeError, ValueError):
        return None, None
    if not 0 <= seconds < 86400:
        return day.isoformat(), None
    return day.isoformat(), str(dt.timedelta(seconds=seconds)).zfill(8)


class TvipsTiffExtractor:
    """TVIPS camera TIFFs written by EM-MENU (tag 37706)."""

    name = "tvips_tiff"
    format_name = "TVIPS camera TIFF"
    extensions = TIFF_EXTENSIONS
    priority = 95

    def sniff(self, path: Path) -> bool:
        """Tag 37706 holding the TVIPS structure."""
        return tvips_block(path) is not None

    def extract(self, path: Path, context: ExtractionContext) -> list[ExtractedDataset]:
        """One TEM image (or diffraction pattern) with the camera and microscope settings."""
        warnings: list[str] = []
        unreliable: set[str] = set()
        meta = Meta()
        tiff_basics(path, meta, warnings)
        block = tvips_block(path) or {}
        read_fields(meta, block.get, FIELDS, lambda key: tag_key(TVIPS_TAG, key))
        diffraction = block.get("TemMode") == _DIFFRACTION_MODE
        # In diffraction EM-MENU writes the camera length (mm) where the magnification is.
        put(meta, "Camera Length (mm)" if diffraction else "Magnification (x)",
            block.get("TemMagnification"), source=tag_key(TVIPS_TAG, "TemMagnification"))
        put(meta, "TEM Mode", block.get("TemMode"), source=tag_key(TVIPS_TAG, "TemMode"))
        stage = block.get("TemStagePosition")
        if isinstance(stage, list | tuple) and len(stage) >= 3:
            # Metres, as RosettaSciIO reads them; the tilts' unit is not documented.
            for axis, value in zip("XYZ", stage[:3], strict=True):
                put(meta, f"Stage Position {axis} (um)", value, 1e6,
                    source=tag_key(TVIPS_TAG, f"TemStagePosition[{'XYZ'.index(axis)}]"))
        drop_unset(meta, UNSET)
        date, time = tvips_time(block)
        creation(meta, unreliable, warnings, path, context, date, time,
                 f"{tag_key(TVIPS_TAG, 'Date')} + {tag_key(TVIPS_TAG, 'Time')}")
        # EM-MENU drives a TEM camera: TEM, whatever TemMode says (imaging or diffraction).
        kind = Evidence("TEM", DEFAULT, "format:tvips_tiff")
        data_type = kind_name(kind.family, "Diffraction" if diffraction else "Imaging")
        return one_image(path, meta, unreliable, warnings, extractor=self.name,
                         data_type=data_type, kind="Diffraction" if diffraction else "Image",
                         kind_source=kind.source)
