"""Zeiss SEM TIFFs (SmartSEM; Sigma, Merlin, Gemini...): ``AP_``/``SV_``/``DP_`` parameters
in tag 34118, each a line pair ``AP_WD`` / ``WD = 5.1 mm``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .._common import put
from ..base import ExtractedDataset, ExtractionContext
from ..fields import Meta
from ._common import (
    TIFF_EXTENSIONS,
    creation,
    one_image,
    raw_text_tag,
    tag_key,
    tiff_basics,
)
from ._common import (
    tags as read_tags,
)

ZEISS_TAG = 34118

_ZEISS_FIELDS: dict[str, tuple[str, str]] = {
    # parameter: (nx_meta key, unit the key is in)
    "AP_ACTUALKV": ("Voltage (kV)", "kV"), "AP_EHT": ("Voltage (kV)", "kV"),
    "AP_WD": ("Working Distance (mm)", "mm"), "AP_MAG": ("Magnification (x)", "x"),
    "AP_PIXEL_SIZE": ("Pixel Width (nm)", "nm"), "AP_IPROBE": ("Beam Current (pA)", "pA"),
    "AP_WIDTH": ("Horizontal Field Width (um)", "um"),
    "AP_HEIGHT": ("Vertical Field Width (um)", "um"),
    "AP_STAGE_AT_X": ("Stage Position X (um)", "um"),
    "AP_STAGE_AT_Y": ("Stage Position Y (um)", "um"),
    "AP_STAGE_AT_Z": ("Stage Position Z (um)", "um"),
    "AP_STAGE_AT_T": ("Stage Position Tilt (degrees)", "deg"),
    "AP_STAGE_AT_R": ("Stage Position R (degrees)", "deg"),
    "AP_APERTURESIZE": ("Aperture Diameter (um)", "um"),
    "AP_FRAME_TIME": ("Frame Time (s)", "s"), "AP_LINE_TIME": ("Line Time (ms)", "ms"),
    "AP_PIXEL_TIME": ("Dwell Time (us)", "us"),
    "AP_VACUUM": ("Chamber Pressure (Pa)", "Pa"), "AP_SYSTEM_VAC": ("Chamber Pressure (Pa)", "Pa"),
    "DP_DETECTOR_CHANNEL": ("Detector Name", ""), "DP_DETECTOR_TYPE": ("Detector Name", ""),
    "DP_SCANRATE": ("Scan Speed", ""), "DP_NOISE_REDUCTION": ("Noise Reduction", ""),
    "SV_VERSION": ("Software Version", ""), "SV_SERIAL_NUMBER": ("Instrument Serial", ""),
    "SV_USER_NAME": ("Operator", ""), "SV_INSTRUMENT_ID": ("Instrument Type", ""),
}
SCALE_TO_SI = {
    "kv": 1e3, "v": 1.0, "mv": 1e-3, "m": 1.0, "mm": 1e-3, "um": 1e-6, "µm": 1e-6,
    "μm": 1e-6, "nm": 1e-9, "pm": 1e-12, "a": 1.0, "ma": 1e-3, "ua": 1e-6, "µa": 1e-6,
    "na": 1e-9, "pa": 1e-12, "s": 1.0, "secs": 1.0, "sec": 1.0, "ms": 1e-3, "us": 1e-6,
    "µs": 1e-6, "ns": 1e-9, "deg": 1.0, "°": 1.0, "x": 1.0, "mbar": 100.0, "torr": 133.322,
}


def parse_zeiss(text: str) -> dict[str, tuple[str, str]]:
    """Zeiss ``AP_X`` / ``Label = value unit`` line pairs as ``{AP_X: (label, value)}``."""
    out: dict[str, tuple[str, str]] = {}
    key = None
    for line in re.split(r"\r\n|\r|\n", text):
        line = line.strip()
        if re.fullmatch(r"[A-Z]{2}_[A-Z0-9_]+", line):
            key = line
        elif key and ("=" in line or ":" in line):
            label, _, value = line.partition("=") if "=" in line else line.partition(":")
            out[key] = (label.strip(), value.strip())
            key = None
    return out


def _zeiss_value(value: str, unit: str) -> Any:
    """``"5.00 kV"`` in ``unit``; ``"5.00 K X"`` magnifications; text stays text."""
    match = re.fullmatch(r"([-+]?[\d.]+(?:[eE][-+]?\d+)?)\s*(K\s*)?(\S*)", value)
    if not unit or not match:
        return value
    number = float(match[1]) * (1000.0 if match[2] else 1.0)
    given = (match[3] or unit).lower()
    pascal_from = {"pa": 1.0, "mbar": 100.0, "torr": 133.322}.get(given)
    if pascal_from and unit == "Pa":
        return number * pascal_from
    if given in ("x", "") or unit in ("x", "deg"):
        return number
    if given not in SCALE_TO_SI or unit.lower() not in SCALE_TO_SI:
        return number
    return number * SCALE_TO_SI[given] / SCALE_TO_SI[unit.lower()]


class ZeissTiffExtractor:
    """Zeiss SEM TIFFs (SmartSEM; Sigma, Merlin, Gemini...), tag 34118."""

    name = "zeiss_tiff"
    format_name = "Zeiss SEM TIFF"
    extensions = TIFF_EXTENSIONS
    priority = 90

    def sniff(self, path: Path) -> bool:
        """Tag 34118 (CZ_SEM) present."""
        return ZEISS_TAG in read_tags(path)

    def extract(self, path: Path, context: ExtractionContext) -> list[ExtractedDataset]:
        """One SEM image dataset with the SmartSEM parameters."""
        warnings: list[str] = []
        unreliable: set[str] = set()
        meta = Meta()
        tiff_basics(path, meta, warnings)
        params = parse_zeiss(raw_text_tag(path, ZEISS_TAG) or "")
        if not params:
            warnings.append("Zeiss parameters (tag 34118) could not be read")
        for key, (nx_key, unit) in _ZEISS_FIELDS.items():
            if key in params and nx_key not in meta:
                put(meta, nx_key, _zeiss_value(params[key][1], unit),
                    source=tag_key(ZEISS_TAG, key))
        date = params.get("AP_DATE", ("", ""))[1]
        time = params.get("AP_TIME", ("", ""))[1]
        creation(meta, unreliable, warnings, path, context, date, time,
                 f"{tag_key(ZEISS_TAG, 'AP_DATE')} + {tag_key(ZEISS_TAG, 'AP_TIME')}")
        return one_image(path, meta, unreliable, warnings, extractor=self.name,
                         data_type="SEM_Imaging")


