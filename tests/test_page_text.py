"""What the pages say, checked where it is made (audits of issues 16, 19 and 20): no raw label
template, no tuple printed as a cell output, every pooled number the prose quotes visible as a cell
output, single studies not called pooled, no "nan" cells, computed numbers in the book's style, labels
never cut on the leave-one-out and cumulative plots, Egger's test counted on trials, the estimator grid
without FE × Knapp–Hartung, alt texts naming the outcome, and no typed counts in the chapters."""

import copy
import html
import re
from pathlib import Path
from types import SimpleNamespace as NS

import numpy as np
import pandas as pd
import pytest

from glumeta.views import html as views
from glumeta.views.chapter import Chapter, PooledSummary

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
#: the analysis chapters (data file, page) and the pages whose prose this file checks
CHAPTERS = {"blood_glutamate": "blood_glutamate", "esketamine_madrs": "esketamine",
            "nitrous_oxide_hamd": "nitrous_oxide", "ketamine_escitalopram": "ketamine_escitalopram"}
PAGES = [BOOK / f"{p}.md" for p in CHAPTERS.values()] + [BOOK / "ledger.md"]


@pytest.fixture(scope="module")
def chapters():
    return {name: Chapter(name, "test") for name in CHAPTERS}


def _prose(path: Path) -> str:
    return re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)


def _text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", fragment))


# ---------------------------------------------------------------- 1. label templates
def test_no_template_survives_in_any_eligibility(chapters):
    for name, ch in chapters.items():
        out = ch.eligibility().data
        left = re.findall(r"\{[^{}]*\}", _text(out))
        assert not left, f"{name}: raw template(s) {left} on the page"
    k = chapters["ketamine_escitalopram"].eligibility().data
    assert "Response, any ketamine schedule (RR)" in k and "Remission, any ketamine schedule (RR)" in k


def test_sensitivity_labels_are_the_analyses_labels(chapters):
    """The eligibility list names each sensitivity pool as the analysis itself is labelled."""
    ch = chapters["ketamine_escitalopram"]
    per = ch.plan["overall"]["per"]
    labels = views.sensitivity_labels(ch.plan, list(dict.fromkeys(ch.table[per])))
    assert set(labels) <= {a.label for a in ch.analyses}


# ---------------------------------------------------------------- 3. k = 1
def test_a_single_study_is_not_called_pooled(chapters):
    ch = chapters["ketamine_escitalopram"]
    for aid in ("overall:response", "overall:remission", "remission:RD"):
        a = ch.by_id[aid]
        assert a.k == 1
        t = PooledSummary(views.pooled_texts(a), a.measure).text()
        assert "k = 1" in t and "not pooled" in t.lower(), t
        assert views.pooled_texts(a)["model"] == a.model == "Single study (not pooled)"
        for bad in ("I²", "–%", "prediction interval", "τ²", "Random effects", "Hartung", "HKSJ"):
            assert bad not in t, f"{aid}: {bad!r} in {t!r}"
    bg = chapters["blood_glutamate"].by_id["overall"]
    t = PooledSummary(views.pooled_texts(bg), bg.measure).text()
    assert "I² = –%" not in t and "not pooled" in t.lower()
    # a pooled analysis still says everything
    esk = chapters["esketamine_madrs"].by_id["overall"]
    t = PooledSummary(views.pooled_texts(esk), esk.measure).text()
    assert "I² = " in t and "prediction interval" in t and f"Model: {esk.model}" in t


def test_summary_and_sensitivity_rows_of_a_single_study():
    from glumeta.data.workbook import current

    df = views.summary_table(list(CHAPTERS), current())
    one = df[df["k"] == "k = 1"]
    assert len(one) >= 1
    assert set(one["I² %"]) == {"–"}
    assert not one["model"].str.contains("Random effects|Hartung|HKSJ").any(), list(one["model"])
    assert one["prediction interval"].str.contains("single study").all()


def test_k_says_what_it_counts(chapters):
    """k counts comparisons: where dose arms share a control, every line a page prints says so
    ("k = 6 comparisons from 4 trials", PoolResult.k_text): the PooledSummary line, the glued
    ``_ktext``, the summary table's and the sensitivity table's rows (reviewer, item 6)."""
    from glumeta.data.workbook import current

    esk = chapters["esketamine_madrs"].by_id["overall"]
    assert esk.k_text == f"k = {esk.k} comparisons from {esk.trials} trials" and esk.trials < esk.k
    vals = views.pooled_texts(esk)
    assert vals["ktext"] == esk.k_text and vals["k"] == str(esk.k)  # the old key stays
    t = PooledSummary(vals, esk.measure).text()
    assert esk.k_text in t and f"; k = {esk.k};" not in t
    df = views.summary_table(list(CHAPTERS), current())
    assert esk.k_text in df["k"].tolist()
    assert esk.k_text in _text(views.sensitivity_html(chapters["esketamine_madrs"].analyses))
    assert views.pooled_texts(None)["ktext"] == "n/a"


