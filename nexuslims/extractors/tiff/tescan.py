"""Tescan SEM / (P)FIB TIFFs (AMBER, SOLARIS, MIRA...): INI-style ``key=value`` text.

The text is embedded in TIFF tag 50431 (section headers may be missing there, and the
tag may start with a few binary bytes) and written in full beside the image as a
``.hdr`` sidecar with ``[MAIN]`` and ``[SEM]`` sections. Values are in SI units. The
tag is read first; the sidecar is the fallback when the tag is absent or unreadable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .._common import put
from ..base import ExtractedDataset, ExtractionContext
from ..fields import Meta
from ..kinds import BEAM, DEFAULT, Evidence, settle
from ._common import (
    TIFF_EXTENSIONS,
    Field,
    creation,
    ini_key,
    one_image,
    parse_ini,
    raw_tag,
    read_fields,
    tag_key,
    tiff_basics,
)

TESCAN_TAG = 50431
_FIRST_KEYS = (b"[MAIN]", b"AccFrames=", b"AccType=", b"Company=", b"Date=", b"Device=")
# Keys that only the [SEM] part holds: where the headerless tag text switches section.
_SEM_KEYS = ("AcceleratorVoltage=", "ApertureDiameter=", "ApertureOptimization=",
             "ChamberPressure=", "CrossFree=", "HV=")

FIELDS: tuple[Field, ...] = (
    Field("SEM/HV", "Voltage (kV)", 1e-3),
    Field("SEM/WD", "Working Distance (mm)", 1e3),
    Field("SEM/SpotSize", "Spot Size (nm)", 1e9),
    Field("SEM/EmissionCurrent", "Emission Current (uA)", 1e6),
    Field("SEM/PredictedBeamCurrent", "Beam Current (pA)", 1e12),
    Field("SEM/SpecimenCurrent", "Specimen Current (pA)", 1e12),
    Field("SEM/ApertureDiameter", "Aperture Diameter (um)", 1e6),
    Field("MAIN/Magnification", "Magnification (x)"),
    Field("MAIN/PixelSizeX", "Pixel Width (nm)", 1e9),
    Field("MAIN/PixelSizeY", "Pixel Height (nm)", 1e9),
    Field("SEM/DwellTime", "Dwell Time (us)", 1e6),
    Field("SEM/ScanRotation", "Scan Rotation (degrees)"),
    Field("SEM/ScanMode", "Scan Mode", kind="text"),
    Field("MAIN/AccFrames", "Frames Accumulated", kind="count"),
    Field("SEM/Detector", "Detector Name", kind="text"),
    Field("SEM/Detector0Gain", "Detector Gain"),
    Field("SEM/Detector0Offset", "Detector Offset"),
    Field("SEM/ChamberPressure", "Chamber Pressure (Pa)"),
    Field("SEM/StageX", "Stage Position X (um)", 1e6),
    Field("SEM/StageY", "Stage Position Y (um)", 1e6),
    Field("SEM/StageZ", "Stage Position Z (um)", 1e6),
    Field("SEM/StageRotation", "Stage Position R (degrees)"),
    Field("SEM/StageTilt", "Stage Position Tilt (degrees)"),
    Field("SEM/StigmatorX", "Stigmator X"),
    Field("SEM/StigmatorY", "Stigmator Y"),
    Field("SEM/GunType", "Source", kind="text"),
    Field("MAIN/Device", "Instrument Type", kind="text"),
    Field("MAIN/DeviceModel", "Instrument Model", kind="text"),
    Field("MAIN/SerialNumber", "Instrument Serial", kind="text"),
    Field("MAIN/SoftwareVersion", "Software Version", kind="text"),
    Field(("MAIN/FullUserName", "MAIN/UserName"), "Operator", kind="text"),
    Field("MAIN/Description", "Description", kind="text"),
    Field("SEM/SessionID", "Session ID", kind="text"),
    # Alignments, detector and scan settings of the [SEM] block (values in SI units or
    # the instrument's own dimensionless settings).
    Field("SEM/GunShiftX", "Gun Shift X"),
    Field("SEM/GunShiftY", "Gun Shift Y"),
    Field("SEM/GunTiltX", "Gun Tilt X"),
    Field("SEM/GunTiltY", "Gun Tilt Y"),
    Field("SEM/IMLCenteringX", "IML Centering X"),
    Field("SEM/IMLCenteringY", "IML Centering Y"),
    Field("SEM/OBJCenteringX", "OBJ Centering X"),
    Field("SEM/OBJCenteringY", "OBJ Centering Y"),
    Field("SEM/OBJPreCenteringX", "OBJ Pre-centering X"),
    Field("SEM/OBJPreCenteringY", "OBJ Pre-centering Y"),
    Field("SEM/MTDGrid", "MTD Grid Voltage (V)"),
    Field("SEM/SampleVoltage", "Sample Voltage (V)"),
    Field("SEM/PotentialMode", "Potential Mode", kind="text"),
    Field("SEM/Gun", "Gun Type", kind="text"),
    Field("SEM/Detector0", "Detector 0", kind="text"),
    Field("SEM/Detector0FlatField", "Detector 0 Flat Field"),
    Field("SEM/PrimaryDetectorGain", "Primary Detector Gain"),
    Field("SEM/PrimaryDetectorOffset", "Primary Detector Offset"),
    Field("SEM/ScanSpeed", "Scan Speed", kind="count"),
    Field("SEM/ScanID", "Scan ID", kind="text"),
    Field("SEM/TiltCorrection", "Tilt Correction"),
    Field("SEM/SyncMains", "Sync to Mains", kind="text"),
    Field("SEM/CrossFree", "Cross Free"),
    Field("SEM/ApertureOptimization", "Aperture Optimization"),
    Field("SEM/InjectedGas", "Injected Gas", kind="text"),
    Field("SEM/LUTGamma", "LUT Gamma"),
    Field("SEM/LUTMinimum", "LUT Minimum"),
    Field("SEM/LUTMaximum", "LUT Maximum"),
    Field("MAIN/AccType", "Accumulation Type", kind="text"),
    Field("MAIN/Company", "Company", kind="text"),
    Field("MAIN/MagnificationReference", "Magnification Reference"),
    Field("MAIN/ImageStripSize", "Image Strip Size", kind="count"),
    Field("MAIN/ViewFieldsCountX", "View Fields Count X", kind="count"),
    Field("MAIN/ViewFieldsCountY", "View Fields Count Y", kind="count"),
    Field("MAIN/OrigFileName", "Original File Name", kind="text"),
    Field("MAIN/Sign", "Sign", kind="text"),
)


def tag_text(path: Path) -> str | None:
    """The tag-50431 text with ``[MAIN]``/``[SEM]`` headers restored, or None."""
    raw = raw_tag(path, TESCAN_TAG)
    if not raw:
        return None
    starts = [raw.find(key) for key in _FIRST_KEYS if raw.find(key) >= 0]
    raw = raw[min(starts):] if starts else raw
    text = raw.replace(b"\x00", b"").decode("utf-8", errors="replace")
    text = "".join(c for c in text if c.isprintable() or c in "\r\n\t")
    if "[MAIN]" in text or "[SEM]" in text:
        return text
    cut = min((i for i in (text.find(k) for k in _SEM_KEYS) if i >= 0), default=len(text))
    line = text.rfind("\n", 0, cut) + 1
    return f"[MAIN]\n{text[:line]}\n[SEM]\n{text[line:]}"


def sidecar(path: Path) -> Path | None:
    """The ``.hdr`` file beside ``path`` if it is a Tescan header."""
    for hdr in (path.with_suffix(".hdr"), path.with_suffix(".HDR")):
        try:
            with open(hdr, "rb") as stream:
                head = stream.read(1024)
        except OSError:
            continue
        if b"[MAIN]" in head or b"TESCAN" in head.upper():
            return hdr
    return None


HDR_ORIGIN = "hdr:"
"""Source prefix of values read from the ``.hdr`` sidecar beside the image."""


def _sections(path: Path, warnings: list[str]) -> tuple[dict[str, dict[str, str]], str, str]:
    """Parsed sections, where they came from (tag, sidecar, or nothing) and the prefix
    of their values' sources."""
    text = tag_text(path)
    sections = parse_ini(text) if text else {}
    if sections.get("SEM") or sections.get("MAIN"):
        return sections, f"TIFF tag {TESCAN_TAG}", tag_key(TESCAN_TAG) + " "
    hdr = sidecar(path)
    if hdr is not None:
        try:
            return parse_ini(hdr.read_text("utf-8", errors="replace")), hdr.name, HDR_ORIGIN
        except OSError as exc:
            warnings.append(f"Tescan sidecar {hdr.name} unreadable: {exc}")
    warnings.append(f"no Tescan metadata: tag {TESCAN_TAG} absent and no .hdr sidecar")
    return {}, "", ""


