"""Summary of findings (glumeta.views.findings): each outcome row holds analyze()'s numbers; participants,
control risks and the computed reasons are recomputed here; judged GRADE domains are "not assessed"."""

import html
import math
import re

import pytest

from glumeta.data.tables import datasets
from glumeta.views.findings import JUDGED_DOMAINS, NOT_ASSESSED, findings, findings_html, findings_table
from glumeta.stats.plan import Analysis, analyze, is_main

MAINS = [(name, a) for name in datasets() for a in analyze(name) if isinstance(a, Analysis) and is_main(a.id)]


@pytest.fixture(scope="module")
def sof():
    return findings().set_index(["file", "id"])


def _participants(rows):
    c1, c2 = ("totaln_arm1", "totaln_arm2") if "totaln_arm1" in rows else ("n_arm1", "n_arm2")
    total = 0
    for _, g in rows.groupby("study_id"):
        if "design" in g and (g["design"] == "crossover").all():
            total += int(g[[c1, c2]].max(axis=1).sum())
            continue
        total += int(g[c1].sum())
        if "shared_control" in g and g["shared_control"].notna().all() and g["shared_control"].nunique() == 1:
            total += int(g[c2].iloc[0])  # one shared control group (one time point per pool)
        else:
            total += int(g[c2].sum())
    return total


def test_one_row_per_main_analysis(sof):
    assert list(sof.index) == [(n, a.id) for n, a in MAINS]
    assert len(sof) == 5  # blood glutamate, esketamine, nitrous oxide, ketamine response and remission


@pytest.mark.parametrize("name,a", MAINS, ids=[f"{n}:{a.id}" for n, a in MAINS])
def test_numbers_equal_analyze(sof, name, a):
    r = sof.loc[(name, a.id)]
    d = a.display()
    assert r["k"] == a.k
    assert r["trials"] == a.rows["study_id"].nunique()
    for k in ("estimate", "ci_lower", "ci_upper", "pi_lower", "pi_upper"):
        if d[k] is None:
            assert math.isnan(r[k])
        else:
            assert r[k] == pytest.approx(d[k], rel=1e-12)
    assert r["participants"] == _participants(a.rows)
    assert r["model"] == a.model
    for dom in JUDGED_DOMAINS:
        assert r[dom] == NOT_ASSESSED


@pytest.mark.parametrize("name,a", MAINS, ids=[f"{n}:{a.id}" for n, a in MAINS])
def test_absolute_effect(sof, name, a):
    r = sof.loc[(name, a.id)]
    if a.measure != "RR":
        assert math.isnan(r["control_risk"])
        return
    cr = a.rows["event2_used"].sum() / a.rows["totaln_arm2"].sum()
    assert r["control_risk"] == pytest.approx(cr)
    d = a.display()
    assert r["risk_intervention"] == pytest.approx(d["estimate"] * cr)
    assert (r["risk_lower"], r["risk_upper"]) == pytest.approx((d["ci_lower"] * cr, d["ci_upper"] * cr))


@pytest.mark.parametrize("name,a", MAINS, ids=[f"{n}:{a.id}" for n, a in MAINS])
def test_reasons_are_computed(sof, name, a):
    why = " | ".join(sof.loc[(name, a.id), "reasons"])
    d = a.display()
    null = 1 if a.measure in ("RR", "OR") else 0
    from glumeta.views.findings import OIS_EVENTS, OIS_PARTICIPANTS, events

    n = sof.loc[(name, a.id), "participants"]
    ev = events(a.rows) if a.measure in ("RR", "OR") else None
    small = (ev < OIS_EVENTS) if ev is not None else n < OIS_PARTICIPANTS
    assert ("imprecision" in why) == ((d["ci_lower"] <= null <= d["ci_upper"]) or small)
    assert ("small information size" in why) == small
    pi_crosses = d["pi_lower"] is not None and d["pi_lower"] <= null <= d["pi_upper"]
    assert ("inconsistency" in why) == ((a.k > 1 and a.i2 >= 50) or pi_crosses)
    assert ("single study" in why) == (a.k == 1)
    assert ("secondary" in why) == bool(a.rows["secondary"].any())
    assert ("skew-flagged" in why) == bool(a.rows["skewed"].any())
    assert ("pending" in why) == (a.pending > 0)


