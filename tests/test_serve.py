"""``glumeta serve``: edit a CSV and see the page change in headless Chromium, without a reload
by hand; a data error is reported with FILE:LINE (terminal and page) and no stale page is served."""

import time
import urllib.request

import pytest

from bookutil import CHROMIUM, CHROMIUM_ARGS, copy_book, free_port, preview_server, require_chromium, wait_for

pytestmark = pytest.mark.slow
NAME, ROW = "blood_glutamate", "islam2020,"


def _up(url) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def _text(page) -> str:
    try:
        return page.inner_text("body")
    except Exception:  # the page is reloading
        return ""


def test_live_preview_follows_a_csv_edit(tmp_path):
    require_chromium()
    from playwright.sync_api import sync_playwright

    book = copy_book(tmp_path / "book")
    csv = book / "data" / f"{NAME}.csv"
    full = csv.read_text(encoding="utf-8")
    row = next(ln for ln in full.splitlines(keepends=True) if ln.startswith(ROW))
    csv.write_text(full.replace(row, ""), encoding="utf-8")  # the trial a user is about to add
    port = free_port()
    url = f"http://127.0.0.1:{port}/book/{NAME}.html"
    with preview_server(book, book / "data", port, tmp_path / "serve.log"):
        wait_for(lambda: _up(url), 300, "the first build and the server")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(url, wait_until="load")
            assert "islam2020" not in page.inner_text("body")  # the study_id column of the data table
            time.sleep(1.5)  # let the page's reload websocket connect
            # 1. the user adds a row: the open page reloads by itself and shows it
            csv.write_text(full, encoding="utf-8")
            wait_for(lambda: "islam2020" in page.inner_text("body"), 180, "the page to show the new row")
            # 2. the user breaks a cell: the terminal and the open page name file, line, column and value;
            # the book (whose numbers would no longer be those of the file) is not shown
            bad = full.replace(row, row.replace(",247,", ",-247,", 1))
            assert bad != full
            csv.write_text(bad, encoding="utf-8")
            line = full.splitlines().index(row.rstrip("\n")) + 1
            wait_for(lambda: "shows the error until it is fixed" in (tmp_path / "serve.log").read_text(), 120,
                     "the failed build's message")
            out = (tmp_path / "serve.log").read_text()
            where = f"blood_glutamate.csv:{line}: column 'n_arm1': value '-247'"
            assert where in out, out[-3000:]
            page.reload(wait_until="load")
            assert where in page.inner_text("body") and "islam2020" not in page.inner_text("body")
            # 3. the user fixes it: the page shows the book again by itself
            csv.write_text(full, encoding="utf-8")
            wait_for(lambda: _text(page).count("islam2020") > 0, 180, "the book to come back")
            browser.close()
