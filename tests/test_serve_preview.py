"""Live preview in two seconds (issue #21, item 2), measured in headless Chromium.

``glumeta serve`` runs on a copy of the book; Chromium opens the esketamine chapter; the test
appends a real, cited row (TRANSFORM-3, moved out before the server started) to the copy's CSV
and measures the time from the save until the open page shows that row in its data table, three
times (the row is removed again in between), and records when every image of the page has
loaded (the figures are rendered after the page is written). The latencies are written to
``$GLUMETA_PREVIEW_LATENCY`` (JSON) when that is set. The 2 s target of the issue is judged by
the benchmark (``make bench``, benchmarks/README.md), which measures it on a quiet machine beside
the toy book: a wall-clock threshold in the test suite would fail on a loaded CI runner for
reasons that are not the code's. Here the latency must stay below a hang guard of 10 s.

Then the page is checked against a fresh ``glumeta build`` of another copy with the same data:
the served HTML of the chapter and of every page that reads the file (minus the reload script
the server adds), every figure and download of the chapter, and the text Chromium shows, are
identical. Finally a bad value shows the located error (file, line, column, value) in the open
page instead of the book.

The package is snapshotted when the test starts (``PYTHONPATH`` ahead of the editable install),
as ``benchmarks/run.py`` does: other sessions editing ``analysis/glumeta`` would otherwise change
the package hash and restart the preview mid-measurement.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from bookutil import (CHROMIUM, CHROMIUM_ARGS, ROOT, copy_book, free_port, preview_server, require_chromium,
                      wait_for)

pytestmark = pytest.mark.slow
NAME, SLUG = "esketamine_madrs", "esketamine"
ROW = "transform3,TRANSFORM-3 (Ochs-Ross 2020),2020,complete,"  # the start of the row a user adds
TARGET = 2.0  # seconds, issue #21: reported here, judged by the benchmark
HANG = 10.0  # seconds: a preview slower than this is broken, not slow
#: True when the data table of the open page has the added row (its study and its mean difference)
HAS_ROW = """() => [...document.querySelectorAll('.glumeta-table tr')].some(tr => {
  const cells = [...tr.querySelectorAll('td')].map(td => td.innerText.trim());
  return cells.includes('TRANSFORM-3 (Ochs-Ross 2020)') && cells.includes('-3.6');
})"""
IMAGES_LOADED = "() => [...document.images].every(i => i.complete && i.naturalWidth > 0)"
DEPENDENT = ["book/esketamine", "book/intro", "book/ledger", "book/summary_of_findings", "book/synthesis"]


def _get(url: str, timeout: float = 30) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read()


def _status(base: str) -> dict:
    try:
        return json.loads(_get(f"{base}/_glumeta/status", 5))
    except OSError:
        return {}


def _eval(page, js):
    try:
        return page.evaluate(js)
    except Exception:  # the page is between two documents (reloading)
        return None


def snapshot(dst: Path) -> dict:
    """The package and the reference JSON (read by the environment page) as of now; the environment
    that runs them ahead of the editable install."""
    shutil.copytree(ROOT / "analysis" / "glumeta", dst / "analysis" / "glumeta",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "tests" / "reference", dst / "tests" / "reference")
    env = dict(os.environ)
    env["PYTHONPATH"] = str(dst / "analysis") + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("GLUMETA_BUILD_DIR", None)
    return env


def _strip(html: bytes) -> bytes:
    from glumeta.book.serve import RELOAD_SCRIPT

    assert html.endswith(RELOAD_SCRIPT), "the server did not add its reload script"
    return html[: -len(RELOAD_SCRIPT)]


def _same(html: bytes) -> bytes:
    """A page without Sphinx's cache-busting query on stylesheets (``?v=<checksum>``): Sphinx adds it
    only for a file already in ``_static`` when the page is written, so myst-nb's stylesheet has it
    in every incremental build (``glumeta build`` run twice as well) and not in a build from scratch."""
    return re.sub(rb"\.css\?v=[0-9a-f]{8}", b".css", html)


def test_an_appended_row_shows_in_the_open_page_within_two_seconds(tmp_path):
    require_chromium()
    from playwright.sync_api import sync_playwright

    env = snapshot(tmp_path / "snapshot")
    book = copy_book(tmp_path / "book")
    csv = book / "data" / f"{NAME}.csv"
    full = csv.read_text(encoding="utf-8")
    row = next(ln for ln in full.splitlines(keepends=True) if ln.startswith(ROW))
    without = full.replace(row, "")
    with_row = without + row  # appended at the end, as a user adds a trial
    csv.write_text(without, encoding="utf-8")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "serve.log"
    url = f"{base}/book/{SLUG}.html"
    shown, images = [], []
    with preview_server(book, book / "data", port, log_path, env=env):
        wait_for(lambda: _status(base).get("state") == "idle", 600, "the first build and the server")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            page.goto(url, wait_until="load")
            assert page.evaluate(HAS_ROW) is False
            for attempt in range(3):
                time.sleep(3)  # quiet: the reload socket is connected and the worker is warm again
                # the user saves the file with the new row appended
                t0 = time.perf_counter()
                csv.write_text(with_row, encoding="utf-8")
                wait_for(lambda: _eval(page, HAS_ROW), 120, "the open page to show the new row", step=0.02)
                shown.append(time.perf_counter() - t0)
                wait_for(lambda: _eval(page, HAS_ROW) and _eval(page, IMAGES_LOADED), 120, "the page's images",
                         step=0.02)
                images.append(time.perf_counter() - t0)
                wait_for(lambda: _status(base).get("state") == "idle", 300, "the rest of the book to be rebuilt")
                print(f"attempt {attempt + 1}: row shown after {shown[-1]:.2f} s, images loaded after "
                      f"{images[-1]:.2f} s; rebuild: {_status(base)['cycles'][-1]}")
                if attempt < 2:  # the row goes again, for the next measurement
                    csv.write_text(without, encoding="utf-8")
                    wait_for(lambda: _eval(page, HAS_ROW) is False, 120, "the row to go")
                    wait_for(lambda: _status(base).get("state") == "idle", 300, "the rebuild")
            served = {d: _strip(_get(f"{base}/{d}.html")) for d in DEPENDENT}
            figures = {f: _get(f"{base}/figures/{SLUG}/{f}") for f in
                       sorted(os.listdir(book / "_build" / "html" / "figures" / SLUG))}
            data = _get(f"{base}/data/{NAME}.csv")
            text = page.inner_text("main")

            # a fresh build of another copy with the same data
            fresh = copy_book(tmp_path / "fresh")
            (fresh / "data" / f"{NAME}.csv").write_text(with_row, encoding="utf-8")
            r = subprocess.run([sys.executable, "-m", "glumeta.cli", "build", "--book-dir", str(fresh), "--data-dir",
                                str(fresh / "data")], capture_output=True, text=True, timeout=900, env=env)
            assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
            out = fresh / "_build" / "html"
            for d in DEPENDENT:
                assert _same(served[d]) == _same((out / f"{d}.html").read_bytes()), f"{d}.html differs from a fresh build"
            fresh_figs = sorted(os.listdir(out / "figures" / SLUG))
            assert sorted(figures) == fresh_figs
            for f in fresh_figs:  # (the results CSV names the data file by its path: the copies differ there)
                assert figures[f].replace(str(book).encode(), b"<book>") == (out / "figures" / SLUG / f).read_bytes(
                ).replace(str(fresh).encode(), b"<book>"), f"figures/{SLUG}/{f} differs"
            assert data == with_row.encode("utf-8")
            page2 = browser.new_page(viewport={"width": 1300, "height": 900})
            page2.goto((out / "book" / f"{SLUG}.html").as_uri(), wait_until="load")
            assert page2.inner_text("main") == text
            page2.close()

            # bad data: the open page shows the located error, not the book
            bad_row = row.replace(",72,65,", ",-72,65,", 1)
            assert bad_row != row
            csv.write_text(without + bad_row, encoding="utf-8")
            line = len(without.splitlines()) + 1
            where = f"{NAME}.csv:{line}: column 'n_arm1': value '-72'"
            wait_for(lambda: where in (_eval(page, "() => document.body.innerText") or ""), 60,
                     "the open page to show the located error", step=0.1)
            assert not _eval(page, HAS_ROW)
            browser.close()
    assert data is not None
    med = statistics.median(shown)
    print(f"live preview: row shown after {[round(s, 2) for s in shown]} s (median {med:.2f} s), images "
          f"loaded after {[round(s, 2) for s in images]} s")
    if os.environ.get("GLUMETA_PREVIEW_LATENCY"):
        Path(os.environ["GLUMETA_PREVIEW_LATENCY"]).write_text(json.dumps(
            {"shown": shown, "images": images, "median": med, "target": TARGET}), encoding="utf-8")
    assert med <= HANG, (f"the open page showed the appended row after {med:.2f} s (median of "
                         f"{[round(s, 2) for s in shown]}); more than {HANG} s means the preview hangs\n"
                         + log_path.read_text()[-4000:])
