"""Per-instrument extraction profiles: what a site knows that an instrument's files don't.

A profile says, for one instrument, which values to add or correct in each dataset's
metadata after extraction, and which fields to mark unreliable -- without changing
nexuslims. It is a TOML (or JSON) file named after the instrument's PID in the folder
``NX_LOCAL_PROFILES_PATH`` (NexusLIMS 2.x's setting), e.g. ``titan.toml``::

    description = "Titan TEM, room 101"
    unreliable = ["Operator", "Stage Position Tilt (degrees)"]  # shown with a warning
    extractors = ["digitalmicrograph", "tia_ser"]  # optional: only datasets read by these

    [values]      # always set; replaces what the file says
    "Camera" = "Gatan OneView"

    [defaults]    # set only when the file does not say
    "Detector Name" = "HAADF"

or a ``nexuslims.profiles`` entry point named after the PID whose object is such a
mapping (or a function of the PID returning one, or None). A site file wins over an
entry point. Every dataset a profile touched says so in ``Extraction Profile``.
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import logging
import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from nexuslims.errors import ConfigError
from nexuslims.extractors.base import ExtractedDataset, Profile

logger = logging.getLogger(__name__)

SETTING = "NX_LOCAL_PROFILES_PATH"
ENTRY_POINT_GROUP = "nexuslims.profiles"
_KEYS = {"description", "values", "defaults", "unreliable", "extractors"}
_PROTECTED = {"DatasetType", "Data Type", "Extractor", "nexuslims version", "Extraction Profile"}


def parse_profile(instrument: str, data: Mapping[str, Any], source: str) -> Profile:
    """A :class:`Profile` from a profile document; ConfigError naming what is wrong."""
    problems: list[str] = []
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        problems.append(f"unknown key(s) {', '.join(unknown)}; expected {', '.join(sorted(_KEYS))}")
    tables: dict[str, dict[str, Any]] = {}
    for name in ("values", "defaults"):
        table = data.get(name, {})
        if not isinstance(table, Mapping):
            problems.append(f"[{name}] must be a table of field = value")
            continue
        bad = [k for k, v in table.items() if not isinstance(v, str | int | float | bool)]
        if bad:
            problems.append(f"[{name}] {', '.join(bad)}: values must be text, numbers or "
                            "true/false")
        protected = sorted(set(table) & _PROTECTED)
        if protected:
            problems.append(f"[{name}] may not set {', '.join(protected)}")
        tables[name] = {str(k): v for k, v in table.items()}
    lists: dict[str, tuple[str, ...]] = {}
    for name in ("unreliable", "extractors"):
        items = data.get(name, [])
        if not isinstance(items, Sequence) or isinstance(items, str) or not all(
                isinstance(i, str) for i in items):
            problems.append(f"{name} must be a list of names, e.g. {name} = [\"Operator\"]")
            items = []
        lists[name] = tuple(items)
    if problems:
        raise ConfigError([f"profile {source}: {p}" for p in problems])
    return Profile(instrument=instrument, source=source, values=tables.get("values", {}),
                   defaults=tables.get("defaults", {}), unreliable=lists["unreliable"],
                   extractors=lists["extractors"],
                   description=str(data.get("description", "")))


def _read_file(instrument: str, folder: Path) -> Profile | None:
    for suffix in (".toml", ".json"):
        path = folder / f"{instrument}{suffix}"
        if not path.is_file():
            continue
        try:
            text = path.read_text("utf-8")
            data = tomllib.loads(text) if suffix == ".toml" else json.loads(text)
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError([f"profile {path}: cannot be read: {exc}"]) from exc
        except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError([f"profile {path}: not valid {suffix[1:].upper()}: {exc}"]) from exc
        if not isinstance(data, Mapping):
            raise ConfigError([f"profile {path}: expected a table of settings"])
        return parse_profile(instrument, data, str(path))
    return None


@functools.lru_cache(maxsize=4)
def _installed_profiles(search_path: tuple[str, ...]) -> tuple[Any, ...]:
    """The ``nexuslims.profiles`` entry points installed on ``search_path`` (``sys.path``),
    listed once: scanning every distribution's metadata took 40 ms, once per instrument
    of a pass."""
    del search_path  # the cache key: a changed path lists them again
    return tuple(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))


def _from_entry_point(instrument: str) -> Profile | None:
    try:
        found = [ep for ep in _installed_profiles(tuple(sys.path)) if ep.name == instrument]
    except Exception as exc:  # noqa: BLE001 - broken metadata must not stop a pass
        logger.warning("cannot list %s plug-ins: %s", ENTRY_POINT_GROUP, exc)
        return None
    for ep in found:
        source = f"entry point {ep.name} ({ep.value})"
        try:
            obj = ep.load()
            data = obj(instrument) if callable(obj) else obj
        except Exception as exc:  # noqa: BLE001 - a broken plug-in is skipped, not fatal
            logger.warning("profile %s cannot be loaded and is skipped: %s", source, exc)
            continue
        if data is None:
            continue
        if not isinstance(data, Mapping):
            logger.warning("profile %s is not a mapping and is skipped", source)
            continue
        return parse_profile(instrument, data, source)
    return None


def load_profile(instrument: str | None, env: Mapping[str, str]) -> Profile | None:
    """The profile for ``instrument``: a file in ``NX_LOCAL_PROFILES_PATH``, else an
    entry point, else None.

    Raises
    ------
    ConfigError
        When the setting names a folder that does not exist, or the instrument's
        profile file cannot be read or holds something other than a profile.
    """
    if not instrument:
        return None
    folder = env.get(SETTING, "").strip()
    if folder:
        path = Path(folder).expanduser()
        if not path.is_dir():
            raise ConfigError([f"{SETTING}={folder}: expects a folder of per-instrument "
                               "profile files (<instrument PID>.toml)"])
        profile = _read_file(instrument, path)
        if profile is not None:
            return profile
    return _from_entry_point(instrument)


def apply_profile(datasets: list[ExtractedDataset],
                  profile: Profile | None) -> list[ExtractedDataset]:
    """``datasets`` with ``profile``'s values, defaults and unreliable fields applied.

    Datasets with an extraction error, or read by an extractor the profile does not
    name, are returned unchanged.
    """
    if profile is None:
        return datasets
    out: list[ExtractedDataset] = []
    for ds in datasets:
        if ds.error is not None or (profile.extractors and ds.extractor not in profile.extractors):
            out.append(ds)
            continue
        meta = dict(ds.nx_meta)
        touched = [k for k in profile.defaults if k not in meta]
        for key in touched:
            meta[key] = profile.defaults[key]
        for key, value in profile.values.items():
            meta[key] = value
        touched += list(profile.values)
        unreliable = set(ds.unreliable) | {k for k in profile.unreliable if k in meta}
        if touched or unreliable != ds.unreliable:
            meta["Extraction Profile"] = Path(profile.source).name if "/" in profile.source \
                else profile.source
        out.append(replace(ds, nx_meta=meta, unreliable=unreliable))
    return out
