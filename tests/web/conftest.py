"""Fixtures of the web tests: one real site and the servers that serve it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.web.world import Site, WebServer, build_large_index, build_site

BASIC = ("librarian", "correct horse battery staple")


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    """The demo site built by a real pass, plus the web tests' records."""
    return build_site(tmp_path_factory.mktemp("web-site"))


@pytest.fixture(scope="session")
def large(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Settings of a database indexing 10,000 records."""
    return build_large_index(tmp_path_factory.mktemp("web-large"))


@pytest.fixture(scope="session")
def servers(site: Site, large: dict[str, str],
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, WebServer]]:
    """Three real servers, started together: the site (open, raw files served); the
    large index behind HTTP basic auth; and behind a reverse proxy that passes the user
    in a header and serves the pages under /nx (it strips the prefix, as nginx does)."""
    logs = tmp_path_factory.mktemp("web-logs")
    started = {
        "site": WebServer(dict(site.env, NX_WEB_SERVE_RAW_FILES="true"), logs / "site.log"),
        "basic": WebServer(dict(large, NX_WEB_AUTH="basic", NX_WEB_BASIC_USER=BASIC[0],
                                NX_WEB_BASIC_PASSWORD=BASIC[1]), logs / "basic.log"),
        "header": WebServer(dict(large, NX_WEB_AUTH="header", NX_WEB_ROOT_PATH="/nx",
                                 NX_WEB_USER_HEADER="X-Forwarded-User"), logs / "header.log"),
    }
    try:
        for server in started.values():
            server.wait()
        yield started
    finally:
        for server in started.values():
            server.stop()


@pytest.fixture(scope="session")
def server(servers: dict[str, WebServer]) -> WebServer:
    """The site's server."""
    return servers["site"]
