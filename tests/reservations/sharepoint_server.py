"""A small SharePoint on 127.0.0.1 for the harvester tests: real NTLM, real OData filters.

:class:`FakeSharePoint` answers like an on-premises SharePoint 2013-2019 site:

- every request must pass an NTLM handshake (pyspnego acts as the acceptor, checking
  the client's answer against a ``DOMAIN:USER:PASSWORD`` file named by
  ``NTLM_USER_FILE``); as on IIS, a connection stays authenticated once it passed;
- ``<site>/_vti_bin/ListData.svc/<list>`` serves the Atom feed in
  ``tests/reservations/feeds/<list>.xml``, keeping only the entries the ``$filter``
  selects and dropping the expanded users unless ``$expand`` asks for them;
- ``<site>/_api/web/RegionalSettings/TimeZone`` answers the site's time zone, in XML
  (SharePoint's default) or JSON when ``tz_format="json"``.

Tests make it misbehave per path through :class:`Behaviour` (slow, 5xx for the first
requests, a fixed status, a garbage body) and read what it received from ``hits``
(authenticated requests per path) and ``handshakes`` (NTLM answers checked).
"""

from __future__ import annotations

import base64
import collections
import datetime as dt
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import spnego
from lxml import etree

FEEDS = Path(__file__).resolve().parent / "feeds"
ATOM = "http://www.w3.org/2005/Atom"
D = "http://schemas.microsoft.com/ado/2007/08/dataservices"
M = "http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"
NS = {"a": ATOM, "d": D, "m": M}

# What SharePoint 2016 answers for a site set to "(UTC-05:00) Eastern Time".
TZ_XML = """<?xml version="1.0" encoding="utf-8"?><entry xml:base="{site}/_api/" \
xmlns="http://www.w3.org/2005/Atom" \
xmlns:d="http://schemas.microsoft.com/ado/2007/08/dataservices" \
xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata" \
xmlns:georss="http://www.georss.org/georss" xmlns:gml="http://www.opengis.net/gml">\
<id>{site}/_api/web/RegionalSettings/TimeZone</id>\
<category term="SP.TimeZone" \
scheme="http://schemas.microsoft.com/ado/2007/08/dataservices/scheme" />\
<link rel="edit" href="web/RegionalSettings/TimeZone" /><title /><updated>\
2024-03-06T14:00:00Z</updated><author><name /></author><content type="application/xml">\
<m:properties><d:Description>{description}</d:Description>\
<d:Id m:type="Edm.Int32">{zone_id}</d:Id>\
<d:Information m:type="SP.TimeZoneInformation"><d:Bias m:type="Edm.Int32">{bias}</d:Bias>\
<d:DaylightBias m:type="Edm.Int32">-60</d:DaylightBias>\
<d:StandardBias m:type="Edm.Int32">0</d:StandardBias></d:Information>\
</m:properties></content></entry>"""

ODATA_ERROR = """<?xml version="1.0" encoding="utf-8" standalone="yes"?>\
<error xmlns="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata">\
<code></code><message xml:lang="en-US">{message}</message></error>"""

