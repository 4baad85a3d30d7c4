"""The web face over HTTP, against the real server: pages, API, downloads, escaping, auth."""

from __future__ import annotations

import base64
import html
import sqlite3
import time

import httpx
import pytest

from tests.web.conftest import BASIC
from tests.web.world import (
    BIG_ACTIVITIES,
    BIG_DATASETS,
    SEARCH_SAMPLE,
    SECRET,
    TRAPS,
    XSS,
    Site,
    WebServer,
)


def get(server: WebServer, path: str, **kwargs) -> httpx.Response:  # type: ignore[no-untyped-def]
    return httpx.get(server.url + path, timeout=30, **kwargs)


def test_record_list_api_answers_newest_first_with_page_urls(server, site: Site) -> None:
    body = get(server, "/api/records").json()
    assert body["total"] == 5
    starts = [r["start"] for r in body["records"]]
    assert starts == sorted(starts, reverse=True)
    demo = next(r for r in body["records"] if r["id"] == site.demo_record)
    assert demo["instrument"] == "FEI-Titan-TEM-demo" and demo["status"] == "COMPLETED"
    assert demo["url"] == f"/records/{site.demo_record}"
    assert get(server, demo["url"]).status_code == 200


def test_search_finds_a_record_by_sample_name_and_filters_combine(server, site: Site) -> None:
    found = get(server, "/api/records", params={"q": "quasicrystal QX-417"}).json()
    assert [r["id"] for r in found["records"]] == [site.records["searchable"]]
    by_file = get(server, "/api/records", params={"q": "file_0999.dm4"}).json()
    assert [r["id"] for r in by_file["records"]] == [site.records["big"]]
    other = get(server, "/api/records", params={"instrument": "JEOL-ARM-web-test"}).json()
    assert [r["id"] for r in other["records"]] == [site.records["searchable"]]
    none = get(server, "/api/records", params={"q": "QX-417", "instrument": "FEI-Titan-TEM-demo"})
    assert none.json()["total"] == 0
    dated = get(server, "/api/records", params={"from": "2024-03-01", "to": "2024-03-31"}).json()
    assert site.demo_record not in [r["id"] for r in dated["records"]] and dated["total"] == 4
    page = get(server, "/", params={"q": SEARCH_SAMPLE.split()[0]})
    assert "Tilt series of a quasicrystal" in page.text and "1 record match" in page.text
    assert get(server, "/api/records", params={"from": "last week"}).status_code == 400


def test_record_api_lists_datasets_with_their_download_urls(server, site: Site) -> None:
    body = get(server, f"/api/records/{site.demo_record}").json()
    datasets = [d for a in body["activities"] for d in a["datasets"]]
    assert len(body["activities"]) == 3 and len(datasets) == 15
    first = datasets[0]
    png = get(server, first["preview_url"])
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    sidecar = get(server, first["sidecar_url"]).json()
    assert sidecar["file"].endswith(first["location"].split("/")[-1])
    raw = get(server, first["raw_url"])
    assert raw.status_code == 200 and "attachment" in raw.headers["content-disposition"]
    xml = get(server, body["xml_url"])
    assert xml.status_code == 200 and b"<Experiment" in xml.content
    assert get(server, "/api/records/9999").status_code == 404


def test_record_page_shows_summary_lazy_gallery_and_metadata_on_demand(server, site) -> None:
    page = get(server, f"/records/{site.demo_record}").text
    assert "FEI Titan TEM" in page and "EST" in page  # the instrument's timezone
    assert page.count('loading="lazy"') == 15
    assert page.count("<details class=\"activity\"") == 3
    meta = get(server, f"/records/{site.demo_record}/datasets/0/meta",
                params={"fragment": "1"}).text
    assert "<table" in meta and "Indicated Magnification" in meta


def test_a_thousand_dataset_record_is_one_light_page(server, site: Site) -> None:
    began = time.perf_counter()
    response = get(server, f"/records/{site.records['big']}")
    took = time.perf_counter() - began
    assert response.status_code == 200
    # The first activity's gallery is in the page; the other nine come when opened.
    per_activity = BIG_DATASETS // BIG_ACTIVITIES
    assert response.text.count('loading="lazy"') == per_activity
    assert response.text.count('class="lazy-gallery"') == BIG_ACTIVITIES - 1
    # Metadata is not in the page either: it is fetched per dataset when opened.
    assert "(dataset 7)" not in response.text
    print(f"\n1,000-dataset record page: {len(response.content) / 1e3:.0f} kB in {took:.2f} s")
    assert took < 2.0 and len(response.content) < 200_000
    rid = site.records["big"]
    fragment = get(server, f"/records/{rid}/activities/9", params={"fragment": 1}).text
    assert fragment.count('loading="lazy"') == per_activity and "<html" not in fragment
    assert "file_0999.dm4" in fragment
    whole = get(server, f"/records/{rid}/activities/9").text  # without JavaScript
    assert whole.count('loading="lazy"') == per_activity and "<html" in whole
    assert get(server, f"/records/{rid}/activities/10").status_code == 404


