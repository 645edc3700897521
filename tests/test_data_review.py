"""The systematic-review layer of the data (issue 18): excluded rows and their reasons, the
dosing schedule, the trials found later, and the published risk-of-bias judgments — each
refused with FILE:LINE, column and value when wrong."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from glumeta.data.tables import check, datasets, load, read, tables
from bookutil import copy_data, edit_csv
from glumeta.data.workbook import Workbook

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"


_copy = copy_data


_edit = edit_csv


def _set(values: dict, row: int = 1):
    def f(rows):
        for col, value in values.items():
            rows[row][rows[0].index(col)] = value
        return rows
    return f


def _row_of(name: str, study_id: str, **match) -> int:
    """Index (1 = first data row) of the first row of *study_id* matching *match*."""
    rows = list(csv.DictReader(open(DATA / f"{name}.csv", encoding="utf-8")))
    for i, r in enumerate(rows, start=1):
        if r["study_id"] == study_id and all(r[k] == v for k, v in match.items()):
            return i
    raise LookupError(study_id)


def _errors(d, name):
    from glumeta.data.validate import validate

    return "\n".join(str(p) for p in validate(Workbook(d), [name]) if p.severity == "error")


def _cli_check(d):
    return subprocess.run([sys.executable, "-m", "glumeta.cli", "check", "--data-dir", str(d)],
                          capture_output=True, text=True, cwd=ROOT)


# ----------------------------------------------------------------------------- excluded rows

def test_every_analysis_accepts_excluded_rows_with_a_reason():
    pkg = __import__("json").load(open(DATA / "datapackage.json", encoding="utf-8"))
    for res in pkg["resources"]:
        if "glumeta:analysis" not in res["schema"]:
            continue
        fields = {f["name"]: f for f in res["schema"]["fields"]}
        assert "excluded" in fields["status"]["constraints"]["enum"], res["name"]
        assert "exclusion_reason" in fields, res["name"]
        assert "exclusion_reason_iff_excluded" in res["schema"]["glumeta:rules"], res["name"]


@pytest.mark.parametrize("name", ["esketamine_madrs", "blood_glutamate", "nitrous_oxide_hamd", "ketamine_escitalopram"])
def test_excluded_row_without_reason_is_refused(tmp_path, name):
    d = _copy(tmp_path)
    _edit(d, name, _set({"status": "excluded", "exclusion_reason": ""}))
    errs = _errors(d, name)
    for frag in (f"{name}.csv:2:", "column 'exclusion_reason'", "value ''", "no exclusion_reason"):
        assert frag in errs, f"{frag!r} not in:\n{errs}"
    r = _cli_check(d)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert f"{name}.csv:2: column 'exclusion_reason'" in r.stderr


def test_whitespace_is_not_a_reason(tmp_path):
    d = _copy(tmp_path)
    _edit(d, "esketamine_madrs", _set({"status": "excluded", "exclusion_reason": "   "}, 3))
    assert "esketamine_madrs.csv:4: column 'exclusion_reason'" in _errors(d, "esketamine_madrs")


def test_reason_on_a_row_that_is_not_excluded_is_refused(tmp_path):
    d = _copy(tmp_path)
    _edit(d, "nitrous_oxide_hamd", _set({"exclusion_reason": "crossover"}, 2))
    errs = _errors(d, "nitrous_oxide_hamd")
    for frag in ("nitrous_oxide_hamd.csv:3:", "column 'exclusion_reason'", "value 'crossover'",
                 "only an 'excluded' row", "'complete'"):
        assert frag in errs, f"{frag!r} not in:\n{errs}"


def test_excluded_row_in_a_file_without_the_column_is_refused(tmp_path):
    """The column is optional in a file, the reason is not: a file that drops the column cannot
    carry an unexplained exclusion."""
    d = _copy(tmp_path)

    def f(rows):
        j = rows[0].index("exclusion_reason")
        rows = [r[:j] + r[j + 1:] for r in rows]
        rows[1][rows[0].index("status")] = "excluded"
        return rows
    _edit(d, "ketamine_escitalopram", f)
    errs = _errors(d, "ketamine_escitalopram")
    assert "ketamine_escitalopram.csv:2: column 'exclusion_reason': value '':" in errs
    assert "missing from the header" not in errs


def test_excluded_rows_get_no_effect():
    """escalc pools only 'complete' rows: an excluded row keeps its numbers but has no yi."""
    from glumeta.stats.escalc import escalc

    frame = escalc("esketamine_madrs")
    excl = frame[frame["status"] == "excluded"]
    assert len(excl) >= 3
    assert excl["yi"].isna().all()
    assert excl["exclusion_reason"].notna().all()


# ----------------------------------------------------------------------------- schedule

@pytest.mark.parametrize("name,good", [("nitrous_oxide_hamd", ("single session", "repeated sessions")),
                                       ("ketamine_escitalopram", ("single infusion", "daily oral", "not stated"))])
def test_schedule_is_declared_with_its_vocabulary(name, good):
    t = read(name)
    spec = {f["name"]: f for f in t.schema["fields"]}["schedule"]
    assert spec["constraints"]["enum"] == list(good) and spec["constraints"]["required"]
    assert {r["schedule"] for r in t.rows} <= set(good)


@pytest.mark.parametrize("name,bad", [("nitrous_oxide_hamd", "single"), ("nitrous_oxide_hamd", "Single session"),
                                      ("ketamine_escitalopram", "single session"),
                                      ("ketamine_escitalopram", "oral")])
def test_schedule_outside_the_vocabulary_is_refused(tmp_path, name, bad):
    d = _copy(tmp_path)
    _edit(d, name, _set({"schedule": bad}))
    errs = _errors(d, name)
    for frag in (f"{name}.csv:2:", "column 'schedule'", f"value '{bad}'", "not one of"):
        assert frag in errs, f"{frag!r} not in:\n{errs}"


def test_schedule_is_required(tmp_path):
    d = _copy(tmp_path)
    _edit(d, "nitrous_oxide_hamd", _set({"schedule": ""}, 4))
    assert "nitrous_oxide_hamd.csv:5: column 'schedule': value '': required value is missing" \
        in _errors(d, "nitrous_oxide_hamd")


def test_schedule_of_the_existing_trials():
    n2o = {r["study_id"]: r["schedule"] for r in csv.DictReader(open(DATA / "nitrous_oxide_hamd.csv", encoding="utf-8"))}
    assert n2o["nagele2015"] == n2o["nagele2021"] == n2o["yan2022"] == "single session"
    assert n2o["guimaraes2021"] == n2o["myles2025"] == "repeated sessions"
    ket = {r["study_id"]: r["schedule"] for r in csv.DictReader(open(DATA / "ketamine_escitalopram.csv", encoding="utf-8"))}
    assert ket["hu2016"] == ket["talati2019"] == "single infusion"
    assert ket["arabzadeh2018"] == "daily oral"
    assert ket["murrough2013"] == "not stated"  # its listing gives no dose, route or schedule


def test_not_stated_schedule_never_enters_the_single_infusion_pool(tmp_path):
    """A row whose source gives no schedule ('not stated') is kept out of the single-infusion headline,
    with its own reason (not the daily-oral one), and the any-schedule sensitivity pool admits it."""
    from glumeta.stats.plan import Analysis, analyze

    d = _copy(tmp_path)
    i = _row_of("ketamine_escitalopram", "arabzadeh2018", outcome="response")
    _edit(d, "ketamine_escitalopram", _set({"schedule": "not stated"}, i))
    assert _errors(d, "ketamine_escitalopram") == ""
    pools = {a.id: a for a in analyze(Workbook(d).dataset("ketamine_escitalopram")) if isinstance(a, Analysis)}

    def reason(pool):
        out = pools[pool].outside
        assert "arabzadeh2018" not in set(pools[pool].rows["study_id"])
        return set(out.loc[out["study_id"] == "arabzadeh2018", "reason"])

    assert reason("overall:response") == {"schedule not stated in the cited source, so not shown to be a single infusion"}
    assert reason("overall:remission") == {"daily oral ketamine, not a single infusion (another intervention)"}
    assert "arabzadeh2018" in set(pools["sensitivity:any-schedule:response"].rows["study_id"])


# ----------------------------------------------------------------------------- the trials found later

def _rows(name, study_id):
    df = load(name)
    return df[df["study_id"] == study_id]


def test_myles_2025_is_a_complete_row_without_arm_sizes():
    r = _rows("nitrous_oxide_hamd", "myles2025")
    assert len(r) == 1
    r = r.iloc[0]
    assert r["status"] == "complete" and bool(r["primary"]) and r["design"] == "parallel"
    assert (r["md"], r["md_ci_lower"], r["md_ci_upper"], r["p"]) == (-1.9, -3.9, 0.0, 0.051)
    assert r["schedule"] == "repeated sessions"
    assert r["n_arm1"] is __import__("pandas").NA and r["n_arm2"] is __import__("pandas").NA
    assert not bool(r["secondary"]) and r["source"] and r["locator"]
    assert "15 of 39" in r["notes"]  # the week-1 remission counts are notes, not data


def test_arabzadeh_2018_percentages_with_n_and_derived_counts():
    from glumeta.stats.escalc import escalc

    r = _rows("ketamine_escitalopram", "arabzadeh2018").set_index("outcome")
    assert set(r.index) == {"response", "remission"}
    assert (r.loc["response", "pct_arm1"], r.loc["response", "pct_arm2"]) == (85.4, 57.5)
    assert (r.loc["remission", "pct_arm1"], r.loc["remission", "pct_arm2"]) == (22.0, 15.0)
    assert (r["totaln_arm1"] == 41).all() and (r["totaln_arm2"] == 40).all()
    assert r["event_arm1"].isna().all() and r["event_arm2"].isna().all()  # counts are derived, not stored
    assert r["secondary"].all() and (r["schedule"] == "daily oral").all() and (r["status"] == "complete").all()
    e = escalc("ketamine_escitalopram")
    e = e[e["study_id"] == "arabzadeh2018"].set_index("outcome")
    assert e["yi"].notna().all()


def test_pending_and_excluded_trials():
    t = _rows("ketamine_escitalopram", "talati2019")
    assert len(t) == 2 and (t["status"] == "pending").all() and (t["schedule"] == "single infusion").all()
    assert t["totaln_arm1"].isna().all() and t["event_arm1"].isna().all()
    j = _rows("esketamine_madrs", "janik2025")
    assert len(j) == 2 and (j["status"] == "pending").all() and (j["time"] == "day 28").all()
    assert j["comparison"].str.contains("monotherapy").all() and j["md_se"].isna().all()
    e = _rows("esketamine_madrs", "escape-trd")
    assert len(e) == 1 and e.iloc[0]["status"] == "excluded"
    assert e.iloc[0]["exclusion_reason"] == "active comparator (quetiapine XR), not placebo"
    tr = _rows("esketamine_madrs", "transform3")
    assert (tr[tr["status"] == "complete"]["comparison"] == "esketamine (flexible dose) vs placebo").all()
    strata = tr[tr["status"] == "excluded"]
    assert len(strata) == 2 and strata["exclusion_reason"].str.contains("whole-trial row").all()


# ----------------------------------------------------------------------------- risk of bias

def _rob_rows():
    return list(csv.DictReader(open(DATA / "risk_of_bias.csv", encoding="utf-8")))


def test_risk_of_bias_is_a_table_but_not_an_analysis():
    assert "risk_of_bias" in tables() and "risk_of_bias" not in datasets()
    assert [p for p in Workbook(DATA).check(["risk_of_bias"]) if p.severity == "error"] == []


def test_every_risk_of_bias_judgment_has_a_source():
    rows = _rob_rows()
    for i, r in enumerate(rows, start=2):
        assert r["source"].startswith(("https://", "http://", "doi:")), f"risk_of_bias.csv:{i}: source"
        assert r["locator"].strip() and r["tool"].strip(), f"risk_of_bias.csv:{i}: locator/tool"
        assert r["secondary"] in ("true", "false"), f"risk_of_bias.csv:{i}: secondary"
        assert r["judgment"] in ("low", "some concerns", "high", "unclear")


def test_every_judgment_is_quoted_in_its_locator():
    """The locator quotes the source's own words for the judgment ('Low risk', 'Unclear risk', ...)."""
    words = {"low": ("Low risk", "Low"), "unclear": ("Unclear risk",), "high": ("High risk", "High"),
             "some concerns": ("Some concerns",)}
    for i, r in enumerate(_rob_rows(), start=2):
        assert any(w in r["locator"] for w in words[r["judgment"]]), f"risk_of_bias.csv:{i}"


