"""Values read from files: converted from the unit the file states, and "not set" dropped.

Two rules every extractor applies the same way (STYLE: "Values from files"):

- **Units.** :func:`convert` takes a number from the unit the file *states* to the unit
  of the published key, with pint. A unit pint cannot read (or one of another
  dimension) gives None, and :func:`put_quantity` then publishes the value *with its
  unit string* under the key without a unit (``"Frame Time": "1.6 fortnights"``) rather
  than a guess.
- **Sentinels.** Each format has values that mean "not set" or "not computed" (Bruker
  ``WD -1``, MRC ``RMS < 0``, Velox ``ScanSize 0x0``...). A format keeps them in a
  table of :class:`Unset` rows, next to its field table; :func:`drop_unset` removes the
  keys whose values match, after the fields are read.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# Unit spellings instruments write that pint reads otherwise (or not at all). Keys are
# lower case; the value is pint's spelling. "x" (a magnification) has no unit.
_SPELLINGS = {
    "mins": "min", "min": "min", "minutes": "min", "secs": "s", "sec": "s", "seconds": "s",
    "msec": "ms", "usec": "us", "µsec": "us", "nsec": "ns", "hrs": "hour", "hours": "hour",
    "x": "", "kx": "", "deg": "degree", "°": "degree", "degrees": "degree",
    "mrad": "milliradian", "urad": "microradian", "µrad": "microradian",
    "ev": "eV", "kev": "keV", "kv": "kV", "mv": "mV", "ua": "uA", "µa": "uA", "na": "nA",
    "mbar": "mbar", "torr": "torr", "cps": "1/s", "%": "percent",
    "sr": "steradian", "dg": "degree", "mr": "milliradian",
}
# Case matters for these: "Pa" is pascal, "pA" picoampere, "mA"/"MA".
_EXACT = {"Pa": "Pa", "pA": "pA", "nA": "nA", "uA": "uA", "µA": "uA", "mA": "mA",
          "A": "A", "K": "K", "KV": "kV", "kV": "kV", "V": "V", "mV": "mV", "MV": "MV",
          "s": "s", "S": "s", "ms": "ms", "us": "us", "µs": "us", "ns": "ns",
          "m": "m", "M": "m", "mm": "mm", "MM": "mm", "um": "um", "µm": "um", "μm": "um",
          "nm": "nm", "NM": "nm", "pm": "pm", "Å": "angstrom", "A°": "angstrom",
          "1/nm": "1/nm", "1/m": "1/m", "nm^-1": "1/nm", "1/Å": "1/angstrom",
          "m^-1": "1/m", "1/um": "1/um"}


@lru_cache(maxsize=1)
def unit_registry() -> Any:
    """pint's unit registry, built once per process (or once in the extraction fork
    server, for all its workers: :mod:`._preload`)."""
    import pint

    return pint.UnitRegistry(cache_folder=None)


@lru_cache(maxsize=256)
def pint_unit(text: str) -> Any:
    """The pint unit a file's unit string means, or None when pint cannot read it."""
    raw = str(text or "").strip()
    if raw in _EXACT:
        spelled = _EXACT[raw]
    else:
        spelled = _SPELLINGS.get(raw.lower(), raw).replace("µ", "u").replace("μ", "u")
    ureg = unit_registry()
    if spelled == "":
        return ureg.dimensionless
    try:
        unit = ureg.Unit(spelled)
    except Exception:  # noqa: BLE001 - pint raises several kinds for an unknown name
        return None
    return unit


def convert(value: Any, given: str | None, target: str) -> float | None:
    """``value`` in unit ``given`` expressed in unit ``target``; None when it cannot be.

    ``given`` None or empty means the file states no unit: the number is returned as is
    (the caller's table then says which unit the format documents).
    """
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number):
        return None
    if not given:
        return number
    have, want = pint_unit(given), pint_unit(target)
    if have is None or want is None:
        return None
    ureg = unit_registry()
    try:
        return float(ureg.Quantity(number, have).to(want).magnitude)
    except Exception:  # noqa: BLE001 - DimensionalityError, OffsetUnitCalculusError...
        return None


