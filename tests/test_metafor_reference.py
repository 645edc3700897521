"""Every effect size, variance and pooled quantity against R metafor.

Reference values: tests/reference/metafor_reference.json, produced by
tests/reference/metafor_reference.R (``make reference``) with metafor's
convergence controls tightened (see the script's header). Tolerance: relative
difference ≤ 1e-6 (absolute 1e-9 for values near zero) everywhere.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from glumeta import effects as es
from glumeta.escalc import escalc as effect_table
from glumeta.plan import analyze
from glumeta.models import pool
from glumeta.sensitivity import leave_one_out

REF = json.loads((Path(__file__).parent / "reference" / "metafor_reference.json").read_text())
RTOL, ATOL = 1e-6, 1e-9
FIELDS = ["estimate", "se", "ci_lower", "ci_upper", "pi_lower", "pi_upper", "z_or_t", "p", "tau2",
          "q", "q_p", "i2", "h2"]


def close(a, b, what):
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    assert a.shape == b.shape, what
    np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL, err_msg=what)


def compare_fit(yi, vi, ref, what):
    # pi_lower/pi_upper of the reference are metafor 3.8 predict(): pool(pi="predict")
    r = pool(yi, vi, method=ref["method"], test=ref["test"], pi="predict")
    assert r.k == ref["k"], what
    for f in FIELDS:
        if f in ref and ref[f] is not None:
            close(getattr(r, f), ref[f], f"{what} {f}")
    if "pi_t_lower" in ref:
        # pool's default PI: t(k-2) with the normal-theory SE (Higgins et al. 2009), computed
        # in R from the fitted object; null in the JSON (k < 3 or FE) must be NaN here
        rt = pool(yi, vi, method=ref["method"], test=ref["test"])
        for f in ("lower", "upper"):
            want = ref[f"pi_t_{f}"]
            got = getattr(rt, f"pi_{f}")
            if want is None:
                assert got is None or math.isnan(got), f"{what} pi_t_{f}: {got} (metafor: none)"
            else:
                close(got, want, f"{what} pi_t_{f}")
    close(r.weights, np.atleast_1d(ref["weights"]), f"{what} weights")
    for f in ("tau2_ci", "i2_ci", "h2_ci"):
        if f in ref:
            close(getattr(r, f), ref[f], f"{what} {f}")
    if "loo_estimate" in ref:
        loo = leave_one_out(yi, vi)
        close(loo["estimate"], ref["loo_estimate"], f"{what} leave-one-out estimate")
        close(loo["se"], ref["loo_se"], f"{what} leave-one-out se")
        close(loo["tau2"], ref["loo_tau2"], f"{what} leave-one-out tau2")
    return r


def test_reference_is_metafor_3_8_or_later():
    major, minor = map(int, REF["metafor_version"].split(".")[:2])
    assert (major, minor) >= (3, 8)


@pytest.mark.parametrize("measure", ["OR", "RR"])
def test_mantel_haenszel(measure):
    from glumeta.models import mantel_haenszel

    ex = REF["examples"]["bcg_mh"]
    i = ex["input"]
    r = mantel_haenszel(i["e1"], i["n1"], i["e2"], i["n2"], measure)
    for f in ("estimate", "se", "ci_lower", "ci_upper", "z_or_t", "p"):
        close(r[f], ex["mh"][measure][f], f"MH {measure} {f}")


@pytest.mark.parametrize("name", [n for n in sorted(REF["examples"]) if "fits" in REF["examples"][n]])
def test_example_effect_sizes(name):
    ex = REF["examples"][name]
    i = ex["input"]
    if ex["measure"] in ("SMD", "MD"):
        f = es.smd if ex["measure"] == "SMD" else es.md
        yi, vi = f(i["m1"], i["sd1"], i["n1"], i["m2"], i["sd2"], i["n2"])
    else:
        f = {"RR": es.log_rr, "OR": es.log_or, "RD": es.rd}[ex["measure"]]
        yi, vi = f(i["e1"], i["n1"], i["e2"], i["n2"])
    close(yi, ex["yi"], f"{name} yi")
    close(vi, ex["vi"], f"{name} vi")


FITS = [(n, key) for n, ex in sorted(REF["examples"].items()) for key in ex.get("fits", {})]


@pytest.mark.parametrize("name,key", FITS)
def test_example_pooled(name, key):
    ex = REF["examples"][name]
    compare_fit(ex["yi"], ex["vi"], ex["fits"][key], f"{name} {key}")


def test_workbook_blood_glutamate_effect_sizes():
    ref = REF["workbook"]["blood_glutamate"]["rows"]
    t = effect_table("blood_glutamate")
    t = t[t["status"] == "complete"].set_index("study_id").loc[ref["key"]]
    close(t["yi"], ref["yi"], "blood_glutamate yi")
    close(t["vi"], ref["vi"], "blood_glutamate vi")


@pytest.mark.parametrize("name", ["esketamine_madrs", "nitrous_oxide_hamd"])
def test_workbook_contrast_effect_sizes(name):
    ref = REF["workbook"][name]["rows"]
    t = effect_table(name)
    t = t[t["status"] == "complete"]
    keys = t["study_id"] + " | " + t["comparison"] + " | " + t["time"]
    assert list(keys) == ref["key"]
    close(t["yi"], ref["yi"], f"{name} yi")
    close(t["vi_unsplit"], ref["vi"], f"{name} vi (own)")
    # the variance every view uses: shared controls split (Cochrane Handbook §23.3.4)
    close(t["vi"], ref["vi_split"], f"{name} vi (shared controls split)")


def test_workbook_binary_effect_sizes():
    ref = REF["workbook"]["ketamine_escitalopram"]["rows"]
    for meas in ("RR", "OR", "RD"):
        t = effect_table("ketamine_escitalopram", measure=meas)
        t = t[t["status"] == "complete"]
        close(t["yi"], ref[f"yi_{meas}"], f"binary yi {meas}")
        close(t["vi"], ref[f"vi_{meas}"], f"binary vi {meas}")


def test_synthesis_against_metafor():
    """Cross-drug SMDs (parallel: SD from SE; crossover: Elbourne 2002, r = 0.5) and their pools."""
    from glumeta.synthesis import DRUGS, synthesis

    ref = REF["workbook"]["synthesis"]
    s = synthesis(ref["r"])
    rows = s["overall"].rows
    close(rows["yi"], ref["rows"]["yi"], "synthesis yi")
    close(rows["vi_unsplit"], ref["rows"]["vi"], "synthesis vi")
    for key, a in [("overall", s["overall"])] + [(name, s[f"drug:{drug}"]) for name, drug in DRUGS.items()]:
        for f in ("k", "estimate", "se", "ci_lower", "ci_upper", "tau2"):
            close(getattr(a, f), ref["analyses"][key][f], f"synthesis {key} {f}")


WB = [(n, aid, key) for n, d in sorted(REF["workbook"].items()) if n != "synthesis" for aid, fits in d["analyses"].items()
      if not aid.startswith("subgroups:") for key in fits]


@pytest.mark.parametrize("name,aid,key", WB)
def test_workbook_pooled(name, aid, key):
    """The CLI's analyses (JSON) equal metafor for every method × test of each analysis."""
    ref = REF["workbook"][name]["analyses"][aid][key]
    method, test = key.split(":")
    if name == "ketamine_escitalopram":
        outcome, meas = aid.split(":")
        want = f"overall:{outcome}" if meas == "RR" else f"{outcome}:{meas}"
    else:
        want = aid
    res = {a.id: a.to_dict() for a in analyze(name, method=method, test=test, pi="predict")}
    a = res[want]
    assert a["k"] == ref["k"]
    for f in FIELDS:
        if f in ref and ref[f] is not None:
            close(a[f] if a[f] is not None else math.nan, ref[f], f"{name} {aid} {key} {f}")
    close([s["weight"] for s in a["studies"]], np.atleast_1d(ref["weights"]), f"{name} {aid} {key} weights")
    for f in ("tau2_ci", "i2_ci", "h2_ci"):
        if f in ref:
            close(a[f], ref[f], f"{name} {aid} {key} {f}")


