"""A pass over many sessions that have nothing new is cheap (issue 10 "Load", issue 12)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import stat
from pathlib import Path

import pytest

from nexuslims import db
from nexuslims import find as files
from nexuslims.builder.run import run_pass
from nexuslims.model.session import Instrument, Status
from tests.test_pipeline_faults import log_session, make_site


@pytest.mark.skipif(shutil.which("find") is None, reason="GNU find is not installed")
def test_waiting_sessions_cost_one_walk_per_instrument_and_no_writes(tmp_path, monkeypatch):
    # A find that logs each run, then does the real work.
    calls = tmp_path / "find-calls"
    wrapper = tmp_path / "logging-find"
    wrapper.write_text(f'#!/bin/sh\necho "$2" >> {calls}\nexec {shutil.which("find")} "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(files, "FIND_EXECUTABLE", str(wrapper))

    settings, engine = make_site(tmp_path)
    db.add_instrument(engine, Instrument(pid="other", filestore_path="Other", timezone="UTC"))
    for folder in ("Scope", "Other"):
        old = tmp_path / "instr" / folder / "old.dm3"
        old.parent.mkdir(parents=True)
        old.write_bytes(b"x")
        os.utime(old, (0, 0))
    now = dt.datetime.now(dt.UTC)
    for n in range(40):
        end = now - dt.timedelta(minutes=5 + n)
        log_session(engine, f"w{n}", start=end - dt.timedelta(hours=1), end=end,
                    instrument=("scope", "other")[n % 2])
    db_file = Path(settings.db_url.removeprefix("sqlite:///"))
    before = db_file.read_bytes()

    summary = run_pass(settings)
    assert len(summary.outcomes) == 40
    assert {o.status for o in summary.outcomes} == {Status.TO_BE_BUILT}
    assert all("no files yet" in (o.message or "") for o in summary.outcomes)
    assert sorted(calls.read_text().split()) == sorted(
        str(tmp_path / "instr" / f) for f in ("Other", "Scope"))
    assert db_file.read_bytes() == before  # not one attempt opened and deleted
    engine.dispose()
