"""Summary of findings (glumeta.views.findings): each outcome row holds analyze()'s numbers; participants,
control risks and the computed reasons are recomputed here; judged GRADE domains are "not assessed"."""

import math

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
    assert ("imprecision" in why) == (d["ci_lower"] <= null <= d["ci_upper"])
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
        assert a.label.replace("&", "&amp;") in out
