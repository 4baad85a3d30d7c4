"""FEI / Thermo Fisher SEM and FIB TIFFs: an INI-style text in tag 34682.

Sections ``[User]``, ``[Beam]``, ``[EBeam]``/``[IBeam]``, ``[Scan]``/``[EScan]``,
``[Stage]``, ``[Image]``... hold values in SI units. ``[Beam]`` names the beam section
and scan section in use; ``beam/`` and ``scan/`` below mean those (merged over the
generic ``[Beam]`` and ``[Scan]``). The text is also found in the file's tail when a
damaged tag table hides the tag.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._common import put
from ..base import ExtractedDataset, ExtractionContext
from ..fields import Meta
from ..kinds import BEAM, DEFAULT, Evidence, beam_family, settle
from ..values import Unset, drop_unset, negative
from ._common import (
    TIFF_EXTENSIONS,
    Field,
    creation,
    image_preview,
    num,
    one_image,
    parse_ini,
    pixel_scale,
    raw_text_tag,
    read_fields,
    tag_key,
    tiff_basics,
)

FEI_TAG = 34682
TAIL_ORIGIN = "file-tail:"
"""Source prefix of values read from the INI text found in the file's tail (no tag)."""
_FEI_TAIL = 256 * 1024
_FEI_MARKER = b"[User]"
_DEG = 180 / math.pi

# The frame integration the image was acquired with is in [Image]; [Scan] holds the
# scan engine's current setting, which after acquisition is often back to 1.
FIELDS: tuple[Field, ...] = (
    Field("beam/HV", "Voltage (kV)", 1e-3),
    Field("beam/BeamCurrent", "Beam Current (pA)", 1e12),
    Field("beam/EmissionCurrent", "Emission Current (uA)", 1e6),
    Field("beam/Spot", "Spot Size"),
    Field("beam/ApertureDiameter", "Aperture Diameter (um)", 1e6),
    Field(("beam/Aperture", "System/Aperture"), "Aperture", kind="text"),
    Field("beam/LensMode", "Lens Mode", kind="text"),
    Field("beam/ImageMode", "Image Mode", kind="text"),
    Field(("beam/WD", "Stage/WorkingDistance"), "Working Distance (mm)", 1e3),
    Field("beam/HFW", "Horizontal Field Width (um)", 1e6),
    Field("beam/VFW", "Vertical Field Width (um)", 1e6),
    Field("beam/ScanRotation", "Scan Rotation (degrees)", _DEG),
    Field("scan/PixelWidth", "Pixel Width (nm)", 1e9),
    Field("scan/PixelHeight", "Pixel Height (nm)", 1e9),
    Field(("scan/Dwelltime", "scan/Dwell"), "Dwell Time (us)", 1e6),
    Field("scan/FrameTime", "Frame Time (s)"),
    Field("scan/LineTime", "Line Time (ms)", 1e3),
    Field(("Image/Average", "scan/Average"), "Frames Averaged", kind="count"),
    Field(("Image/Integrate", "scan/Integrate"), "Frames Integrated", kind="count"),
    Field("scan/LineIntegration", "Line Integration", kind="count"),
    Field("scan/ScanInterlacing", "Scan Interlacing", kind="count"),
    Field("Vacuum/ChPressure", "Chamber Pressure (Pa)"),
    Field("Vacuum/UserMode", "Vacuum Mode", kind="text"),
    Field("Vacuum/Gas", "Vacuum Gas", kind="text"),
    Field("Specimen/SpecimenCurrent", "Specimen Current (pA)", 1e12),
    Field("Specimen/Temperature", "Specimen Temperature (K)"),
    Field("Detectors/Mode", "Detector Mode", kind="text"),
    Field("System/Software", "Software Version", kind="text"),
    Field("System/SystemType", "Instrument Type", kind="text"),
    Field("System/Dnumber", "Instrument Serial", kind="text"),
    Field(("System/Column", "beam/ColumnType"), "Column", kind="text"),
    Field(("System/Source", "beam/Source"), "Source", kind="text"),
    Field("System/Chamber", "Chamber", kind="text"),
    Field("User/User", "Operator", kind="text"),
    Field("User/UserText", "User Text", kind="text"),
    Field("Image/ResolutionX", "Image Resolution X (pixels)", kind="count"),
    Field("Image/ResolutionY", "Image Resolution Y (pixels)", kind="count"),
    Field("Image/DigitalContrast", "Digital Contrast"),
    Field("Image/DigitalBrightness", "Digital Brightness"),
    Field("Image/DigitalGamma", "Digital Gamma"),
    Field("Image/DriftCorrected", "Drift Corrected", kind="text"),
    Field("PrivateFei/DatabarHeight", "Data Bar Height (pixels)", kind="count"),
    # Alignments and the rest of the beam and scan blocks (what NexusLIMS 2.x reads).
    Field("beam/BeamShiftX", "Beam Shift X"),
    Field("beam/BeamShiftY", "Beam Shift Y"),
    Field("beam/BeamTiltX", "Beam Tilt X"),
    Field("beam/BeamTiltY", "Beam Tilt Y"),
    Field("beam/StigmatorX", "Stigmator X"),
    Field("beam/StigmatorY", "Stigmator Y"),
    Field("beam/SourceTiltX", "Source Tilt X"),
    Field("beam/SourceTiltY", "Source Tilt Y"),
    Field("beam/TiltCorrectionAngle", "Tilt Correction Angle (degrees)", _DEG),
    Field("beam/TiltCorrectionIsOn", "Tilt Correction", kind="text"),
    Field("beam/DynamicFocusIsOn", "Dynamic Focus", kind="text"),
    Field("beam/BeamMode", "Beam Mode", kind="text"),
    Field("beam/MagnificationCorrection", "Magnification Correction", kind="text"),
    Field("beam/ActiveStage", "Active Stage", kind="text"),
    Field("beam/WehneltBias", "Wehnelt Bias (V)"),
    Field("beam/PreTilt", "Pre-tilt (degrees)", _DEG),
    Field(("beam/FinalLens", "System/FinalLens"), "Final Lens", kind="text"),
    Field(("beam/EucWD", "System/EucWD"), "Eucentric Working Distance (mm)", 1e3),
    Field("System/Type", "System Type", kind="text"),
    Field("System/Stage", "Stage Type", kind="text"),
    Field("System/Pump", "Vacuum Pump", kind="text"),
    Field("System/ESEM", "ESEM", kind="text"),
    Field("System/Scan", "Scan Engine", kind="text"),
    Field("scan/InternalScan", "Internal Scan", kind="text"),
    Field("scan/Mainslock", "Mains Lock", kind="text"),
    Field("Image/ZoomFactor", "Zoom Factor"),
    Field("Image/ZoomPanX", "Zoom Pan X"),
    Field("Image/ZoomPanY", "Zoom Pan Y"),
    Field("Image/MagnificationMode", "Magnification Mode", kind="count"),
    Field("Image/PostProcessing", "Post Processing", kind="text"),
    Field("Image/Transformation", "Image Transformation", kind="text"),
    Field("Vacuum/Humidity", "Humidity (%)"),
    Field("EBeamDeceleration/ModeOn", "Beam Deceleration", kind="text"),
)

