"""What every TIFF extractor shares: tags, basic image facts, times, and field tables.

A vendor's settings become ``nx_meta`` through a table of :class:`Field` rows (where in
the file, which output name with its unit, the factor from the file's unit), so a new
vendor is mostly a table. Tags are read with tifffile, which decodes no pixel data.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from .._common import finish, put
from .._time import AcquisitionTime, from_wall_clock, stamp
from ..base import ExtractedDataset, ExtractionContext
from ..values import put_quantity, split_number

TIFF_EXTENSIONS = frozenset({"tif", "tiff"})


@dataclass(frozen=True)
class Field:
    """One row of a vendor's field table.

    ``source`` names where the value is in the file (``"EBeam/HV"``, an XML path...);
    several alternatives may be given, the first present wins. ``output`` is the
    ``nx_meta`` key, unit in brackets; ``scale`` takes the file's unit to that unit.
    ``kind`` is ``number``, ``count`` (whole numbers stay ints) or ``text``.
    """

    source: str | tuple[str, ...]
    output: str
    scale: float = 1.0
    kind: str = "number"

    @property
    def sources(self) -> tuple[str, ...]:
        return (self.source,) if isinstance(self.source, str) else self.source


# The baseline and well-known tags the extractors read, named as the TIFF 6 / EXIF
# specifications name them (the name travels with the number in a value's source).
TAG_NAMES = {
    256: "ImageWidth", 257: "ImageLength", 258: "BitsPerSample", 259: "Compression",
    270: "ImageDescription", 271: "Make", 272: "Model", 277: "SamplesPerPixel",
    282: "XResolution", 296: "ResolutionUnit", 305: "Software", 306: "DateTime",
    315: "Artist", 339: "SampleFormat", 33560: "OlympusSIS", 34665: "ExifTag",
}
PAGES_KEY = "tiff:pages"
"""Source of values counted from the file's chain of image directories."""


def tag_key(code: int, path: str = "") -> str:
    """Where a value is in a TIFF: ``tiff:306 DateTime``, ``tiff:34682 [EBeam] HV``."""
    return f"tiff:{code} {path or TAG_NAMES.get(code, '')}".rstrip()