SUBGROUP_TESTS = [(n, aid) for n, d in sorted(REF["workbook"].items()) for aid in d["analyses"]
                  if aid.startswith("subgroups:")]


def test_reference_has_subgroup_tests():
    assert len(SUBGROUP_TESTS) >= 2


@pytest.mark.parametrize("name,aid", SUBGROUP_TESTS)
def test_workbook_subgroup_test(name, aid):
    ref = REF["workbook"][name]["analyses"][aid]
    a = {x.id: x.to_dict() for x in analyze(name)}[aid]
    close(a["q_between"], ref["q_between"], "Q between")
    close(a["p"], ref["p"], "p between")
    assert a["df"] == ref["df"]


# ---------------------------------------------------------------- HKSJ ad hoc and t(k-2) PI

ADHOC = [(n, key) for n, key in FITS if key.endswith(":adhoc")]


def test_example_reference_has_adhoc_fits():
    """Every random-effects example fit has an adhoc twin, and at least one of them differs from
    knha (KH q < 1: hine_rd), so that the max(1, q) correction itself is checked against metafor."""
    assert {n for n, _ in ADHOC} == {n for n, ex in REF["examples"].items() if "fits" in ex}
    corrected = [(n, key) for n, key in ADHOC
                 if REF["examples"][n]["fits"][key]["se"] > REF["examples"][n]["fits"][key.replace("adhoc", "knha")]["se"]
                 * (1 + 1e-9)]
    assert corrected, "no example with KH q < 1"


