"""Doctor's SharePoint check against the NTLM SharePoint site on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest

from nexuslims.model.session import Instrument
from nexuslims.ops.doctor import FAILURE, OK, Site
from nexuslims.ops.doctor.remote import check_sharepoint
from tests.reservations.sharepoint_server import serve_sharepoint, sharepoint_env


def test_the_calendar_site_answers_with_our_account_or_says_what_to_check(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with serve_sharepoint(tmp_path, monkeypatch) as sharepoint:
        titan = Instrument("titan", "Titan", harvester="sharepoint",
                           api_url=sharepoint.feed_url("FEITitanTEM"))
        [check] = check_sharepoint(Site(env=sharepoint_env(), instruments=[titan]))
        assert check.status == OK, check.message
        assert sharepoint.principals  # NTLM really happened

        [check] = check_sharepoint(Site(env=sharepoint_env(NX_SHAREPOINT_PASSWORD="wrong"),
                                        instruments=[titan]))
        assert check.status == FAILURE and "NX_SHAREPOINT" in check.message
        assert "wrong" not in check.message
    # Without an instrument on SharePoint there is nothing to check.
    assert list(check_sharepoint(Site(env=sharepoint_env()))) == []
