"""Which kind of signal a dataset is (SEM, FIB, HIM, TEM, STEM...), ranked by evidence.

A format has a default (a helium-ion TIFF format is usually HIM), but the file itself
may name the beam (Fibics ``<Image><Beam>SEM</Beam>`` on a Zeiss Auriga), the mode or the
detector. When two pieces of evidence disagree, the more specific wins: the beam the
file names beats the mode, the mode beats the detector, the detector beats the
instrument family, and any of them beats the format's default. The winner's source
becomes the ``Data Type`` value's source, so a reader sees why.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

BEAM, MODE, DETECTOR, INSTRUMENT, FILE, DEFAULT = 50, 40, 30, 20, 10, 0
"""Ranks of evidence, most specific first (:data:`FILE`: another signal of the same
file, e.g. a Bruker hypermap's spectrum image acquired in the same scan)."""


@dataclass(frozen=True)
class Evidence:
    """One statement about the kind of signal: the family, how specific it is, where."""

    family: str
    rank: int
    source: str


def decide(evidence: Iterable[Evidence | None]) -> Evidence | None:
    """The most specific piece of evidence (the first of equal rank), or None."""
    best: Evidence | None = None
    for item in evidence:
        if item is not None and item.family and (best is None or item.rank > best.rank):
            best = item
    return best


_BEAMS = (
    ("HIM", re.compile(r"\b(him|helium|he\+?|orion|gfis|neon|ne\+?)\b", re.I)),
    ("FIB", re.compile(r"\b(fib|ion|ibeam|i-beam|ga\+?|gallium|xe\+?|xenon|plasma|pfib)\b",
                       re.I)),
    ("SEM", re.compile(r"\b(sem|ebeam|e-beam|electron)\b", re.I)),
)


def beam_family(text: str | None, rank: int, source: str) -> Evidence | None:
    """Evidence from a beam name the file writes (``SEM``, ``Ion``, ``He``), else None."""
    if not text or not str(text).strip():
        return None
    for family, pattern in _BEAMS:
        if pattern.search(str(text)):
            return Evidence(family, rank, source)
    return None


def _named(word: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![a-z]){word}(?![a-z])", re.I)


_MODES = (("STEM", _named("stem")), ("SEM", _named("sem")), ("HIM", _named("him")),
          ("FIB", _named("fib")), ("TEM", _named("(?:ef|hr)?tem")))


def mode_family(text: Any, source: str, *, column: str = "",
                scanning: str = "") -> Evidence | None:
    """Evidence from a mode string the file writes (``STEM``, ``SEM``, a TIA mode...).

    A mode that names a family (``STEM Microprobe``, ``SEM``) is :data:`MODE` evidence;
    ``scanning`` is the family a mode naming only a scan means (``SCANNING`` on a TEM is
    STEM). Any other mode (``IMAGING``, ``NanoProbe``) says only which column the
    file comes from: ``column`` at :data:`INSTRUMENT` rank, when given.
    """
    words = str(text or "").strip()
    if not words:
        return None
    for family, pattern in _MODES:
        if pattern.search(words):
            return Evidence(family, MODE, source)
    if scanning and re.search(r"scan", words, re.I):
        return Evidence(scanning, MODE, source)
    return Evidence(column, INSTRUMENT, source) if column else None


def settle(evidence: Iterable[Evidence | None], default: Evidence) -> Evidence:
    """The kind the evidence decides, else the format's ``default`` (a family may be "")."""
    return decide([default, *evidence]) or default


def kind_name(*parts: str) -> str:
    """A ``Data Type`` from its parts (``STEM``, ``EDS``, ``Map``), skipping empty ones."""
    return "_".join(p for p in parts if p)
