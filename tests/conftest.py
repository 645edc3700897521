import os

import pytest


@pytest.fixture(autouse=True)
def _figures_in_tmp(tmp_path_factory, monkeypatch):
    """Figures drawn by tests go to a temporary _build, never the repository's."""
    if "GLUMETA_BUILD_DIR" not in os.environ:
        monkeypatch.setenv("GLUMETA_BUILD_DIR", str(tmp_path_factory.mktemp("build")))


HOSTILE_LABEL = '<script>alert("x")</script> & "Pan" {glue:text}`esk_est` **bold** [link](javascript:alert(1))'


@pytest.fixture(scope="session")
def built_book(tmp_path_factory):
    """One copy of the book, built once per test session, with a hostile study label
    (HTML, an ampersand, quotes, MyST and Markdown syntax) in blood_glutamate.csv.
    Yields (book path, sha256 of its data folder before the build)."""
    import csv
    import hashlib

    from bookutil import build, copy_book

    b = copy_book(tmp_path_factory.mktemp("book"))
    p = b / "data" / "blood_glutamate.csv"
    rows = list(csv.reader(open(p, encoding="utf-8", newline="")))
    rows[1][rows[0].index("study")] = HOSTILE_LABEL
    with open(p, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)

    def tree_hash():
        h = hashlib.sha256()
        for f in sorted((b / "data").rglob("*")):
            h.update(f.name.encode() + f.read_bytes())
        return h.hexdigest()

    before = tree_hash()
    r = build(b)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert tree_hash() == before, "the build modified data/"
    return b