@pytest.mark.parametrize("name,key", ADHOC)
def test_example_adhoc(name, key):
    """pool(test="adhoc") = metafor rma(test="adhoc"): SE = max(SE_knha, SE_z), t(k-1)."""
    fits = REF["examples"][name]["fits"]
    ref, kh, z = fits[key], fits[key.replace("adhoc", "knha")], fits[key.replace("adhoc", "z")]
    close(ref["se"], max(kh["se"], z["se"]), f"{name} {key}: metafor adhoc SE = max(knha, z)")
    ex = REF["examples"][name]
    r = pool(ex["yi"], ex["vi"], method=ref["method"], test="adhoc")
    for f in ("estimate", "se", "ci_lower", "ci_upper", "p", "z_or_t"):
        close(getattr(r, f), ref[f], f"{name} {key} {f}")


PI_T = [(n, key) for n, key in FITS if REF["examples"][n]["fits"][key].get("pi_t_lower") is not None]


def test_example_reference_has_t_pis():
    assert len(PI_T) >= 10


@pytest.mark.parametrize("name,key", PI_T)
def test_example_pi_t(name, key):
    """Default PI = mu +- t_{k-2,0.975} sqrt(tau2 + 1/sum w*); pi="predict" = metafor predict()."""
    ex = REF["examples"][name]
    ref = ex["fits"][key]
    r = pool(ex["yi"], ex["vi"], method=ref["method"], test=ref["test"])
    close([r.pi_lower, r.pi_upper], [ref["pi_t_lower"], ref["pi_t_upper"]], f"{name} {key} t(k-2) PI")
    rp = pool(ex["yi"], ex["vi"], method=ref["method"], test=ref["test"], pi="predict")
    close([rp.pi_lower, rp.pi_upper], [ref["pi_lower"], ref["pi_upper"]], f"{name} {key} predict() PI")


# ---------------------------------------------------------------- skewness tests (Shi et al. 2023)

SKEW_DOC = REF["skewness"]["documented"]
SKEW_BG = REF["skewness"]["blood_glutamate"]


def _skew(x):
    g = (lambda k: math.nan if x[k] is None else x[k])
    if x["case"] == 1:
        return es.skewness_test_range(g("min"), g("median"), g("max"), x["n"])
    if x["case"] == 2:
        return es.skewness_test(g("q1"), g("median"), g("q3"), x["n"])
    return es.skewness_test_fivenum(g("min"), g("q1"), g("median"), g("q3"), g("max"), x["n"])


@pytest.mark.parametrize("x", SKEW_DOC, ids=[x["label"] for x in SKEW_DOC])
def test_skewness_documented_examples(x):
    """T, critical value and decision equal the R port of metafor conv.fivenum's test, and the
    decision stated in metafor's conv.fivenum documentation."""
    t, c, sig = _skew(x)
    close(t, x["T"], f"{x['label']} T")
    close(c, x["crit"], f"{x['label']} crit")
    assert bool(sig) == x["sig"] == x["documented_sig"], x["label"]


def test_skewness_reference_covers_cases_and_both_decisions():
    assert {x["case"] for x in SKEW_DOC} == {1, 2, 3}
    assert {x["sig"] for x in SKEW_DOC} == {True, False}
    assert SKEW_BG, "no median/IQR arm in data/blood_glutamate.csv"


@pytest.mark.parametrize("x", SKEW_BG, ids=[f"{x['study_id']} arm{x['arm']}" for x in SKEW_BG])
def test_skewness_workbook_median_iqr_rows(x):
    """The workbook's median (Q1-Q3) arms: skewness_test = the R implementation."""
    t, c, sig = es.skewness_test(x["q1"], x["median"], x["q3"], x["n"])
    close(t, x["T"], f"{x['study_id']} arm {x['arm']} T")
    close(c, x["crit"], f"{x['study_id']} arm {x['arm']} crit")
    assert bool(sig) == x["sig"]

