"""Full passes exporting to a real CDCS on 127.0.0.1: published once, never lost."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from nexuslims import db
from nexuslims.model.session import Status
from nexuslims.record.validate import validate_record
from tests.export.cdcs_server import Proxy
from tests.export.conftest import STRICT_TEMPLATE, cdcs_env, later

pytestmark = pytest.mark.integration


def test_a_pass_publishes_the_record_valid_and_public(make_site, cdcs) -> None:
    site = make_site(**cdcs_env(cdcs.url))
    ident = site.add_session()
    summary = site.run()
    assert [o.status for o in summary.outcomes] == [Status.COMPLETED], summary.outcomes
    assert site.status(ident) == Status.COMPLETED

    title = site.record(ident).stem
    [data] = cdcs.records(title)
    assert str(data["workspace"]) == cdcs.public_workspace()
    downloaded = cdcs.download(str(data["id"]))
    assert validate_record(downloaded) == []
    assert downloaded == site.record(ident).read_bytes()

    [upload] = site.uploads(ident)
    assert (upload.destination, upload.success) == ("cdcs", True)
    assert upload.record_id == str(data["id"])
    assert upload.record_url == f"{cdcs.url}data?id={data['id']}"
    assert upload.metadata["found_existing"] is False

    # Nothing left to do: a second pass exports nothing again.
    again = site.run(now=later())
    assert again.outcomes == [] and again.exports == []
    assert len(cdcs.records(title)) == 1 and len(site.uploads(ident)) == 1


def test_an_outage_leaves_the_record_in_the_outbox_until_a_later_pass(make_site, cdcs) -> None:
    site = make_site(**cdcs_env(cdcs.url))
    first, second = site.add_session("a"), site.add_session("b")
    cdcs.stop()
    summary = site.run()
    assert {o.status for o in summary.outcomes} == {Status.BUILT_NOT_EXPORTED}
    assert "cannot reach CDCS" in summary.outcomes[0].message
    assert "unavailable earlier this pass" in summary.outcomes[1].message
    record = site.record(first)
    assert record.is_file() and site.status(first) == Status.BUILT_NOT_EXPORTED
    # The second session was not tried against a server known to be down.
    assert [u.success for u in site.uploads(first)] == [False]
    assert site.uploads(second) == []

    cdcs.start()
    # Within the backoff only the session never tried goes; the other waits.
    summary = site.run()
    assert [(o.identifier, o.status) for o in summary.exports] == [
        (second, Status.COMPLETED)]
    assert site.status(first) == Status.BUILT_NOT_EXPORTED

    summary = site.run(now=later())
    assert [(o.identifier, o.status) for o in summary.exports] == [
        (first, Status.COMPLETED)]
    for ident in (first, second):
        assert len(cdcs.records(site.record(ident).stem)) == 1
        assert site.uploads(ident)[-1].success
        # Exported again from the outbox, never rebuilt.
        assert len(db.session_detail(site.engine, ident).attempts) == 1


def test_a_pass_killed_after_the_upload_does_not_publish_twice(make_site, cdcs) -> None:
    proxy = Proxy(cdcs.url)
    site = make_site(**cdcs_env(proxy.url))
    ident = site.add_session()
    running: list[subprocess.Popen[str]] = []

    def kill_after_post(method: str, path: str, status: int) -> bool:
        if method == "POST" and path.startswith("/rest/data/") and status == 201:
            running[0].send_signal(signal.SIGKILL)  # uploaded, but never told so
            return False
        return True

    proxy.after = kill_after_post
    try:
        proc = subprocess.Popen([sys.executable, "-m", "nexuslims", "process"], cwd=site.root,
                                env=site.process_env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        running.append(proc)
        proc.communicate(timeout=120)
        assert proc.returncode == -signal.SIGKILL
    finally:
        proxy.close()
    title = site.record(ident).stem
    assert len(cdcs.records(title)) == 1
    assert site.status(ident) == Status.TO_BE_BUILT  # the pass never recorded anything
    assert site.uploads(ident) == []

    # The next pass builds it again and finds it in CDCS by its title.
    site.env.update(cdcs_env(cdcs.url))
    summary = site.run()
    assert [o.status for o in summary.outcomes] == [Status.COMPLETED]
    assert len(cdcs.records(title)) == 1
    [upload] = site.uploads(ident)
    assert upload.success and upload.metadata["found_existing"] is True
    assert str(cdcs.records(title)[0]["workspace"]) == cdcs.public_workspace()


def test_a_lost_reply_is_retried_in_the_pass_without_a_duplicate(make_site, cdcs) -> None:
    proxy = Proxy(cdcs.url)
    dropped: list[str] = []

    def drop_first_post_reply(method: str, path: str, status: int) -> bool:
        if method == "POST" and not dropped:
            dropped.append(path)
            return False
        return True

    proxy.after = drop_first_post_reply
    try:
        site = make_site(**cdcs_env(proxy.url))
        ident = site.add_session()
        summary = site.run()
    finally:
        proxy.close()
    assert [o.status for o in summary.outcomes] == [Status.COMPLETED], summary.outcomes
    assert dropped and len(cdcs.records(site.record(ident).stem)) == 1
    posts = [p for m, p in proxy.requests if m == "POST"]
    assert len(posts) == 1  # the retry looked the title up and found it


def test_refused_credentials_stop_cdcs_for_the_pass(make_site, cdcs) -> None:
    proxy = Proxy(cdcs.url)
    secret = "0000000000000000000000000000000000000bad"
    try:
        site = make_site(**cdcs_env(proxy.url, token=secret))
        idents = [site.add_session(n) for n in "abc"]
        summary = site.run()
    finally:
        proxy.close()
    assert [o.status for o in summary.outcomes] == [Status.BUILT_NOT_EXPORTED] * 3
    first = summary.outcomes[0].message
    assert "refused our credentials (HTTP 401" in first and "NX_CDCS_TOKEN" in first
    assert "refused earlier this pass" in summary.outcomes[1].message
    assert len(proxy.requests) == 1  # one refusal, then CDCS is left alone
    for ident in idents:
        assert site.record(ident).is_file()
        assert site.status(ident) == Status.BUILT_NOT_EXPORTED
    logged = json.dumps([o.message for o in summary.outcomes])
    assert secret not in logged and secret not in (site.uploads(idents[0])[0].error or "")


def test_several_templates_and_none_named_is_a_configuration_problem(make_site, cdcs) -> None:
    site = make_site(**cdcs_env(cdcs.url, template=None))
    ident = site.add_session()
    [outcome] = site.run().outcomes
    assert outcome.status == Status.BUILT_NOT_EXPORTED
    assert "global templates" in outcome.message and "NX_CDCS_TEMPLATE" in outcome.message
    assert site.record(ident).is_file()


def test_a_record_cdcs_rejects_is_an_error_until_exported_again(make_site, cdcs) -> None:
    site = make_site(**cdcs_env(cdcs.url, template=STRICT_TEMPLATE))
    ident = site.add_session()
    [outcome] = site.run().outcomes
    assert outcome.status == Status.ERROR
    [upload] = site.uploads(ident)
    assert not upload.success and "rejected the record" in upload.error
    assert "approvedBy" in upload.error  # CDCS's own validation message
    assert site.status(ident) == Status.ERROR
    assert cdcs.records(site.record(ident).stem) == []
    again = site.run(now=later())
    assert again.outcomes == [] and again.exports == []  # ERROR is not retried by passes

    # Without --retry-failed an ERROR session is left alone.
    fixed = cdcs_env(cdcs.url)
    refused = site.cli("export", "--session", ident, env=fixed)
    assert refused.returncode == 1 and "--retry-failed" in refused.stderr

    done = site.cli("export", "--session", ident, "--retry-failed", env=fixed)
    assert done.returncode == 0, done.stderr
    assert f"{ident} [scope]: COMPLETED" in done.stdout
    assert "1 exported, 0 still waiting, 0 failed" in done.stdout
    assert site.status(ident) == Status.COMPLETED
    assert len(cdcs.records(site.record(ident).stem)) == 1

    shown = site.cli("sessions", "show", ident, env=fixed)
    assert shown.returncode == 0, shown.stderr
    assert "export attempts:" in shown.stdout
    attempts = shown.stdout.split("export attempts:")[1]
    lines = [ln for ln in attempts.splitlines() if " cdcs " in f" {ln} "]
    assert len(lines) == 2
    assert "failed" in lines[0] and "rejected the record" in lines[0]
    assert "ok" in lines[1] and "data?id=" in lines[1]


def test_all_needs_every_destination_best_effort_one(make_site, cdcs, tmp_path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the export directory should be")
    broken = str(blocker / "records")

    strict = make_site(**cdcs_env(cdcs.url), NX_LOCAL_EXPORT_PATH=broken)
    ident = strict.add_session()
    [outcome] = strict.run().outcomes
    assert outcome.status == Status.BUILT_NOT_EXPORTED
    assert [(u.destination, u.success) for u in strict.uploads(ident)] == [
        ("cdcs", True), ("local", False)]
    assert "NX_LOCAL_EXPORT_PATH" in strict.uploads(ident)[1].error

    # Once the directory can be written, only the missing copy is made.
    strict.env["NX_LOCAL_EXPORT_PATH"] = str(tmp_path / "published")
    summary = strict.run(now=later())
    assert [o.status for o in summary.exports] == [Status.COMPLETED]
    assert [(u.destination, u.success) for u in strict.uploads(ident)] == [
        ("cdcs", True), ("local", False), ("local", True)]
    assert len(cdcs.records(strict.record(ident).stem)) == 1
    assert (tmp_path / "published" / strict.record(ident).name).read_bytes() == \
        strict.record(ident).read_bytes()

    lenient = make_site(**cdcs_env(cdcs.url), NX_LOCAL_EXPORT_PATH=broken,
                        NX_EXPORT_STRATEGY="best_effort")
    ident = lenient.add_session()
    [outcome] = lenient.run().outcomes
    assert outcome.status == Status.COMPLETED
    assert "local: cannot copy" in outcome.message
    assert [(u.destination, u.success) for u in lenient.uploads(ident)] == [
        ("cdcs", True), ("local", False)]
    assert lenient.run(now=later()).outcomes == []
