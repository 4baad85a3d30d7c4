"""Export stage: publish built records to their destinations.

The pipeline writes every valid record to ``NX_RECORDS_PATH`` first (the outbox), then
hands it to the :class:`Exporter` of the pass, which decides the session's final status
(COMPLETED, BUILT_NOT_EXPORTED to retry on later passes, or ERROR) and records each
attempt in ``upload_log``. The exporter is an :class:`~nexuslims.export.outbox.Outbox`
over the enabled destinations (:mod:`~nexuslims.export.destinations`: ``cdcs``,
``eln``, ``elabftw``, ``local``, ``datacite`` and plug-ins); with none configured, the
record in the outbox counts as exported. See ``docs/export.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nexuslims.export.base import Exporter, ExportOutcome

__all__ = ["ExportOutcome", "Exporter", "build_exporter"]

if TYPE_CHECKING:
    from nexuslims.config import Settings
    from nexuslims.export.outbox import Outbox


def build_exporter(settings: Settings) -> Outbox:
    """The exporter of this pass, from the settings.

    Raises
    ------
    ConfigError
        Naming every problem: ``NX_EXPORT_STRATEGY`` and each enabled destination's
        settings.
    """
    from nexuslims.errors import ConfigError
    from nexuslims.export.destinations import build_destinations
    from nexuslims.export.outbox import Outbox, read_strategy

    problems: list[str] = []
    strategy = "all"
    try:
        strategy = read_strategy(settings.env)
    except ConfigError as exc:
        problems += exc.problems
    try:
        destinations = build_destinations(settings)
    except ConfigError as exc:
        raise ConfigError(problems + exc.problems) from None
    if problems:
        raise ConfigError(problems)
    return Outbox(destinations, strategy)
