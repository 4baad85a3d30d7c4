"""Header checks run before a reader: a file that claims far more data than it holds.

A 5 KB ``.mrc`` whose header says 100000^3 voxels sends RosettaSciIO's reader into a
walk over 10^15 elements that never ends; a ``.hspy`` with a huge, never-written chunked
dataset does the same. Such a header is corrupt or hostile, and its data is not read:
the file gets the basic file information and an error quoting the claim. A TIFF's
claim is only noted: its metadata lives in tags that are cheap to read, and the preview
decoder has its own pixel ceiling (a placeholder is shown instead).

The checks read headers only (a few hundred bytes, or HDF5 metadata) and never raise.
"""

from __future__ import annotations

import logging
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

ABSURD_FACTOR = 10_000
"""Claimed data larger than this many times the file is not read. No compression we
meet packs data that tightly (gzip's ceiling is about 1000:1), so a real file never
trips it; uncompressed formats (MRC) are truncated long before."""


@dataclass(frozen=True)
class Claim:
    """What a header says the file holds, against what it does."""

    what: str
    """E.g. ``"100000 x 100000 x 100000 float32 voxels"``."""
    claimed: int
    """Bytes of data the header claims."""
    size: int
    """Bytes in the file."""
    refuse: bool
    """Whether the reader must not be run."""

    @property
    def message(self) -> str:
        verdict = "not read" if self.refuse else "pixel data not decoded"
        return (f"header claims {self.what} ({self.claimed:.3g} bytes) but the file holds "
                f"{self.size} bytes; {verdict}")


def check(path: Path) -> Claim | None:
    """The absurd claim of ``path``'s header, or None (fine, or not a format checked)."""
    checker = _CHECKERS.get(path.suffix.lower().lstrip("."))
    if checker is None:
        return None
    try:
        size = path.stat().st_size
        found = checker(path)
    except Exception as exc:  # noqa: BLE001 - a header we cannot parse is the reader's to judge
        log.debug("header check of %s skipped: %s", path, exc)
        return None
    if found is None:
        return None
    what, claimed, refuse = found
    if claimed <= ABSURD_FACTOR * max(size, 1):
        return None
    return Claim(what, claimed, size, refuse)


# MRC2014: 1024-byte header; NX, NY, NZ, MODE are words 1-4, NSYMBT (extended header
# bytes) word 24, the machine stamp at byte 212 (0x44 0x44: little-endian, 0x11: big).
_MRC_MODES = {0: (1, "int8"), 1: (2, "int16"), 2: (4, "float32"), 3: (4, "complex int16"),
              4: (8, "complex64"), 6: (2, "uint16"), 12: (2, "float16"), 101: (0.5, "4-bit")}


def _mrc(path: Path) -> tuple[str, int, bool] | None:
    with open(path, "rb") as handle:
        head = handle.read(224)
    if len(head) < 224:
        return None
    order = ">" if head[212] == 0x11 else "<"
    nx, ny, nz, mode = struct.unpack_from(f"{order}4i", head, 0)
    if min(nx, ny, nz) <= 0:
        return None
    per_voxel, kind = _MRC_MODES.get(mode, (4, f"mode {mode}"))
    return f"{nx} x {ny} x {nz} {kind} voxels", int(nx * ny * nz * per_voxel), True


def _hdf5(path: Path) -> tuple[str, int, bool] | None:
    import h5py

    biggest: list[tuple[int, str]] = []
    total = 0

    def visit(name: str, obj: object) -> None:
        nonlocal total
        if isinstance(obj, h5py.Dataset) and obj.shape:
            nbytes = math.prod(obj.shape) * obj.dtype.itemsize
            total += nbytes
            biggest.append((nbytes, f"{' x '.join(map(str, obj.shape))} {obj.dtype} "
                                    f"values in {name}"))

    with h5py.File(path, "r") as handle:
        handle.visititems(visit)
    if not biggest:
        return None
    return max(biggest)[1], total, True


def _tiff(path: Path) -> tuple[str, int, bool] | None:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        page = tif.pages.first
        shape, dtype = page.shape, page.dtype
    if not shape or dtype is None:
        return None
    return (f"{' x '.join(map(str, shape))} {dtype} pixels",
            math.prod(shape) * dtype.itemsize, False)


_CHECKERS: dict[str, Callable[[Path], tuple[str, int, bool] | None]] = {
    "mrc": _mrc, "mrcs": _mrc, "ali": _mrc, "rec": _mrc,
    "hspy": _hdf5, "hdf5": _hdf5, "h5": _hdf5,
    "tif": _tiff, "tiff": _tiff,
}