def test_record_content_is_escaped_everywhere(server, site: Site) -> None:
    rid = site.records["xss"]
    pages = [get(server, f"/records/{rid}").text, get(server, "/").text,
             get(server, f"/records/{rid}/datasets/0/meta").text,
             get(server, f"/records/{rid}/datasets/0/meta", params={"fragment": 1}).text]
    for text in pages:
        assert "<script>window.__xss" not in text
        assert "<img src=x" not in text and 'onerror="window' not in text
    assert html.escape(XSS, quote=False).split('"')[0] in pages[0]  # title, escaped
    assert pages[0].count("&lt;script&gt;") >= 2  # title and sample name
    assert "&lt;script&gt;" in pages[2]  # the metadata value
    assert "script-src 'self'" in get(server, f"/records/{rid}").headers["content-security-policy"]
    assert get(server, f"/api/records/{rid}").json()["title"] == XSS  # JSON keeps it as data


@pytest.mark.parametrize("trap", range(len(TRAPS)))
@pytest.mark.parametrize("kind", ["preview.png", "sidecar.json", "raw"])
def test_paths_leaving_their_root_are_not_served(server, site: Site, trap, kind) -> None:
    response = get(server, f"/records/{site.records['traps']}/datasets/{trap}/{kind}")
    assert response.status_code == 404, (TRAPS[trap], kind, response.text)
    assert SECRET not in response.text


@pytest.mark.parametrize("path", [
    "/records/1/datasets/..%2F..%2F..%2Foutside/raw",
    "/records/1/datasets/0/..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/records/..%2F1/record.xml",
    "/static/..%2f..%2fweb%2fpages.py",
    "/static/../pages.py",
    "/static/%2e%2e/pages.py",
    "/records/1/datasets/-1/raw",
    "/records/1/datasets/99999/preview.png",
])
def test_url_tricks_reach_nothing(server, path: str) -> None:
    response = get(server, path)
    assert response.status_code in (404, 422), (path, response.status_code)
    assert "def dataset_raw" not in response.text and "root:" not in response.text


def test_raw_files_are_refused_unless_enabled(servers, large) -> None:
    response = httpx.get(servers["basic"].url + "/records/1/datasets/0/raw", auth=BASIC)
    assert response.status_code in (403, 404)


def test_basic_auth_guards_pages_and_api_but_not_healthz(servers) -> None:
    server = servers["basic"]
    assert httpx.get(server.url + "/").status_code == 401
    assert httpx.get(server.url + "/api/records").status_code == 401
    assert "Basic" in httpx.get(server.url + "/").headers["www-authenticate"]
    assert httpx.get(server.url + "/", auth=(BASIC[0], "wrong")).status_code == 401
    wrong = base64.b64encode(b"no-colon").decode()
    assert httpx.get(server.url + "/", headers={"Authorization": f"Basic {wrong}"}) \
        .status_code == 401
    assert httpx.get(server.url + "/api/records", auth=BASIC).json()["total"] == 10_000
    health = httpx.get(server.url + "/healthz")  # a site where no pass ever ran
    assert health.status_code == 503 and "no pass" in health.json()["reason"]


def test_proxy_user_header_mode(servers) -> None:
    server = servers["header"]
    assert httpx.get(server.url + "/api/records").status_code == 401
    user = {"X-Forwarded-User": "alice"}
    ok = httpx.get(server.url + "/api/records", headers=user)
    assert ok.status_code == 200 and ok.json()["total"] == 10_000
    # Served under /nx by the proxy: every link the pages and API give carries it.
    assert ok.json()["records"][0]["url"].startswith("/nx/records/")
    page = httpx.get(server.url + "/", headers=user).text
    assert 'href="/nx/static/app.css"' in page and 'href="/nx/records/' in page
    assert httpx.get(server.url + "/static/app.css", headers=user).status_code == 200
    assert httpx.get(server.url + "/healthz").status_code == 503  # open, and no pass yet


@pytest.mark.parametrize("query", [{}, {"q": "perovskite"}, {"q": "file_9876_3.dm4"},
                                   {"instrument": "instrument-3"}, {"status": "ERROR"},
                                   {"experimenter": "user7", "from": "2021-01-01"},
                                   {"page": "300"}])
