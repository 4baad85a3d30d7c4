"""A TIA EDS ``.emi`` + ``_1.ser`` pair built for tests (the corpus has no TIA EDS file).

The ``.ser`` follows the layout RosettaSciIO's TIA reader (``rsciio/tia/_api.py``,
after Boothroyd's description) parses: a header (byte order ``II``, series id 0x0197,
version 0x0210 with 4-byte offsets, data type 0x4120 = 1-D spectra, tag type 0x4152 =
time only, element counts, offset-array offset, number of dimensions), one dimension
record (size, calibration offset/delta/element, description, units), the data and tag
offset arrays, then each element: calibration offset and delta (eV), calibration
element, data type (2 = uint16), length, the counts, and its time tag (seconds since
the epoch).

The ``.emi`` holds the settings as TIA's ``<ObjectInfo>`` XML, which both RosettaSciIO
and our extractor find by scanning the file for ``<ObjectInfo>...</ObjectInfo>``; the
binary wrapper around it is not read by either and is left as a few zero bytes. The EDS
acquisition tags (``EnergyResolution``, ``IntegrationTime``, ``ShapingTime``,
``NumberSpectra``, ``BeamPosition``) are those NexusLIMS 1.4 reads from TIA EDS files.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

CHANNELS = 4000
OFFSET_EV, DISPERSION_EV = 0.0, 10.0  # 0-40 keV at 10 eV/channel
ACQUIRED = 1456140622  # 2016-02-22 11:30:22 UTC

EMI_XML = (
    "<ObjectInfo><Uuid>00000000-0000-4000-8000-000000000001</Uuid>"
    "<ExperimentalDescription><Root>"
    "<Data><Label>Microscope</Label><Value>Microscope Titan 80-300</Value><Unit></Unit></Data>"
    "<Data><Label>High tension</Label><Value>200</Value><Unit>kV</Unit></Data>"
    "<Data><Label>Mode</Label><Value> STEM nP SA Zoom Diffraction</Value><Unit></Unit></Data>"
    "<Data><Label>Stage A</Label><Value>15.00</Value><Unit>deg</Unit></Data>"
    "</Root></ExperimentalDescription>"
    "<AcquireDate>Mon Feb 22 11:30:22 2016</AcquireDate>"
    "<AcquireInfo><BeamPosition>(0.0120, -0.0345) um</BeamPosition>"
    "<EnergyResolution>134.2</EnergyResolution><IntegrationTime>30.0</IntegrationTime>"
    "<NumberSpectra>1</NumberSpectra><ShapingTime>0.0000256</ShapingTime></AcquireInfo>"
    "<Manufacturer>FEI (ISIS)</Manufacturer></ObjectInfo>"
)


def _ser(counts: np.ndarray) -> bytes:
    units = b"meters"
    description = b"Position"
    dimension = (struct.pack("<Iddi", 1, 0.0, 1e-9, 0) + struct.pack("<I", len(description))
                 + description + struct.pack("<I", len(units)) + units)
    head_size = 30 + len(dimension)
    offsets_at = head_size
    data_at = offsets_at + 8  # one data offset, one tag offset (4 bytes each)
    element = (struct.pack("<ddIHI", OFFSET_EV, DISPERSION_EV, 0, 2, counts.size)
               + counts.astype("<u2").tobytes())
    tag_at = data_at + len(element)
    header = struct.pack("<HHHIIIIII", 0x4949, 0x0197, 0x0210, 0x4120, 0x4152, 1, 1,
                         offsets_at, 1)
    assert len(header) == 30
    tag = struct.pack("<HHI", 0x4152, 0, ACQUIRED)
    return header + dimension + struct.pack("<II", data_at, tag_at) + element + tag


def build_tia_eds(folder: Path, name: str = "eds_point") -> tuple[Path, Path]:
    """Write ``name.emi`` and ``name_1.ser`` (an EDS point spectrum) into ``folder``."""
    energy = OFFSET_EV + DISPERSION_EV * np.arange(CHANNELS)
    counts = (2000 * np.exp(-((energy - 1740) / 60) ** 2)  # Si K
              + 900 * np.exp(-((energy - 8040) / 80) ** 2)  # Cu K
              + 50 * np.exp(-energy / 4000) + 5)
    emi = folder / f"{name}.emi"
    ser = folder / f"{name}_1.ser"
    emi.write_bytes(b"\0" * 16 + EMI_XML.encode() + b"\0" * 16)
    ser.write_bytes(_ser(np.round(counts)))
    return emi, ser
