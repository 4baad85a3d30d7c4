"""An existing NexusLIMS 1.4 deployment: refused until upgraded, then processed, rows kept."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.db.conftest import INSTRUMENT_ROW, LEGACY_ROWS, make_nexuslims_14


def cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("NX_", "nexusLIMS"))}
    full.update(env)
    return subprocess.run([sys.executable, "-m", "nexuslims", *args], env=full, cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_a_nexuslims_14_database_is_upgraded_then_processed(tmp_path: Path) -> None:
    db_file = make_nexuslims_14(tmp_path / "nexuslims_db.sqlite")
    with sqlite3.connect(db_file) as con:
        # A second instrument with no calendar, and one of its sessions waiting to be built.
        con.execute("INSERT INTO instruments VALUES ('Quanta-1', 'https://x/tools/?id=9', 'q', "
                    "'https://x/c/9', 'Lab', 'FEI Quanta200', 'q1', './Quanta', 'q-pc', "
                    "'10.0.0.9', 'Q:/', NULL, 'America/New_York')")
        con.execute("INSERT INTO session_log VALUES (41, 'q-session', 'Quanta-1', "
                    "'2022-01-12T09:00:00.000', 'START', 'TO_BE_BUILT', 'erin')")
        con.execute("INSERT INTO session_log VALUES (42, 'q-session', 'Quanta-1', "
                    "'2022-01-12T10:00:00.000', 'END', 'TO_BE_BUILT', 'erin')")
    store = tmp_path / "mmfnexus" / "Quanta"
    store.mkdir(parents=True)
    (tmp_path / "mmfnexus" / "Titan").mkdir()  # mounted: its sessions wait for the calendar
    notes = store / "sample notes.txt"
    notes.write_text("grid 3, region B\n")
    t = dt.datetime(2022, 1, 12, 14, 30, tzinfo=dt.UTC).timestamp()  # 09:30 EST
    os.utime(notes, (t, t))
    # The deployment's own 1.x .env, unchanged.
    (tmp_path / ".env").write_text(
        f"mmfnexus_path={tmp_path / 'mmfnexus'}\nnexusLIMS_path={tmp_path / 'nexusLIMS'}\n"
        f"nexusLIMS_db_path={db_file}\nNexusLIMS_file_strategy=inclusive\n")
    before = sqlite3.connect(db_file).execute(
        "SELECT * FROM session_log ORDER BY id_session_log").fetchall()

    refused = cli(["process"], {}, tmp_path)
    assert refused.returncode == 1
    assert "nexuslims db upgrade" in refused.stderr and "Traceback" not in refused.stderr
    assert "mmfnexus_path is a NexusLIMS 1.x setting name" in refused.stderr

    upgraded = cli(["db", "upgrade"], {}, tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "nexuslims-1.x" in upgraded.stdout
    with sqlite3.connect(db_file) as con:
        assert con.execute("SELECT * FROM session_log ORDER BY id_session_log").fetchall() \
            == before

    ran = cli(["process"], {}, tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert "1 built, 0 failed" in ran.stdout
    with sqlite3.connect(db_file) as con:
        rows = con.execute("SELECT id_session_log, session_identifier, event_type, "
                           "record_status FROM session_log ORDER BY id_session_log").fetchall()
    by_id = {r[0]: r for r in rows}
    # Every legacy row is still there, same id; only the built session changed status.
    for legacy in LEGACY_ROWS:
        assert by_id[legacy[0]][1] == legacy[1]
    assert by_id[41][3] == by_id[42][3] == "COMPLETED"
    assert rows[-1][1:] == ("q-session", "RECORD_GENERATION", "COMPLETED")
    assert rows[-1][0] > 42  # AUTOINCREMENT kept its counter
    # The NEMO instrument's session waits for a NEMO harvester instead of failing.
    assert by_id[20][3] == by_id[21][3] == "TO_BE_BUILT"
    assert "the 'nemo' calendar is not configured (see docs/nemo.md" in ran.stdout
    assert "left for later" in ran.stdout
    assert INSTRUMENT_ROW["harvester"] == "nemo"

    records = list((tmp_path / "nexusLIMS" / "records").glob("*.xml"))
    assert [r.name for r in records] == ["2022-01-12_Quanta-1_q-session.xml"]
    text = records[0].read_text()
    assert "<instrument pid=\"Quanta-1\">FEI Quanta200</instrument>" in text
    assert "Quanta/sample%20notes.txt" in text
