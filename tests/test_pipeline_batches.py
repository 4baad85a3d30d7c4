"""A backlog is built a batch of sessions at a time (issue 22): the pass holds one
batch's files and datasets, not the backlog's, and writes the same records."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

from nexuslims import db
from nexuslims.builder import batch
from nexuslims.builder.run import run_pass
from nexuslims.config import load_settings
from nexuslims.model.session import EventType, Instrument, Status

NOW = dt.datetime(2024, 3, 20, 12, 0, tzinfo=dt.UTC)
FILES = ["msa/example1.msa", "msa/example2.msa", "nexuslims/647_leo_edax_test.msa",
         "tiff/FEI-Helios-Ebeam-8bits.tif"]


def backlog(base: Path, corpus: Path, sessions: int = 5):
    """``sessions`` sessions on consecutive days, four real files each."""
    store = base / "instr" / "Scope"
    store.mkdir(parents=True)
    settings = load_settings({"NX_INSTRUMENT_DATA_PATH": str(base / "instr"),
                              "NX_DATA_PATH": str(base / "data"),
                              "NX_DB_PATH": str(base / "db.sqlite"),
                              "NX_EXTRACT_WORKERS": "2"})
    db.init_db(settings.db_url)
    engine = db.make_engine(settings.db_url)
    db.add_instrument(engine, Instrument(pid="scope", filestore_path="Scope", timezone="UTC"))
    for n in range(sessions):
        start = dt.datetime(2024, 3, 1 + n, 9, 0, tzinfo=dt.UTC)
        for k, rel in enumerate(FILES):
            target = store / f"day{n}_{k}_{Path(rel).name}"
            shutil.copyfile(corpus / rel, target)
            when = (start + dt.timedelta(minutes=10 + k)).timestamp()
            os.utime(target, (when, when))
        for event, when in ((EventType.START, start),
                            (EventType.END, start + dt.timedelta(hours=2))):
            db.log_session_event(engine, f"s{n}", "scope", when, event, Status.TO_BE_BUILT,
                                 "ann")
    engine.dispose()
    return settings


def test_a_backlog_is_extracted_in_batches_with_the_same_records(tmp_path, corpus,
                                                                  monkeypatch):
    calls: list[int] = []
    real = batch.extract_jobs

    def counting(jobs, **kwargs):
        calls.append(len(jobs))
        return real(jobs, **kwargs)

    monkeypatch.setattr(batch, "extract_jobs", counting)
    records = {}
    for size in (10**6, 6):
        monkeypatch.setattr(batch, "BATCH_FILES", size)
        calls.clear()
        settings = backlog(tmp_path / str(size), corpus)
        summary = run_pass(settings, now=NOW)
        assert [o.status for o in summary.outcomes] == [Status.COMPLETED] * 5
        assert [o.identifier for o in summary.outcomes] == [f"s{n}" for n in range(5)]
        records[size] = {o.identifier: o.record_path.read_bytes().replace(
            str(tmp_path / str(size)).encode(), b"") for o in summary.outcomes}
        if size == 6:  # two sessions (8 files) reach the batch; the fifth is the rest
            assert calls == [8, 8, 4]
        else:
            assert calls == [20]
    assert records[6] == records[10**6]


def test_a_pass_reads_each_instruments_profile_once(tmp_path, corpus, monkeypatch):
    # Reading a profile lists every installed package's entry points (10 ms or more):
    # once per session was a tenth of the coordinator's CPU on 100-file sessions.
    from nexuslims.builder import session

    reads: list[str] = []
    real = session.load_profile

    def counting(instrument, env):
        reads.append(instrument)
        return real(instrument, env)

    monkeypatch.setattr(session, "load_profile", counting)
    settings = backlog(tmp_path, corpus, sessions=3)
    summary = run_pass(settings, now=NOW)
    assert [o.status for o in summary.outcomes] == [Status.COMPLETED] * 3
    assert reads == ["scope"]


def test_an_unreachable_cluster_is_asked_once_for_all_batches(tmp_path, corpus, monkeypatch):
    # Each batch used to mean a new executor: an unreachable scheduler would have been
    # waited for (NX_DASK_TIMEOUT) once per batch. It is asked once; every session of
    # every batch is left for the next pass with the same error.
    import socket

    from nexuslims.config import load_settings

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        nowhere = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    base = backlog(tmp_path, corpus, sessions=3)
    settings = load_settings({"NX_INSTRUMENT_DATA_PATH": str(base.instrument_data_path),
                              "NX_DATA_PATH": str(base.data_path),
                              "NX_DB_PATH": str(tmp_path / "db.sqlite"),
                              "NX_EXECUTOR": "dask", "NX_DASK_SCHEDULER": nowhere,
                              "NX_DASK_TIMEOUT": "2"})
    opened: list[str] = []
    real = batch.open_executor

    def counting(choice, **kwargs):
        opened.append(choice.kind)
        return real(choice, **kwargs)

    monkeypatch.setattr(batch, "open_executor", counting)
    monkeypatch.setattr(batch, "BATCH_FILES", 4)  # one session (4 files) per batch
    summary = run_pass(settings, now=NOW)
    assert opened == ["dask"]
    assert [o.status for o in summary.outcomes] == [Status.TO_BE_BUILT] * 3
    assert all(nowhere in o.message for o in summary.outcomes)
