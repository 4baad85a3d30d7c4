"""How the NEMO client meets servers that are down, slow, broken or refuse the token.

The servers here are small HTTP servers on 127.0.0.1 that misbehave on purpose.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from nexuslims.errors import HarvesterError
from nexuslims.model.session import Instrument, Session
from nexuslims.reservations.nemo.client import NemoClient
from nexuslims.reservations.nemo.config import NemoServer, NemoSettings
from nexuslims.reservations.nemo.harvester import NemoHarvester
from tests.reservations.nemo.nemo_server import free_port

TOKEN = "0123456789abcdef-secret"
Reply = tuple[int, str]


class Misbehaving:
    """A loopback server answering each GET with the next reply of ``replies``."""

    def __init__(self, replies: Callable[[int], Reply], delay: float = 0.0):
        self.requests: list[tuple[str, str | None]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                outer.requests.append((self.path, self.headers.get("Authorization")))
                time.sleep(delay)
                status, body = replies(len(outer.requests))
                data = body.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"http://127.0.0.1:{self.httpd.server_address[1]}/api/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve() -> Iterator[Callable[..., Misbehaving]]:
    servers: list[Misbehaving] = []

    def make(replies: Callable[[int], Reply], delay: float = 0.0) -> Misbehaving:
        servers.append(Misbehaving(replies, delay))
        return servers[-1]

    yield make
    for s in servers:
        s.close()


def client(address: str, *, retries: int = 2, timeout: float = 5.0) -> NemoClient:
    return NemoClient(NemoServer("1", address, TOKEN), timeout=timeout, retries=retries,
                      backoff=0.01)


def test_5xx_is_retried_with_the_token_header_until_it_answers(serve, caplog) -> None:
    server = serve(lambda n: (502, "bad gateway") if n < 3 else (200, '[{"id": 1}]'))
    with caplog.at_level(logging.DEBUG):
        assert client(server.address).get_list("tools/") == [{"id": 1}]
    assert len(server.requests) == 3
    assert {auth for _, auth in server.requests} == {f"Token {TOKEN}"}
    assert TOKEN not in caplog.text


def test_a_server_that_keeps_failing_is_asked_retries_plus_one_times_then_not_again(
        serve) -> None:
    server = serve(lambda n: (503, "{}"))
    c = client(server.address)
    with pytest.raises(HarvesterError) as err:
        c.get_list("tools/")
    assert len(server.requests) == 3
    assert f"NEMO server {server.address} answered HTTP 503" in str(err.value)
    assert "check the server's logs (tried 3 times)" in str(err.value)
    with pytest.raises(HarvesterError, match="not asked again this pass"):
        c.get_list("users/", {"id": 2})
    assert len(server.requests) == 3


@pytest.mark.parametrize(("status", "expected"), [
    (404, "refused"), (400, "refused"), (401, "rejected the token (HTTP 401"),
    (403, "rejected the token (HTTP 403")])
def test_4xx_is_never_retried(serve, status: int, expected: str) -> None:
    server = serve(lambda n: (status, '{"detail": "nope"}'))
    with pytest.raises(HarvesterError) as err:
        client(server.address).get_list("tools/")
    assert len(server.requests) == 1
    assert expected in str(err.value) and "nope" in str(err.value)
    assert TOKEN not in str(err.value)
    if status in (401, 403):
        assert "check NX_NEMO_TOKEN_1" in str(err.value)


def test_garbage_is_named_as_not_an_api(serve) -> None:
    server = serve(lambda n: (200, "<html>login page</html>"))
    with pytest.raises(HarvesterError, match="not JSON: check that NX_NEMO_ADDRESS_1 is the "
                                             "API root"):
        client(server.address).get_list("tools/")
    assert len(server.requests) == 1


def test_a_slow_server_times_out(serve) -> None:
    server = serve(lambda n: (200, "[]"), delay=1.0)
    t0 = time.monotonic()
    with pytest.raises(HarvesterError, match=r"did not answer .* within 0.2 s"):
        client(server.address, retries=1, timeout=0.2).get_list("tools/")
    assert time.monotonic() - t0 < 1.0
    assert len(server.requests) == 2


def test_a_server_that_is_down_is_named_with_what_to_check() -> None:
    address = f"http://127.0.0.1:{free_port()}/api/"
    with pytest.raises(HarvesterError) as err:
        client(address, retries=1).get_list("tools/")
    message = str(err.value)
    assert f"NEMO server {address} cannot be reached" in message
    assert "Connection refused" in message and "NX_NEMO_ADDRESS_1" in message


def test_pages_are_followed_when_the_server_pages(serve) -> None:
    pages = {1: '{"count": 3, "next": "%s?page=2", "results": [{"id": 1}, {"id": 2}]}',
             2: '{"count": 3, "next": null, "results": [{"id": 3}]}'}
    holder: dict[str, Misbehaving] = {}
    server = serve(lambda n: (200, pages[n] % (holder["s"].address + "tools/")
                              if n == 1 else pages[n]))
    holder["s"] = server
    assert [t["id"] for t in client(server.address).get_list("tools/")] == [1, 2, 3]


def test_broken_servers_fail_only_their_own_harvest_and_sessions(serve) -> None:
    broken = serve(lambda n: (200, "not json"))
    down = f"http://127.0.0.1:{free_port()}/api/"
    harvester = NemoHarvester(NemoSettings(
        servers=(NemoServer("1", broken.address, TOKEN), NemoServer("2", down, TOKEN)),
        timeout=2, retries=0, backoff=0))
    instruments = {
        "one": Instrument("one", "One", harvester="nemo", api_url=f"{broken.address}tools/?id=1"),
        "two": Instrument("two", "Two", harvester="nemo", api_url=f"{down}tools/?id=1"),
    }
    now = dt.datetime.now(dt.UTC)
    result = harvester.harvest(instruments, {}, now)
    assert result.sessions == [] and result.harvested_until == {}
    assert set(result.errors) == {broken.address, down}
    assert TOKEN not in str(result.errors)
    session = Session("x", instruments["two"], now - dt.timedelta(hours=1), now, "u")
    with pytest.raises(HarvesterError, match="cannot be reached"):
        harvester.reservation_for(session)
    stray = Session("y", Instrument("z", "Z", harvester="nemo",
                                    api_url="https://unknown.example.org/api/tools/?id=1"),
                    now - dt.timedelta(hours=1), now, "u")
    with pytest.raises(HarvesterError, match="is on no configured NEMO server"):
        harvester.reservation_for(stray)
