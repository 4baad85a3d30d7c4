"""Pairing session-log rows into sessions, with timezones and DST."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from nexuslims.model.session import Instrument, SessionLogRow, pair_sessions, parse_timestamp

NY = ZoneInfo("America/New_York")
TITAN = Instrument(pid="titan", filestore_path="Titan", timezone="America/New_York")


def row(i: int, ident: str, ts: str, event: str, instrument: str = "titan",
        user: str | None = "alice") -> SessionLogRow:
    return SessionLogRow(i, ident, instrument, ts, event, "TO_BE_BUILT", user)


def test_naive_times_are_wall_clock_in_the_instrument_timezone() -> None:
    sessions, bad = pair_sessions([row(1, "s1", "2024-07-01T09:00:00.000", "START"),
                                   row(2, "s1", "2024-07-01T11:30:00", "END")],
                                  {"titan": TITAN})
    assert bad == []
    (s,) = sessions
    assert s.start == dt.datetime(2024, 7, 1, 13, 0, tzinfo=dt.UTC)  # EDT = UTC-4
    assert s.end - s.start == dt.timedelta(hours=2, minutes=30)
    assert s.user == "alice" and s.row_ids == [1, 2]


def test_offsets_are_honoured() -> None:
    (s,), _ = pair_sessions([row(1, "s1", "2024-07-01T09:00:00+02:00", "START"),
                             row(2, "s1", "2024-07-01T10:00:00Z", "END")], {"titan": TITAN})
    assert s.start == dt.datetime(2024, 7, 1, 7, 0, tzinfo=dt.UTC)
    assert s.end == dt.datetime(2024, 7, 1, 10, 0, tzinfo=dt.UTC)


def test_session_across_the_dst_change_keeps_its_real_duration() -> None:
    # 2024-11-03 02:00 EDT -> 01:00 EST: 00:30 to 03:30 wall clock is 4 real hours.
    (s,), _ = pair_sessions([row(1, "s1", "2024-11-03T00:30:00", "START"),
                             row(2, "s1", "2024-11-03T03:30:00", "END")], {"titan": TITAN})
    assert s.end - s.start == dt.timedelta(hours=4)
    assert s.start.astimezone(NY).utcoffset() == dt.timedelta(hours=-4)
    assert s.end.astimezone(NY).utcoffset() == dt.timedelta(hours=-5)
    # Spring forward: 01:30 to 03:30 on 2024-03-10 is one real hour.
    (s,), _ = pair_sessions([row(1, "s2", "2024-03-10T01:30:00", "START"),
                             row(2, "s2", "2024-03-10T03:30:00", "END")], {"titan": TITAN})
    assert s.end - s.start == dt.timedelta(hours=1)


def test_duplicate_end_rows_are_tolerated() -> None:
    (s,), bad = pair_sessions([row(1, "s1", "2024-07-01T09:00:00", "START"),
                               row(2, "s1", "2024-07-01T10:00:00", "END"),
                               row(3, "s1", "2024-07-01T10:05:00", "END")], {"titan": TITAN})
    assert bad == [] and s.end == parse_timestamp("2024-07-01T10:05:00", NY)
    assert s.row_ids == [1, 2, 3]


def test_problems_are_per_session() -> None:
    rows = [row(1, "ok", "2024-07-01T09:00:00", "START"),
            row(2, "ok", "2024-07-01T10:00:00", "END"),
            row(3, "no-end", "2024-07-01T09:00:00", "START"),
            row(4, "no-start", "2024-07-01T10:00:00", "END"),
            row(5, "ghost", "2024-07-01T09:00:00", "START", instrument="unknown"),
            row(6, "ghost", "2024-07-01T10:00:00", "END", instrument="unknown"),
            row(7, "garbled", "yesterday-ish", "START"),
            row(8, "garbled", "2024-07-01T10:00:00", "END"),
            row(9, "backwards", "2024-07-01T10:00:00", "START"),
            row(10, "backwards", "2024-07-01T09:00:00", "END")]
    sessions, bad = pair_sessions(rows, {"titan": TITAN})
    assert [s.identifier for s in sessions] == ["ok"]
    reasons = {b.identifier: b.reason for b in bad}
    assert reasons["no-end"] == "session has a START row but no END"
    assert reasons["no-start"] == "session has an END row but no START"
    assert reasons["ghost"] == "unknown instrument 'unknown'"
    assert reasons["garbled"].startswith("unreadable timestamp")
    assert reasons["backwards"].startswith("session ends")


def test_datetime_values_from_the_database_are_accepted() -> None:
    (s,), _ = pair_sessions([
        SessionLogRow(1, "s", "titan", dt.datetime(2024, 1, 5, 9), "START", "TO_BE_BUILT", None),
        SessionLogRow(2, "s", "titan", dt.datetime(2024, 1, 5, 10), "END", "TO_BE_BUILT", None),
    ], {"titan": TITAN})
    assert s.start == dt.datetime(2024, 1, 5, 14, tzinfo=dt.UTC) and s.user is None


def test_short_id_is_filename_safe() -> None:
    (s,), _ = pair_sessions([row(1, "https://nemo.example/api/usage_events/?id=4521",
                                 "2024-07-01T09:00:00", "START"),
                             row(2, "https://nemo.example/api/usage_events/?id=4521",
                                 "2024-07-01T10:00:00", "END")], {"titan": TITAN})
    assert s.short_id == "4521"
