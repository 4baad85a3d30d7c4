"""Olympus SIS TIFFs (binary block in tag 33560) and any other TIFF (ImageJ, cameras)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._common import put
from ..base import ExtractedDataset, ExtractionContext
from ..fields import Meta
from ..values import put_quantity
from ._common import (
    TIFF_EXTENSIONS,
    creation,
    image_preview,
    num,
    one_image,
    pixel_scale,
    tag_key,
    tiff_basics,
    tiff_datetime,
)
from ._common import (
    tags as read_tags,
)

SIS_TAG = 33560

def _sis_page(path: Path) -> tuple[int, Mapping[str, Any]] | None:
    """(page index, parsed SIS block) of the page carrying tag 33560, if any."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            pages: list[Any] = list(tif.pages)
            for index, page in enumerate(pages):
                tag = page.tags.get(SIS_TAG)
                if tag is not None:
                    return index, tag.value if isinstance(tag.value, Mapping) else {}
    except Exception:  # noqa: BLE001
        return None
    return None


class OlympusTiffExtractor:
    """Olympus Soft Imaging Solutions TIFFs (Quemesa, Veleta, Morada TEM cameras)."""

    name = "olympus_sis_tiff"
    format_name = "Olympus SIS TIFF"
    extensions = TIFF_EXTENSIONS
    priority = 80

    def sniff(self, path: Path) -> bool:
        """The SIS tag 33560 on some page."""
        return _sis_page(path) is not None

    def extract(self, path: Path, context: ExtractionContext) -> list[ExtractedDataset]:
        """One image dataset: the data page (the first page is a colour rendering)."""
        warnings: list[str] = []
        unreliable: set[str] = set()
        found = _sis_page(path)
        page, sis = found if found else (0, {})
        meta = Meta()
        tiff_basics(path, meta, warnings, page=page)
        tag_values = read_tags(path, page)

        def sis_key(name: str) -> str:
            return tag_key(SIS_TAG, name)

        put(meta, "Pixel Width (nm)", num(sis.get("pixelsizex")), 1e9,
            source=sis_key("pixelsizex"))
        put(meta, "Pixel Height (nm)", num(sis.get("pixelsizey")), 1e9,
            source=sis_key("pixelsizey"))
        put(meta, "Magnification (x)", num(sis.get("magnification")),
            source=sis_key("magnification"))
        put(meta, "Camera", sis.get("cameraname"), source=sis_key("cameraname"))
        put(meta, "Camera", None if "Camera" in meta else tag_values.get(272),
            source=tag_key(272))
        put(meta, "Camera Maker", tag_values.get(271), source=tag_key(271))
        put(meta, "Picture Type", sis.get("picturetype"), source=sis_key("picturetype"))
        put(meta, "Image Name", sis.get("name"), source=sis_key("name"))
        put(meta, "Operator", tag_values.get(315), source=tag_key(315))
        exif = tag_values.get(34665)
        exif = exif if isinstance(exif, Mapping) else {}
        exposure = exif.get("ExposureTime")
        if isinstance(exposure, tuple) and len(exposure) == 2 and exposure[1]:
            put(meta, "Exposure Time (s)", exposure[0] / exposure[1],
                source=tag_key(34665, "ExifTag/ExposureTime"))
        date, time = tiff_datetime(tag_values.get(306))
        creation(meta, unreliable, warnings, path, context, date, time, tag_key(306))
        return one_image(path, meta, unreliable, warnings, extractor=self.name,
                         data_type="TEM_Imaging",
                         preview=image_preview(path, page, pixel_scale(meta)))


def _imagej(description: Any) -> dict[str, str]:
    if not isinstance(description, str) or not description.startswith("ImageJ="):
        return {}
    return dict(line.split("=", 1) for line in description.splitlines() if "=" in line)


class TiffExtractor:
    """Any other TIFF (ImageJ, cameras, exports): size, depth, resolution, software, date."""

    name = "tiff"
    format_name = "TIFF image"
    extensions = TIFF_EXTENSIONS
    priority = 10

    def sniff(self, path: Path) -> bool:
        """A TIFF header (``II*\\0``, ``MM\\0*`` or BigTIFF)."""
        with open(path, "rb") as stream:
            head = stream.read(4)
        return head in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")

    def extract(self, path: Path, context: ExtractionContext) -> list[ExtractedDataset]:
        """One Image dataset."""
        warnings: list[str] = []
        unreliable: set[str] = set()
        meta = Meta()
        tiff_basics(path, meta, warnings)
        found = read_tags(path)
        ij = _imagej(found.get(270))
        description = tag_key(270)

        def ij_key(name: str) -> str:
            return tag_key(270, f"ImageDescription {name}=")

        if ij:
            put(meta, "ImageJ Version", ij.get("ImageJ"), source=ij_key("ImageJ"))
            put(meta, "Number of Images", num(ij.get("images")), source=ij_key("images"))
            put(meta, "Display Minimum", num(ij.get("min")), source=ij_key("min"))
            put(meta, "Display Maximum", num(ij.get("max")), source=ij_key("max"))
        elif isinstance(found.get(270), str):
            put(meta, "Description", found[270][:500], source=description)
        xres = found.get(282)
        if isinstance(xres, tuple) and len(xres) == 2 and xres[0] and xres[1]:
            per_unit = xres[0] / xres[1]
            unit_code = int(found.get(296, 2) or 1)
            ij_unit = ij.get("unit", "").replace("micron", "um").replace("\\u00B5m", "um")
            if ij and ij_unit:
                source = f"{tag_key(282)} + {ij_key('unit')}"
                put_quantity(meta, "Pixel Width (nm)", 1.0 / per_unit, ij_unit, source)
            elif unit_code in (2, 3):  # inch, centimetre
                put(meta, "Resolution (pixels per inch)" if unit_code == 2
                    else "Resolution (pixels per cm)", per_unit,
                    source=f"{tag_key(282)} + {tag_key(296)}" if 296 in found
                    else tag_key(282))
        put(meta, "Camera Maker", found.get(271), source=tag_key(271))
        put(meta, "Camera", found.get(272), source=tag_key(272))
        put(meta, "Operator", found.get(315), source=tag_key(315))
        date, time = tiff_datetime(found.get(306))
        creation(meta, unreliable, warnings, path, context, date, time, tag_key(306))
        return one_image(path, meta, unreliable, warnings, extractor=self.name,
                         data_type="Image")
