"""A scale bar with its length and unit, drawn into a preview (as NexusLIMS 1.4 drew).

The bar is about a fifth of the image wide, rounded to 1, 2 or 5 times a power of ten in
a unit chosen so the number stays readable (``500 nm``, ``2 µm``, ``5 1/nm``).
"""

from __future__ import annotations

import importlib.util
import math
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from nexuslims.previews._plot import font

# Length units a preview may be calibrated in, and their size in metres.
_LENGTH = {"pm": 1e-12, "nm": 1e-9, "um": 1e-6, "µm": 1e-6, "μm": 1e-6, "mm": 1e-3,
           "cm": 1e-2, "m": 1.0, "å": 1e-10, "a": 1e-10}
_LADDER = (("pm", 1e-12), ("nm", 1e-9), ("µm", 1e-6), ("mm", 1e-3), ("m", 1.0))
_RECIPROCAL = {"1/nm": 1.0, "nm^-1": 1.0, "1/å": 10.0, "1/a": 10.0, "å^-1": 10.0,
               "1/um": 1e-3, "1/µm": 1e-3, "1/pm": 1e3}


def nice_length(target: float) -> float:
    """The largest of 1, 2, 5 x 10^n not above ``target`` (``target`` > 0)."""
    power = 10 ** math.floor(math.log10(target))
    return max(m * power for m in (1, 2, 5) if m * power <= target * (1 + 1e-9))


def bar_for(pixel_size: float, unit: str, image_width: int,
            source_width: int) -> tuple[int, str] | None:
    """(bar length in preview pixels, label) or None when the unit is not a length.

    ``pixel_size`` is the size of one source pixel in ``unit``; the preview is
    ``image_width`` pixels wide for ``source_width`` source pixels.
    """
    if not (pixel_size > 0 and image_width > 0 and source_width > 0):
        return None
    key = unit.strip().lower().replace("micron", "um")
    field = pixel_size * source_width
    if key in _RECIPROCAL:
        per_nm = field * _RECIPROCAL[key]
        length = nice_length(per_nm / 5)
        label, size_in_unit = f"{_fmt(length)} 1/nm", length / _RECIPROCAL[key]
    elif key in _LENGTH:
        metres = field * _LENGTH[key] / 5
        name, factor = next(((n, f) for n, f in reversed(_LADDER) if metres >= f), _LADDER[0])
        length = nice_length(metres / factor)
        label, size_in_unit = f"{_fmt(length)} {name}", length * factor / _LENGTH[key]
    else:
        return None
    pixels = round(size_in_unit / pixel_size * image_width / source_width)
    return (pixels, label) if pixels >= 4 else None


def _fmt(value: float) -> str:
    return f"{value:g}"


@lru_cache(maxsize=4)
def label_font(size: int) -> tuple[ImageFont.FreeTypeFont | ImageFont.ImageFont, bool]:
    """(font, whether it has a µ): DejaVu Sans from matplotlib (a HyperSpy dependency)
    when installed, else PIL's built-in font, which lacks µ."""
    spec = importlib.util.find_spec("matplotlib")
    if spec is not None and spec.origin:
        ttf = Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
        if ttf.is_file():
            return ImageFont.truetype(str(ttf), size), True
    return font(size), False


def draw_scale_bar(image: Image.Image, pixel_size: float, unit: str,
                   source_width: int, *, bottom: int = 0) -> Image.Image:
    """``image`` with a scale bar in its lower-left corner: a grey (``L``) image stays
    grey, the bar being black and white; any other is converted to RGB.

    ``bottom`` preview rows at the foot are kept clear (an SEM's data bar). Returns
    ``image`` unchanged when ``unit`` is not a length or reciprocal length.
    """
    found = bar_for(pixel_size, unit, image.width, source_width)
    if found is None:
        return image
    pixels, label = found
    canvas = image.copy() if image.mode == "L" else image.convert("RGB")
    black, white = (0, 255) if canvas.mode == "L" else ((0, 0, 0), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    face, has_micro = label_font(max(11, canvas.width // 36))
    if not has_micro:
        label = label.replace("µ", "u")
    margin = max(6, canvas.width // 60)
    thick = max(3, canvas.height // 100)
    text_w = int(face.getlength(label))  # type: ignore[union-attr]
    box_w = max(pixels, text_w) + 2 * margin
    text_h = int(getattr(face, "size", 12))
    box_h = thick + text_h + 3 * margin
    left, bottom = margin, canvas.height - bottom - margin
    # A dark box keeps the bar readable on bright and dark images alike.
    draw.rectangle([left, bottom - box_h, left + box_w, bottom], fill=black)
    bar_left = left + margin + (box_w - 2 * margin - pixels) // 2
    bar_top = bottom - margin - thick
    draw.rectangle([bar_left, bar_top, bar_left + pixels - 1, bar_top + thick - 1],
                   fill=white)
    draw.text((left + box_w // 2, bar_top - margin // 2), label, fill=white,
              font=face, anchor="mb")
    return canvas