class TescanTiffExtractor:
    """Tescan SEM/FIB TIFFs: tag 50431, else the ``.hdr`` sidecar."""

    name = "tescan_tiff"
    format_name = "Tescan SEM/FIB TIFF"
    extensions = TIFF_EXTENSIONS
    priority = 150

    def sniff(self, path: Path) -> bool:
        """Tag 50431, or a Tescan ``.hdr`` beside a TIFF whose maker says TESCAN."""
        if raw_tag(path, TESCAN_TAG):
            return True
        return sidecar(path) is not None and _is_tiff(path)

    def extract(self, path: Path, context: ExtractionContext) -> list[ExtractedDataset]:
        """One SEM image dataset with the instrument settings."""
        warnings: list[str] = []
        unreliable: set[str] = set()
        meta = Meta()
        tiff_basics(path, meta, warnings)
        sections, origin, prefix = _sections(path, warnings)
        if origin:
            put(meta, "Metadata Source", origin, source=prefix.strip())

        def lookup(source: str) -> Any:
            section, _, key = source.partition("/")
            return sections.get(section, {}).get(key)

        read_fields(meta, lookup, FIELDS, lambda source: prefix + ini_key(source))
        if "Operator" in meta:  # the logged-in account, not necessarily who acquired
            unreliable.add("Operator")
        main = sections.get("MAIN", {})
        creation(meta, unreliable, warnings, path, context, main.get("Date"), main.get("Time"),
                 f"{prefix}[MAIN] Date + {prefix}[MAIN] Time")
        # A FIB-SEM writes the [FIB] section alone for an ion image, [SEM] for an electron one.
        kind = settle([Evidence("FIB", BEAM, prefix + "[FIB]") if _ion(sections) else None],
                      Evidence("SEM", DEFAULT, "format:tescan_tiff"))
        return one_image(path, meta, unreliable, warnings, extractor=self.name,
                         data_type=f"{kind.family}_Imaging", kind_source=kind.source)


def _ion(sections: dict[str, dict[str, str]]) -> bool:
    return "FIB" in sections and "SEM" not in sections


def _is_tiff(path: Path) -> bool:
    with open(path, "rb") as stream:
        return stream.read(4) in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


