"""Which destinations a pass exports to: built-in declarations plus entry points.

Choosing reads only the settings and the :class:`~nexuslims.export.base.DestinationSpec`
declarations; a destination's module is imported only when it is enabled. When no
destination is enabled, ``outbox`` answers: the record in the outbox is the export.
It has its own name in ``upload_log`` so that a destination enabled later (``local``
with ``NX_LOCAL_EXPORT_PATH``, say) is not taken to have the records already.
"""

from __future__ import annotations

import importlib.metadata
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from nexuslims.errors import ConfigError
from nexuslims.export.base import DestinationSpec, setting, truthy

if TYPE_CHECKING:
    from nexuslims.config import Settings
    from nexuslims.export.base import Destination

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "nexuslims.destinations"


def _cdcs_incomplete(env: Mapping[str, str]) -> str | None:
    # The 1.x names nexusLIMS_user/_pass also served SharePoint: only our own names count.
    given = sorted(n for n in env if n.startswith("NX_CDCS_") and n != "NX_CDCS_URL"
                   and setting(env, n))
    if not given or setting(env, "NX_CDCS_URL", "cdcs_url"):
        return None
    return (f"{' and '.join(given)} {'is' if len(given) == 1 else 'are'} set but NX_CDCS_URL "
            "is not: records are not exported to CDCS (set NX_CDCS_URL, or remove "
            f"{' and '.join(given)})")


BUILTIN = (
    DestinationSpec(
        "cdcs", 200, "nexuslims.export.cdcs:CDCSDestination",
        lambda env: bool(setting(env, "NX_CDCS_URL", "cdcs_url")),
        "the facility's CDCS repository (NX_CDCS_URL)",
        incomplete=_cdcs_incomplete),
    DestinationSpec(
        "eln", 160, "nexuslims.export.eln:ELNDestination",
        lambda env: truthy(env, "NX_ELN_EXPORT") is not False,
        "a .eln package (RO-Crate 1.2) of the session for ELNs (NX_ELN_EXPORT)"),
    DestinationSpec(
        "elabftw", 150, "nexuslims.export.elabftw:ELabFTWDestination",
        lambda env: bool(setting(env, "NX_ELABFTW_URL")),
        "one eLabFTW experiment per session, updated on rebuild (NX_ELABFTW_URL)"),
    DestinationSpec(
        "local", 100, "nexuslims.export.local:LocalDestination",
        lambda env: bool(setting(env, "NX_LOCAL_EXPORT_PATH")),
        "a copy of the record in NX_LOCAL_EXPORT_PATH (unset: the outbox itself)"),
    DestinationSpec(
        "datacite", 50, "nexuslims.export.datacite:DataCiteDestination",
        # A value that is not a boolean enables it too, so that its check names it.
        lambda env: truthy(env, "NX_DATACITE_EXPORT") is not False,
        "a JSON search document (DataCite kernel-4 style, file checksums) beside the record"),
    DestinationSpec(
        "outbox", 0, "nexuslims.export.local:LocalDestination", lambda env: False,
        "the record in NX_RECORDS_PATH itself, when no destination is enabled"),
)
FALLBACK = "outbox"


def declared(entry_points: bool = True) -> list[DestinationSpec]:
    """Every known destination: the built-in ones, then those of installed plug-ins."""
    specs = list(BUILTIN)
    if entry_points:
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            try:
                spec = ep.load()
            except Exception as exc:  # a broken plug-in must not stop the builder
                logger.error("export destination plug-in %s cannot be loaded: %s", ep.name, exc)
                continue
            if not isinstance(spec, DestinationSpec):
                logger.error("export destination plug-in %s is not a DestinationSpec", ep.name)
                continue
            if any(s.name == spec.name for s in specs):
                logger.error("export destination plug-in %s: the name %r is taken",
                             ep.name, spec.name)
                continue
            specs.append(spec)
    return specs


def incomplete_destinations(env: Mapping[str, str],
                            specs: list[DestinationSpec] | None = None) -> dict[str, str]:
    """Destinations that some settings half-configure without turning them on: what is
    missing, by destination name."""
    specs = declared() if specs is None else specs
    found = {}
    for spec in specs:
        if spec.incomplete is not None and not spec.enabled(env):
            missing = spec.incomplete(env)
            if missing:
                found[spec.name] = missing
    return found


_warned: set[str] = set()


def enabled_specs(env: Mapping[str, str], specs: list[DestinationSpec] | None = None,
                  ) -> list[DestinationSpec]:
    """The destinations the settings enable, highest priority first (never empty).

    A destination only half-configured (a CDCS token without its URL) is warned about,
    once per process.
    """
    specs = declared() if specs is None else specs
    for missing in incomplete_destinations(env, specs).values():
        if missing not in _warned:
            _warned.add(missing)
            logger.warning("%s", missing)
    chosen = [s for s in specs if s.enabled(env)]
    if not chosen:
        chosen = [s for s in specs if s.name == FALLBACK]
    return sorted(chosen, key=lambda s: (-s.priority, s.name))


def build_destinations(settings: Settings, specs: list[DestinationSpec] | None = None,
                       ) -> list[Destination]:
    """An instance of every enabled destination, highest priority first.

    Raises
    ------
    ConfigError
        Naming every problem of every enabled destination's settings.
    """
    problems: list[str] = []
    classes: list[tuple[DestinationSpec, Any]] = []
    for spec in enabled_specs(settings.env, specs):
        try:
            cls = spec.load()
        except Exception as exc:
            problems.append(f"export destination {spec.name!r} cannot be loaded: {exc}")
            continue
        problems += list(cls.check(settings))
        classes.append((spec, cls))
    if problems:
        raise ConfigError(problems)
    destinations = []
    for spec, cls in classes:
        destination = cls(settings)
        destination.name, destination.priority = spec.name, spec.priority
        destinations.append(destination)
    return destinations
