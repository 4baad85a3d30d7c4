"""What every extractor declares and returns.

An extractor reads one file and returns one :class:`ExtractedDataset` per signal the file
holds. It returns data and never raises: a file it cannot read yields what it could read
plus a warning that says why (the registry's fallback guarantees this even if an
extractor breaks its promise).

``nx_meta`` is a flat mapping of human-readable names to scalar values. Physical values
carry their unit in the key, ``"Voltage (kV)": 200.0``; nested groups are flattened
with spaces (``"Stage Position X (um)"``). Keys every dataset has:

- ``"DatasetType"``: Image, Spectrum, SpectrumImage, Diffraction, Misc or Unknown
- ``"Data Type"``: e.g. ``"TEM_Imaging"``, ``"STEM_EELS"``, ``"SEM_Imaging"``
- ``"Creation Time"``: ISO 8601 with UTC offset, the instant of acquisition
- ``"Creation Time Source"``: where that came from (file absolute clock, file wall
  clock + timezone, modification time; see :mod:`nexuslims.extractors._time`)
- ``"Data Dimensions"``: e.g. ``"(2048,)"``
- ``"Extractor"``, ``"nexuslims version"``: provenance
``ExtractedDataset.unreliable`` names keys whose values are known to be unreliable;
``ExtractedDataset.sources`` says, for each key, where in the file its value was read
(see :mod:`nexuslims.extractors.fields`). A value that is not in the file is not
reported: reader libraries' defaults are not data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

DATASET_TYPES = ("Image", "Spectrum", "SpectrumImage", "Diffraction", "Misc", "Unknown")

PreviewRenderer = Callable[[Path], None]
"""Writes a PNG preview of one dataset to the given path (may raise; caller catches)."""


@dataclass(frozen=True)
class Profile:
    """One instrument's corrections, as plain data (it travels to worker processes)."""

    instrument: str
    source: str
    """Where it came from: the file's path or ``entry point <name>``."""
    # Left out of the hash (a dict has none), so a context holding a profile hashes.
    values: Mapping[str, Any] = field(default_factory=dict, hash=False)
    defaults: Mapping[str, Any] = field(default_factory=dict, hash=False)
    unreliable: tuple[str, ...] = ()
    extractors: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class ExtractionContext:
    """What an extractor may know beyond the file: the instrument's timezone and PID,
    and the site's extraction profile for it (applied after extraction)."""

    timezone: dt.tzinfo = dt.UTC
    instrument: str | None = None
    """The instrument's PID, when the files belong to a known instrument."""
    profile: Profile | None = None
    """The site's extraction profile for the instrument, applied after extraction."""
    allowed_roots: tuple[str, ...] = ()
    """Folders a file's real path must still lie in when it is read (its instrument's
    folder and ``NX_INSTRUMENT_DATA_ROOTS``, resolved where it is read); empty: not
    checked."""


@dataclass
class ExtractedDataset:
    """One dataset (signal) read from a file."""

    name: str
    dataset_type: str
    nx_meta: dict[str, Any]
    extractor: str
    unreliable: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    render_preview: PreviewRenderer | None = None
    sources: dict[str, str] = field(default_factory=dict)
    """nx_meta key -> where in the file it came from (taken from a ``Meta`` nx_meta)."""

    def __post_init__(self) -> None:
        recorded = getattr(self.nx_meta, "sources", None)
        if recorded:
            self.sources = {**recorded, **self.sources}


class Extractor(Protocol):
    """A metadata extractor plug-in (built in, or from the ``nexuslims.extractors`` group).

    An extractor may also carry ``format_name`` (e.g. ``"Gatan DigitalMicrograph"``),
    used in messages such as "could not read as Gatan DigitalMicrograph: <reason>";
    the registry falls back to ``name`` when it is absent.
    """

    name: str
    extensions: frozenset[str]
    """Lower-case extensions without the dot, e.g. ``{"dm3", "dm4"}``."""
    priority: int
    """Higher wins among extractors that accept a file."""

    def sniff(self, path: Path) -> bool:
        """Whether this extractor can read ``path`` (cheap: look at a few bytes)."""
        ...

    def extract(self, path: Path, context: ExtractionContext) -> list[ExtractedDataset]:
        """Read ``path``; an empty list means the file is described by a sibling's dataset."""
        ...