#: the chapters of this file's owner: their prose quotes a ``_k`` glue only as comparisons
OWN_CHAPTERS = [BOOK / f"{p}.md" for p in ("nitrous_oxide", "ketamine_escitalopram", "blood_glutamate")]


@pytest.mark.parametrize("page", OWN_CHAPTERS, ids=lambda p: p.stem)
def test_a_k_glue_is_never_called_trials(page):
    """``<prefix>_k`` is the number of comparisons: the prose never calls it trials or studies (it
    quotes ``<prefix>_ktext``, which says both), and never prints a bare "k = <prefix>_k"."""
    prose = _prose(page)
    assert not re.findall(r"\{glue:text\}`[a-z0-9_]+_k`\s+(?:trials?|stud(?:y|ies))\b", prose)
    assert not re.findall(r"k = \{glue:text\}`[a-z0-9_]+_k`", prose)


def test_the_synthesis_pi_reason_counts_trials():
    """The synthesis's glued PI text uses the one no-PI rule (views.html.no_pi_reason)."""
    from glumeta.book.directives import synthesis_texts
    from glumeta.stats.models import pool

    r = pool([0.1, 0.3, 0.5], [0.01, 0.02, 0.03], trials=1)
    view = NS(glue_texts=dict, result={"overall": r})
    assert synthesis_texts(view)["syn_pi"] == ("not defined (k = 3 comparisons from 1 trial; "
                                               "a prediction interval needs at least 3 trials)")


def test_sensitivity_table_of_a_single_study(chapters):
    out = _text(views.sensitivity_html(chapters["ketamine_escitalopram"].analyses, "remission"))
    assert "I² = –%" not in out and "adhoc" not in out.split("any ketamine")[0]


# ---------------------------------------------------------------- 4. nan cells, 11. number formats
CHECK_CALLS = re.compile(r"checks_table\(\[([^\]]*)\]\)")


def _checks_of(page: Path) -> list[list[str]]:
    return [re.findall(r'"([^"]+)"', m) for m in CHECK_CALLS.findall(page.read_text(encoding="utf-8"))]


def test_checks_tables_have_no_nan_and_book_numbers(chapters):
    seen = 0
    for name, page in CHAPTERS.items():
        ch = chapters[name]
        for ids in _checks_of(BOOK / f"{page}.md"):
            out = views.checks_html(ch.checks(ids), ids)
            cells = re.findall(r"<td[^>]*>(.*?)</td>", out)
            seen += len(cells)
            assert "nan" not in [c.strip().lower() for c in cells], f"{page}: {ids}"
            for c in cells:
                assert not re.search(r"(?<![\w.)\]])-\.?\d", html.unescape(c)), f"{page}: ASCII minus in {c!r}"
                assert not re.search(r"\d[eE][-+−]?\d", html.unescape(c)), f"{page}: e-notation in {c!r}"
    assert seen > 20


def test_checks_with_different_details_print_no_nan():
    checks = {"a": NS(details={"SE": "0.10", "z": "2.0"}, verdict="consistent"),
              "b": NS(details={"SE": "0.20", "p": "0.04"}, verdict="reproduced")}
    cells = re.findall(r"<td[^>]*>(.*?)</td>", views.checks_html(checks, ["a", "b"]))
    assert "nan" not in [c.lower() for c in cells] and cells.count("–") == 2, cells


def test_ledger_computed_column_in_book_style():
    from glumeta.data.workbook import current

    out = views.ledger_html(workbook=current())
    computed = [html.unescape(row[3]) for row in re.findall(r"<tr data-[^>]*>" + r"<td>(.*?)</td>" * 4, out)]
    # the explanation (after the verbatim quote) is computed too
    computed += [html.unescape(e) for e in re.findall(r"</i><br>(.*?)</td></tr>", out)]
    assert len(computed) > 100
    for c in computed:
        assert not re.search(r"(?<![\w.)\]])-\.?\d", c), c
        assert not re.search(r"\d[eE][-+−]?\d", c), c


