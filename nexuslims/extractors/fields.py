"""The machine-readable form of a dataset's metadata: value, unit, file key, EM Glossary term.

``nx_meta`` keeps NexusLIMS' human keys (``"Voltage (kV)": 200.0``) because the v1.0
record schema has no unit attribute. Beside it, every value an extractor reads records
*where in the file* it came from (:class:`Meta` carries the sources), and
:func:`field_records` turns both into what the JSON sidecar and ``extract --json``
publish::

    {"key": "Voltage (kV)", "name": "Voltage", "value": 200.0, "unit": "kV",
     "source": "ImageTags.Microscope Info.Voltage", "emg": "https://…/EMG_00000004"}

Units are strings pint parses (``"um"``, ``"deg"``, ``"1/s"``); ``None`` means a pure
number or text. Sources are file keys with a prefix naming where they live (see
:data:`SOURCE_KINDS`). The EM Glossary table holds only terms whose identifiers are
published (the five NexusLIMS 2.x maps); others get none rather than a guessed IRI.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

EMG_BASE = "https://purls.helmholtz-metadaten.de/emg/"

# nx_meta name (unit stripped) -> EM Glossary id, as NexusLIMS 2.x maps them.
EMG_TERMS = {
    "Voltage": "EMG_00000004",  # Acceleration Voltage
    "Working Distance": "EMG_00000050",
    "Beam Current": "EMG_00000006",
    "Dwell Time": "EMG_00000015",
    "Pixel Dwell Time": "EMG_00000015",
    "Camera Length": "EMG_00000008",
    "STEM Camera Length": "EMG_00000008",
}

# The units NexusLIMS keys use that pint spells differently; "x" is a ratio.
_PINT_UNITS = {
    "x": None, "eV/ch": "eV", "eV/Channel": "eV", "cps": "1/s", "%": "percent",
    "C": "degC", "px": "pixel", "bytes": "byte", "µm": "um", "uA": "uA", "us": "us",
    # EMSA/MAS (ISO 22029) unit spellings
    "sR": "sr", "dg": "deg", "mR": "mrad",
}

PROVENANCE_KEYS = frozenset({"Extractor", "nexuslims version", "Creation Time Source",
                             "Extraction Profile"})
"""Bookkeeping about how a dataset was read, not the science (kept out of setup tables)."""

DERIVED_KEYS = frozenset({"DatasetType", "Data Type"})
"""Conclusions drawn from the file's evidence (their ``source`` names the evidence)."""

SOURCE_KINDS = ("om:", "emi:", "velox:", "msa:", "tags:", "exif:", "data:", "axis:",
                "filesystem:", "text:", "image:", "tiff:", "file-tail:", "hdr:", "de-info:",
                "hdf5:", "format:")
"""Prefixes of source strings: RosettaSciIO ``original_metadata`` path, a TIA ``.emi``
label, a Velox JSON path, an EMSA keyword, DM ``ImageTags`` path, EXIF tag, the data
array (shape), a signal axis calibration, the file system, a text scan, the image header,
a TIFF tag and the key inside it (``tiff:306 DateTime``, ``tiff:34682 [EBeam] HV``,
``tiff:270 TemReporter/ElectronGun/AccelerationVoltage``, ``tiff:65027 Microscope
Info.Voltage``), an FEI INI block found in the file's tail, a Tescan ``.hdr`` sidecar,
a DE-Server ``*_info.txt`` key, an HDF5 attribute or dataset (``hdf5:<path>@<attr>``),
a format's default (``format:<extractor>``, for a conclusion no key in the file made).
A value computed from several keys joins their sources with `` + ``.
"""

_UNIT_IN_KEY = re.compile(r"^(?P<name>.*?)\s*\((?P<unit>[^()]+)\)$")


class Meta(dict):
    """nx_meta being built: a dict that also remembers each value's file key."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sources: dict[str, str] = {}

    def set(self, key: str, value: Any, source: str) -> None:
        """``self[key] = value`` read from ``source``."""
        self[key] = value
        self.sources[key] = source

    def pop(self, key: str, *default: Any) -> Any:  # type: ignore[override]
        """Remove a value and its source."""
        self.sources.pop(key, None)
        return super().pop(key, *default)


def sources_of(meta: Mapping[str, Any]) -> dict[str, str]:
    """The sources a :class:`Meta` recorded (empty for a plain dict)."""
    return dict(getattr(meta, "sources", {}) or {})


@dataclass(frozen=True)
class Field:
    """One metadata value in machine-readable form."""

    key: str
    name: str
    value: Any
    unit: str | None
    source: str | None
    emg: str | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        return {"key": self.key, "name": self.name, "value": self.value, "unit": self.unit,
                "source": self.source, "emg": self.emg}


def split_unit(key: str) -> tuple[str, str | None]:
    """``"Voltage (kV)"`` -> ``("Voltage", "kV")``; the unit spelled as pint reads it."""
    match = _UNIT_IN_KEY.match(key)
    if not match:
        return key, None
    name, unit = match.group("name"), match.group("unit").strip()
    if unit in _PINT_UNITS:
        return name, _PINT_UNITS[unit]
    return name, unit.replace("µ", "u").replace("μ", "u")


def field_records(nx_meta: Mapping[str, Any], sources: Mapping[str, str]) -> list[dict[str, Any]]:
    """Every nx_meta value as a :class:`Field` mapping, in nx_meta's order."""
    out = []
    for key, value in nx_meta.items():
        name, unit = split_unit(str(key))
        term = EMG_TERMS.get(name)
        out.append(Field(str(key), name, value, unit, sources.get(key),
                         EMG_BASE + term if term else None).as_dict())
    return out

