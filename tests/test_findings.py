"""Summary of findings (glumeta.views.findings): each outcome row holds analyze()'s numbers; participants
and control risks are recomputed here; the computed reasons are checked against fixed expectations from
the data and constructed boundary cases; judged GRADE domains are "not assessed"."""

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
    assert r["trials"] == a.trials == a.rows["study_id"].nunique()
    assert r["k_text"] == a.k_text
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


def _why(sof, name, aid) -> str:
    return " | ".join(sof.loc[(name, aid), "reasons"])


def test_reasons_from_the_data(sof):
    """Fixed expectations, from the data, for GRADE 6's information-size rule of thumb (not the
    rule recomputed): nitrous oxide's headline pool has 43 participants (< 400, flagged); the
    esketamine pool 587 (not flagged); ketamine's remission 12 events in 27 patients (< 300 events)."""
    assert sof.loc[("nitrous_oxide_hamd", "overall"), "participants"] == 43
    assert "small information size: 43 participants (fewer than 400" in _why(sof, "nitrous_oxide_hamd", "overall")
    assert sof.loc[("esketamine_madrs", "overall"), "participants"] == 587
    assert "small information size" not in _why(sof, "esketamine_madrs", "overall")
    assert "small information size: 12 events in 27 participants (fewer than 300 events" in \
        _why(sof, "ketamine_escitalopram", "overall:remission")
    # the other reasons, from what the data show
    assert "a single study" in _why(sof, "blood_glutamate", "overall")
    assert "few studies: k = 6 comparisons from 4 studies" in _why(sof, "esketamine_madrs", "overall")
    assert "inconsistency: the prediction interval" in _why(sof, "esketamine_madrs", "overall")
    assert "pending row" in _why(sof, "nitrous_oxide_hamd", "overall")


def _rows(n1, n2, e1=None, e2=None, k=1):
    """*k* constructed two-arm rows (one trial each) with arm sizes *n1*, *n2* and events *e1*, *e2* (lists)."""
    import pandas as pd

    d = {"study_id": [f"s{i}" for i in range(k)], "label": [f"S{i}" for i in range(k)], "status": ["complete"] * k,
         "design": ["parallel"] * k, "time": ["24 h"] * k, "yi": [0.1] * k, "vi": [0.04] * k,
         "n_arm1": n1, "n_arm2": n2}
    if e1 is not None:
        d.update(event1_used=e1, event2_used=e2, totaln_arm1=n1, totaln_arm2=n2)
    return pd.DataFrame(d)


@pytest.mark.parametrize("measure", ["RR", "OR", "RD"])
def test_information_size_boundary_events(measure):
    """300 events is enough, 299 is not — for every binary measure, the RD included."""
    from glumeta.views.findings import information_size

    assert information_size(_rows([400], [400], [200], [99]), measure).startswith("small information size: 299 events")
    assert information_size(_rows([400], [400], [200], [100]), measure) is None


def test_information_size_boundary_participants():
    from glumeta.views.findings import information_size

    assert information_size(_rows([200], [199]), "MD") == \
        "small information size: 399 participants (fewer than 400, the rule of thumb of GRADE guidelines 6)"
    assert information_size(_rows([200], [200]), "MD") is None
    assert information_size(_rows([200], [200]), "SMD") is None


def _analysis(rows, measure, trials=None, aid="overall", label="Fake outcome"):
    """An Analysis of constructed *rows* (pooled by glumeta.stats.models.pool, *trials* as given)."""
    from dataclasses import fields

    from glumeta.stats.models import PoolResult, pool

    r = pool(rows["yi"].to_numpy(float), rows["vi"].to_numpy(float), measure=measure, trials=trials)
    return Analysis(**{f.name: getattr(r, f.name) for f in fields(PoolResult)}, id=aid, label=label, pending=0,
                    rows=rows.assign(weight=r.weights, secondary=False, skewed=False))


def test_a_risk_difference_is_binary():
    """A main analysis in RD is held to the 300-event rule (its rows carry counts), not to the continuous
    400-participant rule: 500 participants with 100 events is small information (reviewer, item 1)."""
    from glumeta.views.findings import reasons

    a = _analysis(_rows([125, 125], [125, 125], [30, 30], [20, 20], k=2), "RD")
    why = " | ".join(reasons(a))
    assert "small information size: 100 events in 500 participants (fewer than 300 events" in why


def test_a_binary_pool_with_a_missing_count_falls_back_to_participants():
    """A count missing: the events are unknown, and the participants' rule is applied (was: no check)."""
    from glumeta.views.findings import reasons

    a = _analysis(_rows([30, 30], [30, 30], [10, None], [5, 6], k=2), "RR")
    why = " | ".join(reasons(a))
    assert "small information size: events unknown" in why and "120 participants (fewer than 400" in why
    big = _analysis(_rows([300, 300], [300, 300], [10, None], [5, 6], k=2), "RR")
    assert "small information size" not in " | ".join(reasons(big))


def test_no_pi_reason_counts_trials_everywhere(monkeypatch):
    """Three comparisons from one trial (k ≥ 3, < 3 trials): the summary-of-findings row, the sensitivity
    table and the summary table all give the trials reason (one function, views.html.no_pi_reason), never
    'needs k ≥ 3' or a bare k (reviewer, item 4)."""
    from types import SimpleNamespace as NS

    import glumeta.views.findings as F
    import glumeta.views.html as views

    rows = _rows([20, 21, 22], [30, 30, 30], k=3).assign(study_id="daly", shared_control="daly-pbo",
                                                         yi=[-0.3, -0.5, -0.1])
    a = _analysis(rows, "MD", trials=1)
    assert a.k == 3 and a.trials == 1 and not a.pi_defined
    want = "k = 3 comparisons from 1 trial; a prediction interval needs at least 3 trials"
    assert views.no_pi_reason(a) == want
    wb = NS(analyses=lambda: {"fake": None}, declared=None, dataset=lambda n: NS(name=n, resource={"title": "Fake"}))
    monkeypatch.setattr(F, "analyze", lambda ds: [a])
    monkeypatch.setattr(views, "analyze", lambda ds: [a])
    sof = F.findings_table(workbook=wb)
    assert sof["prediction interval"].tolist() == [f"– ({want})"]
    assert f"– ({want})" in html.unescape(F.findings_html(workbook=wb)._repr_html_())
    assert f"– ({want})" in html.unescape(views.sensitivity_html([a]))
    summary = views.summary_table(workbook=wb)
    assert summary["prediction interval"].tolist() == [f"– ({want})"]
    assert summary["k"].tolist() == ["k = 3 comparisons from 1 trial"]
    assert views.pooled_texts(a)["pi"] == f"not computed ({want})"
    assert F.findings(workbook=wb)["trials"].tolist() == [1]


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
