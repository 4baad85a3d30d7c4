"""Sessions in parallel (issue 12): one pass extracts the files of all its sessions
together, and finishes each session as soon as its own files are done.

The local pool (``NX_EXECUTOR=local``, two workers) and a real plug-in extractor
(entry point ``nexuslims.extractors``) whose files take as long as they say.
"""

from __future__ import annotations

import datetime as dt
import os

import pytest

from nexuslims import db
from nexuslims.pipeline import run_pass
from nexuslims.sessions import Status
from tests.faulty_plugin import install_for_this_process, make_plugin_site
from tests.test_dask import NOW, make_site


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    site = make_plugin_site(tmp_path / "site")
    install_for_this_process(site, monkeypatch)
    yield site
    from nexuslims.extractors import registry

    registry.reload()


def test_a_session_is_finished_when_its_own_files_are_done(plugin, tmp_path):
    # s1 (the first session) holds a file that takes 8 s, s2 only quick ones.
    settings, _ = make_site(tmp_path, None, {"slow.fault": "sleep 8"}, two_sessions=True)
    store = tmp_path / "instr/Scope"
    for i, name in enumerate(("q1.fault", "q2.fault")):
        (store / name).write_text("ok")
        when = dt.datetime(2024, 3, 5, 11, i, tzinfo=dt.UTC).timestamp()
        os.utime(store / name, (when, when))
    summary = run_pass(settings, now=NOW)
    assert [o.identifier for o in summary.outcomes] == ["s1", "s2"]  # in session order
    assert [o.status for o in summary.outcomes] == [Status.COMPLETED] * 2
    assert [o.files for o in summary.outcomes] == [1, 2]
    engine = db.make_engine(settings.db_url)
    try:
        [first] = db.session_detail(engine, "s1").attempts
        [second] = db.session_detail(engine, "s2").attempts
    finally:
        engine.dispose()
    # s2 was extracted alongside s1, and built while s1's slow file was still being read.
    assert second.finished < first.finished
    assert (first.finished - second.finished).total_seconds() > 3
    extract = {a.session_identifier: next(s for s in a.stages if s.name == "extract")
               for a in (first, second)}
    assert extract["s2"].started < extract["s1"].finished
    assert extract["s2"].finished < extract["s1"].finished
