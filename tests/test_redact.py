"""Secrets never stored: servers that echo our credentials back, and where the echo goes.

Real HTTP servers on 127.0.0.1 answer every request with an error whose body echoes
the request headers (``Authorization: Token ...``, ``Authorization: Basic ...``), for
CDCS (HTTP 500, as in issue 10), NEMO and SharePoint (HTTP 400, whose bodies they
quote). After a real ``nexuslims process``, no secret may appear in any file of the
site (pass logs, ``events.jsonl``, the database with its upload log, build history and
harvest state, records), nor on stdout or stderr.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from nexuslims import db, redact
from nexuslims.errors import HarvesterError
from nexuslims.model.session import EventType, Instrument, Status
from tests.db.site import END, START, make_site, run_cli, sqlite_rows

TOKEN = "nemo-tok-6d1f0c8e9a"
CDCS_PASSWORD = "cdcs-pw-Zq8!x@y"
SP_PASSWORD = "sp-pw-4k2j9h"


class EchoServer:
    """Answers every request with ``status`` and a body echoing its headers (after asking
    for NTLM authentication first, with ``ask_ntlm``)."""

    def __init__(self, status: int, wrap=lambda text: text, ask_ntlm: bool = False):
        self.seen: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _echo(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                if ask_ntlm and "Authorization" not in self.headers:
                    # Like SharePoint: ask for NTLM, so the next request carries it.
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", "NTLM")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                # The Authorization line first, so a client quoting only the start of
                # the body quotes it.
                lines = sorted(f"{k}: {v}" for k, v in self.headers.items())
                lines.sort(key=lambda line: not line.lower().startswith("authorization"))
                text = "you sent: " + " | ".join(lines) + f" ({self.command} {self.path})"
                outer.seen.append(text)
                body = wrap(text).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PATCH = do_PUT = _echo

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def echoes() -> Iterator[dict[str, EchoServer]]:
    servers = {"cdcs": EchoServer(500), "nemo": EchoServer(400),
               "sharepoint": EchoServer(400, lambda text: json.dumps(
                   {"error": {"code": "-1", "message": {"value": text}}}))}
    yield servers
    for server in servers.values():
        server.close()


def _add_reserved_instruments(env: dict[str, str], echoes: dict[str, EchoServer]) -> None:
    engine = db.make_engine(env.get("NX_DB_URL") or f"sqlite:///{env['NX_DB_PATH']}")
    for pid, harvester, api_url in (
            ("nemo-tool", "nemo", f"{echoes['nemo'].url}api/tools/?id=1"),
            ("sp-tool", "sharepoint",
             f"{echoes['sharepoint'].url}_vti_bin/ListData.svc/TitanCalendar")):
        db.add_instrument(engine, Instrument(pid=pid, filestore_path="Titan", harvester=harvester,
                                             api_url=api_url, timezone="America/New_York"))
        for event, when in ((EventType.START, START), (EventType.END, END)):
            db.log_session_event(engine, f"{pid}-session", pid, when, event,
                                 Status.TO_BE_BUILT, "alice")
    engine.dispose()


@pytest.mark.corpus
@pytest.mark.slow
def test_echoed_credentials_appear_nowhere_after_a_pass(tmp_path, corpus, echoes):
    # CDCS with Basic credentials; a token travels as NEMO's does (one pass, to stay fast).
    cdcs = {"NX_CDCS_USER": "nexus", "NX_CDCS_PASSWORD": CDCS_PASSWORD}
    env = make_site(tmp_path, corpus, extra={
        "NX_CDCS_URL": echoes["cdcs"].url, "NX_CDCS_RETRIES": "1", **cdcs,
        "NX_NEMO_ADDRESS_1": f"{echoes['nemo'].url}api/", "NX_NEMO_TOKEN_1": TOKEN,
        "NX_NEMO_RETRIES": "0",
        "NX_SHAREPOINT_USER": "LAB\\nexus", "NX_SHAREPOINT_PASSWORD": SP_PASSWORD,
        "NX_SHAREPOINT_RETRIES": "0", "NX_SHAREPOINT_TZ": "America/New_York",
        "NX_DATACITE_EXPORT": "false"})
    _add_reserved_instruments(env, echoes)

    result = run_cli(["process"], env, tmp_path)
    assert result.returncode == 0, result.stderr

    secrets = [TOKEN, CDCS_PASSWORD, SP_PASSWORD,
               base64.b64encode(f"nexus:{CDCS_PASSWORD}".encode()).decode()]
    # The servers were asked with the credentials, and said so in their answers...
    said = " ".join(s for server in echoes.values() for s in server.seen)
    assert f"Token {TOKEN}" in said
    assert f"Basic {secrets[-1]}" in said
    # ... which were stored and shown, with the secrets masked.
    errors = sqlite_rows(env, "SELECT error_message FROM upload_log")
    assert errors and all("***" in e for (e,) in errors), errors
    nemo = sqlite_rows(env, "SELECT error FROM build_attempts WHERE session_identifier = "
                            "'nemo-tool-session'")
    assert nemo and "Authorization: Token ***" in nemo[0][0], nemo
    # SharePoint's NTLM never sends the password itself; its refusal is stored as said.
    sharepoint = sqlite_rows(env, "SELECT error FROM build_attempts WHERE session_identifier"
                                  " = 'sp-tool-session'")
    assert "refused the request (400 Bad Request) (you sent:" in sharepoint[0][0], sharepoint
    assert "Authorization" in result.stdout + result.stderr
    for secret in secrets:
        assert secret not in result.stdout and secret not in result.stderr, secret
        for path in tmp_path.rglob("*"):
            if path.is_file():
                assert secret.encode() not in path.read_bytes(), (secret, path)
    logs = list((tmp_path / "data").rglob("*.log")) + list((tmp_path / "data").rglob("*.jsonl"))
    assert logs  # the pass did write its log files, and they were searched


def test_redact_removes_known_secrets_in_every_form_and_any_authorization_value():
    redact.register({"NX_CDCS_USER": "nexus", "NX_CDCS_PASSWORD": "p@ss word/1",
                     "NX_NEMO_TOKEN_3": "tok3n-value", "NX_DB_URL":
                     "postgresql+psycopg://builder:db-secret-9@db.example.org/nx",
                     "NX_SHORT_TOKEN": "ab"})
    basic = base64.b64encode(b"nexus:p@ss word/1").decode()
    text = (f"token tok3n-value; pw p@ss word/1 quoted p%40ss%20word%2F1; basic {basic}; "
            "db postgresql+psycopg://builder:db-secret-9@db.example.org/nx; "
            "Authorization: Bearer unknown-token-xyz, proxy-authorization=Basic abcd; "
            "https://someone:unlisted@host.example/x; about 'ab'")
    clean = redact.redact(text)
    for secret in ("tok3n-value", "p@ss word/1", "p%40ss%20word%2F1", basic, "db-secret-9",
                   "unknown-token-xyz", "abcd", "unlisted"):
        assert secret not in clean, (secret, clean)
    assert "Authorization: Bearer ***" in clean and "someone:***@host.example" in clean
    assert "about 'ab'" in clean  # values too short to be secrets are left alone
    redact.register({"NX_SHAREPOINT_PASSWORD": 'quo"te\\n-ü'})
    line = json.dumps({"event": "stage", "error": 'server said quo"te\\n-ü'})
    assert "quo" not in redact.redact(line) and "***" in redact.redact(line)


def test_log_records_and_errors_are_redacted_wherever_they_go(caplog):
    redact.register({"NX_CDCS_TOKEN": "log-token-123"})
    logger = logging.getLogger("nexuslims.test_redact")
    with caplog.at_level(logging.INFO, logger="nexuslims"):
        logger.info("server said %s", "Authorization: Token log-token-123")
        try:
            raise ValueError("echo: log-token-123")
        except ValueError:
            logger.exception("failed")
    assert "log-token-123" not in caplog.text
    assert "Authorization: Token ***" in caplog.text and "echo: ***" in caplog.text
    assert str(HarvesterError("body echoed log-token-123")) == "body echoed ***"
