"""Session logging over HTTP, as an instrument PC does it: tokens, start, end, refusals."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from nexuslims.demo.files import DEMO_INSTRUMENT
from tests.web.world import OTHER_INSTRUMENT, REPO, Site, WebServer

TITAN = DEMO_INSTRUMENT["pid"]


def cli(site: Site, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NX_")}
    env.update(site.env, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "nexuslims", "tokens", *args], env=env,
                          capture_output=True, text=True, timeout=120, cwd=site.root)


@pytest.fixture(scope="module")
def tokens(site: Site) -> dict[str, str]:
    """Tokens made by the real command: one for any instrument, one bound to the Titan."""
    made = {}
    for name, extra in (("any", []), ("titan", ["--instrument", TITAN])):
        result = cli(site, "create", "--note", f"web test {name}", *extra)
        assert result.returncode == 0, result.stderr
        made[name] = result.stdout.strip().splitlines()[-1]
    return made


def log_rows(site: Site) -> list[tuple]:
    with sqlite3.connect(site.env["NX_DB_PATH"]) as conn:
        return conn.execute("SELECT session_identifier, event_type, record_status "
                            "FROM session_log ORDER BY id_session_log").fetchall()


def post(server: WebServer, path: str, token: str | None, body: dict | None = None
         ) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(server.url + path, json=body, headers=headers, timeout=30)


def test_tokens_are_printed_once_and_stored_only_as_hashes(site: Site, tokens) -> None:
    db_bytes = Path(site.env["NX_DB_PATH"]).read_bytes()
    for token in tokens.values():
        assert token.startswith("nxl_") and len(token) > 40
        assert token.encode() not in db_bytes
    listed = cli(site, "list")
    assert listed.returncode == 0 and "web test titan" in listed.stdout and TITAN in listed.stdout
    assert not any(t in listed.stdout for t in tokens.values())
    refused = cli(site, "create", "--instrument", "no-such-microscope")
    assert refused.returncode == 2 and "unknown instrument" in refused.stderr
    assert cli(site, "revoke", "999").returncode == 2


def test_start_and_end_write_the_session_loggers_rows(server, site: Site, tokens) -> None:
    started = post(server, "/api/sessions/start", tokens["titan"],
                   {"instrument": TITAN, "user": "alice"})
    assert started.status_code == 201, started.text
    identifier = started.json()["id"]
    assert (identifier, "START", "WAITING_FOR_END") in log_rows(site)
    ended = post(server, f"/api/sessions/{identifier}/end", tokens["titan"])
    assert ended.status_code == 200, ended.text
    assert ended.json()["status"] == "TO_BE_BUILT"
    mine = [r for r in log_rows(site) if r[0] == identifier]
    assert mine == [(identifier, "START", "TO_BE_BUILT"), (identifier, "END", "TO_BE_BUILT")]
    again = post(server, f"/api/sessions/{identifier}/end", tokens["titan"])
    assert again.status_code == 409 and "already ended" in again.json()["detail"]
    assert [r for r in log_rows(site) if r[0] == identifier] == mine


@pytest.mark.parametrize("token", [None, "nxl_not-a-real-token", "garbage"])
def test_without_a_valid_token_nothing_is_written(server, site: Site, token) -> None:
    before = log_rows(site)
    response = post(server, "/api/sessions/start", token, {"instrument": TITAN})
    assert response.status_code == 401 and "token" in response.json()["detail"]
    assert response.headers["www-authenticate"] == "Bearer"
    assert log_rows(site) == before


def test_basic_credentials_are_not_a_token(server, site: Site) -> None:
    before = log_rows(site)
    response = httpx.post(server.url + "/api/sessions/start", json={"instrument": TITAN},
                          auth=("admin", "admin"))
    assert response.status_code == 401 and log_rows(site) == before


def test_a_token_bound_to_one_instrument_cannot_log_another(server, site, tokens) -> None:
    before = log_rows(site)
    response = post(server, "/api/sessions/start", tokens["titan"],
                    {"instrument": OTHER_INSTRUMENT})
    assert response.status_code == 403 and OTHER_INSTRUMENT in response.json()["detail"]
    assert log_rows(site) == before
    other = post(server, "/api/sessions/start", tokens["any"], {"instrument": OTHER_INSTRUMENT})
    assert other.status_code == 201
    before = log_rows(site)
    refused = post(server, f"/api/sessions/{other.json()['id']}/end", tokens["titan"])
    assert refused.status_code == 403 and log_rows(site) == before


@pytest.mark.parametrize("body, status, words", [
    ({"instrument": "no-such-microscope"}, 400, "unknown instrument"),
    ({"user": "alice"}, 422, "instrument"),
    ({"instrument": ""}, 422, "instrument"),
    ({"instrument": TITAN, "user": "x" * 51}, 422, "user"),
    ({"instrument": TITAN, "time": "yesterday-ish"}, 422, "time"),
])
def test_bad_start_requests_are_refused_and_write_nothing(server, site, tokens, body, status,
                                                          words) -> None:
    before = log_rows(site)
    response = post(server, "/api/sessions/start", tokens["any"], body)
    assert response.status_code == status, response.text
    assert words in response.text
    assert log_rows(site) == before


def test_end_before_start_and_unknown_sessions_are_refused(server, site, tokens) -> None:
    # Naive times are the instrument's wall clock (the demo Titan is in New York).
    local = dt.datetime.now(ZoneInfo("America/New_York")).replace(microsecond=0)
    start = (local - dt.timedelta(hours=1)).replace(tzinfo=None)
    started = post(server, "/api/sessions/start", tokens["any"],
                   {"instrument": TITAN, "time": start.isoformat()}).json()
    before = log_rows(site)
    early = post(server, f"/api/sessions/{started['id']}/end", tokens["any"],
                 {"time": (start - dt.timedelta(hours=1)).isoformat()})
    assert early.status_code == 400 and "before its start" in early.json()["detail"]
    missing = post(server, "/api/sessions/no-such-session/end", tokens["any"])
    assert missing.status_code == 404
    assert log_rows(site) == before
    offset = (local - dt.timedelta(hours=1)).isoformat()[-6:]
    assert started["start"] == start.isoformat() + offset


def test_a_revoked_token_stops_working(server, site: Site) -> None:
    made = cli(site, "create", "--note", "to revoke")
    token = made.stdout.strip().splitlines()[-1]
    token_id = made.stdout.split()[1]
    assert post(server, "/api/sessions/start", token, {"instrument": TITAN}).status_code == 201
    assert cli(site, "revoke", token_id).returncode == 0
    before = log_rows(site)
    assert post(server, "/api/sessions/start", token, {"instrument": TITAN}).status_code == 401
    assert log_rows(site) == before