def test_a_page_of_ten_thousand_records_answers_under_200_ms(servers, query) -> None:
    server = servers["basic"]
    with httpx.Client(auth=BASIC, base_url=server.url) as client:
        client.get("/", params=query)  # warm
        times = []
        for _ in range(3):
            began = time.perf_counter()
            response = client.get("/", params=query)
            times.append(time.perf_counter() - began)
            assert response.status_code == 200
    print(f"\n10,000 records, page {query}: {min(times) * 1000:.0f} ms")
    assert min(times) < 0.2, f"{query}: {min(times) * 1000:.0f} ms"


def test_healthz_is_ok_after_the_sites_pass(server) -> None:
    response = get(server, "/healthz")
    assert response.status_code == 200, response.text
    assert response.json()["last_pass"]["built"] == 1


def test_builder_and_session_pages(server, site: Site) -> None:
    builder = get(server, "/builder").text
    assert "Last passes" in builder and "COMPLETED" in builder
    assert "ok</span>" in builder
    listed = get(server, "/builder", params={"status": "COMPLETED"}).text
    assert "web-test-xss" in listed
    session = get(server, "/sessions/web-test-xss")
    assert session.status_code == 200 and "START" in session.text
    demo_session = get(server, "/api/sessions", params={"status": "completed"}).json()
    demo = next(s for s in demo_session if s["id"].startswith("demo-session"))
    page = get(server, f"/sessions/{demo['id']}").text
    for stage in ("find_files", "extract", "build", "validate", "export"):
        assert stage in page
    assert get(server, "/api/sessions", params={"status": "bogus"}).status_code == 400


def test_openapi_page_documents_the_api(server) -> None:
    spec = get(server, "/openapi.json").json()
    for path in ("/api/records", "/api/records/{record_id}", "/api/sessions",
                 "/api/sessions/start", "/healthz"):
        assert path in spec["paths"]
    page = get(server, "/docs").text
    assert "POST /api/sessions/start" in page and "cdn" not in page.lower()


def rows(site: Site) -> int:
    with sqlite3.connect(site.env["NX_DB_PATH"]) as conn:
        return conn.execute("SELECT count(*) FROM session_log").fetchone()[0]


def test_builder_page_shows_errors_exports_waiting_and_outages(server, site: Site) -> None:
    import datetime as dt

    from nexuslims import db
    from nexuslims.db.uploads import log_upload

    now = dt.datetime.now(dt.UTC)
    pid = "FEI-Titan-TEM-demo"
    engine = db.make_engine(site.db_url)
    try:
        db.log_session_event(engine, "web-test-broken", pid, now, "START", "TO_BE_BUILT")
        db.mark_unbuildable(engine, "web-test-broken", pid, "no END row: <b>never ended</b>")
        for event in ("START", "END"):
            db.log_session_event(engine, "web-test-waiting", pid, now, event, "TO_BE_BUILT")
        db.set_session_status(engine, "web-test-waiting", pid, "BUILT_NOT_EXPORTED")
        for minutes in (20, 10):
            log_upload(engine, "web-test-waiting", "cdcs", False,
                       when=now + dt.timedelta(minutes=minutes),
                       error="CDCS at https://cdcs.example.org answered 503")
    finally:
        engine.dispose()
    with sqlite3.connect(site.env["NX_DB_PATH"]) as conn:
        conn.execute("INSERT INTO harvest_state (harvester, server, last_attempt, last_error) "
                     "VALUES ('nemo', 'https://nemo.example.org/api/', ?, ?)",
                     (now.isoformat(), "connection refused"))
    page = get(server, "/builder").text
    errors = page.split("Sessions in ERROR")[1].split("Records waiting")[0]
    assert "web-test-broken" in errors and "&lt;b&gt;never ended&lt;/b&gt;" in errors
    waiting = page.split("Records waiting for export")[1].split("unreachable")[0]
    assert "web-test-waiting" in waiting and "answered 503" in waiting
    assert '<td class="num">2</td>' in waiting  # two attempts, two failures in a row
    outages = page.split("Calendars and destinations unreachable")[1]
    assert "nemo https://nemo.example.org/api/" in outages and "connection refused" in outages
    assert "cdcs" in outages and "never" in outages
    assert "Needs attention" not in page  # the builder itself ran its last pass fine
    listed = get(server, "/api/sessions", params={"status": "ERROR"}).json()
    assert [s["id"] for s in listed] == ["web-test-broken"]
