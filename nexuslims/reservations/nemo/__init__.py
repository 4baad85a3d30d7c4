"""NEMO (https://github.com/usnistgov/NEMO): sessions and reservations over its REST API.

:func:`from_settings` builds the harvester for a pass from ``NX_NEMO_*`` settings
(:mod:`.config`); :mod:`.client` speaks HTTP to one server, :mod:`.questions` reads
the users' answers, :mod:`.harvester` turns usage events into sessions and answers
into reservations. See ``docs/nemo.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nexuslims.reservations.nemo.config import NemoServer, NemoSettings, parse_settings
from nexuslims.reservations.nemo.harvester import NemoHarvester

if TYPE_CHECKING:
    from nexuslims.config import Settings

__all__ = ["NemoHarvester", "NemoServer", "NemoSettings", "from_settings", "parse_settings"]


def from_settings(settings: Settings) -> NemoHarvester | None:
    """The NEMO harvester for one pass, or None when no NEMO server is configured.

    Raises
    ------
    ConfigError
        Naming every wrong NEMO setting.
    """
    nemo = parse_settings(settings.env)
    return NemoHarvester(nemo) if nemo is not None else None
