"""Sessions in parallel (issue 12): one pass extracts the files of all its sessions
together, and finishes each session as soon as its own files are done.

The local pool (``NX_EXECUTOR=local``, two workers) and a real plug-in extractor
(entry point ``nexuslims.extractors``) whose files take as long as they say.
"""

from __future__ import annotations

import datetime as dt
import os

from nexuslims.builder.run import run_pass
from nexuslims.model.session import Status
from tests.history import attempts, stage
from tests.test_dask import NOW, make_site


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
    [first] = attempts(settings.db_url, "s1")
    [second] = attempts(settings.db_url, "s2")
    # s2 was extracted alongside s1, and built while s1's slow file was still being read.
    assert second.finished < first.finished
    assert (first.finished - second.finished).total_seconds() > 3
    extract = {a.session_identifier: stage(a) for a in (first, second)}
    assert extract["s2"].started < extract["s1"].finished
    assert extract["s2"].finished < extract["s1"].finished
