"""Helpers shared by the extractors: times, dimensions, dataset types, flattening.

Nothing here imports hyperspy or rsciio; functions that look at a signal take it as an
argument, so the registry and the fallback stay cheap to import.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import nexuslims

from .base import ExtractedDataset
from .values import is_placeholder

_TIME_FORMATS = (
    "%H:%M:%S",
    "%H:%M:%S.%f",
    "%H:%M",
    "%I:%M:%S %p",
    "%I:%M:%S.%f %p",
    "%I:%M %p",
)
_DATE_FORMATS = (
    "%Y-%m-%d",
    "%m/%d/%Y",
    "%d/%m/%Y",
    "%d.%m.%Y",
    "%Y/%m/%d",
    "%d-%b-%Y",
    "%d %b %Y",
    "%b %d %Y",
)


def provenance(extractor: str) -> dict[str, str]:
    """The provenance keys every dataset carries."""
    return {"Extractor": extractor, "nexuslims version": nexuslims.__version__}


def mtime_iso(path: Path, tz: dt.tzinfo) -> str:
    """The file's modification time as ISO 8601 with the offset of ``tz``."""
    return dt.datetime.fromtimestamp(path.stat().st_mtime, tz).isoformat()


def parse_time_of_day(text: str) -> dt.time | None:
    """Parse a time in 24-hour (``20:50:13``) or 12-hour (``1:23:45 PM``) form."""
    text = " ".join(str(text).strip().upper().replace(".M.", "M").split())
    text = text.replace("A.M", "AM").replace("P.M", "PM")
    for fmt in _TIME_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).time()
        except ValueError:
            continue
    return None


def parse_date(text: str) -> dt.date | None:
    """Parse a calendar date in the forms instruments write (ISO, US, European)."""
    text = " ".join(str(text).strip().split())
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def wallclock_iso(date: str | None, time: str | None, tz: dt.tzinfo) -> str | None:
    """Combine a file's own date and time strings into ISO 8601 with an offset.

    The strings are wall-clock time in ``tz`` unless ``time`` carries an offset or a
    ``Z``. Returns None when either part cannot be read.
    """
    if not date or not time:
        return None
    day = parse_date(date)
    if day is None:
        return None
    time_text = str(time).strip()
    offset: dt.tzinfo | None = None
    match = re.search(r"(Z|[+-]\d{2}:?\d{2})$", time_text)
    if match and ":" in time_text[: match.start()]:
        suffix = match.group(1)
        time_text = time_text[: match.start()].strip()
        if suffix == "Z":
            offset = dt.UTC
        else:
            sign = 1 if suffix[0] == "+" else -1
            digits = suffix[1:].replace(":", "")
            delta = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
            offset = dt.timezone(sign * delta)
    clock = parse_time_of_day(time_text)
    if clock is None:
        return None
    return dt.datetime.combine(day, clock, tzinfo=offset or tz).isoformat()


def epoch_iso(seconds: float, tz: dt.tzinfo) -> str:
    """A POSIX timestamp (an absolute instant) shown in ``tz``."""
    return dt.datetime.fromtimestamp(seconds, tz).isoformat()


def scalar(value: Any) -> Any:
    """A JSON-safe scalar for ``value`` (numpy numbers, bytes, sequences made plain)."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").rstrip("\x00")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if hasattr(value, "item") and getattr(value, "size", 1) == 1:
        return scalar(value.item())
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, list | tuple):
        if len(value) > 16:
            return f"<{len(value)} values>"
        return str(tuple(scalar(v) for v in value))
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value)


def number(value: Any, scale: float = 1.0, digits: int = 6) -> float | None:
    """``value`` as a float times ``scale`` rounded to ``digits`` significant digits."""
    try:
        val = float(value) * scale
    except (TypeError, ValueError):
        return None
    if not math.isfinite(val):
        return None
    if val == 0:
        return 0.0
    return round(val, digits - 1 - int(math.floor(math.log10(abs(val)))))


def put(meta: dict[str, Any], key: str, value: Any, scale: float = 1.0,
        source: str | None = None) -> None:
    """Set ``meta[key]`` when ``value`` is meaningful; numbers scaled and rounded.

    ``source`` is the key in the file the value was read from; a
    :class:`~nexuslims.extractors.fields.Meta` remembers it for the machine-readable
    sidecar.
    """
    if _put(meta, key, value, scale) and source is not None and hasattr(meta, "sources"):
        meta.sources[key] = source  # type: ignore[attr-defined]


def _put(meta: dict[str, Any], key: str, value: Any, scale: float) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        value = value.strip().rstrip("\x00")
        if not value or is_placeholder(value):
            return False
        meta[key] = value
        return True
    if isinstance(value, bool):
        meta[key] = value
        return True
    num = number(value, scale)
    if num is not None:
        whole = float(num).is_integer() and scale == 1 and isinstance(value, int)
        meta[key] = int(num) if whole else num
    else:
        meta[key] = scalar(value)
    return True


def dig(tree: Any, *path: str) -> Any:
    """Follow ``path`` through nested mappings/DictionaryTreeBrowsers; None if absent."""
    node = tree
    for part in path:
        if node is None:
            return None
        if hasattr(node, "as_dictionary") and not isinstance(node, Mapping):
            node = node.as_dictionary()
        if isinstance(node, Mapping):
            node = node.get(part)
        else:
            return None
    if hasattr(node, "as_dictionary") and not isinstance(node, Mapping):
        node = node.as_dictionary()
    return node


def flatten(tree: Mapping[str, Any], prefix: str = "", skip: Iterable[str] = ()) -> dict[str, Any]:
    """Flatten nested mappings to ``"A B C": scalar`` (keys joined with spaces)."""
    skipped = set(skip)
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if key in skipped:
            continue
        name = f"{prefix} {key}".strip()
        if hasattr(value, "as_dictionary") and not isinstance(value, Mapping):
            value = value.as_dictionary()
        if isinstance(value, Mapping):
            out.update(flatten(value, name, skipped))
        else:
            out[name] = scalar(value)
    return out


def data_dimensions(signal: Any) -> str:
    """Signal shape in NexusLIMS' form: navigation axes then signal axes, e.g. ``(5, 5, 1024)``."""
    try:
        return str(tuple(int(n) for n in signal.data.shape))
    except Exception:  # noqa: BLE001 - an odd signal should not lose the rest of its metadata
        return "unknown"


