"""Previews drawn straight from files (images, TIFFs, text) and the placeholder."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFile, ImageOps

from nexuslims.previews._plot import BACKGROUND, INK, font, wrap
from nexuslims.previews._raster import SIZE, array_image, downsample, fit, save_png
from nexuslims.previews._scalebar import draw_scale_bar

TIFF_EXTENSIONS = frozenset({".tif", ".tiff"})
TEXT_LINES = 30
_TEXT_BYTES = 64 * 1024
_BLANK_FRACTION = 0.01
_truncated_lock = threading.Lock()


def render_image_file(path: Path, out: Path, *, page: int = 0,
                      pixel_size: tuple[float, str] | None = None,
                      data_bar_rows: int = 0) -> None:
    """Write a PNG preview of an image file (PNG, JPEG, GIF, BMP, TIFF of any bit depth).

    ``page`` chooses the TIFF page (e.g. the data page of an Olympus SIS file, whose
    first page is a JPEG-compressed colour rendering). ``pixel_size`` -- the size of
    one image pixel and its unit, e.g. ``(3.37, "nm")`` -- adds a scale bar, placed
    above the bottom ``data_bar_rows`` image rows (an SEM's burnt-in data bar).

    TIFFs are read with tifffile (memory-mapped and strided when possible, so a huge
    image is sampled rather than loaded); other formats, and TIFFs tifffile cannot
    decode, with Pillow, tolerating truncated data.

    Raises
    ------
    ValueError
        If the decodable part of the image is (nearly) empty, as when its strips are
        truncated or point outside the file.
    OSError
        If the file cannot be decoded at all.
    """
    path = Path(path)
    data: np.ndarray | None = None
    width = 0
    if path.suffix.lower() in TIFF_EXTENSIONS:
        try:
            data, width = _read_tiff(path, page)
        except NothingToPreview as exc:
            raise ValueError(str(exc)) from None  # as Pillow's reading of it would say
        except Exception:  # noqa: BLE001 -- e.g. JPEG-in-TIFF without imagecodecs; PIL next
            data = None
    image = array_image(data) if data is not None else _read_with_pillow(path)
    preview = fit(image)
    if pixel_size is not None:
        source_width = width or image.width
        rows = round(data_bar_rows * preview.width / source_width)
        preview = draw_scale_bar(preview, pixel_size[0], pixel_size[1], source_width,
                                 bottom=rows)
    save_png(preview, out)


def render_text_file(path: Path, out: Path) -> None:
    """Write a PNG showing the first lines of a text file, wrapped to the preview width."""
    with open(path, "rb") as stream:
        head = stream.read(_TEXT_BYTES)
    text = decode_text(head).expandtabs(4)
    lines = text.splitlines()[:TEXT_LINES]
    face = font(11)
    line_height = 15
    canvas = Image.new("RGB", (SIZE, SIZE), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    draw.text((8, 6), Path(path).name, fill=(31, 90, 160), font=font(12))
    y = 26
    for line in lines:
        for piece in wrap(line, face, SIZE - 16) or [""]:
            if y > SIZE - line_height:
                draw.text((8, y - 2), "...", fill=INK, font=face)
                save_png(canvas, out)
                return
            draw.text((8, y), piece, fill=INK, font=face)
            y += line_height
    save_png(canvas, out)


def render_placeholder(out: Path, reason: str) -> None:
    """Write a PNG that says no preview is available and gives the short ``reason``."""
    canvas = Image.new("RGB", (SIZE, 375), (238, 238, 238))
    draw = ImageDraw.Draw(canvas)
    draw.rectangle([6, 6, SIZE - 7, 368], outline=(170, 170, 170), width=2)
    draw.text((SIZE // 2, 140), "Preview unavailable", fill=(90, 90, 90), font=font(26),
              anchor="mm")
    lines = wrap(reason.strip() or "no reason given", font(13), SIZE - 60)[:6]
    y = 185
    for line in lines:
        draw.text((SIZE // 2, y), line, fill=(90, 90, 90), font=font(13), anchor="mt")
        y += 18
    save_png(canvas, out)


def decode_text(raw: bytes) -> str:
    """Decode bytes as UTF-8 (with or without BOM) or UTF-16 if marked, else Latin-1."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16", errors="replace")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.start >= len(raw) - 3:  # a multi-byte character cut by the read limit
            return raw[: exc.start].decode("utf-8-sig")
        return raw.decode("latin-1")


class NothingToPreview(ValueError):
    """A TIFF page's data is (nearly) all outside the file: Pillow need not try."""


TRUNCATED = "image data truncated: nothing readable to preview"


