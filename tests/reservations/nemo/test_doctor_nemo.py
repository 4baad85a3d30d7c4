"""Doctor's NEMO check against the real NEMO servers on 127.0.0.1."""

from __future__ import annotations

import pytest

from nexuslims.ops.doctor import FAILURE, OK, Site
from nexuslims.ops.doctor.remote import check_nemo
from tests.servers import free_port

pytestmark = pytest.mark.integration


def test_each_nemo_server_answers_with_its_token(nemo) -> None:
    env = {"NX_NEMO_ADDRESS_1": nemo.a.address, "NX_NEMO_TOKEN_1": nemo.a.token,
           "NX_NEMO_ADDRESS_2": nemo.b.address, "NX_NEMO_TOKEN_2": nemo.a.token}
    a, b = check_nemo(Site(env=env))
    assert a.status == OK and "tool(s)" in a.message, a.message
    assert b.status == FAILURE and "rejected the token" in b.message
    assert "NX_NEMO_TOKEN_2" in b.message and nemo.a.token not in b.message


def test_a_nemo_server_that_is_down_fails() -> None:
    address = f"http://127.0.0.1:{free_port()}/api/"
    [check] = check_nemo(Site(env={"NX_NEMO_ADDRESS_1": address, "NX_NEMO_TOKEN_1": "t" * 40}))
    assert check.status == FAILURE and "cannot be reached" in check.message