def known_unit(text: str | None) -> bool:
    """Whether pint reads ``text`` as a unit."""
    return bool(text) and pint_unit(str(text)) is not None


_NUMBER_UNIT = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*$")


def split_number(text: Any) -> tuple[float, str] | None:
    """``"400.00 msec"`` -> ``(400.0, "msec")``; None when ``text`` does not start with a number."""
    match = _NUMBER_UNIT.match(str(text))
    if not match:
        return None
    return float(match[1]), match[2]


def put_quantity(meta: dict[str, Any], key: str, value: Any, given: str | None,
                 source: str, digits: int = 6) -> bool:
    """Publish ``value`` (stated in ``given``) under ``key`` (``"Frame Time (s)"``).

    The number is converted from ``given`` to the unit in ``key``'s brackets. When pint
    cannot convert (an unknown unit, another dimension), the value keeps its own unit:
    ``meta["Frame Time"] = "1.6 fortnights"``. Returns whether anything was published.
    """
    match = re.match(r"^(?P<name>.*?)\s*\((?P<unit>[^()]+)\)$", key)
    converted = convert(value, given, match["unit"] if match else "")
    if match and converted is not None:
        return _set(meta, key, _round(converted, digits), source)
    if converted is None and given:
        try:
            float(value)
        except (TypeError, ValueError):
            return False
        name = match["name"] if match else key
        return _set(meta, name, f"{value} {given}".strip(), source)
    return _set(meta, key, converted, source) if converted is not None else False


def _set(meta: dict[str, Any], key: str, value: Any, source: str) -> bool:
    meta[key] = value
    sources = getattr(meta, "sources", None)
    if sources is not None:
        sources[key] = source
    return True


def _round(value: float, digits: int) -> float:
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - int(math.floor(math.log10(abs(value)))))


# -- "not set" values, per format ---------------------------------------------------


@dataclass(frozen=True)
class Unset:
    """One row of a format's sentinel table: the published key and when it means "not set".

    ``values`` are the file's "not set" values (``-1``, ``0``, ``""``); ``when`` is a
    test on the value and the other published values (``RMS < 0``, ``AMAX < AMIN``,
    a camera length on an SEM). ``why`` says which convention it is, for the docs.
    """

    key: str
    values: tuple[Any, ...] = ()
    when: Callable[[Any, Mapping[str, Any]], bool] | None = None
    why: str = ""

    def matches(self, value: Any, meta: Mapping[str, Any]) -> bool:
        """Whether ``value`` (published under :attr:`key`) means "not set"."""
        for unset in self.values:
            if isinstance(unset, str) and isinstance(value, str):
                if value.strip().lower() == unset.lower():
                    return True
            elif not isinstance(value, str | bool) and not isinstance(unset, str):
                try:
                    if float(value) == float(unset):
                        return True
                except (TypeError, ValueError):
                    continue
        if self.when is not None:
            try:
                return bool(self.when(value, meta))
            except (TypeError, ValueError):
                return False
        return False


def negative(value: Any, meta: Mapping[str, Any]) -> bool:
    """A quantity that cannot be below zero (a size, a length, a count) is."""
    return float(value) < 0


def drop_unset(meta: dict[str, Any], table: Iterable[Unset]) -> list[str]:
    """Remove the keys of ``meta`` whose value is "not set" by ``table``; the keys removed."""
    removed = []
    rows = list(table)
    snapshot = dict(meta)
    for row in rows:
        if row.key in snapshot and row.matches(snapshot[row.key], snapshot):
            removed.append(row.key)
    for key in removed:
        meta.pop(key, None)
        sources = getattr(meta, "sources", None)
        if sources is not None:
            sources.pop(key, None)
    return removed


PLACEHOLDERS = frozenset({"unknown", "n/a", "null", "not available", "undefined",
                          "<undefined>", "-", "?"})
"""Text values that stand for "no value" in any format (compared lower-cased). ``"None"``
is not one: "Noise Reduction: None" or "Aperture: None" are settings."""


def is_placeholder(value: Any) -> bool:
    """Whether a text value is a placeholder (``'Unknown'``, ``'N/A'``...), not data."""
    return isinstance(value, str) and value.strip().lower() in PLACEHOLDERS