def test_every_judged_study_is_in_its_file():
    ids = {n: {r["study_id"] for r in csv.DictReader(open(DATA / f"{n}.csv", encoding="utf-8"))} for n in datasets()}
    for i, r in enumerate(_rob_rows(), start=2):
        assert r["study_id"] in ids[r["file"]], f"risk_of_bias.csv:{i}"


ROB_CASES = [
    ({"judgment": "moderate"}, ["risk_of_bias.csv:2:", "column 'judgment'", "value 'moderate'", "not one of"]),
    ({"judgment": "Low"}, ["column 'judgment'", "value 'Low'", "not one of"]),
    ({"source": ""}, ["risk_of_bias.csv:2:", "column 'source'", "required value is missing"]),
    ({"locator": ""}, ["column 'locator'", "required value is missing"]),
    ({"tool": ""}, ["column 'tool'", "required value is missing"]),
    ({"file": "reported"}, ["column 'file'", "value 'reported'", "not a data table"]),
    ({"file": "esketamine"}, ["column 'file'", "value 'esketamine'", "not a data table"]),
    ({"tool": "RoB 2", "judgment": "unclear"}, ["column 'judgment'", "value 'unclear'", "RoB 2 has no judgment"]),
    ({"judgment": "some concerns"}, ["column 'judgment'", "Cochrane RoB 1 has no judgment 'some concerns'"]),
]


