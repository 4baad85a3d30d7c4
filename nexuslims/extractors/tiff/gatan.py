"""TIFFs written by Gatan DigitalMicrograph: its calibration and its whole tag tree.

DigitalMicrograph stores an exported image's calibration beside the pixels, and reads
it back: tags 65003/65004 the x/y unit (``nm``, ``1/nm``), 65006/65007 the origins,
65009/65010 the x/y size of one pixel in that unit, 65012/65013 the unit's long name,
65024/65025 the intensity offset and scale (RosettaSciIO's TIFF reader reads these).
Tag 65027 holds the image's tag group (``Microscope Info``, ``DataBar``,
``Acquisition``...) as a DM3/DM4 tag stream, the same bytes a ``.dm3``/``.dm4`` file
holds under ``ImageList.TagGroup0.ImageTags`` (as in RosettaSciIO's
``test_loading_image_saved_with_DM.tif``; tifffile names the tag ``JEOL_Header``). It is
parsed with RosettaSciIO's DM tag parser and mapped with the DM extractor's table, so a
DM TIFF reports what the same image saved as ``.dm4`` reports.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._common import dig, put
from ..base import ExtractedDataset, ExtractionContext
from ..fields import Meta
from ..kinds import DEFAULT, Evidence
from ._common import (
    TIFF_EXTENSIONS,
    creation,
    image_preview,
    num,
    one_image,
    raw_tag,
    tag_key,
    tiff_basics,
    tiff_datetime,
)
from ._common import tags as read_tags

UNIT_X, UNIT_Y, SCALE_X, SCALE_Y, UNIT_NAME = 65003, 65004, 65009, 65010, 65012
DM_TAGS = 65027
_DM_STREAM = (b"\x00\x00\x00\x03", b"\x00\x00\x00\x04")  # a DM3 or DM4 header


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return str(value or "").strip("\x00 ").replace("\xb5", "µ")


def dm_calibration(found: dict[int, Any]) -> Meta:
    """Pixel size and unit from DigitalMicrograph's tags, under human names."""
    meta = Meta()
    unit = _text(found.get(UNIT_X))
    for code, axis in ((SCALE_X, "Width"), (SCALE_Y, "Height")):
        raw = found.get(code)
        scale = num(raw[0] if isinstance(raw, tuple) else raw)
        if scale is not None and unit:
            put(meta, f"Pixel {axis} ({unit})", scale,
                source=f"{tag_key(code)} + {tag_key(UNIT_X)}")
    name = _text(found.get(UNIT_NAME))
    put(meta, "Calibration Unit", name or unit or None,
        source=tag_key(UNIT_NAME if name else UNIT_X))
    return meta


