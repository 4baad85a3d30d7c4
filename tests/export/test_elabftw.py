"""The ``elabftw`` destination against a fake eLabFTW held to eLabFTW's API contract.

Each test ends with the fake's contract check (no request or answer broke the API
description) and, where it matters, reads the experiment back with the official
``elabapi-python`` client, a second consumer that knows nothing of our code.
"""

from __future__ import annotations

import hashlib
import json
import logging

import pytest
import requests
import sqlalchemy as sa

from nexuslims import db
from nexuslims.db.schema import export_targets
from nexuslims.db.uploads import targets_of_session
from nexuslims.model.session import Status
from nexuslims.ops.doctor import FAILURE, OK, Site
from tests.export.conftest import elabftw_env, later
from tests.export.elabftw_server import ELabFTW

pytestmark = pytest.mark.corpus

FILES = ["digitalmicrograph/test_STEM_image.dm3", "tiff/FEI-Helios-Ebeam-8bits.tif",
         "msa/example1.msa"]


def official_client(server: ELabFTW, key: str | None = None):
    import elabapi_python

    config = elabapi_python.Configuration()
    config.host = f"{server.url}/api/v2"
    config.api_key["Authorization"] = key or server.api_key
    return elabapi_python.ApiClient(config)


def wanted_uploads(site, ident: str) -> dict[str, str]:
    """What the experiment must carry: name -> sha256 of the file on disk."""
    record = site.record(ident)
    files = {record.name: record, record.with_suffix(".eln").name: record.with_suffix(".eln")}
    data = site.settings.data_path / "Scope" / ident
    for path in data.iterdir():
        files[path.name] = path
    return {name: hashlib.sha256(path.read_bytes()).hexdigest()
            for name, path in files.items() if path.is_file()}


def count(server: ELabFTW, method: str, pattern: str) -> int:
    import re

    return sum(1 for m, p in server.requests if m == method and re.fullmatch(pattern, p))


@pytest.fixture
def session(make_site, corpus, elabftw):
    """A site exporting real-file sessions as .eln packages and eLabFTW experiments."""
    site = make_site(NX_ELN_EXPORT="true", NX_WEB_PUBLIC_URL="https://nexus.example.org",
                     **elabftw_env(elabftw))
    return site, site.add_corpus_session(corpus, FILES)


def assert_one_complete_experiment(server: ELabFTW, site, ident: str) -> int:
    """Exactly one live experiment for the session, carrying every file, read officially."""
    import elabapi_python

    [experiment] = [e for e in server.live()
                    if e.metadata["extra_fields"]["Session id"]["value"] == ident]
    client = official_client(server)
    api = elabapi_python.ExperimentsApi(client)
    read = api.get_experiment(experiment.id)
    assert read.title == experiment.title and read.id == experiment.id
    # The client's model drops metadata that arrives as a JSON string (as eLabFTW sends
    # it): the raw answer, through the same client, is where the extra fields are.
    raw = json.loads(api.get_experiment(experiment.id, _preload_content=False).data)
    assert isinstance(raw["metadata"], str)
    assert json.loads(raw["metadata"])["extra_fields"]["Session id"]["value"] == ident
    uploads = elabapi_python.UploadsApi(client).read_uploads("experiments", experiment.id)
    got = {u.real_name: u.hash for u in uploads}
    assert got == wanted_uploads(site, ident)
    return experiment.id


def test_a_session_becomes_one_experiment_with_everything(session, elabftw) -> None:
    site, ident = session
    [outcome] = site.run().outcomes
    assert outcome.status == Status.COMPLETED, outcome.message
    experiment_id = assert_one_complete_experiment(elabftw, site, ident)
    experiment = elabftw.experiments[experiment_id]
    fields = experiment.metadata["extra_fields"]
    assert {"Session id", "Instrument", "Start", "End", "User", "Web page"} <= set(fields)
    assert fields["Instrument"]["value"] == "scope" and fields["User"]["value"] == "alice"
    assert experiment.tags == ["scope", "alice", "NexusLIMS"]
    assert "<h2>Activity 1" in experiment.body
    # Location names the server's own site URL; the id is taken from it, the link is ours.
    [upload] = [u for u in site.uploads(ident) if u.destination == "elabftw"]
    assert upload.record_id == str(experiment_id)
    assert upload.record_url.startswith(elabftw.url + "/experiments.php")
    target = targets_of_session(site.engine, ident)["elabftw"]
    assert target.target_id == str(experiment_id)


def test_the_fake_refuses_what_breaks_the_contract(elabftw) -> None:
    answer = requests.post(f"{elabftw.url}/api/v2/experiments", json={"title": 7},
                           headers={"Authorization": elabftw.api_key}, timeout=10)
    assert answer.status_code == 400 and elabftw.experiments == {}
    assert len(elabftw.violations) == 1 and "title" in elabftw.violations[0]
    elabftw.violations.clear()


