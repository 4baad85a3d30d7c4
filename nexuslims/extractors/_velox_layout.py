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
        # Stored (rows, channels, columns): see _velox_preview.eels_cube.
        shape = tuple(int(n) for n in data.shape)
        return (shape[2], shape[0], shape[1]) if len(shape) == 3 else shape
    size = (md.get("Scan") or {}).get("ScanSize") or {}
    channels = int(_f((md.get("SpectrumImageSettings") or {}).get("channels"))
                   or _f(md.get("StreamBinCount")) or 0)
    dims = [int(_f(size.get("height")) or 0), int(_f(size.get("width")) or 0)]
    return tuple(d for d in (*dims, channels) if d)
