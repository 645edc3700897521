"""Crash safety: a build killed at any moment (Ctrl-C or kill -9) leaves nothing stale.

Twenty times: change the data, start ``glumeta build``, kill its whole process group
(the build, its readers and its notebook kernels) at a random moment with SIGINT or
SIGKILL, then build again to the end. Every page, figure and published file must then
equal those of a clean build of the same data.
"""

import hashlib
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bookutil import build, copy_book

pytestmark = pytest.mark.slow

ROUNDS = 20
NAME, ROW = "blood_glutamate", "islam2020,"  # a real, cited row, removed in state B


def _set_state(book: Path, full: str, state: str) -> None:
    text = full if state == "A" else "".join(ln for ln in full.splitlines(keepends=True) if not ln.startswith(ROW))
    (book / "data" / f"{NAME}.csv").write_text(text, encoding="utf-8")


def snapshot(book: Path) -> dict[str, str]:
    """SHA-256 of every published file: HTML pages (build-time stamps and static-file cache-busters
    removed), figures, data copies."""
    out = {}
    html = book / "_build" / "html"
    for p in sorted(html.rglob("*")):
        if not p.is_file() or p.suffix not in (".html", ".png", ".svg", ".pdf", ".csv", ".json"):
            continue
        rel = str(p.relative_to(html))
        if rel.startswith(("_static", "_sources", "_images")) or rel in ("searchindex.js", "objects.inv"):
            continue
        b = p.read_bytes()
        if p.suffix == ".html":
            b = re.sub(rb"Last updated on [^<]*", b"", b)
            # Sphinx adds a ?v=<checksum> cache-buster to a static file's link only when that file
            # is already in the output folder, so an incremental and a clean build differ there
            b = re.sub(rb"\?v=[0-9a-f]{8}\b", b"", b)
        out[rel] = hashlib.sha256(b).hexdigest()
    return out


def _start(book: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "glumeta.cli", "build", "--book-dir", str(book),
                             "--data-dir", str(book / "data")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def test_interrupted_builds_leave_no_stale_page(tmp_path):
    book = copy_book(tmp_path / "book")
    full = (book / "data" / f"{NAME}.csv").read_text(encoding="utf-8")
    ref, took = {}, {}
    for state in ("A", "B"):  # clean references, built in the same folder
        shutil.rmtree(book / "_build", ignore_errors=True)
        _set_state(book, full, state)
        t = time.perf_counter()
        r = build(book)
        took[state] = time.perf_counter() - t
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
        ref[state] = snapshot(book)
    assert ref["A"] != ref["B"]  # the row shows: the two states are distinguishable
    rng = random.Random(20261125)
    state = "B"
    for i in range(ROUNDS):
        state = "A" if state == "B" else "B"
        _set_state(book, full, state)
        p = _start(book)
        time.sleep(rng.uniform(0.1, 0.8 * took[state]))
        sig = signal.SIGINT if i % 2 == 0 else signal.SIGKILL
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:  # it had already finished
            pass
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        if i % 5 == 4:  # sometimes the data change again before the next complete build
            state = "A" if state == "B" else "B"
            _set_state(book, full, state)
        r = build(book)
        assert r.returncode == 0, (i, r.stdout[-2000:] + r.stderr[-2000:])
        got = snapshot(book)
        diff = sorted(k for k in set(got) | set(ref[state]) if got.get(k) != ref[state].get(k))
        assert not diff, f"round {i} ({sig.name}, state {state}): differs from a clean build: {diff[:10]}"
