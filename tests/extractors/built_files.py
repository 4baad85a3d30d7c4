"""Instrument files built to their format's documentation, for tests CI has no file for.

MRC2014 (with a DE-Server ``_info.txt``), TVIPS camera TIFF and Berkeley EMD; each
builder names the document or reader whose layout it follows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def mrc_not_computed(path: Path, voxel_size: float = 0.0) -> Path:
    """An MRC2014 file whose density statistics say "not computed" and whose cell is 0.

    Follows the MRC2014 specification (ccpem.ac.uk/mrc_format/mrc2014.php, words 20-22
    and 55: DMAX < DMIN, DMEAN < both, RMS < 0 when not computed) through ``mrcfile``'s
    ``reset_header_stats``, which writes exactly those values; the cell (CELLA) stays 0,
    which the specification leaves as "pixel spacing unknown"; ``voxel_size`` (Å, as
    ``mrcfile`` sets CELLA = voxel size x MX) calibrates it.
    """
    import mrcfile

    with mrcfile.new(path, overwrite=True) as mrc:
        mrc.set_data(np.arange(64, dtype=np.float32).reshape(8, 8))
        mrc.reset_header_stats()
        if voxel_size:
            mrc.voxel_size = voxel_size
    return path


# DE-Server's ``<dataset>_info.txt``: one ``Key (unit) = value`` line per setting, the key
# padded to column 64 (the layout of the public DE files RosettaSciIO tests with, read by
# ``rsciio.mrc._api.read_de_metadata_file`` and nexuslims/extractors/mrc.py ``de_info``).
DE_INFO = {
    "Server Software Version": "2.7.4.10190",
    "Timestamp (seconds since Epoch)": "1700000000",
    "Camera Model": "Apollo",
    "Camera Name": "Apollo",
    "Dataset Name": "{dataset}",
    "Exposure Time (seconds)": "0.5",
    "Frame Count": "10",
    "Frames Per Second": "20",
    "Instrument Accelerating Voltage (V)": "200000",
}


def de_server_mrc(folder: Path, dataset: str = "20231114_00001", kind: str = "final") -> Path:
    """``<dataset>_<kind>.mrc`` and its ``<dataset>_info.txt``, as DE-Server writes them:
    ``final`` is the summed image, ``movie`` the frames (which RosettaSciIO reads with the
    sidecar, taking the axes from it: no ``Specimen Pixel Size`` key gives scale 1 nm).

    The names follow DE-Server's pattern as RosettaSciIO's ``find_related_de_files``
    documents it (``YYYYMMDD_acq_<suffix>``); the sidecar holds the keys DE-Server writes
    (see ``DE_INFO``), the microscope channel connected (no ``TEM Channel Disconnected``).
    """
    import mrcfile

    final = folder / f"{dataset}_{kind}.mrc"
    shape = (4, 8, 8) if kind == "movie" else (8, 8)
    with mrcfile.new(final, overwrite=True) as mrc:
        mrc.set_data(np.arange(np.prod(shape), dtype=np.float32).reshape(shape))
    lines = [f"{key:<64}= {value.format(dataset=dataset)}" for key, value in DE_INFO.items()]
    (folder / f"{dataset}_info.txt").write_text("\n".join(lines) + "\n")
    return final


# The TVIPS header packed as tifffile's TIFF.TVIPS_HEADER_V1 + TVIPS_HEADER_V2 records
# (the structure RosettaSciIO's TIFF reader takes from tifffile): version 2, then the
# v2 magic 0xAAAAAAAA that tifffile checks.
TVIPS_VALUES = {
    "Date": (2019 << 16) | (3 << 8) | 7,  # year << 16 | month << 8 | day: 2019-03-07
    "Time": 13 * 3600 + 25 * 60 + 9,  # seconds since midnight: 13:25:09
    "TemType": "JEM-2100",
    "CameraType": "F416",
    "PhysicalPixelSizeX": 15600.0,  # nm: the F416's 15.6 um pixels
    "TemHighTension": 200000.0,  # V
    "ExposureTime": 1500.0,  # ms
    "PixelSizeX": 0.25,  # nm
    "PixelSizeY": 0.25,
    "BinningX": 2,
    "BinningY": 2,
    "TemMode": 0,  # imaging
    "TemMagnification": 50000.0,
}


def _tvips_header() -> bytes:
    import tifffile

    v1 = np.zeros(1, dtype=np.dtype(tifffile.TIFF.TVIPS_HEADER_V1))
    v1["Version"] = 2
    v2 = np.zeros(1, dtype=np.dtype(tifffile.TIFF.TVIPS_HEADER_V2))
    for key, value in TVIPS_VALUES.items():
        if isinstance(value, str):  # 'V160': UTF-16-LE, zero-padded
            raw = value.encode("utf-16-le")
            v2[key] = np.frombuffer(raw.ljust(v2.dtype[key].itemsize, b"\0"),
                                    dtype=v2.dtype[key])[0]
        else:
            v2[key] = value
    v2["Magic"] = 0xAAAAAAAA
    return v1.tobytes() + v2.tobytes()


def tvips_tiff(path: Path) -> Path:
    """A camera TIFF with the TVIPS private tag 37706, as EM-MENU writes it.

    Follows tifffile's ``read_tvips_header`` (``TIFF.TVIPS_HEADER_V1``/``_V2`` records,
    little-endian, UTF-16 strings) and RosettaSciIO's ``get_tvips_mapping`` for the units
    (high tension in V, exposure in ms, pixel size in nm).
    """
    import tifffile

    header = _tvips_header()
    tifffile.imwrite(path, np.arange(64 * 64, dtype=np.uint16).reshape(64, 64),
                     byteorder="<", extratags=[(37706, 1, len(header), header, True)])
    return path


def berkeley_emd(path: Path) -> Path:
    """A Berkeley EMD file as NCEM's openNCEM converter writes a TIA image.

    Follows the EMD 0.2 specification (emdatasets.com: root ``version_major`` and
    ``version_minor``; a data group with ``emd_group_type = 1`` holding ``data`` and
    ``dim1``..``dimN`` with ``name`` and ``units``; ``microscope``/``user``/``sample``/
    ``comments`` groups) and openNCEM's ``fileSER.writeEMD`` (the .ser's epoch
    ``timestamp`` on ``data``, the .emi settings as ``Label [unit]`` attributes).
    """
    import h5py

    with h5py.File(path, "w") as h5:
        h5.attrs["version_major"] = 0
        h5.attrs["version_minor"] = 2
        group = h5.create_group("data/image_1.ser")
        group.attrs["emd_group_type"] = 1
        data = group.create_dataset("data", data=np.arange(256, dtype=np.float32)
                                    .reshape(16, 16))
        data.attrs["timestamp"] = np.int32(1600000000)
        for index, name in ((1, "y"), (2, "x")):
            dim = group.create_dataset(f"dim{index}", data=np.arange(16) * 2e-10)
            dim.attrs["name"] = name
            dim.attrs["units"] = "[m]"
        microscope = h5.create_group("microscope")
        microscope.attrs["Microscope []"] = "Microscope Titan 80-300"
        microscope.attrs["High tension [kV]"] = np.int64(300)
        microscope.attrs["User []"] = "ALICE"
        microscope.attrs["Mode []"] = " TEM uP SA Zoom Image"
        microscope.attrs["Spot size []"] = np.int64(3)
        for name in ("user", "sample", "comments"):
            h5.create_group(name)
    return path
