"""Fail early and say why (issue #21, item 4): a table past the size the schema declares
(``glumeta:limits``: bytes and data rows, at package level or per resource) is refused by
``glumeta check`` before it is read, and by ``glumeta build`` before any page runs, with a
message naming the file, the limit and what to do. The limits leave room for the book's
target of k = 1,000 rows per analysis."""

import csv
import io
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from glumeta.data.tables import limits, load_package, read
from glumeta.data.workbook import Workbook

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"


def check(d: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "glumeta.cli", "check", "--data-dir", str(d)],
                          capture_output=True, text=True, cwd=ROOT)


def rows_of(name: str, k: int, pad: int = 0) -> bytes:
    """*name*'s header, its rows and copies of them up to k rows, each copy with a new study_id (and *pad*
    characters of notes, to make long rows)."""
    rows = list(csv.reader(open(DATA / f"{name}.csv", encoding="utf-8", newline="")))
    head, body = rows[0], rows[1:]
    sid, notes = head.index("study_id"), head.index("notes")
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(head)
    for i in range(k):
        r = list(body[i % len(body)])
        if i >= len(body):  # the shipped rows first, then copies
            r[sid] = f"{r[sid]}-x{i}"
        if pad:
            r[notes] = "n" * pad
        w.writerow(r)
    return out.getvalue().encode("utf-8")


def folder(tmp_path: Path, name: str, data: bytes) -> Path:
    d = tmp_path / "data"
    shutil.copytree(DATA, d)
    (d / f"{name}.csv").write_bytes(data)
    return d


def test_the_limits_are_declared_and_leave_room_for_a_thousand_trials():
    pkg = Workbook(DATA).package
    assert "glumeta:limits" in pkg
    for res in pkg["resources"]:
        lim = limits(res, pkg)
        assert lim["rows"] >= 2_000 and lim["bytes"] >= 2_000_000
        assert lim["rows"] < 53_000 and lim["bytes"] < 50_000_000


def test_fifty_megabytes_of_long_rows_are_refused_before_reading(tmp_path):
    # the case of the issue: a 50 MB CSV of 53,000 long rows was accepted
    data = rows_of("esketamine_madrs", 53_000, pad=500)
    assert len(data) > 45_000_000
    d = folder(tmp_path, "esketamine_madrs", data)
    t = time.perf_counter()
    r = check(d)
    assert time.perf_counter() - t < 5
    assert r.returncode == 1 and "Traceback" not in r.stderr
    lim = limits(next(x for x in Workbook(DATA).package["resources"] if x["name"] == "esketamine_madrs"), Workbook(DATA).package)
    assert f"esketamine_madrs.csv:1: file is {len(data):,} bytes; more than the declared limit of {lim['bytes']:,} " \
           "bytes is refused (glumeta:limits in " in r.stderr
    assert "split it into smaller tables, or raise 'bytes' in glumeta:limits" in r.stderr


def test_too_many_rows_are_refused(tmp_path):
    lim = limits(next(x for x in Workbook(DATA).package["resources"] if x["name"] == "blood_glutamate"), Workbook(DATA).package)
    data = rows_of("blood_glutamate", lim["rows"] + 1)
    assert len(data) < lim["bytes"]  # within the byte limit: the row limit refuses it
    d = folder(tmp_path, "blood_glutamate", data)
    r = check(d)
    assert r.returncode == 1
    assert (f"blood_glutamate.csv:{lim['rows'] + 2}: file has about {lim['rows'] + 1:,} data rows; more than the "
            f"declared limit of {lim['rows']:,} rows is refused") in r.stderr
    assert "raise 'rows' in glumeta:limits" in r.stderr


def test_a_thousand_rows_are_within_the_limits(tmp_path):
    d = folder(tmp_path, "blood_glutamate", rows_of("blood_glutamate", 1_000, pad=300))
    t = read(Workbook(d).dataset("blood_glutamate"))
    assert len(t.rows) == 1_000
    assert not [p for p in t.problems if "glumeta:limits" in p.message]


def test_a_resource_declares_its_own_limit(tmp_path):
    d = folder(tmp_path, "blood_glutamate", (DATA / "blood_glutamate.csv").read_bytes())
    p = d / "datapackage.json"
    text = p.read_text(encoding="utf-8")
    anchor = '"path": "blood_glutamate.csv",'
    assert text.count(anchor) == 1
    p.write_text(text.replace(anchor, anchor + ' "glumeta:limits": {"rows": 3},'), encoding="utf-8")
    assert limits(next(x for x in json.loads(p.read_text())["resources"] if x["name"] == "blood_glutamate"),
                  json.loads(p.read_text()))["rows"] == 3
    r = check(d)
    assert r.returncode == 1 and "blood_glutamate.csv:5: file has about" in r.stderr
    assert "declared limit of 3 rows" in r.stderr


@pytest.mark.slow
def test_the_build_refuses_an_oversized_table_before_any_page_runs(tmp_path):
    from bookutil import build, copy_book

    book = copy_book(tmp_path / "book")
    data = rows_of("esketamine_madrs", 53_000, pad=500)
    (book / "data" / "esketamine_madrs.csv").write_bytes(data)
    t = time.perf_counter()
    r = build(book)
    assert time.perf_counter() - t < 60
    log = r.stdout + r.stderr
    assert r.returncode == 1
    assert f"esketamine_madrs.csv:1: file is {len(data):,} bytes; more than the declared limit of" in r.stderr
    assert "raise 'bytes' in glumeta:limits" in r.stderr
    assert "glumeta build: stopped: 1 data error(s); no chapter was run" in r.stderr
    assert "Executing notebook" not in log and not (book / "_build" / "html").exists()
