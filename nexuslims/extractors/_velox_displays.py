"""What a Velox file's displays say of its images: map titles, elements, map groups.

Velox keeps what its user sees apart from the data: each image's title (an element for
an EDS map, ``"Fe L2,3"``, ``"HAADF"``) in a display, and the image browser's grouping
(``Stem``, ``Eds``, ``Eels`` maps) in display-group items. Read with h5py.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any

from ._velox_layout import first_of

_SYMBOLS = """H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr
    Mn Fe Co Ni Cu Zn Ga Ge As Se Br Kr Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe
    Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po
    At Rn Fr Ra Ac Th Pa U Np Pu Am Cm Bk Cf"""
ELEMENT_SYMBOLS = frozenset(_SYMBOLS.split())


@dataclass(frozen=True)
class MapLabel:
    """What Velox's display says of one image: its title and the kind of its group."""

    label: str
    """The title Velox shows (``"Fe"``, ``"Fe L2,3"``, ``"HAADF"``)."""
    source: str
    ident: str = ""
    """The display's ``id`` (Velox 11 puts the element of an EDS map there)."""
    group: str = ""
    """``DisplayGroupItem.groupType``: ``Stem``, ``Eds`` or ``Eels``."""
    group_source: str = ""

    def element_line(self) -> tuple[str, str]:
        """(element symbol, line) a map's title or id names, e.g. ``("Fe", "L2,3")``."""
        for text in (self.ident, self.label):
            match = _ELEMENT_LINE.match(text.strip())
            if match and match.group(1) in ELEMENT_SYMBOLS:
                title = _ELEMENT_LINE.match(self.label.strip())
                line = title.group(2) if title and title.group(1) == match.group(1) else ""
                return match.group(1), line or match.group(2) or ""
        return "", ""


_ELEMENT_LINE = re.compile(r"^([A-Z][a-z]?)(?:[\s_-]+([KLMN][\w,]*))?$")


def map_labels(h5: Any) -> dict[str, MapLabel]:
    """Image uid -> what Velox's displays say of it (title, element id, map group).

    Velox 11 keeps displays in ``/Displays/ImageDisplay`` (``id`` names the element of an
    EDS map; ``data`` points at a reference holding the image's path) and the image
    browser's groups in ``/SharedProperties/DisplayGroupItem`` (``groupType``); older
    files keep displays in ``/Presentation/Displays/ImageDisplay`` (``display.label``).
    """
    out: dict[str, MapLabel] = {}
    by_display: dict[str, str] = {}
    for base, new in (("Displays/ImageDisplay", True),
                      ("Presentation/Displays/ImageDisplay", False)):
        if base not in h5:
            continue
        displays = h5[base]
        for key in displays:
            try:
                display = json.loads(first_of(displays, key))
                if new:
                    reference = json.loads(first_of(h5, display["data"]))
                    path, ident = reference["dataPath"], str(display.get("id") or "")
                    label = display.get("title") or ident
                    source = f"velox:{base}/{key}." + ("title" if display.get("title") else "id")
                else:
                    path, label, ident = display["dataPath"], display["display"]["label"], ""
                    source = f"velox:{base}/{key}.display.label"
            except (KeyError, ValueError, TypeError, IndexError):
                continue
            uid = str(path).rstrip("/").split("/")[-1]
            by_display[f"/{base}/{key}"] = uid
            if label:
                out.setdefault(uid, MapLabel(str(label), source, ident))
    items = h5.get("SharedProperties/DisplayGroupItem")
    for key in items if items is not None else ():
        try:
            entry = json.loads(first_of(items, key))
            uid = by_display[entry["display"]]
        except (KeyError, ValueError, TypeError, IndexError):
            continue
        if uid in out and entry.get("groupType"):
            out[uid] = replace(out[uid], group=str(entry["groupType"]),
                               group_source=f"velox:SharedProperties/DisplayGroupItem/{key}"
                                            ".groupType")
    return out