_TERM = re.compile(r"(StartTime|EndTime)\s+(lt|le|gt|ge|eq)\s+datetime'([0-9T:.\-]+)'")
_COMPARE = {"lt": lambda a, b: a < b, "le": lambda a, b: a <= b,
            "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b, "eq": lambda a, b: a == b}


@dataclass
class Behaviour:
    """How one path misbehaves."""

    delay: float = 0.0
    """Seconds to wait before answering."""
    fail_first: int = 0
    """Answer ``fail_status`` to this many requests, then normally."""
    fail_status: int = 503
    status: int | None = None
    """Always answer this status (with an OData error body)."""
    body: bytes | None = None
    """Answer 200 with this body instead of the real one."""


class FakeSharePoint:
    """A SharePoint site on 127.0.0.1 with NTLM, calendar feeds and a time zone."""

    def __init__(self, site: str = "/nexus", tz_description: str =
                 "(UTC-05:00) Eastern Time (US and Canada)", tz_bias: int = 300,
                 tz_format: str = "xml"):
        self.site = site
        self.tz_description, self.tz_bias, self.tz_format = tz_description, tz_bias, tz_format
        self.behaviours: dict[str, Behaviour] = {}
        self.hits: collections.Counter[str] = collections.Counter()
        self.queries: list[dict[str, list[str]]] = []
        self.handshakes = 0
        self.rejected = 0
        self.principals: list[str] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def site_url(self) -> str:
        return self.url + self.site

    def feed_url(self, calendar: str) -> str:
        """The ``api_url`` of a calendar list (its feed: ``feeds/<calendar>.xml``)."""
        return f"{self.site_url}/_vti_bin/ListData.svc/{calendar}"

    def path_of(self, calendar: str) -> str:
        return f"{self.site}/_vti_bin/ListData.svc/{calendar}"

    @property
    def tz_path(self) -> str:
        return f"{self.site}/_api/web/RegionalSettings/TimeZone"

    def start(self) -> FakeSharePoint:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    # ------------------------------------------------------------------ answers

    def answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, str, bytes]:
        """Status, content type and body for an authenticated GET."""
        with self._lock:
            self.hits[path] += 1
            self.queries.append(query)
            count = self.hits[path]
        behaviour = self.behaviours.get(path, Behaviour())
        if behaviour.delay:
            self._stopping.wait(behaviour.delay)
        if count <= behaviour.fail_first:
            return _error(behaviour.fail_status, "The server is busy; try again later.")
        if behaviour.status is not None:
            return _error(behaviour.status, "Resource not found for the segment.")
        if behaviour.body is not None:
            return 200, "application/atom+xml;type=feed;charset=utf-8", behaviour.body
        if path == self.tz_path:
            return self._timezone()
        prefix = f"{self.site}/_vti_bin/ListData.svc/"
        if path.startswith(prefix):
            feed = FEEDS / f"{path[len(prefix):]}.xml"
            if feed.is_file():
                return self._feed(feed, query)
        return _error(404, "Resource not found for the segment.")

    def _timezone(self) -> tuple[int, str, bytes]:
        if self.tz_format == "json":
            body = {"d": {"__metadata": {"type": "SP.TimeZone"},
                          "Description": self.tz_description, "Id": 11,
                          "Information": {"__metadata": {"type": "SP.TimeZoneInformation"},
                                          "Bias": self.tz_bias, "DaylightBias": -60,
                                          "StandardBias": 0}}}
            return 200, "application/json;odata=verbose;charset=utf-8", json.dumps(body).encode()
        text = TZ_XML.format(site=self.site_url, description=self.tz_description, zone_id=11,
                             bias=self.tz_bias)
        return 200, "application/atom+xml;type=entry;charset=utf-8", text.encode()

    def _feed(self, feed: Path, query: dict[str, list[str]]) -> tuple[int, str, bytes]:
        doc = etree.parse(str(feed), etree.XMLParser(remove_blank_text=False))
        root = doc.getroot()
        terms: list[tuple[str, str, dt.datetime]] = []
        for raw in query.get("$filter", []):
            rest = _TERM.sub("", raw)
            if re.sub(r"\band\b|[\s()]", "", rest):
                return _error(400, f"Syntax error at position 0 in '{raw}'.")
            terms += [(f, op, dt.datetime.fromisoformat(v)) for f, op, v in _TERM.findall(raw)]
        expanded = {e.strip() for raw in query.get("$expand", []) for e in raw.split(",")}
        for entry in root.findall("a:entry", NS):
            values = {f: dt.datetime.fromisoformat(entry.findtext(f".//m:properties/d:{f}",
                                                                  namespaces=NS))
                      for f in ("StartTime", "EndTime")}
            if not all(_COMPARE[op](values[f], v) for f, op, v in terms):
                root.remove(entry)
                continue
            for link in entry.findall("a:link", NS):
                inline = link.find("m:inline", NS)
                if inline is not None and link.get("title") not in expanded:
                    link.remove(inline)
        body = etree.tostring(doc, xml_declaration=True, encoding="utf-8", standalone=True)
        return 200, "application/atom+xml;type=feed;charset=utf-8", body


def _error(status: int, message: str) -> tuple[int, str, bytes]:
    return status, "application/xml;charset=utf-8", ODATA_ERROR.format(message=message).encode()


def _handler(site: FakeSharePoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # NTLM authenticates the connection, so keep it

        def setup(self) -> None:
            super().setup()
            self.ntlm: spnego.ContextProxy | None = None
            self.authenticated = False

        def log_message(self, format: str, *args: object) -> None:
            pass

        def send(self, status: int, content_type: str, body: bytes,
                 headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def challenge(self, token: bytes | None = None) -> None:
            value = "NTLM" + (f" {base64.b64encode(token).decode()}" if token else "")
            self.send(401, "text/html", b"<html><body>401 UNAUTHORIZED</body></html>",
                      {"WWW-Authenticate": value})

        def do_GET(self) -> None:
            header = self.headers.get("Authorization", "")
            if header.startswith("NTLM "):
                token = base64.b64decode(header[5:])
                if self.ntlm is None or self.authenticated:
                    self.ntlm, self.authenticated = spnego.server(protocol="ntlm"), False
                    self.challenge(self.ntlm.step(token))
                    return
                with site._lock:
                    site.handshakes += 1
                try:
                    self.ntlm.step(token)
                except spnego.exceptions.SpnegoError:
                    with site._lock:
                        site.rejected += 1
                    self.ntlm = None
                    self.challenge()
                    return
                self.authenticated = self.ntlm.complete
                with site._lock:
                    site.principals.append(str(self.ntlm.client_principal))
            if not self.authenticated:
                self.challenge()
                return
            parts = urlsplit(self.path)
            status, content_type, body = site.answer(parts.path, parse_qs(parts.query))
            self.send(status, content_type, body)

    return Handler


# ---------------------------------------------------------------------- fixtures

DOMAIN_USER = "NEXUS\\svc-nexuslims"
PASSWORD = "Tr0ub4dor&3-ω"


@contextmanager
def serve_sharepoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSharePoint]:
    """A SharePoint site on 127.0.0.1 knowing one account, ``DOMAIN_USER``/``PASSWORD``."""
    users = tmp_path / "ntlm-users"
    domain, user = DOMAIN_USER.split("\\")
    users.write_text(f"{domain}:{user}:{PASSWORD}\n", encoding="utf-8")
    monkeypatch.setenv("NTLM_USER_FILE", str(users))
    site = FakeSharePoint().start()
    try:
        yield site
    finally:
        site.stop()


def sharepoint_env(**extra: str) -> dict[str, str]:
    """SharePoint settings for the fixture's account, retrying fast."""
    env = {"NX_SHAREPOINT_USER": DOMAIN_USER, "NX_SHAREPOINT_PASSWORD": PASSWORD,
           "NX_SHAREPOINT_BACKOFF": "0.01"}
    env.update(extra)
    return env