def dm_tag_tree(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """(the image's DM tag group from tag 65027, or None; why it could not be read)."""
    raw = raw_tag(path, DM_TAGS)
    if not raw or raw[:4] not in _DM_STREAM:
        return None, None
    try:  # RosettaSciIO's own DM tag parser (not part of its public API)
        from rsciio.digitalmicrograph._api import DigitalMicrographReader
    except ImportError as exc:
        return None, f"DigitalMicrograph tags (TIFF tag {DM_TAGS}) not read: {exc}"
    reader = DigitalMicrographReader(io.BytesIO(raw))
    try:
        reader.parse_file()
    except Exception as exc:  # noqa: BLE001 - a damaged tag stream keeps the calibration
        return None, f"DigitalMicrograph tags (TIFF tag {DM_TAGS}) unreadable: {exc}"
    tree = dict(reader.tags_dict or {})
    tree.pop("root", None)
    return tree, None


def dm_tag_meta(tree: Mapping[str, Any], context: ExtractionContext,
                meta: Meta) -> Any:
    """The DM extractor's fields from the tag tree into ``meta``; the acquisition time."""
    from ..digitalmicrograph import _MICROSCOPE, _ZERO_MEANS_UNKNOWN, _processing, acquisition_time

    def key(dotted: str) -> str:
        return tag_key(DM_TAGS, dotted)

    for tag_path, output, scale in _MICROSCOPE:
        if output in meta:
            continue
        value = dig(tree, *tag_path)
        if output in _ZERO_MEANS_UNKNOWN and isinstance(value, int | float) and value == 0:
            continue
        if isinstance(value, Mapping) or (isinstance(value, list) and not value):
            continue  # a group, or an empty string
        put(meta, output, value, scale, source=key(".".join(tag_path)))
    for field in ("Specimen", "Operator", "Microscope"):
        value = dig(tree, "Session Info", field)
        if isinstance(value, str) and value.strip():
            put(meta, "Session Microscope" if field == "Microscope" else field, value,
                source=key(f"Session Info.{field}"))
    put(meta, "Processing History", _processing(tree), source=key("Processing"))
    found = acquisition_time(tree, context)
    if found is not None:  # the DM key, as a key of this TIFF tag
        parts = [p.strip().removeprefix("tags:") for p in found.key.split("+")]
        found = dataclasses.replace(found, key=" + ".join(key(p) for p in parts))
    return found


def _family(tree: Mapping[str, Any]) -> Evidence:
    """TEM, STEM or SEM from ``Microscope Info``, as the DM extractor decides it."""
    from ..digitalmicrograph import dm_family

    kind = dm_family(tree, lambda dotted: tag_key(DM_TAGS, dotted))
    return kind if kind.family else Evidence("", DEFAULT, "format:gatan_tiff")


class GatanTiffExtractor:
    """TIFFs exported by DigitalMicrograph, with its calibration and tag tree."""

    name = "gatan_tiff"
    format_name = "DigitalMicrograph TIFF"
    extensions = TIFF_EXTENSIONS
    priority = 60

    def sniff(self, path: Path) -> bool:
        """Tags 65003 (unit) and 65009 (pixel size), or a DM tag stream in 65027."""
        found = read_tags(path)
        if UNIT_X in found and SCALE_X in found:
            return True
        raw = raw_tag(path, DM_TAGS)
        return raw is not None and raw[:4] in _DM_STREAM

    def extract(self, path: Path, context: ExtractionContext) -> list[ExtractedDataset]:
        """One calibrated image (or diffraction pattern) dataset."""
        warnings: list[str] = []
        unreliable: set[str] = set()
        meta = Meta()
        tiff_basics(path, meta, warnings)
        found = read_tags(path)
        calibration = dm_calibration(found)
        meta.update(calibration)
        meta.sources.update(calibration.sources)
        put(meta, "Description", _text(found.get(270))[:500] or None, source=tag_key(270))
        tree, problem = dm_tag_tree(path)
        if problem:
            warnings.append(problem)
        stated = dm_tag_meta(tree, context, meta) if tree else None
        date, time = tiff_datetime(found.get(306))
        creation(meta, unreliable, warnings, path, context, date, time, tag_key(306),
                 found=stated)
        unit = _text(found.get(UNIT_X))
        operation = str(dig(tree or {}, "Microscope Info", "Operation Mode") or "").upper()
        diffraction = unit.startswith("1/") or operation == "DIFFRACTION"
        kind = "Diffraction" if diffraction else "Image"
        family = _family(tree or {})
        mode = family.family
        data_type = f"{mode or 'TEM'}_Diffraction" if diffraction else (
            f"{mode}_Imaging" if mode else "Image")
        if "Indicated Magnification (x)" in meta and operation == "DIFFRACTION":
            unreliable.add("Indicated Magnification (x)")  # a camera setting there
        scale = num(meta.get(f"Pixel Width ({unit})"))
        return one_image(path, meta, unreliable, warnings, extractor=self.name,
                         data_type=data_type, kind=kind, kind_source=family.source,
                         preview=image_preview(path, scale=(scale, unit) if scale else None))
