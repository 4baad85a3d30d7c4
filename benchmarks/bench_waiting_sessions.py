"""Time a pass over many recent sessions that have no files yet (issue 10's "Load").

Builds a site of ``--instruments`` instruments, each with a store of ``--files`` older
files, and ``--sessions`` sessions (default 10,000) that ended in the last day and have
no files yet, so every pass leaves them waiting. Then, in this process:

- **pass**: one real :func:`nexuslims.builder.run.run_pass` (one walk per instrument, no
  database writes for sessions without files);
- **baseline**: what a pass did per session before: one :func:`find_files` walk and an
  attempt opened, its find stage recorded, then deleted. It is timed on a sample of
  ``--baseline-sample`` sessions and scaled to all of them (the per-session cost is
  flat), so the run stays short.

    python benchmarks/bench_waiting_sessions.py [--sessions 10000] [--instruments 5]
        [--files 2000] [--baseline-sample 500] [--keep]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from nexuslims import db
from nexuslims.builder.run import run_pass
from nexuslims.config import load_settings
from nexuslims.db.schema import session_log
from nexuslims.find import find_files
from nexuslims.model.session import Instrument, Session, Status


def build_site(base: Path, sessions: int, instruments: int, files: int):
    """Stores with ``files`` files each, two days or more old; ``sessions`` recent sessions."""
    rng = random.Random(0)
    now = dt.datetime.now(dt.UTC)
    (base / "instr").mkdir(parents=True)
    settings = load_settings({"NX_INSTRUMENT_DATA_PATH": str(base / "instr"),
                              "NX_DATA_PATH": str(base / "data"),
                              "NX_DB_PATH": str(base / "db.sqlite")})
    db.init_db(settings.db_url)
    engine = db.make_engine(settings.db_url)
    pids = [f"scope{i}" for i in range(instruments)]
    for pid in pids:
        db.add_instrument(engine, Instrument(pid=pid, filestore_path=pid, timezone="UTC"))
        for n in range(files):
            folder = base / "instr" / pid / f"user{n % 7}" / f"day{n % 30}"
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"image_{n:05d}.dm3"
            path.write_bytes(b"")
            old = (now - dt.timedelta(days=2 + rng.random() * 60)).timestamp()
            os.utime(path, (old, old))
    rows = []
    for n in range(sessions):
        end = now - dt.timedelta(minutes=5 + rng.random() * 60 * 20)
        start = end - dt.timedelta(minutes=5 + rng.random() * 120)
        for event, when in (("START", start), ("END", end)):
            rows.append({"session_identifier": f"waiting-{n:05d}",
                         "instrument": pids[n % len(pids)], "timestamp": when,
                         "event_type": event,
                         "record_status": Status.TO_BE_BUILT.value, "user": "bench"})
    with engine.begin() as conn:
        conn.execute(sa.insert(session_log), rows)
    return settings, engine


def baseline(settings, engine, sample: list[Session]) -> float:
    """Seconds for the old per-session path over ``sample``."""
    from nexuslims.extractors.registry import known_extensions

    assert settings.instrument_data_path is not None
    extensions = known_extensions()
    t0 = time.perf_counter()
    for session in sample:
        attempt = db.start_attempt(engine, session.identifier, session.instrument.pid)
        started = dt.datetime.now(dt.UTC)
        found = find_files(settings.instrument_data_path / session.instrument.filestore_path,
                           session.start, session.end, extensions=extensions,
                           ignore_patterns=settings.ignore_patterns)
        db.record_stage(engine, attempt, db.StageRecord(
            name="find_files", started=started, finished=dt.datetime.now(dt.UTC), status="ok",
            files_found=len(found.files)))
        db.delete_attempt(engine, attempt)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--instruments", type=int, default=5)
    parser.add_argument("--files", type=int, default=2000, help="files per instrument")
    parser.add_argument("--baseline-sample", type=int, default=500)
    parser.add_argument("--keep", action="store_true", help="keep the site's directory")
    args = parser.parse_args()

    from nexuslims.model.session import pair_sessions

    base = Path(tempfile.mkdtemp(prefix="nexuslims-bench-waiting-"))
    try:
        t0 = time.perf_counter()
        settings, engine = build_site(base, args.sessions, args.instruments, args.files)
        print(f"site: {args.sessions} waiting sessions, {args.instruments} instruments x "
              f"{args.files} files, built in {time.perf_counter() - t0:.1f} s ({base})")

        summary = run_pass(settings)  # first pass: the walk's page cache is warm after it
        t0 = time.perf_counter()
        summary = run_pass(settings)
        pass_s = time.perf_counter() - t0
        waiting = sum(o.status == Status.TO_BE_BUILT for o in summary.outcomes)
        attempts = sum(s.attempts for s in db.list_sessions(engine))
        print(f"pass:     {pass_s:8.2f} s for {len(summary.outcomes)} sessions "
              f"({waiting} left waiting, {attempts} build attempts stored)")

        sessions, _ = pair_sessions(db.session_rows(engine, Status.TO_BE_BUILT),
                                    db.load_instruments(engine))
        sample = random.Random(1).sample(sessions, min(args.baseline_sample, len(sessions)))
        base_s = baseline(settings, engine, sample)
        scaled = base_s * len(sessions) / len(sample)
        print(f"baseline: {base_s:8.2f} s for {len(sample)} sessions (one walk and attempt "
              f"per session) -> {scaled:.1f} s scaled to {len(sessions)}")
        print(f"ratio:    {scaled / pass_s:8.1f}x faster")
        engine.dispose()
    finally:
        if args.keep:
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
