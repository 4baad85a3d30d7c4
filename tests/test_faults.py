"""Which failures pass and which are final, and the retry backoff (nexuslims.faults)."""

from __future__ import annotations

import datetime as dt
import errno
import sqlite3

import pytest
import sqlalchemy as sa

from nexuslims.db.engine import translated
from nexuslims.errors import DatabaseError, HarvesterError, RecordInvalid
from nexuslims.faults import MAX_RETRY_DELAY, Deferred, classify, retry_after

T0 = dt.datetime(2024, 3, 5, 12, 0, tzinfo=dt.UTC)


def test_a_full_disk_is_a_passing_fault_with_the_path(tmp_path):
    exc = OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "r.xml"))
    fault = classify(exc)
    assert isinstance(fault, Deferred) and fault.problem == "environment"
    assert str(tmp_path / "r.xml") in str(fault) and "[Errno 28]" in str(fault)


def test_a_locked_database_is_a_passing_fault(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    with pytest.raises(DatabaseError) as caught, translated(url, "writing"):
        raise sa.exc.OperationalError("INSERT ...", {}, sqlite3.OperationalError(
            "database is locked"))
    fault = classify(caught.value)
    assert fault is not None and fault.problem == "environment"
    assert "database is locked" in str(fault)


def test_a_calendar_that_does_not_answer_is_a_passing_fault():
    fault = classify(HarvesterError("https://nemo.example.org/ did not answer"))
    assert fault is not None and fault.problem == "calendar"


@pytest.mark.parametrize("exc", [RecordInvalid("line 3: bogus"), ValueError("bad data"),
                                 OSError(errno.ENAMETOOLONG, "File name too long"),
                                 KeyError("x")])
def test_faults_of_the_data_are_final(exc):
    assert classify(exc) is None


def test_the_backoff_doubles_up_to_a_day():
    base = dt.timedelta(minutes=10)
    waits = [retry_after(n, T0, base) - T0 for n in (1, 2, 3, 4)]
    assert waits == [dt.timedelta(minutes=m) for m in (10, 20, 40, 80)]
    assert retry_after(50, T0, base) - T0 == MAX_RETRY_DELAY
    assert retry_after(3, T0, dt.timedelta(0)) == T0  # NX_RETRY_DELAY_MINUTES=0
