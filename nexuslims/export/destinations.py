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


def _off_while_given(prefix: str, switch: str, what: str):  # type: ignore[no-untyped-def]
    """A destination's ``incomplete``: its ``prefix`` settings given while ``switch``
    leaves it off (asked only when it is off)."""
    def incomplete(env: Mapping[str, str]) -> str | None:
        # The 1.x names nexusLIMS_user/_pass also served SharePoint: only ours count.
        given = sorted(n for n in env if n.startswith(prefix) and n != switch.split("=")[0]
                       and setting(env, n))
        if not given:
            return None
        names = " and ".join(given)
        return (f"{names} {'is' if len(given) == 1 else 'are'} set but {switch} is not: "
                f"{what} (set {switch}, or remove {'it' if len(given) == 1 else 'them'})")
    return incomplete


BUILTIN = (
    DestinationSpec(
        "cdcs", 200, "nexuslims.export.cdcs:CDCSDestination",
        lambda env: bool(setting(env, "NX_CDCS_URL", "cdcs_url")),
        "the facility's CDCS repository (NX_CDCS_URL)",
        incomplete=_off_while_given("NX_CDCS_", "NX_CDCS_URL",
                                    "records are not exported to CDCS")),
    DestinationSpec(
        "eln", 160, "nexuslims.export.eln:ELNDestination",
        lambda env: truthy(env, "NX_ELN_EXPORT") is not False,
        "a .eln package (RO-Crate 1.2) of the session for ELNs (NX_ELN_EXPORT)",
        incomplete=_off_while_given("NX_ELN_", "NX_ELN_EXPORT=true",
                                    "no .eln packages are written")),
    DestinationSpec(
        "elabftw", 150, "nexuslims.export.elabftw:ELabFTWDestination",
        lambda env: bool(setting(env, "NX_ELABFTW_URL")),
        "one eLabFTW experiment per session, updated on rebuild (NX_ELABFTW_URL)",
        incomplete=_off_while_given("NX_ELABFTW_", "NX_ELABFTW_URL",
                                    "records are not exported to eLabFTW")),
    DestinationSpec(
        "local", 100, "nexuslims.export.local:LocalDestination",
        lambda env: bool(setting(env, "NX_LOCAL_EXPORT_PATH")),
        "a copy of the record in NX_LOCAL_EXPORT_PATH (unset: the outbox itself)"),
    DestinationSpec(
        "datacite", 50, "nexuslims.export.datacite:DataCiteDestination",
        # A value that is not a boolean enables it too, so that its check names it.
        lambda env: truthy(env, "NX_DATACITE_EXPORT") is not False,
        "a JSON search document (DataCite kernel-4 style, file checksums) beside the record",
        incomplete=_off_while_given("NX_DATACITE_", "NX_DATACITE_EXPORT=true",
                                    "no DataCite documents are written")),
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
