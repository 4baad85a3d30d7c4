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
