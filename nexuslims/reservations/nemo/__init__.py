"""NEMO (https://github.com/usnistgov/NEMO): sessions and reservations over its REST API.

:func:`from_settings` builds the harvester for a pass from ``NX_NEMO_*`` settings
(:mod:`.config`); :mod:`.client` speaks HTTP to one server, :mod:`.questions` reads
the users' answers, :mod:`.harvester` turns usage events into sessions and answers
into reservations. See ``docs/nemo.md``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from nexuslims.reservations.nemo.config import NemoServer, NemoSettings, parse_settings

if TYPE_CHECKING:
    from nexuslims.config import Settings
    from nexuslims.reservations.nemo.harvester import NemoHarvester

__all__ = ["NemoHarvester", "NemoServer", "NemoSettings", "from_settings", "parse_settings"]


def from_settings(settings: Settings) -> NemoHarvester | None:
    """The NEMO harvester for one pass, or None when no NEMO server is configured.

    Raises
    ------
    ConfigError
        Naming every wrong NEMO setting.
    """
    nemo = parse_settings(settings.env)
    if nemo is None:
        return None
    from nexuslims.reservations.nemo.harvester import NemoHarvester  # requests with it

    return NemoHarvester(nemo)


def __getattr__(name: str) -> Any:
    # The harvester (and requests, under it: 0.07 CPU-s) only when NEMO is used: every
    # pass asks this module whether NEMO is configured (build_harvesters).
    if name == "NemoHarvester":
        return importlib.import_module("nexuslims.reservations.nemo.harvester").NemoHarvester
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
