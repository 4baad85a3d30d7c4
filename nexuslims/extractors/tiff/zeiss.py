"""Zeiss SEM TIFFs (SmartSEM; Sigma, Merlin, Gemini...): ``AP_``/``SV_``/``DP_`` parameters
in tag 34118, each a line pair ``AP_WD`` / ``WD = 5.1 mm``."""

from __future__ import annotations

import re
from pathlib import Path

from .._common import put
from ..base import ExtractedDataset, ExtractionContext
from ..fields import Meta
from ..kinds import BEAM, DEFAULT, Evidence, beam_family, settle
from ..values import Unset, drop_unset, put_quantity, split_number
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

# parameter -> nx_meta key (unit in brackets). Every value is converted from the unit
# written after it in the file ("1.9  Mins", "100 ns", "4.53 K X"); a unit pint does not
# know keeps the value with its unit (see ..values.put_quantity).
_ZEISS_FIELDS: dict[str, str] = {
    "AP_ACTUALKV": "Voltage (kV)", "AP_EHT": "Voltage (kV)",
    "AP_WD": "Working Distance (mm)", "AP_MAG": "Magnification (x)",
    "AP_PIXEL_SIZE": "Pixel Width (nm)", "AP_IPROBE": "Beam Current (pA)",
    "AP_WIDTH": "Horizontal Field Width (um)", "AP_HEIGHT": "Vertical Field Width (um)",
    "AP_STAGE_AT_X": "Stage Position X (um)", "AP_STAGE_AT_Y": "Stage Position Y (um)",
    "AP_STAGE_AT_Z": "Stage Position Z (um)", "AP_STAGE_AT_T": "Stage Position Tilt (degrees)",
    "AP_STAGE_AT_R": "Stage Position R (degrees)", "AP_STAGE_AT_M": "Stage Position M (mm)",
    "AP_APERTURESIZE": "Aperture Diameter (um)",
    "AP_FRAME_TIME": "Frame Time (s)", "AP_LINE_TIME": "Line Time (ms)",
    "AP_PIXEL_TIME": "Dwell Time (us)", "DP_DWELL_TIME": "Dwell Time (us)",
    "AP_VACUUM": "Chamber Pressure (Pa)", "AP_SYSTEM_VAC": "Chamber Pressure (Pa)",
    "AP_COLUMN_VAC": "Gun Pressure (Pa)", "AP_GUN_VAC": "Gun Pressure (Pa)",
    "AP_SCANROTATION": "Scan Rotation (degrees)",
    "AP_TILT_ANGLE": "Tilt Correction Angle (degrees)",
    "AP_BEAMSHIFT_X": "Beam Shift X (%)", "AP_BEAMSHIFT_Y": "Beam Shift Y (%)",
    "AP_STIG_X": "Stigmator X (%)", "AP_STIG_Y": "Stigmator Y (%)",
    "AP_APERTURE_ALIGN_X": "Aperture Align X (%)", "AP_APERTURE_ALIGN_Y": "Aperture Align Y (%)",
    "AP_BRIGHTNESS": "Detector Brightness (%)", "AP_CONTRAST": "Detector Contrast (%)",
    "AP_ACTUALCURRENT": "Filament Current (A)", "AP_BEAM_TIME": "Beam Time (hour)",
    "AP_EXTCURRENT": "Extractor Current (uA)", "AP_EXTVOLTAGE": "Extractor Voltage (kV)",
    "AP_SPOT": "Spot Size", "AP_SPOTSIZE": "Spot Size",
    "AP_FRAME_AVERAGE_COUNT": "Frames Averaged", "AP_FRAME_INT_COUNT": "Frames Integrated",
    "AP_LINE_INT_COUNT": "Lines Integrated", "AP_NR_COEFF": "Noise Reduction Count",
    "AP_COLLECTOR_BIAS": "Collector Bias (V)",
    "DP_DETECTOR_CHANNEL": "Detector Name", "DP_DETECTOR_TYPE": "Detector Name",
    "DP_SCANRATE": "Scan Speed", "DP_NOISE_REDUCTION": "Noise Reduction",
    "DP_COLUMN_TYPE": "Column", "DP_VAC_MODE": "Vacuum Mode", "DP_OPTIMODE": "Optibeam Mode",
    "DP_FILAMENT_TYPE": "Source", "DP_FINAL_LENS": "Final Lens",
    "DP_HIGH_CURRENT": "High Current Mode", "DP_SCAN_ROT": "Scan Rotation On",
    "DP_TILT_CORRECTION": "Tilt Correction On", "DP_FIB_MODE": "FIB Mode",
    "SV_VERSION": "Software Version", "SV_SERIAL_NUMBER": "Instrument Serial",
    "SV_USER_NAME": "Operator", "SV_INSTRUMENT_ID": "Instrument Type",
    "SV_IMAGE_PATH": "Image Path", "SV_USER_TEXT": "User Text",
}
# Counts the file writes without a unit; text settings are kept as written.
_COUNTS = {"Frames Averaged", "Frames Integrated", "Lines Integrated", "Noise Reduction Count",
           "Spot Size"}
# Zeiss's "not set": an integration count of 0 means integration was off.
UNSET = (
    Unset("Frames Integrated", (0,), why="0: frame integration off"),
    Unset("Lines Integrated", (0,), why="0: line integration off"),
)


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


def put_zeiss(meta: Meta, key: str, text: str, source: str) -> None:
    """One SmartSEM value (``"5.00 kV"``, ``"4.53 K X"``, ``"1.9  Mins"``, ``"On"``)."""
    parsed = split_number(text)
    if "(" not in key and (parsed is None or parsed[1]):
        put(meta, key, text, source=source)  # a setting written as text
        return
    if parsed is None:
        return
    number, unit = parsed
    if key in _COUNTS or "(" not in key:
        put(meta, key, int(number) if number.is_integer() else number, source=source)
        return
    kilo = re.fullmatch(r"K\s*X", unit, re.IGNORECASE)
    if kilo or unit.upper() == "X":
        put(meta, key, number * (1000.0 if kilo else 1.0), source=source)
        return
    put_quantity(meta, key, number, unit or None, source)


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
        for key, nx_key in _ZEISS_FIELDS.items():
            if key in params and nx_key not in meta and nx_key.split(" (")[0] not in meta:
                put_zeiss(meta, nx_key, params[key][1], tag_key(ZEISS_TAG, key))
        drop_unset(meta, UNSET)
        date = params.get("AP_DATE", ("", ""))[1]
        time = params.get("AP_TIME", ("", ""))[1]
        creation(meta, unreliable, warnings, path, context, date, time,
                 f"{tag_key(ZEISS_TAG, 'AP_DATE')} + {tag_key(ZEISS_TAG, 'AP_TIME')}")
        # On a CrossBeam, "FIB Imaging" names the beam that imaged (SEM or FIB).
        kind = settle([beam_family(params.get("DP_FIB_IMAGING", ("", ""))[1], BEAM,
                                   tag_key(ZEISS_TAG, "DP_FIB_IMAGING"))],
                      Evidence("SEM", DEFAULT, "format:zeiss_tiff"))
        return one_image(path, meta, unreliable, warnings, extractor=self.name,
                         data_type=f"{kind.family}_Imaging", kind_source=kind.source)


