"""Phenom ``.elid`` and Berkeley/NCEM ``.emd``: more formats RosettaSciIO reads.

- Phenom (Thermo Fisher desktop SEMs) ``.elid``: a ZIP of images, spectra and maps with
  an XML settings block per item; values come as ``{"value": ..., "unit": ...}`` and
  are converted from the unit each one states. The images are LZW-compressed TIFFs,
  which RosettaSciIO decodes with ``imagecodecs``.
- Berkeley EMD (NCEM, py4DSTEM, Prismatic): HDF5 with ``emd_group_type`` data groups and
  ``microscope``/``user``/``sample``/``comments`` attribute groups (or Prismatic's
  ``simulation_parameters``). Velox writes ``.emd`` too; that one has its own extractor.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._common import dig, put
from ._time import AcquisitionTime, from_epoch, from_iso
from .base import ExtractionContext
from .hyperspy_formats import _HyperSpyExtractor
from .kinds import INSTRUMENT, Evidence
from .values import Unset, put_quantity, split_number

# (original_metadata path, nx_meta key) of a Phenom item; the unit is the one the node
# states ({"value", "unit"}), else the one in brackets is the file's own (SI metres).
PHENOM_FIELDS: tuple[tuple[str, str, str | None], ...] = (
    ("acquisition.scan.highVoltage", "Voltage (kV)", None),
    ("acquisition.scan.dwellTime", "Dwell Time (us)", None),
    ("acquisition.scan.spotSize", "Spot Size", None),
    ("acquisition.scan.emissionCurrent", "Emission Current (uA)", None),
    ("acquisition.scan.filamentPower", "Filament Power (W)", None),
    ("acquisition.scan.sourceTime", "Source Time (hour)", None),
    ("acquisition.scan.detector", "Detector Name", None),
    ("acquisition.scan.spotPresetName", "Spot Preset", None),
    ("acquisition.scan.interlace", "Scan Interlacing", None),
    ("acquisition.scan.fieldSize", "Horizontal Field Width (um)", "m"),
    ("acquisition.scan.beamShift.x", "Beam Shift X", None),
    ("acquisition.scan.beamShift.y", "Beam Shift Y", None),
    ("acquisition.scan.sourceTilt.x", "Source Tilt X", None),
    ("acquisition.scan.sourceTilt.y", "Source Tilt Y", None),
    ("acquisition.scan.stigmator.x", "Stigmator X", None),
    ("acquisition.scan.stigmator.y", "Stigmator Y", None),
    ("pixelWidth", "Pixel Width (nm)", None),
    ("pixelHeight", "Pixel Height (nm)", None),
    ("workingDistance", "Working Distance (mm)", None),
    ("integrations", "Frames Integrated", None),
    ("appliedContrast", "Display Contrast", None),
    ("appliedBrightness", "Display Brightness", None),
    ("instrument.type", "Microscope", None),
    ("instrument.edition", "Instrument Edition", None),
    ("instrument.uniqueID", "Instrument Serial", None),
    ("instrument.softwareVersion", "Software Version", None),
    ("instrument.sampleHolder.type", "Sample Holder", None),
    ("currentUser", "Operator", None),
)
# Phenom writes the gun's negative potential: the acceleration voltage is its size.
_SIGNED = {"Voltage (kV)"}


def _phenom_value(meta: dict[str, Any], key: str, node: Any, unit: str | None,
                  source: str) -> None:
    if isinstance(node, Mapping):
        node, unit = node.get("value"), node.get("unit") or unit
    if node is None:
        return
    try:
        number = float(node)
    except (TypeError, ValueError):
        put(meta, key, str(node), source=source)
        return
    if key in _SIGNED:
        number = abs(number)
    if "(" in key:
        put_quantity(meta, key, number, unit, source)
    else:
        put(meta, key, int(number) if number.is_integer() else number, source=source)


class PhenomExtractor(_HyperSpyExtractor):
    """Phenom desktop SEM ``.elid`` projects: images, EDS spectra, maps and lines."""

    name = "phenom"
    format_name = "Phenom ELID"
    extensions = frozenset({"elid"})
    reader = "Phenom"
    family = "SEM"
    lazy = False  # RosettaSciIO's Phenom reader cannot load lazily
    stage_unit = "mm"
    unset = (Unset("Spot Size", when=lambda v, m: float(v) < 0, why="below 0: not set"),)

    def sniff(self, path: Path) -> bool:
        """A bzip2 stream (``BZh``), as Phenom writes its projects, or a ZIP (``PK``)."""
        with open(path, "rb") as handle:
            head = handle.read(3)
        return head == b"BZh" or head[:2] == b"PK"

    def as_read(self, signal: Any) -> Any:
        """RosettaSciIO gives Phenom images with navigation axes only: they are images."""
        axes = signal.axes_manager
        if axes.signal_dimension == 0 and axes.navigation_dimension == 2:
            return signal.T
        return signal

    def extras(self, signal: Any, meta: dict[str, Any]) -> None:
        om = signal.original_metadata.as_dictionary()
        if meta.sources.get("Microscope") == "om:instrument.uniqueID":  # type: ignore[attr-defined]
            meta.pop("Microscope")  # the reader maps the serial number there
        for path, key, unit in PHENOM_FIELDS:
            if key not in meta:
                _phenom_value(meta, key, dig(om, *path.split(".")), unit, f"om:{path}")


# Berkeley EMD attribute groups. NCEM's converters write the microscope's settings
# as "Label [unit]" attributes (the TIA labels); a few are renamed to the keys every
# format uses, the rest keep their label and unit.
EMD_FIELDS = (
    ("microscope.name", "Microscope"), ("microscope.voltage", "Voltage (kV)"),
    ("microscope.Microscope []", "Microscope"),
    ("microscope.High tension [kV]", "Voltage (kV)"),
    ("microscope.AcceleratingVoltage", "Voltage (kV)"),  # V, no unit in the name
    ("microscope.Magnification [x]", "Indicated Magnification (x)"),
    ("microscope.Stage X [um]", "Stage Position X (um)"),
    ("microscope.Stage Y [um]", "Stage Position Y (um)"),
    ("microscope.Stage Z [um]", "Stage Position Z (um)"),
    ("microscope.Stage A [deg]", "Stage Position Alpha (deg)"),
    ("microscope.Stage B [deg]", "Stage Position Beta (deg)"),
    ("microscope.Emission [uA]", "Emission Current (uA)"),
    ("microscope.Spot size []", "Spot Size"), ("microscope.Mode []", "Mode"),
    ("microscope.Gun type []", "Gun Type"), ("microscope.CameraNamePath", "Camera"),
    ("microscope.User []", "Operator"),
    ("user.name", "Operator"), ("user.institution", "Institution"),
    ("user.department", "Department"), ("sample.material", "Sample Material"),
    ("sample.preparation", "Sample Preparation"), ("comments.comment", "Comment"),
)
_EMD_UNITS = {"microscope.AcceleratingVoltage": "V"}
# Copies of other keys (the magnification as text, the TIA date: a wall clock whose
# instant the data's timestamp gives) and bookkeeping, not settings.
_EMD_SKIP = {"Magnification", "AcquireDate", "Uuid"}
_LABEL_UNIT = re.compile(r"^(?P<label>.*?)\s*\[(?P<unit>[^\]]*)\]$")

# Prismatic simulation parameters (units from the Prismatic documentation: kV, mrad, Å).
PRISMATIC_FIELDS = (
    ("E0", "Voltage (kV)", "kV"), ("probeSemiangle", "Convergence Semi-angle (mrad)", "mrad"),
    ("probeDefocus", "Defocus (nm)", "angstrom"), ("sliceThickness", "Slice Thickness (nm)",
                                                    "angstrom"),
    ("numFP", "Frozen Phonon Configurations", ""), ("C3", "C3 (nm)", "angstrom"),
)
_TIME_NAMES = ("acquisition times", "acquisition_time", "acquisition time", "time_start",
               "timestamp", "date")


class NcemEmdExtractor(_HyperSpyExtractor):
    """Berkeley EMD (NCEM, py4DSTEM, Prismatic) ``.emd`` files; not Velox's."""

    name = "ncem_emd"
    format_name = "Berkeley EMD (NCEM)"
    extensions = frozenset({"emd"})
    reader = "EMD"
    priority = 45

    def sniff(self, path: Path) -> bool:
        """HDF5 with an ``emd_group_type`` data group and no Velox ``/Data`` layout."""
        with open(path, "rb") as handle:
            if handle.read(8) != b"\x89HDF\r\n\x1a\n":
                return False
        import h5py

        with h5py.File(path, "r") as h5:
            if "Data" in h5 and "Version" in h5:
                return False  # Velox
            found: list[str] = []
            h5.visititems(lambda name, obj: found.append(name)
                          if "emd_group_type" in obj.attrs else None)
            return bool(found)

    def family_of(self, meta: dict[str, Any]) -> Evidence | None:
        """TEM when the microscope's mode says TEM or STEM (NCEM's TIA-derived files)."""
        if "TEM" not in str(meta.get("Mode", "")).upper():
            return None
        return Evidence("TEM", INSTRUMENT, getattr(meta, "sources", {}).get("Mode", "Mode"))

    def extras(self, signal: Any, meta: dict[str, Any]) -> None:
        om = signal.original_metadata.as_dictionary()
        used = set()
        for path, key in EMD_FIELDS:
            value = dig(om, *path.split("."))
            used.add(path)
            if value in (None, "") or key in meta:
                continue
            if isinstance(value, str) and key == "Microscope":
                value = re.sub(r"^Microscope\s+", "", value)
            stated = split_number(value) if "(" in key else None
            source = f"om:{path}"
            if stated is not None:
                put_quantity(meta, key, stated[0], stated[1] or _EMD_UNITS.get(path), source)
            else:
                put(meta, key, value.strip() if isinstance(value, str) else value,
                    source=source)
        microscope = om.get("microscope")
        if isinstance(microscope, Mapping):
            for name, value in microscope.items():
                if f"microscope.{name}" in used or name in _EMD_SKIP or value in (None, ""):
                    continue
                match = _LABEL_UNIT.match(str(name))
                label, unit = (match["label"], match["unit"]) if match else (str(name), "")
                key = f"{label} ({unit})" if unit else label
                if key not in meta:
                    put(meta, key, value.strip() if isinstance(value, str) else value,
                        source=f"om:microscope.{name}")
        sim = om.get("simulation_parameters")
        if isinstance(sim, Mapping):
            put(meta, "Simulation", "Prismatic", source="om:simulation_parameters")
            for tag, key, unit in PRISMATIC_FIELDS:
                if tag in sim and key not in meta:
                    put_quantity(meta, key, sim[tag], unit or None,
                                 f"om:simulation_parameters.{tag}")

    def file_time(self, path: Path, context: ExtractionContext) -> AcquisitionTime | None:
        """An acquisition time attribute or dataset the file holds (NCEM's converter
        keeps the TIA ``acquisition times``), epoch seconds or ISO 8601."""
        import h5py

        found: list[AcquisitionTime] = []

        def visit(name: str, obj: Any) -> None:
            for attr, value in obj.attrs.items():
                if str(attr).lower() in _TIME_NAMES and not found:
                    when = _time_value(value, f"hdf5:{name}@{attr}", context)
                    if when:
                        found.append(when)
            leaf = name.rsplit("/", 1)[-1].lower()
            if leaf in _TIME_NAMES and isinstance(obj, h5py.Dataset) and not found:
                try:
                    value = obj[()] if obj.size <= 1 else obj[0]
                except (OSError, ValueError, TypeError):
                    return
                when = _time_value(value, f"hdf5:{name}", context)
                if when:
                    found.append(when)

        with h5py.File(path, "r") as h5:
            h5.visititems(visit)
        return found[0] if found else None


def _time_value(value: Any, key: str, context: ExtractionContext) -> AcquisitionTime | None:
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, int | float):
        return from_epoch(value, key)
    return from_iso(value, key, context.timezone) if value else None
