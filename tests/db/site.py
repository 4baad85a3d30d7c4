"""A small facility for the fault tests: real instrument files, a database, real passes."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

from nexuslims import db
from nexuslims.config import load_settings
from nexuslims.model.session import EventType, Instrument, Status

NY = ZoneInfo("America/New_York")
START = dt.datetime(2024, 3, 5, 9, 0)
END = dt.datetime(2024, 3, 5, 12, 0)
FILES = [
    "digitalmicrograph/test_STEM_image.dm3",
    "digitalmicrograph/test_diffraction_pattern.dm3",
    "digitalmicrograph/test-EELS_spectrum.dm3",
    "tiff/FEI-Helios-Ebeam-16bits.tif",
    "digitalmicrograph/multi_signal.dm3",
]


def epoch(minutes: float) -> float:
    return (START.replace(tzinfo=NY) + dt.timedelta(minutes=minutes)).timestamp()


def make_site(root: Path, corpus: Path, *, sessions: int = 1, copies: int = 1,
              db_url: str | None = None, extra: dict[str, str] | None = None,
              ) -> dict[str, str]:
    """Instrument data for ``sessions`` sessions (one per day), each with ``copies`` x
    FILES, a database at head with instrument ``titan``; the settings as environment."""
    env = {"NX_INSTRUMENT_DATA_PATH": str(root / "instrument-data"),
           "NX_DATA_PATH": str(root / "data"),
           "NX_EXTRACT_WORKERS": "1", **(extra or {})}
    if db_url:
        env["NX_DB_URL"] = db_url
    else:
        env["NX_DB_PATH"] = str(root / "nexuslims.db")
    for day in range(sessions):
        store = root / "instrument-data" / "Titan" / f"day{day}"
        store.mkdir(parents=True, exist_ok=True)
        for copy in range(copies):
            for n, rel in enumerate(FILES):
                target = store / f"{copy:03d}_{Path(rel).name}"
                shutil.copyfile(corpus / rel, target)
                when = epoch(day * 24 * 60 + 10 + n + copy / 100)
                os.utime(target, (when, when))
    settings = load_settings(env)
    assert settings.db_url
    if db.current_revision(settings.db_url) is None:
        db.init_db(settings.db_url)
    engine = db.make_engine(settings.db_url)
    try:
        if not db.load_instruments(engine):
            db.add_instrument(engine, Instrument(pid="titan", filestore_path="Titan",
                                                 schema_name="FEI Titan TEM",
                                                 timezone="America/New_York"))
            for day in range(sessions):
                shift = dt.timedelta(days=day)
                for event, when in ((EventType.START, START + shift),
                                    (EventType.END, END + shift)):
                    db.log_session_event(engine, f"session-{day}", "titan", when, event,
                                         Status.TO_BE_BUILT, "alice")
    finally:
        engine.dispose()
    return env


def cli(args: list[str], env: dict[str, str], cwd: Path, **kwargs) -> subprocess.Popen[str]:
    """``python -m nexuslims ARGS`` started in its own process group (nothing inherited
    from NX_* of the test's environment)."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("NX_")}
    full.update(env)
    return subprocess.Popen([sys.executable, "-m", "nexuslims", *args], env=full, cwd=cwd,
                            text=True, start_new_session=True, **kwargs)


def run_cli(args: list[str], env: dict[str, str], cwd: Path,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
    proc = cli(args, env, cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL a process started by :func:`cli` and everything it started."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def wait_for(check: Callable[[], object], timeout: float = 60, what: str = "") -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what or check}")


def sqlite_rows(env: dict[str, str], query: str, *args: object) -> list[tuple]:
    """Rows from the site's SQLite database, read without waiting for a lock."""
    con = sqlite3.connect(env["NX_DB_PATH"], timeout=0.05)
    try:
        return con.execute(query, args).fetchall()
    except sqlite3.OperationalError:  # locked by the pass: ask again later
        return []
    finally:
        con.close()