# FEI's "not set": a working distance below zero (the Nav-Cam's IRBeam section has
# no beam to focus), a eucentric working distance of 0.
UNSET = (
    Unset("Working Distance (mm)", when=negative, why="below 0: no working distance"),
    Unset("Eucentric Working Distance (mm)", (0,), when=negative, why="0: not set"),
)

# Stage coordinates: [Stage] holds the stage's own coordinates; the beam section
# repeats them (tilt as StageTa) as that beam saw them. [Stage] is preferred.
STAGE: tuple[tuple[str, str, str, float], ...] = (
    ("StageX", "StageX", "Stage Position X (um)", 1e6),
    ("StageY", "StageY", "Stage Position Y (um)", 1e6),
    ("StageZ", "StageZ", "Stage Position Z (um)", 1e6),
    ("StageR", "StageR", "Stage Position R (degrees)", _DEG),
    ("StageT", "StageTa", "Stage Position Tilt (degrees)", _DEG),
)

KNOWN_SECTIONS = {
    "User", "System", "Beam", "EBeam", "IBeam", "IRBeam", "GIS", "Scan", "EScan", "IScan",
    "Stage", "Image", "Vacuum", "Specimen", "Detectors", "Accessories", "EBeamDeceleration",
    "PrivateFei", "HiResIllumination", "ColdStage", "Nav-Cam",
}


def fei_text(path: Path) -> str | None:
    """The FEI INI block: from tag 34682, else from the file's tail (damaged tag tables)."""
    return fei_text_and_origin(path)[0]


def fei_text_and_origin(path: Path) -> tuple[str | None, str]:
    """The FEI INI block and the prefix of its values' sources (the tag, or the tail)."""
    text = raw_text_tag(path, FEI_TAG)
    if text is not None:
        return text, tag_key(FEI_TAG) + " "
    with open(path, "rb") as stream:
        stream.seek(0, 2)
        stream.seek(max(0, stream.tell() - _FEI_TAIL))
        tail = stream.read()
    start = tail.find(_FEI_MARKER)
    if start < 0:
        return None, ""
    return tail[start:].split(b"\x00", 1)[0].decode("latin-1"), TAIL_ORIGIN


