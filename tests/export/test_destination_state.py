"""Each destination's state where people look: ``sessions show`` and the web pages."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import httpx
import pytest

from nexuslims.db.records import record_of_session
from nexuslims.model.session import Status
from tests.export.conftest import elabftw_env
from tests.web.world import WebServer, copy_screenshot

pytestmark = pytest.mark.corpus


@pytest.fixture
def exported(make_site, corpus, elabftw):
    """A session in a .eln package and in eLabFTW, whose first eLabFTW try failed."""
    site = make_site(NX_ELN_EXPORT="true", **elabftw_env(elabftw, NX_ELABFTW_RETRIES="1"))
    ident = site.add_corpus_session(corpus, ["msa/example1.msa"])
    elabftw.fail("GET", "/experiments")
    assert [o.status for o in site.run().outcomes] == [Status.BUILT_NOT_EXPORTED]
    from tests.export.conftest import later

    assert [o.status for o in site.run(later()).exports] == [Status.COMPLETED]
    return site, ident


def test_sessions_show_lists_each_destination(exported, elabftw) -> None:
    site, ident = exported
    shown = site.cli("sessions", "show", ident)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.split("destinations:")[1].split("export attempts:")[0].splitlines()
    [eln] = [line for line in lines if line.startswith("eln ")]
    [elab] = [line for line in lines if line.startswith("elabftw ")]
    assert "exported" in eln and site.record(ident).with_suffix(".eln").name in eln
    assert eln.split()[-1] == "1"  # one attempt, no error
    assert "experiments.php?mode=view&id=1" in elab
    # Two attempts; the last error is kept, though it has since succeeded.
    assert re.search(r"\s2\s+eLabFTW answered HTTP 500", elab)


def test_the_web_pages_show_each_destination(exported, tmp_path) -> None:
    site, ident = exported
    server = WebServer(dict(site.env), tmp_path / "web.log").wait()
    try:
        session = httpx.get(f"{server.url}/sessions/{ident}", timeout=30)
        record_id = record_of_session(site.engine, ident)
        assert record_id is not None
        record = httpx.get(f"{server.url}/records/{record_id}", timeout=30)
        screenshot(f"{server.url}/records/{record_id}", tmp_path / "record-destinations.png")
    finally:
        server.stop()
    for page in (session, record):
        assert page.status_code == 200, page.text
        text = html.unescape(page.text)
        assert '<table class="destinations">' in page.text
        assert "experiments.php?mode=view&id=1" in text
        assert str(site.record(ident).with_suffix(".eln")) in text
        assert "HTTP 500" in text


def screenshot(url: str, path: Path) -> None:
    """A picture of the page for people to look at (when Debian's chromium is there)."""
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        return
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium,
                                             args=["--headless", "--no-sandbox"])
        tab = browser.new_page(viewport={"width": 1280, "height": 900})
        tab.goto(url, wait_until="load")
        tab.locator("table.destinations").screenshot(path=str(path))
        browser.close()
    copy_screenshot(path)
