"""What the pages say (issue 20): search by dataset type and signal kind with the datasets
that matched, /docs without Markdown's backticks, file names that wrap between words,
and times with their zone, the same zone on the builder page as on the records."""

from __future__ import annotations

import datetime as dt
import html
import re
from zoneinfo import ZoneInfo

import httpx
from markupsafe import Markup

from nexuslims.web.templating import breakable, inline_code
from nexuslims.web.views import site_zone
from tests.web.world import XSS, Site, WebServer


def get(server: WebServer, path: str, **kwargs) -> httpx.Response:  # type: ignore[no-untyped-def]
    return httpx.get(server.url + path, timeout=30, **kwargs)


def _text(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def test_search_finds_dataset_types_and_signal_kinds_and_names_the_datasets(server, site: Site):
    spectra = get(server, "/api/records", params={"q": "spectrum"}).json()
    demo = next(r for r in spectra["records"] if r["id"] == site.demo_record)
    assert len(demo["matched_datasets"]) == 5  # three EDS spectra, two EELS
    assert "0008_EDS_pt1_substrate.msa" in demo["matched_datasets"]
    eels = get(server, "/api/records", params={"q": "eels"}).json()
    demo = next(r for r in eels["records"] if r["id"] == site.demo_record)
    assert demo["matched_datasets"] == ["0011_EELS_low-loss.hspy", "0012_EELS_Ti-L23_O-K.hspy"]
    diffraction = get(server, "/api/records", params={"q": "diffraction"}).json()
    assert site.demo_record in [r["id"] for r in diffraction["records"]]
    page = _text(get(server, "/", params={"q": "spectrum"}).text)
    assert "5 matching datasets: 0008_EDS_pt1_substrate.msa, " in page
    plain = get(server, "/api/records").json()  # no search: nothing "matched"
    assert all(r["matched_datasets"] == [] for r in plain["records"])


def test_the_api_docs_page_shows_code_not_backticks(server):
    page = get(server, "/docs")
    assert page.status_code == 200
    assert "`" not in _text(page.text)
    assert "<code>nexuslims tokens create</code>" in page.text


def test_code_spans_and_file_name_breaks_stay_escaped():
    assert inline_code("use `a<b>` then") == Markup("use <code>a&lt;b&gt;</code> then")
    assert inline_code("one ` alone") == Markup("one ` alone")
    assert inline_code("``double``") == Markup("<code>double</code>")
    assert breakable("0011_EELS_low-loss.hspy") == \
        Markup("0011_<wbr>EELS_<wbr>low-<wbr>loss.<wbr>hspy")
    assert "<img" not in str(breakable(XSS))


def test_file_names_on_cards_wrap_only_between_their_parts(server, site: Site):
    page = get(server, f"/records/{site.demo_record}").text
    assert '0008_<wbr>EDS_<wbr>pt1_<wbr>substrate.<wbr>msa' in page
    css = get(server, "/static/app.css").text
    assert "overflow-wrap: anywhere" not in css  # it broke "Result" into "Resu/lt"


def test_the_shared_zone_is_the_instruments_else_this_machines():
    new_york = ZoneInfo("America/New_York")
    assert site_zone({"a": new_york, "b": ZoneInfo("America/New_York")}) is new_york
    mixed = site_zone({"a": new_york, "b": ZoneInfo("Asia/Tokyo")})
    assert mixed == dt.datetime.now().astimezone().tzinfo


def test_the_builder_page_shows_pass_times_in_the_sites_zone(site: Site, tmp_path):
    """The web test site's instruments are in several zones: pass times are in the zone of
    the machine serving the page (here Tokyo's), with its name, not in UTC."""
    server = WebServer(dict(site.env, TZ="Asia/Tokyo"), tmp_path / "tokyo.log").wait()
    try:
        page = get(server, "/builder").text
    finally:
        server.stop()
    [passes] = re.findall(r"Last passes(.*?)Sessions in ERROR", page, re.S)
    times = re.findall(r'<td class="time">([^<]*)</td>', passes)
    assert times and all(t.endswith(" JST") for t in times), times


def test_records_indexed_before_are_indexed_again_once_so_their_datasets_are_searched(
        site: Site, tmp_path):
    from dataclasses import replace

    from nexuslims import db
    from nexuslims.db.records import RecordQuery, save_entry, search_records
    from nexuslims.record.index import backfill, entry_from_xml

    [path] = (site.root / "site/data/records").glob("*_FEI-Titan-TEM-demo_demo-session-*.xml")
    url = f"sqlite:///{tmp_path / 'old.db'}"
    db.init_db(url)
    engine = db.make_engine(url)
    try:
        entry = entry_from_xml(path.read_bytes(), str(path), "s", "FEI-Titan-TEM-demo")
        names = [line.split("\t")[3] for line in entry.search_text.splitlines() if "\t" in line]
        old = replace(entry, search_text="\n".join([entry.title or ""] + names).lower())
        record_id = save_entry(engine, old, now=dt.datetime.now(dt.UTC))
        assert search_records(engine, RecordQuery(text="eels"))[0] == 1  # by file name only
        assert search_records(engine, RecordQuery(text="spectrum"))[0] == 0
        backfill(engine)
        total, [found] = search_records(engine, RecordQuery(text="spectrum"))
        assert (total, found.id, len(found.matched)) == (1, record_id, 5)
        backfill(engine)  # once: nothing left to do
    finally:
        engine.dispose()
