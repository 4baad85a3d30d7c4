"""TIFF extractors: FEI/Thermo Fisher SEM/FIB, Zeiss SEM, Olympus SIS, and any other TIFF.

Instrument TIFFs keep their settings in a private tag: FEI/Thermo an INI-style text
(tag 34682, ``[User]``, ``[Beam]``, ``[EBeam]``...; values in SI units), Zeiss a list of
``AP_``/``SV_``/``DP_`` parameters (tag 34118), Olympus SIS a binary block (tag 33560).
Tags are read with tifffile, which decodes no pixel data; the FEI text is also found in
the file's tail when a damaged tag table hides it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._common import finish, mtime_iso, put, wallclock_iso
from .base import ExtractedDataset, ExtractionContext

TIFF_EXTENSIONS = frozenset({"tif", "tiff"})
FEI_TAG, ZEISS_TAG, SIS_TAG = 34682, 34118, 33560
_FEI_TAIL = 256 * 1024
_FEI_MARKER = b"[User]"


def _image_preview(path: Path, page: int = 0):
    def render(out: Path) -> None:
        from nexuslims.previews import render_image_file

        render_image_file(path, out, page=page)

    return render


def _tags(path: Path, page: int = 0) -> dict[int, Any]:
    """Tag code -> value of one page (pixel data untouched); empty if unreadable."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            first: Any = tif.pages[page]  # a TiffPage: frames are never requested
            return {tag.code: tag.value for tag in first.tags.values()}
    except Exception:  # noqa: BLE001 - a damaged tag table is not an error for a sniff
        return {}


def _tiff_basics(path: Path, meta: dict[str, Any], warnings: list[str], page: int = 0) -> None:
    """Dimensions, bit depth, page count and standard tags, into ``meta``."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            pages = len(tif.pages)
            first: Any = tif.pages[page]
            shape, dtype = tuple(int(n) for n in first.shape), first.dtype
            samples = int(first.samplesperpixel)
            bits = first.bitspersample
            compression = getattr(first.compression, "name", None)
            software = first.software
    except Exception as exc:  # noqa: BLE001
        warnings.append(f"TIFF structure unreadable: {exc}")
        return
    meta["Data Dimensions"] = str(shape)
    put(meta, "Image Width (pixels)", shape[1] if len(shape) >= 2 else None)
    put(meta, "Image Height (pixels)", shape[0] if len(shape) >= 2 else None)
    put(meta, "Bit Depth", int(bits))
    put(meta, "Samples per Pixel", samples)
    put(meta, "Pixel Data Type", str(dtype) if dtype is not None else None)
    put(meta, "Compression", compression if compression not in (None, "NONE") else None)
    put(meta, "Software", software or None)
    if pages > 1:
        meta["Number of Pages"] = pages


def _creation(meta: dict[str, Any], unreliable: set[str], path: Path, ctx: ExtractionContext,
              date: Any = None, time: Any = None) -> None:
    iso = wallclock_iso(date, time, ctx.timezone) if date and time else None
    if iso is None:
        iso = mtime_iso(path, ctx.timezone)
        unreliable.add("Creation Time")
    meta["Creation Time"] = iso


def _tiff_datetime(text: Any) -> tuple[str | None, str | None]:
    """TIFF/EXIF ``YYYY:MM:DD HH:MM:SS`` as (ISO date, time) strings."""
    match = re.match(r"\s*(\d{4})[:\-](\d{2})[:\-](\d{2})[ T](\d{2}:\d{2}:\d{2})", str(text or ""))
    if not match:
        return None, None
    return f"{match[1]}-{match[2]}-{match[3]}", match[4]


# -- FEI / Thermo Fisher ---------------------------------------------------------------


def _raw_text_tag(path: Path, code: int) -> str | None:
    """A text tag of the first page as written (tifffile would parse FEI/Zeiss tags itself)."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            tag = tif.pages.first.tags.get(code)
            if tag is None:
                return None
            tif.filehandle.seek(tag.valueoffset)
            raw = tif.filehandle.read(tag.count)
    except Exception:  # noqa: BLE001 - a damaged tag table reads as no tag
        return None
    return raw.split(b"\x00", 1)[0].decode("latin-1")  # instruments write Latin-1 (µ, °)


