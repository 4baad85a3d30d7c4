"""The outbox without a server: default destination, strategies, backoff, settings."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from nexuslims.config import load_settings
from nexuslims.db.uploads import ExportState, UploadAttempt
from nexuslims.errors import ConfigError
from nexuslims.export import build_exporter
from nexuslims.export.base import ExportResult, Failure, RecordFile
from nexuslims.export.cdcs import CDCSSettings
from nexuslims.export.outbox import Outbox, backoff
from nexuslims.model.session import Status
from tests.export.conftest import later


class Fake:
    """A destination that answers what it is told and remembers what it got."""

    def __init__(self, name: str, *answers: ExportResult):
        self.name, self.priority = name, 0
        self.answers = list(answers)
        self.got: list[str] = []

    def export(self, record: RecordFile) -> ExportResult:
        self.got.append(record.session_identifier)
        return self.answers.pop(0) if self.answers else ExportResult.ok()


def down() -> ExportResult:
    return ExportResult.failed(Failure.UNAVAILABLE, "down")



def test_with_no_destination_the_outbox_is_the_export(make_site) -> None:
    site = make_site()
    ident = site.add_session()
    [outcome] = site.run().outcomes
    assert outcome.status == Status.COMPLETED
    [upload] = site.uploads(ident)
    assert upload.destination == "outbox" and upload.success
    assert upload.record_url == site.record(ident).resolve().as_uri()
    assert upload.metadata == {"mode": "outbox"}


def test_a_copy_goes_to_the_local_export_path(make_site, tmp_path) -> None:
    site = make_site(NX_LOCAL_EXPORT_PATH=str(tmp_path / "out"))
    ident = site.add_session()
    assert [o.status for o in site.run().outcomes] == [Status.COMPLETED]
    record = site.record(ident)
    assert (tmp_path / "out" / record.name).read_bytes() == record.read_bytes()
    assert not list((tmp_path / "out").glob(".*tmp"))


def test_strategies_decide_the_status(make_site) -> None:
    site = make_site()
    settings = site.settings
    record_dir = settings.records_path
    record_dir.mkdir(parents=True)
    ident = site.add_session()
    path = record_dir / "r.xml"
    path.write_text("<x/>")

    def export(strategy: str, *dests: Fake) -> Status:
        return Outbox(list(dests), strategy).export(site.engine, ident, "scope", path).status

    a, b = Fake("a"), Fake("b", down())
    assert export("first_success", a, b) == Status.COMPLETED and b.got == []
    b2 = Fake("b2", down())
    assert export("all", Fake("c"), b2) == Status.BUILT_NOT_EXPORTED
    b3 = Fake("b3", down())
    assert export("best_effort", Fake("d"), b3) == Status.COMPLETED and b3.got == [ident]
    rejected = ExportResult.failed(Failure.REJECTED, "invalid")
    assert export("all", Fake("e"), Fake("f", rejected)) == Status.ERROR
    assert export("best_effort", Fake("g", down()), Fake("h", down())) \
        == Status.BUILT_NOT_EXPORTED


def test_a_destination_that_raises_is_reported_not_raised(make_site) -> None:
    site = make_site()
    ident = site.add_session()
    path = site.root / "r.xml"
    path.write_text("<x/>")

    class Broken(Fake):
        def export(self, record: RecordFile) -> ExportResult:
            raise RuntimeError("plug-in bug")

    outcome = Outbox([Broken("broken")]).export(site.engine, ident, "scope", path)
    assert outcome.status == Status.BUILT_NOT_EXPORTED
    assert "plug-in bug" in outcome.message
    assert not site.uploads(ident)[0].success


def test_retries_back_off_and_never_repeat_a_success(make_site) -> None:
    site = make_site()
    ident = site.add_session()
    site.run()  # built and exported to the default destination
    from nexuslims import db

    db.set_session_status(site.engine, ident, "scope", Status.BUILT_NOT_EXPORTED)
    flaky = Fake("flaky", down(), down())
    clock = [dt.datetime.now(dt.UTC)]

    def retry(minutes: float) -> list:
        clock[0] += dt.timedelta(minutes=minutes)
        outbox = Outbox([Fake("outbox"), flaky], clock=lambda: clock[0])  # one per pass
        return outbox.retry_pending(site.engine, now=clock[0])

    assert [o.status for o in retry(0)] == [Status.BUILT_NOT_EXPORTED]
    assert flaky.got == [ident]  # the outbox had it already: not asked again
    assert retry(9) == []  # one failure: 10 minutes
    assert [o.status for o in retry(2)] == [Status.BUILT_NOT_EXPORTED]
    assert retry(19) == []  # two failures in a row: 20 minutes
    [done] = retry(2)
    assert done.status == Status.COMPLETED and site.status(ident) == Status.COMPLETED
    assert [u.destination for u in site.uploads(ident)] == ["outbox", "flaky", "flaky", "flaky"]
    assert retry(60 * 24 * 7) == []


def test_a_record_gone_from_the_outbox_is_built_again(make_site) -> None:
    site = make_site()
    ident = site.add_session()
    site.run()
    from nexuslims import db

    db.set_session_status(site.engine, ident, "scope", Status.BUILT_NOT_EXPORTED)
    site.record(ident).unlink()
    [outcome] = Outbox([Fake("x")]).retry_pending(site.engine, now=later())
    assert outcome.status == Status.TO_BE_BUILT and "not in the outbox" in outcome.message
    assert site.status(ident) == Status.TO_BE_BUILT
    assert [o.status for o in site.run().outcomes] == [Status.COMPLETED]


def test_backoff_doubles_from_ten_minutes_to_a_day() -> None:
    minutes = [backoff(n).total_seconds() / 60 for n in range(0, 10)]
    assert minutes == [0, 10, 20, 40, 80, 160, 320, 640, 1280, 1440]
    assert backoff(500) == dt.timedelta(hours=24)

    t0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    attempts = [UploadAttempt(i, "s", "cdcs", False, t0 + dt.timedelta(minutes=i))
                for i in range(3)]
    state = ExportState("s", "i", "BUILT_NOT_EXPORTED", "r.xml", None, attempts)
    assert state.consecutive_failures == 3 and state.last_attempt == attempts[-1].timestamp
    assert not Outbox.due(state, attempts[-1].timestamp + dt.timedelta(minutes=39))
    assert Outbox.due(state, attempts[-1].timestamp + dt.timedelta(minutes=40))
    state.uploads.append(UploadAttempt(9, "s", "cdcs", True, t0 + dt.timedelta(hours=1)))
    assert state.consecutive_failures == 0 and state.succeeded == {"cdcs"}


def _settings(tmp_path: Path, **env: str):
    base = {"NX_INSTRUMENT_DATA_PATH": str(tmp_path), "NX_DATA_PATH": str(tmp_path / "d"),
            "NX_DB_PATH": str(tmp_path / "db.sqlite")}
    return load_settings({**base, **env})


def test_settings_problems_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        build_exporter(_settings(tmp_path, NX_EXPORT_STRATEGY="most",
                                 NX_CDCS_URL="cdcs.example.org", NX_CDCS_TIMEOUT="soon",
                                 NX_LOCAL_EXPORT_PATH="relative/dir",
                                 NX_DATACITE_EXPORT="maybe"))
    text = "\n".join(err.value.problems)
    for name in ("NX_EXPORT_STRATEGY=most", "NX_CDCS_URL=cdcs.example.org",
                 "NX_CDCS_TOKEN", "NX_CDCS_TIMEOUT=soon", "NX_LOCAL_EXPORT_PATH=relative/dir",
                 "NX_DATACITE_EXPORT=maybe"):
        assert name in text
    exporter = build_exporter(_settings(tmp_path, NX_EXPORT_STRATEGY=" First_Success ",
                                        NX_DATACITE_EXPORT="yes"))
    assert exporter.strategy == "first_success"
    assert [d.name for d in exporter.destinations] == ["datacite"]


def test_legacy_cdcs_names_work_and_secrets_stay_hidden(tmp_path: Path, caplog) -> None:
    settings = _settings(tmp_path, cdcs_url="https://who:pw@cdcs.example.org",
                         nexusLIMS_user="nx", nexusLIMS_pass="hunter2",
                         NX_LOCAL_EXPORT_PATH=str(tmp_path / "out"))
    exporter = build_exporter(settings)
    assert [d.name for d in exporter.destinations] == ["cdcs", "local"]
    config, problems = CDCSSettings.read(settings.env)
    assert problems == [] and config is not None
    assert (config.user, config.password, config.token) == ("nx", "hunter2", None)
    assert "cdcs_url is a NexusLIMS 1.x setting name" in caplog.text
    assert "hunter2" not in repr(config) and "pw@" not in repr(config)
    cdcs = exporter.destinations[0]
    assert cdcs.client.base == "https://cdcs.example.org/"
