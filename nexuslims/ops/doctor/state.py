"""Checks of the builder's own state and of the share as the builder last saw it.

SQLite's ``quick_check`` and whether the database can be written at all; sessions whose
record file has gone (with the command that rebuilds them); the share's mount point or
marker (``NX_INSTRUMENT_DATA_MOUNT``/``_MARKER``); instrument folders that are empty
although earlier sessions found files there (an unmounted share looks so).
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from nexuslims.find import instrument_folder_problem, share_problem
from nexuslims.ops.doctor.checks import FAILURE, OK, WARNING, Check, Site

#: Sessions named in full by the missing-records check; the rest are counted.
SHOWN = 20

T = TypeVar("T")


def _read(db_url: str, query: Callable[[Any], T]) -> T:
    """``query(engine)`` on a database opened for it and closed after.

    Raises
    ------
    nexuslims.errors.DatabaseError
        The database cannot be opened or read.
    """
    from nexuslims import db

    engine = db.make_engine(db_url)
    try:
        return query(engine)
    finally:
        engine.dispose()


def check_database_integrity(site: Site) -> Iterable[Check]:
    """SQLite's ``quick_check`` finds no corruption; the database file can be written."""
    from nexuslims.db.engine import quick_check, sqlite_file
    from nexuslims.errors import DatabaseError

    settings = site.settings
    if settings is None or settings.db_url is None:
        return
    path = sqlite_file(settings.db_url)
    if path is None or not path.is_file():
        return  # not SQLite (the server checks itself), or reported by check_database
    try:
        rows = _read(settings.db_url, quick_check)
    except DatabaseError as exc:
        yield Check("database integrity", FAILURE, f"{path} cannot be checked ({exc}): "
                    "restore it from a backup (docs/reliability.md)")
        return
    if rows != ["ok"]:
        yield Check("database integrity", FAILURE,
                    f"{path} is damaged: {'; '.join(rows[:5])}. Stop the builder, copy the "
                    "file aside and restore the last backup (docs/reliability.md)")
    else:
        yield Check("database integrity", OK, f"{path}: SQLite quick_check found no damage")
    problem = _read_only(path)
    if problem is not None:
        yield Check("database writable", FAILURE, f"{problem}: passes cannot record what they "
                    "build; give the user running nexuslims write access")


def _read_only(path: Path) -> str | None:
    try:
        if os.statvfs(path).f_flag & os.ST_RDONLY:
            return f"{path} lies on a read-only file system"
    except OSError as exc:
        return f"{path} cannot be inspected ({exc.strerror})"
    if not os.access(path, os.W_OK):
        return f"{path} is read-only"
    if not os.access(path.parent, os.W_OK | os.X_OK):
        # SQLite writes its journal next to the database.
        return f"the folder {path.parent} of the database is read-only"
    return None


def check_missing_records(site: Site) -> Iterable[Check]:
    """Every session built into a record still has its record file."""
    from nexuslims.db.buildstate import built_records
    from nexuslims.errors import DatabaseError

    settings = site.settings
    if settings is None or settings.db_url is None:
        return
    try:
        built = _read(settings.db_url, built_records)
    except DatabaseError:
        return  # reported by check_database
    missing = [(ident, path) for ident, _, path in built if not Path(path).is_file()]
    if not missing:
        yield Check("record files", OK, f"all {len(built)} record file(s) are in place")
        return
    shown = " ".join(shlex.quote(ident) for ident, _ in missing[:SHOWN])
    more = f" (and {len(missing) - SHOWN} more: `nexuslims sessions list --status " \
        "COMPLETED` lists them)" if len(missing) > SHOWN else ""
    yield Check("record files", FAILURE,
                f"{len(missing)} session(s) were built but their record file is gone, e.g. "
                f"{missing[0][1]}: rebuild them with `nexuslims sessions reset {shown}` "
                f"and then `nexuslims process`{more}")


def check_share_mounted(site: Site) -> Iterable[Check]:
    """The share passes the site's own test (mount point, marker file), when one is set."""
    settings = site.settings
    if settings is None or settings.instrument_data_path is None:
        return
    if not (settings.share.is_mount or settings.share.marker):
        return
    problem = share_problem(settings)
    if problem is not None:
        yield Check("share mounted", FAILURE, f"{problem}; until then no session is "
                    "concluded")
    else:
        how = "a mount point" if settings.share.is_mount else \
            f"holds its marker {settings.share.marker}"
        yield Check("share mounted", OK, f"{settings.instrument_data_path} is {how}")


def check_empty_folders(site: Site) -> Iterable[Check]:
    """No instrument folder is empty when earlier sessions found files in it."""
    from nexuslims.db.buildstate import instruments_that_found_files
    from nexuslims.errors import DatabaseError

    settings = site.settings
    if settings is None or settings.instrument_data_path is None or settings.db_url is None:
        return
    try:
        had_files = _read(settings.db_url, instruments_that_found_files)
    except DatabaseError:
        return
    for instrument in site.instruments:
        if instrument.pid not in had_files or \
                instrument_folder_problem(settings, instrument) is not None:
            continue  # new, or already a failure of check_instrument_folders
        folder = settings.instrument_data_path / instrument.filestore_path
        try:
            with os.scandir(folder) as entries:
                empty = next(entries, None) is None
        except OSError:
            continue
        if empty:
            yield Check(f"instrument folder {instrument.pid} empty", WARNING,
                        f"{folder} is empty, but earlier sessions found files there: is the "
                        "share unmounted? Its sessions wait, without a verdict, until files "
                        "appear (NX_INSTRUMENT_DATA_MOUNT or NX_INSTRUMENT_DATA_MARKER make "
                        "the check explicit)", instrument.pid)


CHECKS = (check_database_integrity, check_missing_records, check_share_mounted,
          check_empty_folders)