def num(value: Any) -> float | None:
    """``value`` as a finite float, or None (empty strings, text, NaN)."""
    try:
        number = float(str(value).strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def read_fields(meta: dict[str, Any], lookup: Callable[[str], Any],
                fields: Iterable[Field], where: Callable[[str], str]) -> dict[str, str]:
    """Fill ``meta`` from a table; returns ``{output key: source key it came from}``.

    ``where`` names, for a table source, the key in the file (recorded as the value's
    source, see :mod:`nexuslims.extractors.fields`). Outputs already in ``meta`` are
    left alone, so an earlier row (or a better source) wins; a value that is missing,
    empty or not a number is skipped.
    """
    used: dict[str, str] = {}
    for row in fields:
        if row.output in meta:
            continue
        for source in row.sources:
            raw = lookup(source)
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                continue
            if row.kind == "text":
                value: Any = str(raw).strip()
            else:
                number = num(raw)
                stated = split_number(raw) if number is None and isinstance(raw, str) else None
                if stated is not None and stated[1] and "(" in row.output:
                    # "500.0 V", "10000 ns": the file states the unit; convert from it.
                    put_quantity(meta, row.output, stated[0], stated[1], where(source))
                    if row.output in meta or row.output.split(" (")[0] in meta:
                        used[row.output] = source
                        break
                    continue
                if number is None:
                    continue
                value = number * row.scale
                if row.kind == "count" and float(value).is_integer():
                    value = int(value)
            put(meta, row.output, value, source=where(source))
            if row.output in meta:
                used[row.output] = source
                break
    return used


def image_preview(path: Path, page: int = 0, scale: tuple[float, str] | None = None,
                  data_bar_rows: int = 0):
    """A renderer drawing page ``page`` of ``path`` (with a scale bar if ``scale`` is
    given as (size of one pixel, unit), kept above a data bar of ``data_bar_rows``)."""
    def render(out: Path) -> None:
        from nexuslims.previews import render_image_file

        render_image_file(path, out, page=page, pixel_size=scale, data_bar_rows=data_bar_rows)

    return render


def one_image(path: Path, meta: dict[str, Any], unreliable: set[str], warnings: list[str], *,
              extractor: str, data_type: str, kind: str = "Image",
              preview: Callable[[Path], None] | None = None,
              kind_source: str | None = None) -> list[ExtractedDataset]:
    """The one dataset of a single-image TIFF; its preview draws the first page with a
    scale bar from ``Pixel Width (nm)`` unless ``preview`` is given. ``kind_source``
    names the evidence that decided ``data_type``."""
    return [ExtractedDataset(
        name=path.name, dataset_type=kind, extractor=extractor,
        nx_meta=finish(meta, dataset_type=kind, data_type=data_type, extractor=extractor,
                       kind_source=kind_source),
        unreliable=unreliable, warnings=warnings,
        render_preview=preview or image_preview(path, scale=pixel_scale(meta)))]


def pixel_scale(meta: dict[str, Any]) -> tuple[float, str] | None:
    """(pixel width, unit) from ``Pixel Width (nm)``, for a preview's scale bar."""
    width = num(meta.get("Pixel Width (nm)"))
    return (width, "nm") if width and width > 0 else None


# Vendor tags kept as the bytes written: tifffile would decode some of them itself
# (FEI, Zeiss), which is slow and loses the exact text.
RAW_TAGS = frozenset({34118, 34682, 34683, 50431, 51023, 65000, 65027})


@dataclass(frozen=True)
class PageTags:
    """One page's tags: decoded values of the standard ones, raw bytes of vendor ones."""

    values: dict[int, Any]
    raw: dict[int, bytes]


_EMPTY = PageTags({}, {})


@lru_cache(maxsize=16)
def _page_tags(path: str, page: int, stamp: tuple[int, int]) -> PageTags:
    import tifffile

    del stamp  # part of the cache key only: a rewritten file is read again
    try:
        with tifffile.TiffFile(path) as tif:
            found: Any = tif.pages[page]
            values: dict[int, Any] = {}
            raw: dict[int, bytes] = {}
            for tag in found.tags.values():
                if tag.code in RAW_TAGS:
                    tif.filehandle.seek(tag.valueoffset)
                    raw[tag.code] = bytes(tif.filehandle.read(tag.valuebytecount))
                else:
                    values[tag.code] = tag.value
            return PageTags(values, raw)
    except Exception:  # noqa: BLE001 - a damaged tag table is not an error for a sniff
        return _EMPTY


def page_tags(path: Path, page: int = 0) -> PageTags:
    """The tags of one page, read once for all the TIFF extractors' sniffs (cached by
    path, size and modification time); empty if the file is no readable TIFF."""
    try:
        info = os.stat(path)
    except OSError:
        return _EMPTY
    return _page_tags(os.fspath(path), page, (info.st_size, info.st_mtime_ns))


def tags(path: Path, page: int = 0) -> dict[int, Any]:
    """Tag code -> value of one page (pixel data untouched; vendor tags as bytes)."""
    found = page_tags(path, page)
    return {**found.values, **found.raw}


def raw_tag(path: Path, code: int) -> bytes | None:
    """The bytes of a vendor tag (:data:`RAW_TAGS`) of the first page as written."""
    return page_tags(path).raw.get(code)


def raw_text_tag(path: Path, code: int) -> str | None:
    """A text tag up to its first NUL, decoded as Latin-1 (what instruments write)."""
    raw = raw_tag(path, code)
    return None if raw is None else raw.split(b"\x00", 1)[0].decode("latin-1")


def xml_tag(path: Path, code: int) -> str | None:
    """An XML text tag (UTF-8 or UTF-16, NULs dropped), or None."""
    raw = raw_tag(path, code)
    if not raw:
        return None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or raw[1:2] == b"\x00":
        text = raw.decode("utf-16", errors="replace")
    else:
        text = raw.decode("utf-8", errors="replace")
    return text.replace("\x00", "").strip() or None


def tiff_basics(path: Path, meta: dict[str, Any], warnings: list[str], page: int = 0) -> None:
    """Dimensions, bit depth, page count and standard tags, into ``meta`` (with sources)."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            pages = len(tif.pages)
            first: Any = tif.pages[page]
            shape, dtype = tuple(int(n) for n in first.shape), first.dtype
            samples = int(first.samplesperpixel)
            bits = first.bitspersample
            compression = getattr(first.compression, "name", None)
            software = first.software
            has_format = 339 in first.tags
    except Exception as exc:  # noqa: BLE001
        warnings.append(f"TIFF structure unreadable: {exc}")
        return
    meta["Data Dimensions"] = str(shape)
    if len(shape) >= 2:
        put(meta, "Image Width (pixels)", shape[1], source=tag_key(256))
        put(meta, "Image Height (pixels)", shape[0], source=tag_key(257))
    put(meta, "Bit Depth", int(bits), source=tag_key(258))
    put(meta, "Samples per Pixel", samples, source=tag_key(277))
    put(meta, "Pixel Data Type", str(dtype) if dtype is not None else None,
        source=tag_key(258) + (" + " + tag_key(339) if has_format else ""))
    put(meta, "Compression", compression if compression not in (None, "NONE") else None,
        source=tag_key(259))
    put(meta, "Software", software or None, source=tag_key(305))
    if pages > 1:
        put(meta, "Number of Pages", pages, source=PAGES_KEY)


def creation(meta: dict[str, Any], unreliable: set[str], warnings: list[str], path: Path,
             ctx: ExtractionContext, date: Any = None, time: Any = None,
             key: str = "", found: AcquisitionTime | None = None) -> None:
    """``Creation Time`` (and where it came from) from the file's date and time.

    ``date``/``time`` are the wall clock the file states, read at ``key``; ``found`` an
    acquisition time already read (an absolute one). Without either, the file's
    modification time, with a warning (see :func:`~nexuslims.extractors._time.stamp`).
    """
    if found is None and date and time:
        found = from_wall_clock(date, time, ctx.timezone, key)
    stamp(meta, found, path, ctx.timezone, unreliable, warnings)


def tiff_datetime(text: Any) -> tuple[str | None, str | None]:
    """TIFF/EXIF ``YYYY:MM:DD HH:MM:SS`` (or ISO) as (ISO date, time) strings."""
    match = re.match(r"\s*(\d{4})[:\-/](\d{2})[:\-/](\d{2})[ T](\d{2}:\d{2}:\d{2}\S*)",
                     str(text or ""))
    if not match:
        return None, None
    return f"{match[1]}-{match[2]}-{match[3]}", match[4]


def parse_ini(text: str) -> dict[str, dict[str, str]]:
    """``[Section]`` / ``key=value`` text (any line ending) as nested dicts of strings."""
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in re.split(r"\r\n|\r|\n", text):
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
        elif current is not None and "=" in line:
            key, _, value = line.partition("=")
            current[key.strip()] = value.strip()
    return sections


def ini_key(source: str) -> str:
    """``"Section/Key"`` as the file writes it: ``[Section] Key``."""
    section, _, key = source.partition("/")
    return f"[{section}] {key}"