def fei_text(path: Path) -> str | None:
    """The FEI INI block: from tag 34682, else from the file's tail (damaged tag tables)."""
    text = _raw_text_tag(path, FEI_TAG)
    if text is not None:
        return text
    with open(path, "rb") as stream:
        stream.seek(0, 2)
        stream.seek(max(0, stream.tell() - _FEI_TAIL))
        tail = stream.read()
    start = tail.find(_FEI_MARKER)
    return tail[start:].split(b"\x00", 1)[0].decode("latin-1") if start >= 0 else None


def parse_ini(text: str) -> dict[str, dict[str, str]]:
    """``[Section]`` / ``key=value`` text (any line ending) as nested dicts of strings."""
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in re.split(r"\r\n|\r|\n", text):
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
        elif current is not None and "=" in line:
            key, _, value = line.partition("=")
            current[key.strip()] = value.strip()
    return sections


def _num(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


_KNOWN_SECTIONS = {
    "User", "System", "Beam", "EBeam", "IBeam", "IRBeam", "GIS", "Scan", "EScan", "IScan",
    "Stage", "Image", "Vacuum", "Specimen", "Detectors", "Accessories", "EBeamDeceleration",
    "PrivateFei", "HiResIllumination", "ColdStage", "Nav-Cam",
}


def fei_meta(sections: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
    """The FEI settings under human names, converted from the file's SI units."""
    meta: dict[str, Any] = {}
    sec = {name: dict(values) for name, values in sections.items()}
    user, system = sec.get("User", {}), sec.get("System", {})
    beam_name = sec.get("Beam", {}).get("Beam") or next(
        (b for b in ("EBeam", "IBeam") if b in sec), "")
    beam = {**sec.get("Beam", {}), **sec.get(beam_name, {})}
    scan = {**sec.get("Scan", {}), **sec.get(sec.get("Beam", {}).get("Scan", "") or
                                             ("IScan" if beam_name == "IBeam" else "EScan"), {})}
    stage, vacuum, image = sec.get("Stage", {}), sec.get("Vacuum", {}), sec.get("Image", {})

    def si(key: str, source: Mapping[str, str], field: str, scale: float = 1.0) -> None:
        number = _num(source.get(field))
        if number is not None:
            put(meta, key, number, scale)

    def count(key: str, source: Mapping[str, str], field: str) -> None:
        number = _num(source.get(field))
        if number is not None:
            meta[key] = int(number) if number.is_integer() else number

    put(meta, "Beam", beam_name or None)
    si("Voltage (kV)", beam, "HV", 1e-3)
    si("Beam Current (pA)", beam, "BeamCurrent", 1e12)
    si("Emission Current (uA)", beam, "EmissionCurrent", 1e6)
    si("Spot Size", beam, "Spot")
    si("Aperture Diameter (um)", beam, "ApertureDiameter", 1e6)
    put(meta, "Aperture", beam.get("Aperture") or system.get("Aperture"))
    put(meta, "Lens Mode", beam.get("LensMode"))
    put(meta, "Image Mode", beam.get("ImageMode"))
    si("Working Distance (mm)", beam, "WD", 1e3)
    if "Working Distance (mm)" not in meta:
        si("Working Distance (mm)", stage, "WorkingDistance", 1e3)
    si("Horizontal Field Width (um)", beam, "HFW", 1e6)
    si("Vertical Field Width (um)", beam, "VFW", 1e6)
    si("Scan Rotation (degrees)", beam, "ScanRotation", 180 / math.pi)
    si("Pixel Width (nm)", scan, "PixelWidth", 1e9)
    si("Pixel Height (nm)", scan, "PixelHeight", 1e9)
    dwell = scan.get("Dwelltime") or scan.get("Dwell")
    si("Dwell Time (us)", {"d": dwell or ""}, "d", 1e6)
    si("Frame Time (s)", scan, "FrameTime")
    si("Line Time (ms)", scan, "LineTime", 1e3)
    count("Frames Averaged", scan, "Average")
    count("Frames Integrated", scan, "Integrate")
    count("Line Integration", scan, "LineIntegration")
    count("Scan Interlacing", scan, "ScanInterlacing")
    width = _num(beam.get("HFW"))
    canvas = _num(image.get("MagCanvasRealWidth"))
    if width and canvas:
        put(meta, "Magnification (x)", canvas / width)
    for axis in "XYZ":
        value = _num(stage.get(f"Stage{axis}", beam.get(f"Stage{axis}")))
        if value is not None:
            put(meta, f"Stage Position {axis} (um)", value, 1e6)
    for name, field in (("R", "StageR"), ("Tilt", "StageT")):
        value = _num(stage.get(field, beam.get("StageTa" if field == "StageT" else field)))
        if value is not None:
            put(meta, f"Stage Position {name} (degrees)", value, 180 / math.pi)
    si("Chamber Pressure (Pa)", vacuum, "ChPressure")
    put(meta, "Vacuum Mode", vacuum.get("UserMode"))
    put(meta, "Vacuum Gas", vacuum.get("Gas"))
    si("Specimen Current (pA)", sec.get("Specimen", {}), "SpecimenCurrent", 1e12)
    si("Specimen Temperature (K)", sec.get("Specimen", {}), "Temperature")

    detectors = sec.get("Detectors", {})
    detector = detectors.get("Name") or next(
        (name for name, values in sec.items()
         if name not in _KNOWN_SECTIONS and "Signal" in values), None)
    put(meta, "Detector Name", detector)
    put(meta, "Detector Mode", detectors.get("Mode"))
    settings = sec.get(detector or "", {})
    put(meta, "Detector Signal", settings.get("Signal"))
    si("Detector Contrast (%)", settings, "Contrast")
    si("Detector Brightness (%)", settings, "Brightness")

    decel = sec.get("EBeamDeceleration", {})
    if decel.get("ModeOn", "").lower() == "on":
        si("Landing Energy (kV)", decel, "LandingEnergy", 1e-3)
        si("Stage Bias (V)", decel, "StageBias")
    put(meta, "Software Version", system.get("Software"))
    put(meta, "Instrument Type", system.get("SystemType"))
    put(meta, "Instrument Serial", system.get("Dnumber"))
    put(meta, "Column", system.get("Column") or beam.get("ColumnType"))
    put(meta, "Source", system.get("Source") or beam.get("Source"))
    put(meta, "Chamber", system.get("Chamber"))
    put(meta, "Operator", user.get("User"))
    put(meta, "User Text", user.get("UserText"))
    count("Image Resolution X (pixels)", image, "ResolutionX")
    count("Image Resolution Y (pixels)", image, "ResolutionY")
    si("Digital Contrast", image, "DigitalContrast")
    si("Digital Brightness", image, "DigitalBrightness")
    si("Digital Gamma", image, "DigitalGamma")
    put(meta, "Drift Corrected", image.get("DriftCorrected"))
    count("Data Bar Height (pixels)", sec.get("PrivateFei", {}), "DatabarHeight")
    return meta


def _fei_data_type(meta: Mapping[str, Any]) -> str:
    if "nav" in str(meta.get("Detector Name", "")).lower():
        return "NavCam_Imaging"
    return "FIB_Imaging" if meta.get("Beam") == "IBeam" else "SEM_Imaging"


class FeiTiffExtractor:
    """FEI / Thermo Fisher SEM and FIB TIFFs (Helios, Quanta, Scios, Nova...)."""

    name = "fei_tiff"
    format_name = "FEI/Thermo Fisher SEM/FIB TIFF"
    extensions = TIFF_EXTENSIONS
    priority = 100

    def sniff(self, path: Path) -> bool:
        """Tag 34682 present, or an ``[User]`` section in the file's tail."""
        return fei_text(path) is not None

    def extract(self, path: Path, context: ExtractionContext) -> list[ExtractedDataset]:
        """One SEM/FIB image dataset with the instrument settings."""
        warnings: list[str] = []
        unreliable: set[str] = set()
        text = fei_text(path) or ""
        sections = parse_ini(text)
        meta: dict[str, Any] = {}
        _tiff_basics(path, meta, warnings)
        meta.update(fei_meta(sections))
        missing = [s for s in ("Beam", "Scan", "System") if s not in sections]
        if missing:
            warnings.append(f"FEI metadata lacks the {', '.join(missing)} section(s)")
        user = sections.get("User", {})
        date, time = user.get("Date"), user.get("Time")
        if not (date and time):
            stamp = sections.get("PrivateFei", {}).get("TimeOfCreation", "").split(" ", 1)
            date, time = (stamp + [None])[:2] if len(stamp) == 2 else (None, None)
        _creation(meta, unreliable, path, context, date, time)
        data_type = _fei_data_type(meta)
        return [ExtractedDataset(
            name=path.name, dataset_type="Image", extractor=self.name,
            nx_meta=finish(meta, dataset_type="Image", data_type=data_type, extractor=self.name),
            unreliable=unreliable, warnings=warnings, render_preview=_image_preview(path))]


# -- Zeiss -----------------------------------------------------------------------------

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
_SCALE_TO_SI = {
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
    if given not in _SCALE_TO_SI or unit.lower() not in _SCALE_TO_SI:
        return number
    return number * _SCALE_TO_SI[given] / _SCALE_TO_SI[unit.lower()]


class ZeissTiffExtractor:
    """Zeiss SEM TIFFs (SmartSEM; Sigma, Merlin, Gemini...), tag 34118."""

    name = "zeiss_tiff"
    format_name = "Zeiss SEM TIFF"
    extensions = TIFF_EXTENSIONS
    priority = 90

    def sniff(self, path: Path) -> bool:
        """Tag 34118 (CZ_SEM) present."""
        return ZEISS_TAG in _tags(path)

    def extract(self, path: Path, context: ExtractionContext) -> list[ExtractedDataset]:
        """One SEM image dataset with the SmartSEM parameters."""
        warnings: list[str] = []
        unreliable: set[str] = set()
        meta: dict[str, Any] = {}
        _tiff_basics(path, meta, warnings)
        params = parse_zeiss(_raw_text_tag(path, ZEISS_TAG) or "")
        if not params:
            warnings.append("Zeiss parameters (tag 34118) could not be read")
        for key, (nx_key, unit) in _ZEISS_FIELDS.items():
            if key in params and nx_key not in meta:
                put(meta, nx_key, _zeiss_value(params[key][1], unit))
        date = params.get("AP_DATE", ("", ""))[1]
        time = params.get("AP_TIME", ("", ""))[1]
        _creation(meta, unreliable, path, context, date, time)
        return [ExtractedDataset(
            name=path.name, dataset_type="Image", extractor=self.name,
            nx_meta=finish(meta, dataset_type="Image", data_type="SEM_Imaging",
                           extractor=self.name),
            unreliable=unreliable, warnings=warnings, render_preview=_image_preview(path))]


# -- Olympus SIS and plain TIFF ---------------------------------------------------------


def _sis_page(path: Path) -> tuple[int, Mapping[str, Any]] | None:
    """(page index, parsed SIS block) of the page carrying tag 33560, if any."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            pages: list[Any] = list(tif.pages)
            for index, page in enumerate(pages):
                tag = page.tags.get(SIS_TAG)
                if tag is not None:
                    return index, tag.value if isinstance(tag.value, Mapping) else {}
    except Exception:  # noqa: BLE001
        return None
    return None


class OlympusTiffExtractor:
    """Olympus Soft Imaging Solutions TIFFs (Quemesa, Veleta, Morada TEM cameras)."""

    name = "olympus_sis_tiff"
    format_name = "Olympus SIS TIFF"
    extensions = TIFF_EXTENSIONS
    priority = 80

    def sniff(self, path: Path) -> bool:
        """The SIS tag 33560 on some page."""
        return _sis_page(path) is not None

    def extract(self, path: Path, context: ExtractionContext) -> list[ExtractedDataset]:
        """One image dataset: the data page (the first page is a colour rendering)."""
        warnings: list[str] = []
        unreliable: set[str] = set()
        found = _sis_page(path)
        page, sis = found if found else (0, {})
        meta: dict[str, Any] = {}
        _tiff_basics(path, meta, warnings, page=page)
        tags = _tags(path, page)
        put(meta, "Pixel Width (nm)", _num(sis.get("pixelsizex")), 1e9)
        put(meta, "Pixel Height (nm)", _num(sis.get("pixelsizey")), 1e9)
        put(meta, "Magnification (x)", _num(sis.get("magnification")))
        put(meta, "Camera", sis.get("cameraname") or tags.get(272))
        put(meta, "Camera Maker", tags.get(271))
        put(meta, "Picture Type", sis.get("picturetype"))
        put(meta, "Image Name", sis.get("name"))
        put(meta, "Operator", tags.get(315))
        exif = tags.get(34665)
        exif = exif if isinstance(exif, Mapping) else {}
        exposure = exif.get("ExposureTime")
        if isinstance(exposure, tuple) and len(exposure) == 2 and exposure[1]:
            put(meta, "Exposure Time (s)", exposure[0] / exposure[1])
        date, time = _tiff_datetime(tags.get(306))
        _creation(meta, unreliable, path, context, date, time)
        return [ExtractedDataset(
            name=path.name, dataset_type="Image", extractor=self.name,
            nx_meta=finish(meta, dataset_type="Image", data_type="TEM_Imaging",
                           extractor=self.name),
            unreliable=unreliable, warnings=warnings,
            render_preview=_image_preview(path, page))]


def _imagej(description: Any) -> dict[str, str]:
    if not isinstance(description, str) or not description.startswith("ImageJ="):
        return {}
    return dict(line.split("=", 1) for line in description.splitlines() if "=" in line)


class TiffExtractor:
    """Any other TIFF (ImageJ, cameras, exports): size, depth, resolution, software, date."""

    name = "tiff"
    format_name = "TIFF image"
    extensions = TIFF_EXTENSIONS
    priority = 10

    def sniff(self, path: Path) -> bool:
        """A TIFF header (``II*\\0``, ``MM\\0*`` or BigTIFF)."""
        with open(path, "rb") as stream:
            head = stream.read(4)
        return head in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")

    def extract(self, path: Path, context: ExtractionContext) -> list[ExtractedDataset]:
        """One Image dataset."""
        warnings: list[str] = []
        unreliable: set[str] = set()
        meta: dict[str, Any] = {}
        _tiff_basics(path, meta, warnings)
        tags = _tags(path)
        ij = _imagej(tags.get(270))
        if ij:
            put(meta, "ImageJ Version", ij.get("ImageJ"))
            put(meta, "Number of Images", _num(ij.get("images")))
            put(meta, "Display Minimum", _num(ij.get("min")))
            put(meta, "Display Maximum", _num(ij.get("max")))
        elif isinstance(tags.get(270), str):
            put(meta, "Description", tags[270][:500])
        xres = tags.get(282)
        if isinstance(xres, tuple) and len(xres) == 2 and xres[0] and xres[1]:
            per_unit = xres[0] / xres[1]
            unit_code = int(tags.get(296, 2) or 1)
            ij_unit = ij.get("unit", "").replace("micron", "um").replace("\\u00B5m", "um")
            if ij and ij_unit:
                scale = _SCALE_TO_SI.get(ij_unit.lower())
                if scale:
                    put(meta, "Pixel Width (nm)", 1.0 / per_unit * scale * 1e9)
                else:
                    put(meta, f"Pixel Width ({ij_unit})", 1.0 / per_unit)
            elif unit_code in (2, 3):  # inch, centimetre
                put(meta, "Resolution (pixels per inch)" if unit_code == 2
                    else "Resolution (pixels per cm)", per_unit)
        put(meta, "Camera Maker", tags.get(271))
        put(meta, "Camera", tags.get(272))
        put(meta, "Operator", tags.get(315))
        date, time = _tiff_datetime(tags.get(306))
        _creation(meta, unreliable, path, context, date, time)
        return [ExtractedDataset(
            name=path.name, dataset_type="Image", extractor=self.name,
            nx_meta=finish(meta, dataset_type="Image", data_type="Image", extractor=self.name),
            unreliable=unreliable, warnings=warnings, render_preview=_image_preview(path))]