def test_table_and_html():
    t = findings_table()
    assert len(t) == len(MAINS)
    out = findings_html()._repr_html_()
    assert out.count(f"<i>{NOT_ASSESSED}</i>") == len(MAINS) * len(JUDGED_DOMAINS)
    for _, a in MAINS:
        assert html.escape(a.label) in out


def test_remission_with_27_patients_is_imprecise(sof):
    """Hu 2016's remission row (k = 1, 27 patients, 12 events): the CI excludes 1 but the information is far
    below GRADE's optimal-information-size rule of thumb, so imprecision is a computed reason (audit 18, C)."""
    r = sof.loc[("ketamine_escitalopram", "overall:remission")]
    assert r["participants"] == 27
    assert any(x.startswith("imprecision: small information size: 12 events in 27 participants") for x in r["reasons"])


def test_effect_column_models_and_study_counts():
    """The column is "Effect (95% CI)" (it holds MDs and SMDs, not only ratios); each row shows its own
    model (no footer joining two model strings); a single study reads "Single study (not pooled)"; the
    blood-glutamate cohort is "1 study", not "1 trial" (audit 18, C; audit 16, 3)."""
    view = findings_html()
    out = view._repr_html_()
    assert "Relative effect" not in out and "<th>Effect<br>(95% CI)</th>" in out
    assert "Intervals as analysed" not in out
    models = re.findall(r'<span class="glumeta-sof-model">(.*?)</span>', out)
    assert len(models) == len(MAINS)
    for m, (_, a) in zip(models, MAINS):
        assert m == html.escape(a.model)
        assert m.count("Random effects") <= 1
        if a.k == 1:
            assert m == "Single study (not pooled)"
    assert " trial)" not in out and " trials)" not in out
    blood = re.search(r'data-analysis="blood_glutamate:overall">(.*?)</tr>', out).group(1)
    assert "k = 1 (1 study)" in blood
    assert out.count('class="glumeta-sof-outcome"') == len(MAINS)


def test_findings_page_warns_about_an_analysis_it_leaves_out(tmp_path):
    """A new analysis table the page does not declare is never silently missing: the directive warns
    with the page's name (Sphinx build in a temporary project)."""
    import io
    import os
    from unittest import mock

    from sphinx.application import Sphinx

    from glumeta.book.directives import findings_names, left_out_message
    from glumeta.data.workbook import Workbook

    shown, missing = findings_names(Workbook(declared=["esketamine_madrs", "nitrous_oxide_hamd", "reported"]))
    assert shown == ["esketamine_madrs", "nitrous_oxide_hamd"]
    assert missing == ["blood_glutamate", "ketamine_escitalopram"]
    assert findings_names(Workbook(declared=list(Workbook().analyses())))[1] == []

    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text("extensions = ['glumeta.book.directives']\n", encoding="utf-8")
    (src / "index.rst").write_text("Summary\n=======\n\n.. glumeta-findings::\n", encoding="utf-8")
    warnings = io.StringIO()
    env = Workbook(declared=["esketamine_madrs", "nitrous_oxide_hamd"], in_book=True).env()
    with mock.patch.dict(os.environ, env):
        app = Sphinx(str(src), str(src), str(tmp_path / "out"), str(tmp_path / "doctrees"), "html",
                     status=io.StringIO(), warning=warnings, freshenv=True)
        app.build()
    text = warnings.getvalue()
    assert left_out_message("index", missing) in text
    html_out = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert html_out.count('class="glumeta-sof-outcome"') == 2