def axis_units(signal: Any) -> list[str]:
    """Units of the signal axes (empty strings for unitless)."""
    units: list[str] = []
    try:
        for axis in signal.axes_manager.signal_axes:
            units.append(str(axis.units or ""))
    except Exception:  # noqa: BLE001
        pass
    return units


_RECIPROCAL = re.compile(r"^(1\s*/\s*\w+|\w+\^?-1|mrad|rad)$", re.IGNORECASE)


def dataset_type_of(signal: Any, hint: str | None = None) -> str:
    """Choose the DatasetType of a signal from what it is, not just its shape.

    ``hint`` is a format's own statement (DM ``Meta Data.Format``/``Signal``, a TIA
    mode...). EELS/EDS signals are spectra (one point) or spectrum images; a 2-D
    signal with reciprocal-space units is a diffraction pattern.
    """
    sig_dim = getattr(getattr(signal, "axes_manager", None), "signal_dimension", None)
    nav_dim = getattr(getattr(signal, "axes_manager", None), "navigation_dimension", 0) or 0
    nav_size = getattr(getattr(signal, "axes_manager", None), "navigation_size", 0) or 0
    signal_type = dims_label(signal)
    hint_l = (hint or "").lower()
    spectral = signal_type.upper().startswith(("EELS", "EDS", "CL", "EDX")) or any(
        word in hint_l for word in ("eels", "eds", "edx", "spectrum", "x-ray")
    )
    if "diffraction" in hint_l:
        return "Diffraction"
    if hint_l == "image" and sig_dim == 2:
        return "Image"
    if sig_dim == 1 or spectral:
        if "spectrum image" in hint_l or (nav_dim > 0 and nav_size > 1):
            return "SpectrumImage"
        return "Spectrum"
    if sig_dim == 2:
        units = axis_units(signal)
        if units and all(_RECIPROCAL.match(u.strip()) for u in units if u.strip()) and any(
            u.strip() for u in units
        ):
            return "Diffraction"
        return "Image"
    if sig_dim == 0:
        return "Misc"
    return "Misc" if sig_dim else "Unknown"


def dims_label(signal: Any) -> str:
    """A short label of what was acquired for the "Data Type" family (Imaging, EELS...)."""
    try:
        signal_type = signal.metadata.Signal.get_item("signal_type", "") or ""
    except Exception:  # noqa: BLE001
        signal_type = ""
    return str(signal_type)


def multi_name(path: Path, index: int, total: int) -> str:
    """NexusLIMS' dataset name: the file name, with ``(i of N)`` for multi-signal files."""
    return path.name if total == 1 else f"{path.name} ({index} of {total})"


def signal_preview(signal: Any, dataset_type: str):
    """A preview renderer for an already-open signal (the previews package loads on call)."""

    def render(out: Path) -> None:
        from nexuslims.previews import render_signal

        render_signal(signal, out, dataset_type=dataset_type)

    return render


