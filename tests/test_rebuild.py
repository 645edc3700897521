"""Add a row → rebuild: the new study appears, the numbers equal the CLI's, and only
the chapters that read the changed file are re-executed. Also: removing a row,
editing a value, editing the schema, and an invalid row stopping the build."""

import re
from pathlib import Path

import pytest

from bookutil import CHAPTERS, analyze, build, copy_book, executed, notebooks, page, rerun, text_of
from glumeta.views.chapter import fmt
from glumeta.book.sphinxext import declared

pytestmark = pytest.mark.slow

# a real, cited row of each file (moved out before the first build, appended back after)
ROWS = {"blood_glutamate": "pan2018-c1", "esketamine_madrs": "transform3",
        "nitrous_oxide_hamd": "guimaraes2021", "ketamine_escitalopram": "hu2016"}
SLUG = {v: k for k, v in CHAPTERS.items()}


def readers(book: Path, name: str) -> set[str]:
    """Pages whose front matter declares *name* (or any table, for the schema)."""
    out = set()
    for p in (book / "book").glob("*.md"):
        d = declared(p.read_text(encoding="utf-8"))
        if d is not None and (name is None or name in d):
            out.add(p.stem)
    return out


def split_row(book: Path, name: str, study_id: str) -> str:
    p = book / "data" / f"{name}.csv"
    lines = p.read_text(encoding="utf-8").splitlines(keepends=True)
    keep = [ln for ln in lines if not ln.startswith(study_id + ",")]
    moved = "".join(ln for ln in lines if ln.startswith(study_id + ","))
    p.write_text("".join(keep), encoding="utf-8")
    return moved


MOVED: dict[str, str] = {}  # rows moved out of the copy before the first build


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    b = copy_book(tmp_path_factory.mktemp("rebuild"))
    MOVED.update({name: split_row(b, name, sid) for name, sid in ROWS.items() if name != "ketamine_escitalopram"})
    r = build(b)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    return b


def _assert_reran(book, r, pages: set[str], reason: str):
    """Exactly *pages* re-ran, each saying why; of them, exactly the notebooks were executed."""
    log = r.stdout + r.stderr
    assert rerun(log) == pages
    for p in pages:
        assert f"glumeta: re-running book/{p}.md: " in log and reason in log
    assert executed(log) == pages & notebooks(book)


def _check_page(book, name, must_contain=None, must_not=None):
    res = analyze(book, name)
    main = res.get("overall") or res["overall:remission"]
    html = page(book, SLUG[name])
    text = text_of(html)
    est = main["estimate_exp"] if main["measure"] in ("RR", "OR") else main["estimate"]
    assert fmt(est) in text
    assert f"k = {main['k']}" in text
    if must_contain:
        assert must_contain in html  # data table and forest plot alt text both list the study
        alt = re.findall(r'alt="([^"]*)"', html)
        assert any(must_contain in a for a in alt)
    if must_not:
        assert must_not not in html


@pytest.mark.parametrize("name", ["blood_glutamate", "esketamine_madrs", "nitrous_oxide_hamd"])
def test_append_row(book, name):
    p = book / "data" / f"{name}.csv"
    p.write_text(p.read_text(encoding="utf-8") + MOVED[name], encoding="utf-8")
    r = build(book)
    assert r.returncode == 0, r.stderr[-2000:]
    _assert_reran(book, r, readers(book, name), f"data/{name}.csv changed")
    label = MOVED[name].split(",")[1]
    _check_page(book, name, must_contain=label)


def test_remove_row(book):
    name = "ketamine_escitalopram"
    p = book / "data" / f"{name}.csv"
    lines = p.read_text(encoding="utf-8").splitlines(keepends=True)
    # drop Hu 2016's remission row: the only single-infusion trial with remission numbers
    p.write_text("".join(ln for ln in lines if not (ln.startswith("hu2016,") and ",remission," in ln)),
                 encoding="utf-8")
    r = build(book)
    assert r.returncode == 0, r.stderr[-2000:]
    _assert_reran(book, r, readers(book, name), f"data/{name}.csv changed")
    assert "overall:remission" not in analyze(book, name)
    p.write_text("".join(lines), encoding="utf-8")
    r = build(book)
    assert r.returncode == 0
    _check_page(book, name)


def test_edit_value(book):
    name = "esketamine_madrs"
    p = book / "data" / f"{name}.csv"
    before = analyze(book, name)["overall"]["estimate"]
    s = p.read_text(encoding="utf-8")
    p.write_text(s.replace(",-3.9,1.39,-6.60,-1.11,", ",-3.9,1.45,-6.60,-1.11,", 1), encoding="utf-8")
    r = build(book)
    assert r.returncode == 0, r.stderr[-2000:]
    _assert_reran(book, r, readers(book, name), f"data/{name}.csv changed")
    after = analyze(book, name)["overall"]["estimate"]
    assert after != before
    _check_page(book, name)


def test_noop_rebuild_executes_nothing(book):
    r = build(book)
    assert r.returncode == 0
    assert executed(r.stdout + r.stderr) == set()
    assert rerun(r.stdout + r.stderr) == set()


def test_schema_edit_reruns_every_data_page(book):
    p = book / "data" / "datapackage.json"
    p.write_text(p.read_text(encoding="utf-8").replace("Free text: assumptions, caveats.",
                                                        "Free text: assumptions and caveats."), encoding="utf-8")
    r = build(book)
    assert r.returncode == 0, r.stderr[-2000:]
    _assert_reran(book, r, readers(book, None), "data/datapackage.json changed")
    assert "assumptions and caveats" in page(book, "data_dictionary")


def test_invalid_row_stops_build_before_any_chapter(book):
    p = book / "data" / "esketamine_madrs.csv"
    good = p.read_text(encoding="utf-8")
    p.write_text(good + good.splitlines()[1].replace("canuso2018,", "canuso-new,").replace(",2.10,", ",-2.10,") + "\n",
                 encoding="utf-8")
    try:
        r = build(book)
        assert r.returncode == 1
        line = len(good.splitlines()) + 1
        assert f"esketamine_madrs.csv:{line}: column 'md_se': value '-2.10': must be greater than 0" in r.stderr
        assert executed(r.stdout + r.stderr) == set()
        assert "jupyter-book" not in r.stdout
    finally:
        p.write_text(good, encoding="utf-8")
