"""Plain images (PNG, JPEG, GIF, BMP, WebP): size, colour mode, and EXIF when present.

Pillow opens a file lazily: the header and EXIF are read, the pixels are not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ._common import finish, put
from ._time import from_wall_clock, stamp
from .base import ExtractedDataset, ExtractionContext
from .fields import Meta

_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM")
_BITS = {"1": (1, 1), "L": (8, 1), "P": (8, 1), "LA": (8, 2), "PA": (8, 2), "RGB": (8, 3),
         "RGBA": (8, 4), "CMYK": (8, 4), "YCbCr": (8, 3), "I;16": (16, 1), "I;16B": (16, 1),
         "I;16L": (16, 1), "I": (32, 1), "F": (32, 1)}
_EXIF_IFD = 0x8769
_EXIF_FIELDS = {  # EXIF tag: nx_meta key
    0x010F: "Camera Maker", 0x0110: "Camera", 0x0131: "Software", 0x013B: "Artist",
    0xA434: "Lens", 0x8827: "ISO Speed",
}


def _image_preview(path: Path):
    def render(out: Path) -> None:
        from nexuslims.previews import render_image_file

        render_image_file(path, out)

    return render


def _ratio(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None


def _exif(image: Any, meta: dict[str, Any]) -> tuple[str | None, str | None]:
    """EXIF camera fields into ``meta``; returns (date, time) of the original capture."""
    if image.format == "PNG" and "exif" not in image.info:
        return None, None  # PNG's getexif() would decode the whole image looking for it
    try:
        exif = image.getexif()
    except Exception:  # noqa: BLE001 - broken EXIF is just absent EXIF
        return None, None
    if not exif:
        return None, None
    sub = exif.get_ifd(_EXIF_IFD) or {}
    for tag, key in _EXIF_FIELDS.items():
        value = sub.get(tag, exif.get(tag))
        if isinstance(value, str):
            value = value.strip("\x00 ")
        put(meta, key, value if isinstance(value, str | int) else None)
    put(meta, "Exposure Time (s)", _ratio(sub.get(0x829A)))
    put(meta, "F-Number", _ratio(sub.get(0x829D)))
    put(meta, "Focal Length (mm)", _ratio(sub.get(0x920A)))
    stamp = sub.get(0x9003) or sub.get(0x9004) or exif.get(0x0132)
    offset = sub.get(0x9011) or sub.get(0x9010)
    if not isinstance(stamp, str) or len(stamp) < 19:
        return None, None
    date = stamp[:10].replace(":", "-")
    time = stamp[11:19] + (str(offset).strip() if isinstance(offset, str) else "")
    return date, time


class ImageExtractor:
    """PNG, JPEG, GIF, BMP and WebP images (photographs, screenshots, exported figures)."""

    name = "image"
    format_name = "image file"
    extensions = frozenset({"png", "jpg", "jpeg", "gif", "bmp", "webp"})
    priority = 10

    def sniff(self, path: Path) -> bool:
        """The file starts with an image signature Pillow knows."""
        with open(path, "rb") as stream:
            head = stream.read(12)
        return head.startswith(_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")

    def extract(self, path: Path, context: ExtractionContext) -> list[ExtractedDataset]:
        """One Image dataset: dimensions, mode, bit depth, format, EXIF capture details."""
        from PIL import Image

        meta = Meta()
        warnings: list[str] = []
        unreliable: set[str] = set()
        date = time = None
        try:
            with Image.open(path) as image:
                width, height = image.size
                bits, samples = _BITS.get(image.mode, (None, len(image.getbands())))
                meta["Data Dimensions"] = str((height, width) if samples == 1
                                              else (height, width, samples))
                put(meta, "Image Width (pixels)", width)
                put(meta, "Image Height (pixels)", height)
                put(meta, "File Format", image.format)
                put(meta, "Color Mode", image.mode)
                put(meta, "Bit Depth", bits)
                put(meta, "Samples per Pixel", samples)
                frames = getattr(image, "n_frames", 1)
                if frames > 1:
                    meta["Number of Frames"] = frames
                dpi = image.info.get("dpi")
                if isinstance(dpi, tuple) and dpi and _ratio(dpi[0]):
                    put(meta, "Resolution (pixels per inch)", _ratio(dpi[0]))
                put(meta, "Software", image.info.get("Software") or image.info.get("software"))
                date, time = _exif(image, meta)
        except Exception as exc:  # noqa: BLE001 - report what we have and why it stops
            warnings.append(f"image header unreadable: {exc}")
        stamp(meta, from_wall_clock(date, time, context.timezone, "exif:DateTimeOriginal"),
              path, context.timezone, unreliable, warnings)
        return [ExtractedDataset(
            name=path.name, dataset_type="Image", extractor=self.name,
            nx_meta=finish(meta, dataset_type="Image", data_type="Image", extractor=self.name,
                           default_source="image:header"),
            unreliable=unreliable, warnings=warnings, render_preview=_image_preview(path))]
