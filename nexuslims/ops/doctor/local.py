"""Checks of this machine: database, paths and free space, instrument folders, find."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from nexuslims.find import instrument_folder_problem
from nexuslims.ops.doctor.checks import FAILURE, OK, WARNING, Check, Site

if TYPE_CHECKING:
    pass

#: Below this much free space a writable path is a warning, below the second a failure.
LOW_SPACE_BYTES = 1 << 30
NO_SPACE_BYTES = 50 << 20
#: An instrument folder without a file modified in this many days is a warning.
DEFAULT_IDLE_DAYS = 30.0
#: Entries looked at per folder when searching for a recent file, so a huge store
#: does not make doctor slow; past it the check says it gave up.
MAX_ENTRIES = 200_000


def check_database(site: Site) -> Iterable[Check]:
    """Reachable, at the current revision; reads the instruments for later checks."""
    from nexuslims import db
    from nexuslims.db.engine import safe_url
    from nexuslims.errors import DatabaseError

    settings = site.settings
    if settings is None or settings.db_url is None:
        yield Check("database", FAILURE, "no database configured: set NX_DB_PATH (or NX_DB_URL)")
        return
    try:
        engine = db.make_engine(settings.db_url)
    except DatabaseError as exc:
        yield Check("database", FAILURE, str(exc))
        return
    try:
        db.require_head(engine)
        site.instruments = db.list_instruments(engine)
    except DatabaseError as exc:
        yield Check("database", FAILURE, str(exc))
        return
    finally:
        engine.dispose()
    yield Check("database", OK, f"{safe_url(settings.db_url)} is at the current revision, "
                f"{len(site.instruments)} instrument(s)")
    if not site.instruments:
        yield Check("instruments", WARNING, "no instruments registered: add them with "
                    "`nexuslims instruments add`")


def check_paths(site: Site) -> Iterable[Check]:
    """The instrument data root is readable; data, records and log paths writable, with space."""
    settings = site.settings
    if settings is None:
        return
    root = settings.instrument_data_path
    if root is None:
        raw = site.env.get("NX_INSTRUMENT_DATA_PATH")
        yield Check("instrument data path", FAILURE,
                    f"{raw} is not a readable directory: mount the instruments' share or fix "
                    "NX_INSTRUMENT_DATA_PATH" if raw else "NX_INSTRUMENT_DATA_PATH is not set")
    elif not root.is_dir() or not os.access(root, os.R_OK | os.X_OK):
        yield Check("instrument data path", FAILURE, f"{root} is not a readable directory: "
                    "mount the instruments' share or fix NX_INSTRUMENT_DATA_PATH")
    else:
        yield Check("instrument data path", OK, f"{root} is readable")
    for label, setting, path in (("data path", "NX_DATA_PATH", settings.data_path),
                                 ("records path", "NX_RECORDS_PATH", settings.records_path),
                                 ("log path", "NX_LOG_PATH", settings.log_path)):
        if path is None:
            yield Check(label, FAILURE, "NX_DATA_PATH is not set" if setting == "NX_DATA_PATH"
                        else f"{setting} is not set (nor NX_DATA_PATH, its default)")
            continue
        yield _writable(label, setting, path)


def _writable(label: str, setting: str, path: Path) -> Check:
    probe = path
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent  # a folder nexuslims will create: its parent must be writable
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        return Check(label, FAILURE, f"{probe} is not a writable directory: give the user "
                     f"running nexuslims write access, or change {setting}")
    free = shutil.disk_usage(probe).free
    shown = f"{free / (1 << 30):.1f} GiB free"
    if free < NO_SPACE_BYTES:
        return Check(label, FAILURE, f"{path}: only {free >> 20} MiB free: free some space "
                     "(old previews, logs) or move it to a larger disk")
    if free < LOW_SPACE_BYTES:
        return Check(label, WARNING, f"{path}: only {shown}: free some space soon")
    where = f"{path} is writable" if probe == path else \
        f"{path} will be created in {probe}, which is writable"
    return Check(label, OK, f"{where}, {shown}")


def check_instrument_folders(site: Site) -> Iterable[Check]:
    """Every instrument's folder exists and can be read."""
    if site.settings is None:
        return
    for instrument in site.instruments:
        name = f"instrument folder {instrument.pid}"
        problem = instrument_folder_problem(site.settings, instrument)
        if problem:
            yield Check(name, FAILURE, problem, instrument.pid)
        else:
            yield Check(name, OK, f"{site.settings.instrument_data_path}/"
                        f"{instrument.filestore_path} is readable", instrument.pid)