@pytest.mark.parametrize("values,expect", ROB_CASES)
def test_bad_risk_of_bias_rows_are_located(tmp_path, values, expect):
    d = _copy(tmp_path)
    _edit(d, "risk_of_bias", _set(values))
    errs = _errors(d, "risk_of_bias")
    for frag in expect:
        assert frag in errs, f"{frag!r} not in:\n{errs}"
    r = _cli_check(d)
    assert r.returncode == 1 and "Traceback" not in r.stderr and expect[0] in r.stderr


def test_duplicate_judgment_is_refused(tmp_path):
    d = _copy(tmp_path)
    _edit(d, "risk_of_bias", lambda rows: rows + [rows[1]])
    assert "duplicate" in _errors(d, "risk_of_bias")


def test_risk_of_bias_may_hold_only_its_header(tmp_path):
    """No published judgment found is an honest outcome: a header-only file is valid."""
    d = _copy(tmp_path)
    _edit(d, "risk_of_bias", lambda rows: rows[:1])
    assert _errors(d, "risk_of_bias") == ""
    assert _cli_check(d).returncode == 0


@pytest.mark.parametrize("sid", ["nosuchtrial2020", "aspire1"])
def test_a_judgment_of_an_unknown_study_is_a_located_warning(tmp_path, sid):
    """Removing a trial's rows from its data file must not stop the build: the judgment that names it is
    reported (file, line, column, value) as a warning and shown nowhere."""
    d = _copy(tmp_path)
    _edit(d, "risk_of_bias", _set({"study_id": sid}))
    from glumeta.data.validate import validate

    probs = [p for p in validate(Workbook(d), ["risk_of_bias"]) if p.column == "study_id"]
    assert probs and all(p.severity == "warning" for p in probs)
    assert probs[0].line == 2 and probs[0].value == sid and "no row of ketamine_escitalopram.csv" in probs[0].message
    assert _cli_check(d).returncode == 0


