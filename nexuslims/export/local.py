"""The ``local`` destination: a copy of each record in a directory.

With ``NX_LOCAL_EXPORT_PATH`` set, each record is copied there (written to a temporary
file and moved into place, so readers never see half a record). Unset, the same class
is the ``outbox`` fallback used when no destination is configured: the record in the
outbox (``NX_RECORDS_PATH``) is the export, and nothing is copied.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from nexuslims.atomic import atomic_file
from nexuslims.export.base import ExportResult, Failure, RecordFile, setting

if TYPE_CHECKING:
    from nexuslims.config import Settings


class LocalDestination:
    """Copies records to ``NX_LOCAL_EXPORT_PATH`` (or leaves them in the outbox)."""

    name = "local"
    priority = 100

    @classmethod
    def check(cls, settings: Settings) -> list[str]:
        """Problems of ``NX_LOCAL_EXPORT_PATH`` (it must be absolute; it may not exist yet)."""
        raw = setting(settings.env, "NX_LOCAL_EXPORT_PATH")
        if raw and not Path(raw).expanduser().is_absolute():
            return [f"NX_LOCAL_EXPORT_PATH={raw}: expects an absolute directory path"]
        return []

    def __init__(self, settings: Settings):
        raw = setting(settings.env, "NX_LOCAL_EXPORT_PATH")
        self.directory = Path(raw).expanduser() if raw else None

    def export(self, record: RecordFile) -> ExportResult:
        """Copy ``record`` into the directory (or accept it where it is)."""
        if self.directory is None:
            if not record.path.is_file():
                return ExportResult.failed(Failure.UNAVAILABLE,
                                           f"record {record.path} is not in the outbox")
            return ExportResult.ok(record_url=record.path.resolve().as_uri(), mode="outbox")
        target = self.directory / record.path.name
        try:
            copy_atomically(record.path, target)
        except OSError as exc:
            # A share that is not mounted now may be tomorrow: try again on a later pass.
            return ExportResult.failed(
                Failure.UNAVAILABLE, f"cannot copy {record.path.name} to {self.directory} "
                                     f"(NX_LOCAL_EXPORT_PATH): {exc.strerror or exc}")
        return ExportResult.ok(record_url=target.resolve().as_uri(), mode="copy")


def copy_atomically(source: Path, target: Path) -> None:
    """Copy ``source`` to a temporary file beside ``target``, then move it into place."""
    with atomic_file(target, durable=True) as out, source.open("rb") as src:
        shutil.copyfileobj(src, out, 1 << 20)
