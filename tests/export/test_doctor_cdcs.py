"""Doctor's CDCS check against a real CDCS on 127.0.0.1: answers, credentials, template."""

from __future__ import annotations

import pytest

from nexuslims.ops.doctor import FAILURE, OK, Site
from nexuslims.ops.doctor.remote import check_cdcs
from tests.export.conftest import NEXUS_TEMPLATE, cdcs_env
from tests.servers import free_port

pytestmark = pytest.mark.integration


def test_cdcs_answers_accepts_the_token_and_has_the_template(cdcs) -> None:
    [check] = check_cdcs(Site(env=cdcs_env(cdcs.url)))
    assert check.status == OK, check.message
    assert NEXUS_TEMPLATE in check.message


def test_a_wrong_token_a_missing_template_and_a_server_down_fail(cdcs) -> None:
    [check] = check_cdcs(Site(env=cdcs_env(cdcs.url, token="0" * 40)))
    assert check.status == FAILURE and "refused our credentials" in check.message
    assert "NX_CDCS_TOKEN" in check.message

    [check] = check_cdcs(Site(env=cdcs_env(cdcs.url, template="no-such-template")))
    assert check.status == FAILURE and "no global template titled 'no-such-template'" \
        in check.message

    [check] = check_cdcs(Site(env=cdcs_env(f"http://127.0.0.1:{free_port()}/")))
    assert check.status == FAILURE and "cannot reach CDCS" in check.message
