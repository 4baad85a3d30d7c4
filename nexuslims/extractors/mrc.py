"""MRC/CCP-EM files, and the ``*_info.txt`` a Direct Electron (DE-Server) camera writes.

The MRC2014 header gives the data layout and density statistics; its "not computed"
conventions (``AMAX < AMIN``, ``AMEAN < min(AMIN, AMAX)``, ``RMS < 0``) publish
nothing. A DE-Server acquisition writes ``<dataset>_movie.mrc``, ``<dataset>_final.mrc``
and ``<dataset>_info.txt`` (``Key (unit) = value`` lines: the epoch timestamp, the
camera, the voltage, the exposure, the scan); the sidecar is read beside any of them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ._common import put
from ._time import AcquisitionTime, from_epoch
from .base import ExtractionContext
from .hyperspy_formats import _HyperSpyExtractor
from .values import Unset, put_quantity

# MRC2014 MODE -> how each pixel is stored
_MODES = {0: "int8", 1: "int16", 2: "float32", 3: "complex int16", 4: "complex64",
          6: "uint16", 12: "float16", 101: "4-bit"}

# MRC2014 section 2 ("AMIN, AMAX, AMEAN, RMS"): statistics not computed are written
# as AMAX < AMIN, AMEAN < both, RMS < 0.
UNSET = (
    Unset("Density Minimum", when=lambda v, m: m.get("Density Maximum", v) < v,
          why="AMAX < AMIN: not computed"),
    Unset("Density Maximum", when=lambda v, m: v < m.get("Density Minimum", v),
          why="AMAX < AMIN: not computed"),
    Unset("Density Mean", when=lambda v, m: (
        m.get("Density Maximum", v) < m.get("Density Minimum", v)
        or v < min(m.get("Density Minimum", v), m.get("Density Maximum", v))),
        why="AMEAN < min(AMIN, AMAX): not computed"),
    Unset("Density RMS", when=lambda v, m: v < 0, why="RMS < 0: not computed"),
    # DE-Server: -1 for a microscope setting the TEM channel did not report.
    Unset("Camera Length (mm)", when=lambda v, m: v <= 0, why="DE: -1 or 0 not reported"),
    Unset("Magnification (x)", when=lambda v, m: v <= 0, why="DE: -1 not reported"),
    Unset("Pixel Width (nm)", when=lambda v, m: v <= 0, why="DE: -1 not calibrated"),
)

# DE-Server info keys (unit in brackets as the file writes it) -> nx_meta key.
DE_FIELDS = (
    ("Instrument Accelerating Voltage", "V", "Voltage (kV)"),
    ("Exposure Time", "seconds", "Exposure Time (s)"),
    ("Frames Per Second", "", "Frame Rate (1/s)"),
    ("Frame Count", "", "Frame Count"),
    ("Camera Model", "", "Camera"),
    ("Camera Name", "", "Camera Name"),
    ("Camera SN", "", "Camera Serial"),
    ("Server Software Version", "", "Software Version"),
    ("Dataset Name", "", "Dataset Name"),
    ("Binning X", "", "Binning"),
    ("Hardware Binning X", "", "Hardware Binning"),
    ("Instrument Project Magnification", "", "Magnification (x)"),
    ("Instrument Project Camera Length", "centimeters", "Camera Length (mm)"),
    ("Scan - Dwell Time", "microseconds", "Dwell Time (us)"),
    ("Scan - Type", "", "Scan Type"),
    ("Scan - Size X", "", "Scan Points X"),
    ("Scan - Size Y", "", "Scan Points Y"),
    ("Scan - Controller", "", "Scan Controller"),
    ("Readout - Shutter", "", "Shutter"),
    ("Specimen Pixel Size X", "nanometers", "Pixel Width (nm)"),
    ("ADUs Per Electron", "", "ADUs per Electron"),
)
# Keys that come from the microscope (or are computed from its magnification).
_FROM_MICROSCOPE = ("Instrument ", "Specimen Pixel Size")
_INFO_LIMIT = 1 << 20
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
_DE_LINE = re.compile(r"^(?P<key>[^=(]+?)\s*(?:\((?P<unit>[^)]*)\))?\s*=\s*(?P<value>.*)$")


def de_info_path(path: Path) -> Path | None:
    """``<dataset>_info.txt`` beside a DE-Server file ``<dataset>_<anything>.mrc``."""
    stem = path.stem
    while "_" in stem:
        stem = stem.rsplit("_", 1)[0]
        candidate = path.with_name(f"{stem}_info.txt")
        if candidate.is_file():
            return candidate
    return None


def de_info(path: Path) -> dict[str, tuple[str, str]]:
    """``{key: (value, unit)}`` of a DE-Server info file (empty when unreadable)."""
    out: dict[str, tuple[str, str]] = {}
    try:
        with open(path, "rb") as stream:  # a DE info file is ~40 kB; read no more than 1 MB
            text = stream.read(_INFO_LIMIT).decode("utf-8", errors="replace")
    except OSError:
        return out
    for line in text.splitlines()[:5000]:
        match = _DE_LINE.match(line.strip())
        if match:
            out.setdefault(match["key"].strip(), (match["value"].strip(),
                                                   (match["unit"] or "").strip()))
    return out


class MrcExtractor(_HyperSpyExtractor):
    """MRC/CCP-EM volumes and image stacks, with a DE-Server ``_info.txt`` when present."""

    name = "mrc"
    format_name = "MRC"
    extensions = frozenset({"mrc", "mrcs", "ali", "rec"})
    reader = "MRC"
    unset = UNSET

    def sniff(self, path: Path) -> bool:
        """MRC files have a 1024-byte header; older ones lack the ``MAP`` stamp, so no more."""
        with open(path, "rb") as handle:
            head = handle.read(224)
        return len(head) >= 224

    def file_time(self, path: Path, context: ExtractionContext) -> AcquisitionTime | None:
        """DE-Server's ``Timestamp (seconds since Epoch)``: an absolute instant."""
        info = de_info_path(path)
        if info is None:
            return None
        value, _ = de_info(info).get("Timestamp", ("", ""))
        return from_epoch(value, f"de-info:{info.name} Timestamp (seconds since Epoch)")

    def extras(self, signal: Any, meta: dict[str, Any]) -> None:
        """Header fields: pixel size, pixel type, sections, density statistics, labels;
        then the DE-Server sidecar's camera and microscope settings."""
        header = signal.original_metadata.get_item("std_header")
        if header is not None:
            self._header(signal, header, meta)
        path = Path(str(signal.tmp_parameters.get_item("folder", "")),
                    str(signal.tmp_parameters.get_item("filename", "")) +
                    str(signal.tmp_parameters.get_item("extension", "")))
        info = de_info_path(path) if path.name else None
        if info is None:
            return
        values = de_info(info)
        put(meta, "DE Info File", info.name, source=f"de-info:{info.name}")
        # With the microscope's channel disconnected, DE-Server's "Instrument ..." keys
        # hold its own defaults, not the microscope's settings: not set.
        connected = "disconnected" not in values.get("Instrument Metadata", ("", ""))[0].lower()
        if not connected and str(meta.get("Indicated Magnification (x)", "")) == values.get(
                "Instrument Project Magnification", ("", ""))[0]:
            meta.pop("Indicated Magnification (x)")  # the reader's copy of the same default
        for key, unit, output in DE_FIELDS:
            if key not in values or output in meta:
                continue
            if key.startswith(_FROM_MICROSCOPE) and not connected:
                continue
            text, stated = values[key]
            source = f"de-info:{info.name} {key}" + (f" ({stated})" if stated else "")
            if not _NUMBER.match(text):
                put(meta, output, text, source=source)
                continue
            number = float(text)
            if "(" in output:
                put_quantity(meta, output, number, stated or unit or None, source)
            else:
                put(meta, output, int(number) if number.is_integer() else number,
                    source=source)

    def _header(self, signal: Any, header: Any, meta: dict[str, Any]) -> None:
        header = header.as_dictionary() if hasattr(header, "as_dictionary") else dict(header)
        put(meta, "Pixel Data Type", _MODES.get(int(header.get("MODE", -1))),
            source="om:std_header.MODE")
        put(meta, "Number of Sections", int(header["NZ"]) if "NZ" in header else None,
            source="om:std_header.NZ")
        space_group = header.get("ISPG")
        if space_group is not None:
            put(meta, "Stack Kind", "image stack" if int(space_group) == 0 else "volume",
                source="om:std_header.ISPG")
        for key, label in (("AMIN", "Minimum"), ("AMAX", "Maximum"), ("AMEAN", "Mean"),
                           ("RMS", "RMS")):
            if key in header:
                put(meta, f"Density {label}", round(float(header[key]), 6),
                    source=f"om:std_header.{key}")
        if int(header.get("NEXT", 0) or 0):
            put(meta, "Extended Header Size (bytes)", int(header["NEXT"]),
                source="om:std_header.NEXT")
        labels = _mrc_labels(header.get("LABELS"), int(header.get("NLABL", 0) or 0))
        if labels:
            put(meta, "Labels", "; ".join(labels), source="om:std_header.LABELS")


def _mrc_labels(raw: Any, count: int) -> list[str]:
    """The header's text labels (RosettaSciIO hands them over hex-encoded, 80 bytes each)."""
    if not raw or not count:
        return []
    try:
        data = bytes.fromhex(raw) if isinstance(raw, str) else bytes(raw)
    except ValueError:
        return []
    chunks = (data[i * 80:(i + 1) * 80] for i in range(count))
    return [text for c in chunks if (text := c.decode("latin-1").strip(" \x00"))]
