"""The pages as a person sees them: headless Debian Chromium driven by Playwright.

Each test saves screenshots under its tmp dir (and, when ``NEXUSLIMS_SCREENSHOTS`` names
a folder, copies them there to be looked at). Chromium is Debian's
``/usr/bin/chromium``; Playwright never downloads a browser here.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.web.world import (
    BIG_ACTIVITIES,
    BIG_DATASETS,
    SEARCH_SAMPLE,
    XSS,
    Site,
    WebServer,
    copy_screenshot,
)

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser() -> Iterator:
    if not CHROMIUM.exists() and shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium): "
                    "the browser tests drive /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM if CHROMIUM.exists() else shutil.which("chromium")),
            args=ARGS)
        yield browser
        browser.close()


class Page:
    """A browser tab that remembers console errors, page errors and dialogs."""

    def __init__(self, browser, server: WebServer, shots: Path,  # type: ignore[no-untyped-def]
                 width: int = 1280) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": 900})
        self.tab = self.context.new_page()
        self.server, self.shots = server, shots
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.tab.on("console", self._console)
        self.tab.on("pageerror", lambda e: self.errors.append(str(e)))
        self.tab.on("dialog", self._dialog)

    def _dialog(self, dialog) -> None:  # type: ignore[no-untyped-def]
        self.dialogs.append(dialog.message)  # an alert() from injected script, say
        dialog.dismiss()

    def _console(self, message) -> None:  # type: ignore[no-untyped-def]
        if message.type == "error":
            self.errors.append(message.text)

    def open(self, path: str) -> None:
        response = self.tab.goto(self.server.url + path, wait_until="load")
        assert response is not None and response.ok, (path, response and response.status)

    def shot(self, name: str, full_page: bool = True) -> Path:
        path = self.shots / f"{name}.png"
        self.tab.screenshot(path=str(path), full_page=full_page)
        copy_screenshot(path)
        return path

    def loaded_images(self, selector: str = "img") -> tuple[int, int]:
        """(images decoded with a real size, images in all) among ``selector``."""
        return self.tab.eval_on_selector_all(
            selector, "els => [els.filter(i => i.complete && i.naturalWidth > 0).length, "
                      "els.length]")


@pytest.fixture
def page(browser, server: WebServer, tmp_path: Path) -> Iterator[Page]:  # type: ignore[no-untyped-def]
    tab = Page(browser, server, tmp_path)
    yield tab
    tab.context.close()


def test_record_page_shows_its_title_and_gallery_images_load(page: Page, site: Site) -> None:
    page.open(f"/records/{site.demo_record}")
    assert page.tab.locator("h1").inner_text() == "FEI Titan TEM session on " + \
        page.tab.locator("h1").inner_text().rsplit(" ", 1)[-1]
    # Scroll every card into view so the lazy images load, then check each decoded.
    for card in page.tab.locator("li.card").all():
        card.scroll_into_view_if_needed()
    page.tab.wait_for_function(
        "() => [...document.images].every(i => i.complete)", timeout=15_000)
    loaded, total = page.loaded_images("ul.gallery img")
    assert total == 15 and loaded == 15
    page.tab.evaluate("window.scrollTo(0, 0)")
    page.shot("record")
    assert page.errors == []


def test_activities_collapse_and_expand_and_metadata_opens_on_demand(page: Page,
                                                                    site: Site) -> None:
    page.open(f"/records/{site.demo_record}")
    activity = page.tab.locator("details.activity").first
    gallery = activity.locator("ul.gallery")
    assert gallery.is_visible()
    activity.locator("summary").first.click()
    assert not gallery.is_visible() and activity.get_attribute("open") is None
    activity.locator("summary").first.click()
    assert gallery.is_visible()

    setup = activity.locator("details.setup")
    assert not setup.locator("table").is_visible()
    setup.locator("summary").click()
    assert setup.locator("table").is_visible()

    meta = activity.locator("details.meta").first
    meta.locator("summary").click()
    meta.locator("table.params").wait_for(timeout=10_000)
    assert "Indicated Magnification" in meta.inner_text()

    activity.locator("a.thumb").first.click()
    box = page.tab.locator("dialog#lightbox")
    box.wait_for(state="visible", timeout=5_000)
    page.tab.wait_for_function(
        "() => document.querySelector('#lightbox img').naturalWidth > 0", timeout=10_000)
    assert "0001_overview_2500x.hspy" in box.inner_text()
    page.shot("record-lightbox", full_page=False)
    page.tab.keyboard.press("Escape")
    box.wait_for(state="hidden", timeout=5_000)
    assert page.errors == []


def test_search_finds_a_record_by_its_sample_name(page: Page, site: Site) -> None:
    page.open("/")
    page.tab.fill("input[name=q]", "QX-417")
    page.tab.click("button[type=submit]")
    page.tab.wait_for_url("**/?q=QX-417*")
    links = page.tab.locator("table.records tbody a")
    assert links.count() == 1
    page.shot("records-search")
    links.first.click()
    page.tab.wait_for_url(f"**/records/{site.records['searchable']}")
    assert SEARCH_SAMPLE in page.tab.locator("section.samples").inner_text()
    assert page.errors == []


def test_main_pages_load_without_console_errors(page: Page, site: Site) -> None:
    for path, name in (("/", "records"), ("/builder", "builder"), ("/docs", "api-docs"),
                       (f"/records/{site.records['searchable']}", "record-with-sample")):
        page.open(path)
        page.tab.wait_for_load_state("networkidle")
        page.shot(name)
    # From the demo record to its session's history, as a person would go.
    page.open(f"/records/{site.demo_record}")
    page.tab.click("text=session history")
    page.tab.wait_for_url("**/sessions/demo-session-*")
    assert page.tab.locator("h3").count() == 1  # one build attempt, with its stages
    assert "extract" in page.tab.locator("section.attempt table").inner_text()
    page.shot("session")
    assert page.errors == []


def test_hostile_record_content_is_shown_as_text_and_runs_nothing(page: Page,
                                                                  site: Site) -> None:
    page.open(f"/records/{site.records['xss']}")
    page.tab.locator("details.meta").first.locator("summary").click()
    page.tab.locator("details.meta table.params").first.wait_for(timeout=10_000)
    page.tab.wait_for_load_state("networkidle")
    assert page.tab.evaluate("window.__xss") is None
    assert page.dialogs == []
    assert page.tab.locator("h1").inner_text() == XSS
    assert page.tab.locator("img[src=x]").count() == 0
    assert XSS in page.tab.locator("section.samples").inner_text()
    assert f"{XSS} (dataset 0)" in page.tab.locator("details.meta").first.inner_text()
    page.shot("record-hostile")
    page.open("/")
    assert page.tab.evaluate("window.__xss") is None and page.dialogs == []


def test_a_thousand_dataset_record_paints_fast_without_loading_every_image(page: Page,
                                                                        site: Site) -> None:
    page.open(f"/records/{site.records['big']}")
    # The paint entry may be recorded after "load": wait for it (buffered) up to 10 s.
    paint = page.tab.evaluate("""() => new Promise(resolve => {
        setTimeout(() => resolve(null), 10000);
        new PerformanceObserver((list, observer) => {
            const entry = list.getEntriesByName('first-contentful-paint')[0];
            if (entry) { observer.disconnect(); resolve(entry.startTime); }
        }).observe({type: 'paint', buffered: true});
    })""")
    timing = page.tab.evaluate("(({responseStart, responseEnd, domInteractive}) => "
                               "({responseStart, responseEnd, domInteractive}))"
                               "(performance.getEntriesByType('navigation')[0])")
    assert paint is not None and paint < 2000, f"first paint after {paint} ms ({timing})"
    page.tab.wait_for_load_state("networkidle")
    loaded, total = page.loaded_images("ul.gallery img")
    assert total == BIG_DATASETS // BIG_ACTIVITIES  # the other activities come when opened
    assert 0 < loaded < total, f"{loaded} of {total} images loaded up front"
    page.shot("record-1000-datasets", full_page=False)
    # Further down, more load as they come into view.
    page.tab.locator("#dataset-90").scroll_into_view_if_needed()
    page.tab.wait_for_function(
        "() => document.querySelector('#dataset-90 img').naturalWidth > 0", timeout=10_000)
    # Opening the last activity fetches its gallery; its images load as they are seen.
    last = page.tab.locator("details.activity").last
    last.locator("summary").first.click()
    last.locator("#dataset-999").scroll_into_view_if_needed()
    page.tab.wait_for_function(
        "() => document.querySelector('#dataset-999 img').naturalWidth > 0", timeout=10_000)
    loaded_now, total_now = page.loaded_images("ul.gallery img")
    assert total_now == 2 * total and loaded_now < total_now
    page.shot("record-1000-datasets-last-activity", full_page=False)
    print(f"\n1,000-dataset record: first contentful paint {paint:.0f} ms, "
          f"{loaded} of {total} images loaded up front")
    assert page.errors == []


# What a person would see as broken: the page wider than the window (a sideways scroll,
# text cut at the edge), something sticking out of the window outside a table's own
# scroll box, a header or a file name broken inside a word.
LAYOUT_PROBLEMS = """() => {
  const doc = document.documentElement, width = doc.clientWidth, problems = [];
  const name = el => el.tagName.toLowerCase() + (el.className ? '.' + el.className : '')
                     + ' "' + el.textContent.trim().slice(0, 40) + '"';
  if (doc.scrollWidth > width + 1) problems.push(`page ${doc.scrollWidth} px wide in ${width}`);
  for (const el of document.querySelectorAll('main *, header *')) {
    if (el.closest('.scroll, dialog') || !el.getClientRects().length) continue;
    const r = el.getBoundingClientRect();
    if (r.right > width + 1) problems.push(`${name(el)} ends at ${Math.round(r.right)}`);
  }
  const breaksInWords = el => {
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    const chars = [];
    for (let node; (node = walker.nextNode());)
      for (let i = 0; i < node.data.length; i++) chars.push([node, i]);
    let top = null, prev = '';
    for (const [node, i] of chars) {
      const range = document.createRange();
      range.setStart(node, i); range.setEnd(node, i + 1);
      const rect = range.getClientRects()[0], ch = node.data[i];
      if (!rect) continue;
      if (top !== null && rect.top > top + 2 && /[A-Za-z0-9]/.test(prev) && /[A-Za-z0-9]/.test(ch))
        return true;
      top = rect.top; prev = ch;
    }
    return false;
  };
  const words = [...document.querySelectorAll('th, li.card .name, .matched .filename, h1')];
  for (const el of words.slice(0, 60))
    if (breaksInWords(el)) problems.push(`${name(el)} breaks inside a word`);
  return problems;
}"""


def _every_page(site: Site, server: WebServer) -> list[tuple[str, str]]:
    import httpx

    demo = httpx.get(f"{server.url}/api/records/{site.demo_record}", timeout=30).json()
    return [("/", "records"), ("/?q=spectrum", "records-search-spectrum"),
            ("/builder", "builder"), ("/docs", "api-docs"),
            (f"/records/{site.demo_record}", "record"),
            (f"/records/{site.records['searchable']}", "record-with-sample"),
            (f"/records/{site.records['xss']}", "record-hostile"),
            (f"/records/{site.demo_record}/datasets/1/meta", "dataset-metadata"),
            (f"/sessions/{demo['session']}", "session")]


@pytest.mark.parametrize("width", [1280, 420])
def test_every_page_fits_the_window_and_breaks_no_word(browser, server: WebServer, site: Site,
                                                       tmp_path: Path, width: int) -> None:
    page = Page(browser, server, tmp_path, width=width)
    try:
        problems = {}
        for path, name in _every_page(site, server):
            page.open(path)
            page.tab.wait_for_load_state("networkidle")
            page.shot(f"{name}-{width}px")
            found = page.tab.evaluate(LAYOUT_PROBLEMS)
            if found:
                problems[path] = found[:5]
        assert problems == {}
        assert page.errors == []
    finally:
        page.context.close()
