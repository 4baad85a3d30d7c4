"""The network edge (issue 19), over real HTTP: `nexuslims serve` on 127.0.0.1.

Token before body, a capped body, short error answers, time ranges and control
characters on the session API, the proxy user header only from trusted proxies, a
working access log, search input that answers 400 instead of 500, and the outbound
checks of /builder run once for many readers.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from nexuslims import db
from nexuslims.db.tokens import create_token
from nexuslims.model.session import Instrument
from tests.web.world import REPO, WebServer

TITAN = "Titan-edge"


@dataclass
class Edge:
    env: dict[str, str]
    token: str
    root: Path

    def rows(self) -> list[tuple]:
        with sqlite3.connect(self.env["NX_DB_PATH"]) as conn:
            return conn.execute("SELECT session_identifier, user, timestamp FROM session_log "
                                "ORDER BY id_session_log").fetchall()


class CountingServer:
    """An HTTP server on 127.0.0.1 that answers 503 to everything and counts requests."""

    def __init__(self) -> None:
        self.count = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                outer.count += 1
                self.send_response(503)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_GET  # noqa: N815

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def cdcs() -> Iterator[CountingServer]:
    server = CountingServer()
    yield server
    server.close()


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory, cdcs: CountingServer) -> Edge:
    root = tmp_path_factory.mktemp("edge")
    (root / "instr" / "Titan").mkdir(parents=True)
    env = {"NX_INSTRUMENT_DATA_PATH": str(root / "instr"), "NX_DATA_PATH": str(root / "data"),
           "NX_DB_PATH": str(root / "db.sqlite"), "NX_API_MAX_SESSION_HOURS": "2",
           "NX_CDCS_URL": cdcs.url, "NX_CDCS_TOKEN": "cdcs-token-edge"}
    url = f"sqlite:///{root / 'db.sqlite'}"
    db.init_db(url)
    engine = db.make_engine(url)
    db.add_instrument(engine, Instrument(TITAN, "Titan", timezone="UTC"))
    token = create_token(engine, note="edge")
    engine.dispose()
    return Edge(env, token[1], root)


@pytest.fixture(scope="module")
def server(edge: Edge) -> Iterator[WebServer]:
    started = WebServer(edge.env, edge.root / "serve.log")
    try:
        yield started.wait()
    finally:
        started.stop()


def post(server: WebServer, path: str, token: str | None, *, headers: dict | None = None,
         **kwargs) -> httpx.Response:
    sent = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(server.url + path, headers={**sent, **(headers or {})}, timeout=30,
                      **kwargs)


def raw_request(server: WebServer, head: str, timeout: float = 20) -> bytes:
    """Send only ``head`` (request line and headers) and read the answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        sock.sendall(head.encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        return answer


# --- the token before the body, a capped body, short errors -------------------------


def test_a_request_without_a_token_is_refused_before_its_body_arrives(server) -> None:
    # 30 kB announced, none sent: only a server that looks at the token first answers.
    answer = raw_request(server, "POST /api/sessions/start HTTP/1.1\r\nHost: x\r\n"
                         "Content-Type: application/json\r\nContent-Length: 30000\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]


def test_a_large_body_is_refused_unread_even_with_a_token(server, edge) -> None:
    answer = raw_request(server, "POST /api/sessions/start HTTP/1.1\r\nHost: x\r\n"
                         f"Authorization: Bearer {edge.token}\r\n"
                         "Content-Type: application/json\r\nContent-Length: 100000000\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def test_a_streamed_body_past_the_limit_is_refused(server, edge) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"instrument": "' + b"x" * 50_000
        yield b"x" * 50_000 + b'"}'

    response = post(server, "/api/sessions/start", edge.token, content=chunks(),
                    headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and "NX_WEB_MAX_BODY_BYTES" in response.text


def test_a_refused_body_is_not_echoed(server, edge) -> None:
    before = edge.rows()
    payload = "A" * 20_000
    response = post(server, "/api/sessions/start", edge.token,
                    json={"instrument": TITAN, "user": payload})
    assert response.status_code == 422
    assert "user" in response.text and payload[:200] not in response.text
    assert len(response.content) < 2_000
    assert edge.rows() == before


# --- time ranges and control characters ---------------------------------------------


def iso(when: dt.datetime) -> str:
    return when.isoformat()


@pytest.mark.parametrize("when, words", [
    (dt.datetime(2099, 1, 1, tzinfo=dt.UTC), "future"),
    (dt.datetime(2016, 1, 1, tzinfo=dt.UTC), "NX_API_MAX_AGE_HOURS"),
    (dt.datetime(1, 1, 1, tzinfo=dt.UTC), "NX_API_MAX_AGE_HOURS"),
])
def test_starts_far_from_now_are_refused(server, edge, when, words) -> None:
    before = edge.rows()
    response = post(server, "/api/sessions/start", edge.token,
                    json={"instrument": TITAN, "time": iso(when)})
    assert response.status_code == 400 and words in response.json()["detail"]
    assert edge.rows() == before


def test_a_session_longer_than_the_limit_is_not_ended_by_the_api(server, edge) -> None:
    now = dt.datetime.now(dt.UTC)
    started = post(server, "/api/sessions/start", edge.token,
                   json={"instrument": TITAN, "time": iso(now - dt.timedelta(hours=3))})
    assert started.status_code == 201, started.text
    before = edge.rows()
    ended = post(server, f"/api/sessions/{started.json()['id']}/end", edge.token)
    assert ended.status_code == 400 and "NX_API_MAX_SESSION_HOURS" in ended.json()["detail"]
    assert edge.rows() == before
    near = post(server, "/api/sessions/start", edge.token,
                json={"instrument": TITAN, "time": iso(now - dt.timedelta(minutes=30))})
    assert post(server, f"/api/sessions/{near.json()['id']}/end", edge.token).status_code == 200


def test_control_characters_are_stripped_from_ids_and_names(server, edge) -> None:
    response = post(server, "/api/sessions/start", edge.token,
                    json={"instrument": TITAN, "id": "run-\x1b[2J\x1b[31m42\x00\x07",
                          "user": "al\x1b]0;pwned\x07ice\r\n"})
    assert response.status_code == 201, response.text
    assert response.json()["id"] == "run-42" and response.json()["user"] == "alice"
    assert ("run-42", "alice") in [(r[0], r[1]) for r in edge.rows()]


# --- search input --------------------------------------------------------------------


@pytest.mark.parametrize("path, params", [
    ("/", {"q": "lamella\x00"}),
    ("/api/records", {"q": "a\x00b"}),
    ("/api/records", {"q": " ".join(f"word{i}" for i in range(1500))}),
    ("/", {"q": " ".join(f"w{i}" for i in range(1500))}),
    ("/api/records", {"page": str(2**64)}),
    ("/records/99999999999999999999", {}),
    ("/api/records/9223372036854775808", {}),
    ("/records/18446744073709551616/datasets/1/preview.png", {}),
])
def test_hostile_search_and_ids_answer_400_with_a_message(server, path, params) -> None:
    response = httpx.get(server.url + path, params=params, timeout=30)
    assert response.status_code == 400, (path, response.status_code, response.text[:300])
    assert len(response.content) < 10_000
    assert "Internal Server Error" not in response.text


# --- the access log, the checks of /builder ------------------------------------------


def test_each_request_writes_one_access_line_and_no_logging_error(server, edge) -> None:
    for _ in range(3):
        assert httpx.get(server.url + "/healthz", timeout=30).status_code in (200, 503)
    httpx.get(server.url + "/no-such-page?marker=access-log-check", timeout=30)
    log = (edge.root / "serve.log").read_text()
    assert "Logging error" not in log
    assert log.count('"GET /healthz HTTP/1.1"') >= 3
    assert log.count("GET /no-such-page?marker=access-log-check HTTP/1.1") == 1


def test_the_outbound_checks_of_the_builder_page_run_once_for_many_readers(server,
                                                                            cdcs) -> None:
    first = httpx.get(server.url + "/builder", params={"checks": "all"}, timeout=60)
    assert first.status_code == 200 and "CDCS" in first.text
    asked = cdcs.count
    assert asked >= 1
    for _ in range(3):
        again = httpx.get(server.url + "/builder", params={"checks": "all"}, timeout=60)
        assert again.status_code == 200 and "CDCS" in again.text
    assert cdcs.count == asked


# --- the proxy user header -----------------------------------------------------------


def test_the_user_header_is_believed_only_from_trusted_proxies(edge, tmp_path) -> None:
    env = dict(edge.env, NX_WEB_AUTH="header", NX_WEB_TRUSTED_PROXIES="192.0.2.7")
    started = WebServer(env, tmp_path / "header.log")
    try:
        started.wait()
        forged = httpx.get(started.url + "/", headers={"X-Remote-User": "admin"}, timeout=30)
        assert forged.status_code == 401 and "NX_WEB_TRUSTED_PROXIES" in forged.text
    finally:
        started.stop()


def test_header_mode_on_a_public_address_needs_trusted_proxies(edge, tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NX_")}
    env.update(edge.env, NX_WEB_AUTH="header", PYTHONPATH=str(REPO))
    result = subprocess.run([sys.executable, "-m", "nexuslims", "serve", "--host", "0.0.0.0",
                             "--port", "1"], env=env, cwd=tmp_path, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    assert "NX_WEB_TRUSTED_PROXIES" in result.stderr


def test_web_settings_refuse_a_bad_proxy_list(edge) -> None:
    from nexuslims.errors import ConfigError
    from nexuslims.web import load_web_settings

    with pytest.raises(ConfigError) as caught:
        load_web_settings(dict(edge.env, NX_WEB_TRUSTED_PROXIES="10.0.0.1 proxy.example"))
    assert "proxy.example" in str(caught.value)


# --- every link of a record resolves; raw files only from their own folder ------------


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> Iterator[tuple]:
    """A record built by a real pass over files with a backslash and non-UTF-8 bytes in
    their names, served with raw files on."""
    from nexuslims.builder.run import run_pass
    from tests.test_pipeline_faults import NOW, START, log_session, make_site, put_dm3

    root = tmp_path_factory.mktemp("odd-names")
    settings, engine = make_site(root, NX_WEB_SERVE_RAW_FILES="true")
    folder = root / "instr" / "Scope"
    mid = START + dt.timedelta(hours=1)
    put_dm3(corpus, folder, mid, "back\\slash.dm3")
    put_dm3(corpus, folder, mid + dt.timedelta(minutes=1), "plain.dm3")
    odd = os.fsdecode(b"caf\xe9 \xff.dm3")
    put_dm3(corpus, folder, mid + dt.timedelta(minutes=2), odd)
    log_session(engine, "odd")
    (outcome,) = run_pass(settings, now=NOW).outcomes
    assert outcome.status == "COMPLETED", outcome.message
    engine.dispose()
    env = dict(settings.env, NX_WEB_SERVE_RAW_FILES="true")
    started = WebServer(env, root / "serve.log")
    try:
        yield started.wait(), root
    finally:
        started.stop()


def dataset_urls(server: WebServer) -> dict[str, dict]:
    (record,) = httpx.get(server.url + "/api/records", timeout=30).json()["records"]
    body = httpx.get(server.url + f"/api/records/{record['id']}", timeout=30).json()
    return {d["name"]: d for a in body["activities"] for d in a["datasets"]}


def test_every_link_of_a_record_with_odd_file_names_resolves(built) -> None:
    server, _ = built
    datasets = dataset_urls(server)
    assert len(datasets) == 3
    for name, d in datasets.items():
        for kind in ("preview_url", "sidecar_url", "raw_url"):
            assert d[kind], (name, kind)
            answer = httpx.get(server.url + d[kind], timeout=30)
            assert answer.status_code == 200, (name, kind, answer.text[:200])


def test_a_raw_file_replaced_by_a_link_out_of_its_folder_is_not_served(built) -> None:
    server, root = built
    other = root / "instr" / "Other"
    other.mkdir(exist_ok=True)
    (other / "theirs.dm3").write_bytes(b"another group's data")
    plain = root / "instr" / "Scope" / "plain.dm3"
    plain.rename(root / "plain.dm3.kept")
    plain.symlink_to("../Other/theirs.dm3")
    try:
        d = next(d for n, d in dataset_urls(server).items() if "plain" in n)
        answer = httpx.get(server.url + d["raw_url"], timeout=30)
        assert answer.status_code == 404 and b"another group" not in answer.content
    finally:
        plain.unlink()
        (root / "plain.dm3.kept").rename(plain)


def test_a_record_whose_file_is_gone_is_marked_not_linked(built) -> None:
    server, root = built
    (record,) = httpx.get(server.url + "/api/records", timeout=30).json()["records"]
    assert record["record_file_missing"] is False
    page = httpx.get(server.url + "/", timeout=30).text
    assert f'href="/records/{record["id"]}"' in page
    xml = next((root / "data" / "records").rglob("*.xml"))
    xml.rename(root / "moved-away.xml")
    try:
        (record,) = httpx.get(server.url + "/api/records", timeout=30).json()["records"]
        assert record["record_file_missing"] is True
        page = httpx.get(server.url + "/", timeout=30).text
        assert f'href="/records/{record["id"]}"' not in page
        assert "record file missing" in page and "nexuslims sessions reset odd" in page
        session = httpx.get(server.url + "/sessions/odd", timeout=30).text
        assert "record file missing" in session and "its record</a>" not in session
    finally:
        (root / "moved-away.xml").rename(xml)
