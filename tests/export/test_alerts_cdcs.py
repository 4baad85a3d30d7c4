"""Alerts when CDCS is down: told after N passes in a row, then once when it recovers.

A real CDCS and a real SMTP server (STARTTLS + AUTH), both on 127.0.0.1.
"""

from __future__ import annotations

import datetime as dt

import pytest

from nexuslims.model.session import Status
from nexuslims.ops.alerts import alert_after_pass
from tests.alerts.conftest import certificate, smtp  # noqa: F401 - fixtures
from tests.export.conftest import cdcs_env

pytestmark = pytest.mark.integration


def test_cdcs_down_for_two_passes_is_told_once_and_recovered_once(make_site, cdcs,
                                                                  smtp) -> None:  # noqa: F811
    site = make_site(**cdcs_env(cdcs.url), **smtp.env(NX_ALERT_UNREACHABLE_PASSES="2"))
    ident = site.add_session("a")
    now = dt.datetime.now(dt.UTC)

    def one_pass(hours: float) -> None:
        when = now + dt.timedelta(hours=hours)
        alert_after_pass(site.settings, site.run(now=when), now=when)

    cdcs.stop()
    one_pass(0)
    assert site.status(ident) == Status.BUILT_NOT_EXPORTED
    assert smtp.messages == []  # one failed pass is not news yet
    one_pass(25)  # past the export backoff: tried again, still down
    assert len(smtp.messages) == 1
    body = smtp.messages[0].body
    assert "export destination unreachable" in body and "cannot reach CDCS" in body
    assert f"record of session {ident}" in body  # not exported 24 h after it was built

    cdcs.start()
    one_pass(50)
    assert site.status(ident) == Status.COMPLETED
    assert len(smtp.messages) == 2
    assert "2 recovered" in smtp.messages[1].subject