# ---------------------------------------------------------------- 6. labels on the path plots
def test_leave_one_out_labels_are_distinct_and_uncut(chapters):
    from glumeta.stats.sensitivity import cumulative, leave_one_out
    from glumeta.views.figures import estimate_path_plot

    a = chapters["esketamine_madrs"].by_id["time:day 28"]
    labels = list(a.rows["label"])
    assert sum(lab.startswith("TRANSFORM-1") for lab in labels) == 2 and all(len(lab) > 40 for lab in labels[:2])
    loo = leave_one_out(a.rows["yi"], a.rows["vi"], labels=a.rows["label"])
    cum = cumulative(a.rows["yi"], a.rows["vi"], a.rows["year"], labels=a.rows["label"])
    for frame, col in ((loo, "omitted"), (cum, "added")):
        fig = estimate_path_plot(frame, col, a.measure, a, "t")
        shown = [t.get_text() for t in fig.axes[0].get_yticklabels()]
        assert len(set(shown)) == len(shown), shown
        assert [s.replace("\n", " ") for s in shown] == [str(v) for v in frame[col]], shown
        assert not any("…" in s for s in shown)
        import matplotlib.pyplot as plt

        plt.close(fig)


# ---------------------------------------------------------------- 7. Egger's test counts trials
def _fake(k_rows: int, trials: int):
    rng = np.random.default_rng(1)
    yi = rng.normal(-0.4, 0.3, k_rows)
    vi = rng.uniform(0.02, 0.2, k_rows)
    ids = [f"t{i % trials}" for i in range(k_rows)]
    rows = pd.DataFrame({"yi": yi, "vi": vi, "label": [f"Study {i}" for i in range(k_rows)],
                         "year": 2000 + np.arange(k_rows), "study_id": ids})
    return NS(rows=rows, k=k_rows, estimate=float(np.average(yi, weights=1 / vi)), ci_lower=-1.0, ci_upper=0.1,
              measure="SMD", label="Fake pool", id="overall")


def test_egger_needs_ten_trials_not_ten_rows():
    out = html.unescape(views.robustness_html(_fake(10, 7), "overall", "test", "REML", "z"))
    assert "No funnel-asymmetry test" in out and "from 7 trials" in out and "Egger's test (" not in out
    out = html.unescape(views.robustness_html(_fake(10, 10), "overall", "test", "REML", "z"))
    assert "Egger's test (k = 10)" in out


def test_funnel_plot_counts_trials():
    import matplotlib.pyplot as plt

    from glumeta.views.figures import funnel_plot

    f = _fake(10, 7)
    fig = funnel_plot(f.rows["yi"], f.rows["vi"], f.estimate, "SMD", trials=7)
    assert not any("Egger" in t.get_text() for t in fig.legends[0].get_texts())
    assert any("7 trials < 10" in t.get_text() for t in fig.axes[0].texts)
    plt.close(fig)
    fig = funnel_plot(f.rows["yi"], f.rows["vi"], f.estimate, "SMD", trials=10)
    assert any("Egger" in t.get_text() for t in fig.legends[0].get_texts())
    plt.close(fig)


# ---------------------------------------------------------------- 8. estimator grid
def test_robustness_grid_prints_p_without_e_notation(chapters):
    out = html.unescape(chapters["esketamine_madrs"].robustness("overall").data)
    grid = out.split("Leave-one-out")[0]
    assert not re.search(r"\d[eE][-+−]?\d", grid), re.findall(r"\S*\d[eE][-+−]?\d\S*", grid)


def test_estimator_grid_has_fe_with_z_only():
    from glumeta.stats.models import METHODS, TESTS
    from glumeta.stats.sensitivity import estimator_grid

    g = estimator_grid([0.1, 0.3, 0.5, 0.2], [0.01, 0.02, 0.03, 0.02])
    assert list(g.loc[g["method"] == "FE", "test"]) == ["z"]
    assert len(g) == (len(METHODS) - 1) * len(TESTS) + 1
    assert set(zip(g["method"], g["test"])) == {(m, t) for m in METHODS for t in TESTS if m != "FE" or t == "z"}


# ---------------------------------------------------------------- 11. alt texts
def test_alt_texts_name_the_outcome(chapters):
    for name, ch in chapters.items():
        for a in ch.analyses:
            if a.id.startswith("subgroups:") or not hasattr(a, "rows"):
                continue
            alt = views.alt_text(a, views.full_label(a, ch.plan, ch.analyses))
            assert not re.search(r"Forest plot of (At|Including|Population:)\b", alt), alt
    ch = chapters["esketamine_madrs"]
    a = ch.by_id["time:day 28"]
    assert views.alt_text(a, views.full_label(a, ch.plan, ch.analyses)).startswith(
        "Forest plot of MADRS change from baseline, at day 28:")