def check_timezones(site: Site) -> Iterable[Check]:
    """Every instrument names a valid IANA timezone."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    for instrument in site.instruments:
        name = f"timezone {instrument.pid}"
        if not instrument.timezone:
            yield Check(name, WARNING, "no timezone: naive session times are read in this "
                        f"machine's zone; set one with `nexuslims instruments edit "
                        f"{instrument.pid} --timezone Area/City`", instrument.pid)
            continue
        try:
            ZoneInfo(instrument.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            yield Check(name, FAILURE, f"{instrument.timezone!r} is not an IANA timezone: set "
                        f"one with `nexuslims instruments edit {instrument.pid} --timezone "
                        "Area/City` (e.g. America/New_York)", instrument.pid)
            continue
        yield Check(name, OK, instrument.timezone, instrument.pid)


def check_calendars(site: Site) -> Iterable[Check]:
    """Every instrument's ``harvester`` names a calendar that is configured here."""
    from nexuslims.errors import ConfigError
    from nexuslims.reservations import build_harvesters, harvester_for, unavailable_reason

    if site.settings is None:
        return
    try:
        harvesters = build_harvesters(site.settings)
    except ConfigError:
        return  # reported by the settings check
    for instrument in site.instruments:
        name = f"calendar {instrument.pid}"
        try:
            harvester = harvester_for(instrument.harvester, harvesters)
        except KeyError:
            yield Check(name, FAILURE, f"{unavailable_reason(instrument.harvester)}: its "
                        "sessions wait until it is; or clear the instrument's harvester",
                        instrument.pid)
            continue
        server_for = getattr(getattr(harvester, "settings", None), "server_for", None)
        if server_for is not None and server_for(instrument.api_url) is None:
            yield Check(name, FAILURE, f"api_url {instrument.api_url!r} is on none of the "
                        "NX_NEMO_ADDRESS_<N> servers: fix the api_url or add the server",
                        instrument.pid)
            continue
        yield Check(name, OK, f"{harvester.name or 'none'} (records take their summary from "
                    f"{'the calendar' if harvester.name else 'the session'})", instrument.pid)


def check_find(site: Site) -> Iterable[Check]:
    """GNU find is present (it is much faster than the Python walk on a large store)."""
    from nexuslims import find as files

    exe = shutil.which(files.FIND_EXECUTABLE)
    version = ""
    if exe is not None:
        try:
            version = subprocess.run([exe, "--version"], capture_output=True, text=True,
                                     timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            version = ""
    if "GNU" in version:
        yield Check("find", OK, f"GNU find at {exe} ({version.splitlines()[0]})")
    else:
        what = f"{exe} is not GNU find" if exe else f"no {files.FIND_EXECUTABLE!r} on PATH"
        yield Check("find", WARNING, f"{what}: files are found with the pure-Python walk "
                    "(same result, slower on large stores); install GNU findutils")


def check_recent_files(site: Site) -> Iterable[Check]:
    """Each readable instrument folder has a file modified in the last N days."""
    from nexuslims.config import number_setting

    if site.settings is None or site.settings.instrument_data_path is None:
        return
    problems: list[str] = []
    days = number_setting(site.env, "NX_DOCTOR_IDLE_DAYS", DEFAULT_IDLE_DAYS, problems,
                          minimum=0, expects="a number of days >= 0 (e.g. 30)")
    since = site.now.timestamp() - days * 86400
    for instrument in site.instruments:
        if instrument_folder_problem(site.settings, instrument) is not None:
            continue  # already a failure of check_instrument_folders
        folder = site.settings.instrument_data_path / instrument.filestore_path
        found, looked = _recent_file(folder, since)
        name = f"recent files {instrument.pid}"
        if found is not None:
            yield Check(name, OK, f"{found} was modified in the last {days:g} days",
                        instrument.pid)
        elif looked >= MAX_ENTRIES:
            yield Check(name, WARNING, f"no file modified in the last {days:g} days among the "
                        f"first {MAX_ENTRIES} entries of {folder}", instrument.pid)
        else:
            yield Check(name, WARNING, f"no file in {folder} was modified in the last "
                        f"{days:g} days: check that the instrument PC still writes there "
                        "(NX_DOCTOR_IDLE_DAYS sets the period)", instrument.pid)


def _recent_file(folder: Path, since: float) -> tuple[Path | None, int]:
    looked = 0
    stack = [folder]
    while stack and looked < MAX_ENTRIES:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    looked += 1
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(Path(entry.path))
                        elif entry.stat().st_mtime >= since:
                            return Path(entry.path), looked
                    except OSError:
                        continue
        except OSError:
            continue
    return None, looked


CHEAP = (check_database, check_paths, check_instrument_folders, check_timezones,
         check_calendars, check_find)
SLOW = (check_recent_files,)