def test_failing_after_the_201_and_before_the_uploads(session, elabftw) -> None:
    site, ident = session
    elabftw.fail("POST", r"/experiments/\d+/uploads", times=2)  # both tries of the pass
    [outcome] = site.run().outcomes
    assert outcome.status == Status.BUILT_NOT_EXPORTED
    assert len(elabftw.experiments) == 1
    assert targets_of_session(site.engine, ident)["elabftw"].target_id == "1"
    [outcome] = site.run(later()).exports
    assert outcome.status == Status.COMPLETED, outcome.message
    assert_one_complete_experiment(elabftw, site, ident)
    assert count(elabftw, "POST", "/experiments") == 1


def test_failing_on_the_second_upload_sends_only_what_is_missing(session, elabftw) -> None:
    site, ident = session
    elabftw.fail("POST", r"/experiments/\d+/uploads", skip=1, times=2)
    [outcome] = site.run().outcomes
    assert outcome.status == Status.BUILT_NOT_EXPORTED
    assert len(elabftw.experiments[1].uploads) == 1
    before = count(elabftw, "POST", r"/experiments/\d+/uploads")
    [outcome] = site.run(later()).exports
    assert outcome.status == Status.COMPLETED, outcome.message
    assert_one_complete_experiment(elabftw, site, ident)
    sent = count(elabftw, "POST", r"/experiments/\d+/uploads") - before
    assert sent == len(wanted_uploads(site, ident)) - 1
    assert count(elabftw, "POST", "/experiments") == 1


def test_a_lost_201_and_a_500_are_retried_without_a_duplicate(make_site, corpus,
                                                              elabftw) -> None:
    site = make_site(**elabftw_env(elabftw, NX_ELABFTW_TIMEOUT="1", NX_ELABFTW_RETRIES="3"))
    ident = site.add_corpus_session(corpus, FILES[:1])
    elabftw.fail("POST", "/experiments", "lost")  # created; the answer never arrives
    # The first try's two searches (extra field, then text) find nothing; the retry's
    # first search fails once.
    elabftw.fail("GET", "/experiments", "500", skip=2)
    [outcome] = site.run().outcomes
    assert outcome.status == Status.COMPLETED, outcome.message
    assert len(elabftw.live()) == 1 and count(elabftw, "POST", "/experiments") == 1
    [upload] = site.uploads(ident)
    assert upload.record_id == "1"
    assert [m for m, p in elabftw.requests if p == "/experiments"] == \
        ["GET", "GET", "POST", "GET", "GET"]  # the 500, then found on the third try


def test_a_server_that_hangs_leaves_the_session_waiting(make_site, corpus, elabftw) -> None:
    site = make_site(**elabftw_env(elabftw, NX_ELABFTW_TIMEOUT="0.5"))
    ident = site.add_corpus_session(corpus, FILES[:1])
    elabftw.fail("GET", "/experiments", "hang", times=2)
    [outcome] = site.run().outcomes
    assert outcome.status == Status.BUILT_NOT_EXPORTED
    [upload] = site.uploads(ident)
    assert "within 0.5 s (NX_ELABFTW_TIMEOUT)" in upload.error and "tried 2 time" in upload.error
    assert elabftw.experiments == {}


def test_a_lost_experiment_id_and_a_rebuild_update_the_same_experiment(session,
                                                                       elabftw) -> None:
    site, ident = session
    assert [o.status for o in site.run().outcomes] == [Status.COMPLETED]
    with site.engine.begin() as conn:  # the id is lost (a restored database, say)
        conn.execute(sa.delete(export_targets))
    db.set_session_status(site.engine, ident, site.instrument, Status.TO_BE_BUILT)
    uploads_before = count(elabftw, "POST", r"/experiments/\d+/uploads.*")
    [outcome] = site.run(later()).outcomes
    assert outcome.status == Status.COMPLETED, outcome.message
    assert count(elabftw, "POST", "/experiments") == 1
    assert count(elabftw, "PATCH", r"/experiments/\d+") == 1
    # The rebuild made the same bytes: nothing to send again.
    assert count(elabftw, "POST", r"/experiments/\d+/uploads.*") == uploads_before
    assert targets_of_session(site.engine, ident)["elabftw"].target_id == "1"
    assert_one_complete_experiment(elabftw, site, ident)


def test_a_changed_file_replaces_its_upload(session, elabftw) -> None:
    site, ident = session
    assert [o.status for o in site.run().outcomes] == [Status.COMPLETED]
    [sidecar] = [p for p in (site.settings.data_path / "Scope" / ident).glob("*.msa.json")]
    sidecar.write_text(sidecar.read_text().replace("example1", "example one"))
    db.set_session_status(site.engine, ident, site.instrument, Status.COMPLETED)
    from nexuslims.builder.export_now import export_now

    with site.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM upload_log"))
    [outcome] = export_now(site.settings, session=ident)
    assert outcome.status == Status.COMPLETED, outcome.message
    experiment = elabftw.experiments[1]
    archived = sorted(u.real_name for u in experiment.uploads if u.state == 2)
    # The sidecar changed, and so did the package that holds it; nothing else.
    assert archived == sorted([sidecar.name, site.record(ident).with_suffix(".eln").name])
    assert_one_complete_experiment(elabftw, site, ident)


