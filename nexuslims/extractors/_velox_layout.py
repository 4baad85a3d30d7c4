"""How a Velox EMD file stores things: JSON metadata columns and the shape of the stored data.

Shared by the extractor (:mod:`.velox`), its display labels (:mod:`._velox_displays`) and
its previews (:mod:`._velox_preview`), which read the small JSON datasets through the
low-level readers here.
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


# Velox keeps its JSON in small datasets, dozens a file: they are found and read with
# h5py's low-level calls, which cost a third of the high-level ``group[name][...]``
# (that builds a File, a Dataset and a selection for each). Errors are h5py's own:
# KeyError for a name that is not there or not a dataset.


def _dataset(loc: Any, name: str) -> Any:
    """The dataset ``name`` (a path from the group or file ``loc``), low-level."""
    import h5py

    if not isinstance(name, str):
        raise TypeError(f"not a path in the file: {name!r}")
    return h5py.h5d.open(loc.id, name.encode())


def _read(dataset: Any, count: tuple[int, ...]) -> Any:
    """The block of ``count`` elements at the start of a low-level ``dataset``."""
    import h5py
    import numpy as np

    space = dataset.get_space()
    space.select_hyperslab((0,) * len(count), count)
    out = np.empty(count, dtype=dataset.dtype)
    dataset.read(h5py.h5s.create_simple(count), space, out)
    return out


def stored_shape(loc: Any, name: str) -> tuple[int, ...]:
    """The shape of the dataset ``name`` of ``loc``."""
    return tuple(int(n) for n in _dataset(loc, name).shape)


def first_of(loc: Any, name: str) -> Any:
    """``loc[name][0]``: the first element of a dataset (Velox's JSON texts outside the
    ``Metadata`` columns are one-string arrays)."""
    dataset = _dataset(loc, name)
    shape = dataset.shape
    if not shape:
        raise ValueError(f"{name}: a scalar, not an array")
    if not shape[0]:
        raise IndexError(f"{name}: empty")
    return _read(dataset, (1, *shape[1:]))[0]


def _json_at(loc: Any, name: str) -> dict[str, Any]:
    """The Velox JSON document ``name`` of ``loc``: a column of bytes (one column per
    frame; the first), or an array of strings (the first)."""
    dataset = _dataset(loc, name)
    shape = dataset.shape
    if len(shape) == 2:
        if not shape[1]:
            raise IndexError(f"{name}: no column")
        column = _read(dataset, (shape[0], 1))[:, 0]
    elif not shape:
        raise ValueError(f"{name}: a scalar, not an array")
    else:
        column = _read(dataset, shape)
    raw = _unpadded(column) if column.dtype.kind == "u" else bytes(column[0])
    return json.loads(raw.decode("utf-8", "replace"))


def _unpadded(column: Any) -> bytes:
    """A column of bytes without its trailing NULs.

    A 60000-byte column holds ~10 kB of JSON: ``bytes.rstrip`` steps back over the 50 kB
    of padding one byte at a time, 10x the time of finding the first NUL and checking
    with numpy that only NULs follow it.
    """
    import numpy as np

    raw = column.tobytes()
    end = raw.find(b"\0")
    if end < 0:
        return raw
    if not np.frombuffer(raw, np.uint8, offset=end).any():
        return raw[:end]
    return raw.rstrip(b"\0")  # a NUL inside the text: only the trailing ones go


def _metadata(group: Any) -> dict[str, Any]:
    return _json_at(group, "Metadata")


def _shape(kind: str, shape: tuple[int, ...], md: dict[str, Any]) -> tuple[int, ...]:
    """A dataset's shape as shown, from the shape of its stored ``Data``."""
    if kind == "Image":
        height, width, frames = shape
        return (frames, height, width) if frames > 1 else (height, width)
    if kind == "Spectrum":
        return (int(shape[0]),)
    if kind == "EelsSpectrumImage":
        # Stored (rows, channels, columns): see _velox_preview._eels_sums.
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