def _read_tiff(path: Path, index: int = 0) -> tuple[np.ndarray, int]:
    """One page of a TIFF strided down to preview size (memory-mapped if possible), and
    the page's full width in pixels.

    Raises :class:`NothingToPreview` at once when almost none of the page's strips or
    tiles lie within the file (an interrupted copy, a damaged header): what Pillow
    would decode of it is blank, after reading every strip it can (14 ms for a
    1024 x 831 image of 831 strips, against 2 ms).
    """
    import tifffile

    with tifffile.TiffFile(path) as tif:
        page = tif.pages[index]
        _check_within(page, tif.filehandle.size)
        if page.is_memmappable and page.dtype is not None:
            # as tifffile.memmap maps it, without opening and parsing the file again
            data = np.memmap(path, np.dtype(tif.byteorder + page.dtype.char), "r",
                             page.dataoffsets[0], page.shape, "C")
            plane = _first_plane(data)
            frame, width = np.array(downsample(plane)), int(plane.shape[1])
            del data, plane
            return frame, width
        plane = _first_plane(page.asarray())
        return np.asarray(downsample(plane)), int(plane.shape[1])


def _check_within(page: object, size: int) -> None:
    """Raise :class:`NothingToPreview` if less than ``_BLANK_FRACTION`` of ``page``'s
    segments (counting one cut short as whole) lie within a file of ``size`` bytes."""
    offsets = getattr(page, "dataoffsets", ()) or ()
    counts = getattr(page, "databytecounts", ()) or ()
    if not offsets or len(offsets) != len(counts):
        return
    inside = sum(1 for offset, count in zip(offsets, counts, strict=True) if offset < size)
    if inside < _BLANK_FRACTION * len(offsets):
        raise NothingToPreview(TRUNCATED)


def _first_plane(data: np.ndarray) -> np.ndarray:
    """A 2-D (or 2-D colour) plane of a TIFF page: planar RGB is moved last, extras dropped."""
    while data.ndim > 3 or (data.ndim == 3 and data.shape[-1] not in (3, 4)):
        if data.ndim == 3 and data.shape[0] in (3, 4):
            return np.moveaxis(data, 0, -1)
        data = data[0]
    return data


def _read_with_pillow(path: Path) -> Image.Image:
    with Image.open(path) as image:
        if image.format == "JPEG":
            image.draft("RGB", (SIZE, SIZE))  # let libjpeg decode at reduced scale
        try:
            image.load()
        except OSError as exc:
            if "truncated" not in str(exc):
                raise
            return _read_truncated(path)
        return _to_displayable(image)


def _read_truncated(path: Path) -> Image.Image:
    """Decode what exists of a truncated image; refuse if that is (nearly) nothing."""
    with _truncated_lock:
        previous = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = True
        try:
            with Image.open(path) as image:
                image.load()
                picture = _to_displayable(image)
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = previous
    if np.count_nonzero(np.asarray(picture)) < _BLANK_FRACTION * picture.width * picture.height:
        raise ValueError(TRUNCATED)
    return picture


def _to_displayable(image: Image.Image) -> Image.Image:
    """An RGB or L image: EXIF orientation applied, alpha laid on white, deep modes stretched.

    Large images are shrunk before any per-pixel conversion, and nothing is converted or
    copied at full size that the picture does not need: an alpha channel or a
    transparent palette entry that no pixel uses is dropped, a grey palette becomes one
    channel.
    """
    source = image
    if image.getexif().get(_ORIENTATION, 1) != 1:
        image = ImageOps.exif_transpose(image) or image
    if image.mode == "P":
        image = _unpalette(image)
    factor = max(1, max(image.size) // (2 * SIZE))
    if factor > 1:  # shrink before any per-pixel conversion; the preview needs no more
        if image.mode in ("1", "CMYK", "YCbCr", "I;16", "I;16B", "I;16L"):
            image = image.convert("RGB" if image.mode in ("CMYK", "YCbCr")
                                  else "I" if image.mode.startswith("I;") else "L")
        image = image.reduce(factor)
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F") or image.mode.startswith("I;"):
        return array_image(np.asarray(image))
    if image.mode in ("RGBA", "LA", "PA"):
        rgba = image.convert("RGBA")
        base = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(base, rgba).convert("RGB")
    if image.mode in ("L", "RGB"):
        return image.copy() if image is source else image
    return image.convert("RGB")


_ORIENTATION = 0x0112


def _unpalette(image: Image.Image) -> Image.Image:
    """A palette image as RGBA if a pixel is transparent, else as L (a grey palette) or
    RGB: the same colours as converting it to RGBA and laying that on white."""
    used = [i for i, n in enumerate(image.histogram()) if n]
    transparency = image.info.get("transparency")
    if transparency is not None:
        alpha = (transparency if isinstance(transparency, bytes)
                 else bytes(255 if i != transparency else 0 for i in range(256)))
        if any(i < len(alpha) and alpha[i] < 255 for i in used):
            return image.convert("RGBA")
    palette = image.getpalette("RGB") or []
    colours = [tuple(palette[3 * i:3 * i + 3]) for i in used if 3 * i + 2 < len(palette)]
    grey = len(colours) == len(used) and all(r == g == b for r, g, b in colours)
    return image.convert("L" if grey else "RGB")