class _Sections:
    """Parsed INI sections, with ``beam/`` and ``scan/`` resolved to the sections in use.

    ``[Beam] Beam`` names the beam section (``EBeam``, ``IBeam``), ``[Beam] Scan`` the
    scan section; a key there wins over the generic ``[Beam]``/``[Scan]`` one.
    """

    def __init__(self, sections: Mapping[str, Mapping[str, str]], origin: str) -> None:
        self.sec = {name: dict(values) for name, values in sections.items()}
        self.origin = origin
        generic = self.sec.get("Beam", {})
        self.beam_name = generic.get("Beam") or next(
            (b for b in ("EBeam", "IBeam") if b in self.sec), "")
        self.scan_name = generic.get("Scan", "") or (
            "IScan" if self.beam_name == "IBeam" else "EScan")
        # key -> section holding it, the specific section winning over the generic one
        self._alias = {
            alias: {key: name for name in (generic_name, specific) if name
                    for key in self.sec.get(name, {})}
            for alias, generic_name, specific in (("beam", "Beam", self.beam_name),
                                                  ("scan", "Scan", self.scan_name))}

    def locate(self, source: str) -> tuple[str, str]:
        """(section, key) holding ``source`` (``"beam/HV"``, ``"Stage/StageX"``...)."""
        section, _, key = source.partition("/")
        names = self._alias.get(section)
        return (names.get(key, section) if names is not None else section), key

    def value(self, source: str) -> str | None:
        section, key = self.locate(source)
        return self.sec.get(section, {}).get(key)

    def where(self, source: str) -> str:
        """The file key of ``source``: ``tiff:34682 [EBeam] HV``."""
        section, key = self.locate(source)
        return f"{self.origin}[{section}] {key}"


def _stage(meta: dict[str, Any], fei: _Sections, warnings: list[str]) -> None:
    """Stage coordinates, each value's source naming the section (frame) it is in."""
    used: dict[str, list[str]] = {}
    differ: list[str] = []
    for stage_key, beam_key, output, scale in STAGE:
        own, seen = num(fei.value("Stage/" + stage_key)), num(fei.value("beam/" + beam_key))
        if own is not None:
            source = "Stage/" + stage_key
            if seen is not None and not math.isclose(own, seen, rel_tol=1e-6, abs_tol=1e-12):
                differ.append(output)
        elif seen is not None:
            source = "beam/" + beam_key
        else:
            continue
        put(meta, output, own if own is not None else seen, scale, source=fei.where(source))
        used.setdefault(fei.locate(source)[0], []).append(
            output.removeprefix("Stage Position ").split(" (")[0])
    if used:
        # Per value when the sections differ ("X, Y from [Stage]; Tilt from [EBeam]").
        text = "; ".join(f"{', '.join(names)} from [{name}]" for name, names in used.items())
        put(meta, "Stage Position Source", f"[{next(iter(used))}]" if len(used) == 1 else text,
            source=" + ".join(f"{fei.origin}[{name}]" for name in used))
    if differ:
        warnings.append(f"the [{fei.beam_name}] section gives other stage coordinates than "
                        f"[Stage] for {', '.join(differ)}; [Stage] is reported")


def fei_meta(sections: Mapping[str, Mapping[str, str]],
             warnings: list[str] | None = None, origin: str = "") -> Meta:
    """The FEI settings under human names, converted from the file's SI units.

    ``origin`` prefixes each value's source (``"tiff:34682 "``), see
    :func:`fei_text_and_origin`.
    """
    warnings = [] if warnings is None else warnings
    meta = Meta()
    fei = _Sections(sections, origin or tag_key(FEI_TAG) + " ")
    sec = fei.sec
    named = "Beam" in sec.get("Beam", {})
    put(meta, "Beam", fei.beam_name or None,
        source=fei.where("Beam/Beam") if named else f"{fei.origin}[{fei.beam_name}]")
    read_fields(meta, fei.value, FIELDS, fei.where)
    width = num(fei.value("beam/HFW"))
    canvas = num(fei.value("Image/MagCanvasRealWidth"))
    if width and canvas:
        put(meta, "Magnification (x)", canvas / width,
            source=f"{fei.where('Image/MagCanvasRealWidth')} + {fei.where('beam/HFW')}")
    _stage(meta, fei, warnings)

    detectors = sec.get("Detectors", {})
    detector = detectors.get("Name")
    put(meta, "Detector Name", detector, source=fei.where("Detectors/Name"))
    if not detector:  # the section named after the detector, which holds its Signal
        detector = next((name for name, values in sec.items()
                         if name not in KNOWN_SECTIONS and "Signal" in values), None)
        put(meta, "Detector Name", detector, source=f"{fei.origin}[{detector}]")
    settings = sec.get(detector or "", {})
    for key, output in (("Signal", "Detector Signal"), ("Contrast", "Detector Contrast (%)"),
                        ("Brightness", "Detector Brightness (%)"),
                        ("ContrastDB", "Detector Contrast (dB)"),
                        ("BrightnessDB", "Detector Brightness (dB)"),
                        ("Mix", "Detector Mix (%)"), ("Grid", "Detector Grid Voltage (V)"),
                        ("Setting", "Detector Setting"),
                        ("MinimumDwellTime", "Detector Minimum Dwell Time (us)")):
        value = settings.get(key)
        scale = 1e6 if key == "MinimumDwellTime" else 1.0
        put(meta, output, value if key in ("Signal", "Setting") else num(value), scale,
            source=f"{fei.origin}[{detector}] {key}")
    decel = sec.get("EBeamDeceleration", {})
    if decel.get("ModeOn", "").lower() == "on":
        put(meta, "Landing Energy (kV)", num(decel.get("LandingEnergy")), 1e-3,
            source=fei.where("EBeamDeceleration/LandingEnergy"))
        put(meta, "Stage Bias (V)", num(decel.get("StageBias")),
            source=fei.where("EBeamDeceleration/StageBias"))
    drop_unset(meta, UNSET)
    return meta


