"""Small files whose headers claim absurdly large data, for the extraction guards' tests.

Each writer makes a file of a few KB that a careless reader would try to allocate or
walk in full: an MRC2014 header of 100000^3 float32 voxels, an uncompressed TIFF and a
deflate TIFF of 100000 x 100000 pixels, and a HyperSpy ``.hspy`` whose chunked dataset is
declared 100000^3 but has no chunk written.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HUGE = 100_000


def write_huge_mrc(path: Path, n: int = HUGE) -> Path:
    """A 1024-byte MRC2014 header (no extended header) claiming ``n``^3 float32 voxels,
    followed by 4 KB of data."""
    header = np.zeros(256, dtype="<i4")
    header[0:3] = n, n, n                       # NX, NY, NZ
    header[3] = 2                               # MODE 2: float32
    header[7:10] = n, n, n                      # MX, MY, MZ
    floats = header.view("<f4")
    floats[10:13] = float(n)                    # CELLA (Å), i.e. 1 Å per voxel
    floats[13:16] = 90.0                        # CELLB
    header[16:19] = 1, 2, 3                     # MAPC, MAPR, MAPS
    header[27] = 20140                          # NVERSION
    raw = bytearray(header.tobytes())
    raw[208:212] = b"MAP "
    raw[212:216] = b"\x44\x44\x00\x00"          # little-endian machine stamp
    path.write_bytes(bytes(raw) + np.zeros(1024, "<f4").tobytes())
    return path


def write_huge_tiff(path: Path, n: int = HUGE, compression: str | None = None) -> Path:
    """A TIFF whose one strip claims ``n`` x ``n`` 8-bit pixels but holds 4 KB."""
    import tifffile

    tifffile.imwrite(path, np.zeros((64, 64), np.uint8), compression=compression)
    _patch_tiff_size(path, n)
    return path


def _patch_tiff_size(path: Path, n: int) -> None:
    """Rewrite ImageWidth, ImageLength and RowsPerStrip of the first IFD in place."""
    import struct

    raw = bytearray(path.read_bytes())
    assert raw[:4] == b"II*\x00", "little-endian classic TIFF expected"
    ifd = struct.unpack_from("<I", raw, 4)[0]
    (count,) = struct.unpack_from("<H", raw, ifd)
    for i in range(count):
        entry = ifd + 2 + 12 * i
        tag, kind = struct.unpack_from("<HH", raw, entry)
        if tag in (256, 257, 278):  # ImageWidth, ImageLength, RowsPerStrip
            if kind == 3:           # SHORT cannot hold n: make it LONG
                struct.pack_into("<HI", raw, entry + 2, 4, 1)
            struct.pack_into("<I", raw, entry + 8, n)
    path.write_bytes(bytes(raw))


def write_huge_hspy(path: Path, n: int = HUGE) -> Path:
    """A HyperSpy 3.x-style ``.hspy`` whose signal is declared ``n``^3 float32, chunked,
    with no chunk ever written (the file stays a few KB)."""
    import h5py

    with h5py.File(path, "w") as f:
        f.attrs["file_format"] = "HyperSpy"
        f.attrs["file_format_version"] = "3.3"
        exp = f.create_group("Experiments/huge")
        data = exp.create_dataset("data", shape=(n, n, n), dtype="<f4",
                                  chunks=(1, 64, 64), fillvalue=0)
        assert data.id.get_num_chunks() == 0
        meta = exp.create_group("metadata")
        meta.create_group("General").attrs["title"] = "huge"
        meta.create_group("Signal").attrs["signal_type"] = ""
        for i in range(3):
            axis = exp.create_group(f"axis-{i}")
            axis.attrs.update({"name": f"a{i}", "size": n, "scale": 1.0, "offset": 0.0,
                               "units": "nm", "navigate": i == 0})
        exp.create_group("original_metadata")
        exp.create_group("learning_results")
    return path
