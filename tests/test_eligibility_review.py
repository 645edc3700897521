"""Review-question rules (issue 18, audit 18 item 1c/2c): rows that answer another question are refused by
`glumeta check` or kept out of the headline, in temporary copies of data/ (never data/ itself)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from bookutil import copy_data, edit_csv
from glumeta.data.workbook import Workbook
from glumeta.stats.plan import Analysis, analyze, is_main

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"


def _errors(d, name):
    from glumeta.data.validate import validate

    return "\n".join(str(p) for p in validate(Workbook(d), [name]) if p.severity == "error")


def _index(name, **match) -> int:
    rows = list(csv.DictReader(open(DATA / f"{name}.csv", encoding="utf-8")))
    return next(i for i, r in enumerate(rows, start=1) if all(r[k] == v for k, v in match.items()))


def _set(i, values):
    def f(rows):
        for col, v in values.items():
            rows[i][rows[0].index(col)] = v
        return rows
    return f


def _pools(d, name):
    return {a.id: a for a in analyze(Workbook(d).dataset(name)) if isinstance(a, Analysis)}


# ---- nitrous oxide: the comparator must be a placebo gas

def test_n2o_vs_midazolam_is_refused_and_never_in_the_headline(tmp_path):
    d = copy_data(tmp_path)
    before = _pools(d, "nitrous_oxide_hamd")["overall"]
    i = _index("nitrous_oxide_hamd", study_id="nagele2015", time="24 h")
    edit_csv(d, "nitrous_oxide_hamd", _set(i, {"comparison": "50% N2O vs midazolam"}))
    errs = _errors(d, "nitrous_oxide_hamd")
    assert f"nitrous_oxide_hamd.csv:{i + 1}: column 'comparison': value '50% N2O vs midazolam'" in errs
    assert "contradicts the review question" in errs and "placebo gas" in errs
    from glumeta.data.tables import DataError

    with pytest.raises(DataError, match="contradicts the review question"):  # never pooled: analyze refuses it
        _pools(d, "nitrous_oxide_hamd")
    edit_csv(d, "nitrous_oxide_hamd", _set(i, {"status": "excluded", "exclusion_reason": "active comparator"}))
    assert _errors(d, "nitrous_oxide_hamd") == ""
    main = _pools(d, "nitrous_oxide_hamd")["overall"]
    assert main.k == before.k - 1 and "nagele2015" not in set(main.rows["study_id"])


@pytest.mark.parametrize("comparison", ["50% N2O vs placebo", "N2O vs 100% O2", "50% N2O vs air/oxygen",
                                        "N2O (25% or 50%) vs oxygen/air"])
def test_placebo_gases_of_the_data_pass(comparison):
    from glumeta.data.rules import condition_holds

    pkg = Workbook(DATA).dataset("nitrous_oxide_hamd").resource["schema"]
    req = pkg["glumeta:rules"]["fits_review_question"]["require"][0]
    assert condition_holds(req, comparison)
    assert not condition_holds(req, comparison.split(" vs ")[0] + " vs ketamine")


# ---- ketamine: added to an SSRI, against placebo on the same SSRI

@pytest.mark.parametrize("comparison", ["ketamine vs midazolam", "ketamine + escitalopram vs saline + sertraline",
                                        "ketamine vs saline"])
def test_ketamine_row_that_is_not_an_ssri_add_on_is_refused(tmp_path, comparison):
    d = copy_data(tmp_path)
    i = _index("ketamine_escitalopram", study_id="hu2016", outcome="response")
    edit_csv(d, "ketamine_escitalopram", _set(i, {"comparison": comparison}))
    errs = _errors(d, "ketamine_escitalopram")
    assert f"ketamine_escitalopram.csv:{i + 1}: column 'comparison'" in errs
    assert "contradicts the review question" in errs and "added to an SSRI" in errs


def test_murrough_2013_is_an_excluded_record_without_numbers():
    """Murrough 2013 (i.v. ketamine vs midazolam, arm split NOT FOUND) is listed, excluded with its reason,
    and holds no number: no arm sizes, counts or percentages are invented."""
    from glumeta.data.tables import load
    from glumeta.views.flow import flow_studies

    df = load("ketamine_escitalopram")
    m = df[df["study_id"] == "murrough2013"]
    assert len(m) == 1
    r = m.iloc[0]
    assert r["status"] == "excluded"
    assert r["exclusion_reason"] == "ketamine vs midazolam: not ketamine + SSRI vs placebo + SSRI"
    # only what ../shared/sources/ketamine_escitalopram.md lists: no dose, route, schedule, population or
    # time of the response percentages (the listing attaches 24 h to the MADRS difference only)
    assert r["time"] == "not stated" and r["schedule"] == "not stated"
    text = " ".join(str(r[c]) for c in ("exclusion_reason", "comparison", "locator", "notes"))
    for claim in ("monotherapy", "0.5 mg/kg", "treatment-resistant", "no SSRI in either arm", "Murrough JW",
                  "no antidepressant added", "active placebo"):
        assert claim not in text, claim
    for c in ("event_arm1", "totaln_arm1", "pct_arm1", "event_arm2", "totaln_arm2", "pct_arm2", "p"):
        assert r[c] is __import__("pandas").NA or r[c] != r[c], c
    assert "NOT FOUND" in r["locator"] and "7.95" in r["locator"]
    s = flow_studies("ketamine_escitalopram").set_index("study_id")
    assert s.loc["murrough2013", "state"] == "excluded"
    assert _errors(DATA, "ketamine_escitalopram") == ""


# ---- esketamine monotherapy (Janik 2025): outside the add-on headline once its numbers are filled in

def test_janik_monotherapy_filled_in_stays_out_of_every_add_on_pool(tmp_path):
    d = copy_data(tmp_path)
    before = _pools(d, "esketamine_madrs")
    # placeholder SEs in a temporary copy, only to make the rows poolable (data/ keeps them pending)
    for time_cmp, se in (("esketamine 56 mg monotherapy vs placebo", "1.5"),
                         ("esketamine 84 mg monotherapy vs placebo", "1.5")):
        i = _index("esketamine_madrs", study_id="janik2025", comparison=time_cmp)
        edit_csv(d, "esketamine_madrs", _set(i, {"status": "complete", "md_se": se, "p": "", "p_prefix": "",
                                                       "n_arm1": "90", "n_arm2": "180"}))
    after = _pools(d, "esketamine_madrs")
    assert after.keys() == before.keys()
    for aid, a in after.items():
        assert "janik2025" not in set(a.rows["study_id"]), aid
        assert a.k == before[aid].k, aid
    out = after["overall"].outside
    reasons = set(out.loc[out["study_id"] == "janik2025", "reason"])
    assert reasons == {"esketamine monotherapy (no background antidepressant): another intervention, "
                       "shown in its own group"}
    from glumeta.views.flow import flow_studies

    s = flow_studies(Workbook(d).dataset("esketamine_madrs")).set_index("study_id")
    assert s.loc["janik2025", "state"] == "shown"


def test_a_shared_control_row_without_arm_sizes_is_a_located_error(tmp_path):
    """Janik 2025's doses share one placebo group: filled in with an SE but no arm sizes, the split
    of the shared control (Cochrane Handbook §23.3.4) cannot be made, so glumeta check names the
    file, line, column and control group (it crashed with a TypeError in escalc)."""
    d = copy_data(tmp_path)
    i = _index("esketamine_madrs", study_id="janik2025", comparison="esketamine 56 mg monotherapy vs placebo")
    edit_csv(d, "esketamine_madrs", _set(i, {"status": "complete", "md_se": "1.5", "p": "", "p_prefix": ""}))
    err = _errors(d, "esketamine_madrs")
    assert f"esketamine_madrs.csv:{i + 1}" in err and "n_arm1" in err and "janik2025-placebo" in err
    assert "n_arm2" in err


# ---- the word patterns are case-insensitive: 'Monotherapy' is still monotherapy

def test_word_patterns_of_the_rules_are_case_insensitive():
    """Every declared 'matches' pattern with a word in it (review-question and eligibility rules) starts
    with (?i): a capitalised 'Monotherapy' or 'Midazolam' is the same word."""
    import json
    import re

    def patterns(x):
        if isinstance(x, dict):
            if isinstance(x.get("matches"), str):
                yield x["matches"]
            for v in x.values():
                yield from patterns(v)
        elif isinstance(x, list):
            for v in x:
                yield from patterns(v)

    found = list(patterns(json.loads((DATA / "datapackage.json").read_text(encoding="utf-8"))))
    assert len(found) >= 5
    for pat in found:
        if re.search(r"[A-Za-z]{2}", pat):
            assert pat.startswith("(?i)"), pat


@pytest.mark.parametrize("word", ["Monotherapy", "MONOTHERAPY"])
def test_capitalised_monotherapy_stays_out_of_every_add_on_pool(tmp_path, word):
    d = copy_data(tmp_path)
    before = _pools(d, "esketamine_madrs")
    for dose in ("56", "84"):
        i = _index("esketamine_madrs", study_id="janik2025", comparison=f"esketamine {dose} mg monotherapy vs placebo")
        edit_csv(d, "esketamine_madrs", _set(i, {"comparison": f"esketamine {dose} mg {word} vs placebo",
                                                 "status": "complete", "md_se": "1.5", "p": "", "p_prefix": "",
                                                 "n_arm1": "90", "n_arm2": "180"}))
    assert _errors(d, "esketamine_madrs") == ""
    after = _pools(d, "esketamine_madrs")
    assert after.keys() == before.keys()
    for aid, a in after.items():
        assert "janik2025" not in set(a.rows["study_id"]), aid
        assert a.k == before[aid].k, aid
    out = after["overall"].outside
    assert set(out.loc[out["study_id"] == "janik2025", "reason"]) == {
        "esketamine monotherapy (no background antidepressant): another intervention, shown in its own group"}


@pytest.mark.parametrize("name,value", [("esketamine_madrs", "Esketamine 84 mg vs Midazolam"),
                                        ("nitrous_oxide_hamd", "50% N2O vs MIDAZOLAM"),
                                        ("ketamine_escitalopram", "Ketamine vs Midazolam")])
def test_capitalised_active_comparators_are_still_refused(tmp_path, name, value):
    d = copy_data(tmp_path)
    edit_csv(d, name, _set(1, {"comparison": value}))
    errs = _errors(d, name)
    assert f"{name}.csv:2: column 'comparison': value '{value}'" in errs and "contradicts the review question" in errs


# ---- a shared control without arm sizes in a file that does not declare the rule: located, not a TypeError

def _drop_rule(d, name, rule):
    import json

    p = d / "datapackage.json"
    pkg = json.loads(p.read_text(encoding="utf-8"))
    res = next(r for r in pkg["resources"] if r["name"] == name)
    del res["schema"]["glumeta:rules"][rule]
    p.write_text(json.dumps(pkg, indent=2, ensure_ascii=False), encoding="utf-8")


@pytest.mark.parametrize("column", ["n_arm2", "n_arm1"])
def test_shared_control_row_without_an_arm_size_is_a_located_data_error_in_escalc(tmp_path, column):
    from glumeta.data.tables import DataError
    from glumeta.stats.escalc import escalc, split_shared_control

    d = copy_data(tmp_path)
    _drop_rule(d, "esketamine_madrs", "shared_control_needs_arm_sizes")
    i = _index("esketamine_madrs", study_id="daly2018", comparison="esketamine 56 mg vs placebo", time="24 h")
    edit_csv(d, "esketamine_madrs", _set(i, {column: ""}))
    ds = Workbook(d).dataset("esketamine_madrs")
    assert "shared_control_needs_arm_sizes" not in ds.resource["schema"]["glumeta:rules"]
    assert _errors(d, "esketamine_madrs") == ""  # check does not see it: the rule is not declared
    with pytest.raises(DataError) as e:
        escalc(ds)
    msg = str(e.value)
    assert "TypeError" not in msg and "nan" not in msg.lower().split("value")[0]
    assert f"esketamine_madrs.csv:{i + 1}: column '{column}': value '':" in msg, msg
    assert "daly2018-placebo" in msg and "24 h" in msg and "both arm sizes" in msg
    assert "pending" in msg and "shared_control_needs_arm_sizes" in msg  # what to do
    [p] = e.value.problems
    assert (p.line, p.column, p.value, p.severity) == (i + 1, column, "", "error")
    # the split itself, on a bare frame with NaN instead of a missing marker
    import pandas as pd

    f = pd.DataFrame({"shared_control": ["s1", "s1"], "time": ["24 h"] * 2, "yi": [0.1, 0.2], "vi": [0.1] * 2,
                      "n_arm1": [10, 10], "n_arm2": [30, float("nan")]})
    with pytest.raises(DataError, match=r"\(frame\):3: column 'n_arm2'"):
        split_shared_control(f)
