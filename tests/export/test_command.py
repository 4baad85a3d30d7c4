"""``nexuslims export`` and ``nexuslims sessions show`` as a user runs them."""

from __future__ import annotations

from nexuslims.model.session import Status


def test_export_sends_waiting_records_now_whatever_the_backoff(make_site, tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    site = make_site(NX_LOCAL_EXPORT_PATH=str(blocker / "out"))
    ident, other = site.add_session("a"), site.add_session("b")
    assert {o.status for o in site.run().outcomes} == {Status.BUILT_NOT_EXPORTED}

    fixed = {"NX_LOCAL_EXPORT_PATH": str(tmp_path / "out")}
    one = site.cli("export", "--session", ident, env=fixed)
    assert one.returncode == 0, one.stderr
    assert f"{ident} [scope]: COMPLETED" in one.stdout and other not in one.stdout
    rest = site.cli("export", env=fixed)
    assert rest.returncode == 0, rest.stderr
    assert f"{other} [scope]: COMPLETED" in rest.stdout
    assert "1 exported, 0 still waiting, 0 failed" in rest.stdout
    again = site.cli("export", env=fixed)
    assert "nothing to export" in again.stdout

    shown = site.cli("sessions", "show", ident)
    assert shown.returncode == 0, shown.stderr
    table = shown.stdout.split("export attempts:")[1].splitlines()
    assert table[1].split()[:2] == ["TIME", "DESTINATION"]
    rows = [ln for ln in table if " local " in ln]
    assert "failed" in rows[0] and "NX_LOCAL_EXPORT_PATH" in rows[0]
    assert "ok" in rows[1] and "file://" in rows[1]
    # A completed session goes only to destinations that lack its record: none here.
    redo = site.cli("export", "--session", ident, env=fixed)
    assert "local: exported earlier" in redo.stdout
    assert len(site.uploads(ident)) == 2


def test_export_explains_what_it_cannot_do(make_site) -> None:
    site = make_site()
    waiting = site.add_session()
    unknown = site.cli("export", "--session", "nope")
    assert unknown.returncode == 2 and "no session 'nope'" in unknown.stderr
    unbuilt = site.cli("export", "--session", waiting)
    assert unbuilt.returncode == 1 and "TO_BE_BUILT" in unbuilt.stderr
    bad = site.cli("export", env={"NX_EXPORT_STRATEGY": "some"})
    assert bad.returncode == 1 and "NX_EXPORT_STRATEGY=some" in bad.stderr
    helped = site.cli("export", "--help")
    assert helped.returncode == 0 and "--retry-failed" in helped.stdout


def test_a_destination_enabled_later_gets_the_records_it_lacks(make_site, tmp_path) -> None:
    site = make_site()  # no destination: the outbox is the export
    ident = site.add_session()
    assert [o.status for o in site.run().outcomes] == [Status.COMPLETED]

    out = tmp_path / "copies"
    enabled = site.cli("export", "--session", ident, env={"NX_LOCAL_EXPORT_PATH": str(out)})
    assert enabled.returncode == 0, enabled.stderr
    assert "exported earlier" not in enabled.stdout
    assert f"{ident} [scope]: COMPLETED" in enabled.stdout
    assert (out / site.record(ident).name).read_bytes() == site.record(ident).read_bytes()
    assert [(u.destination, u.success) for u in site.uploads(ident)] == [
        ("outbox", True), ("local", True)]


def test_an_outbox_export_logged_under_the_old_name_does_not_count_for_local(make_site,
                                                                            tmp_path) -> None:
    import datetime as dt

    from nexuslims.db.uploads import log_upload

    site = make_site()
    ident = site.add_session()
    site.run()
    # As the first version logged the fallback: destination "local", mode "outbox".
    log_upload(site.engine, ident, "local", True, when=dt.datetime.now(dt.UTC),
               record_url=site.record(ident).as_uri(), metadata={"mode": "outbox"})
    out = tmp_path / "copies"
    enabled = site.cli("export", "--session", ident, env={"NX_LOCAL_EXPORT_PATH": str(out)})
    assert enabled.returncode == 0 and "exported earlier" not in enabled.stdout
    assert (out / site.record(ident).name).is_file()