def test_uploads_without_a_hash_are_compared_by_size(make_site, corpus) -> None:
    server = ELabFTW(no_hash_at=1).start()  # every upload is "100 MB or more"
    try:
        site = make_site(**elabftw_env(server))
        ident = site.add_corpus_session(corpus, FILES[:1])
        assert [o.status for o in site.run().outcomes] == [Status.COMPLETED]
        sent = count(server, "POST", r"/experiments/\d+/uploads.*")
        db.set_session_status(site.engine, ident, site.instrument, Status.TO_BE_BUILT)
        assert [o.status for o in site.run(later()).outcomes] == [Status.COMPLETED]
        assert count(server, "POST", r"/experiments/\d+/uploads.*") == sent
        assert all("hash" not in u for u in [server._upload(server.experiments[1], x)
                                             for x in server.experiments[1].uploads])
    finally:
        server.stop()
    assert server.violations == []


def test_a_refused_key_names_the_setting_and_never_shows_it(make_site, corpus, elabftw,
                                                           caplog) -> None:
    wrong = "9-" + "ab" * 40
    site = make_site(**elabftw_env(elabftw, NX_ELABFTW_API_KEY=wrong))
    ident = site.add_corpus_session(corpus, FILES[:1])
    with caplog.at_level(logging.INFO):
        [outcome] = site.run().outcomes
    assert outcome.status == Status.BUILT_NOT_EXPORTED
    [upload] = site.uploads(ident)
    assert "NX_ELABFTW_API_KEY" in upload.error and "HTTP 401" in upload.error
    assert wrong not in caplog.text and wrong not in (outcome.message or "")
    assert elabftw.experiments == {}


def test_doctor_checks_the_server_and_the_key(elabftw) -> None:
    from nexuslims.ops.doctor.remote import check_elabftw

    [check] = check_elabftw(Site(env=elabftw_env(elabftw)))
    assert check.status == OK and "5.6.0" in check.message
    [check] = check_elabftw(Site(env=elabftw_env(elabftw, NX_ELABFTW_API_KEY="0-bad")))
    assert check.status == FAILURE and "NX_ELABFTW_API_KEY" in check.message
    assert "0-bad" not in check.message


def test_settings_are_checked_by_name_and_the_key_is_never_shown(make_site, elabftw) -> None:
    from nexuslims.config import load_settings
    from nexuslims.errors import ConfigError
    from nexuslims.export import build_exporter

    site = make_site(**elabftw_env(elabftw))
    shown = site.cli("config", "show")
    assert shown.returncode == 0, shown.stderr
    assert "NX_ELABFTW_API_KEY" in shown.stdout and elabftw.api_key not in shown.stdout
    env = {**site.env, "NX_ELABFTW_URL": "elab.example.org", "NX_ELABFTW_API_KEY": "",
           "NX_ELABFTW_EXPERIMENT_CATEGORY": "chemistry", "NX_ELABFTW_RETRIES": "0"}
    with pytest.raises(ConfigError) as caught:
        build_exporter(load_settings(env))
    text = str(caught.value)
    for name in ("NX_ELABFTW_URL", "NX_ELABFTW_API_KEY", "NX_ELABFTW_EXPERIMENT_CATEGORY",
                 "NX_ELABFTW_RETRIES"):
        assert name in text


def test_nexuslims_export_finishes_what_a_pass_left(session, elabftw) -> None:
    site, ident = session
    elabftw.fail("POST", r"/experiments/\d+/uploads", times=2)
    assert [o.status for o in site.run().outcomes] == [Status.BUILT_NOT_EXPORTED]
    done = site.cli("export")
    assert done.returncode == 0, done.stderr
    assert f"{ident} [scope]: COMPLETED" in done.stdout
    assert "1 exported, 0 still waiting, 0 failed" in done.stdout
    assert_one_complete_experiment(elabftw, site, ident)
    assert count(elabftw, "POST", "/experiments") == 1


def test_without_the_extra_field_search_the_text_search_still_finds_it(make_site,
                                                                      corpus) -> None:
    server = ELabFTW(extrafield_search=False).start()
    try:
        site = make_site(**elabftw_env(server))
        ident = site.add_corpus_session(corpus, FILES[:1])
        assert [o.status for o in site.run().outcomes] == [Status.COMPLETED]
        with site.engine.begin() as conn:  # the id is lost
            conn.execute(sa.delete(export_targets))
        db.set_session_status(site.engine, ident, site.instrument, Status.TO_BE_BUILT)
        assert [o.status for o in site.run(later()).outcomes] == [Status.COMPLETED]
        assert len(server.live()) == 1 and count(server, "POST", "/experiments") == 1
        assert any(m == "GET" and p == "/experiments" for m, p in server.requests)
    finally:
        server.stop()
    assert server.violations == []