def finish(
    meta: dict[str, Any], *, dataset_type: str, data_type: str, extractor: str,
    default_source: str | None = None, kind_source: str | None = None,
) -> dict[str, Any]:
    """Put the keys every dataset has first, then the format's own, then provenance.

    The result is a :class:`~nexuslims.extractors.fields.Meta` keeping ``meta``'s
    sources; ``Data Dimensions`` is the data array's shape. ``default_source`` is given
    to values that recorded none (a format whose every value comes from one header).
    ``kind_source`` is the evidence that decided the ``Data Type`` (see
    :mod:`~nexuslims.extractors.kinds`); without it, the format's default decided it.
    """
    from .fields import Meta, sources_of

    head = Meta({"DatasetType": dataset_type, "Data Type": data_type})
    head.sources.update(sources_of(meta))
    head.sources["Data Type"] = kind_source or head.sources.get("Data Type") or (
        f"format:{extractor}")
    for key in ("Creation Time", "Creation Time Source", "Data Dimensions"):
        if key in meta:
            head[key] = dict.pop(meta, key)
    if "Data Dimensions" in head:
        head.sources.setdefault("Data Dimensions", "data:shape")
    head.update(meta)
    if default_source:
        for key in meta:
            if key not in ("Creation Time Source",):
                head.sources.setdefault(key, default_source)
    head.update(provenance(extractor))
    return head


def attach_error(datasets: list[ExtractedDataset], error: str) -> list[ExtractedDataset]:
    """Record ``error`` on every dataset (and as a warning, so summaries show it)."""
    for ds in datasets:
        ds.error = ds.error or error
        if error not in ds.warnings:
            ds.warnings.append(error)
    return datasets


_SPECTRAL_UNITS = {"ev": ("Energy", "eV"), "kev": ("Energy", "keV"),
                   "nm": ("Wavelength", "nm")}


def spectrum_axis(meta: dict[str, Any], signal: Any) -> None:
    """The spectral axis' offset and channel width, with units, for a 1-D signal.

    Read from the file's own axis calibration (as the reader set the signal axis); the
    source is ``axis:<axis name>.offset``/``.scale``.
    """
    try:
        axes = signal.axes_manager.signal_axes
    except Exception:  # noqa: BLE001 - an odd signal has no spectral axis to report
        return
    if len(axes) != 1:
        return
    axis = axes[0]
    units = str(axis.units or "").strip()
    inner = re.search(r"\(([^)]+)\)", units)  # EMSA's XUNITS may read "Energy (EV)"
    known = _SPECTRAL_UNITS.get((inner.group(1) if inner else units).strip().lower())
    if known is None or not getattr(axis, "scale", None):
        return
    quantity, units = known
    name = str(axis.name or quantity)
    put(meta, f"{quantity} Offset ({units})", float(axis.offset), source=f"axis:{name}.offset")
    put(meta, f"{quantity} per Channel ({units})", float(axis.scale),
        source=f"axis:{name}.scale")


_UNDEFINED_UNITS = {"", "<undefined>", "<undef>", "[]", "px", "pixel", "pixels"}


def axis_calibration(meta: dict[str, Any], signal: Any) -> None:
    """The pixel size of a 2-D signal, from its axis calibration, when it has one.

    ``Pixel Size (nm)`` for a real-space axis (converted from the axis' unit) or
    ``Pixel Size (1/nm)`` for a reciprocal one (a diffraction pattern). An axis with
    no unit, or with RosettaSciIO's default (scale 1, offset 0), is uncalibrated and
    publishes nothing.
    """
    from .values import convert, put_quantity

    try:
        axes = signal.axes_manager.signal_axes
    except Exception:  # noqa: BLE001 - an odd signal has no axes to report
        return
    if len(axes) != 2:
        return
    axis = axes[0]
    units = str(axis.units or "").strip()
    scale, offset = number(getattr(axis, "scale", None)), number(getattr(axis, "offset", 0))
    if units.lower() in _UNDEFINED_UNITS or not scale or (scale == 1 and not offset):
        return
    source = f"axis:{axis.name or 'x'}.scale"
    if convert(1, units, "1/nm") is not None:
        put_quantity(meta, "Pixel Size (1/nm)", abs(scale), units, source)
    else:
        put_quantity(meta, "Pixel Size (nm)", abs(scale), units, source)


def without_path(text: str, path: Path | str) -> str:
    """``text`` (a reader's or drawing library's message) with ``path`` written as its
    file name: records travel to CDCS and ELNs, the share's layout on the server does not."""
    full = str(path)
    name = Path(full).name
    for form in {full, os.path.abspath(full), os.path.realpath(full)}:
        if form and form != name:
            text = text.replace(form, name)
    return text


_CUT_SHORT = re.compile(r"unpack requires a buffer|buffer is too small|end of (the )?file|"
                        r"truncated|not enough (data|bytes)|unexpected eof|"
                        r"read (\d+|zero) bytes|cannot reshape array of size", re.IGNORECASE)


def cut_short(exc: BaseException) -> bool:
    """Whether a reader's failure is that the file ends before the data its header
    describes (a copy under way or one that failed, more often than a reader's bug)."""
    return isinstance(exc, EOFError) or bool(_CUT_SHORT.search(str(exc)))
