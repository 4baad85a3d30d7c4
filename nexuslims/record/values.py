"""A dataset's metadata as the record writes it: flattened, rendered as text, compared.

The value rules of :mod:`nexuslims.record.build` (see its module text) live here:
:func:`format_value` renders one value; :func:`dataset_values` renders every value of
a dataset's ``nx_meta`` (nested keys joined by a space, empty values left out); and
:func:`shared` finds what all datasets of an activity have in common (its ``setup``).

A record renders some 45 values per dataset, thousands of datasets a session, in the
process that coordinates the pass while its workers read files: the common types (str,
float, int) take the shortest path through here.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from nexuslims.extractors.fields import PROVENANCE_KEYS
from nexuslims.model.dataset import Dataset

TYPE_KEY = "DatasetType"
"""The ``nx_meta`` key that is the dataset's ``type`` attribute, not a ``meta``."""

_ILLEGAL_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

_PLAIN = frozenset({str, float, int, bool, type(None)})
"""Types that are never a mapping (no ``isinstance(value, Mapping)`` check needed)."""


class Value(NamedTuple):
    """One rendered metadata value of a dataset."""

    text: str
    unreliable: bool
    number: float | None = None
    """The value when it is a number, so that 200 and 200.0 count as the same setup."""

    def same(self, other: Value) -> bool:
        """The same setup: numerically equal numbers, else the same text."""
        if self.number is not None and other.number is not None:
            return self.number == other.number
        return self.text == other.text


def clean(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot carry."""
    return _ILLEGAL_XML.sub("", text)


def format_value(value: Any) -> str:
    """The text a metadata value is recorded as (``""`` means "leave it out").

    Parameters
    ----------
    value
        A scalar from ``nx_meta`` (bool, int, float, str, datetime, numpy scalar...),
        or a list/tuple/set of them.

    Returns
    -------
    str
        XML-safe text.
    """
    kind = type(value)  # the common plain types first: a record renders 45 per dataset
    if kind is str:
        return clean(value).strip()
    if kind is float:
        return float_text(value)
    if kind is int:
        return str(value)
    if value is None:
        return ""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return "true" if value else "false"
    dtype = getattr(value, "dtype", None)
    if dtype is not None and getattr(dtype, "kind", "") == "f" and dtype.itemsize < 8:
        # numpy's str() of a float32 is its shortest float32 form: 200.1, not 200.10000610351562
        return float_text(float(str(value)))
    if hasattr(value, "item") and dtype is not None and getattr(value, "ndim", 0) == 0:
        value = value.item()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return float_text(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if isinstance(value, list | tuple) or (dtype is not None and hasattr(value, "tolist")):
        items = value.tolist() if hasattr(value, "tolist") else value
        return ", ".join(t for t in (format_value(v) for v in items) if t)
    if isinstance(value, set | frozenset):
        return ", ".join(sorted(t for t in (format_value(v) for v in value) if t))
    return clean(str(value)).strip()


def float_text(value: float) -> str:
    """A float with the fewest significant digits that stay within 1e-9 of it."""
    text = repr(value)
    if len(text) <= 9:
        # At most 8 significant digits (a float's repr always has a "." or an "e"): its
        # repr is its shortest exact form, and any shorter rounding is off by more than
        # 1e-8 of it, so the search below would stop at the repr's own digits.
        return text if math.isfinite(value) else _not_finite(value)
    for digits in range(1, 18):
        rounded = float(f"{value:.{digits}g}")
        if rounded == value or abs(rounded - value) <= 1e-9 * abs(value):
            return repr(rounded)
    return text


def _not_finite(value: float) -> str:
    return "NaN" if math.isnan(value) else ("INF" if value > 0 else "-INF")


def dataset_values(dataset: Dataset) -> dict[str, Value]:
    """A dataset's recordable metadata: rendered, flattened, empties dropped."""
    values: dict[str, Value] = {}
    unreliable = dataset.unreliable
    for key, top, value in _flatten(dataset.nx_meta):
        if top == TYPE_KEY:
            continue
        kind = type(value)
        if kind is str:
            text = _text(value) if len(value) <= CACHED_TEXT else clean(value).strip()
            number = None
        elif kind is float:
            text = float_text(value)
            number = float(text)  # as _number would find it from the text
            if number != number:
                number = None
        else:
            text = format_value(value)
            number = _number(value, text) if text else None
        if text:  # tuple.__new__: NamedTuple's own __new__ is a Python call per value
            values[key] = _new_value(Value, (text, key in unreliable or top in unreliable,
                                             number))
    return values


_new_value = tuple.__new__


CACHED_TEXT = 256
"""Texts up to this length are remembered cleaned (:func:`_text`); a longer one (a
file's free-text description, which a hostile file can make megabytes long) is cleaned
each time, so the caches hold at most a few megabytes whatever the files say."""


@functools.lru_cache(maxsize=65536)
def _text(value: str) -> str:
    """A short text value as recorded (the same units, modes and names come back in
    dataset after dataset: looked up, not cleaned again)."""
    return clean(value).strip()


def _flatten(meta: Mapping[str, Any], prefix: str = "", top: str | None = None,
             ) -> list[tuple[str, str, Any]]:
    """``(flat key, top-level key, value)`` for each leaf; nested keys joined by a space."""
    leaves: list[tuple[str, str, Any]] = []
    for raw_key, value in meta.items():
        key = _key(f"{prefix} {raw_key}" if prefix else str(raw_key))
        if type(value) not in _PLAIN and isinstance(value, Mapping):
            leaves += _flatten(value, key, top or key)
        elif key:
            leaves.append((key, top or key, value))
    return leaves


@functools.lru_cache(maxsize=8192)
def _key(raw: str) -> str:
    """A metadata key as recorded (the same few hundred keys come back in every dataset)."""
    return clean(raw).strip()


def shared(values: list[dict[str, Value]]) -> dict[str, str]:
    """Keys every dataset has with the same rendered text, and that text.

    Provenance (which extractor, which nexuslims version, where the time came from)
    describes how a dataset was read, not how the microscope was set up: it stays on
    each dataset.
    """
    first, *rest = values
    return {
        key: value.text
        for key, value in first.items()
        if key not in PROVENANCE_KEYS
        and all(key in other and other[key].same(value) for other in rest)
    }


def _number(value: Any, text: str) -> float | None:
    kind = getattr(getattr(value, "dtype", None), "kind", "")
    if isinstance(value, bool) or not (isinstance(value, int | float) or kind in ("i", "u", "f")):
        return None
    try:
        number = float(text)
    except ValueError:  # an array, rendered as a list
        return None
    return None if math.isnan(number) else number
