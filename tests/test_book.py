"""Build the whole book from a copy and check the HTML a reader gets."""

import re

import pytest

from bookutil import CHAPTERS, analyze, build, copy_book, forest_pngs, page, text_of
from glumeta.views.chapter import fmt, fmt_ci
from glumeta.data.tables import data_version
from glumeta.data.workbook import Workbook

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def book(built_book):
    return built_book


def test_every_page_built(book):
    html = book / "_build" / "html"
    for slug in list(CHAPTERS) + ["intro", "synthesis", "ledger", "methods", "data_dictionary", "add_a_trial", "add_an_analysis", "summary_of_findings", "environment"]:
        assert (html / "book" / f"{slug}.html").exists(), slug


@pytest.mark.parametrize("slug", CHAPTERS)
def test_chapter_has_plot_table_numbers(book, slug):
    name = CHAPTERS[slug]
    html = page(book, slug)
    text = text_of(html)
    pngs = forest_pngs(html, book)
    assert pngs and all(w > 300 and h > 100 for w, h in pngs)
    assert 'class="glumeta-table"' in html
    assert "Traceback" not in html and "Error" not in re.sub(r"<[^>]+>", "", html).replace("Error bars", "")
    v = Workbook(book / "data").version([name])
    assert v["hash"] in text
    res = analyze(book, name)
    main = res["overall"] if "overall" in res else res["overall:remission"]
    ratio = main["measure"] in ("RR", "OR")
    est = main["estimate_exp"] if ratio else main["estimate"]
    lo, hi = (main["ci_lower_exp"], main["ci_upper_exp"]) if ratio else (main["ci_lower"], main["ci_upper"])
    assert fmt(est) in text, f"{fmt(est)} not in {slug}"
    assert fmt_ci(lo, hi) in text
    assert f"k = {main['k']}" in text


def test_download_links_exist(book):
    html_dir = book / "_build" / "html"
    for slug in CHAPTERS:
        for href in re.findall(r'href="(\.\./(?:figures|data)/[^"]+)"', page(book, slug)):
            assert (html_dir / "book" / href).resolve().exists(), href


def test_intro_summary_matches_cli(book):
    text = text_of(page(book, "intro"))
    for name in CHAPTERS.values():
        for aid, a in analyze(book, name).items():
            if aid == "overall" or aid.startswith("overall:"):
                est = a["estimate_exp"] if a["measure"] in ("RR", "OR") else a["estimate"]
                assert fmt(est) in text


def test_data_dictionary_lists_every_column(book):
    import json

    text = text_of(page(book, "data_dictionary"))
    pkg = json.loads((book / "data" / "datapackage.json").read_text())
    for res in pkg["resources"]:
        for f in res["schema"]["fields"]:
            assert f["name"] in text


def test_ledger_page_and_chapter_rows(book):
    from glumeta.stats.ledger import ledger

    html = (book / "_build" / "html" / "book" / "ledger.html").read_text(encoding="utf-8")
    rows = ledger(Workbook(book / "data"))
    assert html.count('data-verdict="') == len(rows)
    for v in ("reproduced", "consistent", "discrepant", "not checkable"):
        assert f'class="badge-{v.replace(" ", "-")}"' in html
    assert 'id="ledger-doc"' in html and 'id="ledger-verdict"' in html
    for slug, name in CHAPTERS.items():
        mine = [r for r in rows if r.analysis == name]
        assert mine
        assert page(book, slug).count('data-verdict="') == len(mine)


def test_hostile_label_is_text_not_markup(book):
    """A study label with <script>, &, quotes and MyST/Markdown syntax is shown as text."""
    from conftest import HOSTILE_LABEL

    html = page(book, "blood_glutamate")
    assert "<script>alert" not in html
    assert 'href="javascript:' not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;Pan&quot;" in html
    assert "{glue:text}`esk_est`" in text_of(html)  # MyST syntax left as literal text
    assert "**bold**" in text_of(html)
    assert HOSTILE_LABEL in text_of(html)


def test_two_builds_give_identical_numbers_and_svgs(book, tmp_path):
    """A second, independent build of the same data: same glued numbers, byte-identical SVGs."""
    import json
    import shutil

    b2 = copy_book(tmp_path / "again")
    shutil.copy(book / "data" / "blood_glutamate.csv", b2 / "data" / "blood_glutamate.csv")
    r = build(b2)
    assert r.returncode == 0, r.stderr[-2000:]
    for glue in sorted((book / "_build" / "jupyter_execute" / "book").glob("*.glue.json")):
        other = b2 / "_build" / "jupyter_execute" / "book" / glue.name
        strip = lambda d: {k: v["data"] for k, v in d.items()}  # noqa: E731
        assert strip(json.loads(glue.read_text())) == strip(json.loads(other.read_text())), glue.name
    svgs = sorted((book / "_build" / "figures").rglob("*.svg"))
    assert len(svgs) >= 8
    for svg in svgs:
        twin = b2 / "_build" / "figures" / svg.relative_to(book / "_build" / "figures")
        assert svg.read_bytes() == twin.read_bytes(), svg.name


def test_synthesis_numbers_match_engine(book):
    from glumeta.stats.synthesis import synthesis

    text = text_of(page(book, "synthesis"))
    s = synthesis(0.5, workbook=Workbook(book / "data"))
    assert fmt(s["overall"].estimate) in text and fmt_ci(s["overall"].ci_lower, s["overall"].ci_upper) in text
    assert forest_pngs(page(book, "synthesis"), book)
