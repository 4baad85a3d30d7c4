"""How a Velox EMD file stores things: JSON metadata columns and the shape of the stored data.

Shared by the extractor (:mod:`.velox`) and its previews (:mod:`._velox_preview`).
"""

from __future__ import annotations

import json
import math
from typing import Any


def _f(value: Any) -> float | None:
    try:
        val = float(value)
    except (TypeError, ValueError):
        return None
    return val if math.isfinite(val) else None


def _json_at(dataset: Any) -> dict[str, Any]:
    """A Velox JSON document: a column of bytes (one column per frame; the first)."""
    column = dataset[:, 0] if dataset.ndim == 2 else dataset[:]
    raw = column.tobytes().rstrip(b"\0") if column.dtype.kind == "u" else bytes(column[0])
    return json.loads(raw.decode("utf-8", "replace"))


def _metadata(group: Any) -> dict[str, Any]:
    return _json_at(group["Metadata"])


def _shape(kind: str, data: Any, md: dict[str, Any]) -> tuple[int, ...]:
    if kind == "Image":
        height, width, frames = data.shape
        return (frames, height, width) if frames > 1 else (height, width)
    if kind == "Spectrum":
        return (int(data.shape[0]),)
    if kind == "EelsSpectrumImage":
        # Stored (rows, channels, columns): see _velox_preview._eels_sums.
        shape = tuple(int(n) for n in data.shape)
        return (shape[2], shape[0], shape[1]) if len(shape) == 3 else shape
    channels = int(_f((md.get("SpectrumImageSettings") or {}).get("channels"))
                   or _f(md.get("StreamBinCount")) or 0)
    return tuple(d for d in (*scanned_area(md), channels) if d)


def scanned_area(md: dict[str, Any]) -> tuple[int, int]:
    """(rows, columns) actually scanned: ``Scan.ScanSize`` is the whole frame and
    ``Scan.ScanArea`` the fraction of it (left/top/right/bottom, 0..1) acquired."""
    scan = md.get("Scan") or {}
    size, area = scan.get("ScanSize") or {}, scan.get("ScanArea") or {}
    rows, cols = _f(size.get("height")) or 0.0, _f(size.get("width")) or 0.0
    edges = [_f(area.get(k)) for k in ("left", "top", "right", "bottom")]
    if all(e is not None for e in edges):
        left, top, right, bottom = (float(e) for e in edges)  # type: ignore[arg-type]
        if 0 <= left < right <= 1 and 0 <= top < bottom <= 1:
            rows, cols = rows * (bottom - top), cols * (right - left)
    return int(round(rows)), int(round(cols))
