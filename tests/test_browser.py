"""The rendered book in a real browser: Debian's Chromium driven by Playwright
(never a downloaded browser), pages served on 127.0.0.1. Screenshots of every chapter
are saved to _build/screenshots/ (a CI artefact)."""

import functools
import http.server
import os
import re
import shutil
import threading
import urllib.request
from pathlib import Path

import pytest

from bookutil import CHAPTERS, analyze
from glumeta.views.chapter import fmt

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PAGES = ["intro", *CHAPTERS, "synthesis", "summary_of_findings", "ledger", "methods", "data_dictionary", "add_a_trial", "environment"]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def site(built_book):
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail("chromium not installed: .ci/run must install the Debian package 'chromium'")
        pytest.skip("chromium not installed")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(built_book / "_build" / "html"))
    handler.log_message = lambda *a, **k: None
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}", built_book
    srv.shutdown()


@pytest.fixture(scope="module")
def browser(site):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


@pytest.mark.parametrize("slug", PAGES)
def test_page_in_browser(site, browser, slug):
    base, book = site
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    resp = page.goto(f"{base}/book/{slug}.html", wait_until="load")
    assert resp.ok
    # scroll through the page so that the theme's scroll/intersection observers run, then
    # give late scripts a moment: errors they raise are caught every time, not by chance
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    page.wait_for_timeout(400)
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(200)
    assert errors == [], errors
    imgs = page.eval_on_selector_all("img", "els => els.map(e => [e.alt, e.complete, e.naturalWidth])")
    assert all(complete and width > 0 for _, complete, width in imgs), imgs
    if slug in CHAPTERS:
        forest = [i for i in imgs if i[0].startswith("Forest plot")]
        assert forest, "no forest plot image"
        text = page.inner_text("main")
        res = analyze(book, CHAPTERS[slug])
        main = res.get("overall") or res["overall:remission"]
        est = main["estimate_exp"] if main["measure"] in ("RR", "OR") else main["estimate"]
        assert fmt(est) in text
        hrefs = page.eval_on_selector_all("a[download]", "els => els.map(e => e.href)")
        assert len(hrefs) >= 4
        for h in hrefs:
            with urllib.request.urlopen(h) as r:
                assert r.status == 200 and len(r.read()) > 100, h
    shots = ROOT / "_build" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / f"{slug}.png"), full_page=True)
    page.close()


def test_navigation_and_search(site, browser):
    base, _ = site
    page = browser.new_page()
    page.goto(f"{base}/book/intro.html")
    page.click("nav.bd-docs-nav a:has-text('Nitrous oxide')")
    page.wait_for_url(re.compile(r".*/book/nitrous_oxide\.html"))
    assert "Nitrous oxide" in page.title()
    page.goto(f"{base}/search.html?q=esketamine")
    page.wait_for_selector("#search-results li", timeout=15000)
    results = page.inner_text("#search-results")
    assert "esketamine" in results.lower()
    page.close()


def test_ledger_filters(site, browser):
    base, _ = site
    page = browser.new_page()
    page.goto(f"{base}/book/ledger.html")
    total = page.locator("#ledger-table tbody tr").count()
    page.select_option("#ledger-verdict", "discrepant")
    visible = page.locator("#ledger-table tbody tr:visible").count()
    assert 0 < visible < total
    assert page.locator("#ledger-table tbody tr:visible .badge-discrepant").count() == visible
    page.close()


def _mains(book):
    from glumeta.stats.plan import is_main

    return [(name, aid) for name in CHAPTERS.values() for aid in analyze(book, name) if is_main(aid)]


def _not_assessed(book, name):
    from glumeta.data.workbook import Workbook
    from glumeta.views.bias import NOT_ASSESSED, bias_table

    t = bias_table(Workbook(book / "data").dataset(name))
    return int((t["published risk of bias"] == NOT_ASSESSED).sum())


def test_summary_of_findings_content(site, browser):
    """What the summary-of-findings page shows, read in the browser: one outcome row per main analysis
    (by file and id), the judged GRADE domains "not assessed" in every row, a flow diagram per data file
    with its counted alt text, and one "not assessed" cell per study without a published judgment."""
    base, book = site
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    page.goto(f"{base}/book/summary_of_findings.html", wait_until="load")
    mains = _mains(book)
    rows = page.eval_on_selector_all(".glumeta-sof tr.glumeta-sof-outcome",
                                     "els => els.map(e => e.getAttribute('data-analysis'))")
    assert rows == [f"{n}:{a}" for n, a in mains]
    assert page.locator(".glumeta-sof tr.glumeta-sof-why i:text-is('not assessed')").count() == 4 * len(mains)
    assert page.locator(".glumeta-sof th:text-is('Relative effect')").count() == 0
    alts = page.eval_on_selector_all("figure.glumeta-flow img", "els => els.map(e => e.alt)")
    assert len(alts) == len(CHAPTERS)
    for name, alt in zip(CHAPTERS.values(), alts):
        assert re.match(rf"Flow of studies of data/{name}\.csv: \d+ studies \(\d+ rows\) listed; ", alt), alt
    cells = page.locator("div.glumeta-table:not(.glumeta-sof) td > i:text-is('not assessed')").count()
    assert cells == sum(_not_assessed(book, n) for n in CHAPTERS.values())
    page.close()


@pytest.mark.parametrize("slug", ["nitrous_oxide", "ketamine_escitalopram"])
def test_chapter_flow_and_risk_of_bias_content(site, browser, slug):
    base, book = site
    name = CHAPTERS[slug]
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    page.goto(f"{base}/book/{slug}.html", wait_until="load")
    alts = page.eval_on_selector_all("figure.glumeta-flow img", "els => els.map(e => e.alt)")
    assert len(alts) == 1 and alts[0].startswith(f"Flow of studies of data/{name}.csv: ")
    assert page.locator("p.glumeta-rob-note:has-text('Risk of bias was not assessed for this workbook')").count() == 1
    assert (page.locator("div.glumeta-table:not(.glumeta-sof) td > i:text-is('not assessed')").count()
            == _not_assessed(book, name))
    page.close()