def test_a_judged_study_removed_from_its_file_is_reported(tmp_path):
    d = _copy(tmp_path)
    i = _row_of("ketamine_escitalopram", "hu2016", outcome="response")
    _edit(d, "ketamine_escitalopram", _set({"study_id": "hu2016b"}, i))
    _edit(d, "ketamine_escitalopram", _set({"study_id": "hu2016b"}, i + 1))
    from glumeta.data.validate import validate

    probs = [p for p in validate(Workbook(d), ["risk_of_bias"]) if p.column == "study_id"]
    assert any(p.value == "hu2016" and p.severity == "warning" and "no row of ketamine_escitalopram.csv" in p.message
               for p in probs)


# ---- rows that contradict the review question (issue #18: `glumeta check` flags them)

def test_a_row_contradicting_the_review_question_is_located_and_stops_check(tmp_path):
    d = _copy(tmp_path)
    i = _row_of("esketamine_madrs", "canuso2018", time="24 h")
    _edit(d, "esketamine_madrs", _set({"comparison": "esketamine 84 mg vs quetiapine XR"}, i))
    errs = _errors(d, "esketamine_madrs")
    assert f"esketamine_madrs.csv:{i + 1}: column 'comparison': value 'esketamine 84 mg vs quetiapine XR'" in errs
    assert "contradicts the review question" in errs and "comparator must be placebo" in errs
    r = _cli_check(d)
    assert r.returncode == 1 and "contradicts the review question" in r.stderr


def test_the_same_row_marked_excluded_with_a_reason_is_accepted(tmp_path):
    d = _copy(tmp_path)
    i = _row_of("esketamine_madrs", "canuso2018", time="24 h")
    _edit(d, "esketamine_madrs", _set({"comparison": "esketamine 84 mg vs quetiapine XR", "status": "excluded",
                                       "exclusion_reason": "active comparator"}, i))
    assert "contradicts" not in _errors(d, "esketamine_madrs")


def test_blood_rows_must_be_blood(tmp_path):
    d = _copy(tmp_path)
    _edit(d, "blood_glutamate", _set({"sample": "CSF"}))
    errs = _errors(d, "blood_glutamate")
    assert "column 'sample'" in errs and ("not one of" in errs or "contradicts the review question" in errs)