def fei_kind(meta: Meta) -> Evidence:
    """SEM, FIB or NavCam from the beam the file names (``[Beam] Beam``) and detector.

    A Nav-Cam is an optical camera: the detector, not the beam, says what it saw.
    """
    detector = str(meta.get("Detector Name", ""))
    nav = "nav" in detector.lower()
    return settle([
        Evidence("NavCam", BEAM + 1, meta.sources.get("Detector Name", "")) if nav else None,
        beam_family(meta.get("Beam"), BEAM, meta.sources.get("Beam", "")),
    ], Evidence("SEM", DEFAULT, "format:fei_tiff"))


def _image_area(meta: Meta, image: Mapping[str, str], origin: str) -> None:
    """Data Dimensions of the acquired image, without the data bar below it.

    The TIFF holds the image and the data bar; ``[Image] ResolutionX/Y`` is what was
    scanned. The rows between are the data bar, whatever ``DatabarHeight`` says
    (some files write 0 with a bar present).
    """
    rows, cols = num(image.get("ResolutionY")), num(image.get("ResolutionX"))
    height = meta.get("Image Height (pixels)")
    if not (rows and cols and isinstance(height, int)) or not 0 < rows < height:
        return
    meta.set("Data Dimensions", str((int(rows), int(cols))),
             f"{origin}[Image] ResolutionY + {origin}[Image] ResolutionX")
    bar = height - int(rows)
    if meta.get("Data Bar Height (pixels)") != bar:
        meta.set("Data Bar Height (pixels)", bar,
                 f"{tag_key(257)} - {origin}[Image] ResolutionY")


class FeiTiffExtractor:
    """FEI / Thermo Fisher SEM and FIB TIFFs (Helios, Quanta, Scios, Nova...)."""

    name = "fei_tiff"
    format_name = "FEI/Thermo Fisher SEM/FIB TIFF"
    extensions = TIFF_EXTENSIONS
    priority = 100

    def sniff(self, path: Path) -> bool:
        """Tag 34682 holding INI text, or an ``[User]`` section in the file's tail."""
        text = fei_text(path)
        return text is not None and not text.lstrip().startswith("<")

    def extract(self, path: Path, context: ExtractionContext) -> list[ExtractedDataset]:
        """One SEM/FIB image dataset with the instrument settings."""
        warnings: list[str] = []
        unreliable: set[str] = set()
        text, origin = fei_text_and_origin(path)
        sections = parse_ini(text or "")
        meta = Meta()
        tiff_basics(path, meta, warnings)
        settings = fei_meta(sections, warnings, origin)
        meta.update(settings)
        meta.sources.update(settings.sources)
        _image_area(meta, sections.get("Image", {}), origin)
        missing = [s for s in ("Beam", "Scan", "System") if s not in sections]
        if missing:
            warnings.append(f"FEI metadata lacks the {', '.join(missing)} section(s)")
        user = sections.get("User", {})
        date, time = user.get("Date"), user.get("Time")
        key = f"{origin}[User] Date + {origin}[User] Time"
        if not (date and time):
            stamp = sections.get("PrivateFei", {}).get("TimeOfCreation", "").split(" ", 1)
            date, time = (stamp + [None])[:2] if len(stamp) == 2 else (None, None)
            key = f"{origin}[PrivateFei] TimeOfCreation"
        creation(meta, unreliable, warnings, path, context, date, time, key)
        kind = fei_kind(meta)
        return one_image(path, meta, unreliable, warnings, extractor=self.name,
                         data_type=f"{kind.family}_Imaging", kind_source=kind.source,
                         preview=image_preview(
                             path, scale=pixel_scale(meta),
                             data_bar_rows=int(meta.get("Data Bar Height (pixels)") or 0)))
