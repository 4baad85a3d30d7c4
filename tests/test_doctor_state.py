"""Doctor's checks of the builder's own state (issue 19), on real sites: a damaged or
read-only SQLite database, records whose file has gone, an unmounted share."""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

from nexuslims.builder.run import run_pass
from nexuslims.config import load_settings
from nexuslims.model.session import Status
from nexuslims.ops.doctor import FAILURE, OK, WARNING, run_checks
from nexuslims.ops.doctor.checks import Site
from nexuslims.ops.doctor.state import check_database_integrity
from tests.privileges import run_as_nobody
from tests.test_pipeline_faults import END, NOW, START, log_session, make_site, put_dm3

MID = START + (END - START) / 2
REPO = Path(__file__).resolve().parents[1]


def checks_named(settings, prefix: str) -> list:
    return [c for c in run_checks(settings, now=NOW) if c.name.startswith(prefix)]


def built_site(tmp_path: Path, corpus: Path, sessions: int = 2):
    settings, engine = make_site(tmp_path)
    put_dm3(corpus, tmp_path / "instr" / "Scope", MID)
    for i in range(sessions):
        log_session(engine, f"s{i}")
    outcomes = run_pass(settings, now=NOW).outcomes
    assert all(o.status == Status.COMPLETED for o in outcomes), outcomes
    return settings, engine


def test_a_damaged_page_of_the_database_is_reported(tmp_path, corpus) -> None:
    settings, engine = built_site(tmp_path, corpus)
    engine.dispose()
    path = Path(settings.db_url.removeprefix("sqlite:///"))
    with sqlite3.connect(path) as conn:  # pages the pass never reads again
        conn.execute("CREATE TABLE ballast (x TEXT)")
        conn.executemany("INSERT INTO ballast VALUES (?)", [("x" * 500,)] * 200)
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.close()
    assert [c.status for c in checks_named(settings, "database integrity")] == [OK]
    with path.open("r+b") as f:
        f.seek((pages - 3) * page_size)
        f.write(random.Random(19).randbytes(4096))
    (check,) = checks_named(settings, "database integrity")
    assert check.status == FAILURE and "damaged" in check.message and "backup" in check.message

    env = {k: v for k, v in os.environ.items() if not k.startswith("NX_")}
    env.update(NX_INSTRUMENT_DATA_PATH=str(tmp_path / "instr"), NX_DATA_PATH=str(tmp_path / "data"),
               NX_DB_PATH=str(path), PYTHONPATH=str(REPO))
    doctor = subprocess.run([sys.executable, "-m", "nexuslims", "doctor"], env=env,
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert doctor.returncode == 1 and "damaged" in doctor.stdout + doctor.stderr


def test_a_database_the_builder_cannot_write_is_reported(tmp_path, corpus) -> None:
    base = Path(tempfile.mkdtemp(prefix="nexuslims-ro-", dir="/tmp"))
    try:
        base.chmod(0o755)
        settings, engine = make_site(base)
        engine.dispose()
        for path in base.rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        site = Site(env=dict(settings.env), settings=settings)
        found = run_as_nobody(lambda: [(c.name, c.status, c.message)
                                       for c in check_database_integrity(site)])
    finally:
        shutil.rmtree(base)
    statuses = {name: (status, message) for name, status, message in found}
    assert statuses["database integrity"][0] == OK
    status, message = statuses["database writable"]
    assert status == FAILURE and "read-only" in message


def test_sessions_whose_record_file_is_gone_are_listed_with_the_rebuild_command(
        tmp_path, corpus) -> None:
    settings, engine = built_site(tmp_path, corpus)
    assert [c.status for c in checks_named(settings, "record files")] == [OK]
    record = next((tmp_path / "data" / "records").rglob("*.xml"))
    owner = "s0" if "s0" in record.name else "s1"
    record.unlink()
    (check,) = checks_named(settings, "record files")
    assert check.status == FAILURE
    assert f"nexuslims sessions reset {owner}" in check.message
    assert "nexuslims process" in check.message
    engine.dispose()


def test_an_emptied_instrument_folder_and_a_missing_marker_are_reported(tmp_path,
                                                                        corpus) -> None:
    settings, engine = built_site(tmp_path, corpus, sessions=1)
    engine.dispose()
    assert checks_named(settings, "instrument folder scope empty") == []
    folder = tmp_path / "instr" / "Scope"
    shutil.rmtree(folder)
    folder.mkdir()
    (check,) = checks_named(settings, "instrument folder scope empty")
    assert check.status == WARNING and "unmounted" in check.message

    marked = load_settings({**settings.env, "NX_INSTRUMENT_DATA_MARKER": ".share"})
    (check,) = checks_named(marked, "share mounted")
    assert check.status == FAILURE and ".share is missing" in check.message
    (tmp_path / "instr" / ".share").write_text("")
    (check,) = checks_named(marked, "share mounted")
    assert check.status == OK
