"""Session logging by hand or over HTTP: the rows NexusLIMS 1.x's session logger wrote."""

import datetime as dt

import pytest
import sqlalchemy as sa

from nexuslims import db
from nexuslims.db.schema import session_log
from nexuslims.model.session import Instrument, pair_sessions
from nexuslims.sessions.logbook import (
    SessionLogRefused,
    add_session,
    end_session,
    reset_sessions,
    session_status,
    start_session,
)

TZ = "America/New_York"


@pytest.fixture
def engine(tmp_path):
    url = f"sqlite:///{tmp_path / 'log.db'}"
    db.init_db(url)
    engine = db.make_engine(url)
    db.add_instrument(engine, Instrument(pid="TEM-1", filestore_path="tem", timezone=TZ))
    yield engine
    engine.dispose()


def _rows(engine, identifier):
    with engine.connect() as conn:
        return conn.execute(sa.select(session_log.c.event_type, session_log.c.record_status)
                            .where(session_log.c.session_identifier == identifier)
                            .order_by(session_log.c.id_session_log)).all()


def test_start_then_end_writes_the_1x_logger_rows_and_pairs_into_a_session(engine):
    t0 = dt.datetime(2026, 6, 1, 14, 0, tzinfo=dt.UTC)
    started = start_session(engine, "TEM-1", user="alice", now=t0)
    assert _rows(engine, started.identifier) == [("START", "WAITING_FOR_END")]
    ended = end_session(engine, started.identifier, now=t0 + dt.timedelta(hours=2))
    assert ended.status == "TO_BE_BUILT"
    assert _rows(engine, started.identifier) == [("START", "TO_BE_BUILT"),
                                                  ("END", "TO_BE_BUILT")]
    sessions, bad = pair_sessions(db.session_rows(engine), db.load_instruments(engine))
    assert not bad and len(sessions) == 1
    assert (sessions[0].start, sessions[0].end) == (t0, t0 + dt.timedelta(hours=2))
    assert sessions[0].user == "alice"


def test_add_takes_naive_times_as_the_instruments_wall_clock(engine):
    logged = add_session(engine, "TEM-1", dt.datetime(2026, 1, 5, 9), dt.datetime(2026, 1, 5, 11),
                         identifier="manual-1")
    sessions, _ = pair_sessions(db.session_rows(engine), db.load_instruments(engine))
    assert logged.identifier == "manual-1"
    assert sessions[0].start == dt.datetime(2026, 1, 5, 14, tzinfo=dt.UTC)  # EST is UTC-5


@pytest.mark.parametrize("call, message", [
    (lambda e: start_session(e, "NOPE"), "unknown instrument 'NOPE'"),
    (lambda e: add_session(e, "TEM-1", dt.datetime(2026, 1, 5, 11), dt.datetime(2026, 1, 5, 9)),
     "is not after the start"),
    (lambda e: end_session(e, "missing"), "no session 'missing'"),
])
def test_bad_input_is_refused_with_nothing_written(engine, call, message):
    with pytest.raises(SessionLogRefused, match=message):
        call(engine)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(session_log)).scalar() == 0


def test_an_ended_session_cannot_end_again_and_an_id_cannot_be_reused(engine):
    s = start_session(engine, "TEM-1", identifier="pc-42")
    end_session(engine, s.identifier)
    with pytest.raises(SessionLogRefused, match="already ended"):
        end_session(engine, s.identifier)
    with pytest.raises(SessionLogRefused, match="already used"):
        start_session(engine, "TEM-1", identifier="pc-42")
    assert session_status(engine, "pc-42") == "TO_BE_BUILT"
    assert len(_rows(engine, "pc-42")) == 2


def test_an_end_before_the_start_is_refused(engine):
    t0 = dt.datetime(2026, 6, 1, 14, 0, tzinfo=dt.UTC)
    s = start_session(engine, "TEM-1", now=t0)
    with pytest.raises(SessionLogRefused, match="before its start"):
        end_session(engine, s.identifier, now=t0 - dt.timedelta(minutes=1))
    assert _rows(engine, s.identifier) == [("START", "WAITING_FOR_END")]


def test_reset_sends_finished_sessions_back_all_or_none(engine):
    for ident in ("done", "failed", "open"):
        start_session(engine, "TEM-1", identifier=ident,
                      now=dt.datetime(2026, 6, 1, 14, tzinfo=dt.UTC))
    for ident, status in (("done", "COMPLETED"), ("failed", "ERROR")):
        end_session(engine, ident, now=dt.datetime(2026, 6, 1, 15, tzinfo=dt.UTC))
        db.set_session_status(engine, ident, "TEM-1", status)
    with pytest.raises(SessionLogRefused, match="'open' has not ended"):
        reset_sessions(engine, ["done", "open"])
    assert session_status(engine, "done") == "COMPLETED"  # nothing written
    reset = reset_sessions(engine, ["done", "failed", "done"])
    assert [(r.identifier, r.status) for r in reset] == [("done", "TO_BE_BUILT"),
                                                        ("failed", "TO_BE_BUILT")]
    assert _rows(engine, "failed") == [("START", "TO_BE_BUILT"), ("END", "TO_BE_BUILT"),
                                       ("RECORD_GENERATION", "TO_BE_BUILT"),
                                       ("RECORD_GENERATION", "TO_BE_BUILT")]
    sessions, bad = pair_sessions(db.session_rows(engine), db.load_instruments(engine))
    assert sorted(s.identifier for s in sessions) == ["done", "failed"] and not bad
