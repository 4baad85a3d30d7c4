"""EMSA/MAS ``.msa`` text spectra (ISO 22029): every header keyword is metadata."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._common import put
from .hyperspy_formats import _HyperSpyExtractor
from .values import put_quantity


class MsaExtractor(_HyperSpyExtractor):
    """EMSA/MAS ``.msa`` text spectra (ISO 22029), e.g. from EDAX or Gatan."""

    name = "msa"
    format_name = "EMSA/MAS spectrum (.msa)"
    extensions = frozenset({"msa", "ems", "mas", "emsa"})
    reader = "MSA"
    lazy = False  # rsciio's MSA reader cannot load lazily; the files are small text

    def sniff(self, path: Path) -> bool:
        """EMSA files start with a ``#FORMAT`` keyword line."""
        with open(path, "rb") as handle:
            head = handle.read(64).lstrip(b"\xef\xbb\xbf").lstrip()
        return head.upper().startswith(b"#FORMAT")

    def is_xrf(self, path: Path, signal: Any) -> bool:
        """``#SIGNALTYPE : XRF``."""
        return str(signal.original_metadata.get_item("SIGNALTYPE", "")).upper() == "XRF"

    def extras(self, signal: Any, meta: dict[str, Any]) -> None:
        om = signal.original_metadata.as_dictionary()
        # Every header keyword is metadata (ISO 22029): OFFSET 0.0 is an explicit
        # calibration, XUNITS/YUNITS/SIGNALTYPE say what was measured. Only the
        # keywords that are the file's layout or already a named field are not repeated.
        skip = {"NPOINTS", "SPECTRUM", "ENDOFDATA", "XPERCHAN", "TITLE", "DATE", "TIME",
                "OWNER", "MAGCAM", "RESO"}
        for key, value in om.items():
            name = re.sub(r"\s*-\s*([A-Za-z]+)$", r" (\1)", " ".join(str(key).split()))
            if name.split(" (")[0].upper() in skip or isinstance(value, Mapping):
                continue
            if value in ("", None):
                continue
            put(meta, f"MSA {name}", _number_or_text(value), source=f"msa:{key}")
        put(meta, "Number of Channels", om.get("NPOINTS"), source="msa:NPOINTS")
        units = str(om.get("XUNITS") or "").strip()
        inner = re.search(r"\(([^)]+)\)", units)  # "Energy (EV)" names its unit inside
        put_quantity(meta, "Energy Per Channel (eV)", om.get("XPERCHAN"),
                     (inner.group(1) if inner else units) or None, "msa:XPERCHAN")
        put(meta, "Indicated Magnification (x)", om.get("MAGCAM"), source="msa:MAGCAM")
        # EDAX writes its detector's resolution (at Mn Ka) as the ##RESO keyword.
        if "EDS Energy Resolution MnKa (eV)" not in meta:
            put(meta, "EDS Energy Resolution MnKa (eV)", _number_or_text(om.get("RESO (MnKa)")),
                source="msa:RESO (MnKa)")
        if "Operator" not in meta:
            put(meta, "Operator", om.get("OWNER"), source="msa:OWNER")


def _number_or_text(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return value