# ---------------------------------------------------------------- 10. typed counts
COUNT_WORDS = r"(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
TYPED_COUNT = re.compile(rf"(?i)\b{COUNT_WORDS}\s+(?:\w+\s+)?(?:trials|studies|doses|source documents|documents|"
                         rf"papers|comparisons|rows)\b|\bwith {COUNT_WORDS} trials\b|\b{COUNT_WORDS} published\b")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_no_typed_count_of_the_data(page):
    """A count of trials, studies, doses or documents is glued from the data, never typed."""
    found = TYPED_COUNT.findall(_prose(page))
    assert not found, f"{page.name}: typed count(s) {found}; glue them (e.g. <prefix>_k) or reword"


def test_the_count_check_catches_the_old_phrasings():
    for s in ("are two later studies that", "with two trials the interval", "Daly 2018's three doses",
              "claim in the five source documents", "Two published pooled results"):
        assert TYPED_COUNT.search(s), s


# ---------------------------------------------------------------- 2. every quoted pooled number is shown
def _run(page: Path, tmp_path, monkeypatch):
    import jupytext

    from glumeta.book.inprocess import execute_notebook
    from glumeta.book.sphinxext import declared

    monkeypatch.setenv("GLUMETA_DATA_DIR", str(ROOT / "data"))
    monkeypatch.setenv("GLUMETA_BUILD_DIR", str(tmp_path / "_build"))
    monkeypatch.setenv("GLUMETA_DECLARED", ",".join(declared(page.read_text(encoding="utf-8")) or []))
    nb = copy.deepcopy(jupytext.read(page))
    res = execute_notebook(nb, str(page.parent), timeout=300)
    assert res["error"] is None, res["error"]
    glued, shown = {}, []
    for c in nb.cells:
        for o in c.get("outputs", []):
            data = o.get("data", {})
            book = (o.get("metadata") or {}).get("scrapbook", {})
            if book.get("name"):
                glued[book["name"]] = data[book.get("mime_prefix", "") + "text/plain"]
            elif data:
                shown.append(data.get("text/plain", "") + " " + _text(data.get("text/html", "")))
            elif o.get("output_type") == "stream":
                shown.append(o.get("text", ""))
    return nb, glued, " ".join(shown)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_every_quoted_pooled_number_is_a_cell_output(page, tmp_path, monkeypatch):
    """Jupyter does not render glue: each estimate, CI and prediction interval the prose quotes
    (a ``glue_analysis`` prefix's ``_est``, ``_ci``, ``_pi``) must also be in a visible output; and
    no cell output is a bare Python tuple."""
    nb, glued, shown = _run(page, tmp_path, monkeypatch)
    prose = _prose(page)
    quoted = set(re.findall(r"\{glue:text\}`([a-z0-9_]+)`", prose))
    assert quoted <= set(glued), f"{page.name}: quoted but not glued {sorted(quoted - set(glued))}"
    assert all(glued[q] for q in quoted), "a glued value read as empty"
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    prefixes = re.findall(r'glue_analysis\("[^"]+",\s*"([a-z0-9_]+)"\)', code)
    missing = [f"{p}_{k} = {glued[f'{p}_{k}']}" for p in prefixes for k in ("est", "ci", "pi")
               if f"{p}_{k}" in quoted and glued[f"{p}_{k}"] not in shown]
    assert not missing, f"{page.name}: quoted pooled numbers not shown as a cell output: {missing}"
    for c in nb.cells:
        for o in c.get("outputs", []):
            plain = o.get("data", {}).get("text/plain", "")
            assert not re.match(r"^\((.*), (.*)\)$", plain, re.S) or "scrapbook" in (o.get("metadata") or {}), \
                f"{page.name}: a tuple printed as a cell output: {plain[:80]}"
    if page.stem == "ketamine_escitalopram":  # the numbers report-20 found only as glue
        for name in ("any_resp_est", "any_resp_ci", "hu_remrd_ci"):
            assert glued[name] in shown
    if page.stem == "ledger":  # the verdicts are glued from the ledger
        for name in ("qiu_2h_ci_verdict", "qiu_2h_p_verdict", "qiu_resp_rr_verdict"):
            assert glued[name].strip("'") in ("reproduced", "consistent", "discrepant", "not checkable"), glued[name]
