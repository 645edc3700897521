"""Helpers for tests that build a copy of the book."""

import csv
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from base64 import b64decode
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = {"blood_glutamate": "blood_glutamate", "esketamine": "esketamine_madrs",
            "nitrous_oxide": "nitrous_oxide_hamd", "ketamine_escitalopram": "ketamine_escitalopram"}


def copy_book(dst: Path) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for f in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / f, dst / f)
    for d in ("book", "data"):
        shutil.copytree(ROOT / d, dst / d, ignore=shutil.ignore_patterns("_build", "*.ipynb"))
    return dst


def build(book: Path, *extra) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "glumeta.cli", "build", "--book-dir", str(book),
                           "--data-dir", str(book / "data"), *extra], capture_output=True, text=True, timeout=900)


def analyze(book: Path, name: str) -> dict:
    r = subprocess.run([sys.executable, "-m", "glumeta.cli", "analyze", name, "--json", "--data-dir",
                        str(book / "data")], capture_output=True, text=True, check=True)
    return {a["id"]: a for a in json.loads(r.stdout)["analyses"]}


def page(book: Path, slug: str) -> str:
    return (book / "_build" / "html" / "book" / f"{slug}.html").read_text(encoding="utf-8")


def text_of(html: str) -> str:
    """Visible text, tags stripped, whitespace folded."""
    import html as h

    s = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    s = re.sub(r"<[^>]+>", " ", s)
    return " ".join(h.unescape(s).split())


def forest_pngs(html: str, book: Path | None = None) -> list[tuple[int, int]]:
    """(width, height) of each forest-plot PNG of a page: embedded (plain Jupyter), or a file the
    page links (``../figures/...``, a page built into the book; read from *book*'s HTML output)."""
    out = []
    for src in re.findall(r'<figure class="glumeta-forest">(?:<a [^>]*>)?<img src="([^"]+)"', html):
        if src.startswith("data:image/png;base64,"):
            data = b64decode(src.split(",", 1)[1])
        else:
            assert book is not None, f"linked figure {src}: pass the book"
            data = (book / "_build" / "html" / "book" / src).resolve().read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        out.append(struct.unpack(">II", data[16:24]))
    return out


def executed(log: str) -> set[str]:
    """Notebook pages executed in a build, from myst-nb's log lines."""
    return set(re.findall(r"book/(\w+)\.md: Executing notebook", log))


def rerun(log: str) -> set[str]:
    """Pages a build re-ran (notebooks executed and in-process pages rendered), from the reasons
    glumeta.book.sphinxext prints: "glumeta: re-running book/x.md: data/y.csv changed"."""
    return set(re.findall(r"glumeta: re-running book/(\w+)\.md: ", log))


def notebooks(book: Path) -> set[str]:
    """Pages that are notebooks (a jupytext header with a kernel), as opposed to in-process pages."""
    return {p.stem for p in (book / "book").glob("*.md") if "\nkernelspec:" in p.read_text(encoding="utf-8")}


# ---- editing copies of the data (shared by the data and ledger tests)

def copy_data(tmp_path: Path) -> Path:
    """A copy of data/ under *tmp_path* (the build never writes to data/; tests edit copies)."""
    d = tmp_path / "data"
    shutil.copytree(ROOT / "data", d)
    return d


def edit_csv(d: Path, name: str, fn) -> Path:
    """Rewrite ``d/<name>.csv`` as lists of cells: *fn* takes and returns the rows (header first)."""
    p = d / f"{name}.csv"
    with open(p, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    rows = fn(rows)
    with open(p, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    return p


def rewrite_rows(path: Path, change) -> None:
    """Rewrite a CSV copy row by row as dicts (*change* edits a row dict in place)."""
    with path.open(encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        fields, rows = reader.fieldnames, list(reader)
    for row in rows:
        change(row)
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


# ---- headless Chromium and the ``glumeta serve`` live preview (shared by test_serve*.py)

#: The Chromium the browser tests drive (the Debian package 'chromium').
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: Flags for launching it headless in a container, without network chatter of its own.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def require_chromium() -> None:
    """Skip the test when Chromium is missing; on CI (``CI=true``) fail instead."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail("chromium not installed: .ci/run must install the Debian package 'chromium'")
        pytest.skip("chromium not installed")


def free_port() -> int:
    """A TCP port of 127.0.0.1 that is free now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout: float, what: str, step: float = 0.5) -> None:
    """Poll *pred* every *step* seconds until it is true; AssertionError after *timeout* seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@contextmanager
def preview_server(book: Path, data: Path, port: int, log: Path, env: dict | None = None):
    """``glumeta serve`` on *book* and *data* at *port*, stdout and stderr to the file *log*, in a
    process group of its own. Yields the Popen; on leaving, however the block ends, the group gets
    SIGINT, then SIGKILL if the server has not ended within 30 s, and the log is closed."""
    fh = log.open("w+", encoding="utf-8")
    try:
        srv = subprocess.Popen([sys.executable, "-m", "glumeta.cli", "serve", "--book-dir", str(book),
                                "--data-dir", str(data), "--port", str(port)], stdout=fh,
                               stderr=subprocess.STDOUT, start_new_session=True, env=env)
    except BaseException:
        fh.close()
        raise
    try:
        yield srv
    finally:
        os.killpg(srv.pid, signal.SIGINT)
        try:
            srv.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(srv.pid, signal.SIGKILL)
        fh.close()
